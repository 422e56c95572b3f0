/*
 * cli/portable.c owns `gatehouse export`, `gatehouse import` and `gatehouse migrate`: flags,
 * reading and writing the files (atomically, with a backup before any in-place change), and
 * printing the report — notes, and every secret found, redacted — on stderr. Exit status: 0 done,
 * 1 bad input or a file that cannot be read or written (or, with migrate --strict, a secret
 * that could not be migrated), 2 usage. The work itself is in src/portable/ (docs/portability.md).
 */
#include "core/core.h"
#include "cli/cli.h"
#include "portable/portable.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct pflags {
    const char *client, *config, *catalog, *gateway_url, *out, *merge, *gatehouse, *via, *file;
    bool connect, dry_run, strict;
};

static void usage(const char *cmd)
{
    if (strcmp(cmd, "export") == 0)
        fputs("usage: gatehouse export --client NAME (--config FILE [--gateway-url URL] | "
              "--catalog MCP.JSON)\n"
              "                        [--out FILE | --merge FILE] [--connect] [--gatehouse CMD]\n",
              stderr);
    else if (strcmp(cmd, "import") == 0)
        fputs("usage: gatehouse import --client NAME FILE [--catalog OUT.json]\n", stderr);
    else
        fputs("usage: gatehouse migrate FILE [--client NAME] [--dry-run] [--via-gateway URL]\n"
              "                         [--strict] [--gatehouse CMD]\n",
              stderr);
    fputs("clients: claude-desktop claude-code vscode cursor windsurf zed codex gemini continue "
          "cline mcp.json (import also: registry)\n",
          stderr);
}

/* The value of flag argv[*i] (advancing *i), or NULL when it is missing. */
static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "gatehouse %s: %s needs a value\n", argv[1], argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse(int argc, char **argv, struct pflags *f)
{
    static const struct {
        const char *flag;
        size_t off;
    } vals[] = {
        {"--client", offsetof(struct pflags, client)},
        {"--config", offsetof(struct pflags, config)},
        {"--catalog", offsetof(struct pflags, catalog)},
        {"--gateway-url", offsetof(struct pflags, gateway_url)},
        {"--out", offsetof(struct pflags, out)},
        {"--merge", offsetof(struct pflags, merge)},
        {"--gatehouse", offsetof(struct pflags, gatehouse)},
        {"--via-gateway", offsetof(struct pflags, via)},
    };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        while (k < GH_ARRAY_LEN(vals) && strcmp(a, vals[k].flag) != 0)
            k++;
        if (k < GH_ARRAY_LEN(vals)) {
            const char *v = value(argc, argv, &i);
            if (!v)
                return 2;
            *(const char **)((char *)f + vals[k].off) = v;
        } else if (strcmp(a, "--connect") == 0) {
            f->connect = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            f->dry_run = true;
        } else if (strcmp(a, "--strict") == 0) {
            f->strict = true;
        } else if (a[0] == '-' || f->file) {
            fprintf(stderr, "gatehouse %s: unexpected argument %s\n", argv[1], a);
            usage(argv[1]);
            return 2;
        } else {
            f->file = a;
        }
    }
    return 0;
}

static int client_of(const char *cmd, const char *name, enum gh_portable_client *out)
{
    if (gh_portable_client_parse(name, out) == GH_OK)
        return 0;
    fprintf(stderr, "gatehouse %s: unknown client \"%s\"\n", cmd, name);
    usage(cmd);
    return 2;
}

static void report(const char *cmd, const struct gh_portable_catalog *c)
{
    for (size_t i = 0; i < c->n_findings; i++) {
        const struct gh_portable_finding *f = &c->findings[i];
        fprintf(stderr, "gatehouse %s: %s: %s %s: literal secret %s -> %s%s\n", cmd, f->server,
                f->where, f->key, f->redacted, f->ref,
                f->migrated ? "" : " (NOT migrated: still in the file)");
    }
    for (size_t i = 0; i < c->n_notes; i++)
        fprintf(stderr, "gatehouse %s: note: %s\n", cmd, c->notes[i]);
}

static int fail(const char *cmd, const struct gh_portable_err *e)
{
    fprintf(stderr, "gatehouse %s: %s\n", cmd, e->msg);
    return 1;
}

