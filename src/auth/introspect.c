/*
 * auth/introspect.c owns opaque tokens: RFC 7662 introspection at the issuer, the gateway
 * authenticating with private_key_jwt (RFC 7523; the key comes from a file: or env: reference
 * and never from the config text). Positive answers are cached at most min(exp, ttl) — the ttl is
 * the revocation latency, kept to the millisecond; negative answers are cached negative_ttl_ms
 * (bounded: a fixed table, per token and resource); a timeout, a 5xx or garbage is
 * neither active nor inactive: the request gets 503 and nothing is cached.
 */
#include "core/core.h"
#include "auth/auth.h"
#include "json/json.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NEG_SLOTS 4096 /* inactive answers remembered at once (negative_ttl_ms) */

struct neg_slot {
    unsigned char key[32]; /* SHA-256 of token, NUL, resource */
    int64_t until_ms;      /* wall clock; 0 = empty */
};

struct gh_auth_introspector {
    pthread_mutex_t neg_lock; /* guards neg: workers share it */
    struct neg_slot neg[NEG_SLOTS];
    const struct gh_config_auth_issuer *conf;
    EVP_PKEY *key;
    char *endpoint; /* absolute URL */
    struct gh_http_client_target target;
    char host_header[300], path[1024];
    bool ready; /* endpoint resolved and allowed */
};

static _Thread_local struct gh_http_pool *pools[GH_CONFIG_MAX_ISSUERS];

void gh_auth_introspector_free(struct gh_auth_introspector *in)
{
    if (!in)
        return;
    EVP_PKEY_free(in->key);
    pthread_mutex_destroy(&in->neg_lock);
    free(in->endpoint);
    free(in);
}

static EVP_PKEY *load_key(const struct gh_config_ref *ref)
{
    BIO *bio = NULL;
    if (ref->kind == GH_CONFIG_ENV_FROM_FILE) {
        bio = BIO_new_file(ref->target, "r");
    } else {
        const char *v = getenv(ref->target);
        bio = v ? BIO_new_mem_buf(v, -1) : NULL;
    }
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return k;
}

struct gh_auth_introspector *gh_auth_introspector_new(const struct gh_config_auth_issuer *conf,
                                                      char *err, size_t errlen)
{
    struct gh_auth_introspector *in = gh_xcalloc(1, sizeof(*in));
    in->conf = conf;
    pthread_mutex_init(&in->neg_lock, NULL);
    in->key = load_key(&conf->introspection->private_key);
    if (!in->key) {
        snprintf(err, errlen, "issuer %s: introspection private_key cannot be read as a PEM key",
                 conf->issuer);
        pthread_mutex_destroy(&in->neg_lock);
        free(in);
        return NULL;
    }
    return in;
}

enum gh_rc gh_auth_introspector_set_endpoint(struct gh_auth_introspector *in, const char *url,
                                             struct ssl_ctx_st *tls, bool allow_loopback)
{
    struct gh_config_url u;
    const char *why;
    if (gh_config_url_parse(url, &u, &why) != GH_OK)
        return GH_E_PARSE;
    enum gh_rc rc = GH_OK;
    struct gh_net_addr a;
    if (gh_net_addr_resolve(u.host, u.port, &a) != GH_OK ||
        gh_net_egress_allowed(&a, allow_loopback, in->conf->allow_private_network) != GH_ALLOW ||
        (!u.tls && !gh_net_addr_is_loopback(&a))) {
        rc = GH_E_DECLINED;
        goto out;
    }
    free(in->endpoint);
    in->endpoint = gh_xstrdup(url);
    snprintf(in->host_header, sizeof(in->host_header), strchr(u.host, ':') ? "[%s]:%u" : "%s:%u",
             u.host, u.port);
    snprintf(in->path, sizeof(in->path), "%s", u.path);
    in->target = (struct gh_http_client_target){
        .addr = a,
        .tls = u.tls ? tls : NULL,
        .host_header = in->host_header,
        .sni = NULL,
        .max_idle = 8,
        .header_bytes = 16384,
        .connect_ms = in->conf->introspection->timeout_ms,
        .first_byte_ms = in->conf->introspection->timeout_ms,
        .stream_idle_ms = in->conf->introspection->timeout_ms,
    };
    in->ready = true;
out:
    gh_config_url_release(&u);
    return rc;
}

