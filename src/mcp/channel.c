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
};

struct gh_mcp_channel {
    const struct gh_upstream *up;
    size_t idx;
    struct gh_mcp_channel_cbs cbs;
    void *arg;
    bool closed;
    struct gh_upstream_child *child;  /* stdio */
    char *session_id;                 /* http: the upstream's */
    char version[16];                 /* http: negotiated */
    struct http_exchange *exchanges;  /* http: in flight, GET included */
    size_t message_bytes;
};

/* ---- stdio ---- */

static void on_child_message(void *arg, const char *msg, size_t len)
{
    struct gh_mcp_channel *ch = arg;
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
    ch->closed = true;
    ch->cbs.on_gone(ch->arg, ch->idx, msg);
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

static enum gh_rc hx_on_event(void *arg, const struct gh_sse_event *ev)
{
    struct http_exchange *x = arg;
    if (ev->has_data && ev->data.len)
        x->ch->cbs.on_message(x->ch->arg, x->ch->idx, ev->data.ptr, ev->data.len);
    return x->ch->closed ? GH_E_CLOSED : GH_OK;
}

static void hx_on_head(void *arg, const struct gh_http_response_head *h)
{
    struct http_exchange *x = arg;
    x->status = h->status;
    const struct gh_http_header *sid = gh_http_header_find(h->headers, h->nheaders, "Mcp-Session-Id");
    if (x->is_init && sid && !x->ch->session_id && sid->value.len < 256)
        x->ch->session_id = gh_xstrndup(sid->value.ptr, sid->value.len);
    const struct gh_http_header *ct = gh_http_header_find(h->headers, h->nheaders, "Content-Type");
    x->is_sse = ct && ct->value.len >= 17 && strncasecmp(ct->value.ptr, "text/event-stream", 17) == 0;
    if (x->is_sse)
        gh_sse_parser_init(&x->sse, x->ch->message_bytes);
}

static void hx_on_body(void *arg, const char *p, size_t n)
{
    struct http_exchange *x = arg;
    if (x->is_sse) {
        if (gh_sse_parser_feed(&x->sse, p, n, hx_on_event, x) != GH_OK && !x->ch->closed)
            GH_LOGW("mcp", "upstream %s: SSE event over the limit or malformed", x->ch->up->conf->name);
    } else if (gh_buf_append(&x->body, p, n) != GH_OK) {
        x->status = 599; /* over message_bytes: answered as an error in on_done */
    }
}

static void hx_on_done(void *arg, enum gh_rc rc)
{
    struct http_exchange *x = arg;
    struct gh_mcp_channel *ch = x->ch;
    bool ok = rc == GH_OK && x->status >= 200 && x->status < 300;
    if (ok && !x->is_sse && x->body.len)
        ch->cbs.on_message(ch->arg, ch->idx, x->body.data, x->body.len);
    else if (!ok && x->gid && !ch->closed)
        synth_error(ch, x->gid, x->status == 404 ? "upstream session ended"
                                                 : "upstream unavailable or refused the request");
    bool gone = x->status == 404 && ch->session_id && !ch->closed;
    hx_free(x);
    if (gone) { /* the upstream forgot our session: so does the gateway's */
        ch->closed = true;
        ch->cbs.on_gone(ch->arg, ch->idx, "upstream session ended");
    }
}

static const struct gh_http_creq_cbs HX_CBS = {hx_on_head, hx_on_body, hx_on_done};

static void http_send(struct gh_mcp_channel *ch, const char *method, const char *msg, size_t len,
                      uint64_t gid, bool is_init)
{
    struct http_exchange *x = gh_xcalloc(1, sizeof(*x));
    x->ch = ch;
    x->gid = gid;
    x->is_init = is_init;
    x->is_get = strcmp(method, "GET") == 0;
    gh_buf_init(&x->body, ch->message_bytes);
    x->next = ch->exchanges;
    ch->exchanges = x;
    struct gh_http_header h[5];
    size_t n = 0;
    if (!x->is_get)
        h[n++] = (struct gh_http_header){GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/json")};
    h[n++] = (struct gh_http_header){GH_SLICE_LIT("Accept"),
                                     x->is_get ? GH_SLICE_LIT("text/event-stream")
                                               : GH_SLICE_LIT("application/json, text/event-stream")};
    if (ch->version[0])
        h[n++] = (struct gh_http_header){GH_SLICE_LIT("MCP-Protocol-Version"), gh_slice_cstr(ch->version)};
    if (ch->session_id)
        h[n++] = (struct gh_http_header){GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ch->session_id)};
    x->creq = gh_http_client_send(gh_upstream_pool(ch->up), method, gh_slice_cstr(ch->up->conf->url.path),
                                  h, n, gh_slice(msg, len), &HX_CBS, x);
}

/* ---- common ---- */

enum gh_rc gh_mcp_channel_open(const struct gh_upstream *u, size_t idx,
                               const struct gh_mcp_channel_cbs *cbs, void *arg, size_t message_bytes,
                               struct gh_mcp_channel **out, char *err, size_t errlen)
{
    struct gh_mcp_channel *ch = gh_xcalloc(1, sizeof(*ch));
    ch->up = u;
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

enum gh_rc gh_mcp_channel_send(struct gh_mcp_channel *ch, const char *msg, size_t len,
                               uint64_t gid, bool is_init)
{
    if (ch->closed)
        return GH_E_CLOSED;
    if (ch->child)
        return gh_upstream_child_send(ch->child, msg, len);
    http_send(ch, "POST", msg, len, gid, is_init);
    return GH_OK;
}

void gh_mcp_channel_initialized(struct gh_mcp_channel *ch, struct gh_slice version)
{
    if (version.len && version.len < sizeof(ch->version)) {
        memcpy(ch->version, version.ptr, version.len);
        ch->version[version.len] = '\0';
    }
    if (!ch->child && !ch->closed)
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
    free(ch);
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
    if (ch->session_id && ch->up->conf->kind == GH_CONFIG_UPSTREAM_HTTP) {
        /* tell the upstream its session is over; nobody waits for the answer */
        struct gh_http_header h = {GH_SLICE_LIT("Mcp-Session-Id"), gh_slice_cstr(ch->session_id)};
        gh_http_client_send(gh_upstream_pool(ch->up), "DELETE", gh_slice_cstr(ch->up->conf->url.path),
                            &h, 1, gh_slice(NULL, 0), &NOOP_CBS, NULL);
    }
    gh_net_worker_post(gh_net_worker_current(), channel_free_task, ch);
}

pid_t gh_mcp_channel_pid(const struct gh_mcp_channel *ch)
{
    return ch->child ? gh_upstream_child_pid(ch->child) : 0;
}
