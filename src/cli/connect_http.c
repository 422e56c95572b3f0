/*
 * cli/connect_http.c owns the HTTP side of `gatehouse connect`: the one net/ worker, keep-alive
 * pools per origin, exchanges started from the main thread (ghc_xfer), MCP responses streamed to
 * stdout as they arrive (JSON bodies whole, SSE events one message per line), and the stdout
 * writer itself. Nothing here logs a header value: Authorization never leaves the request.
 */
#include "core/core.h"
#include "cli/connect_internal.h"
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* one keep-alive pool per origin and kind (MCP streams may idle long; the rest may not) */
struct ghc_origin {
    char key[320];
    char host_header[300];
    char sni[256];
    struct gh_http_client_target t;
    struct gh_http_pool *pool;
};

/* ---- URLs ---- */

enum gh_rc ghc_url_parse(const char *s, struct ghc_url *out, const char **why)
{
    struct gh_url u;
    memset(out, 0, sizeof(*out));
    if (gh_url_parse(s, strlen(s), &u) != GH_OK) {
        *why = "not an absolute http(s) URL";
        return GH_E_PARSE;
    }
    if (u.host.len >= sizeof(out->host)) {
        *why = "host too long";
        return GH_E_PARSE;
    }
    memcpy(out->host, u.host.ptr, u.host.len);
    out->host[u.host.len] = '\0';
    out->port = u.port;
    out->tls = u.tls;
    snprintf(out->host_header, sizeof(out->host_header), u.ipv6_literal ? "[%s]:%u" : "%s:%u",
             out->host, u.port);
    size_t n = u.path.len + (u.query.len ? u.query.len + 1 : 0);
    out->target = gh_xmalloc(n + 1);
    memcpy(out->target, u.path.ptr, u.path.len);
    if (u.query.len) {
        out->target[u.path.len] = '?';
        memcpy(out->target + u.path.len + 1, u.query.ptr, u.query.len);
    }
    out->target[n] = '\0';
    return GH_OK;
}

void ghc_url_release(struct ghc_url *u)
{
    gh_free(&u->target);
}

static void url_copy(struct ghc_url *dst, const struct ghc_url *src)
{
    *dst = *src;
    dst->target = gh_xstrdup(src->target);
}

/* ---- stdout ---- */

void ghc_out_line(struct ghc *c, const char *p, size_t n)
{
    pthread_mutex_lock(&c->out_mu);
    for (size_t i = 0; i < n; i++) /* a raw newline can only be JSON whitespace: one line */
        putc(p[i] == '\n' || p[i] == '\r' ? ' ' : p[i], stdout);
    putc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&c->out_mu);
}

void ghc_out_error(struct ghc *c, const char *id_raw, size_t id_len, int code, const char *msg)
{
    struct gh_buf b;
    gh_buf_init(&b, 8192 + id_len);
    gh_jsonrpc_error_write(&b, gh_slice(id_raw, id_len), code, msg);
    ghc_out_line(c, b.data, b.len);
    gh_buf_release(&b);
}

/* ---- worker ---- */

static void worker_init(struct gh_net_worker *w, void *arg)
{
    (void)w;
    (void)arg;
}

void ghc_net_start(struct ghc *c)
{
    c->workers = gh_net_workers_new(1);
    gh_net_workers_start(c->workers, 1, worker_init, c);
}

static void free_origins(void *arg)
{
    struct ghc *c = arg;
    for (size_t i = 0; i < c->norigins; i++) {
        gh_http_pool_free(c->origins[i]->pool);
        free(c->origins[i]);
    }
    c->norigins = 0;
}

void ghc_net_stop(struct ghc *c)
{
    pthread_mutex_lock(&c->mu);
    bool idle = c->inflight == 0;
    pthread_mutex_unlock(&c->mu);
    if (idle) /* a pool with a live exchange must outlive it: leave it to the exit */
        ghc_net_post(c, free_origins, c);
    gh_net_workers_stop(c->workers, 1);
    c->workers = NULL;
}

void ghc_net_post(struct ghc *c, void (*fn)(void *), void *arg)
{
    gh_net_worker_post(c->workers[0], fn, arg);
}

