/*
 * portable/formats.c owns the entry points of import, export and merge: it picks the format
 * (JSON family here, Codex TOML in codex.c, Continue YAML in cont.c), reads or writes the whole
 * document around the per-entry code of clients.c, and merges into an existing JSON/JSONC file
 * by splicing text (replace an entry's value, insert new members after the last one) so every
 * other byte — the user's other entries, keys, comments, indentation — stays as it was.
 * It also reads the MCP registry's server.json.
 */
#include "portable/internal.h"

#include <stdio.h>
#include <strings.h>

static const char *const ROOTS[] = {"mcpServers", "servers", "context_servers"};

int32_t gh_pc_find_root(const struct pjson *p, enum gh_portable_client client)
{
    int32_t r = gh_pj_get(p, 0, gh_pc(client)->root);
    for (size_t i = 0; r < 0 && i < GH_ARRAY_LEN(ROOTS); i++)
        r = gh_pj_get(p, 0, ROOTS[i]); /* a file copied from another client */
    return r;
}

/* The servers of object r (none when r is absent); a name seen before is noted and skipped. */
static enum gh_rc read_servers(struct gh_portable_catalog *c, enum gh_portable_client client,
                               const struct pjson *p, int32_t r, struct gh_portable_err *err)
{
    if (r < 0 || gh_json_tok(&p->doc, (uint32_t)r)->type != GH_JSON_OBJECT)
        return GH_OK;
    enum gh_rc rc = GH_OK;
    for (uint32_t k = gh_pj_first(p, (uint32_t)r); k && rc == GH_OK;
         k = gh_pj_next(p, (uint32_t)r, k)) {
        char *name = gh_pj_str(c->arena, p, k);
        bool seen = false;
        for (size_t i = 0; i < c->n_servers && !seen; i++)
            seen = strcmp(c->servers[i].name, name) == 0;
        if (seen)
            gh_portable_note(c, "server \"%s\" is defined twice (another scope): the first is kept",
                             name);
        else
            rc = gh_pc_read_entry(c, client, p, name, k + 1, err);
    }
    return rc;
}

static enum gh_rc json_import(struct gh_portable_catalog *c, enum gh_portable_client client,
                              const char *name, const char *src, size_t len,
                              struct gh_portable_err *err)
{
    struct pjson p;
    enum gh_rc rc = gh_pj_parse(c->arena, name, src, len, &p, err);
    if (rc)
        return rc;
    if (client == GH_PORTABLE_REGISTRY)
        return gh_registry_import(c, &p, err);
    int32_t r = gh_pc_find_root(&p, client);
    int32_t projects = client == GH_PORTABLE_CLAUDE_CODE ? gh_pj_get(&p, 0, "projects") : -1;
    if (r < 0 && projects < 0)
        return gh_perr(err, GH_E_PARSE, "%s: no \"%s\" object: is this a %s file?", name,
                       gh_pc(client)->root, gh_pc(client)->name);
    if (r >= 0 && gh_json_tok(&p.doc, (uint32_t)r)->type != GH_JSON_OBJECT)
        return gh_perr(err, GH_E_PARSE, "%s: \"%s\" is not an object", name, gh_pc(client)->root);
    rc = read_servers(c, client, &p, r, err);
    /* Claude Code's ~/.claude.json: local-scope servers under projects["<path>"].mcpServers */
    if (projects >= 0 && gh_json_tok(&p.doc, (uint32_t)projects)->type == GH_JSON_OBJECT)
        for (uint32_t k = gh_pj_first(&p, (uint32_t)projects); k && rc == GH_OK;
             k = gh_pj_next(&p, (uint32_t)projects, k))
            rc = read_servers(c, client, &p, gh_pj_get(&p, k + 1, "mcpServers"), err);
    if (rc == GH_OK && p.had_comments)
        gh_portable_note(c, "%s: comments are not carried into the catalog", name);
    return rc;
}

