import Foundation
import RTP
import SDP
import STUN
import Testing

@testable import WebRTC

/// A whole leg against a simulated browser panel made of the same primitives: ICE check with
/// USE-CANDIDATE, DTLS handshake as the client, SRTP with the exported keys, Opus both ways.
struct WebRTCLegTests {
    final class Panel {
        let address = TransportAddress(ipv4: (192, 0, 2, 7), port: 61_000)
        let certificate: DTLSCertificate
        let dtls: DTLSConnection
        var srtp: SRTPSession?
        let encoder: OpusFrameEncoder
        let decoder: OpusFrameDecoder
        var sequence: UInt16 = 100
        var timestamp: UInt32 = 0
        var inbox: [[UInt8]] = []

        init(bridgeFingerprint: Fingerprint) throws {
            certificate = try DTLSCertificate()
            dtls = try DTLSConnection(role: .client, certificate: certificate, remoteFingerprints: [bridgeFingerprint])
            encoder = try OpusFrameEncoder(channels: 1, expectedLossPercent: 20)
            decoder = try OpusFrameDecoder(channels: 1)
        }

        func check(useCandidate: Bool) -> [UInt8] {
            var attributes: [STUNAttribute] = [.username("brdg:pnl1"), .priority(100), .iceControlling(7)]
            if useCandidate { attributes.append(.useCandidate) }
            return STUNMessage(type: .bindingRequest, transactionID: .random(), attributes: attributes)
                .encode(integrity: .shortTerm(password: "bridge-password-0123456789"), fingerprint: true)
        }

        /// One SRTP packet of 20 ms of a tone.
        func audioPacket(frame: Int, frequency: Double) throws -> [UInt8] {
            let pcm = (0..<960).map { i in
                Float(0.5 * sin(2 * Double.pi * frequency * Double(frame * 960 + i) / 48_000))
            }
            var buffer = [UInt8](repeating: 0, count: 1_500)
            buffer[0] = 0x80
            buffer[1] = 111
            buffer[2] = UInt8(sequence >> 8)
            buffer[3] = UInt8(sequence & 0xFF)
            for (i, byte) in withUnsafeBytes(of: timestamp.bigEndian, Array.init).enumerated() { buffer[4 + i] = byte }
            buffer[8] = 0xAA
            let payload = try pcm.withUnsafeBufferPointer { samples in
                try buffer.withUnsafeMutableBytes { raw in
                    try encoder.encode(samples, into: UnsafeMutableRawBufferPointer(rebasing: raw[12..<1_200]))
                }
            }
            let length = try buffer.withUnsafeMutableBytes { raw in try srtp!.protectRTP(raw, length: 12 + payload) }
            sequence &+= 1
            timestamp &+= 960
            return Array(buffer.prefix(length))
        }
    }

    let bridgeCertificate: DTLSCertificate
    let panel: Panel
    let leg: WebRTCLeg
    var transmitted: [(bytes: [UInt8], to: TransportAddress)] = []

    init() throws {
        bridgeCertificate = try DTLSCertificate()
        panel = try Panel(bridgeFingerprint: bridgeCertificate.fingerprint)
        leg = try WebRTCLeg(
            parameters: .init(
                localUsernameFragment: "brdg", localPassword: "bridge-password-0123456789",
                remoteUsernameFragment: "pnl1", remoteFingerprints: [panel.certificate.fingerprint], role: .server,
                payloadType: 111, ssrc: 0x0102_0304),
            certificate: bridgeCertificate, now: 0)
    }