/* Runs on the worker; a is the address the main thread resolved (net/ never resolves there). */
static struct gh_http_pool *origin_pool(struct ghc *c, const struct ghc_url *u,
                                        const struct gh_net_addr *a, bool stream)
{
    char key[320];
    snprintf(key, sizeof(key), "%s://%s/%d", u->tls ? "https" : "http", u->host_header, stream);
    for (size_t i = 0; i < c->norigins; i++)
        if (strcmp(c->origins[i]->key, key) == 0)
            return c->origins[i]->pool;
    if (c->norigins == GHC_MAX_ORIGINS)
        return NULL;
    struct ghc_origin *o = gh_xcalloc(1, sizeof(*o));
    snprintf(o->key, sizeof(o->key), "%s", key);
    snprintf(o->host_header, sizeof(o->host_header), "%s", u->host_header);
    snprintf(o->sni, sizeof(o->sni), "%s", u->host);
    bool literal = strchr(u->host, ':') || strspn(u->host, "0123456789.") == strlen(u->host);
    o->t = (struct gh_http_client_target){
        .addr = *a,
        .tls = u->tls ? c->tls : NULL,
        .host_header = o->host_header,
        .sni = u->tls && !literal ? o->sni : NULL,
        .max_idle = 4,
        .header_bytes = 65536,
        .connect_ms = 10000,
        .first_byte_ms = stream ? c->request_timeout_ms : 30000,
        /* an SSE stream may stay quiet while a tool works */
        .stream_idle_ms = stream ? 24ull * 3600 * 1000 : 30000,
    };
    o->pool = gh_http_pool_new(c->workers[0], &o->t);
    c->origins[c->norigins++] = o;
    return o->pool;
}

static void xfer_free(struct ghc_xfer *x)
{
    free(x->method);
    ghc_url_release(&x->u);
    for (size_t i = 0; i < x->nhdrs; i++)
        free((char *)x->hdrs[i].value.ptr);
    free(x->body);
    free(x->id_raw);
    gh_buf_release(&x->rbody);
    gh_sse_parser_release(&x->sse);
    free(x);
}

struct ghc_xfer *ghc_xfer_new(struct ghc *c, const char *method, const struct ghc_url *u)
{
    struct ghc_xfer *x = gh_xcalloc(1, sizeof(*x));
    x->c = c;
    x->method = gh_xstrdup(method);
    url_copy(&x->u, u);
    gh_buf_init(&x->rbody, GHC_MAX_BODY);
    gh_sse_parser_init(&x->sse, GHC_MAX_EVENT);
    return x;
}

void ghc_xfer_header(struct ghc_xfer *x, const char *name, const char *value)
{
    GH_BUG_ON(x->nhdrs >= GHC_MAX_HEADERS);
    x->hdrs[x->nhdrs++] =
        (struct gh_http_header){gh_slice_cstr(name), gh_slice_cstr(gh_xstrdup(value))};
}

void ghc_xfer_body(struct ghc_xfer *x, const char *p, size_t n)
{
    x->body = gh_xstrndup(p, n);
    x->blen = n;
}

static void copy_header(const struct gh_http_response_head *h, const char *name, char *out,
                        size_t n)
{
    const struct gh_http_header *f = gh_http_header_find(h->headers, h->nheaders, name);
    if (f)
        snprintf(out, n, "%.*s", (int)f->value.len, f->value.ptr);
}

