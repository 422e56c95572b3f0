/*
 * fuzz_http_request: the request head parser must never read outside the buffer, must keep every
 * slice inside the head, and must be prefix-consistent: any prefix of an accepted head is
 * GH_E_AGAIN (so incremental reads can never see a different verdict than one big read).
 */
#include "core/core.h"
#include "http/http_parse.h"

#include <stdio.h>

static struct gh_http_request_head h;

static void inside(struct gh_slice s, const char *buf, size_t n)
{
    if (s.len && (s.ptr < buf || s.ptr + s.len > buf + n))
        __builtin_trap();
}

static void check_ok(const char *buf, size_t size)
{
    if (h.head_len > size || h.nheaders > GH_HTTP_MAX_HEADERS || h.minor_version > 1)
        __builtin_trap();
    if (h.target.len == 0 || h.target.len > GH_HTTP_MAX_TARGET ||
        (h.chunked && h.has_content_length))
        __builtin_trap();
    if (h.content_length > GH_HTTP_MAX_BODY_LEN || (h.minor_version == 1 && !h.host.ptr))
        __builtin_trap();
    inside(h.method_str, buf, h.head_len);
    inside(h.target, buf, h.head_len);
    inside(h.path, buf, h.head_len);
    inside(h.query, buf, h.head_len);
    inside(h.host, buf, h.head_len);
    for (size_t i = 0; i < h.nheaders; i++) {
        inside(h.headers[i].name, buf, h.head_len);
        inside(h.headers[i].value, buf, h.head_len);
        if (gh_http_header_find(h.headers, h.nheaders, "x") == NULL &&
            gh_http_header_count(h.headers, h.nheaders, "x") != 0)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct gh_http_error err = {0, NULL};
    enum gh_rc rc = gh_http_request_parse(buf, size, size + 1, GH_HTTP_MAX_HEADERS, &h, &err);
    if (rc != GH_OK && rc != GH_E_AGAIN && (err.reason == NULL || err.status < 400))
        __builtin_trap();
    if (rc == GH_E_AGAIN) {
        /* the same bytes at the head cap must be a verdict, never a wait */
        if (gh_http_request_parse(buf, size, size, GH_HTTP_MAX_HEADERS, &h, &err) == GH_E_AGAIN)
            __builtin_trap();
        return 0;
    }
    if (rc != GH_OK)
        return 0;
    check_ok(buf, size);
    size_t head = h.head_len;
    size_t cuts[3] = {head - 1, head / 2, head / 3};
    for (size_t i = 0; i < 3; i++) {
        static struct gh_http_request_head h2;
        if (gh_http_request_parse(buf, cuts[i], size + 1, GH_HTTP_MAX_HEADERS, &h2, &err) !=
            GH_E_AGAIN) {
            fprintf(stderr, "prefix %zu of accepted head %zu not AGAIN\n", cuts[i], head);
            __builtin_trap();
        }
    }
    return 0;
}
