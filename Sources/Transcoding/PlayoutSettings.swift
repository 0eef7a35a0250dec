import Audio

/// How a receiving side of the bridge buffers and paces: its jitter buffer, the block its
/// consumer takes per clock tick, and how far drift compensation may bend the rate.
public struct PlayoutSettings: Hashable, Sendable {
    public var jitterBuffer: JitterBufferConfiguration
    /// Frames per channel the consumer takes at each tick of its clock: the port's packet
    /// (48 for 1 ms) toward a port, an Opus frame (960 for 20 ms) toward a panel.
    public var blockFrames: Int
    public var channels: Int
    /// Drift compensation's bound on the resampling ratio: ±500 ppm (0.9 cents of pitch) covers
    /// any two crystal clocks (±100 ppm each) with room to pull the depth back to its target.
    public var maximumDrift: Double
    /// The drift loop's gains and depth filter (see `DriftController`). Gentler than its
    /// defaults: the depth seen through 30 ms of network jitter is noisy, and a loop that
    /// settles in tens of seconds follows crystal drift while keeping the ratio's wobble to
    /// about a hundred ppm.
    public var driftProportionalGain: Double
    public var driftIntegralGain: Double
    public var driftFilterTimeConstant: Double
    public var interpolation: FractionalResampler.Interpolation
    /// A new stream plays once this much of it has arrived (then it starts at its target,
    /// trimming the rest): the jitter estimate needs a few packets before the target means
    /// anything. 200 ms by default.
    public var startDelayFrames: Int

    public init(
        jitterBuffer: JitterBufferConfiguration, blockFrames: Int, channels: Int, maximumDrift: Double = 0.000_5,
        driftProportionalGain: Double = 3e-6, driftIntegralGain: Double = 1e-7, driftFilterTimeConstant: Double = 1,
        interpolation: FractionalResampler.Interpolation = .cubic, startDelayFrames: Int = 9_600
    ) {
        precondition(blockFrames > 0 && channels >= 1 && channels <= 8)
        self.jitterBuffer = jitterBuffer
        self.blockFrames = blockFrames
        self.channels = channels
        self.maximumDrift = maximumDrift
        self.driftProportionalGain = driftProportionalGain
        self.driftIntegralGain = driftIntegralGain
        self.driftFilterTimeConstant = driftFilterTimeConstant
        self.interpolation = interpolation
        self.startDelayFrames = startDelayFrames
    }

    /// Opus from a panel (20 ms packets, 20–200 ms of jitter buffer unless bounded otherwise:
    /// `bridge.jitter_buffer.from_panels`) played out in port packets of `portFrames` frames.
    public static func panelToPort(
        portFrames: Int, channels: Int, minimumDepth: Int = 960, maximumDepth: Int = 9_600
    ) -> PlayoutSettings {
        var buffer = JitterBufferConfiguration.opus
        buffer.minimumDepth = max(960, minimumDepth)
        buffer.maximumDepth = max(buffer.minimumDepth, maximumDepth)
        // Slots for the deepest buffer, with room for reordering.
        buffer.capacity = max(buffer.capacity, 2 * ((buffer.maximumDepth + 959) / 960))
        buffer.shedThreshold = max(buffer.shedThreshold ?? 0, portFrames + 2 * buffer.samplesPerPacket)
        return PlayoutSettings(jitterBuffer: buffer, blockFrames: portFrames, channels: channels)
    }

    /// L24/L16 from a matrix port in packets of `portFrames` frames, played out in Opus frames of
    /// `frameFrames` (960, 20 ms) toward a panel. 5–100 ms of jitter buffer unless bounded
    /// otherwise (`bridge.jitter_buffer.from_ports`): the LAN is steady, but the bridge's own
    /// timers on a loaded box are not.
    public static func portToPanel(
        portFrames: Int, channels: Int, encoding: PCMEncoding, frameFrames: Int = 960, minimumDepth: Int = 240,
        maximumDepth: Int = 4_800
    ) -> PlayoutSettings {
        let low = max(minimumDepth, portFrames)
        var buffer = JitterBufferConfiguration.pcm(
            framesPerPacket: portFrames, channels: channels, encoding: encoding, minimumDepth: low,
            maximumDepth: max(maximumDepth, low, 4 * portFrames))
        // Room for a packet of another size than configured (up to 1500 bytes), and shedding
        // only for an excess beyond the consumer's block.
        buffer.maximumPayloadSize = max(buffer.maximumPayloadSize, 1_500)
        buffer.shedThreshold = frameFrames + 2 * portFrames
        // A port that stopped is silence after 50 ms (the stream toward the panel pauses then).
        buffer.maximumConcealment = max(2_400, 2 * portFrames)
        return PlayoutSettings(jitterBuffer: buffer, blockFrames: frameFrames, channels: channels)
    }
}

extension JitterBufferConfiguration {
    /// The same bounds for packets of `frames` frames (a sender that changed its packet time).
    func resized(samplesPerPacket frames: Int) -> JitterBufferConfiguration {
        var resized = self
        resized.samplesPerPacket = frames
        resized.minimumDepth = max(minimumDepth, frames)
        resized.maximumDepth = max(maximumDepth, 2 * frames)
        resized.capacity = max(16, 2 * ((resized.maximumDepth + frames - 1) / frames))
        resized.maximumConcealment = max(5 * frames, 4_800)
        resized.shedAfterPlayouts = max(5, 9_600 / frames)
        return resized
    }
}
