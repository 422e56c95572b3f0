/*
 * Unit tests for http/ parsing primitives: request and response heads (RFC 9112 and the framing
 * cases of security-cases §4.3), the chunked decoder, the SSE parser and writer, and URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/core.h"
#include "http/http_parse.h"

#define MAXH 16384

static struct gh_http_request_head rq;
static struct gh_http_response_head rs;
static struct gh_http_error er;

static enum gh_rc req(const char *s)
{
    memset(&er, 0, sizeof(er));
    return gh_http_request_parse(s, strlen(s), MAXH, GH_HTTP_MAX_HEADERS, &rq, &er);
}

static enum gh_rc resp(const char *s, enum gh_http_method m)
{
    memset(&er, 0, sizeof(er));
    return gh_http_response_parse(s, strlen(s), MAXH, GH_HTTP_MAX_HEADERS, m, &rs, &er);
}

/* The request must be refused with exactly this rc and status. */
#define REJECT(s, rc_, st)                                                                         \
    do {                                                                                           \
        assert_int_equal(req(s), rc_);                                                             \
        assert_int_equal(er.status, st);                                                           \
        assert_non_null(er.reason);                                                                \
    } while (0)

static bool sl_is(struct gh_slice s, const char *c)
{
    return gh_slice_eq_cstr(s, c);
}

static const char POST_HEAD[] = "POST /mcp?session=abc HTTP/1.1\r\n"
                                "Host: gw.example.com:8443\r\n"
                                "User-Agent: test-client/1.0\r\n"
                                "Accept: application/json, text/event-stream\r\n"
                                "Content-Type: application/json\r\n"
                                "Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig\r\n"
                                "Mcp-Session-Id: 1868a90c-1234-4c6e-9d3b-0a1b2c3d4e5f\r\n"
                                "MCP-Protocol-Version: 2025-06-18\r\n"
                                "Content-Length: 72\r\n"
                                "\r\n";

static void request_typical_post(void **state)
{
    (void)state;
    assert_int_equal(req(POST_HEAD), GH_OK);
    assert_int_equal(rq.method, GH_HTTP_M_POST);
    assert_true(sl_is(rq.method_str, "POST"));
    assert_true(sl_is(rq.target, "/mcp?session=abc"));
    assert_true(sl_is(rq.path, "/mcp"));
    assert_true(sl_is(rq.query, "session=abc"));
    assert_int_equal(rq.minor_version, 1);
    assert_int_equal(rq.nheaders, 8);
    assert_true(sl_is(rq.headers[0].name, "Host"));
    assert_true(sl_is(rq.host, "gw.example.com:8443"));
    assert_true(rq.has_content_length);
    assert_int_equal(rq.content_length, 72);
    assert_false(rq.chunked);
    assert_true(rq.keep_alive);
    assert_false(rq.expect_continue);
    assert_int_equal(rq.head_len, strlen(POST_HEAD));
    const struct gh_http_header *h = gh_http_header_find(rq.headers, rq.nheaders, "content-type");
    assert_non_null(h);
    assert_true(sl_is(h->value, "application/json"));
    assert_null(gh_http_header_find(rq.headers, rq.nheaders, "cookie"));
    assert_int_equal(gh_http_header_count(rq.headers, rq.nheaders, "HOST"), 1);
}

static void request_methods_and_target_split(void **state)
{
    (void)state;
    static const struct {
        const char *m;
        enum gh_http_method v;
    } ms[] = {
        {"GET", GH_HTTP_M_GET},     {"POST", GH_HTTP_M_POST},       {"DELETE", GH_HTTP_M_DELETE},
        {"HEAD", GH_HTTP_M_HEAD},   {"OPTIONS", GH_HTTP_M_OPTIONS}, {"PUT", GH_HTTP_M_PUT},
        {"PATCH", GH_HTTP_M_PATCH}, {"BREW", GH_HTTP_M_OTHER},      {"get", GH_HTTP_M_OTHER}};
    char buf[128];
    for (size_t i = 0; i < GH_ARRAY_LEN(ms); i++) {
        snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", ms[i].m);
        assert_int_equal(req(buf), GH_OK);
        assert_int_equal(rq.method, ms[i].v);
        assert_true(sl_is(rq.path, "/"));
        assert_int_equal(rq.query.len, 0);
    }
    assert_int_equal(req("GET /a/b? HTTP/1.1\r\nHost: a\r\n\r\n"), GH_OK);
    assert_true(sl_is(rq.path, "/a/b"));
    assert_true(sl_is(rq.query, ""));
    assert_non_null(rq.query.ptr);
    assert_int_equal(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), GH_OK);
    assert_true(sl_is(rq.target, "*"));
    assert_true(sl_is(rq.path, "*"));
}

