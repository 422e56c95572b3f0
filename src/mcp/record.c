/*
 * mcp/record.c owns what the request path writes into the audit trail: one request.decision per
 * JSON-RPC request (who, from where, which session and trace, the action with a digest of its
 * arguments, the decision with rule and policy digest), one request.outcome when the exchange
 * ends (HTTP status, duration, bytes and digest of the answer, its JSON-RPC error code), auth
 * failures, session start and end, and tool definition changes reported by policy/. Tokens, proofs,
 * cookies and argument values are never written.
 */
#include "core/core.h"
#include "audit/audit.h"
#include "mcp/internal.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>

void gh_mcp_gateway_set_audit(struct gh_mcp_gateway *gw, struct gh_audit *a)
{
    gw->audit = a;
    struct gh_policy *p = gh_mcp_policy_get(gw);
    if (p)
        gh_policy_set_change_hook(p, gh_mcp_record_tool_changed, gw);
    gh_policy_unref(p);
}

static void put_source(struct gh_mcp_gateway *gw, struct gh_buf *b, struct gh_http_req *r)
{
    char addr[64], proxy[64];
    bool via = gh_mcp_client_address(gw, r, addr, proxy);
    gh_audit_open_obj(b, "source");
    gh_audit_put_str(b, "address", gh_slice_cstr(addr));
    if (via)
        gh_audit_put_str(b, "proxy", gh_slice_cstr(proxy));
    struct gh_slice ua = gh_http_req_header(r, "User-Agent");
    gh_audit_put_str(b, "user_agent", ua);
    gh_audit_close_obj(b);
}

static void put_principal(struct gh_buf *b, const struct gh_auth_principal *p)
{
    gh_audit_open_obj(b, "principal");
    if (!p) {
        gh_audit_put_str(b, "method", GH_SLICE_LIT("none"));
        gh_audit_close_obj(b);
        return;
    }
    const struct gh_auth_claims *c = &p->claims;
    gh_audit_put_str(b, "iss", c->iss);
    gh_audit_put_str(b, "sub", c->sub);
    gh_audit_put_str(b, "client_id", c->client_id);
    gh_audit_put_list(b, "groups", c->groups, c->ngroups);
    gh_audit_put_list(b, "scopes", c->scopes, c->nscopes);
    gh_audit_put_list(b, "act", c->act, c->nact);
    gh_audit_put_str(b, "method",
                     p->method == GH_AUTH_METHOD_INTROSPECTION ? GH_SLICE_LIT("introspection")
                                                               : GH_SLICE_LIT("jwt"));
    gh_audit_put_str(b, "jti", c->jti);
    gh_audit_close_obj(b);
}

static void put_session(struct gh_buf *b, struct gh_slice sid)
{
    if (!sid.len) {
        gh_audit_put_str(b, "session", (struct gh_slice){0});
        return;
    }
    unsigned char h[32];
    char hex[65];
    gh_sha256(sid.ptr, sid.len, h); /* the id is a bearer handle: recorded as a digest */
    gh_hex_encode(h, 32, hex);
    gh_audit_put_str(b, "session", gh_slice(hex, 16));
}

/* Decisions and auth failures are new records (a full queue refuses the request); outcomes,
 * session records and tool changes are owed by what was already admitted (a reserve). */
static bool emit(struct gh_mcp_gateway *gw, const char *type, struct gh_buf *b)
{
    bool fresh = strcmp(type, "request.decision") == 0 || strcmp(type, "auth.failure") == 0 ||
                 strcmp(type, "session.refused") == 0;
    const char *m = b->data ? b->data : "";
    if ((fresh ? gh_audit_emit : gh_audit_emit_owed)(gw->audit, type, m, b->len) == GH_OK)
        return true;
    GH_LOGE("audit", "a %s record could not be queued", type);
    return false;
}

/* ---- per request ---- */

#define OUTCOME_TAIL 4096 /* a JSON-RPC error answer fits; a result's isError usually does */

struct answer {
    bool found, has_error, tool_error;
    int64_t code;
};

