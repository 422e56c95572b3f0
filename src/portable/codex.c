/*
 * portable/codex.c owns Codex CLI's config.toml: read with the scanner's TOML reader
 * (scan_toml.c, gh_pnode_parse_toml) and turned into the pnode tree, with where each table's
 * header starts; the writer of `[mcp_servers.NAME]` tables; and merge: the tables of the
 * exported servers are replaced in place or appended, and every other byte of the file stays.
 * Codex takes environment-variable NAMES, never values (env_vars, bearer_token_env_var,
 * env_http_headers), which is how references are written here.
 */
#include "portable/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define TOML_MAX_KIDS 4096 /* members of one table or array (the pnode tree's cap) */

/* A [header] or [[header]]: where its line starts and its first two key parts. */
struct tsec {
    size_t start;        /* offset of the header's '[' */
    const char *p0, *p1; /* first two key parts ("mcp_servers", NAME), NULL when absent */
};

/* config.toml read by the scanner's TOML reader, as the pnode tree import, merge and migrate
 * work on, with the tables' headers in file order (merge and migrate replace their bytes). */
struct tp {
    const char *s;
    size_t len;
    struct gh_arena *a;
    const char *name;
    struct gh_portable_err *err;
    struct tsec *secs;
    size_t nsecs;
};

