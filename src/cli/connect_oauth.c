/*
 * cli/connect_oauth.c owns authorization for `gatehouse connect`, as the MCP authorization spec
 * lays it out: the 401's RFC 9728 challenge, the protected-resource metadata, the authorization
 * server's metadata (RFC 8414, then OIDC discovery), a client id (--client-id, the one kept with
 * earlier tokens, or RFC 7591 registration), then the authorization code grant with PKCE S256
 * and a loopback redirect, or the device authorization grant (RFC 8628); refresh_token when a
 * token expires. Every grant names the MCP server as resource (RFC 8707). Token values are
 * written to the token file and the Authorization header, nowhere else.
 */
#include "core/core.h"
#include "cli/connect_internal.h"
#include "json/json.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* What discovery found. */
struct as_meta {
    char *resource, *issuer, *scope;
    char *authorization_endpoint, *token_endpoint, *registration_endpoint, *device_endpoint;
    bool s256;
};

static void as_meta_release(struct as_meta *m)
{
    gh_free(&m->resource);
    gh_free(&m->issuer);
    gh_free(&m->scope);
    gh_free(&m->authorization_endpoint);
    gh_free(&m->token_endpoint);
    gh_free(&m->registration_endpoint);
    gh_free(&m->device_endpoint);
}

/* ---- small parsers ---- */

void ghc_form_add(struct gh_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!value)
        return;
    if (b->len)
        gh_buf_append(b, "&", 1);
    gh_buf_puts(b, name);
    gh_buf_append(b, "=", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            gh_buf_append(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            gh_buf_append(b, e, 3);
        }
    }
}

/* Percent-decodes (and '+' as space); NULL when the result would hold a NUL or a bad escape. */
static char *form_decode(const char *p, size_t n)
{
    char *out = gh_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            int hi = i + 2 < n ? gh_hex_digit((unsigned char)p[i + 1]) : -1;
            int lo = i + 2 < n ? gh_hex_digit((unsigned char)p[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = p[i] == '+' ? ' ' : p[i];
        }
    }
    *o = '\0';
    return out;
}

char *ghc_query_get(struct gh_slice q, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < q.len;) {
        size_t j = i;
        while (j < q.len && q.ptr[j] != '&')
            j++;
        if (j - i > nl && memcmp(q.ptr + i, name, nl) == 0 && q.ptr[i + nl] == '=')
            return form_decode(q.ptr + i + nl + 1, j - i - nl - 1);
        i = j + 1;
    }
    return NULL;
}

/* auth-param value after "name=" at p: a quoted-string or a token. */
static char *param_value(const char *p)
{
    if (*p != '"') {
        size_t n = strcspn(p, " ,\t");
        return gh_xstrndup(p, n);
    }
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        if (gh_buf_append(&b, p, 1) != GH_OK)
            break;
    }
    char *v = *p == '"' ? gh_xstrndup(b.data ? b.data : "", b.len) : NULL;
    gh_buf_release(&b);
    return v;
}

char *ghc_challenge_param(const char *h, const char *name)
{
    size_t nl = strlen(name);
    const char *p = h;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] && p[6] != ' '))
        return NULL;
    for (p += 6; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t k = strcspn(p, "= ,\t");
        if (p[k] != '=')
            return NULL;
        if (k == nl && strncasecmp(p, name, nl) == 0)
            return param_value(p + k + 1);
        p += k + 1;
        if (*p == '"') { /* skip the quoted-string */
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else {
            p += strcspn(p, " ,\t");
        }
    }
    return NULL;
}

static char *json_member(const struct gh_json_doc *d, struct gh_arena *a, uint32_t obj,
                         const char *name)
{
    int32_t t = gh_json_obj_get(d, obj, name, strlen(name));
    struct gh_slice s;
    if (t < 0 || gh_json_str(d, a, (uint32_t)t, &s) != GH_OK || memchr(s.ptr, '\0', s.len))
        return NULL;
    return gh_xstrndup(s.ptr, s.len);
}

