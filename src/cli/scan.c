/*
 * cli/scan.c owns `gatehouse scan [--format text|json|sarif] [--fail-on secret|risk|none]
 * [--output FILE] [--defaults] [PATH...]`: hard-coded secrets and risky settings in MCP client
 * config files (portable/ does the work). Without PATHs it scans the current user's default
 * client locations. Exit 0 nothing at or above --fail-on, 1 findings, 2 usage or I/O error (an
 * unreadable or unparseable file, when nothing was found).
 */
#include "core/core.h"
#include "cli/cli.h"
#include "portable/portable.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REPORT_MAX (64u << 20)

enum fail_on {
    FAIL_ON_NONE = 0,
    FAIL_ON_SECRET = 1,
    FAIL_ON_RISK = 2, /* secrets or risks */
};

struct scan_opts {
    const char *format; /* text, json, sarif */
    const char *output; /* NULL: stdout */
    enum fail_on fail_on;
    bool defaults; /* also the default locations when PATHs are given */
    char **paths;
    int npaths;
};

static void usage(FILE *f)
{
    fputs("usage: gatehouse scan [--format text|json|sarif] [--fail-on secret|risk|none]\n"
          "                      [--output FILE] [--defaults] [PATH...]\n"
          "  hard-coded secrets and risky settings in MCP client config files; a PATH is a\n"
          "  file, or a directory searched for client configs (node_modules and .git skipped);\n"
          "  without PATHs (or with --defaults) each client's default locations under $HOME.\n"
          "  --fail-on: what makes the exit status 1 (default risk: secrets and risks).\n"
          "  Exit 0 nothing found, 1 findings, 2 usage or I/O error. Values are never printed\n"
          "  in full.\n",
          f);
}

static bool parse_fail_on(const char *s, enum fail_on *out)
{
    if (strcmp(s, "secret") == 0)
        *out = FAIL_ON_SECRET;
    else if (strcmp(s, "risk") == 0)
        *out = FAIL_ON_RISK;
    else if (strcmp(s, "none") == 0)
        *out = FAIL_ON_NONE;
    else
        return false;
    return true;
}

/* Value of "--name VALUE" or "--name=VALUE" at argv[*i]; NULL when this is another option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(int argc, char **argv, struct scan_opts *o)
{
    int i = 2;
    for (; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--format", &missing))) {
            if (strcmp(v, "text") && strcmp(v, "json") && strcmp(v, "sarif")) {
                fprintf(stderr, "gatehouse scan: --format: want text, json or sarif\n");
                return 2;
            }
            o->format = v;
        } else if ((v = opt_value(argc, argv, &i, "--fail-on", &missing))) {
            if (!parse_fail_on(v, &o->fail_on)) {
                fprintf(stderr, "gatehouse scan: --fail-on: want secret, risk or none\n");
                return 2;
            }
        } else if ((v = opt_value(argc, argv, &i, "--output", &missing))) {
            o->output = v;
        } else if (missing) {
            fprintf(stderr, "gatehouse scan: %s needs a value\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--defaults") == 0) {
            o->defaults = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "gatehouse scan: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    o->paths = argv + i;
    o->npaths = argc - i;
    return -1;
}

/* Default locations: $HOME, and $CODEX_HOME/config.toml when set. */
static bool scan_home(struct gh_scan_report *r)
{
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        fprintf(stderr, "gatehouse scan: HOME is not set; give PATHs to scan\n");
        return false;
    }
    gh_scan_defaults(r, home);
    const char *codex = getenv("CODEX_HOME");
    if (codex && codex[0]) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/config.toml", codex);
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            gh_scan_file(r, path);
        }
    }
    return true;
}

static int emit(const struct scan_opts *o, const struct gh_scan_report *r)
{
    struct gh_buf b;
    gh_buf_init(&b, REPORT_MAX);
    enum gh_rc rc = strcmp(o->format, "json") == 0    ? gh_scan_write_json(r, &b)
                    : strcmp(o->format, "sarif") == 0 ? gh_scan_write_sarif(r, &b)
                                                      : gh_scan_write_text(r, &b);
    int status = 0;
    FILE *f = stdout;
    if (rc != GH_OK) {
        fprintf(stderr, "gatehouse scan: report larger than %u MiB\n", REPORT_MAX >> 20);
        status = 2;
    } else if (o->output && !(f = fopen(o->output, "w"))) {
        fprintf(stderr, "gatehouse scan: --output %s: %s\n", o->output, strerror(errno));
        status = 2;
    } else if (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0) {
        fprintf(stderr, "gatehouse scan: cannot write the report: %s\n", strerror(errno));
        status = 2;
    }
    if (f && f != stdout && fclose(f) != 0 && status == 0)
        status = 2;
    gh_buf_release(&b);
    return status;
}

static int exit_status(const struct scan_opts *o, const struct gh_scan_report *r)
{
    bool secrets = false, risks = false;
    for (size_t i = 0; i < r->n_findings; i++) {
        if (r->findings[i].kind == GH_SCAN_SECRET)
            secrets = true;
        else
            risks = true;
    }
    if ((o->fail_on >= FAIL_ON_SECRET && secrets) || (o->fail_on == FAIL_ON_RISK && risks))
        return 1;
    return r->n_errors ? 2 : 0;
}

int gh_cli_scan(int argc, char **argv)
{
    struct scan_opts o = {.format = "text", .fail_on = FAIL_ON_RISK};
    int st = parse_args(argc, argv, &o);
    if (st >= 0)
        return st;
    struct gh_scan_report *r = gh_scan_report_new();
    if ((o.npaths == 0 || o.defaults) && !scan_home(r)) {
        gh_scan_report_free(r);
        return 2;
    }
    for (int i = 0; i < o.npaths; i++)
        gh_scan_path(r, o.paths[i]);
    gh_scan_report_sort(r);
    int status = emit(&o, r);
    if (status == 0)
        status = exit_status(&o, r);
    /* Human output goes to a terminal: say where the problems are on stderr too when the
     * report went to a file. */
    if (o.output && strcmp(o.format, "text") != 0 && r->n_errors)
        fprintf(stderr, "gatehouse scan: %zu file%s could not be scanned (see the report)\n",
                r->n_errors, r->n_errors == 1 ? "" : "s");
    gh_scan_report_free(r);
    return status;
}
