/*
 * mcp/gateway.c owns the gateway object built from a config generation (its upstream set and
 * session table) and the entry point that runs the ingress checks of the session-era transport
 * and hands the request to the proxy.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>

static enum gh_rc endpoints_build(struct gh_mcp_gateway *gw, char *err, size_t errlen);

enum gh_rc gh_mcp_gateway_new(struct gh_config *cfg, struct gh_mcp_gateway **out, char *err,
                              size_t errlen)
{
    struct gh_mcp_gateway *gw = gh_xcalloc(1, sizeof(*gw));
    gw->cfg = gh_config_ref(cfg);
    pthread_mutex_init(&gw->lock, NULL);
    pthread_mutex_init(&gw->policy_lock, NULL);
    gw->nbuckets = 4096;
    gw->buckets = gh_xcalloc(gw->nbuckets, sizeof(*gw->buckets));
    gw->pcounts = gh_xcalloc(gw->nbuckets, sizeof(*gw->pcounts));
    gh_mcp_trusted_proxies_build(gw);
    enum gh_rc rc = gh_upstream_set_new(cfg, &gw->upstreams, err, errlen);
    if (rc == GH_OK)
        rc = endpoints_build(gw, err, errlen);
    if (rc == GH_OK) {
        struct gh_config_error perr = {0};
        rc = gh_policy_compile(cfg, cfg->policy, &gw->policy, &perr);
        if (rc != GH_OK)
            gh_config_error_format(&perr, err, errlen);
    }
    if (rc == GH_OK) {
        struct gh_config_error perr = {0};
        rc = gh_prop_compile(cfg, cfg->propagation, &gw->prop, &perr);
        if (rc != GH_OK)
            gh_config_error_format(&perr, err, errlen);
        else if (!gh_mcp_inspect_policy_ok(gw, gw->policy, err, errlen))
            rc = GH_E_PARSE;
        else if (gh_prop_signs(gw->prop) && !cfg->auth && !cfg->gateway.insecure_no_auth)
            rc = GH_OK; /* dev mode adds its own issuer later */
    }
    if (rc != GH_OK) {
        gh_mcp_gateway_free(gw);
        return rc;
    }
    *out = gw;
    return GH_OK;
}

struct gh_policy *gh_mcp_policy_get(struct gh_mcp_gateway *gw)
{
    pthread_mutex_lock(&gw->policy_lock);
    struct gh_policy *p = gw->policy ? gh_policy_ref(gw->policy) : NULL;
    pthread_mutex_unlock(&gw->policy_lock);
    return p;
}

struct gh_prop *gh_mcp_gateway_propagation(struct gh_mcp_gateway *gw)
{
    return gw->prop;
}

void gh_mcp_gateway_policy_digest(struct gh_mcp_gateway *gw, char out[72])
{
    struct gh_policy *p = gh_mcp_policy_get(gw);
    snprintf(out, 72, "%s", gh_policy_digest(p));
    gh_policy_unref(p);
}

enum gh_rc gh_mcp_gateway_reload_policy(struct gh_mcp_gateway *gw,
                                        const struct gh_config_node *tree,
                                        struct gh_config_error *err, char before[72],
                                        char after[72])
{
    struct gh_policy *np = NULL;
    enum gh_rc rc = gh_policy_compile(gw->cfg, tree, &np, err);
    if (rc == GH_OK && !gh_mcp_inspect_policy_ok(gw, np, err->msg, sizeof(err->msg))) {
        err->line = err->column = 0;
        err->path[0] = '\0';
        gh_policy_unref(np);
        rc = GH_E_PARSE;
    }
    pthread_mutex_lock(&gw->policy_lock);
    snprintf(before, 72, "%s", gh_policy_digest(gw->policy));
    pthread_mutex_unlock(&gw->policy_lock);
    if (rc != GH_OK) {
        snprintf(after, 72, "%s", before);
        return rc;
    }
    if (gw->audit)
        gh_policy_set_change_hook(np, gh_mcp_record_tool_changed, gw);
    snprintf(after, 72, "%s", gh_policy_digest(np));
    pthread_mutex_lock(&gw->policy_lock);
    struct gh_policy *old = gw->policy;
    gh_policy_adopt_state(np, old);
    gw->policy = np;
    pthread_mutex_unlock(&gw->policy_lock);
    gh_policy_unref(old); /* freed when the last request under it lets go */
    return GH_OK;
}

