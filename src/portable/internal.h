/*
 * portable/internal.h: what the catalog and client-format files share — a small value tree
 * (pnode) every client entry is built as and then written as JSON, TOML or YAML; the JSON/JSONC
 * reading helpers; the literal-secret heuristic and reference naming; the per-client tables.
 */
#ifndef GH_PORTABLE_INTERNAL_H
#define GH_PORTABLE_INTERNAL_H

#include "portable/portable.h"
#include "json/json.h"

/* ---- value tree (pnode.c) ---- */

enum pnode_kind {
    PN_STR = 0,
    PN_BOOL = 1,
    PN_ARR = 2,
    PN_OBJ = 3,
    PN_RAW = 4, /* a number, boolean or date kept as its source text */
};

/** One value; object members carry their key. Everything lives in an arena. */
struct pnode {
    enum pnode_kind kind;
    const char *key; /* member name under an object, else NULL */
    const char *str; /* PN_STR */
    bool b;          /* PN_BOOL */
    struct pnode **kids;
    size_t n, cap;
};

struct pnode *gh_pn_obj(struct gh_arena *a);
struct pnode *gh_pn_arr(struct gh_arena *a);
/** Adds kid under obj as member key (or as element of an array when key is NULL). */
struct pnode *gh_pn_add(struct gh_arena *a, struct pnode *parent, const char *key,
                        struct pnode *kid);
struct pnode *gh_pn_add_str(struct gh_arena *a, struct pnode *parent, const char *key,
                            const char *s);
struct pnode *gh_pn_add_bool(struct gh_arena *a, struct pnode *parent, const char *key, bool b);
/** Member key of obj, or NULL. */
struct pnode *gh_pn_get(const struct pnode *obj, const char *key);

/** JSON with indent unit (e.g. "  ") at nesting depth; the first line is not indented. */
enum gh_rc gh_pn_write_json(struct gh_buf *b, const struct pnode *n, const char *unit, int depth);
/** A TOML value (string, array, inline table) on one line. */
enum gh_rc gh_pn_write_toml_value(struct gh_buf *b, const struct pnode *n);
/** A TOML key: bare when it can be, else a basic string. */
enum gh_rc gh_pn_write_toml_key(struct gh_buf *b, const char *k);
/** A YAML block value at indentation depth*2 (mapping members, sequence items, scalars). */
enum gh_rc gh_pn_write_yaml(struct gh_buf *b, const struct pnode *n, int depth);

/* ---- JSON and JSONC reading (jsonc.c) ---- */

struct pedit;

/** A parsed client JSON file: the JSONC blanked copy the tokens index, plus the original. */
struct pjson {
    const char *orig; /* the file as given (offsets are the same in both) */
    char *clean;      /* arena copy: comments and trailing commas turned into spaces */
    size_t len;
    struct gh_json_doc doc;
    bool had_comments;
};

/** Parses a JSON or JSONC file; err names the line and column of a problem. */
enum gh_rc gh_pj_parse(struct gh_arena *a, const char *name, const char *src, size_t len,
                       struct pjson *out, struct gh_portable_err *err);
/** Decoded string token i as a NUL-terminated arena string ("" if not a string). */
char *gh_pj_str(struct gh_arena *a, const struct pjson *p, uint32_t i);
/** First member key token of object obj (index of the key), or 0 when none. */
uint32_t gh_pj_first(const struct pjson *p, uint32_t obj);
/** Next member key token after key k of obj, or 0 at the end. */
uint32_t gh_pj_next(const struct pjson *p, uint32_t obj, uint32_t k);
/** Member name of object obj, or -1. */
int32_t gh_pj_get(const struct pjson *p, uint32_t obj, const char *name);
/** The indentation unit the file uses ("  " by default), arena-owned. */
const char *gh_pj_indent(struct gh_arena *a, const char *src, size_t len);

/**
 * Edits adding rendered items (members or elements) at the end of container token t, written
 * at depth with unit; returns how many edits (1 or 2) it wrote to e.
 */
size_t gh_pj_insert_items(struct gh_arena *a, const struct pjson *p, uint32_t t, int depth,
                          const char *unit, const char **items, size_t n, struct pedit *e);
/** n as JSON text at depth; "key": value for a member. Arena-owned. */
char *gh_pn_render(struct gh_arena *a, const struct pnode *n, const char *unit, int depth);
char *gh_pn_member(struct gh_arena *a, const char *key, const struct pnode *v, const char *unit,
                   int depth);

/** One edit of a text: replace [off, off+del) with ins. */
struct pedit {
    size_t off, del;
    const char *ins;
};
/** Applies edits (any order, none overlapping) to src and writes the result to out. */
enum gh_rc gh_pedit_apply(const char *src, size_t len, struct pedit *e, size_t n,
                          struct gh_buf *out);

/* ---- secrets and references (literal.c) ---- */

/** Where a value sits: the heuristic differs for each. */
enum plit_where {
    PL_ENV = 0,
    PL_HEADER = 1,
    PL_ARG = 2,
    PL_URL = 3,
};

