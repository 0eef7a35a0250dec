/// What a datagram on a WebRTC 5-tuple carries, from its first bytes: RFC 7983 §7 (updating
/// RFC 5764 §5.1.2) for STUN, ZRTP, DTLS, TURN channel data and RTP/RTCP, and RFC 5761 §4 for
/// RTP versus RTCP on one port (rtcp-mux).
///
/// ```
///              +----------------+
///              |        [0..3] -+--> STUN
///              |      [16..19] -+--> ZRTP
///  packet -->  |      [20..63] -+--> DTLS
///              |      [64..79] -+--> TURN Channel
///              |    [128..191] -+--> RTP/RTCP: second byte 192…223 → RTCP, else RTP
///              +----------------+
/// ```
public enum MultiplexedPacketKind: Hashable, Sendable {
    case stun
    case zrtp
    case dtls
    case turnChannel
    case rtp
    case rtcp
    /// Anything else (including an empty datagram): drop it.
    case unknown

    /// Classifies by the first two bytes. Pure and branch-light: call it per datagram.
    @inlinable
    public static func classify(firstByte: UInt8, secondByte: UInt8) -> MultiplexedPacketKind {
        switch firstByte {
        case 0...3: return .stun
        case 16...19: return .zrtp
        case 20...63: return .dtls
        case 64...79: return .turnChannel
        case 128...191: return (192...223).contains(secondByte) ? .rtcp : .rtp
        default: return .unknown
        }
    }

    /// Classifies a datagram. An RTP or RTCP datagram shorter than 2 bytes is `.unknown`.
    @inlinable
    public static func classify(_ datagram: UnsafeRawBufferPointer) -> MultiplexedPacketKind {
        // Index rather than `first`: the generic `Collection.first` allocates in unoptimized builds.
        guard datagram.count > 0 else { return .unknown }
        let first = datagram[0]
        guard datagram.count >= 2 else {
            let kind = classify(firstByte: first, secondByte: 0)
            return kind == .rtp || kind == .rtcp ? .unknown : kind
        }
        return classify(firstByte: first, secondByte: datagram[1])
    }
}
