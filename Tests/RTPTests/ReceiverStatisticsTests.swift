import Testing

@testable import RTP

@Suite("Receiver statistics (RFC 3550 A.1, A.3, A.8)")
struct ReceiverStatisticsTests {
    @Test func probationThenInOrder() {
        var stats = ReceiverStatistics(clockRate: 48000)
        #expect(stats.record(sequenceNumber: 100, timestamp: 0, arrival: 0) == .probation)
        for n in 1..<100 {
            #expect(
                stats.record(sequenceNumber: UInt16(100 + n), timestamp: UInt32(n * 960), arrival: UInt32(n * 960))
                    == .valid)
        }
        // A.1 does not count the first packet: the base is the second.
        #expect(stats.baseSequence == 101)
        #expect(stats.received == 99)
        #expect(stats.expected == 99)
        #expect(stats.cumulativeLost == 0)
        #expect(stats.jitter == 0)
        let report = stats.makeReport(ssrc: 7, now: 0)
        #expect(report.fractionLost == 0)
        #expect(report.extendedHighestSequence == 199)
    }

    @Test func probationRestartsOnAGap() {
        var stats = ReceiverStatistics(clockRate: 48000)
        #expect(stats.record(sequenceNumber: 10, timestamp: 0, arrival: 0) == .probation)
        #expect(stats.record(sequenceNumber: 50, timestamp: 0, arrival: 0) == .probation)
        #expect(stats.record(sequenceNumber: 51, timestamp: 0, arrival: 0) == .valid)
        #expect(stats.baseSequence == 51)
    }

    @Test func lossAndFractionLost() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        for n in 0..<100 where n % 10 != 5 {  // 10 of 100 lost
            stats.record(sequenceNumber: UInt16(n), timestamp: UInt32(n * 960), arrival: UInt32(n * 960))
        }
        #expect(stats.received == 90)
        #expect(stats.expected == 100)
        #expect(stats.cumulativeLost == 10)
        let first = stats.makeReport(ssrc: 1, now: 0)
        #expect(first.fractionLost == 25)  // 10/100 × 256 = 25.6
        #expect(first.cumulativeLost == 10)
        // The next interval has no loss.
        for n in 100..<150 {
            stats.record(sequenceNumber: UInt16(n), timestamp: UInt32(n * 960), arrival: UInt32(n * 960))
        }
        let second = stats.makeReport(ssrc: 1, now: 0)
        #expect(second.fractionLost == 0)
        #expect(second.cumulativeLost == 10)
    }

    @Test func sequenceWrap() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        for n in 0..<100 {
            stats.record(sequenceNumber: UInt16(truncatingIfNeeded: 65500 + n), timestamp: 0, arrival: 0)
        }
        #expect(stats.cycles == 65536)
        #expect(stats.extendedHighestSequence == 65536 + 63)
        #expect(stats.expected == 100)
        #expect(stats.cumulativeLost == 0)
    }

    @Test func duplicatesAndReordering() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        for sequence: UInt16 in [1, 2, 4, 3, 3, 5] {
            #expect(stats.record(sequenceNumber: sequence, timestamp: 0, arrival: 0) == .valid)
        }
        #expect(stats.expected == 5)
        #expect(stats.received == 6)
        #expect(stats.cumulativeLost == -1)
        #expect(stats.extendedHighestSequence == 5)
    }

    @Test func senderRestartNeedsTwoPackets() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        for n: UInt16 in 0..<10 { stats.record(sequenceNumber: n, timestamp: 0, arrival: 0) }
        #expect(stats.record(sequenceNumber: 20000, timestamp: 0, arrival: 0) == .invalid)
        #expect(stats.record(sequenceNumber: 20001, timestamp: 0, arrival: 0) == .restarted)
        #expect(stats.baseSequence == 20001)
        #expect(stats.received == 1)
        #expect(stats.record(sequenceNumber: 20002, timestamp: 0, arrival: 0) == .valid)
    }

    @Test func jitterConvergesToTheDelayVariation() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        // Every other packet arrives 480 samples (10 ms) late: |D| = 480 each time, so J → 480.
        for n in 0..<2000 {
            let delay: UInt32 = n % 2 == 0 ? 0 : 480
            stats.record(
                sequenceNumber: UInt16(truncatingIfNeeded: n), timestamp: UInt32(n * 960),
                arrival: UInt32(n * 960) + delay + 123_456)
        }
        #expect(abs(Int(stats.jitter) - 480) <= 16)
    }

    @Test func jitterAcrossTimestampWrap() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        for n in 0..<200 {
            let timestamp = UInt32.max &- 50_000 &+ UInt32(n * 960)
            stats.record(sequenceNumber: UInt16(n), timestamp: timestamp, arrival: UInt32(n * 960))
        }
        #expect(stats.jitter == 0)
    }

    @Test func lastSenderReportDelay() {
        var stats = ReceiverStatistics(clockRate: 48000, probation: 0)
        stats.record(sequenceNumber: 1, timestamp: 0, arrival: 0)
        stats.recordSenderReport(ntpTimestamp: 0x0000_1234_5678_0000, arrival: 0x0001_0000)
        let report = stats.makeReport(ssrc: 3, now: 0x0001_8000)
        #expect(report.lastSenderReport == 0x1234_5678)
        #expect(report.delaySinceLastSenderReport == 0x8000)
        #expect(report.ssrc == 3)
    }
}

@Suite("RTP clock")
struct RTPClockTests {
    @Test func convertsWithoutOverflow() {
        let clock = RTPClock(rate: 48000)
        #expect(clock.units(atNanoseconds: 0) == 0)
        #expect(clock.units(atNanoseconds: 1_000_000) == 48)
        #expect(clock.units(atNanoseconds: 20_000_000) == 960)
        // A year of uptime: 31_536_000 s × 48000 = 1_513_728_000_000, modulo 2³².
        let year: UInt64 = 31_536_000 * 1_000_000_000
        #expect(clock.units(atNanoseconds: year) == UInt32(truncatingIfNeeded: UInt64(1_513_728_000_000)))
        #expect(clock.units(atNanoseconds: year + 1_000_000) &- clock.units(atNanoseconds: year) == 48)
        #expect(clock.units(atNanoseconds: .max) > 0)
    }
}
