/* Unit tests for config/: defaults, a full file, every class of error with its exact position and
 * key path, the URL and address parsers, stdio upstreams, aggregated endpoints, the auth: section
 * (OAuth resource server), building from code, refcounts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "config/config.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static enum gh_rc load(const char *yaml, struct gh_config **c, struct gh_config_error *e)
{
    return gh_config_load_string("gw.yaml", yaml, strlen(yaml), c, e);
}

/* Loads yaml, expects GH_E_PARSE and exactly this formatted error. */
static void expect_error(const char *yaml, const char *want)
{
    struct gh_config *c = (struct gh_config *)0x1;
    struct gh_config_error e;
    char msg[1024];
    assert_int_equal(load(yaml, &c, &e), GH_E_PARSE);
    assert_null(c);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, want);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- defaults and valid files ---- */

static void defaults_are_embedded(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_int_equal(c->n_listeners, 1);
    assert_string_equal(c->listeners[0].addr.host, "127.0.0.1");
    assert_int_equal(c->listeners[0].addr.port, 8080);
    assert_int_equal(c->listeners[0].addr.family, GH_CONFIG_FAMILY_IPV4);
    assert_null(c->listeners[0].tls);
    assert_int_equal(c->n_upstreams, 0);
    assert_int_equal(c->gateway.workers, 0);
    assert_int_equal(c->gateway.log_level, GH_LOG_INFO);
    assert_false(c->gateway.insecure_no_auth);
    assert_int_equal(c->limits.header_bytes, 16384);
    assert_int_equal(c->limits.headers_count, 100);
    assert_int_equal(c->limits.body_bytes, 4194304);
    assert_int_equal(c->limits.json_depth, 64);
    assert_int_equal(c->limits.batch_length, 32);
    assert_int_equal(c->limits.sse_event_bytes, 1048576);
    assert_int_equal(c->limits.sse_replay_bytes, 1048576);
    assert_int_equal(c->limits.sessions_per_principal, 64);
    assert_int_equal(c->limits.sessions_total, 10000);
    assert_int_equal(c->limits.concurrent_requests_per_principal, 64);
    assert_int_equal(c->limits.connections, 10000);
    assert_int_equal(c->limits.stdio_children, 64);
    assert_int_equal(c->timeouts.header_ms, 10000);
    assert_int_equal(c->timeouts.body_ms, 30000);
    assert_int_equal(c->timeouts.idle_ms, 60000);
    assert_int_equal(c->timeouts.upstream_connect_ms, 5000);
    assert_int_equal(c->timeouts.upstream_first_byte_ms, 60000);
    assert_int_equal(c->timeouts.stream_idle_ms, 300000);
    assert_int_equal(c->timeouts.session_idle_ms, 1800000);
    assert_int_equal(c->timeouts.shutdown_drain_ms, 10000);
    assert_int_equal(gh_config_validate(c, NULL), GH_OK);
    gh_config_unref(c);
}

static void empty_and_comment_only_files_give_defaults(void **state)
{
    (void)state;
    const char *inputs[] = {"", "# nothing\n", "---\n", "~\n"};
    for (size_t i = 0; i < GH_ARRAY_LEN(inputs); i++) {
        struct gh_config *c = NULL;
        assert_int_equal(load(inputs[i], &c, NULL), GH_OK);
        assert_int_equal(c->n_listeners, 1);
        assert_int_equal(c->limits.json_depth, 64);
        gh_config_unref(c);
    }
}

static void full_valid_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-config-test-XXXXXX", cert[128], key[128], yaml[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    write_file(cert, "cert\n");
    write_file(key, "key\n");
    snprintf(yaml, sizeof(yaml),
             "gateway:\n"
             "  workers: 4\n"
             "  log_level: debug\n"
             "  insecure_no_auth: true\n"
             "  allowed_origins: [\"https://app.example.com\", \"http://localhost:5173\"]\n"
             "  allowed_hosts:\n"
             "    - gw.example.com\n"
             "listeners:\n"
             "  - address: 127.0.0.1:0\n"
             "  - address: \"[::1]:8443\"\n"
             "    tls:\n"
             "      certificate: %s\n"
             "      key: '%s'\n"
             "upstreams:\n"
             "  - name: everything\n"
             "    url: http://127.0.0.1:3001/mcp\n"
             "    max_connections: 8\n"
             "    timeouts: {connect_ms: 1000, first_byte_ms: 2000, stream_idle_ms: 3000}\n"
             "  - name: Files_2\n"
             "    url: HTTPS://Files.Example.com/v1/mcp?tenant=a\n"
             "    path: /files\n"
             "limits:\n"
             "  header_bytes: 8192\n"
             "  json_depth: 32\n"
             "  stdio_children: 1\n"
             "timeouts:\n"
             "  idle_ms: 5000\n"
             "  shutdown_drain_ms: 1\n",
             cert, key);
    struct gh_config *c = NULL;
    struct gh_config_error e;
    assert_int_equal(load(yaml, &c, &e), GH_OK);
    assert_string_equal(c->source, "gw.yaml");
    assert_int_equal(c->gateway.workers, 4);
    assert_int_equal(c->gateway.log_level, GH_LOG_DEBUG);
    assert_true(c->gateway.insecure_no_auth);
    assert_int_equal(c->gateway.n_allowed_origins, 2);
    assert_string_equal(c->gateway.allowed_origins[1], "http://localhost:5173");
    assert_int_equal(c->gateway.n_allowed_hosts, 1);
    assert_string_equal(c->gateway.allowed_hosts[0], "gw.example.com");
    assert_int_equal(c->n_listeners, 2);
    assert_int_equal(c->listeners[0].addr.port, 0);
    assert_null(c->listeners[0].tls);
    assert_string_equal(c->listeners[1].addr.host, "::1");
    assert_int_equal(c->listeners[1].addr.family, GH_CONFIG_FAMILY_IPV6);
    assert_int_equal(c->listeners[1].addr.port, 8443);
    assert_string_equal(c->listeners[1].tls->certificate, cert);
    assert_string_equal(c->listeners[1].tls->key, key);
    assert_int_equal(c->n_upstreams, 2);
    const struct gh_config_upstream *u0 = &c->upstreams[0], *u1 = &c->upstreams[1];
    assert_string_equal(u0->name, "everything");
    assert_false(u0->url.tls);
    assert_string_equal(u0->url.host, "127.0.0.1");
    assert_int_equal(u0->url.port, 3001);
    assert_string_equal(u0->url.path, "/mcp");
    assert_string_equal(u0->path, "/mcp/everything"); /* two upstreams: derived per name */
    assert_true(u0->path_default);
    assert_int_equal(u0->max_connections, 8);
    assert_int_equal(u0->timeouts.connect_ms, 1000);
    assert_int_equal(u0->timeouts.first_byte_ms, 2000);
    assert_int_equal(u0->timeouts.stream_idle_ms, 3000);
    assert_true(u1->url.tls);
    assert_string_equal(u1->url.host, "files.example.com");
    assert_int_equal(u1->url.port, 443);
    assert_string_equal(u1->url.path, "/v1/mcp?tenant=a");
    assert_string_equal(u1->path, "/files");
    assert_false(u1->path_default);
    assert_int_equal(u1->max_connections, 64);
    assert_int_equal(u1->timeouts.connect_ms, 0); /* inherits timeouts.upstream_connect_ms */
    assert_int_equal(c->limits.header_bytes, 8192);
    assert_int_equal(c->limits.json_depth, 32);
    assert_int_equal(c->limits.stdio_children, 1);
    assert_int_equal(c->limits.body_bytes, 4194304); /* untouched keys keep defaults */
    assert_int_equal(c->timeouts.idle_ms, 5000);
    assert_int_equal(c->timeouts.shutdown_drain_ms, 1);
    gh_config_unref(c);

    /* the same file from disk; then the key file disappears: the load must fail at its line */
    char path[160];
    snprintf(path, sizeof(path), "%s/gw.yaml", dir);
    write_file(path, yaml);
    assert_int_equal(gh_config_load_file(path, &c, &e), GH_OK);
    assert_int_equal(c->n_upstreams, 2);
    gh_config_unref(c);
    unlink(key);
    assert_int_equal(gh_config_load_file(path, &c, &e), GH_E_PARSE);
    assert_null(c);
    assert_string_equal(e.file, path);
    assert_int_equal(e.line, 13);
    assert_int_equal(e.column, 12);
    assert_string_equal(e.path, "listeners[1].tls.key");
    assert_string_equal(e.msg, "cannot read key file: No such file or directory");
    unlink(cert);
    unlink(path);
    rmdir(dir);
}

static void single_upstream_gets_mcp_path(void **state)
{
    (void)state;
    struct gh_config *c = NULL;
    assert_int_equal(load("upstreams:\n  - {name: a, url: 'http://[::1]:9/'}\n", &c, NULL), GH_OK);
    assert_string_equal(c->upstreams[0].path, "/mcp");
    assert_string_equal(c->upstreams[0].url.host, "::1");
    assert_int_equal(c->upstreams[0].url.family, GH_CONFIG_FAMILY_IPV6);
    assert_int_equal(c->upstreams[0].url.port, 9);
    assert_string_equal(c->upstreams[0].url.path, "/");
    gh_config_unref(c);
}

/* ---- each class of error, with position and key path ---- */

static void unknown_keys(void **state)
{
    (void)state;
    expect_error("gateway:\n  wrokers: 2\n",
                 "gw.yaml:2:3: gateway.wrokers: unknown key (expected one of: workers, log_level, "
                 "insecure_no_auth, allowed_origins, allowed_hosts, trusted_proxies)");
    expect_error("listen:\n  - address: 127.0.0.1:1\n",
                 "gw.yaml:1:1: listen: unknown key (expected one of: gateway, listeners, "
                 "upstreams, endpoints, limits, timeouts, auth, policy, audit, propagation)");
    expect_error("upstreams:\n  - name: a\n    url: http://h/\n    timeouts:\n      read_ms: 5\n",
                 "gw.yaml:5:7: upstreams[0].timeouts.read_ms: unknown key (expected one of: "
                 "connect_ms, first_byte_ms, stream_idle_ms)");
}

