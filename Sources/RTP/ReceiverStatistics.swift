/// Per-source reception statistics, as RFC 3550 Appendix A.1 (sequence validation), A.3
/// (expected and lost packets) and A.8 (interarrival jitter) compute them. A value type with no
/// clock: the caller passes each packet's arrival time in the stream's timestamp units.
///
/// ```swift
/// var stats = ReceiverStatistics(clockRate: 48000)
/// stats.record(sequenceNumber: h.sequenceNumber, timestamp: h.timestamp, arrival: nowInSamples)
/// let block = stats.makeReport(ssrc: remoteSSRC, now: ntpShortNow)  // every RTCP interval
/// ```
public struct ReceiverStatistics: Hashable, Sendable {
    /// A.1: the largest forward jump still taken as the same stream.
    public static let maxDropout: UInt16 = 3000
    /// A.1: the largest backward jump taken as reordering rather than a restart.
    public static let maxMisorder: UInt16 = 100
    /// A.1: consecutive packets needed before a new source is valid.
    public static let minSequential = 2

    static let sequenceModulo: UInt32 = 1 << 16

    /// What `record` made of a packet.
    public enum Verdict: Hashable, Sendable {
        /// Counted.
        case valid
        /// Not counted yet: the source is still on probation (A.1).
        case probation
        /// Not counted: a big jump, remembered in case the sender restarted (A.1 `bad_seq`).
        case invalid
        /// Counted after two packets confirmed a big jump: the statistics restarted from it.
        case restarted
    }

    public let clockRate: UInt32
    public private(set) var maxSequence: UInt16 = 0
    /// Sequence number cycles, shifted left 16 bits (A.1 `cycles`).
    public private(set) var cycles: UInt32 = 0
    public private(set) var baseSequence: UInt32 = 0
    var badSequence: UInt32 = sequenceModulo + 1
    var probation: Int
    var started = false
    /// Packets counted (A.1 `received`), duplicates included.
    public private(set) var received: UInt32 = 0
    var expectedPrior: UInt32 = 0
    var receivedPrior: UInt32 = 0
    var lastTransit: Int32 = 0
    var hasTransit = false
    /// A.8 jitter scaled by 16.
    var scaledJitter: UInt32 = 0
    /// The last SR from this source: its NTP middle 32 bits, and our arrival time (1/65536 s).
    var lastSenderReportNTP: UInt32?
    var lastSenderReportArrival: UInt32 = 0

    /// `probation` is how many in-sequence packets a new source needs (A.1; 2 by default). Over
    /// SRTP, whose authentication already proves the source, 0 counts from the first packet.
    public init(clockRate: UInt32, probation: Int = ReceiverStatistics.minSequential) {
        self.clockRate = clockRate
        self.probation = probation
    }

    /// Extended highest sequence number received (A.3).
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    /// Packets expected so far (A.3).
    public var expected: UInt32 { started ? extendedHighestSequence &- baseSequence &+ 1 : 0 }

    /// Cumulative lost (A.3), clamped to the signed 24 bits of a report block.
    public var cumulativeLost: Int32 {
        let lost = Int64(expected) - Int64(received)
        return Int32(max(-0x80_0000, min(0x7F_FFFF, lost)))
    }

    /// The interarrival jitter estimate in timestamp units (A.8).
    public var jitter: UInt32 { scaledJitter >> 4 }

    mutating func initSequence(_ sequence: UInt16) {
        baseSequence = UInt32(sequence)
        maxSequence = sequence
        badSequence = Self.sequenceModulo + 1
        cycles = 0
        received = 0
        receivedPrior = 0
        expectedPrior = 0
    }

