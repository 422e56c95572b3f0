/*
 * upstream/child.c owns stdio upstream processes: spawning one (posix_spawn into a new process
 * group, only the configured environment, every other fd closed), its three pipes and a pidfd
 * on the spawning worker's loop, NDJSON framing with the message_bytes cap, stderr lines into
 * the log, stopping (stdin closed, SIGTERM to the group, SIGKILL after the grace) and reaping,
 * and the process-wide registry behind limits.stdio_children and the shutdown sweep.
 *
 * Reaping: the pidfd becomes readable when the leader exits; while it is an unreaped zombie its
 * pid cannot be reused, so the group is swept with SIGKILL (grandchildren such as npx's node)
 * and only then collected with waitpid. Every reap happens under the registry lock, so the
 * shutdown sweep on another thread and the worker never race on a pid.
 *
 * Re-entrancy: callbacks may call send/stop; pipes are closed and the struct is freed only when
 * the outermost event handler returns (depth 0), so no handler touches freed state.
 */
#include "core/core.h"
#include "upstream/upstream.h"

#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK        16384 /* one read() from a pipe */
#define READS_PER_EVENT   16    /* then yield to the loop: one chatty child cannot starve it */
#define ERR_LINE_MAX      512   /* longer stderr lines are logged cut, with "..." */
#define ERR_LINES_PER_SEC 50    /* stderr lines logged per child per second; the rest counted */
#define SECRET_FILE_MAX   65536 /* a file: reference larger than this is refused */
#define SUSPECT_WAIT_MS   250   /* stdout EOF / EPIPE: time to exit on its own before SIGTERM */
#define LINE_KEEP_BYTES   65536 /* the stdout line buffer is freed after a larger message */

enum phase {
    PH_RUNNING = 0, /* normal */
    PH_SUSPECT = 1, /* stdout closed or stdin refused: waiting briefly for the exit */
    PH_TERM = 2,    /* SIGTERM sent, SIGKILL armed */
    PH_KILLED = 3,  /* SIGKILL sent */
};

struct gh_upstream_child {
    struct gh_upstream_child *prev, *next; /* registry list, under reg.mu */
    struct gh_net_worker *w;               /* the loop everything below runs on */
    char *name;                            /* upstream name, for logs */
    struct gh_upstream_child_cbs cbs;      /* the owner's callbacks */
    void *arg;                             /* their argument */
    pid_t pid;                             /* leader, also the process group id */
    bool reaped;                           /* under reg.mu: collected by waitpid */
    int status;                            /* under reg.mu: exit code or -signal once reaped */
    struct gh_net_sock *in, *out, *err;    /* pipe ends: child's stdin, stdout, stderr */
    struct gh_net_sock *pidw;              /* the pidfd */
    struct gh_net_timer *timer;            /* suspect wait / SIGKILL */
    struct gh_buf inq;                     /* bytes for stdin; cap message_bytes * 4 */
    struct gh_buf line;                    /* partial stdout line; cap message_bytes */
    char errline[ERR_LINE_MAX];            /* partial stderr line */
    size_t errlen;                         /* bytes in errline */
    bool errskip;                          /* dropping the rest of an over-long stderr line */
    uint64_t err_window_ms;                /* start of the stderr rate window */
    unsigned err_lines, err_dropped;       /* lines logged / dropped in the window */
    size_t message_bytes;                  /* cap of one line each way */
    uint64_t grace_ms;                     /* SIGTERM -> SIGKILL */
    enum phase phase;                      /* see enum phase */
    const char *why;                       /* forced reason it is going; NULL = its own exit */
    const char *suspect_why;               /* reason to use if PH_SUSPECT times out */
    bool close_in;                         /* stdin to be closed at depth 0 */
    bool detached;                         /* stop() called or on_exit delivered: no callbacks */
    bool done;                             /* reaped and finished: free at depth 0 */
    int depth;                             /* nested event handlers */
};

static struct {
    pthread_mutex_t mu;
    struct gh_upstream_child *head; /* every child not yet freed */
    size_t live;                    /* spawned (or spawning) and not reaped */
    size_t max;                     /* limits.stdio_children */
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 64};

