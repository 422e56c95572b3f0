/*
 * mcp/bridge.c owns message-level sessions: the gateway terminates Streamable HTTP toward the
 * client and speaks JSON-RPC message by message to the session's upstream channels — a stdio
 * child spawned for the session, or (for an aggregated endpoint, aggregate.c) several stdio and
 * HTTP upstreams behind one URL.
 *
 * Threads: a bridge lives on its home worker (where initialize arrived and the channels were
 * opened); requests arriving on other workers are posted there, and answers are posted back to
 * the worker that holds the client's connection. Ids are remapped on the way up (client ids →
 * gateway integers, upstream server-request ids → "s<n>" strings) so every answer finds its way
 * back whichever upstream it came from.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <inttypes.h>
#include <stdio.h>

#define TICK_MS 500

/* A message posted from a client connection's worker to the bridge's home. */
struct gh_mcp_client_msg {
    struct gh_mcp_client_msg *next; /* held: queued until initialize finished */
    bool stateless;                 /* a 2026-07-28 request on a held session */
    struct gh_mcp_session *thin;    /* a client session on a shared child (the task's ref) */
    bool shared_init;               /* its initialize: answered from the held result */
    struct gh_mcp_bridge *b;
    struct gh_http_req *req; /* NULL for notifications and responses (already answered 202) */
    struct gh_net_worker *req_w;
    char *bytes;
    size_t len;
    struct gh_auth_principal *principal; /* who sent it (ref), for filtering its lists */
};

/* An answer posted from home back to the client connection's worker. */
struct reply {
    struct gh_http_req *req;
    int status;
    char *body;
    size_t len;
    char session_id[48];      /* set on the answer to initialize */
    struct gh_mcp_stream *st; /* set: start SSE and attach instead */
};

bool gh_mcp_bridged(const struct gh_upstream *u)
{
    return u->conf->kind == GH_CONFIG_UPSTREAM_STDIO;
}

bool gh_mcp_shared(const struct gh_upstream *u)
{
    return gh_mcp_bridged(u) && u->conf->mode == GH_CONFIG_STDIO_SHARED;
}

