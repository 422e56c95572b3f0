/*
 * auth/gate.c owns the gate in front of every MCP request: bearer-token extraction, JWT
 * validation against each issuer's JWKS (fetched by discovery on the main loop, kept when the
 * IdP is unreachable, refetched — rate-limited — when a token names an unknown kid), the
 * verified-token cache, scope requirements and the WWW-Authenticate challenges of RFC 6750 /
 * RFC 9728. Workers only read: the current key set is swapped under a short lock.
 */
#include "core/core.h"
#include "auth/auth.h"
#include "http/http.h"
#include "state/state.h"

#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#define FETCH_BODY_MAX (512u << 10)
#define RETRY_MS       10000        /* JWKS not loaded yet: try again after */
#define REFRESH_MS     (10 * 60000) /* keys are refreshed this often anyway */

struct issuer {
    const struct gh_config_auth_issuer *conf;
    struct gh_auth_alg_set algs;
    pthread_mutex_t lock; /* guards keys and jwks_uri */
    struct gh_auth_jwks *keys;
    char *jwks_uri;
    _Atomic uint64_t refresh_asked_ms;  /* rate limit of kid-miss refetches */
    bool fetching;                      /* main loop only */
    unsigned disc_try;                  /* main loop only: the metadata URL to try next */
    bool fixed;                         /* keys given (dev issuer): never fetched */
    struct gh_auth_introspector *intro; /* opaque tokens, when configured */
    size_t idx;
    struct gh_auth_gate *g;
};

struct gh_auth_gate {
    const struct gh_config_auth *conf;
    struct gh_state *replay;     /* DPoP proof jti seen-once store */
    unsigned char nonce_key[32]; /* DPoP-Nonce: HMAC of the minute under a per-process key */
    bool any_dpop_required;
    bool bearer_offered;         /* some issuer takes unbound tokens: the Bearer challenge */
    bool dpop_offered;           /* some issuer takes DPoP: the DPoP challenge (RFC 9449 §7.1) */
    unsigned char cache_key[16]; /* SipHash key: the token cache is keyed by a keyed PRF */
    struct gh_auth_alg_set dpop_algs;
    struct issuer *iss;
    size_t niss;
    struct gh_auth_token_cache *cache;
    struct gh_net_worker *main;
    struct gh_net_timer *timer;
    struct ssl_ctx_st *tls;
};

/* ---- fetching (main loop) ---- */

struct fetch {
    struct issuer *is;
    struct gh_http_pool *pool;
    struct gh_buf body;
    int status;
    bool discovery;
};

static void fetch_jwks(struct issuer *is);
static void fetch_issuer(struct issuer *is);

static void fetch_head(void *arg, const struct gh_http_response_head *h)
{
    struct fetch *f = arg;
    f->status = h->status;
}

static void fetch_body(void *arg, const char *p, size_t n)
{
    struct fetch *f = arg;
    if (gh_buf_append(&f->body, p, n) != GH_OK)
        f->status = -1; /* over the cap: refused whole */
}

static bool is_loopback_issuer(const struct issuer *is)
{
    struct gh_config_url iu;
    const char *why;
    bool yes = false;
    if (gh_config_url_parse(is->conf->issuer, &iu, &why) == GH_OK) {
        struct gh_net_addr ia;
        yes = gh_net_addr_resolve(iu.host, iu.port, &ia) == GH_OK && gh_net_addr_is_loopback(&ia);
        gh_config_url_release(&iu);
    }
    return yes;
}

/* Takes jwks_uri and introspection_endpoint from a metadata document (discovery.c decides
 * whether to believe it); false when it is refused. */
static bool use_discovery(struct issuer *is, const struct gh_buf *b)
{
    struct gh_auth_discovery d;
    const char *why;
    if (gh_auth_discovery_read(is->conf->issuer, b->data, b->len, &d, &why) != GH_ALLOW) {
        GH_LOGW("auth", "issuer %s: metadata refused: %s", is->conf->issuer, why);
        return false;
    }
    if (d.jwks_uri) {
        pthread_mutex_lock(&is->lock);
        free(is->jwks_uri);
        is->jwks_uri = d.jwks_uri;
        d.jwks_uri = NULL;
        pthread_mutex_unlock(&is->lock);
    }
    if (is->intro && !is->conf->introspection->endpoint && d.introspection_endpoint &&
        !gh_auth_introspector_ready(is->intro) &&
        gh_auth_introspector_set_endpoint(is->intro, d.introspection_endpoint, is->g->tls,
                                          is_loopback_issuer(is)) != GH_OK)
        GH_LOGW("auth", "issuer %s: introspection endpoint refused by the egress guard",
                is->conf->issuer);
    gh_auth_discovery_release(&d);
    return true;
}

/* The first keys of the last issuer to get any: the quick retries (RETRY_MS) give way to the
 * regular refresh, instead of one more fetch of every issuer RETRY_MS after start. Main loop. */
static void settle_timer(struct gh_auth_gate *g)
{
    for (size_t i = 0; i < g->niss; i++) {
        pthread_mutex_lock(&g->iss[i].lock);
        bool missing = g->iss[i].keys == NULL && !g->iss[i].fixed;
        pthread_mutex_unlock(&g->iss[i].lock);
        if (missing)
            return;
    }
    gh_net_timer_arm(g->timer, REFRESH_MS);
}

