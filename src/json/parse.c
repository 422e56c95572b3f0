/*
 * json/parse.c owns the strict tokenizer: one pass, no recursion (an explicit container stack
 * bounded by max_depth), tokens in a growing arena array, duplicate member names detected when
 * each object closes (pairwise for small objects, a hash for large ones).
 */
#include "core/core.h"
#include "json/json.h"

#include "json/internal.h"

enum state {
    ST_VALUE = 0, /* a value must follow */
    ST_ARR_FIRST, /* just after '[': a value or ']' */
    ST_OBJ_FIRST, /* just after '{': a key or '}' */
    ST_KEY,       /* just after ',' in an object: a key */
    ST_COLON,     /* after a key */
    ST_AFTER,     /* after a value inside a container: ',' or the closer */
    ST_DONE,      /* the root value is complete */
};

/* Small objects are checked pairwise; the hash pays off only past this many members. */
#define PAIRWISE_MAX 12

struct parser {
    const char *s;
    uint32_t n;
    uint32_t pos;
    struct gh_json_tok *toks;
    uint32_t ntoks;
    uint32_t cap;
    uint32_t *stack; /* token indexes of the open containers */
    uint32_t depth;
    uint32_t *slots; /* scratch hash for duplicate detection in large objects */
    uint32_t nslots;
    struct gh_json_limits lim;
    struct gh_arena *a;
    struct gh_json_err *err;
    struct gh_json_doc *doc; /* the doc being built (toks/ntoks kept in sync for key compares) */
};

/* Bytes that need no further checks inside a string: 0x20..0x7F minus " and \. */
static inline bool plain(unsigned char c)
{
    return (unsigned)(c - 0x20) < 0x60 && c != '"' && c != '\\';
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Non-zero when any of the 8 bytes in x is not plain (SWAR: control, quote, backslash, >= 0x80). */
static inline uint64_t special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t ctl = (x - ONES * 0x20) & ~x; /* exact "any byte < 0x20" when combined with x */
    uint64_t quote = (q - ONES) & ~q;
    uint64_t bslash = (b - ONES) & ~b;
    return (ctl | quote | bslash | x) & HIGHS;
}

/* Index of the first byte at or after i that is not plain; strings are mostly plain ASCII, so
 * eight bytes are checked at a time. */
static uint32_t skip_plain(const char *s, uint32_t i, uint32_t n)
{
    uint64_t x;
    while (n - i >= 8) {
        memcpy(&x, s + i, 8);
        if (special8(x))
            break;
        i += 8;
    }
    while (i < n && plain((unsigned char)s[i]))
        i++;
    return i;
}

static enum gh_rc fail(struct parser *p, enum gh_rc rc, uint32_t at, const char *why)
{
    if (p->err) {
        p->err->offset = at;
        p->err->reason = why;
    }
    return rc;
}

static void limits_fill(struct gh_json_limits *l, const struct gh_json_limits *in)
{
    *l = in ? *in : (struct gh_json_limits){0};
    if (!l->max_depth)
        l->max_depth = GH_JSON_DEFAULT_DEPTH;
    if (!l->max_tokens)
        l->max_tokens = GH_JSON_DEFAULT_TOKENS;
    if (!l->max_members)
        l->max_members = GH_JSON_DEFAULT_MEMBERS;
    if (!l->max_bytes)
        l->max_bytes = GH_JSON_DEFAULT_BYTES;
    if (l->max_bytes > UINT32_MAX - 1)
        l->max_bytes = UINT32_MAX - 1;
    if (l->max_depth > 65536)
        l->max_depth = 65536;
    if (l->max_tokens > INT32_MAX - 1)
        l->max_tokens = INT32_MAX - 1;
}

static enum gh_rc tok_grow(struct parser *p)
{
    if (p->cap >= p->lim.max_tokens)
        return fail(p, GH_E_LIMIT, p->pos, "too many tokens");
    uint32_t ncap = p->cap > p->lim.max_tokens / 2 ? p->lim.max_tokens : p->cap * 2;
    struct gh_json_tok *t = gh_arena_alloc(p->a, (size_t)ncap * sizeof(*t));
    memcpy(t, p->toks, (size_t)p->ntoks * sizeof(*t));
    p->toks = t;
    p->cap = ncap;
    p->doc->toks = t;
    return GH_OK;
}

