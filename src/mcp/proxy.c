/*
 * mcp/proxy.c owns the upstream exchanges of the session-era Streamable HTTP transport: it builds
 * the upstream request from an allow-list of headers (the client's credentials and session id
 * never cross), maps the gateway session to the upstream's, and relays the answer — JSON bodies
 * streamed straight through with backpressure, SSE bodies event by event into a stream.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>

#define CLIENT_HIGH_WATER (256u << 10)
#define INIT_BODY_CAP     (1u << 20)

enum ex_kind {
    EX_POST = 0,
    EX_GET,
    EX_DELETE,
};

struct exchange {
    struct gh_mcp_gateway *gw;
    const struct gh_upstream *route;
    struct gh_http_req *req;     /* the client request while we answer it; NULL once handed over */
    struct gh_mcp_session *sess; /* referenced; NULL before initialize creates it */
    struct gh_http_creq *creq;
    enum ex_kind kind;
    bool initialize, sse, started, client_gone, buffered, overflow, discard_body;
    bool stateless; /* a 2026-07-28 request: no session, answers passed through as they come */
    struct gh_slice rpc_id; /* id of a single request (for error answers), in the req arena */
    char *sse_rpc_id;       /* the same, copied when an SSE answer outlives the request */
    struct gh_sse_parser sse_parser;
    struct gh_mcp_stream *st;
    struct gh_buf body; /* buffered initialize answer */
    int status;
    struct gh_mcp_stream *resume;  /* referenced: the stream a resumed upstream GET feeds */
    char resume_id[128];           /* the upstream's Last-Event-ID for that GET */
    uint64_t resume_seq;           /* the client's position in the stream */
    char principal[65];            /* who asked (sessions it creates are theirs) */
    char traceparent[56];          /* sent upstream: the gateway's span in the caller's trace */
    const char *list_method;       /* a list request under a policy: its answer is filtered */
    bool redact_results;           /* the route's answers lose their redact.results members */
    struct gh_prop_exchange *xchg; /* a token exchange under way for this request */
    const char *x_method;          /* what to send once it is done */
    struct gh_slice x_body;
    struct gh_auth_principal *who; /* referenced while list_method is set */
    bool sse_buffered;             /* a list answer as SSE without a session: held whole */
    struct gh_buf *sse_out;        /* where refilter_event writes */
    char *traced;                  /* a 2026-07-28 body with the gateway's span in _meta */
    char *identity;                /* "Bearer <assertion>" for the upstream, when it gets one */
};

static const char *const REQUEST_HEADERS[] = {
    "Content-Type", "Accept", "MCP-Protocol-Version", "traceparent", "tracestate", "User-Agent",
};

static const char *const RESPONSE_HEADERS[] = {
    "Content-Type", "Cache-Control",    "Retry-After",
    "Allow",        "WWW-Authenticate", "X-Accel-Buffering",
};

static void ex_free(struct exchange *ex)
{
    gh_auth_principal_unref(ex->who);
    if (ex->resume)
        gh_mcp_stream_unref(ex->resume);
    if (ex->sse)
        gh_sse_parser_release(&ex->sse_parser);
    gh_buf_release(&ex->body);
    free(ex->traced);
    free(ex->identity);
    free(ex->sse_rpc_id);
    if (ex->sess)
        gh_mcp_session_unref(ex->gw, ex->sess);
    atomic_fetch_sub(&ex->gw->inflight, 1);
    free(ex);
}