/* Byte offset of a node's line and column (columns count code points, as the reader's do). */
static size_t offset_of(const struct tp *t, uint32_t line, uint32_t col)
{
    size_t i = t->len >= 3 && memcmp(t->s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    for (uint32_t l = 1; l < line && i < t->len; i++)
        if (t->s[i] == '\n')
            l++;
    for (uint32_t c = 1; c < col && i < t->len; c++)
        for (i++; i < t->len && ((unsigned char)t->s[i] & 0xc0) == 0x80; i++)
            ;
    return i;
}

/* The gh_pnode subtree n as a pnode; headers of its tables noted in t->secs. path: n's first
 * two key parts (tables of an array of tables take the array's). */
static enum gh_rc convert(struct tp *t, const struct gh_pnode *n, const char **path, size_t depth,
                          struct pnode **out)
{
    if (n->type != GH_PNODE_TABLE && n->type != GH_PNODE_ARRAY) {
        struct pnode *v = gh_pn_arr(t->a);
        v->kind = n->type == GH_PNODE_STRING ? PN_STR : PN_RAW; /* numbers, booleans, dates */
        v->str = gh_arena_strndup(t->a, n->text.ptr ? n->text.ptr : "", n->text.len);
        *out = v;
        return GH_OK;
    }
    if (n->n > TOML_MAX_KIDS)
        return gh_perr(t->err, GH_E_PARSE, "%s:%u: TOML: more than %d members or items", t->name,
                       n->line, TOML_MAX_KIDS);
    if (gh_pnode_toml_header(n))
        t->secs[t->nsecs++] = (struct tsec){offset_of(t, n->line, n->col), path[0], path[1]};
    struct pnode *v = n->type == GH_PNODE_TABLE ? gh_pn_obj(t->a) : gh_pn_arr(t->a);
    for (const struct gh_pnode *k = n->first; k; k = k->next) {
        const char *key = NULL, *sub[2] = {path[0], path[1]};
        if (n->type == GH_PNODE_TABLE) {
            key = gh_arena_strndup(t->a, k->key.ptr ? k->key.ptr : "", k->key.len);
            if (depth < 2)
                sub[depth] = key;
        }
        struct pnode *kv;
        enum gh_rc rc = convert(t, k, sub, depth + (n->type == GH_PNODE_TABLE), &kv);
        if (rc)
            return rc;
        gh_pn_add(t->a, v, key, kv);
    }
    *out = v;
    return GH_OK;
}

static int sec_cmp(const void *x, const void *y)
{
    const struct tsec *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

static enum gh_rc tparse(struct tp *t, struct pnode **root)
{
    struct gh_pnode *tree;
    struct gh_pnode_err e;
    enum gh_rc rc = gh_pnode_parse_toml(t->a, t->s, t->len, &tree, &e);
    if (rc)
        return gh_perr(t->err, rc, "%s:%u:%u: TOML: %s", t->name, e.line, e.col,
                       e.reason ? e.reason : "not valid TOML");
    /* every table has at most one header; nodes are a bound on the tables */
    size_t cap = 0;
    for (const struct gh_pnode *n = tree; n;) {
        cap++;
        if (n->first) {
            n = n->first;
            continue;
        }
        while (n && !n->next)
            n = n->parent;
        n = n ? n->next : NULL;
    }
    t->secs = gh_arena_calloc(t->a, cap * sizeof(*t->secs));
    t->nsecs = 0;
    const char *path[2] = {NULL, NULL};
    rc = convert(t, tree, path, 0, root);
    if (rc == GH_OK)
        qsort(t->secs, t->nsecs, sizeof(*t->secs), sec_cmp);
    return rc;
}

/* ---- import ---- */

static const char *sval(const struct pnode *o, const char *k)
{
    const struct pnode *v = gh_pn_get(o, k);
    return v && v->kind == PN_STR ? v->str : NULL;
}

static void pairs(struct gh_portable_catalog *c, struct gh_portable_server *s,
                  const struct pnode *o, bool header, bool names)
{
    for (size_t i = 0; o && o->kind == PN_OBJ && i < o->n && i < GH_PORTABLE_MAX_ITEMS; i++) {
        const struct pnode *k = o->kids[i];
        if (k->kind != PN_STR)
            continue;
        const char *v = names ? gh_arena_sprintf(c->arena, "${env:%s}", k->str)
                              : gh_pl_scrub(c, s->name, header ? PL_HEADER : PL_ENV, k->key,
                                            gh_pc_unref(c->arena, GH_PORTABLE_CODEX, k->str));
        if (header)
            s->headers = gh_ppair_push(c->arena, s->headers, &s->n_headers, k->key, v);
        else
            s->env = gh_ppair_push(c->arena, s->env, &s->n_env, k->key, v);
    }
}

static enum gh_rc codex_server(struct gh_portable_catalog *c, const struct pnode *o,
                               struct gh_portable_err *err)
{
    struct gh_portable_server *s;
    if (o->kind != PN_OBJ)
        return gh_perr(err, GH_E_PARSE, "mcp_servers.%s is not a table", o->key);
    enum gh_rc rc = gh_portable_catalog_add(c, o->key, &s);
    if (rc)
        return gh_perr(err, rc, "mcp_servers: too many servers or \"%s\" twice", o->key);
    const char *url = sval(o, "url"), *cmd = sval(o, "command"), *cwd = sval(o, "cwd");
    if (url) {
        s->transport = GH_PORTABLE_HTTP;
        s->url = gh_pl_scrub(c, s->name, PL_URL, "url", url);
        const char *bearer = sval(o, "bearer_token_env_var");
        if (bearer)
            s->headers = gh_ppair_push(c->arena, s->headers, &s->n_headers, "Authorization",
                                       gh_arena_sprintf(c->arena, "Bearer ${env:%s}", bearer));
        pairs(c, s, gh_pn_get(o, "http_headers"), true, false);
        pairs(c, s, gh_pn_get(o, "env_http_headers"), true, true);
        return GH_OK;
    }
    if (!cmd)
        return gh_perr(err, GH_E_PARSE, "mcp_servers.%s has neither command nor url", o->key);
    s->transport = GH_PORTABLE_STDIO;
    s->command = gh_arena_strndup(c->arena, cmd, strlen(cmd));
    s->cwd = cwd ? gh_arena_strndup(c->arena, cwd, strlen(cwd)) : NULL;
    const struct pnode *args = gh_pn_get(o, "args");
    const char *flag = NULL;
    for (size_t i = 0; args && args->kind == PN_ARR && i < args->n && i < GH_PORTABLE_MAX_ITEMS;
         i++) {
        if (args->kids[i]->kind != PN_STR)
            continue;
        char *v = gh_pl_scrub(c, s->name, PL_ARG, flag,
                              gh_pc_unref(c->arena, GH_PORTABLE_CODEX, args->kids[i]->str));
        s->args = gh_pstrv_push(c->arena, s->args, &s->n_args, v);
        flag = v[0] == '-' && !strchr(v, '=') ? v : NULL;
    }
    pairs(c, s, gh_pn_get(o, "env"), false, false);
    const struct pnode *names = gh_pn_get(o, "env_vars");
    for (size_t i = 0; names && names->kind == PN_ARR && i < names->n; i++)
        if (names->kids[i]->kind == PN_STR && s->n_env < GH_PORTABLE_MAX_ITEMS)
            s->env = gh_ppair_push(c->arena, s->env, &s->n_env, names->kids[i]->str,
                                   gh_arena_sprintf(c->arena, "${env:%s}", names->kids[i]->str));
    return GH_OK;
}

enum gh_rc gh_codex_import(struct gh_portable_catalog *c, const char *name, const char *src,
                           size_t len, struct gh_portable_err *err)
{
    if (len > GH_PORTABLE_MAX_FILE)
        return gh_perr(err, GH_E_LIMIT, "%s: larger than %u bytes", name, GH_PORTABLE_MAX_FILE);
    struct tp t = {.s = src, .len = len, .a = c->arena, .name = name, .err = err};
    struct pnode *root;
    enum gh_rc rc = tparse(&t, &root);
    if (rc)
        return rc;
    const struct pnode *servers = gh_pn_get(root, "mcp_servers");
    if (!servers || servers->kind != PN_OBJ)
        return gh_perr(err, GH_E_PARSE,
                       "%s: no [mcp_servers.NAME] tables: is this Codex's "
                       "config.toml?",
                       name);
    for (size_t i = 0; rc == GH_OK && i < servers->n; i++)
        rc = codex_server(c, servers->kids[i], err);
    return rc;
}

/* ---- export ---- */

/* "${env:NAME}" exactly: NAME (arena), else NULL. */
static char *whole_ref(struct gh_arena *a, const char *v, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(v, prefix, pl) != 0 || strncmp(v + pl, "${env:", 6) != 0)
        return NULL;
    const char *e = strchr(v + pl + 6, '}');
    if (!e || e[1])
        return NULL;
    return gh_arena_strndup(a, v + pl + 6, (size_t)(e - v - pl - 6));
}

static void codex_headers(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                          struct pnode *e)
{
    struct pnode *lit = gh_pn_obj(c->arena), *names = gh_pn_obj(c->arena);
    for (size_t i = 0; i < s->n_headers; i++) {
        const struct gh_portable_pair *h = &s->headers[i];
        char *bearer = strcasecmp(h->key, "Authorization") == 0
                           ? whole_ref(c->arena, h->value, "Bearer ")
                           : NULL;
        char *ref = whole_ref(c->arena, h->value, "");
        if (bearer)
            gh_pn_add_str(c->arena, e, "bearer_token_env_var", bearer);
        else if (ref)
            gh_pn_add_str(c->arena, names, h->key, ref);
        else if (!strstr(h->value, "${"))
            gh_pn_add_str(c->arena, lit, h->key, h->value);
        else
            gh_portable_note(c, "codex: %s: header %s mixes text and a reference; left out",
                             s->name, h->key);
    }
    if (lit->n)
        gh_pn_add(c->arena, e, "http_headers", lit);
    if (names->n)
        gh_pn_add(c->arena, e, "env_http_headers", names);
}

static void codex_env(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                      struct pnode *e)
{
    struct pnode *lit = gh_pn_obj(c->arena), *names = gh_pn_arr(c->arena);
    for (size_t i = 0; i < s->n_env; i++) {
        const struct gh_portable_pair *v = &s->env[i];
        char *ref = whole_ref(c->arena, v->value, "");
        if (ref && strcmp(ref, v->key) != 0)
            gh_portable_note(c,
                             "codex: %s: %s forwarded from the variable of the same name "
                             "(Codex cannot rename): set %s=$%s",
                             s->name, v->key, v->key, ref);
        if (ref)
            gh_pn_add_str(c->arena, names, NULL, v->key);
        else if (!strstr(v->value, "${"))
            gh_pn_add_str(c->arena, lit, v->key, v->value);
        else
            gh_portable_note(c, "codex: %s: %s mixes text and a reference; left out", s->name,
                             v->key);
    }
    if (lit->n)
        gh_pn_add(c->arena, e, "env", lit);
    if (names->n)
        gh_pn_add(c->arena, e, "env_vars", names);
}

static struct pnode *codex_entry(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                                 const struct gh_portable_export_opts *o)
{
    struct pnode *e = gh_pn_obj(c->arena);
    if (s->transport != GH_PORTABLE_STDIO && !(o && o->force_connect)) {
        gh_pn_add_str(c->arena, e, "url", s->url);
        codex_headers(c, s, e);
        return e;
    }
    if (s->transport != GH_PORTABLE_STDIO) {
        gh_pn_add_str(c->arena, e, "command", o && o->gatehouse ? o->gatehouse : "gatehouse");
        struct pnode *args = gh_pn_add(c->arena, e, "args", gh_pn_arr(c->arena));
        gh_pn_add_str(c->arena, args, NULL, "connect");
        gh_pn_add_str(c->arena, args, NULL, s->url);
        return e;
    }
    gh_pn_add_str(c->arena, e, "command", s->command);
    struct pnode *args = gh_pn_add(c->arena, e, "args", gh_pn_arr(c->arena));
    for (size_t i = 0; i < s->n_args; i++) {
        if (strstr(s->args[i], "${"))
            gh_portable_note(c, "codex: %s: an argument holds a reference Codex cannot expand",
                             s->name);
        gh_pn_add_str(c->arena, args, NULL, s->args[i]);
    }
    codex_env(c, s, e);
    if (s->cwd)
        gh_pn_add_str(c->arena, e, "cwd", s->cwd);
    return e;
}

/* "[mcp_servers.NAME]" and its key = value lines (nested tables inline). */
static enum gh_rc write_table(const char *name, const struct pnode *e, struct gh_buf *out)
{
    enum gh_rc rc = gh_buf_puts(out, "[mcp_servers.");
    rc = rc ? rc : gh_pn_write_toml_key(out, name);
    rc = rc ? rc : gh_buf_puts(out, "]\n");
    for (size_t i = 0; rc == GH_OK && i < e->n; i++) {
        rc = gh_pn_write_toml_key(out, e->kids[i]->key);
        rc = rc ? rc : gh_buf_puts(out, " = ");
        rc = rc ? rc : gh_pn_write_toml_value(out, e->kids[i]);
        rc = rc ? rc : gh_buf_puts(out, "\n");
    }
    return rc;
}

static enum gh_rc codex_table(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                              const struct gh_portable_export_opts *o, struct gh_buf *out)
{
    return write_table(s->name, codex_entry(c, s, o), out);
}

enum gh_rc gh_codex_export(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                           struct gh_buf *out)
{
    enum gh_rc rc = gh_buf_puts(out, "# MCP servers from the Gatehouse catalog "
                                     "(gatehouse export --client codex)\n");
    for (size_t i = 0; rc == GH_OK && i < c->n_servers; i++) {
        rc = gh_buf_puts(out, "\n");
        rc = rc ? rc : codex_table(c, &c->servers[i], o, out);
    }
    return rc;
}

/* ---- merge and migrate: replace some servers' tables, keep every other byte ---- */

/* old with the sections of server names[k] replaced by tables[k] (appended when absent). */
static enum gh_rc replace_tables(const struct tp *t, const char *old, size_t len,
                                 const char *const *names, struct pnode *const *tables, size_t n,
                                 struct gh_buf *out)
{
    bool done[GH_PORTABLE_MAX_SERVERS] = {0};
    size_t at = 0;
    enum gh_rc rc = GH_OK;
    GH_BUG_ON(n > GH_PORTABLE_MAX_SERVERS);
    for (size_t i = 0; rc == GH_OK && i < t->nsecs; i++) {
        const struct tsec *sec = &t->secs[i];
        size_t k = n;
        for (size_t j = 0; sec->p1 && strcmp(sec->p0, "mcp_servers") == 0 && j < n; j++)
            if (strcmp(names[j], sec->p1) == 0)
                k = j;
        if (k == n)
            continue;
        size_t end = i + 1 < t->nsecs ? t->secs[i + 1].start : len;
        rc = gh_buf_append(out, old + at, sec->start - at);
        if (rc == GH_OK && !done[k]) {
            rc = write_table(names[k], tables[k], out);
            rc = rc ? rc : gh_buf_puts(out, end < len ? "\n" : "");
            done[k] = true;
        }
        at = end;
    }
    rc = rc ? rc : gh_buf_append(out, old + at, len - at);
    for (size_t k = 0; rc == GH_OK && k < n; k++) {
        if (done[k])
            continue;
        if (out->len && out->data[out->len - 1] != '\n')
            rc = gh_buf_puts(out, "\n");
        rc = rc ? rc : gh_buf_puts(out, out->len ? "\n" : "");
        rc = rc ? rc : write_table(names[k], tables[k], out);
    }
    return rc;
}

enum gh_rc gh_codex_merge(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                          const char *old, size_t len, struct gh_buf *out,
                          struct gh_portable_err *err)
{
    struct tp t = {
        .s = old, .len = len, .a = c->arena, .name = "the file to merge into", .err = err};
    struct pnode *root;
    enum gh_rc rc = tparse(&t, &root);
    if (rc)
        return rc;
    const char **names = gh_arena_calloc(c->arena, (c->n_servers + 1) * sizeof(*names));
    struct pnode **tabs = gh_arena_calloc(c->arena, (c->n_servers + 1) * sizeof(*tabs));
    for (size_t i = 0; i < c->n_servers; i++) {
        names[i] = c->servers[i].name;
        tabs[i] = codex_entry(c, &c->servers[i], o);
    }
    rc = replace_tables(&t, old, len, names, tabs, c->n_servers, out);
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}

/* obj without member key. */
static struct pnode *without(struct gh_arena *a, const struct pnode *obj, const char *key)
{
    struct pnode *n = gh_pn_obj(a);
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->kids[i]->key, key) != 0)
            gh_pn_add(a, n, obj->kids[i]->key, obj->kids[i]);
    return n;
}

