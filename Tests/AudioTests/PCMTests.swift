import Testing

@testable import Audio

@Suite("L24/L16 ⇄ Float32")
struct PCMTests {
    func decode(_ encoding: PCMEncoding, _ bytes: [UInt8]) -> [Float] {
        var samples = [Float](repeating: .nan, count: bytes.count / encoding.bytesPerSample)
        let count = bytes.withUnsafeBytes { raw in
            samples.withUnsafeMutableBufferPointer { encoding.decode(raw, into: $0) }
        }
        #expect(count == samples.count)
        return samples
    }

    func encode(_ encoding: PCMEncoding, _ samples: [Float]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xEE, count: samples.count * encoding.bytesPerSample)
        let written = samples.withUnsafeBufferPointer { s in
            bytes.withUnsafeMutableBytes { encoding.encode(s, into: $0) }
        }
        #expect(written == bytes.count)
        return bytes
    }

    @Test func l24Vectors() {
        let bytes: [UInt8] = [0x7F, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0x40, 0x00, 0x00]
        #expect(decode(.l24, bytes) == [8_388_607.0 / 8_388_608.0, -1, 1.0 / 8_388_608.0, -1.0 / 8_388_608.0, 0.5])
        #expect(encode(.l24, decode(.l24, bytes)) == bytes)
    }

    @Test func l16Vectors() {
        let bytes: [UInt8] = [0x7F, 0xFF, 0x80, 0x00, 0x00, 0x01, 0xFF, 0xFF, 0xC0, 0x00]
        #expect(decode(.l16, bytes) == [32767.0 / 32768.0, -1, 1.0 / 32768.0, -1.0 / 32768.0, -0.5])
        #expect(encode(.l16, decode(.l16, bytes)) == bytes)
    }

    @Test func clippingRoundingAndNaN() {
        #expect(
            encode(.l24, [1.5, 1.0, -2.0, .nan, .infinity, -.infinity]) == [
                0x7F, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0x80, 0x00,
                0x00,
            ])
        #expect(encode(.l16, [0.4 / 32768, 0.6 / 32768, -0.6 / 32768]) == [0, 0, 0, 1, 0xFF, 0xFF])
    }

    @Test func l24IsLossless() {
        var values: [Int32] = []
        for value in stride(from: -8_388_608, through: 8_388_607, by: 4099) { values.append(Int32(value)) }
        values += [8_388_607, -8_388_608, 0, 1, -1]
        var bytes = [UInt8](repeating: 0, count: values.count * 3)
        _ = values.withUnsafeBufferPointer { v in bytes.withUnsafeMutableBytes { PCMEncoding.encodeL24(v, into: $0) } }
        let floats = decode(.l24, bytes)
        #expect(encode(.l24, floats) == bytes)
        var back = [Int32](repeating: 0, count: values.count)
        _ = bytes.withUnsafeBytes { raw in back.withUnsafeMutableBufferPointer { PCMEncoding.decodeL24(raw, into: $0) }
        }
        #expect(back == values)
        for (float, value) in zip(floats, values) { #expect(float == Float(value) / 8_388_608) }
    }

    @Test func shortBuffersAreBounded() {
        var samples = [Float](repeating: 0, count: 2)
        let count = [UInt8](repeating: 0x10, count: 10).withUnsafeBytes { raw in
            samples.withUnsafeMutableBufferPointer { PCMEncoding.l24.decode(raw, into: $0) }
        }
        #expect(count == 2)
        var bytes = [UInt8](repeating: 0, count: 5)
        let written = [Float](repeating: 0.1, count: 4).withUnsafeBufferPointer { s in
            bytes.withUnsafeMutableBytes { PCMEncoding.l16.encode(s, into: $0) }
        }
        #expect(written == 4)
    }

    @Test func channelLayouts() {
        let left: [Float] = [1, 2, 3]
        let right: [Float] = [-1, -2, -3]
        var stereo = [Float](repeating: 0, count: 6)
        let frames = left.withUnsafeBufferPointer { l in
            right.withUnsafeBufferPointer { r in
                stereo.withUnsafeMutableBufferPointer { ChannelLayout.interleave(left: l, right: r, into: $0) }
            }
        }
        #expect(frames == 3)
        #expect(stereo == [1, -1, 2, -2, 3, -3])
        var l2 = [Float](repeating: 0, count: 3)
        var r2 = [Float](repeating: 0, count: 3)
        _ = stereo.withUnsafeBufferPointer { s in
            l2.withUnsafeMutableBufferPointer { l in
                r2.withUnsafeMutableBufferPointer { ChannelLayout.deinterleave(s, left: l, right: $0) }
            }
        }
        #expect(l2 == left)
        #expect(r2 == right)
        var mono = [Float](repeating: 9, count: 3)
        _ = stereo.withUnsafeBufferPointer { s in
            mono.withUnsafeMutableBufferPointer { ChannelLayout.stereoToMono(s, into: $0) }
        }
        #expect(mono == [0, 0, 0])
        var up = [Float](repeating: 0, count: 6)
        _ = left.withUnsafeBufferPointer { m in
            up.withUnsafeMutableBufferPointer { ChannelLayout.monoToStereo(m, into: $0) }
        }
        #expect(up == [1, 1, 2, 2, 3, 3])
    }
}

