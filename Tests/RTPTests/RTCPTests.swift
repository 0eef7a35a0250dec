import Testing

@testable import RTP

@Suite("RTCP compound packets")
struct RTCPTests {
    static let report = ReceptionReport(
        ssrc: 0xAABB_CCDD, fractionLost: 25, cumulativeLost: -3, extendedHighestSequence: 0x0001_0010, jitter: 77,
        lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 65536)

    @Test func senderReportSDESByeRoundTrip() throws {
        let packets: [RTCPPacket] = [
            .senderReport(
                SenderReport(
                    ssrc: 0x0102_0304, ntpTimestamp: 0xE8D4_A510_8000_0000, rtpTimestamp: 48000, packetCount: 1000,
                    octetCount: 160_000, reports: [Self.report])),
            .sourceDescription([
                SourceDescriptionChunk(
                    ssrc: 0x0102_0304,
                    items: [
                        SourceDescriptionItem(type: SourceDescriptionItem.cname, text: "stagedoor@bridge"),
                        SourceDescriptionItem(type: SourceDescriptionItem.tool, text: "Stagedoor"),
                    ]),
                SourceDescriptionChunk(
                    ssrc: 9, items: [SourceDescriptionItem(type: SourceDescriptionItem.cname, text: "abc")]),
            ]),
            .goodbye(Goodbye(ssrcs: [0x0102_0304], reason: "panel closed")),
        ]
        let bytes = try RTCPCompoundPacket.serialize(packets)
        #expect(bytes.count % 4 == 0)
        #expect(bytes[0] == 0x81)  // V=2, RC=1
        #expect(bytes[1] == 200)
        #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == (28 + 24) / 4 - 1)
        let parsed = try RTCPCompoundPacket.parse(bytes)
        #expect(parsed == packets)
        guard case .sourceDescription(let chunks) = parsed[1] else {
            Issue.record("no SDES")
            return
        }
        #expect(chunks[0].cname == "stagedoor@bridge")
    }

