/*
 * config/url.c owns the strict parsers for configured network names: upstream URLs, listener
 * addresses, upstream names, gateway paths, allowed origins and hosts. They accept one spelling
 * of each thing and refuse everything ambiguous (numeric hosts that are not dotted quads, octal
 * or hex IPv4, userinfo, fragments, bad ports), so that what the operator wrote is what a
 * resolver or a peer will see. Error strings never quote the input.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <arpa/inet.h>
#include <ctype.h>

#define URL_MAX 2048

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char *lower_dup(const char *s, size_t n)
{
    char *p = gh_xstrndup(s, n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
    return p;
}

/* Decimal port without sign or leading zeros; min is 0 for listeners, 1 for URLs. */
static const char *parse_port(const char *s, size_t n, unsigned min, uint16_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
        return "port must be a decimal number without leading zeros";
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return "port must be a decimal number without leading zeros";
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < min || v > 65535)
        return min ? "port must be between 1 and 65535" : "port must be between 0 and 65535";
    *out = (uint16_t)v;
    return NULL;
}

static bool ipv4_ok(const char *s, size_t n)
{
    char tmp[16];
    struct in_addr a;
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, &a) == 1; /* dotted quad only: no octal, hex or short forms */
}

static bool ipv6_ok(const char *s, size_t n)
{
    char tmp[64];
    struct in6_addr a;
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1; /* no zone ids */
}

/* Resolvers read "0x7f.1", "127.1" or "2130706433" as addresses: a host whose last label looks
 * numeric must therefore be a proper dotted quad. */
static bool looks_numeric(const char *s, size_t n)
{
    size_t i = n;
    while (i > 0 && s[i - 1] != '.')
        i--;
    const char *last = s + i;
    size_t len = n - i;
    if (len == 0) /* "host." : a DNS-name question, answered by check_dns_name() */
        return false;
    if (len >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
        return true;
    for (size_t k = 0; k < len; k++) {
        if (!is_digit(last[k]))
            return false;
    }
    return true;
}

static const char *check_dns_name(const char *s, size_t n)
{
    size_t label = 0;
    if (n == 0)
        return "host is required";
    if (n > 253)
        return "host name is too long";
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (label == 0 || s[i - 1] == '-')
                return "malformed host name";
            label = 0;
            continue;
        }
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
            return "malformed host name";
        if ((label == 0 && s[i] == '-') || ++label > 63)
            return "malformed host name";
    }
    if (label == 0 || s[n - 1] == '-')
        return "malformed host name";
    return NULL;
}

/* Splits "host[:port]" / "[v6][:port]"; *family and host span are set, port span may be empty. */
static const char *split_hostport(const char *s, size_t n, const char **h, size_t *hn,
                                  const char **p, size_t *pn, bool *has_port,
                                  enum gh_config_family *fam)
{
    const char *colon;
    *has_port = false;
    if (n > 0 && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end || !ipv6_ok(s + 1, (size_t)(end - s - 1)))
            return "malformed IPv6 address";
        *h = s + 1;
        *hn = (size_t)(end - s - 1);
        *fam = GH_CONFIG_FAMILY_IPV6;
        colon = end + 1 < s + n ? end + 1 : NULL;
        if (colon && *colon != ':')
            return "malformed IPv6 address";
    } else {
        colon = memchr(s, ':', n);
        *h = s;
        *hn = colon ? (size_t)(colon - s) : n;
        *fam = GH_CONFIG_FAMILY_NAME;
        if (*hn == 0)
            return "host is required";
        if (looks_numeric(*h, *hn)) {
            if (!ipv4_ok(*h, *hn))
                return "malformed IPv4 address";
            *fam = GH_CONFIG_FAMILY_IPV4;
        }
    }
    if (colon) {
        *has_port = true;
        *p = colon + 1;
        *pn = (size_t)(s + n - *p);
    }
    return NULL;
}

/* ---- URLs ---- */

static const char *check_url_chars(const char *s, size_t n)
{
    if (n > URL_MAX)
        return "URL is too long (max 2048 bytes)";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return "URL must not contain spaces, control or non-ASCII characters";
        if (c == '\\')
            return "backslashes are not allowed in URLs";
        if (c == '#')
            return "fragments are not allowed";
    }
    return NULL;
}

static const char *check_url_path(const char *s, size_t n)
{
    static const char bad[] = "\"<>^`{|}[]";
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return "malformed percent-encoding in path";
        } else if (strchr(bad, s[i])) {
            return "path has a character that must be percent-encoded";
        }
    }
    return NULL;
}

static const char *url_scheme(const char *s, size_t n, bool *tls, size_t *skip)
{
    const char *sep = n >= 3 ? strstr(s, "://") : NULL;
    if (!sep)
        return "expected an absolute URL (http://host/path)";
    size_t sn = (size_t)(sep - s);
    if (sn == 4 && strncasecmp(s, "http", 4) == 0)
        *tls = false;
    else if (sn == 5 && strncasecmp(s, "https", 5) == 0)
        *tls = true;
    else
        return "scheme must be http or https";
    *skip = sn + 3;
    return NULL;
}

