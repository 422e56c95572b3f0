/*
 * audit/record.c owns building record members: escaped and length-capped strings (a cut value
 * keeps a digest of the whole), lists, digests, and the W3C trace context of a request
 * (accepted from a valid traceparent, else minted).
 */
#include "core/core.h"
#include "audit/audit.h"
#include "json/json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>

static void key_of(struct gh_buf *b, const char *key)
{
    if (b->len && b->data[b->len - 1] != '{')
        gh_buf_append(b, ",", 1);
    gh_buf_appendf(b, "\"%s\":", key);
}

/* ---- secret-shaped values: redacted before anything is written ---- */

struct secret_shape {
    const char *prefix; /* case-sensitive */
    size_t min_tail;    /* token characters needed after the prefix */
    const char *kind;
};

static const struct secret_shape SHAPES[] = {
    {"eyJ", 20, "jwt"}, /* a JWT or any base64url JSON header: at least one dot follows */
    {"ghp_", 30, "github"},     {"gho_", 30, "github"},
    {"ghu_", 30, "github"},     {"ghs_", 30, "github"},
    {"ghr_", 30, "github"},     {"github_pat_", 30, "github"},
    {"glpat-", 20, "gitlab"},   {"xoxb-", 10, "slack"},
    {"xoxp-", 10, "slack"},     {"xoxa-", 10, "slack"},
    {"xoxs-", 10, "slack"},     {"sk-ant-", 20, "anthropic"},
    {"sk-", 20, "openai"},      {"AKIA", 16, "aws"},
    {"ASIA", 16, "aws"},        {"sk_live_", 16, "stripe"},
    {"rk_live_", 16, "stripe"}, {"AIza", 30, "gcp"},
    {"hf_", 30, "huggingface"}, {"npm_", 30, "npm"},
    {"Bearer ", 16, "bearer"},  {"-----BEGIN ", 5, "private key"},
};

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '=' || c == '+' || c == '/' || c == '~';
}

/* A secret starting at p (a word boundary): its length and kind, or 0. */
static size_t secret_at(const char *p, size_t n, const char **kind)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(SHAPES); i++) {
        size_t pl = strlen(SHAPES[i].prefix);
        if (n < pl || memcmp(p, SHAPES[i].prefix, pl) != 0)
            continue;
        size_t t = pl;
        while (t < n && token_char((unsigned char)p[t]))
            t++;
        if (t - pl < SHAPES[i].min_tail)
            continue;
        if (i == 0 && !memchr(p, '.', t)) /* eyJ...: only with a JWS dot */
            continue;
        *kind = SHAPES[i].kind;
        return t;
    }
    /* key=, token=, secret=, password= in a query string or a header-like value */
    static const char *const keys[] = {"key=", "token=", "secret=", "password=", "apikey="};
    for (size_t i = 0; i < GH_ARRAY_LEN(keys); i++) {
        size_t kl = strlen(keys[i]), t = kl;
        if (n < kl || strncasecmp(p, keys[i], kl) != 0)
            continue;
        while (t < n && token_char((unsigned char)p[t]))
            t++;
        if (t - kl >= 8) {
            *kind = "credential";
            return t;
        }
    }
    return 0;
}

/* v with every secret-shaped run replaced by "[redacted:<kind>]"; NULL when there is none. */
static char *redact(struct gh_slice v, size_t *outlen)
{
    struct gh_buf o;
    bool any = false;
    size_t last = 0;
    gh_buf_init(&o, v.len + 64);
    for (size_t i = 0; i < v.len; i++) {
        if (i > 0 && token_char((unsigned char)v.ptr[i - 1]) && v.ptr[i - 1] != '.' &&
            v.ptr[i - 1] != '/')
            continue; /* inside a word: secrets start at a boundary */
        const char *kind = NULL;
        size_t n = secret_at(v.ptr + i, v.len - i, &kind);
        if (!n)
            continue;
        gh_buf_append(&o, v.ptr + last, i - last);
        gh_buf_appendf(&o, "[redacted:%s]", kind);
        i += n - 1;
        last = i + 1;
        any = true;
    }
    if (!any) {
        gh_buf_release(&o);
        return NULL;
    }
    gh_buf_append(&o, v.ptr + last, v.len - last);
    *outlen = o.len;
    char *out = gh_xstrndup(o.data, o.len);
    gh_buf_release(&o);
    return out;
}

static void value_plain(struct gh_buf *b, struct gh_slice v);

