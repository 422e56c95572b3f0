/*
 * fuzz/fuzz_json.c: differential fuzzing of the strict JSON parser against jansson
 * (JSON_REJECT_DUPLICATES). Where both parsers can judge an input, their accept/reject verdicts
 * must agree, and on accept the two trees must be equal (types, decoded strings and names,
 * numbers). Excluded, because jansson refuses what RFC 8259 allows: \u0000 in member names,
 * integers beyond int64 and reals beyond double (jansson's numeric overflow); and anything
 * past either parser's depth limit (both set to 2048 here). Inputs holding a raw NUL byte must
 * be rejected by us and are not compared (jansson ends some inputs there). Any real
 * disagreement aborts.
 */
#include "core/core.h"
#include "json/json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

_Noreturn static void disagree(const char *what)
{
    fprintf(stderr, "fuzz_json: parsers disagree: %s\n", what);
    abort();
}

static void same(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i, json_t *j);

static void same_string(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i, json_t *j)
{
    struct gh_slice s;
    if (!json_is_string(j) || gh_json_str(d, a, i, &s) != GH_OK)
        disagree("string type");
    if (s.len != json_string_length(j) || memcmp(s.ptr, json_string_value(j), s.len) != 0)
        disagree("string value");
}

static void same_number(const struct gh_json_doc *d, uint32_t i, json_t *j)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    double x;
    int64_t v;
    if (json_is_integer(j)) {
        if ((t->flags & GH_JSON_F_NONINT) || gh_json_int64(d, i, &v) != GH_OK ||
            v != json_integer_value(j))
            disagree("integer");
        return;
    }
    if (!json_is_real(j) || gh_json_double(d, i, &x) != GH_OK)
        disagree("real type");
    if (x != json_real_value(j) && !(isnan(x) && isnan(json_real_value(j))))
        disagree("real value");
}

static void same_object(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i, json_t *j)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    if (!json_is_object(j) || json_object_size(j) != t->size)
        disagree("object size");
    for (uint32_t k = i + 1; k < t->end; k = d->toks[k + 1].end) {
        struct gh_slice name;
        gh_json_str(d, a, k, &name);
        json_t *v = json_object_getn(j, name.ptr, name.len);
        if (!v)
            disagree("member name");
        same(d, a, k + 1, v);
    }
}

static void same(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i, json_t *j)
{
    const struct gh_json_tok *t = gh_json_tok(d, i);
    switch (t->type) {
    case GH_JSON_NULL:
        if (!json_is_null(j))
            disagree("null");
        break;
    case GH_JSON_TRUE:
        if (!json_is_true(j))
            disagree("true");
        break;
    case GH_JSON_FALSE:
        if (!json_is_false(j))
            disagree("false");
        break;
    case GH_JSON_NUMBER:
        same_number(d, i, j);
        break;
    case GH_JSON_STRING:
        same_string(d, a, i, j);
        break;
    case GH_JSON_ARRAY:
        if (!json_is_array(j) || json_array_size(j) != t->size)
            disagree("array size");
        for (uint32_t k = i + 1, n = 0; k < t->end; k = d->toks[k].end, n++)
            same(d, a, k, json_array_get(j, n));
        break;
    case GH_JSON_OBJECT:
        same_object(d, a, i, j);
        break;
    default:
        disagree("token type");
    }
}

static bool excluded(const json_error_t *e)
{
    enum json_error_code c = json_error_code(e);
    return c == json_error_null_byte_in_key || c == json_error_numeric_overflow ||
           c == json_error_stack_overflow || c == json_error_out_of_memory;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_json_limits lim = {.max_depth = JSON_PARSER_MAX_DEPTH,
                                 .max_tokens = 1u << 24,
                                 .max_members = 1u << 24,
                                 .max_bytes = 1u << 26};
    struct gh_json_doc doc;
    struct gh_json_err err = {0};
    enum gh_rc rc = gh_json_parse(a, (const char *)data, size, &lim, &doc, &err);
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (rc != GH_OK && rc != GH_E_PARSE && rc != GH_E_LIMIT)
        disagree("unexpected return code");
    if (rc != GH_OK && (!err.reason || err.offset > size))
        disagree("error without reason or offset out of range");
    /* jansson stops at a raw NUL after a top-level scalar ("false\0" loads); a raw NUL is
     * never valid JSON, so judge those inputs without it. */
    if (memchr(data, 0, size)) {
        if (rc == GH_OK)
            disagree("accepted a raw NUL byte");
        goto out;
    }
    if (rc == GH_E_LIMIT || (!j && excluded(&je)))
        goto out;
    if ((rc == GH_OK) != (j != NULL)) {
        fprintf(stderr, "gatehouse: %s (%s at %zu); jansson: %s\n", gh_rc_str(rc),
                rc ? err.reason : "-", err.offset, j ? "accepts" : je.text);
        disagree("verdict");
    }
    if (j)
        same(&doc, a, 0, j);
out:
    json_decref(j);
    gh_arena_free(a);
    return 0;
}
