import STUN

/// A point in time, in nanoseconds of a monotonic clock the caller reads (NIO's
/// `NIODeadline.uptimeNanoseconds`, `DispatchTime.uptimeNanoseconds`). The protocol engines
/// never read a clock themselves, so tests drive them faster than real time.
public typealias MonotonicNanoseconds = UInt64

/// The ICE-lite side of one WebRTC leg (RFC 8445 §2.5): it never sends checks, it answers the
/// full agent's Binding requests (§7.3), takes the pair the controlling agent nominates with
/// USE-CANDIDATE (§7.3.1.5, §8.2) and watches consent freshness (RFC 7675).
///
/// One component (RTP and RTCP multiplexed, RFC 5761), one data stream, UDP host candidates.
/// The agent is always controlled (a lite agent never takes the controlling role, §6.1.1).
public struct ICELiteAgent: Sendable {
    /// What the agent knows about the leg.
    public enum State: Hashable, Sendable {
        /// No pair nominated yet.
        case checking
        /// A pair is nominated and consent is fresh: media may flow to `selectedRemote`.
        case connected
        /// A pair was nominated but no valid check arrived within the consent timeout
        /// (RFC 7675 §5.1): media must stop; the session may be torn down.
        case consentExpired
        /// No pair was nominated within `establishmentTimeout` of the agent's creation.
        case failed
    }

    /// What to do with one received STUN datagram.
    public enum Outcome: Hashable, Sendable {
        /// Send these bytes back to the datagram's source (a success or an error response).
        case respond([UInt8])
        /// Discard the datagram silently (RFC 8445 §7.3, RFC 8489 §6.3: no response is sent).
        case discard(DiscardReason)
    }

    /// Why a datagram got no response; for counters and debug logs.
    public enum DiscardReason: Hashable, Sendable {
        /// Not a STUN message at all, or one that fails to decode.
        case malformed
        /// FINGERPRINT missing or wrong: ICE requires it (RFC 8445 §7.2.2), RFC 7983 relies on it.
        case badFingerprint
        /// A response or an indication: a lite agent sends no requests, and Binding indications
        /// are keepalives that need no answer (RFC 8445 §11).
        case notARequest
        /// A request other than Binding.
        case unsupportedMethod
    }

    /// `localUfrag` and `localPassword` are the agent's own (in the answer SDP); the remote ones
    /// come from the offer (RFC 8839 §5.4).
    public let localUsernameFragment: String
    public let remoteUsernameFragment: String
    private let localKey: [UInt8]
    /// How long consent lasts after a valid check: 30 s (RFC 7675 §5.1).
    public let consentTimeout: UInt64
    /// How long the full agent has to nominate a pair before the leg counts as failed. RFC 8445
    /// leaves it to the application; 30 s covers a slow TURN allocation.
    public let establishmentTimeout: UInt64
    private let createdAt: MonotonicNanoseconds

    /// The nominated remote address: media goes only there, and anything from elsewhere that is
    /// not a STUN check is dropped.
    public private(set) var selectedRemote: TransportAddress?
    /// The PRIORITY the nominating check carried.
    public private(set) var selectedPriority: UInt32?
    /// When the last valid check from `selectedRemote` arrived.
    public private(set) var lastConsent: MonotonicNanoseconds?
    /// Counters, for `status`.
    public private(set) var validChecks = 0
    public private(set) var rejectedChecks = 0

    public init(
        localUsernameFragment: String, localPassword: String, remoteUsernameFragment: String,
        now: MonotonicNanoseconds, consentTimeout: UInt64 = 30_000_000_000,
        establishmentTimeout: UInt64 = 30_000_000_000
    ) {
        self.localUsernameFragment = localUsernameFragment
        self.remoteUsernameFragment = remoteUsernameFragment
        self.localKey = STUNCredentials.shortTermKey(password: localPassword)
        self.consentTimeout = consentTimeout
        self.establishmentTimeout = establishmentTimeout
        self.createdAt = now
    }

    /// The state at `now`.
    public func state(now: MonotonicNanoseconds) -> State {
        guard selectedRemote != nil, let lastConsent else {
            return now &- createdAt >= establishmentTimeout ? .failed : .checking
        }
        return now &- lastConsent >= consentTimeout ? .consentExpired : .connected
    }

    /// Whether media (SRTP, DTLS) may be sent at `now`: a pair is selected and consent is fresh
    /// (RFC 7675 §5.1: "stop sending … when consent expires").
    public func maySend(now: MonotonicNanoseconds) -> Bool {
        state(now: now) == .connected
    }

    /// Whether a non-STUN datagram (DTLS, SRTP, SRTCP) from `source` belongs to this leg: only
    /// the selected remote's are accepted (RFC 8445 §11: media on the selected pair).
    public func acceptsMedia(from source: TransportAddress) -> Bool {
        selectedRemote == source
    }

