/*
 * Unit tests for net/: address parsing and formatting, worker threads and cross-thread posts,
 * timers, listeners and outbound sockets, all in one process over 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* A flag the worker sets and the test thread waits for, with a deadline so a hang fails. */
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

/* Waits until count >= n or ms pass; returns the count seen. */
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

/* Runs fn(arg) on w and waits for it. */
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

/* A port on 127.0.0.1 with nothing listening (bound once, then released). */
static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    uint16_t p = fd_port(fd);
    close(fd);
    return p;
}

/* ------------------------------------------------------------------ addresses */

static void expect_addr(const char *in, int family, uint16_t port, const char *formatted,
                        bool loopback)
{
    struct gh_net_addr a;
    char buf[64];
    assert_int_equal(gh_net_addr_parse(in, &a), GH_OK);
    assert_int_equal(a.ss.ss_family, family);
    assert_int_equal(a.len,
                     family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    assert_int_equal(gh_net_addr_port(&a), port);
    gh_net_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, formatted);
    assert_int_equal(gh_net_addr_is_loopback(&a), loopback);
}

static void test_addr_parse_good(void **state)
{
    (void)state;
    expect_addr("1.2.3.4:80", AF_INET, 80, "1.2.3.4:80", false);
    expect_addr("127.0.0.1:8080", AF_INET, 8080, "127.0.0.1:8080", true);
    expect_addr("127.200.3.4:1", AF_INET, 1, "127.200.3.4:1", true); /* all of 127/8 */
    expect_addr("128.0.0.1:1", AF_INET, 1, "128.0.0.1:1", false);
    expect_addr("0.0.0.0:0", AF_INET, 0, "0.0.0.0:0", false);
    expect_addr("10.0.0.1:65535", AF_INET, 65535, "10.0.0.1:65535", false);
    expect_addr("localhost:8080", AF_INET, 8080, "127.0.0.1:8080", true);
    expect_addr("[::1]:443", AF_INET6, 443, "[::1]:443", true);
    expect_addr("[::]:9", AF_INET6, 9, "[::]:9", false);
    expect_addr("[2001:db8::1]:8443", AF_INET6, 8443, "[2001:db8::1]:8443", false);
    /* a v4-mapped loopback is not treated as loopback (fail closed) */
    expect_addr("[::ffff:127.0.0.1]:1", AF_INET6, 1, "[::ffff:127.0.0.1]:1", false);
}

static void test_addr_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:80x",
        "1.2.3.4:99999999999999999999",
        ":80",
        "1.2.3:80",
        "1.2.3.256:80",
        "example.com:80", /* names are resolved at load, never parsed here */
        "LOCALHOST.:80",
        "[::1]",
        "[::1]80",
        "[::1:80",
        "[]:80",
        "[::1]:",
        "[::1]:port",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        struct gh_net_addr a;
        if (gh_net_addr_parse(bad[i], &a) != GH_E_PARSE)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* a host longer than any address fits no buffer: refused, not truncated */
    char longhost[400];
    memset(longhost, '1', sizeof(longhost));
    memcpy(longhost + sizeof(longhost) - 4, ":80", 4);
    struct gh_net_addr a;
    assert_int_equal(gh_net_addr_parse(longhost, &a), GH_E_PARSE);
}

static void test_addr_resolve_numeric(void **state)
{
    (void)state;
    struct gh_net_addr a;
    char buf[64];
    assert_int_equal(gh_net_addr_resolve("127.0.0.1", 81, &a), GH_OK);
    gh_net_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "127.0.0.1:81");
    assert_int_equal(gh_net_addr_resolve("::1", 82, &a), GH_OK);
    gh_net_addr_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "[::1]:82");
    assert_true(gh_net_addr_is_loopback(&a));
}

/* ------------------------------------------------------------------ workers */

struct wk_probe {
    struct gh_net_worker *self; /* what gh_net_worker_current() said */
    pthread_t thread;           /* where it ran */
    unsigned id;
    int order[100];
    int norder;
};

static atomic_int init_calls;
static struct gh_net_worker *init_seen[4];

