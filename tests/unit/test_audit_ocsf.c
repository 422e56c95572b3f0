/*
 * Unit tests for audit/ocsf: one native line per record type maps to an OCSF 1.3 event that
 * parses strictly and carries the right class, activity, type, status and key fields; lines
 * that are no native record are refused with GH_E_PARSE and leave the output untouched; lines
 * written by the real trail writer (start, decision, checkpoint) all map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "audit/audit.h"
#include "audit/audit.h"
#include "config/config.h"
#include "json/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define COMMON(seq, type)                                                                          \
    "{\"v\":1,\"seq\":" #seq ",\"time\":\"2026-12-05T08:20:00.123456Z\",\"type\":\"" type          \
    "\",\"prev\":\"" Z64 "\",\"gateway\":\"0123456789abcdef\""
#define TRACE                                                                                      \
    "\"trace\":{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":"                    \
    "\"00f067aa0ba902b7\"}"
#define T_MS 1796458800123LL

/* ---- a mapped event, parsed back ---- */

struct ev {
    struct gh_arena *a;
    struct gh_buf out;
    struct gh_json_doc doc;
};

static void map(struct ev *e, const char *line)
{
    e->a = gh_arena_new(4096);
    gh_buf_init(&e->out, 1 << 20);
    enum gh_rc rc = gh_audit_ocsf_from_native(line, strlen(line), &e->out);
    if (rc != GH_OK)
        fail_msg("map: %s: %s", gh_rc_str(rc), line);
    struct gh_json_err err = {0};
    if (gh_json_parse(e->a, e->out.data, e->out.len, NULL, &e->doc, &err) != GH_OK)
        fail_msg("output does not parse at %zu (%s): %.*s", err.offset, err.reason, (int)e->out.len,
                 e->out.data);
    assert_null(memchr(e->out.data, '\n', e->out.len)); /* one line */
}

static void done(struct ev *e)
{
    gh_buf_release(&e->out);
    gh_arena_free(e->a);
}

/* Token at a dotted path ("actor.user.groups.1.name"; digits index arrays), or -1. */
static int32_t at(const struct ev *e, const char *path)
{
    int32_t t = 0;
    char seg[64];
    while (*path && t >= 0) {
        size_t n = strcspn(path, ".");
        assert_true(n < sizeof(seg));
        memcpy(seg, path, n);
        seg[n] = '\0';
        path += n + (path[n] == '.');
        const struct gh_json_tok *k = gh_json_tok(&e->doc, (uint32_t)t);
        if (k->type == GH_JSON_ARRAY)
            t = gh_json_arr_at(&e->doc, (uint32_t)t, (uint32_t)atoi(seg));
        else
            t = gh_json_obj_get(&e->doc, (uint32_t)t, seg, n);
    }
    return t;
}

static void expect_str(const struct ev *e, const char *path, const char *want)
{
    int32_t t = at(e, path);
    if (t < 0)
        fail_msg("%s absent in %.*s", path, (int)e->out.len, e->out.data);
    if (!gh_json_str_eq(&e->doc, (uint32_t)t, want, strlen(want))) {
        struct gh_slice raw = gh_json_raw(&e->doc, (uint32_t)t);
        fail_msg("%s is %.*s, want \"%s\"", path, (int)raw.len, raw.ptr, want);
    }
}

static void expect_int(const struct ev *e, const char *path, int64_t want)
{
    int32_t t = at(e, path);
    if (t < 0)
        fail_msg("%s absent in %.*s", path, (int)e->out.len, e->out.data);
    int64_t v = 0;
    assert_int_equal(gh_json_int64(&e->doc, (uint32_t)t, &v), GH_OK);
    if (v != want)
        fail_msg("%s is %lld, want %lld", path, (long long)v, (long long)want);
}

static void expect_absent(const struct ev *e, const char *path)
{
    if (at(e, path) >= 0)
        fail_msg("%s present in %.*s", path, (int)e->out.len, e->out.data);
}

