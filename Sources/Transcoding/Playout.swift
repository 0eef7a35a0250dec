import Audio

/// One receiving side of the bridge, between two clocks: packets arrive on the sender's
/// clock into a `JitterBuffer`; the consumer's clock takes blocks of PCM out. In between, the
/// jitter buffer's packets are decoded (or rebuilt by FEC, or concealed) into a `SampleRing`
/// only as the consumer needs them, and a `FractionalResampler` reads that ring at a ratio a
/// `DriftController` steers, so that the frames buffered stay at their target whatever the two
/// clocks' rates: the depth is held, it never grows, and nothing is discarded to bring it back.
///
/// The depth watched is everything queued: the jitter buffer's span (holes included) plus the
/// ring. Its target is the jitter buffer's adaptive target plus the consumer's block plus half
/// a sender packet, which is where the depth sits on average, seen at the consumer's ticks
/// before it takes its block, when the jitter buffer just covers its target between arrivals.
///
/// Playout starts once the jitter buffer holds that target, and, for a new stream, once
/// `startDelayFrames` of it have arrived so that the jitter estimate (and with it the target)
/// has settled: drift compensation moves the depth by ±500 ppm at most (24 frames a second),
/// so it must start where it will stay. Whatever is buffered beyond the target at the start
/// (the start waited, or the consumer's tick came late) is trimmed unplayed, to the frame:
/// whole packets, then the start of the first one, with the phase of the sender's packets (the
/// time since the newest arrived) taken into account.
///
/// Allocated once: `insert`, `render` and `skip` allocate nothing (a sender that changes its
/// packet duration, and an SSRC change, rebuild the buffer or the decoder once). One owner.
final class Playout<Decoder: PayloadDecoder> {
    let settings: PlayoutSettings
    private(set) var buffer: JitterBuffer
    private(set) var decoder: Decoder
    let ring: SampleRing
    private(set) var resampler: FractionalResampler
    private(set) var drift: DriftController
    /// A payload out of the jitter buffer.
    private let payload: UnsafeMutableRawBufferPointer
    /// One decoded packet: 120 ms, Opus's longest, or the largest PCM payload.
    private let decoded: UnsafeMutableBufferPointer<Float>
    /// One block, for `skip`.
    private let scratch: UnsafeMutableBufferPointer<Float>
    private(set) var playing = false
    /// Packets stored since the stream (re)started, and whether it has played since.
    private var packetsSinceReset = 0
    private var startedSinceReset = false
    /// The depth the drift controller saw at the last tick.
    private var measuredDepth = 0
    /// When the newest packet arrived (48 kHz units of the receiver's clock).
    private var lastArrival: UInt32 = 0
    /// Frames of the start's fade-in played (`fadeFrames` when none is under way).
    private var fadeInDone = 48
    private var counters = PlayoutStatistics()

    init(settings: PlayoutSettings, decoder: Decoder) {
        precondition(decoder.channels == settings.channels)
        self.settings = settings
        self.decoder = decoder
        buffer = JitterBuffer(configuration: settings.jitterBuffer)
        let maximumPacketFrames = max(5_760, settings.jitterBuffer.maximumPayloadSize / 2)
        ring = SampleRing(capacity: maximumPacketFrames + 2 * settings.blockFrames + 64, channels: settings.channels)
        resampler = FractionalResampler(channels: settings.channels, interpolation: settings.interpolation)
        drift = DriftController(
            targetDepth: 0, maximumDeviation: settings.maximumDrift, proportionalGain: settings.driftProportionalGain,
            integralGain: settings.driftIntegralGain, filterTimeConstant: settings.driftFilterTimeConstant)
        payload = .allocate(byteCount: max(1_500, settings.jitterBuffer.maximumPayloadSize), alignment: 16)
        decoded = .allocate(capacity: maximumPacketFrames * settings.channels)
        decoded.initialize(repeating: 0)
        scratch = .allocate(capacity: settings.blockFrames * settings.channels)
        scratch.initialize(repeating: 0)
    }

