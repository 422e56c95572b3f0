/*
 * Unit tests for mcp/: Accept matching and protocol versions, the session table (ids, route
 * binding, limits, idle sweep), SSE streams (Last-Event-ID lookup, backpressure, SEP-1699
 * resumability, replay to an attached client), and the ingress answers of gh_mcp_handle that
 * need no upstream — all in process, streams and requests on one worker over 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "mcp/internal.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

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

/* Runs fn(arg) on w and waits (5 s at most). Tasks run in post order, so this also waits for
 * everything w was asked to do before. */
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

static void nop(void *arg)
{
    (void)arg;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A gateway over a config built by code; two upstreams when b_url is set. */
static struct gh_mcp_gateway *gw_new(const char *a_url, const char *b_url, uint64_t sessions_total,
                                     uint64_t session_idle_ms)
{
    struct gh_config *cfg = gh_config_new_default();
    cfg->limits.sessions_total = sessions_total;
    cfg->timeouts.session_idle_ms = session_idle_ms;
    assert_int_equal(gh_config_add_upstream(cfg, "a", a_url, NULL), GH_OK);
    if (b_url)
        assert_int_equal(gh_config_add_upstream(cfg, "b", b_url, NULL), GH_OK);
    struct gh_mcp_gateway *gw = NULL;
    char err[256] = "";
    if (gh_mcp_gateway_new(cfg, &gw, err, sizeof(err)) != GH_OK)
        fail_msg("gateway: %s", err);
    gh_config_unref(cfg); /* the gateway holds its own reference */
    return gw;
}

static const struct gh_upstream *route(struct gh_mcp_gateway *gw, size_t i)
{
    assert_true(i < gw->upstreams->n);
    return &gw->upstreams->ups[i];
}

/* ------------------------------------------------------------------ Accept and versions */

static bool acc(const char *accept, const char *type)
{
    return gh_mcp_accepts(gh_slice_cstr(accept), type);
}

static void test_accepts(void **state)
{
    (void)state;
    const char *json = "application/json", *sse = "text/event-stream";
    assert_true(acc("application/json", json));
    assert_false(acc("application/json", sse));
    assert_true(acc("APPLICATION/JSON", json)); /* media types are case-insensitive */
    assert_true(acc("*/*", json));
    assert_true(acc("*/*", sse));
    assert_true(acc("text/*", sse));
    assert_false(acc("text/*", json));
    assert_true(acc("application/*", json));
    assert_false(acc("application/jsonx", json));
    assert_false(acc("application/jso", json));
    assert_false(acc("application", json));
    assert_false(acc("", json));
    assert_false(gh_mcp_accepts((struct gh_slice){NULL, 0}, json)); /* header absent */
    assert_true(acc("application/json, text/event-stream", json));
    assert_true(acc("application/json, text/event-stream", sse));
    assert_true(acc("  application/json  ,   text/event-stream  ", sse));
    assert_true(acc("text/html,application/json;charset=utf-8", json));
    assert_true(acc("application/json;q=0.5", json));
    assert_true(acc("application/json; q=1", json));
    assert_false(acc("application/json;q=0", json));
    assert_false(acc("application/json; q=0", json));
    assert_false(acc("text/event-stream;q=0, application/json", sse));
    assert_true(acc("text/event-stream;q=0, application/json", json));
    assert_true(acc("application/json;q=0, */*", json)); /* a wildcard later still admits it */
    assert_false(acc("text/*;q=0", sse));
    assert_false(acc(",,,", json));
}

/* Regression (fixed; mcp/ingress.c, gh_mcp_accepts): "q=0" is found with memmem and excused when
 * followed by
 * ".", so q=0.0 and q=0.000 (which RFC 9110 §12.4.2 defines as zero: "not acceptable") count as
 * acceptable, and "Q=0" (parameter names are case-insensitive) is not seen at all. */
static void test_accepts_zero_q_forms(void **state)
{
    (void)state;
    assert_false(acc("text/event-stream;q=0.0", "text/event-stream"));
    assert_false(acc("text/event-stream;q=0.000", "text/event-stream"));
    assert_false(acc("text/event-stream;Q=0", "text/event-stream"));
    assert_true(acc("text/event-stream;q=0.001", "text/event-stream"));
}

static void test_versions(void **state)
{
    (void)state;
    assert_string_equal(GH_MCP_VERSIONS[0], "2025-11-25"); /* newest first */
    assert_string_equal(GH_MCP_VERSIONS[1], "2025-06-18");
    assert_string_equal(GH_MCP_VERSIONS[2], "2025-03-26");
    assert_null(GH_MCP_VERSIONS[3]);
    assert_true(gh_mcp_version_known(GH_SLICE_LIT("2025-11-25")));
    assert_true(gh_mcp_version_known(GH_SLICE_LIT("2025-06-18")));
    assert_true(gh_mcp_version_known(GH_SLICE_LIT("2025-03-26")));
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("2024-11-05"))); /* HTTP+SSE era: not spoken */
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("2026-07-28")));
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("")));
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("2025-11-2")));
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("2025-11-25 ")));
    assert_false(gh_mcp_version_known(GH_SLICE_LIT("2025-11-250")));
    assert_false(gh_mcp_version_known(gh_slice("2025-11-25", 9)));
}

/* ------------------------------------------------------------------ sessions */

static bool is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

