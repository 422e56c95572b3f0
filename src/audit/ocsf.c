/*
 * audit/ocsf.c: one native audit record (src/audit/FORMAT.md) in, one OCSF 1.3.0 event out.
 *
 * The line is parsed with the project's strict parser and checked for the common members; the
 * event is written member by member with gh_json_write_str for every string taken from the
 * record. What has a home in OCSF goes there; what has none goes under "unmapped" with its native
 * name, so nothing the record says is lost. The decisions behind each choice (classes, activity
 * per MCP method, severities, stand-ins for required objects) are in docs/audit-ocsf.md.
 */
#include "audit/audit.h"
#include "json/json.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#ifndef GH_VERSION
#define GH_VERSION "unknown"
#endif

#define PARSE_DEPTH 16 /* native records nest 3 deep; this bounds the copy's recursion */
#define WRITE_DEPTH (PARSE_DEPTH + 8)

/* ---- writing: members with commas handled, the first error kept ---- */

struct ow {
    struct gh_buf *b;
    enum gh_rc rc;
    int depth;
    bool more[WRITE_DEPTH]; /* a member was written at this depth: the next needs a comma */
};

static void ow_raw(struct ow *w, const char *p, size_t n)
{
    if (w->rc == GH_OK)
        w->rc = gh_buf_append(w->b, p, n);
}

static void ow_sep(struct ow *w)
{
    if (w->more[w->depth])
        ow_raw(w, ",", 1);
    w->more[w->depth] = true;
}

/* Keys are literals of this file: no escaping needed. NULL key: an array element. */
static void ow_key(struct ow *w, const char *k)
{
    ow_sep(w);
    if (!k)
        return;
    ow_raw(w, "\"", 1);
    ow_raw(w, k, strlen(k));
    ow_raw(w, "\":", 2);
}

static void ow_open(struct ow *w, const char *k, char c)
{
    ow_key(w, k);
    ow_raw(w, &c, 1);
    GH_BUG_ON(w->depth + 1 >= WRITE_DEPTH);
    w->more[++w->depth] = false;
}

/* True when nothing was written since the matching ow_open. */
static bool ow_empty(const struct ow *w)
{
    return !w->more[w->depth];
}

static void ow_close(struct ow *w, char c)
{
    ow_raw(w, &c, 1);
    w->depth--;
}

static void ow_str(struct ow *w, const char *k, struct gh_slice s)
{
    ow_key(w, k);
    if (w->rc == GH_OK)
        w->rc = gh_json_write_str(w->b, s.ptr ? s.ptr : "", s.len);
}

static void ow_cstr(struct ow *w, const char *k, const char *s)
{
    ow_str(w, k, gh_slice_cstr(s));
}

static void ow_int(struct ow *w, const char *k, int64_t n)
{
    char t[24];
    int l = snprintf(t, sizeof(t), "%lld", (long long)n);
    ow_key(w, k);
    ow_raw(w, t, (size_t)l);
}

/* ---- reading the native record ---- */

struct rd {
    const struct gh_json_doc *d;
    struct gh_arena *a;
    bool bad; /* a member of the wrong type: the line is no native record */
};

static uint8_t tok_type(const struct rd *r, int32_t t)
{
    return gh_json_tok(r->d, (uint32_t)t)->type;
}

/* Member name of object obj, or -1 when obj is -1, the member is absent or null. */
static int32_t get(const struct rd *r, int32_t obj, const char *name)
{
    if (obj < 0)
        return -1;
    int32_t t = gh_json_obj_get(r->d, (uint32_t)obj, name, strlen(name));
    return t >= 0 && tok_type(r, t) == GH_JSON_NULL ? -1 : t;
}

/* An object member (-1 when absent or null; wrong type marks the record bad). */
static int32_t get_obj(struct rd *r, int32_t obj, const char *name)
{
    int32_t t = get(r, obj, name);
    if (t >= 0 && tok_type(r, t) != GH_JSON_OBJECT) {
        r->bad = true;
        return -1;
    }
    return t;
}

static int32_t get_arr(struct rd *r, int32_t obj, const char *name)
{
    int32_t t = get(r, obj, name);
    if (t >= 0 && tok_type(r, t) != GH_JSON_ARRAY) {
        r->bad = true;
        return -1;
    }
    return t;
}

