/*
 * cli/connect_internal.h: what the files of `gatehouse connect` share — the bridge state
 * (connect.c), HTTP exchanges on the network worker (connect_http.c), OAuth discovery and grants
 * (connect_oauth.c), the loopback redirect listener and the browser (connect_loopback.c), and the
 * token file (connect_store.c).
 *
 * Threads: the main thread reads stdin and runs authorization (it may block for minutes on a
 * user); one net/ worker runs every HTTP exchange and streams responses to stdout. They meet on
 * ghc.mu / ghc.cv. Tokens live on the main thread only and are never logged.
 */
#ifndef GH_CLI_CONNECT_INTERNAL_H
#define GH_CLI_CONNECT_INTERNAL_H

#include "core/core.h"
#include "http/http.h"

#include <pthread.h>

#define GHC_MAX_LINE    (4u << 20)   /* one JSON-RPC message read from stdin */
#define GHC_MAX_BODY    (16u << 20)  /* one buffered (non-SSE) response body */
#define GHC_MAX_EVENT   (16u << 20)  /* one SSE event */
#define GHC_MAX_SMALL   (256u << 10) /* metadata and token responses */
#define GHC_MAX_HEADERS 8
#define GHC_MAX_ORIGINS 16
#define GHC_STR         512 /* session ids, versions, header values we keep */

/** An absolute http(s) URL split for sending (owned copies). */
struct ghc_url {
    char host[256];        /* without brackets */
    char host_header[300]; /* "host:port" ("[v6]:port") */
    char *target;          /* "/path?query", owned */
    uint16_t port;
    bool tls;
};
enum gh_rc ghc_url_parse(const char *s, struct ghc_url *out, const char **why);
void ghc_url_release(struct ghc_url *u);

/** Tokens and what is needed to refresh them, for one MCP server URL (connect_store.c). */
struct ghc_token {
    char *url;            /* the MCP server URL as given: the key */
    char *resource;       /* RFC 8707 resource (the protected-resource metadata's resource) */
    char *issuer;         /* the authorization server */
    char *client_id;      /* the public client the tokens belong to */
    char *token_endpoint; /* where refresh goes */
    char *access_token;   /* secret: never logged or printed */
    char *refresh_token;  /* secret: never logged or printed */
    int64_t expires_at;   /* wall-clock seconds; 0 = unknown */
};
void ghc_token_release(struct ghc_token *t);
/** The token directory ($XDG_CONFIG_HOME or ~/.config, then gatehouse/tokens) into out. */
enum gh_rc ghc_store_dir(char *out, size_t n);
/** Loads the tokens kept for t->url (set by the caller). GH_E_DECLINED when there are none. */
enum gh_rc ghc_store_load(struct ghc_token *t);
/** Saves t (mode 0600, directory 0700, atomic rename). */
enum gh_rc ghc_store_save(const struct ghc_token *t);
/** The file that holds t->url's tokens into out. */
enum gh_rc ghc_store_path(const char *url, char *out, size_t n);

/** The bridge. */
struct ghc {
    /* options */
    const char *url;
    const char *client_id_opt;
    const char *scope_opt;
    bool device, no_browser;
    uint64_t auth_timeout_ms;
    uint64_t request_timeout_ms;
    struct ghc_url mcp;
    /* runtime */
    struct gh_net_worker **workers; /* one worker: every exchange runs on it */
    struct ssl_ctx_st *tls;
    pthread_mutex_t mu; /* guards the fields below and every ghc_xfer's response state */
    pthread_cond_t cv;
    pthread_mutex_t out_mu; /* one stdout line at a time */
    char session_id[GHC_STR];
    char protocol_version[64];
    size_t inflight;
    /* worker only */
    struct ghc_origin *origins[GHC_MAX_ORIGINS];
    size_t norigins;
    /* main thread only */
    struct ghc_token tok;
    struct ghc_loopback *lbs[8]; /* redirect listeners, freed once the worker stopped */
    size_t nlbs;
    struct ghc_xfer *get; /* the session's GET stream, once opened */
};

