/*
 * propagation/exchange.c owns `mode: token-exchange`: RFC 8693 at the enterprise IdP. The
 * caller's validated access token is the subject token; the gateway authenticates with
 * private_key_jwt (RFC 7523, key from a reference) and asks for a token for the upstream's
 * audience with the caller's scopes narrowed to the upstream's ceiling. Issued tokens are cached
 * per (principal, upstream, scopes) until shortly before they expire, and concurrent requests
 * on one worker that need the same token share one IdP request; an IdP that refuses, times
 * out or answers garbage yields no token, and the request is refused (503) — never forwarded
 * without the identity the upstream expects, never with the caller's own token.
 *
 *   propagation:
 *     token_exchange:
 *       token_endpoint: https://idp.example.com/oauth2/token
 *       client_id: gatehouse
 *       key: file:/etc/gatehouse/exchange.pem   # P-256 or Ed25519, PEM
 *       assertion_audience: https://idp.example.com   # aud of the client assertion (default:
 *                                                     # the token endpoint)
 *       timeout_ms: 5000
 *       allow_private_network: false
 */
#include "core/core.h"
#include "json/json.h"
#include "net/net.h"
#include "propagation/internal.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 2048 /* power of two */
#define CACHE_PROBE 8
#define TOKEN_MAX   8192 /* an issued token longer than this is refused */
#define ANSWER_MAX  (64u << 10)
#define EARLY_S     30 /* a cached token is dropped this long before exp (at most a quarter) */

struct cache_entry {
    unsigned char key[32];
    char *authorization; /* "Bearer <token>", owned; NULL = empty slot */
    int64_t until;       /* wall seconds */
};

struct gh_prop__exchanger {
    char *token_endpoint, *client_id, *assertion_aud;
    struct gh_prop__key *key;
    struct gh_http_client_target target;
    char host_header[300], path[1024];
    SSL_CTX *tls;
    uint64_t timeout_ms;
    bool allow_private_network;
    pthread_mutex_t mu; /* the cache */
    struct cache_entry *cache;
};

/* One request to the IdP; every exchange on this worker that needs the same token waits on it
 * (single flight: a burst of calls from a new caller costs one exchange per worker). */
struct flight {
    struct gh_prop__exchanger *x;
    struct gh_http_creq *creq;
    unsigned char key[32];
    struct gh_buf answer;
    int status;
    char upstream[64];
    struct gh_prop_exchange *waiters;
    struct flight *next;
};

struct gh_prop_exchange { /* one waiter */
    struct flight *f;
    gh_prop_exchange_cb cb;
    void *arg;
    struct gh_prop_exchange *next;
};

static _Thread_local struct flight *flights; /* under way on this worker */

/* one pool per worker thread; a process serves one propagation configuration */
static _Thread_local struct gh_http_pool *pool;
static _Thread_local const struct gh_prop__exchanger *pool_owner;

/* ---- configuration ---- */

static bool scalar(const struct gh_config_node *n)
{
    return n && n->kind == CFG_SCALAR;
}

static enum gh_rc x_endpoint(struct gh_prop__exchanger *x, const struct gh_config_node *v,
                             struct gh_config_error *err)
{
    struct gh_config_url u;
    const char *why = "expected an http(s) URL";
    if (!scalar(v) || gh_config_url_parse(v->text, &u, &why) != GH_OK)
        return gh_config_node_error(err, v, "%s", why);
    enum gh_rc rc = GH_OK;
    struct gh_net_addr a;
    if (gh_net_addr_resolve(u.host, u.port, &a) != GH_OK) {
        rc = gh_config_node_error(err, v, "cannot resolve %s", u.host);
        goto out;
    }
    bool loopback = gh_net_addr_is_loopback(&a);
    /* the operator names this URL: loopback is allowed; a private network must be said */
    if (gh_net_egress_allowed(&a, true, x->allow_private_network) != GH_ALLOW) {
        rc = gh_config_node_error(err, v,
                                  "a private or link-local address needs "
                                  "allow_private_network: true");
        goto out;
    }
    if (!u.tls && !loopback) {
        rc = gh_config_node_error(err, v,
                                  "the token endpoint must be https (http only on loopback)");
        goto out;
    }
    free(x->token_endpoint);
    x->token_endpoint = gh_xstrdup(v->text);
    snprintf(x->host_header, sizeof(x->host_header), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u",
             u.host, u.port);
    snprintf(x->path, sizeof(x->path), "%s", u.path);
    if (u.tls && !x->tls)
        x->tls = gh_net_tls_client_ctx();
    x->target = (struct gh_http_client_target){
        .addr = a,
        .tls = u.tls ? x->tls : NULL,
        .host_header = x->host_header,
        .max_idle = 8,
        .header_bytes = 16384,
    };
out:
    gh_config_url_release(&u);
    return rc;
}