static void wrong_types(void **state)
{
    (void)state;
    expect_error("limits:\n  body_bytes: \"100\"\n",
                 "gw.yaml:2:15: limits.body_bytes: expected an integer");
    expect_error("limits:\n  body_bytes: 0x100\n",
                 "gw.yaml:2:15: limits.body_bytes: expected an integer");
    expect_error("limits:\n  body_bytes: 0100\n",
                 "gw.yaml:2:15: limits.body_bytes: expected an integer");
    expect_error("gateway:\n  insecure_no_auth: yes\n",
                 "gw.yaml:2:21: gateway.insecure_no_auth: expected true or false");
    expect_error("gateway: 5\n", "gw.yaml:1:10: gateway: expected a mapping");
    expect_error("listeners: {address: 127.0.0.1:1}\n", "gw.yaml:1:12: listeners: expected a list");
    expect_error("gateway:\n  allowed_hosts: [a, [b]]\n",
                 "gw.yaml:2:22: gateway.allowed_hosts[1]: expected a string");
    expect_error("upstreams:\n  - name:\n    url: http://h/\n",
                 "gw.yaml:2:10: upstreams[0].name: expected a string");
    expect_error("gateway:\n  log_level: verbose\n",
                 "gw.yaml:2:14: gateway.log_level: expected one of: error, warn, info, debug");
    expect_error("- 1\n", "gw.yaml:1:1: expected a mapping at the top level");
}

static void bad_urls(void **state)
{
    (void)state;
    expect_error("upstreams:\n"
                 "  - name: a\n"
                 "    url: http://127.0.0.1:3001/mcp\n"
                 "  - name: b\n"
                 "    url: ftp://files.example.com/\n",
                 "gw.yaml:5:10: upstreams[1].url: scheme must be http or https");
    /* the password must never appear in the message */
    struct gh_config *c;
    struct gh_config_error e;
    char msg[512];
    const char *y = "upstreams:\n  - name: a\n    url: https://admin:hunter2@h.example/\n";
    assert_int_equal(load(y, &c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg,
                        "gw.yaml:3:10: upstreams[0].url: userinfo (user:password@) is not allowed");
    assert_null(strstr(msg, "hunter2"));
    expect_error("upstreams:\n  - name: a\n",
                 "gw.yaml:2:5: upstreams[0].url: required key is missing");
}

static void duplicate_upstream_name_and_path(void **state)
{
    (void)state;
    expect_error("upstreams:\n"
                 "  - name: docs\n"
                 "    url: http://127.0.0.1:1/\n"
                 "  - name: docs\n"
                 "    url: http://127.0.0.1:2/\n",
                 "gw.yaml:4:11: upstreams[1].name: duplicate upstream name (also upstreams[0])");
    expect_error("upstreams:\n"
                 "  - {name: a, url: 'http://h/', path: /x}\n"
                 "  - {name: b, url: 'http://h/', path: /x}\n",
                 "gw.yaml:3:39: upstreams[1].path: duplicate path (also served by upstreams[0])");
    /* a derived path collides: the error points at the upstream entry that has no path key */
    expect_error("upstreams:\n"
                 "  - {name: a, url: 'http://h/', path: /mcp/b}\n"
                 "  - name: b\n"
                 "    url: http://h/\n",
                 "gw.yaml:3:5: upstreams[1].path: duplicate path (also served by upstreams[0])");
    expect_error("listeners:\n  - address: 127.0.0.1:80\n  - address: 127.0.0.1:80\n",
                 "gw.yaml:3:14: listeners[1].address: duplicate listener address (also "
                 "listeners[0])");
}

static void duplicate_yaml_keys(void **state)
{
    (void)state;
    expect_error("gateway:\n  workers: 1\n  workers: 2\n",
                 "gw.yaml:3:3: gateway.workers: duplicate key");
    expect_error("limits: {}\nlimits: {}\n", "gw.yaml:2:1: limits: duplicate key");
}

static void aliases_anchors_tags_refused(void **state)
{
    (void)state;
    expect_error("limits:\n  body_bytes: &n 5\n",
                 "gw.yaml:2:15: limits.body_bytes: YAML anchors are not allowed");
    expect_error("limits:\n  body_bytes: *n\n",
                 "gw.yaml:2:15: limits.body_bytes: YAML aliases are not allowed");
    expect_error("a: &a [1]\nb: [*a, *a]\n", "gw.yaml:1:4: a: YAML anchors are not allowed");
    expect_error("limits:\n  body_bytes: !!int 5\n",
                 "gw.yaml:2:15: limits.body_bytes: YAML tags are not allowed");
    expect_error("upstreams:\n  - name: a\n  - *x\n",
                 "gw.yaml:3:5: upstreams[1]: YAML aliases are not allowed");
}

static void tls_needs_both_files(void **state)
{
    (void)state;
    expect_error("listeners:\n"
                 "  - address: 127.0.0.1:8443\n"
                 "    tls:\n"
                 "      certificate: /etc/gatehouse/cert.pem\n",
                 "gw.yaml:4:7: listeners[0].tls.key: required key is missing (tls needs "
                 "certificate and key)");
    expect_error("listeners:\n  - tls: {key: /k}\n",
                 "gw.yaml:2:10: listeners[0].tls.certificate: required key is missing (tls needs "
                 "certificate and key)");
    expect_error("listeners:\n  - address: 127.0.0.1:8443\n    tls:\n      certificate: "
                 "/nonexistent/gh-cert.pem\n      key: /nonexistent/gh-key.pem\n",
                 "gw.yaml:4:20: listeners[0].tls.certificate: cannot read certificate file: No "
                 "such file or directory");
}

static void limits_out_of_range(void **state)
{
    (void)state;
    expect_error("limits:\n  json_depth: 100000\n",
                 "gw.yaml:2:15: limits.json_depth: must be between 1 and 512");
    expect_error("limits:\n  header_bytes: 0\n",
                 "gw.yaml:2:17: limits.header_bytes: must be between 1 and 1048576");
    expect_error("timeouts:\n  idle_ms: -5\n",
                 "gw.yaml:2:12: timeouts.idle_ms: must be between 1 and 86400000");
    expect_error("limits:\n  connections: 99999999999999999999999\n",
                 "gw.yaml:2:16: limits.connections: must be between 1 and 1000000");
    expect_error("gateway:\n  workers: 257\n",
                 "gw.yaml:2:12: gateway.workers: must be between 0 and 256");
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', max_connections: 0}\n",
                 "gw.yaml:2:50: upstreams[0].max_connections: must be between 1 and 10000");
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', timeouts: {connect_ms: 0}}\n",
                 "gw.yaml:2:56: upstreams[0].timeouts.connect_ms: must be between 1 and "
                 "86400000");
}

static void listener_and_value_formats(void **state)
{
    (void)state;
    expect_error("listeners: []\n", "gw.yaml:1:12: listeners: at least one listener is required");
    expect_error("listeners:\n  - address: 0.0.0.0\n",
                 "gw.yaml:2:14: listeners[0].address: expected host:port (e.g. 127.0.0.1:8080)");
    expect_error("listeners:\n  - address: example.com:80\n",
                 "gw.yaml:2:14: listeners[0].address: host must be an IPv4 address, a [bracketed] "
                 "IPv6 address or localhost");
    expect_error("listeners:\n  - {}\n",
                 "gw.yaml:2:5: listeners[0].address: required key is missing");
    expect_error(
        "upstreams:\n  - {name: 'a b', url: 'http://h/'}\n",
        "gw.yaml:2:12: upstreams[0].name: name must be 1-64 characters of A-Z a-z 0-9 _ -");
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', path: /a/../b}\n",
                 "gw.yaml:2:39: upstreams[0].path: path must not contain ..");
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', path: '/a?b'}\n",
                 "gw.yaml:2:39: upstreams[0].path: path must not contain a query");
    expect_error("gateway:\n  allowed_origins: ['https://app.example.com/']\n",
                 "gw.yaml:2:21: gateway.allowed_origins[0]: an origin is scheme://host[:port] with "
                 "no path, query or trailing slash");
    expect_error("gateway:\n  allowed_hosts: [\"a\\tb\"]\n",
                 "gw.yaml:2:19: gateway.allowed_hosts[0]: control characters are not allowed");
    expect_error("gateway:\n  trusted_proxies: [10.0.0.0/8, 10.1.0.0/33]\n",
                 "gw.yaml:2:33: gateway.trusted_proxies[1]: prefix must be 0-32");
    expect_error(
        "gateway:\n  trusted_proxies: [proxy.example]\n",
        "gw.yaml:2:21: gateway.trusted_proxies[0]: expected an IP address or IP/prefix, e.g. "
        "10.0.0.0/8 or ::1");
    struct gh_config *c = NULL;
    struct gh_config_error e;
    assert_int_equal(load("gateway:\n  trusted_proxies: [127.0.0.2, \"fd00::/8\"]\n", &c, &e),
                     GH_OK);
    assert_int_equal(c->gateway.n_trusted_proxies, 2);
    assert_string_equal(c->gateway.trusted_proxies[1], "fd00::/8");
    gh_config_unref(c);
}

static void yaml_structure_errors(void **state)
{
    (void)state;
    expect_error("gateway:\n  workers: [1\n", "gw.yaml:3:1: YAML syntax: while parsing a flow "
                                              "sequence did not find expected ',' or ']'");
    expect_error("gateway: {}\n---\nlimits: {}\n",
                 "gw.yaml:2:1: only one YAML document is allowed");
    expect_error("? [a]\n: 1\n", "gw.yaml:1:3: keys must be plain strings");
    char deep[200] = "a: ";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    expect_error(deep,
                 "gw.yaml:1:19: a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting is too "
                 "deep (max 16 levels)");
}

static void size_cap(void **state)
{
    (void)state;
    size_t n = GH_CONFIG_MAX_BYTES + 1;
    char *big = gh_xmalloc(n);
    memset(big, '#', n);
    struct gh_config *c;
    struct gh_config_error e;
    assert_int_equal(gh_config_load_string("big.yaml", big, n, &c, &e), GH_E_LIMIT);
    assert_null(c);
    assert_string_equal(e.msg, "configuration is larger than 1 MiB");
    free(big);
    assert_int_equal(gh_config_load_file("/nonexistent/gw.yaml", &c, &e), GH_E_IO);
    assert_string_equal(e.msg, "cannot open: No such file or directory");
}

/* ---- parsers ---- */

