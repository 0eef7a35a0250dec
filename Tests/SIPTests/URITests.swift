import Testing

@testable import SIP

@Suite("SIP URI")
struct URITests {
    @Test func parsesEveryComponent() throws {
        let uri = try SIPURI(
            parsing:
                "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=hi&priority=urgent")
        #expect(uri.isSecure)
        #expect(uri.user == "alice")
        #expect(uri.password == "secret")
        #expect(uri.host == .ipv6("2001:db8::1"))
        #expect(uri.port == 5061)
        #expect(uri.transport == "tcp")
        #expect(uri.isLooseRouting)
        #expect(uri.maddr == "239.255.255.1")
        #expect(uri.headers == [GenericParameter("subject", "hi"), GenericParameter("priority", "urgent")])
        #expect(
            uri.description
                == "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr;maddr=239.255.255.1?subject=hi&priority=urgent"
        )
    }

    @Test func classifiesHosts() throws {
        #expect(try SIPURI(parsing: "sip:192.0.2.4").host == .ipv4("192.0.2.4"))
        #expect(try SIPURI(parsing: "sip:Example.COM.").host == .hostname("Example.COM."))
        #expect(try SIPURI(parsing: "sip:[::ffff:192.0.2.1]:5060").host == .ipv6("::ffff:192.0.2.1"))
        #expect(try SIPURI(parsing: "sip:edge.example.com;ob").hasOutboundParameter)
    }

    @Test(arguments: [
        "sip:", "sip:@example.com", "sip:user@", "sip:user@host:99999", "sip:user@host:", "sip:[::1", "sip:[1:2:3]",
        "sip:user@host;", "sip:user@host;=x", "sip:user@host;a=", "sip:user@host?x", "sip:us er@host", "sip:u%4@host",
        "sip:u%zz@host", "http://example.com", "sip:user@-bad.example.com", "sip:user@a..b", "sip:256.1.1.1",
        "sip:host;lr?=v",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: text) }
    }

    /// The equivalent pairs of RFC 3261 §19.1.4.
    @Test(arguments: [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ),
        ("sip:[2001:db8::1]", "sip:[2001:DB8:0:0:0:0:0:1]"),
    ])
    func equivalent(_ lhs: String, _ rhs: String) throws {
        let left = try SIPURI(parsing: lhs)
        let right = try SIPURI(parsing: rhs)
        #expect(left.isEquivalent(to: right))
        #expect(right.isEquivalent(to: left))
    }

    /// The non-equivalent pairs of RFC 3261 §19.1.4.
    @Test(arguments: [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ("sip:atlanta.com", "sip:alice@atlanta.com"),
        ("sip:alice@atlanta.com;maddr=239.255.255.1", "sip:alice@atlanta.com"),
        ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com"),
        ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
    ])
    func notEquivalent(_ lhs: String, _ rhs: String) throws {
        let left = try SIPURI(parsing: lhs)
        let right = try SIPURI(parsing: rhs)
        #expect(!left.isEquivalent(to: right))
        #expect(!right.isEquivalent(to: left))
    }

    @Test func scheme_isCaseInsensitive() throws {
        let uri = try SIPURI(parsing: "SIP:ALICE@AtLanTa.CoM;Transport=udp")
        #expect(!uri.isSecure)
        #expect(uri.description == "sip:ALICE@AtLanTa.CoM;Transport=udp")
    }

    @Test func escapingRoundTrips() {
        let user = "I have spaces@and;semi?"
        let escaped = URIEscaping.escaped(user, for: .user)
        #expect(escaped == "I%20have%20spaces%40and;semi?")
        #expect(URIEscaping.unescaped(escaped) == user)
        #expect(URIEscaping.escaped("a b;c", for: .parameter) == "a%20b%3Bc")
        #expect(URIEscaping.escaped("<sip:x>", for: .header) == "%3Csip:x%3E")
        #expect(URIEscaping.unescaped("100%") == "100%")
        #expect(URIEscaping.unescaped("%zz%4") == "%zz%4")
    }

    @Test func absoluteURIs() throws {
        #expect(try AddressURI(parsing: "tel:+1-201-555-0123") == .absolute("tel:+1-201-555-0123"))
        #expect(try AddressURI(parsing: "urn:service:sos").scheme == "urn")
        #expect(try AddressURI(parsing: "sip:a@b").sipURI?.user == "a")
        #expect(throws: SIPParseError.self) { try AddressURI(parsing: "1abc:def") }
        #expect(throws: SIPParseError.self) { try AddressURI(parsing: "tel:") }
        #expect(throws: SIPParseError.self) { try AddressURI(parsing: "tel:a b") }
    }

    @Test func hostEquivalence() {
        #expect(SIPHost("EXAMPLE.com")!.isEquivalent(to: SIPHost("example.com.")!))
        #expect(SIPHost("[::1]")!.isEquivalent(to: SIPHost("0:0:0:0:0:0:0:1")!))
        #expect(!SIPHost("192.0.2.1")!.isEquivalent(to: SIPHost("192.0.2.2")!))
        // Different text, same address: compared by value (§19.1.4).
        #expect(SIPHost("192.0.2.1")!.isEquivalent(to: SIPHost("192.000.2.01")!))
        #expect(SIPHost("1:2:3:4:5:6:7:8:9") == nil)
        #expect(SIPHost("1::2::3") == nil)
        #expect(SIPHost("::") == .ipv6("::"))
    }
}
