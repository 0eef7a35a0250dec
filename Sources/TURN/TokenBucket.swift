/// A token bucket (bytes or requests per second, with a burst), with time as an input.
public struct TokenBucket: Sendable {
    /// Tokens added per second; 0 means unlimited.
    public var rate: Double
    public var burst: Double
    private var tokens: Double
    private var last: MonotonicTime?

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        self.tokens = burst
    }

    public var isUnlimited: Bool { rate <= 0 }

    /// Takes `amount` tokens if there are enough; refills for the time since the last call first.
    public mutating func take(_ amount: Double, now: MonotonicTime) -> Bool {
        guard rate > 0 else { return true }
        if let last, now > last {
            let seconds = Double(now - last) / 1e9
            tokens = min(burst, tokens + seconds * rate)
        }
        last = now
        guard tokens >= amount else { return false }
        tokens -= amount
        return true
    }
}
