import STUN
import Testing

@testable import WebRTC

/// RFC 8445 §7.3 responder behaviour and RFC 7675 consent, driven with synthetic checks.
struct ICELiteAgentTests {
    static let localUfrag = "brdg"
    static let localPassword = "bridge-password-0123456789"
    static let remoteUfrag = "pnl1"
    static let second: UInt64 = 1_000_000_000
    let panel = TransportAddress(ipv4: (192, 0, 2, 10), port: 50_000)
    let other = TransportAddress(ipv4: (192, 0, 2, 99), port: 50_001)

    func agent(now: UInt64 = 0) -> ICELiteAgent {
        ICELiteAgent(
            localUsernameFragment: Self.localUfrag, localPassword: Self.localPassword,
            remoteUsernameFragment: Self.remoteUfrag, now: now)
    }

    func check(
        username: String? = "\(localUfrag):\(remoteUfrag)", password: String? = localPassword,
        useCandidate: Bool = false, controlling: Bool = true, fingerprint: Bool = true, priority: Bool = true
    ) -> (bytes: [UInt8], transaction: TransactionID) {
        var attributes: [STUNAttribute] = []
        if let username { attributes.append(.username(username)) }
        if priority { attributes.append(.priority(1_853_824_767)) }
        attributes.append(controlling ? .iceControlling(42) : .iceControlled(42))
        if useCandidate { attributes.append(.useCandidate) }
        let message = STUNMessage(type: .bindingRequest, transactionID: .random(), attributes: attributes)
        let bytes = message.encode(
            integrity: password.map { STUNIntegrity.shortTerm(password: $0) }, fingerprint: fingerprint)
        return (bytes, message.transactionID)
    }

    func response(_ outcome: ICELiteAgent.Outcome) throws -> ParsedSTUNMessage {
        guard case .respond(let bytes) = outcome else {
            Issue.record("expected a response, got \(outcome)")
            throw CancellationError()
        }
        return try STUNCodec.decode(bytes)
    }

    @Test func answersAValidCheckWithItsSourceIntegrityAndFingerprint() throws {
        var ice = agent()
        let request = check()
        let parsed = try response(ice.handle(request.bytes, from: panel, now: 1))
        #expect(parsed.message.type == .bindingSuccess)
        #expect(parsed.message.transactionID == request.transaction)
        #expect(parsed.message.xorMappedAddress == panel)
        #expect(parsed.verifyMessageIntegrity(key: STUNCredentials.shortTermKey(password: Self.localPassword)))
        #expect(parsed.fingerprintValid == true)
        // No USE-CANDIDATE: nothing selected, media still refused.
        #expect(ice.selectedRemote == nil)
        #expect(ice.state(now: 1) == .checking)
        #expect(!ice.maySend(now: 1))
        #expect(ice.validChecks == 1)
    }

    @Test func useCandidateSelectsThePairAndOnlyItsSourceCarriesMedia() throws {
        var ice = agent()
        _ = try response(ice.handle(check(useCandidate: true).bytes, from: panel, now: 5))
        #expect(ice.selectedRemote == panel)
        #expect(ice.state(now: 5) == .connected)
        #expect(ice.maySend(now: 5))
        #expect(ice.acceptsMedia(from: panel))
        #expect(!ice.acceptsMedia(from: other))
        // A later nomination from another address (a network change) moves the pair.
        _ = try response(ice.handle(check(useCandidate: true).bytes, from: other, now: 6))
        #expect(ice.selectedRemote == other)
        #expect(!ice.acceptsMedia(from: panel))
    }

    @Test func consentExpiresThirtySecondsAfterTheLastValidCheck() throws {
        var ice = agent()
        _ = try response(ice.handle(check(useCandidate: true).bytes, from: panel, now: 0))
        #expect(ice.maySend(now: 29 * Self.second))
        #expect(ice.nextDeadline == 30 * Self.second)
        // A check from elsewhere does not renew the selected pair's consent.
        _ = try response(ice.handle(check().bytes, from: other, now: 20 * Self.second))
        #expect(!ice.maySend(now: 30 * Self.second))
        #expect(ice.state(now: 30 * Self.second) == .consentExpired)
        // A valid check on the selected pair restores it (RFC 7675 §5.1).
        _ = try response(ice.handle(check().bytes, from: panel, now: 31 * Self.second))
        #expect(ice.maySend(now: 31 * Self.second))
        #expect(ice.nextDeadline == 61 * Self.second)
        // A rejected check does not.
        _ = ice.handle(check(password: "wrong-password-000000000").bytes, from: panel, now: 60 * Self.second)
        #expect(!ice.maySend(now: 61 * Self.second))
    }