/* The running binary's absolute path, so an exported entry works without PATH set up. */
static const char *self_path(char *buf, size_t n)
{
    ssize_t r = readlink("/proc/self/exe", buf, n - 1);
    if (r <= 0 || (size_t)r >= n - 1)
        return "gatehouse";
    buf[r] = '\0';
    return buf;
}

static int emit(const char *cmd, const char *path, const struct gh_buf *b, bool backup)
{
    if (!path) {
        fwrite(b->data, 1, b->len, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    struct gh_portable_err e = {{0}};
    char bak[4096];
    if (gh_portable_write_file(path, b->data, b->len, backup, bak, sizeof(bak), &e) != GH_OK)
        return fail(cmd, &e);
    if (bak[0])
        fprintf(stderr, "gatehouse %s: %s written (backup: %s)\n", cmd, path, bak);
    else
        fprintf(stderr, "gatehouse %s: %s written\n", cmd, path);
    return 0;
}

/* ---- export ---- */

static int export_run(const struct pflags *f, enum gh_portable_client client,
                      struct gh_portable_catalog *c)
{
    struct gh_portable_err e = {{0}};
    enum gh_rc rc = f->config ? gh_portable_catalog_from_gateway(c, f->config, f->gateway_url, &e)
                              : gh_portable_import_file(c, GH_PORTABLE_MCP_JSON, f->catalog, &e);
    if (rc)
        return fail("export", &e);
    char self[PATH_MAX];
    struct gh_portable_export_opts o = {.gatehouse = f->gatehouse ? f->gatehouse
                                                                  : self_path(self, sizeof(self)),
                                        .force_connect = f->connect};
    struct gh_buf out;
    gh_buf_init(&out, GH_PORTABLE_MAX_FILE);
    char *old = NULL;
    size_t len = 0;
    int status = 0;
    if (f->merge && access(f->merge, F_OK) == 0) {
        rc = gh_portable_read_file(f->merge, &old, &len, &e);
        if (rc == GH_OK)
            rc = gh_portable_merge(c, client, &o, f->merge, old, len, &out, &e);
    } else {
        rc = gh_portable_export(c, client, &o, &out, &e);
    }
    if (rc)
        status = fail("export", &e);
    else if (old && out.len == len && memcmp(out.data, old, len) == 0)
        fprintf(stderr, "gatehouse export: %s already up to date\n", f->merge);
    else
        status = emit("export", f->merge ? f->merge : f->out, &out, f->merge != NULL);
    report("export", c);
    free(old);
    gh_buf_release(&out);
    return status;
}

int gh_cli_export(int argc, char **argv)
{
    struct pflags f = {0};
    enum gh_portable_client client;
    int rc = parse(argc, argv, &f);
    if (rc)
        return rc;
    if (!f.client || f.file || (!f.config == !f.catalog) || (f.out && f.merge) ||
        (f.gateway_url && !f.config)) {
        usage("export");
        return 2;
    }
    if ((rc = client_of("export", f.client, &client)) != 0)
        return rc;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    rc = export_run(&f, client, c);
    gh_portable_catalog_free(c);
    return rc;
}

/* ---- import ---- */

int gh_cli_import(int argc, char **argv)
{
    struct pflags f = {0};
    enum gh_portable_client client;
    int rc = parse(argc, argv, &f);
    if (rc)
        return rc;
    if (!f.client || !f.file || f.config || f.out || f.merge || f.via) {
        usage("import");
        return 2;
    }
    if ((rc = client_of("import", f.client, &client)) != 0)
        return rc;
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_portable_err e = {{0}};
    struct gh_buf out;
    gh_buf_init(&out, GH_PORTABLE_MAX_FILE);
    if (gh_portable_import_file(c, client, f.file, &e) != GH_OK ||
        gh_portable_export(c, GH_PORTABLE_MCP_JSON, NULL, &out, &e) != GH_OK)
        rc = fail("import", &e);
    else
        rc = emit("import", f.catalog, &out, true);
    report("import", c);
    if (rc == 0)
        fprintf(stderr,
                "gatehouse import: %zu servers, %zu literal secrets replaced by "
                "references (values not copied)\n",
                c->n_servers, c->n_findings);
    gh_buf_release(&out);
    gh_portable_catalog_free(c);
    return rc;
}

/* ---- migrate ---- */

static size_t not_migrated(const struct gh_portable_catalog *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_findings; i++)
        n += !c->findings[i].migrated;
    return n;
}

/* The rewritten file must read back as the same client's format before it replaces anything. */
static bool reparses(enum gh_portable_client client, const char *path, const struct gh_buf *b)
{
    if (client == GH_PORTABLE_CONTINUE)
        return true; /* YAML is read from a file: checked by the edits' quoting instead */
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_portable_err e = {{0}};
    bool ok = gh_portable_import(c, client, path, b->data ? b->data : "", b->len, &e) == GH_OK;
    if (!ok)
        fprintf(stderr,
                "gatehouse migrate: internal error: the result does not parse (%s); "
                "nothing written\n",
                e.msg);
    gh_portable_catalog_free(c);
    return ok;
}

static int migrate_run(const struct pflags *f, enum gh_portable_client client,
                       struct gh_portable_catalog *c, const char *src, size_t len)
{
    char self[PATH_MAX];
    struct gh_portable_migrate_opts o = {.via_gateway = f->via,
                                         .gatehouse = f->gatehouse ? f->gatehouse
                                                                   : self_path(self, sizeof(self))};
    struct gh_portable_err e = {{0}};
    struct gh_buf out;
    gh_buf_init(&out, GH_PORTABLE_MAX_FILE);
    int status = 0;
    bool same = false;
    if (gh_portable_migrate(c, client, f->file, src, len, &o, &out, &e) != GH_OK) {
        status = fail("migrate", &e);
        goto out;
    }
    same = out.len == len && memcmp(out.data ? out.data : "", src, len) == 0;
    if (f->dry_run) {
        struct gh_buf d;
        gh_buf_init(&d, 4 * (size_t)GH_PORTABLE_MAX_FILE);
        gh_portable_diff(f->file, src, len, out.data ? out.data : "", out.len, &d);
        gh_portable_mask(c, &d); /* the old lines must not print the secrets in full */
        fwrite(d.data ? d.data : "", 1, d.len, stdout);
        gh_buf_release(&d);
    } else if (!same) {
        status = reparses(client, f->file, &out) ? emit("migrate", f->file, &out, true) : 1;
    }
out:
    report("migrate", c);
    if (status == 0) {
        size_t stuck = not_migrated(c);
        fprintf(stderr, "gatehouse migrate: %s: %zu literal secrets, %zu migrated%s%s\n", f->file,
                c->n_findings, c->n_findings - stuck,
                f->dry_run ? " (dry run: nothing written)" : "", same ? " (file unchanged)" : "");
        if (stuck && f->strict)
            status = 1;
    }
    gh_buf_release(&out);
    return status;
}

int gh_cli_migrate(int argc, char **argv)
{
    struct pflags f = {0};
    enum gh_portable_client client;
    int rc = parse(argc, argv, &f);
    if (rc)
        return rc;
    if (!f.file || f.config || f.catalog || f.out || f.merge || f.gateway_url) {
        usage("migrate");
        return 2;
    }
    if (f.client && (rc = client_of("migrate", f.client, &client)) != 0)
        return rc;
    if (!f.client && gh_portable_client_guess(f.file, &client) != GH_OK) {
        fprintf(stderr,
                "gatehouse migrate: cannot tell which client %s belongs to: give "
                "--client NAME\n",
                f.file);
        return 2;
    }
    if (f.via && strncmp(f.via, "https://", 8) != 0 && strncmp(f.via, "http://", 7) != 0) {
        fprintf(stderr, "gatehouse migrate: --via-gateway wants an http(s):// URL\n");
        return 2;
    }
    char via[2048];
    if (f.via) {
        size_t n = strlen(f.via);
        while (n && f.via[n - 1] == '/')
            n--;
        snprintf(via, sizeof(via), "%.*s", (int)n, f.via);
        f.via = via;
    }
    struct gh_portable_err e = {{0}};
    char *src = NULL;
    size_t len = 0;
    if (gh_portable_read_file(f.file, &src, &len, &e) != GH_OK)
        return fail("migrate", &e);
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    rc = migrate_run(&f, client, c, src, len);
    gh_portable_catalog_free(c);
    free(src);
    return rc;
}
