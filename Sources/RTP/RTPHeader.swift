/// The fixed part of an RTP header (RFC 3550 §5.1) that a sender sets per packet.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// |                           timestamp                           |
/// |           synchronization source (SSRC) identifier            |
/// |            contributing source (CSRC) identifiers             | × CC
/// ```
public struct RTPHeader: Hashable, Sendable {
    public var marker: Bool
    /// 0…127.
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32

    @inlinable
    public init(marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
    }

    /// The size of a header without CSRCs or extension.
    public static let fixedSize = 12

    /// Writes the 12-byte fixed header at the start of `buffer` (no CSRC, no extension, no
    /// padding) and returns 12, or 0 when `buffer` is shorter. Allocates nothing.
    @inlinable
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count >= Self.fixedSize else { return 0 }
        buffer[0] = 0x80
        buffer[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        buffer.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        return Self.fixedSize
    }

    /// Writes a header with CSRCs (at most 15) and, if given, a header extension (RFC 3550
    /// §5.3.1: a 16-bit profile value and data whose length is a multiple of four bytes).
    /// Returns the header length, or 0 when it does not fit or the arguments are invalid.
    @inlinable
    public func write(
        into buffer: UnsafeMutableRawBufferPointer, csrcs: UnsafeBufferPointer<UInt32>,
        extensionProfile: UInt16? = nil,
        extensionData: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    ) -> Int {
        guard csrcs.count <= 15, extensionData.count % 4 == 0, extensionData.count / 4 <= Int(UInt16.max) else {
            return 0
        }
        let extensionSize = extensionProfile == nil ? 0 : 4 + extensionData.count
        let total = Self.fixedSize + 4 * csrcs.count + extensionSize
        guard buffer.count >= total, write(into: buffer) == Self.fixedSize else { return 0 }
        buffer[0] = 0x80 | (extensionProfile == nil ? 0 : 0x10) | UInt8(csrcs.count)
        var offset = Self.fixedSize
        for csrc in csrcs {
            buffer.storeBytes(of: csrc.bigEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        if let extensionProfile {
            buffer.storeBytes(of: extensionProfile.bigEndian, toByteOffset: offset, as: UInt16.self)
            buffer.storeBytes(of: UInt16(extensionData.count / 4).bigEndian, toByteOffset: offset + 2, as: UInt16.self)
            offset += 4
            if extensionData.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + extensionData.count])
                    .copyMemory(from: extensionData)
            }
            offset += extensionData.count
        }
        return offset
    }

    /// Pads a packet of `length` bytes in `buffer` with `count` bytes (1…255) and sets its P bit
    /// (RFC 3550 §5.1: the last octet is the padding count). Returns the new length, or nil.
    @inlinable
    public static func addPadding(_ count: Int, toPacketOf length: Int, in buffer: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        guard (1...255).contains(count), length >= fixedSize, length + count <= buffer.count else { return nil }
        for index in length..<(length + count - 1) { buffer[index] = 0 }
        buffer[length + count - 1] = UInt8(count)
        buffer[0] |= 0x20
        return length + count
    }
}

/// Why bytes are not an RTP packet.
public enum RTPParseError: Error, Hashable, Sendable {
    /// Shorter than its header says it is.
    case truncated
    /// The version bits are not 2.
    case unsupportedVersion(UInt8)
    /// The padding count is 0 or runs into the header (RFC 3550 §5.1).
    case invalidPadding
}

/// An RTP packet parsed in place (RFC 3550 §5.1): the header fields and where the CSRCs, the
/// header extension and the payload are in the caller's bytes. Nothing is copied or allocated;
/// read the parts through the ranges or `csrc(_:in:)` while the bytes are alive.
public struct RTPPacketView: Hashable, Sendable {
    public var header: RTPHeader
    public var csrcCount: Int
    /// The header extension's 16-bit profile value (0xBEDE for RFC 8285 one-byte elements),
    /// when the X bit is set.
    public var extensionProfile: UInt16?
    /// The extension's data (without its 4-byte header); empty when there is none.
    public var extensionRange: Range<Int>
    public var payloadRange: Range<Int>
    public var paddingLength: Int