/* One JSON-RPC message: a response (id with result or error) is the answer; the last one wins. */
static void answer_from_message(struct answer *ans, const char *p, size_t n)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    if (gh_json_parse(a, p, n, NULL, &d, &e) != GH_OK || d.toks[0].type != GH_JSON_OBJECT ||
        gh_json_obj_get(&d, 0, "id", 2) < 0)
        goto out;
    int32_t err = gh_json_obj_get(&d, 0, "error", 5);
    int32_t res = gh_json_obj_get(&d, 0, "result", 6);
    if (err < 0 && res < 0)
        goto out;
    *ans = (struct answer){.found = true};
    int32_t code = err >= 0 ? gh_json_obj_get(&d, (uint32_t)err, "code", 4) : -1;
    int64_t v;
    if (code >= 0 && gh_json_int64(&d, (uint32_t)code, &v) == GH_OK) {
        ans->has_error = true;
        ans->code = v;
    }
    int32_t ie = res >= 0 && d.toks[res].type == GH_JSON_OBJECT
                     ? gh_json_obj_get(&d, (uint32_t)res, "isError", 7)
                     : -1;
    ans->tool_error = ie >= 0 && d.toks[ie].type == GH_JSON_TRUE;
out:
    gh_arena_free(a);
}

static enum gh_rc answer_from_event(void *arg, const struct gh_sse_event *ev)
{
    if (ev->has_data)
        answer_from_message(arg, ev->data.ptr, ev->data.len);
    return GH_OK;
}

/* The answer is read from the body's tail: a JSON body kept whole, or the SSE events that end
 * the stream (the response to a POST comes last). A longer answer is not read: its code is
 * then unknown, which the record shows by leaving rpc_error out. */
static void answer_from_tail(struct gh_http_req *r, struct answer *ans)
{
    char tail[OUTCOME_TAIL];
    size_t n = gh_http_req_resp_tail(r, tail, sizeof(tail));
    bool whole = gh_http_req_resp_bytes(r) == n;
    size_t i = 0;
    while (i < n && (tail[i] == ' ' || tail[i] == '\r' || tail[i] == '\n' || tail[i] == '\t'))
        i++;
    if (i == n)
        return;
    if (tail[i] == '{') {
        if (whole)
            answer_from_message(ans, tail + i, n - i);
        return;
    }
    size_t start = 0;
    if (!whole) { /* the window starts mid-event: skip to the next event boundary */
        const char *b = memmem(tail, n, "\n\n", 2);
        if (!b)
            return;
        start = (size_t)(b - tail) + 2;
    }
    struct gh_sse_parser sp;
    gh_sse_parser_init(&sp, OUTCOME_TAIL * 2);
    gh_sse_parser_feed(&sp, tail + start, n - start, answer_from_event, ans);
    gh_sse_parser_feed(&sp, "\n\n", 2, answer_from_event, ans);
    gh_sse_parser_release(&sp);
}

/* The members of the answer's result the gateway removed (redact.results), if any. */
static void put_result_redactions(struct gh_buf *b, struct gh_mcp_reqaudit *ra)
{
    unsigned mask = atomic_load(&ra->redacted_results);
    const char *const *ptrs;
    size_t np =
        gh_prop_upstream_result_redactions(gh_prop_upstream(ra->gw->prop, ra->upstream), &ptrs);
    struct gh_slice red[GH_PROP_MAX_REDACTIONS];
    uint32_t n = 0;
    for (size_t i = 0; i < np; i++)
        if (mask & (1u << i))
            red[n++] = gh_slice_cstr(ptrs[i]);
    if (n)
        gh_audit_put_list(b, "redacted", red, n);
}

static void outcome_on_free(void *arg)
{
    struct gh_mcp_reqaudit *ra = arg;
    uint64_t dur = gh_clock_us() - ra->t0_us;
    gh_metric_latency(ra->upstream, dur);
    if (!ra->gw->audit)
        return;
    struct answer ans = {0};
    /* the answer's error code and isError are results: read only where that is allowed */
    if (gh_prop_upstream_inspect(gh_prop_upstream(ra->gw->prop, ra->upstream)) ==
        GH_PROP_INSPECT_RESULTS)
        answer_from_tail(ra->r, &ans);
    unsigned char h[32];
    char dig[7 + 65] = "sha256:";
    bool has_digest = gh_http_req_resp_digest(ra->r, h);
    gh_hex_encode(h, 32, dig + 7);
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    gh_audit_put_str(&b, "rid", gh_slice_cstr(ra->rid));
    gh_audit_put_trace(&b, &ra->trace);
    gh_audit_open_obj(&b, "outcome");
    gh_audit_put_int(&b, "http_status", gh_http_req_resp_status(ra->r));
    gh_audit_put_int(&b, "duration_us", (int64_t)dur);
    gh_audit_put_int(&b, "result_bytes", (int64_t)gh_http_req_resp_bytes(ra->r));
    if (has_digest)
        gh_audit_put_id(&b, "result_digest", gh_slice(dig, 71));
    if (ans.has_error)
        gh_audit_put_int(&b, "rpc_error", ans.code);
    if (ans.tool_error)
        gh_audit_put_bool(&b, "tool_error", true);
    put_result_redactions(&b, ra);
    gh_audit_close_obj(&b);
    emit(ra->gw, "request.outcome", &b);
    gh_buf_release(&b);
}

