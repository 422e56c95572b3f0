/*
 * http/url.c owns the strict parser for absolute http(s) URLs: upstream URLs from the config and
 * Origin values from clients. It splits and validates; it never decodes, resolves or normalises,
 * so what it accepts is exactly what the caller will send or compare.
 */
#include "core/core.h"
#include "http/http_parse.h"

/* Anything outside printable ASCII, plus the characters that make parsers disagree ('\' is a
 * path separator to browsers, '#' starts a fragment that must never reach a server). */
static bool bad_byte(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '\\' || c == '#' || c == '"' || c == '<' || c == '>';
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool name_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' ||
           c == '.' || c == '_';
}

/* Every byte acceptable and every '%' followed by two hex digits. */
static enum gh_rc check_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (bad_byte(c))
            return GH_E_PARSE;
        if (c == '%' &&
            (i + 2 >= len || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2])))
            return GH_E_PARSE;
    }
    return GH_OK;
}

static enum gh_rc parse_scheme(const char *s, size_t len, struct gh_url *out, size_t *pos)
{
    if (len >= 7 && gh_slice_caseeq_cstr(gh_slice(s, 7), "http://")) {
        out->scheme = gh_slice(s, 4);
        out->port = 80;
        *pos = 7;
        return GH_OK;
    }
    if (len >= 8 && gh_slice_caseeq_cstr(gh_slice(s, 8), "https://")) {
        out->scheme = gh_slice(s, 5);
        out->port = 443;
        out->tls = true;
        *pos = 8;
        return GH_OK;
    }
    return GH_E_PARSE;
}

/* 1-5 digits, 1..65535; an empty port after ':' is refused although RFC 3986 allows it. */
static enum gh_rc parse_port(struct gh_slice p, uint16_t *out)
{
    if (p.len == 0 || p.len > 5)
        return GH_E_PARSE;
    unsigned v = 0;
    for (size_t i = 0; i < p.len; i++) {
        if (p.ptr[i] < '0' || p.ptr[i] > '9')
            return GH_E_PARSE;
        v = v * 10 + (unsigned)(p.ptr[i] - '0');
    }
    if (v == 0 || v > 65535)
        return GH_E_PARSE;
    *out = (uint16_t)v;
    return GH_OK;
}

/* "[v6]" literal: hex digits, ':' and '.' (embedded IPv4); zone identifiers are refused. */
static enum gh_rc parse_ipv6(struct gh_slice a, struct gh_url *out, size_t *used)
{
    const char *close = memchr(a.ptr, ']', a.len);
    if (!close || close == a.ptr + 1)
        return GH_E_PARSE;
    struct gh_slice h = gh_slice(a.ptr + 1, (size_t)(close - a.ptr - 1));
    bool colon = false;
    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.ptr[i];
        if (!is_hex(c) && c != ':' && c != '.')
            return GH_E_PARSE;
        colon |= c == ':';
    }
    if (!colon || h.len > 45)
        return GH_E_PARSE;
    out->host = h;
    out->ipv6_literal = true;
    *used = h.len + 2;
    return GH_OK;
}

static enum gh_rc parse_name(struct gh_slice a, struct gh_url *out, size_t *used)
{
    size_t i = 0;
    while (i < a.len && a.ptr[i] != ':') {
        if (!name_char((unsigned char)a.ptr[i]))
            return GH_E_PARSE;
        if (a.ptr[i] == '.' && (i == 0 || a.ptr[i - 1] == '.'))
            return GH_E_PARSE; /* empty label */
        i++;
    }
    if (i == 0 || i > 253)
        return GH_E_PARSE;
    out->host = gh_slice(a.ptr, i);
    *used = i;
    return GH_OK;
}

static enum gh_rc parse_authority(struct gh_slice a, struct gh_url *out)
{
    size_t used = 0;
    if (a.len == 0 || memchr(a.ptr, '@', a.len))
        return GH_E_PARSE; /* no host, or userinfo */
    enum gh_rc rc = a.ptr[0] == '[' ? parse_ipv6(a, out, &used) : parse_name(a, out, &used);
    if (rc)
        return rc;
    if (used == a.len)
        return GH_OK;
    if (a.ptr[used] != ':')
        return GH_E_PARSE;
    return parse_port(gh_slice(a.ptr + used + 1, a.len - used - 1), &out->port);
}

enum gh_rc gh_url_parse(const char *s, size_t len, struct gh_url *out)
{
    size_t pos = 0;
    memset(out, 0, sizeof(*out));
    if (check_chars(s, len))
        return GH_E_PARSE;
    enum gh_rc rc = parse_scheme(s, len, out, &pos);
    if (rc)
        return rc;
    size_t end = pos;
    while (end < len && s[end] != '/' && s[end] != '?')
        end++;
    rc = parse_authority(gh_slice(s + pos, end - pos), out);
    if (rc)
        return rc;
    const char *q = end < len ? memchr(s + end, '?', len - end) : NULL;
    size_t path_end = q ? (size_t)(q - s) : len;
    out->path = path_end > end ? gh_slice(s + end, path_end - end) : GH_SLICE_LIT("/");
    out->query = q ? gh_slice(q + 1, len - path_end - 1) : gh_slice(NULL, 0);
    return GH_OK;
}
