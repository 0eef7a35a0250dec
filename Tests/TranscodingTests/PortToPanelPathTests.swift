import Audio
import Foundation
import RTP
import Testing

@testable import Transcoding

/// The port → panel path on a synthetic clock: 1 ms L24 packets through a simulated network
/// into the path, 20 ms frames taken at every 20 ms tick of the receiver's clock.
@Suite("Port → panel: jitter buffer, silence-safe concealment, drift, the 20 ms clock")
struct PortToPanelPathTests {
    static let start: UInt64 = 1_000_000_000

    struct Run {
        var samples: [Float] = []
        var framesPerTick: [Int] = []
        /// Frame times skipped between frames (the stream toward the panel paused).
        var pauses = 0
        var depths: [(depth: Int, target: Int)] = []
        var statistics = PlayoutStatistics()
        var lost = 0
    }

    static func makePath(settings: PlayoutSettings? = nil) -> PortToPanelPath {
        PortToPanelPath(encoding: .l24, channels: 1, framesPerPacket: 48, payloadType: 98, settings: settings)
    }

    /// Delivers `packets` at their arrival times and takes frames every 20 ms until `seconds`.
    static func run(_ path: PortToPanelPath, packets: [[UInt8]], arrivals: [(UInt64, Int)], seconds: Double) -> Run {
        let deliveries = arrivals.sorted { $0.0 < $1.0 }
        var run = Run()
        var next = 0
        var frame = [Float](repeating: 0, count: path.samplesPerFrame)
        let end = start + UInt64(seconds * 1e9)
        var now = start
        while now <= end {
            while next < deliveries.count, deliveries[next].0 <= now {
                let (arrival, index) = deliveries[next]
                _ = packets[index].withUnsafeBytes { path.receive(packet: $0, now: arrival) }
                next += 1
            }
            var taken = 0
            while let paused = frame.withUnsafeMutableBufferPointer({ path.nextFrame(now: now, into: $0) }) {
                if !run.samples.isEmpty { run.pauses += paused }
                run.samples += frame
                taken += 1
                let statistics = path.statistics
                run.depths.append((statistics.depth, statistics.targetDepth))
            }
            // Frames flow from the first one on: one at every tick.
            if !run.samples.isEmpty { run.framesPerTick.append(taken) }
            now += 20_000_000
        }
        run.statistics = path.statistics
        return run
    }

    static func arrivals(_ schedule: [UInt64?]) -> [(UInt64, Int)] {
        schedule.enumerated().compactMap { index, arrival in arrival.map { ($0, index) } }
    }

