/*
 * propagation/propagation.c owns the propagation: section and the assertions the gateway signs.
 *
 *   propagation:
 *     issuer: https://gatehouse.example.com   # iss of assertions (default: auth.resource)
 *     keys: [file:/etc/gatehouse/assertion.pem] # optional: PEM P-256 / Ed25519; first signs
 *     rotate_s: 86400                          # generated keys only
 *     upstreams:
 *       github: {mode: assertion, audience: https://mcp.github.internal, scopes: [repo:read]}
 *       legacy: {headers: {Authorization: env:LEGACY_TOKEN}}
 */
#include "core/core.h"
#include "json/json.h"
#include "propagation/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX (64u << 10) /* a credential or key read from a reference */

static const char *const MODES[] = {"none", "assertion", "token-exchange"};

const char *gh_prop_mode_str(enum gh_prop_mode m)
{
    return (size_t)m < GH_ARRAY_LEN(MODES) ? MODES[m] : "none";
}

static bool scalar(const struct gh_config_node *n)
{
    return n && n->kind == CFG_SCALAR;
}

/* "env:NAME" or "file:/abs/path", read now; a literal is refused (it would be a secret in the
 * config). The value has surrounding whitespace (a file's final newline) removed. */
enum gh_rc gh_prop__ref_read(const struct gh_config_node *n, char **out, size_t *len,
                             struct gh_config_error *err)
{
    if (!scalar(n))
        return gh_config_node_error(err, n, "expected env:NAME or file:/path");
    struct gh_buf b;
    gh_buf_init(&b, REF_MAX);
    if (strncmp(n->text, "env:", 4) == 0 && n->text[4]) {
        const char *v = getenv(n->text + 4);
        if (!v) {
            gh_buf_release(&b);
            return gh_config_node_error(err, n, "environment variable %s is not set", n->text + 4);
        }
        gh_buf_puts(&b, v);
    } else if (strncmp(n->text, "file:/", 6) == 0) {
        FILE *f = fopen(n->text + 5, "rb");
        char chunk[4096];
        size_t r;
        while (f && (r = fread(chunk, 1, sizeof(chunk), f)) > 0)
            if (gh_buf_append(&b, chunk, r) != GH_OK)
                break;
        bool ok = f && !ferror(f) && feof(f);
        int e = errno;
        if (f)
            fclose(f);
        if (!ok) {
            gh_buf_release(&b);
            return gh_config_node_error(err, n, "cannot read %s: %s", n->text + 5,
                                        f ? "too large or unreadable" : strerror(e));
        }
    } else {
        gh_buf_release(&b);
        return gh_config_node_error(err, n,
                                    "a credential must be a reference (env:NAME or file:/path), "
                                    "never a literal value");
    }
    struct gh_slice v = gh_slice_trim(gh_slice(b.data ? b.data : "", b.len));
    *out = gh_xstrndup(v.ptr, v.len);
    *len = v.len;
    gh_buf_release(&b);
    return GH_OK;
}

static bool header_name_ok(const char *s)
{
    static const char *const HOP[] = {"connection",
                                      "keep-alive",
                                      "proxy-connection",
                                      "te",
                                      "trailer",
                                      "upgrade",
                                      "transfer-encoding",
                                      "host",
                                      "content-length",
                                      "content-type",
                                      "mcp-session-id",
                                      "cookie",
                                      "dpop"};
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    for (size_t i = 0; i < GH_ARRAY_LEN(HOP); i++)
        if (strcasecmp(s, HOP[i]) == 0)
            return false;
    return true;
}

static enum gh_rc up_headers(struct gh_prop_upstream *u, const struct gh_config_node *v,
                             struct gh_config_error *err)
{
    if (v->kind != CFG_MAP || v->n > GH_PROP_MAX_HEADERS)
        return gh_config_node_error(err, v, "expected a mapping of at most %d header names",
                                    GH_PROP_MAX_HEADERS);
    for (size_t i = 0; i < v->n; i++) {
        const struct gh_config_node *h = v->items[i];
        if (!header_name_ok(h->key))
            return gh_config_node_error(err, h,
                                        "not a header the gateway may set (a token name; not "
                                        "hop-by-hop, framing, session, cookie or DPoP)");
        char *val = NULL;
        size_t len = 0;
        enum gh_rc rc = gh_prop__ref_read(h, &val, &len, err);
        if (rc)
            return rc;
        if (memchr(val, '\r', len) || memchr(val, '\n', len) || memchr(val, '\0', len)) {
            free(val);
            return gh_config_node_error(err, h, "the value read has a line break or NUL");
        }
        u->headers[u->nheaders++] =
            (struct gh_http_header){gh_slice_cstr(gh_xstrdup(h->key)), gh_slice(val, len)};
    }
    return GH_OK;
}

