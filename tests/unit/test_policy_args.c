/* Unit tests for policy/args.c and policy/limit.c: every argument constraint with passing and
 * failing values, the argument tricks of the threat model (traversal, schemes, sibling
 * directories, NUL bytes, catastrophic regexes), globs, and the limiter (concurrency, token
 * bucket, scopes, atomic refusals, the bounded table, threads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "config/config.h"
#include "json/json.h"
#include "policy/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

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

/* Loads yaml into a node tree (in A) and returns its root. */
static enum gh_rc load_tree(const char *yaml, struct gh_config_node **root,
                            struct gh_config_error *err)
{
    char path[] = "/tmp/gh_test_policy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(yaml);
    assert_int_equal(write(fd, yaml, len), (ssize_t)len);
    close(fd);
    enum gh_rc rc = gh_config_tree_load_file(path, A, root, err);
    unlink(path);
    return rc;
}

/* Compiles the constraint mapping written as the value of key c in yaml. */
static enum gh_rc compile(const char *yaml, struct gh_policy_argcheck **out,
                          struct gh_config_error *err)
{
    struct gh_config_node *root = NULL;
    enum gh_rc rc = load_tree(yaml, &root, err);
    assert_int_equal(rc, GH_OK);
    const struct gh_config_node *n = gh_config_node_get(root, "c");
    assert_non_null(n);
    return gh_policy_argcheck_compile(NULL, n, out, err);
}

static struct gh_policy_argcheck *must_compile(const char *yaml)
{
    struct gh_policy_argcheck *c = NULL;
    struct gh_config_error err = {0};
    enum gh_rc rc = compile(yaml, &c, &err);
    if (rc)
        fail_msg("compile failed: %d:%d %s: %s", err.line, err.column, err.path, err.msg);
    assert_non_null(c);
    return c;
}

/* Expects compiling to fail with a message containing want (and never containing secret). */
static void compile_error(const char *yaml, const char *want, const char *secret)
{
    struct gh_policy_argcheck *c = (void *)1;
    struct gh_config_error err = {0};
    char msg[1024];
    assert_int_equal(compile(yaml, &c, &err), GH_E_PARSE);
    assert_null(c);
    gh_config_error_format(&err, msg, sizeof(msg));
    if (!strstr(msg, want))
        fail_msg("error '%s' lacks '%s'", msg, want);
    if (secret && strstr(msg, secret))
        fail_msg("error '%s' quotes the configured value", msg);
    assert_true(err.line > 0);
}

/* Checks JSON value json against c; *why gets the failed constraint. json NULL: absent. */
static bool check(const struct gh_policy_argcheck *c, const char *json, const char **why)
{
    struct gh_json_doc doc;
    char *src;
    *why = NULL;
    if (!json)
        return gh_policy_argcheck_eval(c, NULL, -1, why);
    src = gh_arena_sprintf(A, "{\"v\": %s}", json);
    assert_int_equal(gh_json_parse(A, src, strlen(src), NULL, &doc, NULL), GH_OK);
    int32_t v = gh_json_obj_get(&doc, 0, "v", 1);
    assert_true(v > 0);
    return gh_policy_argcheck_eval(c, &doc, v, why);
}

#define PASS(c, json)                                                                              \
    do {                                                                                           \
        const char *w_;                                                                            \
        if (!check((c), (json), &w_))                                                              \
            fail_msg("%s should pass (failed %s)", (json) ? (json) : "(absent)", w_);              \
    } while (0)

#define FAIL(c, json, want)                                                                        \
    do {                                                                                           \
        const char *w_;                                                                            \
        if (check((c), (json), &w_))                                                               \
            fail_msg("%s should fail %s", (json) ? (json) : "(absent)", (want));                   \
        assert_string_equal(w_, (want));                                                           \
    } while (0)

/* ---- types ---- */

