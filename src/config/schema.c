/*
 * config/schema.c owns the mapping from the YAML node tree onto struct gh_config: which keys
 * exist where, the type of each value, and the format checks of single values (addresses, URLs,
 * names, paths, endpoint separators). Unknown keys and wrong types are errors at the exact node.
 * Ranges and checks that span fields (such as whether an endpoint's members exist) are
 * gh_config_validate()'s (check.c), so code-built configs get them too.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- scalars ---- */

bool gh_config__is_null(const struct gh_config_node *n)
{
    if (n->kind != CFG_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static enum gh_rc get_string(struct cfg_state *st, const struct gh_config_node *n, const char **out)
{
    /* GH_E_PARSE spelled out: callers rely on a non-zero result the analyzer cannot see */
    if (n->kind != CFG_SCALAR || gh_config__is_null(n)) {
        gh_config__err_node(st, n, "expected a string");
        return GH_E_PARSE;
    }
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->text[i];
        if (ch < 0x20 || ch == 0x7f) {
            gh_config__err_node(st, n, "control characters are not allowed");
            return GH_E_PARSE;
        }
    }
    *out = n->text;
    return GH_OK;
}

enum gh_rc gh_config__get_string(struct cfg_state *st, const struct gh_config_node *n,
                                 const char **out)
{
    return get_string(st, n, out);
}

/* Plain decimal only: "010", "0x10", "1e3", "1_000" and quoted numbers are refused, so what the
 * operator reads is what the gateway uses. */
enum gh_rc gh_config__get_uint(struct cfg_state *st, const struct gh_config_node *n, uint64_t min,
                               uint64_t max, uint64_t *out)
{
    const char *s = n->text;
    bool neg = false;
    uint64_t v = 0;
    if (n->kind != CFG_SCALAR || !n->plain || n->len == 0)
        return gh_config__err_node(st, n, "expected an integer");
    if (*s == '-') {
        neg = true;
        s++;
    }
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
        return gh_config__err_node(st, n, "expected an integer");
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return gh_config__err_node(st, n, "expected an integer");
        if (v > (UINT64_MAX - 9) / 10)
            neg = true; /* too large for any range: report as out of range below */
        else
            v = v * 10 + (uint64_t)(*s - '0');
    }
    if (neg || v < min || v > max)
        return gh_config__err_node(st, n, "must be between %" PRIu64 " and %" PRIu64, min, max);
    *out = v;
    return GH_OK;
}

enum gh_rc gh_config__get_bool(struct cfg_state *st, const struct gh_config_node *n, bool *out)
{
    if (n->kind == CFG_SCALAR && n->plain && strcmp(n->text, "true") == 0)
        *out = true;
    else if (n->kind == CFG_SCALAR && n->plain && strcmp(n->text, "false") == 0)
        *out = false;
    else
        return gh_config__err_node(st, n, "expected true or false");
    return GH_OK;
}

/* ---- mappings ---- */

static enum gh_rc unknown_key(struct cfg_state *st, const struct gh_config_node *v,
                              const char *const *names, size_t n)
{
    char list[160];
    size_t at = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && at < sizeof(list); i++) {
        int w = snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    gh_config__err_node(st, v, "unknown key (expected one of: %s)", list);
    st->err->line = v->key_line; /* point at the key, not its value */
    st->err->column = v->key_column;
    return GH_E_PARSE;
}

enum gh_rc gh_config__want_map(struct cfg_state *st, const struct gh_config_node *m)
{
    if (m->kind != CFG_MAP)
        return gh_config__err_node(st, m, "expected a mapping");
    return GH_OK;
}

enum gh_rc gh_config__walk_map(struct cfg_state *st, const struct gh_config_node *m,
                               const struct cfg_key *keys, size_t nkeys, void *obj)
{
    const char *names[16];
    enum gh_rc rc = gh_config__want_map(st, m);
    if (rc)
        return rc;
    for (size_t i = 0; i < nkeys && i < GH_ARRAY_LEN(names); i++)
        names[i] = keys[i].key;
    for (size_t i = 0; i < m->n; i++) {
        const struct gh_config_node *v = m->items[i];
        size_t k = 0;
        while (k < nkeys && strcmp(keys[k].key, v->key) != 0)
            k++;
        if (k == nkeys)
            return unknown_key(st, v, names, GH_MIN(nkeys, GH_ARRAY_LEN(names)));
        rc = keys[k].fn(st, v, obj);
        if (rc)
            return rc;
    }
    return GH_OK;
}

