/*
 * config/auth.c owns the auth: section's life: its schema walk (types, enumerations, algorithm
 * names, secret references, required keys), its defaults, JWS algorithm names and freeing.
 * Formats of single values (URIs, scope tokens, method names), ranges of code-built values and
 * checks that span sections or touch the file system are gh_config__auth_validate()'s
 * (authcheck.c), which points at the same positions through c->marks.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <strings.h>

static const struct {
    const char *name;
    enum gh_config_alg alg;
} ALGS[] = {
    {"RS256", GH_ALG_RS256}, {"PS256", GH_ALG_PS256}, {"ES256", GH_ALG_ES256},
    {"ES384", GH_ALG_ES384}, {"EdDSA", GH_ALG_EDDSA},
};

enum gh_rc gh_config_alg_parse(const char *name, enum gh_config_alg *out)
{
    for (size_t i = 0; name && i < GH_ARRAY_LEN(ALGS); i++) {
        if (strcmp(name, ALGS[i].name) == 0) {
            *out = ALGS[i].alg;
            return GH_OK;
        }
    }
    return GH_E_PARSE;
}

const char *gh_config_alg_name(enum gh_config_alg alg)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(ALGS); i++) {
        if (ALGS[i].alg == alg)
            return ALGS[i].name;
    }
    return NULL;
}

/* ---- lifetime ---- */

struct gh_config_auth *gh_config_auth_new(void)
{
    struct gh_config_auth *a = gh_xcalloc(1, sizeof(*a));
    a->dpop.algorithms = GH_CONFIG_ALG_ALL;
    a->dpop.iat_window_ms = GH_CONFIG_DEFAULT_IAT_WINDOW_MS;
    a->jwks_min_refresh_ms = GH_CONFIG_DEFAULT_JWKS_MIN_REFRESH;
    return a;
}

static void free_strv(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        gh_free(&(*v)[i]);
    gh_free(v);
    *n = 0;
}

static void free_rules(struct gh_config_auth_scope_rule **r, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        gh_free(&(*r)[i].name);
        free_strv(&(*r)[i].scopes, &(*r)[i].n_scopes);
    }
    gh_free(r);
    *n = 0;
}

static void issuer_release(struct gh_config_auth_issuer *is)
{
    gh_free(&is->issuer);
    gh_free(&is->discovery_url);
    gh_free(&is->jwks_uri);
    free_strv(&is->audiences, &is->n_audiences);
    free_strv(&is->max_scopes, &is->n_max_scopes);
    gh_free(&is->token_type);
    gh_free(&is->claims.groups);
    gh_free(&is->claims.roles);
    gh_free(&is->claims.client_id);
    if (is->introspection) {
        gh_free(&is->introspection->endpoint);
        gh_free(&is->introspection->client_id);
        gh_free(&is->introspection->private_key.target);
        gh_free(&is->introspection);
    }
}

void gh_config_auth_free(struct gh_config_auth *a)
{
    if (!a)
        return;
    gh_free(&a->resource);
    for (size_t i = 0; i < a->n_issuers; i++)
        issuer_release(&a->issuers[i]);
    gh_free(&a->issuers);
    free_strv(&a->scopes.required, &a->scopes.n_required);
    free_rules(&a->scopes.methods, &a->scopes.n_methods);
    free_rules(&a->scopes.upstreams, &a->scopes.n_upstreams);
    free(a);
}

/* ---- values ---- */

static enum gh_rc dup_string(struct cfg_state *st, const struct gh_config_node *v, char **out)
{
    const char *s;
    enum gh_rc rc = gh_config__get_string(st, v, &s);
    if (rc)
        return rc;
    gh_free(out);
    *out = gh_xstrdup(s);
    return GH_OK;
}

/* A list of strings; their format is checked by validation, at the same positions. */
static enum gh_rc str_list(struct cfg_state *st, const struct gh_config_node *v, size_t max,
                           const char *what, char ***out, size_t *n)
{
    enum gh_rc rc = gh_config__want_seq(st, v, max, what);
    if (rc)
        return rc;
    free_strv(out, n);
    *out = gh_xcalloc(v->n ? v->n : 1, sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const char *s;
        rc = gh_config__get_string(st, v->items[i], &s);
        if (rc)
            return rc;
        (*out)[(*n)++] = gh_xstrdup(s);
    }
    return GH_OK;
}

#define ALG_EXPECTED "expected RS256, PS256, ES256, ES384 or EdDSA"

