/*
 * cli/policy.c owns the policy subcommands: `gatehouse policy explain` (a decision, its rule and
 * why every other rule did not match, for given claims and a call), `gatehouse tools approve`
 * (approve pending tool definitions in the pin store) and the policy part of check-config
 * (compile errors, rules that can never match, allow rules shadowed by deny rules).
 */
#include "core/core.h"
#include "cli/cli.h"
#include "json/json.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIMS_MAX (256u << 10)

static void print_finding(void *arg, const struct gh_policy_finding *f)
{
    const char *file = arg;
    printf("warning: %s:%d:%d: %s\n", file, f->line, f->column, f->msg);
}

int gh_cli_policy_check(const struct gh_config *cfg, const char *file)
{
    struct gh_policy *p = NULL;
    struct gh_config_error err = {0};
    if (gh_policy_compile(cfg, cfg->policy, &p, &err) != GH_OK) {
        char msg[1024];
        gh_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "gatehouse: %s\n", msg);
        return 2;
    }
    if (gh_policy_enabled(p))
        printf("policy %s\n", gh_policy_digest(p));
    gh_policy_lint(p, print_finding, (void *)file);
    gh_policy_unref(p);
    return 0;
}

/* ---- explain ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = gh_xmalloc(CLAIMS_MAX + 1);
    *len = fread(buf, 1, CLAIMS_MAX + 1, f);
    fclose(f);
    if (*len > CLAIMS_MAX) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A JWT's payload, decoded without checking the signature (explain is an offline tool). */
