/*
 * policy: per-call authorization — the rules model compiled from the `policy:` section, the
 * evaluator (deny wins, no match denies), argument constraints, tool pinning, list filtering,
 * per-principal and per-tool limits, the external decision point (OpenID AuthZEN) and explain.
 *
 * Operator guide: docs/policy.md. A compiled policy is immutable and refcounted: workers read it
 * without locks; only the pin store, the limiter and the PDP cache have (short) locks inside.
 *
 * Security rules this module enforces:
 *  - every verdict is enum gh_verdict (GH_DENY = 0) with a gh_policy_reason whose zero value
 *    is "unspecified"; a zeroed decision never allows;
 *  - names are compared as an exact (upstream, name) pair, case-sensitively, after names outside
 *    the spec's character set are refused (gh_policy_name_valid);
 *  - argument constraints run on the parsed JSON value (never on raw bytes), regular expressions
 *    run under PCRE2 match and depth limits, paths are normalised and must stay under a root.
 */
#ifndef GH_POLICY_H
#define GH_POLICY_H

#include "core/core.h"
#include "config/config.h"
#include "json/json.h"

#include <stdio.h>

/** Caps. */
#define GH_POLICY_MAX_RULES   10000
#define GH_POLICY_NAME_MAX    128 /* tool and prompt names (MCP spec: 1..128 chars) */
#define GH_POLICY_ID_MAX      64  /* bytes of a rule id */
#define GH_POLICY_REGEX_MATCH 100000
#define GH_POLICY_REGEX_DEPTH 1000
#define GH_POLICY_DIGEST_HEX  64

/** What an action targets. */
enum gh_policy_kind {
    GH_POLICY_K_METHOD = 0, /* a method without a named target (completion/complete, ...) */
    GH_POLICY_K_TOOL = 1,
    GH_POLICY_K_RESOURCE = 2, /* a resource URI or a resource template */
    GH_POLICY_K_PROMPT = 3,
};

/** Why a decision came out as it did. gh_policy_reason_str() gives a fixed name. */
enum gh_policy_reason {
    GH_POLICY_R_UNSPECIFIED = 0,
    GH_POLICY_R_ALLOWED = 1,    /* an allow rule matched and no deny rule did */
    GH_POLICY_R_PROTOCOL,       /* a protocol method (initialize, ping, lists...): always passed */
    GH_POLICY_R_DENY_RULE,      /* a deny rule matched */
    GH_POLICY_R_NO_MATCH,       /* no allow rule matched */
    GH_POLICY_R_ARGUMENTS,      /* allow rules named the target but their argument checks failed */
    GH_POLICY_R_BAD_NAME,       /* the name is outside the allowed characters or too long */
    GH_POLICY_R_UNLISTED,       /* not in the upstream's current list, or hidden by pinning */
    GH_POLICY_R_PDP_DENY,       /* the external decision point said no */
    GH_POLICY_R_PDP_UNAVAILABLE /* the external decision point could not be asked */
};
const char *gh_policy_reason_str(enum gh_policy_reason r);

/** Who asks: attributes of the authenticated principal (slices the caller owns). */
struct gh_policy_subject {
    struct gh_slice issuer, subject, client_id;
    const struct gh_slice *groups;
    uint32_t ngroups;
    const struct gh_slice *roles;
    uint32_t nroles;
    const struct gh_slice *scopes;
    uint32_t nscopes;
    const struct gh_slice *act; /* act chain subjects, current actor first */
    uint32_t nact;
    struct gh_slice claims_json; /* the token payload / introspection answer: any claim by name */
    const char *key;             /* stable principal key (limits); "" without auth */
};

/** What is asked. */
struct gh_policy_action {
    struct gh_slice method;   /* JSON-RPC method */
    struct gh_slice upstream; /* the upstream's configured name */
    enum gh_policy_kind kind;
    struct gh_slice name;           /* tool or prompt name (un-namespaced), or resource URI */
    const struct gh_json_doc *args; /* parsed request; NULL when no arguments */
    int32_t args_tok;               /* params.arguments token, -1 when absent */
};

/** A decision. rule points into the policy (or is a fixed string); valid while it lives. */
struct gh_policy_decision {
    enum gh_verdict verdict;
    enum gh_policy_reason reason;
    const char *rule;     /* id of the deciding rule; "" when none decided (default deny) */
    const char *argument; /* on GH_POLICY_R_ARGUMENTS: the argument at fault (config text) */
    const char *digest;   /* policy digest ("sha256:<hex>") */
};

struct gh_policy;

/**
 * Compiles the policy: section (node may be NULL: no policy, every call allowed as before this
 * module existed, digest "none") against cfg (upstream names are checked). Errors name
 * file:line:column of the offending key in err. *out has one reference.
 */
enum gh_rc gh_policy_compile(const struct gh_config *cfg, const struct gh_config_node *node,
                             struct gh_policy **out, struct gh_config_error *err);