/* Why an algorithm name is refused; the two dangerous families get their own reason. */
static const char *alg_refusal(const char *s)
{
    if (strcasecmp(s, "none") == 0)
        return "alg none is refused: an unsigned token proves nothing (" ALG_EXPECTED ")";
    if (strncasecmp(s, "HS", 2) == 0)
        return "HMAC algorithms (HS256, HS384, HS512) are refused: a shared secret lets every "
               "holder mint tokens (" ALG_EXPECTED ")";
    return "unknown algorithm (" ALG_EXPECTED "; names are case-sensitive)";
}

static enum gh_rc alg_list(struct cfg_state *st, const struct gh_config_node *v, unsigned *mask)
{
    enum gh_rc rc = gh_config__want_seq(st, v, 16, "algorithms");
    if (rc)
        return rc;
    if (v->n == 0)
        return gh_config__err_node(st, v, "at least one algorithm is required");
    *mask = 0;
    for (size_t i = 0; i < v->n; i++) {
        enum gh_config_alg alg;
        const char *s;
        rc = gh_config__get_string(st, v->items[i], &s);
        if (rc)
            return rc;
        if (gh_config_alg_parse(s, &alg) != GH_OK)
            return gh_config__err_node(st, v->items[i], "%s", alg_refusal(s));
        if (*mask & (unsigned)alg)
            return gh_config__err_node(st, v->items[i], "duplicate algorithm");
        *mask |= (unsigned)alg;
    }
    return GH_OK;
}

/* ---- auth.issuers[].introspection ---- */

static enum gh_rc in_endpoint(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_introspection *)obj)->endpoint);
}

static enum gh_rc in_client_id(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_introspection *)obj)->client_id);
}

/* Only a reference is accepted: a key written inline would sit in a file many can read. */
static enum gh_rc in_private_key(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_ref *r = &((struct gh_config_auth_introspection *)obj)->private_key;
    enum gh_config_env_kind kind;
    const char *s, *target, *why;
    enum gh_rc rc = gh_config__get_string(st, v, &s);
    if (rc)
        return rc;
    why = gh_config__ref_parse(s, &kind, &target);
    if (why)
        return gh_config__err_node(st, v, "%s", why);
    if (kind == GH_CONFIG_ENV_LITERAL)
        return gh_config__err_node(st, v,
                                   "private_key must be a reference: give it as env:VARIABLE "
                                   "(from the gateway's environment) or file:/absolute/path, "
                                   "never inline");
    gh_free(&r->target);
    r->kind = kind;
    r->target = gh_xstrdup(target);
    return GH_OK;
}

static enum gh_rc in_key_alg(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_introspection *in = obj;
    const char *s;
    enum gh_rc rc = gh_config__get_string(st, v, &s);
    if (rc)
        return rc;
    if (strcmp(s, "RS256") == 0)
        in->key_alg = GH_ALG_RS256;
    else if (strcmp(s, "ES256") == 0)
        in->key_alg = GH_ALG_ES256;
    else
        return gh_config__err_node(st, v, "expected RS256 or ES256");
    return GH_OK;
}

static enum gh_rc in_ttl(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 1, CFG_INTRO_TTL_MAX,
                               &((struct gh_config_auth_introspection *)obj)->ttl_ms);
}

static enum gh_rc in_neg_ttl(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 0, CFG_INTRO_NEG_TTL_MAX,
                               &((struct gh_config_auth_introspection *)obj)->negative_ttl_ms);
}

static enum gh_rc in_timeout(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 1, CFG_INTRO_TIMEOUT_MAX,
                               &((struct gh_config_auth_introspection *)obj)->timeout_ms);
}

static enum gh_rc is_introspection(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"endpoint", in_endpoint},  {"client_id", in_client_id}, {"private_key", in_private_key},
        {"key_alg", in_key_alg},    {"ttl_ms", in_ttl},          {"negative_ttl_ms", in_neg_ttl},
        {"timeout_ms", in_timeout},
    };
    struct gh_config_auth_issuer *is = obj;
    struct gh_config_auth_introspection *in = gh_xcalloc(1, sizeof(*in));
    enum gh_rc rc;
    in->key_alg = GH_ALG_RS256;
    in->ttl_ms = GH_CONFIG_DEFAULT_INTRO_TTL_MS;
    in->negative_ttl_ms = GH_CONFIG_DEFAULT_INTRO_NEG_TTL_MS;
    in->timeout_ms = GH_CONFIG_DEFAULT_INTRO_TIMEOUT_MS;
    is->introspection = in; /* owned by the issuer from here on, also on error */
    rc = gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys), in);
    if (rc)
        return rc;
    if (!in->client_id)
        return gh_config__missing(st, v, "client_id", "");
    if (!in->private_key.target)
        return gh_config__missing(st, v, "private_key", " (private_key_jwt needs a key)");
    return GH_OK;
}