/* A mapping of integers described by a field table (limits, timeouts). */
static enum gh_rc walk_fields(struct cfg_state *st, const struct gh_config_node *m,
                              const struct cfg_field *f, size_t nf, void *base)
{
    const char *names[16];
    enum gh_rc rc = gh_config__want_map(st, m);
    if (rc)
        return rc;
    for (size_t i = 0; i < nf && i < GH_ARRAY_LEN(names); i++)
        names[i] = f[i].key;
    for (size_t i = 0; i < m->n; i++) {
        const struct gh_config_node *v = m->items[i];
        size_t k = 0;
        while (k < nf && strcmp(f[k].key, v->key) != 0)
            k++;
        if (k == nf)
            return unknown_key(st, v, names, GH_MIN(nf, GH_ARRAY_LEN(names)));
        rc = gh_config__get_uint(st, v, f[k].min, f[k].max, (uint64_t *)((char *)base + f[k].off));
        if (rc)
            return rc;
    }
    return GH_OK;
}

/* Error for a required key missing from mapping m: at the mapping, path naming the key. */
enum gh_rc gh_config__missing(struct cfg_state *st, const struct gh_config_node *m, const char *key,
                              const char *why)
{
    char path[256];
    gh_config__node_path(m, path, sizeof(path));
    size_t at = strlen(path);
    snprintf(path + at, sizeof(path) - at, "%s%s", at ? "." : "", key);
    return gh_config__err(st->err, m->line, m->column, path, "required key is missing%s", why);
}

enum gh_rc gh_config__want_seq(struct cfg_state *st, const struct gh_config_node *s, size_t max,
                               const char *what)
{
    /* GH_E_PARSE spelled out: callers rely on a non-zero result the analyzer cannot see */
    if (s->kind != CFG_SEQ) {
        gh_config__err_node(st, s, "expected a list");
        return GH_E_PARSE;
    }
    if (s->n > max) {
        gh_config__err_node(st, s, "too many %s (max %zu)", what, max);
        return GH_E_PARSE;
    }
    return GH_OK;
}

/* ---- gateway: ---- */

static enum gh_rc gw_workers(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 0, GH_CONFIG_MAX_WORKERS,
                               &((struct gh_config_gateway *)obj)->workers);
}

static enum gh_rc gw_log_level(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    const char *s;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    if (gh_log_level_parse(s, &((struct gh_config_gateway *)obj)->log_level) != GH_OK)
        return gh_config__err_node(st, v, "expected one of: error, warn, info, debug");
    return GH_OK;
}

static enum gh_rc gw_insecure(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_bool(st, v, &((struct gh_config_gateway *)obj)->insecure_no_auth);
}

static enum gh_rc str_list(struct cfg_state *st, const struct gh_config_node *v,
                           const char *(*check)(const char *), char ***out, size_t *nout)
{
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_ALLOWED, "entries");
    if (rc)
        return rc;
    for (size_t i = 0; i < *nout; i++)
        gh_free(&(*out)[i]);
    gh_free(out);
    *nout = 0;
    *out = gh_xcalloc(v->n ? v->n : 1, sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const char *s, *why;
        rc = get_string(st, v->items[i], &s);
        if (rc)
            return rc;
        why = check(s);
        if (why)
            return gh_config__err_node(st, v->items[i], "%s", why);
        (*out)[(*nout)++] = gh_xstrdup(s);
    }
    return GH_OK;
}

static enum gh_rc gw_origins(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_gateway *g = obj;
    return str_list(st, v, gh_config__check_origin, &g->allowed_origins, &g->n_allowed_origins);
}

static enum gh_rc gw_hosts(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_gateway *g = obj;
    return str_list(st, v, gh_config__check_host, &g->allowed_hosts, &g->n_allowed_hosts);
}