static bool tok_str(struct rd *r, int32_t t, struct gh_slice *out)
{
    if (t < 0)
        return false;
    if (tok_type(r, t) != GH_JSON_STRING || gh_json_str(r->d, r->a, (uint32_t)t, out) != GH_OK) {
        r->bad = true;
        return false;
    }
    return true;
}

/* A string member: false when absent or null (out is then {NULL,0}). */
static bool get_str(struct rd *r, int32_t obj, const char *name, struct gh_slice *out)
{
    *out = (struct gh_slice){0};
    return tok_str(r, get(r, obj, name), out);
}

static bool get_int(struct rd *r, int32_t obj, const char *name, int64_t *out)
{
    int32_t t = get(r, obj, name);
    if (t < 0)
        return false;
    if (tok_type(r, t) != GH_JSON_NUMBER || gh_json_int64(r->d, (uint32_t)t, out) != GH_OK) {
        r->bad = true;
        return false;
    }
    return true;
}

/* Writes token t's value compactly (strings re-escaped by gh_json_write_str). */
static void copy_val(struct ow *w, struct rd *r, uint32_t t)
{
    const struct gh_json_tok *k = gh_json_tok(r->d, t);
    if (k->type == GH_JSON_STRING) {
        struct gh_slice s;
        if (gh_json_str(r->d, r->a, t, &s) != GH_OK) {
            r->bad = true;
            return;
        }
        if (w->rc == GH_OK)
            w->rc = gh_json_write_str(w->b, s.ptr ? s.ptr : "", s.len);
        return;
    }
    if (k->type != GH_JSON_ARRAY && k->type != GH_JSON_OBJECT) {
        struct gh_slice raw = gh_json_raw(r->d, t);
        ow_raw(w, raw.ptr, raw.len);
        return;
    }
    bool obj = k->type == GH_JSON_OBJECT;
    ow_raw(w, obj ? "{" : "[", 1);
    GH_BUG_ON(w->depth + 1 >= WRITE_DEPTH);
    w->more[++w->depth] = false;
    uint32_t c = t + 1;
    for (uint32_t i = 0; i < k->size; i++) {
        ow_sep(w);
        if (obj) {
            copy_val(w, r, c);
            ow_raw(w, ":", 1);
            c++;
        }
        copy_val(w, r, c);
        c = gh_json_tok(r->d, c)->end;
    }
    ow_close(w, obj ? '}' : ']');
}

static void copy(struct ow *w, const char *key, struct rd *r, int32_t t)
{
    ow_key(w, key);
    copy_val(w, r, (uint32_t)t);
}

/* Copies the listed members of obj that are present (and not null) into "key":{...}; writes
 * nothing when none is. */
static void copy_some(struct ow *w, const char *key, struct rd *r, int32_t obj,
                      const char *const *names)
{
    bool any = false;
    for (const char *const *n = names; *n; n++)
        any |= get(r, obj, *n) >= 0;
    if (!any)
        return;
    ow_open(w, key, '{');
    for (const char *const *n = names; *n; n++) {
        int32_t t = get(r, obj, *n);
        if (t >= 0)
            copy(w, *n, r, t);
    }
    ow_close(w, '}');
}

/* ---- time: "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" to ms since the epoch ---- */

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool parse_time(struct gh_slice s, int64_t *ms)
{
    const char *p = s.ptr;
    int y, mo, d, h, mi, se, frac = 0;
    if (s.len < 20 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &d) || p[10] != 'T' || !digits(p + 11, 2, &h) || p[13] != ':' ||
        !digits(p + 14, 2, &mi) || p[16] != ':' || !digits(p + 17, 2, &se))
        return false;
    size_t i = 19;
    if (p[i] == '.') {
        size_t n = 0;
        for (i++; i < s.len && p[i] >= '0' && p[i] <= '9'; i++, n++)
            if (n < 3)
                frac = frac * 10 + (p[i] - '0');
        if (n == 0 || n > 9)
            return false;
        for (; n < 3; n++)
            frac *= 10;
    }
    if (i + 1 != s.len || p[i] != 'Z')
        return false;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || se > 60)
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *ms = secs * 1000 + frac;
    return true;
}

/* ---- the event ---- */

