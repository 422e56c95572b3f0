/*
 * portable/scan_toml.c owns the TOML reader: TOML 1.0 as client configs use it (Codex's
 * config.toml) into the scanner's value tree — tables, dotted keys, arrays of tables, inline
 * tables, arrays, basic/literal/multi-line strings, integers, floats, booleans, and dates kept
 * as text. Strict where a lenient reader would let two programs see different configs:
 * duplicate keys, redefined tables, extended inline tables and invalid UTF-8 are errors, each
 * with a line and column. Recursion (nested arrays and inline tables) is depth-capped.
 */
#include "core/core.h"
#include "portable/internal_scan.h"

/* How a table or array came to be (gh_pnode.state): what may still be added to it. */
enum toml_state {
    T_IMPLICIT = 0, /* parent of a [header] only: a later [header] may define it */
    T_DEFINED = 1,  /* [header] */
    T_DOTTED = 2,   /* made by a dotted key: only more dotted keys may add to it */
    T_INLINE = 3,   /* { inline }: frozen */
    A_TABLES = 4,   /* [[array of tables]] */
    A_STATIC = 5,   /* [ value array ]: frozen */
};

#define TOML_MAX_KEY_PARTS 64
#define TOML_STR_MAX       GH_PNODE_MAX_BYTES

struct toml {
    struct gh_arena *a;
    const char *s;
    size_t len, pos;
    uint32_t line;     /* 1-based line of pos */
    size_t line_start; /* offset of that line's first byte */
    struct pnode_budget budget;
    struct gh_pnode_err *err;
    struct gh_pnode *root, *cur; /* cur: the table key/values go into */
    int depth;
};

static uint32_t col_of(const struct toml *t, size_t pos)
{
    uint32_t col = 1;
    for (size_t i = t->line_start; i < pos && i < t->len; i++)
        if (((unsigned char)t->s[i] & 0xc0) != 0x80)
            col++;
    return col;
}

static enum gh_rc fail(struct toml *t, const char *reason)
{
    if (!t->err->reason) {
        t->err->line = t->line;
        t->err->col = col_of(t, t->pos);
        t->err->reason = reason;
    }
    return GH_E_PARSE;
}

static int peek(const struct toml *t, size_t ahead)
{
    return t->pos + ahead < t->len ? (unsigned char)t->s[t->pos + ahead] : -1;
}

static bool at(const struct toml *t, const char *lit)
{
    size_t n = strlen(lit);
    return t->pos + n <= t->len && memcmp(t->s + t->pos, lit, n) == 0;
}

static void advance(struct toml *t, size_t n)
{
    for (size_t i = 0; i < n && t->pos < t->len; i++) {
        if (t->s[t->pos++] == '\n') {
            t->line++;
            t->line_start = t->pos;
        }
    }
}

static struct gh_pnode *node(struct toml *t, enum gh_pnode_type type, size_t pos)
{
    struct gh_pnode *n = scan_node_new(t->a, &t->budget, type, t->line, col_of(t, pos));
    if (!n)
        fail(t, "too many values (limit 262144)");
    return n;
}

/* ---- whitespace, comments, line ends ---- */

static void skip_ws(struct toml *t)
{
    while (peek(t, 0) == ' ' || peek(t, 0) == '\t')
        advance(t, 1);
}

/* A comment runs to the line end; control characters other than tab are not allowed in it. */
static enum gh_rc skip_comment(struct toml *t)
{
    if (peek(t, 0) != '#')
        return GH_OK;
    while (t->pos < t->len && t->s[t->pos] != '\n') {
        int c = peek(t, 0);
        if ((c < 0x20 && c != '\t' && !(c == '\r' && peek(t, 1) == '\n')) || c == 0x7f)
            return fail(t, "control character in a comment");
        advance(t, 1);
    }
    return GH_OK;
}

/* After a key/value or a header: spaces, a comment, then a newline or the end. */
static enum gh_rc end_of_line(struct toml *t)
{
    skip_ws(t);
    if (skip_comment(t))
        return GH_E_PARSE;
    if (at(t, "\r\n"))
        advance(t, 2);
    else if (peek(t, 0) == '\n')
        advance(t, 1);
    else if (t->pos < t->len)
        return fail(t, "expected the end of the line after a value");
    return GH_OK;
}

/* Whitespace, newlines and comments (inside arrays). */
static enum gh_rc skip_blank(struct toml *t)
{
    for (;;) {
        skip_ws(t);
        if (skip_comment(t))
            return GH_E_PARSE;
        if (at(t, "\r\n"))
            advance(t, 2);
        else if (peek(t, 0) == '\n')
            advance(t, 1);
        else
            return GH_OK;
    }
}

