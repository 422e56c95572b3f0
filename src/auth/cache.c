/*
 * auth/cache.c owns principals (claims deep-copied into one refcounted block) and the
 * verified-token cache: SHA-256 of the token -> principal, so a token's signature is checked
 * once, not once per request. Geometry: 16 shards, each a mutex over a set-associative table
 * of 8-way sets; a full set evicts the entry expiring soonest. Bounded, never allocates on
 * lookup, entries die at their expiry.
 */
#include "core/core.h"
#include "auth/auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "auth/internal.h"

#define SHARDS 16
#define WAYS   8

struct box {
    atomic_uint refs;
    struct gh_auth_principal pub;
    /* then: slice arrays, then string bytes */
};

struct entry {
    unsigned char key[32];       /* SHA-256 of the token */
    int64_t expires;             /* dead at or after this second */
    int64_t expires_ms;          /* when not 0: dead at or after this wall-clock ms instead */
    struct gh_auth_principal *p; /* one reference held by the cache; NULL: empty */
};

struct shard {
    pthread_mutex_t mu;
    struct entry *slots; /* nsets * WAYS */
    uint32_t live;
};

struct gh_auth_token_cache {
    uint32_t nsets; /* per shard, a power of two */
    struct shard shards[SHARDS];
};

/* ---- principals ---- */

static size_t list_bytes(const struct gh_slice *v, uint32_t n)
{
    size_t s = n * sizeof(*v);
    for (uint32_t i = 0; i < n; i++)
        s += v[i].len;
    return s;
}

static struct gh_slice put_str(char **w, struct gh_slice s)
{
    if (!s.ptr)
        return gh_slice(NULL, 0);
    char *at = *w;
    if (s.len)
        memcpy(at, s.ptr, s.len);
    *w += s.len;
    return gh_slice(at, s.len);
}

static struct gh_slice *put_list(char **w, struct gh_slice *arr, const struct gh_slice *v,
                                 uint32_t n)
{
    if (!n)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        arr[i] = put_str(w, v[i]);
    return arr;
}

struct gh_auth_principal *gh_auth_principal_new(const struct gh_auth_claims *c, int64_t expires)
{
    size_t lists = (c->nscopes + c->ngroups + c->nroles + c->nact) * sizeof(struct gh_slice);
    size_t total = sizeof(struct box) + lists + c->iss.len + c->sub.len + c->client_id.len +
                   c->jti.len + c->cnf_jkt.len + list_bytes(c->scopes, c->nscopes) +
                   list_bytes(c->groups, c->ngroups) + list_bytes(c->roles, c->nroles) +
                   list_bytes(c->act, c->nact) + c->payload.len;
    struct box *b = gh_xcalloc(1, total);
    struct gh_slice *arr = (struct gh_slice *)(b + 1);
    char *w = (char *)(arr + c->nscopes + c->ngroups + c->nroles + c->nact);
    struct gh_auth_claims *d = &b->pub.claims;
    atomic_init(&b->refs, 1);
    *d = *c;
    d->iss = put_str(&w, c->iss);
    d->sub = put_str(&w, c->sub);
    d->client_id = put_str(&w, c->client_id);
    d->jti = put_str(&w, c->jti);
    d->cnf_jkt = put_str(&w, c->cnf_jkt);
    d->payload = put_str(&w, c->payload);
    d->scopes = put_list(&w, arr, c->scopes, c->nscopes);
    d->groups = put_list(&w, arr + c->nscopes, c->groups, c->ngroups);
    d->roles = put_list(&w, arr + c->nscopes + c->ngroups, c->roles, c->nroles);
    d->act = put_list(&w, arr + c->nscopes + c->ngroups + c->nroles, c->act, c->nact);
    b->pub.expires = expires;
    gh_auth_principal_key(&b->pub, b->pub.key); /* once per token, not once per request */
    return &b->pub;
}

static struct box *box_of(struct gh_auth_principal *p)
{
    return (struct box *)((char *)p - offsetof(struct box, pub));
}

struct gh_auth_principal *gh_auth_principal_ref(struct gh_auth_principal *p)
{
    atomic_fetch_add_explicit(&box_of(p)->refs, 1, memory_order_relaxed);
    return p;
}

void gh_auth_principal_unref(struct gh_auth_principal *p)
{
    if (!p)
        return;
    struct box *b = box_of(p);
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* ---- token hash ---- */

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    GH_BUG_ON(!sha256_md);
}

void gh_auth_token_hash(struct gh_slice token, unsigned char out[32])
{
    unsigned int n = 32;
    /* Fetched once: EVP_sha256() re-resolves the provider on every call, which is a third of
     * the cost of hashing a typical token. */
    pthread_once(&sha256_once, sha256_fetch);
    if (EVP_Digest(token.ptr, token.len, out, &n, sha256_md, NULL) != 1)
        gh_bug(__FILE__, __LINE__, "EVP_Digest(sha256) failed");
}

/* ---- cache ---- */

