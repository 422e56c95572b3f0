/*
 * admin/prm.c owns the OAuth 2.0 Protected Resource Metadata documents (RFC 9728) the gateway
 * publishes as an MCP resource server: the root one and one per served MCP path, each naming
 * the canonical resource URI, the authorization servers, the scopes and the DPoP algorithms.
 */
#include "core/core.h"
#include "admin/admin.h"
#include "json/json.h"

#include <stdio.h>

#define PRM_PREFIX "/.well-known/oauth-protected-resource"

static void add_str_array(struct gh_buf *b, const char *key, char *const *v, size_t n, bool *first)
{
    gh_buf_appendf(b, "%s\"%s\":[", *first ? "" : ",", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            gh_buf_append(b, ",", 1);
        gh_json_write_str(b, v[i], strlen(v[i]));
    }
    gh_buf_append(b, "]", 1);
    *first = false;
}

/* Every scope the gateway may ask for, once each, in the order the config names them. */
static size_t scopes_of(const struct gh_config_auth *a, char **out, size_t cap)
{
    size_t n = 0;
    const struct gh_config_auth_scopes *s = &a->scopes;
#define ADD(x)                                                                                     \
    do {                                                                                           \
        bool seen = false;                                                                         \
        for (size_t k = 0; k < n; k++)                                                             \
            seen |= strcmp(out[k], (x)) == 0;                                                      \
        if (!seen && n < cap)                                                                      \
            out[n++] = (x);                                                                        \
    } while (0)
    for (size_t i = 0; i < s->n_required; i++)
        ADD(s->required[i]);
    for (size_t i = 0; i < s->n_methods; i++)
        for (size_t j = 0; j < s->methods[i].n_scopes; j++)
            ADD(s->methods[i].scopes[j]);
    for (size_t i = 0; i < s->n_upstreams; i++)
        for (size_t j = 0; j < s->upstreams[i].n_scopes; j++)
            ADD(s->upstreams[i].scopes[j]);
#undef ADD
    return n;
}

static void add_dpop(struct gh_buf *b, const struct gh_config_auth *a)
{
    bool any = false, all_required = a->n_issuers > 0;
    for (size_t i = 0; i < a->n_issuers; i++) {
        any |= a->issuers[i].dpop != GH_CONFIG_DPOP_OFF;
        all_required &= a->issuers[i].dpop == GH_CONFIG_DPOP_REQUIRED;
    }
    if (!any)
        return;
    gh_buf_append(b, ",\"dpop_signing_alg_values_supported\":[", 38);
    bool first = true;
    for (unsigned bit = 1; bit <= GH_ALG_EDDSA; bit <<= 1) {
        if (a->dpop.algorithms & bit) {
            gh_buf_appendf(b, "%s\"%s\"", first ? "" : ",",
                           gh_config_alg_name((enum gh_config_alg)bit));
            first = false;
        }
    }
    gh_buf_appendf(b, "],\"dpop_bound_access_tokens_required\":%s",
                   all_required ? "true" : "false");
}

enum gh_rc gh_admin_prm_document(const struct gh_config_auth *a, struct gh_slice path,
                                 struct gh_buf *out)
{
    gh_buf_append(out, "{\"resource\":", 12);
    struct gh_buf res;
    gh_buf_init(&res, strlen(a->resource) + path.len + 1);
    gh_buf_puts(&res, a->resource);
    gh_buf_append(&res, path.ptr, path.len);
    gh_json_write_str(out, res.data, res.len);
    gh_buf_release(&res);
    char *servers[GH_CONFIG_MAX_ISSUERS];
    for (size_t i = 0; i < a->n_issuers && i < GH_ARRAY_LEN(servers); i++)
        servers[i] = a->issuers[i].issuer;
    bool first = false;
    add_str_array(out, "authorization_servers", servers, a->n_issuers, &first);
    char *scopes[256];
    size_t ns = scopes_of(a, scopes, GH_ARRAY_LEN(scopes));
    if (ns)
        add_str_array(out, "scopes_supported", scopes, ns, &first);
    gh_buf_puts(out, ",\"bearer_methods_supported\":[\"header\"],\"resource_name\":\"Gatehouse\"");
    add_dpop(out, a);
    return gh_buf_append(out, "}", 1);
}

bool gh_admin_prm_handle(const struct gh_admin_state *st, struct gh_http_req *r)
{
    const struct gh_http_request_head *h = gh_http_req_head(r);
    struct gh_slice p = h->path;
    size_t n = sizeof(PRM_PREFIX) - 1;
    if (!st->auth || p.len < n || memcmp(p.ptr, PRM_PREFIX, n) != 0 ||
        (p.len > n && p.ptr[n] != '/'))
        return false;
    struct gh_slice suffix = gh_slice(p.ptr + n, p.len - n);
    if (suffix.len && (!st->serves_path || !st->serves_path(st->serves_ctx, suffix))) {
        gh_http_resp_simple(r, 404, "application/json", "{\"error\":\"not_found\"}", 21, NULL, 0);
        return true;
    }
    struct gh_buf b;
    gh_buf_init(&b, 16 << 10);
    gh_admin_prm_document(st->auth, suffix, &b);
    static const struct gh_http_header hdrs[] = {
        {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("max-age=300")},
        {GH_SLICE_LIT("Access-Control-Allow-Origin"), GH_SLICE_LIT("*")},
    };
    gh_http_resp_simple(r, 200, "application/json", b.data, b.len, hdrs, GH_ARRAY_LEN(hdrs));
    gh_buf_release(&b);
    return true;
}