    /// When `state(now:)` will next change by itself: consent expiry, or the establishment
    /// deadline. The driver arms a timer for it.
    public var nextDeadline: MonotonicNanoseconds {
        if let lastConsent, selectedRemote != nil { return lastConsent &+ consentTimeout }
        return createdAt &+ establishmentTimeout
    }

    /// Handles one datagram that `MultiplexedPacketKind` classified as STUN, from `source`.
    public mutating func handle(
        _ datagram: UnsafeRawBufferPointer, from source: TransportAddress, now: MonotonicNanoseconds
    ) -> Outcome {
        let parsed: ParsedSTUNMessage
        do {
            parsed = try STUNCodec.decode(datagram)
        } catch {
            return .discard(.malformed)
        }
        return handle(parsed, from: source, now: now)
    }

    /// As `handle(_:from:now:)`, for bytes in an array.
    public mutating func handle(
        _ datagram: [UInt8], from source: TransportAddress, now: MonotonicNanoseconds
    ) -> Outcome {
        datagram.withUnsafeBytes { handle($0, from: source, now: now) }
    }

    private mutating func handle(
        _ parsed: ParsedSTUNMessage, from source: TransportAddress, now: MonotonicNanoseconds
    ) -> Outcome {
        let message = parsed.message
        // RFC 8445 §7.2.2 / RFC 7983: an ICE check without a good FINGERPRINT is not one.
        guard parsed.fingerprintValid == true else { return .discard(.badFingerprint) }
        guard message.type.messageClass == .request else { return .discard(.notARequest) }
        guard message.type.method == .binding else {
            // RFC 8489 §6.3.1: an unknown method in a request gets 400.
            return .respond(error(.badRequest, to: message))
        }

        // RFC 8489 §9.1.3: no MESSAGE-INTEGRITY or no USERNAME → 400; a username that is not
        // ours or an integrity that does not verify → 401. Neither response carries integrity.
        guard let username = message.username, parsed.hasMessageIntegrity else {
            rejectedChecks += 1
            return .respond(error(.badRequest, to: message))
        }
        // RFC 8445 §7.3: USERNAME is "<local ufrag>:<remote ufrag>" from the receiver's side.
        guard username == "\(localUsernameFragment):\(remoteUsernameFragment)",
            parsed.verifyMessageIntegrity(key: localKey)
        else {
            rejectedChecks += 1
            return .respond(error(.unauthorized, to: message))
        }
        // RFC 8445 §7.1.1: every check carries PRIORITY; one without is malformed.
        guard message.priority != nil else {
            rejectedChecks += 1
            return .respond(error(.badRequest, to: message))
        }
        // RFC 8489 §6.3.1.1: comprehension-required attributes we do not know → 420.
        if !parsed.unknownComprehensionRequired.isEmpty {
            rejectedChecks += 1
            var response = STUNMessage(
                type: .bindingError, transactionID: message.transactionID,
                attributes: [
                    .errorCode(.unknownAttribute), .unknownAttributes(parsed.unknownComprehensionRequired),
                ])
            response.attributes.append(.software("stagedoor"))
            return .respond(response.encode(integrity: STUNIntegrity(key: localKey), fingerprint: true))
        }
        // RFC 8445 §7.3.1.1: a lite agent is controlled; a peer that claims to be controlled too
        // is told of the conflict (487) so that it switches to controlling.
        if message.iceControlled != nil, message.iceControlling == nil {
            rejectedChecks += 1
            return .respond(
                STUNMessage(
                    type: .bindingError, transactionID: message.transactionID,
                    attributes: [.errorCode(.roleConflict)]
                ).encode(integrity: STUNIntegrity(key: localKey), fingerprint: true))
        }

        validChecks += 1
        // RFC 8445 §7.3.1.5 (nomination) and §8.2: the lite agent takes the pair the controlling
        // agent nominates. A later nomination (an ICE restart of the path, a network change on a
        // phone) replaces it, as browsers renominate.
        if message.useCandidate {
            if selectedRemote != source {
                selectedRemote = source
                selectedPriority = message.priority
            }
            lastConsent = now
        } else if source == selectedRemote {
            // RFC 7675 §5.1: each valid check on the selected pair renews consent.
            lastConsent = now
        }

        // RFC 8445 §7.3.1.2 / RFC 8489 §14.2: the success response carries the source as seen here.
        let response = STUNMessage(
            type: .bindingSuccess, transactionID: message.transactionID,
            attributes: [.xorMappedAddress(source)])
        return .respond(response.encode(integrity: STUNIntegrity(key: localKey), fingerprint: true))
    }

    /// 400 and 401 carry no MESSAGE-INTEGRITY (RFC 8489 §9.1.3), only FINGERPRINT.
    private func error(_ code: STUNErrorCode, to request: STUNMessage) -> [UInt8] {
        STUNMessage(
            type: STUNMessageType(method: request.type.method, messageClass: .errorResponse),
            transactionID: request.transactionID, attributes: [.errorCode(code)]
        ).encode(fingerprint: true)
    }
}
