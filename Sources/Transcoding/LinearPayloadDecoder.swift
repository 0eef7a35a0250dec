import Audio

/// L24/L16 payloads (RFC 3190, RFC 3551) from a matrix port. Silence-safe: a missing packet is
/// never filled with old audio. It becomes silence, reached by a 1 ms ramp from the last sample
/// played (so the gap does not click), and the audio after the gap fades in over 1 ms.
struct LinearPayloadDecoder: PayloadDecoder {
    let channels: Int
    let encoding: PCMEncoding
    /// Frames over which a gap fades out and the audio after it fades in: 1 ms.
    static let fadeFrames = 48
    /// The last frame written (the start of a fade-out).
    private var last = SIMD8<Float>()
    /// Frames of the fade-out still to go (`fadeFrames` → 0), and of the fade-in done
    /// (0 → `fadeFrames`; `fadeFrames` when there is none). The start of a stream is the
    /// playout's to fade in.
    private var fadeOutLeft = 0
    private var fadeInDone = LinearPayloadDecoder.fadeFrames

    init(encoding: PCMEncoding, channels: Int) {
        precondition(channels >= 1 && channels <= 8, "1 to 8 channels")
        self.encoding = encoding
        self.channels = channels
    }

    var recoversFromNextPacket: Bool { false }

    func duration(of payload: UnsafeRawBufferPointer) -> Int? {
        let frameBytes = encoding.bytesPerSample * channels
        guard payload.count >= frameBytes, payload.count % frameBytes == 0 else { return nil }
        return payload.count / frameBytes
    }

    mutating func decode(_ payload: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>) -> Int? {
        let frames = encoding.decode(payload, into: pcm) / channels
        guard frames > 0 else { return nil }
        var frame = 0
        while fadeInDone < Self.fadeFrames, frame < frames {
            fadeInDone += 1
            let gain = Float(fadeInDone) / Float(Self.fadeFrames)
            for channel in 0..<channels { pcm[frame * channels + channel] *= gain }
            frame += 1
        }
        for channel in 0..<channels { last[channel] = pcm[(frames - 1) * channels + channel] }
        fadeOutLeft = Self.fadeFrames
        return frames
    }

    func recover(frames: Int, from next: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>) -> Int? {
        nil
    }

    mutating func conceal(frames: Int, into pcm: UnsafeMutableBufferPointer<Float>) -> Int {
        let frames = min(frames, pcm.count / channels)
        for frame in 0..<frames {
            fadeOutLeft = max(0, fadeOutLeft - 1)
            let gain = Float(fadeOutLeft) / Float(Self.fadeFrames)
            for channel in 0..<channels { pcm[frame * channels + channel] = last[channel] * gain }
        }
        fadeInDone = 0
        return frames
    }

    mutating func interrupt() {
        fadeOutLeft = 0
        fadeInDone = Self.fadeFrames
    }

    mutating func reset() { interrupt() }
}