static char *token_payload(const char *tok, size_t *len)
{
    const char *a = strchr(tok, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    if (!b)
        return NULL;
    size_t n = (size_t)(b - a - 1);
    char *out = gh_xmalloc(n + 4);
    if (gh_b64url_decode(a + 1, n, (unsigned char *)out, n + 4, len) != GH_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static uint32_t str_list(struct gh_arena *ar, const struct gh_json_doc *d, int32_t v,
                         struct gh_slice **out)
{
    *out = NULL;
    if (v < 0)
        return 0;
    struct gh_slice *l = gh_arena_calloc(ar, ((size_t)d->toks[v].size + 1) * 64 * sizeof(*l));
    uint32_t n = 0;
    if (d->toks[v].type == GH_JSON_STRING) { /* "scope": "a b c" */
        struct gh_slice s = {0};
        if (gh_json_str(d, ar, (uint32_t)v, &s) != GH_OK)
            return 0;
        for (size_t i = 0; i < s.len && n < 64;) {
            size_t j = i;
            while (j < s.len && s.ptr[j] != ' ')
                j++;
            if (j > i)
                l[n++] = gh_slice(s.ptr + i, j - i);
            i = j + 1;
        }
    } else if (d->toks[v].type == GH_JSON_ARRAY) {
        for (uint32_t e = (uint32_t)v + 1; e < d->toks[v].end; e = d->toks[e].end)
            if (d->toks[e].type == GH_JSON_STRING && gh_json_str(d, ar, e, &l[n]) == GH_OK)
                n++;
    }
    *out = l;
    return n;
}

static struct gh_slice str_claim(struct gh_arena *ar, const struct gh_json_doc *d, const char *k)
{
    struct gh_slice s = {0};
    int32_t v = gh_json_obj_get(d, 0, k, strlen(k));
    if (v >= 0 && d->toks[v].type == GH_JSON_STRING)
        gh_json_str(d, ar, (uint32_t)v, &s);
    return s;
}

static bool subject_from_claims(struct gh_arena *ar, const char *json, size_t len,
                                const struct gh_config *cfg, struct gh_policy_subject *s)
{
    struct gh_json_doc *d = gh_arena_calloc(ar, sizeof(*d));
    if (gh_json_parse(ar, json, len, NULL, d, NULL) != GH_OK || d->toks[0].type != GH_JSON_OBJECT)
        return false;
    const char *groups = "groups", *roles = "roles";
    if (cfg->auth && cfg->auth->n_issuers) {
        if (cfg->auth->issuers[0].claims.groups)
            groups = cfg->auth->issuers[0].claims.groups;
        if (cfg->auth->issuers[0].claims.roles)
            roles = cfg->auth->issuers[0].claims.roles;
    }
    memset(s, 0, sizeof(*s));
    s->key = "explain";
    s->issuer = str_claim(ar, d, "iss");
    s->subject = str_claim(ar, d, "sub");
    s->client_id = str_claim(ar, d, "client_id");
    if (!s->client_id.len)
        s->client_id = str_claim(ar, d, "azp");
    struct gh_slice *l = NULL;
    s->ngroups = str_list(ar, d, gh_json_obj_get(d, 0, groups, strlen(groups)), &l);
    s->groups = l;
    s->nroles = str_list(ar, d, gh_json_obj_get(d, 0, roles, strlen(roles)), &l);
    s->roles = l;
    int32_t sc = gh_json_obj_get(d, 0, "scope", 5);
    s->nscopes = str_list(ar, d, sc >= 0 ? sc : gh_json_obj_get(d, 0, "scp", 3), &l);
    s->scopes = l;
    struct gh_slice *act = gh_arena_calloc(ar, 8 * sizeof(*act));
    int32_t a = gh_json_obj_get(d, 0, "act", 3);
    while (a >= 0 && d->toks[a].type == GH_JSON_OBJECT && s->nact < 8) {
        int32_t sub = gh_json_obj_get(d, (uint32_t)a, "sub", 3);
        if (sub < 0 || gh_json_str(d, ar, (uint32_t)sub, &act[s->nact]) != GH_OK)
            break;
        s->nact++;
        a = gh_json_obj_get(d, (uint32_t)a, "act", 3);
    }
    s->act = act;
    s->claims_json = gh_slice(json, len);
    return true;
}

static void print_trace(void *arg, const struct gh_policy_trace *t)
{
    (void)arg;
    printf("  %-5s %-24s %s\n", t->effect, t->rule, t->matched ? "MATCHED" : t->why);
}

struct explain_opts {
    const char *config, *claims, *token, *method, *upstream, *name, *arguments;
};

static int explain_parse(int argc, char **argv, struct explain_opts *o)
{
    const struct {
        const char *flag;
        const char **slot;
    } flags[] = {
        {"--config", &o->config},       {"--claims", &o->claims},     {"--token", &o->token},
        {"--method", &o->method},       {"--upstream", &o->upstream}, {"--name", &o->name},
        {"--arguments", &o->arguments},
    };
    for (int i = 3; i < argc; i += 2) {
        const char **slot = NULL;
        for (size_t f = 0; f < GH_ARRAY_LEN(flags) && !slot; f++)
            if (strcmp(argv[i], flags[f].flag) == 0)
                slot = flags[f].slot;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "gatehouse: policy explain: unknown or incomplete flag %s\n", argv[i]);
            return 2;
        }
        *slot = argv[i + 1];
    }
    if (!o->config || (!o->claims && !o->token) || !o->method) {
        fputs("usage: gatehouse policy explain --config FILE (--claims FILE.json | --token JWT)\n"
              "         --method METHOD [--upstream NAME] [--name TOOL|PROMPT|URI]\n"
              "         [--arguments JSON]\n",
              stderr);
        return 2;
    }
    return 0;
}

static enum gh_policy_kind kind_of(const char *m)
{
    if (strcmp(m, "tools/call") == 0)
        return GH_POLICY_K_TOOL;
    if (strcmp(m, "prompts/get") == 0)
        return GH_POLICY_K_PROMPT;
    if (strncmp(m, "resources/", 10) == 0 && !strstr(m, "list"))
        return GH_POLICY_K_RESOURCE;
    return GH_POLICY_K_METHOD;
}

static int explain_run(const struct explain_opts *o, const struct gh_config *cfg,
                       const struct gh_policy *p, struct gh_arena *ar)
{
    size_t len = 0;
    char *claims = o->claims ? read_all(o->claims, &len) : token_payload(o->token, &len);
    struct gh_policy_subject s;
    if (!claims || !subject_from_claims(ar, claims, len, cfg, &s)) {
        fprintf(stderr, "gatehouse: policy explain: the claims are not a JSON object\n");
        free(claims);
        return 2;
    }
    struct gh_policy_action a = {.method = gh_slice_cstr(o->method),
                                 .upstream = gh_slice_cstr(o->upstream ? o->upstream : ""),
                                 .kind = kind_of(o->method),
                                 .name = gh_slice_cstr(o->name ? o->name : ""),
                                 .args_tok = -1};
    struct gh_json_doc args;
    if (o->arguments) {
        if (gh_json_parse(ar, o->arguments, strlen(o->arguments), NULL, &args, NULL) != GH_OK) {
            fprintf(stderr, "gatehouse: policy explain: --arguments is not JSON\n");
            free(claims);
            return 2;
        }
        a.args = &args;
        a.args_tok = 0;
    }
    printf("policy %s\nrules, in order:\n", gh_policy_digest(p));
    struct gh_policy_decision d;
    gh_policy_explain(p, &s, &a, &d, print_trace, NULL);
    printf("decision: %s (%s)%s%s%s%s\n", d.verdict == GH_ALLOW ? "ALLOW" : "DENY",
           gh_policy_reason_str(d.reason), d.rule[0] ? " by rule " : "", d.rule,
           d.argument ? ", argument " : "", d.argument ? d.argument : "");
    if (a.kind == GH_POLICY_K_TOOL && gh_policy_pinning(p))
        printf("note: pinning is on; the call also needs an approved definition of the tool\n");
    if (gh_policy_mode(p) != GH_POLICY_MODE_LOCAL)
        printf("note: decision mode asks the PDP too; this shows the local rules only\n");
    free(claims);
    return d.verdict == GH_ALLOW ? 0 : 1;
}

int gh_cli_policy(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "explain") != 0) {
        fputs("usage: gatehouse policy explain ...\n", stderr);
        return 2;
    }
    struct explain_opts o = {0};
    int rc = explain_parse(argc, argv, &o);
    if (rc)
        return rc;
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    struct gh_policy *p = NULL;
    char msg[1024];
    if (gh_config_load_file(o.config, &cfg, &err) != GH_OK ||
        gh_policy_compile(cfg, cfg->policy, &p, &err) != GH_OK) {
        gh_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "gatehouse: %s\n", msg);
        gh_config_unref(cfg);
        return 2;
    }
    struct gh_arena *ar = gh_arena_new(8192);
    rc = explain_run(&o, cfg, p, ar);
    gh_arena_free(ar);
    gh_policy_unref(p);
    gh_config_unref(cfg);
    return rc;
}