static void settle(struct gh_upstream_child *c);

/* ---- registry and reaping ---- */

void gh_upstream_children_set_limit(size_t max)
{
    pthread_mutex_lock(&reg.mu);
    reg.max = max ? max : 1;
    pthread_mutex_unlock(&reg.mu);
}

size_t gh_upstream_children_live(void)
{
    pthread_mutex_lock(&reg.mu);
    size_t n = reg.live;
    pthread_mutex_unlock(&reg.mu);
    return n;
}

static bool slot_take(void)
{
    pthread_mutex_lock(&reg.mu);
    bool ok = reg.live < reg.max;
    if (ok)
        reg.live++;
    pthread_mutex_unlock(&reg.mu);
    return ok;
}

static void slot_give(void)
{
    pthread_mutex_lock(&reg.mu);
    reg.live--;
    pthread_mutex_unlock(&reg.mu);
}

/* Under reg.mu. Collects the leader if it has exited (or waits when block), sweeping the group
 * first. Returns whether it is reaped. */
static bool reap_locked(struct gh_upstream_child *c, bool block)
{
    siginfo_t si;
    int st = 0;
    if (c->reaped)
        return true;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) != 0) {
        if (errno != ECHILD)
            return false;
        /* someone else collected it (SIGCHLD set to SIG_IGN?): it is gone all the same */
        GH_LOGW("upstream", "%s: pid %d was reaped elsewhere", c->name, (int)c->pid);
        st = SIGKILL;
    } else if (si.si_pid == 0) {
        return false;
    } else {
        kill(-c->pid, SIGKILL); /* the zombie leader pins the group id: no reuse possible */
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    c->reaped = true;
    c->status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    reg.live--;
    return true;
}

static void signal_group(struct gh_upstream_child *c, int sig)
{
    pthread_mutex_lock(&reg.mu);
    if (!c->reaped)
        kill(-c->pid, sig);
    pthread_mutex_unlock(&reg.mu);
}

static bool is_reaped(struct gh_upstream_child *c, int *status)
{
    pthread_mutex_lock(&reg.mu);
    bool r = reap_locked(c, false);
    *status = c->status;
    pthread_mutex_unlock(&reg.mu);
    return r;
}

/* ---- stopping ---- */

static void begin_stop(struct gh_upstream_child *c, const char *why)
{
    if (!c->why)
        c->why = why;
    if (c->phase >= PH_TERM)
        return;
    c->phase = PH_TERM;
    c->close_in = true;
    signal_group(c, SIGTERM);
    gh_net_timer_arm(c->timer, c->grace_ms);
}

/* The child looks gone (stdout EOF, stdin EPIPE) but may simply be exiting: give it a moment so
 * its own exit status, not our guess, is what on_exit reports. */
static void suspect(struct gh_upstream_child *c, const char *why)
{
    c->close_in = true;
    if (c->phase != PH_RUNNING)
        return;
    c->phase = PH_SUSPECT;
    c->suspect_why = why;
    gh_net_timer_arm(c->timer, GH_MIN(c->grace_ms, SUSPECT_WAIT_MS));
}

static void on_timer(void *arg)
{
    struct gh_upstream_child *c = arg;
    c->depth++;
    if (c->phase == PH_SUSPECT) {
        begin_stop(c, c->suspect_why);
    } else if (c->phase == PH_TERM) {
        c->phase = PH_KILLED;
        GH_LOGW("upstream", "%s: pid %d ignored SIGTERM for %llu ms: SIGKILL", c->name, (int)c->pid,
                (unsigned long long)c->grace_ms);
        signal_group(c, SIGKILL);
    }
    c->depth--;
    settle(c);
}

/* ---- stderr into the log ---- */

static void err_emit(struct gh_upstream_child *c, const char *p, size_t n, bool cut)
{
    uint64_t now = gh_clock_ms();
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0)
        return;
    if (now - c->err_window_ms >= 1000) {
        if (c->err_dropped)
            GH_LOGW("upstream", "%s: %u stderr lines not logged (more than %d per second)", c->name,
                    c->err_dropped, ERR_LINES_PER_SEC);
        c->err_window_ms = now;
        c->err_lines = c->err_dropped = 0;
    }
    if (c->err_lines++ >= ERR_LINES_PER_SEC) {
        c->err_dropped++;
        return;
    }
    /* the logger escapes control bytes, so a hostile child cannot forge log lines */
    GH_LOGW("upstream", "%s: %.*s%s", c->name, (int)n, p, cut ? "..." : "");
}