static enum gh_rc up_scopes(struct gh_prop_upstream *u, const struct gh_config_node *v,
                            struct gh_config_error *err)
{
    if (v->kind != CFG_SEQ || v->n > GH_CONFIG_MAX_SCOPES)
        return gh_config_node_error(err, v, "expected a list of scope tokens");
    u->scopes = gh_xcalloc(v->n + 1, sizeof(*u->scopes));
    for (size_t i = 0; i < v->n; i++) {
        if (!scalar(v->items[i]) || !v->items[i]->len || strpbrk(v->items[i]->text, " \"\\"))
            return gh_config_node_error(err, v->items[i], "expected a scope token");
        u->scopes[u->nscopes++] = gh_xstrdup(v->items[i]->text);
    }
    return GH_OK;
}

static const char *const INSPECT[] = {"", "method", "arguments", "results"};

const char *gh_prop_inspect_str(enum gh_prop_inspect i)
{
    return (size_t)i < GH_ARRAY_LEN(INSPECT) && i ? INSPECT[i] : "results";
}

/* RFC 6901: "/a/b~1c" — every segment after a '/', "~" only as "~0" or "~1". */
static bool pointer_ok(const char *s)
{
    if (s[0] != '/' || strlen(s) > 256)
        return false;
    for (const char *c = s; *c; c++)
        if (*c == '~' && c[1] != '0' && c[1] != '1')
            return false;
    return true;
}

static enum gh_rc up_redact(struct gh_prop_upstream *u, const struct gh_config_node *v,
                            struct gh_config_error *err)
{
    if (v->kind != CFG_MAP)
        return gh_config_node_error(err, v,
                                    "expected a mapping (arguments: / results: [JSON Pointers])");
    for (size_t i = 0; i < v->n; i++) {
        const struct gh_config_node *k = v->items[i];
        bool args = strcmp(k->key, "arguments") == 0;
        if (!args && strcmp(k->key, "results") != 0)
            return gh_config_node_error(err, k, "unknown key (expected arguments or results)");
        if (k->kind != CFG_SEQ || k->n == 0 || k->n > GH_PROP_MAX_REDACTIONS)
            return gh_config_node_error(err, k, "expected a list of 1-%d JSON Pointers",
                                        GH_PROP_MAX_REDACTIONS);
        char **dst = args ? u->redact : u->redact_results;
        size_t *n = args ? &u->nredact : &u->nredact_results;
        for (size_t j = 0; j < k->n; j++) {
            if (!scalar(k->items[j]) || !pointer_ok(k->items[j]->text))
                return gh_config_node_error(err, k->items[j],
                                            "expected a JSON Pointer (RFC 6901) such as /password "
                                            "or /auth/token");
            dst[(*n)++] = gh_xstrdup(k->items[j]->text);
        }
    }
    return GH_OK;
}

static enum gh_rc up_mode(struct gh_prop_upstream *u, const struct gh_config_node *v,
                          struct gh_config_error *err)
{
    size_t m = 0;
    while (m < GH_ARRAY_LEN(MODES) && !(scalar(v) && strcmp(v->text, MODES[m]) == 0))
        m++;
    if (m == GH_ARRAY_LEN(MODES))
        return gh_config_node_error(err, v, "expected none, assertion or token-exchange");
    u->mode = (enum gh_prop_mode)m;
    return GH_OK;
}

static enum gh_rc up_audience(struct gh_prop_upstream *u, const struct gh_config_node *v,
                              struct gh_config_error *err)
{
    if (!scalar(v) || (strncmp(v->text, "https://", 8) != 0 && strncmp(v->text, "http://", 7) != 0))
        return gh_config_node_error(err, v, "expected an absolute http(s) URI");
    free(u->audience);
    u->audience = gh_xstrdup(v->text);
    return GH_OK;
}

