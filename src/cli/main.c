/*
 * cli/main.c owns the command line: `gatehouse serve | dev | check-config | version`, flag
 * parsing, and the safety rules for running without authentication.
 */
#include "core/core.h"
#include "cli/cli.h"
#include "propagation/propagation.h"

#include <stdio.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  gatehouse dev [--listen ADDR] [--workers N] [--log-level L] [--insecure-no-auth]\n"
          "      serve the built-in demo MCP server through the gateway on loopback, with an\n"
          "      ephemeral dev issuer whose token is printed (POST /dev/token mints another)\n"
          "  gatehouse serve [--config FILE] [--listen ADDR] [--upstream URL]\n"
          "                  [--upstream-stdio 'COMMAND ARGS...'] [--workers N] [--log-level L]\n"
          "                  [--insecure-no-auth]\n"
          "      run the gateway (flags override the file)\n"
          "  gatehouse check-config FILE\n"
          "      validate a configuration file without starting (policy: compile errors, rules\n"
          "      that can never match, allow rules shadowed by deny rules)\n"
          "  gatehouse policy explain --config FILE (--claims FILE.json | --token JWT)\n"
          "                           --method M [--upstream U] [--name N] [--arguments JSON]\n"
          "      the decision for one call, its rule, and why each other rule did not match\n"
          "  gatehouse tools approve (--store FILE | --config FILE) [UPSTREAM.TOOL...]\n"
          "      approve pending tool definitions (all, or those named) in the pin store\n"
          "  gatehouse audit verify [--key PUB] FILE...\n"
          "      check an audit trail (rotated files first): hash chain, seq, signed checkpoints\n"
          "  gatehouse connect URL [--client-id ID] [--device] [--scope S] [--no-browser]\n"
          "      stdio-to-Streamable-HTTP bridge for stdio-only MCP clients, with OAuth\n"
          "  gatehouse scan [--format text|json|sarif] [--fail-on secret|risk|none] [PATH...]\n"
          "      hard-coded secrets and risky settings in MCP client configs (default: $HOME)\n"
          "  gatehouse export --client NAME (--config FILE | --catalog MCP.JSON) [--merge FILE]\n"
          "      a client's MCP config from the catalog, pointing at the gateway, no secrets\n"
          "  gatehouse import --client NAME FILE [--catalog OUT]\n"
          "      a client's MCP config into the catalog (mcp.json); secrets become references\n"
          "  gatehouse migrate FILE [--client NAME] [--dry-run] [--via-gateway URL]\n"
          "      rewrite a client file so no literal secret stays in it (backup first)\n"
          "  gatehouse version\n",
          f);
}

static int config_fail(const struct gh_config_error *e)
{
    char msg[1024];
    gh_config_error_format(e, msg, sizeof(msg));
    fprintf(stderr, "gatehouse: %s\n", msg);
    return 2;
}

static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
}

static int check_config(int argc, char **argv)
{
    if (argc != 3) {
        usage(stderr);
        return 2;
    }
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    if (gh_config_load_file(argv[2], &cfg, &err) != GH_OK)
        return config_fail(&err);
    int rc = gh_cli_policy_check(cfg, argv[2]);
    struct gh_prop *prop = NULL;
    if (rc == 0 && gh_prop_compile(cfg, cfg->propagation, &prop, &err) != GH_OK)
        rc = config_fail(&err);
    if (rc == 0)
        gh_prop_warnings(prop, print_line, NULL);
    gh_prop_free(prop);
    if (rc == 0)
        printf("%s: ok (%zu listener%s, %zu upstream%s)\n", argv[2], cfg->n_listeners,
               cfg->n_listeners == 1 ? "" : "s", cfg->n_upstreams,
               cfg->n_upstreams == 1 ? "" : "s");
    gh_config_unref(cfg);
    return rc;
}

