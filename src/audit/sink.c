/*
 * audit/sink.c owns the remote sinks: syslog (RFC 5424 over TCP or TLS, octet-counting framing
 * of RFC 6587 §3.4.1) and OTLP/HTTP logs (JSON encoding). Each sink has one sender thread that
 * reads the audit file itself, never the writer's memory: the file is the spool, so a slow or
 * down SIEM never blocks the gateway and never loses a record. Progress is a cursor file next to
 * the trail (<path>.<type>-<index>.cursor: device, inode and the byte offset after the last
 * acknowledged record), so a restart resumes where the last one stopped. Rotated files
 * (<path>.<UTC stamp>.<seq>) are drained before the sender moves on to the new <path>.
 *
 * The senders use blocking-style I/O (non-blocking fds with poll and deadlines): they are plain
 * threads, not event-loop workers, and each waits only on its own peer.
 */
#include "core/core.h"
#include "audit/internal.h"
#include "json/json.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define SINKS_MAX       16
#define LINE_MAX_BYTES  GH_AUDIT_VERIFY_LINE_MAX /* a longer line is skipped, not sent */
#define READ_CHUNK      (256u << 10)
#define SYSLOG_SEND_MAX (256u << 10) /* frames written per acknowledgement */
#define SYSLOG_BATCH    256
#define OTLP_BATCH_DEF  256
#define OTLP_BATCH_MAX  10000
#define OTLP_BODY_MAX   (8u << 20)
#define RESP_HEAD_MAX   16384
#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000
#define IO_TIMEOUT_MS   10000
#define IDLE_MS         50 /* the writer does not wake us: poll the file this often */
#define STOP_GRACE_MS   2000
#define CURSOR_MAGIC    "gatehouse-audit-cursor 1"
#define TIME_NS_INVALID 0

enum sink_type {
    SINK_SYSLOG = 0,
    SINK_OTLP = 1,
};

enum sink_state {
    STATE_UNKNOWN = 0,
    STATE_UP,
    STATE_DOWN,
};

struct conn {
    int fd; /* -1: not connected */
    SSL *ssl;
};

struct sink {
    enum sink_type type;
    char name[32];     /* "syslog-0": log lines and the cursor file name */
    const char *path;  /* the audit file (owned by the set) */
    char *cursor_path; /* <path>.<name>.cursor */
    char *host;        /* as configured: TLS name check, SNI, Host: */
    char *authority;   /* host[:port] for logs and Host: */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *tls;              /* NULL: plain TCP */
    char *app_name, *hostname; /* syslog */
    char *url_path;            /* otlp */
    uint32_t batch;            /* otlp records per request */
    char procid[24];

    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;            /* under mu */
    uint64_t deadline_ms; /* when stopping: give up sending at this time */

    int fd; /* the file being read, -1: none */
    dev_t dev;
    ino_t ino;
    uint64_t off;  /* file offset after the last acknowledged record (= start of in) */
    bool skipping; /* dropping an over-long line up to its newline */
    struct gh_buf in;
    struct conn c;
    enum sink_state state;
    struct gh_arena *ar;
};

struct gh_audit_sinks {
    struct sink *v;
    size_t n;
    char *path;
};

/* ---- small helpers ---- */

static bool stopping(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    bool st = s->stop;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* When a network operation must give up: soon while stopping, else after IO_TIMEOUT_MS. */
static uint64_t io_deadline(struct sink *s)
{
    uint64_t d = gh_clock_ms() + IO_TIMEOUT_MS;
    pthread_mutex_lock(&s->mu);
    if (s->stop && s->deadline_ms < d)
        d = s->deadline_ms;
    pthread_mutex_unlock(&s->mu);
    return d;
}

static bool expired(struct sink *s)
{
    pthread_mutex_lock(&s->mu);
    bool e = s->stop && gh_clock_ms() >= s->deadline_ms;
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* Sleeps ms, or less when told to stop. */
static void nap(struct sink *s, uint64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->stop)
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
    pthread_mutex_unlock(&s->mu);
}

/* Logs a change of state once (not per retry). */
static void state_set(struct sink *s, enum sink_state st, const char *why)
{
    if (s->state == st)
        return;
    s->state = st;
    if (st == STATE_UP)
        GH_LOGI("audit", "sink %s: connected to %s, sending", s->name, s->authority);
    else
        GH_LOGW("audit", "sink %s: %s: %s; records wait in the audit file, retrying", s->name,
                s->authority, why);
}

static int poll_until(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = gh_clock_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)GH_MIN(deadline - now, 1000u));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- connections: TCP, optionally TLS ---- */

static void conn_close(struct conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Waits for what OpenSSL asked for; false on error or timeout. */
static bool ssl_wait(struct conn *c, int r, uint64_t deadline)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return poll_until(c->fd, POLLIN, deadline) > 0;
    if (e == SSL_ERROR_WANT_WRITE)
        return poll_until(c->fd, POLLOUT, deadline) > 0;
    return false;
}

