/*
 * portable/scan_walk.c owns what the scanner looks at in a parsed client file: where each
 * client keeps its MCP server entries (mcpServers, servers, context_servers, mcp_servers,
 * mcp.servers, projects.*.mcpServers), which values inside an entry are credentials (env,
 * headers, arguments, URL userinfo/query/path, anything named like a secret), and the risky
 * settings (auto-approve lists, trust flags, plain-http URLs, unpinned packages).
 */
#include "core/core.h"
#include "portable/internal_scan.h"

#include <stdio.h>

struct walk {
    struct gh_scan_report *r;
    const char *file;
    const char *server; /* NUL-terminated copy of the entry's name */
};

static bool key_is(const struct gh_pnode *n, const char *k)
{
    return n && gh_slice_eq_cstr(n->key, k);
}

static bool is_true(const struct gh_pnode *n)
{
    return n && n->type == GH_PNODE_BOOL && gh_slice_eq_cstr(n->text, "true");
}

static bool str_is(const struct gh_pnode *n, const char *s)
{
    return n && n->type == GH_PNODE_STRING && gh_slice_eq_cstr(n->text, s);
}

/* A risk: "server NAME <what>", or <what> alone for a file-wide setting. */
static void risk(struct walk *w, const char *rule, const struct gh_pnode *at, const char *what)
{
    char msg[512];
    if (w->server[0])
        snprintf(msg, sizeof(msg), "server %s %s", w->server, what);
    else
        snprintf(msg, sizeof(msg), "%s", what);
    scan_report_add(w->r, rule, GH_SCAN_RISK, w->file, at, w->server, gh_slice(NULL, 0), msg);
}

static void secret(struct walk *w, const char *rule, const struct gh_pnode *at,
                   struct gh_slice value, const char *what)
{
    const struct scan_rule_info *ri = scan_rule_info(rule);
    char msg[512];
    snprintf(msg, sizeof(msg), "%s hard-coded in %s%s%s", ri ? ri->name : rule, what,
             w->server[0] ? " of server " : "", w->server);
    scan_report_add(w->r, rule, GH_SCAN_SECRET, w->file, at, w->server, value, msg);
}

/* ---- values ---- */

/* Provider rules over one string; true when something was found. */
static bool provider_hits(struct walk *w, const struct gh_pnode *n, const char *what)
{
    struct scan_hit hits[SCAN_MAX_HITS];
    size_t k = scan_rules_provider(n->text, hits, SCAN_MAX_HITS);
    for (size_t i = 0; i < k; i++)
        secret(w, hits[i].rule, n,
               gh_slice(n->text.ptr + hits[i].start, hits[i].end - hits[i].start), what);
    return k > 0;
}

static void generic(struct walk *w, const struct gh_pnode *at, struct gh_slice key,
                    struct gh_slice v, const char *what)
{
    struct gh_slice s;
    const char *rule = scan_rules_generic(key.ptr, key.len, v, scan_rules_key_hinted(key), &s);
    if (rule)
        secret(w, rule, at, s, what);
}

/* URL query values and long path segments (some vendors put the key in the path). */
static void url_parts(struct walk *w, const struct gh_pnode *n)
{
    struct gh_slice u = n->text;
    const char *p = memmem(u.ptr, u.len, "://", 3);
    if (!p)
        return;
    const char *end = u.ptr + u.len;
    const char *q = memchr(p + 3, '?', (size_t)(end - p - 3));
    const char *path_end = q ? q : end;
    const char *hash = memchr(p + 3, '#', (size_t)(path_end - p - 3));
    path_end = hash ? hash : path_end;
    const char *seg = memchr(p + 3, '/', (size_t)(path_end - p - 3));
    while (seg && seg < path_end) {
        const char *s = seg + 1, *e = s;
        while (e < path_end && *e != '/')
            e++;
        generic(w, n, GH_SLICE_LIT(""), gh_slice(s, (size_t)(e - s)), "a URL path");
        seg = e < path_end ? e : NULL;
    }
    for (const char *a = q ? q + 1 : NULL; a && a < end;) {
        const char *amp = memchr(a, '&', (size_t)(end - a));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(a, '=', (size_t)(stop - a));
        if (eq)
            generic(w, n, gh_slice(a, (size_t)(eq - a)), gh_slice(eq + 1, (size_t)(stop - eq - 1)),
                    "a URL query");
        a = amp ? amp + 1 : NULL;
    }
}

