/*
 * http/sse.c owns text/event-stream: an incremental parser following the WHATWG "event stream
 * interpretation" rules (any split of the stream gives the same events) and the writer that puts
 * one event on the wire. Every buffer the parser grows is capped per event.
 */
#include "core/core.h"
#include "http/http_parse.h"

#include <stdio.h>

static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};

void gh_sse_parser_init(struct gh_sse_parser *p, size_t max_event_bytes)
{
    memset(p, 0, sizeof(*p));
    size_t max = max_event_bytes ? max_event_bytes : 1;
    gh_buf_init(&p->line, max);
    gh_buf_init(&p->data, max);
    gh_buf_init(&p->id, max);
    gh_buf_init(&p->event, max);
    p->max = max;
    p->retry = -1;
}

void gh_sse_parser_release(struct gh_sse_parser *p)
{
    gh_buf_release(&p->line);
    gh_buf_release(&p->data);
    gh_buf_release(&p->id);
    gh_buf_release(&p->event);
}

/* Bytes the event being built holds, with n more about to be added. */
static bool over_cap(const struct gh_sse_parser *p, size_t n)
{
    size_t used = p->line.len + p->data.len + p->id.len + p->event.len;
    return n > p->max || used > p->max - n;
}

static enum gh_rc set_buf(struct gh_sse_parser *p, struct gh_buf *b, struct gh_slice v)
{
    gh_buf_clear(b);
    if (over_cap(p, v.len))
        return GH_E_LIMIT;
    return v.len ? gh_buf_append(b, v.ptr, v.len) : GH_OK;
}

/* retry: ASCII digits only; longer than 9 digits is ignored rather than risking overflow. */
static void set_retry(struct gh_sse_parser *p, struct gh_slice v)
{
    if (v.len == 0 || v.len > 9)
        return;
    long n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return;
        n = n * 10 + (v.ptr[i] - '0');
    }
    p->retry = n;
}

static enum gh_rc field(struct gh_sse_parser *p, struct gh_slice name, struct gh_slice v)
{
    if (gh_slice_eq_cstr(name, "data")) {
        if (over_cap(p, v.len + 1))
            return GH_E_LIMIT;
        enum gh_rc rc = v.len ? gh_buf_append(&p->data, v.ptr, v.len) : GH_OK;
        return rc ? rc : gh_buf_append(&p->data, "\n", 1);
    }
    if (gh_slice_eq_cstr(name, "event"))
        return set_buf(p, &p->event, v);
    if (gh_slice_eq_cstr(name, "id")) {
        if (v.len && memchr(v.ptr, '\0', v.len))
            return GH_OK; /* WHATWG: an id holding NUL is ignored */
        p->has_id = true;
        return set_buf(p, &p->id, v);
    }
    if (gh_slice_eq_cstr(name, "retry"))
        set_retry(p, v);
    return GH_OK; /* unknown fields are ignored */
}

static void reset_event(struct gh_sse_parser *p)
{
    gh_buf_clear(&p->data);
    gh_buf_clear(&p->id);
    gh_buf_clear(&p->event);
    p->has_id = false;
    p->retry = -1;
}

static enum gh_rc dispatch(struct gh_sse_parser *p,
                           enum gh_rc (*on_event)(void *, const struct gh_sse_event *), void *ctx)
{
    if (p->data.len == 0 && !p->has_id && p->retry < 0) {
        reset_event(p);
        return GH_OK;
    }
    struct gh_sse_event ev = {
        .id = gh_slice(p->id.data, p->id.len),
        .event = gh_slice(p->event.data, p->event.len),
        .data = gh_slice(p->data.data, p->data.len ? p->data.len - 1 : 0),
        .retry = p->retry,
        .has_id = p->has_id,
        .has_data = p->data.len > 0,
    };
    enum gh_rc rc = on_event(ctx, &ev);
    reset_event(p);
    return rc;
}

static enum gh_rc do_line(struct gh_sse_parser *p, const char *s, size_t n,
                          enum gh_rc (*on_event)(void *, const struct gh_sse_event *), void *ctx)
{
    if (n == 0)
        return dispatch(p, on_event, ctx);
    if (s[0] == ':')
        return GH_OK; /* comment */
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return field(p, gh_slice(s, n), gh_slice(NULL, 0));
    struct gh_slice name = gh_slice(s, (size_t)(colon - s));
    const char *v = colon + 1, *end = s + n;
    if (v < end && *v == ' ')
        v++;
    return field(p, name, gh_slice(v, (size_t)(end - v)));
}

