/*
 * http/http_parse.h: the pure parsing and framing primitives of http/ (no I/O, no allocation in
 * the head parsers): strict HTTP/1.1 request and response heads (RFC 9112), an incremental
 * chunked-body decoder, an incremental text/event-stream parser and writer, and a strict parser
 * for absolute http(s) URLs. To be merged into http/http.h by the module owner.
 *
 * Strictness choices (security-cases §4.3: a gateway must never disagree with the server behind
 * it about where a message ends):
 *  - Content-Length: digits only; any second Content-Length field or comma list is rejected even
 *    when the values agree (simplest rule that cannot be smuggled through);
 *  - Transfer-Encoding must be exactly "chunked" (any case); with Content-Length, on HTTP/1.0,
 *    or repeated, the message is rejected;
 *  - CRLF only (bare CR or LF rejected), no obs-fold, no whitespace before the colon, no CTLs
 *    except HTAB in values.
 */
#ifndef GH_HTTP_PARSE_H
#define GH_HTTP_PARSE_H

#include "core/core.h"

/** Hard ceiling on header fields per message (callers may pass a lower max_headers). */
#define GH_HTTP_MAX_HEADERS 100
/** Longest request-target accepted; longer is 414. */
#define GH_HTTP_MAX_TARGET 8192
/** Largest Content-Length or chunk size accepted (2^53, what JSON numbers and JS can carry). */
#define GH_HTTP_MAX_BODY_LEN (UINT64_C(1) << 53)
/** Longest chunk-size line (hex digits, leading zeros included) before GH_E_LIMIT. */
#define GH_HTTP_CHUNK_MAX_DIGITS 16
/** Chunk extension budget: a size line (digits, BWS, extensions) over
 *  GH_HTTP_CHUNK_MAX_DIGITS + GH_HTTP_CHUNK_MAX_EXT bytes is GH_E_LIMIT. */
#define GH_HTTP_CHUNK_MAX_EXT 1024

/** One header field; both slices point into the parsed buffer. */
struct gh_http_header {
    struct gh_slice name;  /* field name as received (case preserved) */
    struct gh_slice value; /* field value, leading and trailing OWS removed */
};

/** Request methods the gateway distinguishes; everything else is GH_HTTP_M_OTHER. */
enum gh_http_method {
    GH_HTTP_M_OTHER = 0,
    GH_HTTP_M_GET,
    GH_HTTP_M_POST,
    GH_HTTP_M_DELETE,
    GH_HTTP_M_HEAD,
    GH_HTTP_M_OPTIONS,
    GH_HTTP_M_PUT,
    GH_HTTP_M_PATCH,
};

/** Why a head was refused: the status to answer and a fixed reason (never bytes of the input). */
struct gh_http_error {
    int status;         /* 400, 413, 414, 431, 501, 505 for requests; 502 for responses */
    const char *reason; /* static string, for logs and audit */
};

/** A parsed request head; every slice points into the caller's buffer. */
struct gh_http_request_head {
    enum gh_http_method method; /* known methods; GH_HTTP_M_OTHER otherwise */
    struct gh_slice method_str; /* method token as received */
    struct gh_slice target;     /* origin-form target ("/p?q") or "*" for OPTIONS */
    struct gh_slice path;       /* target up to '?' ("*" for the asterisk form) */
    struct gh_slice query;      /* after '?', without it; len 0 (ptr NULL) when absent */
    int minor_version;          /* 0 or 1 (HTTP/1.x) */
    struct gh_http_header headers[GH_HTTP_MAX_HEADERS]; /* in received order */
    size_t nheaders;                                    /* entries used in headers[] */
    bool chunked;                                       /* Transfer-Encoding: chunked */
    bool has_content_length;                            /* a Content-Length field was present */
    bool keep_alive;      /* connection may be reused after this exchange (version + Connection) */
    bool expect_continue; /* HTTP/1.1 with Expect: 100-continue */
    uint64_t content_length; /* valid when has_content_length; 0 otherwise */
    struct gh_slice host;    /* the single Host value (may be empty); len 0 if none (HTTP/1.0) */
    size_t head_len;         /* bytes of the head including the final CRLFCRLF */
};