static void err_feed(struct gh_upstream_child *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (!c->errskip)
                err_emit(c, c->errline, c->errlen, false);
            c->errlen = 0;
            c->errskip = false;
        } else if (c->errlen < sizeof(c->errline)) {
            c->errline[c->errlen++] = p[i];
        } else if (!c->errskip) {
            err_emit(c, c->errline, c->errlen, true);
            c->errskip = true;
        }
    }
}

static void drain_err(struct gh_upstream_child *c)
{
    char buf[READ_CHUNK];
    for (int i = 0; c->err && i < READS_PER_EVENT; i++) {
        ssize_t r = gh_net_sock_read(c->err, buf, sizeof(buf));
        if (r > 0) {
            err_feed(c, buf, (size_t)r);
            continue;
        }
        if (r != GH_E_AGAIN)
            gh_net_sock_want(c->err, false, false, 0); /* EOF: no level-triggered spin */
        return;
    }
}

static void on_err(struct gh_net_sock *s, int flags, void *arg)
{
    struct gh_upstream_child *c = arg;
    (void)s;
    (void)flags;
    c->depth++;
    drain_err(c);
    c->depth--;
    settle(c);
}

/* ---- stdout: NDJSON ---- */

static void deliver(struct gh_upstream_child *c, const char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0 || c->detached || c->why)
        return;
    c->cbs.on_message(c->arg, p, n);
}

static void out_feed(struct gh_upstream_child *c, const char *p, size_t n)
{
    while (n > 0 && !c->detached && !c->why) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (gh_buf_rlen(&c->line) + take > c->message_bytes) {
            GH_LOGW("upstream", "%s: a message from pid %d is longer than message_bytes (%zu)",
                    c->name, (int)c->pid, c->message_bytes);
            begin_stop(c, "message over message_bytes");
            return;
        }
        if (!nl) {
            gh_buf_append(&c->line, p, take); /* fits: checked against the same cap */
            return;
        }
        if (gh_buf_rlen(&c->line) == 0) {
            deliver(c, p, take);
        } else {
            gh_buf_append(&c->line, p, take);
            deliver(c, gh_buf_rptr(&c->line), gh_buf_rlen(&c->line));
            if (c->line.cap > LINE_KEEP_BYTES)
                gh_buf_release(&c->line);
            else
                gh_buf_clear(&c->line);
        }
        p += take + 1;
        n -= take + 1;
    }
}

static void drain_out(struct gh_upstream_child *c)
{
    char buf[READ_CHUNK];
    for (int i = 0; c->out && i < READS_PER_EVENT && !c->detached && !c->why; i++) {
        ssize_t r = gh_net_sock_read(c->out, buf, sizeof(buf));
        if (r > 0) {
            out_feed(c, buf, (size_t)r);
            continue;
        }
        if (r != GH_E_AGAIN) {
            gh_net_sock_want(c->out, false, false, 0);
            suspect(c, r == GH_E_CLOSED ? "stdout closed" : "stdout read error");
        }
        return;
    }
}

static void on_out(struct gh_net_sock *s, int flags, void *arg)
{
    struct gh_upstream_child *c = arg;
    (void)s;
    (void)flags;
    c->depth++;
    drain_out(c);
    c->depth--;
    settle(c);
}

/* ---- stdin ---- */

static void flush_in(struct gh_upstream_child *c)
{
    while (c->in && !c->close_in && gh_buf_rlen(&c->inq) > 0) {
        ssize_t r = gh_net_sock_write(c->in, gh_buf_rptr(&c->inq), gh_buf_rlen(&c->inq));
        if (r < 0) {
            suspect(c, "stdin closed by the child");
            return;
        }
        if (r == 0)
            break;
        gh_buf_consume(&c->inq, (size_t)r);
    }
    if (c->in && !c->close_in)
        gh_net_sock_want(c->in, false, gh_buf_rlen(&c->inq) > 0, 0);
}

