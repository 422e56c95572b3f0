/*
 * config/yaml.c owns the step from YAML bytes to a small node tree with source positions. It is
 * the only place that talks to libyaml, and it refuses what a configuration never needs and an
 * attacker would like: aliases and anchors (alias bombs), tags, several documents, duplicate or
 * non-string keys, deep nesting, huge mappings, sequences and scalars.
 */
#include "core/core.h"
#include "config/config.h"
#include "config/internal.h"

#include <stdio.h>
#include <yaml.h>

struct builder {
    struct cfg_state *st;
    struct gh_config_node *root; /* the document's top node */
    struct gh_config_node *cur;  /* innermost open mapping or sequence */
    int depth;                   /* open containers */
    int docs;                    /* documents seen */
    const char *key;             /* pending key of cur (a mapping) waiting for its value */
    int key_line, key_column;
};

static void put_key(char *out, size_t cap, size_t *at, const char *k)
{
    /* Keys come from the file: keep the path printable and short whatever they hold. */
    size_t i = 0;
    for (; k[i] && i < 64 && *at + 1 < cap; i++)
        out[(*at)++] = (k[i] > 0x20 && k[i] < 0x7f) ? k[i] : '?';
    if (k[i] && *at + 3 < cap) {
        memcpy(out + *at, "...", 3);
        *at += 3;
    }
    out[*at] = '\0';
}

static void path_into(const struct gh_config_node *n, char *out, size_t cap, size_t *at)
{
    if (!n || !n->parent)
        return;
    path_into(n->parent, out, cap, at); /* depth is capped at CFG_MAX_DEPTH */
    if (n->key) {
        if (*at > 0 && *at + 1 < cap)
            out[(*at)++] = '.';
        out[*at] = '\0';
        put_key(out, cap, at, n->key);
    } else {
        int w = snprintf(out + *at, cap - *at, "[%zu]", n->index);
        if (w > 0)
            *at = GH_MIN(*at + (size_t)w, cap - 1);
    }
}

void gh_config__node_path(const struct gh_config_node *n, char *out, size_t cap)
{
    size_t at = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    path_into(n, out, cap, &at);
}

enum gh_rc gh_config__err(struct gh_config_error *err, int line, int column, const char *path,
                          const char *fmt, ...)
{
    va_list ap;
    err->line = line;
    err->column = column;
    snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return GH_E_PARSE;
}

enum gh_rc gh_config__err_node(struct cfg_state *st, const struct gh_config_node *n,
                               const char *fmt, ...)
{
    va_list ap;
    st->err->line = n->line;
    st->err->column = n->column;
    gh_config__node_path(n, st->err->path, sizeof(st->err->path));
    va_start(ap, fmt);
    vsnprintf(st->err->msg, sizeof(st->err->msg), fmt, ap);
    va_end(ap);
    return GH_E_PARSE;
}

/* The path of the slot the next event fills (for errors raised before a node exists). */
static void slot_path(const struct builder *b, const char *key, char *out, size_t cap)
{
    size_t at;
    gh_config__node_path(b->cur, out, cap);
    at = strlen(out);
    if (!b->cur || (key && !*key)) /* "" names the container itself */
        return;
    if (!key && b->cur->kind == CFG_MAP)
        key = b->key;
    if (key) {
        if (at > 0 && at + 1 < cap)
            out[at++] = '.';
        out[at] = '\0';
        put_key(out, cap, &at, key);
    } else if (b->cur->kind == CFG_SEQ) {
        snprintf(out + at, cap - at, "[%zu]", b->cur->n);
    }
}

static enum gh_rc slot_err(struct builder *b, const yaml_mark_t *m, const char *key,
                           const char *msg)
{
    char path[256];
    slot_path(b, key, path, sizeof(path));
    return gh_config__err(b->st->err, (int)m->line + 1, (int)m->column + 1, path, "%s", msg);
}

static void append(struct gh_arena *a, struct gh_config_node *parent, struct gh_config_node *child)
{
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap ? parent->cap * 2 : 8;
        struct gh_config_node **items = gh_arena_alloc(a, ncap * sizeof(*items));
        if (parent->n)
            memcpy(items, parent->items, parent->n * sizeof(*items));
        parent->items = items;
        parent->cap = ncap;
    }
    parent->items[parent->n++] = child;
}