enum { SEV_INFO = 1, SEV_LOW = 2, SEV_MEDIUM = 3, SEV_HIGH = 4 };
enum { ST_UNKNOWN = 0, ST_SUCCESS = 1, ST_FAILURE = 2 };
enum {
    ACT_CREATE = 1,
    ACT_READ = 2,
    ACT_UPDATE = 3,
    ACT_DELETE = 4,
    ACT_LOGON = 1,
    ACT_OTHER = 99
};
enum { CLASS_API = 6003, CLASS_AUTH = 3002 };

struct native {
    struct rd r;
    int32_t root;
    int64_t seq, time_ms;
    struct gh_slice time, type, gateway, rid;
};

struct ev {
    int class_uid;
    int activity_id;
    struct gh_slice activity_name; /* for ACT_OTHER: the source's name (method or record type) */
    int severity_id;
    int status_id;
    struct gh_slice status_code, status_detail;
};

static const char *severity_name(int id)
{
    switch (id) {
    case SEV_INFO:
        return "Informational";
    case SEV_LOW:
        return "Low";
    case SEV_MEDIUM:
        return "Medium";
    case SEV_HIGH:
        return "High";
    }
    return "Unknown";
}

static const char *activity_caption(int class_uid, int id)
{
    if (class_uid == CLASS_AUTH)
        return id == ACT_LOGON ? "Logon" : "Other";
    switch (id) {
    case ACT_CREATE:
        return "Create";
    case ACT_READ:
        return "Read";
    case ACT_UPDATE:
        return "Update";
    case ACT_DELETE:
        return "Delete";
    }
    return "Other";
}

static void put_head(struct ow *w, const struct native *n, const struct ev *e)
{
    bool api = e->class_uid == CLASS_API;
    const char *cls = api ? "API Activity" : "Authentication";
    const char *cap = activity_caption(e->class_uid, e->activity_id);
    ow_int(w, "class_uid", e->class_uid);
    ow_cstr(w, "class_name", cls);
    ow_int(w, "category_uid", api ? 6 : 3);
    ow_cstr(w, "category_name", api ? "Application Activity" : "Identity & Access Management");
    ow_int(w, "activity_id", e->activity_id);
    if (e->activity_id == ACT_OTHER && e->activity_name.len)
        ow_str(w, "activity_name", e->activity_name);
    else
        ow_cstr(w, "activity_name", cap);
    ow_int(w, "type_uid", (int64_t)e->class_uid * 100 + e->activity_id);
    char tn[64];
    snprintf(tn, sizeof(tn), "%s: %s", cls, cap);
    ow_cstr(w, "type_name", tn);
    ow_int(w, "time", n->time_ms);
    ow_int(w, "severity_id", e->severity_id);
    ow_cstr(w, "severity", severity_name(e->severity_id));
    ow_int(w, "status_id", e->status_id);
    ow_cstr(w, "status",
            e->status_id == ST_SUCCESS   ? "Success"
            : e->status_id == ST_FAILURE ? "Failure"
                                         : "Unknown");
    if (e->status_code.len)
        ow_str(w, "status_code", e->status_code);
    if (e->status_detail.len)
        ow_str(w, "status_detail", e->status_detail);
}

static void put_metadata(struct ow *w, struct native *n)
{
    ow_open(w, "metadata", '{');
    ow_cstr(w, "version", GH_OCSF_VERSION);
    ow_open(w, "product", '{');
    ow_cstr(w, "name", "Gatehouse");
    ow_cstr(w, "vendor_name", "Gatehouse");
    ow_cstr(w, "version", GH_VERSION);
    ow_close(w, '}');
    char seq[24];
    int sl = snprintf(seq, sizeof(seq), "-%lld", (long long)n->seq);
    char *uid = gh_arena_alloc(n->r.a, n->gateway.len + (size_t)sl);
    memcpy(uid, n->gateway.ptr, n->gateway.len);
    memcpy(uid + n->gateway.len, seq, (size_t)sl);
    ow_str(w, "uid", gh_slice(uid, n->gateway.len + (size_t)sl)); /* "<gateway>-<seq>" */
    if (n->rid.len)
        ow_str(w, "correlation_uid", n->rid);
    ow_str(w, "event_code", n->type);
    ow_cstr(w, "log_name", "audit");
    ow_str(w, "original_time", n->time);
    ow_close(w, '}');
}

