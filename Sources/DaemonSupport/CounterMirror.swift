import Metrics
import NIOConcurrencyHelpers

/// Mirrors counts that a protocol core keeps itself (plain integers in a value owned by one
/// thread, so the hot path takes no lock) into swift-metrics counters, whose Prometheus text the
/// `metrics` control method serves: each `record` adds to a counter what its count grew by since
/// the previous `record` of the same series. Safe to call from any thread.
public final class CounterMirror: Sendable {
    private struct Series: Hashable {
        var label: String
        var dimensions: [String]
    }

    private let last = NIOLockedValueBox<[Series: Int]>([:])

    public init() {}

    /// Brings the counter `label` (with `dimensions`) up to `count`. A count below the last one
    /// (the core was replaced) starts the series again from there without going backwards.
    public func record(_ label: String, dimensions: [(String, String)] = [], _ count: Int) {
        let series = Series(label: label, dimensions: dimensions.flatMap { [$0.0, $0.1] })
        let growth = last.withLockedValue { last in
            defer { last[series] = count }
            return count - (last[series] ?? 0)
        }
        if growth > 0 { Counter(label: label, dimensions: dimensions).increment(by: growth) }
    }
}
