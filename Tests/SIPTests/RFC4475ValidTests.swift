import Testing

@testable import SIP

/// RFC 4475 §3.1.1: messages every element must accept, with the values the RFC says they hold.
@Suite("RFC 4475 valid messages")
struct RFC4475ValidTests {
    /// §3.1.1.1 `wsinv`: folding everywhere, escaped quotes, empty Subject, LWS around separators, a mix of
    /// compact and long names, unknown headers, parameters without values, leading zeros.
    @Test func shortTortuousInvite() throws {
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
            Content-Length   : 150
            cseq: 0009
              INVITE
            Via  : SIP  /   2.0
             /UDP
                192.0.2.2;branch=390skdjuw
            s :
            NewFangledHeader:   newfangled value
             continued newfangled value
            UnknownHeaderWithUnusualValue: ;;,,;;,;
            Content-Type: application/sdp
            Route:
             <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
            v:  SIP  / 2.0  / TCP     spindle.example.com   ;
              branch  =   z9hG4bK9ikj8  ,
             SIP  /    2.0   / UDP  192.168.255.111   ; branch=
             z9hG4bK30239
            m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
                  newvalue ;
              secondparam ; q = 0.33


            """# + tortureSDP(origin: "192.0.2.3", connection: "192.0.2.4")
        let request = try parseRequest(text)
        #expect(request.method == .invite)
        let uri = try #require(request.uri.sipURI)
        #expect(uri.user == "vivekg")
        #expect(uri.host == .hostname("chair-dnrc.example.com"))
        #expect(uri.parameters == [GenericParameter("unknownparam")])
        #expect(request.headers.count == 14)

        let to = try request.headers.to()
        #expect(to.displayName == nil)
        #expect(to.tag == "1918181833n")
        #expect(to.sipURI?.user == "vivekg")
        let from = try request.headers.from()
        #expect(from.displayName == #"J Rosenberg \""#)
        #expect(from.tag == "98asjd8")
        #expect(from.sipURI?.host == .hostname("example.com"))
        #expect(try request.headers.maxForwards() == 68)
        #expect(try request.headers.callID() == "wsinv.ndaksdj@192.0.2.1")
        #expect(try request.headers.contentLength() == 150)
        #expect(try request.headers.cseq() == CSeq(9, .invite))

        let vias = try request.headers.vias()
        #expect(vias.count == 3)
        #expect(vias[0].transport == "UDP")
        #expect(vias[0].host == .ipv4("192.0.2.2"))
        #expect(vias[0].branch == "390skdjuw")
        #expect(!vias[0].hasMagicCookie)
        #expect(vias[1].transport == "TCP")
        #expect(vias[1].host == .hostname("spindle.example.com"))
        #expect(vias[1].branch == "z9hG4bK9ikj8")
        #expect(vias[2].transport == "UDP")
        #expect(vias[2].host == .ipv4("192.168.255.111"))
        #expect(vias[2].branch == "z9hG4bK30239")

        #expect(request.headers.first(.subject) == "")
        #expect(
            request.headers.first(SIPHeaderName("newfangledheader")) == "newfangled value continued newfangled value")
        #expect(request.headers.first(SIPHeaderName("UnknownHeaderWithUnusualValue")) == ";;,,;;,;")
        #expect(try request.headers.contentType()?.matches(.sdp) == true)

        let routes = try request.headers.routes()
        #expect(routes.count == 1)
        let route = try #require(routes.first?.sipURI)
        #expect(route.isLooseRouting)
        #expect(route.parameters.first(named: "unknownwith")?.value == "value")
        #expect(route.parameters.contains(named: "unknown-no-value"))

        guard case .addresses(let contacts) = try request.headers.contact() else {
            Issue.record("no contact")
            return
        }
        #expect(contacts.count == 1)
        #expect(contacts[0].displayName == #"Quoted string """#)
        #expect(contacts[0].sipURI?.user == "jdrosen")
        #expect(contacts[0].parameters.first(named: "newparam")?.value == "newvalue")
        #expect(contacts[0].parameters.contains(named: "secondparam"))
        #expect(contacts[0].parameters.first(named: "q")?.value == "0.33")

        #expect(request.body.count == 150)
        #expect(request.body.starts(with: Array("v=0\r\n".utf8)))
    }