void gh_mcp_gateway_free(struct gh_mcp_gateway *gw)
{
    if (!gw)
        return;
    gh_policy_unref(gw->policy);
    gh_prop_free(gw->prop);
    for (size_t b = 0; b < gw->nbuckets; b++) {
        while (gw->buckets[b]) {
            struct gh_mcp_session *s = gw->buckets[b];
            gw->buckets[b] = s->next;
            free(s->bridge); /* at exit: the workers that drove it are gone */
            pthread_mutex_destroy(&s->lock);
            free(s->upstream_id);
            free(s);
        }
    }
    free(gw->buckets);
    free(gw->held); /* its sessions were in the table: freed above */
    gh_mcp_sessions_counts_free(gw);
    for (size_t i = 0; gw->endpoints && i < gw->cfg->n_endpoints; i++)
        free(gw->endpoints[i].ups);
    free(gw->endpoints);
    gh_upstream_set_free(gw->upstreams);
    pthread_mutex_destroy(&gw->lock);
    pthread_mutex_destroy(&gw->policy_lock);
    free(gw->trusted);
    gh_config_unref(gw->cfg);
    free(gw);
}

void gh_mcp_worker_init(struct gh_mcp_gateway *gw, struct gh_net_worker *w)
{
    gh_upstream_worker_init(gw->upstreams, w);
}

void gh_mcp_worker_fini(struct gh_mcp_gateway *gw, struct gh_net_worker *w)
{
    (void)w;
    gh_upstream_worker_fini(gw->upstreams);
    gh_policy_pdp_worker_fini();
}

void gh_mcp_gateway_closing(struct gh_mcp_gateway *gw)
{
    atomic_store(&gw->closing, true);
}

struct gh_upstream_set *gh_mcp_gateway_upstreams(struct gh_mcp_gateway *gw)
{
    return gw->upstreams;
}

size_t gh_mcp_inflight(struct gh_mcp_gateway *gw)
{
    return atomic_load(&gw->inflight);
}

static bool route_of(const struct gh_mcp_gateway *gw, struct gh_slice path, struct gh_mcp_route *rt)
{
    for (size_t i = 0; i < gw->cfg->n_endpoints; i++) {
        const struct gh_mcp_endpoint *ep = &gw->endpoints[i];
        if (gh_slice_eq_cstr(path, ep->path)) {
            *rt = (struct gh_mcp_route){.u = ep->ups[0], .ep = ep, .key = ep};
            return true;
        }
    }
    const struct gh_upstream *u = gh_upstream_by_path(gw->upstreams, path);
    *rt = (struct gh_mcp_route){.u = u, .ep = NULL, .key = u};
    return u != NULL;
}

bool gh_mcp_serves_path(const struct gh_mcp_gateway *gw, struct gh_slice path)
{
    struct gh_mcp_route rt;
    return route_of(gw, path, &rt);
}

/* Endpoints name their members; the set resolved them at load. */
static enum gh_rc endpoints_build(struct gh_mcp_gateway *gw, char *err, size_t errlen)
{
    const struct gh_config *c = gw->cfg;
    gw->endpoints = gh_xcalloc(c->n_endpoints ? c->n_endpoints : 1, sizeof(*gw->endpoints));
    for (size_t i = 0; i < c->n_endpoints; i++) {
        const struct gh_config_endpoint *ce = &c->endpoints[i];
        struct gh_mcp_endpoint *ep = &gw->endpoints[i];
        ep->path = ce->path;
        ep->separator = ce->separator ? ce->separator : '.';
        ep->ups = gh_xcalloc(ce->n_upstreams ? ce->n_upstreams : 1, sizeof(*ep->ups));
        for (size_t j = 0; j < ce->n_upstreams; j++) {
            for (size_t k = 0; k < gw->upstreams->n; k++)
                if (strcmp(gw->upstreams->ups[k].conf->name, ce->upstreams[j]) == 0)
                    ep->ups[ep->nups++] = &gw->upstreams->ups[k];
        }
        if (ep->nups != ce->n_upstreams || ep->nups == 0) {
            snprintf(err, errlen, "endpoint %s: unknown upstream", ce->path);
            return GH_E_PARSE;
        }
    }
    return GH_OK;
}

