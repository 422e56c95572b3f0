/*
 * policy/args.c: argument constraints of a rule (arguments: {name: {type, enum, ...}}) and the
 * glob matcher every policy pattern uses.
 *
 * Constraints run on the parsed JSON value, never on raw bytes: strings are compared after JSON
 * unescaping, so "\u002e\u002e" is "..", exactly as the upstream will read it. A decoded string
 * holding a NUL byte (from \u0000) never passes a prefix, glob, regex or path check: C code
 * behind the upstream may stop reading at the NUL and act on a different value than we checked.
 * Every check fails closed: a wrong type, a regex that hits its match limit, a path we cannot
 * normalise — all refuse.
 */
#include "core/core.h"
#include "policy/internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARG_ENUM_MAX    1024 /* values in one enum: */
#define ARG_ROOTS_MAX   256  /* roots in one path_under: */
#define ARG_PATTERN_MAX 4096 /* bytes of a prefix, glob, regex or root */
#define ARG_MAX_LENGTH  (1ull << 32)

/* JSON types a constraint can name; T_ANY when type: is absent. */
enum arg_type {
    T_ANY = 0,
    T_STRING,
    T_INTEGER,
    T_NUMBER,
    T_BOOLEAN,
    T_ARRAY,
    T_OBJECT,
    T_NULL,
};
static const char *const TYPE_NAMES[] = {"string", "integer", "number", "boolean",
                                         "array",  "object",  "null"};

/* A number from the config or a request: exact as an int64 when it is one, else a double. */
struct arg_num {
    bool is_int;
    int64_t i;
    double d;
};

/* A scalar of enum: or const:, typed the way YAML's core schema reads a plain scalar. */
enum arg_vkind { V_STRING, V_NUMBER, V_TRUE, V_FALSE, V_NULL };
struct arg_val {
    enum arg_vkind kind;
    char *s; /* V_STRING: owned, may hold NULs */
    size_t len;
    struct arg_num num; /* V_NUMBER */
};

struct arg_root {
    char *path; /* normalised: "/" or "/a/b" (no trailing slash, no empty or dot segments) */
    size_t len;
};

struct gh_policy_argcheck {
    enum arg_type type;
    bool required;
    struct arg_val *enums;
    size_t nenums;
    bool has_const;
    struct arg_val cnst;
    bool has_max_length;
    uint64_t max_length;
    bool has_min, has_max;
    struct arg_num min, max;
    char *prefix;
    size_t prefix_len;
    char *glob;
    size_t glob_len;
    pcre2_code *re;
    pcre2_match_context *mctx; /* limits only; read-only while matching, so shared by threads */
    struct arg_root *roots;
    size_t nroots;
};

/* ---- glob ---- */

bool gh_policy_glob(struct gh_slice pattern, struct gh_slice s)
{
    /* The classic two-pointer walk: on a mismatch, resume after the last `*`, which then eats
     * one more byte. Only the last star matters (an earlier one could only eat what the later
     * one can), so this is O(len(pattern) * len(s)) at worst, never exponential. */
    size_t p = 0, i = 0, star = SIZE_MAX, mark = 0;
    while (i < s.len) {
        if (p < pattern.len && pattern.ptr[p] == '*') {
            star = p++;
            mark = i;
        } else if (p < pattern.len && (pattern.ptr[p] == '?' || pattern.ptr[p] == s.ptr[i])) {
            p++;
            i++;
        } else if (star != SIZE_MAX) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.len && pattern.ptr[p] == '*')
        p++;
    return p == pattern.len;
}

/* ---- numbers ---- */

