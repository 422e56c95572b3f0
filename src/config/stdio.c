/*
 * config/stdio.c owns the rules of stdio upstreams that do not depend on where a value came from:
 * command and argument syntax, environment variable names, env:/file: references, the refusal of
 * literal secrets (by variable name and by well-known token shapes), building a stdio upstream
 * from code, and releasing its fields. schema.c calls these for exact positions, check.c again
 * for configs built by code. No message here ever repeats a configured value.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <ctype.h>
#include <stdio.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ---- names, commands, references ---- */

const char *gh_config__check_env_name(const char *s)
{
    static const char *why = "environment variable names are [A-Za-z_][A-Za-z0-9_]* (1-128 bytes)";
    size_t n = strlen(s);
    if (n == 0 || n > 128 || isdigit((unsigned char)s[0]))
        return why;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return why;
    }
    return NULL;
}

const char *gh_config__check_command(const char *s)
{
    if (s[0] == '\0')
        return "command must not be empty";
    if (s[0] != '/' && strchr(s, '/'))
        return "command must be an absolute path or a program name looked up in env PATH (no "
               "relative paths)";
    if (strlen(s) > 4096)
        return "command is longer than 4096 bytes";
    return NULL;
}

/* ---- secrets ---- */

/* Variable names that announce a secret (matched case-insensitively anywhere in the name). */
static const char *const SECRET_WORDS[] = {
    "TOKEN",  "SECRET",      "PASSWORD",   "PASSWD", "API_KEY",
    "APIKEY", "PRIVATE_KEY", "CREDENTIAL", "AUTH",
};

static bool name_is_secret(const char *name)
{
    char up[130];
    size_t n = GH_MIN(strlen(name), sizeof(up) - 1);
    for (size_t i = 0; i < n; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    up[n] = '\0';
    for (size_t i = 0; i < GH_ARRAY_LEN(SECRET_WORDS); i++) {
        if (strstr(up, SECRET_WORDS[i]))
            return true;
    }
    return false;
}

static bool tok_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

static size_t tok_run(const char *p)
{
    size_t n = 0;
    while (tok_char(p[n]))
        n++;
    return n;
}

/* AKIA followed by exactly 16 of [0-9A-Z] (an AWS access key id). */
static bool aws_at(const char *p)
{
    if (strncmp(p, "AKIA", 4) != 0)
        return false;
    for (int i = 4; i < 20; i++) {
        if (!isdigit((unsigned char)p[i]) && !isupper((unsigned char)p[i]))
            return false;
    }
    return !isalnum((unsigned char)p[20]);
}

/* eyJ<b64url>.eyJ<b64url>. : a JWT's header and payload (both JSON objects, base64url). */
static bool jwt_at(const char *p)
{
    for (int part = 0; part < 2; part++) {
        if (strncmp(p, "eyJ", 3) != 0)
            return false;
        size_t n = tok_run(p);
        if (p[n] != '.')
            return false;
        p += n + 1;
    }
    return true;
}

/* Token prefixes; a match needs 16 or more token characters after the prefix, so ordinary
 * words ("sk-", "hf_home") do not trip it. sk- also covers sk-ant- and sk-proj-. */
static const struct {
    const char *prefix;
    const char *what;
} SHAPES[] = {
    {"ghp_", "a GitHub token"},   {"gho_", "a GitHub token"},   {"github_pat_", "a GitHub token"},
    {"xoxa-", "a Slack token"},   {"xoxb-", "a Slack token"},   {"xoxp-", "a Slack token"},
    {"sk-", "an API secret key"}, {"glpat-", "a GitLab token"}, {"hf_", "a Hugging Face token"},
    {"npm_", "an npm token"},
};

static const char *shape_at(const char *p)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(SHAPES); i++) {
        size_t n = strlen(SHAPES[i].prefix);
        if (strncmp(p, SHAPES[i].prefix, n) == 0 && tok_run(p + n) >= 16)
            return SHAPES[i].what;
    }
    if (aws_at(p))
        return "an AWS access key id";
    if (jwt_at(p))
        return "a JWT";
    return NULL;
}