/* The gateway itself, where the record names no caller (see docs: "stand-ins"). */
static void put_gateway_actor_fields(struct ow *w, const struct native *n)
{
    ow_cstr(w, "app_name", "Gatehouse");
    ow_str(w, "app_uid", n->gateway);
}

static void put_gateway_endpoint(struct ow *w, const char *key, const struct native *n)
{
    ow_open(w, key, '{');
    ow_str(w, "uid", n->gateway);
    ow_cstr(w, "svc_name", "gatehouse");
    ow_close(w, '}');
}

static void put_gateway_actor(struct ow *w, const struct native *n)
{
    ow_open(w, "actor", '{');
    put_gateway_actor_fields(w, n);
    ow_close(w, '}');
}

/* "addr:port" or "[v6]:port" into ip and port; false when it is neither. */
static bool split_addr(struct gh_slice a, char ip[64], int *port)
{
    const char *p = a.ptr;
    size_t n = a.len, hs, hl;
    const char *colon;
    if (n && p[0] == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb || (size_t)(rb - p) + 1 >= n || rb[1] != ':')
            return false;
        hs = 1;
        hl = (size_t)(rb - p) - 1;
        colon = rb + 1;
    } else {
        colon = NULL;
        for (size_t i = n; i-- > 0;)
            if (p[i] == ':') {
                colon = p + i;
                break;
            }
        if (!colon)
            return false;
        hs = 0;
        hl = (size_t)(colon - p);
    }
    size_t pl = n - (size_t)(colon + 1 - p);
    int v = 0;
    if (pl == 0 || pl > 5 || hl == 0 || hl >= 64)
        return false;
    for (size_t i = 0; i < pl; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    if (v > 65535)
        return false;
    memcpy(ip, p + hs, hl);
    ip[hl] = '\0';
    unsigned char bin[16];
    if (inet_pton(p[0] == '[' ? AF_INET6 : AF_INET, ip, bin) != 1)
        return false;
    *port = v;
    return true;
}

/* src_endpoint from the native "source"; the gateway stands in when there is none. */
static void put_src_endpoint(struct ow *w, struct native *n, int32_t source)
{
    struct gh_slice addr;
    if (!get_str(&n->r, source, "address", &addr) || !addr.len) {
        put_gateway_endpoint(w, "src_endpoint", n);
        return;
    }
    char ip[64];
    int port;
    ow_open(w, "src_endpoint", '{');
    if (split_addr(addr, ip, &port)) {
        ow_cstr(w, "ip", ip);
        ow_int(w, "port", port);
    } else {
        ow_str(w, "name", addr);
    }
    ow_close(w, '}');
}

static void put_user_agent(struct ow *w, struct native *n, int32_t source)
{
    struct gh_slice ua;
    if (!get_str(&n->r, source, "user_agent", &ua) || !ua.len)
        return;
    ow_open(w, "http_request", '{');
    ow_str(w, "user_agent", ua);
    ow_close(w, '}');
}

/* actor.user from a native principal object and/or a principal key; nothing when neither. */
static void put_user(struct ow *w, struct native *n, int32_t principal, struct gh_slice key)
{
    struct rd *r = &n->r;
    struct gh_slice sub;
    bool has_sub = get_str(r, principal, "sub", &sub);
    int32_t groups = get_arr(r, principal, "groups");
    bool any_group = groups >= 0 && gh_json_tok(r->d, (uint32_t)groups)->size > 0;
    if (!has_sub && !key.len && !any_group)
        return;
    ow_open(w, "user", '{');
    if (has_sub)
        ow_str(w, "uid", sub);
    if (key.len)
        ow_str(w, "uid_alt", key);
    if (any_group) {
        ow_open(w, "groups", '[');
        const struct gh_json_tok *gt = gh_json_tok(r->d, (uint32_t)groups);
        for (uint32_t i = 0, c = (uint32_t)groups + 1; i < gt->size; i++) {
            struct gh_slice g;
            if (tok_str(r, (int32_t)c, &g)) {
                ow_open(w, NULL, '{');
                ow_str(w, "name", g);
                ow_close(w, '}');
            }
            c = gh_json_tok(r->d, c)->end;
        }
        ow_close(w, ']');
    }
    ow_close(w, '}');
}

/* The actor of a request or session: user, session, client application, identity provider,
 * and the gateway's authorization decision; the gateway stands in when nothing is known. */
