/*
 * mcp/channel.c owns channels: one upstream as a bridged session speaks to it, message by
 * message. A stdio channel is a child process; an HTTP channel is the gateway acting as a
 * session-era MCP client of a Streamable HTTP server (POST per message, JSON or SSE answers, a
 * GET stream for what the server says on its own). Both run on the bridge's home worker and
 * report every upstream message, and their end, through the same two callbacks.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

struct http_exchange {
    struct http_exchange *next;
    struct gh_mcp_channel *ch;
    struct gh_http_creq *creq;
    struct gh_sse_parser sse;
    struct gh_buf body;
    uint64_t gid; /* the request's id upstream, 0 for notifications and answers */
    int status;
    bool is_sse, is_get, is_init;
    bool discover; /* stateless: server/discover standing in for the client's initialize */
    bool listen;   /* stateless: the subscriptions/listen carrying the upstream's notifications */
};

struct gh_mcp_channel {
    const struct gh_upstream *up;
    bool stateless;                  /* http: a 2026-07-28-only upstream, spoken to statelessly */
    char *client_caps, *client_info; /* stateless: the client's, from its initialize */
    char *log_level;                 /* stateless: raw JSON level from logging/setLevel */
    char client_version[16];         /* stateless: what the client asked for */
    size_t idx;
    struct gh_mcp_channel_cbs cbs;
    void *arg;
    bool closed;
    struct gh_upstream_child *child; /* stdio */
    uint64_t heard_ms;               /* stdio: when the child last said anything (0: never) */
    char *session_id;                /* http: the upstream's */
    char version[16];                /* http: negotiated */
    struct http_exchange *exchanges; /* http: in flight, GET included */
    size_t message_bytes;
    const struct gh_prop_upstream *identity; /* http: static credentials it is sent */
};

static void channel_gone(struct gh_mcp_channel *ch, const char *why);

/* ---- stdio ---- */

static void on_child_message(void *arg, const char *msg, size_t len)
{
    struct gh_mcp_channel *ch = arg;
    ch->heard_ms = gh_clock_ms();
    ch->cbs.on_message(ch->arg, ch->idx, msg, len);
}

static void on_child_exit(void *arg, int status, const char *why)
{
    struct gh_mcp_channel *ch = arg;
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream %s exited (%s, status %d)", ch->up->conf->name, why,
             status);
    if (status == 0) /* a clean exit (at shutdown, or the server chose to end) */
        GH_LOGI("mcp", "%s", msg);
    else
        GH_LOGW("mcp", "%s", msg);
    ch->child = NULL; /* the module frees it */
    channel_gone(ch, msg);
}

static const struct gh_upstream_child_cbs CHILD_CBS = {on_child_message, on_child_exit};

/* ---- http ---- */

