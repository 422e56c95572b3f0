/* mcp/internal.h: what the files of mcp/ share; nothing outside mcp/ includes it. */
#ifndef GH_MCP_INTERNAL_H
#define GH_MCP_INTERNAL_H

#include "auth/auth.h"
#include "json/json.h"
#include "mcp/mcp.h"
#include "policy/policy.h"
#include "propagation/propagation.h"
#include "audit/audit.h"
#include "upstream/upstream.h"

#include <pthread.h>
#include <stdatomic.h>

struct gh_mcp_session;
struct gh_mcp_stream;

struct gh_mcp_endpoint;

/** Where a path leads: one upstream, or an aggregated endpoint (then u is its first member). */
struct gh_mcp_route {
    const struct gh_upstream *u;
    const struct gh_mcp_endpoint *ep;
    const void *key; /* what sessions are bound to: the endpoint, else the upstream */
    const struct gh_auth_principal *principal; /* who is asking; NULL without auth */
};

struct gh_mcp_gateway {
    struct gh_config *cfg;
    struct gh_upstream_set *upstreams; /* owned */
    struct gh_mcp_endpoint *endpoints; /* owned; cfg->n_endpoints */
    struct gh_auth_gate *auth;         /* inbound authentication; NULL: none (insecure mode) */
    struct gh_policy *policy; /* owned; compiled from cfg->policy (disabled when absent); swapped
                               * by a reload, so read it through gh_mcp_policy_get() */
    pthread_mutex_t policy_lock;
    struct gh_prop *prop;        /* owned; outbound identity per upstream (propagation:) */
    struct gh_net_cidr *trusted; /* owned; gateway.trusted_proxies, parsed */
    size_t ntrusted;
    struct gh_audit *audit; /* the trail (the runtime's); NULL: none */
    /* sessions the gateway holds upstream for 2026-07-28 clients and shared children, by
     * (route, principal) (bridge.c; gw->lock) */
    struct gh_mcp_held_slot *held;
    size_t nheld, held_cap;
    atomic_bool closing; /* shutdown: no restarts */
    /* session table: a small open hash guarded by one lock (sessions are rare next to requests) */
    pthread_mutex_t lock;
    struct gh_mcp_session **buckets;
    size_t nbuckets;
    size_t nsessions;
    struct gh_mcp_principal_count **pcounts; /* open sessions per principal, nbuckets (gw->lock) */
    _Atomic size_t inflight;
};

/* ---- sessions (session.c) ---- */

/** The principal key of the request being handled on this thread ("" without auth): sessions
 *  created meanwhile belong to it, and sessions of another principal are not found. */
extern _Thread_local char gh_mcp_current_principal[65];
/** The principal itself, while its request is handled on this thread (NULL without auth). */
extern _Thread_local struct gh_auth_principal *gh_mcp_current_subject;

/** The current policy, referenced (gh_policy_unref when done): a reload may swap it meanwhile. */
struct gh_policy *gh_mcp_policy_get(struct gh_mcp_gateway *gw);

/* ---- forwarded client addresses (forwarded.c) ---- */

void gh_mcp_trusted_proxies_build(struct gh_mcp_gateway *gw);
/** The client's address into out: the peer's, or when the peer is a trusted proxy, the one its
 *  Forwarded / X-Forwarded-For chain names ("unknown" when that is not an address); then proxy
 *  gets the peer's and the result is true. */
bool gh_mcp_client_address(const struct gh_mcp_gateway *gw, struct gh_http_req *r, char out[64],
                           char proxy[64]);

/* ---- inspection boundaries (inspect.c) ---- */

struct gh_mcp_reqaudit;
/** msg (a single JSON-RPC request) without the params.arguments members the JSON Pointers name
 *  (malloc'ed, *outlen set; removed[i] says whether ptrs[i] matched), or NULL when none did. */
char *gh_mcp_redact_bytes(const char *msg, size_t len, const char *const *ptrs, size_t np,
                          bool *removed, size_t *outlen);
/** The same for a JSON-RPC response: members of its result (an error answer is left alone). */
char *gh_mcp_redact_result_bytes(const char *msg, size_t len, const char *const *ptrs, size_t np,
                                 bool *removed, size_t *outlen);