/** True when s is a reference or a placeholder in any client's syntax (never a secret). */
bool gh_pl_is_reference(const char *s);
/**
 * The secret part of value s found under key (NULL when none): [*off, *off+*len) is the
 * literal to move out (a header's "Bearer " and a URL's other parts stay).
 */
bool gh_pl_find(enum plit_where where, const char *key, const char *s, size_t *off, size_t *len);
/** An env-variable name for a secret of server under key ("GITHUB_PERSONAL_ACCESS_TOKEN"). */
char *gh_pl_name(struct gh_arena *a, const char *server, enum plit_where where, const char *key);
/** A few leading characters of s and an ellipsis; never more than a quarter of it. */
char *gh_pl_redact(struct gh_arena *a, const char *s, size_t n);
/** A URL secret's query parameter name (v[off] follows "name="), else dflt. */
const char *gh_pl_url_key(struct gh_arena *a, const char *v, size_t off, const char *dflt);
/** Upper-case env name from any text: [A-Z0-9_], not starting with a digit. */
char *gh_pl_envify(struct gh_arena *a, const char *s);
/**
 * Replaces the secret in s (if any) with "${env:NAME}", records the finding in c, and
 * returns the new value (s itself when nothing was found).
 */
char *gh_pl_scrub(struct gh_portable_catalog *c, const char *server, enum plit_where where,
                  const char *key, const char *s);
/** Makes name unique among the findings' references (NAME, NAME_2...). */
const char *gh_pl_unique(struct gh_portable_catalog *c, const char *name, const char *secret);
/** Records a finding. */
void gh_pl_report(struct gh_portable_catalog *c, const char *server, const char *where,
                  const char *key, const char *ref, const char *secret, size_t n, bool migrated);

/* ---- clients (clients.c, codex.c, cont.c) ---- */

/** The parts of a client's format the writers and readers need. */
struct pclient {
    const char *name;
    const char *root;   /* member holding the servers ("mcpServers", "servers", ...) */
    bool remote_oauth;  /* its file can hold a remote server with OAuth */
    const char *urlkey; /* "url", "serverUrl" (Windsurf), "httpUrl" (Gemini) */
};
const struct pclient *gh_pc(enum gh_portable_client client);

/**
 * Rewrites references "${env:NAME}" in s into the client's own syntax; NULL when the client has
 * none (the caller drops the value and notes it).
 */
char *gh_pc_ref(struct gh_arena *a, enum gh_portable_client client, const char *s);
/** The client's entry for server s as a tree (NULL if it cannot be expressed; noted). */
struct pnode *gh_pc_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                          const struct gh_portable_server *s,
                          const struct gh_portable_export_opts *o, struct pnode *inputs);
/** Reads one server entry (JSON object token v) of a JSON client into c. */
enum gh_rc gh_pc_read_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                            const struct pjson *p, const char *name, uint32_t v,
                            struct gh_portable_err *err);
/** Converts a client's reference syntax in s into "${env:NAME}" (s when there is none). */
char *gh_pc_unref(struct gh_arena *a, enum gh_portable_client client, const char *s);

enum gh_rc gh_codex_import(struct gh_portable_catalog *c, const char *name, const char *src,
                           size_t len, struct gh_portable_err *err);
enum gh_rc gh_codex_export(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                           struct gh_buf *out);
/** old with the tables [mcp_servers.NAME...] of c's servers replaced or appended. */
enum gh_rc gh_codex_merge(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                          const char *old, size_t len, struct gh_buf *out,
                          struct gh_portable_err *err);

enum gh_rc gh_codex_migrate(struct gh_portable_catalog *c, const char *path, const char *src,
                            size_t len, const struct gh_portable_migrate_opts *o,
                            struct gh_buf *out, struct gh_portable_err *err);

enum gh_rc gh_cont_import(struct gh_portable_catalog *c, const char *path,
                          struct gh_portable_err *err);
enum gh_rc gh_cont_export(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                          struct gh_buf *out);
enum gh_rc gh_cont_merge(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                         const char *path, const char *old, size_t len, struct gh_buf *out,
                         struct gh_portable_err *err);
enum gh_rc gh_cont_migrate(struct gh_portable_catalog *c, const char *path, const char *src,
                           size_t len, struct gh_buf *out, struct gh_portable_err *err);
/** The entry for a server the gateway serves at url, in client's shape. */
struct pnode *gh_pc_gateway_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                                  const char *url, const char *gatehouse);
int32_t gh_pc_find_root(const struct pjson *p, enum gh_portable_client client);
char *gh_pc_ref_name(struct gh_arena *a, enum gh_portable_client client, const char *name);

enum gh_rc gh_registry_import(struct gh_portable_catalog *c, const struct pjson *p,
                              struct gh_portable_err *err);

/** err->msg = printf(fmt); returns rc. */
enum gh_rc gh_perr(struct gh_portable_err *err, enum gh_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Copies a server (strings shared: same arena). */
char **gh_pstrv_push(struct gh_arena *a, char **v, size_t *n, const char *s);
struct gh_portable_pair *gh_ppair_push(struct gh_arena *a, struct gh_portable_pair *v, size_t *n,
                                       const char *k, const char *val);

#endif