enum gh_rc gh_portable_import(struct gh_portable_catalog *c, enum gh_portable_client client,
                              const char *name, const char *src, size_t len,
                              struct gh_portable_err *err)
{
    if (client == GH_PORTABLE_CODEX)
        return gh_codex_import(c, name, src, len, err);
    if (client == GH_PORTABLE_CONTINUE)
        return gh_perr(err, GH_E_DECLINED, "continue: import reads a file");
    return json_import(c, client, name, src, len, err);
}

enum gh_rc gh_portable_import_file(struct gh_portable_catalog *c, enum gh_portable_client client,
                                   const char *path, struct gh_portable_err *err)
{
    if (client == GH_PORTABLE_CONTINUE)
        return gh_cont_import(c, path, err);
    char *buf = NULL;
    size_t len = 0;
    enum gh_rc rc = gh_portable_read_file(path, &buf, &len, err);
    if (rc == GH_OK)
        rc = gh_portable_import(c, client, path, buf, len, err);
    free(buf);
    return rc;
}

/* ---- export ---- */

static struct pnode *entries(struct gh_portable_catalog *c, enum gh_portable_client client,
                             const struct gh_portable_export_opts *o)
{
    struct pnode *servers = gh_pn_obj(c->arena);
    for (size_t i = 0; i < c->n_servers; i++) {
        struct pnode *e = gh_pc_entry(c, client, &c->servers[i], o, NULL);
        if (e)
            gh_pn_add(c->arena, servers, c->servers[i].name, e);
    }
    return servers;
}

enum gh_rc gh_portable_export(struct gh_portable_catalog *c, enum gh_portable_client client,
                              const struct gh_portable_export_opts *opts, struct gh_buf *out,
                              struct gh_portable_err *err)
{
    if (client == GH_PORTABLE_REGISTRY)
        return gh_perr(err, GH_E_PARSE, "registry: server.json is read by import only");
    enum gh_rc rc;
    if (client == GH_PORTABLE_CODEX)
        rc = gh_codex_export(c, opts, out);
    else if (client == GH_PORTABLE_CONTINUE)
        rc = gh_cont_export(c, opts, out);
    else {
        struct pnode *doc = gh_pn_obj(c->arena);
        gh_pn_add(c->arena, doc, gh_pc(client)->root, entries(c, client, opts));
        rc = gh_pn_write_json(out, doc, "  ", 0);
        if (rc == GH_OK)
            rc = gh_buf_puts(out, "\n");
    }
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}

/* ---- merge into an existing JSON/JSONC file ---- */

static char *indent_str(struct gh_arena *a, const char *unit, int depth)
{
    size_t ul = strlen(unit);
    char *s = gh_arena_alloc(a, ul * (size_t)depth + 2);
    s[0] = '\n';
    for (int i = 0; i < depth; i++)
        memcpy(s + 1 + ul * (size_t)i, unit, ul);
    s[1 + ul * (size_t)depth] = '\0';
    return s;
}

/* Token of the last member value (object) or element (array) of container t, or 0. */
static uint32_t last_child(const struct pjson *p, uint32_t t)
{
    const struct gh_json_tok *ct = gh_json_tok(&p->doc, t);
    uint32_t last = 0;
    for (uint32_t i = 0, at = t + 1; i < ct->size; i++) {
        if (ct->type == GH_JSON_OBJECT)
            at++; /* skip the key */
        last = at;
        at = gh_json_tok(&p->doc, at)->end;
    }
    return last;
}

/*
 * Edits adding items (rendered members or elements) at the end of container t at depth: after
 * the last child's line comment if it has one, with a comma after that child unless it already
 * has one (JSONC trailing comma). Returns the number of edits written to e (1 or 2).
 */
