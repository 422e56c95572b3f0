/*
 * state/memory.c owns the in-process backend: a sharded hash of SHA-256(namespace, key) with an
 * expiry per entry. Shards have their own locks so workers rarely meet; expired entries are
 * swept on the way (an insert into a full shard first sweeps it).
 */
#include "core/core.h"
#include "state/state.h"

#include <pthread.h>

#define SHARDS 16

struct entry {
    unsigned char id[32]; /* SHA-256 of ns || 0 || key: no raw key is kept */
    uint64_t expires_ms;
    struct entry *next;
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t nbuckets;
    size_t n;
    size_t max;
};

struct gh_state {
    struct shard shards[SHARDS];
};

struct gh_state *gh_state_new_memory(size_t max_entries)
{
    struct gh_state *s = gh_xcalloc(1, sizeof(*s));
    size_t per = max_entries / SHARDS + 1;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&s->shards[i].lock, NULL);
        s->shards[i].nbuckets = 64;
        while (s->shards[i].nbuckets < per && s->shards[i].nbuckets < (1u << 20))
            s->shards[i].nbuckets *= 2;
        s->shards[i].buckets = gh_xcalloc(s->shards[i].nbuckets, sizeof(struct entry *));
        s->shards[i].max = per;
    }
    return s;
}

void gh_state_free(struct gh_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < SHARDS; i++) {
        struct shard *sh = &s->shards[i];
        for (size_t b = 0; b < sh->nbuckets; b++) {
            while (sh->buckets[b]) {
                struct entry *e = sh->buckets[b];
                sh->buckets[b] = e->next;
                free(e);
            }
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(s);
}

static void sweep_locked(struct shard *sh, uint64_t now)
{
    for (size_t b = 0; b < sh->nbuckets; b++) {
        for (struct entry **pp = &sh->buckets[b]; *pp;) {
            if ((*pp)->expires_ms <= now) {
                struct entry *e = *pp;
                *pp = e->next;
                free(e);
                sh->n--;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

enum gh_rc gh_state_once(struct gh_state *s, struct gh_slice ns, struct gh_slice key,
                         uint64_t ttl_ms)
{
    unsigned char id[32];
    struct gh_buf b;
    gh_buf_init(&b, ns.len + key.len + 1);
    gh_buf_append(&b, ns.ptr, ns.len);
    gh_buf_append(&b, "", 1);
    gh_buf_append(&b, key.ptr, key.len);
    gh_sha256(b.data, b.len, id);
    gh_buf_release(&b);
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    struct shard *sh = &s->shards[h % SHARDS];
    uint64_t now = gh_clock_ms();
    enum gh_rc rc = GH_OK;
    pthread_mutex_lock(&sh->lock);
    size_t bi = (size_t)(h >> 8) & (sh->nbuckets - 1);
    for (struct entry **pp = &sh->buckets[bi]; *pp; pp = &(*pp)->next) {
        if (memcmp((*pp)->id, id, 32) == 0) {
            if ((*pp)->expires_ms > now) {
                rc = GH_E_DECLINED;
                goto out;
            }
            (*pp)->expires_ms = now + ttl_ms; /* expired: this is a new first use */
            goto out;
        }
    }
    if (sh->n >= sh->max)
        sweep_locked(sh, now);
    if (sh->n >= sh->max) {
        rc = GH_E_LIMIT;
        goto out;
    }
    struct entry *e = gh_xmalloc(sizeof(*e));
    memcpy(e->id, id, 32);
    e->expires_ms = now + ttl_ms;
    e->next = sh->buckets[bi];
    sh->buckets[bi] = e;
    sh->n++;
out:
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

size_t gh_state_size(struct gh_state *s)
{
    size_t n = 0;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        n += s->shards[i].n;
        pthread_mutex_unlock(&s->shards[i].lock);
    }
    return n;
}
