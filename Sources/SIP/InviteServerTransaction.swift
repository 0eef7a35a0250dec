/// The INVITE server transaction of RFC 3261 §17.2.1 (Figure 7) with the Accepted state of RFC 6026 §7.1:
/// answers retransmitted INVITEs with the last response, retransmits a 300-699 on timer G until the ACK
/// arrives or timer H expires, and absorbs ACK retransmissions for timer I.
public struct InviteServerTransaction: Hashable, Sendable {
    /// The states of the RFC's figure (and RFC 6026's Accepted where it applies).
    public enum State: Hashable, Sendable {
        case proceeding, completed, confirmed, accepted, terminated
    }

    /// What the driver feeds in besides time.
    public enum Event: Hashable, Sendable {
        /// A request matched to this transaction: a retransmitted INVITE, or the ACK of a 300-699 (matched by
        /// `TransactionKey.server(for:)`, which maps ACK to the INVITE).
        case request(SIPRequest)
        /// A response from the transaction user to send.
        case respond(SIPResponse)
        case transportError
    }

    public private(set) var state: State = .proceeding
    /// The INVITE; its header fields and body are released once a final response is sent.
    public private(set) var request: SIPRequest
    public let isReliable: Bool
    public let timers: TransactionTimers
    /// Whether `start` sends 100 Trying at once (§17.2.1 requires it within 200 ms unless the TU answers; a
    /// stateful proxy may send it at once, §16.2).
    public let sendsTrying: Bool
    /// The most recent response sent, resent on a retransmitted INVITE.
    public private(set) var lastResponse: SIPResponse?
    private var timerSet = TimerSet()
    private var timerGInterval: Duration

    public init(
        request: SIPRequest, reliableTransport: Bool, timers: TransactionTimers = TransactionTimers(),
        sendsTrying: Bool = true
    ) {
        self.request = request
        self.isReliable = reliableTransport
        self.timers = timers
        self.sendsTrying = sendsTrying
        self.timerGInterval = timers.t1
    }

    public var nextDeadline: TransactionInstant? { timerSet.next }

    /// Sends 100 Trying when `sendsTrying`.
    public mutating func start(now: TransactionInstant) -> [TransactionAction] {
        guard sendsTrying else { return [] }
        let trying = SIPResponse(replyingTo: request, statusCode: .trying)
        lastResponse = trying
        return [.sendResponse(trying)]
    }

    public mutating func handle(_ event: Event, now: TransactionInstant) -> [TransactionAction] {
        switch event {
        case .transportError:
            guard state != .terminated else { return [] }
            return terminate(with: [.transportError])
        case .request(let incoming):
            return receive(incoming, now: now)
        case .respond(let response):
            return send(response, now: now)
        }
    }

    private mutating func receive(_ incoming: SIPRequest, now: TransactionInstant) -> [TransactionAction] {
        let isAck = incoming.method == .ack
        switch state {
        case .proceeding:
            if !isAck, let lastResponse { return [.sendResponse(lastResponse)] }
            return []
        case .completed:
            if isAck {
                state = .confirmed
                timerSet.cancel(.g)
                timerSet.cancel(.h)
                if isReliable { return terminate(with: []) }
                timerSet.start(.i, at: now + timers.t4)
                return []
            }
            return lastResponse.map { [.sendResponse($0)] } ?? []
        case .accepted:
            // RFC 6026 §7.1: an ACK for the 2xx goes to the TU; INVITE retransmissions are absorbed.
            return isAck ? [.deliverRequest(incoming)] : []
        case .confirmed, .terminated:
            return []
        }
    }

    private mutating func send(_ response: SIPResponse, now: TransactionInstant) -> [TransactionAction] {
        let code = response.statusCode
        switch state {
        case .proceeding:
            lastResponse = response
            if code.isProvisional { return [.sendResponse(response)] }
            releaseRequest()
            if code.isSuccess {
                // RFC 6026 §7.1: in Accepted the TU, not the transaction, sends 2xx retransmissions.
                state = .accepted
                lastResponse = nil
                timerSet.start(.l, at: now + timers.transactionTimeout)
                return [.sendResponse(response)]
            }
            state = .completed
            if !isReliable { timerSet.start(.g, at: now + timerGInterval) }
            timerSet.start(.h, at: now + timers.transactionTimeout)
            return [.sendResponse(response)]
        case .accepted where code.isSuccess:
            // RFC 6026 §7.1: the TU's 2xx retransmissions pass through.
            return [.sendResponse(response)]
        default:
            return []
        }
    }

    public mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        var actions: [TransactionAction] = []
        while state != .terminated, let timer = timerSet.popFirstDue(now) {
            switch timer {
            case .g where state == .completed:
                timerGInterval = min(timerGInterval * 2, timers.t2)
                timerSet.start(.g, at: now + timerGInterval)
                if let lastResponse { actions.append(.sendResponse(lastResponse)) }
            case .h where state == .completed:
                actions += terminate(with: [.timeout(.h)])
            case .i, .l:
                actions += terminate(with: [])
            default:
                break
            }
        }
        return actions
    }

    /// Drops the request's header fields and body, keeping its request line, once the transaction no
    /// longer needs them: over UDP a transaction lingers 64·T1 (32 s) after its final response, and
    /// the headers of the requests it carried are most of a proxy's memory.
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