static void put_actor(struct ow *w, struct native *n, int32_t principal, struct gh_slice key,
                      struct gh_slice session, int32_t decision)
{
    struct rd *r = &n->r;
    ow_open(w, "actor", '{');
    put_user(w, n, principal, key);
    if (session.len) {
        ow_open(w, "session", '{');
        ow_str(w, "uid", session);
        ow_close(w, '}');
    }
    struct gh_slice client, iss;
    if (get_str(r, principal, "client_id", &client) && client.len) {
        ow_str(w, "app_name", client);
        ow_str(w, "app_uid", client);
    }
    if (get_str(r, principal, "iss", &iss) && iss.len) {
        ow_open(w, "idp", '{');
        ow_str(w, "name", iss);
        ow_close(w, '}');
    }
    if (decision >= 0) {
        struct gh_slice effect, rule, policy;
        get_str(r, decision, "effect", &effect);
        get_str(r, decision, "rule", &rule);
        get_str(r, decision, "policy", &policy);
        ow_open(w, "authorizations", '[');
        ow_open(w, NULL, '{');
        ow_str(w, "decision", effect);
        if (rule.len || policy.len) {
            ow_open(w, "policy", '{');
            if (policy.len)
                ow_str(w, "uid", policy);
            if (rule.len)
                ow_str(w, "name", rule);
            ow_close(w, '}');
        }
        ow_close(w, '}');
        ow_close(w, ']');
    }
    if (ow_empty(w))
        put_gateway_actor_fields(w, n);
    ow_close(w, '}');
}

static void put_api(struct ow *w, struct gh_slice operation, struct gh_slice upstream,
                    struct gh_slice rid)
{
    ow_open(w, "api", '{');
    ow_str(w, "operation", operation);
    if (upstream.len) {
        ow_open(w, "service", '{');
        ow_str(w, "name", upstream);
        ow_close(w, '}');
    }
    if (rid.len) {
        ow_open(w, "request", '{');
        ow_str(w, "uid", rid);
        ow_close(w, '}');
    }
    /* the caller closes it (request.outcome adds "response") */
}

/* Opens "unmapped" with the chain position every mapped event keeps. */
static void open_unmapped(struct ow *w, struct native *n)
{
    ow_open(w, "unmapped", '{');
    ow_int(w, "seq", n->seq);
    int32_t prev = get(&n->r, n->root, "prev");
    if (prev >= 0)
        copy(w, "prev", &n->r, prev);
}

static const char *const PRINCIPAL_REST[] = {"scopes", "act", "method", "jti", NULL};
static const char *const ACTION_REST[] = {"arguments_digest", NULL};

