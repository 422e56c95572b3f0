/*
 * http: HTTP/1.1 server and upstream client with their own connection state machines over net/,
 * the strict parsers and SSE framing (http_parse.h), header limits and hygiene.
 *
 * Server: one request at a time per connection; the head and the whole body (capped) are read
 * before the handler runs, because every MCP message must be parsed before it is routed.
 * Responses are streamed: start, write any number of times, flush, end.
 * Client: per-worker keep-alive pools per upstream; responses are streamed to callbacks.
 */
#ifndef GH_HTTP_H
#define GH_HTTP_H

#include "core/core.h"
#include "http/http_parse.h"
#include "net/net.h"

struct ssl_ctx_st;

/* ------------------------------------------------------------------ server */

/** Limits and timeouts of one server (copied at creation). */
struct gh_http_server_limits {
    size_t header_bytes;  /* request head cap: 431 past it */
    size_t headers_count; /* header field count cap: 431 */
    size_t body_bytes;    /* request body cap: 413 */
    size_t out_bytes;     /* unsent response bytes a connection may hold before writes fail */
    size_t connections;   /* open connections per server; past it new ones get 503 and close */
    uint64_t header_ms;   /* deadline for a complete head: 408 and close */
    uint64_t body_ms;     /* deadline for a complete body: 408 and close */
    uint64_t idle_ms;     /* keep-alive idle: close */
};

struct gh_http_server;
struct gh_http_req;
/** Called once per complete request; the handler owns one reference to req until it ends it. */
typedef void (*gh_http_handler)(struct gh_http_req *req, void *ctx);

/** Creates a server; tls may be NULL. The server is shared by all workers (it holds no loop state).
 */
struct gh_http_server *gh_http_server_new(const struct gh_http_server_limits *lim,
                                          struct ssl_ctx_st *tls, gh_http_handler h, void *ctx);
void gh_http_server_free(struct gh_http_server *srv);
/** Takes an accepted fd (net's on_accept signature, arg = the server). */
void gh_http_server_accept(struct gh_net_worker *w, int fd, const struct gh_net_addr *peer,
                           void *srv);
/** Drain this worker: finish in-flight responses, close idle connections, no more keep-alive. */
void gh_http_server_drain(struct gh_net_worker *w);
/** Connections open on this worker (all servers). */
size_t gh_http_server_conns(struct gh_net_worker *w);

/* request accessors: valid while the caller holds a reference */
const struct gh_http_request_head *gh_http_req_head(const struct gh_http_req *r);
struct gh_slice gh_http_req_body(const struct gh_http_req *r);
/** What gh_http_req_body returns from now on (copied into the request arena; the received
 *  bytes stay valid for slices already taken from them): a redacted body, for example. */
void gh_http_req_replace_body(struct gh_http_req *r, const char *p, size_t n);
struct gh_arena *gh_http_req_arena(struct gh_http_req *r);
const struct gh_net_addr *gh_http_req_peer(const struct gh_http_req *r);
/** The local address the request arrived on (listener address). */
const struct gh_net_addr *gh_http_req_local(const struct gh_http_req *r);
bool gh_http_req_tls(const struct gh_http_req *r);
struct gh_net_worker *gh_http_req_worker(const struct gh_http_req *r);
/** First header of that name, or an empty slice with ptr NULL. */
struct gh_slice gh_http_req_header(const struct gh_http_req *r, const char *name);
/**
 * A per-connection slot for the layers above (e.g. the last verified token); what it holds is
 * freed with free_fn when the connection closes. NULL once the connection is gone.
 */
void **gh_http_req_conn_memo(struct gh_http_req *r, void (*free_fn)(void *));
/** False once the client connection is gone (writes are then dropped). */
bool gh_http_req_connected(const struct gh_http_req *r);
void gh_http_req_ref(struct gh_http_req *r);
void gh_http_req_unref(struct gh_http_req *r);
/** fn(arg) runs once if the client goes away before the response ends. */
/** Runs fn(arg) when r is freed, however its exchange ended (up to 4, in order; on whichever
 *  thread drops the last reference). */
void gh_http_req_on_free(struct gh_http_req *r, void (*fn)(void *), void *arg);
/** One pointer the application keeps with the request (in its arena, or outliving it). */
void gh_http_req_set_app(struct gh_http_req *r, void *app);
void *gh_http_req_app(const struct gh_http_req *r);
/** The status the response started with (0 before), and the body bytes written so far. */
int gh_http_req_resp_status(const struct gh_http_req *r);
uint64_t gh_http_req_resp_bytes(const struct gh_http_req *r);
/** From now on the response body is digested (SHA-256) and its last tail_cap bytes kept, so
 *  what was answered can be recorded once the exchange ends (audit). */