/* obj with member key's value set to v (dropped when v is NULL), order kept. */
static struct pnode *set_member(struct gh_arena *a, const struct pnode *obj, const char *key,
                                struct pnode *v)
{
    struct pnode *n = gh_pn_obj(a);
    for (size_t i = 0; i < obj->n; i++) {
        if (strcmp(obj->kids[i]->key, key) != 0)
            gh_pn_add(a, n, obj->kids[i]->key, obj->kids[i]);
        else if (v)
            gh_pn_add(a, n, key, v);
    }
    return n;
}

/* obj[key] as an object or array of kind, added when absent. */
static struct pnode *member_of(struct gh_arena *a, struct pnode *obj, const char *key,
                               enum pnode_kind kind)
{
    struct pnode *m = gh_pn_get(obj, key);
    if (m && m->kind == kind)
        return m;
    return gh_pn_add(a, obj, key, kind == PN_OBJ ? gh_pn_obj(a) : gh_pn_arr(a));
}

/* Env secrets move to env_vars (Codex forwards the variable of that name). */
static struct pnode *mig_env(struct gh_portable_catalog *c, const char *server, struct pnode *e)
{
    struct pnode *env = gh_pn_get(e, "env");
    for (size_t i = 0; env && env->kind == PN_OBJ && i < env->n; i++) {
        struct pnode *k = env->kids[i];
        size_t off, len;
        if (k->kind != PN_STR || !gh_pl_find(PL_ENV, k->key, k->str, &off, &len))
            continue;
        gh_pl_report(c, server, "env", k->key, gh_arena_sprintf(c->arena, "env:%s", k->key),
                     k->str + off, len, true);
        gh_pn_add_str(c->arena, member_of(c->arena, e, "env_vars", PN_ARR), NULL, k->key);
        gh_portable_note(c, "codex: %s: set %s in the environment Codex starts from", server,
                         k->key);
        env = without(c->arena, env, k->key);
        i--;
    }
    return env && env->kind == PN_OBJ ? set_member(c->arena, e, "env", env->n ? env : NULL) : e;
}

