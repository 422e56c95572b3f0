/*
 * http/parse.c owns the strict HTTP/1.1 head parsers (requests and responses, RFC 9112), their
 * framing decisions (RFC 9112 §6), header lookup and the incremental chunked-body decoder.
 *
 * The head parsers are stateless and allocation-free: each call re-scans the buffer from the
 * start and fills caller-owned structs with slices into it. Anything that could let two HTTP
 * implementations disagree about message boundaries (security-cases §4.3) is refused, not
 * repaired.
 */
#include "core/core.h"
#include "http/http_parse.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
    C_TCHAR = 1, /* token character (RFC 9110 §5.6.2) */
    C_VALUE = 2, /* allowed in a field value: HTAB, SP, VCHAR, obs-text */
    C_TGT = 4,   /* allowed in a request-target: VCHAR except '#' and '\' */
    C_HOST = 8,  /* allowed in a Host value: unreserved, sub-delims, ':', '[', ']', '%' */
};

/* clang-format off */
static const unsigned char ctype[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  2,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     2, 15,  6,  3, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15,  6,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14,  6, 14,  6,  6,
     6, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14,  2, 14,  7, 15,
     7, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  6,  7,  6, 15,  0,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
};
/* clang-format on */

#define IS(c, cls) ((ctype[(unsigned char)(c)] & (cls)) != 0)

/* Where the head scan stands: [p, end) is unread, at_cap says no more bytes may come. */
struct cur {
    const char *p;
    const char *end;
    bool at_cap;
    bool is_response; /* errors answer 502 rather than the request statuses */
};

static enum gh_rc fail(struct gh_http_error *err, int status, const char *reason, enum gh_rc rc)
{
    err->status = status;
    err->reason = reason;
    return rc;
}

static enum gh_rc bad(const struct cur *c, struct gh_http_error *err, const char *reason)
{
    return fail(err, c->is_response ? 502 : 400, reason, GH_E_PARSE);
}

/* The buffer ran out mid-head: wait for more, unless the head cap is already reached. */
static enum gh_rc need_more(const struct cur *c, struct gh_http_error *err)
{
    if (!c->at_cap)
        return GH_E_AGAIN;
    return fail(err, c->is_response ? 502 : 431, "header section too large", GH_E_LIMIT);
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* ASCII case-insensitive equality of s[0..n) with a lowercase literal of the same length. */
static bool lc_eq(const char *s, const char *lc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)lc[i])
            return false;
    return true;
}

#define NAME_IS(sl, lit) ((sl).len == sizeof(lit) - 1 && lc_eq((sl).ptr, (lit), sizeof(lit) - 1))

/* Skips bytes allowed in a field value; SSE2 takes 16 at a time since values dominate heads. */
static const char *scan_value(const char *p, const char *end)
{
#if defined(__SSE2__)
    const __m128i lo = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f), tab = _mm_set1_epi8(9);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed compare: obs-text (>= 0x80) is negative, hence flagged here and let through */
        __m128i ctl = _mm_cmpgt_epi8(lo, v);
        __m128i neg = _mm_cmplt_epi8(v, _mm_setzero_si128());
        ctl = _mm_andnot_si128(neg, ctl);
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl);
        ctl = _mm_or_si128(ctl, _mm_cmpeq_epi8(v, del));
        int m = _mm_movemask_epi8(ctl);
        if (m)
            return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && IS(*p, C_VALUE))
        p++;
    return p;
}

/* Expects CRLF at c->p; a bare CR or LF is a framing attack vector, never tolerated. */
static enum gh_rc eat_crlf(struct cur *c, struct gh_http_error *err, const char *what)
{
    if (c->p == c->end)
        return need_more(c, err);
    if (*c->p != '\r')
        return bad(c, err, what);
    if (c->p + 1 == c->end)
        return need_more(c, err);
    if (c->p[1] != '\n')
        return bad(c, err, "bare CR");
    c->p += 2;
    return GH_OK;
}

