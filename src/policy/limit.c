/*
 * policy/limit.c: per-principal and per-tool limits on tools/call — in-flight calls
 * (concurrent:) and a token bucket (calls: per interval_s:).
 *
 * Each limit keeps its counters in its own bounded hash table under its own mutex. A call asks
 * every limit whose tools: globs match "upstream.tool"; those limits are locked in config order
 * (one order everywhere, so two admits cannot deadlock), checked, and only if all agree are
 * they counted — a refusal by the third limit leaves the first two as they were, with no
 * window in which another call sees a half-counted state.
 *
 * The limits object is refcounted: an admitted call's token holds a reference, so a call that
 * outlives a configuration reload still releases into the counters it was counted in.
 */
#include "core/core.h"
#include "policy/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMITS_MAX             64    /* limits in one policy */
#define LIMIT_TOOLS_MAX        1024  /* globs in one tools: */
#define LIMIT_KEYS_MAX         65536 /* counters one limit keeps (principals or tools) */
#define LIMIT_BUCKETS_MIN      64    /* initial hash buckets; doubled up to LIMIT_KEYS_MAX */
#define LIMIT_SWEEP_BACKOFF_MS 100
#define LIMIT_CONCURRENT_MAX   100000
#define LIMIT_CALLS_MAX        1000000
#define LIMIT_INTERVAL_MAX_S   604800 /* one week */
#define KEY_STACK              512

enum lim_scope {
    S_PRINCIPAL = 0,
    S_PRINCIPAL_TOOL = 1,
    S_TOOL = 2,
};

/*
 * One counter. The bucket is kept in integer units where one call costs interval_ms units and
 * refill adds `calls` units per millisecond: exact arithmetic, no drift from floating point.
 */
struct lim_entry {
    struct lim_entry *next;
    uint64_t hash;
    int64_t level;   /* bucket contents in units; capacity calls * interval_ms */
    int64_t last_ms; /* when level was last brought up to date */
    uint32_t inflight;
    uint32_t klen;
    char key[]; /* [principal "\n"] [upstream "\n" tool], per scope */
};

struct lim {
    char *id;
    enum lim_scope scope;
    char **tools; /* globs on "upstream.tool"; none: every call */
    uint32_t ntools;
    uint32_t concurrent; /* 0: no concurrency limit */
    int64_t calls;       /* 0: no rate limit */
    int64_t interval_ms;
    int line;
    pthread_mutex_t mu; /* guards everything below */
    struct lim_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    int64_t next_sweep_ms; /* a full table is not swept again before this */
};

struct gh_policy_limits {
    atomic_int refs; /* the policy's, plus one per outstanding token */
    unsigned char hkey[16];
    struct lim *v;
    size_t n;
};

/* What an admitted call holds: concurrency slots to give back. */
struct lim_token {
    struct gh_policy_limits *ls;
    uint32_t n;
    struct {
        struct lim *l;
        struct lim_entry *e;
    } held[];
};

/* ---- counters ---- */

static int64_t bucket_cap(const struct lim *l)
{
    return l->calls * l->interval_ms;
}

static void refill(const struct lim *l, struct lim_entry *e, int64_t now_ms)
{
    if (!l->calls || now_ms <= e->last_ms) /* a clock that steps back refills nothing */
        return;
    int64_t dt = now_ms - e->last_ms;
    /* past one interval the bucket is full whatever it held; capping dt also keeps
     * dt * calls far from overflow */
    e->level =
        dt >= l->interval_ms ? bucket_cap(l) : GH_MIN(bucket_cap(l), e->level + dt * l->calls);
    e->last_ms = now_ms;
}

/* Whole seconds until one call's worth is in the bucket (at least 1). */
static uint32_t retry_after(const struct lim *l, const struct lim_entry *e)
{
    int64_t deficit = l->interval_ms - e->level;
    int64_t ms = (deficit + l->calls - 1) / l->calls;
    int64_t s = (ms + 999) / 1000;
    return (uint32_t)GH_MAX(s, 1);
}

