/*
 * portable/literal.c owns deciding which values in a client file are literal secrets, naming the
 * environment variable each one moves to, and redacting what the report shows. The rules follow
 * docs/portability.md: references and placeholders in every client's syntax are never secrets;
 * a value is a secret when it has a well-known provider shape (the prefixes gitleaks keys on),
 * or when its key names a credential (KEY, TOKEN, SECRET, PASSWORD, PASS, AUTH, CREDENTIAL, the
 * classes Codex strips) and the value looks random enough (length and Shannon entropy).
 */
#include "portable/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#define MIN_NAMED_LEN  8   /* shorter values under a credential name are test values, not keys */
#define MIN_NAMED_BITS 2.5 /* bits per character of a credential-named value */
#define MIN_SHAPE_TAIL 16  /* characters after a provider prefix */
#define MIN_ANON_LEN   32  /* an unnamed path segment or argument this long ... */
#define MIN_ANON_BITS  4.0 /* ... and this random is a key */

bool gh_pl_is_reference(const char *s)
{
    static const char *const marks[] = {
        "${",  "{{",           "<",        "your_",       "YOUR_",   "your-",      "xxxx", "XXXX",
        "...", "\xE2\x80\xA6", "changeme", "placeholder", "REPLACE", "replace-me", "env:", "file:"};
    if (s[0] == '$' && (isalpha((unsigned char)s[1]) || s[1] == '_'))
        return true; /* $VAR (Gemini) */
    for (size_t i = 0; i < GH_ARRAY_LEN(marks); i++)
        if (strstr(s, marks[i]) == s ||
            (marks[i][0] != 'e' && marks[i][0] != 'f' && strstr(s, marks[i]) != NULL))
            return true;
    return false;
}

/* log2 of p in (0, 1] without libm: p = m * 2^-k with m in [0.5, 1), ln m by the atanh series. */
static double log2_unit(double p)
{
    int k = 0;
    while (p < 0.5) {
        p *= 2;
        k++;
    }
    double y = (p - 1) / (p + 1), y2 = y * y, term = y, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= y2;
    }
    return 2 * sum / 0.69314718055994530942 - k;
}

static double entropy(const char *s, size_t n)
{
    unsigned cnt[256] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / (double)n;
            h -= p * log2_unit(p);
        }
    return h;
}

static bool tok_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '/' || c == '+' ||
           c == '=';
}

/* Length of a provider-shaped token starting at s, or 0. */
static size_t shape_at(const char *s)
{
    static const char *const pre[] = {
        "ghp_",     "gho_",  "ghu_",  "ghs_",  "ghr_", "github_pat_", "glpat-",   "xoxb-",
        "xoxp-",    "xoxe-", "xoxa-", "xapp-", "sk-",  "sk_live_",    "sk_test_", "rk_live_",
        "rk_test_", "AKIA",  "ASIA",  "AIza",  "hf_",  "npm_",        "eyJ",      "-----BEGIN"};
    for (size_t i = 0; i < GH_ARRAY_LEN(pre); i++) {
        size_t pl = strlen(pre[i]);
        if (strncmp(s, pre[i], pl) != 0)
            continue;
        size_t n = pl;
        bool pem = pre[i][0] == '-';
        while (s[n] && (pem ? s[n] != '"' : tok_char(s[n])))
            n++;
        if (n - pl >= MIN_SHAPE_TAIL)
            return n;
    }
    return 0;
}

/* The first provider-shaped token in s. */
static bool find_shape(const char *s, size_t *off, size_t *len)
{
    for (size_t i = 0; s[i]; i++) {
        if (i && tok_char(s[i - 1]) && s[i - 1] != '/' && s[i - 1] != '=')
            continue; /* only at a token start */
        size_t n = shape_at(s + i);
        if (n) {
            *off = i;
            *len = n;
            return true;
        }
    }
    return false;
}

