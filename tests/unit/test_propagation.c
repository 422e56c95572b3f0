/*
 * Unit tests of propagation/: the propagation: section's token_exchange part and the precise
 * errors every bad setting gets (the interop suite runs a real exchange against oidc-provider).
 */
#include "config/config.h"
#include "core/core.h"
#include "propagation/propagation.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static char key_path[256];

/* A P-256 key made for this run (the repository holds no key material). */
static int make_key(void **state)
{
    (void)state;
    snprintf(key_path, sizeof(key_path), "/tmp/gh-test-prop-%d.pem", (int)getpid());
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = fopen(key_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(k);
    return 0;
}

static int drop_key(void **state)
{
    (void)state;
    unlink(key_path);
    return 0;
}

/* Compiles the propagation: section of a config made from upstreams + section text; returns the
 * rc and the formatted error in msg. */
static enum gh_rc compile(const char *section, char *msg, size_t cap)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml),
             "gateway: {insecure_no_auth: true}\n"
             "upstreams:\n"
             "  - {name: fx, url: \"http://127.0.0.1:9/mcp\"}\n"
             "propagation:\n%s",
             section);
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    enum gh_rc rc = gh_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err);
    msg[0] = 0;
    if (rc != GH_OK) {
        gh_config_error_format(&err, msg, cap);
        return rc;
    }
    struct gh_prop *p = NULL;
    rc = gh_prop_compile(cfg, cfg->propagation, &p, &err);
    if (rc != GH_OK)
        gh_config_error_format(&err, msg, cap);
    else
        assert_int_equal(gh_prop_upstream_mode(gh_prop_upstream(p, 0)), GH_PROP_TOKEN_EXCHANGE);
    gh_prop_free(p);
    gh_config_unref(cfg);
    return rc;
}

static void test_exchange_ok(void **state)
{
    (void)state;
    char sec[1024], msg[1024];
    snprintf(sec, sizeof(sec),
             "  token_exchange:\n"
             "    token_endpoint: http://127.0.0.1:8/token\n"
             "    client_id: gatehouse\n"
             "    key: file:%s\n"
             "    timeout_ms: 2000\n"
             "  upstreams:\n"
             "    fx: {mode: token-exchange, scopes: [mcp:read]}\n",
             key_path);
    assert_int_equal(compile(sec, msg, sizeof(msg)), GH_OK);
}

static void expect_error(const char *exchange, const char *want)
{
    char sec[1024], msg[1024];
    snprintf(sec, sizeof(sec), "%s  upstreams:\n    fx: {mode: token-exchange}\n", exchange);
    char *withkey = NULL;
    /* "KEY" in the fixture stands for the generated key's path */
    const char *at = strstr(sec, "KEY");
    if (at) {
        size_t n = strlen(sec) + strlen(key_path) + 1;
        withkey = malloc(n);
        snprintf(withkey, n, "%.*s%s%s", (int)(at - sec), sec, key_path, at + 3);
    }
    assert_int_not_equal(compile(withkey ? withkey : sec, msg, sizeof(msg)), GH_OK);
    if (!strstr(msg, want))
        fail_msg("error '%s' does not contain '%s'", msg, want);
    free(withkey);
}

static void test_exchange_errors(void **state)
{
    (void)state;
    expect_error("", "token-exchange needs propagation.token_exchange");
    expect_error("  token_exchange: {client_id: g, key: file:KEY}\n",
                 "token_exchange needs token_endpoint, client_id and key");
    expect_error("  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: g, "
                 "key: abcdef-literal}\n",
                 "a credential must be a reference");
    expect_error("  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: g, "
                 "key: file:/nonexistent/key.pem}\n",
                 "cannot read /nonexistent/key.pem");
    expect_error("  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: g, "
                 "key: file:/etc/hostname}\n",
                 "not a PEM private key");
    expect_error("  token_exchange: {token_endpoint: \"http://93.184.216.34/token\", client_id: g, "
                 "key: file:KEY}\n",
                 "must be https");
    expect_error("  token_exchange: {token_endpoint: \"https://10.1.2.3/token\", client_id: g, "
                 "key: file:KEY}\n",
                 "allow_private_network");
    expect_error(
        "  token_exchange: {token_endpoint: \"ftp://x/token\", client_id: g, key: file:KEY}\n",
        "token_endpoint");
    expect_error("  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: g, "
                 "key: file:KEY, timeout_ms: 5}\n",
                 "expected milliseconds, 100-60000");
    expect_error("  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: g, "
                 "key: file:KEY, secret: x}\n",
                 "unknown key");
    expect_error(
        "  token_exchange: {token_endpoint: http://127.0.0.1:8/token, client_id: \"a\\\"b\", "
        "key: file:KEY}\n",
        "no quotes");
}