/* Before an initialize reaches an upstream: room for one more session? 429 when the principal
 * holds its share (it can free one with DELETE), 503 when the gateway is full. */
static bool admit_session(struct gh_mcp_gateway *gw, struct gh_http_req *r, struct gh_slice id)
{
    bool per_principal = false;
    if (gh_mcp_session_admit(gw, &per_principal))
        return true;
    gh_mcp_reply_session_limit(gw, r, id, per_principal);
    return false;
}

void gh_mcp_reply_session_limit(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                struct gh_slice id, bool per_principal)
{
    if (per_principal) {
        GH_LOGW("mcp", "session refused: principal at limits.sessions_per_principal (%llu)",
                (unsigned long long)gw->cfg->limits.sessions_per_principal);
        gh_mcp_reply_error(r, 429, id, GH_JSONRPC_INTERNAL_ERROR,
                           "Too Many Requests: this principal has reached its limit of open "
                           "sessions; end one (DELETE) before opening another");
    } else {
        gh_mcp_reply_error(r, 503, id, GH_JSONRPC_INTERNAL_ERROR,
                           "Service Unavailable: session limit reached");
    }
}

/* Whether the body is an initialize (*init), and whether it may go on: alone, not in a batch,
 * and with room for one more session. Answers the refusals itself. */
static bool initialize_ok(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                          const struct gh_jsonrpc_body *body, bool *init)
{
    *init = false;
    for (uint32_t i = 0; i < body->count; i++)
        *init |= gh_slice_eq_cstr(body->msgs[i].method, "initialize");
    if (!*init)
        return true;
    if (body->batch) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Invalid Request: initialize must not be part of a batch");
        return false;
    }
    return admit_session(gw, r, body->msgs[0].id_raw);
}

/* Finds the session a request names: 400 when it names none, 404 when unknown. */
static struct gh_mcp_session *require_session(struct gh_mcp_gateway *gw,
                                              const struct gh_mcp_route *rt, struct gh_http_req *r,
                                              struct gh_slice id)
{
    struct gh_slice sid = gh_http_req_header(r, "Mcp-Session-Id");
    if (!sid.ptr) {
        gh_mcp_reply_error(r, 400, id, GH_JSONRPC_INVALID_REQUEST,
                           "Bad Request: Mcp-Session-Id header is required");
        return NULL;
    }
    const char *why = NULL;
    struct gh_mcp_session *s = gh_mcp_session_find(gw, sid, rt->key, &why);
    if (!s && why)
        gh_mcp_record_session_refused(gw, r, rt->principal, why);
    if (!s)
        gh_mcp_reply_error(r, 404, id, GH_JSONRPC_INVALID_REQUEST, "Session not found");
    return s;
}

/* The version a request speaks: its header, else the session's, else 2025-03-26 (the spec). */
static bool version_ok(struct gh_http_req *r, struct gh_mcp_session *s, const char **ver)
{
    struct gh_slice h = gh_http_req_header(r, "MCP-Protocol-Version");
    static _Thread_local char buf[16];
    if (h.ptr) {
        if (!gh_mcp_version_known(h))
            return false;
        memcpy(buf, h.ptr, h.len);
        buf[h.len] = '\0';
        *ver = buf;
        return true;
    }
    *ver = s && s->version[0] ? s->version : "2025-03-26";
    return true;
}

static bool content_type_json(struct gh_slice ct)
{
    const char *semi = ct.ptr ? memchr(ct.ptr, ';', ct.len) : NULL;
    struct gh_slice mt = gh_slice_trim(semi ? gh_slice(ct.ptr, (size_t)(semi - ct.ptr)) : ct);
    return gh_slice_caseeq_cstr(mt, "application/json");
}