static void use_jwks(struct issuer *is, const struct gh_buf *b)
{
    struct gh_auth_jwks *set = NULL;
    struct gh_auth_err err = {0};
    if (gh_auth_jwks_parse(NULL, b->data ? b->data : "", b->len, &set, &err) != GH_OK) {
        GH_LOGW("auth", "issuer %s: JWKS refused (%s): keeping the keys we have", is->conf->issuer,
                err.reason ? err.reason : "invalid");
        return;
    }
    pthread_mutex_lock(&is->lock);
    struct gh_auth_jwks *old = is->keys;
    is->keys = set;
    pthread_mutex_unlock(&is->lock);
    gh_auth_jwks_unref(old);
    GH_LOGI("auth", "issuer %s: %u signing keys loaded", is->conf->issuer,
            (unsigned)gh_auth_jwks_count(set));
    if (!old)
        settle_timer(is->g);
}

static void fetch_done(void *arg, enum gh_rc rc)
{
    struct fetch *f = arg;
    struct issuer *is = f->is;
    bool ok = rc == GH_OK && f->status == 200;
    if (!ok)
        GH_LOGW("auth", "issuer %s: %s fetch failed (%s, status %d): keeping the keys we have",
                is->conf->issuer, f->discovery ? "discovery" : "JWKS", gh_rc_str(rc), f->status);
    else if (f->discovery)
        ok = use_discovery(is, &f->body);
    else
        use_jwks(is, &f->body);
    bool next = ok && f->discovery, other_url = !ok && f->discovery;
    if (f->discovery)
        is->disc_try = ok ? 0 : is->disc_try + 1;
    gh_buf_release(&f->body);
    /* the pool cannot be freed inside its own callback: the loop does it next */
    gh_net_worker_post(is->g->main, (gh_net_task_fn)gh_http_pool_free, f->pool);
    free(f);
    is->fetching = false;
    if (next)
        fetch_jwks(is);
    else if (other_url)
        fetch_issuer(is); /* the next well-known URL, if there is one */
}

static const struct gh_http_creq_cbs FETCH_CBS = {fetch_head, fetch_body, fetch_done};

