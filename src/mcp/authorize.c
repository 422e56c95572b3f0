/*
 * mcp/authorize.c owns asking policy/ about each request before it is routed: the action of
 * every message (method, upstream, canonical name, arguments), the local decision, pinning,
 * the external decision point (asynchronously, the request waiting on this worker), the
 * per-principal and per-tool limits, and the answers to refusals. A refused call never reaches
 * an upstream, and refusals of an unknown, unlisted or forbidden name look alike.
 */
#include "core/core.h"
#include "mcp/internal.h"
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

_Thread_local struct gh_auth_principal *gh_mcp_current_subject;

void gh_mcp_subject_of(const struct gh_auth_principal *p, struct gh_policy_subject *s)
{
    memset(s, 0, sizeof(*s));
    s->key = "";
    if (!p)
        return;
    const struct gh_auth_claims *c = &p->claims;
    s->issuer = c->iss;
    s->subject = c->sub;
    s->client_id = c->client_id;
    s->groups = c->groups;
    s->ngroups = c->ngroups;
    s->roles = c->roles;
    s->nroles = c->nroles;
    s->scopes = c->scopes;
    s->nscopes = c->nscopes;
    s->act = c->act;
    s->nact = c->nact;
    s->claims_json = c->payload;
    s->key = p->key;
}

static enum gh_policy_kind kind_of(struct gh_slice m)
{
    if (gh_slice_eq_cstr(m, "tools/call"))
        return GH_POLICY_K_TOOL;
    if (gh_slice_eq_cstr(m, "prompts/get"))
        return GH_POLICY_K_PROMPT;
    if (gh_slice_eq_cstr(m, "resources/read") || gh_slice_eq_cstr(m, "resources/subscribe") ||
        gh_slice_eq_cstr(m, "resources/unsubscribe"))
        return GH_POLICY_K_RESOURCE;
    return GH_POLICY_K_METHOD;
}

/* The (upstream, name) pair behind a message. On an aggregated endpoint the client's name is
 * "<upstream><sep><name>" split at the first separator exactly as routing splits it; a prefix
 * that is no member leaves the upstream empty, which no rule naming an upstream matches. */
static void action_of(const struct gh_mcp_route *rt, const struct gh_jsonrpc_body *body,
                      const struct gh_jsonrpc_msg *m, struct gh_policy_action *a)
{
    memset(a, 0, sizeof(*a));
    a->method = m->method;
    a->kind = kind_of(m->method);
    a->upstream = gh_slice_cstr(rt->u->conf->name);
    a->name = a->kind == GH_POLICY_K_RESOURCE ? m->uri : m->name;
    a->args = &body->doc;
    a->args_tok = m->arguments;
    if (!rt->ep)
        return;
    a->upstream = gh_slice(NULL, 0);
    if (a->kind != GH_POLICY_K_TOOL && a->kind != GH_POLICY_K_PROMPT)
        return; /* resources are routed by owner; rules naming an upstream do not see them */
    const char *sep = a->name.ptr ? memchr(a->name.ptr, rt->ep->separator, a->name.len) : NULL;
    if (!sep)
        return;
    struct gh_slice prefix = gh_slice(a->name.ptr, (size_t)(sep - a->name.ptr));
    for (size_t i = 0; i < rt->ep->nups; i++) {
        if (gh_slice_eq_cstr(prefix, rt->ep->ups[i]->conf->name)) {
            a->upstream = prefix;
            a->name = gh_slice(sep + 1, a->name.len - prefix.len - 1);
            return;
        }
    }
}

