/*
 * policy/rules.c owns compiling the policy: section — rules into their indexed form (exact
 * target names in per-kind hash tables, everything else in per-kind generic lists, both in
 * config order), the policy digest, and the policy's lifetime. eval.c reads what this builds.
 */
#include "core/core.h"
#include "policy/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define RULE_LIST_MAX 1024

static const char *const KIND_KEYS[4] = {NULL, "tools", "resources", "prompts"};

bool gh_policy__scalar(const struct gh_config_node *n)
{
    return n && n->kind == CFG_SCALAR && !memchr(n->text, '\0', n->len);
}

enum gh_rc gh_policy__u64(const struct gh_config_node *n, uint64_t min, uint64_t max, uint64_t *out,
                          struct gh_config_error *err)
{
    char *end = NULL;
    if (!gh_policy__scalar(n) || !n->plain || !n->len || n->text[0] == '-')
        return gh_config_node_error(err, n, "expected a whole number");
    unsigned long long v = strtoull(n->text, &end, 10);
    if (*end || v < min || v > max)
        return gh_config_node_error(err, n, "expected a whole number from %llu to %llu",
                                    (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return GH_OK;
}

enum gh_rc gh_policy__enum(const struct gh_config_node *n, const char *const *names, size_t nn,
                           int *out, struct gh_config_error *err)
{
    if (gh_policy__scalar(n)) {
        for (size_t i = 0; i < nn; i++) {
            if (strcmp(n->text, names[i]) == 0) {
                *out = (int)i;
                return GH_OK;
            }
        }
    }
    char alts[200] = "";
    for (size_t i = 0; i < nn; i++)
        snprintf(alts + strlen(alts), sizeof(alts) - strlen(alts), "%s%s", i ? ", " : "", names[i]);
    return gh_config_node_error(err, n, "expected one of: %s", alts);
}

uint64_t gh_policy__hash(struct gh_slice s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: names are config-chosen, not attacker-chosen */
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static bool has_glob(struct gh_slice s)
{
    return memchr(s.ptr, '*', s.len) || memchr(s.ptr, '?', s.len);
}

/* A scalar or a sequence of scalars into a list (copied into the arena). */
static enum gh_rc list_of(struct gh_arena *a, const struct gh_config_node *n,
                          struct gh_policy__list *out, struct gh_config_error *err)
{
    const struct gh_config_node *one = n;
    size_t cnt = 1;
    if (n->kind == CFG_SEQ) {
        cnt = n->n;
        if (!cnt)
            return gh_config_node_error(err, n, "expected at least one value");
        if (cnt > RULE_LIST_MAX)
            return gh_config_node_error(err, n, "more than %d values", RULE_LIST_MAX);
    }
    out->v = gh_arena_calloc(a, cnt * sizeof(*out->v));
    out->n = (uint32_t)cnt;
    out->literal = true;
    for (size_t i = 0; i < cnt; i++) {
        const struct gh_config_node *it = n->kind == CFG_SEQ ? n->items[i] : one;
        if (!gh_policy__scalar(it) || !it->len)
            return gh_config_node_error(err, it, "expected a non-empty string");
        out->v[i] = gh_slice(gh_arena_strndup(a, it->text, it->len), it->len);
        out->literal &= !has_glob(out->v[i]);
    }
    return GH_OK;
}

static enum gh_rc rule_id(struct gh_policy *p, const struct gh_config_node *n,
                          struct gh_policy__rule *r, struct gh_config_error *err)
{
    if (!gh_policy__scalar(n) || !n->len || n->len > GH_POLICY_ID_MAX)
        return gh_config_node_error(err, n, "expected an id of 1 to %d characters",
                                    GH_POLICY_ID_MAX);
    for (size_t i = 0; i < n->len; i++) {
        char c = n->text[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("_.:-", c))
            return gh_config_node_error(err, n, "ids use only A-Z a-z 0-9 _ . : -");
    }
    for (uint32_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].id, n->text) == 0)
            return gh_config_node_error(err, n, "duplicate rule id (also at line %d)",
                                        p->rules[i].line);
    r->id = gh_arena_strndup(p->arena, n->text, n->len);
    return GH_OK;
}

static enum gh_rc principal_key(struct gh_policy *p, const struct gh_config_node *v,
                                struct gh_policy__rule *r, struct gh_config_error *err)
{
    const char *k = v->key;
    if (strcmp(k, "issuer") == 0) {
        if (!gh_policy__scalar(v) || !v->len)
            return gh_config_node_error(err, v, "expected the issuer URL");
        r->issuer = gh_arena_strndup(p->arena, v->text, v->len);
        return GH_OK;
    }
    if (strcmp(k, "act") == 0 && gh_policy__scalar(v) && v->plain && strcmp(v->text, "none") == 0) {
        r->act_none = true;
        return GH_OK;
    }
    struct gh_policy__list *l = strcmp(k, "subject") == 0     ? &r->subject
                                : strcmp(k, "client_id") == 0 ? &r->client_id
                                : strcmp(k, "act") == 0       ? &r->act
                                : strcmp(k, "groups") == 0    ? &r->groups
                                : strcmp(k, "roles") == 0     ? &r->roles
                                : strcmp(k, "scopes") == 0    ? &r->scopes
                                                              : NULL;
    if (l)
        return list_of(p->arena, v, l, err);
    if (strcmp(k, "claims") != 0)
        return gh_config_node_error(err, v,
                                    "unknown key (expected issuer, subject, client_id, groups, "
                                    "roles, scopes, claims or act)");
    if (v->kind != CFG_MAP || !v->n)
        return gh_config_node_error(err, v, "expected a mapping of claim name to values");
    r->claims = gh_arena_calloc(p->arena, v->n * sizeof(*r->claims));
    for (size_t i = 0; i < v->n; i++) {
        r->claims[i].name = gh_arena_strndup(p->arena, v->items[i]->key, strlen(v->items[i]->key));
        if (list_of(p->arena, v->items[i], &r->claims[i].vals, err))
            return GH_E_PARSE;
    }
    r->nclaims = (uint32_t)v->n;
    return GH_OK;
}

static enum gh_rc rule_args(struct gh_policy *p, const struct gh_config *cfg,
                            const struct gh_config_node *v, struct gh_policy__rule *r,
                            struct gh_config_error *err)
{
    if (v->kind != CFG_MAP || !v->n)
        return gh_config_node_error(err, v, "expected a mapping of argument name to checks");
    r->args = gh_arena_calloc(p->arena, v->n * sizeof(*r->args));
    for (size_t i = 0; i < v->n; i++) {
        const struct gh_config_node *a = v->items[i];
        r->args[r->nargs].name = gh_arena_strndup(p->arena, a->key, strlen(a->key));
        if (gh_policy_argcheck_compile(cfg, a, &r->args[r->nargs].chk, err))
            return GH_E_PARSE;
        r->nargs++;
    }
    return GH_OK;
}

static enum gh_rc rule_key(struct gh_policy *p, const struct gh_config *cfg,
                           const struct gh_config_node *v, struct gh_policy__rule *r,
                           struct gh_config_error *err)
{
    const char *k = v->key;
    static const char *const effects[] = {"deny", "allow"};
    int e = 0;
    if (strcmp(k, "id") == 0)
        return rule_id(p, v, r, err);
    if (strcmp(k, "effect") == 0) {
        if (gh_policy__enum(v, effects, 2, &e, err))
            return GH_E_PARSE;
        r->effect = e ? GH_ALLOW : GH_DENY;
        return GH_OK;
    }
    if (strcmp(k, "description") == 0)
        return gh_policy__scalar(v) ? GH_OK : gh_config_node_error(err, v, "expected text");
    if (strcmp(k, "principal") == 0) {
        if (v->kind != CFG_MAP)
            return gh_config_node_error(err, v, "expected a mapping of conditions");
        for (size_t i = 0; i < v->n; i++)
            if (principal_key(p, v->items[i], r, err))
                return GH_E_PARSE;
        return GH_OK;
    }
    if (strcmp(k, "upstream") == 0 || strcmp(k, "upstreams") == 0)
        return list_of(p->arena, v, &r->upstream, err);
    if (strcmp(k, "methods") == 0 || strcmp(k, "method") == 0)
        return list_of(p->arena, v, &r->methods, err);
    for (int kind = 1; kind < 4; kind++) {
        if (strcmp(k, KIND_KEYS[kind]) == 0) {
            r->has_target[kind] = r->any_target = true;
            return list_of(p->arena, v, &r->targets[kind], err);
        }
    }
    if (strcmp(k, "arguments") == 0)
        return rule_args(p, cfg, v, r, err);
    if (strcmp(k, "additional_arguments") == 0) {
        if (!gh_policy__scalar(v) || !v->plain ||
            (strcmp(v->text, "true") != 0 && strcmp(v->text, "false") != 0))
            return gh_config_node_error(err, v, "expected true or false");
        r->strict_args = strcmp(v->text, "false") == 0;
        return GH_OK;
    }
    return gh_config_node_error(err, v,
                                "unknown key (expected id, effect, description, principal, "
                                "upstream, methods, tools, resources, prompts, arguments or "
                                "additional_arguments)");
}

static enum gh_rc rule_compile(struct gh_policy *p, const struct gh_config *cfg,
                               const struct gh_config_node *n, struct gh_config_error *err)
{
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n, "expected a rule (a mapping with id and effect)");
    if (p->nrules >= GH_POLICY_MAX_RULES)
        return gh_config_node_error(err, n, "more than %d rules", GH_POLICY_MAX_RULES);
    struct gh_policy__rule *r = &p->rules[p->nrules];
    memset(r, 0, sizeof(*r));
    r->line = n->line;
    r->column = n->column;
    r->order = p->nrules;
    r->effect = GH_DENY;
    for (size_t i = 0; i < n->n; i++)
        if (rule_key(p, cfg, n->items[i], r, err))
            return GH_E_PARSE;
    if (!r->id)
        return gh_config_node_error(err, n, "a rule needs an id");
    if (!gh_config_node_get(n, "effect"))
        return gh_config_node_error(err, n, "rule %s needs an effect (allow or deny)", r->id);
    if (r->nargs && !r->has_target[GH_POLICY_K_TOOL] && !r->has_target[GH_POLICY_K_PROMPT])
        return gh_config_node_error(err, gh_config_node_get(n, "arguments"),
                                    "arguments apply to tools or prompts: name them too");
    p->nrules++;
    return GH_OK;
}