const char *gh_config__secret_shape(const char *s)
{
    if (strstr(s, "-----BEGIN"))
        return "a PEM key or certificate";
    for (const char *p = s; *p; p++) {
        /* a token starts at the beginning or after a non-alphanumeric byte ("Bearer ghp_...") */
        if (p != s && isalnum((unsigned char)p[-1]))
            continue;
        const char *what = shape_at(p);
        if (what)
            return what;
    }
    return NULL;
}

const char *gh_config__check_arg(const char *s)
{
    static _Thread_local char why[200];
    const char *what = gh_config__secret_shape(s);
    if (!what)
        return NULL;
    snprintf(why, sizeof(why),
             "argument looks like %s: command lines are visible to every local user; pass it "
             "in env as env:VARIABLE or file:/absolute/path",
             what);
    return why;
}

const char *gh_config__ref_parse(const char *v, enum gh_config_env_kind *kind, const char **target)
{
    if (strncmp(v, "env:", 4) == 0) {
        *kind = GH_CONFIG_ENV_FROM_ENV;
        *target = v + 4;
        return gh_config__check_env_name(v + 4) ? "env: must name a variable of the gateway's "
                                                  "environment ([A-Za-z_][A-Za-z0-9_]*)"
                                                : NULL;
    }
    if (strncmp(v, "file:", 5) == 0) {
        *kind = GH_CONFIG_ENV_FROM_FILE;
        *target = v + 5;
        return v[5] == '/' ? NULL : "file: needs an absolute path (file:/run/secrets/name)";
    }
    *kind = GH_CONFIG_ENV_LITERAL;
    *target = v;
    return NULL;
}

/* Parses one env value: a reference, or a literal that must not look like a secret. */
static const char *env_value_parse(const char *name, const char *v, enum gh_config_env_kind *kind,
                                   const char **target)
{
    static _Thread_local char why[200]; /* names the shape; valid until the next call */
    const char *what = gh_config__ref_parse(v, kind, target);
    if (*kind != GH_CONFIG_ENV_LITERAL)
        return what;
    if (v[0] != '\0' && name_is_secret(name))
        return "the variable name says it holds a secret: give the value as env:VARIABLE (from "
               "the gateway's environment) or file:/absolute/path, never inline";
    what = gh_config__secret_shape(v);
    if (!what)
        return NULL;
    snprintf(why, sizeof(why),
             "value looks like %s: give it as env:VARIABLE (from the gateway's environment) or "
             "file:/absolute/path, never inline",
             what);
    return why;
}

enum gh_rc gh_config_upstream_add_env(struct gh_config_upstream *u, const char *name,
                                      const char *value, const char **why)
{
    enum gh_config_env_kind kind;
    const char *target, *w = gh_config__check_env_name(name);
    size_t i = 0;
    if (!w)
        w = env_value_parse(name, value, &kind, &target);
    if (!w && u->n_env >= CFG_MAX_MAP_KEYS)
        w = "too many environment variables (max 256)";
    if (w) {
        if (why)
            *why = w;
        return GH_E_PARSE;
    }
    while (i < u->n_env && strcmp(u->env[i].name, name) != 0)
        i++;
    if (i == u->n_env) {
        u->env = gh_xrealloc(u->env, (u->n_env + 1) * sizeof(*u->env));
        u->env[u->n_env++] = (struct gh_config_env){.name = gh_xstrdup(name)};
    }
    gh_free(&u->env[i].value);
    u->env[i].kind = kind;
    u->env[i].value = gh_xstrdup(target);
    return GH_OK;
}

