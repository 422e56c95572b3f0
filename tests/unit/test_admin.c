/*
 * Unit tests for admin/: /healthz and /readyz answered by gh_admin_handle on a real gh_http_req,
 * served by one worker on 127.0.0.1 and asked over raw sockets from the test thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "admin/admin.h"
#include "http/http.h"
#include "net/net.h"
#include "config/config.h"
#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ the server */

struct sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
};

static void sync_signal(struct sync *s)
{
    pthread_mutex_lock(&s->mu);
    s->count++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void run_task(void *arg)
{
    void **a = arg;
    ((void (*)(void *))a[0])(a[1]);
    sync_signal(a[2]);
}

/* Runs fn(arg) on w and waits (5 s at most). */
static void run_on(struct gh_net_worker *w, void (*fn)(void *), void *arg)
{
    struct sync s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    void *a[3] = {(void *)fn, arg, &s};
    gh_net_worker_post(w, run_task, a);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&s.mu);
    while (s.count == 0 && pthread_cond_timedwait(&s.cv, &s.mu, &dl) == 0)
        ;
    int done = s.count;
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(done, 1);
}

static struct {
    struct gh_net_worker **ws;
    struct gh_http_server *srv;
    int lfd;
    uint16_t port;
    struct gh_admin_state st;
    int not_admin; /* requests gh_admin_handle left alone (worker only) */
} E;

static void handler(struct gh_http_req *r, void *ctx)
{
    (void)ctx;
    if (gh_admin_handle(&E.st, r))
        return;
    E.not_admin++;
    gh_http_resp_simple(r, 418, "text/plain", "not admin", 9, NULL, 0);
}

static void listener_add(void *arg)
{
    (void)arg;
    gh_net_listener_add(E.ws[0], E.lfd, gh_http_server_accept, E.srv);
}

static void conns_task(void *arg)
{
    *(size_t *)arg = gh_http_server_conns(E.ws[0]);
}

static int setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof(E));
    E.st.version = "9.8.7-test";
    atomic_store(&E.st.ready, false);
    atomic_store(&E.st.draining, false);
    struct gh_http_server_limits lim = {
        .header_bytes = 4096,
        .headers_count = 32,
        .body_bytes = 1024,
        .out_bytes = 65536,
        .connections = 16,
        .header_ms = 3000,
        .body_ms = 3000,
        .idle_ms = 3000,
    };
    E.ws = gh_net_workers_new(1);
    gh_net_workers_start(E.ws, 1, NULL, NULL);
    E.srv = gh_http_server_new(&lim, NULL, handler, NULL);
    struct gh_net_addr a;
    assert_int_equal(gh_net_addr_parse("127.0.0.1:0", &a), GH_OK);
    assert_int_equal(gh_net_listen_fd(&a, 16, &E.lfd), GH_OK);
    struct sockaddr_in sa;
    socklen_t l = sizeof(sa);
    getsockname(E.lfd, (struct sockaddr *)&sa, &l);
    E.port = ntohs(sa.sin_port);
    run_on(E.ws[0], listener_add, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    size_t n = 1;
    for (int i = 0; i < 300 && n; i++) {
        run_on(E.ws[0], conns_task, &n);
        if (n) {
            struct timespec ts = {0, 10000000L};
            nanosleep(&ts, NULL);
        }
    }
    gh_net_workers_stop(E.ws, 1);
    gh_http_server_free(E.srv);
    return n == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ raw HTTP */

struct resp {
    int status;
    char head[2048]; /* status line and fields, CRLFs kept */
    char body[1024];
    size_t body_len;
};

/* Sends "METHOD path" with Connection: close and reads the whole answer. */
static struct resp ask(const char *method, const char *path)
{
    char req[512], buf[4096];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", method,
                     path, strcmp(method, "POST") == 0 ? "Content-Length: 2\r\n" : "");
    if (strcmp(method, "POST") == 0)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "{}");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(E.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 3000) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    struct resp out = {0};
    const char *end = strstr(buf, "\r\n\r\n");
    assert_non_null(end);
    snprintf(out.head, sizeof(out.head), "%.*s", (int)(end + 2 - buf), buf);
    out.body_len = got - (size_t)(end + 4 - buf);
    memcpy(out.body, end + 4, GH_MIN(out.body_len, sizeof(out.body) - 1));
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d ", &out.status), 1);
    return out;
}

static void assert_field(const struct resp *r, const char *field)
{
    if (!strstr(r->head, field))
        fail_msg("missing \"%s\" in:\n%s", field, r->head);
}

/* Checks a JSON answer: status, exact body, framing and cache headers. */
static void expect_json(const char *method, const char *path, int status, const char *body)
{
    struct resp r = ask(method, path);
    assert_int_equal(r.status, status);
    assert_string_equal(r.body, body);
    assert_int_equal(r.body_len, strlen(body));
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
    assert_field(&r, cl);
    assert_field(&r, "\r\nContent-Type: application/json\r\n");
    assert_field(&r, "\r\nCache-Control: no-store\r\n");
}

/* ------------------------------------------------------------------ tests */

static void test_healthz(void **state)
{
    (void)state;
    expect_json("GET", "/healthz", 200, "{\"status\":\"ok\",\"version\":\"9.8.7-test\"}");
    /* health does not depend on readiness or draining: the process serves */
    atomic_store(&E.st.draining, true);
    expect_json("GET", "/healthz", 200, "{\"status\":\"ok\",\"version\":\"9.8.7-test\"}");
    /* the query is not part of the path */
    expect_json("GET", "/healthz?probe=1", 200, "{\"status\":\"ok\",\"version\":\"9.8.7-test\"}");
}