static void request_line_strictness(void **state)
{
    (void)state;
    REJECT("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);  /* method not a token */
    REJECT("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400); /* double SP */
    REJECT("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400); /* absolute-form */
    REJECT("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400); /* authority-form */
    REJECT("GET * HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);         /* '*' not OPTIONS */
    REJECT("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/2.0\r\nHost: a\r\n\r\n", GH_E_PARSE, 505);
    REJECT("GET / HTTP/1.2\r\nHost: a\r\n\r\n", GH_E_PARSE, 505);
    REJECT("GET / HTTP/0.9\r\nHost: a\r\n\r\n", GH_E_PARSE, 505);
    REJECT("GET / HTTX/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / http/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.10\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET /\r\nHost: a\r\n\r\n", GH_E_PARSE, 400); /* HTTP/0.9 style */
}

static void request_line_endings(void **state)
{
    (void)state;
    REJECT("GET / HTTP/1.1\nHost: a\r\n\r\n", GH_E_PARSE, 400); /* bare LF after start */
    REJECT("GET / HTTP/1.1\r\nHost: a\n\r\n", GH_E_PARSE, 400); /* bare LF after field */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\n\n", GH_E_PARSE, 400); /* bare LF ends head */
    REJECT("GET / HTTP/1.1\n\n", GH_E_PARSE, 400);              /* all bare LF */
    REJECT("GET / HTTP/1.1\rHost: a\r\n\r\n", GH_E_PARSE, 400); /* bare CR */
    REJECT("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: a\r\n\rX", GH_E_PARSE, 400);
    /* one leading empty line is tolerated (RFC 9112 §2.2), two are not */
    assert_int_equal(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), GH_OK);
    assert_int_equal(rq.head_len, 29);
    REJECT("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", GH_E_PARSE, 400);
}

static void request_field_strictness(void **state)
{
    (void)state;
    REJECT("GET / HTTP/1.1\r\nHost : a\r\n\r\n", GH_E_PARSE, 400);  /* SP before colon */
    REJECT("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", GH_E_PARSE, 400); /* HTAB before colon */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", GH_E_PARSE, 400); /* obs-fold */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\n Host: a\r\n\r\n", GH_E_PARSE, 400);       /* WS before first field */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", GH_E_PARSE, 400); /* empty name */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", GH_E_PARSE, 400); /* non-tchar */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX: b\x01\r\n\r\n", GH_E_PARSE, 400); /* CTL */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX: b\x7f\r\n\r\n", GH_E_PARSE, 400); /* DEL */
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef\x1b[31m\r\n\r\n", GH_E_PARSE,
           400); /* ESC past the first 16 bytes (vector path) */
    /* every CTL but HTAB, both in the scalar tail and in the 16-byte vector path */
    for (int ch = 0; ch < 0x20; ch++) {
        if (ch == '\t' || ch == '\r')
            continue;
        for (int at = 0; at < 40; at += 13) {
            char b[128];
            int n = snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nHost: a\r\nX: %.*s", at,
                             "0123456789abcdef0123456789abcdef0123456789");
            b[n++] = (char)ch;
            n += snprintf(b + n, sizeof(b) - (size_t)n, "0123456789abcdef\r\n\r\n");
            assert_int_equal(gh_http_request_parse(b, (size_t)n, MAXH, 100, &rq, &er), GH_E_PARSE);
            assert_int_equal(er.status, 400);
        }
    }
    static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    assert_int_equal(gh_http_request_parse(nul, sizeof(nul) - 1, MAXH, 100, &rq, &er), GH_E_PARSE);
    assert_int_equal(er.status, 400);
    /* HTAB and obs-text are legal; OWS is trimmed on both sides */
    assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nX:  \tv a\tl\xe9 \t \r\nY:\r\n\r\n"), GH_OK);
    assert_true(sl_is(rq.headers[1].value, "v a\tl\xe9"));
    assert_true(sl_is(rq.headers[2].value, ""));
}

static void request_content_length(void **state)
{
    (void)state;
    assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), GH_OK);
    assert_true(rq.has_content_length);
    assert_int_equal(rq.content_length, 0);
    assert_int_equal(
        req("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0009007199254740992\r\n\r\n"),
        GH_OK); /* 2^53 exactly, leading zeros allowed */
    assert_int_equal(rq.content_length, UINT64_C(9007199254740992));
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9007199254740993\r\n\r\n", GH_E_LIMIT,
           413);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
           GH_E_LIMIT, 413);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", GH_E_PARSE, 400);
    /* §4.3 smuggling: double CL (even equal) and comma lists */
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
           GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
           GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", GH_E_PARSE, 400);
}

