/*
 * http/server.c owns server connections: the state machine that reads a request head and body
 * under limits and deadlines, hands complete requests to the handler, and writes (streamed)
 * responses with reused, capped buffers.
 *
 * Lifetimes: a connection owns its buffers; a request owns its arena and body and is refcounted
 * (the connection holds one reference while it is current, the handler one until resp_end).
 * When the connection dies first, the request is detached (conn = NULL) and its abort callback
 * runs; later writes are dropped. Connections are freed only when no callback is on the stack.
 */
#include "core/core.h"
#include "http/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define READ_CHUNK 16384

enum conn_state {
    CONN_HEAD = 0, /* waiting for (the rest of) a request head */
    CONN_BODY,     /* reading the body of the current request */
    CONN_HANDLING, /* request handed over; response not finished */
    CONN_CLOSING,  /* flushing the last bytes, then close */
};

struct gh_http_server {
    struct gh_http_server_limits lim;
    struct ssl_ctx_st *tls;
    gh_http_handler handler;
    void *ctx;
    _Atomic size_t nconns;
};

struct conn {
    struct conn *next, *prev; /* worker's list */
    struct gh_http_server *srv;
    struct gh_net_worker *w;
    struct gh_net_sock *sock;
    struct gh_net_timer *timer;
    struct gh_net_addr peer, local;
    struct gh_buf in, out;
    struct gh_http_req *req; /* current request, or NULL */
    enum conn_state state;
    struct gh_http_chunked chunked;
    int depth;        /* callbacks on the stack: free only at depth 0 */
    bool dead;        /* closed; free when depth reaches 0 */
    bool close_after; /* no keep-alive after the current response */
    bool want_write;
    bool lingering; /* answer sent and write side shut: draining what the client sends */
    void *memo;     /* gh_http_req_conn_memo: the layers above remember per connection */
    void (*memo_free)(void *);
    bool processing;  /* conn_process is on the stack: it picks up the next request */
    size_t discarded; /* bytes thrown away while lingering */
};

struct gh_http_req {
    int refs;
    struct conn *conn; /* NULL once detached */
    struct gh_arena *arena;
    struct gh_buf body;
    struct gh_slice body_override; /* set: what the body is from now on (request arena) */
    bool started, ended, chunked_resp;
    bool head_only; /* HEAD: headers as for GET, never a body (RFC 9110 §9.3.2) */
    void (*on_abort)(void *);
    void *abort_arg;
    void (*on_drain)(void *);
    void *drain_arg;
    struct {
        void (*fn)(void *);
        void *arg;
    } on_free[4];                    /* run in order when the request is freed */
    void *app;                       /* the application's per-request context */
    int resp_status;                 /* the response's status once started */
    uint64_t resp_bytes;             /* body bytes handed to the connection */
    struct gh_sha256_stream *digest; /* over the body bytes, when the application asked */
    char *tail;                      /* ring of the last body bytes, when asked (arena) */
    uint32_t tail_cap, tail_len, tail_pos;
    struct gh_net_addr peer, local;
    bool tls;
    struct gh_net_worker *w;
    /* last: only its used header slots are ever written (head_copy) */
    struct gh_http_request_head head; /* slices point into the arena */
};

static _Thread_local struct {
    struct conn *conns;
    size_t nconns;
    bool draining;
} wk;

static void conn_on_io(struct gh_net_sock *s, int flags, void *arg);
static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);
static void conn_close(struct conn *c);
static void conn_put(struct conn *c);

/* ---- server ---- */

struct gh_http_server *gh_http_server_new(const struct gh_http_server_limits *lim,
                                          struct ssl_ctx_st *tls, gh_http_handler h, void *ctx)
{
    struct gh_http_server *s = gh_xcalloc(1, sizeof(*s));
    s->lim = *lim;
    s->tls = tls;
    s->handler = h;
    s->ctx = ctx;
    return s;
}

void gh_http_server_free(struct gh_http_server *srv)
{
    free(srv);
}

