import Testing

@testable import SIP

/// The four transaction state machines of RFC 3261 §17, driven with made-up time.
@Suite("Transactions")
struct TransactionTests {
    let t0 = TransactionInstant(nanoseconds: 1_000_000_000)
    let timers = TransactionTimers()

    func at(_ milliseconds: Int) -> TransactionInstant {
        t0 + .milliseconds(milliseconds)
    }

    func request(_ method: String = "INVITE") throws -> SIPRequest {
        try #require(try parseMessage(wire(basicRequest(method: method))).request)
    }

    func response(_ code: UInt16, to request: SIPRequest) -> SIPResponse {
        SIPResponse(replyingTo: request, statusCode: SIPStatusCode(rawValue: code)!, toTag: "uas1")
    }

    /// Calls handleTimeout at every deadline up to `end`, collecting (time in ms, actions).
    func run<Machine>(
        _ machine: inout Machine, until end: TransactionInstant, next: (Machine) -> TransactionInstant?,
        fire: (inout Machine, TransactionInstant) -> [TransactionAction]
    ) -> [(Int, [TransactionAction])] {
        var log: [(Int, [TransactionAction])] = []
        while let deadline = next(machine), deadline <= end {
            let actions = fire(&machine, deadline)
            let milliseconds = Int(deadline.duration(since: t0) / .milliseconds(1))
            log.append((milliseconds, actions))
        }
        return log
    }

    @Test func inviteClientOverUDPRetransmitsThenTimesOut() throws {
        let invite = try request()
        var transaction = InviteClientTransaction(request: invite, reliableTransport: false, timers: timers)
        #expect(transaction.start(now: t0) == [.sendRequest(invite)])
        #expect(transaction.nextDeadline == at(500))
        let log = run(&transaction, until: at(100_000), next: \.nextDeadline) { $0.handleTimeout(now: $1) }
        // Timer A at T1, then doubling: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; timer B at 64·T1 = 32 s.
        #expect(log.map(\.0) == [500, 1500, 3500, 7500, 15500, 31500, 32000])
        #expect(log.dropLast().allSatisfy { $0.1 == [.sendRequest(invite)] })
        #expect(log.last?.1 == [.timeout(.b), .terminated])
        #expect(transaction.state == .terminated)
        #expect(transaction.nextDeadline == nil)
    }

    @Test func inviteClientOverTCPNeverRetransmits() throws {
        let invite = try request()
        var transaction = InviteClientTransaction(request: invite, reliableTransport: true, timers: timers)
        _ = transaction.start(now: t0)
        #expect(transaction.nextDeadline == at(32_000))
        let failure = response(404, to: invite)
        let actions = transaction.handle(.response(failure), now: at(200))
        #expect(actions == [.deliverResponse(failure), .sendRequest(invite.makeAck(for: failure)), .terminated])
    }

    @Test func inviteClientNon2xxIsAckedAndAbsorbed() throws {
        let invite = try request()
        var transaction = InviteClientTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = transaction.start(now: t0)
        let ringing = response(180, to: invite)
        #expect(transaction.handle(.response(ringing), now: at(100)) == [.deliverResponse(ringing)])
        #expect(transaction.state == .proceeding)
        #expect(transaction.nextDeadline == nil)  // A and B stop in Proceeding
        let busy = response(486, to: invite)
        let ack = invite.makeAck(for: busy)
        #expect(transaction.handle(.response(busy), now: at(1000)) == [.deliverResponse(busy), .sendRequest(ack)])
        #expect(transaction.state == .completed)
        // A retransmitted 486 gets the ACK again and is not passed up (§17.1.1.2).
        #expect(transaction.handle(.response(busy), now: at(1500)) == [.sendRequest(ack)])
        // Timer D, 32 s.
        #expect(transaction.nextDeadline == at(33_000))
        #expect(transaction.handleTimeout(now: at(33_000)) == [.terminated])
    }