static void request_transfer_encoding(void **state)
{
    (void)state;
    assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"),
                     GH_OK);
    assert_true(rq.chunked);
    assert_false(rq.has_content_length);
    /* §4.3 CL.TE / TE.CL: both present is refused outright */
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
           GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
           GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", GH_E_PARSE,
           501);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", GH_E_PARSE, 501);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", GH_E_PARSE,
           501);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", GH_E_PARSE, 501);
    REJECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           GH_E_PARSE, 400);
    REJECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", GH_E_PARSE, 400);
}

static void request_host_rules(void **state)
{
    (void)state;
    REJECT("GET / HTTP/1.1\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", GH_E_PARSE, 400);
    REJECT("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", GH_E_PARSE, 400);
    assert_int_equal(req("GET / HTTP/1.0\r\n\r\n"), GH_OK);
    assert_int_equal(rq.host.len, 0);
    assert_int_equal(rq.minor_version, 0);
    assert_int_equal(req("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), GH_OK);
    assert_true(sl_is(rq.host, "[::1]:8080"));
    assert_int_equal(req("GET / HTTP/1.1\r\nHost:\r\n\r\n"), GH_OK); /* RFC 9112 §3.2 */
    assert_int_equal(rq.host.len, 0);
}

static void request_connection_and_expect(void **state)
{
    (void)state;
    assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"), GH_OK);
    assert_false(rq.keep_alive);
    assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, TE\r\n\r\n"), GH_OK);
    assert_true(rq.keep_alive);
    assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: te,close\r\n\r\n"), GH_OK);
    assert_false(rq.keep_alive);
    assert_int_equal(req("GET / HTTP/1.0\r\n\r\n"), GH_OK);
    assert_false(rq.keep_alive);
    assert_int_equal(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), GH_OK);
    assert_true(rq.keep_alive);
    assert_int_equal(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"),
                     GH_OK);
    assert_false(rq.keep_alive);
    assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n"), GH_OK);
    assert_true(rq.expect_continue);
    assert_int_equal(req("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), GH_OK);
    assert_false(rq.expect_continue); /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
    assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"), GH_OK);
    assert_false(rq.expect_continue);
}

static void request_incomplete_and_limits(void **state)
{
    (void)state;
    size_t n = strlen(POST_HEAD);
    for (size_t i = 0; i < n; i++) {
        enum gh_rc rc = gh_http_request_parse(POST_HEAD, i, MAXH, 100, &rq, &er);
        if (rc != GH_E_AGAIN)
            fail_msg("prefix %zu gave %d", i, rc);
    }
    /* body bytes after the head are left alone */
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s{\"jsonrpc\":\"2.0\"}", POST_HEAD);
    assert_int_equal(req(buf), GH_OK);
    assert_int_equal(rq.head_len, n);
    /* head cap: incomplete at the cap is 431, complete within it is fine */
    assert_int_equal(gh_http_request_parse(POST_HEAD, n - 1, n - 1, 100, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 431);
    assert_int_equal(gh_http_request_parse(POST_HEAD, n, n - 1, 100, &rq, &er), GH_E_LIMIT);
    assert_int_equal(gh_http_request_parse(POST_HEAD, n, n, 100, &rq, &er), GH_OK);
    /* field count cap */
    assert_int_equal(gh_http_request_parse(POST_HEAD, n, MAXH, 8, &rq, &er), GH_OK);
    assert_int_equal(gh_http_request_parse(POST_HEAD, n, MAXH, 7, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 431);
    /* 101 fields against the hard ceiling even if the caller asks for more */
    struct gh_buf b;
    gh_buf_init(&b, 1 << 16);
    assert_int_equal(gh_buf_appendf(&b, "GET / HTTP/1.1\r\nHost: a\r\n"), GH_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(gh_buf_appendf(&b, "X-%d: v\r\n", i), GH_OK);
    assert_int_equal(gh_buf_appendf(&b, "\r\n"), GH_OK);
    assert_int_equal(gh_http_request_parse(b.data, b.len, 1 << 16, 1000, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 431);
    gh_buf_release(&b);
}

static void request_target_too_long(void **state)
{
    (void)state;
    size_t n = GH_HTTP_MAX_TARGET + 64;
    char *buf = gh_xmalloc(n + 64);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', GH_HTTP_MAX_TARGET - 1);
    size_t off = 5 + GH_HTTP_MAX_TARGET - 1;
    memcpy(buf + off, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    assert_int_equal(gh_http_request_parse(buf, off + 22, 1 << 16, 100, &rq, &er), GH_OK);
    assert_int_equal(rq.target.len, GH_HTTP_MAX_TARGET);
    buf[off] = 'a';
    memcpy(buf + off + 1, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
    assert_int_equal(gh_http_request_parse(buf, off + 23, 1 << 16, 100, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 414);
    /* known too long before the line is even complete */
    assert_int_equal(gh_http_request_parse(buf, off + 1, 1 << 16, 100, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 414);
    /* target running into a smaller head cap is also 414 */
    assert_int_equal(gh_http_request_parse(buf, 4096, 4096, 100, &rq, &er), GH_E_LIMIT);
    assert_int_equal(er.status, 414);
    gh_free(&buf);
}

static void response_basic_and_framing(void **state)
{
    (void)state;
    assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                          "12\r\n\r\n{\"ok\":true}\n",
                          GH_HTTP_M_POST),
                     GH_OK);
    assert_int_equal(rs.status, 200);
    assert_true(sl_is(rs.reason, "OK"));
    assert_int_equal(rs.minor_version, 1);
    assert_int_equal(rs.content_length, 12);
    assert_true(rs.has_content_length && rs.keep_alive);
    assert_false(rs.chunked || rs.close_delimited || rs.no_body);
    assert_int_equal(rs.nheaders, 2);

    assert_int_equal(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", GH_HTTP_M_GET),
                     GH_OK);
    assert_true(rs.chunked && rs.keep_alive);

    assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", 0), GH_OK);
    assert_true(rs.close_delimited);
    assert_false(rs.keep_alive);

    assert_int_equal(resp("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", 0), GH_OK);
    assert_false(rs.keep_alive);
    assert_int_equal(
        resp("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n", 0), GH_OK);
    assert_true(rs.keep_alive);
    assert_int_equal(
        resp("HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0), GH_OK);
    assert_false(rs.keep_alive);
    assert_int_equal(resp("HTTP/1.1 204\r\n\r\n", 0), GH_OK); /* no reason, no SP */
    assert_int_equal(rs.reason.len, 0);
    assert_int_equal(resp("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 0), GH_OK);
    assert_int_equal(resp("HTTP/1.1 500 Internal\tServer Error\r\nContent-Length: 0\r\n\r\n", 0),
                     GH_OK);
    assert_true(sl_is(rs.reason, "Internal\tServer Error"));
}

static void response_no_body_cases(void **state)
{
    (void)state;
    assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", GH_HTTP_M_HEAD), GH_OK);
    assert_true(rs.no_body && rs.keep_alive);
    assert_false(rs.close_delimited);
    assert_int_equal(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", GH_HTTP_M_HEAD),
                     GH_OK);
    assert_true(rs.no_body);
    assert_false(rs.chunked);
    static const char *nb[] = {"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 103 Early Hints\r\n\r\n",
                               "HTTP/1.1 204 No Content\r\n\r\n",
                               "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"};
    for (size_t i = 0; i < GH_ARRAY_LEN(nb); i++) {
        assert_int_equal(resp(nb[i], GH_HTTP_M_GET), GH_OK);
        assert_true(rs.no_body);
        assert_false(rs.close_delimited || rs.chunked);
        assert_true(rs.keep_alive);
    }
}

#define RREJECT(s)                                                                                 \
    do {                                                                                           \
        assert_int_equal(resp(s, GH_HTTP_M_GET), GH_E_PARSE);                                      \
        assert_int_equal(er.status, 502);                                                          \
    } while (0)

static void response_strictness(void **state)
{
    (void)state;
    RREJECT("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    RREJECT("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nX : a\r\n\r\n");
    RREJECT("HTTP/1.1 099 Low\r\n\r\n");
    RREJECT("HTTP/1.1 600 High\r\n\r\n");
    RREJECT("HTTP/1.1 20 Short\r\n\r\n");
    RREJECT("HTTP/1.1 2000 Long\r\n\r\n");
    RREJECT("HTTP/1.1 200OK\r\n\r\n");
    RREJECT("HTTP/2 200 OK\r\n\r\n");
    RREJECT("HTTP/1.1  200 OK\r\n\r\n");
    RREJECT("HTTP/1.1 200 O\x01K\r\n\r\n");
    RREJECT("ICY 200 OK\r\n\r\n");
    RREJECT("HTTP/1.1 200 OK\r\nContent-Length: 9007199254740993\r\n\r\n");
    assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Len", GH_HTTP_M_GET), GH_E_AGAIN);
    assert_int_equal(resp("HTTP/1.1 2", GH_HTTP_M_GET), GH_E_AGAIN);
    assert_int_equal(
        gh_http_response_parse("HTTP/1.1 200 OK\r\nX: y\r\n", 23, 23, 100, 0, &rs, &er),
        GH_E_LIMIT);
}

/* ---- chunked ---- */

struct dec {
    char out[4096];
    size_t n;
    bool done;
    size_t used; /* input bytes consumed overall */
};

/* Runs the decoder over in, step pieces at a time; returns the first non-OK rc or GH_OK. */
static enum gh_rc dechunk(const char *in, size_t len, size_t step, size_t max_trailer,
                          struct dec *d)
{
    struct gh_http_chunked c;
    gh_http_chunked_init(&c, max_trailer);
    memset(d, 0, sizeof(*d));
    size_t off = 0;
    while (off < len && !d->done) {
        size_t avail = GH_MIN(step, len - off), used = 0;
        struct gh_slice data;
        enum gh_rc rc = gh_http_chunked_step(&c, in + off, avail, &used, &data, &d->done);
        assert_true(used <= avail);
        off += used;
        d->used = off;
        if (rc)
            return rc;
        if (data.len) {
            assert_true(d->n + data.len <= sizeof(d->out));
            memcpy(d->out + d->n, data.ptr, data.len);
            d->n += data.len;
        }
    }
    return GH_OK;
}

static enum gh_rc dechunk_s(const char *s, size_t step, struct dec *d)
{
    return dechunk(s, strlen(s), step, 256, d);
}

static void chunked_decodes_any_split(void **state)
{
    (void)state;
    static const char body[] =
        "5\r\nhello\r\n7;ext=1;q=\"x y\"\r\n, world\r\nA  ;x\r\n0123456789\r\n"
        "0\r\nX-Trailer: yes\r\nY:\r\n\r\nNEXT";
    struct dec d;
    for (size_t step = 1; step <= sizeof(body); step++) {
        assert_int_equal(dechunk(body, sizeof(body) - 1, step, 256, &d), GH_OK);
        assert_true(d.done);
        assert_int_equal(d.n, 22);
        assert_memory_equal(d.out, "hello, world0123456789", 22);
        assert_int_equal(d.used, sizeof(body) - 1 - 4); /* "NEXT" belongs to the next message */
    }
    assert_int_equal(dechunk_s("0\r\n\r\n", 100, &d), GH_OK);
    assert_true(d.done);
    assert_int_equal(d.n, 0);
    assert_int_equal(dechunk_s("000\r\n\r\n", 1, &d), GH_OK);
    assert_true(d.done);
    assert_int_equal(dechunk_s("fF\r\n", 100, &d), GH_OK); /* incomplete: not done, no error */
    assert_false(d.done);
}

static void chunked_rejects_bad_framing(void **state)
{
    (void)state;
    struct dec d;
    static const char *bad[] = {
        "-5\r\nhello\r\n0\r\n\r\n",     /* sign */
        "+5\r\nhello\r\n0\r\n\r\n",     /* sign */
        " 5\r\nhello\r\n0\r\n\r\n",     /* leading whitespace */
        "5 \r\nhello\r\n0\r\n\r\n",     /* trailing whitespace without extension */
        "5 5\r\nhello\r\n0\r\n\r\n",    /* digits after BWS */
        "0x5\r\nhello\r\n0\r\n\r\n",    /* hex prefix */
        "\r\nhello\r\n0\r\n\r\n",       /* empty size */
        "5\nhello\r\n0\r\n\r\n",        /* bare LF after size */
        "5\rhello\r\n0\r\n\r\n",        /* bare CR */
        "5\r\nhelloX\r\n0\r\n\r\n",     /* data longer than the size */
        "5\r\nhello\n0\r\n\r\n",        /* bare LF after data */
        "5\r\nhello0\r\n\r\n",          /* no CRLF after data */
        "5;a\nb\r\nhello\r\n0\r\n\r\n", /* LF inside extension */
        "5;\x01\r\nhello\r\n0\r\n\r\n", /* CTL in extension */
        "0\r\nX : y\r\n\r\n",           /* trailer name then SP */
        "0\r\n y\r\n\r\n",              /* trailer obs-fold */
        "0\r\nX: y\n\r\n",              /* trailer bare LF */
        "0\r\nX: y\r\n\n",              /* bare LF ends trailers */
        "0\r\nX: \x7f\r\n\r\n",         /* DEL in trailer */
        "0\r\n\rX",                     /* bare CR after last chunk */
        "20000000000001\r\n",           /* 2^53 + 1 */
        "FFFFFFFFFFFFFFFF\r\n",         /* overflow */
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
        for (size_t step = 1; step <= 64; step += 63) {
            enum gh_rc rc = dechunk_s(bad[i], step, &d);
            if (rc != GH_E_PARSE)
                fail_msg("case %zu step %zu gave %d", i, step, rc);
        }
    }
    assert_int_equal(dechunk_s("20000000000000\r\n", 1, &d), GH_OK); /* 2^53 is the max */
}

static void chunked_limits(void **state)
{
    (void)state;
    struct dec d;
    /* 16 digits fine, 17 (leading zeros included) is a size-line cap hit */
    assert_int_equal(dechunk_s("0000000000000005\r\nhello\r\n0\r\n\r\n", 1, &d), GH_OK);
    assert_true(d.done);
    assert_int_equal(dechunk_s("00000000000000005\r\nhello\r\n0\r\n\r\n", 1, &d), GH_E_LIMIT);
    char ext[2048];
    memset(ext, 0, sizeof(ext));
    memcpy(ext, "5;", 2);
    memset(ext + 2, 'e', GH_HTTP_CHUNK_MAX_EXT + GH_HTTP_CHUNK_MAX_DIGITS);
    assert_int_equal(dechunk_s(ext, 7, &d), GH_E_LIMIT);
    memset(ext + 1, ' ',
           GH_HTTP_CHUNK_MAX_EXT + GH_HTTP_CHUNK_MAX_DIGITS); /* unbounded BWS is capped too */
    assert_int_equal(dechunk_s(ext, 7, &d), GH_E_LIMIT);
    static const char tr[] = "0\r\nX-A: 0123456789\r\n\r\n"; /* trailer section: 17 bytes */
    assert_int_equal(dechunk(tr, sizeof(tr) - 1, 1, 17, &d), GH_OK);
    assert_true(d.done);
    assert_int_equal(dechunk(tr, sizeof(tr) - 1, 1, 16, &d), GH_E_LIMIT);
    assert_int_equal(dechunk("0\r\n\r\n", 5, 1, 0, &d), GH_OK); /* no trailer needs no budget */
    assert_true(d.done);
}

/* ---- SSE ---- */

struct evs {
    char log[4096];
    size_t n;
    int count;
    int stop_after; /* return GH_E_DECLINED on this event number (1-based); 0 never */
};

static enum gh_rc on_ev(void *ctx, const struct gh_sse_event *ev)
{
    struct evs *e = ctx;
    e->count++;
    int w = snprintf(e->log + e->n, sizeof(e->log) - e->n, "[%s%.*s|%.*s|%.*s|%ld|%d]",
                     ev->has_id ? "id=" : "", (int)ev->id.len, ev->id.ptr ? ev->id.ptr : "",
                     (int)ev->event.len, ev->event.ptr ? ev->event.ptr : "", (int)ev->data.len,
                     ev->data.ptr ? ev->data.ptr : "", ev->retry, ev->has_data);
    e->n += (size_t)w;
    return e->count == e->stop_after ? GH_E_DECLINED : GH_OK;
}

static enum gh_rc sse_run(const char *s, size_t len, size_t step, size_t max, struct evs *e)
{
    struct gh_sse_parser p;
    gh_sse_parser_init(&p, max);
    memset(e, 0, sizeof(*e));
    enum gh_rc rc = GH_OK;
    for (size_t off = 0; off < len && rc == GH_OK; off += step)
        rc = gh_sse_parser_feed(&p, s + off, GH_MIN(step, len - off), on_ev, e);
    gh_sse_parser_release(&p);
    return rc;
}

static void sse_parses_any_split(void **state)
{
    (void)state;
    static const char in[] = "\xEF\xBB\xBF: comment\r\n"
                             "event: update\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\n"
                             "data\n\n"
                             "data:  lead\rretry: 3000\r\r"
                             "id\nunknown: x\nretry: 12x\n\n"
                             "event: lonely\n\n"
                             "data: a:b\ndata\ndata: c\n\n"
                             "data: no end";
    static const char want[] = "[id=7|update|one\ntwo|-1|1]"
                               "[|||-1|1]"
                               "[|| lead|3000|1]"
                               "[id=|||-1|0]"
                               "[||a:b\n\nc|-1|1]";
    for (size_t step = 1; step <= sizeof(in); step++) {
        struct evs e;
        assert_int_equal(sse_run(in, sizeof(in) - 1, step, 1024, &e), GH_OK);
        assert_int_equal(e.count, 5);
        if (strcmp(e.log, want) != 0)
            fail_msg("step %zu: %s", step, e.log);
    }
}

static void sse_bom_and_line_ends(void **state)
{
    (void)state;
    struct evs e;
    /* a second BOM is not stripped: it makes the field name unknown */
    assert_int_equal(sse_run("\xEF\xBB\xBF\xEF\xBB\xBF"
                             "data: x\n\n",
                             15, 1, 64, &e),
                     GH_OK);
    assert_int_equal(e.count, 0);
    /* a partial BOM is data */
    assert_int_equal(sse_run("\xEF\xBB"
                             "data: x\n\ndata: y\n\n",
                             20, 1, 64, &e),
                     GH_OK);
    assert_string_equal(e.log, "[||y|-1|1]");
    /* CRLF split across feeds counts once: one blank line, one event */
    assert_int_equal(sse_run("data: a\r\n\r\n", 11, 1, 64, &e), GH_OK);
    assert_string_equal(e.log, "[||a|-1|1]");
    /* CR CR is two line ends */
    assert_int_equal(sse_run("data: a\r\rdata: b\r\r", 18, 2, 64, &e), GH_OK);
    assert_string_equal(e.log, "[||a|-1|1][||b|-1|1]");
    /* id with NUL is ignored */
    assert_int_equal(sse_run("id: a\0b\ndata: x\n\n", 17, 3, 64, &e), GH_OK);
    assert_string_equal(e.log, "[||x|-1|1]");
}

static void sse_limits_and_stop(void **state)
{
    (void)state;
    struct evs e;
    static const char s[] = "data: 0123456789\n\n"; /* event holds 11 bytes ("0123456789\n") */
    assert_int_equal(sse_run(s, sizeof(s) - 1, 1, 16, &e), GH_OK); /* line 16 bytes fits */
    assert_int_equal(e.count, 1);
    assert_int_equal(sse_run(s, sizeof(s) - 1, 100, 15, &e), GH_E_LIMIT);
    assert_int_equal(sse_run(s, sizeof(s) - 1, 1, 15, &e), GH_E_LIMIT);
    /* data lines accumulate against one cap: the last line (10) + data so far (15) = 25 */
    static const char many[] = "data: aaaa\ndata: bbbb\ndata: cccc\ndata: dddd\n\n";
    for (size_t step = 1; step < sizeof(many); step++) {
        assert_int_equal(sse_run(many, sizeof(many) - 1, step, 24, &e), GH_E_LIMIT);
        assert_int_equal(sse_run(many, sizeof(many) - 1, step, 25, &e), GH_OK);
        assert_int_equal(e.count, 1);
    }
    /* a long comment line is capped too (no unbounded line buffer) */
    char big[300];
    memset(big, 'x', sizeof(big));
    big[0] = ':';
    assert_int_equal(sse_run(big, sizeof(big), 7, 256, &e), GH_E_LIMIT);
    /* the callback's verdict stops the feed */
    static const char two[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct gh_sse_parser p;
    gh_sse_parser_init(&p, 64);
    memset(&e, 0, sizeof(e));
    e.stop_after = 2;
    assert_int_equal(gh_sse_parser_feed(&p, two, sizeof(two) - 1, on_ev, &e), GH_E_DECLINED);
    assert_int_equal(e.count, 2);
    gh_sse_parser_release(&p);
}

static void sse_writer_roundtrip(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    assert_int_equal(gh_sse_write_event(&b, GH_SLICE_LIT("42"), GH_SLICE_LIT("message"),
                                        GH_SLICE_LIT("{\"a\":1}\nsecond\r\nthird\rfourth"), 2500),
                     GH_OK);
    static const char want[] = "id: 42\nevent: message\nretry: 2500\ndata: {\"a\":1}\n"
                               "data: second\ndata: third\ndata: fourth\n\n";
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, b.len);
    struct evs e;
    assert_int_equal(sse_run(b.data, b.len, 1, 1024, &e), GH_OK);
    assert_string_equal(e.log, "[id=42|message|{\"a\":1}\nsecond\nthird\nfourth|2500|1]");
    /* empty data still makes an event; missing id/event/retry are omitted */
    gh_buf_clear(&b);
    assert_int_equal(
        gh_sse_write_event(&b, gh_slice(NULL, 0), gh_slice(NULL, 0), gh_slice(NULL, 0), -1), GH_OK);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "data\n\n", 6);
    gh_buf_clear(&b);
    assert_int_equal(
        gh_sse_write_event(&b, GH_SLICE_LIT(" x"), gh_slice(NULL, 0), GH_SLICE_LIT("a\n"), -1),
        GH_OK);
    assert_int_equal(sse_run(b.data, b.len, 1, 1024, &e), GH_OK);
    assert_string_equal(e.log, "[id= x||a\n|-1|1]");
    /* CR/LF/NUL in id or event would inject fields: refused, nothing written */
    gh_buf_clear(&b);
    assert_int_equal(gh_sse_write_event(&b, GH_SLICE_LIT("1\ndata: evil"), gh_slice(NULL, 0),
                                        GH_SLICE_LIT("x"), -1),
                     GH_E_PARSE);
    assert_int_equal(
        gh_sse_write_event(&b, gh_slice(NULL, 0), GH_SLICE_LIT("a\rb"), GH_SLICE_LIT("x"), -1),
        GH_E_PARSE);
    assert_int_equal(
        gh_sse_write_event(&b, gh_slice("a\0b", 3), gh_slice(NULL, 0), GH_SLICE_LIT("x"), -1),
        GH_E_PARSE);
    assert_int_equal(b.len, 0);
    gh_buf_release(&b);
    /* cap hit: nothing half-written */
    gh_buf_init(&b, 16);
    assert_int_equal(gh_buf_append(&b, "keep", 4), GH_OK);
    assert_int_equal(gh_sse_write_event(&b, gh_slice(NULL, 0), gh_slice(NULL, 0),
                                        GH_SLICE_LIT("0123456789"), -1),
                     GH_E_LIMIT);
    assert_int_equal(b.len, 4);
    gh_buf_release(&b);
}

/* ---- URL ---- */

static void url_accepts(void **state)
{
    (void)state;
    struct gh_url u;
    const char *s = "https://api.example.com:8443/mcp/v1?x=1&y=%2F";
    assert_int_equal(gh_url_parse(s, strlen(s), &u), GH_OK);
    assert_true(sl_is(u.scheme, "https") && u.tls && !u.ipv6_literal);
    assert_true(sl_is(u.host, "api.example.com"));
    assert_int_equal(u.port, 8443);
    assert_true(sl_is(u.path, "/mcp/v1"));
    assert_true(sl_is(u.query, "x=1&y=%2F"));
    s = "http://localhost";
    assert_int_equal(gh_url_parse(s, strlen(s), &u), GH_OK);
    assert_int_equal(u.port, 80);
    assert_false(u.tls);
    assert_true(sl_is(u.path, "/"));
    assert_int_equal(u.query.len, 0);
    s = "HTTPS://[::1]:9000?q";
    assert_int_equal(gh_url_parse(s, strlen(s), &u), GH_OK);
    assert_true(u.ipv6_literal && u.tls);
    assert_true(sl_is(u.host, "::1"));
    assert_int_equal(u.port, 9000);
    assert_true(sl_is(u.path, "/"));
    assert_true(sl_is(u.query, "q"));
    s = "http://[::ffff:127.0.0.1]/";
    assert_int_equal(gh_url_parse(s, strlen(s), &u), GH_OK);
    assert_int_equal(u.port, 80);
    s = "http://127.0.0.1:65535/a";
    assert_int_equal(gh_url_parse(s, strlen(s), &u), GH_OK);
    assert_int_equal(u.port, 65535);
}

static void url_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "ftp://a/",
        "javascript:alert(1)",
        "//a/",
        "http:/a/",
        "http://",
        "http:///x",
        "http://:80/",
        "http://u:p@a/",
        "http://a@b/",
        "http://a/#frag",
        "http://a#x",
        "http://a b/",
        "http://a/b c",
        "http://a/\x01",
        "http://a\t/",
        "http://a:/",
        "http://a:0/",
        "http://a:65536/",
        "http://a:8x/",
        "http://a:123456/",
        "http://a\\b/",
        "http://a/\\evil",
        "http://[::1/",
        "http://[]/",
        "http://[fe80::1%25eth0]/",
        "http://[1.2.3.4]/",
        "http://a..b/",
        "http://.a/",
        "http://a/%zz",
        "http://a/%4",
        "http://\xc3\xa9.com/",
        "http://a:80:80/",
        "http://[::1]x/",
        "http://a_b!/",
        "http://a/\"x\"",
        "null",
    };
    struct gh_url u;
    for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++)
        if (gh_url_parse(bad[i], strlen(bad[i]), &u) != GH_E_PARSE)
            fail_msg("accepted %s", bad[i]);
    static const char nul[] = "http://a\0.evil/";
    assert_int_equal(gh_url_parse(nul, sizeof(nul) - 1, &u), GH_E_PARSE);
    char host[300];
    memcpy(host, "http://", 7);
    memset(host + 7, 'a', 254);
    assert_int_equal(gh_url_parse(host, 7 + 254, &u), GH_E_PARSE);
    assert_int_equal(gh_url_parse(host, 7 + 253, &u), GH_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_typical_post),
        cmocka_unit_test(request_methods_and_target_split),
        cmocka_unit_test(request_line_strictness),
        cmocka_unit_test(request_line_endings),
        cmocka_unit_test(request_field_strictness),
        cmocka_unit_test(request_content_length),
        cmocka_unit_test(request_transfer_encoding),
        cmocka_unit_test(request_host_rules),
        cmocka_unit_test(request_connection_and_expect),
        cmocka_unit_test(request_incomplete_and_limits),
        cmocka_unit_test(request_target_too_long),
        cmocka_unit_test(response_basic_and_framing),
        cmocka_unit_test(response_no_body_cases),
        cmocka_unit_test(response_strictness),
        cmocka_unit_test(chunked_decodes_any_split),
        cmocka_unit_test(chunked_rejects_bad_framing),
        cmocka_unit_test(chunked_limits),
        cmocka_unit_test(sse_parses_any_split),
        cmocka_unit_test(sse_bom_and_line_ends),
        cmocka_unit_test(sse_limits_and_stop),
        cmocka_unit_test(sse_writer_roundtrip),
        cmocka_unit_test(url_accepts),
        cmocka_unit_test(url_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
