/*
 * portable/scan.c owns a scan's report (findings with redacted values and fingerprints, file
 * errors, the files seen) and reading one file into a tree by its format: JSON/JSONC and TOML
 * here in portable/, YAML through config/'s hardened loader.
 */
#include "core/core.h"
#include "config/config.h"
#include "portable/internal_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct gh_scan_report *gh_scan_report_new(void)
{
    struct gh_scan_report *r = gh_xcalloc(1, sizeof(*r));
    r->arena = gh_arena_new(64u << 10);
    return r;
}

void gh_scan_report_free(struct gh_scan_report *r)
{
    if (!r)
        return;
    free(r->findings);
    free(r->errors);
    free(r->files);
    gh_arena_free(r->arena);
    free(r);
}

static int cmp_finding(const void *pa, const void *pb)
{
    const struct gh_scan_finding *a = pa, *b = pb;
    int c = strcmp(a->file, b->file);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return strcmp(a->rule, b->rule);
}

void gh_scan_report_sort(struct gh_scan_report *r)
{
    if (r->n_findings > 1)
        qsort(r->findings, r->n_findings, sizeof(*r->findings), cmp_finding);
}

/* Grows an array of n used / *cap allocated elements by one slot; false past max. */
static bool grow(void **arr, size_t n, size_t *cap, size_t elem, size_t max)
{
    if (n >= max)
        return false;
    if (n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = gh_xrealloc(*arr, *cap * elem);
    }
    return true;
}

/* A few leading characters and the length: enough to find the value, never enough to use it.
 * At most a quarter of a short value is shown. */
