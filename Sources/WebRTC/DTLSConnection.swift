import COpenSSL
import SDP

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which end of the DTLS handshake this side is (RFC 5763 §5, from `a=setup`).
public enum DTLSRole: Hashable, Sendable {
    case client
    case server

    /// `a=setup:active` opens the association (client); `passive` waits for it (server).
    public init?(setup: SetupRole) {
        switch setup {
        case .active: self = .client
        case .passive: self = .server
        case .actpass, .holdconn: return nil
        }
    }
}

/// The DTLS-SRTP protection profiles the bridge offers (RFC 5764 §4.1.2, RFC 7714 §14.2).
public enum SRTPProfile: UInt, Hashable, Sendable, CaseIterable {
    /// SRTP_AES128_CM_HMAC_SHA1_80: every WebRTC stack has it (RFC 8827 §6.5).
    case aes128CMHMACSHA1_80 = 0x0001
    /// SRTP_AEAD_AES_128_GCM (RFC 7714).
    case aeadAES128GCM = 0x0007

    /// Master key length in bytes.
    public var keyLength: Int { 16 }
    /// Master salt length in bytes: 112 bits for AES-CM (RFC 3711 §8.2), 96 for GCM (RFC 7714 §12).
    public var saltLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80: 14
        case .aeadAES128GCM: 12
        }
    }

    /// The name OpenSSL's `use_srtp` list uses.
    var openSSLName: String {
        switch self {
        case .aes128CMHMACSHA1_80: "SRTP_AES128_CM_SHA1_80"
        case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
        }
    }
}

/// The SRTP master keys and salts of one DTLS-SRTP association (RFC 5764 §4.2).
public struct SRTPKeyingMaterial: Hashable, Sendable {
    public var profile: SRTPProfile
    public var clientKey: [UInt8]
    public var clientSalt: [UInt8]
    public var serverKey: [UInt8]
    public var serverSalt: [UInt8]

    public init(
        profile: SRTPProfile, clientKey: [UInt8], clientSalt: [UInt8], serverKey: [UInt8], serverSalt: [UInt8]
    ) {
        self.profile = profile
        self.clientKey = clientKey
        self.clientSalt = clientSalt
        self.serverKey = serverKey
        self.serverSalt = serverSalt
    }

    /// RFC 5764 §4.2: the exporter output is client key | server key | client salt | server salt.
    init?(exported bytes: [UInt8], profile: SRTPProfile) {
        let k = profile.keyLength
        let s = profile.saltLength
        guard bytes.count == 2 * (k + s) else { return nil }
        self.init(
            profile: profile, clientKey: Array(bytes[0..<k]), clientSalt: Array(bytes[(2 * k)..<(2 * k + s)]),
            serverKey: Array(bytes[k..<(2 * k)]), serverSalt: Array(bytes[(2 * k + s)..<(2 * k + 2 * s)]))
    }

    /// The key and salt this side protects with: its own half (RFC 5764 §4.2).
    public func sending(as role: DTLSRole) -> (key: [UInt8], salt: [UInt8]) {
        role == .client ? (clientKey, clientSalt) : (serverKey, serverSalt)
    }

    /// The key and salt the peer protects with.
    public func receiving(as role: DTLSRole) -> (key: [UInt8], salt: [UInt8]) {
        role == .client ? (serverKey, serverSalt) : (clientKey, clientSalt)
    }
}

/// Why a DTLS association failed.
public enum DTLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The local certificate could not be made.
    case certificate(String)
    /// OpenSSL refused the context or connection settings.
    case setup(String)
    /// The peer's certificate does not match any `a=fingerprint` of its SDP (RFC 8122 §5,
    /// RFC 5763 §5): the handshake is aborted with a bad_certificate alert.
    case fingerprintMismatch
    /// The peer presented no certificate.
    case noPeerCertificate
    /// The peer did not agree on an SRTP protection profile (RFC 5764 §4.1.1).
    case noSRTPProfile
    /// The keying material exporter failed.
    case exporter
    /// Any other handshake failure (an alert, a protocol error), with OpenSSL's text.
    case handshake(String)

    public var description: String {
        switch self {
        case .certificate(let text): "DTLS certificate: \(text)"
        case .setup(let text): "DTLS setup: \(text)"
        case .fingerprintMismatch: "the peer's DTLS certificate does not match the SDP fingerprint"
        case .noPeerCertificate: "the peer presented no DTLS certificate"
        case .noSRTPProfile: "no common SRTP protection profile"
        case .exporter: "DTLS keying material export failed"
        case .handshake(let text): "DTLS handshake failed: \(text)"
        }
    }
}

