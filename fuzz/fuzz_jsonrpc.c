/*
 * fuzz/fuzz_jsonrpc.c: the JSON-RPC model and the demo server on arbitrary bodies. Checks the
 * model's invariants (kinds match their members, ids are well typed, a refusal always carries a
 * JSON-RPC code and a reason) and that every answer the demo server writes is itself strict JSON.
 */
#include "core/core.h"
#include "demo/demo.h"
#include "json/json.h"

#include <stdio.h>

_Noreturn static void bug(const char *what)
{
    fprintf(stderr, "fuzz_jsonrpc: %s\n", what);
    abort();
}

static void check_msg(const struct gh_jsonrpc_body *b, const struct gh_jsonrpc_msg *m)
{
    bool has_id = m->id_type != GH_JSONRPC_ID_NONE;
    switch (m->kind) {
    case GH_JSONRPC_REQUEST:
        if (!m->method.ptr || !has_id || m->id_type == GH_JSONRPC_ID_NULL)
            bug("request shape");
        break;
    case GH_JSONRPC_NOTIFICATION:
        if (!m->method.ptr || has_id)
            bug("notification shape");
        break;
    case GH_JSONRPC_RESULT:
        if (m->result < 0 || m->error >= 0 || !has_id || m->id_type == GH_JSONRPC_ID_NULL)
            bug("result shape");
        break;
    case GH_JSONRPC_ERROR:
        if (m->error < 0 || m->result >= 0 || !has_id)
            bug("error shape");
        break;
    }
    if (has_id &&
        (m->id_raw.ptr < b->doc.src || m->id_raw.ptr + m->id_raw.len > b->doc.src + b->doc.len))
        bug("id span outside the body");
    if ((gh_slice_eq_cstr(m->method, "tools/call") && !m->name.ptr) ||
        (gh_slice_eq_cstr(m->method, "resources/read") && !m->uri.ptr))
        bug("target name missing");
}

static void check_demo(struct gh_arena *a, const uint8_t *data, size_t size)
{
    struct gh_buf out;
    int status = 0;
    gh_buf_init(&out, 1 << 22);
    enum gh_rc rc = gh_demo_handle(a, (const char *)data, size, &out, &status);
    if (rc == GH_OK && status != 200 && status != 202 && status != 400)
        bug("demo status");
    if (rc == GH_OK && (status == 202) != (out.len == 0))
        bug("202 iff empty body");
    if (rc == GH_OK && out.len) {
        struct gh_json_doc d;
        if (gh_json_parse(a, out.data, out.len, NULL, &d, NULL) != GH_OK)
            bug("demo wrote invalid JSON");
    }
    gh_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err err;
    enum gh_rc rc = gh_jsonrpc_parse(a, (const char *)data, size, NULL, &b, &err);
    if (rc == GH_OK) {
        if (b.count == 0 || (!b.batch && b.count != 1))
            bug("message count");
        for (uint32_t i = 0; i < b.count; i++)
            check_msg(&b, &b.msgs[i]);
    } else if (!err.reason ||
               (err.code != GH_JSONRPC_PARSE_ERROR && err.code != GH_JSONRPC_INVALID_REQUEST &&
                err.code != GH_JSONRPC_INVALID_PARAMS)) {
        bug("refusal without code or reason");
    }
    check_demo(a, data, size);
    gh_arena_free(a);
    return 0;
}