static enum gh_rc gw_proxies(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_gateway *g = obj;
    return str_list(st, v, gh_config__check_cidr, &g->trusted_proxies, &g->n_trusted_proxies);
}

static enum gh_rc sec_gateway(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"workers", gw_workers},           {"log_level", gw_log_level},
        {"insecure_no_auth", gw_insecure}, {"allowed_origins", gw_origins},
        {"allowed_hosts", gw_hosts},       {"trusted_proxies", gw_proxies},
    };
    return gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys),
                               &((struct gh_config *)obj)->gateway);
}

/* ---- listeners: ---- */

static enum gh_rc tls_path(struct cfg_state *st, const struct gh_config_node *v, char **out)
{
    const char *s;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    gh_free(out);
    *out = gh_xstrdup(s);
    return GH_OK;
}

static enum gh_rc tls_cert(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return tls_path(st, v, &((struct gh_config_tls *)obj)->certificate);
}

static enum gh_rc tls_key(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return tls_path(st, v, &((struct gh_config_tls *)obj)->key);
}

static enum gh_rc lis_tls(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {{"certificate", tls_cert}, {"key", tls_key}};
    struct gh_config_listener *l = obj;
    l->tls = gh_xcalloc(1, sizeof(*l->tls));
    enum gh_rc rc = gh_config__walk_map(st, v, keys, GH_ARRAY_LEN(keys), l->tls);
    if (rc)
        return rc;
    if (!l->tls->certificate)
        return gh_config__missing(st, v, "certificate", " (tls needs certificate and key)");
    if (!l->tls->key)
        return gh_config__missing(st, v, "key", " (tls needs certificate and key)");
    return GH_OK;
}

static enum gh_rc lis_address(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_listener *l = obj;
    const char *s, *why = NULL;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    if (gh_config_addr_parse(s, &l->addr, &why) != GH_OK)
        return gh_config__err_node(st, v, "%s", why);
    return GH_OK;
}

static enum gh_rc sec_listeners(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {{"address", lis_address}, {"tls", lis_tls}};
    struct gh_config *c = obj;
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_LISTENERS, "listeners");
    if (rc)
        return rc;
    if (v->n == 0)
        return gh_config__err_node(st, v, "at least one listener is required");
    gh_config__listeners_clear(c);
    c->listeners = gh_xcalloc(v->n, sizeof(*c->listeners));
    for (size_t i = 0; i < v->n; i++) {
        struct gh_config_listener *l = &c->listeners[c->n_listeners++];
        rc = gh_config__walk_map(st, v->items[i], keys, GH_ARRAY_LEN(keys), l);
        if (rc)
            return rc;
        if (!l->addr.host)
            return gh_config__missing(st, v->items[i], "address", "");
    }
    return GH_OK;
}

/* ---- upstreams: ---- */

static enum gh_rc up_name(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    const char *s, *why;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    why = gh_config__check_name(s);
    if (why)
        return gh_config__err_node(st, v, "%s", why);
    u->name = gh_xstrdup(s);
    return GH_OK;
}

static enum gh_rc up_url(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    const char *s, *why = NULL;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    if (gh_config_url_parse(s, &u->url, &why) != GH_OK)
        return gh_config__err_node(st, v, "%s", why);
    return GH_OK;
}

/* A gateway path (upstreams[].path, endpoints[].path). */
static enum gh_rc gw_path(struct cfg_state *st, const struct gh_config_node *v, char **out)
{
    const char *s, *why;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    why = gh_config__check_gw_path(s);
    if (why)
        return gh_config__err_node(st, v, "%s", why);
    *out = gh_xstrdup(s);
    return GH_OK;
}

static enum gh_rc up_path(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    enum gh_rc rc = gw_path(st, v, &u->path);
    if (!rc)
        u->path_default = false;
    return rc;
}

static enum gh_rc up_maxconn(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 1, CFG_MAX_CONNECTIONS_MAX,
                               &((struct gh_config_upstream *)obj)->max_connections);
}

static enum gh_rc up_timeouts(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return walk_fields(st, v, gh_config__upstream_timeout_fields,
                       gh_config__n_upstream_timeout_fields,
                       &((struct gh_config_upstream *)obj)->timeouts);
}

