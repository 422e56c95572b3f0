/*
 * audit/verify_api.h: `gatehouse audit verify` — checks an audit trail (src/audit/FORMAT.md)
 * offline: every line a strict JSON object, v 1, seq +1, the SHA-256 hash chain across rotated
 * files, checkpoint count/head/kid and Ed25519 signatures, files that end without their signed
 * end while a later file follows. Stops at the first problem and says where it is.
 *
 * (To be folded into audit/audit.h.)
 */
#ifndef GH_AUDIT_VERIFY_API_H
#define GH_AUDIT_VERIFY_API_H

#include "core/core.h"

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

#endif
