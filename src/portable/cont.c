/*
 * portable/cont.c owns Continue's YAML (config.yaml and the block files in .continue/mcpServers/):
 * reading its mcpServers list through config/'s YAML tree, writing a block file, merging
 * (the items of the exported servers are replaced, new ones appended to the list, every other
 * line kept) and migrating (a literal secret scalar is rewritten in place to
 * "${{ secrets.NAME }}"; the rest of its line and file stay). Positions come from the tree.
 */
#include "portable/internal.h"
#include "config/config.h"

#include <stdio.h>

static enum gh_rc load(struct gh_portable_catalog *c, const char *path,
                       const struct gh_config_node **servers, const struct gh_config_node **rootp,
                       struct gh_portable_err *err)
{
    struct gh_config_node *root = NULL;
    struct gh_config_error ce = {0};
    enum gh_rc rc = gh_config_tree_load_file(path, c->arena, &root, &ce);
    if (rc) {
        char msg[600];
        gh_config_error_format(&ce, msg, sizeof(msg));
        return gh_perr(err, rc, "%s", msg);
    }
    *rootp = root;
    *servers = root && root->kind == CFG_MAP ? gh_config_node_get(root, "mcpServers") : NULL;
    if (*servers && (*servers)->kind != CFG_SEQ)
        return gh_perr(err, GH_E_PARSE, "%s: mcpServers is not a list", path);
    return GH_OK;
}

static const char *yscalar(const struct gh_config_node *m, const char *key)
{
    const struct gh_config_node *v = m && m->kind == CFG_MAP ? gh_config_node_get(m, key) : NULL;
    return v && v->kind == CFG_SCALAR ? v->text : NULL;
}

static char *yval(struct gh_portable_catalog *c, const char *server, enum plit_where w,
                  const char *key, const char *v)
{
    return gh_pl_scrub(c, server, w, key, gh_pc_unref(c->arena, GH_PORTABLE_CONTINUE, v));
}

static enum gh_rc read_item(struct gh_portable_catalog *c, const struct gh_config_node *m,
                            struct gh_portable_err *err)
{
    const char *name = yscalar(m, "name");
    if (!name)
        return gh_perr(err, GH_E_PARSE, "line %d: an mcpServers item without a name", m->line);
    struct gh_portable_server *s;
    enum gh_rc rc = gh_portable_catalog_add(c, name, &s);
    if (rc)
        return gh_perr(err, rc, "line %d: too many servers, or \"%s\" twice", m->line, name);
    const char *type = yscalar(m, "type"), *url = yscalar(m, "url");
    const char *cmd = yscalar(m, "command"), *cwd = yscalar(m, "cwd");
    if (url) {
        s->transport = type && strcmp(type, "sse") == 0 ? GH_PORTABLE_SSE : GH_PORTABLE_HTTP;
        s->url = yval(c, name, PL_URL, "url", url);
        return GH_OK;
    }
    if (!cmd)
        return gh_perr(err, GH_E_PARSE, "line %d: server \"%s\" has neither command nor url",
                       m->line, name);
    s->command = gh_arena_strndup(c->arena, cmd, strlen(cmd));
    s->cwd = cwd ? gh_arena_strndup(c->arena, cwd, strlen(cwd)) : NULL;
    const struct gh_config_node *args = gh_config_node_get(m, "args");
    const char *flag = NULL;
    for (size_t i = 0; args && args->kind == CFG_SEQ && i < args->n && i < GH_PORTABLE_MAX_ITEMS;
         i++) {
        if (args->items[i]->kind != CFG_SCALAR)
            continue;
        char *v = yval(c, name, PL_ARG, flag, args->items[i]->text);
        s->args = gh_pstrv_push(c->arena, s->args, &s->n_args, v);
        flag = v[0] == '-' && !strchr(v, '=') ? v : NULL;
    }
    const struct gh_config_node *env = gh_config_node_get(m, "env");
    for (size_t i = 0; env && env->kind == CFG_MAP && i < env->n && i < GH_PORTABLE_MAX_ITEMS; i++)
        if (env->items[i]->kind == CFG_SCALAR)
            s->env = gh_ppair_push(c->arena, s->env, &s->n_env, env->items[i]->key,
                                   yval(c, name, PL_ENV, env->items[i]->key, env->items[i]->text));
    return GH_OK;
}

enum gh_rc gh_cont_import(struct gh_portable_catalog *c, const char *path,
                          struct gh_portable_err *err)
{
    const struct gh_config_node *servers, *root;
    enum gh_rc rc = load(c, path, &servers, &root, err);
    if (rc)
        return rc;
    if (!servers)
        return gh_perr(err, GH_E_PARSE, "%s: no mcpServers list: is this a Continue file?", path);
    for (size_t i = 0; rc == GH_OK && i < servers->n; i++)
        rc = read_item(c, servers->items[i], err);
    return rc;
}

