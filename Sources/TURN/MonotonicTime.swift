/// A point on the driver's monotonic clock, in nanoseconds: the time the core is given.
///
/// The core's own type, not `ContinuousClock.Instant`. That one lives in a library built for
/// binary compatibility, so its layout is hidden from this module: every comparison went
/// through a witness table, every copy through a metadata lookup, and an `Allocation` holding
/// one could only be copied by an outlined value witness. On the relay path that was a copy of
/// the allocation per datagram (perf under `scripts/bench-turn`: memmove and witness calls in
/// `channelHop`). This is one `Int64`, compared and copied inline.
public struct MonotonicTime: Comparable, Hashable, Sendable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `time` later by `duration` (saturating: a lifetime cannot wrap into the past).
    public static func + (time: Self, duration: Duration) -> Self {
        let (sum, overflow) = time.nanoseconds.addingReportingOverflow(duration.wholeNanoseconds)
        guard overflow else { return Self(nanoseconds: sum) }
        return Self(nanoseconds: duration < .zero ? .min : .max)
    }

    /// The time from `earlier` to `later`, in nanoseconds.
    public static func - (later: Self, earlier: Self) -> Int64 {
        later.nanoseconds &- earlier.nanoseconds
    }
}

extension Duration {
    /// Whole nanoseconds, saturated to `Int64` (292 years).
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, carry) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflow, !carry else { return seconds < 0 ? .min : .max }
        return total
    }
}
