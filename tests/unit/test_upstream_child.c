/*
 * Unit tests for upstream/child.c: real /bin/sh children driven by a real worker — NDJSON both
 * ways, exit codes, stderr, SIGTERM then SIGKILL, the message_bytes and stdin backlog caps, the
 * process group (grandchildren die), environment isolation, env:/file: references, the children
 * cap, the shutdown sweep — and after every test, no zombie and no live child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "config/config.h"
#include "net/net.h"
#include "upstream/upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSGS 256

/* ------------------------------------------------------------------ harness */

/* What one child reported; written on the worker, read by the test thread under mu. */
struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *msgs[MAX_MSGS];
    int n_msgs;
    bool exited;
    int exits; /* on_exit calls: must stay <= 1 */
    int status;
    const char *why;
    struct gh_upstream_child *c;
    pid_t pid;
};

static struct gh_net_worker **workers;
static struct gh_net_worker *W;

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_free(struct rec *r)
{
    for (int i = 0; i < r->n_msgs; i++)
        free(r->msgs[i]);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
}

static void on_message(void *arg, const char *json, size_t len)
{
    struct rec *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->n_msgs < MAX_MSGS)
        r->msgs[r->n_msgs++] = gh_xstrndup(json, len);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_exit_cb(void *arg, int status, const char *why)
{
    struct rec *r = arg;
    pthread_mutex_lock(&r->mu);
    r->exited = true;
    r->exits++;
    r->status = status;
    r->why = why;
    r->c = NULL; /* freed when we return */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static const struct gh_upstream_child_cbs CBS = {on_message, on_exit_cb};

static void deadline_in(struct timespec *dl, int ms)
{
    clock_gettime(CLOCK_REALTIME, dl);
    dl->tv_sec += ms / 1000;
    dl->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl->tv_nsec >= 1000000000L) {
        dl->tv_sec++;
        dl->tv_nsec -= 1000000000L;
    }
}

