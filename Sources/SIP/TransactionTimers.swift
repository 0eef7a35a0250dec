/// The timer base values of RFC 3261 §17.1.1.1 and Table 4 (A.1), and proxy timer C (§16.6 step 11).
public struct TransactionTimers: Hashable, Sendable {
    /// RTT estimate, 500 ms by default (§17.1.1.1). Timers A, B, E, F, G, H, J and M derive from it.
    public var t1: Duration
    /// The longest retransmit interval for non-INVITE requests and INVITE responses, 4 s (§17.1.2.2).
    public var t2: Duration
    /// How long a message stays in the network, 5 s (§17.1.2.2): timers I and K.
    public var t4: Duration
    /// Timer D on unreliable transports, "at least 32 s" (§17.1.1.2).
    public var timerD: Duration
    /// Proxy INVITE timer C, "greater than 3 minutes" (§16.6 step 11); nil to run without it.
    public var timerC: Duration?
    /// Timer F of a non-INVITE client transaction when set, in place of 64·T1. A proxy's OPTIONS probe
    /// uses a shorter one: a probe still unanswered when the next is due has failed (as Asterisk's
    /// `qualify_timeout` or a Kamailio dispatcher probe with its own `fr_timer`), so a dead server is
    /// marked down in a few probe intervals rather than in 32 s per probe.
    public var timerF: Duration?

    public init(
        t1: Duration = .milliseconds(500), t2: Duration = .seconds(4), t4: Duration = .seconds(5),
        timerD: Duration = .seconds(32), timerC: Duration? = nil, timerF: Duration? = nil
    ) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.timerD = timerD
        self.timerC = timerC
        self.timerF = timerF
    }

    /// 64·T1: timers B, F, H, J (and RFC 6026's L and M).
    public var transactionTimeout: Duration { t1 * 64 }

    /// Timer F: `timerF` when set, else 64·T1.
    public var nonInviteClientTimeout: Duration { timerF ?? transactionTimeout }
}

/// The timers of RFC 3261 §17 (Table 4) and RFC 6026 §8.
public enum TransactionTimer: Hashable, Sendable, CaseIterable {
    /// INVITE request retransmit (§17.1.1.2).
    case a
    /// INVITE transaction timeout (§17.1.1.2).
    case b
    /// Proxy INVITE timeout (§16.6 step 11, §16.8).
    case c
    /// Wait for response retransmits in client INVITE Completed (§17.1.1.2).
    case d
    /// Non-INVITE request retransmit (§17.1.2.2).
    case e
    /// Non-INVITE transaction timeout (§17.1.2.2).
    case f
    /// INVITE response retransmit (§17.2.1).
    case g
    /// Wait for ACK (§17.2.1).
    case h
    /// Wait for ACK retransmits in server INVITE Confirmed (§17.2.1).
    case i
    /// Wait for request retransmits in server non-INVITE Completed (§17.2.2).
    case j
    /// Wait for response retransmits in client non-INVITE Completed (§17.1.2.2).
    case k
    /// Server INVITE Accepted: wait for 2xx retransmissions and ACKs (RFC 6026 §8.7).
    case l
    /// Client INVITE Accepted: wait for 2xx retransmissions (RFC 6026 §8.4).
    case m
}

/// Deadlines of the timers a transaction has running.
struct TimerSet: Hashable, Sendable {
    /// A running timer.
    private struct Slot: Sendable {
        var timer: TransactionTimer
        var deadline: TransactionInstant
    }

    /// The running timers in four inline slots, in no order: a transaction runs at most three at once, so
    /// starting one allocates nothing. `overflow` takes any beyond and stays empty (unallocated).
    private var slots: (Slot?, Slot?, Slot?, Slot?) = (nil, nil, nil, nil)
    private var overflow: [TransactionTimer: TransactionInstant] = [:]

    private subscript(slot index: Int) -> Slot? {
        get {
            switch index {
            case 0: slots.0
            case 1: slots.1
            case 2: slots.2
            default: slots.3
            }
        }
        set {
            switch index {
            case 0: slots.0 = newValue
            case 1: slots.1 = newValue
            case 2: slots.2 = newValue
            default: slots.3 = newValue
            }
        }
    }

    /// When `timer` fires; nil when it is not running.
    func deadline(of timer: TransactionTimer) -> TransactionInstant? {
        for index in 0..<4 {
            if let slot = self[slot: index], slot.timer == timer { return slot.deadline }
        }
        return overflow.isEmpty ? nil : overflow[timer]
    }

    mutating func start(_ timer: TransactionTimer, at deadline: TransactionInstant) {
        cancel(timer)
        for index in 0..<4 where self[slot: index] == nil {
            self[slot: index] = Slot(timer: timer, deadline: deadline)
            return
        }
        overflow[timer] = deadline
    }

    mutating func cancel(_ timer: TransactionTimer) {
        for index in 0..<4 where self[slot: index]?.timer == timer { self[slot: index] = nil }
        if !overflow.isEmpty { overflow[timer] = nil }
    }

    mutating func cancelAll() {
        slots = (nil, nil, nil, nil)
        overflow.removeAll()
    }

    var next: TransactionInstant? {
        var next = overflow.isEmpty ? nil : overflow.values.min()
        for index in 0..<4 {
            guard let slot = self[slot: index] else { continue }
            if next == nil || slot.deadline < next! { next = slot.deadline }
        }
        return next
    }

    /// The earliest timer due at `now` (ties broken in the order of `TransactionTimer.allCases`), removed.
    mutating func popFirstDue(_ now: TransactionInstant) -> TransactionTimer? {
        var best: (timer: TransactionTimer, deadline: TransactionInstant)?
        for timer in TransactionTimer.allCases {
            guard let deadline = deadline(of: timer), deadline <= now else { continue }
            if best == nil || deadline < best!.deadline { best = (timer, deadline) }
        }
        guard let best else { return nil }
        cancel(best.timer)
        return best.timer
    }

    /// Equal when the same timers run with the same deadlines, whatever slots they are in.
    static func == (lhs: TimerSet, rhs: TimerSet) -> Bool {
        TransactionTimer.allCases.allSatisfy { lhs.deadline(of: $0) == rhs.deadline(of: $0) }
    }

    func hash(into hasher: inout Hasher) {
        for timer in TransactionTimer.allCases { hasher.combine(deadline(of: timer)) }
    }
}
