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
    ///
    /// The ring's state is read once and written back once: the loop runs on local copies and
    /// the ring's storage pointer (a class's properties cost an exclusivity check per access).
    public mutating func render(from ring: SampleRing, into output: UnsafeMutableBufferPointer<Float>, ratio: Double)
        -> Int
    {
        precondition(ring.channels == channels)
        guard let out = output.baseAddress, let storage = ring.storage.baseAddress else { return 0 }
        let ratio = min(2, max(0.5, ratio))
        let channels = channels
        let frames = output.count / channels
        let capacity = ring.capacity
        let lookahead = lookahead
        let cubic = interpolation == .cubic
        var head = ring.head
        var count = ring.count
        var phase = phase
        var previous = previous
        var produced = 0
        while produced < frames, count >= lookahead {
            let t = Float(phase)
            let first = head * channels
            let second = (head + 1 < capacity ? head + 1 : head + 1 - capacity) * channels
            let destination = out + produced * channels
            if cubic {
                let third = (head + 2 < capacity ? head + 2 : head + 2 - capacity) * channels
                for channel in 0..<channels {
                    let y0 = previous[channel]
                    let y1 = storage[first + channel]
                    let y2 = storage[second + channel]
                    let y3 = storage[third + channel]
                    let a = -0.5 * y0 + 1.5 * y1 - 1.5 * y2 + 0.5 * y3
                    let b = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3
                    let c = 0.5 * (y2 - y0)
                    destination[channel] = ((a * t + b) * t + c) * t + y1
                }
            } else {
                for channel in 0..<channels {
                    let y1 = storage[first + channel]
                    destination[channel] = y1 + (storage[second + channel] - y1) * t
                }
            }
            produced += 1
            phase += ratio
            while phase >= 1, count > 0 {
                let oldest = head * channels
                for channel in 0..<channels { previous[channel] = storage[oldest + channel] }
                head = head + 1 == capacity ? 0 : head + 1
                count -= 1
                phase -= 1
            }
        }
        ring.head = head
        ring.count = count
        self.phase = phase
        self.previous = previous
        return produced
    }

    /// Forgets the history (after a discontinuity such as a stream restart).
    public mutating func reset() {
        phase = 0
        previous = SIMD8<Float>()
    }
}
