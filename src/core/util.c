/*
 * core/util.c owns the small shared helpers: return-code names, aborting allocators, slices,
 * randomness, base64url, SHA-256, hex and clocks.
 */
#include "core/core.h"

#include <execinfo.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *gh_rc_str(enum gh_rc rc)
{
    switch (rc) {
    case GH_OK:
        return "ok";
    case GH_E_NOMEM:
        return "out of memory";
    case GH_E_AGAIN:
        return "again";
    case GH_E_DECLINED:
        return "declined";
    case GH_E_PARSE:
        return "parse error";
    case GH_E_LIMIT:
        return "limit exceeded";
    case GH_E_IO:
        return "i/o error";
    case GH_E_TIMEOUT:
        return "timeout";
    case GH_E_UPSTREAM:
        return "upstream error";
    case GH_E_CLOSED:
        return "closed";
    case GH_E_INTERNAL:
        return "internal error";
    }
    return "unknown";
}

void gh_bug(const char *file, int line, const char *what)
{
    void *frames[32];
    fprintf(stderr, "BUG at %s:%d: %s\n", file, line, what);
    int n = backtrace(frames, 32);
    backtrace_symbols_fd(frames, n, 2);
    abort();
}

static void oom(void)
{
    fputs("fatal: out of memory\n", stderr);
    abort();
}

void *gh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *gh_xcalloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *gh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *gh_xstrdup(const char *s)
{
    return gh_xstrndup(s, strlen(s));
}

char *gh_xstrndup(const char *s, size_t n)
{
    char *p = gh_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

bool gh_slice_eq(struct gh_slice a, struct gh_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool gh_slice_eq_cstr(struct gh_slice a, const char *s)
{
    return gh_slice_eq(a, gh_slice_cstr(s));
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool gh_slice_caseeq_cstr(struct gh_slice a, const char *s)
{
    /* header lookups call this for every field they pass: most differ in the first byte */
    if (a.len && lower((unsigned char)a.ptr[0]) != lower((unsigned char)s[0]))
        return false;
    size_t n = strlen(s);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)s[i]))
            return false;
    return true;
}

struct gh_slice gh_slice_trim(struct gh_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static void random_fill(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        fputs("fatal: CSPRNG failure\n", stderr);
        abort();
    }
}

/*
 * RAND_bytes costs about 6,700 instructions a call whatever the size (the DRBG's lock and its
 * parameter plumbing), and a proxied request asks for 8 to 24 bytes two or three times: under
 * callgrind that was a quarter of the pass-through hop. So each thread draws RANDOM_POOL bytes
 * at once and hands each byte out once, wiping it as it goes (a later memory disclosure finds
 * no id already issued). A forked child drops its copy (pthread_atfork): parent and child never
 * hand out the same bytes. Large requests (keys) go straight to the DRBG.
 */
#define RANDOM_POOL 1024
static _Thread_local unsigned char random_pool[RANDOM_POOL];
static _Thread_local size_t random_used = RANDOM_POOL; /* bytes of the pool already handed out */
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_forget(void)
{
    OPENSSL_cleanse(random_pool, sizeof(random_pool));
    random_used = RANDOM_POOL;
}

static void random_once_init(void)
{
    pthread_atfork(NULL, NULL, random_forget);
}