static void hx_free(struct http_exchange *x)
{
    struct gh_mcp_channel *ch = x->ch;
    for (struct http_exchange **pp = &ch->exchanges; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    if (x->is_sse)
        gh_sse_parser_release(&x->sse);
    gh_buf_release(&x->body);
    free(x);
}

/* An upstream that cannot answer a request still owes the client an answer. */
static void synth_error(struct gh_mcp_channel *ch, uint64_t gid, const char *why)
{
    char id[32];
    snprintf(id, sizeof(id), "%" PRIu64, gid);
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    gh_jsonrpc_error_write(&b, gh_slice_cstr(id), GH_JSONRPC_INTERNAL_ERROR, why);
    ch->cbs.on_message(ch->arg, ch->idx, b.data, b.len);
    gh_buf_release(&b);
}

static void discover_to_initialize(struct gh_mcp_channel *ch, uint64_t gid, const char *msg,
                                   size_t len);

static enum gh_rc hx_on_event(void *arg, const struct gh_sse_event *ev)
{
    struct http_exchange *x = arg;
    if (ev->has_data && ev->data.len && x->listen &&
        memmem(ev->data.ptr, ev->data.len, "notifications/subscriptions/acknowledged", 40))
        return GH_OK; /* the listen handshake is ours, not the client's */
    if (ev->has_data && ev->data.len && x->discover)
        discover_to_initialize(x->ch, x->gid, ev->data.ptr, ev->data.len);
    else if (ev->has_data && ev->data.len)
        x->ch->cbs.on_message(x->ch->arg, x->ch->idx, ev->data.ptr, ev->data.len);
    return x->ch->closed ? GH_E_CLOSED : GH_OK;
}

static void hx_on_head(void *arg, const struct gh_http_response_head *h)
{
    struct http_exchange *x = arg;
    x->status = h->status;
    const struct gh_http_header *sid =
        gh_http_header_find(h->headers, h->nheaders, "Mcp-Session-Id");
    if (x->is_init && sid && !x->ch->session_id && sid->value.len < 256)
        x->ch->session_id = gh_xstrndup(sid->value.ptr, sid->value.len);
    const struct gh_http_header *ct = gh_http_header_find(h->headers, h->nheaders, "Content-Type");
    x->is_sse =
        ct && ct->value.len >= 17 && strncasecmp(ct->value.ptr, "text/event-stream", 17) == 0;
    if (x->is_sse)
        gh_sse_parser_init(&x->sse, x->ch->message_bytes);
}

static void hx_on_body(void *arg, const char *p, size_t n)
{
    struct http_exchange *x = arg;
    if (x->is_sse) {
        if (gh_sse_parser_feed(&x->sse, p, n, hx_on_event, x) != GH_OK && !x->ch->closed)
            GH_LOGW("mcp", "upstream %s: SSE event over the limit or malformed",
                    x->ch->up->conf->name);
    } else if (gh_buf_append(&x->body, p, n) != GH_OK) {
        x->status = 599; /* over message_bytes: answered as an error in on_done */
    }
}

static void hx_on_done(void *arg, enum gh_rc rc)
{
    struct http_exchange *x = arg;
    struct gh_mcp_channel *ch = x->ch;
    bool ok = rc == GH_OK && x->status >= 200 && x->status < 300;
    if (ok && x->discover && !x->is_sse)
        discover_to_initialize(ch, x->gid, x->body.data, x->body.len);
    else if (ok && !x->is_sse && x->body.len)
        ch->cbs.on_message(ch->arg, ch->idx, x->body.data, x->body.len);
    else if (!ok && x->gid && !ch->closed)
        synth_error(ch, x->gid,
                    x->status == 404 ? "upstream session ended"
                                     : "upstream unavailable or refused the request");
    bool gone = x->status == 404 && ch->session_id && !ch->closed;
    hx_free(x);
    if (gone) /* the upstream forgot our session: so does the gateway's */
        channel_gone(ch, "upstream session ended");
}

static const struct gh_http_creq_cbs HX_CBS = {hx_on_head, hx_on_body, hx_on_done};
static enum gh_rc stateless_send(struct gh_mcp_channel *ch, const char *msg, size_t len,
                                 uint64_t gid);

static struct http_exchange *http_send_h(struct gh_mcp_channel *ch, const char *method,
                                         const char *msg, size_t len, uint64_t gid, bool is_init,
                                         const struct gh_http_header *extra, size_t nextra);

static void http_send(struct gh_mcp_channel *ch, const char *method, const char *msg, size_t len,
                      uint64_t gid, bool is_init)
{
    http_send_h(ch, method, msg, len, gid, is_init, NULL, 0);
}

static struct http_exchange *http_send_h(struct gh_mcp_channel *ch, const char *method,
                                         const char *msg, size_t len, uint64_t gid, bool is_init,
                                         const struct gh_http_header *extra, size_t nextra)
{
    struct http_exchange *x = gh_xcalloc(1, sizeof(*x));
    x->ch = ch;
    x->gid = gid;
    x->is_init = is_init;
    x->is_get = strcmp(method, "GET") == 0;
    gh_buf_init(&x->body, ch->message_bytes);
    x->next = ch->exchanges;
    ch->exchanges = x;
    struct gh_http_header h[12 + GH_PROP_MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < nextra && i < 6; i++)
        h[n++] = extra[i];
    if (ch->identity) /* a gateway-held session carries no caller: static credentials only */
        n += gh_prop_upstream_headers(ch->identity, h + n, GH_PROP_MAX_HEADERS);
    if (!x->is_get)
        h[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/json")};
    h[n++] = (struct gh_http_header){
        GH_SLICE_LIT("Accept"), x->is_get ? GH_SLICE_LIT("text/event-stream")
                                          : GH_SLICE_LIT("application/json, text/event-stream")};
    if (ch->version[0] && !ch->stateless) /* stateless requests carry their own */
        h[n++] = (struct gh_http_header){GH_SLICE_LIT("MCP-Protocol-Version"),
                                         gh_slice_cstr(ch->version)};
    if (ch->session_id)
        h[n++] =
            (struct gh_http_header){GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ch->session_id)};
    x->creq =
        gh_http_client_send(gh_upstream_pool(ch->up), method, gh_slice_cstr(ch->up->conf->url.path),
                            h, n, gh_slice(msg, len), &HX_CBS, x);
    return x;
}

/* ---- stateless: a session-era client in front of a 2026-07-28-only upstream ----
 *
 * The client's session lives at the gateway. Its initialize becomes a server/discover; every
 * request gets the per-request _meta envelope and the mirrored headers; what 2026-07-28 removed
 * is answered here (ping, logging/setLevel) or refused; notifications come from a long-lived
 * subscriptions/listen opened once the client is initialized.
 */

#define V2026 "2026-07-28"

static void deliver(struct gh_mcp_channel *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void deliver(struct gh_mcp_channel *ch, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(buf))
        ch->cbs.on_message(ch->arg, ch->idx, buf, (size_t)n);
}

static int32_t obj_get(const struct gh_json_doc *d, int32_t obj, const char *k)
{
    if (obj < 0 || d->toks[obj].type != GH_JSON_OBJECT)
        return -1;
    return gh_json_obj_get(d, (uint32_t)obj, k, strlen(k));
}

static char *raw_dup(const struct gh_json_doc *d, int32_t t, const char *dflt)
{
    if (t < 0)
        return gh_xstrdup(dflt);
    struct gh_slice r = gh_json_raw(d, (uint32_t)t);
    return gh_xstrndup(r.ptr, r.len);
}

/* The discover answer, re-told as the answer to the client's initialize. */
static void discover_to_initialize(struct gh_mcp_channel *ch, uint64_t gid, const char *msg,
                                   size_t len)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    int32_t res = -1;
    if (gh_json_parse(a, msg, len, NULL, &d, &e) == GH_OK)
        res = obj_get(&d, 0, "result");
    if (res < 0) {
        gh_arena_free(a);
        synth_error(ch, gid, "upstream refused server/discover");
        return;
    }
    struct gh_slice caps = GH_SLICE_LIT("{}"),
                    info = GH_SLICE_LIT("{\"name\":\"upstream\",\"version\":\"0\"}");
    int32_t t;
    if ((t = obj_get(&d, res, "capabilities")) >= 0)
        caps = gh_json_raw(&d, (uint32_t)t);
    if ((t = obj_get(&d, obj_get(&d, res, "_meta"), "io.modelcontextprotocol/serverInfo")) >= 0)
        info = gh_json_raw(&d, (uint32_t)t);
    struct gh_buf out;
    gh_buf_init(&out, len + 512);
    gh_buf_appendf(&out,
                   "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"result\":{\"protocolVersion\":\"%s\","
                   "\"capabilities\":%.*s,\"serverInfo\":%.*s",
                   gid, ch->client_version, (int)caps.len, caps.ptr, (int)info.len, info.ptr);
    if ((t = obj_get(&d, res, "instructions")) >= 0 && d.toks[t].type == GH_JSON_STRING) {
        struct gh_slice ins = gh_json_raw(&d, (uint32_t)t);
        gh_buf_appendf(&out, ",\"instructions\":%.*s", (int)ins.len, ins.ptr);
    }
    gh_buf_append(&out, "}}", 2);
    ch->cbs.on_message(ch->arg, ch->idx, out.data, out.len);
    gh_buf_release(&out);
    gh_arena_free(a);
}

