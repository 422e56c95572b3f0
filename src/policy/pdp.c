/*
 * policy/pdp.c owns the external policy decision point: OpenID AuthZEN Authorization API 1.0
 * evaluation requests (subject, action, resource, context) over HTTP(S) from each worker's own
 * keep-alive pool, a bounded decision cache keyed by SHA-256 of the request, and the
 * unreachable rule: a timeout, a non-200 answer or anything but {"decision": true|false} is
 * "unavailable" — a denial (or a 503 where the config says so), never an allow, never cached.
 */
#include "core/core.h"
#include "http/http.h"
#include "net/net.h"
#include "policy/internal.h"

#include <openssl/ssl.h>
#include <string.h>
#include <time.h>

#define PDP_ANSWER_MAX (64u << 10)
#define CACHE_WAYS     4

struct cached {
    unsigned char key[32];
    int64_t expires_ms; /* 0: empty */
    bool allow;
};

struct gh_policy__pdp {
    char *url;
    struct gh_config_url u;
    struct gh_http_client_target target;
    char host_header[300];
    struct ssl_ctx_st *tls;
    uint64_t timeout_ms, ttl_ms, entries;
    bool unavailable_503;
    pthread_mutex_t mu;
    struct cached *cache; /* entries, grouped in sets of CACHE_WAYS */
};

static _Thread_local struct gh_http_pool *pool;
static _Thread_local const struct gh_policy__pdp *pool_owner;

/* ---- config ---- */

static enum gh_rc pdp_url(struct gh_policy__pdp *d, const struct gh_config_node *v,
                          struct gh_config_error *err)
{
    const char *why = NULL;
    if (!gh_policy__scalar(v) || gh_config_url_parse(v->text, &d->u, &why) != GH_OK)
        return gh_config_node_error(err, v, "expected an http(s) URL%s%s", why ? ": " : "",
                                    why ? why : "");
    d->url = gh_xstrdup(v->text);
    if (gh_net_addr_resolve(d->u.host, d->u.port, &d->target.addr) != GH_OK)
        return gh_config_node_error(err, v, "the PDP host does not resolve");
    if (!d->u.tls && !gh_net_addr_is_loopback(&d->target.addr))
        return gh_config_node_error(err, v, "a PDP off this host must use https");
    return GH_OK;
}

static enum gh_rc pdp_key(struct gh_policy__pdp *d, const struct gh_config_node *v,
                          struct gh_config_error *err)
{
    static const char *const unreachable[] = {"deny", "unavailable"};
    int e = 0;
    if (strcmp(v->key, "url") == 0)
        return pdp_url(d, v, err);
    if (strcmp(v->key, "timeout_ms") == 0)
        return gh_policy__u64(v, 10, 60000, &d->timeout_ms, err);
    if (strcmp(v->key, "cache_ttl_ms") == 0)
        return gh_policy__u64(v, 0, 3600000, &d->ttl_ms, err);
    if (strcmp(v->key, "cache_entries") == 0)
        return gh_policy__u64(v, 16, 1u << 22, &d->entries, err);
    if (strcmp(v->key, "unreachable") == 0) {
        if (gh_policy__enum(v, unreachable, 2, &e, err))
            return GH_E_PARSE;
        d->unavailable_503 = e == 1;
        return GH_OK;
    }
    return gh_config_node_error(err, v,
                                "unknown key (expected url, timeout_ms, cache_ttl_ms, "
                                "cache_entries, unreachable)");
}

enum gh_rc gh_policy__pdp_compile(const struct gh_config_node *n, struct gh_policy__pdp **out,
                                  struct gh_config_error *err)
{
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n, "expected a mapping (url, timeout_ms, ...)");
    struct gh_policy__pdp *d = gh_xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->mu, NULL);
    d->timeout_ms = 2000;
    d->ttl_ms = 5000;
    d->entries = 4096;
    *out = d;
    for (size_t i = 0; i < n->n; i++)
        if (pdp_key(d, n->items[i], err))
            return GH_E_PARSE;
    if (!d->url)
        return gh_config_node_error(err, n, "pdp needs a url (the AuthZEN evaluation endpoint)");
    d->entries = (d->entries + CACHE_WAYS - 1) / CACHE_WAYS * CACHE_WAYS;
    d->cache = gh_xcalloc(d->entries, sizeof(*d->cache));
    if (d->u.tls)
        d->tls = gh_net_tls_client_ctx();
    snprintf(d->host_header, sizeof(d->host_header),
             d->u.family == GH_CONFIG_FAMILY_IPV6 ? "[%s]:%u" : "%s:%u", d->u.host, d->u.port);
    d->target.tls = d->tls;
    d->target.host_header = d->host_header;
    d->target.sni = d->u.tls && d->u.family == GH_CONFIG_FAMILY_NAME ? d->u.host : NULL;
    d->target.max_idle = 8;
    d->target.header_bytes = 16384;
    d->target.connect_ms = d->target.first_byte_ms = d->target.stream_idle_ms = d->timeout_ms;
    return GH_OK;
}

