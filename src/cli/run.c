/*
 * cli/run.c owns the process runtime: it binds every listener once per worker (SO_REUSEPORT),
 * starts the workers, routes requests (admin, MCP, the dev demo server), and shuts down
 * gracefully on SIGTERM/SIGINT: stop accepting, let in-flight exchanges finish (bounded by
 * timeouts.shutdown_drain_ms), then exit.
 */
#include "core/core.h"
#include "admin/admin.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/internal.h"
#include "audit/audit.h"
#include "demo/demo.h"
#include "mcp/mcp.h"
#include "propagation/propagation.h"
#include "upstream/upstream.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#define MAX_LISTEN_FDS     64
#define HEALTH_INTERVAL_MS 10000 /* HTTP upstream liveness probes */

struct listen_set {
    struct gh_http_server *srv;
    int *fds; /* one per worker */
};

struct runtime {
    struct gh_config *cfg;
    struct gh_mcp_gateway *gw;
    struct gh_auth_gate *gate; /* inbound authentication, NULL without auth (owned) */
    struct gh_admin_state admin;
    struct gh_net_worker **workers;
    unsigned nworkers;
    struct gh_net_worker *main;
    struct listen_set sets[MAX_LISTEN_FDS];
    size_t nsets;
    struct gh_net_timer *tick;
    uint64_t drain_deadline;
    uint16_t first_port; /* the first listener's bound port (it may have been 0) */
    struct gh_auth_dev_issuer *dev_issuer; /* gatehouse dev: mints tokens */
    struct gh_audit *audit;                /* the trail; closed after the gateway */
    char *dev_token;
    bool draining;
    struct gh_cli_reload reload; /* SIGHUP: the file the process runs from */
};

static bool serves_path(void *ctx, struct gh_slice path)
{
    return gh_mcp_serves_path(ctx, path);
}

/* POST /dev/token (dev mode, loopback listeners only): a fresh token for the dev user. */
static void mint_dev_token(struct runtime *rt, struct gh_http_req *r)
{
    if (gh_http_req_head(r)->method != GH_HTTP_M_POST ||
        !gh_net_addr_is_loopback(gh_http_req_peer(r))) {
        gh_http_resp_simple(r, 405, "text/plain", "POST from loopback only\n", 24, NULL, 0);
        return;
    }
    char *tok = gh_auth_dev_issuer_mint(rt->dev_issuer, "dev-user", "mcp:read mcp:tools", 3600);
    char *body = gh_arena_sprintf(gh_http_req_arena(r),
                                  "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
                                  "\"expires_in\":3600}",
                                  tok ? tok : "");
    gh_http_resp_simple(r, tok ? 200 : 500, "application/json", body, strlen(body), NULL, 0);
    free(tok);
}

/* GET /.well-known/jwks.json: the keys upstreams verify the gateway's assertions with. */
static bool serve_jwks(struct runtime *rt, struct gh_http_req *r)
{
    struct gh_prop *prop = gh_mcp_gateway_propagation(rt->gw);
    if (!gh_prop_signs(prop) ||
        !gh_slice_eq_cstr(gh_http_req_head(r)->path, "/.well-known/jwks.json"))
        return false;
    if (gh_http_req_head(r)->method != GH_HTTP_M_GET &&
        gh_http_req_head(r)->method != GH_HTTP_M_HEAD) {
        gh_http_resp_simple(r, 405, "text/plain", "GET only\n", 9, NULL, 0);
        return true;
    }
    size_t n;
    char *doc = gh_prop_jwks(prop, &n);
    /* short: a rotation must reach verifiers before the old key stops being published */
    struct gh_http_header cc = {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("max-age=60")};
    gh_http_resp_simple(r, 200, "application/jwk-set+json", doc, n, &cc, 1);
    free(doc);
    return true;
}

static void route_request(struct gh_http_req *r, void *arg)
{
    struct runtime *rt = arg;
    if (gh_admin_handle(&rt->admin, r) || gh_admin_prm_handle(&rt->admin, r))
        return;
    if (serve_jwks(rt, r))
        return;
    if (rt->dev_issuer && gh_slice_eq_cstr(gh_http_req_head(r)->path, "/dev/token")) {
        mint_dev_token(rt, r);
        return;
    }
    if (gh_mcp_serves_path(rt->gw, gh_http_req_head(r)->path)) {
        gh_mcp_handle(rt->gw, r);
        return;
    }
    gh_http_resp_simple(r, 404, "text/plain", "not found\n", 10, NULL, 0);
}