static enum gh_rc rules_seq(struct gh_policy *p, const struct gh_config *cfg,
                            const struct gh_config_node *seq, struct gh_config_error *err)
{
    if (seq->kind != CFG_SEQ)
        return gh_config_node_error(err, seq, "expected a list of rules");
    if (p->nrules + seq->n > GH_POLICY_MAX_RULES)
        return gh_config_node_error(err, seq, "more than %d rules", GH_POLICY_MAX_RULES);
    for (size_t i = 0; i < seq->n; i++)
        if (rule_compile(p, cfg, seq->items[i], err))
            return GH_E_PARSE;
    return GH_OK;
}

/* include: [files], each holding `rules:` — kept in the policy arena so positions stay valid */
static enum gh_rc includes(struct gh_policy *p, const struct gh_config *cfg,
                           const struct gh_config_node *v, struct gh_config_error *err)
{
    struct gh_policy__list files = {0};
    if (list_of(p->arena, v, &files, err))
        return GH_E_PARSE;
    const char *src = cfg && cfg->source ? cfg->source : "";
    const char *slash = strrchr(src, '/');
    for (uint32_t i = 0; i < files.n; i++) {
        struct gh_config_node *root;
        struct gh_config_error ferr;
        const char *path = files.v[i].ptr;
        if (path[0] != '/' && slash) /* relative to the file that includes it */
            path = gh_arena_sprintf(p->arena, "%.*s/%s", (int)(slash - src), src, path);
        if (gh_config_tree_load_file(path, p->arena, &root, &ferr)) {
            *err = ferr;
            return GH_E_PARSE;
        }
        const struct gh_config_node *rs = gh_config_node_get(root, "rules");
        if (!rs) {
            gh_config_node_error(&ferr, root, "an included policy file holds `rules:`");
            *err = ferr;
            return GH_E_PARSE;
        }
        if (rules_seq(p, cfg, rs, &ferr)) {
            *err = ferr; /* the position is in the included file */
            return GH_E_PARSE;
        }
    }
    return GH_OK;
}

