/*
 * config: the gateway's configuration — one YAML file loaded into plain typed structs, checked
 * with errors that name file:line:column and the key path, and shared between threads as
 * refcounted, immutable generations (a reload builds a new one and swaps the pointer).
 *
 * Operator reference: docs/configuration.md. Every value here is owned by the struct gh_config
 * that holds it and lives exactly as long as that generation.
 */
#ifndef GH_CONFIG_H
#define GH_CONFIG_H

#include "core/core.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest configuration file or string accepted (bytes). */
#define GH_CONFIG_MAX_BYTES (1024 * 1024)
/** List caps: more entries than this is an error, not a truncation. */
#define GH_CONFIG_MAX_LISTENERS          64
#define GH_CONFIG_MAX_UPSTREAMS          256
#define GH_CONFIG_MAX_ALLOWED            256 /* per allowed_origins / allowed_hosts list */
#define GH_CONFIG_MAX_ENDPOINTS          64
#define GH_CONFIG_MAX_ENDPOINT_UPSTREAMS 64 /* members of one aggregated endpoint */
/** Upper bound of gateway.workers. */
#define GH_CONFIG_MAX_WORKERS 256

/** Address family of a listener or URL host. */
enum gh_config_family {
    GH_CONFIG_FAMILY_IPV4 = 1, /* dotted quad */
    GH_CONFIG_FAMILY_IPV6 = 2, /* written in brackets; host holds it without them */
    GH_CONFIG_FAMILY_NAME = 3, /* a DNS name (listeners accept only "localhost") */
};

/** A parsed "host:port" listener address. */
struct gh_config_addr {
    char *host;                   /* owned; "127.0.0.1", "::1" (no brackets), "localhost" */
    uint16_t port;                /* 0 means ephemeral (tests) */
    enum gh_config_family family; /* how host is written */
};

/**
 * A parsed upstream URL, from the strict parser in config/ (see gh_config_url_parse): only http
 * and https, a host is required, no userinfo, no fragment, no spaces or control characters.
 */
struct gh_config_url {
    bool tls;                     /* true for https */
    char *host;                   /* owned, lower-cased; IPv6 without brackets */
    enum gh_config_family family; /* how host is written */
    uint16_t port;                /* explicit port, else 80 / 443 */
    char *path;                   /* owned; path plus "?query" if any; "/" when the URL had none */
};

/** TLS material of a listener; both files were readable when the config was validated. */
struct gh_config_tls {
    char *certificate; /* owned; PEM certificate chain path */
    char *key;         /* owned; PEM private key path */
};

/** One listening socket. */
struct gh_config_listener {
    struct gh_config_addr addr; /* where to listen */
    struct gh_config_tls *tls;  /* owned; NULL for plain HTTP */
};

/** Per-upstream timeout overrides; 0 means "use the global timeouts.upstream_* value". */
struct gh_config_upstream_timeouts {
    uint64_t connect_ms;     /* TCP (+TLS) connect */
    uint64_t first_byte_ms;  /* request sent -> first response byte */
    uint64_t stream_idle_ms; /* longest silence on an open SSE stream */
};

/** How the gateway reaches an upstream: exactly one of url (HTTP) or command (stdio). */
enum gh_config_upstream_kind {
    GH_CONFIG_UPSTREAM_HTTP = 0,  /* Streamable HTTP at url (zeroed structs are HTTP) */
    GH_CONFIG_UPSTREAM_STDIO = 1, /* a local program spawned with command, NDJSON on stdio */
};

/** Which stdio children serve which client sessions. */
enum gh_config_stdio_mode {
    GH_CONFIG_STDIO_PER_SESSION = 0, /* one child per client session (default) */
    GH_CONFIG_STDIO_SHARED = 1,      /* one child for every session */
};