/* ---- export ---- */

static struct pnode *item(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                          const struct gh_portable_export_opts *o)
{
    struct pnode *e = gh_pc_entry(c, GH_PORTABLE_CONTINUE, s, o, NULL);
    struct pnode *it = gh_pn_obj(c->arena);
    gh_pn_add_str(c->arena, it, "name", s->name);
    if (s->transport == GH_PORTABLE_STDIO || !gh_pn_get(e, "url"))
        gh_pn_add_str(c->arena, it, "type", "stdio");
    for (size_t i = 0; i < e->n; i++)
        gh_pn_add(c->arena, it, e->kids[i]->key, e->kids[i]);
    return it;
}

static struct pnode *items(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o)
{
    struct pnode *arr = gh_pn_arr(c->arena);
    for (size_t i = 0; i < c->n_servers; i++)
        gh_pn_add(c->arena, arr, NULL, item(c, &c->servers[i], o));
    return arr;
}

enum gh_rc gh_cont_export(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                          struct gh_buf *out)
{
    struct pnode *doc = gh_pn_obj(c->arena);
    gh_pn_add_str(c->arena, doc, "name", "Gatehouse");
    gh_pn_add_str(c->arena, doc, "version", "0.0.1");
    gh_pn_add_str(c->arena, doc, "schema", "v1");
    gh_pn_add(c->arena, doc, "mcpServers", items(c, o));
    enum gh_rc rc = gh_buf_puts(out, "# MCP servers from the Gatehouse catalog "
                                     "(gatehouse export --client continue)\n");
    return rc ? rc : gh_pn_write_yaml(out, doc, 0);
}

/* ---- merge ---- */

/* Byte offset of the start of 1-based line n (len past the end). */
static size_t line_off(const char *s, size_t len, int n)
{
    size_t i = 0;
    for (int l = 1; l < n && i < len; i++)
        if (s[i] == '\n')
            l++;
    return i;
}

static bool exported(const struct gh_portable_catalog *c, const char *name)
{
    for (size_t i = 0; name && i < c->n_servers; i++)
        if (strcmp(c->servers[i].name, name) == 0)
            return true;
    return false;
}

/* The line where the list ends: the next top-level key after mcpServers, or the end. */
static int list_end(const struct gh_config_node *root, const struct gh_config_node *servers)
{
    for (size_t i = 0; i + 1 < root->n; i++)
        if (root->items[i] == servers)
            return root->items[i + 1]->key_line;
    return 0;
}

enum gh_rc gh_cont_merge(struct gh_portable_catalog *c, const struct gh_portable_export_opts *o,
                         const char *path, const char *old, size_t len, struct gh_buf *out,
                         struct gh_portable_err *err)
{
    const struct gh_config_node *servers, *root;
    enum gh_rc rc = load(c, path, &servers, &root, err);
    if (rc)
        return rc;
    struct gh_buf add;
    gh_buf_init(&add, GH_PORTABLE_MAX_FILE);
    if (!servers || servers->n == 0) {
        /* no list (or an empty one): the list goes at the end, an empty one is replaced */
        size_t cut = servers ? line_off(old, len, servers->key_line) : len;
        size_t resume = servers ? line_off(old, len, servers->key_line + 1) : len;
        rc = gh_buf_append(out, old, cut);
        if (rc == GH_OK && out->len && out->data[out->len - 1] != '\n')
            rc = gh_buf_puts(out, "\n");
        rc = rc ? rc : gh_buf_puts(out, "mcpServers:\n");
        rc = rc ? rc : gh_pn_write_yaml(out, items(c, o), 1);
        rc = rc ? rc : gh_buf_append(out, old + resume, len - resume);
        goto out;
    }
    int depth = (servers->items[0]->column - 3) / 2; /* "- " precedes the item's first key */
    rc = gh_pn_write_yaml(&add, items(c, o), depth < 0 ? 0 : depth);
    int end_line = list_end(root, servers);
    size_t end = end_line ? line_off(old, len, end_line) : len, at = 0;
    for (size_t i = 0; rc == GH_OK && i < servers->n; i++) {
        if (!exported(c, yscalar(servers->items[i], "name")))
            continue;
        size_t from = line_off(old, len, servers->items[i]->line);
        size_t to = i + 1 < servers->n ? line_off(old, len, servers->items[i + 1]->line) : end;
        rc = gh_buf_append(out, old + at, from - at);
        at = to;
    }
    if (rc == GH_OK && at < end)
        rc = gh_buf_append(out, old + at, end - at), at = end;
    if (rc == GH_OK && out->len && out->data[out->len - 1] != '\n')
        rc = gh_buf_puts(out, "\n");
    rc = rc ? rc : gh_buf_append(out, add.data, add.len);
    rc = rc ? rc : gh_buf_append(out, old + at, len - at);
out:
    gh_buf_release(&add);
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}

