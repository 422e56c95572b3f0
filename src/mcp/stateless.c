/*
 * mcp/stateless.c owns the 2026-07-28 (stateless) revision at the gateway's edge: requests that
 * choose it are checked the way an intermediary must (MCP-Protocol-Version, Mcp-Method and
 * Mcp-Name against the body, the per-request _meta envelope) before they are routed on headers,
 * and are forwarded without any session (docs/internals/mcp-2026.md).
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>

#define V2026        "2026-07-28"
#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS    "io.modelcontextprotocol/clientCapabilities"

/* Every version the gateway speaks to clients, newest first. */
static const char *const ALL_VERSIONS[] = {V2026, "2025-11-25", "2025-06-18", "2025-03-26"};

bool gh_mcp_stateless_request(struct gh_http_req *r)
{
    struct gh_slice v = gh_http_req_header(r, "MCP-Protocol-Version");
    return v.len >= 4 && memcmp(v.ptr, "2026", 4) >= 0 && !gh_mcp_version_known(v);
}

/* 400 -32022 with the versions we serve and the one asked for (escaped: it is client input). */
void gh_mcp_reply_unsupported_version(struct gh_http_req *r, struct gh_slice id,
                                      struct gh_slice requested)
{
    gh_mcp_reply_unsupported_version_of(r, id, requested, true);
}

void gh_mcp_reply_unsupported_version_of(struct gh_http_req *r, struct gh_slice id,
                                         struct gh_slice requested, bool all_eras)
{
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    gh_buf_append(&b, "{\"jsonrpc\":\"2.0\",\"id\":", 22);
    if (id.len)
        gh_buf_append(&b, id.ptr, id.len);
    else
        gh_buf_append(&b, "null", 4);
    gh_buf_appendf(&b,
                   ",\"error\":{\"code\":%d,\"message\":\"Unsupported protocol version\","
                   "\"data\":{\"supported\":[",
                   GH_MCP_ERR_UNSUPPORTED_VERSION);
    for (size_t i = all_eras ? 0 : 1; i < GH_ARRAY_LEN(ALL_VERSIONS); i++)
        gh_buf_appendf(&b, "%s\"%s\"", i > (all_eras ? 0u : 1u) ? "," : "", ALL_VERSIONS[i]);
    gh_buf_append(&b, "],\"requested\":", 14);
    gh_json_write_str(&b, requested.ptr ? requested.ptr : "", requested.len);
    gh_buf_append(&b, "}}}", 3);
    gh_http_resp_simple(r, 400, "application/json", b.data, b.len, NULL, 0);
    gh_buf_release(&b);
}

/* A header value as the spec encodes it: literal, or =?base64?...?= around UTF-8 bytes. */
static bool header_value(struct gh_arena *a, struct gh_slice raw, struct gh_slice *out)
{
    raw = gh_slice_trim(raw);
    if (raw.len < 11 || memcmp(raw.ptr, "=?base64?", 9) != 0 ||
        memcmp(raw.ptr + raw.len - 2, "?=", 2) != 0) {
        *out = raw;
        return true;
    }
    size_t n = raw.len - 11, got;
    unsigned char *buf = gh_arena_alloc(a, n + 1);
    if (gh_b64_decode(raw.ptr + 9, n, buf, n + 1, &got) != GH_OK)
        return false;
    *out = gh_slice((const char *)buf, got);
    return true;
}

/* The body member a method mirrors into Mcp-Name, or NULL when it has none. */
static const char *name_member(struct gh_slice method)
{
    if (gh_slice_eq_cstr(method, "tools/call") || gh_slice_eq_cstr(method, "prompts/get"))
        return "name";
    if (gh_slice_eq_cstr(method, "resources/read"))
        return "uri";
    return NULL;
}