/** Where the value of a child's environment variable comes from. */
enum gh_config_env_kind {
    GH_CONFIG_ENV_LITERAL = 0,   /* value is the text itself (never a secret: refused at load) */
    GH_CONFIG_ENV_FROM_ENV = 1,  /* "env:NAME": the gateway's variable NAME, read at spawn */
    GH_CONFIG_ENV_FROM_FILE = 2, /* "file:/abs/path": that file's content, read at spawn */
};

/** One variable of a stdio child's environment. */
struct gh_config_env {
    char *name;                   /* owned; [A-Za-z_][A-Za-z0-9_]*, unique in the list */
    enum gh_config_env_kind kind; /* literal or reference */
    char *value; /* owned; the literal, the variable name (FROM_ENV) or the path (FROM_FILE) */
};

/** One MCP server behind the gateway. */
struct gh_config_upstream {
    char *name;                                  /* owned; [A-Za-z0-9_-]{1,64}, unique */
    enum gh_config_upstream_kind kind;           /* HTTP (url) or stdio (command) */
    struct gh_config_url url;                    /* HTTP: where the upstream listens */
    char *path;                                  /* owned; gateway path serving it, unique */
    bool path_default;                           /* path was derived, not written */
    uint64_t max_connections;                    /* HTTP: keep-alive pool cap per worker; stdio 0 */
    struct gh_config_upstream_timeouts timeouts; /* overrides; 0 = global */
    /* ---- stdio only (NULL / 0 for HTTP upstreams) ---- */
    char *command;                  /* owned; absolute path, or a bare name looked up in env PATH */
    char **argv;                    /* owned, NULL-terminated; argv[0] is command as written */
    char *cwd;                      /* owned; absolute directory, NULL = the gateway's */
    struct gh_config_env *env;      /* owned; the child's whole environment */
    size_t n_env;                   /* entries in env */
    enum gh_config_stdio_mode mode; /* per-session (default) or shared */
    uint64_t message_bytes; /* cap on one JSON-RPC line each way; default limits.body_bytes */
    uint64_t stop_grace_ms; /* SIGTERM -> SIGKILL delay; default 2000 */
};

/**
 * An aggregated endpoint: one MCP server at path made of several upstreams, their tools and
 * prompts named "<upstream><separator><name>".
 */
struct gh_config_endpoint {
    char *path;       /* owned; gateway path, unique among endpoints and upstream paths */
    char **upstreams; /* owned upstream names (each defined in upstreams:) */
    size_t n_upstreams;
    char separator; /* '.' (default), '_' or '-'; never a character of a member's name */
};

/* ---- auth: inbound OAuth 2.1 resource server ---- */

/** Caps of the auth section; more entries than this is an error. */
#define GH_CONFIG_MAX_ISSUERS     16
#define GH_CONFIG_MAX_AUDIENCES   32  /* per issuer */
#define GH_CONFIG_MAX_SCOPES      64  /* tokens in one scope list */
#define GH_CONFIG_MAX_SCOPE_RULES 256 /* entries of scopes.methods, of scopes.upstreams */

/**
 * JWS algorithms accepted for access tokens and DPoP proofs, as a bitmask. Only asymmetric ones
 * exist here: "none" and the HMAC family (HS*) are refused at load, so the configuration, never a
 * token's header, decides which verification is possible.
 */
enum gh_config_alg {
    GH_ALG_RS256 = 1 << 0, /* RSASSA-PKCS1-v1_5 with SHA-256 */
    GH_ALG_PS256 = 1 << 1, /* RSASSA-PSS with SHA-256 */
    GH_ALG_ES256 = 1 << 2, /* ECDSA P-256 with SHA-256 */
    GH_ALG_ES384 = 1 << 3, /* ECDSA P-384 with SHA-384 */
    GH_ALG_EDDSA = 1 << 4, /* EdDSA (Ed25519) */
};
/** Every member of enum gh_config_alg. */
#define GH_CONFIG_ALG_ALL (GH_ALG_RS256 | GH_ALG_PS256 | GH_ALG_ES256 | GH_ALG_ES384 | GH_ALG_EDDSA)

