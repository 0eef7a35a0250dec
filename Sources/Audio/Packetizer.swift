/// A port's packet time: a whole number of sample frames per packet at the sample rate
/// (AES67 §7.2: 48 frames for 1 ms, 6 for 125 µs, 16 for 333 µs; 960 for 20 ms).
public struct PacketTime: Hashable, Sendable, CustomStringConvertible {
    public let framesPerPacket: Int
    public let sampleRate: Int

    /// The range the bridge accepts for a port, in milliseconds.
    public static let allowedMilliseconds: ClosedRange<Double> = 0.125...20

    /// The bridge's default: 1 ms at 48 kHz (AES67's required packet time).
    public static let `default` = PacketTime(framesPerPacket: 48)!

    /// Nil unless `framesPerPacket` is positive and the packet time is within `allowedMilliseconds`.
    public init?(framesPerPacket: Int, sampleRate: Int = 48000) {
        guard framesPerPacket > 0, sampleRate > 0 else { return nil }
        let milliseconds = Double(framesPerPacket) * 1000 / Double(sampleRate)
        guard Self.allowedMilliseconds.contains(milliseconds) else { return nil }
        self.framesPerPacket = framesPerPacket
        self.sampleRate = sampleRate
    }

    /// From a configured packet time; accepts values within 1 % of a whole number of frames so
    /// that `0.333` means 16 frames. Nil outside `allowedMilliseconds`.
    public init?(milliseconds: Double, sampleRate: Int = 48000) {
        guard milliseconds.isFinite, Self.allowedMilliseconds.contains(milliseconds)
        else { return nil }
        let exact = milliseconds * Double(sampleRate) / 1000
        let frames = exact.rounded()
        guard frames >= 1, abs(exact - frames) <= 0.01 * frames else { return nil }
        self.init(framesPerPacket: Int(frames), sampleRate: sampleRate)
    }

    public var milliseconds: Double { Double(framesPerPacket) * 1000 / Double(sampleRate) }

    /// The start of packet `index` in nanoseconds after the first one, computed without
    /// accumulating rounding error (1/3 ms is not a whole number of nanoseconds).
    @inlinable
    public func offsetNanoseconds(ofPacket index: UInt64) -> UInt64 {
        // Full-width: index × frames × 10⁹ overflows 64 bits after a few days of 1 ms packets.
        let product = index.multipliedFullWidth(by: UInt64(framesPerPacket) * 1_000_000_000)
        return UInt64(sampleRate).dividingFullWidth(product).quotient
    }

    public var description: String { "\(milliseconds) ms (\(framesPerPacket) frames at \(sampleRate) Hz)" }
}

/// The RTP numbering and PCM encoding of a port's outgoing stream: sequence numbers that wrap at
/// 2¹⁶, timestamps that advance by the frames per packet and wrap at 2³² (RFC 3550 §5.1), and
/// the payload written into the caller's buffer. It does not write the RTP header (that is
/// `RTP.RTPHeader.write(into:)` in the daemon, with the values returned here).
public struct PortPacketizer: Hashable, Sendable {
    public let encoding: PCMEncoding
    public let channels: Int
    public let packetTime: PacketTime
    public let payloadType: UInt8
    public let ssrc: UInt32
    /// The sequence number of the next packet.
    public private(set) var sequenceNumber: UInt16
    /// The timestamp of the next packet.
    public private(set) var timestamp: UInt32
    /// Set on the first packet and the first after `skip` (RFC 3551 §4.1: start of a talkspurt).
    @usableFromInline var pendingMarker = true

    /// The header fields of one packet.
    public struct PacketFields: Hashable, Sendable {
        public var sequenceNumber: UInt16
        public var timestamp: UInt32
        public var marker: Bool
        public var payloadSize: Int
    }

    /// The initial sequence number and timestamp should be random (RFC 3550 §5.1); the caller draws them.
    public init(
        encoding: PCMEncoding, channels: Int, packetTime: PacketTime = .default, payloadType: UInt8, ssrc: UInt32,
        initialSequenceNumber: UInt16, initialTimestamp: UInt32
    ) {
        precondition(channels >= 1 && channels <= 64)
        self.encoding = encoding
        self.channels = channels
        self.packetTime = packetTime
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.sequenceNumber = initialSequenceNumber
        self.timestamp = initialTimestamp
    }

