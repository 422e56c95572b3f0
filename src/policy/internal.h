/* policy/internal.h: what the files of policy/ share; nothing outside policy/ includes it. */
#ifndef GH_POLICY_INTERNAL_H
#define GH_POLICY_INTERNAL_H

#include "policy/policy.h"

/* ---- limits (limit.c) ---- */

/** The compiled policy.limits list; thread-safe counters inside. */
struct gh_policy_limits;
/** Compiles the limits: sequence (see docs/policy.md); errors name the node. */
enum gh_rc gh_policy__limits_compile(const struct gh_config_node *seq,
                                     struct gh_policy_limits **out, struct gh_config_error *err);
void gh_policy__limits_free(struct gh_policy_limits *l);
/** Admits or refuses one tools/call (see gh_policy_limit_admit). l may be NULL (admit). */
void gh_policy__limits_admit(struct gh_policy_limits *l, const char *principal,
                             struct gh_slice upstream, struct gh_slice tool, int64_t now_ms,
                             struct gh_policy_admit *out);

/* ---- the compiled policy (rules.c builds it, eval.c reads it) ---- */

#include <pthread.h>
#include <stdatomic.h>

/** A list of patterns from the config (globs or exact values, per the condition). */
struct gh_policy__list {
    struct gh_slice *v;
    uint32_t n;
    bool literal; /* no pattern holds a glob character: exact comparison, indexable */
};

struct gh_policy__claim {
    const char *name;
    struct gh_policy__list vals; /* globs */
};

struct gh_policy__arg {
    const char *name;
    struct gh_policy_argcheck *chk;
};

struct gh_policy__rule {
    const char *id;
    enum gh_verdict effect;
    int line, column;
    uint32_t order;
    /* principal: a NULL/empty list means "any" */
    const char *issuer;
    struct gh_policy__list subject, client_id, act; /* globs */
    bool act_none;                                  /* act: none — no delegation at all */
    struct gh_policy__list groups, roles;           /* any of */
    struct gh_policy__list scopes;                  /* all of */
    struct gh_policy__claim *claims;
    uint32_t nclaims;
    /* action */
    struct gh_policy__list upstream, methods; /* globs */
    struct gh_policy__list targets[4];        /* by enum gh_policy_kind; [0] unused */
    bool has_target[4];
    bool any_target; /* the rule names tools, resources or prompts */
    struct gh_policy__arg *args;
    uint32_t nargs;
    bool strict_args; /* additional_arguments: false */
    /* precomputed at index time (rules.c), so the hot path compares bits, not strings */
    uint64_t *upmask; /* bit u: the upstream condition admits configured upstream u (last: "") */
    uint32_t *gids;   /* the groups condition as interned ids (NULL when groups are not) */
};

/** Rules that may apply to one kind of action, in config order. */
struct gh_policy__bucket {
    uint32_t *rules;
    uint32_t n;
};

/** A bucket keyed by (upstream index, group id): key = upstream << 32 | gid, plus 1 (0: empty). */
struct gh_policy__gbucket {
    uint64_t key;
    struct gh_policy__bucket b;
};

/** The bucket for key in a gbucket table, or NULL. */
const struct gh_policy__bucket *gh_policy__gbucket_find(const struct gh_policy__gbucket *t,
                                                        uint32_t mask, uint64_t key);

struct gh_policy__exact { /* open hash: literal target name -> rules (for one kind) */
    struct gh_slice name;
    struct gh_policy__bucket b;
};

struct gh_policy__pdp;
struct gh_policy__pins;
struct gh_policy__known;

struct gh_policy {
    atomic_int refs;
    bool enabled;
    enum gh_policy_mode mode;
    char digest[7 + GH_POLICY_DIGEST_HEX + 1];
    struct gh_arena *arena; /* rules, lists, strings */
    struct gh_policy__rule *rules;
    uint32_t nrules;
    struct gh_policy__bucket generic[4];     /* by kind: rules with glob or no targets of it */
    struct gh_policy__bucket *generic_up[4]; /* the same, split by upstream index (nup + 1) */
    struct gh_slice *up_table;               /* open hash of configured upstream names */
    uint32_t *up_index, up_mask;             /* their indexes; mask = table size - 1 */
    struct gh_slice *gid_table;              /* open hash of the group names rules mention */
    uint32_t *gid_index, gid_mask, ngids;
    /* generic rules split further: those without a groups condition per upstream, those with one
     * per (upstream, group) — a call then walks only the rules its subject's groups can reach */
    struct gh_policy__bucket *nogroup_up[4];
    struct gh_policy__gbucket *gtab[4];
    uint32_t gtab_mask[4];
    struct gh_policy__exact *exact[4]; /* by kind: literal targets */
    uint32_t exact_mask[4];            /* table size - 1 (power of two) */
    struct gh_policy_limits *limits;
    struct gh_policy__pins *pins;
    struct gh_policy__pdp *pdp;
    struct gh_policy__known *known; /* names each upstream has listed (known.c) */
    const char **upstream_names;    /* configured upstreams, for lint */
    size_t nupstreams;
    bool auth_on;
    const char **issuers;
    size_t nissuers;
};

/** Hash of a name for the exact tables. */
uint64_t gh_policy__hash(struct gh_slice s);
/** Index of a name in an open table built by rules.c, or -1. */
int32_t gh_policy__lookup(const struct gh_slice *table, const uint32_t *index, uint32_t mask,
                          struct gh_slice name);

/* what a reload carries over (known.c, pin.c) */
void gh_policy__known_copy(struct gh_policy__known *dst, struct gh_policy__known *src);
void gh_policy__pins_copy(struct gh_policy__pins *dst, struct gh_policy__pins *src);

/* pins (pin.c) */
enum gh_rc gh_policy__pins_compile(const struct gh_config_node *n, struct gh_policy__pins **out,
                                   struct gh_config_error *err);
void gh_policy__pins_free(struct gh_policy__pins *p);

/* names listed (known.c) */
struct gh_policy__known *gh_policy__known_new(void);
void gh_policy__known_free(struct gh_policy__known *k);
void gh_policy__known_add(struct gh_policy__known *k, struct gh_slice up, enum gh_policy_kind kind,
                          struct gh_slice name);

/* pdp (pdp.c) */
enum gh_rc gh_policy__pdp_compile(const struct gh_config_node *n, struct gh_policy__pdp **out,
                                  struct gh_config_error *err);
void gh_policy__pdp_free(struct gh_policy__pdp *p);

/** Scalar helpers for compiling nodes (rules.c). */
bool gh_policy__scalar(const struct gh_config_node *n);
enum gh_rc gh_policy__u64(const struct gh_config_node *n, uint64_t min, uint64_t max, uint64_t *out,
                          struct gh_config_error *err);
enum gh_rc gh_policy__enum(const struct gh_config_node *n, const char *const *names, size_t nn,
                           int *out, struct gh_config_error *err);
#endif
