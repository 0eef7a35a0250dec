import STUN
import TURN
import Testing

/// The TURN core (RFC 8656 over RFC 8489), driven as the UDP/TCP driver drives it: bytes and
/// time in, decoded responses and routing decisions out. Every response is decoded and, when
/// the request was authenticated, its MESSAGE-INTEGRITY is checked with the client's key.
struct AllocationServerTests {
    // MARK: - Binding (RFC 8489 §6.3.1)

    @Test func bindingReflectsTheClientAddressWithoutAuthentication() throws {
        var server = Fixture.server()
        let client = Fixture.alice()
        let reply = try client.once(.binding, to: &server, at: TestTime.at(0))
        #expect(reply.isSuccess)
        #expect(reply.message.xorMappedAddress == client.tuple.client)
        #expect(!reply.hasIntegrity)
        #expect(reply.parsed.fingerprintValid == nil, "no FINGERPRINT when the request had none")
        #expect(reply.message.software == nil, "SOFTWARE is off by default")
        #expect(server.counters.bindings == 1)
        #expect(server.allocationCount == 0)
    }

    @Test func bindingEchoesFingerprint() throws {
        var server = Fixture.server()
        var client = Fixture.alice()
        client.fingerprint = true
        let reply = try client.once(.binding, to: &server, at: TestTime.at(0))
        #expect(reply.isSuccess)
        #expect(reply.parsed.fingerprintValid == true)
        #expect(reply.message.xorMappedAddress == client.tuple.client)
    }

    @Test func bindingReflectsAnIPv6Client() throws {
        var server = Fixture.server()
        let client = TestClient(
            tuple: FiveTuple(
                client: testAddress("2001:db8::7", 40_000), server: testAddress("2001:db8::1", 3478), transport: .udp),
            username: "alice", password: Fixture.alicePassword)
        let reply = try client.once(.binding, to: &server, at: TestTime.at(0))
        #expect(reply.message.xorMappedAddress == client.tuple.client)
    }

    @Test func bindingCarriesSoftwareWhenConfigured() throws {
        var server = Fixture.server { $0.software = "stagedoor-test" }
        let reply = try Fixture.alice().once(.binding, to: &server, at: TestTime.at(0))
        #expect(reply.message.software == "stagedoor-test")
    }

    // MARK: - Long-term credentials (RFC 8489 §9.2.4)