static void test_session_create_find_close(void **state)
{
    (void)state;
    struct gh_mcp_gateway *gw =
        gw_new("http://127.0.0.1:9/mcp", "http://127.0.0.1:9/x", 100, 60000);
    const struct gh_upstream *ra = route(gw, 0), *rb = route(gw, 1);
    struct gh_mcp_session *s = gh_mcp_session_create(gw, ra, GH_SLICE_LIT("upstream-7"));
    assert_non_null(s);
    assert_int_equal(strlen(s->id), 43); /* 256 bits, unpadded base64url */
    assert_true(is_b64url(s->id));
    assert_string_equal(s->upstream_id, "upstream-7");
    assert_ptr_equal(s->route, ra);
    assert_string_equal(s->version, "");
    assert_int_equal(gh_mcp_sessions_count(gw), 1);

    struct gh_mcp_session *f = gh_mcp_session_find(gw, gh_slice_cstr(s->id), ra, NULL);
    assert_ptr_equal(f, s);
    gh_mcp_session_unref(gw, f);
    /* another route, a wrong id, a prefix, an extension, an empty id: unknown */
    const char *why = NULL;
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(s->id), rb, &why));
    assert_string_equal(why, "other_route");
    snprintf(gh_mcp_current_principal, sizeof(gh_mcp_current_principal), "%064d", 7);
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(s->id), ra, &why));
    assert_string_equal(why, "other_principal");
    gh_mcp_current_principal[0] = '\0';
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr("no-such-session"), ra, &why));
    assert_null(why);
    char wrong[48];
    strcpy(wrong, s->id);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(wrong), ra, NULL));
    assert_null(gh_mcp_session_find(gw, gh_slice(s->id, 42), ra, NULL));
    char longer[64];
    snprintf(longer, sizeof(longer), "%sA", s->id);
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(longer), ra, NULL));
    char huge[200];
    memset(huge, 'A', sizeof(huge));
    assert_null(gh_mcp_session_find(gw, gh_slice(huge, sizeof(huge)), ra, NULL));
    assert_null(gh_mcp_session_find(gw, gh_slice("", 0), ra, NULL));

    /* a session without an upstream id */
    struct gh_mcp_session *s2 = gh_mcp_session_create(gw, rb, gh_slice(NULL, 0));
    assert_non_null(s2);
    assert_null(s2->upstream_id);
    assert_string_not_equal(s2->id, s->id);
    assert_int_equal(gh_mcp_sessions_count(gw), 2);

    gh_mcp_session_close(gw, s);
    assert_int_equal(gh_mcp_sessions_count(gw), 1);
    assert_true(s->closed);
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(s->id), ra, NULL));
    gh_mcp_session_close(gw, s); /* idempotent */
    assert_int_equal(gh_mcp_sessions_count(gw), 1);
    gh_mcp_session_unref(gw, s);  /* last reference: freed (ASan checks) */
    gh_mcp_session_unref(gw, s2); /* the table still holds s2 */
    assert_int_equal(gh_mcp_sessions_count(gw), 1);
    gh_mcp_gateway_free(gw);
}

static void test_session_set_version(void **state)
{
    (void)state;
    struct gh_mcp_gateway *gw = gw_new("http://127.0.0.1:9/mcp", NULL, 10, 60000);
    struct gh_mcp_session *s = gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0));
    gh_mcp_session_set_version(s, GH_SLICE_LIT("2025-06-18"));
    assert_string_equal(s->version, "2025-06-18");
    gh_mcp_session_set_version(s, GH_SLICE_LIT("1999-01-01")); /* unknown: ignored */
    assert_string_equal(s->version, "2025-06-18");
    gh_mcp_session_set_version(s, GH_SLICE_LIT("2025-06-18-and-a-very-long-tail"));
    assert_string_equal(s->version, "2025-06-18");
    gh_mcp_session_unref(gw, s);
    gh_mcp_gateway_free(gw);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_session_ids_unique_and_total_limit(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct gh_mcp_gateway *gw = gw_new("http://127.0.0.1:9/mcp", NULL, N, 60000);
    struct gh_mcp_session **all = gh_xcalloc(N, sizeof(*all));
    const char **ids = gh_xcalloc(N, sizeof(*ids));
    for (size_t i = 0; i < N; i++) {
        all[i] = gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0));
        assert_non_null(all[i]);
        ids[i] = all[i]->id;
        assert_int_equal(strlen(ids[i]), 43);
    }
    assert_int_equal(gh_mcp_sessions_count(gw), N);
    /* sessions_total reached: refused, and the table is unchanged */
    assert_null(gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0)));
    assert_int_equal(gh_mcp_sessions_count(gw), N);
    qsort(ids, N, sizeof(*ids), cmp_str);
    for (size_t i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate session id %s", ids[i]);
    /* every one is findable; closing one makes room for one more */
    for (size_t i = 0; i < N; i += 997) {
        struct gh_mcp_session *f =
            gh_mcp_session_find(gw, gh_slice_cstr(all[i]->id), route(gw, 0), NULL);
        assert_ptr_equal(f, all[i]);
        gh_mcp_session_unref(gw, f);
    }
    gh_mcp_session_close(gw, all[0]);
    struct gh_mcp_session *extra = gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0));
    assert_non_null(extra);
    assert_null(gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0)));
    gh_mcp_session_unref(gw, extra);
    for (size_t i = 0; i < N; i++)
        gh_mcp_session_unref(gw, all[i]); /* the table frees the rest with the gateway */
    free(ids);
    free(all);
    gh_mcp_gateway_free(gw);
}

static void test_session_small_total_limit(void **state)
{
    (void)state;
    struct gh_mcp_gateway *gw = gw_new("http://127.0.0.1:9/mcp", NULL, 2, 60000);
    struct gh_mcp_session *a = gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0));
    struct gh_mcp_session *b = gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0));
    assert_non_null(a);
    assert_non_null(b);
    assert_null(gh_mcp_session_create(gw, route(gw, 0), gh_slice(NULL, 0)));
    gh_mcp_session_unref(gw, a);
    gh_mcp_session_unref(gw, b);
    gh_mcp_gateway_free(gw);
}

/* Sessions made for a named principal (the gateway-held ones of 2026-07-28 clients): they are
 * that principal's (found only under its key), count against its share, and a refusal says
 * whether the share or the total was reached. */
