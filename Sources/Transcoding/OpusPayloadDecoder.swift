import Audio
import WebRTC

/// Opus payloads (RFC 7587) from a panel: decoded by libopus, a lost packet rebuilt from the
/// next packet's in-band FEC (RFC 6716 §2.1.7) or concealed by libopus's PLC, which fades to
/// silence by itself over a long loss.
struct OpusPayloadDecoder: PayloadDecoder {
    let channels: Int
    private var decoder: OpusFrameDecoder

    init(channels: Int) throws(OpusError) {
        self.channels = channels
        decoder = try OpusFrameDecoder(channels: channels)
    }

    var recoversFromNextPacket: Bool { true }

    func duration(of payload: UnsafeRawBufferPointer) -> Int? { OpusPacket.duration(payload) }

    mutating func decode(_ payload: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>) -> Int? {
        try? decoder.decode(payload, into: pcm)
    }

    mutating func recover(frames: Int, from next: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>)
        -> Int?
    {
        try? decoder.decodeFEC(from: next, frameSize: frames, into: pcm)
    }

    mutating func conceal(frames: Int, into pcm: UnsafeMutableBufferPointer<Float>) -> Int {
        if let written = try? decoder.conceal(frameSize: frames, into: pcm) { return written }
        // libopus refuses frame sizes that are not a multiple of 2.5 ms: silence then.
        let count = min(frames * channels, pcm.count)
        UnsafeMutableBufferPointer(rebasing: pcm[0..<count]).update(repeating: 0)
        return count / channels
    }

    mutating func interrupt() {}

    /// A new decoder: libopus's state (and its PLC history) belongs to the old stream. This
    /// allocates, once per SSRC change.
    mutating func reset() {
        if let fresh = try? OpusFrameDecoder(channels: channels) { decoder = fresh }
    }
}