/* The members every event has. */
static void expect_common(const struct ev *e, int cls, int act, int status, int sev, int seq,
                          const char *code)
{
    expect_int(e, "class_uid", cls);
    expect_int(e, "activity_id", act);
    expect_int(e, "type_uid", cls * 100 + act);
    expect_int(e, "status_id", status);
    expect_int(e, "severity_id", sev);
    expect_int(e, "category_uid", cls == 6003 ? 6 : 3);
    expect_int(e, "time", T_MS);
    expect_str(e, "metadata.version", "1.3.0");
    expect_str(e, "metadata.product.name", "Gatehouse");
    expect_str(e, "metadata.product.vendor_name", "Gatehouse");
    expect_str(e, "metadata.log_name", "audit");
    expect_str(e, "metadata.original_time", "2026-12-05T08:20:00.123456Z");
    expect_str(e, "metadata.event_code", code);
    char uid[64];
    snprintf(uid, sizeof(uid), "0123456789abcdef-%d", seq);
    expect_str(e, "metadata.uid", uid);
    if (cls == 6003)
        assert_true(at(e, "actor") >= 0); /* required in API Activity */
    assert_true(at(e, "src_endpoint") >= 0);
}

/* ---- one line per record type ---- */

static void decision_allow(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(2, "request.decision") ",\"rid\":\"a1b2c3d4e5f60718\",\"principal\":{\"iss\":"
                                          "\"https://"
                                          "idp.example\",\"sub\":\"alice\",\"client_id\":\"cli-1\","
                                          "\"groups\":[\"eng\","
                                          "\"ops\"],\"scopes\":[\"mcp\"],\"act\":[],\"method\":"
                                          "\"jwt\",\"jti\":\"j1\"},"
                                          "\"source\":{\"address\":\"[2001:db8::1]:51234\",\"user_"
                                          "agent\":\"curl/8\"},"
                                          "\"session\":\"00112233445566aa\"," TRACE
                                          ",\"action\":{\"method\":\"tools/call\","
                                          "\"upstream\":\"github\",\"name\":\"search\",\"arguments_"
                                          "digest\":\"sha256:ab\"},"
                                          "\"decision\":{\"effect\":\"allow\",\"rule\":\"r1\","
                                          "\"policy\":\"sha256:cd\","
                                          "\"reason\":\"allowed\"}}");
    expect_common(&e, 6003, 99, 1, 1, 2, "request.decision");
    expect_str(&e, "class_name", "API Activity");
    expect_str(&e, "activity_name", "tools/call");
    expect_str(&e, "type_name", "API Activity: Other");
    expect_str(&e, "status", "Success");
    expect_str(&e, "status_detail", "allowed");
    expect_str(&e, "actor.user.uid", "alice");
    expect_str(&e, "actor.user.groups.0.name", "eng");
    expect_str(&e, "actor.user.groups.1.name", "ops");
    expect_str(&e, "actor.session.uid", "00112233445566aa");
    expect_str(&e, "actor.app_name", "cli-1");
    expect_str(&e, "actor.app_uid", "cli-1");
    expect_str(&e, "actor.idp.name", "https://idp.example");
    expect_str(&e, "actor.authorizations.0.decision", "allow");
    expect_str(&e, "actor.authorizations.0.policy.uid", "sha256:cd");
    expect_str(&e, "actor.authorizations.0.policy.name", "r1");
    expect_str(&e, "api.operation", "tools/call");
    expect_str(&e, "api.service.name", "github");
    expect_str(&e, "api.request.uid", "a1b2c3d4e5f60718");
    expect_str(&e, "metadata.correlation_uid", "a1b2c3d4e5f60718");
    expect_str(&e, "resources.0.name", "search");
    expect_str(&e, "resources.0.type", "tool");
    expect_str(&e, "src_endpoint.ip", "2001:db8::1");
    expect_int(&e, "src_endpoint.port", 51234);
    expect_str(&e, "http_request.user_agent", "curl/8");
    expect_int(&e, "unmapped.seq", 2);
    expect_str(&e, "unmapped.prev", Z64);
    expect_str(&e, "unmapped.trace.trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
    expect_str(&e, "unmapped.decision.reason", "allowed");
    expect_str(&e, "unmapped.action.arguments_digest", "sha256:ab");
    expect_str(&e, "unmapped.principal.jti", "j1");
    expect_str(&e, "unmapped.principal.scopes.0", "mcp");
    expect_absent(&e, "unmapped.principal.sub"); /* mapped, not repeated */
    done(&e);
}

