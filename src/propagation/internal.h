/* propagation/internal.h: what the propagation files share. */
#ifndef GH_PROPAGATION_INTERNAL_H
#define GH_PROPAGATION_INTERNAL_H

#include "propagation/propagation.h"

#include <openssl/evp.h>
#include <pthread.h>

#define GH_PROP_KEYS_MAX 8

struct gh_prop__key {
    EVP_PKEY *pkey;
    bool ed;            /* Ed25519 (EdDSA), else P-256 (ES256) */
    char kid[44];       /* RFC 7638 thumbprint, base64url */
    char jwk[400];      /* the public JWK as published */
    int64_t retired_at; /* wall seconds; 0 while it signs or when configured */
};

struct gh_prop_upstream {
    enum gh_prop_mode mode;
    char *audience;
    char *resource; /* the upstream's URL (RFC 8707), "" for stdio */
    char **scopes;  /* ceiling; NULL = the caller's scopes as they are */
    size_t nscopes;
    int64_t ttl_s;
    struct gh_http_header headers[GH_PROP_MAX_HEADERS]; /* names and values owned */
    size_t nheaders;
    enum gh_prop_inspect inspect;
    char *redact[GH_PROP_MAX_REDACTIONS]; /* JSON Pointers into params.arguments, owned */
    size_t nredact;
    char *redact_results[GH_PROP_MAX_REDACTIONS]; /* JSON Pointers into a response's result */
    size_t nredact_results;
    char *name;
};

struct gh_prop {
    char *issuer;
    struct gh_prop_upstream *ups; /* one per configured upstream, same index */
    size_t nups;
    pthread_mutex_t mu; /* keys */
    struct gh_prop__key *keys[GH_PROP_KEYS_MAX];
    size_t nkeys;
    bool generated; /* keys made here (rotated) rather than configured */
    uint64_t rotate_s;
    int64_t rotated_at;
    bool signs;
    struct gh_prop__exchanger *xchg; /* propagation.token_exchange, or NULL */
};

struct gh_prop__key *gh_prop__key_generate(void);
struct gh_prop__key *gh_prop__key_load(const char *pem, size_t len);
void gh_prop__key_free(struct gh_prop__key *k);
/** A copy of the current signing key with its own reference to pkey (EVP_PKEY_free after). */
bool gh_prop__signer(struct gh_prop *p, struct gh_prop__key *out);
/** header.payload.signature over payload JSON with JOSE typ (malloc'ed), NULL on failure. */
char *gh_prop__sign_jwt(const struct gh_prop__key *k, const char *typ, const char *payload,
                        size_t n);

/** Reads an env:NAME / file:/path reference (never a literal) into *out (malloc'ed, trimmed). */
enum gh_rc gh_prop__ref_read(const struct gh_config_node *n, char **out, size_t *len,
                             struct gh_config_error *err);
/** The caller's scopes narrowed to u's ceiling, space-separated, appended to b. */
void gh_prop__scopes_put(struct gh_buf *b, const struct gh_prop_upstream *u,
                         const struct gh_prop_subject *s);

/* token exchange (exchange.c) */
struct gh_prop__exchanger;
enum gh_rc gh_prop__exchanger_compile(struct gh_prop *p, const struct gh_config_node *v,
                                      struct gh_config_error *err);
void gh_prop__exchanger_free(struct gh_prop__exchanger *x);

#endif