/**
 * Parses one request head from buf[0..len). Stateless: call again with the grown buffer.
 * max_head caps the head in bytes; max_headers (capped at GH_HTTP_MAX_HEADERS) caps field count.
 * Returns GH_OK with *out filled (slices into buf; body starts at buf + out->head_len);
 * GH_E_AGAIN when incomplete and len < max_head; GH_E_LIMIT with err->status 431 (head too big or
 * too many fields), 414 (target longer than GH_HTTP_MAX_TARGET) or 413 (Content-Length above
 * GH_HTTP_MAX_BODY_LEN); GH_E_PARSE with err->status 400, 501 (Transfer-Encoding other than
 * chunked) or 505 (version other than HTTP/1.0 and HTTP/1.1). *out is unspecified unless GH_OK.
 */
enum gh_rc gh_http_request_parse(const char *buf, size_t len, size_t max_head, size_t max_headers,
                                 struct gh_http_request_head *out, struct gh_http_error *err);

/** A parsed response head; every slice points into the caller's buffer. */
struct gh_http_response_head {
    int status;             /* 100..599 */
    struct gh_slice reason; /* reason phrase (may be empty); never trusted */
    int minor_version;      /* 0 or 1 */
    struct gh_http_header headers[GH_HTTP_MAX_HEADERS]; /* in received order */
    size_t nheaders;                                    /* entries used in headers[] */
    bool chunked;                                       /* body is chunked (only when !no_body) */
    bool has_content_length;                            /* a Content-Length field was present */
    bool keep_alive;         /* connection reusable afterwards; false when close_delimited */
    bool close_delimited;    /* body runs until the server closes (no CL, no TE, has a body) */
    bool no_body;            /* HEAD request, 1xx, 204 or 304: no body whatever the fields say */
    uint64_t content_length; /* body length when has_content_length && !no_body */
    size_t head_len;         /* bytes of the head including the final CRLFCRLF */
};

/**
 * Parses one response head from buf[0..len), framing it per RFC 9112 §6.3 given the method of
 * the request it answers (GH_HTTP_M_HEAD means no body). Same return codes as the request
 * parser; errors carry err->status 502 (the status the gateway answers its own client).
 * Transfer-Encoding other than exactly "chunked", Transfer-Encoding with Content-Length or on
 * HTTP/1.0, and repeated Content-Length are GH_E_PARSE.
 */
enum gh_rc gh_http_response_parse(const char *buf, size_t len, size_t max_head, size_t max_headers,
                                  enum gh_http_method request_method,
                                  struct gh_http_response_head *out, struct gh_http_error *err);

/** First header named name (ASCII case-insensitive) among h[0..n), or NULL. */
const struct gh_http_header *gh_http_header_find(const struct gh_http_header *h, size_t n,
                                                 const char *name);
/** How many headers among h[0..n) are named name (ASCII case-insensitive). */
size_t gh_http_header_count(const struct gh_http_header *h, size_t n, const char *name);

/** Incremental chunked-body decoder state (RFC 9112 §7.1); plain data, no allocation. */
struct gh_http_chunked {
    uint64_t remaining;   /* chunk-data bytes left in the current chunk */
    size_t line_bytes;    /* digits or extension bytes of the current size line */
    size_t trailer_bytes; /* bytes of the trailer section so far */
    size_t max_trailer;   /* cap on the trailer section */
    int state;            /* private: where in the grammar the decoder stands */
};

/** Prepares c for a new body; trailer sections beyond max_trailer_bytes are GH_E_LIMIT. */
void gh_http_chunked_init(struct gh_http_chunked *c, size_t max_trailer_bytes);

/**
 * Consumes framing from in[0..len) and hands back at most one run of chunk data per call.
 * Sets *consumed (bytes of in used, always set), *data (a slice into in, len 0 when none) and
 * *done (true once the last chunk and the trailer section are consumed; bytes after that belong
 * to the next message). Returns GH_OK (call again with in + *consumed while bytes remain),
 * GH_E_PARSE on malformed framing or a size above GH_HTTP_MAX_BODY_LEN, GH_E_LIMIT when a size
 * line, extension or the trailer section exceeds its cap. Trailer fields are checked and dropped.
 */
