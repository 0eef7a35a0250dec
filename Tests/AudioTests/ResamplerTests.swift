import Testing

@testable import Audio

#if canImport(Glibc)
    import Glibc
#else
    import Foundation
#endif

@Suite("Sample ring, fractional resampler and drift control")
struct ResamplerTests {
    @Test func ringWrapsAndReportsOverflow() {
        let ring = SampleRing(capacity: 5, channels: 2)
        let input: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(input.withUnsafeBufferPointer { ring.write($0) } == 4)
        var out = [Float](repeating: 0, count: 6)
        #expect(out.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 3)
        #expect(out == [1, 2, 3, 4, 5, 6])
        #expect(input.withUnsafeBufferPointer { ring.write($0) } == 4)  // wraps
        #expect(ring.count == 5)
        #expect(input.withUnsafeBufferPointer { ring.write($0) } == 0)
        #expect(ring.overflowFrames == 4)
        #expect(ring.sample(frame: 1, channel: 1) == 2)
        out = [Float](repeating: 0, count: 10)
        #expect(out.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 5)
        #expect(out == [7, 8, 1, 2, 3, 4, 5, 6, 7, 8])
        ring.writeSilence(frames: 2)
        #expect(ring.count == 2)
        ring.discard(frames: 5)
        #expect(ring.count == 0)
    }

    @Test(arguments: [FractionalResampler.Interpolation.linear, .cubic])
    func unityRatioIsTransparent(interpolation: FractionalResampler.Interpolation) {
        let ring = SampleRing(capacity: 256, channels: 1)
        let input = (0..<100).map { Float($0) * 0.01 - 0.3 }
        _ = input.withUnsafeBufferPointer { ring.write($0) }
        var resampler = FractionalResampler(channels: 1, interpolation: interpolation)
        var out = [Float](repeating: 0, count: 100)
        let produced = out.withUnsafeMutableBufferPointer { resampler.render(from: ring, into: $0, ratio: 1) }
        #expect(produced == 100 - resampler.lookahead + 1)
        #expect(Array(out[0..<produced]) == Array(input[0..<produced]))
        #expect(ring.count == resampler.lookahead - 1)
    }

    @Test(arguments: [(FractionalResampler.Interpolation.linear, Float(4e-3)), (.cubic, Float(3e-4))])
    func sineAtAFractionalRatio(interpolation: FractionalResampler.Interpolation, tolerance: Float) {
        let ratio = 1.000_7
        let frequency = 1000.0
        let ring = SampleRing(capacity: 8192, channels: 2)
        var input = [Float](repeating: 0, count: 2 * 4800)
        for n in 0..<4800 {
            let value = Float(sin(2 * Double.pi * frequency * Double(n) / 48000))
            input[2 * n] = value
            input[2 * n + 1] = -value
        }
        _ = input.withUnsafeBufferPointer { ring.write($0) }
        var resampler = FractionalResampler(channels: 2, interpolation: interpolation)
        var out = [Float](repeating: 0, count: 2 * 4000)
        let produced = out.withUnsafeMutableBufferPointer { resampler.render(from: ring, into: $0, ratio: ratio) }
        #expect(produced == 4000)
        var worst: Float = 0
        for n in 1..<produced {  // Frame 0 is exact; the first cubic tap is the zero history.
            let expected = Float(sin(2 * Double.pi * frequency * Double(n) * ratio / 48000))
            worst = max(worst, abs(out[2 * n] - expected), abs(out[2 * n + 1] + expected))
        }
        #expect(worst < tolerance, "worst error \(worst)")
        // 4000 output frames consumed 4000 × ratio input frames.
        #expect(abs(Double(4800 - ring.count) - 4000 * ratio) < 2)
    }

    @Test func starvedRingRendersWhatItCan() {
        let ring = SampleRing(capacity: 16, channels: 1)
        _ = [Float](repeating: 0.5, count: 4).withUnsafeBufferPointer { ring.write($0) }
        var resampler = FractionalResampler(channels: 1)
        var out = [Float](repeating: 0, count: 48)
        #expect(out.withUnsafeMutableBufferPointer { resampler.render(from: ring, into: $0, ratio: 1) } == 2)
    }

    /// A sender whose clock runs `ppm` fast or slow writes bursts of `burst` frames; the
    /// consumer pulls `pull` frames per tick at the local rate through the resampler: 20 ms Opus
    /// frames toward a 1 ms port, and 1 ms port packets toward a 20 ms Opus encoder. The
    /// controller must hold the depth and find the ratio.
    @Test(arguments: [
        (500.0, 960, 48), (-500.0, 960, 48), (0.0, 960, 48), (900.0, 960, 48), (500.0, 48, 960), (-700.0, 48, 960),
    ])
    func driftIsAbsorbedWithoutGrowth(ppm: Double, burst: Int, pull: Int) {
        let target = 1920.0  // 40 ms
        let ring = SampleRing(capacity: 9600, channels: 1)
        var resampler = FractionalResampler(channels: 1)
        var controller = DriftController(targetDepth: target)
        let burstSamples = [Float](repeating: 0.25, count: burst)
        var out = [Float](repeating: 0, count: pull)
        _ = [Float](repeating: 0, count: Int(target)).withUnsafeBufferPointer { ring.write($0) }
        let senderPeriod = Double(burst) / (1 + ppm * 1e-6)  // local frames between bursts
        var nextBurst = 0.0
        var minimum = Int.max
        var maximum = 0
        var underruns = 0
        let ticks = 90 * 48000 / pull  // 90 s
        for tick in 0..<ticks {
            let now = Double(tick * pull)
            while now >= nextBurst {
                _ = burstSamples.withUnsafeBufferPointer { ring.write($0) }
                nextBurst += senderPeriod
            }
            let ratio = controller.update(depth: Double(ring.count), elapsedFrames: pull)
            let produced = out.withUnsafeMutableBufferPointer { resampler.render(from: ring, into: $0, ratio: ratio) }
            if produced < pull { underruns += 1 }
            if tick > ticks / 3 {
                minimum = min(minimum, ring.count)
                maximum = max(maximum, ring.count)
            }
        }
        #expect(underruns == 0)
        #expect(ring.overflowFrames == 0)
        // After settling the depth stays within a burst and a pull of the target: no growth, no drain.
        let slack = Double(burst + pull) + 100
        #expect(Double(minimum) > target - slack, "minimum \(minimum)")
        #expect(Double(maximum) < target + slack, "maximum \(maximum)")
        #expect(abs(controller.smoothedDepth - target) < 150, "smoothed depth \(controller.smoothedDepth)")
        #expect(abs(controller.ratio - (1 + ppm * 1e-6)) < 1.5e-4, "ratio \(controller.ratio)")
    }

    @Test func ratioIsClamped() {
        var controller = DriftController(targetDepth: 100)
        for _ in 0..<10_000 { _ = controller.update(depth: 100_000, elapsedFrames: 48) }
        #expect(controller.ratio == 1.001)
        for _ in 0..<100_000 { _ = controller.update(depth: 0, elapsedFrames: 48) }
        #expect(controller.ratio == 0.999)
        controller.reset()
        #expect(controller.ratio == 1)
    }
}