static enum gh_rc up_ttl(struct gh_prop_upstream *u, const struct gh_config_node *v,
                         struct gh_config_error *err)
{
    if (!scalar(v))
        return gh_config_node_error(err, v, "expected seconds, 5-%d", GH_PROP_TTL_MAX_S);
    char *end = NULL;
    long t = strtol(v->text, &end, 10);
    if (*end || t < 5 || t > GH_PROP_TTL_MAX_S)
        return gh_config_node_error(err, v, "expected seconds, 5-%d", GH_PROP_TTL_MAX_S);
    u->ttl_s = t;
    return GH_OK;
}

static enum gh_rc up_inspect(struct gh_prop_upstream *u, const struct gh_config_node *v,
                             struct gh_config_error *err)
{
    size_t m = 1;
    while (m < GH_ARRAY_LEN(INSPECT) && !(scalar(v) && strcmp(v->text, INSPECT[m]) == 0))
        m++;
    if (m == GH_ARRAY_LEN(INSPECT))
        return gh_config_node_error(err, v, "expected method, arguments or results");
    u->inspect = (enum gh_prop_inspect)m;
    return GH_OK;
}

static enum gh_rc up_compile(struct gh_prop_upstream *u, const struct gh_config_node *n,
                             struct gh_config_error *err)
{
    static const struct {
        const char *key;
        enum gh_rc (*fn)(struct gh_prop_upstream *, const struct gh_config_node *,
                         struct gh_config_error *);
    } KEYS[] = {{"mode", up_mode},    {"audience", up_audience}, {"scopes", up_scopes},
                {"ttl_s", up_ttl},    {"headers", up_headers},   {"inspect", up_inspect},
                {"redact", up_redact}};
    if (n->kind != CFG_MAP)
        return gh_config_node_error(err, n, "expected a mapping (mode, audience, scopes, ...)");
    for (size_t i = 0; i < n->n; i++) {
        const struct gh_config_node *v = n->items[i];
        size_t k = 0;
        while (k < GH_ARRAY_LEN(KEYS) && strcmp(v->key, KEYS[k].key) != 0)
            k++;
        if (k == GH_ARRAY_LEN(KEYS))
            return gh_config_node_error(err, v,
                                        "unknown key (expected mode, audience, scopes, ttl_s, "
                                        "headers, inspect, redact)");
        enum gh_rc rc = KEYS[k].fn(u, v, err);
        if (rc)
            return rc;
    }
    if (u->nredact && u->inspect < GH_PROP_INSPECT_ARGUMENTS)
        return gh_config_node_error(err, gh_config_node_get(n, "redact"),
                                    "redacting arguments needs inspect: arguments or results");
    if (u->nredact_results && u->inspect < GH_PROP_INSPECT_RESULTS)
        return gh_config_node_error(err, gh_config_node_get(n, "redact"),
                                    "redacting results needs inspect: results");
    for (size_t i = 0; u->mode != GH_PROP_NONE && i < u->nheaders; i++)
        if (gh_slice_caseeq_cstr(u->headers[i].name, "Authorization"))
            return gh_config_node_error(err, gh_config_node_get(n, "headers"),
                                        "an Authorization header conflicts with mode %s",
                                        MODES[u->mode]);
    return GH_OK;
}

static enum gh_rc ups_compile(struct gh_prop *p, const struct gh_config *cfg,
                              const struct gh_config_node *v, struct gh_config_error *err)
{
    if (v->kind != CFG_MAP)
        return gh_config_node_error(err, v, "expected a mapping of upstream names");
    for (size_t i = 0; i < v->n; i++) {
        size_t k = 0;
        while (k < cfg->n_upstreams && strcmp(cfg->upstreams[k].name, v->items[i]->key) != 0)
            k++;
        if (k == cfg->n_upstreams)
            return gh_config_node_error(err, v->items[i], "no upstream of that name");
        enum gh_rc rc = up_compile(&p->ups[k], v->items[i], err);
        if (rc)
            return rc;
        const struct gh_prop_upstream *u = &p->ups[k];
        if (cfg->upstreams[k].kind != GH_CONFIG_UPSTREAM_HTTP && (u->mode || u->nheaders))
            return gh_config_node_error(err, v->items[i],
                                        "a stdio upstream has no HTTP request to carry identity "
                                        "or headers (give its child what it needs in env:)");
        bool special = u->mode != GH_PROP_NONE || u->inspect != GH_PROP_INSPECT_RESULTS ||
                       u->nredact || u->nredact_results;
        for (size_t e = 0; special && e < cfg->n_endpoints; e++)
            for (size_t m = 0; m < cfg->endpoints[e].n_upstreams; m++)
                if (strcmp(cfg->endpoints[e].upstreams[m], v->items[i]->key) == 0)
                    return gh_config_node_error(
                        err, v->items[i],
                        "an upstream behind the aggregated endpoint %s cannot have per-caller "
                        "identity, inspect or redact in this version (serve it on its own path)",
                        cfg->endpoints[e].path);
        p->signs |= p->ups[k].mode == GH_PROP_ASSERTION;
    }
    return GH_OK;
}