    /// Parses `bytes`, which hold exactly one RTP packet (one UDP datagram or one SRTP-unprotected
    /// buffer).
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(RTPParseError) {
        guard bytes.count >= RTPHeader.fixedSize else { throw .truncated }
        let first = bytes[0]
        guard first >> 6 == 2 else { throw .unsupportedVersion(first >> 6) }
        let second = bytes[1]
        header = RTPHeader(
            marker: second & 0x80 != 0, payloadType: second & 0x7F,
            sequenceNumber: UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)),
            timestamp: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
            ssrc: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        csrcCount = Int(first & 0x0F)
        var offset = RTPHeader.fixedSize + 4 * csrcCount
        guard bytes.count >= offset else { throw .truncated }
        if first & 0x10 != 0 {
            guard bytes.count >= offset + 4 else { throw .truncated }
            extensionProfile = UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let words = Int(UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)))
            let end = offset + 4 + 4 * words
            guard bytes.count >= end else { throw .truncated }
            extensionRange = (offset + 4)..<end
            offset = end
        } else {
            extensionProfile = nil
            extensionRange = offset..<offset
        }
        if first & 0x20 != 0 {
            let padding = Int(bytes[bytes.count - 1])
            guard padding >= 1, padding <= bytes.count - offset else { throw .invalidPadding }
            paddingLength = padding
        } else {
            paddingLength = 0
        }
        payloadRange = offset..<(bytes.count - paddingLength)
    }

    /// Contributing source `index` (0 ..< csrcCount), read from the same bytes that were parsed.
    @inlinable
    public func csrc(_ index: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        precondition(index >= 0 && index < csrcCount)
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: RTPHeader.fixedSize + 4 * index, as: UInt32.self))
    }

    /// The header extension's elements (RFC 8285), when the profile is one- or two-byte.
    @inlinable
    public func extensionElements(in bytes: UnsafeRawBufferPointer) -> RTPHeaderExtensionElements {
        RTPHeaderExtensionElements(
            profile: extensionProfile ?? 0, data: UnsafeRawBufferPointer(rebasing: bytes[extensionRange]))
    }
}

/// The elements of an RFC 8285 header extension, iterated in place: the one-byte form (profile
/// 0xBEDE, ids 1…14) and the two-byte form (profile 0x100X, ids 1…255). Each element is its id
/// and the range of its data within the extension data. Other profiles yield nothing.
public struct RTPHeaderExtensionElements: IteratorProtocol, Sequence {
    @usableFromInline let profile: UInt16
    @usableFromInline let data: UnsafeRawBufferPointer
    @usableFromInline var offset = 0

    @inlinable
    public init(profile: UInt16, data: UnsafeRawBufferPointer) {
        self.profile = profile
        self.data = data
    }

    @inlinable
    public mutating func next() -> (id: UInt8, range: Range<Int>)? {
        let oneByte = profile == 0xBEDE
        guard oneByte || profile & 0xFFF0 == 0x1000 else { return nil }
        while offset < data.count {
            let byte = data[offset]
            if byte == 0 {  // Padding between elements (RFC 8285 §4.2, §4.3).
                offset += 1
                continue
            }
            if oneByte {
                let id = byte >> 4
                guard id != 15 else { return nil }  // Reserved: stop processing (RFC 8285 §4.2).
                let length = Int(byte & 0x0F) + 1
                let start = offset + 1
                guard start + length <= data.count else { return nil }
                offset = start + length
                return (id, start..<start + length)
            }
            guard offset + 2 <= data.count else { return nil }
            let length = Int(data[offset + 1])
            let start = offset + 2
            guard start + length <= data.count else { return nil }
            offset = start + length
            return (byte, start..<start + length)
        }
        return nil
    }
}