/* The answer to a refused call: the same for an unknown, an unlisted and a forbidden name. */
static void reply_denied(struct gh_http_req *r, const struct gh_jsonrpc_msg *m,
                         const struct gh_policy_action *a, const struct gh_policy_decision *d)
{
    char msg[512];
    int code = GH_JSONRPC_INVALID_PARAMS;
    struct gh_slice shown = m->kind == GH_JSONRPC_REQUEST && a->kind != GH_POLICY_K_METHOD
                                ? (a->kind == GH_POLICY_K_RESOURCE ? m->uri : m->name)
                                : m->method;
    int n = (int)(shown.len > 200 ? 200 : shown.len);
    if (d->reason == GH_POLICY_R_ARGUMENTS) {
        snprintf(msg, sizeof(msg), "Invalid arguments for %.*s: argument %s is not allowed", n,
                 shown.ptr, d->argument ? d->argument : "");
    } else if (a->kind == GH_POLICY_K_TOOL) {
        snprintf(msg, sizeof(msg), "Unknown tool: %.*s", n, shown.ptr);
    } else if (a->kind == GH_POLICY_K_PROMPT) {
        snprintf(msg, sizeof(msg), "Unknown prompt: %.*s", n, shown.ptr);
    } else if (a->kind == GH_POLICY_K_RESOURCE) {
        code = -32002; /* MCP: resource not found */
        snprintf(msg, sizeof(msg), "Resource not found: %.*s", n, shown.ptr);
    } else {
        code = GH_JSONRPC_METHOD_NOT_FOUND;
        snprintf(msg, sizeof(msg), "Method not found: %.*s", n, shown.ptr);
    }
    /* a JSON-RPC error like the one an upstream gives for a name it does not know */
    gh_mcp_reply_error(r, 200, m->id_raw, code, msg);
}

static void log_decision(const struct gh_policy_subject *s, const struct gh_policy_action *a,
                         const struct gh_policy_decision *d)
{
    gh_metric_add(d->verdict == GH_ALLOW ? GH_METRIC_DECISIONS_ALLOW : GH_METRIC_DECISIONS_DENY, 1);
    int lvl = d->verdict == GH_ALLOW ? GH_LOG_DEBUG : GH_LOG_INFO;
    gh_log(lvl, "policy", "%s %.*s %.*s/%.*s by %.*s: %s (rule %s, %s)",
           d->verdict == GH_ALLOW ? "allow" : "deny", (int)a->method.len, a->method.ptr,
           (int)a->upstream.len, a->upstream.ptr ? a->upstream.ptr : "",
           (int)(a->name.len > 128 ? 128 : a->name.len), a->name.ptr ? a->name.ptr : "",
           s->subject.len ? (int)(s->subject.len > 128 ? 128 : s->subject.len) : 1,
           s->subject.len ? s->subject.ptr : "-", gh_policy_reason_str(d->reason),
           d->rule[0] ? d->rule : "-", d->digest);
}

/* Local rules and pinning for one message. */
static void decide_local(const struct gh_policy *p, const struct gh_policy_subject *s,
                         const struct gh_policy_action *a, struct gh_policy_decision *d)
{
    if (gh_policy_mode(p) == GH_POLICY_MODE_PDP) {
        memset(d, 0, sizeof(*d));
        d->verdict = GH_ALLOW; /* the PDP decides everything but protocol methods (asks_pdp) */
        d->reason = GH_POLICY_R_PROTOCOL;
        d->rule = "";
        d->digest = gh_policy_digest(p);
        if (a->kind != GH_POLICY_K_METHOD && a->kind != GH_POLICY_K_RESOURCE &&
            !gh_policy_name_valid(a->name)) {
            d->verdict = GH_DENY;
            d->reason = GH_POLICY_R_BAD_NAME;
        }
    } else {
        gh_policy_evaluate(p, s, a, d);
    }
    if (d->verdict == GH_ALLOW &&
        (gh_policy_known(p, a->upstream, a->kind, a->name) != GH_ALLOW ||
         (a->kind == GH_POLICY_K_TOOL &&
          gh_policy_pin_check(p, a->upstream, a->name) != GH_POLICY_PIN_OK))) {
        d->verdict = GH_DENY; /* never listed, or hidden by pinning: as unknown as can be */
        d->reason = GH_POLICY_R_UNLISTED;
    }
}

static bool asks_pdp(const struct gh_policy *p, const struct gh_policy_action *a)
{
    return gh_policy_mode(p) != GH_POLICY_MODE_LOCAL &&
           (a->kind != GH_POLICY_K_METHOD || !gh_policy_protocol_method(a->method));
}