/* ---- migrate ---- */

/* End offset of the one-line scalar starting at off (quoted or plain). */
static size_t scalar_end(const char *s, size_t len, size_t off)
{
    size_t i = off;
    if (i < len && (s[i] == '"' || s[i] == '\'')) {
        char q = s[i++];
        while (i < len && s[i] != '\n') {
            if (q == '"' && s[i] == '\\')
                i += 2;
            else if (s[i] == q && q == '\'' && i + 1 < len && s[i + 1] == '\'')
                i += 2;
            else if (s[i] == q)
                return i + 1;
            else
                i++;
        }
        return 0;
    }
    while (i < len && s[i] != '\n' && !(s[i] == '#' && i > off && s[i - 1] == ' '))
        i++;
    while (i > off && (s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\r'))
        i--;
    return i;
}

/* One scalar: a literal secret becomes "${{ secrets.NAME }}" in place. */
static void mig_scalar(struct gh_portable_catalog *c, const char *src, size_t len,
                       const char *server, enum plit_where w, const char *key,
                       const struct gh_config_node *n, struct pedit *e, size_t *ne)
{
    size_t off, sl;
    if (n->kind != CFG_SCALAR || !gh_pl_find(w, key, n->text, &off, &sl))
        return;
    static const char *const where[] = {"env", "header", "arg", "url"};
    const char *name = gh_pl_unique(c, gh_pl_name(c->arena, server, w, key), n->text + off);
    size_t at = line_off(src, len, n->line) + (size_t)n->column - 1;
    size_t end = scalar_end(src, len, at);
    bool ok = end > at && *ne < 4096;
    gh_pl_report(c, server, where[w], key, gh_arena_sprintf(c->arena, "env:%s", name),
                 n->text + off, sl, ok);
    if (!ok) {
        gh_portable_note(c, "continue: %s: a multi-line secret value; rewrite it by hand", server);
        return;
    }
    char *v = gh_arena_sprintf(c->arena, "%.*s${{ secrets.%s }}%s", (int)off, n->text, name,
                               n->text + off + sl);
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    gh_json_write_str(&b, v, strlen(v)); /* a YAML double-quoted scalar */
    e[(*ne)++] = (struct pedit){at, end - at, gh_arena_strndup(c->arena, b.data, b.len)};
    gh_buf_release(&b);
    gh_portable_note(c, "continue: put %s=... in ~/.continue/.env (or the workspace .env)", name);
}

enum gh_rc gh_cont_migrate(struct gh_portable_catalog *c, const char *path, const char *src,
                           size_t len, struct gh_buf *out, struct gh_portable_err *err)
{
    const struct gh_config_node *servers, *root;
    enum gh_rc rc = load(c, path, &servers, &root, err);
    if (rc)
        return rc;
    struct pedit *e = gh_arena_alloc(c->arena, 4096 * sizeof(*e));
    size_t ne = 0;
    for (size_t i = 0; servers && i < servers->n; i++) {
        const struct gh_config_node *m = servers->items[i];
        const char *name = yscalar(m, "name");
        if (!name || m->kind != CFG_MAP)
            continue;
        const struct gh_config_node *env = gh_config_node_get(m, "env");
        const struct gh_config_node *args = gh_config_node_get(m, "args");
        const struct gh_config_node *url = gh_config_node_get(m, "url");
        for (size_t k = 0; env && env->kind == CFG_MAP && k < env->n; k++)
            mig_scalar(c, src, len, name, PL_ENV, env->items[k]->key, env->items[k], e, &ne);
        const char *flag = NULL;
        for (size_t k = 0; args && args->kind == CFG_SEQ && k < args->n; k++) {
            mig_scalar(c, src, len, name, PL_ARG, flag, args->items[k], e, &ne);
            const char *t = args->items[k]->kind == CFG_SCALAR ? args->items[k]->text : "";
            flag = t[0] == '-' && !strchr(t, '=') ? t : NULL;
        }
        if (url)
            mig_scalar(c, src, len, name, PL_URL, "url", url, e, &ne);
    }
    rc = gh_pedit_apply(src, len, e, ne, out);
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}
