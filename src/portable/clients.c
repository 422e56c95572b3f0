/*
 * portable/clients.c owns the JSON-family client formats (Claude Desktop, Claude Code, VS Code,
 * Cursor, Windsurf, Zed, Gemini CLI, Cline and the neutral mcp.json): what each calls its
 * servers' root key and URL key, whether its file can hold a remote server with OAuth (else an
 * entry runs `gatehouse connect URL`), how it writes a reference to an environment variable,
 * and reading and writing one server entry. The per-client facts come from
 * ../shared/reference/client-config-formats.md §1–2 and are restated in docs/portability.md.
 */
#include "portable/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

/* remote_oauth: the file can hold a remote URL and the client runs the OAuth flow itself.
 * Claude Desktop's file is stdio-only; Windsurf, Continue and Cline document only static
 * headers for remote servers, so they get the bridge. */
static const struct pclient CLIENTS[GH_PORTABLE_CLIENT__COUNT] = {
    [GH_PORTABLE_CLAUDE_DESKTOP] = {"claude-desktop", "mcpServers", false, "url"},
    [GH_PORTABLE_CLAUDE_CODE] = {"claude-code", "mcpServers", true, "url"},
    [GH_PORTABLE_VSCODE] = {"vscode", "servers", true, "url"},
    [GH_PORTABLE_CURSOR] = {"cursor", "mcpServers", true, "url"},
    [GH_PORTABLE_WINDSURF] = {"windsurf", "mcpServers", false, "serverUrl"},
    [GH_PORTABLE_ZED] = {"zed", "context_servers", true, "url"},
    [GH_PORTABLE_CODEX] = {"codex", "mcp_servers", true, "url"},
    [GH_PORTABLE_GEMINI] = {"gemini", "mcpServers", true, "httpUrl"},
    [GH_PORTABLE_CONTINUE] = {"continue", "mcpServers", false, "url"},
    [GH_PORTABLE_CLINE] = {"cline", "mcpServers", false, "url"},
    [GH_PORTABLE_MCP_JSON] = {"mcp.json", "mcpServers", true, "url"},
    [GH_PORTABLE_REGISTRY] = {"registry", "remotes", false, "url"},
};

const struct pclient *gh_pc(enum gh_portable_client client)
{
    GH_BUG_ON((unsigned)client >= GH_PORTABLE_CLIENT__COUNT);
    return &CLIENTS[client];
}

enum gh_rc gh_portable_client_parse(const char *name, enum gh_portable_client *out)
{
    for (int i = 0; i < GH_PORTABLE_CLIENT__COUNT; i++)
        if (strcmp(name, CLIENTS[i].name) == 0) {
            *out = (enum gh_portable_client)i;
            return GH_OK;
        }
    static const struct {
        const char *alias;
        enum gh_portable_client c;
    } aliases[] = {{"mcp-json", GH_PORTABLE_MCP_JSON}, {"server.json", GH_PORTABLE_REGISTRY},
                   {"codex-cli", GH_PORTABLE_CODEX},   {"gemini-cli", GH_PORTABLE_GEMINI},
                   {"vs-code", GH_PORTABLE_VSCODE},    {"claude", GH_PORTABLE_CLAUDE_DESKTOP}};
    for (size_t i = 0; i < GH_ARRAY_LEN(aliases); i++)
        if (strcmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].c;
            return GH_OK;
        }
    return GH_E_PARSE;
}

const char *gh_portable_client_name(enum gh_portable_client client)
{
    return gh_pc(client)->name;
}

bool gh_portable_client_remote_oauth(enum gh_portable_client client)
{
    return gh_pc(client)->remote_oauth;
}

