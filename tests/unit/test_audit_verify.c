/* Unit tests for audit/verify.c: chains built here per src/audit/FORMAT.md (hashed with OpenSSL's
 * SHA-256, checkpoints signed with an Ed25519 key generated at start-up), then tampered with:
 * edits, deletions, insertions, swaps, truncation before and after checkpoints and across
 * rotated files, torn tails, bad and foreign signatures, garbage and duplicate members. Each
 * case checks the first bad seq, its line and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "audit/audit.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#define MAXL 64

static EVP_PKEY *KEY, *OTHER;
static unsigned char PUB[32], OTHER_PUB[32];
static char KID[44], OTHER_KID[44];

struct chain {
    char *line[MAXL];
    size_t n;
    uint64_t seq;
    char prev[65];
    uint64_t since_cp;
    EVP_PKEY *key; /* signs checkpoints; NULL: "kid":null,"sig":null */
    const char *kid;
};

static void sha256_hex(const char *p, size_t n, char out[65])
{
    unsigned char h[32];
    unsigned int hl = 32;
    assert_int_equal(EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL), 1);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[h[i] >> 4];
        out[2 * i + 1] = hx[h[i] & 15];
    }
    out[64] = '\0';
}

static void kid_of(const unsigned char pub[32], char out[44])
{
    char x[48], jwk[128], h[65];
    x[gh_b64url_encode(pub, 32, x)] = '\0';
    int n = snprintf(jwk, sizeof(jwk), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x);
    unsigned char d[32];
    unsigned int dl = 32;
    assert_int_equal(EVP_Digest(jwk, (size_t)n, d, &dl, EVP_sha256(), NULL), 1);
    (void)h;
    out[gh_b64url_encode(d, 32, out)] = '\0';
}

static int setup(void **state)
{
    (void)state;
    KEY = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    OTHER = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t n = 32, m = 32;
    if (!KEY || !OTHER || EVP_PKEY_get_raw_public_key(KEY, PUB, &n) != 1 ||
        EVP_PKEY_get_raw_public_key(OTHER, OTHER_PUB, &m) != 1)
        return -1;
    kid_of(PUB, KID);
    kid_of(OTHER_PUB, OTHER_KID);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(KEY);
    EVP_PKEY_free(OTHER);
    return 0;
}

static void chain_init(struct chain *c)
{
    memset(c, 0, sizeof(*c));
    memset(c->prev, '0', 64);
    c->key = KEY;
    c->kid = KID;
}

static void chain_free(struct chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->line[i]);
    c->n = 0;
}

/* Appends one record (members without braces, may be "") and advances the chain. */
static void add(struct chain *c, const char *type, const char *members)
{
    assert_true(c->n < MAXL);
    char buf[4096];
    c->seq++;
    int n = snprintf(buf, sizeof(buf),
                     "{\"v\":1,\"seq\":%llu,\"time\":\"2026-12-05T08:20:00.%06lluZ\",\"type\":"
                     "\"%s\",\"prev\":\"%s\",\"gateway\":\"0123456789abcdef\"%s%s}",
                     (unsigned long long)c->seq, (unsigned long long)c->seq, type, c->prev,
                     members[0] ? "," : "", members);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    sha256_hex(buf, (size_t)n, c->prev);
    c->line[c->n++] = gh_xstrdup(buf);
    c->since_cp++;
}

static void start(struct chain *c, bool continued)
{
    char m[128];
    snprintf(m, sizeof(m), "\"chain\":\"%s\",\"file\":\"audit.jsonl\"",
             continued ? "continued" : "new");
    add(c, "audit.start", m);
}

static void decision(struct chain *c, const char *effect)
{
    char m[512];
    snprintf(m, sizeof(m),
             "\"rid\":\"00112233445566%02llx\",\"principal\":{\"iss\":\"https://idp\",\"sub\":"
             "\"alice\"},\"action\":{\"method\":\"tools/call\",\"upstream\":\"fs\",\"name\":"
             "\"read\",\"arguments_digest\":null},\"decision\":{\"effect\":\"%s\",\"rule\":"
             "\"r1\",\"policy\":\"p\",\"reason\":\"matched\"}",
             (unsigned long long)(c->seq & 0xff), effect);
    add(c, "request.decision", m);
}