static void test_session_create_for_principal(void **state)
{
    (void)state;
    struct gh_mcp_gateway *gw = gw_new("http://127.0.0.1:9/mcp", NULL, 3, 60000);
    gw->cfg->limits.sessions_per_principal = 1;
    const struct gh_upstream *ra = route(gw, 0);
    bool per_principal = true;
    struct gh_mcp_session *a =
        gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "alice", &per_principal);
    assert_non_null(a);
    assert_false(per_principal);
    assert_string_equal(a->principal, "alice");
    /* alice's share is used up; bob has his own */
    assert_null(gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "alice", &per_principal));
    assert_true(per_principal);
    struct gh_mcp_session *b =
        gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "bob", &per_principal);
    assert_non_null(b);
    /* the anonymous principal has no share: only the total bounds it */
    struct gh_mcp_session *n =
        gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "", &per_principal);
    assert_non_null(n);
    assert_null(gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "carol", &per_principal));
    assert_false(per_principal); /* sessions_total, not carol's share */
    /* found only by its own principal */
    snprintf(gh_mcp_current_principal, sizeof(gh_mcp_current_principal), "bob");
    const char *why = NULL;
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(a->id), ra, &why));
    assert_string_equal(why, "other_principal");
    snprintf(gh_mcp_current_principal, sizeof(gh_mcp_current_principal), "alice");
    struct gh_mcp_session *f = gh_mcp_session_find(gw, gh_slice_cstr(a->id), ra, NULL);
    assert_ptr_equal(f, a);
    gh_mcp_session_unref(gw, f);
    gh_mcp_current_principal[0] = '\0';
    /* ending alice's session frees her share */
    gh_mcp_session_close(gw, a);
    gh_mcp_session_unref(gw, a);
    struct gh_mcp_session *a2 =
        gh_mcp_session_create_for(gw, ra, gh_slice(NULL, 0), "alice", &per_principal);
    assert_non_null(a2);
    gh_mcp_session_unref(gw, a2);
    gh_mcp_session_unref(gw, b);
    gh_mcp_session_unref(gw, n);
    gh_mcp_gateway_free(gw);
}

static void test_session_sweep_drops_idle(void **state)
{
    (void)state;
    struct gh_mcp_gateway *gw = gw_new("http://127.0.0.1:9/mcp", NULL, 100, 80);
    const struct gh_upstream *ra = route(gw, 0);
    struct gh_mcp_session *old = gh_mcp_session_create(gw, ra, gh_slice(NULL, 0));
    struct gh_mcp_session *used = gh_mcp_session_create(gw, ra, gh_slice(NULL, 0));
    gh_mcp_sessions_sweep(gw); /* nothing idle yet */
    assert_int_equal(gh_mcp_sessions_count(gw), 2);
    sleep_ms(200);
    struct gh_mcp_session *f =
        gh_mcp_session_find(gw, gh_slice_cstr(used->id), ra, NULL); /* touch */
    assert_ptr_equal(f, used);
    gh_mcp_session_unref(gw, f);
    gh_mcp_sessions_sweep(gw);
    assert_int_equal(gh_mcp_sessions_count(gw), 1);
    assert_true(old->closed);
    assert_false(used->closed);
    assert_null(gh_mcp_session_find(gw, gh_slice_cstr(old->id), ra, NULL));
    f = gh_mcp_session_find(gw, gh_slice_cstr(used->id), ra, NULL);
    assert_ptr_equal(f, used);
    gh_mcp_session_unref(gw, f);
    gh_mcp_session_unref(gw, old); /* the sweep dropped the table's reference: freed now */
    gh_mcp_session_unref(gw, used);
    gh_mcp_gateway_free(gw);
}

/* ------------------------------------------------------------------ streams (on a worker) */

struct prod {
    int pause, resume, cancel;
};

static void ctl(void *producer, enum gh_mcp_producer_op op)
{
    struct prod *p = producer;
    if (op == GH_MCP_PRODUCER_PAUSE)
        p->pause++;
    else if (op == GH_MCP_PRODUCER_RESUME)
        p->resume++;
    else if (op == GH_MCP_PRODUCER_CANCEL)
        p->cancel++;
}

static struct gh_sse_event ev(const char *id, const char *data)
{
    struct gh_sse_event e = {.retry = -1, .has_data = true, .data = gh_slice_cstr(data)};
    if (id) {
        e.has_id = true;
        e.id = gh_slice_cstr(id);
    }
    return e;
}

struct sctx {
    struct gh_mcp_gateway *gw;
    struct gh_mcp_session *s;
    struct gh_mcp_stream *st, *st2;
    struct prod prod, prod2;
    /* observations, made on the worker */
    struct gh_mcp_stream *f[8];
    uint64_t seq[8];
    bool resumable_before, resumable_after, resumable_answered;
    char up_id[128];
    uint64_t delivered;
    struct gh_mcp_stream *get_found, *get_found_after;
};

static struct gh_mcp_stream *find(struct sctx *c, const char *lei, uint64_t *seq)
{
    bool trimmed;
    return gh_mcp_stream_find(c->s, gh_slice_cstr(lei), seq, &trimmed);
}