/** One HTTP exchange, started from the main thread and run on the worker. */
struct ghc_xfer {
    struct ghc *c;
    char *method;
    struct ghc_url u;
    struct gh_net_addr addr; /* resolved by the main thread */
    struct gh_http_header hdrs[GHC_MAX_HEADERS];
    size_t nhdrs;
    char *body;
    size_t blen;
    bool stream; /* an MCP exchange: messages go to stdout as they arrive */
    bool initialize;
    bool get;                  /* the GET stream for server messages outside a request */
    struct gh_http_creq *creq; /* worker only */
    bool cancel_ran;           /* ghc_xfer_cancel's task is over: x may be freed */
    char *id_raw;              /* the request's id as sent (stream mode), or NULL */
    /* response: written on the worker under c->mu */
    int status;
    char ctype[128];
    char www_auth[2048];
    char location[2048];
    struct gh_buf rbody;
    struct gh_sse_parser sse;
    bool sse_mode, answered;
    enum gh_rc rc;
    bool head, done, detached;
};

struct ghc_xfer *ghc_xfer_new(struct ghc *c, const char *method, const struct ghc_url *u);
/** Adds a header (name must be static; value is copied). */
void ghc_xfer_header(struct ghc_xfer *x, const char *name, const char *value);
void ghc_xfer_body(struct ghc_xfer *x, const char *p, size_t n);
void ghc_xfer_start(struct ghc_xfer *x);
/** Waits for the response head (or the end when head_only is false); false on timeout. */
bool ghc_xfer_wait(struct ghc_xfer *x, bool head_only, uint64_t timeout_ms);
/** The main thread is done with x: freed now, or by the worker when the exchange ends. */
void ghc_xfer_release(struct ghc_xfer *x);
/** Ends the exchange x (the main thread still holds it) and waits until it is over. */
void ghc_xfer_cancel(struct ghc_xfer *x);
/** A small request with a buffered answer: status (0 when unreachable) and body into out. */
enum gh_rc ghc_fetch(struct ghc *c, const char *method, const char *url, const char *ctype,
                     const char *body, size_t blen, int *status, struct gh_buf *out);

/** Starts and stops the network worker. */
void ghc_net_start(struct ghc *c);
void ghc_net_stop(struct ghc *c);
/** Runs fn(arg) on the worker. */
void ghc_net_post(struct ghc *c, void (*fn)(void *), void *arg);
/** Writes one message as one stdout line (embedded newlines become spaces). */
void ghc_out_line(struct ghc *c, const char *p, size_t n);
/** Writes a JSON-RPC error for id_raw (NULL: null) on stdout. */
void ghc_out_error(struct ghc *c, const char *id_raw, size_t id_len, int code, const char *msg);

/** Gets a token for the MCP server: a full authorization (www_auth: the 401's challenge). */
enum gh_rc ghc_oauth_authorize(struct ghc *c, const char *www_auth);
/** Refreshes c->tok with its refresh token; saves it. */
enum gh_rc ghc_oauth_refresh(struct ghc *c);
/** Appends s as application/x-www-form-urlencoded. */
void ghc_form_add(struct gh_buf *b, const char *name, const char *value);
/** The value of parameter name in a query/form string, decoded (malloc'd), or NULL. */
char *ghc_query_get(struct gh_slice q, const char *name);
/** The value of auth-param name in a WWW-Authenticate Bearer challenge (malloc'd), or NULL. */
char *ghc_challenge_param(const char *h, const char *name);

/** The loopback redirect listener (RFC 8252 §7.3): 127.0.0.1, random port, /callback. */
struct ghc_loopback;
struct ghc_loopback *ghc_loopback_open(struct ghc *c, uint16_t *port);
/** Waits for the redirect; code or error (malloc'd) and state. false on timeout. */
bool ghc_loopback_wait(struct ghc_loopback *lb, uint64_t timeout_ms, char **code, char **state,
                       char **error);
void ghc_loopback_close(struct ghc_loopback *lb);
void ghc_loopback_free(struct ghc_loopback *lb);
/** Opens url with $BROWSER (or xdg-open); the child's stdout goes to stderr. */
void ghc_browser_open(const char *url);

#endif