    /// §3.1.1.2 `intmeth`: the whole range of token, word and quoted-pair characters, a method that is not
    /// INVITE, a quoted NUL, UTF-8 in a parameter and in an extension header.
    @Test func wideRangeOfValidCharacters() throws {
        let method = "!interesting-Method0123456789_*+`.%indeed'~"
        let text =
            #"""
            !interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
            Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
            To: "BEL:\#u{5C}\#u{07} NUL:\#u{5C}\#u{00} DEL:\#u{5C}\#u{7F}" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
            From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="работающий";tag=_token~1'+`*%!-.
            Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{
            CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
            Max-Forwards: 255
            extensionHeader-!.%*+_`'~:\#u{FEFF}大停電
            Content-Length: 0


            """#
        let request = try parseRequest(text)
        #expect(request.method == .extension(method))
        #expect(request.method != .invite)
        let uri = try #require(request.uri.sipURI)
        #expect(uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        #expect(uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        #expect(uri.host == .hostname("example.com"))
        #expect(try request.headers.topVia()?.branch == "z9hG4bK-.!%66*_+`'~")
        let to = try request.headers.to()
        #expect(to.displayName == "BEL:\u{07} NUL:\u{00} DEL:\u{7F}")
        #expect(to.sipURI?.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        let from = try request.headers.from()
        #expect(from.displayName == "token1~` token2'+_ token3*%!.-")
        #expect(from.parameters.first(named: "fromParam''~+*_!.-%")?.unquotedValue == "работающий")
        #expect(from.tag == "_token~1'+`*%!-.")
        #expect(try request.headers.callID() == #"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
        #expect(try request.headers.cseq() == CSeq(139_122_385, .extension(method)))
        #expect(try request.headers.maxForwards() == 255)
        #expect(request.headers.first(SIPHeaderName("extensionheader-!.%*+_`'~")) == "\u{FEFF}大停電")
        #expect(request.headers.count == 8)
    }

    /// §3.1.1.3 `esc01`: escapes in the Request-URI user, To, From and Contact; compact `i` and `C`.
    @Test func validUseOfPercentEscaping() throws {
        let text =
            """
            INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
            To: sip:%75se%72@example.com
            From: <sip:I%20have%20spaces@example.net>;tag=938
            Max-Forwards: 87
            i: esc01.239409asdfakjkn23onasd0-3234
            CSeq: 234234 INVITE
            Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
            C: application/sdp
            Contact:
              <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
            Content-Length: 150


            """ + tortureSDP(origin: "192.0.2.1", connection: "192.0.2.1")
        let request = try parseRequest(text)
        let uri = try #require(request.uri.sipURI)
        #expect(uri.unescapedUser == "sips:user@example.com")
        #expect(uri.host == .hostname("example.net"))
        #expect(try request.headers.to().sipURI?.unescapedUser == "user")
        #expect(try request.headers.from().sipURI?.unescapedUser == "I have spaces")
        #expect(try request.headers.callID() == "esc01.239409asdfakjkn23onasd0-3234")
        #expect(try request.headers.contentType() == MediaType.sdp)
        guard case .addresses(let contacts) = try request.headers.contact() else {
            Issue.record("no contact")
            return
        }
        let contact = try #require(contacts.first?.sipURI)
        #expect(contact.unescapedUser == "caller")
        // "%6C%72" is lr, and the name parameter's value is "value%41" once unescaped.
        let expected = try SIPURI(parsing: "sip:caller@host5.example.net;lr;name=value%2541")
        #expect(contact.isEquivalent(to: expected))
        #expect(URIEscaping.unescaped(contact.parameters[1].value ?? "") == "value%41")
    }

    /// §3.1.1.4 `escnull`: escaped NULs in URIs are legal.
    @Test func escapedNullsInURIs() throws {
        let text =
            """
            REGISTER sip:example.com SIP/2.0
            To: sip:null-%00-null@example.com
            From: sip:null-%00-null@example.com;tag=839923423
            Max-Forwards: 70
            Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
            CSeq: 14398234 REGISTER
            Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
            Contact: <sip:%00@host5.example.com>
            Contact: <sip:%00%00@host5.example.com>
            L:0


            """
        let request = try parseRequest(text)
        #expect(try request.headers.to().sipURI?.unescapedUser == "null-\u{0}-null")
        #expect(try request.headers.from().tag == "839923423")
        guard case .addresses(let contacts) = try request.headers.contact() else {
            Issue.record("no contact")
            return
        }
        #expect(contacts.map { $0.sipURI?.unescapedUser } == ["\u{0}", "\u{0}\u{0}"])
        #expect(try request.headers.contentLength() == 0)
    }

    /// §3.1.1.5 `esc02`: `%` that is not an escape — in a method, a display name, a branch, a header name.
    @Test func percentThatIsNotAnEscape() throws {
        let text =
            """
            RE%47IST%45R sip:registrar.example.com SIP/2.0
            To: "%Z%45" <sip:resource@example.com>
            From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
            Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
            Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
            CSeq: 29344 RE%47IST%45R
            Max-Forwards: 70
            Contact: <sip:alias1@host1.example.com>
            C%6Fntact: <sip:alias2@host2.example.com>
            Contact: <sip:alias3@host3.example.com>
            l: 0


            """
        let request = try parseRequest(text)
        #expect(request.method == .extension("RE%47IST%45R"))
        #expect(request.method != .register)
        #expect(try request.headers.to().displayName == "%Z%45")
        #expect(try request.headers.topVia()?.branch == "z9hG4bK209%fzsnel234")
        guard case .addresses(let contacts) = try request.headers.contact() else {
            Issue.record("no contact")
            return
        }
        #expect(contacts.map { $0.sipURI?.user } == ["alias1", "alias3"])
        #expect(request.headers.first(SIPHeaderName("C%6Fntact")) == "<sip:alias2@host2.example.com>")
    }

    /// §3.1.1.6 `lwsdisp`: no LWS between the display name and `<`.
    @Test func noSpaceBeforeAngleBracket() throws {
        let text =
            """
            OPTIONS sip:user@example.com SIP/2.0
            To: sip:user@example.com
            From: caller<sip:caller@example.com>;tag=323
            Max-Forwards: 70
            Call-ID: lwsdisp.1234abcd@funky.example.com
            CSeq: 60 OPTIONS
            Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
            l: 0


            """
        let from = try parseRequest(text).headers.from()
        #expect(from.displayName == "caller")
        #expect(from.sipURI?.user == "caller")
        #expect(from.tag == "323")
    }

    /// §3.1.1.7 `longreq`: long values and 34 Via values in every spelling of the name.
    @Test func longValues() throws {
        let spellings = [
            "Via: ", "v: ", "V: ", "Via: ", "ViA: ", "VIa: ", "VIA: ", "via: ", "viA: ", "vIa: ", "vIA: ", "V :  ",
            "v :  ", "V  : ", "v  : ", "Via : ", "Via  : ",
        ]
        var vias = ""
        for number in stride(from: 33, through: 1, by: -1) {
            let spelling = 33 - number < spellings.count ? spellings[33 - number] : "Via: "
            vias += "\(spelling)SIP/2.0/TCP sip\(number).example.com\n"
        }
        let longBranch = "very" + String(repeating: "long", count: 50) + "branchvalue"
        let text =
            "INVITE sip:user@example.com SIP/2.0\n"
            + "To: \"I have a user name of \(String(repeating: "extreme", count: 10)) proportion\"<sip:user@example.com:6000;unknownparam1=very\(String(repeating: "long", count: 20))value;longparam\(String(repeating: "name", count: 25))=shortvalue;very\(String(repeating: "long", count: 25))ParameterNameWithNoValue>\n"
            + "F: sip:\(String(repeating: "amazinglylongcallername", count: 5))@example.net;tag=12\(String(repeating: "982", count: 50))424;unknownheaderparam\(String(repeating: "name", count: 20))=unknowheaderparam\(String(repeating: "value", count: 15));unknownValueless\(String(repeating: "paramname", count: 10))\n"
            + "Call-ID: longreq.one\(String(repeating: "really", count: 20))longcallid\n"
            + "CSeq: 3882340 INVITE\n"
            + "Unknown-\(String(repeating: "Long", count: 20))-Name:unknown-\(String(repeating: "long", count: 20))-value;unknown-\(String(repeating: "long", count: 20))-parameter-name =unknown-\(String(repeating: "long", count: 20))-parameter-value\n"
            + vias
            + "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=\(longBranch)\n"
            + "Max-Forwards: 70\n"
            + "Contact: <sip:\(String(repeating: "amazinglylongcallername", count: 5))@host5.example.net>\n"
            + "Content-Type: application/sdp\n"
            + "l: 150\n\n" + tortureSDP(origin: "192.0.2.1", connection: "192.0.2.1")
        let request = try parseRequest(text)
        let parsedVias = try request.headers.vias()
        #expect(parsedVias.count == 34)
        #expect(parsedVias.first?.host == .hostname("sip33.example.com"))
        #expect(parsedVias.last?.branch == longBranch)
        #expect(parsedVias.last?.received == "192.0.2.5")
        let to = try request.headers.to()
        #expect(to.displayName == "I have a user name of \(String(repeating: "extreme", count: 10)) proportion")
        #expect(to.sipURI?.port == 6000)
        #expect(try request.headers.from().tag == "12\(String(repeating: "982", count: 50))424")
        #expect(try request.headers.callID() == "longreq.one\(String(repeating: "really", count: 20))longcallid")
        #expect(request.body.count == 150)
    }

    /// §3.1.1.8 `dblreq`: a REGISTER followed by an INVITE in one datagram; the bytes after Content-Length are
    /// ignored (§18.3).
    @Test func extraTrailingOctetsInDatagram() throws {
        let text =
            """
            REGISTER sip:example.com SIP/2.0
            To: sip:j.user@example.com
            From: sip:j.user@example.com;tag=43251j3j324
            Max-Forwards: 8
            I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
            Contact: sip:j.user@host.example.com
            CSeq: 8 REGISTER
            Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
            Content-Length: 0


            INVITE sip:joe@example.com SIP/2.0
            t: sip:joe@example.com
            From: sip:caller@example.net;tag=141334
            Max-Forwards: 8
            Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
            CSeq: 8 INVITE
            Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
            Content-Type: application/sdp
            Content-Length: 150


            """ + tortureSDP(origin: "192.0.2.15", connection: "192.0.2.15")
        let request = try parseRequest(text)
        #expect(request.method == .register)
        #expect(request.body.isEmpty)
        #expect(try request.headers.callID() == "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
        guard case .addresses(let contacts) = try request.headers.contact() else {
            Issue.record("no contact")
            return
        }
        #expect(contacts.first?.sipURI?.host == .hostname("host.example.com"))
    }

    /// §3.1.1.9 `semiuri`: a `;` inside the user part; a folded Accept list.
    @Test func semicolonInUserPart() throws {
        let text =
            """
            OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
            To: sip:j_user@example.com
            From: sip:caller@example.org;tag=33242
            Max-Forwards: 3
            Call-ID: semiuri.0ha0isndaksdj
            CSeq: 8 OPTIONS
            Accept: application/sdp, application/pkcs7-mime,
                    multipart/mixed, multipart/signed,
                    message/sip, message/sipfrag
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
            l: 0


            """
        let request = try parseRequest(text)
        let uri = try #require(request.uri.sipURI)
        #expect(uri.user == "user;par=u%40example.net")
        #expect(uri.unescapedUser == "user;par=u@example.net")
        #expect(uri.host == .hostname("example.com"))
        #expect(uri.parameters.isEmpty)
        #expect(request.headers.listValues(.accept).count == 6)
        #expect(request.headers.listValues(.accept).last == "message/sipfrag")
        #expect(request.headers.count == 8)
    }

    /// §3.1.1.10 `transports`: known and unknown transports in Via.
    @Test func variedAndUnknownTransports() throws {
        let text =
            """
            OPTIONS sip:user@example.com SIP/2.0
            To: sip:user@example.com
            From: <sip:caller@example.com>;tag=323
            Max-Forwards: 70
            Call-ID:  transports.kijh4akdnaqjkwendsasfdj
            Accept: application/sdp
            CSeq: 60 OPTIONS
            Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
            Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
            Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
            Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
            Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
            l: 0


            """
        let request = try parseRequest(text)
        #expect(try request.headers.vias().map(\.transport) == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
        #expect(try request.headers.callID() == "transports.kijh4akdnaqjkwendsasfdj")
    }

    /// In the spirit of §3.1.1.11 `mpart01` (whose body is binary and not reproduced here): a multipart body
    /// holding CRLFCRLF, NUL and high octets is taken by Content-Length, byte for byte.
    @Test func binaryMultipartBody() throws {
        var body = Array("--boundary42\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--boundary42\r\n".utf8)
        body += [0x00, 0xFF, 0x0D, 0x0A, 0x0D, 0x0A, 0x80, 0x30, 0x82]
        body += Array("\r\n--boundary42--\r\n".utf8)
        let head = wire(
            """
            MESSAGE sip:kumiko@example.org SIP/2.0
            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKmp17a
            Max-Forwards: 70
            To: "Kumiko" <sip:kumiko@example.org>
            From: "Bob" <sip:bob@example.org>;tag=4711
            Call-ID: mpart01.2348797a2948@192.0.2.1
            CSeq: 1 MESSAGE
            Content-Type: multipart/signed;protocol="application/pkcs7-signature";micalg=sha1;boundary=boundary42
            Content-Length: \(body.count)


            """)
        let message = try parseMessage(head + body)
        let request = try #require(message.request)
        #expect(request.body == body)
        let type = try #require(try request.headers.contentType())
        #expect(type.parameters.first(named: "boundary")?.value == "boundary42")
        #expect(type.parameters.first(named: "protocol")?.unquotedValue == "application/pkcs7-signature")
    }

    /// §3.1.1.12 `unreason`: a reason phrase with UTF-8 and symbols.
    @Test func unusualReasonPhrase() throws {
        let text =
            """
            SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое
            Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
            Call-ID: unreason.1234ksdfak3j2erwedfsASdf
            CSeq: 35 INVITE
            From: sip:user@example.com;tag=11141343
            To: sip:user@example.edu;tag=2229
            Content-Length: 154
            Content-Type: application/sdp
            Contact: <sip:user@host198.example.com>


            """ + tortureSDP(origin: "192.0.2.198", connection: "192.0.2.198")
        let response = try parseResponse(text)
        #expect(response.statusCode == .ok)
        #expect(response.reasonPhrase == "= 2**3 * 5**2 но сто девяносто девять - простое")
        #expect(response.body.count == 154)
    }

    /// §3.1.1.13 `noreason`: an empty reason phrase.
    @Test func emptyReasonPhrase() throws {
        let text =
            """
            SIP/2.0 100 \("")
            Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
            Call-ID: noreason.asndj203insdf99223ndf
            CSeq: 35 INVITE
            From: <sip:user@example.com>;tag=39ansfi3
            To: <sip:user@example.edu>;tag=902jndnke3
            Content-Length: 0
            Contact: <sip:user@host105.example.com>


            """
        let response = try parseResponse(text)
        #expect(response.statusCode == .trying)
        #expect(response.reasonPhrase == "")
    }

    /// §3.2 to §3.4 cases that must still parse: unknown schemes (`unkscm`, `novelsc`, `unksm2`),
    /// Max-Forwards of zero (`zeromf`), a bare magic cookie branch (`badbranch`-like), an RFC 2543 request
    /// without a branch (`inv2543`).
    @Test func semanticallyOddButParseable() throws {
        let unknownScheme = try parseRequest(
            """
            OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
            To: sip:user@example.com
            From: sip:caller@example.net;tag=384
            Max-Forwards: 3
            Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
            CSeq: 3923423 OPTIONS
            Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
            Content-Length: 0


            """)
        #expect(unknownScheme.uri == .absolute("nobodyKnowsThisScheme:totallyopaquecontent"))
        #expect(unknownScheme.uri.scheme == "nobodyknowsthisscheme")

        let novelScheme = try parseRequest(
            """
            OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0
            To: sip:user@example.com
            From: sip:caller@example.net;tag=384
            Max-Forwards: 3
            Call-ID: novelsc.asdfasser0q239nwsdfasdkl34
            CSeq: 3923423 OPTIONS
            Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
            Content-Length: 0


            """)
        #expect(novelScheme.uri == .absolute("soap.beep://192.0.2.103:3002"))

        let schemesInHeaders = try parseRequest(
            """
            REGISTER sip:example.com SIP/2.0
            To: isbn:2983792873
            From: <http://www.example.com>;tag=3234233
            Call-ID: unksm2.daksdj@hyphenated-host.example.com
            CSeq: 234902 REGISTER
            Max-Forwards: 70
            Via: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw
            Contact: <name:John_Smith>
            l: 0


            """)
        #expect(try schemesInHeaders.headers.to().uri == .absolute("isbn:2983792873"))
        #expect(try schemesInHeaders.headers.from().uri == .absolute("http://www.example.com"))
        #expect(try schemesInHeaders.headers.topVia()?.port == 5060)

        var zeroMaxForwards = try parseRequest(
            basicRequest(method: "INVITE").replacing("Max-Forwards: 70", with: "Max-Forwards: 0"))
        #expect(try zeroMaxForwards.headers.maxForwards() == 0)
        let outcome = zeroMaxForwards.headers.decrementMaxForwards()
        #expect(outcome == .exhausted)

        let legacy = try parseRequest(
            """
            INVITE sip:UserB@example.com SIP/2.0
            Via: SIP/2.0/UDP 192.0.2.15
            From: <sip:UserA@example.com>;tag=1
            To: <sip:UserB@example.com>
            Call-ID: inv2543.1717@192.0.2.15
            CSeq: 1 INVITE
            Max-Forwards: 70
            Content-Length: 0


            """)
        #expect(try legacy.headers.topVia()?.branch == nil)
        guard case .legacy = try #require(TransactionKey.server(for: legacy)).parts else {
            Issue.record("expected an RFC 2543 key")
            return
        }
    }
}
