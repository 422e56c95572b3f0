/*
 * portable: the portable catalog of MCP servers, every MCP client's config format (export,
 * import, migrate), and the scanner that finds hard-coded secrets and risky settings in client
 * config files (text, JSON and SARIF 2.1.0 reports). Depends on json/ and config/ only; the
 * command-line front ends live in cli/.
 */
#ifndef GH_PORTABLE_H
#define GH_PORTABLE_H

#include <stdbool.h>
#include <stddef.h>

/* ---- catalog, client formats: export / import / migrate ---------------------------------- */

#include "core/core.h"

/** Caps: more than this is an error naming the cap, never a silent truncation. */
#define GH_PORTABLE_MAX_SERVERS 256        /* servers in one catalog or client file */
#define GH_PORTABLE_MAX_ITEMS   128        /* args, env, headers or scopes of one server */
#define GH_PORTABLE_MAX_FILE    (4u << 20) /* bytes of a client file read or written */

/** The client formats, in the order `gatehouse export --client` lists them. */
enum gh_portable_client {
    GH_PORTABLE_CLAUDE_DESKTOP = 0,
    GH_PORTABLE_CLAUDE_CODE,
    GH_PORTABLE_VSCODE,
    GH_PORTABLE_CURSOR,
    GH_PORTABLE_WINDSURF,
    GH_PORTABLE_ZED,
    GH_PORTABLE_CODEX, /* TOML */
    GH_PORTABLE_GEMINI,
    GH_PORTABLE_CONTINUE, /* YAML */
    GH_PORTABLE_CLINE,
    GH_PORTABLE_MCP_JSON, /* the neutral catalog shape (docs/portability.md) */
    GH_PORTABLE_REGISTRY, /* MCP registry server.json: import only */
    GH_PORTABLE_CLIENT__COUNT,
};

/** How a catalog server is reached. */
enum gh_portable_transport {
    GH_PORTABLE_STDIO = 0, /* command + args + env */
    GH_PORTABLE_HTTP = 1,  /* Streamable HTTP at url */
    GH_PORTABLE_SSE = 2,   /* legacy HTTP+SSE at url */
};

/**
 * One name/value pair (env variable, header). A value may hold references "${env:NAME}" or
 * "${file:/path}" (alone or inside longer text such as "Bearer ${env:NAME}"), never a secret.
 */
struct gh_portable_pair {
    char *key;   /* arena-owned */
    char *value; /* arena-owned */
};

/** One catalog entry: an MCP server and its client-facing metadata. */
struct gh_portable_server {
    char *name;        /* arena-owned; unique in the catalog */
    char *title;       /* NULL = name */
    char *description; /* may be NULL */
    enum gh_portable_transport transport;
    char *url;     /* HTTP/SSE: where clients connect */
    char *command; /* stdio: program */
    char **args;   /* stdio: arguments after the program */
    size_t n_args;
    char *cwd; /* stdio: may be NULL */
    struct gh_portable_pair *env;
    size_t n_env;
    struct gh_portable_pair *headers; /* HTTP: extra headers */
    size_t n_headers;
    char **scopes; /* OAuth scopes the gateway requires for this server */
    size_t n_scopes;
};

/** A literal secret found while importing or migrating: reported redacted, never copied. */
struct gh_portable_finding {
    const char *server;   /* server name */
    const char *where;    /* "env", "header", "arg", "url", "oauth" */
    const char *key;      /* variable, header or parameter name */
    const char *ref;      /* reference that replaced it: "env:NAME" */
    const char *redacted; /* a few leading characters and an ellipsis */
    bool migrated;        /* migrate: rewritten (false: left in place, see the notes) */
};

/** The catalog: servers plus what the last import, export or migrate had to say. */
struct gh_portable_catalog {
    struct gh_arena *arena; /* owns every string below */
    struct gh_portable_server *servers;
    size_t n_servers, cap_servers;
    struct gh_portable_finding *findings;
    size_t n_findings, cap_findings;
    char **notes; /* human sentences: what could not be expressed, what to do next */
    size_t n_notes, cap_notes;
    char **masks; /* the literal secrets found, only to mask them in output (never printed) */
    size_t n_masks;
};

