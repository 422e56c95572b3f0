/*
 * mcp/inspect.c owns the inspection boundary of each upstream (propagation.upstreams.NAME.inspect
 * and redact): a policy that would need to read more than the boundary allows is refused when it
 * is loaded or reloaded, and the argument members named by JSON Pointers are removed from a
 * request before it is forwarded, the removal spliced out of the original bytes.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool gh_mcp_inspect_policy_ok(const struct gh_mcp_gateway *gw, const struct gh_policy *p, char *err,
                              size_t errlen)
{
    for (size_t i = 0; i < gw->cfg->n_upstreams; i++) {
        const struct gh_prop_upstream *u = gh_prop_upstream(gw->prop, i);
        if (gh_prop_upstream_inspect(u) >= GH_PROP_INSPECT_ARGUMENTS)
            continue;
        const char *rule = gh_policy_argument_rule(p, i);
        if (rule) {
            snprintf(err, errlen,
                     "policy rule %s reads tool arguments, but upstream %s may be inspected for "
                     "its method only (propagation.upstreams.%s.inspect: method)",
                     rule, gw->cfg->upstreams[i].name, gw->cfg->upstreams[i].name);
            return false;
        }
    }
    return true;
}

/* One pointer segment, unescaped (~1 is '/', ~0 is '~'), into out; where the next one starts. */
static const char *segment(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && *s != '/'; s++) {
        char c = *s;
        if (c == '~') {
            c = s[1] == '1' ? '/' : '~';
            s++;
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    out[n] = '\0';
    return s;
}

struct span {
    uint32_t from, to; /* bytes [from, to) of the body go away */
};

/* Where an object member (key at k) and one comma next to it lie, so removing them leaves
 * valid JSON. prev_end: one past the previous member's value, 0 when it is the first. */
static struct span member_span(const struct gh_json_doc *d, int32_t obj, int32_t k,
                               uint32_t prev_end)
{
    const struct gh_json_tok *key = &d->toks[k], *val = &d->toks[k + 1];
    uint32_t val_end = val->start + val->len;
    uint32_t next = val->end; /* token index after the value's subtree */
    bool has_next = next < d->toks[obj].end;
    if (has_next)
        return (struct span){key->start, d->toks[next].start};
    if (prev_end)
        return (struct span){prev_end, val_end};
    return (struct span){key->start, val_end};
}

/* The span of pointer ptr inside the object args, if the member exists. */
static bool find_member(const struct gh_json_doc *d, int32_t args, const char *ptr,
                        struct span *out)
{
    int32_t obj = args;
    char seg[257];
    const char *s = ptr;
    while (*s == '/') {
        s = segment(s + 1, seg, sizeof(seg));
        if (obj < 0 || d->toks[obj].type != GH_JSON_OBJECT)
            return false;
        uint32_t prev_end = 0;
        int32_t found = -1;
        for (uint32_t k = (uint32_t)obj + 1; k < d->toks[obj].end; k = d->toks[k + 1].end) {
            struct gh_slice raw = gh_json_raw(d, k);
            bool same = !(d->toks[k].flags & GH_JSON_F_ESCAPED) && raw.len == strlen(seg) + 2 &&
                        memcmp(raw.ptr + 1, seg, raw.len - 2) == 0;
            if (same) {
                found = (int32_t)k;
                break;
            }
            prev_end = d->toks[k + 1].start + d->toks[k + 1].len;
        }
        if (found < 0)
            return false;
        if (*s != '/') {
            *out = member_span(d, obj, found, prev_end);
            return true;
        }
        obj = found + 1;
    }
    return false;
}

/* params.arguments of a single request in json, or -1. */
static int32_t arguments_of(const struct gh_json_doc *d)
{
    if (d->toks[0].type != GH_JSON_OBJECT)
        return -1;
    int32_t params = gh_json_obj_get(d, 0, "params", 6);
    if (params < 0 || d->toks[params].type != GH_JSON_OBJECT)
        return -1;
    return gh_json_obj_get(d, (uint32_t)params, "arguments", 9);
}

/* result of a response (no error member), or -1. */
static int32_t result_of(const struct gh_json_doc *d)
{
    if (d->toks[0].type != GH_JSON_OBJECT || gh_json_obj_get(d, 0, "error", 5) >= 0)
        return -1;
    return gh_json_obj_get(d, 0, "result", 6);
}

static char *redact_under(const char *msg, size_t len, const char *const *ptrs, size_t np,
                          bool *removed, size_t *outlen,
                          int32_t (*root)(const struct gh_json_doc *))
{
    struct gh_buf cur;
    gh_buf_init(&cur, len + 1);
    gh_buf_append(&cur, msg, len);
    struct gh_json_limits lim = {.max_bytes = len + 1, .max_depth = 512};
    bool changed = false;
    /* one pointer at a time, parsed again after each removal: removals never overlap, and
     * the commas around them stay right however many members of one object go */
    for (size_t i = 0; i < np; i++) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d;
        struct gh_json_err e;
        struct span sp;
        removed[i] = false;
        if (gh_json_parse(a, cur.data ? cur.data : "", cur.len, &lim, &d, &e) == GH_OK &&
            find_member(&d, root(&d), ptrs[i], &sp)) {
            memmove(cur.data + sp.from, cur.data + sp.to, cur.len - sp.to);
            cur.len -= sp.to - sp.from;
            changed = removed[i] = true;
        }
        gh_arena_free(a);
    }
    char *out = changed ? gh_xstrndup(cur.data, cur.len) : NULL;
    *outlen = changed ? cur.len : 0;
    gh_buf_release(&cur);
    return out;
}