static void url_parser(void **state)
{
    (void)state;
    struct gh_config_url u;
    const char *why = NULL;
    assert_int_equal(gh_config_url_parse("http://a.b:8080?x=1", &u, &why), GH_OK);
    assert_string_equal(u.host, "a.b");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/?x=1");
    gh_config_url_release(&u);
    struct {
        const char *in, *why;
    } bad[] = {
        {"http://h/#frag", "fragments are not allowed"},
        {"http://h :1/", "URL must not contain spaces, control or non-ASCII characters"},
        {"http://h/\x01", "URL must not contain spaces, control or non-ASCII characters"},
        {"http://h:0/", "port must be between 1 and 65535"},
        {"http://h:65536/", "port must be between 1 and 65535"},
        {"http://h:080/", "port must be a decimal number without leading zeros"},
        {"http://h:/", "port must be a decimal number without leading zeros"},
        {"http://u@h/", "userinfo (user:password@) is not allowed"},
        {"http:///p", "host is required"},
        {"http://:80/", "host is required"},
        {"http://example.com./", "malformed host name"},
        {"http://127.0.0.1./", "malformed host name"},
        {"http://0x7f.0.0.1/", "malformed IPv4 address"},
        {"http://127.1/", "malformed IPv4 address"},
        {"http://2130706433/", "malformed IPv4 address"},
        {"http://[::1/", "malformed IPv6 address"},
        {"http://[fe80::1%25eth0]/", "malformed IPv6 address"},
        {"http://-a.b/", "malformed host name"},
        {"http://a..b/", "malformed host name"},
        {"http://h\\@evil/", "backslashes are not allowed in URLs"},
        {"http://h/%zz", "malformed percent-encoding in path"},
        {"http://h/<x>", "path has a character that must be percent-encoded"},
        {"javascript:alert(1)", "expected an absolute URL (http://host/path)"},
        {"file:///etc/passwd", "scheme must be http or https"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        why = NULL;
        assert_int_equal(gh_config_url_parse(bad[i].in, &u, &why), GH_E_PARSE);
        assert_string_equal(why, bad[i].why);
    }
}

static void addr_parser(void **state)
{
    (void)state;
    struct gh_config_addr a;
    assert_int_equal(gh_config_addr_parse("LOCALHOST:65535", &a, NULL), GH_OK);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(a.port, 65535);
    assert_int_equal(a.family, GH_CONFIG_FAMILY_NAME);
    free(a.host);
    const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80", "[::1]80",
                         "1.2.3:80",  "[::1]",      "localhost:-1",    ":80",    "127.0.0.1:1:2"};
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++)
        assert_int_equal(gh_config_addr_parse(bad[i], &a, NULL), GH_E_PARSE);
}

/* ---- building from code ---- */

static void built_by_code(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    struct gh_config_error e;
    char msg[512];
    assert_int_equal(gh_config_add_listener(c, "[::1]:9000"), GH_OK);
    assert_int_equal(c->n_listeners, 1); /* replaced the default */
    assert_int_equal(gh_config_add_listener(c, "127.0.0.1:9001"), GH_OK);
    assert_int_equal(c->n_listeners, 2);
    assert_int_equal(gh_config_add_listener(c, "127.0.0.1"), GH_E_PARSE);
    assert_int_equal(gh_config_add_upstream(c, "one", "http://127.0.0.1:1/mcp", NULL), GH_OK);
    assert_string_equal(c->upstreams[0].path, "/mcp");
    assert_int_equal(gh_config_add_upstream(c, "two", "http://127.0.0.1:2/mcp", NULL), GH_OK);
    assert_string_equal(c->upstreams[0].path, "/mcp/one"); /* re-derived */
    assert_string_equal(c->upstreams[1].path, "/mcp/two");
    assert_int_equal(gh_config_add_upstream(c, "bad name", "http://h/", NULL), GH_E_PARSE);
    assert_int_equal(gh_config_add_upstream(c, "x", "ftp://h/", NULL), GH_E_PARSE);
    assert_int_equal(gh_config_add_upstream(c, "x", "http://h/", "mcp"), GH_E_PARSE);
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    assert_int_equal(gh_config_add_upstream(c, "one", "http://h/", "/other"), GH_OK);
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): upstreams[2].name: duplicate upstream name (also "
                             "upstreams[0])");
    c->n_upstreams--; /* drop it again (the test owns the struct) */
    gh_free(&c->upstreams[2].name);
    gh_free(&c->upstreams[2].path);
    gh_config_url_release(&c->upstreams[2].url);
    c->limits.batch_length = 5000;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): limits.batch_length: must be between 1 and 1024");
    gh_config_unref(c);
}

/* ---- stdio upstreams ---- */

static void stdio_upstream_valid(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-config-test-XXXXXX", key[128], yaml[2048];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/api_key", dir);
    write_file(key, "k\n");
    assert_int_equal(chmod(key, 0600), 0);
    setenv("GH_TEST_CFG_TOKEN", "t", 1);
    snprintf(yaml, sizeof(yaml),
             "upstreams:\n"
             "  - name: everything\n"
             "    command: sh\n"
             "    args: [\"-c\", \"exec cat\"]\n"
             "    cwd: %s\n"
             "    env:\n"
             "      PATH: /usr/local/bin:/usr/bin:/bin\n"
             "      GITHUB_TOKEN: env:GH_TEST_CFG_TOKEN\n"
             "      API_KEY: file:%s\n"
             "      EMPTY_SECRET: ''\n"
             "      NOTE: task-runner sk-short hf_home AKIA123\n"
             "    mode: shared\n"
             "    stop_grace_ms: 500\n"
             "    timeouts: {first_byte_ms: 1000}\n"
             "  - name: http\n"
             "    url: http://127.0.0.1:1/mcp\n"
             "limits: {body_bytes: 1000}\n",
             dir, key);
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[512];
    if (load(yaml, &c, &e) != GH_OK) {
        gh_config_error_format(&e, msg, sizeof(msg));
        fail_msg("%s", msg);
    }
    const struct gh_config_upstream *u = &c->upstreams[0], *h = &c->upstreams[1];
    assert_int_equal(u->kind, GH_CONFIG_UPSTREAM_STDIO);
    assert_string_equal(u->command, "sh");
    assert_string_equal(u->argv[0], "sh");
    assert_string_equal(u->argv[1], "-c");
    assert_string_equal(u->argv[2], "exec cat");
    assert_null(u->argv[3]);
    assert_string_equal(u->cwd, dir);
    assert_int_equal(u->n_env, 5);
    assert_string_equal(u->env[0].name, "PATH");
    assert_int_equal(u->env[0].kind, GH_CONFIG_ENV_LITERAL);
    assert_int_equal(u->env[1].kind, GH_CONFIG_ENV_FROM_ENV);
    assert_string_equal(u->env[1].value, "GH_TEST_CFG_TOKEN");
    assert_int_equal(u->env[2].kind, GH_CONFIG_ENV_FROM_FILE);
    assert_string_equal(u->env[2].value, key);
    assert_int_equal(u->env[3].kind, GH_CONFIG_ENV_LITERAL);
    assert_int_equal(u->mode, GH_CONFIG_STDIO_SHARED);
    assert_int_equal(u->message_bytes, 1000); /* limits.body_bytes, even written after */
    assert_int_equal(u->stop_grace_ms, 500);
    assert_int_equal(u->max_connections, 0);
    assert_int_equal(u->timeouts.first_byte_ms, 1000);
    assert_string_equal(u->path, "/mcp/everything");
    assert_int_equal(h->kind, GH_CONFIG_UPSTREAM_HTTP);
    assert_int_equal(h->max_connections, 64);
    assert_null(h->command);
    assert_null(h->argv);
    gh_config_unref(c);
    assert_int_equal(load("upstreams:\n  - {name: a, command: /bin/sh}\n", &c, NULL), GH_OK);
    assert_int_equal(c->upstreams[0].mode, GH_CONFIG_STDIO_PER_SESSION);
    assert_int_equal(c->upstreams[0].message_bytes, 4194304);
    assert_int_equal(c->upstreams[0].stop_grace_ms, 2000);
    assert_int_equal(c->upstreams[0].n_env, 0);
    assert_string_equal(c->upstreams[0].argv[0], "/bin/sh");
    assert_null(c->upstreams[0].argv[1]);
    gh_config_unref(c);
    unsetenv("GH_TEST_CFG_TOKEN");
    unlink(key);
    rmdir(dir);
}

static void stdio_kind_errors(void **state)
{
    (void)state;
    expect_error("upstreams:\n  - name: a\n    url: http://h/\n    command: /bin/sh\n",
                 "gw.yaml:4:5: upstreams[0].command: url and command are mutually exclusive (an "
                 "upstream is either HTTP or stdio)");
    expect_error("upstreams:\n  - name: a\n    url: http://h/\n    args: [x]\n",
                 "gw.yaml:4:5: upstreams[0].args: only for stdio upstreams (those with command)");
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', stop_grace_ms: 5}\n",
                 "gw.yaml:2:33: upstreams[0].stop_grace_ms: only for stdio upstreams (those with "
                 "command)");
    expect_error("upstreams:\n  - name: a\n    command: /bin/sh\n    max_connections: 4\n",
                 "gw.yaml:4:5: upstreams[0].max_connections: only for HTTP upstreams (those with "
                 "url)");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, timeouts: {connect_ms: 5}}\n",
                 "gw.yaml:2:56: upstreams[0].timeouts.connect_ms: only for HTTP upstreams (those "
                 "with url)");
    expect_error("upstreams:\n  - {name: a, command: bin/server}\n",
                 "gw.yaml:2:24: upstreams[0].command: command must be an absolute path or a "
                 "program name looked up in env PATH (no relative paths)");
    expect_error("upstreams:\n  - {name: a, command: ''}\n",
                 "gw.yaml:2:24: upstreams[0].command: command must not be empty");
    expect_error("upstreams:\n  - {name: a, command: sh}\n",
                 "gw.yaml:2:24: upstreams[0].command: command is a bare name but env has no PATH "
                 "to look it up in (the gateway's own PATH is never used)");
    expect_error("upstreams:\n  - {name: a, command: gh-no-such-tool, env: {PATH: '/bin:bin'}}\n",
                 "gw.yaml:2:24: upstreams[0].command: command not found in env PATH (absolute "
                 "entries only)");
    expect_error("upstreams:\n  - {name: a, command: /nonexistent/gh-server}\n",
                 "gw.yaml:2:24: upstreams[0].command: command is not an executable file (No such "
                 "file or directory)");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, cwd: srv}\n",
                 "gw.yaml:2:38: upstreams[0].cwd: cwd must be an absolute path");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, cwd: /nonexistent/gh-dir}\n",
                 "gw.yaml:2:38: upstreams[0].cwd: cannot use cwd: No such file or directory");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, cwd: /bin/sh}\n",
                 "gw.yaml:2:38: upstreams[0].cwd: cwd is not a directory");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, mode: pooled}\n",
                 "gw.yaml:2:39: upstreams[0].mode: expected per-session or shared");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, message_bytes: 0}\n",
                 "gw.yaml:2:48: upstreams[0].message_bytes: must be between 1 and 268435456");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, stop_grace_ms: 60001}\n",
                 "gw.yaml:2:48: upstreams[0].stop_grace_ms: must be between 1 and 60000");
    expect_error("upstreams:\n  - {name: a, command: /bin/sh, args: -x}\n",
                 "gw.yaml:2:39: upstreams[0].args: expected a list");
}

