/*
 * policy/filter.c owns filtering list results for one caller: tools/list, prompts/list,
 * resources/list and resources/templates/list answers lose the entries the caller may not use,
 * entries whose names break the spec's character rules, and (tools) definitions pinning has not
 * approved. The message is rebuilt from the kept entries' original bytes; nothing else changes.
 */
#include "core/core.h"
#include "policy/internal.h"

#include <stdio.h>
#include <string.h>

struct list_shape {
    const char *method, *member, *key;
    enum gh_policy_kind kind;
};

static const struct list_shape SHAPES[] = {
    {"tools/list", "tools", "name", GH_POLICY_K_TOOL},
    {"prompts/list", "prompts", "name", GH_POLICY_K_PROMPT},
    {"resources/list", "resources", "uri", GH_POLICY_K_RESOURCE},
    {"resources/templates/list", "resourceTemplates", "uriTemplate", GH_POLICY_K_RESOURCE},
};

static const struct list_shape *shape_of(struct gh_slice method)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(SHAPES); i++)
        if (gh_slice_eq_cstr(method, SHAPES[i].method))
            return &SHAPES[i];
    return NULL;
}

/* Whether one entry stays: a valid name the subject may use, and (tools) an approved definition. */
static bool keep(const struct gh_policy *p, const struct gh_policy_subject *s,
                 struct gh_slice upstream, const struct list_shape *sh, struct gh_arena *a,
                 const struct gh_json_doc *d, uint32_t entry, size_t prefix)
{
    if (d->toks[entry].type != GH_JSON_OBJECT)
        return false;
    int32_t k = gh_json_obj_get(d, entry, sh->key, strlen(sh->key));
    struct gh_slice name;
    if (k < 0 || gh_json_str(d, a, (uint32_t)k, &name) != GH_OK)
        return false;
    if (sh->kind != GH_POLICY_K_RESOURCE) {
        if (name.len <= prefix)
            return false;
        name = gh_slice(name.ptr + prefix, name.len - prefix);
        if (!gh_policy_name_valid(name))
            return false;
    } else if (!name.len || memchr(name.ptr, '\0', name.len)) {
        return false;
    }
    if (!gh_policy_listable(p, s, upstream, sh->kind, name))
        return false;
    if (sh->kind != GH_POLICY_K_TOOL || !gh_policy_pinning(p))
        return true;
    char digest[GH_POLICY_DIGEST_HEX + 1];
    if (gh_policy_tool_digest(d, entry, prefix, digest) != GH_OK)
        return false;
    (void)digest;
    return gh_policy_pin_check(p, upstream, name) == GH_POLICY_PIN_OK; /* observe_all ran */
}

/* Pinning observes every definition, not only the ones this caller sees: a change is reported
 * whoever lists first. */
static void observe_all(const struct gh_policy *p, struct gh_slice upstream,
                        const struct gh_json_doc *d, uint32_t arr, size_t prefix,
                        struct gh_arena *a)
{
    for (uint32_t e = arr + 1; e < d->toks[arr].end; e = d->toks[e].end) {
        int32_t k = d->toks[e].type == GH_JSON_OBJECT ? gh_json_obj_get(d, e, "name", 4) : -1;
        struct gh_slice name;
        char digest[GH_POLICY_DIGEST_HEX + 1];
        if (k < 0 || gh_json_str(d, a, (uint32_t)k, &name) != GH_OK || name.len <= prefix)
            continue;
        name = gh_slice(name.ptr + prefix, name.len - prefix);
        if (gh_policy_name_valid(name) && gh_policy_tool_digest(d, e, prefix, digest) == GH_OK)
            gh_policy_pin_observe(p, upstream, name, digest);
    }
}

/* Every name the upstream lists, whoever asked: calls to other names are answered as unknown. */
static void record_names(const struct gh_policy *p, struct gh_slice upstream,
                         enum gh_policy_kind kind, const struct gh_json_doc *d, uint32_t arr,
                         size_t prefix, struct gh_arena *a)
{
    for (uint32_t e = arr + 1; e < d->toks[arr].end; e = d->toks[e].end) {
        int32_t k = d->toks[e].type == GH_JSON_OBJECT ? gh_json_obj_get(d, e, "name", 4) : -1;
        struct gh_slice name;
        if (k >= 0 && gh_json_str(d, a, (uint32_t)k, &name) == GH_OK && name.len > prefix)
            gh_policy_known_add(p, upstream, kind, gh_slice(name.ptr + prefix, name.len - prefix));
    }
}

void gh_policy_known_add(const struct gh_policy *p, struct gh_slice upstream,
                         enum gh_policy_kind kind, struct gh_slice name)
{
    if (p && p->known)
        gh_policy__known_add(p->known, upstream, kind, name);
}

enum gh_rc gh_policy_filter_list(const struct gh_policy *p, const struct gh_policy_subject *s,
                                 struct gh_slice upstream, struct gh_slice method,
                                 size_t name_prefix, const char *msg, size_t len, char **out,
                                 size_t *outlen)
{
    const struct list_shape *sh = shape_of(method);
    if (!sh)
        return GH_E_PARSE;
    struct gh_arena *a = gh_arena_new(8192);
    struct gh_json_doc d;
    enum gh_rc rc = GH_E_PARSE;
    if (gh_json_parse(a, msg, len, NULL, &d, NULL) != GH_OK || d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    int32_t res = gh_json_obj_get(&d, 0, "result", 6);
    int32_t arr =
        res >= 0 ? gh_json_obj_get(&d, (uint32_t)res, sh->member, strlen(sh->member)) : -1;
    if (arr < 0 || d.toks[arr].type != GH_JSON_ARRAY)
        goto out;
    if (sh->kind != GH_POLICY_K_RESOURCE)
        record_names(p, upstream, sh->kind, &d, (uint32_t)arr, name_prefix, a);
    if (sh->kind == GH_POLICY_K_TOOL && gh_policy_pinning(p))
        observe_all(p, upstream, &d, (uint32_t)arr, name_prefix, a);
    struct gh_buf b;
    gh_buf_init(&b, len + 16);
    const struct gh_json_tok *t = &d.toks[arr];
    gh_buf_append(&b, msg, t->start + 1); /* everything up to and including '[' */
    bool first = true;
    for (uint32_t e = (uint32_t)arr + 1; e < t->end; e = d.toks[e].end) {
        if (!keep(p, s, upstream, sh, a, &d, e, name_prefix))
            continue;
        if (!first)
            gh_buf_append(&b, ",", 1);
        struct gh_slice raw = gh_json_raw(&d, e);
        gh_buf_append(&b, raw.ptr, raw.len);
        first = false;
    }
    size_t after = t->start + t->len - 1; /* the closing ']' and the rest */
    gh_buf_append(&b, msg + after, len - after);
    *outlen = b.len;
    *out = gh_xstrndup(b.data, b.len);
    gh_buf_release(&b);
    rc = GH_OK;
out:
    gh_arena_free(a);
    return rc;
}
