/*
 * auth/alg.c owns the vocabulary of auth/: algorithm names and allow-lists, reason names, and
 * the small JOSE helpers every verifier shares (splitting a compact token, decoding a segment
 * into JSON, typ comparison, optional string members).
 */
#include "core/core.h"
#include "auth/auth.h"

#include "auth/internal.h"

/* Tokens are at most GH_AUTH_TOKEN_MAX bytes, so these caps are never the binding limit for a
 * legitimate token; they bound work on hostile ones. */
const struct gh_json_limits gh_auth__tok_limits = {
    .max_depth = 16,
    .max_tokens = 8192,
    .max_members = 256,
    .max_bytes = GH_AUTH_TOKEN_MAX,
};

static const char *const alg_names[] = {
    [GH_AUTH_ALG_NONE] = "none",   [GH_AUTH_ALG_RS256] = "RS256", [GH_AUTH_ALG_RS384] = "RS384",
    [GH_AUTH_ALG_RS512] = "RS512", [GH_AUTH_ALG_PS256] = "PS256", [GH_AUTH_ALG_PS384] = "PS384",
    [GH_AUTH_ALG_PS512] = "PS512", [GH_AUTH_ALG_ES256] = "ES256", [GH_AUTH_ALG_ES384] = "ES384",
    [GH_AUTH_ALG_EDDSA] = "EdDSA",
};

static const char *const reason_names[] = {
    [GH_AUTH_R_UNSPECIFIED] = "unspecified",
    [GH_AUTH_R_OK] = "ok",
    [GH_AUTH_R_BAD_FORMAT] = "bad_format",
    [GH_AUTH_R_JWE_NOT_ALLOWED] = "jwe_not_allowed",
    [GH_AUTH_R_HEADER_PARSE] = "header_parse",
    [GH_AUTH_R_PAYLOAD_PARSE] = "payload_parse",
    [GH_AUTH_R_ALG_NOT_ALLOWED] = "alg_not_allowed",
    [GH_AUTH_R_ALG_KEY_MISMATCH] = "alg_key_mismatch",
    [GH_AUTH_R_UNKNOWN_KID] = "unknown_kid",
    [GH_AUTH_R_EMBEDDED_KEY] = "embedded_key",
    [GH_AUTH_R_UNTRUSTED_KEY_REF] = "untrusted_key_ref",
    [GH_AUTH_R_CRIT] = "crit",
    [GH_AUTH_R_SIGNATURE] = "signature",
    [GH_AUTH_R_EXPIRED] = "expired",
    [GH_AUTH_R_NOT_YET_VALID] = "not_yet_valid",
    [GH_AUTH_R_ISSUER] = "issuer",
    [GH_AUTH_R_AUDIENCE] = "audience",
    [GH_AUTH_R_CLAIM_TYPE] = "claim_type",
    [GH_AUTH_R_TYP] = "typ",
    [GH_AUTH_R_TOO_OLD] = "too_old",
    [GH_AUTH_R_DPOP_JWK] = "dpop_jwk",
    [GH_AUTH_R_PRIVATE_KEY] = "private_key",
    [GH_AUTH_R_DPOP_HTM] = "dpop_htm",
    [GH_AUTH_R_DPOP_HTU] = "dpop_htu",
    [GH_AUTH_R_DPOP_IAT] = "dpop_iat",
    [GH_AUTH_R_DPOP_JTI] = "dpop_jti",
    [GH_AUTH_R_DPOP_ATH] = "dpop_ath",
    [GH_AUTH_R_DPOP_NONCE] = "dpop_nonce",
    [GH_AUTH_R_SCOPE_CEILING] = "scope_beyond_max_scopes",
    [GH_AUTH_R_INTERNAL] = "internal",
};

const char *gh_auth_reason_str(enum gh_auth_reason r)
{
    if ((unsigned)r >= GH_ARRAY_LEN(reason_names) || !reason_names[r])
        return "unspecified";
    return reason_names[r];
}

enum gh_auth_alg gh_auth_alg_from_name(struct gh_slice name)
{
    for (unsigned i = GH_AUTH_ALG_RS256; i < GH_ARRAY_LEN(alg_names); i++)
        if (gh_slice_eq_cstr(name, alg_names[i]))
            return (enum gh_auth_alg)i;
    return GH_AUTH_ALG_NONE;
}

const char *gh_auth_alg_name(enum gh_auth_alg alg)
{
    if ((unsigned)alg >= GH_ARRAY_LEN(alg_names))
        return "none";
    return alg_names[alg];
}

bool gh_auth__alg_is_hmac(struct gh_slice name)
{
    return gh_slice_eq_cstr(name, "HS256") || gh_slice_eq_cstr(name, "HS384") ||
           gh_slice_eq_cstr(name, "HS512");
}

