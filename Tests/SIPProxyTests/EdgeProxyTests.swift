import SIP
import Testing

@testable import SIPProxy

/// A proxy on 192.0.2.1 (UDP and TCP 5060, WS 8088) with two trunk servers of one group, and the flows
/// the tests send from.
struct Fixture {
    static let client = Flow(listener: 0, transport: .udp, remote: PeerAddress(host: "203.0.113.7", port: 40_000))
    static let tcpClient = Flow(
        listener: 1, transport: .tcp, remote: PeerAddress(host: "203.0.113.8", port: 50_000), connection: 7)
    static let trunkA = Flow(listener: 0, transport: .udp, remote: PeerAddress(host: "10.0.0.10", port: 5060))
    static let trunkB = Flow(listener: 0, transport: .udp, remote: PeerAddress(host: "10.0.0.11", port: 5060))

    static func configuration(probing: ProbeSettings = ProbeSettings(interval: .zero), rate: Int = 0)
        -> ProxyConfiguration
    {
        ProxyConfiguration(
            listeners: [
                ProxyListener(transport: .udp, host: "192.0.2.1", port: 5060),
                ProxyListener(transport: .tcp, host: "192.0.2.1", port: 5060),
                ProxyListener(transport: .ws, host: "192.0.2.1", port: 8088),
            ],
            domains: ["edge.example.com"],
            trunkGroups: [
                TrunkGroup(
                    name: "media",
                    servers: [
                        TrunkServer(host: "10.0.0.10", port: 5060, transport: .udp, priority: 1),
                        TrunkServer(host: "10.0.0.11", port: 5060, transport: .udp, priority: 2),
                    ])
            ],
            probing: probing, requestsPerSecond: rate, banDuration: .seconds(10),
            flowTokenSecret: Array("0123456789abcdef0123456789abcdef".utf8))
    }

    var proxy = EdgeProxy(configuration: Fixture.configuration())
    var now = TransactionInstant(nanoseconds: 1_000_000_000)

    mutating func receive(_ text: String, on flow: Flow) -> [Sent] {
        proxy.receive(Array(text.utf8), on: flow, now: now).compactMap(Sent.init)
    }

    mutating func advance(_ duration: Duration) -> [Sent] {
        now = now + duration
        return proxy.handleTimeout(now: now).compactMap(Sent.init)
    }
}

/// One `.send` action, with the message reparsed from its bytes (what the wire would carry).
struct Sent {
    var message: SIPMessage
    var destination: Destination
    var transaction: TransactionKey?

    init?(_ action: ProxyAction) {
        guard case .send(let message, let destination, let transaction) = action,
            case .success(let parsed) = MessageParser().parse(message.serialized())
        else { return nil }
        self.message = parsed
        self.destination = destination
        self.transaction = transaction
    }

    var request: SIPRequest? { message.request }
    var response: SIPResponse? { message.response }
    var status: UInt16? { message.response?.statusCode.rawValue }
    var method: SIPMethod? { message.request?.method }
    var wire: String { String(decoding: message.serialized(), as: UTF8.self) }
}

func sipText(_ startLine: String, _ headers: [String], body: String = "") -> String {
    ([startLine] + headers + ["Content-Length: \(body.utf8.count)", "", body]).joined(separator: "\r\n")
}

func invite(
    uri: String = "sip:service@192.0.2.1:5060", branch: String = "z9hG4bKc1", callID: String = "call-1",
    via: String = "SIP/2.0/UDP 198.51.100.1:5062", maxForwards: Int = 70, extra: [String] = []
) -> String {
    sipText(
        "INVITE \(uri) SIP/2.0",
        [
            "Via: \(via);branch=\(branch);rport", "Max-Forwards: \(maxForwards)",
            "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>",
            "Call-ID: \(callID)", "CSeq: 1 INVITE", "Contact: <sip:alice@198.51.100.1:5062>",
            "Content-Type: application/sdp",
        ] + extra, body: "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n")
}

/// The response a trunk sends to `request` (the proxy's forwarded copy), with a To tag.
func reply(_ request: SIPRequest, _ code: UInt16, extra: [String] = []) -> String {
    var response = SIPResponse(replyingTo: request, statusCode: SIPStatusCode(rawValue: code)!, toTag: "b2")
    for line in extra {
        let parts = line.split(separator: ":", maxSplits: 1)
        response.headers.append(SIPHeaderName(String(parts[0])), parts[1].trimmingCharacters(in: .whitespaces))
    }
    return String(decoding: response.serialized(), as: UTF8.self)
}

extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension Set where Element == Character {
    static let whitespaces: Set<Character> = [" ", "\t"]
}