    @Test func allocateWithoutIntegrityIsChallenged() throws {
        var server = Fixture.server()
        let reply = try Fixture.alice().once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0))
        #expect(reply.code == 401)
        #expect(reply.message.realm == Fixture.realm)
        #expect(reply.message.nonce?.isEmpty == false)
        #expect(!reply.hasIntegrity)
        #expect(server.counters.authFailures == 0, "a challenge is not a failure")
        #expect(server.allocationCount == 0)
    }

    @Test func allocateWithStaticCredentials() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate(on: &server)
        #expect(reply.attempts == 2, "one 401 round trip")
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(!reply.parsed.verifyMessageIntegrity(key: Fixture.bob().key))
        #expect(reply.message.xorRelayedAddress == FakeRelays.relay(50_000))
        #expect(reply.message.lifetime == 600)
        #expect(reply.message.xorMappedAddress == alice.tuple.client)
        #expect(reply.message.reservationToken == nil)
        #expect(server.allocationCount == 1)
        #expect(server.counters.allocationsCreated == 1)
        #expect(server.usernames == ["alice"])
        let allocation = try #require(server.allocation(for: alice.tuple))
        #expect(allocation.username == "alice")
        #expect(allocation.relayed == FakeRelays.relay(50_000))
        #expect(allocation.expiry == TestTime.instant(600))
        #expect(server.relays.live == [FakeRelays.relay(50_000)])
    }

    @Test(
        arguments: [
            (nil, 600), (60, 600), (600, 600), (1_200, 1_200), (3_600, 3_600), (100_000, 3_600), (0, 600),
        ] as [(UInt32?, UInt32)])
    func allocateLifetimeIsClampedBetweenDefaultAndMaximum(requested: UInt32?, granted: UInt32) throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate(requested.map { [.lifetime($0)] } ?? [], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.message.lifetime == granted)
        #expect(server.allocation(for: alice.tuple)?.expiry == TestTime.instant(Int64(granted)))
    }

    @Test func wrongPasswordIsRejectedAndCounted() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.password = "not-alices-password"
        let reply = try alice.allocate(on: &server)
        #expect(reply.attempts == 2, "the client does not retry a 401 to credentials it sent")
        #expect(reply.code == 401)
        #expect(reply.message.realm == Fixture.realm)
        #expect(reply.message.nonce != nil)
        #expect(!reply.hasIntegrity)
        #expect(server.counters.authFailures == 1)
        #expect(server.allocationCount == 0)
        #expect(server.relays.opened.isEmpty)
    }

    @Test(arguments: ["USERNAME", "REALM", "NONCE"])
    func integrityWithoutUsernameRealmOrNonceIsABadRequest(missing: String) throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        var attributes: [STUNAttribute] = [.requestedTransport(17)]
        if missing != "USERNAME" { attributes.append(.username("alice")) }
        if missing != "REALM" { attributes.append(.realm(Fixture.realm)) }
        if missing != "NONCE" { attributes.append(.nonce(try #require(alice.nonce))) }
        let request = STUNMessage(method: .allocate, messageClass: .request, attributes: attributes)
        let bytes = request.encode(integrity: STUNIntegrity(key: alice.key))
        let reply = try Reply(server.handle(bytes, from: alice.tuple, now: TestTime.at(1)), to: request)
        #expect(reply.code == 400)
        #expect(!reply.hasIntegrity)
        #expect(reply.message.realm == nil && reply.message.nonce == nil)
        #expect(server.counters.badRequests == 1)
        #expect(server.allocationCount == 0)
    }

    @Test func staleNonceGets438WithAFreshNonce() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        let oldNonce = try #require(alice.nonce)
        // The nonce lives 600 s on the wall clock; the monotonic clock plays no part.
        let later = TestTime.at(monotonic: 1, unix: 601)
        let stale = try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: later)
        #expect(stale.code == 438)
        #expect(stale.message.realm == Fixture.realm)
        let fresh = try #require(stale.message.nonce)
        #expect(fresh != oldNonce)
        #expect(server.counters.authFailures == 0)
        #expect(server.allocationCount == 0)

        let reply = try alice.allocate(on: &server, at: later)
        #expect(reply.attempts == 2, "438, then the retry with the new nonce")
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(alice.nonce != oldNonce)
    }

    @Test func nonceStillValidJustBeforeItsLifetimeEnds() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        let reply = try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(599))
        #expect(reply.isSuccess)
    }

    @Test func nonceIssuedToAnotherClientAddressIs438() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        var bob = Fixture.bob()
        bob.realm = alice.realm
        bob.nonce = alice.nonce
        let reply = try bob.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(1))
        #expect(reply.code == 438)
        #expect(reply.message.nonce != nil && reply.message.nonce != alice.nonce)
        #expect(server.allocationCount == 0)

        // The same address on another port is another client too.
        var alicesOtherPort = Fixture.alice(40_100)
        alicesOtherPort.realm = alice.realm
        alicesOtherPort.nonce = alice.nonce
        let otherPort = try alicesOtherPort.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(1))
        #expect(otherPort.code == 438)

        // The nonce in the 438 is good for the client it was given to.
        let retried = try bob.allocate(on: &server, at: TestTime.at(1))
        #expect(retried.isSuccess)
    }

    @Test func wrongRealmIs401() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        alice.realm = "elsewhere.example"
        let reply = try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(1))
        #expect(reply.code == 401)
        #expect(reply.message.realm == Fixture.realm)
        #expect(reply.message.nonce != nil)
        #expect(!reply.hasIntegrity)
        #expect(server.counters.authFailures == 1)
        #expect(server.allocationCount == 0)
    }

    @Test func unknownUserIs401() throws {
        var server = Fixture.server()
        var mallory = TestClient(tuple: Addresses.tuple(40_000), username: "mallory", password: "guess")
        let reply = try mallory.allocate(on: &server)
        #expect(reply.code == 401)
        #expect(server.counters.authFailures == 1)
    }

    // MARK: - REST credentials (draft-uberti-behave-turn-rest-00)

    static func restClient(
        user: String, expiry: UInt64, secret: String, port: UInt16 = 40_000
    ) -> TestClient {
        let username = RESTCredentials.username(user: user, expiry: expiry)
        return TestClient(
            tuple: Addresses.tuple(port), username: username,
            password: RESTCredentials.password(username: username, secret: secret))
    }

    @Test func restCredentialsAreAccepted() throws {
        var server = Fixture.server { $0.restSecrets = ["rest-secret"] }
        var carol = Self.restClient(user: "carol", expiry: TestTime.unix + 3_600, secret: "rest-secret")
        let reply = try carol.allocate(on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: carol.key))
        #expect(server.usernames == ["carol"], "a REST user counts once, whatever the expiry")
    }

    @Test(arguments: [Int64(0), -1, -86_400])
    func expiredRestCredentialsAreRejected(expiresIn: Int64) throws {
        var server = Fixture.server { $0.restSecrets = ["rest-secret"] }
        let expiry = UInt64(Int64(TestTime.unix) + expiresIn)
        var carol = Self.restClient(user: "carol", expiry: expiry, secret: "rest-secret")
        let reply = try carol.allocate(on: &server)
        #expect(reply.code == 401)
        #expect(server.counters.authFailures == 1)
        #expect(server.allocationCount == 0)
    }

    @Test func restCredentialsFromEitherSecretWorkDuringRotation() throws {
        var server = Fixture.server { $0.restSecrets = ["new-secret", "old-secret"] }
        let expiry = TestTime.unix + 3_600
        var fromOld = Self.restClient(user: "carol", expiry: expiry, secret: "old-secret", port: 40_000)
        var fromNew = Self.restClient(user: "dave", expiry: expiry, secret: "new-secret", port: 40_001)
        var fromNeither = Self.restClient(user: "erin", expiry: expiry, secret: "retired-secret", port: 40_002)
        let old = try fromOld.allocate(on: &server)
        #expect(old.isSuccess)
        #expect(old.isAuthenticated(with: fromOld.key))
        let new = try fromNew.allocate(on: &server)
        #expect(new.isSuccess)
        #expect(new.isAuthenticated(with: fromNew.key))
        #expect(try fromNeither.allocate(on: &server).code == 401)
        #expect(server.allocationCount == 2)
    }

    @Test func restUsernamesAreNotAcceptedWithoutSecrets() throws {
        var server = Fixture.server()
        var carol = Self.restClient(user: "carol", expiry: TestTime.unix + 3_600, secret: "rest-secret")
        #expect(try carol.allocate(on: &server).code == 401)
    }

    // MARK: - Allocate (RFC 8656 §7.2)

    @Test func secondAllocateOnTheSameFiveTupleIs437() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.allocate(on: &server, at: TestTime.at(1))
        #expect(reply.code == 437)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 1)
        #expect(server.relays.opened.count == 1)
    }

    @Test func retransmittedAllocateGetsTheSameBytes() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        let request = STUNMessage(
            method: .allocate, messageClass: .request, attributes: [.requestedTransport(17), .lifetime(1_200)])
        let bytes = alice.encode(request)
        let first = server.handle(bytes, from: alice.tuple, now: TestTime.at(0))
        let reply = try Reply(first, to: request)
        #expect(reply.isSuccess)
        let again = server.handle(bytes, from: alice.tuple, now: TestTime.at(2))
        #expect(again == first, "a retransmission is answered byte for byte as the original")
        #expect(server.allocationCount == 1)
        #expect(server.relays.opened.count == 1)
        #expect(server.counters.allocationsCreated == 1)
    }

    @Test func allocateWithoutRequestedTransportIs400() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.send(.allocate, [], to: &server, at: TestTime.at(0))
        #expect(reply.code == 400)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
    }

    @Test func allocateForTCPIs442() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.send(.allocate, [.requestedTransport(6)], to: &server, at: TestTime.at(0))
        #expect(reply.code == 442)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
        #expect(server.relays.opened.isEmpty)
    }

    @Test func dontFragmentIs420() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.dontFragment], on: &server)
        #expect(reply.code == 420)
        #expect(reply.message.unknownAttributes == [STUNAttributeType.dontFragment])
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
    }

    @Test func allocationQuotaPerUserIs486() throws {
        var server = Fixture.server { $0.maximumAllocationsPerUser = 1 }
        var alice = Fixture.alice(40_000)
        var aliceAgain = Fixture.alice(40_001)
        try alice.allocated(on: &server)
        let reply = try aliceAgain.allocate(on: &server)
        #expect(reply.code == 486)
        #expect(reply.isAuthenticated(with: aliceAgain.key))
        #expect(server.counters.quotaRejections == 1)
        #expect(server.allocationCount == 1)

        // Another user is not affected.
        var bob = Fixture.bob()
        #expect(try bob.allocate(on: &server).isSuccess)

        // Deleting the first allocation frees the quota.
        #expect(try alice.send(.refresh, [.lifetime(0)], to: &server, at: TestTime.at(1)).isSuccess)
        #expect(try aliceAgain.allocate(on: &server, at: TestTime.at(2)).isSuccess)
    }

    @Test func totalAllocationLimitIs486() throws {
        var server = Fixture.server { $0.maximumAllocations = 1 }
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        try alice.allocated(on: &server)
        #expect(try bob.allocate(on: &server).code == 486)
    }

    @Test func evenPortWithReservationAndTheTokenThatClaimsTheNextPort() throws {
        var server = Fixture.server()
        var first = Fixture.alice(40_000)
        #expect(try first.allocated(on: &server) == FakeRelays.relay(50_000))

        // The provider's next port is odd: EVEN-PORT skips it.
        var rtp = Fixture.alice(40_002)
        let reply = try rtp.allocate([.evenPort(reserveNext: true)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: rtp.key))
        let relayed = try #require(reply.message.xorRelayedAddress)
        #expect(relayed.port == 50_002)
        #expect(relayed.port.isMultiple(of: 2))
        let token = try #require(reply.message.reservationToken)
        #expect(token.count == 8)

        var rtcp = Fixture.alice(40_003)
        let claimed = try rtcp.allocate([.reservationToken(token)], on: &server, at: TestTime.at(5))
        #expect(claimed.isSuccess)
        #expect(claimed.message.xorRelayedAddress == FakeRelays.relay(relayed.port + 1))
        #expect(server.relays.opened.count == 3, "the reserved port was opened with the even one")

        // A token is good once.
        var third = Fixture.alice(40_004)
        let reused = try third.allocate([.reservationToken(token)], on: &server, at: TestTime.at(6))
        #expect(reused.code == 508)
        #expect(reused.isAuthenticated(with: third.key))
    }

    @Test func evenPortWithoutReservation() throws {
        var server = Fixture.server()
        var first = Fixture.alice(40_000)
        try first.allocated(on: &server)
        var second = Fixture.alice(40_001)
        let reply = try second.allocate([.evenPort(reserveNext: false)], on: &server)
        #expect(reply.message.xorRelayedAddress?.port == 50_002)
        #expect(reply.message.reservationToken == nil)
        #expect(server.relays.opened.count == 2)
    }

    @Test func unknownReservationTokenIs508() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.reservationToken([1, 2, 3, 4, 5, 6, 7, 8])], on: &server)
        #expect(reply.code == 508)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
    }

    @Test func reservationTokenWithEvenPortOrAddressFamilyIs400() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let token: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(try alice.allocate([.reservationToken(token), .evenPort(reserveNext: false)], on: &server).code == 400)
        #expect(
            try alice.allocate([.reservationToken(token), .requestedAddressFamily(.ipv4)], on: &server).code == 400)
    }

    @Test func unclaimedReservationIsReleasedAfterThirtySeconds() throws {
        var server = Fixture.server()
        var rtp = Fixture.alice()
        let reply = try rtp.allocate([.evenPort(reserveNext: true)], on: &server)
        let reserved = FakeRelays.relay(try #require(reply.message.xorRelayedAddress).port + 1)
        #expect(server.expire(now: TestTime.instant(29)).isEmpty)
        #expect(server.expire(now: TestTime.instant(30)) == [reserved])
        #expect(server.relays.closed == [reserved])
        #expect(server.allocationCount == 1)
    }

    /// RFC 8656 §7.2: an expired token is answered 508, and its port must still be released.
    @Test func expiredReservationTokenIs508AndItsPortIsStillReleased() throws {
        var server = Fixture.server()
        var rtp = Fixture.alice(40_000)
        let reply = try rtp.allocate([.evenPort(reserveNext: true)], on: &server)
        let token = try #require(reply.message.reservationToken)
        let reserved = FakeRelays.relay(try #require(reply.message.xorRelayedAddress).port + 1)

        var late = Fixture.alice(40_001)
        let claimed = try late.allocate([.reservationToken(token)], on: &server, at: TestTime.at(31))
        #expect(claimed.code == 508)
        let closed = server.expire(now: TestTime.instant(31))
        // The port is closed when the stale token is presented, so nothing is left to expire.
        #expect(closed.isEmpty)
        #expect(server.relays.closed.contains(reserved))
    }

    @Test func ipv6AllocationWithoutIPv6RelaysIs440() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.requestedAddressFamily(.ipv6)], on: &server)
        #expect(reply.code == 440)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
    }

    @Test func ipv4RelaysExhaustedIs508() throws {
        var server = Fixture.server(relays: FakeRelays(full: [.ipv4]))
        var alice = Fixture.alice()
        #expect(try alice.allocate(on: &server).code == 508)
    }

    @Test func ipv6AllocationWithIPv6Relays() throws {
        var server = Fixture.server(relays: FakeRelays(families: [.ipv4, .ipv6]))
        var alice = Fixture.alice()
        let reply = try alice.allocate([.requestedAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.message.xorRelayedAddress == FakeRelays.relay(50_000, family: .ipv6))
        // A peer of the other family does not fit this allocation.
        #expect(try alice.permit([Addresses.peer], on: &server).code == 443)
        #expect(try alice.send(.refresh, [.requestedAddressFamily(.ipv4)], to: &server, at: TestTime.at(1)).code == 443)
    }

    @Test func additionalIPv6FamilyIsDeclinedWithAnAddressErrorCode() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.message.xorRelayedAddresses == [FakeRelays.relay(50_000)])
        #expect(reply.message.addressErrorCodes.map(\.family) == [.ipv6])
        #expect(reply.message.addressErrorCodes.map(\.error.code) == [440])
        #expect(reply.isAuthenticated(with: alice.key))

        var bob = Fixture.bob()
        let both = [STUNAttribute.additionalAddressFamily(.ipv6), .requestedAddressFamily(.ipv4)]
        #expect(try bob.allocate(both, on: &server).code == 400)
    }

    // MARK: - Unknown attributes (RFC 8489 §6.3.1.1)

    @Test func unknownComprehensionRequiredAttributeIs420() throws {
        var server = Fixture.server()
        let client = Fixture.alice()
        let unknown = STUNAttribute.unknown(type: 0x002F, value: [0xDE, 0xAD, 0xBE, 0xEF])
        let binding = try client.once(.binding, [unknown], to: &server, at: TestTime.at(0))
        #expect(binding.code == 420)
        #expect(binding.message.unknownAttributes == [0x002F])

        let second = STUNAttribute.unknown(type: 0x7FFE, value: [])
        let allocate = try client.once(
            .allocate, [.requestedTransport(17), unknown, second, unknown], to: &server, at: TestTime.at(0))
        // Other requests authenticate first (RFC 8489 §6.3): without credentials, the challenge.
        #expect(allocate.code == 401)
        #expect(server.allocationCount == 0)
    }

    @Test func unknownComprehensionOptionalAttributeIsIgnored() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.unknown(type: 0xC0DE, value: [1, 2, 3])], on: &server)
        #expect(reply.isSuccess)
    }

    /// RFC 8489 §6.3: unknown attributes are checked once authentication is done, so the 420 to
    /// an authenticated request carries MESSAGE-INTEGRITY; over UDP a client discards an
    /// unprotected answer to an authenticated request (§9.2.5) and times out.
    @Test func unknownAttributeAnswerToAnAuthenticatedRequestIsProtected() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        let unknown = STUNAttribute.unknown(type: 0x002F, value: [1, 2, 3, 4])
        let reply = try alice.once(.allocate, [.requestedTransport(17), unknown], to: &server, at: TestTime.at(1))
        #expect(reply.code == 420)
        #expect(reply.message.unknownAttributes == [0x002F])
        let protected = reply.parsed.hasMessageIntegrity
        let authentic = reply.parsed.verifyMessageIntegrity(key: alice.key)
        #expect(protected)
        #expect(authentic)

        // Without credentials the answer would be the 401 challenge (authentication comes first).
        let bare = try Fixture.bob().once(
            .allocate, [.requestedTransport(17), unknown], to: &server, at: TestTime.at(1))
        #expect(bare.code == 401)
    }

    // MARK: - Refresh (RFC 8656 §8)

    @Test func refreshExtendsTheAllocation() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        let reply = try alice.send(.refresh, [.lifetime(1_200)], to: &server, at: TestTime.at(500))
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(reply.message.lifetime == 1_200)
        #expect(server.allocation(for: alice.tuple)?.expiry == TestTime.instant(1_700))
        #expect(server.expire(now: TestTime.instant(1_000)).isEmpty, "alive past its first 600 s")
        #expect(server.allocationCount == 1)
        #expect(server.expire(now: TestTime.instant(1_700)) == [relayed])

        // Without LIFETIME a Refresh grants the default; a large one is capped.
        var bob = Fixture.bob()
        try bob.allocated(on: &server)
        #expect(try bob.send(.refresh, [], to: &server, at: TestTime.at(10)).message.lifetime == 600)
        #expect(try bob.send(.refresh, [.lifetime(99_999)], to: &server, at: TestTime.at(10)).message.lifetime == 3_600)
    }

    @Test func refreshWithLifetimeZeroDeletesTheAllocation() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        let reply = try alice.send(.refresh, [.lifetime(0)], to: &server, at: TestTime.at(10))
        #expect(reply.isSuccess)
        #expect(reply.message.lifetime == 0)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
        #expect(server.usernames.isEmpty)
        #expect(server.relays.closed == [relayed])
        #expect(server.expire(now: TestTime.instant(10_000)).isEmpty, "nothing left to close twice")

        // A retransmitted delete finds nothing: 437, which the client takes as done.
        #expect(try alice.send(.refresh, [.lifetime(0)], to: &server, at: TestTime.at(11)).code == 437)
    }

    @Test func refreshWithoutAnAllocationIs437() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.send(.refresh, [.lifetime(600)], to: &server, at: TestTime.at(0))
        #expect(reply.code == 437)
        #expect(reply.isAuthenticated(with: alice.key))
    }

    @Test func refreshByAnotherUserOnTheFiveTupleIs441() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        var bobOnAlicesTuple = Fixture.bob()
        bobOnAlicesTuple.tuple = alice.tuple
        let reply = try bobOnAlicesTuple.send(.refresh, [.lifetime(600)], to: &server, at: TestTime.at(1))
        #expect(reply.code == 441)
        #expect(reply.isAuthenticated(with: bobOnAlicesTuple.key))
        #expect(server.allocationCount == 1)
        #expect(server.allocation(for: alice.tuple)?.expiry == TestTime.instant(600), "not refreshed")
        // The same goes for the other requests on that allocation.
        #expect(try bobOnAlicesTuple.permit([Addresses.peer], on: &server).code == 441)
        #expect(try bobOnAlicesTuple.bind(0x4000, to: Addresses.peer, on: &server).code == 441)
    }

    // MARK: - CreatePermission (RFC 8656 §10)

    @Test func createPermissionInstallsAPermission() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.permit([Addresses.peer, Addresses.otherPeer], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(reply.message.attributes.allSatisfy { $0.type == STUNAttributeType.messageIntegrity })
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 2)
    }

    @Test func createPermissionWithoutAnAllocationIs437() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        #expect(try alice.permit([Addresses.peer], on: &server).code == 437)
    }

    @Test func privatePeerIsForbiddenByDefault() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.permit([testAddress("10.1.2.3", 5000)], on: &server)
        #expect(reply.code == 403)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.counters.deniedPeers == 1)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 0)

        // One forbidden peer fails the whole request.
        let mixed = try alice.permit([Addresses.peer, testAddress("192.168.1.1", 5000)], on: &server)
        #expect(mixed.code == 403)
        #expect(server.counters.deniedPeers == 2)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 0)
    }

    @Test func allowListOpensAPrivateRange() throws {
        let policy = PeerPolicy(allow: [try #require(AddressRange(cidr: "10.1.2.0/24"))])
        var server = Fixture.server(policy: policy)
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.permit([testAddress("10.1.2.3", 5000)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(try alice.permit([testAddress("10.1.3.3", 5000)], on: &server).code == 403)
    }

    @Test func ipv6PeerOnAnIPv4AllocationIs443() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.permit([testAddress("2606:4700::1111", 5000)], on: &server)
        #expect(reply.code == 443)
        #expect(reply.isAuthenticated(with: alice.key))
    }

    @Test func createPermissionWithoutPeerIs400() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.permit([], on: &server)
        #expect(reply.code == 400)
        #expect(reply.isAuthenticated(with: alice.key))
    }

    @Test func tooManyPermissionsIs508() throws {
        var server = Fixture.server { $0.maximumPermissionsPerAllocation = 2 }
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer, Addresses.otherPeer], on: &server).isSuccess)
        let reply = try alice.permit([Addresses.thirdPeer], on: &server)
        #expect(reply.code == 508)
        #expect(reply.isAuthenticated(with: alice.key))
        // Refreshing one already held needs no room; another port of it is the same permission.
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        #expect(try alice.permit([testAddress("1.1.1.1", 9)], on: &server).isSuccess)
        // A channel to a new peer would install a permission too.
        #expect(try alice.bind(0x4000, to: Addresses.thirdPeer, on: &server).code == 508)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 2)
    }

    // MARK: - Send indication (RFC 8656 §11.2)

    @Test func sendIndicationNeedsAPermission() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        let payload: [UInt8] = Array("hello".utf8)
        #expect(alice.sendIndication(to: Addresses.peer, payload: payload, on: &server) == .ignore)
        #expect(server.counters.dropped == 1)

        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        #expect(
            alice.sendIndication(to: Addresses.peer, payload: payload, on: &server)
                == .relay(from: relayed, to: Addresses.peer, payload: payload))
        // A permission is for the IP address, whatever the port (RFC 8656 §9).
        let otherPort = testAddress("1.1.1.1", 6000)
        #expect(
            alice.sendIndication(to: otherPort, payload: [], on: &server)
                == .relay(from: relayed, to: otherPort, payload: []))
        // Other peers, and clients without an allocation, still go nowhere.
        #expect(alice.sendIndication(to: Addresses.otherPeer, payload: payload, on: &server) == .ignore)
        #expect(Fixture.bob().sendIndication(to: Addresses.peer, payload: payload, on: &server) == .ignore)
        #expect(server.counters.dropped == 3)
    }

    @Test func sendIndicationStopsWhenThePermissionExpires() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        #expect(alice.sendIndication(to: Addresses.peer, payload: [1], on: &server, at: TestTime.at(299)) != .ignore)
        #expect(alice.sendIndication(to: Addresses.peer, payload: [1], on: &server, at: TestTime.at(300)) == .ignore)
    }

    @Test func sendIndicationWithoutDataOrPeerIsDropped() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        let noData = STUNMessage(
            method: .send, messageClass: .indication, attributes: [.xorPeerAddress(Addresses.peer)])
        #expect(server.handle(noData.encode(), from: alice.tuple, now: TestTime.at(1)) == .ignore)
        let noPeer = STUNMessage(method: .send, messageClass: .indication, attributes: [.data([1, 2])])
        #expect(server.handle(noPeer.encode(), from: alice.tuple, now: TestTime.at(1)) == .ignore)
        #expect(server.counters.dropped == 2)
    }

    /// RFC 8489 §6.3.2: an indication with an unknown comprehension-required attribute is
    /// discarded; RFC 8656 §11.2: so is a Send indication with DONT-FRAGMENT when the server
    /// cannot set DF (this one says so by answering 420 to DONT-FRAGMENT in Allocate).
    @Test func sendIndicationWithAttributesTheServerCannotHonourIsDiscarded() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        let unknown = alice.sendIndication(
            to: Addresses.peer, payload: [1], extra: [.unknown(type: 0x002F, value: [0, 0, 0, 0])], on: &server)
        let dontFragment = alice.sendIndication(to: Addresses.peer, payload: [1], extra: [.dontFragment], on: &server)
        #expect(unknown == .ignore)
        #expect(dontFragment == .ignore)
    }

    // MARK: - ChannelBind (RFC 8656 §11, with RFC 5766's channel range)

    @Test(arguments: [UInt16(0x0000), 0x3FFF, 0x8000, 0xFFFF])
    func channelNumberOutsideTheRangeIs400(number: UInt16) throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.bind(number, to: Addresses.peer, on: &server)
        #expect(reply.code == 400)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocation(for: alice.tuple)?.channelCount == 0)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 0)
    }

    @Test(arguments: [UInt16(0x4000), 0x4FFF, 0x5000, 0x6324, 0x7FFF])
    func channelNumbersOfRFC5766AreAccepted(number: UInt16) throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        let reply = try alice.bind(number, to: Addresses.peer, on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        let routed = server.channelRoute(number, from: alice.tuple, at: 1)
        let route = try #require(routed)
        #expect(route.relayed == relayed)
        #expect(route.peer == Addresses.peer)
    }

    @Test func channelBindWithoutNumberOrPeerIs400() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let noNumber = try alice.send(.channelBind, [.xorPeerAddress(Addresses.peer)], to: &server, at: TestTime.at(0))
        #expect(noNumber.code == 400)
        #expect(noNumber.isAuthenticated(with: alice.key))
        #expect(try alice.send(.channelBind, [.channelNumber(0x4000)], to: &server, at: TestTime.at(0)).code == 400)
    }

    @Test func channelBindWithoutAnAllocationIs437() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).code == 437)
    }

    @Test func channelBindToAForbiddenOrOtherFamilyPeerFails() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let forbidden = try alice.bind(0x4000, to: testAddress("172.16.0.1", 5000), on: &server)
        #expect(forbidden.code == 403)
        #expect(forbidden.isAuthenticated(with: alice.key))
        #expect(server.counters.deniedPeers == 1)
        #expect(try alice.bind(0x4000, to: testAddress("2606:4700::1111", 5000), on: &server).code == 443)
        #expect(server.allocation(for: alice.tuple)?.channelCount == 0)
    }

    @Test func aChannelAndAPeerAreBoundToEachOtherOnly() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)

        let numberTaken = try alice.bind(0x4000, to: Addresses.otherPeer, on: &server)
        #expect(numberTaken.code == 400)
        #expect(numberTaken.isAuthenticated(with: alice.key))
        // The same IP on another port is another peer transport address.
        #expect(try alice.bind(0x4000, to: testAddress("1.1.1.1", 5001), on: &server).code == 400)
        let peerTaken = try alice.bind(0x4001, to: Addresses.peer, on: &server)
        #expect(peerTaken.code == 400)
        #expect(server.allocation(for: alice.tuple)?.channelCount == 1)
        #expect(server.channelRoute(0x4001, from: alice.tuple, at: 1) == nil)
    }

    @Test func rebindingTheSamePairRefreshesChannelAndPermission() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated([.lifetime(3_600)], on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(0)).isSuccess)
        let again = try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(200))
        #expect(again.isSuccess)
        #expect(again.isAuthenticated(with: alice.key))
        #expect(server.allocation(for: alice.tuple)?.channelCount == 1)

        // The permission now lasts until 500 s, the channel until 800 s.
        _ = server.expire(now: TestTime.instant(450))
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 450) != nil)
        _ = server.expire(now: TestTime.instant(700))
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 0)
        #expect(server.allocation(for: alice.tuple)?.channelCount == 1)
        _ = server.expire(now: TestTime.instant(800))
        #expect(server.allocation(for: alice.tuple)?.channelCount == 0)
    }

    @Test func routingThroughAChannel() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(try alice.permit([Addresses.otherPeer], on: &server).isSuccess)
        let now: Int64 = 1

        let routed = server.channelRoute(0x4000, from: alice.tuple, at: now)

        let route = try #require(routed)
        #expect(route.relayed == relayed)
        #expect(route.peer == Addresses.peer)
        #expect(server.channelRoute(0x4001, from: alice.tuple, at: now) == nil)
        #expect(server.channelRoute(0x4000, from: Fixture.bob().tuple, at: now) == nil)

        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: now) == .channel(0x4000, to: alice.tuple))
        // The bound peer's IP on another port has the permission but not the channel.
        let samePeerOtherPort = testAddress("1.1.1.1", 5001)
        #expect(
            server.peerRoute(to: relayed, from: samePeerOtherPort, at: now)
                == .dataIndication(to: alice.tuple, peer: samePeerOtherPort))
        #expect(
            server.peerRoute(to: relayed, from: Addresses.otherPeer, at: now)
                == .dataIndication(to: alice.tuple, peer: Addresses.otherPeer))
        #expect(server.peerRoute(to: relayed, from: Addresses.thirdPeer, at: now) == .drop)
        #expect(server.peerRoute(to: FakeRelays.relay(50_999), from: Addresses.peer, at: now) == .drop)
    }

    @Test func dataIndicationCarriesPeerAndPayload() throws {
        let server = Fixture.server()
        let bytes = server.dataIndication(from: Addresses.peer, payload: [9, 8, 7])
        let parsed = try STUNCodec.decode(bytes)
        #expect(parsed.message.type == STUNMessageType(method: .data, messageClass: .indication))
        #expect(parsed.message.xorPeerAddress == Addresses.peer)
        #expect(parsed.message.data == [9, 8, 7])
    }

    @Test func permissionsExpireAfterFiveMinutesAndChannelsAfterTen() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated([.lifetime(3_600)], on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(0)).isSuccess)

        #expect(server.expire(now: TestTime.instant(299)).isEmpty)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 299) != nil)
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 299) != .drop)

        #expect(server.expire(now: TestTime.instant(300)).isEmpty)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 0)
        #expect(server.allocation(for: alice.tuple)?.channelCount == 1)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 301) == nil)
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 301) == .drop)
        #expect(alice.sendIndication(to: Addresses.peer, payload: [1], on: &server, at: TestTime.at(301)) == .ignore)

        // A fresh permission brings the channel back while it lasts.
        #expect(try alice.permit([Addresses.peer], on: &server, at: TestTime.at(400)).isSuccess)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 401) != nil)
        #expect(
            server.peerRoute(to: relayed, from: Addresses.peer, at: 401)
                == .channel(0x4000, to: alice.tuple))

        #expect(server.expire(now: TestTime.instant(600)).isEmpty)
        #expect(server.allocation(for: alice.tuple)?.channelCount == 0)
        #expect(server.allocation(for: alice.tuple)?.permissionCount == 1)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 601) == nil)
        #expect(
            server.peerRoute(to: relayed, from: Addresses.peer, at: 601)
                == .dataIndication(to: alice.tuple, peer: Addresses.peer))
        // Once unbound, the number may go to another peer.
        #expect(try alice.bind(0x4000, to: Addresses.otherPeer, on: &server, at: TestTime.at(601)).isSuccess)
    }

    // MARK: - Relay to relay

    @Test func relayedAddressesOfThisServerArePermittedPeers() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        let aliceRelayed = try alice.allocated(on: &server)
        let bobRelayed = try bob.allocated(on: &server)
        #expect(bobRelayed.addressText == "127.0.0.1")

        let toBob = try alice.permit([bobRelayed], on: &server)
        #expect(toBob.isSuccess)
        #expect(toBob.isAuthenticated(with: alice.key))
        #expect(server.counters.deniedPeers == 0)

        let elsewhere = try alice.permit([FakeRelays.relay(50_999)], on: &server)
        #expect(elsewhere.code == 403)
        #expect(server.counters.deniedPeers == 1)
        #expect(try alice.bind(0x4000, to: FakeRelays.relay(50_999), on: &server).code == 403)

        #expect(
            alice.sendIndication(to: bobRelayed, payload: [1, 2], on: &server)
                == .relay(from: aliceRelayed, to: bobRelayed, payload: [1, 2]))
        let now: Int64 = 1
        #expect(server.peerRoute(to: bobRelayed, from: aliceRelayed, at: now) == .drop, "Bob has no permission")
        #expect(try bob.permit([aliceRelayed], on: &server).isSuccess)
        #expect(
            server.peerRoute(to: bobRelayed, from: aliceRelayed, at: now)
                == .dataIndication(to: bob.tuple, peer: aliceRelayed))
    }

    /// Permissions are per IP address (RFC 8656 §9), so the one installed for a relayed address
    /// of this server covers every port of the server's own address.
    @Test func aPermissionForARelayedAddressDoesNotOpenTheServersOtherPorts() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        try alice.allocated(on: &server)
        let bobRelayed = try bob.allocated(on: &server)
        #expect(try alice.permit([bobRelayed], on: &server).isSuccess)
        let localService = testAddress("127.0.0.1", 6379)
        let outcome = alice.sendIndication(to: localService, payload: Array("FLUSHALL\r\n".utf8), on: &server)
        // Also once Bob's allocation is gone, his old port included.
        #expect(try bob.send(.refresh, [.lifetime(0)], to: &server, at: TestTime.at(1)).isSuccess)
        let formerRelay = alice.sendIndication(to: bobRelayed, payload: [1], on: &server, at: TestTime.at(1))
        #expect(outcome == .ignore)
        #expect(formerRelay == .ignore)
    }

    /// The same through the external address: the datagram goes to the server's public
    /// address on an arbitrary port (a hairpin through the NAT to the host itself).
    @Test func aPermissionForAnAdvertisedRelayDoesNotOpenTheExternalAddress() throws {
        var server = Fixture.server { $0.externalAddress = testAddress("203.0.113.10", 0) }
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        try alice.allocated(on: &server)
        let bobAdvertised = try bob.allocated(on: &server)
        #expect(try alice.permit([bobAdvertised], on: &server).isSuccess)
        let ssh = testAddress("203.0.113.10", 22)
        #expect(try alice.permit([ssh], on: &server).code == 403, "CreatePermission checks the port")
        let outcome = alice.sendIndication(to: ssh, payload: [1], on: &server)
        #expect(outcome == .ignore)
    }

    @Test func externalAddressIsAdvertisedAndRelayToRelayStaysLocal() throws {
        let external = testAddress("203.0.113.10", 0)
        var server = Fixture.server { $0.externalAddress = external }
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        let aliceAdvertised = try alice.allocated(on: &server)
        let bobAdvertised = try bob.allocated(on: &server)
        let aliceBound = FakeRelays.relay(50_000)
        let bobBound = FakeRelays.relay(50_001)
        #expect(aliceAdvertised == testAddress("203.0.113.10", 50_000))
        #expect(bobAdvertised == testAddress("203.0.113.10", 50_001))
        #expect(server.allocation(for: alice.tuple)?.relayed == aliceBound)

        // Alice reaches Bob by the address Bob was given; it goes to Bob's bound socket.
        let bind = try alice.bind(0x4000, to: bobAdvertised, on: &server)
        #expect(bind.isSuccess)
        #expect(bind.isAuthenticated(with: alice.key))
        let now: Int64 = 1
        let routed = server.channelRoute(0x4000, from: alice.tuple, at: now)
        let route = try #require(routed)
        #expect(route.relayed == aliceBound)
        #expect(route.peer == bobBound)
        #expect(
            alice.sendIndication(to: bobAdvertised, payload: [7], on: &server)
                == .relay(from: aliceBound, to: bobBound, payload: [7]))

        // Bob permits Alice's advertised address; her datagrams come from her bound one.
        #expect(server.peerRoute(to: bobBound, from: aliceBound, at: now) == .drop)
        #expect(try bob.permit([aliceAdvertised], on: &server).isSuccess)
        let toBob = server.peerRoute(to: bobBound, from: aliceBound, at: now)
        #expect(toBob == .dataIndication(to: bob.tuple, peer: aliceAdvertised))
        if case .dataIndication(_, let peer) = toBob {
            let indication = try STUNCodec.decode(server.dataIndication(from: peer, payload: [7]))
            #expect(indication.message.xorPeerAddress == aliceAdvertised)
        }
        // And Alice's channel is found for Bob's datagrams back.
        #expect(server.peerRoute(to: aliceBound, from: bobBound, at: now) == .channel(0x4000, to: alice.tuple))

        // Another port of the external address is not a relay: forbidden.
        #expect(try alice.permit([testAddress("203.0.113.10", 50_999)], on: &server).code == 403)
    }

    @Test func externalAddressLeavesOtherPeersAlone() throws {
        var server = Fixture.server { $0.externalAddress = testAddress("203.0.113.10", 0) }
        var alice = Fixture.alice()
        let advertised = try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        let bound = FakeRelays.relay(advertised.port)
        let now: Int64 = 1
        let routed = server.channelRoute(0x4000, from: alice.tuple, at: now)
        let route = try #require(routed)
        #expect(route.relayed == bound)
        #expect(route.peer == Addresses.peer)
        #expect(server.peerRoute(to: bound, from: Addresses.peer, at: now) == .channel(0x4000, to: alice.tuple))
    }

    // MARK: - Lifetimes

    @Test func unrefreshedAllocationExpires() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        let aliceRelayed = try alice.allocated(on: &server, at: TestTime.at(0))
        try bob.allocated([.lifetime(1_200)], on: &server, at: TestTime.at(0))

        #expect(server.expire(now: TestTime.instant(599)).isEmpty)
        #expect(server.allocationCount == 2)
        #expect(server.expire(now: TestTime.instant(600)) == [aliceRelayed])
        #expect(server.allocationCount == 1)
        #expect(server.allocation(for: alice.tuple) == nil)
        #expect(server.usernames == ["bob"])
        #expect(server.relays.closed == [aliceRelayed])
        #expect(server.peerRoute(to: aliceRelayed, from: Addresses.peer, at: 601) == .drop)
        #expect(try alice.send(.refresh, [], to: &server, at: TestTime.at(601)).code == 437)
        // The 5-tuple is free for a new allocation.
        #expect(try alice.allocate(on: &server, at: TestTime.at(602)).isSuccess)
    }

    @Test func closingATCPConnectionRemovesItsAllocation() throws {
        var server = Fixture.server()
        var alice = Fixture.alice(40_000, transport: .tcp)
        var bob = Fixture.bob()
        let relayed = try alice.allocated(on: &server)
        try bob.allocated(on: &server)
        #expect(server.allocationsByTransport == [.tcp: 1, .udp: 1])

        #expect(server.connectionClosed(alice.tuple) == [relayed])
        #expect(server.allocationCount == 1)
        #expect(server.allocationsByTransport == [.udp: 1])
        #expect(server.relays.closed == [relayed])
        #expect(server.usernames == ["bob"])
        #expect(server.connectionClosed(alice.tuple).isEmpty)
        #expect(server.relays.closed == [relayed])
    }

    // MARK: - Limits

    @Test func unauthenticatedRequestsArePacedPerSourceAddress() throws {
        var server = Fixture.server()  // 50 a second, a burst of 100
        var alice = Fixture.alice(40_000)
        try alice.allocated(on: &server, at: TestTime.at(0))  // two requests without an allocation
        let sameAddress = Fixture.alice(40_001)
        for _ in 0..<98 {
            let reply = try sameAddress.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0))
            #expect(reply.code == 401)
        }
        let request = STUNMessage(method: .allocate, messageClass: .request, attributes: [.requestedTransport(17)])
        #expect(server.handle(sameAddress.encode(request), from: sameAddress.tuple, now: TestTime.at(0)) == .ignore)
        #expect(server.counters.rateLimited == 1)

        // Another address has its own budget, and a 5-tuple with an allocation is not charged.
        let other = try Fixture.bob().once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0))
        #expect(other.code == 401)
        #expect(try alice.send(.refresh, [], to: &server, at: TestTime.at(0)).isSuccess)
        #expect(try alice.send(.binding, [], to: &server, at: TestTime.at(0)).isSuccess)
        #expect(server.counters.rateLimited == 1)
        // Binding needs no credentials but is charged all the same: no reflection at line rate.
        let binding = STUNMessage(method: .binding, messageClass: .request)
        #expect(server.handle(sameAddress.encode(binding), from: sameAddress.tuple, now: TestTime.at(0)) == .ignore)
        #expect(server.counters.rateLimited == 2)

        // Half a second gives 25 more.
        let later = Moment(monotonic: TestTime.base + .milliseconds(500), unixSeconds: TestTime.unix)
        for _ in 0..<25 {
            #expect(server.handle(sameAddress.encode(request), from: sameAddress.tuple, now: later) != .ignore)
        }
        #expect(server.handle(sameAddress.encode(request), from: sameAddress.tuple, now: later) == .ignore)
        #expect(server.counters.rateLimited == 3)
    }

    @Test func unauthenticatedRateLimitCanBeTurnedOff() throws {
        var server = Fixture.server { $0.unauthenticatedRequestsPerSecond = 0 }
        let client = Fixture.alice()
        for _ in 0..<300 {
            #expect(try client.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)).code == 401)
        }
        #expect(server.counters.rateLimited == 0)
    }

    @Test func bandwidthPerAllocationCountsBothDirections() throws {
        var server = Fixture.server { $0.bandwidthPerAllocation = 1_000 }
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        let relayed = try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)

        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 1, length: 600) != nil)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 1, length: 600) == nil)
        #expect(server.counters.overBandwidth == 1)
        #expect(
            server.peerRoute(to: relayed, from: Addresses.peer, at: 1, length: 400) == .channel(0x4000, to: alice.tuple)
        )
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 1, length: 1) == .drop)
        #expect(alice.sendIndication(to: Addresses.peer, payload: [1], on: &server, at: TestTime.at(1)) == .ignore)
        #expect(server.counters.overBandwidth == 3)

        // Another allocation has its own budget, and a second later Alice's is full again.
        let bobRelayed = try bob.allocated(on: &server)
        #expect(try bob.permit([Addresses.peer], on: &server).isSuccess)
        #expect(server.peerRoute(to: bobRelayed, from: Addresses.peer, at: 1, length: 1_000) != .drop)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 2, length: 1_000) != nil)
    }

    @Test func bandwidthTotalIsShared() throws {
        var server = Fixture.server { $0.bandwidthTotal = 1_000 }
        var alice = Fixture.alice()
        var bob = Fixture.bob()
        try alice.allocated(on: &server)
        try bob.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(try bob.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 1, length: 600) != nil)
        #expect(server.channelRoute(0x4000, from: bob.tuple, at: 1, length: 600) == nil)
        #expect(server.channelRoute(0x4000, from: bob.tuple, at: 1, length: 400) != nil)
        #expect(server.counters.overBandwidth == 1)
    }

    /// A datagram the total limit drops was not relayed, so it should not use up the
    /// allocation's own budget as well.
    @Test func aDatagramDroppedByTheTotalLimitDoesNotSpendTheAllocationsBudget() throws {
        var server = Fixture.server {
            $0.bandwidthPerAllocation = 1_000
            $0.bandwidthTotal = 500
        }
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 1, length: 600) == nil, "over the total")
        let fits = server.channelRoute(0x4000, from: alice.tuple, at: 1, length: 450)
        #expect(fits != nil, "450 bytes fit both the allocation's 1000 and the total's 500")
    }

    @Test func updatedSettingsApplyToNewRequests() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        var bob = Fixture.bob(40_001)
        var bobAgain = Fixture.bob(40_002)
        try alice.allocated(on: &server)
        try bob.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)

        var settings = Fixture.settings()
        settings.users["bob"] = nil
        settings.bandwidthPerAllocation = 500
        let policy = PeerPolicy(deny: [try #require(AddressRange(cidr: "1.1.1.0/24"))])
        server.update(settings: settings, policy: policy)

        // A removed user can open nothing new; its live allocation keeps its key.
        #expect(try bobAgain.allocate(on: &server, at: TestTime.at(1)).code == 401)
        #expect(try bob.send(.refresh, [], to: &server, at: TestTime.at(1)).isSuccess)
        // The new policy applies to new and refreshed permissions.
        #expect(try alice.permit([Addresses.peer], on: &server, at: TestTime.at(1)).code == 403)
        #expect(try alice.permit([Addresses.otherPeer], on: &server, at: TestTime.at(1)).isSuccess)
        // Live allocations get the new bandwidth limit.
        #expect(try alice.bind(0x4000, to: Addresses.otherPeer, on: &server, at: TestTime.at(1)).isSuccess)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 2, length: 501) == nil)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 2, length: 500) != nil)
    }

    // MARK: - Robustness

    @Test func randomBytesAreIgnoredAndCounted() {
        var server = Fixture.server()
        var generator = SeededGenerator(seed: 0x5354_554E)
        let inputs = 500
        for _ in 0..<inputs {
            let count = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            #expect(server.handle(bytes, from: Addresses.tuple(40_000), now: TestTime.at(0)) == .ignore)
        }
        #expect(server.counters.malformed == inputs)
        #expect(server.allocationCount == 0)
    }

    @Test func truncatedMessagesAreIgnoredAndCounted() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        alice.learn(from: try alice.once(.allocate, [.requestedTransport(17)], to: &server, at: TestTime.at(0)))
        let request = STUNMessage(method: .allocate, messageClass: .request, attributes: [.requestedTransport(17)])
        let bytes = alice.encode(request)
        for length in 0..<bytes.count {
            #expect(server.handle(bytes.prefix(length), from: alice.tuple, now: TestTime.at(1)) == .ignore)
        }
        #expect(server.counters.malformed == bytes.count)
        #expect(server.allocationCount == 0)
        // The whole message still works.
        #expect(try Reply(server.handle(bytes, from: alice.tuple, now: TestTime.at(1)), to: request).isSuccess)
    }

    @Test func badFingerprintIsIgnoredAndCounted() {
        var server = Fixture.server()
        var bytes = STUNMessage(method: .binding, messageClass: .request).encode(fingerprint: true)
        bytes[bytes.count - 1] ^= 0x01
        #expect(server.handle(bytes, from: Addresses.tuple(40_000), now: TestTime.at(0)) == .ignore)
        #expect(server.counters.malformed == 1)
        #expect(server.counters.bindings == 0)
    }

    @Test func responsesAndOtherIndicationsAreIgnored() {
        var server = Fixture.server()
        let tuple = Addresses.tuple(40_000)
        let success = STUNMessage(method: .allocate, messageClass: .successResponse, attributes: [.lifetime(600)])
        let error = STUNMessage(method: .binding, messageClass: .errorResponse, attributes: [.errorCode(.badRequest)])
        let data = STUNMessage(method: .data, messageClass: .indication, attributes: [.data([1])])
        let keepalive = STUNMessage(method: .binding, messageClass: .indication)
        for message in [success, error, data, keepalive] {
            #expect(server.handle(message.encode(), from: tuple, now: TestTime.at(0)) == .ignore)
        }
        #expect(server.counters.malformed == 0)
    }

    @Test func unknownMethodIs400() throws {
        var server = Fixture.server()
        let reply = try Fixture.alice().once(STUNMethod(rawValue: 0x00A), to: &server, at: TestTime.at(0))
        #expect(reply.code == 400)
        #expect(server.counters.badRequests == 1)
    }

    /// Valid messages with bytes flipped, cut or appended: whatever comes back is either nothing
    /// or a well-formed response to the same transaction.
    @Test func mutatedMessagesNeverCrash() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        let samples: [[UInt8]] = [
            STUNMessage(method: .binding, messageClass: .request).encode(fingerprint: true),
            alice.encode(
                STUNMessage(
                    method: .allocate, messageClass: .request,
                    attributes: [
                        .requestedTransport(17), .lifetime(900), .evenPort(reserveNext: true),
                        .requestedAddressFamily(.ipv4), .reservationToken([1, 2, 3, 4, 5, 6, 7, 8]),
                    ])),
            alice.encode(
                STUNMessage(
                    method: .channelBind, messageClass: .request,
                    attributes: [.channelNumber(0x4001), .xorPeerAddress(Addresses.otherPeer)])),
            alice.encode(
                STUNMessage(
                    method: .createPermission, messageClass: .request,
                    attributes: [.xorPeerAddress(Addresses.peer), .xorPeerAddress(testAddress("2001:db8::1", 1))])),
            STUNMessage(
                method: .send, messageClass: .indication,
                attributes: [.xorPeerAddress(Addresses.peer), .data(Array(0..<37))]
            ).encode(fingerprint: true),
        ]
        var generator = SeededGenerator(seed: 8656)
        for iteration in 0..<4_000 {
            var bytes = samples[iteration % samples.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: .min ... .max, using: &generator)
            }
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator))
            case 1: bytes += (0..<Int.random(in: 1...8, using: &generator)).map { _ in 0 }
            default: break
            }
            let outcome = server.handle(bytes, from: alice.tuple, now: TestTime.at(Int64(iteration % 100)))
            if let response = outcome.responseBytes {
                let parsed = try STUNCodec.decode(response)
                #expect(Array(bytes[8..<20]) == parsed.message.transactionID.bytes)
            }
        }
        #expect(server.counters.malformed > 0)
    }
}

