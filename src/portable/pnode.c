/*
 * portable/pnode.c owns the small value tree client entries are built as, and its three
 * writers: JSON (indented in the style of the file it goes into), TOML values and YAML blocks.
 * Building one tree per entry lets one client table drive every format and the merge code
 * splice an entry into a file at any depth.
 */
#include "portable/internal.h"

#include <stdio.h>

#define PN_MAX_KIDS 4096 /* members of one node: far above any client entry */

static struct pnode *pn_new(struct gh_arena *a, enum pnode_kind k)
{
    struct pnode *n = gh_arena_calloc(a, sizeof(*n));
    n->kind = k;
    return n;
}

struct pnode *gh_pn_obj(struct gh_arena *a)
{
    return pn_new(a, PN_OBJ);
}

struct pnode *gh_pn_arr(struct gh_arena *a)
{
    return pn_new(a, PN_ARR);
}

struct pnode *gh_pn_add(struct gh_arena *a, struct pnode *parent, const char *key,
                        struct pnode *kid)
{
    GH_BUG_ON(parent->n >= PN_MAX_KIDS);
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct pnode **k = gh_arena_alloc(a, cap * sizeof(*k));
        if (parent->n)
            memcpy(k, parent->kids, parent->n * sizeof(*k));
        parent->kids = k;
        parent->cap = cap;
    }
    kid->key = key;
    parent->kids[parent->n++] = kid;
    return kid;
}

struct pnode *gh_pn_add_str(struct gh_arena *a, struct pnode *parent, const char *key,
                            const char *s)
{
    struct pnode *n = pn_new(a, PN_STR);
    n->str = s;
    return gh_pn_add(a, parent, key, n);
}

struct pnode *gh_pn_add_bool(struct gh_arena *a, struct pnode *parent, const char *key, bool b)
{
    struct pnode *n = pn_new(a, PN_BOOL);
    n->b = b;
    return gh_pn_add(a, parent, key, n);
}

struct pnode *gh_pn_get(const struct pnode *obj, const char *key)
{
    for (size_t i = 0; obj && i < obj->n; i++)
        if (obj->kids[i]->key && strcmp(obj->kids[i]->key, key) == 0)
            return obj->kids[i];
    return NULL;
}

static enum gh_rc indent(struct gh_buf *b, const char *unit, int depth)
{
    enum gh_rc rc = gh_buf_puts(b, "\n");
    for (int i = 0; rc == GH_OK && i < depth; i++)
        rc = gh_buf_puts(b, unit);
    return rc;
}

enum gh_rc gh_pn_write_json(struct gh_buf *b, const struct pnode *n, const char *unit, int depth)
{
    if (n->kind == PN_STR || n->kind == PN_RAW)
        return gh_json_write_str(b, n->str, strlen(n->str));
    if (n->kind == PN_BOOL)
        return gh_buf_puts(b, n->b ? "true" : "false");
    bool obj = n->kind == PN_OBJ;
    enum gh_rc rc = gh_buf_puts(b, obj ? "{" : "[");
    /* short string arrays stay on one line, as people write "args" by hand */
    bool flat = !obj && n->n <= 8;
    for (size_t i = 0; i < n->n && flat; i++)
        flat = n->kids[i]->kind == PN_STR && strlen(n->kids[i]->str) < 60;
    for (size_t i = 0; rc == GH_OK && i < n->n; i++) {
        if (i)
            rc = gh_buf_puts(b, flat ? ", " : ",");
        if (rc == GH_OK && !flat)
            rc = indent(b, unit, depth + 1);
        if (rc == GH_OK && obj) {
            rc = gh_json_write_str(b, n->kids[i]->key, strlen(n->kids[i]->key));
            if (rc == GH_OK)
                rc = gh_buf_puts(b, ": ");
        }
        if (rc == GH_OK)
            rc = gh_pn_write_json(b, n->kids[i], unit, depth + 1);
    }
    if (rc == GH_OK && n->n && !flat)
        rc = indent(b, unit, depth);
    return rc ? rc : gh_buf_puts(b, obj ? "}" : "]");
}

/* TOML basic string: the JSON escapes minus the ones TOML lacks (\/ is never produced). */
static enum gh_rc toml_str(struct gh_buf *b, const char *s)
{
    enum gh_rc rc = gh_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; rc == GH_OK && *p; p++) {
        if (*p == '"' || *p == '\\')
            rc = gh_buf_appendf(b, "\\%c", *p);
        else if (*p == '\n')
            rc = gh_buf_puts(b, "\\n");
        else if (*p == '\t')
            rc = gh_buf_puts(b, "\\t");
        else if (*p == '\r')
            rc = gh_buf_puts(b, "\\r");
        else if (*p < 0x20 || *p == 0x7f)
            rc = gh_buf_appendf(b, "\\u%04x", *p);
        else
            rc = gh_buf_append(b, p, 1);
    }
    return rc ? rc : gh_buf_puts(b, "\"");
}