static bool named_credential(const char *key)
{
    static const char *const words[] = {"KEY",  "TOKEN",      "SECRET", "PASSWORD", "PASSWD",
                                        "PASS", "CREDENTIAL", "AUTH",   "PAT",      "SIG"};
    char up[128];
    size_t n = 0;
    for (; key && key[n] && n + 1 < sizeof(up); n++)
        up[n] = (char)toupper((unsigned char)key[n]);
    up[n] = '\0';
    for (size_t i = 0; i < GH_ARRAY_LEN(words); i++) {
        const char *w = strstr(up, words[i]);
        /* PAT and SIG only as whole words: PATH and SIGNAL are not credentials */
        if (w && strlen(words[i]) == 3 && (isalnum((unsigned char)w[3])))
            continue;
        if (w)
            return true;
    }
    return false;
}

static bool random_enough(const char *s, size_t n, size_t min_len, double bits)
{
    return n >= min_len && entropy(s, n) >= bits;
}

/* A header value: the credential after "Bearer ", "Basic ", "token ", or the whole value. */
static bool find_header(const char *key, const char *s, size_t *off, size_t *len)
{
    static const char *const schemes[] = {"Bearer ", "bearer ", "Basic ", "basic ",
                                          "token ",  "Token ",  "DPoP "};
    size_t skip = 0;
    for (size_t i = 0; i < GH_ARRAY_LEN(schemes); i++)
        if (strncmp(s, schemes[i], strlen(schemes[i])) == 0)
            skip = strlen(schemes[i]);
    const char *v = s + skip;
    size_t n = strlen(v);
    if (gh_pl_is_reference(v) || n == 0)
        return false;
    bool cred = skip || named_credential(key) || strcasecmp(key, "Authorization") == 0 ||
                strcasecmp(key, "Cookie") == 0;
    if (shape_at(v) || (cred && random_enough(v, n, MIN_NAMED_LEN, MIN_NAMED_BITS))) {
        *off = skip;
        *len = n;
        return true;
    }
    return false;
}

/* URL: a userinfo password, a credential-named query parameter, a provider-shaped segment. */
static bool find_url(const char *s, size_t *off, size_t *len)
{
    const char *q = strchr(s, '?');
    const char *at = strchr(s, '@');
    const char *sl = strstr(s, "://");
    if (sl && at && (!q || at < q)) {
        const char *colon = memchr(sl + 3, ':', (size_t)(at - sl - 3));
        if (colon && colon + 1 < at && !gh_pl_is_reference(colon + 1)) {
            *off = (size_t)(colon + 1 - s);
            *len = (size_t)(at - colon - 1);
            return true;
        }
    }
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p + 1, '&');
        if (!eq || (end && eq > end))
            continue;
        size_t vn = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
        char key[64] = {0};
        memcpy(key, p + 1, GH_MIN((size_t)(eq - p - 1), sizeof(key) - 1));
        char *val = strndup(eq + 1, vn);
        GH_BUG_ON(val == NULL);
        bool hit = vn && !gh_pl_is_reference(val) &&
                   (shape_at(val) || (named_credential(key) && vn >= MIN_NAMED_LEN));
        free(val);
        if (hit) {
            *off = (size_t)(eq + 1 - s);
            *len = vn;
            return true;
        }
    }
    if (find_shape(s, off, len))
        return true;
    /* a long random path segment: some vendors put the key in the path (…/mcp/KEY/sse) */
    for (const char *p = sl ? strchr(sl + 3, '/') : NULL; p && *p; p = strchr(p + 1, '/')) {
        size_t n = strcspn(p + 1, "/?#");
        if (random_enough(p + 1, n, MIN_ANON_LEN, MIN_ANON_BITS)) {
            *off = (size_t)(p + 1 - s);
            *len = n;
            return true;
        }
    }
    return false;
}

/* An argument: a --header "Name: value", a --flag=value, a provider shape, or the value after a
 * credential-named flag (key). */