const char *gh_config__check_env_entry(const struct gh_config_env *e)
{
    enum gh_config_env_kind kind;
    const char *target, *why;
    char *text;
    if (!e->name || !e->value)
        return "entry needs a name and a value";
    why = gh_config__check_env_name(e->name);
    if (why)
        return why;
    /* re-parse from the written form so code-built entries get exactly the loader's rules */
    text = gh_xmalloc(strlen(e->value) + 6);
    sprintf(text, "%s%s",
            e->kind == GH_CONFIG_ENV_FROM_ENV    ? "env:"
            : e->kind == GH_CONFIG_ENV_FROM_FILE ? "file:"
                                                 : "",
            e->value);
    why = env_value_parse(e->name, text, &kind, &target);
    if (!why && kind != e->kind)
        why = "a literal value must not start with env: or file:";
    free(text);
    return why;
}

/* ---- building and releasing ---- */

char **gh_config__argv_new(const char *command, const char *const *args, size_t n)
{
    char **argv = gh_xcalloc(n + 2, sizeof(*argv));
    argv[0] = gh_xstrdup(command);
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = gh_xstrdup(args[i]);
    return argv;
}

void gh_config__upstream_release(struct gh_config_upstream *u)
{
    gh_free(&u->name);
    gh_free(&u->path);
    gh_config_url_release(&u->url);
    gh_free(&u->command);
    for (size_t i = 0; u->argv && u->argv[i]; i++)
        gh_free(&u->argv[i]);
    gh_free(&u->argv);
    gh_free(&u->cwd);
    for (size_t i = 0; i < u->n_env; i++) {
        gh_free(&u->env[i].name);
        gh_free(&u->env[i].value);
    }
    gh_free(&u->env);
    u->n_env = 0;
}

void gh_config__stdio_defaults(struct gh_config *c)
{
    for (size_t i = 0; i < c->n_upstreams; i++) {
        struct gh_config_upstream *u = &c->upstreams[i];
        if (u->kind != GH_CONFIG_UPSTREAM_STDIO)
            continue;
        if (u->message_bytes == 0)
            u->message_bytes = c->limits.body_bytes;
        if (u->stop_grace_ms == 0)
            u->stop_grace_ms = GH_CONFIG_DEFAULT_STOP_GRACE_MS;
    }
}

static const char *check_args(const char *command, const char *const *argv, size_t *n)
{
    const char *why = gh_config__check_command(command);
    *n = 0;
    for (; !why && argv && argv[*n]; (*n)++) {
        if (*n >= CFG_MAX_SEQ)
            return "too many arguments";
        why = gh_config__check_arg(argv[*n]);
    }
    return why;
}

enum gh_rc gh_config_add_stdio_upstream(struct gh_config *c, const char *name, const char *command,
                                        const char *const *argv, const char *path)
{
    struct gh_config_upstream *u;
    size_t n;
    if (!name || !command || gh_config__check_name(name))
        return GH_E_PARSE;
    if (path && gh_config__check_gw_path(path))
        return GH_E_PARSE;
    if (check_args(command, argv, &n))
        return GH_E_PARSE;
    if (c->n_upstreams >= GH_CONFIG_MAX_UPSTREAMS)
        return GH_E_LIMIT;
    c->upstreams = gh_xrealloc(c->upstreams, (c->n_upstreams + 1) * sizeof(*c->upstreams));
    u = &c->upstreams[c->n_upstreams++];
    *u = (struct gh_config_upstream){
        .name = gh_xstrdup(name),
        .kind = GH_CONFIG_UPSTREAM_STDIO,
        .path = path ? gh_xstrdup(path) : NULL,
        .path_default = !path,
        .command = gh_xstrdup(command),
        .argv = gh_config__argv_new(command, argv, n),
        .mode = GH_CONFIG_STDIO_PER_SESSION,
        .message_bytes = c->limits.body_bytes,
        .stop_grace_ms = GH_CONFIG_DEFAULT_STOP_GRACE_MS,
    };
    gh_config_upstream_add_env(u, "PATH", DEFAULT_PATH, NULL);
    gh_config__default_paths(c);
    return GH_OK;
}
