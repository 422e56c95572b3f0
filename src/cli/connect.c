/*
 * cli/connect.c owns `gatehouse connect URL`: a stdio-to-Streamable-HTTP bridge for MCP clients
 * that only start stdio servers. Each stdin line (one JSON-RPC message) is POSTed to URL; the
 * answers (JSON, or SSE events as they arrive) go to stdout one message per line; the session
 * (Mcp-Session-Id, MCP-Protocol-Version) is kept and ended with DELETE at stdin's end. A 401 runs
 * OAuth (connect_oauth.c) and the message is sent again. Logs go to stderr; tokens nowhere.
 * Bad input gets a JSON-RPC error for its id and the bridge goes on.
 */
#include "core/core.h"
#include "cli/cli.h"
#include "cli/connect_internal.h"
#include "json/json.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

static void usage(FILE *f)
{
    fputs("usage: gatehouse connect URL [--client-id ID] [--scope SCOPES] [--device]\n"
          "                         [--no-browser] [--auth-timeout SECONDS] [--log-level L]\n"
          "  bridge an MCP client's stdio to the Streamable HTTP server at URL, authorizing\n"
          "  with OAuth when it asks (see docs/connect.md)\n",
          f);
}

static bool parse_seconds(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v == 0 || v > 86400)
        return false;
    *ms = v * 1000;
    return true;
}