/* ---- index ---- */

static void bucket_add(struct gh_arena *a, struct gh_policy__bucket *b, uint32_t rule)
{
    if ((b->n & (b->n - 1)) == 0 || b->n == 0) { /* grow at powers of two */
        uint32_t cap = b->n ? b->n * 2 : 4;
        uint32_t *v = gh_arena_alloc(a, cap * sizeof(*v));
        if (b->n)
            memcpy(v, b->rules, b->n * sizeof(*v));
        b->rules = v;
    }
    b->rules[b->n++] = rule;
}

static struct gh_policy__exact *exact_slot(struct gh_policy *p, int kind, struct gh_slice name)
{
    uint32_t mask = p->exact_mask[kind];
    for (uint32_t i = (uint32_t)gh_policy__hash(name) & mask;; i = (i + 1) & mask) {
        struct gh_policy__exact *e = &p->exact[kind][i];
        if (!e->name.ptr || gh_slice_eq(e->name, name))
            return e;
    }
}

int32_t gh_policy__lookup(const struct gh_slice *table, const uint32_t *index, uint32_t mask,
                          struct gh_slice name)
{
    if (!table)
        return -1;
    for (uint32_t i = (uint32_t)gh_policy__hash(name) & mask;; i = (i + 1) & mask) {
        if (!table[i].ptr)
            return -1;
        if (gh_slice_eq(table[i], name))
            return (int32_t)index[i];
    }
}

