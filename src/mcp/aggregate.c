/*
 * mcp/aggregate.c owns aggregated endpoints: one MCP server to the client, made of several
 * upstreams (stdio and HTTP mixed). Tools and prompts are namespaced "<upstream><sep><name>"
 * (collision-free: upstream names cannot contain the separator); resources keep their URIs and
 * are routed to the upstream that listed them. initialize merges capabilities per upstream (a
 * capability is offered when some upstream has it, and each method goes only to upstreams that
 * have it); list methods fan out, follow every upstream's pages, and answer one merged page.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <inttypes.h>
#include <stdio.h>

#define MAX_PAGES 64 /* per upstream and list: a cursor loop cannot run forever */

enum caps {
    CAP_TOOLS = 1 << 0,
    CAP_RESOURCES = 1 << 1,
    CAP_PROMPTS = 1 << 2,
    CAP_LOGGING = 1 << 3,
    CAP_COMPLETIONS = 1 << 4,
    CAP_SUBSCRIBE = 1 << 5,
    CAP_TOOLS_CHANGED = 1 << 6, /* the member sends notifications/tools/list_changed */
    CAP_PROMPTS_CHANGED = 1 << 7,
    CAP_RESOURCES_CHANGED = 1 << 8,
};

#define TOOL_NAME_MAX 128 /* MCP 2025-11-25: tool names are 1-128 of A-Z a-z 0-9 _ - . */

enum agg_kind {
    AGG_INIT = 0,
    AGG_TOOLS,
    AGG_PROMPTS,
    AGG_RESOURCES,
    AGG_TEMPLATES,
    AGG_EMPTY, /* answered {} once every part is done (logging/setLevel) */
};

struct owner { /* a resource URI, or a template's fixed prefix, and who serves it */
    struct owner *next;
    char *key;
    size_t ch;
    bool prefix;
};

struct gh_mcp_agg {
    unsigned *caps; /* per channel */
    char (*version)[16];
    struct owner *owners;
};

struct gh_mcp_fanout {
    enum agg_kind kind;
    size_t outstanding;
    size_t nch;
    size_t *pages;        /* per channel */
    struct gh_buf *items; /* per channel: joined in member order when the last part is in */
    struct gh_buf instructions;
    char client_version[16];
    const struct gh_auth_principal *who; /* the parent's principal: lists are filtered for it */
};

static const char *const LIST_FIELD[] = {
    [AGG_TOOLS] = "tools",
    [AGG_PROMPTS] = "prompts",
    [AGG_RESOURCES] = "resources",
    [AGG_TEMPLATES] = "resourceTemplates",
};
static const char *const LIST_METHOD[] = {
    [AGG_TOOLS] = "tools/list",
    [AGG_PROMPTS] = "prompts/list",
    [AGG_RESOURCES] = "resources/list",
    [AGG_TEMPLATES] = "resources/templates/list",
};

static struct gh_mcp_agg *agg_of(struct gh_mcp_bridge *b)
{
    if (!b->agg) {
        b->agg = gh_xcalloc(1, sizeof(*b->agg));
        b->agg->caps = gh_xcalloc(b->nch, sizeof(*b->agg->caps));
        b->agg->version = gh_xcalloc(b->nch, sizeof(*b->agg->version));
    }
    return b->agg;
}

void gh_mcp_agg_free(struct gh_mcp_bridge *b)
{
    struct gh_mcp_agg *a = b->agg;
    if (!a)
        return;
    while (a->owners) {
        struct owner *o = a->owners;
        a->owners = o->next;
        free(o->key);
        free(o);
    }
    free(a->caps);
    free(a->version);
    free(a);
    b->agg = NULL;
}

void gh_mcp_fanout_free(struct gh_mcp_fanout *f)
{
    for (size_t i = 0; f->items && i < f->nch; i++)
        gh_buf_release(&f->items[i]);
    free(f->items);
    gh_buf_release(&f->instructions);
    free(f->pages);
    free(f);
}

/* ---- small JSON helpers over a parsed message ---- */

