import STUN
import TURN
import Testing

/// The route each allocation remembers for its last datagram each way (`RouteCache`): the data
/// path must decide exactly as the tables would, whether or not the expiry sweep has run and
/// whatever changed since the route was remembered.
struct RouteCacheTests {
    @Test func aRememberedRouteEndsWithItsPermissionBeforeAnySweep() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated([.lifetime(3_600)], on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(0)).isSuccess)
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 10) != nil)
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 10) == .channel(0x4000, to: alice.tuple))
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 299) != nil)

        // The permission lasts 300 s (RFC 8656 §9); no `expire` has run.
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 300) == nil)
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 300) == .drop)
    }

    @Test func aChannelBoundAfterDataIndicationsCarriesTheNextDatagram() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        #expect(try alice.permit([Addresses.peer], on: &server).isSuccess)
        #expect(
            server.peerRoute(to: relayed, from: Addresses.peer, at: 1)
                == .dataIndication(to: alice.tuple, peer: Addresses.peer))

        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(2)).isSuccess)

        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 3) == .channel(0x4000, to: alice.tuple))
    }

    @Test func aRememberedChannelEndsWithTheChannelWhileThePermissionLives() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated([.lifetime(3_600)], on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server, at: TestTime.at(0)).isSuccess)
        // Permissions refreshed on their own; the channel (600 s, RFC 8656 §12) is not.
        #expect(try alice.permit([Addresses.peer], on: &server, at: TestTime.at(250)).isSuccess)
        #expect(try alice.permit([Addresses.peer], on: &server, at: TestTime.at(500)).isSuccess)
        #expect(server.peerRoute(to: relayed, from: Addresses.peer, at: 590) == .channel(0x4000, to: alice.tuple))
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 590) != nil)

        #expect(
            server.peerRoute(to: relayed, from: Addresses.peer, at: 600)
                == .dataIndication(to: alice.tuple, peer: Addresses.peer))
        #expect(server.channelRoute(0x4000, from: alice.tuple, at: 600) == nil)
    }

    @Test func releasingOneFamilyOfADualAllocationForgetsItsRoutes() throws {
        var server = DualAllocationTests.dualServer()
        var alice = Fixture.alice()
        try DualAllocationTests.dualAllocated(&alice, on: &server)
        let ipv6Peer = DualAllocationTests.ipv6Peer
        #expect(try alice.bind(0x4001, to: ipv6Peer, on: &server).isSuccess)
        #expect(server.channelRoute(0x4001, from: alice.tuple, at: 1)?.relayed == DualAllocationTests.ipv6Relay)

        let reply = try alice.send(
            .refresh, [.requestedAddressFamily(.ipv6), .lifetime(0)], to: &server, at: TestTime.at(2))
        #expect(reply.isSuccess)

        #expect(server.channelRoute(0x4001, from: alice.tuple, at: 3) == nil)
    }

    @Test func aRouteRemembersOnePeerAndTheOthersStillFollowTheTables() throws {
        var server = Fixture.server()
        var alice = Fixture.alice()
        let relayed = try alice.allocated(on: &server)
        #expect(try alice.bind(0x4000, to: Addresses.peer, on: &server).isSuccess)
        #expect(try alice.bind(0x4001, to: Addresses.otherPeer, on: &server).isSuccess)

        for second in Int64(1)...3 {
            #expect(server.channelRoute(0x4000, from: alice.tuple, at: second)?.peer == Addresses.peer)
            #expect(server.channelRoute(0x4001, from: alice.tuple, at: second)?.peer == Addresses.otherPeer)
            #expect(server.channelRoute(0x4002, from: alice.tuple, at: second) == nil)
            #expect(
                server.peerRoute(to: relayed, from: Addresses.peer, at: second) == .channel(0x4000, to: alice.tuple))
            #expect(
                server.peerRoute(to: relayed, from: Addresses.otherPeer, at: second)
                    == .channel(0x4001, to: alice.tuple))
            #expect(server.peerRoute(to: relayed, from: Addresses.thirdPeer, at: second) == .drop)
        }
    }
}
