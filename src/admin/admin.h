/*
 * admin: the gateway's operational endpoints — /healthz (the process serves) and /readyz (it
 * accepts traffic: listeners up, not draining), /metrics (Prometheus text), and the RFC 9728
 * well-known documents.
 */
#ifndef GH_ADMIN_H
#define GH_ADMIN_H

#include "core/core.h"
#include "http/http.h"
#include "config/config.h"
#include "upstream/upstream.h"

struct gh_audit;

#include <stdatomic.h>

/** Process-wide state the endpoints report; written by the CLI, read by workers. */
struct gh_admin_state {
    atomic_bool ready;                       /* listeners bound and workers running */
    atomic_bool draining;                    /* shutdown started */
    const char *version;                     /* build version */
    const struct gh_upstream_set *upstreams; /* their health goes into /readyz; may be NULL */
    const struct gh_config_auth *auth;       /* publishes RFC 9728 metadata when set */
    bool (*serves_path)(void *ctx, struct gh_slice path); /* which MCP paths exist */
    void *serves_ctx;
    const struct gh_config *cfg;  /* upstream names for /metrics labels; may be NULL */
    const struct gh_audit *audit; /* the trail's gauges in /metrics; may be NULL */
};

/** GET /metrics (Prometheus text format); false for any other path. */
bool gh_admin_metrics_handle(const struct gh_admin_state *st, struct gh_http_req *r);

/**
 * Answers the request when its path is an admin endpoint and returns true (the request is then
 * ended); returns false and leaves the request alone otherwise.
 */
bool gh_admin_handle(const struct gh_admin_state *st, struct gh_http_req *r);

/**
 * Writes the Protected Resource Metadata (RFC 9728) for the MCP path `path` (empty: the root
 * document): resource = auth->resource + path, the issuers, every configured scope, the bearer
 * method and, when any issuer accepts DPoP, its algorithms.
 */
enum gh_rc gh_admin_prm_document(const struct gh_config_auth *a, struct gh_slice path,
                                 struct gh_buf *out);
/**
 * Answers GET /.well-known/oauth-protected-resource[/<mcp path>] when auth is configured
 * (404 for a path that serves no MCP endpoint); returns false for any other request.
 */
bool gh_admin_prm_handle(const struct gh_admin_state *st, struct gh_http_req *r);

#endif
