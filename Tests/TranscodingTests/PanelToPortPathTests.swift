import Audio
import Foundation
import RTP
import Testing
import WebRTC

@testable import Transcoding

/// The panel → port path on a synthetic clock: Opus packets from a real encoder through a
/// simulated network (loss, jitter, a drifting sender clock) into the path, port packets taken
/// at every 1 ms tick of the receiver's clock.
@Suite("Panel → port: jitter buffer, Opus FEC/PLC, drift, the port's packet clock")
struct PanelToPortPathTests {
    static let start: UInt64 = 1_000_000_000
    static let tick: UInt64 = 1_000_000

    /// What one run produced.
    struct Run {
        var capture = PortCapture()
        /// Packets taken at each tick once the port's clock started (1 each, or the stream has a gap).
        var packetsPerTick: [Int] = []
        /// Port packets during whose rendering a packet was concealed or rebuilt.
        var concealedAt: [Int] = []
        /// (depth, target) at every tick once playing.
        var depths: [(depth: Int, target: Int)] = []
        var statistics = PlayoutStatistics()
        var lost = 0
    }

    static func makePath(settings: PlayoutSettings? = nil) throws -> PanelToPortPath {
        try PanelToPortPath(
            encoding: .l24, channels: 1, payloadType: 98, ssrc: 0xABCD, initialSequenceNumber: 65_500,
            initialTimestamp: 4_000_000_000, settings: settings)
    }

    /// Delivers `packets` at `arrivals` (nil: lost) and ticks every millisecond until `seconds`.
    static func run(
        _ path: PanelToPortPath, packets: [[UInt8]], arrivals: [UInt64?], seconds: Double
    ) -> Run {
        var deliveries = arrivals.enumerated().compactMap { index, arrival in
            arrival.map { Delivery(arrival: $0, bytes: packets[index], index: index) }
        }
        deliveries.sort { $0.arrival < $1.arrival }
        var run = Run()
        run.lost = arrivals.filter { $0 == nil }.count
        var next = 0
        var buffer = [UInt8](repeating: 0, count: 1_500)
        var events: UInt64 = 0
        let end = start + UInt64(seconds * 1e9)
        var now = start
        while now <= end {
            while next < deliveries.count, deliveries[next].arrival <= now {
                let delivery = deliveries[next]
                delivery.bytes.withUnsafeBytes {
                    _ = path.receive(packet: $0, opusPayloadType: Panel.payloadType, now: delivery.arrival)
                }
                next += 1
            }
            var taken = 0
            while let length = buffer.withUnsafeMutableBytes({ path.nextPacket(now: now, into: $0) }) {
                buffer.withUnsafeBytes {
                    run.capture.record(UnsafeRawBufferPointer(rebasing: $0[0..<length]), framesPerPacket: 48)
                }
                taken += 1
                let statistics = path.statistics
                let concealed = statistics.concealed + statistics.recovered
                if concealed != events { run.concealedAt.append(run.capture.packets - 1) }
                events = concealed
                if statistics.starts > 0 { run.depths.append((statistics.depth, statistics.targetDepth)) }
            }
            if path.nextDeadline != nil { run.packetsPerTick.append(taken) }
            now += tick
        }
        run.statistics = path.statistics
        return run
    }

