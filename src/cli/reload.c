/*
 * cli/reload.c owns configuration reload (SIGHUP, `systemctl reload`): the file the gateway was
 * started with is read again and checked; its policy: section replaces the running policy for
 * every request that starts afterwards; every other section that differs from what is running
 * is named as needing a restart (listeners, upstreams, identity and the audit trail are not
 * swapped under live sessions). Each attempt, applied or rejected, is one config.reload record.
 */
#include "core/core.h"
#include "audit/audit.h"
#include "cli/internal.h"
#include "mcp/mcp.h"

#include <stdio.h>
#include <string.h>

/* Per top-level section digests of the file at path; false when it cannot be read. */
static bool sections_read(const char *path, struct gh_cli_reload_section *out, size_t *n,
                          struct gh_config_error *err)
{
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_config_node *root = NULL;
    bool ok = gh_config_tree_load_file(path, a, &root, err) == GH_OK;
    *n = 0;
    for (size_t i = 0; ok && root && i < root->n && *n < GH_CLI_RELOAD_SECTIONS; i++) {
        const struct gh_config_node *s = root->items[i];
        if (!s->key)
            continue;
        snprintf(out[*n].key, sizeof(out[*n].key), "%s", s->key);
        gh_config_node_digest(s, out[*n].digest);
        (*n)++;
    }
    gh_arena_free(a);
    return ok;
}

void gh_cli_reload_init(struct gh_cli_reload *rl, const char *path)
{
    memset(rl, 0, sizeof(*rl));
    if (!path)
        return;
    snprintf(rl->path, sizeof(rl->path), "%s", path);
    struct gh_config_error err = {0};
    if (!sections_read(path, rl->running, &rl->nrunning, &err))
        rl->nrunning = 0; /* loaded a moment ago: a reload will say what is wrong */
}

static const unsigned char *section_find(const struct gh_cli_reload_section *s, size_t n,
                                         const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].key, key) == 0)
            return s[i].digest;
    return NULL;
}

/* Sections other than policy whose content differs (added, removed or edited). */
static void sections_changed(const struct gh_cli_reload *rl,
                             const struct gh_cli_reload_section *now, size_t nnow,
                             struct gh_slice *out, uint32_t *nout)
{
    *nout = 0;
    for (size_t i = 0; i < nnow; i++) {
        const unsigned char *was = section_find(rl->running, rl->nrunning, now[i].key);
        if (strcmp(now[i].key, "policy") != 0 && (!was || memcmp(was, now[i].digest, 32) != 0))
            out[(*nout)++] = gh_slice_cstr(now[i].key);
    }
    for (size_t i = 0; i < rl->nrunning; i++)
        if (strcmp(rl->running[i].key, "policy") != 0 &&
            !section_find(now, nnow, rl->running[i].key))
            out[(*nout)++] = gh_slice_cstr(rl->running[i].key);
}

#define CONFIG_FILE_MAX (16u << 20)

/* "sha256:<hex>" of the file's bytes as they are now, or "" when it cannot be read. */
static void file_digest(const char *path, char out[72])
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    struct gh_sha256_stream *h = gh_sha256_stream_new();
    char buf[16384];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total <= CONFIG_FILE_MAX) {
        gh_sha256_stream_update(h, buf, n);
        total += n;
    }
    bool ok = !ferror(f) && total <= CONFIG_FILE_MAX;
    fclose(f);
    unsigned char d[32];
    gh_sha256_stream_final(h, d);
    if (!ok)
        return;
    memcpy(out, "sha256:", 7);
    gh_hex_encode(d, 32, out + 7);
}

static void record(struct gh_audit *audit, const struct gh_cli_reload *rl, bool applied,
                   const char *error, const char *before, const char *after,
                   const struct gh_slice *restart, uint32_t nrestart)
{
    if (!audit)
        return;
    char digest[72];
    file_digest(rl->path, digest);
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    gh_audit_open_obj(&b, "config");
    gh_audit_put_str(&b, "file", gh_slice_cstr(rl->path));
    gh_audit_put_id(&b, "digest", digest[0] ? gh_slice_cstr(digest) : (struct gh_slice){0});
    gh_audit_put_id(&b, "result", gh_slice_cstr(applied ? "applied" : "rejected"));
    if (error)
        gh_audit_put_str(&b, "error", gh_slice_cstr(error));
    gh_audit_open_obj(&b, "policy");
    gh_audit_put_id(&b, "before", gh_slice_cstr(before));
    gh_audit_put_id(&b, "after", gh_slice_cstr(after));
    gh_audit_close_obj(&b);
    gh_audit_put_list(&b, "restart_required", restart, nrestart);
    gh_audit_close_obj(&b);
    if (gh_audit_emit_owed(audit, "config.reload", b.data, b.len) != GH_OK)
        GH_LOGE("audit", "a config.reload record could not be queued");
    gh_buf_release(&b);
}

void gh_cli_reload_run(struct gh_cli_reload *rl, struct gh_mcp_gateway *gw, struct gh_audit *audit)
{
    if (!rl->path[0]) {
        GH_LOGI("cli", "SIGHUP: started without --config, no configuration to reload");
        return;
    }
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    char msg[900] = "", before[72] = "", after[72] = "";
    struct gh_cli_reload_section now[GH_CLI_RELOAD_SECTIONS];
    size_t nnow = 0;
    struct gh_slice restart[2 * GH_CLI_RELOAD_SECTIONS];
    uint32_t nrestart = 0;
    enum gh_rc rc = gh_config_load_file(rl->path, &cfg, &err);
    if (rc == GH_OK)
        rc = gh_config_validate(cfg, &err);
    if (rc == GH_OK && !sections_read(rl->path, now, &nnow, &err))
        rc = GH_E_PARSE;
    if (rc == GH_OK)
        rc = gh_mcp_gateway_reload_policy(gw, cfg->policy, &err, before, after);
    else
        gh_mcp_gateway_policy_digest(gw, before);
    if (rc != GH_OK && !after[0])
        snprintf(after, sizeof(after), "%s", before); /* nothing changed */
    if (rc != GH_OK) {
        gh_config_error_format(&err, msg, sizeof(msg));
        GH_LOGE("cli", "SIGHUP: configuration not reloaded, the running one stays: %s", msg);
        record(audit, rl, false, msg, before, after, NULL, 0);
        gh_config_unref(cfg);
        return;
    }
    sections_changed(rl, now, nnow, restart, &nrestart);
    GH_LOGI("cli", "SIGHUP: configuration reloaded from %s: policy %s%s%s", rl->path, after,
            strcmp(before, after) == 0 ? " (unchanged)" : "",
            nrestart ? "; other sections changed and need a restart" : "");
    for (uint32_t i = 0; i < nrestart; i++)
        GH_LOGW("cli", "SIGHUP: section %.*s changed: it takes effect at the next restart",
                (int)restart[i].len, restart[i].ptr);
    record(audit, rl, true, NULL, before, after, restart, nrestart);
    gh_config_unref(cfg);
}
