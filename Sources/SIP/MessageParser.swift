#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses one SIP message from bytes (RFC 3261 §7, grammar §25): strict where the message's routing depends on
/// it (start line, Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact, Route,
/// Record-Route), tolerant where RFC 4475 §3.1.1 asks (folding, compact forms, any case, whitespace around
/// colons, unknown headers kept verbatim, leading CRLFs, bare LF line ends).
///
/// Everything is bounded by `Limits`, each byte is looked at a bounded number of times, and no input
/// traps: a bad message yields a `MessageParseFailure` that says what was wrong and, when the message was
/// a request whose Via is readable, lets the caller answer it (400, or 505 for another SIP version).
///
/// `parse(_:)` is the single entry point for fuzzing (see `fuzz(_:)`).
public struct MessageParser: Sendable {
    /// Bounds on what one message may cost.
    public struct Limits: Hashable, Sendable {
        /// The largest message accepted, start line to end of body. 65 535 is the largest UDP payload and
        /// what Kamailio buffers per message.
        public var maxMessageSize: Int
        /// The most header field lines. RFC 4475 `longreq` has 46; real traffic stays well below 100.
        public var maxHeaderCount: Int
        /// The longest start line or header field, folded lines counted together.
        public var maxLineLength: Int

        public init(maxMessageSize: Int = 65_535, maxHeaderCount: Int = 256, maxLineLength: Int = 8_192) {
            self.maxMessageSize = maxMessageSize
            self.maxHeaderCount = maxHeaderCount
            self.maxLineLength = maxLineLength
        }
    }

