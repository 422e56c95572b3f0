/*
 * demo/demo.c owns the demo server's message handling: parsing the POST body, dispatching each
 * request to its method, framing results and errors (and batches), and choosing the HTTP status.
 * Methods other than tools live here; tools are in tools.c.
 */
#include "core/core.h"
#include "demo/demo.h"

#include "demo/internal.h"

#define RESOURCE_NOT_FOUND -32002

static const char *const versions[] = {"2025-03-26", "2025-06-18", "2025-11-25"};

static const char readme_text[] =
    "This is the Gatehouse demo MCP server, built into the gateway so you can try it with no "
    "upstream to install. Every request you send reached it through the full gateway path: your "
    "token was verified, the policy decided, and the decision and its outcome were written to "
    "the audit log. Try the tools echo, add, sha256, time and word_count, read this resource, "
    "or get the summarize prompt. Then look at the audit file to see what was recorded.\n";

static enum gh_rc declined(struct gh_demo_call *c, int code, const char *msg)
{
    c->err_code = code;
    c->err_msg = msg;
    return GH_E_DECLINED;
}

static enum gh_rc m_initialize(struct gh_demo_call *c)
{
    const char *ver = GH_DEMO_LATEST_VERSION;
    int32_t p = c->msg->params;
    int32_t v = p >= 0 ? gh_json_obj_get(c->doc, (uint32_t)p, "protocolVersion", 15) : -1;
    for (size_t i = 0; v >= 0 && i < GH_ARRAY_LEN(versions); i++)
        if (gh_json_str_eq(c->doc, (uint32_t)v, versions[i], strlen(versions[i])))
            ver = versions[i];
    return gh_buf_appendf(
        c->out,
        "{\"protocolVersion\":\"%s\",\"capabilities\":{\"tools\":{\"listChanged\":"
        "false},\"resources\":{},\"prompts\":{}},\"serverInfo\":{\"name\":\"%s\","
        "\"version\":\"%s\"},\"instructions\":\"A demo server inside Gatehouse: "
        "call its tools and watch the audit log.\"}",
        ver, GH_DEMO_SERVER_NAME, GH_VERSION);
}

static enum gh_rc m_ping(struct gh_demo_call *c)
{
    return gh_buf_append(c->out, "{}", 2);
}

static enum gh_rc m_resources_list(struct gh_demo_call *c)
{
    static const char body[] =
        "{\"resources\":[{\"uri\":\"demo://readme\",\"name\":\"readme\",\"title\":\"About this "
        "demo\",\"description\":\"What the Gatehouse demo server is and what to try.\","
        "\"mimeType\":\"text/plain\"}]}";
    return gh_buf_append(c->out, body, sizeof(body) - 1);
}

static enum gh_rc m_templates_list(struct gh_demo_call *c)
{
    return gh_buf_appendf(c->out, "{\"resourceTemplates\":[]}");
}

static enum gh_rc m_resources_read(struct gh_demo_call *c)
{
    static const char head[] =
        "{\"contents\":[{\"uri\":\"demo://readme\",\"mimeType\":\"text/plain\",\"text\":";
    if (!gh_slice_eq_cstr(c->msg->uri, "demo://readme"))
        return declined(c, RESOURCE_NOT_FOUND, "Resource not found");
    enum gh_rc rc = gh_buf_append(c->out, head, sizeof(head) - 1);
    if (!rc)
        rc = gh_json_write_str(c->out, readme_text, sizeof(readme_text) - 1);
    if (!rc)
        rc = gh_buf_append(c->out, "}]}", 3);
    return rc;
}

static enum gh_rc m_prompts_list(struct gh_demo_call *c)
{
    static const char body[] =
        "{\"prompts\":[{\"name\":\"summarize\",\"title\":\"Summarize\",\"description\":"
        "\"Asks the model to summarize a text.\",\"arguments\":[{\"name\":\"text\","
        "\"description\":\"The text to summarize.\",\"required\":true}]}]}";
    return gh_buf_append(c->out, body, sizeof(body) - 1);
}

