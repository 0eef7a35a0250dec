/// Offers as real stacks write them (identifiers changed), and the RFCs' examples.
enum Fixtures {
    static func crlf(_ lines: String) -> String {
        lines.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
    }

    /// A Chrome 13x WHIP offer (audio only, gathering complete), as `RTCPeerConnection.createOffer`
    /// then `setLocalDescription` produce it.
    static let chromeAudioOffer = crlf(
        """
        v=0
        o=- 4215775240449105457 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=extmap-allow-mixed
        a=msid-semantic: WMS 1d8a3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e
        m=audio 54321 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
        c=IN IP4 192.168.1.23
        a=rtcp:9 IN IP4 0.0.0.0
        a=candidate:1467250027 1 udp 2122260223 192.168.1.23 54321 typ host generation 0 network-id 1 network-cost 10
        a=candidate:2890157251 1 udp 2122194687 2a6ed9e3-4b8c-4a1f-9d2e-6f7a8b9c0d1e.local 54322 typ host generation 0 network-id 2
        a=candidate:3029472963 1 udp 1686052607 203.0.113.45 61234 typ srflx raddr 192.168.1.23 rport 54321 generation 0 network-id 1 network-cost 10
        a=candidate:467250027 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 network-id 1 network-cost 10
        a=ice-ufrag:Hs4d
        a=ice-pwd:JkP9mYq2xVt8RwZ3nL6bFc1s
        a=ice-options:trickle
        a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
        a=setup:actpass
        a=mid:0
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=sendrecv
        a=msid:1d8a3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e 7c9e2a1b-3d4f-4e5a-9b8c-6d7e8f9a0b1c
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:111 opus/48000/2
        a=rtcp-fb:111 transport-cc
        a=fmtp:111 minptime=10;useinbandfec=1
        a=rtpmap:63 red/48000/2
        a=fmtp:63 111/111
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:13 CN/8000
        a=rtpmap:110 telephone-event/48000
        a=rtpmap:126 telephone-event/8000
        a=ssrc:3735928559 cname:k3Yb8pQ2wE5rT7uI
        a=ssrc:3735928559 msid:1d8a3c4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e 7c9e2a1b-3d4f-4e5a-9b8c-6d7e8f9a0b1c

        """)

    /// Chrome with a camera and a data channel too, bundled, trickle (no candidates yet).
    static let chromeAudioVideoDataOffer = crlf(
        """
        v=0
        o=- 7614219274584779017 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0 1 2
        a=extmap-allow-mixed
        a=msid-semantic: WMS stream0
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=ice-ufrag:e3Rt
        a=ice-pwd:Ab12Cd34Ef56Gh78Ij90Kl12
        a=ice-options:trickle
        a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF
        a=setup:actpass
        a=mid:0
        a=sendonly
        a=msid:stream0 audio0
        a=rtcp-mux
        a=rtpmap:111 opus/48000/2
        a=fmtp:111 minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1
        a=rtpmap:0 PCMU/8000
        a=ssrc:11111111 cname:abcdEFGHijklMNOP
        m=video 9 UDP/TLS/RTP/SAVPF 96 97
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=ice-ufrag:e3Rt
        a=ice-pwd:Ab12Cd34Ef56Gh78Ij90Kl12
        a=ice-options:trickle
        a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF
        a=setup:actpass
        a=mid:1
        a=sendonly
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:96 VP8/90000
        a=rtcp-fb:96 goog-remb
        a=rtcp-fb:96 nack
        a=rtcp-fb:96 nack pli
        a=rtpmap:97 rtx/90000
        a=fmtp:97 apt=96
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=ice-ufrag:e3Rt
        a=ice-pwd:Ab12Cd34Ef56Gh78Ij90Kl12
        a=ice-options:trickle
        a=fingerprint:sha-256 01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF
        a=setup:actpass
        a=mid:2
        a=sctp-port:5000
        a=max-message-size:262144

        """)

    /// An aiortc 1.x offer: candidates inline, three fingerprints, no Opus fmtp, LF line ends
    /// after the string went through a Python script.
    static let aiortcOffer = """
        v=0
        o=- 3922209584 3922209584 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=msid-semantic:WMS *
        m=audio 40253 UDP/TLS/RTP/SAVPF 96 0 8
        c=IN IP4 192.168.1.50
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=mid:0
        a=msid:4a1b7c2e-9d3f-4e5a-8b6c-1d2e3f4a5b6c 8f7e6d5c-4b3a-4291-8e7f-6a5b4c3d2e1f
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc:1918477357 cname:5c8f2a1b-3d4e-4f5a-9b8c-7d6e5f4a3b2c
        a=rtpmap:96 opus/48000/2
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=candidate:5ac1ea1bf6d9c4d2f8cf1acd2bfd3f11 1 udp 2130706431 192.168.1.50 40253 typ host
        a=candidate:8c3a1f4e2b7d9e6c5a4b3c2d1e0f9a8b 1 udp 1694498815 203.0.113.80 40253 typ srflx raddr 192.168.1.50 rport 40253
        a=end-of-candidates
        a=ice-ufrag:Wq3c
        a=ice-pwd:0Tz8ZkYd4fGhJ2nM7pQ1rS
        a=fingerprint:sha-256 2F:1D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:01
        a=fingerprint:sha-384 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
        a=fingerprint:sha-512 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
        a=setup:actpass

        """

