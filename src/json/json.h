/*
 * json: strict RFC 8259 JSON as a flat token array over the caller's bytes, and the JSON-RPC 2.0
 * message model built on it.
 *
 * Strictness is a security property here: the gateway decides policy on what it parsed, and the
 * upstream acts on what it parses, so any input the two could read differently is rejected —
 * duplicate member names (compared after unescaping), invalid UTF-8, lone surrogates, trailing
 * bytes, and names that case-fold onto a JSON-RPC member.
 *
 * Memory: the token array and every decoded string live in the caller's arena; nothing is
 * malloc'd per token. Strings without escapes are returned as slices into the input, so the input
 * must outlive the document.
 */
#ifndef GH_JSON_H
#define GH_JSON_H

#include "core/core.h"

/** Token types. */
enum gh_json_type {
    GH_JSON_NULL = 0,
    GH_JSON_FALSE = 1,
    GH_JSON_TRUE = 2,
    GH_JSON_NUMBER = 3,
    GH_JSON_STRING = 4,
    GH_JSON_ARRAY = 5,
    GH_JSON_OBJECT = 6,
};

/** Token flags. */
enum gh_json_flags {
    GH_JSON_F_ESCAPED = (1 << 0), /* string contains at least one backslash escape */
    GH_JSON_F_NONINT = (1 << 1),  /* number has a fraction or an exponent */
};

/**
 * One token. Object members are laid out as key (a string token) then value, so an object with
 * n members has 2n direct descendants at the top of its subtree; `size` counts members (objects)
 * or elements (arrays).
 */
struct gh_json_tok {
    uint32_t start; /* byte offset of the first byte (the quote, for strings) */
    uint32_t len;   /* bytes of the raw span, quotes and brackets included */
    uint32_t size;  /* members (object), elements (array), 0 otherwise */
    uint32_t end;   /* index one past this token's subtree: the next sibling */
    uint8_t type;   /* enum gh_json_type */
    uint8_t flags;  /* enum gh_json_flags */
};

/** Caps; a zero field means "use the default". */
struct gh_json_limits {
    uint32_t max_depth;   /* nested containers; default 64 */
    uint32_t max_tokens;  /* tokens in the document; default 262144 */
    uint32_t max_members; /* members of one object; default 4096 */
    size_t max_bytes;     /* input bytes; default 4 MiB, never above UINT32_MAX - 1 */
};

#define GH_JSON_DEFAULT_DEPTH   64
#define GH_JSON_DEFAULT_TOKENS  262144
#define GH_JSON_DEFAULT_MEMBERS 4096
#define GH_JSON_DEFAULT_BYTES   (4u << 20)

/** Where and why parsing failed. `reason` is a fixed string; it never quotes the input. */
struct gh_json_err {
    size_t offset;      /* byte offset of the offending byte */
    const char *reason; /* static string */
};

/** A parsed document: a view over `src` plus the arena-owned token array. */
struct gh_json_doc {
    const char *src;          /* the input bytes (not owned, must outlive the doc) */
    size_t len;               /* input length */
    struct gh_json_tok *toks; /* arena-owned; toks[0] is the root */
    uint32_t ntoks;           /* number of tokens */
};

/**
 * Parses src[0..len) as exactly one JSON value (whitespace around it allowed). lim may be NULL.
 * Returns GH_OK, GH_E_PARSE (malformed, duplicate name, bad UTF-8...) or GH_E_LIMIT (depth, size,
 * tokens, members); err (may be NULL) gets the byte offset and a fixed reason on failure.
 * Never recurses, so depth costs nothing on the C stack.
 */
enum gh_rc gh_json_parse(struct gh_arena *a, const char *src, size_t len,
                         const struct gh_json_limits *lim, struct gh_json_doc *doc,
                         struct gh_json_err *err);

/** The token at index i (no bounds check beyond GH_BUG_ON). */
static inline const struct gh_json_tok *gh_json_tok(const struct gh_json_doc *d, uint32_t i)
{
    GH_BUG_ON(i >= d->ntoks);
    return &d->toks[i];
}

/** The raw bytes of token i as they appear in the input (quotes included for strings). */
struct gh_slice gh_json_raw(const struct gh_json_doc *d, uint32_t i);

/**
 * Value of member `name` (raw bytes, no escapes) of object token obj, compared against the
 * decoded member names. Returns the value's token index, or -1 if absent or obj is no object.
 */
int32_t gh_json_obj_get(const struct gh_json_doc *d, uint32_t obj, const char *name, size_t len);

/** Element i of array token arr (O(i) by subtree skipping), or -1. */
int32_t gh_json_arr_at(const struct gh_json_doc *d, uint32_t arr, uint32_t i);

/**
 * Decoded contents of string token i. Without escapes the slice points into the input (no
 * copy); with escapes the bytes are decoded into the arena. The result is valid UTF-8 but may
 * contain NUL bytes (from \u0000): treat it as a slice, never as a C string.
 * Returns GH_E_PARSE if token i is no string.
 */
enum gh_rc gh_json_str(const struct gh_json_doc *d, struct gh_arena *a, uint32_t i,
                       struct gh_slice *out);

/** True when string token i decodes to exactly name[0..len). No allocation. */
bool gh_json_str_eq(const struct gh_json_doc *d, uint32_t i, const char *name, size_t len);

