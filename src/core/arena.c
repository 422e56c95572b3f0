/*
 * core/arena.c owns request arenas: a bump allocator over linked chunks with deferred cleanups.
 * With -DGH_ARENA_DEBUG every allocation gets its own malloc so ASan and valgrind see each one.
 */
#include "core/core.h"

#include <stdio.h>

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char mem[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
};

struct gh_arena {
    struct chunk *chunks; /* newest first; the last one is the first chunk, kept on reset */
    struct cleanup *cleanups;
    size_t chunk_size;
    size_t used;
};

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = gh_xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

struct gh_arena *gh_arena_new(size_t chunk_size)
{
    struct gh_arena *a = gh_xcalloc(1, sizeof(*a));
    a->chunk_size = chunk_size < 256 ? 256 : chunk_size;
#ifndef GH_ARENA_DEBUG
    a->chunks = chunk_new(a->chunk_size);
#endif
    return a;
}

static void run_cleanups(struct gh_arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
}

static void free_chunks_after(struct chunk **head, bool keep_last)
{
    struct chunk *c = *head;
    while (c && (!keep_last || c->next)) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    *head = c;
    if (c)
        c->used = 0;
}

void gh_arena_free(struct gh_arena *a)
{
    if (!a)
        return;
    run_cleanups(a);
    free_chunks_after(&a->chunks, false);
    free(a);
}

void gh_arena_reset(struct gh_arena *a)
{
    run_cleanups(a);
#ifdef GH_ARENA_DEBUG
    free_chunks_after(&a->chunks, false);
#else
    free_chunks_after(&a->chunks, true);
#endif
    a->used = 0;
}

void *gh_arena_alloc(struct gh_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        gh_bug(__FILE__, __LINE__, "arena allocation overflow");
    a->used += need;
#ifdef GH_ARENA_DEBUG
    struct chunk *d = chunk_new(need);
    d->next = a->chunks;
    a->chunks = d;
    return d->mem;
#else
    struct chunk *c = a->chunks;
    if (c->size - c->used < need) {
        struct chunk *nc = chunk_new(need > a->chunk_size ? need : a->chunk_size);
        if (need > a->chunk_size && c) {
            /* a large block goes behind the current chunk so the current one keeps filling */
            nc->next = c->next;
            c->next = nc;
            nc->used = need;
            return nc->mem;
        }
        nc->next = c;
        a->chunks = nc;
        c = nc;
    }
    void *p = c->mem + c->used;
    c->used += need;
    return p;
#endif
}

void *gh_arena_calloc(struct gh_arena *a, size_t n)
{
    void *p = gh_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *gh_arena_strndup(struct gh_arena *a, const char *s, size_t n)
{
    char *p = gh_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *gh_arena_sprintf(struct gh_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    GH_BUG_ON(n < 0);
    char *p = gh_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void gh_arena_defer(struct gh_arena *a, void (*fn)(void *), void *arg)
{
    struct cleanup *c = gh_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t gh_arena_used(const struct gh_arena *a)
{
    return a->used;
}