struct gh_policy *gh_policy_ref(struct gh_policy *p);
void gh_policy_unref(struct gh_policy *p);
/** True when a policy: section was configured (otherwise evaluate always allows). */
bool gh_policy_enabled(const struct gh_policy *p);
/** A reload: p (new, not yet in use) takes over what old learned at run time — the names each
 *  upstream listed and the tool definitions seen and approved on first use — so live sessions
 *  need not list again. Rate-limit counters and PDP answers start afresh. */
void gh_policy_adopt_state(struct gh_policy *p, struct gh_policy *old);
/** The id of a rule that reads arguments (constraints, additional_arguments: false) and can
 *  apply to the configured upstream with that index, or NULL. */
const char *gh_policy_argument_rule(const struct gh_policy *p, size_t upstream);
/** "sha256:<hex>" of the canonical rule set; "none" without a policy. */
const char *gh_policy_digest(const struct gh_policy *p);
/** Decision mode. */
enum gh_policy_mode {
    GH_POLICY_MODE_LOCAL = 0,
    GH_POLICY_MODE_PDP = 1,
    GH_POLICY_MODE_LOCAL_THEN_PDP = 2,
};
enum gh_policy_mode gh_policy_mode(const struct gh_policy *p);

/**
 * Local rules only: the decision for one action. No allocation on the common path (a rule
 * matching on a claim by name parses claims_json into a scratch arena).
 */
void gh_policy_evaluate(const struct gh_policy *p, const struct gh_policy_subject *s,
                        const struct gh_policy_action *a, struct gh_policy_decision *d);

/**
 * True when a list entry may be shown: some allow rule could admit a call to it (arguments
 * aside) and no deny rule without argument conditions refuses it.
 */
bool gh_policy_listable(const struct gh_policy *p, const struct gh_policy_subject *s,
                        struct gh_slice upstream, enum gh_policy_kind kind, struct gh_slice name);

/** One line of an explanation: a rule considered and why it did or did not match. */
struct gh_policy_trace {
    const char *rule;
    const char *effect; /* "allow" / "deny" */
    bool matched;
    const char *why; /* static text or config text: "groups: none of [readers]", "matched" */
};
/** Evaluates like gh_policy_evaluate and reports every rule considered, in order. */
void gh_policy_explain(const struct gh_policy *p, const struct gh_policy_subject *s,
                       const struct gh_policy_action *a, struct gh_policy_decision *d,
                       void (*fn)(void *arg, const struct gh_policy_trace *t), void *arg);

/** A finding of gh_policy_lint: a rule that can never match, or an allow shadowed by a deny. */
struct gh_policy_finding {
    const char *rule;
    int line, column;
    char msg[256];
};
/** Static checks for check-config; calls fn for each finding, returns their number. */
size_t gh_policy_lint(const struct gh_policy *p,
                      void (*fn)(void *arg, const struct gh_policy_finding *f), void *arg);

/** initialize, ping, notifications/..., the four list methods, server/discover,
 *  subscriptions/listen: they expose nothing by themselves and pass unless a deny rule says no. */
bool gh_policy_protocol_method(struct gh_slice method);

/**
 * GH_DENY when upstream has listed names of this kind (tools, prompts) and name is not among
 * them: the gateway answers such a call itself, exactly like a forbidden one. GH_ALLOW for
 * other kinds, without a policy, and before the upstream has listed anything.
 */
enum gh_verdict gh_policy_known(const struct gh_policy *p, struct gh_slice upstream,
                                enum gh_policy_kind kind, struct gh_slice name);
/** Records that upstream listed name (list answers are recorded by gh_policy_filter_list). */
void gh_policy_known_add(const struct gh_policy *p, struct gh_slice upstream,
                         enum gh_policy_kind kind, struct gh_slice name);

/* ---- names ---- */

/** MCP tool/prompt name rule: 1..128 bytes of [A-Za-z0-9_.-] (spec 2025-11-25). */
bool gh_policy_name_valid(struct gh_slice name);

/* ---- argument constraints (args.c) ---- */

struct gh_policy_argcheck;
/**
 * Compiles one argument's constraint mapping (type, enum, const, max_length, min, max, prefix,
 * glob, regex, path_under). Errors name the node in err.
 */
enum gh_rc gh_policy_argcheck_compile(const struct gh_config *cfg, const struct gh_config_node *n,
                                      struct gh_policy_argcheck **out, struct gh_config_error *err);
void gh_policy_argcheck_free(struct gh_policy_argcheck *c);
/** Checks value token v of doc (v < 0: the argument is absent); true when it passes. */
bool gh_policy_argcheck_eval(const struct gh_policy_argcheck *c, const struct gh_json_doc *doc,
                             int32_t v, const char **why);
/** True when the argument must be present (required: true). */
bool gh_policy_argcheck_required(const struct gh_policy_argcheck *c);

/** Glob match: `*` any run (may be empty), `?` one byte, everything else literal. */
bool gh_policy_glob(struct gh_slice pattern, struct gh_slice s);

/* ---- tool pinning (pin.c) ---- */

