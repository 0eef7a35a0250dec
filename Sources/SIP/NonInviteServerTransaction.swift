/// The non-INVITE server transaction of RFC 3261 §17.2.2 (Figure 8): absorbs request retransmissions
/// until the transaction user answers, then answers each retransmission with the last response, for
/// timer J after the final one.
public struct NonInviteServerTransaction: Hashable, Sendable {
    /// The states of the RFC's figure (and RFC 6026's Accepted where it applies).
    public enum State: Hashable, Sendable {
        case trying, proceeding, completed, terminated
    }

    /// What the driver feeds in besides time.
    public enum Event: Hashable, Sendable {
        /// A retransmission of the request.
        case request(SIPRequest)
        /// A response from the transaction user to send.
        case respond(SIPResponse)
        case transportError
    }

    public private(set) var state: State = .trying
    /// The request; its header fields and body are released once the final response is sent.
    public private(set) var request: SIPRequest
    public let isReliable: Bool
    public let timers: TransactionTimers
    public private(set) var lastResponse: SIPResponse?
    private var timerSet = TimerSet()

    public init(request: SIPRequest, reliableTransport: Bool, timers: TransactionTimers = TransactionTimers()) {
        self.request = request
        self.isReliable = reliableTransport
        self.timers = timers
    }

    public var nextDeadline: TransactionInstant? { timerSet.next }

    public mutating func handle(_ event: Event, now: TransactionInstant) -> [TransactionAction] {
        switch event {
        case .transportError:
            guard state != .terminated else { return [] }
            state = .terminated
            timerSet.cancelAll()
            return [.transportError, .terminated]
        case .request:
            switch state {
            case .proceeding, .completed: return lastResponse.map { [.sendResponse($0)] } ?? []
            case .trying, .terminated: return []
            }
        case .respond(let response):
            guard state == .trying || state == .proceeding else { return [] }
            lastResponse = response
            if response.statusCode.isProvisional {
                state = .proceeding
                return [.sendResponse(response)]
            }
            state = .completed
            releaseRequest()
            if isReliable {
                state = .terminated
                return [.sendResponse(response), .terminated]
            }
            timerSet.start(.j, at: now + timers.transactionTimeout)
            return [.sendResponse(response)]
        }
    }

    /// Drops the request's header fields and body, keeping its request line, once the transaction no
    /// longer needs them: over UDP a transaction lingers 64·T1 (32 s) after its final response, and
    /// the headers of the requests it carried are most of a proxy's memory.
    private mutating func releaseRequest() {
        request.headers = SIPHeaders()
        request.body = []
    }

    public mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        guard state == .completed, timerSet.popFirstDue(now) == .j else { return [] }
        state = .terminated
        timerSet.cancelAll()
        return [.terminated]
    }
}