static void on_init(struct gh_net_worker *w, void *ctx)
{
    unsigned id = gh_net_worker_id(w);
    if (ctx == &init_calls && id < 4 && gh_net_worker_current() == w)
        init_seen[id] = w;
    atomic_fetch_add(&init_calls, 1);
}

static void probe_task(void *arg)
{
    struct wk_probe *p = arg;
    p->self = gh_net_worker_current();
    p->thread = pthread_self();
    p->id = gh_net_worker_id(p->self);
}

static void test_worker_post_runs_on_worker(void **state)
{
    (void)state;
    atomic_store(&init_calls, 0);
    memset(init_seen, 0, sizeof(init_seen));
    struct gh_net_worker **ws = gh_net_workers_new(2);
    gh_net_workers_start(ws, 2, on_init, &init_calls);
    assert_null(gh_net_worker_current()); /* the test thread is no worker */
    struct wk_probe p0 = {0}, p1 = {0};
    run_on(ws[0], probe_task, &p0);
    run_on(ws[1], probe_task, &p1);
    assert_ptr_equal(p0.self, ws[0]);
    assert_ptr_equal(p1.self, ws[1]);
    assert_int_equal(p0.id, 0);
    assert_int_equal(p1.id, 1);
    assert_false(pthread_equal(p0.thread, pthread_self()));
    assert_false(pthread_equal(p0.thread, p1.thread));
    assert_int_equal(atomic_load(&init_calls), 2);
    assert_ptr_equal(init_seen[0], ws[0]); /* init ran on the worker's own thread */
    assert_ptr_equal(init_seen[1], ws[1]);
    int x = 7;
    gh_net_worker_set_data(ws[0], &x);
    assert_ptr_equal(gh_net_worker_data(ws[0]), &x);
    assert_null(gh_net_worker_data(ws[1]));
    gh_net_workers_stop(ws, 2);
}

struct order_task {
    struct wk_probe *p;
    int n;
};

static void order_run(void *arg)
{
    struct order_task *t = arg;
    t->p->order[t->p->norder++] = t->n;
}

static void test_worker_posts_keep_order(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct wk_probe p = {0};
    struct order_task t[100];
    for (int i = 0; i < 100; i++) {
        t[i] = (struct order_task){&p, i};
        gh_net_worker_post(ws[0], order_run, &t[i]);
    }
    /* stop queues its exit behind these tasks: all run before the thread is joined */
    gh_net_workers_stop(ws, 1);
    assert_int_equal(p.norder, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p.order[i], i);
}

static atomic_int slow_done;

static void slow_task(void *arg)
{
    (void)arg;
    sleep_ms(2);
    atomic_fetch_add(&slow_done, 1);
}

static void test_workers_stop_joins(void **state)
{
    (void)state;
    atomic_store(&init_calls, 0);
    atomic_store(&slow_done, 0);
    struct gh_net_worker **ws = gh_net_workers_new(3);
    gh_net_workers_start(ws, 3, on_init, &init_calls);
    for (int i = 0; i < 30; i++)
        gh_net_worker_post(ws[i % 3], slow_task, NULL);
    uint64_t t0 = gh_clock_ms();
    gh_net_workers_stop(ws, 3);
    /* joined: every task posted before stop has finished, nothing runs later */
    assert_int_equal(atomic_load(&slow_done), 30);
    assert_int_equal(atomic_load(&init_calls), 3);
    assert_true(gh_clock_ms() - t0 < 3000);
}

/* ------------------------------------------------------------------ timers */

struct tctx {
    struct gh_net_worker *w;
    struct gh_net_timer *t;
    atomic_int fired;
    _Atomic uint64_t fired_at;
    bool on_worker;
};

static void on_tick(void *arg)
{
    struct tctx *c = arg;
    c->on_worker = gh_net_worker_current() == c->w;
    atomic_store(&c->fired_at, gh_clock_ms());
    atomic_fetch_add(&c->fired, 1);
}

static void timer_new_task(void *arg)
{
    struct tctx *c = arg;
    c->t = gh_net_timer_new(c->w, on_tick, c);
}