/* Strings of array member name, joined with spaces (NULL when absent or empty). */
static char *json_join(const struct gh_json_doc *d, struct gh_arena *a, const char *name)
{
    int32_t t = gh_json_obj_get(d, 0, name, strlen(name));
    if (t < 0 || d->toks[t].type != GH_JSON_ARRAY || d->toks[t].size == 0)
        return NULL;
    struct gh_buf b;
    gh_buf_init(&b, 8192);
    struct gh_slice s;
    for (uint32_t i = 0; i < d->toks[t].size; i++) {
        int32_t e = gh_json_arr_at(d, (uint32_t)t, i);
        if (gh_json_str(d, a, (uint32_t)e, &s) != GH_OK || memchr(s.ptr, '\0', s.len))
            continue;
        if (b.len)
            gh_buf_append(&b, " ", 1);
        gh_buf_append(&b, s.ptr, s.len);
    }
    char *v = b.len ? gh_xstrndup(b.data, b.len) : NULL;
    gh_buf_release(&b);
    return v;
}

/* GETs url and parses a JSON object from a 200; false (with a message) otherwise. */
static bool get_json(struct ghc *c, const char *url, struct gh_arena *a, struct gh_buf *body,
                     struct gh_json_doc *d, bool quiet)
{
    int status;
    gh_buf_clear(body);
    enum gh_rc rc = ghc_fetch(c, "GET", url, NULL, NULL, 0, &status, body);
    if (rc == GH_OK && status == 200 &&
        gh_json_parse(a, body->data ? body->data : "", body->len, NULL, d, NULL) == GH_OK &&
        d->toks[0].type == GH_JSON_OBJECT)
        return true;
    if (!quiet)
        fprintf(stderr, "gatehouse connect: %s: %s\n", url,
                rc != GH_OK     ? gh_rc_str(rc)
                : status != 200 ? "no 200 answer"
                                : "not a JSON object");
    return false;
}

/* ---- discovery ---- */

/* The origin ("http://host:port") of url into out. */
static void origin_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    size_t k = p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : strlen(url);
    snprintf(out, n, "%.*s", (int)k, url);
}

/* The path part of url without a trailing '/' ("" for the root). */
static void path_of(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 + strcspn(p + 3, "/?#") : url;
    size_t k = strcspn(p, "?#");
    while (k > 0 && p[k - 1] == '/')
        k--;
    snprintf(out, n, "%.*s", (int)k, p);
}

/* The MCP URL must be the metadata's resource or under it: a server may not name another's. */
static bool resource_covers(const char *resource, const char *url)
{
    size_t n = strlen(resource);
    while (n > 0 && resource[n - 1] == '/')
        n--;
    return strncmp(resource, url, n) == 0 && strchr("/?", url[n]) != NULL;
}

static bool read_prm(struct ghc *c, const char *www_auth, struct as_meta *m)
{
    char *prm = www_auth ? ghc_challenge_param(www_auth, "resource_metadata") : NULL;
    char origin[512], path[2048];
    origin_of(c->url, origin, sizeof(origin));
    path_of(c->url, path, sizeof(path));
    if (!prm) { /* RFC 9728 §3.1: the well-known URI, path-inserted */
        char url[3072];
        snprintf(url, sizeof(url), "%s/.well-known/oauth-protected-resource%s", origin, path);
        prm = gh_xstrdup(url);
    }
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_buf body;
    gh_buf_init(&body, GHC_MAX_SMALL);
    struct gh_json_doc d;
    bool ok = get_json(c, prm, a, &body, &d, false);
    if (ok) {
        m->resource = json_member(&d, a, 0, "resource");
        int32_t as = gh_json_obj_get(&d, 0, "authorization_servers", 21);
        int32_t first = as >= 0 && d.toks[as].type == GH_JSON_ARRAY && d.toks[as].size
                            ? gh_json_arr_at(&d, (uint32_t)as, 0)
                            : -1;
        struct gh_slice s;
        if (first >= 0 && gh_json_str(&d, a, (uint32_t)first, &s) == GH_OK)
            m->issuer = gh_xstrndup(s.ptr, s.len);
        if (!m->scope)
            m->scope = json_join(&d, a, "scopes_supported");
    }
    if (ok && (!m->resource || !m->issuer || !resource_covers(m->resource, c->url))) {
        fprintf(stderr,
                "gatehouse connect: %s: protected-resource metadata without an authorization "
                "server, or for another resource than %s\n",
                prm, c->url);
        ok = false;
    }
    gh_buf_release(&body);
    gh_arena_free(a);
    free(prm);
    return ok;
}

