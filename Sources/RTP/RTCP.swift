/// One reception report block (RFC 3550 §6.4.1), 24 bytes on the wire.
public struct ReceptionReport: Hashable, Sendable {
    /// The source this block is about.
    public var ssrc: UInt32
    /// Lost fraction since the previous report, in 1/256 (RFC 3550 §6.4.1, A.3).
    public var fractionLost: UInt8
    /// Cumulative packets lost, a signed 24-bit value (negative with duplicates).
    public var cumulativeLost: Int32
    /// Cycles in the high 16 bits, highest sequence number in the low 16.
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    public var jitter: UInt32
    /// The middle 32 bits of the last SR's NTP timestamp from this source, or 0.
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s, or 0.
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequence: UInt32 = 0,
        jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

/// SR: packet type 200 (RFC 3550 §6.4.1).
public struct SenderReport: Hashable, Sendable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp: seconds since 1900 in the high word, fraction in the low word.
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    /// At most 31.
    public var reports: [ReceptionReport]
    /// Profile-specific extension bytes after the report blocks.
    public var profileExtension: [UInt8]

    public init(
        ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
        reports: [ReceptionReport] = [], profileExtension: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
        self.profileExtension = profileExtension
    }
}

/// RR: packet type 201 (RFC 3550 §6.4.2).
public struct ReceiverReport: Hashable, Sendable {
    public var ssrc: UInt32
    public var reports: [ReceptionReport]
    public var profileExtension: [UInt8]

    public init(ssrc: UInt32, reports: [ReceptionReport] = [], profileExtension: [UInt8] = []) {
        self.ssrc = ssrc
        self.reports = reports
        self.profileExtension = profileExtension
    }
}

/// An SDES item (RFC 3550 §6.5): CNAME = 1 … PRIV = 8.
public struct SourceDescriptionItem: Hashable, Sendable {
    public static let cname: UInt8 = 1
    public static let name: UInt8 = 2
    public static let email: UInt8 = 3
    public static let phone: UInt8 = 4
    public static let location: UInt8 = 5
    public static let tool: UInt8 = 6
    public static let note: UInt8 = 7
    public static let privateExtension: UInt8 = 8

    public var type: UInt8
    /// At most 255 bytes, UTF-8 text for the standard types.
    public var value: [UInt8]

    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    public init(type: UInt8, text: String) {
        self.init(type: type, value: Array(text.utf8))
    }

    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// One SDES chunk: a source and its items (RFC 3550 §6.5).
public struct SourceDescriptionChunk: Hashable, Sendable {
    public var ssrc: UInt32
    public var items: [SourceDescriptionItem]

    public init(ssrc: UInt32, items: [SourceDescriptionItem]) {
        self.ssrc = ssrc
        self.items = items
    }

    /// The CNAME item's text, if present.
    public var cname: String? { items.first { $0.type == SourceDescriptionItem.cname }?.text }
}

/// BYE: packet type 203 (RFC 3550 §6.6).
public struct Goodbye: Hashable, Sendable {
    public var ssrcs: [UInt32]
    public var reason: String?

    public init(ssrcs: [UInt32], reason: String? = nil) {
        self.ssrcs = ssrcs
        self.reason = reason
    }
}

/// One RTCP packet of a compound packet (RFC 3550 §6.1). RTCP is sent a few times a second, so
/// these are ordinary values with arrays; the per-packet RTP path never touches them.
public enum RTCPPacket: Hashable, Sendable {
    case senderReport(SenderReport)
    case receiverReport(ReceiverReport)
    case sourceDescription([SourceDescriptionChunk])
    case goodbye(Goodbye)
    /// APP (204), RTPFB (205, e.g. NACK), PSFB (206), XR (207) and others, kept undecoded: the
    /// 5-bit count/format field and the bytes after the 4-byte header (padding removed).
    case other(packetType: UInt8, count: UInt8, body: [UInt8])