/* ---- tools approve ---- */

int gh_cli_tools(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "approve") != 0) {
        fputs("usage: gatehouse tools approve (--store FILE | --config FILE) [UPSTREAM.TOOL...]\n",
              stderr);
        return 2;
    }
    const char *store = NULL, *config = NULL;
    const char **names = gh_xcalloc((size_t)argc, sizeof(*names));
    size_t n = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            store = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else
            names[n++] = argv[i];
    }
    int rc = 2;
    struct gh_config *cfg = NULL;
    struct gh_policy *p = NULL;
    struct gh_config_error err = {0};
    if (!store && config) {
        if (gh_config_load_file(config, &cfg, &err) != GH_OK ||
            gh_policy_compile(cfg, cfg->policy, &p, &err) != GH_OK) {
            char msg[1024];
            gh_config_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "gatehouse: %s\n", msg);
            goto out;
        }
        store = gh_policy_pin_store(p);
    }
    if (!store) {
        fputs("gatehouse: tools approve needs --store FILE, or --config FILE with pinning on\n",
              stderr);
        goto out;
    }
    rc = gh_policy_pin_approve(store, n ? names : NULL, n, stdout) == GH_OK ? 0 : 1;
out:
    gh_policy_unref(p);
    gh_config_unref(cfg);
    free(names);
    return rc;
}