static void stream_lookup_task(void *arg)
{
    struct sctx *c = arg;
    c->st = gh_mcp_stream_new(c->s, false, 1 << 20, ctl, &c->prod);
    struct gh_sse_event e1 =
        ev("up-1", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
    struct gh_sse_event e2 = ev("up-2", "second");
    gh_mcp_stream_append(c->st, &e1);
    gh_mcp_stream_append(c->st, &e2);
    c->f[0] = find(c, "1-0", &c->seq[0]);
    c->f[1] = find(c, "1-2", &c->seq[1]);
    c->f[2] = find(c, "1-3", &c->seq[2]); /* past the last event */
    c->f[3] = find(c, "2-0", &c->seq[3]); /* no such stream */
    c->f[4] = find(c, "1-", &c->seq[4]);
    c->f[5] = find(c, "1-0x", &c->seq[5]);
    c->f[6] = find(c, "garbage", &c->seq[6]);
    c->f[7] = find(c, "", &c->seq[7]);
    for (int i = 0; i < 8; i++)
        if (c->f[i])
            gh_mcp_stream_unref(c->f[i]);
    c->delivered = gh_mcp_stream_delivered(c->st);
    c->resumable_before = gh_mcp_stream_resumable_upstream(c->st, c->up_id, sizeof(c->up_id));
    gh_mcp_stream_finish(c->st, GH_OK); /* upstream closed without answering */
    c->resumable_after = gh_mcp_stream_resumable_upstream(c->st, c->up_id, sizeof(c->up_id));

    /* a POST stream that carried the JSON-RPC response is complete: not resumable */
    c->st2 = gh_mcp_stream_new(c->s, false, 1 << 20, ctl, &c->prod2);
    struct gh_sse_event r = ev("up-9", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    gh_mcp_stream_append(c->st2, &r);
    gh_mcp_stream_finish(c->st2, GH_OK);
    char id[128];
    c->resumable_answered = gh_mcp_stream_resumable_upstream(c->st2, id, sizeof(id));
}

static void session_close_task(void *arg)
{
    struct sctx *c = arg;
    gh_mcp_session_close(c->gw, c->s);
}

static void test_stream_lookup_and_resumable(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct sctx c = {.gw = gw_new("http://127.0.0.1:9/mcp", NULL, 10, 60000)};
    c.s = gh_mcp_session_create(c.gw, route(c.gw, 0), GH_SLICE_LIT("u"));
    run_on(ws[0], stream_lookup_task, &c);
    assert_ptr_equal(c.f[0], c.st);
    assert_int_equal(c.seq[0], 0);
    assert_ptr_equal(c.f[1], c.st);
    assert_int_equal(c.seq[1], 2);
    for (int i = 2; i < 8; i++)
        if (c.f[i])
            fail_msg("Last-Event-ID lookup %d found a stream", i);
    assert_int_equal(c.delivered, 0);
    assert_false(c.resumable_before); /* its producer is still feeding it */
    assert_true(c.resumable_after);
    assert_string_equal(c.up_id, "up-2"); /* resume the upstream from its own last id */
    assert_false(c.resumable_answered);
    assert_int_equal(c.prod.pause + c.prod.resume + c.prod.cancel, 0);
    run_on(ws[0], session_close_task, &c);
    run_on(ws[0], nop, NULL);           /* the stream unrefs posted by the close have run */
    assert_int_equal(c.prod.cancel, 0); /* finished producers are not cancelled */
    gh_mcp_session_unref(c.gw, c.s);
    gh_net_workers_stop(ws, 1);
    gh_mcp_gateway_free(c.gw);
}

/* A lossy stream past its replay cap forgets its oldest events: a Last-Event-ID before them is
 * reported as trimmed (the gateway answers 410), one whose successors are held still resumes. */
static void stream_trimmed_task(void *arg)
{
    struct sctx *c = arg;
    char data[61];
    memset(data, 'd', 60);
    data[60] = '\0';
    c->st = gh_mcp_stream_new(c->s, true, 100, ctl, &c->prod);
    gh_mcp_stream_set_lossy(c->st);
    struct gh_sse_event e = ev(NULL, data);
    for (int i = 0; i < 3; i++)
        gh_mcp_stream_append(c->st, &e); /* ~70 bytes each: only the newest fits in 100 */
    bool trimmed[3];
    c->f[0] = gh_mcp_stream_find(c->s, GH_SLICE_LIT("1-0"), &c->seq[0], &trimmed[0]);
    c->f[1] = gh_mcp_stream_find(c->s, GH_SLICE_LIT("1-2"), &c->seq[1], &trimmed[1]);
    c->f[2] = gh_mcp_stream_find(c->s, GH_SLICE_LIT("7-0"), &c->seq[2], &trimmed[2]);
    for (int i = 0; i < 3; i++) {
        c->seq[4 + i] = trimmed[i];
        if (c->f[i])
            gh_mcp_stream_unref(c->f[i]);
    }
    gh_mcp_stream_finish(c->st, GH_OK);
}

static void test_stream_find_trimmed(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct sctx c = {.gw = gw_new("http://127.0.0.1:9/mcp", NULL, 10, 60000)};
    c.s = gh_mcp_session_create(c.gw, route(c.gw, 0), gh_slice(NULL, 0));
    run_on(ws[0], stream_trimmed_task, &c);
    assert_null(c.f[0]);
    assert_int_equal(c.seq[4], 1); /* events 1 and 2 are gone: trimmed */
    assert_ptr_equal(c.f[1], c.st);
    assert_int_equal(c.seq[5], 0); /* event 3 is held: resumes */
    assert_null(c.f[2]);
    assert_int_equal(c.seq[6], 0); /* no such stream: not a trimmed one */
    gh_mcp_session_close(c.gw, c.s);
    run_on(ws[0], nop, NULL);
    gh_mcp_session_unref(c.gw, c.s);
    gh_net_workers_stop(ws, 1);
    gh_mcp_gateway_free(c.gw);
}

/* limits.concurrent_requests_per_principal's counter: per key, up to the cap, given back. */
static void test_inflight_take_give(void **state)
{
    (void)state;
    uint64_t held = 99;
    assert_true(gh_mcp_inflight_take("p1", 2, &held));
    assert_int_equal(held, 0);
    assert_true(gh_mcp_inflight_take("p1", 2, &held));
    assert_false(gh_mcp_inflight_take("p1", 2, &held)); /* at the cap: nothing taken */
    assert_int_equal(held, 2);
    assert_int_equal(gh_mcp_inflight_of("p1"), 2);
    assert_true(gh_mcp_inflight_take("", 1, &held)); /* the anonymous principal is its own */
    assert_false(gh_mcp_inflight_take("", 1, &held));
    gh_mcp_inflight_give("p1");
    assert_true(gh_mcp_inflight_take("p1", 2, &held));
    gh_mcp_inflight_give("p1");
    gh_mcp_inflight_give("p1");
    gh_mcp_inflight_give("");
    assert_int_equal(gh_mcp_inflight_of("p1"), 0);
    assert_int_equal(gh_mcp_inflight_of(""), 0);
}

static void stream_backpressure_task(void *arg)
{
    struct sctx *c = arg;
    char data[61];
    memset(data, 'd', 60);
    data[60] = '\0';
    c->st = gh_mcp_stream_new(c->s, true, 100, ctl, &c->prod); /* a GET stream, 100 B replay */
    c->get_found = gh_mcp_stream_find_get(c->s, false);
    struct gh_sse_event e = ev(NULL, data);
    gh_mcp_stream_append(c->st, &e); /* ~70 bytes undelivered: under the cap */
    c->seq[0] = (uint64_t)c->prod.pause;
    gh_mcp_stream_append(c->st, &e); /* ~140: over it, nobody reads: pause */
    gh_mcp_stream_append(c->st, &e); /* already paused: no second pause */
    c->seq[1] = (uint64_t)c->prod.pause;
    /* a second stream of the session is numbered after the first */
    c->st2 = gh_mcp_stream_new(c->s, false, 100, ctl, &c->prod2);
    c->f[0] = find(c, "1-0", &c->seq[2]);
    c->f[1] = find(c, "2-0", &c->seq[3]);
    for (int i = 0; i < 2; i++)
        if (c->f[i])
            gh_mcp_stream_unref(c->f[i]);
}

static void stream_finish_task(void *arg)
{
    struct sctx *c = arg;
    gh_mcp_stream_finish(c->st, GH_OK);
    c->get_found_after = gh_mcp_stream_find_get(c->s, false);
    if (c->get_found_after)
        gh_mcp_stream_unref(c->get_found_after);
}

static void test_stream_backpressure_and_cancel(void **state)
{
    (void)state;
    struct gh_net_worker **ws = gh_net_workers_new(1);
    gh_net_workers_start(ws, 1, NULL, NULL);
    struct sctx c = {.gw = gw_new("http://127.0.0.1:9/mcp", NULL, 10, 60000)};
    c.s = gh_mcp_session_create(c.gw, route(c.gw, 0), gh_slice(NULL, 0));
    run_on(ws[0], stream_backpressure_task, &c);
    assert_ptr_equal(c.get_found, c.st); /* an unread, unfinished GET stream */
    gh_mcp_stream_unref(c.get_found);
    assert_int_equal(c.seq[0], 0);
    assert_int_equal(c.seq[1], 1);
    assert_int_equal(c.prod.pause, 1);
    assert_ptr_equal(c.f[0], c.st); /* named by Last-Event-ID "<stream>-<seq>" */
    assert_ptr_equal(c.f[1], c.st2);
    run_on(ws[0], stream_finish_task, &c);
    assert_null(c.get_found_after); /* finished: no longer offered to a GET reconnect */
    /* closing the session cancels the producer that is still feeding st2, once */
    gh_mcp_session_close(c.gw, c.s);
    run_on(ws[0], nop, NULL);
    assert_int_equal(c.prod2.cancel, 1);
    assert_int_equal(c.prod.cancel, 0);
    gh_mcp_session_unref(c.gw, c.s);
    gh_net_workers_stop(ws, 1);
    gh_mcp_gateway_free(c.gw);
}

/* ------------------------------------------------------------------ loopback server */

static struct {
    struct gh_net_worker **ws;
    struct gh_http_server *srv;
    struct gh_mcp_gateway *gw;
    int lfd;
    uint16_t port;
    struct sctx sc; /* for /sse */
} E;

/* /sse attaches the request to E.sc.st from event 1 on, then appends and finishes; everything
 * else goes to gh_mcp_handle. */
static void handler(struct gh_http_req *r, void *ctx)
{
    (void)ctx;
    if (gh_slice_eq_cstr(gh_http_req_head(r)->path, "/sse")) {
        static const struct gh_http_header h[] = {
            {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("text/event-stream")}};
        gh_http_resp_start(r, 200, h, 1, -1);
        gh_http_resp_flush(r);
        gh_mcp_stream_attach(E.sc.st, r, 1);
        struct gh_sse_event e = ev("up-c", "c");
        gh_mcp_stream_append(E.sc.st, &e);
        gh_mcp_stream_finish(E.sc.st, GH_OK);
        return;
    }
    gh_mcp_handle(E.gw, r);
}

static void worker_up(void *arg)
{
    (void)arg;
    gh_mcp_worker_init(E.gw, E.ws[0]);
    gh_net_listener_add(E.ws[0], E.lfd, gh_http_server_accept, E.srv);
}

static void worker_down(void *arg)
{
    (void)arg;
    gh_mcp_worker_fini(E.gw, E.ws[0]);
}

static void conns_task(void *arg)
{
    *(size_t *)arg = gh_http_server_conns(E.ws[0]);
}

static int server_setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof(E));
    char a[64], b[64];
    uint16_t dead = closed_port();
    snprintf(a, sizeof(a), "http://127.0.0.1:%u/mcp", dead);
    snprintf(b, sizeof(b), "http://127.0.0.1:%u/other", dead);
    E.gw = gw_new(a, b, 100, 60000); /* gateway paths /mcp/a and /mcp/b */
    struct gh_http_server_limits lim = {
        .header_bytes = 8192,
        .headers_count = 50,
        .body_bytes = 65536,
        .out_bytes = 1 << 20,
        .connections = 16,
        .header_ms = 3000,
        .body_ms = 3000,
        .idle_ms = 3000,
    };
    E.ws = gh_net_workers_new(1);
    gh_net_workers_start(E.ws, 1, NULL, NULL);
    E.srv = gh_http_server_new(&lim, NULL, handler, NULL);
    struct gh_net_addr addr;
    assert_int_equal(gh_net_addr_parse("127.0.0.1:0", &addr), GH_OK);
    assert_int_equal(gh_net_listen_fd(&addr, 16, &E.lfd), GH_OK);
    struct sockaddr_in sa;
    socklen_t l = sizeof(sa);
    getsockname(E.lfd, (struct sockaddr *)&sa, &l);
    E.port = ntohs(sa.sin_port);
    run_on(E.ws[0], worker_up, NULL);
    return 0;
}

