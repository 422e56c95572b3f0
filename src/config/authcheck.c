/*
 * config/authcheck.c owns the validation of the auth: section: the canonical form of the resource
 * URI, the URL rules of issuers and of what the gateway fetches on their behalf (https, loopback
 * only for a loopback issuer, private addresses only when allowed), algorithm sets, audiences,
 * claim names, introspection credentials (references that resolve now), scope tokens, method
 * names, upstream names, ranges of code-built values, and the choice between auth and
 * gateway.insecure_no_auth. Messages never repeat a configured value.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#define PRIVATE_NET_WHY "a private or link-local address needs allow_private_network: true"
#define REF_ONLY_WHY                                                                               \
    "private_key must be a reference: give it as env:VARIABLE (from the gateway's environment) "   \
    "or file:/absolute/path, never inline"

/* ---- hosts ---- */

static bool v4_loopback(const unsigned char *a)
{
    return a[0] == 127;
}

/* RFC 1918, link-local, CGNAT shared space and "this network": never what a public IdP uses. */
static bool v4_private(const unsigned char *a)
{
    return a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64);
}

/* Classifies a parsed URL's host literal. A DNS name is only "localhost" here; what other names
 * resolve to is checked when the gateway connects. */
static void host_kind(const struct gh_config_url *u, bool *loopback, bool *private_net)
{
    unsigned char a[16];
    *loopback = *private_net = false;
    if (u->family == GH_CONFIG_FAMILY_NAME) {
        *loopback = strcmp(u->host, "localhost") == 0;
    } else if (u->family == GH_CONFIG_FAMILY_IPV4 && inet_pton(AF_INET, u->host, a) == 1) {
        *loopback = v4_loopback(a);
        *private_net = v4_private(a);
    } else if (u->family == GH_CONFIG_FAMILY_IPV6 && inet_pton(AF_INET6, u->host, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char one[16] = {[15] = 1}, any[16] = {0};
        if (memcmp(a, mapped, 12) == 0) {
            *loopback = v4_loopback(a + 12);
            *private_net = v4_private(a + 12);
            return;
        }
        *loopback = memcmp(a, one, 16) == 0;
        *private_net = (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
                       memcmp(a, any, 16) == 0;
    }
}

/* Parses s and classifies its host; *why names the problem of a malformed URL. */
static bool url_kind(const char *s, bool *tls, bool *loopback, bool *private_net, const char **why)
{
    struct gh_config_url u;
    if (gh_config_url_parse(s, &u, why) != GH_OK)
        return false;
    *tls = u.tls;
    host_kind(&u, loopback, private_net);
    gh_config_url_release(&u);
    return true;
}

/* ---- the resource URI ---- */

/* The authority of an absolute URL s: from after "://" up to the first '/' or '?'. */
static const char *authority(const char *s, size_t *n)
{
    const char *a = strstr(s, "://") + 3;
    *n = strcspn(a, "/?");
    return a;
}

static const char *resource_canonical(const char *s)
{
    size_t an, at;
    const char *a = authority(s, &an), *colon = NULL;
    for (const char *p = s; p < a + an; p++) {
        if (*p >= 'A' && *p <= 'Z')
            return "scheme and host must be lower case (the resource is compared exactly)";
    }
    for (at = 0; at < an; at++) {
        if (a[at] == ':')
            colon = a + at;
        else if (a[at] == ']')
            colon = NULL; /* colons inside [IPv6] are not a port */
    }
    if (colon) {
        size_t pn = an - (size_t)(colon - a) - 1; /* port digits */
        bool https = s[4] == 's';                 /* the scheme is known lower case here */
        if ((https && pn == 3 && strncmp(colon + 1, "443", 3) == 0) ||
            (!https && pn == 2 && strncmp(colon + 1, "80", 2) == 0))
            return "leave out the default port (the resource is compared exactly)";
    }
    return a[an] ? gh_config__check_gw_path(a + an) : NULL;
}

/* RFC 8707 canonical form, so that resource + path is exactly what clients ask tokens for. */
static const char *check_resource(const char *s)
{
    bool tls, loopback, private_net;
    const char *why = NULL;
    if (!url_kind(s, &tls, &loopback, &private_net, &why))
        return why;
    if (strchr(s, '?'))
        return "resource must not have a query (RFC 8707)";
    if (!tls && !loopback)
        return "http is allowed only on a loopback host (127.0.0.0/8, [::1], localhost): use "
               "https";
    if (s[strlen(s) - 1] == '/')
        return "resource must not end with a slash (canonical form: https://gw.example.com)";
    return resource_canonical(s);
}

/* ---- value formats ---- */

static bool all_in(const char *s, size_t min, size_t max, bool (*ok)(unsigned char))
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!ok((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool scope_char(unsigned char ch)
{
    return ch == 0x21 || (ch >= 0x23 && ch <= 0x5b) || (ch >= 0x5d && ch <= 0x7e);
}

static bool method_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("/_.-", ch));
}

static bool visible_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

static bool vschar(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f;
}

static bool typ_char(unsigned char ch)
{
    return method_char(ch) || (ch && strchr("!#$&^+", ch));
}

const char *gh_config__check_scope(const char *s)
{
    if (all_in(s, 1, 128, scope_char))
        return NULL;
    return "a scope is 1-128 printable ASCII characters without space, \" or \\ (RFC 6749)";
}

const char *gh_config__check_method(const char *s)
{
    if (all_in(s, 1, 64, method_char))
        return NULL;
    return "a method name is 1-64 characters of A-Z a-z 0-9 / _ . -";
}

static const char *check_audience(const char *s)
{
    size_t n = 0;
    if (all_in(s, 3, 2048, visible_char)) {
        while (s[n] && (method_char((unsigned char)s[n]) || s[n] == '+') && s[n] != '/')
            n++;
        if (n > 0 && s[n] == ':' && s[n + 1] && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
            return NULL;
    }
    return "an audience is an absolute URI (scheme:...) of printable ASCII without spaces, at "
           "most 2048 bytes";
}

/* ---- issuers ---- */

/* discovery_url, jwks_uri, introspection.endpoint: where the gateway itself connects. */
static enum gh_rc check_fetch_url(const struct gh_config *c, struct gh_config_error *err,
                                  const char *path, const char *s, bool issuer_loopback,
                                  bool allow_private)
{
    bool tls, loopback, private_net;
    const char *why = NULL;
    if (!url_kind(s, &tls, &loopback, &private_net, &why))
        return gh_config__fail(c, err, path, "%s", why);
    if (!tls && !loopback)
        return gh_config__fail(c, err, path, "must use https (http only on a loopback host)");
    if (loopback && !issuer_loopback)
        return gh_config__fail(c, err, path,
                               "a loopback address is allowed only when the issuer itself is on "
                               "loopback");
    if (private_net && !allow_private)
        return gh_config__fail(c, err, path, PRIVATE_NET_WHY);
    return GH_OK;
}

static enum gh_rc check_issuer_uri(const struct gh_config *c, struct gh_config_error *err, size_t i,
                                   bool *loopback)
{
    const struct gh_config_auth_issuer *is = &c->auth->issuers[i];
    bool tls, private_net;
    const char *why = "required key is missing";
    char path[96];
    snprintf(path, sizeof(path), "auth.issuers[%zu].issuer", i);
    if (!is->issuer || !url_kind(is->issuer, &tls, loopback, &private_net, &why))
        return gh_config__fail(c, err, path, "%s", why);
    if (strchr(is->issuer, '?'))
        return gh_config__fail(c, err, path, "an issuer has no query (RFC 8414)");
    if (!tls && !*loopback)
        return gh_config__fail(c, err, path,
                               "an issuer must use https (http only on a loopback host)");
    if (private_net && !is->allow_private_network)
        return gh_config__fail(c, err, path, PRIVATE_NET_WHY);
    for (size_t j = 0; j < i; j++) {
        if (c->auth->issuers[j].issuer && strcmp(c->auth->issuers[j].issuer, is->issuer) == 0)
            return gh_config__fail(c, err, path, "duplicate issuer (also auth.issuers[%zu])", j);
    }
    return GH_OK;
}

static enum gh_rc check_range(const struct gh_config *c, struct gh_config_error *err,
                              const char *path, uint64_t v, uint64_t min, uint64_t max)
{
    if (v >= min && v <= max)
        return GH_OK;
    return gh_config__fail(c, err, path, "must be between %" PRIu64 " and %" PRIu64, min, max);
}

/* The client-assertion key: only a reference, and one that resolves now. */
static enum gh_rc check_intro_key(const struct gh_config *c, struct gh_config_error *err,
                                  const char *path, const struct gh_config_ref *k)
{
    if (!k->target || k->kind == GH_CONFIG_ENV_LITERAL)
        return gh_config__fail(c, err, path, REF_ONLY_WHY);
    if (k->kind == GH_CONFIG_ENV_FROM_FILE && k->target[0] != '/')
        return gh_config__fail(c, err, path,
                               "file: needs an absolute path (file:/run/secrets/name)");
    return gh_config__check_ref(c, err, path, k->kind, k->target, true);
}

static enum gh_rc check_introspection(const struct gh_config *c, struct gh_config_error *err,
                                      size_t i, bool issuer_loopback)
{
    const struct gh_config_auth_issuer *is = &c->auth->issuers[i];
    const struct gh_config_auth_introspection *in = is->introspection;
    char path[128];
    enum gh_rc rc = GH_OK;
    if (in->endpoint) {
        snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.endpoint", i);
        rc =
            check_fetch_url(c, err, path, in->endpoint, issuer_loopback, is->allow_private_network);
    }
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.client_id", i);
    if (!rc && (!in->client_id || !all_in(in->client_id, 1, 256, vschar)))
        rc = gh_config__fail(c, err, path, "client_id must be 1-256 printable ASCII characters");
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.private_key", i);
    if (!rc)
        rc = check_intro_key(c, err, path, &in->private_key);
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.key_alg", i);
    if (!rc && in->key_alg != GH_ALG_RS256 && in->key_alg != GH_ALG_ES256)
        rc = gh_config__fail(c, err, path, "expected RS256 or ES256");
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.ttl_ms", i);
    if (!rc)
        rc = check_range(c, err, path, in->ttl_ms, 1, CFG_INTRO_TTL_MAX);
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.negative_ttl_ms", i);
    if (!rc)
        rc = check_range(c, err, path, in->negative_ttl_ms, 0, CFG_INTRO_NEG_TTL_MAX);
    snprintf(path, sizeof(path), "auth.issuers[%zu].introspection.timeout_ms", i);
    if (!rc)
        rc = check_range(c, err, path, in->timeout_ms, 1, CFG_INTRO_TIMEOUT_MAX);
    return rc;
}

static enum gh_rc check_algs(const struct gh_config *c, struct gh_config_error *err,
                             const char *path, unsigned mask)
{
    if (mask == 0)
        return gh_config__fail(c, err, path, "at least one algorithm is required");
    if (mask & ~(unsigned)GH_CONFIG_ALG_ALL)
        return gh_config__fail(c, err, path,
                               "unknown algorithm (expected RS256, PS256, ES256, ES384 or EdDSA)");
    return GH_OK;
}

static enum gh_rc check_audiences(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_auth_issuer *is = &c->auth->issuers[i];
    char path[96];
    if (is->n_audiences > GH_CONFIG_MAX_AUDIENCES)
        return gh_config__fail(c, err, "auth.issuers", "too many audiences (max %d)",
                               GH_CONFIG_MAX_AUDIENCES);
    for (size_t k = 0; k < is->n_audiences; k++) {
        snprintf(path, sizeof(path), "auth.issuers[%zu].audiences[%zu]", i, k);
        const char *why = is->audiences[k] ? check_audience(is->audiences[k]) : "expected a string";
        if (why)
            return gh_config__fail(c, err, path, "%s", why);
        for (size_t j = 0; j < k; j++) {
            if (strcmp(is->audiences[j], is->audiences[k]) == 0)
                return gh_config__fail(c, err, path,
                                       "duplicate audience (also auth.issuers[%zu].audiences[%zu])",
                                       i, j);
        }
    }
    return GH_OK;
}

static enum gh_rc check_claims(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_auth_claims *cl = &c->auth->issuers[i].claims;
    const char *const names[] = {cl->groups, cl->roles, cl->client_id};
    const char *const keys[] = {"groups", "roles", "client_id"};
    char path[96];
    for (size_t k = 0; k < GH_ARRAY_LEN(names); k++) {
        if (names[k] && all_in(names[k], 1, 256, visible_char))
            continue;
        snprintf(path, sizeof(path), "auth.issuers[%zu].claims.%s", i, keys[k]);
        return gh_config__fail(c, err, path,
                               "a claim name is 1-256 printable ASCII characters without spaces");
    }
    return GH_OK;
}

static enum gh_rc check_issuer_fields(const struct gh_config *c, struct gh_config_error *err,
                                      size_t i)
{
    const struct gh_config_auth_issuer *is = &c->auth->issuers[i];
    char path[96];
    enum gh_rc rc;
    snprintf(path, sizeof(path), "auth.issuers[%zu].algorithms", i);
    rc = check_algs(c, err, path, is->algorithms);
    if (!rc)
        rc = check_audiences(c, err, i);
    snprintf(path, sizeof(path), "auth.issuers[%zu].token_type", i);
    if (!rc && is->token_type && !all_in(is->token_type, 1, 127, typ_char))
        rc = gh_config__fail(c, err, path,
                             "token_type is a media type such as at+jwt (1-127 characters of "
                             "A-Z a-z 0-9 ! # $ & ^ _ . + - /)");
    snprintf(path, sizeof(path), "auth.issuers[%zu].clock_skew_ms", i);
    if (!rc)
        rc = check_range(c, err, path, is->clock_skew_ms, 0, CFG_CLOCK_SKEW_MAX);
    if (!rc)
        rc = check_claims(c, err, i);
    snprintf(path, sizeof(path), "auth.issuers[%zu].dpop", i);
    if (!rc && is->dpop != GH_CONFIG_DPOP_OFF && is->dpop != GH_CONFIG_DPOP_ALLOWED &&
        is->dpop != GH_CONFIG_DPOP_REQUIRED)
        rc = gh_config__fail(c, err, path, "expected off, allowed or required");
    return rc;
}

static enum gh_rc check_issuer(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_auth_issuer *is = &c->auth->issuers[i];
    bool loopback = false;
    char path[96];
    enum gh_rc rc = check_issuer_uri(c, err, i, &loopback);
    if (!rc && is->discovery_url) {
        snprintf(path, sizeof(path), "auth.issuers[%zu].discovery_url", i);
        rc = check_fetch_url(c, err, path, is->discovery_url, loopback, is->allow_private_network);
    }
    if (!rc && is->jwks_uri) {
        snprintf(path, sizeof(path), "auth.issuers[%zu].jwks_uri", i);
        rc = check_fetch_url(c, err, path, is->jwks_uri, loopback, is->allow_private_network);
    }
    if (!rc)
        rc = check_issuer_fields(c, err, i);
    if (!rc && is->introspection)
        rc = check_introspection(c, err, i, loopback);
    return rc;
}

/* ---- scopes ---- */

static enum gh_rc check_scope_list(const struct gh_config *c, struct gh_config_error *err,
                                   const char *path, char *const *v, size_t n, bool empty_ok)
{
    char p[256];
    if (n == 0 && !empty_ok)
        return gh_config__fail(c, err, path, "at least one scope is required");
    if (n > GH_CONFIG_MAX_SCOPES)
        return gh_config__fail(c, err, path, "too many scopes (max %d)", GH_CONFIG_MAX_SCOPES);
    for (size_t k = 0; k < n; k++) {
        const char *why = v[k] ? gh_config__check_scope(v[k]) : "expected a string";
        snprintf(p, sizeof(p), "%s[%zu]", path, k);
        if (why)
            return gh_config__fail(c, err, p, "%s", why);
        for (size_t j = 0; j < k; j++) {
            if (strcmp(v[j], v[k]) == 0)
                return gh_config__fail(c, err, p, "duplicate scope (also %s[%zu])", path, j);
        }
    }
    return GH_OK;
}

static bool upstream_defined(const struct gh_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_upstreams; i++) {
        if (c->upstreams[i].name && strcmp(c->upstreams[i].name, name) == 0)
            return true;
    }
    return false;
}

/* One rule list (scopes.methods or scopes.upstreams); upstreams also need a defined name. */
static enum gh_rc check_rules(const struct gh_config *c, struct gh_config_error *err,
                              const char *key, const struct gh_config_auth_scope_rule *r, size_t n,
                              bool upstreams)
{
    char path[160];
    enum gh_rc rc = GH_OK;
    if (n > GH_CONFIG_MAX_SCOPE_RULES)
        return gh_config__fail(c, err, key, "too many entries (max %d)", GH_CONFIG_MAX_SCOPE_RULES);
    for (size_t i = 0; !rc && i < n; i++) {
        const char *why = !r[i].name  ? "entry needs a name"
                          : upstreams ? gh_config__check_name(r[i].name)
                                      : gh_config__check_method(r[i].name);
        if (why)
            return gh_config__fail(c, err, key, "%s", why); /* never print a malformed name */
        snprintf(path, sizeof(path), "%s.%s", key, r[i].name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r[j].name, r[i].name) == 0)
                return gh_config__fail(c, err, path, "duplicate entry");
        }
        if (upstreams && !upstream_defined(c, r[i].name))
            return gh_config__fail(c, err, path,
                                   "no upstream of this name is defined under upstreams");
        rc = check_scope_list(c, err, path, r[i].scopes, r[i].n_scopes, false);
    }
    return rc;
}