    @Test func inviteClient2xxGoesToAcceptedAndForwardsRetransmissions() throws {
        let invite = try request()
        var transaction = InviteClientTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = transaction.start(now: t0)
        let ok = response(200, to: invite)
        #expect(transaction.handle(.response(ok), now: at(700)) == [.deliverResponse(ok)])
        #expect(transaction.state == .accepted)
        #expect(transaction.handle(.response(ok), now: at(1700)) == [.deliverResponse(ok)])
        #expect(transaction.nextDeadline == at(32_700))  // RFC 6026 timer M
        #expect(transaction.handleTimeout(now: at(32_700)) == [.terminated])
    }

    @Test func inviteClientTimerC() throws {
        let invite = try request()
        let proxyTimers = TransactionTimers(timerC: .seconds(180))
        var transaction = InviteClientTransaction(request: invite, reliableTransport: true, timers: proxyTimers)
        _ = transaction.start(now: t0)
        _ = transaction.handle(.response(response(100, to: invite)), now: at(50))
        _ = transaction.handle(.response(response(180, to: invite)), now: at(10_000))
        // 180 reset C (§16.7 step 2): it fires 180 s after the 180, and the proxy must CANCEL.
        #expect(transaction.nextDeadline == at(190_000))
        #expect(transaction.handleTimeout(now: at(190_000)) == [.timeout(.c)])
        #expect(transaction.receivedProvisional)
        // Then B bounds the wait for the 487.
        #expect(transaction.nextDeadline == at(222_000))
        let terminated = response(487, to: invite)
        let actions = transaction.handle(.response(terminated), now: at(190_100))
        #expect(actions.first == .deliverResponse(terminated))
        #expect(transaction.state == .terminated)
    }

    @Test func inviteClientTransportError() throws {
        var transaction = InviteClientTransaction(request: try request(), reliableTransport: false)
        _ = transaction.start(now: t0)
        #expect(transaction.handle(.transportError, now: at(1)) == [.transportError, .terminated])
        #expect(transaction.handle(.transportError, now: at(2)) == [])
    }

    @Test func nonInviteClientRetransmitsUpToT2() throws {
        let options = try request("OPTIONS")
        var transaction = NonInviteClientTransaction(request: options, reliableTransport: false, timers: timers)
        #expect(transaction.start(now: t0) == [.sendRequest(options)])
        let log = run(&transaction, until: at(100_000), next: \.nextDeadline) { $0.handleTimeout(now: $1) }
        // E: 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s; F at 32 s.
        #expect(log.map(\.0) == [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500, 32000])
        #expect(log.last?.1 == [.timeout(.f), .terminated])
    }

    @Test func nonInviteClientProceedingUsesT2AndCompletesWithK() throws {
        let options = try request("OPTIONS")
        var transaction = NonInviteClientTransaction(request: options, reliableTransport: false, timers: timers)
        _ = transaction.start(now: t0)
        let trying = response(100, to: options)
        #expect(transaction.handle(.response(trying), now: at(200)) == [.deliverResponse(trying)])
        #expect(transaction.handleTimeout(now: at(500)) == [.sendRequest(options)])
        #expect(transaction.nextDeadline == at(4500))
        let ok = response(200, to: options)
        #expect(transaction.handle(.response(ok), now: at(600)) == [.deliverResponse(ok)])
        #expect(transaction.handle(.response(ok), now: at(700)) == [])
        #expect(transaction.nextDeadline == at(5600))  // K = T4
        #expect(transaction.handleTimeout(now: at(5600)) == [.terminated])
    }

    @Test func nonInviteClientOverTCPTerminatesOnFinal() throws {
        let options = try request("OPTIONS")
        var transaction = NonInviteClientTransaction(request: options, reliableTransport: true, timers: timers)
        _ = transaction.start(now: t0)
        #expect(transaction.nextDeadline == at(32_000))
        let ok = response(200, to: options)
        #expect(transaction.handle(.response(ok), now: at(10)) == [.deliverResponse(ok), .terminated])
    }

