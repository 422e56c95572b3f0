/*
 * mcp/forwarded.c owns who the client is when the gateway sits behind proxies: Forwarded (RFC
 * 7239) and X-Forwarded-For are read only when the connection comes from a configured trusted
 * proxy, and then the client is the right-most address in the chain that is not itself a
 * trusted proxy. From anyone else those headers are ignored (and, like every header outside the
 * proxy's allow-list, never passed upstream). No header ever names the principal: identity
 * comes from tokens alone.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CHAIN_MAX 32 /* hops looked at; a longer chain is cut at the left (farthest) end */

void gh_mcp_trusted_proxies_build(struct gh_mcp_gateway *gw)
{
    const struct gh_config_gateway *g = &gw->cfg->gateway;
    gw->trusted = gh_xcalloc(g->n_trusted_proxies + 1, sizeof(*gw->trusted));
    for (size_t i = 0; i < g->n_trusted_proxies; i++)
        if (gh_net_cidr_parse(g->trusted_proxies[i], strlen(g->trusted_proxies[i]),
                              &gw->trusted[gw->ntrusted]) == GH_OK) /* validated at load */
            gw->ntrusted++;
}

static bool trusted(const struct gh_mcp_gateway *gw, int family, const unsigned char *ip)
{
    for (size_t i = 0; i < gw->ntrusted; i++)
        if (gh_net_cidr_contains(&gw->trusted[i], family, ip))
            return true;
    return false;
}

/* One hop's node as written ("1.2.3.4", "1.2.3.4:80", "[::1]", "\"[::1]:80\"", "unknown"):
 * the bare IP when there is one. */
static bool node_ip(struct gh_slice v, char out[64], int *family, unsigned char ip[16])
{
    v = gh_slice_trim(v);
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
        v = gh_slice(v.ptr + 1, v.len - 2);
    if (v.len && v.ptr[0] == '[') {
        const char *close = memchr(v.ptr, ']', v.len);
        if (!close)
            return false;
        v = gh_slice(v.ptr + 1, (size_t)(close - v.ptr - 1));
    } else {
        const char *colon = memchr(v.ptr, ':', v.len);
        if (colon && !memchr(colon + 1, ':', v.len - (size_t)(colon + 1 - v.ptr)))
            v.len = (size_t)(colon - v.ptr); /* IPv4 with a port */
    }
    if (v.len == 0 || v.len >= 64)
        return false;
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    if (inet_pton(AF_INET, out, ip) == 1)
        *family = AF_INET;
    else if (inet_pton(AF_INET6, out, ip) == 1)
        *family = AF_INET6;
    else
        return false;
    return true;
}

/* The for= nodes of a Forwarded value (elements by ',', pairs by ';'), appended to hops. */
static void forwarded_nodes(struct gh_slice v, struct gh_slice *hops, size_t *n)
{
    size_t i = 0;
    while (i <= v.len) {
        size_t j = i;
        bool quoted = false;
        while (j < v.len && (quoted || (v.ptr[j] != ',' && v.ptr[j] != ';'))) {
            quoted ^= v.ptr[j] == '"';
            j++;
        }
        struct gh_slice pair = gh_slice_trim(gh_slice(v.ptr + i, j - i));
        if (pair.len > 4 && strncasecmp(pair.ptr, "for=", 4) == 0) {
            if (*n == CHAIN_MAX)
                memmove(hops, hops + 1, (CHAIN_MAX - 1) * sizeof(*hops));
            hops[*n == CHAIN_MAX ? CHAIN_MAX - 1 : (*n)++] = gh_slice(pair.ptr + 4, pair.len - 4);
        }
        i = j + 1;
    }
}

static void xff_nodes(struct gh_slice v, struct gh_slice *hops, size_t *n)
{
    size_t i = 0;
    while (i <= v.len) {
        const char *comma = i < v.len ? memchr(v.ptr + i, ',', v.len - i) : NULL;
        size_t j = comma ? (size_t)(comma - v.ptr) : v.len;
        if (*n == CHAIN_MAX)
            memmove(hops, hops + 1, (CHAIN_MAX - 1) * sizeof(*hops));
        hops[*n == CHAIN_MAX ? CHAIN_MAX - 1 : (*n)++] = gh_slice(v.ptr + i, j - i);
        i = j + 1;
    }
}

bool gh_mcp_client_address(const struct gh_mcp_gateway *gw, struct gh_http_req *r, char out[64],
                           char proxy[64])
{
    const struct gh_net_addr *peer = gh_http_req_peer(r);
    out[0] = proxy[0] = '\0';
    if (!peer)
        return false;
    gh_net_addr_format(peer, out, 64);
    unsigned char ip[16];
    int family = gh_net_addr_ip(peer, ip);
    if (!gw->ntrusted || !trusted(gw, family, ip))
        return false; /* forwarding headers from anyone else are not read */
    /* Forwarded wins over X-Forwarded-For; every line of the header, in order */
    const struct gh_http_request_head *h = gh_http_req_head(r);
    struct gh_slice hops[CHAIN_MAX];
    size_t n = 0;
    for (size_t i = 0; i < h->nheaders; i++)
        if (gh_slice_caseeq_cstr(h->headers[i].name, "Forwarded"))
            forwarded_nodes(h->headers[i].value, hops, &n);
    for (size_t i = 0; !n && i < h->nheaders; i++)
        if (gh_slice_caseeq_cstr(h->headers[i].name, "X-Forwarded-For"))
            xff_nodes(h->headers[i].value, hops, &n);
    if (!n)
        return false;
    memcpy(proxy, out, 64);
    char node[64];
    for (size_t k = n; k-- > 0;) {
        if (!node_ip(hops[k], node, &family, ip)) {
            /* "unknown", an obfuscated node or garbage: the client cannot be told */
            snprintf(out, 64, "unknown");
            return true;
        }
        snprintf(out, 64, "%s", node);
        if (!trusted(gw, family, ip))
            return true;
    }
    return true; /* every hop is a trusted proxy: the left-most is as far as we can see */
}
