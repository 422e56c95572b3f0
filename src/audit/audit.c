/*
 * audit/audit.c owns the writer: the bounded queue workers hand records to, the thread that
 * gives each record its seq, time and the hash of the previous one, writes batches to the file
 * with one write() and, when a barrier asks, one fsync() (group commit), signs checkpoints,
 * rotates by size with the chain continuing, and picks the chain up again from an existing file
 * (a torn last line from a crash is moved aside with its file, never appended to).
 */
#include "core/core.h"
#include "audit/audit.h"
#include "audit/internal.h"
#include "json/json.h"
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TAIL_MAX          (4u << 20) /* a record line is never longer than this */
#define DEFAULT_MAX       (100ull << 20)
#define DEFAULT_CP        1000
#define DEV_PATH          "gatehouse-audit.jsonl"
#define CHECKPOINT_CTX    "gatehouse-audit-checkpoint:v1:"
#define WRITER_TICK_MS    5    /* buffered records are written at least this often */
#define WRITER_HIGH_WATER 4096 /* or as soon as this many wait */
#define COMMIT_DELAY_US   500  /* before-forward: a barrier waits this long for company */
#define COMMIT_DELAY_MAX  100000

struct item {
    struct item *next;
    char *type; /* NULL: a barrier */
    char *members;
    size_t len;
    gh_audit_durable_cb cb;
    void *arg;
    struct gh_net_worker *w;
};

struct gh_audit {
    char *path;
    int fd;
    uint64_t size, max_bytes;
    enum gh_audit_durability durability;
    uint64_t checkpoint_every, since_cp;
    EVP_PKEY *key; /* NULL: checkpoints carry "sig":null */
    char kid[44];
    char gateway[17];
    uint64_t seq;  /* of the last record written */
    char prev[65]; /* its hash */
    bool started;  /* audit.start written to the current file */
    bool continued;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head, *tail;
    size_t qlen;
    bool stop, failed;
    bool urgent;                  /* a barrier or a full-ish queue: the writer goes now */
    atomic_bool reopen;           /* SIGHUP: end the current file and open the path again */
    uint64_t max_age_s;           /* rotate files older than this (0: never) */
    uint64_t commit_delay_us;     /* before-forward: how long a barrier waits for company */
    uint64_t opened_ms;           /* when the current file was opened */
    struct gh_audit_sinks *sinks; /* remote sinks reading the file; NULL: none */
    const struct gh_config_node *sinks_node;
    _Atomic uint64_t written;
};

/* ---- lines ---- */

static void now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* Appends one record line (with its newline) to batch and advances the chain. */
static void line_add(struct gh_audit *a, struct gh_buf *batch, const char *type,
                     const char *members, size_t len)
{
    char t[32];
    now_iso(t);
    size_t start = batch->len;
    a->seq++;
    gh_buf_appendf(batch,
                   "{\"v\":1,\"seq\":%llu,\"time\":\"%s\",\"type\":\"%s\",\"prev\":\"%s\","
                   "\"gateway\":\"%s\"",
                   (unsigned long long)a->seq, t, type, a->prev, a->gateway);
    if (len) {
        gh_buf_append(batch, ",", 1);
        gh_buf_append(batch, members, len);
    }
    gh_buf_append(batch, "}", 1);
    unsigned char h[32];
    gh_sha256(batch->data + start, batch->len - start, h);
    gh_hex_encode(h, 32, a->prev);
    gh_buf_append(batch, "\n", 1);
    a->since_cp++;
}

