/// The RFC 4475 torture messages (as in Tests/SIPTests, which check how they parse) with the handling
/// the RFC describes for a proxy; the Request-URIs' domains go to the trunk (`foreign_domains: trunk`).
extension SIPTortureTests {
    /// The message text with every LF turned into CRLF, as the RFC 4475 messages are on the wire.
    static func wire(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0x0A { bytes.append(0x0D) }
            bytes.append(byte)
        }
        return bytes
    }

    /// An SDP body of the shape RFC 4475 uses, 150 to 154 octets depending on the addresses.
    static func sdp(_ origin: String, _ connection: String) -> String {
        """
        v=0
        o=mhandley 29739 7272939 IN IP4 \(origin)
        s=-
        c=IN IP4 \(connection)
        t=0 0
        m=audio 49217 RTP/AVP 0 12
        m=video 3227 RTP/AVP 31
        a=rtpmap:31 LPC

        """
    }

    /// The shared headers of the Request-Line cases (§3.1.2.7 to §3.1.2.11).
    static func requestLineCase(_ startLine: String, callID: String) -> [UInt8] {
        wire(
            """
            \(startLine)
            To: sip:user@example.com;tag=3xfe-9921883-z9f
            From: sip:caller@example.net;tag=231413434
            Max-Forwards: 5
            Call-ID: \(callID)
            CSeq: 2130706432 INVITE
            Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
            Contact: <sip:caller@host1.example.net>
            Content-Length: 0


            """)
    }

    static var cases: [Case] { valid + invalid + semantics }

    /// §3.1.1: valid messages.
    static var valid: [Case] {
        var cases: [Case] = []
        // §3.1.1.1 wsinv: its Route names services.example.com, which is not a trunk: the edge policy
        // refuses it (403) after parsing every tortuous header.
        cases.append(
            Case(
                name: "3.1.1.1 wsinv",
                bytes: wire(
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


                    """# + sdp("192.0.2.3", "192.0.2.4")),
                callID: "wsinv.ndaksdj@192.0.2.1", handling: .answered(403)))
        cases.append(
            Case(
                name: "3.1.1.2 intmeth",
                bytes: wire(
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


                    """#),
                callID: #"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#, handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.3 esc01",
                bytes: wire(
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


                    """ + sdp("192.0.2.1", "192.0.2.1")),
                callID: "esc01.239409asdfakjkn23onasd0-3234", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.4 escnull",
                bytes: wire(
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


                    """),
                callID: "escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.5 esc02",
                bytes: wire(
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


                    """),
                callID: "esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.6 lwsdisp",
                bytes: wire(
                    """
                    OPTIONS sip:user@example.com SIP/2.0
                    To: sip:user@example.com
                    From: caller<sip:caller@example.com>;tag=323
                    Max-Forwards: 70
                    Call-ID: lwsdisp.1234abcd@funky.example.com
                    CSeq: 60 OPTIONS
                    Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
                    l: 0


                    """),
                callID: "lwsdisp.1234abcd@funky.example.com", handling: .forwarded))
        cases.append(Case(name: "3.1.1.7 longreq", bytes: wire(longRequest), callID: longCallID, handling: .forwarded))
        // §3.1.1.8 dblreq: the REGISTER is forwarded; the INVITE after its Content-Length is ignored.
        cases.append(
            Case(
                name: "3.1.1.8 dblreq",
                bytes: wire(
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


                    """ + sdp("192.0.2.15", "192.0.2.15")),
                callID: "dblreq.0ha0isndaksdj99sdfafnl3lk233412", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.9 semiuri",
                bytes: wire(
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


                    """),
                callID: "semiuri.0ha0isndaksdj", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.1.10 transports",
                bytes: wire(
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


                    """),
                callID: "transports.kijh4akdnaqjkwendsasfdj", handling: .forwarded))
        // §3.1.1.11 mpart01 in spirit (its body is binary): CRLFCRLF, NUL and high octets cross unchanged.
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
        cases.append(
            Case(
                name: "3.1.1.11 mpart01", bytes: head + body, callID: "mpart01.2348797a2948@192.0.2.1",
                handling: .forwarded))
        // §3.1.1.12 unreason and §3.1.1.13 noreason: responses to nothing this proxy sent (their Via is not
        // ours): discarded (§18.1.2).
        cases.append(
            Case(
                name: "3.1.1.12 unreason",
                bytes: wire(
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


                    """ + sdp("192.0.2.198", "192.0.2.198")),
                callID: "unreason.1234ksdfak3j2erwedfsASdf", handling: .dropped))
        cases.append(
            Case(
                name: "3.1.1.13 noreason",
                bytes: wire(
                    """
                    SIP/2.0 100 \("")
                    Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
                    Call-ID: noreason.asndj203insdf99223ndf
                    CSeq: 35 INVITE
                    From: <sip:user@example.com>;tag=39ansfi3
                    To: <sip:user@example.edu>;tag=902jndnke3
                    Content-Length: 0
                    Contact: <sip:user@host105.example.com>


                    """),
                callID: "noreason.asndj203insdf99223ndf", handling: .dropped))
        return cases
    }

    static let longCallID = "longreq.one\(String(repeating: "really", count: 20))longcallid"

    /// §3.1.1.7 longreq: long values and 34 Via values in every spelling of the name.
    static var longRequest: String {
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
        return "INVITE sip:user@example.com SIP/2.0\n"
            + "To: \"I have a user name of \(String(repeating: "extreme", count: 10)) proportion\"<sip:user@example.com:6000;unknownparam1=very\(String(repeating: "long", count: 20))value;longparam\(String(repeating: "name", count: 25))=shortvalue;very\(String(repeating: "long", count: 25))ParameterNameWithNoValue>\n"
            + "F: sip:\(String(repeating: "amazinglylongcallername", count: 5))@example.net;tag=12\(String(repeating: "982", count: 50))424;unknownheaderparam\(String(repeating: "name", count: 20))=unknowheaderparam\(String(repeating: "value", count: 15));unknownValueless\(String(repeating: "paramname", count: 10))\n"
            + "Call-ID: \(longCallID)\n"
            + "CSeq: 3882340 INVITE\n"
            + "Unknown-\(String(repeating: "Long", count: 20))-Name:unknown-\(String(repeating: "long", count: 20))-value;unknown-\(String(repeating: "long", count: 20))-parameter-name =unknown-\(String(repeating: "long", count: 20))-parameter-value\n"
            + vias
            + "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=\(longBranch)\n"
            + "Max-Forwards: 70\n"
            + "Contact: <sip:\(String(repeating: "amazinglylongcallername", count: 5))@host5.example.net>\n"
            + "Content-Type: application/sdp\n"
            + "l: 150\n\n" + sdp("192.0.2.1", "192.0.2.1")
    }

    /// §3.1.2: invalid messages: 400 (505 for the version), or dropped when nothing can be sent back.
    static var invalid: [Case] {
        var cases: [Case] = []
        // §3.1.2.1 badinv01: the RFC would like a 400, but its Via is unreadable, so there is nowhere
        // §8.2.6.2 / §18.2.2 would send one: dropped (as Kamailio does with a bad Via).
        cases.append(
            Case(
                name: "3.1.2.1 badinv01",
                bytes: wire(
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


                    """ + sdp("192.0.2.15", "192.0.2.15")),
                callID: "badinv01.0ha0isndaksdjasdf3234nas", handling: .dropped))
        cases.append(
            Case(
                name: "3.1.2.2 clerr",
                bytes: wire(
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

                    """),
                callID: "clerr.0ha0isndaksdjweiafasdk3", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.3 ncl",
                bytes: wire(
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


                    """ + sdp("192.0.2.53", "192.0.2.53")),
                callID: "ncl.0ha0isndaksdj2193423r542w35", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.4 scalar02",
                bytes: wire(
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


                    """),
                callID: "scalar02.23o0pd9vanlq3wnrlnewofjas9ui32", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.5 scalarlg",
                bytes: wire(
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


                    """),
                callID: "scalarlg.noase0of0234hn2qofoaf0232aewf2394r", handling: .dropped))
        cases.append(
            Case(
                name: "3.1.2.6 quotbal",
                bytes: wire(
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


                    """ + sdp("192.0.2.15", "192.0.2.15")),
                callID: "quotbal.aksdj", handling: .answered(400)))
        for (name, line, callID) in [
            ("3.1.2.7 ltgtruri", "INVITE <sip:user@example.com> SIP/2.0", "ltgtruri.1@192.0.2.5"),
            (
                "3.1.2.8 lwsruri", "INVITE sip:user@example.com; lr SIP/2.0",
                "lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423"
            ),
            (
                "3.1.2.9 lwsstart", "INVITE  sip:user@example.com  SIP/2.0",
                "lwsstart.dfknq234oi243099adsdfnawe3@example.com"
            ),
            ("3.1.2.10 trws", "INVITE sip:user@example.com SIP/2.0  ", "trws.oicu34958239neffasdhr2345r"),
            (
                "3.1.2.11 escruri", "INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0",
                "escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5"
            ),
        ] {
            cases.append(
                Case(
                    name: name, bytes: requestLineCase(line, callID: callID), callID: callID, handling: .answered(400)))
        }
        // §3.1.2.12 baddate: a proxy forwards a bad Date unchanged (it has no use for it).
        cases.append(
            Case(
                name: "3.1.2.12 baddate",
                bytes: wire(
                    """
                    INVITE sip:user@example.com SIP/2.0
                    To: sip:user@example.com
                    From: sip:caller@example.net;tag=2234923
                    Max-Forwards: 70
                    Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
                    CSeq: 1392934 INVITE
                    Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
                    Date: Fri, 01 Jan 2010 16:00:00 EST
                    Contact: <sip:caller@host5.example.net>
                    Content-Type: application/sdp
                    Content-Length: 150


                    """ + sdp("192.0.2.5", "192.0.2.5")),
                callID: "baddate.239423mnsadf3j23lj42--sedfnm234", handling: .forwarded))
        cases.append(
            Case(
                name: "3.1.2.13 regbadct",
                bytes: wire(
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


                    """),
                callID: "regbadct.k345asrl3fdbv@10.0.0.1", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.14 badaspec",
                bytes: wire(
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


                    """),
                callID: "badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.15 baddn",
                bytes: wire(
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


                    """),
                callID: "baddn.31415@c.example.com", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.16 badvers",
                bytes: wire(
                    """
                    OPTIONS sip:t.watson@example.org SIP/7.0
                    Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
                    Max-Forwards:     70
                    From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
                    To:      T. Watson <sip:t.watson@example.org>
                    Call-ID: badvers.31417@c.example.com
                    CSeq:    1 OPTIONS
                    l: 0


                    """),
                callID: "badvers.31417@c.example.com", handling: .answered(505)))
        cases.append(
            Case(
                name: "3.1.2.17 mismatch01",
                bytes: wire(
                    """
                    OPTIONS sip:user@example.com SIP/2.0
                    To: sip:j.user@example.com
                    From: sip:caller@example.net;tag=34525
                    Max-Forwards: 6
                    Call-ID: mismatch01.dj0234sxdfl3
                    CSeq: 8 INVITE
                    Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
                    l: 0


                    """),
                callID: "mismatch01.dj0234sxdfl3", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.18 mismatch02",
                bytes: wire(
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


                    """),
                callID: "mismatch02.dj0234sxdfl3", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.1.2.19 bigcode",
                bytes: wire(
                    """
                    SIP/2.0 4294967301 better not break the receiver
                    Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
                    Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
                    CSeq: 353494 INVITE
                    From: <sip:user@example.com>;tag=39ansfi3
                    To: <sip:user@example.edu>;tag=902jndnke3
                    Content-Length: 0
                    Contact: <sip:user@host105.example.com>


                    """),
                callID: "bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i", handling: .dropped))
        return cases
    }

    /// §3.2 to §3.4: transaction- and application-layer semantics, and RFC 2543 syntax.
    static var semantics: [Case] {
        var cases: [Case] = []
        // §3.2.1 badbranch: a bare magic cookie; either 400 or RFC 2543 matching is allowed. This proxy
        // falls back to RFC 2543 matching and forwards it.
        cases.append(
            Case(
                name: "3.2.1 badbranch",
                bytes: wire(
                    """
                    OPTIONS sip:user@example.com SIP/2.0
                    To: sip:user@example.com
                    From: sip:caller@example.org;tag=33242
                    Max-Forwards: 3
                    Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
                    Accept: application/sdp
                    Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
                    CSeq: 8 OPTIONS
                    l: 0


                    """),
                callID: "badbranch.sadonfo23i420jv0as0derf3j3n", handling: .forwarded))
        cases.append(
            Case(
                name: "3.3.1 insuf",
                bytes: wire(
                    """
                    INVITE sip:user@example.com SIP/2.0
                    CSeq: 193942 INVITE
                    Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf
                    Content-Type: application/sdp
                    l: 0


                    """),
                cseq: "193942 INVITE", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.3.2 unkscm",
                bytes: wire(
                    """
                    OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0
                    To: sip:user@example.com
                    From: sip:caller@example.net;tag=384
                    Max-Forwards: 3
                    Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34
                    CSeq: 3923423 OPTIONS
                    Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
                    Content-Length: 0


                    """),
                callID: "unkscm.nasdfasser0q239nwsdfasdkl34", handling: .answered(416)))
        cases.append(
            Case(
                name: "3.3.3 novelsc",
                bytes: wire(
                    """
                    OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0
                    To: sip:user@example.com
                    From: sip:caller@example.net;tag=384
                    Max-Forwards: 3
                    Call-ID: novelsc.asdfasser0q239nwsdfasdkl34
                    CSeq: 3923423 OPTIONS
                    Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234
                    Content-Length: 0


                    """),
                callID: "novelsc.asdfasser0q239nwsdfasdkl34", handling: .answered(416)))
        // §3.3.4 unksm2: a proxy treats it as any other request (the registrar answers 400).
        cases.append(
            Case(
                name: "3.3.4 unksm2",
                bytes: wire(
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


                    """),
                callID: "unksm2.daksdj@hyphenated-host.example.com", handling: .forwarded))
        // §3.3.5 bext01: 420 listing the Proxy-Require option tags in Unsupported (the proxy's role).
        cases.append(
            Case(
                name: "3.3.5 bext01",
                bytes: wire(
                    """
                    OPTIONS sip:user@example.com SIP/2.0
                    To: sip:j_user@example.com
                    From: sip:caller@example.net;tag=242etr
                    Max-Forwards: 6
                    Call-ID: bext01.0ha0isndaksdj
                    Require: nothingSupportedHere
                    Proxy-Require: noProxiesSupportThis, nor-this-either
                    CSeq: 8 OPTIONS
                    Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
                    l: 0


                    """),
                callID: "bext01.0ha0isndaksdj", handling: .answered(420),
                answerHolds: "Unsupported: noProxiesSupportThis, nor-this-either"))
        let unknownBody = "<audio>\n <pcmu port=\"443\"/>\n</audio>\n"
        cases.append(
            Case(
                name: "3.3.6 invut",
                bytes: wire(
                    """
                    INVITE sip:user@example.com SIP/2.0
                    Contact: <sip:caller@host5.example.net>
                    To: sip:j.user@example.com
                    From: sip:caller@example.net;tag=8392034
                    Max-Forwards: 70
                    Call-ID: invut.0ha0isndaksdjadsfij34n23d
                    CSeq: 235448 INVITE
                    Via: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw
                    Content-Type: application/unknownformat
                    Content-Length: \(wire(unknownBody).count)

                    \(unknownBody)
                    """),
                callID: "invut.0ha0isndaksdjadsfij34n23d", handling: .forwarded))
        cases.append(
            Case(
                name: "3.3.7 regaut01",
                bytes: wire(
                    """
                    REGISTER sip:example.com SIP/2.0
                    To: sip:j.user@example.com
                    From: sip:j.user@example.com;tag=87321hj23128
                    Max-Forwards: 8
                    Call-ID: regaut01.0ha0isndaksdj
                    CSeq: 9338 REGISTER
                    Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw
                    Authorization: NoOneKnowsThisScheme opaque-data=here
                    Content-Length:0


                    """),
                callID: "regaut01.0ha0isndaksdj", handling: .forwarded))
        cases.append(
            Case(
                name: "3.3.8 multi01",
                bytes: wire(
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


                    """),
                callID: "multi01.98asdh@192.0.2.1", handling: .answered(400)))
        cases.append(
            Case(
                name: "3.3.9 mcl01",
                bytes: wire(
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

                    """),
                callID: "mcl01.fhn2323orihawfdoa3o4r52o3irsdf", handling: .answered(400)))
        // §3.3.10 bcast: a response whose second Via is the broadcast address; its top Via is not ours, so
        // it is discarded, and nothing goes to 255.255.255.255.
        cases.append(
            Case(
                name: "3.3.10 bcast",
                bytes: wire(
                    """
                    SIP/2.0 200 OK
                    Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
                    Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23
                    Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf
                    CSeq: 35 INVITE
                    From: sip:user@example.com;tag=11141343
                    To: sip:user@example.edu;tag=2229
                    Content-Length: 154
                    Content-Type: application/sdp
                    Contact: <sip:user@host28.example.com>


                    """ + sdp("192.0.2.198", "192.0.2.198")),
                callID: "bcast.0384840201234ksdfak3j2erwedfsASdf", handling: .dropped))
        cases.append(
            Case(
                name: "3.3.11 zeromf",
                bytes: wire(
                    """
                    OPTIONS sip:user@example.com SIP/2.0
                    Call-ID: zeromf.3ba9v8k2d0@example.net
                    CSeq: 40 OPTIONS
                    Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i
                    Max-Forwards: 0
                    To: <sip:user@example.com>
                    From: <sip:caller@example.net>;tag=3ghsd41
                    Content-Length: 0


                    """),
                callID: "zeromf.3ba9v8k2d0@example.net", handling: .answered(483)))
        for (name, callID, contact) in [
            (
                "3.3.12 cparam01", "cparam01.70710@saturn.example.com",
                "Contact: sip:+19725552222@gw1.example.net;unknownparam"
            ),
            (
                "3.3.13 cparam02", "cparam02.70710@saturn.example.com",
                "Contact: <sip:+19725552222@gw1.example.net;unknownparam>"
            ),
            (
                "3.3.14 regescrt", "regescrt.k345asrl3fdbv@192.0.2.1",
                "M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>"
            ),
        ] {
            cases.append(
                Case(
                    name: name,
                    bytes: wire(
                        """
                        REGISTER sip:example.com SIP/2.0
                        Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw
                        Max-Forwards: 70
                        From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe
                        To: sip:watson@example.com
                        Call-ID: \(callID)
                        CSeq: 2 REGISTER
                        \(contact)
                        l: 0


                        """),
                    callID: callID, handling: .forwarded))
        }
        cases.append(
            Case(
                name: "3.3.15 sdp01",
                bytes: wire(
                    """
                    INVITE sip:user@example.com SIP/2.0
                    To: sip:j_user@example.com
                    Contact: <sip:caller@host15.example.net>
                    From: sip:caller@example.net;tag=234
                    Max-Forwards: 5
                    Call-ID: sdp01.ndaksdj9342dasdd
                    Accept: text/nobodyKnowsThis
                    CSeq: 8 INVITE
                    Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw
                    Content-Length: 150
                    Content-Type: application/sdp


                    """ + sdp("192.0.2.5", "192.0.2.5")),
                callID: "sdp01.ndaksdj9342dasdd", handling: .forwarded))
        // §3.4.1 inv2543: RFC 2543 syntax (no branch, no From tag, no Max-Forwards, no Content-Length over
        // UDP): forwarded, with Max-Forwards 70 added (§16.6 step 3).
        cases.append(
            Case(
                name: "3.4.1 inv2543",
                bytes: wire(
                    """
                    INVITE sip:UserB@example.com SIP/2.0
                    Via: SIP/2.0/UDP iftgw.example.com
                    From: <sip:+13035551111@ift.client.example.net;user=phone>
                    Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>
                    To: sip:+16505552222@ss1.example.net;user=phone
                    Call-ID: inv2543.1717@ift.client.example.com
                    CSeq: 56 INVITE
                    Content-Type: application/sdp


                    """ + sdp("192.0.2.5", "192.0.2.5")),
                callID: "inv2543.1717@ift.client.example.com", handling: .forwarded))
        return cases
    }
}
