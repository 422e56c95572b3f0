/*
 * auth/jwk.c owns turning one JWK (RFC 7517/7518, RFC 8037) into an OpenSSL public key: the
 * refusal of private and symmetric keys, exact sizes for curve coordinates, on-curve checks,
 * RSA modulus bounds, and the RFC 7638 thumbprint.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdio.h>

#include "auth/internal.h"

/* Members that only a private (or secret) key has. Their presence refuses the key: a server
 * publishing them has leaked it, and accepting the key would trust a forgeable signer. */
static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

#define REFUSE(err, why)                                                                           \
    do {                                                                                           \
        (err)->reason = (why);                                                                     \
        rc = GH_E_PARSE;                                                                           \
        goto out;                                                                                  \
    } while (0)

/* Decodes member name of obj (a base64url string) into the arena: GH_E_PARSE when absent. */
static enum gh_rc b64_member(const struct gh_json_doc *d, uint32_t obj, const char *name,
                             struct gh_arena *a, size_t max, struct gh_slice *text,
                             struct gh_slice *bytes)
{
    int32_t v = gh_json_obj_get(d, obj, name, strlen(name));
    if (v < 0 || gh_json_str(d, a, (uint32_t)v, text) != GH_OK)
        return GH_E_PARSE;
    unsigned char *buf = gh_arena_alloc(a, max + 3);
    size_t n = 0;
    enum gh_rc rc = gh_b64url_decode(text->ptr, text->len, buf, max + 3, &n);
    if (rc)
        return rc;
    if (n > max)
        return GH_E_LIMIT;
    *bytes = gh_slice((const char *)buf, n);
    return GH_OK;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (!pkey)
        return NULL;
    /* fromdata validates little on its own; the public check catches off-curve points and
     * even moduli before a signature is ever checked against them. */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!ctx || EVP_PKEY_public_check(ctx) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static enum gh_rc rsa_key(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                          struct gh_auth_jwk *k, struct gh_auth_err *err, char **tp)
{
    struct gh_slice nt, et, nb, eb;
    enum gh_rc rc = GH_E_PARSE;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    if (b64_member(d, obj, "n", a, GH_AUTH_RSA_MAX_BITS / 8 + 1, &nt, &nb) != GH_OK ||
        b64_member(d, obj, "e", a, 8, &et, &eb) != GH_OK)
        REFUSE(err, "rsa n/e missing, not base64url or too long");
    n = BN_bin2bn((const unsigned char *)nb.ptr, (int)nb.len, NULL);
    e = BN_bin2bn((const unsigned char *)eb.ptr, (int)eb.len, NULL);
    if (!n || !e)
        REFUSE(err, "rsa n/e");
    if (BN_num_bits(n) < GH_AUTH_RSA_MIN_BITS || BN_num_bits(n) > GH_AUTH_RSA_MAX_BITS)
        REFUSE(err, "rsa modulus outside 2048..8192 bits");
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        REFUSE(err, "openssl param build");
    params = OSSL_PARAM_BLD_to_param(bld);
    k->pkey = params ? from_params("RSA", params) : NULL;
    if (!k->pkey)
        REFUSE(err, "rsa key rejected by openssl");
    k->kty = GH_AUTH_KTY_RSA;
    *tp = gh_arena_sprintf(a, "{\"e\":\"%.*s\",\"kty\":\"RSA\",\"n\":\"%.*s\"}", (int)et.len,
                           et.ptr, (int)nt.len, nt.ptr);
    rc = GH_OK;
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return rc;
}

static enum gh_rc ec_key(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                         struct gh_auth_jwk *k, struct gh_auth_err *err, char **tp)
{
    int32_t crv = gh_json_obj_get(d, obj, "crv", 3);
    bool p256 = crv >= 0 && gh_json_str_eq(d, (uint32_t)crv, "P-256", 5);
    bool p384 = crv >= 0 && gh_json_str_eq(d, (uint32_t)crv, "P-384", 5);
    size_t clen = p256 ? 32 : 48;
    struct gh_slice xt, yt, xb, yb;
    if (!p256 && !p384) {
        err->reason = "ec crv not P-256 or P-384";
        return GH_E_PARSE;
    }
    /* Exact lengths (RFC 7518 §6.2.1.2): a short coordinate is either a truncated key or an
     * encoding that two parsers would read differently. */
    if (b64_member(d, obj, "x", a, clen, &xt, &xb) != GH_OK ||
        b64_member(d, obj, "y", a, clen, &yt, &yb) != GH_OK || xb.len != clen || yb.len != clen) {
        err->reason = "ec x/y missing or not exactly the coordinate length";
        return GH_E_PARSE;
    }
    unsigned char pt[1 + 2 * 48];
    pt[0] = 0x04;
    memcpy(pt + 1, xb.ptr, clen);
    memcpy(pt + 1 + clen, yb.ptr, clen);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, p256 ? "P-256" : "P-384", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * clen),
        OSSL_PARAM_construct_end(),
    };
    k->pkey = from_params("EC", params);
    if (!k->pkey) {
        err->reason = "ec point not on the curve";
        return GH_E_PARSE;
    }
    k->kty = p256 ? GH_AUTH_KTY_P256 : GH_AUTH_KTY_P384;
    *tp = gh_arena_sprintf(a, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%.*s\",\"y\":\"%.*s\"}",
                           p256 ? "P-256" : "P-384", (int)xt.len, xt.ptr, (int)yt.len, yt.ptr);
    return GH_OK;
}

