/*
 * Unit tests for portable/ (catalog and client formats): JSON/JSONC readers, the TOML and YAML
 * writers (escaping), secret -> reference naming, merge keeping the user's other entries and
 * comments, migrate per client. Secrets are generated at run time, never written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "portable/internal.h"

#include <stdio.h>

/* prefix + n random alphanumerics: a value of a provider's shape, fresh each run. */
static char *gen(struct gh_arena *a, const char *prefix, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t pl = strlen(prefix);
    char *s = gh_arena_alloc(a, pl + n + 1);
    memcpy(s, prefix, pl);
    unsigned char r[256];
    gh_random_bytes(r, n);
    for (size_t i = 0; i < n; i++)
        s[pl + i] = al[r[i] % (sizeof(al) - 1)];
    s[pl + n] = '\0';
    return s;
}

static char *out_str(struct gh_buf *b)
{
    gh_buf_append(b, "", 1);
    return b->data;
}

static void naming_and_detection(void **state)
{
    (void)state;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_arena *a = c->arena;
    char *pat = gen(a, "ghp_", 36);
    size_t off, len;
    assert_true(gh_pl_find(PL_ENV, "GITHUB_PERSONAL_ACCESS_TOKEN", pat, &off, &len));
    assert_int_equal(off, 0);
    assert_int_equal(len, strlen(pat));
    assert_string_equal(gh_pl_name(a, "github", PL_ENV, "GITHUB_PERSONAL_ACCESS_TOKEN"),
                        "GITHUB_PERSONAL_ACCESS_TOKEN");
    assert_string_equal(gh_pl_name(a, "my-api", PL_HEADER, "Authorization"), "MY_API_TOKEN");
    assert_string_equal(gh_pl_name(a, "x", PL_ARG, "--api-key"), "X_API_KEY");
    /* references and placeholders are never secrets */
    static const char *const safe[] = {"${input:tok}",     "${env:X}",     "${X}",  "$GW_TOKEN",
                                       "${{ secrets.X }}", "<YOUR_TOKEN>", "env:X", "true"};
    for (size_t i = 0; i < GH_ARRAY_LEN(safe); i++)
        assert_false(gh_pl_find(PL_ENV, "API_TOKEN", safe[i], &off, &len));
    assert_false(gh_pl_find(PL_ENV, "PATH", "/usr/local/bin:/usr/bin", &off, &len));
    /* a bearer header: only the credential moves */
    char *hdr = gh_arena_sprintf(a, "Bearer %s", gen(a, "", 40));
    assert_true(gh_pl_find(PL_HEADER, "Authorization", hdr, &off, &len));
    assert_int_equal(off, 7);
    /* a URL query token */
    char *url = gh_arena_sprintf(a, "https://x.example/mcp?api_key=%s&v=1", gen(a, "", 32));
    assert_true(gh_pl_find(PL_URL, "url", url, &off, &len));
    assert_int_equal(len, 32);
    assert_string_equal(gh_pl_url_key(a, url, off, "url"), "api_key");
    /* mcp-remote's --header argument: only the credential */
    char *arg = gh_arena_sprintf(a, "Authorization: Bearer %s", gen(a, "", 32));
    assert_true(gh_pl_find(PL_ARG, "--header", arg, &off, &len));
    assert_int_equal(off, strlen("Authorization: Bearer "));
    assert_false(gh_pl_find(PL_ARG, NULL, "https://example.com:8443/mcp", &off, &len));
    /* scrub: replaced by a reference, reported redacted */
    char *v = gh_pl_scrub(c, "github", PL_ENV, "GITHUB_TOKEN", pat);
    assert_string_equal(v, "${env:GITHUB_TOKEN}");
    assert_int_equal(c->n_findings, 1);
    assert_null(strstr(c->findings[0].redacted, pat + 4));
    /* a second secret under the same name gets a suffix */
    v = gh_pl_scrub(c, "other", PL_ENV, "GITHUB_TOKEN", gen(a, "ghp_", 36));
    assert_string_equal(v, "${env:GITHUB_TOKEN_2}");
    gh_portable_catalog_free(c);
}

