/*
 * mcp: the conductor of the request path for MCP Streamable HTTP — ingress checks (Host, Origin,
 * Accept, Content-Type, protocol version, JSON-RPC validity, batches), gateway-minted sessions
 * mapped to upstream sessions, and the proxy that forwards POST/GET/DELETE and relays JSON and
 * SSE answers, with a capped gateway-side replay buffer for Last-Event-ID resumption.
 */
#ifndef GH_MCP_H
#define GH_MCP_H

#include "config/config.h"
#include "core/core.h"
#include "http/http.h"
#include "net/net.h"

struct gh_mcp_gateway;

/**
 * Builds the gateway from a validated config (holds a reference to it). Resolves upstream host
 * names (blocking: call on the main thread at load). err gets a message on failure.
 */
enum gh_rc gh_mcp_gateway_new(struct gh_config *cfg, struct gh_mcp_gateway **out, char *err,
                              size_t errlen);
void gh_mcp_gateway_free(struct gh_mcp_gateway *gw);
/** Creates this worker's upstream pools; runs on the worker thread. */
void gh_mcp_worker_init(struct gh_mcp_gateway *gw, struct gh_net_worker *w);
/** Frees this worker's pools; runs on the worker thread before it stops. */
void gh_mcp_worker_fini(struct gh_mcp_gateway *gw, struct gh_net_worker *w);
/** True when path is served by one of the upstream routes. */
bool gh_mcp_serves_path(const struct gh_mcp_gateway *gw, struct gh_slice path);
/** Handles one HTTP request on an MCP path (takes over the handler's reference). */
void gh_mcp_handle(struct gh_mcp_gateway *gw, struct gh_http_req *r);
/** Drops sessions idle for longer than the configured session_idle_ms (main thread). */
void gh_mcp_sessions_sweep(struct gh_mcp_gateway *gw);
struct gh_auth_gate;
/** Requires a valid access token on every MCP request from now on (gate outlives gw). */
void gh_mcp_gateway_set_auth(struct gh_mcp_gateway *gw, struct gh_auth_gate *gate);
struct gh_audit;
/** The audit trail records go to (the runtime owns it and closes it after the workers stop). */
void gh_mcp_gateway_set_audit(struct gh_mcp_gateway *gw, struct gh_audit *a);
struct gh_config_node;
struct gh_config_error;
/**
 * Compiles tree (a policy: section; NULL = no policy) against the running configuration's
 * upstreams and identity settings and, when it compiles, makes it the policy of every request
 * that starts from now on (requests under way finish under the one they started with). The
 * digests before and after go to before/after (72 bytes each). On error nothing changes.
 */
enum gh_rc gh_mcp_gateway_reload_policy(struct gh_mcp_gateway *gw,
                                        const struct gh_config_node *tree,
                                        struct gh_config_error *err, char before[72],
                                        char after[72]);
struct gh_prop;
/** Outbound identity (its JWKS is served by the runtime; its keys rotate on gh_prop_tick). */
struct gh_prop *gh_mcp_gateway_propagation(struct gh_mcp_gateway *gw);
/** The running policy's digest ("sha256:…", or "none"). */
void gh_mcp_gateway_policy_digest(struct gh_mcp_gateway *gw, char out[72]);
/** Shutdown has begun: no upstream is (re)started any more. */
void gh_mcp_gateway_closing(struct gh_mcp_gateway *gw);
struct gh_upstream_set;
/** The gateway's upstreams (for health probes and /readyz). */
struct gh_upstream_set *gh_mcp_gateway_upstreams(struct gh_mcp_gateway *gw);
/** Live gateway sessions. */
size_t gh_mcp_sessions_count(struct gh_mcp_gateway *gw);
/** Exchanges in flight (for draining). */
size_t gh_mcp_inflight(struct gh_mcp_gateway *gw);
/** The protocol versions this gateway speaks, newest first, NULL-terminated. */
extern const char *const GH_MCP_VERSIONS[];

#endif
