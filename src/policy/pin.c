/*
 * policy/pin.c owns tool pinning (the rug-pull defence): the digest of a tool definition, the
 * approved digests (config list and the pin store file), what each upstream's tools look like
 * now, and `gatehouse tools approve`. A definition whose digest is not approved is hidden from
 * lists and its calls are denied; every change is logged once.
 *
 * The store is JSON, written atomically (temp file + rename), re-read when its mtime changes,
 * so an approval from the CLI takes effect in a running gateway within a second:
 *   {"version":1,"tools":{"<upstream>":{"<tool>":{"approved":"<hex>","pending":"<hex>"}}}}
 * Canonical JSON for the digest is jansson's compact, key-sorted, ASCII-escaped dump — this is
 * a cold path (once per listed tool), so the DOM library is fine here.
 */
#include "core/core.h"
#include "policy/internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PIN_MAX_TOOLS 65536

struct pin {
    char *upstream, *name;
    char approved[GH_POLICY_DIGEST_HEX + 1]; /* "" when none */
    char seen[GH_POLICY_DIGEST_HEX + 1];     /* the definition listed last, "" before that */
    char logged[GH_POLICY_DIGEST_HEX + 1];   /* the last pending digest we warned about */
};

struct gh_policy__pins {
    bool enforce, tofu;
    char *store;
    pthread_mutex_t mu;
    struct pin *v;
    size_t n, cap;
    struct timespec mtime; /* of the store when last read */
    gh_policy_change_fn hook;
    void *hook_arg;
    int64_t checked_ms;
};

static const char *const MODES[] = {"off", "enforce"};
static const char *const FIRST_USE[] = {"hold", "approve"};

static struct pin *pin_find(struct gh_policy__pins *ps, struct gh_slice up, struct gh_slice name,
                            bool create)
{
    for (size_t i = 0; i < ps->n; i++)
        if (gh_slice_eq_cstr(up, ps->v[i].upstream) && gh_slice_eq_cstr(name, ps->v[i].name))
            return &ps->v[i];
    if (!create || ps->n >= PIN_MAX_TOOLS)
        return NULL;
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 32;
        ps->v = gh_xrealloc(ps->v, ps->cap * sizeof(*ps->v));
    }
    struct pin *p = &ps->v[ps->n++];
    memset(p, 0, sizeof(*p));
    p->upstream = gh_xstrndup(up.ptr, up.len);
    p->name = gh_xstrndup(name.ptr, name.len);
    return p;
}

static bool hex_digest(const char *s)
{
    if (strlen(s) != GH_POLICY_DIGEST_HEX)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdef", *c))
            return false;
    return true;
}

/* ---- config ---- */

static enum gh_rc approved_list(struct gh_policy__pins *ps, const struct gh_config_node *v,
                                struct gh_config_error *err)
{
    if (v->kind != CFG_SEQ)
        return gh_config_node_error(err, v, "expected a list of {tool, digest}");
    for (size_t i = 0; i < v->n; i++) {
        const struct gh_config_node *t = gh_config_node_get(v->items[i], "tool");
        const struct gh_config_node *d = gh_config_node_get(v->items[i], "digest");
        if (!gh_policy__scalar(t) || !gh_policy__scalar(d) || v->items[i]->n != 2)
            return gh_config_node_error(err, v->items[i], "expected tool and digest");
        const char *dot = strchr(t->text, '.');
        if (!dot || dot == t->text || !gh_policy_name_valid(gh_slice_cstr(dot + 1)))
            return gh_config_node_error(err, t, "expected <upstream>.<tool>");
        const char *hex = strncmp(d->text, "sha256:", 7) == 0 ? d->text + 7 : d->text;
        if (!hex_digest(hex))
            return gh_config_node_error(err, d, "expected sha256:<64 lower-case hex digits>");
        struct pin *p =
            pin_find(ps, gh_slice(t->text, (size_t)(dot - t->text)), gh_slice_cstr(dot + 1), true);
        if (!p)
            return gh_config_node_error(err, t, "too many pinned tools");
        snprintf(p->approved, sizeof(p->approved), "%s", hex);
    }
    return GH_OK;
}

