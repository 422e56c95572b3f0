/*
 * Unit tests for the http/ server and client state machines, run against each other in one
 * process: one worker serves a gh_http_server on 127.0.0.1 and, from the same worker, sends
 * requests to it through a gh_http_pool; the test thread waits on condition variables. Raw
 * blocking sockets from the test thread cover what the client cannot send (oversized heads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "http/http.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ sync helpers */

struct sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
};

static void sync_init(struct sync *s)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->count = 0;
}

static void sync_destroy(struct sync *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static void sync_signal(struct sync *s)
{
    pthread_mutex_lock(&s->mu);
    s->count++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int sync_wait(struct sync *s, int n, int ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->count < n && pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0)
        ;
    int c = s->count;
    pthread_mutex_unlock(&s->mu);
    return c;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

struct call {
    void (*fn)(void *);
    void *arg;
    struct sync done;
};

static void call_task(void *p)
{
    struct call *c = p;
    c->fn(c->arg);
    sync_signal(&c->done);
}

static void run_on(struct gh_net_worker *w, void (*fn)(void *), void *arg)
{
    struct call c = {.fn = fn, .arg = arg};
    sync_init(&c.done);
    gh_net_worker_post(w, call_task, &c);
    assert_int_equal(sync_wait(&c.done, 1, 5000), 1);
    sync_destroy(&c.done);
}

static uint16_t fd_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t l = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
    return ntohs(sa.sin_port);
}

/* ------------------------------------------------------------------ the environment */

#define MAX_STALLED 8

struct env {
    struct gh_net_worker **ws;
    struct gh_net_worker *w;
    struct gh_http_server *srv;
    uint16_t port;
    int lfd;
    struct gh_http_pool *pool; /* to the server, made on the worker */
    atomic_int accepts;        /* connections the server accepted */
    atomic_int handled;        /* requests that reached the handler */
    atomic_int stalls;         /* of which /stall */
    atomic_int aborted;        /* stalled requests whose client went away */
    struct sync stall_sync;
    struct gh_http_req *stalled[MAX_STALLED]; /* worker only */
    int nstalled;
    enum gh_rc big_rc1, big_rc2; /* what /big's resp_write calls returned */
};

static struct env E;

static struct gh_http_server_limits default_limits(void)
{
    return (struct gh_http_server_limits){
        .header_bytes = 4096,
        .headers_count = 20,
        .body_bytes = 1024,
        .out_bytes = 65536,
        .connections = 64,
        .header_ms = 3000,
        .body_ms = 3000,
        .idle_ms = 5000,
    };
}

static void on_stall_abort(void *arg)
{
    (void)arg;
    atomic_fetch_add(&E.aborted, 1);
}

static void send_chunked(struct gh_http_req *r, const char *const *parts, size_t n)
{
    static const struct gh_http_header ct[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/plain")}};
    gh_http_resp_start(r, 200, ct, 1, -1);
    for (size_t i = 0; i < n; i++) {
        gh_http_resp_write(r, parts[i], strlen(parts[i]));
        gh_http_resp_flush(r); /* separate chunks on the wire */
    }
    gh_http_resp_end(r);
}

static void handler(struct gh_http_req *r, void *ctx)
{
    struct env *e = ctx;
    const struct gh_http_request_head *h = gh_http_req_head(r);
    atomic_fetch_add(&e->handled, 1);
    if (gh_slice_eq_cstr(h->path, "/echo")) {
        char buf[2048];
        struct gh_slice body = gh_http_req_body(r), x = gh_http_req_header(r, "X-Test");
        int n = snprintf(buf, sizeof(buf), "%.*s %.*s %.*s x=%.*s|%.*s", (int)h->method_str.len,
                         h->method_str.ptr, (int)h->path.len, h->path.ptr, (int)h->query.len,
                         h->query.ptr ? h->query.ptr : "", (int)x.len, x.ptr ? x.ptr : "",
                         (int)body.len, body.ptr ? body.ptr : "");
        gh_http_resp_simple(r, 200, "text/plain", buf, (size_t)n, NULL, 0);
    } else if (gh_slice_eq_cstr(h->path, "/chunked")) {
        static const char *const parts[] = {"hello ", "chunked ", "world"};
        send_chunked(r, parts, 3);
    } else if (gh_slice_eq_cstr(h->path, "/close")) {
        static const char *const parts[] = {"hello ", "world"};
        gh_http_resp_close_after(r);
        send_chunked(r, parts, 2);
    } else if (gh_slice_eq_cstr(h->path, "/big")) {
        static char big[40000];
        memset(big, 'b', sizeof(big));
        gh_http_resp_start(r, 200, NULL, 0, -1);
        e->big_rc1 = gh_http_resp_write(r, big, sizeof(big));
        e->big_rc2 = gh_http_resp_write(r, big, sizeof(big)); /* 80000 queued > out_bytes */
        gh_http_resp_end(r);
    } else if (gh_slice_eq_cstr(h->path, "/stall") && e->nstalled < MAX_STALLED) {
        e->stalled[e->nstalled++] = r; /* answered at teardown */
        gh_http_req_on_abort(r, on_stall_abort, e);
        atomic_fetch_add(&e->stalls, 1);
        sync_signal(&e->stall_sync);
    } else {
        gh_http_resp_simple(r, 404, "text/plain", "no\n", 3, NULL, 0);
    }
}

static void counting_accept(struct gh_net_worker *w, int fd, const struct gh_net_addr *peer,
                            void *arg)
{
    atomic_fetch_add(&E.accepts, 1);
    gh_http_server_accept(w, fd, peer, arg);
}

static struct gh_http_client_target target_for(uint16_t port, uint64_t first_byte_ms)
{
    static char host[32];
    struct gh_http_client_target t = {
        .tls = NULL,
        .host_header = host,
        .max_idle = 4,
        .header_bytes = 8192,
        .connect_ms = 2000,
        .first_byte_ms = first_byte_ms,
        .stream_idle_ms = 3000,
    };
    snprintf(host, sizeof(host), "127.0.0.1:%u", port);
    assert_int_equal(gh_net_addr_parse(host, &t.addr), GH_OK);
    return t;
}

struct pool_mk {
    struct gh_http_client_target t;
    struct gh_http_pool *out;
};

static void pool_new_task(void *arg)
{
    struct pool_mk *m = arg;
    m->out = gh_http_pool_new(gh_net_worker_current(), &m->t);
}

static void pool_free_task(void *arg)
{
    gh_http_pool_free(arg);
}

static struct gh_http_pool *make_pool(uint16_t port, uint64_t first_byte_ms)
{
    struct pool_mk m = {.t = target_for(port, first_byte_ms)};
    run_on(E.w, pool_new_task, &m);
    return m.out;
}

static void listener_add_task(void *arg)
{
    (void)arg;
    gh_net_listener_add(E.w, E.lfd, counting_accept, E.srv);
}

static void env_start(const struct gh_http_server_limits *lim)
{
    memset(&E, 0, sizeof(E));
    sync_init(&E.stall_sync);
    E.ws = gh_net_workers_new(1);
    E.w = E.ws[0];
    gh_net_workers_start(E.ws, 1, NULL, NULL);
    E.srv = gh_http_server_new(lim, NULL, handler, &E);
    struct gh_net_addr a;
    assert_int_equal(gh_net_addr_parse("127.0.0.1:0", &a), GH_OK);
    assert_int_equal(gh_net_listen_fd(&a, 64, &E.lfd), GH_OK);
    E.port = fd_port(E.lfd);
    run_on(E.w, listener_add_task, NULL);
    E.pool = make_pool(E.port, 3000);
}

static void teardown_task(void *arg)
{
    (void)arg;
    for (int i = 0; i < E.nstalled; i++)
        gh_http_resp_simple(E.stalled[i], 503, "text/plain", "bye\n", 4, NULL, 0);
    E.nstalled = 0;
    if (E.pool)
        gh_http_pool_free(E.pool);
    E.pool = NULL;
}

static void conns_task(void *arg)
{
    *(size_t *)arg = gh_http_server_conns(E.w);
}

/* Ends everything; fails if a server connection is still open after its client went away. */
static void env_stop(void)
{
    if (!E.ws)
        return;
    run_on(E.w, teardown_task, NULL);
    size_t n = 1;
    for (int i = 0; i < 300 && n; i++) {
        run_on(E.w, conns_task, &n);
        if (n)
            sleep_ms(10);
    }
    assert_int_equal(n, 0);
    gh_net_workers_stop(E.ws, 1);
    E.ws = NULL;
    gh_http_server_free(E.srv);
    sync_destroy(&E.stall_sync);
}

/* cmocka teardown: a failed assertion left the environment running */
static int env_teardown(void **state)
{
    (void)state;
    env_stop();
    return 0;
}

/* ------------------------------------------------------------------ client exchanges */

struct xchg {
    struct gh_http_pool *pool;
    const char *method, *target;
    const char *body;
    size_t body_len;
    struct gh_http_header hdrs[2];
    size_t nhdrs;
    bool cancel_in_head;
    const char *capture; /* response header to copy into captured */
    /* results (written on the worker, read after done) */
    struct gh_http_creq *creq;
    int status, heads, dones, body_calls;
    enum gh_rc rc;
    char got[96 * 1024];
    size_t ngot;
    char captured[64];
    bool has_captured;
    uint64_t t0, elapsed;
    struct sync done;
};

static void x_head(void *arg, const struct gh_http_response_head *h)
{
    struct xchg *x = arg;
    x->heads++;
    x->status = h->status;
    if (x->capture) {
        const struct gh_http_header *f = gh_http_header_find(h->headers, h->nheaders, x->capture);
        if (f) {
            x->has_captured = true;
            snprintf(x->captured, sizeof(x->captured), "%.*s", (int)f->value.len, f->value.ptr);
        }
    }
    if (x->cancel_in_head) {
        gh_http_creq_cancel(x->creq);
        sync_signal(&x->done);
    }
}

static void x_body(void *arg, const char *p, size_t n)
{
    struct xchg *x = arg;
    x->body_calls++;
    size_t room = sizeof(x->got) - x->ngot;
    memcpy(x->got + x->ngot, p, GH_MIN(n, room));
    x->ngot += GH_MIN(n, room);
}

static void x_done(void *arg, enum gh_rc rc)
{
    struct xchg *x = arg;
    x->dones++;
    x->rc = rc;
    x->elapsed = gh_clock_ms() - x->t0;
    sync_signal(&x->done);
}

static const struct gh_http_creq_cbs X_CBS = {x_head, x_body, x_done};

static void x_send_task(void *arg)
{
    struct xchg *x = arg;
    x->t0 = gh_clock_ms();
    x->creq = gh_http_client_send(x->pool, x->method, gh_slice_cstr(x->target), x->hdrs, x->nhdrs,
                                  gh_slice(x->body, x->body_len), &X_CBS, x);
}

static void x_cancel_task(void *arg)
{
    struct xchg *x = arg;
    gh_http_creq_cancel(x->creq);
}

static struct xchg *x_new(struct gh_http_pool *pool, const char *method, const char *target,
                          const char *body)
{
    struct xchg *x = gh_xcalloc(1, sizeof(*x));
    x->pool = pool;
    x->method = method;
    x->target = target;
    x->body = body;
    x->body_len = body ? strlen(body) : 0;
    sync_init(&x->done);
    return x;
}

static void x_free(struct xchg *x)
{
    sync_destroy(&x->done);
    free(x);
}

/* Sends and waits for on_done (or a cancel in on_head). */
static void x_run(struct xchg *x)
{
    gh_net_worker_post(E.w, x_send_task, x);
    assert_int_equal(sync_wait(&x->done, 1, 8000), 1);
}

static void assert_body(const struct xchg *x, const char *want)
{
    if (x->ngot != strlen(want) || memcmp(x->got, want, x->ngot) != 0)
        fail_msg("body is \"%.*s\" (%zu bytes), want \"%s\"", (int)GH_MIN(x->ngot, 200), x->got,
                 x->ngot, want);
}

/* ------------------------------------------------------------------ raw sockets */

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_send(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close early after an error answer */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF, cap, or quiet_ms without bytes (whole deadline 5 s). */
static size_t raw_read(int fd, char *out, size_t cap, int quiet_ms)
{
    size_t n = 0;
    uint64_t end = gh_clock_ms() + 5000;
    while (n < cap - 1 && gh_clock_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, quiet_ms) <= 0)
            break;
        ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    return n;
}

static size_t raw_exchange(const char *req, size_t len, char *out, size_t cap)
{
    int fd = raw_connect(E.port);
    raw_send(fd, req, len);
    size_t n = raw_read(fd, out, cap, 3000);
    close(fd);
    return n;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------------ tests: basics */

static void test_echo_post_and_get(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "POST", "/echo?q=1", "hello body");
    x->hdrs[0] = (struct gh_http_header){GH_SLICE_LIT("X-Test"), GH_SLICE_LIT("abc")};
    x->nhdrs = 1;
    x->capture = "Content-Type";
    x_run(x);
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->heads, 1);
    assert_int_equal(x->dones, 1);
    assert_int_equal(x->status, 200);
    assert_true(x->has_captured);
    assert_string_equal(x->captured, "text/plain");
    assert_body(x, "POST /echo q=1 x=abc|hello body");
    x_free(x);

    x = x_new(E.pool, "GET", "/echo", NULL);
    x_run(x);
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->status, 200);
    assert_body(x, "GET /echo  x=|");
    x_free(x);

    x = x_new(E.pool, "GET", "/nowhere", NULL);
    x_run(x);
    assert_int_equal(x->status, 404);
    assert_body(x, "no\n");
    x_free(x);
    assert_int_equal(atomic_load(&E.handled), 3);
    env_stop();
}

