/*
 * portable/migrate.c owns `migrate` for the JSON-family clients: every literal secret in a
 * server's env, headers, args or URL is rewritten in place to the client's own reference syntax
 * (VS Code: ${input:id} plus an `inputs` entry with password: true, so VS Code prompts once and
 * keeps it in its secret storage); a client with no syntax (Claude Desktop, Zed, Cline) gets
 * the entry routed through the gateway when asked (--via-gateway), else the secret stays and is
 * reported as not migrated. Edits are spliced into the original text, so every unrelated entry,
 * comment and the indentation are untouched. Codex and Continue are in codex.c and cont.c.
 */
#include "portable/internal.h"

#include <ctype.h>
#include <stdio.h>

#define MIG_MAX_EDITS 4096

/* One literal secret of the current server, before it is known how it is migrated. */
struct pending {
    const char *where, *key, *secret;
    size_t len;
    const char *name;
};

struct mig {
    struct gh_portable_catalog *c;
    enum gh_portable_client client;
    const struct pjson *p;
    const char *unit;
    struct pedit *e; /* edits of the whole file */
    size_t ne;
    struct pedit *se; /* edits of the current server */
    size_t nse;
    struct pending *pend;
    size_t npend;
    bool stuck;          /* the current server has a secret the client cannot reference */
    const char **inputs; /* VS Code inputs to add, rendered */
    size_t ninputs;
    int32_t old_inputs; /* the file's inputs array, or -1 */
};

/* VS Code input id for a variable name: "GITHUB_TOKEN" -> "github-token". */
static char *input_id(struct gh_arena *a, const char *name)
{
    char *id = gh_arena_strndup(a, name, strlen(name));
    for (char *q = id; *q; q++)
        *q = *q == '_' ? '-' : (char)tolower((unsigned char)*q);
    return id;
}

static bool has_input(const struct mig *m, const char *id)
{
    if (m->old_inputs < 0)
        return false;
    const struct gh_json_tok *t = gh_json_tok(&m->p->doc, (uint32_t)m->old_inputs);
    for (uint32_t i = 0, at = (uint32_t)m->old_inputs + 1; t->type == GH_JSON_ARRAY && i < t->size;
         i++, at = gh_json_tok(&m->p->doc, at)->end) {
        int32_t v = gh_pj_get(m->p, at, "id");
        if (v >= 0 && gh_json_str_eq(&m->p->doc, (uint32_t)v, id, strlen(id)))
            return true;
    }
    return false;
}

static const char *vscode_ref(struct mig *m, const char *server, const char *name)
{
    struct gh_arena *a = m->c->arena;
    const char *id = input_id(a, name);
    bool dup = has_input(m, id);
    for (size_t i = 0; i < m->ninputs && !dup; i++)
        dup = strstr(m->inputs[i], gh_arena_sprintf(a, "\"id\": \"%s\"", id)) != NULL;
    if (!dup && m->ninputs < 256) {
        struct pnode *in = gh_pn_obj(a);
        gh_pn_add_str(a, in, "type", "promptString");
        gh_pn_add_str(a, in, "id", id);
        gh_pn_add_str(a, in, "description", gh_arena_sprintf(a, "%s for %s", name, server));
        gh_pn_add_bool(a, in, "password", true);
        m->inputs[m->ninputs++] = gh_pn_render(a, in, m->unit, 2);
    }
    return gh_arena_sprintf(a, "${input:%s}", id);
}

