/*
 * auth: the JOSE core of the OAuth 2.1 resource server — JWK and JWK Sets, JWS compact
 * verification, JWT access-token claims, DPoP proofs (RFC 9449) and the verified-token cache.
 * No networking here: key sets arrive as bytes, tokens as slices, the clock as an argument.
 *
 * Security rules this module enforces (RFC 8725, security-cases.md §4.1/§4.2):
 *  - the caller's allow-list picks the algorithm, never the token; `none` and HS* never verify;
 *  - the algorithm must match the key family (RS and PS use RSA, ES256 P-256, ES384 P-384, EdDSA
 *    Ed25519) and the key's own `alg` when it has one;
 *  - keys come only from the caller's set: `jwk`, `x5c`, `jku`, `x5u`, `x5t` in a token header
 *    are refused and never fetched; any `crit` is refused (no extension is supported);
 *  - JSON is parsed by json/ (duplicate members rejected); numeric dates are compared in the
 *    double domain, so "exp":1e300 is a type error, never undefined behaviour.
 *
 * Verdicts are enum gh_verdict (GH_DENY = 0) and every denial carries an enum gh_auth_reason,
 * whose zero value is "unspecified" so a zeroed result never reads as success.
 *
 * Memory: key sets and principals are malloc'd and refcounted (they cross threads); results
 * of one verification (decoded header and payload, claims) live in the caller's arena.
 */
#ifndef GH_AUTH_H
#define GH_AUTH_H

#include "core/core.h"
#include "json/json.h"

/** Caps on untrusted input. */
#define GH_AUTH_TOKEN_MAX       16384 /* bytes of a compact JWS (access token) */
#define GH_AUTH_DPOP_MAX        8192  /* bytes of a DPoP proof */
#define GH_AUTH_JWKS_MAX_BYTES  (512u << 10)
#define GH_AUTH_JWKS_MAX_KEYS   64
#define GH_AUTH_RSA_MIN_BITS    2048
#define GH_AUTH_RSA_MAX_BITS    8192
#define GH_AUTH_KID_MAX         256            /* bytes of a kid */
#define GH_AUTH_LIST_MAX        256            /* scopes, groups */
#define GH_AUTH_ACT_MAX         8              /* nested act levels */
#define GH_AUTH_NUMERICDATE_MAX 253402300799.0 /* 9999-12-31T23:59:59Z */
#define GH_AUTH_JKT_LEN         43             /* base64url of a SHA-256 digest */

/** Why a verification was denied (or OK). The string form is gh_auth_reason_str(). */
enum gh_auth_reason {
    GH_AUTH_R_UNSPECIFIED = 0, /* zeroed state: never success */
    GH_AUTH_R_OK = 1,
    GH_AUTH_R_BAD_FORMAT,        /* not three segments, bad base64url, too long */
    GH_AUTH_R_JWE_NOT_ALLOWED,   /* five segments: a JWE where a JWS is expected */
    GH_AUTH_R_HEADER_PARSE,      /* header not JSON, not an object, member of wrong type */
    GH_AUTH_R_PAYLOAD_PARSE,     /* payload not JSON (duplicate member...) or not an object */
    GH_AUTH_R_ALG_NOT_ALLOWED,   /* none, unknown, or not in the caller's allow-list */
    GH_AUTH_R_ALG_KEY_MISMATCH,  /* alg vs key family or key alg; every HS* (no secret keys) */
    GH_AUTH_R_UNKNOWN_KID,       /* no key with that kid (or no unique key without a kid) */
    GH_AUTH_R_EMBEDDED_KEY,      /* jwk or x5c in an access-token header */
    GH_AUTH_R_UNTRUSTED_KEY_REF, /* jku, x5u, x5t, x5t#S256 in an access-token header */
    GH_AUTH_R_CRIT,              /* crit present (no extension is understood) */
    GH_AUTH_R_SIGNATURE,         /* wrong length, r/s out of range, or does not verify */
    GH_AUTH_R_EXPIRED,           /* exp <= now - skew */
    GH_AUTH_R_NOT_YET_VALID,     /* nbf or iat > now + skew */
    GH_AUTH_R_ISSUER,            /* iss missing or not exactly the configured issuer */
    GH_AUTH_R_AUDIENCE,          /* aud missing or not containing the configured audience */
    GH_AUTH_R_CLAIM_TYPE,        /* a claim of the wrong type or out of range, exp missing */
    GH_AUTH_R_TYP,               /* header typ not the required one */
    GH_AUTH_R_TOO_OLD,           /* iat older than the configured max age */
    GH_AUTH_R_DPOP_JWK,          /* proof has no jwk header, or it is not a usable public key */
    GH_AUTH_R_PRIVATE_KEY,       /* a key carries private members (d, p, q, ...) */
    GH_AUTH_R_DPOP_HTM,          /* htm missing or not the request method */
    GH_AUTH_R_DPOP_HTU,          /* htu missing, has query/fragment, or not the request URI */
    GH_AUTH_R_DPOP_IAT,          /* iat missing or outside the window */
    GH_AUTH_R_DPOP_JTI,          /* jti missing, not a string, empty or too long */
    GH_AUTH_R_DPOP_ATH,          /* ath missing or not b64url(SHA-256(access token)) */
    GH_AUTH_R_DPOP_NONCE,        /* nonce required and missing or different */
    GH_AUTH_R_SCOPE_CEILING,     /* a scope beyond the issuer's max_scopes (widened delegation) */
    GH_AUTH_R_INTERNAL,          /* OpenSSL failed in a way input cannot explain */
};

