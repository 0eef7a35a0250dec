// OpenSSL primitives for libsrtp2: see include/CSRTPCrypto.h for why. Every context is made
// when libsrtp allocates a cipher or an authenticator (once per stream and key), so protecting
// and unprotecting a packet allocates nothing.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA1_Init & co.: the one HMAC whose state copies by value
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "CSRTPCrypto.h"

// Declared by libsrtp's crypto_kernel.h, which Debian does not install; exported by libsrtp2.so.
const srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);
const srtp_auth_type_t *srtp_crypto_kernel_get_auth_type(srtp_auth_type_id_t id);

#define SALT_LENGTH 14
#define GCM_SALT_LENGTH 12

// MARK: AES-ICM (RFC 3711 §4.1.1): AES-128 in counter mode, counter = (salt << 16) XOR IV.

typedef struct {
    EVP_CIPHER_CTX *context;
    uint8_t offset[16];  // the salt, its last two octets zero
} icm_state;

static srtp_cipher_type_t icm_type;

static srtp_err_status_t icm_alloc(srtp_cipher_pointer_t *out, int key_length, int tag_length) {
    (void)tag_length;
    if (key_length != SRTP_AES_ICM_128_KEY_LEN_WSALT) return srtp_err_status_bad_param;
    uint8_t *memory = calloc(1, sizeof(srtp_cipher_t) + sizeof(icm_state));
    if (!memory) return srtp_err_status_alloc_fail;
    srtp_cipher_t *cipher = (srtp_cipher_t *)memory;
    icm_state *state = (icm_state *)(memory + sizeof(srtp_cipher_t));
    state->context = EVP_CIPHER_CTX_new();
    if (!state->context) {
        free(memory);
        return srtp_err_status_alloc_fail;
    }
    cipher->state = state;
    cipher->type = &icm_type;
    cipher->algorithm = SRTP_AES_ICM_128;
    cipher->key_len = key_length;
    *out = cipher;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_pointer_t cipher) {
    if (!cipher) return srtp_err_status_bad_param;
    icm_state *state = cipher->state;
    EVP_CIPHER_CTX_free(state->context);
    OPENSSL_cleanse(cipher, sizeof(srtp_cipher_t) + sizeof(icm_state));
    free(cipher);
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *opaque, const uint8_t *key) {
    icm_state *state = opaque;
    memset(state->offset, 0, sizeof state->offset);
    memcpy(state->offset, key + 16, SALT_LENGTH);
    // The key schedule once; each packet only sets its counter.
    if (!EVP_EncryptInit_ex(state->context, EVP_aes_128_ctr(), NULL, key, NULL)) return srtp_err_status_init_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_set_iv(void *opaque, uint8_t *iv, srtp_cipher_direction_t direction) {
    (void)direction;  // counter mode: the same both ways
    icm_state *state = opaque;
    uint8_t counter[16];
    for (int i = 0; i < 16; i++) counter[i] = state->offset[i] ^ iv[i];
    if (!EVP_EncryptInit_ex(state->context, NULL, NULL, NULL, counter)) return srtp_err_status_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_crypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    icm_state *state = opaque;
    int written = 0;
    if (!EVP_EncryptUpdate(state->context, buffer, &written, buffer, (int)*length)) return srtp_err_status_cipher_fail;
    *length = (unsigned int)written;
    return srtp_err_status_ok;
}

// MARK: AES-GCM (RFC 7714): AEAD_AES_128_GCM with a 16- or 8-octet tag.

typedef struct {
    EVP_CIPHER_CTX *context;
    int tag_length;
} gcm_state;

static srtp_cipher_type_t gcm_type;

static srtp_err_status_t gcm_alloc(srtp_cipher_pointer_t *out, int key_length, int tag_length) {
    if (key_length != SRTP_AES_GCM_128_KEY_LEN_WSALT) return srtp_err_status_bad_param;
    if (tag_length != 16 && tag_length != 8) return srtp_err_status_bad_param;
    uint8_t *memory = calloc(1, sizeof(srtp_cipher_t) + sizeof(gcm_state));
    if (!memory) return srtp_err_status_alloc_fail;
    srtp_cipher_t *cipher = (srtp_cipher_t *)memory;
    gcm_state *state = (gcm_state *)(memory + sizeof(srtp_cipher_t));
    state->context = EVP_CIPHER_CTX_new();
    if (!state->context) {
        free(memory);
        return srtp_err_status_alloc_fail;
    }
    state->tag_length = tag_length;
    cipher->state = state;
    cipher->type = &gcm_type;
    cipher->algorithm = SRTP_AES_GCM_128;
    cipher->key_len = key_length;
    *out = cipher;
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_dealloc(srtp_cipher_pointer_t cipher) {
    if (!cipher) return srtp_err_status_bad_param;
    gcm_state *state = cipher->state;
    EVP_CIPHER_CTX_free(state->context);
    OPENSSL_cleanse(cipher, sizeof(srtp_cipher_t) + sizeof(gcm_state));
    free(cipher);
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_init(void *opaque, const uint8_t *key) {
    gcm_state *state = opaque;
    // The salt (the last 12 octets) is libsrtp's to fold into the IV; the key schedule once.
    if (!EVP_CipherInit_ex(state->context, EVP_aes_128_gcm(), NULL, key, NULL, 1)) return srtp_err_status_init_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_set_iv(void *opaque, uint8_t *iv, srtp_cipher_direction_t direction) {
    gcm_state *state = opaque;
    if (direction != srtp_direction_encrypt && direction != srtp_direction_decrypt) return srtp_err_status_bad_param;
    // The IV is 12 octets, GCM's default length.
    if (!EVP_CipherInit_ex(state->context, NULL, NULL, NULL, iv, direction == srtp_direction_encrypt ? 1 : 0)) {
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_set_aad(void *opaque, const uint8_t *aad, uint32_t length) {
    gcm_state *state = opaque;
    int written = 0;
    if (!EVP_CipherUpdate(state->context, NULL, &written, aad, (int)length)) return srtp_err_status_algo_fail;
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_encrypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    gcm_state *state = opaque;
    int written = 0, final = 0;
    if (!EVP_CipherUpdate(state->context, buffer, &written, buffer, (int)*length)) return srtp_err_status_cipher_fail;
    if (!EVP_CipherFinal_ex(state->context, buffer + written, &final)) return srtp_err_status_cipher_fail;
    *length = (unsigned int)(written + final);
    return srtp_err_status_ok;
}

static srtp_err_status_t gcm_get_tag(void *opaque, uint8_t *tag, uint32_t *length) {
    gcm_state *state = opaque;
    if (!EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_GCM_GET_TAG, state->tag_length, tag)) {
        return srtp_err_status_algo_fail;
    }
    *length = (uint32_t)state->tag_length;
    return srtp_err_status_ok;
}

/// The buffer ends with the tag; it is checked, and the length given back without it.
static srtp_err_status_t gcm_decrypt(void *opaque, uint8_t *buffer, unsigned int *length) {
    gcm_state *state = opaque;
    if (*length < (unsigned int)state->tag_length) return srtp_err_status_bad_param;
    int text = (int)*length - state->tag_length;
    if (!EVP_CIPHER_CTX_ctrl(state->context, EVP_CTRL_GCM_SET_TAG, state->tag_length, buffer + text)) {
        return srtp_err_status_auth_fail;
    }
    int written = 0, final = 0;
    if (!EVP_CipherUpdate(state->context, buffer, &written, buffer, text)) return srtp_err_status_cipher_fail;
    if (EVP_CipherFinal_ex(state->context, buffer + written, &final) <= 0) return srtp_err_status_auth_fail;
    *length = (unsigned int)(written + final);
    return srtp_err_status_ok;
}

// MARK: HMAC-SHA1 (RFC 2104), the SRTP authentication transform of RFC 3711 §4.2.1.

typedef struct {
    SHA_CTX inner;    // after the key XOR ipad
    SHA_CTX outer;    // after the key XOR opad
    SHA_CTX running;  // this packet's inner hash
} hmac_state;

static srtp_auth_type_t hmac_type;

static srtp_err_status_t hmac_alloc(srtp_auth_pointer_t *out, int key_length, int tag_length) {
    if (key_length > SHA_DIGEST_LENGTH || tag_length > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
    uint8_t *memory = calloc(1, sizeof(srtp_auth_t) + sizeof(hmac_state));
    if (!memory) return srtp_err_status_alloc_fail;
    srtp_auth_t *auth = (srtp_auth_t *)memory;
    auth->state = memory + sizeof(srtp_auth_t);
    auth->type = &hmac_type;
    auth->out_len = tag_length;
    auth->key_len = key_length;
    auth->prefix_len = 0;
    *out = auth;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_pointer_t auth) {
    OPENSSL_cleanse(auth, sizeof(srtp_auth_t) + sizeof(hmac_state));
    free(auth);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *opaque, const uint8_t *key, int key_length) {
    hmac_state *state = opaque;
    if (key_length > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
    uint8_t pad[64];
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < key_length; i++) pad[i] ^= key[i];
    SHA1_Init(&state->inner);
    SHA1_Update(&state->inner, pad, sizeof pad);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < key_length; i++) pad[i] ^= key[i];
    SHA1_Init(&state->outer);
    SHA1_Update(&state->outer, pad, sizeof pad);
    OPENSSL_cleanse(pad, sizeof pad);
    state->running = state->inner;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *opaque) {
    hmac_state *state = opaque;
    state->running = state->inner;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *opaque, const uint8_t *buffer, int length) {
    hmac_state *state = opaque;
    SHA1_Update(&state->running, buffer, (size_t)length);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *opaque, const uint8_t *buffer, int length, int tag_length, uint8_t *tag) {
    hmac_state *state = opaque;
    if (tag_length > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1_Update(&state->running, buffer, (size_t)length);
    SHA1_Final(digest, &state->running);
    SHA_CTX outer = state->outer;
    SHA1_Update(&outer, digest, sizeof digest);
    SHA1_Final(digest, &outer);
    memcpy(tag, digest, (size_t)tag_length);
    return srtp_err_status_ok;
}

// MARK: Registration

int stagedoor_srtp_use_openssl_crypto(void) {
    // Each replacement carries the known-answer tests of the type it replaces: libsrtp runs
    // them (and the existing type's again) before it takes it.
    const srtp_cipher_type_t *icm = srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128);
    const srtp_cipher_type_t *gcm = srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128);
    const srtp_auth_type_t *hmac = srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1);
    if (!icm || !gcm || !hmac) return srtp_err_status_fail;
    icm_type = (srtp_cipher_type_t){
        icm_alloc, icm_dealloc, icm_init, NULL, icm_crypt, icm_crypt, icm_set_iv, NULL,
        "AES-128 ICM over OpenSSL (Stagedoor)", icm->test_data, SRTP_AES_ICM_128};
    gcm_type = (srtp_cipher_type_t){
        gcm_alloc, gcm_dealloc, gcm_init, gcm_set_aad, gcm_encrypt, gcm_decrypt, gcm_set_iv, gcm_get_tag,
        "AES-128 GCM over OpenSSL (Stagedoor)", gcm->test_data, SRTP_AES_GCM_128};
    hmac_type = (srtp_auth_type_t){
        hmac_alloc, hmac_dealloc, hmac_init, hmac_compute, hmac_update, hmac_start,
        "HMAC-SHA1 over OpenSSL (Stagedoor)", hmac->test_data, SRTP_HMAC_SHA1};
    srtp_err_status_t status = srtp_replace_cipher_type(&icm_type, SRTP_AES_ICM_128);
    if (status == srtp_err_status_ok) status = srtp_replace_cipher_type(&gcm_type, SRTP_AES_GCM_128);
    if (status == srtp_err_status_ok) status = srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1);
    return (int)status;
}
