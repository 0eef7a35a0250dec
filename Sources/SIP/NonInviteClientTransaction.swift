/// The non-INVITE client transaction of RFC 3261 §17.1.2 (Figure 6): retransmits on timer E (doubling up
/// to T2, at T2 once a provisional response arrived), gives up on timer F, and absorbs response
/// retransmissions in Completed for timer K.
public struct NonInviteClientTransaction: Hashable, Sendable {
    /// The states of the RFC's figure (and RFC 6026's Accepted where it applies).
    public enum State: Hashable, Sendable {
        case trying, proceeding, completed, terminated
    }

    /// What the driver feeds in besides time.
    public enum Event: Hashable, Sendable {
        case response(SIPResponse)
        case transportError
    }

    public private(set) var state: State = .trying
    /// The request; its header fields and body are released once a final response has arrived.
    public private(set) var request: SIPRequest
    public let isReliable: Bool
    public let timers: TransactionTimers
    private var timerSet = TimerSet()
    private var timerEInterval: Duration

    public init(request: SIPRequest, reliableTransport: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.isReliable = reliableTransport
        self.timers = timers
        self.timerEInterval = timers.t1
    }

    public var nextDeadline: TransactionInstant? { timerSet.next }

    /// Sends the request and starts timers E (unreliable only) and F.
    public mutating func start(now: TransactionInstant) -> [TransactionAction] {
        if !isReliable { timerSet.start(.e, at: now + timerEInterval) }
        timerSet.start(.f, at: now + timers.nonInviteClientTimeout)
        return [.sendRequest(request)]
    }

    public mutating func handle(_ event: Event, now: TransactionInstant) -> [TransactionAction] {
        switch event {
        case .transportError:
            guard state == .trying || state == .proceeding else { return [] }
            return terminate(with: [.transportError])
        case .response(let response):
            guard state == .trying || state == .proceeding else { return [] }
            if response.statusCode.isProvisional {
                state = .proceeding
                return [.deliverResponse(response)]
            }
            state = .completed
            releaseRequest()
            timerSet.cancelAll()
            if isReliable { return terminate(with: [.deliverResponse(response)]) }
            timerSet.start(.k, at: now + timers.t4)
            return [.deliverResponse(response)]
        }
    }

    public mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        var actions: [TransactionAction] = []
        while state != .terminated, let timer = timerSet.popFirstDue(now) {
            switch timer {
            case .e where state == .trying:
                timerEInterval = min(timerEInterval * 2, timers.t2)
                timerSet.start(.e, at: now + timerEInterval)
                actions.append(.sendRequest(request))
            case .e where state == .proceeding:
                timerEInterval = timers.t2
                timerSet.start(.e, at: now + timerEInterval)
                actions.append(.sendRequest(request))
            case .f where state == .trying || state == .proceeding:
                actions += terminate(with: [.timeout(.f)])
            case .k:
                actions += terminate(with: [])
            default:
                break
            }
        }
        return actions
    }

    /// Drops the request's header fields and body, keeping its request line, once the transaction no
    /// longer needs them: over UDP a transaction lingers after its final response (timer K, T4), and
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
