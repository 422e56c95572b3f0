/*
 * core/buf.c owns capped growable buffers. Every buffer carries a hard cap (curl's "toobig"):
 * growing past it fails with GH_E_LIMIT and leaves the buffer as it was.
 */
#include "core/core.h"

#include <stdio.h>

void gh_buf_init(struct gh_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void gh_buf_release(struct gh_buf *b)
{
    free(b->data);
    size_t max = b->max;
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void gh_buf_clear(struct gh_buf *b)
{
    b->len = 0;
    b->head = 0;
}

static void compact(struct gh_buf *b)
{
    if (b->head == 0)
        return;
    memmove(b->data, b->data + b->head, b->len - b->head);
    b->len -= b->head;
    b->head = 0;
}

enum gh_rc gh_buf_reserve(struct gh_buf *b, size_t n, char **out)
{
    GH_BUG_ON(b->max == 0);
    if (b->cap - b->len < n && b->head > 0)
        compact(b);
    if (n > b->max || b->len - b->head > b->max - n)
        return GH_E_LIMIT;
    if (b->cap - b->len < n || !b->data) {
        size_t want = b->cap ? b->cap : 256;
        while (want - b->len < n)
            want *= 2;
        if (want > b->max + b->head)
            want = b->max + b->head;
        if (want < b->len + n)
            want = b->len + n;
        b->data = gh_xrealloc(b->data, want);
        b->cap = want;
    }
    *out = b->data + b->len;
    return GH_OK;
}

void gh_buf_commit(struct gh_buf *b, size_t n)
{
    GH_BUG_ON(b->len + n > b->cap);
    b->len += n;
}

enum gh_rc gh_buf_append(struct gh_buf *b, const void *p, size_t n)
{
    char *w;
    if (n == 0)
        return GH_OK;
    enum gh_rc rc = gh_buf_reserve(b, n, &w);
    if (rc)
        return rc;
    if (n)
        memcpy(w, p, n);
    b->len += n;
    return GH_OK;
}

enum gh_rc gh_buf_appendf(struct gh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return GH_E_INTERNAL;
    char *w;
    enum gh_rc rc = gh_buf_reserve(b, (size_t)n + 1, &w);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(w, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return GH_OK;
}

enum gh_rc gh_buf_putu(struct gh_buf *b, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        unsigned d = (unsigned)(v % base);
        tmp[--i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    return gh_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void gh_buf_consume(struct gh_buf *b, size_t n)
{
    GH_BUG_ON(n > b->len - b->head);
    b->head += n;
    if (b->head == b->len)
        b->head = b->len = 0;
}

enum gh_rc gh_buf_put_form(struct gh_buf *b, struct gh_slice v)
{
    static const char HEX[] = "0123456789ABCDEF";
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; i < v.len && rc == GH_OK; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = gh_buf_append(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            rc = gh_buf_append(b, e, 3);
        }
    }
    return rc;
}