static void checkpoint_add(struct gh_audit *a, struct gh_buf *batch)
{
    char msg[128], sig[128] = "null";
    int n = snprintf(msg, sizeof(msg), CHECKPOINT_CTX "%llu:%s", (unsigned long long)a->seq + 1,
                     a->prev);
    if (a->key) {
        unsigned char raw[64];
        size_t rl = sizeof(raw);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        GH_BUG_ON(!ctx);
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, a->key) == 1 &&
            EVP_DigestSign(ctx, raw, &rl, (const unsigned char *)msg, (size_t)n) == 1) {
            sig[0] = '"';
            size_t o = gh_b64url_encode(raw, rl, sig + 1);
            sig[1 + o] = '"';
            sig[2 + o] = '\0';
        }
        EVP_MD_CTX_free(ctx);
    }
    char members[512];
    int m = snprintf(members, sizeof(members),
                     "\"checkpoint\":{\"count\":%llu,\"head\":\"%s\",\"kid\":%s%s%s,\"sig\":%s}",
                     (unsigned long long)a->since_cp, a->prev, a->key ? "\"" : "",
                     a->key ? a->kid : "null", a->key ? "\"" : "", sig);
    line_add(a, batch, "audit.checkpoint", members, (size_t)m);
    a->since_cp = 0;
}

/* ---- the file ---- */

static bool write_all(struct gh_audit *a, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(a->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            GH_LOGE("audit", "%s: write failed: %s", a->path, strerror(errno));
            return false;
        }
        p += w;
        n -= (size_t)w;
        a->size += (uint64_t)w;
    }
    return true;
}

static bool file_open(struct gh_audit *a)
{
    a->fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        GH_LOGE("audit", "%s: cannot open: %s", a->path, strerror(errno));
        return false;
    }
    struct stat st;
    a->size = fstat(a->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    a->started = false;
    a->opened_ms = gh_clock_ms();
    return true;
}

/* Moves the current file aside as <path>.<UTC stamp>.<seq>. */
static void file_move_aside(struct gh_audit *a)
{
    char stamp[32], to[4096];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(to, sizeof(to), "%s.%s.%llu", a->path, stamp, (unsigned long long)a->seq);
    if (rename(a->path, to) != 0)
        GH_LOGE("audit", "%s: cannot rotate to %s: %s", a->path, to, strerror(errno));
    else
        GH_LOGI("audit", "rotated %s to %s", a->path, to);
}

/* Ends the current file with a signed checkpoint; move_aside renames it first (size or age
 * rotation), otherwise someone else already has (logrotate, then SIGHUP). */
static void rotate(struct gh_audit *a, bool move_aside)
{
    struct gh_buf cp;
    gh_buf_init(&cp, 4096);
    checkpoint_add(a, &cp);
    write_all(a, cp.data, cp.len);
    gh_buf_release(&cp);
    fsync(a->fd);
    close(a->fd);
    if (move_aside)
        file_move_aside(a);
    a->continued = true;
    if (!file_open(a))
        a->failed = true;
}

/* Reads the last complete line of the file: seq and hash of it continue the chain. A torn tail
 * (no final newline) moves the file aside. */
