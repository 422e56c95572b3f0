/*
 * upstream: the MCP servers behind the gateway, as the request path reaches them. For HTTP
 * upstreams: the address resolved at load, TLS, timeouts, and each worker's keep-alive pool.
 * (stdio children — spawn, supervise, reap — join here with the upstream-fleet stage.)
 */
#ifndef GH_UPSTREAM_H
#define GH_UPSTREAM_H

#include "config/config.h"
#include "core/core.h"
#include "http/http.h"

/** One configured upstream, resolved. Immutable once the set is built. */
struct gh_upstream {
    const struct gh_config_upstream *conf; /* in the config generation the set references */
    struct gh_http_client_target target;   /* resolved address, TLS, limits, timeouts */
    size_t index;                          /* position in the set (and in each worker's pools) */
    char host_header[300];                 /* Host sent upstream: "host:port" */
};

/** Every upstream of one config generation. */
struct gh_upstream_set {
    struct gh_config *cfg;   /* referenced */
    struct gh_upstream *ups; /* n entries */
    size_t n;
    struct ssl_ctx_st *client_tls; /* shared by https upstreams; NULL when none */
};

/**
 * Resolves every upstream of cfg (getaddrinfo: blocking, so call at load on the main thread).
 * err gets "upstream NAME: why" on failure.
 */
enum gh_rc gh_upstream_set_new(struct gh_config *cfg, struct gh_upstream_set **out, char *err,
                               size_t errlen);
void gh_upstream_set_free(struct gh_upstream_set *set);
/** Creates this worker's pools (on the worker thread). */
void gh_upstream_worker_init(const struct gh_upstream_set *set, struct gh_net_worker *w);
/** Frees this worker's pools (on the worker thread). */
void gh_upstream_worker_fini(const struct gh_upstream_set *set);
/** This worker's keep-alive pool for u. */
struct gh_http_pool *gh_upstream_pool(const struct gh_upstream *u);
/** The upstream served at a gateway path, or NULL. */
const struct gh_upstream *gh_upstream_by_path(const struct gh_upstream_set *set,
                                              struct gh_slice path);

#endif