/** Fixed lower-case name of a reason ("alg_not_allowed"), safe for logs and audit. */
const char *gh_auth_reason_str(enum gh_auth_reason r);

/** JWS algorithms that can verify. HS* and none are deliberately absent. */
enum gh_auth_alg {
    GH_AUTH_ALG_NONE = 0, /* not an algorithm: unknown, unset or refused */
    GH_AUTH_ALG_RS256 = 1,
    GH_AUTH_ALG_RS384 = 2,
    GH_AUTH_ALG_RS512 = 3,
    GH_AUTH_ALG_PS256 = 4,
    GH_AUTH_ALG_PS384 = 5,
    GH_AUTH_ALG_PS512 = 6,
    GH_AUTH_ALG_ES256 = 7,
    GH_AUTH_ALG_ES384 = 8,
    GH_AUTH_ALG_EDDSA = 9,
};

/** Exact, case-sensitive JWA name to enum; GH_AUTH_ALG_NONE for "none", HS*, anything else. */
enum gh_auth_alg gh_auth_alg_from_name(struct gh_slice name);
/** JWA name of alg ("RS256"), or "none" for GH_AUTH_ALG_NONE. */
const char *gh_auth_alg_name(enum gh_auth_alg alg);

/** An algorithm allow-list, built from config. Zero-initialised it allows nothing. */
struct gh_auth_alg_set {
    uint32_t mask; /* bit (1 << alg) set for each allowed enum gh_auth_alg */
};

/** Adds alg to set (GH_AUTH_ALG_NONE is ignored). */
void gh_auth_alg_set_add(struct gh_auth_alg_set *set, enum gh_auth_alg alg);
/** True when alg is in set; never for GH_AUTH_ALG_NONE. */
bool gh_auth_alg_set_has(const struct gh_auth_alg_set *set, enum gh_auth_alg alg);
/**
 * Parses a space- or comma-separated list of JWA names into set. GH_E_PARSE (set unchanged)
 * if any name is unknown, "none" or HS*: a config asking for them is an error, not a no-op.
 */
enum gh_rc gh_auth_alg_set_parse(struct gh_auth_alg_set *set, const char *list);

/** Key families. */
enum gh_auth_kty {
    GH_AUTH_KTY_NONE = 0,
    GH_AUTH_KTY_RSA = 1,
    GH_AUTH_KTY_P256 = 2,
    GH_AUTH_KTY_P384 = 3,
    GH_AUTH_KTY_ED25519 = 4,
};

/** Cold-path error detail for key parsing. reason is a static string, never input bytes. */
struct gh_auth_err {
    enum gh_rc rc;                   /* what the call returned */
    enum gh_auth_reason auth_reason; /* GH_AUTH_R_PRIVATE_KEY when that refused a key */
    const char *reason;              /* static text, e.g. "private key member present" */
    int32_t index;                   /* key index in the set at fault, -1 for the set itself */
    uint32_t skipped;                /* on GH_OK: keys ignored (reason/index name the first) */
};

