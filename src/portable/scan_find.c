/*
 * portable/scan_find.c owns where client config files are: each client's documented default
 * locations under a user's home (Linux and macOS paths both, so one run over a synced or
 * mounted home finds either), and which files in a directory tree look like client configs
 * (walked without following symlinks, skipping node_modules and .git, depth-capped).
 */
#include "core/core.h"
#include "portable/internal_scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/* $HOME-relative default locations (sources in docs/scanner.md). */
static const char *const DEFAULTS[] = {
    /* Claude Desktop (macOS documented; Linux as community builds use it) */
    "Library/Application Support/Claude/claude_desktop_config.json",
    ".config/Claude/claude_desktop_config.json",
    /* Claude Code: user and local scope, settings */
    ".claude.json",
    ".claude/settings.json",
    /* VS Code user profile (Linux, macOS) and the portable Copilot file */
    ".config/Code/User/mcp.json",
    ".config/Code/User/settings.json",
    "Library/Application Support/Code/User/mcp.json",
    "Library/Application Support/Code/User/settings.json",
    ".copilot/mcp-config.json",
    /* Cursor, Windsurf, Zed */
    ".cursor/mcp.json",
    ".codeium/windsurf/mcp_config.json",
    ".config/zed/settings.json",
    /* Codex CLI ($CODEX_HOME is honoured by the caller passing it as a path) */
    ".codex/config.toml",
    /* Gemini CLI, Antigravity, Kiro */
    ".gemini/settings.json",
    ".gemini/antigravity/mcp_config.json",
    ".kiro/settings/mcp.json",
    /* Continue: the main config; block files are found by the directory walk below */
    ".continue/config.yaml",
    ".continue/config.json",
    /* Cline (VS Code extension storage, Linux and macOS; Cline CLI) */
    ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
    ("Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/"
     "cline_mcp_settings.json"), /* one path, split for width */
    ".cline/data/settings/cline_mcp_settings.json",
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Is path (dir/name) a client config? Names alone for the unambiguous ones, the parent
 * directory for generic names like settings.json and config.toml. */
static bool looks_like_config(const char *path, const char *name)
{
    static const char *const NAMES[] = {"claude_desktop_config.json",
                                        ".mcp.json",
                                        ".claude.json",
                                        "mcp.json",
                                        "mcp_config.json",
                                        "mcp-config.json",
                                        "cline_mcp_settings.json"};
    static const char *const PARENTED[] = {
        "/.zed/settings.json",    "/zed/settings.json",       "/.gemini/settings.json",
        "/.claude/settings.json", "/Code/User/settings.json", "/.codex/config.toml",
        "/.continue/config.yaml", "/.continue/config.json",
    };
    for (size_t i = 0; i < GH_ARRAY_LEN(NAMES); i++)
        if (strcmp(name, NAMES[i]) == 0)
            return true;
    for (size_t i = 0; i < GH_ARRAY_LEN(PARENTED); i++)
        if (ends_with(path, PARENTED[i]))
            return true;
    if (strstr(path, "/.continue/mcpServers/"))
        return ends_with(name, ".yaml") || ends_with(name, ".yml") || ends_with(name, ".json");
    return false;
}

static bool skipped_dir(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "node_modules") == 0 ||
           strcmp(name, ".git") == 0;
}

static void walk_dir(struct gh_scan_report *r, const char *dir, int depth)
{
    if (depth > GH_SCAN_MAX_DEPTH || r->n_files >= GH_SCAN_MAX_FILES)
        return;
    /* Entries are sorted so reports are stable across file systems. */
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot open directory: %s", strerror(errno));
        scan_report_error(r, dir, 0, 0, msg);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        char *path = NULL;
        if (!skipped_dir(name) &&
            asprintf(&path, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", name) >= 0) {
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                walk_dir(r, path, depth + 1);
            else if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && looks_like_config(path, name))
                gh_scan_file(r, path);
        }
        free(path);
        free(list[i]);
    }
    free(list);
}

enum gh_rc gh_scan_path(struct gh_scan_report *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "cannot scan: %s", strerror(errno));
        scan_report_error(r, path, 0, 0, msg);
        return GH_E_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        walk_dir(r, path, 0);
        return GH_OK;
    }
    return gh_scan_file(r, path);
}

void gh_scan_defaults(struct gh_scan_report *r, const char *home)
{
    char path[4096];
    struct stat st;
    for (size_t i = 0; i < GH_ARRAY_LEN(DEFAULTS); i++) {
        snprintf(path, sizeof(path), "%s/%s", home, DEFAULTS[i]);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            gh_scan_file(r, path);
    }
    snprintf(path, sizeof(path), "%s/.continue/mcpServers", home);
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
        walk_dir(r, path, 0);
}