static void timer_arm20(void *arg)
{
    gh_net_timer_arm(((struct tctx *)arg)->t, 20);
}

static void timer_arm_cancel(void *arg)
{
    struct tctx *c = arg;
    gh_net_timer_arm(c->t, 30);
    gh_net_timer_cancel(c->t);
}

static void timer_rearm(void *arg)
{
    struct tctx *c = arg;
    gh_net_timer_arm(c->t, 3000);
    gh_net_timer_arm(c->t, 10); /* re-arming replaces the deadline */
}

static void timer_free_task(void *arg)
{
    struct tctx *c = arg;
    gh_net_timer_free(c->t);
    c->t = NULL;
}

static void test_timers(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct tctx c = {.w = ws[0]};
    run_on(ws[0], timer_new_task, &c);

    uint64_t t0 = gh_clock_ms();
    run_on(ws[0], timer_arm20, &c);
    sleep_ms(150);
    assert_int_equal(atomic_load(&c.fired), 1); /* once, not periodic */
    assert_true(c.on_worker);
    assert_true(atomic_load(&c.fired_at) - t0 >= 19);

    run_on(ws[0], timer_arm_cancel, &c);
    sleep_ms(120);
    assert_int_equal(atomic_load(&c.fired), 1); /* cancelled: never fires */

    t0 = gh_clock_ms();
    run_on(ws[0], timer_rearm, &c);
    sleep_ms(150);
    assert_int_equal(atomic_load(&c.fired), 2);
    assert_true(atomic_load(&c.fired_at) - t0 < 1000);

    run_on(ws[0], timer_free_task, &c);
    gh_net_timer_free(NULL); /* allowed */
    gh_net_workers_stop(ws, 1);
}

/* ------------------------------------------------------------------ listeners */

struct lctx {
    struct gh_net_worker *w;
    int fd;
    struct sync accepted;
    struct gh_net_addr peer;
    bool on_worker;
    int naccepts;
    ssize_t wrote;
};

static void on_accept(struct gh_net_worker *w, int fd, const struct gh_net_addr *peer, void *arg)
{
    struct lctx *l = arg;
    l->on_worker = w == l->w && gh_net_worker_current() == l->w;
    l->peer = *peer;
    l->naccepts++;
    /* the callback owns fd: answer and close it */
    l->wrote = write(fd, "hi", 2);
    close(fd);
    sync_signal(&l->accepted);
}

static void listener_add_task(void *arg)
{
    struct lctx *l = arg;
    gh_net_listener_add(l->w, l->fd, on_accept, l);
}

