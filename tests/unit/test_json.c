/* Unit tests for json/: strict parsing, limits, accessors, the writer, the JSON-RPC model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "json/json.h"

#include <stdio.h>

static struct gh_arena *A;

static int setup(void **state)
{
    (void)state;
    A = gh_arena_new(4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gh_arena_free(A);
    return 0;
}

static enum gh_rc parse_lim(const char *s, const struct gh_json_limits *lim, struct gh_json_doc *d,
                            struct gh_json_err *e)
{
    return gh_json_parse(A, s, strlen(s), lim, d, e);
}

static enum gh_rc parse(const char *s)
{
    struct gh_json_doc d;
    struct gh_json_err e;
    return parse_lim(s, NULL, &d, &e);
}

static void accepts_valid_documents(void **state)
{
    (void)state;
    static const char *ok[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "1.5e10",
        "-1E-2",
        "0.0",
        "\"\"",
        "true",
        "false",
        "null",
        " \t\r\n[1, 2 ,3]\n",
        "{\"a\":{\"b\":[null,true,{}]}}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "\"\\u0000\"",
        "{\"a\":1,\"b\":2,\"A\":3}",
        "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
        "123456789012345678901234567890",
        "\"\x7f\"",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(ok); i++) {
        if (parse(ok[i]) != GH_OK)
            fail_msg("rejected valid: %s", ok[i]);
    }
}

static void rejects_malformed_documents(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        " ",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "{\"a\" 1}",
        "{1:2}",
        "{'a':1}",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        "+1",
        "NaN",
        "Infinity",
        "-Infinity",
        "nul",
        "tru",
        "True",
        "[1]x",
        "{} {}",
        "1 2",
        "\"abc",
        "\"a\tb\"",
        "\"a\nb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "/* c */ 1",
        "[1] // c",
        "\xef\xbb\xbf{}",
        "\"\\uD800\"",
        "\"\\uDC00\"",
        "\"\\uD800\\u0041\"",
        "\"\\uD800x\"",
        "\"\\uDBFF\\uDBFF\"",
        "[1,,2]",
        "[,]",
        "{,}",
        "0x10",
        "\"\\'\"",
        "[\"a\",]",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        if (parse(bad[i]) != GH_E_PARSE)
            fail_msg("accepted or mis-rejected: %s", bad[i]);
    }
}

static void rejects_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\"\x80\"",             /* lone continuation */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
        "\"\xf0\x80\x80\xaf\"", /* overlong 4-byte */
        "\"\xed\xa0\x80\"",     /* UTF-8 encoded surrogate U+D800 */
        "\"\xed\xbf\xbf\"",     /* U+DFFF */
        "\"\xf4\x90\x80\x80\"", /* U+110000 */
        "\"\xf5\x80\x80\x80\"",
        "\"\xff\"",
        "\"\xc3\"",
        "\"\xe2\x82\"",
        "\"\xc3(\"",
        "{\"\xc3\x28\":1}",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        struct gh_json_doc d;
        struct gh_json_err e = {0};
        if (parse_lim(bad[i], NULL, &d, &e) != GH_E_PARSE)
            fail_msg("accepted bad UTF-8 #%zu", i);
        assert_non_null(e.reason);
    }
}

static void rejects_duplicate_names_after_decoding(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"a\":1,\"a\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"method\":1,\"\\u006dethod\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"\\u006dethod\":1,\"method\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"\\u006dethod\":1,\"m\\u0065thod\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"\\/\":1,\"/\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"\\uD83D\\uDE00\":1,\"\xf0\x9f\x98\x80\":2}"), GH_E_PARSE);
    assert_int_equal(parse("{\"x\":{\"a\":1},\"y\":{\"a\":1}}"), GH_OK); /* different objects */
    assert_int_equal(parse("{\"a\":1,\"ab\":1,\"a\\u0000\":1}"), GH_OK);
    assert_int_equal(parse("[{\"a\":1},{\"a\":1}]"), GH_OK);

    struct gh_json_doc d;
    struct gh_json_err e = {0};
    const char *s = "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}";
    assert_int_equal(parse_lim(s, NULL, &d, &e), GH_E_PARSE);
    assert_int_equal(e.offset, 18);
    assert_string_equal(e.reason, "duplicate member name");
}

