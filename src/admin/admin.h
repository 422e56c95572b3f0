/*
 * admin: the gateway's operational endpoints — /healthz (the process serves) and /readyz (it
 * accepts traffic: listeners up, not draining). Later: Prometheus metrics, well-known documents.
 */
#ifndef GH_ADMIN_H
#define GH_ADMIN_H

#include "core/core.h"
#include "http/http.h"
#include "upstream/upstream.h"

#include <stdatomic.h>

/** Process-wide state the endpoints report; written by the CLI, read by workers. */
struct gh_admin_state {
    atomic_bool ready;                       /* listeners bound and workers running */
    atomic_bool draining;                    /* shutdown started */
    const char *version;                     /* build version */
    const struct gh_upstream_set *upstreams; /* their health goes into /readyz; may be NULL */
};

/**
 * Answers the request when its path is an admin endpoint and returns true (the request is then
 * ended); returns false and leaves the request alone otherwise.
 */
bool gh_admin_handle(const struct gh_admin_state *st, struct gh_http_req *r);

#endif