static bool conn_open(struct sink *s, char *why, size_t whyn)
{
    uint64_t deadline = io_deadline(s);
    struct conn *c = &s->c;
    c->fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        snprintf(why, whyn, "socket: %s", strerror(errno));
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&s->addr, s->addrlen) != 0) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (errno != EINPROGRESS) {
            soerr = errno;
        } else if (poll_until(c->fd, POLLOUT, deadline) <= 0) {
            soerr = ETIMEDOUT;
        } else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
            soerr = errno;
        }
        if (soerr) {
            snprintf(why, whyn, "connect: %s", strerror(soerr));
            goto fail;
        }
    }
    if (!s->tls)
        return true;
    c->ssl = SSL_new(s->tls);
    SSL_set_fd(c->ssl, c->fd);
    unsigned char ip[16];
    if (inet_pton(AF_INET, s->host, ip) == 1 || inet_pton(AF_INET6, s->host, ip) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), s->host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, s->host);
        SSL_set1_host(c->ssl, s->host);
    }
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return true;
        if (!ssl_wait(c, r, deadline)) {
            long v = SSL_get_verify_result(c->ssl);
            unsigned long e = ERR_get_error();
            snprintf(why, whyn, "TLS handshake failed: %s",
                     v != X509_V_OK ? X509_verify_cert_error_string(v)
                     : e            ? ERR_reason_error_string(e)
                                    : "closed or timed out");
            goto fail;
        }
    }
fail:
    conn_close(c);
    return false;
}

static bool conn_write(struct conn *c, const char *p, size_t n, uint64_t deadline)
{
    while (n) {
        ssize_t w;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, p, (int)GH_MIN(n, (size_t)INT32_MAX));
            if (r <= 0) {
                if (!ssl_wait(c, r, deadline))
                    return false;
                continue;
            }
            w = r;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
                    poll_until(c->fd, POLLOUT, deadline) <= 0)
                    return false;
                continue;
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads some bytes: > 0 read, 0 the peer closed, -1 error or timeout. */
static ssize_t conn_read(struct conn *c, char *p, size_t n, uint64_t deadline)
{
    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, p, (int)GH_MIN(n, (size_t)INT32_MAX));
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (!ssl_wait(c, r, deadline))
                return -1;
        } else {
            ssize_t r = recv(c->fd, p, n, 0);
            if (r >= 0)
                return r;
            if (errno == EINTR)
                continue;
            if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
                poll_until(c->fd, POLLIN, deadline) <= 0)
                return -1;
        }
    }
}

/* True when the peer has closed or reset: a syslog receiver never speaks, so anything readable
 * is the end (TLS session tickets are read and ignored). Checked before each write so records
 * are not handed to a socket that is already dead. */
static bool conn_gone(struct conn *c)
{
    char scratch[4096];
    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            return false;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return true;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_read(c->ssl, scratch, sizeof(scratch));
            if (r > 0)
                continue;
            int e = SSL_get_error(c->ssl, r);
            return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        }
        ssize_t r = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (r > 0)
            continue;
        return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
}

/* ---- the cursor ---- */

static void cursor_save(struct sink *s)
{
    char tmp[4200], text[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->cursor_path);
    int n = snprintf(text, sizeof(text), CURSOR_MAGIC " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                     (uint64_t)s->dev, (uint64_t)s->ino, s->off);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n || rename(tmp, s->cursor_path) != 0) {
        /* the next start may resend from an older cursor: duplicates, never loss */
        GH_LOGW("audit", "sink %s: cannot save cursor %s: %s", s->name, s->cursor_path,
                strerror(errno));
    }
    if (fd >= 0)
        close(fd);
}

static bool cursor_load(struct sink *s, uint64_t *dev, uint64_t *ino, uint64_t *off)
{
    FILE *f = fopen(s->cursor_path, "re");
    if (!f)
        return false;
    bool ok = fscanf(f, CURSOR_MAGIC " %" SCNu64 " %" SCNu64 " %" SCNu64, dev, ino, off) == 3;
    fclose(f);
    if (!ok)
        GH_LOGW("audit", "sink %s: cursor %s is unreadable: starting at the beginning of %s",
                s->name, s->cursor_path, s->path);
    return ok;
}

/* ---- the source: the live file and the ones rotated out of it ---- */

/* Seq suffix of a rotated file name "<base>.<yyyymmddThhmmssZ>.<seq>", or false. */
static bool rotated_seq(const char *name, const char *base, uint64_t *seq)
{
    size_t bl = strlen(base);
    if (strncmp(name, base, bl) != 0 || name[bl] != '.')
        return false;
    const char *p = name + bl + 1;
    for (int i = 0; i < 16; i++) {
        bool digit = p[i] >= '0' && p[i] <= '9';
        if (i == 8 ? p[i] != 'T' : i == 15 ? p[i] != 'Z' : !digit)
            return false;
    }
    if (p[16] != '.' || p[17] < '0' || p[17] > '9')
        return false;
    char *end = NULL;
    *seq = strtoull(p + 17, &end, 10);
    return *end == '\0';
}

/* Looks through the rotated files of the trail. by_inode: the one that is dev/ino (its seq in
 * *seq); otherwise the one with the smallest seq above *seq. Its full name goes to out. */