struct gh_mcp_reqaudit *gh_mcp_reqaudit_new(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                            size_t upstream)
{
    struct gh_mcp_reqaudit *ra = gh_arena_calloc(gh_http_req_arena(r), sizeof(*ra));
    unsigned char id[8];
    gh_random_bytes(id, sizeof(id));
    gh_hex_encode(id, sizeof(id), ra->rid);
    gh_audit_trace_from(gh_http_req_header(r, "traceparent"), &ra->trace);
    ra->t0_us = gh_clock_us();
    ra->gw = gw;
    ra->r = r;
    ra->upstream = upstream;
    gh_http_req_on_free(r, outcome_on_free, ra); /* the latency metric, and the outcome record */
    if (gw->audit)
        gh_http_req_observe_body(r, OUTCOME_TAIL);
    return ra;
}

bool gh_mcp_record_decision(struct gh_mcp_gateway *gw, const struct gh_mcp_reqaudit *ra,
                            const struct gh_auth_principal *p, const struct gh_policy_action *a,
                            const struct gh_policy_decision *d)
{
    if (!gw->audit || !ra)
        return true;
    struct gh_buf b;
    gh_buf_init(&b, 8192);
    gh_audit_put_str(&b, "rid", gh_slice_cstr(ra->rid));
    put_principal(&b, p);
    put_source(gw, &b, ra->r);
    put_session(&b, gh_http_req_header(ra->r, "Mcp-Session-Id"));
    gh_audit_put_trace(&b, &ra->trace);
    gh_audit_open_obj(&b, "action");
    gh_audit_put_id(&b, "method", a->method);
    gh_audit_put_id(&b, "upstream", a->upstream.len ? a->upstream : (struct gh_slice){0});
    /* a valid tool or prompt name is an identifier; a URI or an invalid name is outside text */
    if (a->kind != GH_POLICY_K_RESOURCE && gh_policy_name_valid(a->name))
        gh_audit_put_id(&b, "name", a->name);
    else
        gh_audit_put_str(&b, "name", a->name.len ? a->name : (struct gh_slice){0});
    const struct gh_prop_upstream *pu = gh_prop_upstream(gw->prop, ra->upstream);
    bool args_readable = gh_prop_upstream_inspect(pu) >= GH_PROP_INSPECT_ARGUMENTS;
    struct gh_slice args = args_readable && a->args && a->args_tok >= 0
                               ? gh_json_raw(a->args, (uint32_t)a->args_tok)
                               : (struct gh_slice){0};
    gh_audit_put_digest(&b, "arguments_digest", args);
    gh_audit_close_obj(&b);
    gh_audit_open_obj(&b, "decision");
    gh_audit_put_str(&b, "effect", gh_slice_cstr(d->verdict == GH_ALLOW ? "allow" : "deny"));
    gh_audit_put_str(&b, "rule",
                     d->rule && d->rule[0] ? gh_slice_cstr(d->rule) : (struct gh_slice){0});
    gh_audit_put_str(&b, "policy", gh_slice_cstr(d->digest ? d->digest : "none"));
    gh_audit_put_str(&b, "reason", gh_slice_cstr(gh_policy_reason_str(d->reason)));
    gh_audit_close_obj(&b);
    /* what the gateway read and changed, and what identity the upstream gets (declared per
     * upstream: docs/gateway-policy.md) */
    gh_audit_open_obj(&b, "inspection");
    gh_audit_put_id(&b, "read", gh_slice_cstr(gh_prop_inspect_str(gh_prop_upstream_inspect(pu))));
    struct gh_slice red[GH_PROP_MAX_REDACTIONS];
    for (size_t i = 0; i < ra->nredacted; i++)
        red[i] = gh_slice_cstr(ra->redacted[i]);
    gh_audit_put_list(&b, "redacted", red, (uint32_t)ra->nredacted);
    const char *const *rptrs;
    size_t nr = gh_prop_upstream_result_redactions(pu, &rptrs);
    for (size_t i = 0; i < nr; i++)
        red[i] = gh_slice_cstr(rptrs[i]);
    if (nr) /* declared: applied to the answer before the client sees it */
        gh_audit_put_list(&b, "redact_results", red, (uint32_t)nr);
    gh_audit_close_obj(&b);
    gh_audit_open_obj(&b, "propagation");
    gh_audit_put_id(&b, "mode", gh_slice_cstr(gh_prop_mode_str(gh_prop_upstream_mode(pu))));
    const char *aud = gh_prop_upstream_audience(pu);
    gh_audit_put_str(&b, "audience", aud[0] ? gh_slice_cstr(aud) : (struct gh_slice){0});
    gh_audit_put_bool(&b, "static_credential", gh_prop_upstream_static(pu));
    gh_audit_close_obj(&b);
    bool ok = emit(gw, "request.decision", &b);
    gh_buf_release(&b);
    return ok;
}

