/// Writing messages in canonical form (RFC 3261 §7): CRLF line ends, one `Name: value` line per stored
/// header line with known names in their long form, and a Content-Length that matches the body (§20.14;
/// required on stream transports, §18.3), written where the first one was or after the last header.
extension SIPMessage {
    /// The message as bytes.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(into: &bytes)
        return bytes
    }

    /// Appends the message to `bytes`.
    public func serialize(into bytes: inout [UInt8]) {
        switch self {
        case .request(let request): request.serialize(into: &bytes)
        case .response(let response): response.serialize(into: &bytes)
        }
    }
}

extension SIPRequest {
    /// The request as bytes.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(into: &bytes)
        return bytes
    }

    public func serialize(into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 512 + body.count)
        appendUTF8(method.name, to: &bytes)
        bytes.append(0x20)
        TextBuilder.appending(to: &bytes) { uri.append(to: &$0) }
        appendUTF8(" SIP/2.0\r\n", to: &bytes)
        headers.serialize(into: &bytes, bodyLength: body.count)
        bytes += body
    }
}

extension SIPResponse {
    /// The response as bytes.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(into: &bytes)
        return bytes
    }

    public func serialize(into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 512 + body.count)
        appendUTF8("SIP/2.0 ", to: &bytes)
        appendUTF8(String(statusCode.rawValue), to: &bytes)
        bytes.append(0x20)
        // A reason phrase must not break the line (§25.1 Reason-Phrase has no CR or LF).
        appendSingleLine(reasonPhrase, to: &bytes)
        bytes.append(0x0D)
        bytes.append(0x0A)
        headers.serialize(into: &bytes, bodyLength: body.count)
        bytes += body
    }
}

extension SIPHeaders {
    /// Writes the header lines, the recomputed Content-Length and the blank line.
    func serialize(into bytes: inout [UInt8], bodyLength: Int) {
        var wroteLength = false
        // Lines are read in place (by index), not copied out one by one with their strings retained.
        for index in fields.indices {
            // The id alone decides it: Content-Length is a known header.
            if fields[index].name.id == .contentLength {
                if !wroteLength {
                    appendContentLength(bodyLength, to: &bytes)
                    wroteLength = true
                }
                continue
            }
            appendUTF8(fields[index].name.name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(UInt8(ascii: " "))
            // Values never carry line breaks on the wire: folding was removed on parsing (§7.3.1).
            appendSingleLine(fields[index].value, to: &bytes)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        if !wroteLength { appendContentLength(bodyLength, to: &bytes) }
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// Appends `Content-Length: <length>` and CRLF.
    private func appendContentLength(_ length: Int, to bytes: inout [UInt8]) {
        appendUTF8("Content-Length: ", to: &bytes)
        appendUTF8(String(length), to: &bytes)
        bytes.append(0x0D)
        bytes.append(0x0A)
    }
}

/// Appends the UTF-8 of `text` in one copy. `bytes += text.utf8` goes through the generic
/// `append(contentsOf:)` of a sequence, which costs several times more per header line.
@inline(__always)
func appendUTF8(_ text: String, to bytes: inout [UInt8]) {
    let copied: Void? = text.utf8.withContiguousStorageIfAvailable { bytes.append(contentsOf: $0) }
    if copied == nil { bytes += text.utf8 }
}

/// Appends `text`, with any CR or LF replaced by SP so that it cannot end the line.
func appendSingleLine(_ text: String, to bytes: inout [UInt8]) {
    let start = bytes.count
    // The usual value has no CR or LF: it is checked where it lies and copied in one go.
    let hasBreak: Bool? = text.utf8.withContiguousStorageIfAvailable { source in
        let found = containsLineBreak(source)
        bytes.append(contentsOf: source)
        return found
    }
    if hasBreak == false { return }
    if hasBreak == nil { bytes += text.utf8 }
    var index = start
    while index < bytes.count {
        if bytes[index] == 0x0D || bytes[index] == 0x0A { bytes[index] = 0x20 }
        index += 1
    }
}

/// Whether `bytes` holds a CR or LF, read eight bytes at a time: header values are checked on every
/// serialization and almost never hold one.
func containsLineBreak(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = bytes.baseAddress else { return false }
    let count = bytes.count
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    var index = 0
    while index + 8 <= count {
        let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
        // `(x - ones) & ~x & highs` is nonzero exactly when some byte of `x` is zero, and a byte of
        // `word ^ (ones * 0x0D)` is zero where `word` holds a CR (likewise LF).
        let cr = word ^ (ones &* 0x0D)
        let lf = word ^ (ones &* 0x0A)
        if ((cr &- ones) & ~cr | (lf &- ones) & ~lf) & highs != 0 { return true }
        index += 8
    }
    while index < count {
        if base[index] == 0x0D || base[index] == 0x0A { return true }
        index += 1
    }
    return false
}
