/// Linear PCM as RTP carries it: signed, big-endian, interleaved (RFC 3190 §4 for L24, RFC 3551
/// §4.5.11 for L16), converted to and from 32-bit float samples in [-1, 1) (what libopus's
/// `opus_decode_float`/`opus_encode_float` use). Every function writes into the caller's buffer
/// and allocates nothing; they are the per-packet hot path (a benchmark should run
/// `encode`/`decode` for 48-frame stereo L24 packets and assert `mallocCountTotal == 0`).
public enum PCMEncoding: String, Hashable, Sendable, CaseIterable {
    case l24 = "L24"
    case l16 = "L16"

    /// Bytes per sample on the wire.
    @inlinable
    public var bytesPerSample: Int { self == .l24 ? 3 : 2 }

    /// Decodes `min(bytes.count / bytesPerSample, samples.count)` samples; returns that count.
    @inlinable
    public func decode(_ bytes: UnsafeRawBufferPointer, into samples: UnsafeMutableBufferPointer<Float>) -> Int {
        switch self {
        case .l24:
            let count = min(bytes.count / 3, samples.count)
            var offset = 0
            for index in 0..<count {
                // The three bytes into the top of an Int32, then an arithmetic shift sign-extends.
                let word =
                    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
                samples[index] = Float(Int32(bitPattern: word) >> 8) * (1.0 / 8_388_608.0)
                offset += 3
            }
            return count
        case .l16:
            let count = min(bytes.count / 2, samples.count)
            for index in 0..<count {
                let value = Int16(bitPattern: UInt16(bytes[2 * index]) << 8 | UInt16(bytes[2 * index + 1]))
                samples[index] = Float(value) * (1.0 / 32768.0)
            }
            return count
        }
    }

    /// Encodes `min(samples.count, bytes.count / bytesPerSample)` samples, clipping to full scale
    /// and rounding to nearest (NaN becomes negative full scale rather than trapping); returns
    /// the bytes written. L24 ⇄ Float is lossless: a Float's 24-bit significand holds every
    /// 24-bit sample exactly.
    @inlinable
    public func encode(_ samples: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        switch self {
        case .l24:
            let count = min(samples.count, bytes.count / 3)
            var offset = 0
            for index in 0..<count {
                let value = Self.quantize(samples[index], scale: 8_388_608, maximum: 8_388_607)
                let word = UInt32(bitPattern: value)
                bytes[offset] = UInt8(truncatingIfNeeded: word >> 16)
                bytes[offset + 1] = UInt8(truncatingIfNeeded: word >> 8)
                bytes[offset + 2] = UInt8(truncatingIfNeeded: word)
                offset += 3
            }
            return offset
        case .l16:
            let count = min(samples.count, bytes.count / 2)
            for index in 0..<count {
                let value = UInt16(truncatingIfNeeded: Self.quantize(samples[index], scale: 32768, maximum: 32767))
                bytes[2 * index] = UInt8(truncatingIfNeeded: value >> 8)
                bytes[2 * index + 1] = UInt8(truncatingIfNeeded: value)
            }
            return 2 * count
        }
    }

    @inlinable
    static func quantize(_ sample: Float, scale: Float, maximum: Int32) -> Int32 {
        // Written so that NaN fails both comparisons and lands on -1.
        let clamped: Float = sample > 1 ? 1 : (sample >= -1 ? sample : -1)
        return min(Int32((clamped * scale).rounded(.toNearestOrEven)), maximum)
    }

    /// Decodes 24-bit samples to Int32 (sign-extended, not scaled): for bit-exact paths.
    @inlinable
    public static func decodeL24(_ bytes: UnsafeRawBufferPointer, into samples: UnsafeMutableBufferPointer<Int32>)
        -> Int
    {
        let count = min(bytes.count / 3, samples.count)
        for index in 0..<count {
            let word =
                UInt32(bytes[3 * index]) << 24 | UInt32(bytes[3 * index + 1]) << 16 | UInt32(bytes[3 * index + 2]) << 8
            samples[index] = Int32(bitPattern: word) >> 8
        }
        return count
    }

    /// Encodes Int32 samples (clamped to 24 bits) as L24; returns the bytes written.
    @inlinable
    public static func encodeL24(_ samples: UnsafeBufferPointer<Int32>, into bytes: UnsafeMutableRawBufferPointer)
        -> Int
    {
        let count = min(samples.count, bytes.count / 3)
        for index in 0..<count {
            let word = UInt32(bitPattern: max(-8_388_608, min(8_388_607, samples[index])))
            bytes[3 * index] = UInt8(truncatingIfNeeded: word >> 16)
            bytes[3 * index + 1] = UInt8(truncatingIfNeeded: word >> 8)
            bytes[3 * index + 2] = UInt8(truncatingIfNeeded: word)
        }
        return 3 * count
    }
}

/// Channel layout helpers on float buffers; all write into preallocated buffers.
public enum ChannelLayout {
    /// `left[i], right[i]` → `output[2i], output[2i+1]`; returns the frames written.
    @inlinable
    public static func interleave(
        left: UnsafeBufferPointer<Float>, right: UnsafeBufferPointer<Float>,
        into output: UnsafeMutableBufferPointer<Float>
    ) -> Int {
        let frames = min(left.count, right.count, output.count / 2)
        for index in 0..<frames {
            output[2 * index] = left[index]
            output[2 * index + 1] = right[index]
        }
        return frames
    }

    /// The inverse of `interleave`; returns the frames read.
    @inlinable
    public static func deinterleave(
        _ input: UnsafeBufferPointer<Float>, left: UnsafeMutableBufferPointer<Float>,
        right: UnsafeMutableBufferPointer<Float>
    ) -> Int {
        let frames = min(input.count / 2, left.count, right.count)
        for index in 0..<frames {
            left[index] = input[2 * index]
            right[index] = input[2 * index + 1]
        }
        return frames
    }

    /// Mono → interleaved stereo (the same signal on both sides); returns the frames written.
    @inlinable
    public static func monoToStereo(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
        -> Int
    {
        let frames = min(input.count, output.count / 2)
        for index in 0..<frames {
            output[2 * index] = input[index]
            output[2 * index + 1] = input[index]
        }
        return frames
    }

    /// Interleaved stereo → mono as the average of the two sides (no clipping possible).
    @inlinable
    public static func stereoToMono(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
        -> Int
    {
        let frames = min(input.count / 2, output.count)
        for index in 0..<frames {
            output[index] = 0.5 * (input[2 * index] + input[2 * index + 1])
        }
        return frames
    }
}