/* The demo MCP server of `gatehouse dev`: a real HTTP upstream inside this process. */
static void demo_request(struct gh_http_req *r, void *arg)
{
    (void)arg;
    const struct gh_http_request_head *h = gh_http_req_head(r);
    if (h->method == GH_HTTP_M_DELETE) { /* stateless: nothing to end */
        gh_http_resp_simple(r, 200, NULL, NULL, 0, NULL, 0);
        return;
    }
    if (h->method != GH_HTTP_M_POST) {
        static const struct gh_http_header allow[] = {
            {GH_SLICE_LIT("Allow"), GH_SLICE_LIT("POST")}};
        gh_http_resp_simple(r, 405, "text/plain", "method not allowed\n", 19, allow, 1);
        return;
    }
    struct gh_buf out;
    gh_buf_init(&out, 1 << 20);
    int status = 500;
    struct gh_slice body = gh_http_req_body(r);
    if (gh_demo_handle(gh_http_req_arena(r), body.ptr ? body.ptr : "", body.len, &out, &status) !=
        GH_OK)
        status = 500;
    if (status == 202)
        gh_http_resp_simple(r, 202, NULL, NULL, 0, NULL, 0);
    else
        gh_http_resp_simple(r, status, "application/json", out.data, out.len, NULL, 0);
    gh_buf_release(&out);
}

static struct gh_http_server_limits server_limits(const struct gh_config *c)
{
    struct gh_http_server_limits l = {
        .header_bytes = c->limits.header_bytes,
        .headers_count = c->limits.headers_count,
        .body_bytes = c->limits.body_bytes,
        .out_bytes = GH_MAX((size_t)1 << 20, (size_t)c->limits.sse_event_bytes * 2),
        .connections = c->limits.connections,
        .header_ms = c->timeouts.header_ms,
        .body_ms = c->timeouts.body_ms,
        .idle_ms = c->timeouts.idle_ms,
    };
    return l;
}

/* Binds one socket per worker; the first bind settles an ephemeral port for the others. */
static enum gh_rc bind_set(struct runtime *rt, struct listen_set *set, const char *host,
                           uint16_t port, uint16_t *bound)
{
    char hp[300];
    snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    struct gh_net_addr a;
    if (gh_net_addr_parse(hp, &a) != GH_OK)
        return GH_E_PARSE;
    set->fds = gh_xcalloc(rt->nworkers, sizeof(int));
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (gh_net_listen_fd(&a, 1024, &set->fds[i]) != GH_OK) {
            GH_LOGE("cli", "cannot listen on %s: %s", hp, strerror(errno));
            return GH_E_IO;
        }
        if (i == 0) {
            a.len = sizeof(a.ss);
            getsockname(set->fds[0], (struct sockaddr *)&a.ss, &a.len);
        }
    }
    *bound = gh_net_addr_port(&a);
    return GH_OK;
}

static enum gh_rc start_demo(struct runtime *rt)
{
    struct gh_http_server_limits lim = server_limits(rt->cfg);
    struct listen_set *set = &rt->sets[rt->nsets++];
    set->srv = gh_http_server_new(&lim, NULL, demo_request, rt);
    uint16_t port;
    enum gh_rc rc = bind_set(rt, set, "127.0.0.1", 0, &port);
    if (rc)
        return rc;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
    return gh_config_add_upstream(rt->cfg, "demo", url, "/mcp");
}

