/*
 * mcp/session.c owns the gateway session table: ids minted from 256 random bits, the mapping to
 * the upstream's session id (never shown to the client), the negotiated version, idle expiry.
 * One lock guards the table; each session has its own lock for its streams.
 */
#include "core/core.h"
#include "mcp/internal.h"

/* FNV-1a: ids are 256 random bits, so any spread of their text is even; an id a client makes up
 * only lands in a chain of real sessions, where it is compared in full. */
_Thread_local char gh_mcp_current_principal[65];

static size_t bucket_of(const struct gh_mcp_gateway *gw, struct gh_slice id)
{
    uint64_t v = 1469598103934665603ull;
    for (size_t i = 0; i < id.len; i++)
        v = (v ^ (unsigned char)id.ptr[i]) * 1099511628211ull;
    return (size_t)(v % gw->nbuckets);
}

/* Open sessions of one authenticated principal (sessions without auth have principal ""). */
struct gh_mcp_principal_count {
    struct gh_mcp_principal_count *next;
    uint64_t n;
    char key[65];
};

static struct gh_mcp_principal_count **pcount_slot(struct gh_mcp_gateway *gw, const char *key)
{
    struct gh_mcp_principal_count **pp = &gw->pcounts[bucket_of(gw, gh_slice_cstr(key))];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* 0: room; 1: sessions_total reached; 2: the principal's share reached. Under gw->lock. */
static int admit_locked(struct gh_mcp_gateway *gw, const char *principal)
{
    if (gw->nsessions >= gw->cfg->limits.sessions_total)
        return 1;
    if (!principal[0])
        return 0;
    struct gh_mcp_principal_count *c = *pcount_slot(gw, principal);
    return c && c->n >= gw->cfg->limits.sessions_per_principal ? 2 : 0;
}

static void pcount_add_locked(struct gh_mcp_gateway *gw, const char *principal, int delta)
{
    if (!principal[0])
        return;
    struct gh_mcp_principal_count **pp = pcount_slot(gw, principal);
    if (!*pp) {
        *pp = gh_xcalloc(1, sizeof(**pp));
        memcpy((*pp)->key, principal, sizeof((*pp)->key));
    }
    (*pp)->n += (uint64_t)(int64_t)delta;
    if ((*pp)->n == 0) {
        struct gh_mcp_principal_count *dead = *pp;
        *pp = dead->next;
        free(dead);
    }
}

bool gh_mcp_session_admit(struct gh_mcp_gateway *gw, bool *per_principal)
{
    pthread_mutex_lock(&gw->lock);
    int why = admit_locked(gw, gh_mcp_current_principal);
    pthread_mutex_unlock(&gw->lock);
    *per_principal = why == 2;
    return why == 0;
}

void gh_mcp_sessions_counts_free(struct gh_mcp_gateway *gw)
{
    for (size_t b = 0; gw->pcounts && b < gw->nbuckets; b++) {
        while (gw->pcounts[b]) {
            struct gh_mcp_principal_count *c = gw->pcounts[b];
            gw->pcounts[b] = c->next;
            free(c);
        }
    }
    free(gw->pcounts);
}

struct gh_mcp_session *gh_mcp_session_create(struct gh_mcp_gateway *gw, const void *route,
                                             struct gh_slice upstream_id)
{
    bool per_principal;
    return gh_mcp_session_create_for(gw, route, upstream_id, gh_mcp_current_principal,
                                     &per_principal);
}

struct gh_mcp_session *gh_mcp_session_create_for(struct gh_mcp_gateway *gw, const void *route,
                                                 struct gh_slice upstream_id, const char *principal,
                                                 bool *per_principal)
{
    pthread_mutex_lock(&gw->lock);
    int why = admit_locked(gw, principal);
    *per_principal = why == 2;
    if (why != 0) {
        pthread_mutex_unlock(&gw->lock);
        return NULL;
    }
    struct gh_mcp_session *s = gh_xcalloc(1, sizeof(*s));
    unsigned char rnd[32];
    gh_random_bytes(rnd, sizeof(rnd));
    gh_b64url_encode(rnd, sizeof(rnd), s->id);
    snprintf(s->principal, sizeof(s->principal), "%s", principal);
    s->upstream_id = upstream_id.len ? gh_xstrndup(upstream_id.ptr, upstream_id.len) : NULL;
    s->route = route;
    s->gw = gw;
    s->refs = 2; /* the table's and the caller's */
    s->last_used_ms = gh_clock_ms();
    pthread_mutex_init(&s->lock, NULL);
    size_t b = bucket_of(gw, gh_slice_cstr(s->id));
    s->next = gw->buckets[b];
    gw->buckets[b] = s;
    gw->nsessions++;
    pcount_add_locked(gw, s->principal, +1);
    pthread_mutex_unlock(&gw->lock);
    gh_mcp_record_session(gw, s, true, NULL);
    return s;
}

struct gh_mcp_session *gh_mcp_session_find(struct gh_mcp_gateway *gw, struct gh_slice id,
                                           const void *route, const char **why)
{
    if (why)
        *why = NULL;
    if (id.len == 0 || id.len >= sizeof(((struct gh_mcp_session *)0)->id))
        return NULL;
    pthread_mutex_lock(&gw->lock);
    struct gh_mcp_session *s = gw->buckets[bucket_of(gw, id)];
    while (s && !gh_slice_eq_cstr(id, s->id))
        s = s->next;
    /* a session belongs to one route and one principal: anything else is "unknown" (404), and
     * a live id presented by someone else, or on another route, is worth a record */
    const char *mismatch = !s || s->closed                                       ? NULL
                           : strcmp(s->principal, gh_mcp_current_principal) != 0 ? "other_principal"
                           : s->route != route                                   ? "other_route"
                                                                                 : NULL;
    if (s && (s->closed || mismatch))
        s = NULL;
    if (why)
        *why = mismatch;
    if (s) {
        s->refs++;
        s->last_used_ms = gh_clock_ms();
    }
    pthread_mutex_unlock(&gw->lock);
    return s;
}

void gh_mcp_session_ref(struct gh_mcp_gateway *gw, struct gh_mcp_session *s)
{
    pthread_mutex_lock(&gw->lock);
    s->refs++;
    pthread_mutex_unlock(&gw->lock);
}

void gh_mcp_session_unref(struct gh_mcp_gateway *gw, struct gh_mcp_session *s)
{
    pthread_mutex_lock(&gw->lock);
    int left = --s->refs;
    pthread_mutex_unlock(&gw->lock);
    if (left > 0)
        return;
    if (s->bridge)
        gh_mcp_bridge_free(s->bridge);
    if (s->shared)
        gh_mcp_session_unref(gw, s->shared);
    pthread_mutex_destroy(&s->lock);
    free(s->upstream_id);
    free(s);
}

static void table_remove_locked(struct gh_mcp_gateway *gw, struct gh_mcp_session *s)
{
    struct gh_mcp_session **pp = &gw->buckets[bucket_of(gw, gh_slice_cstr(s->id))];
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = s->next;
        gw->nsessions--;
        pcount_add_locked(gw, s->principal, -1);
        s->refs--; /* the table's reference; the caller still holds one */
    }
}