/* Upstream headers: an allow-list copy plus the upstream's own session id. */
static size_t upstream_headers(struct exchange *ex, struct gh_http_header *out, size_t cap)
{
    size_t n = 0;
    const struct gh_mcp_reqaudit *ra = gh_http_req_app(ex->req);
    for (size_t i = 0; i < GH_ARRAY_LEN(REQUEST_HEADERS) && n < cap; i++) {
        if (ra && strcmp(REQUEST_HEADERS[i], "traceparent") == 0)
            continue; /* the gateway's own span goes instead (below) */
        struct gh_slice v = gh_http_req_header(ex->req, REQUEST_HEADERS[i]);
        if (v.ptr)
            out[n++] = (struct gh_http_header){gh_slice_cstr(REQUEST_HEADERS[i]), v};
    }
    if (ra && n < cap) { /* W3C: the upstream's parent is the gateway's span of this trace */
        snprintf(ex->traceparent, sizeof(ex->traceparent), "00-%s-%s-01", ra->trace.trace_id,
                 ra->trace.span_id);
        out[n++] =
            (struct gh_http_header){GH_SLICE_LIT("traceparent"), gh_slice(ex->traceparent, 55)};
    }
    if (ex->sess && ex->sess->upstream_id && n < cap)
        out[n++] = (struct gh_http_header){GH_SLICE_LIT("Mcp-Session-Id"),
                                           gh_slice_cstr(ex->sess->upstream_id)};
    if (ex->stateless) { /* 2026 mirrors routing data into headers, checked by the gateway */
        const struct gh_http_request_head *h = gh_http_req_head(ex->req);
        for (size_t i = 0; i < h->nheaders && n < cap; i++) {
            struct gh_slice nm = h->headers[i].name;
            if (gh_slice_caseeq_cstr(nm, "Mcp-Method") || gh_slice_caseeq_cstr(nm, "Mcp-Name") ||
                (nm.len > 10 && strncasecmp(nm.ptr, "Mcp-Param-", 10) == 0))
                out[n++] = h->headers[i];
        }
    }
    if (ex->resume && n < cap)
        out[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Last-Event-ID"), gh_slice_cstr(ex->resume_id)};
    /* outbound identity: the upstream's static credential or the gateway's assertion, never
     * anything the client sent */
    const struct gh_prop_upstream *pu = gh_prop_upstream(ex->gw->prop, ex->route->index);
    n += gh_prop_upstream_headers(pu, out + n, cap - n);
    if (ex->identity && n < cap)
        out[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Authorization"), gh_slice_cstr(ex->identity)};
    return n;
}

static size_t client_headers(struct exchange *ex, const struct gh_http_response_head *h,
                             struct gh_http_header *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nheaders && n + 3 < cap; i++)
        for (size_t j = 0; j < GH_ARRAY_LEN(RESPONSE_HEADERS); j++)
            if (gh_slice_caseeq_cstr(h->headers[i].name, RESPONSE_HEADERS[j]))
                out[n++] = h->headers[i];
    if (ex->sess)
        out[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ex->sess->id)};
    return n;
}

/* ---- SSE answers: the exchange becomes the stream's producer ---- */

static void producer_control(void *arg, enum gh_mcp_producer_op op)
{
    struct exchange *ex = arg;
    if (op == GH_MCP_PRODUCER_CANCEL) {
        gh_http_creq_cancel(ex->creq);
        ex_free(ex);
        return;
    }
    gh_http_creq_pause(ex->creq, op == GH_MCP_PRODUCER_PAUSE);
}

/* The initialize answer names the negotiated version; later requests are checked against it. */
static void note_version(struct exchange *ex, const char *json, size_t len)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    if (gh_json_parse(a, json, len, NULL, &d, &e) == GH_OK && d.toks[0].type == GH_JSON_OBJECT) {
        int32_t res = gh_json_obj_get(&d, 0, "result", 6);
        int32_t v = res >= 0 ? gh_json_obj_get(&d, (uint32_t)res, "protocolVersion", 15) : -1;
        struct gh_slice s;
        if (v >= 0 && gh_json_str(&d, a, (uint32_t)v, &s) == GH_OK)
            gh_mcp_session_set_version(ex->sess, s);
    }
    gh_arena_free(a);
}

/* What the client may see of one answer message: of a list, the caller's part; of an upstream
 * with redact.results, the result without those members. malloc'ed, or NULL when unchanged. */