static enum gh_rc okp_key(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                          struct gh_auth_jwk *k, struct gh_auth_err *err, char **tp)
{
    int32_t crv = gh_json_obj_get(d, obj, "crv", 3);
    struct gh_slice xt, xb;
    if (crv < 0 || !gh_json_str_eq(d, (uint32_t)crv, "Ed25519", 7)) {
        err->reason = "okp crv not Ed25519";
        return GH_E_PARSE;
    }
    if (b64_member(d, obj, "x", a, 32, &xt, &xb) != GH_OK || xb.len != 32) {
        err->reason = "okp x missing or not 32 bytes";
        return GH_E_PARSE;
    }
    k->pkey =
        EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, (const unsigned char *)xb.ptr, 32);
    if (!k->pkey) {
        err->reason = "ed25519 key rejected by openssl";
        return GH_E_PARSE;
    }
    k->kty = GH_AUTH_KTY_ED25519;
    *tp = gh_arena_sprintf(a, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%.*s\"}", (int)xt.len,
                           xt.ptr);
    return GH_OK;
}

/* use must be "sig" and key_ops must allow "verify" when present (RFC 7517 §4.2, §4.3). */
static bool usable_for_verify(const struct gh_json_doc *d, uint32_t obj)
{
    int32_t use = gh_json_obj_get(d, obj, "use", 3);
    if (use >= 0 && !gh_json_str_eq(d, (uint32_t)use, "sig", 3))
        return false;
    int32_t ops = gh_json_obj_get(d, obj, "key_ops", 7);
    if (ops < 0)
        return true;
    const struct gh_json_tok *t = gh_json_tok(d, (uint32_t)ops);
    if (t->type != GH_JSON_ARRAY)
        return false;
    for (uint32_t i = (uint32_t)ops + 1; i < t->end; i = d->toks[i].end)
        if (gh_json_str_eq(d, i, "verify", 6))
            return true;
    return false;
}

/* kid and alg: optional strings; alg, when given, must be one we verify. */
static enum gh_rc meta(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                       struct gh_auth_jwk *k, struct gh_auth_err *err)
{
    struct gh_slice kid, alg;
    if (gh_auth__opt_str(d, obj, "kid", a, &kid) != GH_OK || kid.len > GH_AUTH_KID_MAX) {
        err->reason = "kid not a string or too long";
        return GH_E_PARSE;
    }
    if (gh_auth__opt_str(d, obj, "alg", a, &alg) != GH_OK) {
        err->reason = "alg not a string";
        return GH_E_PARSE;
    }
    if (alg.ptr) {
        k->alg = gh_auth_alg_from_name(alg);
        if (k->alg == GH_AUTH_ALG_NONE) {
            err->reason = "alg not a supported signature algorithm";
            return GH_E_PARSE;
        }
    }
    if (kid.ptr) {
        k->kid = gh_xmalloc(kid.len + 1);
        memcpy(k->kid, kid.ptr, kid.len);
        k->kid[kid.len] = '\0';
        k->kid_len = kid.len;
    }
    return GH_OK;
}

