/*
 * config/check.c owns gh_config_validate(): the ranges of every numeric setting (and the tables
 * that define them, with their defaults), and the checks that span fields or touch the file
 * system. It works on configs built by code as well as loaded ones; for loaded ones it finds the
 * source position of a key path in c->marks.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB (UINT64_C(1024))
#define MIB (KIB * 1024)
#define SEC (UINT64_C(1000))
#define DAY (SEC * 86400)

#define LIM(k, d, lo, hi)                                                                          \
    {                                                                                              \
#k, offsetof(struct gh_config_limits, k), d, lo, hi                                        \
    }
const struct cfg_field gh_config__limit_fields[] = {
    LIM(header_bytes, 16 * KIB, 1, 1 * MIB),
    LIM(headers_count, 100, 1, 10000),
    LIM(body_bytes, 4 * MIB, 1, 256 * MIB),
    LIM(json_depth, 64, 1, 512),
    LIM(batch_length, 32, 1, 1024),
    LIM(sse_event_bytes, 1 * MIB, 1, 64 * MIB),
    LIM(sse_replay_bytes, 1 * MIB, 1, 256 * MIB),
    LIM(sessions_per_principal, 64, 1, 100000),
    LIM(sessions_total, 10000, 1, 10000000),
    LIM(concurrent_requests_per_principal, 64, 1, 100000),
    LIM(connections, 10000, 1, 1000000),
    LIM(stdio_children, 64, 1, 4096),
};
const size_t gh_config__n_limit_fields = GH_ARRAY_LEN(gh_config__limit_fields);

#define TMO(k, d, hi)                                                                              \
    {                                                                                              \
#k, offsetof(struct gh_config_timeouts, k), d, 1, hi                                       \
    }
const struct cfg_field gh_config__timeout_fields[] = {
    TMO(header_ms, 10 * SEC, DAY),
    TMO(body_ms, 30 * SEC, DAY),
    TMO(idle_ms, 60 * SEC, DAY),
    TMO(upstream_connect_ms, 5 * SEC, DAY),
    TMO(upstream_first_byte_ms, 60 * SEC, DAY),
    TMO(stream_idle_ms, 300 * SEC, DAY),
    TMO(session_idle_ms, 1800 * SEC, 7 * DAY),
    TMO(shutdown_drain_ms, 10 * SEC, 3600 * SEC),
};
const size_t gh_config__n_timeout_fields = GH_ARRAY_LEN(gh_config__timeout_fields);

/* Defaults 0: "inherit the global value"; written values must still be >= 1. */
#define UTO(k)                                                                                     \
    {                                                                                              \
#k, offsetof(struct gh_config_upstream_timeouts, k), 0, 1, DAY                             \
    }
const struct cfg_field gh_config__upstream_timeout_fields[] = {
    UTO(connect_ms),
    UTO(first_byte_ms),
    UTO(stream_idle_ms),
};
const size_t gh_config__n_upstream_timeout_fields =
    GH_ARRAY_LEN(gh_config__upstream_timeout_fields);

/* Position of path in the source, or of its nearest written ancestor ("upstreams[1].path" that
 * was defaulted points at "upstreams[1]"). */
static void where(const struct gh_config *c, const char *path, int *line, int *column)
{
    char p[256];
    snprintf(p, sizeof(p), "%s", path);
    *line = *column = 0;
    while (p[0]) {
        for (size_t i = 0; i < c->n_marks; i++) {
            if (strcmp(c->marks[i].path, p) == 0) {
                *line = c->marks[i].line;
                *column = c->marks[i].column;
                return;
            }
        }
        char *cut = strrchr(p, '.');
        char *br = strrchr(p, '[');
        if (!cut || (br && br > cut))
            cut = br;
        if (!cut)
            return;
        *cut = '\0';
    }
}

enum gh_rc gh_config__fail(const struct gh_config *c, struct gh_config_error *err, const char *path,
                           const char *fmt, ...)
{
    va_list ap;
    snprintf(err->file, sizeof(err->file), "%s", c->source ? c->source : "");
    where(c, path, &err->line, &err->column);
    snprintf(err->path, sizeof(err->path), "%s", path);
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return GH_E_PARSE;
}

