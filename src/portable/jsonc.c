/*
 * portable/jsonc.c owns reading client JSON files, which are often JSONC (VS Code's mcp.json and
 * Zed's settings.json allow comments and trailing commas): a copy with comments and trailing
 * commas blanked to spaces goes through the strict parser, so every token offset is also an
 * offset into the original file. That is what lets merge and migrate splice edits into the
 * original and keep the user's comments, key order and indentation.
 */
#include "portable/internal.h"

#include <stdio.h>

static void blank(char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (s[i] != '\n' && s[i] != '\r')
            s[i] = ' ';
}

/* Comments to spaces; returns whether there were any. Strings are skipped whole. */
static bool blank_comments(char *s, size_t len)
{
    bool any = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
            size_t j = i;
            while (j < len && s[j] != '\n')
                j++;
            blank(s, i, j);
            any = true;
            i = j;
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t j = i + 2;
            while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            j = j + 1 < len ? j + 2 : len; /* unterminated: to the end, the parser then fails */
            blank(s, i, j);
            any = true;
            i = j - 1;
        }
    }
    return any;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void blank_trailing_commas(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
        } else if (s[i] == ',') {
            size_t j = i + 1;
            while (j < len && is_ws(s[j]))
                j++;
            if (j < len && (s[j] == '}' || s[j] == ']'))
                s[i] = ' ';
        }
    }
}

static void line_col(const char *s, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

enum gh_rc gh_pj_parse(struct gh_arena *a, const char *name, const char *src, size_t len,
                       struct pjson *out, struct gh_portable_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len > GH_PORTABLE_MAX_FILE)
        return gh_perr(err, GH_E_LIMIT, "%s: larger than %u bytes", name, GH_PORTABLE_MAX_FILE);
    out->orig = src;
    out->len = len;
    out->clean = gh_arena_strndup(a, src, len);
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        blank(out->clean, 0, 3);
    out->had_comments = blank_comments(out->clean, len);
    blank_trailing_commas(out->clean, len);
    struct gh_json_err je = {0};
    enum gh_rc rc = gh_json_parse(a, out->clean, len, NULL, &out->doc, &je);
    if (rc != GH_OK) {
        int line, col;
        line_col(src, GH_MIN(je.offset, len), &line, &col);
        return gh_perr(err, rc, "%s:%d:%d: not valid JSON: %s", name, line, col,
                       je.reason ? je.reason : "malformed");
    }
    if (out->doc.toks[0].type != GH_JSON_OBJECT)
        return gh_perr(err, GH_E_PARSE, "%s: the top level is not a JSON object", name);
    return GH_OK;
}

char *gh_pj_str(struct gh_arena *a, const struct pjson *p, uint32_t i)
{
    struct gh_slice s;
    if (gh_json_str(&p->doc, a, i, &s) != GH_OK)
        return gh_arena_strndup(a, "", 0);
    return gh_arena_strndup(a, s.ptr, s.len);
}

uint32_t gh_pj_first(const struct pjson *p, uint32_t obj)
{
    const struct gh_json_tok *t = gh_json_tok(&p->doc, obj);
    return t->type == GH_JSON_OBJECT && t->size ? obj + 1 : 0;
}

uint32_t gh_pj_next(const struct pjson *p, uint32_t obj, uint32_t k)
{
    uint32_t nk = gh_json_tok(&p->doc, k + 1)->end;
    return nk < gh_json_tok(&p->doc, obj)->end ? nk : 0;
}

int32_t gh_pj_get(const struct pjson *p, uint32_t obj, const char *name)
{
    return gh_json_obj_get(&p->doc, obj, name, strlen(name));
}

const char *gh_pj_indent(struct gh_arena *a, const char *src, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (src[i] != '\n')
            continue;
        size_t j = i + 1;
        while (j < len && (src[j] == ' ' || src[j] == '\t') && j - i <= 8)
            j++;
        if (j > i + 1 && j < len && !is_ws(src[j]))
            return src[i + 1] == '\t' ? "\t" : gh_arena_strndup(a, src + i + 1, j - i - 1);
    }
    return "  ";
}

static int edit_cmp(const void *x, const void *y)
{
    const struct pedit *a = x, *b = y;
    return a->off < b->off ? -1 : a->off > b->off;
}

enum gh_rc gh_pedit_apply(const char *src, size_t len, struct pedit *e, size_t n,
                          struct gh_buf *out)
{
    qsort(e, n, sizeof(*e), edit_cmp);
    size_t at = 0;
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < n; i++) {
        GH_BUG_ON(e[i].off < at || e[i].off + e[i].del > len);
        rc = gh_buf_append(out, src + at, e[i].off - at);
        if (rc == GH_OK)
            rc = gh_buf_puts(out, e[i].ins);
        at = e[i].off + e[i].del;
    }
    return rc ? rc : gh_buf_append(out, src + at, len - at);
}
