/*
 * mcp/trace.c owns W3C trace context across the gateway's hop: the caller's trace taken from the
 * traceparent header or, when there is none, from params._meta.traceparent (where MCP clients
 * without HTTP headers put it), and the gateway's own span written into params._meta of the
 * requests it sends to upstreams that have no headers to carry it (stdio children) or that read
 * it there (2026-07-28).
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>
#include <string.h>

bool gh_mcp_trace_parent(struct gh_http_req *r, char out[56])
{
    const struct gh_mcp_reqaudit *ra = r ? gh_http_req_app(r) : NULL;
    if (!ra)
        return false;
    snprintf(out, 56, "00-%s-%s-01", ra->trace.trace_id, ra->trace.span_id);
    return true;
}

void gh_mcp_trace_adopt_meta(struct gh_mcp_reqaudit *ra, struct gh_http_req *r,
                             const struct gh_jsonrpc_body *body)
{
    if (!ra || gh_http_req_header(r, "traceparent").ptr || body->batch || body->count != 1)
        return;
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (m->params < 0 || body->doc.toks[m->params].type != GH_JSON_OBJECT)
        return;
    int32_t meta = gh_json_obj_get(&body->doc, (uint32_t)m->params, "_meta", 5);
    int32_t tp = meta >= 0 && body->doc.toks[meta].type == GH_JSON_OBJECT
                     ? gh_json_obj_get(&body->doc, (uint32_t)meta, "traceparent", 11)
                     : -1;
    if (tp < 0 || body->doc.toks[tp].type != GH_JSON_STRING ||
        (body->doc.toks[tp].flags & GH_JSON_F_ESCAPED))
        return; /* a valid traceparent needs no escapes */
    struct gh_slice raw = gh_json_raw(&body->doc, (uint32_t)tp);
    struct gh_audit_trace t;
    gh_audit_trace_from(gh_slice(raw.ptr + 1, raw.len - 2), &t);
    if (t.parent[0]) /* accepted, not minted: the caller's trace */
        ra->trace = t;
}

static char *splice_at(const char *msg, size_t len, size_t at, size_t cut, const char *ins,
                       size_t *outlen)
{
    size_t in = strlen(ins), n = len - cut + in;
    char *out = gh_xmalloc(n + 1);
    memcpy(out, msg, at);
    memcpy(out + at, ins, in);
    memcpy(out + at + in, msg + at + cut, len - at - cut);
    out[n] = '\0';
    *outlen = n;
    return out;
}

char *gh_mcp_trace_meta(const char *msg, size_t len, const char *traceparent, size_t *outlen)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    char ins[128];
    char *out = NULL;
    if (gh_json_parse(a, msg, len, NULL, &d, &e) != GH_OK || d.toks[0].type != GH_JSON_OBJECT ||
        gh_json_obj_get(&d, 0, "method", 6) < 0 || gh_json_obj_get(&d, 0, "id", 2) < 0)
        goto out; /* requests only: notifications and answers start no span upstream */
    int32_t params = gh_json_obj_get(&d, 0, "params", 6);
    if (params < 0) {
        snprintf(ins, sizeof(ins), ",\"params\":{\"_meta\":{\"traceparent\":\"%s\"}}", traceparent);
        out = splice_at(msg, len, d.toks[0].start + d.toks[0].len - 1, 0, ins, outlen);
        goto out;
    }
    if (d.toks[params].type != GH_JSON_OBJECT)
        goto out;
    int32_t meta = gh_json_obj_get(&d, (uint32_t)params, "_meta", 5);
    if (meta < 0) {
        snprintf(ins, sizeof(ins), "\"_meta\":{\"traceparent\":\"%s\"}%s", traceparent,
                 d.toks[params].size ? "," : "");
        out = splice_at(msg, len, d.toks[params].start + 1, 0, ins, outlen);
        goto out;
    }
    if (d.toks[meta].type != GH_JSON_OBJECT)
        goto out;
    int32_t tp = gh_json_obj_get(&d, (uint32_t)meta, "traceparent", 11);
    if (tp >= 0) { /* the caller's own: the upstream's parent is the gateway's span */
        snprintf(ins, sizeof(ins), "\"%s\"", traceparent);
        out = splice_at(msg, len, d.toks[tp].start, d.toks[tp].len, ins, outlen);
        goto out;
    }
    snprintf(ins, sizeof(ins), "\"traceparent\":\"%s\"%s", traceparent,
             d.toks[meta].size ? "," : "");
    out = splice_at(msg, len, d.toks[meta].start + 1, 0, ins, outlen);
out:
    gh_arena_free(a);
    return out;
}
