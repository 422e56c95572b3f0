/*
 * policy/known.c owns the names each upstream has listed (tools and prompts) since the gateway
 * started. Under a policy, a call to a name its upstream never listed is refused by the gateway
 * itself, with the same answer as a forbidden name: otherwise a caller whose rules allow a glob
 * could tell "exists but forbidden" (the gateway's refusal) from "does not exist" (the
 * upstream's own answer). Add-only and bounded; an upstream that has listed nothing yet is
 * decided by the rules alone.
 */
#include "core/core.h"
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

#define KNOWN_MAX (1u << 16) /* names per upstream and kind */

struct known_set {
    char *upstream;
    enum gh_policy_kind kind;
    char **names; /* open hash, power-of-two size */
    uint32_t n, mask;
};

struct gh_policy__known {
    pthread_mutex_t mu;
    struct known_set *sets;
    size_t nsets;
};

struct gh_policy__known *gh_policy__known_new(void)
{
    struct gh_policy__known *k = gh_xcalloc(1, sizeof(*k));
    pthread_mutex_init(&k->mu, NULL);
    return k;
}

void gh_policy__known_free(struct gh_policy__known *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->nsets; i++) {
        for (uint32_t j = 0; j <= k->sets[i].mask; j++)
            free(k->sets[i].names[j]);
        free(k->sets[i].names);
        free(k->sets[i].upstream);
    }
    free(k->sets);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static struct known_set *set_of(struct gh_policy__known *k, struct gh_slice up,
                                enum gh_policy_kind kind, bool create)
{
    for (size_t i = 0; i < k->nsets; i++)
        if (k->sets[i].kind == kind && gh_slice_eq_cstr(up, k->sets[i].upstream))
            return &k->sets[i];
    if (!create || k->nsets >= 2 * GH_CONFIG_MAX_UPSTREAMS)
        return NULL;
    k->sets = gh_xrealloc(k->sets, (k->nsets + 1) * sizeof(*k->sets));
    struct known_set *s = &k->sets[k->nsets++];
    memset(s, 0, sizeof(*s));
    s->upstream = gh_xstrndup(up.ptr, up.len);
    s->kind = kind;
    s->mask = 63;
    s->names = gh_xcalloc(64, sizeof(*s->names));
    return s;
}

static char **slot_of(const struct known_set *s, struct gh_slice name)
{
    for (uint32_t i = (uint32_t)gh_policy__hash(name) & s->mask;; i = (i + 1) & s->mask) {
        char *e = s->names[i];
        if (!e || (strlen(e) == name.len && memcmp(e, name.ptr, name.len) == 0))
            return &s->names[i];
    }
}

static void grow(struct known_set *s)
{
    uint32_t old = s->mask + 1;
    char **names = s->names;
    s->mask = old * 2 - 1;
    s->names = gh_xcalloc(old * 2, sizeof(*s->names));
    for (uint32_t i = 0; i < old; i++)
        if (names[i])
            *slot_of(s, gh_slice_cstr(names[i])) = names[i];
    free(names);
}

void gh_policy__known_add(struct gh_policy__known *k, struct gh_slice up, enum gh_policy_kind kind,
                          struct gh_slice name)
{
    if (!k || !gh_policy_name_valid(name))
        return;
    pthread_mutex_lock(&k->mu);
    struct known_set *s = set_of(k, up, kind, true);
    if (s && s->n < KNOWN_MAX) {
        char **slot = slot_of(s, name);
        if (!*slot) {
            *slot = gh_xstrndup(name.ptr, name.len);
            if (++s->n * 2 > s->mask)
                grow(s);
        }
    }
    pthread_mutex_unlock(&k->mu);
}

enum gh_verdict gh_policy_known(const struct gh_policy *p, struct gh_slice upstream,
                                enum gh_policy_kind kind, struct gh_slice name)
{
    if (!p || !p->known || (kind != GH_POLICY_K_TOOL && kind != GH_POLICY_K_PROMPT))
        return GH_ALLOW;
    enum gh_verdict v = GH_ALLOW;
    pthread_mutex_lock(&p->known->mu);
    const struct known_set *s = set_of(p->known, upstream, kind, false);
    if (s && s->n && !*slot_of(s, name))
        v = GH_DENY;
    pthread_mutex_unlock(&p->known->mu);
    return v;
}

void gh_policy__known_copy(struct gh_policy__known *dst, struct gh_policy__known *src)
{
    if (!dst || !src)
        return;
    pthread_mutex_lock(&src->mu);
    for (size_t i = 0; i < src->nsets; i++)
        for (uint32_t j = 0; j <= src->sets[i].mask; j++)
            if (src->sets[i].names[j])
                gh_policy__known_add(dst, gh_slice_cstr(src->sets[i].upstream), src->sets[i].kind,
                                     gh_slice_cstr(src->sets[i].names[j]));
    pthread_mutex_unlock(&src->mu);
}
