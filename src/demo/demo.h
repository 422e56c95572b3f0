/*
 * demo: the built-in MCP server that `gatehouse dev` serves through the gateway, so a new user
 * sees real tool calls with no upstream to install. Protocol logic only — no I/O: the caller
 * hands in one POST body and sends back what lands in `out`.
 *
 * Speaks MCP Streamable HTTP JSON responses for protocol versions 2025-03-26, 2025-06-18 and
 * 2025-11-25: initialize, ping, tools/list, tools/call, resources/list, resources/read,
 * resources/templates/list, prompts/list, prompts/get; notifications and responses are accepted.
 * Tools: echo, add, sha256, time, word_count. Resource: demo://readme. Prompt: summarize.
 */
#ifndef GH_DEMO_H
#define GH_DEMO_H

#include "core/core.h"

/** The protocol version answered when the client asks for one the demo does not speak. */
#define GH_DEMO_LATEST_VERSION "2025-11-25"

/** The server name reported in initialize. */
#define GH_DEMO_SERVER_NAME "gatehouse-demo"

/**
 * Handles one JSON-RPC POST body (a message or a batch) and appends the HTTP response body to
 * `out`, which the caller initialised with its cap (gh_buf_init) and owns.
 *
 * *http_status is set to:
 *  - 200 with a JSON-RPC response (or a batch array of them) in `out`, including JSON-RPC
 *    errors for unknown methods (-32601), bad params or unknown tools/prompts (-32602) and
 *    unknown resources (-32002); a tool that fails on its arguments answers a normal result
 *    with isError:true, as MCP prescribes;
 *  - 202 with nothing appended when the body held only notifications and/or responses;
 *  - 400 with a JSON-RPC error body for input that is not JSON (-32700) or not a valid
 *    JSON-RPC message (-32600); the id is echoed when it could be read, else null.
 *
 * Parsing and all scratch memory use arena `a` (the request arena); nothing outlives the call
 * except what is in `out`. Returns GH_OK whenever *http_status and `out` are set, GH_E_LIMIT when
 * the response would exceed out's cap (out then holds a partial body: answer 500 instead).
 */
enum gh_rc gh_demo_handle(struct gh_arena *a, const char *body, size_t len, struct gh_buf *out,
                          int *http_status);

#endif