size_t gh_pj_insert_items(struct gh_arena *a, const struct pjson *p, uint32_t t, int depth,
                          const char *unit, const char **items, size_t n, struct pedit *e)
{
    const char *in = indent_str(a, unit, depth);
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    for (size_t i = 0; i < n; i++)
        gh_buf_appendf(&b, "%s%s%s", i ? "," : "", in, items[i]);
    uint32_t last = last_child(p, t);
    size_t ne = 0;
    if (!last) {
        gh_buf_puts(&b, indent_str(a, unit, depth - 1));
        e[ne++] = (struct pedit){gh_json_tok(&p->doc, t)->start + 1, 0, ""};
    } else {
        const struct gh_json_tok *lt = gh_json_tok(&p->doc, last);
        size_t end = lt->start + lt->len, j = end;
        while (j < p->len && (p->orig[j] == ' ' || p->orig[j] == '\t'))
            j++;
        bool comma = j < p->len && p->orig[j] == ',';
        size_t at = comma ? j + 1 : end;
        size_t k = at;
        while (k < p->len && (p->orig[k] == ' ' || p->orig[k] == '\t'))
            k++;
        if (k + 1 < p->len && p->orig[k] == '/' && p->orig[k + 1] == '/')
            while (k < p->len && p->orig[k] != '\n')
                k++;
        else
            k = at;
        if (!comma && k != end)
            e[ne++] = (struct pedit){end, 0, ","};
        e[ne++] = (struct pedit){k, 0, ""};
        if (!comma && k == end) {
            char *t2 = gh_arena_sprintf(a, ",%.*s", (int)b.len, b.data);
            e[ne - 1].ins = t2;
            gh_buf_release(&b);
            return ne;
        }
    }
    e[ne - 1].ins = gh_arena_strndup(a, b.data ? b.data : "", b.len);
    gh_buf_release(&b);
    return ne;
}

char *gh_pn_render(struct gh_arena *a, const struct pnode *n, const char *unit, int depth)
{
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    gh_pn_write_json(&b, n, unit, depth);
    char *s = gh_arena_strndup(a, b.data ? b.data : "", b.len);
    gh_buf_release(&b);
    return s;
}

char *gh_pn_member(struct gh_arena *a, const char *key, const struct pnode *v, const char *unit,
                   int depth)
{
    struct pnode k = {.kind = PN_STR, .str = key};
    return gh_arena_sprintf(a, "%s: %s", gh_pn_render(a, &k, unit, 0),
                            gh_pn_render(a, v, unit, depth));
}

static enum gh_rc json_merge(struct gh_portable_catalog *c, enum gh_portable_client client,
                             const struct gh_portable_export_opts *o, const char *old, size_t len,
                             struct gh_buf *out, struct gh_portable_err *err)
{
    struct pjson p;
    enum gh_rc rc = gh_pj_parse(c->arena, "the file to merge into", old, len, &p, err);
    if (rc)
        return rc;
    const char *unit = gh_pj_indent(c->arena, old, len), *root = gh_pc(client)->root;
    struct pnode *servers = entries(c, client, o);
    int32_t r = gh_pj_get(&p, 0, root);
    struct pedit *e = gh_arena_calloc(c->arena, (servers->n + 2) * sizeof(*e));
    const char **items = gh_arena_calloc(c->arena, (servers->n + 1) * sizeof(*items));
    size_t ne = 0, ni = 0;
    if (r < 0) {
        items[0] = gh_pn_member(c->arena, root, servers, unit, 1);
        ne = gh_pj_insert_items(c->arena, &p, 0, 1, unit, items, 1, e);
    } else if (gh_json_tok(&p.doc, (uint32_t)r)->type != GH_JSON_OBJECT) {
        return gh_perr(err, GH_E_PARSE, "\"%s\" in the file is not an object", root);
    } else {
        for (size_t i = 0; i < servers->n; i++) {
            const struct pnode *s = servers->kids[i];
            int32_t have = gh_pj_get(&p, (uint32_t)r, s->key);
            if (have < 0) {
                items[ni++] = gh_pn_member(c->arena, s->key, s, unit, 2);
                continue;
            }
            const struct gh_json_tok *t = gh_json_tok(&p.doc, (uint32_t)have);
            e[ne++] = (struct pedit){t->start, t->len, gh_pn_render(c->arena, s, unit, 2)};
        }
        if (ni)
            ne += gh_pj_insert_items(c->arena, &p, (uint32_t)r, 2, unit, items, ni, e + ne);
    }
    if (p.had_comments)
        gh_portable_note(c, "comments kept, except inside the entries that were replaced");
    rc = gh_pedit_apply(old, len, e, ne, out);
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}