static void test_chunked_response_reassembled(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "GET", "/chunked", NULL);
    x->capture = "Transfer-Encoding";
    x_run(x);
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->status, 200);
    assert_true(x->has_captured);
    assert_string_equal(x->captured, "chunked");
    assert_body(x, "hello chunked world");
    assert_true(x->body_calls >= 1);
    x_free(x);
    env_stop();
}

static void test_keepalive_reuses_connection(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    for (int i = 0; i < 3; i++) {
        struct xchg *x = x_new(E.pool, i == 1 ? "GET" : "POST", i == 1 ? "/chunked" : "/echo",
                               i == 1 ? NULL : "k");
        x_run(x);
        assert_int_equal(x->rc, GH_OK);
        assert_int_equal(x->status, 200);
        x_free(x);
    }
    assert_int_equal(atomic_load(&E.handled), 3);
    assert_int_equal(atomic_load(&E.accepts), 1); /* one connection carried all three */
    env_stop();
}

static void test_resp_write_out_bytes_cap(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits(); /* out_bytes 65536 */
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "GET", "/big", NULL);
    x_run(x);
    assert_int_equal(E.big_rc1, GH_OK);
    assert_int_equal(E.big_rc2, GH_E_LIMIT); /* queued bytes would pass out_bytes */
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->ngot, 40000); /* the first write only */
    x_free(x);
    env_stop();
}

