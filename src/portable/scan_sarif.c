/*
 * portable/scan_sarif.c owns the SARIF 2.1.0 report (OASIS SARIF v2.1.0, the format GitHub code
 * scanning ingests): one run whose tool.driver.rules lists every rule with its source as
 * helpUri, one result per finding with a physical location and a partial fingerprint, and file
 * errors as tool execution notifications. No secret ever appears in it.
 */
#include "core/core.h"
#include "json/json.h"
#include "portable/internal_scan.h"

#include <stdio.h>

static enum gh_rc str(struct gh_buf *b, const char *s)
{
    return gh_json_write_str(b, s, strlen(s));
}

/* A path as a URI reference: relative paths stay relative (to the working directory, which
 * code scanning maps to the repository root), absolute ones become file:// URIs. Bytes outside
 * RFC 3986's unreserved set and "/" are percent-encoded. */
static enum gh_rc uri(struct gh_buf *b, const char *path)
{
    struct gh_buf u;
    gh_buf_init(&u, 16384);
    enum gh_rc rc = path[0] == '/' ? gh_buf_puts(&u, "file://") : GH_OK;
    if (path[0] == '.' && path[1] == '/')
        path += 2;
    for (const unsigned char *p = (const unsigned char *)path; *p && !rc; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~/", *p);
        rc = keep ? gh_buf_append(&u, p, 1) : gh_buf_appendf(&u, "%%%02X", *p);
    }
    if (!rc)
        rc = gh_json_write_str(b, u.data ? u.data : "", u.len);
    gh_buf_release(&u);
    return rc;
}

static enum gh_rc rule_json(struct gh_buf *b, const struct scan_rule_info *ri)
{
    enum gh_rc rc = gh_buf_puts(b, "{\"id\":");
    if (!rc)
        rc = str(b, ri->id);
    if (!rc)
        rc = gh_buf_puts(b, ",\"name\":");
    if (!rc)
        rc = str(b, ri->name);
    if (!rc)
        rc = gh_buf_puts(b, ",\"shortDescription\":{\"text\":");
    if (!rc)
        rc = str(b, ri->description);
    if (!rc)
        rc = gh_buf_puts(b, "},\"helpUri\":");
    if (!rc)
        rc = str(b, ri->source);
    if (!rc)
        rc = gh_buf_appendf(b,
                            ",\"defaultConfiguration\":{\"level\":\"%s\"},"
                            "\"properties\":{\"tags\":[\"security\",\"%s\"]}}",
                            ri->level, ri->kind == GH_SCAN_SECRET ? "secret" : "configuration");
    return rc;
}

static enum gh_rc location(struct gh_buf *b, const char *file, uint32_t line, uint32_t col)
{
    enum gh_rc rc = gh_buf_puts(b, "{\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
    if (!rc)
        rc = uri(b, file);
    if (!rc)
        rc = gh_buf_puts(b, "}");
    if (!rc && line)
        rc = gh_buf_appendf(b, ",\"region\":{\"startLine\":%u,\"startColumn\":%u}", line,
                            col ? col : 1);
    return rc ? rc : gh_buf_puts(b, "}}");
}

static size_t rule_index(const char *id)
{
    for (size_t i = 0; i < SCAN_N_RULES; i++)
        if (strcmp(SCAN_RULES[i].id, id) == 0)
            return i;
    return 0;
}

static enum gh_rc result_json(struct gh_buf *b, const struct gh_scan_finding *f)
{
    const struct scan_rule_info *ri = &SCAN_RULES[rule_index(f->rule)];
    enum gh_rc rc = gh_buf_puts(b, "{\"ruleId\":");
    if (!rc)
        rc = str(b, f->rule);
    if (!rc)
        rc = gh_buf_appendf(b, ",\"ruleIndex\":%zu,\"level\":\"%s\",\"message\":{\"text\":",
                            rule_index(f->rule), ri->level);
    char msg[1024];
    if (f->redacted[0])
        snprintf(msg, sizeof(msg), "%s: %s (at %s)", f->message, f->redacted, f->where);
    else
        snprintf(msg, sizeof(msg), "%s (at %s)", f->message, f->where);
    if (!rc)
        rc = str(b, msg);
    if (!rc)
        rc = gh_buf_puts(b, "},\"locations\":[");
    if (!rc)
        rc = location(b, f->file, f->line, f->col);
    if (!rc)
        rc = gh_buf_appendf(b, "],\"partialFingerprints\":{\"gatehouseScan/v1\":\"%s\"}}",
                            f->fingerprint);
    return rc;
}

static enum gh_rc notifications(struct gh_buf *b, const struct gh_scan_report *r)
{
    enum gh_rc rc = gh_buf_appendf(b,
                                   "\"invocations\":[{\"executionSuccessful\":%s,"
                                   "\"toolExecutionNotifications\":[",
                                   r->n_errors ? "false" : "true");
    for (size_t i = 0; i < r->n_errors && !rc; i++) {
        const struct gh_scan_error *e = &r->errors[i];
        rc = gh_buf_puts(b, i ? ",{\"level\":\"error\",\"message\":{\"text\":"
                              : "{\"level\":\"error\",\"message\":{\"text\":");
        if (!rc)
            rc = str(b, e->message);
        if (!rc)
            rc = gh_buf_puts(b, "},\"locations\":[");
        if (!rc)
            rc = location(b, e->file, e->line, e->col);
        if (!rc)
            rc = gh_buf_puts(b, "]}");
    }
    return rc ? rc : gh_buf_puts(b, "]}]");
}

enum gh_rc gh_scan_write_sarif(const struct gh_scan_report *r, struct gh_buf *b)
{
    enum gh_rc rc = gh_buf_puts(
        b, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
           "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"gatehouse scan\",\"version\":\"" GH_VERSION
           "\",\"rules\":[");
    for (size_t i = 0; i < SCAN_N_RULES && !rc; i++) {
        rc = i ? gh_buf_puts(b, ",") : GH_OK;
        if (!rc)
            rc = rule_json(b, &SCAN_RULES[i]);
    }
    if (!rc)
        rc = gh_buf_puts(b, "]}},\"columnKind\":\"unicodeCodePoints\",");
    if (!rc)
        rc = notifications(b, r);
    if (!rc)
        rc = gh_buf_puts(b, ",\"results\":[");
    for (size_t i = 0; i < r->n_findings && !rc; i++) {
        rc = i ? gh_buf_puts(b, ",") : GH_OK;
        if (!rc)
            rc = result_json(b, &r->findings[i]);
    }
    return rc ? rc : gh_buf_puts(b, "]}]}\n");
}