static int server_teardown(void **state)
{
    (void)state;
    size_t n = 1;
    for (int i = 0; i < 300 && n; i++) {
        run_on(E.ws[0], conns_task, &n);
        if (n)
            sleep_ms(10);
    }
    for (int i = 0; i < 300 && gh_mcp_inflight(E.gw); i++)
        sleep_ms(10);
    run_on(E.ws[0], worker_down, NULL);
    gh_net_workers_stop(E.ws, 1);
    gh_http_server_free(E.srv);
    size_t inflight = gh_mcp_inflight(E.gw);
    gh_mcp_gateway_free(E.gw);
    return n == 0 && inflight == 0 ? 0 : -1;
}

struct resp {
    int status;
    char head[4096];
    char body[8192];
    size_t body_len;
};

/* One request with Connection: close; extra holds header lines ("Name: v\r\n..."). A chunked
 * answer is de-chunked. Host defaults to the listener address. */
static struct resp ask(const char *method, const char *path, const char *host, const char *extra,
                       const char *body)
{
    char req[8192], hostbuf[64];
    static char buf[65536];
    if (!host) {
        snprintf(hostbuf, sizeof(hostbuf), "127.0.0.1:%u", E.port);
        host = hostbuf;
    }
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n",
                     method, path, host, extra ? extra : "");
    if (body)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(E.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
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
    if (!end)
        fail_msg("no response head in \"%s\"", buf);
    snprintf(out.head, sizeof(out.head), "%.*s", (int)(end + 2 - buf), buf);
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d ", &out.status), 1);
    const char *p = end + 4;
    size_t left = got - (size_t)(p - buf);
    if (!strstr(out.head, "Transfer-Encoding: chunked")) {
        out.body_len = GH_MIN(left, sizeof(out.body) - 1);
        memcpy(out.body, p, out.body_len);
        return out;
    }
    struct gh_http_chunked ch;
    gh_http_chunked_init(&ch, 1024);
    bool done = false;
    while (left && !done) {
        size_t used = 0;
        struct gh_slice d = {0};
        assert_int_equal(gh_http_chunked_step(&ch, p, left, &used, &d, &done), GH_OK);
        assert_true(out.body_len + d.len < sizeof(out.body));
        if (d.len)
            memcpy(out.body + out.body_len, d.ptr, d.len);
        out.body_len += d.len;
        p += used;
        left -= used;
        if (used == 0 && d.len == 0)
            break;
    }
    assert_true(done); /* the chunked body was terminated */
    return out;
}

