/*
 * mcp/ingress.c owns the transport rules the gateway enforces for every upstream, whether or not
 * the upstream does: Host and Origin (DNS rebinding, 403), Accept (406), Content-Type (415),
 * MCP-Protocol-Version (400), and gateway-made JSON-RPC error answers.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>

const char *const GH_MCP_VERSIONS[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};

bool gh_mcp_version_known(struct gh_slice v)
{
    for (size_t i = 0; GH_MCP_VERSIONS[i]; i++)
        if (gh_slice_eq_cstr(v, GH_MCP_VERSIONS[i]))
            return true;
    return false;
}

void gh_mcp_reply_error(struct gh_http_req *r, int status, struct gh_slice id, int code,
                        const char *msg)
{
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    gh_jsonrpc_error_write(&b, id, code, msg);
    gh_http_resp_simple(r, status, "application/json", b.data, b.len, NULL, 0);
    gh_buf_release(&b);
}

/* Splits "host:port" / "[v6]:port" into host (no brackets) and port text. */
static void split_hostport(struct gh_slice hp, struct gh_slice *host, struct gh_slice *port)
{
    *port = (struct gh_slice){NULL, 0};
    if (hp.len && hp.ptr[0] == '[') {
        const char *end = memchr(hp.ptr, ']', hp.len);
        if (!end) {
            *host = hp;
            return;
        }
        *host = gh_slice(hp.ptr + 1, (size_t)(end - hp.ptr - 1));
        if ((size_t)(end - hp.ptr) + 1 < hp.len && end[1] == ':')
            *port = gh_slice(end + 2, hp.len - (size_t)(end - hp.ptr) - 2);
        return;
    }
    const char *colon = memchr(hp.ptr, ':', hp.len);
    if (!colon) {
        *host = hp;
        return;
    }
    *host = gh_slice(hp.ptr, (size_t)(colon - hp.ptr));
    *port = gh_slice(colon + 1, hp.len - (size_t)(colon - hp.ptr) - 1);
}

static bool is_loopback_name(struct gh_slice h)
{
    if (gh_slice_caseeq_cstr(h, "localhost") || gh_slice_eq_cstr(h, "::1") ||
        gh_slice_eq_cstr(h, "[::1]"))
        return true;
    if (h.len < 4 || memcmp(h.ptr, "127.", 4) != 0)
        return false;
    for (size_t i = 0; i < h.len; i++)
        if (!((h.ptr[i] >= '0' && h.ptr[i] <= '9') || h.ptr[i] == '.'))
            return false;
    return true;
}

static bool in_list(struct gh_slice v, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (gh_slice_caseeq_cstr(v, list[i]))
            return true;
    return false;
}

/* The Host a client used must name this gateway: its listener address, loopback names on a
 * loopback listener, or a configured name. Anything else is a rebinding attempt. */
static bool host_allowed(const struct gh_mcp_gateway *gw, struct gh_http_req *r)
{
    struct gh_slice hp = gh_http_req_head(r)->host;
    if (hp.len == 0)
        return false;
    if (in_list(hp, gw->cfg->gateway.allowed_hosts, gw->cfg->gateway.n_allowed_hosts))
        return true;
    struct gh_slice host, port;
    split_hostport(hp, &host, &port);
    if (in_list(host, gw->cfg->gateway.allowed_hosts, gw->cfg->gateway.n_allowed_hosts))
        return true;
    const struct gh_net_addr *local = gh_http_req_local(r);
    char want_port[8];
    int n = snprintf(want_port, sizeof(want_port), "%u", gh_net_addr_port(local));
    if (port.len && !gh_slice_eq(port, gh_slice(want_port, (size_t)n)))
        return false;
    return gh_net_addr_is_loopback(local) && is_loopback_name(host);
}

static bool origin_allowed(const struct gh_mcp_gateway *gw, struct gh_http_req *r,
                           struct gh_slice origin)
{
    if (in_list(origin, gw->cfg->gateway.allowed_origins, gw->cfg->gateway.n_allowed_origins))
        return true;
    struct gh_url u;
    if (gh_url_parse(origin.ptr, origin.len, &u) != GH_OK)
        return false;
    /* a page served from this machine's loopback may talk to a loopback gateway */
    return gh_net_addr_is_loopback(gh_http_req_local(r)) && is_loopback_name(u.host);
}

enum gh_verdict gh_mcp_check_origin(const struct gh_mcp_gateway *gw, struct gh_http_req *r)
{
    if (!host_allowed(gw, r)) {
        GH_LOGI("mcp", "rejected: Host header does not name this gateway");
        gh_mcp_reply_error(r, 403, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Forbidden: Host header not allowed");
        return GH_DENY;
    }
    struct gh_slice origin = gh_http_req_header(r, "Origin");
    if (origin.ptr && !origin_allowed(gw, r, origin)) {
        GH_LOGI("mcp", "rejected: Origin not allowed");
        gh_mcp_reply_error(r, 403, (struct gh_slice){0}, GH_JSONRPC_INVALID_REQUEST,
                           "Forbidden: Origin not allowed");
        return GH_DENY;
    }
    return GH_ALLOW;
}

/* True when a media-range's parameters (after its ';') give q=0 in any spelling (0, 0.0, 0.000). */
static bool q_is_zero(struct gh_slice params)
{
    const char *p = params.ptr, *end = params.ptr + params.len;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        struct gh_slice prm = gh_slice_trim(gh_slice(p, (size_t)((semi ? semi : end) - p)));
        if (prm.len >= 2 && (prm.ptr[0] == 'q' || prm.ptr[0] == 'Q') && prm.ptr[1] == '=') {
            size_t i = 2;
            if (i >= prm.len || prm.ptr[i++] != '0')
                return false;
            if (i < prm.len && prm.ptr[i] == '.')
                i++;
            while (i < prm.len && prm.ptr[i] == '0')
                i++;
            return i == prm.len;
        }
        p = semi ? semi + 1 : end;
    }
    return false;
}

/* True when an Accept header value admits type (exact, "type/ *" or "* / *", q > 0). */
bool gh_mcp_accepts(struct gh_slice accept, const char *type)
{
    const char *slash = strchr(type, '/');
    size_t major = (size_t)(slash - type);
    const char *p = accept.ptr, *end = accept.ptr + accept.len;
    while (p && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct gh_slice item = gh_slice(p, (size_t)((comma ? comma : end) - p));
        const char *semi = memchr(item.ptr, ';', item.len);
        struct gh_slice range =
            gh_slice_trim(semi ? gh_slice(item.ptr, (size_t)(semi - item.ptr)) : item);
        struct gh_slice params =
            semi ? gh_slice(semi + 1, (size_t)(item.ptr + item.len - semi - 1)) : gh_slice(NULL, 0);
        bool match = gh_slice_caseeq_cstr(range, type) || gh_slice_eq_cstr(range, "*/*") ||
                     (range.len == major + 2 && strncasecmp(range.ptr, type, major) == 0 &&
                      range.ptr[major] == '/' && range.ptr[major + 1] == '*');
        if (match && !q_is_zero(params))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}