bool gh_auth_introspector_ready(const struct gh_auth_introspector *in)
{
    return in->ready;
}

/* The client assertion (RFC 7523): iss = sub = client_id, aud = the issuer, 60 s, one jti. */
static char *assertion(const struct gh_auth_introspector *in)
{
    bool ec = in->conf->introspection->key_alg == GH_ALG_ES256;
    char header[64], payload[1024], jti[33];
    unsigned char r[16];
    gh_random_bytes(r, sizeof(r));
    gh_hex_encode(r, sizeof(r), jti);
    int64_t now = (int64_t)time(NULL);
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", ec ? "ES256" : "RS256");
    int pn = snprintf(payload, sizeof(payload),
                      "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,"
                      "\"jti\":\"%s\"}",
                      in->conf->introspection->client_id, in->conf->introspection->client_id,
                      in->conf->issuer, (long long)now, (long long)(now + 60), jti);
    if (pn < 0 || (size_t)pn >= sizeof(payload))
        return NULL;
    return gh_auth_jws_sign(in->key, header, payload, (size_t)pn);
}

struct call {
    struct gh_auth_introspector *in;
    gh_auth_introspect_cb cb;
    void *arg;
    struct gh_buf body;
    int status;
    char *resource;
    unsigned char neg_key[32];
};

static void call_head(void *arg, const struct gh_http_response_head *h)
{
    ((struct call *)arg)->status = h->status;
}

static void call_body(void *arg, const char *p, size_t n)
{
    struct call *c = arg;
    if (gh_buf_append(&c->body, p, n) != GH_OK)
        c->status = -1;
}

/* An aud value names this gateway: the resource URI of the path, or a configured audience. */
static bool aud_is_ours(const struct gh_config_auth_issuer *conf, const char *resource,
                        struct gh_slice s)
{
    if (resource && gh_slice_eq_cstr(s, resource))
        return true;
    for (size_t i = 0; i < conf->n_audiences; i++)
        if (gh_slice_eq_cstr(s, conf->audiences[i]))
            return true;
    return false;
}

/* When the IdP names an audience (a string or an array), one of its values must be us. */
static bool aud_ok(const struct gh_json_doc *d, struct gh_arena *a,
                   const struct gh_config_auth_issuer *conf, const char *resource)
{
    struct gh_slice s;
    int32_t aud = gh_json_obj_get(d, 0, "aud", 3);
    if (aud < 0)
        return true;
    if (d->toks[aud].type == GH_JSON_STRING)
        return gh_json_str(d, a, (uint32_t)aud, &s) == GH_OK && aud_is_ours(conf, resource, s);
    for (uint32_t i = 0; d->toks[aud].type == GH_JSON_ARRAY && i < d->toks[aud].size; i++) {
        int32_t el = gh_json_arr_at(d, (uint32_t)aud, i);
        if (d->toks[el].type == GH_JSON_STRING && gh_json_str(d, a, (uint32_t)el, &s) == GH_OK &&
            aud_is_ours(conf, resource, s))
            return true;
    }
    return false;
}

static void read_scopes(const struct gh_json_doc *d, struct gh_arena *a, struct gh_auth_claims *cl)
{
    struct gh_slice s;
    int32_t t = gh_json_obj_get(d, 0, "scope", 5);
    if (t < 0 || d->toks[t].type != GH_JSON_STRING || gh_json_str(d, a, (uint32_t)t, &s) != GH_OK)
        return;
    cl->scopes = gh_arena_calloc(a, (s.len / 2 + 1) * sizeof(struct gh_slice));
    for (size_t i = 0; i < s.len;) {
        size_t j = i;
        while (j < s.len && s.ptr[j] != ' ')
            j++;
        if (j > i)
            cl->scopes[cl->nscopes++] = gh_slice(s.ptr + i, j - i);
        i = j + 1;
    }
}

