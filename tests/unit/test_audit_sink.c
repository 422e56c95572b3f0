/*
 * Unit tests for audit/sink.c: configuration errors; a syslog sink against an in-test TCP
 * listener (octet counting, the RFC 5424 header, a listener that starts late gets the backlog,
 * the cursor carries across stop/start without loss or duplicate, a rotated file is drained
 * before the new one); an OTLP sink against an in-test HTTP listener (a 503 is retried).
 * Audit files are written by hand per src/audit/FORMAT.md: the sinks do not verify the chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "audit/internal.h"
#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gh-sink-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Appends records from..to (deny for even seq) to file f; partial: a torn line after them. */
static void records(const char *file, int from, int to, bool partial)
{
    FILE *f = fopen(file, "a");
    assert_non_null(f);
    for (int i = from; i <= to; i++)
        fprintf(f,
                "{\"v\":1,\"seq\":%d,\"time\":\"2026-12-05T08:20:00.%06dZ\",\"type\":\"request."
                "decision\",\"prev\":\"%064d\",\"gateway\":\"0123456789abcdef\",\"rid\":"
                "\"00000000000000%02d\",\"trace\":{\"trace_id\":"
                "\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"},"
                "\"decision\":{\"effect\":\"%s\",\"rule\":\"r\",\"policy\":\"p\",\"reason\":"
                "\"caf\xc3\xa9\"}}\n",
                i, i, 0, i % 100, i % 2 ? "allow" : "deny");
    if (partial)
        fprintf(f, "{\"v\":1,\"seq\":%d,\"time\":\"2026", to + 1);
    fclose(f);
}

static enum gh_rc compile(const char *sinks_yaml, struct gh_audit_sinks **out,
                          struct gh_config_error *err)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), "audit:\n  path: %s\n  sinks:\n%s", path, sinks_yaml);
    struct gh_config *cfg = NULL;
    if (gh_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, err) != GH_OK)
        fail_msg("config: %s", err->msg);
    enum gh_rc rc =
        gh_audit__sinks_compile(gh_config_node_get(cfg->audit, "sinks"), path, out, err);
    gh_config_unref(cfg);
    return rc;
}

static struct gh_audit_sinks *start(const char *sinks_yaml)
{
    struct gh_audit_sinks *s = NULL;
    struct gh_config_error err = {0};
    if (compile(sinks_yaml, &s, &err) != GH_OK)
        fail_msg("sinks: %d:%d %s", err.line, err.column, err.msg);
    gh_audit__sinks_start(s);
    return s;
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"    - address: 127.0.0.1:1\n", "needs type"},
        {"    - type: kafka\n", "expected syslog or otlp"},
        {"    - type: syslog\n", "needs address"},
        {"    - type: syslog\n      address: 127.0.0.1\n", "port is required"},
        {"    - type: syslog\n      address: 127.0.0.1:70000\n", "port number"},
        {"    - type: syslog\n      address: 127.0.0.1:514\n      tls: maybe\n", "true or false"},
        {"    - type: syslog\n      address: 127.0.0.1:514\n      app_name: a b\n", "printable"},
        {"    - type: syslog\n      address: 127.0.0.1:514\n      colour: red\n", "unknown key"},
        {"    - type: syslog\n      address: 127.0.0.1:514\n      ca: file:/x\n", "tls: true"},
        {"    - type: syslog\n      address: 127.0.0.1:514\n      tls: true\n      ca: "
         "file:/nonexistent.pem\n",
         "CA file"},
        {"    - type: otlp\n", "needs url"},
        {"    - type: otlp\n      url: ftp://x/v1/logs\n", "http://"},
        {"    - type: otlp\n      url: http://127.0.0.1:4318/v1/logs\n      batch: 0\n",
         "1..10000"},
        {"    - type: otlp\n      url: http://no.such.host.invalid:4318/v1/logs\n", "resolve"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        struct gh_audit_sinks *s = NULL;
        struct gh_config_error err = {0};
        assert_int_equal(compile(cases[i].yaml, &s, &err), GH_E_PARSE);
        assert_null(s);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: %s", i, err.msg);
        assert_true(err.line > 0);
    }
    /* not a sequence */
    struct gh_audit_sinks *s = NULL;
    struct gh_config_error err = {0};
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "audit:\n  path: %s\n  sinks: syslog\n", path);
    struct gh_config *cfg = NULL;
    assert_int_equal(gh_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err), GH_OK);
    assert_int_equal(
        gh_audit__sinks_compile(gh_config_node_get(cfg->audit, "sinks"), path, &s, &err),
        GH_E_PARSE);
    gh_config_unref(cfg);
}

/* ---- an in-test listener: syslog frames or HTTP requests ---- */

#define MSGS_MAX 256

struct listener {
    int fd, port;
    bool http;
    int fail_first; /* HTTP: answer this many requests with 503 */
    pthread_t thread;
    pthread_mutex_t mu;
    char *msgs[MSGS_MAX]; /* syslog: one message each; HTTP: one body each */
    int n, requests;
    bool bad_frame;
};