@Suite struct ProxyCallTests {
    @Test func inviteGetsTryingAndIsForwardedToTheTrunkWithViaRecordRouteAndRport() throws {
        var fixture = Fixture()
        let sent = fixture.receive(invite(), on: Fixture.client)
        #expect(sent.count == 2)
        #expect(sent[0].status == 100)
        #expect(sent[0].destination == .flow(Fixture.client))
        // RFC 3581: the response's Via says where the request really came from.
        let trying = try #require(sent[0].response)
        let clientVia = try #require(try trying.headers.topVia())
        #expect(clientVia.received == "203.0.113.7")
        #expect(clientVia.rport == .port(40_000))

        let forwarded = try #require(sent[1].request)
        #expect(sent[1].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        #expect(forwarded.uri.description == "sip:service@192.0.2.1:5060")
        let vias = try forwarded.headers.vias()
        #expect(vias.count == 2)
        #expect(vias[0].sentBy == "192.0.2.1:5060")
        #expect(vias[0].branch?.hasPrefix("z9hG4bKsd") == true)
        #expect(vias[1].received == "203.0.113.7")
        #expect(try forwarded.headers.maxForwards() == 69)
        let recordRoutes = try forwarded.headers.recordRoutes()
        #expect(recordRoutes.count == 1)
        let rr = try #require(recordRoutes[0].sipURI)
        #expect(rr.isLooseRouting)
        #expect(rr.host == .ipv4("192.0.2.1"))
        // The outside flow's token, so that the trunk's in-dialog requests find the client.
        #expect(rr.user == fixture.proxy.flowToken(for: Fixture.client))
        // SDP passes unchanged (until the media bridge hook does more).
        #expect(
            forwarded.body
                == Array("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n".utf8))
    }

    @Test func retransmittedInviteIsAbsorbedAndAnsweredWithTheLastResponse() throws {
        var fixture = Fixture()
        _ = fixture.receive(invite(), on: Fixture.client)
        let again = fixture.receive(invite(), on: Fixture.client)
        #expect(again.count == 1)
        #expect(again[0].status == 100)
        #expect(fixture.proxy.counters.retransmissionsAbsorbed == 1)
    }

    @Test func clientTransactionRetransmitsOverUDPWithTheSameBranch() throws {
        var fixture = Fixture()
        let sent = fixture.receive(invite(), on: Fixture.client)
        let first = try #require(sent[1].request)
        let retransmitted = fixture.advance(.milliseconds(500))
        #expect(retransmitted.count == 1)
        #expect(retransmitted[0].request == first)
    }

    @Test func responsesAreForwardedUpstreamWithoutOurVia() throws {
        var fixture = Fixture()
        let forwarded = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        let ringing = fixture.receive(reply(forwarded, 180), on: Fixture.trunkA)
        #expect(ringing.map(\.status) == [180])
        #expect(ringing[0].destination == .flow(Fixture.client))
        #expect(try ringing[0].response!.headers.vias().count == 1)
        let ok = fixture.receive(
            reply(forwarded, 200, extra: ["Contact: <sip:service@10.0.0.10:5060>"]), on: Fixture.trunkA)
        #expect(ok.map(\.status) == [200])
        // A 2xx retransmission passes too (RFC 6026).
        let again = fixture.receive(reply(forwarded, 200), on: Fixture.trunkA)
        #expect(again.map(\.status) == [200])
    }

    @Test func busyFromTheTrunkIsAckedHopByHopAndReachesTheCaller() throws {
        var fixture = Fixture()
        let forwarded = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        let busy = fixture.receive(reply(forwarded, 486), on: Fixture.trunkA)
        #expect(busy.count == 2)
        let ack = try #require(busy.first { $0.method == .ack })
        #expect(ack.destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        #expect(try ack.request!.headers.topVia()?.branch == (try forwarded.headers.topVia()?.branch))
        let upstream = try #require(busy.first { $0.status == 486 })
        #expect(upstream.destination == .flow(Fixture.client))
        // The caller's ACK of the 486 ends at the proxy.
        let clientAck = sipText(
            "ACK sip:service@192.0.2.1:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKc1;rport", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>;tag=b2",
                "Call-ID: call-1", "CSeq: 1 ACK",
            ])
        #expect(fixture.receive(clientAck, on: Fixture.client).isEmpty)
    }

    @Test func ackForA2xxFollowsTheRouteSetToTheTrunkStatelessly() throws {
        var fixture = Fixture()
        let forwarded = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        _ = fixture.receive(reply(forwarded, 200, extra: ["Contact: <sip:service@10.0.0.10:5060>"]), on: Fixture.trunkA)
        let route = try forwarded.headers.recordRoutes()[0].description
        let ack = sipText(
            "ACK sip:service@10.0.0.10:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKack1;rport", "Route: \(route)",
                "Max-Forwards: 70", "From: <sip:alice@edge.example.com>;tag=a1",
                "To: <sip:service@edge.example.com>;tag=b2", "Call-ID: call-1", "CSeq: 1 ACK",
            ])
        let sent = fixture.receive(ack, on: Fixture.client)
        #expect(sent.count == 1)
        #expect(sent[0].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        #expect(sent[0].request?.headers.contains(.route) == false)
        let again = fixture.receive(ack, on: Fixture.client)
        #expect(try again[0].request!.headers.topVia()?.branch == (try sent[0].request!.headers.topVia()?.branch))
    }

    @Test func cancelOfARingingCallIsAnsweredAndSentToTheBranch() throws {
        var fixture = Fixture()
        let forwarded = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        _ = fixture.receive(reply(forwarded, 180), on: Fixture.trunkA)
        let cancel = sipText(
            "CANCEL sip:service@192.0.2.1:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKc1;rport", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>",
                "Call-ID: call-1", "CSeq: 1 CANCEL",
            ])
        let sent = fixture.receive(cancel, on: Fixture.client)
        #expect(sent.count == 2)
        #expect(sent[0].status == 200)
        #expect(sent[0].response.map { (try? $0.headers.cseq())?.method } == .cancel)
        let branchCancel = try #require(sent[1].request)
        #expect(branchCancel.method == .cancel)
        #expect(try branchCancel.headers.topVia()?.branch == (try forwarded.headers.topVia()?.branch))
        #expect(sent[1].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        // The trunk answers the CANCEL and ends the INVITE with 487, which reaches the caller.
        #expect(fixture.receive(reply(branchCancel, 200), on: Fixture.trunkA).isEmpty)
        let terminated = fixture.receive(reply(forwarded, 487), on: Fixture.trunkA)
        #expect(terminated.contains { $0.status == 487 && $0.destination == .flow(Fixture.client) })
        #expect(terminated.contains { $0.method == .ack })
    }

    @Test func cancelWithoutATransactionGets481() throws {
        var fixture = Fixture()
        let cancel = sipText(
            "CANCEL sip:service@192.0.2.1:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKnone", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>",
                "Call-ID: call-x", "CSeq: 1 CANCEL",
            ])
        #expect(fixture.receive(cancel, on: Fixture.client).map(\.status) == [481])
    }
}