static bool read_as_doc(struct as_meta *m, const struct gh_json_doc *d, struct gh_arena *a)
{
    char *issuer = json_member(d, a, 0, "issuer");
    bool same = issuer && strcmp(issuer, m->issuer) == 0; /* RFC 8414 §3.3 */
    free(issuer);
    if (!same)
        return false;
    m->authorization_endpoint = json_member(d, a, 0, "authorization_endpoint");
    m->token_endpoint = json_member(d, a, 0, "token_endpoint");
    m->registration_endpoint = json_member(d, a, 0, "registration_endpoint");
    m->device_endpoint = json_member(d, a, 0, "device_authorization_endpoint");
    char *methods = json_join(d, a, "code_challenge_methods_supported");
    m->s256 = methods && strstr(methods, "S256");
    free(methods);
    return m->token_endpoint != NULL;
}

static bool read_as_meta(struct ghc *c, struct as_meta *m)
{
    char origin[512], path[2048], urls[3][3072];
    origin_of(m->issuer, origin, sizeof(origin));
    path_of(m->issuer, path, sizeof(path));
    snprintf(urls[0], sizeof(urls[0]), "%s/.well-known/oauth-authorization-server%s", origin, path);
    snprintf(urls[1], sizeof(urls[1]), "%s/.well-known/openid-configuration%s", origin, path);
    snprintf(urls[2], sizeof(urls[2]), "%s%s/.well-known/openid-configuration", origin, path);
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_buf body;
    gh_buf_init(&body, GHC_MAX_SMALL);
    bool ok = false;
    for (size_t i = 0; i < 3 && !ok; i++) {
        struct gh_json_doc d;
        ok = get_json(c, urls[i], a, &body, &d, true) && read_as_doc(m, &d, a);
    }
    if (!ok)
        fprintf(stderr, "gatehouse connect: no authorization server metadata for %s\n", m->issuer);
    gh_buf_release(&body);
    gh_arena_free(a);
    return ok;
}

/* OAuth 2.1: endpoints that receive codes, verifiers and tokens are https, or on loopback. */
static bool endpoint_ok(const char *url)
{
    struct ghc_url u;
    const char *why;
    if (!url || ghc_url_parse(url, &u, &why) != GH_OK)
        return false;
    bool ok = u.tls || strcmp(u.host, "localhost") == 0 || strncmp(u.host, "127.", 4) == 0 ||
              strcmp(u.host, "::1") == 0;
    ghc_url_release(&u);
    if (!ok)
        fprintf(stderr, "gatehouse connect: refusing the plain-http endpoint %s\n", url);
    return ok;
}

/* ---- grants ---- */

static const char *printable(const char *s);

/* Reads an error answer's error and error_description for the user (they hold no secret). */
static void report_error(const char *what, int status, const struct gh_buf *body)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    char *err = NULL, *desc = NULL;
    if (gh_json_parse(a, body->data ? body->data : "", body->len, NULL, &d, NULL) == GH_OK &&
        d.toks[0].type == GH_JSON_OBJECT) {
        err = json_member(&d, a, 0, "error");
        desc = json_member(&d, a, 0, "error_description");
    }
    fprintf(stderr, "gatehouse connect: %s failed: HTTP %d%s%s%s%s\n", what, status, err ? " " : "",
            err ? err : "", desc ? ": " : "", desc ? desc : "");
    free(err);
    free(desc);
    gh_arena_free(a);
}