@Suite("Packet time, packetizer and pacer")
struct PacketizerTests {
    @Test(arguments: [(0.125, 6), (0.25, 12), (0.333, 16), (1, 48), (4, 192), (5, 240), (20, 960)])
    func packetTimes(milliseconds: Double, frames: Int) {
        #expect(PacketTime(milliseconds: milliseconds)?.framesPerPacket == frames)
    }

    @Test(arguments: [0.1, 0.13, 21, 0, -1, Double.nan])
    func refusedPacketTimes(milliseconds: Double) {
        #expect(PacketTime(milliseconds: milliseconds) == nil)
    }

    @Test func packetizeL24StereoWithWraps() throws {
        var packetizer = PortPacketizer(
            encoding: .l24, channels: 2, packetTime: .default, payloadType: 98, ssrc: 1, initialSequenceNumber: 65535,
            initialTimestamp: UInt32.max - 47)
        #expect(packetizer.samplesPerPacket == 96)
        #expect(packetizer.payloadSize == 288)
        let samples = (0..<96).map { Float($0) / 128 }
        var payload = [UInt8](repeating: 0, count: 288)
        func next() -> PortPacketizer.PacketFields? {
            samples.withUnsafeBufferPointer { s in payload.withUnsafeMutableBytes { packetizer.packetize(s, into: $0) }
            }
        }
        let first = try #require(next())
        #expect(
            first
                == PortPacketizer.PacketFields(
                    sequenceNumber: 65535, timestamp: UInt32.max - 47, marker: true, payloadSize: 288))
        #expect(Array(payload[0..<3]) == [0x00, 0x00, 0x00])
        #expect(Array(payload[3..<6]) == [0x01, 0x00, 0x00])  // Right channel of frame 0: 2^-7 → 0x010000.
        #expect(Array(payload[6..<9]) == [0x02, 0x00, 0x00])
        let second = try #require(next())
        #expect(second.sequenceNumber == 0)
        #expect(second.timestamp == 0)
        #expect(!second.marker)
        packetizer.skip(packets: 3)
        let third = try #require(next())
        #expect(third.sequenceNumber == 1)
        #expect(third.timestamp == 48 + 3 * 48)
        #expect(third.marker)
        // Short input or output: nothing, and no advance.
        let short = samples.prefix(10).withUnsafeBufferPointer { s in
            payload.withUnsafeMutableBytes { packetizer.packetize(s, into: $0) }
        }
        #expect(short == nil)
        #expect(packetizer.sequenceNumber == 2)
    }

    @Test func pacerKeepsASteadyClock() {
        let start: UInt64 = 5_000_000_000
        var pacer = PacketPacer(packetTime: .default, start: start)
        #expect(pacer.due(at: start - 1) == (0, 0))
        #expect(pacer.due(at: start) == (1, 0))
        #expect(pacer.nextDeadline == start + 1_000_000)
        #expect(pacer.due(at: start + 999_999) == (0, 0))
        #expect(pacer.due(at: start + 1_000_050) == (1, 0))
        #expect(pacer.due(at: start + 3_500_000) == (2, 0))
        // A stall of 100 ms releases at most a burst of 8 and skips the rest.
        #expect(pacer.due(at: start + 103_000_000) == (8, 92))
        #expect(pacer.skippedPackets == 92)
        #expect(pacer.nextDeadline == start + 104_000_000)
    }

    @Test func thirdOfAMillisecondDoesNotDrift() throws {
        let packetTime = try #require(PacketTime(framesPerPacket: 16))
        #expect(packetTime.offsetNanoseconds(ofPacket: 3) == 1_000_000)
        #expect(packetTime.offsetNanoseconds(ofPacket: 3_000_000) == 1_000_000_000_000)
        var pacer = PacketPacer(packetTime: packetTime, start: 0, maximumBurst: 10_000)
        var sent = 0
        var now: UInt64 = 0
        while now < 1_000_000_000 {
            sent += pacer.due(at: now).send
            now += 250_000
        }
        #expect(sent == 3000)
    }
}

@Suite("Opus packet durations (RFC 6716 §3.1)")
struct OpusPacketTests {
    func duration(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { OpusPacket.duration($0) } }

    @Test func typicalPackets() {
        // Config 31 (CELT FB 20 ms), mono, one frame — what many encoders send.
        #expect(duration([31 << 3, 0xAA]) == 960)
        // Config 15 (Hybrid FB 20 ms), what libopus in VoIP mode at speech rates sends.
        #expect(duration([15 << 3]) == 960)
        // Config 1 (SILK NB 20 ms), two frames, code 1.
        #expect(duration([1 << 3 | 1]) == 1920)
        // Config 19 (CELT NB 20 ms) code 3 with 3 frames: 60 ms.
        #expect(duration([19 << 3 | 3, 3]) == 2880)
        // 2.5 ms CELT frames.
        #expect(duration([16 << 3]) == 120)
        #expect([UInt8]([31 << 3 | 4]).withUnsafeBytes { OpusPacket.isStereo($0) } == true)
    }

    @Test func malformed() {
        #expect(duration([]) == nil)
        #expect(duration([19 << 3 | 3]) == nil)  // code 3 without the count byte
        #expect(duration([19 << 3 | 3, 0]) == nil)  // zero frames
        #expect(duration([3 << 3 | 3, 3]) == nil)  // 3 × 60 ms > 120 ms
        #expect(duration([3 << 3 | 3, 2]) == 5760)
    }
}