/* ---- strings ---- */

static void put_utf8(struct gh_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    gh_buf_append(b, u, n);
}

static enum gh_rc unicode_escape(struct toml *t, struct gh_buf *b, size_t digits)
{
    uint32_t cp = 0;
    for (size_t i = 0; i < digits; i++) {
        int c = peek(t, i);
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return fail(t, "bad \\u or \\U escape: want hex digits");
        cp = cp * 16 + (uint32_t)v;
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return fail(t, "\\u or \\U escape is not a Unicode scalar value");
    advance(t, digits);
    put_utf8(b, cp);
    return GH_OK;
}

/* One escape after the backslash (t->pos is on the character after it). */
static enum gh_rc escape(struct toml *t, struct gh_buf *b, bool multiline)
{
    static const char FROM[] = "btnfr\"\\e", TO[] = "\b\t\n\f\r\"\\\x1b";
    int c = peek(t, 0);
    const char *p = c > 0 ? strchr(FROM, c) : NULL;
    if (p) {
        advance(t, 1);
        return gh_buf_append(b, &TO[p - FROM], 1);
    }
    if (c == 'u' || c == 'U') {
        advance(t, 1);
        return unicode_escape(t, b, c == 'u' ? 4 : 8);
    }
    if (multiline) { /* line-ending backslash: drop the newline and the blanks after it */
        size_t save = t->pos;
        skip_ws(t);
        if (at(t, "\n") || at(t, "\r\n")) {
            while (peek(t, 0) == ' ' || peek(t, 0) == '\t' || peek(t, 0) == '\n' || at(t, "\r\n"))
                advance(t, 1);
            return GH_OK;
        }
        t->pos = save;
    }
    return fail(t, "unknown escape in a string");
}

/* A character allowed raw inside a string (multiline also takes newlines). */
static bool raw_ok(const struct toml *t, bool multiline)
{
    int c = peek(t, 0);
    if (c == '\t' || c >= 0x80 || (c >= 0x20 && c != 0x7f))
        return true;
    return multiline && (c == '\n' || (c == '\r' && peek(t, 1) == '\n'));
}

/* Closing delimiter of a multi-line string: up to two quotes before it belong to the string. */
static bool ml_close(struct toml *t, struct gh_buf *b, char q)
{
    size_t n = 0;
    while (n < 5 && peek(t, n) == q)
        n++;
    if (n < 3)
        return false;
    for (size_t i = 3; i < n; i++)
        gh_buf_append(b, &q, 1);
    advance(t, n);
    return true;
}

static enum gh_rc string_body(struct toml *t, struct gh_buf *b, char q, bool multiline)
{
    for (;;) {
        if (t->pos >= t->len)
            return fail(t, "string is never closed");
        if (multiline ? ml_close(t, b, q) : peek(t, 0) == q) {
            if (!multiline)
                advance(t, 1);
            return GH_OK;
        }
        if (q == '"' && peek(t, 0) == '\\') {
            advance(t, 1);
            if (escape(t, b, multiline))
                return GH_E_PARSE;
            continue;
        }
        if (!raw_ok(t, multiline))
            return fail(t, peek(t, 0) == '\n' ? "newline in a single-line string"
                                              : "control character in a string");
        if (gh_buf_append(b, t->s + t->pos, 1))
            return fail(t, "string too long");
        advance(t, 1);
    }
}

/* A string of any of the four kinds at t->pos; out gets the decoded bytes (arena). */
static enum gh_rc string(struct toml *t, bool allow_multiline, struct gh_slice *out)
{
    char q = (char)peek(t, 0);
    bool ml = (q == '"' && at(t, "\"\"\"")) || (q == '\'' && at(t, "'''"));
    if (ml && !allow_multiline)
        return fail(t, "a key cannot be a multi-line string");
    advance(t, ml ? 3 : 1);
    if (ml && at(t, "\r\n")) /* a newline right after the opening delimiter is trimmed */
        advance(t, 2);
    else if (ml && peek(t, 0) == '\n')
        advance(t, 1);
    struct gh_buf b;
    gh_buf_init(&b, TOML_STR_MAX);
    enum gh_rc rc = string_body(t, &b, q, ml);
    if (!rc)
        *out = gh_slice(gh_arena_strndup(t->a, b.data ? b.data : "", b.len), b.len);
    gh_buf_release(&b);
    return rc;
}

/* ---- keys ---- */

static bool bare_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* A dotted key: parts[0..*n). */
static enum gh_rc key(struct toml *t, struct gh_slice *parts, size_t *n)
{
    *n = 0;
    for (;;) {
        skip_ws(t);
        if (*n == TOML_MAX_KEY_PARTS)
            return fail(t, "key has too many dotted parts (limit 64)");
        int c = peek(t, 0);
        if (c == '"' || c == '\'') {
            if (string(t, false, &parts[*n]))
                return GH_E_PARSE;
        } else if (bare_char(c)) {
            size_t s = t->pos;
            while (bare_char(peek(t, 0)))
                advance(t, 1);
            parts[*n] = gh_slice(t->s + s, t->pos - s);
        } else {
            return fail(t, "expected a key (letters, digits, _ or -, or a quoted string)");
        }
        (*n)++;
        skip_ws(t);
        if (peek(t, 0) != '.')
            return GH_OK;
        advance(t, 1);
    }
}

/* ---- values ---- */

static enum gh_rc value(struct toml *t, struct gh_pnode **out);

static enum gh_rc array(struct toml *t, struct gh_pnode *arr)
{
    advance(t, 1); /* [ */
    for (;;) {
        if (skip_blank(t))
            return GH_E_PARSE;
        if (peek(t, 0) == ']') {
            advance(t, 1);
            return GH_OK;
        }
        struct gh_pnode *v;
        if (value(t, &v))
            return GH_E_PARSE;
        scan_node_append(arr, v);
        if (skip_blank(t))
            return GH_E_PARSE;
        if (peek(t, 0) == ',')
            advance(t, 1);
        else if (peek(t, 0) != ']')
            return fail(t, "expected , or ] in an array");
    }
}

static enum gh_rc keyval(struct toml *t, struct gh_pnode *table);

static enum gh_rc inline_table(struct toml *t, struct gh_pnode *tab)
{
    advance(t, 1); /* { */
    skip_ws(t);
    if (peek(t, 0) == '}') {
        advance(t, 1);
        return GH_OK;
    }
    for (;;) {
        if (keyval(t, tab))
            return GH_E_PARSE;
        skip_ws(t);
        if (peek(t, 0) == '}') {
            advance(t, 1);
            return GH_OK;
        }
        if (peek(t, 0) != ',')
            return fail(t, "expected , or } in an inline table (which must fit on one line)");
        advance(t, 1);
        skip_ws(t);
        if (peek(t, 0) == '}')
            return fail(t, "trailing comma in an inline table");
    }
}

static bool scalar_char(int c)
{
    return bare_char(c) || c == '+' || c == '.' || c == ':';
}

/* Checks a number's digits and underscores: each _ between two digits. */
static bool digits_ok(const char *s, size_t n, bool hex)
{
    bool prev_digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool d =
            (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (c == '_' && (!prev_digit || i + 1 == n))
            return false;
        if (!d && c != '_')
            return false;
        prev_digit = d;
    }
    return n > 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Integer, float, inf/nan, or a date/time (kept as text, loosely checked). */
static bool number_ok(struct gh_slice v)
{
    const char *s = v.ptr;
    size_t n = v.len;
    if (n >= 3 && (s[0] == '0') && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
        return digits_ok(s + 2, n - 2, s[1] == 'x');
    if (n && (s[0] == '+' || s[0] == '-'))
        s++, n--;
    if ((n == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0)))
        return true;
    if (n >= 5 && s[2] == ':' && is_digit(s[0]) && is_digit(s[1]))
        return true; /* local time, kept as text */
    if (n >= 10 && s == v.ptr && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
        is_digit(s[3]) && s[4] == '-' && is_digit(s[5]) && is_digit(s[6]) && s[7] == '-')
        return true; /* date or date-time, kept as text */
    size_t i = 0;
    while (i < n && s[i] != '.' && s[i] != 'e' && s[i] != 'E')
        i++;
    if (!digits_ok(s, i, false) || (i > 1 && s[0] == '0'))
        return false; /* no leading zeros */
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] != 'e' && s[i] != 'E')
            i++;
        if (!digits_ok(s + j, i - j, false))
            return false;
    }
    if (i < n) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        return digits_ok(s + i, n - i, false);
    }
    return true;
}