/* An entry holds no information a fresh one would not: nothing in flight, bucket full. */
static bool idle(const struct lim *l, struct lim_entry *e, int64_t now_ms)
{
    if (e->inflight)
        return false;
    refill(l, e, now_ms);
    return !l->calls || e->level == bucket_cap(l);
}

static void unlink_entry(struct lim *l, struct lim_entry *e)
{
    struct lim_entry **pp = &l->buckets[e->hash & (l->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    GH_BUG_ON(!*pp);
    *pp = e->next;
    l->count--;
    free(e);
}

/* Drops every idle entry. A sweep that frees nothing is not repeated for a while: otherwise a
 * table full of busy keys would cost a full scan on every new key. */
static size_t sweep(struct lim *l, int64_t now_ms)
{
    size_t freed = 0;
    for (size_t b = 0; b < l->nbuckets; b++) {
        struct lim_entry **pp = &l->buckets[b];
        while (*pp) {
            struct lim_entry *e = *pp;
            if (idle(l, e, now_ms)) {
                *pp = e->next;
                free(e);
                l->count--;
                freed++;
            } else {
                pp = &e->next;
            }
        }
    }
    if (!freed) {
        l->next_sweep_ms = now_ms + LIMIT_SWEEP_BACKOFF_MS;
        GH_LOGW("policy", "limit %s: %d keys busy, new keys refused", l->id, LIMIT_KEYS_MAX);
    }
    return freed;
}

static void grow(struct lim *l)
{
    size_t nb = l->nbuckets * 2;
    struct lim_entry **b = gh_xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < l->nbuckets; i++) {
        struct lim_entry *e = l->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = nb;
}

/* The entry for key, created with a full bucket; NULL when the table is full of busy keys. */
static struct lim_entry *entry_get(struct lim *l, struct gh_slice key, uint64_t h, int64_t now_ms)
{
    struct lim_entry *e = l->buckets[h & (l->nbuckets - 1)];
    for (; e; e = e->next)
        if (e->hash == h && e->klen == key.len && !memcmp(e->key, key.ptr, key.len))
            return e;
    if (l->count >= LIMIT_KEYS_MAX && (now_ms < l->next_sweep_ms || !sweep(l, now_ms)))
        return NULL; /* fail closed: forgetting a busy key would hand out fresh allowances */
    if (l->count >= l->nbuckets && l->nbuckets < LIMIT_KEYS_MAX)
        grow(l);
    e = gh_xmalloc(sizeof(*e) + key.len);
    *e = (struct lim_entry){
        .hash = h, .level = bucket_cap(l), .last_ms = now_ms, .klen = (uint32_t)key.len};
    memcpy(e->key, key.ptr, key.len);
    struct lim_entry **head = &l->buckets[h & (l->nbuckets - 1)];
    e->next = *head;
    *head = e;
    l->count++;
    return e;
}

/* ---- admitting ---- */

/* The pieces of one call's keys, laid out once as principal "\n" upstream "\n" tool so that
 * every scope's key is a slice of it. Names cannot hold "\n", so keys cannot collide. */
struct call_keys {
    char stack[KEY_STACK];
    char *buf;
    struct gh_slice all, principal, tool, name; /* name: "upstream.tool" for the globs */
};

static void keys_build(struct call_keys *k, const char *principal, struct gh_slice upstream,
                       struct gh_slice tool)
{
    size_t pl = principal ? strlen(principal) : 0;
    size_t kl = pl + 1 + upstream.len + 1 + tool.len;
    size_t need = kl + upstream.len + 1 + tool.len;
    k->buf = need <= sizeof(k->stack) ? k->stack : gh_xmalloc(need);
    char *p = k->buf;
    if (pl)
        memcpy(p, principal, pl);
    p[pl] = '\n';
    if (upstream.len)
        memcpy(p + pl + 1, upstream.ptr, upstream.len);
    p[pl + 1 + upstream.len] = '\n';
    if (tool.len)
        memcpy(p + pl + 2 + upstream.len, tool.ptr, tool.len);
    k->all = gh_slice(p, kl);
    k->principal = gh_slice(p, pl);
    k->tool = gh_slice(p + pl + 1, upstream.len + 1 + tool.len);
    char *n = p + kl;
    if (upstream.len)
        memcpy(n, upstream.ptr, upstream.len);
    n[upstream.len] = '.';
    if (tool.len)
        memcpy(n + upstream.len + 1, tool.ptr, tool.len);
    k->name = gh_slice(n, upstream.len + 1 + tool.len);
}

static void keys_release(struct call_keys *k)
{
    if (k->buf != k->stack)
        free(k->buf);
}

static bool applies(const struct lim *l, struct gh_slice name)
{
    if (!l->ntools)
        return true;
    for (uint32_t i = 0; i < l->ntools; i++)
        if (gh_policy_glob(gh_slice_cstr(l->tools[i]), name))
            return true;
    return false;
}

static uint64_t key_hash(const struct gh_policy_limits *ls, struct gh_slice key)
{
    /* keyed: tool names come from clients, who must not be able to aim at one bucket */
    unsigned char h[16];
    uint64_t v;
    gh_siphash128(ls->hkey, key.ptr, key.len, h);
    memcpy(&v, h, sizeof(v));
    return v;
}

/* One limit's part of an admit. */
struct lim_ask {
    struct lim *l;
    struct gh_slice key;
    uint64_t hash;
    struct lim_entry *e;
};

/* Checks one limit (locked); fills out and returns false when it refuses. */
static bool ask_check(struct lim_ask *a, int64_t now_ms, struct gh_policy_admit *out)
{
    struct lim *l = a->l;
    a->e = entry_get(l, a->key, a->hash, now_ms);
    out->limit = l->id;
    out->retry_after_s = 1;
    out->concurrency = false;
    if (!a->e)
        return false; /* table full: reported as a rate refusal, retry shortly */
    if (l->concurrent && a->e->inflight >= l->concurrent) {
        out->concurrency = true;
        return false;
    }
    refill(l, a->e, now_ms);
    if (l->calls && a->e->level < l->interval_ms) {
        out->retry_after_s = retry_after(l, a->e);
        return false;
    }
    return true;
}

static struct lim_token *token_new(struct gh_policy_limits *ls, const struct lim_ask *asks,
                                   size_t n)
{
    uint32_t held = 0;
    for (size_t i = 0; i < n; i++)
        held += asks[i].l->concurrent != 0;
    if (!held)
        return NULL; /* rate only: nothing to give back */
    struct lim_token *t = gh_xmalloc(sizeof(*t) + held * sizeof(t->held[0]));
    t->ls = ls;
    t->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (asks[i].l->concurrent) {
            t->held[t->n].l = asks[i].l;
            t->held[t->n].e = asks[i].e;
            t->n++;
        }
    }
    atomic_fetch_add(&ls->refs, 1);
    return t;
}

void gh_policy__limits_admit(struct gh_policy_limits *ls, const char *principal,
                             struct gh_slice upstream, struct gh_slice tool, int64_t now_ms,
                             struct gh_policy_admit *out)
{
    struct lim_ask asks[LIMITS_MAX];
    struct call_keys k;
    size_t n = 0, i;
    bool ok = true;
    memset(out, 0, sizeof(*out));
    out->verdict = GH_ALLOW;
    out->limit = "";
    if (!ls || !ls->n)
        return;
    keys_build(&k, principal, upstream, tool);
    for (i = 0; i < ls->n; i++) {
        struct lim *l = &ls->v[i];
        if (!applies(l, k.name))
            continue;
        asks[n].l = l;
        asks[n].key = l->scope == S_PRINCIPAL ? k.principal : l->scope == S_TOOL ? k.tool : k.all;
        asks[n].hash = key_hash(ls, asks[n].key); /* outside the locks */
        n++;
    }
    if (!n)
        goto out;
    /* config order, as every admit does: no lock-order inversion between two admits */
    for (i = 0; i < n; i++)
        pthread_mutex_lock(&asks[i].l->mu);
    for (i = 0; i < n && ok; i++)
        ok = ask_check(&asks[i], now_ms, out);
    if (ok) {
        for (i = 0; i < n; i++) {
            asks[i].e->inflight += asks[i].l->concurrent != 0;
            asks[i].e->level -= asks[i].l->calls ? asks[i].l->interval_ms : 0;
        }
    }
    for (i = n; i-- > 0;)
        pthread_mutex_unlock(&asks[i].l->mu);
    if (!ok) {
        out->verdict = GH_DENY;
        out->token = NULL;
        goto out;
    }
    out->verdict = GH_ALLOW;
    out->limit = "";
    out->retry_after_s = 0;
    out->concurrency = false;
    out->token = token_new(ls, asks, n);
out:
    keys_release(&k);
}

static void limits_unref(struct gh_policy_limits *ls);

void gh_policy_limit_release(void *token)
{
    struct lim_token *t = token;
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n; i++) {
        struct lim *l = t->held[i].l;
        struct lim_entry *e = t->held[i].e;
        pthread_mutex_lock(&l->mu);
        GH_BUG_ON(!e->inflight);
        /* a concurrency-only counter at zero carries nothing: drop it now rather than at a
         * sweep (entries are never freed while something is in flight, so e is still ours) */
        if (--e->inflight == 0 && !l->calls)
            unlink_entry(l, e);
        pthread_mutex_unlock(&l->mu);
    }
    limits_unref(t->ls);
    free(t);
}

