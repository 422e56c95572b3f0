/* admin/admin.c owns /healthz and /readyz: cheap, unauthenticated, no request data echoed. */
#include "core/core.h"
#include "admin/admin.h"

#include <stdio.h>

static void reply_json(struct gh_http_req *r, int status, const char *body)
{
    static const struct gh_http_header hdrs[] = {
        {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-store")}};
    gh_http_resp_simple(r, status, "application/json", body, strlen(body), hdrs, 1);
}

/* Ready even with an upstream down (the others still serve); the status says "degraded" and
 * each upstream's state says which. */
static void reply_ready(const struct gh_admin_state *st, struct gh_http_req *r)
{
    struct gh_buf ups, body;
    bool all_up = true;
    gh_buf_init(&ups, 64 << 10);
    gh_buf_init(&body, 64 << 10);
    if (st->upstreams)
        gh_upstream_health_json(st->upstreams, &ups, &all_up);
    gh_buf_appendf(&body, "{\"status\":\"%s\",\"upstreams\":%.*s}", all_up ? "ready" : "degraded",
                   ups.len ? (int)ups.len : 2, ups.len ? ups.data : "{}");
    reply_json(r, 200, body.data);
    gh_buf_release(&ups);
    gh_buf_release(&body);
}

bool gh_admin_handle(const struct gh_admin_state *st, struct gh_http_req *r)
{
    const struct gh_http_request_head *h = gh_http_req_head(r);
    bool health = gh_slice_eq_cstr(h->path, "/healthz");
    bool ready = gh_slice_eq_cstr(h->path, "/readyz");
    bool metrics = gh_slice_eq_cstr(h->path, "/metrics");
    if (!health && !ready && !metrics)
        return false;
    if (h->method != GH_HTTP_M_GET && h->method != GH_HTTP_M_HEAD) {
        static const struct gh_http_header allow[] = {
            {GH_SLICE_LIT("Allow"), GH_SLICE_LIT("GET, HEAD")}};
        gh_http_resp_simple(r, 405, "text/plain", "method not allowed\n", 19, allow, 1);
        return true;
    }
    char body[128];
    if (metrics) {
        gh_admin_metrics_handle(st, r);
    } else if (health) {
        snprintf(body, sizeof(body), "{\"status\":\"ok\",\"version\":\"%s\"}", st->version);
        reply_json(r, 200, body);
    } else if (atomic_load(&st->draining)) {
        reply_json(r, 503, "{\"status\":\"draining\"}");
    } else if (!atomic_load(&st->ready)) {
        reply_json(r, 503, "{\"status\":\"starting\"}");
    } else {
        reply_ready(st, r);
    }
    return true;
}
