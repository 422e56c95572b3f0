/*
 * http/client.c owns upstream exchanges: per-worker keep-alive pools, connect/first-byte/idle
 * deadlines, strict response framing, and streaming the body to callbacks with backpressure.
 *
 * A request that failed on a reused keep-alive connection before any response byte arrived is
 * retried once on a fresh connection: the upstream closed an idle connection as we reused it.
 */
#include "core/core.h"
#include "http/http.h"

#include <stdio.h>

#define READ_CHUNK 16384

struct cconn {
    struct cconn *next; /* idle list */
    struct gh_http_pool *pool;
    struct gh_net_sock *sock;
    struct gh_net_timer *timer;
    struct gh_buf in, out;
    struct gh_http_creq *req; /* NULL while idle */
    bool connected;
    uint64_t idle_since_ms; /* when it went back to the pool */
};

struct gh_http_pool {
    struct gh_net_worker *w;
    struct gh_http_client_target t;
    char *host_header, *sni;
    struct cconn *idle;
    size_t nidle;
};

enum creq_state {
    CREQ_CONNECTING = 0,
    CREQ_WAIT_HEAD,
    CREQ_BODY,
};

struct gh_http_creq {
    struct gh_http_pool *pool;
    struct cconn *conn;
    struct gh_http_creq_cbs cbs;
    void *arg;
    struct gh_buf wire; /* the whole request, kept for one retry */
    enum gh_http_method method;
    enum creq_state state;
    struct gh_http_chunked chunked;
    uint64_t remaining;
    bool chunked_body, close_delimited;
    bool no_reuse; /* the upstream said Connection: close */
    bool reused, retried, got_bytes, paused, cancelled, finished;
    int depth;
};

static void cconn_on_io(struct gh_net_sock *s, int flags, void *arg);
static void creq_finish(struct gh_http_creq *r, enum gh_rc rc);
static void creq_put(struct gh_http_creq *r);
static void creq_fail_later(void *arg);
static void creq_attach(struct gh_http_creq *r);

/* ---- pool ---- */

struct gh_http_pool *gh_http_pool_new(struct gh_net_worker *w,
                                      const struct gh_http_client_target *t)
{
    struct gh_http_pool *p = gh_xcalloc(1, sizeof(*p));
    p->w = w;
    p->t = *t;
    p->host_header = gh_xstrdup(t->host_header);
    p->sni = t->sni ? gh_xstrdup(t->sni) : NULL;
    p->t.host_header = p->host_header;
    p->t.sni = p->sni;
    return p;
}

static void cconn_free(struct cconn *c)
{
    gh_net_sock_close(c->sock);
    gh_net_timer_free(c->timer);
    gh_buf_release(&c->in);
    gh_buf_release(&c->out);
    free(c);
}

void gh_http_pool_free(struct gh_http_pool *p)
{
    while (p->idle) {
        struct cconn *c = p->idle;
        p->idle = c->next;
        cconn_free(c);
    }
    free(p->host_header);
    free(p->sni);
    free(p);
}

static void pool_remove_idle(struct gh_http_pool *p, struct cconn *c)
{
    for (struct cconn **pp = &p->idle; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            p->nidle--;
            return;
        }
    }
}

static void on_cconn_timer(void *arg)
{
    struct cconn *c = arg;
    struct gh_http_creq *r = c->req;
    if (!r)
        return;
    r->depth++;
    creq_finish(r, GH_E_TIMEOUT);
    creq_put(r);
}

static struct cconn *cconn_new(struct gh_http_pool *p)
{
    struct cconn *c = gh_xcalloc(1, sizeof(*c));
    c->pool = p;
    gh_buf_init(&c->in, p->t.header_bytes + READ_CHUNK);
    gh_buf_init(&c->out, (size_t)64 << 20);
    if (gh_net_sock_connect(p->w, &p->t.addr, p->t.tls, p->sni, cconn_on_io, c, &c->sock) !=
        GH_OK) {
        gh_buf_release(&c->in);
        gh_buf_release(&c->out);
        free(c);
        return NULL;
    }
    c->timer = gh_net_timer_new(p->w, on_cconn_timer, c);
    return c;
}

/* Returns the connection to the idle list, or closes it when the pool is full. */
static void cconn_release(struct cconn *c, bool reusable)
{
    struct gh_http_pool *p = c->pool;
    c->req = NULL;
    gh_net_timer_cancel(c->timer);
    if (!reusable || gh_buf_rlen(&c->in) > 0 || p->nidle >= p->t.max_idle) {
        cconn_free(c);
        return;
    }
    gh_buf_clear(&c->in);
    gh_buf_clear(&c->out);
    c->idle_since_ms = gh_clock_ms();
    c->next = p->idle;
    p->idle = c;
    p->nidle++;
    gh_net_sock_want(c->sock, true, false, 0); /* to notice the upstream closing it */
}

