/*
 * portable/scan_node.c owns the value tree the scanner walks and the JSON/JSONC reader that
 * builds it: JSONC is turned into JSON by blanking comments and trailing commas in a copy (so
 * byte offsets, and with them lines and columns, stay those of the file), then json/ parses it
 * strictly.
 */
#include "core/core.h"
#include "json/json.h"
#include "portable/internal_scan.h"

struct gh_pnode *scan_node_new(struct gh_arena *a, struct pnode_budget *b, enum gh_pnode_type t,
                               uint32_t line, uint32_t col)
{
    if (b->used >= GH_PNODE_MAX_NODES)
        return NULL;
    b->used++;
    struct gh_pnode *n = gh_arena_calloc(a, sizeof(*n));
    n->type = t;
    n->line = line;
    n->col = col;
    return n;
}

void scan_node_append(struct gh_pnode *parent, struct gh_pnode *child)
{
    child->parent = parent;
    child->index = parent->n++;
    if (parent->last)
        parent->last->next = child;
    else
        parent->first = child;
    parent->last = child;
}

struct gh_pnode *scan_node_find(const struct gh_pnode *t, struct gh_slice key)
{
    if (!t || t->type != GH_PNODE_TABLE)
        return NULL;
    for (struct gh_pnode *c = t->first; c; c = c->next)
        if (gh_slice_eq(c->key, key))
            return c;
    return NULL;
}

const struct gh_pnode *gh_pnode_get(const struct gh_pnode *t, const char *key)
{
    return scan_node_find(t, gh_slice_cstr(key));
}

/* ---- JSONC to JSON ---- */

/* Blanks a comment starting at s[i] (keeping newlines); returns the index after it, or 0 when
 * a block comment never ends. */
static size_t blank_comment(char *s, size_t len, size_t i)
{
    if (s[i + 1] == '/') {
        while (i < len && s[i] != '\n')
            s[i++] = ' ';
        return i;
    }
    size_t j = i + 2;
    while (j + 1 < len && !(s[j] == '*' && s[j + 1] == '/'))
        j++;
    if (j + 1 >= len)
        return 0;
    for (size_t k = i; k < j + 2; k++)
        if (s[k] != '\n')
            s[k] = ' ';
    return j + 2;
}

/* A comma whose next significant byte closes a container is blanked (JSONC trailing comma). */
static void blank_trailing_comma(char *s, size_t len, size_t i)
{
    size_t j = i + 1, k = i;
    while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
        j++;
    while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\r' || s[k - 1] == '\n'))
        k--;
    /* Only a comma after a value: "a": , stays an error at the comma. */
    bool after_value = k > 0 && !strchr(",:[{", s[k - 1]);
    if (after_value && j < len && (s[j] == '}' || s[j] == ']'))
        s[i] = ' ';
}

/* Rewrites s in place; returns the offset of an unterminated block comment, or len on success. */
static size_t jsonc_strip(char *s, size_t len)
{
    if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        memset(s, ' ', 3);
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '/' && i + 1 < len && (s[i + 1] == '/' || s[i + 1] == '*')) {
            size_t next = blank_comment(s, len, i);
            if (next == 0)
                return i;
            i = next - 1;
        }
    }
    /* Second pass: comments are gone, so a comma's next significant byte is plain to see. */
    in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == ',') {
            blank_trailing_comma(s, len, i);
        }
    }
    return len;
}

/* ---- json/ tokens to nodes ---- */

/* Line/column of byte offsets visited in increasing order (tokens come in document order). */
struct cursor {
    const char *src;
    size_t off;
    uint32_t line, col;
};

static void cursor_to(struct cursor *c, size_t off)
{
    for (; c->off < off; c->off++) {
        unsigned char ch = (unsigned char)c->src[c->off];
        if (ch == '\n') {
            c->line++;
            c->col = 1;
        } else if ((ch & 0xc0) != 0x80) {
            c->col++;
        }
    }
}