static int wait_msgs(struct rec *r, int n, int ms)
{
    struct timespec dl;
    deadline_in(&dl, ms);
    pthread_mutex_lock(&r->mu);
    while (r->n_msgs < n && pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    int got = r->n_msgs;
    pthread_mutex_unlock(&r->mu);
    return got;
}

static bool wait_exit(struct rec *r, int ms)
{
    struct timespec dl;
    deadline_in(&dl, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->exited && pthread_cond_timedwait(&r->cv, &r->mu, &dl) == 0)
        ;
    bool e = r->exited;
    pthread_mutex_unlock(&r->mu);
    return e;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs fn(arg) on the worker and waits for it. */
struct call {
    void (*fn)(void *);
    void *arg;
    struct rec done;
};

static void call_task(void *arg)
{
    struct call *k = arg;
    k->fn(k->arg);
    on_exit_cb(&k->done, 0, "done");
}

static void on_worker(void (*fn)(void *), void *arg)
{
    struct call k;
    k.fn = fn;
    k.arg = arg;
    rec_init(&k.done);
    gh_net_worker_post(W, call_task, &k);
    assert_true(wait_exit(&k.done, 5000));
    rec_free(&k.done);
}

struct spawn_job {
    const struct gh_config_upstream *u;
    struct rec *r;
    enum gh_rc rc;
    char err[256];
};

static void spawn_task(void *arg)
{
    struct spawn_job *j = arg;
    struct gh_upstream_child *c = NULL;
    j->rc = gh_upstream_child_spawn(W, j->u, &CBS, j->r, &c, j->err, sizeof(j->err));
    j->r->c = c;
    j->r->pid = c ? gh_upstream_child_pid(c) : 0;
}

static enum gh_rc spawn(const struct gh_config_upstream *u, struct rec *r, char *err)
{
    struct spawn_job j = {u, r, GH_OK, ""};
    on_worker(spawn_task, &j);
    if (err)
        strcpy(err, j.err);
    return j.rc;
}

struct send_job {
    struct rec *r;
    const char *json;
    size_t len;
    int repeat; /* send until an error or this many times */
    enum gh_rc rc;
    int sent;
};

static void send_task(void *arg)
{
    struct send_job *j = arg;
    j->rc = GH_E_CLOSED;
    for (j->sent = 0; j->r->c && j->sent < j->repeat; j->sent++) {
        j->rc = gh_upstream_child_send(j->r->c, j->json, j->len);
        if (j->rc)
            break;
    }
}

static enum gh_rc send_n(struct rec *r, const char *json, int repeat, int *sent)
{
    struct send_job j = {r, json, strlen(json), repeat, GH_OK, 0};
    on_worker(send_task, &j);
    if (sent)
        *sent = j.sent;
    return j.rc;
}

static void stop_task(void *arg)
{
    struct rec *r = arg;
    gh_upstream_child_stop(r->c);
    r->c = NULL;
}

static struct gh_config *load(const char *yaml)
{
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[512];
    enum gh_rc rc = gh_config_load_string("t.yaml", yaml, strlen(yaml), &c, &e);
    if (rc) {
        gh_config_error_format(&e, msg, sizeof(msg));
        fail_msg("config: %s", msg);
    }
    return c;
}

/* A config with one stdio upstream running /bin/sh -c script (plus extra upstream keys). */
static struct gh_config *sh_config(const char *script, const char *extra)
{
    char yaml[4096];
    struct gh_buf q;
    gh_buf_init(&q, 2048);
    /* the script as a YAML single-quoted scalar */
    for (const char *p = script; *p; p++)
        gh_buf_append(&q, *p == '\'' ? "''" : p, *p == '\'' ? 2 : 1);
    gh_buf_append(&q, "", 1);
    snprintf(yaml, sizeof(yaml),
             "upstreams:\n"
             "  - name: t\n"
             "    command: /bin/sh\n"
             "    args: ['-c', '%s']\n"
             "    env: {PATH: /usr/bin:/bin}\n"
             "%s",
             q.data, extra ? extra : "");
    gh_buf_release(&q);
    return load(yaml);
}

/* Dead: gone from /proc, or a zombie that init has yet to collect. */
static bool proc_dead(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static bool wait_dead(pid_t pid, int ms)
{
    for (int t = 0; t < ms; t += 10) {
        if (proc_dead(pid))
            return true;
        sleep_ms(10);
    }
    return proc_dead(pid);
}

static bool wait_live(size_t n, int ms)
{
    for (int t = 0; t < ms; t += 5) {
        if (gh_upstream_children_live() == n)
            return true;
        sleep_ms(5);
    }
    return gh_upstream_children_live() == n;
}

/* After each test: every child reaped (no zombie of ours), none counted live. */
static int no_leftovers(void **state)
{
    (void)state;
    assert_true(wait_live(0, 3000));
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void echo_both_ways(void **state)
{
    (void)state;
    struct gh_config *cfg = sh_config("exec cat", NULL);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(r.pid > 0);
    assert_int_equal(getpgid(r.pid), r.pid); /* its own process group */
    assert_int_equal(gh_upstream_children_live(), 1);
    assert_int_equal(send_n(&r, "{\"id\":1}", 1, NULL), GH_OK);
    assert_int_equal(send_n(&r, "{\"id\":2,\r\n \"a\":\"x\\ny\"}\n", 1, NULL), GH_OK);
    assert_int_equal(send_n(&r, "{\"a\":\"raw\nnewline\"}", 1, NULL), GH_E_PARSE);
    assert_int_equal(wait_msgs(&r, 2, 3000), 2);
    assert_string_equal(r.msgs[0], "{\"id\":1}");
    assert_string_equal(r.msgs[1], "{\"id\":2,   \"a\":\"x\\ny\"} "); /* CR LF -> spaces */
    on_worker(stop_task, &r);
    assert_true(wait_live(0, 3000));
    assert_true(proc_dead(r.pid));
    sleep_ms(20);
    assert_false(r.exited); /* no callback after stop */
    assert_int_equal(r.n_msgs, 2);
    rec_free(&r);
    gh_config_unref(cfg);
}

static void exit_code_and_last_lines(void **state)
{
    (void)state;
    struct gh_config *cfg =
        sh_config("echo oops >&2; echo '{\"a\":1}'; printf '{\"b\":2}\\r\\n\\n'; "
                  "exit 3",
                  NULL);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_int_equal(r.exits, 1);
    assert_int_equal(r.status, 3);
    assert_string_equal(r.why, "exited");
    assert_int_equal(r.n_msgs, 2); /* delivered before on_exit; CR dropped, empty line skipped */
    assert_string_equal(r.msgs[0], "{\"a\":1}");
    assert_string_equal(r.msgs[1], "{\"b\":2}");
    rec_free(&r);
    gh_config_unref(cfg);
}

static void sigterm_ignored_gets_sigkill(void **state)
{
    (void)state;
    struct gh_config *cfg =
        sh_config("trap \"\" TERM; echo '{\"ready\":1}'; while :; do sleep 0.05; done",
                  "    stop_grace_ms: 300\n");
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_int_equal(wait_msgs(&r, 1, 3000), 1);
    uint64_t t0 = gh_clock_ms();
    on_worker(stop_task, &r);
    sleep_ms(150);
    assert_false(proc_dead(r.pid)); /* SIGTERM ignored: still there */
    assert_true(wait_live(0, 3000));
    assert_true(gh_clock_ms() - t0 >= 290);
    assert_true(proc_dead(r.pid));
    assert_false(r.exited);
    rec_free(&r);
    gh_config_unref(cfg);
}

static void over_long_line_stops_child(void **state)
{
    (void)state;
    struct gh_config *cfg =
        sh_config("echo '{\"ok\":1}'; head -c 200 /dev/zero | tr \"\\0\" x; echo; echo '{}'; cat",
                  "    message_bytes: 64\n");
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_string_equal(r.why, "message over message_bytes");
    assert_int_equal(r.status, -SIGTERM);
    assert_int_equal(r.n_msgs, 1); /* nothing after the over-long line */
    assert_string_equal(r.msgs[0], "{\"ok\":1}");
    rec_free(&r);
    gh_config_unref(cfg);
}

static void stdout_closed_stops_child(void **state)
{
    (void)state;
    struct gh_config *cfg = sh_config("exec sleep 100 >&-", NULL);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_string_equal(r.why, "stdout closed");
    assert_int_equal(r.status, -SIGTERM);
    rec_free(&r);
    gh_config_unref(cfg);
}

static pid_t msg_pid(struct rec *r, int i)
{
    int pid = 0;
    assert_int_equal(sscanf(r->msgs[i], "{\"pid\":%d}", &pid), 1);
    return (pid_t)pid;
}

static void grandchildren_die_with_the_group(void **state)
{
    (void)state;
    /* stopped by us */
    struct gh_config *cfg = sh_config("sleep 100 & echo \"{\\\"pid\\\":$!}\"; exec cat", NULL);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_int_equal(wait_msgs(&r, 1, 3000), 1);
    pid_t gc = msg_pid(&r, 0);
    assert_false(proc_dead(gc));
    assert_int_equal(getpgid(gc), r.pid);
    on_worker(stop_task, &r);
    assert_true(wait_live(0, 3000));
    assert_true(wait_dead(gc, 2000));
    rec_free(&r);
    gh_config_unref(cfg);
    /* the leader exits on its own: the sweep still takes the straggler */
    cfg = sh_config("sleep 100 & echo \"{\\\"pid\\\":$!}\"; exit 0", NULL);
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_int_equal(r.status, 0);
    assert_string_equal(r.why, "exited");
    assert_int_equal(r.n_msgs, 1);
    assert_true(wait_dead(msg_pid(&r, 0), 2000));
    rec_free(&r);
    gh_config_unref(cfg);
}

static void env_is_exactly_the_configured_one(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-child-XXXXXX", file[128], yaml[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/key", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from-file\r\n", 11), 11);
    close(fd);
    setenv("GH_TEST_CHILD_TOKEN", "from-env", 1);
    setenv("GH_TEST_NOT_PASSED", "leak", 1);
    snprintf(yaml, sizeof(yaml),
             "upstreams:\n"
             "  - name: t\n"
             "    command: env\n"
             "    cwd: %s\n"
             "    env:\n"
             "      PATH: /usr/bin:/bin\n"
             "      FOO: bar baz\n"
             "      GITHUB_TOKEN: env:GH_TEST_CHILD_TOKEN\n"
             "      API_KEY: file:%s\n",
             dir, file);
    struct gh_config *cfg = load(yaml);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_msgs, 4); /* env prints in envp order: nothing inherited */
    assert_string_equal(r.msgs[0], "PATH=/usr/bin:/bin");
    assert_string_equal(r.msgs[1], "FOO=bar baz");
    assert_string_equal(r.msgs[2], "GITHUB_TOKEN=from-env");
    assert_string_equal(r.msgs[3], "API_KEY=from-file");
    rec_free(&r);
    gh_config_unref(cfg);

    /* cwd is applied, and no fd beyond 0-2 reaches the child */
    snprintf(yaml, sizeof(yaml),
             "upstreams:\n  - name: t\n    command: /bin/sh\n    cwd: %s\n"
             "    args: ['-c', 'pwd; ls /proc/self/fd | tr \"\\n\" \" \"; echo']\n"
             "    env: {PATH: /usr/bin:/bin}\n",
             dir);
    cfg = load(yaml);
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    assert_true(wait_exit(&r, 3000));
    assert_int_equal(r.n_msgs, 2);
    assert_string_equal(r.msgs[0], dir);
    assert_string_equal(r.msgs[1], "0 1 2 3 "); /* 3 is ls's own directory handle */
    rec_free(&r);
    gh_config_unref(cfg);
    unlink(file);
    rmdir(dir);
    unsetenv("GH_TEST_CHILD_TOKEN");
    unsetenv("GH_TEST_NOT_PASSED");
}

static void missing_reference_fails_spawn(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-child-XXXXXX", file[128], yaml[1024], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/key", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    setenv("GH_TEST_CHILD_GONE", "x", 1);
    snprintf(
        yaml, sizeof(yaml),
        "upstreams:\n"
        "  - name: a\n    command: /usr/bin/env\n    env: {MY_TOKEN: 'env:GH_TEST_CHILD_GONE'}\n"
        "  - name: b\n    command: /usr/bin/env\n    env: {MY_KEY: 'file:%s'}\n"
        "  - name: c\n    command: /usr/bin/env\n    cwd: %s\n",
        file, dir);
    struct gh_config *cfg = load(yaml);
    unsetenv("GH_TEST_CHILD_GONE");
    unlink(file);
    rmdir(dir);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, err), GH_E_PARSE);
    assert_string_equal(err, "upstream a: env.MY_TOKEN: env:GH_TEST_CHILD_GONE is not set in the "
                             "gateway's environment");
    assert_int_equal(spawn(&cfg->upstreams[1], &r, err), GH_E_PARSE);
    assert_string_equal(err, "upstream b: env.MY_KEY: cannot use secret file: No such file or "
                             "directory");
    assert_int_equal(spawn(&cfg->upstreams[2], &r, err), GH_E_IO);
    assert_string_equal(err, "upstream c: cannot start the command: No such file or directory");
    assert_null(r.c);
    assert_int_equal(gh_upstream_children_live(), 0);
    rec_free(&r);
    gh_config_unref(cfg);
}

static void children_cap(void **state)
{
    (void)state;
    struct gh_config *cfg = sh_config("exec cat", NULL);
    struct rec r[3];
    char err[256];
    gh_upstream_children_set_limit(2);
    for (int i = 0; i < 3; i++)
        rec_init(&r[i]);
    assert_int_equal(spawn(&cfg->upstreams[0], &r[0], NULL), GH_OK);
    assert_int_equal(spawn(&cfg->upstreams[0], &r[1], NULL), GH_OK);
    assert_int_equal(gh_upstream_children_live(), 2);
    assert_int_equal(spawn(&cfg->upstreams[0], &r[2], err), GH_E_LIMIT);
    assert_string_equal(err, "upstream t: limits.stdio_children reached");
    on_worker(stop_task, &r[0]);
    assert_true(wait_live(1, 3000));
    assert_int_equal(spawn(&cfg->upstreams[0], &r[2], NULL), GH_OK); /* a slot again */
    on_worker(stop_task, &r[1]);
    on_worker(stop_task, &r[2]);
    assert_true(wait_live(0, 3000));
    gh_upstream_children_set_limit(64);
    for (int i = 0; i < 3; i++)
        rec_free(&r[i]);
    gh_config_unref(cfg);
}

static void stdin_backlog_cap(void **state)
{
    (void)state;
    char msg[1001];
    int sent = 0;
    memset(msg, 'x', 1000);
    msg[0] = '"';
    msg[999] = '"';
    msg[1000] = '\0';
    struct gh_config *cfg = sh_config("exec sleep 100", "    message_bytes: 1000\n");
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    char big[1100];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(send_n(&r, big, 1, NULL), GH_E_LIMIT); /* one message too long: harmless */
    assert_int_equal(send_n(&r, msg, 1000, &sent), GH_E_LIMIT);
    /* the pipe took ~64 KiB, then at most 4 * message_bytes were queued */
    assert_true(sent >= 60 && sent < 200);
    assert_int_equal(send_n(&r, msg, 1, NULL), GH_E_CLOSED);
    assert_true(wait_exit(&r, 3000));
    assert_string_equal(r.why, "stdin backlog over cap");
    assert_int_equal(r.status, -SIGTERM);
    rec_free(&r);
    gh_config_unref(cfg);
}

static void stop_all_reaps_everything(void **state)
{
    (void)state;
    struct gh_config *cfg = sh_config("trap \"\" TERM; echo '{}'; while :; do sleep 0.05; done",
                                      "    stop_grace_ms: 200\n");
    struct gh_config *cfg2 = sh_config("exec cat", NULL);
    struct rec r[2];
    rec_init(&r[0]);
    rec_init(&r[1]);
    assert_int_equal(spawn(&cfg->upstreams[0], &r[0], NULL), GH_OK);
    assert_int_equal(spawn(&cfg2->upstreams[0], &r[1], NULL), GH_OK);
    assert_int_equal(wait_msgs(&r[0], 1, 3000), 1); /* the trap is set */
    uint64_t t0 = gh_clock_ms();
    gh_upstream_children_stop_all(); /* from this (non-worker) thread */
    assert_true(gh_clock_ms() - t0 < 1000);
    assert_int_equal(gh_upstream_children_live(), 0);
    assert_true(proc_dead(r[0].pid));
    assert_true(proc_dead(r[1].pid));
    /* the worker still learns of it and frees its structs */
    assert_true(wait_exit(&r[0], 3000));
    assert_true(wait_exit(&r[1], 3000));
    assert_int_equal(r[0].status, -SIGKILL);
    assert_int_equal(r[1].status, -SIGTERM);
    rec_free(&r[0]);
    rec_free(&r[1]);
    gh_config_unref(cfg);
    gh_config_unref(cfg2);
}

static void fini_task(void *arg)
{
    (void)arg;
    gh_upstream_children_worker_fini(W);
}

static void worker_fini_frees_silently(void **state)
{
    (void)state;
    struct gh_config *cfg = sh_config("exec cat", NULL);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&cfg->upstreams[0], &r, NULL), GH_OK);
    on_worker(fini_task, NULL);
    assert_int_equal(gh_upstream_children_live(), 0);
    assert_true(proc_dead(r.pid));
    sleep_ms(20);
    assert_false(r.exited);
    rec_free(&r);
    gh_config_unref(cfg);
}