static void decision_deny(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(3, "request.decision") ",\"rid\":\"ffeeddccbbaa9988\",\"principal\":{\"method\":"
                                          "\"none\"},\"source\":{\"address\":\"10.0.0.7:4242\","
                                          "\"user_agent\":null},"
                                          "\"session\":null," TRACE
                                          ",\"action\":{\"method\":\"resources/read\",\"upstream\":"
                                          "\"files\",\"name\":\"file:///etc/"
                                          "passwd\",\"arguments_digest\":null},\"decision\":"
                                          "{\"effect\":\"deny\",\"rule\":null,\"policy\":\"none\","
                                          "\"reason\":\"no_match\"}}\n");
    expect_common(&e, 6003, 2, 2, 3, 3, "request.decision");
    expect_str(&e, "activity_name", "Read");
    expect_str(&e, "type_name", "API Activity: Read");
    expect_str(&e, "status", "Failure");
    expect_str(&e, "status_code", "deny");
    expect_str(&e, "status_detail", "no_match");
    expect_str(&e, "severity", "Medium");
    expect_str(&e, "actor.authorizations.0.decision", "deny");
    expect_str(&e, "actor.authorizations.0.policy.uid", "none");
    expect_absent(&e, "actor.authorizations.0.policy.name");
    expect_absent(&e, "actor.user");
    expect_absent(&e, "actor.session");
    expect_str(&e, "resources.0.name", "file:///etc/passwd");
    expect_str(&e, "resources.0.type", "resource");
    expect_str(&e, "src_endpoint.ip", "10.0.0.7");
    expect_int(&e, "src_endpoint.port", 4242);
    expect_absent(&e, "http_request");
    expect_str(&e, "unmapped.principal.method", "none");
    done(&e);
}

static void decision_initialize_and_lists(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        int act;
    } cases[] = {{"initialize", 1},
                 {"tools/list", 2},
                 {"prompts/get", 2},
                 {"resources/unsubscribe", 4},
                 {"ping", 99}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[1024];
        snprintf(line, sizeof(line),
                 COMMON(4, "request.decision") ",\"rid\":\"0000000000000001\",\"principal\":"
                                               "{\"method\":\"none\"},\"source\":{\"address\":"
                                               "\"127.0.0.1:1\"},\"action\":{\"method\":\"%s\"},"
                                               "\"decision\":{\"effect\":\"allow\"}}",
                 cases[i].method);
        struct ev e;
        map(&e, line);
        expect_int(&e, "activity_id", cases[i].act);
        expect_int(&e, "type_uid", 600300 + cases[i].act);
        expect_str(&e, "api.operation", cases[i].method);
        if (cases[i].act == 99)
            expect_str(&e, "activity_name", cases[i].method);
        done(&e);
    }
}

static void outcome(void **state)
{
    (void)state;
    struct ev e;
    map(&e,
        COMMON(
            5,
            "request.outcome") ",\"rid\":\"a1b2c3d4e5f60718\"," TRACE ",\"outcome\":"
                               "{\"http_status\":200,\"duration_us\":1500,\"result_bytes\":42}}");
    expect_common(&e, 6003, 99, 1, 1, 5, "request.outcome");
    expect_str(&e, "activity_name", "request.outcome");
    expect_str(&e, "status_code", "200");
    expect_int(&e, "api.response.code", 200);
    expect_absent(&e, "api.response.error");
    expect_str(&e, "api.request.uid", "a1b2c3d4e5f60718");
    expect_str(&e, "metadata.correlation_uid", "a1b2c3d4e5f60718");
    expect_int(&e, "duration", 1);
    expect_int(&e, "end_time", T_MS);
    expect_int(&e, "start_time", T_MS - 1);
    expect_str(&e, "actor.app_uid", "0123456789abcdef"); /* the gateway stands in */
    expect_int(&e, "unmapped.outcome.result_bytes", 42);
    expect_str(&e, "unmapped.trace.span_id", "00f067aa0ba902b7");
    done(&e);

    map(&e,
        COMMON(6, "request.outcome") ",\"rid\":\"a1b2c3d4e5f60718\",\"outcome\":{\"http_status\":"
                                     "502,\"duration_us\":2000000,\"result_bytes\":0,\"rpc_error\":"
                                     "-32603}}");
    expect_common(&e, 6003, 99, 2, 2, 6, "request.outcome");
    expect_int(&e, "api.response.code", 502);
    expect_str(&e, "api.response.error", "-32603");
    expect_int(&e, "duration", 2000);
    done(&e);
}