/* ---- limits ---- */

/* The concurrency slots a request holds (one per tool call it carries), freed with it. */
struct held_slots {
    void *tokens[GH_JSONRPC_DEFAULT_BATCH];
    size_t n;
};

static void release_on_free(void *arg)
{
    struct held_slots *h = arg;
    for (size_t i = 0; i < h->n; i++)
        gh_policy_limit_release(h->tokens[i]);
    h->n = 0;
}

static struct held_slots *slots_of(struct gh_http_req *r, struct held_slots **hs)
{
    if (!*hs) {
        *hs = gh_arena_calloc(gh_http_req_arena(r), sizeof(**hs));
        gh_http_req_on_free(r, release_on_free, *hs);
    }
    return *hs;
}

static bool admit_one(const struct gh_policy *p, struct gh_http_req *r,
                      const struct gh_jsonrpc_msg *m, const struct gh_policy_subject *s,
                      const struct gh_policy_action *a, struct held_slots **hs)
{
    if (a->kind != GH_POLICY_K_TOOL)
        return true;
    struct gh_policy_admit ad = {0};
    gh_policy_limit_admit(p, s->key, a->upstream, a->name, (int64_t)gh_clock_ms(), &ad);
    if (ad.verdict == GH_ALLOW) {
        struct held_slots *h = ad.token ? slots_of(r, hs) : NULL;
        if (h && h->n < GH_ARRAY_LEN(h->tokens))
            h->tokens[h->n++] = ad.token;
        else if (ad.token)
            gh_policy_limit_release(ad.token); /* cannot happen: batches are capped lower */
        return true;
    }
    if (*hs)
        release_on_free(*hs); /* a batch refused as a whole holds nothing */
    char ra[24], msg[256];
    snprintf(ra, sizeof(ra), "%u", ad.retry_after_s ? ad.retry_after_s : 1);
    snprintf(msg, sizeof(msg), "Too Many Requests: limit %s (%s); retry after %s s", ad.limit,
             ad.concurrency ? "calls in flight" : "calls per interval", ra);
    gh_metric_add(GH_METRIC_LIMITED, 1);
    GH_LOGI("policy", "limit %s refused a call (%s)", ad.limit,
            ad.concurrency ? "concurrency" : "rate");
    struct gh_buf body;
    gh_buf_init(&body, 1024);
    gh_jsonrpc_error_write(&body, m->id_raw, GH_JSONRPC_INTERNAL_ERROR, msg);
    struct gh_http_header h[] = {{GH_SLICE_LIT("Retry-After"), gh_slice_cstr(ra)}};
    gh_http_resp_simple(r, 429, "application/json", body.data, body.len, h, 1);
    gh_buf_release(&body);
    return false;
}

/* Every tool call of the request counts against the limits (batches included). */
static bool admit(const struct gh_policy *p, const struct gh_mcp_route *rt, struct gh_http_req *r,
                  const struct gh_jsonrpc_body *body, const struct gh_policy_subject *s)
{
    struct held_slots *hs = NULL;
    for (uint32_t i = 0; i < body->count; i++) {
        const struct gh_jsonrpc_msg *m = &body->msgs[i];
        if (m->kind != GH_JSONRPC_REQUEST && m->kind != GH_JSONRPC_NOTIFICATION)
            continue;
        struct gh_policy_action a;
        action_of(rt, body, m, &a);
        if (!admit_one(p, r, m, s, &a, &hs))
            return false;
    }
    return true;
}

static void reply_unrecorded(struct gh_http_req *r)
{
    gh_mcp_reply_error(r, 503, (struct gh_slice){0}, GH_JSONRPC_INTERNAL_ERROR,
                       "Service Unavailable: the audit trail is not keeping up; retry shortly");
}

/* ---- the PDP round trip ---- */