enum gh_auth_intro_answer gh_auth_introspect_read(const struct gh_config_auth_issuer *conf,
                                                  const char *resource, const char *body,
                                                  size_t len, int64_t now_ms, struct gh_arena *a,
                                                  struct gh_auth_claims *cl, int64_t *until_ms)
{
    struct gh_json_doc d;
    struct gh_json_err e;
    struct gh_slice s;
    if (gh_json_parse(a, body ? body : "", len, NULL, &d, &e) != GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT)
        return GH_AUTH_INTRO_GARBAGE;
    int32_t t = gh_json_obj_get(&d, 0, "active", 6);
    if (t < 0 || (d.toks[t].type != GH_JSON_TRUE && d.toks[t].type != GH_JSON_FALSE))
        return GH_AUTH_INTRO_GARBAGE; /* no boolean active: garbage, not "inactive" */
    if (d.toks[t].type != GH_JSON_TRUE)
        return GH_AUTH_INTRO_INACTIVE;
    memset(cl, 0, sizeof(*cl));
    cl->payload = gh_slice(body, len);
#define STR(name, field)                                                                           \
    if ((t = gh_json_obj_get(&d, 0, name, strlen(name))) >= 0 &&                                   \
        d.toks[t].type == GH_JSON_STRING && gh_json_str(&d, a, (uint32_t)t, &s) == GH_OK)          \
        cl->field = s;
    STR("iss", iss)
    STR("sub", sub)
    STR("client_id", client_id)
    STR("jti", jti)
#undef STR
    if (!cl->iss.len)
        cl->iss = gh_slice_cstr(conf->issuer);
    if (!gh_slice_eq_cstr(cl->iss, conf->issuer))
        return GH_AUTH_INTRO_INACTIVE; /* another issuer's token */
    int64_t exp = 0;
    if ((t = gh_json_obj_get(&d, 0, "exp", 3)) >= 0 &&
        gh_json_int64(&d, (uint32_t)t, &exp) != GH_OK)
        return GH_AUTH_INTRO_GARBAGE;
    if (exp > INT64_MAX / 2000)
        exp = INT64_MAX / 2000; /* far future; keeps exp * 1000 + ttl from overflowing */
    if (t >= 0 && exp * 1000 <= now_ms)
        return GH_AUTH_INTRO_INACTIVE; /* "active" but expired: the IdP's clock or a bug */
    if (!aud_ok(&d, a, conf, resource))
        return GH_AUTH_INTRO_INACTIVE; /* active, but for another resource */
    read_scopes(&d, a, cl);
    int32_t cnf = gh_json_obj_get(&d, 0, "cnf", 3);
    if (cnf >= 0 && d.toks[cnf].type == GH_JSON_OBJECT &&
        (t = gh_json_obj_get(&d, (uint32_t)cnf, "jkt", 3)) >= 0 &&
        gh_json_str(&d, a, (uint32_t)t, &s) == GH_OK)
        cl->cnf_jkt = s;
    /* the cache may keep it until then only: ttl_ms is the revocation latency, to the ms */
    int64_t ttl_end = now_ms + (int64_t)conf->introspection->ttl_ms;
    *until_ms = exp && exp * 1000 < ttl_end ? exp * 1000 : ttl_end;
    cl->exp = *until_ms / 1000;
    cl->reason = GH_AUTH_R_OK;
    return GH_AUTH_INTRO_ACTIVE;
}

/* ---- negative cache: an inactive answer is believed for negative_ttl_ms, per token+resource
 * (an active token for another resource is inactive here only). Direct-mapped and fixed-size:
 * a flood of junk tokens overwrites slots, it never grows memory. ---- */

static void neg_key(struct gh_slice token, const char *resource, unsigned char out[32])
{
    struct gh_sha256_stream *h = gh_sha256_stream_new();
    gh_sha256_stream_update(h, token.ptr, token.len);
    gh_sha256_stream_update(h, "", 1); /* a separator no token contains */
    gh_sha256_stream_update(h, resource, strlen(resource));
    gh_sha256_stream_final(h, out);
}

static struct neg_slot *neg_slot_of(struct gh_auth_introspector *in, const unsigned char k[32])
{
    uint32_t i;
    memcpy(&i, k, sizeof(i));
    return &in->neg[i % NEG_SLOTS];
}