/* ---- exchange ---- */

static void build_wire(struct gh_http_creq *r, const char *method, struct gh_slice target,
                       const struct gh_http_header *hdrs, size_t n, struct gh_slice body)
{
    struct gh_buf *o = &r->wire;
    gh_buf_init(o, body.len + 65536);
    /* no printf on the hot path: a request head is a few appends */
    gh_buf_puts(o, method);
    gh_buf_append(o, " ", 1);
    gh_buf_append(o, target.ptr, target.len);
    gh_buf_append(o, " HTTP/1.1\r\nHost: ", 17);
    gh_buf_puts(o, r->pool->host_header);
    gh_buf_append(o, "\r\n", 2);
    for (size_t i = 0; i < n; i++) {
        gh_buf_append(o, hdrs[i].name.ptr, hdrs[i].name.len);
        gh_buf_append(o, ": ", 2);
        gh_buf_append(o, hdrs[i].value.ptr, hdrs[i].value.len);
        gh_buf_append(o, "\r\n", 2);
    }
    if (body.len || r->method == GH_HTTP_M_POST || r->method == GH_HTTP_M_PUT) {
        gh_buf_append(o, "Content-Length: ", 16);
        gh_buf_putu(o, body.len, 10);
        gh_buf_append(o, "\r\n", 2);
    }
    gh_buf_append(o, "\r\n", 2);
    gh_buf_append(o, body.ptr, body.len);
}

static enum gh_http_method method_of(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return GH_HTTP_M_GET;
    if (strcmp(m, "POST") == 0)
        return GH_HTTP_M_POST;
    if (strcmp(m, "DELETE") == 0)
        return GH_HTTP_M_DELETE;
    if (strcmp(m, "HEAD") == 0)
        return GH_HTTP_M_HEAD;
    return GH_HTTP_M_OTHER;
}

struct gh_http_creq *gh_http_client_send(struct gh_http_pool *p, const char *method,
                                         struct gh_slice target, const struct gh_http_header *hdrs,
                                         size_t nhdrs, struct gh_slice body,
                                         const struct gh_http_creq_cbs *cbs, void *arg)
{
    struct gh_http_creq *r = gh_xcalloc(1, sizeof(*r));
    r->pool = p;
    r->cbs = *cbs;
    r->arg = arg;
    r->method = method_of(method);
    build_wire(r, method, target, hdrs, nhdrs, body);
    creq_attach(r);
    return r;
}

static void cconn_flush(struct cconn *c)
{
    while (gh_buf_rlen(&c->out) > 0) {
        ssize_t n = gh_net_sock_write(c->sock, gh_buf_rptr(&c->out), gh_buf_rlen(&c->out));
        if (n < 0) {
            creq_finish(c->req, GH_E_IO);
            return;
        }
        if (n == 0)
            break;
        gh_buf_consume(&c->out, (size_t)n);
    }
    gh_net_sock_want(c->sock, true, gh_buf_rlen(&c->out) > 0, 0);
}

static void creq_send_wire(struct gh_http_creq *r)
{
    struct cconn *c = r->conn;
    r->state = CREQ_WAIT_HEAD;
    gh_buf_clear(&c->out);
    gh_buf_append(&c->out, r->wire.data, r->wire.len);
    gh_net_timer_arm(c->timer, r->pool->t.first_byte_ms);
    cconn_flush(c);
}

/* Idle connections older than this are closed instead of reused: upstreams close idle
 * keep-alive connections (Node after 5 s), and a request must not race that close. */
#define IDLE_REUSE_MS 4000

/* The idle list is newest first: when its head is stale, every connection behind it is too. */
static void drop_stale_idle(struct gh_http_pool *p)
{
    if (!p->idle || gh_clock_ms() - p->idle->idle_since_ms <= IDLE_REUSE_MS)
        return;
    while (p->idle) {
        struct cconn *c = p->idle;
        p->idle = c->next;
        cconn_free(c);
    }
    p->nidle = 0;
}