static void type_each(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {type: string}\n");
    PASS(c, "\"x\"");
    PASS(c, "\"\"");
    FAIL(c, "1", "type");
    FAIL(c, "[\"x\"]", "type");
    FAIL(c, "null", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: integer}\n");
    PASS(c, "5");
    PASS(c, "-0");
    PASS(c, "-9223372036854775808");
    PASS(c, "9223372036854775807");
    FAIL(c, "9223372036854775808", "type"); /* does not fit int64 */
    FAIL(c, "5.0", "type");
    FAIL(c, "1e2", "type");
    FAIL(c, "\"5\"", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: number}\n");
    PASS(c, "5");
    PASS(c, "-2.5e-3");
    FAIL(c, "\"5\"", "type");
    FAIL(c, "true", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: boolean}\n");
    PASS(c, "true");
    PASS(c, "false");
    FAIL(c, "0", "type");
    FAIL(c, "\"true\"", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: array}\n");
    PASS(c, "[]");
    PASS(c, "[1, \"a\"]");
    FAIL(c, "{}", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: object}\n");
    PASS(c, "{\"a\": 1}");
    FAIL(c, "[]", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: \"null\"}\n");
    PASS(c, "null");
    FAIL(c, "\"null\"", "type");
    FAIL(c, "0", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {}\n"); /* no constraint: anything present passes */
    PASS(c, "[1,2,3]");
    PASS(c, "null");
    PASS(c, NULL);
    gh_policy_argcheck_free(c);
}

/* ---- enum / const ---- */

static void enum_compares_by_value(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c =
        must_compile("c:\n  enum: [read, \"1\", 2, 2.5, true, null, \"caf\\u00e9\"]\n");
    PASS(c, "\"read\"");
    PASS(c, "\"re\\u0061d\""); /* compared after unescaping */
    PASS(c, "\"1\"");
    PASS(c, "2");
    PASS(c, "2.0"); /* numerically */
    PASS(c, "20e-1");
    PASS(c, "2.5");
    PASS(c, "true");
    PASS(c, "null");
    PASS(c, "\"caf\\u00e9\"");
    PASS(c, "\"café\"");
    FAIL(c, "1", "enum");     /* the number 1 is not the string "1" */
    FAIL(c, "\"2\"", "enum"); /* nor the string "2" the number 2 */
    FAIL(c, "\"true\"", "enum");
    FAIL(c, "false", "enum");
    FAIL(c, "\"READ\"", "enum"); /* case-sensitive */
    FAIL(c, "\"read\\u0000\"", "enum");
    FAIL(c, "[\"read\"]", "enum");
    FAIL(c, "{}", "enum");
    PASS(c, NULL); /* absent, not required */
    gh_policy_argcheck_free(c);

    /* big integers compare exactly, not through doubles */
    c = must_compile("c:\n  enum: [9007199254740993]\n");
    PASS(c, "9007199254740993");
    FAIL(c, "9007199254740992", "enum");
    gh_policy_argcheck_free(c);
}

static void const_matches_one_value(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {const: main}\n");
    PASS(c, "\"main\"");
    FAIL(c, "\"main \"", "const");
    FAIL(c, "\"mai\"", "const");
    FAIL(c, "1", "const");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {const: false}\n");
    PASS(c, "false");
    FAIL(c, "\"false\"", "const");
    FAIL(c, "0", "const");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {const: \"false\"}\n"); /* quoted: a string */
    PASS(c, "\"false\"");
    FAIL(c, "false", "const");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {const: -1.5}\n");
    PASS(c, "-1.5");
    PASS(c, "-15e-1");
    FAIL(c, "-1.4", "const");
    gh_policy_argcheck_free(c);
}

/* ---- max_length ---- */

static void max_length_counts_code_points(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {max_length: 5}\n");
    PASS(c, "\"hello\"");
    PASS(c, "\"h\\u00e9llo\"");        /* 6 bytes, 5 code points */
    PASS(c, "\"日本語です\"");         /* 15 bytes, 5 code points */
    PASS(c, "\"\\ud83d\\ude00abcd\""); /* a surrogate pair is one code point */
    PASS(c, "\"\"");
    FAIL(c, "\"hello!\"", "max_length");
    FAIL(c, "\"日本語ですね\"", "max_length");
    PASS(c, "[1,2,3,4,5]");
    FAIL(c, "[1,2,3,4,5,6]", "max_length");
    FAIL(c, "12", "max_length"); /* wrong type */
    FAIL(c, "{}", "max_length");
    gh_policy_argcheck_free(c);

    /* an overlong string (10 KB) against a small cap */
    c = must_compile("c: {type: string, max_length: 256}\n");
    char *big = gh_arena_alloc(A, 10003);
    big[0] = '"';
    memset(big + 1, 'x', 10000);
    big[10001] = '"';
    big[10002] = '\0';
    FAIL(c, big, "max_length");
    big[257] = '"';
    big[258] = '\0';
    PASS(c, big);
    gh_policy_argcheck_free(c);

    c = must_compile("c: {max_length: 0}\n");
    PASS(c, "\"\"");
    PASS(c, "[]");
    FAIL(c, "\"a\"", "max_length");
    gh_policy_argcheck_free(c);
}

/* ---- min / max ---- */

static void min_max_inclusive(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {min: 1, max: 100}\n");
    PASS(c, "1");
    PASS(c, "100");
    PASS(c, "50.5");
    PASS(c, "1e2");
    FAIL(c, "0", "min");
    FAIL(c, "0.999", "min");
    FAIL(c, "-5", "min");
    FAIL(c, "100.0001", "max");
    FAIL(c, "1e3", "max");
    FAIL(c, "1e400", "min");  /* out of double range: no bound holds */
    FAIL(c, "\"50\"", "min"); /* type mismatch fails */
    FAIL(c, "true", "min");
    FAIL(c, "null", "min");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: integer, max: -1.5}\n");
    PASS(c, "-2");
    FAIL(c, "-1", "max");
    FAIL(c, "-2.5", "type");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {max: 9223372036854775806}\n"); /* exact at int64 scale */
    PASS(c, "9223372036854775806");
    FAIL(c, "9223372036854775807", "max");
    gh_policy_argcheck_free(c);

    /* mixed int64 and double comparisons do not round the int64 */
    c = must_compile("c: {max: 9223372036854775807, min: -9007199254740993}\n");
    PASS(c, "9223372036854775807");
    FAIL(c, "9223372036854775808", "max"); /* beyond int64: a double, still above */
    FAIL(c, "1e19", "max");
    PASS(c, "9.2e18");
    PASS(c, "-9007199254740993");
    FAIL(c, "-9007199254740994", "min");
    FAIL(c, "-9007199254740994.0", "min");
    PASS(c, "-9007199254740992.0");
    gh_policy_argcheck_free(c);
    c = must_compile("c: {min: 2.5, max: 3}\n");
    PASS(c, "2.5");
    PASS(c, "3");
    PASS(c, "3.0");
    FAIL(c, "3.0000001", "max");
    FAIL(c, "2", "min");
    gh_policy_argcheck_free(c);
}

/* ---- prefix / glob ---- */

static void prefix_on_decoded_string(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {prefix: \"https://docs.\"}\n");
    PASS(c, "\"https://docs.example\"");
    PASS(c, "\"https://docs.\"");
    PASS(c, "\"https:\\/\\/docs.x\""); /* escaped slashes decode to the prefix */
    FAIL(c, "\"http://docs.example\"", "prefix");
    FAIL(c, "\"https://doc\"", "prefix");
    FAIL(c, "\"https://docs.x\\u0000y\"", "prefix"); /* NUL never passes */
    FAIL(c, "1", "prefix");
    gh_policy_argcheck_free(c);
}