static char *ex_rewrite(struct exchange *ex, const char *p, size_t n, size_t *outn)
{
    char *f = NULL;
    *outn = 0;
    if (ex->list_method)
        f = gh_mcp_filter_answer(ex->gw, ex->who, gh_slice_cstr(ex->route->conf->name),
                                 ex->list_method, 0, p, n, outn);
    if (ex->redact_results) {
        unsigned mask = 0;
        size_t rn = 0;
        char *r =
            gh_mcp_redact_answer(ex->gw, ex->route->index, f ? f : p, f ? *outn : n, &rn, &mask);
        if (r) {
            free(f);
            f = r;
            *outn = rn;
        }
        struct gh_mcp_reqaudit *ra = ex->req ? gh_http_req_app(ex->req) : NULL;
        if (ra && mask) /* the outcome record names what was removed */
            atomic_fetch_or(&ra->redacted_results, mask);
        else if (mask && ex->st)
            gh_mcp_stream_note_redacted(ex->st, mask);
    }
    return f;
}

static enum gh_rc on_sse_event(void *arg, const struct gh_sse_event *ev)
{
    struct exchange *ex = arg;
    if (!ev->has_data && ev->retry < 0)
        return GH_OK; /* an id-only block: our own ids replace the upstream's */
    if (ex->initialize && ev->has_data)
        note_version(ex, ev->data.ptr, ev->data.len);
    size_t n = 0;
    char *f = ev->has_data ? ex_rewrite(ex, ev->data.ptr, ev->data.len, &n) : NULL;
    if (f) {
        struct gh_sse_event fe = *ev;
        fe.data = gh_slice(f, n);
        gh_mcp_stream_append(ex->st, &fe);
        free(f);
        return GH_OK;
    }
    gh_mcp_stream_append(ex->st, ev);
    return GH_OK;
}

