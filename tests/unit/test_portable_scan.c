/*
 * Unit tests for the scanner in portable/: provider rules (each shape matches, generated at run
 * time so no secret is committed), placeholders and references, entropy, the TOML and JSONC
 * readers (valid documents and precise errors), and reports that never hold a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "portable/portable.h"

#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
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

#define ALNUM   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define UPPER   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER   "abcdefghijklmnopqrstuvwxyz"
#define DIGITS  "0123456789"
#define B32     "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define URLSAFE ALNUM "_-"

/*
 * prefix + n random characters of set (+ suffix), in the arena: a fresh token of that shape.
 * Rules skip low-entropy matches (gitleaks' thresholds, up to 4 bits per character); a random
 * draw lands below them rarely but often enough to make a test flaky, so it is drawn again.
 */
static char *shape(const char *prefix, const char *set, size_t n, const char *suffix)
{
    size_t p = strlen(prefix), m = strlen(set), s = strlen(suffix);
    char *out = gh_arena_alloc(A, p + n + s + 1);
    double most = gh_scan_entropy(set, m); /* log2 of the alphabet's size */
    double want = n >= 30 ? GH_MIN(4.2, most - 0.4) : 3.3;
    do {
        memcpy(out, prefix, p);
        for (size_t i = 0; i < n; i++) {
            unsigned char b;
            gh_random_bytes(&b, 1);
            out[p + i] = set[b % m];
        }
        memcpy(out + p + n, suffix, s + 1);
    } while (n >= 16 && gh_scan_entropy(out, p + n + s) < want);
    return out;
}

static const char *match(const char *v, const char *key, bool generic)
{
    return gh_scan_match(gh_slice_cstr(v), key, generic);
}

/* v must be reported as rule (the failure names the value: it is a generated one). */
static void is_rule(const char *v, const char *key, bool generic, const char *rule)
{
    const char *got = match(v, key, generic);
    if (!got || strcmp(got, rule) != 0)
        fail_msg("%s: got %s, want %s", v, got ? got : "nothing", rule);
}

static void provider_shapes_match(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        is_rule(shape("ghp_", ALNUM, 36, ""), NULL, false, "github-pat");
        is_rule(shape("gho_", ALNUM, 36, ""), NULL, false, "github-oauth");
        is_rule(shape("ghs_", ALNUM, 36, ""), NULL, false, "github-app-token");
        is_rule(shape("ghr_", ALNUM, 36, ""), NULL, false, "github-refresh-token");
        is_rule(shape("github_pat_", ALNUM "_", 82, ""), NULL, false, "github-fine-grained-pat");
        is_rule(shape("glpat-", URLSAFE, 20, ""), NULL, false, "gitlab-pat");
        char *bot = gh_arena_sprintf(A, "xoxb-%s-%s-%s", shape("", DIGITS, 12, ""),
                                     shape("", DIGITS, 12, ""), shape("", ALNUM, 24, ""));
        is_rule(bot, NULL, false, "slack-bot-token");
        char *user = gh_arena_sprintf(A, "xoxp-%s-%s-%s-%s", shape("", DIGITS, 11, ""),
                                      shape("", DIGITS, 11, ""), shape("", DIGITS, 12, ""),
                                      shape("", "0123456789abcdef", 32, ""));
        is_rule(user, NULL, false, "slack-user-token");
        char *hook = gh_arena_sprintf(A, "https://hooks.slack.com/services/T%s/B%s/%s",
                                      shape("", UPPER DIGITS, 8, ""),
                                      shape("", UPPER DIGITS, 10, ""), shape("", ALNUM, 24, ""));
        is_rule(hook, NULL, false, "slack-webhook-url");
        char *proj = gh_arena_sprintf(A, "sk-proj-%sT3BlbkFJ%s", shape("", URLSAFE, 74, ""),
                                      shape("", URLSAFE, 74, ""));
        is_rule(proj, NULL, false, "openai-api-key");
        char *legacy = gh_arena_sprintf(A, "sk-%sT3BlbkFJ%s", shape("", ALNUM, 20, ""),
                                        shape("", ALNUM, 20, ""));
        is_rule(legacy, NULL, false, "openai-api-key");
        is_rule(shape("sk-ant-api03-", URLSAFE, 93, "AA"), NULL, false, "anthropic-api-key");
        is_rule(shape("sk-ant-admin01-", URLSAFE, 93, "AA"), NULL, false,
                "anthropic-admin-api-key");
        is_rule(shape("AKIA", B32, 16, ""), NULL, false, "aws-access-token");
        is_rule(shape("sk_live_", ALNUM, 24, ""), NULL, false, "stripe-access-token");
        is_rule(shape("rk_live_", ALNUM, 99, ""), NULL, false, "stripe-access-token");
        is_rule(shape("AIza", URLSAFE, 35, ""), NULL, false, "gcp-api-key");
        is_rule(shape("hf_", UPPER LOWER, 34, ""), NULL, false, "huggingface-access-token");
        is_rule(shape("npm_", LOWER DIGITS, 36, ""), NULL, false, "npm-access-token");
    }
}

