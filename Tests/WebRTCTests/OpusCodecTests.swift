import Foundation
import Testing

@testable import WebRTC

/// libopus wrappers: a tone survives the round trip; a lost packet comes back by FEC or PLC.
struct OpusCodecTests {
    static let frame = 960  // 20 ms at 48 kHz

    /// Interleaved frames of a sine at `frequency`, amplitude 0.5.
    static func tone(frequency: Double, frames: Int, channels: Int = 1) -> [[Float]] {
        (0..<frames).map { f in
            (0..<(frame * channels)).map { i in
                let n = f * frame + i / channels
                return Float(0.5 * sin(2 * Double.pi * frequency * Double(n) / 48_000))
            }
        }
    }

    static func rms(_ samples: ArraySlice<Float>) -> Double {
        sqrt(samples.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1)))
    }

    /// The power at `frequency` relative to the total (Goertzel), 0…1.
    static func toneShare(_ samples: [Float], frequency: Double) -> Double {
        let k = 2 * cos(2 * Double.pi * frequency / 48_000)
        var s1 = 0.0
        var s2 = 0.0
        for x in samples {
            let s = Double(x) + k * s1 - s2
            s2 = s1
            s1 = s
        }
        let power = s1 * s1 + s2 * s2 - k * s1 * s2
        let total = samples.reduce(0) { $0 + Double($1) * Double($1) }
        return power / (total * Double(samples.count) / 2)
    }

    static func encodeAll(_ frames: [[Float]], with encoder: OpusFrameEncoder) throws -> [[UInt8]] {
        try frames.map { pcm in
            var packet = [UInt8](repeating: 0, count: 1_500)
            let length = try pcm.withUnsafeBufferPointer { samples in
                try packet.withUnsafeMutableBytes { raw in try encoder.encode(samples, into: raw) }
            }
            return Array(packet.prefix(length))
        }
    }

    static func decode(_ packet: [UInt8], with decoder: OpusFrameDecoder) throws -> [Float] {
        var pcm = [Float](repeating: 0, count: 5_760 * decoder.channels)
        let samples = try packet.withUnsafeBytes { raw in
            try pcm.withUnsafeMutableBufferPointer { out in try decoder.decode(raw, into: out) }
        }
        return Array(pcm.prefix(samples * decoder.channels))
    }

    @Test func aOneKilohertzToneRoundTrips() throws {
        let encoder = try OpusFrameEncoder(channels: 1)
        let decoder = try OpusFrameDecoder(channels: 1)
        let packets = try Self.encodeAll(Self.tone(frequency: 1_000, frames: 20), with: encoder)
        var output: [Float] = []
        for packet in packets {
            #expect(packet.count > 10 && packet.count < 400)
            let pcm = try Self.decode(packet, with: decoder)
            #expect(pcm.count == Self.frame)
            output += pcm
        }
        let tail = Array(output.suffix(Self.frame * 5))
        let level = Self.rms(tail[...])
        #expect(level > 0.25 && level < 0.5, "rms \(level)")  // 0.354 for amplitude 0.5
        #expect(Self.toneShare(tail, frequency: 1_000) > 0.9)
        #expect(Self.toneShare(tail, frequency: 440) < 0.05)
    }

    @Test func stereoEncodesAndDecodesBothChannels() throws {
        let encoder = try OpusFrameEncoder(channels: 2, bitrate: 64_000)
        let decoder = try OpusFrameDecoder(channels: 2)
        let packets = try Self.encodeAll(Self.tone(frequency: 440, frames: 10, channels: 2), with: encoder)
        var last: [Float] = []
        for packet in packets { last = try Self.decode(packet, with: decoder) }
        #expect(last.count == Self.frame * 2)
        let left = stride(from: 0, to: last.count, by: 2).map { last[$0] }
        #expect(Self.toneShare(left, frequency: 440) > 0.9)
    }

    @Test func aLostPacketIsRecoveredFromTheNextOnesFEC() throws {
        // FEC needs an expected loss and a bitrate that leaves room for it.
        let encoder = try OpusFrameEncoder(channels: 1, bitrate: 32_000, expectedLossPercent: 20)
        let decoder = try OpusFrameDecoder(channels: 1)
        let packets = try Self.encodeAll(Self.tone(frequency: 1_000, frames: 20), with: encoder)
        for packet in packets[0..<10] { _ = try Self.decode(packet, with: decoder) }
        // Packet 10 is lost; packet 11 carries its FEC.
        var recovered = [Float](repeating: 0, count: Self.frame)
        let count = try packets[11].withUnsafeBytes { raw in
            try recovered.withUnsafeMutableBufferPointer { out in
                try decoder.decodeFEC(from: raw, frameSize: Self.frame, into: out)
            }
        }
        #expect(count == Self.frame)
        let level = Self.rms(recovered[(Self.frame / 2)...])
        #expect(level > 0.15, "FEC rms \(level)")
        #expect(Self.toneShare(Array(recovered[(Self.frame / 2)...]), frequency: 1_000) > 0.5)
        // Then packet 11 itself decodes normally.
        #expect(try Self.decode(packets[11], with: decoder).count == Self.frame)
    }

    @Test func concealmentFillsALossWithoutData() throws {
        let encoder = try OpusFrameEncoder(channels: 1)
        let decoder = try OpusFrameDecoder(channels: 1)
        for packet in try Self.encodeAll(Self.tone(frequency: 1_000, frames: 10), with: encoder) {
            _ = try Self.decode(packet, with: decoder)
        }
        var pcm = [Float](repeating: 0, count: Self.frame)
        let count = try pcm.withUnsafeMutableBufferPointer { out in
            try decoder.conceal(frameSize: Self.frame, into: out)
        }
        #expect(count == Self.frame)
        #expect(Self.rms(pcm[..<(Self.frame / 4)]) > 0.05)  // continues the tone, fading
    }

    @Test func badArgumentsThrowInsteadOfCrashing() throws {
        #expect(throws: OpusError.self) { try OpusFrameEncoder(channels: 3) }
        #expect(throws: OpusError.self) { try OpusFrameDecoder(channels: 0) }
        let decoder = try OpusFrameDecoder()
        var small = [Float](repeating: 0, count: 100)
        #expect(throws: OpusError.self) {
            try small.withUnsafeMutableBufferPointer { out in try decoder.conceal(frameSize: 960, into: out) }
        }
        // A frame size Opus does not take (7 ms).
        let encoder = try OpusFrameEncoder()
        let odd = [Float](repeating: 0, count: 336)
        var packet = [UInt8](repeating: 0, count: 1_500)
        #expect(throws: OpusError.self) {
            try odd.withUnsafeBufferPointer { samples in
                try packet.withUnsafeMutableBytes { raw in try encoder.encode(samples, into: raw) }
            }
        }
    }
}
