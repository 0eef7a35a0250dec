import STUN
import TURN
import Testing

/// Dual allocations (RFC 8656 §7.2 step 9, ADDITIONAL-ADDRESS-FAMILY §18.11): one IPv4 and one
/// IPv6 relayed address under one 5-tuple, and which of them each permission, channel and Send
/// uses (the peer's family; 443 when the allocation has none of it).
struct DualAllocationTests {
    static let ipv4Relay = FakeRelays.relay(50_000)
    static let ipv6Relay = FakeRelays.relay(50_001, family: .ipv6)
    /// Public IPv6 peers the default `PeerPolicy` allows.
    static let ipv6Peer = testAddress("2606:4700::1111", 5000)
    static let otherIPv6Peer = testAddress("2001:4860:4860::8888", 6000)

    static func dualServer(
        full: Set<TransportAddress.Family> = [], configure: (inout AllocationSettings) -> Void = { _ in }
    ) -> TestServer {
        Fixture.server(relays: FakeRelays(families: [.ipv4, .ipv6], full: full), configure: configure)
    }

    /// A dual Allocate that must succeed with both addresses; returns them, IPv4 first.
    @discardableResult
    static func dualAllocated(
        _ client: inout TestClient, on server: inout TestServer, extra: [STUNAttribute] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [TransportAddress] {
        let reply = try client.allocate(
            [.additionalAddressFamily(.ipv6)] + extra, on: &server, sourceLocation: sourceLocation)
        try #require(reply.isSuccess, "dual Allocate failed: \(reply.message)", sourceLocation: sourceLocation)
        let relayed = reply.message.xorRelayedAddresses
        try #require(relayed.map(\.family) == [.ipv4, .ipv6], sourceLocation: sourceLocation)
        return relayed
    }

    // MARK: - Allocate

    @Test func additionalIPv6FamilyGetsTwoRelayedAddressesIPv4First() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(reply.message.xorRelayedAddresses == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(reply.message.addressErrorCodes.isEmpty)
        #expect(reply.message.xorMappedAddress == alice.tuple.client)
        #expect(reply.message.lifetime == 600)
        let allocation = try #require(server.allocation(for: alice.tuple))
        #expect(allocation.relayed == Self.ipv4Relay)
        #expect(allocation.additionalRelayed == Self.ipv6Relay)
        #expect(allocation.relayedAddresses == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(server.relays.live == [Self.ipv4Relay, Self.ipv6Relay])
        // One allocation, whatever its number of relayed addresses.
        #expect(server.allocationCount == 1)
        #expect(server.dualAllocationCount == 1)
        #expect(server.counters.allocationsCreated == 1)
        #expect(
            server.drainEvents().contains(
                .allocated(alice.tuple, relayed: [Self.ipv4Relay, Self.ipv6Relay], username: "alice", lifetime: 600)))
    }

    @Test func aDualAllocationCountsOnceAgainstTheQuotas() throws {
        var server = Self.dualServer {
            $0.maximumAllocationsPerUser = 1
            $0.maximumAllocations = 2
        }
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        var aliceAgain = Fixture.alice(40_002)
        #expect(try aliceAgain.allocate([.additionalAddressFamily(.ipv6)], on: &server).code == 486)
        var bob = Fixture.bob()
        #expect(try bob.allocate([.additionalAddressFamily(.ipv6)], on: &server).isSuccess)
        #expect(server.allocationCount == 2)
        var carol = TestClient(tuple: Addresses.tuple(40_003), username: "alice", password: Fixture.alicePassword)
        #expect(try carol.allocate(on: &server).code == 486)
    }