/* A successful token response into c->tok (keeping the refresh token when none came). */
static bool take_tokens(struct ghc *c, const struct gh_buf *body)
{
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    bool ok = false;
    if (gh_json_parse(a, body->data ? body->data : "", body->len, NULL, &d, NULL) != GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT)
        goto out;
    char *at = json_member(&d, a, 0, "access_token");
    char *type = json_member(&d, a, 0, "token_type");
    if (!at || !type || strcasecmp(type, "Bearer") != 0) {
        fprintf(stderr, "gatehouse connect: the token response has no Bearer access_token\n");
        free(at);
        free(type);
        goto out;
    }
    free(type);
    free(c->tok.access_token);
    c->tok.access_token = at;
    char *rt = json_member(&d, a, 0, "refresh_token");
    if (rt) {
        free(c->tok.refresh_token);
        c->tok.refresh_token = rt;
    }
    int64_t exp = 0;
    int32_t e = gh_json_obj_get(&d, 0, "expires_in", 10);
    c->tok.expires_at = e >= 0 && gh_json_int64(&d, (uint32_t)e, &exp) == GH_OK && exp > 0
                            ? (int64_t)time(NULL) + exp
                            : 0;
    ok = true;
out:
    gh_arena_free(a);
    return ok;
}

/* POSTs a form to the token endpoint; 200 → tokens taken. *oauth_error gets the error code. */
static bool token_request(struct ghc *c, const char *endpoint, struct gh_buf *form,
                          const char *what, char *oauth_error, size_t n)
{
    struct gh_buf body;
    gh_buf_init(&body, GHC_MAX_SMALL);
    int status;
    enum gh_rc rc = ghc_fetch(c, "POST", endpoint, "application/x-www-form-urlencoded", form->data,
                              form->len, &status, &body);
    bool ok = rc == GH_OK && status == 200 && take_tokens(c, &body);
    if (oauth_error)
        oauth_error[0] = '\0';
    if (!ok && rc == GH_OK && status == 400 && oauth_error) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d;
        char *e = NULL;
        if (gh_json_parse(a, body.data ? body.data : "", body.len, NULL, &d, NULL) == GH_OK &&
            d.toks[0].type == GH_JSON_OBJECT && (e = json_member(&d, a, 0, "error")))
            snprintf(oauth_error, n, "%s", e);
        free(e);
        gh_arena_free(a);
    }
    if (!ok && rc != GH_OK)
        fprintf(stderr, "gatehouse connect: %s: %s unreachable (%s)\n", what, endpoint,
                gh_rc_str(rc));
    else if (!ok && !(oauth_error && (strcmp(oauth_error, "authorization_pending") == 0 ||
                                      strcmp(oauth_error, "slow_down") == 0)))
        report_error(what, status, &body);
    gh_buf_release(&body);
    return ok;
}

enum gh_rc ghc_oauth_refresh(struct ghc *c)
{
    struct ghc_token *t = &c->tok;
    if (!t->refresh_token || !t->token_endpoint || !t->client_id || !endpoint_ok(t->token_endpoint))
        return GH_E_DECLINED;
    struct gh_buf form;
    gh_buf_init(&form, 65536);
    ghc_form_add(&form, "grant_type", "refresh_token");
    ghc_form_add(&form, "refresh_token", t->refresh_token);
    ghc_form_add(&form, "client_id", t->client_id);
    ghc_form_add(&form, "resource", t->resource);
    bool ok = token_request(c, t->token_endpoint, &form, "token refresh", NULL, 0);
    gh_buf_release(&form);
    if (!ok) {
        gh_free(&t->refresh_token); /* spent or refused: authorize again */
        gh_free(&t->access_token);
        return GH_E_DECLINED;
    }
    GH_LOGI("connect", "access token refreshed");
    ghc_store_save(t);
    return GH_OK;
}

