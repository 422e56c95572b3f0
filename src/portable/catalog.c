/*
 * portable/catalog.c owns the catalog itself: its memory, its report (findings and notes), and
 * filling it from the gateway's own configuration — every upstream and aggregated endpoint is a
 * catalog server at the gateway's public URL plus its path, with the OAuth scopes the gateway
 * requires for it. The YAML is read as a tree, not validated as a running configuration, so an
 * operator can export on a machine that lacks the gateway's env:/file: secrets.
 */
#include "portable/internal.h"
#include "config/config.h"

#include <stdarg.h>
#include <stdio.h>

#define CATALOG_CHUNK 16384

struct gh_portable_catalog *gh_portable_catalog_new(void)
{
    struct gh_portable_catalog *c = gh_xcalloc(1, sizeof(*c));
    c->arena = gh_arena_new(CATALOG_CHUNK);
    return c;
}

void gh_portable_catalog_free(struct gh_portable_catalog *c)
{
    if (!c)
        return;
    gh_arena_free(c->arena);
    free(c);
}

enum gh_rc gh_perr(struct gh_portable_err *err, enum gh_rc rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

enum gh_rc gh_portable_catalog_add(struct gh_portable_catalog *c, const char *name,
                                   struct gh_portable_server **out)
{
    for (size_t i = 0; i < c->n_servers; i++)
        if (strcmp(c->servers[i].name, name) == 0)
            return GH_E_PARSE;
    if (c->n_servers >= GH_PORTABLE_MAX_SERVERS)
        return GH_E_LIMIT;
    if (c->n_servers == c->cap_servers) {
        size_t cap = c->cap_servers ? c->cap_servers * 2 : 8;
        struct gh_portable_server *s = gh_arena_calloc(c->arena, cap * sizeof(*s));
        if (c->n_servers)
            memcpy(s, c->servers, c->n_servers * sizeof(*s));
        c->servers = s;
        c->cap_servers = cap;
    }
    struct gh_portable_server *s = &c->servers[c->n_servers++];
    memset(s, 0, sizeof(*s));
    s->name = gh_arena_strndup(c->arena, name, strlen(name));
    *out = s;
    return GH_OK;
}

void gh_portable_note(struct gh_portable_catalog *c, const char *fmt, ...)
{
    if (c->n_notes >= 4096)
        return; /* the report is capped; the first notes say what matters */
    if (c->n_notes == c->cap_notes) {
        size_t cap = c->cap_notes ? c->cap_notes * 2 : 8;
        char **n = gh_arena_alloc(c->arena, cap * sizeof(*n));
        if (c->n_notes)
            memcpy(n, c->notes, c->n_notes * sizeof(*n));
        c->notes = n;
        c->cap_notes = cap;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->notes[c->n_notes++] = gh_arena_strndup(c->arena, msg, strlen(msg));
}

char **gh_pstrv_push(struct gh_arena *a, char **v, size_t *n, const char *s)
{
    char **nv = gh_arena_alloc(a, (*n + 1) * sizeof(*nv));
    if (*n)
        memcpy(nv, v, *n * sizeof(*nv));
    nv[(*n)++] = gh_arena_strndup(a, s, strlen(s));
    return nv;
}

struct gh_portable_pair *gh_ppair_push(struct gh_arena *a, struct gh_portable_pair *v, size_t *n,
                                       const char *k, const char *val)
{
    struct gh_portable_pair *nv = gh_arena_alloc(a, (*n + 1) * sizeof(*nv));
    if (*n)
        memcpy(nv, v, *n * sizeof(*nv));
    nv[*n].key = gh_arena_strndup(a, k, strlen(k));
    nv[*n].value = gh_arena_strndup(a, val, strlen(val));
    (*n)++;
    return nv;
}

/* ---- from the gateway configuration ---- */

static const char *scalar(const struct gh_config_node *m, const char *key)
{
    const struct gh_config_node *v = m ? gh_config_node_get(m, key) : NULL;
    return v && v->kind == CFG_SCALAR ? v->text : NULL;
}

static void add_scopes(struct gh_portable_catalog *c, struct gh_portable_server *s,
                       const struct gh_config_node *list)
{
    for (size_t i = 0; list && list->kind == CFG_SEQ && i < list->n; i++)
        if (list->items[i]->kind == CFG_SCALAR && s->n_scopes < GH_PORTABLE_MAX_ITEMS)
            s->scopes = gh_pstrv_push(c->arena, s->scopes, &s->n_scopes, list->items[i]->text);
}

/* The catalog entry for one served path. */
static enum gh_rc gw_server(struct gh_portable_catalog *c, const char *name, const char *path,
                            const char *base, const struct gh_config_node *scopes,
                            struct gh_portable_err *err)
{
    struct gh_portable_server *s;
    enum gh_rc rc = gh_portable_catalog_add(c, name, &s);
    if (rc == GH_E_PARSE)
        return gh_perr(err, rc, "two served paths are both named \"%s\"", name);
    if (rc)
        return gh_perr(err, rc, "more than %d servers", GH_PORTABLE_MAX_SERVERS);
    s->transport = GH_PORTABLE_HTTP;
    s->url = gh_arena_sprintf(c->arena, "%s%s", base, path);
    add_scopes(c, s, scopes ? gh_config_node_get(scopes, "required") : NULL);
    const struct gh_config_node *per = scopes ? gh_config_node_get(scopes, "upstreams") : NULL;
    add_scopes(c, s, per && per->kind == CFG_MAP ? gh_config_node_get(per, name) : NULL);
    return GH_OK;
}

/* An endpoint's name: its path's last segment ("/mcp/all" -> "all"), made unique. */
static const char *endpoint_name(struct gh_portable_catalog *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash && slash[1] ? slash + 1 : "gateway";
    for (size_t i = 0; i < c->n_servers; i++)
        if (strcmp(c->servers[i].name, base) == 0)
            return gh_arena_sprintf(c->arena, "%s-endpoint", base);
    return base;
}

static enum gh_rc gw_walk(struct gh_portable_catalog *c, const struct gh_config_node *root,
                          const char *base, struct gh_portable_err *err)
{
    const struct gh_config_node *ups = gh_config_node_get(root, "upstreams");
    const struct gh_config_node *eps = gh_config_node_get(root, "endpoints");
    const struct gh_config_node *auth = gh_config_node_get(root, "auth");
    const struct gh_config_node *scopes = auth ? gh_config_node_get(auth, "scopes") : NULL;
    size_t n_ups = ups && ups->kind == CFG_SEQ ? ups->n : 0;
    size_t n_eps = eps && eps->kind == CFG_SEQ ? eps->n : 0;
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < n_ups; i++) {
        const char *name = scalar(ups->items[i], "name");
        if (!name)
            return gh_perr(err, GH_E_PARSE, "upstreams[%zu] has no name", i);
        const char *path = scalar(ups->items[i], "path");
        /* the loader's default: /mcp for a lone upstream, else /mcp/<name> */
        if (!path)
            path = n_ups == 1 && n_eps == 0 ? "/mcp" : gh_arena_sprintf(c->arena, "/mcp/%s", name);
        rc = gw_server(c, name, path, base, scopes, err);
    }
    for (size_t i = 0; rc == GH_OK && i < n_eps; i++) {
        const char *path = scalar(eps->items[i], "path");
        if (!path)
            return gh_perr(err, GH_E_PARSE, "endpoints[%zu] has no path", i);
        rc = gw_server(c, endpoint_name(c, path), path, base, scopes, err);
    }
    if (rc == GH_OK && c->n_servers == 0)
        return gh_perr(err, GH_E_PARSE, "no upstreams and no endpoints: nothing to export");
    return rc;
}

enum gh_rc gh_portable_catalog_from_gateway(struct gh_portable_catalog *c, const char *path,
                                            const char *base_url, struct gh_portable_err *err)
{
    struct gh_config_node *root = NULL;
    struct gh_config_error ce = {0};
    enum gh_rc rc = gh_config_tree_load_file(path, c->arena, &root, &ce);
    if (rc != GH_OK) {
        char msg[600];
        gh_config_error_format(&ce, msg, sizeof(msg));
        return gh_perr(err, rc, "%s", msg);
    }
    if (!root || root->kind != CFG_MAP)
        return gh_perr(err, GH_E_PARSE, "%s: not a gateway configuration (no mapping)", path);
    const struct gh_config_node *auth = gh_config_node_get(root, "auth");
    const char *base = base_url ? base_url : scalar(auth, "resource");
    if (!base)
        return gh_perr(err, GH_E_PARSE,
                       "%s: no public URL for the gateway: give --gateway-url URL (or set "
                       "auth.resource)",
                       path);
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
        return gh_perr(err, GH_E_PARSE, "gateway URL must start with https:// or http://");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    return gw_walk(c, root, gh_arena_strndup(c->arena, base, bl), err);
}