/** SHA-256 (hex) over the canonical JSON of a tool's name, title, description, inputSchema and
 *  annotations; tool is an object token of doc. The name counts without its first name_prefix
 *  bytes (an aggregated endpoint's namespace), so every route of a tool pins the same digest. */
enum gh_rc gh_policy_tool_digest(const struct gh_json_doc *doc, uint32_t tool, size_t name_prefix,
                                 char out[GH_POLICY_DIGEST_HEX + 1]);

/** Pin verdict for one observed tool definition. */
enum gh_policy_pin {
    GH_POLICY_PIN_HIDDEN = 0, /* changed or never approved: hidden, calls denied */
    GH_POLICY_PIN_OK = 1,
};
/**
 * Records that upstream's tool name currently has digest; returns whether it is approved (with
 * pinning off: always OK). Changes are logged once each and written to the pin store.
 */
enum gh_policy_pin gh_policy_pin_observe(const struct gh_policy *p, struct gh_slice upstream,
                                         struct gh_slice name, const char *digest);
/**
 * Whether a call to upstream's tool name may proceed as far as pinning goes: its last observed
 * definition is approved. With pinning on, a tool never observed is refused (list it first).
 */
enum gh_policy_pin gh_policy_pin_check(const struct gh_policy *p, struct gh_slice upstream,
                                       struct gh_slice name);
/** True when pinning is on. */
bool gh_policy_pinning(const struct gh_policy *p);
/**
 * Approves in the store at path: every pending definition (names NULL) or those named
 * "upstream.tool". Writes the file atomically; prints what it approved to out.
 */
enum gh_rc gh_policy_pin_approve(const char *path, const char *const *names, size_t n, FILE *out);
/** Called (under the pin lock, any worker) when a tool definition is seen changed or new and not
 *  approved: approved digest ("" when none) and the current one. */
typedef void (*gh_policy_change_fn)(void *arg, struct gh_slice upstream, struct gh_slice name,
                                    const char *approved, const char *now);
void gh_policy_set_change_hook(struct gh_policy *p, gh_policy_change_fn fn, void *arg);
/** The pin store path configured (NULL when pinning is off). */
const char *gh_policy_pin_store(const struct gh_policy *p);

/* ---- the names an upstream currently lists (filter.c) ---- */

/**
 * Filters a JSON-RPC response to a list request (tools/list, prompts/list, resources/list,
 * resources/templates/list) for subject: entries the subject may not use, entries with invalid
 * names and (tools) definitions not approved by pinning are removed. prefix is prepended to
 * names already (aggregated endpoints pass the namespaced form and its prefix length).
 * Returns GH_OK with *out a malloc'd message (caller frees) and *outlen, or GH_E_PARSE when msg
 * is no list result (pass it unchanged). Tool definitions are observed for pinning here.
 */
enum gh_rc gh_policy_filter_list(const struct gh_policy *p, const struct gh_policy_subject *s,
                                 struct gh_slice upstream, struct gh_slice method,
                                 size_t name_prefix, const char *msg, size_t len, char **out,
                                 size_t *outlen);

/* ---- limits (limit.c) ---- */

/** Outcome of asking the limiter. */
struct gh_policy_admit {
    enum gh_verdict verdict;
    uint32_t retry_after_s; /* on GH_DENY: seconds until a call would be admitted */
    const char *limit;      /* id of the limit that refused */
    bool concurrency;       /* refused for concurrency (else rate) */
    void *token;            /* on GH_ALLOW: pass to gh_policy_limit_release when done */
};
/** Asks every limit that applies to (principal key, upstream, tool); counts the call in. */
void gh_policy_limit_admit(const struct gh_policy *p, const char *principal,
                           struct gh_slice upstream, struct gh_slice tool, int64_t now_ms,
                           struct gh_policy_admit *out);
/** The admitted call ended (any way): frees its concurrency slots. NULL-safe. */
void gh_policy_limit_release(void *token);

/* ---- external decision point (pdp.c): OpenID AuthZEN Authorization API 1.0 ---- */

/** Builds the AuthZEN evaluation request body for (s, a) into b. */
void gh_policy_authzen_request(const struct gh_policy_subject *s, const struct gh_policy_action *a,
                               struct gh_buf *b);
/** What the PDP said. */
struct gh_policy_pdp_result {
    enum gh_verdict verdict;
    enum gh_policy_reason reason; /* PDP_DENY, PDP_UNAVAILABLE or ALLOWED */
    bool unavailable_503;         /* policy says: answer 503 rather than deny when unreachable */
};
typedef void (*gh_policy_pdp_cb)(void *arg, const struct gh_policy_pdp_result *r);
/**
 * Asks the PDP (cached answers first) on the calling worker; cb runs on this worker, maybe
 * before this returns (cache hit).
 */
/** Frees this worker's PDP connections (worker shutdown). */
void gh_policy_pdp_worker_fini(void);
void gh_policy_pdp_ask(const struct gh_policy *p, const struct gh_policy_subject *s,
                       const struct gh_policy_action *a, gh_policy_pdp_cb cb, void *arg);

#endif