static void expect(const struct resp *r, int status, const char *in_body)
{
    if (r->status != status || !strstr(r->body, in_body))
        fail_msg("got %d \"%s\", want %d with \"%s\"", r->status, r->body, status, in_body);
}

static const char *JSON_BOTH = "Content-Type: application/json\r\n"
                               "Accept: application/json, text/event-stream\r\n";
static const char *LIST = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}";
static const char *INIT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                          "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                          "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

static void test_ingress_host_and_origin(void **state)
{
    (void)state;
    struct resp r = ask("POST", "/nope", NULL, JSON_BOTH, LIST);
    expect(&r, 404, "not found");
    r = ask("POST", "/mcp/a", "evil.example", JSON_BOTH, LIST);
    expect(&r, 403, "Host header not allowed");
    assert_non_null(strstr(r.body, "\"code\":-32600"));
    char host[64];
    snprintf(host, sizeof(host), "localhost:%u", E.port == 1 ? 2 : 1); /* wrong port */
    r = ask("POST", "/mcp/a", host, JSON_BOTH, LIST);
    expect(&r, 403, "Host header not allowed");
    snprintf(host, sizeof(host), "localhost:%u", E.port);
    char extra[512];
    snprintf(extra, sizeof(extra), "%sOrigin: http://evil.example\r\n", JSON_BOTH);
    r = ask("POST", "/mcp/a", host, extra, LIST);
    expect(&r, 403, "Origin not allowed");
    /* a loopback page may talk to a loopback gateway: passes on to the session check */
    snprintf(extra, sizeof(extra), "%sOrigin: http://localhost:3000\r\n", JSON_BOTH);
    r = ask("POST", "/mcp/a", host, extra, LIST);
    expect(&r, 400, "Mcp-Session-Id header is required");
}

static void test_ingress_post_checks(void **state)
{
    (void)state;
    struct resp r =
        ask("POST", "/mcp/a", NULL,
            "Content-Type: text/plain\r\nAccept: application/json, text/event-stream\r\n", LIST);
    expect(&r, 415, "Content-Type must be application/json");
    r = ask("POST", "/mcp/a", NULL,
            "Content-Type: application/json\r\nAccept: application/json\r\n", LIST);
    expect(&r, 406, "Accept must list");
    r = ask("POST", "/mcp/a", NULL, JSON_BOTH, LIST);
    expect(&r, 400, "Mcp-Session-Id header is required");
    assert_non_null(strstr(r.body, "\"id\":7")); /* the error answers the request's id */
    char extra[512];
    snprintf(extra, sizeof(extra), "%sMcp-Session-Id: no-such-session\r\n", JSON_BOTH);
    r = ask("POST", "/mcp/a", NULL, extra, LIST);
    expect(&r, 404, "Session not found");
    r = ask("POST", "/mcp/a", NULL, JSON_BOTH, "{\"jsonrpc\":");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"code\":-32700"));
    r = ask("POST", "/mcp/a", NULL, JSON_BOTH,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]");
    expect(&r, 400, "initialize must not be part of a batch");
    snprintf(extra, sizeof(extra), "%sMCP-Protocol-Version: 1999-01-01\r\n", JSON_BOTH);
    r = ask("POST", "/mcp/a", NULL, extra, INIT);
    expect(&r, 400, "Unsupported protocol version");
    r = ask("PUT", "/mcp/a", NULL, JSON_BOTH, LIST);
    expect(&r, 405, "method not allowed");
    assert_non_null(strstr(r.head, "\r\nAllow: GET, POST, DELETE\r\n"));
}