/* ---- stdio upstreams ---- */

static enum gh_rc up_command(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    const char *s, *why;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    why = gh_config__check_command(s);
    if (why)
        return gh_config__err_node(st, v, "%s", why);
    u->command = gh_xstrdup(s);
    u->kind = GH_CONFIG_UPSTREAM_STDIO;
    return GH_OK;
}

/* Only checked here; argv is built from the node once command is known (stdio_finish). */
static enum gh_rc up_args(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    enum gh_rc rc = gh_config__want_seq(st, v, CFG_MAX_SEQ, "arguments");
    (void)obj;
    for (size_t i = 0; !rc && i < v->n; i++) {
        const char *s, *why;
        rc = get_string(st, v->items[i], &s);
        if (rc)
            return rc;
        why = gh_config__check_arg(s);
        if (why)
            return gh_config__err_node(st, v->items[i], "%s", why);
    }
    return rc;
}

static enum gh_rc up_cwd(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    const char *s;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    if (s[0] != '/')
        return gh_config__err_node(st, v, "cwd must be an absolute path");
    u->cwd = gh_xstrdup(s);
    return GH_OK;
}

static enum gh_rc up_env(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    enum gh_rc rc = gh_config__want_map(st, v);
    for (size_t i = 0; !rc && i < v->n; i++) {
        const struct gh_config_node *e = v->items[i];
        const char *s, *why = gh_config__check_env_name(e->key);
        if (why) {
            gh_config__err_node(st, e, "%s", why);
            st->err->line = e->key_line; /* a bad name is the key's fault */
            st->err->column = e->key_column;
            return GH_E_PARSE;
        }
        rc = get_string(st, e, &s);
        if (!rc && gh_config_upstream_add_env(u, e->key, s, &why) != GH_OK)
            rc = gh_config__err_node(st, e, "%s", why);
    }
    return rc;
}

static enum gh_rc up_mode(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_upstream *u = obj;
    const char *s;
    enum gh_rc rc = get_string(st, v, &s);
    if (rc)
        return rc;
    if (strcmp(s, "per-session") == 0)
        u->mode = GH_CONFIG_STDIO_PER_SESSION;
    else if (strcmp(s, "shared") == 0)
        u->mode = GH_CONFIG_STDIO_SHARED;
    else
        return gh_config__err_node(st, v, "expected per-session or shared");
    return GH_OK;
}

static enum gh_rc up_msgbytes(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 1, CFG_MESSAGE_BYTES_MAX,
                               &((struct gh_config_upstream *)obj)->message_bytes);
}

static enum gh_rc up_grace(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gh_config__get_uint(st, v, 1, CFG_STOP_GRACE_MAX,
                               &((struct gh_config_upstream *)obj)->stop_grace_ms);
}

const struct gh_config_node *gh_config__find_key(const struct gh_config_node *m, const char *key)
{
    for (size_t i = 0; m->kind == CFG_MAP && i < m->n; i++) {
        if (strcmp(m->items[i]->key, key) == 0)
            return m->items[i];
    }
    return NULL;
}

/* Error at the key of v (a key that does not belong in this kind of upstream). */
enum gh_rc gh_config__err_key(struct cfg_state *st, const struct gh_config_node *v, const char *msg)
{
    gh_config__err_node(st, v, "%s", msg);
    st->err->line = v->key_line;
    st->err->column = v->key_column;
    return GH_E_PARSE;
}