extension AllocationServerTests {
    /// Minting REST credentials with another expiry does not buy more allocations.
    @Test func restQuotaCountsTheUserNotTheExpiry() throws {
        var server = Fixture.server {
            $0.restSecrets = ["rest-secret"]
            $0.maximumAllocationsPerUser = 1
        }
        var first = Self.restClient(user: "carol", expiry: TestTime.unix + 3_600, secret: "rest-secret", port: 40_000)
        var second = Self.restClient(user: "carol", expiry: TestTime.unix + 7_200, secret: "rest-secret", port: 40_001)
        var other = Self.restClient(user: "dave", expiry: TestTime.unix + 3_600, secret: "rest-secret", port: 40_002)
        #expect(try first.allocate(on: &server).isSuccess)
        #expect(try second.allocate(on: &server).code == 486)
        #expect(try other.allocate(on: &server).isSuccess)
    }

    /// A REST allocation cannot be refreshed past its credential's expiry.
    @Test func expiredRestCredentialsRefreshNothing() throws {
        var server = Fixture.server { $0.restSecrets = ["rest-secret"] }
        var carol = Self.restClient(user: "carol", expiry: TestTime.unix + 100, secret: "rest-secret")
        #expect(try carol.allocate(on: &server).isSuccess)
        let early = try carol.send(.refresh, [.lifetime(600)], to: &server, at: TestTime.at(50))
        #expect(early.isSuccess)
        let late = try carol.send(.refresh, [.lifetime(600)], to: &server, at: TestTime.at(200))
        #expect(late.code == 401)
    }
}

extension AllocationServerTests {
    /// The driver logs allocations, refused credentials and denied peers from these events.
    @Test func eventsTellWhatAnOperatorWantsLogged() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        var wrong = TestClient(tuple: Addresses.tuple(40_005), username: "bob", password: "not-bobs")
        #expect(try wrong.allocate(on: &server).code == 401)
        _ = try alice.permit([testAddress("10.9.8.7", 1)], on: &server)
        let events = server.drainEvents()
        #expect(
            events.contains {
                if case .allocated(_, [relayed], "alice", 600) = $0 { true } else { false }
            })
        #expect(events.contains(.authenticationFailed(Addresses.tuple(40_005), username: "bob")))
        #expect(events.contains(.peerDenied(testAddress("10.9.8.7", 1))))
        #expect(server.drainEvents().isEmpty, "drained once")
    }
}