/* Parses one "name: value" line at c->p (known not to start with CR). */
static enum gh_rc parse_field(struct cur *c, struct gh_http_header *h, struct gh_http_error *err)
{
    const char *p = c->p, *name = p;
    if (*p == ' ' || *p == '\t')
        return bad(c, err, "obs-fold or leading whitespace");
    while (p < c->end && IS(*p, C_TCHAR))
        p++;
    if (p == c->end)
        return need_more(c, err);
    if (*p != ':')
        return bad(c, err, p == name ? "invalid field name" : "invalid character in field name");
    if (p == name)
        return bad(c, err, "empty field name");
    h->name = gh_slice(name, (size_t)(p - name));
    p++;
    while (p < c->end && (*p == ' ' || *p == '\t'))
        p++;
    const char *val = p;
    p = scan_value(p, c->end);
    c->p = p;
    if (p == c->end)
        return need_more(c, err);
    if (*p != '\r')
        return bad(c, err, *p == '\n' ? "bare LF" : "control character in field value");
    while (p > val && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    h->value = gh_slice(val, (size_t)(p - val));
    return eat_crlf(c, err, "bare CR");
}

/* Parses field lines up to and including the empty line that ends the head. */
static enum gh_rc parse_fields(struct cur *c, size_t max_headers, struct gh_http_header *hs,
                               size_t *n, struct gh_http_error *err)
{
    *n = 0;
    for (;;) {
        if (c->p == c->end)
            return need_more(c, err);
        if (*c->p == '\r')
            return eat_crlf(c, err, "bare CR");
        if (*c->p == '\n')
            return bad(c, err, "bare LF");
        if (*n == max_headers)
            return fail(err, c->is_response ? 502 : 431, "too many header fields", GH_E_LIMIT);
        enum gh_rc rc = parse_field(c, &hs[*n], err);
        if (rc)
            return rc;
        (*n)++;
    }
}

/* "HTTP/1.x" at p (8 bytes available): GH_OK with *minor, or a 400/505 verdict. */
static enum gh_rc parse_version(const struct cur *c, const char *p, int *minor,
                                struct gh_http_error *err)
{
    if (memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' ||
        p[7] > '9')
        return bad(c, err, "malformed HTTP version");
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
        if (c->is_response)
            return bad(c, err, "unsupported HTTP version");
        return fail(err, 505, "unsupported HTTP version", GH_E_PARSE);
    }
    *minor = p[7] - '0';
    return GH_OK;
}

static enum gh_http_method method_of(struct gh_slice m)
{
    switch (m.len) {
    case 3:
        if (memcmp(m.ptr, "GET", 3) == 0)
            return GH_HTTP_M_GET;
        return memcmp(m.ptr, "PUT", 3) == 0 ? GH_HTTP_M_PUT : GH_HTTP_M_OTHER;
    case 4:
        if (memcmp(m.ptr, "POST", 4) == 0)
            return GH_HTTP_M_POST;
        return memcmp(m.ptr, "HEAD", 4) == 0 ? GH_HTTP_M_HEAD : GH_HTTP_M_OTHER;
    case 5:
        return memcmp(m.ptr, "PATCH", 5) == 0 ? GH_HTTP_M_PATCH : GH_HTTP_M_OTHER;
    case 6:
        return memcmp(m.ptr, "DELETE", 6) == 0 ? GH_HTTP_M_DELETE : GH_HTTP_M_OTHER;
    case 7:
        return memcmp(m.ptr, "OPTIONS", 7) == 0 ? GH_HTTP_M_OPTIONS : GH_HTTP_M_OTHER;
    default:
        return GH_HTTP_M_OTHER;
    }
}

/* Scans the request-target; 414 as soon as it is known to be too long. */
static enum gh_rc scan_target(struct cur *c, struct gh_slice *t, struct gh_http_error *err)
{
    const char *start = c->p, *p = c->p;
    const char *stop = c->end;
    if ((size_t)(stop - p) > GH_HTTP_MAX_TARGET + 1)
        stop = p + GH_HTTP_MAX_TARGET + 1;
    while (p < stop && IS(*p, C_TGT))
        p++;
    if ((size_t)(p - start) > GH_HTTP_MAX_TARGET || (p == c->end && c->at_cap))
        return fail(err, 414, "request target too long", GH_E_LIMIT);
    if (p == c->end)
        return GH_E_AGAIN;
    if (*p != ' ')
        return bad(c, err, *p == '#' ? "fragment in request target" : "invalid request target");
    if (p == start)
        return bad(c, err, "empty request target");
    *t = gh_slice(start, (size_t)(p - start));
    c->p = p + 1;
    return GH_OK;
}