static int32_t get(const struct gh_json_doc *d, int32_t obj, const char *k)
{
    if (obj < 0 || d->toks[obj].type != GH_JSON_OBJECT)
        return -1;
    return gh_json_obj_get(d, (uint32_t)obj, k, strlen(k));
}

/* A string member without escapes, as a slice into the message (names and URIs with escapes
 * are refused: routing must not depend on how a name was spelled). */
static bool str_of(const struct gh_json_doc *d, int32_t t, struct gh_slice *out)
{
    if (t < 0 || d->toks[t].type != GH_JSON_STRING || (d->toks[t].flags & GH_JSON_F_ESCAPED))
        return false;
    struct gh_slice raw = gh_json_raw(d, (uint32_t)t);
    *out = gh_slice(raw.ptr + 1, raw.len - 2);
    return true;
}

/* ---- answering ---- */

static void answer_body(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, const char *result)
{
    struct gh_buf out;
    gh_buf_init(&out, strlen(result) + 256);
    gh_buf_appendf(&out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", p->client_id, result);
    gh_mcp_pending_answer(b, p, out.data, out.len); /* takes out.data */
}

static void answer_error(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, int code,
                         const char *msg)
{
    gh_mcp_pending_fail(b, p, code, msg);
}

/* ---- fan-out ---- */

static struct gh_mcp_fanout *fanout_new(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                                        enum agg_kind kind)
{
    struct gh_mcp_fanout *f = gh_xcalloc(1, sizeof(*f));
    f->kind = kind;
    f->nch = b->nch;
    f->pages = gh_xcalloc(b->nch, sizeof(*f->pages));
    f->items = gh_xcalloc(b->nch, sizeof(*f->items));
    for (size_t i = 0; i < b->nch; i++)
        gh_buf_init(&f->items[i], b->gw->cfg->limits.body_bytes * 4);
    gh_buf_init(&f->instructions, 64 << 10);
    p->fan = f;
    f->who = p->principal;
    p->gid = 0; /* the parent is answered by its parts, never by an upstream directly */
    return f;
}

/* Sends one part: a fresh request of method to channel ch (params raw JSON or NULL). */
static bool send_part(struct gh_mcp_bridge *b, struct gh_mcp_pending *parent, size_t ch,
                      const char *method, const char *params)
{
    struct gh_mcp_pending *part = gh_mcp_pending_add(b, ch);
    part->parent = parent;
    part->initialize = strcmp(method, "initialize") == 0;
    parent->fan->outstanding++;
    char msg[4096];
    int n = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"%s\"%s%s}",
                     method, params ? ",\"params\":" : "", params ? params : "");
    if (n < 0 || (size_t)n >= sizeof(msg))
        return false;
    const char *idp = strstr(msg, "\"id\":0") + 5;
    return gh_mcp_bridge_send_request(b, part, msg, (size_t)n, gh_slice(idp, 1));
}

static void fan_out(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, enum agg_kind kind,
                    const char *method, unsigned need)
{
    struct gh_mcp_fanout *f = fanout_new(b, p, kind);
    size_t sent = 0;
    for (size_t i = 0; i < b->nch && !b->closed; i++) {
        if (!b->ch[i] || (need && !(agg_of(b)->caps[i] & need)))
            continue;
        if (!send_part(b, p, i, method, NULL))
            return; /* the session is closing: the parent was answered */
        sent++;
    }
    if (sent == 0 && !b->closed) {
        f->outstanding = 1; /* nothing to wait for: finish as if one part came back empty */
        gh_mcp_agg_part_done(b, &(struct gh_mcp_pending){.parent = p, .ch = SIZE_MAX}, NULL, 0);
    }
}

