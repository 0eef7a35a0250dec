#ifndef STAGEDOOR_COPENSSL_SHIM_H
#define STAGEDOOR_COPENSSL_SHIM_H
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

/// `OPENSSL_VERSION_NUMBER` is a macro; Swift sees functions only.
static inline unsigned long stagedoor_openssl_header_version(void) {
    return OPENSSL_VERSION_NUMBER;
}
/// `BIO_get_mem_data` is a macro over `BIO_ctrl`: the memory-BIO DTLS engine reads through it.
static inline long stagedoor_bio_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}
#endif