enum gh_rc gh_http_chunked_step(struct gh_http_chunked *c, const char *in, size_t len,
                                size_t *consumed, struct gh_slice *data, bool *done);

/** One server-sent event as dispatched; slices are valid only during the callback. */
struct gh_sse_event {
    struct gh_slice id;    /* value of this event's id field (see has_id) */
    struct gh_slice event; /* event type; len 0 means "message" */
    struct gh_slice data;  /* data lines joined with "\n" (no trailing newline) */
    long retry;            /* retry field in ms, -1 if none (or not all digits, or > 9 digits) */
    bool has_id;           /* the block carried an id field (maybe empty: resets Last-Event-ID) */
    bool has_data;         /* the block carried data: a WHATWG client fires a message event */
};

/** Incremental text/event-stream parser; buffers are capped at max_event_bytes. */
struct gh_sse_parser {
    struct gh_buf line;  /* a line split across feeds */
    struct gh_buf data;  /* data lines of the event being built, each followed by "\n" */
    struct gh_buf id;    /* id of the event being built */
    struct gh_buf event; /* event type of the event being built */
    size_t max;          /* cap on one event: line + data + id + event bytes */
    long retry;          /* retry of the event being built, -1 if none */
    bool has_id;         /* the event being built had an id field */
    bool skip_lf;        /* the last line ended in CR, so a leading LF finishes it */
    int bom;             /* UTF-8 BOM bytes matched at stream start; 3 = past the start */
};

/** Prepares p; one event (its lines, data, id and type together) may hold max_event_bytes. */
void gh_sse_parser_init(struct gh_sse_parser *p, size_t max_event_bytes);
/** Frees p's buffers; p may be initialised again. */
void gh_sse_parser_release(struct gh_sse_parser *p);

/**
 * Feeds in[0..len) (any split of the stream) and calls on_event for each complete event block:
 * those with data, and also those with only an id or retry (has_data false) so a relay can keep
 * Last-Event-ID; blocks with neither are dropped as WHATWG drops them. A non-GH_OK return from
 * on_event stops the feed and is returned (the rest of in is not consumed). Returns GH_E_LIMIT
 * when an event outgrows max_event_bytes; the parser must then be released.
 */
enum gh_rc gh_sse_parser_feed(struct gh_sse_parser *p, const char *in, size_t len,
                              enum gh_rc (*on_event)(void *ctx, const struct gh_sse_event *ev),
                              void *ctx);

/**
 * Appends one event in wire form: "id: ..." and "event: ..." when their slices are non-empty,
 * "retry: N" when retry >= 0, one "data: " line per line of data (CR, LF and CRLF all split) and
 * the blank line. Returns GH_E_PARSE (nothing appended) if id or event holds CR, LF or NUL, and
 * GH_E_LIMIT (nothing appended) if out's cap is hit.
 */
enum gh_rc gh_sse_write_event(struct gh_buf *out, struct gh_slice id, struct gh_slice event,
                              struct gh_slice data, long retry);

/** An absolute http(s) URL split into slices of the input. */
struct gh_url {
    struct gh_slice scheme; /* "http" or "https" as written (case preserved) */
    struct gh_slice host;   /* reg-name, IPv4 text or IPv6 literal without brackets */
    struct gh_slice path;   /* starts with '/'; a static "/" when the URL has no path */
    struct gh_slice query;  /* after '?', without it; len 0 when absent */
    uint16_t port;          /* explicit port, else 80 or 443 */
    bool tls;               /* https */
    bool ipv6_literal;      /* host came in brackets */
};

/**
 * Parses an absolute http or https URL (upstream URLs, Origin values). Rejects other schemes,
 * userinfo, fragments, control characters, spaces, backslashes, non-ASCII bytes, bad percent
 * escapes, empty hosts, hosts over 253 bytes, empty or out-of-range ports. Host names are
 * lowercase-insensitive tokens of [A-Za-z0-9._-]; numeric forms are not interpreted (SSRF
 * checks must judge the resolved address). Returns GH_OK or GH_E_PARSE.
 */
enum gh_rc gh_url_parse(const char *s, size_t len, struct gh_url *out);

#endif