void gh_http_req_observe_body(struct gh_http_req *r, size_t tail_cap);
/** The digest of the body written so far; false unless observed. Once per request. */
bool gh_http_req_resp_digest(struct gh_http_req *r, unsigned char out[32]);
/** Copies the kept tail of the body (at most cap bytes, oldest first); its length. */
size_t gh_http_req_resp_tail(const struct gh_http_req *r, char *out, size_t cap);
void gh_http_req_on_abort(struct gh_http_req *r, void (*fn)(void *), void *arg);
/** fn(arg) runs when unsent response bytes fall to zero after a write had to wait. */
void gh_http_req_on_drain(struct gh_http_req *r, void (*fn)(void *), void *arg);

/**
 * Starts the response. content_length < 0 streams the body with chunked framing.
 * Hop-by-hop and framing headers in hdrs are the caller's bug (the server writes its own).
 */
void gh_http_resp_start(struct gh_http_req *r, int status, const struct gh_http_header *hdrs,
                        size_t nhdrs, int64_t content_length);
/** Queues body bytes. GH_E_CLOSED if the client is gone; GH_E_LIMIT if out_bytes would be exceeded.
 */
enum gh_rc gh_http_resp_write(struct gh_http_req *r, const void *p, size_t n);
/** Writes what is queued now (resp_write only queues; resp_end flushes). */
void gh_http_resp_flush(struct gh_http_req *r);
/** Unsent bytes of this response. */
size_t gh_http_resp_pending(const struct gh_http_req *r);
/** Ends the response and drops the handler's reference (also the way to let go of a request
 *  whose client went away, started or not). */
void gh_http_resp_end(struct gh_http_req *r);
/** A complete response in one call (start, write, end). */
void gh_http_resp_simple(struct gh_http_req *r, int status, const char *content_type,
                         const void *body, size_t len, const struct gh_http_header *hdrs,
                         size_t nhdrs);
/** Marks the connection to close after this response (e.g. after a framing error). */
void gh_http_resp_close_after(struct gh_http_req *r);
const char *gh_http_status_text(int status);

/* ------------------------------------------------------------------ client */

/** Where and how to reach one upstream (copied into each pool). */
struct gh_http_client_target {
    struct gh_net_addr addr; /* resolved at load time */
    struct ssl_ctx_st *tls;  /* NULL for http */
    const char *host_header; /* Host value to send ("host:port") */
    const char *sni;         /* TLS server name, or NULL */
    size_t max_idle;         /* keep-alive connections kept per worker */
    size_t header_bytes;     /* response head cap */
    uint64_t connect_ms;     /* connect (and TLS handshake) timeout */
    uint64_t first_byte_ms;  /* request sent → response head complete */
    uint64_t stream_idle_ms; /* longest silence inside a response body */
};

struct gh_http_pool;
struct gh_http_creq;
/** Callbacks of one upstream exchange; on_done runs exactly once, last. */
struct gh_http_creq_cbs {
    /** The response head arrived (slices valid during the call). */
    void (*on_head)(void *arg, const struct gh_http_response_head *h);
    /** Body bytes, de-chunked. */
    void (*on_body)(void *arg, const char *p, size_t n);
    /** GH_OK after the whole body; otherwise the error (GH_E_TIMEOUT, GH_E_UPSTREAM, GH_E_IO...).
     */
    void (*on_done)(void *arg, enum gh_rc rc);
};

struct gh_http_pool *gh_http_pool_new(struct gh_net_worker *w,
                                      const struct gh_http_client_target *t);
void gh_http_pool_free(struct gh_http_pool *p);
/**
 * Sends one request (headers must include everything but Host, Content-Length and Connection).
 * The body is copied. The exchange runs on the pool's worker; callbacks run there too.
 */
struct gh_http_creq *gh_http_client_send(struct gh_http_pool *p, const char *method,
                                         struct gh_slice target, const struct gh_http_header *hdrs,
                                         size_t nhdrs, struct gh_slice body,
                                         const struct gh_http_creq_cbs *cbs, void *arg);
/** Abandons the exchange: no callback runs afterwards; the connection is closed. */
void gh_http_creq_cancel(struct gh_http_creq *r);
/** Stops (true) or resumes (false) reading the response body: backpressure. */
void gh_http_creq_pause(struct gh_http_creq *r, bool paused);

#endif
