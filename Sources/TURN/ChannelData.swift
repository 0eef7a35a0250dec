/// ChannelData framing (RFC 8656 §12.4): a 4-byte header, channel number and length, then the
/// application data; padded to 4 bytes over stream transports only.
public enum ChannelData {
    /// Channel numbers a client may bind. RFC 8656 §12 narrowed them to 0x4000–0x4FFF, but
    /// RFC 5766 allowed 0x4000–0x7FFF and clients still use that range (coturn's own picks
    /// numbers like 0x6324); a TURN server demultiplexes nothing else there, so both are served.
    public static let numbers: ClosedRange<UInt16> = 0x4000...0x7FFF
    public static let headerLength = 4

    /// Whether the first byte starts a ChannelData message (0b01 in the top two bits).
    @inlinable
    public static func isChannelData(firstByte: UInt8) -> Bool {
        firstByte >= 0x40 && firstByte <= 0x7F
    }

    /// The channel number and payload length of a header, or nil if these bytes are not one.
    @inlinable
    public static func parseHeader(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) -> (
        channel: UInt16, length: Int
    )? {
        let channel = UInt16(b0) << 8 | UInt16(b1)
        guard numbers.contains(channel) else { return nil }
        return (channel, Int(UInt16(b2) << 8 | UInt16(b3)))
    }

    /// Bytes of padding after a payload of `length` on a stream transport.
    @inlinable
    public static func streamPadding(forLength length: Int) -> Int {
        (4 - length % 4) % 4
    }
}