/// One DTLS 1.2 association for DTLS-SRTP (RFC 5764, RFC 8842), driven through OpenSSL memory
/// BIOs in the shape of swift-nio-ssl's `SSLConnection`: the caller feeds received datagrams
/// with `receive(_:)`, sends what `takeDatagrams()` returns, and calls `handleTimeout()` when
/// `timeoutRemaining()` elapses. No socket, no thread.
///
/// OpenSSL keeps the retransmission timer on its own clock; the engine only reports it. The
/// association carries no application data: once connected it yields SRTP keys, and later
/// datagrams are read only to notice close_notify and alerts.
public final class DTLSConnection {
    public enum State: Hashable, Sendable {
        case handshaking
        /// Handshake done, peer fingerprint verified, keys exported.
        case connected
        case failed(DTLSError)
        /// The peer sent close_notify, or `close()` was called.
        case closed
    }

    public let role: DTLSRole
    /// The largest datagram `takeDatagrams()` returns (unless one DTLS record is longer).
    public let maximumDatagramSize: Int
    public private(set) var state: State = .handshaking
    /// Set when `state` becomes `.connected`.
    public private(set) var keyingMaterial: SRTPKeyingMaterial?
    /// The SHA-256 fingerprint of the certificate the peer presented.
    public private(set) var peerFingerprint: Fingerprint?

    private let remoteFingerprints: [Fingerprint]
    private let certificate: DTLSCertificate
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private var outgoing: [[UInt8]] = []
    /// Set by the verify callback.
    fileprivate var fingerprintChecked = false
    fileprivate var fingerprintRejected = false