static void glob_on_decoded_string(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {glob: \"*.md\"}\n");
    PASS(c, "\"README.md\"");
    PASS(c, "\".md\"");
    PASS(c, "\"a\\u002emd\"");
    FAIL(c, "\"README.md.sh\"", "glob"); /* whole value */
    FAIL(c, "\"x.md\\u0000.sh\"", "glob");
    FAIL(c, "\"x.md\\u0000\"", "glob");
    FAIL(c, "[\"a.md\"]", "glob");
    gh_policy_argcheck_free(c);
}

static bool g(const char *pat, const char *s)
{
    return gh_policy_glob(gh_slice_cstr(pat), gh_slice_cstr(s));
}

static void glob_edge_cases(void **state)
{
    (void)state;
    assert_true(g("", ""));
    assert_false(g("", "a"));
    assert_true(g("*", ""));
    assert_true(g("*", "anything at all"));
    assert_true(g("**", ""));
    assert_false(g("?", ""));
    assert_true(g("?", "a"));
    assert_false(g("?", "ab"));
    assert_true(g("??", "ab"));
    assert_true(g("a*", "a"));
    assert_true(g("*a", "a"));
    assert_true(g("a*b*c", "abc"));
    assert_true(g("a*b*c", "aXXbYYc"));
    assert_true(g("a*b*c", "abcbc"));
    assert_false(g("a*b*c", "aXXbYYcZ"));
    assert_false(g("a*b*c", "acb"));
    assert_true(g("*.*", "fs.read"));
    assert_false(g("fs.*", "fsx.read"));
    assert_true(g("fs.*", "fs."));
    assert_false(g("fs.read", "fs.Read")); /* case-sensitive */
    assert_true(g("[a]", "[a]"));          /* no classes: literal */
    assert_false(g("[a]", "a"));
    assert_true(g("\\*", "\\x")); /* no escapes either: \ is literal, * still a star */
    assert_true(g("*?", "x"));
    assert_false(g("*?", ""));
    assert_true(g("*ab", "aab"));
    assert_true(g("*aab", "aaab"));
    /* non-NUL-terminated slices: only len bytes count */
    assert_true(gh_policy_glob(gh_slice("ab*", 2), gh_slice("abc", 2)));
    /* a pattern that makes naive backtracking explode: quick here */
    char s[4097];
    memset(s, 'a', 4096);
    s[4096] = '\0';
    uint64_t t0 = gh_clock_ms();
    assert_false(g("*a*a*a*a*a*a*a*a*a*a*b", s));
    assert_true(g("*a*a*a*a*a*a*a*a*a*a*", s));
    assert_true(gh_clock_ms() - t0 < 1000);
}

/* ---- regex ---- */

static void regex_matches_whole_value(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {regex: \"[a-z]+\"}\n");
    PASS(c, "\"abc\"");
    FAIL(c, "\"abc1\"", "regex");   /* ENDANCHORED */
    FAIL(c, "\"1abc\"", "regex");   /* ANCHORED */
    FAIL(c, "\"abc\\n\"", "regex"); /* no $-style trailing newline */
    FAIL(c, "\"\"", "regex");
    FAIL(c, "\"ab\\u0000c\"", "regex");
    FAIL(c, "5", "regex");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {regex: \"a|b\"}\n"); /* alternation is anchored as a whole */
    PASS(c, "\"a\"");
    PASS(c, "\"b\"");
    FAIL(c, "\"ab\"", "regex");
    FAIL(c, "\"xb\"", "regex");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {regex: \".{3}\"}\n"); /* UTF: one dot per code point */
    PASS(c, "\"caf\"");
    PASS(c, "\"c\\u00e9f\"");
    PASS(c, "\"日本語\"");
    FAIL(c, "\"cafés\"", "regex");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {regex: \"[^x]*\"}\n"); /* NUL refused even where the regex allows */
    PASS(c, "\"abc\"");
    FAIL(c, "\"a\\u0000\"", "regex");
    gh_policy_argcheck_free(c);
}