/** An answer from upstream index `upstream` without its redact.results members (malloc'ed,
 *  *outlen set), or NULL when nothing was removed; *mask gets a bit per pointer removed. */
char *gh_mcp_redact_answer(struct gh_mcp_gateway *gw, size_t upstream, const char *msg, size_t len,
                           size_t *outlen, unsigned *mask);
/** Whether answers from upstream index `upstream` are redacted. */
bool gh_mcp_redacts_results(struct gh_mcp_gateway *gw, size_t upstream);

/** False (err set) when policy p has a rule that reads arguments of an upstream declared
 *  inspect: method. */
bool gh_mcp_inspect_policy_ok(const struct gh_mcp_gateway *gw, const struct gh_policy *p, char *err,
                              size_t errlen);
/** Removes the route upstream's redact.arguments members from a single request's arguments
 *  (r's body is replaced; body, the parse of the original, stays valid); ra lists them. */
void gh_mcp_redact_arguments(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                             struct gh_http_req *r, const struct gh_jsonrpc_body *body,
                             struct gh_mcp_reqaudit *ra);

/* ---- trace context (trace.c) ---- */

/** "00-<trace id>-<gateway span>-01" of r's audit context into out; false without one. */
bool gh_mcp_trace_parent(struct gh_http_req *r, char out[56]);
/** A single request's bytes with params._meta.traceparent set to traceparent (malloc'ed, *outlen
 *  set), or NULL when msg is no single JSON-RPC request object (then sent as it is). */
char *gh_mcp_trace_meta(const char *msg, size_t len, const char *traceparent, size_t *outlen);

/* ---- audit records (record.c) ---- */

/** What a request's records share: correlation id, trace, start time (request arena). */
struct gh_mcp_reqaudit {
    char rid[17];
    struct gh_audit_trace trace;
    uint64_t t0_us;
    struct gh_mcp_gateway *gw;
    struct gh_http_req *r;
    size_t upstream; /* config index of the route's (first) upstream: latency metric label */
    const char *redacted[GH_PROP_MAX_REDACTIONS]; /* JSON Pointers removed from the arguments */
    size_t nredacted;
    _Atomic unsigned redacted_results; /* bit i: redact.results[i] was removed from the answer
                                        * (set by whichever worker holds the answer) */
};
/** Without a traceparent header, a single request's params._meta.traceparent is the caller's. */
void gh_mcp_trace_adopt_meta(struct gh_mcp_reqaudit *ra, struct gh_http_req *r,
                             const struct gh_jsonrpc_body *body);
/** The request's audit context; its request.outcome is written when r is freed. */
struct gh_mcp_reqaudit *gh_mcp_reqaudit_new(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                            size_t upstream);
/** False when the record could not be queued: the request is then refused (503), not run
 *  unrecorded. */
bool gh_mcp_record_decision(struct gh_mcp_gateway *gw, const struct gh_mcp_reqaudit *ra,
                            const struct gh_auth_principal *p, const struct gh_policy_action *a,
                            const struct gh_policy_decision *d);
void gh_mcp_record_auth_failure(struct gh_mcp_gateway *gw, struct gh_http_req *r, int status,
                                const char *error, const char *reason);
void gh_mcp_record_session(struct gh_mcp_gateway *gw, const struct gh_mcp_session *s, bool start,
                           const char *reason);
/** A live session id presented by another principal or on another route (answered 404). */
void gh_mcp_record_session_refused(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                   const struct gh_auth_principal *p, const char *reason);
void gh_mcp_record_tool_changed(void *arg, struct gh_slice upstream, struct gh_slice name,
                                const char *approved, const char *now);

/* ---- authorization (authorize.c) ---- */

enum gh_mcp_authz {
    GH_MCP_AUTHZ_DENIED = 0, /* answered */
    GH_MCP_AUTHZ_OK = 1,     /* go on now */
    GH_MCP_AUTHZ_PENDING,    /* the PDP is asked; cont(arg, allowed) runs later on this worker */
};
/** Policy for every message of body (decisions, pinning, PDP, limits); answers refusals. */
enum gh_mcp_authz gh_mcp_authorize(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                                   struct gh_http_req *r, const struct gh_jsonrpc_body *body,
                                   const struct gh_mcp_reqaudit *ra,
                                   void (*cont)(void *arg, bool go), void *arg);