    /// A.1 `update_seq`.
    mutating func updateSequence(_ sequence: UInt16) -> Verdict {
        if !started {
            started = true
            initSequence(sequence)
            if probation == 0 {
                received = 1
                return .valid
            }
            maxSequence = sequence &- 1
        }
        let delta = sequence &- maxSequence
        if probation > 0 {
            if sequence == maxSequence &+ 1 {
                probation -= 1
                maxSequence = sequence
                if probation == 0 {
                    initSequence(sequence)
                    received += 1
                    return .valid
                }
            } else {
                probation = Self.minSequential - 1
                maxSequence = sequence
            }
            return .probation
        } else if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= Self.sequenceModulo }
            maxSequence = sequence
        } else if UInt32(delta) <= Self.sequenceModulo - UInt32(Self.maxMisorder) {
            if UInt32(sequence) == badSequence {
                initSequence(sequence)
                received += 1
                hasTransit = false
                return .restarted
            }
            badSequence = (UInt32(sequence) + 1) & (Self.sequenceModulo - 1)
            return .invalid
        }
        // Else a duplicate or reordered packet: counted, as A.1 does.
        received &+= 1
        return .valid
    }

    /// Records a packet: its sequence number, its RTP timestamp and its arrival time in the same
    /// timestamp units (e.g. a monotonic clock in ns × clockRate / 1e9, truncated to 32 bits).
    /// Allocates nothing.
    @discardableResult
    public mutating func record(sequenceNumber: UInt16, timestamp: UInt32, arrival: UInt32) -> Verdict {
        let verdict = updateSequence(sequenceNumber)
        guard verdict == .valid || verdict == .restarted else { return verdict }
        // A.8: the difference of relative transit times, smoothed with gain 1/16.
        let transit = Int32(bitPattern: arrival &- timestamp)
        if hasTransit {
            let d = transit &- lastTransit
            let magnitude = d == .min ? UInt32(Int32.max) : UInt32(d.magnitude)
            scaledJitter = scaledJitter &+ magnitude &- ((scaledJitter &+ 8) >> 4)
        }
        lastTransit = transit
        hasTransit = true
        return verdict
    }

    /// Notes a sender report from this source: its NTP timestamp and when it arrived, in
    /// NTP short format (1/65536 s, `NTPTimestamp.shortFormat`).
    public mutating func recordSenderReport(ntpTimestamp: UInt64, arrival: UInt32) {
        lastSenderReportNTP = UInt32(truncatingIfNeeded: ntpTimestamp >> 16)
        lastSenderReportArrival = arrival
    }

    /// The report block for this source (RFC 3550 §6.4.1, A.3), `now` in NTP short format.
    /// Also starts a new interval for the fraction lost.
    public mutating func makeReport(ssrc: UInt32, now: UInt32) -> ReceptionReport {
        let expected = self.expected
        let expectedInterval = expected &- expectedPrior
        expectedPrior = expected
        let receivedInterval = received &- receivedPrior
        receivedPrior = received
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        let fraction: UInt8 =
            expectedInterval == 0 || lostInterval <= 0
            ? 0 : UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
        return ReceptionReport(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: cumulativeLost,
            extendedHighestSequence: extendedHighestSequence, jitter: jitter,
            lastSenderReport: lastSenderReportNTP ?? 0,
            delaySinceLastSenderReport: lastSenderReportNTP == nil ? 0 : now &- lastSenderReportArrival)
    }
}

/// NTP timestamps as RTCP uses them (RFC 3550 §4): 32.32 fixed-point seconds since 1900.
public enum NTPTimestamp {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// The 64-bit timestamp of a Unix time given in nanoseconds (the caller's wall clock).
    public static func fromUnix(nanoseconds: UInt64) -> UInt64 {
        let seconds = nanoseconds / 1_000_000_000 + unixEpochOffset
        let fraction = (nanoseconds % 1_000_000_000) << 32 / 1_000_000_000
        return seconds << 32 | fraction
    }

    /// The middle 32 bits (16.16 seconds), the "NTP short format" of LSR and DLSR.
    public static func shortFormat(_ timestamp: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: timestamp >> 16)
    }

    /// A duration in nanoseconds as 1/65536 s (DLSR units).
    public static func shortDuration(nanoseconds: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: nanoseconds << 16 / 1_000_000_000)
    }

    /// The round-trip time in 1/65536 s from a report block received at `arrival` (short
    /// format): `arrival − LSR − DLSR` (RFC 3550 §6.4.1); nil when the block has no LSR.
    public static func roundTrip(_ report: ReceptionReport, arrival: UInt32) -> UInt32? {
        guard report.lastSenderReport != 0 else { return nil }
        return arrival &- report.lastSenderReport &- report.delaySinceLastSenderReport
    }
}

/// Converts a monotonic clock reading to RTP timestamp units (for the `arrival` arguments of
/// `ReceiverStatistics.record` and the jitter buffer): nanoseconds × rate / 10⁹, truncated to
/// 32 bits, computed without overflow for any uptime.
public struct RTPClock: Hashable, Sendable {
    public let rate: UInt32

    public init(rate: UInt32) {
        self.rate = rate
    }

    /// The timestamp-unit count at `nanoseconds` of the caller's monotonic clock.
    @inlinable
    public func units(atNanoseconds nanoseconds: UInt64) -> UInt32 {
        let product = nanoseconds.multipliedFullWidth(by: UInt64(rate))
        // Dividing the high word first keeps the quotient in range; only the low 32 bits matter.
        let high = product.high % 1_000_000_000
        let quotient = UInt64(1_000_000_000).dividingFullWidth((high, product.low)).quotient
        return UInt32(truncatingIfNeeded: quotient)
    }
}