static void regex_catastrophic_backtracking_fails_fast(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {regex: \"(a+)+$\"}\n");
    PASS(c, "\"aaaa\"");
    uint64_t t0 = gh_clock_ms();
    FAIL(c, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"", "regex");
    assert_true(gh_clock_ms() - t0 < 1000);
    gh_policy_argcheck_free(c);

    /* a nested quantifier that the match limit must stop (no auto-possessify rescue) */
    c = must_compile("c: {regex: \"(x+x+)+y\"}\n");
    char *s = gh_arena_alloc(A, 64);
    snprintf(s, 64, "\"%s\"", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    t0 = gh_clock_ms();
    FAIL(c, s, "regex");
    assert_true(gh_clock_ms() - t0 < 1000);
    PASS(c, "\"xxy\"");
    gh_policy_argcheck_free(c);

    /* fail closed: this value WOULD match (via .*z) given unlimited work, but the match limit
     * stops the first alternative's exponential search first; a short one still matches */
    c = must_compile("c: {regex: \"(?:(x+x+)+y|.*z)\"}\n");
    PASS(c, "\"xxxxxxxxxxxxz\"");
    FAIL(c, "\"xxxxxxxxxxxxxxxxxxxxz\"", "regex");
    gh_policy_argcheck_free(c);

    /* the depth limit: a group that leaves a backtracking point per character refuses long
     * values; a character class does not */
    char *long_a = gh_arena_alloc(A, 5003);
    long_a[0] = '"';
    memset(long_a + 1, 'a', 5000);
    long_a[5001] = '"';
    long_a[5002] = '\0';
    c = must_compile("c: {regex: \"(?:a|b)*\"}\n");
    FAIL(c, long_a, "regex");
    PASS(c, "\"abba\"");
    gh_policy_argcheck_free(c);
    c = must_compile("c: {regex: \"[ab]*\"}\n");
    PASS(c, long_a);
    gh_policy_argcheck_free(c);
}

/* Capturing groups need more ovector pairs than the one the shared match data has: PCRE2 then
 * returns 0 ("matched, no room for the groups"), which must count as a match. */
static void regex_groups_match(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {regex: \"(a|b)+(c)(d)?\"}\n");
    PASS(c, "\"abc\"");
    PASS(c, "\"bacd\"");
    FAIL(c, "\"abx\"", "regex");
    gh_policy_argcheck_free(c);
}

static void regex_bad_pattern_is_config_error(void **state)
{
    (void)state;
    compile_error("c: {regex: \"(secret\"}\n", "missing closing parenthesis", "secret");
    compile_error("c: {regex: \"a{2,1}secret\"}\n", "bad regex", "secret");
    compile_error("c: {regex: \"\\\\C\"}\n", "bad regex", NULL); /* \C is never allowed */
    compile_error("c: {regex: \"\"}\n", "non-empty", NULL);
}

/* ---- path_under ---- */

static void path_under_roots(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c =
        must_compile("c:\n  path_under: [/allowed_dir, \"/projects/\", //data/./x//]\n");
    PASS(c, "\"/allowed_dir\"");
    PASS(c, "\"/allowed_dir/\"");
    PASS(c, "\"/allowed_dir/a/b.txt\"");
    PASS(c, "\"/projects\"");
    PASS(c, "\"/projects/a\"");
    PASS(c, "\"/projects//a/./b\"");
    PASS(c, "\"//projects/a\"");
    PASS(c, "\"/./projects/a\"");
    PASS(c, "\"/data/x/y\"");
    PASS(c, "\"/projects/...\""); /* three dots is a name */
    PASS(c, "\"/projects/..a\"");
    PASS(c, "\"/projects/%2e%2e\""); /* no percent-decoding: a literal name */
    /* CVE-2025-53110: a sibling sharing the prefix is not under the root */
    FAIL(c, "\"/allowed_dir_evil\"", "path_under");
    FAIL(c, "\"/allowed_dir_evil/x\"", "path_under");
    FAIL(c, "\"/allowed_di\"", "path_under");
    FAIL(c, "\"/data\"", "path_under");
    /* traversal, in every spelling the decoder produces */
    FAIL(c, "\"/projects/../etc/passwd\"", "path_under");
    FAIL(c, "\"/projects/\\u002e\\u002e/etc/passwd\"", "path_under");
    FAIL(c, "\"/projects/a/..\"", "path_under");
    FAIL(c, "\"/projects/..\"", "path_under");
    FAIL(c, "\"/allowed_dir/x/../../etc\"", "path_under");
    /* schemes, relative paths, Windows separators, NUL */
    FAIL(c, "\"file:///etc/passwd\"", "path_under");
    FAIL(c, "\"file:///projects/a\"", "path_under");
    FAIL(c, "\"projects/a\"", "path_under");
    FAIL(c, "\"./projects/a\"", "path_under");
    FAIL(c, "\"\"", "path_under");
    FAIL(c, "\"/projects/a\\\\..\\\\..\\\\etc\"", "path_under");
    FAIL(c, "\"/projects/a\\u0000/../../etc\"", "path_under");
    FAIL(c, "\"/projects/a\\u0000\"", "path_under");
    FAIL(c, "\"/\"", "path_under");
    FAIL(c, "[\"/projects/a\"]", "path_under");
    FAIL(c, "42", "path_under");
    gh_policy_argcheck_free(c);

    c = must_compile("c: {path_under: /}\n"); /* "/" alone: every clean absolute path */
    PASS(c, "\"/\"");
    PASS(c, "\"/etc/passwd\"");
    FAIL(c, "\"/etc/../passwd\"", "path_under");
    FAIL(c, "\"etc\"", "path_under");
    gh_policy_argcheck_free(c);

    compile_error("c: {path_under: [relative/secret]}\n", "absolute", "secret");
    compile_error("c: {path_under: [/a/../secret]}\n", "absolute", "secret");
    compile_error("c: {path_under: [\"file:///secret\"]}\n", "absolute", "secret");
    compile_error("c: {path_under: [\"/a\\\\secret\"]}\n", "absolute", "secret");
    compile_error("c: {path_under: []}\n", "list", NULL);
    compile_error("c: {path_under: {a: b}}\n", "list", NULL);
}

/* ---- required and absence ---- */

static void required_and_absent(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c: {type: string, required: true}\n");
    assert_true(gh_policy_argcheck_required(c));
    FAIL(c, NULL, "required");
    PASS(c, "\"x\"");
    FAIL(c, "null", "type"); /* present as null is not absent */
    gh_policy_argcheck_free(c);

    c = must_compile("c: {type: string, regex: \"[a-z]+\", required: false}\n");
    assert_false(gh_policy_argcheck_required(c));
    PASS(c, NULL); /* absent: other constraints are skipped */
    FAIL(c, "\"A\"", "regex");
    gh_policy_argcheck_free(c);

    assert_false(gh_policy_argcheck_required(NULL));
    const char *why = NULL;
    assert_false(gh_policy_argcheck_eval(NULL, NULL, -1, &why)); /* fail closed */
    compile_error("c: {required: yes}\n", "true or false", NULL);
}

static void combined_constraints_report_the_first_failure(void **state)
{
    (void)state;
    struct gh_policy_argcheck *c = must_compile("c:\n"
                                                "  type: string\n"
                                                "  max_length: 40\n"
                                                "  prefix: /srv/\n"
                                                "  glob: \"*.txt\"\n"
                                                "  regex: \"[a-z/._]+\"\n"
                                                "  path_under: [/srv/data]\n");
    PASS(c, "\"/srv/data/notes.txt\"");
    FAIL(c, "1", "type");
    FAIL(c, "\"/srv/data/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.txt\"", "max_length");
    FAIL(c, "\"/tmp/data/notes.txt\"", "prefix");
    FAIL(c, "\"/srv/data/notes.sh\"", "glob");
    FAIL(c, "\"/srv/data/Notes.txt\"", "regex");
    FAIL(c, "\"/srv/other/notes.txt\"", "path_under");
    FAIL(c, "\"/srv/data/../x.txt\"", "path_under");
    gh_policy_argcheck_free(c);
}

/* ---- compile errors ---- */

static void compile_errors(void **state)
{
    (void)state;
    compile_error("c: {type: string, colour: blue}\n", "unknown key colour", "blue");
    compile_error("c: [type]\n", "expected a mapping", NULL);
    compile_error("c: string\n", "expected a mapping", NULL);
    compile_error("c: {type: str}\n", "expected one of: string, integer", NULL);
    compile_error("c: {enum: []}\n", "expected a list", NULL);
    compile_error("c: {enum: read}\n", "expected a list", NULL);
    compile_error("c: {enum: [[a]]}\n", "expected a string, number", NULL);
    compile_error("c: {max_length: -1}\n", "whole number", NULL);
    compile_error("c: {max_length: ten}\n", "whole number", NULL);
    compile_error("c: {min: abc}\n", "expected a number", NULL);
    compile_error("c: {min: \"5\"}\n", "expected a number", NULL);
    compile_error("c: {max: 1e999}\n", "expected a number", NULL);
    compile_error("c: {min: 5, max: 4}\n", "min is greater than max", NULL);
    compile_error("c: {type: integer, prefix: x}\n", "apply to strings", NULL);
    compile_error("c: {type: boolean, min: 1}\n", "apply to numbers", NULL);
    compile_error("c: {type: object, max_length: 3}\n", "strings and arrays", NULL);
    compile_error("c: {prefix: \"\"}\n", "non-empty", NULL);
    compile_error("c: {glob: [a]}\n", "non-empty", NULL);
    compile_error("c: {const: [a]}\n", "expected a string, number", NULL);
    compile_error("c: {const: }\n", "empty value", NULL);

    /* the error points at the offending node */
    struct gh_policy_argcheck *c = NULL;
    struct gh_config_error err = {0};
    assert_int_equal(compile("c:\n  type: string\n  bogus: 1\n", &c, &err), GH_E_PARSE);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.path, "bogus"));
}