static enum gh_rc m_prompts_get(struct gh_demo_call *c)
{
    static const char head[] = "{\"description\":\"Summarize a text\",\"messages\":[{\"role\":"
                               "\"user\",\"content\":{\"type\":\"text\",\"text\":";
    static const char ask[] = "Please summarize the following text in a few sentences:\n\n";
    const struct gh_jsonrpc_msg *m = c->msg;
    struct gh_slice text;
    if (!gh_slice_eq_cstr(m->name, "summarize"))
        return declined(c, GH_JSONRPC_INVALID_PARAMS, "Unknown prompt");
    int32_t args = m->arguments;
    int32_t t = args >= 0 ? gh_json_obj_get(c->doc, (uint32_t)args, "text", 4) : -1;
    if (t < 0 || gh_json_str(c->doc, c->a, (uint32_t)t, &text) != GH_OK)
        return declined(c, GH_JSONRPC_INVALID_PARAMS, "Missing required argument: text");
    /* One JSON string from two pieces: write it whole so the escaping stays consistent. */
    char *joined = gh_arena_alloc(c->a, sizeof(ask) - 1 + text.len);
    memcpy(joined, ask, sizeof(ask) - 1);
    memcpy(joined + sizeof(ask) - 1, text.ptr, text.len);
    enum gh_rc rc = gh_buf_append(c->out, head, sizeof(head) - 1);
    if (!rc)
        rc = gh_json_write_str(c->out, joined, sizeof(ask) - 1 + text.len);
    if (!rc)
        rc = gh_buf_append(c->out, "}}]}", 4);
    return rc;
}

static const struct {
    const char *method;
    enum gh_rc (*fn)(struct gh_demo_call *c);
} methods[] = {
    {"initialize", m_initialize},         {"ping", m_ping},
    {"tools/list", gh_demo__tools_list},  {"tools/call", gh_demo__tools_call},
    {"resources/list", m_resources_list}, {"resources/templates/list", m_templates_list},
    {"resources/read", m_resources_read}, {"prompts/list", m_prompts_list},
    {"prompts/get", m_prompts_get},
};

/* Writes the full response to one request: a result, or an error when the method declines. */
static enum gh_rc answer(struct gh_demo_call *c)
{
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    size_t mark = c->out->len;
    enum gh_rc rc = GH_E_DECLINED;
    c->err_code = GH_JSONRPC_METHOD_NOT_FOUND;
    c->err_msg = "Method not found";
    for (size_t i = 0; i < GH_ARRAY_LEN(methods); i++) {
        if (!gh_slice_eq_cstr(c->msg->method, methods[i].method))
            continue;
        rc = gh_buf_append(c->out, head, sizeof(head) - 1);
        if (!rc)
            rc = gh_buf_append(c->out, c->msg->id_raw.ptr, c->msg->id_raw.len);
        if (!rc)
            rc = gh_buf_append(c->out, ",\"result\":", 10);
        if (!rc)
            rc = methods[i].fn(c);
        if (!rc)
            rc = gh_buf_append(c->out, "}", 1);
        break;
    }
    if (rc != GH_E_DECLINED)
        return rc;
    c->out->len = mark;
    return gh_jsonrpc_error_write(c->out, c->msg->id_raw, c->err_code, c->err_msg);
}

static enum gh_rc answer_all(struct gh_arena *a, const struct gh_jsonrpc_body *b,
                             struct gh_buf *out, int *http_status)
{
    struct gh_demo_call c = {.a = a, .doc = &b->doc, .out = out};
    uint32_t answered = 0;
    enum gh_rc rc = GH_OK;
    size_t mark = out->len;
    for (uint32_t i = 0; !rc && i < b->count; i++) {
        if (b->msgs[i].kind != GH_JSONRPC_REQUEST)
            continue; /* notifications and client responses need no answer */
        c.msg = &b->msgs[i];
        if (b->batch)
            rc = gh_buf_append(out, answered ? "," : "[", 1);
        if (!rc)
            rc = answer(&c);
        answered++;
    }
    if (!rc && b->batch && answered)
        rc = gh_buf_append(out, "]", 1);
    *http_status = answered ? 200 : 202;
    if (!answered)
        out->len = mark;
    return rc;
}

enum gh_rc gh_demo_handle(struct gh_arena *a, const char *body, size_t len, struct gh_buf *out,
                          int *http_status)
{
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err err;
    enum gh_rc rc = gh_jsonrpc_parse(a, body, len, NULL, &b, &err);
    if (rc == GH_OK)
        return answer_all(a, &b, out, http_status);
    /* Bad params of a well-formed single request are the method's answer, not a bad request. */
    *http_status = err.code == GH_JSONRPC_INVALID_PARAMS && !b.batch && err.id_raw.ptr ? 200 : 400;
    if (err.code == GH_JSONRPC_PARSE_ERROR)
        return gh_jsonrpc_error_write(out, err.id_raw, err.code, "Parse error");
    return gh_jsonrpc_error_write(out, err.id_raw, err.code, err.reason);
}