/** The policy view of principal p (NULL: anonymous). Slices point into p. */
void gh_mcp_subject_of(const struct gh_auth_principal *p, struct gh_policy_subject *s);
/** A static list method name when m is one (tools/list...), else NULL. */
const char *gh_mcp_list_method(struct gh_slice m);
/**
 * A list answer filtered for principal p (upstream's own names, or namespaced ones after
 * name_prefix bytes); NULL when nothing needs filtering (no policy, not a list result).
 */
char *gh_mcp_filter_answer(struct gh_mcp_gateway *gw, const struct gh_auth_principal *p,
                           struct gh_slice upstream, const char *method, size_t name_prefix,
                           const char *msg, size_t len, size_t *outlen);

/** A gateway session: the client sees only id; the upstream's id never leaves the gateway. */
struct gh_mcp_session {
    struct gh_mcp_session *next; /* bucket chain; guarded by gw->lock */
    int refs;                    /* guarded by gw->lock */
    char id[48];                 /* 256 random bits, base64url */
    char principal[65];          /* whose it is (gh_auth_principal_key); "" without auth */
    char *upstream_id;           /* owned; may be NULL (upstream without sessions) */
    const void *route; /* the upstream or endpoint it belongs to (compared, never followed) */
    struct gh_mcp_gateway *gw;
    char version[16];              /* negotiated protocol version, "" until known */
    _Atomic uint64_t last_used_ms; /* requests and stream traffic keep a session alive */
    pthread_mutex_t lock;          /* guards everything below */
    bool closed;
    struct gh_mcp_bridge
        *bridge; /* message-level sessions (stdio upstreams); NULL for pass-through */
    struct gh_mcp_session *shared; /* a client session riding a shared child's held session (ref) */
    struct gh_mcp_stream *streams; /* retained SSE streams, newest first */
    uint32_t next_stream;
    size_t nstreams;
};

/** Whether one more session may open for the principal of this thread: false when
 *  limits.sessions_total is reached (*per_principal false) or this authenticated principal
 *  already holds limits.sessions_per_principal (*per_principal true). Checked before the
 *  upstream is asked; gh_mcp_session_create checks again under the same lock. */
bool gh_mcp_session_admit(struct gh_mcp_gateway *gw, bool *per_principal);

/** Frees the per-principal session counts (gateway teardown). */
void gh_mcp_sessions_counts_free(struct gh_mcp_gateway *gw);

struct gh_mcp_session *gh_mcp_session_create(struct gh_mcp_gateway *gw, const void *route,
                                             struct gh_slice upstream_id);
/** The same for a given principal key ("": anonymous) rather than this thread's; on a refusal
 *  (NULL) *per_principal says whether the principal's share, not sessions_total, was reached. */
struct gh_mcp_session *gh_mcp_session_create_for(struct gh_mcp_gateway *gw, const void *route,
                                                 struct gh_slice upstream_id, const char *principal,
                                                 bool *per_principal);
/** Answers the refusal of one more session: 429 when the principal holds its share of
 *  limits.sessions_per_principal, 503 when limits.sessions_total is reached. */
void gh_mcp_reply_session_limit(struct gh_mcp_gateway *gw, struct gh_http_req *r,
                                struct gh_slice id, bool per_principal);
/** Finds by id and route, with a reference; NULL when unknown or closed. When the id is live
 *  but belongs to another principal or route, *why (if given) says so: "other_principal" or
 *  "other_route" (the caller answers 404 all the same). */
struct gh_mcp_session *gh_mcp_session_find(struct gh_mcp_gateway *gw, struct gh_slice id,
                                           const void *route, const char **why);
