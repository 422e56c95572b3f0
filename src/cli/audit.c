/*
 * cli/audit.c owns the audit subcommands: `gatehouse audit verify [--key PUB] FILE...` checks an
 * audit trail (hash chain, seq, signed checkpoints, rotation; src/audit/FORMAT.md) and prints one
 * line: the verdict with its notes, or the first problem as file:line. Exit 0 intact, 1 tampered
 * or broken, 2 usage or I/O.
 */
#include "core/core.h"
#include "audit/audit.h"
#include "cli/cli.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#define KEY_FILE_MAX (64u << 10)

static void usage(FILE *f)
{
    fputs("usage: gatehouse audit export --format ocsf FILE...\n"
          "  every native record of the FILEs as one OCSF 1.3.0 event per line on stdout\n"
          "       gatehouse audit verify [--key PUB] FILE...\n"
          "  FILEs in chain order (rotated ones first, the live file last); PUB: the Ed25519\n"
          "  public key (PEM, or the raw 32 bytes base64url on one line) checkpoints are signed\n"
          "  with; without it signatures are not checked\n",
          f);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* PUB: a PEM public key, or the raw key base64url on one line. Prints why on failure. */
static bool load_key(const char *path, unsigned char pub[32])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gatehouse: --key %s: cannot open: %s\n", path, strerror(errno));
        return false;
    }
    char *buf = gh_xmalloc(KEY_FILE_MAX + 1);
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    fclose(f);
    bool ok = false;
    if (n > KEY_FILE_MAX) {
        fprintf(stderr, "gatehouse: --key %s: too large for a key\n", path);
    } else if (memmem(buf, n, "-----BEGIN", 10)) {
        BIO *bio = BIO_new_mem_buf(buf, (int)n);
        EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        size_t pl = 32;
        if (k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 &&
            EVP_PKEY_get_raw_public_key(k, pub, &pl) == 1 && pl == 32)
            ok = true;
        else if (memmem(buf, n, "PRIVATE KEY", 11))
            fprintf(stderr,
                    "gatehouse: --key %s: a private key; give its public half (openssl pkey -in "
                    "KEY -pubout)\n",
                    path);
        else
            fprintf(stderr, "gatehouse: --key %s: not a PEM Ed25519 public key\n", path);
        EVP_PKEY_free(k);
        BIO_free(bio);
    } else {
        struct gh_slice s = gh_slice(buf, n);
        while (s.len && is_space(s.ptr[0]))
            s.ptr++, s.len--;
        while (s.len && is_space(s.ptr[s.len - 1]))
            s.len--;
        size_t out = 0;
        if (gh_b64url_decode(s.ptr, s.len, pub, 32, &out) == GH_OK && out == 32)
            ok = true;
        else
            fprintf(stderr,
                    "gatehouse: --key %s: want a PEM Ed25519 public key or the raw 32-byte key "
                    "base64url\n",
                    path);
    }
    free(buf);
    return ok;
}

static int verify(int argc, char **argv)
{
    const char *key = NULL;
    int i = 3;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strncmp(argv[i], "--key=", 6) == 0) {
            key = argv[i] + 6;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "gatehouse: audit verify: unknown or incomplete option '%s'\n",
                    argv[i]);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    unsigned char pub[32];
    if (key && !load_key(key, pub))
        return 2;
    struct gh_audit_verify_result r;
    enum gh_rc rc = gh_audit_verify_files((const char *const *)argv + i, (size_t)(argc - i),
                                          key ? pub : NULL, &r);
    if (rc == GH_E_IO) {
        fprintf(stderr, "gatehouse: %s: %s\n", r.file, r.why);
        return 2;
    }
    if (rc != GH_OK) {
        fprintf(stderr, "gatehouse: audit verify: %s\n", r.why);
        return 2;
    }
    if (r.ok) {
        printf("ok: %llu record%s, %llu checkpoint%s verified%s%s%s\n",
               (unsigned long long)r.records, r.records == 1 ? "" : "s",
               (unsigned long long)r.checkpoints, r.checkpoints == 1 ? "" : "s",
               r.info[0] ? " (" : "", r.info, r.info[0] ? ")" : "");
        return 0;
    }
    printf("%s:%llu: record %s%llu: %s\n", r.file, (unsigned long long)r.line,
           r.bad_is_position ? "#" : "seq ", (unsigned long long)r.first_bad_seq, r.why);
    return 1;
}

/* `audit export --format ocsf FILE...`: native lines in, OCSF events out; a line that is no
 * record (a torn tail) is reported on stderr and skipped. */
static int export_ocsf(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[3], "--format") != 0 || strcmp(argv[4], "ocsf") != 0) {
        usage(stderr);
        return 2;
    }
    int rc = 0;
    struct gh_buf out;
    gh_buf_init(&out, 8u << 20);
    for (int i = 5; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            fprintf(stderr, "gatehouse: %s: %s\n", argv[i], strerror(errno));
            rc = 2;
            continue;
        }
        char *line = NULL;
        size_t cap = 0, n = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            n++;
            gh_buf_clear(&out);
            if (gh_audit_ocsf_from_native(line, (size_t)len, &out) != GH_OK) {
                fprintf(stderr, "gatehouse: %s:%zu: not an audit record, skipped\n", argv[i], n);
                rc = 1;
                continue;
            }
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        }
        free(line);
        fclose(f);
    }
    gh_buf_release(&out);
    return rc;
}

int gh_cli_audit(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "export") == 0)
        return export_ocsf(argc, argv);
    if (argc >= 3 && strcmp(argv[2], "verify") == 0)
        return verify(argc, argv);
    usage(stderr);
    return 2;
}
