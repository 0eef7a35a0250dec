/// Reads frames from a `SampleRing` at a fractional rate: each output frame consumes `ratio`
/// input frames, so a ratio slightly above 1 drains a ring whose writer runs fast and one below
/// 1 stretches a ring whose writer runs slow. That is how drift compensation changes the rate
/// by a few hundred ppm without clicks. Up to 8 interleaved channels.
///
/// Interpolation is linear (cheap; −40 dB-ish images at 1 kHz) or cubic Catmull-Rom (4 taps;
/// about 30 dB better at speech frequencies). At ratios within ±0.1 % of 1 either is
/// transparent for intercom speech; cubic is the default. Allocates nothing.
public struct FractionalResampler: Sendable {
    public enum Interpolation: Sendable {
        case linear
        case cubic
    }

    public let channels: Int
    public let interpolation: Interpolation
    /// Position between the previous frame (0) and the ring's oldest frame (1), in [0, 1).
    @usableFromInline var phase: Double = 0
    /// The frame before the ring's oldest one (the cubic's first tap).
    @usableFromInline var previous = SIMD8<Float>()

    public init(channels: Int, interpolation: Interpolation = .cubic) {
        precondition(channels >= 1 && channels <= 8, "1 to 8 channels")
        self.channels = channels
        self.interpolation = interpolation
    }

    /// Frames the ring must hold for one output frame.
    public var lookahead: Int { interpolation == .cubic ? 3 : 2 }

    /// Renders up to `output.count / channels` frames from `ring`, consuming `ratio` input
    /// frames per output frame (ratio in 0.5…2). Returns the frames rendered, fewer when the
    /// ring runs short: the caller then conceals or plays silence for the rest.
    public mutating func render(from ring: SampleRing, into output: UnsafeMutableBufferPointer<Float>, ratio: Double)
        -> Int
    {
        precondition(ring.channels == channels)
        let ratio = min(2, max(0.5, ratio))
        let frames = output.count / channels
        var produced = 0
        while produced < frames, ring.count >= lookahead {
            let t = Float(phase)
            for channel in 0..<channels {
                let y1 = ring.sample(frame: 0, channel: channel)
                let y2 = ring.sample(frame: 1, channel: channel)
                let value: Float
                switch interpolation {
                case .linear:
                    value = y1 + (y2 - y1) * t
                case .cubic:
                    let y0 = previous[channel]
                    let y3 = ring.sample(frame: 2, channel: channel)
                    let a = -0.5 * y0 + 1.5 * y1 - 1.5 * y2 + 0.5 * y3
                    let b = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3
                    let c = 0.5 * (y2 - y0)
                    value = ((a * t + b) * t + c) * t + y1
                }
                output[produced * channels + channel] = value
            }
            produced += 1
            phase += ratio
            while phase >= 1, ring.count > 0 {
                for channel in 0..<channels { previous[channel] = ring.sample(frame: 0, channel: channel) }
                ring.discard(frames: 1)
                phase -= 1
            }
        }
        return produced
    }

    /// Forgets the history (after a discontinuity such as a stream restart).
    public mutating func reset() {
        phase = 0
        previous = SIMD8<Float>()
    }
}