struct flags {
    const char *config, *workers, *log_level;
    const char *listen[8];
    size_t nlisten;
    const char *upstream[8];
    size_t nupstream;
    const char *stdio[8];
    size_t nstdio;
    bool insecure;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--insecure-no-auth") == 0) {
            f->insecure = true;
        } else if (strcmp(a, "--config") == 0 && has_val) {
            f->config = argv[++i];
        } else if (strcmp(a, "--workers") == 0 && has_val) {
            f->workers = argv[++i];
        } else if (strcmp(a, "--log-level") == 0 && has_val) {
            f->log_level = argv[++i];
        } else if (strcmp(a, "--listen") == 0 && has_val && f->nlisten < 8) {
            f->listen[f->nlisten++] = argv[++i];
        } else if (strcmp(a, "--upstream") == 0 && has_val && f->nupstream < 8) {
            f->upstream[f->nupstream++] = argv[++i];
        } else if (strcmp(a, "--upstream-stdio") == 0 && has_val && f->nstdio < 8) {
            f->stdio[f->nstdio++] = argv[++i];
        } else {
            fprintf(stderr, "gatehouse: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* "--upstream-stdio 'cmd arg...'": split on spaces (no shell); PATH as for any stdio upstream. */
static int add_stdio(struct gh_config *cfg, const char *spec, size_t i)
{
    char *copy = gh_xstrdup(spec), *save = NULL;
    char *argv[64];
    size_t n = 0;
    for (char *t = strtok_r(copy, " ", &save); t && n < GH_ARRAY_LEN(argv) - 1;
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    argv[n] = NULL;
    char name[32];
    snprintf(name, sizeof(name), i == 0 ? "stdio" : "stdio%zu", i + 1);
    int rc = 0;
    if (n == 0 || gh_config_add_stdio_upstream(cfg, name, argv[0], (const char *const *)argv + 1,
                                               NULL) != GH_OK) {
        fprintf(stderr, "gatehouse: --upstream-stdio: invalid command\n");
        rc = 2;
    }
    free(copy);
    return rc;
}

static int apply_flags(struct gh_config *cfg, const struct flags *f)
{
    for (size_t i = 0; i < f->nlisten; i++) {
        if (gh_config_add_listener(cfg, f->listen[i]) != GH_OK) {
            fprintf(stderr, "gatehouse: --listen: invalid address (want IP:PORT or [IPv6]:PORT)\n");
            return 2;
        }
    }
    for (size_t i = 0; i < f->nupstream; i++) {
        char name[32];
        snprintf(name, sizeof(name), i == 0 ? "upstream" : "upstream%zu", i + 1);
        if (gh_config_add_upstream(cfg, name, f->upstream[i], NULL) != GH_OK) {
            fprintf(stderr, "gatehouse: --upstream: invalid URL (want http(s)://host:port/path)\n");
            return 2;
        }
    }
    for (size_t i = 0; i < f->nstdio; i++) {
        if (add_stdio(cfg, f->stdio[i], i) != 0)
            return 2;
    }
    if (f->workers) {
        char *end;
        long n = strtol(f->workers, &end, 10);
        if (*end || n < 0 || n > GH_CONFIG_MAX_WORKERS) {
            fprintf(stderr, "gatehouse: --workers: want 0..%d\n", GH_CONFIG_MAX_WORKERS);
            return 2;
        }
        cfg->gateway.workers = (uint64_t)n;
    }
    if (f->log_level && gh_log_level_parse(f->log_level, &cfg->gateway.log_level) != GH_OK) {
        fprintf(stderr, "gatehouse: --log-level: want error, warn, info or debug\n");
        return 2;
    }
    if (f->insecure)
        cfg->gateway.insecure_no_auth = true;
    return 0;
}

static bool listener_is_loopback(const struct gh_config_listener *l)
{
    const char *h = l->addr.host;
    return strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strncmp(h, "127.", 4) == 0;
}

/* With auth: every request is authenticated. Without: serving must be asked for, and only locally.
 */
static int check_auth_mode(const struct gh_config *cfg, bool dev_issuer)
{
    if (cfg->auth) { /* fail closed: never accept a setting this build does not enforce */
        return 0;
    }
    if (!cfg->gateway.insecure_no_auth) {
        fputs("gatehouse: no auth section: configure an issuer (docs/identity.md), or, to serve "
              "without authentication on loopback, pass --insecure-no-auth (or "
              "gateway.insecure_no_auth: true)\n",
              stderr);
        return 2;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (!listener_is_loopback(&cfg->listeners[i])) {
            fprintf(stderr,
                    "gatehouse: refusing to serve without authentication on the "
                    "non-loopback listener %s\n",
                    cfg->listeners[i].addr.host);
            return 2;
        }
    }
    if (!dev_issuer)
        gh_log_always(GH_LOG_WARN, "cli",
                      "INSECURE: serving WITHOUT authentication (loopback only); any local "
                      "process can call every upstream tool");
    return 0;
}

static int serve(int argc, char **argv, bool dev)
{
    struct flags f = {0};
    int rc = parse_flags(argc, argv, &f);
    if (rc)
        return rc;
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    if (f.config) {
        if (gh_config_load_file(f.config, &cfg, &err) != GH_OK)
            return config_fail(&err);
    } else {
        cfg = gh_config_new_default();
    }
    /* dev authenticates with its own ephemeral issuer unless told otherwise (or given auth:) */
    bool dev_issuer = dev && !cfg->auth && !f.insecure;
    if (dev && !cfg->auth)
        f.insecure = true; /* dev is loopback-only by construction; the check below enforces it */
    rc = apply_flags(cfg, &f);
    if (rc == 0 && gh_config_validate(cfg, &err) != GH_OK)
        rc = config_fail(&err);
    if (rc == 0) {
        gh_log_set_level(cfg->gateway.log_level);
        rc = check_auth_mode(cfg, dev_issuer);
    }
    if (rc == 0 && !dev && cfg->n_upstreams == 0) {
        fputs("gatehouse: no upstream configured (use --upstream URL, --upstream-stdio CMD or "
              "upstreams: in the config)\n",
              stderr);
        rc = 2;
    }
    if (rc == 0) {
        struct gh_cli_run_opts opts = {.cfg = cfg, .dev = dev, .dev_issuer = dev_issuer};
        rc = gh_cli_run(&opts);
    }
    gh_config_unref(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return serve(argc, argv, false);
    if (strcmp(cmd, "dev") == 0)
        return serve(argc, argv, true);
    if (strcmp(cmd, "check-config") == 0)
        return check_config(argc, argv);
    if (strcmp(cmd, "policy") == 0)
        return gh_cli_policy(argc, argv);
    if (strcmp(cmd, "tools") == 0)
        return gh_cli_tools(argc, argv);
    if (strcmp(cmd, "audit") == 0)
        return gh_cli_audit(argc, argv);
    if (strcmp(cmd, "scan") == 0)
        return gh_cli_scan(argc, argv);
    if (strcmp(cmd, "export") == 0)
        return gh_cli_export(argc, argv);
    if (strcmp(cmd, "import") == 0)
        return gh_cli_import(argc, argv);
    if (strcmp(cmd, "migrate") == 0)
        return gh_cli_migrate(argc, argv);
    if (strcmp(cmd, "connect") == 0)
        return gh_cli_connect(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gatehouse %s\n", GH_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "gatehouse: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