/* A GET of url from the main loop, with the egress guard on the resolved address. */
static bool fetch_start(struct issuer *is, const char *url, bool discovery)
{
    struct gh_config_url u;
    const char *why = NULL;
    if (gh_config_url_parse(url, &u, &why) != GH_OK) {
        GH_LOGW("auth", "issuer %s: unusable %s URL", is->conf->issuer,
                discovery ? "discovery" : "JWKS");
        return false;
    }
    struct gh_http_client_target t = {0};
    bool ok = gh_net_addr_resolve(u.host, u.port, &t.addr) == GH_OK;
    struct gh_config_url iu;
    bool issuer_loopback = false;
    if (gh_config_url_parse(is->conf->issuer, &iu, &why) == GH_OK) {
        struct gh_net_addr ia;
        issuer_loopback =
            gh_net_addr_resolve(iu.host, iu.port, &ia) == GH_OK && gh_net_addr_is_loopback(&ia);
        gh_config_url_release(&iu);
    }
    if (ok && !u.tls && !gh_net_addr_is_loopback(&t.addr)) {
        GH_LOGW("auth", "issuer %s: %s URL is not https: refused", is->conf->issuer,
                discovery ? "discovery" : "JWKS");
        ok = false;
    } else if (ok && gh_net_egress_allowed(&t.addr, issuer_loopback,
                                           is->conf->allow_private_network) != GH_ALLOW) {
        GH_LOGW("auth", "issuer %s: %s address refused by the egress guard", is->conf->issuer,
                discovery ? "discovery" : "JWKS");
        ok = false;
    }
    if (ok) {
        char host[300];
        snprintf(host, sizeof(host), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u", u.host, u.port);
        t.tls = u.tls ? is->g->tls : NULL;
        t.host_header = host;
        t.sni = u.tls ? u.host : NULL;
        t.max_idle = 0;
        t.header_bytes = 16384;
        t.connect_ms = t.first_byte_ms = t.stream_idle_ms = 5000;
        struct fetch *f = gh_xcalloc(1, sizeof(*f));
        f->is = is;
        f->discovery = discovery;
        gh_buf_init(&f->body, FETCH_BODY_MAX);
        f->pool = gh_http_pool_new(is->g->main, &t); /* one per fetch: rare, and never reused */
        static const struct gh_http_header acc = {GH_SLICE_LIT("Accept"),
                                                  GH_SLICE_LIT("application/json")};
        is->fetching = true;
        gh_http_client_send(f->pool, "GET", gh_slice_cstr(u.path), &acc, 1, gh_slice(NULL, 0),
                            &FETCH_CBS, f);
    }
    gh_config_url_release(&u);
    return ok;
}

static void fetch_jwks(struct issuer *is)
{
    pthread_mutex_lock(&is->lock);
    char *uri = is->jwks_uri ? gh_xstrdup(is->jwks_uri) : NULL;
    pthread_mutex_unlock(&is->lock);
    if (uri)
        fetch_start(is, uri, false);
    free(uri);
}

static void fetch_issuer(struct issuer *is)
{
    if (is->fetching || is->fixed)
        return;
    if (is->conf->jwks_uri || is->jwks_uri) {
        fetch_jwks(is);
        return;
    }
    char url[2200];
    if (!gh_auth_discovery_url(is->conf, is->disc_try, url, sizeof(url))) {
        is->disc_try = 0; /* every URL failed: the timer starts over */
        return;
    }
    fetch_start(is, url, true);
}

static void on_timer(void *arg)
{
    struct gh_auth_gate *g = arg;
    bool missing = false;
    for (size_t i = 0; i < g->niss; i++) {
        pthread_mutex_lock(&g->iss[i].lock);
        missing |= g->iss[i].keys == NULL;
        pthread_mutex_unlock(&g->iss[i].lock);
        fetch_issuer(&g->iss[i]);
    }
    gh_net_timer_arm(g->timer, missing ? RETRY_MS : REFRESH_MS);
}

static void refresh_task(void *arg)
{
    fetch_issuer(arg);
}

/* ---- lifecycle ---- */

struct gh_auth_gate *gh_auth_gate_new(const struct gh_config_auth *conf, struct gh_net_worker *main)
{
    struct gh_auth_gate *g = gh_xcalloc(1, sizeof(*g));
    g->conf = conf;
    g->main = main;
    g->niss = conf->n_issuers;
    g->iss = gh_xcalloc(g->niss ? g->niss : 1, sizeof(*g->iss));
    g->cache = gh_auth_token_cache_new(65536);
    g->replay = gh_state_new_memory(262144);
    gh_random_bytes(g->nonce_key, sizeof(g->nonce_key));
    gh_random_bytes(g->cache_key, sizeof(g->cache_key));
    for (unsigned bit = 1; bit <= GH_ALG_EDDSA; bit <<= 1)
        if (conf->dpop.algorithms & bit)
            gh_auth_alg_set_add(&g->dpop_algs, gh_auth_alg_from_name(gh_slice_cstr(
                                                   gh_config_alg_name((enum gh_config_alg)bit))));
    g->tls = gh_net_tls_client_ctx();
    for (size_t i = 0; i < g->niss; i++) {
        struct issuer *is = &g->iss[i];
        is->conf = &conf->issuers[i];
        is->g = g;
        pthread_mutex_init(&is->lock, NULL);
        is->idx = i;
        g->any_dpop_required |= is->conf->dpop == GH_CONFIG_DPOP_REQUIRED;
        g->bearer_offered |= is->conf->dpop != GH_CONFIG_DPOP_REQUIRED;
        g->dpop_offered |= is->conf->dpop != GH_CONFIG_DPOP_OFF;
        if (is->conf->jwks_uri)
            is->jwks_uri = gh_xstrdup(is->conf->jwks_uri);
        if (is->conf->introspection) {
            char err[256] = "";
            is->intro = gh_auth_introspector_new(is->conf, err, sizeof(err));
            if (!is->intro)
                GH_LOGE("auth", "%s", err); /* opaque tokens of this issuer get 503 */
            else if (is->conf->introspection->endpoint &&
                     gh_auth_introspector_set_endpoint(is->intro, is->conf->introspection->endpoint,
                                                       g->tls, is_loopback_issuer(is)) != GH_OK)
                GH_LOGE("auth", "issuer %s: introspection endpoint refused", is->conf->issuer);
        }
        for (unsigned bit = 1; bit <= GH_ALG_EDDSA; bit <<= 1)
            if (is->conf->algorithms & bit)
                gh_auth_alg_set_add(&is->algs, gh_auth_alg_from_name(gh_slice_cstr(
                                                   gh_config_alg_name((enum gh_config_alg)bit))));
    }
    g->timer = gh_net_timer_new(main, on_timer, g);
    gh_net_timer_arm(g->timer, 1);
    return g;
}

void gh_auth_gate_free(struct gh_auth_gate *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->niss; i++) {
        struct issuer *is = &g->iss[i];
        gh_auth_jwks_unref(is->keys);
        free(is->jwks_uri);
        gh_auth_introspector_free(is->intro);
        pthread_mutex_destroy(&is->lock);
    }
    free(g->iss);
    gh_net_timer_free(g->timer);
    gh_auth_token_cache_free(g->cache);
    gh_state_free(g->replay);
    SSL_CTX_free(g->tls);
    free(g);
}

void gh_auth_gate_set_keys(struct gh_auth_gate *g, size_t idx, struct gh_auth_jwks *keys)
{
    struct issuer *is = &g->iss[idx];
    pthread_mutex_lock(&is->lock);
    struct gh_auth_jwks *old = is->keys;
    is->keys = keys;
    is->fixed = true;
    pthread_mutex_unlock(&is->lock);
    gh_auth_jwks_unref(old);
}

/* ---- checking (any worker) ---- */

static void deny(struct gh_auth_result *out, int status, const char *error, const char *desc)
{
    out->verdict = GH_DENY;
    out->status = status;
    out->error = error;
    out->description = desc;
}

/* token68 characters (RFC 9110 §11.2) but '=', which only pads the end */
static const unsigned char TOKEN68[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['-'] = 1, ['.'] = 1,
    ['_'] = 1,         ['~'] = 1,         ['+'] = 1,         ['/'] = 1,
};

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 9110 §11.2) */
static bool is_token68(struct gh_slice t)
{
    size_t i = 0;
    while (i < t.len && TOKEN68[(unsigned char)t.ptr[i]])
        i++;
    if (i == 0)
        return false;
    while (i < t.len && t.ptr[i] == '=')
        i++;
    return i == t.len;
}

/* The scheme and the token of an Authorization value; the token's characters are not checked
 * yet (a token this connection already presented was checked then: the gate skips it). */
