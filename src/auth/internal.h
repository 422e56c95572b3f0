/* auth/internal.h: what the auth/ files share and nobody else sees. */
#ifndef GH_AUTH_INTERNAL_H
#define GH_AUTH_INTERNAL_H

#include <openssl/evp.h>

/* One public key. Owned by its set (or by gh_auth_jwk_free for a lone key). */
struct gh_auth_jwk {
    enum gh_auth_kty kty;          /* family */
    enum gh_auth_alg alg;          /* the key's own alg, GH_AUTH_ALG_NONE if unset */
    EVP_PKEY *pkey;                /* owned */
    char *kid;                     /* owned copy, NULL when absent */
    size_t kid_len;                /* bytes of kid (may hold NUL from \u0000) */
    char jkt[GH_AUTH_JKT_LEN + 1]; /* RFC 7638 thumbprint, computed at parse time */
};

/* JSON limits for headers and payloads of tokens: tokens are small, so caps are tight. */
extern const struct gh_json_limits gh_auth__tok_limits;

/* Parses the JWK at token index obj of doc into k (zeroed by the caller). On refusal fills
 * err->reason (and auth_reason for private members). */
enum gh_rc gh_auth__jwk_from_doc(const struct gh_json_doc *doc, uint32_t obj, struct gh_arena *a,
                                 struct gh_auth_jwk *k, struct gh_auth_err *err);
/* Frees what k owns, not k itself. */
void gh_auth__jwk_release(struct gh_auth_jwk *k);

/* Family that alg needs. */
enum gh_auth_kty gh_auth__alg_kty(enum gh_auth_alg alg);
/* True for the names HS256/HS384/HS512: symmetric, never verifiable here. */
bool gh_auth__alg_is_hmac(struct gh_slice name);

/* A split compact serialisation. */
struct gh_auth__compact {
    struct gh_slice seg[3];  /* header, payload, signature (base64url text) */
    struct gh_slice signing; /* header.payload: the signed bytes */
};

/* Splits token: GH_AUTH_R_OK, or BAD_FORMAT / JWE_NOT_ALLOWED. */
enum gh_auth_reason gh_auth__split(struct gh_slice token, size_t max, struct gh_auth__compact *c);
/* Decodes segment s (strict base64url) into the arena and parses it as a JSON object. */
enum gh_rc gh_auth__seg_json(struct gh_arena *a, struct gh_slice s, struct gh_json_doc *doc);
/* Header alg to enum with the reason for refusing it (not allowed / HMAC / wrong type). */
enum gh_auth_reason gh_auth__header_alg(const struct gh_json_doc *h,
                                        const struct gh_auth_alg_set *allowed,
                                        enum gh_auth_alg *alg);
/* Checks the JOSE signature sig (base64url text) over signing with key under alg. */
enum gh_auth_reason gh_auth__sig_check(const struct gh_auth_jwk *key, enum gh_auth_alg alg,
                                       struct gh_slice signing, struct gh_slice sig_b64);
/* Optional string member: absent gives {NULL,0} and GH_OK, another type GH_E_PARSE. */
enum gh_rc gh_auth__opt_str(const struct gh_json_doc *d, uint32_t obj, const char *name,
                            struct gh_arena *a, struct gh_slice *out);
/* typ matches want: ASCII case-insensitive, an "application/" prefix on typ allowed. */
bool gh_auth__typ_eq(struct gh_slice typ, struct gh_slice want);

#endif
