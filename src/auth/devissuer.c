/*
 * auth/devissuer.c owns the ephemeral issuer of `gatehouse dev`: a fresh P-256 key each start,
 * never written anywhere, whose public half the gate trusts directly, and which mints short-lived
 * ES256 access tokens for a dev user — so the first command a new user runs shows the real auth
 * path. It exists only in dev mode.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <time.h>

struct gh_auth_dev_issuer {
    EVP_PKEY *key;
    char *issuer, *audience;
    struct gh_auth_jwks *jwks;
};

static char *b64(const unsigned char *p, size_t n)
{
    char *o = gh_xmalloc(gh_b64url_enclen(n) + 1);
    gh_b64url_encode(p, n, o);
    return o;
}

static struct gh_auth_jwks *public_jwks(EVP_PKEY *key)
{
    unsigned char pub[65];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &n) != 1 ||
        n != 65)
        return NULL;
    char *x = b64(pub + 1, 32), *y = b64(pub + 33, 32);
    char json[512];
    int len =
        snprintf(json, sizeof(json),
                 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"dev\",\"alg\":\"ES256\","
                 "\"use\":\"sig\",\"x\":\"%s\",\"y\":\"%s\"}]}",
                 x, y);
    free(x);
    free(y);
    struct gh_auth_jwks *set = NULL;
    struct gh_auth_err err;
    if (gh_auth_jwks_parse(NULL, json, (size_t)len, &set, &err) != GH_OK)
        return NULL;
    return set;
}

struct gh_auth_dev_issuer *gh_auth_dev_issuer_new(const char *issuer, const char *audience)
{
    struct gh_auth_dev_issuer *d = gh_xcalloc(1, sizeof(*d));
    d->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    GH_BUG_ON(!d->key);
    d->jwks = public_jwks(d->key);
    GH_BUG_ON(!d->jwks);
    d->issuer = gh_xstrdup(issuer);
    d->audience = gh_xstrdup(audience);
    return d;
}

struct gh_auth_jwks *gh_auth_dev_issuer_jwks(struct gh_auth_dev_issuer *d)
{
    return gh_auth_jwks_ref(d->jwks);
}

char *gh_auth_dev_issuer_mint(struct gh_auth_dev_issuer *d, const char *sub, const char *scope,
                              int64_t ttl_s)
{
    static const char HEADER[] = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"dev\"}";
    unsigned char jti[16];
    char jti_hex[33];
    gh_random_bytes(jti, sizeof(jti));
    gh_hex_encode(jti, sizeof(jti), jti_hex);
    int64_t now = (int64_t)time(NULL);
    char payload[1024];
    int pn = snprintf(
        payload, sizeof(payload),
        "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"client_id\":\"gatehouse-dev\","
        "\"scope\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"}",
        d->issuer, sub, d->audience, scope, (long long)now, (long long)(now + ttl_s), jti_hex);
    return pn < 0 || (size_t)pn >= sizeof(payload)
               ? NULL
               : gh_auth_jws_sign(d->key, HEADER, payload, (size_t)pn);
}

void gh_auth_dev_issuer_free(struct gh_auth_dev_issuer *d)
{
    if (!d)
        return;
    EVP_PKEY_free(d->key);
    gh_auth_jwks_unref(d->jwks);
    free(d->issuer);
    free(d->audience);
    free(d);
}
