/*
 * audit/verify.c owns `gatehouse audit verify`: reading an audit trail back (src/audit/FORMAT.md)
 * and checking everything a reader can check — each line one strict, compact JSON object with
 * the common members first, v 1, seq +1 across files, prev the SHA-256 of the previous line's
 * exact bytes, checkpoints (count, head, kid, Ed25519 signature), and no file that ends without
 * its signed end while a later file follows. The first problem stops the run and is reported
 * with its file, line and seq; a torn last line (a crash mid-write) is a note, not a problem.
 *
 * What no reader can detect: records cut off after the last checkpoint of the newest file (the
 * count of such uncovered records is reported), and records lost before the first file given
 * when it starts with an audit.start "continued".
 */
#include "core/core.h"
#include "audit/audit.h"
#include "json/json.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_CTX "gatehouse-audit-checkpoint:v1:"
#define READ_CHUNK     (64u << 10)

static const char ZERO_HASH[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct gh_audit_verifier {
    EVP_PKEY *pkey; /* NULL: signatures are counted as unchecked */
    char kid[44];   /* RFC 7638 thumbprint of pkey */
    struct gh_audit_verify_result r;
    bool done; /* a problem was found: the rest of the input is ignored */
    struct gh_arena *arena;
    struct gh_buf part; /* a line spanning feeds */

    /* the current file */
    char file[256];
    bool in_file;
    uint64_t line;         /* lines seen in it */
    uint64_t file_records; /* complete records in it */
    bool file_last_cp;     /* its last record so far is a checkpoint */

    /* the chain */
    bool have_prev;
    uint64_t seq;         /* of the last record */
    char prev[65];        /* its hash */
    uint64_t since_cp;    /* records since the last checkpoint (or the first record given) */
    uint64_t since_start; /* records since the last audit.start, itself included */
    bool start_since_cp;  /* an audit.start came after the last checkpoint (a restart) */
    bool any_cp;

    /* an earlier file ended without a checkpoint: a break once a later record shows up */
    bool boundary;
    char bfile[256];
    uint64_t bline, bseq;

    /* the last torn tail seen */
    uint64_t torn_count;
    char torn_file[256];
    uint64_t torn_line;
    size_t torn_bytes;
};

static void copy_name(char dst[256], const char *src)
{
    snprintf(dst, 256, "%s", src ? src : "");
}

static void failv(struct gh_audit_verifier *v, const char *file, uint64_t line, uint64_t seq,
                  bool is_pos, const char *fmt, va_list ap)
{
    if (v->done)
        return;
    v->done = true;
    v->r.ok = false;
    copy_name(v->r.file, file);
    v->r.line = line;
    v->r.first_bad_seq = seq;
    v->r.bad_is_position = is_pos;
    vsnprintf(v->r.why, sizeof(v->r.why), fmt, ap);
}

/* A problem at the current line: seq when the record's seq was readable (> 0), else its
 * 1-based position in the whole input. */
__attribute__((format(printf, 3, 4))) static void fail(struct gh_audit_verifier *v, int64_t seq,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool pos = seq <= 0;
    failv(v, v->file, v->line, pos ? v->r.records + 1 : (uint64_t)seq, pos, fmt, ap);
    va_end(ap);
}

/* The earlier file ended without its checkpoint and a later record exists (seq: its seq, or 0
 * when unreadable): reported at the end of that earlier file, before anything in this one. */
static bool boundary_check(struct gh_audit_verifier *v, int64_t seq)
{
    if (!v->boundary)
        return false;
    char why[256];
    unsigned long long last = (unsigned long long)(v->bseq - 1);
    if (seq > 0 && (uint64_t)seq == v->bseq)
        snprintf(why, sizeof(why),
                 "file ends at seq %llu without a checkpoint while a later file follows (not "
                 "closed by the gateway's rotation)",
                 last);
    else if (seq > 0 && (uint64_t)seq > v->bseq)
        snprintf(why, sizeof(why),
                 "file ends at seq %llu without a checkpoint while a later file follows: "
                 "truncated, %llu record%s missing",
                 last, (unsigned long long)((uint64_t)seq - v->bseq),
                 (uint64_t)seq - v->bseq == 1 ? "" : "s");
    else
        snprintf(why, sizeof(why),
                 "file ends at seq %llu without a checkpoint while a later file follows "
                 "(truncated)",
                 last);
    v->done = true;
    v->r.ok = false;
    copy_name(v->r.file, v->bfile);
    v->r.line = v->bline;
    v->r.first_bad_seq = v->bseq;
    v->r.bad_is_position = false;
    snprintf(v->r.why, sizeof(v->r.why), "%s", why);
    return true;
}

static bool is_lower_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* String token i without escapes, its contents (quotes stripped) in *out. */
static bool plain_str(const struct gh_json_doc *d, int32_t i, struct gh_slice *out)
{
    if (i < 0)
        return false;
    const struct gh_json_tok *t = gh_json_tok(d, (uint32_t)i);
    if (t->type != GH_JSON_STRING || (t->flags & GH_JSON_F_ESCAPED))
        return false;
    *out = gh_slice(d->src + t->start + 1, t->len - 2);
    return true;
}

static bool hex_str(const struct gh_json_doc *d, int32_t i, size_t n, struct gh_slice *out)
{
    return plain_str(d, i, out) && out->len == n && is_lower_hex(out->ptr, n);
}

/* "yyyy-mm-ddThh:mm:ss.uuuuuuZ" (shape only: clocks step, so order is not checked). */
static bool time_shape(struct gh_slice s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if (s.len != sizeof(pat) - 1)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (pat[i] == 'd' ? (s.ptr[i] < '0' || s.ptr[i] > '9') : s.ptr[i] != pat[i])
            return false;
    }
    return true;
}

