/*
 * json/jsonrpc.c owns the JSON-RPC 2.0 message model: shape validation of one message or a
 * batch, the id rules, method and params.name/params.uri extraction, refusal of member names
 * that fold onto a protocol member, and the error-response writer.
 */
#include "core/core.h"
#include "json/json.h"

#include <stdio.h>

#include "json/internal.h"

enum member {
    M_JSONRPC = 0,
    M_ID,
    M_METHOD,
    M_PARAMS,
    M_RESULT,
    M_ERROR,
    M_COUNT,
};

static const struct gh_slice top_names[M_COUNT] = {
    GH_SLICE_LIT("jsonrpc"), GH_SLICE_LIT("id"),     GH_SLICE_LIT("method"),
    GH_SLICE_LIT("params"),  GH_SLICE_LIT("result"), GH_SLICE_LIT("error"),
};

enum pmember {
    P_NAME = 0,
    P_URI,
    P_ARGUMENTS,
    P_META,
    P_COUNT,
};

static const struct gh_slice param_names[P_COUNT] = {
    GH_SLICE_LIT("name"),
    GH_SLICE_LIT("uri"),
    GH_SLICE_LIT("arguments"),
    GH_SLICE_LIT("_meta"),
};

struct ctx {
    const struct gh_json_doc *doc;
    struct gh_arena *a;
    struct gh_jsonrpc_err *err;
    uint32_t index;
};

static enum gh_rc refuse(struct ctx *c, enum gh_rc rc, int code, uint32_t tok, const char *why)
{
    if (c->err) {
        c->err->code = code;
        c->err->offset = c->doc->toks[tok].start;
        c->err->reason = why;
        c->err->index = c->index;
    }
    return rc;
}

/* Folds one decoded code point the way lenient decoders match names: ASCII case, and the
 * Unicode characters whose simple case folding lands on ASCII (ſ -> s, K -> k, İ/ı -> i). */
static int fold_at(const unsigned char *s, size_t n, size_t *used)
{
    *used = 1;
    if (s[0] >= 'A' && s[0] <= 'Z')
        return s[0] | 0x20;
    if (s[0] < 0x80 || n < 2)
        return s[0];
    *used = 2;
    if (s[0] == 0xC5 && s[1] == 0xBF)
        return 's';
    if (s[0] == 0xC4 && (s[1] == 0xB0 || s[1] == 0xB1))
        return 'i';
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x84 && s[2] == 0xAA) {
        *used = 3;
        return 'k';
    }
    *used = 1;
    return s[0];
}

/* True when key token k folds onto (but is not exactly) the ASCII name. */
static bool confusable(const struct gh_json_doc *d, uint32_t k, struct gh_slice name)
{
    unsigned char buf[48];
    size_t n = 0, i = 0, used;
    int ch;
    struct gh_json_dec it;
    gh_json__dec_init(&it, d, k);
    while ((ch = gh_json__dec_next(&it)) >= 0) {
        if (n == sizeof(buf))
            return false; /* three bytes per folded char at most: too long to fold onto name */
        buf[n++] = (unsigned char)ch;
    }
    for (size_t j = 0; j < name.len; j++, i += used)
        if (i >= n || fold_at(buf + i, n - i, &used) != name.ptr[j])
            return false;
    return i == n;
}

/* Finds the known members of object obj (idx[m] = value token or -1) and refuses look-alikes. */
static enum gh_rc members(struct ctx *c, uint32_t obj, const struct gh_slice *names, int count,
                          int32_t *idx)
{
    const struct gh_json_doc *d = c->doc;
    for (int m = 0; m < count; m++)
        idx[m] = -1;
    for (uint32_t k = obj + 1; k < d->toks[obj].end; k = d->toks[k + 1].end) {
        int m;
        for (m = 0; m < count; m++)
            if (gh_json__str_eq_raw(d, k, names[m].ptr, names[m].len))
                break;
        if (m < count) {
            idx[m] = (int32_t)(k + 1);
            continue;
        }
        for (m = 0; m < count; m++)
            if (confusable(d, k, names[m]))
                return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, k,
                              "member name folds onto a protocol member");
    }
    return GH_OK;
}

static uint8_t type_of(const struct ctx *c, int32_t i)
{
    return c->doc->toks[i].type;
}

