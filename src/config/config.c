/*
 * config/config.c owns the life of a configuration generation: the embedded defaults, the
 * refcount, loading a file or string (read with a size cap, YAML tree, schema, positions,
 * validation), the helpers the CLI uses to build one from flags, and error formatting.
 */
#include <stdarg.h>
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void set_fields(void *base, const struct cfg_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *(uint64_t *)((char *)base + f[i].off) = f[i].def;
}

struct gh_config *gh_config_new_default(void)
{
    struct gh_config *c = gh_xcalloc(1, sizeof(*c));
    atomic_init(&c->refs, 1);
    c->gateway.log_level = GH_LOG_INFO;
    set_fields(&c->limits, gh_config__limit_fields, gh_config__n_limit_fields);
    set_fields(&c->timeouts, gh_config__timeout_fields, gh_config__n_timeout_fields);
    c->listeners = gh_xcalloc(1, sizeof(*c->listeners));
    c->listeners[0].addr.host = gh_xstrdup("127.0.0.1");
    c->listeners[0].addr.port = 8080;
    c->listeners[0].addr.family = GH_CONFIG_FAMILY_IPV4;
    c->n_listeners = 1;
    c->listeners_default = true;
    return c;
}

struct gh_config *gh_config_ref(struct gh_config *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

static void free_strv(char ***v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        gh_free(&(*v)[i]);
    gh_free(v);
    *n = 0;
}

void gh_config__listeners_clear(struct gh_config *c)
{
    for (size_t i = 0; i < c->n_listeners; i++) {
        struct gh_config_listener *l = &c->listeners[i];
        gh_free(&l->addr.host);
        if (l->tls) {
            gh_free(&l->tls->certificate);
            gh_free(&l->tls->key);
            gh_free(&l->tls);
        }
    }
    gh_free(&c->listeners);
    c->n_listeners = 0;
    c->listeners_default = false;
}

static void config_free(struct gh_config *c)
{
    gh_free(&c->source);
    free_strv(&c->gateway.allowed_origins, &c->gateway.n_allowed_origins);
    free_strv(&c->gateway.allowed_hosts, &c->gateway.n_allowed_hosts);
    free_strv(&c->gateway.trusted_proxies, &c->gateway.n_trusted_proxies);
    gh_config__listeners_clear(c);
    for (size_t i = 0; i < c->n_upstreams; i++)
        gh_config__upstream_release(&c->upstreams[i]);
    gh_free(&c->upstreams);
    for (size_t i = 0; i < c->n_endpoints; i++) {
        gh_free(&c->endpoints[i].path);
        free_strv(&c->endpoints[i].upstreams, &c->endpoints[i].n_upstreams);
    }
    gh_free(&c->endpoints);
    gh_config_auth_free(c->auth);
    c->auth = NULL;
    if (c->tree)
        gh_arena_free(c->tree);
    for (size_t i = 0; i < c->n_marks; i++)
        gh_free(&c->marks[i].path);
    gh_free(&c->marks);
    free(c);
}

void gh_config_unref(struct gh_config *c)
{
    if (!c)
        return;
    /* acq_rel: the freeing thread must see every other holder's last use. */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        config_free(c);
}

void gh_config__default_paths(struct gh_config *c)
{
    /* "/mcp" is the natural path of an aggregated endpoint: once any exists, no derived path
     * may take it, or the operator's endpoint would collide with a path never written. */
    bool short_path = c->n_upstreams == 1 && c->n_endpoints == 0;
    for (size_t i = 0; i < c->n_upstreams; i++) {
        struct gh_config_upstream *u = &c->upstreams[i];
        if (!u->path_default || !u->name)
            continue;
        gh_free(&u->path);
        if (short_path) {
            u->path = gh_xstrdup("/mcp");
        } else {
            u->path = gh_xmalloc(strlen(u->name) + 6);
            sprintf(u->path, "/mcp/%s", u->name);
        }
    }
}

/* ---- loading ---- */

static void err_begin(struct gh_config_error *err, const char *name)
{
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", name ? name : "");
}

enum gh_rc gh_config_load_string(const char *name, const char *yaml, size_t len,
                                 struct gh_config **out, struct gh_config_error *err)
{
    struct gh_config_error local;
    struct cfg_state st = {0};
    struct gh_config_node *root;
    enum gh_rc rc;

    *out = NULL;
    if (!err)
        err = &local;
    err_begin(err, name);
    if (len > GH_CONFIG_MAX_BYTES) {
        gh_config__err(err, 0, 0, "", "configuration is larger than 1 MiB");
        return GH_E_LIMIT;
    }
    st.err = err;
    st.c = gh_config_new_default();
    st.c->source = name ? gh_xstrdup(name) : NULL;
    st.arena = gh_arena_new(16384);
    rc = gh_config__tree_build(&st, yaml, len, &root);
    if (!rc)
        rc = gh_config__schema_apply(&st, root);
    if (!rc)
        gh_config__marks_record(st.c, root);
    if (!rc)
        gh_config__stdio_defaults(st.c);
    if (!rc && (st.c->policy || st.c->audit || st.c->propagation))
        st.c->tree = st.arena; /* the policy tree lives as long as the generation */
    else
        gh_arena_free(st.arena);
    if (!rc)
        rc = gh_config_validate(st.c, err);
    if (rc) {
        gh_config_unref(st.c);
        return rc;
    }
    *out = st.c;
    return GH_OK;
}

/* Reads at most GH_CONFIG_MAX_BYTES + 1 bytes, so an oversized (or endless) file is detected
 * without reading it all. */
static enum gh_rc read_capped(int fd, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    while (*len < cap) {
        ssize_t r = read(fd, buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return GH_E_IO;
        if (r == 0)
            break;
        *len += (size_t)r;
    }
    return GH_OK;
}

enum gh_rc gh_config_load_file(const char *path, struct gh_config **out,
                               struct gh_config_error *err)
{
    struct gh_config_error local;
    size_t cap = GH_CONFIG_MAX_BYTES + 1, len = 0;
    char *buf = NULL;
    enum gh_rc rc;
    int fd;

    *out = NULL;
    if (!err)
        err = &local;
    err_begin(err, path);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        gh_config__err(err, 0, 0, "", "cannot open: %s", strerror(errno));
        return GH_E_IO;
    }
    buf = gh_xmalloc(cap);
    rc = read_capped(fd, buf, cap, &len);
    if (rc)
        gh_config__err(err, 0, 0, "", "cannot read: %s", strerror(errno));
    close(fd);
    if (!rc)
        rc = gh_config_load_string(path, buf, len, out, err);
    gh_free(&buf);
    return rc;
}

enum gh_rc gh_config_tree_load_file(const char *path, struct gh_arena *arena,
                                    struct gh_config_node **root, struct gh_config_error *err)
{
    size_t cap = GH_CONFIG_MAX_BYTES + 1, len = 0;
    err_begin(err, path);
    *root = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        gh_config__err(err, 0, 0, "", "cannot open: %s", strerror(errno));
        return GH_E_IO;
    }
    char *buf = gh_xmalloc(cap);
    enum gh_rc rc = read_capped(fd, buf, cap, &len);
    close(fd);
    if (rc)
        gh_config__err(err, 0, 0, "", "cannot read: %s", strerror(errno));
    else if (len > GH_CONFIG_MAX_BYTES)
        rc = gh_config__err(err, 0, 0, "", "file is larger than 1 MiB");
    struct cfg_state st = {.arena = arena, .err = err};
    if (!rc) /* the tree's scalars are copied into the arena; buf can go */
        rc = gh_config__tree_build(&st, buf, len, root);
    gh_free(&buf);
    return rc;
}