static bool scopes_ok(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                      struct gh_http_req *r, const struct gh_auth_principal *p,
                      const struct gh_jsonrpc_body *body);

/* Content-Type (415) and Accept (406) of a POST; answers itself when they are wrong. */
static bool post_headers_ok(struct gh_http_req *r)
{
    if (!content_type_json(gh_http_req_header(r, "Content-Type"))) {
        gh_mcp_reply_error(r, 415, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Unsupported Media Type: Content-Type must be application/json");
        return false;
    }
    struct gh_slice accept = gh_http_req_header(r, "Accept");
    if (!gh_mcp_accepts(accept, "application/json") ||
        !gh_mcp_accepts(accept, "text/event-stream")) {
        gh_mcp_reply_error(
            r, 406, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
            "Not Acceptable: Accept must list application/json and text/event-stream");
        return false;
    }
    return true;
}

/* A POST between authorization and routing (lives in the request's arena). */
struct post_ctx {
    struct gh_mcp_gateway *gw;
    struct gh_mcp_route rt;
    struct gh_http_req *r;
    struct gh_jsonrpc_body body;
    bool stateless;
    struct gh_auth_principal *held; /* a reference while the PDP or the audit disk is waited on */
    struct gh_mcp_reqaudit *ra;
};

static void post_routed(struct post_ctx *pc);
static void post_durable(struct post_ctx *pc);

/* The PDP allowed: route as if it had been decided at once, as the principal's own thread. */
static void post_resume(void *arg, bool go)
{
    struct post_ctx *pc = arg;
    if (!go) {
        gh_auth_principal_unref(pc->held);
        pc->held = NULL;
        return;
    }
    if (pc->held)
        memcpy(gh_mcp_current_principal, pc->held->key, sizeof(gh_mcp_current_principal));
    gh_mcp_current_subject = pc->held;
    struct gh_auth_principal *held = pc->held;
    pc->held = NULL;
    post_durable(pc); /* may take its own reference to wait for the disk */
    gh_mcp_current_principal[0] = '\0';
    gh_mcp_current_subject = NULL;
    gh_auth_principal_unref(held);
}

/* before-forward: the decision records are on disk; go on as the principal's own thread. */
static void post_synced(void *arg, bool ok)
{
    struct post_ctx *pc = arg;
    if (!ok) {
        gh_mcp_reply_error(
            pc->r, 503, pc->body.batch ? (struct gh_slice){0} : pc->body.msgs[0].id_raw,
            GH_JSONRPC_INTERNAL_ERROR, "Service Unavailable: the audit trail cannot be written");
    } else if (gh_http_req_connected(pc->r)) {
        if (pc->held)
            memcpy(gh_mcp_current_principal, pc->held->key, sizeof(gh_mcp_current_principal));
        gh_mcp_current_subject = pc->held;
        post_routed(pc);
        gh_mcp_current_principal[0] = '\0';
        gh_mcp_current_subject = NULL;
    } else {
        /* the client left while the call waited for the disk: nobody reads an answer, but the
         * request must still end, or the handler's reference (and its in-flight slot) stays */
        gh_http_resp_end(pc->r);
    }
    gh_auth_principal_unref(pc->held);
    pc->held = NULL;
    gh_http_req_unref(pc->r);
}

static bool has_tool_call(const struct gh_jsonrpc_body *body)
{
    for (uint32_t i = 0; i < body->count; i++)
        if (gh_slice_eq_cstr(body->msgs[i].method, "tools/call"))
            return true;
    return false;
}

/* In before-forward mode a tool call waits for its decision record's fsync (group commit). */
static void post_durable(struct post_ctx *pc)
{
    if (!pc->gw->audit || gh_audit_durability(pc->gw->audit) != GH_AUDIT_BEFORE_FORWARD ||
        !has_tool_call(&pc->body)) {
        post_routed(pc);
        return;
    }
    gh_http_req_ref(pc->r);
    if (pc->rt.principal)
        pc->held = gh_auth_principal_ref((struct gh_auth_principal *)pc->rt.principal);
    pc->rt.principal = pc->held;
    gh_audit_barrier(pc->gw->audit, post_synced, pc);
}

/* Notifications and responses are answered 202 at once: only requests occupy a slot. */
static bool carries_request(const struct gh_jsonrpc_body *body)
{
    for (uint32_t i = 0; i < body->count; i++)
        if (body->msgs[i].kind == GH_JSONRPC_REQUEST)
            return true;
    return false;
}

static void handle_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                        struct gh_http_req *r)
{
    if (!post_headers_ok(r))
        return;
    /* an unknown version on a request that names a session is that session's error */
    bool stateless =
        gh_mcp_stateless_request(r) &&
        (gh_slice_eq_cstr(gh_http_req_header(r, "MCP-Protocol-Version"), "2026-07-28") ||
         !gh_http_req_header(r, "Mcp-Session-Id").ptr);
    struct gh_jsonrpc_limits lim = {.json = {.max_depth = (uint32_t)gw->cfg->limits.json_depth,
                                             .max_bytes = gw->cfg->limits.body_bytes},
                                    .max_batch = (uint32_t)gw->cfg->limits.batch_length};
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err jerr = {0};
    struct gh_slice raw = gh_http_req_body(r);
    if (gh_jsonrpc_parse(gh_http_req_arena(r), raw.ptr ? raw.ptr : "", raw.len, &lim, &body,
                         &jerr) != GH_OK) {
        gh_mcp_reply_error(r, 400, jerr.id_raw, jerr.code, jerr.reason);
        return;
    }
    if (!scopes_ok(gw, rt, r, rt->principal, &body))
        return;
    /* the parsed body, the route and the principal outlive this call if the PDP is asked */
    struct post_ctx *pc = gh_arena_calloc(gh_http_req_arena(r), sizeof(*pc));
    pc->gw = gw;
    pc->rt = *rt;
    pc->r = r;
    pc->body = body;
    pc->stateless = stateless;
    pc->ra = gh_mcp_reqaudit_new(gw, r, rt->u->index);
    gh_mcp_trace_adopt_meta(pc->ra, r, &body);
    gh_mcp_redact_arguments(gw, rt, r, &body, pc->ra); /* before the upstream sees anything */
    gh_http_req_set_app(r, pc->ra); /* the proxy sends its trace context upstream */
    /* a refusal here is a measured outcome like any other answer */
    if (carries_request(&body) &&
        !gh_mcp_inflight_admit(gw, r, body.batch ? (struct gh_slice){0} : body.msgs[0].id_raw))
        return;
    switch (gh_mcp_authorize(gw, &pc->rt, r, &pc->body, pc->ra, post_resume, pc)) {
    case GH_MCP_AUTHZ_OK:
        post_durable(pc);
        return;
    case GH_MCP_AUTHZ_PENDING:
        if (rt->principal) /* the route's principal is borrowed from the caller */
            pc->held = gh_auth_principal_ref((struct gh_auth_principal *)rt->principal);
        pc->rt.principal = pc->held;
        return;
    case GH_MCP_AUTHZ_DENIED:
        return;
    }
}