static void listeners_close_task(void *arg)
{
    gh_net_listeners_close(((struct lctx *)arg)->w);
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_listener_accepts(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct lctx l = {.w = ws[0]};
    sync_init(&l.accepted);
    struct gh_net_addr a;
    assert_int_equal(gh_net_addr_parse("127.0.0.1:0", &a), GH_OK);
    assert_int_equal(gh_net_listen_fd(&a, 16, &l.fd), GH_OK);
    uint16_t port = fd_port(l.fd);
    assert_true(port != 0);
    run_on(ws[0], listener_add_task, &l);

    for (int i = 0; i < 2; i++) {
        int c = connect_to(port);
        assert_true(c >= 0);
        char buf[8];
        ssize_t n = recv(c, buf, sizeof(buf), MSG_WAITALL);
        assert_int_equal(n, 2); /* "hi", then EOF */
        assert_memory_equal(buf, "hi", 2);
        assert_int_equal(sync_wait(&l.accepted, i + 1, 5000), i + 1);
        assert_true(l.on_worker);
        assert_int_equal(l.wrote, 2);
        assert_true(gh_net_addr_is_loopback(&l.peer));
        assert_int_equal(gh_net_addr_port(&l.peer), fd_port(c)); /* the peer is our socket */
        close(c);
    }
    assert_int_equal(l.naccepts, 2);

    /* a second bind on the same port is allowed (SO_REUSEPORT: one listener per worker) */
    struct gh_net_addr same;
    char hp[32];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", port);
    assert_int_equal(gh_net_addr_parse(hp, &same), GH_OK);
    int fd2;
    assert_int_equal(gh_net_listen_fd(&same, 16, &fd2), GH_OK);
    close(fd2);

    /* after listeners_close the port no longer accepts */
    run_on(ws[0], listeners_close_task, &l);
    assert_int_equal(connect_to(port), -1);
    gh_net_workers_stop(ws, 1);
    sync_destroy(&l.accepted);
}

static void test_listen_fd_errors(void **state)
{
    (void)state;
    struct gh_net_addr a;
    int fd = -1;
    /* 192.0.2.1 (TEST-NET-1) is not a local address: bind fails, no fd leaks out */
    assert_int_equal(gh_net_addr_parse("192.0.2.1:0", &a), GH_OK);
    assert_int_equal(gh_net_listen_fd(&a, 16, &fd), GH_E_IO);
    assert_int_equal(fd, -1);
}

/* ------------------------------------------------------------------ outbound sockets */

struct cctx {
    struct gh_net_worker *w;
    struct gh_net_addr to;
    struct gh_net_sock *s;
    struct sync done;
    enum gh_rc connect_rc, err;
    char got[64];
    size_t ngot;
    bool sent, right_worker;
    ssize_t wrote;
};

static void client_io(struct gh_net_sock *s, int flags, void *arg)
{
    struct cctx *c = arg;
    if (!c->sent && (flags & GH_NET_WRITABLE)) {
        c->err = gh_net_sock_error(s);
        if (c->err != GH_OK) {
            gh_net_sock_close(s);
            c->s = NULL;
            sync_signal(&c->done);
            return;
        }
        c->wrote = gh_net_sock_write(s, "ping", 4);
        c->sent = true;
        gh_net_sock_want(s, true, false, 0);
        return;
    }
    if (flags & GH_NET_READABLE) {
        for (;;) {
            ssize_t n = gh_net_sock_read(s, c->got + c->ngot, sizeof(c->got) - c->ngot);
            if (n == GH_E_AGAIN)
                return;
            if (n <= 0) { /* EOF (GH_E_CLOSED) ends the exchange */
                c->err = (enum gh_rc)n;
                gh_net_sock_close(s);
                c->s = NULL;
                sync_signal(&c->done);
                return;
            }
            c->ngot += (size_t)n;
        }
    }
}

static void connect_task(void *arg)
{
    struct cctx *c = arg;
    c->connect_rc = gh_net_sock_connect(c->w, &c->to, NULL, NULL, client_io, c, &c->s);
    if (c->connect_rc != GH_OK)
        sync_signal(&c->done);
    else
        c->right_worker = gh_net_sock_worker(c->s) == c->w;
}

static void test_sock_connect_exchange(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    struct cctx c = {.w = ws[0]};
    sync_init(&c.done);
    char hp[32];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", fd_port(lfd));
    assert_int_equal(gh_net_addr_parse(hp, &c.to), GH_OK);
    gh_net_worker_post(ws[0], connect_task, &c);

    int s = accept(lfd, NULL, NULL);
    assert_true(s >= 0);
    char buf[4];
    assert_int_equal(recv(s, buf, 4, MSG_WAITALL), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(send(s, "pong", 4, 0), 4);
    shutdown(s, SHUT_WR);
    assert_int_equal(sync_wait(&c.done, 1, 5000), 1);
    assert_int_equal(c.connect_rc, GH_OK);
    assert_true(c.right_worker);
    assert_int_equal(c.wrote, 4);
    assert_int_equal(c.err, GH_E_CLOSED); /* orderly EOF after the bytes */
    assert_int_equal(c.ngot, 4);
    assert_memory_equal(c.got, "pong", 4);
    close(s);
    close(lfd);
    gh_net_workers_stop(ws, 1);
    sync_destroy(&c.done);
}

static void test_sock_connect_refused(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct cctx c = {.w = ws[0]};
    sync_init(&c.done);
    char hp[32];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", closed_port());
    assert_int_equal(gh_net_addr_parse(hp, &c.to), GH_OK);
    gh_net_worker_post(ws[0], connect_task, &c);
    assert_int_equal(sync_wait(&c.done, 1, 5000), 1);
    /* refused either at once or when the connect completes: never a connected socket */
    assert_true(c.connect_rc != GH_OK || c.err == GH_E_IO);
    assert_false(c.sent);
    gh_net_workers_stop(ws, 1);
    sync_destroy(&c.done);
}

/* ------------------------------------------------------------------ socket timeouts */

struct toctx {
    struct gh_net_worker *w;
    int fd;
    struct gh_net_sock *s;
    struct sync done;
    int flags;
    uint64_t t0, elapsed;
};

static void to_io(struct gh_net_sock *s, int flags, void *arg)
{
    struct toctx *c = arg;
    c->flags = flags;
    c->elapsed = gh_clock_ms() - c->t0;
    gh_net_sock_close(s);
    c->s = NULL;
    sync_signal(&c->done);
}

static void to_task(void *arg)
{
    struct toctx *c = arg;
    c->s = gh_net_sock_new(c->w, c->fd, NULL, true, NULL, to_io, c);
    c->t0 = gh_clock_ms();
    gh_net_sock_want(c->s, true, false, 50);
}

static void test_sock_want_timeout(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct toctx c = {.w = ws[0], .fd = sv[0]};
    sync_init(&c.done);
    gh_net_worker_post(ws[0], to_task, &c);
    assert_int_equal(sync_wait(&c.done, 1, 5000), 1);
    assert_int_equal(c.flags, GH_NET_TIMEOUT); /* silence: a timeout, not readable */
    assert_true(c.elapsed >= 45);
    close(sv[1]); /* sv[0] was closed with the socket */
    gh_net_workers_stop(ws, 1);
    sync_destroy(&c.done);
}

static bool in_cidr(const char *cidr, const char *ip)
{
    struct gh_net_cidr c;
    assert_int_equal(gh_net_cidr_parse(cidr, strlen(cidr), &c), GH_OK);
    unsigned char b[16];
    int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(fam, ip, b), 1);
    return gh_net_cidr_contains(&c, fam, b);
}

static void test_cidr(void **state)
{
    (void)state;
    assert_true(in_cidr("10.0.0.0/8", "10.255.1.2"));
    assert_false(in_cidr("10.0.0.0/8", "11.0.0.1"));
    assert_true(in_cidr("127.0.0.2", "127.0.0.2"));
    assert_false(in_cidr("127.0.0.2", "127.0.0.1"));
    assert_true(in_cidr("172.16.0.0/12", "172.31.255.255"));
    assert_false(in_cidr("172.16.0.0/12", "172.32.0.0"));
    assert_true(in_cidr("0.0.0.0/0", "8.8.8.8"));
    assert_false(in_cidr("0.0.0.0/0", "::1")); /* families never mix */
    assert_true(in_cidr("fd00::/8", "fd12::1"));
    assert_false(in_cidr("fd00::/8", "fe80::1"));
    assert_true(in_cidr("::1", "::1"));
    struct gh_net_cidr c;
    static const char *const bad[] = {"",
                                      "/8",
                                      "10.0.0.0/33",
                                      "::/129",
                                      "10.0.0.0/",
                                      "10.0.0.0/-1",
                                      "10.0.0.0/8x",
                                      "10.0.0",
                                      "host.example",
                                      "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gh_net_cidr_parse(bad[i], strlen(bad[i]), &c), GH_E_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_parse_good),
        cmocka_unit_test(test_addr_parse_bad),
        cmocka_unit_test(test_addr_resolve_numeric),
        cmocka_unit_test(test_worker_post_runs_on_worker),
        cmocka_unit_test(test_worker_posts_keep_order),
        cmocka_unit_test(test_workers_stop_joins),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_listener_accepts),
        cmocka_unit_test(test_listen_fd_errors),
        cmocka_unit_test(test_sock_connect_exchange),
        cmocka_unit_test(test_sock_connect_refused),
        cmocka_unit_test(test_sock_want_timeout),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
