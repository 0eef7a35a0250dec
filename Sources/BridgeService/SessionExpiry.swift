import Configuration

/// When the bridge retires a panel session by itself, from `bridge.sessions` (pure: time is an
/// input). The leg's ICE agent keeps its own limits (30 s each); these end a session sooner when
/// the configuration asks for it.
struct SessionExpiry: Sendable, Equatable {
    /// ICE and DTLS must both complete within this of the session's creation.
    var establishment: UInt64
    /// A connected session ends when the last consent check (RFC 7675 §5.1) is this old.
    var consent: UInt64

    init(establishment: UInt64, consent: UInt64) {
        self.establishment = establishment
        self.consent = consent
    }

    init(_ timeouts: BridgeSessionTimeouts) {
        establishment = UInt64(timeouts.establishmentMilliseconds) * 1_000_000
        consent = UInt64(timeouts.consentMilliseconds) * 1_000_000
    }

    /// Why a session is over.
    enum Reason: Hashable, Sendable, CustomStringConvertible {
        case notEstablished(milliseconds: UInt64)
        case consentExpired(milliseconds: UInt64)

        var description: String {
            switch self {
            case .notEstablished(let milliseconds): "ICE and DTLS did not complete within \(milliseconds) ms"
            case .consentExpired(let milliseconds): "no ICE consent from the panel for \(milliseconds) ms"
            }
        }
    }

    /// Nil while the session may live. `connected`: the leg has had its media path (ICE, DTLS,
    /// SRTP) at least once; `lastConsent`: the last valid check on the selected pair.
    func verdict(
        createdAt: UInt64, connected: Bool, lastConsent: UInt64?, now: UInt64
    ) -> Reason? {
        if let lastConsent, connected {
            return now &- lastConsent >= consent ? .consentExpired(milliseconds: consent / 1_000_000) : nil
        }
        return now &- createdAt >= establishment ? .notEstablished(milliseconds: establishment / 1_000_000) : nil
    }
}