static void stdio_env_errors(void **state)
{
    (void)state;
    const char *head = "upstreams:\n  - name: a\n    command: /bin/sh\n    env:\n";
    char y[512];
    struct {
        const char *line, *want;
    } cases[] = {
        {"      9LIVES: x\n",
         "gw.yaml:5:7: upstreams[0].env.9LIVES: environment variable names are "
         "[A-Za-z_][A-Za-z0-9_]* (1-128 bytes)"},
        {"      MY-VAR: x\n",
         "gw.yaml:5:7: upstreams[0].env.MY-VAR: environment variable names are "
         "[A-Za-z_][A-Za-z0-9_]* (1-128 bytes)"},
        {"      GITHUB_TOKEN: abc\n",
         "gw.yaml:5:21: upstreams[0].env.GITHUB_TOKEN: the variable name says it holds a secret: "
         "give the value as env:VARIABLE (from the gateway's environment) or "
         "file:/absolute/path, never inline"},
        {"      db_password: hunter2\n",
         "gw.yaml:5:20: upstreams[0].env.db_password: the variable name says it holds a secret: "
         "give the value as env:VARIABLE (from the gateway's environment) or "
         "file:/absolute/path, never inline"},
        {"      X_Auth: abc\n",
         "gw.yaml:5:15: upstreams[0].env.X_Auth: the variable name says it holds a secret: give "
         "the value as env:VARIABLE (from the gateway's environment) or file:/absolute/path, "
         "never inline"},
        {"      OPTS: --key ghp_0123456789abcdefABCDEF0123456789abcd\n",
         "gw.yaml:5:13: upstreams[0].env.OPTS: value looks like a GitHub token: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: xoxb-1234567890-abcdefghijkl\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like a Slack token: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: sk-ant-api03-abcdefghijklmnopqrstuvwxyz\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like an API secret key: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: AKIAIOSFODNN7EXAMPLE\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like an AWS access key id: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: glpat-abcdefghijklmnopqrst\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like a GitLab token: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: hf_abcdefghijklmnopqrstuvwxyzABCDEFGH\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like a Hugging Face token: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: npm_abcdefghijklmnopqrstuvwxyz0123456789\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like an npm token: give it as "
         "env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like a JWT: give it as env:VARIABLE "
         "(from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: '-----BEGIN PRIVATE KEY-----'\n",
         "gw.yaml:5:10: upstreams[0].env.X: value looks like a PEM key or certificate: give it "
         "as env:VARIABLE (from the gateway's environment) or file:/absolute/path, never inline"},
        {"      X: env:9BAD\n",
         "gw.yaml:5:10: upstreams[0].env.X: env: must name a variable of the gateway's "
         "environment ([A-Za-z_][A-Za-z0-9_]*)"},
        {"      X: file:run/secrets/x\n",
         "gw.yaml:5:10: upstreams[0].env.X: file: needs an absolute path "
         "(file:/run/secrets/name)"},
        {"      X: env:GH_TEST_CFG_SURELY_UNSET\n",
         "gw.yaml:5:10: upstreams[0].env.X: env:GH_TEST_CFG_SURELY_UNSET is not set in the "
         "gateway's environment"},
        {"      X: file:/nonexistent/gh-secret\n",
         "gw.yaml:5:10: upstreams[0].env.X: cannot read secret file: No such file or "
         "directory"},
        {"      X: [a]\n", "gw.yaml:5:10: upstreams[0].env.X: expected a string"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        snprintf(y, sizeof(y), "%s%s", head, cases[i].line);
        expect_error(y, cases[i].want);
    }
    expect_error("upstreams:\n  - name: a\n    command: /bin/sh\n    args: [-t, "
                 "ghp_0123456789abcdefABCDEF0123456789abcd]\n",
                 "gw.yaml:4:16: upstreams[0].args[1]: argument looks like a GitHub token: command "
                 "lines are visible to every local user; pass it in env as env:VARIABLE or "
                 "file:/absolute/path");
    /* a secret file that every local user can read */
    char dir[] = "/tmp/gh-config-test-XXXXXX", key[128];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/k", dir);
    write_file(key, "k\n");
    assert_int_equal(chmod(key, 0644), 0);
    snprintf(y, sizeof(y), "%s      API_KEY: file:%s\n", head, key);
    expect_error(y, "gw.yaml:5:16: upstreams[0].env.API_KEY: secret file is readable or writable "
                    "by every local user (chmod o-rw)");
    unlink(key);
    rmdir(dir);
}

static void stdio_built_by_code(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    struct gh_config_error e;
    const char *why = NULL;
    char msg[512];
    const char *args[] = {"-y", "@modelcontextprotocol/server-everything", "stdio", NULL};
    const char *bad[] = {"--token", "ghp_0123456789abcdefABCDEF0123456789abcd", NULL};
    assert_int_equal(gh_config_add_stdio_upstream(c, "every", "sh", args, NULL), GH_OK);
    const struct gh_config_upstream *u = &c->upstreams[0];
    assert_int_equal(u->kind, GH_CONFIG_UPSTREAM_STDIO);
    assert_string_equal(u->argv[0], "sh");
    assert_string_equal(u->argv[3], "stdio");
    assert_null(u->argv[4]);
    assert_int_equal(u->n_env, 1);
    assert_string_equal(u->env[0].name, "PATH");
    assert_string_equal(u->env[0].value, "/usr/local/bin:/usr/bin:/bin");
    assert_int_equal(u->message_bytes, 4194304);
    assert_int_equal(u->stop_grace_ms, 2000);
    assert_string_equal(u->path, "/mcp");
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    assert_int_equal(gh_config_add_stdio_upstream(c, "x", "./srv", NULL, NULL), GH_E_PARSE);
    assert_int_equal(gh_config_add_stdio_upstream(c, "x", "/bin/sh", bad, NULL), GH_E_PARSE);
    assert_int_equal(gh_config_add_stdio_upstream(c, "bad name", "/bin/sh", NULL, NULL),
                     GH_E_PARSE);
    assert_int_equal(gh_config_upstream_add_env(&c->upstreams[0], "HOME", "env:HOME", NULL), GH_OK);
    assert_int_equal(c->upstreams[0].env[1].kind, GH_CONFIG_ENV_FROM_ENV);
    assert_int_equal(gh_config_upstream_add_env(&c->upstreams[0], "MY_TOKEN", "abc", &why),
                     GH_E_PARSE);
    assert_string_equal(why, "the variable name says it holds a secret: give the value as "
                             "env:VARIABLE (from the gateway's environment) or "
                             "file:/absolute/path, never inline");
    assert_int_equal(gh_config_upstream_add_env(&c->upstreams[0], "A=B", "x", &why), GH_E_PARSE);
    assert_int_equal(gh_config_upstream_add_env(&c->upstreams[0], "PATH", "/opt/bin", NULL),
                     GH_OK); /* replaces */
    assert_int_equal(c->upstreams[0].n_env, 2);
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): upstreams[0].command: command not found in env PATH "
                             "(absolute entries only)");
    assert_int_equal(gh_config_upstream_add_env(&c->upstreams[0], "PATH", "/bin", NULL), GH_OK);
    /* an HTTP upstream with a stdio field set by code */
    assert_int_equal(gh_config_add_upstream(c, "web", "http://127.0.0.1:1/", NULL), GH_OK);
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    c->upstreams[1].stop_grace_ms = 5;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): upstreams[1].command: stdio settings on an HTTP upstream "
                             "(url and command are mutually exclusive)");
    c->upstreams[1].stop_grace_ms = 0;
    c->upstreams[0].max_connections = 3;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): upstreams[0].max_connections: only for HTTP upstreams "
                             "(those with url)");
    gh_config_unref(c);
}

/* ---- aggregated endpoints ---- */

static void endpoints_valid_mixed(void **state)
{
    (void)state;
    /* endpoints: before upstreams: on purpose; the sections may come in any order */
    const char *yaml = "endpoints:\n"
                       "  - path: /mcp\n"
                       "    upstreams: [github, everything]\n"
                       "  - path: /tools\n"
                       "    upstreams: [everything]\n"
                       "    separator: _\n"
                       "  - {path: /gh, upstreams: [github], separator: -}\n"
                       "upstreams:\n"
                       "  - name: github\n"
                       "    url: http://127.0.0.1:3001/mcp\n"
                       "  - name: everything\n"
                       "    command: /bin/sh\n"
                       "    args: [\"-c\", \"exec cat\"]\n"
                       "    env:\n"
                       "      PATH: /usr/bin:/bin\n";
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[512];
    if (load(yaml, &c, &e) != GH_OK) {
        gh_config_error_format(&e, msg, sizeof(msg));
        fail_msg("%s", msg);
    }
    assert_int_equal(c->n_upstreams, 2);
    assert_int_equal(c->upstreams[0].kind, GH_CONFIG_UPSTREAM_HTTP);
    assert_int_equal(c->upstreams[1].kind, GH_CONFIG_UPSTREAM_STDIO);
    assert_string_equal(c->upstreams[0].path, "/mcp/github"); /* each still reachable alone */
    assert_string_equal(c->upstreams[1].path, "/mcp/everything");
    assert_int_equal(c->n_endpoints, 3);
    const struct gh_config_endpoint *e0 = &c->endpoints[0], *e1 = &c->endpoints[1];
    assert_string_equal(e0->path, "/mcp");
    assert_int_equal(e0->n_upstreams, 2);
    assert_string_equal(e0->upstreams[0], "github");
    assert_string_equal(e0->upstreams[1], "everything");
    assert_int_equal(e0->separator, '.');
    assert_string_equal(e1->path, "/tools");
    assert_int_equal(e1->n_upstreams, 1);
    assert_string_equal(e1->upstreams[0], "everything");
    assert_int_equal(e1->separator, '_');
    assert_int_equal(c->endpoints[2].separator, '-');
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    gh_config_unref(c);

    /* one upstream no longer takes "/mcp" once an endpoint exists, whichever section is first */
    const char *orders[] = {
        "upstreams:\n  - {name: a, url: 'http://h/'}\nendpoints:\n  - {path: /mcp, upstreams: "
        "[a]}\n",
        "endpoints:\n  - {path: /mcp, upstreams: [a]}\nupstreams:\n  - {name: a, url: "
        "'http://h/'}\n",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(orders); i++) {
        assert_int_equal(load(orders[i], &c, NULL), GH_OK);
        assert_string_equal(c->upstreams[0].path, "/mcp/a");
        assert_string_equal(c->endpoints[0].path, "/mcp");
        gh_config_unref(c);
    }
    /* an empty list is no endpoint: the single upstream keeps "/mcp" */
    assert_int_equal(load("upstreams:\n  - {name: a, url: 'http://h/'}\nendpoints: []\n", &c, NULL),
                     GH_OK);
    assert_int_equal(c->n_endpoints, 0);
    assert_string_equal(c->upstreams[0].path, "/mcp");
    gh_config_unref(c);
}