/* The merged initialize result: capabilities a member has, each routed per member. */
static void compose_init(struct gh_mcp_bridge *b, struct gh_mcp_fanout *f, struct gh_buf *r)
{
    unsigned all = 0;
    for (size_t i = 0; i < b->nch; i++)
        all |= agg_of(b)->caps[i];
    /* listChanged is a promise to notify: the gateway only relays members' notifications (it
     * sends none of its own), so it is claimed only when some member claims it for that list */
    gh_buf_appendf(r, "{\"protocolVersion\":\"%s\",\"capabilities\":{", b->sess->version);
    const char *sep = "";
    if (all & CAP_TOOLS) {
        gh_buf_appendf(r, "\"tools\":{%s}",
                       (all & CAP_TOOLS_CHANGED) ? "\"listChanged\":true" : "");
        sep = ",";
    }
    if (all & CAP_PROMPTS) {
        gh_buf_appendf(r, "%s\"prompts\":{%s}", sep,
                       (all & CAP_PROMPTS_CHANGED) ? "\"listChanged\":true" : "");
        sep = ",";
    }
    if (all & CAP_RESOURCES) {
        bool lc = all & CAP_RESOURCES_CHANGED, sub = all & CAP_SUBSCRIBE;
        gh_buf_appendf(r, "%s\"resources\":{%s%s%s}", sep, lc ? "\"listChanged\":true" : "",
                       lc && sub ? "," : "", sub ? "\"subscribe\":true" : "");
        sep = ",";
    }
    if (all & CAP_LOGGING) {
        gh_buf_appendf(r, "%s\"logging\":{}", sep);
        sep = ",";
    }
    if (all & CAP_COMPLETIONS)
        gh_buf_appendf(r, "%s\"completions\":{}", sep);
    gh_buf_appendf(r, "},\"serverInfo\":{\"name\":\"gatehouse\",\"version\":\"%s\"}", GH_VERSION);
    if (f->instructions.len) {
        gh_buf_append(r, ",\"instructions\":", 16);
        gh_json_write_str(r, f->instructions.data, f->instructions.len);
    }
    gh_buf_append(r, "}", 1);
}

static void fanout_finish(struct gh_mcp_bridge *b, struct gh_mcp_pending *p)
{
    struct gh_mcp_fanout *f = p->fan;
    if (f->kind == AGG_EMPTY) {
        answer_body(b, p, "{}");
        return;
    }
    size_t total = 0;
    for (size_t i = 0; i < f->nch; i++)
        total += f->items[i].len + 1;
    struct gh_buf r;
    gh_buf_init(&r, total + f->instructions.len * 6 + 4096);
    if (f->kind == AGG_INIT) {
        compose_init(b, f, &r);
    } else {
        gh_buf_appendf(&r, "{\"%s\":[", LIST_FIELD[f->kind]);
        bool first = true;
        for (size_t i = 0; i < f->nch; i++) { /* member order: stable whoever answered first */
            if (!f->items[i].len)
                continue;
            if (!first)
                gh_buf_append(&r, ",", 1);
            gh_buf_append(&r, f->items[i].data, f->items[i].len);
            first = false;
        }
        gh_buf_append(&r, "]}", 2);
    }
    gh_buf_append(&r, "", 1); /* NUL for answer_body */
    answer_body(b, p, r.data);
    gh_buf_release(&r);
}

/* ---- collecting ---- */

static void note_owner(struct gh_mcp_bridge *b, struct gh_slice key, size_t ch, bool prefix)
{
    struct gh_mcp_agg *a = agg_of(b);
    for (struct owner *o = a->owners; o; o = o->next) {
        if (o->prefix == prefix && gh_slice_eq_cstr(key, o->key)) {
            /* the first member (in endpoint order) that lists a URI owns it, whichever answered
             * first: reads must not change owner from one list to the next */
            o->ch = GH_MIN(o->ch, ch);
            return;
        }
    }
    struct owner *o = gh_xcalloc(1, sizeof(*o));
    o->key = gh_xstrndup(key.ptr, key.len);
    o->ch = ch;
    o->prefix = prefix;
    o->next = a->owners;
    a->owners = o;
}

