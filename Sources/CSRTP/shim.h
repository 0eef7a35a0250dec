#ifndef STAGEDOOR_CSRTP_SHIM_H
#define STAGEDOOR_CSRTP_SHIM_H
#include <srtp2/srtp.h>

/// A macro alias of `srtp_crypto_policy_set_rtp_default`.
static inline void stagedoor_srtp_policy_aes_cm_128_hmac_sha1_80(srtp_crypto_policy_t *policy) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(policy);
}
#endif
