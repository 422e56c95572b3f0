/*
 * portable/scan_report.c owns the scanner's human text and JSON reports. Neither ever holds
 * a secret: findings carry only the redacted form and a fingerprint (scan.c makes both).
 */
#include "core/core.h"
#include "json/json.h"
#include "portable/internal_scan.h"

static const char *kind_name(enum gh_scan_kind k)
{
    return k == GH_SCAN_SECRET ? "secret" : "risk";
}

static void count(const struct gh_scan_report *r, size_t *secrets, size_t *risks)
{
    *secrets = *risks = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        (r->findings[i].kind == GH_SCAN_SECRET ? (*secrets)++ : (*risks)++);
}

enum gh_rc gh_scan_write_text(const struct gh_scan_report *r, struct gh_buf *b)
{
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; i < r->n_errors && !rc; i++) {
        const struct gh_scan_error *e = &r->errors[i];
        if (e->line)
            rc = gh_buf_appendf(b, "%s:%u:%u: error: %s\n", e->file, e->line, e->col, e->message);
        else
            rc = gh_buf_appendf(b, "%s: error: %s\n", e->file, e->message);
    }
    for (size_t i = 0; i < r->n_findings && !rc; i++) {
        const struct gh_scan_finding *f = &r->findings[i];
        rc = gh_buf_appendf(b, "%s:%u:%u: %s [%s] %s", f->file, f->line, f->col,
                            f->kind == GH_SCAN_SECRET ? "secret" : "warning", f->rule, f->message);
        if (!rc && f->redacted[0])
            rc = gh_buf_appendf(b, ": %s", f->redacted);
        if (!rc)
            rc = gh_buf_appendf(b, " (at %s)\n", f->where);
    }
    size_t s, k;
    count(r, &s, &k);
    if (!rc)
        rc = gh_buf_appendf(b, "%zu secret%s, %zu risky setting%s in %zu file%s scanned", s,
                            s == 1 ? "" : "s", k, k == 1 ? "" : "s", r->n_files,
                            r->n_files == 1 ? "" : "s");
    if (!rc && r->n_errors)
        rc = gh_buf_appendf(b, "; %zu error%s", r->n_errors, r->n_errors == 1 ? "" : "s");
    if (!rc && r->dropped)
        rc = gh_buf_appendf(b, "; %zu more findings not listed (cap %u)", r->dropped,
                            GH_SCAN_MAX_FINDINGS);
    return rc ? rc : gh_buf_puts(b, "\n");
}

static enum gh_rc member(struct gh_buf *b, const char *name, const char *value, bool comma)
{
    enum gh_rc rc = gh_buf_appendf(b, "%s\"%s\":", comma ? "," : "", name);
    return rc ? rc : gh_json_write_str(b, value, strlen(value));
}

static enum gh_rc finding_json(struct gh_buf *b, const struct gh_scan_finding *f)
{
    enum gh_rc rc = member(b, "rule", f->rule, false);
    if (!rc)
        rc = member(b, "kind", kind_name(f->kind), true);
    if (!rc)
        rc = member(b, "file", f->file, true);
    if (!rc)
        rc = gh_buf_appendf(b, ",\"line\":%u,\"column\":%u", f->line, f->col);
    if (!rc)
        rc = member(b, "path", f->where, true);
    if (!rc)
        rc = member(b, "server", f->server, true);
    if (!rc && f->kind == GH_SCAN_SECRET)
        rc = member(b, "redacted", f->redacted, true);
    if (!rc)
        rc = member(b, "message", f->message, true);
    if (!rc)
        rc = member(b, "fingerprint", f->fingerprint, true);
    return rc;
}

static enum gh_rc files_json(struct gh_buf *b, const struct gh_scan_report *r)
{
    enum gh_rc rc = gh_buf_puts(b, "\"files\":[");
    for (size_t i = 0; i < r->n_files && !rc; i++) {
        rc = gh_buf_puts(b, i ? ",{" : "{");
        if (!rc)
            rc = member(b, "path", r->files[i].path, false);
        if (!rc)
            rc = member(b, "client", r->files[i].client, true);
        if (!rc)
            rc = member(b, "format", r->files[i].format, true);
        if (!rc)
            rc = gh_buf_puts(b, "}");
    }
    return rc ? rc : gh_buf_puts(b, "]");
}

static enum gh_rc errors_json(struct gh_buf *b, const struct gh_scan_report *r)
{
    enum gh_rc rc = gh_buf_puts(b, ",\"errors\":[");
    for (size_t i = 0; i < r->n_errors && !rc; i++) {
        const struct gh_scan_error *e = &r->errors[i];
        rc = gh_buf_puts(b, i ? ",{" : "{");
        if (!rc)
            rc = member(b, "file", e->file, false);
        if (!rc)
            rc = gh_buf_appendf(b, ",\"line\":%u,\"column\":%u", e->line, e->col);
        if (!rc)
            rc = member(b, "message", e->message, true);
        if (!rc)
            rc = gh_buf_puts(b, "}");
    }
    return rc ? rc : gh_buf_puts(b, "]");
}

enum gh_rc gh_scan_write_json(const struct gh_scan_report *r, struct gh_buf *b)
{
    enum gh_rc rc = gh_buf_puts(
        b, "{\"version\":1,\"tool\":{\"name\":\"gatehouse\",\"version\":\"" GH_VERSION "\"},");
    if (!rc)
        rc = files_json(b, r);
    if (!rc)
        rc = gh_buf_puts(b, ",\"findings\":[");
    for (size_t i = 0; i < r->n_findings && !rc; i++) {
        rc = gh_buf_puts(b, i ? ",{" : "{");
        if (!rc)
            rc = finding_json(b, &r->findings[i]);
        if (!rc)
            rc = gh_buf_puts(b, "}");
    }
    if (!rc)
        rc = gh_buf_puts(b, "]");
    if (!rc)
        rc = errors_json(b, r);
    size_t s, k;
    count(r, &s, &k);
    if (!rc)
        rc = gh_buf_appendf(b,
                            ",\"summary\":{\"files\":%zu,\"secrets\":%zu,\"risks\":%zu,"
                            "\"errors\":%zu,\"dropped\":%zu}}\n",
                            r->n_files, s, k, r->n_errors, r->dropped);
    return rc;
}