    @Test func ipv6NotServedKeepsTheIPv4AddressWith440() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.message.xorRelayedAddresses == [Self.ipv4Relay])
        #expect(reply.message.addressErrorCodes.map(\.family) == [.ipv6])
        #expect(reply.message.addressErrorCodes.map(\.error.code) == [440])
        #expect(server.allocation(for: alice.tuple)?.additionalRelayed == nil)
        #expect(server.dualAllocationCount == 0)
    }

    @Test func ipv6PortsExhaustedKeepsTheIPv4AddressWith508() throws {
        var server = Self.dualServer(full: [.ipv6])
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(reply.message.xorRelayedAddresses == [Self.ipv4Relay])
        #expect(reply.message.addressErrorCodes.map(\.family) == [.ipv6])
        #expect(reply.message.addressErrorCodes.map(\.error.code) == [508])
        #expect(server.relays.live == [Self.ipv4Relay])
    }

    @Test func ipv4PortsExhaustedKeepsTheIPv6AddressWith508() throws {
        var server = Self.dualServer(full: [.ipv4])
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.isSuccess)
        let ipv6 = FakeRelays.relay(50_000, family: .ipv6)
        #expect(reply.message.xorRelayedAddresses == [ipv6])
        #expect(reply.message.addressErrorCodes.map(\.family) == [.ipv4])
        #expect(reply.message.addressErrorCodes.map(\.error.code) == [508])
        #expect(server.allocation(for: alice.tuple)?.relayedAddresses == [ipv6])
        #expect(try alice.permit([Addresses.peer], on: &server).code == 443)
        #expect(try alice.permit([Self.ipv6Peer], on: &server).isSuccess)
    }

    @Test func neitherFamilyAvailableFailsTheAllocate() throws {
        var server = Self.dualServer(full: [.ipv4, .ipv6])
        var alice = Fixture.alice()
        #expect(try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server).code == 508)
        var none = Fixture.server(relays: FakeRelays(families: []))
        var bob = Fixture.bob()
        let reply = try bob.allocate([.additionalAddressFamily(.ipv6)], on: &none)
        #expect(reply.code == 440)
        #expect(reply.isAuthenticated(with: bob.key))
        #expect(server.allocationCount == 0 && none.allocationCount == 0)
    }

    @Test func ipv4NotServedIs440() throws {
        var server = Fixture.server(relays: FakeRelays(families: [.ipv6]))
        var alice = Fixture.alice()
        #expect(try alice.allocate(on: &server).code == 440)
        // IPv6 ports exhausted, by contrast, is capacity: 508.
        var full = Self.dualServer(full: [.ipv6])
        var bob = Fixture.bob()
        #expect(try bob.allocate([.requestedAddressFamily(.ipv6)], on: &full).code == 508)
    }

    @Test func additionalIPv4FamilyIs400() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv4)], on: &server)
        #expect(reply.code == 400)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(server.allocationCount == 0)
        #expect(server.relays.opened.isEmpty)
    }

    @Test func additionalFamilyWithAReservationIs400() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        // EVEN-PORT with the R bit reserves the next port of one address, not of a pair.
        #expect(
            try alice.allocate([.additionalAddressFamily(.ipv6), .evenPort(reserveNext: true)], on: &server).code == 400
        )
        let token = STUNAttribute.reservationToken([1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try alice.allocate([.additionalAddressFamily(.ipv6), token], on: &server).code == 400)
        #expect(server.relays.opened.isEmpty)
        // Without the R bit, both ports are even.
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6), .evenPort(reserveNext: false)], on: &server)
        #expect(reply.isSuccess)
        #expect(reply.message.xorRelayedAddresses.allSatisfy { $0.port.isMultiple(of: 2) })
        #expect(reply.message.xorRelayedAddresses.map(\.family) == [.ipv4, .ipv6])
    }

    @Test func externalAddressIsAdvertisedForItsFamilyOnly() throws {
        var server = Self.dualServer { $0.externalAddress = testAddress("203.0.113.10", 0) }
        var alice = Fixture.alice()
        let reply = try alice.allocate([.additionalAddressFamily(.ipv6)], on: &server)
        #expect(reply.message.xorRelayedAddresses == [testAddress("203.0.113.10", 50_000), Self.ipv6Relay])
    }

    // MARK: - Which relayed address a peer gets

    @Test func permissionsAreCheckedAgainstThePeersFamily() throws {
        var single = Fixture.server(relays: FakeRelays(families: [.ipv4, .ipv6]))
        var alice = Fixture.alice()
        try alice.allocated(on: &single)
        let mismatch = try alice.permit([Self.ipv6Peer], on: &single)
        #expect(mismatch.code == 443)
        #expect(mismatch.isAuthenticated(with: alice.key))
        // One peer of a missing family fails the whole request (RFC 8656 §10.2).
        #expect(try alice.permit([Addresses.peer, Self.ipv6Peer], on: &single).code == 443)
        #expect(single.allocation(for: alice.tuple)?.permissionCount == 0)

        var dual = Self.dualServer()
        var bob = Fixture.bob()
        try Self.dualAllocated(&bob, on: &dual)
        #expect(try bob.permit([Addresses.peer, Self.ipv6Peer], on: &dual).isSuccess)
        #expect(dual.allocation(for: bob.tuple)?.permissionCount == 2)
    }

    @Test func channelsGoOutOfTheRelayedAddressOfTheirPeersFamily() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        let bind = try alice.bind(0x4001, to: Self.ipv6Peer, on: &server)
        #expect(bind.isSuccess)
        #expect(bind.isAuthenticated(with: alice.key))
        #expect(server.allocation(for: alice.tuple)?.channelCount == 2)

        // Routed outside #require: the macro cannot call a mutating method.
        let routedIPv4 = server.channelRoute(0x4000, from: alice.tuple, at: 1)
        let routedIPv6 = server.channelRoute(0x4001, from: alice.tuple, at: 1)
        let ipv4 = try #require(routedIPv4)
        #expect(ipv4.relayed == Self.ipv4Relay && ipv4.peer == Addresses.peer)
        let ipv6 = try #require(routedIPv6)
        #expect(ipv6.relayed == Self.ipv6Relay && ipv6.peer == Self.ipv6Peer)

        // Datagrams back, on either relay socket, reach the client on the peer's channel.
        #expect(server.peerRoute(to: Self.ipv4Relay, from: Addresses.peer, at: 1) == .channel(0x4000, to: alice.tuple))
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Self.ipv6Peer, at: 1) == .channel(0x4001, to: alice.tuple))
        let otherPort = testAddress("2606:4700::1111", 5001)
        #expect(
            server.peerRoute(to: Self.ipv6Relay, from: otherPort, at: 1)
                == .dataIndication(to: alice.tuple, peer: otherPort))
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Self.otherIPv6Peer, at: 1) == .drop)
        // Each socket carries its own family only, whatever the other family's permissions.
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Addresses.peer, at: 1) == .drop)
        #expect(server.peerRoute(to: Self.ipv4Relay, from: Self.ipv6Peer, at: 1) == .drop)

        // On an allocation of one family, a peer of the other is a 443 and binds nothing.
        var bob = Fixture.bob()
        try bob.allocated(on: &server)
        #expect(try bob.bind(0x4001, to: Self.ipv6Peer, on: &server).code == 443)
        #expect(server.allocation(for: bob.tuple)?.channelCount == 0)
    }

    @Test func sendIndicationsGoOutOfTheRelayedAddressOfTheirPeersFamily() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        #expect(try alice.permit([Addresses.peer, Self.ipv6Peer], on: &server).isSuccess)
        let payload = Array("dual".utf8)
        #expect(
            alice.sendIndication(to: Self.ipv6Peer, payload: payload, on: &server)
                == .relay(from: Self.ipv6Relay, to: Self.ipv6Peer, payload: payload))
        #expect(
            alice.sendIndication(to: Addresses.peer, payload: payload, on: &server)
                == .relay(from: Self.ipv4Relay, to: Addresses.peer, payload: payload))
        #expect(server.counters.dropped == 0)

        // An allocation with no IPv6 relayed address drops a Send toward an IPv6 peer, counted.
        var bob = Fixture.bob()
        try bob.allocated(on: &server)
        #expect(bob.sendIndication(to: Self.ipv6Peer, payload: payload, on: &server) == .ignore)
        #expect(server.counters.dropped == 1)
    }

    // MARK: - Release

    @Test func refreshToZeroReleasesBothRelayedAddresses() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        #expect(try alice.bind(0x4001, to: Self.ipv6Peer, on: &server).isSuccess)
        _ = server.drainEvents()
        let reply = try alice.send(.refresh, [.lifetime(0)], to: &server, at: TestTime.at(10))
        #expect(reply.isSuccess)
        #expect(reply.message.lifetime == 0)
        #expect(server.allocationCount == 0)
        #expect(server.usernames.isEmpty)
        #expect(server.relays.closed == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(server.relays.live.isEmpty)
        #expect(
            server.drainEvents()
                == [.released(alice.tuple, relayed: [Self.ipv4Relay, Self.ipv6Relay], reason: .refreshedToZero)])
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Self.ipv6Peer, at: 11) == .drop)
        #expect(server.expire(now: TestTime.instant(10_000)).isEmpty, "nothing left to close twice")
    }

    @Test func expiryReleasesBothRelayedAddresses() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        #expect(server.expire(now: TestTime.instant(599)).isEmpty)
        #expect(server.expire(now: TestTime.instant(600)) == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(server.relays.closed == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(server.allocationCount == 0)
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Self.ipv6Peer, at: 601) == .drop)
    }

    @Test func closingTheConnectionReleasesBothRelayedAddresses() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice(40_000, transport: .tcp)
        try Self.dualAllocated(&alice, on: &server)
        #expect(server.connectionClosed(alice.tuple) == [Self.ipv4Relay, Self.ipv6Relay])
        #expect(server.relays.live.isEmpty)
        #expect(server.connectionClosed(alice.tuple).isEmpty)
    }

    // MARK: - Refresh and REQUESTED-ADDRESS-FAMILY (RFC 8656 §8)

    @Test func refreshForAFamilyTheAllocationLacksIs443() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try alice.allocated(on: &server)
        let reply = try alice.send(.refresh, [.requestedAddressFamily(.ipv6)], to: &server, at: TestTime.at(5))
        #expect(reply.code == 443)
        #expect(reply.isAuthenticated(with: alice.key))
        #expect(
            try alice.send(.refresh, [.requestedAddressFamily(.ipv6), .lifetime(0)], to: &server, at: TestTime.at(20))
                .code == 443)
        #expect(server.allocationCount == 1, "a refused delete deletes nothing")
        #expect(try alice.send(.refresh, [.requestedAddressFamily(.ipv4)], to: &server, at: TestTime.at(25)).isSuccess)

        // A dual allocation holds both families: either refreshes it.
        var bob = Fixture.bob()
        try Self.dualAllocated(&bob, on: &server)
        let both: [TransportAddress.Family] = [.ipv4, .ipv6]
        for family in both {
            let refreshed = try bob.send(
                .refresh, [.requestedAddressFamily(family), .lifetime(1_200)], to: &server, at: TestTime.at(100))
            #expect(refreshed.isSuccess)
            #expect(refreshed.message.lifetime == 1_200)
        }
        #expect(server.allocation(for: bob.tuple)?.expiry == TestTime.instant(1_300))
    }

    @Test func refreshToZeroForOneFamilyReleasesOnlyThatFamily() throws {
        var server = Self.dualServer()
        var alice = Fixture.alice()
        try Self.dualAllocated(&alice, on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(try alice.bind(0x4001, to: Self.ipv6Peer, on: &server).isSuccess)
        #expect(try alice.permit([Self.otherIPv6Peer], on: &server).isSuccess)
        _ = server.drainEvents()

        let reply = try alice.send(
            .refresh, [.requestedAddressFamily(.ipv6), .lifetime(0)], to: &server, at: TestTime.at(20))
        #expect(reply.isSuccess)
        #expect(reply.message.lifetime == 0)
        #expect(server.relays.closed == [Self.ipv6Relay])
        #expect(server.drainEvents() == [.released(alice.tuple, relayed: [Self.ipv6Relay], reason: .refreshedToZero)])
        let allocation = try #require(server.allocation(for: alice.tuple))
        #expect(allocation.relayedAddresses == [Self.ipv4Relay])
        // The IPv6 permissions and channel went with it; the IPv4 ones stay (RFC 8656 §8.1).
        #expect(allocation.permissionCount == 1)
        #expect(allocation.channelCount == 1)
        #expect(server.channelRoute(0x4001, from: alice.tuple, at: 1) == nil)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 1)?.relayed == Self.ipv4Relay)
        #expect(server.peerRoute(to: Self.ipv6Relay, from: Self.ipv6Peer, at: 1) == .drop)
        #expect(try alice.permit([Self.ipv6Peer], on: &server).code == 443)
        #expect(
            try alice.send(.refresh, [.requestedAddressFamily(.ipv6)], to: &server, at: TestTime.at(20)).code == 443)
        #expect(server.allocationCount == 1 && server.dualAllocationCount == 0)

        // Deleting the IPv4 address of another dual allocation leaves its IPv6 one as the relayed.
        var bob = Fixture.bob()
        #expect(try bob.allocate([.additionalAddressFamily(.ipv6)], on: &server).isSuccess)
        let bobIPv6 = try #require(server.allocation(for: bob.tuple)?.additionalRelayed)
        #expect(
            try bob.send(.refresh, [.requestedAddressFamily(.ipv4), .lifetime(0)], to: &server, at: TestTime.at(20))
                .isSuccess)
        #expect(server.allocation(for: bob.tuple)?.relayedAddresses == [bobIPv6])
        // The last one left goes with the allocation.
        #expect(
            try bob.send(.refresh, [.requestedAddressFamily(.ipv6), .lifetime(0)], to: &server, at: TestTime.at(20))
                .isSuccess)
        #expect(server.allocation(for: bob.tuple) == nil)
        #expect(server.relays.live == [Self.ipv4Relay])
    }
}