static void endpoint_errors(void **state)
{
    (void)state;
    const char *ups = "upstreams:\n"
                      "  - {name: github, url: 'http://127.0.0.1:1/mcp'}\n"
                      "  - {name: every_thing, command: /bin/sh}\n"
                      "endpoints:\n";
    char y[1024];
    struct {
        const char *tail, *want;
    } cases[] = {
        {"  - path: /mcp\n    upstreams: [github]\n    separater: _\n",
         "gw.yaml:7:5: endpoints[0].separater: unknown key (expected one of: path, upstreams, "
         "separator)"},
        {"  - upstreams: [github]\n", "gw.yaml:5:5: endpoints[0].path: required key is missing"},
        {"  - path: /mcp\n", "gw.yaml:5:5: endpoints[0].upstreams: required key is missing"},
        {"  - path: /mcp\n    upstreams: []\n",
         "gw.yaml:6:16: endpoints[0].upstreams: at least one upstream is required"},
        {"  - path: /mcp\n    upstreams: github\n",
         "gw.yaml:6:16: endpoints[0].upstreams: expected a list"},
        {"  - path: /mcp\n    upstreams: [github, gitlab]\n",
         "gw.yaml:6:25: endpoints[0].upstreams[1]: no upstream of this name is defined under "
         "upstreams"},
        {"  - path: /mcp\n    upstreams: [github, 'bad name']\n",
         "gw.yaml:6:25: endpoints[0].upstreams[1]: name must be 1-64 characters of A-Z a-z 0-9 _ "
         "-"},
        {"  - path: /mcp\n    upstreams: [github, every_thing, github]\n",
         "gw.yaml:6:38: endpoints[0].upstreams[2]: duplicate upstream (also "
         "endpoints[0].upstreams[0])"},
        /* the derived path of an upstream (two upstreams: /mcp/<name>) */
        {"  - path: /mcp/github\n    upstreams: [github]\n",
         "gw.yaml:5:11: endpoints[0].path: duplicate path (also served by upstreams[0])"},
        {"  - {path: /agg, upstreams: [github]}\n  - {path: /agg, upstreams: [every_thing]}\n",
         "gw.yaml:6:12: endpoints[1].path: duplicate path (also served by endpoints[0])"},
        {"  - path: mcp\n    upstreams: [github]\n",
         "gw.yaml:5:11: endpoints[0].path: path must start with /"},
        {"  - path: /mcp\n    upstreams: [github]\n    separator: '/'\n",
         "gw.yaml:7:16: endpoints[0].separator: expected one of \".\", \"_\" or \"-\" (quoted)"},
        {"  - path: /mcp\n    upstreams: [github]\n    separator: '..'\n",
         "gw.yaml:7:16: endpoints[0].separator: expected one of \".\", \"_\" or \"-\" (quoted)"},
        {"  - path: /mcp\n    upstreams: [github]\n    separator: [x]\n",
         "gw.yaml:7:16: endpoints[0].separator: expected one of \".\", \"_\" or \"-\" (quoted)"},
        {"  - path: /mcp\n    upstreams: [github, every_thing]\n    separator: _\n",
         "gw.yaml:6:25: endpoints[0].upstreams[1]: the name of upstreams[1] contains the "
         "separator \"_\", so \"<upstream>_<tool>\" could not be split back (choose another "
         "separator)"},
        {"  path: /mcp\n", "gw.yaml:5:3: endpoints: expected a list"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        snprintf(y, sizeof(y), "%s%s", ups, cases[i].tail);
        expect_error(y, cases[i].want);
    }
    /* a written upstream path is taken as well */
    expect_error("upstreams:\n  - {name: a, url: 'http://h/', path: /mcp}\n"
                 "endpoints:\n  - {path: /mcp, upstreams: [a]}\n",
                 "gw.yaml:4:12: endpoints[0].path: duplicate path (also served by upstreams[0])");
    /* a plain "-" starts a YAML list in block context; the docs say to quote it */
    expect_error("upstreams:\n  - {name: a, url: 'http://h/'}\n"
                 "endpoints:\n  - path: /x\n    upstreams: [a]\n    separator: -\n",
                 "gw.yaml:6:16: YAML syntax: block sequence entries are not allowed in this "
                 "context");
    /* caps */
    char big[8192];
    size_t at = (size_t)snprintf(big, sizeof(big), "endpoints:\n");
    for (int i = 0; i <= GH_CONFIG_MAX_ENDPOINTS; i++)
        at += (size_t)snprintf(big + at, sizeof(big) - at, "  - {path: /e%d, upstreams: [a]}\n", i);
    expect_error(big, "gw.yaml:2:3: endpoints: too many endpoints (max 64)");
    at = (size_t)snprintf(big, sizeof(big), "endpoints:\n  - path: /e\n    upstreams: [u0");
    for (int i = 1; i <= GH_CONFIG_MAX_ENDPOINT_UPSTREAMS; i++)
        at += (size_t)snprintf(big + at, sizeof(big) - at, ", u%d", i);
    snprintf(big + at, sizeof(big) - at, "]\n");
    expect_error(big, "gw.yaml:3:16: endpoints[0].upstreams: too many upstreams (max 64)");
}

static void endpoints_built_by_code(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    struct gh_config_error e;
    char msg[512];
    const char *both[] = {"gh", "every"}, *one[] = {"gh"}, *dup[] = {"gh", "gh"};
    const char *bad[] = {"gh", "bad name"}, *nul[] = {"gh", NULL};
    const char *many[GH_CONFIG_MAX_ENDPOINT_UPSTREAMS + 1];
    for (size_t i = 0; i < GH_ARRAY_LEN(many); i++)
        many[i] = "gh";
    assert_int_equal(gh_config_add_upstream(c, "gh", "http://127.0.0.1:1/mcp", NULL), GH_OK);
    assert_string_equal(c->upstreams[0].path, "/mcp");
    assert_int_equal(gh_config_add_endpoint(c, "/agg", one, 1, '\0'), GH_OK);
    assert_string_equal(c->upstreams[0].path, "/mcp/gh"); /* re-derived: an endpoint exists */
    assert_int_equal(c->endpoints[0].separator, '.');     /* '\0' is the default */
    assert_int_equal(gh_config_add_stdio_upstream(c, "every", "/bin/sh", NULL, NULL), GH_OK);
    assert_string_equal(c->upstreams[1].path, "/mcp/every");
    assert_int_equal(gh_config_add_endpoint(c, "/mcp", both, 2, '-'), GH_OK);
    assert_int_equal(c->n_endpoints, 2);
    assert_string_equal(c->endpoints[1].path, "/mcp");
    assert_int_equal(c->endpoints[1].n_upstreams, 2);
    assert_string_equal(c->endpoints[1].upstreams[1], "every");
    assert_int_equal(c->endpoints[1].separator, '-');
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    /* refused before anything is added */
    assert_int_equal(gh_config_add_endpoint(c, NULL, one, 1, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "x", one, 1, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", one, 0, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", NULL, 1, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", one, 1, '/'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", bad, 2, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", nul, 2, '.'), GH_E_PARSE);
    assert_int_equal(gh_config_add_endpoint(c, "/x", many, GH_ARRAY_LEN(many), '.'), GH_E_LIMIT);
    assert_int_equal(c->n_endpoints, 2);
    /* accepted, then refused by validation (what the CLI reports) */
    struct {
        const char *path;
        const char *const *names;
        size_t n;
        char sep;
        const char *want;
    } cases[] = {
        {"/x", dup, 2, '.',
         "(config): endpoints[2].upstreams[1]: duplicate upstream (also "
         "endpoints[2].upstreams[0])"},
        {"/mcp/every", one, 1, '.',
         "(config): endpoints[2].path: duplicate path (also served by upstreams[1])"},
        {"/agg", one, 1, '.',
         "(config): endpoints[2].path: duplicate path (also served by endpoints[0])"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        assert_int_equal(
            gh_config_add_endpoint(c, cases[i].path, cases[i].names, cases[i].n, cases[i].sep),
            GH_OK);
        assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
        gh_config_error_format(&e, msg, sizeof(msg));
        assert_string_equal(msg, cases[i].want);
        c->n_endpoints--; /* the test owns the struct: drop it again */
        for (size_t k = 0; k < c->endpoints[2].n_upstreams; k++)
            gh_free(&c->endpoints[2].upstreams[k]);
        gh_free(&c->endpoints[2].upstreams);
        gh_free(&c->endpoints[2].path);
    }
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    /* an unknown member and a hand-set separator are caught too */
    assert_int_equal(gh_config_add_upstream(c, "gh_2", "http://127.0.0.1:2/mcp", NULL), GH_OK);
    const char *underscore[] = {"gh_2"}, *ghost[] = {"ghost"};
    assert_int_equal(gh_config_add_endpoint(c, "/u", underscore, 1, '_'), GH_OK);
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): endpoints[2].upstreams[0]: the name of upstreams[2] "
                             "contains the separator \"_\", so \"<upstream>_<tool>\" could not "
                             "be split back (choose another separator)");
    c->endpoints[2].separator = 0;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): endpoints[2].separator: expected one of \".\", \"_\" or "
                             "\"-\" (quoted)");
    c->endpoints[2].separator = '.';
    assert_int_equal(gh_config_add_endpoint(c, "/g", ghost, 1, '.'), GH_OK);
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): endpoints[3].upstreams[0]: no upstream of this name is "
                             "defined under upstreams");
    gh_config_unref(c); /* frees every endpoint; ASan checks */

    c = gh_config_new_default();
    for (int i = 0; i < GH_CONFIG_MAX_ENDPOINTS; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/e%d", i);
        assert_int_equal(gh_config_add_endpoint(c, p, one, 1, '.'), GH_OK);
    }
    assert_int_equal(gh_config_add_endpoint(c, "/last", one, 1, '.'), GH_E_LIMIT);
    gh_config_unref(c);
}

