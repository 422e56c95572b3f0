/*
 * auth/jws.c owns JWS compact verification (RFC 7515, RFC 8725): the header rules (algorithm
 * from the caller's allow-list, no embedded or remote key references, no crit), key selection
 * from the caller's set, and the signature check through OpenSSL EVP — including the JOSE r||s
 * to DER conversion for ECDSA with range checks on r and s.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "auth/internal.h"

/* Curve orders, big-endian: r and s must lie in [1, n-1] (psychic signatures, CVE-2022-21449). */
static const unsigned char p256_n[32] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
static const unsigned char p384_n[48] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC7, 0x63, 0x4D, 0x81, 0xF4, 0x37, 0x2D, 0xDF,
    0x58, 0x1A, 0x0D, 0xB2, 0x48, 0xB0, 0xA7, 0x7A, 0xEC, 0xEC, 0x19, 0x6A, 0xCC, 0xC5, 0x29, 0x73};

/* The largest signature any accepted key makes: RSA-8192. */
#define SIG_MAX (GH_AUTH_RSA_MAX_BITS / 8)

static bool in_range(const unsigned char *v, const unsigned char *n, size_t len)
{
    bool zero = true;
    for (size_t i = 0; i < len; i++)
        zero = zero && v[i] == 0;
    return !zero && memcmp(v, n, len) < 0;
}

/* DER INTEGER for the unsigned big-endian v[0..len) at out; returns bytes written. */
static size_t der_int(const unsigned char *v, size_t len, unsigned char *out, size_t cap)
{
    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    size_t pad = v[0] & 0x80 ? 1 : 0;
    GH_BUG_ON(2 + pad + len > cap || pad + len > 127);
    out[0] = 0x02;
    out[1] = (unsigned char)(pad + len);
    out[2] = 0;
    memcpy(out + 2 + pad, v, len);
    return 2 + pad + len;
}

/* JOSE r||s (each clen bytes) to a DER ECDSA-Sig-Value. clen <= 48 keeps every length short
 * form: at most 2 * (2 + 49) = 102 content bytes. */
static size_t ecdsa_der(const unsigned char *rs, size_t clen, unsigned char *out, size_t cap)
{
    unsigned char body[2 * (2 + 1 + 48)];
    size_t n = der_int(rs, clen, body, sizeof(body));
    n += der_int(rs + clen, clen, body + n, sizeof(body) - n);
    GH_BUG_ON(n + 2 > cap || n > 127);
    out[0] = 0x30;
    out[1] = (unsigned char)n;
    memcpy(out + 2, body, n);
    return n + 2;
}

static const char *digest_of(enum gh_auth_alg alg)
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
        return NULL; /* EdDSA hashes internally */
    }
}

static bool is_pss(enum gh_auth_alg alg)
{
    return alg == GH_AUTH_ALG_PS256 || alg == GH_AUTH_ALG_PS384 || alg == GH_AUTH_ALG_PS512;
}

static enum gh_auth_reason evp_verify(const struct gh_auth_jwk *key, enum gh_auth_alg alg,
                                      struct gh_slice msg, const unsigned char *sig, size_t n)
{
    enum gh_auth_reason r = GH_AUTH_R_INTERNAL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestVerifyInit_ex(md, &pctx, digest_of(alg), NULL, NULL, key->pkey, NULL) != 1)
        goto out;
    /* RFC 7518 §3.5: PSS with MGF1 over the same hash and a salt as long as the hash. */
    if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto out;
    int ok = EVP_DigestVerify(md, sig, n, (const unsigned char *)msg.ptr, msg.len);
    r = ok == 1 ? GH_AUTH_R_OK : GH_AUTH_R_SIGNATURE;
out:
    EVP_MD_CTX_free(md);
    return r;
}

/* Signature length an alg and key must produce; 0 when the key cannot say. */
static size_t sig_len(const struct gh_auth_jwk *key)
{
    switch (key->kty) {
    case GH_AUTH_KTY_P256:
        return 64;
    case GH_AUTH_KTY_P384:
        return 96;
    case GH_AUTH_KTY_ED25519:
        return 64;
    case GH_AUTH_KTY_RSA:
        return (size_t)EVP_PKEY_get_size(key->pkey);
    default:
        return 0;
    }
}