/* ------------------------------------------------------------------ tests: limits */

static void test_body_over_limit_413(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits(); /* body_bytes 1024 */
    env_start(&lim);
    char *big = gh_xmalloc(2001);
    memset(big, 'z', 2000);
    big[2000] = '\0';
    struct xchg *x = x_new(E.pool, "POST", "/echo", big);
    x_run(x);
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->status, 413);
    x_free(x);

    /* exactly at the cap is accepted */
    big[1024] = '\0';
    x = x_new(E.pool, "POST", "/echo", big);
    x_run(x);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->ngot, strlen("POST /echo  x=|") + 1024);
    x_free(x);
    free(big);

    /* a chunked body is capped as it arrives (no Content-Length to check up front) */
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "400\r\n%01024d\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
                     0);
    char out[4096];
    raw_exchange(req, (size_t)n, out, sizeof(out));
    if (!starts_with(out, "HTTP/1.1 413 "))
        fail_msg("chunked over the cap answered: %.60s", out);
    assert_int_equal(atomic_load(&E.handled), 1); /* only the request at the cap */
    env_stop();
}

static void test_head_over_limit_431(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits(); /* header_bytes 4096, 20 fields */
    env_start(&lim);
    char req[8192], out[4096];
    int n =
        snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nHost: a\r\nX-Big: %05000d\r\n\r\n", 0);
    raw_exchange(req, (size_t)n, out, sizeof(out));
    if (!starts_with(out, "HTTP/1.1 431 "))
        fail_msg("oversized head answered: %.60s", out);
    assert_non_null(strstr(out, "Connection: close\r\n"));

    /* too many fields is 431 too */
    size_t len = (size_t)snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 25; i++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "X-F%d: v\r\n", i);
    len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n");
    raw_exchange(req, len, out, sizeof(out));
    if (!starts_with(out, "HTTP/1.1 431 "))
        fail_msg("too many fields answered: %.60s", out);

    /* a head just under the cap still works */
    n = snprintf(req, sizeof(req),
                 "GET /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                 "X-Big: %03000d\r\n\r\n",
                 0);
    raw_exchange(req, (size_t)n, out, sizeof(out));
    if (!starts_with(out, "HTTP/1.1 200 "))
        fail_msg("head under the cap answered: %.60s", out);
    assert_int_equal(atomic_load(&E.handled), 1);
    env_stop();
}

