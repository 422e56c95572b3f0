/*
 * fuzz/fuzz_jwt.c: JWS verification, JWT claims and DPoP proofs on hostile input.
 *
 * Two kinds of input:
 *  - a compact token (anything not starting with '{'): verified as an access token against a
 *    set of keys generated at start-up, and as a DPoP proof; its payload segment, when it
 *    decodes, also goes through the claims check (so claim seeds need no valid signature);
 *  - "HEADER\nPAYLOAD" (starts with '{'): the fuzzer's own JSON, signed here with the
 *    generated Ed25519 key (kid "ed1"), so mutations reach the post-signature paths. The first
 *    "$JWK" in HEADER is replaced by that key's public JWK, for DPoP proofs.
 * Invariants checked: ALLOW iff reason ok; a denial always has a reason; nothing crashes.
 * GH_FUZZ_VERBOSE=1 prints the verdicts of each input: access token, [claims,] DPoP proof.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>

#define NOW 1750000000

static struct gh_auth_jwks *SET;
static EVP_PKEY *ED;
static char ED_JWK[128];
static struct gh_auth_alg_set ALL;

static void b64(const unsigned char *p, size_t n, char *out)
{
    gh_b64url_encode(p, n, out);
}

static char *bn_b64(EVP_PKEY *k, const char *name, int pad)
{
    static char out[4][1400];
    static int slot;
    unsigned char buf[1024];
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1)
        abort();
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    slot = (slot + 1) % 4;
    b64(buf, (size_t)n, out[slot]);
    return out[slot];
}

static void init(void)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ED = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char raw[32];
    size_t n = sizeof(raw);
    char x[48];
    if (!rsa || !ec || !ED || EVP_PKEY_get_raw_public_key(ED, raw, &n) != 1)
        abort();
    b64(raw, n, x);
    snprintf(ED_JWK, sizeof(ED_JWK), "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", x);
    char set[4096];
    snprintf(set, sizeof(set),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"kty\":\"OKP\",\"kid\":\"ed1\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}",
             bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0), bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0),
             bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32), bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32), x);
    if (gh_auth_jwks_parse(NULL, set, strlen(set), &SET, NULL) != GH_OK ||
        gh_auth_jwks_count(SET) != 3)
        abort();
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    for (int alg = GH_AUTH_ALG_RS256; alg <= GH_AUTH_ALG_EDDSA; alg++)
        gh_auth_alg_set_add(&ALL, (enum gh_auth_alg)alg);
}

static bool VERBOSE; /* GH_FUZZ_VERBOSE=1: print each verdict (for seed maintenance) */

static void expect(bool ok, enum gh_auth_reason r)
{
    if (VERBOSE)
        fprintf(stderr, " %s", gh_auth_reason_str(r));
    if (ok != (r == GH_AUTH_R_OK) || r == GH_AUTH_R_UNSPECIFIED || r == GH_AUTH_R_INTERNAL)
        abort();
}

/* h NULL: an unverified payload alone, checked without the typ rule so claims get reached. */
static void claims(struct gh_arena *a, const struct gh_json_doc *h, const struct gh_json_doc *p)
{
    struct gh_auth_jwt_rules rules = {
        .issuer = GH_SLICE_LIT("https://idp.example"),
        .audience = GH_SLICE_LIT("https://gw.example/mcp"),
        .typ = GH_SLICE_LIT("at+jwt"),
        .skew_s = 60,
        .max_age_s = 3600,
        .groups_claim = GH_SLICE_LIT("groups"),
    };
    struct gh_auth_claims c;
    if (!h)
        rules.typ = gh_slice(NULL, 0);
    enum gh_verdict v = gh_auth_jwt_check(a, h, p, &rules, NOW, &c);
    expect(v == GH_ALLOW, c.reason);
    if (v == GH_ALLOW) {
        struct gh_auth_principal *pr = gh_auth_principal_new(&c, c.exp);
        gh_auth_principal_unref(pr);
    }
}