static bool neg_hit(struct gh_auth_introspector *in, const unsigned char k[32])
{
    if (!in->conf->introspection->negative_ttl_ms)
        return false;
    struct neg_slot *s = neg_slot_of(in, k);
    pthread_mutex_lock(&in->neg_lock);
    bool hit = s->until_ms > gh_clock_wall_ms() && memcmp(s->key, k, 32) == 0;
    pthread_mutex_unlock(&in->neg_lock);
    return hit;
}

static void neg_put(struct gh_auth_introspector *in, const unsigned char k[32])
{
    if (!in->conf->introspection->negative_ttl_ms)
        return;
    struct neg_slot *s = neg_slot_of(in, k);
    pthread_mutex_lock(&in->neg_lock);
    memcpy(s->key, k, 32);
    s->until_ms = gh_clock_wall_ms() + (int64_t)in->conf->introspection->negative_ttl_ms;
    pthread_mutex_unlock(&in->neg_lock);
}

static void call_done(void *arg, enum gh_rc rc)
{
    struct call *c = arg;
    struct gh_auth_introspect_result res = {0};
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_auth_claims cl;
    int64_t until_ms = 0;
    enum gh_auth_intro_answer ans = GH_AUTH_INTRO_GARBAGE;
    if (rc == GH_OK && c->status == 200)
        ans = gh_auth_introspect_read(c->in->conf, c->resource, c->body.data, c->body.len,
                                      gh_clock_wall_ms(), a, &cl, &until_ms);
    if (ans == GH_AUTH_INTRO_GARBAGE) {
        res.unavailable = true; /* neither active nor inactive: 503, nothing cached */
        GH_LOGW("auth", "introspection at %s unavailable (%s, status %d)", c->in->conf->issuer,
                gh_rc_str(rc), c->status);
    } else if (ans == GH_AUTH_INTRO_ACTIVE) {
        /* expires (seconds) is the floor so the per-connection memo never outlives ttl_ms */
        res.principal = gh_auth_principal_new(&cl, until_ms / 1000);
        res.principal->expires_ms = until_ms;
        res.principal->method = GH_AUTH_METHOD_INTROSPECTION;
    } else {
        neg_put(c->in, c->neg_key);
    }
    c->cb(c->arg, &res);
    gh_arena_free(a);
    gh_buf_release(&c->body);
    free(c->resource);
    free(c);
}

static const struct gh_http_creq_cbs CALL_CBS = {call_head, call_body, call_done};

void gh_auth_introspect(struct gh_auth_introspector *in, size_t idx, struct gh_slice token,
                        const char *resource, gh_auth_introspect_cb cb, void *arg)
{
    unsigned char nk[32];
    neg_key(token, resource, nk);
    if (neg_hit(in, nk)) { /* said inactive a moment ago: not asked again within negative_ttl_ms */
        struct gh_auth_introspect_result res = {0};
        cb(arg, &res);
        return;
    }
    char *as = assertion(in);
    struct gh_buf form;
    gh_buf_init(&form, token.len * 3 + 4096);
    gh_buf_puts(&form, "token=");
    gh_buf_put_form(&form, token);
    gh_buf_puts(&form, "&token_type_hint=access_token&client_id=");
    gh_buf_put_form(&form, gh_slice_cstr(in->conf->introspection->client_id));
    gh_buf_puts(&form, "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%"
                       "3Ajwt-bearer&client_assertion=");
    gh_buf_puts(&form, as ? as : "");
    free(as);
    if (!pools[idx])
        pools[idx] = gh_http_pool_new(gh_net_worker_current(), &in->target);
    struct call *c = gh_xcalloc(1, sizeof(*c));
    c->in = in;
    c->cb = cb;
    c->arg = arg;
    c->resource = gh_xstrdup(resource);
    memcpy(c->neg_key, nk, 32);
    gh_buf_init(&c->body, 64 << 10);
    static const struct gh_http_header h[] = {
        {GH_SLICE_LIT("Content-Type"), GH_SLICE_LIT("application/x-www-form-urlencoded")},
        {GH_SLICE_LIT("Accept"), GH_SLICE_LIT("application/json")},
    };
    gh_http_client_send(pools[idx], "POST", gh_slice_cstr(in->path), h, GH_ARRAY_LEN(h),
                        gh_slice(form.data, form.len), &CALL_CBS, c);
    gh_buf_release(&form);
}