static enum gh_auth_cred credentials_split(struct gh_slice value, struct gh_slice *token)
{
    struct gh_slice v = gh_slice_trim(value);
    size_t e = 0;
    while (e < v.len && v.ptr[e] != ' ' && v.ptr[e] != '\t')
        e++;
    size_t t = e;
    while (t < v.len && v.ptr[t] == ' ') /* 1*SP; a tab is left for token68 to refuse */
        t++;
    *token = gh_slice(v.ptr + t, v.len - t);
    if (e == 6 && strncasecmp(v.ptr, "Bearer", 6) == 0)
        return token->len ? GH_AUTH_CRED_BEARER : GH_AUTH_CRED_MALFORMED;
    if (e == 4 && strncasecmp(v.ptr, "DPoP", 4) == 0)
        return token->len ? GH_AUTH_CRED_DPOP : GH_AUTH_CRED_MALFORMED;
    return e == 0 ? GH_AUTH_CRED_MALFORMED /* an empty field: no scheme at all */
                  : GH_AUTH_CRED_OTHER;
}

enum gh_auth_cred gh_auth_credentials_parse(struct gh_slice value, struct gh_slice *token)
{
    enum gh_auth_cred kind = credentials_split(value, token);
    if ((kind == GH_AUTH_CRED_BEARER || kind == GH_AUTH_CRED_DPOP) && !is_token68(*token))
        return GH_AUTH_CRED_MALFORMED;
    return kind;
}

/* The 400 for a token that is not token68 (checked once the connection memo missed). */
static bool token_shape_ok(struct gh_slice tok, struct gh_auth_result *out)
{
    if (is_token68(tok))
        return true;
    deny(out, 400, "invalid_request", "the token is not token68 (RFC 9110 section 11.2)");
    return false;
}

/* True when the query names an access_token parameter (RFC 6750 §2.3), percent-encoded or not:
 * the name a framework behind us would decode, not a substring of another name or a value. */
static bool query_names_token(struct gh_slice q)
{
    static const char NAME[] = "access_token";
    size_t i = 0;
    while (i < q.len) {
        size_t k = 0;
        bool same = true;
        while (i < q.len && q.ptr[i] != '&' && q.ptr[i] != '=') {
            int c = (unsigned char)q.ptr[i++];
            if (c == '%' && i + 1 < q.len && gh_hex_digit((unsigned char)q.ptr[i]) >= 0 &&
                gh_hex_digit((unsigned char)q.ptr[i + 1]) >= 0) {
                c = gh_hex_digit((unsigned char)q.ptr[i]) * 16 +
                    gh_hex_digit((unsigned char)q.ptr[i + 1]);
                i += 2;
            }
            same = same && k < sizeof(NAME) - 1 && c == NAME[k];
            k++;
        }
        if (same && k == sizeof(NAME) - 1)
            return true;
        while (i < q.len && q.ptr[i] != '&')
            i++; /* the value */
        i++;
    }
    return false;
}

/*
 * The token of the single Authorization header (Bearer or DPoP scheme). Refusals (RFC 6750 §3.1,
 * security-cases §4.1 cases 1-3): no header is 401 without an error code, as is a scheme the gate
 * does not take; a token in the query, two headers, an empty or non-token68 token are 400.
 */
static bool extract(const struct gh_http_req *r, struct gh_slice *tok, struct gh_auth_result *out)
{
    const struct gh_http_request_head *h = gh_http_req_head(r);
    /* one pass over the fields: the first Authorization, then whether another follows */
    const struct gh_http_header *auth =
        gh_http_header_find(h->headers, h->nheaders, "Authorization");
    size_t n = 0;
    if (auth) {
        size_t at = (size_t)(auth - h->headers) + 1;
        n = 1 + gh_http_header_count(auth + 1, h->nheaders - at, "Authorization");
    }
    if (h->query.len && query_names_token(h->query)) {
        deny(out, 400, "invalid_request",
             n ? "a token in both the Authorization header and the query string"
               : "tokens are not accepted in the query string");
        return false;
    }
    if (n == 0) {
        deny(out, 401, NULL, NULL); /* RFC 6750 §3.1: no error code when no token was sent */
        return false;
    }
    if (n > 1) {
        deny(out, 400, "invalid_request", "more than one Authorization header");
        return false;
    }
    switch (credentials_split(auth->value, tok)) {
    case GH_AUTH_CRED_DPOP:
        out->dpop_scheme = true;
        return true;
    case GH_AUTH_CRED_BEARER:
        return true;
    case GH_AUTH_CRED_OTHER: /* no credentials we take: a challenge, no error (RFC 6750 §3.1) */
        deny(out, 401, NULL, "an authorization scheme other than Bearer or DPoP");
        return false;
    case GH_AUTH_CRED_MALFORMED:
    default:
        deny(out, 400, "invalid_request",
             tok->len ? "the token is not token68 (RFC 9110 section 11.2)" : "empty token");
        return false;
    }
}

static struct gh_auth_jwks *keys_of(struct issuer *is)
{
    pthread_mutex_lock(&is->lock);
    struct gh_auth_jwks *k = is->keys ? gh_auth_jwks_ref(is->keys) : NULL;
    pthread_mutex_unlock(&is->lock);
    return k;
}

static void ask_refresh(struct issuer *is)
{
    uint64_t now = gh_clock_ms(), last = atomic_load(&is->refresh_asked_ms);
    if (now - last < is->g->conf->jwks_min_refresh_ms && last)
        return;
    if (atomic_compare_exchange_strong(&is->refresh_asked_ms, &last, now))
        gh_net_worker_post(is->g->main, refresh_task, is);
}

/* Tries one issuer; GH_ALLOW with a new principal, or the reason it does not fit. */
/* max_scopes: every scope of the token must be one the issuer may grant here. */
static bool within_ceiling(const struct gh_config_auth_issuer *is, const struct gh_auth_claims *c)
{
    for (uint32_t i = 0; is->max_scopes && i < c->nscopes; i++) {
        size_t k = 0;
        while (k < is->n_max_scopes && !gh_slice_eq_cstr(c->scopes[i], is->max_scopes[k]))
            k++;
        if (k == is->n_max_scopes)
            return false;
    }
    return true;
}