    @Test func receiverReportBytes() throws {
        let packet = RTCPPacket.receiverReport(ReceiverReport(ssrc: 1, reports: [Self.report]))
        let bytes = try RTCPCompoundPacket.serialize([packet])
        #expect(
            bytes == [
                0x81, 201, 0, 7, 0, 0, 0, 1,
                0xAA, 0xBB, 0xCC, 0xDD, 25, 0xFF, 0xFF, 0xFD, 0, 1, 0, 0x10, 0, 0, 0, 77,
                0x12, 0x34, 0x56, 0x78, 0, 1, 0, 0,
            ])
        #expect(try RTCPCompoundPacket.parse(bytes) == [packet])
    }

    @Test func emptyReceiverReportAndOtherTypes() throws {
        let nack = RTCPPacket.other(packetType: 205, count: 1, body: [0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x05, 0x00, 0x00])
        let packets: [RTCPPacket] = [.receiverReport(ReceiverReport(ssrc: 5)), nack]
        let bytes = try RTCPCompoundPacket.serialize(packets)
        #expect(bytes.count == 8 + 16)
        #expect(try RTCPCompoundPacket.parse(bytes) == packets)
        // Reduced-size RTCP (RFC 5506): a lone NACK.
        let lone = try RTCPCompoundPacket.serialize([nack])
        #expect(throws: RTCPParseError.firstPacketNotReport) { try RTCPCompoundPacket.parse(lone) }
        #expect(try RTCPCompoundPacket.parse(lone, requireReportFirst: false) == [nack])
    }

    @Test func paddedLastPacket() throws {
        var bytes = try RTCPCompoundPacket.serialize([.receiverReport(ReceiverReport(ssrc: 5))])
        bytes += [0, 0, 0, 4]
        bytes[0] |= 0x20
        bytes[3] = 2
        #expect(try RTCPCompoundPacket.parse(bytes) == [.receiverReport(ReceiverReport(ssrc: 5))])
    }

    @Test func refusals() throws {
        let rr = try RTCPCompoundPacket.serialize([.receiverReport(ReceiverReport(ssrc: 5))])
        #expect(throws: RTCPParseError.truncated) { try RTCPCompoundPacket.parse([UInt8]()) }
        #expect(throws: RTCPParseError.truncated) { try RTCPCompoundPacket.parse(Array(rr.dropLast())) }
        var badVersion = rr
        badVersion[0] = 0x40
        #expect(throws: RTCPParseError.unsupportedVersion(1)) { try RTCPCompoundPacket.parse(badVersion) }
        var paddedFirst = rr + rr
        paddedFirst[0] |= 0x20
        #expect(throws: RTCPParseError.invalidPadding) { try RTCPCompoundPacket.parse(paddedFirst) }
        var tooManyReports = rr
        tooManyReports[0] = 0x81
        #expect(throws: RTCPParseError.malformed(packetType: 201)) { try RTCPCompoundPacket.parse(tooManyReports) }
        // An SDES chunk without its null terminator.
        let sdes: [UInt8] = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, 0x61, 0x62]
        #expect(throws: RTCPParseError.malformed(packetType: 202)) {
            try RTCPCompoundPacket.parse(rr + sdes)
        }
    }

    @Test func encodingRefusals() {
        let tooMany = RTCPPacket.receiverReport(
            ReceiverReport(ssrc: 1, reports: Array(repeating: Self.report, count: 32)))
        #expect(throws: RTCPEncodingError.invalidPacket) { try RTCPCompoundPacket.serialize([tooMany]) }
        var small = [UInt8](repeating: 0, count: 10)
        #expect(throws: RTCPEncodingError.bufferTooSmall) {
            try small.withUnsafeMutableBytes { raw in
                try RTCPCompoundPacket.write(
                    [.receiverReport(ReceiverReport(ssrc: 1, reports: [Self.report]))], into: raw)
            }
        }
    }

    @Test func ntpConversions() {
        // 1970-01-01T00:00:01.5Z.
        let ntp = NTPTimestamp.fromUnix(nanoseconds: 1_500_000_000)
        #expect(ntp >> 32 == NTPTimestamp.unixEpochOffset + 1)
        #expect(UInt32(truncatingIfNeeded: ntp) == 0x8000_0000)
        #expect(
            NTPTimestamp.shortFormat(ntp) == UInt32(truncatingIfNeeded: (NTPTimestamp.unixEpochOffset + 1) << 16)
                | 0x8000)
        #expect(NTPTimestamp.shortDuration(nanoseconds: 250_000_000) == 16384)
        let block = ReceptionReport(ssrc: 1, lastSenderReport: 0x0001_0000, delaySinceLastSenderReport: 0x0000_8000)
        #expect(NTPTimestamp.roundTrip(block, arrival: 0x0001_C000) == 0x4000)  // 0.25 s
        #expect(NTPTimestamp.roundTrip(ReceptionReport(ssrc: 1), arrival: 5) == nil)
    }
}

@Suite("rtcp-mux demultiplexing (RFC 7983, RFC 5761)")
struct DemultiplexingTests {
    @Test func firstByteRanges() {
        for byte in 0...255 {
            let kind = MultiplexedPacketKind.classify(firstByte: UInt8(byte), secondByte: 111)
            let expected: MultiplexedPacketKind =
                switch byte {
                case 0...3: .stun
                case 16...19: .zrtp
                case 20...63: .dtls
                case 64...79: .turnChannel
                case 128...191: .rtp
                default: .unknown
                }
            #expect(kind == expected, "first byte \(byte)")
        }
    }

    @Test func rtcpByPacketType() {
        for second in 0...255 {
            let kind = MultiplexedPacketKind.classify(firstByte: 0x80, secondByte: UInt8(second))
            #expect(kind == ((192...223).contains(second) ? .rtcp : .rtp), "second byte \(second)")
        }
        // Opus with the marker bit (PT 111 | 0x80 = 239) stays RTP; SR (200) is RTCP.
        #expect(MultiplexedPacketKind.classify(firstByte: 0x80, secondByte: 0xEF) == .rtp)
        #expect(MultiplexedPacketKind.classify(firstByte: 0x81, secondByte: 200) == .rtcp)
    }

    @Test func datagrams() {
        func classify(_ bytes: [UInt8]) -> MultiplexedPacketKind {
            bytes.withUnsafeBytes { MultiplexedPacketKind.classify($0) }
        }
        #expect(classify([]) == .unknown)
        #expect(classify([0x80]) == .unknown)
        #expect(classify([0x00]) == .stun)
        #expect(classify([22, 0xFE, 0xFD]) == .dtls)  // DTLS 1.2 handshake record
        #expect(classify([0x00, 0x01, 0x00, 0x00]) == .stun)  // Binding request
        #expect(classify([0x80, 0x6F]) == .rtp)
        #expect(classify([0x80, 0xC9]) == .rtcp)
    }
}