static void sign(EVP_PKEY *k, const char *msg, char out[100])
{
    unsigned char sig[64];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, k, NULL), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sl, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(md);
    out[gh_b64url_encode(sig, sl, out)] = '\0';
}

static void checkpoint(struct chain *c)
{
    char m[512], msg[160], sig[100];
    snprintf(msg, sizeof(msg), "gatehouse-audit-checkpoint:v1:%llu:%s",
             (unsigned long long)c->seq + 1, c->prev);
    if (c->key) {
        sign(c->key, msg, sig);
        snprintf(m, sizeof(m),
                 "\"checkpoint\":{\"count\":%llu,\"head\":\"%s\",\"kid\":\"%s\",\"sig\":\"%s\"}",
                 (unsigned long long)c->since_cp, c->prev, c->kid, sig);
    } else {
        snprintf(m, sizeof(m),
                 "\"checkpoint\":{\"count\":%llu,\"head\":\"%s\",\"kid\":null,\"sig\":null}",
                 (unsigned long long)c->since_cp, c->prev);
    }
    add(c, "audit.checkpoint", m);
    c->since_cp = 0;
}

/* Lines [from, to) joined, each with its newline. Caller frees. */
static char *join(const struct chain *c, size_t from, size_t to, size_t *len)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        n += strlen(c->line[i]) + 1;
    char *out = gh_xmalloc(n + 1), *p = out;
    for (size_t i = from; i < to; i++) {
        size_t l = strlen(c->line[i]);
        memcpy(p, c->line[i], l);
        p[l] = '\n';
        p += l + 1;
    }
    *p = '\0';
    *len = n;
    return out;
}

static void verify(const struct chain *c, const unsigned char *pub,
                   struct gh_audit_verify_result *r)
{
    size_t len;
    char *text = join(c, 0, c->n, &len);
    assert_int_equal(gh_audit_verify_buffer(text, len, pub, r), GH_OK);
    /* the same fed a byte at a time: partial lines across feeds give the same verdict */
    struct gh_audit_verifier *v;
    struct gh_audit_verify_result r2;
    assert_int_equal(gh_audit_verifier_new(pub, &v), GH_OK);
    gh_audit_verifier_begin_file(v, "<buffer>");
    for (size_t i = 0; i < len; i++)
        gh_audit_verifier_feed(v, text + i, 1);
    gh_audit_verifier_finish(v, &r2);
    gh_audit_verifier_free(v);
    assert_memory_equal(r, &r2, sizeof(r2));
    free(text);
}

static void expect_bad(const struct gh_audit_verify_result *r, uint64_t seq, uint64_t line,
                       const char *why)
{
    if (r->ok || r->first_bad_seq != seq || r->line != line || !strstr(r->why, why))
        fail_msg("want seq %llu line %llu \"%s\", got ok %d seq %llu line %llu \"%s\"",
                 (unsigned long long)seq, (unsigned long long)line, why, r->ok,
                 (unsigned long long)r->first_bad_seq, (unsigned long long)r->line, r->why);
}

/* 1 start, 2..4 decisions, 5 checkpoint, 6..7 decisions, 8 checkpoint (shutdown). */
static void standard(struct chain *c)
{
    chain_init(c);
    start(c, false);
    decision(c, "allow");
    decision(c, "allow");
    decision(c, "deny");
    checkpoint(c);
    decision(c, "allow");
    decision(c, "allow");
    checkpoint(c);
}

static void replace_line(struct chain *c, size_t i, const char *text)
{
    free(c->line[i]);
    c->line[i] = gh_xstrdup(text);
}

/* Replaces the first occurrence of from by to in line i (same or other length). */
static void edit(struct chain *c, size_t i, const char *from, const char *to)
{
    char *p = strstr(c->line[i], from);
    assert_non_null(p);
    char buf[8192];
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - c->line[i]), c->line[i], to, p + strlen(from));
    replace_line(c, i, buf);
}

static void delete_line(struct chain *c, size_t i)
{
    free(c->line[i]);
    memmove(&c->line[i], &c->line[i + 1], (c->n - i - 1) * sizeof(char *));
    c->n--;
}

static void insert_line(struct chain *c, size_t i, const char *text)
{
    memmove(&c->line[i + 1], &c->line[i], (c->n - i) * sizeof(char *));
    c->line[i] = gh_xstrdup(text);
    c->n++;
}