    /// - Parameters:
    ///   - remoteFingerprints: the `a=fingerprint` values of the peer's SDP; its certificate
    ///     must match one of them.
    ///   - profiles: SRTP protection profiles offered or accepted, in order of preference.
    ///   - maximumDatagramSize: 1200 keeps handshake flights below any path MTU with room for
    ///     TURN's overhead.
    public init(
        role: DTLSRole, certificate: DTLSCertificate, remoteFingerprints: [Fingerprint],
        profiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80], maximumDatagramSize: Int = 1200
    ) throws(DTLSError) {
        guard let context = SSL_CTX_new(DTLS_method()) else { throw .setup("SSL_CTX_new: \(openSSLErrors())") }
        var failure: String?
        if stagedoor_ssl_ctx_set_dtls12_only(context) != 1 { failure = "DTLS 1.2 only" }
        if SSL_CTX_use_certificate(context, certificate.certificate) != 1 { failure = "use certificate" }
        if SSL_CTX_use_PrivateKey(context, certificate.key) != 1 { failure = "use private key" }
        // Returns 0 on success, unlike most of OpenSSL.
        if SSL_CTX_set_tlsext_use_srtp(context, profiles.map(\.openSSLName).joined(separator: ":")) != 0 {
            failure = "use_srtp"
        }
        // Both sides present and check certificates (RFC 5763 §5); chains are not checked, the
        // fingerprint is.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtlsVerifyCallback)
        guard failure == nil, let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .setup("\(failure ?? "SSL_new"): \(openSSLErrors())")
        }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .setup("BIO_new")
        }
        // An empty memory BIO reads as "retry later", not end of file.
        stagedoor_bio_set_mem_eof_return(readBIO, -1)
        stagedoor_bio_set_mem_eof_return(writeBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL owns both BIOs from here
        SSL_set_options(ssl, stagedoor_ssl_op_no_query_mtu())
        stagedoor_ssl_set_mtu(ssl, maximumDatagramSize - 28)  // minus IPv4 + UDP headers
        if role == .client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }

        self.role = role
        self.certificate = certificate
        self.remoteFingerprints = remoteFingerprints
        self.maximumDatagramSize = maximumDatagramSize
        self.context = context
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Starts the handshake: the client's ClientHello is then in `takeDatagrams()`. A server
    /// needs no call (its first `receive` starts it), but calling it does no harm.
    public func start() {
        advance()
    }

    /// Feeds one received DTLS datagram (RFC 7983: first byte 20…63) and advances.
    public func receive(_ datagram: UnsafeRawBufferPointer) {
        guard state == .handshaking || state == .connected, let base = datagram.baseAddress, !datagram.isEmpty else {
            return
        }
        _ = BIO_write(readBIO, base, Int32(datagram.count))
        advance()
    }

    /// As `receive(_:)`, for bytes in an array.
    public func receive(_ datagram: [UInt8]) {
        datagram.withUnsafeBytes { receive($0) }
    }

    /// The datagrams to send to the peer, oldest first; each at most `maximumDatagramSize`
    /// unless one record is longer.
    public func takeDatagrams() -> [[UInt8]] {
        defer { outgoing.removeAll() }
        return outgoing
    }

    /// How long until OpenSSL wants to retransmit a handshake flight; nil when no timer runs.
    public func timeoutRemaining() -> Duration? {
        guard state == .handshaking else { return nil }
        var remaining = timeval()
        guard stagedoor_dtls_get_timeout(ssl, &remaining) == 1 else { return nil }
        return .seconds(Int64(remaining.tv_sec)) + .microseconds(Int64(remaining.tv_usec))
    }

    /// Retransmits the last flight when its timer expired (RFC 6347 §4.2.4).
    public func handleTimeout() {
        guard state == .handshaking else { return }
        if stagedoor_dtls_handle_timeout(ssl) < 0 {
            state = .failed(.handshake("retransmission limit reached: \(openSSLErrors())"))
        }
        collectOutput()
    }

    /// Sends close_notify (in `takeDatagrams()`) and closes.
    public func close() {
        if state == .connected { _ = SSL_shutdown(ssl) }
        if case .failed = state {} else { state = .closed }
        collectOutput()
    }

    private func advance() {
        ERR_clear_error()
        switch state {
        case .handshaking:
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                completeHandshake()
                if state == .connected { drainApplicationData() }
            } else {
                let error = SSL_get_error(ssl, result)
                if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                    let text = openSSLErrors()
                    state = .failed(fingerprintRejected ? .fingerprintMismatch : .handshake(text))
                }
            }
        case .connected:
            drainApplicationData()
        case .failed, .closed:
            break
        }
        collectOutput()
    }

    private func completeHandshake() {
        // The verify callback has run for the leaf certificate; check again here so that no
        // path through OpenSSL yields keys without a verified fingerprint.
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            state = .failed(.noPeerCertificate)
            return
        }
        defer { X509_free(peer) }
        guard fingerprintChecked, matchesRemoteFingerprint(peer) else {
            state = .failed(.fingerprintMismatch)
            return
        }
        peerFingerprint = digest(of: peer, hashFunction: "sha-256").map { Fingerprint(bytes: $0) }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
            let profile = SRTPProfile(rawValue: UInt(selected.pointee.id))
        else {
            state = .failed(.noSRTPProfile)
            return
        }
        let label = "EXTRACTOR-dtls_srtp"
        var exported = [UInt8](repeating: 0, count: 2 * (profile.keyLength + profile.saltLength))
        let status = SSL_export_keying_material(
            ssl, &exported, exported.count, label, label.utf8.count, nil, 0, 0)
        guard status == 1, let material = SRTPKeyingMaterial(exported: exported, profile: profile) else {
            state = .failed(.exporter)
            return
        }
        keyingMaterial = material
        state = .connected
    }

    /// Reads (and discards) application data, which DTLS-SRTP does not use, to process alerts.
    private func drainApplicationData() {
        var scratch = [UInt8](repeating: 0, count: 2048)
        while true {
            let count = SSL_read(ssl, &scratch, Int32(scratch.count))
            if count > 0 { continue }
            let error = SSL_get_error(ssl, count)
            if error == SSL_ERROR_ZERO_RETURN {
                state = .closed
            } else if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                state = .failed(.handshake(openSSLErrors()))
            }
            return
        }
    }

    /// Moves what OpenSSL wrote into datagrams. A memory BIO loses the boundaries between
    /// OpenSSL's writes, so the records are split again by their headers (RFC 6347 §4.1: 13
    /// bytes, length in the last two) and packed up to `maximumDatagramSize`.
    private func collectOutput() {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        guard pending > 0 else { return }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = Int(BIO_read(writeBIO, &bytes, Int32(pending)))
        guard read > 0 else { return }
        var datagram: [UInt8] = []
        var offset = 0
        while offset < read {
            var end = read
            if offset + 13 <= read {
                let length = Int(bytes[offset + 11]) << 8 | Int(bytes[offset + 12])
                end = min(read, offset + 13 + length)
            }
            if !datagram.isEmpty, datagram.count + (end - offset) > maximumDatagramSize {
                outgoing.append(datagram)
                datagram.removeAll(keepingCapacity: true)
            }
            datagram.append(contentsOf: bytes[offset..<end])
            offset = end
        }
        if !datagram.isEmpty { outgoing.append(datagram) }
    }

    /// Whether `certificate` (an `X509 *`) matches one of the SDP's fingerprints.
    fileprivate func matchesRemoteFingerprint(_ certificate: OpaquePointer) -> Bool {
        remoteFingerprints.contains { expected in
            guard let actual = digest(of: certificate, hashFunction: expected.hashFunction) else { return false }
            return actual == expected.bytes
        }
    }

    /// Called from the verify callback for the leaf certificate.
    fileprivate func verifyLeaf(_ certificate: OpaquePointer) -> Bool {
        fingerprintChecked = true
        let matches = matchesRemoteFingerprint(certificate)
        if !matches { fingerprintRejected = true }
        return matches
    }
}

/// OpenSSL's certificate verification callback: the chain is irrelevant (WebRTC certificates
/// are self-signed, RFC 8827 §6.5); the leaf must match the SDP fingerprint.
private func dtlsVerifyCallback(_ preverified: Int32, _ store: OpaquePointer?) -> Int32 {
    guard let store,
        let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let connectionPointer = SSL_get_ex_data(OpaquePointer(sslPointer), 0)
    else { return 0 }
    guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
    guard let leaf = X509_STORE_CTX_get_current_cert(store) else { return 0 }
    let connection = Unmanaged<DTLSConnection>.fromOpaque(connectionPointer).takeUnretainedValue()
    return connection.verifyLeaf(leaf) ? 1 : 0
}