enum gh_auth_kty gh_auth__alg_kty(enum gh_auth_alg alg)
{
    switch (alg) {
    case GH_AUTH_ALG_RS256:
    case GH_AUTH_ALG_RS384:
    case GH_AUTH_ALG_RS512:
    case GH_AUTH_ALG_PS256:
    case GH_AUTH_ALG_PS384:
    case GH_AUTH_ALG_PS512:
        return GH_AUTH_KTY_RSA;
    case GH_AUTH_ALG_ES256:
        return GH_AUTH_KTY_P256;
    case GH_AUTH_ALG_ES384:
        return GH_AUTH_KTY_P384;
    case GH_AUTH_ALG_EDDSA:
        return GH_AUTH_KTY_ED25519;
    default:
        return GH_AUTH_KTY_NONE;
    }
}

void gh_auth_alg_set_add(struct gh_auth_alg_set *set, enum gh_auth_alg alg)
{
    if (alg > GH_AUTH_ALG_NONE && (unsigned)alg < GH_ARRAY_LEN(alg_names))
        set->mask |= 1u << alg;
}

bool gh_auth_alg_set_has(const struct gh_auth_alg_set *set, enum gh_auth_alg alg)
{
    if (!set || alg <= GH_AUTH_ALG_NONE || (unsigned)alg >= GH_ARRAY_LEN(alg_names))
        return false;
    return (set->mask >> alg) & 1u;
}

enum gh_rc gh_auth_alg_set_parse(struct gh_auth_alg_set *set, const char *list)
{
    struct gh_auth_alg_set tmp = {0};
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, " ,");
        if (n) {
            enum gh_auth_alg alg = gh_auth_alg_from_name(gh_slice(p, n));
            if (alg == GH_AUTH_ALG_NONE)
                return GH_E_PARSE;
            gh_auth_alg_set_add(&tmp, alg);
        }
        p += n;
        if (*p)
            p++;
    }
    *set = tmp;
    return GH_OK;
}

bool gh_auth__typ_eq(struct gh_slice typ, struct gh_slice want)
{
    static const char app[] = "application/";
    size_t n = sizeof(app) - 1;
    if (typ.len > n && gh_slice_caseeq_cstr(gh_slice(typ.ptr, n), app)) {
        typ.ptr += n;
        typ.len -= n;
    }
    if (typ.len != want.len)
        return false;
    for (size_t i = 0; i < typ.len; i++) {
        unsigned char x = (unsigned char)typ.ptr[i], y = (unsigned char)want.ptr[i];
        if ((x | ((x >= 'A' && x <= 'Z') << 5)) != (y | ((y >= 'A' && y <= 'Z') << 5)))
            return false;
    }
    return true;
}

enum gh_rc gh_auth__opt_str(const struct gh_json_doc *d, uint32_t obj, const char *name,
                            struct gh_arena *a, struct gh_slice *out)
{
    int32_t v = gh_json_obj_get(d, obj, name, strlen(name));
    *out = gh_slice(NULL, 0);
    if (v < 0)
        return GH_OK;
    return gh_json_str(d, a, (uint32_t)v, out);
}

enum gh_auth_reason gh_auth__split(struct gh_slice token, size_t max, struct gh_auth__compact *c)
{
    const char *dots[5];
    size_t ndots = 0;
    if (token.len == 0 || token.len > max)
        return GH_AUTH_R_BAD_FORMAT;
    for (size_t i = 0; i < token.len; i++) {
        if (token.ptr[i] != '.')
            continue;
        if (ndots == GH_ARRAY_LEN(dots))
            return GH_AUTH_R_BAD_FORMAT;
        dots[ndots++] = token.ptr + i;
    }
    if (ndots == 4)
        return GH_AUTH_R_JWE_NOT_ALLOWED;
    if (ndots != 2)
        return GH_AUTH_R_BAD_FORMAT;
    const char *end = token.ptr + token.len;
    c->seg[0] = gh_slice(token.ptr, (size_t)(dots[0] - token.ptr));
    c->seg[1] = gh_slice(dots[0] + 1, (size_t)(dots[1] - dots[0] - 1));
    c->seg[2] = gh_slice(dots[1] + 1, (size_t)(end - dots[1] - 1));
    c->signing = gh_slice(token.ptr, (size_t)(dots[1] - token.ptr));
    return GH_AUTH_R_OK;
}

enum gh_rc gh_auth__seg_json(struct gh_arena *a, struct gh_slice s, struct gh_json_doc *doc)
{
    size_t cap = s.len / 4 * 3 + 3, n = 0;
    unsigned char *buf = gh_arena_alloc(a, cap);
    enum gh_rc rc = gh_b64url_decode(s.ptr, s.len, buf, cap, &n);
    if (rc)
        return rc;
    rc = gh_json_parse(a, (const char *)buf, n, &gh_auth__tok_limits, doc, NULL);
    if (rc)
        return rc;
    return doc->toks[0].type == GH_JSON_OBJECT ? GH_OK : GH_E_PARSE;
}
