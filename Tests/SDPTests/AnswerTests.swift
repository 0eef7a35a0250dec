import Testing

@testable import SDP

@Suite("Answering WebRTC offers")
struct AnswerTests {
    static let local = AnswerParameters(
        iceUsernameFragment: "sTgD", icePassword: "0123456789abcdefghijklmn",
        fingerprint: Fingerprint(bytes: Array(repeating: 0xAB, count: 32)),
        hostCandidates: [HostCandidate(address: "203.0.113.7", port: 40000)], sessionID: "1234567890",
        ssrc: 0x1234_5678, cname: "stagedoor-bridge")

    @Test func chromeAudioOffer() throws {
        let offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        let result = try answer(to: offer, local: Self.local)
        #expect(result.payloadType == 111)
        #expect(result.mid == "0")
        #expect(result.localSetup == .passive)
        #expect(!result.isDTLSClient)
        #expect(result.direction == .sendrecv)
        #expect(result.remoteICEUsernameFragment == "Hs4d")
        #expect(result.remoteICEPassword == "JkP9mYq2xVt8RwZ3nL6bFc1s")
        #expect(result.remoteFingerprints.count == 1)
        #expect(result.remoteCandidates.count == 4)
        #expect(result.remoteSSRCs == [3_735_928_559])
        #expect(result.remoteOpus.useInbandFEC == true)

        let text = result.answer.serialized()
        let expected = Fixtures.crlf(
            """
            v=0
            o=- 1234567890 1 IN IP4 203.0.113.7
            s=-
            t=0 0
            a=ice-lite
            a=group:BUNDLE 0
            a=msid-semantic: WMS stagedoor
            m=audio 40000 UDP/TLS/RTP/SAVPF 111
            c=IN IP4 203.0.113.7
            a=mid:0
            a=ice-ufrag:sTgD
            a=ice-pwd:0123456789abcdefghijklmn
            a=fingerprint:sha-256 \(Self.local.fingerprint.hexDigest)
            a=setup:passive
            a=sendrecv
            a=msid:stagedoor audio
            a=rtcp-mux
            a=rtpmap:111 opus/48000/2
            a=fmtp:111 minptime=10;useinbandfec=1;stereo=0
            a=ptime:20
            a=ssrc:305419896 cname:stagedoor-bridge
            a=candidate:1 1 UDP 2130706431 203.0.113.7 40000 typ host
            a=end-of-candidates

            """)
        #expect(text == expected)
        // The answer parses, and is an acceptable answer by its own rules.
        let reparsed = try SessionDescription(parsing: text)
        #expect(reparsed == result.answer)
        #expect(reparsed.iceLite)
    }

    @Test func aiortcOffer() throws {
        let offer = try SessionDescription(parsing: Fixtures.aiortcOffer)
        let result = try answer(to: offer, local: Self.local)
        #expect(result.payloadType == 96)
        #expect(result.remoteFingerprints.map(\.hashFunction) == ["sha-256", "sha-384", "sha-512"])
        #expect(result.remoteOpus == OpusParameters())
        #expect(result.answer.media[0].rtpMap(payloadType: 96)?.matches("opus") == true)
        #expect(result.answer.media[0].formats == ["96"])
    }

    @Test func firefoxSessionLevelFingerprintAndRecvonly() throws {
        let offer = try SessionDescription(parsing: Fixtures.firefoxOffer)
        let result = try answer(to: offer, local: Self.local)
        #expect(result.payloadType == 109)
        #expect(result.remoteFingerprints.count == 1)
        #expect(result.direction == .sendonly)
        #expect(result.answer.media[0].explicitDirection == .sendonly)
        #expect(result.remoteOpus.stereo == true)
    }

    @Test func extraSectionsRejectedAndUnbundled() throws {
        let offer = try SessionDescription(parsing: Fixtures.chromeAudioVideoDataOffer)
        let result = try answer(to: offer, local: Self.local)
        let media = result.answer.media
        #expect(media.count == 3)
        #expect(media.map(\.port) == [40000, 0, 0])
        #expect(media.map(\.mid) == ["0", "1", "2"])
        #expect(media[1].formats == ["96", "97"])
        #expect(media[2].formats == ["webrtc-datachannel"])
        #expect(result.answer.bundleGroup?.mids == ["0"])
        // The offer is sendonly: the bridge only receives and so announces no SSRC or msid.
        #expect(result.direction == .recvonly)
        #expect(media[0].ssrcs.isEmpty)
        #expect(!media[0].hasAttribute("msid"))
    }

    @Test func setupRoles() throws {
        var offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        func setSetup(_ role: String?) {
            offer.media[0].attributes.removeAll { $0.name == "setup" }
            if let role { offer.media[0].attributes.append(Attribute("setup", role)) }
        }
        setSetup("active")
        #expect(try answer(to: offer, local: Self.local).localSetup == .passive)
        setSetup("passive")
        #expect(try answer(to: offer, local: Self.local).localSetup == .active)
        setSetup(nil)  // RFC 4145: absent means active.
        #expect(try answer(to: offer, local: Self.local).localSetup == .passive)
        setSetup("actpass")
        var activeLocal = Self.local
        activeLocal.preferredSetup = .active
        #expect(try answer(to: offer, local: activeLocal).localSetup == .active)
        setSetup("holdconn")
        #expect(throws: AnswerRefusal.unsupportedSetup("holdconn")) { try answer(to: offer, local: Self.local) }
    }