    /// Interleaved samples in one packet.
    @inlinable
    public var samplesPerPacket: Int { packetTime.framesPerPacket * channels }

    /// Payload bytes in one packet (288 for 1 ms of stereo L24). Over 1440 it no longer fits a
    /// 1500-byte Ethernet MTU with IPv4/UDP/RTP headers (AES67 §7.3 caps it there); the
    /// configuration should warn about such ports (20 ms of L16 mono is 1920 bytes).
    @inlinable
    public var payloadSize: Int { samplesPerPacket * encoding.bytesPerSample }

    /// Encodes one packet of interleaved float samples into `payload` and advances the
    /// numbering. Nil (and no advance) when `samples` has fewer than `samplesPerPacket` samples
    /// or `payload` is smaller than `payloadSize`. Allocates nothing.
    public mutating func packetize(
        _ samples: UnsafeBufferPointer<Float>, into payload: UnsafeMutableRawBufferPointer
    ) -> PacketFields? {
        guard samples.count >= samplesPerPacket, payload.count >= payloadSize else { return nil }
        let written = encoding.encode(UnsafeBufferPointer(rebasing: samples[0..<samplesPerPacket]), into: payload)
        let fields = PacketFields(
            sequenceNumber: sequenceNumber, timestamp: timestamp, marker: pendingMarker, payloadSize: written)
        pendingMarker = false
        sequenceNumber &+= 1
        timestamp &+= UInt32(truncatingIfNeeded: packetTime.framesPerPacket)
        return fields
    }

    /// Advances the timestamp over `packets` packet times that were not sent (the sequence
    /// number does not advance: it counts packets sent, RFC 3550 §5.1), and marks the next packet.
    public mutating func skip(packets: Int) {
        timestamp &+= UInt32(truncatingIfNeeded: packets &* packetTime.framesPerPacket)
        pendingMarker = true
    }
}

/// Paces a port's packets on a steady clock that the caller reads: packet `n` is due at
/// `start + n · packetTime`, so timer lateness never accumulates into drift. Time is an input
/// (nanoseconds of a monotonic clock).
public struct PacketPacer: Hashable, Sendable {
    public let packetTime: PacketTime
    public let start: UInt64
    /// At most this many packets are released by one `due(at:)`; beyond that the pacer skips
    /// ahead (a stalled event loop must not be followed by a burst).
    public let maximumBurst: Int
    /// Index of the next packet to send.
    public private(set) var nextPacket: UInt64 = 0
    /// Packets skipped because the caller was later than `maximumBurst` packets.
    public private(set) var skippedPackets: UInt64 = 0

    public init(packetTime: PacketTime, start: UInt64, maximumBurst: Int = 8) {
        self.packetTime = packetTime
        self.start = start
        self.maximumBurst = max(1, maximumBurst)
    }

    /// When the next packet is due.
    @inlinable
    public var nextDeadline: UInt64 { start &+ packetTime.offsetNanoseconds(ofPacket: nextPacket) }

    /// The number of packets to send now (0 when the next one is not due yet), and how many
    /// were skipped before them; consumes them.
    public mutating func due(at now: UInt64) -> (send: Int, skipped: Int) {
        guard now >= nextDeadline else { return (0, 0) }
        let elapsed = now - start
        // The last packet index whose deadline has passed, + 1.
        let product = elapsed.multipliedFullWidth(by: UInt64(packetTime.sampleRate))
        let reached = (UInt64(packetTime.framesPerPacket) * 1_000_000_000).dividingFullWidth(product).quotient + 1
        var count = reached - nextPacket
        var skipped: UInt64 = 0
        if count > UInt64(maximumBurst) {
            skipped = count - UInt64(maximumBurst)
            count = UInt64(maximumBurst)
        }
        skippedPackets += skipped
        nextPacket = reached
        return (Int(count), Int(skipped))
    }
}