/* Header secrets: Authorization to bearer_token_env_var, others to env_http_headers. */
static struct pnode *mig_headers(struct gh_portable_catalog *c, const char *server, struct pnode *e)
{
    struct pnode *h = gh_pn_get(e, "http_headers");
    for (size_t i = 0; h && h->kind == PN_OBJ && i < h->n; i++) {
        struct pnode *k = h->kids[i];
        size_t off, len;
        if (k->kind != PN_STR || !gh_pl_find(PL_HEADER, k->key, k->str, &off, &len))
            continue;
        bool bearer = strcasecmp(k->key, "Authorization") == 0 && off > 0;
        const char *name =
            gh_pl_unique(c, gh_pl_name(c->arena, server, PL_HEADER, k->key), k->str + off);
        gh_pl_report(c, server, "header", k->key, gh_arena_sprintf(c->arena, "env:%s", name),
                     k->str + off, len, true);
        if (bearer)
            gh_pn_add_str(c->arena, e, "bearer_token_env_var", name);
        else
            gh_pn_add_str(c->arena, member_of(c->arena, e, "env_http_headers", PN_OBJ), k->key,
                          name);
        gh_portable_note(c, "codex: %s: set %s in the environment Codex starts from", server, name);
        if (!bearer && off > 0)
            gh_portable_note(c, "codex: %s: %s must hold the whole header value", server, name);
        h = without(c->arena, h, k->key);
        i--;
    }
    return h && h->kind == PN_OBJ ? set_member(c->arena, e, "http_headers", h->n ? h : NULL) : e;
}