@Suite struct ProxyPolicyTests {
    @Test func maxForwardsZeroGets483() {
        var fixture = Fixture()
        let sent = fixture.receive(invite(maxForwards: 0), on: Fixture.client)
        #expect(sent.map(\.status) == [100, 483])
    }

    @Test func aRequestThatComesBackUnchangedIsALoop() throws {
        var fixture = Fixture()
        // A trunk misconfigured to send the call straight back to the proxy.
        let forwarded = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        var back = forwarded
        back.headers.prependVia(Via(transport: "UDP", host: .ipv4("10.0.0.10"), port: 5060, branch: "z9hG4bKt9"))
        let looped = String(decoding: back.serialized(), as: UTF8.self)
        let sent = fixture.receive(looped, on: Fixture.trunkA)
        #expect(sent.map(\.status) == [100, 482])
    }

    /// §16.3 step 5: 420 with an Unsupported header field listing the Proxy-Require option tags (RFC 4475
    /// §3.3.5 `bext01`); Require is for the UAS, not the proxy.
    @Test func proxyRequireGets420ListingTheTagsInUnsupported() {
        var fixture = Fixture()
        let sent = fixture.receive(
            invite(extra: ["Require: nothingSupportedHere", "Proxy-Require: noProxiesSupportThis, nor-this-either"]),
            on: Fixture.client)
        #expect(sent.map(\.status) == [100, 420])
        #expect(sent.last?.response?.headers[.unsupported] == ["noProxiesSupportThis, nor-this-either"])
    }

    @Test func outsideRequestsForOtherDomainsAreRefused() {
        var fixture = Fixture()
        let sent = fixture.receive(invite(uri: "sip:bob@evil.example.net"), on: Fixture.client)
        #expect(sent.map(\.status) == [100, 403])
        #expect(fixture.proxy.counters.relayRefused == 1)
        // Nor can a Route smuggle it elsewhere.
        let routed = fixture.receive(
            invite(branch: "z9hG4bKc2", callID: "call-2", extra: ["Route: <sip:198.51.100.99;lr>"]), on: Fixture.client)
        #expect(routed.map(\.status) == [100, 403])
    }