static void test_readyz_lifecycle(void **state)
{
    (void)state;
    expect_json("GET", "/readyz", 503, "{\"status\":\"starting\"}");
    atomic_store(&E.st.ready, true);
    expect_json("GET", "/readyz", 200, "{\"status\":\"ready\",\"upstreams\":{}}");
    atomic_store(&E.st.draining, true); /* draining wins over ready */
    expect_json("GET", "/readyz", 503, "{\"status\":\"draining\"}");
    atomic_store(&E.st.ready, false);
    expect_json("GET", "/readyz", 503, "{\"status\":\"draining\"}");
}

/* gh_upstream_health_json's text, NUL-terminated (free it). */
static char *health_text(const struct gh_upstream_set *set, bool *all_up)
{
    struct gh_buf out;
    gh_buf_init(&out, 4096);
    gh_upstream_health_json(set, &out, all_up);
    char *s = gh_xstrndup(out.data, out.len);
    gh_buf_release(&out);
    return s;
}

/* /readyz's per-upstream part: a shared stdio child reports its live state, a per-session one
 * is always on-demand, and a started shared child that is not up degrades readiness. */
static void test_upstream_states(void **state)
{
    (void)state;
    static const char YAML[] = "gateway:\n  insecure_no_auth: true\n"
                               "listeners:\n  - address: 127.0.0.1:0\n"
                               "upstreams:\n"
                               "  - name: solo\n    command: /bin/sh\n    path: /solo\n"
                               "  - name: pool\n    command: /bin/sh\n    mode: shared\n"
                               "    path: /pool\n";
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    assert_int_equal(gh_config_load_string("t.yaml", YAML, strlen(YAML), &cfg, &err), GH_OK);
    struct gh_upstream_set *set = NULL;
    char why[256];
    assert_int_equal(gh_upstream_set_new(cfg, &set, why, sizeof(why)), GH_OK);
    const struct gh_upstream *pool = &set->ups[1];
    bool all_up = false;
    char *t = health_text(set, &all_up);
    assert_true(all_up); /* not started yet: its first session starts it */
    assert_non_null(strstr(t, "\"solo\":{\"kind\":\"stdio\",\"state\":\"on-demand\"}"));
    assert_non_null(strstr(t, "\"pool\":{\"kind\":\"stdio\",\"state\":\"on-demand\","
                              "\"mode\":\"shared\",\"restarts\":0}"));

    gh_upstream_health_set_child(set, pool, GH_UPSTREAM_UP, 0);
    free(t);
    t = health_text(set, &all_up);
    assert_true(all_up);
    assert_non_null(strstr(t, "\"pool\":{\"kind\":\"stdio\",\"state\":\"up\""));

    gh_upstream_health_set_child(set, pool, GH_UPSTREAM_RESTARTING, 20000);
    gh_upstream_health_set_child(set, pool, GH_UPSTREAM_RESTARTING, 20000);
    free(t);
    t = health_text(set, &all_up);
    assert_false(all_up);
    assert_non_null(strstr(t, "\"state\":\"restarting\",\"mode\":\"shared\","
                              "\"restarts\":2,\"retry_in_ms\":"));
    assert_non_null(strstr(t, "\"solo\":{\"kind\":\"stdio\",\"state\":\"on-demand\"}"));

    gh_upstream_health_set_child(set, pool, GH_UPSTREAM_DOWN, 0);
    free(t);
    t = health_text(set, &all_up);
    assert_false(all_up);
    assert_non_null(strstr(t, "\"state\":\"down\",\"mode\":\"shared\",\"restarts\":2,"
                              "\"since_ms_ago\":"));
    free(t);
    gh_upstream_set_free(set);
    gh_config_unref(cfg);
}

static void test_head_is_answered(void **state)
{
    (void)state;
    atomic_store(&E.st.ready, true);
    struct resp r = ask("HEAD", "/readyz");
    assert_int_equal(r.status, 200);
    assert_field(&r, "\r\nCache-Control: no-store\r\n");
    /* (the body a HEAD answer must not carry is checked in test_http_io) */
}

static void test_other_methods_405(void **state)
{
    (void)state;
    static const char *const methods[] = {"POST", "DELETE", "PUT", "OPTIONS"};
    static const char *const paths[] = {"/healthz", "/readyz"};
    for (size_t i = 0; i < GH_ARRAY_LEN(methods); i++) {
        for (size_t j = 0; j < GH_ARRAY_LEN(paths); j++) {
            struct resp r = ask(methods[i], paths[j]);
            if (r.status != 405)
                fail_msg("%s %s answered %d", methods[i], paths[j], r.status);
            assert_field(&r, "\r\nAllow: GET, HEAD\r\n");
            assert_string_equal(r.body, "method not allowed\n");
        }
    }
}

static void test_other_paths_not_handled(void **state)
{
    (void)state;
    static const char *const paths[] = {"/",         "/mcp",      "/healthz/", "/HEALTHZ",
                                        "/healthzz", "/readyz/x", "/health",   "//healthz"};
    for (size_t i = 0; i < GH_ARRAY_LEN(paths); i++) {
        struct resp r = ask("GET", paths[i]);
        if (r.status != 418)
            fail_msg("GET %s answered %d, want it left to the caller", paths[i], r.status);
        assert_string_equal(r.body, "not admin");
    }
    /* non-admin requests are left alone whatever the method */
    struct resp r = ask("POST", "/mcp");
    assert_int_equal(r.status, 418);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readyz_lifecycle, setup, teardown),
        cmocka_unit_test(test_upstream_states),
        cmocka_unit_test_setup_teardown(test_head_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_methods_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_paths_not_handled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