static enum gh_rc start_listeners(struct runtime *rt)
{
    struct gh_http_server_limits lim = server_limits(rt->cfg);
    for (size_t i = 0; i < rt->cfg->n_listeners && rt->nsets < MAX_LISTEN_FDS; i++) {
        const struct gh_config_listener *l = &rt->cfg->listeners[i];
        SSL_CTX *tls = NULL;
        if (l->tls) {
            char err[256];
            if (gh_net_tls_server_ctx(l->tls->certificate, l->tls->key, &tls, err, sizeof(err)) !=
                GH_OK) {
                GH_LOGE("cli", "listeners[%zu].tls: %s", i, err);
                return GH_E_PARSE;
            }
        }
        struct listen_set *set = &rt->sets[rt->nsets++];
        set->srv = gh_http_server_new(&lim, tls, route_request, rt);
        uint16_t port;
        enum gh_rc rc = bind_set(rt, set, l->addr.host, l->addr.port, &port);
        if (rc)
            return rc;
        bool v6 = strchr(l->addr.host, ':') != NULL;
        GH_LOGI("cli", "listening on %s://%s%s%s:%u", tls ? "https" : "http", v6 ? "[" : "",
                l->addr.host, v6 ? "]" : "", port);
        if (i == 0) {
            rt->first_port = port;
            printf("GATEHOUSE_LISTEN %s://%s%s%s:%u\n", tls ? "https" : "http", v6 ? "[" : "",
                   l->addr.host, v6 ? "]" : "", port);
            fflush(stdout);
        }
    }
    return GH_OK;
}

static void worker_init(struct gh_net_worker *w, void *arg)
{
    struct runtime *rt = arg;
    unsigned id = gh_net_worker_id(w);
    gh_mcp_worker_init(rt->gw, w);
    for (size_t i = 0; i < rt->nsets; i++)
        gh_net_listener_add(w, rt->sets[i].fds[id], gh_http_server_accept, rt->sets[i].srv);
}

static void worker_drain(void *arg)
{
    struct gh_net_worker *w = gh_net_worker_current();
    (void)arg;
    gh_net_listeners_close(w);
    gh_http_server_drain(w);
}

static void worker_fini(void *arg)
{
    struct runtime *rt = arg;
    if (gh_net_worker_id(gh_net_worker_current()) == 0)
        gh_upstream_health_stop(gh_mcp_gateway_upstreams(rt->gw));
    gh_upstream_children_worker_fini(gh_net_worker_current());
    gh_mcp_worker_fini(rt->gw, gh_net_worker_current());
}

static void on_tick(void *arg)
{
    struct runtime *rt = arg;
    if (!rt->draining) {
        gh_mcp_sessions_sweep(rt->gw);
        gh_prop_tick(gh_mcp_gateway_propagation(rt->gw));
        gh_net_timer_arm(rt->tick, 1000);
        return;
    }
    size_t left = gh_mcp_inflight(rt->gw);
    if (left == 0 || gh_clock_ms() >= rt->drain_deadline) {
        if (left)
            GH_LOGW("cli", "drain deadline reached with %zu exchanges in flight", left);
        gh_net_main_break(rt->main);
        return;
    }
    gh_net_timer_arm(rt->tick, 50);
}

/* SIGHUP: logrotate moved the audit file (start a new one), and the configuration file is read
 * again (its policy applied, the attempt recorded in the new file). */
static void on_hup_signal(int signo, void *arg)
{
    (void)signo;
    struct runtime *rt = arg;
    GH_LOGI("cli", "SIGHUP: reopening the audit file, reloading the configuration");
    gh_audit_reopen(rt->audit);
    gh_cli_reload_run(&rt->reload, rt->gw, rt->audit);
}

static void on_stop_signal(int signo, void *arg)
{
    struct runtime *rt = arg;
    if (rt->draining) {
        GH_LOGW("cli", "second signal: exiting now");
        gh_net_main_break(rt->main);
        return;
    }
    GH_LOGI("cli", "%s: draining (at most %llu ms)", signo == SIGTERM ? "SIGTERM" : "SIGINT",
            (unsigned long long)rt->cfg->timeouts.shutdown_drain_ms);
    rt->draining = true;
    atomic_store(&rt->admin.draining, true);
    gh_mcp_gateway_closing(rt->gw);
    rt->drain_deadline = gh_clock_ms() + rt->cfg->timeouts.shutdown_drain_ms;
    for (unsigned i = 0; i < rt->nworkers; i++)
        gh_net_worker_post(rt->workers[i], worker_drain, rt);
    gh_net_timer_arm(rt->tick, 10);
}

