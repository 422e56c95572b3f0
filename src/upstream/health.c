/*
 * upstream/health.c owns upstream liveness: a periodic probe of every HTTP upstream (any HTTP
 * answer means the server is there; a refused, reset or silent connection means it is not),
 * state transitions in the operational log, and the per-upstream state /readyz reports (for a
 * shared stdio child, the state mcp/ reports as it starts, loses and restarts it).
 */
#include "core/core.h"
#include "upstream/upstream.h"

#include <stdatomic.h>
#include <stdio.h>

/* The probe: a 2026-07-28 server/discover. Any HTTP answer proves the server is there; a result
 * listing supportedVersions also tells which protocol eras it serves (session-era servers answer
 * an error: they need initialize first). */
static const char PROBE[] =
    "{\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-health\",\"method\":\"server/discover\",\"params\":{"
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
    "\"io.modelcontextprotocol/clientCapabilities\":{},"
    "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"gatehouse-health\",\"version\":\"1\"}}}}";

struct gh_upstream_health {
    _Atomic int state; /* enum gh_upstream_state */
    _Atomic int era;   /* enum gh_upstream_era */
    _Atomic uint64_t since_ms;
    _Atomic unsigned restarts;    /* shared stdio child: restarts since the gateway started */
    _Atomic uint64_t retry_at_ms; /* shared stdio child: next start (RESTARTING) */
    bool probing;                 /* health worker only */
};

struct probe {
    struct gh_upstream_set *set;
    size_t i;
    bool answered;
    int status;
    struct gh_buf body;
};

struct health_ctl {
    struct gh_upstream_set *set;
    struct gh_net_timer *timer;
    uint64_t interval_ms;
};

static const char *state_name(int s)
{
    return s == GH_UPSTREAM_UP           ? "up"
           : s == GH_UPSTREAM_DOWN       ? "down"
           : s == GH_UPSTREAM_RESTARTING ? "restarting"
                                         : "unknown";
}

static void set_state(struct gh_upstream_set *set, size_t i, int st, const char *why)
{
    struct gh_upstream_health *h = &set->health[i];
    int old = atomic_exchange(&h->state, st);
    if (old == st)
        return;
    atomic_store(&h->since_ms, gh_clock_ms());
    if (st == GH_UPSTREAM_DOWN)
        GH_LOGW("upstream", "%s is down: %s", set->ups[i].conf->name, why);
    else if (old == GH_UPSTREAM_DOWN)
        GH_LOGI("upstream", "%s is up again", set->ups[i].conf->name);
}

static void probe_head(void *arg, const struct gh_http_response_head *h)
{
    struct probe *p = arg;
    p->answered = true;
    p->status = h->status;
}

static void probe_body(void *arg, const char *b, size_t n)
{
    struct probe *p = arg;
    gh_buf_append(&p->body, b, n); /* past the cap the era stays as it was */
}

/* Which eras the answer shows (the body may be JSON or one SSE event: look for the list). */
static int era_of(const struct probe *p)
{
    if (p->status != 200 || !p->body.len)
        return GH_UPSTREAM_ERA_SESSION;
    const char *d = p->body.data;
    size_t n = p->body.len;
    const char *list = memmem(d, n, "\"supportedVersions\"", 19);
    if (!list)
        return GH_UPSTREAM_ERA_SESSION;
    const char *end = memchr(list, ']', n - (size_t)(list - d));
    size_t span = end ? (size_t)(end - list) : n - (size_t)(list - d);
    bool session = memmem(list, span, "\"2025-", 7) != NULL;
    bool stateless = memmem(list, span, "\"2026-07-28\"", 12) != NULL;
    if (stateless && !session)
        return GH_UPSTREAM_ERA_STATELESS;
    return stateless ? GH_UPSTREAM_ERA_BOTH : GH_UPSTREAM_ERA_SESSION;
}

static void probe_done(void *arg, enum gh_rc rc)
{
    struct probe *p = arg;
    p->set->health[p->i].probing = false;
    if (p->answered) {
        int era = era_of(p);
        if (atomic_exchange(&p->set->health[p->i].era, era) != era)
            GH_LOGI("upstream", "%s serves %s", p->set->ups[p->i].conf->name,
                    era == GH_UPSTREAM_ERA_STATELESS ? "2026-07-28 only"
                    : era == GH_UPSTREAM_ERA_BOTH    ? "both protocol eras"
                                                     : "the session era only");
        set_state(p->set, p->i, GH_UPSTREAM_UP, NULL);
    } else {
        set_state(p->set, p->i, GH_UPSTREAM_DOWN, gh_rc_str(rc));
    }
    gh_buf_release(&p->body);
    free(p);
}

static const struct gh_http_creq_cbs PROBE_CBS = {probe_head, probe_body, probe_done};