/** Replaces every literal secret of c->masks in b by its first characters and an ellipsis. */
enum gh_rc gh_portable_mask(const struct gh_portable_catalog *c, struct gh_buf *b);

/** Why reading or writing failed: a precise sentence that never quotes a value. */
struct gh_portable_err {
    char msg[320];
};

/** Options of export and merge. */
struct gh_portable_export_opts {
    const char *gatehouse; /* command written for `gatehouse connect`; NULL = "gatehouse" */
    bool force_connect;    /* every remote entry through `gatehouse connect`, any client */
};

/** Options of migrate. */
struct gh_portable_migrate_opts {
    const char *via_gateway; /* base URL: entries a client cannot reference go through it */
    const char *gatehouse;   /* command for `gatehouse connect`; NULL = "gatehouse" */
};

struct gh_portable_catalog *gh_portable_catalog_new(void);
void gh_portable_catalog_free(struct gh_portable_catalog *c);
/** Adds an empty server named name (copied); GH_E_LIMIT past the cap, GH_E_PARSE if taken. */
enum gh_rc gh_portable_catalog_add(struct gh_portable_catalog *c, const char *name,
                                   struct gh_portable_server **out);
/** Adds a note (printf format) to the catalog's report. */
void gh_portable_note(struct gh_portable_catalog *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** "claude-desktop", "vscode", ..., "mcp.json", "registry"; GH_E_PARSE for anything else. */
enum gh_rc gh_portable_client_parse(const char *name, enum gh_portable_client *out);
const char *gh_portable_client_name(enum gh_portable_client client);
/** Guesses a client from a file's path (name and parent folder); GH_E_DECLINED when unsure. */
enum gh_rc gh_portable_client_guess(const char *path, enum gh_portable_client *out);
/** True when the client's file can hold a remote MCP server that authenticates with OAuth. */
bool gh_portable_client_remote_oauth(enum gh_portable_client client);

/**
 * Fills c from a gateway configuration file: one server per upstream and per aggregated
 * endpoint, at base_url + its path (base_url NULL: auth.resource), with the scopes auth.scopes
 * requires. Reads the YAML without resolving env:/file: references, so it works where the
 * gateway's secrets are absent.
 */
enum gh_rc gh_portable_catalog_from_gateway(struct gh_portable_catalog *c, const char *path,
                                            const char *base_url, struct gh_portable_err *err);

/**
 * Reads a client file (src[0..len), name for messages) into c. Literal secrets become
 * "${env:NAME}" references and are added to c->findings. Continue's YAML needs a file:
 * use gh_portable_import_file for it (here it is GH_E_DECLINED).
 */
enum gh_rc gh_portable_import(struct gh_portable_catalog *c, enum gh_portable_client client,
                              const char *name, const char *src, size_t len,
                              struct gh_portable_err *err);
/** Same, reading path (at most GH_PORTABLE_MAX_FILE bytes). */
enum gh_rc gh_portable_import_file(struct gh_portable_catalog *c, enum gh_portable_client client,
                                   const char *path, struct gh_portable_err *err);

/** Writes client's whole file for catalog c to out. Notes go to c's report. */
enum gh_rc gh_portable_export(struct gh_portable_catalog *c, enum gh_portable_client client,
                              const struct gh_portable_export_opts *opts, struct gh_buf *out,
                              struct gh_portable_err *err);

/**
 * Writes to out the existing client file old[0..len) (read from path, which YAML reads again)
 * with c's entries added or replaced; every
 * other entry, key, comment and the indentation are kept (JSON, JSONC), other TOML tables and
 * YAML items are kept byte for byte.
 */
enum gh_rc gh_portable_merge(struct gh_portable_catalog *c, enum gh_portable_client client,
                             const struct gh_portable_export_opts *opts, const char *path,
                             const char *old, size_t len, struct gh_buf *out,
                             struct gh_portable_err *err);

/**
 * Rewrites client file src[0..len) (path for messages and YAML) so no literal secret stays:
 * each becomes the client's reference syntax, or with opts->via_gateway the entry goes through
 * the gateway; what cannot be migrated stays and is noted. c (empty) receives the findings and
 * notes. out receives the new file (equal to src when nothing changed).
 */
enum gh_rc gh_portable_migrate(struct gh_portable_catalog *c, enum gh_portable_client client,
                               const char *path, const char *src, size_t len,
                               const struct gh_portable_migrate_opts *opts, struct gh_buf *out,
                               struct gh_portable_err *err);

/** Appends a unified diff of a -> b (one hunk, 3 lines of context) labelled name to out. */
enum gh_rc gh_portable_diff(const char *name, const char *a, size_t alen, const char *b,
                            size_t blen, struct gh_buf *out);

/**
 * Replaces path with data atomically (temporary file in the same folder, fsync, rename), keeping
 * its mode; when backup, first copies the old file to path.bak (path.<time>.bak when that
 * exists) and puts the backup's name in backup_out (n bytes).
 */
enum gh_rc gh_portable_write_file(const char *path, const char *data, size_t len, bool backup,
                                  char *backup_out, size_t n, struct gh_portable_err *err);
/** Reads a whole file (at most GH_PORTABLE_MAX_FILE bytes) into *out (malloc'd, NUL-ended). */
enum gh_rc gh_portable_read_file(const char *path, char **out, size_t *len,
                                 struct gh_portable_err *err);

/* ---- scanner: secrets and risky settings in client config files -------------------------- */

#include "core/core.h"

/*
 * A client config file read into one tree of values with source positions, whatever its format
 * (JSON, JSONC, TOML, YAML): what the scanner walks. Nodes live in the caller's arena.
 */
enum gh_pnode_type {
    GH_PNODE_NULL = 0,
    GH_PNODE_BOOL = 1,
    GH_PNODE_NUMBER = 2, /* text holds the number as written (TOML dates too) */
    GH_PNODE_STRING = 3, /* text holds the decoded string (valid UTF-8 for JSON/TOML) */
    GH_PNODE_ARRAY = 4,
    GH_PNODE_TABLE = 5, /* JSON object, TOML table, YAML mapping */
};

struct gh_pnode {
    enum gh_pnode_type type;
    struct gh_slice key;     /* member name under a table parent, else {NULL,0} */
    struct gh_slice text;    /* scalar text; "true"/"false" for booleans */
    uint32_t line, col;      /* 1-based start of the value (col counts code points) */
    struct gh_pnode *parent; /* NULL for the root */
    struct gh_pnode *first;  /* children in source order */
    struct gh_pnode *last;
    struct gh_pnode *next; /* next sibling */
    uint32_t n;            /* children */
    uint32_t index;        /* position under the parent */
    uint8_t state;         /* reader-private (TOML: how the table was defined) */
};

/** Where and why a file did not parse: reason is a static string that never quotes input. */
struct gh_pnode_err {
    uint32_t line, col;
    const char *reason;
};

/** Source formats the readers understand. */
enum gh_pformat {
    GH_PFORMAT_JSON = 0,  /* strict JSON */
    GH_PFORMAT_JSONC = 1, /* JSON with comments and trailing commas (VS Code, Zed) */
    GH_PFORMAT_TOML = 2,  /* TOML 1.0 subset client configs use (Codex) */
    GH_PFORMAT_YAML = 3,  /* YAML through config/ (Continue); files only */
};

/** Input caps of the readers. */
#define GH_PNODE_MAX_BYTES (4u << 20)
#define GH_PNODE_MAX_DEPTH 64
#define GH_PNODE_MAX_NODES 262144

/** JSON or JSONC text to a tree. GH_E_PARSE / GH_E_LIMIT with err set (line, col, reason). */
enum gh_rc gh_pnode_parse_json(struct gh_arena *a, const char *src, size_t len, bool jsonc,
                               struct gh_pnode **root, struct gh_pnode_err *err);
/**
 * TOML text to a tree: tables, dotted keys, arrays of tables, inline tables, arrays, basic /
 * literal / multi-line strings, integers, floats, booleans, dates (kept as text). Duplicate
 * keys and redefined tables are errors. GH_E_PARSE / GH_E_LIMIT with err set.
 */
enum gh_rc gh_pnode_parse_toml(struct gh_arena *a, const char *src, size_t len,
                               struct gh_pnode **root, struct gh_pnode_err *err);
/** True for a table of a TOML tree that a [header] or [[header]] defined (its line and col are
 * the header's opening bracket). */
bool gh_pnode_toml_header(const struct gh_pnode *n);
/** Member `key` of table t, or NULL. */
const struct gh_pnode *gh_pnode_get(const struct gh_pnode *t, const char *key);

/** What a finding is about. */
enum gh_scan_kind {
    GH_SCAN_SECRET = 1, /* a hard-coded credential */
    GH_SCAN_RISK = 2,   /* a risky setting */
};

/** One finding. The secret itself is never kept: only a redacted form and a fingerprint. */
struct gh_scan_finding {
    const char *rule; /* rule id (static), see docs/scanner.md */
    enum gh_scan_kind kind;
    const char *file;     /* the file as found or given */
    uint32_t line, col;   /* 1-based start of the value */
    const char *where;    /* key path in the file, e.g. mcpServers.github.env.TOKEN */
    const char *server;   /* the server entry's name, "" for file-level settings */
    const char *redacted; /* e.g. "ghp_…(40 chars)"; "" for risks */
    const char *message;  /* one line, no secret */
    char fingerprint[33]; /* hex, 128 bits of SHA-256 over rule, file, where and the value */
};

/** A file that could not be read or parsed; scanning goes on with the others. */
struct gh_scan_error {
    const char *file;
    uint32_t line, col; /* 0 when not about a position */
    const char *message;
};

/** A scanned file and the client it belongs to. */
struct gh_scan_file {
    const char *path;
    const char *client; /* "claude-desktop", "vscode", ... or "unknown" */
    const char *format; /* "json", "jsonc", "toml", "yaml" */
};

/** Caps of one report. */
#define GH_SCAN_MAX_FINDINGS 10000
#define GH_SCAN_MAX_FILES    10000
#define GH_SCAN_MAX_DEPTH    32 /* directory levels below a scanned directory */

/** Everything one scan found. Owned by its arena; free with gh_scan_report_free(). */
struct gh_scan_report {
    struct gh_arena *arena;
    struct gh_scan_finding *findings;
    size_t n_findings, cap_findings, dropped; /* dropped: findings past the cap */
    struct gh_scan_error *errors;
    size_t n_errors, cap_errors;
    struct gh_scan_file *files;
    size_t n_files, cap_files;
};

struct gh_scan_report *gh_scan_report_new(void);
void gh_scan_report_free(struct gh_scan_report *r);
/** Sorts findings by file, line, column (output order). */
void gh_scan_report_sort(struct gh_scan_report *r);

/**
 * Scans one file whose format follows from its name (.toml, .yaml/.yml, else JSONC). Read and
 * parse errors become report errors (GH_OK is still returned); GH_E_IO only for an unreadable path.
 */
enum gh_rc gh_scan_file(struct gh_scan_report *r, const char *path);
/** Scans bytes already in memory (not YAML); name is what findings call the file. */
enum gh_rc gh_scan_buffer(struct gh_scan_report *r, const char *name, const char *data, size_t len,
                          enum gh_pformat fmt);
/**
 * A file is scanned as is; a directory recursively for files named like client configs
 * (skipping node_modules, .git and symlinks). GH_E_IO when path does not exist.
 */
enum gh_rc gh_scan_path(struct gh_scan_report *r, const char *path);
/** Scans each client's documented default locations under home (Linux and macOS paths). */
void gh_scan_defaults(struct gh_scan_report *r, const char *home);

/** Report writers; GH_E_LIMIT when b's cap is hit. */
enum gh_rc gh_scan_write_text(const struct gh_scan_report *r, struct gh_buf *b);
enum gh_rc gh_scan_write_json(const struct gh_scan_report *r, struct gh_buf *b);
/** SARIF 2.1.0: one run, the rules as tool.driver.rules, findings as results. */
enum gh_rc gh_scan_write_sarif(const struct gh_scan_report *r, struct gh_buf *b);

/* Rule primitives (exposed for tests). */
/** Shannon entropy in bits per byte of s[0..n). */
double gh_scan_entropy(const char *s, size_t n);
/** True for references (${env:X}, $X, ${{ secrets.X }}, env:X, file:/x...) and placeholders. */
bool gh_scan_is_placeholder(struct gh_slice v);
/**
 * The first provider rule matching in v, or NULL. key (may be NULL) is the member name the
 * value sits under; with generic set, the entropy rule is tried too (as for an env value).
 */
const char *gh_scan_match(struct gh_slice v, const char *key, bool generic);

#endif