enum gh_rc gh_config_node_error(struct gh_config_error *err, const struct gh_config_node *n,
                                const char *fmt, ...)
{
    va_list ap;
    err->line = n ? n->line : 0;
    err->column = n ? n->column : 0;
    err->path[0] = '\0';
    if (n)
        gh_config__node_path(n, err->path, sizeof(err->path));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return GH_E_PARSE;
}

const struct gh_config_node *gh_config_node_get(const struct gh_config_node *n, const char *key)
{
    if (!n || n->kind != CFG_MAP)
        return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->key && strcmp(n->items[i]->key, key) == 0)
            return n->items[i];
    return NULL;
}

static void node_feed(struct gh_sha256_stream *h, const struct gh_config_node *n)
{
    /* length-prefixed, so no two different trees feed the same bytes */
    uint64_t hdr[3] = {(uint64_t)n->kind, n->key ? strlen(n->key) : UINT64_MAX,
                       n->kind == CFG_SCALAR ? n->len : n->n};
    gh_sha256_stream_update(h, hdr, sizeof(hdr));
    if (n->key)
        gh_sha256_stream_update(h, n->key, strlen(n->key));
    if (n->kind == CFG_SCALAR) {
        gh_sha256_stream_update(h, n->text, n->len);
        gh_sha256_stream_update(h, n->plain ? "p" : "q", 1);
    }
    for (size_t i = 0; n->kind != CFG_SCALAR && i < n->n; i++)
        node_feed(h, n->items[i]);
}