/* ---- limits ---- */

static struct gh_policy_limits *limits(const char *yaml)
{
    struct gh_config_node *root = NULL;
    struct gh_config_error err = {0};
    struct gh_policy_limits *ls = NULL;
    assert_int_equal(load_tree(yaml, &root, &err), GH_OK);
    if (gh_policy__limits_compile(gh_config_node_get(root, "limits"), &ls, &err))
        fail_msg("limits: %d:%d %s: %s", err.line, err.column, err.path, err.msg);
    assert_non_null(ls);
    return ls;
}

static void limits_error(const char *yaml, const char *want, int line)
{
    struct gh_config_node *root = NULL;
    struct gh_config_error err = {0};
    struct gh_policy_limits *ls = (void *)1;
    char msg[1024];
    assert_int_equal(load_tree(yaml, &root, &err), GH_OK);
    assert_int_equal(gh_policy__limits_compile(gh_config_node_get(root, "limits"), &ls, &err),
                     GH_E_PARSE);
    assert_null(ls);
    gh_config_error_format(&err, msg, sizeof(msg));
    if (!strstr(msg, want))
        fail_msg("error '%s' lacks '%s'", msg, want);
    if (line)
        assert_int_equal(err.line, line);
}

static struct gh_policy_admit admit(struct gh_policy_limits *ls, const char *who, const char *up,
                                    const char *tool, int64_t now_ms)
{
    struct gh_policy_admit a;
    memset(&a, 0xA5, sizeof(a)); /* garbage in: admit must set every field */
    gh_policy__limits_admit(ls, who, gh_slice_cstr(up), gh_slice_cstr(tool), now_ms, &a);
    return a;
}

static void limits_concurrency(void **state)
{
    (void)state;
    struct gh_policy_limits *ls = limits("limits:\n  - id: two-at-once\n    concurrent: 2\n");
    struct gh_policy_admit a1 = admit(ls, "alice", "fs", "read", 0);
    struct gh_policy_admit a2 = admit(ls, "alice", "fs", "write", 0);
    assert_int_equal(a1.verdict, GH_ALLOW);
    assert_int_equal(a2.verdict, GH_ALLOW);
    assert_non_null(a1.token);
    assert_non_null(a2.token);
    struct gh_policy_admit a3 = admit(ls, "alice", "git", "log", 0);
    assert_int_equal(a3.verdict, GH_DENY);
    assert_true(a3.concurrency);
    assert_int_equal(a3.retry_after_s, 1);
    assert_string_equal(a3.limit, "two-at-once");
    assert_null(a3.token);
    /* another principal has its own counter */
    struct gh_policy_admit b1 = admit(ls, "bob", "fs", "read", 0);
    assert_int_equal(b1.verdict, GH_ALLOW);
    /* release frees a slot, and only one */
    gh_policy_limit_release(a1.token);
    a3 = admit(ls, "alice", "git", "log", 0);
    assert_int_equal(a3.verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "git", "log", 0).verdict, GH_DENY);
    gh_policy_limit_release(a2.token);
    gh_policy_limit_release(a3.token);
    gh_policy_limit_release(b1.token);
    gh_policy_limit_release(NULL); /* NULL-safe */
    /* all released: both fit again */
    a1 = admit(ls, "alice", "fs", "read", 0);
    a2 = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(a1.verdict, GH_ALLOW);
    assert_int_equal(a2.verdict, GH_ALLOW);
    gh_policy_limit_release(a1.token);
    gh_policy_limit_release(a2.token);
    gh_policy__limits_free(ls);
}

