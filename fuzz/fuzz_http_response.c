/*
 * fuzz_http_response: the response head parser and the chunked decoder. Inputs starting with
 * "HTTP/" are response heads (the first byte after picks the request method); the bytes after an
 * accepted chunked head, or the whole input otherwise, go through the chunked decoder twice: in
 * one call sequence over the whole buffer and in small random splits. Both must agree on the
 * decoded bytes, the verdict and where the body ended.
 */
#include "core/core.h"
#include "http/http_parse.h"

static struct gh_http_response_head h;

struct run {
    uint64_t hash; /* FNV-1a of the decoded bytes */
    size_t nbytes; /* decoded bytes */
    size_t used;   /* input consumed */
    enum gh_rc rc;
    bool done;
};

static void decode(const char *in, size_t len, uint32_t seed, struct run *r)
{
    struct gh_http_chunked c;
    gh_http_chunked_init(&c, 64);
    *r = (struct run){.hash = 1469598103934665603ULL, .rc = GH_OK};
    size_t off = 0;
    while (off < len && !r->done) {
        size_t avail = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            avail = GH_MIN(avail, (size_t)(seed >> 16) % 7 + 1);
        }
        size_t used = 0;
        struct gh_slice d;
        r->rc = gh_http_chunked_step(&c, in + off, avail, &used, &d, &r->done);
        if (used > avail || (d.len && (d.ptr < in + off || d.ptr + d.len > in + off + used)))
            __builtin_trap();
        off += used;
        for (size_t i = 0; i < d.len; i++)
            r->hash = (r->hash ^ (unsigned char)d.ptr[i]) * 1099511628211ULL;
        r->nbytes += d.len;
        if (r->rc)
            break;
        if (used == 0 && !r->done && d.len == 0)
            __builtin_trap(); /* no progress on non-empty input */
    }
    r->used = off;
}

static void differential(const char *in, size_t len, uint32_t seed)
{
    struct run a, b;
    decode(in, len, 0, &a);
    decode(in, len, seed | 1, &b);
    if (a.hash != b.hash || a.nbytes != b.nbytes || a.rc != b.rc || a.done != b.done)
        __builtin_trap();
    if (a.rc == GH_OK && a.used != b.used)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint32_t seed = (uint32_t)size * 2654435761u;
    if (size < 6 || memcmp(buf, "HTTP/", 5) != 0) {
        differential(buf, size, seed);
        return 0;
    }
    enum gh_http_method m = (enum gh_http_method)(data[size - 1] % 8);
    struct gh_http_error err = {0, NULL};
    enum gh_rc rc = gh_http_response_parse(buf, size, size + 1, GH_HTTP_MAX_HEADERS, m, &h, &err);
    if (rc != GH_OK && rc != GH_E_AGAIN && (err.reason == NULL || err.status != 502))
        __builtin_trap();
    if (rc != GH_OK)
        return 0;
    if (h.head_len > size || h.status < 100 || h.status > 599 || h.nheaders > GH_HTTP_MAX_HEADERS)
        __builtin_trap();
    int framings = (int)h.no_body + (int)h.chunked + (int)h.close_delimited +
                   (int)(!h.no_body && h.has_content_length);
    if (framings != 1 || (h.close_delimited && h.keep_alive))
        __builtin_trap();
    for (size_t i = 0; i < h.nheaders; i++)
        if (h.headers[i].value.ptr + h.headers[i].value.len > buf + h.head_len)
            __builtin_trap();
    if (h.head_len > 1) {
        static struct gh_http_response_head h2;
        if (gh_http_response_parse(buf, h.head_len - 1, size + 1, GH_HTTP_MAX_HEADERS, m, &h2,
                                   &err) != GH_E_AGAIN)
            __builtin_trap();
    }
    if (h.chunked)
        differential(buf + h.head_len, size - h.head_len, seed);
    return 0;
}