static void probe_all(void *arg)
{
    struct health_ctl *hc = arg;
    struct gh_upstream_set *set = hc->set;
    static const struct gh_http_header hdrs[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/json")},
        {GH_SLICE_LIT("Accept"), GH_SLICE_LIT("application/json, text/event-stream")},
        {GH_SLICE_LIT("MCP-Protocol-Version"), GH_SLICE_LIT("2026-07-28")},
        {GH_SLICE_LIT("Mcp-Method"), GH_SLICE_LIT("server/discover")},
    };
    for (size_t i = 0; i < set->n; i++) {
        const struct gh_upstream *u = &set->ups[i];
        if (u->conf->kind != GH_CONFIG_UPSTREAM_HTTP || set->health[i].probing)
            continue;
        struct probe *p = gh_xcalloc(1, sizeof(*p));
        p->set = set;
        p->i = i;
        gh_buf_init(&p->body, 64 << 10);
        set->health[i].probing = true;
        gh_http_client_send(gh_upstream_pool(u), "POST", gh_slice_cstr(u->conf->url.path), hdrs,
                            GH_ARRAY_LEN(hdrs), gh_slice(PROBE, sizeof(PROBE) - 1), &PROBE_CBS, p);
    }
    gh_net_timer_arm(hc->timer, hc->interval_ms);
}

static void health_start_task(void *arg)
{
    struct health_ctl *hc = arg;
    hc->timer = gh_net_timer_new(gh_net_worker_current(), probe_all, hc);
    probe_all(hc);
}

void gh_upstream_health_start(struct gh_upstream_set *set, struct gh_net_worker *w,
                              uint64_t interval_ms)
{
    struct health_ctl *hc = gh_xcalloc(1, sizeof(*hc)); /* lives until the worker stops */
    hc->set = set;
    hc->interval_ms = interval_ms;
    set->health_ctl = hc;
    gh_net_worker_post(w, health_start_task, hc);
}

void gh_upstream_health_stop(struct gh_upstream_set *set)
{
    struct health_ctl *hc = set->health_ctl;
    if (!hc)
        return;
    gh_net_timer_free(hc->timer); /* on the health worker's thread, before its loop ends */
    free(hc);
    set->health_ctl = NULL;
}

void gh_upstream_health_init(struct gh_upstream_set *set)
{
    set->health = gh_xcalloc(set->n ? set->n : 1, sizeof(*set->health));
}

int gh_upstream_era(const struct gh_upstream_set *set, const struct gh_upstream *u)
{
    return atomic_load(&set->health[u->index].era);
}

void gh_upstream_health_set_child(struct gh_upstream_set *set, const struct gh_upstream *u,
                                  enum gh_upstream_state st, uint64_t retry_ms)
{
    struct gh_upstream_health *h = &set->health[u->index];
    if (st == GH_UPSTREAM_RESTARTING)
        atomic_fetch_add(&h->restarts, 1);
    atomic_store(&h->retry_at_ms, gh_clock_ms() + retry_ms);
    if (atomic_exchange(&h->state, st) != (int)st)
        atomic_store(&h->since_ms, gh_clock_ms());
}

/* A shared child's extras: how often it was restarted, and when it is started again. */
static void child_json(const struct gh_upstream_health *h, int st, struct gh_buf *out)
{
    gh_buf_appendf(out, ",\"mode\":\"shared\",\"restarts\":%u", atomic_load(&h->restarts));
    uint64_t at = atomic_load(&h->retry_at_ms), now = gh_clock_ms();
    if (st == GH_UPSTREAM_RESTARTING)
        gh_buf_appendf(out, ",\"retry_in_ms\":%llu", (unsigned long long)(at > now ? at - now : 0));
}

void gh_upstream_health_json(const struct gh_upstream_set *set, struct gh_buf *out, bool *all_up)
{
    *all_up = true;
    gh_buf_append(out, "{", 1);
    for (size_t i = 0; i < set->n; i++) {
        const struct gh_upstream *u = &set->ups[i];
        bool http = u->conf->kind == GH_CONFIG_UPSTREAM_HTTP;
        bool shared = !http && u->conf->mode == GH_CONFIG_STDIO_SHARED;
        int st = atomic_load(&set->health[i].state);
        /* a shared child not started yet is fine: its first session starts it */
        if ((http || (shared && st != GH_UPSTREAM_UNKNOWN)) && st != GH_UPSTREAM_UP)
            *all_up = false;
        static const char *const ERA[] = {"unknown", "session", "stateless", "both"};
        const char *name = http                                  ? state_name(st)
                           : shared && st != GH_UPSTREAM_UNKNOWN ? state_name(st)
                                                                 : "on-demand";
        gh_buf_appendf(out, "%s\"%s\":{\"kind\":\"%s\",\"state\":\"%s\"", i ? "," : "",
                       u->conf->name, http ? "http" : "stdio", name);
        if (http)
            gh_buf_appendf(out, ",\"protocol\":\"%s\"", ERA[atomic_load(&set->health[i].era) & 3]);
        if (shared)
            child_json(&set->health[i], st, out);
        if ((http || shared) && st != GH_UPSTREAM_UNKNOWN)
            gh_buf_appendf(
                out, ",\"since_ms_ago\":%llu",
                (unsigned long long)(gh_clock_ms() - atomic_load(&set->health[i].since_ms)));
        gh_buf_append(out, "}", 1);
    }
    gh_buf_append(out, "}", 1);
}