static void limits_rate_bucket(void **state)
{
    (void)state;
    struct gh_policy_limits *ls =
        limits("limits:\n  - id: per-minute\n    calls: 3\n    interval_s: 60\n");
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++) {
        struct gh_policy_admit a = admit(ls, "alice", "fs", "read", t);
        assert_int_equal(a.verdict, GH_ALLOW);
        assert_null(a.token); /* rate only: nothing to release */
        assert_string_equal(a.limit, "");
    }
    struct gh_policy_admit a = admit(ls, "alice", "fs", "read", t);
    assert_int_equal(a.verdict, GH_DENY);
    assert_false(a.concurrency);
    assert_string_equal(a.limit, "per-minute");
    assert_int_equal(a.retry_after_s, 20); /* one call per 20 s */
    a = admit(ls, "alice", "fs", "read", t + 5000);
    assert_int_equal(a.verdict, GH_DENY);
    assert_int_equal(a.retry_after_s, 15);
    a = admit(ls, "alice", "fs", "read", t + 19999);
    assert_int_equal(a.verdict, GH_DENY);
    assert_int_equal(a.retry_after_s, 1); /* rounded up, never 0 */
    assert_int_equal(admit(ls, "alice", "fs", "read", t + 20000).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "fs", "read", t + 20000).verdict, GH_DENY);
    /* refusals did not consume: exactly one more after another 20 s */
    assert_int_equal(admit(ls, "alice", "fs", "read", t + 40000).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "fs", "read", t + 40000).verdict, GH_DENY);
    /* after a long pause the bucket holds calls, never more */
    t += 10000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(admit(ls, "alice", "fs", "read", t).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "fs", "read", t).verdict, GH_DENY);
    /* a clock that steps back refills nothing and breaks nothing */
    assert_int_equal(admit(ls, "alice", "fs", "read", t - 100000).verdict, GH_DENY);
    /* bob is untouched */
    assert_int_equal(admit(ls, "bob", "fs", "read", t).verdict, GH_ALLOW);
    gh_policy__limits_free(ls);

    /* sub-second refill: 10 per second, retry is still whole seconds (at least 1) */
    ls = limits("limits:\n  - id: fast\n    calls: 10\n    interval_s: 1\n");
    for (int i = 0; i < 10; i++)
        assert_int_equal(admit(ls, "", "fs", "read", 0).verdict, GH_ALLOW);
    a = admit(ls, "", "fs", "read", 0);
    assert_int_equal(a.verdict, GH_DENY);
    assert_int_equal(a.retry_after_s, 1);
    assert_int_equal(admit(ls, "", "fs", "read", 100).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "", "fs", "read", 100).verdict, GH_DENY);
    gh_policy__limits_free(ls);

    /* long interval: one call an hour */
    ls = limits("limits:\n  - id: hourly\n    calls: 1\n    interval_s: 3600\n");
    assert_int_equal(admit(ls, "", "fs", "read", 0).verdict, GH_ALLOW);
    a = admit(ls, "", "fs", "read", 1);
    assert_int_equal(a.verdict, GH_DENY);
    assert_int_equal(a.retry_after_s, 3600);
    gh_policy__limits_free(ls);
}

static void limits_scopes(void **state)
{
    (void)state;
    struct gh_policy_limits *ls = limits("limits:\n"
                                         "  - id: per-principal-tool\n"
                                         "    scope: principal+tool\n"
                                         "    calls: 1\n"
                                         "    interval_s: 60\n");
    assert_int_equal(admit(ls, "alice", "fs", "read", 0).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "fs", "read", 0).verdict, GH_DENY);
    assert_int_equal(admit(ls, "alice", "fs", "write", 0).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "alice", "git", "read", 0).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "bob", "fs", "read", 0).verdict, GH_ALLOW);
    /* keys cannot collide across the boundary of upstream and tool names */
    assert_int_equal(admit(ls, "carol", "a.b", "c", 0).verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "carol", "a", "b.c", 0).verdict, GH_ALLOW);
    gh_policy__limits_free(ls);

    ls = limits("limits:\n"
                "  - id: per-tool\n"
                "    scope: tool\n"
                "    concurrent: 1\n");
    struct gh_policy_admit a = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(a.verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "bob", "fs", "read", 0).verdict, GH_DENY); /* shared per tool */
    struct gh_policy_admit b = admit(ls, "bob", "fs", "write", 0);
    assert_int_equal(b.verdict, GH_ALLOW);
    gh_policy_limit_release(a.token);
    gh_policy_limit_release(b.token);
    gh_policy__limits_free(ls);

    ls = limits("limits:\n"
                "  - id: per-principal\n"
                "    concurrent: 1\n"); /* scope defaults to principal */
    a = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(admit(ls, "alice", "git", "log", 0).verdict, GH_DENY); /* any tool */
    b = admit(ls, "bob", "fs", "read", 0);
    assert_int_equal(b.verdict, GH_ALLOW);
    /* without auth every caller is "": one shared counter */
    struct gh_policy_admit n1 = admit(ls, "", "fs", "read", 0);
    assert_int_equal(n1.verdict, GH_ALLOW);
    assert_int_equal(admit(ls, "", "fs", "read", 0).verdict, GH_DENY);
    assert_int_equal(admit(ls, NULL, "fs", "read", 0).verdict, GH_DENY); /* NULL is "" too */
    gh_policy_limit_release(a.token);
    gh_policy_limit_release(b.token);
    gh_policy_limit_release(n1.token);
    gh_policy__limits_free(ls);
}