static void test_header_timeout_408(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    lim.header_ms = 150;
    env_start(&lim);
    int fd = raw_connect(E.port);
    raw_send(fd, "GET /echo HTTP/1.1\r\nHost: a\r\n", 29); /* and never the blank line */
    uint64_t t0 = gh_clock_ms();
    char out[1024];
    raw_read(fd, out, sizeof(out), 3000);
    uint64_t took = gh_clock_ms() - t0;
    close(fd);
    if (!starts_with(out, "HTTP/1.1 408 "))
        fail_msg("slow head answered: %.60s", out);
    assert_true(took >= 100 && took < 2500);
    assert_int_equal(atomic_load(&E.handled), 0);
    env_stop();
}

static void test_connection_limit_503(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    lim.connections = 1;
    env_start(&lim);
    int first = raw_connect(E.port);
    raw_send(first, "GET /echo HTTP/1.1\r\nHost: a\r\n\r\n", 31);
    char out[1024];
    raw_read(first, out, sizeof(out), 300); /* answered and kept alive */
    assert_true(starts_with(out, "HTTP/1.1 200 "));
    int second = raw_connect(E.port);
    raw_read(second, out, sizeof(out), 3000);
    if (!starts_with(out, "HTTP/1.1 503 "))
        fail_msg("connection over the limit answered: %.60s", out);
    close(second);
    close(first);
    env_stop();
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none"
                              "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\ntwo"
                              "GET /echo?3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    char out[4096];
    raw_exchange(req, sizeof(req) - 1, out, sizeof(out));
    const char *a = strstr(out, "POST /echo  x=|one");
    const char *b = strstr(out, "POST /echo  x=|two");
    const char *c = strstr(out, "GET /echo 3 x=|");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_int_equal(atomic_load(&E.handled), 3);
    env_stop();
}