/* ---- auth: ---- */

static void auth_valid_full(void **state)
{
    (void)state;
    char dir[] = "/tmp/gh-config-test-XXXXXX", key[128], yaml[4096];
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/introspect.pem", dir);
    write_file(key, "-----BEGIN PRIVATE KEY-----\n");
    assert_int_equal(chmod(key, 0600), 0);
    assert_int_equal(setenv("GH_TEST_CFG_INTROSPECT_KEY", "pem", 1), 0);
    snprintf(yaml, sizeof(yaml),
             "upstreams:\n"
             "  - {name: everything, url: 'http://127.0.0.1:3001/mcp'}\n"
             "  - {name: files, url: 'http://127.0.0.1:3002/mcp'}\n"
             "auth:\n"
             "  resource: https://gw.example.com/base\n"
             "  issuers:\n"
             "    - issuer: https://idp.example.com/realms/main\n"
             "      discovery_url: "
             "https://idp.example.com/realms/main/.well-known/openid-configuration\n"
             "      jwks_uri: https://10.1.2.3/jwks\n"
             "      algorithms: [ES256, RS256, EdDSA]\n"
             "      audiences: ['api://gatehouse', 'https://gw.example.com']\n"
             "      token_type: at+jwt\n"
             "      clock_skew_ms: 0\n"
             "      claims: {groups: grp, roles: 'https://example.com/roles', client_id: azp}\n"
             "      introspection:\n"
             "        endpoint: https://idp.example.com/introspect\n"
             "        client_id: gatehouse\n"
             "        private_key: file:%s\n"
             "        key_alg: ES256\n"
             "        ttl_ms: 300000\n"
             "        negative_ttl_ms: 0\n"
             "        timeout_ms: 30000\n"
             "      dpop: required\n"
             "      allow_private_network: true\n"
             "    - issuer: http://127.0.0.1:9000/\n"
             "      algorithms: [PS256, ES384]\n"
             "      jwks_uri: http://localhost:9000/jwks\n"
             "      dpop: 'off'\n"
             "      introspection: {client_id: gw, private_key: 'env:GH_TEST_CFG_INTROSPECT_KEY'}\n"
             "  dpop:\n"
             "    algorithms: [ES256, EdDSA]\n"
             "    iat_window_ms: 1000\n"
             "    nonce: true\n"
             "  scopes:\n"
             "    required: [mcp, 'a!#[]~']\n"
             "    methods:\n"
             "      tools/call: [mcp:tools]\n"
             "      resources/read: [mcp:read, mcp:files]\n"
             "    upstreams:\n"
             "      everything: [mcp:everything]\n"
             "  jwks_min_refresh_ms: 3600000\n",
             key);
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[512];
    enum gh_rc rc = load(yaml, &c, &e);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(rc == GH_OK ? "" : msg, "");
    const struct gh_config_auth *a = c->auth;
    assert_non_null(a);
    assert_string_equal(a->resource, "https://gw.example.com/base");
    assert_int_equal(a->n_issuers, 2);
    const struct gh_config_auth_issuer *i0 = &a->issuers[0], *i1 = &a->issuers[1];
    assert_string_equal(i0->issuer, "https://idp.example.com/realms/main");
    assert_string_equal(i0->discovery_url,
                        "https://idp.example.com/realms/main/.well-known/openid-configuration");
    assert_string_equal(i0->jwks_uri, "https://10.1.2.3/jwks");
    assert_int_equal(i0->algorithms, GH_ALG_ES256 | GH_ALG_RS256 | GH_ALG_EDDSA);
    assert_int_equal(i0->n_audiences, 2);
    assert_string_equal(i0->audiences[0], "api://gatehouse");
    assert_string_equal(i0->audiences[1], "https://gw.example.com");
    assert_string_equal(i0->token_type, "at+jwt");
    assert_int_equal(i0->clock_skew_ms, 0);
    assert_string_equal(i0->claims.groups, "grp");
    assert_string_equal(i0->claims.roles, "https://example.com/roles");
    assert_string_equal(i0->claims.client_id, "azp");
    assert_non_null(i0->introspection);
    assert_string_equal(i0->introspection->endpoint, "https://idp.example.com/introspect");
    assert_string_equal(i0->introspection->client_id, "gatehouse");
    assert_int_equal(i0->introspection->private_key.kind, GH_CONFIG_ENV_FROM_FILE);
    assert_string_equal(i0->introspection->private_key.target, key);
    assert_int_equal(i0->introspection->key_alg, GH_ALG_ES256);
    assert_int_equal(i0->introspection->ttl_ms, 300000);
    assert_int_equal(i0->introspection->negative_ttl_ms, 0);
    assert_int_equal(i0->introspection->timeout_ms, 30000);
    assert_int_equal(i0->dpop, GH_CONFIG_DPOP_REQUIRED);
    assert_true(i0->allow_private_network);
    /* the second issuer: defaults */
    assert_string_equal(i1->issuer, "http://127.0.0.1:9000/");
    assert_null(i1->discovery_url);
    assert_int_equal(i1->algorithms, GH_ALG_PS256 | GH_ALG_ES384);
    assert_int_equal(i1->n_audiences, 0);
    assert_null(i1->token_type);
    assert_int_equal(i1->clock_skew_ms, 60000);
    assert_string_equal(i1->claims.groups, "groups");
    assert_string_equal(i1->claims.roles, "roles");
    assert_string_equal(i1->claims.client_id, "client_id");
    assert_null(i1->introspection->endpoint);
    assert_int_equal(i1->introspection->private_key.kind, GH_CONFIG_ENV_FROM_ENV);
    assert_string_equal(i1->introspection->private_key.target, "GH_TEST_CFG_INTROSPECT_KEY");
    assert_int_equal(i1->introspection->key_alg, GH_ALG_RS256);
    assert_int_equal(i1->introspection->ttl_ms, 5000);
    assert_int_equal(i1->introspection->negative_ttl_ms, 1000);
    assert_int_equal(i1->introspection->timeout_ms, 2000);
    assert_int_equal(i1->dpop, GH_CONFIG_DPOP_OFF);
    assert_false(i1->allow_private_network);
    assert_int_equal(a->dpop.algorithms, GH_ALG_ES256 | GH_ALG_EDDSA);
    assert_int_equal(a->dpop.iat_window_ms, 1000);
    assert_true(a->dpop.nonce);
    assert_int_equal(a->scopes.n_required, 2);
    assert_string_equal(a->scopes.required[0], "mcp");
    assert_string_equal(a->scopes.required[1], "a!#[]~");
    assert_int_equal(a->scopes.n_methods, 2);
    assert_string_equal(a->scopes.methods[0].name, "tools/call");
    assert_int_equal(a->scopes.methods[0].n_scopes, 1);
    assert_string_equal(a->scopes.methods[0].scopes[0], "mcp:tools");
    assert_string_equal(a->scopes.methods[1].name, "resources/read");
    assert_int_equal(a->scopes.methods[1].n_scopes, 2);
    assert_string_equal(a->scopes.methods[1].scopes[1], "mcp:files");
    assert_int_equal(a->scopes.n_upstreams, 1);
    assert_string_equal(a->scopes.upstreams[0].name, "everything");
    assert_string_equal(a->scopes.upstreams[0].scopes[0], "mcp:everything");
    assert_int_equal(a->jwks_min_refresh_ms, 3600000);
    assert_false(c->gateway.insecure_no_auth);
    assert_int_equal(gh_config_validate(c, NULL), GH_OK);
    gh_config_unref(c);
    unsetenv("GH_TEST_CFG_INTROSPECT_KEY");
    unlink(key);
    rmdir(dir);
}

static void auth_minimal_and_absent(void **state)
{
    (void)state;
    struct gh_config *c = NULL;
    assert_int_equal(load("gateway: {workers: 1}\n", &c, NULL), GH_OK);
    assert_null(c->auth); /* absent: no inbound auth configured */
    gh_config_unref(c);
    assert_int_equal(load("auth:\n  resource: http://[::1]:8080\n  issuers:\n"
                          "    - {issuer: 'https://idp.example.com', algorithms: [ES256]}\n",
                          &c, NULL),
                     GH_OK);
    const struct gh_config_auth *a = c->auth;
    assert_string_equal(a->resource, "http://[::1]:8080");
    assert_int_equal(a->issuers[0].algorithms, GH_ALG_ES256);
    assert_int_equal(a->issuers[0].dpop, GH_CONFIG_DPOP_ALLOWED);
    assert_null(a->issuers[0].introspection);
    assert_int_equal(a->dpop.algorithms, GH_CONFIG_ALG_ALL);
    assert_int_equal(a->dpop.iat_window_ms, 60000);
    assert_false(a->dpop.nonce);
    assert_int_equal(a->scopes.n_required, 0);
    assert_int_equal(a->scopes.n_methods, 0);
    assert_int_equal(a->scopes.n_upstreams, 0);
    assert_int_equal(a->jwks_min_refresh_ms, 30000);
    gh_config_unref(c);
}

