#ifndef STAGEDOOR_CSRTPCRYPTO_H
#define STAGEDOOR_CSRTPCRYPTO_H

/// Plugs OpenSSL's AES-CTR, AES-GCM and SHA-1 into libsrtp2 in place of the primitives it was
/// built with (Debian builds it over NSS, which allocates several times per packet), through
/// libsrtp's own extension points: srtp_replace_cipher_type and srtp_replace_auth_type. libsrtp
/// keeps doing SRTP itself (key derivation, packet index and rollover, replay window, the
/// transforms); only AES_ICM_128, AES_GCM_128 and HMAC_SHA1 change hands, and libsrtp checks
/// each replacement against its own known-answer tests before it takes it.
///
/// Call once, after srtp_init. Returns 0 when all three were taken, else the first libsrtp
/// error (the primitives not yet replaced stay libsrtp's own: correct, only slower).
int stagedoor_srtp_use_openssl_crypto(void);

#endif