/* Puts our _meta keys into params (creating params, or _meta, as needed). */
static char *with_envelope(struct gh_mcp_channel *ch, const char *msg, size_t len,
                           const struct gh_json_doc *d, size_t *outlen)
{
    char env[4096];
    int n =
        snprintf(env, sizeof(env),
                 "\"io.modelcontextprotocol/protocolVersion\":\"" V2026 "\","
                 "\"io.modelcontextprotocol/clientCapabilities\":%s,"
                 "\"io.modelcontextprotocol/clientInfo\":%s%s%s",
                 ch->client_caps ? ch->client_caps : "{}",
                 ch->client_info ? ch->client_info : "{\"name\":\"gatehouse\",\"version\":\"0\"}",
                 ch->log_level ? ",\"io.modelcontextprotocol/logLevel\":" : "",
                 ch->log_level ? ch->log_level : "");
    if (n < 0 || (size_t)n >= sizeof(env))
        return NULL;
    int32_t params = obj_get(d, 0, "params");
    int32_t meta = obj_get(d, params, "_meta");
    char ins[4200];
    const char *at;
    if (meta >= 0 && d->toks[meta].type == GH_JSON_OBJECT) {
        snprintf(ins, sizeof(ins), "%s%s", env, d->toks[meta].size ? "," : "");
        at = msg + d->toks[meta].start + 1;
    } else if (params >= 0 && d->toks[params].type == GH_JSON_OBJECT) {
        snprintf(ins, sizeof(ins), "\"_meta\":{%s}%s", env, d->toks[params].size ? "," : "");
        at = msg + d->toks[params].start + 1;
    } else {
        snprintf(ins, sizeof(ins), ",\"params\":{\"_meta\":{%s}}", env);
        at = msg + d->toks[0].start + d->toks[0].len - 1;
    }
    return gh_mcp_splice(msg, len, gh_slice(at, 0), ins, outlen);
}

