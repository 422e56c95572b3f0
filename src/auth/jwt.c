/*
 * auth/jwt.c owns the claims of a JWT access token (RFC 7519, RFC 9068): typ, issuer,
 * audience, the time claims compared in the double domain, and extraction of the identity the
 * policy stage matches on (subject, client, scopes, groups, actor chain, DPoP binding).
 */
#include "core/core.h"
#include "auth/auth.h"

#include "auth/internal.h"

/* A NumericDate member. Out-of-range values (negative, 1e300, NaN can't parse) are a type
 * error: comparing them is defined in double, but no real token carries them. */
static enum gh_auth_reason numeric_date(const struct gh_json_doc *p, const char *name, double *out,
                                        bool *present)
{
    int32_t v = gh_json_obj_get(p, 0, name, strlen(name));
    *present = v >= 0;
    if (v < 0)
        return GH_AUTH_R_OK;
    if (gh_json_tok(p, (uint32_t)v)->type != GH_JSON_NUMBER ||
        gh_json_double(p, (uint32_t)v, out) != GH_OK)
        return GH_AUTH_R_CLAIM_TYPE;
    if (!(*out >= 0.0 && *out <= GH_AUTH_NUMERICDATE_MAX))
        return GH_AUTH_R_CLAIM_TYPE;
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason times(const struct gh_json_doc *p, const struct gh_auth_jwt_rules *rl,
                                 int64_t now, struct gh_auth_claims *out)
{
    double exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    enum gh_auth_reason r;
    if ((r = numeric_date(p, "exp", &exp, &has_exp)) != GH_AUTH_R_OK ||
        (r = numeric_date(p, "nbf", &nbf, &has_nbf)) != GH_AUTH_R_OK ||
        (r = numeric_date(p, "iat", &iat, &has_iat)) != GH_AUTH_R_OK)
        return r;
    if (!has_exp)
        return GH_AUTH_R_CLAIM_TYPE;
    double skew = rl->skew_s > 0 ? (double)rl->skew_s : 0.0;
    double lo = (double)now - skew, hi = (double)now + skew;
    /* Boundary: exp == now - skew is already expired (RFC 7519 §4.1.4 "on or after"). */
    if (exp <= lo)
        return GH_AUTH_R_EXPIRED;
    if ((has_nbf && nbf > hi) || (has_iat && iat > hi))
        return GH_AUTH_R_NOT_YET_VALID;
    if (rl->max_age_s > 0 && (!has_iat || iat < lo - (double)rl->max_age_s))
        return GH_AUTH_R_TOO_OLD;
    out->exp = (int64_t)exp; /* in range: checked above */
    out->nbf = (int64_t)nbf;
    out->iat = (int64_t)iat;
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason issuer(const struct gh_json_doc *p, struct gh_arena *a,
                                  const struct gh_auth_jwt_rules *rl, struct gh_auth_claims *out)
{
    if (gh_auth__opt_str(p, 0, "iss", a, &out->iss) != GH_OK)
        return GH_AUTH_R_CLAIM_TYPE;
    if (!out->iss.ptr || rl->issuer.len == 0 || !gh_slice_eq(out->iss, rl->issuer))
        return GH_AUTH_R_ISSUER;
    return GH_AUTH_R_OK;
}

/* Whether the JSON string at token i is the resource URI or one of the configured audiences. */
static bool aud_accepted(const struct gh_json_doc *p, uint32_t i,
                         const struct gh_auth_jwt_rules *rl)
{
    if (gh_json_str_eq(p, i, rl->audience.ptr, rl->audience.len))
        return true;
    for (size_t k = 0; k < rl->n_audiences; k++)
        if (gh_json_str_eq(p, i, rl->audiences[k], strlen(rl->audiences[k])))
            return true;
    return false;
}

static enum gh_auth_reason audience(const struct gh_json_doc *p, const struct gh_auth_jwt_rules *rl)
{
    int32_t v = gh_json_obj_get(p, 0, "aud", 3);
    if (v < 0 || rl->audience.len == 0)
        return GH_AUTH_R_AUDIENCE;
    const struct gh_json_tok *t = gh_json_tok(p, (uint32_t)v);
    if (t->type == GH_JSON_STRING)
        return aud_accepted(p, (uint32_t)v, rl) ? GH_AUTH_R_OK : GH_AUTH_R_AUDIENCE;
    if (t->type != GH_JSON_ARRAY)
        return GH_AUTH_R_CLAIM_TYPE;
    bool found = false;
    for (uint32_t i = (uint32_t)v + 1; i < t->end; i = p->toks[i].end) {
        if (p->toks[i].type != GH_JSON_STRING)
            return GH_AUTH_R_CLAIM_TYPE;
        found = found || aud_accepted(p, i, rl);
    }
    return found ? GH_AUTH_R_OK : GH_AUTH_R_AUDIENCE;
}

/* RFC 6749 §3.3 scope-token characters. */
static bool scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

static enum gh_auth_reason split_scope(struct gh_arena *a, struct gh_slice s,
                                       struct gh_slice **list, uint32_t *count)
{
    uint32_t n = 0;
    struct gh_slice *v = gh_arena_alloc(a, sizeof(*v) * (s.len / 2 + 1));
    for (size_t i = 0; i < s.len;) {
        size_t j = i;
        while (j < s.len && s.ptr[j] != ' ') {
            if (!scope_char((unsigned char)s.ptr[j]))
                return GH_AUTH_R_CLAIM_TYPE;
            j++;
        }
        if (j > i) {
            if (n == GH_AUTH_LIST_MAX)
                return GH_AUTH_R_CLAIM_TYPE;
            v[n++] = gh_slice(s.ptr + i, j - i);
        }
        i = j + 1;
    }
    *list = v;
    *count = n;
    return GH_AUTH_R_OK;
}

/* A member that is a string or an array of strings, as a list (a string is one element). */
static enum gh_auth_reason str_list(const struct gh_json_doc *p, int32_t v, struct gh_arena *a,
                                    struct gh_slice **list, uint32_t *count)
{
    const struct gh_json_tok *t = gh_json_tok(p, (uint32_t)v);
    uint32_t n = t->type == GH_JSON_ARRAY ? t->size : 1;
    if (t->type != GH_JSON_ARRAY && t->type != GH_JSON_STRING)
        return GH_AUTH_R_CLAIM_TYPE;
    if (n > GH_AUTH_LIST_MAX)
        return GH_AUTH_R_CLAIM_TYPE;
    struct gh_slice *out = gh_arena_alloc(a, sizeof(*out) * (n ? n : 1));
    uint32_t k = t->type == GH_JSON_ARRAY ? (uint32_t)v + 1 : (uint32_t)v;
    for (uint32_t i = 0; i < n; i++, k = p->toks[k].end)
        if (gh_json_str(p, a, k, &out[i]) != GH_OK)
            return GH_AUTH_R_CLAIM_TYPE;
    *list = out;
    *count = n;
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason scopes(const struct gh_json_doc *p, struct gh_arena *a,
                                  struct gh_auth_claims *out)
{
    int32_t v = gh_json_obj_get(p, 0, "scope", 5);
    struct gh_slice s;
    if (v >= 0) {
        if (gh_json_str(p, a, (uint32_t)v, &s) != GH_OK)
            return GH_AUTH_R_CLAIM_TYPE;
        return split_scope(a, s, &out->scopes, &out->nscopes);
    }
    v = gh_json_obj_get(p, 0, "scp", 3); /* Okta and Entra spell it scp, as an array */
    if (v < 0)
        return GH_AUTH_R_OK;
    if (gh_json_tok(p, (uint32_t)v)->type == GH_JSON_STRING) {
        gh_json_str(p, a, (uint32_t)v, &s);
        return split_scope(a, s, &out->scopes, &out->nscopes);
    }
    return str_list(p, v, a, &out->scopes, &out->nscopes);
}

/* act (RFC 8693 §4.1): nested objects, each with a sub; the outermost is the current actor. */
static enum gh_auth_reason actors(const struct gh_json_doc *p, struct gh_arena *a,
                                  struct gh_auth_claims *out)
{
    int32_t v = gh_json_obj_get(p, 0, "act", 3);
    if (v < 0)
        return GH_AUTH_R_OK;
    out->act = gh_arena_alloc(a, sizeof(*out->act) * GH_AUTH_ACT_MAX);
    while (v >= 0) {
        if (out->nact == GH_AUTH_ACT_MAX || gh_json_tok(p, (uint32_t)v)->type != GH_JSON_OBJECT)
            return GH_AUTH_R_CLAIM_TYPE;
        struct gh_slice sub;
        if (gh_auth__opt_str(p, (uint32_t)v, "sub", a, &sub) != GH_OK || !sub.ptr)
            return GH_AUTH_R_CLAIM_TYPE;
        out->act[out->nact++] = sub;
        v = gh_json_obj_get(p, (uint32_t)v, "act", 3);
    }
    return GH_AUTH_R_OK;
}

static enum gh_auth_reason identity(const struct gh_json_doc *p, struct gh_arena *a,
                                    const struct gh_auth_jwt_rules *rl, struct gh_auth_claims *out)
{
    struct gh_slice azp;
    const char *cid = rl->client_id_claim ? rl->client_id_claim : "client_id";
    if (gh_auth__opt_str(p, 0, "sub", a, &out->sub) != GH_OK ||
        gh_auth__opt_str(p, 0, cid, a, &out->client_id) != GH_OK ||
        gh_auth__opt_str(p, 0, "azp", a, &azp) != GH_OK ||
        gh_auth__opt_str(p, 0, "jti", a, &out->jti) != GH_OK)
        return GH_AUTH_R_CLAIM_TYPE;
    if (!out->client_id.ptr)
        out->client_id = azp;
    int32_t cnf = gh_json_obj_get(p, 0, "cnf", 3);
    if (cnf >= 0) {
        if (gh_json_tok(p, (uint32_t)cnf)->type != GH_JSON_OBJECT ||
            gh_auth__opt_str(p, (uint32_t)cnf, "jkt", a, &out->cnf_jkt) != GH_OK)
            return GH_AUTH_R_CLAIM_TYPE;
    }
    enum gh_auth_reason r = scopes(p, a, out);
    if (r == GH_AUTH_R_OK)
        r = actors(p, a, out);
    if (r == GH_AUTH_R_OK && rl->groups_claim.len) {
        int32_t g = gh_json_obj_get(p, 0, rl->groups_claim.ptr, rl->groups_claim.len);
        if (g >= 0)
            r = str_list(p, g, a, &out->groups, &out->ngroups);
    }
    if (r == GH_AUTH_R_OK && rl->roles_claim.len) {
        int32_t g = gh_json_obj_get(p, 0, rl->roles_claim.ptr, rl->roles_claim.len);
        if (g >= 0)
            r = str_list(p, g, a, &out->roles, &out->nroles);
    }
    return r;
}

static enum gh_auth_reason check_typ(const struct gh_json_doc *h, struct gh_arena *a,
                                     const struct gh_auth_jwt_rules *rl)
{
    struct gh_slice typ;
    if (rl->typ.len == 0)
        return GH_AUTH_R_OK;
    if (!h || gh_auth__opt_str(h, 0, "typ", a, &typ) != GH_OK || !typ.ptr)
        return GH_AUTH_R_TYP;
    return gh_auth__typ_eq(typ, rl->typ) ? GH_AUTH_R_OK : GH_AUTH_R_TYP;
}

enum gh_verdict gh_auth_jwt_check(struct gh_arena *a, const struct gh_json_doc *header,
                                  const struct gh_json_doc *payload,
                                  const struct gh_auth_jwt_rules *rules, int64_t now,
                                  struct gh_auth_claims *out)
{
    memset(out, 0, sizeof(*out));
    enum gh_auth_reason r = GH_AUTH_R_PAYLOAD_PARSE;
    if (payload && payload->ntoks && payload->toks[0].type == GH_JSON_OBJECT)
        r = check_typ(header, a, rules);
    if (r == GH_AUTH_R_OK)
        r = issuer(payload, a, rules, out);
    if (r == GH_AUTH_R_OK)
        r = audience(payload, rules);
    if (r == GH_AUTH_R_OK)
        r = times(payload, rules, now, out);
    if (r == GH_AUTH_R_OK)
        r = identity(payload, a, rules, out);
    out->reason = r;
    if (r == GH_AUTH_R_OK)
        out->payload = gh_slice(payload->src, payload->len);
    return r == GH_AUTH_R_OK ? GH_ALLOW : GH_DENY;
}