enum gh_rc gh_portable_client_guess(const char *path, enum gh_portable_client *out)
{
    static const struct {
        const char *suffix;
        enum gh_portable_client c;
    } by_path[] = {
        {"claude_desktop_config.json", GH_PORTABLE_CLAUDE_DESKTOP},
        {".claude.json", GH_PORTABLE_CLAUDE_CODE},
        {".mcp.json", GH_PORTABLE_CLAUDE_CODE},
        {".vscode/mcp.json", GH_PORTABLE_VSCODE},
        {"Code/User/mcp.json", GH_PORTABLE_VSCODE},
        {".cursor/mcp.json", GH_PORTABLE_CURSOR},
        {"windsurf/mcp_config.json", GH_PORTABLE_WINDSURF},
        {"zed/settings.json", GH_PORTABLE_ZED},
        {".codex/config.toml", GH_PORTABLE_CODEX},
        {".gemini/settings.json", GH_PORTABLE_GEMINI},
        {".continue/config.yaml", GH_PORTABLE_CONTINUE},
        {"cline_mcp_settings.json", GH_PORTABLE_CLINE},
        {"server.json", GH_PORTABLE_REGISTRY},
    };
    size_t pl = strlen(path);
    for (size_t i = 0; i < GH_ARRAY_LEN(by_path); i++) {
        size_t sl = strlen(by_path[i].suffix);
        if (pl >= sl && strcmp(path + pl - sl, by_path[i].suffix) == 0) {
            *out = by_path[i].c;
            return GH_OK;
        }
    }
    if (strstr(path, ".continue/mcpServers/")) {
        *out = GH_PORTABLE_CONTINUE;
        return GH_OK;
    }
    return GH_E_DECLINED;
}

/* ---- references ---- */

static bool env_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The client's spelling of a reference to variable name, or NULL when it has none. */
static char *ref_for(struct gh_arena *a, enum gh_portable_client client, const char *name)
{
    switch (client) {
    case GH_PORTABLE_CLAUDE_CODE:
    case GH_PORTABLE_GEMINI:
        return gh_arena_sprintf(a, "${%s}", name);
    case GH_PORTABLE_VSCODE:
    case GH_PORTABLE_CURSOR:
    case GH_PORTABLE_WINDSURF:
    case GH_PORTABLE_MCP_JSON:
        return gh_arena_sprintf(a, "${env:%s}", name);
    case GH_PORTABLE_CONTINUE:
        return gh_arena_sprintf(a, "${{ secrets.%s }}", name);
    default:
        return NULL;
    }
}

char *gh_pc_ref_name(struct gh_arena *a, enum gh_portable_client client, const char *name)
{
    return ref_for(a, client, name);
}

char *gh_pc_ref(struct gh_arena *a, enum gh_portable_client client, const char *s)
{
    if (!strstr(s, "${env:") && !strstr(s, "${file:"))
        return (char *)s;
    if (client == GH_PORTABLE_MCP_JSON)
        return (char *)s;
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    char *res = NULL;
    for (const char *p = s; *p;) {
        if (strncmp(p, "${file:", 7) == 0)
            goto out; /* no client reads a file reference */
        if (strncmp(p, "${env:", 6) != 0) {
            gh_buf_append(&b, p++, 1);
            continue;
        }
        const char *e = strchr(p, '}');
        if (!e)
            goto out;
        char *name = gh_arena_strndup(a, p + 6, (size_t)(e - p - 6));
        char *r = ref_for(a, client, name);
        if (!r)
            goto out;
        gh_buf_puts(&b, r);
        p = e + 1;
    }
    res = gh_arena_strndup(a, b.data ? b.data : "", b.len);
out:
    gh_buf_release(&b);
    return res;
}