    @Test func outsideRequestsForTheDomainOrATrunkAddressGoToTheTrunk() {
        var fixture = Fixture()
        let domain = fixture.receive(invite(uri: "sip:service@edge.example.com"), on: Fixture.client)
        #expect(domain[1].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        let direct = fixture.receive(
            invite(uri: "sip:service@10.0.0.11:5060", branch: "z9hG4bKc2", callID: "c2"), on: Fixture.client)
        #expect(direct[1].destination == .address(listener: 0, host: "10.0.0.11", port: 5060))
    }

    @Test func foreignDomainsMayBeSentToTheTrunkByConfiguration() {
        var configuration = Fixture.configuration()
        configuration.foreignDomains = .trunk
        var fixture = Fixture(proxy: EdgeProxy(configuration: configuration))
        let sent = fixture.receive(invite(uri: "sip:bob@elsewhere.example.net"), on: Fixture.client)
        #expect(sent[1].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
    }

    @Test func trunksMayReachAnyAddress() {
        var fixture = Fixture()
        let sent = fixture.receive(
            invite(uri: "sip:bob@198.51.100.20:5070", via: "SIP/2.0/UDP 10.0.0.10:5060"), on: Fixture.trunkA)
        #expect(sent[1].destination == .address(listener: 0, host: "198.51.100.20", port: 5070))
    }

    @Test func optionsForTheProxyItselfIsAnswered() {
        var fixture = Fixture()
        let options = sipText(
            "OPTIONS sip:192.0.2.1:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKo1", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:192.0.2.1>", "Call-ID: o1",
                "CSeq: 1 OPTIONS",
            ])
        #expect(fixture.receive(options, on: Fixture.client).map(\.status) == [200])
    }

    @Test func malformedRequestsGet400AndGarbageIsDropped() {
        var fixture = Fixture()
        let bad = sipText(
            "INVITE sip:service@192.0.2.1 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKbad", "Max-Forwards: seventy",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>",
                "Call-ID: bad", "CSeq: 1 INVITE",
            ])
        #expect(fixture.receive(bad, on: Fixture.client).map(\.status) == [400])
        #expect(fixture.receive("GET / HTTP/1.1\r\n\r\n", on: Fixture.client).isEmpty)
        #expect(fixture.proxy.counters.malformed == 2)
    }
}

@Suite struct ProxyFlowTests {
    func register(on flow: Flow, transport: String = "TCP") -> String {
        sipText(
            "REGISTER sip:edge.example.com SIP/2.0",
            [
                "Via: SIP/2.0/\(transport) 198.51.100.1:5062;branch=z9hG4bKr1;rport", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=r1", "To: <sip:alice@edge.example.com>",
                "Call-ID: reg-1", "CSeq: 1 REGISTER",
                "Contact: <sip:alice@198.51.100.1:5062;transport=tcp>;+sip.instance=\"<urn:uuid:1>\";reg-id=1",
                "Supported: outbound",
            ])
    }

    @Test func registerFromOutsideGetsAPathWithTheFlowToken() throws {
        var fixture = Fixture()
        let opened = fixture.proxy.flowOpened(Fixture.tcpClient)
        #expect(opened)
        let sent = fixture.receive(register(on: Fixture.tcpClient), on: Fixture.tcpClient)
        #expect(sent.count == 1)
        let forwarded = try #require(sent[0].request)
        #expect(sent[0].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        let path = try forwarded.headers.paths()
        #expect(path.count == 1)
        let uri = try #require(path[0].sipURI)
        #expect(uri.isLooseRouting && uri.hasOutboundParameter)
        #expect(uri.user == fixture.proxy.flowToken(for: Fixture.tcpClient))
        #expect(try forwarded.headers.supported().contains("path"))
        #expect(!forwarded.headers.contains(.recordRoute))
        // The registrar's 200 goes back down the connection.
        let ok = fixture.receive(reply(forwarded, 200), on: Fixture.trunkA)
        #expect(ok.map(\.status) == [200])
        #expect(ok[0].destination == .flow(Fixture.tcpClient))
    }

    @Test func aTrunkRequestWithTheTokenGoesOverTheFlowAnd430WhenItIsGone() throws {
        var fixture = Fixture()
        let opened = fixture.proxy.flowOpened(Fixture.tcpClient)
        #expect(opened)
        let forwarded = try #require(fixture.receive(register(on: Fixture.tcpClient), on: Fixture.tcpClient)[0].request)
        let path = try forwarded.headers.paths()[0].description
        let incoming = sipText(
            "INVITE sip:alice@198.51.100.1:5062;transport=tcp SIP/2.0",
            [
                "Via: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKt1", "Route: \(path)", "Max-Forwards: 70",
                "From: <sip:service@10.0.0.10>;tag=t1", "To: <sip:alice@edge.example.com>", "Call-ID: in-1",
                "CSeq: 1 INVITE", "Contact: <sip:service@10.0.0.10:5060>",
            ])
        let sent = fixture.receive(incoming, on: Fixture.trunkA)
        #expect(sent.map(\.status) == [100, nil])
        #expect(sent[1].destination == .flow(Fixture.tcpClient))
        let request = try #require(sent[1].request)
        #expect(!request.headers.contains(.route))
        // Double Record-Route: the trunk side (UDP) and the client side (TCP, with the client's token).
        let recordRoutes = try request.headers.recordRoutes().compactMap(\.sipURI)
        #expect(recordRoutes.count == 2)
        #expect(recordRoutes[0].transport == "tcp")
        #expect(recordRoutes[0].user == fixture.proxy.flowToken(for: Fixture.tcpClient))
        #expect(recordRoutes[1].transport == nil)
        #expect(try request.headers.topVia()?.transport == "TCP")

        fixture.proxy.flowClosed(Fixture.tcpClient)
        let later = fixture.receive(
            incoming.replacingOccurrences(of: "z9hG4bKt1", with: "z9hG4bKt2"), on: Fixture.trunkA)
        #expect(later.map(\.status) == [100, 430])
    }

