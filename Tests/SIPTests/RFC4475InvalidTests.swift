import Testing

@testable import SIP

/// RFC 4475 §3.1.2 (and the §3.3 cases that are parse errors): each message fails with the error the RFC
/// implies, and the failure says whether to answer 400 (or 505) or drop.
@Suite("RFC 4475 invalid messages")
struct RFC4475InvalidTests {
    /// Asserts the failure kind, header and whether a response can be sent.
    func expectFailure(
        _ bytes: [UInt8], _ kind: SIPParseError.Kind, header: SIPHeaderName? = nil, answer: SIPStatusCode?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let failure = parseFailure(bytes, sourceLocation: sourceLocation) else { return }
        #expect(failure.error.kind == kind, sourceLocation: sourceLocation)
        if let header { #expect(failure.error.header == header, sourceLocation: sourceLocation) }
        let response = failure.makeResponse(toTag: "srv1")
        #expect(response?.statusCode == answer, sourceLocation: sourceLocation)
        if let response {
            // The answer copies what §8.2.6 needs and serializes to something that parses.
            #expect(response.headers.contains(.via), sourceLocation: sourceLocation)
            #expect(response.reasonPhrase.hasPrefix(answer?.defaultReasonPhrase ?? "?"), sourceLocation: sourceLocation)
            _ = MessageParser().parse(response.serialized())
        }
    }

    /// §3.1.2.1 `badinv01`: extra `;` and `,` in Via and Contact.
    @Test func extraneousHeaderFieldSeparators() {
        let text =
            """
            INVITE sip:user@example.com SIP/2.0
            To: sip:j.user@example.com
            From: sip:caller@example.net;tag=134161461246
            Max-Forwards: 7
            Call-ID: badinv01.0ha0isndaksdjasdf3234nas
            CSeq: 8 INVITE
            Via: SIP/2.0/UDP 192.0.2.15;;,;,,
            Contact: "Joe" <sip:joe@example.org>;;;;
            Content-Length: 152
            Content-Type: application/sdp


            """ + tortureSDP(origin: "192.0.2.15", connection: "192.0.2.15")
        // The Via is unreadable, so nothing can be sent back: drop.
        expectFailure(wire(text), .malformedHeader, header: .via, answer: nil)
    }

    /// §3.1.2.2 `clerr`: Content-Length larger than the datagram's body: 400 over UDP.
    @Test func contentLengthLargerThanMessage() {
        let text =
            """
            INVITE sip:user@example.com SIP/2.0
            Max-Forwards: 80
            To: sip:j.user@example.com
            From: sip:caller@example.net;tag=93942939o2
            Contact: <sip:caller@hungry.example.net>
            Call-ID: clerr.0ha0isndaksdjweiafasdk3
            CSeq: 8 INVITE
            Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
            Content-Type: application/sdp
            Content-Length: 9999

            v=0
            o=mhandley 29739 7272939 IN IP4 192.0.2.155
            s=-
            c=IN IP4 192.0.2.155
            t=0 0
            m=audio 492170 RTP/AVP 0 12
            m=video 3227 RTP/AVP 31
            a=rtpmap:31 LPC

            """
        expectFailure(wire(text), .bodyShorterThanContentLength, answer: .badRequest)
    }

    /// §3.1.2.3 `ncl`: negative Content-Length.
    @Test func negativeContentLength() {
        let text =
            """
            INVITE sip:user@example.com SIP/2.0
            Max-Forwards: 254
            To: sip:j.user@example.com
            From: sip:caller@example.net;tag=32394234
            Call-ID: ncl.0ha0isndaksdj2193423r542w35
            CSeq: 0 INVITE
            Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw
            Contact: <sip:caller@example53.example.net>
            Content-Type: application/sdp
            Content-Length: -999


            """ + tortureSDP(origin: "192.0.2.53", connection: "192.0.2.53")
        expectFailure(wire(text), .invalidContentLength, header: .contentLength, answer: .badRequest)
    }

    /// §3.1.2.4 `scalar02`: CSeq beyond 2³²−1, Max-Forwards beyond 255, huge Expires: 400 for the CSeq.
    @Test func requestScalarFieldsWithOverlargeValues() {
        let text =
            """
            REGISTER sip:example.com SIP/2.0
            Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
            To: <sip:user@example.com>
            From: <sip:user@example.com>;tag=239232jh3
            CSeq: 36893488147419103232 REGISTER
            Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
            Max-Forwards: 300
            Expires: 1\(String(repeating: "0", count: 100))
            Contact: <sip:user@host129.example.com>;expires=280297596632815
            Content-Length: 0


            """
        expectFailure(wire(text), .malformedHeader, header: .cseq, answer: .badRequest)
    }

    /// §3.1.2.5 `scalarlg`: a response with overlarge scalars is discarded.
    @Test func responseScalarFieldsWithOverlargeValues() {
        let text =
            """
            SIP/2.0 503 Service Unavailable
            Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129
            To: <sip:user@example.com>
            From: <sip:other@example.net>;tag=2easdjfejw
            CSeq: 9292394834772304023312 OPTIONS
            Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
            Retry-After: 949302838503028349304023988
            Warning: 1812 overture "In Progress"
            Content-Length: 0


            """
        expectFailure(wire(text), .malformedHeader, header: .cseq, answer: nil)
    }

    /// §3.1.2.6 `quotbal`: unterminated quoted string in the To display name.
    @Test func unterminatedQuotedString() {
        let text =
            """
            INVITE sip:user@example.com SIP/2.0
            To: "Mr. J. User <sip:j.user@example.com>
            From: sip:caller@example.net;tag=93334
            Max-Forwards: 10
            Call-ID: quotbal.aksdj
            Contact: <sip:caller@host59.example.net>
            CSeq: 8 INVITE
            Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
            Content-Type: application/sdp
            Content-Length: 152


            """ + tortureSDP(origin: "192.0.2.15", connection: "192.0.2.15")
        expectFailure(wire(text), .malformedHeader, header: .to, answer: .badRequest)
    }

    /// The shared headers of the Request-Line cases below.
    func requestLineCase(_ startLine: String) -> [UInt8] {
        wire(
            """
            \(startLine)
            To: sip:user@example.com;tag=3xfe-9921883-z9f
            From: sip:caller@example.net;tag=231413434
            Max-Forwards: 5
            Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423
            CSeq: 2130706432 INVITE
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
            Contact: <sip:caller@host1.example.net>
            Content-Length: 0


            """)
    }

    /// §3.1.2.7 `ltgtruri`: `<>` around the Request-URI.
    @Test func angleBracketsAroundRequestURI() {
        expectFailure(requestLineCase("INVITE <sip:user@example.com> SIP/2.0"), .invalidRequestURI, answer: .badRequest)
    }

    /// §3.1.2.8 `lwsruri`: LWS inside the Request-URI.
    @Test func embeddedLWSInRequestURI() {
        expectFailure(
            requestLineCase("INVITE sip:user@example.com; lr SIP/2.0"), .invalidStartLine, answer: .badRequest)
    }

    /// §3.1.2.9 `lwsstart`: several SP between Request-Line elements.
    @Test func multipleSpacesInRequestLine() {
        expectFailure(
            requestLineCase("INVITE  sip:user@example.com  SIP/2.0"), .invalidStartLine, answer: .badRequest)
    }

    /// §3.1.2.10 `trws`: SP at the end of the Request-Line.
    @Test func trailingSpacesInRequestLine() {
        expectFailure(requestLineCase("INVITE sip:user@example.com SIP/2.0  "), .invalidStartLine, answer: .badRequest)
    }

    /// §3.1.2.11 `escruri`: headers in the Request-URI (§19.1.1 forbids them there).
    @Test func escapedHeadersInRequestURI() {
        expectFailure(
            requestLineCase("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0"), .invalidRequestURI,
            answer: .badRequest)
    }

    /// §3.1.2.12 `baddate`: a proxy forwards a Date with a bad time zone unchanged; it is not parsed.
    @Test func invalidTimeZoneInDateIsKept() throws {
        let request = try parseRequest(
            basicRequest(method: "INVITE", extraHeaders: "Date: Fri, 01 Jan 2010 16:00:00 EST\n"))
        #expect(request.headers.first(.date) == "Fri, 01 Jan 2010 16:00:00 EST")
    }

    /// §3.1.2.13 `regbadct`: a Contact URI with `?` outside `<>`.
    @Test func contactWithHeadersNotInAngleBrackets() {
        let text =
            """
            REGISTER sip:example.com SIP/2.0
            To: sip:user@example.com
            From: sip:user@example.com;tag=998332
            Max-Forwards: 70
            Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
            CSeq: 1 REGISTER
            Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
            Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E
            l: 0


            """
        expectFailure(wire(text), .malformedHeader, header: .contact, answer: .badRequest)
    }

    /// §3.1.2.14 `badaspec`: spaces inside `< >`.
    @Test func spacesWithinAddrSpec() {
        let text =
            """
            OPTIONS sip:user@example.org SIP/2.0
            Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234
            Max-Forwards: 70
            From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423
            To: "Watson, Thomas" < sip:t.watson@example.org >
            Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
            Accept: application/sdp
            CSeq: 3923239 OPTIONS
            l: 0


            """
        expectFailure(wire(text), .malformedHeader, header: .to, answer: .badRequest)
    }

    /// §3.1.2.15 `baddn`: non-token characters in an unquoted display name.
    @Test func nonTokenCharactersInDisplayName() {
        let text =
            """
            OPTIONS sip:t.watson@example.org SIP/2.0
            Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw
            Max-Forwards:      70
            From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43
            To:      Watson, Thomas <sip:t.watson@example.org>
            Call-ID: baddn.31415@c.example.com
            Accept: application/sdp
            CSeq:    3923239 OPTIONS
            l: 0


            """
        expectFailure(wire(text), .malformedHeader, header: .from, answer: .badRequest)
    }

    /// §3.1.2.16 `badvers`: SIP/7.0 is answered with 505.
    @Test func unknownProtocolVersion() {
        let text =
            """
            OPTIONS sip:t.watson@example.org SIP/7.0
            Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
            Max-Forwards:     70
            From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
            To:      T. Watson <sip:t.watson@example.org>
            Call-ID: badvers.31417@c.example.com
            CSeq:    1 OPTIONS
            l: 0


            """
        expectFailure(wire(text), .unsupportedVersion, answer: .versionNotSupported)
    }

    /// §3.1.2.17 `mismatch01`: Request-Line and CSeq methods differ.
    @Test func startLineAndCSeqMethodMismatch() {
        let text =
            """
            OPTIONS sip:user@example.com SIP/2.0
            To: sip:j.user@example.com
            From: sip:caller@example.net;tag=34525
            Max-Forwards: 6
            Call-ID: mismatch01.dj0234sxdfl3
            CSeq: 8 INVITE
            Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
            l: 0


            """
        expectFailure(wire(text), .cseqMethodMismatch, answer: .badRequest)
    }

    /// §3.1.2.18 `mismatch02`: an unknown method whose CSeq says INVITE: 400, not 501.
    @Test func unknownMethodWithCSeqMismatch() {
        let text =
            """
            NEWMETHOD sip:user@example.com SIP/2.0
            To: sip:j.user@example.com
            From: sip:caller@example.net;tag=34525
            Max-Forwards: 6
            Call-ID: mismatch02.dj0234sxdfl3
            CSeq: 8 INVITE
            Contact: <sip:caller@host.example.net>
            Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
            Content-Type: application/sdp
            l: 0


            """
        expectFailure(wire(text), .cseqMethodMismatch, answer: .badRequest)
    }

    /// §3.1.2.19 `bigcode`: a status code of 4294967301 is dropped.
    @Test func overlargeResponseCode() {
        let text =
            """
            SIP/2.0 4294967301 better not break the receiver
            Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
            Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
            CSeq: 353494 INVITE
            From: <sip:user@example.com>;tag=39ansfi3
            To: <sip:user@example.edu>;tag=902jndnke3
            Content-Length: 0
            Contact: <sip:user@host105.example.com>


            """
        expectFailure(wire(text), .invalidStatusCode, answer: nil)
    }

    /// §3.3 `insuf`: missing Call-ID, From, To.
    @Test func missingRequiredHeaders() {
        let text =
            """
            INVITE sip:user@example.com SIP/2.0
            CSeq: 193942 INVITE
            Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
            Content-Type: application/sdp
            l: 0


            """
        expectFailure(wire(text), .missingHeader, answer: .badRequest)
    }

    /// §3.3 `multi01`: several values in single-value headers.
    @Test func multipleValuesInSingleValueHeaders() {
        let text =
            """
            INVITE sip:user@company.com SIP/2.0
            Contact: <sip:caller@host25.example.net>
            Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw
            Max-Forwards: 70
            CSeq: 5 INVITE
            Call-ID: multi01.98asdh@192.0.2.1
            CSeq: 59 INVITE
            Call-ID: multi01.98asdh@192.0.2.2
            From: sip:caller@example.com;tag=3413415
            To: sip:user@example.com
            To: sip:other@example.net
            From: sip:caller@example.net;tag=2923420123
            Content-Type: application/sdp
            l: 0
            Contact: <sip:caller@host36.example.net>
            Max-Forwards: 5


            """
        expectFailure(wire(text), .duplicateHeader, header: .cseq, answer: .badRequest)
    }

    /// §3.3 `mcl01`: two Content-Length values.
    @Test func multipleContentLengths() {
        let text =
            """
            OPTIONS sip:user@example.com SIP/2.0
            Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423
            To: sip:user@example.com
            From: sip:other@example.net;tag=3923942
            Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf
            CSeq: 15932 OPTIONS
            Content-Length: 13
            Max-Forwards: 60
            Content-Length: 5
            Content-Type: text/plain

            There's no way to know how many octets are supposed to be here.

            """
        expectFailure(wire(text), .duplicateHeader, header: .contentLength, answer: .badRequest)
    }

    /// An ACK is never answered, even when malformed (§17).
    @Test func malformedAckIsDropped() {
        let text = basicRequest(method: "ACK").replacing("To: <sip:user@example.com>", with: "To: \"broken <sip:x@y>")
        expectFailure(wire(text), .malformedHeader, header: .to, answer: nil)
    }
}