static enum gh_rc by_kty(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                         struct gh_auth_jwk *k, struct gh_auth_err *err, char **tp)
{
    int32_t kty = gh_json_obj_get(d, obj, "kty", 3);
    if (kty < 0) {
        err->reason = "kty missing";
        return GH_E_PARSE;
    }
    if (gh_json_str_eq(d, (uint32_t)kty, "RSA", 3))
        return rsa_key(d, obj, a, k, err, tp);
    if (gh_json_str_eq(d, (uint32_t)kty, "EC", 2))
        return ec_key(d, obj, a, k, err, tp);
    if (gh_json_str_eq(d, (uint32_t)kty, "OKP", 3))
        return okp_key(d, obj, a, k, err, tp);
    err->reason = gh_json_str_eq(d, (uint32_t)kty, "oct", 3) ? "symmetric key (kty oct) refused"
                                                             : "kty not supported";
    return GH_E_PARSE;
}

enum gh_rc gh_auth__jwk_from_doc(const struct gh_json_doc *d, uint32_t obj, struct gh_arena *a,
                                 struct gh_auth_jwk *k, struct gh_auth_err *err)
{
    char *tp = NULL;
    if (gh_json_tok(d, obj)->type != GH_JSON_OBJECT) {
        err->reason = "jwk not an object";
        return GH_E_PARSE;
    }
    for (size_t i = 0; i < GH_ARRAY_LEN(private_members); i++) {
        if (gh_json_obj_get(d, obj, private_members[i], strlen(private_members[i])) >= 0) {
            err->reason = "private key member present";
            err->auth_reason = GH_AUTH_R_PRIVATE_KEY;
            return GH_E_PARSE;
        }
    }
    if (!usable_for_verify(d, obj)) {
        err->reason = "use/key_ops exclude signature verification";
        return GH_E_PARSE;
    }
    enum gh_rc rc = meta(d, obj, a, k, err);
    if (!rc)
        rc = by_kty(d, obj, a, k, err, &tp);
    if (!rc && k->alg != GH_AUTH_ALG_NONE && gh_auth__alg_kty(k->alg) != k->kty) {
        err->reason = "jwk alg does not fit its kty/crv";
        rc = GH_E_PARSE;
    }
    if (rc) {
        gh_auth__jwk_release(k);
        return rc;
    }
    unsigned char h[32];
    gh_sha256(tp, strlen(tp), h);
    gh_b64url_encode(h, sizeof(h), k->jkt);
    return GH_OK;
}

void gh_auth__jwk_release(struct gh_auth_jwk *k)
{
    EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
    gh_free(&k->kid);
    k->kid_len = 0;
}

enum gh_rc gh_auth_jwk_parse(const char *json, size_t len, struct gh_auth_jwk **out,
                             struct gh_auth_err *err)
{
    struct gh_auth_err dummy;
    struct gh_arena *a = gh_arena_new(8192);
    struct gh_json_doc doc;
    struct gh_json_limits lim = {.max_depth = 8, .max_bytes = 65536};
    if (!err)
        err = &dummy;
    *err = (struct gh_auth_err){.index = -1};
    *out = NULL;
    enum gh_rc rc = gh_json_parse(a, json, len, &lim, &doc, NULL);
    if (rc) {
        err->reason = "jwk not valid JSON or too large";
        goto out;
    }
    struct gh_auth_jwk *k = gh_xcalloc(1, sizeof(*k));
    rc = gh_auth__jwk_from_doc(&doc, 0, a, k, err);
    if (rc)
        free(k);
    else
        *out = k;
out:
    err->rc = rc;
    gh_arena_free(a);
    return rc;
}

void gh_auth_jwk_free(struct gh_auth_jwk *k)
{
    if (!k)
        return;
    gh_auth__jwk_release(k);
    free(k);
}

enum gh_auth_kty gh_auth_jwk_kty(const struct gh_auth_jwk *k)
{
    return k->kty;
}

struct gh_slice gh_auth_jwk_kid(const struct gh_auth_jwk *k)
{
    return gh_slice(k->kid, k->kid_len);
}

void gh_auth_jwk_thumbprint(const struct gh_auth_jwk *k, char out[GH_AUTH_JKT_LEN + 1])
{
    memcpy(out, k->jkt, GH_AUTH_JKT_LEN + 1);
}