void gh_mcp_session_close(struct gh_mcp_gateway *gw, struct gh_mcp_session *s)
{
    gh_mcp_session_close_why(gw, s, "closed");
}

void gh_mcp_session_close_why(struct gh_mcp_gateway *gw, struct gh_mcp_session *s, const char *why)
{
    pthread_mutex_lock(&gw->lock);
    bool was_open = !s->closed;
    s->closed = true;
    if (was_open)
        table_remove_locked(gw, s);
    pthread_mutex_unlock(&gw->lock);
    if (!was_open)
        return;
    pthread_mutex_lock(&s->lock);
    gh_mcp_streams_close_locked(s);
    pthread_mutex_unlock(&s->lock);
    gh_mcp_bridge_session_closed(s);
    gh_mcp_record_session(gw, s, false, why);
    GH_LOGD("mcp", "session closed");
}

void gh_mcp_session_set_version(struct gh_mcp_session *s, struct gh_slice v)
{
    if (!gh_mcp_version_known(v))
        return;
    pthread_mutex_lock(&s->lock);
    memcpy(s->version, v.ptr, v.len);
    s->version[v.len] = '\0';
    pthread_mutex_unlock(&s->lock);
}

void gh_mcp_sessions_sweep(struct gh_mcp_gateway *gw)
{
    uint64_t now = gh_clock_ms(), idle = gw->cfg->timeouts.session_idle_ms;
    for (;;) {
        struct gh_mcp_session *victim = NULL;
        pthread_mutex_lock(&gw->lock);
        for (size_t b = 0; b < gw->nbuckets && !victim; b++)
            for (struct gh_mcp_session *s = gw->buckets[b]; s && !victim; s = s->next)
                if (now - atomic_load(&s->last_used_ms) > idle)
                    victim = s;
        if (victim)
            victim->refs++;
        pthread_mutex_unlock(&gw->lock);
        if (!victim)
            return;
        GH_LOGI("mcp", "session expired after %llu ms idle", (unsigned long long)idle);
        gh_mcp_session_close_why(gw, victim, "idle");
        gh_mcp_session_unref(gw, victim);
    }
}

size_t gh_mcp_sessions_count(struct gh_mcp_gateway *gw)
{
    pthread_mutex_lock(&gw->lock);
    size_t n = gw->nsessions;
    pthread_mutex_unlock(&gw->lock);
    return n;
}