static const char *url_authority(const char *a, size_t an, struct gh_config_url *out)
{
    const char *h, *p = NULL;
    size_t hn, pn = 0;
    bool has_port;
    const char *why;
    if (memchr(a, '@', an))
        return "userinfo (user:password@) is not allowed";
    if (an == 0)
        return "host is required";
    why = split_hostport(a, an, &h, &hn, &p, &pn, &has_port, &out->family);
    if (!why && out->family == GH_CONFIG_FAMILY_NAME)
        why = check_dns_name(h, hn);
    if (!why && has_port)
        why = parse_port(p, pn, 1, &out->port);
    if (why)
        return why;
    if (!has_port)
        out->port = out->tls ? 443 : 80;
    out->host = lower_dup(h, hn);
    return NULL;
}

enum gh_rc gh_config_url_parse(const char *s, struct gh_config_url *out, const char **why)
{
    struct gh_config_url u = {0};
    size_t n = strlen(s), skip = 0;
    const char *w = check_url_chars(s, n);
    if (!w)
        w = url_scheme(s, n, &u.tls, &skip);
    if (w)
        goto fail;
    const char *a = s + skip;
    size_t an = strcspn(a, "/?");
    w = url_authority(a, an, &u);
    if (!w)
        w = check_url_path(a + an, n - skip - an);
    if (w)
        goto fail;
    if (a[an] == '/') {
        u.path = gh_xstrdup(a + an);
    } else { /* "" or "?query": the request target still starts with "/" */
        u.path = gh_xmalloc(n - skip - an + 2);
        u.path[0] = '/';
        memcpy(u.path + 1, a + an, n - skip - an + 1);
    }
    *out = u;
    return GH_OK;
fail:
    gh_config_url_release(&u);
    if (why)
        *why = w;
    return GH_E_PARSE;
}

void gh_config_url_release(struct gh_config_url *u)
{
    gh_free(&u->host);
    gh_free(&u->path);
    memset(u, 0, sizeof(*u));
}

/* ---- listener addresses ---- */

enum gh_rc gh_config_addr_parse(const char *s, struct gh_config_addr *out, const char **why)
{
    const char *h, *p = NULL, *w;
    size_t hn, pn = 0, n = strlen(s);
    bool has_port;
    enum gh_config_family fam;
    uint16_t port = 0;
    if (n > 300)
        w = "address is too long";
    else
        w = split_hostport(s, n, &h, &hn, &p, &pn, &has_port, &fam);
    if (!w && !has_port)
        w = "expected host:port (e.g. 127.0.0.1:8080)";
    if (!w && fam == GH_CONFIG_FAMILY_NAME && !(hn == 9 && strncasecmp(h, "localhost", 9) == 0))
        w = "host must be an IPv4 address, a [bracketed] IPv6 address or localhost";
    if (!w)
        w = parse_port(p, pn, 0, &port);
    if (w) {
        if (why)
            *why = w;
        return GH_E_PARSE;
    }
    out->host = lower_dup(h, hn);
    out->port = port;
    out->family = fam;
    return GH_OK;
}

/* ---- names, paths, origins, hosts ---- */

const char *gh_config__check_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return "name must be 1-64 characters of A-Z a-z 0-9 _ -";
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-')
            return "name must be 1-64 characters of A-Z a-z 0-9 _ -";
    }
    return NULL;
}

const char *gh_config__check_gw_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] != '/')
        return "path must start with /";
    if (n > 256)
        return "path is too long (max 256 bytes)";
    if (strchr(s, '?'))
        return "path must not contain a query";
    if (strstr(s, ".."))
        return "path must not contain ..";
    if (strstr(s, "//") || strstr(s, "/./") || (n >= 2 && strcmp(s + n - 2, "/.") == 0))
        return "path must not contain empty or . segments";
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && !strchr("-._~/", s[i]))
            return "path may contain only A-Z a-z 0-9 - . _ ~ /";
    }
    return NULL;
}

const char *gh_config__check_origin(const char *s)
{
    struct gh_config_url u;
    const char *why = NULL;
    size_t n = strlen(s);
    if (gh_config_url_parse(s, &u, &why) != GH_OK)
        return why;
    bool pathless = strcmp(u.path, "/") == 0 && s[n - 1] != '/';
    bool default_port = (u.tls && u.port == 443) || (!u.tls && u.port == 80);
    bool explicit_port = s[n - 1] != ']' && strrchr(s, ':') > strstr(s, "://");
    gh_config_url_release(&u);
    if (!pathless)
        return "an origin is scheme://host[:port] with no path, query or trailing slash";
    if (default_port && explicit_port)
        return "leave out the default port: browsers send the origin without it";
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            return "an origin must be written in lower case (it is compared exactly)";
    }
    return NULL;
}

const char *gh_config__check_host(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return "host must be 1-255 characters";
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(s[i]) && !strchr(".-_:[]", s[i]))
            return "host may contain only A-Z a-z 0-9 . - _ : [ ]";
    }
    return NULL;
}

const char *gh_config__check_cidr(const char *s)
{
    char ip[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(ip))
        return "expected an IP address or IP/prefix, e.g. 10.0.0.0/8 or ::1";
    memcpy(ip, s, n);
    ip[n] = '\0';
    unsigned char buf[16];
    int max = inet_pton(AF_INET, ip, buf) == 1 ? 32 : inet_pton(AF_INET6, ip, buf) == 1 ? 128 : -1;
    if (max < 0)
        return "expected an IP address or IP/prefix, e.g. 10.0.0.0/8 or ::1";
    if (slash) {
        char *end = NULL;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > max || (slash[1] == '0' && slash[2]))
            return max == 32 ? "prefix must be 0-32" : "prefix must be 0-128";
    }
    return NULL;
}