/* ---- compiling ---- */

static enum gh_rc lim_id(struct gh_policy_limits *ls, struct lim *l, const struct gh_config_node *v,
                         struct gh_config_error *err)
{
    if (!gh_policy__scalar(v) || !v->len || v->len > GH_POLICY_ID_MAX)
        return gh_config_node_error(err, v, "expected an id of 1 to %d characters",
                                    GH_POLICY_ID_MAX);
    for (size_t i = 0; i < v->len; i++) {
        char c = v->text[i];
        if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
            !strchr("_.:-", c))
            return gh_config_node_error(err, v, "ids use only A-Z a-z 0-9 _ . : -");
    }
    for (size_t i = 0; i < ls->n; i++)
        if (ls->v[i].id && strcmp(ls->v[i].id, v->text) == 0)
            return gh_config_node_error(err, v, "duplicate limit id (also at line %d)",
                                        ls->v[i].line);
    l->id = gh_xstrndup(v->text, v->len);
    return GH_OK;
}

static enum gh_rc lim_tools(struct lim *l, const struct gh_config_node *v,
                            struct gh_config_error *err)
{
    size_t cnt = v->kind == CFG_SEQ ? v->n : 1;
    if (v->kind == CFG_MAP || !cnt)
        return gh_config_node_error(err, v, "expected a list of upstream.tool globs");
    if (cnt > LIMIT_TOOLS_MAX)
        return gh_config_node_error(err, v, "more than %d values", LIMIT_TOOLS_MAX);
    l->tools = gh_xcalloc(cnt, sizeof(*l->tools));
    for (size_t i = 0; i < cnt; i++) {
        const struct gh_config_node *it = v->kind == CFG_SEQ ? v->items[i] : v;
        if (!gh_policy__scalar(it) || !it->len)
            return gh_config_node_error(err, it, "expected a non-empty upstream.tool glob");
        l->tools[i] = gh_xstrndup(it->text, it->len);
        l->ntools++;
    }
    return GH_OK;
}