enum gh_rc gh_policy__pins_compile(const struct gh_config_node *n, struct gh_policy__pins **out,
                                   struct gh_config_error *err)
{
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n,
                                    "expected a mapping (mode, store, first_use, approved)");
    struct gh_policy__pins *ps = gh_xcalloc(1, sizeof(*ps));
    pthread_mutex_init(&ps->mu, NULL);
    *out = ps;
    for (size_t i = 0; i < n->n; i++) {
        const struct gh_config_node *v = n->items[i];
        int e = 0;
        if (strcmp(v->key, "mode") == 0) {
            if (gh_policy__enum(v, MODES, 2, &e, err))
                return GH_E_PARSE;
            ps->enforce = e == 1;
        } else if (strcmp(v->key, "first_use") == 0) {
            if (gh_policy__enum(v, FIRST_USE, 2, &e, err))
                return GH_E_PARSE;
            ps->tofu = e == 1;
        } else if (strcmp(v->key, "store") == 0) {
            if (!gh_policy__scalar(v) || !v->len)
                return gh_config_node_error(err, v, "expected a file path");
            ps->store = gh_xstrdup(v->text);
        } else if (strcmp(v->key, "approved") == 0) {
            if (approved_list(ps, v, err))
                return GH_E_PARSE;
        } else {
            return gh_config_node_error(err, v,
                                        "unknown key (expected mode, store, first_use, approved)");
        }
    }
    if (ps->enforce && !ps->store)
        return gh_config_node_error(err, n, "pinning mode enforce needs a store: file path");
    return GH_OK;
}

void gh_policy__pins_copy(struct gh_policy__pins *dst, struct gh_policy__pins *src)
{
    if (!dst || !src)
        return;
    pthread_mutex_lock(&src->mu);
    pthread_mutex_lock(&dst->mu);
    for (size_t i = 0; i < src->n; i++) {
        const struct pin *o = &src->v[i];
        struct pin *p = pin_find(dst, gh_slice_cstr(o->upstream), gh_slice_cstr(o->name), true);
        if (!p)
            break;
        memcpy(p->seen, o->seen, sizeof(p->seen));
        memcpy(p->logged, o->logged, sizeof(p->logged));
        /* first-use approvals live here when there is no store: they are state, not config */
        if (!p->approved[0] && dst->tofu && o->approved[0])
            memcpy(p->approved, o->approved, sizeof(p->approved));
    }
    pthread_mutex_unlock(&dst->mu);
    pthread_mutex_unlock(&src->mu);
}

void gh_policy__pins_free(struct gh_policy__pins *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].upstream);
        free(ps->v[i].name);
    }
    free(ps->v);
    free(ps->store);
    pthread_mutex_destroy(&ps->mu);
    free(ps);
}

/* ---- the store ---- */

static json_t *store_read(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(json_object_get(root, "tools"))) {
        json_decref(root);
        root = json_pack("{s:i, s:{}}", "version", 1, "tools");
    }
    return root;
}

static enum gh_rc store_write(const char *path, json_t *root)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return GH_E_IO;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return GH_E_IO;
    }
    return GH_OK;
}

static json_t *store_tool(json_t *root, const char *up, const char *name, bool create)
{
    json_t *tools = json_object_get(root, "tools");
    json_t *u = json_object_get(tools, up);
    if (!json_is_object(u)) {
        if (!create)
            return NULL;
        u = json_object();
        json_object_set_new(tools, up, u);
    }
    json_t *t = json_object_get(u, name);
    if (!json_is_object(t)) {
        if (!create)
            return NULL;
        t = json_object();
        json_object_set_new(u, name, t);
    }
    return t;
}

