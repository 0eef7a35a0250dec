import Testing

@testable import Audio

/// Drives a `JitterBuffer` with one-byte payloads that carry the sequence number's low byte.
final class Harness {
    let buffer: JitterBuffer
    var output = [UInt8](repeating: 0, count: 1500)
    let samplesPerPacket: Int

    init(_ configuration: JitterBufferConfiguration) {
        buffer = JitterBuffer(configuration: configuration)
        samplesPerPacket = configuration.samplesPerPacket
    }

    @discardableResult
    func insert(_ sequence: UInt16, arrival: UInt32? = nil, size: Int = 4) -> JitterBufferInsertion {
        let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: size)
        let timestamp = UInt32(truncatingIfNeeded: Int(sequence) * samplesPerPacket)
        return payload.withUnsafeBytes {
            buffer.insert(sequenceNumber: sequence, timestamp: timestamp, payload: $0, arrival: arrival ?? timestamp)
        }
    }

    func play() -> JitterBufferPlayout {
        output.withUnsafeMutableBytes { buffer.nextPlayout(into: $0) }
    }

    /// The sequence numbers of the next `count` packets played, nil for conceal, -1 for silence.
    func playSequence(_ count: Int) -> [Int?] {
        (0..<count).map { _ in
            switch play() {
            case .packet(let sequence, _, let length):
                #expect(length == 4)
                #expect(output[0] == UInt8(truncatingIfNeeded: sequence))
                return Int(sequence)
            case .conceal: return nil
            case .silence: return -1
            }
        }
    }
}

@Suite("Adaptive jitter buffer")
struct JitterBufferTests {
    /// 1 ms packets, 2–20 ms depth.
    static let pcm = JitterBufferConfiguration(
        capacity: 64, maximumPayloadSize: 16, samplesPerPacket: 48, minimumDepth: 96, maximumDepth: 960,
        shedThreshold: 480,
        shedAfterPlayouts: 2)

    @Test func silenceUntilTheTargetDepth() {
        let h = Harness(Self.pcm)
        #expect(h.play() == .silence)
        #expect(h.insert(0) == .stored)
        #expect(h.buffer.depth == 48)
        #expect(h.play() == .silence)
        h.insert(1)
        #expect(h.buffer.depth == 96)
        #expect(h.playSequence(2) == [0, 1])
        #expect(h.buffer.statistics.played == 2)
    }