static void on_in(struct gh_net_sock *s, int flags, void *arg)
{
    struct gh_upstream_child *c = arg;
    (void)s;
    (void)flags;
    c->depth++;
    flush_in(c);
    c->depth--;
    settle(c);
}

/* Copies one JSON text plus '\n': CR/LF between tokens become spaces (JSON whitespace); inside a
 * string they cannot occur in valid JSON, and passing them would split the message. */
static enum gh_rc copy_line(char *dst, const char *src, size_t len)
{
    bool in_str = false, esc = false;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
            else if (ch == '\n' || ch == '\r')
                return GH_E_PARSE;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '\n' || ch == '\r') {
            ch = ' ';
        }
        dst[i] = ch;
    }
    dst[len] = '\n';
    return GH_OK;
}

enum gh_rc gh_upstream_child_send(struct gh_upstream_child *c, const char *json, size_t len)
{
    char *w;
    if (c->detached || c->why || c->close_in || c->phase != PH_RUNNING || !c->in)
        return GH_E_CLOSED;
    if (len > c->message_bytes)
        return GH_E_LIMIT; /* the message's fault, not the child's: it keeps running */
    if (gh_buf_rlen(&c->inq) + len + 1 > c->message_bytes * 4 ||
        gh_buf_reserve(&c->inq, len + 1, &w) != GH_OK) {
        GH_LOGW("upstream", "%s: pid %d stopped reading its stdin: stopping it", c->name,
                (int)c->pid);
        begin_stop(c, "stdin backlog over cap");
        settle(c);
        return GH_E_LIMIT;
    }
    if (copy_line(w, json, len) != GH_OK)
        return GH_E_PARSE;
    gh_buf_commit(&c->inq, len + 1);
    c->depth++; /* flush_in may decide the child is gone; no callback runs from here */
    flush_in(c);
    c->depth--;
    settle(c);
    return GH_OK;
}

/* ---- exit ---- */

static void finish(struct gh_upstream_child *c, int status)
{
    gh_net_timer_cancel(c->timer);
    drain_out(c); /* lines written just before the exit still count */
    drain_err(c);
    if (c->errlen && !c->errskip)
        err_emit(c, c->errline, c->errlen, false);
    c->done = true;
    const char *why = c->why ? c->why : status >= 0 ? "exited" : "killed by signal";
    GH_LOGI("upstream", "%s: pid %d gone (%s, status %d)", c->name, (int)c->pid, why, status);
    if (!c->detached) {
        c->detached = true;
        c->cbs.on_exit(c->arg, status, why);
    }
}

static void on_pid(struct gh_net_sock *s, int flags, void *arg)
{
    struct gh_upstream_child *c = arg;
    int status;
    (void)s;
    (void)flags;
    c->depth++;
    if (!c->done && is_reaped(c, &status))
        finish(c, status);
    c->depth--;
    settle(c);
}

static void close_sock(struct gh_net_sock **s)
{
    gh_net_sock_close(*s);
    *s = NULL;
}

static void child_free(struct gh_upstream_child *c)
{
    close_sock(&c->in);
    close_sock(&c->out);
    close_sock(&c->err);
    close_sock(&c->pidw);
    gh_net_timer_free(c->timer);
    gh_buf_release(&c->inq);
    gh_buf_release(&c->line);
    pthread_mutex_lock(&reg.mu);
    GH_BUG_ON(!c->reaped); /* a freed child is never left a zombie */
    if (c->prev)
        c->prev->next = c->next;
    else
        reg.head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&reg.mu);
    free(c->name);
    free(c);
}

/* Runs the deferred work once no handler of c is on the stack. */
static void settle(struct gh_upstream_child *c)
{
    if (c->depth > 0)
        return;
    if (c->done) {
        child_free(c);
        return;
    }
    if (c->close_in && c->in) {
        close_sock(&c->in);
        gh_buf_release(&c->inq);
    }
    if (c->detached && c->out) /* nobody listens: a child still writing gets EPIPE and dies */
        close_sock(&c->out);
}