    @Test func noCommonCodec() throws {
        let text = Fixtures.chromeAudioOffer.replacingFirst(
            "a=rtpmap:111 opus/48000/2", with: "a=rtpmap:111 speex/16000")
        let offer = try SessionDescription(parsing: text)
        #expect {
            try answer(to: offer, local: Self.local)
        } throws: { error in
            guard case .noCommonCodec(let offered) = error as? AnswerRefusal else { return false }
            return offered.prefix(3) == ["speex/16000", "red/48000", "G722/8000"]
        }
        let refusal = AnswerRefusal.noCommonCodec(offered: ["PCMU/8000"])
        #expect(refusal.description.contains("opus/48000/2"))
        #expect(!refusal.isMalformedOffer)
    }

    @Test func noAudio() throws {
        let text = Fixtures.crlf(
            """
            v=0
            o=- 1 1 IN IP4 0.0.0.0
            s=-
            t=0 0
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            a=ice-ufrag:e3Rt
            a=ice-pwd:Ab12Cd34Ef56Gh78Ij90Kl12

            """)
        #expect(throws: AnswerRefusal.noAudio) { try answer(to: SessionDescription(parsing: text), local: Self.local) }
        var rejectedAudio = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        rejectedAudio.media[0].port = 0
        #expect(throws: AnswerRefusal.noAudio) { try answer(to: rejectedAudio, local: Self.local) }
    }

    @Test func noFingerprint() throws {
        var offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        offer.media[0].attributes.removeAll { $0.name == "fingerprint" }
        #expect(throws: AnswerRefusal.noFingerprint) { try answer(to: offer, local: Self.local) }
        offer.media[0].attributes.append(
            Attribute("fingerprint", Fingerprint(hashFunction: "sha-1", bytes: Array(0..<20)).description))
        #expect(throws: AnswerRefusal.noFingerprint) { try answer(to: offer, local: Self.local) }
        #expect(AnswerRefusal.noFingerprint.isMalformedOffer)
    }

    @Test func plainRTPIsNotDTLS() throws {
        let offer = try SessionDescription(parsing: Fixtures.rfc3264Offer)
        #expect(throws: AnswerRefusal.unsupportedTransport("RTP/AVP")) { try answer(to: offer, local: Self.local) }
    }

    @Test func missingICEAndRTCPMux() throws {
        var offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        offer.media[0].attributes.removeAll { $0.name == "rtcp-mux" }
        #expect(throws: AnswerRefusal.rtcpMuxRequired) { try answer(to: offer, local: Self.local) }
        offer.media[0].attributes.removeAll { $0.name == "ice-pwd" }
        #expect(throws: AnswerRefusal.missingICECredentials) { try answer(to: offer, local: Self.local) }
    }

    @Test func invalidLocalParameters() throws {
        let offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        var local = Self.local
        local.hostCandidates = []
        #expect(throws: AnswerRefusal.invalidLocalParameters("no host candidate")) {
            try answer(to: offer, local: local)
        }
        local = Self.local
        local.icePassword = "short"
        #expect(throws: (any Error).self) { try answer(to: offer, local: local) }
    }

    @Test func ipv6HostAndStereo() throws {
        let offer = try SessionDescription(parsing: Fixtures.chromeAudioOffer)
        var local = Self.local
        local.hostCandidates = [HostCandidate(address: "2001:db8::7", port: 40002)]
        local.receiveStereo = true
        local.packetTime = nil
        let result = try answer(to: offer, local: local)
        #expect(result.answer.origin.addressType == .ip6)
        #expect(result.answer.media[0].connections.first?.addressType == .ip6)
        let opus = OpusParameters(try #require(result.answer.media[0].formatParameters(format: "111")))
        #expect(opus.stereo == true)
        #expect(opus.spropStereo == true)
        #expect(result.answer.media[0].packetTime == nil)
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        replacing(target, with: replacement, maxReplacements: 1)
    }
}

@Suite("Answering a captured aiortc 1.16 offer")
struct CapturedOfferTests {
    @Test func answersAiortc116() throws {
        let offer = try SessionDescription(parsing: Fixtures.aiortc116Offer)
        #expect(offer.serialized() == Fixtures.aiortc116Offer)
        let result = try answer(to: offer, local: AnswerTests.local)
        #expect(result.payloadType == 96)
        #expect(result.remoteCandidates.map(\.address) == ["192.0.2.2", "fd00::2"])
        #expect(result.remoteFingerprints.count == 3)
        #expect(result.direction == .sendrecv)
        // This answer (with a loopback host candidate) was fed back to aiortc 1.16's
        // setRemoteDescription: signaling stable, sendrecv, opus/96, remote ICE-lite, and
        // aiortc took the DTLS client role.
        #expect(result.localSetup == .passive)
    }
}