enum gh_auth_reason gh_auth__sig_check(const struct gh_auth_jwk *key, enum gh_auth_alg alg,
                                       struct gh_slice signing, struct gh_slice sig_b64)
{
    unsigned char sig[SIG_MAX + 3], der[2 + 2 * (2 + 1 + 48)];
    size_t want = sig_len(key), n = 0;
    /* Length first, on the text: an oversized signature costs nothing to refuse. */
    if (want == 0 || want > SIG_MAX || sig_b64.len != gh_b64url_enclen(want))
        return GH_AUTH_R_SIGNATURE;
    if (gh_b64url_decode(sig_b64.ptr, sig_b64.len, sig, sizeof(sig), &n) != GH_OK || n != want)
        return GH_AUTH_R_SIGNATURE;
    if (key->kty == GH_AUTH_KTY_P256 || key->kty == GH_AUTH_KTY_P384) {
        const unsigned char *order = key->kty == GH_AUTH_KTY_P256 ? p256_n : p384_n;
        size_t clen = want / 2;
        if (!in_range(sig, order, clen) || !in_range(sig + clen, order, clen))
            return GH_AUTH_R_SIGNATURE;
        n = ecdsa_der(sig, clen, der, sizeof(der));
        return evp_verify(key, alg, signing, der, n);
    }
    return evp_verify(key, alg, signing, sig, n);
}

enum gh_auth_reason gh_auth__header_alg(const struct gh_json_doc *h,
                                        const struct gh_auth_alg_set *allowed,
                                        enum gh_auth_alg *alg)
{
    int32_t v = gh_json_obj_get(h, 0, "alg", 3);
    *alg = GH_AUTH_ALG_NONE;
    if (v < 0)
        return GH_AUTH_R_ALG_NOT_ALLOWED;
    if (gh_json_tok(h, (uint32_t)v)->type != GH_JSON_STRING)
        return GH_AUTH_R_HEADER_PARSE;
    /* Raw bytes are enough: every name we accept is plain ASCII, and an escaped spelling of
     * one ("RS\u0032...") is refused rather than decoded. */
    struct gh_slice raw = gh_json_raw(h, (uint32_t)v);
    struct gh_slice name = gh_slice(raw.ptr + 1, raw.len - 2);
    /* No key in a set is ever symmetric, so HS* can never fit one: RS->HS confusion. */
    if (gh_auth__alg_is_hmac(name))
        return GH_AUTH_R_ALG_KEY_MISMATCH;
    *alg = gh_auth_alg_from_name(name);
    if (!gh_auth_alg_set_has(allowed, *alg))
        return GH_AUTH_R_ALG_NOT_ALLOWED;
    return GH_AUTH_R_OK;
}