/* Strict JSON number grammar (RFC 8259 §6), so a config number reads like a request's. */
static bool json_number_syntax(const char *s, size_t n, bool *is_int)
{
    size_t i = 0;
    *is_int = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        *is_int = false;
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *is_int = false;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

/* Parses a config scalar (NUL-terminated text) as a number; false when it is none or infinite. */
static bool config_number(const struct gh_config_node *n, struct arg_num *out)
{
    bool is_int = false;
    if (!gh_policy__scalar(n) || !n->plain || !json_number_syntax(n->text, n->len, &is_int))
        return false;
    out->d = strtod(n->text, NULL);
    if (!isfinite(out->d))
        return false;
    out->is_int = false;
    if (is_int) {
        errno = 0;
        long long v = strtoll(n->text, NULL, 10);
        out->is_int = errno != ERANGE;
        out->i = v;
    }
    return true;
}

/* The request's number token v; false when it does not fit a double (then no bound holds). */
static bool json_number(const struct gh_json_doc *doc, uint32_t v, struct arg_num *out)
{
    out->is_int = gh_json_int64(doc, v, &out->i) == GH_OK;
    return gh_json_double(doc, v, &out->d) == GH_OK && isfinite(out->d);
}

/* <0, 0, >0: double d against int64 i without rounding i (above 2^53 a double cannot hold
 * every int64, so converting i would let 2^63 - 1 equal 2^63). */
static int cmp_double_int(double d, int64_t i)
{
    if (d >= 9223372036854775808.0)
        return 1;
    if (d < -9223372036854775808.0)
        return -1;
    int64_t t = (int64_t)d; /* exact in range: truncates toward zero */
    if (t != i)
        return (t > i) - (t < i);
    double frac = d - (double)t; /* exact: |t| < 2^53 whenever d has a fraction */
    return (frac > 0) - (frac < 0);
}

/* <0, 0, >0. Values beyond int64 compare as doubles. */
static int num_cmp(const struct arg_num *a, const struct arg_num *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    if (b->is_int)
        return cmp_double_int(a->d, b->i);
    if (a->is_int)
        return -cmp_double_int(b->d, a->i);
    return (a->d > b->d) - (a->d < b->d);
}

/* ---- compiling ---- */

static bool is_plain(const struct gh_config_node *n, const char *word)
{
    return n->kind == CFG_SCALAR && n->plain && strcmp(n->text, word) == 0;
}

/* A scalar of enum:/const:. Quoted scalars are always strings; plain ones may be numbers,
 * booleans or null, as YAML reads them. */
static enum gh_rc val_compile(const struct gh_config_node *n, struct arg_val *out,
                              struct gh_config_error *err)
{
    memset(out, 0, sizeof(*out));
    if (n->kind != CFG_SCALAR)
        return gh_config_node_error(err, n, "expected a string, number, boolean or null");
    if (n->plain) {
        if (!n->len)
            return gh_config_node_error(err, n, "empty value (write null or \"\")");
        if (is_plain(n, "true") || is_plain(n, "false")) {
            out->kind = n->text[0] == 't' ? V_TRUE : V_FALSE;
            return GH_OK;
        }
        if (is_plain(n, "null") || is_plain(n, "~")) {
            out->kind = V_NULL;
            return GH_OK;
        }
        bool is_int;
        if (json_number_syntax(n->text, n->len, &is_int)) {
            if (!config_number(n, &out->num))
                return gh_config_node_error(err, n, "number out of range");
            out->kind = V_NUMBER;
            return GH_OK;
        }
    }
    out->kind = V_STRING;
    out->s = gh_xmalloc(n->len + 1);
    memcpy(out->s, n->text, n->len + 1);
    out->len = n->len;
    return GH_OK;
}

/* A non-empty string without NUL bytes (prefix, glob, regex, roots), copied. */
static enum gh_rc text_compile(const struct gh_config_node *n, char **out, size_t *len,
                               struct gh_config_error *err)
{
    if (!gh_policy__scalar(n) || !n->len)
        return gh_config_node_error(err, n, "expected a non-empty string");
    if (n->len > ARG_PATTERN_MAX)
        return gh_config_node_error(err, n, "longer than %d bytes", ARG_PATTERN_MAX);
    *out = gh_xstrndup(n->text, n->len);
    *len = n->len;
    return GH_OK;
}

static enum gh_rc type_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                               struct gh_config_error *err)
{
    int t = 0;
    if (gh_policy__enum(v, TYPE_NAMES, GH_ARRAY_LEN(TYPE_NAMES), &t, err))
        return GH_E_PARSE;
    c->type = (enum arg_type)(t + 1);
    return GH_OK;
}

static enum gh_rc enum_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                               struct gh_config_error *err)
{
    if (v->kind != CFG_SEQ || !v->n)
        return gh_config_node_error(err, v, "expected a list of values");
    if (v->n > ARG_ENUM_MAX)
        return gh_config_node_error(err, v, "more than %d values", ARG_ENUM_MAX);
    c->enums = gh_xcalloc(v->n, sizeof(*c->enums));
    for (size_t i = 0; i < v->n; i++) {
        if (val_compile(v->items[i], &c->enums[i], err))
            return GH_E_PARSE;
        c->nenums++;
    }
    return GH_OK;
}