static bool toml_bare(const char *k)
{
    if (!*k)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

enum gh_rc gh_pn_write_toml_key(struct gh_buf *b, const char *k)
{
    return toml_bare(k) ? gh_buf_puts(b, k) : toml_str(b, k);
}

enum gh_rc gh_pn_write_toml_value(struct gh_buf *b, const struct pnode *n)
{
    if (n->kind == PN_STR)
        return toml_str(b, n->str);
    if (n->kind == PN_BOOL)
        return gh_buf_puts(b, n->b ? "true" : "false");
    if (n->kind == PN_RAW)
        return gh_buf_puts(b, n->str);
    bool obj = n->kind == PN_OBJ;
    enum gh_rc rc = gh_buf_puts(b, obj ? "{ " : "[");
    for (size_t i = 0; rc == GH_OK && i < n->n; i++) {
        if (i)
            rc = gh_buf_puts(b, ", ");
        if (rc == GH_OK && obj) {
            rc = gh_pn_write_toml_key(b, n->kids[i]->key);
            if (rc == GH_OK)
                rc = gh_buf_puts(b, " = ");
        }
        if (rc == GH_OK)
            rc = gh_pn_write_toml_value(b, n->kids[i]);
    }
    if (rc == GH_OK && obj && n->n == 0)
        return gh_buf_puts(b, "}");
    return rc ? rc : gh_buf_puts(b, obj ? " }" : "]");
}

/* YAML scalars are always double-quoted: no plain-scalar pitfalls (yes/no, :, #, leading $). */
static enum gh_rc yaml_scalar(struct gh_buf *b, const struct pnode *n)
{
    if (n->kind == PN_BOOL)
        return gh_buf_puts(b, n->b ? "true" : "false");
    return gh_json_write_str(b, n->str, strlen(n->str));
}

static enum gh_rc yaml_pad(struct gh_buf *b, int depth)
{
    enum gh_rc rc = GH_OK;
    for (int i = 0; rc == GH_OK && i < depth; i++)
        rc = gh_buf_puts(b, "  ");
    return rc;
}

/* A key that YAML reads back as the same string unquoted. */
static enum gh_rc yaml_key(struct gh_buf *b, const char *k)
{
    bool plain = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_';
    for (const char *p = k; plain && *p; p++)
        plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '-';
    static const char *const reserved[] = {
        "y",  "Y",    "n",     "N",    "yes", "no", "on", "off", "true", "false", "null", "Yes",
        "No", "True", "False", "Null", "YES", "NO", "ON", "OFF", "TRUE", "FALSE", "NULL"};
    for (size_t i = 0; plain && i < GH_ARRAY_LEN(reserved); i++)
        plain = strcmp(k, reserved[i]) != 0;
    return plain ? gh_buf_puts(b, k) : gh_json_write_str(b, k, strlen(k));
}

/* Mapping members each on its own line at depth; nested containers one level deeper. */
static enum gh_rc yaml_members(struct gh_buf *b, const struct pnode *n, int depth,
                               bool first_inline)
{
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < n->n; i++) {
        const struct pnode *k = n->kids[i];
        if (!(i == 0 && first_inline))
            rc = yaml_pad(b, depth);
        if (rc == GH_OK)
            rc = yaml_key(b, k->key);
        if (rc == GH_OK)
            rc = gh_buf_puts(b, ":");
        if (rc == GH_OK && (k->kind == PN_STR || k->kind == PN_BOOL || k->n == 0))
            rc = k->kind == PN_OBJ   ? gh_buf_puts(b, " {}\n")
                 : k->kind == PN_ARR ? gh_buf_puts(b, " []\n")
                                     : gh_buf_puts(b, " ");
        else if (rc == GH_OK)
            rc = gh_buf_puts(b, "\n");
        if (rc == GH_OK && (k->kind == PN_STR || k->kind == PN_BOOL)) {
            rc = yaml_scalar(b, k);
            if (rc == GH_OK)
                rc = gh_buf_puts(b, "\n");
        } else if (rc == GH_OK && k->n) {
            rc = gh_pn_write_yaml(b, k, depth + 1);
        }
    }
    return rc;
}

enum gh_rc gh_pn_write_yaml(struct gh_buf *b, const struct pnode *n, int depth)
{
    if (n->kind == PN_OBJ)
        return yaml_members(b, n, depth, false);
    if (n->kind != PN_ARR) {
        enum gh_rc rc = yaml_pad(b, depth);
        rc = rc ? rc : yaml_scalar(b, n);
        return rc ? rc : gh_buf_puts(b, "\n");
    }
    enum gh_rc rc = GH_OK;
    for (size_t i = 0; rc == GH_OK && i < n->n; i++) {
        const struct pnode *k = n->kids[i];
        rc = yaml_pad(b, depth);
        if (rc == GH_OK)
            rc = gh_buf_puts(b, "- ");
        if (rc == GH_OK && k->kind == PN_OBJ && k->n)
            rc = yaml_members(b, k, depth + 1, true);
        else if (rc == GH_OK && (k->kind == PN_STR || k->kind == PN_BOOL)) {
            rc = yaml_scalar(b, k);
            rc = rc ? rc : gh_buf_puts(b, "\n");
        } else if (rc == GH_OK)
            rc = gh_buf_puts(b, k->kind == PN_OBJ ? "{}\n" : "[]\n");
    }
    return rc;
}
