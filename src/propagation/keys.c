/*
 * propagation/keys.c owns the gateway's signing keys for assertions: configured PEM keys (P-256
 * for ES256, Ed25519 for EdDSA; the first signs, all are published), or a P-256 key generated at
 * start and replaced every rotate_s, the retired one published for a while longer so assertions
 * it signed stay verifiable until they expire. kid = RFC 7638 thumbprint.
 */
#include "core/core.h"
#include "auth/auth.h"
#include "propagation/internal.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

static char *b64(const unsigned char *p, size_t n)
{
    char *o = gh_xmalloc(gh_b64url_enclen(n) + 1);
    gh_b64url_encode(p, n, o);
    return o;
}

/* The public JWK members in RFC 7638 order (which is also a fine order to publish). */
static bool jwk_members(EVP_PKEY *k, bool ed, char *out, size_t n)
{
    unsigned char pub[65];
    size_t len = 0;
    if (ed) {
        if (EVP_PKEY_get_raw_public_key(k, pub, &(size_t){32}) != 1)
            return false;
        char *x = b64(pub, 32);
        snprintf(out, n, "\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"", x);
        free(x);
        return true;
    }
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len) != 1 ||
        len != 65)
        return false;
    char *x = b64(pub + 1, 32), *y = b64(pub + 33, 32);
    snprintf(out, n, "\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"", x, y);
    free(x);
    free(y);
    return true;
}

static struct gh_prop__key *key_from(EVP_PKEY *k)
{
    bool ed = EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
    bool ec = EVP_PKEY_get_id(k) == EVP_PKEY_EC;
    char group[32] = "";
    if (ec)
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
    if (!ed && !(ec && strcmp(group, "prime256v1") == 0))
        return NULL;
    struct gh_prop__key *key = gh_xcalloc(1, sizeof(*key));
    key->pkey = k;
    key->ed = ed;
    char members[256];
    if (!jwk_members(k, ed, members, sizeof(members))) {
        free(key);
        return NULL;
    }
    char canon[300];
    int cn = snprintf(canon, sizeof(canon), "{%s}", members);
    unsigned char h[32];
    gh_sha256(canon, (size_t)cn, h);
    gh_b64url_encode(h, 32, key->kid);
    snprintf(key->jwk, sizeof(key->jwk), "{%s,\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\"}",
             members, key->kid, ed ? "EdDSA" : "ES256");
    return key;
}

struct gh_prop__key *gh_prop__key_generate(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    GH_BUG_ON(!k);
    return key_from(k);
}

struct gh_prop__key *gh_prop__key_load(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    struct gh_prop__key *key = k ? key_from(k) : NULL;
    if (!key)
        EVP_PKEY_free(k);
    return key;
}

void gh_prop__key_free(struct gh_prop__key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

char *gh_prop__sign_jwt(const struct gh_prop__key *k, const char *typ, const char *payload,
                        size_t n)
{
    char header[160];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
             k->ed ? "EdDSA" : "ES256", typ, k->kid);
    return gh_auth_jws_sign(k->pkey, header, payload, n);
}

/* ---- the key set: current signer first, then the retired ones still published ---- */

bool gh_prop__signer(struct gh_prop *p, struct gh_prop__key *out)
{
    pthread_mutex_lock(&p->mu);
    bool ok = p->nkeys > 0;
    if (ok) {
        *out = *p->keys[0];
        EVP_PKEY_up_ref(out->pkey); /* a copy: the key may be retired while it signs */
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void gh_prop_tick(struct gh_prop *p)
{
    if (!p || !p->generated)
        return;
    int64_t now = gh_clock_wall_s();
    pthread_mutex_lock(&p->mu);
    if (now - p->rotated_at >= (int64_t)p->rotate_s) {
        /* the retired key stays published while assertions it signed can still be live */
        if (p->nkeys == GH_PROP_KEYS_MAX) {
            gh_prop__key_free(p->keys[GH_PROP_KEYS_MAX - 1]);
            p->nkeys--;
        }
        memmove(p->keys + 1, p->keys, p->nkeys * sizeof(struct gh_prop__key *));
        p->keys[0] = gh_prop__key_generate();
        p->keys[1]->retired_at = now;
        p->nkeys++;
        p->rotated_at = now;
        GH_LOGI("propagation", "assertion signing key rotated: kid %s (was %s)", p->keys[0]->kid,
                p->keys[1]->kid);
    }
    while (p->nkeys > 1 && p->keys[p->nkeys - 1]->retired_at &&
           now - p->keys[p->nkeys - 1]->retired_at > GH_PROP_TTL_MAX_S + 60) {
        gh_prop__key_free(p->keys[p->nkeys - 1]);
        p->nkeys--;
    }
    pthread_mutex_unlock(&p->mu);
}

char *gh_prop_jwks(struct gh_prop *p, size_t *len)
{
    struct gh_buf b;
    gh_buf_init(&b, 1024);
    gh_buf_puts(&b, "{\"keys\":[");
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nkeys; i++)
        gh_buf_appendf(&b, "%s%s", i ? "," : "", p->keys[i]->jwk);
    pthread_mutex_unlock(&p->mu);
    gh_buf_puts(&b, "]}");
    *len = b.len;
    char *out = gh_xstrndup(b.data, b.len);
    gh_buf_release(&b);
    return out;
}