/* Mcp-Name's value: literal when plain visible ASCII, else =?base64?…?= (streamable-http.mdx). */
static const char *name_header(struct gh_arena *a, struct gh_slice v)
{
    bool plain = v.len > 0;
    for (size_t i = 0; i < v.len && plain; i++)
        plain = (unsigned char)v.ptr[i] > 0x20 && (unsigned char)v.ptr[i] < 0x7f;
    if (plain && !(v.len >= 9 && memcmp(v.ptr, "=?base64?", 9) == 0))
        return gh_arena_strndup(a, v.ptr, v.len);
    static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = gh_arena_alloc(a, 16 + (v.len + 2) / 3 * 4);
    size_t o = (size_t)sprintf(out, "=?base64?");
    for (size_t i = 0; i < v.len; i += 3) {
        uint32_t w = (uint32_t)(unsigned char)v.ptr[i] << 16;
        if (i + 1 < v.len)
            w |= (uint32_t)(unsigned char)v.ptr[i + 1] << 8;
        if (i + 2 < v.len)
            w |= (unsigned char)v.ptr[i + 2];
        out[o++] = B64[w >> 18 & 63];
        out[o++] = B64[w >> 12 & 63];
        out[o++] = i + 1 < v.len ? B64[w >> 6 & 63] : '=';
        out[o++] = i + 2 < v.len ? B64[w & 63] : '=';
    }
    memcpy(out + o, "?=", 3);
    return out;
}