static void chain_resume(struct gh_audit *a)
{
    int fd = open(a->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t n = (size_t)GH_MIN((uint64_t)st.st_size, (uint64_t)TAIL_MAX);
    char *buf = gh_xmalloc(n + 1);
    ssize_t r = pread(fd, buf, n, st.st_size - (off_t)n);
    close(fd);
    if (r != (ssize_t)n) {
        free(buf);
        return;
    }
    bool torn = buf[n - 1] != '\n';
    size_t end = n;
    while (end > 0 && buf[end - 1] != '\n')
        end--; /* end: one past the last complete line's newline */
    if (end > 0) {
        size_t s = end - 1;
        while (s > 0 && buf[s - 1] != '\n')
            s--;
        unsigned char h[32];
        gh_sha256(buf + s, end - 1 - s, h);
        gh_hex_encode(h, 32, a->prev);
        buf[end - 1] = '\0';
        const char *q = strstr(buf + s, "\"seq\":");
        a->seq = q ? strtoull(q + 6, NULL, 10) : 0;
        a->continued = true;
    }
    free(buf);
    if (torn) {
        GH_LOGW("audit", "%s ends in a torn record (a crash): moved aside, chain continues",
                a->path);
        file_move_aside(a);
    }
}

/* ---- the writer thread ---- */

/* A durability answer on its way to the worker that asked. */
/* The durability answers of one batch for one worker: one post wakes it once for all of them
 * (group commit would be undone by a wake-up per request). */
struct done {
    bool ok;
    size_t n;
    struct {
        gh_audit_durable_cb cb;
        void *arg;
    } v[];
};

static void done_run(void *p)
{
    struct done *d = p;
    for (size_t i = 0; i < d->n; i++)
        d->v[i].cb(d->v[i].arg, d->ok);
    free(d);
}

/* Posts the barriers of list (in order) grouped by the worker that waits on them. */
static void post_done(struct item *list, bool ok)
{
    for (struct item *it = list; it; it = it->next) {
        if (it->type || !it->cb)
            continue;
        struct gh_net_worker *w = it->w;
        size_t n = 0;
        for (struct item *j = it; j; j = j->next)
            n += !j->type && j->cb && j->w == w;
        struct done *d = gh_xmalloc(sizeof(*d) + n * sizeof(d->v[0]));
        d->ok = ok;
        d->n = 0;
        for (struct item *j = it; j; j = j->next) {
            if (!j->type && j->cb && j->w == w) {
                d->v[d->n].cb = j->cb;
                d->v[d->n].arg = j->arg;
                d->n++;
                j->cb = NULL; /* posted */
            }
        }
        gh_net_worker_post(w, done_run, d);
    }
}

static void item_free(struct item *it)
{
    free(it); /* type and members live in the same block */
}

/* Writes one batch: records in order, checkpoints as due, one write; one fsync if a barrier
 * asked; then the barriers' callbacks. */
static void batch_write(struct gh_audit *a, struct item *list)
{
    struct gh_buf b;
    gh_buf_init(&b, SIZE_MAX);
    bool sync = false;
    uint64_t records = 0;
    if (!a->started) {
        char m[300];
        const char *base = strrchr(a->path, '/');
        int n = snprintf(m, sizeof(m),
                         "\"chain\":\"%s\",\"file\":", a->continued ? "continued" : "new");
        struct gh_buf tmp;
        gh_buf_init(&tmp, 512);
        gh_buf_append(&tmp, m, (size_t)n);
        gh_json_write_str(&tmp, base ? base + 1 : a->path, strlen(base ? base + 1 : a->path));
        line_add(a, &b, "audit.start", tmp.data, tmp.len);
        gh_buf_release(&tmp);
        a->started = true;
    }
    for (struct item *it = list; it; it = it->next) {
        if (!it->type) {
            sync = true;
            continue;
        }
        line_add(a, &b, it->type, it->members, it->len);
        records++;
        if (a->checkpoint_every && a->since_cp >= a->checkpoint_every)
            checkpoint_add(a, &b);
    }
    bool ok = !a->failed && write_all(a, b.data, b.len);
    if (ok && sync && fsync(a->fd) != 0) {
        GH_LOGE("audit", "%s: fsync failed: %s", a->path, strerror(errno));
        ok = false;
    }
    a->failed |= !ok;
    atomic_fetch_add(&a->written, records);
    gh_buf_release(&b);
    post_done(list, ok);
    for (struct item *it = list, *next; it; it = next) {
        next = it->next;
        item_free(it);
    }
    if (ok && a->max_bytes && a->size >= a->max_bytes)
        rotate(a, true);
    else if (ok && a->max_age_s && gh_clock_ms() - a->opened_ms >= a->max_age_s * 1000)
        rotate(a, true);
}

/* The writer wakes on a barrier, a stop, a full-ish queue or every WRITER_TICK_MS: records of a
 * busy gateway go out in batches (one write each), not one wake-up per record. */
static void *writer(void *arg)
{
    struct gh_audit *a = arg;
    for (;;) {
        if (atomic_exchange(&a->reopen, false) && a->started && !a->failed)
            rotate(a, false); /* the old file (renamed by logrotate) ends signed */
        pthread_mutex_lock(&a->mu);
        while (!a->stop && !a->urgent) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += WRITER_TICK_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&a->cv, &a->mu, &until) != 0 && a->head)
                break; /* the tick: write what has come */
        }
        if (a->urgent && !a->stop && a->durability == GH_AUDIT_BEFORE_FORWARD &&
            a->commit_delay_us) {
            /* group commit: let the other calls in flight join this fsync (commit delay) */
            pthread_mutex_unlock(&a->mu);
            usleep((useconds_t)a->commit_delay_us);
            pthread_mutex_lock(&a->mu);
        }
        a->urgent = false;
        struct item *list = a->head;
        bool stop = a->stop;
        a->head = a->tail = NULL;
        a->qlen = 0;
        pthread_mutex_unlock(&a->mu);
        if (list)
            batch_write(a, list);
        if (stop && !list)
            break;
    }
    return NULL;
}

