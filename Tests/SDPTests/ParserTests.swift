import Testing

@testable import SDP

@Suite("Parsing real offers and RFC examples")
struct ParserTests {
    @Test func chromeOffer() throws {
        let sdp = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        #expect(sdp.origin.sessionID == "4215775240449105457")
        #expect(sdp.origin.sessionVersion == 2)
        #expect(sdp.sessionName == "-")
        #expect(sdp.bundleGroup == MediaGroup(semantics: "BUNDLE", mids: ["0"]))
        #expect(sdp.attribute("msid-semantic") == " WMS 1d8a3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
        #expect(sdp.media.count == 1)
        let audio = sdp.media[0]
        #expect(audio.media == "audio")
        #expect(audio.port == 54321)
        #expect(audio.proto == "UDP/TLS/RTP/SAVPF")
        #expect(audio.formats == ["111", "63", "9", "0", "8", "13", "110", "126"])
        #expect(audio.mid == "0")
        #expect(audio.iceUsernameFragment == "Hs4d")
        #expect(audio.icePassword == "JkP9mYq2xVt8RwZ3nL6bFc1s")
        #expect(audio.iceOptions == ["trickle"])
        #expect(audio.setup == .actpass)
        #expect(audio.rtcpMux)
        #expect(sdp.direction(of: audio) == .sendrecv)
        #expect(audio.fingerprints.first?.hashFunction == "sha-256")
        #expect(audio.fingerprints.first?.bytes.count == 32)
        #expect(audio.fingerprints.first?.bytes.first == 0x7B)
        #expect(
            audio.rtpMap(payloadType: 111)
                == RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2))
        #expect(audio.rtpMap(payloadType: 9)?.channels == nil)
        let opus = try #require(audio.formatParameters(format: "111").map(OpusParameters.init))
        #expect(opus.minimumPacketTime == 10)
        #expect(opus.useInbandFEC == true)
        #expect(opus.stereo == nil)
        #expect(audio.ssrcs == [3_735_928_559])
        #expect(audio.ssrcAttributes.first?.attribute == "cname")
        #expect(audio.ssrcAttributes.first?.value == "k3Yb8pQ2wE5rT7uI")
        #expect(sdp.connection(of: audio)?.address == "192.168.1.23")

        let candidates = audio.candidates
        #expect(candidates.count == 4)
        #expect(candidates[0].foundation == "1467250027")
        #expect(candidates[0].priority == 2_122_260_223)
        #expect(candidates[0].type == .host)
        #expect(candidates[0].extensionValue("network-cost") == "10")
        #expect(candidates[1].address.hasSuffix(".local"))
        #expect(candidates[2].type == .serverReflexive)
        #expect(candidates[2].relatedAddress == "192.168.1.23")
        #expect(candidates[2].relatedPort == 54321)
        #expect(!candidates[3].isUDP)
        #expect(candidates[3].extensionValue("tcptype") == "active")
    }

    @Test func aiortcOfferWithBareLineFeeds() throws {
        let sdp = try SessionDescription(parsing: Fixtures.aiortcOffer)
        let audio = sdp.media[0]
        #expect(audio.port == 40253)
        #expect(audio.fingerprints.map(\.hashFunction) == ["sha-256", "sha-384", "sha-512"])
        #expect(audio.fingerprints.map(\.bytes.count) == [32, 48, 64])
        #expect(audio.formatParameters.isEmpty)
        #expect(audio.candidates.count == 2)
        #expect(audio.hasEndOfCandidates)
        #expect(audio.icePassword?.count == 22)
    }

    @Test func firefoxSessionLevelAttributes() throws {
        let sdp = try SessionDescription(parsing: Fixtures.firefoxOffer)
        #expect(sdp.origin.username == "mozilla...THIS_IS_SDPARTA-99.0")
        #expect(sdp.fingerprints.count == 1)
        #expect(sdp.fingerprints[0].hexDigest.hasPrefix("A1:B2:C3"))
        #expect(sdp.iceOptions == ["trickle"])
        let audio = sdp.media[0]
        #expect(audio.fingerprints.isEmpty)
        #expect(audio.explicitDirection == .recvonly)
        let opus = OpusParameters(try #require(audio.formatParameters(format: "109")))
        #expect(opus.stereo == true)
        #expect(opus.maxPlaybackRate == 48000)
        #expect(audio.formatParameters(format: "101")?.parameters == "0-15")
        #expect(audio.rtpMap(payloadType: 9)?.channels == 1)
    }

    @Test func rfc8866Example() throws {
        let sdp = try SessionDescription(parsing: Fixtures.rfc8866Example)
        #expect(sdp.origin.username == "jdoe")
        #expect(sdp.origin.sessionVersion == 3_724_394_405)
        #expect(sdp.sessionName == "Call to John Smith")
        #expect(sdp.information == "SDP Offer #1")
        #expect(sdp.uri == "http://www.jdoe.example.com/home.html")
        #expect(sdp.emails == ["Jane Doe <jane@jdoe.example.com>"])
        #expect(sdp.phones == ["+1 617 555-6011"])
        #expect(sdp.connection == ConnectionData(address: "198.51.100.1"))
        #expect(sdp.media.map(\.port) == [49170, 49180, 51372])
        #expect(sdp.media[2].connections == [ConnectionData(addressType: .ip6, address: "2001:db8::2")])
        #expect(sdp.media[2].rtpMap(payloadType: 99)?.clockRate == 90000)
        #expect(sdp.connection(of: sdp.media[0])?.address == "198.51.100.1")
    }

    @Test func rfc3264OfferWithEmptySessionName() throws {
        let sdp = try SessionDescription(parsing: Fixtures.rfc3264Offer)
        #expect(sdp.sessionName == "")
        #expect(sdp.connection?.address == "host.atlanta.example.com")
        #expect(sdp.media[0].rtpMaps.map(\.encodingName) == ["PCMU", "PCMA", "iLBC"])
    }

    @Test(arguments: [
        Fixtures.chromeAudioOffer, Fixtures.chromeAudioVideoDataOffer, Fixtures.aiortcOffer, Fixtures.firefoxOffer,
        Fixtures.rfc8866Example, Fixtures.rfc3264Offer, Fixtures.aes67Example,
    ])
    func roundTrip(text: String) throws {
        let parsed = try SessionDescription(parsing: text)
        let written = parsed.serialized()
        #expect(written.hasSuffix("\r\n"))
        #expect(try SessionDescription(parsing: written) == parsed)
        // CRLF input comes back byte for byte.
        if text.contains("\r\n") { #expect(written == text) }
    }

    @Test func trailingBlanksAndNoFinalLineEnd() throws {
        let text =
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns= \r\nt=0 0\r\nm=audio 9 RTP/AVP 0 8 \r\na=sendrecv \r\na=rtpmap:0 PCMU/8000\t"
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.sessionName == "")
        #expect(sdp.media[0].formats == ["0", "8"])
        #expect(sdp.media[0].explicitDirection == .sendrecv)
        #expect(sdp.media[0].rtpMap(payloadType: 0)?.encodingName == "PCMU")
    }

    @Test func fromBytes() throws {
        let sdp = try SessionDescription(parsing: Array(Fixtures.chromeAudioOffer.utf8))
        #expect(sdp.media.count == 1)
    }

    @Test func multicastConnectionSuffixes() throws {
        #expect(
            SDPLineParser.parseConnection("IN IP4 233.252.0.1/127") == ConnectionData(address: "233.252.0.1", ttl: 127))
        #expect(
            SDPLineParser.parseConnection("IN IP4 233.252.0.1/127/3")
                == ConnectionData(address: "233.252.0.1", ttl: 127, numberOfAddresses: 3))
        #expect(
            SDPLineParser.parseConnection("IN IP6 ff00::db8:0:101/3")
                == ConnectionData(addressType: .ip6, address: "ff00::db8:0:101", numberOfAddresses: 3))
        #expect(SDPLineParser.parseConnection("IN IP4 233.252.0.1/256") == nil)
        #expect(SDPLineParser.parseConnection("IN IP6 ff00::1/3/4") == nil)
        #expect(
            ConnectionData(address: "233.252.0.1", ttl: 127, numberOfAddresses: 3).fieldValue
                == "IN IP4 233.252.0.1/127/3")
    }
}