    @Test func reorderingIsUndone() {
        let h = Harness(Self.pcm)
        for sequence: UInt16 in [1, 0, 3, 2, 5, 4] { #expect(h.insert(sequence) == .stored) }
        #expect(h.playSequence(6) == [0, 1, 2, 3, 4, 5])
    }

    @Test func duplicatesAndLatePackets() {
        let h = Harness(Self.pcm)
        h.insert(10)
        #expect(h.insert(10) == .duplicate)
        h.insert(11)
        h.insert(12)
        #expect(h.playSequence(2) == [10, 11])
        #expect(h.insert(10) == .late)
        #expect(h.insert(11) == .late)
        #expect(h.buffer.statistics.duplicates == 1)
        #expect(h.buffer.statistics.late == 2)
        #expect(h.playSequence(1) == [12])
    }

    @Test func lossIsConcealedWithFEC() {
        let h = Harness(Self.pcm)
        for sequence: UInt16 in [0, 1, 3, 4] { h.insert(sequence) }
        #expect(h.playSequence(2) == [0, 1])
        #expect(h.play() == .conceal(sequenceNumber: 2, timestamp: 96, fecAvailable: true))
        var fec = [UInt8](repeating: 0, count: 16)
        #expect(fec.withUnsafeMutableBytes { h.buffer.copyNextPacket(into: $0) } == 4)
        #expect(fec[0] == 3)
        #expect(h.playSequence(2) == [3, 4])
        #expect(h.buffer.statistics.concealedLost == 1)
    }

    @Test func twoLostInARowHaveNoFECForTheFirst() {
        let h = Harness(Self.pcm)
        for sequence: UInt16 in [0, 1, 4] { h.insert(sequence) }
        #expect(h.playSequence(2) == [0, 1])
        #expect(h.play() == .conceal(sequenceNumber: 2, timestamp: 96, fecAvailable: false))
        #expect(h.play() == .conceal(sequenceNumber: 3, timestamp: 144, fecAvailable: true))
        #expect(h.playSequence(1) == [4])
    }

    @Test func lateStreamStretchesTheTimelineAndRaisesTheTarget() {
        let h = Harness(Self.pcm)
        h.insert(0)
        h.insert(1)
        #expect(h.playSequence(2) == [0, 1])
        let before = h.buffer.targetDepth
        // Packet 2 is late: conceal without skipping it.
        #expect(h.play() == .conceal(sequenceNumber: 2, timestamp: 96, fecAvailable: false))
        #expect(h.buffer.targetDepth == before + 48)
        h.insert(2)
        #expect(h.playSequence(1) == [2])
        #expect(h.buffer.statistics.concealedEmpty == 1)
        #expect(h.buffer.statistics.late == 0)
    }

    @Test func longOutageGoesSilentAndRebuffers() {
        var configuration = Self.pcm
        configuration.maximumConcealment = 5 * 48
        let h = Harness(configuration)
        h.insert(0)
        h.insert(1)
        #expect(h.playSequence(2) == [0, 1])
        let outage = h.playSequence(8)
        #expect(outage.prefix(5) == [nil, nil, nil, nil, nil])
        #expect(outage.suffix(3) == [-1, -1, -1])
        #expect(h.buffer.isBuffering)
        #expect(h.buffer.statistics.rebufferings == 1)
        // It resumes once the (raised) target depth is buffered again.
        var sequence: UInt16 = 2
        var played: [Int?] = []
        for _ in 0..<20 {
            h.insert(sequence)
            sequence += 1
            played += h.playSequence(1)
        }
        #expect(played.contains(2))
        #expect(played.first == -1)
        #expect(played.compactMap { $0 }.filter { $0 >= 0 } == Array(2..<(2 + played.filter { $0 != -1 }.count)))
    }

    @Test func sequenceWrap() {
        let h = Harness(Self.pcm)
        for sequence: UInt16 in [65534, 65535, 0, 1, 2] { h.insert(sequence) }
        #expect(h.playSequence(5) == [65534, 65535, 0, 1, 2])
    }

    @Test func senderRestartResynchronizes() {
        let h = Harness(Self.pcm)
        h.insert(100)
        h.insert(101)
        #expect(h.playSequence(2) == [100, 101])
        #expect(h.insert(30000) == .resynchronized)
        h.insert(30001)
        #expect(h.playSequence(2) == [30000, 30001])
        #expect(h.buffer.statistics.resynchronizations == 1)
        // A restart to a lower number needs two consecutive packets.
        #expect(h.insert(5) == .late)
        #expect(h.insert(6) == .resynchronized)
    }

    @Test func depthIsBoundedWhenNobodyPlays() {
        let h = Harness(Self.pcm)
        for sequence in 0..<200 { h.insert(UInt16(sequence)) }
        #expect(h.buffer.depth <= Self.pcm.maximumDepth + 48)
        #expect(h.buffer.statistics.shed > 0)
        #expect(h.buffer.count <= 21)
    }

    @Test func excessAboveTheTargetIsShed() {
        let h = Harness(Self.pcm)
        for sequence in 0..<18 { h.insert(UInt16(sequence)) }  // 18 ms buffered, target ~2 ms
        #expect(h.playSequence(1) == [0])  // One playout above the threshold is tolerated…
        #expect(h.buffer.statistics.shed == 0)
        #expect(h.playSequence(1) == [2])  // …two in a row shed the oldest.
        #expect(h.buffer.statistics.shed == 1)
        #expect(h.buffer.depth < 18 * 48)
    }

    @Test func tooLargeAndReset() {
        let h = Harness(Self.pcm)
        #expect(h.insert(1, size: 17) == .tooLarge)
        h.insert(1)
        h.reset()
        #expect(h.buffer.depth == 0)
        #expect(h.play() == .silence)
    }

    @Test func targetFollowsJitterWithinBounds() {
        // 20 ms Opus packets with up to 30 ms of random extra delay (deterministic LCG).
        let h = Harness(JitterBufferConfiguration.opus)
        var random: UInt64 = 12345
        func next() -> UInt32 {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt32(truncatingIfNeeded: random >> 33) % 1440  // 0…30 ms at 48 kHz
        }
        for sequence in 0..<500 {
            let nominal = UInt32(sequence * 960)
            h.insert(UInt16(sequence), arrival: nominal + next())
        }
        #expect(h.buffer.jitter > 200)
        #expect(h.buffer.targetDepth > 960 + 2 * 200)
        #expect(h.buffer.targetDepth <= Double(JitterBufferConfiguration.opus.maximumDepth))
    }
}

extension Harness {
    func reset() { buffer.reset() }
}