    /// Firefox style: fingerprint and ice-options at session level, lower-case hex.
    static let firefoxOffer = crlf(
        """
        v=0
        o=mozilla...THIS_IS_SDPARTA-99.0 3175084722419580392 0 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=fingerprint:sha-256 a1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90
        a=group:BUNDLE 0
        a=ice-options:trickle
        a=msid-semantic:WMS *
        m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
        c=IN IP4 0.0.0.0
        a=recvonly
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
        a=fmtp:101 0-15
        a=ice-pwd:d0f3c1e2b4a59687f8e9d0c1b2a39485
        a=ice-ufrag:3c1b2a9f
        a=mid:0
        a=rtcp-mux
        a=rtpmap:109 opus/48000/2
        a=rtpmap:9 G722/8000/1
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:101 telephone-event/8000/1
        a=setup:actpass
        a=ssrc:2709871347 cname:{7d3c1b2a-4e5f-4a6b-9c8d-0e1f2a3b4c5d}

        """)

    /// RFC 8866 §5's example.
    static let rfc8866Example = crlf(
        """
        v=0
        o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
        s=Call to John Smith
        i=SDP Offer #1
        u=http://www.jdoe.example.com/home.html
        e=Jane Doe <jane@jdoe.example.com>
        p=+1 617 555-6011
        c=IN IP4 198.51.100.1
        t=0 0
        m=audio 49170 RTP/AVP 0
        m=audio 49180 RTP/AVP 0
        m=video 51372 RTP/AVP 99
        c=IN IP6 2001:db8::2
        a=rtpmap:99 h263-1998/90000

        """)

    /// RFC 3264 §10.1's offer (note the empty `s=`).
    static let rfc3264Offer = crlf(
        """
        v=0
        o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
        s=
        c=IN IP4 host.atlanta.example.com
        t=0 0
        m=audio 49170 RTP/AVP 0 8 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:97 iLBC/8000
        m=video 51372 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000

        """)

    /// The AES67 standard's example stream description (Annex, multicast 8-channel L24).
    static let aes67Example = crlf(
        """
        v=0
        o=- 1311738121 1311738121 IN IP4 192.168.1.1
        s=Stage left I/O
        c=IN IP4 239.0.0.1/32
        t=0 0
        m=audio 5004 RTP/AVP 96
        i=Channels 1-8
        a=rtpmap:96 L24/48000/8
        a=recvonly
        a=ptime:1
        a=ts-refclk:ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0
        a=mediaclk:direct=963214424

        """)

    /// What aiortc 1.16.0 sent, captured verbatim (`RTCPeerConnection` with one
    /// `AudioStreamTrack`, `createOffer` then `setLocalDescription`; CRLF line ends).
    static let aiortc116Offer = crlf(
        """
        v=0
        o=- 4004319753 4004319753 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=msid-semantic:WMS *
        m=audio 54088 UDP/TLS/RTP/SAVPF 96 9 0 8
        c=IN IP4 192.0.2.2
        a=sendrecv
        a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=mid:0
        a=msid:ff2b9c1b-78f3-4a22-b102-d5c64e17386f 05eff66b-dc70-47f9-bcfb-0c75f68789fc
        a=rtcp:9 IN IP4 0.0.0.0
        a=rtcp-mux
        a=ssrc:3856607838 cname:95911e8c-0c0b-4952-a772-dfe08150bffa
        a=rtpmap:96 opus/48000/2
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 192.0.2.2 54088 typ host
        a=candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 43676 typ host
        a=end-of-candidates
        a=ice-ufrag:2W9Z
        a=ice-pwd:uxNkIyfMmqxWetsabh9Vsr
        a=fingerprint:sha-256 34:D9:F4:69:9C:B0:5E:57:CF:C4:93:EF:FF:ED:ED:0A:7B:0D:D4:A5:A7:DE:FD:FA:12:A6:31:76:89:CE:A9:B6
        a=fingerprint:sha-384 2D:4F:F5:19:FF:BB:71:13:84:58:62:BE:91:34:D6:1A:C9:2E:2B:72:85:C2:1F:76:87:A4:EA:11:41:6B:4B:82:4F:CA:DF:87:C4:64:9D:FB:79:6A:B6:56:1D:86:54:AC
        a=fingerprint:sha-512 CC:C8:71:B1:93:E5:D9:78:2B:12:3F:F0:91:21:87:AB:0A:AF:C3:6B:6C:FE:EB:71:9D:86:07:13:64:90:0C:7D:92:AF:FE:35:37:85:84:A0:C4:54:6A:16:7E:BB:9B:5E:78:9C:CB:F5:E5:92:C1:DD:36:38:51:00:51:C1:A8:59
        a=setup:actpass

        """)
}
