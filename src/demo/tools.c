/*
 * demo/tools.c owns the demo tools — echo, add, sha256, time, word_count — their definitions
 * (tools/list) and their implementations (tools/call). Argument errors are tool results with
 * isError:true, so the model sees them; only an unknown tool is a protocol error.
 */
#include "core/core.h"
#include "demo/demo.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "demo/internal.h"

#define OBJ(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"
#define STR(name, desc) "\"" name "\":{\"type\":\"string\",\"description\":\"" desc "\"}"
#define NUM(name, desc) "\"" name "\":{\"type\":\"number\",\"description\":\"" desc "\"}"

static const char tools_json[] =
    "{\"tools\":["
    "{\"name\":\"echo\",\"title\":\"Echo\",\"description\":\"Returns the message it is given.\","
    "\"inputSchema\":" OBJ(
        STR("message", "Text to send back."),
        "\"message\"") "},"
                       "{\"name\":\"add\",\"title\":\"Add\",\"description\":\"Adds two numbers.\","
                       "\"inputSchema\":" OBJ(
                           NUM("a", "First addend.") "," NUM("b", "Second addend."),
                           "\"a\",\"b\"") "},"
                                          "{\"name\":\"sha256\",\"title\":\"SHA-256\","
                                          "\"description\":\"Returns the lowercase hex SHA-256 "
                                          "digest of the UTF-8 text.\","
                                          "\"inputSchema\":" OBJ(
                                              STR("text", "Text to hash."),
                                              "\"text\"") "},"
                                                          "{\"name\":\"time\",\"title\":\"Current "
                                                          "time\","
                                                          "\"description\":\"Returns the current "
                                                          "UTC time in ISO 8601.\","
                                                          "\"inputSchema\":{\"type\":\"object\","
                                                          "\"properties\":{},\"required\":[]}},"
                                                          "{\"name\":\"word_count\",\"title\":"
                                                          "\"Word count\","
                                                          "\"description\":\"Counts the "
                                                          "whitespace-separated words in the "
                                                          "text.\","
                                                          "\"inputSchema\":" OBJ(
                                                              STR("text", "Text to count."),
                                                              "\"text\"") "}"
                                                                          "]}";

enum gh_rc gh_demo__tools_list(struct gh_demo_call *c)
{
    return gh_buf_append(c->out, tools_json, sizeof(tools_json) - 1);
}

/* Writes {"content":[{"type":"text","text":<text>}],"isError":<is_error>}. */
static enum gh_rc text_result(struct gh_demo_call *c, const char *text, size_t n, bool is_error)
{
    static const char head[] = "{\"content\":[{\"type\":\"text\",\"text\":";
    enum gh_rc rc = gh_buf_append(c->out, head, sizeof(head) - 1);
    if (!rc)
        rc = gh_json_write_str(c->out, text, n);
    if (!rc)
        rc = gh_buf_appendf(c->out, "}],\"isError\":%s}", is_error ? "true" : "false");
    return rc;
}

static enum gh_rc tool_error(struct gh_demo_call *c, const char *why)
{
    return text_result(c, why, strlen(why), true);
}

/* The string argument `name`, decoded; false when absent or not a string. */
static bool arg_str(struct gh_demo_call *c, const char *name, struct gh_slice *out)
{
    if (c->msg->arguments < 0)
        return false;
    int32_t v = gh_json_obj_get(c->doc, (uint32_t)c->msg->arguments, name, strlen(name));
    return v >= 0 && gh_json_str(c->doc, c->a, (uint32_t)v, out) == GH_OK;
}

static bool arg_num(struct gh_demo_call *c, const char *name, double *out)
{
    if (c->msg->arguments < 0)
        return false;
    int32_t v = gh_json_obj_get(c->doc, (uint32_t)c->msg->arguments, name, strlen(name));
    return v >= 0 && gh_json_double(c->doc, (uint32_t)v, out) == GH_OK;
}

static enum gh_rc t_echo(struct gh_demo_call *c)
{
    struct gh_slice m;
    if (!arg_str(c, "message", &m))
        return tool_error(c, "echo needs a string argument \"message\".");
    return text_result(c, m.ptr, m.len, false);
}

/* Shortest %g form that reads back as exactly x. */
static int fmt_double(char *buf, size_t n, double x)
{
    int len = 0;
    for (int prec = 1; prec <= 17; prec++) {
        len = snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return len;
}

static enum gh_rc t_add(struct gh_demo_call *c)
{
    double x, y;
    char buf[40];
    if (!arg_num(c, "a", &x) || !arg_num(c, "b", &y))
        return tool_error(c, "add needs two number arguments \"a\" and \"b\".");
    double sum = x + y;
    if (!isfinite(sum))
        return tool_error(c, "The sum is out of range.");
    int n = fmt_double(buf, sizeof(buf), sum == 0 ? 0 : sum); /* no "-0" */
    return text_result(c, buf, (size_t)n, false);
}

static enum gh_rc t_sha256(struct gh_demo_call *c)
{
    struct gh_slice t;
    unsigned char md[32];
    char hex[65];
    if (!arg_str(c, "text", &t))
        return tool_error(c, "sha256 needs a string argument \"text\".");
    gh_sha256(t.ptr, t.len, md);
    gh_hex_encode(md, sizeof(md), hex);
    return text_result(c, hex, 64, false);
}

static enum gh_rc t_time(struct gh_demo_call *c)
{
    time_t now = (time_t)gh_clock_wall_s();
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&now, &tm))
        return tool_error(c, "The clock is unavailable.");
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text_result(c, buf, n, false);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static enum gh_rc t_word_count(struct gh_demo_call *c)
{
    struct gh_slice t;
    char buf[24];
    size_t words = 0;
    bool in_word = false;
    if (!arg_str(c, "text", &t))
        return tool_error(c, "word_count needs a string argument \"text\".");
    for (size_t i = 0; i < t.len; i++) {
        bool sp = is_space(t.ptr[i]);
        words += !sp && !in_word;
        in_word = !sp;
    }
    int n = snprintf(buf, sizeof(buf), "%zu", words);
    return text_result(c, buf, (size_t)n, false);
}

static const struct {
    const char *name;
    enum gh_rc (*fn)(struct gh_demo_call *c);
} tools[] = {
    {"echo", t_echo},
    {"add", t_add},
    {"sha256", t_sha256},
    {"time", t_time},
    {"word_count", t_word_count},
};

enum gh_rc gh_demo__tools_call(struct gh_demo_call *c)
{
    const struct gh_jsonrpc_msg *m = c->msg;
    if (m->arguments >= 0 && c->doc->toks[m->arguments].type != GH_JSON_OBJECT) {
        c->err_code = GH_JSONRPC_INVALID_PARAMS;
        c->err_msg = "arguments must be an object";
        return GH_E_DECLINED;
    }
    for (size_t i = 0; i < GH_ARRAY_LEN(tools); i++)
        if (gh_slice_eq_cstr(m->name, tools[i].name))
            return tools[i].fn(c);
    c->err_code = GH_JSONRPC_INVALID_PARAMS;
    c->err_msg = "Unknown tool";
    return GH_E_DECLINED;
}
