/*
 * audit: the tamper-evident audit trail — records built by the request path, handed to one
 * writer thread over a bounded queue, written as JSON lines (src/audit/FORMAT.md) with a SHA-256
 * hash chain, signed checkpoints (Ed25519), size rotation that continues the chain, and group
 * commit: a barrier asks for everything queued so far to be on disk (fsync) and calls back on the
 * caller's worker, so `before-forward` forwards a tool call only after its decision record is
 * durable.
 *
 * Operator guide: docs/audit.md. Never recorded: tokens, DPoP proofs, cookies, argument values
 * (a digest of the raw arguments only).
 */
#ifndef GH_AUDIT_H
#define GH_AUDIT_H

#include "core/core.h"
#include "config/config.h"

#define GH_AUDIT_VALUE_MAX 1024  /* bytes of one string value before it is cut (with a digest) */
#define GH_AUDIT_QUEUE_MAX 65536 /* records waiting for the writer */

enum gh_audit_durability {
    GH_AUDIT_BUFFERED = 0,       /* written promptly, fsynced at rotation, checkpoints, shutdown */
    GH_AUDIT_BEFORE_FORWARD = 1, /* a tool call waits until its decision record is fsynced */
};

struct gh_audit;

/**
 * Opens the trail from the audit: section (node may be NULL: defaults). dev: the default path is
 * ./gatehouse-audit.jsonl and a signing key is made next to it when none is configured.
 * Starts the writer thread; continues the chain of an existing file. Errors name the node.
 */
enum gh_rc gh_audit_open(const struct gh_config *cfg, const struct gh_config_node *node, bool dev,
                         struct gh_audit **out, struct gh_config_error *err);
/** Drains the queue, writes a checkpoint, fsyncs, stops the writer. NULL-safe. */
void gh_audit_close(struct gh_audit *a);
/** The file records go to. */
const char *gh_audit_path(const struct gh_audit *a);
enum gh_audit_durability gh_audit_durability(const struct gh_audit *a);

/**
 * Queues one record: type (e.g. "request.decision") and its members as JSON text without the
 * enclosing braces (may be empty), copied. GH_E_LIMIT when the queue is full (the caller refuses
 * the request rather than lose the record). Any thread.
 */
enum gh_rc gh_audit_emit(struct gh_audit *a, const char *type, const char *members, size_t len);
/**
 * As gh_audit_emit, for a record the trail already owes: the outcome of a request whose decision
 * was queued, the end of a session whose start was, a reload that happened. Their number is
 * bounded by what was admitted, so they may use a reserve beyond GH_AUDIT_QUEUE_MAX (as much
 * again) instead of being dropped when new requests are already being refused.
 */
enum gh_rc gh_audit_emit_owed(struct gh_audit *a, const char *type, const char *members,
                              size_t len);

/** Called on the worker that asked, once every record queued before the barrier is on disk
 *  (ok) or the writer failed (not ok). */
typedef void (*gh_audit_durable_cb)(void *arg, bool ok);
/** A barrier: fsync of everything queued so far, then cb(arg) on this worker (group commit). */
void gh_audit_barrier(struct gh_audit *a, gh_audit_durable_cb cb, void *arg);

/** SIGHUP (logrotate): the current file ends with a checkpoint and the path is opened again;
 *  the chain continues in the new file. Any thread. */
void gh_audit_reopen(struct gh_audit *a);
/** Records written since start (for tests and metrics). */
uint64_t gh_audit_written(const struct gh_audit *a);
/** Records waiting for the writer now. */
size_t gh_audit_queue_depth(const struct gh_audit *a);
/** True once a write or fsync has failed (the trail stops; tool calls in before-forward get 503).
 */
bool gh_audit_failed(const struct gh_audit *a);

/* ---- building members (record.c) ---- */

/** Appends ,"key":"value" (or without the comma when b is empty): secret-shaped runs (JWTs,
 *  bearer tokens, provider API keys, key=/token= values, PEM headers) replaced by
 *  "[redacted:<kind>]", escaped, cut past GH_AUDIT_VALUE_MAX with a digest suffix; a NULL ptr
 *  writes null. */
void gh_audit_put_str(struct gh_buf *b, const char *key, struct gh_slice v);
/** As gh_audit_put_str without redaction: for identifiers the gateway validated (method, tool
 *  and prompt names, upstream names, rule ids), where a secret-like shape is a name. */
void gh_audit_put_id(struct gh_buf *b, const char *key, struct gh_slice v);
/** Appends ,"key":n. */
void gh_audit_put_int(struct gh_buf *b, const char *key, int64_t n);
/** Appends ,"key":true or false. */
void gh_audit_put_bool(struct gh_buf *b, const char *key, bool v);
/** Appends ,"key":[ "v0", ... ] of slices. */
void gh_audit_put_list(struct gh_buf *b, const char *key, const struct gh_slice *v, uint32_t n);
/** Appends ,"key":"sha256:<hex>" of bytes, or null when v is NULL. */
void gh_audit_put_digest(struct gh_buf *b, const char *key, struct gh_slice v);
/** Appends ,"key":{ then the caller's members, then gh_audit_close_obj. */
void gh_audit_open_obj(struct gh_buf *b, const char *key);
void gh_audit_close_obj(struct gh_buf *b);

