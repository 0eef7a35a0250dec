import Testing

@testable import SIP

/// SplitMix64: a small seeded generator, so the random-input tests are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The message text with every LF turned into CRLF, as the RFC 4475 messages are on the wire.
func wire(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for byte in text.utf8 {
        if byte == 0x0A { bytes.append(0x0D) }
        bytes.append(byte)
    }
    return bytes
}

struct UnexpectedFailure: Error {
    let failure: MessageParseFailure
}

func parseMessage(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> SIPMessage {
    switch MessageParser().parse(bytes) {
    case .success(let message):
        return message
    case .failure(let failure):
        Issue.record("parse failed: \(failure.error)", sourceLocation: sourceLocation)
        throw UnexpectedFailure(failure: failure)
    }
}

func parseRequest(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> SIPRequest {
    try #require(try parseMessage(wire(text), sourceLocation: sourceLocation).request, sourceLocation: sourceLocation)
}

func parseResponse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> SIPResponse {
    try #require(try parseMessage(wire(text), sourceLocation: sourceLocation).response, sourceLocation: sourceLocation)
}

/// The failure of a message that must not parse.
func parseFailure(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> MessageParseFailure? {
    switch MessageParser().parse(bytes) {
    case .success(let message):
        Issue.record("parsed but should not have: \(message)", sourceLocation: sourceLocation)
        return nil
    case .failure(let failure):
        return failure
    }
}

/// An SDP body of the shape RFC 4475 uses, 150 to 154 octets depending on the addresses.
func tortureSDP(origin: String, connection: String) -> String {
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

/// A minimal valid request for tests that change one thing.
func basicRequest(method: String = "OPTIONS", extraHeaders: String = "", body: String = "") -> String {
    """
    \(method) sip:user@example.com SIP/2.0
    Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKbasic1
    To: <sip:user@example.com>
    From: <sip:caller@example.net>;tag=111
    Call-ID: basic.1@host.example.com
    CSeq: 1 \(method)
    Max-Forwards: 70
    \(extraHeaders)Content-Length: \(wire(body).count)

    \(body)
    """
}