void gh_mcp_session_unref(struct gh_mcp_gateway *gw, struct gh_mcp_session *s);
void gh_mcp_session_ref(struct gh_mcp_gateway *gw, struct gh_mcp_session *s);
/** Removes from the table and ends its streams. */
void gh_mcp_session_close(struct gh_mcp_gateway *gw, struct gh_mcp_session *s);
/** The same, saying why in its session.end record ("delete", "idle", "upstream_gone"...). */
void gh_mcp_session_close_why(struct gh_mcp_gateway *gw, struct gh_mcp_session *s, const char *why);
void gh_mcp_session_set_version(struct gh_mcp_session *s, struct gh_slice v);

/* ---- streams (stream.c) ---- */

/** Feeding a stream from an upstream response: producer side. */
/** What a stream may ask of its producer; runs on the producer's worker. */
enum gh_mcp_producer_op {
    GH_MCP_PRODUCER_PAUSE = 1,
    GH_MCP_PRODUCER_RESUME,
    GH_MCP_PRODUCER_CANCEL, /* the producer must not call gh_mcp_stream_finish afterwards */
};
typedef void (*gh_mcp_producer_fn)(void *producer, enum gh_mcp_producer_op op);
/** A new stream fed by producer on the calling worker (returned with one reference: the
 * producer's). */
struct gh_mcp_stream *gh_mcp_stream_new(struct gh_mcp_session *s, bool is_get, size_t replay_cap,
                                        gh_mcp_producer_fn control, void *producer);
/** Appends one event (assigns the gateway id); may pause the producer. */
void gh_mcp_stream_append(struct gh_mcp_stream *st, const struct gh_sse_event *ev);
/** The upstream side ended (rc GH_OK: normally). The producer is forgotten. */
void gh_mcp_stream_finish(struct gh_mcp_stream *st, enum gh_rc rc);
/** Attaches a client response (already started as SSE) from the event after last_seq. */
void gh_mcp_stream_attach(struct gh_mcp_stream *st, struct gh_http_req *r, uint64_t after_seq);
/** Finds the stream named by a Last-Event-ID ("<stream>-<seq>") within s, with a reference.
 *  NULL with *trimmed when that stream exists but its replay buffer (limits.sse_replay_bytes)
 *  no longer holds every event after the id. */
struct gh_mcp_stream *gh_mcp_stream_find(struct gh_mcp_session *s, struct gh_slice last_event_id,
                                         uint64_t *seq, bool *trimmed);
/** An unfinished GET stream of s with no reader (or any, with attached_too), referenced. */
struct gh_mcp_stream *gh_mcp_stream_find_get(struct gh_mcp_session *s, bool attached_too);
void gh_mcp_stream_unref(struct gh_mcp_stream *st);
/**
 * True when st is a POST stream the upstream closed before answering (SEP-1699: the server may
 * close and let the client poll): the gateway then resumes the upstream with GET + its last
 * event id. Copies that id into id (n bytes).
 */
bool gh_mcp_stream_resumable_upstream(struct gh_mcp_stream *st, char *id, size_t n);
/** Makes producer (on this worker) feed st again; st takes no new events from the old one. */
void gh_mcp_stream_adopt_producer(struct gh_mcp_stream *st, gh_mcp_producer_fn control,
                                  void *producer);
void gh_mcp_stream_ref(struct gh_mcp_stream *st);
/** Marks st as the answer stream of a list request for who (referenced). */
void gh_mcp_stream_set_list(struct gh_mcp_stream *st, const char *list_method,
                            struct gh_auth_principal *who);
/** The list method st answers (NULL when none) and a new reference to whose list it is. */
const char *gh_mcp_stream_list(const struct gh_mcp_stream *st, struct gh_auth_principal **who);
/** True while a client response is attached to st. */
bool gh_mcp_stream_has_consumer(struct gh_mcp_stream *st);
/** Members of an answer's result were removed (redact.results): the outcome record of the
 *  request reading the stream says so, when that request is on this worker. */
void gh_mcp_stream_note_redacted(struct gh_mcp_stream *st, unsigned mask);
/** Marks a stream whose events may go unheard (a session's server-initiated messages): past the
 *  replay cap the oldest events are dropped instead of pausing a producer. */