    deinit {
        payload.deallocate()
        decoded.deallocate()
        scratch.deallocate()
    }

    /// Counters and the state at the last tick.
    var statistics: PlayoutStatistics {
        var statistics = counters
        statistics.jitterBuffer = buffer.statistics
        statistics.jitterBufferDepth = buffer.depth
        statistics.jitterBufferTarget = Int(buffer.targetDepth.rounded())
        statistics.depth = measuredDepth
        statistics.targetDepth = Int(targetDepth.rounded())
        statistics.driftPPM = (drift.ratio - 1) * 1_000_000
        return statistics
    }

    /// Where the depth is held (frames).
    var targetDepth: Double {
        buffer.targetDepth + Double(settings.blockFrames) + Double(buffer.configuration.samplesPerPacket / 2)
    }

    /// Stores one packet's payload. `arrival` is in 48 kHz units of the receiver's clock.
    @discardableResult
    func insert(sequenceNumber: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, arrival: UInt32)
        -> JitterBufferInsertion
    {
        if let frames = decoder.duration(of: payload), frames != buffer.configuration.samplesPerPacket {
            resize(samplesPerPacket: frames)
        }
        let insertion = buffer.insert(
            sequenceNumber: sequenceNumber, timestamp: timestamp, payload: payload, arrival: arrival)
        if insertion == .stored || insertion == .resynchronized {
            packetsSinceReset += 1
            lastArrival = arrival
        }
        return insertion
    }

    /// The sender changed its packet duration: a jitter buffer counted in the new duration.
    /// What was buffered is dropped (the sender's change is a discontinuity anyway).
    private func resize(samplesPerPacket frames: Int) {
        guard frames > 0, frames * settings.channels <= decoded.count else { return }
        buffer = JitterBuffer(configuration: buffer.configuration.resized(samplesPerPacket: frames))
        stop()
    }

    /// Fills `output` (a block: `blockFrames × channels` samples, or fewer) with the next
    /// frames: decoded audio at the drift-compensated rate, concealment where packets are
    /// missing, silence while the buffer fills. `now` is the consumer's tick in 48 kHz units of
    /// the receiver's clock (the arrivals' clock). False when the block is only the silence of
    /// waiting (no stream, or one that stopped): a consumer that may pause can skip it.
    @discardableResult
    func render(into output: UnsafeMutableBufferPointer<Float>, now: UInt32) -> Bool {
        let channels = settings.channels
        let frames = output.count / channels
        let jitterBuffer = buffer
        if !playing { start(now: now) }
        measuredDepth = jitterBuffer.depth + ring.count
        var ratio = 1.0
        if playing {
            drift.targetDepth = targetDepth
            ratio = drift.update(depth: Double(measuredDepth), elapsedFrames: frames)
            let needed = Int((Double(frames) * ratio).rounded(.up)) + resampler.lookahead + 1
            while ring.count < needed {
                guard pull() else {
                    // An outage: the stream stopped. Wait for it afresh (the target without
                    // the raises its absence made), and play out what the ring holds.
                    buffer.reset()
                    stop()
                    counters.rebuffers += 1
                    break
                }
            }
        }
        var produced = 0
        if ring.count >= resampler.lookahead {
            produced = resampler.render(from: ring, into: output, ratio: ratio)
        }
        var frame = 0
        while fadeInDone < Self.fadeFrames, frame < produced {
            fadeInDone += 1
            let gain = Float(fadeInDone) / Float(Self.fadeFrames)
            for channel in 0..<channels { output[frame * channels + channel] *= gain }
            frame += 1
        }
        if produced < frames {
            UnsafeMutableBufferPointer(rebasing: output[(produced * channels)..<(frames * channels)])
                .update(repeating: 0)
            if playing {
                counters.underrunFrames += UInt64(frames - produced)
            } else {
                counters.silentFrames += UInt64(frames - produced)
                // The ring's last frames (fewer than the resampler's taps) are not worth keeping.
                ring.removeAll()
                resampler.reset()
            }
        }
        return playing || produced > 0
    }