static enum gh_rc check_fields(const struct gh_config *c, struct gh_config_error *err,
                               const char *prefix, const struct cfg_field *f, size_t nf,
                               const void *base, bool zero_ok)
{
    char path[256];
    for (size_t i = 0; i < nf; i++) {
        uint64_t v = *(const uint64_t *)((const char *)base + f[i].off);
        if ((v == 0 && zero_ok) || (v >= f[i].min && v <= f[i].max))
            continue;
        snprintf(path, sizeof(path), "%s.%s", prefix, f[i].key);
        return gh_config__fail(c, err, path, "must be between %" PRIu64 " and %" PRIu64, f[i].min,
                               f[i].max);
    }
    return GH_OK;
}

static enum gh_rc check_list(const struct gh_config *c, struct gh_config_error *err,
                             const char *key, char *const *v, size_t n,
                             const char *(*check)(const char *))
{
    char path[256];
    if (n > GH_CONFIG_MAX_ALLOWED)
        return gh_config__fail(c, err, key, "too many entries (max %d)", GH_CONFIG_MAX_ALLOWED);
    for (size_t i = 0; i < n; i++) {
        const char *why = check(v[i]);
        if (why) {
            snprintf(path, sizeof(path), "%s[%zu]", key, i);
            return gh_config__fail(c, err, path, "%s", why);
        }
    }
    return GH_OK;
}

static enum gh_rc check_gateway(const struct gh_config *c, struct gh_config_error *err)
{
    const struct gh_config_gateway *g = &c->gateway;
    enum gh_rc rc;
    if (g->workers > GH_CONFIG_MAX_WORKERS)
        return gh_config__fail(c, err, "gateway.workers", "must be between 0 and %d",
                               GH_CONFIG_MAX_WORKERS);
    if (g->log_level < GH_LOG_ERROR || g->log_level > GH_LOG_DEBUG)
        return gh_config__fail(c, err, "gateway.log_level",
                               "expected one of: error, warn, info, debug");
    rc = check_list(c, err, "gateway.allowed_origins", g->allowed_origins, g->n_allowed_origins,
                    gh_config__check_origin);
    if (rc)
        return rc;
    rc = check_list(c, err, "gateway.allowed_hosts", g->allowed_hosts, g->n_allowed_hosts,
                    gh_config__check_host);
    if (rc)
        return rc;
    return check_list(c, err, "gateway.trusted_proxies", g->trusted_proxies, g->n_trusted_proxies,
                      gh_config__check_cidr);
}

/* TLS files are opened now so a typo fails the load, not the first handshake. */
static enum gh_rc check_readable(const struct gh_config *c, struct gh_config_error *err,
                                 const char *path, const char *file, const char *what)
{
    struct stat sb;
    int fd = file ? open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1;
    if (!file)
        return gh_config__fail(c, err, path,
                               "required key is missing (tls needs certificate and key)");
    if (fd < 0)
        return gh_config__fail(c, err, path, "cannot read %s file: %s", what, strerror(errno));
    bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    close(fd);
    if (!regular)
        return gh_config__fail(c, err, path, "%s must be a regular file", what);
    return GH_OK;
}

static bool same_addr(const struct gh_config_addr *a, const struct gh_config_addr *b)
{
    return a->port != 0 && a->port == b->port && a->family == b->family &&
           strcmp(a->host, b->host) == 0;
}

static enum gh_rc check_listener(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_listener *l = &c->listeners[i];
    char path[96]; /* "upstreams[N].max_connections" and the like */
    enum gh_rc rc;
    snprintf(path, sizeof(path), "listeners[%zu].address", i);
    if (!l->addr.host)
        return gh_config__fail(c, err, path, "required key is missing");
    for (size_t j = 0; j < i; j++) {
        if (same_addr(&c->listeners[j].addr, &l->addr))
            return gh_config__fail(c, err, path, "duplicate listener address (also listeners[%zu])",
                                   j);
    }
    if (!l->tls)
        return GH_OK;
    snprintf(path, sizeof(path), "listeners[%zu].tls.certificate", i);
    rc = check_readable(c, err, path, l->tls->certificate, "certificate");
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "listeners[%zu].tls.key", i);
    return check_readable(c, err, path, l->tls->key, "key");
}

