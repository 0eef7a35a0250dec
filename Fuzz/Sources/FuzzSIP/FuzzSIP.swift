import SIP

/// libFuzzer's entry point: one input, as a datagram, as a TCP byte stream (whole and drip-fed), and
/// line by line as URIs and header values. Whatever the bytes, nothing may trap, and the invariants
/// checked below must hold; a broken one is a crash on purpose.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    Messages.check(bytes)
    Streams.check(bytes)
    Values.check(bytes)
    return 0
}

/// Fails the input: libFuzzer reports the trap with the input that caused it.
func require(_ condition: @autoclosure () -> Bool, _ what: StaticString) {
    if !condition() { fatalError("invariant broken: \(what)") }
}

// MARK: - Messages

/// The datagram parser, the typed header accessors, the proxy's edits and the serializer.
enum Messages {
    static let parser = MessageParser()
    /// For re-parsing what was serialized: a message at the edge of the limits grows a little in canonical
    /// form (compact names written long, Content-Length added) and when forwarded (Via, Record-Route,
    /// Max-Forwards, `received` and `rport`), which is not what is being checked.
    static let roomyParser = MessageParser(
        limits: .init(maxMessageSize: 65_535 + 4_096, maxHeaderCount: 256 + 8, maxLineLength: 8_192 + 256))

    static func check(_ bytes: [UInt8]) {
        switch parser.parse(bytes) {
        case .success(let message):
            read(message.headers)
            roundTrip(message)
            if let request = message.request { proxy(request) }
            if let response = message.response { _ = TransactionKey.client(for: response) }
        case .failure(let failure):
            _ = failure.error.description
            _ = failure.error.reasonPhrase
            if let response = failure.makeResponse(toTag: "fuzz") {
                require(failure.canRespond, "only a request that can be answered gets a response")
                _ = response.serialized()
            }
        }
    }

    /// parse → serialize → parse: the output parses again with the same header names (Content-Length aside:
    /// serialization adds it) and body, and serializing that gives the same bytes (canonical form).
    static func roundTrip(_ message: SIPMessage) {
        let output = message.serialized()
        guard case .success(let again) = roomyParser.parse(output) else {
            fatalError("invariant broken: a serialized message parses again")
        }
        let names = message.headers.map(\.name).filter { $0 != .contentLength }
        require(again.headers.map(\.name).filter { $0 != .contentLength } == names, "header names survive")
        require(again.body == body(of: message), "the body survives")
        require(again.serialized() == output, "serialization is canonical")
    }

    static func body(of message: SIPMessage) -> [UInt8] {
        switch message {
        case .request(let request): request.body
        case .response(let response): response.body
        }
    }

    /// Every typed accessor a proxy reads a message through.
    static func read(_ headers: SIPHeaders) {
        _ = try? headers.vias()
        _ = try? headers.topVia()
        _ = try? headers.from().tag
        _ = try? headers.to().tag
        _ = try? headers.callID()
        _ = try? headers.cseq()
        _ = try? headers.maxForwards()
        _ = try? headers.contentLength()
        _ = try? headers.contentType()
        _ = try? headers.routes()
        _ = try? headers.recordRoutes()
        _ = try? headers.paths()
        _ = try? headers.contact()
        _ = try? headers.supported()
        _ = try? headers.require()
        _ = try? headers.proxyRequire()
    }