static enum gh_rc bound_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                                bool is_min, struct gh_config_error *err)
{
    struct arg_num *dst = is_min ? &c->min : &c->max;
    if (!config_number(v, dst))
        return gh_config_node_error(err, v, "expected a number");
    if (is_min)
        c->has_min = true;
    else
        c->has_max = true;
    return GH_OK;
}

static enum gh_rc regex_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                                struct gh_config_error *err)
{
    char *pat = NULL;
    size_t len = 0;
    int code = 0;
    PCRE2_SIZE off = 0;
    enum gh_rc rc = text_compile(v, &pat, &len, err);
    if (rc)
        return rc;
    /* ANCHORED | ENDANCHORED: the pattern must match the WHOLE value, as if written ^(?:...)$
     * with $ not accepting a trailing newline — an operator writing [a-z]+ means "only letters",
     * and a search for a substring would let "ok; rm -rf /" through. \C is refused: it can
     * split a UTF-8 character and read past what UTF mode validated. */
    c->re = pcre2_compile((PCRE2_SPTR)pat, len,
                          PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C,
                          &code, &off, NULL);
    free(pat);
    if (!c->re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        /* PCRE2's message describes the pattern's structure, not its text; the offset is ours */
        return gh_config_node_error(err, v, "bad regex at offset %zu: %s", (size_t)off,
                                    (const char *)msg);
    }
    /* Bounded matching: a backtracking pattern like (a+)+$ stops at these limits and the value
     * is refused, instead of pinning a worker for seconds per request. */
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->mctx)
        abort(); /* allocation failure aborts, as gh_xmalloc does */
    pcre2_set_match_limit(c->mctx, GH_POLICY_REGEX_MATCH);
    pcre2_set_depth_limit(c->mctx, GH_POLICY_REGEX_DEPTH);
    return GH_OK;
}

/*
 * Walks the segments of an absolute path: skips empty ("//") and "." segments, which POSIX
 * resolves to nothing. Returns false at the end.
 */
struct seg_walk {
    const char *p, *end;
};
static bool seg_next(struct seg_walk *w, struct gh_slice *seg)
{
    while (w->p < w->end) {
        while (w->p < w->end && *w->p == '/')
            w->p++;
        const char *s = w->p;
        while (w->p < w->end && *w->p != '/')
            w->p++;
        size_t n = (size_t)(w->p - s);
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.')
            continue;
        *seg = gh_slice(s, n);
        return true;
    }
    return false;
}

/* True when s starts like a URI scheme ("file:", "http:"): RFC 3986 ALPHA *( ALPHA / DIGIT / "+"
 * / "-" / "." ) ":". */
static bool has_scheme(struct gh_slice s)
{
    size_t i = 0;
    while (i < s.len &&
           ((s.ptr[i] >= 'a' && s.ptr[i] <= 'z') || (s.ptr[i] >= 'A' && s.ptr[i] <= 'Z') ||
            (i > 0 && ((s.ptr[i] >= '0' && s.ptr[i] <= '9') || s.ptr[i] == '+' || s.ptr[i] == '-' ||
                       s.ptr[i] == '.'))))
        i++;
    return i > 0 && i < s.len && s.ptr[i] == ':';
}

/*
 * The checks a path must pass before its segments mean anything: absolute, no scheme, no NUL,
 * no backslash (a Windows upstream reads it as a separator: "\..\" would escape) and no ".."
 * segment. ".." is refused rather than resolved: resolving it lexically is wrong when a symlink
 * sits before it, and no legitimate caller needs it.
 */
static bool path_plausible(struct gh_slice s)
{
    struct gh_slice seg;
    if (!s.len || s.ptr[0] != '/' || has_scheme(s) || memchr(s.ptr, '\0', s.len) ||
        memchr(s.ptr, '\\', s.len))
        return false;
    struct seg_walk w = {s.ptr, s.ptr + s.len};
    while (seg_next(&w, &seg))
        if (seg.len == 2 && seg.ptr[0] == '.' && seg.ptr[1] == '.')
            return false;
    return true;
}