static enum gh_rc scalar(struct toml *t, struct gh_pnode **out)
{
    size_t s = t->pos;
    while (scalar_char(peek(t, 0)) || (peek(t, 0) == ' ' && t->pos - s == 10 && peek(t, 1) >= '0' &&
                                       peek(t, 1) <= '9' && t->s[s + 4] == '-'))
        advance(t, 1);
    struct gh_slice v = gh_slice(t->s + s, t->pos - s);
    bool b = gh_slice_eq_cstr(v, "true") || gh_slice_eq_cstr(v, "false");
    if (v.len == 0) {
        t->pos = s;
        return fail(t, "expected a value (string, number, boolean, date, array or table)");
    }
    if (!b && !number_ok(v)) {
        t->pos = s;
        return fail(t, "not a valid value (strings need quotes)");
    }
    *out = node(t, b ? GH_PNODE_BOOL : GH_PNODE_NUMBER, s);
    if (!*out)
        return GH_E_PARSE;
    (*out)->text = v;
    return GH_OK;
}

static enum gh_rc value(struct toml *t, struct gh_pnode **out)
{
    int c = peek(t, 0);
    size_t s = t->pos;
    if (c == '"' || c == '\'') {
        if (!(*out = node(t, GH_PNODE_STRING, s)))
            return GH_E_PARSE;
        return string(t, true, &(*out)->text);
    }
    if (c != '[' && c != '{')
        return scalar(t, out);
    if (++t->depth > GH_PNODE_MAX_DEPTH)
        return fail(t, "arrays and inline tables nested too deep (limit 64)");
    if (!(*out = node(t, c == '[' ? GH_PNODE_ARRAY : GH_PNODE_TABLE, s)))
        return GH_E_PARSE;
    (*out)->state = c == '[' ? A_STATIC : T_INLINE;
    enum gh_rc rc = c == '[' ? array(t, *out) : inline_table(t, *out);
    t->depth--;
    return rc;
}