static void start_sse(struct exchange *ex, const struct gh_http_response_head *h)
{
    struct gh_http_header hdrs[12];
    size_t n = client_headers(ex, h, hdrs, GH_ARRAY_LEN(hdrs) - 2);
    hdrs[n++] = (struct gh_http_header){GH_SLICE_LIT("X-Accel-Buffering"), GH_SLICE_LIT("no")};
    bool has_cc = false;
    for (size_t i = 0; i < n; i++)
        has_cc |= gh_slice_caseeq_cstr(hdrs[i].name, "Cache-Control");
    if (!has_cc)
        hdrs[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-cache")};
    gh_http_resp_start(ex->req, 200, hdrs, n, -1);
    gh_http_resp_flush(ex->req);
    ex->sse = true;
    gh_sse_parser_init(&ex->sse_parser, ex->gw->cfg->limits.sse_event_bytes);
    uint64_t after = 0;
    if (ex->resume) {
        if (!ex->list_method) /* the POST it resumes asked for a list: still filtered */
            ex->list_method = gh_mcp_stream_list(ex->resume, &ex->who);
        ex->st = ex->resume; /* the reference moves to the producer role */
        ex->resume = NULL;
        gh_mcp_stream_adopt_producer(ex->st, producer_control, ex);
        gh_mcp_stream_unref(ex->st);
        after = ex->resume_seq;
    } else {
        ex->st = gh_mcp_stream_new(ex->sess, ex->kind == EX_GET,
                                   ex->gw->cfg->limits.sse_replay_bytes, producer_control, ex);
        if (ex->list_method)
            gh_mcp_stream_set_list(ex->st, ex->list_method, ex->who);
    }
    if (ex->kind == EX_POST && ex->rpc_id.len) /* the request (and its arena) may go first */
        ex->sse_rpc_id = gh_xstrndup(ex->rpc_id.ptr, ex->rpc_id.len);
    struct gh_http_req *r = ex->req;
    ex->req = NULL; /* the stream's consumer owns the client response now */
    gh_mcp_stream_attach(ex->st, r, after);
}

/* ---- upstream callbacks ---- */

static void on_client_drain(void *arg)
{
    struct exchange *ex = arg;
    gh_http_creq_pause(ex->creq, false);
}

static void on_client_abort(void *arg)
{
    struct exchange *ex = arg;
    /* a disconnect is not a cancellation (MCP), but nobody can read a JSON answer any more */
    ex->client_gone = true;
    gh_http_resp_end(ex->req); /* drops our reference to the detached request */
    ex->req = NULL;
    if (ex->creq)
        gh_http_creq_cancel(ex->creq);
    gh_prop_exchange_cancel(ex->xchg); /* still asking the IdP */
    ex_free(ex);
}

static bool open_session(struct exchange *ex, const struct gh_http_response_head *h)
{
    const struct gh_http_header *sid =
        gh_http_header_find(h->headers, h->nheaders, "Mcp-Session-Id");
    memcpy(gh_mcp_current_principal, ex->principal, sizeof(ex->principal));
    ex->sess = gh_mcp_session_create(ex->gw, ex->route, sid ? sid->value : (struct gh_slice){0});
    return ex->sess != NULL;
}

static void on_head(void *arg, const struct gh_http_response_head *h)
{
    struct exchange *ex = arg;
    ex->status = h->status;
    bool ok = h->status >= 200 && h->status < 300;
    if (ex->sess && h->status == 404 && ex->kind != EX_DELETE) {
        /* the upstream forgot its session: so does the gateway; the client re-initializes */
        gh_mcp_session_close_why(ex->gw, ex->sess, "upstream_gone");
    }
    if (ex->kind == EX_DELETE && (ok || h->status == 404) && ex->sess)
        gh_mcp_session_close_why(ex->gw, ex->sess, "delete");
    if (ex->initialize && ok && !open_session(ex, h)) {
        gh_http_creq_cancel(ex->creq);
        gh_mcp_reply_error(ex->req, 503, ex->rpc_id, GH_JSONRPC_INTERNAL_ERROR,
                           "Service Unavailable: session limit reached");
        ex->req = NULL;
        ex_free(ex);
        return;
    }
    const struct gh_http_header *ct = gh_http_header_find(h->headers, h->nheaders, "Content-Type");
    if (ok && ct && ct->value.len >= 17 &&
        strncasecmp(ct->value.ptr, "text/event-stream", 17) == 0 && ex->sess) {
        start_sse(ex, h);
        return;
    }
    if ((ex->initialize || ex->list_method || ex->redact_results) && ok) {
        /* held whole: the negotiated version is read, a list is filtered for its caller */
        ex->buffered = true;
        ex->sse_buffered =
            ct && ct->value.len >= 17 && strncasecmp(ct->value.ptr, "text/event-stream", 17) == 0;
        gh_buf_release(&ex->body);
        gh_buf_init(&ex->body, ex->list_method || ex->redact_results
                                   ? ex->gw->cfg->limits.body_bytes * 4
                                   : INIT_BODY_CAP);
    }
    struct gh_http_header hdrs[12];
    size_t n = client_headers(ex, h, hdrs, GH_ARRAY_LEN(hdrs));
    if (ex->buffered) {
        /* headers are written when the body is complete (Content-Length known then) */
        return;
    }
    int64_t len = h->has_content_length && !h->chunked ? (int64_t)h->content_length : -1;
    if (h->no_body || h->status == 202) {
        len = 0;
        ex->discard_body = true;
    }
    gh_http_resp_start(ex->req, h->status, hdrs, n, len);
    ex->started = true;
}

/* The upstream's event stream broke before it answered the client's request: the client gets
 * that request's JSON-RPC error as the stream's last event, not a silent end. */
static void ex_stream_fail(struct exchange *ex, const char *msg)
{
    if (!ex->sse_rpc_id || gh_mcp_stream_answered(ex->st))
        return;
    struct gh_buf b;
    gh_buf_init(&b, 512);
    gh_jsonrpc_error_write(&b, gh_slice_cstr(ex->sse_rpc_id), GH_JSONRPC_INTERNAL_ERROR, msg);
    struct gh_sse_event ev = {.data = gh_slice(b.data, b.len), .retry = -1, .has_data = true};
    gh_mcp_stream_append(ex->st, &ev);
    gh_buf_release(&b);
}

static void on_body(void *arg, const char *p, size_t len)
{
    struct exchange *ex = arg;
    if (ex->sse) {
        enum gh_rc rc = gh_sse_parser_feed(&ex->sse_parser, p, len, on_sse_event, ex);
        if (rc != GH_OK) {
            GH_LOGW("mcp", "upstream %s: %s: stream ended%s", ex->route->conf->name,
                    rc == GH_E_LIMIT ? "SSE event over limits.sse_event_bytes"
                                     : "malformed SSE event",
                    ex->sse_rpc_id ? ", the pending request answered with an error" : "");
            gh_http_creq_cancel(ex->creq);
            ex_stream_fail(ex, rc == GH_E_LIMIT
                                   ? "Bad Gateway: the upstream sent an event larger than "
                                     "limits.sse_event_bytes; the stream was closed"
                                   : "Bad Gateway: the upstream sent a malformed event stream");
            gh_mcp_stream_finish(ex->st, rc);
            ex_free(ex);
        }
        return;
    }
    if (ex->buffered) {
        if (gh_buf_append(&ex->body, p, len) != GH_OK)
            ex->overflow = true; /* answered as an upstream error in on_done */
        return;
    }
    if (ex->discard_body) {
        return;
    }
    gh_http_resp_write(ex->req, p, len);
    if (gh_http_resp_pending(ex->req) > CLIENT_HIGH_WATER) {
        gh_http_creq_pause(ex->creq, true);
        gh_http_req_on_drain(ex->req, on_client_drain, ex);
    }
    gh_http_resp_flush(ex->req);
}

/* An answer held whole as SSE without a session: each event's message rewritten. */
static enum gh_rc refilter_event(void *arg, const struct gh_sse_event *ev)
{
    struct exchange *ex = arg;
    size_t n = 0;
    char *f = ev->has_data ? ex_rewrite(ex, ev->data.ptr, ev->data.len, &n) : NULL;
    gh_sse_write_event(ex->sse_out, ev->has_id ? ev->id : (struct gh_slice){0}, ev->event,
                       f ? gh_slice(f, n) : ev->data, ev->retry);
    free(f);
    return GH_OK;
}

static void finish_buffered(struct exchange *ex)
{
    if (ex->initialize)
        note_version(ex, ex->body.data, ex->body.len);
    struct gh_buf out;
    const char *body = ex->body.data;
    size_t len = ex->body.len;
    char *filtered = NULL;
    gh_buf_init(&out, ex->body.len + 1024);
    bool rewrite = ex->list_method || ex->redact_results;
    if (rewrite && ex->sse_buffered) {
        struct gh_sse_parser sp;
        gh_sse_parser_init(&sp, ex->gw->cfg->limits.sse_event_bytes);
        ex->sse_out = &out;
        gh_sse_parser_feed(&sp, ex->body.data ? ex->body.data : "", ex->body.len, refilter_event,
                           ex);
        gh_sse_parser_feed(&sp, "\n\n", 2, refilter_event, ex);
        gh_sse_parser_release(&sp);
        body = out.data;
        len = out.len;
    } else if (rewrite) {
        filtered = ex_rewrite(ex, body ? body : "", len, &len);
        if (filtered)
            body = filtered;
        else
            len = ex->body.len;
    }
    struct gh_http_header hdrs[2];
    size_t nh = 0;
    if (ex->sess)
        hdrs[nh++] =
            (struct gh_http_header){GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ex->sess->id)};
    gh_http_resp_simple(ex->req, ex->status,
                        ex->sse_buffered ? "text/event-stream" : "application/json", body, len,
                        hdrs, nh);
    free(filtered);
    gh_buf_release(&out);
    ex->req = NULL;
}

