import COpenSSL
import SDP

/// The bridge's DTLS identity (RFC 8827 §6.5): a self-signed ECDSA P-256 certificate made at
/// startup, whose SHA-256 fingerprint goes into every answer's `a=fingerprint` (RFC 8122 §5).
/// WebRTC certificates are authenticated by that fingerprint, not by a chain, so the subject
/// is a placeholder.
///
/// Immutable once made; OpenSSL reference-counts the key and certificate, so one instance is
/// shared by every `DTLSConnection`.
public final class DTLSCertificate: @unchecked Sendable {
    /// `EVP_PKEY *`.
    let key: OpaquePointer
    /// `X509 *`.
    let certificate: OpaquePointer
    /// SHA-256 of the certificate's DER encoding, as the SDP carries it.
    public let fingerprint: Fingerprint

    /// Makes a fresh key pair and certificate, valid from a day ago (clock skew) for
    /// `validityDays` days.
    public init(commonName: String = "stagedoor", validityDays: Int = 30) throws(DTLSError) {
        guard let key = stagedoor_generate_p256_key() else {
            throw .certificate("P-256 key generation failed: \(openSSLErrors())")
        }
        guard let certificate = X509_new() else {
            EVP_PKEY_free(key)
            throw .certificate("X509_new failed")
        }
        var ok = X509_set_version(certificate, 2) == 1  // X.509 v3
        ok = ok && ASN1_INTEGER_set_uint64(X509_get_serialNumber(certificate), UInt64.random(in: 1...(1 << 62))) == 1
        ok = ok && X509_gmtime_adj(X509_getm_notBefore(certificate), -86_400) != nil
        ok = ok && X509_gmtime_adj(X509_getm_notAfter(certificate), validityDays * 86_400) != nil
        ok = ok && X509_set_pubkey(certificate, key) == 1
        let name = X509_get_subject_name(certificate)
        let cn = Array(commonName.utf8)
        // MBSTRING_ASC is (MBSTRING_FLAG | 1) = 0x1001.
        ok = ok && X509_NAME_add_entry_by_txt(name, "CN", 0x1001, cn, Int32(cn.count), -1, 0) == 1
        ok = ok && X509_set_issuer_name(certificate, name) == 1
        ok = ok && X509_sign(certificate, key, EVP_sha256()) > 0
        guard ok, let digest = digest(of: certificate, hashFunction: "sha-256") else {
            X509_free(certificate)
            EVP_PKEY_free(key)
            throw .certificate("self-signed certificate: \(openSSLErrors())")
        }
        self.key = key
        self.certificate = certificate
        self.fingerprint = Fingerprint(hashFunction: "sha-256", bytes: digest)
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }
}

/// The digest of a certificate's DER encoding with an RFC 8122 hash function name; nil for a
/// hash function OpenSSL does not offer.
func digest(of certificate: OpaquePointer, hashFunction: String) -> [UInt8]? {
    let md: OpaquePointer?
    switch hashFunction.lowercased() {
    case "sha-1": md = EVP_sha1()
    case "sha-224": md = EVP_sha224()
    case "sha-256": md = EVP_sha256()
    case "sha-384": md = EVP_sha384()
    case "sha-512": md = EVP_sha512()
    default: return nil
    }
    guard let md else { return nil }
    var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard X509_digest(certificate, md, &bytes, &length) == 1 else { return nil }
    return Array(bytes.prefix(Int(length)))
}

/// OpenSSL's error queue as text, emptied.
func openSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        messages.append(String(decoding: text, as: UTF8.self))
    }
    return messages.isEmpty ? "no OpenSSL error" : messages.joined(separator: "; ")
}
