/*
 * Unit tests for demo/: every method, every tool, and each error path of the built-in demo MCP
 * server. Responses are checked with jansson, an independent parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "demo/demo.h"

#include <jansson.h>
#include <stdio.h>

struct resp {
    int status;
    json_t *j; /* parsed body, NULL when the body is empty */
    size_t len;
};

static struct resp call_n(const char *body, size_t n)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_buf out;
    struct resp r = {0};
    gh_buf_init(&out, 1 << 20);
    assert_int_equal(gh_demo_handle(a, body, n, &out, &r.status), GH_OK);
    r.len = out.len;
    if (out.len) {
        json_error_t e;
        r.j = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &e);
        if (!r.j)
            fail_msg("response is not JSON: %.*s", (int)out.len, out.data);
    }
    gh_buf_release(&out);
    gh_arena_free(a);
    return r;
}

static struct resp call(const char *body)
{
    return call_n(body, strlen(body));
}

/* The string at a path like "result.content.0.text" (numbers index arrays), or NULL. */
static json_t *at(json_t *j, const char *path)
{
    char key[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        if (json_is_array(j))
            j = json_array_get(j, (size_t)atoi(key));
        else
            j = json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    return json_string_value(at(j, path));
}

static void assert_error(struct resp r, int status, int code)
{
    assert_int_equal(r.status, status);
    assert_non_null(r.j);
    assert_string_equal(str_at(r.j, "jsonrpc"), "2.0");
    assert_int_equal(json_integer_value(at(r.j, "error.code")), code);
    assert_non_null(str_at(r.j, "error.message"));
    assert_null(at(r.j, "result"));
}

#define REQ(id, method, params)                                                                    \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"" method "\",\"params\":" params "}"
#define TOOL(name, args) REQ("1", "tools/call", "{\"name\":\"" name "\",\"arguments\":" args "}")

static void initialize_negotiates_version(void **state)
{
    (void)state;
    static const char *vers[] = {"2025-03-26", "2025-06-18", "2025-11-25"};
    char body[256];
    for (size_t i = 0; i < GH_ARRAY_LEN(vers); i++) {
        snprintf(body, sizeof(body),
                 REQ("\"init-1\"", "initialize",
                     "{\"protocolVersion\":\"%s\",\"capabilities\":{},"
                     "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}"),
                 vers[i]);
        struct resp r = call(body);
        assert_int_equal(r.status, 200);
        assert_string_equal(str_at(r.j, "id"), "init-1");
        assert_string_equal(str_at(r.j, "result.protocolVersion"), vers[i]);
        assert_true(json_is_false(at(r.j, "result.capabilities.tools.listChanged")));
        assert_true(json_is_object(at(r.j, "result.capabilities.resources")));
        assert_true(json_is_object(at(r.j, "result.capabilities.prompts")));
        assert_string_equal(str_at(r.j, "result.serverInfo.name"), "gatehouse-demo");
        assert_non_null(str_at(r.j, "result.serverInfo.version"));
        json_decref(r.j);
    }
    struct resp r = call(REQ("1", "initialize", "{\"protocolVersion\":\"2024-11-05\"}"));
    assert_string_equal(str_at(r.j, "result.protocolVersion"), "2025-11-25");
    json_decref(r.j);
    r = call(REQ("1", "initialize", "{\"protocolVersion\":7}"));
    assert_string_equal(str_at(r.j, "result.protocolVersion"), "2025-11-25");
    json_decref(r.j);
}

static void notifications_and_responses_get_202(void **state)
{
    (void)state;
    struct resp r = call("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(r.status, 202);
    assert_int_equal(r.len, 0);
    r = call("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/unknown\",\"params\":{}}");
    assert_int_equal(r.status, 202);
    assert_int_equal(r.len, 0);
    r = call("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}");
    assert_int_equal(r.status, 202);
    assert_int_equal(r.len, 0);
}

static void ping_answers_empty_result(void **state)
{
    (void)state;
    struct resp r = call("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"ping\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(at(r.j, "id")), 42);
    assert_true(json_is_object(at(r.j, "result")));
    assert_int_equal(json_object_size(at(r.j, "result")), 0);
    json_decref(r.j);
}

static void tools_list_has_schemas(void **state)
{
    (void)state;
    static const char *names[] = {"echo", "add", "sha256", "time", "word_count"};
    struct resp r = call(REQ("1", "tools/list", "{}"));
    json_t *tools = at(r.j, "result.tools");
    assert_int_equal(json_array_size(tools), GH_ARRAY_LEN(names));
    for (size_t i = 0; i < GH_ARRAY_LEN(names); i++) {
        json_t *t = json_array_get(tools, i);
        assert_string_equal(str_at(t, "name"), names[i]);
        assert_non_null(str_at(t, "description"));
        assert_string_equal(str_at(t, "inputSchema.type"), "object");
        assert_true(json_is_object(at(t, "inputSchema.properties")));
        assert_true(json_is_array(at(t, "inputSchema.required")));
    }
    assert_string_equal(str_at(tools, "1.inputSchema.required.1"), "b");
    assert_string_equal(str_at(tools, "1.inputSchema.properties.a.type"), "number");
    json_decref(r.j);
}

static void assert_tool_text(const char *body, const char *want, bool is_error)
{
    struct resp r = call(body);
    assert_int_equal(r.status, 200);
    assert_null(at(r.j, "error"));
    assert_string_equal(str_at(r.j, "result.content.0.type"), "text");
    assert_string_equal(str_at(r.j, "result.content.0.text"), want);
    assert_true(json_is_boolean(at(r.j, "result.isError")));
    assert_int_equal(json_is_true(at(r.j, "result.isError")), is_error);
    json_decref(r.j);
}

static void tools_work(void **state)
{
    (void)state;
    assert_tool_text(TOOL("echo", "{\"message\":\"hello \\\"world\\\" \\u00e9\"}"),
                     "hello \"world\" \xc3\xa9", false);
    assert_tool_text(TOOL("add", "{\"a\":2,\"b\":40}"), "42", false);
    assert_tool_text(TOOL("add", "{\"a\":0.1,\"b\":0.2}"), "0.30000000000000004", false);
    assert_tool_text(TOOL("add", "{\"a\":-1.5,\"b\":1e3}"), "998.5", false);
    assert_tool_text(TOOL("add", "{\"a\":-0,\"b\":0}"), "0", false);
    assert_tool_text(TOOL("sha256", "{\"text\":\"abc\"}"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", false);
    assert_tool_text(TOOL("sha256", "{\"text\":\"\"}"),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", false);
    assert_tool_text(TOOL("word_count", "{\"text\":\"  the quick\\tbrown\\n\\nfox  \"}"), "4",
                     false);
    assert_tool_text(TOOL("word_count", "{\"text\":\"\"}"), "0", false);
    assert_tool_text(TOOL("word_count", "{\"text\":\"one\"}"), "1", false);
}

static void time_tool_is_iso8601_utc(void **state)
{
    (void)state;
    struct resp r = call(TOOL("time", "{}"));
    const char *t = str_at(r.j, "result.content.0.text");
    assert_non_null(t);
    assert_int_equal(strlen(t), 20);
    int y, mo, d, h, mi, s;
    char z;
    assert_int_equal(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z), 7);
    assert_int_equal(z, 'Z');
    assert_true(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
    json_decref(r.j);
    /* no arguments at all is fine too */
    r = call(REQ("1", "tools/call", "{\"name\":\"time\"}"));
    assert_int_equal(strlen(str_at(r.j, "result.content.0.text")), 20);
    json_decref(r.j);
}

static void tool_argument_errors_are_tool_results(void **state)
{
    (void)state;
    assert_tool_text(TOOL("echo", "{}"), "echo needs a string argument \"message\".", true);
    assert_tool_text(REQ("1", "tools/call", "{\"name\":\"echo\"}"),
                     "echo needs a string argument \"message\".", true);
    assert_tool_text(TOOL("echo", "{\"message\":5}"), "echo needs a string argument \"message\".",
                     true);
    assert_tool_text(TOOL("add", "{\"a\":1}"), "add needs two number arguments \"a\" and \"b\".",
                     true);
    assert_tool_text(TOOL("add", "{\"a\":\"1\",\"b\":2}"),
                     "add needs two number arguments \"a\" and \"b\".", true);
    assert_tool_text(TOOL("add", "{\"a\":1e308,\"b\":1e308}"), "The sum is out of range.", true);
    assert_tool_text(TOOL("sha256", "{\"text\":null}"), "sha256 needs a string argument \"text\".",
                     true);
    assert_tool_text(TOOL("word_count", "{\"txt\":\"a\"}"),
                     "word_count needs a string argument \"text\".", true);
}

static void tool_protocol_errors(void **state)
{
    (void)state;
    struct resp r = call(TOOL("rm_rf", "{}"));
    assert_error(r, 200, -32602);
    assert_int_equal(json_integer_value(at(r.j, "id")), 1);
    json_decref(r.j);
    r = call(TOOL("echo", "[\"hi\"]"));
    assert_error(r, 200, -32602);
    json_decref(r.j);
    r = call(REQ("9", "tools/call", "{\"arguments\":{}}")); /* no name */
    assert_error(r, 200, -32602);
    assert_int_equal(json_integer_value(at(r.j, "id")), 9);
    json_decref(r.j);
}

static void resources(void **state)
{
    (void)state;
    struct resp r = call(REQ("1", "resources/list", "{}"));
    assert_string_equal(str_at(r.j, "result.resources.0.uri"), "demo://readme");
    assert_string_equal(str_at(r.j, "result.resources.0.mimeType"), "text/plain");
    assert_null(at(r.j, "result.resources.1"));
    json_decref(r.j);
    r = call(REQ("2", "resources/read", "{\"uri\":\"demo://readme\"}"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str_at(r.j, "result.contents.0.uri"), "demo://readme");
    assert_string_equal(str_at(r.j, "result.contents.0.mimeType"), "text/plain");
    assert_non_null(strstr(str_at(r.j, "result.contents.0.text"), "Gatehouse demo"));
    json_decref(r.j);
    r = call(REQ("3", "resources/read", "{\"uri\":\"file:///etc/passwd\"}"));
    assert_error(r, 200, -32002);
    json_decref(r.j);
    r = call(REQ("4", "resources/templates/list", "{}"));
    assert_int_equal(json_array_size(at(r.j, "result.resourceTemplates")), 0);
    assert_true(json_is_array(at(r.j, "result.resourceTemplates")));
    json_decref(r.j);
}

static void prompts(void **state)
{
    (void)state;
    struct resp r = call(REQ("1", "prompts/list", "{}"));
    assert_string_equal(str_at(r.j, "result.prompts.0.name"), "summarize");
    assert_string_equal(str_at(r.j, "result.prompts.0.arguments.0.name"), "text");
    assert_true(json_is_true(at(r.j, "result.prompts.0.arguments.0.required")));
    json_decref(r.j);
    r = call(REQ("2", "prompts/get",
                 "{\"name\":\"summarize\",\"arguments\":{\"text\":\"Cats sleep.\\n\"}}"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str_at(r.j, "result.messages.0.role"), "user");
    assert_string_equal(str_at(r.j, "result.messages.0.content.type"), "text");
    assert_string_equal(str_at(r.j, "result.messages.0.content.text"),
                        "Please summarize the following text in a few sentences:\n\nCats sleep.\n");
    json_decref(r.j);
    r = call(REQ("3", "prompts/get", "{\"name\":\"summarize\",\"arguments\":{}}"));
    assert_error(r, 200, -32602);
    json_decref(r.j);
    r = call(REQ("4", "prompts/get", "{\"name\":\"nope\"}"));
    assert_error(r, 200, -32602);
    json_decref(r.j);
}

static void unknown_method(void **state)
{
    (void)state;
    struct resp r = call(REQ("\"x\"", "tools/delete", "{}"));
    assert_error(r, 200, -32601);
    assert_string_equal(str_at(r.j, "id"), "x");
    json_decref(r.j);
}

static void malformed_bodies_get_400(void **state)
{
    (void)state;
    struct resp r = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"");
    assert_error(r, 400, -32700);
    assert_true(json_is_null(at(r.j, "id")));
    json_decref(r.j);
    r = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing");
    assert_error(r, 400, -32700);
    json_decref(r.j);
    r = call_n("", 0);
    assert_error(r, 400, -32700);
    json_decref(r.j);
    r = call("{\"jsonrpc\":\"1.0\",\"id\":\"q\",\"method\":\"ping\"}");
    assert_error(r, 400, -32600);
    assert_string_equal(str_at(r.j, "id"), "q");
    json_decref(r.j);
    r = call("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}");
    assert_error(r, 400, -32600);
    assert_true(json_is_null(at(r.j, "id")));
    json_decref(r.j);
    r = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"echo\",\"name\":\"delete_all_files\"}}");
    assert_error(r, 400, -32700);
    json_decref(r.j);
    r = call("[]");
    assert_error(r, 400, -32600);
    json_decref(r.j);
}

static void batches(void **state)
{
    (void)state;
    struct resp r = call("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                         "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}]");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(r.j), 2);
    assert_int_equal(json_integer_value(at(r.j, "0.id")), 1);
    assert_true(json_is_object(at(r.j, "0.result")));
    assert_int_equal(json_integer_value(at(r.j, "1.error.code")), -32601);
    json_decref(r.j);
    r = call("[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]");
    assert_int_equal(r.status, 202);
    assert_int_equal(r.len, 0);
}

static void output_cap_is_reported(void **state)
{
    (void)state;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_buf out;
    int status = 0;
    gh_buf_init(&out, 64);
    const char *body = REQ("1", "tools/list", "{}");
    assert_int_equal(gh_demo_handle(a, body, strlen(body), &out, &status), GH_E_LIMIT);
    gh_buf_release(&out);
    gh_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initialize_negotiates_version),
        cmocka_unit_test(notifications_and_responses_get_202),
        cmocka_unit_test(ping_answers_empty_result),
        cmocka_unit_test(tools_list_has_schemas),
        cmocka_unit_test(tools_work),
        cmocka_unit_test(time_tool_is_iso8601_utc),
        cmocka_unit_test(tool_argument_errors_are_tool_results),
        cmocka_unit_test(tool_protocol_errors),
        cmocka_unit_test(resources),
        cmocka_unit_test(prompts),
        cmocka_unit_test(unknown_method),
        cmocka_unit_test(malformed_bodies_get_400),
        cmocka_unit_test(batches),
        cmocka_unit_test(output_cap_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
