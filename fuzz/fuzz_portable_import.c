/*
 * fuzz/fuzz_portable_import.c feeds arbitrary bytes to every client-format reader of portable/
 * (JSON, JSONC, Codex TOML, registry server.json), then to migrate and merge on the same bytes:
 * every outcome must be a clean result or an error with a message; a migrated file must read
 * back; nothing may crash, leak or read out of bounds. The first byte picks the client.
 */
#include "core/core.h"
#include "portable/portable.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(enum gh_portable_client client, const char *src, size_t len)
{
    struct gh_portable_catalog *c = gh_portable_catalog_new();
    struct gh_portable_err e = {{0}};
    struct gh_buf b;
    gh_buf_init(&b, 4 * (size_t)GH_PORTABLE_MAX_FILE);
    if (gh_portable_import(c, client, "fuzz", src, len, &e) == GH_OK &&
        client != GH_PORTABLE_REGISTRY) {
        GH_BUG_ON(gh_portable_export(c, client, NULL, &b, &e) != GH_OK);
        gh_buf_clear(&b);
        if (gh_portable_merge(c, client, NULL, "fuzz", src, len, &b, &e) != GH_OK)
            GH_BUG_ON(e.msg[0] == '\0');
    } else if (client != GH_PORTABLE_REGISTRY) {
        GH_BUG_ON(e.msg[0] == '\0');
    }
    gh_portable_catalog_free(c);
    if (client == GH_PORTABLE_REGISTRY || client == GH_PORTABLE_MCP_JSON)
        goto out;
    c = gh_portable_catalog_new();
    gh_buf_clear(&b);
    struct gh_portable_migrate_opts o = {.via_gateway = "https://gw", .gatehouse = "gatehouse"};
    if (gh_portable_migrate(c, client, "fuzz", src, len, &o, &b, &e) == GH_OK) {
        struct gh_portable_catalog *back = gh_portable_catalog_new();
        enum gh_rc rc = gh_portable_import(back, client, "fuzz", b.data ? b.data : "", b.len, &e);
        /* what parsed before parses after (a file that imports cleanly stays importable) */
        struct gh_portable_catalog *orig = gh_portable_catalog_new();
        if (gh_portable_import(orig, client, "fuzz", src, len, &e) == GH_OK)
            GH_BUG_ON(rc != GH_OK);
        gh_portable_catalog_free(orig);
        gh_portable_catalog_free(back);
    }
    gh_portable_catalog_free(c);
out:
    gh_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum gh_portable_client clients[] = {
        GH_PORTABLE_CLAUDE_DESKTOP, GH_PORTABLE_VSCODE, GH_PORTABLE_ZED,      GH_PORTABLE_CODEX,
        GH_PORTABLE_GEMINI,         GH_PORTABLE_CLINE,  GH_PORTABLE_MCP_JSON, GH_PORTABLE_REGISTRY};
    if (size < 1)
        return 0;
    one(clients[data[0] % GH_ARRAY_LEN(clients)], (const char *)data + 1, size - 1);
    return 0;
}