static enum gh_rc check_scopes(const struct gh_config *c, struct gh_config_error *err)
{
    const struct gh_config_auth_scopes *s = &c->auth->scopes;
    enum gh_rc rc =
        check_scope_list(c, err, "auth.scopes.required", s->required, s->n_required, true);
    if (!rc)
        rc = check_rules(c, err, "auth.scopes.methods", s->methods, s->n_methods, false);
    if (!rc)
        rc = check_rules(c, err, "auth.scopes.upstreams", s->upstreams, s->n_upstreams, true);
    return rc;
}

/* ---- the section ---- */

static enum gh_rc check_top(const struct gh_config *c, struct gh_config_error *err)
{
    const struct gh_config_auth *a = c->auth;
    const char *why;
    enum gh_rc rc;
    if (c->gateway.insecure_no_auth)
        return gh_config__fail(c, err, "gateway.insecure_no_auth",
                               "cannot be true when auth is configured (choose one: remove "
                               "insecure_no_auth or the auth section)");
    why = a->resource ? check_resource(a->resource) : "required key is missing";
    if (why)
        return gh_config__fail(c, err, "auth.resource", "%s", why);
    if (a->n_issuers == 0 || !a->issuers)
        return gh_config__fail(c, err, "auth.issuers", "at least one issuer is required");
    if (a->n_issuers > GH_CONFIG_MAX_ISSUERS)
        return gh_config__fail(c, err, "auth.issuers", "too many issuers (max %d)",
                               GH_CONFIG_MAX_ISSUERS);
    rc = check_algs(c, err, "auth.dpop.algorithms", a->dpop.algorithms);
    if (!rc)
        rc = check_range(c, err, "auth.dpop.iat_window_ms", a->dpop.iat_window_ms,
                         CFG_IAT_WINDOW_MIN, CFG_IAT_WINDOW_MAX);
    if (!rc)
        rc = check_range(c, err, "auth.jwks_min_refresh_ms", a->jwks_min_refresh_ms,
                         CFG_JWKS_MIN_REFRESH_MIN, CFG_JWKS_MIN_REFRESH_MAX);
    return rc;
}

enum gh_rc gh_config__auth_validate(const struct gh_config *c, struct gh_config_error *err)
{
    enum gh_rc rc;
    if (!c->auth)
        return GH_OK;
    rc = check_top(c, err);
    for (size_t i = 0; !rc && i < c->auth->n_issuers; i++)
        rc = check_issuer(c, err, i);
    if (!rc)
        rc = check_scopes(c, err);
    return rc;
}