/* Secrets in args or url: Codex has no syntax for them; via the gateway or noted. */
static struct pnode *mig_rest(struct gh_portable_catalog *c, const char *server, struct pnode *e,
                              const struct gh_portable_migrate_opts *o)
{
    bool stuck = false;
    const struct pnode *args = gh_pn_get(e, "args"), *url = gh_pn_get(e, "url");
    size_t off, len;
    const char *flag = NULL;
    for (size_t i = 0; args && args->kind == PN_ARR && i < args->n; i++) {
        const char *v = args->kids[i]->kind == PN_STR ? args->kids[i]->str : "";
        if (gh_pl_find(PL_ARG, flag, v, &off, &len)) {
            gh_pl_report(c, server, "arg", flag ? flag : "", o->via_gateway ? "gateway" : "-",
                         v + off, len, o->via_gateway != NULL);
            stuck = true;
        }
        flag = v[0] == '-' && !strchr(v, '=') ? v : NULL;
    }
    if (url && url->kind == PN_STR && gh_pl_find(PL_URL, "url", url->str, &off, &len)) {
        gh_pl_report(c, server, "url", "url", o->via_gateway ? "gateway" : "-", url->str + off, len,
                     o->via_gateway != NULL);
        stuck = true;
    }
    if (!stuck)
        return e;
    if (!o->via_gateway) {
        gh_portable_note(c,
                         "codex: %s: a secret in args or url cannot be referenced in Codex: "
                         "serve it through the gateway (--via-gateway URL)",
                         server);
        return e;
    }
    struct pnode *g = gh_pn_obj(c->arena);
    gh_pn_add_str(c->arena, g, "url",
                  gh_arena_sprintf(c->arena, "%s/mcp/%s", o->via_gateway, server));
    gh_portable_note(c,
                     "codex: %s now goes through the gateway: add it there as upstream %s "
                     "with its secrets as env: references",
                     server, server);
    return g;
}