/* Names whose values are names of environment variables or files, never credentials. */
static bool names_not_values(struct gh_slice key)
{
    static const char *const SUFFIXES[] = {
        "_env_var", "env_vars", "envFile", "env_file", "env_http_headers",
        "Url",      "url",      "_uri",    "Uri",      "command",
        "cwd",      "Type",     "type",    "Name",     "name",
        "Id",       "id",       "ID",      "Path",     "path",
        "File",     "file"};
    for (size_t i = 0; i < GH_ARRAY_LEN(SUFFIXES); i++) {
        size_t n = strlen(SUFFIXES[i]);
        if (key.len >= n && memcmp(key.ptr + key.len - n, SUFFIXES[i], n) == 0)
            return true;
    }
    return false;
}

/* One argument: "--token=X", "KEY=X", or X after "--api-key". */
/* "Authorization: Bearer X" as one argument (mcp-remote's --header): the name when it is one. */
static bool header_arg(struct gh_slice v, struct gh_slice *name, struct gh_slice *value)
{
    const char *colon = memchr(v.ptr, ':', v.len);
    if (!colon || colon == v.ptr || colon + 1 >= v.ptr + v.len || colon[1] != ' ')
        return false;
    for (const char *c = v.ptr; c < colon; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_'))
            return false;
    *name = gh_slice(v.ptr, (size_t)(colon - v.ptr));
    *value = gh_slice(colon + 2, (size_t)(v.ptr + v.len - colon - 2));
    return true;
}

static void arg_value(struct walk *w, const struct gh_pnode *n)
{
    struct gh_slice v = n->text, hn, hv;
    if (memmem(v.ptr, v.len, "://", 3)) { /* mcp-remote URL, a database URL */
        url_parts(w, n);
        return;
    }
    if (header_arg(v, &hn, &hv)) {
        if (scan_rules_key_hinted(hn))
            generic(w, n, hn, hv, "a header argument");
        return;
    }
    const char *eq = memchr(v.ptr, '=', v.len);
    if (eq && eq > v.ptr) {
        struct gh_slice k = gh_slice(v.ptr, (size_t)(eq - v.ptr));
        if (scan_rules_key_hinted(k))
            generic(w, n, k, gh_slice(eq + 1, v.len - (size_t)(eq - v.ptr) - 1),
                    "a command-line argument");
        return;
    }
    const struct gh_pnode *prev = n->parent->first;
    while (prev && prev->next != n)
        prev = prev->next;
    if (prev && prev->type == GH_PNODE_STRING && prev->text.len > 1 && prev->text.ptr[0] == '-' &&
        scan_rules_key_hinted(prev->text))
        generic(w, n, prev->text, v, "a command-line argument");
}

/* A string inside a server entry: providers first, then by position. */
static void value(struct walk *w, const struct gh_pnode *n)
{
    const struct gh_pnode *p = n->parent;
    bool in_env = p && p->parent && (key_is(p, "env") || key_is(p, "environment"));
    bool in_headers = p && (key_is(p, "headers") || key_is(p, "http_headers"));
    const char *what = in_env ? "an env value" : in_headers ? "a header" : "a value";
    if (provider_hits(w, n, what))
        return;
    if (p && p->type == GH_PNODE_ARRAY && key_is(p, "args")) {
        arg_value(w, n);
        return;
    }
    if (memmem(n->text.ptr, n->text.len, "://", 3)) {
        url_parts(w, n);
        return;
    }
    if (in_env || in_headers)
        generic(w, n, n->key, n->text, what);
    else if (n->key.len && scan_rules_key_hinted(n->key) && !names_not_values(n->key))
        generic(w, n, n->key, n->text, what);
}

static void strings(struct walk *w, const struct gh_pnode *n, int depth)
{
    if (depth > GH_PNODE_MAX_DEPTH)
        return;
    if (n->type == GH_PNODE_STRING) {
        value(w, n);
        return;
    }
    for (const struct gh_pnode *c = n->first; c; c = c->next) {
        /* Codex env_http_headers and env_vars hold variable names, not values. */
        if (key_is(c, "env_http_headers") || key_is(c, "env_vars"))
            continue;
        strings(w, c, depth + 1);
    }
}

/* ---- risky settings ---- */

static bool loopback_host(struct gh_slice host)
{
    return gh_slice_caseeq_cstr(host, "localhost") || gh_slice_eq_cstr(host, "[::1]") ||
           (host.len >= 4 && memcmp(host.ptr, "127.", 4) == 0) ||
           (host.len > 10 &&
            gh_slice_caseeq_cstr(gh_slice(host.ptr + host.len - 10, 10), ".localhost"));
}

static void plain_http(struct walk *w, const struct gh_pnode *u)
{
    struct gh_slice v = gh_slice_trim(u->text);
    if (v.len < 7 || strncasecmp(v.ptr, "http://", 7) != 0)
        return;
    const char *h = v.ptr + 7, *end = v.ptr + v.len, *e = h;
    while (e < end && *e != '/' && *e != '?' && *e != '#')
        e++;
    const char *at = memrchr(h, '@', (size_t)(e - h));
    if (at)
        h = at + 1;
    const char *port = h;
    if (h < e && *h == '[') {
        const char *rb = memchr(h, ']', (size_t)(e - h));
        port = rb ? rb + 1 : e;
    } else {
        while (port < e && *port != ':')
            port++;
    }
    if (!loopback_host(gh_slice(h, (size_t)(port - h))))
        risk(w, "mcp-plain-http", u,
             "connects over plain http:// to a host that is not loopback: tokens and tool data "
             "travel unencrypted");
}

static void approvals(struct walk *w, const struct gh_pnode *s)
{
    static const char *const LISTS[] = {"alwaysAllow", "autoApprove", "autoApproveTools"};
    for (size_t i = 0; i < GH_ARRAY_LEN(LISTS); i++) {
        const struct gh_pnode *l = gh_pnode_get(s, LISTS[i]);
        if ((l && l->type == GH_PNODE_ARRAY && l->n > 0) || is_true(l))
            risk(w, "mcp-auto-approve", l, "has tools that run without asking (auto-approve list)");
    }
    const struct gh_pnode *t = gh_pnode_get(s, "trust");
    if (is_true(t))
        risk(w, "mcp-trust-flag", t, "is trusted: every confirmation is bypassed");
}

/* Pinned: name@1.2.3, name==1.2.3, image@sha256:..., image:tag (not latest); not ranges. */
static bool pinned_version(struct gh_slice v)
{
    if (v.len == 0 || gh_slice_eq_cstr(v, "latest") || gh_slice_eq_cstr(v, "next"))
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if ((c && strchr("^~*<> |", c)) || ((c == 'x' || c == 'X') && i && v.ptr[i - 1] == '.'))
            return false; /* a range: 1.x, ^1.2, >=1 */
    }
    return v.ptr[0] >= '0' && v.ptr[0] <= '9';
}