static enum gh_rc tok_new(struct parser *p, enum gh_json_type type, uint32_t *idx)
{
    if (p->ntoks == p->cap) {
        enum gh_rc rc = tok_grow(p);
        if (rc)
            return rc;
    }
    struct gh_json_tok *t = &p->toks[p->ntoks];
    *t = (struct gh_json_tok){.start = p->pos, .type = (uint8_t)type, .end = p->ntoks + 1};
    *idx = p->ntoks++;
    p->doc->ntoks = p->ntoks;
    return GH_OK;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            return;
        p->pos++;
    }
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Validates \uXXXX (and its low half when it is a high surrogate) at i (the 'u'). */
static enum gh_rc lex_u(struct parser *p, uint32_t *i)
{
    const char *s = p->s;
    uint32_t at = *i - 1;
    if (p->n - *i < 5 || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2]) || !is_hex(s[*i + 3]) ||
        !is_hex(s[*i + 4]))
        return fail(p, GH_E_PARSE, at, "bad \\u escape");
    uint32_t cp = gh_json__hex4(s + *i + 1);
    *i += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, GH_E_PARSE, at, "lone low surrogate");
    if (cp < 0xD800 || cp > 0xDBFF)
        return GH_OK;
    if (p->n - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u' || !is_hex(s[*i + 2]) ||
        !is_hex(s[*i + 3]) || !is_hex(s[*i + 4]) || !is_hex(s[*i + 5]))
        return fail(p, GH_E_PARSE, at, "unpaired high surrogate");
    uint32_t lo = gh_json__hex4(s + *i + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(p, GH_E_PARSE, at, "unpaired high surrogate");
    *i += 6;
    return GH_OK;
}

