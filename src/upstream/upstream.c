/*
 * upstream/upstream.c owns HTTP upstream resolution and the per-worker keep-alive pools. Pools
 * live in thread-local storage: a pool belongs to the worker whose loop drives its sockets.
 */
#include "core/core.h"
#include "upstream/upstream.h"

#include <openssl/ssl.h>
#include <stdio.h>

static _Thread_local struct gh_http_pool **worker_pools;

static void target_init(struct gh_upstream_set *set, struct gh_upstream *u)
{
    const struct gh_config_upstream *up = u->conf;
    const struct gh_config *cfg = set->cfg;
    bool v6 = up->url.family == GH_CONFIG_FAMILY_IPV6;
    snprintf(u->host_header, sizeof(u->host_header), v6 ? "[%s]:%u" : "%s:%u", up->url.host,
             up->url.port);
    if (up->url.tls && !set->client_tls)
        set->client_tls = gh_net_tls_client_ctx();
    struct gh_http_client_target *t = &u->target;
    t->tls = up->url.tls ? set->client_tls : NULL;
    t->host_header = u->host_header;
    t->sni = up->url.tls && up->url.family == GH_CONFIG_FAMILY_NAME ? up->url.host : NULL;
    t->max_idle = up->max_connections;
    t->header_bytes = cfg->limits.header_bytes;
    t->connect_ms =
        up->timeouts.connect_ms ? up->timeouts.connect_ms : cfg->timeouts.upstream_connect_ms;
    t->first_byte_ms = up->timeouts.first_byte_ms ? up->timeouts.first_byte_ms
                                                  : cfg->timeouts.upstream_first_byte_ms;
    t->stream_idle_ms =
        up->timeouts.stream_idle_ms ? up->timeouts.stream_idle_ms : cfg->timeouts.stream_idle_ms;
}

enum gh_rc gh_upstream_set_new(struct gh_config *cfg, struct gh_upstream_set **out, char *err,
                               size_t errlen)
{
    struct gh_upstream_set *set = gh_xcalloc(1, sizeof(*set));
    set->cfg = gh_config_ref(cfg);
    set->n = cfg->n_upstreams;
    set->ups = gh_xcalloc(set->n ? set->n : 1, sizeof(*set->ups));
    gh_upstream_health_init(set);
    for (size_t i = 0; i < set->n; i++) {
        struct gh_upstream *u = &set->ups[i];
        u->conf = &cfg->upstreams[i];
        u->index = i;
        if (u->conf->kind == GH_CONFIG_UPSTREAM_STDIO) {
            /* reached through children, not sockets; the request deadline still applies */
            u->target.first_byte_ms = u->conf->timeouts.first_byte_ms
                                          ? u->conf->timeouts.first_byte_ms
                                          : cfg->timeouts.upstream_first_byte_ms;
            continue;
        }
        if (gh_net_addr_resolve(u->conf->url.host, u->conf->url.port, &u->target.addr) != GH_OK) {
            snprintf(err, errlen, "upstream %s: cannot resolve its host", u->conf->name);
            gh_upstream_set_free(set);
            return GH_E_IO;
        }
        target_init(set, u);
    }
    *out = set;
    return GH_OK;
}

void gh_upstream_set_free(struct gh_upstream_set *set)
{
    if (!set)
        return;
    if (set->client_tls)
        SSL_CTX_free(set->client_tls);
    free(set->health);
    free(set->ups);
    gh_config_unref(set->cfg);
    free(set);
}

void gh_upstream_worker_init(const struct gh_upstream_set *set, struct gh_net_worker *w)
{
    worker_pools = gh_xcalloc(set->n ? set->n : 1, sizeof(*worker_pools));
    for (size_t i = 0; i < set->n; i++)
        if (set->ups[i].conf->kind == GH_CONFIG_UPSTREAM_HTTP)
            worker_pools[i] = gh_http_pool_new(w, &set->ups[i].target);
}

void gh_upstream_worker_fini(const struct gh_upstream_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (worker_pools[i])
            gh_http_pool_free(worker_pools[i]);
    gh_free(&worker_pools);
}

struct gh_http_pool *gh_upstream_pool(const struct gh_upstream *u)
{
    return worker_pools[u->index];
}

const struct gh_upstream *gh_upstream_by_path(const struct gh_upstream_set *set,
                                              struct gh_slice path)
{
    for (size_t i = 0; i < set->n; i++)
        if (gh_slice_eq_cstr(path, set->ups[i].conf->path))
            return &set->ups[i];
    return NULL;
}