/* Whether the caller may see one item of upstream up (policy, and pinning for tools). */
static bool item_visible_under(const struct gh_policy *pol, struct gh_mcp_fanout *f, const char *up,
                               const struct gh_json_doc *d, int32_t item)
{
    if (!gh_policy_enabled(pol))
        return true;
    static const enum gh_policy_kind kinds[] = {
        [AGG_TOOLS] = GH_POLICY_K_TOOL,
        [AGG_PROMPTS] = GH_POLICY_K_PROMPT,
        [AGG_RESOURCES] = GH_POLICY_K_RESOURCE,
        [AGG_TEMPLATES] = GH_POLICY_K_RESOURCE,
    };
    const char *key = f->kind == AGG_RESOURCES   ? "uri"
                      : f->kind == AGG_TEMPLATES ? "uriTemplate"
                                                 : "name";
    struct gh_slice s;
    if (!str_of(d, get(d, item, key), &s))
        return false;
    if (f->kind == AGG_TOOLS || f->kind == AGG_PROMPTS)
        gh_policy_known_add(pol, gh_slice_cstr(up), kinds[f->kind], s);
    struct gh_policy_subject subj;
    gh_mcp_subject_of(f->who, &subj);
    if (!gh_policy_listable(pol, &subj, gh_slice_cstr(up), kinds[f->kind], s))
        return false;
    if (f->kind != AGG_TOOLS || !gh_policy_pinning(pol))
        return true;
    char digest[GH_POLICY_DIGEST_HEX + 1];
    return gh_policy_tool_digest(d, (uint32_t)item, 0, digest) == GH_OK &&
           gh_policy_pin_observe(pol, gh_slice_cstr(up), s, digest) == GH_POLICY_PIN_OK;
}

static bool item_visible(struct gh_mcp_bridge *b, struct gh_mcp_fanout *f, const char *up,
                         const struct gh_json_doc *d, int32_t item)
{
    struct gh_policy *pol = gh_mcp_policy_get(b->gw);
    bool v = item_visible_under(pol, f, up, d, item);
    gh_policy_unref(pol);
    return v;
}

/* Appends one item (comma first unless it is the first) to a member's list, whole or not at all. */
static void put_item(struct gh_buf *list, const char *up, const char *item, size_t n)
{
    if (list->len + 1 + n > list->max) {
        /* the list is frozen where it is (a later, smaller item must not jump the gap), and
         * the freeze is logged once */
        size_t frozen = GH_MAX(list->len, 1); /* a gh_buf's max is never 0 */
        if (list->max > frozen)
            GH_LOGW("mcp",
                    "upstream %s: its list is larger than the merge allows; the rest is left out",
                    up);
        list->max = frozen;
        return;
    }
    if (list->len)
        gh_buf_append(list, ",", 1);
    gh_buf_append(list, item, n);
}

/* Whether a namespaced tool name stays a valid MCP tool name (1-128 of A-Z a-z 0-9 _ - .). The
 * upstream name and separator are already of those characters (config check), so only the
 * member's own name and the total length can break it. */
