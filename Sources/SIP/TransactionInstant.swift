/// A point in time for the transaction state machines: nanoseconds on a monotonic clock from an origin the
/// driver chooses (for example `NIODeadline.uptimeNanoseconds`). The machines never read a clock; time is an
/// input, so tests drive them with made-up instants.
public struct TransactionInstant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: TransactionInstant, rhs: TransactionInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public static func + (lhs: TransactionInstant, rhs: Duration) -> TransactionInstant {
        TransactionInstant(nanoseconds: lhs.nanoseconds &+ rhs.nanosecondsClamped)
    }

    /// The duration from `other` to `self` (zero if `other` is later).
    public func duration(since other: TransactionInstant) -> Duration {
        self > other ? .nanoseconds(Int64(clamping: nanoseconds - other.nanoseconds)) : .zero
    }

    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    var nanosecondsClamped: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