    /// What a stateful proxy does with a request (RFC 3261 §16.6, §18.2.1, §8.2.6): answer it, cancel or
    /// acknowledge it, and forward it with its own Via and Record-Route; everything it sends must parse.
    static func proxy(_ request: SIPRequest) {
        _ = TransactionKey.server(for: request)
        _ = TransactionKey.client(for: request)
        let response = SIPResponse(replyingTo: request, statusCode: .temporarilyUnavailable, toTag: "fuzz")
        require(roomyParser.parse(response.serialized()).isSuccess, "a response to a request parses")
        _ = request.makeCancel().serialized()
        _ = request.makeAck(for: response).serialized()

        var forwarded = request
        _ = forwarded.headers.decrementMaxForwards()
        if var top = try? forwarded.headers.topVia() {
            top.stampReceived(sourceAddress: "203.0.113.9", sourcePort: 5_062)
            _ = top.responseDestination()
            forwarded.headers.replaceTopVia(with: top)
        }
        _ = try? forwarded.headers.popRoute()
        forwarded.headers.prependVia(
            Via(transport: "UDP", host: .ipv4("192.0.2.1"), port: 5_060, branch: "z9hG4bKfuzz"))
        if let edge = try? NameAddress(parsing: "<sip:edge.example.com;lr>") {
            forwarded.headers.prependRecordRoute(edge)
        }
        require(
            roomyParser.parse(SIPMessage.request(forwarded).serialized()).isSuccess, "a forwarded request parses")
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

// MARK: - Streams

/// The stream framer (RFC 3261 §18.3, RFC 5626 §3.5.1 keep-alives): however the bytes are split, it
/// produces the same messages and keep-alives, then the same error or none.
enum Streams {
    struct Outcome: Equatable {
        var outputs: [StreamFramer.Output] = []
        var error: StreamFramer.FramingError?
    }

    static let limits = StreamFramer.Limits(maxHeaderBytes: 2_048, maxMessageSize: 4_096)

    static func check(_ bytes: [UInt8]) {
        let whole = frame(bytes, chunk: max(bytes.count, 1))
        let dripped = frame(bytes, chunk: 1)
        require(whole == dripped, "framing does not depend on how the stream is split")
        let uneven = frame(bytes, chunk: 7)
        require(whole == uneven, "framing does not depend on how the stream is split")
        for case .message(let message) in whole.outputs {
            require(!message.isEmpty && message.count <= limits.maxMessageSize, "a framed message is within the limit")
            Messages.check(message)
        }
    }

    static func frame(_ bytes: [UInt8], chunk: Int) -> Outcome {
        var framer = StreamFramer(limits: limits)
        var outcome = Outcome()
        var position = 0
        while position < bytes.count {
            let end = min(bytes.count, position + chunk)
            framer.append(bytes[position..<end])
            position = end
            do {
                while let output = try framer.next() { outcome.outputs.append(output) }
            } catch {
                outcome.error = error
                return outcome
            }
            require(framer.bufferedByteCount <= position, "the framer buffers only what it was given")
        }
        return outcome
    }
}

// MARK: - URIs and header values

/// The URI and header-value parsers, line by line: a `Name: value` line's value goes to the parser of
/// that header (name-addr, Via, CSeq, media type), any other line and the Request-URI of a start line to
/// the URI parsers. What parses prints as text that parses again, and printing that gives the same text.
enum Values {
    enum Kind {
        case nameAddress(SIPHeaderName)
        case via, cseq, mediaType
    }

    static let kinds: [String: Kind] = [
        "to": .nameAddress(.to), "t": .nameAddress(.to), "from": .nameAddress(.from), "f": .nameAddress(.from),
        "contact": .nameAddress(.contact), "m": .nameAddress(.contact), "route": .nameAddress(.route),
        "record-route": .nameAddress(.recordRoute), "path": .nameAddress(.path), "via": .via, "v": .via,
        "cseq": .cseq, "content-type": .mediaType, "c": .mediaType,
    ]

    static func check(_ bytes: [UInt8]) {
        for line in bytes.split(separator: 0x0A, maxSplits: 64) {
            let text = trimmed(line)
            if let colon = text.firstIndex(of: UInt8(ascii: ":")),
                let kind = kinds[String(decoding: trimmed(text[..<colon]), as: UTF8.self).lowercased()]
            {
                value(String(decoding: trimmed(text[(colon + 1)...]), as: UTF8.self), kind)
                continue
            }
            uri(String(decoding: text, as: UTF8.self))
            // A start line's Request-URI: the second of three space-separated words.
            let words = text.split(separator: 0x20)
            if words.count == 3 { uri(String(decoding: words[1], as: UTF8.self)) }
        }
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return [] }
        return bytes[first...last]
    }

    static func uri(_ text: String) {
        if let uri = try? SIPURI(parsing: text) {
            _ = (uri.unescapedUser, uri.transport, uri.maddr, uri.isLooseRouting, uri.hasOutboundParameter)
            _ = uri.isEquivalent(to: uri)
            _ = URIEscaping.escaped(URIEscaping.unescaped(uri.user ?? ""), for: .user)
            guard let again = try? SIPURI(parsing: uri.description) else {
                fatalError("invariant broken: a printed SIP URI parses")
            }
            require(again.description == uri.description, "a SIP URI prints the same after a round trip")
        }
        if let uri = try? AddressURI(parsing: text) {
            _ = uri.scheme
            guard let again = try? AddressURI(parsing: uri.description) else {
                fatalError("invariant broken: a printed URI parses")
            }
            require(again.description == uri.description, "a URI prints the same after a round trip")
            _ = uri.isEquivalent(to: again)
        }
    }

    static func value(_ text: String, _ kind: Kind) {
        switch kind {
        case .nameAddress(let header):
            guard let address = try? NameAddress(parsing: text, header: header) else { return }
            _ = (address.tag, address.sipURI)
            guard let again = try? NameAddress(parsing: address.description, header: header) else {
                fatalError("invariant broken: a printed name-addr parses")
            }
            require(again.description == address.description, "a name-addr prints the same after a round trip")
        case .via:
            guard let vias = try? Via.parseList(text) else { return }
            for via in vias {
                _ = (via.branch, via.hasMagicCookie, via.received, via.rport, via.maddr, via.ttl, via.sentBy)
                _ = via.responseDestination()
                guard let again = try? Via.parseList(via.description), again.count == 1 else {
                    fatalError("invariant broken: a printed Via parses")
                }
                require(again[0].description == via.description, "a Via prints the same after a round trip")
            }
        case .cseq:
            guard let cseq = try? CSeq(parsing: text) else { return }
            require((try? CSeq(parsing: cseq.description)) == cseq, "a printed CSeq parses to the same")
        case .mediaType:
            guard let type = try? MediaType(parsing: text) else { return }
            require((try? MediaType(parsing: type.description)) != nil, "a printed media type parses")
        }
    }
}