/* Builds {"k0":0,...} with n members (and optionally a duplicate of k<dup> at the end). */
static char *big_object(int n, int dup, bool escape_dup)
{
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    gh_buf_append(&b, "{", 1);
    for (int i = 0; i < n; i++)
        gh_buf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    if (dup >= 0 && escape_dup)
        gh_buf_appendf(&b, ",\"\\u006b%d\":0", dup);
    else if (dup >= 0)
        gh_buf_appendf(&b, ",\"k%d\":0", dup);
    gh_buf_append(&b, "}", 2);
    char *s = gh_arena_strndup(A, b.data, b.len);
    gh_buf_release(&b);
    return s;
}

static void large_objects_use_the_hash_path(void **state)
{
    (void)state;
    assert_int_equal(parse(big_object(1000, -1, false)), GH_OK);
    assert_int_equal(parse(big_object(1000, 500, false)), GH_E_PARSE);
    assert_int_equal(parse(big_object(1000, 0, true)), GH_E_PARSE);
    assert_int_equal(parse(big_object(13, 12, true)), GH_E_PARSE);
    assert_int_equal(parse(big_object(12, 3, true)), GH_E_PARSE);
    struct gh_json_limits lim = {.max_members = 100};
    struct gh_json_doc d;
    struct gh_json_err e;
    assert_int_equal(parse_lim(big_object(100, -1, false), &lim, &d, &e), GH_OK);
    assert_int_equal(parse_lim(big_object(101, -1, false), &lim, &d, &e), GH_E_LIMIT);
    assert_string_equal(e.reason, "too many members");
}