static void on_done(void *arg, enum gh_rc rc)
{
    struct exchange *ex = arg;
    if (ex->sse) {
        if (rc == GH_OK) {
            /* the parser may hold a final event without its blank line: dispatch it */
            gh_sse_parser_feed(&ex->sse_parser, "\n\n", 2, on_sse_event, ex);
        } else {
            GH_LOGW("mcp", "upstream %s: event stream %s: %s", ex->route->conf->name,
                    rc == GH_E_TIMEOUT ? "silent past timeouts.stream_idle_ms" : "broke off",
                    gh_rc_str(rc));
            ex_stream_fail(ex, rc == GH_E_TIMEOUT
                                   ? "Gateway Timeout: the upstream's event stream was silent "
                                     "longer than timeouts.stream_idle_ms"
                                   : "Bad Gateway: the upstream's event stream broke off before "
                                     "the answer");
        }
        gh_mcp_stream_finish(ex->st, rc);
        ex_free(ex);
        return;
    }
    if (rc == GH_OK && ex->overflow)
        rc = GH_E_LIMIT;
    if (rc == GH_OK && ex->buffered) {
        finish_buffered(ex);
    } else if (rc == GH_OK) {
        gh_http_resp_end(ex->req);
    } else if (ex->started) {
        GH_LOGW("mcp", "upstream %s: answer cut short: %s", ex->route->conf->name, gh_rc_str(rc));
        gh_http_resp_close_after(ex->req); /* the client must see the truncation */
        gh_http_resp_end(ex->req);
    } else {
        int status = rc == GH_E_TIMEOUT ? 504 : 502;
        GH_LOGW("mcp", "upstream %s unavailable: %s", ex->route->conf->name, gh_rc_str(rc));
        gh_mcp_reply_error(ex->req, status, ex->rpc_id, GH_JSONRPC_INTERNAL_ERROR,
                           status == 504 ? "Gateway Timeout: upstream did not answer in time"
                                         : "Bad Gateway: upstream unavailable");
    }
    ex->req = NULL;
    ex_free(ex);
}

