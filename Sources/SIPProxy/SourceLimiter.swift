import SIP

/// Per-source request-rate limiting with temporary bans, like Kamailio's `pike` module: each source IP
/// has a token bucket refilled at `requestsPerSecond` (bursts up to twice that); a source that empties it
/// is banned for `banDuration` and everything it sends is dropped unanswered, so a scanner or a flood
/// learns nothing and costs little. Time is an input. Idle sources are forgotten, so memory stays
/// bounded by the number of sources active within a ban period.
public struct SourceLimiter: Sendable {
    public var requestsPerSecond: Int
    public var banDuration: Duration
    /// Sources never limited (the configured trunks).
    public var exempt: Set<String> = []

    struct Bucket: Sendable {
        var tokens: Double
        var updated: TransactionInstant
        var bannedUntil: TransactionInstant?
    }

    private var buckets: [String: Bucket] = [:]
    private var lastSweep = TransactionInstant(nanoseconds: 0)
    /// Messages dropped because their source was over its rate or banned.
    public private(set) var dropped = 0
    /// Bans imposed so far.
    public private(set) var bans = 0

    /// `requestsPerSecond` 0 turns limiting off.
    public init(requestsPerSecond: Int, banDuration: Duration) {
        self.requestsPerSecond = requestsPerSecond
        self.banDuration = banDuration
    }

    /// Whether a message from `host` may be processed at `now`; counts it against the source.
    public mutating func admit(_ host: String, now: TransactionInstant) -> Bool {
        guard requestsPerSecond > 0, !exempt.contains(host) else { return true }
        sweep(now: now)
        let capacity = Double(requestsPerSecond * 2)
        var bucket = buckets[host] ?? Bucket(tokens: capacity, updated: now)
        defer { buckets[host] = bucket }
        if let until = bucket.bannedUntil {
            if now < until {
                dropped += 1
                return false
            }
            bucket.bannedUntil = nil
            bucket.tokens = capacity
            bucket.updated = now
        }
        let elapsed =
            Double(now.duration(since: bucket.updated).components.attoseconds) / 1e18
            + Double(now.duration(since: bucket.updated).components.seconds)
        bucket.tokens = min(capacity, bucket.tokens + elapsed * Double(requestsPerSecond))
        bucket.updated = now
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            return true
        }
        bucket.bannedUntil = now + banDuration
        bans += 1
        dropped += 1
        return false
    }

    /// Whether `host` is banned at `now`.
    public func isBanned(_ host: String, now: TransactionInstant) -> Bool {
        guard let until = buckets[host]?.bannedUntil else { return false }
        return now < until
    }

    /// The sources banned at `now`.
    public func bannedSources(now: TransactionInstant) -> [String] {
        buckets.filter { ($0.value.bannedUntil ?? now) > now }.map(\.key).sorted()
    }

    /// Forgets sources whose bucket is full again and that are not banned (at most once a second).
    private mutating func sweep(now: TransactionInstant) {
        guard now.duration(since: lastSweep) >= .seconds(1) else { return }
        lastSweep = now
        let refill = Duration.seconds(2)
        buckets = buckets.filter { _, bucket in
            if let until = bucket.bannedUntil, now < until { return true }
            return now.duration(since: bucket.updated) < refill
        }
    }
}

/// Counts open connections per source IP and refuses those over the limit (0 is unlimited).
public struct ConnectionLimiter: Sendable {
    public var perSource: Int
    private var open: [String: Int] = [:]
    public private(set) var refused = 0

    public init(perSource: Int) {
        self.perSource = perSource
    }

    /// Whether a new connection from `host` may stay open; counted when it may.
    public mutating func open(from host: String) -> Bool {
        let count = open[host, default: 0]
        if perSource > 0, count >= perSource {
            refused += 1
            return false
        }
        open[host] = count + 1
        return true
    }

    public mutating func close(from host: String) {
        guard let count = open[host] else { return }
        open[host] = count > 1 ? count - 1 : nil
    }

    public var total: Int { open.values.reduce(0, +) }
}