    /// (i) Reordered, duplicated and late packets: the jitter buffer plays them in order. The
    /// same packets delivered in order (the late one lost) give the very same port audio.
    @Test func reorderedDuplicatedAndLatePacketsPlayInOrder() throws {
        var settings = PlayoutSettings.panelToPort(portFrames: 48, channels: 1)
        settings.jitterBuffer.jitterMultiplier = 0  // a fixed target: both runs Self.start alike
        settings.maximumDrift = 0  // and play at exactly 1:1
        settings.jitterBuffer.minimumDepth = 2_880  // 60 ms: packet 51 is there when 50 is missed
        settings.startDelayFrames = 0  // start as soon as the target is buffered, in both runs
        let packets = try Panel.packets(100)
        let late = 50
        var inOrder: [UInt64?] = (0..<100).map { Self.start + UInt64($0) * 20_000_000 }
        inOrder[late] = nil
        // Pairs swapped (the odd one 1 ms early, the even one 2 ms late), every fifth packet
        // sent twice (the copy 10 ms later), and packet 50 100 ms late: after its turn.
        var shuffled: [(UInt64, Int)] = []
        for index in 0..<100 {
            let nominal = Self.start + UInt64(index) * 20_000_000
            switch index {
            case late: shuffled.append((nominal + 100_000_000, index))
            case _ where index % 2 == 0: shuffled.append((nominal + 2_000_000, index))
            default: shuffled.append((nominal - 19_000_000, index))
            }
            if index % 5 == 0, index != late { shuffled.append((nominal + 10_000_000, index)) }
        }
        // Build the reordered run's deliveries by hand (duplicates included).
        let path = try Self.makePath(settings: settings)
        var capture = PortCapture()
        var buffer = [UInt8](repeating: 0, count: 1_500)
        shuffled.sort { $0.0 < $1.0 }
        var next = 0
        var now = Self.start
        var insertions: [JitterBufferInsertion] = []
        while now <= Self.start + 2_200_000_000 {
            while next < shuffled.count, shuffled[next].0 <= now {
                let (arrival, index) = shuffled[next]
                if let insertion = packets[index].withUnsafeBytes({
                    path.receive(packet: $0, opusPayloadType: Panel.payloadType, now: arrival)
                }) {
                    insertions.append(insertion)
                }
                next += 1
            }
            while let length = buffer.withUnsafeMutableBytes({ path.nextPacket(now: now, into: $0) }) {
                buffer.withUnsafeBytes {
                    capture.record(UnsafeRawBufferPointer(rebasing: $0[0..<length]), framesPerPacket: 48)
                }
            }
            now += Self.tick
        }
        let statistics = path.statistics
        #expect(statistics.jitterBuffer.duplicates == 19)
        #expect(statistics.jitterBuffer.late == 1)
        #expect(insertions.filter { $0 == .late }.count == 1)
        #expect(statistics.recovered == 1)  // packet 50, from packet 51's FEC
        #expect(statistics.decoded == 99)
        #expect(capture.breaks == 0)

        let reference = Self.run(
            try Self.makePath(settings: settings), packets: packets, arrivals: inOrder, seconds: 2.2)
        #expect(reference.statistics.recovered == 1)
        // The reordered run starts a tick earlier or later (its first packet came 19 ms early):
        // compare the audio from the start of the tone on.
        func audio(_ samples: [Float]) -> ArraySlice<Float> {
            let first = samples.firstIndex { $0 != 0 } ?? 0
            return samples[first..<min(samples.count, first + 90 * 960)]
        }
        let heard = audio(capture.samples)
        let expected = audio(reference.capture.samples)
        #expect(heard.count == expected.count)
        #expect(zip(heard, expected).allSatisfy { $0 == $1 }, "the reordered stream plays differently")
    }

    /// Two packets lost in a row (no jitter, so the buffer is at its minimum): the first is
    /// concealed by libopus's PLC (the packet after it, which would carry its FEC, is lost too),
    /// the second rebuilt from the third's FEC; the port's stream goes on without a gap and the
    /// tone without a click.
    @Test func aBurstOfTwoIsConcealedThenRebuilt() throws {
        let packets = try Panel.packets(100)
        var arrivals: [UInt64?] = (0..<100).map { Self.start + UInt64($0) * 20_000_000 }
        arrivals[40] = nil
        arrivals[41] = nil
        let run = Self.run(try Self.makePath(), packets: packets, arrivals: arrivals, seconds: 1.9)
        // Concealed twice: at packet 40's turn nothing later had arrived yet (a late stream to
        // the jitter buffer, so the timeline stretches by a frame); at the next turn 42 was
        // there, so 40 was lost: PLC; then 41 from 42's FEC.
        #expect(run.statistics.concealed == 2)
        #expect(run.statistics.jitterBuffer.concealedEmpty == 1)
        #expect(run.statistics.jitterBuffer.concealedLost == 2)
        #expect(run.statistics.recovered == 1)
        #expect(run.capture.breaks == 0)
        #expect(run.packetsPerTick.allSatisfy { $0 == 1 })
        #expect(run.statistics.underrunFrames == 0)
        let firstTone = run.capture.samples.firstIndex { abs($0) > 0.01 } ?? 0
        let clicks = Signal.clicks(in: run.capture.samples, frequency: 1_000, threshold: 0.1)
        #expect(clicks.filter { $0 > firstTone + 960 }.isEmpty, "clicks at \(clicks.prefix(10))")
    }