static void auth_failure(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(7, "auth.failure") ",\"source\":{\"address\":\"192.0.2.9:60000\",\"user_agent\":"
                                      "\"evil\\\"agent\\u0001\"}," TRACE
                                      ",\"auth\":{\"status\":401,\"error\":"
                                      "\"invalid_token\",\"reason\":\"expired\"}}");
    expect_common(&e, 3002, 1, 2, 2, 7, "auth.failure");
    expect_str(&e, "class_name", "Authentication");
    expect_str(&e, "category_name", "Identity & Access Management");
    expect_str(&e, "activity_name", "Logon");
    expect_str(&e, "type_name", "Authentication: Logon");
    expect_str(&e, "status", "Failure");
    expect_str(&e, "status_code", "invalid_token");
    expect_str(&e, "status_detail", "expired");
    expect_int(&e, "auth_protocol_id", 6);
    expect_int(&e, "user.type_id", 0);
    expect_str(&e, "src_endpoint.ip", "192.0.2.9");
    expect_int(&e, "src_endpoint.port", 60000);
    expect_str(&e, "dst_endpoint.uid", "0123456789abcdef");
    expect_int(&e, "unmapped.auth.status", 401);
    expect_str(&e, "unmapped.source.user_agent", "evil\"agent\x01"); /* escaped on the way out */
    expect_str(&e, "unmapped.trace.trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
    expect_absent(&e, "metadata.correlation_uid");
    done(&e);
}

static void sessions(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(8, "session.start") ",\"session\":\"00112233445566aa\",\"principal_key\":"
                                       "\"9f86d081884c7d65\"}");
    expect_common(&e, 6003, 1, 1, 1, 8, "session.start");
    expect_str(&e, "activity_name", "Create");
    expect_str(&e, "actor.session.uid", "00112233445566aa");
    expect_str(&e, "actor.user.uid_alt", "9f86d081884c7d65");
    expect_str(&e, "api.operation", "session.start");
    expect_str(&e, "src_endpoint.uid", "0123456789abcdef");
    done(&e);

    /* as FORMAT.md has it: a principal object and an upstream */
    map(&e, COMMON(9, "session.start") ",\"session\":\"00112233445566aa\",\"principal\":{\"sub\":"
                                       "\"bob\",\"client_id\":\"c\",\"method\":\"jwt\"},"
                                       "\"upstream\":\"github\"}");
    expect_str(&e, "actor.user.uid", "bob");
    expect_str(&e, "actor.app_name", "c");
    expect_str(&e, "api.service.name", "github");
    done(&e);

    map(&e, COMMON(10, "session.end") ",\"session\":\"00112233445566aa\",\"principal_key\":null,"
                                      "\"reason\":\"idle\"}");
    expect_common(&e, 6003, 4, 1, 1, 10, "session.end");
    expect_str(&e, "activity_name", "Delete");
    expect_str(&e, "status_detail", "idle");
    expect_str(&e, "actor.session.uid", "00112233445566aa");
    expect_absent(&e, "actor.user");
    done(&e);
}

static void tool_definition_changed(void **state)
{
    (void)state;
    struct ev e;
    map(&e,
        COMMON(11,
               "tool.definition_changed") ",\"upstream\":\"github\",\"name\":\"search\","
                                          "\"digest\":{\"approved\":\"aa11\",\"now\":\"bb22\"}}");
    expect_common(&e, 6003, 3, 1, 4, 11, "tool.definition_changed");
    expect_str(&e, "activity_name", "Update");
    expect_str(&e, "severity", "High");
    expect_str(&e, "status_detail", "differs_from_approved");
    expect_str(&e, "actor.app_name", "github");
    expect_str(&e, "api.service.name", "github");
    expect_str(&e, "resources.0.name", "search");
    expect_str(&e, "resources.0.type", "tool");
    expect_str(&e, "resources.0.data.approved", "aa11");
    expect_str(&e, "resources.0.data.now", "bb22");
    done(&e);

    map(&e,
        COMMON(12, "tool.definition_changed") ",\"upstream\":\"github\",\"name\":\"search\","
                                              "\"digest\":{\"approved\":null,\"now\":\"bb22\"}}");
    expect_int(&e, "severity_id", 3);
    expect_str(&e, "status_detail", "not_approved");
    done(&e);
}