static void enforces_depth_tokens_and_bytes(void **state)
{
    (void)state;
    size_t n = 10000;
    char *deep = gh_arena_alloc(A, 2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    struct gh_json_doc d;
    struct gh_json_err e;
    assert_int_equal(parse_lim(deep, NULL, &d, &e), GH_E_LIMIT);
    assert_int_equal(e.offset, 64);
    assert_string_equal(e.reason, "nesting too deep");
    /* nested objects hit the same cap, never the C stack */
    char *objs = gh_arena_alloc(A, 5 * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(objs + 5 * i, "{\"a\":", 5);
    objs[5 * n] = '\0';
    assert_int_equal(parse_lim(objs, NULL, &d, &e), GH_E_LIMIT);
    assert_int_equal(e.offset, 5 * 64);

    char ok64[129];
    memset(ok64, '[', 64);
    memset(ok64 + 64, ']', 64);
    ok64[128] = '\0';
    assert_int_equal(parse(ok64), GH_OK);
    struct gh_json_limits lim = {.max_depth = 63};
    assert_int_equal(parse_lim(ok64, &lim, &d, &e), GH_E_LIMIT);

    lim = (struct gh_json_limits){.max_tokens = 4};
    assert_int_equal(parse_lim("[1,2,3]", &lim, &d, &e), GH_OK);
    assert_int_equal(parse_lim("[1,2,3,4]", &lim, &d, &e), GH_E_LIMIT);
    lim = (struct gh_json_limits){.max_bytes = 6};
    assert_int_equal(parse_lim("[1,22]", &lim, &d, &e), GH_OK);
    assert_int_equal(parse_lim("[1,222]", &lim, &d, &e), GH_E_LIMIT);
}

static void tokens_describe_the_tree(void **state)
{
    (void)state;
    struct gh_json_doc d;
    const char *s = "{\"a\":[1,{\"b\":null}],\"c\\n\":\"x\"}";
    assert_int_equal(parse_lim(s, NULL, &d, NULL), GH_OK);
    assert_int_equal(d.ntoks, 9);
    assert_int_equal(d.toks[0].type, GH_JSON_OBJECT);
    assert_int_equal(d.toks[0].size, 2);
    assert_int_equal(d.toks[0].end, 9);
    assert_int_equal(d.toks[0].len, strlen(s));
    assert_int_equal(d.toks[2].type, GH_JSON_ARRAY);
    assert_int_equal(d.toks[2].size, 2);
    assert_int_equal(d.toks[2].end, 7);
    assert_int_equal(d.toks[7].flags & GH_JSON_F_ESCAPED, GH_JSON_F_ESCAPED);
    struct gh_slice raw = gh_json_raw(&d, 2);
    assert_int_equal(raw.len, 14);
    assert_memory_equal(raw.ptr, "[1,{\"b\":null}]", 14);
    assert_int_equal(gh_json_obj_get(&d, 0, "c\n", 2), 8);
    assert_int_equal(gh_json_obj_get(&d, 0, "c", 1), -1);
    assert_int_equal(gh_json_arr_at(&d, 2, 1), 4);
    assert_int_equal(gh_json_arr_at(&d, 2, 2), -1);
    assert_int_equal(gh_json_obj_get(&d, 4, "b", 1), 6);
    assert_int_equal(gh_json_obj_get(&d, 2, "b", 1), -1); /* not an object */
}

static void decodes_strings(void **state)
{
    (void)state;
    struct gh_json_doc d;
    struct gh_slice s;
    const char *src = "[\"plain\",\"a\\u00e9\\uD83D\\uDE00\\n\\\"\\u0000z\",1]";
    assert_int_equal(parse_lim(src, NULL, &d, NULL), GH_OK);
    assert_int_equal(gh_json_str(&d, A, 1, &s), GH_OK);
    assert_ptr_equal(s.ptr, src + 2); /* zero-copy */
    assert_int_equal(s.len, 5);
    assert_int_equal(gh_json_str(&d, A, 2, &s), GH_OK);
    assert_int_equal(s.len, 11);
    assert_memory_equal(s.ptr, "a\xc3\xa9\xf0\x9f\x98\x80\n\"\0z", 11);
    assert_true(gh_json_str_eq(&d, 2, "a\xc3\xa9\xf0\x9f\x98\x80\n\"\0z", 11));
    assert_false(gh_json_str_eq(&d, 2, "a\xc3\xa9", 3));
    assert_int_equal(gh_json_str(&d, A, 3, &s), GH_E_PARSE);
}

static void reads_numbers(void **state)
{
    (void)state;
    struct gh_json_doc d;
    int64_t v;
    double x;
    const char *src = "[9223372036854775807,-9223372036854775808,9223372036854775808,"
                      "-9223372036854775809,1.5,1e2,-0,1e999,\"1\"]";
    assert_int_equal(parse_lim(src, NULL, &d, NULL), GH_OK);
    assert_int_equal(gh_json_int64(&d, 1, &v), GH_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(gh_json_int64(&d, 2, &v), GH_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(gh_json_int64(&d, 3, &v), GH_E_LIMIT);
    assert_int_equal(gh_json_int64(&d, 4, &v), GH_E_LIMIT);
    assert_int_equal(gh_json_int64(&d, 5, &v), GH_E_PARSE);
    assert_int_equal(gh_json_int64(&d, 6, &v), GH_E_PARSE);
    assert_int_equal(gh_json_int64(&d, 7, &v), GH_OK);
    assert_true(v == 0);
    assert_int_equal(gh_json_double(&d, 5, &x), GH_OK);
    assert_true(x == 1.5);
    assert_int_equal(gh_json_double(&d, 6, &x), GH_OK);
    assert_true(x == 100.0);
    assert_int_equal(gh_json_double(&d, 8, &x), GH_E_LIMIT);
    assert_int_equal(gh_json_double(&d, 9, &x), GH_E_PARSE);
    /* a number that ends the input exactly */
    assert_int_equal(parse_lim("42", NULL, &d, NULL), GH_OK);
    assert_int_equal(gh_json_double(&d, 0, &x), GH_OK);
    assert_true(x == 42.0);
}

static void writer_escapes(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 256);
    const char in[] = "a\"b\\c\n\x01\x1b[31m\x7f caf\xc3\xa9 \xff\xc3(\xed\xa0\x80";
    assert_int_equal(gh_json_write_str(&b, in, sizeof(in) - 1), GH_OK);
    const char want[] = "\"a\\\"b\\\\c\\u000a\\u0001\\u001b[31m\\u007f caf\xc3\xa9 "
                        "\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\"";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    /* whatever goes in, what comes out parses */
    struct gh_json_doc d;
    assert_int_equal(gh_json_parse(A, b.data, b.len, NULL, &d, NULL), GH_OK);
    gh_buf_clear(&b);
    b.max = 4;
    assert_int_equal(gh_json_write_str(&b, "abcdef", 6), GH_E_LIMIT);
    gh_buf_release(&b);
}

/* The string scanner reads eight bytes at a time: put each kind of special byte at every
 * offset around the word boundaries. */
static void string_specials_at_every_offset(void **state)
{
    (void)state;
    char s[64];
    for (int pos = 0; pos < 20; pos++) {
        static const struct {
            const char *ins;
            enum gh_rc want;
        } cases[] = {{"\x01", GH_E_PARSE}, {"\x1f", GH_E_PARSE}, {"\x80", GH_E_PARSE},
                     {"\xff", GH_E_PARSE}, {"\xc3\xa9", GH_OK},  {"\\n", GH_OK},
                     {"\x7f", GH_OK},      {" ", GH_OK},         {"\"", GH_E_PARSE}};
        for (size_t k = 0; k < GH_ARRAY_LEN(cases); k++) {
            snprintf(s, sizeof(s), "\"%.*s%s%.*s\"", pos, "aaaaaaaaaaaaaaaaaaaa", cases[k].ins,
                     19 - pos, "bbbbbbbbbbbbbbbbbbbb");
            if (parse(s) != cases[k].want)
                fail_msg("offset %d case %zu", pos, k);
        }
    }
}

/* ---- JSON-RPC ---- */

static enum gh_rc rpc(const char *s, struct gh_jsonrpc_body *out, struct gh_jsonrpc_err *e)
{
    return gh_jsonrpc_parse(A, s, strlen(s), NULL, out, e);
}

static void rpc_request_fields(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    const char *s = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                    "\"params\":{\"name\":\"ec\\u0068o\",\"arguments\":{\"message\":\"hi\"}}}";
    assert_int_equal(rpc(s, &b, &e), GH_OK);
    assert_false(b.batch);
    assert_int_equal(b.count, 1);
    struct gh_jsonrpc_msg *m = &b.msgs[0];
    assert_int_equal(m->kind, GH_JSONRPC_REQUEST);
    assert_int_equal(m->id_type, GH_JSONRPC_ID_INT);
    assert_int_equal(m->id_int, 7);
    assert_true(gh_slice_eq_cstr(m->id_raw, "7"));
    assert_true(gh_slice_eq_cstr(m->method, "tools/call"));
    assert_true(gh_slice_eq_cstr(m->name, "echo"));
    assert_null(m->uri.ptr);
    assert_int_equal(b.doc.toks[m->params].type, GH_JSON_OBJECT);
    assert_int_equal(b.doc.toks[m->arguments].type, GH_JSON_OBJECT);

    s = "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"resources/read\","
        "\"params\":{\"uri\":\"demo://readme\"}}";
    assert_int_equal(rpc(s, &b, &e), GH_OK);
    m = &b.msgs[0];
    assert_int_equal(m->id_type, GH_JSONRPC_ID_STR);
    assert_true(gh_slice_eq_cstr(m->id_raw, "\"a\\\"b\""));
    assert_true(gh_slice_eq_cstr(m->uri, "demo://readme"));

    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &b, &e),
                     GH_OK);
    assert_int_equal(b.msgs[0].kind, GH_JSONRPC_NOTIFICATION);
    assert_int_equal(b.msgs[0].id_type, GH_JSONRPC_ID_NONE);
    assert_null(b.msgs[0].id_raw.ptr);
    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"ping\","
                         "\"params\":[1]}",
                         &b, &e),
                     GH_OK);
    assert_true(b.msgs[0].id_int == INT64_MIN);
}