/* Inserts name (if new) into an open table of size mask + 1; returns its index. */
static uint32_t table_put(struct gh_slice *table, uint32_t *index, uint32_t mask, uint32_t *n,
                          struct gh_slice name)
{
    for (uint32_t i = (uint32_t)gh_policy__hash(name) & mask;; i = (i + 1) & mask) {
        if (!table[i].ptr) {
            table[i] = name;
            index[i] = (*n)++;
            return index[i];
        }
        if (gh_slice_eq(table[i], name))
            return index[i];
    }
}

static uint32_t table_size(size_t n)
{
    uint32_t size = 16;
    while (size < n * 2)
        size *= 2;
    return size;
}

/* Which configured upstreams (and "", the unnamed one) each rule's upstream condition admits. */
static void upstreams_index(struct gh_policy *p)
{
    uint32_t nup = (uint32_t)p->nupstreams, words = (nup + 1 + 63) / 64, n = 0;
    uint32_t size = table_size(nup);
    p->up_table = gh_arena_calloc(p->arena, size * sizeof(*p->up_table));
    p->up_index = gh_arena_calloc(p->arena, size * sizeof(*p->up_index));
    p->up_mask = size - 1;
    for (uint32_t u = 0; u < nup; u++)
        table_put(p->up_table, p->up_index, p->up_mask, &n, gh_slice_cstr(p->upstream_names[u]));
    for (uint32_t i = 0; i < p->nrules; i++) {
        struct gh_policy__rule *r = &p->rules[i];
        r->upmask = gh_arena_calloc(p->arena, words * sizeof(uint64_t));
        for (uint32_t u = 0; u <= nup; u++) {
            struct gh_slice name = u < nup ? gh_slice_cstr(p->upstream_names[u]) : GH_SLICE_LIT("");
            bool in = !r->upstream.n;
            for (uint32_t j = 0; j < r->upstream.n && !in; j++)
                in = gh_policy_glob(r->upstream.v[j], name);
            if (in)
                r->upmask[u / 64] |= 1ull << (u % 64);
        }
    }
    for (int k = 0; k < 4; k++) {
        p->generic_up[k] = gh_arena_calloc(p->arena, (nup + 1) * sizeof(*p->generic_up[k]));
        for (uint32_t j = 0; j < p->generic[k].n; j++) {
            uint32_t ri = p->generic[k].rules[j];
            for (uint32_t u = 0; u <= nup; u++)
                if (p->rules[ri].upmask[u / 64] & (1ull << (u % 64)))
                    bucket_add(p->arena, &p->generic_up[k][u], ri);
        }
    }
}