static bool pinned_package(struct gh_slice spec)
{
    if (spec.len == 0 || spec.ptr[0] == '.' || spec.ptr[0] == '/' ||
        memchr(spec.ptr, ':', spec.len))
        return true; /* a local path, a URL or git spec: no registry resolution to pin */
    const char *eqeq = memmem(spec.ptr, spec.len, "==", 2);
    if (eqeq)
        return pinned_version(gh_slice(eqeq + 2, spec.len - (size_t)(eqeq + 2 - spec.ptr)));
    const char *at = spec.len > 1 ? memrchr(spec.ptr + 1, '@', spec.len - 1) : NULL;
    if (!at)
        return false;
    return pinned_version(gh_slice(at + 1, spec.len - (size_t)(at + 1 - spec.ptr)));
}

static bool pinned_image(struct gh_slice img)
{
    if (memmem(img.ptr, img.len, "@sha256:", 8))
        return true;
    const char *slash = memrchr(img.ptr, '/', img.len);
    const char *base = slash ? slash + 1 : img.ptr;
    const char *colon = memchr(base, ':', (size_t)(img.ptr + img.len - base));
    if (!colon)
        return false;
    struct gh_slice tag = gh_slice(colon + 1, (size_t)(img.ptr + img.len - colon - 1));
    return tag.len && !gh_slice_eq_cstr(tag, "latest");
}

