#ifndef STAGEDOOR_COPENSSL_SHIM_H
#define STAGEDOOR_COPENSSL_SHIM_H
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <openssl/ec.h>

/// `OPENSSL_VERSION_NUMBER` is a macro; Swift sees functions only.
static inline unsigned long stagedoor_openssl_header_version(void) {
    return OPENSSL_VERSION_NUMBER;
}
/// `BIO_get_mem_data` is a macro over `BIO_ctrl`: the memory-BIO DTLS engine reads through it.
static inline long stagedoor_bio_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// DTLS over memory BIOs (the WebRTC module's engine): macros over `SSL_ctrl` and friends.
static inline long stagedoor_dtls_get_timeout(SSL *ssl, struct timeval *timeout) {
    return DTLSv1_get_timeout(ssl, timeout);
}
static inline long stagedoor_dtls_handle_timeout(SSL *ssl) {
    return DTLSv1_handle_timeout(ssl);
}
static inline long stagedoor_ssl_set_mtu(SSL *ssl, long mtu) {
    return SSL_set_mtu(ssl, mtu);
}
static inline uint64_t stagedoor_ssl_op_no_query_mtu(void) {
    return SSL_OP_NO_QUERY_MTU;
}
static inline int stagedoor_ssl_ctx_set_dtls12_only(SSL_CTX *context) {
    return SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) == 1
        && SSL_CTX_set_max_proto_version(context, DTLS1_2_VERSION) == 1;
}
static inline long stagedoor_bio_set_mem_eof_return(BIO *bio, long value) {
    return BIO_set_mem_eof_return(bio, value);
}
/// `EVP_EC_gen` is a macro over the variadic `EVP_PKEY_Q_keygen`.
static inline EVP_PKEY *stagedoor_generate_p256_key(void) {
    return EVP_EC_gen("P-256");
}
#endif
