/*
 * config/internal.h: what the config files share among themselves — the YAML node tree with
 * source positions, the error helpers and the tables of numeric keys with their ranges.
 */
#ifndef GH_CONFIG_INTERNAL_H
#define GH_CONFIG_INTERNAL_H

#include "core/core.h"
#include "config/config.h"

/* Structural caps for the YAML tree: the schema is shallow and small, anything past these is
 * either a mistake or an attack, and they bound the work done on one file. */
#define CFG_MAX_DEPTH    16
#define CFG_MAX_MAP_KEYS 256
#define CFG_MAX_SEQ      1024
#define CFG_MAX_STRING   4096 /* bytes in one scalar */

/** Loader state: where errors go and what the tree is allocated from. */
struct cfg_state {
    struct gh_arena *arena;      /* the tree and scratch */
    struct gh_config_error *err; /* never NULL inside the loader */
    struct gh_config *c;         /* config being filled */
};

/** A numeric key: name, offset of its uint64_t field, default, accepted range. */
struct cfg_field {
    const char *key;
    size_t off;
    uint64_t def;
    uint64_t min, max;
};

typedef enum gh_rc (*cfg_apply_fn)(struct cfg_state *st, const struct gh_config_node *v, void *obj);

/** A key of a mapping and what to do with its value. */
struct cfg_key {
    const char *key;
    cfg_apply_fn fn;
};

extern const struct cfg_field gh_config__limit_fields[];
extern const size_t gh_config__n_limit_fields;
extern const struct cfg_field gh_config__timeout_fields[];
extern const size_t gh_config__n_timeout_fields;
extern const struct cfg_field gh_config__upstream_timeout_fields[];
extern const size_t gh_config__n_upstream_timeout_fields;
/** Range of upstreams[].max_connections. */
#define CFG_MAX_CONNECTIONS_MAX           10000
#define GH_CONFIG_DEFAULT_MAX_CONNECTIONS 64

/** Frees every listener of c and leaves it with none. */
void gh_config__listeners_clear(struct gh_config *c);

/** Builds the node tree of one YAML document; aliases, anchors, tags, duplicate keys refused. */
enum gh_rc gh_config__tree_build(struct cfg_state *st, const char *yaml, size_t len,
                                 struct gh_config_node **root);

/** Writes the key path of n ("upstreams[1].url") into out, sanitized and truncated. */
void gh_config__node_path(const struct gh_config_node *n, char *out, size_t cap);