static void on_head(void *arg, const struct gh_http_response_head *h)
{
    struct ghc_xfer *x = arg;
    struct ghc *c = x->c;
    char sid[GHC_STR] = "";
    pthread_mutex_lock(&c->mu);
    x->status = h->status;
    copy_header(h, "Content-Type", x->ctype, sizeof(x->ctype));
    copy_header(h, "WWW-Authenticate", x->www_auth, sizeof(x->www_auth));
    copy_header(h, "Location", x->location, sizeof(x->location));
    copy_header(h, "Mcp-Session-Id", sid, sizeof(sid));
    if (x->stream && sid[0] && h->status / 100 == 2)
        snprintf(c->session_id, sizeof(c->session_id), "%s", sid);
    x->sse_mode = strncmp(x->ctype, "text/event-stream", 17) == 0;
    x->head = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Notes what a message from the server means to the bridge: the answer to our request, and the
 * negotiated protocol version in an initialize result. */
static void inspect_message(struct ghc_xfer *x, const char *p, size_t n)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    if (gh_json_parse(a, p, n, NULL, &d, NULL) != GH_OK || d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    int32_t id = gh_json_obj_get(&d, 0, "id", 2);
    bool response =
        gh_json_obj_get(&d, 0, "result", 6) >= 0 || gh_json_obj_get(&d, 0, "error", 5) >= 0;
    if (id < 0 || !response || !x->id_raw)
        goto out;
    struct gh_slice raw = gh_json_raw(&d, (uint32_t)id);
    if (!gh_slice_eq_cstr(raw, x->id_raw))
        goto out;
    x->answered = true;
    int32_t res = gh_json_obj_get(&d, 0, "result", 6), v;
    struct gh_slice s;
    if (x->initialize && res >= 0 &&
        (v = gh_json_obj_get(&d, (uint32_t)res, "protocolVersion", 15)) >= 0 &&
        gh_json_str(&d, a, (uint32_t)v, &s) == GH_OK && s.len < sizeof(x->c->protocol_version) &&
        !memchr(s.ptr, '\r', s.len) && !memchr(s.ptr, '\n', s.len) && !memchr(s.ptr, '\0', s.len)) {
        pthread_mutex_lock(&x->c->mu);
        memcpy(x->c->protocol_version, s.ptr, s.len);
        x->c->protocol_version[s.len] = '\0';
        pthread_mutex_unlock(&x->c->mu);
    }
out:
    gh_arena_free(a);
}

static void forward(struct ghc_xfer *x, const char *p, size_t n)
{
    struct gh_slice t = gh_slice_trim(gh_slice(p, n));
    if (!t.len)
        return;
    inspect_message(x, t.ptr, t.len);
    ghc_out_line(x->c, t.ptr, t.len);
}

static enum gh_rc on_event(void *arg, const struct gh_sse_event *ev)
{
    struct ghc_xfer *x = arg;
    /* only "message" events carry JSON-RPC; ids/retry-only blocks are for resumption */
    if (ev->has_data && (ev->event.len == 0 || gh_slice_eq_cstr(ev->event, "message")))
        forward(x, ev->data.ptr, ev->data.len);
    return GH_OK;
}

static void on_body(void *arg, const char *p, size_t n)
{
    struct ghc_xfer *x = arg;
    if (x->stream && x->status / 100 == 2 && x->sse_mode) {
        if (gh_sse_parser_feed(&x->sse, p, n, on_event, x) != GH_OK && x->rc == GH_OK)
            x->rc = GH_E_LIMIT;
        return;
    }
    if (gh_buf_append(&x->rbody, p, n) != GH_OK && x->rc == GH_OK)
        x->rc = GH_E_LIMIT; /* the rest is dropped; done reports it */
}

/* A non-2xx answer to an MCP message: its JSON-RPC error when it has one, else ours. */
static void stream_fail(struct ghc_xfer *x, enum gh_rc rc)
{
    char msg[256];
    if (x->status && x->status / 100 != 2) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d;
        bool rpc = x->rbody.len &&
                   gh_json_parse(a, x->rbody.data, x->rbody.len, NULL, &d, NULL) == GH_OK &&
                   d.toks[0].type == GH_JSON_OBJECT && gh_json_obj_get(&d, 0, "jsonrpc", 7) >= 0 &&
                   gh_json_obj_get(&d, 0, "error", 5) >= 0;
        gh_arena_free(a);
        GH_LOGW("connect", "%s %s: HTTP %d", x->method, x->c->url, x->status);
        if (rpc) {
            forward(x, x->rbody.data, x->rbody.len);
            return;
        }
        snprintf(msg, sizeof(msg), "gatehouse connect: the server answered HTTP %d", x->status);
    } else {
        GH_LOGW("connect", "%s %s: the response ended early (%s)", x->method, x->c->url,
                gh_rc_str(rc));
        snprintf(msg, sizeof(msg), "gatehouse connect: the response ended without an answer (%s)",
                 gh_rc_str(rc));
    }
    if (x->id_raw && !x->answered)
        ghc_out_error(x->c, x->id_raw, strlen(x->id_raw), -32603, msg);
}

static void stream_done(struct ghc_xfer *x, enum gh_rc rc)
{
    if (x->get) { /* optional (405: the server has none); nothing to answer */
        GH_LOGD("connect", "GET stream ended (HTTP %d, %s)", x->status, gh_rc_str(rc));
        return;
    }
    if (x->status == 401 || !x->head)
        return; /* the main thread answers: it reauthorizes, or reports the transport error */
    if (x->status / 100 == 2 && !x->sse_mode && x->rbody.len && rc == GH_OK)
        forward(x, x->rbody.data, x->rbody.len);
    if (x->status / 100 != 2 || rc != GH_OK || (x->id_raw && !x->answered && x->status != 202))
        stream_fail(x, rc);
}

static void on_done(void *arg, enum gh_rc rc)
{
    struct ghc_xfer *x = arg;
    struct ghc *c = x->c;
    if (rc == GH_OK && x->rc != GH_OK)
        rc = x->rc;
    if (x->stream)
        stream_done(x, rc);
    pthread_mutex_lock(&c->mu);
    x->rc = rc;
    x->done = true;
    c->inflight--;
    bool detached = x->detached;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (detached)
        xfer_free(x);
}

static const struct gh_http_creq_cbs XFER_CBS = {on_head, on_body, on_done};