/* Appends it; wakes the writer only when someone waits on it (a barrier) or the queue is
 * filling. cap: how full the queue may be for this record (0: no cap). */
static bool enqueue(struct gh_audit *a, struct item *it, size_t cap)
{
    pthread_mutex_lock(&a->mu);
    if (cap && a->qlen >= cap) {
        pthread_mutex_unlock(&a->mu);
        return false;
    }
    if (a->tail)
        a->tail->next = it;
    else
        a->head = it;
    a->tail = it;
    a->qlen++;
    if (!it->type || a->qlen == WRITER_HIGH_WATER) {
        a->urgent = true;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return true;
}

static enum gh_rc emit_capped(struct gh_audit *a, const char *type, const char *members, size_t len,
                              size_t cap)
{
    if (!a)
        return GH_OK;
    /* one allocation: the item, then its type and members */
    size_t tl = strlen(type);
    struct item *it = gh_xmalloc(sizeof(*it) + tl + 1 + len + 1);
    memset(it, 0, sizeof(*it));
    it->type = (char *)(it + 1);
    memcpy(it->type, type, tl + 1);
    it->members = it->type + tl + 1;
    if (len)
        memcpy(it->members, members, len);
    it->members[len] = '\0';
    it->len = len;
    if (!enqueue(a, it, cap)) {
        free(it);
        gh_metric_add(GH_METRIC_AUDIT_REFUSED, 1);
        GH_LOGE("audit", "queue full (%zu records): a %s record refused", cap, type);
        return GH_E_LIMIT;
    }
    gh_metric_add(GH_METRIC_AUDIT_RECORDS, 1);
    return GH_OK;
}

enum gh_rc gh_audit_emit(struct gh_audit *a, const char *type, const char *members, size_t len)
{
    return emit_capped(a, type, members, len, GH_AUDIT_QUEUE_MAX);
}

enum gh_rc gh_audit_emit_owed(struct gh_audit *a, const char *type, const char *members, size_t len)
{
    return emit_capped(a, type, members, len, 2 * (size_t)GH_AUDIT_QUEUE_MAX);
}

void gh_audit_barrier(struct gh_audit *a, gh_audit_durable_cb cb, void *arg)
{
    struct item *it = gh_xcalloc(1, sizeof(*it));
    it->cb = cb;
    it->arg = arg;
    it->w = gh_net_worker_current();
    GH_BUG_ON(!it->w);
    enqueue(a, it, 0);
}

void gh_audit_reopen(struct gh_audit *a)
{
    if (!a)
        return;
    atomic_store(&a->reopen, true);
    pthread_mutex_lock(&a->mu);
    a->urgent = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

uint64_t gh_audit_written(const struct gh_audit *a)
{
    return a ? atomic_load(&((struct gh_audit *)a)->written) : 0;
}

size_t gh_audit_queue_depth(const struct gh_audit *a)
{
    struct gh_audit *m = (struct gh_audit *)a;
    pthread_mutex_lock(&m->mu);
    size_t n = m->qlen;
    pthread_mutex_unlock(&m->mu);
    return n;
}

bool gh_audit_failed(const struct gh_audit *a)
{
    return a->failed; /* written by the writer only; a stale read shows the next scrape */
}

const char *gh_audit_path(const struct gh_audit *a)
{
    return a->path;
}

enum gh_audit_durability gh_audit_durability(const struct gh_audit *a)
{
    return a ? a->durability : GH_AUDIT_BUFFERED;
}

/* ---- keys ---- */

static void kid_of(EVP_PKEY *k, char out[44])
{
    unsigned char pub[32];
    size_t pl = sizeof(pub);
    char x[48], jwk[128];
    EVP_PKEY_get_raw_public_key(k, pub, &pl);
    size_t xn = gh_b64url_encode(pub, pl, x);
    x[xn] = '\0';
    int n = snprintf(jwk, sizeof(jwk), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    unsigned char h[32];
    gh_sha256(jwk, (size_t)n, h);
    size_t kn = gh_b64url_encode(h, 32, out);
    out[kn] = '\0';
}

static EVP_PKEY *key_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* dev: a key made next to the audit file on first use (0600), with its public half beside it. */
static EVP_PKEY *key_make(const char *path)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k)
        return NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) {
        if (f)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        EVP_PKEY_free(k);
        return NULL;
    }
    fclose(f);
    char pub[4300];
    snprintf(pub, sizeof(pub), "%s.pub", path);
    FILE *pf = fopen(pub, "w");
    if (pf) {
        PEM_write_PUBKEY(pf, k);
        fclose(pf);
    }
    return k;
}