/* Regression (fixed; http/server.c, gh_http_resp_simple / gh_http_resp_start): a response to HEAD
 * carries the body. RFC 9110 §9.3.2: no content in a HEAD response; a keep-alive client then reads
 * the body bytes as the start of the next response. */
static void test_head_response_has_no_body(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    int fd = raw_connect(E.port);
    raw_send(fd, "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n", 32);
    char out[2048];
    size_t n = raw_read(fd, out, sizeof(out), 300);
    close(fd);
    env_stop();
    assert_true(starts_with(out, "HTTP/1.1 200 "));
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    size_t after = n - (size_t)(end + 4 - out);
    if (after != 0)
        fail_msg("HEAD response carried %zu body bytes: \"%s\"", after, end + 4);
}

/* ------------------------------------------------------------------ tests: client failures */

static void test_first_byte_timeout(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    /* a listener whose backlog completes connections that nobody ever reads from */
    int mute = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(mute, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(mute, 8), 0);
    struct gh_http_pool *p = make_pool(fd_port(mute), 200);
    struct xchg *x = x_new(p, "POST", "/mcp", "{}");
    x_run(x);
    assert_int_equal(x->rc, GH_E_TIMEOUT);
    assert_int_equal(x->heads, 0);
    assert_int_equal(x->dones, 1);
    assert_true(x->elapsed >= 190 && x->elapsed < 2000);
    x_free(x);
    run_on(E.w, pool_free_task, p);
    close(mute);
    env_stop();
}