/* ---- stdio upstreams ---- */

/* Fields a kind does not use must be unset (configs built by code; the loader refuses the keys). */
static enum gh_rc check_kind_fields(const struct gh_config *c, struct gh_config_error *err,
                                    size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    char path[96];
    if (u->kind == GH_CONFIG_UPSTREAM_STDIO) {
        snprintf(path, sizeof(path), "upstreams[%zu].url", i);
        if (u->url.host)
            return gh_config__fail(c, err, path,
                                   "url and command are mutually exclusive (an upstream is "
                                   "either HTTP or stdio)");
        snprintf(path, sizeof(path), "upstreams[%zu].max_connections", i);
        if (u->max_connections)
            return gh_config__fail(c, err, path, "only for HTTP upstreams (those with url)");
        snprintf(path, sizeof(path), "upstreams[%zu].timeouts.connect_ms", i);
        if (u->timeouts.connect_ms)
            return gh_config__fail(c, err, path, "only for HTTP upstreams (those with url)");
        return GH_OK;
    }
    snprintf(path, sizeof(path), "upstreams[%zu].url", i);
    if (!u->url.host || !u->url.path)
        return gh_config__fail(c, err, path, "required key is missing");
    snprintf(path, sizeof(path), "upstreams[%zu].command", i);
    if (u->command || u->argv || u->cwd || u->n_env || u->mode || u->message_bytes ||
        u->stop_grace_ms)
        return gh_config__fail(c, err, path,
                               "stdio settings on an HTTP upstream (url and command are "
                               "mutually exclusive)");
    snprintf(path, sizeof(path), "upstreams[%zu].max_connections", i);
    if (u->max_connections < 1 || u->max_connections > CFG_MAX_CONNECTIONS_MAX)
        return gh_config__fail(c, err, path, "must be between 1 and %d", CFG_MAX_CONNECTIONS_MAX);
    return GH_OK;
}

static bool is_exec_file(const char *file)
{
    struct stat sb;
    return stat(file, &sb) == 0 && S_ISREG(sb.st_mode) && access(file, X_OK) == 0;
}

static const struct gh_config_env *env_find(const struct gh_config_upstream *u, const char *name)
{
    for (size_t i = 0; i < u->n_env; i++) {
        if (strcmp(u->env[i].name, name) == 0)
            return &u->env[i];
    }
    return NULL;
}

/* Looks command up in a literal PATH the way the spawner will (absolute entries only). */
static bool in_path(const char *pathvar, const char *command)
{
    char file[4096 + 64];
    const char *p = pathvar;
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0 && p[0] == '/' && n + strlen(command) + 2 <= sizeof(file)) {
            snprintf(file, sizeof(file), "%.*s/%s", (int)n, p, command);
            if (is_exec_file(file))
                return true;
        }
        p += n + (p[n] == ':');
    }
    return false;
}

static enum gh_rc check_command(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    const struct gh_config_env *pathvar;
    char path[96];
    const char *why;
    snprintf(path, sizeof(path), "upstreams[%zu].command", i);
    why = u->command ? gh_config__check_command(u->command) : "required key is missing";
    if (why)
        return gh_config__fail(c, err, path, "%s", why);
    if (u->command[0] == '/') {
        if (!is_exec_file(u->command))
            return gh_config__fail(c, err, path, "command is not an executable file (%s)",
                                   access(u->command, F_OK) ? strerror(errno)
                                                            : "not regular or no x bit");
        return GH_OK;
    }
    pathvar = env_find(u, "PATH");
    if (!pathvar)
        return gh_config__fail(c, err, path,
                               "command is a bare name but env has no PATH to look it up in "
                               "(the gateway's own PATH is never used)");
    /* a PATH given by reference is only known at spawn */
    if (pathvar->kind == GH_CONFIG_ENV_LITERAL && !in_path(pathvar->value, u->command))
        return gh_config__fail(c, err, path,
                               "command not found in env PATH (absolute entries only)");
    return GH_OK;
}