    /// (i) A ramp (every sample distinct) reordered, duplicated, with one packet too late:
    /// every sample comes out in order, the late packet's slot is silence (no repeat), and the
    /// rest is bit-exact.
    @Test func reorderedDuplicatedAndLatePacketsPlayInOrder() {
        var settings = PlayoutSettings.portToPanel(portFrames: 48, channels: 1, encoding: .l24)
        settings.maximumDrift = 0
        settings.jitterBuffer.jitterMultiplier = 0
        settings.jitterBuffer.minimumDepth = 480
        settings.startDelayFrames = 0
        let ramp: (Int) -> Float = { Float($0 + 1) / 8_388_608 }
        let packets = PortSender.packets(count: 1_100, signal: ramp)
        let late = 500
        var arrivals: [(UInt64, Int)] = []
        for index in 0..<1_100 {
            let nominal = Self.start + UInt64(index) * 1_000_000
            if index == late {
                arrivals.append((nominal + 60_000_000, index))
            } else if index % 3 == 1 {
                arrivals.append((nominal + 2_500_000, index))  // after the next two
            } else {
                arrivals.append((nominal, index))
            }
            if index % 7 == 0, index != late { arrivals.append((nominal + 3_000_000, index)) }
        }
        let path = Self.makePath(settings: settings)
        let run = Self.run(path, packets: packets, arrivals: arrivals, seconds: 1.05)
        let statistics = run.statistics
        #expect(statistics.jitterBuffer.late == 1)
        #expect(statistics.jitterBuffer.duplicates == 149)  // those sent by the last tick
        #expect(statistics.concealed == 1)
        #expect(statistics.underrunFrames == 0)

        // Playout starts with the packet the start trimmed to (the first tick came late), fading in.
        let first = run.samples.firstIndex { $0 != 0 } ?? 0
        let heard = Array(run.samples[first...].prefix(900 * 48))
        #expect(heard.count == 900 * 48)
        // The first sample heard, from where the start trimmed to (whole packets, then frames).
        let firstSample = Int((heard[48] * 8_388_608).rounded()) - 1 - 48
        #expect(firstSample >= 0 && firstSample < 40 * 48)
        #expect(
            UInt64(firstSample) == statistics.jitterBuffer.trimmed * 48 + statistics.trimmedFrames)
        #expect(heard[0] > 0 && heard[0] < ramp(firstSample))
        for (offset, sample) in heard.enumerated() {
            let packet = (firstSample + offset) / 48
            // The stream's fade-in, the gap and the fade-in after it.
            if offset < 48 || packet == late || packet == late + 1 { continue }
            if sample != ramp(firstSample + offset) {
                Issue.record("sample \(offset) is \(sample * 8_388_608), expected \(firstSample + offset + 1)")
                break
            }
        }
        // The late packet's slot fades from the last sample to silence: never old audio again.
        let gapStart = late * 48 - firstSample
        let gap = heard[gapStart..<(gapStart + 48)]
        #expect(gap.last == 0)
        #expect(zip(gap, gap.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(gap.first! < ramp(late * 48 - 1) && gap.first! > 0.9 * ramp(late * 48 - 1))
    }

    /// (iv) 2 % loss and up to 30 ms of jitter on 1 ms packets of a 440 Hz tone for 30 s, the
    /// port's clock 300 ppm slow: a frame at every tick, each loss a faded silence (never a
    /// click), the depth held.
    @Test func lossAndJitterAreSilenceSafeAndNeverLeaveAGap() {
        let count = 30_000
        let packets = PortSender.packets(count: count) { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 48_000)) }
        let network = NetworkModel(lossPercent: 2, jitterMilliseconds: 30, clockPPM: -300, seed: 3)
        let schedule = network.schedule(count: count, packetNanoseconds: 1_000_000)
        let run = Self.run(Self.makePath(), packets: packets, arrivals: Self.arrivals(schedule), seconds: 30.0)
        let statistics = run.statistics
        let lost = schedule.filter { $0 == nil }.count

        #expect(run.framesPerTick.allSatisfy { $0 == 1 }, "a tick without its frame")
        #expect(run.pauses == 0)
        #expect(run.framesPerTick.count >= 1_480)
        #expect(statistics.underrunFrames == 0)
        #expect(statistics.rebuffers == 0)
        #expect(statistics.starts == 1)
        #expect(statistics.concealed >= UInt64(lost) - 10)
        #expect(statistics.jitterBuffer.shed == 0)
        // Silence-safe: the largest step between samples is the tone's own (0.029) or a fade's.
        let firstTone = run.samples.firstIndex { $0 != 0 } ?? 0
        let steps = zip(run.samples[firstTone...], run.samples[firstTone...].dropFirst()).map { abs($0 - $1) }
        #expect((steps.max() ?? 0) < 0.04, "largest step \(steps.max() ?? 0)")
        let depths = run.depths.suffix(500)
        let error = depths.reduce(0.0) { $0 + Double($1.depth - $1.target) } / Double(depths.count)
        print(
            "port → panel, 2 % loss, 30 ms jitter, −300 ppm: \(lost) lost, \(statistics.concealed) concealed, "
                + "\(statistics.jitterBuffer.late) late, drift \(String(format: "%.0f", statistics.driftPPM)) ppm, "
                + "depth \(statistics.depth) / target \(statistics.targetDepth), mean error \(Int(error))")
        #expect(abs(error) < 200)
    }

    /// A port that stops for a second: its frames go on for 50 ms (faded to silence), then the
    /// stream toward the panel pauses, and resumes when the port does, at the jitter buffer's
    /// target (not one inflated by the wait), with the pause reported for the RTP timestamp.
    @Test func aPortThatStopsPausesTheStreamTowardThePanel() {
        let packets = PortSender.packets(count: 3_000) { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 48_000)) }
        let schedule: [UInt64?] = (0..<3_000).map { index in
            // 1 s of stream, 1 s of nothing, 1 s of stream (the port's timeline goes on).
            (1_000..<2_000).contains(index) ? nil : Self.start + UInt64(index) * 1_000_000
        }
        let path = Self.makePath()
        let run = Self.run(path, packets: packets, arrivals: Self.arrivals(schedule), seconds: 2.9)
        let statistics = run.statistics
        #expect(statistics.rebuffers == 1)
        #expect(statistics.starts == 2)
        #expect(statistics.underrunFrames == 0)
        // About 1 s of frame times skipped, less the 50 ms played out and the restart's wait.
        #expect(run.pauses > 40 && run.pauses < 50, "\(run.pauses) frame times paused")
        #expect(run.framesPerTick.filter { $0 == 0 }.count == run.pauses)
        // Back at the target it had before the outage.
        let before = run.depths[30]
        let after = run.depths[run.depths.count - 10]
        #expect(abs(after.target - before.target) < 100, "target \(before.target) → \(after.target)")
        let steps = zip(run.samples, run.samples.dropFirst()).map { abs($0 - $1) }
        #expect((steps.max() ?? 0) < 0.04)
    }

    /// The port's clock 300 ppm fast and slow for 90 s, 2 ms of jitter (a LAN): nothing
    /// concealed or shed, the depth held at its target and not growing.
    @Test(arguments: [300.0, -300.0])
    func driftIsCompensatedAndTheDepthHeld(ppm: Double) {
        let count = 90_000
        let packets = PortSender.packets(count: count) { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / 48_000)) }
        let network = NetworkModel(jitterMilliseconds: 2, clockPPM: ppm, seed: 5)
        let schedule = network.schedule(count: count, packetNanoseconds: 1_000_000)
        let run = Self.run(Self.makePath(), packets: packets, arrivals: Self.arrivals(schedule), seconds: 89.5)
        let statistics = run.statistics
        #expect(statistics.concealed == 0)
        #expect(statistics.jitterBuffer.shed == 0)
        #expect(statistics.jitterBuffer.late == 0)
        #expect(statistics.rebuffers == 0)
        #expect(statistics.underrunFrames == 0)
        let perWindow = 500  // 10 s of 20 ms ticks
        let windows = stride(from: 0, to: run.depths.count - perWindow + 1, by: perWindow).map { start in
            let slice = run.depths[start..<(start + perWindow)]
            let depth = slice.reduce(0.0) { $0 + Double($1.depth) } / Double(perWindow)
            let error = slice.reduce(0.0) { $0 + Double($1.depth - $1.target) } / Double(perWindow)
            return (depth: depth, error: error)
        }
        print(
            "port clock \(ppm) ppm: drift \(String(format: "%.0f", statistics.driftPPM)) ppm, depth per 10 s "
                + windows.map { String(format: "%.0f (%+.0f)", $0.depth, $0.error) }.joined(separator: ", "))
        #expect(windows.count >= 8)
        for window in windows.suffix(4) { #expect(abs(window.error) < 100) }
        #expect(windows[windows.count - 1].depth <= windows[3].depth + 100)
        #expect(abs(statistics.driftPPM - ppm) < 100)
    }
}