static void toml_and_yaml_escaping(void **state)
{
    (void)state;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_portable_server *s;
    assert_int_equal(gh_portable_catalog_add(c, "we ird.name", &s), GH_OK);
    s->transport = GH_PORTABLE_STDIO;
    s->command = "a\"b\\c";
    s->args = gh_pstrv_push(c->arena, s->args, &s->n_args, "line\nbreak\ttab");
    s->env = gh_ppair_push(c->arena, s->env, &s->n_env, "K", "${env:K}");
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    assert_int_equal(gh_portable_export(c, GH_PORTABLE_CODEX, NULL, &b, NULL), GH_OK);
    const char *t = out_str(&b);
    assert_non_null(strstr(t, "[mcp_servers.\"we ird.name\"]"));
    assert_non_null(strstr(t, "command = \"a\\\"b\\\\c\""));
    assert_non_null(strstr(t, "\"line\\nbreak\\ttab\""));
    assert_non_null(strstr(t, "env_vars = [\"K\"]"));
    /* and it reads back */
    struct gh_portable_catalog *back = gh_portable_catalog_new();
    assert_int_equal(gh_portable_import(back, GH_PORTABLE_CODEX, "t", b.data, b.len - 1, NULL),
                     GH_OK);
    assert_string_equal(back->servers[0].name, "we ird.name");
    assert_string_equal(back->servers[0].command, "a\"b\\c");
    assert_string_equal(back->servers[0].args[0], "line\nbreak\ttab");
    gh_buf_clear(&b);
    assert_int_equal(gh_portable_export(c, GH_PORTABLE_CONTINUE, NULL, &b, NULL), GH_OK);
    t = out_str(&b);
    assert_non_null(strstr(t, "\"${{ secrets.K }}\""));
    assert_non_null(strstr(t, "- name: \"we ird.name\""));
    gh_buf_release(&b);
    gh_portable_catalog_free(back);
    gh_portable_catalog_free(c);
}

static void jsonc_import_and_errors(void **state)
{
    (void)state;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    char *doc = gh_arena_sprintf(
        c->arena,
        "{ // servers\n \"servers\": {\n  /* a */ \"gh\": {\"command\": \"npx\", \"env\": "
        "{\"GITHUB_TOKEN\": \"%s\"},},\n  \"r\": {\"type\": \"sse\", \"url\": \"https://h/s\"},\n "
        "}\n}\n",
        gen(c->arena, "ghp_", 36));
    struct gh_portable_err e = {{0}};
    assert_int_equal(gh_portable_import(c, GH_PORTABLE_VSCODE, "f", doc, strlen(doc), &e), GH_OK);
    assert_int_equal(c->n_servers, 2);
    assert_string_equal(c->servers[0].env[0].value, "${env:GITHUB_TOKEN}");
    assert_int_equal(c->servers[1].transport, GH_PORTABLE_SSE);
    struct gh_portable_catalog *d = gh_portable_catalog_new();
    const char *bad = "{\n \"mcpServers\": {\"x\": 1\n";
    assert_int_equal(gh_portable_import(d, GH_PORTABLE_CURSOR, "bad.json", bad, strlen(bad), &e),
                     GH_E_PARSE);
    assert_non_null(strstr(e.msg, "bad.json:"));
    const char *none = "{\"other\": {}}";
    assert_int_equal(gh_portable_import(d, GH_PORTABLE_CURSOR, "n.json", none, strlen(none), &e),
                     GH_E_PARSE);
    assert_non_null(strstr(e.msg, "no \"mcpServers\""));
    gh_portable_catalog_free(d);
    gh_portable_catalog_free(c);
}

static struct gh_portable_catalog *gateway_catalog(void)
{
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_portable_server *s;
    assert_int_equal(gh_portable_catalog_add(c, "github", &s), GH_OK);
    s->transport = GH_PORTABLE_HTTP;
    s->url = "https://gw.example.com/mcp/github";
    return c;
}