    @Test func everyTransactionLetsGoOfItsRequestOnceTheFinalResponseIsOut() throws {
        let invite = try request()
        let register = try request("REGISTER")
        #expect(!invite.headers.isEmpty)

        // INVITE server, non-2xx: Completed keeps answering retransmissions from the last response alone.
        var inviteServer = InviteServerTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = inviteServer.start(now: t0)
        #expect(inviteServer.request.headers.count == invite.headers.count)
        let busy = response(486, to: invite)
        _ = inviteServer.handle(.respond(busy), now: at(100))
        #expect(inviteServer.request.headers.isEmpty && inviteServer.request.body.isEmpty)
        #expect(inviteServer.request.method == .invite && inviteServer.request.uri == invite.uri)
        #expect(inviteServer.handle(.request(invite), now: at(200)) == [.sendResponse(busy)])
        // INVITE server, 2xx: Accepted holds neither the request nor the response (RFC 6026 §7.1).
        var accepted = InviteServerTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = accepted.start(now: t0)
        _ = accepted.handle(.respond(response(200, to: invite)), now: at(100))
        #expect(accepted.request.headers.isEmpty && accepted.lastResponse == nil)

        // Non-INVITE server: Completed answers from the last response.
        var registerServer = NonInviteServerTransaction(request: register, reliableTransport: false, timers: timers)
        let ok = response(200, to: register)
        _ = registerServer.handle(.respond(ok), now: at(100))
        #expect(registerServer.request.headers.isEmpty)
        #expect(registerServer.handle(.request(register), now: at(200)) == [.sendResponse(ok)])

        // INVITE client, non-2xx: the ACK is built before the request goes, and sent again for a retransmission.
        var inviteClient = InviteClientTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = inviteClient.start(now: t0)
        let ack = invite.makeAck(for: busy)
        #expect(inviteClient.handle(.response(busy), now: at(100)) == [.deliverResponse(busy), .sendRequest(ack)])
        #expect(inviteClient.request.headers.isEmpty)
        #expect(inviteClient.handle(.response(busy), now: at(200)) == [.sendRequest(ack)])

        // Non-INVITE client: released in Completed; before that it still retransmits the whole request.
        var registerClient = NonInviteClientTransaction(request: register, reliableTransport: false, timers: timers)
        _ = registerClient.start(now: t0)
        #expect(registerClient.handleTimeout(now: at(500)) == [.sendRequest(register)])
        _ = registerClient.handle(.response(ok), now: at(600))
        #expect(registerClient.request.headers.isEmpty)
    }

    @Test func nonInviteServerAbsorbsAndResends() throws {
        let register = try request("REGISTER")
        var transaction = NonInviteServerTransaction(request: register, reliableTransport: false, timers: timers)
        // Trying: retransmissions are absorbed.
        #expect(transaction.handle(.request(register), now: at(500)) == [])
        let ok = response(200, to: register)
        #expect(transaction.handle(.respond(ok), now: at(800)) == [.sendResponse(ok)])
        #expect(transaction.state == .completed)
        // Completed: each retransmission gets the final response again.
        #expect(transaction.handle(.request(register), now: at(1500)) == [.sendResponse(ok)])
        #expect(transaction.handle(.request(register), now: at(3500)) == [.sendResponse(ok)])
        // A second final response from the TU is not sent.
        #expect(transaction.handle(.respond(response(500, to: register)), now: at(3600)) == [])
        // Timer J = 64·T1.
        #expect(transaction.nextDeadline == at(32_800))
        #expect(transaction.handleTimeout(now: at(32_799)) == [])
        #expect(transaction.handleTimeout(now: at(32_800)) == [.terminated])
    }

    @Test func nonInviteServerProvisionalAndReliable() throws {
        let register = try request("REGISTER")
        var transaction = NonInviteServerTransaction(request: register, reliableTransport: true)
        let trying = response(100, to: register)
        #expect(transaction.handle(.respond(trying), now: at(1)) == [.sendResponse(trying)])
        #expect(transaction.handle(.request(register), now: at(2)) == [.sendResponse(trying)])
        let ok = response(200, to: register)
        #expect(transaction.handle(.respond(ok), now: at(3)) == [.sendResponse(ok), .terminated])
    }

