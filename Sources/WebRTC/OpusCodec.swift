import COpus

/// A libopus error code (`OPUS_BAD_ARG`, `OPUS_BUFFER_TOO_SMALL`, …) with libopus's text.
public struct OpusError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: Int32

    public var description: String { "opus: " + String(cString: opus_strerror(code)) }
}

/// An Opus encoder at 48 kHz (RFC 6716, RFC 7587), one owner of its `OpusEncoder *`.
///
/// In-band FEC is on (RFC 6716 §2.1.7): each packet carries a low-rate copy of the previous
/// frame, which `OpusFrameDecoder.decodeFEC` recovers when a packet is lost. Encodes from and
/// into caller buffers: nothing is allocated per frame.
public final class OpusFrameEncoder {
    public let channels: Int
    private let encoder: OpaquePointer

    /// - Parameters:
    ///   - bitrate: bits per second; 32 kbit/s is transparent speech and leaves room for FEC.
    ///   - expectedLossPercent: what the encoder plans FEC for (libopus only adds FEC when it is
    ///     above 0).
    public init(
        channels: Int = 1, bitrate: Int = 32_000, expectedLossPercent: Int = 10, complexity: Int = 5,
        voice: Bool = true
    ) throws(OpusError) {
        guard channels == 1 || channels == 2 else { throw OpusError(code: OPUS_BAD_ARG) }
        var error: Int32 = 0
        let application = voice ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO
        guard let encoder = opus_encoder_create(48_000, Int32(channels), application, &error), error == OPUS_OK else {
            throw OpusError(code: error)
        }
        for status in [
            stagedoor_opus_set_bitrate(encoder, Int32(bitrate)),
            stagedoor_opus_set_inband_fec(encoder, 1),
            stagedoor_opus_set_packet_loss_perc(encoder, Int32(expectedLossPercent)),
            stagedoor_opus_set_complexity(encoder, Int32(complexity)),
        ] where status != OPUS_OK {
            opus_encoder_destroy(encoder)
            throw OpusError(code: status)
        }
        self.channels = channels
        self.encoder = encoder
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Encodes one frame of interleaved samples (2.5, 5, 10, 20, 40 or 60 ms: `pcm.count`
    /// is samples per channel × `channels`, in -1…1) into `packet`; returns the packet's length.
    public func encode(
        _ pcm: UnsafeBufferPointer<Float>, into packet: UnsafeMutableRawBufferPointer
    ) throws(OpusError) -> Int {
        guard let samples = pcm.baseAddress, let output = packet.baseAddress else {
            throw OpusError(code: OPUS_BAD_ARG)
        }
        let length = opus_encode_float(
            encoder, samples, Int32(pcm.count / channels), output.assumingMemoryBound(to: UInt8.self),
            Int32(min(packet.count, 1_275 * 3)))
        guard length > 0 else { throw OpusError(code: length) }
        return Int(length)
    }
}

/// An Opus decoder at 48 kHz, one owner of its `OpusDecoder *`; decodes into caller-provided
/// interleaved Float buffers, with in-band FEC and packet loss concealment for lost packets.
public final class OpusFrameDecoder {
    public let channels: Int
    private let decoder: OpaquePointer

    /// `channels` is what the decoder outputs; Opus decodes a mono packet to stereo and back.
    public init(channels: Int = 1) throws(OpusError) {
        guard channels == 1 || channels == 2 else { throw OpusError(code: OPUS_BAD_ARG) }
        var error: Int32 = 0
        guard let decoder = opus_decoder_create(48_000, Int32(channels), &error), error == OPUS_OK else {
            throw OpusError(code: error)
        }
        self.channels = channels
        self.decoder = decoder
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes one packet; returns samples per channel written to `pcm` (interleaved). `pcm`
    /// must hold the packet's duration (120 ms, 5760 samples per channel, is always enough).
    public func decode(
        _ packet: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Float>
    ) throws(OpusError) -> Int {
        guard let data = packet.baseAddress, !packet.isEmpty else { throw OpusError(code: OPUS_BAD_ARG) }
        return try run(
            data.assumingMemoryBound(to: UInt8.self), Int32(packet.count), pcm, frameSize: pcm.count / channels,
            fec: false)
    }

    /// Recovers a lost packet from the FEC data in the packet that followed it (RFC 6716
    /// §2.1.7). `frameSize` is the lost packet's duration in samples per channel (the usual
    /// 960 for 20 ms). When `next` carries no FEC, libopus conceals instead.
    public func decodeFEC(
        from next: UnsafeRawBufferPointer, frameSize: Int, into pcm: UnsafeMutableBufferPointer<Float>
    ) throws(OpusError) -> Int {
        guard let data = next.baseAddress, !next.isEmpty else { throw OpusError(code: OPUS_BAD_ARG) }
        return try run(
            data.assumingMemoryBound(to: UInt8.self), Int32(next.count), pcm, frameSize: frameSize, fec: true)
    }

    /// Packet loss concealment for `frameSize` samples per channel (a multiple of 2.5 ms) when
    /// nothing is there to decode.
    public func conceal(frameSize: Int, into pcm: UnsafeMutableBufferPointer<Float>) throws(OpusError) -> Int {
        try run(nil, 0, pcm, frameSize: frameSize, fec: false)
    }

    private func run(
        _ data: UnsafePointer<UInt8>?, _ length: Int32, _ pcm: UnsafeMutableBufferPointer<Float>, frameSize: Int,
        fec: Bool
    ) throws(OpusError) -> Int {
        guard let output = pcm.baseAddress, frameSize > 0, frameSize * channels <= pcm.count else {
            throw OpusError(code: OPUS_BUFFER_TOO_SMALL)
        }
        let samples = opus_decode_float(decoder, data, length, output, Int32(frameSize), fec ? 1 : 0)
        guard samples >= 0 else { throw OpusError(code: samples) }
        return Int(samples)
    }
}