    /// Consumes `frames` frames without playing them: the consumer's clock stalled and its
    /// packets for that time were skipped, so the audio for it goes too (the depth stays).
    func skip(frames: Int, now: UInt32) {
        var remaining = frames
        while remaining > 0 {
            let block = min(remaining, settings.blockFrames)
            render(into: UnsafeMutableBufferPointer(rebasing: scratch[0..<(block * settings.channels)]), now: now)
            remaining -= block
        }
        counters.skippedFrames += UInt64(frames)
    }

    /// Forgets the stream: a new SSRC starts from an empty buffer and a fresh decoder.
    func reset() {
        buffer.reset()
        packetsSinceReset = 0
        startedSinceReset = false
        decoder.reset()
        drift.reset()
        counters.restarts += 1
        stop()
        ring.removeAll()
        resampler.reset()
    }

    /// Starts playing when the jitter buffer holds enough (see the type's notes), trimmed to
    /// the target.
    private func start(now: UInt32) {
        let jitterBuffer = buffer
        let packetFrames = jitterBuffer.configuration.samplesPerPacket
        let wanted = Int(targetDepth.rounded())
        // The delay stays clear of the jitter buffer's bound, where it would shed.
        let delay = min(
            settings.startDelayFrames,
            jitterBuffer.configuration.maximumDepth - settings.blockFrames - 2 * packetFrames)
        guard jitterBuffer.count > 0, jitterBuffer.depth >= wanted,
            startedSinceReset || jitterBuffer.depth >= delay
        else { return }
        // The depth seen at the ticks from now on averages this much: it falls until the next
        // packet arrives, a packet time after the newest one.
        let phase = min(packetFrames, max(0, Int(Int32(bitPattern: now &- lastArrival))))
        var excess = jitterBuffer.depth - packetFrames / 2 + phase - wanted
        while excess >= packetFrames, jitterBuffer.count > 1 {
            jitterBuffer.trimOldest()
            excess -= packetFrames
        }
        playing = true
        startedSinceReset = true
        counters.starts += 1
        // The rest of the excess from the start of the first packet; what plays fades in (1 ms).
        ring.removeAll()
        resampler.reset()
        guard pull() else { return }
        if excess > 0 {
            let trimmed = min(excess, ring.count - 1)
            ring.discard(frames: trimmed)
            counters.trimmedFrames += UInt64(trimmed)
        }
        fadeInDone = 0
    }

    /// The fade-in of a playout's start: 1 ms.
    static var fadeFrames: Int { 48 }

    private func stop() {
        playing = false
        decoder.interrupt()
    }

    /// Moves the jitter buffer's next packet slot into the ring: decoded, rebuilt from the next
    /// packet's FEC, or concealed. False when the jitter buffer has nothing to play (it went
    /// back to buffering after a long outage).
    private func pull() -> Bool {
        let packetFrames = buffer.configuration.samplesPerPacket
        var frames: Int?
        switch buffer.nextPlayout(into: payload) {
        case .packet(_, _, let length):
            frames = decoder.decode(UnsafeRawBufferPointer(rebasing: payload[0..<length]), into: decoded)
            if frames == nil { counters.undecodable += 1 } else { counters.decoded += 1 }
        case .conceal(_, _, let fecAvailable):
            if fecAvailable, decoder.recoversFromNextPacket, let length = buffer.copyNextPacket(into: payload) {
                frames = decoder.recover(
                    frames: packetFrames, from: UnsafeRawBufferPointer(rebasing: payload[0..<length]), into: decoded)
                if frames != nil { counters.recovered += 1 }
            }
        case .silence:
            return false
        }
        if frames == nil {
            frames = decoder.conceal(frames: packetFrames, into: decoded)
            counters.concealed += 1
        }
        let count = (frames ?? 0) * settings.channels
        ring.write(UnsafeBufferPointer(rebasing: decoded[0..<count]))
        return true
    }
}
