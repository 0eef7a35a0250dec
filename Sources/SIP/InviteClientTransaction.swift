/// The INVITE client transaction of RFC 3261 §17.1.1 (Figure 5) with the Accepted state of RFC 6026 §7.2,
/// so that a proxy forwards every 2xx retransmission upstream, and the optional proxy timer C (§16.6
/// step 11, §16.8).
///
/// A value type with no clock: call `start(now:)` once, `handle(_:now:)` for each response or transport
/// error, and `handleTimeout(now:)` when `nextDeadline` passes; perform the returned actions in order.
public struct InviteClientTransaction: Hashable, Sendable {
    /// The states of the RFC's figure (and RFC 6026's Accepted where it applies).
    public enum State: Hashable, Sendable {
        case calling, proceeding, completed, accepted, terminated
    }

    /// What the driver feeds in besides time.
    public enum Event: Hashable, Sendable {
        /// A response matched to this transaction (`TransactionKey.client(for:)`).
        case response(SIPResponse)
        /// The transport could not send (§17.1.4).
        case transportError
    }

    public private(set) var state: State = .calling
    /// The INVITE; its header fields and body are released once a final response has arrived (the
    /// ACK for a non-2xx is built first).
    public private(set) var request: SIPRequest
    /// Reliable transports (TCP, TLS, SCTP, WebSocket) do not retransmit and set timer D to zero (§17.1.1.2).
    public let isReliable: Bool
    public let timers: TransactionTimers
    /// Whether a provisional response arrived: decides what timer C's firing means (§16.8).
    public private(set) var receivedProvisional = false
    private var timerSet = TimerSet()
    private var timerAInterval: Duration
    private var ack: SIPRequest?

    public init(request: SIPRequest, reliableTransport: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.isReliable = reliableTransport
        self.timers = timers
        self.timerAInterval = timers.t1
    }

    /// When `handleTimeout(now:)` must next be called; nil when no timer runs.
    public var nextDeadline: TransactionInstant? { timerSet.next }

    /// Sends the INVITE and starts timers A (unreliable only), B and C.
    public mutating func start(now: TransactionInstant) -> [TransactionAction] {
        if !isReliable { timerSet.start(.a, at: now + timerAInterval) }
        timerSet.start(.b, at: now + timers.transactionTimeout)
        if let timerC = timers.timerC { timerSet.start(.c, at: now + timerC) }
        return [.sendRequest(request)]
    }

    public mutating func handle(_ event: Event, now: TransactionInstant) -> [TransactionAction] {
        switch event {
        case .transportError:
            guard state != .terminated else { return [] }
            return terminate(with: [.transportError])
        case .response(let response):
            return receive(response, now: now)
        }
    }

    private mutating func receive(_ response: SIPResponse, now: TransactionInstant) -> [TransactionAction] {
        let code = response.statusCode
        switch state {
        case .calling, .proceeding:
            if code.isProvisional {
                state = .proceeding
                receivedProvisional = true
                timerSet.cancel(.a)
                timerSet.cancel(.b)
                // §16.7 step 2: a provisional response other than 100 resets timer C.
                if code != .trying, let timerC = timers.timerC { timerSet.start(.c, at: now + timerC) }
                return [.deliverResponse(response)]
            }
            timerSet.cancelAll()
            if code.isSuccess {
                state = .accepted
                releaseRequest()
                timerSet.start(.m, at: now + timers.transactionTimeout)
                return [.deliverResponse(response)]
            }
            let ack = request.makeAck(for: response)
            self.ack = ack
            state = .completed
            releaseRequest()
            if isReliable { return terminate(with: [.deliverResponse(response), .sendRequest(ack)]) }
            timerSet.start(.d, at: now + timers.timerD)
            return [.deliverResponse(response), .sendRequest(ack)]
        case .completed:
            // A retransmitted final response: send the ACK again, tell nobody (§17.1.1.2).
            if !code.isProvisional, !code.isSuccess, let ack { return [.sendRequest(ack)] }
            return []
        case .accepted:
            // RFC 6026 §7.2: 2xx retransmissions go to the transaction user (a proxy forwards them).
            return code.isSuccess ? [.deliverResponse(response)] : []
        case .terminated:
            return []
        }
    }

    /// Fires the timers due at `now`.
    public mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        var actions: [TransactionAction] = []
        while state != .terminated, let timer = timerSet.popFirstDue(now) {
            switch timer {
            case .a where state == .calling:
                timerAInterval = timerAInterval * 2
                timerSet.start(.a, at: now + timerAInterval)
                actions.append(.sendRequest(request))
            case .b where state == .calling || state == .proceeding:
                actions += terminate(with: [.timeout(.b)])
            case .c where state == .calling:
                // §16.8: no provisional response: behave as if a 408 arrived.
                actions += terminate(with: [.timeout(.c)])
            case .c where state == .proceeding:
                // §16.8: the proxy CANCELs the branch; B then bounds the wait for its final response.
                timerSet.start(.b, at: now + timers.transactionTimeout)
                actions.append(.timeout(.c))
            case .d, .m:
                actions += terminate(with: [])
            default:
                break
            }
        }
        return actions
    }

    /// Drops the request's header fields and body, keeping its request line, once the transaction no
    /// longer needs them: over UDP a transaction lingers after its final response (timer M is 64·T1,
    /// 32 s), and the headers of the requests it carried are most of a proxy's memory.
    private mutating func releaseRequest() {
        request.headers = SIPHeaders()
        request.body = []
    }

    private mutating func terminate(with actions: [TransactionAction]) -> [TransactionAction] {
        state = .terminated
        timerSet.cancelAll()
        return actions + [.terminated]
    }
}
