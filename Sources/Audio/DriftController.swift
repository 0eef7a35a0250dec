/// Drift compensation: a PI controller that holds a buffer's depth at a target by steering the
/// resampling ratio of a `FractionalResampler` within ±`maximumDeviation` (0.1 % by default).
///
/// Why this rather than dropping or inserting single samples in quiet stretches: intercom audio
/// is often never quiet (open mics, programme feeds), a PI loop corrects continuously and
/// inaudibly (0.1 % is 1.7 cents of pitch), and it needs no level detector. The loop filters
/// the depth first (it moves in a saw-tooth as whole packets arrive), then
/// `ratio = 1 + Kp·e + Ki·∫e dt` with e the filtered depth minus the target, in frames.
/// With the default gains the loop is critically damped with a time constant of a few seconds,
/// absorbs any clock offset within ±0.1 % (crystal oscillators are within ±0.01 %) and leaves
/// no steady-state error, so the buffer never grows. Step changes of the target (jitter buffer
/// adaptation) are followed at most at the clamp's rate (48 frames/s at 48 kHz); larger excess
/// is shed by the jitter buffer itself.
public struct DriftController: Hashable, Sendable {
    public var targetDepth: Double
    public var maximumDeviation: Double
    /// Per frame of error.
    public var proportionalGain: Double
    /// Per frame·second of accumulated error.
    public var integralGain: Double
    /// Time constant of the depth filter, in seconds.
    public var filterTimeConstant: Double
    public let sampleRate: Double
    var integral: Double = 0
    var filteredDepth: Double?
    /// The last ratio returned.
    public private(set) var ratio: Double = 1

    public init(
        targetDepth: Double, sampleRate: Double = 48000, maximumDeviation: Double = 0.001,
        proportionalGain: Double = 1e-5, integralGain: Double = 1.2e-6, filterTimeConstant: Double = 0.5
    ) {
        self.targetDepth = targetDepth
        self.sampleRate = sampleRate
        self.maximumDeviation = maximumDeviation
        self.proportionalGain = proportionalGain
        self.integralGain = integralGain
        self.filterTimeConstant = filterTimeConstant
    }

    /// The depth the controller sees after filtering.
    public var smoothedDepth: Double { filteredDepth ?? targetDepth }

    /// Feeds the current depth in frames, `elapsedFrames` output frames after the previous
    /// call; returns the resampling ratio (input frames per output frame) to use next.
    public mutating func update(depth: Double, elapsedFrames: Int) -> Double {
        let dt = Double(elapsedFrames) / sampleRate
        let alpha = min(1, dt / max(filterTimeConstant, dt))
        let filtered = (filteredDepth ?? depth) + alpha * (depth - (filteredDepth ?? depth))
        filteredDepth = filtered
        let error = filtered - targetDepth
        let proposed = proportionalGain * error + integralGain * (integral + error * dt)
        // Anti-windup: integrate only while the output is not pinned in the error's direction.
        if abs(proposed) < maximumDeviation || (proposed > 0) != (error > 0) {
            integral += error * dt
        }
        let correction = proportionalGain * error + integralGain * integral
        ratio = 1 + min(maximumDeviation, max(-maximumDeviation, correction))
        return ratio
    }

    /// Forgets the history (after a stream restart).
    public mutating func reset() {
        integral = 0
        filteredDepth = nil
        ratio = 1
    }
}