/** One public verification key (opaque; owned by its set or by gh_auth_jwk_free). */
struct gh_auth_jwk;

/**
 * Parses one JWK (a JSON object) into a public key: RSA (n, e; 2048..8192-bit modulus),
 * EC P-256/P-384 (x, y of exact length, point on the curve), OKP Ed25519 (x, 32 bytes).
 * Refused: private members (d p q dp dq qi oth k) with auth_reason GH_AUTH_R_PRIVATE_KEY, kty
 * oct, `use` other than "sig", `key_ops` without "verify", an `alg` that does not fit the
 * family. Returns GH_OK, GH_E_PARSE, GH_E_LIMIT; *out is the caller's (gh_auth_jwk_free).
 */
enum gh_rc gh_auth_jwk_parse(const char *json, size_t len, struct gh_auth_jwk **out,
                             struct gh_auth_err *err);
/** Frees a key from gh_auth_jwk_parse; NULL-safe. Never call it on a key owned by a set. */
void gh_auth_jwk_free(struct gh_auth_jwk *k);
/** Family of k. */
enum gh_auth_kty gh_auth_jwk_kty(const struct gh_auth_jwk *k);
/** kid of k ({NULL,0} when it has none); valid while k lives. */
struct gh_slice gh_auth_jwk_kid(const struct gh_auth_jwk *k);
/**
 * RFC 7638 SHA-256 thumbprint of k, base64url without padding: GH_AUTH_JKT_LEN chars and a
 * NUL into out. Computed at parse time from the required members only.
 */
void gh_auth_jwk_thumbprint(const struct gh_auth_jwk *k, char out[GH_AUTH_JKT_LEN + 1]);

/** An immutable, refcounted set of public keys (opaque). */
struct gh_auth_jwks;

/**
 * Parses a JWK Set ({"keys":[...]}) of at most GH_AUTH_JWKS_MAX_BYTES and
 * GH_AUTH_JWKS_MAX_KEYS keys. Keys that are unsupported or refused (see gh_auth_jwk_parse) are
 * skipped, as RFC 7517 §5 asks; err->skipped counts them and err->reason/index/auth_reason name
 * the first. Two usable keys with the same kid and family make the whole set GH_E_PARSE
 * (lookup would be ambiguous). A set whose every key was skipped is returned empty (GH_OK).
 * a (may be NULL) is scratch for parsing only; the set does not point into it. On GH_OK *out
 * holds one reference (gh_auth_jwks_unref).
 */
enum gh_rc gh_auth_jwks_parse(struct gh_arena *a, const char *json, size_t len,
                              struct gh_auth_jwks **out, struct gh_auth_err *err);
/** Takes a reference (atomic: any thread). Returns set. */
struct gh_auth_jwks *gh_auth_jwks_ref(struct gh_auth_jwks *set);
/** Drops a reference; the last one frees the set and its keys. NULL-safe. */
void gh_auth_jwks_unref(struct gh_auth_jwks *set);
/** Number of usable keys. */
uint32_t gh_auth_jwks_count(const struct gh_auth_jwks *set);
/** Key i (i < count), borrowed from the set. */
const struct gh_auth_jwk *gh_auth_jwks_at(const struct gh_auth_jwks *set, uint32_t i);
/**
 * Key for a token: the key with this kid whose family fits alg; with an empty kid, the only
 * key of that family (NULL when there are none or several — trying each would let one token buy
 * 64 verifications). NULL when nothing fits. Borrowed from the set.
 */
const struct gh_auth_jwk *gh_auth_jwks_find(const struct gh_auth_jwks *set, struct gh_slice kid,
                                            enum gh_auth_alg alg);

/** Options bits for gh_auth_jws_verify. */
enum gh_auth_jws_flags {
    /* Ignore x5t / x5t#S256 as mere hints instead of refusing them. Entra ID puts x5t next to
     * kid in every access token; the key still comes from the set by kid only. */
    GH_AUTH_JWS_F_IGNORE_X5T = (1 << 0),
};