/* References are resolved again when used; checking now makes a typo stop the start. */
enum gh_rc gh_config__check_ref(const struct gh_config *c, struct gh_config_error *err,
                                const char *path, enum gh_config_env_kind kind, const char *target,
                                bool private_file)
{
    mode_t open_bits = private_file ? (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH) : (S_IROTH | S_IWOTH);
    struct stat sb;
    if (kind == GH_CONFIG_ENV_FROM_ENV && !getenv(target))
        return gh_config__fail(c, err, path, "env:%s is not set in the gateway's environment",
                               target);
    if (kind != GH_CONFIG_ENV_FROM_FILE)
        return GH_OK;
    if (stat(target, &sb) != 0)
        return gh_config__fail(c, err, path, "cannot read secret file: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return gh_config__fail(c, err, path, "secret file must be a regular file");
    if (sb.st_mode & open_bits)
        return gh_config__fail(c, err, path,
                               private_file ? "secret file is readable or writable by other users "
                                              "or its group (chmod 600)"
                                            : "secret file is readable or writable by every local "
                                              "user (chmod o-rw)");
    if (access(target, R_OK) != 0)
        return gh_config__fail(c, err, path, "cannot read secret file: %s", strerror(errno));
    return GH_OK;
}

static enum gh_rc check_env(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    char path[256];
    for (size_t k = 0; k < u->n_env; k++) {
        const struct gh_config_env *e = &u->env[k];
        const char *why = gh_config__check_env_entry(e);
        snprintf(path, sizeof(path), "upstreams[%zu].env.%.128s", i, e->name ? e->name : "?");
        if (!why && env_find(u, e->name) != e)
            why = "duplicate variable";
        if (why)
            return gh_config__fail(c, err, path, "%s", why);
        enum gh_rc rc = gh_config__check_ref(c, err, path, e->kind, e->value, false);
        if (rc)
            return rc;
    }
    if (u->n_env > CFG_MAX_MAP_KEYS)
        return gh_config__fail(c, err, "upstreams", "too many environment variables (max %d)",
                               CFG_MAX_MAP_KEYS);
    return GH_OK;
}

static enum gh_rc check_stdio(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    char path[96];
    struct stat sb;
    enum gh_rc rc = check_env(c, err, i);
    if (!rc)
        rc = check_command(c, err, i);
    if (rc)
        return rc;
    for (size_t k = 1; u->argv && u->argv[k]; k++) {
        const char *why = gh_config__check_arg(u->argv[k]);
        snprintf(path, sizeof(path), "upstreams[%zu].args[%zu]", i, k - 1);
        if (why)
            return gh_config__fail(c, err, path, "%s", why);
    }
    snprintf(path, sizeof(path), "upstreams[%zu].cwd", i);
    if (u->cwd && u->cwd[0] != '/')
        return gh_config__fail(c, err, path, "cwd must be an absolute path");
    if (u->cwd && stat(u->cwd, &sb) != 0)
        return gh_config__fail(c, err, path, "cannot use cwd: %s", strerror(errno));
    if (u->cwd && !S_ISDIR(sb.st_mode))
        return gh_config__fail(c, err, path, "cwd is not a directory");
    snprintf(path, sizeof(path), "upstreams[%zu].mode", i);
    if (u->mode != GH_CONFIG_STDIO_PER_SESSION && u->mode != GH_CONFIG_STDIO_SHARED)
        return gh_config__fail(c, err, path, "expected per-session or shared");
    snprintf(path, sizeof(path), "upstreams[%zu].message_bytes", i);
    if (u->message_bytes < 1 || u->message_bytes > CFG_MESSAGE_BYTES_MAX)
        return gh_config__fail(c, err, path, "must be between 1 and %d", CFG_MESSAGE_BYTES_MAX);
    snprintf(path, sizeof(path), "upstreams[%zu].stop_grace_ms", i);
    if (u->stop_grace_ms < 1 || u->stop_grace_ms > CFG_STOP_GRACE_MAX)
        return gh_config__fail(c, err, path, "must be between 1 and %d", CFG_STOP_GRACE_MAX);
    return GH_OK;
}

static enum gh_rc check_upstream_fields(const struct gh_config *c, struct gh_config_error *err,
                                        size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    char path[96]; /* "upstreams[N].max_connections" and the like */
    const char *why;
    enum gh_rc rc;
    snprintf(path, sizeof(path), "upstreams[%zu].name", i);
    why = u->name ? gh_config__check_name(u->name) : "required key is missing";
    if (why)
        return gh_config__fail(c, err, path, "%s", why);
    rc = check_kind_fields(c, err, i);
    if (!rc && u->kind == GH_CONFIG_UPSTREAM_STDIO)
        rc = check_stdio(c, err, i);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "upstreams[%zu].path", i);
    why = u->path ? gh_config__check_gw_path(u->path) : "required key is missing";
    if (why)
        return gh_config__fail(c, err, path, "%s", why);
    snprintf(path, sizeof(path), "upstreams[%zu].timeouts", i);
    return check_fields(c, err, path, gh_config__upstream_timeout_fields,
                        gh_config__n_upstream_timeout_fields, &u->timeouts, true);
}

