/*
 * auth/dpop.c owns DPoP proof verification (RFC 9449 §4.3): the proof carries its own public
 * key, so unlike an access token the header jwk IS the key — but only a public one, of the
 * family the alg names. Also owns htu normalisation and the cnf.jkt binding check. Replay
 * (jti) and server nonces are state, kept by the caller.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <openssl/crypto.h>
#include <stdio.h>

#include "auth/internal.h"

#define HTU_MAX 8192
#define JTI_MAX 256

static char lower(char c)
{
    unsigned char u = (unsigned char)c;
    return (char)(u >= 'A' && u <= 'Z' ? u | 0x20 : u);
}

/* Port digits to a number; -1 when not 1..65535 digits-only (empty means "no port"). */
static long port_of(struct gh_slice p)
{
    long v = 0;
    if (p.len == 0)
        return 0;
    if (p.len > 5)
        return -1;
    for (size_t i = 0; i < p.len; i++) {
        if (p.ptr[i] < '0' || p.ptr[i] > '9')
            return -1;
        v = v * 10 + (p.ptr[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

/* Splits an authority into host and port, refusing userinfo. */
static enum gh_rc authority(struct gh_slice au, struct gh_slice *host, long *port)
{
    const char *end = au.ptr + au.len, *colon = NULL;
    if (au.len == 0 || memchr(au.ptr, '@', au.len))
        return GH_E_PARSE;
    if (au.ptr[0] == '[') {
        const char *rb = memchr(au.ptr, ']', au.len);
        if (!rb)
            return GH_E_PARSE;
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return GH_E_PARSE;
    } else {
        colon = memchr(au.ptr, ':', au.len);
    }
    *host = gh_slice(au.ptr, colon ? (size_t)(colon - au.ptr) : au.len);
    *port = colon ? port_of(gh_slice(colon + 1, (size_t)(end - colon - 1))) : 0;
    return host->len && *port >= 0 ? GH_OK : GH_E_PARSE;
}

enum gh_rc gh_auth_htu_normalize(struct gh_arena *a, struct gh_slice uri, struct gh_slice *out)
{
    size_t sl;
    if (uri.len > HTU_MAX)
        return GH_E_LIMIT;
    if (uri.len > 7 && gh_slice_caseeq_cstr(gh_slice(uri.ptr, 7), "http://"))
        sl = 4;
    else if (uri.len > 8 && gh_slice_caseeq_cstr(gh_slice(uri.ptr, 8), "https://"))
        sl = 5;
    else
        return GH_E_PARSE;
    const char *p = uri.ptr + sl + 3, *end = uri.ptr + uri.len;
    size_t aul = 0;
    while (p + aul < end && p[aul] != '/' && p[aul] != '?' && p[aul] != '#')
        aul++;
    struct gh_slice host;
    long port;
    if (authority(gh_slice(p, aul), &host, &port) != GH_OK)
        return GH_E_PARSE;
    const char *path = p + aul, *pe = path;
    while (pe < end && *pe != '?' && *pe != '#')
        pe++;
    long dflt = sl == 4 ? 80 : 443;
    char *o = gh_arena_alloc(a, uri.len + 2), *w = o;
    memcpy(w, sl == 4 ? "http://" : "https://", sl + 3);
    w += sl + 3;
    for (size_t i = 0; i < host.len; i++)
        *w++ = lower(host.ptr[i]);
    if (port && port != dflt)
        w += snprintf(w, 8, ":%ld", port);
    if (pe == path)
        *w++ = '/';
    memcpy(w, path, (size_t)(pe - path));
    w += pe - path;
    *out = gh_slice(o, (size_t)(w - o));
    return GH_OK;
}

bool gh_auth_dpop_binds(const struct gh_auth_claims *claims, const struct gh_auth_dpop *proof)
{
    if (!claims->cnf_jkt.ptr || proof->reason != GH_AUTH_R_OK)
        return false;
    return claims->cnf_jkt.len == GH_AUTH_JKT_LEN &&
           CRYPTO_memcmp(claims->cnf_jkt.ptr, proof->jkt, GH_AUTH_JKT_LEN) == 0;
}

/* Header: typ, crit, alg and the embedded public key. k is released by the caller. */
static enum gh_auth_reason proof_header(struct gh_arena *a, const struct gh_json_doc *h,
                                        const struct gh_auth_dpop_req *req, struct gh_auth_jwk *k,
                                        struct gh_auth_dpop *out)
{
    struct gh_slice typ;
    if (gh_json_obj_get(h, 0, "crit", 4) >= 0)
        return GH_AUTH_R_CRIT;
    if (gh_auth__opt_str(h, 0, "typ", a, &typ) != GH_OK)
        return GH_AUTH_R_HEADER_PARSE;
    if (!typ.ptr || !gh_auth__typ_eq(typ, GH_SLICE_LIT("dpop+jwt")))
        return GH_AUTH_R_TYP;
    enum gh_auth_reason r = gh_auth__header_alg(h, req->allowed, &out->alg);
    if (r != GH_AUTH_R_OK)
        return r;
    int32_t jwk = gh_json_obj_get(h, 0, "jwk", 3);
    struct gh_auth_err err = {0};
    if (jwk < 0)
        return GH_AUTH_R_DPOP_JWK;
    if (gh_auth__jwk_from_doc(h, (uint32_t)jwk, a, k, &err) != GH_OK)
        return err.auth_reason == GH_AUTH_R_PRIVATE_KEY ? GH_AUTH_R_PRIVATE_KEY
                                                        : GH_AUTH_R_DPOP_JWK;
    if (k->kty != gh_auth__alg_kty(out->alg) || (k->alg && k->alg != out->alg))
        return GH_AUTH_R_ALG_KEY_MISMATCH;
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason htu_check(struct gh_arena *a, const struct gh_json_doc *p,
                                     struct gh_slice want)
{
    struct gh_slice htu, n1, n2;
    if (gh_auth__opt_str(p, 0, "htu", a, &htu) != GH_OK || !htu.ptr)
        return GH_AUTH_R_DPOP_HTU;
    /* RFC 9449 §4.2: the proof names the URI without query and fragment; one that has them
     * was not made for this check. */
    if (memchr(htu.ptr, '?', htu.len) || memchr(htu.ptr, '#', htu.len))
        return GH_AUTH_R_DPOP_HTU;
    if (gh_auth_htu_normalize(a, htu, &n1) != GH_OK || gh_auth_htu_normalize(a, want, &n2) != GH_OK)
        return GH_AUTH_R_DPOP_HTU;
    return gh_slice_eq(n1, n2) ? GH_AUTH_R_OK : GH_AUTH_R_DPOP_HTU;
}

static enum gh_auth_reason ath_check(struct gh_arena *a, const struct gh_json_doc *p,
                                     const struct gh_auth_dpop_req *req)
{
    struct gh_slice ath;
    unsigned char h[32];
    char want[GH_AUTH_JKT_LEN + 1];
    if (gh_auth__opt_str(p, 0, "ath", a, &ath) != GH_OK || ath.len != GH_AUTH_JKT_LEN)
        return GH_AUTH_R_DPOP_ATH;
    if (req->access_token_hash)
        memcpy(h, req->access_token_hash, sizeof(h));
    else
        gh_auth_token_hash(req->access_token, h);
    gh_b64url_encode(h, sizeof(h), want);
    return CRYPTO_memcmp(ath.ptr, want, GH_AUTH_JKT_LEN) == 0 ? GH_AUTH_R_OK : GH_AUTH_R_DPOP_ATH;
}

static enum gh_auth_reason claims(struct gh_arena *a, const struct gh_json_doc *p,
                                  const struct gh_auth_dpop_req *req, struct gh_auth_dpop *out)
{
    struct gh_slice htm, nonce;
    if (gh_auth__opt_str(p, 0, "htm", a, &htm) != GH_OK || !gh_slice_eq(htm, req->method) ||
        !htm.ptr)
        return GH_AUTH_R_DPOP_HTM;
    enum gh_auth_reason r = htu_check(a, p, req->htu);
    if (r != GH_AUTH_R_OK)
        return r;
    int32_t v = gh_json_obj_get(p, 0, "iat", 3);
    double iat;
    if (v < 0 || gh_json_double(p, (uint32_t)v, &iat) != GH_OK ||
        !(iat >= (double)req->now - (double)req->max_age_s &&
          iat <= (double)req->now + (double)req->skew_s))
        return GH_AUTH_R_DPOP_IAT;
    out->iat = (int64_t)iat; /* within a window around now: in range */
    if (gh_auth__opt_str(p, 0, "jti", a, &out->jti) != GH_OK || out->jti.len == 0 ||
        out->jti.len > JTI_MAX)
        return GH_AUTH_R_DPOP_JTI;
    if (req->access_token.len && (r = ath_check(a, p, req)) != GH_AUTH_R_OK)
        return r;
    if (req->nonce.len &&
        (gh_auth__opt_str(p, 0, "nonce", a, &nonce) != GH_OK || !gh_slice_eq(nonce, req->nonce)))
        return GH_AUTH_R_DPOP_NONCE;
    return GH_AUTH_R_OK;
}

enum gh_verdict gh_auth_dpop_verify(struct gh_arena *a, struct gh_slice proof,
                                    const struct gh_auth_dpop_req *req, struct gh_auth_dpop *out)
{
    struct gh_auth__compact c;
    struct gh_auth_jwk key = {0};
    struct gh_json_doc h, p;
    memset(out, 0, sizeof(*out));
    enum gh_auth_reason r = gh_auth__split(proof, GH_AUTH_DPOP_MAX, &c);
    if (r == GH_AUTH_R_OK && gh_auth__seg_json(a, c.seg[0], &h) != GH_OK)
        r = GH_AUTH_R_HEADER_PARSE;
    if (r == GH_AUTH_R_OK)
        r = proof_header(a, &h, req, &key, out);
    if (r == GH_AUTH_R_OK)
        r = gh_auth__sig_check(&key, out->alg, c.signing, c.seg[2]);
    if (r == GH_AUTH_R_OK && gh_auth__seg_json(a, c.seg[1], &p) != GH_OK)
        r = GH_AUTH_R_PAYLOAD_PARSE;
    if (r == GH_AUTH_R_OK)
        r = claims(a, &p, req, out);
    if (r == GH_AUTH_R_OK)
        memcpy(out->jkt, key.jkt, sizeof(out->jkt));
    gh_auth__jwk_release(&key);
    out->reason = r;
    return r == GH_AUTH_R_OK ? GH_ALLOW : GH_DENY;
}