/* origin-form, or "*" for OPTIONS; absolute-form and authority-form are refused (400). */
static enum gh_rc split_target(const struct cur *c, struct gh_http_request_head *r,
                               struct gh_http_error *err)
{
    struct gh_slice t = r->target;
    r->query = gh_slice(NULL, 0);
    if (t.len == 1 && t.ptr[0] == '*') {
        if (r->method != GH_HTTP_M_OPTIONS)
            return bad(c, err, "asterisk target outside OPTIONS");
        r->path = t;
        return GH_OK;
    }
    if (t.ptr[0] != '/')
        return bad(c, err, "request target not in origin-form");
    const char *q = memchr(t.ptr, '?', t.len);
    if (!q) {
        r->path = t;
        return GH_OK;
    }
    r->path = gh_slice(t.ptr, (size_t)(q - t.ptr));
    r->query = gh_slice(q + 1, t.len - r->path.len - 1);
    return GH_OK;
}

/* Method SP target SP version CRLF, after at most one leading empty line (RFC 9112 §2.2). */
static enum gh_rc parse_request_line(struct cur *c, struct gh_http_request_head *r,
                                     struct gh_http_error *err)
{
    if (c->p < c->end && *c->p == '\r') {
        enum gh_rc rc = eat_crlf(c, err, "bare CR");
        if (rc)
            return rc;
    }
    const char *m = c->p;
    while (c->p < c->end && IS(*c->p, C_TCHAR))
        c->p++;
    if (c->p == c->end)
        return need_more(c, err);
    if (*c->p != ' ' || c->p == m)
        return bad(c, err, "malformed request line");
    r->method_str = gh_slice(m, (size_t)(c->p - m));
    r->method = method_of(r->method_str);
    c->p++;
    enum gh_rc rc = scan_target(c, &r->target, err);
    if (rc == GH_E_AGAIN)
        return need_more(c, err);
    if (rc)
        return rc;
    if (c->end - c->p < 10) {
        /* a line end in a short tail can only be a malformed version: say so now */
        if (memchr(c->p, '\n', (size_t)(c->end - c->p)))
            return bad(c, err, "malformed HTTP version");
        return need_more(c, err);
    }
    rc = parse_version(c, c->p, &r->minor_version, err);
    if (rc)
        return rc;
    c->p += 8;
    rc = eat_crlf(c, err, "malformed request line");
    if (rc)
        return rc;
    return split_target(c, r, err);
}

/* 1*DIGIT, no sign, no list, at most GH_HTTP_MAX_BODY_LEN. */
static enum gh_rc parse_content_length(const struct cur *c, struct gh_slice v, uint64_t *out,
                                       struct gh_http_error *err)
{
    uint64_t n = 0;
    if (v.len == 0)
        return bad(c, err, "empty Content-Length");
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.ptr[i] - (unsigned)'0';
        if (d > 9)
            return bad(c, err, "invalid Content-Length");
        n = n * 10 + d;
        if (n > GH_HTTP_MAX_BODY_LEN) {
            if (c->is_response)
                return bad(c, err, "Content-Length too large");
            return fail(err, 413, "Content-Length too large", GH_E_LIMIT);
        }
    }
    *out = n;
    return GH_OK;
}

/* Connection is a comma list of tokens: sets *close / *keep from "close" / "keep-alive". */
static void scan_connection(struct gh_slice v, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ','))
            i++;
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',' && v.ptr[i] != ' ' && v.ptr[i] != '\t')
            i++;
        struct gh_slice tok = gh_slice(v.ptr + s, i - s);
        if (NAME_IS(tok, "close"))
            *close = true;
        else if (NAME_IS(tok, "keep-alive"))
            *keep = true;
    }
}

/* What the framing-relevant fields said, gathered in one pass over the headers. */
struct fields {
    const struct gh_http_header *cl, *te, *host;
    size_t ncl, nte, nhost;
    bool conn_close, conn_keep, expect_continue;
};

static void gather(const struct gh_http_header *h, size_t n, struct fields *f)
{
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < n; i++) {
        struct gh_slice nm = h[i].name;
        switch (nm.len) {
        case 4:
            if (lc_eq(nm.ptr, "host", 4) && f->nhost++ == 0)
                f->host = &h[i];
            break;
        case 6:
            if (lc_eq(nm.ptr, "expect", 6) && NAME_IS(h[i].value, "100-continue"))
                f->expect_continue = true;
            break;
        case 10:
            if (lc_eq(nm.ptr, "connection", 10))
                scan_connection(h[i].value, &f->conn_close, &f->conn_keep);
            break;
        case 14:
            if (lc_eq(nm.ptr, "content-length", 14) && f->ncl++ == 0)
                f->cl = &h[i];
            break;
        case 17:
            if (lc_eq(nm.ptr, "transfer-encoding", 17) && f->nte++ == 0)
                f->te = &h[i];
            break;
        default:
            break;
        }
    }
}