static void open_listen(struct gh_mcp_channel *ch)
{
    static const char LISTEN[] =
        "{\"jsonrpc\":\"2.0\",\"id\":\"gatehouse-listen\",\"method\":\"subscriptions/listen\","
        "\"params\":{\"notifications\":{\"toolsListChanged\":true,\"promptsListChanged\":true,"
        "\"resourcesListChanged\":true}}}";
    struct gh_arena *a = gh_arena_new(1024);
    struct gh_json_doc d;
    struct gh_json_err e;
    size_t n;
    if (gh_json_parse(a, LISTEN, sizeof(LISTEN) - 1, NULL, &d, &e) == GH_OK) {
        char *body = with_envelope(ch, LISTEN, sizeof(LISTEN) - 1, &d, &n);
        struct gh_http_header h[2] = {
            {GH_SLICE_LIT("MCP-Protocol-Version"), GH_SLICE_LIT(V2026)},
            {GH_SLICE_LIT("Mcp-Method"), GH_SLICE_LIT("subscriptions/listen")}};
        struct http_exchange *x = body ? http_send_h(ch, "POST", body, n, 0, false, h, 2) : NULL;
        if (x)
            x->listen = true;
        free(body);
    }
    gh_arena_free(a);
}

static void remember_init(struct gh_mcp_channel *ch, const struct gh_json_doc *d, int32_t params)
{
    free(ch->client_caps);
    free(ch->client_info);
    ch->client_caps = raw_dup(d, obj_get(d, params, "capabilities"), "{}");
    ch->client_info =
        raw_dup(d, obj_get(d, params, "clientInfo"), "{\"name\":\"client\",\"version\":\"0\"}");
    struct gh_slice v = {0};
    int32_t t = obj_get(d, params, "protocolVersion");
    if (t >= 0 && d->toks[t].type == GH_JSON_STRING)
        v = gh_json_raw(d, (uint32_t)t);
    bool known = v.len == 12 && (memcmp(v.ptr, "\"2025-11-25\"", 12) == 0 ||
                                 memcmp(v.ptr, "\"2025-06-18\"", 12) == 0 ||
                                 memcmp(v.ptr, "\"2025-03-26\"", 12) == 0);
    snprintf(ch->client_version, sizeof(ch->client_version), "%.*s", 10,
             known ? v.ptr + 1 : "2025-11-25");
}