/* MCP method -> API Activity activity (docs/audit-ocsf.md, "Activity per method"). */
static int method_activity(struct gh_slice m)
{
    static const struct {
        const char *m;
        int id;
    } map[] = {
        {"initialize", ACT_CREATE},
        {"resources/subscribe", ACT_CREATE},
        {"tools/list", ACT_READ},
        {"resources/list", ACT_READ},
        {"resources/templates/list", ACT_READ},
        {"resources/read", ACT_READ},
        {"prompts/list", ACT_READ},
        {"prompts/get", ACT_READ},
        {"logging/setLevel", ACT_UPDATE},
        {"resources/unsubscribe", ACT_DELETE},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (gh_slice_eq_cstr(m, map[i].m))
            return map[i].id;
    return ACT_OTHER;
}

static const char *method_resource_type(struct gh_slice m)
{
    if (m.len >= 6 && memcmp(m.ptr, "tools/", 6) == 0)
        return "tool";
    if (m.len >= 8 && memcmp(m.ptr, "prompts/", 8) == 0)
        return "prompt";
    if (m.len >= 10 && memcmp(m.ptr, "resources/", 10) == 0)
        return "resource";
    return "other";
}

static void map_decision(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t principal = get_obj(r, n->root, "principal");
    int32_t source = get_obj(r, n->root, "source");
    int32_t action = get_obj(r, n->root, "action");
    int32_t decision = get_obj(r, n->root, "decision");
    int32_t trace = get_obj(r, n->root, "trace");
    int32_t prop = get_obj(r, n->root, "propagation");
    struct gh_slice session, method, upstream, name, effect = {0}, reason;
    get_str(r, n->root, "session", &session);
    get_str(r, action, "upstream", &upstream);
    get_str(r, action, "name", &name);
    get_str(r, decision, "reason", &reason);
    if (!get_str(r, action, "method", &method) || !method.len ||
        !get_str(r, decision, "effect", &effect))
        r->bad = true;
    bool allow = gh_slice_eq_cstr(effect, "allow");
    if (!allow && !gh_slice_eq_cstr(effect, "deny"))
        r->bad = true;
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = method_activity(method),
        .activity_name = method,
        .severity_id = allow ? SEV_INFO : SEV_MEDIUM,
        .status_id = allow ? ST_SUCCESS : ST_FAILURE,
        .status_code = effect,
        .status_detail = reason,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    put_actor(w, n, principal, (struct gh_slice){0}, session, decision);
    put_api(w, method, upstream, n->rid);
    ow_close(w, '}');
    if (name.len) {
        ow_open(w, "resources", '[');
        ow_open(w, NULL, '{');
        ow_str(w, "name", name);
        ow_cstr(w, "type", method_resource_type(method));
        ow_close(w, '}');
        ow_close(w, ']');
    }
    put_src_endpoint(w, n, source);
    put_user_agent(w, n, source);
    open_unmapped(w, n);
    copy_some(w, "principal", r, principal, PRINCIPAL_REST);
    copy_some(w, "action", r, action, ACTION_REST);
    if (decision >= 0)
        copy(w, "decision", r, decision);
    if (prop >= 0)
        copy(w, "propagation", r, prop);
    if (trace >= 0)
        copy(w, "trace", r, trace);
    ow_close(w, '}');
}

static void map_outcome(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t outcome = get_obj(r, n->root, "outcome");
    int32_t trace = get_obj(r, n->root, "trace");
    int64_t http = 0, dur_us = 0, rpc = 0;
    bool has_http = get_int(r, outcome, "http_status", &http);
    bool has_dur = get_int(r, outcome, "duration_us", &dur_us);
    bool has_rpc = get_int(r, outcome, "rpc_error", &rpc);
    int32_t te = get(r, outcome, "tool_error");
    bool tool_error = te >= 0 && tok_type(r, te) == GH_JSON_TRUE;
    int64_t bytes;
    get_int(r, outcome, "result_bytes", &bytes);
    if (outcome < 0)
        r->bad = true;
    if (r->bad)
        return;
    char code[24] = "", rpcs[24] = "";
    if (has_http)
        snprintf(code, sizeof(code), "%lld", (long long)http);
    if (has_rpc)
        snprintf(rpcs, sizeof(rpcs), "%lld", (long long)rpc);
    int status = !has_http                                              ? ST_UNKNOWN
                 : http >= 100 && http < 400 && !has_rpc && !tool_error ? ST_SUCCESS
                                                                        : ST_FAILURE;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = ACT_OTHER,
        .activity_name = n->type,
        .severity_id = has_http && http >= 500 ? SEV_LOW : SEV_INFO,
        .status_id = status,
        .status_code = gh_slice_cstr(code),
    };
    put_head(w, n, &e);
    if (has_dur && dur_us >= 0) {
        int64_t ms = dur_us / 1000;
        ow_int(w, "duration", ms);
        ow_int(w, "start_time", n->time_ms - ms);
        ow_int(w, "end_time", n->time_ms);
    }
    put_metadata(w, n);
    put_gateway_actor(w, n);
    put_api(w, n->type, (struct gh_slice){0}, n->rid);
    if (has_http || has_rpc) {
        ow_open(w, "response", '{');
        if (has_http)
            ow_int(w, "code", http);
        if (has_rpc)
            ow_cstr(w, "error", rpcs);
        ow_close(w, '}');
    }
    ow_close(w, '}');
    put_gateway_endpoint(w, "src_endpoint", n);
    open_unmapped(w, n);
    copy(w, "outcome", r, outcome);
    if (trace >= 0)
        copy(w, "trace", r, trace);
    ow_close(w, '}');
}

