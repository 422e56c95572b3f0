/*
 * Unit tests for auth/: JWK/JWKS parsing, JWS verification, JWT claims, DPoP proofs, the
 * token cache. Every key is generated here at run time and every token is signed here with
 * EVP; the only fixed key is the public RFC 7638 example (for its published thumbprint).
 * Each refusal asserts the exact reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "auth/auth.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <time.h>
#include <stdio.h>

#define NOW  1750000000
#define SKEW 60
#define ISS  "https://idp.example"
#define AUD  "https://gw.example/mcp"

static struct gh_arena *A;
static EVP_PKEY *K_RSA, *K_RSA2, *K_P256, *K_P384, *K_ED, *K_P256B;
static struct gh_auth_jwks *SET;
static struct gh_auth_alg_set ALL;

/* ---- helpers: encoding, keys, signing ---- */

static char *b64(const void *p, size_t n)
{
    char *o = gh_arena_alloc(A, gh_b64url_enclen(n) + 1);
    gh_b64url_encode(p, n, o);
    return o;
}

static char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

static int ec_clen(EVP_PKEY *k)
{
    return EVP_PKEY_get_bits(k) == 256 ? 32 : 48;
}

/* Public JWK of k with kid (NULL: none) and extra members (",\"alg\":\"RS256\"" or ""). */
static char *jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
    char *kidm = kid ? gh_arena_sprintf(A, ",\"kid\":\"%s\"", kid) : "";
    if (EVP_PKEY_is_a(k, "RSA"))
        return gh_arena_sprintf(A, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s%s}",
                                bn_b64(k, OSSL_PKEY_PARAM_RSA_N, 0),
                                bn_b64(k, OSSL_PKEY_PARAM_RSA_E, 0), kidm, extra);
    if (EVP_PKEY_is_a(k, "EC")) {
        int c = ec_clen(k);
        return gh_arena_sprintf(A, "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s%s}",
                                c == 32 ? "P-256" : "P-384", bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_X, c),
                                bn_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y, c), kidm, extra);
    }
    unsigned char raw[32];
    size_t n = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
    return gh_arena_sprintf(A, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s%s}",
                            b64(raw, n), kidm, extra);
}

static const char *md_of(enum gh_auth_alg alg)
{
    switch (alg) {
    case GH_AUTH_ALG_RS256:
    case GH_AUTH_ALG_PS256:
    case GH_AUTH_ALG_ES256:
        return "SHA256";
    case GH_AUTH_ALG_RS384:
    case GH_AUTH_ALG_PS384:
    case GH_AUTH_ALG_ES384:
        return "SHA384";
    case GH_AUTH_ALG_RS512:
    case GH_AUTH_ALG_PS512:
        return "SHA512";
    default:
        return NULL;
    }
}

/* JOSE signature of msg by k the way alg signs (ECDSA converted to r||s). */
static size_t sign_raw(EVP_PKEY *k, enum gh_auth_alg alg, const char *msg, unsigned char *out)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char der[1100];
    size_t n = sizeof(der);
    assert_int_equal(EVP_DigestSignInit_ex(md, &pctx, md_of(alg), NULL, NULL, k, NULL), 1);
    if (alg >= GH_AUTH_ALG_PS256 && alg <= GH_AUTH_ALG_PS512) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    assert_int_equal(EVP_DigestSign(md, der, &n, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(md);
    if (!EVP_PKEY_is_a(k, "EC")) {
        memcpy(out, der, n);
        return n;
    }
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
    const BIGNUM *r, *s;
    int c = ec_clen(k);
    assert_non_null(sig);
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, out, c);
    BN_bn2binpad(s, out + c, c);
    ECDSA_SIG_free(sig);
    return 2 * (size_t)c;
}

/* header.payload.signature, the signature made by k as `how` signs. */
static char *token(EVP_PKEY *k, enum gh_auth_alg how, const char *header, const char *payload)
{
    char *input = gh_arena_sprintf(A, "%s.%s", b64s(header), b64s(payload));
    unsigned char sig[1100];
    size_t n = sign_raw(k, how, input, sig);
    return gh_arena_sprintf(A, "%s.%s", input, b64(sig, n));
}

static char *payload_std(void)
{
    return gh_arena_sprintf(A,
                            "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%d,\"iat\":%d,"
                            "\"sub\":\"alice\",\"client_id\":\"c1\",\"scope\":\"read write\","
                            "\"groups\":[\"g1\",\"g2\"],\"jti\":\"j1\"}",
                            NOW + 600, NOW);
}

static char *hdr(const char *alg, const char *kid, const char *extra)
{
    return gh_arena_sprintf(A, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"%s}", alg, kid,
                            extra);
}

static enum gh_auth_reason verify_with(const char *tok, const struct gh_auth_jwks *set,
                                       const struct gh_auth_alg_set *allowed, unsigned flags)
{
    struct gh_auth_jws out;
    enum gh_verdict v = gh_auth_jws_verify(A, gh_slice_cstr(tok), set, allowed, flags, &out);
    assert_int_equal(v == GH_ALLOW, out.reason == GH_AUTH_R_OK);
    return out.reason;
}

static enum gh_auth_reason verify(const char *tok)
{
    return verify_with(tok, SET, &ALL, 0);
}

static void reason_is(enum gh_auth_reason got, enum gh_auth_reason want, int line)
{
    if (got != want)
        fail_msg("line %d: reason %s, expected %s", line, gh_auth_reason_str(got),
                 gh_auth_reason_str(want));
}

#define assert_reason(got, want) reason_is((got), (want), __LINE__)

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    (void)state;
    A = gh_arena_new(65536);
    K_RSA = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    K_RSA2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    K_P256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    K_P256B = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    K_P384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    K_ED = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!K_RSA || !K_RSA2 || !K_P256 || !K_P256B || !K_P384 || !K_ED)
        return -1;
    char *set =
        gh_arena_sprintf(A, "{\"keys\":[%s,%s,%s,%s]}", jwk(K_RSA, "rsa1", ""),
                         jwk(K_P256, "ec1", ",\"use\":\"sig\""),
                         jwk(K_P384, "ec384", ",\"key_ops\":[\"verify\"]"), jwk(K_ED, "ed1", ""));
    struct gh_auth_err err;
    if (gh_auth_jwks_parse(A, set, strlen(set), &SET, &err) != GH_OK || err.skipped)
        return -1;
    for (int alg = GH_AUTH_ALG_RS256; alg <= GH_AUTH_ALG_EDDSA; alg++)
        gh_auth_alg_set_add(&ALL, (enum gh_auth_alg)alg);
    gh_arena_reset(A);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    gh_auth_jwks_unref(SET);
    EVP_PKEY_free(K_RSA);
    EVP_PKEY_free(K_RSA2);
    EVP_PKEY_free(K_P256);
    EVP_PKEY_free(K_P256B);
    EVP_PKEY_free(K_P384);
    EVP_PKEY_free(K_ED);
    gh_arena_free(A);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    gh_arena_reset(A);
    return 0;
}

/* ---- JWS ---- */

static void jws_round_trip_every_alg(void **state)
{
    (void)state;
    static const struct {
        enum gh_auth_alg alg;
        const char *kid;
    } cases[] = {
        {GH_AUTH_ALG_RS256, "rsa1"}, {GH_AUTH_ALG_RS384, "rsa1"},  {GH_AUTH_ALG_RS512, "rsa1"},
        {GH_AUTH_ALG_PS256, "rsa1"}, {GH_AUTH_ALG_PS384, "rsa1"},  {GH_AUTH_ALG_PS512, "rsa1"},
        {GH_AUTH_ALG_ES256, "ec1"},  {GH_AUTH_ALG_ES384, "ec384"}, {GH_AUTH_ALG_EDDSA, "ed1"},
    };
    EVP_PKEY *keys[] = {K_RSA, K_RSA, K_RSA, K_RSA, K_RSA, K_RSA, K_P256, K_P384, K_ED};
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        const char *name = gh_auth_alg_name(cases[i].alg);
        char *t = token(keys[i], cases[i].alg, hdr(name, cases[i].kid, ""), payload_std());
        struct gh_auth_jws out;
        assert_int_equal(gh_auth_jws_verify(A, gh_slice_cstr(t), SET, &ALL, 0, &out), GH_ALLOW);
        assert_int_equal(out.reason, GH_AUTH_R_OK);
        assert_int_equal(out.alg, cases[i].alg);
        assert_true(gh_slice_eq_cstr(out.kid, cases[i].kid));
        assert_true(gh_slice_eq(gh_auth_jwk_kid(out.key), out.kid));
        assert_true(gh_slice_eq_cstr(out.typ, "at+jwt"));
        assert_true(gh_json_str_eq(
            &out.payload, (uint32_t)gh_json_obj_get(&out.payload, 0, "sub", 3), "alice", 5));
        /* the allow-list is the caller's: without this alg the same token is refused */
        struct gh_auth_alg_set only = {0};
        gh_auth_alg_set_add(&only, cases[i].alg == GH_AUTH_ALG_RS256 ? GH_AUTH_ALG_ES256
                                                                     : GH_AUTH_ALG_RS256);
        assert_reason(verify_with(t, SET, &only, 0), GH_AUTH_R_ALG_NOT_ALLOWED);
    }
}

static void jws_alg_none_refused(void **state)
{
    (void)state;
    const char *names[] = {"none", "None", "NONE", "nOnE", ""};
    for (size_t i = 0; i < GH_ARRAY_LEN(names); i++) {
        char *t =
            gh_arena_sprintf(A, "%s.%s.", b64s(hdr(names[i], "rsa1", "")), b64s(payload_std()));
        assert_reason(verify(t), GH_AUTH_R_ALG_NOT_ALLOWED);
    }
    /* alg missing, alg not a string, alg escaped into a known name */
    char *t = gh_arena_sprintf(A, "%s.%s.", b64s("{\"kid\":\"rsa1\"}"), b64s(payload_std()));
    assert_reason(verify(t), GH_AUTH_R_ALG_NOT_ALLOWED);
    t = gh_arena_sprintf(A, "%s.%s.", b64s("{\"alg\":256,\"kid\":\"rsa1\"}"), b64s(payload_std()));
    assert_reason(verify(t), GH_AUTH_R_HEADER_PARSE);
    t = token(K_RSA, GH_AUTH_ALG_RS256, "{\"alg\":\"RS\\u0032\\u00356\",\"kid\":\"rsa1\"}",
              payload_std());
    assert_reason(verify(t), GH_AUTH_R_ALG_NOT_ALLOWED);
}

