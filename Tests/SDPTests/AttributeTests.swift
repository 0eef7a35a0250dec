import Testing

@testable import SDP

@Suite("Typed attributes")
struct AttributeTests {
    @Test func candidateRoundTrip() throws {
        let text =
            "3029472963 1 udp 1686052607 203.0.113.45 61234 typ srflx raddr 192.168.1.23 rport 54321 generation 0"
        let candidate = try #require(ICECandidate(attributeValue: text))
        #expect(candidate.description == text)
        #expect(ICECandidate(attributeValue: "candidate:" + text) == candidate)
        #expect(candidate.component == 1)
    }

    @Test func candidateLimits() {
        #expect(ICECandidate(attributeValue: "1 0 udp 1 1.2.3.4 9 typ host") == nil)  // component 0
        #expect(ICECandidate(attributeValue: "1 257 udp 1 1.2.3.4 9 typ host") == nil)
        #expect(ICECandidate(attributeValue: String(repeating: "a", count: 33) + " 1 udp 1 1.2.3.4 9 typ host") == nil)
        #expect(ICECandidate(attributeValue: "1 1 udp 4294967296 1.2.3.4 9 typ host") == nil)
        #expect(ICECandidate(attributeValue: "1 1 udp 1 1.2.3.4 9 typ host generation") == nil)  // dangling name
        #expect(ICECandidate(attributeValue: "a+/Z 1 UDP 1 ::1 9 typ relay raddr ::2 rport 7")?.type == .relayed)
    }

    @Test func priorityFormula() {
        // RFC 8445 §5.1.2.1 with the recommended host type preference and the best local preference.
        #expect(ICECandidate.priority(typePreference: 126, localPreference: 65535, component: 1) == 2_130_706_431)
        #expect(ICECandidate.priority(typePreference: 0, localPreference: 0, component: 2) == 254)
    }

    @Test func fingerprintFormats() throws {
        let fingerprint = Fingerprint(bytes: Array(0..<32))
        #expect(fingerprint.description.hasPrefix("sha-256 00:01:02:03"))
        #expect(Fingerprint(attributeValue: fingerprint.description) == fingerprint)
        #expect(Fingerprint(attributeValue: "SHA-256 " + fingerprint.hexDigest.lowercased()) == fingerprint)
        #expect(Fingerprint(attributeValue: "sha-1 00:11") == nil)
        #expect(Fingerprint(attributeValue: "sha-256 0:01") == nil)
        #expect(Fingerprint(attributeValue: "x-future 01:02")?.bytes == [1, 2])
    }

    @Test func formatParameters() throws {
        let fmtp = try #require(FormatParameters(attributeValue: "111 minptime=10; useinbandfec=1;STEREO=1"))
        #expect(fmtp.payloadType == 111)
        #expect(fmtp["minptime"] == "10")
        #expect(fmtp["useinbandfec"] == "1")
        #expect(fmtp["stereo"] == "1")
        let opus = OpusParameters(minimumPacketTime: 10, useInbandFEC: true, stereo: false)
        #expect(opus.formatParameters(payloadType: 96).description == "96 minptime=10;useinbandfec=1;stereo=0")
        #expect(OpusParameters(opus.formatParameters(payloadType: 96)) == opus)
    }

    @Test func rtpMapCaseInsensitive() throws {
        let map = try #require(RTPMap(attributeValue: "96 OPUS/48000/2"))
        #expect(map.matches("opus"))
        #expect(RTPMap(attributeValue: "96 L24/48000/8")?.channels == 8)
        #expect(RTPMap(attributeValue: "96 L24/0") == nil)
    }

    @Test(arguments: [
        (1.0, "1"), (0.125, "0.125"), (0.25, "0.25"), (20, "20"), (1.0 / 3.0, "0.333"), (2.5, "2.5"), (0.5, "0.5"),
    ])
    func packetTimeFormat(milliseconds: Double, text: String) {
        #expect(PacketTimeMilliseconds.format(milliseconds) == text)
        #expect(abs(PacketTimeMilliseconds.parse(text)! - milliseconds) < 0.001)
    }

    @Test func packetTimeParse() {
        #expect(PacketTimeMilliseconds.parse("abc") == nil)
        #expect(PacketTimeMilliseconds.parse("0") == nil)
        #expect(PacketTimeMilliseconds.parse("1.2.3") == nil)
    }

    @Test func directionAnswers() {
        #expect(MediaDirection.sendrecv.answer(allowing: .sendrecv) == .sendrecv)
        #expect(MediaDirection.sendonly.answer(allowing: .sendrecv) == .recvonly)
        #expect(MediaDirection.recvonly.answer(allowing: .sendrecv) == .sendonly)
        #expect(MediaDirection.inactive.answer(allowing: .sendrecv) == .inactive)
        #expect(MediaDirection.sendrecv.answer(allowing: .recvonly) == .recvonly)
        #expect(MediaDirection.recvonly.answer(allowing: .recvonly) == .inactive)
    }

    @Test func ssrcAttribute() {
        let attribute = SSRCAttribute(attributeValue: "1234 msid:stream track")
        #expect(attribute?.attribute == "msid")
        #expect(attribute?.value == "stream track")
        #expect(SSRCAttribute(attributeValue: "1234 unknown-flag")?.value == nil)
        #expect(SSRCAttribute(attributeValue: "1234") == nil)
    }
}
