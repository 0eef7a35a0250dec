import NIOCore

/// Wire encoding and decoding of attribute values: type, length, value, zero padding to a multiple of
/// 4 bytes (RFC 8489 §14), with each value laid out as its RFC section says.
extension STUNAttribute {
    /// The most UTF-8 bytes a decoded REALM, NONCE, SOFTWARE or reason phrase may have (RFC 8489 §14.8,
    /// §14.9, §14.10, §14.14: "as long as 763 bytes when decoding").
    public static let maxTextBytes = 763
    /// The most characters an encoded REALM, NONCE, SOFTWARE or reason phrase may have: "fewer than 128
    /// characters" (RFC 8489 §14.8-§14.14). Longer text is cut at a character boundary when encoding.
    public static let maxTextCharacters = 127
    /// The most UTF-8 bytes of an encoded USERNAME: "fewer than 509 bytes" (RFC 8489 §14.3).
    public static let maxUsernameBytes = 508
    /// The most UTF-8 bytes of a decoded USERNAME: RFC 5389 §15.3 allowed fewer than 513, and this codec
    /// still accepts that from older peers.
    public static let maxDecodedUsernameBytes = 512

    // MARK: Encoding

    /// Appends type, length, value and zero padding to `buffer`. `transactionID` must be the 12 bytes
    /// of the message, for the XOR-ed addresses.
    func write(into buffer: inout ByteBuffer, transactionID: [UInt8], paddingByte: UInt8 = 0) {
        let start = buffer.writerIndex
        buffer.writeInteger(type)
        buffer.writeInteger(UInt16(0))
        let valueStart = buffer.writerIndex
        writeValue(into: &buffer, transactionID: transactionID)
        let length = buffer.writerIndex - valueStart
        buffer.setInteger(UInt16(truncatingIfNeeded: length), at: start + 2)
        let padding = (4 - length % 4) % 4
        if padding > 0 {
            buffer.writeRepeatingByte(paddingByte, count: padding)
        }
    }

    private func writeValue(into buffer: inout ByteBuffer, transactionID: [UInt8]) {
        switch self {
        case .mappedAddress(let address), .alternateServer(let address):
            Self.writeAddress(address, into: &buffer)
        case .xorMappedAddress(let address), .xorPeerAddress(let address), .xorRelayedAddress(let address):
            Self.writeAddress(address.xored(transactionIDBytes: transactionID), into: &buffer)
        case .username(let text):
            buffer.writeBytes(Self.truncatedUTF8(text, maxCharacters: nil, maxBytes: Self.maxUsernameBytes))
        case .realm(let text), .nonce(let text), .software(let text):
            buffer.writeBytes(Self.truncatedText(text))
        case .userhash(let bytes), .messageIntegrity(let bytes), .messageIntegritySHA256(let bytes),
            .data(let bytes), .reservationToken(let bytes), .unknown(_, let bytes):
            buffer.writeBytes(bytes)
        case .fingerprint(let value), .lifetime(let value), .priority(let value):
            buffer.writeInteger(value)
        case .errorCode(let error):
            buffer.writeInteger(UInt16(0))
            Self.writeErrorCode(error, into: &buffer)
        case .addressErrorCode(let family, let error):
            buffer.writeInteger(family.rawValue)
            buffer.writeInteger(UInt8(0))
            Self.writeErrorCode(error, into: &buffer)
        case .unknownAttributes(let types):
            for type in types {
                buffer.writeInteger(type)
            }
        case .passwordAlgorithms(let algorithms):
            for algorithm in algorithms {
                buffer.writeInteger(algorithm.rawValue)
                buffer.writeInteger(UInt16(0))
            }
        case .passwordAlgorithm(let algorithm):
            buffer.writeInteger(algorithm.rawValue)
            buffer.writeInteger(UInt16(0))
        case .channelNumber(let number):
            buffer.writeInteger(number)
            buffer.writeInteger(UInt16(0))
        case .requestedTransport(let number):
            buffer.writeInteger(number)
            buffer.writeRepeatingByte(0, count: 3)
        case .requestedAddressFamily(let family), .additionalAddressFamily(let family):
            buffer.writeInteger(family.rawValue)
            buffer.writeRepeatingByte(0, count: 3)
        case .evenPort(let reserveNext):
            buffer.writeInteger(UInt8(reserveNext ? 0x80 : 0x00))
        case .dontFragment, .useCandidate:
            break
        case .iceControlled(let tieBreaker), .iceControlling(let tieBreaker):
            buffer.writeInteger(tieBreaker)
        }
    }

    /// RFC 8489 §14.1: a zero byte, the family, the port, the address.
    private static func writeAddress(_ address: TransportAddress, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(address.family.rawValue)
        buffer.writeInteger(address.port)
        buffer.writeBytes(address.wireAddressBytes)
    }

    /// RFC 8489 §14.8: 21 reserved bits (written by the caller up to the class), class in 3 bits, number
    /// in 8 bits, reason phrase. The code is clamped to 0...799 first.
    private static func writeErrorCode(_ error: STUNErrorCode, into buffer: inout ByteBuffer) {
        let code = min(max(error.code, 0), 799)
        buffer.writeInteger(UInt8(code / 100))
        buffer.writeInteger(UInt8(code % 100))
        buffer.writeBytes(truncatedText(error.reason))
    }