/* ---- tables ---- */

/* The table part names under tab, made with state `make` when missing. */
static struct gh_pnode *child_table(struct toml *t, struct gh_pnode *tab, struct gh_slice part,
                                    enum toml_state make, size_t pos)
{
    struct gh_pnode *c = scan_node_find(tab, part);
    if (!c) {
        c = node(t, GH_PNODE_TABLE, pos);
        if (!c)
            return NULL;
        c->key = part;
        c->state = make;
        scan_node_append(tab, c);
    }
    return c;
}

static enum gh_rc keyval(struct toml *t, struct gh_pnode *table)
{
    struct gh_slice parts[TOML_MAX_KEY_PARTS];
    size_t n, kpos = t->pos;
    if (key(t, parts, &n))
        return GH_E_PARSE;
    struct gh_pnode *tab = table;
    for (size_t i = 0; i + 1 < n; i++) {
        tab = child_table(t, tab, parts[i], T_DOTTED, kpos);
        if (!tab)
            return GH_E_PARSE;
        if (tab->type != GH_PNODE_TABLE || tab->state != T_DOTTED) {
            t->pos = kpos;
            return fail(t, "dotted key extends a value or a table defined elsewhere");
        }
    }
    if (scan_node_find(tab, parts[n - 1])) {
        t->pos = kpos;
        return fail(t, "duplicate key");
    }
    skip_ws(t);
    if (peek(t, 0) != '=')
        return fail(t, "expected = after a key");
    advance(t, 1);
    skip_ws(t);
    struct gh_pnode *v;
    if (value(t, &v))
        return GH_E_PARSE;
    v->key = parts[n - 1];
    scan_node_append(tab, v);
    return GH_OK;
}

/* Walks the parent parts of a [header]: tables of any kind but inline; arrays of tables
 * continue into their last element. */
static struct gh_pnode *header_parent(struct toml *t, struct gh_slice *parts, size_t n, size_t pos)
{
    struct gh_pnode *tab = t->root;
    for (size_t i = 0; i + 1 < n; i++) {
        tab = child_table(t, tab, parts[i], T_IMPLICIT, pos);
        if (!tab)
            return NULL;
        if (tab->type == GH_PNODE_ARRAY && tab->state == A_TABLES)
            tab = tab->last;
        if (!tab || tab->type != GH_PNODE_TABLE || tab->state == T_INLINE) {
            t->pos = pos;
            fail(t, "table header goes through a value that is not a table");
            return NULL;
        }
    }
    return tab;
}

static enum gh_rc std_table(struct toml *t, struct gh_pnode *parent, struct gh_slice name,
                            size_t pos)
{
    struct gh_pnode *c = scan_node_find(parent, name);
    if (c && (c->type != GH_PNODE_TABLE || c->state != T_IMPLICIT)) {
        t->pos = pos;
        return fail(t, "table defined twice (or already a value)");
    }
    if (!c && !(c = child_table(t, parent, name, T_DEFINED, pos)))
        return GH_E_PARSE;
    c->state = T_DEFINED;
    c->line = t->line;
    c->col = col_of(t, pos);
    t->cur = c;
    return GH_OK;
}