static void rpc_responses(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", &b, &e), GH_OK);
    assert_int_equal(b.msgs[0].kind, GH_JSONRPC_RESULT);
    assert_true(b.msgs[0].result > 0);
    assert_int_equal(
        rpc("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}", &b,
            &e),
        GH_OK);
    assert_int_equal(b.msgs[0].kind, GH_JSONRPC_ERROR);
    assert_int_equal(b.msgs[0].id_type, GH_JSONRPC_ID_NULL);
    static const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,\"message\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"params\":{}}",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        if (rpc(bad[i], &b, &e) != GH_E_PARSE || e.code != GH_JSONRPC_INVALID_REQUEST)
            fail_msg("accepted bad response: %s", bad[i]);
    }
}

static void rpc_rejects_bad_requests(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}",
        "{\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0 \",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1e3,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999999,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775808,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":\"x\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"Method\":\"tools/call\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"METHOD\":\"tools/call\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"param\xc5\xbf\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"param\\u017f\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
        "\"params\":{\"name\":\"echo\",\"Name\":\"delete_all_files\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
        "\"params\":{\"name\":\"echo\",\"arguments\":{},\"ARGUMENTS\":{}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
        "\"params\":{\"name\":\"echo\",\"\xe2\x84\xaa\":1,\"uR\\u0130\":\"x\"}}",
        "[1]",
        "\"ping\"",
        "42",
    };
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        if (rpc(bad[i], &b, &e) != GH_E_PARSE || e.code != GH_JSONRPC_INVALID_REQUEST)
            fail_msg("accepted or mis-coded bad request #%zu: %s", i, bad[i]);
    }
    /* unrelated unknown members are fine */
    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":1}", &b, &e),
                     GH_OK);
    /* the faulty message's id is kept for the error response */
    assert_int_equal(rpc("{\"jsonrpc\":\"1.0\",\"id\":\"abc\",\"method\":\"ping\"}", &b, &e),
                     GH_E_PARSE);
    assert_true(gh_slice_eq_cstr(e.id_raw, "\"abc\""));
}

