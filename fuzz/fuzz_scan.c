/*
 * fuzz/fuzz_scan.c: the scanner's file parsing and walking on arbitrary bytes. The first byte
 * picks the reader (t: TOML, c: JSONC, anything else: strict JSON), the rest is the file.
 * Checks: no crash, leak or sanitizer report; a parse failure has a reason and a position
 * inside the input; a parse success yields a table or value tree whose children link back to
 * their parent; and all three reports can be written.
 */
#include "core/core.h"
#include "portable/portable.h"

#include <stdio.h>

_Noreturn static void bad(const char *what)
{
    fprintf(stderr, "fuzz_scan: %s\n", what);
    abort();
}

/* Parent links and child counts, iteratively bounded by the node cap. */
static void check_tree(const struct gh_pnode *n, int depth)
{
    if (depth > 2 * GH_PNODE_MAX_DEPTH + 2)
        bad("tree deeper than the readers allow");
    uint32_t count = 0;
    for (const struct gh_pnode *c = n->first; c; c = c->next) {
        if (c->parent != n || c->index != count)
            bad("child does not link back to its parent");
        count++;
        check_tree(c, depth + 1);
    }
    if (count != n->n)
        bad("child count");
}

static void lines_in_range(const uint8_t *data, size_t size, const struct gh_pnode_err *e)
{
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (!e->reason || e->line > lines)
        bad("error without reason or past the last line");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum gh_pformat fmt = data[0] == 't'   ? GH_PFORMAT_TOML
                          : data[0] == 'c' ? GH_PFORMAT_JSONC
                                           : GH_PFORMAT_JSON;
    const char *src = (const char *)data + 1;
    size_t len = size - 1;
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_pnode *root = NULL;
    struct gh_pnode_err err = {0};
    enum gh_rc rc = fmt == GH_PFORMAT_TOML
                        ? gh_pnode_parse_toml(a, src, len, &root, &err)
                        : gh_pnode_parse_json(a, src, len, fmt == GH_PFORMAT_JSONC, &root, &err);
    if (rc == GH_OK)
        check_tree(root, 0);
    else
        lines_in_range(data + 1, len, &err);
    gh_arena_free(a);

    struct gh_scan_report *r = gh_scan_report_new();
    gh_scan_buffer(r, "fuzz.input", src, len, fmt);
    gh_scan_report_sort(r);
    struct gh_buf b;
    gh_buf_init(&b, 64u << 20);
    if (gh_scan_write_text(r, &b) || gh_scan_write_json(r, &b) || gh_scan_write_sarif(r, &b))
        bad("report writer failed");
    gh_buf_release(&b);
    gh_scan_report_free(r);
    return 0;
}