static void limits_tools_globs(void **state)
{
    (void)state;
    struct gh_policy_limits *ls = limits("limits:\n"
                                         "  - id: fs-writes\n"
                                         "    tools: [\"fs.write*\", fs.delete]\n"
                                         "    concurrent: 1\n");
    struct gh_policy_admit a = admit(ls, "alice", "fs", "write_file", 0);
    assert_int_equal(a.verdict, GH_ALLOW);
    assert_non_null(a.token);
    assert_int_equal(admit(ls, "alice", "fs", "delete", 0).verdict, GH_DENY);
    /* a call no limit applies to: allowed, no token */
    struct gh_policy_admit r = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(r.verdict, GH_ALLOW);
    assert_null(r.token);
    assert_int_equal(r.retry_after_s, 0);
    assert_int_equal(admit(ls, "alice", "fsx", "write", 0).verdict, GH_ALLOW);
    gh_policy_limit_release(a.token);
    gh_policy__limits_free(ls);

    /* no limits at all */
    struct gh_policy_admit z = admit(NULL, "alice", "fs", "read", 0);
    assert_int_equal(z.verdict, GH_ALLOW);
    assert_null(z.token);
    ls = limits("limits: []\n");
    z = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(z.verdict, GH_ALLOW);
    assert_null(z.token);
    gh_policy__limits_free(ls);
}

/* A refusal by one limit counts nothing in the others. */
static void limits_refusal_counts_nothing(void **state)
{
    (void)state;
    struct gh_policy_limits *ls = limits("limits:\n"
                                         "  - id: rate\n"
                                         "    calls: 2\n"
                                         "    interval_s: 60\n"
                                         "  - id: one-per-tool\n"
                                         "    scope: tool\n"
                                         "    concurrent: 1\n");
    struct gh_policy_admit a = admit(ls, "alice", "fs", "x", 0);
    assert_int_equal(a.verdict, GH_ALLOW);
    struct gh_policy_admit d = admit(ls, "alice", "fs", "x", 0);
    assert_int_equal(d.verdict, GH_DENY);
    assert_string_equal(d.limit, "one-per-tool");
    assert_true(d.concurrency);
    /* the refused call took no token from "rate": alice still has one */
    struct gh_policy_admit b = admit(ls, "alice", "git", "y", 0);
    assert_int_equal(b.verdict, GH_ALLOW);
    d = admit(ls, "alice", "other", "z", 0);
    assert_int_equal(d.verdict, GH_DENY);
    assert_string_equal(d.limit, "rate");
    assert_false(d.concurrency);
    assert_int_equal(d.retry_after_s, 30);
    /* ... and the rate refusal took no concurrency slot on other.z */
    struct gh_policy_admit c = admit(ls, "bob", "other", "z", 0);
    assert_int_equal(c.verdict, GH_ALLOW);
    gh_policy_limit_release(a.token);
    gh_policy_limit_release(b.token);
    gh_policy_limit_release(c.token);
    gh_policy__limits_free(ls);
}

/* A token outlives the limits it was admitted by (a reload while a call runs). */
static void limits_token_outlives_policy(void **state)
{
    (void)state;
    struct gh_policy_limits *ls = limits("limits:\n  - id: c\n    concurrent: 1\n");
    struct gh_policy_admit a = admit(ls, "alice", "fs", "read", 0);
    assert_int_equal(a.verdict, GH_ALLOW);
    gh_policy__limits_free(ls);
    gh_policy_limit_release(a.token); /* ASan would catch a use after free */
}

/* The table is bounded: busy keys are kept and new ones refused; idle ones are evicted. */
static void limits_table_is_bounded(void **state)
{
    (void)state;
    enum { CAP = 65536 };
    char who[65];
    void **tokens = gh_xcalloc(CAP, sizeof(*tokens));
    struct gh_policy_limits *ls = limits("limits:\n  - id: c\n    concurrent: 1\n");
    for (int i = 0; i < CAP; i++) {
        snprintf(who, sizeof(who), "%064x", i);
        struct gh_policy_admit a = admit(ls, who, "fs", "read", 0);
        assert_int_equal(a.verdict, GH_ALLOW);
        tokens[i] = a.token;
    }
    struct gh_policy_admit a = admit(ls, "newcomer", "fs", "read", 0);
    assert_int_equal(a.verdict, GH_DENY); /* fail closed */
    assert_string_equal(a.limit, "c");
    assert_true(a.retry_after_s >= 1);
    gh_policy_limit_release(tokens[7]);
    tokens[7] = NULL;
    a = admit(ls, "newcomer", "fs", "read", 1);
    assert_int_equal(a.verdict, GH_ALLOW);
    gh_policy_limit_release(a.token);
    for (int i = 0; i < CAP; i++)
        gh_policy_limit_release(tokens[i]);
    gh_policy__limits_free(ls);
    free(tokens);

    /* rate counters: evictable once their bucket is full again */
    ls = limits("limits:\n  - id: r\n    calls: 1\n    interval_s: 1\n");
    for (int i = 0; i < CAP; i++) {
        snprintf(who, sizeof(who), "%064x", i);
        assert_int_equal(admit(ls, who, "fs", "read", 0).verdict, GH_ALLOW);
    }
    assert_int_equal(admit(ls, "newcomer", "fs", "read", 10).verdict, GH_DENY);
    /* forgetting key 0 now would hand it a fresh allowance; it is still refused */
    snprintf(who, sizeof(who), "%064x", 0);
    assert_int_equal(admit(ls, who, "fs", "read", 20).verdict, GH_DENY);
    assert_int_equal(admit(ls, "newcomer", "fs", "read", 5000).verdict, GH_ALLOW);
    gh_policy__limits_free(ls);
}

