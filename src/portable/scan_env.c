/*
 * portable/scan_env.c owns the dotenv files a server entry names with envFile (VS Code, Cursor):
 * the credentials moved out of the config file often just moved there. The file is found
 * relative to the workspace (the folder holding .vscode/ or .cursor/, else the config's own
 * folder), read as KEY=VALUE lines, and each value judged like an env value of that server.
 */
#include "core/core.h"
#include "portable/internal_scan.h"

#include <stdio.h>

#define WS_VAR "${workspaceFolder}"

/* Parent folder of path ("." when it has none), in the arena. */
static char *parent(struct gh_arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return gh_arena_strndup(a, ".", 1);
    return gh_arena_strndup(a, path, slash == path ? 1 : (size_t)(slash - path));
}

/* The workspace of a config file: a config under .vscode/ or .cursor/ belongs to the folder
 * above; any other lives in its workspace's root. */
static char *workspace(struct gh_arena *a, const char *config_file)
{
    char *dir = parent(a, config_file);
    const char *last = strrchr(dir, '/');
    const char *name = last ? last + 1 : dir;
    if (strcmp(name, ".vscode") == 0 || strcmp(name, ".cursor") == 0)
        return parent(a, dir);
    return dir;
}

/* The env file's path, or NULL when ref cannot be resolved here (other variables, ~). */
static char *resolve(struct gh_arena *a, const char *config_file, struct gh_slice ref)
{
    const size_t wl = sizeof(WS_VAR) - 1;
    char *ws = workspace(a, config_file);
    if (ref.len > wl && memcmp(ref.ptr, WS_VAR, wl) == 0 && ref.ptr[wl] == '/')
        return gh_arena_sprintf(a, "%s%.*s", ws, (int)(ref.len - wl), ref.ptr + wl);
    if (!ref.len || memchr(ref.ptr, '$', ref.len) || ref.ptr[0] == '~' ||
        memchr(ref.ptr, '\0', ref.len))
        return NULL;
    if (ref.ptr[0] == '/')
        return gh_arena_strndup(a, ref.ptr, ref.len);
    return gh_arena_sprintf(a, "%s/%.*s", ws, (int)ref.len, ref.ptr);
}

struct dotenv {
    struct gh_arena *a;
    struct pnode_budget budget;
    struct gh_pnode *env; /* the table values go into */
};

static bool key_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
}

/* The value after '=': quoted (to the matching quote) or bare (to a " #" comment). */
static struct gh_slice dotenv_value(const char *p, const char *end)
{
    if (p < end && (*p == '"' || *p == '\'')) {
        const char *q = p + 1;
        while (q < end && *q != *p)
            q += (*q == '\\' && *p == '"' && q + 1 < end) ? 2 : 1;
        return gh_slice(p + 1, (size_t)((q < end ? q : end) - p - 1));
    }
    const char *e = p;
    while (e < end && !(*e == '#' && e > p && (e[-1] == ' ' || e[-1] == '\t')))
        e++;
    return gh_slice_trim(gh_slice(p, (size_t)(e - p)));
}

/* One line: [export] KEY = VALUE; anything else is skipped (dotenv readers are lenient too). */
static bool dotenv_line(struct dotenv *d, const char *line, const char *end, uint32_t lineno)
{
    const char *p = line;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p + 7 < end && memcmp(p, "export ", 7) == 0)
        p += 7;
    const char *k = p;
    while (p < end && key_char(*p, p == k))
        p++;
    struct gh_slice key = gh_slice(k, (size_t)(p - k));
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (!key.len || p >= end || *p != '=')
        return true;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    struct gh_pnode *n =
        scan_node_new(d->a, &d->budget, GH_PNODE_STRING, lineno, (uint32_t)(p - line) + 1);
    if (!n)
        return false;
    n->key = key;
    n->text = dotenv_value(p, end);
    scan_node_append(d->env, n);
    return true;
}

void scan_env_file(struct gh_scan_report *r, const char *config_file, struct gh_slice ref,
                   const char *server)
{
    struct gh_arena *a = gh_arena_new(16384);
    char *path = resolve(a, config_file, ref), *buf = NULL;
    size_t len = 0;
    /* envFile is optional for the clients: a missing file is not a finding. */
    if (!path || scan_report_has_file(r, path) || scan_read_file(path, &buf, &len) != GH_OK)
        goto out;
    scan_report_file(r, path, "env-file", "dotenv");
    const char *file = r->files[r->n_files - 1].path; /* findings keep the report's copy */
    if (len > GH_PNODE_MAX_BYTES) {
        scan_report_error(r, file, 0, 0, "file is larger than 4 MiB, not scanned");
        goto out;
    }
    struct dotenv d = {.a = a};
    struct gh_pnode *root = scan_node_new(a, &d.budget, GH_PNODE_TABLE, 1, 1);
    d.env = scan_node_new(a, &d.budget, GH_PNODE_TABLE, 1, 1);
    d.env->key = GH_SLICE_LIT("env");
    scan_node_append(root, d.env);
    uint32_t lineno = 1;
    for (const char *p = buf, *end = buf + len; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (stop > p && stop[-1] == '\r')
            stop--;
        if (!dotenv_line(&d, p, stop, lineno))
            break;
        p = nl ? nl + 1 : end;
    }
    scan_walk_env(r, file, server, root);
out:
    free(buf);
    gh_arena_free(a);
}