void gh_upstream_child_stop(struct gh_upstream_child *c)
{
    if (!c || c->detached)
        return; /* inside on_exit: already gone */
    c->detached = true;
    begin_stop(c, "stopped");
    settle(c);
}

pid_t gh_upstream_child_pid(const struct gh_upstream_child *c)
{
    return c->pid;
}

/* ---- spawning ---- */

/* Reads a file: secret, trailing CR/LF trimmed. */
static enum gh_rc read_secret(const char *file, char **out, const char **why)
{
    struct stat sb;
    size_t len = 0;
    char *buf = NULL;
    enum gh_rc rc = GH_E_IO;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    *why = strerror(errno);
    if (fd < 0)
        return GH_E_IO;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *why = "not a regular file";
        goto out;
    }
    if (sb.st_mode & (S_IROTH | S_IWOTH)) {
        *why = "readable or writable by every local user (chmod o-rw)";
        goto out;
    }
    buf = gh_xmalloc(SECRET_FILE_MAX + 2);
    for (ssize_t r = 1; r > 0 && len <= SECRET_FILE_MAX;) {
        r = read(fd, buf + len, SECRET_FILE_MAX + 1 - len);
        if (r < 0 && errno != EINTR) {
            *why = strerror(errno);
            goto out;
        }
        len += r > 0 ? (size_t)r : 0;
    }
    *why = len > SECRET_FILE_MAX ? "larger than 65536 bytes" : "holds a NUL byte";
    if (len > SECRET_FILE_MAX || memchr(buf, '\0', len))
        goto out;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    *out = buf;
    buf = NULL;
    rc = GH_OK;
out:
    if (buf)
        explicit_bzero(buf, SECRET_FILE_MAX + 2);
    free(buf);
    close(fd);
    return rc;
}

static void envp_free(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        explicit_bzero(envp[i], strlen(envp[i])); /* secrets do not linger in freed memory */
        free(envp[i]);
    }
    free(envp);
}

static char *env_pair(const char *name, const char *value)
{
    char *s = gh_xmalloc(strlen(name) + strlen(value) + 2);
    sprintf(s, "%s=%s", name, value);
    return s;
}

/* The child's whole environment, references resolved now. err names the variable, never a
 * value. */
static enum gh_rc build_env(const struct gh_config_upstream *u, char ***out, char *err,
                            size_t errlen)
{
    char **envp = gh_xcalloc(u->n_env + 1, sizeof(*envp));
    for (size_t i = 0; i < u->n_env; i++) {
        const struct gh_config_env *e = &u->env[i];
        const char *v = e->value, *why;
        char *secret = NULL;
        if (e->kind == GH_CONFIG_ENV_FROM_ENV && !(v = getenv(e->value))) {
            snprintf(err, errlen,
                     "upstream %s: env.%s: env:%s is not set in the gateway's "
                     "environment",
                     u->name, e->name, e->value);
            goto fail;
        }
        if (e->kind == GH_CONFIG_ENV_FROM_FILE && read_secret(e->value, &secret, &why) != GH_OK) {
            snprintf(err, errlen, "upstream %s: env.%s: cannot use secret file: %s", u->name,
                     e->name, why);
            goto fail;
        }
        envp[i] = env_pair(e->name, secret ? secret : v);
        if (secret)
            explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    *out = envp;
    return GH_OK;
fail:
    envp_free(envp);
    return GH_E_PARSE;
}

/* command as an absolute path, or found in the child's own PATH (absolute entries only). */
static char *find_program(const char *command, char *const *envp)
{
    const char *p = NULL;
    struct stat sb;
    if (command[0] == '/')
        return gh_xstrdup(command);
    for (size_t i = 0; envp[i] && !p; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0)
            p = envp[i] + 5;
    }
    while (p && *p) {
        size_t n = strcspn(p, ":");
        if (n > 0 && p[0] == '/') {
            char *file = gh_xmalloc(n + strlen(command) + 2);
            sprintf(file, "%.*s/%s", (int)n, p, command);
            if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode) && access(file, X_OK) == 0)
                return file;
            free(file);
        }
        p += n + (p[n] == ':');
    }
    return NULL;
}