/**
 * Number token i as an int64. GH_E_PARSE if it is no number or has a fraction/exponent,
 * GH_E_LIMIT if it does not fit.
 */
enum gh_rc gh_json_int64(const struct gh_json_doc *d, uint32_t i, int64_t *out);

/** Number token i as a double (GH_E_PARSE if no number; overflow gives +-HUGE_VAL, GH_E_LIMIT). */
enum gh_rc gh_json_double(const struct gh_json_doc *d, uint32_t i, double *out);

/**
 * Appends s[0..n) to b as a quoted JSON string: `"` and `\` escaped, control characters and DEL
 * as \u00XX, valid UTF-8 passed through, each invalid byte replaced by \ufffd (so the output is
 * always valid JSON). GH_E_LIMIT if b's cap is hit (b may then hold a partial string).
 */
enum gh_rc gh_json_write_str(struct gh_buf *b, const char *s, size_t n);

/* ---- JSON-RPC 2.0 ---- */

/** JSON-RPC error codes the gateway produces. */
enum gh_jsonrpc_code {
    GH_JSONRPC_PARSE_ERROR = -32700,
    GH_JSONRPC_INVALID_REQUEST = -32600,
    GH_JSONRPC_METHOD_NOT_FOUND = -32601,
    GH_JSONRPC_INVALID_PARAMS = -32602,
    GH_JSONRPC_INTERNAL_ERROR = -32603,
};

/** What a message is. */
enum gh_jsonrpc_kind {
    GH_JSONRPC_REQUEST = 0,      /* method + id */
    GH_JSONRPC_NOTIFICATION = 1, /* method, no id */
    GH_JSONRPC_RESULT = 2,       /* id + result */
    GH_JSONRPC_ERROR = 3,        /* id (possibly null) + error */
};

/** Type of a message's id. */
enum gh_jsonrpc_id_type {
    GH_JSONRPC_ID_NONE = 0, /* absent (notifications) */
    GH_JSONRPC_ID_NULL = 1, /* null: error responses only */
    GH_JSONRPC_ID_INT = 2,
    GH_JSONRPC_ID_STR = 3,
};

/** One validated message. Token indexes are -1 when the member is absent. */
struct gh_jsonrpc_msg {
    enum gh_jsonrpc_kind kind;
    enum gh_jsonrpc_id_type id_type;
    int64_t id_int;         /* when id_type is GH_JSONRPC_ID_INT */
    struct gh_slice id_raw; /* id bytes as on the wire, to echo verbatim; {NULL,0} if absent */
    struct gh_slice method; /* decoded; {NULL,0} for responses */
    struct gh_slice name;   /* decoded params.name when it is a string, else {NULL,0} */
    struct gh_slice uri;    /* decoded params.uri when it is a string, else {NULL,0} */
    uint32_t tok;           /* the message object's token */
    int32_t params;         /* object or array token */
    int32_t arguments;      /* params.arguments token */
    int32_t result;
    int32_t error;
};

/** Caps for JSON-RPC parsing; zero fields mean defaults. */
struct gh_jsonrpc_limits {
    struct gh_json_limits json;
    uint32_t max_batch; /* elements in a batch; default 64 */
};

#define GH_JSONRPC_DEFAULT_BATCH 64

/** Why a body was refused, ready to be answered. */
struct gh_jsonrpc_err {
    int code;               /* -32700 (not JSON, or JSON limits) or -32600 (bad shape, batch) */
    size_t offset;          /* byte offset in the body */
    const char *reason;     /* fixed string, safe to send */
    uint32_t index;         /* batch element at fault (0 for a single message) */
    struct gh_slice id_raw; /* the faulty message's id when it was readable, else {NULL,0} */
};

/** A parsed body: one message, or a batch. */
struct gh_jsonrpc_body {
    struct gh_json_doc doc;      /* the JSON document; message tokens index into it */
    bool batch;                  /* the body was a top-level array */
    uint32_t count;              /* messages (1 unless batch) */
    struct gh_jsonrpc_msg *msgs; /* arena-owned, count entries */
};

/**
 * Parses and validates a JSON-RPC body: one message or a non-empty batch. A batch with any
 * invalid element is refused as a whole (err->index names it). Also refused: members that are
 * not exactly a JSON-RPC member name but fold onto one (`"Method"`, `"paramſ"`), likewise for
 * `name`, `uri` and `arguments` inside params — the parser-differential bypass of CVE-2026-27896.
 * For tools/call and prompts/get a string params.name is required, for resources/read,
 * resources/subscribe and resources/unsubscribe a string params.uri (else -32602).
 * Returns GH_OK, GH_E_PARSE or GH_E_LIMIT (err->code says which JSON-RPC error to answer).
 */
enum gh_rc gh_jsonrpc_parse(struct gh_arena *a, const char *body, size_t len,
                            const struct gh_jsonrpc_limits *lim, struct gh_jsonrpc_body *out,
                            struct gh_jsonrpc_err *err);

/**
 * Appends {"jsonrpc":"2.0","id":<id_raw>,"error":{"code":code,"message":"..."}} to b. id_raw is
 * copied verbatim (it must come from a parsed id); a NULL ptr writes null. The message is
 * escaped. GH_E_LIMIT when b's cap is hit.
 */
enum gh_rc gh_jsonrpc_error_write(struct gh_buf *b, struct gh_slice id_raw, int code,
                                  const char *message);

#endif
