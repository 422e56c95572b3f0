/*
 * fuzz/fuzz_mcp_rewrite.c feeds client request bytes to the two places mcp/ rewrites a request
 * before an upstream sees it: the gateway's span written into params._meta.traceparent
 * (mcp/trace.c) and argument members removed by JSON Pointer (mcp/inspect.c). Whatever the
 * input, a rewrite must be valid JSON that carries the span / lacks the members, and a request
 * left alone must be left alone byte for byte.
 */
#include "core/core.h"
#include "json/json.h"
#include "mcp/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char TP[] = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";

static void must_parse(const char *p, size_t n, struct gh_arena *a, struct gh_json_doc *d)
{
    struct gh_json_err e;
    struct gh_json_limits lim = {.max_bytes = n + 1, .max_depth = 512};
    if (gh_json_parse(a, p, n, &lim, d, &e) != GH_OK)
        abort(); /* a rewrite broke the JSON */
}

static void check_meta(const char *in, size_t n)
{
    size_t outlen = 0;
    char *out = gh_mcp_trace_meta(in, n, TP, &outlen);
    if (!out)
        return;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    must_parse(out, outlen, a, &d);
    int32_t params = gh_json_obj_get(&d, 0, "params", 6);
    int32_t meta = params >= 0 ? gh_json_obj_get(&d, (uint32_t)params, "_meta", 5) : -1;
    int32_t tp = meta >= 0 ? gh_json_obj_get(&d, (uint32_t)meta, "traceparent", 11) : -1;
    struct gh_slice v = tp >= 0 ? gh_json_raw(&d, (uint32_t)tp) : (struct gh_slice){0};
    if (v.len != sizeof(TP) + 1 || memcmp(v.ptr + 1, TP, sizeof(TP) - 1) != 0)
        abort(); /* the span is not where upstreams read it */
    gh_arena_free(a);
    free(out);
}

static void check_redact(const char *in, size_t n)
{
    static const char *const PTRS[] = {"/secret", "/a/b", "/a", "/x~1y", "/"};
    bool removed[5];
    size_t outlen = 0;
    char *out = gh_mcp_redact_bytes(in, n, PTRS, 5, removed, &outlen);
    if (!out)
        return;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    must_parse(out, outlen, a, &d);
    if (outlen >= n)
        abort(); /* a removal that removed nothing */
    gh_arena_free(a);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16))
        return 0;
    check_meta((const char *)data, size);
    check_redact((const char *)data, size);
    return 0;
}