static void jws_alg_kty_mismatch_both_ways(void **state)
{
    (void)state;
    /* ES256 naming the RSA key, RS256 naming the EC key, EdDSA naming the P-384 key */
    char *t = token(K_P256, GH_AUTH_ALG_ES256, hdr("ES256", "rsa1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "ec1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    t = token(K_ED, GH_AUTH_ALG_EDDSA, hdr("EdDSA", "ec384", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    /* ES384 naming the P-256 key: same kty, wrong curve */
    t = token(K_P384, GH_AUTH_ALG_ES384, hdr("ES384", "ec1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
}

static void jws_key_alg_pins(void **state)
{
    (void)state;
    char *s = gh_arena_sprintf(A, "{\"keys\":[%s]}", jwk(K_RSA, "k", ",\"alg\":\"RS256\""));
    struct gh_auth_jwks *set;
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &set, NULL), GH_OK);
    char *t = token(K_RSA, GH_AUTH_ALG_PS256, hdr("PS256", "k", ""), payload_std());
    assert_reason(verify_with(t, set, &ALL, 0), GH_AUTH_R_ALG_KEY_MISMATCH);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "k", ""), payload_std());
    assert_reason(verify_with(t, set, &ALL, 0), GH_AUTH_R_OK);
    gh_auth_jwks_unref(set);
}

static void jws_hs256_with_rsa_key_refused(void **state)
{
    (void)state;
    /* The classic confusion: HMAC keyed with the RSA public key's JWK bytes. */
    const char *secret = jwk(K_RSA, "rsa1", "");
    char *input = gh_arena_sprintf(A, "%s.%s", b64s(hdr("HS256", "rsa1", "")), b64s(payload_std()));
    unsigned char mac[32];
    unsigned int n = sizeof(mac);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input, strlen(input),
         mac, &n);
    char *t = gh_arena_sprintf(A, "%s.%s", input, b64(mac, n));
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    /* even without a kid, and for HS384/HS512 */
    t = gh_arena_sprintf(A, "%s.%s.%s", b64s("{\"alg\":\"HS384\"}"), b64s(payload_std()),
                         b64(mac, n));
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    t = gh_arena_sprintf(A, "%s.%s.%s", b64s("{\"alg\":\"HS512\"}"), b64s(payload_std()),
                         b64(mac, n));
    assert_reason(verify(t), GH_AUTH_R_ALG_KEY_MISMATCH);
    /* and a config cannot allow it */
    struct gh_auth_alg_set set = {0};
    assert_int_equal(gh_auth_alg_set_parse(&set, "RS256 HS256"), GH_E_PARSE);
    assert_int_equal(gh_auth_alg_set_parse(&set, "RS256 none"), GH_E_PARSE);
    assert_int_equal(gh_auth_alg_set_parse(&set, "RS256, ES256"), GH_OK);
    assert_true(gh_auth_alg_set_has(&set, GH_AUTH_ALG_ES256));
    assert_false(gh_auth_alg_set_has(&set, GH_AUTH_ALG_PS256));
    assert_false(gh_auth_alg_set_has(&set, GH_AUTH_ALG_NONE));
}

static void jws_segments(void **state)
{
    (void)state;
    char *good = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""), payload_std());
    assert_reason(verify(good), GH_AUTH_R_OK);
    assert_reason(verify(gh_arena_sprintf(A, "%s.xx.yy", good)), GH_AUTH_R_JWE_NOT_ALLOWED);
    assert_reason(verify("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"),
                  GH_AUTH_R_JWE_NOT_ALLOWED);
    assert_reason(verify(gh_arena_sprintf(A, "%s.zz", good)), GH_AUTH_R_BAD_FORMAT);
    assert_reason(verify(strchr(good, '.') + 1), GH_AUTH_R_BAD_FORMAT);
    assert_reason(verify(""), GH_AUTH_R_BAD_FORMAT);
    assert_reason(verify("...."), GH_AUTH_R_JWE_NOT_ALLOWED);
    assert_reason(verify("......"), GH_AUTH_R_BAD_FORMAT);
    /* over the cap: refused before any decoding */
    char *big = gh_arena_alloc(A, GH_AUTH_TOKEN_MAX + 2);
    memset(big, 'A', GH_AUTH_TOKEN_MAX + 1);
    big[10] = big[20] = '.';
    big[GH_AUTH_TOKEN_MAX + 1] = '\0';
    assert_reason(verify(big), GH_AUTH_R_BAD_FORMAT);
}

static void jws_header_parse(void **state)
{
    (void)state;
    char *p = b64s(payload_std());
    assert_reason(verify(gh_arena_sprintf(A, "eyJhbGciOi+SUzI1NiJ9.%s.AAAA", p)),
                  GH_AUTH_R_HEADER_PARSE);
    assert_reason(verify(gh_arena_sprintf(A, "%s.%s.AAAA", b64s("[\"RS256\"]"), p)),
                  GH_AUTH_R_HEADER_PARSE);
    assert_reason(verify(gh_arena_sprintf(A, "%s.%s.AAAA", b64s("not json"), p)),
                  GH_AUTH_R_HEADER_PARSE);
    assert_reason(verify(gh_arena_sprintf(A, ".%s.AAAA", p)), GH_AUTH_R_HEADER_PARSE);
    assert_reason(
        verify(gh_arena_sprintf(A, "%s.%s.AAAA", b64s("{\"alg\":\"RS256\",\"alg\":\"none\"}"), p)),
        GH_AUTH_R_HEADER_PARSE);
    assert_reason(
        verify(gh_arena_sprintf(A, "%s.%s.AAAA", b64s("{\"alg\":\"RS256\",\"kid\":7}"), p)),
        GH_AUTH_R_HEADER_PARSE);
}

static void jws_crit_refused(void **state)
{
    (void)state;
    const char *crits[] = {",\"crit\":[\"exp\"]", ",\"crit\":[]", ",\"crit\":[\"x-unknown\"]",
                           ",\"crit\":[\"b64\"],\"b64\":false"};
    for (size_t i = 0; i < GH_ARRAY_LEN(crits); i++) {
        char *t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", crits[i]), payload_std());
        assert_reason(verify(t), GH_AUTH_R_CRIT);
    }
}

static void jws_key_references_refused(void **state)
{
    (void)state;
    char *own = gh_arena_sprintf(A, ",\"jwk\":%s", jwk(K_RSA2, NULL, ""));
    char *t = token(K_RSA2, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", own), payload_std());
    assert_reason(verify(t), GH_AUTH_R_EMBEDDED_KEY);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ",\"x5c\":[\"MIIB\"]"), payload_std());
    assert_reason(verify(t), GH_AUTH_R_EMBEDDED_KEY);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ",\"jku\":\"https://evil/jwks\""),
              payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNTRUSTED_KEY_REF);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ",\"x5u\":\"https://evil/c.pem\""),
              payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNTRUSTED_KEY_REF);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ",\"x5t\":\"abc\""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNTRUSTED_KEY_REF);
    /* x5t only as a hint when the caller says so (Entra ID) */
    assert_reason(verify_with(t, SET, &ALL, GH_AUTH_JWS_F_IGNORE_X5T), GH_AUTH_R_OK);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ",\"x5t#S256\":\"abc\""),
              payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNTRUSTED_KEY_REF);
}

static void jws_kid(void **state)
{
    (void)state;
    char *t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "nope", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNKNOWN_KID);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "../../dev/null", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNKNOWN_KID);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1' OR '1'='1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_UNKNOWN_KID);
    /* no kid: fine when the family has exactly one key, refused when it has two */
    t = token(K_RSA, GH_AUTH_ALG_RS256, "{\"alg\":\"RS256\"}", payload_std());
    assert_reason(verify(t), GH_AUTH_R_OK);
    char *s = gh_arena_sprintf(A, "{\"keys\":[%s,%s]}", jwk(K_RSA, "a", ""), jwk(K_RSA2, "b", ""));
    struct gh_auth_jwks *two;
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &two, NULL), GH_OK);
    assert_reason(verify_with(t, two, &ALL, 0), GH_AUTH_R_UNKNOWN_KID);
    gh_auth_jwks_unref(two);
    /* right kid, wrong key signed it */
    t = token(K_RSA2, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_SIGNATURE);
}

static char *with_sig(const char *tok, const unsigned char *sig, size_t n)
{
    const char *dot = strrchr(tok, '.');
    return gh_arena_sprintf(A, "%.*s.%s", (int)(dot - tok), tok, b64(sig, n));
}