static void map_auth_failure(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t source = get_obj(r, n->root, "source");
    int32_t auth = get_obj(r, n->root, "auth");
    int32_t trace = get_obj(r, n->root, "trace");
    struct gh_slice error, reason, ua;
    get_str(r, auth, "error", &error);
    get_str(r, auth, "reason", &reason);
    get_str(r, source, "user_agent", &ua);
    int64_t st;
    get_int(r, auth, "status", &st);
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_AUTH,
        .activity_id = ACT_LOGON,
        .severity_id = SEV_LOW,
        .status_id = ST_FAILURE,
        .status_code = error,
        .status_detail = reason,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    ow_int(w, "auth_protocol_id", 6);
    ow_cstr(w, "auth_protocol", "OAUTH 2.0");
    ow_open(w, "user", '{'); /* required; the subject is unknown: its credential was refused */
    ow_int(w, "type_id", 0);
    ow_cstr(w, "type", "Unknown");
    ow_close(w, '}');
    put_src_endpoint(w, n, source);
    put_gateway_endpoint(w, "dst_endpoint", n);
    open_unmapped(w, n);
    if (auth >= 0)
        copy(w, "auth", r, auth);
    if (ua.len) {
        ow_open(w, "source", '{');
        ow_str(w, "user_agent", ua);
        ow_close(w, '}');
    }
    if (trace >= 0)
        copy(w, "trace", r, trace);
    ow_close(w, '}');
}

/* A live session id refused: API Activity, Other, a failure worth a look (possible hijack). */
static void map_session_refused(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t principal = get_obj(r, n->root, "principal");
    int32_t source = get_obj(r, n->root, "source");
    int32_t trace = get_obj(r, n->root, "trace");
    struct gh_slice session, reason;
    get_str(r, n->root, "session", &session);
    if (!get_str(r, n->root, "reason", &reason) || !reason.len)
        r->bad = true;
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = ACT_OTHER,
        .activity_name = n->type,
        .severity_id = SEV_MEDIUM,
        .status_id = ST_FAILURE,
        .status_code = GH_SLICE_LIT("404"),
        .status_detail = reason,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    put_actor(w, n, principal, (struct gh_slice){0}, session, -1);
    put_api(w, n->type, (struct gh_slice){0}, (struct gh_slice){0});
    ow_close(w, '}');
    put_src_endpoint(w, n, source);
    put_user_agent(w, n, source);
    open_unmapped(w, n);
    copy_some(w, "principal", r, principal, PRINCIPAL_REST);
    if (trace >= 0)
        copy(w, "trace", r, trace);
    ow_close(w, '}');
}

static void map_session(struct ow *w, struct native *n, bool start)
{
    struct rd *r = &n->r;
    int32_t principal = get_obj(r, n->root, "principal");
    struct gh_slice session, key, upstream, reason;
    get_str(r, n->root, "session", &session);
    get_str(r, n->root, "principal_key", &key);
    get_str(r, n->root, "upstream", &upstream);
    get_str(r, n->root, "reason", &reason);
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = start ? ACT_CREATE : ACT_DELETE,
        .severity_id = SEV_INFO,
        .status_id = ST_SUCCESS,
        .status_detail = reason,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    put_actor(w, n, principal, key, session, -1);
    put_api(w, n->type, upstream, (struct gh_slice){0});
    ow_close(w, '}');
    put_gateway_endpoint(w, "src_endpoint", n);
    open_unmapped(w, n);
    copy_some(w, "principal", r, principal, PRINCIPAL_REST);
    ow_close(w, '}');
}

static void map_tool_changed(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t digest = get_obj(r, n->root, "digest");
    struct gh_slice upstream, name, approved, now;
    get_str(r, n->root, "upstream", &upstream);
    get_str(r, n->root, "name", &name);
    bool was_approved = get_str(r, digest, "approved", &approved) && approved.len;
    get_str(r, digest, "now", &now);
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = ACT_UPDATE,
        .severity_id = was_approved ? SEV_HIGH : SEV_MEDIUM,
        .status_id = ST_SUCCESS,
        .status_detail = gh_slice_cstr(was_approved ? "differs_from_approved" : "not_approved"),
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    if (upstream.len) {
        ow_open(w, "actor", '{');
        ow_str(w, "app_name", upstream);
        ow_close(w, '}');
    } else {
        put_gateway_actor(w, n);
    }
    put_api(w, n->type, upstream, (struct gh_slice){0});
    ow_close(w, '}');
    ow_open(w, "resources", '[');
    ow_open(w, NULL, '{');
    if (name.len)
        ow_str(w, "name", name);
    ow_cstr(w, "type", "tool");
    if (digest >= 0)
        copy(w, "data", r, digest);
    ow_close(w, '}');
    ow_close(w, ']');
    put_gateway_endpoint(w, "src_endpoint", n);
    open_unmapped(w, n);
    ow_close(w, '}');
}

