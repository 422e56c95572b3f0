/*
 * portable/internal_scan.h: what the scanner's files share and nobody else needs — node
 * building for the readers, the rule table, and adding findings to a report.
 */
#ifndef GH_PORTABLE_INTERNAL_SCAN_H
#define GH_PORTABLE_INTERNAL_SCAN_H

#include "portable/portable.h"

/* ---- scan_node.c: tree building shared by the readers ---- */

/** Node budget of one parse; every reader counts against it. */
struct pnode_budget {
    uint32_t used;
};

/** A new node (zeroed but for type and position); NULL when the budget is spent. */
struct gh_pnode *scan_node_new(struct gh_arena *a, struct pnode_budget *b, enum gh_pnode_type t,
                               uint32_t line, uint32_t col);
/** Appends child to parent (sets parent, index, sibling links). */
void scan_node_append(struct gh_pnode *parent, struct gh_pnode *child);
/** Member key of t compared against a slice (readers check duplicates with it). */
struct gh_pnode *scan_node_find(const struct gh_pnode *t, struct gh_slice key);

/* ---- scan_rules.c ---- */

/** One regex rule match inside a value: [start, end) of the secret. */
struct scan_hit {
    const char *rule;
    size_t start, end;
};

#define SCAN_MAX_HITS 16

/** Provider rules over v: fills hits (non-overlapping), returns how many. */
size_t scan_rules_provider(struct gh_slice v, struct scan_hit *hits, size_t cap);
/**
 * Entropy rule over one value. hinted: the key names a secret (token, key, password...).
 * Returns the rule id or NULL; *secret gets the part judged (a header's credential).
 */
const char *scan_rules_generic(const char *key, size_t key_len, struct gh_slice v, bool hinted,
                               struct gh_slice *secret);
/** True when a member name suggests a credential (KEY, TOKEN, SECRET, PASSWORD, AUTH...). */
bool scan_rules_key_hinted(struct gh_slice key);

/** Static rule metadata for the reports. */
struct scan_rule_info {
    const char *id;
    const char *name;
    enum gh_scan_kind kind;
    const char *level; /* SARIF level: error (secrets) or warning (risks) */
    const char *description;
    const char *source; /* helpUri: where the rule comes from */
};
extern const struct scan_rule_info SCAN_RULES[];
extern const size_t SCAN_N_RULES;
const struct scan_rule_info *scan_rule_info(const char *id);

/* ---- scan_walk.c ---- */

/** Walks a parsed file: server entries, their secrets and risky settings. */
void scan_walk(struct gh_scan_report *r, const char *file, const struct gh_pnode *root);

/* ---- scan.c: report bookkeeping ---- */

/** Adds a finding; secret (may be empty) is only redacted and fingerprinted, never stored. */
void scan_report_add(struct gh_scan_report *r, const char *rule, enum gh_scan_kind kind,
                     const char *file, const struct gh_pnode *at, const char *server,
                     struct gh_slice secret, const char *message);
void scan_report_error(struct gh_scan_report *r, const char *file, uint32_t line, uint32_t col,
                       const char *message);
/** Notes a scanned file (path copied); and whether one was noted already. */
void scan_report_file(struct gh_scan_report *r, const char *path, const char *client,
                      const char *format);
bool scan_report_has_file(const struct gh_scan_report *r, const char *path);
/** Reads a regular file, at most GH_PNODE_MAX_BYTES + 1 bytes (*len says how many). GH_E_IO
 * with errno set (EINVAL: not a regular file). */
enum gh_rc scan_read_file(const char *path, char **out, size_t *len);

/* ---- scan_env.c: .env files named by envFile ---- */

/**
 * Scans the dotenv file a server's envFile names (ref, as written), resolved against the
 * config file's workspace; each KEY=VALUE is judged like an env value. Once per file.
 */
void scan_env_file(struct gh_scan_report *r, const char *config_file, struct gh_slice ref,
                   const char *server);
/** Walks tree (a table "env" of KEY: value) as the env of server, findings in file. */
void scan_walk_env(struct gh_scan_report *r, const char *file, const char *server,
                   const struct gh_pnode *root);

/** Key path of node n ("mcpServers.gh.args[2]") in r's arena. */
const char *scan_node_path(struct gh_scan_report *r, const struct gh_pnode *n);

#endif