static enum gh_rc x_key(struct gh_prop__exchanger *x, const struct gh_config_node *v,
                        struct gh_config_error *err)
{
    char *pem = NULL;
    size_t len = 0;
    enum gh_rc rc = gh_prop__ref_read(v, &pem, &len, err);
    if (rc)
        return rc;
    gh_prop__key_free(x->key);
    x->key = gh_prop__key_load(pem, len);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (!x->key)
        return gh_config_node_error(err, v, "not a PEM private key of type P-256 or Ed25519");
    return GH_OK;
}

static enum gh_rc x_member(struct gh_prop__exchanger *x, const struct gh_config_node *v,
                           struct gh_config_error *err)
{
    if (strcmp(v->key, "token_endpoint") == 0)
        return x_endpoint(x, v, err);
    if (strcmp(v->key, "key") == 0)
        return x_key(x, v, err);
    if (strcmp(v->key, "client_id") == 0 || strcmp(v->key, "assertion_audience") == 0) {
        if (!scalar(v) || !v->text[0] || strlen(v->text) > 255 || strpbrk(v->text, "\"\\"))
            return gh_config_node_error(err, v, "expected a non-empty string (no quotes)");
        char **dst = v->key[0] == 'c' ? &x->client_id : &x->assertion_aud;
        free(*dst);
        *dst = gh_xstrdup(v->text);
        return GH_OK;
    }
    if (strcmp(v->key, "timeout_ms") == 0) {
        char *end = NULL;
        long t = scalar(v) ? strtol(v->text, &end, 10) : 0;
        if (!scalar(v) || *end || t < 100 || t > 60000)
            return gh_config_node_error(err, v, "expected milliseconds, 100-60000");
        x->timeout_ms = (uint64_t)t;
        return GH_OK;
    }
    if (strcmp(v->key, "allow_private_network") == 0) {
        if (!scalar(v) || (strcmp(v->text, "true") != 0 && strcmp(v->text, "false") != 0))
            return gh_config_node_error(err, v, "expected true or false");
        x->allow_private_network = strcmp(v->text, "true") == 0;
        return GH_OK;
    }
    return gh_config_node_error(err, v,
                                "unknown key (expected token_endpoint, client_id, key, "
                                "assertion_audience, timeout_ms, allow_private_network)");
}