/* Header members that would let the token choose its own key. */
static enum gh_auth_reason key_refs(const struct gh_json_doc *h, unsigned flags)
{
    static const char *const embedded[] = {"jwk", "x5c"};
    static const char *const remote[] = {"jku", "x5u"};
    static const char *const hints[] = {"x5t", "x5t#S256"};
    for (size_t i = 0; i < 2; i++) {
        if (gh_json_obj_get(h, 0, embedded[i], strlen(embedded[i])) >= 0)
            return GH_AUTH_R_EMBEDDED_KEY;
        if (gh_json_obj_get(h, 0, remote[i], strlen(remote[i])) >= 0)
            return GH_AUTH_R_UNTRUSTED_KEY_REF;
        if (!(flags & GH_AUTH_JWS_F_IGNORE_X5T) &&
            gh_json_obj_get(h, 0, hints[i], strlen(hints[i])) >= 0)
            return GH_AUTH_R_UNTRUSTED_KEY_REF;
    }
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason header(struct gh_arena *a, const struct gh_auth__compact *c,
                                  const struct gh_auth_alg_set *allowed, unsigned flags,
                                  struct gh_auth_jws *out)
{
    if (gh_auth__seg_json(a, c->seg[0], &out->header) != GH_OK)
        return GH_AUTH_R_HEADER_PARSE;
    /* RFC 7515 §4.1.11: a crit we do not understand MUST be refused, and we understand none. */
    if (gh_json_obj_get(&out->header, 0, "crit", 4) >= 0)
        return GH_AUTH_R_CRIT;
    enum gh_auth_reason r = key_refs(&out->header, flags);
    if (r != GH_AUTH_R_OK)
        return r;
    if (gh_auth__opt_str(&out->header, 0, "kid", a, &out->kid) != GH_OK ||
        gh_auth__opt_str(&out->header, 0, "typ", a, &out->typ) != GH_OK)
        return GH_AUTH_R_HEADER_PARSE;
    return gh_auth__header_alg(&out->header, allowed, &out->alg);
}

/* The key for the token, or why there is none. */
static enum gh_auth_reason pick_key(const struct gh_auth_jwks *keys, struct gh_auth_jws *out)
{
    if (out->kid.len > GH_AUTH_KID_MAX)
        return GH_AUTH_R_UNKNOWN_KID;
    out->key = gh_auth_jwks_find(keys, out->kid, out->alg);
    if (!out->key) {
        /* Same kid in another family: the token's alg does not fit the key it names. */
        for (uint32_t i = 0; out->kid.ptr && i < gh_auth_jwks_count(keys); i++)
            if (gh_slice_eq(gh_auth_jwk_kid(gh_auth_jwks_at(keys, i)), out->kid))
                return GH_AUTH_R_ALG_KEY_MISMATCH;
        return GH_AUTH_R_UNKNOWN_KID;
    }
    if (out->key->alg != GH_AUTH_ALG_NONE && out->key->alg != out->alg)
        return GH_AUTH_R_ALG_KEY_MISMATCH;
    return GH_AUTH_R_OK;
}

enum gh_verdict gh_auth_jws_verify(struct gh_arena *a, struct gh_slice token,
                                   const struct gh_auth_jwks *keys,
                                   const struct gh_auth_alg_set *allowed, unsigned flags,
                                   struct gh_auth_jws *out)
{
    struct gh_auth__compact c;
    memset(out, 0, sizeof(*out));
    enum gh_auth_reason r = gh_auth__split(token, GH_AUTH_TOKEN_MAX, &c);
    if (r == GH_AUTH_R_OK)
        r = header(a, &c, allowed, flags, out);
    if (r == GH_AUTH_R_OK)
        r = pick_key(keys, out);
    if (r == GH_AUTH_R_OK)
        r = gh_auth__sig_check(out->key, out->alg, c.signing, c.seg[2]);
    /* The payload is parsed only once it is known to come from the key holder. */
    if (r == GH_AUTH_R_OK && gh_auth__seg_json(a, c.seg[1], &out->payload) != GH_OK)
        r = GH_AUTH_R_PAYLOAD_PARSE;
    out->reason = r;
    if (r != GH_AUTH_R_OK) {
        out->key = NULL;
        return GH_DENY;
    }
    return GH_ALLOW;
}

/* ---- signing (the gateway's own JWTs: dev tokens, client assertions, propagation) ---- */

static char *b64_dup(const void *p, size_t n)
{
    char *o = gh_xmalloc(gh_b64url_enclen(n) + 1);
    gh_b64url_encode(p, n, o);
    return o;
}

/* The JOSE signature over in: Ed25519 and RSA as OpenSSL gives them, ECDSA P-256 as r||s
 * (OpenSSL gives DER). */
static bool jws_sign_bytes(EVP_PKEY *k, const char *in, size_t n, unsigned char *out, size_t *olen)
{
    int id = EVP_PKEY_get_base_id(k);
    bool ed = id == EVP_PKEY_ED25519, ec = id == EVP_PKEY_EC;
    unsigned char der[600];
    size_t dlen = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL, k) == 1 &&
              EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)in, n) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return false;
    if (!ec) {
        memcpy(out, der, dlen);
        *olen = dlen;
        return true;
    }
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    ok = sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    *olen = 64;
    return ok;
}

char *gh_auth_jws_sign(EVP_PKEY *key, const char *header_json, const char *payload, size_t n)
{
    char *h = b64_dup(header_json, strlen(header_json));
    char *p = b64_dup(payload, n);
    struct gh_buf t;
    gh_buf_init(&t, strlen(h) + strlen(p) + 1024);
    gh_buf_appendf(&t, "%s.%s", h, p);
    unsigned char sig[600];
    size_t sl = 0;
    char *out = NULL;
    if (jws_sign_bytes(key, t.data, t.len, sig, &sl)) {
        char *s = b64_dup(sig, sl);
        gh_buf_appendf(&t, ".%s", s);
        free(s);
        out = gh_xstrndup(t.data, t.len);
    }
    gh_buf_release(&t);
    free(h);
    free(p);
    return out;
}