/* What an attacker without the key can do: recompute every prev (and checkpoint head) from line
 * i on, so the hash chain is whole again. */
static void rechain(struct chain *c, size_t from)
{
    char h[65];
    for (size_t i = from; i < c->n; i++) {
        if (i == 0)
            memset(h, '0', 64), h[64] = '\0';
        else
            sha256_hex(c->line[i - 1], strlen(c->line[i - 1]), h);
        char *p = strstr(c->line[i], "\"prev\":\"");
        memcpy(p + 8, h, 64);
        if ((p = strstr(c->line[i], "\"head\":\"")))
            memcpy(p + 8, h, 64);
    }
}

static void intact_chain_ok(void **state)
{
    (void)state;
    struct chain c;
    standard(&c);
    struct gh_audit_verify_result r;
    verify(&c, PUB, &r);
    assert_true(r.ok);
    assert_int_equal(r.records, 8);
    assert_int_equal(r.checkpoints, 2);
    assert_int_equal(r.unchecked, 0);
    assert_int_equal(r.uncovered, 0);
    assert_int_equal(r.first_bad_seq, 0);
    assert_false(r.torn_tail);
    assert_string_equal(r.why, "");
    assert_string_equal(r.info, "");
    /* without a key: the chain is checked, the signatures only counted */
    verify(&c, NULL, &r);
    assert_true(r.ok);
    assert_int_equal(r.checkpoints, 0);
    assert_int_equal(r.unchecked, 2);
    assert_non_null(strstr(r.info, "2 checkpoint signatures not checked"));
    /* records after the last checkpoint: ok, and said */
    decision(&c, "allow");
    decision(&c, "deny");
    decision(&c, "allow");
    verify(&c, PUB, &r);
    assert_true(r.ok);
    assert_int_equal(r.records, 11);
    assert_int_equal(r.uncovered, 3);
    assert_non_null(
        strstr(r.info, "3 records after the last checkpoint are not yet covered by a signature"));
    chain_free(&c);

    /* no checkpoint at all, and the empty file */
    chain_init(&c);
    start(&c, false);
    decision(&c, "allow");
    verify(&c, PUB, &r);
    assert_true(r.ok);
    assert_int_equal(r.uncovered, 2);
    assert_non_null(strstr(r.info, "no checkpoint: 2 records"));
    chain_free(&c);
    assert_int_equal(gh_audit_verify_buffer("", 0, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_int_equal(r.records, 0);
}

/* An edited record keeps its own prev, so it is its successor whose prev no longer matches:
 * first_bad_seq is the edited record's seq + 1, the line is the successor's. */
static void edited_field(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    edit(&c, 3, "\"effect\":\"deny\"", "\"effect\":\"allow\""); /* seq 4 */
    verify(&c, PUB, &r);
    expect_bad(&r, 5, 5, "prev hash does not match record 4 (edited, deleted or inserted)");
    assert_false(r.bad_is_position);
    assert_int_equal(r.records, 4); /* 1..4 passed their own checks */
    chain_free(&c);

    /* editing a record's own prev is caught at that record */
    standard(&c);
    char *pv = strstr(c.line[2], "\"prev\":\"") + 8;
    pv[0] = pv[0] == 'a' ? 'b' : 'a';
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "prev");
    chain_free(&c);

    /* the attacker re-chains everything after the edit: the checkpoint signature is what fails */
    standard(&c);
    edit(&c, 3, "\"effect\":\"deny\"", "\"effect\":\"allow\"");
    rechain(&c, 4);
    verify(&c, PUB, &r);
    expect_bad(&r, 5, 5, "bad checkpoint signature");
    /* ... which a verifier without the key cannot see: the chain itself is whole */
    verify(&c, NULL, &r);
    assert_true(r.ok);
    chain_free(&c);

    /* an edit of the last record after the last checkpoint is undetectable (nothing follows) */
    standard(&c);
    decision(&c, "deny");
    edit(&c, 8, "\"effect\":\"deny\"", "\"effect\":\"allow\"");
    verify(&c, PUB, &r);
    assert_true(r.ok);
    assert_int_equal(r.uncovered, 1);
    chain_free(&c);

    /* the record right before a checkpoint: the checkpoint's prev (and head) catch it */
    standard(&c);
    edit(&c, 6, "\"effect\":\"allow\"", "\"effect\":\"deny\""); /* seq 7 */
    verify(&c, PUB, &r);
    expect_bad(&r, 8, 8, "prev hash does not match record 7");
    chain_free(&c);
}

static void deleted_record(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    delete_line(&c, 2); /* seq 3 */
    verify(&c, PUB, &r);
    expect_bad(&r, 4, 3, "seq 4 after 2 (deleted or reordered)");
    chain_free(&c);

    /* deleted, renumbered and re-chained: the checkpoint count (and signature) catch it */
    standard(&c);
    delete_line(&c, 2);
    for (size_t i = 2; i < c.n; i++) {
        char from[32], to[32];
        snprintf(from, sizeof(from), "\"seq\":%zu,", i + 2);
        snprintf(to, sizeof(to), "\"seq\":%zu,", i + 1);
        edit(&c, i, from, to);
    }
    rechain(&c, 2);
    verify(&c, PUB, &r);
    expect_bad(&r, 4, 4, "checkpoint count 4, but 3 records since the previous checkpoint");
    /* and with the count fixed too, the signature */
    edit(&c, 3, "\"count\":4", "\"count\":3");
    rechain(&c, 4);
    verify(&c, PUB, &r);
    expect_bad(&r, 4, 4, "bad checkpoint signature");
    chain_free(&c);

    /* deleting the first record */
    standard(&c);
    delete_line(&c, 0);
    verify(&c, PUB, &r);
    expect_bad(&r, 2, 1, "chain starts at seq 2 without an audit.start \"continued\"");
    chain_free(&c);
}

static void inserted_record(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    /* a forged seq 4 that chains onto seq 3 correctly, inserted before the real seq 4 */
    char h[65], buf[1024];
    sha256_hex(c.line[2], strlen(c.line[2]), h);
    snprintf(buf, sizeof(buf),
             "{\"v\":1,\"seq\":4,\"time\":\"2026-12-05T08:20:00.000004Z\",\"type\":\"config."
             "reload\",\"prev\":\"%s\",\"gateway\":\"0123456789abcdef\",\"config\":{\"digest\":"
             "\"x\"}}",
             h);
    insert_line(&c, 3, buf);
    verify(&c, PUB, &r);
    expect_bad(&r, 4, 5, "seq 4 after 4 (duplicated or reordered)");
    chain_free(&c);

    /* a replayed copy of a record */
    standard(&c);
    insert_line(&c, 3, c.line[2]);
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 4, "seq 3 after 3");
    chain_free(&c);
}

