/*
 * mcp/inflight.c enforces limits.concurrent_requests_per_principal: the JSON-RPC requests one
 * principal has in flight, counted for the whole process (all workers see one table, and a
 * reload keeps counting what started under the older generation). A slot is taken when a POST
 * carrying a JSON-RPC request is admitted and given back when the HTTP request is freed, however
 * it ended: answered, streamed to its end, or abandoned by the client. GET streams (long-lived
 * listeners, bounded by the session limits), DELETE (the way to free a session) and POSTs of
 * only notifications or responses (answered 202 at once) are not counted. Without auth every
 * caller is the one anonymous principal "".
 */
#include "core/core.h"
#include "mcp/internal.h"

#define INFLIGHT_BUCKETS 256u

struct inflight_slot {
    struct inflight_slot *next;
    uint64_t n;
    char key[65];
};

/* One short critical section per request start and end; nothing else is done under it. */
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inflight_slot *inflight_buckets[INFLIGHT_BUCKETS];

static struct inflight_slot **slot_of(const char *key)
{
    uint64_t v = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        v = (v ^ (unsigned char)*p) * 1099511628211ull;
    struct inflight_slot **pp = &inflight_buckets[v % INFLIGHT_BUCKETS];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

bool gh_mcp_inflight_take(const char *key, uint64_t cap, uint64_t *held)
{
    bool ok = false;
    pthread_mutex_lock(&inflight_lock);
    struct inflight_slot **pp = slot_of(key);
    uint64_t n = *pp ? (*pp)->n : 0;
    *held = n;
    if (n >= cap)
        goto out;
    if (!*pp) {
        *pp = gh_xcalloc(1, sizeof(**pp));
        snprintf((*pp)->key, sizeof((*pp)->key), "%s", key);
    }
    (*pp)->n++;
    ok = true;
out:
    pthread_mutex_unlock(&inflight_lock);
    return ok;
}

void gh_mcp_inflight_give(const char *key)
{
    pthread_mutex_lock(&inflight_lock);
    struct inflight_slot **pp = slot_of(key);
    struct inflight_slot *s = *pp;
    GH_BUG_ON(!s || s->n == 0); /* a give without its take */
    if (--s->n == 0) {
        *pp = s->next;
        free(s);
    }
    pthread_mutex_unlock(&inflight_lock);
}

uint64_t gh_mcp_inflight_of(const char *key)
{
    pthread_mutex_lock(&inflight_lock);
    struct inflight_slot *s = *slot_of(key);
    uint64_t n = s ? s->n : 0;
    pthread_mutex_unlock(&inflight_lock);
    return n;
}

/* The request is gone: its slot is free again. arg is the key, malloc'ed at take. */
static void give_on_free(void *arg)
{
    gh_mcp_inflight_give(arg);
    free(arg);
}

bool gh_mcp_inflight_admit(struct gh_mcp_gateway *gw, struct gh_http_req *r, struct gh_slice id)
{
    uint64_t cap = gw->cfg->limits.concurrent_requests_per_principal, held = 0;
    const char *key = gh_mcp_current_principal;
    if (gh_mcp_inflight_take(key, cap, &held)) {
        gh_http_req_on_free(r, give_on_free, gh_xstrdup(key));
        return true;
    }
    gh_metric_add(GH_METRIC_LIMITED, 1);
    GH_LOGW("mcp",
            "request refused: principal %.12s%s has %llu requests in flight "
            "(limits.concurrent_requests_per_principal)",
            key[0] ? key : "(anonymous)", key[0] ? "…" : "", (unsigned long long)held);
    char msg[256];
    snprintf(msg, sizeof(msg),
             "Too Many Requests: %llu requests of this principal are in flight, the limit "
             "(limits.concurrent_requests_per_principal); retry after 1 s",
             (unsigned long long)cap);
    struct gh_buf body;
    gh_buf_init(&body, 512);
    gh_jsonrpc_error_write(&body, id, GH_JSONRPC_INTERNAL_ERROR, msg);
    static const struct gh_http_header h[] = {{GH_SLICE_LIT("Retry-After"), GH_SLICE_LIT("1")}};
    gh_http_resp_simple(r, 429, "application/json", body.data, body.len, h, 1);
    gh_buf_release(&body);
    return false;
}