static void jws_signature(void **state)
{
    (void)state;
    char *t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""), payload_std());
    /* three extra characters (haproxy's case), tampered payload, truncated */
    assert_reason(verify(gh_arena_sprintf(A, "%sAAA", t)), GH_AUTH_R_SIGNATURE);
    char *tampered = gh_arena_strndup(A, t, strlen(t));
    char *p = strchr(tampered, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    assert_reason(verify(tampered), GH_AUTH_R_SIGNATURE);
    assert_reason(verify(gh_arena_strndup(A, t, strlen(t) - 4)), GH_AUTH_R_SIGNATURE);
    /* signed with SHA-384 but labelled RS512 */
    t = token(K_RSA, GH_AUTH_ALG_RS384, hdr("RS512", "rsa1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_SIGNATURE);
    /* PKCS#1 v1.5 signature labelled PS256 */
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("PS256", "rsa1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_SIGNATURE);
    /* Ed25519 signature flipped */
    t = token(K_ED, GH_AUTH_ALG_EDDSA, hdr("EdDSA", "ed1", ""), payload_std());
    assert_reason(verify(t), GH_AUTH_R_OK);
    char *e = gh_arena_strndup(A, t, strlen(t));
    e[strlen(e) - 3] = e[strlen(e) - 3] == 'A' ? 'B' : 'A';
    assert_reason(verify(e), GH_AUTH_R_SIGNATURE);
}

static void jws_ecdsa_r_s_ranges(void **state)
{
    (void)state;
    static const unsigned char n256[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
                                           0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                           0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
                                           0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
    char *t = token(K_P256, GH_AUTH_ALG_ES256, hdr("ES256", "ec1", ""), payload_std());
    const char *dot = strrchr(t, '.');
    unsigned char sig[64], bad[200];
    size_t n;
    assert_int_equal(gh_b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &n), GH_OK);
    assert_int_equal(n, 64);
    assert_reason(verify(with_sig(t, sig, 64)), GH_AUTH_R_OK);
    /* r = 0, s = 0, both 0 (psychic signatures) */
    memcpy(bad, sig, 64);
    memset(bad, 0, 32);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    memcpy(bad, sig, 64);
    memset(bad + 32, 0, 32);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    memset(bad, 0, 64);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    /* r = n, s = n, r > n */
    memcpy(bad, sig, 64);
    memcpy(bad, n256, 32);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    memcpy(bad, sig, 64);
    memcpy(bad + 32, n256, 32);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    memcpy(bad, sig, 64);
    memset(bad, 0xFF, 32);
    assert_reason(verify(with_sig(t, bad, 64)), GH_AUTH_R_SIGNATURE);
    /* r + n would be the same residue mod n if lengths were not exact: 63, 65, 128 bytes */
    assert_reason(verify(with_sig(t, sig, 63)), GH_AUTH_R_SIGNATURE);
    memcpy(bad, sig, 64);
    bad[64] = 0;
    assert_reason(verify(with_sig(t, bad, 65)), GH_AUTH_R_SIGNATURE);
    memset(bad, 0x11, sizeof(bad));
    assert_reason(verify(with_sig(t, bad, sizeof(bad))), GH_AUTH_R_SIGNATURE);
    /* DER signature where JOSE r||s is required */
    unsigned char der[80] = {0x30, 0x44, 0x02, 0x20};
    memcpy(der + 4, sig, 32);
    der[36] = 0x02;
    der[37] = 0x20;
    memcpy(der + 38, sig + 32, 32);
    assert_reason(verify(with_sig(t, der, 70)), GH_AUTH_R_SIGNATURE);
    /* a high-bit r needs a DER pad byte: sign until one appears, it must still verify */
    for (int i = 0; i < 64; i++) {
        char *u = token(K_P256, GH_AUTH_ALG_ES256,
                        hdr("ES256", "ec1", gh_arena_sprintf(A, ",\"n\":%d", i)), payload_std());
        assert_reason(verify(u), GH_AUTH_R_OK);
    }
}

static void jws_payload_parse(void **state)
{
    (void)state;
    char *t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""),
                    "{\"iss\":\"" ISS "\",\"sub\":\"alice\",\"sub\":\"admin\"}");
    assert_reason(verify(t), GH_AUTH_R_PAYLOAD_PARSE);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""), "not json");
    assert_reason(verify(t), GH_AUTH_R_PAYLOAD_PARSE);
    t = token(K_RSA, GH_AUTH_ALG_RS256, hdr("RS256", "rsa1", ""), "[1,2]");
    assert_reason(verify(t), GH_AUTH_R_PAYLOAD_PARSE);
}

/* ---- JWT claims ---- */

static const struct gh_auth_jwt_rules RULES = {
    .issuer = GH_SLICE_LIT(ISS),
    .audience = GH_SLICE_LIT(AUD),
    .typ = GH_SLICE_LIT("at+jwt"),
    .skew_s = SKEW,
    .groups_claim = GH_SLICE_LIT("groups"),
};

static enum gh_auth_reason check_full(const char *header, const char *payload,
                                      const struct gh_auth_jwt_rules *rules,
                                      struct gh_auth_claims *c)
{
    struct gh_auth_jws jws;
    char *t = token(K_ED, GH_AUTH_ALG_EDDSA, header, payload);
    assert_int_equal(gh_auth_jws_verify(A, gh_slice_cstr(t), SET, &ALL, 0, &jws), GH_ALLOW);
    enum gh_verdict v = gh_auth_jwt_check(A, &jws.header, &jws.payload, rules, NOW, c);
    assert_int_equal(v == GH_ALLOW, c->reason == GH_AUTH_R_OK);
    return c->reason;
}

static enum gh_auth_reason check(const char *payload)
{
    struct gh_auth_claims c;
    return check_full(hdr("EdDSA", "ed1", ""), payload, &RULES, &c);
}

/* A payload with the standard iss and aud plus the members in body. */
static char *wrap(const char *body)
{
    return gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"%s%s}", *body ? "," : "",
                            body);
}

#define pl(...) wrap(gh_arena_sprintf(A, __VA_ARGS__))

static void jwt_claims_extracted(void **state)
{
    (void)state;
    struct gh_auth_claims c;
    char *p = pl("\"exp\":%d,\"iat\":%d,\"nbf\":%d,\"sub\":\"alice\",\"azp\":\"cli\","
                 "\"scope\":\"read  write tools:call\",\"groups\":[\"g1\",\"g2\"],\"jti\":\"j-1\","
                 "\"act\":{\"sub\":\"agent\",\"act\":{\"sub\":\"gateway\"}},"
                 "\"cnf\":{\"jkt\":\"abc\"}",
                 NOW + 600, NOW - 10, NOW - 10);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &RULES, &c), GH_AUTH_R_OK);
    assert_true(gh_slice_eq_cstr(c.iss, ISS));
    assert_true(gh_slice_eq_cstr(c.sub, "alice"));
    assert_true(gh_slice_eq_cstr(c.client_id, "cli"));
    assert_true(gh_slice_eq_cstr(c.jti, "j-1"));
    assert_true(gh_slice_eq_cstr(c.cnf_jkt, "abc"));
    assert_int_equal(c.nscopes, 3);
    assert_true(gh_slice_eq_cstr(c.scopes[0], "read"));
    assert_true(gh_slice_eq_cstr(c.scopes[1], "write"));
    assert_true(gh_slice_eq_cstr(c.scopes[2], "tools:call"));
    assert_int_equal(c.ngroups, 2);
    assert_true(gh_slice_eq_cstr(c.groups[1], "g2"));
    assert_int_equal(c.nact, 2);
    assert_true(gh_slice_eq_cstr(c.act[0], "agent"));
    assert_true(gh_slice_eq_cstr(c.act[1], "gateway"));
    assert_int_equal(c.exp, NOW + 600);
    assert_int_equal(c.iat, NOW - 10);
    /* client_id wins over azp; scp array; roles as a single string */
    struct gh_auth_jwt_rules r = RULES;
    r.groups_claim = GH_SLICE_LIT("roles");
    p = pl(
        "\"exp\":%d,\"client_id\":\"c1\",\"azp\":\"c2\",\"scp\":[\"a\",\"b\"],\"roles\":\"admin\"",
        NOW + 60);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &r, &c), GH_AUTH_R_OK);
    assert_true(gh_slice_eq_cstr(c.client_id, "c1"));
    assert_int_equal(c.nscopes, 2);
    assert_int_equal(c.ngroups, 1);
    assert_true(gh_slice_eq_cstr(c.groups[0], "admin"));
    /* groups and roles from their own claims at once */
    r.groups_claim = GH_SLICE_LIT("groups");
    r.roles_claim = GH_SLICE_LIT("roles");
    p = pl("\"exp\":%d,\"groups\":[\"eng\"],\"roles\":[\"admin\",\"auditor\"]", NOW + 60);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &r, &c), GH_AUTH_R_OK);
    assert_int_equal(c.ngroups, 1);
    assert_int_equal(c.nroles, 2);
    assert_true(gh_slice_eq_cstr(c.roles[1], "auditor"));
    /* and they survive the copy into a principal */
    struct gh_auth_principal *pr = gh_auth_principal_new(&c, NOW + 60);
    assert_int_equal(pr->claims.nroles, 2);
    assert_true(gh_slice_eq_cstr(pr->claims.roles[0], "admin"));
    assert_true(gh_slice_eq_cstr(pr->claims.groups[0], "eng"));
    gh_auth_principal_unref(pr);
    /* the client named by a configured claim (Entra: appid); azp still the fallback */
    r.client_id_claim = "appid";
    p = pl("\"exp\":%d,\"client_id\":\"c1\",\"appid\":\"app-7\"", NOW + 60);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &r, &c), GH_AUTH_R_OK);
    assert_true(gh_slice_eq_cstr(c.client_id, "app-7"));
    p = pl("\"exp\":%d,\"client_id\":\"c1\",\"azp\":\"c2\"", NOW + 60);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &r, &c), GH_AUTH_R_OK);
    assert_true(gh_slice_eq_cstr(c.client_id, "c2"));
    p = pl("\"exp\":%d,\"appid\":7", NOW + 60);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), p, &r, &c), GH_AUTH_R_CLAIM_TYPE);
}

static void jwt_exp(void **state)
{
    (void)state;
    /* boundary: exp == now - skew is expired; one second later is not */
    assert_reason(check(pl("\"exp\":%d", NOW - SKEW)), GH_AUTH_R_EXPIRED);
    assert_reason(check(pl("\"exp\":%d", NOW - SKEW - 1)), GH_AUTH_R_EXPIRED);
    assert_reason(check(pl("\"exp\":%d", NOW - SKEW + 1)), GH_AUTH_R_OK);
    assert_reason(check(pl("\"exp\":%d.5", NOW - SKEW)), GH_AUTH_R_OK);
    assert_reason(check(pl("\"exp\":%d", 0)), GH_AUTH_R_EXPIRED);
    /* type and range */
    assert_reason(check(pl("\"exp\":\"9999999999\"")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":1e300")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":1e999")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":1e30")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":-1")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":-1e300")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":null")), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":[%d]", NOW + 60)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"sub\":\"x\"")), GH_AUTH_R_CLAIM_TYPE); /* exp missing */
}