static const char *const COMMON[] = {"v", "seq", "time", "type", "prev", "gateway"};

/* The common members in their order as the first members; vals[k] gets each value's token. */
static bool common_members(const struct gh_json_doc *d, int32_t vals[6])
{
    const struct gh_json_tok *root = &d->toks[0];
    uint32_t k = 1;
    for (size_t i = 0; i < GH_ARRAY_LEN(COMMON); i++) {
        if (k >= root->end)
            return false;
        struct gh_slice name;
        if (!plain_str(d, (int32_t)k, &name) || !gh_slice_eq_cstr(name, COMMON[i]))
            return false;
        vals[i] = (int32_t)(k + 1);
        k = d->toks[k + 1].end;
    }
    return true;
}

static bool verify_sig(struct gh_audit_verifier *v, uint64_t seq, struct gh_slice head,
                       const unsigned char sig[64])
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), CHECKPOINT_CTX "%llu:%.*s", (unsigned long long)seq,
                     (int)head.len, head.ptr);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return false;
    bool ok = EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, v->pkey, NULL) == 1 &&
              EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, (size_t)n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* The checkpoint member of record seq (prev: its prev). False when a problem was reported. */
static bool check_checkpoint(struct gh_audit_verifier *v, const struct gh_json_doc *d, int64_t seq,
                             struct gh_slice prev)
{
    int32_t cp = gh_json_obj_get(d, 0, "checkpoint", 10);
    if (cp < 0 || d->toks[cp].type != GH_JSON_OBJECT) {
        fail(v, seq, "checkpoint record without a checkpoint object");
        return false;
    }
    int64_t count = -1;
    int32_t ci = gh_json_obj_get(d, (uint32_t)cp, "count", 5);
    if (ci < 0 || gh_json_int64(d, (uint32_t)ci, &count) != GH_OK || count < 0) {
        fail(v, seq, "checkpoint count is not a non-negative integer");
        return false;
    }
    struct gh_slice head;
    if (!hex_str(d, gh_json_obj_get(d, (uint32_t)cp, "head", 4), 64, &head)) {
        fail(v, seq, "checkpoint head is not 64 lowercase hex");
        return false;
    }
    if (!gh_slice_eq(head, prev)) {
        fail(v, seq, "checkpoint head is not the record's prev");
        return false;
    }
    if ((uint64_t)count != v->since_cp &&
        !(v->start_since_cp && (uint64_t)count == v->since_start)) {
        fail(v, seq, "checkpoint count %lld, but %llu records since the previous checkpoint",
             (long long)count, (unsigned long long)v->since_cp);
        return false;
    }
    int32_t ki = gh_json_obj_get(d, (uint32_t)cp, "kid", 3);
    int32_t si = gh_json_obj_get(d, (uint32_t)cp, "sig", 3);
    bool kid_null = ki >= 0 && d->toks[ki].type == GH_JSON_NULL;
    bool sig_null = si >= 0 && d->toks[si].type == GH_JSON_NULL;
    if (kid_null && sig_null) { /* written by a gateway without audit.key */
        if (v->pkey) {
            fail(v, seq, "checkpoint is not signed (kid and sig null) but a key was given");
            return false;
        }
        v->r.unchecked++;
        return true;
    }
    struct gh_slice kid, sigs;
    unsigned char sig[66];
    size_t sl = 0;
    if (!plain_str(d, ki, &kid) || !plain_str(d, si, &sigs)) {
        fail(v, seq, "checkpoint kid and sig must both be strings (or both null)");
        return false;
    }
    if (gh_b64url_decode(sigs.ptr, sigs.len, sig, sizeof(sig), &sl) != GH_OK || sl != 64) {
        fail(v, seq, "checkpoint sig is not the base64url of 64 bytes");
        return false;
    }
    if (!v->pkey) {
        v->r.unchecked++;
        return true;
    }
    if (!gh_slice_eq_cstr(kid, v->kid)) {
        fail(v, seq,
             "checkpoint kid is not the thumbprint of the given key (signed with another key)");
        return false;
    }
    if (!verify_sig(v, (uint64_t)seq, head, sig)) {
        fail(v, seq, "bad checkpoint signature");
        return false;
    }
    v->r.checkpoints++;
    return true;
}