static bool printable_key(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

/* A scalar while cur is a mapping waiting for a key: check it and keep it pending. */
static enum gh_rc take_key(struct builder *b, const yaml_event_t *ev)
{
    const unsigned char *v = ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (b->cur->n >= CFG_MAX_MAP_KEYS)
        return slot_err(b, &ev->start_mark, "", "mapping has too many keys (max 256)");
    if (n == 0 || n > 256 || !printable_key(v, n))
        return slot_err(b, &ev->start_mark, "", "keys must be 1-256 printable characters");
    const char *k = gh_arena_strndup(b->st->arena, (const char *)v, n);
    for (size_t i = 0; i < b->cur->n; i++) {
        if (strcmp(b->cur->items[i]->key, k) == 0)
            return slot_err(b, &ev->start_mark, k, "duplicate key");
    }
    b->key = k;
    b->key_line = (int)ev->start_mark.line + 1;
    b->key_column = (int)ev->start_mark.column + 1;
    return GH_OK;
}

/* Hangs a new node under cur (or makes it the root). */
static enum gh_rc attach(struct builder *b, struct gh_config_node *n, const yaml_mark_t *m)
{
    if (!b->cur) {
        if (b->root)
            return slot_err(b, m, NULL, "only one YAML document is allowed");
        b->root = n;
        return GH_OK;
    }
    if (b->cur->kind == CFG_SEQ && b->cur->n >= CFG_MAX_SEQ)
        return slot_err(b, m, NULL, "list is too long (max 1024 entries)");
    n->parent = b->cur;
    if (b->cur->kind == CFG_MAP) {
        n->key = b->key;
        n->key_line = b->key_line;
        n->key_column = b->key_column;
        b->key = NULL;
    } else {
        n->index = b->cur->n;
    }
    append(b->st->arena, b->cur, n);
    return GH_OK;
}

static struct gh_config_node *node_new(struct builder *b, enum cfg_kind kind, const yaml_mark_t *m)
{
    struct gh_config_node *n = gh_arena_calloc(b->st->arena, sizeof(*n));
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->column = (int)m->column + 1;
    return n;
}

static enum gh_rc on_scalar(struct builder *b, const yaml_event_t *ev)
{
    if (b->cur && b->cur->kind == CFG_MAP && !b->key)
        return take_key(b, ev);
    if (ev->data.scalar.length > CFG_MAX_STRING)
        return slot_err(b, &ev->start_mark, NULL, "value is too long (max 4096 bytes)");
    struct gh_config_node *n = node_new(b, CFG_SCALAR, &ev->start_mark);
    n->len = ev->data.scalar.length;
    n->text = gh_arena_strndup(b->st->arena, (const char *)ev->data.scalar.value, n->len);
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n, &ev->start_mark);
}

static enum gh_rc on_open(struct builder *b, const yaml_event_t *ev, enum cfg_kind kind)
{
    if (b->cur && b->cur->kind == CFG_MAP && !b->key)
        return slot_err(b, &ev->start_mark, "", "keys must be plain strings");
    if (b->depth >= CFG_MAX_DEPTH)
        return slot_err(b, &ev->start_mark, NULL, "nesting is too deep (max 16 levels)");
    struct gh_config_node *n = node_new(b, kind, &ev->start_mark);
    enum gh_rc rc = attach(b, n, &ev->start_mark);
    if (rc)
        return rc;
    b->cur = n;
    b->depth++;
    return GH_OK;
}

/* Anchors, aliases and tags have no use in this schema; refusing them kills alias bombs and
 * type confusion (e.g. !!binary) at the door. */
static enum gh_rc refuse_extras(struct builder *b, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    if (ev->type == YAML_ALIAS_EVENT)
        return slot_err(b, &ev->start_mark, NULL, "YAML aliases are not allowed");
    if (ev->type == YAML_SCALAR_EVENT) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    if (anchor)
        return slot_err(b, &ev->start_mark, NULL, "YAML anchors are not allowed");
    if (tag)
        return slot_err(b, &ev->start_mark, NULL, "YAML tags are not allowed");
    return GH_OK;
}

static enum gh_rc on_event(struct builder *b, const yaml_event_t *ev)
{
    enum gh_rc rc = refuse_extras(b, ev);
    if (rc)
        return rc;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->docs > 1)
            return slot_err(b, &ev->start_mark, NULL, "only one YAML document is allowed");
        return GH_OK;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_MAPPING_START_EVENT:
        return on_open(b, ev, CFG_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(b, ev, CFG_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        b->cur = b->cur->parent;
        b->depth--;
        return GH_OK;
    default:
        return GH_OK;
    }
}

static enum gh_rc syntax_err(struct builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) /* no line/column from the reader, only an offset */
        return gh_config__err(b->st->err, 0, 0, "", "invalid encoding at byte %zu: %s",
                              p->problem_offset, problem);
    /* libyaml's problem and context strings are fixed texts, never input bytes. */
    if (p->context)
        return gh_config__err(b->st->err, (int)p->problem_mark.line + 1,
                              (int)p->problem_mark.column + 1, "", "YAML syntax: %s %s", p->context,
                              problem);
    return gh_config__err(b->st->err, (int)p->problem_mark.line + 1,
                          (int)p->problem_mark.column + 1, "", "YAML syntax: %s", problem);
}

enum gh_rc gh_config__tree_build(struct cfg_state *st, const char *yaml, size_t len,
                                 struct gh_config_node **root)
{
    struct builder b = {.st = st};
    yaml_parser_t p;
    enum gh_rc rc = GH_OK;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return gh_config__err(st->err, 0, 0, "", "YAML parser initialization failed");
    yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
    while (!done && rc == GH_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_err(&b, &p);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc == GH_OK)
        *root = b.root;
    return rc;
}