enum gh_rc gh_portable_merge(struct gh_portable_catalog *c, enum gh_portable_client client,
                             const struct gh_portable_export_opts *opts, const char *path,
                             const char *old, size_t len, struct gh_buf *out,
                             struct gh_portable_err *err)
{
    if (client == GH_PORTABLE_REGISTRY)
        return gh_perr(err, GH_E_PARSE, "registry: server.json is read by import only");
    if (client == GH_PORTABLE_CODEX)
        return gh_codex_merge(c, opts, old, len, out, err);
    if (client == GH_PORTABLE_CONTINUE)
        return gh_cont_merge(c, opts, path, old, len, out, err);
    return json_merge(c, client, opts, old, len, out, err);
}

/* ---- MCP registry server.json ---- */

static const char *jstr(struct gh_arena *a, const struct pjson *p, int32_t obj, const char *k1,
                        const char *k2)
{
    if (obj < 0)
        return NULL;
    int32_t t = gh_pj_get(p, (uint32_t)obj, k1);
    if (t < 0 && k2)
        t = gh_pj_get(p, (uint32_t)obj, k2); /* the snake_case spelling before 2025-09-16 */
    if (t < 0 || gh_json_tok(&p->doc, (uint32_t)t)->type != GH_JSON_STRING)
        return NULL;
    return gh_pj_str(a, p, (uint32_t)t);
}

static bool jtrue(const struct pjson *p, int32_t obj, const char *k1, const char *k2)
{
    int32_t t = gh_pj_get(p, (uint32_t)obj, k1);
    if (t < 0)
        t = gh_pj_get(p, (uint32_t)obj, k2);
    return t >= 0 && gh_json_tok(&p->doc, (uint32_t)t)->type == GH_JSON_TRUE;
}

/* Each input (header or variable): a secret becomes a reference, never a value. */
static void reg_inputs(struct gh_portable_catalog *c, const struct pjson *p,
                       struct gh_portable_server *s, int32_t arr, bool header)
{
    if (arr < 0 || gh_json_tok(&p->doc, (uint32_t)arr)->type != GH_JSON_ARRAY)
        return;
    const struct gh_json_tok *t = gh_json_tok(&p->doc, (uint32_t)arr);
    for (uint32_t i = 0, at = (uint32_t)arr + 1; i < t->size && i < GH_PORTABLE_MAX_ITEMS;
         i++, at = gh_json_tok(&p->doc, at)->end) {
        const char *name = jstr(c->arena, p, (int32_t)at, "name", NULL);
        if (!name)
            continue;
        const char *v = jstr(c->arena, p, (int32_t)at, "value", NULL);
        if (!v)
            v = jstr(c->arena, p, (int32_t)at, "default", NULL);
        enum plit_where w = header ? PL_HEADER : PL_ENV;
        if (jtrue(p, (int32_t)at, "isSecret", "is_secret") || !v) {
            const char *ref = gh_pl_name(c->arena, s->name, w, name);
            v = gh_arena_sprintf(c->arena, "${env:%s}", ref);
            if (header && strcasecmp(name, "Authorization") == 0)
                v = gh_arena_sprintf(c->arena, "Bearer ${env:%s}", ref);
            gh_portable_note(c, "%s: set %s to the value of %s %s", s->name, ref,
                             header ? "header" : "variable", name);
        } else {
            v = gh_pl_scrub(c, s->name, w, name, v);
        }
        if (header)
            s->headers = gh_ppair_push(c->arena, s->headers, &s->n_headers, name, v);
        else
            s->env = gh_ppair_push(c->arena, s->env, &s->n_env, name, v);
    }
}