/* After the keys of one upstream: exactly one of url / command, and only its kind's keys. */
static enum gh_rc up_kind_check(struct cfg_state *st, const struct gh_config_node *m,
                                struct gh_config_upstream *u)
{
    static const char *const stdio_only[] = {"args", "cwd",           "env",
                                             "mode", "message_bytes", "stop_grace_ms"};
    const struct gh_config_node *url = gh_config__find_key(m, "url"),
                                *cmd = gh_config__find_key(m, "command"), *k;
    if (url && cmd)
        return gh_config__err_key(
            st, cmd,
            "url and command are mutually exclusive (an upstream is either HTTP or "
            "stdio)");
    if (!url && !cmd)
        return gh_config__missing(st, m, "url", "");
    if (url) {
        for (size_t i = 0; i < GH_ARRAY_LEN(stdio_only); i++) {
            k = gh_config__find_key(m, stdio_only[i]);
            if (k)
                return gh_config__err_key(st, k, "only for stdio upstreams (those with command)");
        }
        return GH_OK;
    }
    k = gh_config__find_key(m, "max_connections");
    if (k)
        return gh_config__err_key(st, k, "only for HTTP upstreams (those with url)");
    u->max_connections = 0;
    k = gh_config__find_key(m, "args");
    u->argv = gh_config__argv_new(u->command, NULL, 0);
    for (size_t i = 0; k && i < k->n; i++) {
        u->argv = gh_xrealloc(u->argv, (i + 3) * sizeof(*u->argv));
        u->argv[i + 1] = gh_xstrdup(k->items[i]->text);
        u->argv[i + 2] = NULL;
    }
    return GH_OK;
}

static enum gh_rc sec_upstreams(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"name", up_name},
        {"url", up_url},
        {"command", up_command},
        {"args", up_args},
        {"cwd", up_cwd},
        {"env", up_env},
        {"mode", up_mode},
        {"path", up_path},
        {"max_connections", up_maxconn},
        {"message_bytes", up_msgbytes},
        {"stop_grace_ms", up_grace},
        {"timeouts", up_timeouts},
    };
    struct gh_config *c = obj;
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_UPSTREAMS, "upstreams");
    if (rc)
        return rc;
    c->upstreams = gh_xcalloc(v->n ? v->n : 1, sizeof(*c->upstreams));
    for (size_t i = 0; i < v->n; i++) {
        struct gh_config_upstream *u = &c->upstreams[c->n_upstreams++];
        u->max_connections = GH_CONFIG_DEFAULT_MAX_CONNECTIONS;
        u->path_default = true;
        rc = gh_config__walk_map(st, v->items[i], keys, GH_ARRAY_LEN(keys), u);
        if (rc)
            return rc;
        if (!u->name)
            return gh_config__missing(st, v->items[i], "name", "");
        rc = up_kind_check(st, v->items[i], u);
        if (rc)
            return rc;
    }
    gh_config__default_paths(c);
    return GH_OK;
}

/* ---- endpoints: ---- */

static enum gh_rc ep_path(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return gw_path(st, v, &((struct gh_config_endpoint *)obj)->path);
}

/* Names only; whether each is defined under upstreams: is gh_config_validate()'s, since the
 * sections may come in any order. */
static enum gh_rc ep_upstreams(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    struct gh_config_endpoint *e = obj;
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_ENDPOINT_UPSTREAMS, "upstreams");
    if (rc)
        return rc;
    if (v->n == 0)
        return gh_config__err_node(st, v, "at least one upstream is required");
    e->upstreams = gh_xcalloc(v->n, sizeof(*e->upstreams));
    for (size_t i = 0; i < v->n; i++) {
        const char *s, *why;
        rc = get_string(st, v->items[i], &s);
        if (rc)
            return rc;
        why = gh_config__check_name(s);
        if (why)
            return gh_config__err_node(st, v->items[i], "%s", why);
        e->upstreams[e->n_upstreams++] = gh_xstrdup(s);
    }
    return GH_OK;
}

static enum gh_rc ep_separator(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    /* One message for every wrong form: a bare "-" is not even a string in YAML. */
    if (v->kind != CFG_SCALAR || v->len != 1 || !strchr("._-", v->text[0]))
        return gh_config__err_node(st, v, "expected one of \".\", \"_\" or \"-\" (quoted)");
    ((struct gh_config_endpoint *)obj)->separator = v->text[0];
    return GH_OK;
}

