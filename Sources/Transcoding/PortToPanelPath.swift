import Audio
import RTP

/// A matrix port's audio toward a panel, sans-IO: the port's L24/L16 RTP packets (1–20 ms)
/// in, 20 ms frames of 48 kHz PCM out on the bridge's own 20 ms clock, ready for the panel's
/// Opus encoder.
///
/// Packets go into a jitter buffer by sequence number; each 20 ms tick (time is an input:
/// `nextFrame(now:into:)`) takes a frame's worth, with drift compensation between the port's
/// media clock and the bridge's (±500 ppm of resampling, depth held). Silence-safe: a missing
/// packet never repeats old audio; it becomes silence, faded over 1 ms at both ends. Frames
/// flow while the port's stream does: from its start (once its jitter buffer holds its
/// target) until 50 ms after it stops; the panel's stream pauses in between.
///
/// Allocates nothing per packet. One owner: not thread-safe.
public final class PortToPanelPath {
    public let encoding: PCMEncoding
    public let channels: Int
    public let payloadType: UInt8
    /// The frames toward the panel: 20 ms.
    public let frameTime: PacketTime
    private let playout: Playout<LinearPayloadDecoder>
    private var pacer: PacketPacer?
    private var pending = 0
    /// Frame times skipped since the last frame.
    private var paused = 0
    private var ssrc: UInt32?
    private let clock = RTPClock(rate: 48_000)

    /// - Parameters:
    ///   - framesPerPacket: the port's configured packet time; packets of another size are
    ///     followed.
    ///   - payloadType: the port's; packets with another are ignored.
    public init(
        encoding: PCMEncoding, channels: Int, framesPerPacket: Int, payloadType: UInt8,
        frameTime: PacketTime = PacketTime(framesPerPacket: 960)!, settings: PlayoutSettings? = nil
    ) {
        let settings =
            settings
            ?? .portToPanel(
                portFrames: framesPerPacket, channels: channels, encoding: encoding,
                frameFrames: frameTime.framesPerPacket)
        precondition(settings.channels == channels && settings.blockFrames == frameTime.framesPerPacket)
        self.encoding = encoding
        self.channels = channels
        self.payloadType = payloadType
        self.frameTime = frameTime
        playout = Playout(settings: settings, decoder: LinearPayloadDecoder(encoding: encoding, channels: channels))
    }

    /// Interleaved samples in one frame (`nextFrame`'s buffer).
    public var samplesPerFrame: Int { frameTime.framesPerPacket * channels }

    public var statistics: PlayoutStatistics { playout.statistics }

    /// One RTP packet from the port. `now` is its arrival on the receiver's monotonic clock
    /// (nanoseconds). Nil when it is not RTP of the port's payload type. The first packet
    /// starts the 20 ms clock.
    @discardableResult
    public func receive(packet: UnsafeRawBufferPointer, now: UInt64) -> JitterBufferInsertion? {
        guard let view = try? RTPPacketView(parsing: packet), view.header.payloadType == payloadType,
            !view.payloadRange.isEmpty
        else { return nil }
        if ssrc != view.header.ssrc {
            if ssrc != nil { playout.reset() }
            ssrc = view.header.ssrc
        }
        if pacer == nil { pacer = PacketPacer(packetTime: frameTime, start: now, maximumBurst: 3) }
        return playout.insert(
            sequenceNumber: view.header.sequenceNumber, timestamp: view.header.timestamp,
            payload: UnsafeRawBufferPointer(rebasing: packet[view.payloadRange]),
            arrival: clock.units(atNanoseconds: now))
    }

    /// When the next frame is due (monotonic nanoseconds); nil until the port's first packet.
    public var nextDeadline: UInt64? {
        guard let pacer else { return nil }
        return pending > 0 ? 0 : pacer.nextDeadline
    }

    /// Fills `pcm` (`samplesPerFrame` samples, interleaved) with the next frame when one is due
    /// at `now`, and returns the frame times just before it that were skipped because the port
    /// was silent (no stream yet, or one that stopped: the panel's stream pauses, and its RTP
    /// timestamp should jump by them, RFC 3550 §5.1); nil when no frame is due. Call until nil
    /// at every tick. Frames after a stall of the caller longer than 60 ms are dropped (their
    /// audio with them).
    public func nextFrame(now: UInt64, into pcm: UnsafeMutableBufferPointer<Float>) -> Int? {
        guard pcm.count >= samplesPerFrame, var clock = pacer else { return nil }
        let units = self.clock.units(atNanoseconds: now)
        if pending == 0 {
            let (send, skipped) = clock.due(at: now)
            pacer = clock
            if skipped > 0 {
                playout.skip(frames: skipped * frameTime.framesPerPacket, now: units)
                paused += skipped
            }
            pending = send
        }
        let frame = UnsafeMutableBufferPointer(rebasing: pcm[0..<samplesPerFrame])
        while pending > 0 {
            pending -= 1
            if playout.render(into: frame, now: units) {
                defer { paused = 0 }
                return paused
            }
            paused += 1
        }
        return nil
    }
}
