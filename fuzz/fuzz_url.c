/*
 * fuzz_url: the URL parser must stay inside its input, and what it accepts must be stable: the
 * URL rebuilt from the parsed parts parses again to the same parts.
 */
#include "core/core.h"
#include "http/http_parse.h"

#include <stdio.h>

static void inside(struct gh_slice s, const char *buf, size_t n)
{
    if (s.len && (s.ptr < buf || s.ptr + s.len > buf + n))
        __builtin_trap();
}

static bool eq(struct gh_slice a, struct gh_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct gh_url u, v;
    if (gh_url_parse(s, size, &u) != GH_OK)
        return 0;
    inside(u.scheme, s, size);
    inside(u.host, s, size);
    inside(u.query, s, size);
    if (u.host.len == 0 || u.port == 0 || u.path.len == 0 || u.path.ptr[0] != '/')
        __builtin_trap();
    for (size_t i = 0; i < size; i++)
        if (data[i] <= 0x20 || data[i] >= 0x7f || data[i] == '#' || data[i] == '\\')
            __builtin_trap();
    if (memchr(u.host.ptr, '@', u.host.len) || memchr(u.host.ptr, '%', u.host.len))
        __builtin_trap(); /* '@' is fine in a path, never in the authority */
    struct gh_buf b;
    gh_buf_init(&b, 2 * size + 64);
    const char *br = u.ipv6_literal ? "[" : "", *bk = u.ipv6_literal ? "]" : "";
    if (gh_buf_appendf(&b, "%s://%s%.*s%s:%u%.*s%s%.*s", u.tls ? "https" : "http", br,
                       (int)u.host.len, u.host.ptr, bk, u.port, (int)u.path.len, u.path.ptr,
                       u.query.ptr ? "?" : "", (int)u.query.len, u.query.ptr ? u.query.ptr : ""))
        __builtin_trap();
    if (gh_url_parse(b.data, b.len, &v) != GH_OK)
        __builtin_trap();
    if (!eq(u.host, v.host) || !eq(u.path, v.path) || !eq(u.query, v.query) || u.port != v.port ||
        u.tls != v.tls || u.ipv6_literal != v.ipv6_literal)
        __builtin_trap();
    gh_buf_release(&b);
    return 0;
}
