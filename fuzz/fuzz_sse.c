/*
 * fuzz_sse: the event-stream parser must give the same events and verdict for any split of the
 * stream (checked against one whole feed), and the writer must round-trip: an event written from
 * fuzz-chosen fields parses back to the same fields (data line ends normalised to LF).
 */
#include "core/core.h"
#include "http/http_parse.h"

struct log {
    uint64_t hash;
    int count;
};

static void mix(struct log *l, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        l->hash = (l->hash ^ s[i]) * 1099511628211ULL;
    l->hash = (l->hash ^ 0xff) * 1099511628211ULL;
}

static enum gh_rc on_event(void *ctx, const struct gh_sse_event *ev)
{
    struct log *l = ctx;
    l->count++;
    mix(l, ev->id.ptr, ev->id.len);
    mix(l, ev->event.ptr, ev->event.len);
    mix(l, ev->data.ptr, ev->data.len);
    long flags[3] = {ev->retry, ev->has_id, ev->has_data};
    mix(l, flags, sizeof(flags));
    if (!ev->has_data && !ev->has_id && ev->retry < 0)
        __builtin_trap();
    return GH_OK;
}

static enum gh_rc run(const char *in, size_t len, size_t max, uint32_t seed, struct log *l)
{
    struct gh_sse_parser p;
    gh_sse_parser_init(&p, max);
    *l = (struct log){.hash = 1469598103934665603ULL};
    enum gh_rc rc = GH_OK;
    size_t off = 0;
    while (rc == GH_OK && off < len) {
        size_t n = len - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            n = GH_MIN(n, (size_t)(seed >> 16) % 9);
        }
        rc = gh_sse_parser_feed(&p, in + off, n, on_event, l);
        off += n;
    }
    gh_sse_parser_release(&p);
    return rc;
}

/* Captures the single event the writer's output must parse back to. */
struct one {
    int count;
    struct gh_buf id, event, data;
    long retry;
    bool has_id;
};

static enum gh_rc keep_one(void *ctx, const struct gh_sse_event *ev)
{
    struct one *o = ctx;
    o->count++;
    o->retry = ev->retry;
    o->has_id = ev->has_id;
    if ((ev->id.len && gh_buf_append(&o->id, ev->id.ptr, ev->id.len)) ||
        (ev->event.len && gh_buf_append(&o->event, ev->event.ptr, ev->event.len)) ||
        (ev->data.len && gh_buf_append(&o->data, ev->data.ptr, ev->data.len)))
        __builtin_trap();
    return GH_OK;
}

static bool same(const struct gh_buf *b, const char *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void roundtrip(const char *in, size_t len)
{
    size_t a = len / 3, b = len / 3;
    struct gh_slice id = gh_slice(in, a), ev = gh_slice(in + a, b),
                    d = gh_slice(in + a + b, len - a - b);
    long retry = len % 5 == 0 ? -1 : (long)len;
    struct gh_buf out;
    gh_buf_init(&out, 1 << 16);
    if (gh_sse_write_event(&out, id, ev, d, retry) != GH_OK)
        goto out;
    struct one o = {0};
    gh_buf_init(&o.id, 1 << 16);
    gh_buf_init(&o.event, 1 << 16);
    gh_buf_init(&o.data, 1 << 16);
    struct gh_sse_parser p;
    gh_sse_parser_init(&p, 1 << 16);
    if (gh_sse_parser_feed(&p, out.data, out.len, keep_one, &o) != GH_OK || o.count != 1)
        __builtin_trap();
    /* the data the reader should see: CRLF and CR become LF */
    char *norm = gh_xmalloc(d.len + 1);
    size_t k = 0;
    for (size_t i = 0; i < d.len; i++) {
        if (d.ptr[i] == '\r' && i + 1 < d.len && d.ptr[i + 1] == '\n')
            continue;
        norm[k++] = d.ptr[i] == '\r' ? '\n' : d.ptr[i];
    }
    if (!same(&o.id, id.ptr, id.len) || !same(&o.event, ev.ptr, ev.len) ||
        !same(&o.data, norm, k) || o.retry != retry || o.has_id != (id.len > 0))
        __builtin_trap();
    gh_free(&norm);
    gh_sse_parser_release(&p);
    gh_buf_release(&o.id);
    gh_buf_release(&o.event);
    gh_buf_release(&o.data);
out:
    gh_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t max = 8 + (size_t)data[0] * 4;
    struct log whole, split;
    enum gh_rc r1 = run(in, len, max, 0, &whole);
    enum gh_rc r2 = run(in, len, max, (uint32_t)size * 2654435761u | 1, &split);
    if (r1 != r2 || whole.count != split.count || whole.hash != split.hash)
        __builtin_trap();
    roundtrip(in, len);
    return 0;
}