/** Fills err with a position, a path and a printf-style message; returns GH_E_PARSE. */
enum gh_rc gh_config__err(struct gh_config_error *err, int line, int column, const char *path,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Error at node n (its value position and path). */
enum gh_rc gh_config__err_node(struct cfg_state *st, const struct gh_config_node *n,
                               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Applies the document root onto st->c (types, unknown keys, formats). */
enum gh_rc gh_config__schema_apply(struct cfg_state *st, const struct gh_config_node *root);

/** Records the position of every node of the tree in c->marks. */
void gh_config__marks_record(struct gh_config *c, const struct gh_config_node *root);

/** Re-derives the paths of upstreams whose path was not written (see gh_config_add_upstream). */
void gh_config__default_paths(struct gh_config *c);

/** Default of upstreams[].stop_grace_ms and its range; range of upstreams[].message_bytes. */
#define GH_CONFIG_DEFAULT_STOP_GRACE_MS 2000
#define CFG_STOP_GRACE_MAX              60000
#define CFG_MESSAGE_BYTES_MAX           (256 * 1024 * 1024)

/** stdio upstreams (stdio.c). The checkers return NULL when fine, else why (never the value). */
const char *gh_config__check_env_name(const char *s);
const char *gh_config__check_command(const char *s);
/** A command-line argument that looks like a token is refused (argv is world-readable). */
const char *gh_config__check_arg(const char *s);
/** What well-known secret s looks like ("a GitHub token"), or NULL. */
const char *gh_config__secret_shape(const char *s);
/** An env entry built by code, checked with the loader's rules. */
const char *gh_config__check_env_entry(const struct gh_config_env *e);
/** {command, args[0..n), NULL}, all copied. */
char **gh_config__argv_new(const char *command, const char *const *args, size_t n);
/** Frees every field of u (HTTP and stdio). */
void gh_config__upstream_release(struct gh_config_upstream *u);
/** Fills stdio defaults that depend on other sections (message_bytes = limits.body_bytes). */
void gh_config__stdio_defaults(struct gh_config *c);

/* ---- schema helpers (schema.c), shared with the auth section (auth.c) ---- */

/** A plain null scalar (empty, ~, null). */
bool gh_config__is_null(const struct gh_config_node *n);
/** A string scalar without control characters; *out points into the tree. */
enum gh_rc gh_config__get_string(struct cfg_state *st, const struct gh_config_node *n,
                                 const char **out);
/** A plain decimal integer in [min, max]. */
enum gh_rc gh_config__get_uint(struct cfg_state *st, const struct gh_config_node *n, uint64_t min,
                               uint64_t max, uint64_t *out);
/** Plain true or false. */
enum gh_rc gh_config__get_bool(struct cfg_state *st, const struct gh_config_node *n, bool *out);
/** Error unless m is a mapping. */
enum gh_rc gh_config__want_map(struct cfg_state *st, const struct gh_config_node *m);
/** Error unless s is a list of at most max entries (what names them in the message). */
enum gh_rc gh_config__want_seq(struct cfg_state *st, const struct gh_config_node *s, size_t max,
                               const char *what);
/** Applies each key of mapping m through keys (at most 16); an unknown key is an error. */
enum gh_rc gh_config__walk_map(struct cfg_state *st, const struct gh_config_node *m,
                               const struct cfg_key *keys, size_t nkeys, void *obj);
/** "required key is missing<why>" at mapping m, the path naming key. */
enum gh_rc gh_config__missing(struct cfg_state *st, const struct gh_config_node *m, const char *key,
                              const char *why);
/** The child of mapping m under key, or NULL. */
const struct gh_config_node *gh_config__find_key(const struct gh_config_node *m, const char *key);
/** Error msg at the key of v rather than its value. */
enum gh_rc gh_config__err_key(struct cfg_state *st, const struct gh_config_node *v,
                              const char *msg);

/* ---- validation helpers (check.c) ---- */

/** Fills err for path (position from c->marks) with a printf-style message; returns GH_E_PARSE. */
enum gh_rc gh_config__fail(const struct gh_config *c, struct gh_config_error *err, const char *path,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/**
 * Checks that an env:/file: reference resolves now: the variable is set, or the file is a
 * readable regular file that other users (and with private_file, its group) can neither read nor
 * write. LITERAL passes (callers decide whether literals are allowed).
 */
enum gh_rc gh_config__check_ref(const struct gh_config *c, struct gh_config_error *err,
                                const char *path, enum gh_config_env_kind kind, const char *target,
                                bool private_file);
/**
 * Splits v into a reference: "env:NAME" (FROM_ENV, target NAME) or "file:/abs" (FROM_FILE, target
 * the path); anything else is LITERAL with target v. Returns why a reference is malformed, or NULL.
 */
const char *gh_config__ref_parse(const char *v, enum gh_config_env_kind *kind, const char **target);

/* ---- auth: (auth.c, authcheck.c) ---- */

/** Defaults of the auth section and of each issuer (docs/configuration.md). */
#define GH_CONFIG_DEFAULT_CLOCK_SKEW_MS    60000
#define CFG_CLOCK_SKEW_MAX                 300000
#define GH_CONFIG_DEFAULT_INTRO_TTL_MS     5000
#define CFG_INTRO_TTL_MAX                  300000
#define GH_CONFIG_DEFAULT_INTRO_NEG_TTL_MS 1000
#define CFG_INTRO_NEG_TTL_MAX              60000
#define GH_CONFIG_DEFAULT_INTRO_TIMEOUT_MS 2000
#define CFG_INTRO_TIMEOUT_MAX              30000
#define GH_CONFIG_DEFAULT_IAT_WINDOW_MS    60000
#define CFG_IAT_WINDOW_MIN                 1000
#define CFG_IAT_WINDOW_MAX                 600000
#define GH_CONFIG_DEFAULT_JWKS_MIN_REFRESH 30000
#define CFG_JWKS_MIN_REFRESH_MIN           1000
#define CFG_JWKS_MIN_REFRESH_MAX           3600000

/** Applies the auth: mapping onto c->auth (types, enumerations, references, required keys). */
enum gh_rc gh_config__auth_apply(struct cfg_state *st, const struct gh_config_node *v, void *obj);
/** A scope token (RFC 6749 scope-token, 1-128 bytes) / an MCP method name; NULL when fine. */
const char *gh_config__check_scope(const char *s);
const char *gh_config__check_method(const char *s);
/** Validates c->auth (formats, ranges, uniqueness, references, upstream names); NULL auth is ok. */
enum gh_rc gh_config__auth_validate(const struct gh_config *c, struct gh_config_error *err);

/** Checks an upstream name / gateway path / allowed origin / allowed host; NULL when fine. */
const char *gh_config__check_name(const char *s);
const char *gh_config__check_gw_path(const char *s);
const char *gh_config__check_origin(const char *s);
const char *gh_config__check_host(const char *s);
/** NULL when s is an IPv4 or IPv6 address, optionally with /prefix (0-32 / 0-128). */
const char *gh_config__check_cidr(const char *s);

#endif