static enum gh_verdict try_issuer(struct issuer *is, struct gh_slice tok, const char *resource,
                                  int64_t now, struct gh_auth_principal **pp,
                                  enum gh_auth_reason *reason)
{
    struct gh_auth_jwks *keys = keys_of(is);
    if (!keys) {
        ask_refresh(is);
        *reason = GH_AUTH_R_UNKNOWN_KID;
        return GH_DENY;
    }
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_auth_jws jws;
    enum gh_verdict v = gh_auth_jws_verify(a, tok, keys, &is->algs, GH_AUTH_JWS_F_IGNORE_X5T, &jws);
    *reason = jws.reason;
    if (v == GH_ALLOW) {
        struct gh_auth_jwt_rules rules = {
            .issuer = gh_slice_cstr(is->conf->issuer),
            .audience = gh_slice_cstr(resource),
            .typ = gh_slice_cstr(is->conf->token_type),
            .skew_s = (int64_t)(is->conf->clock_skew_ms / 1000),
            .groups_claim = gh_slice_cstr(is->conf->claims.groups),
            .roles_claim = gh_slice_cstr(is->conf->claims.roles),
            .client_id_claim = is->conf->claims.client_id,
            .audiences = is->conf->audiences,
            .n_audiences = is->conf->n_audiences,
        };
        struct gh_auth_claims c;
        v = gh_auth_jwt_check(a, &jws.header, &jws.payload, &rules, now, &c);
        if (v == GH_ALLOW && !within_ceiling(is->conf, &c)) {
            v = GH_DENY;
            c.reason = GH_AUTH_R_SCOPE_CEILING;
        }
        *reason = c.reason;
        if (v == GH_ALLOW) {
            *pp = gh_auth_principal_new(&c, c.exp);
            (*pp)->method = GH_AUTH_METHOD_JWT;
        }
    } else if (jws.reason == GH_AUTH_R_UNKNOWN_KID) {
        ask_refresh(is); /* the IdP may have rotated its keys */
    }
    gh_arena_free(a);
    gh_auth_jwks_unref(keys);
    return v;
}

static const struct gh_config_auth_issuer *issuer_of(const struct gh_auth_gate *g,
                                                     const struct gh_auth_principal *p)
{
    for (size_t i = 0; i < g->niss; i++)
        if (gh_slice_eq_cstr(p->claims.iss, g->iss[i].conf->issuer))
            return g->iss[i].conf;
    return NULL;
}

/*
 * RFC 9449 on the resource server: a bound token (cnf.jkt) needs the DPoP scheme and a proof of
 * that key for this very request, seen once; a token without binding must not claim the DPoP
 * scheme; an issuer with dpop: required takes only bound tokens.
 */
#define NONCE_WINDOW_S 60

/* The server nonce of a time window: unpredictable, nothing to store (RFC 9449 §9). */
static void nonce_of(const struct gh_auth_gate *g, int64_t window, char out[44])
{
    unsigned char mac[32];
    unsigned int len = sizeof(mac);
    unsigned char msg[8];
    for (int i = 0; i < 8; i++)
        msg[i] = (unsigned char)((uint64_t)window >> (8 * i));
    HMAC(EVP_sha256(), g->nonce_key, sizeof(g->nonce_key), msg, sizeof(msg), mac, &len);
    gh_b64url_encode(mac, 24, out);
}

void gh_auth_gate_current_nonce(const struct gh_auth_gate *g, char out[44])
{
    nonce_of(g, (int64_t)time(NULL) / NONCE_WINDOW_S, out);
}

/* The resource URI of the request's path: its tokens' audience, and a DPoP proof's htu. */
static const char *resource_of(const struct gh_auth_gate *g, struct gh_http_req *r)
{
    struct gh_slice path = gh_http_req_head(r)->path;
    return gh_arena_sprintf(gh_http_req_arena(r), "%s%.*s", g->conf->resource, (int)path.len,
                            path.ptr);
}