/* Takes an idle connection or opens one. */
static void creq_attach(struct gh_http_creq *r)
{
    struct gh_http_pool *p = r->pool;
    drop_stale_idle(p);
    struct cconn *c = p->idle;
    if (c && !r->retried) {
        p->idle = c->next;
        p->nidle--;
        c->req = r;
        r->conn = c;
        r->reused = true;
        creq_send_wire(r);
        return;
    }
    c = cconn_new(p);
    if (!c) {
        r->state = CREQ_CONNECTING;
        r->depth++;
        gh_net_worker_post(p->w, creq_fail_later, r);
        return;
    }
    c->req = r;
    r->conn = c;
    r->reused = false;
    r->state = CREQ_CONNECTING;
    gh_net_timer_arm(c->timer, p->t.connect_ms);
}

static void creq_free(struct gh_http_creq *r)
{
    gh_buf_release(&r->wire);
    free(r);
}

/* Every path that may end an exchange holds r->depth; the last one out frees a finished one. */
static void creq_put(struct gh_http_creq *r)
{
    if (--r->depth == 0 && r->finished && !r->conn)
        creq_free(r);
}

/* A connect that failed at once is reported from the loop, never from inside client_send. */
static void creq_fail_later(void *arg)
{
    struct gh_http_creq *r = arg;
    if (!r->cancelled)
        creq_finish(r, GH_E_IO);
    creq_put(r);
}

/* Ends the exchange once: releases the connection, then reports (unless cancelled). */
static void creq_finish(struct gh_http_creq *r, enum gh_rc rc)
{
    if (r->finished)
        return;
    struct cconn *c = r->conn;
    r->depth++;
    if ((rc == GH_E_CLOSED || rc == GH_E_IO) && r->reused && !r->got_bytes && !r->retried &&
        !r->cancelled) {
        /* a reused keep-alive connection was closed under us before any answer (the upstream
         * timed it out as we sent): try a fresh one. Never on a timeout: the upstream may be
         * running the call, and a tool call must not run twice. */
        r->retried = true;
        r->conn = NULL;
        cconn_free(c);
        creq_attach(r);
        creq_put(r);
        return;
    }
    r->finished = true;
    r->conn = NULL;
    if (c)
        cconn_release(c, rc == GH_OK && !r->close_delimited && !r->no_reuse);
    if (!r->cancelled && r->cbs.on_done)
        r->cbs.on_done(r->arg, rc);
    creq_put(r);
}

void gh_http_creq_cancel(struct gh_http_creq *r)
{
    r->cancelled = true;
    r->depth++;
    if (!r->finished) {
        struct cconn *c = r->conn;
        r->finished = true;
        r->conn = NULL;
        if (c)
            cconn_free(c); /* mid-exchange: the connection cannot be reused */
    }
    creq_put(r);
}

static bool emit_body(struct gh_http_creq *r, const char *p, size_t n)
{
    if (n == 0)
        return !r->cancelled;
    r->cbs.on_body(r->arg, p, n); /* the caller holds r->depth */
    return !r->cancelled;
}

/* Processes buffered body bytes; returns when it needs more input, is paused, or finished. */
static void creq_body(struct gh_http_creq *r)
{
    struct cconn *c = r->conn;
    while (!r->finished && !r->paused && c) {
        if (r->close_delimited) {
            size_t n = gh_buf_rlen(&c->in);
            const char *p = gh_buf_rptr(&c->in);
            if (n == 0)
                return;
            gh_buf_consume(&c->in, n); /* the bytes stay in place until the next read */
            if (!emit_body(r, p, n))
                return;
            continue;
        }
        if (!r->chunked_body) {
            size_t n = (size_t)GH_MIN(r->remaining, (uint64_t)gh_buf_rlen(&c->in));
            const char *p = gh_buf_rptr(&c->in);
            gh_buf_consume(&c->in, n);
            r->remaining -= n;
            if (!emit_body(r, p, n))
                return;
            if (r->remaining == 0)
                creq_finish(r, GH_OK);
            return;
        }
        if (gh_buf_rlen(&c->in) == 0)
            return;
        size_t used = 0;
        struct gh_slice data = {0};
        bool done = false;
        enum gh_rc rc = gh_http_chunked_step(&r->chunked, gh_buf_rptr(&c->in), gh_buf_rlen(&c->in),
                                             &used, &data, &done);
        if (rc != GH_OK) {
            creq_finish(r, GH_E_UPSTREAM);
            return;
        }
        gh_buf_consume(&c->in, used);
        if (!emit_body(r, data.ptr, data.len))
            return;
        if (done) {
            creq_finish(r, GH_OK);
            return;
        }
        if (used == 0 && data.len == 0)
            return;
    }
}