static void rpc_duplicate_key_bypass(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    const char *s = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                    "\"params\":{\"name\":\"echo\",\"name\":\"delete_all_files\"}}";
    assert_int_equal(rpc(s, &b, &e), GH_E_PARSE);
    assert_int_equal(e.code, GH_JSONRPC_PARSE_ERROR);
    assert_string_equal(e.reason, "duplicate member name");
    s = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"\\u006dethod\":\"tools/call\"}";
    assert_int_equal(rpc(s, &b, &e), GH_E_PARSE);
    assert_int_equal(e.code, GH_JSONRPC_PARSE_ERROR);
}

static void rpc_params_rules(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    static const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":1}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"name\":\"x\"}}",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        if (rpc(bad[i], &b, &e) != GH_E_PARSE || e.code != GH_JSONRPC_INVALID_PARAMS)
            fail_msg("accepted bad params #%zu", i);
    }
}

static void rpc_batches(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    const char *s = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                    "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}]";
    assert_int_equal(rpc(s, &b, &e), GH_OK);
    assert_true(b.batch);
    assert_int_equal(b.count, 3);
    assert_int_equal(b.msgs[0].kind, GH_JSONRPC_REQUEST);
    assert_int_equal(b.msgs[1].kind, GH_JSONRPC_NOTIFICATION);
    assert_int_equal(b.msgs[2].kind, GH_JSONRPC_RESULT);
    assert_int_equal(b.msgs[2].id_int, 2);

    assert_int_equal(rpc("[]", &b, &e), GH_E_PARSE);
    assert_int_equal(e.code, GH_JSONRPC_INVALID_REQUEST);
    s = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"1.0\",\"id\":2}]";
    assert_int_equal(rpc(s, &b, &e), GH_E_PARSE);
    assert_int_equal(e.index, 1);
    assert_true(gh_slice_eq_cstr(e.id_raw, "2"));
    assert_int_equal(rpc("[[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]]", &b, &e),
                     GH_E_PARSE);

    struct gh_jsonrpc_limits lim = {.max_batch = 2};
    s = "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"method\":\"b\"}]";
    assert_int_equal(gh_jsonrpc_parse(A, s, strlen(s), &lim, &b, &e), GH_OK);
    s = "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"method\":\"b\"},"
        "{\"jsonrpc\":\"2.0\",\"method\":\"c\"}]";
    assert_int_equal(gh_jsonrpc_parse(A, s, strlen(s), &lim, &b, &e), GH_E_LIMIT);
    assert_int_equal(e.code, GH_JSONRPC_INVALID_REQUEST);
}