static enum gh_rc stateless_request(struct gh_mcp_channel *ch, const char *msg, size_t len,
                                    uint64_t gid, const struct gh_json_doc *d,
                                    struct gh_slice method, struct gh_arena *a)
{
    int32_t params = obj_get(d, 0, "params");
    if (gh_slice_eq_cstr(method, "initialize")) {
        remember_init(ch, d, params);
        static const char DISCOVER[] =
            "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"server/discover\"}";
        struct gh_json_doc dd;
        struct gh_json_err e;
        size_t n;
        gh_json_parse(a, DISCOVER, sizeof(DISCOVER) - 1, NULL, &dd, &e);
        char *body = with_envelope(ch, DISCOVER, sizeof(DISCOVER) - 1, &dd, &n);
        struct gh_http_header h[2] = {
            {GH_SLICE_LIT("MCP-Protocol-Version"), GH_SLICE_LIT(V2026)},
            {GH_SLICE_LIT("Mcp-Method"), GH_SLICE_LIT("server/discover")}};
        struct http_exchange *x = body ? http_send_h(ch, "POST", body, n, gid, false, h, 2) : NULL;
        if (x)
            x->discover = true;
        free(body);
        return x ? GH_OK : GH_E_INTERNAL;
    }
    if (gh_slice_eq_cstr(method, "ping")) {
        deliver(ch, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"result\":{}}", gid);
        return GH_OK;
    }
    if (gh_slice_eq_cstr(method, "logging/setLevel")) { /* 2026 asks per request: remembered */
        free(ch->log_level);
        ch->log_level = raw_dup(d, obj_get(d, params, "level"), "\"info\"");
        deliver(ch, "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"result\":{}}", gid);
        return GH_OK;
    }
    if (gh_slice_eq_cstr(method, "resources/subscribe") ||
        gh_slice_eq_cstr(method, "resources/unsubscribe")) {
        deliver(ch,
                "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"error\":{\"code\":-32601,"
                "\"message\":\"Method not found: the upstream serves 2026-07-28\"}}",
                gid);
        return GH_OK;
    }
    struct gh_http_header h[3] = {{GH_SLICE_LIT("MCP-Protocol-Version"), GH_SLICE_LIT(V2026)},
                                  {GH_SLICE_LIT("Mcp-Method"), method}};
    size_t nh = 2;
    const char *member =
        gh_slice_eq_cstr(method, "resources/read") ? "uri"
        : (gh_slice_eq_cstr(method, "tools/call") || gh_slice_eq_cstr(method, "prompts/get"))
            ? "name"
            : NULL;
    int32_t nt = member ? obj_get(d, params, member) : -1;
    struct gh_slice nv;
    if (nt >= 0 && gh_json_str(d, a, (uint32_t)nt, &nv) == GH_OK)
        h[nh++] =
            (struct gh_http_header){GH_SLICE_LIT("Mcp-Name"), gh_slice_cstr(name_header(a, nv))};
    size_t n;
    char *body = with_envelope(ch, msg, len, d, &n);
    if (!body)
        return GH_E_LIMIT;
    http_send_h(ch, "POST", body, n, gid, false, h, nh);
    free(body);
    return GH_OK;
}

static enum gh_rc stateless_send(struct gh_mcp_channel *ch, const char *msg, size_t len,
                                 uint64_t gid)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    enum gh_rc rc = GH_OK;
    if (gh_json_parse(a, msg, len, NULL, &d, &e) != GH_OK || d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    int32_t mt = obj_get(&d, 0, "method");
    struct gh_slice method = {0};
    if (mt >= 0)
        gh_json_str(&d, a, (uint32_t)mt, &method);
    if (gid && method.len) {
        rc = stateless_request(ch, msg, len, gid, &d, method, a);
    } else if (gh_slice_eq_cstr(method, "notifications/initialized")) {
        open_listen(ch);
    } else if (gh_slice_eq_cstr(method, "notifications/cancelled")) {
        /* 2026-07-28 cancels by closing the request's stream */
        int32_t rid = obj_get(&d, obj_get(&d, 0, "params"), "requestId");
        int64_t want;
        if (rid >= 0 && gh_json_int64(&d, (uint32_t)rid, &want) == GH_OK)
            for (struct http_exchange *x = ch->exchanges; x; x = x->next)
                if (x->gid == (uint64_t)want) {
                    gh_http_creq_cancel(x->creq);
                    hx_free(x);
                    break;
                }
    } /* other notifications and answers have no 2026-07-28 counterpart */
out:
    gh_arena_free(a);
    return rc;
}

/* ---- common ---- */

void gh_mcp_channel_set_identity(struct gh_mcp_channel *ch, const struct gh_prop_upstream *pu)
{
    ch->identity = pu;
}

enum gh_rc gh_mcp_channel_open(const struct gh_upstream *u, size_t idx,
                               const struct gh_mcp_channel_cbs *cbs, void *arg,
                               size_t message_bytes, bool stateless, struct gh_mcp_channel **out,
                               char *err, size_t errlen)
{
    struct gh_mcp_channel *ch = gh_xcalloc(1, sizeof(*ch));
    ch->up = u;
    ch->stateless = stateless && u->conf->kind == GH_CONFIG_UPSTREAM_HTTP;
    ch->idx = idx;
    ch->cbs = *cbs;
    ch->arg = arg;
    ch->message_bytes = message_bytes;
    if (u->conf->kind == GH_CONFIG_UPSTREAM_STDIO) {
        enum gh_rc rc = gh_upstream_child_spawn(gh_net_worker_current(), u->conf, &CHILD_CBS, ch,
                                                &ch->child, err, errlen);
        if (rc != GH_OK) {
            free(ch);
            return rc;
        }
    }
    *out = ch;
    return GH_OK;
}