static int parse_flags(struct ghc *c, int argc, char **argv)
{
    enum gh_log_level lvl = GH_LOG_INFO;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool v = i + 1 < argc;
        if (strcmp(a, "--device") == 0) {
            c->device = true;
        } else if (strcmp(a, "--no-browser") == 0) {
            c->no_browser = true;
        } else if (strcmp(a, "--client-id") == 0 && v) {
            c->client_id_opt = argv[++i];
        } else if (strcmp(a, "--scope") == 0 && v) {
            c->scope_opt = argv[++i];
        } else if (strcmp(a, "--auth-timeout") == 0 && v) {
            if (!parse_seconds(argv[++i], &c->auth_timeout_ms)) {
                fprintf(stderr, "gatehouse connect: --auth-timeout: want 1..86400 seconds\n");
                return 2;
            }
        } else if (strcmp(a, "--log-level") == 0 && v) {
            if (gh_log_level_parse(argv[++i], &lvl) != GH_OK) {
                fprintf(stderr, "gatehouse connect: --log-level: want error, warn, info or "
                                "debug\n");
                return 2;
            }
        } else if (a[0] != '-' && !c->url) {
            c->url = a;
        } else {
            fprintf(stderr, "gatehouse connect: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    gh_log_set_level(lvl);
    return 0;
}

/* The server URL: absolute, and https unless on loopback (tokens must not cross in clear). */
static int check_url(struct ghc *c)
{
    const char *why;
    if (!c->url) {
        usage(stderr);
        return 2;
    }
    if (ghc_url_parse(c->url, &c->mcp, &why) != GH_OK) {
        fprintf(stderr, "gatehouse connect: %s: %s\n", c->url, why);
        return 2;
    }
    bool loopback = strcmp(c->mcp.host, "localhost") == 0 || strncmp(c->mcp.host, "127.", 4) == 0 ||
                    strcmp(c->mcp.host, "::1") == 0;
    if (!c->mcp.tls && !loopback) {
        fprintf(stderr,
                "gatehouse connect: %s: plain http is only allowed to a loopback "
                "address; use https\n",
                c->url);
        return 2;
    }
    return 0;
}

/* A token known to be expired is refreshed before use rather than after a 401. */
static void refresh_if_expired(struct ghc *c)
{
    int64_t now = (int64_t)time(NULL);
    if (c->tok.refresh_token && c->tok.expires_at && now + 30 >= c->tok.expires_at)
        ghc_oauth_refresh(c);
}

/* Authorization, and the session's headers once there is a session (not on initialize). */
static void add_headers(struct ghc *c, struct ghc_xfer *x, bool session)
{
    if (c->tok.access_token) {
        char *auth = gh_xmalloc(strlen(c->tok.access_token) + 8);
        sprintf(auth, "Bearer %s", c->tok.access_token);
        ghc_xfer_header(x, "Authorization", auth);
        free(auth);
    }
    pthread_mutex_lock(&c->mu);
    if (session && c->session_id[0])
        ghc_xfer_header(x, "Mcp-Session-Id", c->session_id);
    if (session && c->protocol_version[0])
        ghc_xfer_header(x, "MCP-Protocol-Version", c->protocol_version);
    pthread_mutex_unlock(&c->mu);
}

static bool has_session(struct ghc *c)
{
    pthread_mutex_lock(&c->mu);
    bool yes = c->session_id[0] != '\0';
    pthread_mutex_unlock(&c->mu);
    return yes;
}

static struct ghc_xfer *post_message(struct ghc *c, const char *line, size_t n, const char *id,
                                     bool initialize)
{
    struct ghc_xfer *x = ghc_xfer_new(c, "POST", &c->mcp);
    x->stream = true;
    x->initialize = initialize;
    x->id_raw = id ? gh_xstrdup(id) : NULL;
    ghc_xfer_header(x, "Content-Type", "application/json");
    ghc_xfer_header(x, "Accept", "application/json, text/event-stream");
    add_headers(c, x, !initialize);
    ghc_xfer_body(x, line, n);
    ghc_xfer_start(x);
    return x;
}

/* Sends one message; on 401 refreshes or authorizes and sends it again. */
static void send_message(struct ghc *c, const char *line, size_t n, const char *id, bool initialize)
{
    bool refreshed = false, authorized = false;
    char www[2048];
    const char *fail = "gatehouse connect: authorization failed (see stderr)";
    for (;;) {
        refresh_if_expired(c);
        struct ghc_xfer *x = post_message(c, line, n, id, initialize);
        bool in_time = ghc_xfer_wait(x, true, c->request_timeout_ms + 5000);
        if (!x->head) { /* nothing came back: the server is unreachable or silent */
            fprintf(stderr, "gatehouse connect: %s: %s\n", c->url,
                    !in_time                ? "no answer in time"
                    : x->rc == GH_E_TIMEOUT ? "timed out"
                                            : "cannot connect (is the gateway running?)");
            ghc_xfer_release(x);
            fail = "gatehouse connect: the MCP server is unreachable";
            break;
        }
        if (x->status != 401) {
            ghc_xfer_release(x); /* the worker streams the answer to stdout */
            return;
        }
        snprintf(www, sizeof(www), "%s", x->www_auth);
        ghc_xfer_wait(x, false, 30000);
        ghc_xfer_release(x);
        if (!refreshed && c->tok.refresh_token) {
            refreshed = true;
            if (ghc_oauth_refresh(c) == GH_OK)
                continue;
        }
        if (authorized)
            break;
        authorized = true;
        gh_free(&c->tok.access_token);
        if (ghc_oauth_authorize(c, www[0] ? www : NULL) != GH_OK)
            break;
    }
    if (id)
        ghc_out_error(c, id, strlen(id), -32603, fail);
}

/* The GET stream (opened once the session is initialized) carries what the server sends outside
 * any request; a server without one answers 405 and the bridge does without. */
static void open_get_stream(struct ghc *c)
{
    if (c->get || !has_session(c))
        return;
    struct ghc_xfer *x = ghc_xfer_new(c, "GET", &c->mcp);
    x->stream = true;
    x->get = true;
    ghc_xfer_header(x, "Accept", "text/event-stream");
    add_headers(c, x, true);
    ghc_xfer_start(x);
    c->get = x;
}

static void handle_line(struct ghc *c, const char *line, size_t n, size_t lineno)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_jsonrpc_body body;
    struct gh_jsonrpc_err err = {0};
    if (gh_jsonrpc_parse(a, line, n, NULL, &body, &err) != GH_OK) {
        fprintf(stderr,
                "gatehouse connect: stdin line %zu: not a valid JSON-RPC message (%s at "
                "byte %zu)\n",
                lineno, err.reason, err.offset);
        char msg[256];
        snprintf(msg, sizeof(msg), "gatehouse connect: %s", err.reason);
        ghc_out_error(c, err.id_raw.ptr, err.id_raw.len, err.code, msg);
        goto out;
    }
    const struct gh_jsonrpc_msg *m = &body.msgs[0];
    char *id = NULL;
    if (!body.batch && m->kind == GH_JSONRPC_REQUEST)
        id = gh_arena_strndup(a, m->id_raw.ptr, m->id_raw.len);
    bool init = !body.batch && gh_slice_eq_cstr(m->method, "initialize");
    send_message(c, line, n, id, init);
    if (!body.batch && gh_slice_eq_cstr(m->method, "notifications/initialized"))
        open_get_stream(c);
out:
    gh_arena_free(a);
}

/* One line of stdin into b (without the newline); false at EOF. *too_long: the line passed the
 * cap and was skipped to its end. */
static bool read_line(struct gh_buf *b, bool *too_long)
{
    gh_buf_clear(b);
    *too_long = false;
    int ch;
    bool any = false;
    while ((ch = getc_unlocked(stdin)) != EOF) {
        any = true;
        if (ch == '\n')
            return true;
        char cc = (char)ch;
        if (!*too_long && gh_buf_append(b, &cc, 1) != GH_OK)
            *too_long = true;
    }
    return any;
}

static void wait_idle(struct ghc *c, uint64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    pthread_mutex_lock(&c->mu);
    while (c->inflight > 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->mu);
}

/* Ends the session at the server (the spec's DELETE); a 405 means it keeps sessions itself. */
static void end_session(struct ghc *c)
{
    if (!has_session(c))
        return;
    struct ghc_xfer *x = ghc_xfer_new(c, "DELETE", &c->mcp);
    add_headers(c, x, true);
    ghc_xfer_start(x);
    ghc_xfer_wait(x, false, 5000);
    GH_LOGD("connect", "session ended (HTTP %d)", x->status);
    ghc_xfer_release(x);
}

static void run(struct ghc *c)
{
    struct gh_buf line;
    gh_buf_init(&line, GHC_MAX_LINE);
    bool too_long;
    size_t lineno = 0;
    while (read_line(&line, &too_long)) {
        lineno++;
        struct gh_slice s = gh_slice_trim(gh_slice(line.data, line.len));
        if (too_long) {
            fprintf(stderr, "gatehouse connect: stdin line %zu: longer than %u bytes; dropped\n",
                    lineno, GHC_MAX_LINE);
            ghc_out_error(c, NULL, 0, GH_JSONRPC_INVALID_REQUEST,
                          "gatehouse connect: message too large");
        } else if (s.len) {
            handle_line(c, s.ptr, s.len, lineno);
        }
    }
    gh_buf_release(&line);
    if (c->get) {
        ghc_xfer_cancel(c->get);
        ghc_xfer_release(c->get);
        c->get = NULL;
    }
    wait_idle(c, 10000); /* answers still streaming are delivered before we leave */
    end_session(c);
    wait_idle(c, 1000);
}

int gh_cli_connect(int argc, char **argv)
{
    struct ghc c = {.auth_timeout_ms = 300000, .request_timeout_ms = 300000};
    int rc = parse_flags(&c, argc, argv);
    if (rc == 0)
        rc = check_url(&c);
    if (rc)
        goto out;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* browsers we start are reaped by the kernel */
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_mutex_init(&c.out_mu, NULL);
    c.tls = gh_net_tls_client_ctx();
    c.tok.url = gh_xstrdup(c.url);
    if (ghc_store_load(&c.tok) == GH_OK)
        GH_LOGI("connect", "using the stored authorization for %s", c.url);
    ghc_net_start(&c);
    run(&c);
    ghc_net_stop(&c);
    SSL_CTX_free(c.tls); /* refcounted: a connection still holding it keeps it */
    for (size_t i = 0; i < c.nlbs; i++)
        ghc_loopback_free(c.lbs[i]);
    ghc_token_release(&c.tok);
out:
    ghc_url_release(&c.mcp);
    return rc;
}
