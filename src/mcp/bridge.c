/*
 * mcp/bridge.c owns message-level sessions: the gateway terminates Streamable HTTP toward the
 * client and speaks JSON-RPC message by message to a stdio child it spawned for the session.
 *
 * Threads: a bridge lives on its home worker (where initialize arrived and the child was
 * spawned); requests arriving on other workers are posted there, and answers are posted back to
 * the worker that holds the client's connection. Ids are remapped on the way up (client ids →
 * gateway integers, upstream server-request ids → "s<n>" strings) so every answer finds its way
 * back, and so several clients or upstreams can share one channel later.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <inttypes.h>
#include <stdio.h>

#define TICK_MS 500

struct pending { /* a client request waiting for its answer; home worker only */
    struct pending *next;
    uint64_t gid;             /* the id the upstream sees */
    char *client_id;          /* raw JSON of the client's id */
    char *progress_token;     /* raw JSON of params._meta.progressToken, or NULL */
    struct gh_http_req *req;  /* touched only on req_w */
    struct gh_net_worker *req_w;
    struct gh_mcp_stream *st; /* once answered as SSE */
    uint64_t deadline_ms;
    bool initialize;
};

struct server_req { /* a request from the upstream, waiting for the client's answer */
    struct server_req *next;
    uint64_t sid;      /* the client sees "s<sid>" */
    char *upstream_id; /* raw JSON of the upstream's id */
};

/* Lives exactly as long as its session (freed with it); tasks hold session references. */
struct gh_mcp_bridge {
    struct gh_mcp_gateway *gw;
    const struct gh_upstream *up;
    struct gh_mcp_session *sess; /* the owner */
    struct gh_net_worker *home;
    struct gh_upstream_child *child;
    struct pending *pending;
    struct server_req *sreqs;
    uint64_t next_gid, next_sid;
    struct gh_mcp_stream *events; /* server-initiated messages, for the client's GET */
    struct gh_net_timer *tick;
    bool closed;
};

/* A message posted from a client connection's worker to the bridge's home. */
struct client_msg {
    struct gh_mcp_bridge *b;
    struct gh_http_req *req; /* NULL for notifications and responses (already answered 202) */
    struct gh_net_worker *req_w;
    char *bytes;
    size_t len;
};

/* An answer posted from home back to the client connection's worker. */
struct reply {
    struct gh_http_req *req;
    int status;
    char *body;
    size_t len;
    char session_id[48];       /* set on the answer to initialize */
    struct gh_mcp_stream *st;  /* set: start SSE and attach instead */
};

bool gh_mcp_bridged(const struct gh_upstream *u)
{
    return u->conf->kind == GH_CONFIG_UPSTREAM_STDIO;
}

void gh_mcp_bridge_free(struct gh_mcp_bridge *b)
{
    GH_BUG_ON(!b->closed); /* closing ran on home: the timer and the child are gone */
    free(b);
}

/* ---- answers, on the client's worker ---- */