static void jwt_nbf_iat(void **state)
{
    (void)state;
    assert_reason(check(pl("\"exp\":%d,\"nbf\":%d", NOW + 600, NOW + SKEW + 1)),
                  GH_AUTH_R_NOT_YET_VALID);
    assert_reason(check(pl("\"exp\":%d,\"nbf\":%d", NOW + 600, NOW + SKEW)), GH_AUTH_R_OK);
    assert_reason(check(pl("\"exp\":%d,\"iat\":%d", NOW + 600, NOW + SKEW + 1)),
                  GH_AUTH_R_NOT_YET_VALID);
    assert_reason(check(pl("\"exp\":%d,\"iat\":%d", NOW + 600, NOW + SKEW)), GH_AUTH_R_OK);
    assert_reason(check(pl("\"exp\":%d,\"nbf\":\"0\"", NOW + 600)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"iat\":1e300", NOW + 600)), GH_AUTH_R_CLAIM_TYPE);
    /* max age */
    struct gh_auth_jwt_rules r = RULES;
    struct gh_auth_claims c;
    r.max_age_s = 300;
    assert_reason(check_full(hdr("EdDSA", "ed1", ""), pl("\"exp\":%d", NOW + 600), &r, &c),
                  GH_AUTH_R_TOO_OLD);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""),
                             pl("\"exp\":%d,\"iat\":%d", NOW + 600, NOW - 300 - SKEW - 1), &r, &c),
                  GH_AUTH_R_TOO_OLD);
    assert_reason(check_full(hdr("EdDSA", "ed1", ""),
                             pl("\"exp\":%d,\"iat\":%d", NOW + 600, NOW - 300 - SKEW), &r, &c),
                  GH_AUTH_R_OK);
}

static void jwt_issuer_audience(void **state)
{
    (void)state;
    char *e = gh_arena_sprintf(A, "\"exp\":%d", NOW + 600);
    const char *bad_iss[] = {"\"" ISS "/\"", "\"HTTPS://idp.example\"",
                             "\"https://idp.example.evil\""};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad_iss); i++)
        assert_reason(
            check(gh_arena_sprintf(A, "{\"iss\":%s,\"aud\":\"" AUD "\",%s}", bad_iss[i], e)),
            GH_AUTH_R_ISSUER);
    assert_reason(check(gh_arena_sprintf(A, "{\"aud\":\"" AUD "\",%s}", e)), GH_AUTH_R_ISSUER);
    assert_reason(check(gh_arena_sprintf(A, "{\"iss\":[\"" ISS "\"],\"aud\":\"" AUD "\",%s}", e)),
                  GH_AUTH_R_CLAIM_TYPE);
    /* audience: other RS, array without us, missing, empty array, non-string element */
    assert_reason(
        check(gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":\"https://other\",%s}", e)),
        GH_AUTH_R_AUDIENCE);
    assert_reason(check(gh_arena_sprintf(
                      A, "{\"iss\":\"" ISS "\",\"aud\":[\"https://a\",\"https://b\"],%s}", e)),
                  GH_AUTH_R_AUDIENCE);
    assert_reason(check(gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",%s}", e)), GH_AUTH_R_AUDIENCE);
    assert_reason(check(gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":[],%s}", e)),
                  GH_AUTH_R_AUDIENCE);
    assert_reason(check(gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":[\"" AUD "\",1],%s}", e)),
                  GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(gh_arena_sprintf(
                      A, "{\"iss\":\"" ISS "\",\"aud\":[\"https://a\",\"" AUD "\"],%s}", e)),
                  GH_AUTH_R_OK);
    assert_reason(check(gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "/\",%s}", e)),
                  GH_AUTH_R_AUDIENCE);
    /* configured extra audiences: accepted as a string or in an array; others still refused */
    char *extra[] = {"api://gatehouse", "https://b"};
    struct gh_auth_jwt_rules r = RULES;
    r.audiences = extra;
    r.n_audiences = 2;
    struct gh_auth_claims c;
    const char *ok_aud[] = {"\"api://gatehouse\"", "[\"https://x\",\"https://b\"]", "\"" AUD "\""};
    for (size_t i = 0; i < GH_ARRAY_LEN(ok_aud); i++)
        assert_reason(
            check_full(hdr("EdDSA", "ed1", ""),
                       gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":%s,%s}", ok_aud[i], e), &r,
                       &c),
            GH_AUTH_R_OK);
    const char *bad_aud[] = {"\"api://gatehouse/\"", "\"API://gatehouse\"", "[\"https://x\"]"};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad_aud); i++)
        assert_reason(
            check_full(hdr("EdDSA", "ed1", ""),
                       gh_arena_sprintf(A, "{\"iss\":\"" ISS "\",\"aud\":%s,%s}", bad_aud[i], e),
                       &r, &c),
            GH_AUTH_R_AUDIENCE);
}

static void jwt_typ(void **state)
{
    (void)state;
    struct gh_auth_claims c;
    char *p = pl("\"exp\":%d", NOW + 600);
    const char *bad[] = {",\"typ\":\"JWT\"", ",\"typ\":\"dpop+jwt\"", ",\"typ\":\"at+jwt2\"",
                         ",\"typ\":\"application/jwt\"", ""};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        char *h = gh_arena_sprintf(A, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"%s}", bad[i]);
        assert_reason(check_full(h, p, &RULES, &c), GH_AUTH_R_TYP);
    }
    const char *good[] = {"at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+jwt"};
    for (size_t i = 0; i < GH_ARRAY_LEN(good); i++) {
        char *h =
            gh_arena_sprintf(A, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"typ\":\"%s\"}", good[i]);
        assert_reason(check_full(h, p, &RULES, &c), GH_AUTH_R_OK);
    }
    /* no typ rule: any typ */
    struct gh_auth_jwt_rules r = RULES;
    r.typ = gh_slice(NULL, 0);
    assert_reason(check_full("{\"alg\":\"EdDSA\",\"kid\":\"ed1\",\"typ\":\"JWT\"}", p, &r, &c),
                  GH_AUTH_R_OK);
}

static void jwt_claim_types(void **state)
{
    (void)state;
    int e = NOW + 600;
    assert_reason(check(pl("\"exp\":%d,\"sub\":5", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"scope\":[\"a\"]", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"scope\":\"a\\\"b\"", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"groups\":[\"a\",{}]", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"act\":{\"iss\":\"x\"}", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"act\":\"agent\"", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"cnf\":{\"jkt\":1}", e)), GH_AUTH_R_CLAIM_TYPE);
    assert_reason(check(pl("\"exp\":%d,\"cnf\":\"x\"", e)), GH_AUTH_R_CLAIM_TYPE);
    /* act nested deeper than GH_AUTH_ACT_MAX */
    char act[512];
    int n = 0;
    for (int i = 0; i < GH_AUTH_ACT_MAX + 1; i++)
        n += snprintf(act + n, sizeof(act) - (size_t)n, "{\"sub\":\"a\",\"act\":");
    n += snprintf(act + n, sizeof(act) - (size_t)n, "{\"sub\":\"z\"}");
    for (int i = 0; i < GH_AUTH_ACT_MAX + 1; i++)
        n += snprintf(act + n, sizeof(act) - (size_t)n, "}");
    assert_reason(check(pl("\"exp\":%d,\"act\":%s", e, act)), GH_AUTH_R_CLAIM_TYPE);
}

/* ---- JWK / JWKS ---- */

static struct gh_auth_err jwks_one(const char *key)
{
    char *s = gh_arena_sprintf(A, "{\"keys\":[%s]}", key);
    struct gh_auth_jwks *set = NULL;
    struct gh_auth_err err;
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &set, &err), GH_OK);
    assert_int_equal(gh_auth_jwks_count(set), err.skipped ? 0 : 1);
    gh_auth_jwks_unref(set);
    return err;
}

static void jwks_refuses_keys(void **state)
{
    (void)state;
    BIGNUM *d = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(K_P256, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    unsigned char db[32];
    BN_bn2binpad(d, db, 32);
    BN_free(d);
    struct gh_auth_err err =
        jwks_one(jwk(K_P256, "p", gh_arena_sprintf(A, ",\"d\":\"%s\"", b64(db, 32))));
    assert_int_equal(err.skipped, 1);
    assert_int_equal(err.auth_reason, GH_AUTH_R_PRIVATE_KEY);
    assert_int_equal(err.index, 0);
    const char *privs[] = {",\"p\":\"AQAB\"", ",\"q\":\"AQAB\"", ",\"dp\":\"AQAB\"",
                           ",\"qi\":\"AQAB\"", ",\"oth\":[]"};
    for (size_t i = 0; i < GH_ARRAY_LEN(privs); i++)
        assert_int_equal(jwks_one(jwk(K_RSA, "r", privs[i])).auth_reason, GH_AUTH_R_PRIVATE_KEY);
    /* RSA-1024 */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_int_equal(jwks_one(jwk(small, "s", "")).skipped, 1);
    EVP_PKEY_free(small);
    /* use/key_ops/alg */
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"use\":\"enc\"")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"key_ops\":[\"sign\"]")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"key_ops\":\"verify\"")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"alg\":\"ES256\"")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"alg\":\"RSA-OAEP\"")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"alg\":\"HS256\"")).skipped, 1);
    assert_int_equal(jwks_one(jwk(K_RSA, "r", ",\"key_ops\":[\"verify\"],\"use\":\"sig\"")).skipped,
                     0);
    /* symmetric and unknown key types */
    assert_int_equal(jwks_one("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}").auth_reason,
                     GH_AUTH_R_PRIVATE_KEY);
    assert_int_equal(jwks_one("{\"kty\":\"oct\"}").skipped, 1);
    assert_int_equal(jwks_one("{\"kty\":\"XYZ\"}").skipped, 1);
    assert_int_equal(jwks_one("{\"n\":\"AQAB\"}").skipped, 1);
    assert_int_equal(jwks_one("[]").skipped, 1);
}

