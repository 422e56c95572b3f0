/*
 * propagation: how identity leaves the gateway, per upstream. The caller's own token never does;
 * instead, per upstream, nothing (`none`), a short-lived JWT the gateway signs for that
 * upstream's audience (`assertion`, verifiable with the keys the gateway publishes at
 * /.well-known/jwks.json), or a token the enterprise IdP issues by RFC 8693 token exchange
 * (`token-exchange`). Static credentials for legacy upstreams come only from env:/file:
 * references and are marked as such. The `propagation:` section is owned here.
 */
#ifndef GH_PROPAGATION_H
#define GH_PROPAGATION_H

#include "config/config.h"
#include "core/core.h"
#include "http/http.h"

struct gh_prop;
struct gh_prop_upstream;

enum gh_prop_mode {
    GH_PROP_NONE = 0,
    GH_PROP_ASSERTION,
    GH_PROP_TOKEN_EXCHANGE,
};

#define GH_PROP_TYP         "gatehouse-assertion+jwt" /* JOSE typ of the gateway's assertions */
#define GH_PROP_TTL_MAX_S   60
#define GH_PROP_MAX_HEADERS 8 /* static headers per upstream */

/**
 * Compiles the propagation: section (NULL: every upstream `none`, no keys) against cfg's
 * upstreams. Reads key files and credential references now. Errors name the key path.
 */
enum gh_rc gh_prop_compile(const struct gh_config *cfg, const struct gh_config_node *node,
                           struct gh_prop **out, struct gh_config_error *err);
void gh_prop_free(struct gh_prop *p);

/** check-config: one line per upstream given a static (not identity-derived) credential. */
size_t gh_prop_warnings(const struct gh_prop *p, void (*fn)(void *arg, const char *line),
                        void *arg);

/** The settings of the upstream with config index i (never NULL: `none` when not listed). */
const struct gh_prop_upstream *gh_prop_upstream(const struct gh_prop *p, size_t i);
enum gh_prop_mode gh_prop_upstream_mode(const struct gh_prop_upstream *u);
const char *gh_prop_mode_str(enum gh_prop_mode m);
/** The audience identity sent to this upstream is for (its URL unless configured). */
const char *gh_prop_upstream_audience(const struct gh_prop_upstream *u);
/** The upstream's name, and its URL as the RFC 8707 resource (empty for stdio). */
const char *gh_prop_upstream_name(const struct gh_prop_upstream *u);
const char *gh_prop_upstream_resource(const struct gh_prop_upstream *u);
/** True when the upstream gets static credentials (headers: from references). */
bool gh_prop_upstream_static(const struct gh_prop_upstream *u);
/** Its static headers (values read at load); the count. */
size_t gh_prop_upstream_headers(const struct gh_prop_upstream *u, struct gh_http_header *out,
                                size_t cap);

/** What the gateway may read of an upstream's traffic (declared: propagation.upstreams.NAME.
 *  inspect). Larger reads more; the default is RESULTS (everything). */
enum gh_prop_inspect {
    GH_PROP_INSPECT_METHOD = 1,    /* method and name only: no arguments, no results */
    GH_PROP_INSPECT_ARGUMENTS = 2, /* and the arguments; not the results */
    GH_PROP_INSPECT_RESULTS = 3,   /* and the results */
};
#define GH_PROP_MAX_REDACTIONS 16
enum gh_prop_inspect gh_prop_upstream_inspect(const struct gh_prop_upstream *u);
const char *gh_prop_inspect_str(enum gh_prop_inspect i);
/** The JSON Pointers (RFC 6901, into params.arguments) removed before forwarding; the count. */
size_t gh_prop_upstream_redactions(const struct gh_prop_upstream *u, const char *const **out);
/** The JSON Pointers (into a response's result) removed before the client sees it; the count. */
size_t gh_prop_upstream_result_redactions(const struct gh_prop_upstream *u,
                                          const char *const **out);

/** Who the outbound identity is about, and for what (slices valid during the call). */
struct gh_prop_subject {
    struct gh_slice iss, sub, client_id;
    const struct gh_slice *scopes;
    uint32_t nscopes;
    const struct gh_slice *act; /* the caller's actor chain, outermost first */
    uint32_t nact;
    struct gh_slice method, tool; /* the MCP method; tool/prompt name or resource URI */
    struct gh_slice session;      /* digest of the gateway session, or empty */
    struct gh_slice trace_id;     /* W3C trace id, or empty */
};

/** A signed assertion for upstream u ("header.payload.signature", malloc'ed), NULL when no key
 *  can sign. Scopes are the caller's, narrowed to the upstream's configured ceiling. */
char *gh_prop_assertion(struct gh_prop *p, const struct gh_prop_upstream *u,
                        const struct gh_prop_subject *s);
/** Whether any upstream uses assertions (then the JWKS document is served). */
bool gh_prop_signs(const struct gh_prop *p);
/** The public keys as a JWKS document (malloc'ed JSON, *len set): current and recent keys. */
char *gh_prop_jwks(struct gh_prop *p, size_t *len);
/** Rotation of generated keys; call about once a second (any thread). */
void gh_prop_tick(struct gh_prop *p);

/* ---- token exchange (RFC 8693; mode token-exchange) ---- */

struct gh_prop_exchange; /* one under way */
enum gh_prop_exchange_state {
    GH_PROP_EXCHANGE_FAILED = 0, /* no token can be had: refuse the request (503) */
    GH_PROP_EXCHANGE_CACHED,     /* *cached is "Bearer <token>" (malloc'ed) */
    GH_PROP_EXCHANGE_PENDING,    /* the callback runs once, later, on this worker */
};
/** authorization: "Bearer <token>" (valid during the call), or NULL when the IdP refused or
 *  could not be reached. */
typedef void (*gh_prop_exchange_cb)(void *arg, const char *authorization);
/**
 * A token for upstream u on behalf of s, from the cache or by exchanging subject_token (the
 * caller's validated access token) at the IdP. Runs on a worker thread.
 */
enum gh_prop_exchange_state gh_prop_exchange_start(struct gh_prop *p,
                                                   const struct gh_prop_upstream *u,
                                                   const struct gh_prop_subject *s,
                                                   struct gh_slice subject_token,
                                                   gh_prop_exchange_cb cb, void *arg, char **cached,
                                                   struct gh_prop_exchange **pending);
/** Abandons a pending exchange: its callback will not run. */
void gh_prop_exchange_cancel(struct gh_prop_exchange *e);

#endif