/* ---- auth.issuers[] ---- */

static enum gh_rc is_issuer(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_issuer *)obj)->issuer);
}

static enum gh_rc is_discovery(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_issuer *)obj)->discovery_url);
}

static enum gh_rc is_jwks(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_issuer *)obj)->jwks_uri);
}

static enum gh_rc is_algs(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return alg_list(st, v, &((struct gh_config_auth_issuer *)obj)->algorithms);
}

static enum gh_rc is_audiences(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_issuer *is = obj;
    return str_list(st, v, GH_CONFIG_MAX_AUDIENCES, "audiences", &is->audiences, &is->n_audiences);
}

static enum gh_rc is_max_scopes(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_issuer *is = obj;
    return str_list(st, v, GH_CONFIG_MAX_SCOPES, "max_scopes", &is->max_scopes,
                    &is->n_max_scopes);
}

static enum gh_rc is_token_type(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_issuer *)obj)->token_type);
}

static enum gh_rc is_skew(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 0, CFG_CLOCK_SKEW_MAX,
                               &((struct gh_config_auth_issuer *)obj)->clock_skew_ms);
}

static enum gh_rc cl_groups(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_claims *)obj)->groups);
}

static enum gh_rc cl_roles(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_claims *)obj)->roles);
}

static enum gh_rc cl_client_id(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth_claims *)obj)->client_id);
}

static enum gh_rc is_claims(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"groups", cl_groups}, {"roles", cl_roles}, {"client_id", cl_client_id}};
    return gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys),
                               &((struct gh_config_auth_issuer *)obj)->claims);
}

static enum gh_rc is_dpop(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_issuer *is = obj;
    const char *s;
    enum gh_rc rc = gh_config__get_string(st, v, &s);
    if (rc)
        return rc;
    if (strcmp(s, "off") == 0)
        is->dpop = GH_CONFIG_DPOP_OFF;
    else if (strcmp(s, "allowed") == 0)
        is->dpop = GH_CONFIG_DPOP_ALLOWED;
    else if (strcmp(s, "required") == 0)
        is->dpop = GH_CONFIG_DPOP_REQUIRED;
    else
        return gh_config__err_node(st, v, "expected off, allowed or required");
    return GH_OK;
}

static enum gh_rc is_private_net(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_bool(st, v,
                               &((struct gh_config_auth_issuer *)obj)->allow_private_network);
}

static void issuer_defaults(struct gh_config_auth_issuer *is)
{
    is->clock_skew_ms = GH_CONFIG_DEFAULT_CLOCK_SKEW_MS;
    is->claims.groups = gh_xstrdup("groups");
    is->claims.roles = gh_xstrdup("roles");
    is->claims.client_id = gh_xstrdup("client_id");
    is->dpop = GH_CONFIG_DPOP_ALLOWED;
}

static enum gh_rc au_issuers(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"issuer", is_issuer},
        {"discovery_url", is_discovery},
        {"jwks_uri", is_jwks},
        {"algorithms", is_algs},
        {"audiences", is_audiences},
        {"max_scopes", is_max_scopes},
        {"token_type", is_token_type},
        {"clock_skew_ms", is_skew},
        {"claims", is_claims},
        {"introspection", is_introspection},
        {"dpop", is_dpop},
        {"allow_private_network", is_private_net},
    };
    struct gh_config_auth *a = obj;
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_ISSUERS, "issuers");
    if (rc)
        return rc;
    if (v->n == 0)
        return gh_config__err_node(st, v, "at least one issuer is required");
    a->issuers = gh_xcalloc(v->n, sizeof(*a->issuers));
    for (size_t i = 0; i < v->n; i++) {
        struct gh_config_auth_issuer *is = &a->issuers[a->n_issuers++];
        issuer_defaults(is);
        rc = gh_config__walk_map(st, v->items[i], keys, GH_ARRAY_LEN(keys), is);
        if (rc)
            return rc;
        if (!is->issuer)
            return gh_config__missing(st, v->items[i], "issuer", "");
        if (!is->algorithms)
            return gh_config__missing(st, v->items[i], "algorithms",
                                      " (pin the issuer's signing algorithms, e.g. [ES256])");
    }
    return GH_OK;
}