static enum gh_rc root_compile(const struct gh_config_node *n, struct arg_root *out,
                               struct gh_config_error *err)
{
    char *txt = NULL;
    size_t len = 0;
    struct gh_slice seg;
    enum gh_rc rc = text_compile(n, &txt, &len, err);
    if (rc)
        return rc;
    if (!path_plausible(gh_slice(txt, len))) {
        free(txt);
        return gh_config_node_error(err, n,
                                    "expected an absolute path without .. segments, "
                                    "backslashes or a scheme");
    }
    /* normalised in place: never longer than the input */
    struct seg_walk w = {txt, txt + len};
    size_t o = 0;
    while (seg_next(&w, &seg)) {
        txt[o++] = '/';
        memmove(txt + o, seg.ptr, seg.len);
        o += seg.len;
    }
    if (o == 0)
        txt[o++] = '/';
    txt[o] = '\0';
    out->path = txt;
    out->len = o;
    return GH_OK;
}

static enum gh_rc roots_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                                struct gh_config_error *err)
{
    if (v->kind == CFG_SCALAR) { /* one root written without brackets */
        c->roots = gh_xcalloc(1, sizeof(*c->roots));
        if (root_compile(v, &c->roots[0], err))
            return GH_E_PARSE;
        c->nroots = 1;
        return GH_OK;
    }
    if (v->kind != CFG_SEQ || !v->n)
        return gh_config_node_error(err, v, "expected a list of absolute paths");
    if (v->n > ARG_ROOTS_MAX)
        return gh_config_node_error(err, v, "more than %d paths", ARG_ROOTS_MAX);
    c->roots = gh_xcalloc(v->n, sizeof(*c->roots));
    for (size_t i = 0; i < v->n; i++) {
        if (root_compile(v->items[i], &c->roots[i], err))
            return GH_E_PARSE;
        c->nroots++;
    }
    return GH_OK;
}

static enum gh_rc bool_compile(const struct gh_config_node *v, bool *out,
                               struct gh_config_error *err)
{
    if (!is_plain(v, "true") && !is_plain(v, "false"))
        return gh_config_node_error(err, v, "expected true or false");
    *out = v->text[0] == 't';
    return GH_OK;
}

static enum gh_rc key_compile(struct gh_policy_argcheck *c, const struct gh_config_node *v,
                              struct gh_config_error *err)
{
    const char *k = v->key;
    if (strcmp(k, "type") == 0)
        return type_compile(c, v, err);
    if (strcmp(k, "required") == 0)
        return bool_compile(v, &c->required, err);
    if (strcmp(k, "enum") == 0)
        return enum_compile(c, v, err);
    if (strcmp(k, "const") == 0) {
        if (val_compile(v, &c->cnst, err))
            return GH_E_PARSE;
        c->has_const = true;
        return GH_OK;
    }
    if (strcmp(k, "max_length") == 0) {
        c->has_max_length = true;
        return gh_policy__u64(v, 0, ARG_MAX_LENGTH, &c->max_length, err);
    }
    if (strcmp(k, "min") == 0 || strcmp(k, "max") == 0)
        return bound_compile(c, v, k[1] == 'i', err);
    if (strcmp(k, "prefix") == 0)
        return text_compile(v, &c->prefix, &c->prefix_len, err);
    if (strcmp(k, "glob") == 0)
        return text_compile(v, &c->glob, &c->glob_len, err);
    if (strcmp(k, "regex") == 0)
        return regex_compile(c, v, err);
    if (strcmp(k, "path_under") == 0)
        return roots_compile(c, v, err);
    return gh_config_node_error(err, v,
                                "unknown key %.64s (expected type, required, enum, const, "
                                "max_length, min, max, prefix, glob, regex or path_under)",
                                k);
}

/* Constraints that can only hold for some types: with an explicit type: that is not one of
 * them, the argument could never pass — a config mistake we report now rather than at 3 a.m. */
static enum gh_rc types_agree(const struct gh_policy_argcheck *c, const struct gh_config_node *n,
                              struct gh_config_error *err)
{
    const char *bad = NULL;
    bool str = c->type == T_ANY || c->type == T_STRING;
    bool num = c->type == T_ANY || c->type == T_INTEGER || c->type == T_NUMBER;
    bool len = str || c->type == T_ARRAY;
    if (!str && (c->prefix || c->glob || c->re || c->roots))
        bad = "prefix, glob, regex and path_under apply to strings";
    else if (!num && (c->has_min || c->has_max))
        bad = "min and max apply to numbers";
    else if (!len && c->has_max_length)
        bad = "max_length applies to strings and arrays";
    else if (c->has_min && c->has_max && num_cmp(&c->min, &c->max) > 0)
        bad = "min is greater than max";
    return bad ? gh_config_node_error(err, n, "%s", bad) : GH_OK;
}