static void print_dev_banner(const struct runtime *rt)
{
    const struct gh_config_listener *l = &rt->cfg->listeners[0];
    const char *sch = l->tls ? "https" : "http";
    char base[300];
    bool v6 = strchr(l->addr.host, ':') != NULL;
    snprintf(base, sizeof(base), "%s://%s%s%s:%u", sch, v6 ? "[" : "", l->addr.host, v6 ? "]" : "",
             rt->first_port);
    printf(
        "\nGatehouse %s dev mode: the built-in demo MCP server (tools: echo, add, sha256, time,\n"
        "word_count) is served through the gateway.\n\n"
        "  MCP endpoint (Streamable HTTP):  %s/mcp\n"
        "  Health:                          %s/healthz\n\n"
        "Point an MCP client at the endpoint, for example:\n"
        "  npx @modelcontextprotocol/inspector   (Transport: Streamable HTTP, URL as above)\n"
        "  claude mcp add --transport http gatehouse %s/mcp --header \"Authorization: Bearer "
        "<token>\"\n\n"
        "%s Ctrl-C stops it.\n\n",
        GH_VERSION, base, base, base,
        rt->dev_issuer  ? "Authentication is ON: send the token below (valid 1 h) as\n"
                          "  Authorization: Bearer <token>      (POST /dev/token mints another)\n"
        : rt->cfg->auth ? "Authentication is ON (auth: in your config)."
                        : "Authentication is OFF in dev mode and it listens on loopback only.");
    if (rt->audit)
        printf("Audit trail (one JSON record per decision and outcome): %s\n"
               "  verify it with: gatehouse audit verify %s\n\n",
               gh_audit_path(rt->audit), gh_audit_path(rt->audit));
    if (rt->dev_token)
        printf("GATEHOUSE_TOKEN %s\n\n", rt->dev_token);
    fflush(stdout);
}

/* The dev issuer: resource and issuer on this listener, a key that lives as long as the process. */
static void dev_auth_config(struct runtime *rt)
{
    const struct gh_config_listener *l = &rt->cfg->listeners[0];
    bool v6 = strchr(l->addr.host, ':') != NULL;
    char base[300], aud[340], iss[340];
    snprintf(base, sizeof(base), "%s://%s%s%s:%u", l->tls ? "https" : "http", v6 ? "[" : "",
             l->addr.host, v6 ? "]" : "", rt->first_port);
    snprintf(aud, sizeof(aud), "%s/mcp", base);
    snprintf(iss, sizeof(iss), "%s/dev-issuer", base);
    struct gh_config_auth *a = gh_config_auth_new();
    a->resource = gh_xstrdup(base);
    a->n_issuers = 1;
    a->issuers = gh_xcalloc(1, sizeof(*a->issuers));
    a->issuers[0].issuer = gh_xstrdup(iss);
    a->issuers[0].algorithms = GH_ALG_ES256;
    a->issuers[0].token_type = gh_xstrdup("at+jwt");
    a->issuers[0].clock_skew_ms = 60000;
    a->issuers[0].dpop = GH_CONFIG_DPOP_OFF;
    a->issuers[0].claims.groups = gh_xstrdup("groups");
    a->issuers[0].claims.roles = gh_xstrdup("roles");
    a->issuers[0].claims.client_id = gh_xstrdup("client_id");
    rt->cfg->auth = a;
    rt->cfg->gateway.insecure_no_auth = false;
    rt->dev_issuer = gh_auth_dev_issuer_new(iss, aud);
    rt->dev_token = gh_auth_dev_issuer_mint(rt->dev_issuer, "dev-user", "mcp:read mcp:tools", 3600);
}