static enum gh_rc keys_compile(struct gh_prop *p, const struct gh_config_node *v,
                               struct gh_config_error *err)
{
    if (v->kind != CFG_SEQ || v->n == 0 || v->n > GH_PROP_KEYS_MAX)
        return gh_config_node_error(err, v, "expected a list of 1-%d key references",
                                    GH_PROP_KEYS_MAX);
    for (size_t i = 0; i < v->n; i++) {
        char *pem = NULL;
        size_t len = 0;
        enum gh_rc rc = gh_prop__ref_read(v->items[i], &pem, &len, err);
        if (rc)
            return rc;
        struct gh_prop__key *k = gh_prop__key_load(pem, len);
        OPENSSL_cleanse(pem, len);
        free(pem);
        if (!k)
            return gh_config_node_error(err, v->items[i],
                                        "not a PEM private key of type P-256 or Ed25519");
        p->keys[p->nkeys++] = k;
    }
    return GH_OK;
}

static enum gh_rc section(struct gh_prop *p, const struct gh_config *cfg,
                          const struct gh_config_node *node, struct gh_config_error *err)
{
    for (size_t i = 0; i < node->n; i++) {
        const struct gh_config_node *v = node->items[i];
        enum gh_rc rc = GH_OK;
        if (strcmp(v->key, "issuer") == 0) {
            if (!scalar(v) ||
                (strncmp(v->text, "https://", 8) != 0 && strncmp(v->text, "http://", 7) != 0))
                return gh_config_node_error(err, v, "expected an absolute http(s) URI");
            free(p->issuer);
            p->issuer = gh_xstrdup(v->text);
        } else if (strcmp(v->key, "keys") == 0) {
            rc = keys_compile(p, v, err);
        } else if (strcmp(v->key, "rotate_s") == 0) {
            char *end = NULL;
            long t = scalar(v) ? strtol(v->text, &end, 10) : 0;
            if (!scalar(v) || *end || t < 2 || t > 31536000)
                return gh_config_node_error(err, v, "expected seconds, 2-31536000");
            p->rotate_s = (uint64_t)t;
        } else if (strcmp(v->key, "upstreams") == 0) {
            rc = ups_compile(p, cfg, v, err);
        } else if (strcmp(v->key, "token_exchange") == 0) {
            rc = gh_prop__exchanger_compile(p, v, err);
        } else {
            return gh_config_node_error(err, v,
                                        "unknown key (expected issuer, keys, rotate_s, "
                                        "token_exchange, upstreams)");
        }
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < p->nups; i++)
        if (p->ups[i].mode == GH_PROP_TOKEN_EXCHANGE && !p->xchg)
            return gh_config_node_error(err, node,
                                        "upstream %s: token-exchange needs "
                                        "propagation.token_exchange (token_endpoint, client_id, "
                                        "key)",
                                        p->ups[i].name);
    if (p->signs && !p->issuer)
        return gh_config_node_error(err, node,
                                    "assertion needs propagation.issuer (or auth.resource)");
    return GH_OK;
}

/* The upstream's URL as the audience by default: scheme://host[:port]/path. */
static char *url_text(const struct gh_config_url *u)
{
    char buf[1200];
    bool v6 = strchr(u->host, ':') != NULL;
    bool dflt = u->port == (u->tls ? 443 : 80);
    char port[8] = "";
    if (!dflt)
        snprintf(port, sizeof(port), ":%u", u->port);
    snprintf(buf, sizeof(buf), "%s://%s%s%s%s%s", u->tls ? "https" : "http", v6 ? "[" : "", u->host,
             v6 ? "]" : "", port, u->path);
    return gh_xstrdup(buf);
}