static const struct gh_http_creq_cbs EX_CBS = {on_head, on_body, on_done};

static struct exchange *ex_new(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                               struct gh_http_req *r, struct gh_mcp_session *s, enum ex_kind kind)
{
    struct exchange *ex = gh_xcalloc(1, sizeof(*ex));
    ex->gw = gw;
    ex->route = route;
    ex->req = r;
    ex->sess = s; /* the caller's reference moves here */
    ex->kind = kind;
    ex->redact_results = gh_mcp_redacts_results(gw, route->index);
    memcpy(ex->principal, gh_mcp_current_principal, sizeof(ex->principal));
    gh_buf_init(&ex->body, 1);
    atomic_fetch_add(&gw->inflight, 1);
    return ex;
}

static void ex_send(struct exchange *ex, const char *method, struct gh_slice body);

/* Who the outbound identity speaks for: the authenticated caller, for this call. sess receives
 * the session digest the slices point into. False when nobody authenticated. */
static bool ex_subject(struct exchange *ex, struct gh_slice method, struct gh_slice name,
                       struct gh_prop_subject *s, char sess[17])
{
    const struct gh_auth_principal *who = gh_mcp_current_subject;
    if (!who)
        return false; /* nobody authenticated: there is no identity to propagate */
    const struct gh_auth_claims *c = &who->claims;
    const struct gh_mcp_reqaudit *ra = gh_http_req_app(ex->req);
    sess[0] = 0;
    struct gh_slice sid = gh_http_req_header(ex->req, "Mcp-Session-Id");
    if (ex->sess && sid.len) {
        unsigned char h[32];
        char hex[65];
        gh_sha256(sid.ptr, sid.len, h);
        gh_hex_encode(h, 32, hex);
        memcpy(sess, hex, 16);
        sess[16] = 0;
    }
    *s = (struct gh_prop_subject){
        .iss = c->iss,
        .sub = c->sub,
        .client_id = c->client_id,
        .scopes = c->scopes,
        .nscopes = c->nscopes,
        .act = c->act,
        .nact = c->nact,
        .method = method,
        .tool = name,
        .session = gh_slice_cstr(sess),
        .trace_id = ra ? gh_slice_cstr(ra->trace.trace_id) : (struct gh_slice){0},
    };
    return true;
}

/* The assertion this exchange carries (mode assertion); false when it cannot be made: the
 * request is then refused (503), never sent without the identity the upstream expects. */
