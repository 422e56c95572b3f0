/*
 * fuzz/fuzz_audit_verify.c: the audit trail verifier (src/audit/verify.c) on hostile files.
 *
 * The input is one audit file, after template expansion so mutations reach the checks behind
 * the hash chain and the signatures: in each line, "$PREV" becomes the SHA-256 hex of the
 * previous (expanded) line (64 zeros on the first), "$KID" the thumbprint of an Ed25519 key
 * generated at start-up, and "$SIG" that key's signature over the checkpoint message for the
 * line's "seq" and its prev. Lines without markers are taken as they are.
 * Invariants checked: a verdict is consistent (ok iff no why, a problem has a line and a seq);
 * records never exceed the newlines; no checkpoint counts as verified without a key; whatever
 * passes with the key passes without it; feeding the same bytes in uneven chunks gives the same
 * result as one buffer. GH_FUZZ_VERBOSE=1 prints the verdicts.
 */
#include "core/core.h"
#include "audit/audit.h"

#include <openssl/evp.h>
#include <stdio.h>

#define INPUT_MAX (1u << 20)

static EVP_PKEY *KEY;
static unsigned char PUB[32];
static char KID[44];
static bool VERBOSE;

static void init(void)
{
    KEY = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t n = sizeof(PUB);
    if (!KEY || EVP_PKEY_get_raw_public_key(KEY, PUB, &n) != 1)
        abort();
    char x[48], jwk[128];
    x[gh_b64url_encode(PUB, 32, x)] = '\0';
    int l = snprintf(jwk, sizeof(jwk), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    unsigned char h[32];
    gh_sha256(jwk, (size_t)l, h);
    KID[gh_b64url_encode(h, 32, KID)] = '\0';
    VERBOSE = getenv("GH_FUZZ_VERBOSE") != NULL;
}

static void sign(const char *line, size_t n, const char prev[65], struct gh_buf *out)
{
    const char *q = memmem(line, n, "\"seq\":", 6);
    unsigned long long seq = 0;
    for (q = q ? q + 6 : line + n; q < line + n && *q >= '0' && *q <= '9' && seq < 1000000000; q++)
        seq = seq * 10 + (unsigned)(*q - '0');
    char msg[160], sig[100];
    int m = snprintf(msg, sizeof(msg), "gatehouse-audit-checkpoint:v1:%llu:%s", seq, prev);
    unsigned char raw[64];
    size_t rl = sizeof(raw);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, KEY, NULL) != 1 ||
        EVP_DigestSign(md, raw, &rl, (const unsigned char *)msg, (size_t)m) != 1)
        abort();
    EVP_MD_CTX_free(md);
    sig[gh_b64url_encode(raw, rl, sig)] = '\0';
    gh_buf_puts(out, sig);
}

/* One line with its markers replaced, appended to out. */
static void expand_line(const char *p, size_t n, const char prev[65], struct gh_buf *out)
{
    size_t i = 0;
    while (i < n) {
        const char *d = memchr(p + i, '$', n - i);
        if (!d) {
            gh_buf_append(out, p + i, n - i);
            return;
        }
        gh_buf_append(out, p + i, (size_t)(d - p) - i);
        size_t rest = n - (size_t)(d - p);
        if (rest >= 5 && memcmp(d, "$PREV", 5) == 0) {
            gh_buf_append(out, prev, 64);
            i = (size_t)(d - p) + 5;
        } else if (rest >= 4 && memcmp(d, "$KID", 4) == 0) {
            gh_buf_puts(out, KID);
            i = (size_t)(d - p) + 4;
        } else if (rest >= 4 && memcmp(d, "$SIG", 4) == 0) {
            sign(p, n, prev, out);
            i = (size_t)(d - p) + 4;
        } else {
            gh_buf_append(out, "$", 1);
            i = (size_t)(d - p) + 1;
        }
    }
}

static void expand(const char *in, size_t len, struct gh_buf *out)
{
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(in + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - in) - i : len - i;
        size_t start = out->len;
        expand_line(in + i, n, prev, out);
        unsigned char h[32];
        gh_sha256(out->len > start ? out->data + start : "", out->len - start, h);
        gh_hex_encode(h, 32, prev);
        if (nl)
            gh_buf_append(out, "\n", 1);
        i += n + 1;
    }
}

static void check(const struct gh_audit_verify_result *r, size_t newlines)
{
    if (r->ok != (r->why[0] == '\0') || r->ok != (r->first_bad_seq == 0))
        abort();
    if (!r->ok && r->line == 0)
        abort();
    if (r->records > newlines || r->checkpoints + r->unchecked > r->records)
        abort();
    if (r->ok && r->uncovered > r->records)
        abort();
}

static bool same(const struct gh_audit_verify_result *a, const struct gh_audit_verify_result *b)
{
    return a->ok == b->ok && a->records == b->records && a->checkpoints == b->checkpoints &&
           a->first_bad_seq == b->first_bad_seq && a->line == b->line &&
           a->torn_tail == b->torn_tail && a->unchecked == b->unchecked &&
           a->uncovered == b->uncovered && strcmp(a->why, b->why) == 0 &&
           strcmp(a->file, b->file) == 0 && strcmp(a->info, b->info) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!KEY)
        init();
    if (size > INPUT_MAX)
        return 0;
    struct gh_buf b;
    gh_buf_init(&b, (size_t)INPUT_MAX * 4);
    expand((const char *)data, size, &b);
    const char *text = b.data ? b.data : "";
    size_t newlines = 0;
    for (size_t i = 0; i < b.len; i++)
        newlines += text[i] == '\n';

    struct gh_audit_verify_result with, without, chunked;
    if (gh_audit_verify_buffer(text, b.len, PUB, &with) != GH_OK ||
        gh_audit_verify_buffer(text, b.len, NULL, &without) != GH_OK)
        abort();
    check(&with, newlines);
    check(&without, newlines);
    if (without.checkpoints != 0 || (with.ok && !without.ok))
        abort();

    /* uneven chunks: 1 byte, then growing pieces */
    struct gh_audit_verifier *v;
    if (gh_audit_verifier_new(PUB, &v) != GH_OK)
        abort();
    gh_audit_verifier_begin_file(v, "<buffer>");
    size_t off = 0, step = 1;
    while (off < b.len) {
        size_t n = GH_MIN(step, b.len - off);
        gh_audit_verifier_feed(v, text + off, n);
        off += n;
        step = step * 3 + 1;
    }
    gh_audit_verifier_finish(v, &chunked);
    gh_audit_verifier_free(v);
    if (!same(&with, &chunked))
        abort();

    if (VERBOSE)
        fprintf(stderr, "key: %s %s | no key: %s %s\n", with.ok ? "ok" : "bad",
                with.ok ? with.info : with.why, without.ok ? "ok" : "bad",
                without.ok ? without.info : without.why);
    gh_buf_release(&b);
    return 0;
}
