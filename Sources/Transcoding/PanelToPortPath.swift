import Audio
import RTP
import WebRTC

/// A panel's audio toward a matrix port, sans-IO: Opus RTP packets (SRTP already removed) in,
/// the port's L24/L16 RTP packets out, one per packet time on the port's steady clock.
///
/// Packets go into a jitter buffer by sequence number (reordering undone, duplicates and late
/// packets dropped). When the port's clock ticks (time is an input: `nextPacket(now:into:)`),
/// the PCM store is topped up from the jitter buffer only as far as this packet needs: the next
/// Opus frame decoded, or, for a lost one, rebuilt from the next packet's in-band FEC when that
/// is buffered, else concealed by libopus's PLC. Drift compensation resamples by up to ±500 ppm
/// so the panel's clock and the port's never drift the buffer away from its target. Every tick
/// yields exactly one packet (silence before the panel's first audio), so the port's stream has
/// no gaps; a stall of the caller beyond `maximumBurst` packets is skipped over, with the RTP
/// timestamp jumping and the audio for that time dropped (RFC 3550 §5.1).
///
/// Allocates nothing per packet. One owner: not thread-safe.
public final class PanelToPortPath {
    public let packetTime: PacketTime
    public let payloadType: UInt8
    private var packetizer: PortPacketizer
    private let playout: Playout<OpusPayloadDecoder>
    private var pacer: PacketPacer?
    private var pending = 0
    private var ssrc: UInt32?
    private let clock = RTPClock(rate: 48_000)
    /// One port packet of PCM.
    private let block: UnsafeMutableBufferPointer<Float>

    /// - Parameters:
    ///   - settings: the playout's; `.panelToPort(portFrames:channels:)` by default.
    ///   - ssrc, initialSequenceNumber, initialTimestamp: the port stream's (random, RFC 3550 §5.1).
    public init(
        encoding: PCMEncoding, channels: Int, packetTime: PacketTime = .default, payloadType: UInt8, ssrc: UInt32,
        initialSequenceNumber: UInt16, initialTimestamp: UInt32, settings: PlayoutSettings? = nil
    ) throws(OpusError) {
        let settings = settings ?? .panelToPort(portFrames: packetTime.framesPerPacket, channels: channels)
        precondition(settings.channels == channels && settings.blockFrames == packetTime.framesPerPacket)
        self.packetTime = packetTime
        self.payloadType = payloadType
        packetizer = PortPacketizer(
            encoding: encoding, channels: channels, packetTime: packetTime, payloadType: payloadType, ssrc: ssrc,
            initialSequenceNumber: initialSequenceNumber, initialTimestamp: initialTimestamp)
        playout = Playout(settings: settings, decoder: try OpusPayloadDecoder(channels: channels))
        block = .allocate(capacity: packetTime.framesPerPacket * channels)
        block.initialize(repeating: 0)
    }

    deinit { block.deallocate() }

    /// The port stream's SSRC.
    public var portSSRC: UInt32 { packetizer.ssrc }

    /// Bytes a port packet needs in `nextPacket`'s buffer: the RTP header and the payload.
    public var packetSize: Int { RTPHeader.fixedSize + packetizer.payloadSize }

    public var statistics: PlayoutStatistics { playout.statistics }

    /// One Opus RTP packet from the panel, authenticated and decrypted. `now` is its arrival on
    /// the receiver's monotonic clock (nanoseconds). The first packet starts the port's clock.
    @discardableResult
    public func receive(header: RTPHeader, payload: UnsafeRawBufferPointer, now: UInt64) -> JitterBufferInsertion {
        if ssrc != header.ssrc {
            if ssrc != nil { playout.reset() }
            ssrc = header.ssrc
        }
        if pacer == nil {
            pacer = PacketPacer(
                packetTime: packetTime, start: now,
                maximumBurst: max(8, Int(20_000_000 / max(1, packetTime.offsetNanoseconds(ofPacket: 1)))))
        }
        return playout.insert(
            sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, payload: payload,
            arrival: clock.units(atNanoseconds: now))
    }

    /// As `receive(header:payload:now:)`, from a whole RTP packet; nil when it does not parse
    /// or carries another payload type.
    @discardableResult
    public func receive(packet: UnsafeRawBufferPointer, opusPayloadType: UInt8, now: UInt64) -> JitterBufferInsertion? {
        guard let view = try? RTPPacketView(parsing: packet), view.header.payloadType == opusPayloadType else {
            return nil
        }
        return receive(
            header: view.header, payload: UnsafeRawBufferPointer(rebasing: packet[view.payloadRange]), now: now)
    }

    /// When the next port packet is due (monotonic nanoseconds); nil until the panel's first packet.
    public var nextDeadline: UInt64? {
        guard let pacer else { return nil }
        return pending > 0 ? 0 : pacer.nextDeadline
    }

    /// Writes the next port packet that is due at `now` (RTP header and L24/L16 payload) at the
    /// start of `buffer` and returns its length; nil when none is due. Call until nil at every
    /// tick. `buffer` needs `packetSize` bytes.
    public func nextPacket(now: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard buffer.count >= packetSize, var clock = pacer else { return nil }
        if pending == 0 {
            let (send, skipped) = clock.due(at: now)
            pacer = clock
            if skipped > 0 {
                playout.skip(frames: skipped * packetTime.framesPerPacket, now: self.clock.units(atNanoseconds: now))
                packetizer.skip(packets: skipped)
            }
            pending = send
        }
        guard pending > 0 else { return nil }
        pending -= 1
        playout.render(into: block, now: self.clock.units(atNanoseconds: now))
        let payload = UnsafeMutableRawBufferPointer(rebasing: buffer[RTPHeader.fixedSize...])
        guard let fields = packetizer.packetize(UnsafeBufferPointer(block), into: payload) else { return nil }
        RTPHeader(
            marker: fields.marker, payloadType: payloadType, sequenceNumber: fields.sequenceNumber,
            timestamp: fields.timestamp, ssrc: packetizer.ssrc
        ).write(into: buffer)
        return RTPHeader.fixedSize + fields.payloadSize
    }
}