/* Re-reads approvals when the file changed (at most once a second). Called with mu held. */
static void store_refresh(struct gh_policy__pins *ps, int64_t now_ms)
{
    struct stat st;
    if (!ps->store || now_ms - ps->checked_ms < 1000)
        return;
    ps->checked_ms = now_ms;
    if (stat(ps->store, &st) != 0 ||
        (st.st_mtim.tv_sec == ps->mtime.tv_sec && st.st_mtim.tv_nsec == ps->mtime.tv_nsec))
        return;
    ps->mtime = st.st_mtim;
    json_t *root = store_read(ps->store);
    const char *up, *name;
    json_t *u, *t;
    json_object_foreach(json_object_get(root, "tools"), up, u)
    {
        json_object_foreach(u, name, t)
        {
            const char *a = json_string_value(json_object_get(t, "approved"));
            struct pin *p = a && hex_digest(a)
                                ? pin_find(ps, gh_slice_cstr(up), gh_slice_cstr(name), true)
                                : NULL;
            if (p)
                snprintf(p->approved, sizeof(p->approved), "%s", a);
        }
    }
    json_decref(root);
}

/* Records a pending (or first-use approved) digest in the store. Called with mu held. */
static void store_note(struct gh_policy__pins *ps, const struct pin *p, bool approved)
{
    json_t *root = store_read(ps->store);
    json_t *t = store_tool(root, p->upstream, p->name, true);
    json_object_set_new(t, approved ? "approved" : "pending", json_string(p->seen));
    if (approved)
        json_object_del(t, "pending");
    if (store_write(ps->store, root) != GH_OK)
        GH_LOGE("policy", "pin store %s cannot be written: %s", ps->store, strerror(errno));
    struct stat st;
    if (stat(ps->store, &st) == 0)
        ps->mtime = st.st_mtim; /* our own write is no reason to re-read */
    json_decref(root);
}

enum gh_policy_pin gh_policy_pin_observe(const struct gh_policy *p, struct gh_slice upstream,
                                         struct gh_slice name, const char *digest)
{
    struct gh_policy__pins *ps = p ? p->pins : NULL;
    if (!ps || !ps->enforce)
        return GH_POLICY_PIN_OK;
    enum gh_policy_pin verdict = GH_POLICY_PIN_HIDDEN;
    pthread_mutex_lock(&ps->mu);
    store_refresh(ps, (int64_t)gh_clock_ms());
    struct pin *e = pin_find(ps, upstream, name, true);
    if (!e)
        goto out; /* table full: fail closed */
    snprintf(e->seen, sizeof(e->seen), "%s", digest);
    if (e->approved[0] && strcmp(e->approved, digest) == 0) {
        verdict = GH_POLICY_PIN_OK;
    } else if (!e->approved[0] && ps->tofu) {
        snprintf(e->approved, sizeof(e->approved), "%s", digest);
        GH_LOGI("policy", "tool %s.%s pinned on first use (sha256:%.12s…)", e->upstream, e->name,
                digest);
        store_note(ps, e, true);
        verdict = GH_POLICY_PIN_OK;
    } else if (strcmp(e->logged, digest) != 0) {
        snprintf(e->logged, sizeof(e->logged), "%s", digest);
        GH_LOGW("policy",
                "tool definition changed: %s.%s is now sha256:%s (approved: %s%s); hidden and "
                "its calls denied until `gatehouse tools approve %s.%s`",
                e->upstream, e->name, digest, e->approved[0] ? "sha256:" : "",
                e->approved[0] ? e->approved : "none", e->upstream, e->name);
        store_note(ps, e, false);
        if (ps->hook)
            ps->hook(ps->hook_arg, gh_slice_cstr(e->upstream), gh_slice_cstr(e->name), e->approved,
                     digest);
    }
out:
    pthread_mutex_unlock(&ps->mu);
    return verdict;
}