static bool read_full(int fd, char *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static void add_msg(struct listener *l, char *m)
{
    pthread_mutex_lock(&l->mu);
    if (l->n < MSGS_MAX)
        l->msgs[l->n++] = m;
    else
        free(m);
    pthread_mutex_unlock(&l->mu);
}

static void serve_syslog(struct listener *l, int c)
{
    for (;;) {
        char num[16];
        size_t k = 0;
        for (;;) {
            if (k == sizeof(num) - 1 || read(c, num + k, 1) != 1)
                return;
            if (num[k] == ' ')
                break;
            if (num[k] < '0' || num[k] > '9') {
                l->bad_frame = true;
                return;
            }
            k++;
        }
        num[k] = '\0';
        size_t len = strtoul(num, NULL, 10);
        char *m = malloc(len + 1);
        if (!read_full(c, m, len)) {
            free(m);
            return;
        }
        m[len] = '\0';
        add_msg(l, m);
    }
}

static void serve_http(struct listener *l, int c)
{
    for (;;) {
        char head[8192];
        size_t n = 0;
        while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
            if (n == sizeof(head) - 1 || read(c, head + n, 1) != 1)
                return;
            n++;
        }
        head[n] = '\0';
        char *cl = strcasestr(head, "content-length:");
        size_t len = cl ? strtoul(cl + 15, NULL, 10) : 0;
        char *body = malloc(len + 1);
        if (!read_full(c, body, len)) {
            free(body);
            return;
        }
        body[len] = '\0';
        pthread_mutex_lock(&l->mu);
        bool fail = l->requests++ < l->fail_first;
        pthread_mutex_unlock(&l->mu);
        const char *ans = fail ? "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"
                               : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 2\r\n\r\n{}";
        if (fail || strncmp(head, "POST /v1/logs HTTP/1.1\r\n", 24) != 0)
            free(body);
        else
            add_msg(l, body);
        if (write(c, ans, strlen(ans)) < 0)
            return;
    }
}

static void *listen_loop(void *arg)
{
    struct listener *l = arg;
    for (;;) {
        int c = accept(l->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        if (l->http)
            serve_http(l, c);
        else
            serve_syslog(l, c);
        close(c);
    }
}

/* Listens on port (0: any) of 127.0.0.1. */
static struct listener *listener_start(int port, bool http)
{
    struct listener *l = calloc(1, sizeof(*l));
    l->http = http;
    pthread_mutex_init(&l->mu, NULL);
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l->fd, 8), 0);
    socklen_t al = sizeof(a);
    getsockname(l->fd, (struct sockaddr *)&a, &al);
    l->port = ntohs(a.sin_port);
    pthread_create(&l->thread, NULL, listen_loop, l);
    return l;
}

