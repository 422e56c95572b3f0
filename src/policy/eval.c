/*
 * policy/eval.c owns deciding: matching one action of one subject against the indexed rules
 * (deny wins, no match denies), the list-visibility question, explanations and the static
 * checks (rules that can never match, allow rules a deny rule shadows).
 */
#include "core/core.h"
#include "policy/internal.h"

#include <stdio.h>
#include <string.h>

static const char *const PROTOCOL_METHODS[] = {
    "initialize",      "ping",
    "tools/list",      "prompts/list",
    "resources/list",  "resources/templates/list",
    "server/discover", "subscriptions/listen",
};

/* [A-Za-z0-9_.-]: a table, since every call and every listed entry is checked */
static const bool NAME_CHAR[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1,
};

bool gh_policy_name_valid(struct gh_slice name)
{
    if (!name.len || name.len > GH_POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < name.len; i++)
        if (!NAME_CHAR[(unsigned char)name.ptr[i]])
            return false;
    return true;
}

bool gh_policy_protocol_method(struct gh_slice m)
{
    if (m.len > 14 && memcmp(m.ptr, "notifications/", 14) == 0)
        return true;
    for (size_t i = 0; i < GH_ARRAY_LEN(PROTOCOL_METHODS); i++)
        if (gh_slice_eq_cstr(m, PROTOCOL_METHODS[i]))
            return true;
    return false;
}

static bool any_glob(const struct gh_policy__list *l, struct gh_slice s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->literal ? gh_slice_eq(l->v[i], s) : gh_policy_glob(l->v[i], s))
            return true;
    return false;
}

static bool any_of(const struct gh_policy__list *l, const struct gh_slice *have, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < l->n; j++)
            if (gh_slice_eq(l->v[j], have[i]))
                return true;
    return false;
}

static bool all_of(const struct gh_policy__list *l, const struct gh_slice *have, uint32_t n)
{
    for (uint32_t j = 0; j < l->n; j++) {
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++)
            found = gh_slice_eq(l->v[j], have[i]);
        if (!found)
            return false;
    }
    return true;
}