static void value_str(struct gh_buf *b, struct gh_slice v)
{
    if (!v.ptr) {
        gh_buf_puts(b, "null");
        return;
    }
    size_t rl = 0;
    char *r = redact(v, &rl);
    if (r) {
        value_plain(b, gh_slice(r, rl));
        free(r);
        return;
    }
    value_plain(b, v);
}

/* Escaped, and cut past GH_AUDIT_VALUE_MAX with the length and a digest of the whole. */
static void value_plain(struct gh_buf *b, struct gh_slice v)
{
    if (v.len <= GH_AUDIT_VALUE_MAX) {
        gh_json_write_str(b, v.ptr, v.len);
        return;
    }
    /* cut at a UTF-8 boundary, then say what the whole was */
    size_t cut = GH_AUDIT_VALUE_MAX;
    while (cut > 0 && ((unsigned char)v.ptr[cut] & 0xC0) == 0x80)
        cut--;
    unsigned char h[32];
    char hex[65], tail[96];
    gh_sha256(v.ptr, v.len, h);
    gh_hex_encode(h, 32, hex);
    int n = snprintf(tail, sizeof(tail), "\xE2\x80\xA6(%zu bytes, sha256:%.16s)", v.len, hex);
    struct gh_buf tmp;
    gh_buf_init(&tmp, cut + (size_t)n + 1);
    gh_buf_append(&tmp, v.ptr, cut);
    gh_buf_append(&tmp, tail, (size_t)n);
    gh_json_write_str(b, tmp.data, tmp.len);
    gh_buf_release(&tmp);
}

void gh_audit_put_str(struct gh_buf *b, const char *key, struct gh_slice v)
{
    key_of(b, key);
    value_str(b, v);
}

void gh_audit_put_id(struct gh_buf *b, const char *key, struct gh_slice v)
{
    key_of(b, key);
    if (!v.ptr)
        gh_buf_puts(b, "null");
    else
        value_plain(b, v);
}

void gh_audit_put_int(struct gh_buf *b, const char *key, int64_t n)
{
    key_of(b, key);
    gh_buf_appendf(b, "%lld", (long long)n);
}

void gh_audit_put_list(struct gh_buf *b, const char *key, const struct gh_slice *v, uint32_t n)
{
    key_of(b, key);
    gh_buf_append(b, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            gh_buf_append(b, ",", 1);
        value_str(b, v[i]);
    }
    gh_buf_append(b, "]", 1);
}

void gh_audit_put_bool(struct gh_buf *b, const char *key, bool v)
{
    key_of(b, key);
    gh_buf_puts(b, v ? "true" : "false");
}

void gh_audit_put_digest(struct gh_buf *b, const char *key, struct gh_slice v)
{
    key_of(b, key);
    if (!v.ptr) {
        gh_buf_puts(b, "null");
        return;
    }
    unsigned char h[32];
    char hex[65];
    gh_sha256(v.ptr, v.len, h);
    gh_hex_encode(h, 32, hex);
    gh_buf_appendf(b, "\"sha256:%s\"", hex);
}

void gh_audit_open_obj(struct gh_buf *b, const char *key)
{
    key_of(b, key);
    gh_buf_append(b, "{", 1);
}

void gh_audit_close_obj(struct gh_buf *b)
{
    gh_buf_append(b, "}", 1);
}

static bool hex_ok(const char *p, size_t n)
{
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
        nonzero |= p[i] != '0';
    }
    return nonzero;
}

void gh_audit_trace_from(struct gh_slice tp, struct gh_audit_trace *t)
{
    unsigned char r[24];
    gh_random_bytes(r, sizeof(r));
    gh_hex_encode(r + 16, 8, t->span_id);
    t->parent[0] = '\0';
    /* 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags> (W3C Trace Context, level 1) */
    if (tp.len == 55 && memcmp(tp.ptr, "00-", 3) == 0 && tp.ptr[35] == '-' && tp.ptr[52] == '-' &&
        hex_ok(tp.ptr + 3, 32) && hex_ok(tp.ptr + 36, 16)) {
        memcpy(t->trace_id, tp.ptr + 3, 32);
        t->trace_id[32] = '\0';
        memcpy(t->parent, tp.ptr + 36, 16);
        t->parent[16] = '\0';
        return;
    }
    gh_hex_encode(r, 16, t->trace_id);
}

void gh_audit_put_trace(struct gh_buf *b, const struct gh_audit_trace *t)
{
    gh_audit_open_obj(b, "trace");
    gh_buf_appendf(b, "\"trace_id\":\"%s\",\"span_id\":\"%s\"", t->trace_id, t->span_id);
    if (t->parent[0])
        gh_buf_appendf(b, ",\"parent_id\":\"%s\"", t->parent);
    gh_audit_close_obj(b);
}