/* ---- open and close ---- */

static enum gh_rc key_setup(struct gh_audit *a, const struct gh_config_node *kn, bool dev,
                            struct gh_config_error *err)
{
    const char *path = NULL;
    char devkey[4200];
    if (kn) {
        if (kn->kind != CFG_SCALAR || strncmp(kn->text, "file:", 5) != 0 || !kn->text[5])
            return gh_config_node_error(err, kn,
                                        "expected file:PATH of an Ed25519 private key (PEM)");
        path = kn->text + 5;
    } else if (dev) {
        snprintf(devkey, sizeof(devkey), "%s.key.pem", a->path);
        path = devkey;
    }
    if (!path) {
        GH_LOGW("audit",
                "no audit.key: checkpoints are not signed (the hash chain still is checked)");
        return GH_OK;
    }
    a->key = key_load(path);
    if (!a->key && !kn)
        a->key = key_make(path);
    for (int i = 0; !a->key && !kn && i < 20; i++) { /* another dev gateway is writing it */
        usleep(50 * 1000);
        a->key = key_load(path);
    }
    if (!a->key && !kn) {
        GH_LOGW("audit",
                "%s cannot be read or made: checkpoints signed with a key of this run only", path);
        a->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    if (!a->key)
        return gh_config_node_error(err, kn, "audit.key: %s is not a readable Ed25519 private key",
                                    path);
    kid_of(a->key, a->kid);
    return GH_OK;
}

static enum gh_rc section(struct gh_audit *a, const struct gh_config_node *n,
                          const struct gh_config_node **key, struct gh_config_error *err)
{
    for (size_t i = 0; n && i < n->n; i++) {
        const struct gh_config_node *v = n->items[i];
        if (strcmp(v->key, "durability") == 0) {
            if (v->kind != CFG_SCALAR ||
                (strcmp(v->text, "buffered") != 0 && strcmp(v->text, "before-forward") != 0))
                return gh_config_node_error(err, v, "expected buffered or before-forward");
            a->durability = v->text[0] == 'b' && v->text[1] == 'e' ? GH_AUDIT_BEFORE_FORWARD
                                                                   : GH_AUDIT_BUFFERED;
        } else if (strcmp(v->key, "path") == 0) {
            if (v->kind != CFG_SCALAR || !v->len || memchr(v->text, '\0', v->len))
                return gh_config_node_error(err, v, "expected a file path");
            free(a->path);
            a->path = gh_xstrdup(v->text);
        } else if (strcmp(v->key, "max_bytes") == 0 || strcmp(v->key, "checkpoint_every") == 0 ||
                   strcmp(v->key, "max_age_s") == 0 || strcmp(v->key, "commit_delay_us") == 0) {
            char *end = NULL;
            unsigned long long x = v->kind == CFG_SCALAR ? strtoull(v->text, &end, 10) : 0;
            if (!end || *end || !v->len || v->text[0] == '-' || x > (1ull << 40))
                return gh_config_node_error(err, v, "expected a whole number");
            if (strcmp(v->key, "max_bytes") == 0)
                a->max_bytes = x;
            else if (strcmp(v->key, "max_age_s") == 0)
                a->max_age_s = x;
            else if (strcmp(v->key, "commit_delay_us") != 0)
                a->checkpoint_every = x;
            else if (x > COMMIT_DELAY_MAX)
                return gh_config_node_error(err, v, "expected at most %d (microseconds)",
                                            COMMIT_DELAY_MAX);
            else
                a->commit_delay_us = x;
        } else if (strcmp(v->key, "key") == 0) {
            *key = v;
        } else if (strcmp(v->key, "sinks") == 0) {
            a->sinks_node = v; /* compiled once the path is known */
        } else {
            return gh_config_node_error(err, v,
                                        "unknown key (expected path, durability, max_bytes, "
                                        "max_age_s, checkpoint_every, commit_delay_us, key, "
                                        "sinks)");
        }
    }
    return GH_OK;
}

enum gh_rc gh_audit_open(const struct gh_config *cfg, const struct gh_config_node *node, bool dev,
                         struct gh_audit **out, struct gh_config_error *err)
{
    *out = NULL;
    if (cfg && cfg->source)
        snprintf(err->file, sizeof(err->file), "%s", cfg->source);
    if (!node && !dev)
        return GH_OK; /* no audit: section: no trail (logged by the caller) */
    if (node && node->kind != CFG_MAP)
        return gh_config_node_error(err, node, "expected a mapping (path, durability, ...)");
    struct gh_audit *a = gh_xcalloc(1, sizeof(*a));
    a->fd = -1;
    a->path = gh_xstrdup(DEV_PATH);
    a->max_bytes = DEFAULT_MAX;
    a->checkpoint_every = DEFAULT_CP;
    a->commit_delay_us = COMMIT_DELAY_US;
    memset(a->prev, '0', 64);
    const struct gh_config_node *kn = NULL;
    enum gh_rc rc = section(a, node, &kn, err);
    if (!rc && node && !gh_config_node_get(node, "path") && !dev)
        rc = gh_config_node_error(err, node, "audit needs a path");
    if (!rc)
        rc = key_setup(a, kn, dev, err);
    if (!rc && a->sinks_node)
        rc = gh_audit__sinks_compile(a->sinks_node, a->path, &a->sinks, err);
    if (rc) {
        EVP_PKEY_free(a->key);
        free(a->path);
        free(a);
        return rc;
    }
    if (a->path[0] != '/') { /* say where it is, whatever the working directory later */
        char cwd[4096], *abs = NULL;
        if (getcwd(cwd, sizeof(cwd)) && asprintf(&abs, "%s/%s", cwd, a->path) > 0) {
            free(a->path);
            a->path = abs;
        }
    }
    unsigned char r[8];
    gh_random_bytes(r, sizeof(r));
    gh_hex_encode(r, sizeof(r), a->gateway);
    chain_resume(a);
    if (!file_open(a)) {
        snprintf(err->msg, sizeof(err->msg), "audit file %s cannot be opened: %s", a->path,
                 strerror(errno));
        EVP_PKEY_free(a->key);
        free(a->path);
        free(a);
        return GH_E_IO;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, writer, a) != 0)
        gh_bug(__FILE__, __LINE__, "audit writer thread");
    gh_audit__sinks_start(a->sinks);
    *out = a;
    return GH_OK;
}

void gh_audit_close(struct gh_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    a->urgent = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    /* a clean shutdown leaves a signed end: everything before it is covered */
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    if (a->started && a->since_cp)
        checkpoint_add(a, &b);
    if (!a->failed && b.len)
        write_all(a, b.data, b.len);
    gh_buf_release(&b);
    fsync(a->fd);
    close(a->fd);
    gh_audit__sinks_stop(a->sinks); /* after the last record is on disk: they may send it */
    EVP_PKEY_free(a->key);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->path);
    free(a);
}