static void map_config_reload(struct ow *w, struct native *n)
{
    struct rd *r = &n->r;
    int32_t config = get_obj(r, n->root, "config");
    struct gh_slice result;
    bool rejected = get_str(r, config, "result", &result) && gh_slice_eq_cstr(result, "rejected");
    if (r->bad)
        return;
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = ACT_UPDATE,
        .severity_id = SEV_LOW,
        .status_id = rejected ? ST_FAILURE : ST_SUCCESS,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    put_gateway_actor(w, n);
    put_api(w, n->type, (struct gh_slice){0}, (struct gh_slice){0});
    ow_close(w, '}');
    put_gateway_endpoint(w, "src_endpoint", n);
    open_unmapped(w, n);
    if (config >= 0)
        copy(w, "config", r, config);
    ow_close(w, '}');
}

/* audit.start, audit.checkpoint and types this version does not know. */
static void map_other(struct ow *w, struct native *n)
{
    struct ev e = {
        .class_uid = CLASS_API,
        .activity_id = ACT_OTHER,
        .activity_name = n->type,
        .severity_id = SEV_INFO,
        .status_id = ST_SUCCESS,
    };
    put_head(w, n, &e);
    put_metadata(w, n);
    put_gateway_actor(w, n);
    put_api(w, n->type, (struct gh_slice){0}, (struct gh_slice){0});
    ow_close(w, '}');
    put_gateway_endpoint(w, "src_endpoint", n);
    copy(w, "unmapped", &n->r, n->root);
}

enum gh_rc gh_audit_ocsf_from_native(const char *line, size_t len, struct gh_buf *out)
{
    if (!line)
        return GH_E_PARSE;
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc doc;
    struct gh_json_limits lim = {.max_depth = PARSE_DEPTH};
    enum gh_rc rc = GH_E_PARSE;
    if (gh_json_parse(a, line, len, &lim, &doc, NULL) != GH_OK ||
        doc.toks[0].type != GH_JSON_OBJECT)
        goto out;
    struct native n = {.r = {.d = &doc, .a = a}, .root = 0};
    int64_t v = 0;
    if (!get_int(&n.r, 0, "v", &v) || v != 1 || !get_int(&n.r, 0, "seq", &n.seq) || n.seq < 1 ||
        !get_str(&n.r, 0, "time", &n.time) || !parse_time(n.time, &n.time_ms) ||
        !get_str(&n.r, 0, "type", &n.type) || !n.type.len ||
        !get_str(&n.r, 0, "gateway", &n.gateway) || !n.gateway.len)
        goto out;
    struct gh_slice prev;
    get_str(&n.r, 0, "prev", &prev);
    get_str(&n.r, 0, "rid", &n.rid);
    if (n.r.bad)
        goto out;

    size_t mark = out->len;
    struct ow w = {.b = out};
    ow_raw(&w, "{", 1);
    w.depth = 1;
    if (gh_slice_eq_cstr(n.type, "request.decision"))
        map_decision(&w, &n);
    else if (gh_slice_eq_cstr(n.type, "request.outcome"))
        map_outcome(&w, &n);
    else if (gh_slice_eq_cstr(n.type, "auth.failure"))
        map_auth_failure(&w, &n);
    else if (gh_slice_eq_cstr(n.type, "session.start"))
        map_session(&w, &n, true);
    else if (gh_slice_eq_cstr(n.type, "session.end"))
        map_session(&w, &n, false);
    else if (gh_slice_eq_cstr(n.type, "session.refused"))
        map_session_refused(&w, &n);
    else if (gh_slice_eq_cstr(n.type, "tool.definition_changed"))
        map_tool_changed(&w, &n);
    else if (gh_slice_eq_cstr(n.type, "config.reload"))
        map_config_reload(&w, &n);
    else
        map_other(&w, &n);
    ow_raw(&w, "}", 1);
    rc = n.r.bad ? GH_E_PARSE : w.rc;
    if (rc != GH_OK)
        out->len = mark;
out:
    gh_arena_free(a);
    return rc;
}