/* The group names rules mention, interned: a subject's groups become a bit set once per call. */
static void groups_index(struct gh_policy *p)
{
    size_t total = 0;
    for (uint32_t i = 0; i < p->nrules; i++)
        total += p->rules[i].groups.n;
    uint32_t size = table_size(total);
    p->gid_table = gh_arena_calloc(p->arena, size * sizeof(*p->gid_table));
    p->gid_index = gh_arena_calloc(p->arena, size * sizeof(*p->gid_index));
    p->gid_mask = size - 1;
    for (uint32_t i = 0; i < p->nrules; i++) {
        struct gh_policy__rule *r = &p->rules[i];
        if (!r->groups.n)
            continue;
        r->gids = gh_arena_calloc(p->arena, r->groups.n * sizeof(*r->gids));
        for (uint32_t j = 0; j < r->groups.n; j++)
            r->gids[j] =
                table_put(p->gid_table, p->gid_index, p->gid_mask, &p->ngids, r->groups.v[j]);
    }
}

static uint64_t gkey(uint32_t up, uint32_t gid)
{
    return ((uint64_t)up << 32 | gid) + 1;
}

static struct gh_policy__gbucket *gbucket_slot(struct gh_policy__gbucket *t, uint32_t mask,
                                               uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    for (uint32_t i = (uint32_t)(h >> 32) & mask;; i = (i + 1) & mask)
        if (!t[i].key || t[i].key == key)
            return &t[i];
}

const struct gh_policy__bucket *gh_policy__gbucket_find(const struct gh_policy__gbucket *t,
                                                        uint32_t mask, uint64_t key)
{
    if (!t)
        return NULL;
    const struct gh_policy__gbucket *s = gbucket_slot((struct gh_policy__gbucket *)t, mask, key);
    return s->key ? &s->b : NULL;
}

static bool up_bit(const struct gh_policy__rule *r, uint32_t u)
{
    return r->upmask[u / 64] & (1ull << (u % 64));
}

/* Splits each kind's generic rules by upstream and, where they name groups, by group. */
static void groups_split(struct gh_policy *p)
{
    uint32_t nup = (uint32_t)p->nupstreams;
    for (int k = 0; k < 4; k++) {
        size_t inserts = 0;
        for (uint32_t j = 0; j < p->generic[k].n; j++) {
            const struct gh_policy__rule *r = &p->rules[p->generic[k].rules[j]];
            if (r->gids)
                inserts += (size_t)r->groups.n * (nup + 1);
        }
        uint32_t size = table_size(inserts);
        p->gtab[k] = gh_arena_calloc(p->arena, size * sizeof(*p->gtab[k]));
        p->gtab_mask[k] = size - 1;
        p->nogroup_up[k] = gh_arena_calloc(p->arena, (nup + 1) * sizeof(*p->nogroup_up[k]));
        for (uint32_t j = 0; j < p->generic[k].n; j++) {
            uint32_t ri = p->generic[k].rules[j];
            const struct gh_policy__rule *r = &p->rules[ri];
            for (uint32_t u = 0; u <= nup; u++) {
                if (!up_bit(r, u))
                    continue;
                if (!r->gids) {
                    bucket_add(p->arena, &p->nogroup_up[k][u], ri);
                    continue;
                }
                for (uint32_t g = 0; g < r->groups.n; g++) {
                    struct gh_policy__gbucket *s =
                        gbucket_slot(p->gtab[k], p->gtab_mask[k], gkey(u, r->gids[g]));
                    s->key = gkey(u, r->gids[g]);
                    if (!s->b.n || s->b.rules[s->b.n - 1] != ri)
                        bucket_add(p->arena, &s->b, ri);
                }
            }
        }
    }
}

static void index_build(struct gh_policy *p)
{
    size_t lits[4] = {0};
    for (uint32_t i = 0; i < p->nrules; i++)
        for (int k = 1; k < 4; k++)
            if (p->rules[i].has_target[k] && p->rules[i].targets[k].literal)
                lits[k] += p->rules[i].targets[k].n;
    for (int k = 1; k < 4; k++) {
        uint32_t size = 16;
        while (size < lits[k] * 2)
            size *= 2;
        p->exact[k] = gh_arena_calloc(p->arena, size * sizeof(*p->exact[k]));
        p->exact_mask[k] = size - 1;
    }
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct gh_policy__rule *r = &p->rules[i];
        if (!r->any_target) { /* applies to every kind, protocol methods included */
            for (int k = 0; k < 4; k++)
                bucket_add(p->arena, &p->generic[k], i);
            continue;
        }
        for (int k = 1; k < 4; k++) {
            if (!r->has_target[k])
                continue;
            if (!r->targets[k].literal) {
                bucket_add(p->arena, &p->generic[k], i);
                continue;
            }
            for (uint32_t j = 0; j < r->targets[k].n; j++) {
                struct gh_policy__exact *e = exact_slot(p, k, r->targets[k].v[j]);
                e->name = r->targets[k].v[j];
                if (!e->b.n || e->b.rules[e->b.n - 1] != i)
                    bucket_add(p->arena, &e->b, i);
            }
        }
    }
}