void gh_mcp_record_auth_failure(struct gh_mcp_gateway *gw, struct gh_http_req *r, int status,
                                const char *error, const char *reason)
{
    if (!gw->audit)
        return;
    struct gh_audit_trace t;
    gh_audit_trace_from(gh_http_req_header(r, "traceparent"), &t);
    struct gh_buf b;
    gh_buf_init(&b, 2048);
    put_source(gw, &b, r);
    gh_audit_put_trace(&b, &t);
    gh_audit_open_obj(&b, "auth");
    gh_audit_put_int(&b, "status", status);
    gh_audit_put_str(&b, "error", error ? gh_slice_cstr(error) : (struct gh_slice){0});
    gh_audit_put_str(&b, "reason", reason ? gh_slice_cstr(reason) : (struct gh_slice){0});
    gh_audit_close_obj(&b);
    emit(gw, "auth.failure", &b);
    gh_buf_release(&b);
}

void gh_mcp_record_session_refused(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                   const struct gh_auth_principal *p, const char *reason)
{
    GH_LOGW("mcp", "a live session id was presented %s: answered 404",
            strcmp(reason, "other_principal") == 0 ? "by another principal" : "on another route");
    if (!gw->audit)
        return;
    struct gh_audit_trace t;
    gh_audit_trace_from(gh_http_req_header(r, "traceparent"), &t);
    struct gh_buf b;
    gh_buf_init(&b, 2048);
    put_principal(&b, p);
    put_source(gw, &b, r);
    put_session(&b, gh_http_req_header(r, "Mcp-Session-Id"));
    gh_audit_put_trace(&b, &t);
    gh_audit_put_id(&b, "reason", gh_slice_cstr(reason));
    emit(gw, "session.refused", &b);
    gh_buf_release(&b);
}

void gh_mcp_record_session(struct gh_mcp_gateway *gw, const struct gh_mcp_session *s, bool start,
                           const char *reason)
{
    if (!gw->audit)
        return;
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    put_session(&b, gh_slice_cstr(s->id));
    gh_audit_put_str(&b, "principal_key",
                     s->principal[0] ? gh_slice_cstr(s->principal) : (struct gh_slice){0});
    if (!start)
        gh_audit_put_str(&b, "reason", gh_slice_cstr(reason ? reason : "closed"));
    emit(gw, start ? "session.start" : "session.end", &b);
    gh_buf_release(&b);
}

void gh_mcp_record_tool_changed(void *arg, struct gh_slice upstream, struct gh_slice name,
                                const char *approved, const char *now)
{
    struct gh_mcp_gateway *gw = arg;
    if (!gw->audit)
        return;
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    gh_audit_put_str(&b, "upstream", upstream);
    gh_audit_put_str(&b, "name", name);
    gh_audit_open_obj(&b, "digest");
    gh_audit_put_str(&b, "approved",
                     approved && approved[0] ? gh_slice_cstr(approved) : (struct gh_slice){0});
    gh_audit_put_str(&b, "now", gh_slice_cstr(now));
    gh_audit_close_obj(&b);
    emit(gw, "tool.definition_changed", &b);
    gh_buf_release(&b);
}