/* Length of an upper-case env name at s (A-Z, 0-9, _), 0 if it does not start one. */
static size_t upper_name(const char *s)
{
    size_t n = 0;
    if (!(isupper((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    while (isupper((unsigned char)s[n]) || isdigit((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n;
}

/* One client reference at p converted; *adv = bytes consumed (0: none here). */
static char *unref_at(struct gh_arena *a, const char *p, size_t *adv)
{
    *adv = 0;
    const char *e;
    if (strncmp(p, "${{", 3) == 0 && (e = strstr(p, "}}"))) { /* Continue */
        const char *s = strstr(p, "secrets.");
        if (!s || s > e)
            return NULL;
        size_t n = 0;
        while (env_name_char(s[8 + n]))
            n++;
        *adv = (size_t)(e + 2 - p);
        return gh_arena_sprintf(a, "${env:%.*s}", (int)n, s + 8);
    }
    if (strncmp(p, "${input:", 8) == 0 && (e = strchr(p, '}'))) { /* VS Code */
        *adv = (size_t)(e + 1 - p);
        char *id = gh_arena_strndup(a, p + 8, (size_t)(e - p - 8));
        return gh_arena_sprintf(a, "${env:%s}", gh_pl_envify(a, id));
    }
    if (strncmp(p, "${env:", 6) == 0)
        return NULL;
    size_t n = p[0] == '$' && p[1] == '{' ? upper_name(p + 2) : 0;
    if (n && (p[2 + n] == '}' || strncmp(p + 2 + n, ":-", 2) == 0) && (e = strchr(p, '}'))) {
        *adv = (size_t)(e + 1 - p); /* ${VAR} and ${VAR:-default}: the default is dropped */
        return gh_arena_sprintf(a, "${env:%.*s}", (int)n, p + 2);
    }
    n = p[0] == '$' ? upper_name(p + 1) : 0;
    if (n) { /* Gemini's $VAR */
        *adv = n + 1;
        return gh_arena_sprintf(a, "${env:%.*s}", (int)n, p + 1);
    }
    return NULL;
}

char *gh_pc_unref(struct gh_arena *a, enum gh_portable_client client, const char *s)
{
    (void)client; /* every syntax is recognised everywhere: a file may mix them */
    if (!strchr(s, '$'))
        return (char *)s;
    struct gh_buf b;
    gh_buf_init(&b, GH_PORTABLE_MAX_FILE);
    for (const char *p = s; *p;) {
        size_t adv = 0;
        char *r = *p == '$' ? unref_at(a, p, &adv) : NULL;
        if (r) {
            gh_buf_puts(&b, r);
            p += adv;
        } else {
            gh_buf_append(&b, p++, 1);
        }
    }
    char *res = gh_arena_strndup(a, b.data ? b.data : "", b.len);
    gh_buf_release(&b);
    return res;
}

/* ---- export: one entry ---- */

static const char *connect_cmd(const struct gh_portable_export_opts *o)
{
    return o && o->gatehouse ? o->gatehouse : "gatehouse";
}

/* A value with references for client, or NULL (noted) when it cannot say it. */
static const char *expr(struct gh_portable_catalog *c, enum gh_portable_client client,
                        const struct gh_portable_server *s, const char *what, const char *v)
{
    const char *r = gh_pc_ref(c->arena, client, v);
    if (!r)
        gh_portable_note(c,
                         "%s: %s: %s has no syntax for a secret reference; left out (set it in "
                         "the environment the client starts from, or serve this server through "
                         "the gateway)",
                         gh_pc(client)->name, s->name, what);
    return r;
}

static void add_pairs(struct gh_portable_catalog *c, enum gh_portable_client client,
                      const struct gh_portable_server *s, struct pnode *e, const char *key,
                      const struct gh_portable_pair *v, size_t n)
{
    if (!n)
        return;
    struct pnode *o = gh_pn_obj(c->arena);
    for (size_t i = 0; i < n; i++) {
        const char *r = expr(c, client, s, v[i].key, v[i].value);
        if (r)
            gh_pn_add_str(c->arena, o, v[i].key, r);
    }
    if (o->n)
        gh_pn_add(c->arena, e, key, o);
}

static void add_meta(struct gh_portable_catalog *c, const struct gh_portable_server *s,
                     struct pnode *e)
{
    if (s->title)
        gh_pn_add_str(c->arena, e, "title", s->title);
    if (s->description)
        gh_pn_add_str(c->arena, e, "description", s->description);
    if (s->n_scopes) {
        struct pnode *sc = gh_pn_add(c->arena, e, "scopes", gh_pn_arr(c->arena));
        for (size_t i = 0; i < s->n_scopes; i++)
            gh_pn_add_str(c->arena, sc, NULL, s->scopes[i]);
    }
}

static struct pnode *stdio_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                                 const struct gh_portable_server *s)
{
    struct pnode *e = gh_pn_obj(c->arena);
    if (client == GH_PORTABLE_VSCODE || client == GH_PORTABLE_CLAUDE_CODE ||
        client == GH_PORTABLE_MCP_JSON)
        gh_pn_add_str(c->arena, e, "type", "stdio");
    gh_pn_add_str(c->arena, e, "command", s->command);
    struct pnode *args = gh_pn_add(c->arena, e, "args", gh_pn_arr(c->arena));
    for (size_t i = 0; i < s->n_args; i++) {
        const char *r = expr(c, client, s, "an argument", s->args[i]);
        gh_pn_add_str(c->arena, args, NULL, r ? r : s->args[i]);
    }
    add_pairs(c, client, s, e, "env", s->env, s->n_env);
    if (s->cwd)
        gh_pn_add_str(c->arena, e, "cwd", s->cwd);
    return e;
}

static struct pnode *connect_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                                   const struct gh_portable_server *s,
                                   const struct gh_portable_export_opts *o)
{
    struct pnode *e = gh_pn_obj(c->arena);
    if (client == GH_PORTABLE_VSCODE || client == GH_PORTABLE_CLAUDE_CODE)
        gh_pn_add_str(c->arena, e, "type", "stdio");
    gh_pn_add_str(c->arena, e, "command", connect_cmd(o));
    struct pnode *args = gh_pn_add(c->arena, e, "args", gh_pn_arr(c->arena));
    gh_pn_add_str(c->arena, args, NULL, "connect");
    gh_pn_add_str(c->arena, args, NULL, s->url);
    if (s->n_headers)
        gh_portable_note(c,
                         "%s: %s: headers left out: `gatehouse connect` authenticates with OAuth",
                         gh_pc(client)->name, s->name);
    return e;
}

static struct pnode *remote_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                                  const struct gh_portable_server *s)
{
    struct pnode *e = gh_pn_obj(c->arena);
    bool sse = s->transport == GH_PORTABLE_SSE;
    if (client == GH_PORTABLE_VSCODE || client == GH_PORTABLE_CLAUDE_CODE ||
        client == GH_PORTABLE_MCP_JSON)
        gh_pn_add_str(c->arena, e, "type", sse ? "sse" : "http");
    if (client == GH_PORTABLE_CLINE)
        gh_pn_add_str(c->arena, e, "type", sse ? "sse" : "streamableHttp");
    /* Gemini: url is SSE, httpUrl Streamable HTTP */
    const char *key = client == GH_PORTABLE_GEMINI && sse ? "url" : gh_pc(client)->urlkey;
    gh_pn_add_str(c->arena, e, key, s->url);
    /* Zed runs OAuth only when no Authorization header is set: never write one */
    for (size_t i = 0; client == GH_PORTABLE_ZED && i < s->n_headers; i++)
        if (strcasecmp(s->headers[i].key, "Authorization") == 0) {
            gh_portable_note(c, "zed: %s: Authorization header left out: Zed then uses OAuth",
                             s->name);
            return e;
        }
    add_pairs(c, client, s, e, "headers", s->headers, s->n_headers);
    return e;
}

struct pnode *gh_pc_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                          const struct gh_portable_server *s,
                          const struct gh_portable_export_opts *o, struct pnode *inputs)
{
    (void)inputs;
    struct pnode *e;
    if (s->transport == GH_PORTABLE_STDIO)
        e = stdio_entry(c, client, s);
    else if (!gh_pc(client)->remote_oauth || (o && o->force_connect))
        e = connect_entry(c, client, s, o);
    else
        e = remote_entry(c, client, s);
    if (client == GH_PORTABLE_MCP_JSON)
        add_meta(c, s, e);
    return e;
}

struct pnode *gh_pc_gateway_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                                  const char *url, const char *gatehouse)
{
    struct gh_portable_server s = {
        .name = "gateway", .transport = GH_PORTABLE_HTTP, .url = (char *)url};
    struct gh_portable_export_opts o = {.gatehouse = gatehouse};
    return gh_pc_entry(c, client, &s, &o, NULL);
}

/* ---- import: one entry ---- */

/* A string value of a client file: references normalised, literal secrets moved out. */
static char *take(struct gh_portable_catalog *c, enum gh_portable_client client,
                  const struct pjson *p, uint32_t t, const char *server, enum plit_where w,
                  const char *key)
{
    const struct gh_json_tok *tok = gh_json_tok(&p->doc, t);
    char *v = tok->type == GH_JSON_STRING
                  ? gh_pj_str(c->arena, p, t)
                  : gh_arena_strndup(c->arena, p->clean + tok->start, tok->len);
    return gh_pl_scrub(c, server, w, key, gh_pc_unref(c->arena, client, v));
}

static enum gh_rc read_pairs(struct gh_portable_catalog *c, enum gh_portable_client client,
                             const struct pjson *p, const char *server, int32_t obj,
                             enum plit_where w, struct gh_portable_pair **v, size_t *n,
                             struct gh_portable_err *err)
{
    if (obj < 0)
        return GH_OK;
    if (gh_json_tok(&p->doc, (uint32_t)obj)->type != GH_JSON_OBJECT)
        return gh_perr(err, GH_E_PARSE, "server \"%s\": %s is not an object", server,
                       w == PL_ENV ? "env" : "headers");
    for (uint32_t k = gh_pj_first(p, (uint32_t)obj); k; k = gh_pj_next(p, (uint32_t)obj, k)) {
        if (*n >= GH_PORTABLE_MAX_ITEMS)
            return gh_perr(err, GH_E_LIMIT, "server \"%s\": more than %d entries", server,
                           GH_PORTABLE_MAX_ITEMS);
        char *key = gh_pj_str(c->arena, p, k);
        *v = gh_ppair_push(c->arena, *v, n, key, take(c, client, p, k + 1, server, w, key));
    }
    return GH_OK;
}

static enum gh_rc read_args(struct gh_portable_catalog *c, enum gh_portable_client client,
                            const struct pjson *p, struct gh_portable_server *s, int32_t arr,
                            struct gh_portable_err *err)
{
    if (arr < 0)
        return GH_OK;
    const struct gh_json_tok *t = gh_json_tok(&p->doc, (uint32_t)arr);
    if (t->type != GH_JSON_ARRAY)
        return gh_perr(err, GH_E_PARSE, "server \"%s\": args is not a list", s->name);
    if (t->size > GH_PORTABLE_MAX_ITEMS)
        return gh_perr(err, GH_E_LIMIT, "server \"%s\": more than %d args", s->name,
                       GH_PORTABLE_MAX_ITEMS);
    const char *flag = NULL;
    for (uint32_t i = 0, at = (uint32_t)arr + 1; i < t->size; i++) {
        char *v = take(c, client, p, at, s->name, PL_ARG, flag);
        s->args = gh_pstrv_push(c->arena, s->args, &s->n_args, v);
        flag = v[0] == '-' && !strchr(v, '=') ? v : NULL;
        at = gh_json_tok(&p->doc, at)->end;
    }
    return GH_OK;
}

static enum gh_rc read_url(struct gh_portable_catalog *c, enum gh_portable_client client,
                           const struct pjson *p, struct gh_portable_server *s, uint32_t v)
{
    static const char *const keys[] = {"httpUrl", "serverUrl", "url"};
    for (size_t i = 0; i < GH_ARRAY_LEN(keys); i++) {
        int32_t u = gh_pj_get(p, v, keys[i]);
        if (u < 0)
            continue;
        s->url = take(c, client, p, (uint32_t)u, s->name, PL_URL, keys[i]);
        s->transport = GH_PORTABLE_HTTP;
        int32_t ty = gh_pj_get(p, v, "type");
        char *type = ty >= 0 ? gh_pj_str(c->arena, p, (uint32_t)ty) : "";
        /* Gemini's plain url is SSE; elsewhere type says it */
        if (strcmp(type, "sse") == 0 || (client == GH_PORTABLE_GEMINI && i == 2))
            s->transport = GH_PORTABLE_SSE;
        return GH_OK;
    }
    return GH_E_DECLINED;
}

static void read_meta(struct gh_portable_catalog *c, const struct pjson *p,
                      struct gh_portable_server *s, uint32_t v)
{
    int32_t t = gh_pj_get(p, v, "title"), d = gh_pj_get(p, v, "description");
    int32_t sc = gh_pj_get(p, v, "scopes");
    if (t >= 0)
        s->title = gh_pj_str(c->arena, p, (uint32_t)t);
    if (d >= 0)
        s->description = gh_pj_str(c->arena, p, (uint32_t)d);
    if (sc >= 0 && gh_json_tok(&p->doc, (uint32_t)sc)->type == GH_JSON_ARRAY)
        for (uint32_t i = 0, at = (uint32_t)sc + 1;
             i < gh_json_tok(&p->doc, (uint32_t)sc)->size && s->n_scopes < GH_PORTABLE_MAX_ITEMS;
             i++, at = gh_json_tok(&p->doc, at)->end)
            s->scopes =
                gh_pstrv_push(c->arena, s->scopes, &s->n_scopes, gh_pj_str(c->arena, p, at));
}

enum gh_rc gh_pc_read_entry(struct gh_portable_catalog *c, enum gh_portable_client client,
                            const struct pjson *p, const char *name, uint32_t v,
                            struct gh_portable_err *err)
{
    if (gh_json_tok(&p->doc, v)->type != GH_JSON_OBJECT)
        return gh_perr(err, GH_E_PARSE, "server \"%s\" is not an object", name);
    struct gh_portable_server *s;
    enum gh_rc rc = gh_portable_catalog_add(c, name, &s);
    if (rc == GH_E_LIMIT)
        return gh_perr(err, rc, "more than %d servers", GH_PORTABLE_MAX_SERVERS);
    if (rc)
        return gh_perr(err, rc, "server \"%s\" appears twice", name);
    read_meta(c, p, s, v);
    int32_t cmd = gh_pj_get(p, v, "command");
    if (cmd >= 0 && gh_json_tok(&p->doc, (uint32_t)cmd)->type == GH_JSON_OBJECT) {
        v = (uint32_t)cmd; /* Zed's older form: "command": {"path", "args", "env"} */
        cmd = gh_pj_get(p, v, "path");
    }
    if (cmd >= 0) {
        s->transport = GH_PORTABLE_STDIO;
        s->command = take(c, client, p, (uint32_t)cmd, name, PL_ARG, NULL);
        int32_t cwd = gh_pj_get(p, v, "cwd");
        if (cwd >= 0)
            s->cwd = gh_pj_str(c->arena, p, (uint32_t)cwd);
        rc = read_args(c, client, p, s, gh_pj_get(p, v, "args"), err);
        if (rc == GH_OK)
            rc = read_pairs(c, client, p, name, gh_pj_get(p, v, "env"), PL_ENV, &s->env, &s->n_env,
                            err);
        return rc;
    }
    if (read_url(c, client, p, s, v) != GH_OK)
        return gh_perr(err, GH_E_PARSE, "server \"%s\" has neither a command nor a URL", name);
    return read_pairs(c, client, p, name, gh_pj_get(p, v, "headers"), PL_HEADER, &s->headers,
                      &s->n_headers, err);
}