static void as_token(struct gh_arena *a, struct gh_slice tok)
{
    struct gh_auth_jws jws;
    enum gh_verdict v = gh_auth_jws_verify(a, tok, SET, &ALL, 0, &jws);
    expect(v == GH_ALLOW, jws.reason);
    if (v == GH_ALLOW)
        claims(a, &jws.header, &jws.payload);
    struct gh_auth_dpop_req req = {.method = GH_SLICE_LIT("POST"),
                                   .htu = GH_SLICE_LIT("https://gw.example/mcp"),
                                   .now = NOW,
                                   .max_age_s = 300,
                                   .skew_s = 5,
                                   .allowed = &ALL,
                                   .access_token = GH_SLICE_LIT("at")};
    struct gh_auth_dpop d;
    v = gh_auth_dpop_verify(a, tok, &req, &d);
    expect(v == GH_ALLOW, d.reason);
}

/* Claims of an unverified payload segment, so claim seeds need no signature. */
static void payload_only(struct gh_arena *a, struct gh_slice tok)
{
    const char *d1 = memchr(tok.ptr, '.', tok.len);
    if (!d1)
        return;
    const char *d2 = memchr(d1 + 1, '.', (size_t)(tok.ptr + tok.len - d1 - 1));
    if (!d2 || d2 - d1 - 1 > GH_AUTH_TOKEN_MAX)
        return;
    size_t cap = (size_t)(d2 - d1) + 3, n;
    unsigned char *buf = gh_arena_alloc(a, cap);
    struct gh_json_doc p;
    struct gh_json_limits lim = {.max_depth = 16, .max_tokens = 8192, .max_members = 256};
    if (gh_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, cap, &n) == GH_OK &&
        gh_json_parse(a, (const char *)buf, n, &lim, &p, NULL) == GH_OK)
        claims(a, NULL, &p);
}

static void signed_mode(struct gh_arena *a, const char *in, size_t len)
{
    const char *nl = memchr(in, '\n', len);
    if (!nl || len > GH_AUTH_TOKEN_MAX)
        return;
    struct gh_buf h;
    gh_buf_init(&h, (size_t)GH_AUTH_TOKEN_MAX * 2);
    const char *mark = memmem(in, (size_t)(nl - in), "$JWK", 4);
    if (mark) {
        gh_buf_append(&h, in, (size_t)(mark - in));
        gh_buf_append(&h, ED_JWK, strlen(ED_JWK));
        gh_buf_append(&h, mark + 4, (size_t)(nl - mark - 4));
    } else {
        gh_buf_append(&h, in, (size_t)(nl - in));
    }
    size_t pl = len - (size_t)(nl - in) - 1;
    char *tok = gh_arena_alloc(a, gh_b64url_enclen(h.len) + gh_b64url_enclen(pl) + 90 + 2);
    size_t n = gh_b64url_encode(h.data, h.len, tok);
    tok[n++] = '.';
    n += gh_b64url_encode(nl + 1, pl, tok + n);
    unsigned char sig[64];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, ED, NULL) != 1 ||
        EVP_DigestSign(md, sig, &sl, (const unsigned char *)tok, n) != 1)
        abort();
    EVP_MD_CTX_free(md);
    tok[n++] = '.';
    n += gh_b64url_encode(sig, sl, tok + n);
    as_token(a, gh_slice(tok, n));
    gh_buf_release(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!SET) {
        init();
        VERBOSE = getenv("GH_FUZZ_VERBOSE") != NULL;
    }
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_slice in = gh_slice((const char *)data, size);
    if (size && data[0] == '{') {
        signed_mode(a, in.ptr, in.len);
    } else {
        as_token(a, in);
        payload_only(a, in);
    }
    if (VERBOSE)
        fprintf(stderr, "\n");
    gh_arena_free(a);
    return 0;
}
