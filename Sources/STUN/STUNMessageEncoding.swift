import NIOCore

/// Encoding of a whole message: header (RFC 8489 §5), attributes with zero padding (§14), and the
/// MESSAGE-INTEGRITY (§14.5), MESSAGE-INTEGRITY-SHA256 (§14.6) and FINGERPRINT (§14.7) trailers.
extension STUNMessage {
    /// The largest value of the header's length field that is a multiple of 4.
    static let maxBodyLength = 0xFFFC

    /// Encodes the message.
    ///
    /// - With `integrity`, any MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 in `attributes` are left out and
    ///   the ones `integrity.algorithms` asks for are computed and appended after all other attributes:
    ///   MESSAGE-INTEGRITY first, then MESSAGE-INTEGRITY-SHA256 (§14.5, §14.6), each over the message up to
    ///   itself with the header length counting it but nothing after it. A FINGERPRINT in `attributes` is
    ///   then recomputed too, as if `fingerprint` were true, since the old value could not be right.
    /// - With `fingerprint`, any FINGERPRINT in `attributes` is left out and a fresh one appended last (§14.7).
    /// - Otherwise every attribute is written as given, in order, so a decoded message re-encodes to the
    ///   same bytes (padding aside: the encoder always pads with zeros, §14).
    ///
    /// The header's 16-bit length field bounds a message to 65,535 bytes after the header; an attribute
    /// that would not fit (with room kept for the trailers asked for) is left out.
    public func encode(integrity: STUNIntegrity? = nil, fingerprint: Bool = false) -> [UInt8] {
        var buffer = ByteBuffer()
        encode(into: &buffer, integrity: integrity, fingerprint: fingerprint)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// As `encode(integrity:fingerprint:)`, appending the message at `buffer`'s writer index.
    public func encode(into buffer: inout ByteBuffer, integrity: STUNIntegrity? = nil, fingerprint: Bool = false) {
        encode(into: &buffer, integrity: integrity, fingerprint: fingerprint, paddingByte: 0)
    }

    /// The encoder, with the padding byte as a parameter so tests can reproduce the RFC 5769 vectors, which
    /// pad with spaces as RFC 5389 allowed.
    func encode(into buffer: inout ByteBuffer, integrity: STUNIntegrity?, fingerprint: Bool, paddingByte: UInt8) {
        let start = buffer.writerIndex
        let transactionIDBytes = transactionID.wireBytes
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(STUNCodec.magicCookie)
        buffer.writeBytes(transactionIDBytes)

        let integrityKinds: [STUNIntegrity.Kind] =
            integrity.map { integrity in STUNIntegrity.Kind.allCases.filter { integrity.algorithms.contains($0) } }
            ?? []
        let appendsFingerprint =
            fingerprint || (integrity != nil && attributes.contains { $0.type == STUNAttributeType.fingerprint })
        let trailerLength = integrityKinds.reduce(appendsFingerprint ? 8 : 0) { $0 + 4 + $1.macLength }
        let attributeLimit = start + 20 + Self.maxBodyLength - trailerLength

        for attribute in attributes {
            switch attribute.type {
            case STUNAttributeType.messageIntegrity, STUNAttributeType.messageIntegritySHA256:
                if integrity != nil { continue }
            case STUNAttributeType.fingerprint:
                if appendsFingerprint { continue }
            default:
                break
            }
            let attributeStart = buffer.writerIndex
            attribute.write(into: &buffer, transactionID: transactionIDBytes, paddingByte: paddingByte)
            if buffer.writerIndex > attributeLimit {
                buffer.moveWriterIndex(to: attributeStart)
            }
        }

        if let integrity {
            for kind in integrityKinds {
                let attributeStart = buffer.writerIndex
                let lengthField = UInt16(attributeStart - start - 20 + 4 + kind.macLength)
                let mac = Self.withMessageBytes(buffer, from: start, to: attributeStart) { prefix in
                    kind.mac(key: integrity.key, prefix: prefix, lengthField: lengthField)
                }
                buffer.writeInteger(kind.attributeType)
                buffer.writeInteger(UInt16(mac.count))
                buffer.writeBytes(mac)
            }
        }

        if appendsFingerprint {
            let attributeStart = buffer.writerIndex
            buffer.setInteger(UInt16(attributeStart - start - 20 + 8), at: start + 2)
            let value = Self.withMessageBytes(buffer, from: start, to: attributeStart) { STUNFingerprint.value(of: $0) }
            buffer.writeInteger(STUNAttributeType.fingerprint)
            buffer.writeInteger(UInt16(4))
            buffer.writeInteger(value)
        }

        buffer.setInteger(UInt16(buffer.writerIndex - start - 20), at: start + 2)
    }

    /// Calls `body` with `buffer`'s bytes from absolute index `from` up to `to`.
    private static func withMessageBytes<T>(
        _ buffer: ByteBuffer, from: Int, to: Int, _ body: (UnsafeRawBufferPointer) -> T
    ) -> T {
        buffer.withUnsafeReadableBytes { readable in
            let lower = from - buffer.readerIndex
            let upper = to - buffer.readerIndex
            return body(UnsafeRawBufferPointer(rebasing: readable[lower..<upper]))
        }
    }
}