const char *gh_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static void on_conn_timer(void *arg)
{
    struct conn *c = arg;
    c->depth++;
    if (c->state == CONN_HEAD && gh_buf_rlen(&c->in) == 0) {
        conn_close(c); /* idle keep-alive connection: close quietly */
    } else if (c->state == CONN_HEAD || c->state == CONN_BODY) {
        static const char msg[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        GH_LOGD("http", "request timeout in %s", c->state == CONN_HEAD ? "head" : "body");
        gh_buf_append(&c->out, msg, sizeof(msg) - 1);
        c->state = CONN_CLOSING;
        conn_flush(c);
    } else if (c->state == CONN_CLOSING) {
        conn_close(c); /* the peer does not read our last bytes */
    }
    c->depth--;
    conn_put(c);
}

void gh_http_server_accept(struct gh_net_worker *w, int fd, const struct gh_net_addr *peer,
                           void *arg)
{
    struct gh_http_server *srv = arg;
    struct conn *c = gh_xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->w = w;
    c->peer = *peer;
    c->local.len = sizeof(c->local.ss);
    getsockname(fd, (struct sockaddr *)&c->local.ss, &c->local.len);
    gh_buf_init(&c->in, srv->lim.header_bytes + READ_CHUNK);
    gh_buf_init(&c->out, srv->lim.out_bytes + srv->lim.header_bytes);
    c->sock = gh_net_sock_new(w, fd, srv->tls, true, NULL, conn_on_io, c);
    c->timer = gh_net_timer_new(w, on_conn_timer, c);
    c->next = wk.conns;
    if (wk.conns)
        wk.conns->prev = c;
    wk.conns = c;
    wk.nconns++;
    size_t n = atomic_fetch_add(&srv->nconns, 1) + 1;
    if (n > srv->lim.connections || wk.draining) {
        static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";
        GH_LOGW("http", "connection limit (%zu) reached: refusing", srv->lim.connections);
        gh_buf_append(&c->out, msg, sizeof(msg) - 1);
        c->state = CONN_CLOSING;
        gh_net_timer_arm(c->timer, 1000);
        c->depth++;
        conn_flush(c);
        conn_put(c);
        return;
    }
    gh_net_timer_arm(c->timer, srv->lim.header_ms);
    gh_net_sock_want(c->sock, true, false, 0);
}

static void conn_unlink(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        wk.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wk.nconns--;
}

static void req_detach(struct gh_http_req *r)
{
    r->conn = NULL;
    if (!r->ended && r->on_abort) {
        void (*fn)(void *) = r->on_abort;
        r->on_abort = NULL;
        fn(r->abort_arg);
    }
    gh_http_req_unref(r); /* the connection's reference */
}

/* Closes the socket and detaches the request; the memory goes in conn_put once no callback of
 * this connection is on the stack (callers up the stack still hold c). */
static void conn_close(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = true;
    gh_net_sock_close(c->sock);
    c->sock = NULL;
    gh_net_timer_cancel(c->timer);
    atomic_fetch_sub(&c->srv->nconns, 1);
    conn_unlink(c);
    if (c->req) {
        struct gh_http_req *r = c->req;
        c->req = NULL;
        req_detach(r);
    }
}

/* Leaves a callback of c: frees it when it died and this was the outermost one. */
static void conn_put(struct conn *c)
{
    if (--c->depth > 0 || !c->dead)
        return;
    if (c->memo && c->memo_free)
        c->memo_free(c->memo);
    gh_net_timer_free(c->timer);
    gh_buf_release(&c->in);
    gh_buf_release(&c->out);
    free(c);
}

void gh_http_server_drain(struct gh_net_worker *w)
{
    (void)w;
    wk.draining = true;
    struct conn *c = wk.conns;
    while (c) {
        struct conn *n = c->next;
        c->close_after = true;
        if (c->state == CONN_HEAD && gh_buf_rlen(&c->in) == 0) {
            c->depth++;
            conn_close(c);
            conn_put(c);
        }
        c = n;
    }
}

size_t gh_http_server_conns(struct gh_net_worker *w)
{
    (void)w;
    return wk.nconns;
}

/* ---- writing ---- */

/*
 * After an error answer, closing at once would reset the connection while the client is still
 * sending (a 413 body): the client would see ECONNRESET instead of our answer. So shut the write
 * side and read and drop what comes, for a bounded time and amount (nginx's lingering close).
 */
static void linger(struct conn *c)
{
    if (c->lingering)
        return;
    c->lingering = true;
    gh_net_sock_shutdown_write(c->sock);
    gh_net_timer_arm(c->timer, 2000);
    gh_net_sock_want(c->sock, true, false, 0);
}

static void conn_flush(struct conn *c)
{
    while (gh_buf_rlen(&c->out) > 0) {
        ssize_t n = gh_net_sock_write(c->sock, gh_buf_rptr(&c->out), gh_buf_rlen(&c->out));
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n == 0)
            break;
        gh_buf_consume(&c->out, (size_t)n);
    }
    bool pending = gh_buf_rlen(&c->out) > 0;
    if (pending != c->want_write) {
        c->want_write = pending;
        gh_net_sock_want(c->sock, true, pending, 0);
    }
    if (pending)
        return;
    if (c->state == CONN_CLOSING) {
        linger(c);
        return;
    }
    if (c->req && c->req->on_drain) {
        void (*fn)(void *) = c->req->on_drain;
        c->req->on_drain = NULL;
        fn(c->req->drain_arg);
    }
}