/* ---- auth.dpop ---- */

static enum gh_rc dp_algs(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return alg_list(st, v, &((struct gh_config_auth_dpop *)obj)->algorithms);
}

static enum gh_rc dp_iat(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, CFG_IAT_WINDOW_MIN, CFG_IAT_WINDOW_MAX,
                               &((struct gh_config_auth_dpop *)obj)->iat_window_ms);
}

static enum gh_rc dp_nonce(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_bool(st, v, &((struct gh_config_auth_dpop *)obj)->nonce);
}

static enum gh_rc au_dpop(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"algorithms", dp_algs}, {"iat_window_ms", dp_iat}, {"nonce", dp_nonce}};
    return gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys),
                               &((struct gh_config_auth *)obj)->dpop);
}

/* ---- auth.scopes ---- */

static enum gh_rc sc_required(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_scopes *s = obj;
    return str_list(st, v, GH_CONFIG_MAX_SCOPES, "scopes", &s->required, &s->n_required);
}

/* name -> [scopes]; a bad name is the key's fault, so the error points at the key. */
static enum gh_rc rule_map(struct cfg_state *st, const struct gh_config_node *v,
                           const char *(*check)(const char *),
                           struct gh_config_auth_scope_rule **out, size_t *n)
{
    enum gh_rc rc = gh_config__want_map(st, v);
    if (rc)
        return rc;
    if (v->n > GH_CONFIG_MAX_SCOPE_RULES)
        return gh_config__err_node(st, v, "too many entries (max %d)", GH_CONFIG_MAX_SCOPE_RULES);
    free_rules(out, n);
    *out = gh_xcalloc(v->n ? v->n : 1, sizeof(**out));
    for (size_t i = 0; i < v->n; i++) {
        const struct gh_config_node *e = v->items[i];
        struct gh_config_auth_scope_rule *r = &(*out)[(*n)++];
        const char *why = check(e->key);
        if (why)
            return gh_config__err_key(st, e, why);
        r->name = gh_xstrdup(e->key);
        rc = str_list(st, e, GH_CONFIG_MAX_SCOPES, "scopes", &r->scopes, &r->n_scopes);
        if (rc)
            return rc;
    }
    return GH_OK;
}

static enum gh_rc sc_methods(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_scopes *s = obj;
    return rule_map(st, v, gh_config__check_method, &s->methods, &s->n_methods);
}

/* Names only; whether each is defined under upstreams: is validation's (any section order). */
static enum gh_rc sc_upstreams(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_auth_scopes *s = obj;
    return rule_map(st, v, gh_config__check_name, &s->upstreams, &s->n_upstreams);
}

static enum gh_rc au_scopes(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"required", sc_required}, {"methods", sc_methods}, {"upstreams", sc_upstreams}};
    return gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys),
                               &((struct gh_config_auth *)obj)->scopes);
}

/* ---- auth ---- */

static enum gh_rc au_resource(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return dup_string(st, v, &((struct gh_config_auth *)obj)->resource);
}

static enum gh_rc au_jwks_refresh(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, CFG_JWKS_MIN_REFRESH_MIN, CFG_JWKS_MIN_REFRESH_MAX,
                               &((struct gh_config_auth *)obj)->jwks_min_refresh_ms);
}

enum gh_rc gh_config__auth_apply(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"resource", au_resource},
        {"issuers", au_issuers},
        {"dpop", au_dpop},
        {"scopes", au_scopes},
        {"jwks_min_refresh_ms", au_jwks_refresh},
    };
    struct gh_config *c = obj;
    enum gh_rc rc;
    gh_config_auth_free(c->auth);
    c->auth = gh_config_auth_new(); /* owned by c from here on, also on error */
    rc = gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys), c->auth);
    if (rc)
        return rc;
    if (!c->auth->resource)
        return gh_config__missing(st, v, "resource",
                                  " (the gateway's base URI as clients see it, e.g. "
                                  "https://gw.example.com)");
    if (!c->auth->n_issuers)
        return gh_config__missing(st, v, "issuers", " (at least one authorization server)");
    return GH_OK;
}
