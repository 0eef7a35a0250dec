import Testing

@testable import SDP

@Suite("AES67 stream descriptions")
struct AES67Tests {
    @Test func multicastL24StereoWithPTP() throws {
        let stream = AES67Stream(
            sessionName: "Stagedoor port 1", sessionID: "1311738121", originAddress: "192.0.2.10", encoding: .l24,
            channels: 2, framesPerPacket: 48, destination: ConnectionData(address: "239.69.1.1"), port: 5004,
            payloadType: 98, direction: .sendonly,
            referenceClock: .ptp(grandmaster: "39-A7-94-FF-FE-07-CB-D0", domain: 0), mediaClockOffset: 0,
            sourceFilter: true)
        let text = stream.sessionDescription.serialized()
        let expected = Fixtures.crlf(
            """
            v=0
            o=- 1311738121 1 IN IP4 192.0.2.10
            s=Stagedoor port 1
            c=IN IP4 239.69.1.1/32
            t=0 0
            a=clock-domain:PTPv2 0
            m=audio 5004 RTP/AVP 98
            a=rtpmap:98 L24/48000/2
            a=source-filter: incl IN IP4 239.69.1.1 192.0.2.10
            a=sendonly
            a=ptime:1
            a=framecount:48
            a=ts-refclk:ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0
            a=mediaclk:direct=0

            """)
        #expect(text == expected)
        #expect(stream.payloadSize == 288)
        #expect(stream.isMulticast)
        // It imports back to the same stream.
        let imported = try AES67Stream(importing: SessionDescription(parsing: text))
        var withTTL = stream
        withTTL.destination.ttl = 32
        #expect(imported == withTTL)
    }

    @Test(arguments: [(6, "0.125"), (12, "0.25"), (16, "0.333"), (48, "1"), (192, "4"), (960, "20")])
    func packetTimes(frames: Int, ptime: String) throws {
        let stream = AES67Stream(
            sessionName: "p", sessionID: "1", originAddress: "192.0.2.10", encoding: .l16, channels: 1,
            framesPerPacket: frames, destination: ConnectionData(address: "192.0.2.20"))
        let sdp = stream.sessionDescription
        #expect(sdp.media[0].attribute("ptime") == ptime)
        #expect(sdp.media[0].attribute("framecount") == "\(frames)")
        #expect(sdp.connection?.ttl == nil)  // Unicast: no TTL.
        #expect(!stream.isMulticast)
        #expect(
            sdp.media[0].rtpMap(payloadType: 98)
                == RTPMap(payloadType: 98, encodingName: "L16", clockRate: 48000, channels: 1))
        // Without a=framecount the ptime alone recovers the frames.
        var withoutFramecount = sdp
        withoutFramecount.media[0].attributes.removeAll { $0.name == "framecount" }
        #expect(try AES67Stream(importing: withoutFramecount).framesPerPacket == frames)
    }

    @Test func importsTheAES67Example() throws {
        let stream = try AES67Stream(importing: SessionDescription(parsing: Fixtures.aes67Example))
        #expect(stream.encoding == .l24)
        #expect(stream.channels == 8)
        #expect(stream.framesPerPacket == 48)
        #expect(stream.destination == ConnectionData(address: "239.0.0.1", ttl: 32))
        #expect(stream.port == 5004)
        #expect(stream.payloadType == 96)
        #expect(stream.direction == .recvonly)
        #expect(stream.referenceClock == .ptp(grandmaster: "39-A7-94-FF-FE-07-CB-D0", domain: 0))
        #expect(stream.mediaClockOffset == 963_214_424)
    }

    @Test func referenceClockForms() {
        #expect(AES67Stream.ReferenceClock(attributeValue: "ptp=IEEE1588-2008:traceable") == .ptpTraceable())
        #expect(
            AES67Stream.ReferenceClock(attributeValue: "localmac=CA-FE-00-00-00-01") == .localMAC("CA-FE-00-00-00-01"))
        #expect(AES67Stream.ReferenceClock(attributeValue: "ntp=203.0.113.1") == .ntp("203.0.113.1"))
        #expect(AES67Stream.ReferenceClock.ptpTraceable().description == "ptp=IEEE1588-2008:traceable")
    }

    @Test func importRefusals() throws {
        let opus = try SessionDescription(parsing: Fixtures.aiortcOffer)
        #expect(throws: AES67Stream.ImportError.noAudio) { try AES67Stream(importing: opus) }
        let pcmu = try SessionDescription(parsing: Fixtures.rfc3264Offer)
        #expect(throws: AES67Stream.ImportError.unsupportedEncoding("PCMU")) { try AES67Stream(importing: pcmu) }
    }

    @Test func ipv6Multicast() {
        let stream = AES67Stream(
            sessionName: "v6", sessionID: "7", originAddress: "2001:db8::10",
            destination: ConnectionData(address: "ff3e::1234"))
        let sdp = stream.sessionDescription
        #expect(stream.isMulticast)
        #expect(sdp.connection?.fieldValue == "IN IP6 ff3e::1234")
        #expect(sdp.origin.addressType == .ip6)
    }
}
