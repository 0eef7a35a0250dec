/// What an Opus packet's first bytes say about it (RFC 6716 §3.1), without decoding: its
/// duration (so the jitter buffer and the drift controller can count a panel's 10, 20, 40 or
/// 60 ms packets correctly) and whether it is coded stereo. Pure; allocates nothing.
public enum OpusPacket {
    /// Samples at 48 kHz per frame for each of the 32 TOC configurations (RFC 6716 §3.1, Table 2).
    @usableFromInline static let frameSizes: [Int] = [
        480, 960, 1920, 2880,  // SILK NB: 10, 20, 40, 60 ms
        480, 960, 1920, 2880,  // SILK MB
        480, 960, 1920, 2880,  // SILK WB
        480, 960, 480, 960,  // Hybrid SWB, FB: 10, 20 ms
        120, 240, 480, 960,  // CELT NB: 2.5, 5, 10, 20 ms
        120, 240, 480, 960,  // CELT WB
        120, 240, 480, 960,  // CELT SWB
        120, 240, 480, 960,  // CELT FB
    ]

    /// The packet's duration in samples at 48 kHz, or nil when it is malformed (empty, a code 3
    /// packet without its frame count byte, zero frames, or over 120 ms, RFC 6716 §3.2.5).
    public static func duration(_ packet: UnsafeRawBufferPointer) -> Int? {
        guard packet.count > 0 else { return nil }
        let toc = packet[0]
        let frameSize = frameSizes[Int(toc >> 3)]
        let frames: Int
        switch toc & 0x03 {
        case 0: frames = 1
        case 1, 2: frames = 2
        default:
            guard packet.count >= 2 else { return nil }
            frames = Int(packet[1] & 0x3F)
        }
        let duration = frames * frameSize
        guard frames > 0, duration <= 5760 else { return nil }
        return duration
    }

    /// The TOC's stereo flag (RFC 6716 §3.1); nil for an empty packet.
    public static func isStereo(_ packet: UnsafeRawBufferPointer) -> Bool? {
        packet.count > 0 ? packet[0] & 0x04 != 0 : nil
    }
}