/** Result of a JWS verification. Everything points into the arena given to the call. */
struct gh_auth_jws {
    enum gh_auth_reason reason;    /* GH_AUTH_R_OK on GH_ALLOW */
    enum gh_auth_alg alg;          /* the header alg once recognised */
    struct gh_slice kid;           /* decoded header kid, {NULL,0} if absent */
    struct gh_slice typ;           /* decoded header typ, {NULL,0} if absent */
    const struct gh_auth_jwk *key; /* the key that verified (borrowed from the set) */
    struct gh_json_doc header;     /* parsed header (valid once past header_parse) */
    struct gh_json_doc payload;    /* parsed payload (valid on GH_ALLOW) */
};

/**
 * Verifies a compact JWS: exactly three strict-base64url segments (five: JWE refused),
 * at most GH_AUTH_TOKEN_MAX bytes, header a JSON object without crit, jwk, x5c, jku, x5u, x5t
 * (see flags), `alg` in allowed and fitting the key found by kid in keys, signature valid
 * (ECDSA as JOSE r||s of exact length with 0 < r, s < n), payload a JSON object.
 * Claims are not checked here (gh_auth_jwt_check). Returns GH_ALLOW with out->reason
 * GH_AUTH_R_OK, or GH_DENY with the reason. out's docs and slices live in a.
 */
enum gh_verdict gh_auth_jws_verify(struct gh_arena *a, struct gh_slice token,
                                   const struct gh_auth_jwks *keys,
                                   const struct gh_auth_alg_set *allowed, unsigned flags,
                                   struct gh_auth_jws *out);

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */
/**
 * Signs a compact JWS (malloc'ed "header.payload.signature", NULL on failure) with the
 * algorithm the key's type implies: P-256 → ES256 (signature as JOSE r||s), Ed25519 → EdDSA,
 * RSA → RS256. header_json must name that alg; it and the payload are base64url-encoded here.
 */
char *gh_auth_jws_sign(struct evp_pkey_st *key, const char *header_json, const char *payload,
                       size_t n);

/** What an access token must satisfy. Zero fields are "no requirement" unless noted. */
struct gh_auth_jwt_rules {
    struct gh_slice issuer;       /* required: iss must equal it byte for byte */
    struct gh_slice audience;     /* required: aud (string or array) must contain it */
    struct gh_slice typ;          /* header typ, e.g. "at+jwt"; "application/" prefix and case
                                   * ignored on the token side; empty: no check */
    int64_t skew_s;               /* clock tolerance for exp/nbf/iat, seconds (e.g. 60) */
    int64_t max_age_s;            /* > 0: iat required and now - iat <= max_age_s + skew */
    struct gh_slice groups_claim; /* member holding groups (string or array); empty: none */
    struct gh_slice roles_claim;  /* member holding roles (string or array); empty: none */
    const char *client_id_claim;  /* member naming the OAuth client; NULL: "client_id" */
    char *const *audiences;       /* further accepted aud values (config audiences) */
    size_t n_audiences;
};

/** Claims of an accepted token. Slices point into the payload or the arena. */
struct gh_auth_claims {
    enum gh_auth_reason reason; /* GH_AUTH_R_OK on GH_ALLOW */
    struct gh_slice iss;
    struct gh_slice sub;       /* {NULL,0} when absent */
    struct gh_slice client_id; /* client_id_claim, else azp, else {NULL,0} */
    struct gh_slice jti;
    struct gh_slice cnf_jkt; /* cnf.jkt: the token is DPoP-bound to that thumbprint */
    struct gh_slice *scopes; /* scope split on spaces (or scp array) */
    uint32_t nscopes;
    struct gh_slice *groups; /* from rules->groups_claim */
    uint32_t ngroups;
    struct gh_slice *roles; /* from rules->roles_claim */
    uint32_t nroles;
    struct gh_slice *act; /* act.sub, act.act.sub, ... outermost (current actor) first */
    uint32_t nact;
    int64_t exp;             /* seconds (fraction dropped) */
    int64_t iat;             /* 0 when absent */
    int64_t nbf;             /* 0 when absent */
    struct gh_slice payload; /* the claims as JSON (token payload, introspection answer): any
                                claim by name, for policy */
};

