/// Cuts a TCP or TLS byte stream into SIP messages (RFC 3261 §18.3: the header ends at the first empty
/// line and Content-Length gives the body's size), and recognises RFC 5626 §3.5.1 keep-alives between
/// messages: a CRLFCRLF "ping", which the server answers with a CRLF "pong", and a lone CRLF, which is
/// skipped. Pure and incremental: feed bytes with `append`, then call `next()` until it returns nil.
///
/// Buffering is bounded: a header section longer than `Limits.maxHeaderBytes` without an empty line, or
/// a message longer than `Limits.maxMessageSize`, is an error after which the connection must be closed
/// (the stream cannot be resynchronised, RFC 4475 `ncl`). Bytes are scanned once, however they are split.
public struct StreamFramer: Sendable {
    public struct Limits: Hashable, Sendable {
        /// The longest header section (start line to empty line).
        public var maxHeaderBytes: Int
        /// The longest message, header section plus body.
        public var maxMessageSize: Int

        public init(maxHeaderBytes: Int = 16_384, maxMessageSize: Int = 65_535) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxMessageSize = maxMessageSize
        }
    }

    /// What the stream produced.
    public enum Output: Hashable, Sendable {
        /// One whole message: header section and exactly Content-Length body bytes; hand it to `MessageParser`.
        case message([UInt8])
        /// A CRLFCRLF keep-alive ping (RFC 5626 §3.5.1): answer with a single CRLF.
        case keepAlivePing
    }

    /// Why the stream cannot be framed; close the connection.
    public enum FramingError: Error, Hashable, Sendable {
        case headerTooLarge
        case messageTooLarge
        /// Content-Length is missing a number, negative, repeated with different values, or too large to frame.
        case invalidContentLength
    }

    public var limits: Limits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the empty line resumes, so drip-fed bytes are not rescanned.
    private var scanIndex = 0
    /// The length of the message at `readIndex` once its header section has been read.
    private var pendingLength: Int?
    private var failure: FramingError?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as a message.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next message or keep-alive, nil when more bytes are needed.
    public mutating func next() throws(FramingError) -> Output? {
        if let failure { throw failure }
        do throws(FramingError) {
            let output = try nextOutput()
            compact()
            return output
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func nextOutput() throws(FramingError) -> Output? {
        while pendingLength == nil, readIndex < buffer.count {
            let byte = buffer[readIndex]
            guard byte == 0x0D || byte == 0x0A else { break }
            let available = buffer.count - readIndex
            if byte == 0x0A {
                readIndex += 1
                continue
            }
            // CR: a ping is CRLFCRLF; a pong (or stray blank line) is CRLF followed by anything else.
            guard available >= 2 else { return nil }
            guard buffer[readIndex + 1] == 0x0A else {
                readIndex += 1
                continue
            }
            guard available >= 3 else { return nil }
            if buffer[readIndex + 2] == 0x0D {
                guard available >= 4 else { return nil }
                if buffer[readIndex + 3] == 0x0A {
                    readIndex += 4
                    scanIndex = readIndex
                    return .keepAlivePing
                }
            }
            readIndex += 2
        }
        guard readIndex < buffer.count else { return nil }
        if scanIndex < readIndex { scanIndex = readIndex }

        if pendingLength == nil {
            guard let headerEnd = findHeaderEnd() else {
                if buffer.count - readIndex > limits.maxHeaderBytes { throw .headerTooLarge }
                return nil
            }
            guard headerEnd - readIndex <= limits.maxHeaderBytes else { throw .headerTooLarge }
            let bodyLength = try contentLength(in: readIndex..<headerEnd)
            let total = headerEnd - readIndex + bodyLength
            guard total <= limits.maxMessageSize else { throw .messageTooLarge }
            pendingLength = total
        }
        guard let length = pendingLength, buffer.count - readIndex >= length else { return nil }
        let message = Array(buffer[readIndex..<(readIndex + length)])
        readIndex += length
        scanIndex = readIndex
        pendingLength = nil
        return .message(message)
    }

    /// The index just after the empty line (CRLFCRLF, or LFLF tolerated) that ends the header section.
    private mutating func findHeaderEnd() -> Int? {
        var index = scanIndex
        let count = buffer.count
        while index < count {
            if buffer[index] == 0x0A {
                if index + 1 < count, buffer[index + 1] == 0x0A { return index + 2 }
                if index + 2 < count, buffer[index + 1] == 0x0D, buffer[index + 2] == 0x0A { return index + 3 }
                if index + 2 >= count { break }
            }
            index += 1
        }
        scanIndex = max(readIndex, index - 2)
        return nil
    }

    /// Content-Length (or `l`) from the header section; 0 when absent. Folded values are not expected here.
    private func contentLength(in range: Range<Int>) throws(FramingError) -> Int {
        var found: Int?
        var lineStart = range.lowerBound
        while lineStart < range.upperBound {
            var lineEnd = lineStart
            while lineEnd < range.upperBound, buffer[lineEnd] != 0x0A { lineEnd += 1 }
            if let value = try contentLengthValue(lineStart..<lineEnd) {
                if let found, found != value { throw .invalidContentLength }
                found = value
            }
            lineStart = lineEnd + 1
        }
        return found ?? 0
    }

    /// The value if `line` is a Content-Length header line.
    private func contentLengthValue(_ line: Range<Int>) throws(FramingError) -> Int? {
        var index = line.lowerBound
        let nameStart = index
        while index < line.upperBound, ByteClass.test(buffer[index], ByteClass.token) { index += 1 }
        let nameEnd = index
        let nameLength = nameEnd - nameStart
        guard nameLength == 1 || nameLength == 14 else { return nil }
        let expected: [UInt8] = nameLength == 1 ? [0x6C] : Array("content-length".utf8)
        for offset in 0..<nameLength where ByteClass.lowercased(buffer[nameStart + offset]) != expected[offset] {
            return nil
        }
        while index < line.upperBound, ByteClass.isWhitespace(buffer[index]) { index += 1 }
        guard index < line.upperBound, buffer[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        while index < line.upperBound, isLWSByte(buffer[index]) { index += 1 }
        var value = 0
        var digits = 0
        while index < line.upperBound, ByteClass.test(buffer[index], ByteClass.digit) {
            value = value * 10 + Int(buffer[index] - 0x30)
            digits += 1
            guard value <= limits.maxMessageSize else { throw .messageTooLarge }
            index += 1
        }
        while index < line.upperBound, isLWSByte(buffer[index]) { index += 1 }
        guard digits > 0, index == line.upperBound else { throw .invalidContentLength }
        return value
    }

    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096, readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }
}