static bool ex_identity(struct exchange *ex, struct gh_slice method, struct gh_slice name)
{
    const struct gh_prop_upstream *pu = gh_prop_upstream(ex->gw->prop, ex->route->index);
    if (gh_prop_upstream_mode(pu) != GH_PROP_ASSERTION)
        return true;
    struct gh_prop_subject s;
    char sess[17];
    if (!ex_subject(ex, method, name, &s, sess))
        return false;
    char *jwt = gh_prop_assertion(ex->gw->prop, pu, &s);
    if (!jwt)
        return false;
    size_t n = strlen(jwt) + 8;
    ex->identity = gh_xmalloc(n);
    snprintf(ex->identity, n, "Bearer %s", jwt);
    free(jwt);
    return true;
}

static void ex_refuse_identity(struct exchange *ex)
{
    GH_LOGE("mcp", "upstream %s: no outbound identity could be made for this request: refused",
            ex->route->conf->name);
    gh_mcp_reply_error(ex->req, 503, ex->rpc_id, GH_JSONRPC_INTERNAL_ERROR,
                       "Service Unavailable: the gateway cannot vouch for this caller to the "
                       "upstream");
    ex->req = NULL;
    ex_free(ex);
}

/* The caller's access token, as presented (Bearer or DPoP scheme): the subject token of an
 * exchange. It is sent to the IdP only, never to an upstream. */
static struct gh_slice ex_caller_token(struct exchange *ex)
{
    struct gh_slice a = gh_http_req_header(ex->req, "Authorization");
    size_t i = 0;
    while (i < a.len && a.ptr[i] != ' ')
        i++;
    struct gh_slice scheme = gh_slice(a.ptr, i);
    if (!gh_slice_caseeq_cstr(scheme, "Bearer") && !gh_slice_caseeq_cstr(scheme, "DPoP"))
        return (struct gh_slice){0};
    return gh_slice_trim(gh_slice(a.ptr + i, a.len - i));
}

static void on_exchanged(void *arg, const char *authorization)
{
    struct exchange *ex = arg;
    ex->xchg = NULL;
    if (!authorization) {
        ex_refuse_identity(ex);
        return;
    }
    ex->identity = gh_xstrdup(authorization);
    ex_send(ex, ex->x_method, ex->x_body);
}

/* mode token-exchange: a token from the IdP for this upstream, cached or asked for now. */
static void ex_send_exchanged(struct exchange *ex, const char *method, struct gh_slice body,
                              struct gh_slice rpc_method, struct gh_slice name)
{
    const struct gh_prop_upstream *pu = gh_prop_upstream(ex->gw->prop, ex->route->index);
    struct gh_prop_subject s;
    char sess[17];
    char *cached = NULL;
    enum gh_prop_exchange_state st = GH_PROP_EXCHANGE_FAILED;
    struct gh_slice token = ex_caller_token(ex);
    if (ex_subject(ex, rpc_method, name, &s, sess) && token.len)
        st = gh_prop_exchange_start(ex->gw->prop, pu, &s, token, on_exchanged, ex, &cached,
                                    &ex->xchg);
    switch (st) {
    case GH_PROP_EXCHANGE_CACHED:
        ex->identity = cached;
        ex_send(ex, method, body);
        return;
    case GH_PROP_EXCHANGE_PENDING: /* the body lives in the request arena or ex->traced */
        ex->x_method = method;
        ex->x_body = body;
        gh_http_req_on_abort(ex->req, on_client_abort, ex);
        return;
    case GH_PROP_EXCHANGE_FAILED:
    default:
        ex_refuse_identity(ex);
        return;
    }
}

/* Sends, or answers 503 when the upstream's identity cannot be made. */
static void ex_send_as(struct exchange *ex, const char *method, struct gh_slice body,
                       struct gh_slice rpc_method, struct gh_slice name)
{
    const struct gh_prop_upstream *pu = gh_prop_upstream(ex->gw->prop, ex->route->index);
    if (gh_prop_upstream_mode(pu) == GH_PROP_TOKEN_EXCHANGE) {
        ex_send_exchanged(ex, method, body, rpc_method, name);
        return;
    }
    if (!ex_identity(ex, rpc_method, name)) {
        ex_refuse_identity(ex);
        return;
    }
    ex_send(ex, method, body);
}

