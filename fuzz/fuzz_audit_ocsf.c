/*
 * fuzz/fuzz_audit_ocsf.c feeds arbitrary lines to gh_audit_ocsf_from_native (what `gatehouse
 * audit export --format ocsf` reads from any file it is given): a clean GH_OK with one JSON
 * object appended, or an error with the output buffer untouched.
 */
#include "core/core.h"
#include "audit/audit.h"
#include "json/json.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_buf out;
    gh_buf_init(&out, 1u << 20);
    gh_buf_append(&out, "x", 1); /* an error must leave what was there */
    enum gh_rc rc = gh_audit_ocsf_from_native((const char *)data, size, &out);
    if (rc == GH_OK) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d;
        GH_BUG_ON(gh_json_parse(a, out.data + 1, out.len - 1, NULL, &d, NULL) != GH_OK);
        GH_BUG_ON(d.toks[0].type != GH_JSON_OBJECT);
        gh_arena_free(a);
    } else {
        GH_BUG_ON(out.len != 1);
    }
    gh_buf_release(&out);
    return 0;
}