    public static let senderReportType: UInt8 = 200
    public static let receiverReportType: UInt8 = 201
    public static let sourceDescriptionType: UInt8 = 202
    public static let goodbyeType: UInt8 = 203
    public static let applicationDefinedType: UInt8 = 204
}

/// Why bytes are not a valid RTCP compound packet (RFC 3550 §6.1, A.2).
public enum RTCPParseError: Error, Hashable, Sendable {
    case truncated
    case unsupportedVersion(UInt8)
    /// The first packet is not SR or RR (checked unless reduced-size RTCP is allowed).
    case firstPacketNotReport
    /// Padding in a packet other than the last, or a padding count that does not fit.
    case invalidPadding
    /// A packet's fields do not fit its length (report counts, SDES items, BYE reason).
    case malformed(packetType: UInt8)
}

/// Why a packet cannot be written.
public enum RTCPEncodingError: Error, Hashable, Sendable {
    case bufferTooSmall
    /// More than 31 report blocks, chunks or sources, an item over 255 bytes, or a body not a
    /// multiple of four bytes.
    case invalidPacket
}

/// Parsing and writing RTCP compound packets (RFC 3550 §6.1).
public enum RTCPCompoundPacket {
    /// Parses a compound packet. With `requireReportFirst` (the default) the first packet must
    /// be SR or RR, as RFC 3550 A.2 validates; pass false to accept reduced-size RTCP (RFC 5506).
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, requireReportFirst: Bool = true
    ) throws(RTCPParseError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .truncated }
            let first = bytes[offset]
            guard first >> 6 == 2 else { throw .unsupportedVersion(first >> 6) }
            let count = first & 0x1F
            let type = bytes[offset + 1]
            let length = 4 * (Int(bytes.readUInt16(at: offset + 2)) + 1)
            guard offset + length <= bytes.count else { throw .truncated }
            var bodyEnd = offset + length
            if first & 0x20 != 0 {
                // Only the last packet of a compound may be padded (RFC 3550 A.2).
                guard offset + length == bytes.count else { throw .invalidPadding }
                let padding = Int(bytes[bodyEnd - 1])
                guard padding >= 1, padding <= length - 4 else { throw .invalidPadding }
                bodyEnd -= padding
            }
            if packets.isEmpty, requireReportFirst,
                type != RTCPPacket.senderReportType && type != RTCPPacket.receiverReportType
            {
                throw .firstPacketNotReport
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<bodyEnd])
            packets.append(try parsePacket(type: type, count: count, body: body))
            offset += length
        }
        guard !packets.isEmpty else { throw .truncated }
        return packets
    }

    /// Parses from an array (tests, tools).
    public static func parse(_ bytes: [UInt8], requireReportFirst: Bool = true) throws(RTCPParseError) -> [RTCPPacket] {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(RTCPParseError) -> [RTCPPacket] in try parse(raw, requireReportFirst: requireReportFirst)
            }
        }
        return try result.get()
    }

    static func parsePacket(type: UInt8, count: UInt8, body: UnsafeRawBufferPointer) throws(RTCPParseError)
        -> RTCPPacket
    {
        let n = Int(count)
        switch type {
        case RTCPPacket.senderReportType:
            guard body.count >= 24 + 24 * n else { throw .malformed(packetType: type) }
            let reports = readReports(body, at: 24, count: n)
            return .senderReport(
                SenderReport(
                    ssrc: body.readUInt32(at: 0),
                    ntpTimestamp: UInt64(body.readUInt32(at: 4)) << 32 | UInt64(body.readUInt32(at: 8)),
                    rtpTimestamp: body.readUInt32(at: 12), packetCount: body.readUInt32(at: 16),
                    octetCount: body.readUInt32(at: 20), reports: reports,
                    profileExtension: Array(body[(24 + 24 * n)...])))
        case RTCPPacket.receiverReportType:
            guard body.count >= 4 + 24 * n else { throw .malformed(packetType: type) }
            return .receiverReport(
                ReceiverReport(
                    ssrc: body.readUInt32(at: 0), reports: readReports(body, at: 4, count: n),
                    profileExtension: Array(body[(4 + 24 * n)...])))
        case RTCPPacket.sourceDescriptionType:
            var chunks: [SourceDescriptionChunk] = []
            var offset = 0
            for _ in 0..<n {
                guard offset + 4 <= body.count else { throw .malformed(packetType: type) }
                var chunk = SourceDescriptionChunk(ssrc: body.readUInt32(at: offset), items: [])
                offset += 4
                while true {
                    guard offset < body.count else { throw .malformed(packetType: type) }
                    let itemType = body[offset]
                    if itemType == 0 {
                        // The null item ends the list; pad to the next 32-bit boundary.
                        offset += 1
                        offset = (offset + 3) & ~3
                        break
                    }
                    guard offset + 2 <= body.count else { throw .malformed(packetType: type) }
                    let itemLength = Int(body[offset + 1])
                    guard offset + 2 + itemLength <= body.count else { throw .malformed(packetType: type) }
                    chunk.items.append(
                        SourceDescriptionItem(
                            type: itemType, value: Array(body[(offset + 2)..<(offset + 2 + itemLength)])))
                    offset += 2 + itemLength
                }
                guard offset <= body.count else { throw .malformed(packetType: type) }
                chunks.append(chunk)
            }
            return .sourceDescription(chunks)
        case RTCPPacket.goodbyeType:
            guard body.count >= 4 * n else { throw .malformed(packetType: type) }
            var bye = Goodbye(ssrcs: (0..<n).map { body.readUInt32(at: 4 * $0) })
            if body.count > 4 * n {
                let length = Int(body[4 * n])
                guard 4 * n + 1 + length <= body.count else { throw .malformed(packetType: type) }
                bye.reason = String(decoding: body[(4 * n + 1)..<(4 * n + 1 + length)], as: UTF8.self)
            }
            return .goodbye(bye)
        default:
            return .other(packetType: type, count: count, body: Array(body))
        }
    }

    static func readReports(_ body: UnsafeRawBufferPointer, at start: Int, count: Int) -> [ReceptionReport] {
        (0..<count).map { index in
            let o = start + 24 * index
            let lossWord = body.readUInt32(at: o + 4)
            // Sign-extend the 24-bit cumulative loss.
            let cumulative = Int32(bitPattern: lossWord << 8) >> 8
            return ReceptionReport(
                ssrc: body.readUInt32(at: o), fractionLost: UInt8(lossWord >> 24), cumulativeLost: cumulative,
                extendedHighestSequence: body.readUInt32(at: o + 8), jitter: body.readUInt32(at: o + 12),
                lastSenderReport: body.readUInt32(at: o + 16), delaySinceLastSenderReport: body.readUInt32(at: o + 20))
        }
    }

    /// Writes `packets` one after the other into `buffer`; returns the bytes written.
    public static func write(
        _ packets: [RTCPPacket], into buffer: UnsafeMutableRawBufferPointer
    ) throws(RTCPEncodingError) -> Int {
        var writer = RTCPWriter(buffer: buffer)
        for packet in packets { try writer.write(packet) }
        return writer.offset
    }

    /// The compound packet as bytes (RTCP is rare enough for an array; use `write(_:into:)` to
    /// reuse a buffer).
    public static func serialize(_ packets: [RTCPPacket]) throws(RTCPEncodingError) -> [UInt8] {
        let size = packets.reduce(0) { $0 + $1.encodedSizeUpperBound }
        var bytes = [UInt8](repeating: 0, count: size)
        let result = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(RTCPEncodingError) -> Int in try write(packets, into: raw) }
        }
        let written = try result.get()
        bytes.removeSubrange(written...)
        return bytes
    }
}