/**
 * Checks the claims of a verified JWS against rules at wall-clock time now (seconds):
 * typ (header), iss, aud, exp (required, a NumericDate in [0, GH_AUTH_NUMERICDATE_MAX];
 * expired when exp <= now - skew), nbf and iat (not yet valid when > now + skew), max age,
 * and the types of sub, client_id, azp, jti, scope/scp, groups, act, cnf. Fills out (arena a);
 * on GH_DENY only out->reason is meaningful. header may be NULL only when rules->typ is empty.
 */
enum gh_verdict gh_auth_jwt_check(struct gh_arena *a, const struct gh_json_doc *header,
                                  const struct gh_json_doc *payload,
                                  const struct gh_auth_jwt_rules *rules, int64_t now,
                                  struct gh_auth_claims *out);

/** The request a DPoP proof must match. */
struct gh_auth_dpop_req {
    struct gh_slice method; /* request method, compared case-sensitively with htm */
    struct gh_slice htu;    /* request URI (absolute); normalised here, query dropped */
    int64_t now;            /* wall clock, seconds */
    int64_t max_age_s;      /* iat may be at most this old (e.g. 300) */
    int64_t skew_s;         /* and at most this far in the future (e.g. 5) */
    const struct gh_auth_alg_set *allowed;
    struct gh_slice access_token;           /* non-empty: ath must be b64url(SHA-256(token)) */
    const unsigned char *access_token_hash; /* optional: SHA-256 of access_token when the caller
                                             * already has it (the cache key), 32 bytes */
    struct gh_slice nonce;                  /* non-empty: the proof's nonce must equal it */
};

/** An accepted proof. */
struct gh_auth_dpop {
    enum gh_auth_reason reason; /* GH_AUTH_R_OK on GH_ALLOW */
    enum gh_auth_alg alg;
    char jkt[GH_AUTH_JKT_LEN + 1]; /* RFC 7638 thumbprint of the proof key, for cnf.jkt */
    struct gh_slice jti;           /* for the caller's replay cache (arena) */
    int64_t iat;
};

/**
 * Verifies a DPoP proof (RFC 9449 §4.3): at most GH_AUTH_DPOP_MAX bytes, typ dpop+jwt, alg in
 * req->allowed (asymmetric only), a public `jwk` header (private members: GH_AUTH_R_PRIVATE_KEY)
 * fitting alg, no crit, signature by that jwk, htm == method, htu (no query or fragment) ==
 * normalised request URI, iat within [now - max_age, now + skew], jti present, ath and nonce
 * when asked. Replay (jti) and the cnf.jkt binding are the caller's: out gives jti and jkt.
 */
enum gh_verdict gh_auth_dpop_verify(struct gh_arena *a, struct gh_slice proof,
                                    const struct gh_auth_dpop_req *req, struct gh_auth_dpop *out);

/**
 * Normalises an absolute http(s) URI for htu comparison into the arena: scheme and host
 * lower-case, default port dropped, empty path "/", query and fragment dropped. GH_E_PARSE
 * for other schemes, userinfo, a missing host or a bad port.
 */
enum gh_rc gh_auth_htu_normalize(struct gh_arena *a, struct gh_slice uri, struct gh_slice *out);

/** True when a DPoP-bound token (claims->cnf_jkt) was presented with a proof of that key. */
bool gh_auth_dpop_binds(const struct gh_auth_claims *claims, const struct gh_auth_dpop *proof);

/** A verified token's claims, deep-copied into one refcounted block (any thread). */
/** How the principal proved itself (for audit and policy). */
enum gh_auth_method {
    GH_AUTH_METHOD_NONE = 0,
    GH_AUTH_METHOD_JWT,           /* a JWT access token verified against the issuer's keys */
    GH_AUTH_METHOD_INTROSPECTION, /* an opaque token the issuer said is active */
};

struct gh_auth_principal {
    struct gh_auth_claims claims; /* slices point inside this block */
    enum gh_auth_method method;   /* set by whoever created it (DPoP binding: claims.cnf_jkt) */
    int64_t expires;              /* wall-clock second the principal stops being valid */
    int64_t expires_ms;           /* 0, or a finer wall-clock deadline in ms (introspection's
                                   * ttl_ms): the token cache drops it then; expires is its floor */
    char key[65];                 /* hex SHA-256 of iss, sub, client_id: computed once, here */
};