/* After authorization: sessions, versions, and the route's transport. */
static void post_routed(struct post_ctx *pc)
{
    struct gh_slice none = {0};
    struct gh_mcp_gateway *gw = pc->gw;
    const struct gh_mcp_route *rt = &pc->rt;
    struct gh_http_req *r = pc->r;
    const struct gh_jsonrpc_body body = pc->body;
    if (pc->stateless) {
        gh_mcp_stateless_post(gw, rt, r, &body);
        return;
    }
    struct gh_slice id = body.batch ? none : body.msgs[0].id_raw;
    bool init = false;
    if (!initialize_ok(gw, r, &body, &init))
        return;
    struct gh_mcp_session *s = NULL;
    if (!init && !(s = require_session(gw, rt, r, id)))
        return;
    const char *ver;
    if (!version_ok(r, s, &ver)) {
        gh_mcp_reply_unsupported_version(r, id, gh_http_req_header(r, "MCP-Protocol-Version"));
        goto fail;
    }
    if (body.batch && strcmp(ver, "2025-03-26") != 0) {
        gh_mcp_reply_error(r, 400, none, GH_JSONRPC_INVALID_REQUEST,
                           "Invalid Request: JSON-RPC batches are not supported in this protocol "
                           "version");
        goto fail;
    }
    /* a 2026-07-28-only upstream cannot hold a session: the gateway holds it and bridges */
    bool stateless_up = gh_upstream_era(gw->upstreams, rt->u) == GH_UPSTREAM_ERA_STATELESS;
    if (!rt->ep && gh_mcp_shared(rt->u))
        gh_mcp_shared_post(gw, rt, r, s, &body); /* takes the session reference */
    else if (rt->ep || gh_mcp_bridged(rt->u) || stateless_up || (s && s->bridge))
        gh_mcp_bridge_post(gw, rt->u, rt->ep, r, s, &body); /* takes the session reference */
    else
        gh_mcp_proxy_post(gw, rt->u, r, s, &body); /* takes the session reference */
    return;
fail:
    if (s)
        gh_mcp_session_unref(gw, s);
}