/* Checks a 2026 request against its headers; answers and returns false on any failure. */
static bool check_envelope(struct gh_http_req *r, const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    const struct gh_json_doc *d = &body->doc;
    struct gh_arena *a = gh_http_req_arena(r);
    int32_t meta = m->params >= 0 && d->toks[m->params].type == GH_JSON_OBJECT
                       ? gh_json_obj_get(d, (uint32_t)m->params, "_meta", 5)
                       : -1;
    int32_t pv = meta >= 0 && d->toks[meta].type == GH_JSON_OBJECT
                     ? gh_json_obj_get(d, (uint32_t)meta, META_VERSION, strlen(META_VERSION))
                     : -1;
    int32_t caps = meta >= 0 && d->toks[meta].type == GH_JSON_OBJECT
                       ? gh_json_obj_get(d, (uint32_t)meta, META_CAPS, strlen(META_CAPS))
                       : -1;
    struct gh_slice v;
    if (pv < 0 || caps < 0 || gh_json_str(d, a, (uint32_t)pv, &v) != GH_OK) {
        gh_mcp_reply_error(r, 400, m->id_raw, GH_JSONRPC_INVALID_PARAMS,
                           "Invalid params: the request lacks the _meta envelope "
                           "(protocolVersion and clientCapabilities)");
        return false;
    }
    const char *what = NULL;
    struct gh_slice method_h = gh_slice_trim(gh_http_req_header(r, "Mcp-Method"));
    if (!gh_slice_eq(v, gh_slice_trim(gh_http_req_header(r, "MCP-Protocol-Version"))))
        what = "Header mismatch: MCP-Protocol-Version differs from _meta protocolVersion";
    else if (!method_h.ptr || !gh_slice_eq(method_h, m->method))
        what = "Header mismatch: Mcp-Method differs from the body's method";
    const char *member = name_member(m->method);
    if (!what && member) {
        struct gh_slice want = member[0] == 'n' ? m->name : m->uri, got;
        struct gh_slice raw = gh_http_req_header(r, "Mcp-Name");
        if (!raw.ptr || !header_value(a, raw, &got) || !gh_slice_eq(got, want))
            what = "Header mismatch: Mcp-Name differs from the body";
    }
    if (what) {
        gh_mcp_reply_error(r, 400, m->id_raw, GH_MCP_ERR_HEADER_MISMATCH, what);
        return false;
    }
    return true;
}

void gh_mcp_stateless_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *route,
                           struct gh_http_req *r, const struct gh_jsonrpc_body *body)
{
    const struct gh_upstream *rt = route->u;
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct gh_slice hv = gh_slice_trim(gh_http_req_header(r, "MCP-Protocol-Version"));
    /* a session-era upstream cannot take a stateless request: the gateway holds a session */
    bool stdio = route->ep || gh_mcp_bridged(rt) ||
                 gh_upstream_era(gw->upstreams, rt) == GH_UPSTREAM_ERA_SESSION;
    if (!gh_slice_eq_cstr(hv, V2026)) {
        /* a version the gateway does not interpret: an HTTP upstream answers for itself (its
         * supported list is the truth); a stdio child speaks only the session era */
        if (stdio)
            gh_mcp_reply_unsupported_version_of(r, m->id_raw, hv, true);
        else
            gh_mcp_proxy_post_stateless(gw, rt, r,
                                        body->batch ? NULL : gh_mcp_list_method(m->method));
        return;
    }
    if (body->batch) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Invalid Request: JSON-RPC batches are not part of 2026-07-28");
        return;
    }
    if (m->kind == GH_JSONRPC_REQUEST && !check_envelope(r, body))
        return;
    if (stdio) {
        /* a stdio child or an aggregate speaks the session era: the gateway holds a session for
         * each principal (bridge.c), so no caller's state reaches another */
        if (m->kind == GH_JSONRPC_REQUEST)
            gh_mcp_held_post(gw, route, r, m->id_raw);
        else
            gh_http_resp_simple(r, 202, NULL, NULL, 0, NULL, 0);
        return;
    }
    gh_mcp_proxy_post_stateless(gw, rt, r, body->batch ? NULL : gh_mcp_list_method(m->method));
}