/** Whether an issuer's tokens may, must or must not be DPoP-bound (RFC 9449). */
enum gh_config_dpop_mode {
    GH_CONFIG_DPOP_ALLOWED = 0,  /* bearer and DPoP both accepted (default) */
    GH_CONFIG_DPOP_OFF = 1,      /* DPoP-bound tokens and DPoP proofs refused */
    GH_CONFIG_DPOP_REQUIRED = 2, /* only DPoP-bound tokens with a valid proof */
};

/**
 * A secret given by reference, never inline (same forms as upstream env values). Resolved again
 * each time it is used; checked to resolve when the configuration is validated.
 */
struct gh_config_ref {
    enum gh_config_env_kind kind; /* FROM_ENV or FROM_FILE; LITERAL never validates */
    char *target;                 /* owned; the variable name (FROM_ENV) or absolute path */
};

/** Names of the claims that carry authorization data in an issuer's tokens. */
struct gh_config_auth_claims {
    char *groups;    /* owned; default "groups" */
    char *roles;     /* owned; default "roles" */
    char *client_id; /* owned; default "client_id" (RFC 9068) */
};

/** Token introspection (RFC 7662) for opaque tokens, authenticated with private_key_jwt. */
struct gh_config_auth_introspection {
    char *endpoint;                   /* owned; NULL = discovery's introspection_endpoint */
    char *client_id;                  /* owned; the gateway's client id at the issuer */
    struct gh_config_ref private_key; /* PEM private key signing the RFC 7523 client assertion */
    enum gh_config_alg key_alg;       /* GH_ALG_RS256 (default) or GH_ALG_ES256 */
    uint64_t ttl_ms;                  /* positive results cached at most min(exp, ttl); 1..300000 */
    uint64_t negative_ttl_ms;         /* negative results cached; 0..60000 (0 = not cached) */
    uint64_t timeout_ms;              /* whole introspection request; 1..30000 */
};

/** One trusted authorization server. */
struct gh_config_auth_issuer {
    char *issuer;           /* owned; the exact "iss" value; https or http on loopback; unique */
    char *discovery_url;    /* owned; NULL = issuer + RFC 8414 / OIDC well-known paths */
    char *jwks_uri;         /* owned; NULL = jwks_uri from discovery */
    unsigned algorithms;    /* bitmask of enum gh_config_alg; never 0 */
    char **audiences;       /* owned; extra accepted "aud" values (absolute URIs) */
    size_t n_audiences;     /* entries in audiences */
    char **max_scopes;      /* owned; NULL = any; else a token with another scope is refused
                               (a delegating gateway may narrow scopes, never widen them) */
    size_t n_max_scopes;    /* entries in max_scopes */
    char *token_type;       /* owned; when set the JOSE "typ" must equal it; NULL = not checked */
    uint64_t clock_skew_ms; /* leeway on exp/nbf/iat; 0..300000 */
    struct gh_config_auth_claims claims;                /* claim names */
    struct gh_config_auth_introspection *introspection; /* owned; NULL = JWTs only */
    enum gh_config_dpop_mode dpop;                      /* default allowed */
    bool allow_private_network; /* discovery/JWKS/introspection may reach private addresses */
};

/** The DPoP proof rules shared by every issuer. */
struct gh_config_auth_dpop {
    unsigned algorithms;    /* bitmask of enum gh_config_alg; default all */
    uint64_t iat_window_ms; /* accepted distance of a proof's iat from now; 1000..600000 */
    bool nonce;             /* require server-issued DPoP nonces */
};

/** Extra scopes required for one MCP method or one upstream. */
struct gh_config_auth_scope_rule {
    char *name;      /* owned; method name ("tools/call") or upstream name */
    char **scopes;   /* owned scope tokens, all required */
    size_t n_scopes; /* entries in scopes */
};