enum gh_rc gh_prop_compile(const struct gh_config *cfg, const struct gh_config_node *node,
                           struct gh_prop **out, struct gh_config_error *err)
{
    struct gh_prop *p = gh_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->nups = cfg->n_upstreams;
    p->ups = gh_xcalloc(p->nups + 1, sizeof(*p->ups));
    p->rotate_s = 86400;
    if (cfg->auth && cfg->auth->resource)
        p->issuer = gh_xstrdup(cfg->auth->resource);
    for (size_t i = 0; i < p->nups; i++) {
        p->ups[i].name = gh_xstrdup(cfg->upstreams[i].name);
        p->ups[i].ttl_s = GH_PROP_TTL_MAX_S;
        p->ups[i].inspect = GH_PROP_INSPECT_RESULTS;
        p->ups[i].audience = cfg->upstreams[i].kind == GH_CONFIG_UPSTREAM_HTTP
                                 ? url_text(&cfg->upstreams[i].url)
                                 : gh_xstrdup("");
        p->ups[i].resource = gh_xstrdup(p->ups[i].audience);
    }
    if (cfg->source)
        snprintf(err->file, sizeof(err->file), "%s", cfg->source);
    enum gh_rc rc = node ? section(p, cfg, node, err) : GH_OK;
    if (rc) {
        gh_prop_free(p);
        *out = NULL;
        return rc;
    }
    if (p->signs && p->nkeys == 0) {
        p->keys[p->nkeys++] = gh_prop__key_generate();
        p->generated = true;
        p->rotated_at = gh_clock_wall_s();
    }
    *out = p;
    return GH_OK;
}

void gh_prop_free(struct gh_prop *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nups; i++) {
        struct gh_prop_upstream *u = &p->ups[i];
        free(u->audience);
        free(u->resource);
        free(u->name);
        for (size_t k = 0; k < u->nscopes; k++)
            free(u->scopes[k]);
        free(u->scopes);
        for (size_t k = 0; k < u->nredact; k++)
            free(u->redact[k]);
        for (size_t k = 0; k < u->nredact_results; k++)
            free(u->redact_results[k]);
        for (size_t k = 0; k < u->nheaders; k++) {
            free((char *)u->headers[k].name.ptr);
            OPENSSL_cleanse((char *)u->headers[k].value.ptr, u->headers[k].value.len);
            free((char *)u->headers[k].value.ptr);
        }
    }
    free(p->ups);
    gh_prop__exchanger_free(p->xchg);
    for (size_t i = 0; i < p->nkeys; i++)
        gh_prop__key_free(p->keys[i]);
    pthread_mutex_destroy(&p->mu);
    free(p->issuer);
    free(p);
}

size_t gh_prop_warnings(const struct gh_prop *p, void (*fn)(void *arg, const char *line), void *arg)
{
    size_t n = 0;
    char line[512];
    for (size_t i = 0; p && i < p->nups; i++) {
        if (!p->ups[i].nheaders)
            continue;
        snprintf(
            line, sizeof(line),
            "warning: upstream %s gets a static credential (propagation.upstreams.%s.headers): "
            "it is not derived from the caller's identity, so the upstream cannot tell callers "
            "apart; prefer mode: assertion",
            p->ups[i].name, p->ups[i].name);
        fn(arg, line);
        n++;
    }
    return n;
}

const struct gh_prop_upstream *gh_prop_upstream(const struct gh_prop *p, size_t i)
{
    static const struct gh_prop_upstream NONE = {.mode = GH_PROP_NONE, .audience = ""};
    return p && i < p->nups ? &p->ups[i] : &NONE;
}

enum gh_prop_mode gh_prop_upstream_mode(const struct gh_prop_upstream *u)
{
    return u->mode;
}

const char *gh_prop_upstream_audience(const struct gh_prop_upstream *u)
{
    return u->audience ? u->audience : "";
}

const char *gh_prop_upstream_name(const struct gh_prop_upstream *u)
{
    return u->name ? u->name : "";
}

const char *gh_prop_upstream_resource(const struct gh_prop_upstream *u)
{
    return u->resource ? u->resource : "";
}

bool gh_prop_upstream_static(const struct gh_prop_upstream *u)
{
    return u->nheaders > 0;
}

size_t gh_prop_upstream_headers(const struct gh_prop_upstream *u, struct gh_http_header *out,
                                size_t cap)
{
    size_t n = GH_MIN(cap, u->nheaders);
    memcpy(out, u->headers, n * sizeof(*out));
    return n;
}

enum gh_prop_inspect gh_prop_upstream_inspect(const struct gh_prop_upstream *u)
{
    return u->inspect ? u->inspect : GH_PROP_INSPECT_RESULTS;
}