static bool dpop_ok(struct gh_auth_gate *g, struct gh_http_req *r, struct gh_slice tok,
                    const unsigned char hash[32], const struct gh_auth_principal *p, int64_t now,
                    struct gh_auth_result *out)
{
    bool bound = p->claims.cnf_jkt.len > 0;
    if (!bound && !out->dpop_scheme && !g->any_dpop_required)
        return true; /* the common case, at no cost */
    const struct gh_config_auth_issuer *is = issuer_of(g, p);
    if (is && is->dpop == GH_CONFIG_DPOP_OFF && (bound || out->dpop_scheme)) {
        deny(out, 401, "invalid_token",
             bound ? "DPoP-bound tokens of this issuer are not accepted (dpop: off)"
                   : "the DPoP scheme is not accepted for this issuer (dpop: off)");
        return false;
    }
    if (!bound) {
        if (out->dpop_scheme || (is && is->dpop == GH_CONFIG_DPOP_REQUIRED)) {
            deny(out, 401, "invalid_token", "a DPoP-bound token is required");
            return false;
        }
        return true;
    }
    if (!out->dpop_scheme) {
        deny(out, 401, "invalid_token", "a DPoP-bound token must be sent with the DPoP scheme");
        return false;
    }
    const struct gh_http_request_head *h = gh_http_req_head(r);
    size_t nproofs = gh_http_header_count(h->headers, h->nheaders, "DPoP");
    if (nproofs != 1) { /* RFC 9449 §4.3 (1): exactly one DPoP header */
        deny(out, 401, "invalid_dpop_proof",
             nproofs ? "more than one DPoP proof header" : "no DPoP proof header");
        return false;
    }
    struct gh_arena *a = gh_http_req_arena(r);
    struct gh_auth_dpop_req req = {
        .method = h->method_str,
        .htu = gh_slice_cstr(resource_of(g, r)),
        .now = now,
        .max_age_s = (int64_t)(g->conf->dpop.iat_window_ms / 1000),
        .skew_s = 5,
        .allowed = &g->dpop_algs,
        .access_token = tok, /* ath: SHA-256 computed there, for DPoP requests only */
    };
    struct gh_auth_dpop proof;
    struct gh_slice hv = gh_slice_trim(gh_http_header_find(h->headers, h->nheaders, "DPoP")->value);
    char cur[44], prev[44];
    if (g->conf->dpop.nonce) { /* this minute's nonce, or the last one across the edge */
        nonce_of(g, now / NONCE_WINDOW_S, cur);
        nonce_of(g, now / NONCE_WINDOW_S - 1, prev);
        req.nonce = gh_slice_cstr(cur);
    }
    enum gh_verdict v = gh_auth_dpop_verify(a, hv, &req, &proof);
    if (v != GH_ALLOW && g->conf->dpop.nonce && proof.reason == GH_AUTH_R_DPOP_NONCE) {
        req.nonce = gh_slice_cstr(prev);
        v = gh_auth_dpop_verify(a, hv, &req, &proof);
    }
    if (v != GH_ALLOW && proof.reason == GH_AUTH_R_DPOP_NONCE) {
        deny(out, 401, "use_dpop_nonce", "the proof must carry the server's DPoP-Nonce");
        out->dpop_nonce = true;
        return false;
    }
    if (v != GH_ALLOW) {
        deny(out, 401, "invalid_dpop_proof", gh_auth_reason_str(proof.reason));
        return false;
    }
    if (!gh_slice_eq_cstr(p->claims.cnf_jkt, proof.jkt)) {
        deny(out, 401, "invalid_token", "the DPoP proof is not of the key the token is bound to");
        return false;
    }
    /* one use per proof: a captured request cannot be replayed within the iat window */
    enum gh_rc seen = gh_state_once(g->replay, GH_SLICE_LIT("dpop-jti"), proof.jti,
                                    g->conf->dpop.iat_window_ms + 10000);
    if (seen != GH_OK) {
        deny(out, 401, "invalid_dpop_proof",
             seen == GH_E_DECLINED ? "DPoP proof replayed" : "DPoP replay store full");
        return false;
    }
    return true;
}

static void authenticate_token(struct gh_auth_gate *g, struct gh_http_req *r, struct gh_slice tok,
                               const unsigned char hash[32], struct gh_auth_principal *p,
                               int64_t now, struct gh_auth_result *out);

/*
 * The cache key of a token: 128 bits of SipHash-2-4 under a per-process key — a PRF an attacker
 * cannot aim a collision at, cheaper than SHA-256 on the per-request path.
 */
/* The cache key of a token shown on a path: a token is checked against the resource URI of the
 * path (its audience), so its verdict holds for that path only. */
static void token_key(const struct gh_auth_gate *g, struct gh_slice path, struct gh_slice tok,
                      unsigned char out[32])
{
    unsigned char both[32];
    gh_siphash128(g->cache_key, tok.ptr, tok.len, both);
    gh_siphash128(g->cache_key, path.ptr, path.len, both + 16);
    gh_siphash128(g->cache_key, both, sizeof(both), out);
    memset(out + 16, 0, 16); /* 128 keyed bits are plenty; the cache wants 32 bytes */
}

/* The last token a connection showed, and who it proved (clients reuse one token for many
 * requests on a keep-alive connection: a byte compare then replaces hashing and the cache). */
struct conn_memo {
    struct gh_auth_principal *p;
    size_t len, path_len; /* token[len] then the path it was accepted on */
    char token[];
};

static void memo_free(void *arg)
{
    struct conn_memo *m = arg;
    gh_auth_principal_unref(m->p);
    free(m);
}

static struct gh_auth_principal *memo_get(struct gh_http_req *r, struct gh_slice tok, int64_t now)
{
    void **slot = gh_http_req_conn_memo(r, memo_free);
    struct conn_memo *m = slot ? *slot : NULL;
    struct gh_slice path = gh_http_req_head(r)->path;
    if (!m || m->len != tok.len || m->path_len != path.len || now >= m->p->expires ||
        memcmp(m->token, tok.ptr, tok.len) != 0 ||
        memcmp(m->token + m->len, path.ptr, path.len) != 0)
        return NULL; /* another token, or the same on another path (another audience) */
    return gh_auth_principal_ref(m->p);
}

static void memo_put(struct gh_http_req *r, struct gh_slice tok, struct gh_auth_principal *p)
{
    void **slot = gh_http_req_conn_memo(r, memo_free);
    struct gh_slice path = gh_http_req_head(r)->path;
    if (!slot || tok.len > 16384 || path.len > 8192)
        return;
    if (*slot)
        memo_free(*slot);
    struct conn_memo *m = gh_xmalloc(sizeof(*m) + tok.len + path.len);
    m->p = gh_auth_principal_ref(p);
    m->len = tok.len;
    m->path_len = path.len;
    memcpy(m->token, tok.ptr, tok.len);
    memcpy(m->token + tok.len, path.ptr, path.len);
    *slot = m;
}

