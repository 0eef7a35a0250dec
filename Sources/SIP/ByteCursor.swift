/// A read position over a contiguous run of bytes, with the small steps the header grammars of
/// RFC 3261 §25 are built from. Every read checks `end`, so no input can move it out of bounds.
struct ByteCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int
    var end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.index = 0
        self.end = bytes.count
    }

    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { index >= end }

    @inline(__always)
    func peek() -> UInt8? {
        index < end ? bytes[index] : nil
    }

    @inline(__always)
    func peek(offset: Int) -> UInt8? {
        index + offset < end ? bytes[index + offset] : nil
    }

    /// Skips SP, HTAB and any CR or LF (header values are unfolded before typed parsing, so these
    /// stand for LWS, §25.1).
    mutating func skipWhitespace() {
        while index < end {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A else { return }
            index += 1
        }
    }

    /// Consumes `byte` if it is next.
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        guard index < end, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Consumes bytes of `mask` and returns their range (possibly empty).
    mutating func read(_ mask: ByteSet) -> Range<Int> {
        let start = index
        while index < end, ByteClass.test(bytes[index], mask) { index += 1 }
        return start..<index
    }

    /// Consumes a run of `token` characters (§25.1).
    mutating func readToken() -> Range<Int> {
        read(ByteClass.token)
    }

    /// Consumes until `stop` returns true or the end, returning what was consumed.
    mutating func read(until stop: (UInt8) -> Bool) -> Range<Int> {
        let start = index
        while index < end, !stop(bytes[index]) { index += 1 }
        return start..<index
    }

    /// Whether `bytes[range]` is `text`, ignoring ASCII case.
    func matches(_ range: Range<Int>, ignoringCase text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        let pointer = text.utf8Start
        for offset in 0..<range.count
        where ByteClass.lowercased(bytes[range.lowerBound + offset]) != ByteClass.lowercased(pointer[offset]) {
            return false
        }
        return true
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The bytes of `range` as a decimal number no greater than `limit`, or nil (empty, non-digit or too big).
    func decimal(_ range: Range<Int>, limit: UInt64) -> UInt64? {
        guard !range.isEmpty else { return nil }
        var value: UInt64 = 0
        for position in range {
            let byte = bytes[position]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
            if value > limit { return nil }
        }
        return value
    }

    /// Reads a quoted-string (§25.1) starting at the opening DQUOTE, returning the raw range with its
    /// quotes, or nil when it is not terminated.
    mutating func readQuotedString() -> Range<Int>? {
        let start = index
        guard consume(0x22) else { return nil }
        while index < end {
            let byte = bytes[index]
            if byte == 0x5C {
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                guard index + 1 < end, bytes[index + 1] <= 0x7F, bytes[index + 1] != 0x0A,
                    bytes[index + 1] != 0x0D
                else { index = start; return nil }
                index += 2
            } else if byte == 0x22 {
                index += 1
                return start..<index
            } else {
                index += 1
            }
        }
        index = start
        return nil
    }
}

/// Removes the quotes of a quoted-string and resolves its quoted-pairs (RFC 3261 §25.1).
func unquote(_ raw: String) -> String {
    guard raw.utf8.first == 0x22 else { return raw }
    let bytes = Array(raw.utf8)
    guard bytes.count >= 2, bytes.first == 0x22, bytes.last == 0x22 else { return raw }
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count)
    var index = 1
    while index < bytes.count - 1 {
        if bytes[index] == 0x5C, index + 1 < bytes.count - 1 {
            output.append(bytes[index + 1])
            index += 2
        } else {
            output.append(bytes[index])
            index += 1
        }
    }
    return String(decoding: output, as: UTF8.self)
}

/// Quotes `text` as a quoted-string, escaping `"` and `\` (RFC 3261 §25.1).
func quote(_ text: String) -> String {
    var output = "\""
    for scalar in text.unicodeScalars {
        if scalar == "\"" || scalar == "\\" { output.unicodeScalars.append("\\") }
        output.unicodeScalars.append(scalar)
    }
    output += "\""
    return output
}

/// The first comma of `value` that separates list elements (as `splitHeaderList` splits), or nil.
func listSeparator(in value: Substring) -> String.Index? {
    var inQuotes = false
    var inAngle = false
    var escaped = false
    let utf8 = value.utf8
    var index = utf8.startIndex
    while index != utf8.endIndex {
        let byte = utf8[index]
        if escaped {
            escaped = false
        } else if inQuotes {
            if byte == 0x5C { escaped = true } else if byte == 0x22 { inQuotes = false }
        } else if byte == 0x22 {
            inQuotes = true
        } else if byte == 0x3C {
            inAngle = true
        } else if byte == 0x3E {
            inAngle = false
        } else if byte == 0x2C, !inAngle {
            return index
        }
        index = utf8.index(after: index)
    }
    return nil
}

/// Splits a header value into its comma-separated elements (RFC 3261 §7.3.1), ignoring commas inside
/// quoted strings and angle brackets, trimming whitespace around each element. Empty elements are kept
/// so that a strict parser can reject them.
func splitHeaderList(_ value: String) -> [Substring] {
    // A separator is only found outside quotes and angle brackets, so scanning each element
    // afresh from the one before sees the same separators as one scan of the whole value.
    var elements: [Substring] = []
    var rest = value[...]
    while let comma = listSeparator(in: rest) {
        elements.append(trimmed(rest[..<comma]))
        rest = rest[rest.utf8.index(after: comma)...]
    }
    elements.append(trimmed(rest))
    return elements
}

func trimmed(_ text: Substring) -> Substring {
    var lower = text.utf8.startIndex
    var upper = text.utf8.endIndex
    let utf8 = text.utf8
    while lower < upper, isLWSByte(utf8[lower]) { lower = utf8.index(after: lower) }
    while upper > lower, isLWSByte(utf8[utf8.index(before: upper)]) { upper = utf8.index(before: upper) }
    return text[lower..<upper]
}

@inline(__always)
func isLWSByte(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
}