    /// (ii) 2 % random loss and up to 30 ms of uniform random jitter over 30 s of a 1 kHz tone:
    /// the port's stream never has a gap (one packet at every tick, consecutive sequence
    /// numbers and timestamps), every loss is concealed or rebuilt by FEC, and the audio has no
    /// discontinuity except where a packet was concealed.
    @Test func lossAndJitterNeverLeaveAGapAtThePort() throws {
        let packets = try Panel.packets(1_500)
        let network = NetworkModel(lossPercent: 2, jitterMilliseconds: 30, seed: 7)
        let arrivals = network.schedule(count: packets.count, packetNanoseconds: 20_000_000)
        // Until the last packets: the stream's end (a rebuffer) is not part of this test.
        let run = Self.run(try Self.makePath(), packets: packets, arrivals: arrivals, seconds: 29.9)
        let statistics = run.statistics

        #expect(run.lost >= 20)
        #expect(run.capture.breaks == 0)
        #expect(run.packetsPerTick.allSatisfy { $0 == 1 }, "a tick without its packet")
        #expect(run.capture.packets >= 29_800)
        #expect(statistics.underrunFrames == 0)
        #expect(statistics.rebuffers == 0)
        #expect(statistics.starts == 1)
        #expect(statistics.silentFrames < 48 * 200)  // only before the first packets played
        #expect(statistics.recovered > 0)
        #expect(statistics.recovered + statistics.concealed >= UInt64(run.lost))
        #expect(statistics.skippedFrames == 0)

        // Clicks only where a packet was concealed: the window from the concealed packet's pull
        // to the end of the frame after it.
        let clicks = Signal.clicks(in: run.capture.samples, frequency: 1_000, threshold: 0.1)
        // The detector hears a click: 4.8 ms cut out of the tone (what trimming a ring did).
        var cut = Array(run.capture.samples.suffix(9_600))
        cut.removeSubrange(4_000..<4_230)
        #expect(!Signal.clicks(in: cut, frequency: 1_000, threshold: 0.1).isEmpty)
        let windows = run.concealedAt.map { ($0 * 48 - 96)..<($0 * 48 + 2 * 960 + 96) }
        let unexplained = clicks.filter { position in !windows.contains { $0.contains(position) } }
        let firstTone = run.capture.samples.firstIndex { abs($0) > 0.01 } ?? 0
        #expect(
            unexplained.filter { $0 > firstTone + 960 }.isEmpty,
            "clicks away from concealment at \(unexplained.prefix(10)) (of \(clicks.count) clicks)")
        let tail = Array(run.capture.samples.suffix(48_000))
        let rms = sqrt(tail.reduce(0) { $0 + Double($1) * Double($1) } / Double(tail.count))
        #expect(abs(rms - 0.354) < 0.05, "level \(rms)")
        print(
            "panel → port, 2 % loss, 30 ms jitter: \(run.lost) lost, \(statistics.recovered) FEC, "
                + "\(statistics.concealed) PLC, \(statistics.jitterBuffer.late) late, \(clicks.count) clicks "
                + "(all at concealment), depth \(statistics.depth) / target \(statistics.targetDepth) frames")
    }

    /// (iii) The panel's clock 300 ppm fast, then 300 ppm slow, for 90 s each, with 10 ms of
    /// jitter: the depth stays at its target and does not grow, nothing is shed or concealed,
    /// and the drift estimate finds the offset.
    @Test(arguments: [300.0, -300.0])
    func driftIsCompensatedAndTheDepthHeld(ppm: Double) throws {
        let seconds = 90.0
        let packets = try Panel.packets(4_500)
        let network = NetworkModel(jitterMilliseconds: 10, clockPPM: ppm, seed: 11)
        let arrivals = network.schedule(count: packets.count, packetNanoseconds: 20_000_000)
        let run = Self.run(try Self.makePath(), packets: packets, arrivals: arrivals, seconds: seconds - 0.5)
        let statistics = run.statistics

        #expect(statistics.jitterBuffer.shed == 0)
        #expect(statistics.jitterBuffer.late == 0)
        #expect(statistics.concealed == 0)
        #expect(statistics.recovered == 0)
        #expect(statistics.rebuffers == 0)
        #expect(statistics.underrunFrames == 0)
        #expect(run.capture.breaks == 0)
        #expect(run.depths.allSatisfy { $0.depth <= 9_600 })

        // Mean depth and error per 10 s.
        let perWindow = 10_000
        let windows = stride(from: 0, to: run.depths.count - perWindow + 1, by: perWindow).map { start in
            let slice = run.depths[start..<(start + perWindow)]
            let depth = slice.reduce(0.0) { $0 + Double($1.depth) } / Double(perWindow)
            let error = slice.reduce(0.0) { $0 + Double($1.depth - $1.target) } / Double(perWindow)
            return (depth: depth, error: error)
        }
        print(
            "panel clock \(ppm) ppm: drift \(String(format: "%.0f", statistics.driftPPM)) ppm, depth per 10 s "
                + windows.map { String(format: "%.0f (%+.0f)", $0.depth, $0.error) }.joined(separator: ", "))
        #expect(windows.count >= 8)
        for window in windows.suffix(4) { #expect(abs(window.error) < 150) }
        // Not growing: the last 10 s no deeper than 30–40 s in.
        #expect(windows[windows.count - 1].depth <= windows[3].depth + 100)
        #expect(abs(statistics.driftPPM - ppm) < 120)
        // Also within the configured bounds of the jitter buffer.
        #expect(run.depths.suffix(30_000).allSatisfy { $0.depth < 9_600 && $0.depth > 0 })
    }
}