    @Test func aForgedTokenIsRefused() throws {
        var fixture = Fixture()
        let incoming = sipText(
            "INVITE sip:alice@198.51.100.1:5062 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKf1",
                "Route: <sip:AAAAAAAAAAAAAAAAAAAAAAAAAAA@192.0.2.1;lr>",
                "Max-Forwards: 70", "From: <sip:service@10.0.0.10>;tag=t1", "To: <sip:alice@edge.example.com>",
                "Call-ID: forged", "CSeq: 1 INVITE",
            ])
        #expect(fixture.receive(incoming, on: Fixture.trunkA).map(\.status) == [100, 403])
    }

    @Test func doubleRecordRouteWhenTheTransportChanges() throws {
        var fixture = Fixture()
        let opened = fixture.proxy.flowOpened(Fixture.tcpClient)
        #expect(opened)
        let sent = fixture.receive(invite(via: "SIP/2.0/TCP 198.51.100.1:5062"), on: Fixture.tcpClient)
        let forwarded = try #require(sent[1].request)
        let recordRoutes = try forwarded.headers.recordRoutes().compactMap(\.sipURI)
        #expect(recordRoutes.count == 2)
        // Top: the trunk side (UDP); below it the client side (TCP) with the client's flow token.
        #expect(recordRoutes[0].transport == nil && recordRoutes[0].user == nil)
        #expect(recordRoutes[1].transport == "tcp")
        #expect(recordRoutes[1].user == fixture.proxy.flowToken(for: Fixture.tcpClient))
    }

    @Test func connectionsPerSourceAreLimited() {
        var configuration = Fixture.configuration()
        configuration.connectionsPerSource = 2
        var proxy = EdgeProxy(configuration: configuration)
        func flow(_ id: UInt64) -> Flow {
            Flow(listener: 1, transport: .tcp, remote: PeerAddress(host: "203.0.113.8", port: 50_000), connection: id)
        }
        let opened1 = proxy.flowOpened(flow(1))
        #expect(opened1)
        let opened2 = proxy.flowOpened(flow(2))
        #expect(opened2)
        let opened3 = proxy.flowOpened(flow(3))
        #expect(!opened3)
        proxy.flowClosed(flow(1))
        let opened4 = proxy.flowOpened(flow(4))
        #expect(opened4)
    }
}

@Suite struct ProxyOverloadTests {
    /// A full transaction table pushes back new work with 503 and Retry-After, holding no state for
    /// it, while a request within a dialog still goes through, and new work is taken again once the
    /// table drains.
    @Test func aFullTableAnswersNewRequests503ButLetsDialogsEnd() throws {
        var configuration = Fixture.configuration()
        configuration.maxTransactions = 2
        var fixture = Fixture()
        fixture.proxy = EdgeProxy(configuration: configuration)
        for number in 1...2 {
            let sent = fixture.receive(
                invite(branch: "z9hG4bKfull\(number)", callID: "full-\(number)"), on: Fixture.client)
            #expect(sent.map(\.status) == [100, nil])
        }
        let refused = fixture.receive(invite(branch: "z9hG4bKfull3", callID: "full-3"), on: Fixture.client)
        #expect(refused.count == 1)
        #expect(refused.first?.status == 503)
        #expect(refused.first?.response?.headers.first(.retryAfter) == "5")
        #expect(refused.first?.destination == .flow(Fixture.client))
        #expect(fixture.proxy.snapshot(now: fixture.now).serverTransactions == 2)
        #expect(fixture.proxy.snapshot(now: fixture.now).counters.overloaded == 1)

        // In a dialog (To tag): forwarded to the trunk all the same.
        let bye = sipText(
            "BYE sip:service@192.0.2.1:5060 SIP/2.0",
            [
                "Via: SIP/2.0/UDP 198.51.100.1:5062;branch=z9hG4bKbye1;rport", "Max-Forwards: 70",
                "From: <sip:alice@edge.example.com>;tag=a1", "To: <sip:service@edge.example.com>;tag=b2",
                "Call-ID: full-1", "CSeq: 2 BYE",
            ])
        let passed = fixture.receive(bye, on: Fixture.client)
        #expect(passed.contains { $0.method == .bye })

        // Once the transactions are gone, new work is taken again: the trunk never answers, so each
        // INVITE times out on both servers (timer B twice, 64 s), is answered 408, and lingers for
        // timer H (another 32 s).
        for _ in 0..<4 { _ = fixture.advance(.seconds(40)) }
        #expect(fixture.proxy.snapshot(now: fixture.now).serverTransactions == 0)
        #expect(fixture.proxy.snapshot(now: fixture.now).clientTransactions == 0)
        let again = fixture.receive(invite(branch: "z9hG4bKfull4", callID: "full-4"), on: Fixture.client)
        #expect(again.first?.status == 100)
    }
}

