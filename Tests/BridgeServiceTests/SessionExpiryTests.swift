import Testing

@testable import BridgeService
@testable import Configuration

/// The bridge's own session deadlines (`bridge.sessions`), with time as an input.
struct SessionExpiryTests {
    static let second: UInt64 = 1_000_000_000
    let expiry = SessionExpiry(BridgeSessionTimeouts(establishmentMilliseconds: 2_000, consentMilliseconds: 10_000))

    @Test func aSessionThatNeverConnectsEndsAtTheEstablishmentDeadline() {
        let created = 100 * Self.second
        #expect(expiry.verdict(createdAt: created, connected: false, lastConsent: nil, now: created) == nil)
        #expect(
            expiry.verdict(createdAt: created, connected: false, lastConsent: nil, now: created + Self.second) == nil)
        #expect(
            expiry.verdict(createdAt: created, connected: false, lastConsent: nil, now: created + 2 * Self.second)
                == .notEstablished(milliseconds: 2_000))
        // ICE nominated a pair but DTLS never finished: still not established.
        #expect(
            expiry.verdict(
                createdAt: created, connected: false, lastConsent: created + Self.second, now: created + 3 * Self.second
            )
                == .notEstablished(milliseconds: 2_000))
    }

    @Test func aConnectedSessionLivesOnConsent() {
        let created = 5 * Self.second
        let consent = created + 20 * Self.second
        // Long past the establishment deadline, fresh consent keeps it.
        #expect(
            expiry.verdict(createdAt: created, connected: true, lastConsent: consent, now: consent + 9 * Self.second)
                == nil)
        #expect(
            expiry.verdict(createdAt: created, connected: true, lastConsent: consent, now: consent + 10 * Self.second)
                == .consentExpired(milliseconds: 10_000))
        #expect(SessionExpiry.Reason.consentExpired(milliseconds: 10_000).description.contains("consent"))
    }

    @Test func defaultsAreTheICEAgentsThirtySeconds() {
        let defaults = SessionExpiry(BridgeSessionTimeouts())
        #expect(defaults.establishment == 30 * Self.second)
        #expect(defaults.consent == 30 * Self.second)
    }
}