/* A claim's value as strings: a string, a number or boolean as written, or an array of those. */
static bool claim_matches(const struct gh_policy__claim *c, struct gh_slice claims_json)
{
    if (!claims_json.len)
        return false;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    bool ok = false;
    if (gh_json_parse(a, claims_json.ptr, claims_json.len, NULL, &d, NULL) != GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    int32_t v = gh_json_obj_get(&d, 0, c->name, strlen(c->name));
    if (v < 0)
        goto out;
    uint32_t first = (uint32_t)v, end = (uint32_t)v + 1, step_arr = 0;
    if (d.toks[v].type == GH_JSON_ARRAY) {
        first = (uint32_t)v + 1;
        end = d.toks[v].end;
        step_arr = 1;
    }
    for (uint32_t i = first; i < end && !ok; i = step_arr ? d.toks[i].end : end) {
        struct gh_slice s;
        uint8_t t = d.toks[i].type;
        if (t == GH_JSON_STRING) {
            if (gh_json_str(&d, a, i, &s) != GH_OK)
                continue;
        } else if (t == GH_JSON_NUMBER || t == GH_JSON_TRUE || t == GH_JSON_FALSE) {
            s = gh_json_raw(&d, i);
        } else {
            continue;
        }
        ok = !memchr(s.ptr, '\0', s.len) && any_glob(&c->vals, s);
    }
out:
    gh_arena_free(a);
    return ok;
}

#define GSET_WORDS 64 /* interned groups up to 4096: beyond that, strings are compared */
#define GSET_IDS   64 /* a subject's groups that rules mention, listed for the bucket lookup */

/* The subject's groups as bits over the policy's interned group ids (computed on first need). */
struct gset {
    const struct gh_policy *p;
    bool ready, usable;
    uint64_t bits[GSET_WORDS];
    uint32_t ids[GSET_IDS]; /* the subject's groups that rules mention */
    uint32_t nids;
    bool ids_complete; /* every such group is in ids (else candidates fall back to the walk) */
};

static bool groups_match(const struct gh_policy__rule *r, const struct gh_policy_subject *s,
                         struct gset *g)
{
    if (g && !g->ready) {
        g->ready = true;
        g->usable = g->p->ngids <= GSET_WORDS * 64;
        memset(g->bits, 0, ((g->p->ngids + 63) / 64) * sizeof(uint64_t));
        g->ids_complete = true;
        for (uint32_t i = 0; g->usable && i < s->ngroups; i++) {
            int32_t id =
                gh_policy__lookup(g->p->gid_table, g->p->gid_index, g->p->gid_mask, s->groups[i]);
            if (id < 0 || (g->bits[id / 64] & (1ull << (id % 64))))
                continue;
            g->bits[id / 64] |= 1ull << (id % 64);
            if (g->nids < GSET_IDS)
                g->ids[g->nids++] = (uint32_t)id;
            else
                g->ids_complete = false;
        }
    }
    if (!g || !g->usable || !r->gids)
        return any_of(&r->groups, s->groups, s->ngroups);
    for (uint32_t j = 0; j < r->groups.n; j++)
        if (g->bits[r->gids[j] / 64] & (1ull << (r->gids[j] % 64)))
            return true;
    return false;
}

/* Why the subject does not fit r's principal conditions, or NULL when it does. */
static const char *subject_miss(const struct gh_policy__rule *r, const struct gh_policy_subject *s,
                                struct gset *g)
{
    if (r->issuer && !gh_slice_eq_cstr(s->issuer, r->issuer))
        return "principal.issuer";
    if (r->subject.n && !any_glob(&r->subject, s->subject))
        return "principal.subject";
    if (r->client_id.n && !any_glob(&r->client_id, s->client_id))
        return "principal.client_id";
    if (r->groups.n && !groups_match(r, s, g))
        return "principal.groups";
    if (r->roles.n && !any_of(&r->roles, s->roles, s->nroles))
        return "principal.roles";
    if (r->scopes.n && !all_of(&r->scopes, s->scopes, s->nscopes))
        return "principal.scopes";
    if (r->act_none && s->nact)
        return "principal.act (none expected)";
    if (r->act.n) {
        bool hit = false;
        for (uint32_t i = 0; i < s->nact && !hit; i++)
            hit = any_glob(&r->act, s->act[i]);
        if (!hit)
            return "principal.act";
    }
    for (uint32_t i = 0; i < r->nclaims; i++)
        if (!claim_matches(&r->claims[i], s->claims_json))
            return "principal.claims";
    return NULL;
}

static const char *default_method_miss(const struct gh_policy__rule *r, enum gh_policy_kind k,
                                       struct gh_slice m)
{
    if (r->methods.n)
        return any_glob(&r->methods, m) ? NULL : "methods";
    if (!r->any_target)
        return NULL; /* no methods, no targets: any method */
    switch (k) {     /* the target lists imply the call methods */
    case GH_POLICY_K_TOOL:
        return gh_slice_eq_cstr(m, "tools/call") ? NULL : "methods";
    case GH_POLICY_K_PROMPT:
        return gh_slice_eq_cstr(m, "prompts/get") ? NULL : "methods";
    case GH_POLICY_K_RESOURCE:
        return NULL; /* read, subscribe, unsubscribe */
    case GH_POLICY_K_METHOD:
        break;
    }
    return "methods";
}

/* Why the action does not fit r's action conditions (arguments aside), or NULL. upidx is the
 * action's upstream among the configured ones (-1: not one of them, compared by name). */
static const char *action_miss(const struct gh_policy__rule *r, const struct gh_policy_action *a,
                               int32_t upidx)
{
    if (upidx >= 0 ? !(r->upmask[upidx / 64] & (1ull << (upidx % 64)))
                   : r->upstream.n && !any_glob(&r->upstream, a->upstream))
        return "upstream";
    if (r->any_target) {
        if (!r->has_target[a->kind])
            return a->kind == GH_POLICY_K_METHOD   ? "methods (the rule names targets)"
                   : a->kind == GH_POLICY_K_TOOL   ? "tools (the rule names none)"
                   : a->kind == GH_POLICY_K_PROMPT ? "prompts (the rule names none)"
                                                   : "resources (the rule names none)";
        if (!any_glob(&r->targets[a->kind], a->name))
            return a->kind == GH_POLICY_K_TOOL     ? "tools"
                   : a->kind == GH_POLICY_K_PROMPT ? "prompts"
                                                   : "resources";
    }
    return default_method_miss(r, a->kind, a->method);
}

static bool arg_listed(const struct gh_policy__rule *r, const struct gh_json_doc *d, uint32_t key)
{
    for (uint32_t i = 0; i < r->nargs; i++)
        if (gh_json_str_eq(d, key, r->args[i].name, strlen(r->args[i].name)))
            return true;
    return false;
}

/* Argument checks of r on the action; *arg names the first failing one. */
static bool args_pass(const struct gh_policy__rule *r, const struct gh_policy_action *a,
                      const char **arg, const char **why)
{
    if (!r->nargs && !r->strict_args)
        return true;
    const struct gh_json_doc *d = a->args;
    int32_t obj = d ? a->args_tok : -1;
    if (obj >= 0 && d->toks[obj].type != GH_JSON_OBJECT) {
        *arg = "arguments";
        *why = "type";
        return false;
    }
    for (uint32_t i = 0; i < r->nargs; i++) {
        const char *n = r->args[i].name;
        int32_t v = obj >= 0 ? gh_json_obj_get(d, (uint32_t)obj, n, strlen(n)) : -1;
        if (!gh_policy_argcheck_eval(r->args[i].chk, d, v, why)) {
            *arg = n;
            return false;
        }
    }
    if (r->strict_args && obj >= 0) {
        for (uint32_t k = (uint32_t)obj + 1; k < d->toks[obj].end; k = d->toks[k + 1].end) {
            if (!arg_listed(r, d, k)) {
                *arg = "(an argument the rule does not list)";
                *why = "additional_arguments";
                return false;
            }
        }
    }
    return true;
}

struct walk {
    const struct gh_policy *p;
    const struct gh_policy_subject *s;
    const struct gh_policy_action *a;
    bool listing; /* list visibility: arguments are not known, deny rules with them don't hide */
    void (*fn)(void *, const struct gh_policy_trace *);
    void *arg;
    int32_t upidx;   /* the action's upstream index, -1 when not a configured one */
    struct gset *gs; /* the subject's groups as bits */
    const struct gh_policy__rule *deny, *allow, *args_failed;
    const char *bad_arg;
};

/* The two bit tests that reject most candidates, before any string is compared. */
static bool quick_reject(const struct walk *w, const struct gh_policy__rule *r)
{
    if (w->upidx >= 0 && !(r->upmask[w->upidx / 64] & (1ull << (w->upidx % 64))))
        return true;
    return r->groups.n && !groups_match(r, w->s, w->gs);
}

static void consider(struct walk *w, const struct gh_policy__rule *r)
{
    if (!w->fn && quick_reject(w, r))
        return; /* explain reports every rule's reason: it takes the long way */
    const char *why = action_miss(r, w->a, w->upidx);
    if (!why)
        why = subject_miss(r, w->s, w->gs);
    const char *arg = NULL, *awhy = NULL;
    bool matched = !why;
    if (matched && w->listing) {
        matched = r->effect == GH_ALLOW || (!r->nargs && !r->strict_args);
        why = matched ? NULL : "has argument conditions (decided per call)";
    } else if (matched && !args_pass(r, w->a, &arg, &awhy)) {
        matched = false;
        why = awhy;
        if (r->effect == GH_ALLOW && !w->args_failed) {
            w->args_failed = r;
            w->bad_arg = arg;
        }
    }
    if (matched && r->effect == GH_DENY && !w->deny)
        w->deny = r;
    if (matched && r->effect == GH_ALLOW && !w->allow)
        w->allow = r;
    if (w->fn) {
        char buf[200];
        if (arg)
            snprintf(buf, sizeof(buf), "arguments.%s: %s", arg, awhy);
        struct gh_policy_trace t = {r->id, r->effect == GH_ALLOW ? "allow" : "deny", matched,
                                    matched ? "matched"
                                    : arg   ? buf
                                            : why};
        w->fn(w->arg, &t);
    }
}

#define CAND_MAX 256

static void cand_add(struct gh_policy__bucket *out, const struct gh_policy__bucket *b, bool *ok)
{
    if (!b || !b->n || !*ok)
        return;
    if (out->n + b->n > CAND_MAX) {
        *ok = false;
        return;
    }
    memcpy(out->rules + out->n, b->rules, b->n * sizeof(uint32_t));
    out->n += b->n;
}

/* The generic rules this subject's groups can reach on this upstream, sorted, without
 * duplicates; false when that cannot be told (too many, groups not interned): walk them all. */
static bool candidates(struct walk *w, int k, struct gh_policy__bucket *out)
{
    const struct gh_policy *p = w->p;
    if (!p->ngids)
        return false;
    struct gset *g = w->gs;
    static const struct gh_policy__rule none = {0};
    groups_match(&none, w->s, g); /* computes the set once */
    if (!g->usable || !g->ids_complete)
        return false;
    bool ok = true;
    cand_add(out, &p->nogroup_up[k][w->upidx], &ok);
    for (uint32_t i = 0; i < g->nids && ok; i++)
        cand_add(out,
                 gh_policy__gbucket_find(p->gtab[k], p->gtab_mask[k],
                                         ((uint64_t)w->upidx << 32 | g->ids[i]) + 1),
                 &ok);
    if (!ok)
        return false;
    for (uint32_t i = 1; i < out->n; i++) { /* insertion sort: a handful of entries */
        uint32_t v = out->rules[i], j = i;
        for (; j > 0 && out->rules[j - 1] > v; j--)
            out->rules[j] = out->rules[j - 1];
        out->rules[j] = v;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < out->n; i++)
        if (!n || out->rules[n - 1] != out->rules[i])
            out->rules[n++] = out->rules[i];
    out->n = n;
    return true;
}

/* Candidate rules in config order: the exact bucket of the name merged with the generic list. */
static void walk_rules(struct walk *w)
{
    const struct gh_policy *p = w->p;
    int k = (int)w->a->kind;
    if (w->fn) { /* explain: every rule, in order */
        for (uint32_t i = 0; i < p->nrules; i++)
            consider(w, &p->rules[i]);
        return;
    }
    uint32_t cand[CAND_MAX];
    struct gh_policy__bucket picked = {cand, 0};
    const struct gh_policy__bucket *g = w->upidx >= 0 && candidates(w, k, &picked) ? &picked
                                        : w->upidx >= 0 ? &p->generic_up[k][w->upidx]
                                                        : &p->generic[k];
    struct gh_policy__bucket none = {0};
    const struct gh_policy__bucket *e = &none;
    if (k != GH_POLICY_K_METHOD) {
        uint32_t mask = p->exact_mask[k];
        for (uint32_t i = (uint32_t)gh_policy__hash(w->a->name) & mask;; i = (i + 1) & mask) {
            const struct gh_policy__exact *x = &p->exact[k][i];
            if (!x->name.ptr)
                break;
            if (gh_slice_eq(x->name, w->a->name)) {
                e = &x->b;
                break;
            }
        }
    }
    uint32_t i = 0, j = 0;
    while ((i < g->n || j < e->n) && !w->deny) {
        uint32_t r;
        if (j >= e->n || (i < g->n && g->rules[i] < e->rules[j]))
            r = g->rules[i++];
        else
            r = e->rules[j++];
        consider(w, &p->rules[r]);
    }
}

static void decide(struct walk *w, struct gh_policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->digest = w->p->digest;
    d->rule = "";
    if (w->a->kind != GH_POLICY_K_METHOD && w->a->kind != GH_POLICY_K_RESOURCE &&
        !gh_policy_name_valid(w->a->name)) {
        d->reason = GH_POLICY_R_BAD_NAME;
        return;
    }
    const struct gh_policy_action *a = w->a;
    w->upidx = !a->upstream.len
                   ? (int32_t)w->p->nupstreams
                   : gh_policy__lookup(w->p->up_table, w->p->up_index, w->p->up_mask, a->upstream);
    struct gset gs = {.p = w->p};
    w->gs = &gs;
    walk_rules(w);
    w->gs = NULL;
    if (w->deny) {
        d->reason = GH_POLICY_R_DENY_RULE;
        d->rule = w->deny->id;
    } else if (w->allow) {
        d->verdict = GH_ALLOW;
        d->reason = GH_POLICY_R_ALLOWED;
        d->rule = w->allow->id;
    } else if (w->a->kind == GH_POLICY_K_METHOD && gh_policy_protocol_method(w->a->method)) {
        d->verdict = GH_ALLOW; /* exposes nothing by itself: lists are filtered */
        d->reason = GH_POLICY_R_PROTOCOL;
    } else if (w->args_failed) {
        d->reason = GH_POLICY_R_ARGUMENTS;
        d->rule = w->args_failed->id;
        d->argument = w->bad_arg;
    } else {
        d->reason = GH_POLICY_R_NO_MATCH;
    }
}

void gh_policy_evaluate(const struct gh_policy *p, const struct gh_policy_subject *s,
                        const struct gh_policy_action *a, struct gh_policy_decision *d)
{
    if (!gh_policy_enabled(p)) {
        memset(d, 0, sizeof(*d));
        d->verdict = GH_ALLOW;
        d->reason = GH_POLICY_R_ALLOWED;
        d->rule = "";
        d->digest = "none";
        return;
    }
    struct walk w = {.p = p, .s = s, .a = a};
    decide(&w, d);
}

void gh_policy_explain(const struct gh_policy *p, const struct gh_policy_subject *s,
                       const struct gh_policy_action *a, struct gh_policy_decision *d,
                       void (*fn)(void *arg, const struct gh_policy_trace *t), void *arg)
{
    if (!gh_policy_enabled(p)) {
        gh_policy_evaluate(p, s, a, d);
        return;
    }
    struct walk w = {.p = p, .s = s, .a = a, .fn = fn, .arg = arg};
    decide(&w, d);
}

bool gh_policy_listable(const struct gh_policy *p, const struct gh_policy_subject *s,
                        struct gh_slice upstream, enum gh_policy_kind kind, struct gh_slice name)
{
    if (!gh_policy_enabled(p))
        return kind == GH_POLICY_K_RESOURCE || gh_policy_name_valid(name);
    if (p->mode == GH_POLICY_MODE_PDP) /* the PDP decides each call; lists show valid names */
        return kind == GH_POLICY_K_RESOURCE || gh_policy_name_valid(name);
    static const char *const call[4] = {"", "tools/call", "resources/read", "prompts/get"};
    struct gh_policy_action a = {.method = gh_slice_cstr(call[kind]),
                                 .upstream = upstream,
                                 .kind = kind,
                                 .name = name,
                                 .args_tok = -1};
    struct walk w = {.p = p, .s = s, .a = &a, .listing = true};
    struct gh_policy_decision d;
    decide(&w, &d);
    return d.verdict == GH_ALLOW;
}

/* ---- lint ---- */

static bool list_covers(const struct gh_policy__list *general, const struct gh_policy__list *l)
{
    if (!general->n)
        return true;
    if (!l->n)
        return false;
    for (uint32_t i = 0; i < l->n; i++) {
        bool hit = false;
        for (uint32_t j = 0; j < general->n && !hit; j++)
            hit = gh_policy_glob(general->v[j], l->v[i]);
        if (!hit)
            return false;
    }
    return true;
}

static bool subset(const struct gh_policy__list *a, const struct gh_policy__list *b)
{
    for (uint32_t i = 0; i < a->n; i++) {
        bool hit = false;
        for (uint32_t j = 0; j < b->n && !hit; j++)
            hit = gh_slice_eq(a->v[i], b->v[j]);
        if (!hit)
            return false;
    }
    return true;
}

/* Does deny rule d apply whenever allow rule a does (conservatively)? */
static bool shadows(const struct gh_policy__rule *d, const struct gh_policy__rule *a)
{
    if (d->nargs || d->strict_args || d->nclaims || d->act.n || d->act_none)
        return false;
    if (d->issuer && (!a->issuer || strcmp(d->issuer, a->issuer) != 0))
        return false;
    if (!list_covers(&d->subject, &a->subject) || !list_covers(&d->client_id, &a->client_id))
        return false;
    if (d->groups.n && (!a->groups.n || !subset(&a->groups, &d->groups)))
        return false; /* a needs one of its groups; all of them must be deny-groups */
    if (d->roles.n && (!a->roles.n || !subset(&a->roles, &d->roles)))
        return false;
    if (d->scopes.n && !subset(&d->scopes, &a->scopes))
        return false;
    if (!list_covers(&d->upstream, &a->upstream) || !list_covers(&d->methods, &a->methods))
        return false;
    if (!d->any_target)
        return true;
    if (!a->any_target)
        return false;
    for (int k = 1; k < 4; k++)
        if (a->has_target[k] && (!d->has_target[k] || !list_covers(&d->targets[k], &a->targets[k])))
            return false;
    return true;
}

static bool upstream_exists(const struct gh_policy *p, struct gh_slice pat)
{
    for (size_t i = 0; i < p->nupstreams; i++)
        if (gh_policy_glob(pat, gh_slice_cstr(p->upstream_names[i])))
            return true;
    return false;
}

static const char *never_matches(const struct gh_policy *p, const struct gh_policy__rule *r)
{
    for (uint32_t i = 0; i < r->upstream.n; i++)
        if (!upstream_exists(p, r->upstream.v[i]) && r->upstream.n == 1)
            return "its upstream names no configured upstream";
    if (!p->auth_on && (r->issuer || r->subject.n || r->client_id.n || r->groups.n || r->roles.n ||
                        r->scopes.n || r->nclaims || r->act.n))
        return "it has principal conditions but auth: is off (no principal)";
    if (r->issuer) {
        bool known = false;
        for (size_t i = 0; i < p->nissuers && !known; i++)
            known = strcmp(p->issuers[i], r->issuer) == 0;
        if (!known)
            return "its issuer is not one of auth.issuers";
    }
    for (int k = 1; k < 4; k++)
        for (uint32_t i = 0; r->has_target[k] && k != GH_POLICY_K_RESOURCE &&
                             r->targets[k].literal && i < r->targets[k].n;
             i++)
            if (!gh_policy_name_valid(r->targets[k].v[i]))
                return "it names a tool or prompt outside [A-Za-z0-9_.-]{1,128}";
    if (r->methods.n && r->any_target) {
        static const char *const call[4] = {"", "tools/call", "resources/read", "prompts/get"};
        bool any = false;
        for (int k = 1; k < 4; k++)
            any |= r->has_target[k] && any_glob(&r->methods, gh_slice_cstr(call[k]));
        any |= r->has_target[GH_POLICY_K_RESOURCE] &&
               (any_glob(&r->methods, GH_SLICE_LIT("resources/subscribe")) ||
                any_glob(&r->methods, GH_SLICE_LIT("resources/unsubscribe")));
        if (!any)
            return "its methods do not call any of the targets it names";
    }
    return NULL;
}

size_t gh_policy_lint(const struct gh_policy *p,
                      void (*fn)(void *arg, const struct gh_policy_finding *f), void *arg)
{
    size_t n = 0;
    if (!gh_policy_enabled(p))
        return 0;
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct gh_policy__rule *r = &p->rules[i];
        struct gh_policy_finding f = {r->id, r->line, r->column, ""};
        const char *why = never_matches(p, r);
        if (why) {
            snprintf(f.msg, sizeof(f.msg), "rule %s can never match: %s", r->id, why);
            fn(arg, &f);
            n++;
            continue;
        }
        for (uint32_t j = 0; r->effect == GH_ALLOW && j < p->nrules; j++) {
            if (p->rules[j].effect == GH_DENY && shadows(&p->rules[j], r)) {
                snprintf(f.msg, sizeof(f.msg),
                         "allow rule %s is shadowed by deny rule %s (line %d): it never allows",
                         r->id, p->rules[j].id, p->rules[j].line);
                fn(arg, &f);
                n++;
                break;
            }
        }
    }
    return n;
}

void gh_policy_limit_admit(const struct gh_policy *p, const char *principal,
                           struct gh_slice upstream, struct gh_slice tool, int64_t now_ms,
                           struct gh_policy_admit *out)
{
    gh_policy__limits_admit(p ? p->limits : NULL, principal, upstream, tool, now_ms, out);
}