static void auth_errors(void **state)
{
    (void)state;
    const char *head = "upstreams:\n"
                       "  - {name: everything, url: 'http://127.0.0.1:3001/mcp'}\n"
                       "auth:\n";
    const char *iss = "  issuers:\n    - issuer: https://idp.example.com\n      algorithms: "
                      "[ES256]\n";
    char y[2048];
    struct {
        const char *tail, *want;
    } cases[] = {
        /* resource */
        {"  issuers: [{issuer: 'https://idp.example.com', algorithms: [ES256]}]\n",
         "gw.yaml:4:3: auth.resource: required key is missing (the gateway's base URI as clients "
         "see it, e.g. https://gw.example.com)"},
        {"  resource: https://gw.example.com?tenant=a\n%s",
         "gw.yaml:4:13: auth.resource: resource must not have a query (RFC 8707)"},
        {"  resource: https://gw.example.com/\n%s",
         "gw.yaml:4:13: auth.resource: resource must not end with a slash (canonical form: "
         "https://gw.example.com)"},
        {"  resource: https://gw.example.com/mcp/\n%s",
         "gw.yaml:4:13: auth.resource: resource must not end with a slash (canonical form: "
         "https://gw.example.com)"},
        {"  resource: 'https://gw.example.com#x'\n%s",
         "gw.yaml:4:13: auth.resource: fragments are not allowed"},
        {"  resource: http://gw.example.com\n%s",
         "gw.yaml:4:13: auth.resource: http is allowed only on a loopback host (127.0.0.0/8, "
         "[::1], localhost): use https"},
        {"  resource: https://GW.example.com\n%s",
         "gw.yaml:4:13: auth.resource: scheme and host must be lower case (the resource is "
         "compared exactly)"},
        {"  resource: https://gw.example.com:443\n%s",
         "gw.yaml:4:13: auth.resource: leave out the default port (the resource is compared "
         "exactly)"},
        {"  resource: https://gw.example.com/a/../b\n%s",
         "gw.yaml:4:13: auth.resource: path must not contain .."},
        {"  resource: [https://gw.example.com]\n%s",
         "gw.yaml:4:13: auth.resource: expected a string"},
        /* issuers */
        {"  resource: https://gw.example.com\n",
         "gw.yaml:4:3: auth.issuers: required key is missing (at least one authorization "
         "server)"},
        {"  resource: https://gw.example.com\n  issuers: []\n",
         "gw.yaml:5:12: auth.issuers: at least one issuer is required"},
        {"  resource: https://gw.example.com\n  issuers:\n    - algorithms: [ES256]\n",
         "gw.yaml:6:7: auth.issuers[0].issuer: required key is missing"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: http://idp.example.com\n"
         "      algorithms: [ES256]\n",
         "gw.yaml:6:15: auth.issuers[0].issuer: an issuer must use https (http only on a "
         "loopback host)"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://10.0.0.8/realm\n"
         "      algorithms: [ES256]\n",
         "gw.yaml:6:15: auth.issuers[0].issuer: a private or link-local address needs "
         "allow_private_network: true"},
        {"  resource: https://gw.example.com\n  issuers:\n"
         "    - {issuer: 'https://idp.example.com', algorithms: [ES256]}\n"
         "    - {issuer: 'https://idp.example.com', algorithms: [RS256]}\n",
         "gw.yaml:7:16: auth.issuers[1].issuer: duplicate issuer (also auth.issuers[0])"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n",
         "gw.yaml:6:7: auth.issuers[0].algorithms: required key is missing (pin the issuer's "
         "signing algorithms, e.g. [ES256])"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n"
         "      algorithms: [ES256, none]\n",
         "gw.yaml:7:27: auth.issuers[0].algorithms[1]: alg none is refused: an unsigned token "
         "proves nothing (expected RS256, PS256, ES256, ES384 or EdDSA)"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n"
         "      algorithms: [HS256]\n",
         "gw.yaml:7:20: auth.issuers[0].algorithms[0]: HMAC algorithms (HS256, HS384, HS512) are "
         "refused: a shared secret lets every holder mint tokens (expected RS256, PS256, ES256, "
         "ES384 or EdDSA)"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n"
         "      algorithms: [es256]\n",
         "gw.yaml:7:20: auth.issuers[0].algorithms[0]: unknown algorithm (expected RS256, PS256, "
         "ES256, ES384 or EdDSA; names are case-sensitive)"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n"
         "      algorithms: [ES256, ES256]\n",
         "gw.yaml:7:27: auth.issuers[0].algorithms[1]: duplicate algorithm"},
        {"  resource: https://gw.example.com\n  issuers:\n    - issuer: https://idp.example.com\n"
         "      algorithms: []\n",
         "gw.yaml:7:19: auth.issuers[0].algorithms: at least one algorithm is required"},
        {"  resource: https://gw.example.com\n%s      dpop: requried\n",
         "gw.yaml:8:13: auth.issuers[0].dpop: expected off, allowed or required"},
        {"  resource: https://gw.example.com\n%s      jwks_uri: http://127.0.0.1:9/jwks\n",
         "gw.yaml:8:17: auth.issuers[0].jwks_uri: a loopback address is allowed only when the "
         "issuer itself is on loopback"},
        {"  resource: https://gw.example.com\n%s      jwks_uri: https://169.254.169.254/jwks\n",
         "gw.yaml:8:17: auth.issuers[0].jwks_uri: a private or link-local address needs "
         "allow_private_network: true"},
        {"  resource: https://gw.example.com\n%s      discovery_url: http://idp.example.com/x\n",
         "gw.yaml:8:22: auth.issuers[0].discovery_url: must use https (http only on a loopback "
         "host)"},
        {"  resource: https://gw.example.com\n%s      audiences: [gatehouse]\n",
         "gw.yaml:8:19: auth.issuers[0].audiences[0]: an audience is an absolute URI "
         "(scheme:...) of printable ASCII without spaces, at most 2048 bytes"},
        {"  resource: https://gw.example.com\n%s      clock_skew_ms: 300001\n",
         "gw.yaml:8:22: auth.issuers[0].clock_skew_ms: must be between 0 and 300000"},
        {"  resource: https://gw.example.com\n%s      token_type: 'at jwt'\n",
         "gw.yaml:8:19: auth.issuers[0].token_type: token_type is a media type such as at+jwt "
         "(1-127 characters of A-Z a-z 0-9 ! # $ & ^ _ . + - /)"},
        {"  resource: https://gw.example.com\n%s      claims: {group: g}\n",
         "gw.yaml:8:16: auth.issuers[0].claims.group: unknown key (expected one of: groups, "
         "roles, client_id)"},
        {"  resource: https://gw.example.com\n%s      audience: ['https://a']\n",
         "gw.yaml:8:7: auth.issuers[0].audience: unknown key (expected one of: issuer, "
         "discovery_url, jwks_uri, algorithms, audiences, max_scopes, token_type, clock_skew_ms, "
         "claims, "
         "introspection, dpop, allow_private_network)"},
        /* introspection */
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gatehouse\n"
         "        private_key: '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBg'\n",
         "gw.yaml:10:22: auth.issuers[0].introspection.private_key: private_key must be a "
         "reference: give it as env:VARIABLE (from the gateway's environment) or "
         "file:/absolute/path, never inline"},
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gatehouse\n        private_key: file:etc/k.pem\n",
         "gw.yaml:10:22: auth.issuers[0].introspection.private_key: file: needs an absolute path "
         "(file:/run/secrets/name)"},
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gatehouse\n        private_key: file:/nonexistent/gh-key.pem\n",
         "gw.yaml:10:22: auth.issuers[0].introspection.private_key: cannot read secret file: No "
         "such file or directory"},
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gatehouse\n        private_key: env:GH_TEST_CFG_SURELY_UNSET\n",
         "gw.yaml:10:22: auth.issuers[0].introspection.private_key: env:GH_TEST_CFG_SURELY_UNSET "
         "is not set in the gateway's environment"},
        {"  resource: https://gw.example.com\n%s      introspection: {private_key: 'env:X'}\n",
         "gw.yaml:8:22: auth.issuers[0].introspection.client_id: required key is missing"},
        {"  resource: https://gw.example.com\n%s      introspection: {client_id: gw}\n",
         "gw.yaml:8:22: auth.issuers[0].introspection.private_key: required key is missing "
         "(private_key_jwt needs a key)"},
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gw\n        private_key: env:HOME\n        key_alg: PS256\n",
         "gw.yaml:11:18: auth.issuers[0].introspection.key_alg: expected RS256 or ES256"},
        {"  resource: https://gw.example.com\n%s      introspection:\n"
         "        client_id: gw\n        private_key: env:HOME\n        ttl_ms: 0\n",
         "gw.yaml:11:17: auth.issuers[0].introspection.ttl_ms: must be between 1 and 300000"},
        /* dpop, scopes, top level */
        {"  resource: https://gw.example.com\n%s  dpop:\n    algorithms: [HS512]\n",
         "gw.yaml:9:18: auth.dpop.algorithms[0]: HMAC algorithms (HS256, HS384, HS512) are "
         "refused: a shared secret lets every holder mint tokens (expected RS256, PS256, ES256, "
         "ES384 or EdDSA)"},
        {"  resource: https://gw.example.com\n%s  dpop: {iat_window_ms: 999}\n",
         "gw.yaml:8:25: auth.dpop.iat_window_ms: must be between 1000 and 600000"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    upstreams:\n"
         "      everything: [mcp]\n      evrything: [mcp]\n",
         "gw.yaml:11:18: auth.scopes.upstreams.evrything: no upstream of this name is defined "
         "under upstreams"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    required: [mcp, 'a b']\n",
         "gw.yaml:9:21: auth.scopes.required[1]: a scope is 1-128 printable ASCII characters "
         "without space, \" or \\ (RFC 6749)"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    required: ['say\"hi']\n",
         "gw.yaml:9:16: auth.scopes.required[0]: a scope is 1-128 printable ASCII characters "
         "without space, \" or \\ (RFC 6749)"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    required: [mcp, mcp]\n",
         "gw.yaml:9:21: auth.scopes.required[1]: duplicate scope (also "
         "auth.scopes.required[0])"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    methods:\n"
         "      'tools call': [mcp]\n",
         "gw.yaml:10:7: auth.scopes.methods.tools?call: a method name is 1-64 characters of A-Z "
         "a-z 0-9 / _ . -"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    methods:\n      tools/call: []\n",
         "gw.yaml:10:19: auth.scopes.methods.tools/call: at least one scope is required"},
        {"  resource: https://gw.example.com\n%s  scopes:\n    methods:\n"
         "      tools/call: mcp\n",
         "gw.yaml:10:19: auth.scopes.methods.tools/call: expected a list"},
        {"  resource: https://gw.example.com\n%s  jwks_min_refresh_ms: 999\n",
         "gw.yaml:8:24: auth.jwks_min_refresh_ms: must be between 1000 and 3600000"},
        {"  resourse: https://gw.example.com\n%s",
         "gw.yaml:4:3: auth.resourse: unknown key (expected one of: resource, issuers, dpop, "
         "scopes, jwks_min_refresh_ms)"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(cases); i++) {
        /* "%s" in a tail stands for the valid issuers list */
        const char *mark = strstr(cases[i].tail, "%s");
        if (mark)
            snprintf(y, sizeof(y), "%s%.*s%s%s", head, (int)(mark - cases[i].tail), cases[i].tail,
                     iss, mark + 2);
        else
            snprintf(y, sizeof(y), "%s%s", head, cases[i].tail);
        expect_error(y, cases[i].want);
    }
    expect_error("auth:\n", "gw.yaml:1:6: auth: expected a mapping");
    /* auth and the explicit "serve without auth" switch exclude each other */
    snprintf(y, sizeof(y),
             "gateway:\n  insecure_no_auth: true\nauth:\n  resource: "
             "https://gw.example.com\n%s",
             iss);
    expect_error(y, "gw.yaml:2:21: gateway.insecure_no_auth: cannot be true when auth is "
                    "configured (choose one: remove insecure_no_auth or the auth section)");
}