struct gh_auth_token_cache *gh_auth_token_cache_new(uint32_t max_entries)
{
    struct gh_auth_token_cache *c = gh_xcalloc(1, sizeof(*c));
    uint32_t per = (GH_MAX(max_entries, 64u) + SHARDS * WAYS - 1) / (SHARDS * WAYS);
    c->nsets = 1;
    while (c->nsets < per)
        c->nsets <<= 1;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&c->shards[i].mu, NULL);
        c->shards[i].slots = gh_xcalloc((size_t)c->nsets * WAYS, sizeof(struct entry));
    }
    return c;
}

void gh_auth_token_cache_free(struct gh_auth_token_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < SHARDS; i++) {
        struct shard *s = &c->shards[i];
        for (size_t k = 0; k < (size_t)c->nsets * WAYS; k++)
            gh_auth_principal_unref(s->slots[k].p);
        free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    free(c);
}

/* The shard and the set a hash lives in (the hash is uniform: any bits will do). */
static struct entry *set_of(struct gh_auth_token_cache *c, const unsigned char h[32],
                            struct shard **sh)
{
    uint32_t x;
    memcpy(&x, h + 4, sizeof(x));
    *sh = &c->shards[h[0] % SHARDS];
    return &(*sh)->slots[(size_t)(x & (c->nsets - 1)) * WAYS];
}

/* Whole seconds for most principals; a principal with a ms deadline (introspection ttl_ms) is
 * judged on it, so a sub-second ttl is neither rounded away nor up. */
static bool dead_at(int64_t expires, int64_t expires_ms, int64_t now)
{
    return expires_ms ? gh_clock_wall_ms() >= expires_ms : now >= expires;
}

static void drop(struct shard *s, struct entry *e)
{
    gh_auth_principal_unref(e->p);
    e->p = NULL;
    s->live--;
}

struct gh_auth_principal *gh_auth_token_cache_get_hash(struct gh_auth_token_cache *c,
                                                       const unsigned char h[32], int64_t now)
{
    struct shard *s;
    struct entry *set = set_of(c, h, &s);
    struct gh_auth_principal *hit = NULL;
    pthread_mutex_lock(&s->mu);
    for (int w = 0; w < WAYS; w++) {
        struct entry *e = &set[w];
        if (!e->p || memcmp(e->key, h, 32) != 0)
            continue;
        if (dead_at(e->expires, e->expires_ms, now))
            drop(s, e);
        else
            hit = gh_auth_principal_ref(e->p);
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

struct gh_auth_principal *gh_auth_token_cache_get(struct gh_auth_token_cache *c,
                                                  struct gh_slice token, int64_t now)
{
    unsigned char h[32];
    gh_auth_token_hash(token, h);
    return gh_auth_token_cache_get_hash(c, h, now);
}

/* Where a new entry goes: the same key, else an empty or dead way, else the soonest expiry. */
static struct entry *victim(struct entry *set, const unsigned char h[32], int64_t now)
{
    struct entry *best = NULL;
    for (int w = 0; w < WAYS; w++) {
        struct entry *e = &set[w];
        if (e->p && memcmp(e->key, h, 32) == 0)
            return e;
    }
    for (int w = 0; w < WAYS; w++) {
        struct entry *e = &set[w];
        if (!e->p || now >= e->expires)
            return e;
        if (!best || e->expires < best->expires)
            best = e;
    }
    return best;
}

void gh_auth_token_cache_put(struct gh_auth_token_cache *c, struct gh_slice token,
                             struct gh_auth_principal *p, int64_t now)
{
    unsigned char h[32];
    gh_auth_token_hash(token, h);
    gh_auth_token_cache_put_hash(c, h, p, now);
}

void gh_auth_token_cache_put_hash(struct gh_auth_token_cache *c, const unsigned char h[32],
                                  struct gh_auth_principal *p, int64_t now)
{
    struct shard *s;
    if (dead_at(p->expires, p->expires_ms, now))
        return;
    struct entry *set = set_of(c, h, &s);
    gh_auth_principal_ref(p);
    pthread_mutex_lock(&s->mu);
    struct entry *e = victim(set, h, now);
    if (e->p)
        drop(s, e);
    memcpy(e->key, h, 32);
    e->expires = p->expires_ms ? (p->expires_ms + 999) / 1000 : p->expires;
    e->expires_ms = p->expires_ms;
    e->p = p;
    s->live++;
    pthread_mutex_unlock(&s->mu);
}

void gh_auth_token_cache_remove(struct gh_auth_token_cache *c, struct gh_slice token)
{
    unsigned char h[32];
    struct shard *s;
    gh_auth_token_hash(token, h);
    struct entry *set = set_of(c, h, &s);
    pthread_mutex_lock(&s->mu);
    for (int w = 0; w < WAYS; w++)
        if (set[w].p && memcmp(set[w].key, h, 32) == 0)
            drop(s, &set[w]);
    pthread_mutex_unlock(&s->mu);
}

uint32_t gh_auth_token_cache_count(struct gh_auth_token_cache *c)
{
    uint32_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&c->shards[i].mu);
        n += c->shards[i].live;
        pthread_mutex_unlock(&c->shards[i].mu);
    }
    return n;
}