/* String token t of server: a literal secret is queued for rewriting. */
static void visit(struct mig *m, const char *server, enum plit_where w, const char *key, uint32_t t)
{
    static const char *const where[] = {"env", "header", "arg", "url"};
    if (gh_json_tok(&m->p->doc, t)->type != GH_JSON_STRING || m->npend >= 256 ||
        m->nse >= MIG_MAX_EDITS)
        return;
    char *v = gh_pj_str(m->c->arena, m->p, t);
    size_t off, len;
    if (!gh_pl_find(w, key, v, &off, &len))
        return;
    if (w == PL_URL)
        key = gh_pl_url_key(m->c->arena, v, off, key);
    const char *name = gh_pl_unique(m->c, gh_pl_name(m->c->arena, server, w, key), v + off);
    for (size_t i = 0; i < m->npend; i++)
        if (strcmp(m->pend[i].name, name) == 0)
            name = gh_arena_sprintf(m->c->arena, "%s_%zu", name, i + 2);
    m->pend[m->npend++] = (struct pending){where[w], key ? key : "", v + off, len, name};
    const char *ref = m->client == GH_PORTABLE_VSCODE
                          ? vscode_ref(m, server, name)
                          : gh_pc_ref_name(m->c->arena, m->client, name);
    if (!ref) {
        m->stuck = true;
        return;
    }
    char *nv = gh_arena_sprintf(m->c->arena, "%.*s%s%s", (int)off, v, ref, v + off + len);
    struct pnode s = {.kind = PN_STR, .str = nv};
    const struct gh_json_tok *tk = gh_json_tok(&m->p->doc, t);
    m->se[m->nse++] = (struct pedit){tk->start, tk->len, gh_pn_render(m->c->arena, &s, "", 0)};
}

static void visit_obj(struct mig *m, const char *server, enum plit_where w, int32_t obj)
{
    if (obj < 0 || gh_json_tok(&m->p->doc, (uint32_t)obj)->type != GH_JSON_OBJECT)
        return;
    for (uint32_t k = gh_pj_first(m->p, (uint32_t)obj); k; k = gh_pj_next(m->p, (uint32_t)obj, k))
        visit(m, server, w, gh_pj_str(m->c->arena, m->p, k), k + 1);
}

static void visit_args(struct mig *m, const char *server, int32_t arr)
{
    if (arr < 0 || gh_json_tok(&m->p->doc, (uint32_t)arr)->type != GH_JSON_ARRAY)
        return;
    const char *flag = NULL;
    const struct gh_json_tok *t = gh_json_tok(&m->p->doc, (uint32_t)arr);
    for (uint32_t i = 0, at = (uint32_t)arr + 1; i < t->size;
         i++, at = gh_json_tok(&m->p->doc, at)->end) {
        visit(m, server, PL_ARG, flag, at);
        char *v = gh_pj_str(m->c->arena, m->p, at);
        flag = v[0] == '-' && !strchr(v, '=') ? v : NULL;
    }
}

/* The current server's edits, or one edit routing it through the gateway, and its findings. */
static void finish_server(struct mig *m, const char *server, uint32_t v,
                          const struct gh_portable_migrate_opts *o)
{
    bool via = m->stuck && o->via_gateway;
    const char *gw =
        via ? gh_arena_sprintf(m->c->arena, "%s/mcp/%s", o->via_gateway, server) : NULL;
    for (size_t i = 0; i < m->npend; i++) {
        const struct pending *q = &m->pend[i];
        bool done = !m->stuck || via;
        const char *ref = via        ? gh_arena_sprintf(m->c->arena, "gateway:%s", gw)
                          : m->stuck ? "-"
                                     : gh_arena_sprintf(m->c->arena, "env:%s", q->name);
        gh_pl_report(m->c, server, q->where, q->key, ref, q->secret, q->len, done);
        if (!via && !m->stuck && m->client != GH_PORTABLE_VSCODE)
            gh_portable_note(m->c, "%s: set %s in the environment the client starts from", server,
                             q->name);
    }
    if (via) {
        const struct gh_json_tok *t = gh_json_tok(&m->p->doc, v);
        struct pnode *e = gh_pc_gateway_entry(m->c, m->client, gw, o->gatehouse);
        m->e[m->ne++] = (struct pedit){t->start, t->len, gh_pn_render(m->c->arena, e, m->unit, 2)};
        gh_portable_note(m->c,
                         "%s now goes through the gateway at %s: add it there as upstream %s "
                         "with its secrets as env:/file: references",
                         server, gw, server);
    } else if (m->stuck) {
        gh_portable_note(m->c,
                         "%s: %s has no secret-reference syntax: not migrated; serve it through "
                         "the gateway (--via-gateway URL)",
                         server, gh_pc(m->client)->name);
    } else {
        for (size_t i = 0; i < m->nse && m->ne < MIG_MAX_EDITS; i++)
            m->e[m->ne++] = m->se[i];
    }
}