static void process_line(struct gh_audit_verifier *v, const char *p, size_t n)
{
    v->line++;
    if (v->done)
        return;
    if (n > GH_AUDIT_VERIFY_LINE_MAX) {
        if (!boundary_check(v, 0))
            fail(v, 0, "line too long (%zu bytes, at most %u)", n, GH_AUDIT_VERIFY_LINE_MAX);
        return;
    }
    gh_arena_reset(v->arena);
    struct gh_json_doc d;
    struct gh_json_err e = {0};
    struct gh_json_limits lim = {.max_bytes = GH_AUDIT_VERIFY_LINE_MAX};
    enum gh_rc rc = gh_json_parse(v->arena, p, n, &lim, &d, &e);
    bool obj = rc == GH_OK && d.toks[0].type == GH_JSON_OBJECT;
    int64_t seq = 0;
    if (obj) {
        int32_t si = gh_json_obj_get(&d, 0, "seq", 3);
        if (si < 0 || gh_json_int64(&d, (uint32_t)si, &seq) != GH_OK || seq < 1)
            seq = 0;
    }
    if (boundary_check(v, seq))
        return;
    if (rc != GH_OK) {
        fail(v, 0, "not JSON: %s at byte %zu", e.reason ? e.reason : "malformed", e.offset);
        return;
    }
    if (!obj) {
        fail(v, 0, "not a JSON object");
        return;
    }
    if (p[0] != '{' || p[n - 1] != '}') {
        fail(v, seq, "not compact JSON (whitespace around the record)");
        return;
    }
    int32_t m[6];
    if (!common_members(&d, m)) {
        fail(v, seq,
             "common members missing or out of order (want v, seq, time, type, prev, "
             "gateway first)");
        return;
    }
    int64_t ver = 0;
    if (gh_json_int64(&d, (uint32_t)m[0], &ver) != GH_OK || ver != 1) {
        fail(v, seq, "v is not 1 (unsupported version)");
        return;
    }
    if (seq < 1) {
        fail(v, 0, "seq is not a positive integer");
        return;
    }
    struct gh_slice time, type, prev, gw;
    if (!plain_str(&d, m[2], &time) || !time_shape(time)) {
        fail(v, seq, "time is not a UTC timestamp yyyy-mm-ddThh:mm:ss.uuuuuuZ");
        return;
    }
    if (!plain_str(&d, m[3], &type) || type.len == 0) {
        fail(v, seq, "type is not a plain non-empty string");
        return;
    }
    if (!hex_str(&d, m[4], 64, &prev)) {
        fail(v, seq, "prev is not 64 lowercase hex");
        return;
    }
    if (!hex_str(&d, m[5], 16, &gw)) {
        fail(v, seq, "gateway is not 16 lowercase hex");
        return;
    }
    bool is_start = gh_slice_eq_cstr(type, "audit.start");
    bool is_cp = gh_slice_eq_cstr(type, "audit.checkpoint");
    bool continued = false;
    if (is_start) {
        int32_t ch = gh_json_obj_get(&d, 0, "chain", 5);
        int32_t fi = gh_json_obj_get(&d, 0, "file", 4);
        continued = ch >= 0 && gh_json_str_eq(&d, (uint32_t)ch, "continued", 9);
        if (!continued && !(ch >= 0 && gh_json_str_eq(&d, (uint32_t)ch, "new", 3))) {
            fail(v, seq, "audit.start without chain \"continued\" or \"new\"");
            return;
        }
        if (fi < 0 || d.toks[fi].type != GH_JSON_STRING) {
            fail(v, seq, "audit.start without a file name");
            return;
        }
        if (!continued && seq != 1) {
            fail(v, seq, "audit.start says chain \"new\" at seq %lld (a new chain starts at 1)",
                 (long long)seq);
            return;
        }
    }
    if (!v->have_prev) {
        if (seq == 1) {
            if (!gh_slice_eq_cstr(prev, ZERO_HASH)) {
                fail(v, seq, "first record (seq 1) has a prev that is not 64 zeros");
                return;
            }
        } else if (!(is_start && continued)) {
            fail(v, seq,
                 "chain starts at seq %lld without an audit.start \"continued\" (records before "
                 "it missing)",
                 (long long)seq);
            return;
        }
        v->r.first_seq = (uint64_t)seq;
    } else {
        if ((uint64_t)seq != v->seq + 1) {
            fail(v, seq, "seq %lld after %llu (%s)", (long long)seq, (unsigned long long)v->seq,
                 (uint64_t)seq > v->seq ? "deleted or reordered" : "duplicated or reordered");
            return;
        }
        if (!gh_slice_eq_cstr(prev, v->prev)) {
            fail(v, seq, "prev hash does not match record %llu (edited, deleted or inserted)",
                 (unsigned long long)v->seq);
            return;
        }
    }
    if (is_cp && !check_checkpoint(v, &d, seq, prev))
        return;

    unsigned char h[32];
    gh_sha256(p, n, h);
    gh_hex_encode(h, 32, v->prev);
    v->have_prev = true;
    v->seq = (uint64_t)seq;
    v->r.records++;
    v->file_records++;
    v->file_last_cp = is_cp;
    if (is_cp) {
        v->since_cp = 0;
        v->start_since_cp = false;
        v->any_cp = true;
    } else {
        v->since_cp++;
    }
    if (is_start) {
        v->since_start = 1;
        v->start_since_cp = true;
    } else {
        v->since_start++;
    }
}

