/*
 * net/egress.c owns the egress guard: what an address is (public, loopback, private, link-local,
 * reserved) judged on the numeric address the socket will use — never on a host name, whose
 * spelling (octal, hex, decimal, IPv4-mapped) resolvers read differently.
 */
#include "core/core.h"
#include "net/net.h"

#include <arpa/inet.h>

static enum gh_net_addr_class classify_v4(uint32_t ip)
{
    uint32_t a = ip >> 24, b = (ip >> 16) & 0xff;
    if (a == 127)
        return GH_NET_ADDR_LOOPBACK;
    if (a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
        (a == 100 && (b & 0xc0) == 64))
        return GH_NET_ADDR_PRIVATE;
    if (a == 169 && b == 254)
        return GH_NET_ADDR_LINKLOCAL;
    if (a == 0 || a >= 224 || (a == 192 && b == 0 && ((ip >> 8) & 0xff) == 2) ||
        (a == 198 && (b & 0xfe) == 18) || (a == 198 && b == 51 && ((ip >> 8) & 0xff) == 100) ||
        (a == 203 && b == 0 && ((ip >> 8) & 0xff) == 113))
        return GH_NET_ADDR_RESERVED;
    return GH_NET_ADDR_PUBLIC;
}

static enum gh_net_addr_class classify_v6(const struct in6_addr *ip)
{
    const uint8_t *b = ip->s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) {
        uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
        return classify_v4(v4);
    }
    if (IN6_IS_ADDR_LOOPBACK(ip))
        return GH_NET_ADDR_LOOPBACK;
    if (IN6_IS_ADDR_UNSPECIFIED(ip) || b[0] == 0xff ||
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8))
        return GH_NET_ADDR_RESERVED; /* ::, multicast, 2001:db8::/32 documentation */
    if ((b[0] & 0xfe) == 0xfc)
        return GH_NET_ADDR_PRIVATE;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return GH_NET_ADDR_LINKLOCAL;
    /* other IPv4-compatible (::a.b.c.d, deprecated) forms: judged as reserved, never followed */
    static const uint8_t zero12[12] = {0};
    if (memcmp(b, zero12, 12) == 0)
        return GH_NET_ADDR_RESERVED;
    return GH_NET_ADDR_PUBLIC;
}

enum gh_net_addr_class gh_net_addr_classify(const struct gh_net_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return classify_v4(ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr));
    if (a->ss.ss_family == AF_INET6)
        return classify_v6(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
    return GH_NET_ADDR_RESERVED;
}

enum gh_verdict gh_net_egress_allowed(const struct gh_net_addr *a, bool allow_loopback,
                                      bool allow_private)
{
    switch (gh_net_addr_classify(a)) {
    case GH_NET_ADDR_PUBLIC:
        return GH_ALLOW;
    case GH_NET_ADDR_LOOPBACK:
        return allow_loopback ? GH_ALLOW : GH_DENY;
    case GH_NET_ADDR_PRIVATE:
    case GH_NET_ADDR_LINKLOCAL:
        return allow_private ? GH_ALLOW : GH_DENY;
    case GH_NET_ADDR_RESERVED:
        break;
    }
    return GH_DENY;
}