enum gh_rc gh_prop__exchanger_compile(struct gh_prop *p, const struct gh_config_node *v,
                                      struct gh_config_error *err)
{
    if (v->kind != CFG_MAP)
        return gh_config_node_error(err, v, "expected a mapping (token_endpoint, client_id, key)");
    struct gh_prop__exchanger *x = gh_xcalloc(1, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    x->timeout_ms = 5000;
    gh_prop__exchanger_free(p->xchg);
    p->xchg = x; /* freed with p on any error */
    const struct gh_config_node *apn = gh_config_node_get(v, "allow_private_network");
    enum gh_rc rc = apn ? x_member(x, apn, err) : GH_OK;
    for (size_t i = 0; i < v->n && rc == GH_OK; i++)
        if (v->items[i] != apn)
            rc = x_member(x, v->items[i], err);
    if (rc)
        return rc;
    if (!x->token_endpoint || !x->client_id || !x->key)
        return gh_config_node_error(err, v,
                                    "token_exchange needs token_endpoint, client_id and key");
    if (!x->assertion_aud)
        x->assertion_aud = gh_xstrdup(x->token_endpoint);
    x->target.connect_ms = x->target.first_byte_ms = x->target.stream_idle_ms = x->timeout_ms;
    x->cache = gh_xcalloc(CACHE_SLOTS, sizeof(*x->cache));
    return GH_OK;
}

void gh_prop__exchanger_free(struct gh_prop__exchanger *x)
{
    if (!x)
        return;
    for (size_t i = 0; x->cache && i < CACHE_SLOTS; i++)
        if (x->cache[i].authorization) {
            OPENSSL_cleanse(x->cache[i].authorization, strlen(x->cache[i].authorization));
            free(x->cache[i].authorization);
        }
    free(x->cache);
    gh_prop__key_free(x->key);
    if (x->tls)
        SSL_CTX_free(x->tls);
    free(x->token_endpoint);
    free(x->client_id);
    free(x->assertion_aud);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

/* ---- the cache: (principal, upstream, scopes) → token ---- */

static void cache_key(const struct gh_prop_upstream *u, const struct gh_prop_subject *s,
                      const char *scopes, unsigned char out[32])
{
    struct gh_sha256_stream *h = gh_sha256_stream_new();
#define PART(p, n)                                                                                 \
    do {                                                                                           \
        uint32_t l_ = (uint32_t)(n);                                                               \
        gh_sha256_stream_update(h, &l_, sizeof(l_));                                               \
        gh_sha256_stream_update(h, (p), l_);                                                       \
    } while (0)
    PART(s->iss.ptr, s->iss.len);
    PART(s->sub.ptr, s->sub.len);
    PART(s->client_id.ptr, s->client_id.len);
    for (uint32_t i = 0; i < s->nact; i++)
        PART(s->act[i].ptr, s->act[i].len);
    PART("|", 1);
    PART(gh_prop_upstream_name(u), strlen(gh_prop_upstream_name(u)));
    PART(scopes, strlen(scopes));
#undef PART
    gh_sha256_stream_final(h, out);
}

static size_t slot_of(const unsigned char key[32])
{
    size_t h;
    memcpy(&h, key, sizeof(h));
    return h & (CACHE_SLOTS - 1);
}

static char *cache_get(struct gh_prop__exchanger *x, const unsigned char key[32], int64_t now)
{
    char *out = NULL;
    pthread_mutex_lock(&x->mu);
    for (size_t i = 0, at = slot_of(key); i < CACHE_PROBE; i++, at = (at + 1) & (CACHE_SLOTS - 1)) {
        struct cache_entry *e = &x->cache[at];
        if (e->authorization && e->until > now && memcmp(e->key, key, 32) == 0) {
            out = gh_xstrdup(e->authorization);
            break;
        }
    }
    pthread_mutex_unlock(&x->mu);
    return out;
}

/* Into the probe window: the same key, else an empty or expired slot, else the soonest due. */
static void cache_put(struct gh_prop__exchanger *x, const unsigned char key[32],
                      const char *authorization, int64_t until, int64_t now)
{
    pthread_mutex_lock(&x->mu);
    struct cache_entry *victim = NULL;
    for (size_t i = 0, at = slot_of(key); i < CACHE_PROBE; i++, at = (at + 1) & (CACHE_SLOTS - 1)) {
        struct cache_entry *e = &x->cache[at];
        if (e->authorization && memcmp(e->key, key, 32) == 0) {
            victim = e;
            break;
        }
        if (!victim || !e->authorization || e->until <= now ||
            (victim->authorization && victim->until > now && e->until < victim->until))
            victim = e;
    }
    if (victim->authorization) {
        OPENSSL_cleanse(victim->authorization, strlen(victim->authorization));
        free(victim->authorization);
    }
    memcpy(victim->key, key, 32);
    victim->authorization = gh_xstrdup(authorization);
    victim->until = until;
    pthread_mutex_unlock(&x->mu);
}

/* ---- the request ---- */

/* The client assertion (RFC 7523 §3): iss = sub = client_id, aud = the IdP, 60 s, one jti. */
static char *client_assertion(const struct gh_prop__exchanger *x)
{
    unsigned char r[16];
    char jti[33];
    gh_random_bytes(r, sizeof(r));
    gh_hex_encode(r, sizeof(r), jti);
    int64_t now = gh_clock_wall_s();
    char payload[1024];
    int n = snprintf(payload, sizeof(payload),
                     "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,"
                     "\"jti\":\"%s\"}",
                     x->client_id, x->client_id, x->assertion_aud, (long long)now,
                     (long long)now + 60, jti);
    if (n < 0 || (size_t)n >= sizeof(payload))
        return NULL;
    return gh_prop__sign_jwt(x->key, "JWT", payload, (size_t)n);
}

static void form_put(struct gh_buf *b, const char *name, struct gh_slice v)
{
    gh_buf_appendf(b, "%s%s=", b->len ? "&" : "", name);
    gh_buf_put_form(b, v);
}

static bool form_build(struct gh_buf *b, const struct gh_prop__exchanger *x,
                       const struct gh_prop_upstream *u, struct gh_slice subject_token,
                       const char *scopes)
{
    char *ca = client_assertion(x);
    if (!ca)
        return false;
    form_put(b, "grant_type", GH_SLICE_LIT("urn:ietf:params:oauth:grant-type:token-exchange"));
    form_put(b, "subject_token", subject_token);
    form_put(b, "subject_token_type",
             GH_SLICE_LIT("urn:ietf:params:oauth:token-type:access_token"));
    form_put(b, "requested_token_type",
             GH_SLICE_LIT("urn:ietf:params:oauth:token-type:access_token"));
    form_put(b, "audience", gh_slice_cstr(gh_prop_upstream_audience(u)));
    if (gh_prop_upstream_resource(u)[0])
        form_put(b, "resource", gh_slice_cstr(gh_prop_upstream_resource(u)));
    if (scopes[0])
        form_put(b, "scope", gh_slice_cstr(scopes));
    form_put(b, "client_id", gh_slice_cstr(x->client_id));
    form_put(b, "client_assertion_type",
             GH_SLICE_LIT("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    form_put(b, "client_assertion", gh_slice_cstr(ca));
    free(ca);
    return true;
}

static void on_head(void *arg, const struct gh_http_response_head *h)
{
    ((struct flight *)arg)->status = h->status;
}

static void on_body(void *arg, const char *p, size_t n)
{
    struct flight *e = arg;
    if (gh_buf_append(&e->answer, p, n) != GH_OK)
        e->status = -1; /* too large: garbage */
}

static bool str_member(const struct gh_json_doc *d, struct gh_arena *a, const char *name,
                       struct gh_slice *out)
{
    int32_t t = gh_json_obj_get(d, 0, name, strlen(name));
    return t >= 0 && d->toks[t].type == GH_JSON_STRING &&
           gh_json_str(d, a, (uint32_t)t, out) == GH_OK;
}

/* RFC 8693 §2.2.1: a Bearer access token; returns its lifetime in seconds (0: not given). */
static bool read_answer(struct flight *e, struct gh_arena *a, struct gh_slice *token,
                        int64_t *expires_in, const char **why)
{
    struct gh_json_doc d;
    struct gh_json_err je;
    struct gh_slice type, issued;
    *why = "not a JSON object";
    if (gh_json_parse(a, e->answer.data ? e->answer.data : "", e->answer.len, NULL, &d, &je) !=
            GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT)
        return false;
    if (e->status != 200) {
        struct gh_slice code = GH_SLICE_LIT("?");
        str_member(&d, a, "error", &code);
        *why = gh_arena_strndup(a, code.ptr, code.len > 64 ? 64 : code.len);
        return false;
    }
    *why = "no access_token, or not a Bearer access token";
    if (!str_member(&d, a, "access_token", token) || token->len == 0 || token->len > TOKEN_MAX ||
        !str_member(&d, a, "token_type", &type) || !gh_slice_caseeq_cstr(type, "Bearer"))
        return false;
    if (str_member(&d, a, "issued_token_type", &issued) &&
        !gh_slice_eq_cstr(issued, "urn:ietf:params:oauth:token-type:access_token") &&
        !gh_slice_eq_cstr(issued, "urn:ietf:params:oauth:token-type:jwt"))
        return false;
    for (size_t i = 0; i < token->len; i++)
        if ((unsigned char)token->ptr[i] <= 0x20 || (unsigned char)token->ptr[i] >= 0x7f)
            return false; /* it goes into a header */
    int32_t t = gh_json_obj_get(&d, 0, "expires_in", 10);
    *expires_in = 0;
    if (t >= 0 && (gh_json_int64(&d, (uint32_t)t, expires_in) != GH_OK || *expires_in < 0))
        return false;
    return true;
}

static void flight_unlink(struct flight *f)
{
    for (struct flight **pp = &flights; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

/* Each waiter gets the answer in turn; one cancelled by an earlier callback is already gone. */
static void flight_deliver(struct flight *f, const char *authorization)
{
    struct gh_prop_exchange *w;
    while ((w = f->waiters) != NULL) {
        f->waiters = w->next;
        gh_prop_exchange_cb cb = w->cb;
        void *arg = w->arg;
        free(w);
        cb(arg, authorization);
    }
}

static void on_done(void *arg, enum gh_rc rc)
{
    struct flight *e = arg;
    flight_unlink(e); /* later misses start a new flight */
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_slice token = {0};
    int64_t expires_in = 0;
    const char *why = gh_rc_str(rc);
    char *authorization = NULL;
    if (rc == GH_OK && read_answer(e, a, &token, &expires_in, &why)) {
        size_t n = token.len + 8;
        authorization = gh_xmalloc(n);
        snprintf(authorization, n, "Bearer %.*s", (int)token.len, token.ptr);
        int64_t now = gh_clock_wall_s();
        int64_t early = expires_in / 4 < EARLY_S ? expires_in / 4 : EARLY_S;
        if (expires_in - early > 0) /* no lifetime given: used for the waiting requests only */
            cache_put(e->x, e->key, authorization, now + expires_in - early, now);
        GH_LOGD("propagation", "upstream %s: token exchanged (expires in %lld s)", e->upstream,
                (long long)expires_in);
    } else {
        GH_LOGW("propagation", "upstream %s: token exchange at %s failed (status %d: %s)",
                e->upstream, e->x->token_endpoint, e->status, why);
    }
    flight_deliver(e, authorization);
    if (authorization) {
        OPENSSL_cleanse(authorization, strlen(authorization));
        free(authorization);
    }
    gh_arena_free(a);
    OPENSSL_cleanse(e->answer.data, e->answer.len);
    gh_buf_release(&e->answer);
    free(e);
}

static const struct gh_http_creq_cbs EXCHANGE_CBS = {on_head, on_body, on_done};

static struct gh_prop_exchange *waiter_add(struct flight *f, gh_prop_exchange_cb cb, void *arg)
{
    struct gh_prop_exchange *w = gh_xcalloc(1, sizeof(*w));
    w->f = f;
    w->cb = cb;
    w->arg = arg;
    w->next = f->waiters;
    f->waiters = w;
    return w;
}

static struct flight *flight_find(const struct gh_prop__exchanger *x, const unsigned char key[32])
{
    for (struct flight *f = flights; f; f = f->next)
        if (f->x == x && memcmp(f->key, key, 32) == 0)
            return f;
    return NULL;
}

static const struct gh_http_header FORM_HEADERS[] = {
    {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/x-www-form-urlencoded")},
    {GH_SLICE_LIT("Accept"), GH_SLICE_LIT("application/json")},
};

/* A new request to the IdP; NULL when the client assertion cannot be made. */
static struct flight *flight_start(struct gh_prop__exchanger *x, const struct gh_prop_upstream *u,
                                   struct gh_slice subject_token, const char *scopes,
                                   const unsigned char key[32])
{
    struct gh_buf form;
    gh_buf_init(&form, subject_token.len * 3 + 16384);
    if (!form_build(&form, x, u, subject_token, scopes)) {
        gh_buf_release(&form);
        return NULL;
    }
    if (!pool || pool_owner != x) { /* a new configuration (tests): the old pool stays idle */
        pool = gh_http_pool_new(gh_net_worker_current(), &x->target);
        pool_owner = x;
    }
    struct flight *f = gh_xcalloc(1, sizeof(*f));
    f->x = x;
    memcpy(f->key, key, 32);
    snprintf(f->upstream, sizeof(f->upstream), "%s", gh_prop_upstream_name(u));
    gh_buf_init(&f->answer, ANSWER_MAX);
    f->next = flights;
    flights = f;
    f->creq = gh_http_client_send(pool, "POST", gh_slice_cstr(x->path), FORM_HEADERS,
                                  GH_ARRAY_LEN(FORM_HEADERS), gh_slice(form.data, form.len),
                                  &EXCHANGE_CBS, f);
    OPENSSL_cleanse(form.data, form.len);
    gh_buf_release(&form);
    return f;
}

enum gh_prop_exchange_state gh_prop_exchange_start(struct gh_prop *p,
                                                   const struct gh_prop_upstream *u,
                                                   const struct gh_prop_subject *s,
                                                   struct gh_slice subject_token,
                                                   gh_prop_exchange_cb cb, void *arg, char **cached,
                                                   struct gh_prop_exchange **pending)
{
    struct gh_prop__exchanger *x = p ? p->xchg : NULL;
    *cached = NULL;
    *pending = NULL;
    if (!x || subject_token.len == 0 || !gh_net_worker_current())
        return GH_PROP_EXCHANGE_FAILED;
    struct gh_buf scopes;
    gh_buf_init(&scopes, 8192);
    gh_prop__scopes_put(&scopes, u, s);
    gh_buf_append(&scopes, "", 1);
    unsigned char key[32];
    cache_key(u, s, scopes.data, key);
    enum gh_prop_exchange_state st = GH_PROP_EXCHANGE_PENDING;
    struct flight *f = NULL;
    if ((*cached = cache_get(x, key, gh_clock_wall_s())) != NULL)
        st = GH_PROP_EXCHANGE_CACHED;
    else if ((f = flight_find(x, key)) != NULL || /* the same token is being asked for */
             (f = flight_start(x, u, subject_token, scopes.data, key)) != NULL)
        *pending = waiter_add(f, cb, arg);
    else
        st = GH_PROP_EXCHANGE_FAILED;
    gh_buf_release(&scopes);
    return st;
}

void gh_prop_exchange_cancel(struct gh_prop_exchange *e)
{
    if (!e)
        return;
    /* the flight goes on without this waiter: its answer is still cached for the next call */
    for (struct gh_prop_exchange **pp = &e->f->waiters; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    free(e);
}