static void jwks_ec_coordinates(void **state)
{
    (void)state;
    BIGNUM *x = NULL, *y = NULL;
    unsigned char xb[33], yb[33];
    assert_int_equal(EVP_PKEY_get_bn_param(K_P256, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(K_P256, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    BN_bn2binpad(x, xb, 32);
    BN_bn2binpad(y, yb, 32);
    BN_free(x);
    BN_free(y);
#define f "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}"
    assert_int_equal(jwks_one(gh_arena_sprintf(A, f, "P-256", b64(xb, 32), b64(yb, 32))).skipped,
                     0);
    /* short coordinate, long coordinate, wrong curve, off the curve */
    assert_int_equal(
        jwks_one(gh_arena_sprintf(A, f, "P-256", b64(xb + 1, 31), b64(yb, 32))).skipped, 1);
    xb[32] = 0;
    assert_int_equal(jwks_one(gh_arena_sprintf(A, f, "P-256", b64(xb, 33), b64(yb, 32))).skipped,
                     1);
    assert_int_equal(jwks_one(gh_arena_sprintf(A, f, "P-384", b64(xb, 32), b64(yb, 32))).skipped,
                     1);
    assert_int_equal(
        jwks_one(gh_arena_sprintf(A, f, "secp256k1", b64(xb, 32), b64(yb, 32))).skipped, 1);
    yb[31] ^= 1;
    assert_int_equal(jwks_one(gh_arena_sprintf(A, f, "P-256", b64(xb, 32), b64(yb, 32))).skipped,
                     1);
    memset(xb, 0, 32);
    memset(yb, 0, 32);
    assert_int_equal(jwks_one(gh_arena_sprintf(A, f, "P-256", b64(xb, 32), b64(yb, 32))).skipped,
                     1);
    /* Ed25519 x of the wrong length; Ed448 */
    assert_int_equal(
        jwks_one(
            gh_arena_sprintf(A, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", b64(xb, 31)))
            .skipped,
        1);
    assert_int_equal(
        jwks_one(
            gh_arena_sprintf(A, "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"%s\"}", b64(xb, 32)))
            .skipped,
        1);
#undef f
}

static void jwks_set_rules(void **state)
{
    (void)state;
    struct gh_auth_jwks *set = NULL;
    struct gh_auth_err err;
    /* duplicate kid within a family: ambiguous, refused; across families: fine */
    char *s = gh_arena_sprintf(A, "{\"keys\":[%s,%s]}", jwk(K_RSA, "k", ""), jwk(K_RSA2, "k", ""));
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &set, &err), GH_E_PARSE);
    assert_null(set);
    assert_int_equal(err.index, 1);
    s = gh_arena_sprintf(A, "{\"keys\":[%s,%s]}", jwk(K_RSA, "k", ""), jwk(K_P256, "k", ""));
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &set, &err), GH_OK);
    assert_int_equal(gh_auth_jwks_count(set), 2);
    assert_non_null(gh_auth_jwks_find(set, GH_SLICE_LIT("k"), GH_AUTH_ALG_ES256));
    assert_int_equal(gh_auth_jwk_kty(gh_auth_jwks_find(set, GH_SLICE_LIT("k"), GH_AUTH_ALG_PS384)),
                     GH_AUTH_KTY_RSA);
    assert_null(gh_auth_jwks_find(set, GH_SLICE_LIT("k"), GH_AUTH_ALG_EDDSA));
    /* refcount: the set outlives the parser's reference */
    struct gh_auth_jwks *again = gh_auth_jwks_ref(set);
    gh_auth_jwks_unref(set);
    assert_int_equal(gh_auth_jwks_count(again), 2);
    gh_auth_jwks_unref(again);
    /* a good key after a bad one still loads */
    s = gh_arena_sprintf(A, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"},%s]}", jwk(K_ED, "e", ""));
    assert_int_equal(gh_auth_jwks_parse(A, s, strlen(s), &set, &err), GH_OK);
    assert_int_equal(gh_auth_jwks_count(set), 1);
    assert_int_equal(err.skipped, 1);
    assert_int_equal(err.index, 0);
    gh_auth_jwks_unref(set);
    /* shape, duplicate members, caps */
    const char *bad[] = {"[]",          "{}", "{\"keys\":{}}", "{\"keys\":[],\"keys\":[]}",
                         "{\"keys\":[", ""};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        assert_int_equal(gh_auth_jwks_parse(NULL, bad[i], strlen(bad[i]), &set, &err), GH_E_PARSE);
        assert_null(set);
    }
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    gh_buf_append(&b, "{\"keys\":[", 9);
    for (int i = 0; i <= GH_AUTH_JWKS_MAX_KEYS; i++)
        gh_buf_append(&b, i ? ",{}" : "{}", i ? 3 : 2);
    gh_buf_append(&b, "]}", 2);
    assert_int_equal(gh_auth_jwks_parse(A, b.data, b.len, &set, &err), GH_E_LIMIT);
    gh_buf_release(&b);
    assert_int_equal(gh_auth_jwks_parse(A, "{}", GH_AUTH_JWKS_MAX_BYTES + 1, &set, &err),
                     GH_E_LIMIT);
}

static void jwk_thumbprint_rfc7638(void **state)
{
    (void)state;
    /* RFC 7638 §3.1 example key (public), with its published thumbprint */
    const char *k = "{\"kty\":\"RSA\",\"n\":"
                    "\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1R"
                    "K7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-"
                    "5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
                    "QyQ5v-65YGjQR0_"
                    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyr"
                    "dkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
                    "kEgU8awapJzKnqDKgw\","
                    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
    struct gh_auth_jwk *key;
    struct gh_auth_err err;
    assert_int_equal(gh_auth_jwk_parse(k, strlen(k), &key, &err), GH_OK);
    char tp[GH_AUTH_JKT_LEN + 1];
    gh_auth_jwk_thumbprint(key, tp);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_true(gh_slice_eq_cstr(gh_auth_jwk_kid(key), "2011-04-29"));
    gh_auth_jwk_free(key);
    /* member order and optional members do not change it */
    const char *k2 = strstr(k, "\"n\"");
    char *re = gh_arena_sprintf(A, "{\"use\":\"sig\",\"e\":\"AQAB\",\"kty\":\"RSA\",%.*s}",
                                (int)(strstr(k2, ",\"e\"") - k2), k2);
    assert_int_equal(gh_auth_jwk_parse(re, strlen(re), &key, &err), GH_OK);
    gh_auth_jwk_thumbprint(key, tp);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    gh_auth_jwk_free(key);
}

/* ---- DPoP ---- */

#define HTU  "https://gw.example/mcp"
#define ATOK "eyJhbGciOiJFUzI1NiJ9.access.token"

static char *ath_of(const char *tok)
{
    unsigned char h[32];
    gh_sha256(tok, strlen(tok), h);
    return b64(h, 32);
}

static char *proof(EVP_PKEY *k, const char *hdr_extra, const char *payload)
{
    char *h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s%s}",
                               jwk(k, NULL, ""), hdr_extra);
    return token(k, GH_AUTH_ALG_ES256, h, payload);
}

static char *claims_std(void)
{
    return gh_arena_sprintf(A,
                            "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%d,\"jti\":\"p-1\","
                            "\"ath\":\"%s\"}",
                            NOW, ath_of(ATOK));
}

static struct gh_auth_dpop_req dreq(void)
{
    return (struct gh_auth_dpop_req){.method = GH_SLICE_LIT("POST"),
                                     .htu = GH_SLICE_LIT("https://GW.example:443/mcp?x=1"),
                                     .now = NOW,
                                     .max_age_s = 300,
                                     .skew_s = 5,
                                     .allowed = &ALL,
                                     .access_token = GH_SLICE_LIT(ATOK)};
}

static enum gh_auth_reason dpop_req(const char *p, const struct gh_auth_dpop_req *r,
                                    struct gh_auth_dpop *out)
{
    enum gh_verdict v = gh_auth_dpop_verify(A, gh_slice_cstr(p), r, out);
    assert_int_equal(v == GH_ALLOW, out->reason == GH_AUTH_R_OK);
    return out->reason;
}

static enum gh_auth_reason dpop(const char *p)
{
    struct gh_auth_dpop out;
    struct gh_auth_dpop_req r = dreq();
    return dpop_req(p, &r, &out);
}

static void dpop_happy_path(void **state)
{
    (void)state;
    struct gh_auth_dpop out;
    struct gh_auth_dpop_req r = dreq();
    assert_reason(dpop_req(proof(K_P256, "", claims_std()), &r, &out), GH_AUTH_R_OK);
    assert_int_equal(out.alg, GH_AUTH_ALG_ES256);
    assert_true(gh_slice_eq_cstr(out.jti, "p-1"));
    assert_int_equal(out.iat, NOW);
    /* the thumbprint equals the key's own RFC 7638 thumbprint */
    struct gh_auth_jwk *k;
    const char *j = jwk(K_P256, NULL, "");
    assert_int_equal(gh_auth_jwk_parse(j, strlen(j), &k, NULL), GH_OK);
    char tp[GH_AUTH_JKT_LEN + 1];
    gh_auth_jwk_thumbprint(k, tp);
    gh_auth_jwk_free(k);
    assert_string_equal(out.jkt, tp);
    /* cnf.jkt binding */
    struct gh_auth_claims c = {.cnf_jkt = gh_slice_cstr(tp)};
    assert_true(gh_auth_dpop_binds(&c, &out));
    c.cnf_jkt = GH_SLICE_LIT("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_false(gh_auth_dpop_binds(&c, &out));
    c.cnf_jkt = gh_slice(NULL, 0);
    assert_false(gh_auth_dpop_binds(&c, &out));
    /* other algorithms: RSA-PSS and EdDSA proofs */
    char *h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"EdDSA\",\"jwk\":%s}",
                               jwk(K_ED, NULL, ""));
    assert_reason(dpop(token(K_ED, GH_AUTH_ALG_EDDSA, h, claims_std())), GH_AUTH_R_OK);
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"PS256\",\"jwk\":%s}",
                         jwk(K_RSA, NULL, ""));
    assert_reason(dpop(token(K_RSA, GH_AUTH_ALG_PS256, h, claims_std())), GH_AUTH_R_OK);
    /* the caller's precomputed token hash (the cache key) serves for ath */
    unsigned char th[32], th2[32];
    gh_auth_token_hash(GH_SLICE_LIT(ATOK), th);
    gh_sha256(ATOK, strlen(ATOK), th2);
    assert_memory_equal(th, th2, 32);
    r.access_token_hash = th;
    assert_reason(dpop_req(proof(K_P256, "", claims_std()), &r, &out), GH_AUTH_R_OK);
    th[0] ^= 1;
    assert_reason(dpop_req(proof(K_P256, "", claims_std()), &r, &out), GH_AUTH_R_DPOP_ATH);
    r.access_token_hash = NULL;
    /* no access token to bind (token endpoint use): ath not required */
    r.access_token = gh_slice(NULL, 0);
    char *noath =
        gh_arena_sprintf(A, "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%d,\"jti\":\"x\"}", NOW);
    assert_reason(dpop_req(proof(K_P256, "", noath), &r, &out), GH_AUTH_R_OK);
}

