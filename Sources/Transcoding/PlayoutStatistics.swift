import Audio

/// One receiving side's counters and state, for `status` and metrics.
public struct PlayoutStatistics: Hashable, Sendable {
    /// The jitter buffer's own counters (stored, duplicates, late, shed, …).
    public var jitterBuffer = JitterBufferStatistics()
    /// Packets decoded and played.
    public var decoded: UInt64 = 0
    /// Lost packets rebuilt from the next packet's in-band FEC.
    public var recovered: UInt64 = 0
    /// Packets concealed: Opus PLC toward a port, a fade to silence toward a panel.
    public var concealed: UInt64 = 0
    /// Packets that did not decode (then concealed as well).
    public var undecodable: UInt64 = 0
    /// Frames the consumer got as silence while the playout waited for its buffer to fill
    /// (before the stream, after a long outage).
    public var silentFrames: UInt64 = 0
    /// Frames the consumer got as silence while playing because the store ran dry: 0 unless
    /// something is wrong (every missing packet is concealed before that can happen).
    public var underrunFrames: UInt64 = 0
    /// Playout starts, and restarts after the buffer ran empty for too long.
    public var starts: UInt64 = 0
    public var rebuffers: UInt64 = 0
    /// Frames of a packet's start dropped unplayed so that playout starts at its target
    /// (whole packets dropped so are the jitter buffer's `trimmed`).
    public var trimmedFrames: UInt64 = 0
    /// Frames dropped on purpose after the consumer's clock stalled (its packets were skipped).
    public var skippedFrames: UInt64 = 0
    /// SSRC changes: the stream restarted.
    public var restarts: UInt64 = 0
    /// Frames buffered (jitter buffer and PCM store) at the last tick, and their target.
    public var depth = 0
    public var targetDepth = 0
    /// The jitter buffer's part of them.
    public var jitterBufferDepth = 0
    public var jitterBufferTarget = 0
    /// The resampling ratio's deviation from 1 that drift compensation applies, in ppm:
    /// positive when the sender's clock runs fast.
    public var driftPPM: Double = 0
}