enum gh_policy_pin gh_policy_pin_check(const struct gh_policy *p, struct gh_slice upstream,
                                       struct gh_slice name)
{
    struct gh_policy__pins *ps = p ? p->pins : NULL;
    if (!ps || !ps->enforce)
        return GH_POLICY_PIN_OK;
    enum gh_policy_pin verdict = GH_POLICY_PIN_HIDDEN;
    pthread_mutex_lock(&ps->mu);
    store_refresh(ps, (int64_t)gh_clock_ms());
    struct pin *e = pin_find(ps, upstream, name, false);
    if (e && e->seen[0] && strcmp(e->seen, e->approved) == 0)
        verdict = GH_POLICY_PIN_OK;
    pthread_mutex_unlock(&ps->mu);
    return verdict;
}

void gh_policy_set_change_hook(struct gh_policy *p, gh_policy_change_fn fn, void *arg)
{
    if (p && p->pins) {
        p->pins->hook = fn;
        p->pins->hook_arg = arg;
    }
}

bool gh_policy_pinning(const struct gh_policy *p)
{
    return p && p->pins && p->pins->enforce;
}

const char *gh_policy_pin_store(const struct gh_policy *p)
{
    return gh_policy_pinning(p) ? p->pins->store : NULL;
}

/* ---- digest ---- */

enum gh_rc gh_policy_tool_digest(const struct gh_json_doc *doc, uint32_t tool, size_t name_prefix,
                                 char out[GH_POLICY_DIGEST_HEX + 1])
{
    static const char *const members[] = {"name", "title", "description", "inputSchema",
                                          "annotations"};
    if (doc->toks[tool].type != GH_JSON_OBJECT)
        return GH_E_PARSE;
    json_t *o = json_object();
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; i < GH_ARRAY_LEN(members) && !rc; i++) {
        int32_t v = gh_json_obj_get(doc, tool, members[i], strlen(members[i]));
        if (v < 0)
            continue;
        struct gh_slice raw = gh_json_raw(doc, (uint32_t)v);
        json_t *j = json_loadb(raw.ptr, raw.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (j && i == 0 && name_prefix) { /* the upstream's own name, not the namespaced one */
            const char *s = json_string_value(j);
            size_t len = json_string_length(j);
            json_t *k =
                s && len > name_prefix ? json_stringn(s + name_prefix, len - name_prefix) : NULL;
            json_decref(j);
            j = k;
        }
        if (!j)
            rc = GH_E_PARSE;
        else
            json_object_set_new(o, members[i], j);
    }
    char *canon = rc ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (canon) {
        unsigned char h[32];
        gh_sha256(canon, strlen(canon), h);
        gh_hex_encode(h, 32, out);
        free(canon);
    } else {
        rc = GH_E_PARSE;
    }
    json_decref(o);
    return rc;
}

/* ---- gatehouse tools approve ---- */

static bool named(const char *up, const char *name, const char *const *names, size_t n)
{
    if (!names)
        return true;
    for (size_t i = 0; i < n; i++) {
        const char *dot = strchr(names[i], '.');
        if (dot && strlen(up) == (size_t)(dot - names[i]) &&
            strncmp(names[i], up, strlen(up)) == 0 && strcmp(dot + 1, name) == 0)
            return true;
    }
    return false;
}

enum gh_rc gh_policy_pin_approve(const char *path, const char *const *names, size_t n, FILE *out)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(json_object_get(root, "tools"))) {
        fprintf(out, "%s: no pin store here (%s)\n", path, je.text);
        json_decref(root);
        return GH_E_IO;
    }
    size_t approved = 0;
    const char *up, *name;
    json_t *u, *t;
    json_object_foreach(json_object_get(root, "tools"), up, u)
    {
        json_object_foreach(u, name, t)
        {
            const char *pending = json_string_value(json_object_get(t, "pending"));
            if (!pending || !hex_digest(pending) || !named(up, name, names, n))
                continue;
            fprintf(out, "approved %s.%s sha256:%s\n", up, name, pending);
            json_object_set_new(t, "approved", json_string(pending));
            json_object_del(t, "pending");
            approved++;
        }
    }
    enum gh_rc rc = GH_OK;
    if (!approved)
        fprintf(out, "nothing pending%s\n", names ? " for the names given" : "");
    else
        rc = store_write(path, root);
    json_decref(root);
    return rc;
}