    /// Feeds one datagram into the leg; returns what it sent and the audio it produced.
    func feed(_ bytes: [UInt8], from source: TransportAddress? = nil, now: UInt64 = 1) -> (
        sent: [(bytes: [UInt8], to: TransportAddress)], audio: [[Float]]
    ) {
        var sent: [(bytes: [UInt8], to: TransportAddress)] = []
        var audio: [[Float]] = []
        var buffer = bytes + [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { raw in
            leg.receive(
                raw, length: bytes.count, from: source ?? panel.address, now: now,
                transmit: { sent.append((Array($0), $1)) }, audio: { audio.append(Array($0)) })
        }
        return (sent, audio)
    }

    /// ICE then DTLS, as a browser does it.
    func connect() throws {
        let response = feed(panel.check(useCandidate: true))
        #expect(response.sent.count == 1 && response.sent.first?.to == panel.address)
        panel.dtls.start()
        for _ in 0..<10 {
            let flights = panel.dtls.takeDatagrams()
            if flights.isEmpty { break }
            for datagram in flights {
                for reply in feed(datagram).sent {
                    #expect(reply.to == panel.address)
                    panel.dtls.receive(reply.bytes)
                }
            }
        }
        #expect(panel.dtls.state == .connected)
        panel.srtp = try SRTPSession(keying: try #require(panel.dtls.keyingMaterial), role: .client)
    }

    @Test func aToneFromThePanelComesOutDecodedAndOneLostPacketIsRecoveredByFEC() throws {
        try connect()
        #expect(leg.state(now: 1) == .connected)
        var decoded: [Float] = []
        for frame in 0..<25 {
            let packet = try panel.audioPacket(frame: frame, frequency: 1_000)
            if frame == 15 { continue }  // lost on the way
            decoded += feed(packet).audio.flatMap { $0 }
        }
        #expect(leg.counters.packetsReceived == 24)
        #expect(leg.counters.recoveredByFEC == 1)
        #expect(decoded.count == 25 * 960)  // the lost frame is filled in
        let tail = Array(decoded.suffix(960 * 12))
        #expect(OpusCodecTests.toneShare(tail, frequency: 1_000) > 0.8)
    }

    @Test func audioFromTheBridgeReachesThePanel() throws {
        try connect()
        var buffer = [UInt8](repeating: 0, count: 1_500)
        var heard: [Float] = []
        for frame in 0..<15 {
            let pcm = (0..<960).map { i in Float(0.5 * sin(2 * Double.pi * 440 * Double(frame * 960 + i) / 48_000)) }
            let sent = pcm.withUnsafeBufferPointer { samples in
                buffer.withUnsafeMutableBytes { raw in leg.sendAudio(samples, into: raw, now: 2) }
            }
            let (length, destination) = try #require(sent)
            #expect(destination == panel.address)
            var wire = Array(buffer.prefix(length))
            let rtpLength = try wire.withUnsafeMutableBytes { raw in try panel.srtp!.unprotectRTP(raw, length: length) }
            #expect(wire[1] & 0x7F == 111)
            heard += try OpusCodecTests.decode(Array(wire[12..<rtpLength]), with: panel.decoder)
        }
        #expect(OpusCodecTests.toneShare(Array(heard.suffix(960 * 8)), frequency: 440) > 0.8)
        #expect(leg.counters.packetsSent == 15)
    }

    @Test func mediaFromAnotherSourceIsDroppedAndNothingIsSentBeforeConsent() throws {
        var buffer = [UInt8](repeating: 0, count: 1_500)
        let silence = [Float](repeating: 0, count: 960)
        // Before ICE and DTLS: nothing may be sent.
        #expect(
            silence.withUnsafeBufferPointer { s in buffer.withUnsafeMutableBytes { leg.sendAudio(s, into: $0, now: 1) }
            } == nil)
        try connect()
        let packet = try panel.audioPacket(frame: 0, frequency: 1_000)
        let intruder = TransportAddress(ipv4: (198, 51, 100, 1), port: 61_000)
        #expect(feed(packet, from: intruder).audio.isEmpty)
        #expect(leg.counters.droppedForeignSource == 1)
        // Consent lapses 30 s after the last check: sending stops and the leg reports failure.
        let late: UInt64 = 31_000_000_000
        #expect(
            silence.withUnsafeBufferPointer { s in
                buffer.withUnsafeMutableBytes { leg.sendAudio(s, into: $0, now: late) }
            } == nil)
        #expect(leg.state(now: late) == .failed("ICE: consent expired"))
        #expect(leg.nextDeadline(now: 2) == 1 + 30_000_000_000)
    }

    @Test func rtcpReportsWhatWasSentAndReceived() throws {
        var buffer = [UInt8](repeating: 0, count: 1_500)
        // Before the leg is up there is nothing to report to.
        #expect(buffer.withUnsafeMutableBytes { leg.rtcpReport(into: $0, now: 1, wallClock: 0, cname: "x") } == nil)
        try connect()
        for frame in 0..<10 {
            let packet = try panel.audioPacket(frame: frame, frequency: 1_000)
            if frame == 4 { continue }  // lost
            _ = feed(packet, now: UInt64(frame) * 20_000_000)
        }
        let silence = [Float](repeating: 0, count: 960)
        for _ in 0..<3 {
            _ = silence.withUnsafeBufferPointer { s in
                buffer.withUnsafeMutableBytes { leg.sendAudio(s, into: $0, now: 2) }
            }
        }
        let wallClock: UInt64 = 1_700_000_000 * 1_000_000_000
        let (length, destination) = try #require(
            buffer.withUnsafeMutableBytes { leg.rtcpReport(into: $0, now: 3, wallClock: wallClock, cname: "bridge") })
        #expect(destination == panel.address)
        let plain = try buffer.withUnsafeMutableBytes { raw in try panel.srtp!.unprotectRTCP(raw, length: length) }
        let packets = try RTCPCompoundPacket.parse(Array(buffer.prefix(plain)))
        guard case .senderReport(let report) = packets.first else {
            Issue.record("expected an SR first, got \(packets)")
            return
        }
        #expect(report.ssrc == 0x0102_0304)
        #expect(report.packetCount == 3)
        #expect(report.ntpTimestamp == NTPTimestamp.fromUnix(nanoseconds: wallClock))
        let block = try #require(report.reports.first)
        #expect(block.ssrc == 0xAA00_0000)  // the panel's SSRC (byte 8 of its header)
        #expect(block.cumulativeLost == 1)
        #expect(block.extendedHighestSequence & 0xFFFF == 109)
        guard case .sourceDescription(let chunks) = packets.last else {
            Issue.record("expected SDES last")
            return
        }
        #expect(chunks.first?.cname == "bridge")
        #expect(leg.counters.rtcpSent == 1)
    }

    @Test func tamperedSRTPIsCountedNotDecoded() throws {
        try connect()
        var packet = try panel.audioPacket(frame: 0, frequency: 1_000)
        packet[20] ^= 0xFF
        #expect(feed(packet).audio.isEmpty)
        #expect(leg.counters.droppedUnprotect == 1)
    }

    @Test func aPanelWithTheWrongCertificateNeverConnects() throws {
        let impostor = try Panel(bridgeFingerprint: bridgeCertificate.fingerprint)
        _ = feed(impostor.check(useCandidate: true), from: impostor.address)
        impostor.dtls.start()
        for _ in 0..<10 {
            let flights = impostor.dtls.takeDatagrams()
            if flights.isEmpty { break }
            for datagram in flights {
                for reply in feed(datagram, from: impostor.address).sent { impostor.dtls.receive(reply.bytes) }
            }
        }
        #expect(leg.state(now: 1) == .failed(DTLSError.fingerprintMismatch.description))
        #expect(leg.srtp == nil)
    }
}