void gh_policy__pdp_free(struct gh_policy__pdp *d)
{
    if (!d)
        return;
    free(d->url);
    gh_config_url_release(&d->u);
    if (d->tls)
        SSL_CTX_free(d->tls);
    free(d->cache);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- the request ---- */

static void put_list(struct gh_buf *b, const char *name, const struct gh_slice *v, uint32_t n)
{
    gh_buf_appendf(b, ",\"%s\":[", name);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            gh_buf_append(b, ",", 1);
        gh_json_write_str(b, v[i].ptr, v[i].len);
    }
    gh_buf_append(b, "]", 1);
}

void gh_policy_authzen_request(const struct gh_policy_subject *s, const struct gh_policy_action *a,
                               struct gh_buf *b)
{
    static const char *const types[4] = {"method", "tool", "resource", "prompt"};
    gh_buf_puts(b, "{\"subject\":{\"type\":\"user\",\"id\":");
    gh_json_write_str(b, s->subject.ptr ? s->subject.ptr : "", s->subject.len);
    gh_buf_puts(b, ",\"properties\":{\"issuer\":");
    gh_json_write_str(b, s->issuer.ptr ? s->issuer.ptr : "", s->issuer.len);
    gh_buf_puts(b, ",\"client_id\":");
    gh_json_write_str(b, s->client_id.ptr ? s->client_id.ptr : "", s->client_id.len);
    put_list(b, "groups", s->groups, s->ngroups);
    put_list(b, "roles", s->roles, s->nroles);
    put_list(b, "scopes", s->scopes, s->nscopes);
    put_list(b, "act", s->act, s->nact);
    gh_buf_puts(b, "}},\"action\":{\"name\":");
    gh_json_write_str(b, a->method.ptr, a->method.len);
    gh_buf_appendf(b, "},\"resource\":{\"type\":\"%s\",\"id\":", types[a->kind]);
    struct gh_buf id;
    gh_buf_init(&id, a->upstream.len + a->name.len + 2);
    gh_buf_append(&id, a->upstream.ptr, a->upstream.len);
    if (a->name.len) {
        gh_buf_append(&id, ".", 1);
        gh_buf_append(&id, a->name.ptr, a->name.len);
    }
    gh_json_write_str(b, id.data ? id.data : "", id.len);
    gh_buf_release(&id);
    gh_buf_puts(b, ",\"properties\":{\"upstream\":");
    gh_json_write_str(b, a->upstream.ptr, a->upstream.len);
    gh_buf_puts(b, ",\"name\":");
    gh_json_write_str(b, a->name.ptr ? a->name.ptr : "", a->name.len);
    gh_buf_puts(b, ",\"arguments\":");
    if (a->args && a->args_tok >= 0) { /* validated JSON from our own parser: copied as is */
        struct gh_slice raw = gh_json_raw(a->args, (uint32_t)a->args_tok);
        gh_buf_append(b, raw.ptr, raw.len);
    } else {
        gh_buf_puts(b, "{}");
    }
    gh_buf_puts(b, "}},\"context\":{\"gateway\":\"gatehouse\"}}");
}

/* ---- the cache ---- */