static void handle_get(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                       struct gh_http_req *r)
{
    if (!gh_mcp_accepts(gh_http_req_header(r, "Accept"), "text/event-stream")) {
        gh_mcp_reply_error(r, 406, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Not Acceptable: Accept must list text/event-stream");
        return;
    }
    struct gh_mcp_session *s = require_session(gw, rt, r, (struct gh_slice){0});
    if (!s)
        return;
    const char *ver;
    if (!version_ok(r, s, &ver)) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Bad Request: unsupported MCP-Protocol-Version");
        gh_mcp_session_unref(gw, s);
        return;
    }
    uint64_t seq = 0;
    struct gh_slice last = gh_http_req_header(r, "Last-Event-ID");
    bool trimmed = false;
    struct gh_mcp_stream *st =
        last.ptr ? gh_mcp_stream_find(s, last, &seq, &trimmed) : gh_mcp_stream_find_get(s, false);
    if (trimmed) { /* resuming would silently skip events: say so instead */
        GH_LOGW("mcp",
                "resumption refused: events after Last-Event-ID %.*s are past "
                "limits.sse_replay_bytes (%llu)",
                (int)GH_MIN(last.len, (size_t)47), last.ptr,
                (unsigned long long)gw->cfg->limits.sse_replay_bytes);
        gh_mcp_reply_error(r, 410, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Gone: the events after this Last-Event-ID are no longer held (the "
                           "replay buffer, limits.sse_replay_bytes, is full); reconnect without "
                           "Last-Event-ID");
        gh_mcp_session_unref(gw, s);
        return;
    }
    if (!last.ptr && st)
        seq = gh_mcp_stream_delivered(st);
    if (!st && (s->bridge || s->shared)) {
        gh_mcp_bridge_get(gw, r, s); /* takes the session reference */
        return;
    }
    char up_id[128];
    if (st && gh_mcp_stream_resumable_upstream(st, up_id, sizeof(up_id))) {
        gh_mcp_proxy_get(gw, rt->u, r, s, st, up_id, seq); /* takes both references */
        return;
    }
    if (st) {
        static const struct gh_http_header hdrs[] = {
            {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/event-stream")},
            {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-cache")},
            {GH_SLICE_LIT("X-Accel-Buffering"), GH_SLICE_LIT("no")},
        };
        gh_http_resp_start(r, 200, hdrs, GH_ARRAY_LEN(hdrs), -1);
        gh_http_resp_flush(r);
        gh_mcp_stream_attach(st, r, seq);
        gh_mcp_stream_unref(st);
        gh_mcp_session_unref(gw, s);
        return;
    }
    gh_mcp_proxy_get(gw, rt->u, r, s, NULL, NULL, 0);
}

void gh_mcp_gateway_set_auth(struct gh_mcp_gateway *gw, struct gh_auth_gate *gate)
{
    gw->auth = gate;
}

/* Answers a refusal of the gate: status, challenge, and a JSON-RPC error body. */
static void reply_auth(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                       const struct gh_auth_result *res, const char *scope)
{
    struct gh_buf ch;
    gh_buf_init(&ch, 2048);
    gh_auth_gate_challenge(gw->auth, gh_http_req_head(r)->path, res, scope, &ch);
    struct gh_buf body;
    gh_buf_init(&body, 1024);
    const char *msg = res->status == 403   ? "Forbidden: insufficient scope"
                      : res->status == 400 ? "Bad Request: malformed authorization"
                                           : "Unauthorized: a valid access token is required";
    gh_jsonrpc_error_write(&body, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST, msg);
    char nonce[44];
    struct gh_http_header h[2] = {{GH_SLICE_LIT("WWW-Authenticate"), gh_slice(ch.data, ch.len)}};
    size_t nh = 1;
    if (res->dpop_nonce) { /* RFC 9449 §9: the client retries with this nonce in its proof */
        gh_auth_gate_current_nonce(gw->auth, nonce);
        h[nh++] = (struct gh_http_header){GH_SLICE_LIT("DPoP-Nonce"), gh_slice_cstr(nonce)};
    }
    gh_http_resp_simple(r, res->status, "application/json", body.data, body.len, h, nh);
    gh_buf_release(&ch);
    gh_buf_release(&body);
}

/*
 * The upstreams a message may reach, for their scopes: the route's upstream; on an aggregated
 * endpoint the member a tool or prompt name is prefixed with (split as routing splits it), and
 * for anything else (initialize, lists, resources, notifications, responses) every member, since
 * the endpoint fans it out or routes it by owner. Returns how many names were put in out.
 */
static size_t reached_by(const struct gh_mcp_route *rt, const struct gh_jsonrpc_msg *m,
                         struct gh_slice *out)
{
    if (!rt->ep) {
        out[0] = gh_slice_cstr(rt->u->conf->name);
        return 1;
    }
    bool named =
        gh_slice_eq_cstr(m->method, "tools/call") || gh_slice_eq_cstr(m->method, "prompts/get");
    const char *sep =
        named && m->name.ptr ? memchr(m->name.ptr, rt->ep->separator, m->name.len) : NULL;
    for (size_t i = 0; sep && i < rt->ep->nups; i++) {
        if (gh_slice_eq(gh_slice(m->name.ptr, (size_t)(sep - m->name.ptr)),
                        gh_slice_cstr(rt->ep->ups[i]->conf->name))) {
            out[0] = gh_slice_cstr(rt->ep->ups[i]->conf->name);
            return 1;
        }
    }
    for (size_t i = 0; i < rt->ep->nups; i++)
        out[i] = gh_slice_cstr(rt->ep->ups[i]->conf->name);
    return rt->ep->nups;
}

/* Every message of the body needs the scopes its method and upstreams call for (403 else). */
static bool scopes_ok(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                      struct gh_http_req *r, const struct gh_auth_principal *p,
                      const struct gh_jsonrpc_body *body)
{
    if (!gw->auth || !p)
        return true;
    struct gh_buf missing;
    gh_buf_init(&missing, 4096);
    bool ok = true;
    size_t cap = rt->ep ? rt->ep->nups : 1;
    struct gh_slice *ups = gh_arena_alloc(gh_http_req_arena(r), cap * sizeof(*ups));
    for (uint32_t i = 0; i < body->count; i++) {
        size_t n = reached_by(rt, &body->msgs[i], ups);
        ok &= gh_auth_gate_scopes(gw->auth, p, body->msgs[i].method, ups, n, &missing);
    }
    if (!ok) {
        /* a bound token came with the DPoP scheme: the challenge answers in it */
        struct gh_auth_result res = {
            .status = 403, .error = "insufficient_scope", .dpop_scheme = p->claims.cnf_jkt.len > 0};
        gh_buf_append(&missing, "", 1);
        reply_auth(gw, r, &res, missing.data);
    }
    gh_buf_release(&missing);
    return ok;
}

static void dispatch(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                     struct gh_http_req *r)
{
    const struct gh_http_request_head *h = gh_http_req_head(r);
    if (h->method != GH_HTTP_M_POST && gh_mcp_stateless_request(r)) {
        static const struct gh_http_header allow[] = {
            {GH_SLICE_LIT("Allow"), GH_SLICE_LIT("POST")}};
        gh_http_resp_simple(r, 405, "text/plain", "method not allowed\n", 19, allow, 1);
        return; /* 2026-07-28 has no GET stream and no session to delete */
    }
    switch (h->method) {
    case GH_HTTP_M_POST:
        handle_post(gw, rt, r);
        return;
    case GH_HTTP_M_GET:
        handle_get(gw, rt, r);
        return;
    case GH_HTTP_M_DELETE: {
        struct gh_mcp_session *s = require_session(gw, rt, r, (struct gh_slice){0});
        if (s && (s->bridge || s->shared)) {
            gh_mcp_session_close_why(gw, s, "delete"); /* stops the session's child */
            gh_mcp_session_unref(gw, s);
            gh_http_resp_simple(r, 200, NULL, NULL, 0, NULL, 0);
        } else if (s) {
            gh_mcp_proxy_delete(gw, rt->u, r, s);
        }
        return;
    }
    default: {
        static const struct gh_http_header allow[] = {
            {GH_SLICE_LIT("Allow"), GH_SLICE_LIT("GET, POST, DELETE")}};
        gh_http_resp_simple(r, 405, "text/plain", "method not allowed\n", 19, allow, 1);
        return;
    }
    }
}

/* Runs the request with its principal as this thread's (sessions it creates are its own). */
static void handle_as(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                      struct gh_auth_principal *principal)
{
    struct gh_mcp_route route;
    route_of(gw, gh_http_req_head(r)->path, &route);
    route.principal = principal;
    if (principal)
        memcpy(gh_mcp_current_principal, principal->key, sizeof(gh_mcp_current_principal));
    gh_mcp_current_subject = principal;
    dispatch(gw, &route, r);
    gh_mcp_current_principal[0] = '\0';
    gh_mcp_current_subject = NULL;
}

/* The gate's verdict (maybe after an introspection round trip, on this same worker). */
static void on_authenticated(void *arg, struct gh_http_req *r, const struct gh_auth_result *res)
{
    struct gh_mcp_gateway *gw = arg;
    if (res->verdict != GH_ALLOW) {
        GH_LOGD("auth", "refused %d %s", res->status,
                res->description ? res->description : "no token");
        gh_mcp_record_auth_failure(gw, r, res->status, res->error, res->description);
        gh_metric_add(res->status == 400   ? GH_METRIC_AUTH_FAIL_400
                      : res->status == 403 ? GH_METRIC_AUTH_FAIL_403
                      : res->status == 503 ? GH_METRIC_AUTH_FAIL_503
                                           : GH_METRIC_AUTH_FAIL_401,
                      1);
        if (res->status == 503) {
            gh_mcp_reply_error(r, 503, (struct gh_slice){0}, GH_JSONRPC_INTERNAL_ERROR,
                               "Service Unavailable: the token cannot be checked now");
            return;
        }
        reply_auth(gw, r, res, NULL);
        return;
    }
    handle_as(gw, r, res->principal);
    gh_auth_principal_unref(res->principal);
}

void gh_mcp_handle(struct gh_mcp_gateway *gw, struct gh_http_req *r)
{
    struct gh_mcp_route route;
    gh_mcp_current_principal[0] = '\0';
    if (!route_of(gw, gh_http_req_head(r)->path, &route)) {
        gh_http_resp_simple(r, 404, "text/plain", "not found\n", 10, NULL, 0);
        return;
    }
    if (gh_mcp_check_origin(gw, r) != GH_ALLOW)
        return;
    if (gw->auth)
        gh_auth_gate_authenticate_async(gw->auth, r, on_authenticated, gw);
    else
        handle_as(gw, r, NULL);
}