/** W3C trace context of one request: accepted from a valid traceparent, else minted. */
struct gh_audit_trace {
    char trace_id[33]; /* 32 lower-case hex */
    char span_id[17];  /* the gateway's span: 16 hex */
    char parent[17];   /* the caller's span id, "" when minted */
};
/** Parses traceparent (version 00, non-zero ids) or mints a new trace; always fills t. */
void gh_audit_trace_from(struct gh_slice traceparent, struct gh_audit_trace *t);
/** Appends ,"trace":{"trace_id":...,"span_id":...[,"parent_id":...]}. */
void gh_audit_put_trace(struct gh_buf *b, const struct gh_audit_trace *t);

/* ---- verifying a trail (verify.c) ---- */

#define GH_AUDIT_VERIFY_LINE_MAX (4u << 20) /* a longer line is "line too long" */

struct gh_audit_verify_result {
    bool ok;                /* chain intact (a torn tail alone does not make it fail) */
    uint64_t records;       /* complete records checked */
    uint64_t checkpoints;   /* checkpoints whose signature verified */
    uint64_t first_bad_seq; /* seq of the first bad record (or, when bad_is_position, its 1-based
                               position in the whole input), 0 when ok */
    char file[256];         /* file of the first problem (or of the torn tail when ok) */
    uint64_t line;          /* its 1-based line number */
    char why[256];          /* what is wrong, "" when ok */
    bool torn_tail;         /* a file's last line had no newline: reported, not tampering */
    bool bad_is_position;   /* first_bad_seq is a position: the record's seq was unreadable */
    uint64_t unchecked;     /* checkpoints whose signature was not checked (no key given) */
    uint64_t uncovered;     /* records after the last checkpoint: no signature covers them yet */
    uint64_t first_seq;     /* seq of the first record (> 1: the chain continues older files) */
    char info[256];         /* when ok: the notes above as one human-readable string */
};

/**
 * Verifies files given in chain order (rotated ones first, the live file last). ed25519_pub:
 * the 32-byte public key checkpoints must be signed with, or NULL: signatures are not checked,
 * only counted as unchecked. GH_OK when the verification ran (the verdict is out->ok);
 * GH_E_IO when a file cannot be read (out->file, out->why say which and why; out->ok false);
 * GH_E_PARSE for no files or an unusable key.
 */
enum gh_rc gh_audit_verify_files(const char *const *paths, size_t n,
                                 const unsigned char *ed25519_pub,
                                 struct gh_audit_verify_result *out);

/** The same for one in-memory file (named "<buffer>" in the result). */
enum gh_rc gh_audit_verify_buffer(const char *data, size_t len, const unsigned char *ed25519_pub,
                                  struct gh_audit_verify_result *out);

/*
 * Streaming: the two functions above are built on this. Files are fed in chain order, each in
 * chunks of any size; the chain state (seq, hash, checkpoint counts) carries over between files.
 * After the first problem further input is ignored.
 */
struct gh_audit_verifier;
/** GH_E_PARSE when the key is not a usable Ed25519 public key. */
enum gh_rc gh_audit_verifier_new(const unsigned char *ed25519_pub, struct gh_audit_verifier **out);
/** Starts the next file (ends the previous one). name is copied. */
void gh_audit_verifier_begin_file(struct gh_audit_verifier *v, const char *name);
void gh_audit_verifier_feed(struct gh_audit_verifier *v, const char *data, size_t len);
/** Ends the input and fills out; returns out->ok. */
bool gh_audit_verifier_finish(struct gh_audit_verifier *v, struct gh_audit_verify_result *out);
void gh_audit_verifier_free(struct gh_audit_verifier *v);

/* ---- OCSF (ocsf.c): native records as OCSF 1.3.0 events for SIEMs (docs/audit-ocsf.md) ---- */

#define GH_OCSF_VERSION "1.3.0"

/**
 * Maps one native record line (FORMAT.md; a trailing "\n" or "\r\n" is allowed) to one OCSF 1.3
 * event, compact JSON without a newline, appended to out.
 *
 * request.*, session.*, tool.definition_changed and config.reload map to class "API Activity"
 * (6003); auth.failure maps to class "Authentication" (3002), activity Logon, status Failure.
 * Types without an OCSF meaning (audit.start, audit.checkpoint, and any type this version does
 * not know) map to "API Activity" with activity "Other" and the native record kept under
 * "unmapped".
 *
 * Returns GH_OK; GH_E_PARSE when the line is not a native record (not strict JSON, not an
 * object, v is not 1, seq/time/type/gateway missing or malformed, a member of the wrong type);
 * GH_E_LIMIT when out's cap is hit. On error out is left as it was.
 */
enum gh_rc gh_audit_ocsf_from_native(const char *line, size_t len, struct gh_buf *out);

#endif