/** Scopes an MCP request needs: required, plus those of its method and of its upstream. */
struct gh_config_auth_scopes {
    char **required;                             /* owned; needed by every MCP request */
    size_t n_required;                           /* entries in required */
    struct gh_config_auth_scope_rule *methods;   /* owned; per method name, unique */
    size_t n_methods;                            /* entries in methods */
    struct gh_config_auth_scope_rule *upstreams; /* owned; per upstream (defined in upstreams:) */
    size_t n_upstreams;                          /* entries in upstreams */
};

/**
 * The auth: section: the gateway as an OAuth 2.1 resource server. Absent (NULL in struct
 * gh_config) means no inbound authentication is configured.
 */
struct gh_config_auth {
    char *resource; /* owned; canonical base URI (RFC 8707): no query, fragment or trailing
                       slash; a served path's resource URI is resource + path */
    struct gh_config_auth_issuer *issuers; /* owned array; 1..GH_CONFIG_MAX_ISSUERS */
    size_t n_issuers;                      /* entries in issuers */
    struct gh_config_auth_dpop dpop;       /* DPoP proof rules */
    struct gh_config_auth_scopes scopes;   /* scope requirements */
    uint64_t jwks_min_refresh_ms;          /* least time between JWKS refetches on an unknown kid */
};

/** Resource caps; every one is > 0 and below a sanity maximum (docs/configuration.md). */
struct gh_config_limits {
    uint64_t header_bytes;                      /* request line + headers */
    uint64_t headers_count;                     /* header fields per request */
    uint64_t body_bytes;                        /* request body */
    uint64_t json_depth;                        /* JSON nesting */
    uint64_t batch_length;                      /* JSON-RPC batch entries */
    uint64_t sse_event_bytes;                   /* one SSE event */
    uint64_t sse_replay_bytes;                  /* replay buffer per stream (Last-Event-ID) */
    uint64_t sessions_per_principal;            /* open MCP sessions per principal */
    uint64_t sessions_total;                    /* open MCP sessions overall */
    uint64_t concurrent_requests_per_principal; /* in-flight requests per principal */
    uint64_t connections;                       /* open client connections */
    uint64_t stdio_children;                    /* spawned stdio upstream processes */
};

/** Global timeouts in milliseconds; every one is > 0. */
struct gh_config_timeouts {
    uint64_t header_ms;              /* whole request head must arrive within */
    uint64_t body_ms;                /* whole request body must arrive within */
    uint64_t idle_ms;                /* keep-alive idle between requests */
    uint64_t upstream_connect_ms;    /* default for upstreams[].timeouts.connect_ms */
    uint64_t upstream_first_byte_ms; /* default for upstreams[].timeouts.first_byte_ms */
    uint64_t stream_idle_ms;         /* default for upstreams[].timeouts.stream_idle_ms */
    uint64_t session_idle_ms;        /* unused MCP session is dropped after */
    uint64_t shutdown_drain_ms;      /* graceful shutdown waits at most */
};

/** The gateway: section. */
struct gh_config_gateway {
    uint64_t workers;            /* worker threads; 0 = number of CPU cores */
    enum gh_log_level log_level; /* error|warn|info|debug */
    bool insecure_no_auth;       /* operator explicitly accepts serving without auth */
    char **allowed_origins;      /* owned; extra exact Origin values accepted */
    size_t n_allowed_origins;    /* entries in allowed_origins */
    char **allowed_hosts;        /* owned; extra Host header values accepted */
    size_t n_allowed_hosts;      /* entries in allowed_hosts */
    char **trusted_proxies;      /* owned; "ip" or "ip/prefix": peers whose Forwarded /
                                    X-Forwarded-For name the client; nobody else's are read */
    size_t n_trusted_proxies;    /* entries in trusted_proxies */
};

/** Where a key path was written; lets gh_config_validate() point into the file. */
struct gh_config_mark {
    char *path; /* owned; "upstreams[1].url" */
    int line;   /* 1-based */
    int column; /* 1-based */
};

