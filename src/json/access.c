/*
 * json/access.c owns reading a parsed document (member lookup on decoded names, elements,
 * string decoding, numbers) and the escaping writer used to build JSON output.
 */
#include "core/core.h"
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "json/internal.h"

struct gh_slice gh_json_raw(const struct gh_json_doc *d, uint32_t i)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    return gh_slice(d->src + t->start, t->len);
}

bool gh_json__str_eq_raw(const struct gh_json_doc *doc, uint32_t i, const char *s, size_t n)
{
    const struct gh_json_tok *t = &doc->toks[i];
    if (!(t->flags & GH_JSON_F_ESCAPED))
        return t->len - 2 == n && memcmp(doc->src + t->start + 1, s, n) == 0;
    if (t->len - 2 < n) /* escapes only shrink */
        return false;
    struct gh_json_dec it;
    gh_json__dec_init(&it, doc, i);
    for (size_t k = 0; k < n; k++)
        if (gh_json__dec_next(&it) != (unsigned char)s[k])
            return false;
    return gh_json__dec_next(&it) < 0;
}

bool gh_json__str_eq_tok(const struct gh_json_doc *doc, uint32_t i, uint32_t j)
{
    const struct gh_json_tok *a = &doc->toks[i], *b = &doc->toks[j];
    if (!(b->flags & GH_JSON_F_ESCAPED))
        return gh_json__str_eq_raw(doc, i, doc->src + b->start + 1, b->len - 2);
    if (!(a->flags & GH_JSON_F_ESCAPED))
        return gh_json__str_eq_raw(doc, j, doc->src + a->start + 1, a->len - 2);
    struct gh_json_dec x, y;
    gh_json__dec_init(&x, doc, i);
    gh_json__dec_init(&y, doc, j);
    for (;;) {
        int cx = gh_json__dec_next(&x), cy = gh_json__dec_next(&y);
        if (cx != cy)
            return false;
        if (cx < 0)
            return true;
    }
}

bool gh_json_str_eq(const struct gh_json_doc *d, uint32_t i, const char *name, size_t len)
{
    return gh_json_tok(d, i)->type == GH_JSON_STRING && gh_json__str_eq_raw(d, i, name, len);
}

int32_t gh_json_obj_get(const struct gh_json_doc *d, uint32_t obj, const char *name, size_t len)
{
    const struct gh_json_tok *t = gh_json_tok(d, obj);
    if (t->type != GH_JSON_OBJECT)
        return -1;
    for (uint32_t k = obj + 1; k < t->end; k = d->toks[k + 1].end)
        if (gh_json__str_eq_raw(d, k, name, len))
            return (int32_t)(k + 1);
    return -1;
}

int32_t gh_json_arr_at(const struct gh_json_doc *d, uint32_t arr, uint32_t i)
{
    const struct gh_json_tok *t = gh_json_tok(d, arr);
    if (t->type != GH_JSON_ARRAY || i >= t->size)
        return -1;
    uint32_t k = arr + 1;
    while (i--)
        k = d->toks[k].end;
    return (int32_t)k;
}

enum gh_rc gh_json_str(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i,
                       struct gh_slice *out)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    if (t->type != GH_JSON_STRING)
        return GH_E_PARSE;
    if (!(t->flags & GH_JSON_F_ESCAPED)) {
        *out = gh_slice(d->src + t->start + 1, t->len - 2);
        return GH_OK;
    }
    char *buf = gh_arena_alloc(a, t->len - 1); /* decoded is never longer than raw */
    struct gh_json_dec it;
    size_t n = 0;
    int c;
    gh_json__dec_init(&it, d, i);
    while ((c = gh_json__dec_next(&it)) >= 0)
        buf[n++] = (char)c;
    buf[n] = '\0'; /* convenience only: the contents may hold NULs */
    *out = gh_slice(buf, n);
    return GH_OK;
}

enum gh_rc gh_json_int64(const struct gh_json_doc *d, uint32_t i, int64_t *out)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    if (t->type != GH_JSON_NUMBER || (t->flags & GH_JSON_F_NONINT))
        return GH_E_PARSE;
    const char *s = d->src + t->start;
    bool neg = s[0] == '-';
    /* Accumulate as a negative number: its range is one larger, so INT64_MIN fits. */
    int64_t v = 0;
    for (uint32_t k = neg; k < t->len; k++) {
        int dig = s[k] - '0';
        if (v < (INT64_MIN + dig) / 10)
            return GH_E_LIMIT;
        v = v * 10 - dig;
    }
    if (!neg && v == INT64_MIN)
        return GH_E_LIMIT;
    *out = neg ? v : -v;
    return GH_OK;
}

enum gh_rc gh_json_double(const struct gh_json_doc *d, uint32_t i, double *out)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    if (t->type != GH_JSON_NUMBER)
        return GH_E_PARSE;
    /* strtod needs a terminator, and the token may end exactly at the end of the input. */
    char small[64];
    char *tmp = t->len < sizeof(small) ? small : gh_xmalloc(t->len + 1);
    memcpy(tmp, d->src + t->start, t->len);
    tmp[t->len] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    bool range = errno == ERANGE && isinf(v);
    if (tmp != small)
        free(tmp);
    if (range)
        return GH_E_LIMIT;
    *out = v;
    return GH_OK;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n <= need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return need + 1;
}

static bool needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x7F;
}

static enum gh_rc put_special(struct gh_buf *b, const unsigned char *s, size_t n, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];
    char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    *used = 1;
    if (c == '"' || c == '\\') {
        esc[1] = (char)c;
        return gh_buf_append(b, esc, 2);
    }
    if (c < 0x80)
        return gh_buf_append(b, esc, 6);
    size_t k = utf8_len(s, n);
    if (k == 0)
        return gh_buf_append(b, "\\ufffd", 6);
    *used = k;
    return gh_buf_append(b, s, k);
}

enum gh_rc gh_json_write_str(struct gh_buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    enum gh_rc rc = gh_buf_append(b, "\"", 1);
    size_t i = 0;
    while (!rc && i < n) {
        size_t run = i, used;
        while (run < n && !needs_escape(u[run]))
            run++;
        rc = gh_buf_append(b, u + i, run - i);
        i = run;
        if (rc || i == n)
            break;
        rc = put_special(b, u + i, n - i, &used);
        i += used;
    }
    if (rc)
        return rc;
    return gh_buf_append(b, "\"", 1);
}