/* A peer that never completes the handshake: a listener that never accepts, its backlog already
 * full, so Linux drops further SYNs. The exchange ends at connect_ms, well before first_byte_ms. */
static void test_connect_timeout(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    int hole = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(hole, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(hole, 0), 0);
    uint16_t port = fd_port(hole);
    int fill[4];
    sa.sin_port = htons(port);
    for (size_t i = 0; i < GH_ARRAY_LEN(fill); i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&sa, sizeof(sa)); /* EINPROGRESS or queued */
    }
    struct pool_mk m = {.t = target_for(port, 5000)};
    m.t.connect_ms = 300;
    run_on(E.w, pool_new_task, &m);
    struct xchg *x = x_new(m.out, "POST", "/mcp", "{}");
    x_run(x);
    assert_int_equal(x->rc, GH_E_TIMEOUT);
    assert_int_equal(x->heads, 0);
    assert_int_equal(x->dones, 1);
    if (x->elapsed < 290 || x->elapsed >= 4000)
        fail_msg("connect timeout after %llu ms, want ~300", (unsigned long long)x->elapsed);
    x_free(x);
    run_on(E.w, pool_free_task, m.out);
    for (size_t i = 0; i < GH_ARRAY_LEN(fill); i++)
        close(fill[i]);
    close(hole);
    env_stop();
}

static void test_connect_refused(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    uint16_t port = fd_port(fd);
    close(fd); /* nothing listens there now */
    struct gh_http_pool *p = make_pool(port, 1000);
    struct xchg *x = x_new(p, "GET", "/", NULL);
    x_run(x);
    assert_int_not_equal(x->rc, GH_OK);
    assert_int_equal(x->heads, 0);
    assert_int_equal(x->dones, 1);
    sleep_ms(50);
    assert_int_equal(x->dones, 1); /* exactly once */
    x_free(x);
    run_on(E.w, pool_free_task, p);
    env_stop();
}

static void test_cancel_stops_callbacks(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "POST", "/stall", "s");
    gh_net_worker_post(E.w, x_send_task, x);
    assert_int_equal(sync_wait(&E.stall_sync, 1, 5000), 1); /* the server holds it */
    run_on(E.w, x_cancel_task, x);
    /* the server notices the client went away, and an answer now reaches nobody */
    for (int i = 0; i < 200 && atomic_load(&E.aborted) == 0; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&E.aborted), 1);
    run_on(E.w, teardown_task, NULL); /* answers the stalled request (into the void) */
    sleep_ms(100);
    assert_int_equal(x->heads, 0);
    assert_int_equal(x->dones, 0);
    assert_int_equal(x->ngot, 0);
    x_free(x);
    env_stop();
}

static void test_cancel_inside_on_head(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "GET", "/chunked", NULL);
    x->cancel_in_head = true;
    x_run(x);
    sleep_ms(100);
    assert_int_equal(x->heads, 1);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->body_calls, 0);
    assert_int_equal(x->dones, 0);
    x_free(x);
    /* the pool still works: the cancelled connection is not reused */
    x = x_new(E.pool, "GET", "/echo", NULL);
    x_run(x);
    assert_int_equal(x->rc, GH_OK);
    assert_int_equal(x->status, 200);
    x_free(x);
    assert_int_equal(atomic_load(&E.accepts), 2);
    env_stop();
}