/* The rules shared by both directions: CL syntax and uniqueness, TE exactness, no CL with TE. */
static enum gh_rc check_framing(const struct cur *c, const struct fields *f, int minor,
                                uint64_t *cl, struct gh_http_error *err)
{
    if (f->ncl > 1)
        return bad(c, err, "multiple Content-Length fields");
    if (f->nte > 1)
        return bad(c, err, "multiple Transfer-Encoding fields");
    if (f->te && f->cl)
        return bad(c, err, "Transfer-Encoding with Content-Length");
    if (f->te && minor == 0)
        return bad(c, err, "Transfer-Encoding in HTTP/1.0");
    if (f->te && !NAME_IS(f->te->value, "chunked")) {
        if (c->is_response)
            return bad(c, err, "unsupported Transfer-Encoding");
        return fail(err, 501, "unsupported Transfer-Encoding", GH_E_PARSE);
    }
    *cl = 0;
    if (f->cl)
        return parse_content_length(c, f->cl->value, cl, err);
    return GH_OK;
}

static bool host_ok(struct gh_slice v)
{
    for (size_t i = 0; i < v.len; i++)
        if (!IS(v.ptr[i], C_HOST))
            return false;
    return true;
}

static enum gh_rc request_semantics(const struct cur *c, struct gh_http_request_head *r,
                                    struct gh_http_error *err)
{
    struct fields f;
    gather(r->headers, r->nheaders, &f);
    enum gh_rc rc = check_framing(c, &f, r->minor_version, &r->content_length, err);
    if (rc)
        return rc;
    if (f.nhost > 1)
        return bad(c, err, "multiple Host fields");
    if (f.nhost == 0 && r->minor_version == 1)
        return bad(c, err, "missing Host");
    if (f.host && !host_ok(f.host->value))
        return bad(c, err, "invalid Host");
    r->host = f.host ? f.host->value : gh_slice(NULL, 0);
    r->chunked = f.te != NULL;
    r->has_content_length = f.cl != NULL;
    r->keep_alive = !f.conn_close && (r->minor_version == 1 || f.conn_keep);
    /* RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored */
    r->expect_continue = f.expect_continue && r->minor_version == 1;
    return GH_OK;
}

static void cur_init(struct cur *c, const char *buf, size_t len, size_t max_head, bool resp)
{
    c->p = buf;
    c->end = buf + GH_MIN(len, max_head);
    c->at_cap = len >= max_head;
    c->is_response = resp;
}

enum gh_rc gh_http_request_parse(const char *buf, size_t len, size_t max_head, size_t max_headers,
                                 struct gh_http_request_head *out, struct gh_http_error *err)
{
    struct cur c;
    cur_init(&c, buf, len, max_head, false);
    enum gh_rc rc = parse_request_line(&c, out, err);
    if (rc)
        return rc;
    rc = parse_fields(&c, GH_MIN(max_headers, (size_t)GH_HTTP_MAX_HEADERS), out->headers,
                      &out->nheaders, err);
    if (rc)
        return rc;
    out->head_len = (size_t)(c.p - buf);
    return request_semantics(&c, out, err);
}

/* HTTP/1.x SP 3DIGIT SP reason CRLF; a missing reason may also drop its SP (seen in the wild). */
static enum gh_rc parse_status_line(struct cur *c, struct gh_http_response_head *r,
                                    struct gh_http_error *err)
{
    if (c->end - c->p < 12) {
        if (memchr(c->p, '\n', (size_t)(c->end - c->p)))
            return bad(c, err, "malformed status line");
        return need_more(c, err);
    }
    const char *p = c->p;
    enum gh_rc rc = parse_version(c, p, &r->minor_version, err);
    if (rc)
        return rc;
    if (p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
        p[11] > '9')
        return bad(c, err, "malformed status line");
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    c->p = p + 12;
    if (c->p < c->end && *c->p != ' ' && *c->p != '\r')
        return bad(c, err, "malformed status line");
    if (c->p < c->end && *c->p == ' ')
        c->p++;
    const char *reason = c->p;
    c->p = scan_value(c->p, c->end);
    r->reason = gh_slice(reason, (size_t)(c->p - reason));
    return eat_crlf(c, err, "malformed status line");
}