/* The response is complete and written: release the request, go on with the next one. */
static void conn_request_done(struct conn *c)
{
    struct gh_http_req *r = c->req;
    c->req = NULL;
    gh_http_req_unref(r);
    if (c->close_after || wk.draining) {
        c->state = CONN_CLOSING;
        conn_flush(c);
        return;
    }
    c->state = CONN_HEAD;
    gh_net_timer_arm(c->timer, gh_buf_rlen(&c->in) ? c->srv->lim.header_ms : c->srv->lim.idle_ms);
    gh_net_sock_want(c->sock, true, c->want_write, 0);
    if (!c->processing) /* else the loop below us goes on with pipelined requests */
        conn_process(c);
}

/* Answers a framing or limit error and closes: the stream position is no longer trustworthy. */
static void conn_fail(struct conn *c, int status, const char *reason)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, gh_http_status_text(status), strlen(reason) + 1, reason);
    GH_LOGD("http", "rejecting request: %d %s", status, reason);
    gh_buf_clear(&c->out);
    gh_buf_append(&c->out, buf, (size_t)n);
    c->state = CONN_CLOSING;
    gh_net_timer_arm(c->timer, 5000);
    conn_flush(c);
}

/* ---- reading ---- */

static void rebase(struct gh_slice *s, const char *from, const char *to)
{
    if (s->ptr)
        s->ptr = to + (s->ptr - from);
}

/* Copies a parsed head without its unused header slots: the array holds GH_HTTP_MAX_HEADERS
 * entries (3.2 KiB) of which a request uses about ten, and zeroing plus copying all of them was
 * most of the request's memset/memcpy time. Slots past nheaders stay unwritten. */
static void head_copy(struct gh_http_request_head *to, const struct gh_http_request_head *from)
{
    const size_t hdrs = offsetof(struct gh_http_request_head, headers);
    const size_t after = offsetof(struct gh_http_request_head, nheaders);
    memcpy(to, from, hdrs);
    memcpy(to->headers, from->headers, from->nheaders * sizeof(from->headers[0]));
    memcpy((char *)to + after, (const char *)from + after, sizeof(*to) - after);
}

static struct gh_http_req *req_new(struct conn *c, const struct gh_http_request_head *h)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_http_req *r = gh_arena_alloc(a, sizeof(*r));
    memset(r, 0, offsetof(struct gh_http_req, head));
    head_copy(&r->head, h);
    r->arena = a;
    r->refs = 1;
    r->conn = c;
    r->peer = c->peer;
    r->local = c->local;
    r->tls = c->srv->tls != NULL;
    r->w = c->w;
    /* the head is copied once so the connection buffer can move on (pipelining, reuse) */
    const char *from = gh_buf_rptr(&c->in);
    char *to = gh_arena_strndup(a, from, h->head_len);
    rebase(&r->head.method_str, from, to);
    rebase(&r->head.target, from, to);
    rebase(&r->head.path, from, to);
    rebase(&r->head.query, from, to);
    rebase(&r->head.host, from, to);
    for (size_t i = 0; i < r->head.nheaders; i++) {
        rebase(&r->head.headers[i].name, from, to);
        rebase(&r->head.headers[i].value, from, to);
    }
    gh_buf_init(&r->body, c->srv->lim.body_bytes ? c->srv->lim.body_bytes : 1);
    return r;
}

