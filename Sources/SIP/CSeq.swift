/// The CSeq header (RFC 3261 §20.16, §8.1.1.5): a sequence number and the request's method, which
/// orders requests within a dialog and ties a response to its request's method.
public struct CSeq: Hashable, Sendable, CustomStringConvertible {
    /// A 32-bit unsigned number (§8.1.1.5); larger values are a parse error (RFC 4475 `scalar02`).
    public var sequence: UInt32
    public var method: SIPMethod

    public init(_ sequence: UInt32, _ method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    public var description: String { "\(sequence) \(method.name)" }

    /// Parses `1*DIGIT LWS Method` (leading zeros allowed, RFC 4475 `wsinv`).
    public init(parsing value: String) throws(SIPParseError) {
        let parsed: CSeq? = value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            cursor.skipWhitespace()
            let digits = cursor.read(ByteClass.digit)
            guard let sequence = cursor.decimal(digits, limit: UInt64(UInt32.max)) else { return nil }
            let spaceStart = cursor.index
            cursor.skipWhitespace()
            guard cursor.index > spaceStart else { return nil }
            let method = cursor.readToken()
            guard !method.isEmpty else { return nil }
            cursor.skipWhitespace()
            guard cursor.isAtEnd else { return nil }
            return CSeq(UInt32(sequence), SIPMethod(cursor.string(method)))
        }
        guard let parsed else { throw SIPParseError(.malformedHeader, header: .cseq) }
        self = parsed
    }
}