static void xfer_run(void *arg)
{
    struct ghc_xfer *x = arg;
    struct gh_http_pool *p = origin_pool(x->c, &x->u, &x->addr, x->stream);
    if (!p) {
        on_done(x, GH_E_LIMIT);
        return;
    }
    x->creq = gh_http_client_send(p, x->method, gh_slice_cstr(x->u.target), x->hdrs, x->nhdrs,
                                  gh_slice(x->body, x->blen), &XFER_CBS, x);
}

/* On the worker, where the exchange's callbacks run: no callback can race with this one. The
 * last thing it does is let the main thread go on (and free x). */
static void cancel_task(void *arg)
{
    struct ghc_xfer *x = arg;
    struct ghc *c = x->c;
    if (!x->done && x->creq)
        gh_http_creq_cancel(x->creq);
    pthread_mutex_lock(&c->mu);
    if (!x->done) {
        x->rc = GH_E_CLOSED;
        x->done = true;
        c->inflight--;
    }
    x->cancel_ran = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void ghc_xfer_cancel(struct ghc_xfer *x)
{
    ghc_net_post(x->c, cancel_task, x);
    pthread_mutex_lock(&x->c->mu);
    while (!x->cancel_ran) /* the worker runs posted tasks promptly; x must outlive this one */
        pthread_cond_wait(&x->c->cv, &x->c->mu);
    pthread_mutex_unlock(&x->c->mu);
}

/* Resolves on the main thread, keeping the last answers: a name lookup blocks. */
static enum gh_rc resolve(const struct ghc_url *u, struct gh_net_addr *out)
{
    static struct {
        char host[256];
        uint16_t port;
        struct gh_net_addr a;
    } cache[4];
    static size_t next;
    for (size_t i = 0; i < GH_ARRAY_LEN(cache); i++) {
        if (cache[i].port == u->port && strcmp(cache[i].host, u->host) == 0) {
            *out = cache[i].a;
            return GH_OK;
        }
    }
    if (gh_net_addr_resolve(u->host, u->port, out) != GH_OK)
        return GH_E_IO;
    size_t i = next++ % GH_ARRAY_LEN(cache);
    snprintf(cache[i].host, sizeof(cache[i].host), "%s", u->host);
    cache[i].port = u->port;
    cache[i].a = *out;
    return GH_OK;
}

void ghc_xfer_start(struct ghc_xfer *x)
{
    pthread_mutex_lock(&x->c->mu);
    x->c->inflight++;
    pthread_mutex_unlock(&x->c->mu);
    if (resolve(&x->u, &x->addr) != GH_OK) {
        GH_LOGW("connect", "cannot resolve the host name %s", x->u.host);
        on_done(x, GH_E_IO);
        return;
    }
    ghc_net_post(x->c, xfer_run, x);
}

bool ghc_xfer_wait(struct ghc_xfer *x, bool head_only, uint64_t timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    bool ok = true;
    pthread_mutex_lock(&x->c->mu);
    while (!x->done && !(head_only && x->head) && ok)
        ok = pthread_cond_timedwait(&x->c->cv, &x->c->mu, &until) != ETIMEDOUT;
    pthread_mutex_unlock(&x->c->mu);
    return ok || x->done || (head_only && x->head);
}

void ghc_xfer_release(struct ghc_xfer *x)
{
    pthread_mutex_lock(&x->c->mu);
    bool done = x->done;
    x->detached = !done;
    pthread_mutex_unlock(&x->c->mu);
    if (done)
        xfer_free(x);
}

enum gh_rc ghc_fetch(struct ghc *c, const char *method, const char *url, const char *ctype,
                     const char *body, size_t blen, int *status, struct gh_buf *out)
{
    struct ghc_url u;
    const char *why;
    *status = 0;
    if (ghc_url_parse(url, &u, &why) != GH_OK) {
        fprintf(stderr, "gatehouse connect: %s: %s\n", url, why);
        return GH_E_PARSE;
    }
    struct ghc_xfer *x = ghc_xfer_new(c, method, &u);
    ghc_url_release(&u);
    x->rbody.max = GHC_MAX_SMALL;
    ghc_xfer_header(x, "Accept", "application/json");
    if (ctype)
        ghc_xfer_header(x, "Content-Type", ctype);
    if (body)
        ghc_xfer_body(x, body, blen);
    ghc_xfer_start(x);
    ghc_xfer_wait(x, false, 120000);
    enum gh_rc rc = x->done ? x->rc : GH_E_TIMEOUT;
    if (x->done && x->head) {
        *status = x->status;
        gh_buf_append(out, x->rbody.data ? x->rbody.data : "", x->rbody.len);
    }
    ghc_xfer_release(x);
    return rc;
}