/* RFC 9112 §6.3, in its order: no-body statuses and HEAD, then chunked, then CL, then close. */
static enum gh_rc response_semantics(const struct cur *c, enum gh_http_method req,
                                     struct gh_http_response_head *r, struct gh_http_error *err)
{
    struct fields f;
    gather(r->headers, r->nheaders, &f);
    enum gh_rc rc = check_framing(c, &f, r->minor_version, &r->content_length, err);
    if (rc)
        return rc;
    r->has_content_length = f.cl != NULL;
    r->no_body = req == GH_HTTP_M_HEAD || r->status < 200 || r->status == 204 || r->status == 304;
    r->chunked = !r->no_body && f.te != NULL;
    r->close_delimited = !r->no_body && !f.te && !f.cl;
    r->keep_alive = !r->close_delimited && !f.conn_close && (r->minor_version == 1 || f.conn_keep);
    return GH_OK;
}

enum gh_rc gh_http_response_parse(const char *buf, size_t len, size_t max_head, size_t max_headers,
                                  enum gh_http_method request_method,
                                  struct gh_http_response_head *out, struct gh_http_error *err)
{
    struct cur c;
    cur_init(&c, buf, len, max_head, true);
    enum gh_rc rc = parse_status_line(&c, out, err);
    if (rc)
        return rc;
    rc = parse_fields(&c, GH_MIN(max_headers, (size_t)GH_HTTP_MAX_HEADERS), out->headers,
                      &out->nheaders, err);
    if (rc)
        return rc;
    out->head_len = (size_t)(c.p - buf);
    return response_semantics(&c, request_method, out, err);
}

/* Case-insensitive equality of a field name with name (nl bytes); the request path looks up a
 * dozen fields per request, each past every field received, so the cheap tests go first. */
static inline bool name_eq(struct gh_slice a, const char *name, size_t nl)
{
    if (a.len != nl || lower((unsigned char)a.ptr[0]) != lower((unsigned char)name[0]))
        return false;
    for (size_t i = 1; i < nl; i++)
        if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)name[i]))
            return false;
    return true;
}

const struct gh_http_header *gh_http_header_find(const struct gh_http_header *h, size_t n,
                                                 const char *name)
{
    size_t nl = strlen(name);
    if (!nl)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (name_eq(h[i].name, name, nl))
            return &h[i];
    return NULL;
}

size_t gh_http_header_count(const struct gh_http_header *h, size_t n, const char *name)
{
    size_t nl = strlen(name), count = 0;
    if (!nl)
        return 0;
    for (size_t i = 0; i < n; i++)
        count += name_eq(h[i].name, name, nl);
    return count;
}

/* ---- chunked transfer coding (RFC 9112 §7.1) ---- */

enum {
    CH_SIZE0,    /* first hex digit of a chunk size */
    CH_SIZE,     /* further digits, BWS, ';' or CR */
    CH_BWS,      /* whitespace after the size: only ';' may follow */
    CH_EXT,      /* extension bytes up to CR (checked, then ignored) */
    CH_SIZE_LF,  /* LF ending the size line */
    CH_DATA,     /* chunk data */
    CH_DATA_CR,  /* CR after chunk data */
    CH_DATA_LF,  /* LF after chunk data */
    CH_TR_START, /* start of a trailer line, or the final CRLF */
    CH_TR_NAME,  /* trailer field name */
    CH_TR_VALUE, /* trailer field value up to CR */
    CH_TR_LF,    /* LF ending a trailer line */
    CH_END_LF,   /* LF of the final CRLF */
    CH_DONE,
};

void gh_http_chunked_init(struct gh_http_chunked *c, size_t max_trailer_bytes)
{
    memset(c, 0, sizeof(*c));
    c->max_trailer = max_trailer_bytes;
    c->state = CH_SIZE0;
}

