import NIOCore

/// Decoding of STUN messages (RFC 8489 §5, §14, §15) and the cheap test that tells STUN from the other
/// protocols multiplexed on one port (RFC 7983 §7, RFC 8489 §6.3).
public enum STUNCodec {
    /// The magic cookie, bytes 4-7 of every STUN message (RFC 8489 §5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// The length of the STUN header (RFC 8489 §5).
    public static let headerLength = 20

    /// Decodes one whole STUN message: `bytes` must be exactly the header plus the length it gives (one UDP
    /// datagram; over TCP use `messageLength(header:)` to frame first).
    ///
    /// Checks, in order: at least 20 bytes (`tooShort`); first two bits zero and the magic cookie
    /// (`notSTUN`); length a multiple of 4 equal to what follows the header (`lengthMismatch`); each attribute
    /// within the message and well-formed for its type (`malformedAttribute`); nothing after FINGERPRINT
    /// (`attributeAfterFingerprint`). Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT are skipped unread (§14.5), as are those after MESSAGE-INTEGRITY-SHA256 other than
    /// FINGERPRINT (§14.6). Padding bytes may hold anything (RFC 5389 senders padded with spaces).
    ///
    /// Integrity and fingerprint are not checked here: see `ParsedSTUNMessage`.
    public static func decode(_ bytes: some Collection<UInt8>) throws(STUNDecodingError) -> ParsedSTUNMessage {
        try decode(array: Array(bytes))
    }

    /// As `decode(_:)`, for the readable bytes of `buffer` (which is not consumed).
    public static func decode(_ buffer: ByteBuffer) throws(STUNDecodingError) -> ParsedSTUNMessage {
        try decode(array: buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? [])
    }

    /// As `decode(_:)`, for raw memory.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(STUNDecodingError) -> ParsedSTUNMessage {
        try decode(array: Array(bytes))
    }

    /// True when `bytes` could be a STUN message: at least 20 bytes, the first two bits zero (RFC 7983 §7:
    /// a first byte of 0-3), the magic cookie in bytes 4-7, and a length field that is a multiple of 4
    /// (RFC 8489 §6.3). ChannelData (first byte 64-79), DTLS (20-63) and RTP/RTCP (128-191) fail it.
    public static func looksLikeSTUN(_ bytes: some Collection<UInt8>) -> Bool {
        var header: [UInt8] = []
        header.reserveCapacity(8)
        for byte in bytes.prefix(8) {
            header.append(byte)
        }
        guard header.count == 8, bytes.count >= headerLength else { return false }
        return looksLikeSTUN(header: header)
    }

    /// As `looksLikeSTUN(_:)`, for the readable bytes of `buffer`.
    public static func looksLikeSTUN(_ buffer: ByteBuffer) -> Bool {
        guard buffer.readableBytes >= headerLength, let header = buffer.getBytes(at: buffer.readerIndex, length: 8)
        else { return false }
        return looksLikeSTUN(header: header)
    }

    private static func looksLikeSTUN(header: [UInt8]) -> Bool {
        let reader = ValueReader(base: header, range: 0..<header.count)
        return header.count >= 8 && header[0] & 0xC0 == 0 && reader.uint16(at: 2) % 4 == 0
            && reader.uint32(at: 4) == magicCookie
    }

    /// The total length (header included) of the STUN message starting with `header`, from its length field;
    /// nil when fewer than 4 bytes are given or the first two bits are not zero. For framing STUN over a
    /// stream (RFC 8489 §6.2.2; with ChannelData, RFC 8656 §12.5).
    public static func messageLength(header: some Collection<UInt8>) -> Int? {
        let head = Array(header.prefix(4))
        guard head.count == 4, head[0] & 0xC0 == 0 else { return nil }
        return headerLength + (Int(head[2]) << 8 | Int(head[3]))
    }

    // MARK: Decoding

    private static func decode(array bytes: [UInt8]) throws(STUNDecodingError) -> ParsedSTUNMessage {
        guard bytes.count >= headerLength else { throw .tooShort }
        let header = ValueReader(base: bytes, range: 0..<headerLength)
        guard bytes[0] & 0xC0 == 0, header.uint32(at: 4) == magicCookie,
            let type = STUNMessageType(rawValue: header.uint16(at: 0))
        else { throw .notSTUN }
        let length = Int(header.uint16(at: 2))
        guard length % 4 == 0, headerLength + length == bytes.count else { throw .lengthMismatch }
        let transactionIDBytes = Array(bytes[8..<headerLength])

        var attributes: [STUNAttribute] = []
        var unknownComprehensionRequired: [UInt16] = []
        var messageIntegrity: ParsedSTUNMessage.Trailer?
        var messageIntegritySHA256: ParsedSTUNMessage.Trailer?
        var fingerprint: ParsedSTUNMessage.Trailer?

        let end = bytes.count
        var offset = headerLength
        while offset < end {
            guard end - offset >= 4 else { throw .lengthMismatch }
            let attributeHeader = ValueReader(base: bytes, range: offset..<(offset + 4))
            let type = attributeHeader.uint16(at: 0)
            let valueLength = Int(attributeHeader.uint16(at: 2))
            let valueStart = offset + 4
            guard valueLength <= end - valueStart else { throw .malformedAttribute(type: type) }
            let paddedLength = (valueLength + 3) & ~3
            let next = min(valueStart + paddedLength, end)
            if fingerprint != nil { throw .attributeAfterFingerprint }
            let trailer = ParsedSTUNMessage.Trailer(offset: offset, valueLength: valueLength)
            defer { offset = next }

            switch type {
            case STUNAttributeType.fingerprint:
                fingerprint = trailer
            case STUNAttributeType.messageIntegrity:
                // §14.5/§14.6: a second MESSAGE-INTEGRITY, or one after MESSAGE-INTEGRITY-SHA256, is ignored.
                guard messageIntegrity == nil, messageIntegritySHA256 == nil else { continue }
                messageIntegrity = trailer
            case STUNAttributeType.messageIntegritySHA256:
                guard messageIntegritySHA256 == nil else { continue }
                messageIntegritySHA256 = trailer
            default:
                // §14.5: everything but the trailers after MESSAGE-INTEGRITY(-SHA256) is ignored.
                guard messageIntegrity == nil, messageIntegritySHA256 == nil else { continue }
            }

            let attribute = try STUNAttribute.decode(
                type: type, bytes: bytes, value: valueStart..<(valueStart + valueLength),
                transactionID: transactionIDBytes)
            if case .unknown(let unknownType, _) = attribute, STUNAttributeType.isComprehensionRequired(unknownType),
                !unknownComprehensionRequired.contains(unknownType)
            {
                unknownComprehensionRequired.append(unknownType)
            }
            attributes.append(attribute)
        }

        let message = STUNMessage(
            type: type, transactionID: TransactionID(uncheckedBytes: transactionIDBytes), attributes: attributes)
        return ParsedSTUNMessage(
            message: message, unknownComprehensionRequired: unknownComprehensionRequired, rawBytes: bytes,
            messageIntegrity: messageIntegrity, messageIntegritySHA256: messageIntegritySHA256,
            fingerprint: fingerprint)
    }
}