/** Kinds of YAML node. */
enum cfg_kind {
    CFG_SCALAR = 1,
    CFG_MAP = 2,
    CFG_SEQ = 3,
};

/**
 * One YAML node with its source position. Sections owned by other modules (policy:) are kept as
 * this tree, owned by the configuration generation, and compiled by their module.
 */
struct gh_config_node {
    enum cfg_kind kind;            /* scalar, mapping or sequence */
    int line, column;              /* 1-based start of the value */
    struct gh_config_node *parent; /* NULL for the document root */
    const char *key;               /* key under a mapping parent (NUL-terminated), else NULL */
    int key_line, key_column;      /* where that key was written */
    size_t index;                  /* position under a sequence parent */
    const char *text;              /* scalar bytes, NUL-terminated (may hold inner NULs) */
    size_t len;                    /* scalar length */
    bool plain;                    /* unquoted scalar: only these can be numbers, booleans, null */
    struct gh_config_node **items; /* children of a mapping or sequence */
    size_t n, cap;                 /* children used / allocated */
};

/**
 * One configuration generation. Immutable once published: readers take gh_config_ref() and
 * drop it with gh_config_unref(); the last unref frees everything.
 */
struct gh_config {
    atomic_int refs;                      /* see gh_config_ref() */
    char *source;                         /* owned; file name for messages; NULL if built by code */
    struct gh_config_gateway gateway;     /* gateway: */
    struct gh_config_listener *listeners; /* owned array */
    size_t n_listeners;                   /* >= 1 once validated */
    bool listeners_default;               /* listeners is still the embedded default */
    struct gh_config_upstream *upstreams; /* owned array */
    size_t n_upstreams;                   /* may be 0 */
    struct gh_config_endpoint *endpoints; /* owned array: aggregated virtual servers */
    size_t n_endpoints;                   /* may be 0 */
    struct gh_config_auth *auth;          /* owned; auth: section, NULL when absent */
    struct gh_config_limits limits;       /* limits: */
    struct gh_config_timeouts timeouts;   /* timeouts: */
    struct gh_config_node *policy;        /* policy: section as a tree (policy/ compiles it) */
    struct gh_config_node *audit;         /* audit: section as a tree (audit/ reads it) */
    struct gh_config_node *propagation;   /* propagation: section as a tree (propagation/) */
    struct gh_arena *tree;                /* owned; holds the policy tree; NULL without one */
    struct gh_config_mark *marks;         /* owned; source positions, empty when built by code */
    size_t n_marks;                       /* entries in marks */
};

/** A precise configuration error. Never contains a configured value (they may be secrets). */
struct gh_config_error {
    char file[256]; /* file name (or the name given to load_string); "" when built by code */
    int line;       /* 1-based; 0 when unknown */
    int column;     /* 1-based; 0 when unknown */
    char path[256]; /* key path, e.g. "upstreams[1].url"; "" for the whole file */
    char msg[256];  /* what is wrong and what is expected */
};

/**
 * Returns a new generation holding the embedded defaults (one listener on 127.0.0.1:8080, no
 * upstreams, the limits and timeouts of docs/configuration.md). refs is 1. Never NULL.
 */
struct gh_config *gh_config_new_default(void);

/** Takes one more reference to c (thread-safe) and returns c. */
struct gh_config *gh_config_ref(struct gh_config *c);

/** Drops one reference (thread-safe); the last one frees c and everything it owns. NULL is ok. */
void gh_config_unref(struct gh_config *c);

/**
 * Reads the YAML file at path (at most GH_CONFIG_MAX_BYTES), applies it over the defaults and
 * validates the result. On GH_OK *out is a new generation (refs 1) owned by the caller; on any
 * error *out is NULL and *err (if not NULL) says where and why. Returns GH_E_IO when the file
 * cannot be read, GH_E_LIMIT when it is too large, GH_E_PARSE for anything wrong inside it.
 */
enum gh_rc gh_config_load_file(const char *path, struct gh_config **out,
                               struct gh_config_error *err);