/* RFC 7591: a public native client with a loopback redirect (any port, RFC 8252 §7.3). */
static char *register_client(struct ghc *c, const struct as_meta *m)
{
    static const char REQ_CODE[] =
        "{\"client_name\":\"Gatehouse connect\",\"application_type\":\"native\","
        "\"redirect_uris\":[\"http://127.0.0.1/callback\"],"
        "\"grant_types\":[\"authorization_code\",\"refresh_token\"],"
        "\"response_types\":[\"code\"],\"token_endpoint_auth_method\":\"none\"}";
    static const char REQ_DEVICE[] =
        "{\"client_name\":\"Gatehouse connect\",\"application_type\":\"native\","
        "\"redirect_uris\":[],\"grant_types\":[\"urn:ietf:params:oauth:grant-type:device_code\","
        "\"refresh_token\"],\"response_types\":[],\"token_endpoint_auth_method\":\"none\"}";
    const char *req = c->device ? REQ_DEVICE : REQ_CODE;
    struct gh_buf body;
    gh_buf_init(&body, GHC_MAX_SMALL);
    int status;
    char *id = NULL;
    if (ghc_fetch(c, "POST", m->registration_endpoint, "application/json", req, strlen(req),
                  &status, &body) == GH_OK &&
        status == 201) {
        struct gh_arena *a = gh_arena_new(4096);
        struct gh_json_doc d;
        if (gh_json_parse(a, body.data, body.len, NULL, &d, NULL) == GH_OK &&
            d.toks[0].type == GH_JSON_OBJECT)
            id = json_member(&d, a, 0, "client_id");
        gh_arena_free(a);
    }
    if (!id)
        report_error("client registration", status, &body);
    else
        GH_LOGI("connect", "registered the client %s at %s", id, m->issuer);
    gh_buf_release(&body);
    return id;
}

/* One authorization code attempt's secrets (RFC 7636 verifier, CSRF state) and its redirect. */
struct pkce {
    char verifier[64], challenge[64], state[32], redirect[64];
};

static void pkce_new(struct pkce *p, uint16_t port)
{
    unsigned char rnd[32], digest[32];
    gh_random_bytes(rnd, sizeof(rnd));
    gh_b64url_encode(rnd, sizeof(rnd), p->verifier);
    gh_sha256(p->verifier, strlen(p->verifier), digest);
    gh_b64url_encode(digest, sizeof(digest), p->challenge);
    gh_random_bytes(rnd, 16);
    gh_b64url_encode(rnd, 16, p->state);
    snprintf(p->redirect, sizeof(p->redirect), "http://127.0.0.1:%u/callback", port);
}

/* Prints the authorize URL and opens the browser on it. */
static void open_authorize(struct ghc *c, const struct as_meta *m, const char *client_id,
                           const struct pkce *p)
{
    struct gh_buf q;
    gh_buf_init(&q, 65536);
    ghc_form_add(&q, "response_type", "code");
    ghc_form_add(&q, "client_id", client_id);
    ghc_form_add(&q, "redirect_uri", p->redirect);
    ghc_form_add(&q, "code_challenge", p->challenge);
    ghc_form_add(&q, "code_challenge_method", "S256");
    ghc_form_add(&q, "state", p->state);
    ghc_form_add(&q, "resource", m->resource);
    ghc_form_add(&q, "scope", m->scope);
    char *url = gh_xmalloc(strlen(m->authorization_endpoint) + q.len + 2);
    sprintf(url, "%s%c%.*s", m->authorization_endpoint,
            strchr(m->authorization_endpoint, '?') ? '&' : '?', (int)q.len, q.data);
    gh_buf_release(&q);
    fprintf(stderr, "gatehouse connect: to authorize access to %s, open:\n  %s\n", c->url, url);
    if (!c->no_browser)
        ghc_browser_open(url);
    free(url);
}

/* Text from the network goes to the terminal only when it cannot steer it (no escapes). */
static const char *printable(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return "(unprintable)";
    return s;
}

/* Waits for the redirect; the code when it came with our state. */
static char *await_code(struct ghc *c, struct ghc_loopback *lb, const struct pkce *p)
{
    char *code = NULL, *state = NULL, *error = NULL;
    bool got = ghc_loopback_wait(lb, c->auth_timeout_ms, &code, &state, &error);
    ghc_loopback_close(lb);
    bool ok = got && !error && code && state && strcmp(state, p->state) == 0;
    if (!got)
        fprintf(stderr, "gatehouse connect: no authorization within %llu s\n",
                (unsigned long long)(c->auth_timeout_ms / 1000));
    else if (error)
        fprintf(stderr, "gatehouse connect: authorization refused: %s\n", printable(error));
    else if (!ok) /* a forged or stale redirect (CSRF): never exchange its code */
        fprintf(stderr, "gatehouse connect: the redirect's state does not match; ignored\n");
    free(state);
    free(error);
    if (!ok)
        gh_free(&code);
    return code;
}