void gh_mcp_bridge_free(struct gh_mcp_bridge *b)
{
    GH_BUG_ON(!b->closed); /* closing ran on home: the timer and the channels are gone */
    free(b->held_init);
    free(b->thin);
    gh_mcp_agg_free(b);
    free(b->ch);
    free(b->ups);
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

static void reply_error(struct gh_http_req *req, struct gh_net_worker *w, int status, int code,
                        const char *msg)
{
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    gh_jsonrpc_error_write(&b, (struct gh_slice){0}, code, msg);
    struct reply *rp = gh_xcalloc(1, sizeof(*rp));
    rp->req = req;
    rp->status = status;
    rp->body = b.data; /* ownership moves */
    rp->len = b.len;
    reply_post(w, rp);
}

/* ---- splicing ---- */

char *gh_mcp_splice(const char *msg, size_t len, struct gh_slice span, const char *repl,
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

/* Raw JSON of obj[.k1][.k2] as a slice into the message, or empty. */
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

/* A 2026-07-28 result says what kind it is: insert "resultType":"complete" into it. */
static char *add_result_type(char *msg, size_t *len)
{
    struct gh_arena *a = gh_arena_new(2048);
    struct gh_json_doc d;
    struct gh_json_err e;
    char *out = msg;
    if (gh_json_parse(a, msg, *len, NULL, &d, &e) == GH_OK && d.toks[0].type == GH_JSON_OBJECT) {
        int32_t res = gh_json_obj_get(&d, 0, "result", 6);
        if (res >= 0 && d.toks[res].type == GH_JSON_OBJECT &&
            gh_json_obj_get(&d, (uint32_t)res, "resultType", 10) < 0) {
            struct gh_slice open = gh_slice(msg + d.toks[res].start + 1, 0);
            size_t n;
            out = gh_mcp_splice(msg, *len, open,
                                d.toks[res].size ? "\"resultType\":\"complete\","
                                                 : "\"resultType\":\"complete\"",
                                &n);
            *len = n;
            free(msg);
        }
    }
    gh_arena_free(a);
    return out;
}

/* ---- pending requests (home) ---- */

struct gh_mcp_pending *gh_mcp_pending_add(struct gh_mcp_bridge *b, size_t ch)
{
    struct gh_mcp_pending *p = gh_xcalloc(1, sizeof(*p));
    p->gid = ++b->next_gid;
    p->ch = ch;
    p->deadline_ms = gh_clock_ms() + (ch < b->nch ? b->ups[ch] : b->ups[0])->target.first_byte_ms;
    p->next = b->pending;
    b->pending = p;
    return p;
}

static void pending_free(struct gh_mcp_pending *p)
{
    gh_auth_principal_unref(p->principal);
    if (p->fan)
        gh_mcp_fanout_free(p->fan);
    free(p->client_token);
    free(p->client_id);
    free(p->progress_token);
    free(p);
}

static void pending_unlink(struct gh_mcp_bridge *b, struct gh_mcp_pending *p)
{
    for (struct gh_mcp_pending **pp = &b->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

static struct gh_mcp_pending *pending_by_gid(struct gh_mcp_bridge *b, uint64_t gid)
{
    for (struct gh_mcp_pending *p = b->pending; p; p = p->next)
        if (p->gid == gid && gid)
            return p;
    return NULL;
}

/* Answers p with one final message (its id already the client's) and forgets it. */
void gh_mcp_pending_answer(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, char *msg, size_t len)
{
    pending_unlink(b, p);
    if (p->on_answer) {
        p->on_answer(b, msg, len);
        free(msg);
        pending_free(p);
        return;
    }
    if (p->list_method && !b->ep && p->ch < b->nch) { /* the caller sees what it may use */
        size_t n = 0;
        char *f =
            gh_mcp_filter_answer(b->gw, p->principal, gh_slice_cstr(b->ups[p->ch]->conf->name),
                                 p->list_method, 0, msg, len, &n);
        if (f) {
            free(msg);
            msg = f;
            len = n;
        }
    }
    if (!b->ep && p->ch < b->nch && gh_mcp_redacts_results(b->gw, b->ups[p->ch]->index)) {
        unsigned mask = 0;
        size_t n = 0;
        char *r = gh_mcp_redact_answer(b->gw, b->ups[p->ch]->index, msg, len, &n, &mask);
        if (r) { /* before the client sees anything */
            free(msg);
            msg = r;
            len = n;
        }
        struct gh_mcp_reqaudit *ra = p->req ? gh_http_req_app(p->req) : NULL;
        if (ra && mask) /* the request lives until its reply is written: the outcome says it */
            atomic_fetch_or(&ra->redacted_results, mask);
    }
    if (p->stateless)
        msg = add_result_type(msg, &len);
    if (p->st) {
        struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
        gh_mcp_stream_append(p->st, &ev);
        gh_mcp_stream_finish(p->st, GH_OK);
        free(msg);
    } else if (p->req) {
        struct reply *rp = gh_xcalloc(1, sizeof(*rp));
        rp->req = p->req;
        rp->status = 200;
        rp->body = msg;
        rp->len = len;
        if (p->initialize)
            snprintf(rp->session_id, sizeof(rp->session_id), "%s", b->sess->id);
        reply_post(p->req_w, rp);
    } else {
        free(msg);
    }
    pending_free(p);
}

void gh_mcp_pending_fail(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, int code,
                         const char *why)
{
    if (p->parent) { /* a fan-out part: its parent decides */
        pending_unlink(b, p);
        struct gh_mcp_pending *part = p;
        gh_mcp_agg_part_done(b, part, NULL, 0);
        pending_free(part);
        return;
    }
    struct gh_buf e;
    gh_buf_init(&e, 4096);
    gh_jsonrpc_error_write(&e, gh_slice_cstr(p->client_id ? p->client_id : "null"), code, why);
    gh_mcp_pending_answer(b, p, e.data, e.len);
}

/* A message related to p's request (progress, a server request) goes on p's SSE stream. */
static void pending_related(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, const char *msg,
                            size_t len)
{
    while (p->parent)
        p = p->parent;
    if (!p->req)
        return;
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

static void held_close(struct gh_mcp_bridge *b);

static void bridge_close_home(struct gh_mcp_bridge *b, const char *why)
{
    if (b->closed)
        return;
    b->closed = true;
    gh_net_timer_free(b->tick);
    b->tick = NULL;
    for (size_t i = 0; i < b->nch; i++) {
        if (b->ch[i])
            gh_mcp_channel_close(b->ch[i]);
        b->ch[i] = NULL;
    }
    /* parts first, so each parent is answered once, by its own failure */
    for (struct gh_mcp_pending *p = b->pending, *n; p; p = n) {
        n = p->next;
        if (p->parent) {
            pending_unlink(b, p);
            pending_free(p);
        }
    }
    while (b->pending)
        gh_mcp_pending_fail(b, b->pending, GH_JSONRPC_INTERNAL_ERROR, why);
    while (b->sreqs) {
        struct gh_mcp_server_req *r = b->sreqs;
        b->sreqs = r->next;
        free(r->upstream_id);
        free(r);
    }
    if (b->events) {
        gh_mcp_stream_finish(b->events, GH_OK);
        b->events = NULL;
    }
    held_close(b);
    gh_mcp_session_close_why(b->gw, b->sess, "upstream_gone"); /* 404 next: re-initialize */
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
    if (!b)
        return;
    gh_mcp_session_ref(s->gw, s); /* the task's */
    if (b->home == gh_net_worker_current())
        close_task(s);
    else
        gh_net_worker_post(b->home, close_task, s);
}

/* ---- upstream → client (home) ---- */

/* The version the upstream chose in its initialize answer becomes the session's. */
static void note_version(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body)
{
    const struct gh_json_doc *d = &body->doc;
    int32_t res = gh_json_obj_get(d, 0, "result", 6);
    int32_t v = res >= 0 && d->toks[res].type == GH_JSON_OBJECT
                    ? gh_json_obj_get(d, (uint32_t)res, "protocolVersion", 15)
                    : -1;
    if (v < 0 || d->toks[v].type != GH_JSON_STRING || (d->toks[v].flags & GH_JSON_F_ESCAPED))
        return;
    struct gh_slice raw = gh_json_raw(d, (uint32_t)v);
    gh_mcp_session_set_version(b->sess, gh_slice(raw.ptr + 1, raw.len - 2));
}

static void on_upstream_response(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body,
                                 const char *msg, size_t len)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct gh_mcp_pending *p =
        m->id_type == GH_JSONRPC_ID_INT ? pending_by_gid(b, (uint64_t)m->id_int) : NULL;
    if (!p) {
        GH_LOGD("mcp", "answer to an unknown request id dropped");
        return;
    }
    if (p->parent) {
        pending_unlink(b, p);
        gh_mcp_agg_part_done(b, p, msg, len);
        pending_free(p);
        return;
    }
    if (p->initialize && !b->ep)
        note_version(b, body);
    size_t n;
    char *out = gh_mcp_splice(msg, len, m->id_raw, p->client_id, &n);
    gh_mcp_pending_answer(b, p, out, n);
}

static struct gh_mcp_pending *pending_by_token(struct gh_mcp_bridge *b, struct gh_slice token)
{
    for (struct gh_mcp_pending *p = b->pending; p && token.len; p = p->next)
        if (p->progress_token && gh_slice_eq_cstr(token, p->progress_token))
            return p;
    return NULL;
}

/* Server-initiated messages go where a client listens: its GET stream, else a request stream. */
static void held_broadcast(struct gh_mcp_bridge *b, const char *msg, size_t len);

static void deliver_unrelated(struct gh_mcp_bridge *b, const char *msg, size_t len)
{
    if (b->held) {
        held_broadcast(b, msg, len);
        return;
    }
    struct gh_mcp_pending *p = b->pending;
    while (p && !p->req)
        p = p->next;
    if (p && !gh_mcp_stream_has_consumer(b->events)) {
        pending_related(b, p, msg, len);
        return;
    }
    struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
    gh_mcp_stream_append(b->events, &ev);
}

static bool send_up(struct gh_mcp_bridge *b, size_t idx, const char *msg, size_t len, uint64_t gid,
                    bool is_init);

static void on_upstream_request(struct gh_mcp_bridge *b, size_t idx,
                                const struct gh_jsonrpc_body *body, const char *msg, size_t len)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (b->held) {
        /* 2026-07-28 clients cannot be asked (MRTR is not bridged): refuse at once, so the
         * upstream does not wait for an answer that cannot come */
        struct gh_buf e;
        gh_buf_init(&e, 1024);
        gh_jsonrpc_error_write(&e, m->id_raw, GH_JSONRPC_METHOD_NOT_FOUND,
                               "the gateway's client cannot answer server requests");
        send_up(b, idx, e.data, e.len, 0, false);
        gh_buf_release(&e);
        return;
    }
    struct gh_mcp_server_req *r = gh_xcalloc(1, sizeof(*r));
    r->sid = ++b->next_sid;
    r->ch = idx;
    r->upstream_id = gh_xstrndup(m->id_raw.ptr, m->id_raw.len);
    r->next = b->sreqs;
    b->sreqs = r;
    char id[32];
    snprintf(id, sizeof(id), "\"s%" PRIu64 "\"", r->sid);
    size_t n;
    char *out = gh_mcp_splice(msg, len, m->id_raw, id, &n);
    deliver_unrelated(b, out, n);
    free(out);
}

static void on_channel_message(void *arg, size_t idx, const char *msg, size_t len)
{
    struct gh_mcp_bridge *b = arg;
    if (b->closed)
        return;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_jsonrpc_limits lim = {
        .json = {.max_depth = (uint32_t)b->gw->cfg->limits.json_depth, .max_bytes = len + 1}};
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err = {0};
    if (gh_jsonrpc_parse(a, msg, len, &lim, &body, &err) != GH_OK || body.batch) {
        GH_LOGW("mcp", "upstream %s sent an invalid message (%s): dropped", b->ups[idx]->conf->name,
                err.reason ? err.reason : "batch");
        goto out;
    }
    const struct gh_jsonrpc_msg *m = &body.msgs[0];
    if (m->kind == GH_JSONRPC_RESULT || m->kind == GH_JSONRPC_ERROR) {
        on_upstream_response(b, &body, msg, len);
    } else if (m->kind == GH_JSONRPC_REQUEST) {
        on_upstream_request(b, idx, &body, msg, len);
    } else {
        struct gh_slice tok = member_raw(&body, m->params, "progressToken", NULL);
        struct gh_mcp_pending *p =
            gh_slice_eq_cstr(m->method, "notifications/progress") ? pending_by_token(b, tok) : NULL;
        if (p && p->client_token) { /* the client's own token back */
            size_t n;
            char *out = gh_mcp_splice(msg, len, tok, p->client_token, &n);
            pending_related(b, p, out, n);
            free(out);
        } else if (p) {
            pending_related(b, p, msg, len);
        } else {
            deliver_unrelated(b, msg, len);
        }
    }
out:
    gh_arena_free(a);
}

static void on_channel_gone(void *arg, size_t idx, const char *why)
{
    struct gh_mcp_bridge *b = arg;
    b->ch[idx] = NULL; /* the channel is finished with itself */
    bridge_close_home(b, why);
}

static const struct gh_mcp_channel_cbs CHANNEL_CBS = {on_channel_message, on_channel_gone};

static void held_hung(struct gh_mcp_bridge *b, const char *why);
static void held_respawn(struct gh_mcp_bridge *b);

/* A stdio child that has said nothing at all (no answer, progress or request of its own) since
 * a request went to it, and let that request's deadline pass, is hung: alive, answering nothing.
 * One that still talks is only slow on that request, which alone fails. */
static bool pending_hung(const struct gh_mcp_bridge *b, const struct gh_mcp_pending *p)
{
    return p->ch < b->nch && b->ch[p->ch] && p->sent_ms &&
           gh_mcp_channel_silent_since(b->ch[p->ch], p->sent_ms);
}

/* A session's own child is stopped with its session: everything in flight fails, the child is
 * stopped (TERM, KILL after stop_grace_ms) and reaped, and the next request gets 404. A shared
 * child is restarted under its sessions instead (held_hung). */
static void on_hang(struct gh_mcp_bridge *b, size_t idx)
{
    const struct gh_upstream *u = b->ups[idx];
    char why[192];
    snprintf(why, sizeof(why), "upstream %s did not answer in time: stopped as hung",
             u->conf->name);
    GH_LOGW("mcp",
            "upstream %s: pid %d said nothing for %llu ms with a request pending: stopping "
            "it as hung",
            u->conf->name, (int)gh_mcp_channel_pid(b->ch[idx]),
            (unsigned long long)u->target.first_byte_ms);
    if (b->held && b->held_ready && !b->ep && gh_mcp_shared(u))
        held_hung(b, why);
    else
        bridge_close_home(b, why);
}

static void on_tick(void *arg)
{
    struct gh_mcp_bridge *b = arg;
    struct gh_mcp_gateway *gw = b->gw;
    struct gh_mcp_session *s = b->sess;
    uint64_t now = gh_clock_ms();
    gh_mcp_session_ref(gw, s); /* ending the session must not free b before we are done */
    for (bool again = true; again && !b->closed;) {
        again = false;
        for (struct gh_mcp_pending *p = b->pending; p; p = p->next) {
            if (p->gid && now >= p->deadline_ms) {
                if (pending_hung(b, p))
                    on_hang(b, p->ch);
                else
                    gh_mcp_pending_fail(b, p, GH_JSONRPC_INTERNAL_ERROR,
                                        "upstream did not answer in time");
                again = true; /* the list changed under us */
                break;
            }
        }
    }
    if (!b->closed && b->respawn_at_ms && now >= b->respawn_at_ms)
        held_respawn(b);
    if (!b->closed)
        gh_net_timer_arm(b->tick, TICK_MS);
    gh_mcp_session_unref(gw, s);
}

/* ---- client → upstream (home) ---- */

static bool send_up(struct gh_mcp_bridge *b, size_t idx, const char *msg, size_t len, uint64_t gid,
                    bool is_init)
{
    if (b->ch[idx] && gh_mcp_channel_send(b->ch[idx], msg, len, gid, is_init) == GH_OK)
        return true;
    GH_LOGW("mcp", "upstream %s is not taking messages: ending the session",
            b->ups[idx]->conf->name);
    bridge_close_home(b, "upstream not reading its input");
    return false;
}

bool gh_mcp_bridge_send_request(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, const char *msg,
                                size_t len, struct gh_slice id_span)
{
    char id[32];
    snprintf(id, sizeof(id), "%" PRIu64, p->gid);
    size_t n;
    char *out = gh_mcp_splice(msg, len, id_span, id, &n);
    p->sent_ms = gh_clock_ms();
    bool ok = send_up(b, p->ch, out, n, p->gid, p->initialize);
    free(out);
    return ok;
}

static void client_request(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                           const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct gh_mcp_pending *p = gh_mcp_pending_add(b, 0);
    p->client_id = gh_xstrndup(m->id_raw.ptr, m->id_raw.len);
    p->req = cm->req;
    p->req_w = cm->req_w;
    p->initialize = gh_slice_eq_cstr(m->method, "initialize");
    p->stateless = cm->stateless;
    p->owner = cm->thin;
    p->list_method = gh_mcp_list_method(m->method);
    if (p->list_method && cm->principal)
        p->principal = gh_auth_principal_ref(cm->principal);
    struct gh_slice tok = member_raw(body, m->params, "_meta", "progressToken");
    const char *msg = cm->bytes;
    size_t len = cm->len;
    char *remapped = NULL;
    struct gh_slice id = m->id_raw;
    if (tok.len && b->held) {
        /* clients sharing one upstream pick tokens independently: the upstream sees ours */
        char mine[32];
        snprintf(mine, sizeof(mine), "\"g%" PRIu64 "\"", p->gid);
        p->client_token = gh_xstrndup(tok.ptr, tok.len);
        p->progress_token = gh_xstrdup(mine);
        remapped = gh_mcp_splice(msg, len, tok, mine, &len);
        ptrdiff_t delta = (ptrdiff_t)strlen(mine) - (ptrdiff_t)tok.len;
        id.ptr = remapped + (m->id_raw.ptr - msg) + (tok.ptr < m->id_raw.ptr ? delta : 0);
        msg = remapped;
    } else {
        p->progress_token = tok.len ? gh_xstrndup(tok.ptr, tok.len) : NULL;
    }
    if (b->ep)
        gh_mcp_agg_request(b, p, body, msg, len);
    else
        gh_mcp_bridge_send_request(b, p, msg, len, id);
    free(remapped);
}

/* The client's answer to a server request gets the upstream's id back. */
static void client_answer(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                          const struct gh_jsonrpc_msg *m)
{
    uint64_t sid = 0;
    if (m->id_type == GH_JSONRPC_ID_STR && m->id_raw.len > 3 && m->id_raw.ptr[1] == 's')
        sid = strtoull(m->id_raw.ptr + 2, NULL, 10);
    struct gh_mcp_server_req **pp = &b->sreqs;
    while (*pp && (*pp)->sid != sid)
        pp = &(*pp)->next;
    if (!*pp)
        return; /* an answer to nothing we asked: dropped */
    struct gh_mcp_server_req *r = *pp;
    *pp = r->next;
    size_t n;
    char *out = gh_mcp_splice(cm->bytes, cm->len, m->id_raw, r->upstream_id, &n);
    send_up(b, r->ch, out, n, 0, false);
    free(out);
    free(r->upstream_id);
    free(r);
}

/* A cancellation names the id the upstream saw, and goes only where that request went. */
static void client_notification(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                                const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (gh_slice_eq_cstr(m->method, "notifications/cancelled")) {
        struct gh_slice span = member_raw(body, m->params, "requestId", NULL);
        for (struct gh_mcp_pending *p = b->pending; p && span.len; p = p->next) {
            if (p->client_id && gh_slice_eq_cstr(span, p->client_id) && !p->fan &&
                p->owner == cm->thin) {
                char repl[32];
                snprintf(repl, sizeof(repl), "%" PRIu64, p->gid);
                size_t n;
                char *out = gh_mcp_splice(cm->bytes, cm->len, span, repl, &n);
                send_up(b, p->ch, out, n, 0, false);
                free(out);
                return;
            }
        }
        return; /* nothing of ours to cancel */
    }
    if (b->ep) {
        gh_mcp_agg_notification(b, body, cm->bytes, cm->len);
        return;
    }
    if (gh_slice_eq_cstr(m->method, "notifications/initialized"))
        gh_mcp_channel_initialized(b->ch[0], gh_slice_cstr(b->sess->version));
    send_up(b, 0, cm->bytes, cm->len, 0, false);
}

static bool held_request(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                         const struct gh_jsonrpc_body *body);
static bool shared_msg(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                       const struct gh_jsonrpc_body *body);

static void client_msg_run(void *arg)
{
    struct gh_mcp_client_msg *cm = arg;
    struct gh_mcp_bridge *b = cm->b;
    struct gh_mcp_session *s = b->sess;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err = {0};
    struct gh_jsonrpc_limits lim = {.json = {.max_bytes = cm->len + 1, .max_depth = 512}};
    /* parsed again here: the first parse lives in another thread's request arena */
    if (gh_jsonrpc_parse(a, cm->bytes, cm->len, &lim, &body, &err) != GH_OK) {
        if (cm->req)
            reply_error(cm->req, cm->req_w, 400, err.code, err.reason);
    } else if (b->closed) {
        if (cm->req)
            reply_error(cm->req, cm->req_w, 404, GH_JSONRPC_INVALID_REQUEST, "Session not found");
    } else if (cm->thin) {
        if (shared_msg(b, cm, &body)) { /* queued until initialize finishes */
            gh_arena_free(a);
            return;
        }
    } else if (cm->req && cm->stateless) {
        if (held_request(b, cm, &body)) { /* queued until initialize finishes */
            gh_arena_free(a);
            return;
        }
    } else if (cm->req) {
        client_request(b, cm, &body);
    } else if (body.msgs[0].kind == GH_JSONRPC_NOTIFICATION) {
        client_notification(b, cm, &body);
    } else {
        client_answer(b, cm, &body.msgs[0]);
    }
    gh_arena_free(a);
    free(cm->bytes);
    gh_auth_principal_unref(cm->principal);
    if (cm->thin)
        gh_mcp_session_unref(s->gw, cm->thin);
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

/* The body as one line, with the gateway's span in params._meta: a stdio child has no headers
 * and a 2026-07-28 server reads it there. */
static char *client_bytes(struct gh_http_req *r, size_t *len)
{
    struct gh_slice body = gh_http_req_body(r);
    char *s = one_line(body);
    *len = body.len;
    char tp[56];
    size_t n;
    char *t = gh_mcp_trace_parent(r, tp) ? gh_mcp_trace_meta(s, body.len, tp, &n) : NULL;
    if (t) {
        free(s);
        s = t;
        *len = n;
    }
    return s;
}

static void post_to_home(struct gh_mcp_bridge *b, struct gh_http_req *r, bool wants_answer)
{
    struct gh_mcp_client_msg *cm = gh_xcalloc(1, sizeof(*cm));
    cm->principal = gh_mcp_current_subject ? gh_auth_principal_ref(gh_mcp_current_subject) : NULL;
    gh_mcp_session_ref(b->gw, b->sess); /* the task's */
    cm->b = b;
    cm->bytes = client_bytes(r, &cm->len);
    cm->req = wants_answer ? r : NULL;
    cm->req_w = gh_http_req_worker(r);
    if (b->home == gh_net_worker_current())
        client_msg_run(cm);
    else
        gh_net_worker_post(b->home, client_msg_run, cm);
}

static struct gh_mcp_bridge *bridge_new(struct gh_mcp_gateway *gw, struct gh_mcp_session *s,
                                        const struct gh_upstream *u,
                                        const struct gh_mcp_endpoint *ep)
{
    struct gh_mcp_bridge *b = gh_xcalloc(1, sizeof(*b));
    b->gw = gw;
    b->sess = s;
    b->ep = ep;
    b->nch = ep ? ep->nups : 1;
    b->ups = gh_xcalloc(b->nch, sizeof(*b->ups));
    b->ch = gh_xcalloc(b->nch, sizeof(*b->ch));
    for (size_t i = 0; i < b->nch; i++)
        b->ups[i] = ep ? ep->ups[i] : u;
    b->home = gh_net_worker_current();
    b->tick = gh_net_timer_new(b->home, on_tick, b);
    b->events = gh_mcp_stream_new(s, true, gw->cfg->limits.sse_replay_bytes, NULL, NULL);
    gh_mcp_stream_set_lossy(b->events);
    gh_net_timer_arm(b->tick, TICK_MS);
    return b;
}

static enum gh_rc open_channels(struct gh_mcp_bridge *b)
{
    for (size_t i = 0; i < b->nch; i++) {
        char err[256] = "";
        const struct gh_upstream *u = b->ups[i];
        size_t cap =
            u->conf->message_bytes ? u->conf->message_bytes : b->gw->cfg->limits.body_bytes;
        bool stateless = gh_upstream_era(b->gw->upstreams, u) == GH_UPSTREAM_ERA_STATELESS;
        enum gh_prop_mode mode = gh_prop_upstream_mode(gh_prop_upstream(b->gw->prop, u->index));
        if (mode != GH_PROP_NONE) {
            /* one held session serves every later request: it cannot carry each caller's
             * identity, and the upstream must never get a request without it */
            GH_LOGW("mcp",
                    "upstream %s: mode %s cannot be carried by a gateway-held session (a "
                    "session-era client in front of a 2026-07-28 upstream): refused",
                    u->conf->name, gh_prop_mode_str(mode));
            return GH_E_DECLINED;
        }
        enum gh_rc rc =
            gh_mcp_channel_open(u, i, &CHANNEL_CBS, b, cap, stateless, &b->ch[i], err, sizeof(err));
        if (rc == GH_OK)
            gh_mcp_channel_set_identity(b->ch[i], gh_prop_upstream(b->gw->prop, u->index));
        if (rc != GH_OK) {
            GH_LOGW("mcp", "upstream %s: cannot start: %s", u->conf->name, err);
            return rc;
        }
    }
    return GH_OK;
}

static void bridge_initialize(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                              const struct gh_mcp_endpoint *ep, struct gh_http_req *r,
                              struct gh_slice id)
{
    const void *key = ep ? (const void *)ep : (const void *)u;
    struct gh_mcp_session *s = gh_mcp_session_create(gw, key, (struct gh_slice){0});
    if (!s) {
        gh_mcp_reply_error(r, 503, id, GH_JSONRPC_INTERNAL_ERROR,
                           "Service Unavailable: session limit reached");
        return;
    }
    struct gh_mcp_bridge *b = bridge_new(gw, s, u, ep);
    s->bridge = b; /* published before any other worker can find the session by id */
    enum gh_rc rc = open_channels(b);
    if (rc != GH_OK) {
        const char *why = rc == GH_E_LIMIT ? "Service Unavailable: stdio children limit reached"
                          : rc == GH_E_DECLINED ? "Service Unavailable: this upstream needs each "
                                                  "caller's identity, which a gateway-held "
                                                  "session cannot carry"
                                                : "Bad Gateway: upstream could not be started";
        gh_mcp_reply_error(r, rc == GH_E_LIMIT || rc == GH_E_DECLINED ? 503 : 502, id,
                           GH_JSONRPC_INTERNAL_ERROR, why);
        bridge_close_home(b, "upstream could not be started");
        gh_mcp_session_unref(gw, s);
        return;
    }
    post_to_home(b, r, true);
    gh_mcp_session_unref(gw, s); /* the creator's */
}

void gh_mcp_bridge_post(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                        const struct gh_mcp_endpoint *ep, struct gh_http_req *r,
                        struct gh_mcp_session *s, const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (body->batch) {
        gh_mcp_reply_error(r, 400, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Invalid Request: batches are not supported on this endpoint");
    } else if (!s) {
        bridge_initialize(gw, u, ep, r, m->id_raw);
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
    (void)b;
    struct gh_mcp_stream *st = gh_mcp_stream_find_get(s, true);
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

/* ---- held sessions: 2026-07-28 clients on session-era routes ----
 *
 * A stateless client has no session, but a stdio child or an aggregated endpoint only speaks
 * the session era. The gateway then is the upstream's client: it initializes once per route and
 * principal (one principal's state never reaches another; without auth everybody is the one
 * anonymous principal), answers server/discover from that initialize result, forwards each
 * request with its id remapped (its result marked resultType "complete"), refuses what
 * 2026-07-28 removed, and carries the upstream's change notifications to subscriptions/listen
 * streams. A held session is a gateway session like any other: it counts against the session
 * limits and ends after timeouts.session_idle_ms unused, stopping its children.
 */

#define META_SUB "io.modelcontextprotocol/subscriptionId"

struct gh_mcp_listener {
    struct gh_mcp_listener *next;
    _Atomic int refs;
    atomic_bool gone;
    struct gh_http_req *req; /* touched only on w */
    struct gh_net_worker *w;
    char *sub_id; /* raw JSON of the listen request's id */
    bool tools, prompts, resources;
    char *uris; /* raw JSON array of resourceSubscriptions, or NULL */
};

struct listen_write {
    struct gh_mcp_listener *l;
    char *data; /* one JSON-RPC message; NULL: end the stream with the final answer */
    size_t len;
};

static void listener_unref(struct gh_mcp_listener *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    free(l->sub_id);
    free(l->uris);
    free(l);
}

static void listener_on_abort(void *arg)
{
    struct gh_mcp_listener *l = arg;
    atomic_store(&l->gone, true); /* the client closed: that ends the subscription */
    gh_http_resp_end(l->req);
    listener_unref(l); /* the stream's */
}

static void sse_write(struct gh_http_req *r, const char *data, size_t len)
{
    struct gh_buf ev;
    gh_buf_init(&ev, len + 64);
    gh_sse_write_event(&ev, (struct gh_slice){0}, GH_SLICE_LIT("message"), gh_slice(data, len), -1);
    gh_http_resp_write(r, ev.data, ev.len);
    gh_http_resp_flush(r);
    gh_buf_release(&ev);
}

static void listen_write_run(void *arg)
{
    struct listen_write *lw = arg;
    struct gh_mcp_listener *l = lw->l;
    if (!atomic_load(&l->gone)) {
        if (lw->data) {
            sse_write(l->req, lw->data, lw->len);
        } else { /* the server ends it with a successful answer (subscriptions.mdx) */
            char end[256];
            int n =
                snprintf(end, sizeof(end),
                         "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"resultType\":\"complete\","
                         "\"_meta\":{\"" META_SUB "\":%s}}}",
                         l->sub_id, l->sub_id);
            sse_write(l->req, end, (size_t)n);
            atomic_store(&l->gone, true);
            gh_http_req_on_abort(l->req, NULL, NULL);
            gh_http_resp_end(l->req);
            listener_unref(l); /* the stream's */
        }
    }
    free(lw->data);
    free(lw);
    listener_unref(l); /* the write's */
}

static void listen_post(struct gh_mcp_listener *l, char *data, size_t len)
{
    struct listen_write *lw = gh_xcalloc(1, sizeof(*lw));
    atomic_fetch_add(&l->refs, 1);
    lw->l = l;
    lw->data = data;
    lw->len = len;
    if (l->w == gh_net_worker_current())
        listen_write_run(lw);
    else
        gh_net_worker_post(l->w, listen_write_run, lw);
}

static void listen_start_run(void *arg)
{
    struct listen_write *lw = arg;
    static const struct gh_http_header sse[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/event-stream")},
        {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-cache")},
        {GH_SLICE_LIT("X-Accel-Buffering"), GH_SLICE_LIT("no")},
    };
    gh_http_resp_start(lw->l->req, 200, sse, GH_ARRAY_LEN(sse), -1);
    gh_http_req_on_abort(lw->l->req, listener_on_abort, lw->l);
    listen_write_run(lw); /* the acknowledgement */
}

static bool truthy(const struct gh_json_doc *d, int32_t obj, const char *k)
{
    int32_t t = obj >= 0 && d->toks[obj].type == GH_JSON_OBJECT
                    ? gh_json_obj_get(d, (uint32_t)obj, k, strlen(k))
                    : -1;
    return t >= 0 && d->toks[t].type == GH_JSON_TRUE;
}

static void held_listen(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                        const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    const struct gh_json_doc *d = &body->doc;
    int32_t f = m->params >= 0 ? gh_json_obj_get(d, (uint32_t)m->params, "notifications", 13) : -1;
    struct gh_mcp_listener *l = gh_xcalloc(1, sizeof(*l));
    atomic_store(&l->refs, 2); /* the stream's and the list's */
    l->req = cm->req;
    l->w = cm->req_w;
    l->sub_id = gh_xstrndup(m->id_raw.ptr, m->id_raw.len);
    l->tools = truthy(d, f, "toolsListChanged");
    l->prompts = truthy(d, f, "promptsListChanged");
    l->resources = truthy(d, f, "resourcesListChanged");
    int32_t uris = f >= 0 && d->toks[f].type == GH_JSON_OBJECT
                       ? gh_json_obj_get(d, (uint32_t)f, "resourceSubscriptions", 21)
                       : -1;
    if (uris >= 0 && d->toks[uris].type == GH_JSON_ARRAY) {
        struct gh_slice raw = gh_json_raw(d, (uint32_t)uris);
        l->uris = gh_xstrndup(raw.ptr, raw.len);
    }
    l->next = b->listeners;
    b->listeners = l;
    struct gh_buf ack;
    gh_buf_init(&ack, 1024);
    gh_buf_appendf(
        &ack,
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\","
        "\"params\":{\"_meta\":{\"" META_SUB "\":%s},\"notifications\":{"
        "\"toolsListChanged\":%s,\"promptsListChanged\":%s,\"resourcesListChanged\":%s%s%s}}}",
        l->sub_id, l->tools ? "true" : "false", l->prompts ? "true" : "false",
        l->resources ? "true" : "false", l->uris ? ",\"resourceSubscriptions\":" : "",
        l->uris ? l->uris : "");
    struct listen_write *lw = gh_xcalloc(1, sizeof(*lw));
    atomic_fetch_add(&l->refs, 1);
    lw->l = l;
    lw->data = ack.data; /* ownership moves */
    lw->len = ack.len;
    if (l->w == gh_net_worker_current())
        listen_start_run(lw);
    else
        gh_net_worker_post(l->w, listen_start_run, lw);
}

/* Tags a notification with a subscription id: params._meta gets the id. */
static char *tag(const char *msg, size_t len, const struct gh_json_doc *d, int32_t params,
                 const char *sub_id, size_t *outlen)
{
    char ins[160];
    if (params < 0 || d->toks[params].type != GH_JSON_OBJECT) {
        /* no params: add them just before the closing brace of the message */
        snprintf(ins, sizeof(ins), ",\"params\":{\"_meta\":{\"" META_SUB "\":%s}}", sub_id);
        return gh_mcp_splice(msg, len, gh_slice(msg + d->toks[0].start + d->toks[0].len - 1, 0),
                             ins, outlen);
    }
    int32_t meta = gh_json_obj_get(d, (uint32_t)params, "_meta", 5);
    if (meta >= 0 && d->toks[meta].type == GH_JSON_OBJECT) {
        snprintf(ins, sizeof(ins), "\"" META_SUB "\":%s%s", sub_id, d->toks[meta].size ? "," : "");
        return gh_mcp_splice(msg, len, gh_slice(msg + d->toks[meta].start + 1, 0), ins, outlen);
    }
    snprintf(ins, sizeof(ins), "\"_meta\":{\"" META_SUB "\":%s}%s", sub_id,
             d->toks[params].size ? "," : "");
    return gh_mcp_splice(msg, len, gh_slice(msg + d->toks[params].start + 1, 0), ins, outlen);
}

static bool listener_wants(const struct gh_mcp_listener *l, struct gh_slice method,
                           struct gh_slice uri_raw)
{
    if (gh_slice_eq_cstr(method, "notifications/tools/list_changed"))
        return l->tools;
    if (gh_slice_eq_cstr(method, "notifications/prompts/list_changed"))
        return l->prompts;
    if (gh_slice_eq_cstr(method, "notifications/resources/list_changed"))
        return l->resources;
    if (gh_slice_eq_cstr(method, "notifications/resources/updated") && l->uris && uri_raw.len)
        return memmem(l->uris, strlen(l->uris), uri_raw.ptr, uri_raw.len) != NULL;
    return false; /* request-scoped notifications never go on a listen stream */
}

/* Change notifications from a shared child reach every client session riding it; the rest
 * (logs, progress without a request) could leak one client's doings to another: dropped. */
static void thin_broadcast(struct gh_mcp_bridge *b, struct gh_slice method, const char *msg,
                           size_t len)
{
    if (!gh_slice_eq_cstr(method, "notifications/tools/list_changed") &&
        !gh_slice_eq_cstr(method, "notifications/prompts/list_changed") &&
        !gh_slice_eq_cstr(method, "notifications/resources/list_changed") &&
        !gh_slice_eq_cstr(method, "notifications/resources/updated"))
        return;
    struct gh_sse_event ev = {.data = gh_slice(msg, len), .has_data = true, .retry = -1};
    for (size_t i = 0; i < b->nthin; i++) {
        struct gh_mcp_stream *st =
            b->thin[i]->closed ? NULL : gh_mcp_stream_find_get(b->thin[i], true);
        if (st) {
            gh_mcp_stream_append(st, &ev);
            gh_mcp_stream_unref(st);
        }
    }
}

static void held_broadcast(struct gh_mcp_bridge *b, const char *msg, size_t len)
{
    struct gh_arena *a = gh_arena_new(2048);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err;
    struct gh_jsonrpc_limits lim = {.json = {.max_bytes = len + 1}};
    if (gh_jsonrpc_parse(a, msg, len, &lim, &body, &err) == GH_OK && !body.batch &&
        body.msgs[0].kind == GH_JSONRPC_NOTIFICATION) {
        const struct gh_jsonrpc_msg *m = &body.msgs[0];
        struct gh_slice uri =
            m->params >= 0 ? member_raw(&body, m->params, "uri", NULL) : (struct gh_slice){0};
        thin_broadcast(b, m->method, msg, len);
        for (struct gh_mcp_listener **pp = &b->listeners; *pp;) {
            struct gh_mcp_listener *l = *pp;
            if (atomic_load(&l->gone)) { /* pruned lazily: the client has left */
                *pp = l->next;
                listener_unref(l);
                continue;
            }
            if (listener_wants(l, m->method, uri)) {
                size_t n;
                char *out = tag(msg, len, &body.doc, m->params, l->sub_id, &n);
                listen_post(l, out, n);
            }
            pp = &l->next;
        }
    }
    gh_arena_free(a);
}

static void held_release(struct gh_mcp_bridge *b);

static void held_close(struct gh_mcp_bridge *b)
{
    for (size_t i = 0; i < b->nthin; i++) { /* their child is gone: they re-initialize */
        gh_mcp_session_close_why(b->gw, b->thin[i], "upstream_gone");
        gh_mcp_session_unref(b->gw, b->thin[i]);
    }
    b->nthin = 0;
    if (b->held)
        held_release(b);
    while (b->listeners) {
        struct gh_mcp_listener *l = b->listeners;
        b->listeners = l->next;
        listen_post(l, NULL, 0); /* the final answer, then the end */
        listener_unref(l);
    }
    while (b->queue) {
        struct gh_mcp_client_msg *cm = b->queue;
        b->queue = cm->next;
        if (cm->req) /* a queued notification has nobody waiting */
            reply_error(cm->req, cm->req_w, 503, GH_JSONRPC_INTERNAL_ERROR,
                        "Service Unavailable: upstream could not be initialized");
        free(cm->bytes);
        gh_auth_principal_unref(cm->principal);
        if (cm->thin)
            gh_mcp_session_unref(b->gw, cm->thin);
        free(cm);
        gh_mcp_session_unref(b->gw, b->sess); /* the queued task's */
    }
}

static void held_discover(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                          const struct gh_jsonrpc_body *body)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    struct gh_buf out;
    gh_buf_init(&out, strlen(b->held_init) + 512);
    struct gh_slice caps = GH_SLICE_LIT("{}"), info = GH_SLICE_LIT("{\"name\":\"gatehouse\"}"),
                    ins = {0};
    if (gh_json_parse(a, b->held_init, strlen(b->held_init), NULL, &d, &e) == GH_OK) {
        int32_t t;
        if ((t = gh_json_obj_get(&d, 0, "capabilities", 12)) >= 0)
            caps = gh_json_raw(&d, (uint32_t)t);
        if ((t = gh_json_obj_get(&d, 0, "serverInfo", 10)) >= 0)
            info = gh_json_raw(&d, (uint32_t)t);
        if ((t = gh_json_obj_get(&d, 0, "instructions", 12)) >= 0 &&
            d.toks[t].type == GH_JSON_STRING)
            ins = gh_json_raw(&d, (uint32_t)t);
    }
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    gh_buf_appendf(
        &out,
        "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":{\"supportedVersions\":[\"2026-07-28\"],"
        "\"capabilities\":%.*s,%s%.*s%s\"resultType\":\"complete\",\"_meta\":{"
        "\"io.modelcontextprotocol/serverInfo\":%.*s}}}",
        (int)m->id_raw.len, m->id_raw.ptr, (int)caps.len, caps.ptr,
        ins.len ? "\"instructions\":" : "", (int)ins.len, ins.ptr ? ins.ptr : "",
        ins.len ? "," : "", (int)info.len, info.ptr);
    struct reply *rp = gh_xcalloc(1, sizeof(*rp));
    rp->req = cm->req;
    rp->status = 200;
    rp->body = out.data;
    rp->len = out.len;
    reply_post(cm->req_w, rp);
    gh_arena_free(a);
}

/* Answers a 2026-07-28 request on a held session; true when it was queued (cm kept). */
static bool held_request(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                         const struct gh_jsonrpc_body *body)
{
    static const char *const REMOVED[] = {"initialize", "ping", "logging/setLevel",
                                          "resources/subscribe", "resources/unsubscribe"};
    if (!b->held_ready) {
        cm->next = b->queue;
        b->queue = cm;
        return true;
    }
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    for (size_t i = 0; i < GH_ARRAY_LEN(REMOVED); i++) {
        if (gh_slice_eq_cstr(m->method, REMOVED[i])) {
            struct gh_buf e;
            gh_buf_init(&e, 1024);
            gh_jsonrpc_error_write(&e, m->id_raw, GH_JSONRPC_METHOD_NOT_FOUND,
                                   "Method not found (removed in 2026-07-28)");
            struct reply *rp = gh_xcalloc(1, sizeof(*rp));
            rp->req = cm->req;
            rp->status = 404;
            rp->body = e.data;
            rp->len = e.len;
            reply_post(cm->req_w, rp);
            return false;
        }
    }
    if (gh_slice_eq_cstr(m->method, "server/discover"))
        held_discover(b, cm, body);
    else if (gh_slice_eq_cstr(m->method, "subscriptions/listen"))
        held_listen(b, cm, body);
    else
        client_request(b, cm, body);
    return false;
}

static void held_init_done(struct gh_mcp_bridge *b, const char *msg, size_t len)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    int32_t res = -1;
    if (gh_json_parse(a, msg, len, NULL, &d, &e) == GH_OK && d.toks[0].type == GH_JSON_OBJECT)
        res = gh_json_obj_get(&d, 0, "result", 6);
    if (res < 0 || d.toks[res].type != GH_JSON_OBJECT) {
        gh_arena_free(a);
        GH_LOGW("mcp", "upstream %s refused the gateway's initialize", b->ups[0]->conf->name);
        bridge_close_home(b, "upstream could not be initialized");
        return;
    }
    struct gh_slice raw = gh_json_raw(&d, (uint32_t)res);
    free(b->held_init); /* a restarted shared child's replaces its predecessor's */
    b->held_init = gh_xstrndup(raw.ptr, raw.len);
    gh_arena_free(a);
    static const char INITIALIZED[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    struct gh_mcp_client_msg note = {
        .b = b, .bytes = (char *)INITIALIZED, .len = sizeof(INITIALIZED) - 1};
    struct gh_arena *a2 = gh_arena_new(1024);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err;
    if (gh_jsonrpc_parse(a2, note.bytes, note.len, NULL, &body, &err) == GH_OK)
        client_notification(b, &note, &body);
    gh_arena_free(a2);
    b->held_ready = true;
    /* the queue holds the newest first: run them in arrival order */
    struct gh_mcp_client_msg *rev = NULL;
    while (b->queue) {
        struct gh_mcp_client_msg *cm = b->queue;
        b->queue = cm->next;
        cm->next = rev;
        rev = cm;
    }
    while (rev && !b->closed) {
        struct gh_mcp_client_msg *cm = rev;
        rev = cm->next;
        client_msg_run(cm);
    }
    b->queue = rev; /* closed meanwhile: held_close answers them */
}

/* The gateway's own initialize to a held session's upstream (held_init_done gets the answer). */
static void held_send_init(struct gh_mcp_bridge *b)
{
    char init[512];
    int n = snprintf(init, sizeof(init),
                     "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                     "\"clientInfo\":{\"name\":\"gatehouse\",\"version\":\"%s\"}}}",
                     GH_VERSION);
    struct gh_mcp_pending *p = gh_mcp_pending_add(b, 0);
    p->client_id = gh_xstrdup("0");
    p->initialize = true;
    p->on_answer = held_init_done;
    struct gh_arena *a = gh_arena_new(2048);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err;
    if (gh_jsonrpc_parse(a, init, (size_t)n, NULL, &body, &err) == GH_OK) {
        if (b->ep)
            gh_mcp_agg_request(b, p, &body, init, (size_t)n);
        else
            gh_mcp_bridge_send_request(b, p, init, (size_t)n, body.msgs[0].id_raw);
    }
    gh_arena_free(a);
}

/* Opens a held session of the route for principal on this worker and sends the gateway's own
 * initialize. NULL when the session limits refuse it (*limit: 1 total, 2 the principal's share)
 * or the upstream cannot be started (*limit 0). */
static struct gh_mcp_session *held_open(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                                        const char *principal, int *limit)
{
    bool per_principal = false;
    struct gh_mcp_session *s =
        gh_mcp_session_create_for(gw, rt->key, (struct gh_slice){0}, principal, &per_principal);
    *limit = s ? 0 : per_principal ? 2 : 1;
    if (!s)
        return NULL;
    struct gh_mcp_bridge *b = bridge_new(gw, s, rt->u, rt->ep);
    b->held = true;
    b->opened_ms = gh_clock_ms();
    s->bridge = b;
    if (open_channels(b) != GH_OK) {
        bridge_close_home(b, "upstream could not be started");
        gh_mcp_session_unref(gw, s);
        return NULL;
    }
    held_send_init(b);
    return s; /* the creator's reference */
}

/* One held session of a route for one principal ("" for a shared child and without auth), with
 * the restart backoff of its upstream. */
struct gh_mcp_held_slot {
    const void *key;
    char principal[65];
    struct gh_mcp_session *s; /* the table's reference; NULL once it ended */
    unsigned failures;        /* consecutive early exits: restart backoff */
    uint64_t retry_at;        /* no new held session before this (ms) */
};

/* The principal a route's held session belongs to: a shared child is everybody's by config. */
static const char *held_principal(const struct gh_mcp_route *rt)
{
    return !rt->ep && gh_mcp_shared(rt->u) ? "" : gh_mcp_current_principal;
}

/* The slot of (key, principal), added when absent. Slots whose session ended and whose backoff
 * no longer matters (a minute after it ran out) are dropped meanwhile, so the table stays about
 * as large as the live held sessions, which the session limits bound. Under gw->lock. */
static struct gh_mcp_held_slot *held_slot_locked(struct gh_mcp_gateway *gw, const void *key,
                                                 const char *principal, uint64_t now)
{
    struct gh_mcp_held_slot *found = NULL;
    for (size_t i = 0; i < gw->nheld;) {
        struct gh_mcp_held_slot *h = &gw->held[i];
        if (h->key == key && strcmp(h->principal, principal) == 0) {
            found = h;
            i++;
        } else if (!h->s && now >= h->retry_at + 60000) {
            gw->held[i] = gw->held[--gw->nheld]; /* i now holds the last one: look again */
        } else {
            i++;
        }
    }
    if (found)
        return found;
    if (gw->nheld == gw->held_cap) {
        gw->held_cap = gw->held_cap ? gw->held_cap * 2 : 16;
        gw->held = gh_xrealloc(gw->held, gw->held_cap * sizeof(*gw->held));
    }
    struct gh_mcp_held_slot *h = &gw->held[gw->nheld++];
    memset(h, 0, sizeof(*h));
    h->key = key;
    snprintf(h->principal, sizeof(h->principal), "%s", principal);
    return h;
}

/* The live held session of the route for the principal of this request, with a reference; opens
 * one unless a restart backoff is on (*retry_ms then says how long) or the session limits refuse
 * it (*limit as held_open says). */
static struct gh_mcp_session *held_get(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                                       const char *principal, uint64_t *retry_ms, int *limit)
{
    struct gh_mcp_session *s = NULL;
    uint64_t now = gh_clock_ms();
    *retry_ms = 0;
    *limit = 0;
    pthread_mutex_lock(&gw->lock);
    struct gh_mcp_held_slot *h = held_slot_locked(gw, rt->key, principal, now);
    if (h->s && !h->s->closed) {
        s = h->s;
        s->refs++;
    } else if (now < h->retry_at) {
        *retry_ms = h->retry_at - now;
    }
    pthread_mutex_unlock(&gw->lock);
    if (s || *retry_ms)
        return s;
    s = held_open(gw, rt, principal, limit);
    if (!rt->ep && gh_mcp_shared(rt->u) && (s || !*limit)) /* a limit refusal started nothing */
        gh_upstream_health_set_child(gw->upstreams, rt->u, s ? GH_UPSTREAM_UP : GH_UPSTREAM_DOWN,
                                     0);
    if (!s)
        return NULL;
    s->bridge->route_key = rt->key;
    struct gh_mcp_session *old = NULL, *loser = NULL;
    pthread_mutex_lock(&gw->lock);
    h = held_slot_locked(gw, rt->key, principal, now); /* the table may have moved meanwhile */
    if (h->s && !h->s->closed) { /* a concurrent request of the same principal was first */
        loser = s;
        s = h->s;
        s->refs++;
    } else {
        old = h->s; /* ended, its release still on its way: the table's reference goes now */
        h->s = s;
        s->refs++; /* the table's */
    }
    pthread_mutex_unlock(&gw->lock);
    if (old)
        gh_mcp_session_unref(gw, old);
    if (loser) {
        gh_mcp_session_close_why(gw, loser, "superseded");
        gh_mcp_session_unref(gw, loser);
    }
    return s;
}

/* After a held session's upstream ended: the next one waits 0.5 s, doubling up to 30 s, unless
 * the last one lived a minute. A shared child is started again by itself after that delay. */
struct restart {
    struct gh_mcp_gateway *gw;
    struct gh_mcp_route rt;
    struct gh_net_timer *timer;
};

static void restart_fire(void *arg)
{
    struct restart *rs = arg;
    uint64_t retry_ms = 0;
    int limit = 0;
    struct gh_mcp_session *s =
        atomic_load(&rs->gw->closing) ? NULL : held_get(rs->gw, &rs->rt, "", &retry_ms, &limit);
    if (s)
        gh_mcp_session_unref(rs->gw, s); /* the table keeps it */
    else if (retry_ms) {
        gh_net_timer_arm(rs->timer, retry_ms);
        return;
    }
    gh_net_timer_free(rs->timer);
    free(rs);
}

static void held_unref_task(void *arg)
{
    struct gh_mcp_session *s = arg;
    gh_mcp_session_unref(s->gw, s);
}

/* The slot holding s, NULL when s is not (or no longer) its route's held session. Under
 * gw->lock. */
static struct gh_mcp_held_slot *held_slot_of_locked(struct gh_mcp_gateway *gw,
                                                    const struct gh_mcp_session *s)
{
    for (size_t i = 0; i < gw->nheld; i++)
        if (gw->held[i].s == s)
            return &gw->held[i];
    return NULL;
}

/* One more failure of h's upstream (it exited, could not be started or initialized, or hung),
 * last started at opened_ms: returns the delay before the next start, which h->retry_at records.
 * Under gw->lock. */
static uint64_t held_backoff_locked(struct gh_mcp_held_slot *h, uint64_t opened_ms)
{
    uint64_t now = gh_clock_ms();
    h->failures = now - opened_ms > 60000 ? 0 : h->failures + 1;
    unsigned f = GH_MIN(h->failures, 7u);
    uint64_t wait = f ? GH_MIN((uint64_t)250 << f, (uint64_t)30000) : 0;
    h->retry_at = now + wait;
    return wait;
}

/* A held session ends: the table lets go of it. When its upstream failed (rather than the
 * session being closed: idle, shutdown, superseded), the next one waits for the backoff, and a
 * shared child is restarted; a shared child stopped from our side is on-demand again. */
static void held_release(struct gh_mcp_bridge *b)
{
    struct gh_mcp_gateway *gw = b->gw;
    uint64_t wait = 0;
    bool shared = !b->ep && gh_mcp_shared(b->ups[0]);
    pthread_mutex_lock(&gw->lock);
    bool failed = !b->sess->closed; /* the session is closed first when it ends from our side */
    struct gh_mcp_held_slot *h = held_slot_of_locked(gw, b->sess);
    if (h) {
        h->s = NULL;
        if (failed)
            wait = held_backoff_locked(h, b->opened_ms);
        else if (shared) /* under the lock: the next held_get's "up" comes after this */
            gh_upstream_health_set_child(gw->upstreams, b->ups[0], GH_UPSTREAM_UNKNOWN, 0);
    }
    pthread_mutex_unlock(&gw->lock);
    if (!h)
        return;
    /* the table's reference, let go once the closing that runs now has finished with it */
    gh_net_worker_post(b->home, held_unref_task, b->sess);
    if (!failed || !shared || gw->closing)
        return;
    GH_LOGW("mcp", "upstream %s (shared): restarting in %llu ms", b->ups[0]->conf->name,
            (unsigned long long)wait);
    gh_upstream_health_set_child(gw->upstreams, b->ups[0], GH_UPSTREAM_RESTARTING, wait);
    struct restart *rs = gh_xcalloc(1, sizeof(*rs));
    rs->gw = gw;
    rs->rt = (struct gh_mcp_route){.u = b->ups[0], .ep = NULL, .key = b->route_key};
    rs->timer = gh_net_timer_new(b->home, restart_fire, rs);
    gh_net_timer_arm(rs->timer, wait ? wait : 1);
}

/* A shared child hung: every call in flight on it fails, it is stopped (TERM, KILL after its
 * grace) and reaped, and a new one starts under the same sessions after the restart backoff
 * (on_tick); requests meanwhile wait in the queue as before the first initialize. */
static void held_hung(struct gh_mcp_bridge *b, const char *why)
{
    struct gh_mcp_gateway *gw = b->gw;
    gh_mcp_channel_close(b->ch[0]);
    b->ch[0] = NULL;
    b->held_ready = false;
    while (b->pending)
        gh_mcp_pending_fail(b, b->pending, GH_JSONRPC_INTERNAL_ERROR, why);
    while (b->sreqs) { /* the old child's questions: nobody is left to answer */
        struct gh_mcp_server_req *r = b->sreqs;
        b->sreqs = r->next;
        free(r->upstream_id);
        free(r);
    }
    uint64_t wait = 0;
    pthread_mutex_lock(&gw->lock);
    struct gh_mcp_held_slot *h = held_slot_of_locked(gw, b->sess);
    if (h) /* a hang is a failure of the upstream: the same backoff as an exit */
        wait = held_backoff_locked(h, b->opened_ms);
    pthread_mutex_unlock(&gw->lock);
    b->respawn_at_ms = gh_clock_ms() + (wait ? wait : 1);
    GH_LOGW("mcp", "upstream %s (shared): restarting in %llu ms", b->ups[0]->conf->name,
            (unsigned long long)wait);
    gh_upstream_health_set_child(gw->upstreams, b->ups[0], GH_UPSTREAM_RESTARTING, wait);
}

/* The backoff after a hang is over: the new child is initialized, then the queue runs. */
static void held_respawn(struct gh_mcp_bridge *b)
{
    b->respawn_at_ms = 0;
    if (atomic_load(&b->gw->closing))
        return;
    if (open_channels(b) != GH_OK) { /* the sessions end; held_release restarts it later */
        bridge_close_home(b, "upstream could not be restarted");
        return;
    }
    b->opened_ms = gh_clock_ms();
    gh_upstream_health_set_child(b->gw->upstreams, b->ups[0], GH_UPSTREAM_UP, 0);
    held_send_init(b);
}

static void reply_retry(struct gh_http_req *r, uint64_t retry_ms)
{
    char after[24];
    snprintf(after, sizeof(after), "%llu", (unsigned long long)(retry_ms + 999) / 1000);
    struct gh_http_header h = {GH_SLICE_LIT("Retry-After"), gh_slice_cstr(after)};
    struct gh_buf e;
    gh_buf_init(&e, 512);
    gh_jsonrpc_error_write(&e, (struct gh_slice){0}, GH_JSONRPC_INTERNAL_ERROR,
                           retry_ms ? "Service Unavailable: upstream restarting"
                                    : "Service Unavailable: upstream could not be started");
    gh_http_resp_simple(r, 503, "application/json", e.data, e.len, &h, retry_ms ? 1 : 0);
    gh_buf_release(&e);
}

static void post_msg(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm)
{
    if (b->home == gh_net_worker_current())
        client_msg_run(cm);
    else
        gh_net_worker_post(b->home, client_msg_run, cm);
}

void gh_mcp_held_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                      struct gh_http_req *r, struct gh_slice id)
{
    uint64_t retry_ms;
    int limit;
    struct gh_mcp_session *s = held_get(gw, rt, held_principal(rt), &retry_ms, &limit);
    if (!s && limit) {
        gh_mcp_reply_session_limit(gw, r, id, limit == 2);
        return;
    }
    if (!s) {
        reply_retry(r, retry_ms);
        return;
    }
    struct gh_mcp_client_msg *cm = gh_xcalloc(1, sizeof(*cm));
    cm->principal = gh_mcp_current_subject ? gh_auth_principal_ref(gh_mcp_current_subject) : NULL;
    atomic_store(&s->last_used_ms, gh_clock_ms());
    cm->b = s->bridge;
    cm->stateless = true;
    cm->bytes = client_bytes(r, &cm->len);
    cm->req = r;
    cm->req_w = gh_http_req_worker(r);
    post_msg(s->bridge, cm); /* the reference found or created above is the task's */
}

/* ---- shared children: client sessions riding the route's held session ---- */

static bool shared_msg(struct gh_mcp_bridge *b, struct gh_mcp_client_msg *cm,
                       const struct gh_jsonrpc_body *body)
{
    if (!b->held_ready) {
        cm->next = b->queue;
        b->queue = cm;
        return true;
    }
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    if (cm->shared_init) { /* answered from the result the child gave the gateway */
        b->thin = gh_xrealloc(b->thin, (b->nthin + 1) * sizeof(*b->thin));
        gh_mcp_session_ref(b->gw, cm->thin);
        b->thin[b->nthin++] = cm->thin;
        struct gh_buf out;
        gh_buf_init(&out, strlen(b->held_init) + 256);
        gh_buf_appendf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%.*s,\"result\":%s}", (int)m->id_raw.len,
                       m->id_raw.ptr, b->held_init);
        struct reply *rp = gh_xcalloc(1, sizeof(*rp));
        rp->req = cm->req;
        rp->status = 200;
        rp->body = out.data;
        rp->len = out.len;
        snprintf(rp->session_id, sizeof(rp->session_id), "%s", cm->thin->id);
        reply_post(cm->req_w, rp);
    } else if (cm->req) {
        client_request(b, cm, body);
    } else if (gh_slice_eq_cstr(m->method, "notifications/cancelled")) {
        client_notification(b, cm, body); /* matched to this client's own request */
    }
    /* other notifications (initialized, roots) concern one client, not the shared child */
    return false;
}

void gh_mcp_shared_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                        struct gh_http_req *r, struct gh_mcp_session *s,
                        const struct gh_jsonrpc_body *body)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    uint64_t retry_ms = 0;
    int limit = 0;
    struct gh_mcp_session *hs = s ? s->shared : held_get(gw, rt, "", &retry_ms, &limit);
    if (!hs && limit) {
        gh_mcp_reply_session_limit(gw, r, m->id_raw, false);
        return;
    }
    if (!hs) {
        reply_retry(r, retry_ms);
        return;
    }
    if (s && (hs->closed || !hs->bridge)) {
        gh_mcp_reply_error(r, 404, m->id_raw, GH_JSONRPC_INVALID_REQUEST, "Session not found");
        gh_mcp_session_unref(gw, s);
        return;
    }
    struct gh_mcp_client_msg *cm = gh_xcalloc(1, sizeof(*cm));
    cm->principal = gh_mcp_current_subject ? gh_auth_principal_ref(gh_mcp_current_subject) : NULL;
    if (!s) { /* a new client session on the shared child */
        s = gh_mcp_session_create(gw, rt->key, (struct gh_slice){0});
        if (!s) {
            gh_auth_principal_unref(cm->principal);
            free(cm);
            gh_mcp_session_unref(gw, hs);
            gh_mcp_reply_error(r, 503, m->id_raw, GH_JSONRPC_INTERNAL_ERROR,
                               "Service Unavailable: session limit reached");
            return;
        }
        s->shared = hs; /* held_get's reference moves here */
        struct gh_mcp_stream *ev =
            gh_mcp_stream_new(s, true, gw->cfg->limits.sse_replay_bytes, NULL, NULL);
        gh_mcp_stream_set_lossy(ev);
        gh_mcp_stream_unref(ev); /* no producer: the session's list keeps it */
        cm->shared_init = true;
    }
    gh_mcp_session_ref(gw, hs);                     /* the task's */
    atomic_store(&hs->last_used_ms, gh_clock_ms()); /* a child in use is not idle */
    cm->b = hs->bridge;
    cm->thin = s; /* the caller's (or the creator's) reference moves to the task */
    cm->bytes = client_bytes(r, &cm->len);
    bool request = m->kind == GH_JSONRPC_REQUEST;
    cm->req = request ? r : NULL;
    cm->req_w = gh_http_req_worker(r);
    post_msg(hs->bridge, cm);
    if (!request)
        gh_http_resp_simple(r, 202, NULL, NULL, 0, NULL, 0);
}