static enum gh_rc sec_endpoints(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    static const struct cfg_key keys[] = {
        {"path", ep_path},
        {"upstreams", ep_upstreams},
        {"separator", ep_separator},
    };
    struct gh_config *c = obj;
    enum gh_rc rc = gh_config__want_seq(st, v, GH_CONFIG_MAX_ENDPOINTS, "endpoints");
    if (rc)
        return rc;
    c->endpoints = gh_xcalloc(v->n ? v->n : 1, sizeof(*c->endpoints));
    for (size_t i = 0; i < v->n; i++) {
        struct gh_config_endpoint *e = &c->endpoints[c->n_endpoints++];
        e->separator = '.';
        rc = gh_config__walk_map(st, v->items[i], keys, GH_ARRAY_LEN(keys), e);
        if (rc)
            return rc;
        if (!e->path)
            return gh_config__missing(st, v->items[i], "path", "");
        if (!e->n_upstreams)
            return gh_config__missing(st, v->items[i], "upstreams", "");
    }
    gh_config__default_paths(c); /* upstreams: may have come first */
    return GH_OK;
}

/* ---- limits:, timeouts: ---- */

static enum gh_rc sec_limits(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return walk_fields(st, v, gh_config__limit_fields, gh_config__n_limit_fields,
                       &((struct gh_config *)obj)->limits);
}

static enum gh_rc sec_timeouts(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    return walk_fields(st, v, gh_config__timeout_fields, gh_config__n_timeout_fields,
                       &((struct gh_config *)obj)->timeouts);
}

/* policy: belongs to policy/, which compiles the tree (it only has to be a mapping here) */
static enum gh_rc sec_policy(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    if (gh_config__is_null(v))
        return GH_OK;
    if (v->kind != CFG_MAP)
        return gh_config__err_node(st, v, "expected a mapping");
    ((struct gh_config *)obj)->policy = (struct gh_config_node *)v;
    return GH_OK;
}

/* audit: belongs to audit/ (a mapping here) */
static enum gh_rc sec_audit(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    if (gh_config__is_null(v))
        return GH_OK;
    if (v->kind != CFG_MAP)
        return gh_config__err_node(st, v, "expected a mapping");
    ((struct gh_config *)obj)->audit = (struct gh_config_node *)v;
    return GH_OK;
}

/* propagation: belongs to propagation/ (a mapping here) */
static enum gh_rc sec_propagation(struct cfg_state *st, const struct gh_config_node *v, void *obj)
{
    if (gh_config__is_null(v))
        return GH_OK;
    if (v->kind != CFG_MAP)
        return gh_config__err_node(st, v, "expected a mapping");
    ((struct gh_config *)obj)->propagation = (struct gh_config_node *)v;
    return GH_OK;
}

enum gh_rc gh_config__schema_apply(struct cfg_state *st, const struct gh_config_node *root)
{
    static const struct cfg_key keys[] = {
        {"gateway", sec_gateway},        {"listeners", sec_listeners}, {"upstreams", sec_upstreams},
        {"endpoints", sec_endpoints},    {"limits", sec_limits},       {"timeouts", sec_timeouts},
        {"auth", gh_config__auth_apply}, {"policy", sec_policy},       {"audit", sec_audit},
        {"propagation", sec_propagation},
    };
    if (!root || gh_config__is_null(root)) /* empty file: the defaults */
        return GH_OK;
    if (root->kind != CFG_MAP)
        return gh_config__err(st->err, root->line, root->column, "",
                              "expected a mapping at the top level");
    return gh_config__walk_map(st, root, keys, GH_ARRAY_LEN(keys), st->c);
}

/* ---- positions for gh_config_validate() ---- */

static void mark_node(struct gh_config *c, const struct gh_config_node *n, size_t *cap)
{
    char path[256];
    if (n->parent) {
        if (c->n_marks == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            c->marks = gh_xrealloc(c->marks, *cap * sizeof(*c->marks));
        }
        gh_config__node_path(n, path, sizeof(path));
        c->marks[c->n_marks++] = (struct gh_config_mark){gh_xstrdup(path), n->line, n->column};
    }
    if (n->kind != CFG_SCALAR) {
        for (size_t i = 0; i < n->n; i++)
            mark_node(c, n->items[i], cap); /* depth is capped at CFG_MAX_DEPTH */
    }
}

void gh_config__marks_record(struct gh_config *c, const struct gh_config_node *root)
{
    size_t cap = c->n_marks;
    if (root && root->kind == CFG_MAP)
        mark_node(c, root, &cap);
}