@Suite struct ProxyTrunkTests {
    @Test func aTimeoutFailsOverToTheNextServerThen408() throws {
        var fixture = Fixture()
        let sent = fixture.receive(invite(), on: Fixture.client)
        #expect(sent[1].destination == .address(listener: 0, host: "10.0.0.10", port: 5060))
        // Timer B (64·T1) passes without an answer: the next server gets the call.
        var retried: [Sent] = []
        for _ in 0..<70 { retried += fixture.advance(.milliseconds(500)) }
        let failover = retried.filter { $0.destination == .address(listener: 0, host: "10.0.0.11", port: 5060) }
        #expect(!failover.isEmpty)
        #expect(fixture.proxy.counters.failovers == 1)
        var ended: [Sent] = []
        for _ in 0..<70 { ended += fixture.advance(.milliseconds(500)) }
        #expect(ended.contains { $0.status == 408 && $0.destination == .flow(Fixture.client) })
    }

    @Test func a503FailsOverAndTheLastOneIsReportedAs500() throws {
        var fixture = Fixture()
        let first = try #require(fixture.receive(invite(), on: Fixture.client)[1].request)
        let next = fixture.receive(reply(first, 503), on: Fixture.trunkA)
        let second = try #require(next.first { $0.method == .invite })
        #expect(second.destination == .address(listener: 0, host: "10.0.0.11", port: 5060))
        #expect(try second.request!.headers.topVia()?.branch != (try first.headers.topVia()?.branch))
        let last = fixture.receive(reply(second.request!, 503), on: Fixture.trunkB)
        #expect(last.contains { $0.status == 500 && $0.destination == .flow(Fixture.client) })
    }

    @Test func probingMarksAServerDownAndCallsSkipIt() throws {
        var fixture = Fixture(
            proxy: EdgeProxy(
                configuration: Fixture.configuration(probing: ProbeSettings(interval: .seconds(5), downAfter: 2))))
        let a = TrunkServerID(group: 0, server: 0)
        var probes = fixture.advance(.zero).filter { $0.method == .options }
        #expect(probes.count == 2)
        // Server B answers its probes; server A never does.
        for _ in 0..<60 {
            for probe in probes where probe.destination == .address(listener: 0, host: "10.0.0.11", port: 5060) {
                _ = fixture.receive(reply(probe.request!, 200), on: Fixture.trunkB)
            }
            probes = fixture.advance(.milliseconds(500)).filter { $0.method == .options }
        }
        #expect(fixture.proxy.health(of: a).state == .down)
        #expect(fixture.proxy.health(of: TrunkServerID(group: 0, server: 1)).state == .up)
        let events = fixture.proxy.drainEvents()
        #expect(events.contains { if case .trunkState(a, _, .down) = $0 { true } else { false } })
        let sent = fixture.receive(invite(), on: Fixture.client)
        #expect(sent[1].destination == .address(listener: 0, host: "10.0.0.11", port: 5060))
        #expect(fixture.proxy.snapshot(now: fixture.now).trunks.map(\.state) == [.down, .up])
    }
}

extension ProxyTrunkTests {
    /// A probe still unanswered when the next is due has failed: a dead server is marked down after
    /// `downAfter` intervals, not after 64·T1 (32 s) per probe; it is up again at its first answer.
    @Test func anUnansweredProbeFailsWhenTheNextIsDue() throws {
        var fixture = Fixture(
            proxy: EdgeProxy(
                configuration: Fixture.configuration(
                    probing: ProbeSettings(interval: .milliseconds(500), downAfter: 2, upAfter: 1))))
        let a = TrunkServerID(group: 0, server: 0)
        let b = TrunkServerID(group: 0, server: 1)
        let addressA = Destination.address(listener: 0, host: "10.0.0.10", port: 5060)
        let addressB = Destination.address(listener: 0, host: "10.0.0.11", port: 5060)
        var probes = fixture.advance(.zero).filter { $0.method == .options }
        #expect(probes.count == 2)
        var elapsed = Duration.zero
        // B answers every probe; A none.
        while fixture.proxy.health(of: a).state != .down, elapsed < .seconds(10) {
            for probe in probes where probe.destination == addressB {
                _ = fixture.receive(reply(probe.request!, 200), on: Fixture.trunkB)
            }
            probes = fixture.advance(.milliseconds(100)).filter { $0.method == .options }
            elapsed += .milliseconds(100)
        }
        #expect(fixture.proxy.health(of: a).state == .down)
        #expect(elapsed <= .milliseconds(1_100), "marked down after \(elapsed)")
        #expect(fixture.proxy.health(of: b).state == .up)
        let sent = fixture.receive(invite(), on: Fixture.client)
        #expect(sent[1].destination == addressB)
        // A answers its next probe: up again, and new calls go back to it.
        elapsed = .zero
        while fixture.proxy.health(of: a).state != .up, elapsed < .seconds(5) {
            for probe in probes {
                let flow = probe.destination == addressA ? Fixture.trunkA : Fixture.trunkB
                _ = fixture.receive(reply(probe.request!, 200), on: flow)
            }
            probes = fixture.advance(.milliseconds(100)).filter { $0.method == .options }
            elapsed += .milliseconds(100)
        }
        #expect(fixture.proxy.health(of: a).state == .up)
        #expect(elapsed <= .milliseconds(600), "up after \(elapsed)")
        let next = fixture.receive(invite(branch: "z9hG4bKc2", callID: "call-2"), on: Fixture.client)
        #expect(next[1].destination == addressA)
    }
}