static unsigned worker_count(const struct gh_config *c)
{
    if (c->gateway.workers)
        return (unsigned)c->gateway.workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void runtime_free(struct runtime *rt)
{
    for (size_t i = 0; i < rt->nsets; i++) {
        free(rt->sets[i].fds);
        gh_http_server_free(rt->sets[i].srv);
    }
    gh_mcp_gateway_free(rt->gw);
    gh_audit_close(rt->audit);   /* after the gateway: closing sessions still write records */
    gh_auth_gate_free(rt->gate); /* its timer lives on the main loop: freed before it */
    gh_auth_dev_issuer_free(rt->dev_issuer);
    free(rt->dev_token);
    gh_net_timer_free(rt->tick);
    gh_net_main_free(rt->main);
}

int gh_cli_run(struct gh_cli_run_opts *opts)
{
    struct runtime rt = {.cfg = opts->cfg};
    rt.admin.version = GH_VERSION;
    signal(SIGPIPE, SIG_IGN);
    rt.main = gh_net_main_new();
    rt.tick = gh_net_timer_new(rt.main, on_tick, &rt);
    rt.nworkers = worker_count(rt.cfg);
    gh_upstream_children_set_limit(rt.cfg->limits.stdio_children);
    int status = 1;
    if (opts->dev && start_demo(&rt) != GH_OK)
        goto out;
    if (start_listeners(&rt) != GH_OK)
        goto out;
    char err[256];
    if (gh_mcp_gateway_new(rt.cfg, &rt.gw, err, sizeof(err)) != GH_OK) {
        GH_LOGE("cli", "%s", err);
        goto out;
    }
    struct gh_config_error aerr = {0};
    if (gh_audit_open(rt.cfg, rt.cfg->audit, opts->dev, &rt.audit, &aerr) != GH_OK) {
        gh_config_error_format(&aerr, err, sizeof(err));
        GH_LOGE("cli", "%s", err);
        goto out;
    }
    rt.admin.cfg = rt.cfg;
    rt.admin.audit = rt.audit;
    if (rt.audit) {
        gh_mcp_gateway_set_audit(rt.gw, rt.audit);
        GH_LOGI("audit", "audit trail: %s (%s)", gh_audit_path(rt.audit),
                gh_audit_durability(rt.audit) == GH_AUDIT_BEFORE_FORWARD ? "before-forward"
                                                                         : "buffered");
    } else {
        GH_LOGW("audit", "no audit: section: this gateway keeps no audit trail");
    }
    if (opts->dev_issuer)
        dev_auth_config(&rt);
    /* before any worker accepts: no request may ever pass without the gate */
    if (rt.cfg->auth) {
        struct gh_auth_gate *gate = rt.gate = gh_auth_gate_new(rt.cfg->auth, rt.main);
        if (rt.dev_issuer)
            gh_auth_gate_set_keys(gate, 0, gh_auth_dev_issuer_jwks(rt.dev_issuer));
        gh_mcp_gateway_set_auth(rt.gw, gate);
        rt.admin.auth = rt.cfg->auth;
        rt.admin.serves_path = serves_path;
        rt.admin.serves_ctx = rt.gw;
        GH_LOGI("cli", "inbound authentication: %zu issuer%s, resource %s", rt.cfg->auth->n_issuers,
                rt.cfg->auth->n_issuers == 1 ? "" : "s", rt.cfg->auth->resource);
    }
    rt.workers = gh_net_workers_new(rt.nworkers);
    gh_net_workers_start(rt.workers, rt.nworkers, worker_init, &rt);
    rt.admin.upstreams = gh_mcp_gateway_upstreams(rt.gw);
    gh_upstream_health_start(gh_mcp_gateway_upstreams(rt.gw), rt.workers[0], HEALTH_INTERVAL_MS);
    atomic_store(&rt.admin.ready, true);
    GH_LOGI("cli", "gatehouse %s serving %zu upstream%s with %u worker%s", GH_VERSION,
            rt.cfg->n_upstreams, rt.cfg->n_upstreams == 1 ? "" : "s", rt.nworkers,
            rt.nworkers == 1 ? "" : "s");
    if (opts->dev)
        print_dev_banner(&rt);
    gh_cli_reload_init(&rt.reload, rt.cfg->source);
    gh_net_main_on_signal(rt.main, SIGHUP, on_hup_signal, &rt);
    gh_net_main_on_signal(rt.main, SIGTERM, on_stop_signal, &rt);
    gh_net_main_on_signal(rt.main, SIGINT, on_stop_signal, &rt);
    gh_net_timer_arm(rt.tick, 1000);
    gh_net_main_run(rt.main);
    gh_upstream_children_stop_all(); /* SIGTERM, grace, SIGKILL: no child outlives the gateway */
    for (unsigned i = 0; i < rt.nworkers; i++)
        gh_net_worker_post(rt.workers[i], worker_fini, &rt);
    gh_net_workers_stop(rt.workers, rt.nworkers);
    GH_LOGI("cli", "stopped");
    status = 0;
out:
    runtime_free(&rt);
    return status;
}