/* A literal key is refused without being repeated; key files must be private to their owner. */
static void auth_private_key_files(void **state)
{
    (void)state;
    const char *head = "auth:\n  resource: https://gw.example.com\n  issuers:\n"
                       "    - issuer: https://idp.example.com\n      algorithms: [RS256]\n"
                       "      introspection:\n        client_id: gatehouse\n";
    char dir[] = "/tmp/gh-config-test-XXXXXX", key[128], y[1024], msg[1024];
    struct gh_config *c = NULL;
    struct gh_config_error e;
    snprintf(y, sizeof(y), "%s        private_key: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", head);
    assert_int_equal(load(y, &c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_null(strstr(msg, "MIIE"));
    assert_non_null(mkdtemp(dir));
    snprintf(key, sizeof(key), "%s/k.pem", dir);
    write_file(key, "-----BEGIN PRIVATE KEY-----\n");
    snprintf(y, sizeof(y), "%s        private_key: file:%s\n", head, key);
    const struct {
        mode_t mode;
        const char *want;
    } modes[] = {
        {0644, "gw.yaml:8:22: auth.issuers[0].introspection.private_key: secret file is readable "
               "or writable by other users or its group (chmod 600)"},
        {0640, "gw.yaml:8:22: auth.issuers[0].introspection.private_key: secret file is readable "
               "or writable by other users or its group (chmod 600)"},
        {0620, "gw.yaml:8:22: auth.issuers[0].introspection.private_key: secret file is readable "
               "or writable by other users or its group (chmod 600)"},
        {0602, "gw.yaml:8:22: auth.issuers[0].introspection.private_key: secret file is readable "
               "or writable by other users or its group (chmod 600)"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(modes); i++) {
        assert_int_equal(chmod(key, modes[i].mode), 0);
        expect_error(y, modes[i].want);
    }
    assert_int_equal(chmod(key, 0400), 0);
    assert_int_equal(load(y, &c, &e), GH_OK);
    assert_int_equal(c->auth->issuers[0].introspection->private_key.kind, GH_CONFIG_ENV_FROM_FILE);
    gh_config_unref(c);
    /* a directory is not a key file */
    snprintf(y, sizeof(y), "%s        private_key: file:%s\n", head, dir);
    expect_error(y, "gw.yaml:8:22: auth.issuers[0].introspection.private_key: secret file must "
                    "be a regular file");
    unlink(key);
    rmdir(dir);
}

static void auth_built_by_code(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    struct gh_config_error e;
    char msg[512];
    enum gh_config_alg alg;
    assert_int_equal(gh_config_alg_parse("EdDSA", &alg), GH_OK);
    assert_int_equal(alg, GH_ALG_EDDSA);
    assert_int_equal(gh_config_alg_parse("none", &alg), GH_E_PARSE);
    assert_int_equal(gh_config_alg_parse("HS256", &alg), GH_E_PARSE);
    assert_int_equal(gh_config_alg_parse("eddsa", &alg), GH_E_PARSE);
    assert_string_equal(gh_config_alg_name(GH_ALG_PS256), "PS256");
    assert_null(gh_config_alg_name(GH_ALG_PS256 | GH_ALG_RS256));

    c->auth = gh_config_auth_new();
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    gh_config_error_format(&e, msg, sizeof(msg));
    assert_string_equal(msg, "(config): auth.resource: required key is missing");
    c->auth->resource = gh_xstrdup("https://gw.example.com");
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    assert_string_equal(e.path, "auth.issuers");
    assert_string_equal(e.msg, "at least one issuer is required");
    c->auth->issuers = gh_xcalloc(1, sizeof(*c->auth->issuers));
    c->auth->n_issuers = 1;
    struct gh_config_auth_issuer *is = &c->auth->issuers[0];
    is->issuer = gh_xstrdup("https://idp.example.com");
    is->claims.groups = gh_xstrdup("groups");
    is->claims.roles = gh_xstrdup("roles");
    is->claims.client_id = gh_xstrdup("client_id");
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    assert_string_equal(e.path, "auth.issuers[0].algorithms");
    assert_string_equal(e.msg, "at least one algorithm is required");
    is->algorithms = GH_ALG_ES256;
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    /* a literal key built by code is refused as well */
    is->introspection = gh_xcalloc(1, sizeof(*is->introspection));
    is->introspection->client_id = gh_xstrdup("gw");
    is->introspection->private_key.target = gh_xstrdup("-----BEGIN PRIVATE KEY-----");
    is->introspection->key_alg = GH_ALG_RS256;
    is->introspection->ttl_ms = 1;
    is->introspection->timeout_ms = 1;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    assert_string_equal(e.path, "auth.issuers[0].introspection.private_key");
    assert_null(strstr(e.msg, "BEGIN"));
    is->introspection->private_key.kind = GH_CONFIG_ENV_FROM_ENV;
    gh_free(&is->introspection->private_key.target);
    is->introspection->private_key.target = gh_xstrdup("HOME");
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    /* scopes naming an upstream that does not exist */
    c->auth->scopes.upstreams = gh_xcalloc(1, sizeof(*c->auth->scopes.upstreams));
    c->auth->scopes.n_upstreams = 1;
    c->auth->scopes.upstreams[0].name = gh_xstrdup("docs");
    c->auth->scopes.upstreams[0].scopes = gh_xcalloc(1, sizeof(char *));
    c->auth->scopes.upstreams[0].scopes[0] = gh_xstrdup("mcp:docs");
    c->auth->scopes.upstreams[0].n_scopes = 1;
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    assert_string_equal(e.path, "auth.scopes.upstreams.docs");
    assert_int_equal(gh_config_add_upstream(c, "docs", "http://127.0.0.1:1/", NULL), GH_OK);
    assert_int_equal(gh_config_validate(c, &e), GH_OK);
    c->gateway.insecure_no_auth = true; /* e.g. --insecure-no-auth on top of a file with auth */
    assert_int_equal(gh_config_validate(c, &e), GH_E_PARSE);
    assert_string_equal(e.path, "gateway.insecure_no_auth");
    gh_config_unref(c);
}

static void refcount_and_format(void **state)
{
    (void)state;
    struct gh_config *c = gh_config_new_default();
    assert_ptr_equal(gh_config_ref(c), c);
    assert_int_equal(atomic_load(&c->refs), 2);
    gh_config_unref(c);
    assert_int_equal(atomic_load(&c->refs), 1);
    gh_config_unref(c); /* frees; ASan reports a leak or double free otherwise */
    gh_config_unref(NULL);

    struct gh_config_error e = {.file = "gw.yaml",
                                .line = 12,
                                .column = 7,
                                .path = "upstreams[1].url",
                                .msg = "scheme must be http or https"};
    char out[128], tiny[8];
    gh_config_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "gw.yaml:12:7: upstreams[1].url: scheme must be http or https");
    gh_config_error_format(&e, tiny, sizeof(tiny));
    assert_string_equal(tiny, "gw.yaml");
    e.path[0] = '\0';
    e.line = 0;
    gh_config_error_format(&e, out, sizeof(out));
    assert_string_equal(out, "gw.yaml: scheme must be http or https");
}

/* Reload compares sections by content: positions and formatting do not count, values do. */
static void node_digest_is_content(void **state)
{
    (void)state;
    char path[] = "/tmp/gh-test-digest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *docs[] = {
        "a:\n  x: 1\n  y: [p, q]\n",     /* 0 */
        "\n\na: {x: 1,   y: [p, q]}\n",  /* 1: same content, other layout */
        "a:\n  x: 2\n  y: [p, q]\n",     /* 2: a value differs */
        "a:\n  x: \"1\"\n  y: [p, q]\n", /* 3: quoted: a string, not a number */
        "a:\n  y: [p, q]\n  x: 1\n",     /* 4: key order counts (rules are ordered) */
    };
    unsigned char d[5][32];
    for (size_t i = 0; i < 5; i++) {
        FILE *f = fopen(path, "w");
        fputs(docs[i], f);
        fclose(f);
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_config_node *root = NULL;
        struct gh_config_error e = {0};
        assert_int_equal(gh_config_tree_load_file(path, a, &root, &e), GH_OK);
        gh_config_node_digest(gh_config_node_get(root, "a"), d[i]);
        gh_arena_free(a);
    }
    unlink(path);
    assert_memory_equal(d[0], d[1], 32);
    for (size_t i = 2; i < 5; i++)
        assert_memory_not_equal(d[0], d[i], 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_embedded),
        cmocka_unit_test(empty_and_comment_only_files_give_defaults),
        cmocka_unit_test(full_valid_file),
        cmocka_unit_test(single_upstream_gets_mcp_path),
        cmocka_unit_test(unknown_keys),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(bad_urls),
        cmocka_unit_test(duplicate_upstream_name_and_path),
        cmocka_unit_test(duplicate_yaml_keys),
        cmocka_unit_test(aliases_anchors_tags_refused),
        cmocka_unit_test(tls_needs_both_files),
        cmocka_unit_test(limits_out_of_range),
        cmocka_unit_test(listener_and_value_formats),
        cmocka_unit_test(yaml_structure_errors),
        cmocka_unit_test(size_cap),
        cmocka_unit_test(url_parser),
        cmocka_unit_test(addr_parser),
        cmocka_unit_test(built_by_code),
        cmocka_unit_test(refcount_and_format),
        cmocka_unit_test(stdio_upstream_valid),
        cmocka_unit_test(stdio_kind_errors),
        cmocka_unit_test(stdio_env_errors),
        cmocka_unit_test(stdio_built_by_code),
        cmocka_unit_test(endpoints_valid_mixed),
        cmocka_unit_test(endpoint_errors),
        cmocka_unit_test(endpoints_built_by_code),
        cmocka_unit_test(auth_valid_full),
        cmocka_unit_test(auth_minimal_and_absent),
        cmocka_unit_test(auth_errors),
        cmocka_unit_test(auth_private_key_files),
        cmocka_unit_test(auth_built_by_code),
        cmocka_unit_test(node_digest_is_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
