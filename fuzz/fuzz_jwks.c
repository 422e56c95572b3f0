/*
 * fuzz/fuzz_jwks.c: JWK Set and single-JWK parsing on hostile input. Every key that loads must
 * have a family, a 43-character thumbprint and be findable; lookups with every algorithm must
 * stay inside the set; refcounts must balance (ASan/LSan see the rest).
 */
#include "core/core.h"
#include "auth/auth.h"

#include <stdio.h>

static void check_key(const struct gh_auth_jwk *k)
{
    char tp[GH_AUTH_JKT_LEN + 1];
    if (gh_auth_jwk_kty(k) == GH_AUTH_KTY_NONE)
        abort();
    gh_auth_jwk_thumbprint(k, tp);
    if (strlen(tp) != GH_AUTH_JKT_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_auth_jwks *set = NULL;
    struct gh_auth_err err;
    enum gh_rc rc = gh_auth_jwks_parse(a, (const char *)data, size, &set, &err);
    if (rc != err.rc || (rc != GH_OK) != (set == NULL) || (rc && !err.reason))
        abort();
    if (set) {
        struct gh_auth_jwks *r = gh_auth_jwks_ref(set);
        for (uint32_t i = 0; i < gh_auth_jwks_count(r); i++) {
            const struct gh_auth_jwk *k = gh_auth_jwks_at(r, i);
            check_key(k);
            for (int alg = GH_AUTH_ALG_NONE; alg <= GH_AUTH_ALG_EDDSA; alg++) {
                const struct gh_auth_jwk *f =
                    gh_auth_jwks_find(r, gh_auth_jwk_kid(k), (enum gh_auth_alg)alg);
                if (f && (f < gh_auth_jwks_at(r, 0) ||
                          f > gh_auth_jwks_at(r, gh_auth_jwks_count(r) - 1)))
                    abort();
            }
        }
        gh_auth_jwks_unref(set);
        gh_auth_jwks_unref(r);
    }
    struct gh_auth_jwk *one = NULL;
    rc = gh_auth_jwk_parse((const char *)data, size, &one, &err);
    if ((rc == GH_OK) != (one != NULL))
        abort();
    if (one)
        check_key(one);
    gh_auth_jwk_free(one);
    gh_arena_free(a);
    return 0;
}