static enum gh_rc read_id(struct ctx *c, int32_t id, struct gh_jsonrpc_msg *m)
{
    if (id < 0)
        return GH_OK;
    switch (type_of(c, id)) {
    case GH_JSON_NULL:
        m->id_type = GH_JSONRPC_ID_NULL;
        break;
    case GH_JSON_STRING:
        m->id_type = GH_JSONRPC_ID_STR;
        break;
    case GH_JSON_NUMBER:
        if (gh_json_int64(c->doc, (uint32_t)id, &m->id_int) != GH_OK)
            return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)id,
                          "id must be a string or an int64 integer");
        m->id_type = GH_JSONRPC_ID_INT;
        break;
    default:
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)id,
                      "id must be a string or an integer");
    }
    m->id_raw = gh_json_raw(c->doc, (uint32_t)id);
    return GH_OK;
}

/* Methods whose params must name their target, so policy always has a name to decide on. */
static bool needs_name(struct gh_slice method)
{
    return gh_slice_eq_cstr(method, "tools/call") || gh_slice_eq_cstr(method, "prompts/get");
}

/* resources/subscribe and unsubscribe are not here: 2026-07-28 removed them, and a client of
 * that revision sending one must get the upstream's 404 / -32601, not a params error. */
static bool needs_uri(struct gh_slice method)
{
    return gh_slice_eq_cstr(method, "resources/read");
}

static enum gh_rc read_params(struct ctx *c, struct gh_jsonrpc_msg *m)
{
    int32_t p[P_COUNT] = {-1, -1, -1, -1};
    enum gh_rc rc;
    uint32_t at = m->params >= 0 ? (uint32_t)m->params : m->tok;
    if (m->params >= 0 && type_of(c, m->params) == GH_JSON_OBJECT) {
        rc = members(c, (uint32_t)m->params, param_names, P_COUNT, p);
        if (rc)
            return rc;
    }
    if (p[P_NAME] >= 0 && type_of(c, p[P_NAME]) == GH_JSON_STRING)
        gh_json_str(c->doc, c->a, (uint32_t)p[P_NAME], &m->name);
    if (p[P_URI] >= 0 && type_of(c, p[P_URI]) == GH_JSON_STRING)
        gh_json_str(c->doc, c->a, (uint32_t)p[P_URI], &m->uri);
    m->arguments = p[P_ARGUMENTS];
    if (needs_name(m->method) && !m->name.ptr)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_PARAMS, at, "params.name must be a string");
    if (needs_uri(m->method) && !m->uri.ptr)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_PARAMS, at, "params.uri must be a string");
    return GH_OK;
}

static enum gh_rc read_request(struct ctx *c, const int32_t *f, struct gh_jsonrpc_msg *m)
{
    if (type_of(c, f[M_METHOD]) != GH_JSON_STRING)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)f[M_METHOD],
                      "method must be a string");
    if (f[M_RESULT] >= 0 || f[M_ERROR] >= 0)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, m->tok,
                      "request carries result or error");
    if (m->id_type == GH_JSONRPC_ID_NULL)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)f[M_ID],
                      "request id must not be null");
    if (f[M_PARAMS] >= 0 && type_of(c, f[M_PARAMS]) != GH_JSON_OBJECT &&
        type_of(c, f[M_PARAMS]) != GH_JSON_ARRAY)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)f[M_PARAMS],
                      "params must be an object or an array");
    m->kind = f[M_ID] >= 0 ? GH_JSONRPC_REQUEST : GH_JSONRPC_NOTIFICATION;
    m->params = f[M_PARAMS];
    gh_json_str(c->doc, c->a, (uint32_t)f[M_METHOD], &m->method);
    return read_params(c, m);
}

static enum gh_rc check_error_obj(struct ctx *c, int32_t e)
{
    if (type_of(c, e) != GH_JSON_OBJECT)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)e,
                      "error must be an object");
    int32_t code = gh_json_obj_get(c->doc, (uint32_t)e, "code", 4);
    int32_t msg = gh_json_obj_get(c->doc, (uint32_t)e, "message", 7);
    int64_t v;
    if (code < 0 || gh_json_int64(c->doc, (uint32_t)code, &v) != GH_OK || v < INT32_MIN ||
        v > INT32_MAX || msg < 0 || type_of(c, msg) != GH_JSON_STRING)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)e,
                      "error needs an integer code and a string message");
    return GH_OK;
}