void gh_random_bytes(void *buf, size_t n)
{
    if (n > RANDOM_POOL / 8) {
        random_fill(buf, n);
        return;
    }
    if (RANDOM_POOL - random_used < n) {
        pthread_once(&random_once, random_once_init);
        random_fill(random_pool, RANDOM_POOL);
        random_used = 0;
    }
    memcpy(buf, random_pool + random_used, n);
    memset(random_pool + random_used, 0, n);
    random_used += n;
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t gh_b64url_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
        out[o++] = B64URL[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = B64URL[v >> 18 & 63];
        out[o++] = B64URL[v >> 12 & 63];
        out[o++] = B64URL[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

enum gh_rc gh_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap,
                            size_t *outlen)
{
    if (n % 4 == 1)
        return GH_E_PARSE;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap)
        return GH_E_LIMIT;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return GH_E_PARSE;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* leftover bits must be zero: otherwise two encodings decode to the same bytes */
    if (bits && (acc & ((1u << bits) - 1)))
        return GH_E_PARSE;
    *outlen = o;
    return GH_OK;
}

enum gh_rc gh_b64_decode(const char *in, size_t n, unsigned char *out, size_t outcap,
                         size_t *outlen)
{
    if (n % 4 != 0)
        return GH_E_PARSE;
    size_t pad = 0;
    while (pad < 2 && n > pad && in[n - 1 - pad] == '=')
        pad++;
    char tmp[4];
    size_t o = 0, body = n - pad;
    for (size_t i = 0; i < n; i += 4) {
        for (int k = 0; k < 4; k++) {
            char c = in[i + (size_t)k];
            if (i + (size_t)k >= body)
                c = 'A'; /* padding decodes as zero bits, checked below */
            else if (c == '+')
                c = '-';
            else if (c == '/')
                c = '_';
            else if (c == '-' || c == '_' || c == '=')
                return GH_E_PARSE;
            tmp[k] = c;
        }
        size_t got;
        unsigned char blk[3];
        if (gh_b64url_decode(tmp, 4, blk, sizeof(blk), &got) != GH_OK)
            return GH_E_PARSE;
        size_t keep = i + 4 == n ? 3 - pad : 3;
        /* the bits under the padding must be zero, or two inputs decode alike */
        if (i + 4 == n && ((pad == 1 && blk[2]) || (pad == 2 && (blk[1] || blk[2]))))
            return GH_E_PARSE;
        if (o + keep > outcap)
            return GH_E_LIMIT;
        memcpy(out + o, blk, keep);
        o += keep;
    }
    *outlen = o;
    return GH_OK;
}

void gh_sha256(const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
        gh_bug(__FILE__, __LINE__, "EVP_Digest(sha256) failed");
}

struct gh_sha256_stream *gh_sha256_stream_new(void)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m || EVP_DigestInit_ex(m, EVP_sha256(), NULL) != 1)
        gh_bug(__FILE__, __LINE__, "EVP_DigestInit(sha256) failed");
    return (struct gh_sha256_stream *)m;
}

void gh_sha256_stream_update(struct gh_sha256_stream *s, const void *p, size_t n)
{
    if (n && EVP_DigestUpdate((EVP_MD_CTX *)s, p, n) != 1)
        gh_bug(__FILE__, __LINE__, "EVP_DigestUpdate(sha256) failed");
}

void gh_sha256_stream_final(struct gh_sha256_stream *s, unsigned char out[32])
{
    unsigned int len = 32;
    if (EVP_DigestFinal_ex((EVP_MD_CTX *)s, out, &len) != 1)
        gh_bug(__FILE__, __LINE__, "EVP_DigestFinal(sha256) failed");
    EVP_MD_CTX_free((EVP_MD_CTX *)s);
}

void gh_sha256_stream_free(struct gh_sha256_stream *s)
{
    EVP_MD_CTX_free((EVP_MD_CTX *)s);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* x86-64 and arm64 are little-endian; one load, not eight */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* SipHash-2-4, 128-bit output (the reference algorithm of Aumasson and Bernstein). */
void gh_siphash128(const unsigned char key[16], const void *data, size_t n, unsigned char out[16])
{
    const unsigned char *in = data;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    v1 ^= 0xee;
    size_t whole = n & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)n << 56;
    for (size_t i = 0; i < (n & 7); i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xee;
    for (int i = 0; i < 4; i++)
        SIPROUND;
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(h >> (8 * i));
    v1 ^= 0xdd;
    for (int i = 0; i < 4; i++)
        SIPROUND;
    h = v0 ^ v1 ^ v2 ^ v3;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (unsigned char)(h >> (8 * i));
}

void gh_hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

uint64_t gh_clock_ms(void)
{
    return gh_clock_us() / 1000;
}

uint64_t gh_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int gh_hex_digit(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int64_t gh_clock_wall_s(void)
{
    return (int64_t)time(NULL);
}

int64_t gh_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