static void end_file(struct gh_audit_verifier *v)
{
    if (!v->in_file)
        return;
    v->in_file = false;
    bool torn = v->part.len > 0;
    if (v->done)
        return;
    if (torn) {
        v->torn_count++;
        copy_name(v->torn_file, v->file);
        v->torn_line = v->line + 1;
        v->torn_bytes = v->part.len;
        v->r.torn_tail = true;
    }
    gh_buf_clear(&v->part);
    /* A crash (torn tail) is why a writer moves a file aside without its checkpoint; otherwise a
     * file followed by another must end with the checkpoint written at rotation. The chain check
     * of the next file's first record covers the crash case. */
    if (v->file_records > 0 && !v->file_last_cp && !torn) {
        v->boundary = true;
        copy_name(v->bfile, v->file);
        v->bline = v->line + 1;
        v->bseq = v->seq + 1;
    } else if (v->file_records > 0) {
        v->boundary = false;
    }
}

enum gh_rc gh_audit_verifier_new(const unsigned char *pub, struct gh_audit_verifier **out)
{
    *out = NULL;
    struct gh_audit_verifier *v = gh_xcalloc(1, sizeof(*v));
    if (pub) {
        v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
        if (!v->pkey) {
            free(v);
            return GH_E_PARSE;
        }
        char x[48], jwk[128];
        size_t xn = gh_b64url_encode(pub, 32, x);
        x[xn] = '\0';
        int n = snprintf(jwk, sizeof(jwk), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
        unsigned char h[32];
        gh_sha256(jwk, (size_t)n, h);
        size_t kn = gh_b64url_encode(h, 32, v->kid);
        v->kid[kn] = '\0';
    }
    v->arena = gh_arena_new(16384);
    gh_buf_init(&v->part, GH_AUDIT_VERIFY_LINE_MAX);
    *out = v;
    return GH_OK;
}

void gh_audit_verifier_begin_file(struct gh_audit_verifier *v, const char *name)
{
    end_file(v);
    copy_name(v->file, name);
    v->in_file = true;
    v->line = 0;
    v->file_records = 0;
    v->file_last_cp = false;
}

void gh_audit_verifier_feed(struct gh_audit_verifier *v, const char *data, size_t len)
{
    if (!v->in_file)
        gh_audit_verifier_begin_file(v, "<buffer>");
    while (len && !v->done) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        if (v->part.len || !nl) {
            if (v->part.len + seg > GH_AUDIT_VERIFY_LINE_MAX) {
                v->line++;
                if (!boundary_check(v, 0))
                    fail(v, 0, "line too long (more than %u bytes)", GH_AUDIT_VERIFY_LINE_MAX);
                return;
            }
            if (gh_buf_append(&v->part, data, seg) != GH_OK)
                gh_bug(__FILE__, __LINE__, "audit verify: line buffer");
            if (!nl)
                return;
            process_line(v, v->part.data, v->part.len);
            gh_buf_clear(&v->part);
        } else {
            process_line(v, data, seg);
        }
        data += seg + 1;
        len -= seg + 1;
    }
}