/* Regression (fixed; http/client.c, creq_head): "Connection: close" on a chunked response sets
 * close_delimited, and creq_body then hands the raw chunk framing to on_body instead of
 * de-chunking it ("6\r\nhello \r\n..."). Our own server sends exactly this when draining. */
static void test_chunked_with_connection_close(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct xchg *x = x_new(E.pool, "GET", "/close", NULL);
    x->capture = "Connection";
    x_run(x);
    env_stop();
    struct xchg r = *x; /* judge after cleanup so a failure leaves nothing running */
    x_free(x);
    assert_int_equal(r.status, 200);
    assert_true(r.has_captured);
    assert_string_equal(r.captured, "close");
    assert_int_equal(r.rc, GH_OK);
    assert_body(&r, "hello world");
}

/* Regression (was a bug in http/client.c creq_finish, fixed in ca9b3e9): a first-byte timeout on
 * a reused keep-alive connection was "retried" on a fresh connection. The upstream did receive the
 * request (it is just slow), so a POST (a tools/call) is executed twice and the caller waits twice
 * first_byte_ms. The retry is meant only for a reused connection the upstream closed (GH_E_CLOSED /
 * GH_E_IO before any byte).
 */
static void test_first_byte_timeout_not_retried(void **state)
{
    (void)state;
    struct gh_http_server_limits lim = default_limits();
    env_start(&lim);
    struct gh_http_pool *p = make_pool(E.port, 300);
    struct xchg *x = x_new(p, "POST", "/echo", "warm");
    x_run(x);
    assert_int_equal(x->status, 200);
    x_free(x);
    x = x_new(p, "POST", "/stall", "slow"); /* goes out on the idle connection */
    x_run(x);
    sleep_ms(100);
    enum gh_rc rc = x->rc;
    int heads = x->heads, stalls = atomic_load(&E.stalls), accepts = atomic_load(&E.accepts);
    uint64_t elapsed = x->elapsed;
    x_free(x);
    run_on(E.w, pool_free_task, p);
    env_stop();
    assert_int_equal(rc, GH_E_TIMEOUT);
    assert_int_equal(heads, 0);
    assert_int_equal(stalls, 1); /* delivered once, not twice */
    assert_int_equal(accepts, 1);
    assert_true(elapsed < 550);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_echo_post_and_get, env_teardown),
        cmocka_unit_test_teardown(test_chunked_response_reassembled, env_teardown),
        cmocka_unit_test_teardown(test_keepalive_reuses_connection, env_teardown),
        cmocka_unit_test_teardown(test_resp_write_out_bytes_cap, env_teardown),
        cmocka_unit_test_teardown(test_body_over_limit_413, env_teardown),
        cmocka_unit_test_teardown(test_head_over_limit_431, env_teardown),
        cmocka_unit_test_teardown(test_header_timeout_408, env_teardown),
        cmocka_unit_test_teardown(test_connection_limit_503, env_teardown),
        cmocka_unit_test_teardown(test_pipelined_requests_answered_in_order, env_teardown),
        cmocka_unit_test_teardown(test_head_response_has_no_body, env_teardown),
        cmocka_unit_test_teardown(test_first_byte_timeout, env_teardown),
        cmocka_unit_test_teardown(test_connect_refused, env_teardown),
        cmocka_unit_test_teardown(test_connect_timeout, env_teardown),
        cmocka_unit_test_teardown(test_cancel_stops_callbacks, env_teardown),
        cmocka_unit_test_teardown(test_cancel_inside_on_head, env_teardown),
        cmocka_unit_test_teardown(test_chunked_with_connection_close, env_teardown),
        cmocka_unit_test_teardown(test_first_byte_timeout_not_retried, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