static enum gh_rc array_table(struct toml *t, struct gh_pnode *parent, struct gh_slice name,
                              size_t pos)
{
    struct gh_pnode *arr = scan_node_find(parent, name);
    if (arr && (arr->type != GH_PNODE_ARRAY || arr->state != A_TABLES)) {
        t->pos = pos;
        return fail(t, "[[array of tables]] names a key that is already something else");
    }
    if (!arr) {
        if (!(arr = node(t, GH_PNODE_ARRAY, pos)))
            return GH_E_PARSE;
        arr->key = name;
        arr->state = A_TABLES;
        scan_node_append(parent, arr);
    }
    struct gh_pnode *tab = node(t, GH_PNODE_TABLE, pos);
    if (!tab)
        return GH_E_PARSE;
    tab->state = T_DEFINED;
    scan_node_append(arr, tab);
    t->cur = tab;
    return GH_OK;
}

static enum gh_rc header(struct toml *t)
{
    size_t pos = t->pos;
    bool aot = at(t, "[[");
    advance(t, aot ? 2 : 1);
    struct gh_slice parts[TOML_MAX_KEY_PARTS];
    size_t n;
    if (key(t, parts, &n))
        return GH_E_PARSE;
    if (!at(t, aot ? "]]" : "]"))
        return fail(t, aot ? "expected ]] to close the array-of-tables header"
                           : "expected ] to close the table header");
    advance(t, aot ? 2 : 1);
    struct gh_pnode *parent = header_parent(t, parts, n, pos);
    if (!parent)
        return GH_E_PARSE;
    enum gh_rc rc =
        aot ? array_table(t, parent, parts[n - 1], pos) : std_table(t, parent, parts[n - 1], pos);
    return rc ? rc : end_of_line(t);
}

/* Rejects invalid UTF-8 up front, so every decoded string is valid. */
static enum gh_rc check_utf8(struct toml *t)
{
    const unsigned char *s = (const unsigned char *)t->s;
    for (size_t i = 0; i < t->len;) {
        size_t n = s[i] < 0x80             ? 1
                   : (s[i] & 0xe0) == 0xc0 ? 2
                   : (s[i] & 0xf0) == 0xe0 ? 3
                   : (s[i] & 0xf8) == 0xf0 ? 4
                                           : 0;
        uint32_t cp = n == 1 ? s[i] : n == 2 ? s[i] & 0x1fu : n == 3 ? s[i] & 0x0fu : s[i] & 7u;
        bool ok = n > 0 && i + n <= t->len;
        for (size_t k = 1; ok && k < n; k++) {
            ok = (s[i + k] & 0xc0) == 0x80;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        static const uint32_t MIN[] = {0, 0, 0x80, 0x800, 0x10000};
        if (!ok || cp < MIN[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            advance(t, i - t->pos);
            return fail(t, "invalid UTF-8");
        }
        i += n;
    }
    return GH_OK;
}

enum gh_rc gh_pnode_parse_toml(struct gh_arena *a, const char *src, size_t len,
                               struct gh_pnode **root, struct gh_pnode_err *err)
{
    struct toml t = {.a = a, .s = src, .len = len, .line = 1, .err = err};
    memset(err, 0, sizeof(*err));
    *root = NULL;
    if (len > GH_PNODE_MAX_BYTES) {
        err->reason = "file is larger than 4 MiB";
        return GH_E_LIMIT;
    }
    if (check_utf8(&t))
        return GH_E_PARSE;
    t.pos = t.line_start = 0;
    t.line = 1;
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
        t.pos = t.line_start = 3;
    if (!(t.root = t.cur = node(&t, GH_PNODE_TABLE, 0)))
        return GH_E_PARSE;
    t.root->state = T_DEFINED;
    for (;;) {
        if (skip_blank(&t))
            return GH_E_PARSE;
        if (t.pos >= t.len)
            break;
        enum gh_rc rc;
        if (peek(&t, 0) == '[') {
            rc = header(&t);
        } else {
            rc = keyval(&t, t.cur);
            if (!rc)
                rc = end_of_line(&t);
        }
        if (rc)
            return rc;
    }
    *root = t.root;
    return GH_OK;
}

bool gh_pnode_toml_header(const struct gh_pnode *n)
{
    return n->parent && n->type == GH_PNODE_TABLE && n->state == T_DEFINED;
}