static enum gh_rc lim_key(struct gh_policy_limits *ls, struct lim *l,
                          const struct gh_config_node *v, struct gh_config_error *err)
{
    static const char *const scopes[] = {"principal", "principal+tool", "tool"};
    const char *k = v->key;
    uint64_t u = 0;
    int s = 0;
    enum gh_rc rc;
    if (strcmp(k, "id") == 0)
        return lim_id(ls, l, v, err);
    if (strcmp(k, "description") == 0)
        return gh_policy__scalar(v) ? GH_OK : gh_config_node_error(err, v, "expected text");
    if (strcmp(k, "scope") == 0) {
        rc = gh_policy__enum(v, scopes, GH_ARRAY_LEN(scopes), &s, err);
        l->scope = (enum lim_scope)s;
        return rc;
    }
    if (strcmp(k, "tools") == 0)
        return lim_tools(l, v, err);
    if (strcmp(k, "concurrent") == 0) {
        rc = gh_policy__u64(v, 1, LIMIT_CONCURRENT_MAX, &u, err);
        l->concurrent = (uint32_t)u;
        return rc;
    }
    if (strcmp(k, "calls") == 0) {
        rc = gh_policy__u64(v, 1, LIMIT_CALLS_MAX, &u, err);
        l->calls = (int64_t)u;
        return rc;
    }
    if (strcmp(k, "interval_s") == 0) {
        rc = gh_policy__u64(v, 1, LIMIT_INTERVAL_MAX_S, &u, err);
        l->interval_ms = (int64_t)u * 1000;
        return rc;
    }
    return gh_config_node_error(err, v,
                                "unknown key %.64s (expected id, description, scope, tools, "
                                "concurrent, calls or interval_s)",
                                k);
}