static void creq_head(struct gh_http_creq *r)
{
    struct cconn *c = r->conn;
    struct gh_http_response_head h;
    struct gh_http_error err;
    for (;;) {
        enum gh_rc rc = gh_http_response_parse(gh_buf_rptr(&c->in), gh_buf_rlen(&c->in),
                                               r->pool->t.header_bytes, GH_HTTP_MAX_HEADERS,
                                               r->method, &h, &err);
        if (rc == GH_E_AGAIN)
            return;
        if (rc != GH_OK) {
            GH_LOGW("http", "upstream sent an invalid response head: %s", err.reason);
            creq_finish(r, GH_E_UPSTREAM);
            return;
        }
        if (h.status >= 100 && h.status < 200) { /* interim responses are not forwarded */
            gh_buf_consume(&c->in, h.head_len);
            continue;
        }
        break;
    }
    r->state = CREQ_BODY;
    r->chunked_body = !h.no_body && h.chunked;
    r->close_delimited = !h.no_body && h.close_delimited;
    r->remaining = h.no_body ? 0 : h.content_length;
    if (r->chunked_body)
        gh_http_chunked_init(&r->chunked, 8192);
    bool ka = h.keep_alive;
    r->cbs.on_head(r->arg, &h); /* slices point into c->in: consume after the call */
    if (r->cancelled)
        return; /* the caller holds r->depth and frees */
    gh_buf_consume(&c->in, h.head_len);
    r->no_reuse = !ka;
    gh_net_timer_arm(c->timer, r->pool->t.stream_idle_ms);
    if (!r->chunked_body && !r->close_delimited && r->remaining == 0)
        creq_finish(r, GH_OK);
    else
        creq_body(r);
}

static void cconn_read_once(struct cconn *c);

/* Reads until the socket is drained, including what TLS decrypted ahead (no event signals it). */
static void cconn_read(struct cconn *c)
{
    struct gh_http_creq *r = c->req;
    cconn_read_once(c);
    while (r->conn == c && !r->finished && !r->paused && gh_net_sock_pending(c->sock) > 0)
        cconn_read_once(c);
}

static void cconn_read_once(struct cconn *c)
{
    struct gh_http_creq *r = c->req;
    char *w;
    if (gh_buf_reserve(&c->in, READ_CHUNK, &w) != GH_OK) {
        creq_finish(r, GH_E_LIMIT); /* a head above the cap */
        return;
    }
    ssize_t n = gh_net_sock_read(c->sock, w, READ_CHUNK);
    if (n == GH_E_AGAIN)
        return;
    if (n < 0) {
        bool clean_end = n == GH_E_CLOSED && r->state == CREQ_BODY && r->close_delimited;
        creq_finish(r, clean_end ? GH_OK : (r->got_bytes ? GH_E_UPSTREAM : GH_E_CLOSED));
        return;
    }
    gh_buf_commit(&c->in, (size_t)n);
    r->got_bytes = true;
    if (r->state == CREQ_WAIT_HEAD)
        creq_head(r);
    else if (r->state == CREQ_BODY) {
        gh_net_timer_arm(c->timer, r->pool->t.stream_idle_ms);
        creq_body(r);
    }
}

static void cconn_on_io(struct gh_net_sock *s, int flags, void *arg)
{
    struct cconn *c = arg;
    (void)s;
    struct gh_http_creq *r = c->req;
    if (!r) { /* idle: the upstream closed it or sent garbage */
        pool_remove_idle(c->pool, c);
        cconn_free(c);
        return;
    }
    r->depth++;
    if (r->state == CREQ_CONNECTING && (flags & GH_NET_WRITABLE)) {
        if (gh_net_sock_error(s) != GH_OK) {
            creq_finish(r, GH_E_IO);
        } else {
            c->connected = true;
            creq_send_wire(r);
        }
    } else {
        if ((flags & GH_NET_WRITABLE) && !r->finished)
            cconn_flush(c);
        if ((flags & GH_NET_READABLE) && !r->finished && !r->paused)
            cconn_read(c);
    }
    creq_put(r);
}

void gh_http_creq_pause(struct gh_http_creq *r, bool paused)
{
    if (r->paused == paused || r->finished)
        return;
    r->paused = paused;
    struct cconn *c = r->conn;
    if (!c)
        return;
    gh_net_sock_want(c->sock, !paused, gh_buf_rlen(&c->out) > 0, 0);
    if (paused) {
        gh_net_timer_cancel(c->timer);
    } else {
        gh_net_timer_arm(c->timer, r->pool->t.stream_idle_ms);
        r->depth++;
        creq_body(r);
        creq_put(r);
    }
}