    /// `text` as UTF-8, cut to fewer than 128 characters (RFC 8489 §14.8-§14.14).
    static func truncatedText(_ text: String) -> [UInt8] {
        truncatedUTF8(text, maxCharacters: maxTextCharacters, maxBytes: 509)
    }

    /// `text` as UTF-8, cut at a grapheme boundary so that it has at most `maxCharacters` Unicode scalars and
    /// `maxBytes` bytes.
    static func truncatedUTF8(_ text: String, maxCharacters: Int?, maxBytes: Int) -> [UInt8] {
        let utf8 = text.utf8
        let scalarLimit = maxCharacters ?? Int.max
        if utf8.count <= maxBytes, maxCharacters == nil || text.unicodeScalars.count <= scalarLimit {
            return Array(utf8)
        }
        var result: [UInt8] = []
        var scalars = 0
        for character in text {
            let bytes = character.utf8
            let characterScalars = character.unicodeScalars.count
            guard result.count + bytes.count <= maxBytes, scalars + characterScalars <= scalarLimit else { break }
            result.append(contentsOf: bytes)
            scalars += characterScalars
        }
        return result
    }

    // MARK: Decoding

    /// Decodes the value of one attribute from `bytes[value]`. Every read is preceded by a length check, so
    /// no input can index out of bounds; `value` must lie within `bytes` and `transactionID` must be 12 bytes.
    static func decode(
        type: UInt16, bytes: [UInt8], value: Range<Int>, transactionID: [UInt8]
    ) throws(STUNDecodingError) -> STUNAttribute {
        let reader = ValueReader(base: bytes, range: value)
        let malformed = STUNDecodingError.malformedAttribute(type: type)
        switch type {
        case STUNAttributeType.mappedAddress:
            return .mappedAddress(try decodeAddress(reader, type: type))
        case STUNAttributeType.alternateServer:
            return .alternateServer(try decodeAddress(reader, type: type))
        case STUNAttributeType.xorMappedAddress:
            return .xorMappedAddress(try decodeAddress(reader, type: type).xored(transactionIDBytes: transactionID))
        case STUNAttributeType.xorPeerAddress:
            return .xorPeerAddress(try decodeAddress(reader, type: type).xored(transactionIDBytes: transactionID))
        case STUNAttributeType.xorRelayedAddress:
            return .xorRelayedAddress(try decodeAddress(reader, type: type).xored(transactionIDBytes: transactionID))

        case STUNAttributeType.username:
            guard reader.count <= maxDecodedUsernameBytes, let text = reader.strictUTF8() else { throw malformed }
            return .username(text)
        case STUNAttributeType.realm:
            guard reader.count <= maxTextBytes, let text = reader.strictUTF8() else { throw malformed }
            return .realm(text)
        case STUNAttributeType.nonce:
            guard reader.count <= maxTextBytes, let text = reader.strictUTF8() else { throw malformed }
            return .nonce(text)
        case STUNAttributeType.software:
            guard reader.count <= maxTextBytes else { throw malformed }
            return .software(reader.lenientUTF8())
        case STUNAttributeType.userhash:
            guard reader.count == 32 else { throw malformed }
            return .userhash(reader.bytes())

        case STUNAttributeType.messageIntegrity:
            guard reader.count == 20 else { throw malformed }
            return .messageIntegrity(reader.bytes())
        case STUNAttributeType.messageIntegritySHA256:
            guard (16...32).contains(reader.count), reader.count % 4 == 0 else { throw malformed }
            return .messageIntegritySHA256(reader.bytes())
        case STUNAttributeType.fingerprint:
            guard reader.count == 4 else { throw malformed }
            return .fingerprint(reader.uint32(at: 0))

        case STUNAttributeType.errorCode:
            guard reader.count >= 4 else { throw malformed }
            return .errorCode(try decodeErrorCode(reader, type: type))
        case STUNAttributeType.addressErrorCode:
            guard reader.count >= 4, let family = TransportAddress.Family(rawValue: reader[0]) else { throw malformed }
            return .addressErrorCode(family: family, error: try decodeErrorCode(reader, type: type))
        case STUNAttributeType.unknownAttributes:
            guard reader.count % 2 == 0 else { throw malformed }
            return .unknownAttributes(stride(from: 0, to: reader.count, by: 2).map { reader.uint16(at: $0) })

        case STUNAttributeType.passwordAlgorithms:
            var algorithms: [PasswordAlgorithm] = []
            var offset = 0
            while offset < reader.count {
                guard reader.count - offset >= 4 else { throw malformed }
                let algorithm = reader.uint16(at: offset)
                let parametersLength = Int(reader.uint16(at: offset + 2))
                guard parametersLength <= reader.count - offset - 4 else { throw malformed }
                algorithms.append(PasswordAlgorithm(rawValue: algorithm))
                offset += 4 + ((parametersLength + 3) & ~3)
            }
            return .passwordAlgorithms(algorithms)
        case STUNAttributeType.passwordAlgorithm:
            guard reader.count >= 4, Int(reader.uint16(at: 2)) <= reader.count - 4 else { throw malformed }
            return .passwordAlgorithm(PasswordAlgorithm(rawValue: reader.uint16(at: 0)))

        case STUNAttributeType.channelNumber:
            guard reader.count == 4 else { throw malformed }
            return .channelNumber(reader.uint16(at: 0))
        case STUNAttributeType.lifetime:
            guard reader.count == 4 else { throw malformed }
            return .lifetime(reader.uint32(at: 0))
        case STUNAttributeType.data:
            return .data(reader.bytes())
        case STUNAttributeType.requestedTransport:
            guard reader.count == 4 else { throw malformed }
            return .requestedTransport(reader[0])
        case STUNAttributeType.requestedAddressFamily:
            guard reader.count == 4, let family = TransportAddress.Family(rawValue: reader[0]) else { throw malformed }
            return .requestedAddressFamily(family)
        case STUNAttributeType.additionalAddressFamily, STUNAttributeType.additionalAddressFamilyDraft:
            guard reader.count == 4, let family = TransportAddress.Family(rawValue: reader[0]) else { throw malformed }
            return .additionalAddressFamily(family)
        case STUNAttributeType.evenPort:
            guard reader.count == 1 else { throw malformed }
            return .evenPort(reserveNext: reader[0] & 0x80 != 0)
        case STUNAttributeType.dontFragment:
            guard reader.count == 0 else { throw malformed }
            return .dontFragment
        case STUNAttributeType.reservationToken:
            guard reader.count == 8 else { throw malformed }
            return .reservationToken(reader.bytes())

        case STUNAttributeType.priority:
            guard reader.count == 4 else { throw malformed }
            return .priority(reader.uint32(at: 0))
        case STUNAttributeType.useCandidate:
            guard reader.count == 0 else { throw malformed }
            return .useCandidate
        case STUNAttributeType.iceControlled:
            guard reader.count == 8 else { throw malformed }
            return .iceControlled(reader.uint64(at: 0))
        case STUNAttributeType.iceControlling:
            guard reader.count == 8 else { throw malformed }
            return .iceControlling(reader.uint64(at: 0))

        default:
            return .unknown(type: type, value: reader.bytes())
        }
    }