static char *claims_with(const char *htm, const char *htu, long iat, const char *extra)
{
    return gh_arena_sprintf(A, "{\"htm\":\"%s\",\"htu\":\"%s\",\"iat\":%ld%s}", htm, htu, iat,
                            extra);
}

static void dpop_failures(void **state)
{
    (void)state;
    char *jti_ath = gh_arena_sprintf(A, ",\"jti\":\"p\",\"ath\":\"%s\"", ath_of(ATOK));
    /* htm */
    assert_reason(dpop(proof(K_P256, "", claims_with("GET", HTU, NOW, jti_ath))),
                  GH_AUTH_R_DPOP_HTM);
    assert_reason(dpop(proof(K_P256, "", claims_with("post", HTU, NOW, jti_ath))),
                  GH_AUTH_R_DPOP_HTM);
    /* htu: query, fragment, other host, other path, other scheme, userinfo */
    const char *htus[] = {HTU "?x=1",
                          HTU "#f",
                          "https://evil.example/mcp",
                          HTU "/x",
                          "http://gw.example/mcp",
                          "https://u@gw.example/mcp",
                          "gw.example/mcp"};
    for (size_t i = 0; i < GH_ARRAY_LEN(htus); i++)
        assert_reason(dpop(proof(K_P256, "", claims_with("POST", htus[i], NOW, jti_ath))),
                      GH_AUTH_R_DPOP_HTU);
    /* htu normalisation: case and default port on the proof side too */
    assert_reason(
        dpop(proof(K_P256, "", claims_with("POST", "HTTPS://gw.EXAMPLE:443/mcp", NOW, jti_ath))),
        GH_AUTH_R_OK);
    assert_reason(
        dpop(proof(K_P256, "", claims_with("POST", "https://gw.example:8443/mcp", NOW, jti_ath))),
        GH_AUTH_R_DPOP_HTU);
    /* iat: too old, in the future, missing, a string */
    assert_reason(dpop(proof(K_P256, "", claims_with("POST", HTU, NOW - 301, jti_ath))),
                  GH_AUTH_R_DPOP_IAT);
    assert_reason(dpop(proof(K_P256, "", claims_with("POST", HTU, NOW - 300, jti_ath))),
                  GH_AUTH_R_OK);
    assert_reason(dpop(proof(K_P256, "", claims_with("POST", HTU, NOW + 6, jti_ath))),
                  GH_AUTH_R_DPOP_IAT);
    char *c = gh_arena_sprintf(A, "{\"htm\":\"POST\",\"htu\":\"" HTU "\"%s}", jti_ath);
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_IAT);
    c = gh_arena_sprintf(A, "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":\"%d\"%s}", NOW,
                         jti_ath);
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_IAT);
    /* jti missing / empty */
    c = claims_with("POST", HTU, NOW, gh_arena_sprintf(A, ",\"ath\":\"%s\"", ath_of(ATOK)));
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_JTI);
    c = claims_with("POST", HTU, NOW,
                    gh_arena_sprintf(A, ",\"jti\":\"\",\"ath\":\"%s\"", ath_of(ATOK)));
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_JTI);
    /* ath: another token's, missing */
    c = claims_with(
        "POST", HTU, NOW,
        gh_arena_sprintf(A, ",\"jti\":\"p\",\"ath\":\"%s\"", ath_of("another.token.x")));
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_ATH);
    c = claims_with("POST", HTU, NOW, ",\"jti\":\"p\"");
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_DPOP_ATH);
}

static void dpop_header_failures(void **state)
{
    (void)state;
    char *c = claims_std();
    /* typ */
    char *h = gh_arena_sprintf(A, "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"jwk\":%s}",
                               jwk(K_P256, NULL, ""));
    assert_reason(dpop(token(K_P256, GH_AUTH_ALG_ES256, h, c)), GH_AUTH_R_TYP);
    h = gh_arena_sprintf(A, "{\"alg\":\"ES256\",\"jwk\":%s}", jwk(K_P256, NULL, ""));
    assert_reason(dpop(token(K_P256, GH_AUTH_ALG_ES256, h, c)), GH_AUTH_R_TYP);
    /* missing jwk; jwk not an object; private jwk */
    assert_reason(
        dpop(token(K_P256, GH_AUTH_ALG_ES256, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}", c)),
        GH_AUTH_R_DPOP_JWK);
    assert_reason(dpop(token(K_P256, GH_AUTH_ALG_ES256,
                             "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":\"x\"}", c)),
                  GH_AUTH_R_DPOP_JWK);
    BIGNUM *d = NULL;
    unsigned char db[32];
    assert_int_equal(EVP_PKEY_get_bn_param(K_P256, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    BN_bn2binpad(d, db, 32);
    BN_free(d);
    assert_reason(dpop(proof(K_P256, "", c)), GH_AUTH_R_OK);
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}",
                         jwk(K_P256, NULL, gh_arena_sprintf(A, ",\"d\":\"%s\"", b64(db, 32))));
    assert_reason(dpop(token(K_P256, GH_AUTH_ALG_ES256, h, c)), GH_AUTH_R_PRIVATE_KEY);
    /* alg none / HS256 / alg not fitting the jwk */
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"none\",\"jwk\":%s}",
                         jwk(K_P256, NULL, ""));
    assert_reason(dpop(gh_arena_sprintf(A, "%s.%s.", b64s(h), b64s(c))), GH_AUTH_R_ALG_NOT_ALLOWED);
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\",\"jwk\":%s}",
                         jwk(K_P256, NULL, ""));
    assert_reason(dpop(gh_arena_sprintf(A, "%s.%s.AAAA", b64s(h), b64s(c))),
                  GH_AUTH_R_ALG_KEY_MISMATCH);
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"RS256\",\"jwk\":%s}",
                         jwk(K_P256, NULL, ""));
    assert_reason(dpop(token(K_RSA, GH_AUTH_ALG_RS256, h, c)), GH_AUTH_R_ALG_KEY_MISMATCH);
    /* signed by another key than the one in the header */
    h = gh_arena_sprintf(A, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}",
                         jwk(K_P256, NULL, ""));
    assert_reason(dpop(token(K_P256B, GH_AUTH_ALG_ES256, h, c)), GH_AUTH_R_SIGNATURE);
    /* crit */
    assert_reason(dpop(proof(K_P256, ",\"crit\":[\"x\"]", c)), GH_AUTH_R_CRIT);
    /* nonce required */
    struct gh_auth_dpop out;
    struct gh_auth_dpop_req r = dreq();
    r.nonce = GH_SLICE_LIT("n-1");
    assert_reason(dpop_req(proof(K_P256, "", c), &r, &out), GH_AUTH_R_DPOP_NONCE);
    char *cn = gh_arena_sprintf(A,
                                "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%d,\"jti\":\"p\","
                                "\"ath\":\"%s\",\"nonce\":\"n-1\"}",
                                NOW, ath_of(ATOK));
    assert_reason(dpop_req(proof(K_P256, "", cn), &r, &out), GH_AUTH_R_OK);
    /* proof over the size cap */
    char *big = gh_arena_alloc(A, GH_AUTH_DPOP_MAX + 10);
    memset(big, 'A', GH_AUTH_DPOP_MAX + 9);
    big[5] = big[7] = '.';
    big[GH_AUTH_DPOP_MAX + 9] = '\0';
    assert_reason(dpop(big), GH_AUTH_R_BAD_FORMAT);
}

static void htu_normalize(void **state)
{
    (void)state;
    const char *in[] = {"HTTPS://Gw.Example:443/a/B?q#f",
                        "http://h:80",
                        "http://h:8080/x",
                        "https://[::1]:443/p",
                        "https://[::1]:8443",
                        "https://h:/p"};
    const char *want[] = {"https://gw.example/a/B", "http://h/",           "http://h:8080/x",
                          "https://[::1]/p",        "https://[::1]:8443/", "https://h/p"};
    for (size_t i = 0; i < GH_ARRAY_LEN(in); i++) {
        struct gh_slice out;
        assert_int_equal(gh_auth_htu_normalize(A, gh_slice_cstr(in[i]), &out), GH_OK);
        if (!gh_slice_eq_cstr(out, want[i]))
            fail_msg("%s -> %.*s", in[i], (int)out.len, out.ptr);
    }
    const char *bad[] = {"ftp://h/",      "https://",      "https://u:p@h/", "https://h:99999/",
                         "https://h:8x/", "https://[::1/", "//h/p",          "https:/h"};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        struct gh_slice out;
        if (gh_auth_htu_normalize(A, gh_slice_cstr(bad[i]), &out) == GH_OK)
            fail_msg("accepted %s", bad[i]);
    }
}

/* ---- cache ---- */