static void structured_secrets_match(void **state)
{
    (void)state;
    char *jwt = gh_arena_sprintf(A, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ%s.%s",
                                 shape("", ALNUM, 40, ""), shape("", URLSAFE, 43, ""));
    is_rule(jwt, NULL, false, "jwt");
    is_rule(gh_arena_sprintf(A, "Bearer %s", jwt), NULL, false, "jwt");
    char *pem = gh_arena_sprintf(A, "-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\n-----END RSA %s",
                                 shape("", ALNUM "+/", 64, ""), shape("", ALNUM "+/", 40, ""),
                                 "PRIVATE KEY-----\n");
    is_rule(pem, NULL, false, "private-key");
    char *sa = gh_arena_sprintf(A,
                                "{\"type\": \"service_account\", \"project_id\": \"p\", "
                                "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\n%s\\n-----END "
                                "PRIVATE KEY-----\\n\"}",
                                shape("", ALNUM "+/", 128, ""));
    is_rule(sa, NULL, false, "gcp-service-account");
    char *url = gh_arena_sprintf(A, "postgres://app:%s@db:5432/x", shape("", ALNUM, 24, ""));
    is_rule(url, NULL, false, "url-credentials");
    /* in context: terminators around the token */
    char *arg = gh_arena_sprintf(A, "--api-key=%s", shape("sk_live_", ALNUM, 30, ""));
    is_rule(arg, NULL, false, "stripe-access-token");
    char *query =
        gh_arena_sprintf(A, "https://x.example/mcp?key=%s&lang=en", shape("AIza", URLSAFE, 35, ""));
    is_rule(query, NULL, false, "gcp-api-key");
}