/* redact.results: JSON Pointers, only where the gateway may read results */
static void test_redact_results(void **state)
{
    (void)state;
    char msg[1024];
    const char *ok = "  upstreams:\n    fx: {redact: {results: [/structuredContent/ssn]}}\n";
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "%s", ok);
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    char full[1024];
    snprintf(full, sizeof(full),
             "gateway: {insecure_no_auth: true}\nupstreams:\n  - {name: fx, url: "
             "\"http://127.0.0.1:9/mcp\"}\npropagation:\n%s",
             yaml);
    assert_int_equal(gh_config_load_string("t.yaml", full, strlen(full), &cfg, &err), GH_OK);
    struct gh_prop *p = NULL;
    assert_int_equal(gh_prop_compile(cfg, cfg->propagation, &p, &err), GH_OK);
    const char *const *ptrs;
    assert_int_equal(gh_prop_upstream_result_redactions(gh_prop_upstream(p, 0), &ptrs), 1);
    assert_string_equal(ptrs[0], "/structuredContent/ssn");
    gh_prop_free(p);
    gh_config_unref(cfg);
    static const struct {
        const char *sec, *want;
    } BAD[] = {
        {"  upstreams:\n    fx: {inspect: arguments, redact: {results: [/x]}}\n",
         "redacting results needs inspect: results"},
        {"  upstreams:\n    fx: {redact: {results: [x]}}\n", "expected a JSON Pointer"},
        {"  upstreams:\n    fx: {redact: {answers: [/x]}}\n", "expected arguments or results"},
        {"  upstreams:\n    fx: {redact: {results: []}}\n", "expected a list of 1-16"},
    };
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        snprintf(full, sizeof(full),
                 "gateway: {insecure_no_auth: true}\nupstreams:\n  - {name: fx, url: "
                 "\"http://127.0.0.1:9/mcp\"}\npropagation:\n%s",
                 BAD[i].sec);
        cfg = NULL;
        memset(&err, 0, sizeof(err));
        assert_int_equal(gh_config_load_string("t.yaml", full, strlen(full), &cfg, &err), GH_OK);
        p = NULL;
        assert_int_not_equal(gh_prop_compile(cfg, cfg->propagation, &p, &err), GH_OK);
        gh_config_error_format(&err, msg, sizeof(msg));
        if (!strstr(msg, BAD[i].want))
            fail_msg("error '%s' does not contain '%s'", msg, BAD[i].want);
        gh_prop_free(p);
        gh_config_unref(cfg);
    }
}

static void test_exchange_private_network_allowed(void **state)
{
    (void)state;
    char sec[1024], msg[1024];
    snprintf(sec, sizeof(sec),
             "  token_exchange:\n"
             "    token_endpoint: https://10.1.2.3/token\n"
             "    allow_private_network: true\n"
             "    client_id: gatehouse\n"
             "    key: file:%s\n"
             "  upstreams:\n"
             "    fx: {mode: token-exchange}\n",
             key_path);
    assert_int_equal(compile(sec, msg, sizeof(msg)), GH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_ok),
        cmocka_unit_test(test_exchange_errors),
        cmocka_unit_test(test_exchange_private_network_allowed),
        cmocka_unit_test(test_redact_results),
    };
    return cmocka_run_group_tests(tests, make_key, drop_key);
}