static enum gh_rc check_upstream(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_upstream *u = &c->upstreams[i];
    char path[96]; /* "upstreams[N].max_connections" and the like */
    enum gh_rc rc = check_upstream_fields(c, err, i);
    if (rc)
        return rc;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->upstreams[j].name, u->name) == 0) {
            snprintf(path, sizeof(path), "upstreams[%zu].name", i);
            return gh_config__fail(c, err, path, "duplicate upstream name (also upstreams[%zu])",
                                   j);
        }
        if (strcmp(c->upstreams[j].path, u->path) == 0) {
            snprintf(path, sizeof(path), "upstreams[%zu].path", i);
            return gh_config__fail(c, err, path, "duplicate path (also served by upstreams[%zu])",
                                   j);
        }
    }
    return GH_OK;
}

/* ---- endpoints ---- */

/* Index of the upstream called name, or n_upstreams when there is none. */
static size_t upstream_index(const struct gh_config *c, const char *name)
{
    size_t i = 0;
    while (i < c->n_upstreams && !(c->upstreams[i].name && strcmp(c->upstreams[i].name, name) == 0))
        i++;
    return i;
}

/* One path leads to one server: an endpoint shares it with no upstream and no other endpoint. */
static enum gh_rc check_endpoint_path(const struct gh_config *c, struct gh_config_error *err,
                                      size_t i)
{
    const struct gh_config_endpoint *e = &c->endpoints[i];
    char path[96];
    const char *why;
    snprintf(path, sizeof(path), "endpoints[%zu].path", i);
    why = e->path ? gh_config__check_gw_path(e->path) : "required key is missing";
    if (why)
        return gh_config__fail(c, err, path, "%s", why);
    for (size_t j = 0; j < c->n_upstreams; j++) {
        if (c->upstreams[j].path && strcmp(c->upstreams[j].path, e->path) == 0)
            return gh_config__fail(c, err, path, "duplicate path (also served by upstreams[%zu])",
                                   j);
    }
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->endpoints[j].path, e->path) == 0)
            return gh_config__fail(c, err, path, "duplicate path (also served by endpoints[%zu])",
                                   j);
    }
    return GH_OK;
}

/* The aggregator splits "<upstream><sep><tool>" at the first separator, so a member's name must
 * not contain it. Errors point at the member entry and cite upstreams[N], never the name. */
