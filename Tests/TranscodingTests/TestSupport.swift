import Audio
import Foundation
import RTP
import WebRTC

@testable import Transcoding

/// A deterministic generator (SplitMix64): the same loss and jitter on every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One packet on the simulated network.
struct Delivery {
    var arrival: UInt64
    var bytes: [UInt8]
    var index: Int
}

/// What the sender's network does to its packets: random loss, uniform random extra delay,
/// and a sender clock off by `clockPPM` (positive: it sends faster than the receiver's clock).
struct NetworkModel {
    var lossPercent = 0.0
    var jitterMilliseconds = 0.0
    var clockPPM = 0.0
    var seed: UInt64 = 1

    /// Arrival times in ns of packets sent every `packetNanoseconds` of the sender's clock,
    /// starting at `start`; nil for lost ones. Sorted by the caller.
    func schedule(count: Int, packetNanoseconds: Double, start: UInt64 = 1_000_000_000) -> [UInt64?] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { index in
            let lost = Double.random(in: 0..<100, using: &random) < lossPercent
            let delay = jitterMilliseconds > 0 ? Double.random(in: 0...jitterMilliseconds, using: &random) * 1e6 : 0
            guard !lost else { return nil }
            let sent = Double(index) * packetNanoseconds / (1 + clockPPM * 1e-6)
            return start + UInt64(sent + delay)
        }
    }
}

enum Signal {
    /// Samples `start ..< start + count` of a sine at `frequency`, amplitude `level`.
    static func tone(frequency: Double, start: Int, count: Int, level: Double = 0.5) -> [Float] {
        (0..<count).map { Float(level * sin(2 * Double.pi * frequency * Double(start + $0) / 48_000)) }
    }

    /// The residual of a sine predictor: ~0 on a clean tone at `frequency`, large at a click.
    static func clicks(in samples: [Float], frequency: Double, threshold: Float) -> [Int] {
        let k = Float(2 * cos(2 * Double.pi * frequency / 48_000))
        var positions: [Int] = []
        for n in 2..<samples.count where abs(samples[n] - k * samples[n - 1] + samples[n - 2]) > threshold {
            positions.append(n)
        }
        return positions
    }
}

/// A panel: 20 ms Opus packets of a 1 kHz tone from a real libopus encoder, as plain RTP.
enum Panel {
    static let ssrc: UInt32 = 0x5A5A_0001
    static let payloadType: UInt8 = 111
    nonisolated(unsafe) static var cache: [Int: [[UInt8]]] = [:]
    static let lock = NSLock()

    /// `count` packets, RTP header included (sequence numbers from 65000, so they wrap).
    static func packets(_ count: Int) throws -> [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache[count] { return cached }
        let encoder = try OpusFrameEncoder(channels: 1)
        var packets: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1_500)
        for index in 0..<count {
            let pcm = Signal.tone(frequency: 1_000, start: index * 960, count: 960)
            let header = RTPHeader(
                payloadType: payloadType, sequenceNumber: UInt16(truncatingIfNeeded: 65_000 + index),
                timestamp: UInt32(truncatingIfNeeded: index * 960), ssrc: ssrc)
            let length = try buffer.withUnsafeMutableBytes { raw in
                header.write(into: raw)
                return try pcm.withUnsafeBufferPointer { samples in
                    try encoder.encode(samples, into: UnsafeMutableRawBufferPointer(rebasing: raw[12...]))
                }
            }
            packets.append(Array(buffer.prefix(12 + length)))
        }
        cache[count] = packets
        return packets
    }
}

/// A matrix port: L24 packets of `frames` frames of a signal, as RTP.
enum PortSender {
    static func packets(count: Int, frames: Int = 48, channels: Int = 1, signal: (Int) -> Float) -> [[UInt8]] {
        var packets: [[UInt8]] = []
        var samples = [Float](repeating: 0, count: frames * channels)
        var buffer = [UInt8](repeating: 0, count: 12 + frames * channels * 3)
        for index in 0..<count {
            for frame in 0..<frames {
                for channel in 0..<channels { samples[frame * channels + channel] = signal(index * frames + frame) }
            }
            let header = RTPHeader(
                payloadType: 98, sequenceNumber: UInt16(truncatingIfNeeded: 60_000 + index),
                timestamp: UInt32(truncatingIfNeeded: 7_000 + index * frames), ssrc: 0x1234)
            buffer.withUnsafeMutableBytes { raw in
                header.write(into: raw)
                _ = samples.withUnsafeBufferPointer {
                    PCMEncoding.l24.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[12...]))
                }
            }
            packets.append(buffer)
        }
        return packets
    }
}

/// Decodes the port's output stream and checks it is one unbroken stream.
struct PortCapture {
    var samples: [Float] = []
    var packets = 0
    var lastSequence: UInt16?
    var lastTimestamp: UInt32?
    var breaks = 0

    mutating func record(_ packet: UnsafeRawBufferPointer, framesPerPacket: Int) {
        guard let view = try? RTPPacketView(parsing: packet) else {
            breaks += 1
            return
        }
        if let lastSequence, let lastTimestamp {
            if view.header.sequenceNumber != lastSequence &+ 1
                || view.header.timestamp != lastTimestamp &+ UInt32(framesPerPacket)
            {
                breaks += 1
            }
        }
        lastSequence = view.header.sequenceNumber
        lastTimestamp = view.header.timestamp
        var pcm = [Float](repeating: 0, count: framesPerPacket)
        let count = pcm.withUnsafeMutableBufferPointer {
            PCMEncoding.l24.decode(UnsafeRawBufferPointer(rebasing: packet[view.payloadRange]), into: $0)
        }
        if count != framesPerPacket { breaks += 1 }
        samples += pcm
        packets += 1
    }
}
