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
        bytes += method.name.utf8
        bytes.append(0x20)
        bytes += uri.description.utf8
        bytes += " SIP/2.0\r\n".utf8
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
        bytes += "SIP/2.0 ".utf8
        bytes += String(statusCode.rawValue).utf8
        bytes.append(0x20)
        // A reason phrase must not break the line (§25.1 Reason-Phrase has no CR or LF).
        appendSingleLine(reasonPhrase, to: &bytes)
        bytes += "\r\n".utf8
        headers.serialize(into: &bytes, bodyLength: body.count)
        bytes += body
    }
}

extension SIPHeaders {
    /// Writes the header lines, the recomputed Content-Length and the blank line.
    func serialize(into bytes: inout [UInt8], bodyLength: Int) {
        var wroteLength = false
        for field in fields {
            if field.name == .contentLength {
                if !wroteLength {
                    bytes += "Content-Length: ".utf8
                    bytes += String(bodyLength).utf8
                    bytes += "\r\n".utf8
                    wroteLength = true
                }
                continue
            }
            bytes += field.name.name.utf8
            bytes += ": ".utf8
            // Values never carry line breaks on the wire: folding was removed on parsing (§7.3.1).
            appendSingleLine(field.value, to: &bytes)
            bytes += "\r\n".utf8
        }
        if !wroteLength {
            bytes += "Content-Length: ".utf8
            bytes += String(bodyLength).utf8
            bytes += "\r\n".utf8
        }
        bytes += "\r\n".utf8
    }
}

/// Appends `text`, with any CR or LF replaced by SP so that it cannot end the line.
func appendSingleLine(_ text: String, to bytes: inout [UInt8]) {
    let start = bytes.count
    bytes += text.utf8
    var index = start
    while index < bytes.count {
        if bytes[index] == 0x0D || bytes[index] == 0x0A { bytes[index] = 0x20 }
        index += 1
    }
}