static void swapped_records(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    char *t = c.line[2];
    c.line[2] = c.line[3];
    c.line[3] = t;
    verify(&c, PUB, &r);
    expect_bad(&r, 4, 3, "seq 4 after 2 (deleted or reordered)");
    chain_free(&c);
}

/* What truncation is detectable: of the newest file, records after the last checkpoint can be
 * cut without a trace (and the checkpoint with them); lines before a checkpoint cannot. */
static void truncation(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    decision(&c, "allow");
    decision(&c, "allow");
    size_t len;
    char *text = join(&c, 0, 8, &len); /* cut right after the checkpoint at seq 8 */
    assert_int_equal(gh_audit_verify_buffer(text, len, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_int_equal(r.records, 8);
    assert_int_equal(r.uncovered, 0);
    free(text);
    text = join(&c, 0, 7, &len); /* the checkpoint cut too: still a valid (shorter) chain */
    assert_int_equal(gh_audit_verify_buffer(text, len, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_int_equal(r.uncovered, 2);
    free(text);
    /* a line cut before a checkpoint */
    delete_line(&c, 5); /* seq 6 */
    verify(&c, PUB, &r);
    expect_bad(&r, 7, 6, "seq 7 after 5 (deleted or reordered)");
    chain_free(&c);
    /* the head cut: no seq-1 start */
    standard(&c);
    delete_line(&c, 0);
    delete_line(&c, 0);
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 1, "chain starts at seq 3");
    chain_free(&c);
}

static void torn_tail(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    decision(&c, "allow");
    size_t len;
    char *text = join(&c, 0, c.n, &len);
    size_t cut = len - 1 - strlen(c.line[c.n - 1]) / 2; /* half of the last line, no newline */
    assert_int_equal(gh_audit_verify_buffer(text, cut, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_true(r.torn_tail);
    assert_int_equal(r.records, 8);
    assert_int_equal(r.line, 9);
    assert_non_null(strstr(r.info, "torn tail: <buffer>:9"));
    /* the whole last line but its newline: still torn, not verified */
    assert_int_equal(gh_audit_verify_buffer(text, len - 1, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_true(r.torn_tail);
    assert_int_equal(r.records, 8);
    /* with its newline: verified */
    assert_int_equal(gh_audit_verify_buffer(text, len, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_false(r.torn_tail);
    assert_int_equal(r.records, 9);
    free(text);
    chain_free(&c);
}

static void bad_signature(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    char *sig = strstr(c.line[4], "\"sig\":\"") + 7;
    sig[3] = sig[3] == 'A' ? 'B' : 'A'; /* still base64url of 64 bytes */
    verify(&c, PUB, &r);
    expect_bad(&r, 5, 5, "bad checkpoint signature");
    chain_free(&c);

    /* a signature over another seq (a checkpoint moved) */
    standard(&c);
    {
        char msg[160], s[100];
        char *head = strstr(c.line[7], "\"head\":\"") + 8;
        snprintf(msg, sizeof(msg), "gatehouse-audit-checkpoint:v1:9:%.64s", head);
        sign(KEY, msg, s);
        char *p = strstr(c.line[7], "\"sig\":\"") + 7;
        memcpy(p, s, strlen(s));
    }
    verify(&c, PUB, &r);
    expect_bad(&r, 8, 8, "bad checkpoint signature");
    chain_free(&c);

    /* malformed sig, kid/sig half null */
    standard(&c);
    edit(&c, 4, "\"sig\":\"", "\"sig\":\"AA");
    verify(&c, PUB, &r);
    expect_bad(&r, 5, 5, "checkpoint sig is not the base64url of 64 bytes");
    chain_free(&c);
    standard(&c);
    edit(&c, 4, "\"kid\":\"", "\"kid\":null,\"x\":\"");
    verify(&c, PUB, &r);
    expect_bad(&r, 5, 5, "checkpoint kid and sig must both be strings");
    chain_free(&c);

    /* unsigned checkpoints (a gateway without audit.key): fine without a key, refused with */
    chain_init(&c);
    c.key = NULL;
    start(&c, false);
    decision(&c, "allow");
    checkpoint(&c);
    verify(&c, NULL, &r);
    assert_true(r.ok);
    assert_int_equal(r.unchecked, 1);
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "checkpoint is not signed");
    chain_free(&c);
}

static void wrong_key(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    verify(&c, OTHER_PUB, &r);
    expect_bad(&r, 5, 5, "checkpoint kid is not the thumbprint of the given key");
    chain_free(&c);
    /* signed with another key under our kid */
    chain_init(&c);
    c.key = OTHER;
    c.kid = KID;
    start(&c, false);
    checkpoint(&c);
    verify(&c, PUB, &r);
    expect_bad(&r, 2, 2, "bad checkpoint signature");
    chain_free(&c);
}

static char *write_tmp(const char *data, size_t len)
{
    char *path = gh_xstrdup("/tmp/gh_test_audit_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* file 1: 1 start, 2..4, 5 checkpoint (rotation); file 2: 6 start continued, 7..8, 9 checkpoint */
static void rotated(struct chain *c)
{
    chain_init(c);
    start(c, false);
    decision(c, "allow");
    decision(c, "deny");
    decision(c, "allow");
    checkpoint(c);
    start(c, true);
    decision(c, "allow");
    decision(c, "allow");
    checkpoint(c);
}

static void verify_files(const struct chain *c, size_t split, size_t end1, size_t from2,
                         struct gh_audit_verify_result *r, char **p1, char **p2)
{
    size_t l1, l2;
    char *t1 = join(c, 0, end1, &l1), *t2 = join(c, from2, c->n, &l2);
    (void)split;
    *p1 = write_tmp(t1, l1);
    *p2 = write_tmp(t2, l2);
    const char *paths[2] = {*p1, *p2};
    assert_int_equal(gh_audit_verify_files(paths, 2, PUB, r), GH_OK);
    free(t1);
    free(t2);
}

static void cleanup(char *p1, char *p2)
{
    unlink(p1);
    unlink(p2);
    free(p1);
    free(p2);
}

static void rotation(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    char *p1, *p2;
    rotated(&c);
    verify_files(&c, 5, 5, 5, &r, &p1, &p2);
    assert_true(r.ok);
    assert_int_equal(r.records, 9);
    assert_int_equal(r.checkpoints, 2);
    assert_int_equal(r.first_seq, 1);
    /* the newer file alone: a continued chain */
    const char *one[1] = {p2};
    assert_int_equal(gh_audit_verify_files(one, 1, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_int_equal(r.records, 4);
    assert_int_equal(r.first_seq, 6);
    assert_non_null(strstr(r.info, "continues from seq 6"));
    /* in the wrong order */
    const char *rev[2] = {p2, p1};
    assert_int_equal(gh_audit_verify_files(rev, 2, PUB, &r), GH_OK);
    expect_bad(&r, 1, 1, "seq 1 after 9");
    assert_string_equal(r.file, p1);
    cleanup(p1, p2);

    /* the older file lost its tail (records 4 and the rotation checkpoint 5) */
    verify_files(&c, 5, 3, 5, &r, &p1, &p2);
    expect_bad(&r, 4, 4,
               "file ends at seq 3 without a checkpoint while a later file follows: "
               "truncated, 2 records missing");
    assert_string_equal(r.file, p1);
    cleanup(p1, p2);
    /* ... only its checkpoint */
    verify_files(&c, 5, 4, 5, &r, &p1, &p2);
    expect_bad(&r, 5, 5, "truncated, 1 record missing");
    cleanup(p1, p2);

    /* a crash: the older file ends in a torn line and was moved aside; the chain goes on from
     * its last complete record (the writer's restart: count since the audit.start) */
    chain_free(&c);
    chain_init(&c);
    start(&c, false);
    decision(&c, "allow");
    checkpoint(&c);
    decision(&c, "allow"); /* 4: the last complete record of the crashed file */
    size_t l1, l2;
    char *t1 = join(&c, 0, 4, &l1);
    t1 = gh_xrealloc(t1, l1 + 20);
    memcpy(t1 + l1, "{\"v\":1,\"seq\":5,\"ti", 18); /* torn */
    l1 += 18;
    c.since_cp = 0; /* the new process counts from its start */
    start(&c, true);
    decision(&c, "deny");
    checkpoint(&c); /* count 2 */
    char *t2 = join(&c, 4, c.n, &l2);
    p1 = write_tmp(t1, l1);
    p2 = write_tmp(t2, l2);
    const char *both[2] = {p1, p2};
    assert_int_equal(gh_audit_verify_files(both, 2, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_true(r.torn_tail);
    assert_int_equal(r.records, 7);
    assert_int_equal(r.checkpoints, 2);
    assert_string_equal(r.file, p1);
    assert_int_equal(r.line, 5);
    cleanup(p1, p2);
    free(t1);
    free(t2);
    chain_free(&c);

    /* a restart in the same file after kill -9: count since the previous checkpoint is fine too,
     * any other count is not */
    chain_init(&c);
    start(&c, false);
    checkpoint(&c);
    decision(&c, "allow");
    decision(&c, "allow");
    start(&c, true);
    decision(&c, "allow");
    checkpoint(&c); /* count 4 since the checkpoint, 2 since the start */
    verify(&c, PUB, &r);
    assert_true(r.ok);
    chain_free(&c);
    chain_init(&c);
    start(&c, false);
    checkpoint(&c);
    decision(&c, "allow");
    decision(&c, "allow");
    start(&c, true);
    decision(&c, "allow");
    c.since_cp = 2;
    checkpoint(&c);
    verify(&c, PUB, &r);
    assert_true(r.ok);
    chain_free(&c);
    chain_init(&c);
    start(&c, false);
    checkpoint(&c);
    decision(&c, "allow");
    decision(&c, "allow");
    start(&c, true);
    decision(&c, "allow");
    c.since_cp = 3;
    checkpoint(&c);
    verify(&c, PUB, &r);
    expect_bad(&r, 7, 7, "checkpoint count 3, but 4 records since the previous checkpoint");
    chain_free(&c);

    /* a missing file */
    const char *none[1] = {"/nonexistent/gh_audit.jsonl"};
    assert_int_equal(gh_audit_verify_files(none, 1, PUB, &r), GH_E_IO);
    assert_false(r.ok);
    assert_string_equal(r.file, "/nonexistent/gh_audit.jsonl");
}

static void garbage_and_shape(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    standard(&c);
    replace_line(&c, 2, "hello");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "not JSON");
    assert_true(r.bad_is_position);
    chain_free(&c);

    standard(&c);
    replace_line(&c, 2, "");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "not JSON");
    chain_free(&c);

    standard(&c);
    replace_line(&c, 2, "[1,2]");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "not a JSON object");
    chain_free(&c);

    standard(&c);
    {
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s ", c.line[2]);
        replace_line(&c, 2, buf);
    }
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "not compact JSON");
    chain_free(&c);

    standard(&c);
    edit(&c, 2, "{\"v\":1,", "{\"v\":2,");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "v is not 1");
    chain_free(&c);

    standard(&c);
    edit(&c, 2, "\"seq\":3,", "\"seq\":\"3\",");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "seq is not a positive integer");
    assert_true(r.bad_is_position);
    chain_free(&c);

    /* common members out of order */
    standard(&c);
    edit(&c, 2, "{\"v\":1,\"seq\":3,", "{\"seq\":3,\"v\":1,");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "common members missing or out of order");
    chain_free(&c);
}

static void duplicate_member(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    /* a record otherwise well chained, with a member twice */
    chain_init(&c);
    start(&c, false);
    add(&c, "request.outcome", "\"rid\":\"0011223344556677\",\"rid\":\"8899aabbccddeeff\"");
    decision(&c, "allow");
    verify(&c, PUB, &r);
    expect_bad(&r, 2, 2, "not JSON: duplicate member name");
    chain_free(&c);
    /* a duplicate common member, after escaping */
    standard(&c);
    edit(&c, 2, "{\"v\":1,", "{\"v\":1,\"\\u0076\":1,");
    verify(&c, PUB, &r);
    expect_bad(&r, 3, 3, "duplicate member name");
    chain_free(&c);
}

static void line_too_long(void **state)
{
    (void)state;
    struct chain c;
    struct gh_audit_verify_result r;
    chain_init(&c);
    start(&c, false);
    size_t len;
    char *head = join(&c, 0, 1, &len);
    size_t big = GH_AUDIT_VERIFY_LINE_MAX + 1;
    char *text = gh_xmalloc(len + big + 1);
    memcpy(text, head, len);
    memset(text + len, 'x', big);
    text[len + big] = '\n';
    assert_int_equal(gh_audit_verify_buffer(text, len + big + 1, PUB, &r), GH_OK);
    expect_bad(&r, 2, 2, "line too long");
    /* the same through a file (read in chunks: the partial-line path) */
    char *p = write_tmp(text, len + big + 1);
    const char *paths[1] = {p};
    assert_int_equal(gh_audit_verify_files(paths, 1, PUB, &r), GH_OK);
    expect_bad(&r, 2, 2, "line too long");
    /* without its newline it is a torn tail: not verified */
    assert_int_equal(gh_audit_verify_buffer(text, len + big - 1, PUB, &r), GH_OK);
    assert_true(r.ok);
    assert_true(r.torn_tail);
    /* a line of exactly the cap is parsed (and is no JSON here) */
    text[len + GH_AUDIT_VERIFY_LINE_MAX] = '\n';
    assert_int_equal(gh_audit_verify_buffer(text, len + GH_AUDIT_VERIFY_LINE_MAX + 1, PUB, &r),
                     GH_OK);
    expect_bad(&r, 2, 2, "not JSON");
    unlink(p);
    free(p);
    free(text);
    free(head);
    chain_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intact_chain_ok),   cmocka_unit_test(edited_field),
        cmocka_unit_test(deleted_record),    cmocka_unit_test(inserted_record),
        cmocka_unit_test(swapped_records),   cmocka_unit_test(truncation),
        cmocka_unit_test(torn_tail),         cmocka_unit_test(bad_signature),
        cmocka_unit_test(wrong_key),         cmocka_unit_test(rotation),
        cmocka_unit_test(garbage_and_shape), cmocka_unit_test(duplicate_member),
        cmocka_unit_test(line_too_long),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