static void code_built_upstream_runs(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    const char *args[] = {"-c", "echo '{\"x\":1}'", NULL};
    assert_int_equal(gh_config_add_stdio_upstream(c, "sh", "sh", args, NULL), GH_OK);
    assert_int_equal(gh_config_validate(c, NULL), GH_OK);
    struct rec r;
    rec_init(&r);
    assert_int_equal(spawn(&c->upstreams[0], &r, NULL), GH_OK); /* found in the default PATH */
    assert_true(wait_exit(&r, 3000));
    assert_int_equal(r.n_msgs, 1);
    assert_string_equal(r.msgs[0], "{\"x\":1}");
    rec_free(&r);
    gh_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(echo_both_ways, no_leftovers),
        cmocka_unit_test_teardown(exit_code_and_last_lines, no_leftovers),
        cmocka_unit_test_teardown(sigterm_ignored_gets_sigkill, no_leftovers),
        cmocka_unit_test_teardown(over_long_line_stops_child, no_leftovers),
        cmocka_unit_test_teardown(stdout_closed_stops_child, no_leftovers),
        cmocka_unit_test_teardown(grandchildren_die_with_the_group, no_leftovers),
        cmocka_unit_test_teardown(env_is_exactly_the_configured_one, no_leftovers),
        cmocka_unit_test_teardown(missing_reference_fails_spawn, no_leftovers),
        cmocka_unit_test_teardown(children_cap, no_leftovers),
        cmocka_unit_test_teardown(stdin_backlog_cap, no_leftovers),
        cmocka_unit_test_teardown(stop_all_reaps_everything, no_leftovers),
        cmocka_unit_test_teardown(worker_fini_frees_silently, no_leftovers),
        cmocka_unit_test_teardown(code_built_upstream_runs, no_leftovers),
    };
    signal(SIGPIPE, SIG_IGN); /* as the gateway does */
    gh_log_set_level(GH_LOG_ERROR);
    workers = gh_net_workers_new(1);
    W = workers[0];
    gh_net_workers_start(workers, 1, NULL, NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gh_net_workers_stop(workers, 1);
    return rc;
}