extension RTCPPacket {
    /// An upper bound of the packet's size on the wire.
    public var encodedSizeUpperBound: Int {
        switch self {
        case .senderReport(let sr): 28 + 24 * sr.reports.count + sr.profileExtension.count
        case .receiverReport(let rr): 8 + 24 * rr.reports.count + rr.profileExtension.count
        case .sourceDescription(let chunks):
            4 + chunks.reduce(0) { $0 + 8 + $1.items.reduce(0) { $0 + 2 + $1.value.count } }
        case .goodbye(let bye): 8 + 4 * bye.ssrcs.count + (bye.reason?.utf8.count ?? 0)
        case .other(_, _, let body): 4 + body.count
        }
    }
}

/// Writes RTCP packets into a caller's buffer.
struct RTCPWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var offset = 0

    mutating func u8(_ value: UInt8) throws(RTCPEncodingError) {
        guard offset < buffer.count else { throw .bufferTooSmall }
        buffer[offset] = value
        offset += 1
    }

    mutating func u16(_ value: UInt16) throws(RTCPEncodingError) {
        guard offset + 2 <= buffer.count else { throw .bufferTooSmall }
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
        offset += 2
    }

    mutating func u32(_ value: UInt32) throws(RTCPEncodingError) {
        guard offset + 4 <= buffer.count else { throw .bufferTooSmall }
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    mutating func bytes(_ values: [UInt8]) throws(RTCPEncodingError) {
        for value in values { try u8(value) }
    }

    /// Writes the common header with a placeholder length, runs `body`, pads the body to 32 bits
    /// and fills the length in (RFC 3550 §6.4.1: length in 32-bit words minus one).
    mutating func write(_ packet: RTCPPacket) throws(RTCPEncodingError) {
        let start = offset
        let type: UInt8
        let count: Int
        switch packet {
        case .senderReport(let sr): (type, count) = (RTCPPacket.senderReportType, sr.reports.count)
        case .receiverReport(let rr): (type, count) = (RTCPPacket.receiverReportType, rr.reports.count)
        case .sourceDescription(let chunks): (type, count) = (RTCPPacket.sourceDescriptionType, chunks.count)
        case .goodbye(let bye): (type, count) = (RTCPPacket.goodbyeType, bye.ssrcs.count)
        case .other(let packetType, let c, _): (type, count) = (packetType, Int(c))
        }
        guard count <= 31 else { throw .invalidPacket }
        try u8(0x80 | UInt8(count))
        try u8(type)
        try u16(0)
        switch packet {
        case .senderReport(let sr):
            guard sr.profileExtension.count % 4 == 0 else { throw .invalidPacket }
            try u32(sr.ssrc)
            try u32(UInt32(truncatingIfNeeded: sr.ntpTimestamp >> 32))
            try u32(UInt32(truncatingIfNeeded: sr.ntpTimestamp))
            try u32(sr.rtpTimestamp)
            try u32(sr.packetCount)
            try u32(sr.octetCount)
            for report in sr.reports { try write(report) }
            try bytes(sr.profileExtension)
        case .receiverReport(let rr):
            guard rr.profileExtension.count % 4 == 0 else { throw .invalidPacket }
            try u32(rr.ssrc)
            for report in rr.reports { try write(report) }
            try bytes(rr.profileExtension)
        case .sourceDescription(let chunks):
            for chunk in chunks {
                try u32(chunk.ssrc)
                for item in chunk.items {
                    guard item.type != 0, item.value.count <= 255 else { throw .invalidPacket }
                    try u8(item.type)
                    try u8(UInt8(item.value.count))
                    try bytes(item.value)
                }
                // At least one null octet, then up to the next 32-bit boundary (RFC 3550 §6.5).
                try u8(0)
                while (offset - start) % 4 != 0 { try u8(0) }
            }
        case .goodbye(let bye):
            for ssrc in bye.ssrcs { try u32(ssrc) }
            if let reason = bye.reason {
                let text = Array(reason.utf8)
                guard text.count <= 255 else { throw .invalidPacket }
                try u8(UInt8(text.count))
                try bytes(text)
                while (offset - start) % 4 != 0 { try u8(0) }
            }
        case .other(_, _, let body):
            guard body.count % 4 == 0 else { throw .invalidPacket }
            try bytes(body)
        }
        let words = (offset - start) / 4 - 1
        buffer.storeBytes(of: UInt16(words).bigEndian, toByteOffset: start + 2, as: UInt16.self)
    }

    mutating func write(_ report: ReceptionReport) throws(RTCPEncodingError) {
        try u32(report.ssrc)
        let cumulative = UInt32(bitPattern: max(-0x80_0000, min(0x7F_FFFF, report.cumulativeLost))) & 0x00FF_FFFF
        try u32(UInt32(report.fractionLost) << 24 | cumulative)
        try u32(report.extendedHighestSequence)
        try u32(report.jitter)
        try u32(report.lastSenderReport)
        try u32(report.delaySinceLastSenderReport)
    }
}

extension UnsafeRawBufferPointer {
    @inlinable
    func readUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable
    func readUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