/**
 * Same as gh_config_load_file() on len bytes of yaml (need not be NUL-terminated); name is what
 * error messages call the source (e.g. "gw.yaml", "<stdin>").
 */
enum gh_rc gh_config_load_string(const char *name, const char *yaml, size_t len,
                                 struct gh_config **out, struct gh_config_error *err);

/**
 * Checks everything that spans fields or needs the file system: ranges of every limit and
 * timeout, at least one listener, unique listener addresses, upstream names and paths, readable
 * TLS files; for stdio upstreams an executable command (a bare name in a literal env PATH), an
 * existing cwd, and every env:/file: reference resolvable now (set; a regular file that other
 * users cannot read); for endpoints a valid path unique among endpoints and upstream paths, 1 to
 * GH_CONFIG_MAX_ENDPOINT_UPSTREAMS members each defined under upstreams and listed once, and a
 * separator ('.', '_' or '-') that occurs in no member's name; for auth a canonical resource,
 * 1 to GH_CONFIG_MAX_ISSUERS unique issuers on https (http only on loopback) whose fetch URLs
 * reach loopback only for a loopback issuer and private addresses only with
 * allow_private_network, algorithm sets without none/HMAC, every private_key an env:/file:
 * reference that resolves now (a file: key readable by its owner only), well-formed scope
 * tokens and method names, upstream names defined under upstreams, and no
 * gateway.insecure_no_auth alongside it. Works on configs built by code;
 * positions come from c->marks when present. Returns GH_OK or GH_E_PARSE with *err filled (err may
 * be NULL).
 */
enum gh_rc gh_config_validate(const struct gh_config *c, struct gh_config_error *err);

/**
 * Returns a new auth section holding the defaults (dpop.algorithms all, dpop.iat_window_ms 60000,
 * jwks_min_refresh_ms 30000) and no resource, issuers or scopes; the caller fills it and hangs it
 * on a struct gh_config (which then owns it). Never NULL.
 */
struct gh_config_auth *gh_config_auth_new(void);

/** Frees an auth section and everything it owns. NULL is ok. */
void gh_config_auth_free(struct gh_config_auth *a);

/**
 * Maps a JWS "alg" name (case-sensitive: "RS256", "PS256", "ES256", "ES384", "EdDSA") to its
 * enum gh_config_alg value. Returns GH_E_PARSE for anything else, including "none" and "HS256".
 */
enum gh_rc gh_config_alg_parse(const char *name, enum gh_config_alg *out);

/** The JWS name of a single algorithm ("ES256"), or NULL for anything but one member. */
const char *gh_config_alg_name(enum gh_config_alg alg);

/**
 * Writes "FILE:LINE:COL: KEY.PATH: message" into out (n bytes, always NUL-terminated). Parts
 * that are unknown are left out: no "LINE:COL" when line is 0, no "KEY.PATH: " when the path is
 * empty, "(config)" when the file is empty.
 */
/**
 * Reads a YAML file (at most GH_CONFIG_MAX_BYTES) into a node tree allocated from arena: the
 * form of files included by sections that other modules compile (policy rules). Errors name the
 * file, line and column.
 */
enum gh_rc gh_config_tree_load_file(const char *path, struct gh_arena *arena,
                                    struct gh_config_node **root, struct gh_config_error *err);