    @Test func wrongPasswordGets401WithoutIntegrityAndSelectsNothing() throws {
        var ice = agent()
        let parsed = try response(
            ice.handle(check(password: "not-the-password-0123456", useCandidate: true).bytes, from: panel, now: 0))
        #expect(parsed.message.type == .bindingError)
        #expect(parsed.message.errorCode?.code == 401)
        #expect(!parsed.hasMessageIntegrity)
        #expect(parsed.fingerprintValid == true)
        #expect(ice.selectedRemote == nil)
        #expect(ice.rejectedChecks == 1)
    }

    @Test func wrongUsernameGets401() throws {
        var ice = agent()
        for username in ["\(Self.localUfrag):other", "other:\(Self.remoteUfrag)", Self.localUfrag] {
            let parsed = try response(ice.handle(check(username: username).bytes, from: panel, now: 0))
            #expect(parsed.message.errorCode?.code == 401, "\(username)")
        }
    }

    @Test func missingUsernameOrIntegrityGets400() throws {
        var ice = agent()
        let noUsername = try response(ice.handle(check(username: nil).bytes, from: panel, now: 0))
        #expect(noUsername.message.errorCode?.code == 400)
        let noIntegrity = try response(ice.handle(check(password: nil).bytes, from: panel, now: 0))
        #expect(noIntegrity.message.errorCode?.code == 400)
        let noPriority = try response(ice.handle(check(useCandidate: true, priority: false).bytes, from: panel, now: 0))
        #expect(noPriority.message.errorCode?.code == 400)
        #expect(ice.selectedRemote == nil)
    }

    @Test func badOrMissingFingerprintIsDroppedSilently() {
        var ice = agent()
        #expect(ice.handle(check(fingerprint: false).bytes, from: panel, now: 0) == .discard(.badFingerprint))
        var corrupted = check().bytes
        corrupted[corrupted.count - 1] ^= 0xFF
        #expect(ice.handle(corrupted, from: panel, now: 0) == .discard(.badFingerprint))
        #expect(
            ice.handle([0x80, 0x60, 0, 1] + [UInt8](repeating: 0, count: 20), from: panel, now: 0)
                == .discard(.malformed))
    }

    @Test func responsesAndIndicationsAreNotAnswered() {
        var ice = agent()
        let indication = STUNMessage(type: .bindingIndication, transactionID: .random()).encode(fingerprint: true)
        #expect(ice.handle(indication, from: panel, now: 0) == .discard(.notARequest))
        let success = STUNMessage(
            type: .bindingSuccess, transactionID: .random(), attributes: [.xorMappedAddress(panel)]
        )
        .encode(fingerprint: true)
        #expect(ice.handle(success, from: panel, now: 0) == .discard(.notARequest))
    }

    @Test func aPeerThatAlsoClaimsControlledGets487() throws {
        var ice = agent()
        let parsed = try response(ice.handle(check(controlling: false).bytes, from: panel, now: 0))
        #expect(parsed.message.errorCode?.code == 487)
    }

    @Test func aLegNeverNominatedFailsAfterTheEstablishmentTimeout() throws {
        var ice = agent(now: 100)
        #expect(ice.state(now: 100 + 29 * Self.second) == .checking)
        #expect(ice.nextDeadline == 100 + 30 * Self.second)
        #expect(ice.state(now: 100 + 30 * Self.second) == .failed)
        _ = try response(ice.handle(check().bytes, from: panel, now: 100 + 31 * Self.second))
        #expect(ice.state(now: 100 + 31 * Self.second) == .failed)
    }
}
