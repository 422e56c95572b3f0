/*
 * demo/internal.h: the per-message call context shared by the method dispatcher (demo.c) and
 * the tool implementations (tools.c).
 */
#ifndef GH_DEMO_INTERNAL_H
#define GH_DEMO_INTERNAL_H

#include "core/core.h"
#include "json/json.h"

/** One request being answered. */
struct gh_demo_call {
    struct gh_arena *a;               /* request arena */
    const struct gh_json_doc *doc;    /* the parsed body */
    const struct gh_jsonrpc_msg *msg; /* the request */
    struct gh_buf *out;               /* where the result value is written */
    int err_code;                     /* set with err_msg when the answer is a JSON-RPC error */
    const char *err_msg;              /* static string */
};

/** Writes the tools/list result value. */
enum gh_rc gh_demo__tools_list(struct gh_demo_call *c);

/** Writes the tools/call result value, or sets err_code (-32602) for an unknown tool. */
enum gh_rc gh_demo__tools_call(struct gh_demo_call *c);

#endif