struct pdp_wait {
    struct gh_mcp_gateway *gw;
    struct gh_http_req *r;
    const struct gh_jsonrpc_msg *m; /* in the request's arena */
    struct gh_mcp_route rt;
    const struct gh_jsonrpc_body *body; /* the caller's (post_ctx, in the request's arena) */
    const struct gh_mcp_reqaudit *ra;   /* in the request's arena */
    struct gh_policy_action a;
    struct gh_policy_subject s;
    struct gh_auth_principal *principal; /* kept for the subject's slices */
    struct gh_policy *policy;            /* the one the request started under (referenced) */
    void (*cont)(void *arg, bool go);
    void *arg;
};

static void pdp_answered(void *arg, const struct gh_policy_pdp_result *res)
{
    struct pdp_wait *w = arg;
    struct gh_policy_decision d = {.verdict = res->verdict,
                                   .reason = res->reason,
                                   .rule = "pdp",
                                   .digest = gh_policy_digest(w->policy)};
    log_decision(&w->s, &w->a, &d);
    bool recorded = w->m->kind != GH_JSONRPC_REQUEST ||
                    gh_mcp_record_decision(w->gw, w->ra, w->principal, &w->a, &d);
    bool go = false;
    if (!gh_http_req_connected(w->r)) {
        /* the client left while the PDP thought: nothing to answer */
    } else if (!recorded) {
        reply_unrecorded(w->r);
    } else if (res->verdict == GH_ALLOW) {
        go = admit(w->policy, &w->rt, w->r, w->body, &w->s);
    } else if (res->reason == GH_POLICY_R_PDP_UNAVAILABLE) {
        int status = res->unavailable_503 ? 503 : 403;
        gh_mcp_reply_error(w->r, status, w->m->id_raw, GH_JSONRPC_INTERNAL_ERROR,
                           status == 503
                               ? "Service Unavailable: the policy decision point cannot be reached"
                               : "Forbidden: the policy decision point cannot be reached, so the "
                                 "call is denied");
    } else {
        reply_denied(w->r, w->m, &w->a, &d);
    }
    w->cont(w->arg, go); /* also when refused: the waiting side lets go of what it holds */
    gh_auth_principal_unref(w->principal);
    gh_policy_unref(w->policy);
    gh_http_req_unref(w->r);
    free(w);
}

/* Without a policy every request is allowed; the trail still says so. */

static bool record_unpoliced(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                             const struct gh_jsonrpc_body *body, const struct gh_mcp_reqaudit *ra)
{
    for (uint32_t i = 0; gw->audit && i < body->count; i++) {
        const struct gh_jsonrpc_msg *m = &body->msgs[i];
        if (m->kind != GH_JSONRPC_REQUEST)
            continue;
        struct gh_policy_action a;
        struct gh_policy_decision d;
        action_of(rt, body, m, &a);
        gh_policy_evaluate(NULL, NULL, &a, &d);
        if (!gh_mcp_record_decision(gw, ra, rt->principal, &a, &d))
            return false;
    }
    return true;
}