    /// Headers checked against their grammar when a message is parsed; malformed ones fail the parse.
    public static let validatedHeaders: [SIPHeaderName] = [
        .via, .from, .to, .callID, .cseq, .maxForwards, .contentLength, .contentType, .contact, .route,
        .recordRoute,
    ]

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Parses `bytes` as one message (a UDP datagram, a WebSocket message (RFC 7118 §5), or one frame cut
    /// by `StreamFramer`). With Content-Length, bytes past the body are ignored (§18.3, RFC 4475 `dblreq`)
    /// and a shorter body is an error (RFC 4475 `clerr`); without it, the body is everything after the
    /// blank line.
    public func parse(_ bytes: some Collection<UInt8>) -> Result<SIPMessage, MessageParseFailure> {
        if let result = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0) }) {
            return result
        }
        let copy = Array(bytes)
        return copy.withUnsafeBufferPointer { parse(buffer: $0) }
    }

    /// Parses `buffer` as one message (see `parse(_:)`).
    public func parse(buffer bytes: UnsafeBufferPointer<UInt8>) -> Result<SIPMessage, MessageParseFailure> {
        let count = bytes.count
        guard count <= limits.maxMessageSize else {
            return .failure(MessageParseFailure(error: SIPParseError(.messageTooLarge)))
        }
        var position = 0
        // §7.5: CRLFs before the start line are ignored.
        while position < count, bytes[position] == 0x0D || bytes[position] == 0x0A { position += 1 }
        guard position < count else { return .failure(MessageParseFailure(error: SIPParseError(.empty))) }

        // Start line.
        let startLine = position..<lineEnd(bytes, from: position)
        guard startLine.count <= limits.maxLineLength else {
            return .failure(MessageParseFailure(error: SIPParseError(.lineTooLong)))
        }
        position = afterLineBreak(bytes, startLine.upperBound)
        let isRequest = !hasPrefixIgnoringCase(bytes, startLine, "SIP/")

        // Header fields, unfolded.
        var fields: [SIPHeader] = []
        fields.reserveCapacity(16)
        var bodyStart = count
        var fatal: SIPParseError?
        while position < count {
            let byte = bytes[position]
            if byte == 0x0A || (byte == 0x0D && position + 1 < count && bytes[position + 1] == 0x0A) {
                bodyStart = afterLineBreak(bytes, position)
                break
            }
            if ByteClass.isWhitespace(byte) {
                fatal = SIPParseError(.misplacedContinuation)
                break
            }
            let fieldStart = position
            var cursor = ByteCursor(bytes, range: position..<count)
            let nameRange = cursor.readToken()
            while let next = cursor.peek(), ByteClass.isWhitespace(next) { cursor.index += 1 }
            guard !nameRange.isEmpty, cursor.consume(UInt8(ascii: ":")) else {
                fatal = SIPParseError(.invalidHeaderName)
                break
            }
            // The value runs to the end of the line and over every continuation line (LWS, §7.3.1).
            // Most fields are one line: the array of continuation lines is only allocated for folded ones.
            var segmentStart = cursor.index
            var end = lineEnd(bytes, from: segmentStart)
            let firstSegment = segmentStart..<end
            var continuations: [Range<Int>] = []
            position = afterLineBreak(bytes, end)
            while position < count, ByteClass.isWhitespace(bytes[position]),
                position - fieldStart <= limits.maxLineLength
            {
                segmentStart = position
                end = lineEnd(bytes, from: segmentStart)
                continuations.append(segmentStart..<end)
                position = afterLineBreak(bytes, end)
            }
            guard position - fieldStart <= limits.maxLineLength + 2 else {
                fatal = SIPParseError(.lineTooLong)
                break
            }
            guard fields.count < limits.maxHeaderCount else {
                fatal = SIPParseError(.tooManyHeaders)
                break
            }
            let name = SIPHeaderName.lookUp(bytes, nameRange)
            fields.append(SIPHeader(name, headerValue(bytes, firstSegment, continuations)))
        }
        let headers = SIPHeaders(fields)
        var methodToken: SIPMethod?
        if isRequest, let space = firstIndex(of: 0x20, in: bytes, startLine) {
            let token = startLine.lowerBound..<space
            if !token.isEmpty, bytes[token].allSatisfy({ ByteClass.test($0, ByteClass.token) }) {
                methodToken = SIPMethod(string(bytes, token))
            }
        }
        func failure(_ error: SIPParseError) -> Result<SIPMessage, MessageParseFailure> {
            .failure(MessageParseFailure(error: error, isRequest: isRequest, method: methodToken, headers: headers))
        }
        if let fatal { return failure(fatal) }

        // The start line, now that the headers needed to answer an error are known.
        var request: SIPRequest?
        var response: SIPResponse?
        if isRequest {
            switch parseRequestLine(bytes, startLine) {
            case .success(let parsed): request = parsed
            case .failure(let error): return failure(error)
            }
        } else {
            switch parseStatusLine(bytes, startLine) {
            case .success(let parsed): response = parsed
            case .failure(let error): return failure(error)
            }
        }

        let parsed: ParsedHeaders
        switch validated(headers, isRequest: isRequest, method: request?.method) {
        case .success(let values): parsed = values
        case .failure(let error): return failure(error)
        }

        // Body (§18.3): Content-Length bytes after the blank line.
        let available = count - bodyStart
        var bodyLength = available
        if let declared = try? headers.contentLength() {
            guard declared <= available else { return failure(SIPParseError(.bodyShorterThanContentLength)) }
            bodyLength = declared
        }
        let body = Array(UnsafeBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + bodyLength)]))
        if var request {
            request.headers = SIPHeaders(headers.fields, parsed: parsed)
            request.body = body
            return .success(.request(request))
        }
        guard var response else { return failure(SIPParseError(.invalidStartLine)) }
        response.headers = SIPHeaders(headers.fields, parsed: parsed)
        response.body = body
        return .success(.response(response))
    }

    /// Checks the grammar of `validatedHeaders`, single occurrence of From, To, Call-ID, CSeq, Max-Forwards,
    /// Content-Length and Content-Type (§7.3.1; RFC 4475 `multi01`, `mcl01`), presence of the
    /// mandatory headers (§8.1.1; Max-Forwards excepted: a proxy adds it, §16.6 step 3) and the CSeq method.
    func validate(_ headers: SIPHeaders, isRequest: Bool, method: SIPMethod?) -> SIPParseError? {
        if case .failure(let error) = validated(headers, isRequest: isRequest, method: method) { return error }
        return nil
    }

    /// `validate`, returning on success the values it parsed on the way (Via list, From, To, CSeq), which
    /// the parsed message's headers keep for their typed accessors.
    func validated(
        _ headers: SIPHeaders, isRequest: Bool, method: SIPMethod?
    ) -> Result<ParsedHeaders, SIPParseError> {
        var vias: [Via] = []
        // Present or not is told by `seen`; these are the tags, nil when the header has none.
        var fromTag: String?
        var toTag: String?
        var cseqValue: CSeq?
        // Known headers seen so far, one bit per `KnownHeader` number (the validated ones are all below 64).
        var seen: UInt64 = 0
        let singleValuedMask = Self.singleValuedMask
        let fields = headers.fields
        for index in fields.indices {
            // The number is read in place: extension lines are skipped without being copied out.
            let id = fields[index].name.id
            guard id != .extension, id.rawValue < 64 else { continue }
            let field = fields[index]
            let bit: UInt64 = 1 << UInt64(id.rawValue)
            if seen & bit != 0, singleValuedMask & bit != 0 {
                return .failure(SIPParseError(.duplicateHeader, header: field.name))
            }
            seen |= bit
            let name = field.name
            do throws(SIPParseError) {
                switch id {
                case .via:
                    // One Via line is the usual case: its list is the whole list, with no append.
                    let values = try Via.parseList(field.value)
                    if vias.isEmpty { vias = values } else { vias += values }
                case .from: fromTag = try NameAddress.validatedTag(field.value, header: name)
                case .to: toTag = try NameAddress.validatedTag(field.value, header: name)
                case .callID:
                    guard SIPHeaders.isValidCallID(field.value) else {
                        throw SIPParseError(.malformedHeader, header: name)
                    }
                case .cseq:
                    let cseq = try CSeq(parsing: field.value)
                    if isRequest, let method, cseq.method != method {
                        throw SIPParseError(.cseqMethodMismatch, header: .cseq)
                    }
                    cseqValue = cseq
                case .maxForwards:
                    guard SIPHeaders.decimal(field.value, limit: 255) != nil else {
                        throw SIPParseError(.malformedHeader, header: name)
                    }
                case .contentLength:
                    guard SIPHeaders.decimal(field.value, limit: UInt64(limits.maxMessageSize)) != nil else {
                        throw SIPParseError(.invalidContentLength, header: name)
                    }
                case .contentType: _ = try MediaType(parsing: field.value)
                case .contact:
                    if field.value != "*" { _ = try NameAddress.parseList(field.value, header: name, build: false) }
                case .route, .recordRoute: _ = try NameAddress.parseList(field.value, header: name, build: false)
                default: break
                }
            } catch {
                return .failure(error)
            }
        }
        if seen & Self.mandatoryMask == Self.mandatoryMask, let cseqValue {
            return .success(ParsedHeaders(vias: vias, fromTag: fromTag, toTag: toTag, cseq: cseqValue))
        }
        for name in Self.mandatoryHeaders where seen & (1 << UInt64(name.id.rawValue)) == 0 {
            return .failure(SIPParseError(.missingHeader, header: name))
        }
        // Unreachable: every mandatory header was seen, so each was parsed above.
        return .failure(SIPParseError(.missingHeader, header: .via))
    }

    /// The headers a message may hold once only (§7.3.1), one bit per `KnownHeader` number.
    static let singleValuedMask: UInt64 = [
        KnownHeader.from, .to, .callID, .cseq, .maxForwards, .contentLength, .contentType,
    ]
    .reduce(0) { $0 | 1 << UInt64($1.rawValue) }

    /// The headers every request and response must have (§8.1.1), in the order a missing one is reported.
    static let mandatoryHeaders: [SIPHeaderName] = [.via, .from, .to, .callID, .cseq]
    static let mandatoryMask: UInt64 = mandatoryHeaders.reduce(0) { $0 | 1 << UInt64($1.id.rawValue) }

    /// `Method SP Request-URI SP SIP-Version` with exactly one SP between elements and none after
    /// (§7.1; RFC 4475 `lwsstart`, `trws`, `lwsruri`, `ltgtruri`, `escruri`).
    func parseRequestLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Result<SIPRequest, SIPParseError>
    {
        let invalid = SIPParseError(.invalidStartLine)
        guard let firstSpace = firstIndex(of: 0x20, in: bytes, line),
            let lastSpace = lastIndex(of: 0x20, in: bytes, line), lastSpace > firstSpace
        else { return .failure(invalid) }
        let methodRange = line.lowerBound..<firstSpace
        let uriRange = (firstSpace + 1)..<lastSpace
        let versionRange = (lastSpace + 1)..<line.upperBound
        guard !methodRange.isEmpty, bytes[methodRange].allSatisfy({ ByteClass.test($0, ByteClass.token) }) else {
            return .failure(invalid)
        }
        guard !uriRange.isEmpty, !bytes[uriRange].contains(where: ByteClass.isWhitespace) else {
            return .failure(invalid)
        }
        if let error = checkVersion(bytes, versionRange) { return .failure(error) }
        guard bytes[uriRange.lowerBound] != UInt8(ascii: "<"), let uri = AddressURI.parse(bytes, uriRange) else {
            return .failure(SIPParseError(.invalidRequestURI))
        }
        // §19.1.1 table: headers are not allowed in a Request-URI.
        if case .sip(let sipURI) = uri, !sipURI.headers.isEmpty { return .failure(SIPParseError(.invalidRequestURI)) }
        return .success(SIPRequest(method: SIPMethod(string(bytes, methodRange)), uri: uri))
    }

    /// `SIP-Version SP Status-Code SP Reason-Phrase` (§7.2); an empty reason phrase is allowed (RFC 4475
    /// `noreason`), any UTF-8 in it too (`unreason`).
    func parseStatusLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) -> Result<SIPResponse, SIPParseError>
    {
        guard let firstSpace = firstIndex(of: 0x20, in: bytes, line) else {
            return .failure(SIPParseError(.invalidStartLine))
        }
        if let error = checkVersion(bytes, line.lowerBound..<firstSpace) { return .failure(error) }
        let codeStart = firstSpace + 1
        let codeEnd = codeStart + 3
        guard codeEnd <= line.upperBound, codeEnd == line.upperBound || bytes[codeEnd] == 0x20,
            bytes[codeStart..<codeEnd].allSatisfy({ ByteClass.test($0, ByteClass.digit) })
        else { return .failure(SIPParseError(.invalidStatusCode)) }
        let value = bytes[codeStart..<codeEnd].reduce(UInt16(0)) { $0 * 10 + UInt16($1 - 0x30) }
        guard let code = SIPStatusCode(rawValue: value) else { return .failure(SIPParseError(.invalidStatusCode)) }
        let reason = codeEnd < line.upperBound ? string(bytes, (codeEnd + 1)..<line.upperBound) : ""
        return .success(SIPResponse(statusCode: code, reasonPhrase: reason))
    }

    /// nil for `SIP/2.0` (any case, §7.1); `.unsupportedVersion` for another well-formed version;
    /// `.invalidStartLine` otherwise.
    func checkVersion(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> SIPParseError? {
        guard hasPrefixIgnoringCase(bytes, range, "SIP/") else { return SIPParseError(.invalidStartLine) }
        let rest = (range.lowerBound + 4)..<range.upperBound
        if rest.count == 3, bytes[rest.lowerBound] == 0x32, bytes[rest.lowerBound + 1] == 0x2E,
            bytes[rest.lowerBound + 2] == 0x30
        {
            return nil
        }
        guard let dot = firstIndex(of: 0x2E, in: bytes, rest), dot > rest.lowerBound, dot + 1 < rest.upperBound,
            bytes[rest].allSatisfy({ ByteClass.test($0, ByteClass.digit) || $0 == 0x2E }),
            bytes[rest].filter({ $0 == 0x2E }).count == 1
        else { return SIPParseError(.invalidStartLine) }
        return SIPParseError(.unsupportedVersion)
    }

    /// The value of a header field from its line segments: CRLFs of folding removed, the leading
    /// whitespace of continuation lines kept as separators, the whole trimmed.
    func headerValue(_ bytes: UnsafeBufferPointer<UInt8>, _ first: Range<Int>, _ continuations: [Range<Int>]) -> String
    {
        if continuations.isEmpty {
            var range = first
            while !range.isEmpty, isLWSByte(bytes[range.lowerBound]) {
                range = (range.lowerBound + 1)..<range.upperBound
            }
            while !range.isEmpty, isLWSByte(bytes[range.upperBound - 1]) {
                range = range.lowerBound..<(range.upperBound - 1)
            }
            return string(bytes, range)
        }
        var joined: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[first]))
        for segment in continuations { joined += UnsafeBufferPointer(rebasing: bytes[segment]) }
        var lower = 0
        var upper = joined.count
        while lower < upper, isLWSByte(joined[lower]) { lower += 1 }
        while upper > lower, isLWSByte(joined[upper - 1]) { upper -= 1 }
        return String(decoding: joined[lower..<upper], as: UTF8.self)
    }

    /// The index of the CR of the next CRLF, of a bare LF, or `count`.
    /// The LF is found with memchr(3), which reads a word or a vector at a time: a byte loop cost
    /// three instructions a byte, a tenth of all the parser's work.
    func lineEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let count = bytes.count
        guard start < count, let base = bytes.baseAddress else { return count }
        guard let found = memchr(base + start, 0x0A, count - start) else { return count }
        let index = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
        if index > start, bytes[index - 1] == 0x0D { return index - 1 }
        return index
    }

    /// The index after the line break at `end` (CRLF or LF; a stray CR alone counts as one byte).
    func afterLineBreak(_ bytes: UnsafeBufferPointer<UInt8>, _ end: Int) -> Int {
        guard end < bytes.count else { return end }
        if bytes[end] == 0x0D { return end + 1 < bytes.count && bytes[end + 1] == 0x0A ? end + 2 : end + 1 }
        return end + 1
    }

    func firstIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    func lastIndex(of byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var index = range.upperBound
        while index > range.lowerBound {
            index -= 1
            if bytes[index] == byte { return index }
        }
        return nil
    }

    func hasPrefixIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ prefix: StaticString) -> Bool
    {
        guard range.count >= prefix.utf8CodeUnitCount else { return false }
        let pointer = prefix.utf8Start
        for offset in 0..<prefix.utf8CodeUnitCount
        where ByteClass.lowercased(bytes[range.lowerBound + offset]) != ByteClass.lowercased(pointer[offset]) {
            return false
        }
        return true
    }

    func string(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The libFuzzer target's body: parses `bytes` and, when that succeeds, exercises the typed accessors
    /// and a serialize-and-reparse round trip. It must never trap, whatever the bytes.
    public static func fuzz(_ bytes: UnsafeRawBufferPointer) {
        let parser = MessageParser()
        switch parser.parse(bytes.bindMemory(to: UInt8.self)) {
        case .success(let message):
            let headers = message.headers
            _ = try? headers.vias()
            _ = try? headers.routes()
            _ = try? headers.contact()
            _ = try? headers.supported()
            _ = try? headers.paths()
            if let request = message.request { _ = TransactionKey.server(for: request) }
            let bytes = message.serialized()
            _ = parser.parse(bytes)
        case .failure(let failure):
            _ = failure.makeResponse(toTag: "fuzz")
        }
    }
}