enum gh_rc gh_policy_argcheck_compile(const struct gh_config *cfg, const struct gh_config_node *n,
                                      struct gh_policy_argcheck **out, struct gh_config_error *err)
{
    enum gh_rc rc = GH_OK;
    struct gh_policy_argcheck *c = NULL;
    (void)cfg; /* nothing here depends on other sections (yet) */
    *out = NULL;
    if (!n || n->kind != CFG_MAP) {
        rc = gh_config_node_error(err, n, "expected a mapping of constraints (type, enum, ...)");
        goto out;
    }
    c = gh_xcalloc(1, sizeof(*c));
    for (size_t i = 0; i < n->n; i++) {
        rc = key_compile(c, n->items[i], err);
        if (rc)
            goto out;
    }
    rc = types_agree(c, n, err);
out:
    if (rc)
        gh_policy_argcheck_free(c);
    else
        *out = c;
    return rc;
}

void gh_policy_argcheck_free(struct gh_policy_argcheck *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nenums; i++)
        free(c->enums[i].s);
    free(c->enums);
    free(c->cnst.s);
    free(c->prefix);
    free(c->glob);
    pcre2_code_free(c->re);
    pcre2_match_context_free(c->mctx);
    for (size_t i = 0; i < c->nroots; i++)
        free(c->roots[i].path);
    free(c->roots);
    free(c);
}

bool gh_policy_argcheck_required(const struct gh_policy_argcheck *c)
{
    return c && c->required;
}

/* ---- evaluating ---- */

/* One match-data block per thread: patterns are anchored at both ends, so one ovector pair is
 * all a match needs, whatever the pattern's groups (PCRE2 returns 0 for "matched, ovector too
 * small"). Saves a malloc per check on the request path. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void md_init(void)
{
    if (pthread_key_create(&md_key, md_free) != 0)
        abort();
}

static pcre2_match_data *md_get(void)
{
    pthread_once(&md_once, md_init);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (!md) {
        md = pcre2_match_data_create(1, NULL);
        if (!md || pthread_setspecific(md_key, md) != 0)
            abort();
    }
    return md;
}

static bool regex_pass(const struct gh_policy_argcheck *c, struct gh_slice s)
{
    int rc = pcre2_match(c->re, (PCRE2_SPTR)s.ptr, s.len, 0, 0, md_get(), c->mctx);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        GH_LOGD("policy", "regex constraint hit its match limit: value refused");
    return rc >= 0; /* no match, a limit, any error: refused */
}

static bool path_pass(const struct gh_policy_argcheck *c, struct gh_slice s)
{
    struct gh_slice vs, rs;
    if (!path_plausible(s))
        return false;
    /* Compared segment by segment after normalisation, so "/allowed_dir_evil" is not under
     * "/allowed_dir" (CVE-2025-53109/53110: a string prefix test let it through) and
     * "/allowed_dir//./x" is. */
    for (size_t i = 0; i < c->nroots; i++) {
        struct seg_walk rw = {c->roots[i].path, c->roots[i].path + c->roots[i].len};
        struct seg_walk vw = {s.ptr, s.ptr + s.len};
        bool under = true;
        while (under && seg_next(&rw, &rs))
            under = seg_next(&vw, &vs) && gh_slice_eq(rs, vs);
        if (under)
            return true;
    }
    return false;
}

static size_t utf8_codepoints(struct gh_slice s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xC0) != 0x80; /* decoded JSON is valid UTF-8 */
    return n;
}

/* Records which constraint refused (a static name, never the value). */
static bool fail(const char **why, const char *what)
{
    *why = what;
    return false;
}

/* Checks that apply to a decoded string value. */
static bool string_pass(const struct gh_policy_argcheck *c, struct gh_slice s, const char **why)
{
    bool nul = memchr(s.ptr, '\0', s.len) != NULL;
    if (c->has_max_length && utf8_codepoints(s) > c->max_length)
        return fail(why, "max_length");
    if (c->prefix && (nul || s.len < c->prefix_len || memcmp(s.ptr, c->prefix, c->prefix_len)))
        return fail(why, "prefix");
    if (c->glob && (nul || !gh_policy_glob(gh_slice(c->glob, c->glob_len), s)))
        return fail(why, "glob");
    if (c->re && (nul || !regex_pass(c, s)))
        return fail(why, "regex");
    if (c->roots && !path_pass(c, s))
        return fail(why, "path_under");
    return true;
}

/* True when the request's value v equals the config scalar cv (strings by decoded content,
 * numbers numerically, the rest by type). s is v's decoded string when v is one. */