struct race {
    struct gh_policy_limits *ls;
    atomic_int inside, max_inside, admitted;
};

static void *race_worker(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 20000; i++) {
        struct gh_policy_admit a;
        gh_policy__limits_admit(r->ls, "alice", GH_SLICE_LIT("fs"), GH_SLICE_LIT("read"), 0, &a);
        if (a.verdict != GH_ALLOW)
            continue;
        int now = atomic_fetch_add(&r->inside, 1) + 1;
        int m = atomic_load(&r->max_inside);
        while (now > m && !atomic_compare_exchange_weak(&r->max_inside, &m, now))
            ;
        atomic_fetch_add(&r->admitted, 1);
        atomic_fetch_sub(&r->inside, 1);
        gh_policy_limit_release(a.token);
    }
    return NULL;
}

static void limits_threads(void **state)
{
    (void)state;
    struct race r = {.ls = limits("limits:\n  - id: c\n    concurrent: 3\n")};
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_true(atomic_load(&r.max_inside) <= 3);
    assert_true(atomic_load(&r.admitted) > 0);
    assert_int_equal(atomic_load(&r.inside), 0);
    /* everything released: all three slots are free */
    struct gh_policy_admit a[4];
    for (int i = 0; i < 4; i++)
        a[i] = admit(r.ls, "alice", "fs", "read", 0);
    assert_int_equal(a[2].verdict, GH_ALLOW);
    assert_int_equal(a[3].verdict, GH_DENY);
    for (int i = 0; i < 3; i++)
        gh_policy_limit_release(a[i].token);
    gh_policy__limits_free(r.ls);
}

static void limits_compile_errors(void **state)
{
    (void)state;
    limits_error("limits:\n  - id: a\n    concurrent: 1\n    colour: blue\n", "unknown key colour",
                 4);
    limits_error("limits:\n  - concurrent: 1\n", "needs an id", 2);
    limits_error("limits:\n  - id: a\n    concurrent: 1\n  - id: a\n    calls: 1\n"
                 "    interval_s: 1\n",
                 "duplicate limit id (also at line 2)", 4);
    limits_error("limits:\n  - id: a\n    scope: tool\n", "needs concurrent, calls", 2);
    limits_error("limits:\n  - id: a\n    calls: 5\n", "calls and interval_s go together", 2);
    limits_error("limits:\n  - id: a\n    interval_s: 5\n    concurrent: 1\n",
                 "calls and interval_s go together", 2);
    limits_error("limits:\n  - id: a b\n    concurrent: 1\n", "ids use only", 2);
    limits_error("limits:\n  - id: \"\"\n    concurrent: 1\n", "expected an id", 2);
    limits_error("limits:\n  - id: a\n    concurrent: 0\n", "whole number from 1 to 100000", 3);
    limits_error("limits:\n  - id: a\n    concurrent: 100001\n", "whole number", 3);
    limits_error("limits:\n  - id: a\n    calls: -1\n    interval_s: 1\n", "whole number", 3);
    limits_error("limits:\n  - id: a\n    concurrent: 1\n    scope: everyone\n",
                 "expected one of: principal, principal+tool, tool", 4);
    limits_error("limits:\n  - id: a\n    concurrent: 1\n    tools: []\n", "expected a list", 4);
    limits_error("limits:\n  - id: a\n    concurrent: 1\n    tools: [\"\"]\n", "non-empty", 4);
    limits_error("limits:\n  id: a\n", "expected a list of limits", 0);
    limits_error("limits:\n  - a\n", "expected a limit", 2);

    /* a long id is fine up to 64 characters */
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "limits:\n  - id: %.64s\n    concurrent: 1\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    gh_policy__limits_free(limits(yaml));
    snprintf(yaml, sizeof(yaml), "limits:\n  - id: %.65s\n    concurrent: 1\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    limits_error(yaml, "expected an id of 1 to 64", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(type_each),
        cmocka_unit_test(enum_compares_by_value),
        cmocka_unit_test(const_matches_one_value),
        cmocka_unit_test(max_length_counts_code_points),
        cmocka_unit_test(min_max_inclusive),
        cmocka_unit_test(prefix_on_decoded_string),
        cmocka_unit_test(glob_on_decoded_string),
        cmocka_unit_test(glob_edge_cases),
        cmocka_unit_test(regex_matches_whole_value),
        cmocka_unit_test(regex_catastrophic_backtracking_fails_fast),
        cmocka_unit_test(regex_groups_match),
        cmocka_unit_test(regex_bad_pattern_is_config_error),
        cmocka_unit_test(path_under_roots),
        cmocka_unit_test(required_and_absent),
        cmocka_unit_test(combined_constraints_report_the_first_failure),
        cmocka_unit_test(compile_errors),
        cmocka_unit_test(limits_concurrency),
        cmocka_unit_test(limits_rate_bucket),
        cmocka_unit_test(limits_scopes),
        cmocka_unit_test(limits_tools_globs),
        cmocka_unit_test(limits_refusal_counts_nothing),
        cmocka_unit_test(limits_token_outlives_policy),
        cmocka_unit_test(limits_table_is_bounded),
        cmocka_unit_test(limits_threads),
        cmocka_unit_test(limits_compile_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