static bool cache_get(struct gh_policy__pdp *d, const unsigned char key[32], bool *allow)
{
    if (!d->ttl_ms)
        return false;
    int64_t now = (int64_t)gh_clock_ms();
    size_t set = (size_t)(*(const uint64_t *)(const void *)key % (d->entries / CACHE_WAYS));
    bool hit = false;
    pthread_mutex_lock(&d->mu);
    for (size_t i = set * CACHE_WAYS; i < (set + 1) * CACHE_WAYS && !hit; i++) {
        struct cached *c = &d->cache[i];
        if (c->expires_ms > now && memcmp(c->key, key, 32) == 0) {
            *allow = c->allow;
            hit = true;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return hit;
}

static void cache_put(struct gh_policy__pdp *d, const unsigned char key[32], bool allow)
{
    if (!d->ttl_ms)
        return;
    int64_t now = (int64_t)gh_clock_ms();
    size_t set = (size_t)(*(const uint64_t *)(const void *)key % (d->entries / CACHE_WAYS));
    pthread_mutex_lock(&d->mu);
    struct cached *victim = &d->cache[set * CACHE_WAYS];
    for (size_t i = set * CACHE_WAYS; i < (set + 1) * CACHE_WAYS; i++) {
        struct cached *c = &d->cache[i];
        if (c->expires_ms <= now || memcmp(c->key, key, 32) == 0) {
            victim = c;
            break;
        }
        if (c->expires_ms < victim->expires_ms)
            victim = c;
    }
    memcpy(victim->key, key, 32);
    victim->allow = allow;
    victim->expires_ms = now + (int64_t)d->ttl_ms;
    pthread_mutex_unlock(&d->mu);
}

/* ---- the exchange ---- */

struct ask {
    struct gh_policy__pdp *d;
    const struct gh_policy *p; /* referenced for the exchange's life */
    unsigned char key[32];
    int status;
    struct gh_buf body;
    gh_policy_pdp_cb cb;
    void *arg;
};

static void ask_head(void *arg, const struct gh_http_response_head *h)
{
    ((struct ask *)arg)->status = h->status;
}

static void ask_body(void *arg, const char *p, size_t n)
{
    struct ask *q = arg;
    if (gh_buf_append(&q->body, p, n) != GH_OK)
        q->status = -1; /* oversized: garbage */
}

/* 1 allow, 0 deny, -1 not an AuthZEN answer */
static int read_decision(const char *p, size_t n)
{
    struct gh_arena *a = gh_arena_new(2048);
    struct gh_json_doc d;
    int out = -1;
    if (gh_json_parse(a, p, n, NULL, &d, NULL) == GH_OK && d.toks[0].type == GH_JSON_OBJECT) {
        int32_t v = gh_json_obj_get(&d, 0, "decision", 8);
        if (v >= 0 && d.toks[v].type == GH_JSON_TRUE)
            out = 1;
        else if (v >= 0 && d.toks[v].type == GH_JSON_FALSE)
            out = 0;
    }
    gh_arena_free(a);
    return out;
}

static void ask_done(void *arg, enum gh_rc rc)
{
    struct ask *q = arg;
    int decision = rc == GH_OK && q->status == 200 ? read_decision(q->body.data, q->body.len) : -1;
    struct gh_policy_pdp_result r = {.unavailable_503 = q->d->unavailable_503};
    if (decision < 0) {
        r.reason = GH_POLICY_R_PDP_UNAVAILABLE;
        GH_LOGW("policy", "PDP %s unavailable (%s, status %d): denying", q->d->url, gh_rc_str(rc),
                q->status);
    } else {
        cache_put(q->d, q->key, decision == 1);
        r.verdict = decision == 1 ? GH_ALLOW : GH_DENY;
        r.reason = decision == 1 ? GH_POLICY_R_ALLOWED : GH_POLICY_R_PDP_DENY;
    }
    q->cb(q->arg, &r);
    gh_buf_release(&q->body);
    gh_policy_unref((struct gh_policy *)q->p);
    free(q);
}

static const struct gh_http_creq_cbs ASK_CBS = {ask_head, ask_body, ask_done};

void gh_policy_pdp_worker_fini(void)
{
    if (pool)
        gh_http_pool_free(pool);
    pool = NULL;
    pool_owner = NULL;
}

void gh_policy_pdp_ask(const struct gh_policy *p, const struct gh_policy_subject *s,
                       const struct gh_policy_action *a, gh_policy_pdp_cb cb, void *arg)
{
    struct gh_policy__pdp *d = p->pdp;
    struct gh_buf req;
    gh_buf_init(&req, 4u << 20);
    gh_policy_authzen_request(s, a, &req);
    unsigned char key[32];
    gh_sha256(req.data, req.len, key);
    bool allow = false;
    if (cache_get(d, key, &allow)) {
        struct gh_policy_pdp_result r = {.verdict = allow ? GH_ALLOW : GH_DENY,
                                         .reason =
                                             allow ? GH_POLICY_R_ALLOWED : GH_POLICY_R_PDP_DENY};
        gh_buf_release(&req);
        cb(arg, &r);
        return;
    }
    if (!pool || pool_owner != d) {
        gh_policy_pdp_worker_fini(); /* another policy generation's PDP */
        pool = gh_http_pool_new(gh_net_worker_current(), &d->target);
        pool_owner = d;
    }
    struct ask *q = gh_xcalloc(1, sizeof(*q));
    q->d = d;
    q->p = gh_policy_ref((struct gh_policy *)p);
    memcpy(q->key, key, 32);
    q->cb = cb;
    q->arg = arg;
    gh_buf_init(&q->body, PDP_ANSWER_MAX);
    static const struct gh_http_header h[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/json")},
        {GH_SLICE_LIT("Accept"), GH_SLICE_LIT("application/json")},
    };
    gh_http_client_send(pool, "POST", gh_slice_cstr(d->u.path), h, GH_ARRAY_LEN(h),
                        gh_slice(req.data, req.len), &ASK_CBS, q);
    gh_buf_release(&req);
}
