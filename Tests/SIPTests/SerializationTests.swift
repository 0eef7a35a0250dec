import Testing

@testable import SIP

@Suite("Serialization and proxy operations")
struct SerializationTests {
    let invite = """
        INVITE sip:bob@biloxi.com SIP/2.0
        Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds
        Max-Forwards: 70
        Route: <sip:edge.example.com;lr>, <sip:core.example.com;lr>
        To: Bob <sip:bob@biloxi.com>
        From: Alice <sip:alice@atlanta.com>;tag=1928301774
        Call-ID: a84b4c76e66710@pc33.atlanta.com
        CSeq: 314159 INVITE
        Contact: <sip:alice@pc33.atlanta.com>
        Content-Type: application/sdp
        Content-Length: 5

        v=0

        """

    @Test func canonicalRoundTrip() throws {
        let message = try parseMessage(wire(invite))
        let bytes = message.serialized()
        #expect(bytes == wire(invite))
        #expect(try parseMessage(bytes) == message)
    }

    @Test func tortureMessagesRoundTrip() throws {
        // Folded, compact and oddly spaced input comes out canonical and parses to the same headers.
        let text =
            #"""
            INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
            TO :
             sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
            from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>
              ;
              tag = 98asjd8
            MaX-fOrWaRdS: 0068
            Call-ID: wsinv.ndaksdj@192.0.2.1
            cseq: 0009
              INVITE
            v:  SIP  / 2.0  / TCP     spindle.example.com   ;
              branch  =   z9hG4bK9ikj8  ,
             SIP  /    2.0   / UDP  192.168.255.111   ; branch=
             z9hG4bK30239
            l: 0


            """#
        let message = try parseMessage(wire(text))
        let output = message.serialized()
        let reparsed = try parseMessage(output)
        #expect(reparsed == message)
        let outputText = String(decoding: output, as: UTF8.self)
        #expect(outputText.hasPrefix("INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\nTo: "))
        #expect(outputText.contains("\r\nVia: SIP  / 2.0  / TCP"))
        #expect(outputText.hasSuffix("Content-Length: 0\r\n\r\n"))
        #expect(!outputText.contains("\r\n "))
    }

    @Test func contentLengthIsRecomputed() throws {
        var request = try #require(try parseMessage(wire(invite)).request)
        request.body = Array("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n".utf8)
        let text = String(decoding: request.serialized(), as: UTF8.self)
        #expect(text.contains("\r\nContent-Length: 31\r\n"))
        request.headers.removeAll(.contentLength)
        request.body = []
        let bare = String(decoding: request.serialized(), as: UTF8.self)
        #expect(bare.hasSuffix("Content-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"))
    }

    @Test func proxyForwardingEdits() throws {
        var request = try #require(try parseMessage(wire(invite)).request)
        // §16.4: the first Route is this proxy.
        let popped = try #require(try request.headers.popRoute())
        #expect(popped.sipURI?.host == .hostname("edge.example.com"))
        #expect(request.headers[.route] == ["<sip:core.example.com;lr>"])
        // §16.6 step 3.
        #expect(request.headers.decrementMaxForwards() == .decremented(69))
        // §16.6 step 4 and 8.
        request.headers.prependRecordRoute(
            NameAddress(uri: SIPURI(host: .hostname("edge.example.com"), parameters: [GenericParameter("lr")])))
        request.headers.prependVia(Via(transport: "UDP", host: .ipv4("192.0.2.10"), port: 5060, branch: "z9hG4bKp1"))
        let vias = try request.headers.vias()
        #expect(vias.map(\.branch) == ["z9hG4bKp1", "z9hG4bK776asdhds"])
        #expect(try request.headers.recordRoutes().first?.sipURI?.isLooseRouting == true)
        let text = String(decoding: request.serialized(), as: UTF8.self)
        #expect(text.contains("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKp1\r\nVia: SIP/2.0/UDP pc33"))
        #expect(text.contains("Record-Route: <sip:edge.example.com;lr>\r\n"))

        // §16.7 step 3: the response loses the top Via on the way back.
        var response = SIPResponse(replyingTo: request, statusCode: .ringing, toTag: "bobtag")
        #expect(response.headers.removeTopVia() == "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKp1")
        #expect(try response.headers.topVia()?.branch == "z9hG4bK776asdhds")
    }

    @Test func maxForwardsIsAddedWhenAbsent() {
        var headers: SIPHeaders = [(.via, "SIP/2.0/UDP a")]
        #expect(headers.decrementMaxForwards() == .added(70))
        #expect(headers.first(.maxForwards) == "70")
        var zero: SIPHeaders = [(.maxForwards, "0")]
        #expect(zero.decrementMaxForwards() == .exhausted)
        #expect(zero.first(.maxForwards) == "0")
    }

    @Test func responseToRequest() throws {
        var request = try #require(try parseMessage(wire(invite)).request)
        request.headers.append(.timestamp, "54")
        let trying = SIPResponse(replyingTo: request, statusCode: .trying, toTag: "t1")
        #expect(trying.reasonPhrase == "Trying")
        #expect(try trying.headers.to().tag == nil)
        #expect(trying.headers.first(.timestamp) == "54")
        let busy = SIPResponse(replyingTo: request, statusCode: SIPStatusCode(rawValue: 486)!, toTag: "t1")
        #expect(try busy.headers.to().tag == "t1")
        #expect(busy.headers.first(.timestamp) == nil)
        #expect(busy.headers.map(\.name) == [.via, .to, .from, .callID, .cseq])
        let text = String(decoding: busy.serialized(), as: UTF8.self)
        #expect(
            text.hasPrefix("SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"))
        #expect(text.contains("To: Bob <sip:bob@biloxi.com>;tag=t1\r\n"))
        // A To that already has a tag keeps it.
        request.headers.set(.to, "<sip:bob@biloxi.com>;tag=existing")
        #expect(try SIPResponse(replyingTo: request, statusCode: .ok, toTag: "t2").headers.to().tag == "existing")
    }

    @Test func cancelAndAck() throws {
        let request = try #require(try parseMessage(wire(invite)).request)
        let cancel = request.makeCancel()
        #expect(cancel.method == .cancel)
        #expect(cancel.uri == request.uri)
        #expect(try cancel.headers.cseq() == CSeq(314_159, .cancel))
        #expect(try cancel.headers.vias().count == 1)
        #expect(try cancel.headers.routes().count == 2)
        #expect(TransactionKey.server(for: cancel)?.invite == TransactionKey.server(for: request))

        let response = SIPResponse(replyingTo: request, statusCode: SIPStatusCode(rawValue: 486)!, toTag: "b1")
        let ack = request.makeAck(for: response)
        #expect(ack.method == .ack)
        #expect(try ack.headers.to().tag == "b1")
        #expect(try ack.headers.cseq() == CSeq(314_159, .ack))
        #expect(TransactionKey.server(for: ack) == TransactionKey.server(for: request))
    }

    @Test func reasonPhraseAndValuesCannotInjectLines() {
        var response = SIPResponse(statusCode: .ok, reasonPhrase: "OK\r\nX-Injected: 1")
        response.headers.append(.subject, "a\r\nb")
        let text = String(decoding: response.serialized(), as: UTF8.self)
        #expect(!text.contains("\r\nX-Injected"))
        #expect(text.contains("Subject: a  b\r\n"))
    }
}