static void dispatch(struct conn *c)
{
    c->state = CONN_HANDLING;
    gh_net_timer_cancel(c->timer);
    gh_http_req_ref(c->req); /* the handler's reference */
    c->srv->handler(c->req, c->srv->ctx);
}

static bool parse_head(struct conn *c)
{
    struct gh_http_request_head h;
    struct gh_http_error err = {0};
    enum gh_rc rc =
        gh_http_request_parse(gh_buf_rptr(&c->in), gh_buf_rlen(&c->in), c->srv->lim.header_bytes,
                              c->srv->lim.headers_count, &h, &err);
    if (rc == GH_E_AGAIN)
        return false;
    if (rc != GH_OK) {
        conn_fail(c, err.status ? err.status : 400, err.reason ? err.reason : "bad request");
        return false;
    }
    if (h.has_content_length && h.content_length > c->srv->lim.body_bytes) {
        conn_fail(c, 413, "request body exceeds the configured limit");
        return false;
    }
    c->req = req_new(c, &h);
    gh_buf_consume(&c->in, h.head_len);
    if (!h.keep_alive)
        c->close_after = true;
    if (h.chunked)
        gh_http_chunked_init(&c->chunked, 8192);
    if (h.chunked || (h.has_content_length && h.content_length > 0)) {
        c->state = CONN_BODY;
        gh_net_timer_arm(c->timer, c->srv->lim.body_ms);
        if (h.expect_continue && gh_buf_rlen(&c->in) == 0) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            gh_buf_append(&c->out, cont, sizeof(cont) - 1);
            conn_flush(c);
        }
        return true;
    }
    dispatch(c);
    return false;
}

/* Moves body bytes from the input buffer; true when the body is complete. */
static bool read_body(struct conn *c)
{
    struct gh_http_req *r = c->req;
    if (!r->head.chunked) {
        size_t want = (size_t)r->head.content_length - r->body.len;
        size_t n = GH_MIN(want, gh_buf_rlen(&c->in));
        gh_buf_append(&r->body, gh_buf_rptr(&c->in), n); /* cannot exceed: CL checked */
        gh_buf_consume(&c->in, n);
        return r->body.len == r->head.content_length;
    }
    while (gh_buf_rlen(&c->in) > 0) {
        size_t used = 0;
        struct gh_slice data = {0};
        bool done = false;
        enum gh_rc rc = gh_http_chunked_step(&c->chunked, gh_buf_rptr(&c->in), gh_buf_rlen(&c->in),
                                             &used, &data, &done);
        if (rc != GH_OK) {
            conn_fail(c, rc == GH_E_LIMIT ? 431 : 400, "malformed chunked body");
            return false;
        }
        if (data.len && gh_buf_append(&r->body, data.ptr, data.len) != GH_OK) {
            conn_fail(c, 413, "request body exceeds the configured limit");
            return false;
        }
        gh_buf_consume(&c->in, used);
        if (done)
            return true;
        if (used == 0)
            break;
    }
    return false;
}

/* Parses and dispatches buffered requests in a loop (not by recursion: a client may pipeline
 * hundreds); a response finished synchronously brings the state back to CONN_HEAD. */