static void ex_send(struct exchange *ex, const char *method, struct gh_slice body)
{
    struct gh_http_header hdrs[48];
    size_t n = upstream_headers(ex, hdrs, GH_ARRAY_LEN(hdrs));
    gh_http_req_on_abort(ex->req, on_client_abort, ex);
    ex->creq =
        gh_http_client_send(gh_upstream_pool(ex->route), method,
                            gh_slice_cstr(ex->route->conf->url.path), hdrs, n, body, &EX_CBS, ex);
}

/* A list request under a policy: remember whose list it is. */
static void ex_filter_list(struct exchange *ex, const char *list_method)
{
    struct gh_policy *pol = gh_mcp_policy_get(ex->gw);
    bool on = gh_policy_enabled(pol);
    gh_policy_unref(pol);
    if (!list_method || !on)
        return;
    ex->list_method = list_method;
    ex->who = gh_mcp_current_subject ? gh_auth_principal_ref(gh_mcp_current_subject) : NULL;
}

void gh_mcp_proxy_post(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                       struct gh_http_req *r, struct gh_mcp_session *s,
                       const struct gh_jsonrpc_body *body)
{
    if (body->batch && gh_mcp_redacts_results(gw, route->index)) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Bad Request: this upstream's results are redacted by the gateway, "
                           "which takes single requests only, not batches");
        if (s)
            gh_mcp_session_unref(gw, s);
        return;
    }
    struct exchange *ex = ex_new(gw, route, r, s, EX_POST);
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    ex->initialize = !body->batch && gh_slice_eq_cstr(m->method, "initialize");
    if (!body->batch)
        ex->rpc_id = m->id_raw;
    if (!body->batch)
        ex_filter_list(ex, gh_mcp_list_method(m->method));
    ex_send_as(ex, "POST", gh_http_req_body(r), body->batch ? GH_SLICE_LIT("batch") : m->method,
               body->batch ? (struct gh_slice){0} : (m->name.len ? m->name : m->uri));
}

void gh_mcp_proxy_post_stateless(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                                 struct gh_http_req *r, const char *list_method)
{
    struct exchange *ex = ex_new(gw, route, r, NULL, EX_POST);
    ex->stateless = true;
    ex_filter_list(ex, list_method);
    struct gh_slice body = gh_http_req_body(r);
    char tp[56];
    size_t n;
    if (gh_mcp_trace_parent(r, tp) && (ex->traced = gh_mcp_trace_meta(body.ptr, body.len, tp, &n)))
        body = gh_slice(ex->traced, n); /* 2026-07-28 carries trace context in _meta too */
    ex_send_as(ex, "POST", body, gh_http_req_header(r, "Mcp-Method"),
               gh_http_req_header(r, "Mcp-Name"));
}

void gh_mcp_proxy_get(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                      struct gh_http_req *r, struct gh_mcp_session *s, struct gh_mcp_stream *resume,
                      const char *upstream_last_id, uint64_t after_seq)
{
    struct exchange *ex = ex_new(gw, route, r, s, EX_GET);
    if (resume) {
        ex->resume = resume; /* the caller's reference moves here */
        snprintf(ex->resume_id, sizeof(ex->resume_id), "%s", upstream_last_id);
        ex->resume_seq = after_seq;
    }
    ex_send_as(ex, "GET", (struct gh_slice){NULL, 0}, GH_SLICE_LIT("GET"), (struct gh_slice){0});
}

void gh_mcp_proxy_delete(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                         struct gh_http_req *r, struct gh_mcp_session *s)
{
    struct exchange *ex = ex_new(gw, route, r, s, EX_DELETE);
    ex_send_as(ex, "DELETE", (struct gh_slice){NULL, 0}, GH_SLICE_LIT("DELETE"),
               (struct gh_slice){0});
}