static void reg_package(struct gh_portable_catalog *c, const struct pjson *p,
                        struct gh_portable_server *s, int32_t pkg)
{
    const char *type = jstr(c->arena, p, pkg, "registryType", "registry_type");
    const char *id = jstr(c->arena, p, pkg, "identifier", "name");
    const char *ver = jstr(c->arena, p, pkg, "version", NULL);
    const char *hint = jstr(c->arena, p, pkg, "runtimeHint", "runtime_hint");
    if (!type)
        type = jstr(c->arena, p, pkg, "registry_name", NULL);
    if (!id)
        id = "";
    s->transport = GH_PORTABLE_STDIO;
    struct gh_arena *a = c->arena;
    if (type && strcmp(type, "pypi") == 0) {
        s->command = gh_arena_sprintf(a, "%s", hint ? hint : "uvx");
        s->args = gh_pstrv_push(a, s->args, &s->n_args,
                                ver ? gh_arena_sprintf(a, "%s==%s", id, ver) : id);
    } else if (type && strcmp(type, "oci") == 0) {
        s->command = gh_arena_sprintf(a, "%s", hint ? hint : "docker");
        static const char *const pre[] = {"run", "-i", "--rm"};
        for (size_t i = 0; i < GH_ARRAY_LEN(pre); i++)
            s->args = gh_pstrv_push(a, s->args, &s->n_args, pre[i]);
        s->args =
            gh_pstrv_push(a, s->args, &s->n_args, ver ? gh_arena_sprintf(a, "%s:%s", id, ver) : id);
    } else {
        /* npm, and the default: a pinned version, never "latest" */
        s->command = gh_arena_sprintf(a, "%s", hint ? hint : "npx");
        s->args = gh_pstrv_push(a, s->args, &s->n_args, "-y");
        s->args =
            gh_pstrv_push(a, s->args, &s->n_args, ver ? gh_arena_sprintf(a, "%s@%s", id, ver) : id);
        if (type && strcmp(type, "npm") != 0)
            gh_portable_note(c, "%s: package type %s run with npx: check the command", s->name,
                             type);
    }
    int32_t ev = gh_pj_get(p, (uint32_t)pkg, "environmentVariables");
    reg_inputs(c, p, s, ev >= 0 ? ev : gh_pj_get(p, (uint32_t)pkg, "environment_variables"), false);
}

static int32_t first_of(const struct pjson *p, const char *key)
{
    int32_t t = gh_pj_get(p, 0, key);
    if (t < 0 || gh_json_tok(&p->doc, (uint32_t)t)->type != GH_JSON_ARRAY ||
        gh_json_tok(&p->doc, (uint32_t)t)->size == 0)
        return -1;
    return t + 1;
}

enum gh_rc gh_registry_import(struct gh_portable_catalog *c, const struct pjson *p,
                              struct gh_portable_err *err)
{
    const char *full = jstr(c->arena, p, 0, "name", NULL);
    if (!full || !*full)
        return gh_perr(err, GH_E_PARSE, "server.json: no \"name\"");
    const char *slash = strrchr(full, '/');
    char *name =
        gh_arena_strndup(c->arena, slash ? slash + 1 : full, strlen(slash ? slash + 1 : full));
    for (char *q = name; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
              *q == '_' || *q == '-'))
            *q = '-';
    struct gh_portable_server *s;
    if (gh_portable_catalog_add(c, name, &s) != GH_OK)
        return gh_perr(err, GH_E_PARSE, "server.json: server \"%s\" already in the catalog", name);
    s->title = (char *)jstr(c->arena, p, 0, "title", NULL);
    s->description = (char *)jstr(c->arena, p, 0, "description", NULL);
    int32_t remote = first_of(p, "remotes"), pkg = first_of(p, "packages");
    if (remote >= 0) {
        const char *type = jstr(c->arena, p, remote, "type", "transport_type");
        const char *url = jstr(c->arena, p, remote, "url", NULL);
        if (!url)
            return gh_perr(err, GH_E_PARSE, "server.json: remotes[0] has no url");
        s->transport = type && strcmp(type, "sse") == 0 ? GH_PORTABLE_SSE : GH_PORTABLE_HTTP;
        s->url = gh_pl_scrub(c, name, PL_URL, "url", url);
        reg_inputs(c, p, s, gh_pj_get(p, (uint32_t)remote, "headers"), true);
        return GH_OK;
    }
    if (pkg < 0)
        return gh_perr(err, GH_E_PARSE, "server.json: neither remotes nor packages");
    reg_package(c, p, s, pkg);
    return GH_OK;
}
