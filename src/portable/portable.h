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
