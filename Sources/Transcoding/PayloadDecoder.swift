/// What a `Playout` decodes its jitter buffer's payloads with: one RTP payload format to
/// interleaved 48 kHz float PCM, and what to play for a packet that is not there. Conformers
/// are value types over preallocated state: nothing here allocates per packet.
protocol PayloadDecoder {
    /// Channels of the PCM written.
    var channels: Int { get }

    /// True when a lost packet can be rebuilt from the packet after it (Opus in-band FEC).
    var recoversFromNextPacket: Bool { get }

    /// The payload's duration in frames at 48 kHz without decoding it; nil when malformed.
    func duration(of payload: UnsafeRawBufferPointer) -> Int?

    /// Decodes one payload into `pcm`; returns the frames written, nil when it is undecodable.
    mutating func decode(_ payload: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>) -> Int?

    /// Rebuilds the `frames` frames of a lost packet from `next`, the packet after it; nil when
    /// it cannot.
    mutating func recover(frames: Int, from next: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>)
        -> Int?

    /// Fills `frames` frames for a packet that is missing; returns the frames written.
    mutating func conceal(frames: Int, into pcm: UnsafeMutableBufferPointer<Float>) -> Int

    /// The stream went silent (the playout stopped): whatever comes next starts afresh.
    mutating func interrupt()

    /// Forgets the stream (a new SSRC).
    mutating func reset()
}