void gh_mcp_stream_set_lossy(struct gh_mcp_stream *st);
/** True once a JSON-RPC response (result or error) went through st. */
bool gh_mcp_stream_answered(struct gh_mcp_stream *st);
/** The highest sequence number some client has received (0 when none). */
uint64_t gh_mcp_stream_delivered(struct gh_mcp_stream *st);
/** Ends all streams of a closing session (called with s->lock held). */
void gh_mcp_streams_close_locked(struct gh_mcp_session *s);

/* ---- ingress (ingress.c) ---- */

/** Answers a gateway-made error: HTTP status plus a JSON-RPC error body (id may be empty). */
void gh_mcp_reply_error(struct gh_http_req *r, int status, struct gh_slice id, int code,
                        const char *msg);
/** Host and Origin checks (DNS rebinding); answers 403 itself and returns GH_DENY. */
enum gh_verdict gh_mcp_check_origin(const struct gh_mcp_gateway *gw, struct gh_http_req *r);
bool gh_mcp_accepts(struct gh_slice accept, const char *type);
bool gh_mcp_version_known(struct gh_slice v);

/* ---- requests in flight per principal (inflight.c) ---- */
/** Takes one of key's cap slots; false (nothing taken) when all are held. *held: the count
 *  before. Any thread. */
bool gh_mcp_inflight_take(const char *key, uint64_t cap, uint64_t *held);
void gh_mcp_inflight_give(const char *key);
/** Requests key has in flight now. */
uint64_t gh_mcp_inflight_of(const char *key);
/** limits.concurrent_requests_per_principal for this thread's principal: takes a slot given
 *  back when r is freed, or answers 429 (Retry-After, JSON-RPC error for id) and returns false. */
bool gh_mcp_inflight_admit(struct gh_mcp_gateway *gw, struct gh_http_req *r, struct gh_slice id);

/* ---- stateless revision (stateless.c) ---- */
/** MCP error codes added by 2026-07-28. */
enum gh_mcp_err {
    GH_MCP_ERR_HEADER_MISMATCH = -32020,
    GH_MCP_ERR_MISSING_CAPABILITY = -32021,
    GH_MCP_ERR_UNSUPPORTED_VERSION = -32022,
};
/** True when the request's MCP-Protocol-Version is of the stateless era (2026 or later). */
bool gh_mcp_stateless_request(struct gh_http_req *r);
/** Checks a stateless POST (headers against the body, _meta) and forwards it without session. */
void gh_mcp_stateless_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *route,
                           struct gh_http_req *r, const struct gh_jsonrpc_body *body);
/** 400 -32022 listing the versions served and the one requested. */
void gh_mcp_reply_unsupported_version(struct gh_http_req *r, struct gh_slice id,
                                      struct gh_slice requested);
/** The same; all_eras false lists only the session-era versions. */
void gh_mcp_reply_unsupported_version_of(struct gh_http_req *r, struct gh_slice id,
                                         struct gh_slice requested, bool all_eras);

/* ---- channels (channel.c): one upstream, message by message ---- */
struct gh_mcp_channel;
/** What a channel reports; both run on the home worker. */
struct gh_mcp_channel_cbs {
    void (*on_message)(void *arg, size_t idx, const char *msg, size_t len);
    /** The upstream is gone (child exited, upstream session ended); no callback follows, and
     *  the channel frees itself afterwards: the owner forgets it (never closes it). */
    void (*on_gone)(void *arg, size_t idx, const char *why);
};
/** Opens a channel to u on this worker: spawns a stdio child, or prepares an HTTP client. */
enum gh_rc gh_mcp_channel_open(const struct gh_upstream *u, size_t idx,
                               const struct gh_mcp_channel_cbs *cbs, void *arg,
                               size_t message_bytes, bool stateless, struct gh_mcp_channel **out,
                               char *err, size_t errlen);
/** The static credentials (propagation headers) its HTTP requests carry. */
void gh_mcp_channel_set_identity(struct gh_mcp_channel *ch, const struct gh_prop_upstream *pu);
/** Sends one message; gid names a request (an HTTP failure is answered as an error for it). */
enum gh_rc gh_mcp_channel_send(struct gh_mcp_channel *ch, const char *msg, size_t len, uint64_t gid,
                               bool is_init);