static const char *redact(struct gh_arena *a, struct gh_slice s)
{
    size_t show = s.len / 4;
    if (show > 4)
        show = 4;
    char head[8] = {0};
    for (size_t i = 0; i < show; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        head[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    return gh_arena_sprintf(a, "%s\xe2\x80\xa6(%zu chars)", head, s.len);
}

static void fingerprint(const char *rule, const char *file, const char *where,
                        struct gh_slice secret, char out[33])
{
    struct gh_sha256_stream *h = gh_sha256_stream_new();
    gh_sha256_stream_update(h, rule, strlen(rule) + 1);
    gh_sha256_stream_update(h, file, strlen(file) + 1);
    gh_sha256_stream_update(h, where, strlen(where) + 1);
    gh_sha256_stream_update(h, secret.ptr ? secret.ptr : "", secret.len);
    unsigned char d[32];
    gh_sha256_stream_final(h, d);
    gh_hex_encode(d, 16, out);
}

void scan_report_add(struct gh_scan_report *r, const char *rule, enum gh_scan_kind kind,
                     const char *file, const struct gh_pnode *at, const char *server,
                     struct gh_slice secret, const char *message)
{
    if (!grow((void **)&r->findings, r->n_findings, &r->cap_findings, sizeof(*r->findings),
              GH_SCAN_MAX_FINDINGS)) {
        r->dropped++;
        return;
    }
    struct gh_scan_finding *f = &r->findings[r->n_findings++];
    memset(f, 0, sizeof(*f));
    f->rule = rule;
    f->kind = kind;
    f->file = file;
    f->line = at ? at->line : 0;
    f->col = at ? at->col : 0;
    f->where = at ? scan_node_path(r, at) : "";
    f->server = gh_arena_strndup(r->arena, server ? server : "", server ? strlen(server) : 0);
    f->redacted = kind == GH_SCAN_SECRET ? redact(r->arena, secret) : "";
    f->message = gh_arena_strndup(r->arena, message, strlen(message));
    fingerprint(rule, file, f->where, secret, f->fingerprint);
}

void scan_report_error(struct gh_scan_report *r, const char *file, uint32_t line, uint32_t col,
                       const char *message)
{
    if (!grow((void **)&r->errors, r->n_errors, &r->cap_errors, sizeof(*r->errors),
              GH_SCAN_MAX_FILES))
        return;
    struct gh_scan_error *e = &r->errors[r->n_errors++];
    e->file = gh_arena_strndup(r->arena, file, strlen(file));
    e->line = line;
    e->col = col;
    e->message = gh_arena_strndup(r->arena, message, strlen(message));
}

/* Key names come from the file: keep them printable and short in paths. */
static void path_key(struct gh_buf *b, struct gh_slice k)
{
    bool plain = k.len > 0;
    for (size_t i = 0; i < k.len && plain; i++) {
        unsigned char c = (unsigned char)k.ptr[i];
        plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
    }
    if (plain && b->len)
        gh_buf_puts(b, ".");
    if (!plain)
        gh_buf_puts(b, "[\"");
    for (size_t i = 0; i < k.len && i < 80; i++) {
        unsigned char c = (unsigned char)k.ptr[i];
        char ch = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
        gh_buf_append(b, &ch, 1);
    }
    if (k.len > 80)
        gh_buf_puts(b, "...");
    if (!plain)
        gh_buf_puts(b, "\"]");
}

const char *scan_node_path(struct gh_scan_report *r, const struct gh_pnode *n)
{
    const struct gh_pnode *chain[GH_PNODE_MAX_DEPTH + 2] = {NULL};
    size_t depth = 0;
    for (const struct gh_pnode *p = n; p && p->parent && depth < GH_ARRAY_LEN(chain); p = p->parent)
        chain[depth++] = p;
    struct gh_buf b;
    gh_buf_init(&b, 8192);
    while (depth--) {
        const struct gh_pnode *p = chain[depth];
        if (p->parent->type == GH_PNODE_TABLE)
            path_key(&b, p->key);
        else
            gh_buf_appendf(&b, "[%u]", p->index);
    }
    const char *out = gh_arena_strndup(r->arena, b.data ? b.data : "", b.len);
    gh_buf_release(&b);
    return out;
}

/* ---- reading one file ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static enum gh_pformat format_of(const char *path)
{
    if (ends_with(path, ".toml"))
        return GH_PFORMAT_TOML;
    if (ends_with(path, ".yaml") || ends_with(path, ".yml"))
        return GH_PFORMAT_YAML;
    /* JSONC for every JSON file: VS Code and Zed write comments, others tolerate none, and a
     * comment in a file a client rejects is still worth scanning. */
    return GH_PFORMAT_JSONC;
}

static const char *const FORMAT_NAMES[] = {"json", "jsonc", "toml", "yaml"};

/* Which client a file belongs to, from its path: for the report only. */
static const char *client_of(const char *path)
{
    static const struct {
        const char *suffix, *client;
    } MAP[] = {
        {"claude_desktop_config.json", "claude-desktop"},
        {".claude.json", "claude-code"},
        {".mcp.json", "claude-code"},
        {".claude/settings.json", "claude-code"},
        {".vscode/mcp.json", "vscode"},
        {"Code/User/mcp.json", "vscode"},
        {"Code/User/settings.json", "vscode"},
        {".copilot/mcp-config.json", "vscode"},
        {"cline_mcp_settings.json", "cline"},
        {".cursor/mcp.json", "cursor"},
        {"windsurf/mcp_config.json", "windsurf"},
        {"zed/settings.json", "zed"},
        {".zed/settings.json", "zed"},
        {"config.toml", "codex"},
        {"antigravity/mcp_config.json", "antigravity"},
        {".gemini/settings.json", "gemini"},
        {".kiro/settings/mcp.json", "kiro"},
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(MAP); i++)
        if (ends_with(path, MAP[i].suffix))
            return MAP[i].client;
    if (strstr(path, ".continue/"))
        return "continue";
    return "unknown";
}

bool scan_report_has_file(const struct gh_scan_report *r, const char *path)
{
    for (size_t i = 0; i < r->n_files; i++)
        if (strcmp(r->files[i].path, path) == 0)
            return true;
    return false;
}

void scan_report_file(struct gh_scan_report *r, const char *path, const char *client,
                      const char *format)
{
    if (!grow((void **)&r->files, r->n_files, &r->cap_files, sizeof(*r->files), GH_SCAN_MAX_FILES))
        return;
    struct gh_scan_file *f = &r->files[r->n_files++];
    f->path = gh_arena_strndup(r->arena, path, strlen(path));
    f->client = client;
    f->format = format;
}

static void note_file(struct gh_scan_report *r, const char *name, enum gh_pformat fmt)
{
    if (!grow((void **)&r->files, r->n_files, &r->cap_files, sizeof(*r->files), GH_SCAN_MAX_FILES))
        return;
    struct gh_scan_file *f = &r->files[r->n_files++];
    f->path = name;
    f->client = client_of(name);
    f->format = FORMAT_NAMES[fmt];
}

enum gh_rc gh_scan_buffer(struct gh_scan_report *r, const char *name, const char *data, size_t len,
                          enum gh_pformat fmt)
{
    struct gh_pnode *root = NULL;
    struct gh_pnode_err err = {0};
    enum gh_rc rc;
    const char *file = gh_arena_strndup(r->arena, name, strlen(name));
    if (fmt == GH_PFORMAT_YAML)
        return GH_E_DECLINED;
    note_file(r, file, fmt);
    struct gh_arena *a = gh_arena_new(64u << 10);
    if (fmt == GH_PFORMAT_TOML)
        rc = gh_pnode_parse_toml(a, data, len, &root, &err);
    else
        rc = gh_pnode_parse_json(a, data, len, fmt == GH_PFORMAT_JSONC, &root, &err);
    if (rc == GH_OK)
        scan_walk(r, file, root);
    else
        scan_report_error(r, file, err.line, err.col, err.reason ? err.reason : "cannot parse");
    gh_arena_free(a);
    return GH_OK;
}

/* config/ YAML nodes to scanner nodes (config/ caps depth and sizes and refuses aliases). */
static struct gh_pnode *from_yaml(struct gh_arena *a, struct pnode_budget *b,
                                  const struct gh_config_node *y)
{
    enum gh_pnode_type t = y->kind == CFG_MAP   ? GH_PNODE_TABLE
                           : y->kind == CFG_SEQ ? GH_PNODE_ARRAY
                                                : GH_PNODE_STRING;
    struct gh_pnode *n = scan_node_new(a, b, t, (uint32_t)y->line, (uint32_t)y->column);
    if (!n)
        return NULL;
    if (y->kind == CFG_SCALAR) {
        n->text = gh_slice(y->text, y->len);
        if (y->plain && (gh_slice_eq_cstr(n->text, "true") || gh_slice_eq_cstr(n->text, "false")))
            n->type = GH_PNODE_BOOL;
        else if (y->plain && (y->len == 0 || gh_slice_eq_cstr(n->text, "null") ||
                              gh_slice_eq_cstr(n->text, "~")))
            n->type = GH_PNODE_NULL;
    }
    for (size_t i = 0; i < y->n && y->kind != CFG_SCALAR; i++) {
        struct gh_pnode *c = from_yaml(a, b, y->items[i]);
        if (!c)
            return NULL;
        if (y->items[i]->key)
            c->key = gh_slice_cstr(y->items[i]->key);
        scan_node_append(n, c);
    }
    return n;
}

static void scan_yaml(struct gh_scan_report *r, const char *file)
{
    struct gh_arena *a = gh_arena_new(64u << 10);
    struct gh_config_node *y = NULL;
    struct gh_config_error err = {0};
    note_file(r, file, GH_PFORMAT_YAML);
    if (gh_config_tree_load_file(file, a, &y, &err) != GH_OK) {
        scan_report_error(r, file, (uint32_t)GH_MAX(err.line, 0), (uint32_t)GH_MAX(err.column, 0),
                          err.msg);
    } else if (y) {
        struct pnode_budget b = {0};
        struct gh_pnode *root = from_yaml(a, &b, y);
        if (root)
            scan_walk(r, file, root);
        else
            scan_report_error(r, file, 0, 0, "too many values");
    }
    gh_arena_free(a);
}

enum gh_rc scan_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return GH_E_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return GH_E_IO;
    }
    size_t cap = GH_PNODE_MAX_BYTES + 1, n = 0;
    char *buf = gh_xmalloc(cap);
    ssize_t k;
    while (n < cap && (k = read(fd, buf + n, cap - n)) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return GH_E_IO;
        }
        n += (size_t)k;
    }
    close(fd);
    *out = buf;
    *len = n;
    return GH_OK;
}

enum gh_rc gh_scan_file(struct gh_scan_report *r, const char *path)
{
    enum gh_pformat fmt = format_of(path);
    const char *file = gh_arena_strndup(r->arena, path, strlen(path));
    if (fmt == GH_PFORMAT_YAML) {
        scan_yaml(r, file);
        return GH_OK;
    }
    char *buf = NULL;
    size_t len = 0;
    if (scan_read_file(path, &buf, &len) != GH_OK) {
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot read: %s",
                 errno == EINVAL ? "not a regular file" : strerror(errno));
        scan_report_error(r, file, 0, 0, msg);
        return GH_E_IO;
    }
    if (len > GH_PNODE_MAX_BYTES)
        scan_report_error(r, file, 0, 0, "file is larger than 4 MiB, not scanned");
    else
        gh_scan_buffer(r, file, buf, len, fmt);
    free(buf);
    return GH_OK;
}