static void cache_basics(void **state)
{
    (void)state;
    struct gh_slice scopes[] = {GH_SLICE_LIT("read"), GH_SLICE_LIT("write")};
    struct gh_slice act[] = {GH_SLICE_LIT("agent")};
    char *iss = gh_arena_strndup(A, ISS, strlen(ISS));
    struct gh_auth_claims c = {.reason = GH_AUTH_R_OK,
                               .iss = gh_slice_cstr(iss),
                               .sub = GH_SLICE_LIT("alice"),
                               .scopes = scopes,
                               .nscopes = 2,
                               .act = act,
                               .nact = 1,
                               .exp = NOW + 100};
    struct gh_auth_token_cache *cache = gh_auth_token_cache_new(1000);
    struct gh_auth_principal *p = gh_auth_principal_new(&c, NOW + 100);
    iss[0] = 'X'; /* the principal holds its own copy */
    gh_auth_token_cache_put(cache, GH_SLICE_LIT("tok-a"), p, NOW);
    gh_auth_principal_unref(p);
    assert_null(gh_auth_token_cache_get(cache, GH_SLICE_LIT("tok-b"), NOW));
    struct gh_auth_principal *hit = gh_auth_token_cache_get(cache, GH_SLICE_LIT("tok-a"), NOW + 99);
    assert_non_null(hit);
    assert_true(gh_slice_eq_cstr(hit->claims.iss, ISS));
    assert_true(gh_slice_eq_cstr(hit->claims.scopes[1], "write"));
    assert_true(gh_slice_eq_cstr(hit->claims.act[0], "agent"));
    assert_null(hit->claims.groups);
    /* dropped at expiry; the reference we hold stays valid */
    assert_null(gh_auth_token_cache_get(cache, GH_SLICE_LIT("tok-a"), NOW + 100));
    assert_int_equal(gh_auth_token_cache_count(cache), 0);
    assert_true(gh_slice_eq_cstr(hit->claims.sub, "alice"));
    gh_auth_principal_unref(hit);
    /* revocation */
    p = gh_auth_principal_new(&c, NOW + 100);
    gh_auth_token_cache_put(cache, GH_SLICE_LIT("tok-c"), p, NOW);
    gh_auth_token_cache_put(cache, GH_SLICE_LIT("tok-c"), p, NOW); /* replace, not duplicate */
    assert_int_equal(gh_auth_token_cache_count(cache), 1);
    gh_auth_token_cache_remove(cache, GH_SLICE_LIT("tok-c"));
    assert_null(gh_auth_token_cache_get(cache, GH_SLICE_LIT("tok-c"), NOW));
    /* already expired: not cached */
    gh_auth_token_cache_put(cache, GH_SLICE_LIT("tok-d"), p, NOW + 100);
    assert_int_equal(gh_auth_token_cache_count(cache), 0);
    /* bounded: 10x the capacity inserted, the count never exceeds it */
    for (int i = 0; i < 20000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "t%d", i);
        gh_auth_token_cache_put(cache, gh_slice_cstr(k), p, NOW);
    }
    assert_true(gh_auth_token_cache_count(cache) <= 1024);
    assert_true(gh_auth_token_cache_count(cache) >= 1000);
    assert_non_null(hit = gh_auth_token_cache_get(cache, GH_SLICE_LIT("t19999"), NOW));
    gh_auth_principal_unref(hit);
    gh_auth_principal_unref(p);
    gh_auth_token_cache_free(cache);
}

/* verify -> check -> principal -> cache, the way the request path will use it */
static void end_to_end(void **state)
{
    (void)state;
    char *t = token(K_P384, GH_AUTH_ALG_ES384, hdr("ES384", "ec384", ""), payload_std());
    struct gh_auth_jws jws;
    struct gh_auth_claims c;
    assert_int_equal(gh_auth_jws_verify(A, gh_slice_cstr(t), SET, &ALL, 0, &jws), GH_ALLOW);
    assert_int_equal(gh_auth_jwt_check(A, &jws.header, &jws.payload, &RULES, NOW, &c), GH_ALLOW);
    struct gh_auth_token_cache *cache = gh_auth_token_cache_new(64);
    struct gh_auth_principal *p = gh_auth_principal_new(&c, c.exp);
    gh_auth_token_cache_put(cache, gh_slice_cstr(t), p, NOW);
    gh_auth_principal_unref(p);
    char *copy = gh_xstrdup(t); /* the token outlives the request arena; its claims do not */
    gh_arena_reset(A);          /* the request arena goes away; the cached principal does not */
    p = gh_auth_token_cache_get(cache, gh_slice_cstr(copy), NOW + 1);
    gh_free(&copy);
    assert_non_null(p);
    assert_true(gh_slice_eq_cstr(p->claims.sub, "alice"));
    assert_int_equal(p->claims.ngroups, 2);
    assert_int_equal(p->expires, NOW + 600);
    gh_auth_principal_unref(p);
    gh_auth_token_cache_free(cache);
}

static void reason_names(void **state)
{
    (void)state;
    assert_string_equal(gh_auth_reason_str(GH_AUTH_R_UNSPECIFIED), "unspecified");
    assert_string_equal(gh_auth_reason_str(GH_AUTH_R_ALG_KEY_MISMATCH), "alg_key_mismatch");
    assert_string_equal(gh_auth_reason_str(GH_AUTH_R_INTERNAL), "internal");
    assert_string_equal(gh_auth_reason_str((enum gh_auth_reason)999), "unspecified");
    assert_int_equal(gh_auth_alg_from_name(GH_SLICE_LIT("EdDSA")), GH_AUTH_ALG_EDDSA);
    assert_int_equal(gh_auth_alg_from_name(GH_SLICE_LIT("eddsa")), GH_AUTH_ALG_NONE);
    assert_int_equal(gh_auth_alg_from_name(GH_SLICE_LIT("RS256 ")), GH_AUTH_ALG_NONE);
}

/* gh_auth_jws_sign: each key type signs with the JOSE encoding its alg needs, checked here with
 * OpenSSL directly (ES256's r||s turned back into DER). */
static void check_jws_sign(EVP_PKEY *k, const char *header)
{
    const char *payload = "{\"sub\":\"s\"}";
    char *jws = gh_auth_jws_sign(k, header, payload, strlen(payload));
    assert_non_null(jws);
    char *dot2 = strrchr(jws, '.');
    assert_non_null(dot2);
    unsigned char sig[600];
    size_t sl = 0;
    assert_int_equal(gh_b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof(sig), &sl), GH_OK);
    unsigned char der[128];
    const unsigned char *vsig = sig;
    size_t vlen = sl;
    int id = EVP_PKEY_get_base_id(k);
    if (id == EVP_PKEY_EC) {
        assert_int_equal(sl, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        unsigned char *dp = der;
        vlen = (size_t)i2d_ECDSA_SIG(es, &dp);
        ECDSA_SIG_free(es);
        vsig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(
        EVP_DigestVerifyInit(ctx, NULL, id == EVP_PKEY_ED25519 ? NULL : EVP_sha256(), NULL, k), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)jws, (size_t)(dot2 - jws)), 1);
    EVP_MD_CTX_free(ctx);
    free(jws);
}

static void jws_sign_key_types(void **state)
{
    (void)state;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    check_jws_sign(ec, "{\"alg\":\"ES256\"}");
    check_jws_sign(ed, "{\"alg\":\"EdDSA\"}");
    check_jws_sign(rsa, "{\"alg\":\"RS256\"}");
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
}

/* gh_auth_credentials_parse: the Authorization shapes of security-cases §4.1 cases 1-3. */
static enum gh_auth_cred cred(const char *v, struct gh_slice *tok)
{
    return gh_auth_credentials_parse(gh_slice_cstr(v), tok);
}

static void credentials_shapes(void **state)
{
    (void)state;
    struct gh_slice t;
    assert_int_equal(cred("Bearer abc.def-_~+/ghi==", &t), GH_AUTH_CRED_BEARER);
    assert_true(gh_slice_eq_cstr(t, "abc.def-_~+/ghi=="));
    /* scheme names are case-insensitive (RFC 9110 §11.1); several spaces are 1*SP */
    assert_int_equal(cred("bearer abc", &t), GH_AUTH_CRED_BEARER);
    assert_int_equal(cred("BEARER    abc", &t), GH_AUTH_CRED_BEARER);
    assert_true(gh_slice_eq_cstr(t, "abc"));
    assert_int_equal(cred("\t Bearer abc \t", &t), GH_AUTH_CRED_BEARER);
    assert_true(gh_slice_eq_cstr(t, "abc"));
    assert_int_equal(cred("DPoP abc", &t), GH_AUTH_CRED_DPOP);
    assert_int_equal(cred("dpop abc", &t), GH_AUTH_CRED_DPOP);
    /* no token: empty, not "another scheme" */
    const char *empty[] = {"Bearer", "Bearer ", "Bearer    ", "bearer\t",
                           "DPoP",   "DPoP  ",  "",           "  "};
    for (size_t i = 0; i < GH_ARRAY_LEN(empty); i++) {
        assert_int_equal(cred(empty[i], &t), GH_AUTH_CRED_MALFORMED);
        assert_int_equal(t.len, 0);
    }
    /* not token68: the offending rest is given back */
    const char *bad[] = {"Bearer a b",        "Bearer a,b",
                         "Bearer \"abc\"",    "Bearer a=b",
                         "Bearer =abc",       "Bearer \tabc",
                         "Bearer ab\xc3\xa9", "DPoP a;b",
                         "Bearer a\x01",      "Bearer abc, Bearer def"};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        assert_int_equal(cred(bad[i], &t), GH_AUTH_CRED_MALFORMED);
        assert_true(t.len > 0);
    }
    /* other schemes, and names that only start like ours */
    const char *other[] = {"Basic dXNlcjpwYXNz", "Token abc", "Bearerabc",
                           "Bearer,abc",         "DPoPabc",   "Negotiate",
                           "MAC id=\"x\""};
    for (size_t i = 0; i < GH_ARRAY_LEN(other); i++)
        assert_int_equal(cred(other[i], &t), GH_AUTH_CRED_OTHER);
}

/* ---- introspection answers (RFC 7662): what is active, inactive, or garbage (503) ---- */

#define RES "https://gw.example/mcp"