/* ---- digest: SHA-256 over a canonical dump of the section (and included rules) ---- */

static void dump_node(struct gh_buf *b, const struct gh_config_node *n)
{
    if (n->key) {
        gh_buf_putu(b, strlen(n->key), 10);
        gh_buf_appendf(b, ":%s=", n->key);
    }
    if (n->kind == CFG_SCALAR) {
        gh_buf_putu(b, n->len, 10);
        gh_buf_append(b, ":", 1);
        gh_buf_append(b, n->text, n->len);
        return;
    }
    gh_buf_append(b, n->kind == CFG_MAP ? "{" : "[", 1);
    for (size_t i = 0; i < n->n; i++)
        dump_node(b, n->items[i]); /* depth is capped by the YAML loader */
    gh_buf_append(b, n->kind == CFG_MAP ? "}" : "]", 1);
}

static void digest_compute(struct gh_policy *p, const struct gh_config_node *node)
{
    struct gh_buf b;
    gh_buf_init(&b, 64u << 20);
    dump_node(&b, node);
    for (uint32_t i = 0; i < p->nrules; i++) /* included files count too: dump ids and lines */
        gh_buf_appendf(&b, "|%s@%d", p->rules[i].id, p->rules[i].line);
    unsigned char h[32];
    gh_sha256(b.data, b.len, h);
    memcpy(p->digest, "sha256:", 7);
    gh_hex_encode(h, 32, p->digest + 7);
    gh_buf_release(&b);
}

/* ---- the section ---- */

static enum gh_rc section_key(struct gh_policy *p, const struct gh_config *cfg,
                              const struct gh_config_node *v, struct gh_config_error *err)
{
    static const char *const modes[] = {"local", "pdp", "local-then-pdp"};
    int m = 0;
    const char *k = v->key;
    if (strcmp(k, "decision") == 0) {
        if (gh_policy__enum(v, modes, 3, &m, err))
            return GH_E_PARSE;
        p->mode = (enum gh_policy_mode)m;
        return GH_OK;
    }
    if (strcmp(k, "rules") == 0)
        return rules_seq(p, cfg, v, err);
    if (strcmp(k, "include") == 0)
        return includes(p, cfg, v, err);
    if (strcmp(k, "limits") == 0)
        return gh_policy__limits_compile(v, &p->limits, err);
    if (strcmp(k, "pinning") == 0)
        return gh_policy__pins_compile(v, &p->pins, err);
    if (strcmp(k, "pdp") == 0)
        return gh_policy__pdp_compile(v, &p->pdp, err);
    return gh_config_node_error(err, v,
                                "unknown key (expected decision, rules, include, limits, "
                                "pinning or pdp)");
}

static void context_copy(struct gh_policy *p, const struct gh_config *cfg)
{
    p->nupstreams = cfg->n_upstreams;
    p->upstream_names = gh_arena_calloc(p->arena, (cfg->n_upstreams + 1) * sizeof(char *));
    for (size_t i = 0; i < cfg->n_upstreams; i++)
        p->upstream_names[i] =
            gh_arena_strndup(p->arena, cfg->upstreams[i].name, strlen(cfg->upstreams[i].name));
    p->auth_on = cfg->auth != NULL;
    if (cfg->auth) {
        p->nissuers = cfg->auth->n_issuers;
        p->issuers = gh_arena_calloc(p->arena, (p->nissuers + 1) * sizeof(char *));
        for (size_t i = 0; i < p->nissuers; i++)
            p->issuers[i] = gh_arena_strndup(p->arena, cfg->auth->issuers[i].issuer,
                                             strlen(cfg->auth->issuers[i].issuer));
    }
}