struct jbuild {
    struct gh_arena *a;
    const struct gh_json_doc *d;
    struct cursor cur;
    struct pnode_budget budget;
};

static const enum gh_pnode_type JTYPE[] = {
    [GH_JSON_NULL] = GH_PNODE_NULL,     [GH_JSON_FALSE] = GH_PNODE_BOOL,
    [GH_JSON_TRUE] = GH_PNODE_BOOL,     [GH_JSON_NUMBER] = GH_PNODE_NUMBER,
    [GH_JSON_STRING] = GH_PNODE_STRING, [GH_JSON_ARRAY] = GH_PNODE_ARRAY,
    [GH_JSON_OBJECT] = GH_PNODE_TABLE,
};

/* Converts token i (and its subtree; json/ caps the depth at 64) into a node. */
static struct gh_pnode *jconvert(struct jbuild *b, uint32_t i)
{
    const struct gh_json_tok *t = gh_json_tok(b->d, i);
    cursor_to(&b->cur, t->start);
    struct gh_pnode *n = scan_node_new(b->a, &b->budget, JTYPE[t->type], b->cur.line, b->cur.col);
    if (!n)
        return NULL;
    if (t->type == GH_JSON_STRING) {
        gh_json_str(b->d, b->a, i, &n->text);
    } else if (t->type == GH_JSON_ARRAY) {
        for (uint32_t k = i + 1; k < t->end; k = b->d->toks[k].end) {
            struct gh_pnode *c = jconvert(b, k);
            if (!c)
                return NULL;
            scan_node_append(n, c);
        }
    } else if (t->type == GH_JSON_OBJECT) {
        for (uint32_t k = i + 1; k < t->end; k = b->d->toks[k + 1].end) {
            struct gh_slice key;
            gh_json_str(b->d, b->a, k, &key);
            struct gh_pnode *c = jconvert(b, k + 1);
            if (!c)
                return NULL;
            c->key = key;
            scan_node_append(n, c);
        }
    } else {
        struct gh_slice raw = gh_json_raw(b->d, i);
        n->text = raw;
    }
    return n;
}

static void err_at(struct gh_pnode_err *err, const char *src, size_t off, const char *reason)
{
    struct cursor c = {.src = src, .line = 1, .col = 1};
    cursor_to(&c, off);
    err->line = c.line;
    err->col = c.col;
    err->reason = reason;
}

enum gh_rc gh_pnode_parse_json(struct gh_arena *a, const char *src, size_t len, bool jsonc,
                               struct gh_pnode **root, struct gh_pnode_err *err)
{
    *root = NULL;
    if (len > GH_PNODE_MAX_BYTES) {
        err->line = err->col = 0;
        err->reason = "file is larger than 4 MiB";
        return GH_E_LIMIT;
    }
    char *copy = gh_arena_alloc(a, len + 1);
    memcpy(copy, src, len);
    copy[len] = '\0';
    if (jsonc) {
        size_t bad = jsonc_strip(copy, len);
        if (bad != len) {
            err_at(err, src, bad, "comment is never closed (missing */)");
            return GH_E_PARSE;
        }
    }
    struct gh_json_limits lim = {.max_depth = GH_PNODE_MAX_DEPTH,
                                 .max_tokens = GH_PNODE_MAX_NODES,
                                 .max_bytes = GH_PNODE_MAX_BYTES};
    struct gh_json_doc doc;
    struct gh_json_err jerr = {0};
    enum gh_rc rc = gh_json_parse(a, copy, len, &lim, &doc, &jerr);
    if (rc != GH_OK) {
        err_at(err, src, GH_MIN(jerr.offset, len), jerr.reason ? jerr.reason : "not JSON");
        return rc;
    }
    struct jbuild b = {.a = a, .d = &doc, .cur = {.src = copy, .line = 1, .col = 1}};
    *root = jconvert(&b, 0);
    if (!*root) {
        err->line = err->col = 0;
        err->reason = "too many values";
        return GH_E_LIMIT;
    }
    return GH_OK;
}