static void conn_process(struct conn *c)
{
    c->processing = true;
    while (!c->dead) {
        if (c->state == CONN_HEAD) {
            if (gh_buf_rlen(&c->in) == 0)
                break;
            size_t before = gh_buf_rlen(&c->in);
            parse_head(c); /* may dispatch, and the response may end at once */
            bool consumed = gh_buf_rlen(&c->in) < before;
            if (c->state == CONN_HEAD && consumed && !c->req)
                continue; /* answered synchronously: the next pipelined request */
            if (c->state != CONN_BODY)
                break;
        } else if (c->state == CONN_BODY) {
            if (!read_body(c))
                break;
            dispatch(c);
            if (c->state != CONN_HEAD)
                break;
        } else {
            break;
        }
    }
    c->processing = false;
}

static void conn_read(struct conn *c)
{
    for (int i = 0; i < 64 && !c->dead; i++) {
        char *w;
        if (gh_buf_reserve(&c->in, READ_CHUNK, &w) != GH_OK) {
            /* only a head larger than the cap, or pipelined input piling up, gets here */
            if (c->state == CONN_HEAD)
                conn_fail(c, 431, "request head exceeds the configured limit");
            else
                gh_net_sock_want(c->sock, false, c->want_write, 0);
            return;
        }
        ssize_t n = gh_net_sock_read(c->sock, w, READ_CHUNK);
        if (n == GH_E_AGAIN)
            return;
        if (n < 0) {
            conn_close(c);
            return;
        }
        gh_buf_commit(&c->in, (size_t)n);
        if (c->state == CONN_HEAD || c->state == CONN_BODY)
            conn_process(c);
        /* a short read drained the socket, unless TLS holds decrypted bytes no event will signal */
        if ((size_t)n < READ_CHUNK && (c->dead || gh_net_sock_pending(c->sock) == 0))
            return;
    }
}

static void conn_on_io(struct gh_net_sock *s, int flags, void *arg)
{
    struct conn *c = arg;
    (void)s;
    c->depth++;
    if ((flags & GH_NET_WRITABLE) && !c->dead)
        conn_flush(c);
    if ((flags & GH_NET_READABLE) && !c->dead) {
        if (c->state == CONN_CLOSING) {
            char sink[16384]; /* discard what a rejected client still sends */
            ssize_t n = gh_net_sock_read(c->sock, sink, sizeof(sink));
            if (n > 0)
                c->discarded += (size_t)n;
            if ((n < 0 && n != GH_E_AGAIN) || c->discarded > ((size_t)64 << 20))
                conn_close(c);
        } else {
            conn_read(c);
        }
    }
    conn_put(c);
}

/* ---- requests ---- */

const struct gh_http_request_head *gh_http_req_head(const struct gh_http_req *r)
{
    return &r->head;
}

struct gh_slice gh_http_req_body(const struct gh_http_req *r)
{
    if (r->body_override.ptr)
        return r->body_override;
    return gh_slice(r->body.data, r->body.len);
}