static bool code_flow(struct ghc *c, const struct as_meta *m, const char *client_id)
{
    uint16_t port;
    if (c->nlbs == GH_ARRAY_LEN(c->lbs)) {
        fprintf(stderr, "gatehouse connect: too many authorizations in one run\n");
        return false;
    }
    struct ghc_loopback *lb = ghc_loopback_open(c, &port);
    if (!lb)
        return false;
    c->lbs[c->nlbs++] = lb;
    struct pkce p;
    pkce_new(&p, port);
    open_authorize(c, m, client_id, &p);
    char *code = await_code(c, lb, &p);
    if (!code)
        return false;
    struct gh_buf form;
    gh_buf_init(&form, 65536);
    ghc_form_add(&form, "grant_type", "authorization_code");
    ghc_form_add(&form, "code", code);
    ghc_form_add(&form, "redirect_uri", p.redirect);
    ghc_form_add(&form, "client_id", client_id);
    ghc_form_add(&form, "code_verifier", p.verifier);
    ghc_form_add(&form, "resource", m->resource);
    bool ok = token_request(c, m->token_endpoint, &form, "code exchange", NULL, 0);
    gh_buf_release(&form);
    free(code);
    return ok;
}

/* The device authorization response, read. */
struct device_auth {
    char *device_code, *user_code, *uri, *uri_complete;
    int64_t expires_in, interval;
};

static bool device_start(struct ghc *c, const struct as_meta *m, const char *client_id,
                         struct device_auth *da)
{
    struct gh_buf form, body;
    gh_buf_init(&form, 65536);
    gh_buf_init(&body, GHC_MAX_SMALL);
    ghc_form_add(&form, "client_id", client_id);
    ghc_form_add(&form, "scope", m->scope);
    ghc_form_add(&form, "resource", m->resource);
    int status;
    bool ok = ghc_fetch(c, "POST", m->device_endpoint, "application/x-www-form-urlencoded",
                        form.data, form.len, &status, &body) == GH_OK &&
              status == 200;
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    ok = ok && gh_json_parse(a, body.data, body.len, NULL, &d, NULL) == GH_OK &&
         d.toks[0].type == GH_JSON_OBJECT;
    if (ok) {
        da->device_code = json_member(&d, a, 0, "device_code");
        da->user_code = json_member(&d, a, 0, "user_code");
        da->uri = json_member(&d, a, 0, "verification_uri");
        da->uri_complete = json_member(&d, a, 0, "verification_uri_complete");
        int32_t t = gh_json_obj_get(&d, 0, "expires_in", 10);
        if (t < 0 || gh_json_int64(&d, (uint32_t)t, &da->expires_in) != GH_OK)
            da->expires_in = 600;
        t = gh_json_obj_get(&d, 0, "interval", 8);
        if (t < 0 || gh_json_int64(&d, (uint32_t)t, &da->interval) != GH_OK || da->interval < 1)
            da->interval = 5; /* RFC 8628 §3.2 */
        ok = da->device_code && da->user_code && da->uri;
    }
    if (!ok)
        report_error("device authorization", status, &body);
    gh_arena_free(a);
    gh_buf_release(&form);
    gh_buf_release(&body);
    return ok;
}

