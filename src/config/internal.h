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

enum cfg_kind {
    CFG_SCALAR = 1,
    CFG_MAP = 2,
    CFG_SEQ = 3,
};

/** One YAML node. Everything lives in the loader's arena. */
struct cfg_node {
    enum cfg_kind kind;       /* scalar, mapping or sequence */
    int line, column;         /* 1-based start of the value */
    struct cfg_node *parent;  /* NULL for the document root */
    const char *key;          /* key under a mapping parent (NUL-terminated), else NULL */
    int key_line, key_column; /* where that key was written */
    size_t index;             /* position under a sequence parent */
    const char *text;         /* scalar bytes, NUL-terminated (may hold inner NULs) */
    size_t len;               /* scalar length */
    bool plain;               /* unquoted scalar: only these can be numbers, booleans, null */
    struct cfg_node **items;  /* children of a mapping or sequence */
    size_t n, cap;            /* children used / allocated */
};

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
                                 struct cfg_node **root);

/** Writes the key path of n ("upstreams[1].url") into out, sanitized and truncated. */
void gh_config__node_path(const struct cfg_node *n, char *out, size_t cap);

/** Fills err with a position, a path and a printf-style message; returns GH_E_PARSE. */
enum gh_rc gh_config__err(struct gh_config_error *err, int line, int column, const char *path,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** Error at node n (its value position and path). */
enum gh_rc gh_config__err_node(struct cfg_state *st, const struct cfg_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Applies the document root onto st->c (types, unknown keys, formats). */
enum gh_rc gh_config__schema_apply(struct cfg_state *st, const struct cfg_node *root);

/** Records the position of every node of the tree in c->marks. */
void gh_config__marks_record(struct gh_config *c, const struct cfg_node *root);

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

/** Checks an upstream name / gateway path / allowed origin / allowed host; NULL when fine. */
const char *gh_config__check_name(const char *s);
const char *gh_config__check_gw_path(const char *s);
const char *gh_config__check_origin(const char *s);
const char *gh_config__check_host(const char *s);

#endif