/// A table entry with a deadline and nothing else.
struct TimedTestEntry: TimedEntry {
    var deadline: TransactionInstant?
}

@Suite struct TransactionTableTests {
    static func key(_ number: Int) -> TransactionKey {
        .branch(branch: "z9hG4bK\(number)", sentBy: "192.0.2.1:5060", method: "INVITE")
    }

    static func at(_ milliseconds: UInt64) -> TransactionInstant { .init(nanoseconds: milliseconds * 1_000_000) }

    /// Due entries come out once each, earliest first; entries whose deadline moved later, or that were
    /// removed, do not come out early; the next deadline never lies after the earliest live one.
    @Test func dueEntriesComeOutOnceEarliestFirstAndMovedOnesWait() {
        var table = TransactionTable<TimedTestEntry>()
        for (number, deadline) in [(1, 300), (2, 100), (3, 200), (4, 100), (5, 50)] {
            table[Self.key(number)] = TimedTestEntry(deadline: Self.at(UInt64(deadline)))
        }
        table[Self.key(4)] = TimedTestEntry(deadline: Self.at(400))  // moved later
        table[Self.key(3)] = TimedTestEntry(deadline: Self.at(200))  // written again, same deadline
        table[Self.key(5)] = nil  // gone
        #expect(table.count == 4)
        #expect(table.nextDeadline.map { $0 <= Self.at(100) } == true)
        #expect(table.popDue(Self.at(99)).isEmpty)
        #expect(table.popDue(Self.at(250)) == [Self.key(2), Self.key(3)])
        // Popped entries must be stored back with their next deadline (or removed), as handleTimeout does.
        table[Self.key(2)] = nil
        table[Self.key(3)] = TimedTestEntry(deadline: nil)
        #expect(table.popDue(Self.at(350)) == [Self.key(1)])
        table[Self.key(1)] = TimedTestEntry(deadline: Self.at(1_000))
        #expect(table.popDue(Self.at(500)) == [Self.key(4)])
        table[Self.key(4)] = nil
        #expect(table.nextDeadline == Self.at(1_000))
        #expect(table.popDue(Self.at(1_000)) == [Self.key(1)])
    }

    /// A removed entry's queue items stay in the heap; when its number goes to a new entry they must
    /// neither bring the new one out early nor the old one back.
    @Test func aReusedNumberDoesNotInheritTheOldEntrysDeadlines() {
        var table = TransactionTable<TimedTestEntry>()
        table[Self.key(1)] = TimedTestEntry(deadline: Self.at(100))
        table[Self.key(1)] = nil
        table[Self.key(2)] = TimedTestEntry(deadline: Self.at(300))
        table[Self.key(1)] = TimedTestEntry(deadline: Self.at(500))
        #expect(table.popDue(Self.at(200)).isEmpty)
        #expect(table.popDue(Self.at(300)) == [Self.key(2)])
        table[Self.key(2)] = nil
        #expect(table.popDue(Self.at(499)).isEmpty)
        #expect(table.popDue(Self.at(500)) == [Self.key(1)])
    }

    @Test func manyEntriesComeOutSorted() {
        var table = TransactionTable<TimedTestEntry>()
        var generator = SeededNumbers(state: 7)
        var expected: [(UInt64, Int)] = []
        for number in 0..<500 {
            let deadline = generator.next() % 10_000
            table[Self.key(number)] = TimedTestEntry(deadline: Self.at(deadline))
            expected.append((deadline, number))
        }
        var deadlines: [UInt64] = []
        for now in stride(from: UInt64(0), through: 10_000, by: 250) {
            for key in table.popDue(Self.at(now)) {
                guard case .branch(let branch, _, _) = key.parts, let number = Int(branch.dropFirst(7)) else {
                    continue
                }
                let deadline = expected[number].0
                #expect(deadline <= now && deadline + 250 > now, "\(number) due at \(deadline) came out at \(now)")
                deadlines.append(deadline)
                table[key] = nil
            }
        }
        #expect(deadlines.count == 500)
        #expect(deadlines == deadlines.sorted())
        #expect(table.count == 0)
    }
}