/* Options of the runners that take a separate value (so the value is not the package). */
static bool takes_value(const char *runner, struct gh_slice opt)
{
    static const char *const NPX[] = {"-p",         "--package", "-c",           "--call",
                                      "--registry", "--cache",   "--userconfig", NULL};
    static const char *const UVX[] = {"--from",
                                      "--with",
                                      "--python",
                                      "-p",
                                      "--index",
                                      "--index-url",
                                      "--extra-index-url",
                                      "--spec",
                                      "--pip-args",
                                      "-w",
                                      "--with-requirements",
                                      NULL};
    static const char *const DOCKER[] = {"-e",         "--env",
                                         "-v",         "--volume",
                                         "--name",     "-p",
                                         "--publish",  "--network",
                                         "--env-file", "--entrypoint",
                                         "-w",         "--workdir",
                                         "-u",         "--user",
                                         "--mount",    "--platform",
                                         "-l",         "--label",
                                         "--add-host", "--cpus",
                                         "-m",         "--memory",
                                         "--pull",     "--cap-add",
                                         "--cap-drop", "--security-opt",
                                         "-h",         "--hostname",
                                         "--ulimit",   "--tmpfs",
                                         "--device",   NULL};
    const char *const *list = strcmp(runner, "docker") == 0 ? DOCKER
                              : strcmp(runner, "uvx") == 0  ? UVX
                                                            : NPX;
    for (size_t i = 0; list[i]; i++)
        if (gh_slice_eq_cstr(opt, list[i]))
            return true;
    return false;
}

/* The first positional argument from args[i] on; from_opt gets a --from/--package/--spec value. */
static const struct gh_pnode *package_arg(const char *runner, const struct gh_pnode *a,
                                          const struct gh_pnode **from_opt, bool *yes)
{
    for (; a; a = a->next) {
        if (a->type != GH_PNODE_STRING)
            return NULL;
        struct gh_slice t = a->text;
        if (gh_slice_eq_cstr(t, "-y") || gh_slice_eq_cstr(t, "--yes"))
            *yes = true;
        if (t.len == 0 || t.ptr[0] != '-')
            return a;
        if (gh_slice_eq_cstr(t, "--"))
            return a->next;
        if (takes_value(runner, t) && a->next) {
            if (gh_slice_eq_cstr(t, "--from") || gh_slice_eq_cstr(t, "--package") ||
                gh_slice_eq_cstr(t, "-p") || gh_slice_eq_cstr(t, "--spec"))
                if (strcmp(runner, "docker") != 0)
                    *from_opt = a->next;
            a = a->next;
        }
    }
    return NULL;
}

/* Runner name from command (basename, .cmd/.exe dropped) and a subcommand in args. */
static const char *runner_of(const struct gh_pnode *cmd, const struct gh_pnode **args)
{
    struct gh_slice c = cmd->text;
    const char *slash = memrchr(c.ptr, '/', c.len);
    if (slash)
        c = gh_slice(slash + 1, c.len - (size_t)(slash + 1 - c.ptr));
    if (c.len > 4 &&
        (memcmp(c.ptr + c.len - 4, ".cmd", 4) == 0 || memcmp(c.ptr + c.len - 4, ".exe", 4) == 0))
        c.len -= 4;
    const struct gh_pnode *first = *args;
    bool sub_run = first && (str_is(first, "run") || str_is(first, "dlx") || str_is(first, "x"));
    if (gh_slice_eq_cstr(c, "npx") || gh_slice_eq_cstr(c, "bunx"))
        return "npx";
    if (gh_slice_eq_cstr(c, "uvx"))
        return "uvx";
    if ((gh_slice_eq_cstr(c, "pnpm") || gh_slice_eq_cstr(c, "yarn") ||
         gh_slice_eq_cstr(c, "bun")) &&
        sub_run) {
        *args = first->next;
        return "npx";
    }
    if (gh_slice_eq_cstr(c, "pipx") && sub_run) {
        *args = first->next;
        return "uvx";
    }
    if ((gh_slice_eq_cstr(c, "docker") || gh_slice_eq_cstr(c, "podman")) && sub_run) {
        *args = first->next;
        return "docker";
    }
    return NULL;
}

static void unpinned(struct walk *w, const struct gh_pnode *s)
{
    const struct gh_pnode *cmd = gh_pnode_get(s, "command");
    const struct gh_pnode *args = gh_pnode_get(s, "args");
    if (!cmd || cmd->type != GH_PNODE_STRING)
        return;
    const struct gh_pnode *a = args && args->type == GH_PNODE_ARRAY ? args->first : NULL;
    const char *runner = runner_of(cmd, &a);
    if (!runner)
        return;
    const struct gh_pnode *from = NULL;
    bool yes = false;
    const struct gh_pnode *pkg = package_arg(runner, a, &from, &yes);
    const struct gh_pnode *spec = from ? from : pkg;
    if (!spec || spec->type != GH_PNODE_STRING)
        return;
    bool ok = strcmp(runner, "docker") == 0 ? pinned_image(spec->text) : pinned_package(spec->text);
    if (ok)
        return;
    char what[256];
    snprintf(what, sizeof(what), "%s%s",
             strcmp(runner, "docker") == 0
                 ? "runs a container image without a version tag or digest"
                 : "runs a package without a pinned version: whatever is published next runs",
             yes ? " (and -y installs it without asking)" : "");
    risk(w, "mcp-unpinned-package", spec, what);
}