static void reply_run(void *arg)
{
    struct reply *rp = arg;
    if (rp->st) {
        static const struct gh_http_header sse[] = {
            {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/event-stream")},
            {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-cache")},
            {GH_SLICE_LIT("X-Accel-Buffering"), GH_SLICE_LIT("no")},
        };
        gh_http_resp_start(rp->req, 200, sse, GH_ARRAY_LEN(sse), -1);
        gh_http_resp_flush(rp->req);
        gh_mcp_stream_attach(rp->st, rp->req, 0);
        gh_mcp_stream_unref(rp->st);
    } else {
        struct gh_http_header h = {GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(rp->session_id)};
        gh_http_resp_simple(rp->req, rp->status, rp->len ? "application/json" : NULL, rp->body,
                            rp->len, &h, rp->session_id[0] ? 1 : 0);
    }
    free(rp->body);
    free(rp);
}

static void reply_post(struct gh_net_worker *w, struct reply *rp)
{
    if (w == gh_net_worker_current())
        reply_run(rp);
    else
        gh_net_worker_post(w, reply_run, rp);
}

static void reply_error(struct gh_http_req *req, struct gh_net_worker *w, const char *id, int status,
                        int code, const char *msg)
{
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    gh_jsonrpc_error_write(&b, id ? gh_slice_cstr(id) : (struct gh_slice){0}, code, msg);
    struct reply *rp = gh_xcalloc(1, sizeof(*rp));
    rp->req = req;
    rp->status = status;
    rp->body = b.data; /* ownership moves */
    rp->len = b.len;
    reply_post(w, rp);
}

/* ---- splicing ---- */

/* A copy of msg with the bytes of span replaced by repl (both within msg). */
static char *splice(const char *msg, size_t len, struct gh_slice span, const char *repl,
                    size_t *outlen)
{
    size_t pre = (size_t)(span.ptr - msg), rn = strlen(repl);
    size_t n = len - span.len + rn;
    char *out = gh_xmalloc(n + 1);
    memcpy(out, msg, pre);
    memcpy(out + pre, repl, rn);
    memcpy(out + pre + rn, span.ptr + span.len, len - pre - span.len);
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* Raw JSON of params[.key1][.key2] as a slice into the message, or empty. */
static struct gh_slice member_raw(const struct gh_jsonrpc_body *body, int32_t obj, const char *k1,
                                  const char *k2)
{
    if (obj < 0 || body->doc.toks[obj].type != GH_JSON_OBJECT)
        return (struct gh_slice){0};
    int32_t v = gh_json_obj_get(&body->doc, (uint32_t)obj, k1, strlen(k1));
    if (v >= 0 && k2)
        return member_raw(body, v, k2, NULL);
    return v >= 0 ? gh_json_raw(&body->doc, (uint32_t)v) : (struct gh_slice){0};
}

/* ---- pending requests (home) ---- */

static void pending_free(struct pending *p)
{
    free(p->client_id);
    free(p->progress_token);
    free(p);
}

static struct pending *pending_take(struct gh_mcp_bridge *b, uint64_t gid)
{
    for (struct pending **pp = &b->pending; *pp; pp = &(*pp)->next) {
        if ((*pp)->gid == gid) {
            struct pending *p = *pp;
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

/* Answers p with one final message (its id already the client's) and forgets it. */
static void pending_answer(struct gh_mcp_bridge *b, struct pending *p, char *msg, size_t len)
{
    if (p->st) {
        struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
        gh_mcp_stream_append(p->st, &ev);
        gh_mcp_stream_finish(p->st, GH_OK);
        free(msg);
    } else {
        struct reply *rp = gh_xcalloc(1, sizeof(*rp));
        rp->req = p->req;
        rp->status = 200;
        rp->body = msg;
        rp->len = len;
        if (p->initialize)
            snprintf(rp->session_id, sizeof(rp->session_id), "%s", b->sess->id);
        reply_post(p->req_w, rp);
    }
    pending_free(p);
}

static void pending_fail(struct gh_mcp_bridge *b, struct pending *p, const char *why)
{
    struct gh_buf e;
    gh_buf_init(&e, 4096);
    gh_jsonrpc_error_write(&e, gh_slice_cstr(p->client_id), GH_JSONRPC_INTERNAL_ERROR, why);
    pending_answer(b, p, e.data, e.len);
}

/* A message related to p's request (progress, a server request) goes on p's SSE stream. */
static void pending_related(struct gh_mcp_bridge *b, struct pending *p, const char *msg,
                            size_t len)
{
    if (!p->st) {
        p->st = gh_mcp_stream_new(b->sess, false, b->gw->cfg->limits.sse_replay_bytes, NULL, NULL);
        struct reply *rp = gh_xcalloc(1, sizeof(*rp));
        rp->req = p->req;
        rp->st = p->st;
        gh_mcp_stream_ref(p->st); /* the reply's */
        reply_post(p->req_w, rp);
    }
    struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
    gh_mcp_stream_append(p->st, &ev);
}

/* ---- closing ---- */

static void bridge_close_home(struct gh_mcp_bridge *b, const char *why)
{
    if (b->closed)
        return;
    b->closed = true;
    gh_net_timer_free(b->tick);
    b->tick = NULL;
    while (b->pending) {
        struct pending *p = b->pending;
        b->pending = p->next;
        pending_fail(b, p, why);
    }
    while (b->sreqs) {
        struct server_req *r = b->sreqs;
        b->sreqs = r->next;
        free(r->upstream_id);
        free(r);
    }
    if (b->child) {
        gh_upstream_child_stop(b->child);
        b->child = NULL;
    }
    if (b->events) {
        gh_mcp_stream_finish(b->events, GH_OK);
        b->events = NULL;
    }
    gh_mcp_session_close(b->gw, b->sess); /* the next request gets 404 and re-initializes */
}

static void close_task(void *arg)
{
    struct gh_mcp_session *s = arg;
    struct gh_mcp_gateway *gw = s->gw;
    bridge_close_home(s->bridge, "session closed");
    gh_mcp_session_unref(gw, s);
}

void gh_mcp_bridge_session_closed(struct gh_mcp_session *s)
{
    struct gh_mcp_bridge *b = s->bridge;
    if (!b || b->closed)
        return;
    gh_mcp_session_ref(s->gw, s); /* the task's */
    if (b->home == gh_net_worker_current())
        close_task(s);
    else
        gh_net_worker_post(b->home, close_task, s);
}

/* ---- upstream → client (home) ---- */

static void on_upstream_response(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body,
                                 const char *msg, size_t len)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct pending *p = m->id_type == GH_JSONRPC_ID_INT ? pending_take(b, (uint64_t)m->id_int) : NULL;
    if (!p) {
        GH_LOGW("mcp", "upstream %s: answer to an unknown request id dropped", b->up->conf->name);
        return;
    }
    size_t n;
    char *out = splice(msg, len, m->id_raw, p->client_id, &n);
    pending_answer(b, p, out, n);
}

static struct pending *pending_by_token(struct gh_mcp_bridge *b, struct gh_slice token)
{
    for (struct pending *p = b->pending; p && token.len; p = p->next)
        if (p->progress_token && gh_slice_eq_cstr(token, p->progress_token))
            return p;
    return NULL;
}

/* Server-initiated messages go where a client listens: its GET stream, else a request stream. */
static void deliver_unrelated(struct gh_mcp_bridge *b, const char *msg, size_t len)
{
    if (b->pending && !gh_mcp_stream_has_consumer(b->events)) {
        pending_related(b, b->pending, msg, len);
        return;
    }
    struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
    gh_mcp_stream_append(b->events, &ev);
}

static void on_upstream_request(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body,
                                const char *msg, size_t len)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct server_req *r = gh_xcalloc(1, sizeof(*r));
    r->sid = ++b->next_sid;
    r->upstream_id = gh_xstrndup(m->id_raw.ptr, m->id_raw.len);
    r->next = b->sreqs;
    b->sreqs = r;
    char id[32];
    snprintf(id, sizeof(id), "\"s%" PRIu64 "\"", r->sid);
    size_t n;
    char *out = splice(msg, len, m->id_raw, id, &n);
    deliver_unrelated(b, out, n);
    free(out);
}

static void on_child_message(void *arg, const char *msg, size_t len)
{
    struct gh_mcp_bridge *b = arg;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_jsonrpc_limits lim = {.json = {.max_depth = (uint32_t)b->gw->cfg->limits.json_depth,
                                             .max_bytes = len + 1}};
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err;
    if (gh_jsonrpc_parse(a, msg, len, &lim, &body, &err) != GH_OK || body.batch) {
        GH_LOGW("mcp", "upstream %s sent an invalid message (%s): dropped", b->up->conf->name,
                err.reason ? err.reason : "batch");
        goto out;
    }
    const struct gh_jsonrpc_msg *m = &body.msgs[0];
    if (m->kind == GH_JSONRPC_RESULT || m->kind == GH_JSONRPC_ERROR) {
        on_upstream_response(b, &body, msg, len);
    } else if (m->kind == GH_JSONRPC_REQUEST) {
        on_upstream_request(b, &body, msg, len);
    } else {
        struct gh_slice tok = member_raw(&body, m->params, "progressToken", NULL);
        struct pending *p = gh_slice_eq_cstr(m->method, "notifications/progress")
                                ? pending_by_token(b, tok)
                                : NULL;
        if (p)
            pending_related(b, p, msg, len);
        else
            deliver_unrelated(b, msg, len);
    }
out:
    gh_arena_free(a);
}

static void on_child_exit(void *arg, int status, const char *why)
{
    struct gh_mcp_bridge *b = arg;
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream %s exited (%s, status %d)", b->up->conf->name, why,
             status);
    GH_LOGW("mcp", "%s", msg);
    b->child = NULL; /* the module frees it */
    bridge_close_home(b, msg);
}

static const struct gh_upstream_child_cbs CHILD_CBS = {on_child_message, on_child_exit};

static void on_tick(void *arg)
{
    struct gh_mcp_bridge *b = arg;
    uint64_t now = gh_clock_ms();
    for (struct pending **pp = &b->pending; *pp;) {
        struct pending *p = *pp;
        if (now < p->deadline_ms) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        pending_fail(b, p, "upstream did not answer in time");
    }
    if (!b->closed)
        gh_net_timer_arm(b->tick, TICK_MS);
}

/* ---- client → upstream (home) ---- */

static void send_up(struct gh_mcp_bridge *b, const char *msg, size_t len)
{
    if (!b->child || gh_upstream_child_send(b->child, msg, len) != GH_OK) {
        GH_LOGW("mcp", "upstream %s stopped reading: stopping it", b->up->conf->name);
        bridge_close_home(b, "upstream not reading its input");
    }
}

static void client_request(struct gh_mcp_bridge *b, struct client_msg *cm,
                           const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct pending *p = gh_xcalloc(1, sizeof(*p));
    p->gid = ++b->next_gid;
    p->client_id = gh_xstrndup(m->id_raw.ptr, m->id_raw.len);
    struct gh_slice tok = member_raw(body, m->params, "_meta", "progressToken");
    p->progress_token = tok.len ? gh_xstrndup(tok.ptr, tok.len) : NULL;
    p->req = cm->req;
    p->req_w = cm->req_w;
    p->initialize = gh_slice_eq_cstr(m->method, "initialize");
    p->deadline_ms = gh_clock_ms() + b->up->target.first_byte_ms;
    p->next = b->pending;
    b->pending = p;
    char id[32];
    snprintf(id, sizeof(id), "%" PRIu64, p->gid);
    size_t n;
    char *out = splice(cm->bytes, cm->len, m->id_raw, id, &n);
    send_up(b, out, n);
    free(out);
}

/* The client's answer to a server request gets the upstream's id back; a cancellation of a
 * client request names the id the upstream saw. */
static void client_other(struct gh_mcp_bridge *b, struct client_msg *cm,
                         const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct gh_slice span = {0};
    char repl[64] = "";
    const char *rp = repl;
    if (m->kind == GH_JSONRPC_RESULT || m->kind == GH_JSONRPC_ERROR) {
        uint64_t sid = 0;
        if (m->id_type == GH_JSONRPC_ID_STR && m->id_raw.len > 3 && m->id_raw.ptr[1] == 's')
            sid = strtoull(m->id_raw.ptr + 2, NULL, 10);
        struct server_req **pp = &b->sreqs;
        while (*pp && (*pp)->sid != sid)
            pp = &(*pp)->next;
        if (!*pp)
            return; /* an answer to nothing we asked: dropped */
        struct server_req *r = *pp;
        *pp = r->next;
        size_t n;
        char *out = splice(cm->bytes, cm->len, m->id_raw, r->upstream_id, &n);
        send_up(b, out, n);
        free(out);
        free(r->upstream_id);
        free(r);
        return;
    }
    if (gh_slice_eq_cstr(m->method, "notifications/cancelled")) {
        span = member_raw(body, m->params, "requestId", NULL);
        for (struct pending *p = b->pending; p && span.len; p = p->next)
            if (gh_slice_eq_cstr(span, p->client_id))
                snprintf(repl, sizeof(repl), "%" PRIu64, p->gid);
    }
    if (repl[0]) {
        size_t n;
        char *out = splice(cm->bytes, cm->len, span, rp, &n);
        send_up(b, out, n);
        free(out);
    } else {
        send_up(b, cm->bytes, cm->len);
    }
}

static void client_msg_run(void *arg)
{
    struct client_msg *cm = arg;
    struct gh_mcp_bridge *b = cm->b;
    struct gh_mcp_session *s = b->sess;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err;
    struct gh_jsonrpc_limits lim = {.json = {.max_bytes = cm->len + 1, .max_depth = 512}};
    /* parsed again here: the first parse lives in another thread's request arena */
    if (gh_jsonrpc_parse(a, cm->bytes, cm->len, &lim, &body, &err) != GH_OK) {
        if (cm->req)
            reply_error(cm->req, cm->req_w, NULL, 400, err.code, err.reason);
    } else if (b->closed) {
        if (cm->req)
            reply_error(cm->req, cm->req_w, NULL, 404, GH_JSONRPC_INVALID_REQUEST,
                        "Session not found");
    } else if (cm->req) {
        client_request(b, cm, &body);
    } else {
        client_other(b, cm, &body);
    }
    gh_arena_free(a);
    free(cm->bytes);
    free(cm);
    gh_mcp_session_unref(s->gw, s); /* the task's */
}

/* ---- entry points (client's worker) ---- */

/* Collapses CR/LF (only ever whitespace in valid JSON) so the message is one line. */
static char *one_line(struct gh_slice body)
{
    char *s = gh_xstrndup(body.ptr, body.len);
    for (size_t i = 0; i < body.len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
    return s;
}

static void post_to_home(struct gh_mcp_bridge *b, struct gh_http_req *r, bool wants_answer)
{
    struct client_msg *cm = gh_xcalloc(1, sizeof(*cm));
    struct gh_slice body = gh_http_req_body(r);
    gh_mcp_session_ref(b->gw, b->sess); /* the task's */
    cm->b = b;
    cm->bytes = one_line(body);
    cm->len = body.len;
    cm->req = wants_answer ? r : NULL;
    cm->req_w = gh_http_req_worker(r);
    if (b->home == gh_net_worker_current())
        client_msg_run(cm);
    else
        gh_net_worker_post(b->home, client_msg_run, cm);
}

static struct gh_mcp_bridge *bridge_new(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                                        struct gh_mcp_session *s)
{
    struct gh_mcp_bridge *b = gh_xcalloc(1, sizeof(*b));
    b->gw = gw;
    b->up = u;
    b->sess = s;
    b->home = gh_net_worker_current();
    b->tick = gh_net_timer_new(b->home, on_tick, b);
    b->events = gh_mcp_stream_new(s, true, gw->cfg->limits.sse_replay_bytes, NULL, NULL);
    gh_mcp_stream_set_lossy(b->events);
    gh_net_timer_arm(b->tick, TICK_MS);
    return b;
}

static void bridge_initialize(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                              struct gh_http_req *r, struct gh_slice id)
{
    struct gh_mcp_session *s = gh_mcp_session_create(gw, u, (struct gh_slice){0});
    if (!s) {
        gh_mcp_reply_error(r, 503, id, GH_JSONRPC_INTERNAL_ERROR,
                           "Service Unavailable: session limit reached");
        return;
    }
    struct gh_mcp_bridge *b = bridge_new(gw, u, s);
    char err[256] = "";
    enum gh_rc rc = gh_upstream_child_spawn(b->home, u->conf, &CHILD_CBS, b, &b->child, err,
                                            sizeof(err));
    s->bridge = b; /* published before any other worker can find the session by id */
    if (rc != GH_OK) {
        GH_LOGW("mcp", "upstream %s: cannot start: %s", u->conf->name, err);
        gh_mcp_reply_error(r, rc == GH_E_LIMIT ? 503 : 502, id, GH_JSONRPC_INTERNAL_ERROR,
                           rc == GH_E_LIMIT ? "Service Unavailable: stdio children limit reached"
                                            : "Bad Gateway: upstream could not be started");
        bridge_close_home(b, "upstream could not be started");
        gh_mcp_session_unref(gw, s);
        return;
    }
    GH_LOGI("mcp", "upstream %s: started pid %d for a new session", u->conf->name,
            (int)gh_upstream_child_pid(b->child));
    post_to_home(b, r, true);
    gh_mcp_session_unref(gw, s); /* the creator's */
}

void gh_mcp_bridge_post(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                        struct gh_http_req *r, struct gh_mcp_session *s,
                        const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (body->batch) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Invalid Request: batches are not supported for stdio upstreams");
    } else if (!s) {
        bridge_initialize(gw, u, r, m->id_raw);
    } else if (!s->bridge) {
        gh_mcp_reply_error(r, 404, m->id_raw, GH_JSONRPC_INVALID_REQUEST, "Session not found");
    } else if (m->kind == GH_JSONRPC_REQUEST) {
        post_to_home(s->bridge, r, true);
    } else {
        post_to_home(s->bridge, r, false);
        gh_http_resp_simple(r, 202, NULL, NULL, 0, NULL, 0);
    }
    if (s)
        gh_mcp_session_unref(gw, s);
}

void gh_mcp_bridge_get(struct gh_mcp_gateway *gw, struct gh_http_req *r, struct gh_mcp_session *s)
{
    struct gh_mcp_bridge *b = s->bridge;
    static const struct gh_http_header hdrs[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/event-stream")},
        {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-cache")},
        {GH_SLICE_LIT("X-Accel-Buffering"), GH_SLICE_LIT("no")},
    };
    struct gh_mcp_stream *st = b ? gh_mcp_stream_find_get(s, true) : NULL;
    if (!st) {
        gh_mcp_reply_error(r, 404, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Session not found");
        gh_mcp_session_unref(gw, s);
        return;
    }
    gh_http_resp_start(r, 200, hdrs, GH_ARRAY_LEN(hdrs), -1);
    gh_http_resp_flush(r);
    gh_mcp_stream_attach(st, r, gh_mcp_stream_delivered(st));
    gh_mcp_stream_unref(st);
    gh_mcp_session_unref(gw, s);
}
