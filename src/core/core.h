/*
 * core: the vocabulary every other module speaks — return codes, slices, request arenas, capped
 * buffers, the operational log, randomness, base64url and SHA-256, clocks.
 *
 * Rules the rest of the tree relies on:
 *  - a failed allocation aborts the process (gh_xmalloc and friends never return NULL);
 *  - every growing buffer has a cap, and hitting it is the ordinary error GH_E_LIMIT;
 *  - an arena owns everything derived from one request; gh_arena_free() releases it once.
 */
#ifndef GH_CORE_H
#define GH_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/** One return-code vocabulary for the whole tree (nginx's, used curl's way: rc = f(); if (rc) goto
 * out;). */
enum gh_rc {
    GH_OK = 0,
    GH_E_NOMEM = -1,    /* only for APIs that must report it; allocation failure normally aborts */
    GH_E_AGAIN = -2,    /* not enough input yet / would block */
    GH_E_DECLINED = -3, /* not handled here; the caller decides */
    GH_E_PARSE = -4,    /* malformed input */
    GH_E_LIMIT = -5,    /* a configured cap was hit */
    GH_E_IO = -6,       /* a system call failed */
    GH_E_TIMEOUT = -7,
    GH_E_UPSTREAM = -8, /* the upstream misbehaved or went away */
    GH_E_CLOSED = -9,   /* peer closed */
    GH_E_INTERNAL = -10,
};

/** Security verdicts: the zero value denies, so zeroed state fails closed. */
enum gh_verdict {
    GH_DENY = 0,
    GH_ALLOW = 1,
};

const char *gh_rc_str(enum gh_rc rc);

#define GH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GH_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define GH_MAX(a, b)    ((a) > (b) ? (a) : (b))