size_t gh_prop_upstream_result_redactions(const struct gh_prop_upstream *u, const char *const **out)
{
    *out = (const char *const *)u->redact_results;
    return u->nredact_results;
}

size_t gh_prop_upstream_redactions(const struct gh_prop_upstream *u, const char *const **out)
{
    *out = (const char *const *)u->redact;
    return u->nredact;
}

bool gh_prop_signs(const struct gh_prop *p)
{
    return p && p->signs;
}

/* ---- assertions ---- */

static void put_str(struct gh_buf *b, const char *key, struct gh_slice v)
{
    gh_buf_appendf(b, ",\"%s\":", key);
    gh_json_write_str(b, v.ptr ? v.ptr : "", v.len);
}

static bool scope_allowed(const struct gh_prop_upstream *u, struct gh_slice s)
{
    if (!u->scopes)
        return true;
    for (size_t i = 0; i < u->nscopes; i++)
        if (gh_slice_eq_cstr(s, u->scopes[i]))
            return true;
    return false;
}

/* RFC 6749 §3.3 scope-token characters: nothing that needs escaping in JSON or a form. */
static bool scope_token_ok(struct gh_slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return s.len > 0;
}

void gh_prop__scopes_put(struct gh_buf *b, const struct gh_prop_upstream *u,
                         const struct gh_prop_subject *s)
{
    bool first = true;
    for (uint32_t i = 0; i < s->nscopes; i++) {
        if (!scope_token_ok(s->scopes[i]) || !scope_allowed(u, s->scopes[i]))
            continue; /* narrowed to the upstream's ceiling, never widened */
        gh_buf_appendf(b, "%s%.*s", first ? "" : " ", (int)s->scopes[i].len, s->scopes[i].ptr);
        first = false;
    }
}

/* The delegation chain: the gateway acts for the caller, over whoever acted before (RFC 8693
 * §4.1: the outermost act is the current actor). */
static void put_act(struct gh_buf *b, const char *issuer, const struct gh_prop_subject *s)
{
    gh_buf_puts(b, ",\"act\":{\"sub\":");
    gh_json_write_str(b, issuer, strlen(issuer));
    for (uint32_t i = 0; i < s->nact; i++) {
        gh_buf_puts(b, ",\"act\":{\"sub\":");
        gh_json_write_str(b, s->act[i].ptr, s->act[i].len);
    }
    for (uint32_t i = 0; i <= s->nact; i++)
        gh_buf_puts(b, "}");
}

char *gh_prop_assertion(struct gh_prop *p, const struct gh_prop_upstream *u,
                        const struct gh_prop_subject *s)
{
    struct gh_prop__key k;
    if (!gh_prop__signer(p, &k))
        return NULL;
    int64_t now = gh_clock_wall_s();
    unsigned char r[16];
    char jti[33];
    gh_random_bytes(r, sizeof(r));
    gh_hex_encode(r, sizeof(r), jti);
    struct gh_buf b;
    gh_buf_init(&b, 2048);
    gh_buf_puts(&b, "{\"iss\":");
    gh_json_write_str(&b, p->issuer, strlen(p->issuer));
    put_str(&b, "sub", s->sub);
    put_str(&b, "aud", gh_slice_cstr(u->audience));
    gh_buf_appendf(&b, ",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld", (long long)now, (long long)now,
                   (long long)now + (long long)u->ttl_s);
    put_str(&b, "jti", gh_slice_cstr(jti));
    if (s->client_id.len)
        put_str(&b, "client_id", s->client_id);
    if (s->iss.len)
        put_str(&b, "orig_iss", s->iss);
    gh_buf_puts(&b, ",\"scope\":\"");
    gh_prop__scopes_put(&b, u, s);
    gh_buf_puts(&b, "\"");
    put_act(&b, p->issuer, s);
    gh_buf_puts(&b, ",\"mcp\":{\"method\":");
    gh_json_write_str(&b, s->method.ptr ? s->method.ptr : "", s->method.len);
    if (s->tool.len)
        put_str(&b, "name", s->tool);
    put_str(&b, "upstream", gh_slice_cstr(u->name));
    if (s->session.len)
        put_str(&b, "session", s->session);
    if (s->trace_id.len)
        put_str(&b, "trace_id", s->trace_id);
    gh_buf_puts(&b, "}}");
    char *jwt = gh_prop__sign_jwt(&k, GH_PROP_TYP, b.data, b.len);
    gh_buf_release(&b);
    EVP_PKEY_free(k.pkey);
    return jwt;
}