void gh_config_node_digest(const struct gh_config_node *n, unsigned char out[32])
{
    struct gh_sha256_stream *h = gh_sha256_stream_new();
    if (n)
        node_feed(h, n);
    gh_sha256_stream_final(h, out);
}

/* ---- building from code (CLI flags) ---- */

enum gh_rc gh_config_add_listener(struct gh_config *c, const char *address)
{
    struct gh_config_addr a = {0};
    if (gh_config_addr_parse(address, &a, NULL) != GH_OK)
        return GH_E_PARSE;
    if (c->listeners_default)
        gh_config__listeners_clear(c);
    if (c->n_listeners >= GH_CONFIG_MAX_LISTENERS) {
        gh_free(&a.host);
        return GH_E_LIMIT;
    }
    c->listeners = gh_xrealloc(c->listeners, (c->n_listeners + 1) * sizeof(*c->listeners));
    c->listeners[c->n_listeners++] = (struct gh_config_listener){.addr = a};
    return GH_OK;
}

enum gh_rc gh_config_add_upstream(struct gh_config *c, const char *name, const char *url,
                                  const char *path)
{
    struct gh_config_url u = {0};
    if (!name || !url || gh_config__check_name(name))
        return GH_E_PARSE;
    if (path && gh_config__check_gw_path(path))
        return GH_E_PARSE;
    if (c->n_upstreams >= GH_CONFIG_MAX_UPSTREAMS)
        return GH_E_LIMIT;
    if (gh_config_url_parse(url, &u, NULL) != GH_OK)
        return GH_E_PARSE;
    c->upstreams = gh_xrealloc(c->upstreams, (c->n_upstreams + 1) * sizeof(*c->upstreams));
    c->upstreams[c->n_upstreams++] = (struct gh_config_upstream){
        .name = gh_xstrdup(name),
        .url = u,
        .path = path ? gh_xstrdup(path) : NULL,
        .path_default = !path,
        .max_connections = GH_CONFIG_DEFAULT_MAX_CONNECTIONS,
    };
    gh_config__default_paths(c);
    return GH_OK;
}

enum gh_rc gh_config_add_endpoint(struct gh_config *c, const char *path, const char *const *names,
                                  size_t n, char separator)
{
    struct gh_config_endpoint *e;
    if (!path || gh_config__check_gw_path(path) || !names || n == 0)
        return GH_E_PARSE;
    if (separator == '\0')
        separator = '.';
    if (!strchr("._-", separator))
        return GH_E_PARSE;
    for (size_t i = 0; i < n && i < GH_CONFIG_MAX_ENDPOINT_UPSTREAMS; i++) {
        if (!names[i] || gh_config__check_name(names[i]))
            return GH_E_PARSE;
    }
    if (n > GH_CONFIG_MAX_ENDPOINT_UPSTREAMS || c->n_endpoints >= GH_CONFIG_MAX_ENDPOINTS)
        return GH_E_LIMIT;
    c->endpoints = gh_xrealloc(c->endpoints, (c->n_endpoints + 1) * sizeof(*c->endpoints));
    e = &c->endpoints[c->n_endpoints++];
    *e = (struct gh_config_endpoint){
        .path = gh_xstrdup(path),
        .upstreams = gh_xcalloc(n, sizeof(*e->upstreams)),
        .separator = separator,
    };
    for (; e->n_upstreams < n; e->n_upstreams++)
        e->upstreams[e->n_upstreams] = gh_xstrdup(names[e->n_upstreams]);
    gh_config__default_paths(c);
    return GH_OK;
}

/* ---- messages ---- */

void gh_config_error_format(const struct gh_config_error *e, char *out, size_t n)
{
    char where[300];
    const char *file = e->file[0] ? e->file : "(config)";
    if (n == 0)
        return;
    if (e->line > 0)
        snprintf(where, sizeof(where), "%s:%d:%d", file, e->line, e->column);
    else
        snprintf(where, sizeof(where), "%s", file);
    if (e->path[0])
        snprintf(out, n, "%s: %s: %s", where, e->path, e->msg);
    else
        snprintf(out, n, "%s: %s", where, e->msg);
}
