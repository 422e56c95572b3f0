/*
 * json/internal.h: the decoded-byte iterator shared by the parser (duplicate names), the
 * accessors and the JSON-RPC layer. It walks the contents of an already validated string token
 * and yields its decoded UTF-8 bytes one at a time, so names compare without allocating.
 */
#ifndef GH_JSON_INTERNAL_H
#define GH_JSON_INTERNAL_H

#include "core/core.h"
#include "json/json.h"

struct gh_json_dec {
    const char *p;         /* next input byte */
    const char *end;       /* one past the closing quote's predecessor */
    unsigned char pend[4]; /* pending decoded bytes of one code point */
    uint8_t npend;         /* bytes in pend */
    uint8_t ipend;         /* next byte of pend to yield */
};

static inline void gh_json__dec_init(struct gh_json_dec *d, const struct gh_json_doc *doc,
                                     uint32_t i)
{
    const struct gh_json_tok *t = &doc->toks[i];
    d->p = doc->src + t->start + 1;
    d->end = doc->src + t->start + t->len - 1;
    d->npend = d->ipend = 0;
}

/** Hex value of four validated hex digits. */
static inline uint32_t gh_json__hex4(const char *p)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)p[k];
        v = (v << 4) | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/** Encodes code point cp as UTF-8 into out; returns the byte count. */
static inline uint8_t gh_json__utf8(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/** Decodes one escape at d->p (which points at the backslash) into d->pend. */
static inline void gh_json__dec_escape(struct gh_json_dec *d)
{
    char c = d->p[1];
    d->ipend = 0;
    d->npend = 1;
    d->p += 2;
    switch (c) {
    case 'b':
        d->pend[0] = '\b';
        return;
    case 'f':
        d->pend[0] = '\f';
        return;
    case 'n':
        d->pend[0] = '\n';
        return;
    case 'r':
        d->pend[0] = '\r';
        return;
    case 't':
        d->pend[0] = '\t';
        return;
    case 'u':
        break;
    default:
        d->pend[0] = (unsigned char)c;
        return; /* " \ / */
    }
    uint32_t cp = gh_json__hex4(d->p);
    d->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* the parser guaranteed the low half follows */
        uint32_t lo = gh_json__hex4(d->p + 2);
        d->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    d->npend = gh_json__utf8(cp, d->pend);
}

/** Next decoded byte, or -1 at the end of the string. */
static inline int gh_json__dec_next(struct gh_json_dec *d)
{
    if (d->ipend < d->npend)
        return d->pend[d->ipend++];
    if (d->p >= d->end)
        return -1;
    if (*d->p != '\\')
        return (unsigned char)*d->p++;
    gh_json__dec_escape(d);
    return d->pend[d->ipend++];
}

/** Decoded equality of string token i with raw bytes s[0..n). */
bool gh_json__str_eq_raw(const struct gh_json_doc *doc, uint32_t i, const char *s, size_t n);

/** Decoded equality of two string tokens. */
bool gh_json__str_eq_tok(const struct gh_json_doc *doc, uint32_t i, uint32_t j);

#endif