static bool find_arg(const char *key, const char *s, size_t n, size_t *off, size_t *len)
{
    /* "Authorization: Bearer VALUE" (mcp-remote's --header): the header's rule */
    const char *colon = strchr(s, ':');
    if (s[0] != '-' && colon && colon > s && colon - s < 64 &&
        memchr(s, ' ', (size_t)(colon - s)) == NULL && strncmp(colon, "://", 3) != 0) {
        char hk[64] = {0};
        memcpy(hk, s, (size_t)(colon - s));
        const char *hv = colon + 1;
        while (*hv == ' ')
            hv++;
        if (find_header(hk, hv, off, len)) {
            *off += (size_t)(hv - s);
            return true;
        }
    }
    /* --token=VALUE: the part after '=' when the flag names a credential */
    const char *eq = strchr(s, '=');
    if (s[0] == '-' && eq) {
        char flag[64] = {0};
        memcpy(flag, s, GH_MIN((size_t)(eq - s), sizeof(flag) - 1));
        size_t vn = strlen(eq + 1);
        if (named_credential(flag) && !gh_pl_is_reference(eq + 1) &&
            random_enough(eq + 1, vn, MIN_NAMED_LEN, MIN_NAMED_BITS)) {
            *off = (size_t)(eq + 1 - s);
            *len = vn;
            return true;
        }
    }
    if (!gh_scan_is_placeholder(gh_slice(s, n)) && gh_scan_match(gh_slice(s, n), key, false)) {
        *off = 0;
        *len = n;
        return true;
    }
    /* the value after a credential flag (--api-key VALUE): key is that flag */
    if (key && named_credential(key) && s[0] != '-' &&
        random_enough(s, n, MIN_NAMED_LEN, MIN_NAMED_BITS)) {
        *off = 0;
        *len = n;
        return true;
    }
    return false;
}

bool gh_pl_find(enum plit_where where, const char *key, const char *s, size_t *off, size_t *len)
{
    if (!s || !*s || gh_pl_is_reference(s))
        return false;
    /* what the scanner calls a placeholder and would not report (AWS's documented example
     * key, masked values) stays where it is */
    struct gh_slice v = gh_slice(s, strlen(s));
    if ((where == PL_ENV || where == PL_ARG) && gh_scan_is_placeholder(v) &&
        !gh_scan_match(v, key, where == PL_ENV))
        return false;
    if (where == PL_HEADER)
        return find_header(key ? key : "", s, off, len);
    if (where == PL_URL)
        return find_url(s, off, len);
    size_t n = strlen(s);
    if (find_shape(s, off, len)) {
        if (where == PL_ENV) { /* the variable then holds the whole value (a JSON key file) */
            *off = 0;
            *len = n;
        }
        return true;
    }
    if (where == PL_ARG)
        return find_arg(key, s, n, off, len);
    /* the scanner's provider rules (and, for env values, its entropy rule) have the last word,
     * so that `gatehouse scan` finds nothing in what import or migrate wrote */
    if ((named_credential(key) && random_enough(s, n, MIN_NAMED_LEN, MIN_NAMED_BITS)) ||
        (!gh_scan_is_placeholder(gh_slice(s, n)) && gh_scan_match(gh_slice(s, n), key, true))) {
        *off = 0;
        *len = n;
        return true;
    }
    return false;
}

char *gh_pl_envify(struct gh_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *o = gh_arena_alloc(a, n + 2);
    size_t j = 0;
    if (isdigit((unsigned char)s[0]) || n == 0)
        o[j++] = '_';
    for (size_t i = 0; i < n; i++) {
        char c = (char)toupper((unsigned char)s[i]);
        o[j++] = isalnum((unsigned char)c) ? c : '_';
    }
    o[j] = '\0';
    return o;
}

char *gh_pl_name(struct gh_arena *a, const char *server, enum plit_where where, const char *key)
{
    if (where == PL_ENV && key && *key)
        return gh_pl_envify(a, key); /* GITHUB_PERSONAL_ACCESS_TOKEN keeps its name */
    const char *k = key && *key ? key : "SECRET";
    if (where == PL_HEADER && (strcasecmp(k, "Authorization") == 0))
        k = "TOKEN";
    while (*k == '-')
        k++; /* --api-key -> API_KEY */
    if (!*k)
        k = "SECRET";
    return gh_pl_envify(a, gh_arena_sprintf(a, "%s_%s", server, k));
}

char *gh_pl_redact(struct gh_arena *a, const char *s, size_t n)
{
    size_t keep = n >= 16 ? 4 : 0;
    return gh_arena_sprintf(a, "%.*s\xE2\x80\xA6 (%zu chars)", (int)keep, s, n);
}

