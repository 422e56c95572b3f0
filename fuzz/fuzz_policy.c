/*
 * fuzz/fuzz_policy.c feeds upstream and client bytes to policy/: list answers to filter (the
 * first byte 'L' tools, 'P' prompts, 'R' resources, 'T' templates; tool digests included) and
 * tool-call arguments ('A') checked against every kind of argument constraint, regular
 * expressions under their match limits and path rules among them. Any outcome is fine except a
 * crash, a hang or an allowed call the constraints forbid.
 */
#include "core/core.h"
#include "config/config.h"
#include "json/json.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *CONFIG =
    "upstreams:\n  - name: fx\n    url: http://127.0.0.1:9/mcp\n"
    "policy:\n  rules:\n"
    "    - id: lists\n      effect: allow\n      tools: [\"get_*\", echo]\n"
    "      resources: [\"memo://*\"]\n      prompts: [\"*\"]\n"
    "    - id: args\n      effect: allow\n      tools: [call]\n      arguments:\n"
    "        path: {type: string, path_under: [/srv/repos], required: true}\n"
    "        q: {regex: \"^(a+)+$\", max_length: 64}\n"
    "        n: {type: integer, min: 1, max: 5}\n"
    "        e: {enum: [x, 1, true, null]}\n"
    "        p: {prefix: \"feature/\", glob: \"*.md\"}\n"
    "      additional_arguments: true\n";

static struct gh_policy *policy;

static void setup(void)
{
    struct gh_config *cfg = NULL;
    struct gh_config_error e;
    GH_BUG_ON(gh_config_load_string("fuzz", CONFIG, strlen(CONFIG), &cfg, &e) != GH_OK);
    GH_BUG_ON(gh_policy_compile(cfg, cfg->policy, &policy, &e) != GH_OK);
    gh_config_unref(cfg);
}

/* An independent oracle: "//" and "/./" collapse; any ".." segment is a failure. */
static bool normalise(struct gh_slice p, char *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (!p.len || p.ptr[0] != '/' || p.len >= cap)
        return false;
    while (i < p.len) {
        while (i < p.len && p.ptr[i] == '/')
            i++;
        size_t j = i;
        while (j < p.len && p.ptr[j] != '/')
            j++;
        if (j - i == 2 && p.ptr[i] == '.' && p.ptr[i + 1] == '.')
            return false;
        if (j > i && !(j - i == 1 && p.ptr[i] == '.')) {
            out[o++] = '/';
            memcpy(out + o, p.ptr + i, j - i);
            o += j - i;
        }
        i = j;
    }
    out[o] = '\0';
    return true;
}

static void check_args(const char *p, size_t n)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    if (gh_json_parse(a, p, n, NULL, &d, NULL) == GH_OK) {
        struct gh_policy_subject s = {.key = ""};
        struct gh_policy_action act = {.method = GH_SLICE_LIT("tools/call"),
                                       .upstream = GH_SLICE_LIT("fx"),
                                       .kind = GH_POLICY_K_TOOL,
                                       .name = GH_SLICE_LIT("call"),
                                       .args = &d,
                                       .args_tok = 0};
        struct gh_policy_decision dec;
        gh_policy_evaluate(policy, &s, &act, &dec);
        if (dec.verdict == GH_ALLOW) { /* then the path was present, a string, under the root */
            int32_t v = gh_json_obj_get(&d, 0, "path", 4);
            struct gh_slice path;
            GH_BUG_ON(v < 0 || gh_json_str(&d, a, (uint32_t)v, &path) != GH_OK);
            char norm[4096];
            GH_BUG_ON(!normalise(path, norm, sizeof(norm)));
            GH_BUG_ON(strncmp(norm, "/srv/repos", 10) != 0 || (norm[10] && norm[10] != '/'));
        }
    }
    gh_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!policy)
        setup();
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    static const char *const methods[] = {"tools/list", "prompts/list", "resources/list",
                                          "resources/templates/list"};
    int m = data[0] == 'L' ? 0 : data[0] == 'P' ? 1 : data[0] == 'R' ? 2 : data[0] == 'T' ? 3 : -1;
    if (data[0] == 'A') {
        check_args(p, n);
        return 0;
    }
    if (m < 0)
        m = data[0] & 3;
    struct gh_policy_subject s = {.key = ""};
    char *out = NULL;
    size_t outlen = 0;
    if (gh_policy_filter_list(policy, &s, GH_SLICE_LIT("fx"), gh_slice_cstr(methods[m]), 0, p, n,
                              &out, &outlen) == GH_OK) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d; /* what we pass on is JSON again */
        GH_BUG_ON(gh_json_parse(a, out, outlen, NULL, &d, NULL) != GH_OK);
        gh_arena_free(a);
        free(out);
    }
    return 0;
}