struct pending_intro {
    struct gh_auth_gate *g;
    struct gh_http_req *r;
    gh_auth_gate_cb cb;
    void *arg;
    char *token;
    unsigned char hash[32];
    bool dpop_scheme;
};

static void on_introspected(void *arg, const struct gh_auth_introspect_result *res)
{
    struct pending_intro *pi = arg;
    struct gh_auth_result out = {.dpop_scheme = pi->dpop_scheme};
    int64_t now = (int64_t)time(NULL);
    struct gh_slice tok = gh_slice_cstr(pi->token);
    if (res->unavailable) {
        deny(&out, 503, NULL, "introspection unavailable");
    } else if (!res->principal) {
        deny(&out, 401, "invalid_token", "inactive");
    } else {
        gh_auth_token_cache_put_hash(pi->g->cache, pi->hash, res->principal, now);
        if (dpop_ok(pi->g, pi->r, tok, pi->hash, res->principal, now, &out)) {
            out.verdict = GH_ALLOW;
            out.principal = res->principal;
        } else {
            gh_auth_principal_unref(res->principal);
        }
    }
    pi->cb(pi->arg, pi->r, &out);
    gh_http_req_unref(pi->r);
    free(pi->token);
    free(pi);
}

void gh_auth_gate_authenticate_async(struct gh_auth_gate *g, struct gh_http_req *r,
                                     gh_auth_gate_cb cb, void *arg)
{
    struct gh_auth_result out;
    struct gh_slice tok;
    memset(&out, 0, sizeof(out));
    if (!extract(r, &tok, &out)) {
        cb(arg, r, &out);
        return;
    }
    unsigned char hash[32];
    int64_t now = (int64_t)time(NULL);
    struct gh_auth_principal *cached = memo_get(r, tok, now);
    if (cached && !cached->claims.cnf_jkt.len && !out.dpop_scheme && !g->any_dpop_required) {
        out.verdict = GH_ALLOW; /* the same bytes as the last request on this connection */
        out.principal = cached;
        cb(arg, r, &out);
        return;
    }
    gh_auth_principal_unref(cached);
    if (!token_shape_ok(tok, &out)) {
        cb(arg, r, &out);
        return;
    }
    size_t dots = 0; /* not on the memo path above: the common case scans nothing */
    for (size_t i = 0; i < tok.len; i++)
        dots += tok.ptr[i] == '.';
    struct issuer *intro = NULL;
    for (size_t i = 0; i < g->niss && !intro; i++)
        if (g->iss[i].intro && gh_auth_introspector_ready(g->iss[i].intro))
            intro = &g->iss[i];
    token_key(g, gh_http_req_head(r)->path, tok, hash);
    cached = gh_auth_token_cache_get_hash(g->cache, hash, now);
    if (dots == 2 || !intro || cached) { /* JWTs, and opaque tokens already cached */
        authenticate_token(g, r, tok, hash, cached, now, &out);
        if (out.verdict == GH_ALLOW)
            memo_put(r, tok, out.principal);
        cb(arg, r, &out);
        return;
    }
    struct pending_intro *pi = gh_xcalloc(1, sizeof(*pi));
    pi->g = g;
    pi->r = r;
    pi->cb = cb;
    pi->arg = arg;
    pi->token = gh_xstrndup(tok.ptr, tok.len);
    memcpy(pi->hash, hash, 32);
    pi->dpop_scheme = out.dpop_scheme;
    gh_http_req_ref(r); /* held while the IdP answers */
    gh_auth_introspect(intro->intro, intro->idx, tok, resource_of(g, r), on_introspected, pi);
}

/* The token's verdict given its hash and what the cache holds (p, a reference, or NULL). */
static void authenticate_token(struct gh_auth_gate *g, struct gh_http_req *r, struct gh_slice tok,
                               const unsigned char hash[32], struct gh_auth_principal *p,
                               int64_t now, struct gh_auth_result *out)
{
    enum gh_auth_reason why = GH_AUTH_R_UNSPECIFIED;
    /* only a token not seen before needs the resource URI (its audience) */
    const char *resource = p ? NULL : resource_of(g, r);
    for (size_t i = 0; i < g->niss && !p; i++) {
        enum gh_auth_reason r1;
        if (try_issuer(&g->iss[i], tok, resource, now, &p, &r1) == GH_ALLOW)
            gh_auth_token_cache_put_hash(g->cache, hash, p, now);
        else if (why == GH_AUTH_R_UNSPECIFIED ||
                 (r1 != GH_AUTH_R_ISSUER &&
                  (why == GH_AUTH_R_ISSUER || why == GH_AUTH_R_UNKNOWN_KID)))
            why = r1; /* the most telling reason: not "another issuer's token", nor "another
                       * issuer has no such key" when the token's own issuer said more */
    }
    if (!p) {
        deny(out, 401, "invalid_token", gh_auth_reason_str(why));
        return;
    }
    if (!dpop_ok(g, r, tok, hash, p, now, out)) {
        gh_auth_principal_unref(p);
        return;
    }
    out->verdict = GH_ALLOW;
    out->principal = p;
}

void gh_auth_gate_authenticate(struct gh_auth_gate *g, struct gh_http_req *r,
                               struct gh_auth_result *out)
{
    memset(out, 0, sizeof(*out));
    struct gh_slice tok;
    if (!extract(r, &tok, out) || !token_shape_ok(tok, out))
        return;
    int64_t now = (int64_t)time(NULL);
    unsigned char hash[32];
    token_key(g, gh_http_req_head(r)->path, tok, hash);
    authenticate_token(g, r, tok, hash, gh_auth_token_cache_get_hash(g->cache, hash, now), now,
                       out);
}