static void merge_keeps_other_entries(void **state)
{
    (void)state;
    struct gh_portable_catalog *c = gateway_catalog();
    const char *old = "{\n    // mine\n    \"mcpServers\": {\n        \"mine\": {\"command\": "
                      "\"x\"}, // keep\n        \"github\": {\"url\": \"https://old\"}\n    },\n"
                      "    \"z\": 1\n}\n";
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    assert_int_equal(
        gh_portable_merge(c, GH_PORTABLE_CURSOR, NULL, "f", old, strlen(old), &b, NULL), GH_OK);
    const char *t = out_str(&b);
    assert_non_null(strstr(t, "// mine"));
    assert_non_null(strstr(t, "\"mine\": {\"command\": \"x\"}, // keep"));
    assert_non_null(strstr(t, "        \"github\": {\n            \"url\": "
                              "\"https://gw.example.com/mcp/github\"\n        }"));
    assert_null(strstr(t, "https://old"));
    assert_non_null(strstr(t, "\"z\": 1"));
    /* no root key yet: one is added; Claude Desktop gets the connect bridge */
    gh_buf_clear(&b);
    const char *empty = "{\"globalShortcut\": \"x\"}";
    assert_int_equal(
        gh_portable_merge(c, GH_PORTABLE_CLAUDE_DESKTOP, NULL, "f", empty, strlen(empty), &b, NULL),
        GH_OK);
    t = out_str(&b);
    assert_non_null(strstr(t, "\"globalShortcut\": \"x\""));
    assert_non_null(strstr(t, "\"args\": [\"connect\", \"https://gw.example.com/mcp/github\"]"));
    gh_buf_release(&b);
    gh_portable_catalog_free(c);
}

static void migrate_vscode_and_desktop(void **state)
{
    (void)state;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    char *pat = gen(c->arena, "ghp_", 36);
    char *doc = gh_arena_sprintf(c->arena,
                                 "{\n  \"servers\": {\n    \"gh\": {\"command\": \"npx\", \"env\": "
                                 "{\"GITHUB_TOKEN\": \"%s\"}},\n    \"keep\": {\"command\": "
                                 "\"node\"}\n  }\n}\n",
                                 pat);
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    assert_int_equal(
        gh_portable_migrate(c, GH_PORTABLE_VSCODE, "f", doc, strlen(doc), NULL, &b, NULL), GH_OK);
    const char *t = out_str(&b);
    assert_null(strstr(t, pat));
    assert_non_null(strstr(t, "\"GITHUB_TOKEN\": \"${input:github-token}\""));
    assert_non_null(strstr(t, "\"password\": true"));
    assert_non_null(strstr(t, "\"keep\": {\"command\": \"node\"}"));
    assert_true(c->findings[0].migrated);
    /* Claude Desktop cannot reference: reported, file unchanged, unless via the gateway */
    struct gh_portable_catalog *d = gh_portable_catalog_new();
    char *desk = gh_arena_sprintf(c->arena,
                                  "{\"mcpServers\": {\"gh\": {\"command\": \"npx\", "
                                  "\"env\": {\"GITHUB_TOKEN\": \"%s\"}}}}",
                                  pat);
    gh_buf_clear(&b);
    assert_int_equal(
        gh_portable_migrate(d, GH_PORTABLE_CLAUDE_DESKTOP, "f", desk, strlen(desk), NULL, &b, NULL),
        GH_OK);
    assert_memory_equal(b.data, desk, strlen(desk));
    assert_false(d->findings[0].migrated);
    struct gh_portable_migrate_opts o = {.via_gateway = "https://gw", .gatehouse = "gatehouse"};
    gh_buf_clear(&b);
    assert_int_equal(
        gh_portable_migrate(d, GH_PORTABLE_CLAUDE_DESKTOP, "f", desk, strlen(desk), &o, &b, NULL),
        GH_OK);
    t = out_str(&b);
    assert_null(strstr(t, pat));
    assert_non_null(strstr(t, "https://gw/mcp/gh"));
    gh_buf_release(&b);
    gh_portable_catalog_free(d);
    gh_portable_catalog_free(c);
}

static void diff_is_unified(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 1 << 16);
    const char *x = "a\nb\nc\nd\ne\nf\ng\nh\n", *y = "a\nb\nc\nd\nE\nf\ng\nh\n";
    assert_int_equal(gh_portable_diff("f", x, strlen(x), y, strlen(y), &b), GH_OK);
    assert_string_equal(out_str(&b), "--- f\n+++ f (migrated)\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n"
                                     "+E\n f\n g\n h\n");
    gh_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(naming_and_detection),       cmocka_unit_test(toml_and_yaml_escaping),
        cmocka_unit_test(jsonc_import_and_errors),    cmocka_unit_test(merge_keeps_other_entries),
        cmocka_unit_test(migrate_vscode_and_desktop), cmocka_unit_test(diff_is_unified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