void gh_http_req_replace_body(struct gh_http_req *r, const char *p, size_t n)
{
    char *copy = gh_arena_alloc(r->arena, n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    r->body_override = gh_slice(copy, n); /* the received bytes stay: parses still point there */
}

struct gh_arena *gh_http_req_arena(struct gh_http_req *r)
{
    return r->arena;
}

const struct gh_net_addr *gh_http_req_peer(const struct gh_http_req *r)
{
    return &r->peer;
}

const struct gh_net_addr *gh_http_req_local(const struct gh_http_req *r)
{
    return &r->local;
}

bool gh_http_req_tls(const struct gh_http_req *r)
{
    return r->tls;
}

struct gh_net_worker *gh_http_req_worker(const struct gh_http_req *r)
{
    return r->w;
}

struct gh_slice gh_http_req_header(const struct gh_http_req *r, const char *name)
{
    const struct gh_http_header *h = gh_http_header_find(r->head.headers, r->head.nheaders, name);
    return h ? h->value : (struct gh_slice){NULL, 0};
}

void **gh_http_req_conn_memo(struct gh_http_req *r, void (*free_fn)(void *))
{
    if (!r->conn)
        return NULL;
    r->conn->memo_free = free_fn;
    return &r->conn->memo;
}

bool gh_http_req_connected(const struct gh_http_req *r)
{
    return r->conn != NULL;
}

void gh_http_req_ref(struct gh_http_req *r)
{
    r->refs++;
}

void gh_http_req_unref(struct gh_http_req *r)
{
    GH_BUG_ON(r->refs <= 0);
    if (--r->refs > 0)
        return;
    for (size_t i = 0; i < GH_ARRAY_LEN(r->on_free) && r->on_free[i].fn; i++)
        r->on_free[i].fn(r->on_free[i].arg);
    if (r->digest)
        gh_sha256_stream_free(r->digest);
    gh_buf_release(&r->body);
    gh_arena_free(r->arena); /* r lives in its own arena */
}

void gh_http_req_on_free(struct gh_http_req *r, void (*fn)(void *), void *arg)
{
    size_t i = 0;
    while (i < GH_ARRAY_LEN(r->on_free) && r->on_free[i].fn)
        i++;
    GH_BUG_ON(i == GH_ARRAY_LEN(r->on_free)); /* a fixed, small set of users */
    r->on_free[i].fn = fn;
    r->on_free[i].arg = arg;
}

void gh_http_req_set_app(struct gh_http_req *r, void *app)
{
    r->app = app;
}

void *gh_http_req_app(const struct gh_http_req *r)
{
    return r->app;
}

void gh_http_req_observe_body(struct gh_http_req *r, size_t tail_cap)
{
    if (!r->digest)
        r->digest = gh_sha256_stream_new();
    if (tail_cap && !r->tail) {
        r->tail = gh_arena_alloc(r->arena, tail_cap);
        r->tail_cap = (uint32_t)tail_cap;
    }
}

static void observe(struct gh_http_req *r, const char *p, size_t n)
{
    if (r->digest)
        gh_sha256_stream_update(r->digest, p, n);
    if (!r->tail || !n)
        return;
    if (n >= r->tail_cap) { /* only the last tail_cap bytes matter */
        memcpy(r->tail, p + n - r->tail_cap, r->tail_cap);
        r->tail_pos = 0;
        r->tail_len = r->tail_cap;
        return;
    }
    size_t first = GH_MIN(n, (size_t)(r->tail_cap - r->tail_pos));
    memcpy(r->tail + r->tail_pos, p, first);
    memcpy(r->tail, p + first, n - first);
    r->tail_pos = (uint32_t)((r->tail_pos + n) % r->tail_cap);
    r->tail_len = (uint32_t)GH_MIN((size_t)r->tail_len + n, (size_t)r->tail_cap);
}

bool gh_http_req_resp_digest(struct gh_http_req *r, unsigned char out[32])
{
    if (!r->digest)
        return false;
    gh_sha256_stream_final(r->digest, out);
    r->digest = NULL;
    return true;
}

size_t gh_http_req_resp_tail(const struct gh_http_req *r, char *out, size_t cap)
{
    size_t n = GH_MIN((size_t)r->tail_len, cap);
    size_t start = (r->tail_pos + r->tail_cap - n) % (r->tail_cap ? r->tail_cap : 1);
    for (size_t i = 0; i < n; i++)
        out[i] = r->tail[(start + i) % r->tail_cap];
    return n;
}

int gh_http_req_resp_status(const struct gh_http_req *r)
{
    return r->resp_status;
}

uint64_t gh_http_req_resp_bytes(const struct gh_http_req *r)
{
    return r->resp_bytes;
}

void gh_http_req_on_abort(struct gh_http_req *r, void (*fn)(void *), void *arg)
{
    r->on_abort = fn;
    r->abort_arg = arg;
}

void gh_http_req_on_drain(struct gh_http_req *r, void (*fn)(void *), void *arg)
{
    r->on_drain = fn;
    r->drain_arg = arg;
}

/* ---- responses ---- */

static const char *http_date(void)
{
    static _Thread_local char buf[40];
    static _Thread_local time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

void gh_http_resp_start(struct gh_http_req *r, int status, const struct gh_http_header *hdrs,
                        size_t nhdrs, int64_t content_length)
{
    struct conn *c = r->conn;
    GH_BUG_ON(r->started);
    r->started = true;
    r->resp_status = status;
    if (!c)
        return;
    if (wk.draining)
        c->close_after = true;
    struct gh_buf *o = &c->out;
    gh_buf_append(o, "HTTP/1.1 ", 9);
    gh_buf_putu(o, (uint64_t)status, 10);
    gh_buf_append(o, " ", 1);
    gh_buf_puts(o, gh_http_status_text(status));
    gh_buf_append(o, "\r\nDate: ", 8);
    gh_buf_puts(o, http_date());
    gh_buf_append(o, "\r\n", 2);
    for (size_t i = 0; i < nhdrs; i++) {
        gh_buf_append(o, hdrs[i].name.ptr, hdrs[i].name.len);
        gh_buf_append(o, ": ", 2);
        gh_buf_append(o, hdrs[i].value.ptr, hdrs[i].value.len);
        gh_buf_append(o, "\r\n", 2);
    }
    r->head_only = r->head.method == GH_HTTP_M_HEAD;
    if (content_length >= 0) {
        gh_buf_append(o, "Content-Length: ", 16);
        gh_buf_putu(o, (uint64_t)content_length, 10);
        gh_buf_append(o, "\r\n", 2);
    } else if (r->head_only) {
        c->close_after = true; /* no length to announce and no body to frame */
    } else {
        r->chunked_resp = true;
        gh_buf_append(o, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (c->close_after)
        gh_buf_append(o, "Connection: close\r\n", 19);
    gh_buf_append(o, "\r\n", 2);
}

enum gh_rc gh_http_resp_write(struct gh_http_req *r, const void *p, size_t n)
{
    struct conn *c = r->conn;
    if (!c)
        return GH_E_CLOSED;
    GH_BUG_ON(!r->started || r->ended);
    if (n == 0 || r->head_only)
        return GH_OK;
    if (gh_buf_rlen(&c->out) + n + 32 > c->srv->lim.out_bytes)
        return GH_E_LIMIT;
    r->resp_bytes += n;
    observe(r, p, n);
    if (r->chunked_resp) {
        gh_buf_putu(&c->out, n, 16);
        gh_buf_append(&c->out, "\r\n", 2);
    }
    gh_buf_append(&c->out, p, n);
    if (r->chunked_resp)
        gh_buf_append(&c->out, "\r\n", 2);
    return GH_OK;
}

void gh_http_resp_flush(struct gh_http_req *r)
{
    if (r->conn && !r->conn->dead) {
        struct conn *c = r->conn;
        c->depth++;
        conn_flush(c);
        conn_put(c);
    }
}

size_t gh_http_resp_pending(const struct gh_http_req *r)
{
    return r->conn ? gh_buf_rlen(&r->conn->out) : 0;
}

void gh_http_resp_end(struct gh_http_req *r)
{
    struct conn *c = r->conn;
    /* a detached request (client gone) may be ended without a response: nobody would read it */
    GH_BUG_ON(r->ended || (c && !r->started));
    r->ended = true;
    if (c) {
        if (r->chunked_resp && !r->head_only)
            gh_buf_append(&c->out, "0\r\n\r\n", 5);
        c->depth++;
        conn_flush(c);
        if (!c->dead && c->req == r)
            conn_request_done(c);
        conn_put(c);
    }
    gh_http_req_unref(r); /* the handler's reference */
}

void gh_http_resp_simple(struct gh_http_req *r, int status, const char *content_type,
                         const void *body, size_t len, const struct gh_http_header *hdrs,
                         size_t nhdrs)
{
    struct gh_http_header all[16];
    size_t n = 0;
    if (content_type)
        all[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Content-Type"), gh_slice_cstr(content_type)};
    for (size_t i = 0; i < nhdrs && n < GH_ARRAY_LEN(all); i++)
        all[n++] = hdrs[i];
    gh_http_resp_start(r, status, all, n, (int64_t)len);
    if (r->conn && len && !r->head_only)
        gh_buf_append(&r->conn->out, body, len);
    r->resp_bytes += len;
    observe(r, body, len);
    gh_http_resp_end(r);
}

void gh_http_resp_close_after(struct gh_http_req *r)
{
    if (r->conn)
        r->conn->close_after = true;
}