static void config_reload(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(13, "config.reload") ",\"config\":{\"file\":\"/etc/g.yaml\",\"digest\":null,"
                                        "\"result\":\"applied\",\"policy\":{\"before\":\"none\","
                                        "\"after\":\"none\"},\"restart_required\":[\"limits\"]}}");
    expect_common(&e, 6003, 3, 1, 2, 13, "config.reload");
    expect_str(&e, "api.operation", "config.reload");
    expect_str(&e, "unmapped.config.restart_required.0", "limits");
    done(&e);
    map(&e, COMMON(14, "config.reload") ",\"config\":{\"file\":\"/etc/g.yaml\",\"digest\":null,"
                                        "\"result\":\"rejected\",\"error\":\"g.yaml:3:1: x\","
                                        "\"policy\":{\"before\":\"none\",\"after\":\"none\"},"
                                        "\"restart_required\":[]}}");
    expect_int(&e, "status_id", 2);
    expect_str(&e, "unmapped.config.error", "g.yaml:3:1: x");
    done(&e);
}

static void audit_start_and_checkpoint(void **state)
{
    (void)state;
    struct ev e;
    map(&e, COMMON(1, "audit.start") ",\"chain\":\"new\",\"file\":\"gatehouse-audit.jsonl\"}");
    expect_common(&e, 6003, 99, 1, 1, 1, "audit.start");
    expect_str(&e, "activity_name", "audit.start");
    expect_str(&e, "type_name", "API Activity: Other");
    expect_str(&e, "api.operation", "audit.start");
    expect_str(&e, "actor.app_name", "Gatehouse");
    expect_str(&e, "unmapped.type", "audit.start");
    expect_str(&e, "unmapped.chain", "new");
    expect_str(&e, "unmapped.file", "gatehouse-audit.jsonl");
    expect_int(&e, "unmapped.seq", 1);
    done(&e);

    map(&e, COMMON(13, "audit.checkpoint") ",\"checkpoint\":{\"count\":12,\"head\":\"" Z64 "\","
                                           "\"kid\":\"k1\",\"sig\":\"c2ln\"}}");
    expect_common(&e, 6003, 99, 1, 1, 13, "audit.checkpoint");
    expect_str(&e, "activity_name", "audit.checkpoint");
    expect_int(&e, "unmapped.checkpoint.count", 12);
    expect_str(&e, "unmapped.checkpoint.sig", "c2ln");
    expect_str(&e, "unmapped.prev", Z64);
    done(&e);

    /* a type this version does not know is kept whole, like the audit.* ones */
    map(&e, COMMON(14, "future.thing") ",\"x\":{\"y\":[1,true,null]}}");
    expect_int(&e, "activity_id", 99);
    expect_str(&e, "activity_name", "future.thing");
    expect_int(&e, "unmapped.x.y.0", 1);
    done(&e);
}

static void time_is_ms_since_epoch(void **state)
{
    (void)state;
    struct ev e;
    map(&e, "{\"v\":1,\"seq\":1,\"time\":\"2024-02-29T23:59:59.999999Z\",\"type\":\"audit.start\","
            "\"gateway\":\"g\"}");
    expect_int(&e, "time", 1709251199999LL);
    done(&e);
    map(&e, "{\"v\":1,\"seq\":1,\"time\":\"1970-01-01T00:00:00Z\",\"type\":\"audit.start\","
            "\"gateway\":\"g\"}");
    expect_int(&e, "time", 0);
    done(&e);
}