/* Matches the optional UTF-8 BOM at stream start; a partial match is replayed as data. */
static enum gh_rc strip_bom(struct gh_sse_parser *p, const char **in, size_t *len)
{
    while (p->bom < 3 && *len > 0) {
        if (**in != BOM[p->bom]) {
            size_t n = (size_t)p->bom;
            p->bom = 3;
            return n ? gh_buf_append(&p->line, BOM, n) : GH_OK;
        }
        p->bom++;
        (*in)++;
        (*len)--;
    }
    return GH_OK;
}

static size_t find_eol(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r')
            return i;
    return n;
}

enum gh_rc gh_sse_parser_feed(struct gh_sse_parser *p, const char *in, size_t len,
                              enum gh_rc (*on_event)(void *ctx, const struct gh_sse_event *ev),
                              void *ctx)
{
    enum gh_rc rc = strip_bom(p, &in, &len);
    size_t i = 0;
    while (rc == GH_OK && i < len) {
        if (p->skip_lf) {
            p->skip_lf = false;
            if (in[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t n = find_eol(in + i, len - i);
        if (over_cap(p, n))
            return GH_E_LIMIT;
        if (i + n == len)
            return n ? gh_buf_append(&p->line, in + i, n) : GH_OK;
        p->skip_lf = in[i + n] == '\r';
        if (p->line.len == 0) {
            rc = do_line(p, in + i, n, on_event, ctx);
        } else {
            rc = n ? gh_buf_append(&p->line, in + i, n) : GH_OK;
            /* emptied first so the cap does not count the line twice; the bytes stay put */
            const char *s = p->line.data;
            size_t ln = p->line.len;
            gh_buf_clear(&p->line);
            if (rc == GH_OK)
                rc = do_line(p, s, ln, on_event, ctx);
        }
        i += n + 1;
    }
    return rc;
}

static bool has_eol_or_nul(struct gh_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '\r' || s.ptr[i] == '\n' || s.ptr[i] == '\0')
            return true;
    return false;
}

static enum gh_rc put_field(struct gh_buf *out, const char *name, struct gh_slice v)
{
    enum gh_rc rc = gh_buf_append(out, name, strlen(name));
    if (rc == GH_OK && v.len)
        rc = gh_buf_append(out, ": ", 2);
    if (rc == GH_OK && v.len)
        rc = gh_buf_append(out, v.ptr, v.len);
    return rc ? rc : gh_buf_append(out, "\n", 1);
}

/* One "data:" line per line of data; CR, LF and CRLF all end a line on the reading side. */
static enum gh_rc put_data(struct gh_buf *out, struct gh_slice d)
{
    size_t i = 0;
    if (d.len == 0)
        return put_field(out, "data", d);
    for (;;) {
        size_t n = find_eol(d.ptr + i, d.len - i);
        enum gh_rc rc = put_field(out, "data", gh_slice(d.ptr + i, n));
        if (rc)
            return rc;
        i += n;
        if (i == d.len)
            return GH_OK;
        i += (d.ptr[i] == '\r' && i + 1 < d.len && d.ptr[i + 1] == '\n') ? 2 : 1;
    }
}

enum gh_rc gh_sse_write_event(struct gh_buf *out, struct gh_slice id, struct gh_slice event,
                              struct gh_slice data, long retry)
{
    if (has_eol_or_nul(id) || has_eol_or_nul(event))
        return GH_E_PARSE;
    size_t saved = out->len;
    enum gh_rc rc = GH_OK;
    if (id.len)
        rc = put_field(out, "id", id);
    if (rc == GH_OK && event.len)
        rc = put_field(out, "event", event);
    if (rc == GH_OK && retry >= 0)
        rc = gh_buf_appendf(out, "retry: %ld\n", retry);
    if (rc == GH_OK)
        rc = put_data(out, data);
    if (rc == GH_OK)
        rc = gh_buf_append(out, "\n", 1);
    if (rc)
        out->len = saved; /* all or nothing: a half-written event would corrupt the stream */
    return rc;
}