/* True when missing (space-separated) already names scope. */
static bool listed(const struct gh_buf *missing, const char *scope)
{
    size_t n = strlen(scope);
    for (size_t i = 0; i + n <= missing->len; i++)
        if ((i == 0 || missing->data[i - 1] == ' ') && memcmp(missing->data + i, scope, n) == 0 &&
            (i + n == missing->len || missing->data[i + n] == ' '))
            return true;
    return false;
}

/* Appends to missing each of scopes[0..n) that the principal lacks (once); true when none is. */
static bool scopes_held(const struct gh_auth_principal *p, char *const *scopes, size_t n,
                        struct gh_buf *missing)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        bool has = false;
        for (uint32_t k = 0; k < p->claims.nscopes && !has; k++)
            has = gh_slice_eq_cstr(p->claims.scopes[k], scopes[i]);
        if (!has) {
            ok = false;
            if (!listed(missing, scopes[i]))
                gh_buf_appendf(missing, "%s%s", missing->len ? " " : "", scopes[i]);
        }
    }
    return ok;
}

bool gh_auth_gate_scopes(const struct gh_auth_gate *g, const struct gh_auth_principal *p,
                         struct gh_slice method, const struct gh_slice *upstreams, size_t nups,
                         struct gh_buf *missing)
{
    const struct gh_config_auth_scopes *s = &g->conf->scopes;
    bool ok = scopes_held(p, s->required, s->n_required, missing);
    for (size_t i = 0; i < s->n_methods; i++)
        if (gh_slice_eq_cstr(method, s->methods[i].name))
            ok &= scopes_held(p, s->methods[i].scopes, s->methods[i].n_scopes, missing);
    for (size_t u = 0; u < nups; u++)
        for (size_t i = 0; i < s->n_upstreams; i++)
            if (gh_slice_eq_cstr(upstreams[u], s->upstreams[i].name))
                ok &= scopes_held(p, s->upstreams[i].scopes, s->upstreams[i].n_scopes, missing);
    return ok;
}

static void put_metadata(const struct gh_auth_gate *g, struct gh_slice path, struct gh_buf *out)
{
    gh_buf_appendf(out, "resource_metadata=\"%s/.well-known/oauth-protected-resource%.*s\"",
                   g->conf->resource, (int)path.len, path.ptr);
}

static void put_algs(const struct gh_auth_gate *g, struct gh_buf *out)
{
    gh_buf_puts(out, "algs=\"");
    bool first = true;
    for (unsigned bit = 1; bit <= GH_ALG_EDDSA; bit <<= 1) {
        if (g->conf->dpop.algorithms & bit) {
            gh_buf_appendf(out, "%s%s", first ? "" : " ",
                           gh_config_alg_name((enum gh_config_alg)bit));
            first = false;
        }
    }
    gh_buf_puts(out, "\"");
}

/* ", error=…, error_description=…, scope=…" of a refusal; nothing when no error code applies
 * (no token, another scheme: RFC 6750 §3.1). Descriptions are fixed strings, never request data. */
static void put_error(const struct gh_auth_result *res, const char *scope, struct gh_buf *out)
{
    if (!res->error)
        return;
    gh_buf_appendf(out, ", error=\"%s\"", res->error);
    if (res->description)
        gh_buf_appendf(out, ", error_description=\"%s\"", res->description);
    if (scope && *scope)
        gh_buf_appendf(out, ", scope=\"%s\"", scope);
}

void gh_auth_gate_challenge(const struct gh_auth_gate *g, struct gh_slice path,
                            const struct gh_auth_result *res, const char *scope, struct gh_buf *out)
{
    bool dpop_error = res->error && (strcmp(res->error, "invalid_dpop_proof") == 0 ||
                                     strcmp(res->error, "use_dpop_nonce") == 0);
    /* the error is told in the scheme the client used (RFC 9449 §7.1), when the gate takes it;
     * with no error Bearer leads: MCP clients read resource_metadata from a leading Bearer */
    bool dpop_first = g->dpop_offered && (dpop_error || res->dpop_scheme || !g->bearer_offered);
    if (dpop_first) {
        gh_buf_puts(out, "DPoP ");
        put_algs(g, out);
        put_error(res, scope, out);
        gh_buf_puts(out, ", ");
        put_metadata(g, path, out);
        if (g->bearer_offered) { /* RFC 9449 §7.2: both schemes, one field (RFC 9110 §11.6.1) */
            gh_buf_puts(out, ", Bearer ");
            put_metadata(g, path, out);
        }
        return;
    }
    gh_buf_puts(out, "Bearer ");
    put_metadata(g, path, out);
    put_error(res, scope, out);
    if (g->dpop_offered) {
        gh_buf_puts(out, ", DPoP ");
        put_algs(g, out);
        gh_buf_puts(out, ", ");
        put_metadata(g, path, out);
    }
}

void gh_auth_principal_key(const struct gh_auth_principal *p, char out[65])
{
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    const struct gh_auth_claims *c = &p->claims;
    gh_buf_append(&b, c->iss.ptr, c->iss.len);
    gh_buf_append(&b, "", 1);
    gh_buf_append(&b, c->sub.ptr, c->sub.len);
    gh_buf_append(&b, "", 1);
    gh_buf_append(&b, c->client_id.ptr, c->client_id.len);
    unsigned char h[32];
    gh_sha256(b.data, b.len, h);
    gh_hex_encode(h, 32, out);
    gh_buf_release(&b);
}
