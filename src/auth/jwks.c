/*
 * auth/jwks.c owns JWK Sets: parsing a set under caps, skipping keys that cannot or must not
 * be used, the refcount that lets a set outlive a JWKS refresh while requests still use it,
 * and key lookup for a token (kid + algorithm family).
 */
#include "core/core.h"
#include "auth/auth.h"

#include <stdatomic.h>

#include "auth/internal.h"

struct gh_auth_jwks {
    atomic_uint refs;          /* owners; the last unref frees */
    uint32_t n;                /* usable keys */
    struct gh_auth_jwk keys[]; /* n keys */
};

static void skip(struct gh_auth_err *err, struct gh_auth_err *one, uint32_t i)
{
    if (err->skipped++ == 0) {
        err->reason = one->reason;
        err->auth_reason = one->auth_reason;
        err->index = (int32_t)i;
    }
}

static bool same_slot(const struct gh_auth_jwk *x, const struct gh_auth_jwk *y)
{
    return x->kty == y->kty && x->kid_len == y->kid_len &&
           (x->kid_len == 0 || memcmp(x->kid, y->kid, x->kid_len) == 0) &&
           (x->kid != NULL) == (y->kid != NULL);
}

static enum gh_rc fill(const struct gh_json_doc *d, uint32_t arr, struct gh_arena *a,
                       struct gh_auth_jwks *set, struct gh_auth_err *err)
{
    const struct gh_json_tok *t = gh_json_tok(d, arr);
    uint32_t i = 0;
    for (uint32_t k = arr + 1; k < t->end; k = d->toks[k].end, i++) {
        struct gh_auth_err one = {.index = (int32_t)i};
        struct gh_auth_jwk *key = &set->keys[set->n];
        if (gh_auth__jwk_from_doc(d, k, a, key, &one) != GH_OK) {
            skip(err, &one, i);
            continue;
        }
        for (uint32_t j = 0; j < set->n; j++) {
            if (key->kid && same_slot(key, &set->keys[j])) {
                gh_auth__jwk_release(key);
                err->reason = "two keys share a kid and a family";
                err->index = (int32_t)i;
                return GH_E_PARSE;
            }
        }
        set->n++;
    }
    return GH_OK;
}

static enum gh_rc keys_array(struct gh_arena *a, const char *json, size_t len,
                             struct gh_json_doc *doc, int32_t *arr, struct gh_auth_err *err)
{
    struct gh_json_limits lim = {.max_depth = 8, .max_bytes = GH_AUTH_JWKS_MAX_BYTES};
    if (len > GH_AUTH_JWKS_MAX_BYTES) {
        err->reason = "jwks larger than the cap";
        return GH_E_LIMIT;
    }
    enum gh_rc rc = gh_json_parse(a, json, len, &lim, doc, NULL);
    if (rc) {
        err->reason = "jwks not valid JSON (or over a JSON cap)";
        return rc;
    }
    *arr = gh_json_obj_get(doc, 0, "keys", 4);
    if (*arr < 0 || gh_json_tok(doc, (uint32_t)*arr)->type != GH_JSON_ARRAY) {
        err->reason = "jwks has no keys array";
        return GH_E_PARSE;
    }
    if (gh_json_tok(doc, (uint32_t)*arr)->size > GH_AUTH_JWKS_MAX_KEYS) {
        err->reason = "jwks holds more keys than the cap";
        return GH_E_LIMIT;
    }
    return GH_OK;
}

enum gh_rc gh_auth_jwks_parse(struct gh_arena *a, const char *json, size_t len,
                              struct gh_auth_jwks **out, struct gh_auth_err *err)
{
    struct gh_auth_err dummy;
    struct gh_arena *own = a ? NULL : gh_arena_new(16384);
    struct gh_auth_jwks *set = NULL;
    struct gh_json_doc doc;
    int32_t arr;
    if (!err)
        err = &dummy;
    *err = (struct gh_auth_err){.index = -1};
    *out = NULL;
    enum gh_rc rc = keys_array(a ? a : own, json, len, &doc, &arr, err);
    if (rc)
        goto out;
    uint32_t n = gh_json_tok(&doc, (uint32_t)arr)->size;
    set = gh_xcalloc(1, sizeof(*set) + n * sizeof(set->keys[0]));
    atomic_init(&set->refs, 1);
    rc = fill(&doc, (uint32_t)arr, a ? a : own, set, err);
    if (rc) {
        gh_auth_jwks_unref(set);
        goto out;
    }
    *out = set;
out:
    err->rc = rc;
    if (own)
        gh_arena_free(own);
    return rc;
}

struct gh_auth_jwks *gh_auth_jwks_ref(struct gh_auth_jwks *set)
{
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void gh_auth_jwks_unref(struct gh_auth_jwks *set)
{
    if (!set || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (uint32_t i = 0; i < set->n; i++)
        gh_auth__jwk_release(&set->keys[i]);
    free(set);
}

uint32_t gh_auth_jwks_count(const struct gh_auth_jwks *set)
{
    return set ? set->n : 0;
}

const struct gh_auth_jwk *gh_auth_jwks_at(const struct gh_auth_jwks *set, uint32_t i)
{
    GH_BUG_ON(i >= set->n);
    return &set->keys[i];
}

const struct gh_auth_jwk *gh_auth_jwks_find(const struct gh_auth_jwks *set, struct gh_slice kid,
                                            enum gh_auth_alg alg)
{
    enum gh_auth_kty want = gh_auth__alg_kty(alg);
    const struct gh_auth_jwk *hit = NULL;
    if (!set || want == GH_AUTH_KTY_NONE)
        return NULL;
    for (uint32_t i = 0; i < set->n; i++) {
        const struct gh_auth_jwk *k = &set->keys[i];
        if (k->kty != want)
            continue;
        if (kid.ptr) {
            if (k->kid && gh_slice_eq(gh_slice(k->kid, k->kid_len), kid))
                return k;
            continue;
        }
        if (hit)
            return NULL; /* several candidates without a kid: ambiguous */
        hit = k;
    }
    return hit;
}
