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

static void key_of(struct gh_buf *b, const char *key)
{
    if (b->len && b->data[b->len - 1] != '{')
        gh_buf_append(b, ",", 1);
    gh_buf_appendf(b, "\"%s\":", key);
}

static void value_str(struct gh_buf *b, struct gh_slice v)
{
    if (!v.ptr) {
        gh_buf_puts(b, "null");
        return;
    }
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