static void server(struct mig *m, const char *name, uint32_t v,
                   const struct gh_portable_migrate_opts *o)
{
    if (gh_json_tok(&m->p->doc, v)->type != GH_JSON_OBJECT)
        return;
    m->nse = m->npend = 0;
    m->stuck = false;
    int32_t cmd = gh_pj_get(m->p, v, "command");
    uint32_t body = v;
    if (cmd >= 0 && gh_json_tok(&m->p->doc, (uint32_t)cmd)->type == GH_JSON_OBJECT)
        body = (uint32_t)cmd; /* Zed's older {"command": {"path", "args", "env"}} */
    visit_obj(m, name, PL_ENV, gh_pj_get(m->p, body, "env"));
    visit_obj(m, name, PL_HEADER, gh_pj_get(m->p, v, "headers"));
    visit_args(m, name, gh_pj_get(m->p, body, "args"));
    int32_t oauth = gh_pj_get(m->p, v, "oauth"); /* Gemini: oauth.clientSecret */
    int32_t cs = oauth >= 0 ? gh_pj_get(m->p, (uint32_t)oauth, "clientSecret") : -1;
    if (cs >= 0)
        visit(m, name, PL_ENV, "clientSecret", (uint32_t)cs);
    visit_obj(m, name, PL_ENV, gh_pj_get(m->p, v, "auth")); /* Cursor: auth.CLIENT_SECRET */
    static const char *const urls[] = {"url", "serverUrl", "httpUrl"};
    for (size_t i = 0; i < GH_ARRAY_LEN(urls); i++) {
        int32_t u = gh_pj_get(m->p, v, urls[i]);
        if (u >= 0)
            visit(m, name, PL_URL, urls[i], (uint32_t)u);
    }
    if (m->npend && m->ne + m->nse + 1 < MIG_MAX_EDITS)
        finish_server(m, name, v, o);
}

static void servers_of(struct mig *m, int32_t r, const struct gh_portable_migrate_opts *o)
{
    if (r < 0 || gh_json_tok(&m->p->doc, (uint32_t)r)->type != GH_JSON_OBJECT)
        return;
    for (uint32_t k = gh_pj_first(m->p, (uint32_t)r); k; k = gh_pj_next(m->p, (uint32_t)r, k))
        server(m, gh_pj_str(m->c->arena, m->p, k), k + 1, o);
}

/* VS Code: the new inputs, into the file's inputs array or as a new top-level member. */
static void add_inputs(struct mig *m)
{
    if (!m->ninputs || m->ne + 2 >= MIG_MAX_EDITS)
        return;
    struct gh_arena *a = m->c->arena;
    if (m->old_inputs >= 0 &&
        gh_json_tok(&m->p->doc, (uint32_t)m->old_inputs)->type == GH_JSON_ARRAY) {
        m->ne += gh_pj_insert_items(a, m->p, (uint32_t)m->old_inputs, 2, m->unit, m->inputs,
                                    m->ninputs, m->e + m->ne);
        return;
    }
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    const char *in = gh_arena_sprintf(a, "\n%s%s", m->unit, m->unit);
    gh_buf_puts(&b, "\"inputs\": [");
    for (size_t i = 0; i < m->ninputs; i++)
        gh_buf_appendf(&b, "%s%s%s", i ? "," : "", in, m->inputs[i]);
    gh_buf_appendf(&b, "\n%s]", m->unit);
    const char *item = gh_arena_strndup(a, b.data, b.len);
    gh_buf_release(&b);
    m->ne += gh_pj_insert_items(a, m->p, 0, 1, m->unit, &item, 1, m->e + m->ne);
}