const char *gh_pl_unique(struct gh_portable_catalog *c, const char *name, const char *secret)
{
    (void)secret;
    const char *cand = name;
    for (int k = 2; k < 1000; k++) {
        bool taken = false;
        for (size_t i = 0; i < c->n_findings && !taken; i++)
            taken = strncmp(c->findings[i].ref, "env:", 4) == 0 &&
                    strcmp(c->findings[i].ref + 4, cand) == 0;
        if (!taken)
            return cand;
        cand = gh_arena_sprintf(c->arena, "%s_%d", name, k);
    }
    return cand;
}

void gh_pl_report(struct gh_portable_catalog *c, const char *server, const char *where,
                  const char *key, const char *ref, const char *secret, size_t n, bool migrated)
{
    GH_BUG_ON(c->n_findings >= 65536);
    if (c->n_findings == c->cap_findings) {
        size_t cap = c->cap_findings ? c->cap_findings * 2 : 16;
        struct gh_portable_finding *f = gh_arena_alloc(c->arena, cap * sizeof(*f));
        if (c->n_findings)
            memcpy(f, c->findings, c->n_findings * sizeof(*f));
        c->findings = f;
        c->cap_findings = cap;
    }
    struct gh_portable_finding *f = &c->findings[c->n_findings++];
    f->server = gh_arena_strndup(c->arena, server, strlen(server));
    f->where = where;
    f->key = gh_arena_strndup(c->arena, key ? key : "", key ? strlen(key) : 0);
    f->ref = gh_arena_strndup(c->arena, ref, strlen(ref));
    f->redacted = gh_pl_redact(c->arena, secret, n);
    f->migrated = migrated;
    if (n >= 8 && c->n_masks < 65536) {
        c->masks = gh_pstrv_push(c->arena, c->masks, &c->n_masks, "");
        c->masks[c->n_masks - 1] = gh_arena_strndup(c->arena, secret, n);
    }
}

static void mask_one(struct gh_buf *b, const char *s, size_t n)
{
    for (char *p = b->data; p && (p = memmem(p, b->len - (size_t)(p - b->data), s, n)) != NULL;) {
        /* keep 4 characters, blank the rest: same length, so offsets stay valid */
        memset(p + 4, '*', n - 4);
        p += n;
    }
}

enum gh_rc gh_portable_mask(const struct gh_portable_catalog *c, struct gh_buf *b)
{
    struct gh_buf esc;
    gh_buf_init(&esc, GH_PORTABLE_MAX_FILE);
    for (size_t i = 0; i < c->n_masks; i++) {
        mask_one(b, c->masks[i], strlen(c->masks[i]));
        /* as a JSON string holds it (a PEM key's newlines are \n there) */
        gh_buf_clear(&esc);
        if (gh_json_write_str(&esc, c->masks[i], strlen(c->masks[i])) == GH_OK && esc.len > 10)
            mask_one(b, esc.data + 1, esc.len - 2);
    }
    gh_buf_release(&esc);
    return GH_OK;
}

const char *gh_pl_url_key(struct gh_arena *a, const char *v, size_t off, const char *dflt)
{
    if (off == 0 || v[off - 1] != '=')
        return dflt;
    size_t b = off - 1;
    while (b > 0 && v[b - 1] != '?' && v[b - 1] != '&')
        b--;
    return b + 1 < off ? gh_arena_strndup(a, v + b, off - 1 - b) : dflt;
}

static const char *const WHERE_NAMES[] = {"env", "header", "arg", "url"};

char *gh_pl_scrub(struct gh_portable_catalog *c, const char *server, enum plit_where where,
                  const char *key, const char *s)
{
    size_t off = 0, len = 0;
    if (!gh_pl_find(where, key, s, &off, &len))
        return (char *)s;
    if (where == PL_URL)
        key = gh_pl_url_key(c->arena, s, off, key);
    const char *name = gh_pl_unique(c, gh_pl_name(c->arena, server, where, key), s + off);
    gh_pl_report(c, server, WHERE_NAMES[where], key, gh_arena_sprintf(c->arena, "env:%s", name),
                 s + off, len, true);
    return gh_arena_sprintf(c->arena, "%.*s${env:%s}%s", (int)off, s, name, s + off + len);
}