static void near_misses_do_not_match(void **state)
{
    (void)state;
    /* wrong lengths, token continues into more token characters, low entropy, docs values */
    assert_null(match(shape("ghp_", ALNUM, 35, ""), NULL, false));
    assert_null(match(shape("ghp_", ALNUM, 37, ""), NULL, false));
    assert_null(match(shape("xghp_", ALNUM, 36, ""), NULL, false));
    assert_null(match("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, false));
    assert_null(match("AKIAIOSFODNN7EXAMPLE", NULL, false));
    assert_null(match("sk-ant-api03-your-key-here", NULL, false));
    assert_null(match("postgres://user:${DB_PASSWORD}@db/x", NULL, false));
    assert_null(match("postgres://user:password@db/x", NULL, false));
    assert_null(match("https://hooks.slack.com/services/XXXX", NULL, false));
    assert_null(match("-----BEGIN PUBLIC KEY-----", NULL, false));
}

static void placeholders_and_references(void **state)
{
    (void)state;
    static const char *const SAFE[] = {
        "<YOUR_TOKEN>",
        "your-api-key-here",
        "your_api_key",
        "xxxx",
        "XXXXXXXXXXXXXXXXXXXX",
        "changeme",
        "${env:FOO}",
        "${input:bar}",
        "${FOO}",
        "${FOO:-default}",
        "$FOO",
        "env:FOO",
        "file:/x",
        "{{secret}}",
        "${{ secrets.X }}",
        "${user_config.k}",
        "Bearer ${input:gw}",
        "op://vault/item/key",
        "password",
        "",
        "****************",
        "sk-...",
        "0000000000000000",
        "REPLACE_ME_TOKEN",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(SAFE); i++) {
        assert_true(gh_scan_is_placeholder(gh_slice_cstr(SAFE[i])));
        assert_null(match(SAFE[i], "API_TOKEN", true));
    }
    assert_false(gh_scan_is_placeholder(gh_slice_cstr(shape("", ALNUM, 32, ""))));
}

static void entropy_edges(void **state)
{
    (void)state;
    assert_true(gh_scan_entropy("", 0) == 0.0);
    assert_true(gh_scan_entropy("aaaa", 4) == 0.0);
    assert_true(fabs(gh_scan_entropy("ab", 2) - 1.0) < 1e-9);
    assert_true(fabs(gh_scan_entropy("abcd", 4) - 2.0) < 1e-9);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    assert_true(fabs(gh_scan_entropy((const char *)all, 256) - 8.0) < 1e-9);
    assert_true(fabs(gh_scan_entropy("aab", 3) - 0.9182958340544896) < 1e-9);
}

static void generic_rule_thresholds(void **state)
{
    (void)state;
    char *rnd = shape("", ALNUM, 31, "7"); /* unnamed values need letters and digits */
    is_rule(rnd, "DB_PASSWORD", true, "generic-api-key");
    is_rule(rnd, "SOMETHING", true, "generic-api-key");
    assert_null(match(rnd, "DB_PASSWORD", false)); /* generic off: providers only */
    /* hinted: 10+ characters, entropy 3.5+ */
    is_rule("k9Xq2Lm4Pw7Z", "API_KEY", true, "generic-api-key");
    assert_null(match("k9Xq2Lm4P", "API_KEY", true));   /* 9 characters */
    assert_null(match("aaaaabbbbbb", "API_KEY", true)); /* low entropy */
    assert_null(match("/home/me/.config/app/credentials.json", "CREDENTIALS_FILE", true));
    /* not hinted: 20+ characters, letters and digits, entropy 4+, no paths or dotted names */
    assert_null(match("k9Xq2Lm4Pw", "SOMETHING", true));
    assert_null(match("/usr/local/share/some-long-directory-name", "DATA_DIR", true));
    assert_null(match("com.example.service.production.eu-west-1", "SERVICE", true));
    assert_null(match("abcdefghijklmnopqrstuvwxyz", "SOMETHING", true)); /* no digits */
    /* header schemes are stripped, AWS secrets need their key name */
    is_rule(gh_arena_sprintf(A, "Bearer %s", rnd), "Authorization", true, "generic-api-key");
    char *aws = shape("", ALNUM "/+", 40, "");
    is_rule(aws, "AWS_SECRET_ACCESS_KEY", true, "aws-secret-access-key");
}

/* ---- TOML ---- */

static struct gh_pnode *toml_ok(const char *src)
{
    struct gh_pnode *root = NULL;
    struct gh_pnode_err err = {0};
    enum gh_rc rc = gh_pnode_parse_toml(A, src, strlen(src), &root, &err);
    if (rc != GH_OK)
        fail_msg("%s: %u:%u: %s", src, err.line, err.col, err.reason);
    return root;
}

static const char *text(const struct gh_pnode *t, const char *a, const char *b, const char *c)
{
    const struct gh_pnode *n = gh_pnode_get(t, a);
    if (b)
        n = gh_pnode_get(n, b);
    if (c)
        n = gh_pnode_get(n, c);
    assert_non_null(n);
    return gh_arena_strndup(A, n->text.ptr, n->text.len);
}

static void toml_valid(void **state)
{
    (void)state;
    struct gh_pnode *r = toml_ok("# comment\n"
                                 "model = \"gpt\" # trailing\n"
                                 "n = 1_000\nf = -1.5e3\nh = 0xdead_beef\nt = true\n"
                                 "d = 1979-05-27T07:32:00Z\nd2 = 1979-05-27 07:32:00\n"
                                 "[mcp_servers.docs]\n"
                                 "command = 'npx'\n"
                                 "args = [\"-y\", 'pkg@1.0.0',\n  # comment\n  \"x\",\n]\n"
                                 "env = { KEY = \"v\", \"quoted.key\" = 'lit', a.b = 1 }\n"
                                 "[mcp_servers.docs.env2]\n"
                                 "\"k\\u00e9y\" = \"tab\\there\"\n"
                                 "[[servers]]\nname = \"a\"\n[[servers]]\nname = \"b\"\n"
                                 "[servers.sub]\nx = 1\n");
    assert_string_equal(text(r, "model", NULL, NULL), "gpt");
    assert_string_equal(text(r, "n", NULL, NULL), "1_000");
    assert_string_equal(text(r, "d2", NULL, NULL), "1979-05-27 07:32:00");
    assert_int_equal(gh_pnode_get(r, "t")->type, GH_PNODE_BOOL);
    const struct gh_pnode *docs = gh_pnode_get(gh_pnode_get(r, "mcp_servers"), "docs");
    assert_string_equal(text(docs, "command", NULL, NULL), "npx");
    assert_int_equal(gh_pnode_get(docs, "args")->n, 3);
    assert_int_equal(gh_pnode_get(docs, "args")->line, 11);
    assert_string_equal(text(docs, "env", "quoted.key", NULL), "lit");
    assert_string_equal(text(docs, "env", "a", "b"), "1");
    assert_string_equal(text(docs, "env2", "k\xc3\xa9y", NULL), "tab\there");
    const struct gh_pnode *servers = gh_pnode_get(r, "servers");
    assert_int_equal(servers->type, GH_PNODE_ARRAY);
    assert_int_equal(servers->n, 2);
    assert_string_equal(text(servers->last, "sub", "x", NULL), "1");
}

static void toml_multiline_strings(void **state)
{
    (void)state;
    struct gh_pnode *r = toml_ok("a = \"\"\"\nline1\nline2\"\"\"\n"
                                 "b = '''\nraw \\n '''\n"
                                 "c = \"\"\"one \\\n     two\"\"\"\n"
                                 "d = \"\"\"quote\"\"\"\"\"\n"
                                 "e = ''''x'''' \n");
    assert_string_equal(text(r, "a", NULL, NULL), "line1\nline2");
    assert_string_equal(text(r, "b", NULL, NULL), "raw \\n ");
    assert_string_equal(text(r, "c", NULL, NULL), "one two");
    assert_string_equal(text(r, "d", NULL, NULL), "quote\"\"");
    assert_string_equal(text(r, "e", NULL, NULL), "'x'");
    assert_int_equal(gh_pnode_get(r, "b")->line, 4);
}

static void toml_crlf_and_bom(void **state)
{
    (void)state;
    struct gh_pnode *r =
        toml_ok("\xef\xbb\xbf# bom\r\n[t]\r\na = \"\"\"\r\nx\r\ny\"\"\"\r\nb = 1\r\n");
    const struct gh_pnode *t = gh_pnode_get(r, "t");
    assert_string_equal(text(t, "a", NULL, NULL), "x\r\ny");
    assert_int_equal(gh_pnode_get(t, "b")->line, 6);
    struct gh_pnode_err err = {0};
    const char *lone_cr = "a = 1\rb = 2\n";
    assert_int_equal(gh_pnode_parse_toml(A, lone_cr, strlen(lone_cr), &r, &err), GH_E_PARSE);
}

static void toml_errors_are_precise(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        uint32_t line, col;
        const char *reason;
    } BAD[] = {
        {"a = 1\na = 2\n", 2, 1, "duplicate key"},
        {"[t]\nx = 1\n[t]\n", 3, 1, "table defined twice"},
        {"a = {x = 1}\na.y = 2\n", 2, 1, "dotted key extends"},
        {"a = {x = 1}\n[a]\n", 2, 1, "table defined twice"},
        {"a = [1]\n[[a]]\n", 2, 1, "already something else"},
        {"a = \"unterminated\n", 1, 18, "newline in a single-line string"},
        {"a = \"bad \\q\"\n", 1, 11, "unknown escape"},
        {"a = \"\\uD800\"\n", 1, 8, "not a Unicode scalar value"},
        {"a = bare\n", 1, 5, "strings need quotes"},
        {"a = 1 2\n", 1, 7, "end of the line"},
        {"a = 01\n", 1, 5, "strings need quotes"},
        {"a = 1__0\n", 1, 5, "strings need quotes"},
        {"a = {x = 1,}\n", 1, 12, "trailing comma"},
        {"a = {x = 1\n", 1, 11, "expected , or }"},
        {"[a\n", 1, 3, "expected ]"},
        {"= 1\n", 1, 1, "expected a key"},
        {"a 1\n", 1, 3, "expected ="},
        {"a = [1, 2\n", 2, 1, "expected , or ]"},
        {"a = '''never closed\n", 2, 1, "never closed"},
        {"ok = 1\nbad = \"\xff\"\n", 2, 8, "invalid UTF-8"},
        {"a = \"\x01\"\n", 1, 6, "control character"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(BAD); i++) {
        struct gh_pnode *root = NULL;
        struct gh_pnode_err err = {0};
        enum gh_rc rc = gh_pnode_parse_toml(A, BAD[i].src, strlen(BAD[i].src), &root, &err);
        if (rc != GH_E_PARSE || err.line != BAD[i].line || err.col != BAD[i].col || !err.reason ||
            !strstr(err.reason, BAD[i].reason))
            fail_msg("case %zu: rc %d at %u:%u: %s", i, rc, err.line, err.col,
                     err.reason ? err.reason : "(none)");
    }
}

static void toml_limits(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    gh_buf_puts(&b, "a = ");
    for (int i = 0; i < 100; i++)
        gh_buf_puts(&b, "[");
    struct gh_pnode *root = NULL;
    struct gh_pnode_err err = {0};
    assert_int_equal(gh_pnode_parse_toml(A, b.data, b.len, &root, &err), GH_E_PARSE);
    assert_non_null(strstr(err.reason, "nested too deep"));
    gh_buf_release(&b);
}

/* ---- JSONC and reports ---- */

static void jsonc_comments_and_trailing_commas(void **state)
{
    (void)state;
    const char *src = "// head\n{ /* c */ \"a\": [1, 2,], // x\n \"b\": \"//not a comment\",\n}\n";
    struct gh_pnode *root = NULL;
    struct gh_pnode_err err = {0};
    assert_int_equal(gh_pnode_parse_json(A, src, strlen(src), true, &root, &err), GH_OK);
    assert_int_equal(gh_pnode_get(root, "a")->n, 2);
    assert_int_equal(gh_pnode_get(root, "b")->line, 3);
    assert_int_equal(gh_pnode_get(root, "b")->col, 7);
    assert_int_equal(gh_pnode_parse_json(A, src, strlen(src), false, &root, &err), GH_E_PARSE);
    const char *open = "{\n\"a\": 1 /* never\n}";
    assert_int_equal(gh_pnode_parse_json(A, open, strlen(open), true, &root, &err), GH_E_PARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 8);
    const char *comma = "{\"a\": ,}";
    assert_int_equal(gh_pnode_parse_json(A, comma, strlen(comma), true, &root, &err), GH_E_PARSE);
    assert_int_equal(err.col, 7);
}

static void report_redacts_and_locates(void **state)
{
    (void)state;
    char *tok = shape("ghp_", ALNUM, 36, "");
    char *src =
        gh_arena_sprintf(A,
                         "{\"mcpServers\": {\n"
                         "  \"gh\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"],\n"
                         "     \"env\": {\"GITHUB_TOKEN\": \"%s\", \"OTHER\": \"${env:X}\"},\n"
                         "     \"alwaysAllow\": [\"t\"]},\n"
                         "  \"web\": {\"url\": \"http://mcp.example.com/mcp\"}}}\n",
                         tok);
    struct gh_scan_report *r = gh_scan_report_new();
    assert_int_equal(gh_scan_buffer(r, "x.json", src, strlen(src), GH_PFORMAT_JSON), GH_OK);
    gh_scan_report_sort(r);
    assert_int_equal(r->n_errors, 0);
    assert_int_equal(r->n_findings, 4);
    const struct gh_scan_finding *f = &r->findings[1];
    assert_string_equal(f->rule, "github-pat");
    assert_int_equal(f->line, 3);
    assert_int_equal(f->col, 30);
    assert_string_equal(f->where, "mcpServers.gh.env.GITHUB_TOKEN");
    assert_string_equal(f->redacted, "ghp_\xe2\x80\xa6(40 chars)");
    assert_string_equal(r->findings[0].rule, "mcp-unpinned-package");
    assert_string_equal(r->findings[2].rule, "mcp-auto-approve");
    assert_string_equal(r->findings[3].rule, "mcp-plain-http");
    gh_scan_report_free(r);
    /* mcp-remote: the URL and the header travel as arguments */
    char *rnd = shape("", ALNUM, 31, "7");
    char *remote = gh_arena_sprintf(A,
                                    "{\"mcpServers\": {\"r\": {\"command\": \"npx\", \"args\": "
                                    "[\"mcp-remote@1.0.0\", \"https://x.example/sse?key=%s\", "
                                    "\"--header\", \"Authorization: Bearer %s\", \"--header\", "
                                    "\"Authorization: Bearer ${AUTH}\"]}}}",
                                    rnd, rnd);
    r = gh_scan_report_new();
    gh_scan_buffer(r, "r.json", remote, strlen(remote), GH_PFORMAT_JSON);
    assert_int_equal(r->n_findings, 2);
    assert_string_equal(r->findings[0].where, "mcpServers.r.args[1]");
    assert_string_equal(r->findings[1].where, "mcpServers.r.args[3]");
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    assert_int_equal(gh_scan_write_text(r, &b), GH_OK);
    assert_int_equal(gh_scan_write_json(r, &b), GH_OK);
    assert_int_equal(gh_scan_write_sarif(r, &b), GH_OK);
    assert_null(memmem(b.data, b.len, tok, strlen(tok)));
    assert_null(memmem(b.data, b.len, tok + 4, 12));
    gh_buf_release(&b);
    gh_scan_report_free(r);
}

static void env_file_is_followed(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-scan-env-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *vsdir = gh_arena_sprintf(A, "%s/.vscode", dir);
    assert_int_equal(mkdir(vsdir, 0700), 0);
    char *cfg = gh_arena_sprintf(A, "%s/mcp.json", vsdir);
    char *env = gh_arena_sprintf(A, "%s/.env", dir);
    char *tok = shape("glpat-", URLSAFE, 20, "");
    FILE *f = fopen(cfg, "w");
    fputs("{\"servers\": {\"a\": {\"command\": \"x\", \"envFile\": \"${workspaceFolder}/.env\"},"
          " \"b\": {\"command\": \"y\", \"envFile\": \"${env:HOME}/.env\"}}}",
          f);
    fclose(f);
    f = fopen(env, "w");
    fprintf(f, "# c\nexport A=1\nGITLAB_TOKEN='%s'\nOTHER=${X}\n", tok);
    fclose(f);
    struct gh_scan_report *r = gh_scan_report_new();
    assert_int_equal(gh_scan_path(r, dir), GH_OK);
    assert_int_equal(r->n_files, 2);
    assert_int_equal(r->n_findings, 1);
    assert_string_equal(r->findings[0].rule, "gitlab-pat");
    assert_string_equal(r->findings[0].file, env);
    assert_int_equal(r->findings[0].line, 3);
    assert_int_equal(r->findings[0].col, 14);
    assert_string_equal(r->findings[0].server, "a");
    gh_scan_report_free(r);
    unlink(env);
    unlink(cfg);
    rmdir(vsdir);
    rmdir(dir);
}

static void yaml_files_are_read_through_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-scan-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = gh_arena_sprintf(A, "%s/config.yaml", dir);
    char *tok = shape("npm_", LOWER DIGITS, 36, "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "name: a\nmcpServers:\n  - name: npm\n    command: uvx\n    args: [tool]\n"
            "    env:\n      NPM_TOKEN: %s\n      OTHER: ${{ secrets.OTHER }}\n",
            tok);
    fclose(f);
    struct gh_scan_report *r = gh_scan_report_new();
    assert_int_equal(gh_scan_file(r, path), GH_OK);
    gh_scan_report_sort(r);
    assert_int_equal(r->n_findings, 2);
    assert_string_equal(r->findings[0].rule, "mcp-unpinned-package");
    assert_int_equal(r->findings[0].line, 5);
    assert_string_equal(r->findings[1].rule, "npm-access-token");
    assert_int_equal(r->findings[1].line, 7);
    assert_string_equal(r->findings[1].server, "npm");
    gh_scan_report_free(r);
    f = fopen(path, "w");
    fputs("a: [unclosed\n", f);
    fclose(f);
    r = gh_scan_report_new();
    gh_scan_file(r, path);
    assert_int_equal(r->n_errors, 1);
    assert_true(r->errors[0].line >= 1);
    gh_scan_report_free(r);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(provider_shapes_match),
        cmocka_unit_test(structured_secrets_match),
        cmocka_unit_test(near_misses_do_not_match),
        cmocka_unit_test(placeholders_and_references),
        cmocka_unit_test(entropy_edges),
        cmocka_unit_test(generic_rule_thresholds),
        cmocka_unit_test(toml_valid),
        cmocka_unit_test(toml_multiline_strings),
        cmocka_unit_test(toml_crlf_and_bom),
        cmocka_unit_test(toml_errors_are_precise),
        cmocka_unit_test(toml_limits),
        cmocka_unit_test(jsonc_comments_and_trailing_commas),
        cmocka_unit_test(report_redacts_and_locates),
        cmocka_unit_test(env_file_is_followed),
        cmocka_unit_test(yaml_files_are_read_through_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