enum gh_rc gh_mcp_channel_send(struct gh_mcp_channel *ch, const char *msg, size_t len, uint64_t gid,
                               bool is_init)
{
    if (ch->closed)
        return GH_E_CLOSED;
    if (ch->child)
        return gh_upstream_child_send(ch->child, msg, len);
    if (ch->stateless)
        return stateless_send(ch, msg, len, gid);
    http_send(ch, "POST", msg, len, gid, is_init);
    return GH_OK;
}

void gh_mcp_channel_initialized(struct gh_mcp_channel *ch, struct gh_slice version)
{
    if (version.len && version.len < sizeof(ch->version)) {
        memcpy(ch->version, version.ptr, version.len);
        ch->version[version.len] = '\0';
    }
    if (!ch->child && !ch->closed && !ch->stateless)
        http_send(ch, "GET", "", 0, 0, false); /* what the server says on its own (405 is fine) */
}

static void noop_head(void *arg, const struct gh_http_response_head *h)
{
    (void)arg;
    (void)h;
}

static void noop_body(void *arg, const char *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
}

static void noop_done(void *arg, enum gh_rc rc)
{
    (void)arg;
    (void)rc;
}

static const struct gh_http_creq_cbs NOOP_CBS = {noop_head, noop_body, noop_done};

/* Frees what a closed channel still holds, from the loop: a callback of it may be running. */
static void channel_free_task(void *arg)
{
    struct gh_mcp_channel *ch = arg;
    while (ch->exchanges)
        hx_free(ch->exchanges);
    free(ch->session_id);
    free(ch->client_caps);
    free(ch->client_info);
    free(ch->log_level);
    free(ch);
}

/* The owner forgets the channel in on_gone, so it ends itself: what is still in flight is
 * cancelled, and it is freed from the loop (a callback of it may be running). */
static void channel_gone(struct gh_mcp_channel *ch, const char *why)
{
    ch->closed = true;
    ch->cbs.on_gone(ch->arg, ch->idx, why);
    for (struct http_exchange *x = ch->exchanges; x; x = x->next)
        gh_http_creq_cancel(x->creq); /* no callback after this */
    gh_net_worker_post(gh_net_worker_current(), channel_free_task, ch);
}

void gh_mcp_channel_close(struct gh_mcp_channel *ch)
{
    ch->closed = true;
    if (ch->child) {
        gh_upstream_child_stop(ch->child);
        ch->child = NULL;
    }
    for (struct http_exchange *x = ch->exchanges; x; x = x->next)
        gh_http_creq_cancel(x->creq); /* no callback after this */
    if (ch->session_id && ch->up->conf->kind == GH_CONFIG_UPSTREAM_HTTP && !ch->stateless) {
        /* tell the upstream its session is over; nobody waits for the answer */
        struct gh_http_header h = {GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ch->session_id)};
        gh_http_client_send(gh_upstream_pool(ch->up), "DELETE",
                            gh_slice_cstr(ch->up->conf->url.path), &h, 1, gh_slice(NULL, 0),
                            &NOOP_CBS, NULL);
    }
    gh_net_worker_post(gh_net_worker_current(), channel_free_task, ch);
}

bool gh_mcp_channel_silent_since(const struct gh_mcp_channel *ch, uint64_t since_ms)
{
    return ch->child && !ch->closed && ch->heard_ms < since_ms;
}

pid_t gh_mcp_channel_pid(const struct gh_mcp_channel *ch)
{
    return ch->child ? gh_upstream_child_pid(ch->child) : 0;
}