/** Invariant checks that stay on in release builds (haproxy's BUG_ON). */
#define GH_BUG_ON(cond)                                                                            \
    do {                                                                                           \
        if (cond)                                                                                  \
            gh_bug(__FILE__, __LINE__, #cond);                                                     \
    } while (0)
_Noreturn void gh_bug(const char *file, int line, const char *what);

/* ---- allocation: abort on failure ---- */
void *gh_xmalloc(size_t n);
void *gh_xcalloc(size_t nmemb, size_t n);
void *gh_xrealloc(void *p, size_t n);
char *gh_xstrdup(const char *s);
char *gh_xstrndup(const char *s, size_t n);
/** Frees *pp and sets it to NULL, so no reachable pointer dangles. */
#define gh_free(pp)                                                                                \
    do {                                                                                           \
        free(*(pp));                                                                               \
        *(pp) = NULL;                                                                              \
    } while (0)

/* ---- slices: (base, len), never NUL-terminated by contract ---- */
struct gh_slice {
    const char *ptr; /* first byte; may be NULL when len is 0 */
    size_t len;      /* number of bytes */
};
#define GH_SLICE_LIT(s) ((struct gh_slice){(s), sizeof(s) - 1})
static inline struct gh_slice gh_slice(const char *p, size_t n)
{
    return (struct gh_slice){p, n};
}
static inline struct gh_slice gh_slice_cstr(const char *s)
{
    return (struct gh_slice){s, s ? strlen(s) : 0};
}
bool gh_slice_eq(struct gh_slice a, struct gh_slice b);
bool gh_slice_eq_cstr(struct gh_slice a, const char *s);
/** ASCII case-insensitive comparison (HTTP header names and tokens). */
bool gh_slice_caseeq_cstr(struct gh_slice a, const char *s);
struct gh_slice gh_slice_trim(struct gh_slice s);

/* ---- arenas: one per request (and per connection, per config generation) ---- */
struct gh_arena;
/** Creates an arena whose chunks are chunk_size bytes (larger allocations get their own chunk). */
struct gh_arena *gh_arena_new(size_t chunk_size);
/** Runs the deferred cleanups (last registered first), then releases every allocation. */
void gh_arena_free(struct gh_arena *a);
/** Releases everything but keeps the first chunk for reuse (connection keep-alive). */
void gh_arena_reset(struct gh_arena *a);
void *gh_arena_alloc(struct gh_arena *a, size_t n); /* 16-byte aligned, never NULL */
void *gh_arena_calloc(struct gh_arena *a, size_t n);
char *gh_arena_strndup(struct gh_arena *a, const char *s, size_t n);
char *gh_arena_sprintf(struct gh_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Registers fn(arg) to run when the arena is freed or reset (nginx's pool cleanup). */
void gh_arena_defer(struct gh_arena *a, void (*fn)(void *), void *arg);
/** Bytes handed out since creation or the last reset (for limits and tests). */
size_t gh_arena_used(const struct gh_arena *a);

/* ---- capped growable buffers ---- */
struct gh_buf {
    char *data;  /* owned; may be NULL while empty */
    size_t len;  /* bytes in use */
    size_t cap;  /* bytes allocated */
    size_t max;  /* hard cap: growing past it is GH_E_LIMIT; must be set */
    size_t head; /* bytes consumed from the front (gh_buf_consume) */
};
void gh_buf_init(struct gh_buf *b, size_t max);
void gh_buf_release(struct gh_buf *b);
enum gh_rc gh_buf_append(struct gh_buf *b, const void *p, size_t n);
enum gh_rc gh_buf_appendf(struct gh_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Appends a NUL-terminated string (no formatting: the hot path avoids printf). */
static inline enum gh_rc gh_buf_puts(struct gh_buf *b, const char *s)
{
    return gh_buf_append(b, s, strlen(s));
}
/** Appends v percent-encoded for application/x-www-form-urlencoded (RFC 3986 unreserved kept). */
enum gh_rc gh_buf_put_form(struct gh_buf *b, struct gh_slice v);
/** Appends an unsigned number in decimal (base 10) or lower-case hex (base 16). */
enum gh_rc gh_buf_putu(struct gh_buf *b, uint64_t v, unsigned base);
/** Makes room for n more bytes and returns where to write them (commit with gh_buf_commit). */
enum gh_rc gh_buf_reserve(struct gh_buf *b, size_t n, char **out);
void gh_buf_commit(struct gh_buf *b, size_t n);
/** Unconsumed bytes. */
static inline const char *gh_buf_rptr(const struct gh_buf *b)
{
    return b->data + b->head;
}
static inline size_t gh_buf_rlen(const struct gh_buf *b)
{
    return b->len - b->head;
}
/** Drops n bytes from the front; compacts lazily so reused buffers do not creep. */
void gh_buf_consume(struct gh_buf *b, size_t n);
void gh_buf_clear(struct gh_buf *b);

/* ---- operational log: one line per event, levels, never secrets ---- */
enum gh_log_level {
    GH_LOG_ERROR = 0,
    GH_LOG_WARN = 1,
    GH_LOG_INFO = 2,
    GH_LOG_DEBUG = 3,
};
void gh_log_set_level(enum gh_log_level lvl);
enum gh_log_level gh_log_get_level(void);
/** Parses "error|warn|info|debug"; returns GH_E_PARSE on anything else. */
enum gh_rc gh_log_level_parse(const char *s, enum gh_log_level *out);
void gh_log(enum gh_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/**
 * Logs whatever the configured level: for the few events an operator must never miss, such
 * as serving without authentication (a log_level of error must not silence that warning).
 */
void gh_log_always(enum gh_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define GH_LOGE(mod, ...) gh_log(GH_LOG_ERROR, mod, __VA_ARGS__)
#define GH_LOGW(mod, ...) gh_log(GH_LOG_WARN, mod, __VA_ARGS__)
#define GH_LOGI(mod, ...) gh_log(GH_LOG_INFO, mod, __VA_ARGS__)
#define GH_LOGD(mod, ...)                                                                          \
    do {                                                                                           \
        if (gh_log_get_level() >= GH_LOG_DEBUG)                                                    \
            gh_log(GH_LOG_DEBUG, mod, __VA_ARGS__);                                                \
    } while (0)

/* ---- randomness, encodings, hashes, clocks ---- */
/** Fills buf with n bytes from the CSPRNG (OpenSSL RAND_bytes, drawn per thread in blocks and
 *  each byte handed out once); aborts if it cannot. */
void gh_random_bytes(void *buf, size_t n);
/** base64url without padding. out must hold gh_b64url_enclen(n)+1 bytes; returns the length. */
size_t gh_b64url_encode(const void *in, size_t n, char *out);
static inline size_t gh_b64url_enclen(size_t n)
{
    return (n * 4 + 2) / 3;
}
/** Decodes unpadded base64url; rejects padding, other alphabets and non-canonical tails. */
enum gh_rc gh_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap,
                            size_t *outlen);
/** Decodes standard base64 with its padding (RFC 4648 §4); strict: no whitespace, canonical. */
enum gh_rc gh_b64_decode(const char *in, size_t n, unsigned char *out, size_t outcap,
                         size_t *outlen);
void gh_sha256(const void *p, size_t n, unsigned char out[32]);
/** SHA-256 over bytes that arrive in pieces; final (or free) releases the stream. */
struct gh_sha256_stream;
struct gh_sha256_stream *gh_sha256_stream_new(void);
void gh_sha256_stream_update(struct gh_sha256_stream *s, const void *p, size_t n);
void gh_sha256_stream_final(struct gh_sha256_stream *s, unsigned char out[32]);
void gh_sha256_stream_free(struct gh_sha256_stream *s);
/**
 * SipHash-2-4 with a 128-bit output under a 16-byte secret key: a keyed PRF several times
 * cheaper than SHA-256, for hash-table keys an attacker must not be able to collide on purpose.
 */
void gh_siphash128(const unsigned char key[16], const void *p, size_t n, unsigned char out[16]);
void gh_hex_encode(const unsigned char *p, size_t n, char *out); /* out: 2n+1 bytes */
/** The value of one hex digit (either case), or -1. */
int gh_hex_digit(int c);
/** Monotonic milliseconds and microseconds; wall-clock seconds and milliseconds. */
uint64_t gh_clock_ms(void);
uint64_t gh_clock_us(void);
int64_t gh_clock_wall_s(void);
int64_t gh_clock_wall_ms(void);

/* ---- metrics (metrics.c): counters and latency histograms for /metrics ---- */

enum gh_metric {
    GH_METRIC_REQUESTS = 0,    /* JSON-RPC POSTs that reached authorization */
    GH_METRIC_DECISIONS_ALLOW, /* per message */
    GH_METRIC_DECISIONS_DENY,
    GH_METRIC_AUTH_FAIL_400, /* malformed authorization */
    GH_METRIC_AUTH_FAIL_401, /* missing or invalid token */
    GH_METRIC_AUTH_FAIL_403, /* insufficient scope */
    GH_METRIC_AUTH_FAIL_503, /* the token could not be checked */
    GH_METRIC_LIMITED,       /* refused by a policy limit (429) */
    GH_METRIC_AUDIT_RECORDS, /* records queued for the trail */
    GH_METRIC_AUDIT_REFUSED, /* records the full queue refused */
    GH_METRIC__COUNT,
};
#define GH_METRIC_BUCKETS   14
#define GH_METRIC_UPSTREAMS 256

void gh_metric_add(enum gh_metric m, uint64_t n);
uint64_t gh_metric_get(enum gh_metric m);
/** Records one request's duration for the upstream at config index upstream. */
void gh_metric_latency(size_t upstream, uint64_t us);
struct gh_metric_histogram {
    double le[GH_METRIC_BUCKETS];
    uint64_t cumulative[GH_METRIC_BUCKETS];
    uint64_t count;
    double sum_s;
};
/** False when nothing was recorded for that upstream yet. */
bool gh_metric_latency_get(size_t upstream, struct gh_metric_histogram *out);

#endif