static enum gh_rc check_member(const struct gh_config *c, struct gh_config_error *err, size_t i,
                               size_t k)
{
    const struct gh_config_endpoint *e = &c->endpoints[i];
    const char *name = e->upstreams[k], *why;
    char path[96];
    size_t u;
    snprintf(path, sizeof(path), "endpoints[%zu].upstreams[%zu]", i, k);
    why = name ? gh_config__check_name(name) : "expected a string";
    if (why)
        return gh_config__fail(c, err, path, "%s", why);
    u = upstream_index(c, name);
    if (u == c->n_upstreams)
        return gh_config__fail(c, err, path, "no upstream of this name is defined under upstreams");
    for (size_t j = 0; j < k; j++) {
        if (strcmp(e->upstreams[j], name) == 0)
            return gh_config__fail(c, err, path,
                                   "duplicate upstream (also endpoints[%zu].upstreams[%zu])", i, j);
    }
    if (strchr(name, e->separator))
        return gh_config__fail(
            c, err, path,
            "the name of upstreams[%zu] contains the separator \"%c\", so "
            "\"<upstream>%c<tool>\" could not be split back (choose another separator)",
            u, e->separator, e->separator);
    return GH_OK;
}

static enum gh_rc check_endpoint(const struct gh_config *c, struct gh_config_error *err, size_t i)
{
    const struct gh_config_endpoint *e = &c->endpoints[i];
    char path[96];
    enum gh_rc rc = check_endpoint_path(c, err, i);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "endpoints[%zu].separator", i);
    if (e->separator == '\0' || !strchr("._-", e->separator))
        return gh_config__fail(c, err, path, "expected one of \".\", \"_\" or \"-\" (quoted)");
    snprintf(path, sizeof(path), "endpoints[%zu].upstreams", i);
    if (e->n_upstreams == 0 || !e->upstreams)
        return gh_config__fail(c, err, path, "at least one upstream is required");
    if (e->n_upstreams > GH_CONFIG_MAX_ENDPOINT_UPSTREAMS)
        return gh_config__fail(c, err, path, "too many upstreams (max %d)",
                               GH_CONFIG_MAX_ENDPOINT_UPSTREAMS);
    for (size_t k = 0; !rc && k < e->n_upstreams; k++)
        rc = check_member(c, err, i, k);
    return rc;
}

enum gh_rc gh_config_validate(const struct gh_config *c, struct gh_config_error *err)
{
    struct gh_config_error local;
    enum gh_rc rc;
    if (!err)
        err = &local;
    memset(err, 0, sizeof(*err));
    rc = check_gateway(c, err);
    if (!rc)
        rc = check_fields(c, err, "limits", gh_config__limit_fields, gh_config__n_limit_fields,
                          &c->limits, false);
    if (!rc)
        rc = check_fields(c, err, "timeouts", gh_config__timeout_fields,
                          gh_config__n_timeout_fields, &c->timeouts, false);
    if (!rc && c->n_listeners == 0)
        rc = gh_config__fail(c, err, "listeners", "at least one listener is required");
    if (!rc && c->n_listeners > GH_CONFIG_MAX_LISTENERS)
        rc = gh_config__fail(c, err, "listeners", "too many listeners (max %d)",
                             GH_CONFIG_MAX_LISTENERS);
    if (!rc && c->n_upstreams > GH_CONFIG_MAX_UPSTREAMS)
        rc = gh_config__fail(c, err, "upstreams", "too many upstreams (max %d)",
                             GH_CONFIG_MAX_UPSTREAMS);
    for (size_t i = 0; !rc && i < c->n_listeners; i++)
        rc = check_listener(c, err, i);
    for (size_t i = 0; !rc && i < c->n_upstreams; i++)
        rc = check_upstream(c, err, i);
    if (!rc && c->n_endpoints > GH_CONFIG_MAX_ENDPOINTS)
        rc = gh_config__fail(c, err, "endpoints", "too many endpoints (max %d)",
                             GH_CONFIG_MAX_ENDPOINTS);
    for (size_t i = 0; !rc && i < c->n_endpoints; i++) /* after upstreams: it names them */
        rc = check_endpoint(c, err, i);
    if (!rc) /* last: scopes.upstreams names upstreams */
        rc = gh_config__auth_validate(c, err);
    return rc;
}