static void rpc_not_json(void **state)
{
    (void)state;
    struct gh_jsonrpc_body b;
    struct gh_jsonrpc_err e;
    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", &b, &e),
                     GH_E_PARSE);
    assert_int_equal(e.code, GH_JSONRPC_PARSE_ERROR);
    assert_int_equal(e.offset, 41);
    assert_string_equal(e.reason, "trailing bytes after value");
    assert_null(e.id_raw.ptr);
    assert_int_equal(rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", &b, &e), GH_E_PARSE);
    assert_int_equal(e.code, GH_JSONRPC_PARSE_ERROR);
}

static void rpc_error_writer(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    assert_int_equal(gh_jsonrpc_error_write(&b, (struct gh_slice){0}, -32700, "Parse error"),
                     GH_OK);
    const char *want =
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\"}}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    gh_buf_clear(&b);
    assert_int_equal(gh_jsonrpc_error_write(&b, GH_SLICE_LIT("\"x\\\"y\""), -32601, "no \"such\""),
                     GH_OK);
    want = "{\"jsonrpc\":\"2.0\",\"id\":\"x\\\"y\",\"error\":{\"code\":-32601,"
           "\"message\":\"no \\\"such\\\"\"}}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    gh_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid_documents),
        cmocka_unit_test(rejects_malformed_documents),
        cmocka_unit_test(rejects_invalid_utf8),
        cmocka_unit_test(rejects_duplicate_names_after_decoding),
        cmocka_unit_test(large_objects_use_the_hash_path),
        cmocka_unit_test(enforces_depth_tokens_and_bytes),
        cmocka_unit_test(tokens_describe_the_tree),
        cmocka_unit_test(decodes_strings),
        cmocka_unit_test(reads_numbers),
        cmocka_unit_test(writer_escapes),
        cmocka_unit_test(string_specials_at_every_offset),
        cmocka_unit_test(rpc_request_fields),
        cmocka_unit_test(rpc_responses),
        cmocka_unit_test(rpc_rejects_bad_requests),
        cmocka_unit_test(rpc_duplicate_key_bypass),
        cmocka_unit_test(rpc_params_rules),
        cmocka_unit_test(rpc_batches),
        cmocka_unit_test(rpc_not_json),
        cmocka_unit_test(rpc_error_writer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