static bool val_equal(const struct arg_val *cv, const struct gh_json_doc *doc, uint32_t v,
                      struct gh_slice s)
{
    struct arg_num num;
    switch (doc->toks[v].type) {
    case GH_JSON_STRING:
        return cv->kind == V_STRING && cv->len == s.len && !memcmp(cv->s, s.ptr, s.len);
    case GH_JSON_NUMBER:
        return cv->kind == V_NUMBER && json_number(doc, v, &num) && num_cmp(&num, &cv->num) == 0;
    case GH_JSON_TRUE:
        return cv->kind == V_TRUE;
    case GH_JSON_FALSE:
        return cv->kind == V_FALSE;
    case GH_JSON_NULL:
        return cv->kind == V_NULL;
    default:
        return false;
    }
}

static bool type_pass(enum arg_type t, const struct gh_json_doc *doc, uint32_t v)
{
    const struct gh_json_tok *k = &doc->toks[v];
    int64_t i;
    switch (t) {
    case T_ANY:
        return true;
    case T_STRING:
        return k->type == GH_JSON_STRING;
    case T_INTEGER:
        return k->type == GH_JSON_NUMBER && gh_json_int64(doc, v, &i) == GH_OK;
    case T_NUMBER:
        return k->type == GH_JSON_NUMBER;
    case T_BOOLEAN:
        return k->type == GH_JSON_TRUE || k->type == GH_JSON_FALSE;
    case T_ARRAY:
        return k->type == GH_JSON_ARRAY;
    case T_OBJECT:
        return k->type == GH_JSON_OBJECT;
    case T_NULL:
        return k->type == GH_JSON_NULL;
    }
    return false;
}

/* The checks that do not depend on the decoded string (enum and const need it; passed in). */
static bool value_pass(const struct gh_policy_argcheck *c, const struct gh_json_doc *doc,
                       uint32_t v, struct gh_slice s, const char **why)
{
    const struct gh_json_tok *k = &doc->toks[v];
    struct arg_num num;
    if (!type_pass(c->type, doc, v))
        return fail(why, "type");
    if (c->nenums) {
        size_t i = 0;
        while (i < c->nenums && !val_equal(&c->enums[i], doc, v, s))
            i++;
        if (i == c->nenums)
            return fail(why, "enum");
    }
    if (c->has_const && !val_equal(&c->cnst, doc, v, s))
        return fail(why, "const");
    if (c->has_min || c->has_max) {
        bool ok = k->type == GH_JSON_NUMBER && json_number(doc, v, &num);
        if (c->has_min && (!ok || num_cmp(&num, &c->min) < 0))
            return fail(why, "min");
        if (c->has_max && (!ok || num_cmp(&num, &c->max) > 0))
            return fail(why, "max");
    }
    if (k->type == GH_JSON_STRING)
        return string_pass(c, s, why);
    if (c->has_max_length && (k->type != GH_JSON_ARRAY || k->size > c->max_length))
        return fail(why, "max_length");
    if (c->prefix || c->glob || c->re || c->roots) /* string constraints on a non-string */
        return fail(why, c->prefix ? "prefix" : c->glob ? "glob" : c->re ? "regex" : "path_under");
    return true;
}

bool gh_policy_argcheck_eval(const struct gh_policy_argcheck *c, const struct gh_json_doc *doc,
                             int32_t v, const char **why)
{
    const char *dummy = NULL;
    struct gh_arena *scratch = NULL;
    struct gh_slice s = {NULL, 0};
    bool ok = false;
    if (!why)
        why = &dummy;
    *why = "unspecified";
    if (!c)
        return false; /* fail closed on a missing check rather than crash or pass */
    if (v < 0 || !doc) {
        if (c->required) {
            *why = "required";
            return false;
        }
        return true;
    }
    if ((uint32_t)v >= doc->ntoks)
        return false;
    if (doc->toks[v].type == GH_JSON_STRING) {
        /* Escaped strings are decoded into a scratch arena sized to fit (decoded is never
         * longer than raw); unescaped ones are slices of the request, no allocation. */
        if (doc->toks[v].flags & GH_JSON_F_ESCAPED)
            scratch = gh_arena_new(doc->toks[v].len + 64);
        if (gh_json_str(doc, scratch, (uint32_t)v, &s) != GH_OK)
            goto out;
    }
    ok = value_pass(c, doc, (uint32_t)v, s, why);
out:
    if (scratch)
        gh_arena_free(scratch);
    return ok;
}