static enum gh_rc json_migrate(struct gh_portable_catalog *c, enum gh_portable_client client,
                               const char *path, const char *src, size_t len,
                               const struct gh_portable_migrate_opts *o, struct gh_buf *out,
                               struct gh_portable_err *err)
{
    struct pjson p;
    enum gh_rc rc = gh_pj_parse(c->arena, path, src, len, &p, err);
    if (rc)
        return rc;
    int32_t r = gh_pc_find_root(&p, client);
    /* Claude Code's ~/.claude.json: local-scope servers under projects["<path>"].mcpServers */
    int32_t projects = client == GH_PORTABLE_CLAUDE_CODE ? gh_pj_get(&p, 0, "projects") : -1;
    if ((r < 0 && projects < 0) ||
        (r >= 0 && gh_json_tok(&p.doc, (uint32_t)r)->type != GH_JSON_OBJECT))
        return gh_perr(err, GH_E_PARSE, "%s: no \"%s\" object: is this a %s file?", path,
                       gh_pc(client)->root, gh_pc(client)->name);
    struct mig m = {.c = c, .client = client, .p = &p, .unit = gh_pj_indent(c->arena, src, len)};
    m.e = gh_arena_alloc(c->arena, MIG_MAX_EDITS * sizeof(*m.e));
    m.se = gh_arena_alloc(c->arena, MIG_MAX_EDITS * sizeof(*m.se));
    m.pend = gh_arena_alloc(c->arena, 256 * sizeof(*m.pend));
    m.inputs = gh_arena_alloc(c->arena, 256 * sizeof(*m.inputs));
    m.old_inputs = gh_pj_get(&p, 0, "inputs");
    servers_of(&m, r, o);
    if (projects >= 0 && gh_json_tok(&p.doc, (uint32_t)projects)->type == GH_JSON_OBJECT)
        for (uint32_t k = gh_pj_first(&p, (uint32_t)projects); k;
             k = gh_pj_next(&p, (uint32_t)projects, k))
            servers_of(&m, gh_pj_get(&p, k + 1, "mcpServers"), o);
    if (client == GH_PORTABLE_VSCODE)
        add_inputs(&m);
    if (m.ninputs)
        gh_portable_note(c, "vscode: prompts once for each new input and keeps it in its secret "
                            "storage");
    rc = gh_pedit_apply(src, len, m.e, m.ne, out);
    return rc ? gh_perr(err, rc, "output larger than %u bytes", GH_PORTABLE_MAX_FILE) : GH_OK;
}

enum gh_rc gh_portable_migrate(struct gh_portable_catalog *c, enum gh_portable_client client,
                               const char *path, const char *src, size_t len,
                               const struct gh_portable_migrate_opts *opts, struct gh_buf *out,
                               struct gh_portable_err *err)
{
    struct gh_portable_migrate_opts none = {0};
    const struct gh_portable_migrate_opts *o = opts ? opts : &none;
    if (client == GH_PORTABLE_REGISTRY || client == GH_PORTABLE_MCP_JSON)
        return gh_perr(err, GH_E_PARSE, "%s: not a client file: import it instead",
                       gh_pc(client)->name);
    if (len > GH_PORTABLE_MAX_FILE)
        return gh_perr(err, GH_E_LIMIT, "%s: larger than %u bytes", path, GH_PORTABLE_MAX_FILE);
    if (client == GH_PORTABLE_CODEX)
        return gh_codex_migrate(c, path, src, len, o, out, err);
    if (client == GH_PORTABLE_CONTINUE)
        return gh_cont_migrate(c, path, src, len, out, err);
    return json_migrate(c, client, path, src, len, o, out, err);
}