/** Deep-copies claims into a new principal (one reference) valid until expires. */
struct gh_auth_principal *gh_auth_principal_new(const struct gh_auth_claims *claims,
                                                int64_t expires);
/** Takes a reference. */
struct gh_auth_principal *gh_auth_principal_ref(struct gh_auth_principal *p);
/** Drops a reference; the last frees. NULL-safe. */
void gh_auth_principal_unref(struct gh_auth_principal *p);

/**
 * SHA-256 of a token: the cache key, and the digest behind DPoP's ath. Compute it once per
 * request and pass it to gh_auth_token_cache_get_hash and gh_auth_dpop_req.access_token_hash.
 */
void gh_auth_token_hash(struct gh_slice token, unsigned char out[32]);

/** Verified-token cache keyed by SHA-256 of the token (opaque; thread-safe). */
struct gh_auth_token_cache;

/** Creates a cache of at most max_entries (rounded up to the internal geometry, >= 64). */
struct gh_auth_token_cache *gh_auth_token_cache_new(uint32_t max_entries);
/** Frees the cache and drops its principal references. NULL-safe. */
void gh_auth_token_cache_free(struct gh_auth_token_cache *c);
/**
 * Hit: a new reference to the principal cached for token (caller unrefs). Miss or expired
 * (now >= expires; the entry is dropped): NULL. Does not allocate.
 */
struct gh_auth_principal *gh_auth_token_cache_get(struct gh_auth_token_cache *c,
                                                  struct gh_slice token, int64_t now);
/** As gh_auth_token_cache_get with a precomputed SHA-256 of the token. */
struct gh_auth_principal *gh_auth_token_cache_get_hash(struct gh_auth_token_cache *c,
                                                       const unsigned char hash[32], int64_t now);
/**
 * Caches p (takes its own reference) for token until p->expires. When the slot set is full the
 * entry expiring soonest is evicted. Replaces an existing entry for the same token.
 */
void gh_auth_token_cache_put(struct gh_auth_token_cache *c, struct gh_slice token,
                             struct gh_auth_principal *p, int64_t now);
/** As gh_auth_token_cache_put with the caller's own 32-byte key for the token (used with
 *  gh_auth_token_cache_get_hash; the gate uses a keyed SipHash rather than SHA-256). */
void gh_auth_token_cache_put_hash(struct gh_auth_token_cache *c, const unsigned char key[32],
                                  struct gh_auth_principal *p, int64_t now);
/** Drops the entry for token if any (revocation). */
void gh_auth_token_cache_remove(struct gh_auth_token_cache *c, struct gh_slice token);
/** Live entries (approximate under concurrency; for metrics and tests). */
uint32_t gh_auth_token_cache_count(struct gh_auth_token_cache *c);

/* ---- the gate (gate.c): inbound authentication on the request path ---- */

#include "config/config.h"
#include "http/http.h"

struct gh_auth_gate;

/** What an Authorization field value holds (gh_auth_credentials_parse). Zero is "malformed". */
enum gh_auth_cred {
    GH_AUTH_CRED_MALFORMED = 0, /* Bearer/DPoP without a token, or a token that is not token68 */
    GH_AUTH_CRED_BEARER,        /* the Bearer scheme (RFC 6750), any case */
    GH_AUTH_CRED_DPOP,          /* the DPoP scheme (RFC 9449 §7.1), any case */
    GH_AUTH_CRED_OTHER,         /* another scheme (Basic, ...): no credentials the gate takes */
};

/**
 * Splits one Authorization field value (RFC 9110 §11.4: auth-scheme 1*SP token68, surrounding
 * SP/HTAB ignored). Scheme names compare case-insensitively ("bearer" is Bearer). *token is what
 * follows the scheme and its spaces: the token on BEARER/DPOP, and on MALFORMED empty (no token)
 * or the offending bytes (a character outside token68, "=" padding not at the end, a second
 * token). Only the syntax is checked here; an empty value is MALFORMED.
 */