/* Appends "; note" (or the first note) to the result's info. */
__attribute__((format(printf, 2, 3))) static void note(struct gh_audit_verify_result *r,
                                                       const char *fmt, ...)
{
    size_t n = strlen(r->info);
    if (n && n + 2 < sizeof(r->info)) {
        memcpy(r->info + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->info + n, sizeof(r->info) - n, fmt, ap);
    va_end(ap);
}

bool gh_audit_verifier_finish(struct gh_audit_verifier *v, struct gh_audit_verify_result *out)
{
    end_file(v);
    struct gh_audit_verify_result *r = &v->r;
    if (!v->done) {
        r->ok = true;
        r->first_bad_seq = 0;
        r->why[0] = '\0';
        r->file[0] = '\0';
        r->line = 0;
        r->uncovered = v->since_cp;
        if (v->torn_count) {
            copy_name(r->file, v->torn_file);
            r->line = v->torn_line;
            note(r, "torn tail: %s:%llu, %zu bytes not verified%s", v->torn_file,
                 (unsigned long long)v->torn_line, v->torn_bytes,
                 v->torn_count > 1 ? " (and earlier ones)" : "");
        }
        if (r->uncovered && v->any_cp)
            note(r, "%llu record%s after the last checkpoint %s not yet covered by a signature",
                 (unsigned long long)r->uncovered, r->uncovered == 1 ? "" : "s",
                 r->uncovered == 1 ? "is" : "are");
        else if (r->uncovered)
            note(r, "no checkpoint: %llu record%s not covered by a signature",
                 (unsigned long long)r->uncovered, r->uncovered == 1 ? " is" : "s are");
        if (r->unchecked)
            note(r, "%llu checkpoint signature%s not checked (no key)",
                 (unsigned long long)r->unchecked, r->unchecked == 1 ? "" : "s");
        if (r->first_seq > 1)
            note(r, "the chain continues from seq %llu (earlier files not given)",
                 (unsigned long long)r->first_seq);
    }
    *out = *r;
    return r->ok;
}

void gh_audit_verifier_free(struct gh_audit_verifier *v)
{
    if (!v)
        return;
    EVP_PKEY_free(v->pkey);
    gh_arena_free(v->arena);
    gh_buf_release(&v->part);
    free(v);
}

enum gh_rc gh_audit_verify_buffer(const char *data, size_t len, const unsigned char *pub,
                                  struct gh_audit_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    struct gh_audit_verifier *v;
    if (gh_audit_verifier_new(pub, &v) != GH_OK) {
        snprintf(out->why, sizeof(out->why), "not a usable Ed25519 public key");
        return GH_E_PARSE;
    }
    gh_audit_verifier_begin_file(v, "<buffer>");
    gh_audit_verifier_feed(v, data, len);
    gh_audit_verifier_finish(v, out);
    gh_audit_verifier_free(v);
    return GH_OK;
}

enum gh_rc gh_audit_verify_files(const char *const *paths, size_t n, const unsigned char *pub,
                                 struct gh_audit_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0) {
        snprintf(out->why, sizeof(out->why), "no files");
        return GH_E_PARSE;
    }
    struct gh_audit_verifier *v;
    if (gh_audit_verifier_new(pub, &v) != GH_OK) {
        snprintf(out->why, sizeof(out->why), "not a usable Ed25519 public key");
        return GH_E_PARSE;
    }
    char *buf = gh_xmalloc(READ_CHUNK);
    enum gh_rc rc = GH_OK;
    int err = 0;
    for (size_t i = 0; i < n && rc == GH_OK; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = GH_E_IO;
            err = errno;
        } else {
            gh_audit_verifier_begin_file(v, paths[i]);
            for (;;) {
                ssize_t r = read(fd, buf, READ_CHUNK);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0) {
                    rc = GH_E_IO;
                    err = errno;
                }
                if (r <= 0)
                    break;
                gh_audit_verifier_feed(v, buf, (size_t)r);
            }
            close(fd);
        }
        if (rc != GH_OK) {
            memset(out, 0, sizeof(*out));
            copy_name(out->file, paths[i]);
            snprintf(out->why, sizeof(out->why), "cannot read: %s", strerror(err));
        }
    }
    if (rc == GH_OK)
        gh_audit_verifier_finish(v, out);
    free(buf);
    gh_audit_verifier_free(v);
    return rc;
}