/* ---- entries and files ---- */

static void server(struct walk *w, const struct gh_pnode *s, struct gh_slice name)
{
    if (s->type != GH_PNODE_TABLE)
        return;
    char buf[128];
    size_t n = 0;
    for (; n < name.len && n + 1 < sizeof(buf); n++) /* printable: names go into messages */
        buf[n] = (name.ptr[n] >= 0x20 && name.ptr[n] < 0x7f) ? name.ptr[n] : '?';
    buf[n] = '\0';
    w->server = buf;
    strings(w, s, 0);
    approvals(w, s);
    static const char *const URLS[] = {"url", "serverUrl", "httpUrl"};
    for (size_t i = 0; i < GH_ARRAY_LEN(URLS); i++) {
        const struct gh_pnode *u = gh_pnode_get(s, URLS[i]);
        if (u && u->type == GH_PNODE_STRING)
            plain_http(w, u);
    }
    unpinned(w, s);
    const struct gh_pnode *env_file = gh_pnode_get(s, "envFile");
    if (env_file && env_file->type == GH_PNODE_STRING)
        scan_env_file(w->r, w->file, env_file->text, w->server);
    w->server = "";
}

/* mcpServers as a table of entries, or (Continue) a list of entries with a name. */
static void servers(struct walk *w, const struct gh_pnode *list)
{
    if (!list)
        return;
    for (const struct gh_pnode *s = list->first; s; s = s->next) {
        if (list->type == GH_PNODE_TABLE) {
            server(w, s, s->key);
        } else if (list->type == GH_PNODE_ARRAY) {
            const struct gh_pnode *nm = gh_pnode_get(s, "name");
            char idx[24];
            snprintf(idx, sizeof(idx), "#%u", s->index);
            server(w, s, nm && nm->type == GH_PNODE_STRING ? nm->text : gh_slice_cstr(idx));
        }
    }
}

/* Settings that approve or trust everything, file-wide. */
static void file_settings(struct walk *w, const struct gh_pnode *root)
{
    const struct gh_pnode *n = gh_pnode_get(root, "enableAllProjectMcpServers");
    if (is_true(n))
        risk(w, "mcp-auto-approve", n,
             "every MCP server of every project's .mcp.json is enabled without asking");
    n = gh_pnode_get(root, "chat.tools.autoApprove");
    if (is_true(n))
        risk(w, "mcp-auto-approve", n, "every tool call runs without asking");
    n = gh_pnode_get(root, "approval_policy");
    if (str_is(n, "never"))
        risk(w, "mcp-trust-flag", n,
             "Codex never asks before running tools (approval_policy never)");
    n = gh_pnode_get(root, "sandbox_mode");
    if (str_is(n, "danger-full-access"))
        risk(w, "mcp-trust-flag", n,
             "Codex runs without a sandbox (sandbox_mode danger-full-access)");
}

void scan_walk(struct gh_scan_report *r, const char *file, const struct gh_pnode *root)
{
    struct walk w = {.r = r, .file = file, .server = ""};
    if (!root || root->type != GH_PNODE_TABLE)
        return;
    file_settings(&w, root);
    static const char *const LISTS[] = {"mcpServers", "servers", "context_servers", "mcp_servers"};
    for (size_t i = 0; i < GH_ARRAY_LEN(LISTS); i++)
        servers(&w, gh_pnode_get(root, LISTS[i]));
    servers(&w, gh_pnode_get(gh_pnode_get(root, "mcp"), "servers"));
    const struct gh_pnode *projects = gh_pnode_get(root, "projects");
    for (const struct gh_pnode *p = projects ? projects->first : NULL; p; p = p->next) {
        if (p->type != GH_PNODE_TABLE)
            continue;
        file_settings(&w, p);
        servers(&w, gh_pnode_get(p, "mcpServers"));
    }
}

void scan_walk_env(struct gh_scan_report *r, const char *file, const char *server,
                   const struct gh_pnode *root)
{
    struct walk w = {.r = r, .file = file, .server = server};
    strings(&w, root, 0);
}
