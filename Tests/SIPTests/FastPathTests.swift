import Testing

@testable import SIP

/// The shortcuts taken for speed (validation without building values, the word-at-a-time line-break scan,
/// header lookups by number) agree with the plain code they stand for.
@Suite("Fast paths")
struct FastPathTests {
    /// Contact, Route and Record-Route are validated without building their values: the same inputs must
    /// be accepted and rejected as when the values are built.
    @Test(arguments: [
        "<sip:a@b;lr>", "sip:sipp@127.0.0.3:26170", "\"A \\\" B\" <sip:a@[::1]:5060;transport=tcp>;q=0.5",
        "Bob <sip:bob@example.com?subject=x&priority=urgent>;expires=60", "<tel:+1-555-0100>", "urn:x:y",
        "<sip:a@b>, <sip:c@d;lr>;x=\"q\"", "<sip:[fe80::1]>;received=[::1]", "<sip:a@b>;p=[1.2.3.4]",
        "sip:a@b?x=y", "< sip:a@b>", "<sip:a@-b>", "<sip:a@b>;", "<sip:a@b>,", "sip:a@b:99999", "<sip:a%2@b>",
        "A B <sip:a@b>", "A@B <sip:a@b>", "<sip:a@1.2.3.256>", "<sip:a@[::g]>", "<sip:a@b;x=>", "<sip:a@b?x>",
        "", "*", "<sip:a@b>;tag=\"unterminated", "\"x\" sip:a@b", "<sip:user:pass@host;maddr=1.2.3.4>",
    ])
    func validationWithoutValuesAgrees(value: String) {
        for header in [SIPHeaderName.contact, .route, .recordRoute] {
            let built = Result { () throws(SIPParseError) in try NameAddress.parseList(value, header: header) }
            let checked = Result { () throws(SIPParseError) in
                try NameAddress.parseList(value, header: header, build: false)
            }
            switch (built, checked) {
            case (.success, .success(let values)): #expect(values.isEmpty)
            case (.failure(let lhs), .failure(let rhs)): #expect(lhs == rhs)
            default: Issue.record("\(value) as \(header): built \(built), checked \(checked)")
            }
        }
    }

    /// From and To are validated without building them, keeping only their tag: the same inputs must be
    /// accepted and rejected, and the tag must be the one the built address has.
    @Test(arguments: [
        "<sip:a@b>;tag=1", "sip:a@b;tag=xyz", "Bob <sip:bob@example.com>;x=1;TAG=AbC;tag=second",
        "<sip:a@b>;tag", "<sip:a@b>;tag;tag=later", "\"A\" <sip:a@b;tag=uri-param>", "<sip:a@b>;tagx=1",
        "<sip:a@b> ; tag = spaced", "<sip:a@b>;tag=\"quoted\"", "<sip:a@b>;tag=", "<sip:a@b>, <sip:c@d>",
        "<tel:+1-555-0100>;tag=t", "sip:a@b?x=y;tag=1", "", "<sip:a@b>;tag=[::1]",
    ])
    func tagOnlyValidationAgrees(value: String) {
        let built = Result { () throws(SIPParseError) in try NameAddress(parsing: value, header: .from) }
        let checked = Result { () throws(SIPParseError) in try NameAddress.validatedTag(value, header: .from) }
        switch (built, checked) {
        case (.success(let address), .success(let tag)): #expect(address.tag == tag, "\(value)")
        case (.failure(let lhs), .failure(let rhs)): #expect(lhs == rhs)
        default: Issue.record("\(value): built \(built), checked \(checked)")
        }
    }

    /// A parsed message answers `fromTag()` and `toTag()` from what validation kept; the same headers
    /// without it parse From and To again, and both give the tags of the built addresses.
    @Test func parsedTagsMatchBuiltAddresses() throws {
        let text =
            "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
            + "From: \"A\" <sip:a@example.com>;x=y;tag=from-1\r\nTo: <sip:b@example.com>\r\n"
            + "Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        let request = try #require(try MessageParser().parse(Array(text.utf8)).get().request)
        #expect(request.headers.parsed != nil)
        #expect(try request.headers.fromTag() == "from-1")
        #expect(try request.headers.toTag() == nil)
        let reparsed = SIPHeaders(request.headers.fields)
        #expect(try reparsed.fromTag() == reparsed.from().tag)
        #expect(try reparsed.toTag() == nil)
        #expect(try request.headers.from().displayName == "A")
    }

    /// Keys hash by branch alone: keys that differ elsewhere must still be told apart, and keys made
    /// apart from each other with the same parts must be equal, with equal hashes.
    @Test func transactionKeysCompareByEveryPart() {
        let invite = TransactionKey.branch(branch: "z9hG4bK1", sentBy: "192.0.2.1:5060", method: "INVITE")
        let same = TransactionKey.branch(branch: "z9hG4bK1", sentBy: "192.0.2.1:5060", method: "INVITE")
        let cancel = TransactionKey.branch(branch: "z9hG4bK1", sentBy: "192.0.2.1:5060", method: "CANCEL")
        let otherHost = TransactionKey.branch(branch: "z9hG4bK1", sentBy: "192.0.2.2:5060", method: "INVITE")
        #expect(invite == same && invite.hashValue == same.hashValue)
        #expect(invite != cancel && invite != otherHost)
        #expect(cancel.invite == invite && cancel.invite.hashValue == invite.hashValue)
        #expect(invite.invite === invite)
        let table: Set = [invite, cancel, otherHost, same]
        #expect(table.count == 3)
    }

    @Test func lineBreakScanMatchesBytewise() {
        for length in 0..<40 {
            for position in -1..<length {
                for breakByte: UInt8 in [0x0D, 0x0A] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if position >= 0 { bytes[position] = breakByte }
                    // Neighbours of CR and LF must not be taken for them.
                    if length > 3 { bytes[length / 2 == position ? 0 : length / 2] = 0x0B }
                    let found = bytes.withUnsafeBufferPointer(containsLineBreak)
                    #expect(found == bytes.contains { $0 == 0x0D || $0 == 0x0A })
                }
            }
        }
    }

    @Test func serializedValuesNeverBreakTheLine() {
        var headers = SIPHeaders()
        headers.append(.subject, "0123456789abcdef\r\nInjected: yes")
        headers.append(.subject, "short\n")
        var bytes: [UInt8] = []
        headers.serialize(into: &bytes, bodyLength: 0)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "Subject: 0123456789abcdef  Injected: yes\r\nSubject: short \r\nContent-Length: 0\r\n\r\n")
    }

    @Test func lookupsByNameMatchEquality() {
        let headers: SIPHeaders = [
            (.via, "SIP/2.0/UDP a"), (SIPHeaderName("X-Thing"), "1"), (SIPHeaderName("x-thing"), "2"),
            (SIPHeaderName("X-Other"), "3"), (.via, "SIP/2.0/UDP b"),
        ]
        for name in [
            SIPHeaderName.via, SIPHeaderName("X-THING"), SIPHeaderName("X-Other"), .to, SIPHeaderName("X-None"),
        ] {
            let expected = headers.fields.filter { $0.name == name }.map(\.value)
            #expect(headers[name] == expected)
            #expect(headers.first(name) == expected.first)
            #expect(headers.contains(name) == !expected.isEmpty)
            #expect(headers.count(of: name) == expected.count)
        }
    }
}