static enum gh_mcp_authz authorize_under(struct gh_mcp_gateway *gw, struct gh_policy *p,
                                         const struct gh_mcp_route *rt, struct gh_http_req *r,
                                         const struct gh_jsonrpc_body *body,
                                         const struct gh_mcp_reqaudit *ra,
                                         void (*cont)(void *arg, bool go), void *arg)
{
    if (!gh_policy_enabled(p)) {
        gh_metric_add(GH_METRIC_DECISIONS_ALLOW, body->count);
        if (record_unpoliced(gw, rt, body, ra))
            return GH_MCP_AUTHZ_OK;
        reply_unrecorded(r);
        return GH_MCP_AUTHZ_DENIED;
    }
    struct gh_policy_subject s;
    gh_mcp_subject_of(rt->principal, &s);
    const struct gh_jsonrpc_msg *ask = NULL;
    struct gh_policy_action ask_a;
    for (uint32_t i = 0; i < body->count; i++) {
        const struct gh_jsonrpc_msg *m = &body->msgs[i];
        if (m->kind != GH_JSONRPC_REQUEST && m->kind != GH_JSONRPC_NOTIFICATION)
            continue; /* answers to the server's own requests */
        struct gh_policy_action a;
        struct gh_policy_decision d;
        action_of(rt, body, m, &a);
        decide_local(p, &s, &a, &d);
        log_decision(&s, &a, &d);
        if (m->kind == GH_JSONRPC_REQUEST && !(d.verdict == GH_ALLOW && asks_pdp(p, &a)) &&
            !gh_mcp_record_decision(gw, ra, rt->principal, &a, &d)) { /* the PDP's: later */
            reply_unrecorded(r);
            return GH_MCP_AUTHZ_DENIED;
        }
        if (body->batch && (gh_mcp_list_method(m->method) || asks_pdp(p, &a))) {
            /* a batch answer is one array: lists inside it could not be filtered */
            gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                               "Invalid Request: list requests and calls the policy decision "
                               "point decides cannot be batched; send them one by one");
            return GH_MCP_AUTHZ_DENIED;
        }
        if (d.verdict != GH_ALLOW && body->batch) {
            gh_mcp_reply_error(r, 403, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                               "Forbidden: a message of this batch is not allowed");
            return GH_MCP_AUTHZ_DENIED;
        }
        if (d.verdict != GH_ALLOW) {
            reply_denied(r, m, &a, &d);
            return GH_MCP_AUTHZ_DENIED;
        }
        if (asks_pdp(p, &a)) {
            ask = m;
            ask_a = a;
        }
    }
    if (!ask)
        return admit(p, rt, r, body, &s) ? GH_MCP_AUTHZ_OK : GH_MCP_AUTHZ_DENIED;
    struct pdp_wait *w = gh_xcalloc(1, sizeof(*w));
    w->gw = gw;
    w->rt = *rt;
    w->body = body;
    w->ra = ra;
    w->r = r;
    gh_http_req_ref(r);
    w->m = ask;
    w->a = ask_a;
    w->principal =
        rt->principal ? gh_auth_principal_ref((struct gh_auth_principal *)rt->principal) : NULL;
    gh_mcp_subject_of(w->principal, &w->s);
    w->cont = cont;
    w->arg = arg;
    w->policy = gh_policy_ref(p);
    gh_policy_pdp_ask(p, &w->s, &w->a, pdp_answered, w);
    return GH_MCP_AUTHZ_PENDING;
}

enum gh_mcp_authz gh_mcp_authorize(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                                   struct gh_http_req *r, const struct gh_jsonrpc_body *body,
                                   const struct gh_mcp_reqaudit *ra,
                                   void (*cont)(void *arg, bool go), void *arg)
{
    gh_metric_add(GH_METRIC_REQUESTS, 1);
    struct gh_policy *p = gh_mcp_policy_get(gw); /* a reload may swap it: this request keeps it */
    enum gh_mcp_authz v = authorize_under(gw, p, rt, r, body, ra, cont, arg);
    gh_policy_unref(p);
    return v;
}

/* ---- list answers ---- */

const char *gh_mcp_list_method(struct gh_slice m)
{
    static const char *const lists[] = {"tools/list", "prompts/list", "resources/list",
                                        "resources/templates/list"};
    for (size_t i = 0; i < GH_ARRAY_LEN(lists); i++)
        if (gh_slice_eq_cstr(m, lists[i]))
            return lists[i];
    return NULL;
}

char *gh_mcp_filter_answer(struct gh_mcp_gateway *gw, const struct gh_auth_principal *p,
                           struct gh_slice upstream, const char *method, size_t name_prefix,
                           const char *msg, size_t len, size_t *outlen)
{
    if (!method)
        return NULL;
    struct gh_policy *pol = gh_mcp_policy_get(gw);
    struct gh_policy_subject s;
    gh_mcp_subject_of(p, &s);
    char *out = NULL;
    if (gh_policy_enabled(pol) &&
        gh_policy_filter_list(pol, &s, upstream, gh_slice_cstr(method), name_prefix, msg, len, &out,
                              outlen) != GH_OK)
        out = NULL;
    gh_policy_unref(pol);
    return out;
}