char *gh_mcp_redact_bytes(const char *msg, size_t len, const char *const *ptrs, size_t np,
                          bool *removed, size_t *outlen)
{
    return redact_under(msg, len, ptrs, np, removed, outlen, arguments_of);
}

char *gh_mcp_redact_result_bytes(const char *msg, size_t len, const char *const *ptrs, size_t np,
                                 bool *removed, size_t *outlen)
{
    return redact_under(msg, len, ptrs, np, removed, outlen, result_of);
}

bool gh_mcp_redacts_results(struct gh_mcp_gateway *gw, size_t upstream)
{
    const char *const *ptrs;
    return gh_prop_upstream_result_redactions(gh_prop_upstream(gw->prop, upstream), &ptrs) > 0;
}

char *gh_mcp_redact_answer(struct gh_mcp_gateway *gw, size_t upstream, const char *msg, size_t len,
                           size_t *outlen, unsigned *mask)
{
    const char *const *ptrs;
    size_t np = gh_prop_upstream_result_redactions(gh_prop_upstream(gw->prop, upstream), &ptrs);
    bool removed[GH_PROP_MAX_REDACTIONS];
    *outlen = 0;
    if (!np)
        return NULL;
    char *out = gh_mcp_redact_result_bytes(msg, len, ptrs, np, removed, outlen);
    for (size_t i = 0; out && i < np; i++)
        if (removed[i])
            *mask |= 1u << i;
    return out;
}

void gh_mcp_redact_arguments(struct gh_mcp_gateway *gw, const struct gh_mcp_route *rt,
                             struct gh_http_req *r, const struct gh_jsonrpc_body *body,
                             struct gh_mcp_reqaudit *ra)
{
    const char *const *ptrs;
    size_t np = gh_prop_upstream_redactions(gh_prop_upstream(gw->prop, rt->u->index), &ptrs);
    if (!np || body->batch || body->count != 1 || body->msgs[0].arguments < 0)
        return;
    struct gh_slice in = gh_http_req_body(r);
    bool removed[GH_PROP_MAX_REDACTIONS];
    size_t n = 0;
    char *out = gh_mcp_redact_bytes(in.ptr, in.len, ptrs, np, removed, &n);
    if (!out)
        return;
    for (size_t i = 0; i < np; i++)
        if (removed[i] && ra && ra->nredacted < GH_PROP_MAX_REDACTIONS)
            ra->redacted[ra->nredacted++] = ptrs[i];
    gh_http_req_replace_body(r, out, n);
    free(out);
}