enum gh_auth_cred gh_auth_credentials_parse(struct gh_slice value, struct gh_slice *token);

/** What the gate decided about one request. */
struct gh_auth_result {
    enum gh_verdict verdict;             /* GH_DENY (0) unless a valid token was shown */
    int status;                          /* 400, 401 or 403 on GH_DENY */
    const char *error;                   /* RFC 6750 error code, or NULL (no token sent) */
    const char *description;             /* fixed text, never request data */
    struct gh_auth_principal *principal; /* on GH_ALLOW: one reference for the caller */
    bool dpop_scheme;                    /* the client used the DPoP scheme */
    bool dpop_nonce;                     /* answer with a DPoP-Nonce header (use_dpop_nonce) */
};

/**
 * Builds the gate for conf (which must outlive it); JWKS discovery and fetches run on the main
 * loop `main`, now and every 10 minutes (every 10 s while an issuer has no keys yet).
 */
struct gh_auth_gate *gh_auth_gate_new(const struct gh_config_auth *conf,
                                      struct gh_net_worker *main);
/** Frees the gate once the main loop and the workers have stopped (fetches in flight are
 *  dropped with the loop). NULL is ignored. */
void gh_auth_gate_free(struct gh_auth_gate *g);
/**
 * Authenticates a request (any worker): the Bearer or DPoP token of the single Authorization
 * header (an access_token query parameter, two headers, an empty or non-token68 token are 400;
 * another scheme is 401 without an error code), then the token cache, then JWS + claims against
 * each issuer (aud = auth.resource + the request path), then the issuer's DPoP rule (a bound
 * token needs the DPoP scheme and one valid proof; dpop: off refuses both; dpop: required refuses
 * unbound tokens). An unknown kid asks the main loop for a rate-limited JWKS refetch.
 */
void gh_auth_gate_authenticate(struct gh_auth_gate *g, struct gh_http_req *r,
                               struct gh_auth_result *out);
typedef void (*gh_auth_gate_cb)(void *arg, struct gh_http_req *r, const struct gh_auth_result *res);
/**
 * As gh_auth_gate_authenticate, and for opaque tokens (not three segments) not in the cache,
 * RFC 7662 introspection at the first issuer that has it; cb runs once, on this worker, maybe
 * before this returns.
 */
void gh_auth_gate_authenticate_async(struct gh_auth_gate *g, struct gh_http_req *r,
                                     gh_auth_gate_cb cb, void *arg);
/** True when p has every scope the config requires: scopes.required, those of method, and those of
 *  each of upstreams[0..nups) (the upstreams the message may reach); else the missing ones are
 *  appended to missing (space-separated, each once). */
bool gh_auth_gate_scopes(const struct gh_auth_gate *g, const struct gh_auth_principal *p,
                         struct gh_slice method, const struct gh_slice *upstreams, size_t nups,
                         struct gh_buf *missing);
/**
 * The WWW-Authenticate value for a refusal at MCP path `path` (scope: what is missing): a Bearer
 * challenge unless every issuer requires DPoP, a DPoP challenge (algs) unless every issuer has
 * DPoP off, both in one field. The error goes in the challenge of the scheme the client used;
 * without an error Bearer comes first (MCP clients read the first challenge's resource_metadata).
 */
void gh_auth_gate_challenge(const struct gh_auth_gate *g, struct gh_slice path,
                            const struct gh_auth_result *res, const char *scope,
                            struct gh_buf *out);
/** The DPoP-Nonce to hand out now (dpop.nonce: true): 32 base64url characters and a NUL. */
void gh_auth_gate_current_nonce(const struct gh_auth_gate *g, char out[44]);
/** Hex SHA-256 of iss, sub and client_id: what sessions are bound to. */
void gh_auth_principal_key(const struct gh_auth_principal *p, char out[65]);

/** Gives issuer idx a fixed key set and stops fetching for it (the dev issuer). */
void gh_auth_gate_set_keys(struct gh_auth_gate *g, size_t idx, struct gh_auth_jwks *keys);

/* ---- the dev issuer (devissuer.c): `gatehouse dev` only ---- */