/* Pipe ends live above fd 2 so the dup2 onto 0-2 in the child never clobbers one of them. */
static int fd_high(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static bool pipes_new(int fds[3][2])
{
    for (int i = 0; i < 3; i++) {
        fds[i][0] = fds[i][1] = -1;
        if (pipe2(fds[i], O_CLOEXEC) != 0)
            return false;
        fds[i][0] = fd_high(fds[i][0]);
        fds[i][1] = fd_high(fds[i][1]);
        if (fds[i][0] < 0 || fds[i][1] < 0)
            return false;
    }
    return true;
}

static void pipes_close(int fds[3][2])
{
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 2; k++) {
            if (fds[i][k] >= 0)
                close(fds[i][k]);
            fds[i][k] = -1;
        }
    }
}

/* posix_spawn (vfork-like, reports exec errors) into a new process group, default signal
 * dispositions and an empty mask (workers block every signal, the gateway ignores SIGPIPE: a
 * child must not inherit either), stdio on the pipes, every other fd closed, cwd. */
static int do_spawn(const struct gh_config_upstream *u, const char *prog, char *const *envp,
                    int fds[3][2], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    int rc;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawn_file_actions_adddup2(&fa, fds[0][0], 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1][1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[2][1], 2);
    if (u->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, u->cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    rc = posix_spawn(pid, prog, &fa, &at, u->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static struct gh_upstream_child *child_new(struct gh_net_worker *w,
                                           const struct gh_config_upstream *u,
                                           const struct gh_upstream_child_cbs *cbs, void *arg,
                                           pid_t pid)
{
    struct gh_upstream_child *c = gh_xcalloc(1, sizeof(*c));
    c->w = w;
    c->name = gh_xstrdup(u->name);
    c->cbs = *cbs;
    c->arg = arg;
    c->pid = pid;
    c->message_bytes = u->message_bytes ? u->message_bytes : 4 * 1024 * 1024;
    c->grace_ms = u->stop_grace_ms ? u->stop_grace_ms : 2000;
    gh_buf_init(&c->inq, c->message_bytes * 4 + 1);
    gh_buf_init(&c->line, c->message_bytes);
    c->timer = gh_net_timer_new(w, on_timer, c);
    pthread_mutex_lock(&reg.mu);
    c->next = reg.head;
    if (reg.head)
        reg.head->prev = c;
    reg.head = c;
    pthread_mutex_unlock(&reg.mu);
    return c;
}

static void watch(struct gh_upstream_child *c, int fds[3][2], int pidfd)
{
    fcntl(fds[0][1], F_SETFL, O_NONBLOCK);
    fcntl(fds[1][0], F_SETFL, O_NONBLOCK);
    fcntl(fds[2][0], F_SETFL, O_NONBLOCK);
    c->in = gh_net_fd_new(c->w, fds[0][1], on_in, c);
    c->out = gh_net_fd_new(c->w, fds[1][0], on_out, c);
    c->err = gh_net_fd_new(c->w, fds[2][0], on_err, c);
    c->pidw = gh_net_fd_new(c->w, pidfd, on_pid, c);
    fds[0][1] = fds[1][0] = fds[2][0] = -1; /* owned by the socks now */
    gh_net_sock_want(c->out, true, false, 0);
    gh_net_sock_want(c->err, true, false, 0);
    gh_net_sock_want(c->pidw, true, false, 0);
}

/* The spawned process could not be watched: kill and collect it now (it is ours alone). */
static void abandon(pid_t pid)
{
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

struct launch_args {
    const struct gh_upstream_child_cbs *cbs; /* copied into the child */
    void *arg;                               /* their argument */
    const char *prog;                        /* resolved program file */
    char *const *envp;                       /* resolved environment */
};

static enum gh_rc launch(struct gh_net_worker *w, const struct gh_config_upstream *u,
                         const struct launch_args *la, struct gh_upstream_child **out, char *err,
                         size_t errlen)
{
    int fds[3][2], pidfd = -1, e;
    pid_t pid;
    if (!pipes_new(fds)) {
        snprintf(err, errlen, "upstream %s: pipe: %s", u->name, strerror(errno));
        pipes_close(fds);
        return GH_E_IO;
    }
    e = do_spawn(u, la->prog, la->envp, fds, &pid);
    if (e == 0) {
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
            e = errno;
            abandon(pid);
        }
    }
    close(fds[0][0]); /* the child's ends */
    close(fds[1][1]);
    close(fds[2][1]);
    fds[0][0] = fds[1][1] = fds[2][1] = -1;
    if (e != 0) {
        snprintf(err, errlen, "upstream %s: cannot %s: %s", u->name,
                 pidfd < 0 && e == ENOSYS ? "watch the child (pidfd_open needs Linux 5.3)"
                                          : "start the command",
                 strerror(e));
        pipes_close(fds);
        return GH_E_IO;
    }
    *out = child_new(w, u, la->cbs, la->arg, pid);
    watch(*out, fds, pidfd);
    GH_LOGI("upstream", "%s: started pid %d", u->name, (int)pid);
    return GH_OK;
}

enum gh_rc gh_upstream_child_spawn(struct gh_net_worker *w, const struct gh_config_upstream *u,
                                   const struct gh_upstream_child_cbs *cbs, void *arg,
                                   struct gh_upstream_child **out, char *err, size_t errlen)
{
    char **envp = NULL, *prog = NULL;
    enum gh_rc rc;
    *out = NULL;
    if (u->kind != GH_CONFIG_UPSTREAM_STDIO || !u->command || !u->argv) {
        snprintf(err, errlen, "upstream %s: not a stdio upstream", u->name);
        return GH_E_INTERNAL;
    }
    if (!slot_take()) {
        snprintf(err, errlen, "upstream %s: limits.stdio_children reached", u->name);
        return GH_E_LIMIT;
    }
    rc = build_env(u, &envp, err, errlen);
    if (!rc && !(prog = find_program(u->command, envp))) {
        snprintf(err, errlen, "upstream %s: command not found in env PATH", u->name);
        rc = GH_E_IO;
    }
    if (!rc) {
        struct launch_args la = {cbs, arg, prog, envp};
        rc = launch(w, u, &la, out, err, errlen);
    }
    if (rc)
        slot_give();
    envp_free(envp);
    free(prog);
    return rc;
}

/* ---- shutdown ---- */

static uint64_t signal_all(int sig)
{
    uint64_t grace = 0;
    pthread_mutex_lock(&reg.mu);
    for (struct gh_upstream_child *c = reg.head; c; c = c->next) {
        if (!c->reaped)
            kill(-c->pid, sig);
        grace = GH_MAX(grace, c->grace_ms);
    }
    pthread_mutex_unlock(&reg.mu);
    return grace;
}

/* One pass: collects the exited, SIGKILLs those past their own grace (or all, when force, and
 * then waits for them). Returns how many are still running. */
static size_t sweep(uint64_t elapsed_ms, bool force)
{
    size_t left = 0;
    pthread_mutex_lock(&reg.mu);
    for (struct gh_upstream_child *c = reg.head; c; c = c->next) {
        if (reap_locked(c, false))
            continue;
        if (force || elapsed_ms >= c->grace_ms)
            kill(-c->pid, SIGKILL);
        if (force)
            reap_locked(c, true);
        else
            left++;
    }
    pthread_mutex_unlock(&reg.mu);
    return left;
}

void gh_upstream_children_stop_all(void)
{
    uint64_t t0 = gh_clock_ms(), longest = signal_all(SIGTERM);
    /* +100 ms: room for a SIGKILL sent at the longest grace to take effect */
    while (sweep(gh_clock_ms() - t0, false) > 0 && gh_clock_ms() - t0 < longest + 100) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sweep(0, true);
}

void gh_upstream_children_worker_fini(struct gh_net_worker *w)
{
    for (;;) {
        struct gh_upstream_child *c = NULL;
        pthread_mutex_lock(&reg.mu);
        for (c = reg.head; c && c->w != w; c = c->next)
            ;
        if (c) {
            if (!c->reaped)
                kill(-c->pid, SIGKILL);
            reap_locked(c, true);
        }
        pthread_mutex_unlock(&reg.mu);
        if (!c)
            return;
        c->detached = true;
        c->depth = 0;
        c->done = true;
        settle(c);
    }
}