static enum gh_rc lim_compile(struct gh_policy_limits *ls, const struct gh_config_node *n,
                              struct gh_config_error *err)
{
    struct lim *l = &ls->v[ls->n];
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n, "expected a limit (a mapping with an id)");
    for (size_t i = 0; i < n->n; i++)
        if (lim_key(ls, l, n->items[i], err))
            return GH_E_PARSE;
    if (!l->id)
        return gh_config_node_error(err, n, "a limit needs an id");
    if (!l->calls != !l->interval_ms)
        return gh_config_node_error(err, n, "limit %s: calls and interval_s go together", l->id);
    if (!l->calls && !l->concurrent)
        return gh_config_node_error(err, n,
                                    "limit %s needs concurrent, calls (with interval_s) "
                                    "or both",
                                    l->id);
    l->nbuckets = LIMIT_BUCKETS_MIN;
    l->buckets = gh_xcalloc(l->nbuckets, sizeof(*l->buckets));
    return GH_OK;
}

static void lim_free(struct lim *l)
{
    for (size_t b = 0; b < l->nbuckets; b++) {
        struct lim_entry *e = l->buckets[b], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(l->buckets);
    for (uint32_t i = 0; i < l->ntools; i++)
        free(l->tools[i]);
    free(l->tools);
    free(l->id);
    pthread_mutex_destroy(&l->mu);
}

/* Frees ls and the first n limits (those initialised). */
static void limits_destroy(struct gh_policy_limits *ls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lim_free(&ls->v[i]);
    free(ls->v);
    free(ls);
}

static void limits_unref(struct gh_policy_limits *ls)
{
    if (ls && atomic_fetch_sub(&ls->refs, 1) == 1)
        limits_destroy(ls, ls->n);
}

enum gh_rc gh_policy__limits_compile(const struct gh_config_node *seq,
                                     struct gh_policy_limits **out, struct gh_config_error *err)
{
    enum gh_rc rc = GH_OK;
    struct gh_policy_limits *ls = NULL;
    *out = NULL;
    if (!seq || seq->kind != CFG_SEQ)
        return gh_config_node_error(err, seq, "expected a list of limits");
    if (seq->n > LIMITS_MAX)
        return gh_config_node_error(err, seq, "more than %d limits", LIMITS_MAX);
    ls = gh_xcalloc(1, sizeof(*ls));
    atomic_init(&ls->refs, 1);
    gh_random_bytes(ls->hkey, sizeof(ls->hkey));
    ls->v = gh_xcalloc(seq->n ? seq->n : 1, sizeof(*ls->v));
    for (size_t i = 0; i < seq->n; i++) {
        struct lim *l = &ls->v[i];
        if (pthread_mutex_init(&l->mu, NULL) != 0)
            abort();
        l->line = seq->items[i]->line;
        rc = lim_compile(ls, seq->items[i], err);
        if (rc) {
            limits_destroy(ls, i + 1);
            return rc;
        }
        ls->n++;
    }
    *out = ls;
    return GH_OK;
}

void gh_policy__limits_free(struct gh_policy_limits *ls)
{
    limits_unref(ls); /* tokens still out keep the counters until they are released */
}