struct gh_auth_dev_issuer;
/** A fresh in-memory P-256 key for issuer, minting tokens for audience. */
struct gh_auth_dev_issuer *gh_auth_dev_issuer_new(const char *issuer, const char *audience);
/** Its public key set (one reference for the caller). */
struct gh_auth_jwks *gh_auth_dev_issuer_jwks(struct gh_auth_dev_issuer *d);
/** A new ES256 at+jwt for sub with scope, valid ttl_s seconds (malloc'd; NULL on failure). */
char *gh_auth_dev_issuer_mint(struct gh_auth_dev_issuer *d, const char *sub, const char *scope,
                              int64_t ttl_s);
void gh_auth_dev_issuer_free(struct gh_auth_dev_issuer *d);

/* ---- introspection (introspect.c): opaque tokens, RFC 7662 with private_key_jwt ---- */

struct gh_auth_introspector;
/** The outcome of one introspection. */
struct gh_auth_introspect_result {
    struct gh_auth_principal *principal; /* active and ours: one reference for the callee */
    bool unavailable;                    /* timeout, 5xx or garbage: answer 503, cache nothing */
};
typedef void (*gh_auth_introspect_cb)(void *arg, const struct gh_auth_introspect_result *res);
/** Loads the issuer's client key (file:/env: reference); NULL with err when it cannot. */
struct gh_auth_introspector *gh_auth_introspector_new(const struct gh_config_auth_issuer *conf,
                                                      char *err, size_t errlen);
/** Points it at the endpoint (main thread: resolves, egress guard); GH_E_DECLINED if refused. */
enum gh_rc gh_auth_introspector_set_endpoint(struct gh_auth_introspector *in, const char *url,
                                             struct ssl_ctx_st *tls, bool allow_loopback);
bool gh_auth_introspector_ready(const struct gh_auth_introspector *in);
/** Frees an introspector (process exit; the workers' connection pools go with their threads). */
void gh_auth_introspector_free(struct gh_auth_introspector *in);
/** Asks about token (issuer index idx, for this worker's pool); cb runs on this worker. */
void gh_auth_introspect(struct gh_auth_introspector *in, size_t idx, struct gh_slice token,
                        const char *resource, gh_auth_introspect_cb cb, void *arg);

/** What one introspection answer says. Zero is garbage: the request gets 503, nothing cached. */
enum gh_auth_intro_answer {
    GH_AUTH_INTRO_GARBAGE = 0, /* not JSON, no boolean active, a mistyped exp */
    GH_AUTH_INTRO_INACTIVE,    /* active:false, or active but another issuer's, expired, not ours */
    GH_AUTH_INTRO_ACTIVE,      /* cl filled; *until_ms = min(exp, now + ttl_ms) */
};
/**
 * Reads an RFC 7662 answer for issuer conf and the request's resource URI at wall-clock now_ms.
 * Claims point into body and arena a.
 */
enum gh_auth_intro_answer gh_auth_introspect_read(const struct gh_config_auth_issuer *conf,
                                                  const char *resource, const char *body,
                                                  size_t len, int64_t now_ms, struct gh_arena *a,
                                                  struct gh_auth_claims *cl, int64_t *until_ms);

/* ---- discovery (discovery.c): where metadata lives and whether to believe it ---- */

/** What the gateway takes from an issuer's metadata document (owned strings, NULL if absent). */
struct gh_auth_discovery {
    char *jwks_uri;
    char *introspection_endpoint;
};
/**
 * The metadata URL to try at attempt 0, 1, ...: discovery_url when configured (only), else the
 * RFC 8414 §3.1 URL (well-known segment inserted before the issuer's path), then the OpenID
 * Connect one (appended to the path). False when there is no such attempt.
 */
bool gh_auth_discovery_url(const struct gh_config_auth_issuer *conf, unsigned attempt, char *out,
                           size_t outlen);
/** GH_ALLOW and out filled when body is a JSON object whose issuer is exactly issuer (RFC 8414
 *  §3.3); GH_DENY with why otherwise. */
enum gh_verdict gh_auth_discovery_read(const char *issuer, const char *body, size_t len,
                                       struct gh_auth_discovery *out, const char **why);
void gh_auth_discovery_release(struct gh_auth_discovery *d);

#endif