static enum gh_auth_intro_answer intro(const char *body, int64_t now_ms, struct gh_auth_claims *cl,
                                       int64_t *until)
{
    static struct gh_config_auth_introspection in = {.ttl_ms = 2500, .negative_ttl_ms = 1000};
    static char *auds[] = {"https://alias.example/"};
    static struct gh_config_auth_issuer is = {.issuer = ISS, .introspection = &in};
    is.audiences = auds;
    is.n_audiences = 1;
    return gh_auth_introspect_read(&is, RES, body, strlen(body), now_ms, A, cl, until);
}

static void introspect_answers(void **state)
{
    (void)state;
    struct gh_auth_claims cl;
    int64_t until = 0, now_ms = (int64_t)NOW * 1000 + 700;
    char b[512];
    /* active and ours: claims read, cached until now + ttl_ms to the millisecond */
    snprintf(b, sizeof(b),
             "{\"active\":true,\"iss\":\"" ISS "\",\"sub\":\"bob\",\"aud\":\"" RES
             "\",\"scope\":\"a b\",\"exp\":%lld,\"cnf\":{\"jkt\":\"xyz\"}}",
             (long long)NOW + 60);
    assert_int_equal(intro(b, now_ms, &cl, &until), GH_AUTH_INTRO_ACTIVE);
    assert_int_equal(until, now_ms + 2500); /* not truncated to whole seconds */
    assert_true(gh_slice_eq_cstr(cl.sub, "bob"));
    assert_int_equal(cl.nscopes, 2);
    assert_true(gh_slice_eq_cstr(cl.scopes[1], "b"));
    assert_true(gh_slice_eq_cstr(cl.cnf_jkt, "xyz"));
    /* exp sooner than the ttl bounds the cache */
    snprintf(b, sizeof(b), "{\"active\":true,\"exp\":%lld}", (long long)NOW + 1);
    assert_int_equal(intro(b, now_ms, &cl, &until), GH_AUTH_INTRO_ACTIVE);
    assert_int_equal(until, ((int64_t)NOW + 1) * 1000);
    /* aud: a configured audience, or an array holding us */
    assert_int_equal(
        intro("{\"active\":true,\"aud\":\"https://alias.example/\"}", now_ms, &cl, &until),
        GH_AUTH_INTRO_ACTIVE);
    assert_int_equal(
        intro("{\"active\":true,\"aud\":[\"https://x/\",\"" RES "\"]}", now_ms, &cl, &until),
        GH_AUTH_INTRO_ACTIVE);
    /* active:true, but not for us or no longer valid: inactive (401), never cached as active */
    assert_int_equal(
        intro("{\"active\":true,\"aud\":\"https://other.example/mcp\"}", now_ms, &cl, &until),
        GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(
        intro("{\"active\":true,\"aud\":[\"https://x/\",\"" RES "/\"]}", now_ms, &cl, &until),
        GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(intro("{\"active\":true,\"aud\":[]}", now_ms, &cl, &until),
                     GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(intro("{\"active\":true,\"aud\":7}", now_ms, &cl, &until),
                     GH_AUTH_INTRO_INACTIVE);
    snprintf(b, sizeof(b), "{\"active\":true,\"aud\":\"" RES "\",\"exp\":%lld}", (long long)NOW);
    assert_int_equal(intro(b, now_ms, &cl, &until), GH_AUTH_INTRO_INACTIVE); /* exp passed */
    assert_int_equal(intro("{\"active\":true,\"exp\":0}", now_ms, &cl, &until),
                     GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(intro("{\"active\":true,\"exp\":-5}", now_ms, &cl, &until),
                     GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(
        intro("{\"active\":true,\"iss\":\"https://evil.example\"}", now_ms, &cl, &until),
        GH_AUTH_INTRO_INACTIVE);
    assert_int_equal(intro("{\"active\":false}", now_ms, &cl, &until), GH_AUTH_INTRO_INACTIVE);
    /* far-future exp: the ttl bounds it, no overflow */
    assert_int_equal(intro("{\"active\":true,\"exp\":9223372036854775807}", now_ms, &cl, &until),
                     GH_AUTH_INTRO_ACTIVE);
    assert_int_equal(until, now_ms + 2500);
    /* garbage: neither active nor inactive (503, nothing cached) */
    static const char *const junk[] = {
        "",
        "<html>",
        "[true]",
        "{}",
        "{\"active\":\"true\"}",
        "{\"active\":1}",
        "{\"active\":null}",
        "{\"active\":true,\"exp\":\"9999999999\"}",
        "{\"active\":true,\"exp\":1.5}",
        "{\"active\":true",
        "{\"active\":true,\"active\":false}",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(junk); i++)
        assert_int_equal(intro(junk[i], now_ms, &cl, &until), GH_AUTH_INTRO_GARBAGE);
}

/* A principal with a ms deadline leaves the token cache at that ms, not at a whole second. */
static void cache_ms_deadline(void **state)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = ts.tv_sec, now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    struct gh_auth_claims c = {.reason = GH_AUTH_R_OK, .sub = GH_SLICE_LIT("s")};
    struct gh_auth_token_cache *cache = gh_auth_token_cache_new(64);
    struct gh_auth_principal *p = gh_auth_principal_new(&c, (now_ms + 150) / 1000);
    p->expires_ms = now_ms + 150;
    gh_auth_token_cache_put(cache, GH_SLICE_LIT("ms"), p, now);
    struct gh_auth_principal *hit = gh_auth_token_cache_get(cache, GH_SLICE_LIT("ms"), now);
    assert_non_null(hit); /* cached even when the deadline is within this second */
    gh_auth_principal_unref(hit);
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    assert_null(gh_auth_token_cache_get(cache, GH_SLICE_LIT("ms"), now)); /* gone after 150 ms */
    gh_auth_principal_unref(p);
    gh_auth_token_cache_free(cache);
}

/* ---- discovery: RFC 8414 §3.1 path insertion, the OIDC fallback, RFC 8414 §3.3 issuer ---- */

static void discovery_urls(void **state)
{
    (void)state;
    char u[256];
    struct gh_config_auth_issuer is = {.issuer = "https://idp.example"};
    assert_true(gh_auth_discovery_url(&is, 0, u, sizeof(u)));
    assert_string_equal(u, "https://idp.example/.well-known/oauth-authorization-server");
    assert_true(gh_auth_discovery_url(&is, 1, u, sizeof(u)));
    assert_string_equal(u, "https://idp.example/.well-known/openid-configuration");
    assert_false(gh_auth_discovery_url(&is, 2, u, sizeof(u)));
    is.issuer = "https://idp.example:8443/tenant/one";
    assert_true(gh_auth_discovery_url(&is, 0, u, sizeof(u)));
    assert_string_equal(
        u, "https://idp.example:8443/.well-known/oauth-authorization-server/tenant/one");
    assert_true(gh_auth_discovery_url(&is, 1, u, sizeof(u)));
    assert_string_equal(u, "https://idp.example:8443/tenant/one/.well-known/openid-configuration");
    is.issuer = "https://idp.example/";
    assert_true(gh_auth_discovery_url(&is, 0, u, sizeof(u)));
    assert_string_equal(u, "https://idp.example/.well-known/oauth-authorization-server");
    is.discovery_url = "https://meta.example/doc";
    assert_true(gh_auth_discovery_url(&is, 0, u, sizeof(u)));
    assert_string_equal(u, "https://meta.example/doc");
    assert_false(gh_auth_discovery_url(&is, 1, u, sizeof(u)));
    is.discovery_url = NULL;
    assert_false(gh_auth_discovery_url(&is, 0, u, 10)); /* does not fit: no truncated URL */
}

static void discovery_issuer_check(void **state)
{
    (void)state;
    struct gh_auth_discovery d;
    const char *why;
#define READ(body) gh_auth_discovery_read("https://idp.example/t", body, strlen(body), &d, &why)
    assert_int_equal(READ("{\"issuer\":\"https://idp.example/t\",\"jwks_uri\":\"https://k/j\","
                          "\"introspection_endpoint\":\"https://k/i\"}"),
                     GH_ALLOW);
    assert_string_equal(d.jwks_uri, "https://k/j");
    assert_string_equal(d.introspection_endpoint, "https://k/i");
    gh_auth_discovery_release(&d);
    static const char *const refused[] = {
        "{\"issuer\":\"https://idp.example/t/\",\"jwks_uri\":\"https://k/j\"}",
        "{\"issuer\":\"https://IDP.example/t\",\"jwks_uri\":\"https://k/j\"}",
        "{\"issuer\":\"https://evil.example/t\",\"jwks_uri\":\"https://k/j\"}",
        "{\"issuer\":\"https://idp.example/t\\u0000x\",\"jwks_uri\":\"https://k/j\"}",
        "{\"jwks_uri\":\"https://k/j\"}",
        "{\"issuer\":7}",
        "[\"https://idp.example/t\"]",
        "not json",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(refused); i++) {
        assert_int_equal(READ(refused[i]), GH_DENY);
        assert_non_null(why);
        assert_null(d.jwks_uri);
    }
#undef READ
}

#define T(f) cmocka_unit_test_setup_teardown(f, reset, NULL)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(jws_round_trip_every_alg),
        T(introspect_answers),
        T(cache_ms_deadline),
        T(discovery_urls),
        T(discovery_issuer_check),
        T(jws_sign_key_types),
        T(jws_alg_none_refused),
        T(jws_alg_kty_mismatch_both_ways),
        T(jws_key_alg_pins),
        T(jws_hs256_with_rsa_key_refused),
        T(jws_segments),
        T(jws_header_parse),
        T(jws_crit_refused),
        T(jws_key_references_refused),
        T(jws_kid),
        T(jws_signature),
        T(jws_ecdsa_r_s_ranges),
        T(jws_payload_parse),
        T(jwt_claims_extracted),
        T(jwt_exp),
        T(jwt_nbf_iat),
        T(jwt_issuer_audience),
        T(jwt_typ),
        T(jwt_claim_types),
        T(jwks_refuses_keys),
        T(jwks_ec_coordinates),
        T(jwks_set_rules),
        T(jwk_thumbprint_rfc7638),
        T(dpop_happy_path),
        T(dpop_failures),
        T(dpop_header_failures),
        T(htu_normalize),
        T(cache_basics),
        T(end_to_end),
        T(reason_names),
        T(credentials_shapes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