/** Sets err to a problem at node n (position and key path); returns GH_E_PARSE. */
enum gh_rc gh_config_node_error(struct gh_config_error *err, const struct gh_config_node *n,
                                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** SHA-256 over n's structure, keys and scalars (not positions): equal for equal content. */
void gh_config_node_digest(const struct gh_config_node *n, unsigned char out[32]);

/** Member key of mapping n, or NULL. */
const struct gh_config_node *gh_config_node_get(const struct gh_config_node *n, const char *key);

void gh_config_error_format(const struct gh_config_error *e, char *out, size_t n);

/**
 * Adds a listener parsed from "IPv4:port", "[IPv6]:port" or "localhost:port" (CLI flags). The
 * first call on a config still holding the default listener replaces it. Returns GH_E_PARSE on a
 * malformed address, GH_E_LIMIT past GH_CONFIG_MAX_LISTENERS.
 */
enum gh_rc gh_config_add_listener(struct gh_config *c, const char *address);

/**
 * Adds an upstream (CLI flags). name and url are required; path NULL derives the default ("/mcp"
 * for a single upstream when there are no endpoints, "/mcp/<name>" once there are several or any
 * endpoint exists, re-deriving earlier defaults).
 * Returns GH_E_PARSE on a bad name, URL or path, GH_E_LIMIT past GH_CONFIG_MAX_UPSTREAMS.
 * Uniqueness is checked by gh_config_validate().
 */
enum gh_rc gh_config_add_upstream(struct gh_config *c, const char *name, const char *url,
                                  const char *path);

/**
 * Adds a stdio upstream (CLI flags): command is an absolute path or a bare program name; argv
 * (NULL-terminated, may be NULL) holds the arguments AFTER the program; path as for
 * gh_config_add_upstream(). The child's environment is just PATH=/usr/local/bin:/usr/bin:/bin
 * (add more with gh_config_upstream_add_env()); mode per-session, message_bytes
 * limits.body_bytes, stop_grace_ms 2000. Returns GH_E_PARSE on a bad name, command, argument
 * (one that looks like a token) or path, GH_E_LIMIT past GH_CONFIG_MAX_UPSTREAMS. Whether the
 * command exists is checked by gh_config_validate().
 */
enum gh_rc gh_config_add_stdio_upstream(struct gh_config *c, const char *name, const char *command,
                                        const char *const *argv, const char *path);

/**
 * Adds an aggregated endpoint (CLI flags) serving the n upstreams named in names at path, their
 * tools and prompts named "<upstream><separator><name>"; separator is '.', '_' or '-', or '\0'
 * for the default '.'. Re-derives default upstream paths as "/mcp/<name>" (an endpoint may take
 * "/mcp"). Returns GH_E_PARSE on a bad path, separator or name or n == 0, GH_E_LIMIT past
 * GH_CONFIG_MAX_ENDPOINTS endpoints or GH_CONFIG_MAX_ENDPOINT_UPSTREAMS names. Whether the names
 * are defined and distinct, the separator absent from them and the path unique is checked by
 * gh_config_validate().
 */
enum gh_rc gh_config_add_endpoint(struct gh_config *c, const char *path, const char *const *names,
                                  size_t n, char separator);

/**
 * Adds (or replaces) one variable of a stdio upstream's environment. value is a literal or a
 * reference ("env:NAME", "file:/absolute/path"), with the checks of the env: key (a literal that
 * looks like a secret is refused). On GH_E_PARSE *why (if not NULL) says why, without the value.
 */
enum gh_rc gh_config_upstream_add_env(struct gh_config_upstream *u, const char *name,
                                      const char *value, const char **why);

/**
 * The strict URL parser used for upstreams: "http(s)://host[:port][/path][?query]". host is a
 * DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address; port 1-65535 without leading
 * zeros; no userinfo, fragment, spaces, control or non-ASCII bytes, backslashes or malformed %XX.
 * On GH_OK out owns new strings (release with gh_config_url_release); on GH_E_PARSE *why (if not
 * NULL) names the problem without echoing the input.
 */
enum gh_rc gh_config_url_parse(const char *s, struct gh_config_url *out, const char **why);

/** Frees the strings of a parsed URL and zeroes it. */
void gh_config_url_release(struct gh_config_url *u);

/**
 * Parses a listener address ("127.0.0.1:8080", "[::1]:0", "localhost:80"). On GH_OK out->host is
 * a new string (free it); on GH_E_PARSE *why (if not NULL) names the problem.
 */
enum gh_rc gh_config_addr_parse(const char *s, struct gh_config_addr *out, const char **why);

#endif