/* Size line bytes: line_bytes counts digits, BWS and extension together, so each is bounded. */
static enum gh_rc size_byte(struct gh_http_chunked *c, unsigned char ch)
{
    int d = gh_hex_digit(ch);
    if (d >= 0) {
        if (c->state == CH_BWS)
            return GH_E_PARSE;
        if (++c->line_bytes > GH_HTTP_CHUNK_MAX_DIGITS)
            return GH_E_LIMIT;
        c->remaining = c->remaining * 16 + (unsigned)d;
        if (c->remaining > GH_HTTP_MAX_BODY_LEN)
            return GH_E_PARSE;
        c->state = CH_SIZE;
        return GH_OK;
    }
    if (c->state == CH_SIZE0)
        return GH_E_PARSE;
    if (ch == '\r' && c->state == CH_SIZE) {
        c->state = CH_SIZE_LF;
        return GH_OK;
    }
    if (ch == ';')
        c->state = CH_EXT;
    else if (ch == ' ' || ch == '\t')
        c->state = CH_BWS;
    else
        return GH_E_PARSE;
    return ++c->line_bytes > GH_HTTP_CHUNK_MAX_DIGITS + GH_HTTP_CHUNK_MAX_EXT ? GH_E_LIMIT : GH_OK;
}

static enum gh_rc ext_byte(struct gh_http_chunked *c, unsigned char ch)
{
    if (ch == '\r') {
        c->state = CH_SIZE_LF;
        return GH_OK;
    }
    if (!IS(ch, C_VALUE))
        return GH_E_PARSE;
    return ++c->line_bytes > GH_HTTP_CHUNK_MAX_DIGITS + GH_HTTP_CHUNK_MAX_EXT ? GH_E_LIMIT : GH_OK;
}

/* Trailer fields are validated like header fields and then dropped; their total is capped. */
static enum gh_rc trailer_byte(struct gh_http_chunked *c, unsigned char ch)
{
    if (c->state == CH_TR_START && ch == '\r') {
        c->state = CH_END_LF; /* the final CRLF is framing, not trailer: it is not counted */
        return GH_OK;
    }
    if (++c->trailer_bytes > c->max_trailer)
        return GH_E_LIMIT;
    switch (c->state) {
    case CH_TR_START:
        c->state = CH_TR_NAME;
        return IS(ch, C_TCHAR) ? GH_OK : GH_E_PARSE;
    case CH_TR_NAME:
        if (ch == ':')
            c->state = CH_TR_VALUE;
        return ch == ':' || IS(ch, C_TCHAR) ? GH_OK : GH_E_PARSE;
    case CH_TR_VALUE:
        if (ch == '\r')
            c->state = CH_TR_LF;
        return ch == '\r' || IS(ch, C_VALUE) ? GH_OK : GH_E_PARSE;
    default: /* CH_TR_LF */
        c->state = CH_TR_START;
        return ch == '\n' ? GH_OK : GH_E_PARSE;
    }
}

/* One framing byte (anything but chunk data). */
static enum gh_rc frame_byte(struct gh_http_chunked *c, unsigned char ch)
{
    switch (c->state) {
    case CH_SIZE0:
    case CH_SIZE:
    case CH_BWS:
        return size_byte(c, ch);
    case CH_EXT:
        return ext_byte(c, ch);
    case CH_SIZE_LF:
        if (ch != '\n')
            return GH_E_PARSE;
        c->line_bytes = 0;
        c->state = c->remaining ? CH_DATA : CH_TR_START;
        return GH_OK;
    case CH_DATA_CR:
        c->state = CH_DATA_LF;
        return ch == '\r' ? GH_OK : GH_E_PARSE;
    case CH_DATA_LF:
        c->state = CH_SIZE0;
        return ch == '\n' ? GH_OK : GH_E_PARSE;
    case CH_END_LF:
        c->state = CH_DONE;
        return ch == '\n' ? GH_OK : GH_E_PARSE;
    default:
        return trailer_byte(c, ch);
    }
}

enum gh_rc gh_http_chunked_step(struct gh_http_chunked *c, const char *in, size_t len,
                                size_t *consumed, struct gh_slice *data, bool *done)
{
    size_t i = 0;
    *data = gh_slice(NULL, 0);
    *done = false;
    while (i < len && c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t n = (size_t)GH_MIN(c->remaining, (uint64_t)(len - i));
            *data = gh_slice(in + i, n);
            c->remaining -= n;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            *consumed = i + n;
            return GH_OK;
        }
        enum gh_rc rc = frame_byte(c, (unsigned char)in[i]);
        if (rc) {
            *consumed = i;
            return rc;
        }
        i++;
    }
    *consumed = i;
    *done = c->state == CH_DONE;
    return GH_OK;
}