static void test_ingress_sessions(void **state)
{
    (void)state;
    struct gh_mcp_session *s = gh_mcp_session_create(E.gw, route(E.gw, 0), GH_SLICE_LIT("up"));
    char extra[512];
    /* the session of /mcp/a is unknown on /mcp/b */
    snprintf(extra, sizeof(extra), "%sMcp-Session-Id: %s\r\n", JSON_BOTH, s->id);
    struct resp r = ask("POST", "/mcp/b", NULL, extra, LIST);
    expect(&r, 404, "Session not found");
    /* a known session with an unknown version header */
    snprintf(extra, sizeof(extra), "%sMcp-Session-Id: %s\r\nMCP-Protocol-Version: 2030-01-01\r\n",
             JSON_BOTH, s->id);
    r = ask("POST", "/mcp/a", NULL, extra, LIST);
    expect(&r, 400, "Unsupported protocol version");
    /* batches are gone after 2025-03-26 */
    snprintf(extra, sizeof(extra), "%sMcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-06-18\r\n",
             JSON_BOTH, s->id);
    r = ask("POST", "/mcp/a", NULL, extra,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
    expect(&r, 400, "batches are not supported");
    /* GET needs text/event-stream, and a session */
    snprintf(extra, sizeof(extra), "Accept: application/json\r\nMcp-Session-Id: %s\r\n", s->id);
    r = ask("GET", "/mcp/a", NULL, extra, NULL);
    expect(&r, 406, "Accept must list text/event-stream");
    r = ask("GET", "/mcp/a", NULL, "Accept: text/event-stream\r\n", NULL);
    expect(&r, 400, "Mcp-Session-Id header is required");
    r = ask("DELETE", "/mcp/a", NULL, NULL, NULL);
    expect(&r, 400, "Mcp-Session-Id header is required");
    r = ask("DELETE", "/mcp/a", NULL, "Mcp-Session-Id: nope\r\n", NULL);
    expect(&r, 404, "Session not found");
    assert_int_equal(gh_mcp_sessions_count(E.gw), 1); /* none of this made or lost a session */
    gh_mcp_session_close(E.gw, s);
    gh_mcp_session_unref(E.gw, s);
}

static void test_initialize_upstream_down_502(void **state)
{
    (void)state;
    struct resp r = ask("POST", "/mcp/a", NULL, JSON_BOTH, INIT);
    expect(&r, 502, "upstream unavailable");
    assert_non_null(strstr(r.body, "\"id\":1"));
    assert_int_equal(gh_mcp_sessions_count(E.gw), 0); /* no session without an upstream answer */
}

static void stream_prepare_task(void *arg)
{
    struct sctx *c = arg;
    c->st = gh_mcp_stream_new(c->s, false, 1 << 20, ctl, &c->prod);
    struct gh_sse_event a = ev("up-a", "a"), b = ev("up-b", "line1\nline2");
    gh_mcp_stream_append(c->st, &a);
    gh_mcp_stream_append(c->st, &b);
}

static void test_stream_replay_to_client(void **state)
{
    (void)state;
    E.sc.gw = E.gw;
    E.sc.s = gh_mcp_session_create(E.gw, route(E.gw, 0), gh_slice(NULL, 0));
    run_on(E.ws[0], stream_prepare_task, &E.sc);
    /* the client saw event 1: it gets 2 (replayed), then 3 (live), then the end */
    struct resp r = ask("GET", "/sse", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    static const char want[] = "id: 1-2\ndata: line1\ndata: line2\n\nid: 1-3\ndata: c\n\n";
    if (r.body_len != sizeof(want) - 1 || memcmp(r.body, want, r.body_len) != 0)
        fail_msg("stream body \"%s\"", r.body);
    run_on(E.ws[0], session_close_task, &E.sc);
    run_on(E.ws[0], nop, NULL);
    gh_mcp_session_unref(E.gw, E.sc.s);
}

/* ------------------------------------------------------------------ trace context in _meta */

static void expect_meta(const char *in, const char *want)
{
    static const char TP[] = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    size_t n = 0;
    char *out = gh_mcp_trace_meta(in, strlen(in), TP, &n);
    if (!want) {
        assert_null(out);
        return;
    }
    assert_non_null(out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
    free(out);
}

static void test_trace_meta(void **state)
{
    (void)state;
#define TPQ "\"00-0123456789abcdef0123456789abcdef-0123456789abcdef-01\""
    expect_meta("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"_meta\":{"
                "\"traceparent\":" TPQ "}}}");
    expect_meta("{\"id\":1,\"method\":\"ping\",\"params\":{}}",
                "{\"id\":1,\"method\":\"ping\",\"params\":{\"_meta\":{\"traceparent\":" TPQ "}}}");
    expect_meta("{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
                "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"_meta\":{\"traceparent\":" TPQ
                "},\"name\":\"x\"}}");
    expect_meta("{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{}}}",
                "{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{\"traceparent\":" TPQ "}}}");
    expect_meta("{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{\"progressToken\":7}}}",
                "{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{\"traceparent\":" TPQ
                ",\"progressToken\":7}}}");
    /* the caller's own is replaced: the upstream's parent is the gateway's span */
    expect_meta(
        "{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{\"traceparent\":\"x\",\"a\":1}}}",
        "{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":{\"traceparent\":" TPQ ",\"a\":1}}}");
    /* left alone: notifications, answers, batches, odd shapes, not JSON */
    expect_meta("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL);
    expect_meta("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", NULL);
    expect_meta("[{\"id\":1,\"method\":\"ping\"}]", NULL);
    expect_meta("{\"id\":1,\"method\":\"m\",\"params\":[1]}", NULL);
    expect_meta("{\"id\":1,\"method\":\"m\",\"params\":{\"_meta\":5}}", NULL);
    expect_meta("{\"id\":1,", NULL);
#undef TPQ
}

/* ------------------------------------------------------------------ argument redaction */

static void expect_redact(const char *in, const char *const *ptrs, size_t np, const char *want,
                          const bool *want_removed)
{
    bool removed[8] = {0};
    size_t n = 0;
    char *out = gh_mcp_redact_bytes(in, strlen(in), ptrs, np, removed, &n);
    if (!want) {
        assert_null(out);
        return;
    }
    assert_non_null(out);
    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(removed[i], want_removed[i]);
    free(out);
}

static void test_redact_arguments(void **state)
{
    (void)state;
#define CALL(args)                                                                                 \
    "{\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t\",\"arguments\":" args "}}"
    static const char *const SECRET[] = {"/secret"};
    static const bool T1[] = {true};
    expect_redact(CALL("{\"secret\":\"s\",\"keep\":1}"), SECRET, 1, CALL("{\"keep\":1}"), T1);
    expect_redact(CALL("{\"keep\":1,\"secret\":\"s\"}"), SECRET, 1, CALL("{\"keep\":1}"), T1);
    expect_redact(CALL("{\"secret\":[1,{\"a\":2}]}"), SECRET, 1, CALL("{}"), T1);
    expect_redact(CALL("{ \"keep\" : 1 , \"secret\" : 2 , \"more\" : 3 }"), SECRET, 1,
                  CALL("{ \"keep\" : 1 , \"more\" : 3 }"), T1);
    /* siblings, last ones of their object, and a parent with its child */
    static const char *const AB[] = {"/a", "/b", "/x/y", "/x"};
    static const bool TTFT[] = {true, true, false, true};
    expect_redact(CALL("{\"k\":0,\"a\":1,\"b\":2,\"x\":{\"z\":1}}"), AB, 4, CALL("{\"k\":0}"),
                  TTFT);
    static const bool TTTT[] = {true, true, true, true};
    expect_redact(CALL("{\"x\":{\"y\":1,\"z\":2},\"a\":1,\"b\":2}"), AB, 4, CALL("{}"), TTTT);
    /* escapes in pointers (~1 is '/', ~0 is '~') and nested members */
    static const char *const ESC[] = {"/a~1b", "/m~0n", "/deep/er/est"};
    static const bool TTT[] = {true, true, true};
    expect_redact(CALL("{\"a/b\":1,\"m~n\":2,\"deep\":{\"er\":{\"est\":3,\"k\":4}}}"), ESC, 3,
                  CALL("{\"deep\":{\"er\":{\"k\":4}}}"), TTT);
    /* left alone: nothing matches, no arguments, arrays are not walked, not JSON */
    expect_redact(CALL("{\"keep\":1}"), SECRET, 1, NULL, NULL);
    expect_redact("{\"id\":1,\"method\":\"ping\"}", SECRET, 1, NULL, NULL);
    static const char *const ARR[] = {"/list/0"};
    expect_redact(CALL("{\"list\":[1,2]}"), ARR, 1, NULL, NULL);
    expect_redact("{\"id\":1,", SECRET, 1, NULL, NULL);
#undef CALL
}

/* result redaction: members of a response's result; error answers and requests untouched */
static void test_redact_results(void **state)
{
    (void)state;
    const char *ptrs[] = {"/structuredContent/ssn", "/structuredContent/card/number", "/absent"};
    bool removed[3] = {0};
    size_t n = 0;
    const char *in =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[],\"structuredContent\":"
        "{\"user\":\"a\",\"ssn\":\"1\",\"card\":{\"number\":\"4\",\"brand\":\"v\"}}}}";
    char *out = gh_mcp_redact_result_bytes(in, strlen(in), ptrs, 3, removed, &n);
    assert_non_null(out);
    assert_string_equal(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[],"
                             "\"structuredContent\":{\"user\":\"a\",\"card\":{\"brand\":\"v\"}}}}");
    assert_true(removed[0] && removed[1] && !removed[2]);
    free(out);
    const char *err = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":\"m\"},"
                      "\"result\":{\"structuredContent\":{\"ssn\":\"1\"}}}";
    assert_null(gh_mcp_redact_result_bytes(err, strlen(err), ptrs, 3, removed, &n));
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}";
    assert_null(gh_mcp_redact_result_bytes(req, strlen(req), ptrs, 3, removed, &n));
    assert_null(gh_mcp_redact_result_bytes("[1,2]", 5, ptrs, 3, removed, &n));
    assert_null(gh_mcp_redact_result_bytes("{\"result\":", 10, ptrs, 3, removed, &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_trace_meta),
        cmocka_unit_test(test_redact_arguments),
        cmocka_unit_test(test_redact_results),
        cmocka_unit_test(test_accepts_zero_q_forms),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_session_create_find_close),
        cmocka_unit_test(test_session_set_version),
        cmocka_unit_test(test_session_ids_unique_and_total_limit),
        cmocka_unit_test(test_session_small_total_limit),
        cmocka_unit_test(test_session_create_for_principal),
        cmocka_unit_test(test_session_sweep_drops_idle),
        cmocka_unit_test(test_stream_lookup_and_resumable),
        cmocka_unit_test(test_stream_backpressure_and_cancel),
        cmocka_unit_test(test_stream_find_trimmed),
        cmocka_unit_test(test_inflight_take_give),
        cmocka_unit_test_setup_teardown(test_ingress_host_and_origin, server_setup,
                                        server_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_post_checks, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_ingress_sessions, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_initialize_upstream_down_502, server_setup,
                                        server_teardown),
        cmocka_unit_test_setup_teardown(test_stream_replay_to_client, server_setup,
                                        server_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