    /// RFC 8489 §14.1: 8 bytes for IPv4, 20 for IPv6; the first byte is ignored.
    private static func decodeAddress(
        _ reader: ValueReader, type: UInt16
    ) throws(STUNDecodingError) -> TransportAddress {
        guard reader.count >= 4, let family = TransportAddress.Family(rawValue: reader[1]),
            reader.count == 4 + TransportAddress.addressLength(of: family),
            let address = TransportAddress(bytes: reader.bytes(from: 4), port: reader.uint16(at: 2))
        else { throw .malformedAttribute(type: type) }
        return address
    }

    /// RFC 8489 §14.8: class 3 to 6 in the low 3 bits of byte 2, number 0 to 99 in byte 3, then the reason.
    private static func decodeErrorCode(
        _ reader: ValueReader, type: UInt16
    ) throws(STUNDecodingError) -> STUNErrorCode {
        let errorClass = Int(reader[2] & 0x07)
        let number = Int(reader[3])
        guard (3...6).contains(errorClass), number < 100, reader.count - 4 <= maxTextBytes else {
            throw .malformedAttribute(type: type)
        }
        return STUNErrorCode(code: errorClass * 100 + number, reason: reader.lenientUTF8(from: 4))
    }
}

/// A bounds-checked window on an attribute value. Callers check `count` before reading; the base array's
/// own bounds checks stay as a last line of defence.
struct ValueReader {
    let base: [UInt8]
    let start: Int
    let count: Int

    init(base: [UInt8], range: Range<Int>) {
        self.base = base
        let lower = min(max(range.lowerBound, 0), base.count)
        let upper = min(max(range.upperBound, lower), base.count)
        self.start = lower
        self.count = upper - lower
    }

    subscript(offset: Int) -> UInt8 {
        base[start + offset]
    }

    func uint16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    func uint32(at offset: Int) -> UInt32 {
        UInt32(uint16(at: offset)) << 16 | UInt32(uint16(at: offset + 2))
    }

    func uint64(at offset: Int) -> UInt64 {
        UInt64(uint32(at: offset)) << 32 | UInt64(uint32(at: offset + 4))
    }

    func bytes(from offset: Int = 0) -> [UInt8] {
        guard offset < count else { return [] }
        return Array(base[(start + offset)..<(start + count)])
    }

    /// nil unless the bytes are valid UTF-8.
    func strictUTF8() -> String? {
        let slice = base[start..<(start + count)]
        let text = String(decoding: slice, as: UTF8.self)
        return text.utf8.elementsEqual(slice) ? text : nil
    }

    /// Invalid sequences become U+FFFD.
    func lenientUTF8(from offset: Int = 0) -> String {
        guard offset < count else { return "" }
        return String(decoding: base[(start + offset)..<(start + count)], as: UTF8.self)
    }
}
