/*
 * auth/discovery.c owns where an issuer's metadata is looked for and what of it is believed.
 * RFC 8414 §3.1 inserts the well-known segment between the host and the issuer's path
 * (https://host/.well-known/oauth-authorization-server/tenant); OpenID Connect Discovery 1.0 §4
 * appends it to the path (https://host/tenant/.well-known/openid-configuration). A document is
 * used only when its `issuer` is byte for byte the configured issuer (RFC 8414 §3.3): another
 * issuer's document (mix-up, a hijacked path) would hand us its keys.
 */
#include "core/core.h"
#include "auth/auth.h"
#include "json/json.h"

#include <stdio.h>

#define RFC8414_SUFFIX "/.well-known/oauth-authorization-server"
#define OIDC_SUFFIX    "/.well-known/openid-configuration"
#define URI_MAX        2048

/* Splits issuer into origin (scheme://authority) and path (without a trailing '/'). */
static bool split_issuer(const char *issuer, size_t *origin_len, const char **path,
                         size_t *path_len)
{
    const char *scheme = strstr(issuer, "://");
    if (!scheme)
        return false;
    const char *p = strchr(scheme + 3, '/');
    size_t n = strlen(issuer);
    *origin_len = p ? (size_t)(p - issuer) : n;
    *path = p ? p : issuer + n;
    *path_len = p ? n - *origin_len : 0;
    while (*path_len && (*path)[*path_len - 1] == '/')
        (*path_len)--;
    return true;
}

bool gh_auth_discovery_url(const struct gh_config_auth_issuer *conf, unsigned attempt, char *out,
                           size_t outlen)
{
    if (conf->discovery_url) /* the operator named the document: only that one */
        return attempt == 0 && (size_t)snprintf(out, outlen, "%s", conf->discovery_url) < outlen;
    size_t olen, plen;
    const char *path;
    if (!split_issuer(conf->issuer, &olen, &path, &plen))
        return false;
    int n;
    if (attempt == 0)
        n = snprintf(out, outlen, "%.*s" RFC8414_SUFFIX "%.*s", (int)olen, conf->issuer, (int)plen,
                     path);
    else if (attempt == 1)
        n = snprintf(out, outlen, "%.*s%.*s" OIDC_SUFFIX, (int)olen, conf->issuer, (int)plen, path);
    else
        return false;
    return n > 0 && (size_t)n < outlen;
}

/* A string member under URI_MAX bytes, copied; NULL when absent or not a string. */
static char *str_member(const struct gh_json_doc *d, struct gh_arena *a, const char *name)
{
    struct gh_slice s;
    int32_t t = gh_json_obj_get(d, 0, name, strlen(name));
    if (t < 0 || d->toks[t].type != GH_JSON_STRING || gh_json_str(d, a, (uint32_t)t, &s) != GH_OK ||
        s.len >= URI_MAX || memchr(s.ptr, '\0', s.len))
        return NULL;
    return gh_xstrndup(s.ptr, s.len);
}

enum gh_verdict gh_auth_discovery_read(const char *issuer, const char *body, size_t len,
                                       struct gh_auth_discovery *out, const char **why)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    enum gh_verdict v = GH_DENY;
    char *iss = NULL;
    memset(out, 0, sizeof(*out));
    *why = "metadata is not a JSON object";
    if (gh_json_parse(a, body ? body : "", len, NULL, &d, &e) != GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    iss = str_member(&d, a, "issuer");
    if (!iss || strcmp(iss, issuer) != 0) {
        *why = iss ? "metadata names another issuer" : "metadata has no issuer";
        goto out;
    }
    out->jwks_uri = str_member(&d, a, "jwks_uri");
    out->introspection_endpoint = str_member(&d, a, "introspection_endpoint");
    *why = NULL;
    v = GH_ALLOW;
out:
    free(iss);
    gh_arena_free(a);
    return v;
}

void gh_auth_discovery_release(struct gh_auth_discovery *d)
{
    free(d->jwks_uri);
    free(d->introspection_endpoint);
    memset(d, 0, sizeof(*d));
}