/** After initialize: the negotiated version (HTTP: header; opens the GET stream). */
void gh_mcp_channel_initialized(struct gh_mcp_channel *ch, struct gh_slice version);
/** Stops the child or ends the upstream session; no callback after this call. */
void gh_mcp_channel_close(struct gh_mcp_channel *ch);
pid_t gh_mcp_channel_pid(const struct gh_mcp_channel *ch);
/** True for a live stdio child that has said nothing (no answer, progress or request) since
 *  since_ms: with a request of then past its deadline, it is hung. False for HTTP channels. */
bool gh_mcp_channel_silent_since(const struct gh_mcp_channel *ch, uint64_t since_ms);

/* ---- bridge (bridge.c): message-level sessions; aggregate.c composes many upstreams ---- */

/** A virtual server: one path, several upstreams behind namespaced names. */
struct gh_mcp_endpoint {
    const char *path;
    const struct gh_upstream **ups; /* in the upstream set */
    size_t nups;
    char separator; /* between upstream name and tool/prompt name */
};

struct gh_mcp_fanout;
struct gh_mcp_agg;

/** A client request waiting for its answer (home worker only). */
struct gh_mcp_pending {
    struct gh_mcp_pending *next;
    uint64_t gid;            /* the id an upstream sees; 0 for a fan-out's parent */
    size_t ch;               /* the channel it went to */
    char *client_id;         /* raw JSON of the client's id (NULL for fan-out parts) */
    char *progress_token;    /* raw JSON of params._meta.progressToken, or NULL */
    struct gh_http_req *req; /* touched only on req_w; NULL for fan-out parts */
    struct gh_net_worker *req_w;
    struct gh_mcp_stream *st; /* once answered as SSE */
    uint64_t sent_ms; /* when it went upstream: a child silent since then and past the deadline
                       * is hung */
    uint64_t deadline_ms;
    bool initialize;
    bool stateless;                     /* a 2026-07-28 client: its result gets resultType */
    const struct gh_mcp_session *owner; /* the client session on a shared child (matching only) */
    char *client_token; /* the client's own progress token, when the gateway replaced it */
    /** Set on gateway-made requests: gets the answer instead of a client. */
    void (*on_answer)(struct gh_mcp_bridge *b, const char *msg, size_t len);
    struct gh_mcp_fanout *fan;           /* the parent's merge state */
    struct gh_auth_principal *principal; /* who asked (ref), for filtering its lists */
    const char *list_method;             /* set when the request is a list request */
    struct gh_mcp_pending *parent;       /* set on fan-out parts */
};

/** A request from an upstream, waiting for the client's answer. */
struct gh_mcp_server_req {
    struct gh_mcp_server_req *next;
    uint64_t sid;      /* the client sees "s<sid>" */
    size_t ch;         /* the upstream that asked */
    char *upstream_id; /* raw JSON of the upstream's id */
};

/** Lives exactly as long as its session (freed with it); tasks hold session references. */
struct gh_mcp_bridge {
    struct gh_mcp_gateway *gw;
    struct gh_mcp_session *sess;      /* the owner */
    const struct gh_mcp_endpoint *ep; /* aggregated endpoint, or NULL for a single upstream */
    const struct gh_upstream **ups;   /* channel i reaches ups[i] */
    struct gh_mcp_channel **ch;
    size_t nch;
    struct gh_net_worker *home;
    struct gh_mcp_pending *pending;
    struct gh_mcp_server_req *sreqs;
    uint64_t next_gid, next_sid;
    struct gh_mcp_stream *events; /* server-initiated messages, for the client's GET */
    struct gh_net_timer *tick;
    struct gh_mcp_agg *agg; /* aggregate.c: per-upstream state, resource owners */
    bool closed;
    /* held (2026-07-28 clients on a session-era route): the gateway is the upstream's client */
    bool held, held_ready;
    char *held_init;                   /* raw JSON of the upstream's initialize result */
    struct gh_mcp_client_msg *queue;   /* requests that arrived before initialize finished */
    struct gh_mcp_listener *listeners; /* subscriptions/listen streams */
    struct gh_mcp_session **thin;      /* client sessions riding this shared child (refs) */
    size_t nthin;
    uint64_t opened_ms;
    const void *route_key;
    uint64_t respawn_at_ms; /* a shared child stopped as hung: start the next one then (0: no) */
};