    @Test func inviteServerRetransmitsNon2xxUntilAck() throws {
        let invite = try request()
        var transaction = InviteServerTransaction(request: invite, reliableTransport: false, timers: timers)
        let trying = SIPResponse(replyingTo: invite, statusCode: .trying)
        #expect(transaction.start(now: t0) == [.sendResponse(trying)])
        // A retransmitted INVITE gets the 100 again.
        #expect(transaction.handle(.request(invite), now: at(500)) == [.sendResponse(trying)])
        let busy = response(486, to: invite)
        #expect(transaction.handle(.respond(busy), now: at(1000)) == [.sendResponse(busy)])
        // G: 0.5, 1, 2, 4, 4 s ... until the ACK.
        var sends: [Int] = []
        for _ in 0..<5 {
            let deadline = try #require(transaction.nextDeadline)
            #expect(transaction.handleTimeout(now: deadline) == [.sendResponse(busy)])
            sends.append(Int(deadline.duration(since: t0) / .milliseconds(1)))
        }
        #expect(sends == [1500, 2500, 4500, 8500, 12500])
        #expect(transaction.handle(.request(invite), now: at(13_000)) == [.sendResponse(busy)])
        let ack = invite.makeAck(for: busy)
        #expect(transaction.handle(.request(ack), now: at(13_100)) == [])
        #expect(transaction.state == .confirmed)
        #expect(transaction.handle(.request(ack), now: at(13_200)) == [])
        // Timer I = T4.
        #expect(transaction.nextDeadline == at(18_100))
        #expect(transaction.handleTimeout(now: at(18_100)) == [.terminated])
    }

    @Test func inviteServerTimerHWithoutAck() throws {
        let invite = try request()
        var transaction = InviteServerTransaction(
            request: invite, reliableTransport: true, timers: timers, sendsTrying: false)
        #expect(transaction.start(now: t0) == [])
        let busy = response(486, to: invite)
        _ = transaction.handle(.respond(busy), now: at(0))
        // Reliable: no G, only H.
        #expect(transaction.nextDeadline == at(32_000))
        #expect(transaction.handleTimeout(now: at(32_000)) == [.timeout(.h), .terminated])
    }

    @Test func inviteServerAcceptedPassesAcksForTwoHundred() throws {
        let invite = try request()
        var transaction = InviteServerTransaction(request: invite, reliableTransport: false, timers: timers)
        _ = transaction.start(now: t0)
        let ok = response(200, to: invite)
        #expect(transaction.handle(.respond(ok), now: at(10)) == [.sendResponse(ok)])
        #expect(transaction.state == .accepted)
        #expect(transaction.handle(.request(invite), now: at(20)) == [])
        #expect(transaction.handle(.respond(ok), now: at(500)) == [.sendResponse(ok)])
        let ack = invite.makeAck(for: ok)
        #expect(transaction.handle(.request(ack), now: at(600)) == [.deliverRequest(ack)])
        #expect(transaction.handleTimeout(now: at(32_010)) == [.terminated])
    }

    @Test func transactionKeys() throws {
        let invite = try request()
        let serverKey = try #require(TransactionKey.server(for: invite))
        #expect(serverKey == .branch(branch: "z9hG4bKbasic1", sentBy: "host.example.com", method: "INVITE"))
        // The ACK of a non-2xx carries the INVITE's branch and matches its transaction (§17.2.3).
        let ack = invite.makeAck(for: response(404, to: invite))
        #expect(TransactionKey.server(for: ack) == serverKey)
        // CANCEL is a transaction of its own that points at the INVITE's.
        let cancelKey = try #require(TransactionKey.server(for: invite.makeCancel()))
        #expect(cancelKey != serverKey)
        #expect(cancelKey.invite == serverKey)
        // Same branch from another sent-by is another transaction.
        var other = invite
        other.headers.set(.via, "SIP/2.0/UDP elsewhere.example.com;branch=z9hG4bKbasic1")
        #expect(TransactionKey.server(for: other) != serverKey)
        // Client side: branch and CSeq method (§17.1.3).
        let clientKey = try #require(TransactionKey.client(for: invite))
        #expect(TransactionKey.client(for: response(180, to: invite)) == clientKey)
        #expect(TransactionKey.client(for: response(200, to: invite.makeCancel())) != clientKey)
    }
}