static bool rotated_find(const struct sink *s, bool by_inode, uint64_t dev, uint64_t ino,
                         uint64_t *seq, char *out, size_t outn)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", s->path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash == dir)
        snprintf(dir, sizeof(dir), "/");
    else if (slash)
        *slash = '\0';
    char basecopy[512];
    snprintf(basecopy, sizeof(basecopy), "%s", slash ? strrchr(s->path, '/') + 1 : s->path);
    base = basecopy;
    DIR *d = opendir(slash ? dir : ".");
    if (!d)
        return false;
    bool found = false;
    uint64_t best = UINT64_MAX, from = *seq;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t q;
        if (!rotated_seq(e->d_name, base, &q))
            continue;
        char full[4400];
        snprintf(full, sizeof(full), "%s/%s", slash ? dir : ".", e->d_name);
        if (by_inode) {
            struct stat st;
            if (stat(full, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino) {
                *seq = q;
                snprintf(out, outn, "%s", full);
                found = true;
                break;
            }
        } else if (q > from && q < best) {
            best = q;
            *seq = q;
            snprintf(out, outn, "%s", full);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static void source_close(struct sink *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    gh_buf_clear(&s->in);
    s->skipping = false;
}

/* Starts reading name at off. */
static bool source_at(struct sink *s, const char *name, uint64_t off)
{
    source_close(s);
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    if ((uint64_t)st.st_size < off) { /* truncated in place (copytruncate): start it over */
        GH_LOGW("audit", "sink %s: %s is shorter than the cursor: sending it from the start",
                s->name, name);
        off = 0;
    }
    s->fd = fd;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->off = off;
    return true;
}

/* Opens where the cursor says: the live file, a rotated one, or the live file's start. */
static bool source_open(struct sink *s)
{
    uint64_t dev, ino, off, seq = 0;
    char name[4400];
    if (cursor_load(s, &dev, &ino, &off)) {
        struct stat st;
        if (stat(s->path, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
            return source_at(s, s->path, off);
        if (rotated_find(s, true, dev, ino, &seq, name, sizeof(name)))
            return source_at(s, name, off);
        GH_LOGW("audit", "sink %s: the file of the cursor is gone: sending %s from the start",
                s->name, s->path);
    }
    if (!source_at(s, s->path, 0))
        return false;
    cursor_save(s);
    return true;
}

/* Reads more of the file into in; over-long lines are dropped (logged) rather than wedging. */
static void source_fill(struct sink *s)
{
    if (s->fd < 0)
        return;
    for (;;) {
        char *w;
        if (gh_buf_reserve(&s->in, READ_CHUNK, &w) != GH_OK)
            break;
        ssize_t r = pread(s->fd, w, READ_CHUNK, (off_t)(s->off + gh_buf_rlen(&s->in)));
        if (r <= 0)
            break;
        gh_buf_commit(&s->in, (size_t)r);
        if (s->skipping) {
            char *nl = memchr(gh_buf_rptr(&s->in), '\n', gh_buf_rlen(&s->in));
            size_t drop = nl ? (size_t)(nl - gh_buf_rptr(&s->in)) + 1 : gh_buf_rlen(&s->in);
            s->off += drop;
            gh_buf_consume(&s->in, drop);
            s->skipping = !nl;
            continue;
        }
        if (gh_buf_rlen(&s->in) >= LINE_MAX_BYTES &&
            !memchr(gh_buf_rptr(&s->in), '\n', gh_buf_rlen(&s->in))) {
            GH_LOGE("audit", "sink %s: a line longer than %u bytes in %s: skipped", s->name,
                    (unsigned)LINE_MAX_BYTES, s->path);
            s->off += gh_buf_rlen(&s->in);
            gh_buf_clear(&s->in);
            s->skipping = true;
            continue;
        }
        if ((size_t)r < READ_CHUNK || gh_buf_rlen(&s->in) >= 2 * READ_CHUNK)
            break;
    }
}

/* At the end of the file: moves on when it has been rotated away and the writer has started the
 * next one (a non-empty <path> of another inode: the writer is single-threaded, so nothing more
 * comes to the old file). Returns true when there is something new to look at. */
static bool source_next(struct sink *s)
{
    struct stat st;
    if (s->fd < 0)
        return source_open(s);
    if (stat(s->path, &st) != 0 ||
        ((uint64_t)st.st_dev == (uint64_t)s->dev && (uint64_t)st.st_ino == (uint64_t)s->ino))
        return false;
    if (st.st_size == 0)
        return false;
    size_t had = gh_buf_rlen(&s->in);
    source_fill(s); /* what was written between our last read and the switch */
    if (gh_buf_rlen(&s->in) != had && memchr(gh_buf_rptr(&s->in), '\n', gh_buf_rlen(&s->in)))
        return true;
    if (gh_buf_rlen(&s->in))
        GH_LOGW("audit", "sink %s: the rotated file ends in a torn record (%zu bytes): skipped",
                s->name, gh_buf_rlen(&s->in));
    uint64_t seq = 0;
    char name[4400];
    bool ours = rotated_find(s, true, s->dev, s->ino, &seq, name, sizeof(name));
    if (ours && rotated_find(s, false, 0, 0, &seq, name, sizeof(name))) {
        if (!source_at(s, name, 0))
            return false;
    } else if (!source_at(s, s->path, 0)) {
        return false;
    }
    cursor_save(s);
    return true;
}

/* Bytes of in that are complete lines. */
static size_t complete_len(const struct sink *s)
{
    const char *p = gh_buf_rptr(&s->in);
    for (size_t i = gh_buf_rlen(&s->in); i > 0; i--)
        if (p[i - 1] == '\n')
            return i;
    return 0;
}

/* Records acknowledged by the peer: they leave the buffer and the cursor moves past them. */
static void acked(struct sink *s, size_t n)
{
    gh_buf_consume(&s->in, n);
    s->off += n;
    cursor_save(s);
}

/* ---- reading a record's header fields ---- */

struct rec {
    char seq[24];   /* decimal, "" when unreadable */
    char time[40];  /* RFC 3339 as written, "" when unreadable */
    char type[33];  /* printable ASCII, "" when unreadable */
    char trace[33]; /* 32 hex or "" */
    char span[17];  /* 16 hex or "" */
    bool notice;    /* a deny or an authentication failure */
};

static void rec_str(const struct gh_json_doc *d, int32_t t, char *out, size_t n,
                    bool (*ok)(unsigned char))
{
    out[0] = '\0';
    if (t < 0 || gh_json_tok(d, (uint32_t)t)->type != GH_JSON_STRING)
        return;
    struct gh_slice raw = gh_json_raw(d, (uint32_t)t);
    if (raw.len < 2 || raw.len - 2 >= n)
        return;
    for (size_t i = 1; i + 1 < raw.len; i++)
        if (!ok((unsigned char)raw.ptr[i]))
            return;
    memcpy(out, raw.ptr + 1, raw.len - 2);
    out[raw.len - 2] = '\0';
}

static bool is_print(unsigned char c)
{
    return c > 32 && c < 127 && c != '\\' && c != '"';
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void rec_read(struct sink *s, const char *line, size_t len, struct rec *r)
{
    memset(r, 0, sizeof(*r));
    gh_arena_reset(s->ar);
    struct gh_json_doc d;
    if (gh_json_parse(s->ar, line, len, NULL, &d, NULL) != GH_OK ||
        gh_json_tok(&d, 0)->type != GH_JSON_OBJECT)
        return; /* sent anyway, without the header fields: never dropped */
    int64_t seq;
    int32_t t = gh_json_obj_get(&d, 0, "seq", 3);
    if (t >= 0 && gh_json_int64(&d, (uint32_t)t, &seq) == GH_OK && seq >= 0)
        snprintf(r->seq, sizeof(r->seq), "%" PRId64, seq);
    rec_str(&d, gh_json_obj_get(&d, 0, "time", 4), r->time, sizeof(r->time), is_print);
    rec_str(&d, gh_json_obj_get(&d, 0, "type", 4), r->type, sizeof(r->type), is_print);
    int32_t tr = gh_json_obj_get(&d, 0, "trace", 5);
    if (tr >= 0 && gh_json_tok(&d, (uint32_t)tr)->type == GH_JSON_OBJECT) {
        rec_str(&d, gh_json_obj_get(&d, (uint32_t)tr, "trace_id", 8), r->trace, sizeof(r->trace),
                is_hex);
        rec_str(&d, gh_json_obj_get(&d, (uint32_t)tr, "span_id", 7), r->span, sizeof(r->span),
                is_hex);
        if (strlen(r->trace) != 32 || strlen(r->span) != 16)
            r->trace[0] = r->span[0] = '\0';
    }
    int32_t dec = gh_json_obj_get(&d, 0, "decision", 8);
    if (dec >= 0 && gh_json_tok(&d, (uint32_t)dec)->type == GH_JSON_OBJECT) {
        int32_t eff = gh_json_obj_get(&d, (uint32_t)dec, "effect", 6);
        r->notice = eff >= 0 && gh_json_str_eq(&d, (uint32_t)eff, "deny", 4);
    }
    if (strcmp(r->type, "auth.failure") == 0)
        r->notice = true;
}

/* ---- syslog ---- */

/* Appends "<len> <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG" for one record. */
static void syslog_frame(struct sink *s, struct gh_buf *b, const char *line, size_t len)
{
    struct rec r;
    rec_read(s, line, len, &r);
    char head[512];
    int hn = snprintf(head, sizeof(head), "<%d>1 %s %s %s %s %s - ", 13 * 8 + (r.notice ? 5 : 6),
                      r.time[0] ? r.time : "-", s->hostname, s->app_name, s->procid,
                      r.type[0] ? r.type : "-");
    gh_buf_appendf(b, "%zu ", (size_t)hn + len);
    gh_buf_append(b, head, (size_t)hn);
    gh_buf_append(b, line, len);
}

static bool syslog_send(struct sink *s, char *why, size_t whyn)
{
    size_t avail = complete_len(s);
    struct gh_buf b;
    gh_buf_init(&b, SIZE_MAX);
    size_t used = 0;
    for (int k = 0; k < SYSLOG_BATCH && used < avail && b.len < SYSLOG_SEND_MAX; k++) {
        const char *line = gh_buf_rptr(&s->in) + used;
        const char *nl = memchr(line, '\n', avail - used);
        syslog_frame(s, &b, line, (size_t)(nl - line));
        used += (size_t)(nl - line) + 1;
    }
    bool ok = !conn_gone(&s->c) && conn_write(&s->c, b.data, b.len, io_deadline(s));
    gh_buf_release(&b);
    if (!ok) {
        snprintf(why, whyn, "connection lost");
        return false;
    }
    acked(s, used);
    return true;
}

/* ---- OTLP/HTTP (JSON) ---- */

/* Nanoseconds since the epoch of "yyyy-mm-ddThh:mm:ss[.ffffff]Z", 0 when unreadable. */
static uint64_t time_ns(const char *t)
{
    struct tm tm = {0};
    unsigned us = 0;
    int frac = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &frac) != 6)
        return TIME_NS_INVALID;
    const char *p = t + frac;
    uint64_t ns = 0, scale = 100000000;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ns += (uint64_t)(*p - '0') * scale;
    (void)us;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    if (secs < 0)
        return TIME_NS_INVALID;
    return (uint64_t)secs * 1000000000ull + ns;
}

static void otlp_record(struct sink *s, struct gh_buf *b, const char *line, size_t len,
                        uint64_t now_ns, bool first)
{
    struct rec r;
    rec_read(s, line, len, &r);
    uint64_t t = r.time[0] ? time_ns(r.time) : 0;
    gh_buf_appendf(b,
                   "%s{\"timeUnixNano\":\"%" PRIu64 "\",\"observedTimeUnixNano\":\"%" PRIu64
                   "\",\"severityNumber\":%d,\"severityText\":\"%s\",\"body\":{\"stringValue\":",
                   first ? "" : ",", t ? t : now_ns, now_ns, r.notice ? 10 : 9,
                   r.notice ? "NOTICE" : "INFO");
    gh_json_write_str(b, line, len);
    gh_buf_puts(b, "},\"attributes\":[");
    bool any = false;
    if (r.type[0]) {
        gh_buf_appendf(b, "{\"key\":\"gatehouse.audit.type\",\"value\":{\"stringValue\":\"%s\"}}",
                       r.type);
        any = true;
    }
    if (r.seq[0])
        gh_buf_appendf(b, "%s{\"key\":\"gatehouse.audit.seq\",\"value\":{\"intValue\":\"%s\"}}",
                       any ? "," : "", r.seq);
    gh_buf_puts(b, "]");
    if (r.trace[0])
        gh_buf_appendf(b, ",\"traceId\":\"%s\",\"spanId\":\"%s\"", r.trace, r.span);
    gh_buf_puts(b, "}");
}

/* Reads the response head and drains the body; *status gets the code. false: the connection is
 * unusable (the batch is retried). *keep: the connection may carry the next request. */
static bool http_response(struct sink *s, int *status, bool *keep, uint64_t deadline)
{
    char head[RESP_HEAD_MAX + 1];
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n == RESP_HEAD_MAX)
            return false;
        ssize_t r = conn_read(&s->c, head + n, RESP_HEAD_MAX - n, deadline);
        if (r <= 0)
            return false;
        n += (size_t)r;
        head[n] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    int minor = 0;
    if (sscanf(head, "HTTP/1.%d %3d", &minor, status) != 2)
        return false;
    *keep = minor >= 1;
    long long clen = -1;
    for (char *h = strstr(head, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
        const char *v = h + 2;
        if (strncasecmp(v, "content-length:", 15) == 0)
            clen = strtoll(v + 15, NULL, 10);
        else if (strncasecmp(v, "connection:", 11) == 0 && strstr(v, "close") &&
                 strstr(v, "close") < strstr(v, "\r\n"))
            *keep = false;
    }
    if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200))
        clen = 0;
    if (clen < 0) {
        *keep = false; /* chunked or until close: the status is what counts; start afresh */
        return true;
    }
    size_t have = n - (size_t)(end + 4 - head);
    while ((long long)have < clen) {
        char sink[16384];
        ssize_t r = conn_read(&s->c, sink, sizeof(sink), deadline);
        if (r <= 0) {
            *keep = false;
            return true;
        }
        have += (size_t)r;
    }
    return true;
}

static bool otlp_send(struct sink *s, char *why, size_t whyn)
{
    size_t avail = complete_len(s);
    struct gh_buf body, req;
    gh_buf_init(&body, SIZE_MAX);
    gh_buf_init(&req, SIZE_MAX);
    bool ok = false;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    gh_buf_puts(&body, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service."
                       "name\",\"value\":{\"stringValue\":\"gatehouse\"}}]},\"scopeLogs\":[{"
                       "\"scope\":{\"name\":\"gatehouse.audit\"},\"logRecords\":[");
    size_t used = 0;
    for (uint32_t k = 0; k < s->batch && used < avail && body.len < OTLP_BODY_MAX; k++) {
        const char *line = gh_buf_rptr(&s->in) + used;
        const char *nl = memchr(line, '\n', avail - used);
        otlp_record(s, &body, line, (size_t)(nl - line), now_ns, k == 0);
        used += (size_t)(nl - line) + 1;
    }
    gh_buf_puts(&body, "]}]}]}");
    gh_buf_appendf(&req,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse\r\nContent-Type: "
                   "application/json\r\nContent-Length: %zu\r\n\r\n",
                   s->url_path, s->authority, body.len);
    gh_buf_append(&req, body.data, body.len);
    uint64_t deadline = io_deadline(s);
    int status = 0;
    bool keep = false;
    if (!conn_write(&s->c, req.data, req.len, deadline) ||
        !http_response(s, &status, &keep, deadline)) {
        snprintf(why, whyn, "request failed (connection lost or timed out)");
        conn_close(&s->c);
        goto out;
    }
    if (!keep)
        conn_close(&s->c);
    if (status < 200 || status > 299) {
        snprintf(why, whyn, "HTTP status %d", status);
        goto out;
    }
    acked(s, used);
    ok = true;
out:
    gh_buf_release(&body);
    gh_buf_release(&req);
    return ok;
}

/* ---- the sender thread ---- */

static void *sender(void *arg)
{
    struct sink *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE); /* OpenSSL writes with write(2): a dead peer must not kill us */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    source_open(s);
    uint64_t backoff = BACKOFF_MIN_MS;
    char why[256];
    while (!expired(s)) {
        source_fill(s);
        if (!complete_len(s)) {
            if (source_next(s))
                continue;
            if (stopping(s))
                break; /* everything on disk is sent */
            nap(s, IDLE_MS);
            continue;
        }
        if (s->c.fd >= 0 && s->type == SINK_OTLP && conn_gone(&s->c))
            conn_close(&s->c); /* an idle keep-alive closed by the server: not a failure */
        bool ok = s->c.fd >= 0 || conn_open(s, why, sizeof(why));
        if (ok)
            ok = s->type == SINK_SYSLOG ? syslog_send(s, why, sizeof(why))
                                        : otlp_send(s, why, sizeof(why));
        if (ok) {
            state_set(s, STATE_UP, NULL);
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        conn_close(&s->c);
        state_set(s, STATE_DOWN, why);
        if (stopping(s))
            break;
        nap(s, backoff);
        backoff = GH_MIN(backoff * 2, BACKOFF_MAX_MS);
    }
    if (complete_len(s))
        GH_LOGW("audit", "sink %s: stopped with records unsent; the next start sends them",
                s->name);
    conn_close(&s->c);
    source_close(s);
    return NULL;
}

/* ---- configuration ---- */

static bool name_ok(const char *t, size_t len, size_t max)
{
    if (!len || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_print((unsigned char)t[i]))
            return false;
    return true;
}

/* Splits "host:port", "[v6]:port" into host and port, resolving host now (at load). */
static enum gh_rc resolve(struct sink *s, const struct gh_config_node *v, const char *hostport,
                          const char *default_port, struct gh_config_error *err)
{
    char host[256], port[16];
    const char *colon;
    if (hostport[0] == '[') {
        const char *rb = strchr(hostport, ']');
        if (!rb || (size_t)(rb - hostport - 1) >= sizeof(host))
            return gh_config_node_error(err, v, "expected host:port, [IPv6]:port or a name:port");
        snprintf(host, sizeof(host), "%.*s", (int)(rb - hostport - 1), hostport + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] && rb[1] != ':')
            return gh_config_node_error(err, v, "expected host:port, [IPv6]:port or a name:port");
    } else {
        colon = strrchr(hostport, ':');
        size_t hl = colon ? (size_t)(colon - hostport) : strlen(hostport);
        if (!hl || hl >= sizeof(host) || memchr(hostport, ':', hl))
            return gh_config_node_error(err, v, "expected host:port, [IPv6]:port or a name:port");
        snprintf(host, sizeof(host), "%.*s", (int)hl, hostport);
    }
    if (colon) {
        char *end = NULL;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || p == 0 || p > 65535)
            return gh_config_node_error(err, v, "expected a port number 1..65535");
        snprintf(port, sizeof(port), "%lu", p);
    } else if (default_port) {
        snprintf(port, sizeof(port), "%s", default_port);
    } else {
        return gh_config_node_error(err, v, "expected host:port (the port is required)");
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        return gh_config_node_error(err, v, "the host name does not resolve");
    memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
    s->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    s->host = gh_xstrdup(host);
    bool v6 = strchr(host, ':') != NULL;
    if (asprintf(&s->authority, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
        gh_bug(__FILE__, __LINE__, "asprintf");
    return GH_OK;
}

static enum gh_rc tls_setup(struct sink *s, const struct gh_config_node *ca,
                            struct gh_config_error *err)
{
    s->tls = SSL_CTX_new(TLS_client_method());
    if (!s->tls)
        gh_bug(__FILE__, __LINE__, "SSL_CTX_new");
    SSL_CTX_set_min_proto_version(s->tls, TLS1_2_VERSION);
    SSL_CTX_set_verify(s->tls, SSL_VERIFY_PEER, NULL);
    if (ca) {
        if (ca->kind != CFG_SCALAR || strncmp(ca->text, "file:", 5) != 0 || !ca->text[5])
            return gh_config_node_error(err, ca, "expected file:PATH of a PEM CA bundle");
        if (SSL_CTX_load_verify_locations(s->tls, ca->text + 5, NULL) != 1)
            return gh_config_node_error(err, ca, "the CA file cannot be read as PEM");
    } else if (SSL_CTX_set_default_verify_paths(s->tls) != 1) {
        return gh_config_node_error(err, ca, "the system CA store cannot be loaded");
    }
    return GH_OK;
}

static bool scalar(const struct gh_config_node *v)
{
    return v->kind == CFG_SCALAR && v->len && !memchr(v->text, '\0', v->len);
}

static enum gh_rc syslog_compile(struct sink *s, const struct gh_config_node *n,
                                 struct gh_config_error *err)
{
    const struct gh_config_node *addr = NULL, *tls = NULL, *ca = NULL;
    for (size_t i = 0; i < n->n; i++) {
        const struct gh_config_node *v = n->items[i];
        if (strcmp(v->key, "type") == 0)
            continue;
        if (strcmp(v->key, "address") == 0)
            addr = v;
        else if (strcmp(v->key, "tls") == 0)
            tls = v;
        else if (strcmp(v->key, "ca") == 0)
            ca = v;
        else if (strcmp(v->key, "app_name") == 0 || strcmp(v->key, "hostname") == 0) {
            bool app = v->key[0] == 'a';
            if (!scalar(v) || !name_ok(v->text, v->len, app ? 48 : 255))
                return gh_config_node_error(
                    err, v, "expected printable ASCII without spaces (at most %d bytes)",
                    app ? 48 : 255);
            *(app ? &s->app_name : &s->hostname) = gh_xstrdup(v->text);
        } else
            return gh_config_node_error(
                err, v, "unknown key (expected type, address, tls, ca, app_name, hostname)");
    }
    if (!addr)
        return gh_config_node_error(err, n, "a syslog sink needs address: host:port");
    if (!scalar(addr))
        return gh_config_node_error(err, addr, "expected host:port");
    enum gh_rc rc = resolve(s, addr, addr->text, NULL, err);
    if (rc)
        return rc;
    bool on = false;
    if (tls) {
        if (!scalar(tls) || (strcmp(tls->text, "true") != 0 && strcmp(tls->text, "false") != 0))
            return gh_config_node_error(err, tls, "expected true or false");
        on = tls->text[0] == 't';
    }
    if (ca && !on)
        return gh_config_node_error(err, ca, "ca is for tls: true");
    if (on && (rc = tls_setup(s, ca, err)))
        return rc;
    if (!s->app_name)
        s->app_name = gh_xstrdup("gatehouse");
    if (!s->hostname) {
        char h[256] = "";
        gethostname(h, sizeof(h) - 1);
        for (char *p = h; *p; p++)
            if (!is_print((unsigned char)*p))
                *p = '-';
        s->hostname = gh_xstrdup(h[0] ? h : "-");
    }
    return GH_OK;
}

static enum gh_rc otlp_compile(struct sink *s, const struct gh_config_node *n,
                               struct gh_config_error *err)
{
    const struct gh_config_node *url = NULL, *ca = NULL;
    s->batch = OTLP_BATCH_DEF;
    for (size_t i = 0; i < n->n; i++) {
        const struct gh_config_node *v = n->items[i];
        if (strcmp(v->key, "type") == 0)
            continue;
        if (strcmp(v->key, "url") == 0) {
            url = v;
        } else if (strcmp(v->key, "ca") == 0) {
            ca = v;
        } else if (strcmp(v->key, "batch") == 0) {
            char *end = NULL;
            unsigned long x = scalar(v) ? strtoul(v->text, &end, 10) : 0;
            if (!end || *end || v->text[0] == '-' || x < 1 || x > OTLP_BATCH_MAX)
                return gh_config_node_error(err, v, "expected a whole number 1..%d",
                                            OTLP_BATCH_MAX);
            s->batch = (uint32_t)x;
        } else {
            return gh_config_node_error(err, v, "unknown key (expected type, url, batch, ca)");
        }
    }
    if (!url)
        return gh_config_node_error(err, n, "an otlp sink needs url: http://host:port/v1/logs");
    bool https = scalar(url) && strncmp(url->text, "https://", 8) == 0;
    if (!scalar(url) || (!https && strncmp(url->text, "http://", 7) != 0))
        return gh_config_node_error(err, url, "expected an http:// or https:// URL");
    const char *auth = url->text + (https ? 8 : 7);
    const char *slash = strchr(auth, '/');
    char hostport[300];
    size_t al = slash ? (size_t)(slash - auth) : strlen(auth);
    if (!al || al >= sizeof(hostport) || memchr(auth, '@', al) || memchr(auth, '?', al))
        return gh_config_node_error(err, url, "expected http://host:port/path");
    snprintf(hostport, sizeof(hostport), "%.*s", (int)al, auth);
    for (const char *p = slash ? slash : ""; *p; p++)
        if (!is_print((unsigned char)*p) || *p == '#')
            return gh_config_node_error(err, url, "the URL path has characters it cannot hold");
    enum gh_rc rc = resolve(s, url, hostport, https ? "443" : "80", err);
    if (rc)
        return rc;
    s->url_path = gh_xstrdup(slash ? slash : "/v1/logs");
    if (ca && !https)
        return gh_config_node_error(err, ca, "ca is for https:// URLs");
    if (https && (rc = tls_setup(s, ca, err)))
        return rc;
    return GH_OK;
}

static enum gh_rc sink_compile(struct gh_audit_sinks *set, size_t i, const struct gh_config_node *n,
                               struct gh_config_error *err)
{
    struct sink *s = &set->v[i];
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n, "expected a mapping (type: syslog or otlp, ...)");
    const struct gh_config_node *t = gh_config_node_get(n, "type");
    if (!t)
        return gh_config_node_error(err, n, "a sink needs type: syslog or otlp");
    enum gh_rc rc;
    if (scalar(t) && strcmp(t->text, "syslog") == 0) {
        s->type = SINK_SYSLOG;
        rc = syslog_compile(s, n, err);
    } else if (scalar(t) && strcmp(t->text, "otlp") == 0) {
        s->type = SINK_OTLP;
        rc = otlp_compile(s, n, err);
    } else {
        return gh_config_node_error(err, t, "expected syslog or otlp");
    }
    if (rc)
        return rc;
    snprintf(s->name, sizeof(s->name), "%s-%zu", s->type == SINK_SYSLOG ? "syslog" : "otlp", i);
    if (asprintf(&s->cursor_path, "%s.%s.cursor", set->path, s->name) < 0)
        gh_bug(__FILE__, __LINE__, "asprintf");
    return GH_OK;
}

static void sinks_free(struct gh_audit_sinks *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct sink *s = &set->v[i];
        SSL_CTX_free(s->tls);
        free(s->cursor_path);
        free(s->host);
        free(s->authority);
        free(s->app_name);
        free(s->hostname);
        free(s->url_path);
        gh_buf_release(&s->in);
        if (s->ar)
            gh_arena_free(s->ar);
    }
    free(set->v);
    free(set->path);
    free(set);
}

