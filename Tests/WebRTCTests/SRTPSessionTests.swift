import Testing

@testable import WebRTC

/// libsrtp2 sessions protect in one direction and unprotect in the other, in place.
struct SRTPSessionTests {
    static func keying(_ profile: SRTPProfile) -> SRTPKeyingMaterial {
        SRTPKeyingMaterial(
            profile: profile, clientKey: (0..<16).map { UInt8($0) },
            clientSalt: (0..<profile.saltLength).map { UInt8(0x40 + $0) }, serverKey: (0..<16).map { UInt8(0x80 + $0) },
            serverSalt: (0..<profile.saltLength).map { UInt8(0xC0 + $0) })
    }

    /// An RTP packet: version 2, PT 111, the sequence number, timestamp, SSRC, then a payload.
    static func rtpPacket(sequence: UInt16, payload: [UInt8] = Array(repeating: 0x5A, count: 60)) -> [UInt8] {
        [0x80, 111, UInt8(sequence >> 8), UInt8(sequence & 0xFF), 0, 0, 0x03, 0xC0, 0x12, 0x34, 0x56, 0x78] + payload
    }

    /// A receiver report with no report blocks (RFC 3550 §6.4.2).
    static let rtcpPacket: [UInt8] = [0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78]

    /// Protects `packet` with `sender`, returns the wire bytes.
    static func protect(_ packet: [UInt8], with sender: SRTPSession, rtcp: Bool = false) throws -> [UInt8] {
        var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.trailerCapacity)
        let length = try buffer.withUnsafeMutableBytes { raw in
            rtcp ? try sender.protectRTCP(raw, length: packet.count) : try sender.protectRTP(raw, length: packet.count)
        }
        return Array(buffer.prefix(length))
    }

    static func unprotect(_ wire: [UInt8], with receiver: SRTPSession, rtcp: Bool = false) throws -> [UInt8] {
        var buffer = wire
        let length = try buffer.withUnsafeMutableBytes { raw in
            rtcp
                ? try receiver.unprotectRTCP(raw, length: wire.count)
                : try receiver.unprotectRTP(raw, length: wire.count)
        }
        return Array(buffer.prefix(length))
    }

    @Test(arguments: SRTPProfile.allCases)
    func protectedRTPUnprotectsAtThePeer(profile: SRTPProfile) throws {
        let client = try SRTPSession(keying: Self.keying(profile), role: .client)
        let server = try SRTPSession(keying: Self.keying(profile), role: .server)
        for sequence in UInt16(1)...5 {
            let packet = Self.rtpPacket(sequence: sequence)
            let wire = try Self.protect(packet, with: client)
            #expect(wire.count == packet.count + (profile == .aeadAES128GCM ? 16 : 10))
            #expect(Array(wire[12...]) != Array(packet[12...]))  // the payload is encrypted
            #expect(Array(wire[0..<12]) == Array(packet[0..<12]))  // the header is not
            #expect(try Self.unprotect(wire, with: server) == packet)
        }
        // And the other way.
        let back = Self.rtpPacket(sequence: 900)
        #expect(try Self.unprotect(Self.protect(back, with: server), with: client) == back)
    }

    @Test(arguments: SRTPProfile.allCases)
    func tamperedPacketIsRejected(profile: SRTPProfile) throws {
        let client = try SRTPSession(keying: Self.keying(profile), role: .client)
        let server = try SRTPSession(keying: Self.keying(profile), role: .server)
        var wire = try Self.protect(Self.rtpPacket(sequence: 7), with: client)
        wire[20] ^= 0x01
        #expect(throws: SRTPError.authenticationFailed) { try Self.unprotect(wire, with: server) }
    }

    @Test func replayIsRejected() throws {
        let client = try SRTPSession(keying: Self.keying(.aes128CMHMACSHA1_80), role: .client)
        let server = try SRTPSession(keying: Self.keying(.aes128CMHMACSHA1_80), role: .server)
        let wire = try Self.protect(Self.rtpPacket(sequence: 10), with: client)
        _ = try Self.unprotect(wire, with: server)
        #expect(throws: SRTPError.replay) { try Self.unprotect(wire, with: server) }
    }

    @Test func wrongKeysFailAuthentication() throws {
        let client = try SRTPSession(keying: Self.keying(.aes128CMHMACSHA1_80), role: .client)
        // A receiver that uses the client's own key for reception: the wrong half.
        let confused = try SRTPSession(keying: Self.keying(.aes128CMHMACSHA1_80), role: .client)
        let wire = try Self.protect(Self.rtpPacket(sequence: 1), with: client)
        #expect(throws: SRTPError.authenticationFailed) { try Self.unprotect(wire, with: confused) }
    }

    @Test(arguments: SRTPProfile.allCases)
    func srtcpRoundTripsAndRejectsTampering(profile: SRTPProfile) throws {
        let client = try SRTPSession(keying: Self.keying(profile), role: .client)
        let server = try SRTPSession(keying: Self.keying(profile), role: .server)
        let wire = try Self.protect(Self.rtcpPacket, with: server, rtcp: true)
        #expect(wire.count > Self.rtcpPacket.count)
        #expect(try Self.unprotect(wire, with: client, rtcp: true) == Self.rtcpPacket)
        var tampered = try Self.protect(Self.rtcpPacket, with: server, rtcp: true)
        tampered[5] ^= 0x80
        #expect(throws: SRTPError.authenticationFailed) { try Self.unprotect(tampered, with: client, rtcp: true) }
    }

    @Test func bufferWithoutRoomForTheTagIsRefused() throws {
        let client = try SRTPSession(keying: Self.keying(.aes128CMHMACSHA1_80), role: .client)
        var packet = Self.rtpPacket(sequence: 1)
        let count = packet.count
        #expect(throws: SRTPError.bufferTooSmall) {
            try packet.withUnsafeMutableBytes { raw in try client.protectRTP(raw, length: count) }
        }
    }

    @Test func wrongKeyLengthIsRefused() {
        #expect(throws: SRTPError.badKey) {
            try SRTPSession(
                profile: .aeadAES128GCM, sendingKey: [1, 2, 3], sendingSalt: [], receivingKey: [], receivingSalt: [])
        }
    }

    @Test func keysExportedByDTLSProtectEndToEnd() throws {
        let (client, server) = try DTLSConnectionTests.connectedPair()
        let clientSRTP = try SRTPSession(keying: try #require(client.keyingMaterial), role: client.role)
        let serverSRTP = try SRTPSession(keying: try #require(server.keyingMaterial), role: server.role)
        let packet = Self.rtpPacket(sequence: 4242)
        #expect(try Self.unprotect(Self.protect(packet, with: clientSRTP), with: serverSRTP) == packet)
        #expect(try Self.unprotect(Self.protect(packet, with: serverSRTP), with: clientSRTP) == packet)
    }
}