@Suite("Refusing garbage with a typed error")
struct GarbageTests {
    static let head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"

    static let cases: [(String, SDPParseError.Kind)] = [
        ("", .empty),
        ("\r\n\r\n", .empty),
        ("hello world", .malformedLine),
        ("GET / HTTP/1.1\r\nHost: x\r\n", .malformedLine),
        ("v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", .unsupportedVersion),
        ("o=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", .missing("v")),
        ("v=0\r\ns=-\r\nt=0 0\r\n", .missing("o")),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nt=0 0\r\n", .missing("s")),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", .missing("t")),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n", .missing("t")),
        (head + "x=unknown\r\n", .unknownType("x")),
        (head + "v=0\r\n", .duplicate("v")),
        ("v = 0\r\n", .malformedLine),
        ("V=0\r\n", .malformedLine),
        ("v=0\r\no=- abc 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", .invalidOrigin),
        ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", .invalidOrigin),
        (head + "c=IN IP4\r\n", .invalidConnection),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=now later\r\n", .invalidTiming),
        (head + "b=AS:lots\r\n", .invalidBandwidth),
        (head + "m=audio port RTP/AVP 0\r\n", .invalidMedia),
        (head + "m=audio 70000 RTP/AVP 0\r\n", .invalidMedia),
        (head + "m=audio 9 RTP/AVP\r\n", .invalidMedia),
        (head + "a=\r\n", .invalidAttribute("")),
        (head + "a=bad name:1\r\n", .invalidAttribute("bad name")),
        (head + "m=audio 9 RTP/AVP 0\r\na=rtpmap:200 opus/48000/2\r\n", .invalidAttribute("rtpmap")),
        (head + "m=audio 9 RTP/AVP 0\r\na=rtpmap:111 opus\r\n", .invalidAttribute("rtpmap")),
        (
            head + "m=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp 1 1.2.3.4 99999 typ host\r\n",
            .invalidAttribute("candidate")
        ),
        (head + "m=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp 1 1.2.3.4 9 host\r\n", .invalidAttribute("candidate")),
        (head + "a=fingerprint:sha-256 AB:CD\r\n", .invalidAttribute("fingerprint")),
        (head + "a=fingerprint:sha-256 ZZ\r\n", .invalidAttribute("fingerprint")),
        (head + "a=setup:sideways\r\n", .invalidAttribute("setup")),
        (head + "m=audio 9 RTP/AVP 0\r\na=ptime:-1\r\n", .invalidAttribute("ptime")),
        (head + "m=audio 9 RTP/AVP 0\r\na=ssrc:notanumber cname:x\r\n", .invalidAttribute("ssrc")),
        (head + "a=ice-ufrag:bad ufrag!\r\n", .invalidAttribute("ice-ufrag")),
        (head + "m=audio 9 RTP/AVP 0\r\ns=late\r\n", .outOfOrder("s")),
        (head + "a=x\u{0}y\r\n", .invalidCharacter),
        (head + "a=x\ry\r\n", .invalidCharacter),
    ]

    @Test(arguments: 0..<cases.count)
    func refused(index: Int) {
        let (text, kind) = Self.cases[index]
        #expect {
            _ = try SessionDescription(parsing: text)
        } throws: { error in
            guard let error = error as? SDPParseError else { return false }
            return error.kind == kind
        }
    }

    @Test func lineNumberAndDescription() {
        do {
            _ = try SessionDescription(parsing: Self.head + "a=rtcp-mux\r\nx=1\r\n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 6)
            #expect(error.description == "SDP line 6: unknown line type 'x'")
        }
    }

    @Test func tooLarge() {
        let text = Self.head + String(repeating: "a=x\r\n", count: 20_000)
        #expect(throws: SDPParseError(.tooLarge(limit: SessionDescription.defaultMaximumLength), line: 0)) {
            _ = try SessionDescription(parsing: text)
        }
    }

    @Test func invalidUTF8() {
        var bytes = Array(Self.head.utf8)
        bytes += [0x61, 0x3D, 0xFF, 0xFE, 0x0D, 0x0A]
        #expect(throws: SDPParseError(.invalidCharacter, line: 0)) {
            _ = try SessionDescription(parsing: bytes)
        }
    }

    @Test func rejectedSectionWithoutFormatsIsTolerated() throws {
        let sdp = try SessionDescription(parsing: Self.head + "m=video 0 RTP/AVP\r\n")
        #expect(sdp.media[0].isRejected)
    }
}