/// Why a message could not be parsed, with what was read of it so that a server can still answer a bad
/// request (§8.2.6: the response copies Via, From, To, Call-ID, CSeq) or decide to drop it.
public struct MessageParseFailure: Error, Hashable, Sendable {
    public let error: SIPParseError
    /// Whether the start line looked like a request (did not begin with `SIP/`).
    public let isRequest: Bool
    /// The request method, when the start line began with a method token.
    public let method: SIPMethod?
    /// The header fields read before the error (all of them when the error is not about framing).
    public let headers: SIPHeaders

    init(error: SIPParseError, isRequest: Bool = false, method: SIPMethod? = nil, headers: SIPHeaders = []) {
        self.error = error
        self.isRequest = isRequest
        self.method = method
        self.headers = headers
    }

    /// Whether an error response can be sent: the message is a request other than ACK (§17.2.1: ACK is
    /// never answered) whose top Via parses, so the response can be routed back (§18.2.2). Otherwise drop.
    public var canRespond: Bool {
        guard isRequest, method != .ack else { return false }
        return (try? headers.topVia()) != nil
    }

    /// The error response (400, 505 or 513 with a reason naming the fault) built as §8.2.6 says, or nil
    /// when `canRespond` is false. `toTag` is added to To when To has none.
    public func makeResponse(toTag: String?) -> SIPResponse? {
        guard canRespond else { return nil }
        var headers = SIPHeaders()
        for field in self.headers.fields
        where field.name == .via || field.name == .from || field.name == .callID || field.name == .cseq {
            headers.fields.append(field)
        }
        if let to = self.headers.first(.to) {
            let hasTag = (try? NameAddress(parsing: to))?.tag != nil
            headers.append(.to, hasTag || toTag == nil ? to : "\(to);tag=\(toTag!)")
        }
        return SIPResponse(statusCode: error.responseStatus, reasonPhrase: error.reasonPhrase, headers: headers)
    }
}