static void garbage_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        "\"audit.start\"",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"audit.start\"}", /* gw */
        "{\"v\":2,\"seq\":1,\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":0,\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-13-05T08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2025-02-29T08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-12-05 08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-12-05T08:20:00.Z\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-12-05T08:20:00\",\"type\":\"x\",\"gateway\":\"g\"}",
        "{\"v\":1,\"seq\":\"1\",\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"x\",\"gateway\":"
        "\"g\"}",
        "{\"v\":1,\"seq\":1,\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"x\",\"gateway\":\"g\"}x",
        "{\"v\":1,\"v\":1,\"seq\":1,\"time\":\"2026-12-05T08:20:00Z\",\"type\":\"x\",\"gateway\":"
        "\"g\"}",
        /* a decision without its decision, with a principal of the wrong type, an odd effect */
        COMMON(2, "request.decision") ",\"action\":{\"method\":\"tools/call\"}}",
        COMMON(2, "request.decision") ",\"principal\":\"alice\",\"action\":{\"method\":\"x\"},"
                                      "\"decision\":{\"effect\":\"allow\"}}",
        COMMON(2, "request.decision") ",\"action\":{\"method\":\"x\"},\"decision\":{\"effect\":"
                                      "\"maybe\"}}",
        COMMON(2, "request.decision") ",\"principal\":{\"groups\":[1]},\"action\":{\"method\":"
                                      "\"x\"},\"decision\":{\"effect\":\"allow\"}}",
        COMMON(5, "request.outcome") ",\"outcome\":{\"http_status\":\"200\"}}",
        COMMON(5, "request.outcome") "}",
    };
    struct gh_buf out;
    gh_buf_init(&out, 1 << 20);
    gh_buf_append(&out, "kept", 4);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum gh_rc rc = gh_audit_ocsf_from_native(bad[i], strlen(bad[i]), &out);
        if (rc != GH_E_PARSE)
            fail_msg("line %zu: %s", i, gh_rc_str(rc));
        assert_int_equal(out.len, 4);
    }
    assert_int_equal(gh_audit_ocsf_from_native(NULL, 0, &out), GH_E_PARSE);
    gh_buf_release(&out);

    /* a full output buffer is GH_E_LIMIT and leaves it as it was */
    gh_buf_init(&out, 64);
    gh_buf_append(&out, "kept", 4);
    const char *line = COMMON(1, "audit.start") ",\"chain\":\"new\",\"file\":\"f\"}";
    assert_int_equal(gh_audit_ocsf_from_native(line, strlen(line), &out), GH_E_LIMIT);
    assert_int_equal(out.len, 4);
    gh_buf_release(&out);
}

/* Lines as the trail's writer produces them (audit.start, a decision, the closing checkpoint). */
static void real_trail_maps(void **state)
{
    (void)state;
    char dir[64] = "/tmp/gh-ocsf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "audit:\n  path: %s/a.jsonl\n", dir);
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    assert_int_equal(gh_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err), GH_OK);
    struct gh_audit *a = NULL;
    if (gh_audit_open(cfg, cfg->audit, false, &a, &err) != GH_OK)
        fail_msg("open: %s", err.msg);
    gh_config_unref(cfg);

    struct gh_buf m;
    gh_buf_init(&m, 8192);
    gh_audit_put_str(&m, "rid", GH_SLICE_LIT("0123456789abcdef"));
    gh_audit_open_obj(&m, "principal");
    gh_audit_put_str(&m, "sub", GH_SLICE_LIT("al\"ice"));
    gh_audit_close_obj(&m);
    struct gh_audit_trace t;
    gh_audit_trace_from((struct gh_slice){0}, &t);
    gh_audit_put_trace(&m, &t);
    gh_audit_open_obj(&m, "action");
    gh_audit_put_str(&m, "method", GH_SLICE_LIT("tools/call"));
    gh_audit_close_obj(&m);
    gh_audit_open_obj(&m, "decision");
    gh_audit_put_str(&m, "effect", GH_SLICE_LIT("deny"));
    gh_audit_close_obj(&m);
    assert_int_equal(gh_audit_emit(a, "request.decision", m.data, m.len), GH_OK);
    gh_buf_release(&m);
    gh_audit_close(a);

    char path[128];
    snprintf(path, sizeof(path), "%s/a.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    int n = 0, denies = 0;
    while (fgets(line, sizeof(line), f)) {
        struct ev e;
        map(&e, line);
        if (getenv("OCSF_PRINT"))
            printf("%.*s\n", (int)e.out.len, e.out.data);
        n++;
        if (at(&e, "actor.user.uid") >= 0) {
            expect_str(&e, "actor.user.uid", "al\"ice");
            expect_int(&e, "status_id", 2);
            denies++;
        }
        done(&e);
    }
    fclose(f);
    assert_true(n >= 3); /* audit.start, the decision, the checkpoint */
    assert_int_equal(denies, 1);
    snprintf(line, sizeof(line), "rm -rf %s", dir);
    assert_int_equal(system(line), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decision_allow),
        cmocka_unit_test(decision_deny),
        cmocka_unit_test(decision_initialize_and_lists),
        cmocka_unit_test(outcome),
        cmocka_unit_test(auth_failure),
        cmocka_unit_test(sessions),
        cmocka_unit_test(tool_definition_changed),
        cmocka_unit_test(audit_start_and_checkpoint),
        cmocka_unit_test(time_is_ms_since_epoch),
        cmocka_unit_test(garbage_is_refused),
        cmocka_unit_test(real_trail_maps),
        cmocka_unit_test(config_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
