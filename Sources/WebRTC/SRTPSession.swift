import CSRTP
import CSRTPCrypto

/// Why libsrtp refused a packet or a key.
public enum SRTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `srtp_init` failed: libsrtp is unusable in this process.
    case libraryUnavailable
    /// The key or salt has the wrong length for the profile.
    case badKey
    /// The buffer has no room for the authentication tag (`SRTPSession.trailerCapacity`).
    case bufferTooSmall
    /// The authentication tag does not verify: tampered, or the wrong key.
    case authenticationFailed
    /// A packet seen before, or too old for the replay window (RFC 3711 §3.3.2).
    case replay
    /// Any other libsrtp status code.
    case status(UInt32)

    public var description: String {
        switch self {
        case .libraryUnavailable: "libsrtp failed to initialise"
        case .badKey: "SRTP key or salt of the wrong length"
        case .bufferTooSmall: "no room in the buffer for the SRTP trailer"
        case .authenticationFailed: "SRTP authentication failed"
        case .replay: "SRTP replayed or too old"
        case .status(let code): "libsrtp error \(code)"
        }
    }

    init(_ status: srtp_err_status_t) {
        switch status {
        case srtp_err_status_auth_fail: self = .authenticationFailed
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: self = .replay
        default: self = .status(status.rawValue)
        }
    }
}

/// `srtp_init` once per process; libsrtp's global state is never shut down. Then OpenSSL's
/// primitives take the place of those libsrtp was built with (`CSRTPCrypto`): Debian's libsrtp2
/// runs over NSS, which allocates several times per packet; libsrtp checks the replacements
/// against its known-answer tests first and keeps its own if one fails.
private let srtpLibrary: (initialised: Bool, openSSLCrypto: Bool) = {
    guard srtp_init() == srtp_err_status_ok else { return (false, false) }
    return (true, stagedoor_srtp_use_openssl_crypto() == 0)
}()
private var srtpInitialised: Bool { srtpLibrary.initialised }

/// SRTP and SRTCP for one WebRTC leg over libsrtp2 (RFC 3711, RFC 7714): one libsrtp session
/// that protects what this side sends with its own DTLS-exported key and one that unprotects
/// what the peer sends with the peer's. Packets are transformed in place in the caller's buffer:
/// nothing is allocated per packet.
///
/// Not thread-safe (libsrtp's sessions are not); one owner, as the leg that uses it.
public final class SRTPSession {
    /// Bytes a buffer must have free after the packet for `protectRTP`/`protectRTCP`:
    /// libsrtp's SRTP_MAX_TRAILER_LEN (tag and MKI) plus SRTCP's 4-byte index.
    public static let trailerCapacity = 16 + 128 + 4

    public let profile: SRTPProfile
    private let outbound: OpaquePointer

    /// Whether libsrtp runs over OpenSSL's AES and SHA-1 (allocation-free) rather than the
    /// primitives it was built with. True unless a replacement failed libsrtp's self-tests.
    public static var usesOpenSSLCrypto: Bool { srtpLibrary.openSSLCrypto }
    private let inbound: OpaquePointer

    /// Keys from DTLS: this side protects with its own half and unprotects with the peer's.
    /// `replayWindow` is in packets (libsrtp's minimum is 64; 1024 tolerates reordering at
    /// 1 ms packets).
    public convenience init(keying: SRTPKeyingMaterial, role: DTLSRole, replayWindow: Int = 1024) throws(SRTPError) {
        let sending = keying.sending(as: role)
        let receiving = keying.receiving(as: role)
        try self.init(
            profile: keying.profile, sendingKey: sending.key, sendingSalt: sending.salt,
            receivingKey: receiving.key, receivingSalt: receiving.salt, replayWindow: replayWindow)
    }

    public init(
        profile: SRTPProfile, sendingKey: [UInt8], sendingSalt: [UInt8], receivingKey: [UInt8],
        receivingSalt: [UInt8], replayWindow: Int = 1024
    ) throws(SRTPError) {
        guard srtpInitialised else { throw .libraryUnavailable }
        guard sendingKey.count == profile.keyLength, receivingKey.count == profile.keyLength,
            sendingSalt.count == profile.saltLength, receivingSalt.count == profile.saltLength
        else { throw .badKey }
        let outbound = try Self.create(
            profile: profile, keyAndSalt: sendingKey + sendingSalt, type: ssrc_any_outbound, window: replayWindow)
        let inbound: OpaquePointer
        do {
            inbound = try Self.create(
                profile: profile, keyAndSalt: receivingKey + receivingSalt, type: ssrc_any_inbound,
                window: replayWindow)
        } catch {
            srtp_dealloc(outbound)
            throw error
        }
        self.profile = profile
        self.outbound = outbound
        self.inbound = inbound
    }

    deinit {
        srtp_dealloc(outbound)
        srtp_dealloc(inbound)
    }

    private static func create(
        profile: SRTPProfile, keyAndSalt: [UInt8], type: srtp_ssrc_type_t, window: Int
    ) throws(SRTPError) -> OpaquePointer {
        var policy = srtp_policy_t()
        switch profile {
        case .aes128CMHMACSHA1_80:
            stagedoor_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtp)
            stagedoor_srtp_policy_aes_cm_128_hmac_sha1_80(&policy.rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = type
        policy.window_size = UInt(max(64, window))
        policy.allow_repeat_tx = 0
        policy.next = nil
        var key = keyAndSalt
        var session: OpaquePointer?
        let status = key.withUnsafeMutableBufferPointer { keyBuffer in
            policy.key = keyBuffer.baseAddress
            return srtp_create(&session, &policy)  // copies the key
        }
        guard status == srtp_err_status_ok, let session else { throw SRTPError(status) }
        return session
    }

    /// Encrypts and authenticates the RTP packet of `length` bytes at the start of `buffer`,
    /// in place; returns the SRTP length. `buffer` needs `trailerCapacity` bytes free after it.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, needsRoom: true) { srtp_protect(outbound, $0, $1) }
    }

    /// Verifies and decrypts the SRTP packet of `length` bytes in place; returns the RTP length.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, needsRoom: false) { srtp_unprotect(inbound, $0, $1) }
    }

    /// As `protectRTP`, for an RTCP compound packet (RFC 3711 §3.4).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, needsRoom: true) { srtp_protect_rtcp(outbound, $0, $1) }
    }

    /// As `unprotectRTP`, for SRTCP.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try transform(buffer, length: length, needsRoom: false) { srtp_unprotect_rtcp(inbound, $0, $1) }
    }

    @inline(__always)
    private func transform(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, needsRoom: Bool,
        _ body: (UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> srtp_err_status_t
    ) throws(SRTPError) -> Int {
        guard let base = buffer.baseAddress, length > 0, length <= buffer.count,
            !needsRoom || buffer.count - length >= Self.trailerCapacity
        else { throw .bufferTooSmall }
        var result = Int32(length)
        let status = body(base, &result)
        guard status == srtp_err_status_ok else { throw SRTPError(status) }
        return Int(result)
    }
}