enum gh_rc gh_policy_compile(const struct gh_config *cfg, const struct gh_config_node *node,
                             struct gh_policy **out, struct gh_config_error *err)
{
    struct gh_policy *p = gh_xcalloc(1, sizeof(*p));
    atomic_init(&p->refs, 1);
    p->arena = gh_arena_new(16384);
    snprintf(p->digest, sizeof(p->digest), "none");
    *out = NULL;
    if (cfg && cfg->source)
        snprintf(err->file, sizeof(err->file), "%s", cfg->source);
    if (cfg)
        context_copy(p, cfg);
    if (!node) {
        *out = p;
        return GH_OK;
    }
    p->enabled = true;
    p->known = gh_policy__known_new();
    p->rules = gh_xcalloc(GH_POLICY_MAX_RULES, sizeof(*p->rules));
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; i < node->n && !rc; i++)
        rc = section_key(p, cfg, node->items[i], err);
    if (!rc && p->mode != GH_POLICY_MODE_LOCAL && !p->pdp)
        rc = gh_config_node_error(err, gh_config_node_get(node, "decision"),
                                  "decision %s needs a pdp: section",
                                  p->mode == GH_POLICY_MODE_PDP ? "pdp" : "local-then-pdp");
    if (rc) {
        gh_policy_unref(p);
        return rc;
    }
    index_build(p);
    upstreams_index(p);
    groups_index(p);
    groups_split(p);
    digest_compute(p, node);
    *out = p;
    return GH_OK;
}

struct gh_policy *gh_policy_ref(struct gh_policy *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

void gh_policy_unref(struct gh_policy *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    /* the slot after the last rule may hold a rule that failed half way: its checks too */
    for (uint32_t i = 0; p->rules && i <= p->nrules && i < GH_POLICY_MAX_RULES; i++)
        for (uint32_t j = 0; j < p->rules[i].nargs; j++)
            gh_policy_argcheck_free(p->rules[i].args[j].chk);
    free(p->rules);
    gh_policy__limits_free(p->limits);
    gh_policy__pins_free(p->pins);
    gh_policy__pdp_free(p->pdp);
    gh_policy__known_free(p->known);
    gh_arena_free(p->arena);
    free(p);
}

const char *gh_policy_argument_rule(const struct gh_policy *p, size_t upstream)
{
    for (uint32_t i = 0; p && p->enabled && i < p->nrules; i++) {
        const struct gh_policy__rule *r = &p->rules[i];
        if ((r->nargs || r->strict_args) && r->upmask &&
            (r->upmask[upstream / 64] & (1ull << (upstream % 64))))
            return r->id;
    }
    return NULL;
}

void gh_policy_adopt_state(struct gh_policy *p, struct gh_policy *old)
{
    if (!p || !old)
        return;
    gh_policy__known_copy(p->known, old->known);
    gh_policy__pins_copy(p->pins, old->pins);
}

bool gh_policy_enabled(const struct gh_policy *p)
{
    return p && p->enabled;
}

const char *gh_policy_digest(const struct gh_policy *p)
{
    return p ? p->digest : "none";
}

enum gh_policy_mode gh_policy_mode(const struct gh_policy *p)
{
    return p ? p->mode : GH_POLICY_MODE_LOCAL;
}

const char *gh_policy_reason_str(enum gh_policy_reason r)
{
    switch (r) {
    case GH_POLICY_R_ALLOWED:
        return "allowed";
    case GH_POLICY_R_PROTOCOL:
        return "protocol";
    case GH_POLICY_R_DENY_RULE:
        return "deny_rule";
    case GH_POLICY_R_NO_MATCH:
        return "no_match";
    case GH_POLICY_R_ARGUMENTS:
        return "arguments";
    case GH_POLICY_R_BAD_NAME:
        return "bad_name";
    case GH_POLICY_R_UNLISTED:
        return "unlisted";
    case GH_POLICY_R_PDP_DENY:
        return "pdp_deny";
    case GH_POLICY_R_PDP_UNAVAILABLE:
        return "pdp_unavailable";
    case GH_POLICY_R_UNSPECIFIED:
        break;
    }
    return "unspecified";
}