/** True when u is reached message by message (stdio) rather than by HTTP pass-through. */
bool gh_mcp_bridged(const struct gh_upstream *u);
/** A POST on a bridged route (ep NULL: the single upstream u); s is NULL for initialize. */
void gh_mcp_bridge_post(struct gh_mcp_gateway *gw, const struct gh_upstream *u,
                        const struct gh_mcp_endpoint *ep, struct gh_http_req *r,
                        struct gh_mcp_session *s, const struct gh_jsonrpc_body *body);
/** A GET on a bridged session: the session's server-initiated messages. */
void gh_mcp_bridge_get(struct gh_mcp_gateway *gw, struct gh_http_req *r, struct gh_mcp_session *s);
/** A 2026-07-28 request on a session-era route (stdio, aggregated): the gateway holds an
 *  upstream session for the route and answers as a stateless server. */
void gh_mcp_held_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                      struct gh_http_req *r, struct gh_slice id);
/** True when u's child is shared by every session (mode: shared). */
bool gh_mcp_shared(const struct gh_upstream *u);
/** A session-era POST on a shared stdio route; s is the client's session, NULL for initialize. */
void gh_mcp_shared_post(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                        struct gh_http_req *r, struct gh_mcp_session *s,
                        const struct gh_jsonrpc_body *body);
/** Frees a closed bridge with its session. */
void gh_mcp_bridge_free(struct gh_mcp_bridge *b);
/** The session closes (DELETE, idle, upstream gone): stop its children (any thread). */
void gh_mcp_bridge_session_closed(struct gh_mcp_session *s);

/* bridge.c services for aggregate.c */
struct gh_mcp_pending *gh_mcp_pending_add(struct gh_mcp_bridge *b, size_t ch);
void gh_mcp_pending_answer(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, char *msg,
                           size_t len);
void gh_mcp_pending_fail(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, int code,
                         const char *why);
/** Sends msg (its id replaced by p->gid) to p's channel; false when the channel failed. */
bool gh_mcp_bridge_send_request(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, const char *msg,
                                size_t len, struct gh_slice id_span);
char *gh_mcp_splice(const char *msg, size_t len, struct gh_slice span, const char *repl,
                    size_t *outlen);

/* aggregate.c */
/** Handles a client request on an aggregated session; p is registered, not yet sent. */
void gh_mcp_agg_request(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                        const struct gh_jsonrpc_body *body, const char *msg, size_t len);
/** A fan-out part answered (msg NULL: it failed); the part is freed by the caller. */
void gh_mcp_agg_part_done(struct gh_mcp_bridge *b, struct gh_mcp_pending *part, const char *msg,
                          size_t len);
/** Routes a client notification on an aggregated session. */
void gh_mcp_agg_notification(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body,
                             const char *msg, size_t len);
void gh_mcp_agg_free(struct gh_mcp_bridge *b);
void gh_mcp_fanout_free(struct gh_mcp_fanout *f);

/* ---- proxy (proxy.c) ---- */
/** Forwards a checked 2026 request: no session, mirrored headers passed on. */
void gh_mcp_proxy_post_stateless(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                                 struct gh_http_req *r, const char *list_method);
void gh_mcp_proxy_post(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                       struct gh_http_req *r, struct gh_mcp_session *s,
                       const struct gh_jsonrpc_body *body);
/** GET to the upstream; with resume set, feeds that stream again from the upstream's last id. */
void gh_mcp_proxy_get(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                      struct gh_http_req *r, struct gh_mcp_session *s, struct gh_mcp_stream *resume,
                      const char *upstream_last_id, uint64_t after_seq);
void gh_mcp_proxy_delete(struct gh_mcp_gateway *gw, const struct gh_upstream *route,
                         struct gh_http_req *r, struct gh_mcp_session *s);

#endif
