import Testing

@testable import TURN

@Suite("Monotonic time and token buckets")
struct MonotonicTimeTests {
    @Test func durationsAddInNanosecondsAndSaturate() {
        let start = MonotonicTime(nanoseconds: 1_000)
        #expect((start + .seconds(2)).nanoseconds == 2_000_001_000)
        #expect((start + .milliseconds(-1)).nanoseconds == 1_000 - 1_000_000)
        #expect((start + .nanoseconds(1)) > start)
        #expect((start + .seconds(2)) - start == 2_000_000_000)
        // A lifetime cannot wrap into the past, however long.
        let late = MonotonicTime(nanoseconds: .max - 10)
        #expect((late + .seconds(1)).nanoseconds == .max)
        #expect((late + .seconds(Int64.max)).nanoseconds == .max)
        #expect((MonotonicTime(nanoseconds: .min + 10) + .seconds(-1)).nanoseconds == .min)
    }

    @Test func bucketRefillsWithElapsedTime() {
        // 1000 tokens per second, a burst of 100.
        var bucket = TokenBucket(rate: 1_000, burst: 100)
        let start = TestTime.instant(0)
        let taken1 = bucket.take(100, now: start)
        #expect(taken1)
        let taken2 = bucket.take(1, now: start)
        #expect(!taken2, "empty until time passes")
        let taken3 = bucket.take(20, now: start + .milliseconds(10))
        #expect(!taken3, "10 ms gives 10 tokens")
        let taken4 = bucket.take(20, now: start + .milliseconds(20))
        #expect(taken4, "20 ms gives 20")
        let taken5 = bucket.take(1, now: start + .milliseconds(20))
        #expect(!taken5)
        // Time going backwards refills nothing.
        let taken6 = bucket.take(1, now: start)
        #expect(!taken6)
        // A long pause refills to the burst, not beyond it.
        let taken7 = bucket.take(100, now: start + .seconds(60))
        #expect(taken7)
        let taken8 = bucket.take(1, now: start + .seconds(60))
        #expect(!taken8)
    }

    @Test func unlimitedBucketAlwaysGives() {
        var bucket = TokenBucket(rate: 0, burst: 0)
        #expect(bucket.isUnlimited)
        let taken9 = bucket.take(1e9, now: TestTime.instant(0))
        #expect(taken9)
    }
}
