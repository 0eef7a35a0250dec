import Testing

@testable import Audio

@Suite("A port's receive path end to end")
struct PortPathTests {
    /// Packetize a ramp as 1 ms stereo L24, deliver the packets reordered with one lost, and play
    /// them out of the jitter buffer back into floats: every sample that was not lost comes back
    /// bit-exact and in order, and the lost packet is reported for concealment.
    @Test func packetizeReorderPlayOut() throws {
        var packetizer = PortPacketizer(
            encoding: .l24, channels: 2, payloadType: 98, ssrc: 9, initialSequenceNumber: 65530, initialTimestamp: 1000)
        let buffer = JitterBuffer(
            configuration: .pcm(framesPerPacket: 48, channels: 2, minimumDepth: 192, maximumDepth: 960))
        let samplesPerPacket = packetizer.samplesPerPacket
        var source = [Float](repeating: 0, count: samplesPerPacket)
        var payload = [UInt8](repeating: 0, count: packetizer.payloadSize)
        var packets: [(UInt16, UInt32, [UInt8])] = []
        for packet in 0..<12 {
            for index in 0..<samplesPerPacket { source[index] = Float(packet * samplesPerPacket + index) / 8_388_608 }
            let fields = try #require(
                source.withUnsafeBufferPointer { s in
                    payload.withUnsafeMutableBytes { packetizer.packetize(s, into: $0) }
                })
            packets.append((fields.sequenceNumber, fields.timestamp, payload))
        }
        // Deliver 0, 2, 1, 3, 5, 4, … and lose packet 7.
        var order = Array(0..<12)
        for pair in stride(from: 1, to: 11, by: 2) { order.swapAt(pair, pair + 1) }
        for index in order where index != 7 {
            let (sequence, timestamp, bytes) = packets[index]
            _ = bytes.withUnsafeBytes {
                buffer.insert(sequenceNumber: sequence, timestamp: timestamp, payload: $0, arrival: timestamp)
            }
        }
        var output = [UInt8](repeating: 0, count: 1500)
        var samples = [Float](repeating: 0, count: samplesPerPacket)
        var played: [Int] = []
        var concealed: [UInt16] = []
        for _ in 0..<12 {
            switch output.withUnsafeMutableBytes({ buffer.nextPlayout(into: $0) }) {
            case .packet(let sequence, let timestamp, let length):
                #expect(length == packetizer.payloadSize)
                let packet = Int(sequence &- 65530)
                #expect(timestamp == 1000 + UInt32(packet * 48))
                let count = output.withUnsafeBytes { raw in
                    samples.withUnsafeMutableBufferPointer {
                        PCMEncoding.l24.decode(UnsafeRawBufferPointer(rebasing: raw[0..<length]), into: $0)
                    }
                }
                #expect(count == samplesPerPacket)
                #expect(
                    samples.enumerated().allSatisfy {
                        $0.element * 8_388_608 == Float(packet * samplesPerPacket + $0.offset)
                    })
                played.append(packet)
            case .conceal(let sequence, _, let fecAvailable):
                concealed.append(sequence)
                #expect(fecAvailable)
            case .silence:
                break
            }
        }
        #expect(played == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11])
        #expect(concealed == [65530 &+ 7])
    }
}