enum gh_rc gh_audit__sinks_compile(const struct gh_config_node *node, const char *path,
                                   struct gh_audit_sinks **out, struct gh_config_error *err)
{
    *out = NULL;
    if (node->kind != CFG_SEQ)
        return gh_config_node_error(err, node, "expected a sequence of sinks (type: syslog|otlp)");
    if (node->n > SINKS_MAX)
        return gh_config_node_error(err, node, "at most %d sinks", SINKS_MAX);
    struct gh_audit_sinks *set = gh_xcalloc(1, sizeof(*set));
    char cwd[4096];
    if (path[0] != '/' && getcwd(cwd, sizeof(cwd))) { /* the senders may outlive a chdir */
        if (asprintf(&set->path, "%s/%s", cwd, path) < 0)
            gh_bug(__FILE__, __LINE__, "asprintf");
    } else {
        set->path = gh_xstrdup(path);
    }
    set->n = node->n;
    set->v = gh_xcalloc(set->n ? set->n : 1, sizeof(*set->v));
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; i < set->n && !rc; i++)
        rc = sink_compile(set, i, node->items[i], err);
    if (rc) {
        sinks_free(set);
        return rc;
    }
    *out = set;
    return GH_OK;
}

void gh_audit__sinks_start(struct gh_audit_sinks *set)
{
    for (size_t i = 0; set && i < set->n; i++) {
        struct sink *s = &set->v[i];
        s->path = set->path;
        s->fd = -1;
        s->c.fd = -1;
        s->ar = gh_arena_new(16384);
        gh_buf_init(&s->in, LINE_MAX_BYTES + 2 * READ_CHUNK);
        snprintf(s->procid, sizeof(s->procid), "%ld", (long)getpid());
        pthread_mutex_init(&s->mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cv, &ca);
        pthread_condattr_destroy(&ca);
        if (pthread_create(&s->thread, NULL, sender, s) != 0)
            gh_bug(__FILE__, __LINE__, "audit sink thread");
        s->running = true;
    }
}

void gh_audit__sinks_stop(struct gh_audit_sinks *set)
{
    if (!set)
        return;
    uint64_t deadline = gh_clock_ms() + STOP_GRACE_MS;
    for (size_t i = 0; i < set->n; i++) {
        struct sink *s = &set->v[i];
        if (!s->running)
            continue;
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        s->deadline_ms = deadline;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    for (size_t i = 0; i < set->n; i++) {
        struct sink *s = &set->v[i];
        if (!s->running)
            continue;
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    sinks_free(set);
}
