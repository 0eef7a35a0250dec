import Testing

@testable import RTP

@Suite("RTP header codec")
struct RTPHeaderTests {
    func parse(_ bytes: [UInt8]) throws(RTPParseError) -> RTPPacketView {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(RTPParseError) -> RTPPacketView in try RTPPacketView(parsing: raw) }
        }
        return try result.get()
    }

    @Test func minimalPacket() throws {
        // V=2, M=1, PT=111, seq=0x1234, ts=0xDEADBEEF, ssrc=0x01020304, payload 3 bytes.
        let bytes: [UInt8] = [0x80, 0xEF, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB, 0xCC]
        let packet = try parse(bytes)
        #expect(
            packet.header
                == RTPHeader(
                    marker: true, payloadType: 111, sequenceNumber: 0x1234, timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304))
        #expect(packet.csrcCount == 0)
        #expect(packet.extensionProfile == nil)
        #expect(packet.payloadRange == 12..<15)
        #expect(packet.paddingLength == 0)
    }

    @Test func writeThenParse() throws {
        var buffer = [UInt8](repeating: 0xFF, count: 64)
        let header = RTPHeader(marker: false, payloadType: 98, sequenceNumber: 65535, timestamp: 48, ssrc: 0xCAFE_BABE)
        let written = buffer.withUnsafeMutableBytes { header.write(into: $0) }
        #expect(written == 12)
        #expect(Array(buffer[0..<12]) == [0x80, 98, 0xFF, 0xFF, 0, 0, 0, 48, 0xCA, 0xFE, 0xBA, 0xBE])
        let packet = try parse(Array(buffer[0..<20]))
        #expect(packet.header == header)
        #expect(packet.payloadRange == 12..<20)
        #expect(
            buffer.withUnsafeMutableBytes { header.write(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<11])) }
                == 0)
    }

    @Test func csrcExtensionAndPadding() throws {
        var buffer = [UInt8](repeating: 0, count: 128)
        let header = RTPHeader(marker: true, payloadType: 96, sequenceNumber: 7, timestamp: 960, ssrc: 42)
        let csrcs: [UInt32] = [0x1111_1111, 0x2222_2222]
        // RFC 8285 one-byte elements: id 1 (audio level, 1 byte) and id 4 (mid "0"), padded to 4.
        let extensionData: [UInt8] = [0x10, 0x85, 0x40, 0x30]
        var length = buffer.withUnsafeMutableBytes { raw in
            csrcs.withUnsafeBufferPointer { c in
                extensionData.withUnsafeBytes { e in
                    header.write(into: raw, csrcs: c, extensionProfile: 0xBEDE, extensionData: e)
                }
            }
        }
        #expect(length == 12 + 8 + 4 + 4)
        for byte in [UInt8](arrayLiteral: 9, 8, 7) {
            buffer[length] = byte
            length += 1
        }
        length = try #require(buffer.withUnsafeMutableBytes { RTPHeader.addPadding(3, toPacketOf: length, in: $0) })
        let bytes = Array(buffer[0..<length])
        #expect(bytes[0] == 0xB2)  // V=2, P, X, CC=2
        let packet = try parse(bytes)
        #expect(packet.header == header)
        #expect(packet.csrcCount == 2)
        bytes.withUnsafeBytes { raw in
            #expect(packet.csrc(0, in: raw) == 0x1111_1111)
            #expect(packet.csrc(1, in: raw) == 0x2222_2222)
            var elements: [(UInt8, [UInt8])] = []
            for element in packet.extensionElements(in: raw) {
                let base = packet.extensionRange.lowerBound
                elements.append(
                    (element.id, Array(raw[(base + element.range.lowerBound)..<(base + element.range.upperBound)])))
            }
            #expect(elements.count == 2)
            #expect(elements.first?.0 == 1)
            #expect(elements.first?.1 == [0x85])
            #expect(elements.last?.0 == 4)
            #expect(elements.last?.1 == [0x30])
        }
        #expect(packet.extensionProfile == 0xBEDE)
        #expect(packet.paddingLength == 3)
        #expect(Array(bytes[packet.payloadRange]) == [9, 8, 7])
    }

    @Test func twoByteExtensionElements() {
        let data: [UInt8] = [0x05, 0x02, 0xAA, 0xBB, 0x00, 0x07, 0x00, 0x00]
        data.withUnsafeBytes { raw in
            var iterator = RTPHeaderExtensionElements(profile: 0x1000, data: raw)
            let first = iterator.next()
            #expect(first?.id == 5)
            #expect(first?.range == 2..<4)
            let second = iterator.next()
            #expect(second?.id == 7)
            #expect(second?.range == 7..<7)
            #expect(iterator.next() == nil)
            var other = RTPHeaderExtensionElements(profile: 0x1234, data: raw)
            #expect(other.next() == nil)
        }
    }

    @Test(arguments: [
        ([UInt8](), RTPParseError.truncated),
        ([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .truncated),
        ([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .unsupportedVersion(1)),
        ([0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .truncated),  // CC=1 without the CSRC
        ([0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 1], .truncated),  // extension longer than packet
        ([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .invalidPadding),  // padding count 0
        ([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5], .invalidPadding),  // padding into the header
    ])
    func refused(bytes: [UInt8], error: RTPParseError) {
        #expect(throws: error) { try parse(bytes) }
    }

    @Test func wideAndExhaustiveParsingNeverTraps() {
        // Every 13-byte packet whose first two bytes vary and whose last byte is a padding count.
        var bytes = [UInt8](repeating: 0, count: 16)
        for first in 0...255 {
            for last in [0, 1, 3, 4, 255] as [UInt8] {
                bytes[0] = UInt8(first)
                bytes[15] = last
                _ = try? parse(bytes)
            }
        }
    }
}