enum gh_rc gh_codex_migrate(struct gh_portable_catalog *c, const char *path, const char *src,
                            size_t len, const struct gh_portable_migrate_opts *o,
                            struct gh_buf *out, struct gh_portable_err *err)
{
    struct tp t = {.s = src, .len = len, .a = c->arena, .name = path, .err = err};
    struct pnode *root;
    enum gh_rc rc = tparse(&t, &root);
    if (rc)
        return rc;
    const struct pnode *servers = gh_pn_get(root, "mcp_servers");
    size_t n = servers && servers->kind == PN_OBJ ? GH_MIN(servers->n, GH_PORTABLE_MAX_SERVERS) : 0;
    const char **names = gh_arena_calloc(c->arena, (n + 1) * sizeof(*names));
    struct pnode **tabs = gh_arena_calloc(c->arena, (n + 1) * sizeof(*tabs));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct pnode *e = servers->kids[i];
        if (e->kind != PN_OBJ)
            continue;
        size_t before = c->n_findings;
        struct pnode *m = mig_rest(c, e->key, mig_headers(c, e->key, mig_env(c, e->key, e)), o);
        if (c->n_findings == before)
            continue;
        names[k] = e->key;
        tabs[k++] = m;
    }
    rc = k ? replace_tables(&t, src, len, names, tabs, k, out) : gh_buf_append(out, src, len);
    if (k && t.nsecs)
        gh_portable_note(c, "codex: comments inside the rewritten [mcp_servers.*] tables are "
                            "not kept");
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}
