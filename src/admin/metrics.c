/*
 * admin/metrics.c owns GET /metrics: the Prometheus text exposition format (version 0.0.4) of
 * the process's counters, per-upstream latency histograms and the audit trail's gauges. No label
 * value comes from request data: upstream names come from the configuration.
 */
#include "core/core.h"
#include "admin/admin.h"
#include "audit/audit.h"

#include <stdio.h>
#include <string.h>

static void counter(struct gh_buf *b, const char *name, const char *help)
{
    gh_buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

static void counters(struct gh_buf *b)
{
    counter(b, "gatehouse_requests_total", "JSON-RPC POST requests that reached authorization.");
    gh_buf_appendf(b, "gatehouse_requests_total %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_REQUESTS));
    counter(b, "gatehouse_decisions_total", "Authorization decisions, one per JSON-RPC message.");
    gh_buf_appendf(b, "gatehouse_decisions_total{effect=\"allow\"} %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_DECISIONS_ALLOW));
    gh_buf_appendf(b, "gatehouse_decisions_total{effect=\"deny\"} %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_DECISIONS_DENY));
    counter(b, "gatehouse_auth_failures_total", "Requests refused by authentication, by status.");
    static const struct {
        const char *status;
        enum gh_metric m;
    } auth[] = {{"400", GH_METRIC_AUTH_FAIL_400},
                {"401", GH_METRIC_AUTH_FAIL_401},
                {"403", GH_METRIC_AUTH_FAIL_403},
                {"503", GH_METRIC_AUTH_FAIL_503}};
    for (size_t i = 0; i < GH_ARRAY_LEN(auth); i++)
        gh_buf_appendf(b, "gatehouse_auth_failures_total{status=\"%s\"} %llu\n", auth[i].status,
                       (unsigned long long)gh_metric_get(auth[i].m));
    counter(b, "gatehouse_limited_total", "Tool calls refused by a policy limit (HTTP 429).");
    gh_buf_appendf(b, "gatehouse_limited_total %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_LIMITED));
}

static void histograms(const struct gh_admin_state *st, struct gh_buf *b)
{
    gh_buf_puts(b, "# HELP gatehouse_request_duration_seconds Time from a JSON-RPC POST's "
                   "arrival to its last response byte, by upstream.\n"
                   "# TYPE gatehouse_request_duration_seconds histogram\n");
    for (size_t u = 0; st->cfg && u < st->cfg->n_upstreams && u < GH_METRIC_UPSTREAMS; u++) {
        struct gh_metric_histogram h;
        gh_metric_latency_get(u, &h);
        const char *name = st->cfg->upstreams[u].name; /* [A-Za-z0-9_-]: no escaping needed */
        for (size_t i = 0; i < GH_METRIC_BUCKETS; i++)
            gh_buf_appendf(b,
                           "gatehouse_request_duration_seconds_bucket{upstream=\"%s\",le=\"%g\"} "
                           "%llu\n",
                           name, h.le[i], (unsigned long long)h.cumulative[i]);
        gh_buf_appendf(b,
                       "gatehouse_request_duration_seconds_bucket{upstream=\"%s\",le=\"+Inf\"} "
                       "%llu\n",
                       name, (unsigned long long)h.count);
        gh_buf_appendf(b, "gatehouse_request_duration_seconds_sum{upstream=\"%s\"} %.6f\n", name,
                       h.sum_s);
        gh_buf_appendf(b, "gatehouse_request_duration_seconds_count{upstream=\"%s\"} %llu\n", name,
                       (unsigned long long)h.count);
    }
}

static void audit_gauges(const struct gh_admin_state *st, struct gh_buf *b)
{
    counter(b, "gatehouse_audit_records_total", "Records queued for the audit trail.");
    gh_buf_appendf(b, "gatehouse_audit_records_total %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_AUDIT_RECORDS));
    counter(b, "gatehouse_audit_refused_total",
            "Records the full audit queue refused (their requests were refused too).");
    gh_buf_appendf(b, "gatehouse_audit_refused_total %llu\n",
                   (unsigned long long)gh_metric_get(GH_METRIC_AUDIT_REFUSED));
    gh_buf_puts(b, "# HELP gatehouse_audit_queue_depth Records waiting for the audit writer.\n"
                   "# TYPE gatehouse_audit_queue_depth gauge\n");
    gh_buf_appendf(b, "gatehouse_audit_queue_depth %llu\n",
                   (unsigned long long)(st->audit ? gh_audit_queue_depth(st->audit) : 0));
    counter(b, "gatehouse_audit_written_total", "Records the audit writer has written to disk.");
    gh_buf_appendf(b, "gatehouse_audit_written_total %llu\n",
                   (unsigned long long)(st->audit ? gh_audit_written(st->audit) : 0));
    gh_buf_puts(b, "# HELP gatehouse_audit_write_errors Whether the audit writer has failed (1) "
                   "since start.\n# TYPE gatehouse_audit_write_errors gauge\n");
    gh_buf_appendf(b, "gatehouse_audit_write_errors %d\n",
                   st->audit && gh_audit_failed(st->audit) ? 1 : 0);
}

bool gh_admin_metrics_handle(const struct gh_admin_state *st, struct gh_http_req *r)
{
    if (!gh_slice_eq_cstr(gh_http_req_head(r)->path, "/metrics"))
        return false;
    struct gh_buf b;
    gh_buf_init(&b, 1u << 20);
    counters(&b);
    histograms(st, &b);
    audit_gauges(st, &b);
    gh_http_resp_simple(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL, 0);
    gh_buf_release(&b);
    return true;
}