/// A small deterministic generator (SplitMix64).
struct SeededNumbers {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ProxyPartsTests {
    @Test func flowTokensRoundTripAndRejectTampering() throws {
        let codec = FlowTokenCodec(secret: Array("secret-secret-secret".utf8))
        let flow = Flow(
            listener: 3, transport: .wss, remote: PeerAddress(host: "2001:db8::7", port: 443), connection: 99)
        let token = codec.encode(flow)
        #expect(token.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(codec.decode(token) == flow)
        var bytes = Array(token.utf8)
        bytes[5] = bytes[5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(codec.decode(String(decoding: bytes, as: UTF8.self)) == nil)
        #expect(FlowTokenCodec(secret: Array("another-secret-xx".utf8)).decode(token) == nil)
        #expect(codec.decode("not a token") == nil)
    }

    @Test func rateLimitBansASourceForAWhileAndSparesOthers() {
        var limiter = SourceLimiter(requestsPerSecond: 5, banDuration: .seconds(10))
        let start = TransactionInstant(nanoseconds: 0)
        let admitted = (0..<20).filter { _ in limiter.admit("203.0.113.9", now: start) }.count
        #expect(admitted == 10)
        #expect(limiter.isBanned("203.0.113.9", now: start))
        do {
            let admitted = limiter.admit("203.0.113.10", now: start)
            #expect(admitted)
        }
        do {
            let admitted = limiter.admit("203.0.113.9", now: start + .seconds(9))
            #expect(!admitted)
        }
        do {
            let admitted = limiter.admit("203.0.113.9", now: start + .seconds(11))
            #expect(admitted)
        }
        #expect(limiter.bans == 1)
    }

    @Test func theProxyDropsAFloodButTrunksAreExempt() {
        var fixture = Fixture(proxy: EdgeProxy(configuration: Fixture.configuration(rate: 2)))
        var answered = 0
        for index in 0..<10 {
            answered +=
                fixture.receive(invite(branch: "z9hG4bKfl\(index)", callID: "fl\(index)"), on: Fixture.client).isEmpty
                ? 0 : 1
        }
        #expect(answered == 4)
        #expect(fixture.proxy.counters.rateLimited == 6)
        let events = fixture.proxy.drainEvents()
        #expect(events == [.sourceBanned("203.0.113.7")])
        let fromTrunk = fixture.receive(
            invite(uri: "sip:bob@198.51.100.20", branch: "z9hG4bKtr", callID: "tr", via: "SIP/2.0/UDP 10.0.0.10:5060"),
            on: Fixture.trunkA)
        #expect(!fromTrunk.isEmpty)
    }

    @Test func candidatesFollowPriorityThenWeightAndPutDownServersLast() {
        let servers = [
            TrunkServer(host: "a", port: 1, priority: 2),
            TrunkServer(host: "b", port: 1, priority: 1, weight: 1),
            TrunkServer(host: "c", port: 1, priority: 1, weight: 3),
        ]
        var down = ServerHealth()
        let settings = ProbeSettings(interval: .seconds(1), downAfter: 1)
        down.record(success: false, settings: settings)
        // random 0 picks the first in line, random bound-1 the last by weight.
        #expect(
            trunkCandidates(group: 0, servers: servers, health: [.init(), .init(), .init()]) { _ in 0 }.map(\.server)
                == [1, 2, 0])
        #expect(
            trunkCandidates(group: 0, servers: servers, health: [.init(), .init(), .init()]) { $0 - 1 }.map(\.server)
                == [2, 1, 0])
        #expect(
            trunkCandidates(group: 0, servers: servers, health: [.init(), down, .init()]) { _ in 0 }.map(\.server) == [
                2, 0, 1,
            ])
    }

    @Test func healthNeedsItsThresholdsToChange() {
        let settings = ProbeSettings(interval: .seconds(1), downAfter: 2, upAfter: 2)
        var health = ServerHealth()
        do {
            let due = health.startProbeIfDue(now: .init(nanoseconds: 0), settings: settings)
            #expect(due)
        }
        do {
            let due = health.startProbeIfDue(now: .init(nanoseconds: 0), settings: settings)
            #expect(!due)
        }
        do {
            let result = health.record(success: true, settings: settings)
            #expect(result == .up)
        }
        do {
            let result = health.record(success: false, settings: settings)
            #expect(result == nil)
        }
        do {
            let result = health.record(success: false, settings: settings)
            #expect(result == .down)
        }
        do {
            let result = health.record(success: true, settings: settings)
            #expect(result == nil)
        }
        do {
            let result = health.record(success: true, settings: settings)
            #expect(result == .up)
        }
    }
}