static bool tool_name_valid(const char *up, struct gh_slice name)
{
    if (name.len == 0 || strlen(up) + 1 + name.len > TOOL_NAME_MAX)
        return false;
    for (size_t i = 0; i < name.len; i++) {
        unsigned char c = (unsigned char)name.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Appends one list item; tools and prompts get their upstream's namespace. */
static void collect_item(struct gh_mcp_bridge *b, struct gh_mcp_fanout *f, size_t ch,
                         const struct gh_json_doc *d, int32_t item)
{
    struct gh_slice raw = gh_json_raw(d, (uint32_t)item), s;
    const char *up = b->ups[ch]->conf->name;
    if (!item_visible(b, f, up, d, item))
        return;
    if (f->kind == AGG_TOOLS || f->kind == AGG_PROMPTS) {
        int32_t nm = get(d, item, "name");
        if (!str_of(d, nm, &s) || s.len == 0 || strlen(up) + 1 + s.len > TOOL_NAME_MAX) {
            GH_LOGW("mcp", "upstream %s: a %s entry without a usable name was left out", up,
                    LIST_FIELD[f->kind]);
            return;
        }
        /* skipped, not escaped: an escaped name would be a second spelling to route back */
        if (f->kind == AGG_TOOLS && !tool_name_valid(up, s)) {
            GH_LOGW("mcp",
                    "upstream %s: tool \"%.*s\" left out: \"%s%c<name>\" would not be a valid MCP "
                    "tool name (1-%d of A-Z a-z 0-9 _ - .)",
                    up, (int)GH_MIN(s.len, 80), s.ptr, up, b->ep->separator, TOOL_NAME_MAX);
            return;
        }
        char repl[TOOL_NAME_MAX + 8];
        snprintf(repl, sizeof(repl), "\"%s%c%.*s\"", up, b->ep->separator, (int)s.len, s.ptr);
        size_t n;
        char *out = gh_mcp_splice(raw.ptr, raw.len, gh_json_raw(d, (uint32_t)nm), repl, &n);
        put_item(&f->items[ch], up, out, n);
        free(out);
        return;
    }
    if (f->kind == AGG_RESOURCES && str_of(d, get(d, item, "uri"), &s))
        note_owner(b, s, ch, false);
    if (f->kind == AGG_TEMPLATES && str_of(d, get(d, item, "uriTemplate"), &s)) {
        const char *brace = memchr(s.ptr, '{', s.len);
        note_owner(b, gh_slice(s.ptr, brace ? (size_t)(brace - s.ptr) : s.len), ch, true);
    }
    put_item(&f->items[ch], up, raw.ptr, raw.len);
}

/* Whether capability obj (an object in an initialize result) says listChanged: true. */
static bool list_changed(const struct gh_json_doc *d, int32_t obj)
{
    int32_t lc = get(d, obj, "listChanged");
    return lc >= 0 && d->toks[lc].type == GH_JSON_TRUE;
}

static void collect_init(struct gh_mcp_bridge *b, struct gh_mcp_fanout *f, size_t ch,
                         const struct gh_json_doc *d, int32_t res, struct gh_arena *ar)
{
    struct gh_mcp_agg *a = agg_of(b);
    int32_t caps = get(d, res, "capabilities");
    unsigned c = 0;
    c |= get(d, caps, "tools") >= 0 ? CAP_TOOLS : 0;
    c |= get(d, caps, "prompts") >= 0 ? CAP_PROMPTS : 0;
    c |= get(d, caps, "resources") >= 0 ? CAP_RESOURCES : 0;
    c |= get(d, caps, "logging") >= 0 ? CAP_LOGGING : 0;
    c |= get(d, caps, "completions") >= 0 ? CAP_COMPLETIONS : 0;
    int32_t sub = get(d, get(d, caps, "resources"), "subscribe");
    c |= sub >= 0 && d->toks[sub].type == GH_JSON_TRUE ? CAP_SUBSCRIBE : 0;
    c |= list_changed(d, get(d, caps, "tools")) ? CAP_TOOLS_CHANGED : 0;
    c |= list_changed(d, get(d, caps, "prompts")) ? CAP_PROMPTS_CHANGED : 0;
    c |= list_changed(d, get(d, caps, "resources")) ? CAP_RESOURCES_CHANGED : 0;
    a->caps[ch] = c;
    struct gh_slice v, ins;
    if (str_of(d, get(d, res, "protocolVersion"), &v) && v.len < 16) {
        memcpy(a->version[ch], v.ptr, v.len);
        a->version[ch][v.len] = '\0';
        /* the session speaks the oldest version any upstream chose (they are comparable dates) */
        if (!b->sess->version[0] || strcmp(a->version[ch], b->sess->version) < 0)
            gh_mcp_session_set_version(b->sess, v);
    }
    int32_t it = get(d, res, "instructions");
    if (it >= 0 && d->toks[it].type == GH_JSON_STRING &&
        gh_json_str(d, ar, (uint32_t)it, &ins) == GH_OK && ins.len) {
        gh_buf_appendf(&f->instructions, "%s%s: ", f->instructions.len ? "\n\n" : "",
                       b->ups[ch]->conf->name);
        gh_buf_append(&f->instructions, ins.ptr, ins.len);
    }
}

/* Follows a page cursor: true when another part went out for this upstream. */
static bool next_page(struct gh_mcp_bridge *b, struct gh_mcp_pending *parent, size_t ch,
                      const struct gh_json_doc *d, int32_t res)
{
    struct gh_mcp_fanout *f = parent->fan;
    int32_t cur = get(d, res, "nextCursor");
    if (cur < 0 || d->toks[cur].type != GH_JSON_STRING)
        return false;
    if (++f->pages[ch] >= MAX_PAGES) {
        GH_LOGW("mcp", "upstream %s: %s stopped after %d pages; the rest is left out",
                b->ups[ch]->conf->name, LIST_METHOD[f->kind], MAX_PAGES);
        return false;
    }
    struct gh_slice raw = gh_json_raw(d, (uint32_t)cur);
    if (raw.len > 1024)
        return false;
    char params[1100];
    snprintf(params, sizeof(params), "{\"cursor\":%.*s}", (int)raw.len, raw.ptr);
    return send_part(b, parent, ch, LIST_METHOD[f->kind], params);
}

void gh_mcp_agg_part_done(struct gh_mcp_bridge *b, struct gh_mcp_pending *part, const char *msg,
                          size_t len)
{
    struct gh_mcp_pending *parent = part->parent;
    struct gh_mcp_fanout *f = parent->fan;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    struct gh_json_err e;
    int32_t res = -1;
    if (msg && gh_json_parse(a, msg, len, NULL, &d, &e) == GH_OK)
        res = get(&d, 0, "result");
    if (res >= 0 && f->kind == AGG_INIT) {
        collect_init(b, f, part->ch, &d, res, a);
    } else if (res >= 0 && f->kind != AGG_EMPTY) {
        int32_t arr = get(&d, res, LIST_FIELD[f->kind]);
        for (uint32_t i = 0; arr >= 0 && d.toks[arr].type == GH_JSON_ARRAY && i < d.toks[arr].size;
             i++)
            collect_item(b, f, part->ch, &d, gh_json_arr_at(&d, (uint32_t)arr, i));
        if (next_page(b, parent, part->ch, &d, res)) {
            gh_arena_free(a);
            f->outstanding--;
            return;
        }
    } else if (part->ch < b->nch) {
        GH_LOGW("mcp", "upstream %s did not answer %s: left out", b->ups[part->ch]->conf->name,
                f->kind == AGG_INIT ? "initialize" : "a list request");
    }
    gh_arena_free(a);
    if (--f->outstanding == 0 && !b->closed)
        fanout_finish(b, parent);
}

/* ---- routing ---- */

/* "up<sep>name" → the channel of up and the name behind the separator. */
static bool route_name(struct gh_mcp_bridge *b, struct gh_slice full, size_t *ch,
                       struct gh_slice *rest)
{
    const char *sep = memchr(full.ptr, b->ep->separator, full.len);
    if (!sep)
        return false;
    struct gh_slice up = gh_slice(full.ptr, (size_t)(sep - full.ptr));
    for (size_t i = 0; i < b->nch; i++) {
        if (b->ch[i] && gh_slice_eq_cstr(up, b->ups[i]->conf->name)) {
            *ch = i;
            *rest = gh_slice(sep + 1, full.len - up.len - 1);
            return rest->len > 0;
        }
    }
    return false;
}

static bool route_uri(struct gh_mcp_bridge *b, struct gh_slice uri, size_t *ch)
{
    size_t best = 0;
    bool found = false;
    for (struct owner *o = agg_of(b)->owners; o; o = o->next) {
        size_t k = strlen(o->key);
        bool hit = o->prefix ? uri.len >= k && memcmp(uri.ptr, o->key, k) == 0
                             : gh_slice_eq_cstr(uri, o->key);
        if (hit && (!o->prefix ? (best = SIZE_MAX, true) : k >= best)) {
            *ch = o->ch;
            found = true;
            if (!o->prefix)
                return b->ch[*ch] != NULL;
            best = k;
        }
    }
    return found && b->ch[*ch] != NULL;
}

/* Forwards p to channel ch with the raw span `name` replaced by `repl` (quoted JSON) if set. */
static void forward(struct gh_mcp_bridge *b, struct gh_mcp_pending *p, size_t ch, const char *msg,
                    size_t len, struct gh_slice id, struct gh_slice name, struct gh_slice repl)
{
    p->ch = ch;
    p->deadline_ms = gh_clock_ms() + b->ups[ch]->target.first_byte_ms;
    if (!name.len) {
        gh_mcp_bridge_send_request(b, p, msg, len, id);
        return;
    }
    char q[200];
    snprintf(q, sizeof(q), "\"%.*s\"", (int)repl.len, repl.ptr);
    size_t n;
    char *out = gh_mcp_splice(msg, len, name, q, &n);
    /* the id moves if the name came before it */
    ptrdiff_t delta = (ptrdiff_t)strlen(q) - (ptrdiff_t)name.len;
    const char *idp = out + (id.ptr - msg) + (name.ptr < id.ptr ? delta : 0);
    gh_mcp_bridge_send_request(b, p, out, n, gh_slice(idp, id.len));
    free(out);
}

static void route_named(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                        const struct gh_jsonrpc_body *body, const char *msg, size_t len,
                        int32_t name_tok)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    struct gh_slice full, rest;
    size_t ch;
    if (!str_of(&body->doc, name_tok, &full) || !route_name(b, full, &ch, &rest) ||
        (body->doc.toks[name_tok].flags & GH_JSON_F_ESCAPED)) {
        answer_error(b, p, GH_JSONRPC_INVALID_PARAMS, "Unknown tool or prompt name");
        return;
    }
    /* a tool left out of tools/list for its name is not callable by that name either */
    if (gh_slice_eq_cstr(m->method, "tools/call") &&
        !tool_name_valid(b->ups[ch]->conf->name, rest)) {
        answer_error(b, p, GH_JSONRPC_INVALID_PARAMS, "Unknown tool or prompt name");
        return;
    }
    forward(b, p, ch, msg, len, m->id_raw, gh_json_raw(&body->doc, (uint32_t)name_tok), rest);
}

static void route_resource(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                           const struct gh_jsonrpc_body *body, const char *msg, size_t len,
                           int32_t uri_tok)
{
    struct gh_slice uri;
    size_t ch;
    if (!str_of(&body->doc, uri_tok, &uri) || !route_uri(b, uri, &ch)) {
        answer_error(b, p, -32002, "Resource not found");
        return;
    }
    forward(b, p, ch, msg, len, body->msgs[0].id_raw, (struct gh_slice){0}, (struct gh_slice){0});
}

static void agg_initialize(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                           const struct gh_jsonrpc_msg *m, const char *msg, size_t len)
{
    fanout_new(b, p, AGG_INIT);
    for (size_t i = 0; i < b->nch && !b->closed; i++) {
        struct gh_mcp_pending *part = gh_mcp_pending_add(b, i);
        part->parent = p;
        part->initialize = true;
        p->fan->outstanding++;
        if (!gh_mcp_bridge_send_request(b, part, msg, len, m->id_raw))
            return;
    }
}

static void agg_set_level(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                          const struct gh_jsonrpc_body *body)
{
    const struct gh_json_doc *d = &body->doc;
    char params[128];
    int32_t lt = get(d, body->msgs[0].params, "level");
    struct gh_slice lv = lt >= 0 ? gh_json_raw(d, (uint32_t)lt) : GH_SLICE_LIT("\"info\"");
    snprintf(params, sizeof(params), "{\"level\":%.*s}", (int)GH_MIN(lv.len, 64), lv.ptr);
    struct gh_mcp_fanout *f = fanout_new(b, p, AGG_EMPTY);
    for (size_t i = 0; i < b->nch && !b->closed; i++)
        if (b->ch[i] && (agg_of(b)->caps[i] & CAP_LOGGING) &&
            !send_part(b, p, i, "logging/setLevel", params))
            return;
    if (f->outstanding == 0)
        answer_body(b, p, "{}");
}

/* Methods fanned out to every member that has the capability, merged into one answer. The
 * answer is one page holding every member's pages, so it never carries a nextCursor: a cursor
 * from the client was not made here and is refused (-32602) rather than silently restarting. */
static bool agg_list(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                     const struct gh_jsonrpc_body *body)
{
    struct gh_slice meth = body->msgs[0].method;
    static const struct {
        const char *method;
        enum agg_kind kind;
        unsigned cap;
    } LISTS[] = {
        {"tools/list", AGG_TOOLS, CAP_TOOLS},
        {"prompts/list", AGG_PROMPTS, CAP_PROMPTS},
        {"resources/list", AGG_RESOURCES, CAP_RESOURCES},
        {"resources/templates/list", AGG_TEMPLATES, CAP_RESOURCES},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(LISTS); i++) {
        if (gh_slice_eq_cstr(meth, LISTS[i].method)) {
            if (get(&body->doc, body->msgs[0].params, "cursor") >= 0)
                answer_error(b, p, GH_JSONRPC_INVALID_PARAMS,
                             "Invalid cursor: this endpoint answers every list in one page");
            else
                fan_out(b, p, LISTS[i].kind, LISTS[i].method, LISTS[i].cap);
            return true;
        }
    }
    return false;
}

void gh_mcp_agg_request(struct gh_mcp_bridge *b, struct gh_mcp_pending *p,
                        const struct gh_jsonrpc_body *body, const char *msg, size_t len)
{
    const struct gh_jsonrpc_msg *m = &body->msgs[0];
    const struct gh_json_doc *d = &body->doc;
    struct gh_slice meth = m->method;
    if (gh_slice_eq_cstr(meth, "initialize")) {
        agg_initialize(b, p, m, msg, len);
    } else if (gh_slice_eq_cstr(meth, "ping")) {
        answer_body(b, p, "{}");
    } else if (agg_list(b, p, body)) {
        return;
    } else if (gh_slice_eq_cstr(meth, "logging/setLevel")) {
        agg_set_level(b, p, body);
    } else if (gh_slice_eq_cstr(meth, "tools/call") || gh_slice_eq_cstr(meth, "prompts/get")) {
        route_named(b, p, body, msg, len, get(d, m->params, "name"));
    } else if (gh_slice_eq_cstr(meth, "resources/read") ||
               gh_slice_eq_cstr(meth, "resources/subscribe") ||
               gh_slice_eq_cstr(meth, "resources/unsubscribe")) {
        route_resource(b, p, body, msg, len, get(d, m->params, "uri"));
    } else if (gh_slice_eq_cstr(meth, "completion/complete")) {
        int32_t ref = get(d, m->params, "ref");
        struct gh_slice type;
        if (str_of(d, get(d, ref, "type"), &type) && gh_slice_eq_cstr(type, "ref/prompt"))
            route_named(b, p, body, msg, len, get(d, ref, "name"));
        else
            route_resource(b, p, body, msg, len, get(d, ref, "uri"));
    } else {
        answer_error(b, p, GH_JSONRPC_METHOD_NOT_FOUND, "Method not found");
    }
}

void gh_mcp_agg_notification(struct gh_mcp_bridge *b, const struct gh_jsonrpc_body *body,
                             const char *msg, size_t len)
{
    bool initialized = gh_slice_eq_cstr(body->msgs[0].method, "notifications/initialized");
    for (size_t i = 0; i < b->nch && !b->closed; i++) {
        if (!b->ch[i])
            continue;
        if (initialized)
            gh_mcp_channel_initialized(b->ch[i], gh_slice_cstr(agg_of(b)->version[i]));
        if (gh_mcp_channel_send(b->ch[i], msg, len, 0, false) != GH_OK)
            GH_LOGW("mcp", "upstream %s did not take a notification", b->ups[i]->conf->name);
    }
}