static bool device_flow(struct ghc *c, const struct as_meta *m, const char *client_id)
{
    struct device_auth da = {0};
    bool ok = false;
    if (!m->device_endpoint) {
        fprintf(stderr, "gatehouse connect: %s offers no device authorization\n", m->issuer);
        return false;
    }
    if (!device_start(c, m, client_id, &da))
        goto out;
    fprintf(stderr,
            "gatehouse connect: to authorize access to %s, visit %s and enter the code %s\n",
            c->url, printable(da.uri), printable(da.user_code));
    if (da.uri_complete)
        fprintf(stderr, "  (or open %s)\n", printable(da.uri_complete));
    int64_t deadline =
        (int64_t)time(NULL) + GH_MIN(da.expires_in, (int64_t)(c->auth_timeout_ms / 1000));
    char err[64] = "authorization_pending";
    while (!ok && (strcmp(err, "authorization_pending") == 0 || strcmp(err, "slow_down") == 0)) {
        if (strcmp(err, "slow_down") == 0)
            da.interval += 5; /* RFC 8628 §3.5 */
        if ((int64_t)time(NULL) + da.interval > deadline) {
            fprintf(stderr, "gatehouse connect: the device code expired\n");
            break;
        }
        sleep((unsigned)da.interval);
        struct gh_buf form;
        gh_buf_init(&form, 65536);
        ghc_form_add(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
        ghc_form_add(&form, "device_code", da.device_code);
        ghc_form_add(&form, "client_id", client_id);
        ghc_form_add(&form, "resource", m->resource);
        ok = token_request(c, m->token_endpoint, &form, "device token", err, sizeof(err));
        gh_buf_release(&form);
    }
out:
    free(da.device_code);
    free(da.user_code);
    free(da.uri);
    free(da.uri_complete);
    return ok;
}

/* The client id: --client-id, the one registered before at this issuer, or a new one. */
static char *client_id_for(struct ghc *c, const struct as_meta *m)
{
    if (c->client_id_opt)
        return gh_xstrdup(c->client_id_opt);
    if (c->tok.client_id && c->tok.issuer && strcmp(c->tok.issuer, m->issuer) == 0)
        return gh_xstrdup(c->tok.client_id);
    if (m->registration_endpoint && endpoint_ok(m->registration_endpoint))
        return register_client(c, m);
    fprintf(stderr,
            "gatehouse connect: %s offers no client registration: pass --client-id with a "
            "public client registered there\n",
            m->issuer);
    return NULL;
}

static bool discover(struct ghc *c, const char *www_auth, struct as_meta *m)
{
    if (c->scope_opt)
        m->scope = gh_xstrdup(c->scope_opt);
    else if (www_auth)
        m->scope = ghc_challenge_param(www_auth, "scope");
    if (!read_prm(c, www_auth, m) || !read_as_meta(c, m))
        return false;
    if (!endpoint_ok(m->token_endpoint))
        return false;
    if (!c->device && (!m->authorization_endpoint || !endpoint_ok(m->authorization_endpoint))) {
        fprintf(stderr, "gatehouse connect: %s has no usable authorization endpoint\n", m->issuer);
        return false;
    }
    if (!c->device && !m->s256) { /* MCP authorization: no PKCE S256, no authorization */
        fprintf(stderr, "gatehouse connect: %s does not advertise PKCE S256; refusing\n",
                m->issuer);
        return false;
    }
    return !c->device || endpoint_ok(m->device_endpoint);
}

enum gh_rc ghc_oauth_authorize(struct ghc *c, const char *www_auth)
{
    struct as_meta m = {0};
    char *client_id = NULL;
    enum gh_rc rc = GH_E_DECLINED;
    if (!discover(c, www_auth, &m) || !(client_id = client_id_for(c, &m)))
        goto out;
    gh_free(&c->tok.refresh_token);
    if (!(c->device ? device_flow(c, &m, client_id) : code_flow(c, &m, client_id)))
        goto out;
    free(c->tok.resource);
    c->tok.resource = gh_xstrdup(m.resource);
    free(c->tok.issuer);
    c->tok.issuer = gh_xstrdup(m.issuer);
    free(c->tok.client_id);
    c->tok.client_id = gh_xstrdup(client_id);
    free(c->tok.token_endpoint);
    c->tok.token_endpoint = gh_xstrdup(m.token_endpoint);
    ghc_store_save(&c->tok);
    fprintf(stderr, "gatehouse connect: authorized by %s\n", m.issuer);
    rc = GH_OK;
out:
    free(client_id);
    as_meta_release(&m);
    return rc;
}