static enum gh_rc lex_escape(struct parser *p, uint32_t *i)
{
    if (*i + 1 >= p->n)
        return fail(p, GH_E_PARSE, *i, "unterminated string");
    switch (p->s[*i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i += 2;
        return GH_OK;
    case 'u':
        *i += 1;
        return lex_u(p, i);
    default:
        return fail(p, GH_E_PARSE, *i, "bad escape");
    }
}

static bool cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Validates one multi-byte UTF-8 sequence at i (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
static enum gh_rc lex_utf8(struct parser *p, uint32_t *i)
{
    const unsigned char *u = (const unsigned char *)p->s + *i;
    uint32_t left = p->n - *i;
    unsigned char c = u[0];
    uint32_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return fail(p, GH_E_PARSE, *i, "invalid UTF-8");
    if (left <= need || u[1] < lo || u[1] > hi)
        return fail(p, GH_E_PARSE, *i, "invalid UTF-8");
    for (uint32_t k = 2; k <= need; k++)
        if (!cont(u[k]))
            return fail(p, GH_E_PARSE, *i, "invalid UTF-8");
    *i += need + 1;
    return GH_OK;
}

/* Lexes the string whose quote is at p->pos; leaves p->pos after the closing quote. */
static enum gh_rc lex_string(struct parser *p, uint8_t *flags)
{
    uint32_t i = p->pos + 1;
    enum gh_rc rc;
    for (;;) {
        i = skip_plain(p->s, i, p->n);
        if (i >= p->n)
            return fail(p, GH_E_PARSE, p->pos, "unterminated string");
        unsigned char c = (unsigned char)p->s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, GH_E_PARSE, i, "control character in string");
        if (c == '\\') {
            *flags |= GH_JSON_F_ESCAPED;
            rc = lex_escape(p, &i);
        } else {
            rc = lex_utf8(p, &i);
        }
        if (rc)
            return rc;
    }
    p->pos = i + 1;
    return GH_OK;
}

static uint32_t digits(const char *s, uint32_t i, uint32_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

static enum gh_rc lex_number(struct parser *p, uint8_t *flags)
{
    const char *s = p->s;
    uint32_t i = p->pos, n = p->n, d;
    if (s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        i = digits(s, i, n);
    else
        return fail(p, GH_E_PARSE, p->pos, "bad number");
    if (i < n && s[i] == '.') {
        d = digits(s, i + 1, n);
        if (d == i + 1)
            return fail(p, GH_E_PARSE, i, "bad number fraction");
        i = d;
        *flags |= GH_JSON_F_NONINT;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        d = digits(s, i, n);
        if (d == i)
            return fail(p, GH_E_PARSE, i, "bad number exponent");
        i = d;
        *flags |= GH_JSON_F_NONINT;
    }
    p->pos = i;
    return GH_OK;
}

static enum gh_rc lex_literal(struct parser *p, const char *word, size_t n)
{
    if (p->n - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return fail(p, GH_E_PARSE, p->pos, "unexpected character");
    p->pos += (uint32_t)n;
    return GH_OK;
}

/* Lexes a scalar at p->pos into a new token. */
static enum gh_rc scalar(struct parser *p)
{
    uint32_t idx, start = p->pos;
    uint8_t flags = 0;
    enum gh_rc rc;
    char c = p->s[p->pos];
    enum gh_json_type type = c == '"'   ? GH_JSON_STRING
                             : c == 't' ? GH_JSON_TRUE
                             : c == 'f' ? GH_JSON_FALSE
                             : c == 'n' ? GH_JSON_NULL
                                        : GH_JSON_NUMBER;
    if (type == GH_JSON_NUMBER && c != '-' && (c < '0' || c > '9'))
        return fail(p, GH_E_PARSE, p->pos, "unexpected character");
    rc = tok_new(p, type, &idx);
    if (rc)
        return rc;
    switch (type) {
    case GH_JSON_STRING:
        rc = lex_string(p, &flags);
        break;
    case GH_JSON_TRUE:
        rc = lex_literal(p, "true", 4);
        break;
    case GH_JSON_FALSE:
        rc = lex_literal(p, "false", 5);
        break;
    case GH_JSON_NULL:
        rc = lex_literal(p, "null", 4);
        break;
    default:
        rc = lex_number(p, &flags);
        break;
    }
    p->toks[idx].len = p->pos - start;
    p->toks[idx].flags = flags;
    return rc;
}

static uint32_t key_hash(const struct gh_json_doc *d, uint32_t k)
{
    uint32_t h = 2166136261u;
    const struct gh_json_tok *t = &d->toks[k];
    if (!(t->flags & GH_JSON_F_ESCAPED)) {
        const unsigned char *s = (const unsigned char *)d->src + t->start + 1;
        for (uint32_t j = 0; j + 2 < t->len; j++)
            h = (h ^ s[j]) * 16777619u;
        return h;
    }
    struct gh_json_dec it;
    int c;
    gh_json__dec_init(&it, d, k);
    while ((c = gh_json__dec_next(&it)) >= 0)
        h = (h ^ (uint32_t)c) * 16777619u;
    return h;
}

static enum gh_rc dup_pairwise(struct parser *p, uint32_t obj)
{
    const struct gh_json_tok *t = p->toks;
    for (uint32_t k = obj + 1; k < t[obj].end; k = t[k + 1].end)
        for (uint32_t j = t[k + 1].end; j < t[obj].end; j = t[j + 1].end)
            if (gh_json__str_eq_tok(p->doc, k, j))
                return fail(p, GH_E_PARSE, t[j].start, "duplicate member name");
    return GH_OK;
}

static enum gh_rc dup_hashed(struct parser *p, uint32_t obj)
{
    const struct gh_json_tok *t = p->toks;
    uint32_t want = 16;
    while (want < t[obj].size * 2)
        want *= 2;
    if (p->nslots < want) {
        p->slots = gh_arena_alloc(p->a, (size_t)want * sizeof(*p->slots));
        p->nslots = want;
    }
    memset(p->slots, 0, (size_t)want * sizeof(*p->slots));
    uint32_t mask = want - 1;
    for (uint32_t k = obj + 1; k < t[obj].end; k = t[k + 1].end) {
        uint32_t h = key_hash(p->doc, k) & mask;
        for (; p->slots[h]; h = (h + 1) & mask)
            if (gh_json__str_eq_tok(p->doc, p->slots[h] - 1, k))
                return fail(p, GH_E_PARSE, t[k].start, "duplicate member name");
        p->slots[h] = k + 1;
    }
    return GH_OK;
}

static enum gh_rc open_container(struct parser *p, enum gh_json_type type, enum state *st)
{
    uint32_t idx;
    if (p->depth >= p->lim.max_depth)
        return fail(p, GH_E_LIMIT, p->pos, "nesting too deep");
    enum gh_rc rc = tok_new(p, type, &idx);
    if (rc)
        return rc;
    p->stack[p->depth++] = idx;
    p->pos++;
    *st = type == GH_JSON_OBJECT ? ST_OBJ_FIRST : ST_ARR_FIRST;
    return GH_OK;
}

static enum gh_rc close_container(struct parser *p, enum state *st)
{
    uint32_t idx = p->stack[--p->depth];
    struct gh_json_tok *t = &p->toks[idx];
    p->pos++;
    t->len = p->pos - t->start;
    t->end = p->ntoks;
    *st = p->depth ? ST_AFTER : ST_DONE;
    if (t->type != GH_JSON_OBJECT || t->size < 2)
        return GH_OK;
    return t->size <= PAIRWISE_MAX ? dup_pairwise(p, idx) : dup_hashed(p, idx);
}

/* A value starts at p->pos (not end of input). */
static enum gh_rc value(struct parser *p, enum state *st)
{
    char c = p->s[p->pos];
    if (p->depth && p->toks[p->stack[p->depth - 1]].type == GH_JSON_ARRAY)
        p->toks[p->stack[p->depth - 1]].size++;
    if (c == '{')
        return open_container(p, GH_JSON_OBJECT, st);
    if (c == '[')
        return open_container(p, GH_JSON_ARRAY, st);
    *st = p->depth ? ST_AFTER : ST_DONE;
    return scalar(p);
}

static enum gh_rc key(struct parser *p, enum state *st)
{
    struct gh_json_tok *obj = &p->toks[p->stack[p->depth - 1]];
    if (p->s[p->pos] != '"')
        return fail(p, GH_E_PARSE, p->pos, "expected member name");
    if (obj->size >= p->lim.max_members)
        return fail(p, GH_E_LIMIT, p->pos, "too many members");
    obj->size++;
    *st = ST_COLON;
    return scalar(p);
}

static enum gh_rc after(struct parser *p, enum state *st)
{
    uint8_t type = p->toks[p->stack[p->depth - 1]].type;
    char c = p->s[p->pos];
    if (c == ',') {
        p->pos++;
        *st = type == GH_JSON_OBJECT ? ST_KEY : ST_VALUE;
        return GH_OK;
    }
    if (c == (type == GH_JSON_OBJECT ? '}' : ']'))
        return close_container(p, st);
    return fail(p, GH_E_PARSE, p->pos, "expected ',' or closing bracket");
}

static enum gh_rc step(struct parser *p, enum state *st)
{
    char c = p->s[p->pos];
    switch (*st) {
    case ST_ARR_FIRST:
        if (c == ']')
            return close_container(p, st);
        return value(p, st);
    case ST_OBJ_FIRST:
        if (c == '}')
            return close_container(p, st);
        return key(p, st);
    case ST_KEY:
        return key(p, st);
    case ST_COLON:
        if (c != ':')
            return fail(p, GH_E_PARSE, p->pos, "expected ':'");
        p->pos++;
        *st = ST_VALUE;
        return GH_OK;
    case ST_AFTER:
        return after(p, st);
    default:
        return value(p, st);
    }
}

static enum gh_rc run(struct parser *p)
{
    enum state st = ST_VALUE;
    enum gh_rc rc;
    for (;;) {
        skip_ws(p);
        if (st == ST_DONE)
            break;
        if (p->pos == p->n)
            return fail(p, GH_E_PARSE, p->pos, "unexpected end of input");
        rc = step(p, &st);
        if (rc)
            return rc;
    }
    if (p->pos != p->n)
        return fail(p, GH_E_PARSE, p->pos, "trailing bytes after value");
    return GH_OK;
}

enum gh_rc gh_json_parse(struct gh_arena *a, const char *src, size_t len,
                         const struct gh_json_limits *lim, struct gh_json_doc *doc,
                         struct gh_json_err *err)
{
    struct parser p = {.s = src, .a = a, .err = err, .doc = doc};
    limits_fill(&p.lim, lim);
    *doc = (struct gh_json_doc){.src = src, .len = len};
    if (len > p.lim.max_bytes)
        return fail(&p, GH_E_LIMIT, p.lim.max_bytes, "document too large");
    p.n = (uint32_t)len;
    /* JSON-RPC bodies average well over 8 bytes a token, so small ones never grow; big ones
     * (a large string, say) should not reserve tokens they will not use, so start bounded. */
    p.cap = (uint32_t)GH_MIN((size_t)p.lim.max_tokens, GH_MIN(len / 8 + 16, (size_t)4096));
    p.toks = gh_arena_alloc(a, (size_t)p.cap * sizeof(*p.toks));
    p.stack = gh_arena_alloc(a, (size_t)p.lim.max_depth * sizeof(*p.stack));
    doc->toks = p.toks;
    return run(&p);
}