static void listener_stop(struct listener *l)
{
    shutdown(l->fd, SHUT_RDWR);
    close(l->fd);
    pthread_join(l->thread, NULL);
    for (int i = 0; i < l->n; i++)
        free(l->msgs[i]);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static int count(struct listener *l)
{
    pthread_mutex_lock(&l->mu);
    int n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* Waits up to 5 s for at least n messages. */
static void wait_for(struct listener *l, int n)
{
    for (int i = 0; i < 500 && count(l) < n; i++)
        usleep(10000);
    if (count(l) < n)
        fail_msg("%d of %d messages arrived", count(l), n);
}

/* A free port now (nothing listens on it until the test says). */
static int free_port(void)
{
    struct listener *l = listener_start(0, false);
    int p = l->port;
    listener_stop(l);
    return p;
}

static char *syslog_yaml(int port)
{
    static char y[256];
    snprintf(y, sizeof(y),
             "    - type: syslog\n      address: 127.0.0.1:%d\n      hostname: host1\n", port);
    return y;
}

/* Checks message i is record seq in the RFC 5424 shape. */
static void check_syslog(const char *m, int seq)
{
    char want[256];
    snprintf(want, sizeof(want), "<%d>1 2026-12-05T08:20:00.%06dZ host1 gatehouse %ld ",
             seq % 2 ? 110 : 109, seq, (long)getpid());
    if (strncmp(m, want, strlen(want)) != 0)
        fail_msg("header: %.80s (want %s)", m, want);
    m += strlen(want);
    assert_memory_equal(m, "request.decision - {\"v\":1,", 26);
    char s[32];
    snprintf(s, sizeof(s), "\"seq\":%d,", seq);
    assert_non_null(strstr(m, s));
    assert_int_equal(m[strlen(m) - 1], '}'); /* the line without its newline */
}

static void test_syslog(void **state)
{
    (void)state;
    struct listener *l = listener_start(0, false);
    records(path, 1, 5, false);
    struct gh_audit_sinks *s = start(syslog_yaml(l->port));
    wait_for(l, 5);
    records(path, 6, 8, true); /* and a torn line: not yet a record */
    wait_for(l, 8);
    usleep(200000);
    gh_audit__sinks_stop(s);
    assert_int_equal(count(l), 8);
    assert_false(l->bad_frame);
    for (int i = 0; i < 8; i++)
        check_syslog(l->msgs[i], i + 1);
    listener_stop(l);
}

static void test_syslog_late_listener_and_cursor(void **state)
{
    (void)state;
    int port = free_port();
    records(path, 1, 10, false);
    struct gh_audit_sinks *s = start(syslog_yaml(port));
    usleep(400000); /* it retries with backoff meanwhile */
    struct listener *l = listener_start(port, false);
    wait_for(l, 10);
    gh_audit__sinks_stop(s);
    listener_stop(l);

    /* stopped: more records come; the next start sends exactly those (the cursor) */
    records(path, 11, 15, false);
    l = listener_start(port, false);
    s = start(syslog_yaml(port));
    wait_for(l, 5);
    usleep(200000);
    gh_audit__sinks_stop(s);
    assert_int_equal(count(l), 5);
    for (int i = 0; i < 5; i++)
        check_syslog(l->msgs[i], 11 + i);
    listener_stop(l);
    char cur[256];
    snprintf(cur, sizeof(cur), "%s.syslog-0.cursor", path);
    assert_int_equal(access(cur, F_OK), 0);
}

static void test_syslog_rotation(void **state)
{
    (void)state;
    struct listener *l = listener_start(0, false);
    records(path, 1, 3, false);
    struct gh_audit_sinks *s = start(syslog_yaml(l->port));
    wait_for(l, 3);
    /* the writer rotates: renames, ends the old file, opens a new one */
    char old[256];
    snprintf(old, sizeof(old), "%s.20261205T082000Z.4", path);
    assert_int_equal(rename(path, old), 0);
    records(old, 4, 4, false);
    records(path, 5, 7, false);
    wait_for(l, 7);
    gh_audit__sinks_stop(s);
    /* stopped; two rotations happen before the next start: all of it, in order */
    char old2[256], old3[256];
    snprintf(old2, sizeof(old2), "%s.20261205T082001Z.8", path);
    snprintf(old3, sizeof(old3), "%s.20261205T082002Z.9", path);
    records(path, 8, 8, false);
    assert_int_equal(rename(path, old2), 0);
    records(path, 9, 9, false);
    assert_int_equal(rename(path, old3), 0);
    records(path, 10, 11, false);
    s = start(syslog_yaml(l->port));
    wait_for(l, 11);
    usleep(200000);
    gh_audit__sinks_stop(s);
    assert_int_equal(count(l), 11);
    for (int i = 0; i < 11; i++)
        check_syslog(l->msgs[i], i + 1);
    listener_stop(l);
}

static int occurrences(const char *h, const char *n)
{
    int k = 0;
    for (const char *p = strstr(h, n); p; p = strstr(p + 1, n))
        k++;
    return k;
}

static void test_otlp(void **state)
{
    (void)state;
    struct listener *l = listener_start(0, true);
    l->fail_first = 1; /* a 503 first: retried, nothing lost */
    records(path, 1, 5, false);
    char y[256];
    snprintf(y, sizeof(y),
             "    - type: otlp\n      url: http://127.0.0.1:%d/v1/logs\n      batch: 2\n", l->port);
    struct gh_audit_sinks *s = start(y);
    wait_for(l, 3); /* 2 + 2 + 1 */
    records(path, 6, 6, false);
    wait_for(l, 4);
    gh_audit__sinks_stop(s);
    assert_true(l->requests >= 5);
    int total = 0;
    for (int i = 0; i < l->n; i++) {
        const char *b = l->msgs[i];
        assert_non_null(strstr(b, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":"
                                  "\"service.name\",\"value\":{\"stringValue\":\"gatehouse\"}}]}"));
        assert_non_null(strstr(b, "\"scope\":{\"name\":\"gatehouse.audit\"}"));
        total += occurrences(b, "\"gatehouse.audit.seq\"");
    }
    assert_int_equal(total, 6);
    /* 2026-12-05T08:20:00.000001Z */
    assert_non_null(strstr(l->msgs[0], "\"timeUnixNano\":\"1796458800000001000\""));
    assert_non_null(
        strstr(l->msgs[0], "{\"key\":\"gatehouse.audit.seq\",\"value\":{\"intValue\":\"1\"}}"));
    assert_non_null(strstr(l->msgs[0], "\"severityNumber\":9,\"severityText\":\"INFO\""));
    assert_non_null(strstr(l->msgs[0], "\"severityNumber\":10,\"severityText\":\"NOTICE\""));
    assert_non_null(strstr(l->msgs[0], "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                                       "\"spanId\":\"00f067aa0ba902b7\""));
    assert_non_null(strstr(l->msgs[0], "\"body\":{\"stringValue\":\"{\\\"v\\\":1,\\\"seq\\\":1,"));
    assert_non_null(strstr(l->msgs[3], "\\\"seq\\\":6,"));
    listener_stop(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syslog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syslog_late_listener_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syslog_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otlp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