static enum gh_rc read_response(struct ctx *c, const int32_t *f, struct gh_jsonrpc_msg *m)
{
    if (f[M_ID] < 0)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, m->tok, "missing method or id");
    if ((f[M_RESULT] >= 0) == (f[M_ERROR] >= 0))
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, m->tok,
                      "response needs exactly one of result and error");
    if (f[M_PARAMS] >= 0)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, m->tok, "response carries params");
    m->result = f[M_RESULT];
    m->error = f[M_ERROR];
    if (m->result >= 0) {
        m->kind = GH_JSONRPC_RESULT;
        if (m->id_type == GH_JSONRPC_ID_NULL)
            return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, (uint32_t)f[M_ID],
                          "result id must not be null");
        return GH_OK;
    }
    m->kind = GH_JSONRPC_ERROR;
    return check_error_obj(c, m->error);
}

static enum gh_rc read_msg(struct ctx *c, uint32_t tok, struct gh_jsonrpc_msg *m)
{
    int32_t f[M_COUNT];
    enum gh_rc rc;
    *m = (struct gh_jsonrpc_msg){
        .tok = tok, .params = -1, .arguments = -1, .result = -1, .error = -1};
    if (c->doc->toks[tok].type != GH_JSON_OBJECT)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, tok, "message is not an object");
    rc = members(c, tok, top_names, M_COUNT, f);
    if (rc)
        return rc;
    rc = read_id(c, f[M_ID], m);
    if (rc)
        return rc;
    if (f[M_JSONRPC] < 0 || !gh_json_str_eq(c->doc, (uint32_t)f[M_JSONRPC], "2.0", 3))
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST,
                      f[M_JSONRPC] < 0 ? tok : (uint32_t)f[M_JSONRPC], "jsonrpc must be \"2.0\"");
    if (f[M_METHOD] >= 0)
        return read_request(c, f, m);
    return read_response(c, f, m);
}

static enum gh_rc read_all(struct ctx *c, const struct gh_jsonrpc_limits *lim,
                           struct gh_jsonrpc_body *out)
{
    const struct gh_json_tok *root = &out->doc.toks[0];
    uint32_t max_batch = lim && lim->max_batch ? lim->max_batch : GH_JSONRPC_DEFAULT_BATCH;
    out->batch = root->type == GH_JSON_ARRAY;
    out->count = out->batch ? root->size : 1;
    if (out->batch && out->count == 0)
        return refuse(c, GH_E_PARSE, GH_JSONRPC_INVALID_REQUEST, 0, "empty batch");
    if (out->count > max_batch)
        return refuse(c, GH_E_LIMIT, GH_JSONRPC_INVALID_REQUEST, 0, "batch too long");
    out->msgs = gh_arena_alloc(c->a, out->count * sizeof(*out->msgs));
    uint32_t tok = out->batch ? 1 : 0;
    for (c->index = 0; c->index < out->count; c->index++) {
        enum gh_rc rc = read_msg(c, tok, &out->msgs[c->index]);
        if (rc) {
            if (c->err)
                c->err->id_raw = out->msgs[c->index].id_raw;
            return rc;
        }
        tok = out->doc.toks[tok].end;
    }
    return GH_OK;
}

enum gh_rc gh_jsonrpc_parse(struct gh_arena *a, const char *body, size_t len,
                            const struct gh_jsonrpc_limits *lim, struct gh_jsonrpc_body *out,
                            struct gh_jsonrpc_err *err)
{
    struct gh_json_err jerr = {0};
    struct ctx c = {.doc = &out->doc, .a = a, .err = err};
    *out = (struct gh_jsonrpc_body){0};
    if (err)
        *err = (struct gh_jsonrpc_err){0};
    enum gh_rc rc = gh_json_parse(a, body, len, lim ? &lim->json : NULL, &out->doc, &jerr);
    if (rc) {
        if (err) {
            err->code = GH_JSONRPC_PARSE_ERROR;
            err->offset = jerr.offset;
            err->reason = jerr.reason;
        }
        return rc;
    }
    return read_all(&c, lim, out);
}

enum gh_rc gh_jsonrpc_error_write(struct gh_buf *b, struct gh_slice id_raw, int code,
                                  const char *message)
{
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    char mid[48];
    enum gh_rc rc = gh_buf_append(b, head, sizeof(head) - 1);
    if (!rc)
        rc = id_raw.ptr ? gh_buf_append(b, id_raw.ptr, id_raw.len) : gh_buf_append(b, "null", 4);
    int n = snprintf(mid, sizeof(mid), ",\"error\":{\"code\":%d,\"message\":", code);
    if (!rc)
        rc = gh_buf_append(b, mid, (size_t)n);
    if (!rc)
        rc = gh_json_write_str(b, message, strlen(message));
    if (!rc)
        rc = gh_buf_append(b, "}}", 2);
    return rc;
}
