/// How a `JitterBuffer` is sized and how it adapts.
public struct JitterBufferConfiguration: Hashable, Sendable {
    /// Packet slots; rounded up to a power of two. It bounds the depth: keep it above
    /// `maximumDepth / samplesPerPacket` with room for reordering.
    public var capacity: Int
    /// Largest payload stored (bytes); larger packets are refused. 1500 covers any UDP payload
    /// on Ethernet (an Opus 20 ms packet is 40–400 bytes, 1 ms of stereo L24 is 288).
    public var maximumPayloadSize: Int
    /// The nominal duration of one packet in RTP timestamp units (960 for 20 ms Opus, 48 for
    /// 1 ms at 48 kHz): depth is counted in these.
    public var samplesPerPacket: Int
    /// The target depth never goes below this (samples).
    public var minimumDepth: Int
    /// Nor above this (samples); a buffer deeper than this sheds its oldest packets.
    public var maximumDepth: Int
    /// Target = one packet + `jitterMultiplier` × the RFC 3550 A.8 jitter estimate, within the bounds.
    public var jitterMultiplier: Double
    /// Consecutive concealment (samples) after which an empty buffer goes silent and rebuffers.
    public var maximumConcealment: Int
    /// Shed packets when the depth stays this far above the target (samples); nil never
    /// sheds below `maximumDepth` (then the drift controller alone brings the depth back).
    public var shedThreshold: Int?
    /// How many consecutive playouts the depth must exceed `shedThreshold` before shedding
    /// starts (one packet per playout from then on), so that the peaks of ordinary jitter are
    /// not shed only to be concealed at the next trough. About 200 ms by default.
    public var shedAfterPlayouts: Int

    public init(
        capacity: Int = 64, maximumPayloadSize: Int = 1500, samplesPerPacket: Int = 960, minimumDepth: Int = 960,
        maximumDepth: Int = 9600, jitterMultiplier: Double = 4, maximumConcealment: Int? = nil,
        shedThreshold: Int? = nil, shedAfterPlayouts: Int? = nil
    ) {
        self.capacity = capacity
        self.maximumPayloadSize = maximumPayloadSize
        self.samplesPerPacket = samplesPerPacket
        self.minimumDepth = minimumDepth
        self.maximumDepth = max(maximumDepth, minimumDepth)
        self.jitterMultiplier = jitterMultiplier
        self.maximumConcealment = maximumConcealment ?? max(5 * samplesPerPacket, 4800)
        self.shedThreshold = shedThreshold ?? max(2 * samplesPerPacket, minimumDepth)
        self.shedAfterPlayouts = shedAfterPlayouts ?? max(5, 9600 / max(1, samplesPerPacket))
    }

    /// For Opus from a panel: 20 ms packets, 20…200 ms depth.
    public static let opus = JitterBufferConfiguration()

    /// For L24/L16 from a matrix port with `framesPerPacket`-frame packets (1 ms by default):
    /// the depth between `minimumDepth` and `maximumDepth` samples.
    public static func pcm(
        framesPerPacket: Int = 48, channels: Int = 2, encoding: PCMEncoding = .l24, minimumDepth: Int = 96,
        maximumDepth: Int = 2400
    ) -> JitterBufferConfiguration {
        let packets = (maximumDepth + framesPerPacket - 1) / framesPerPacket
        return JitterBufferConfiguration(
            capacity: max(16, 2 * packets), maximumPayloadSize: framesPerPacket * channels * encoding.bytesPerSample,
            samplesPerPacket: framesPerPacket, minimumDepth: minimumDepth, maximumDepth: maximumDepth,
            jitterMultiplier: 4)
    }
}

/// What `insert` did with a packet.
public enum JitterBufferInsertion: Hashable, Sendable {
    case stored
    /// Already buffered (same sequence number): dropped.
    case duplicate
    /// Its turn to play has passed (it was concealed): dropped.
    case late
    /// Larger than `maximumPayloadSize`: dropped.
    case tooLarge
    /// A jump too large to be reordering (a sender restart): the buffer was flushed and
    /// restarted from this packet. The caller should reset its decoder and statistics.
    case resynchronized
}

/// What to play next.
public enum JitterBufferPlayout: Hashable, Sendable {
    /// A packet, copied into the caller's buffer: its length there.
    case packet(sequenceNumber: UInt16, timestamp: UInt32, length: Int)
    /// Nothing to play for this packet slot: run packet loss concealment (Opus PLC), or, when
    /// `fecAvailable`, decode the lost frame from the next packet's in-band FEC (copy it with
    /// `copyNextPacket(into:)`; it stays buffered and plays normally next time).
    case conceal(sequenceNumber: UInt16, timestamp: UInt32, fecAvailable: Bool)
    /// Buffering or idle: play silence (and do not run PLC).
    case silence
}

/// Counters for `status` and metrics.
public struct JitterBufferStatistics: Hashable, Sendable {
    public var stored: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var late: UInt64 = 0
    public var tooLarge: UInt64 = 0
    public var played: UInt64 = 0
    /// Packet slots concealed because the packet was lost (later ones were there).
    public var concealedLost: UInt64 = 0
    /// Packet slots concealed because the buffer ran empty (the timeline then stretches).
    public var concealedEmpty: UInt64 = 0
    /// Packets dropped unplayed to bring the depth down (`maximumDepth`, `shedThreshold`).
    public var shed: UInt64 = 0
    /// Packets dropped unplayed before playout started (`trimOldest`).
    public var trimmed: UInt64 = 0
    public var resynchronizations: UInt64 = 0
    public var rebufferings: UInt64 = 0

    public init() {}
}

/// An adaptive jitter buffer of RTP payloads, allocated once (fixed slots, fixed payload room):
/// `insert` and `nextPlayout` copy bytes and allocate nothing, so they can run per packet
/// (a benchmark should insert/play reordered 20 ms Opus packets and 1 ms L24 packets and check
/// `mallocCountTotal == 0`).
///
/// - Ordering: packets are slotted by extended sequence number, so reordering within the buffer
///   is undone; duplicates and packets whose turn has passed are dropped and counted.
/// - Playout: the caller pulls once per packet time. A present packet is returned; a missing
///   one with later packets buffered is lost → `.conceal` (with FEC if the next one is there)
///   and the playout point moves on; a missing one with nothing later buffered means the stream
///   is late → `.conceal` without moving on, so the timeline stretches by one packet and the
///   target grows (this is how the depth adapts upward to a jitter spike). After
///   `maximumConcealment` of that, it goes `.silence` and rebuffers to the target.
/// - Target depth: one packet + k × RFC 3550 A.8 jitter (in the local clock's samples, given
///   as each packet's arrival time), rising at once, decaying slowly, within
///   `minimumDepth…maximumDepth`. Playout starts when the depth reaches the target.
/// - Depth down: beyond `maximumDepth` the oldest packets are dropped at once; `shedThreshold`
///   above the target for `shedAfterPlayouts` playouts in a row (a burst after a stall that
///   the jitter did not explain), one packet per playout is dropped unplayed; smaller excess is
///   left to the drift controller.
///
/// Time is an input: arrival times are in samples of the local clock (any origin). One owner
/// (the leg's event loop); not thread-safe.
public final class JitterBuffer {
    public let configuration: JitterBufferConfiguration
    public private(set) var statistics = JitterBufferStatistics()

    let capacity: Int
    let mask: Int64
    let payloads: UnsafeMutableRawBufferPointer
    /// Extended sequence number held by each slot, or -1.
    let slotSequence: UnsafeMutableBufferPointer<Int64>
    let slotTimestamp: UnsafeMutableBufferPointer<UInt32>
    let slotLength: UnsafeMutableBufferPointer<Int>

    enum State { case idle, buffering, playing }
    var state = State.idle
    /// Highest extended sequence number stored (valid when not idle).
    var highest: Int64 = 0
    /// Extended sequence number to play next.
    var next: Int64 = 0
    /// Timestamp and extended sequence of the last packet played, to date concealed slots.
    var lastPlayed: (sequence: Int64, timestamp: UInt32)?
    var consecutiveEmptyConcealment = 0
    var excessPlayouts = 0
    /// A.1-style restart detection: a very old sequence number seen once.
    var restartCandidate: Int64?
    // Jitter estimate (A.8) in samples.
    var lastTransit: Int32?
    /// Transit differences seen since the last reset, up to 16: the estimate's first values
    /// are a running mean, so the target is right after a few packets instead of a few dozen.
    var jitterObservations = 0
    public private(set) var jitter: Double = 0
    /// The current target depth in samples.
    public private(set) var targetDepth: Double

    public init(configuration: JitterBufferConfiguration) {
        var capacity = 4
        while capacity < configuration.capacity { capacity <<= 1 }
        self.configuration = configuration
        self.capacity = capacity
        self.mask = Int64(capacity - 1)
        payloads = .allocate(byteCount: capacity * configuration.maximumPayloadSize, alignment: 16)
        slotSequence = .allocate(capacity: capacity)
        slotSequence.initialize(repeating: -1)
        slotTimestamp = .allocate(capacity: capacity)
        slotTimestamp.initialize(repeating: 0)
        slotLength = .allocate(capacity: capacity)
        slotLength.initialize(repeating: 0)
        targetDepth = Double(configuration.minimumDepth)
    }

    deinit {
        payloads.deallocate()
        slotSequence.deallocate()
        slotTimestamp.deallocate()
        slotLength.deallocate()
    }

    /// Samples between the playout point and the newest packet buffered (holes included).
    public var depth: Int {
        guard state != .idle, highest >= next else { return 0 }
        return Int(highest - next + 1) * configuration.samplesPerPacket
    }

    /// Packets buffered.
    public private(set) var count = 0

    /// True while it waits for the depth to reach the target.
    public var isBuffering: Bool { state != .playing }

    /// Drops everything and waits for a new stream (after an SSRC change, or an outage). The
    /// jitter estimate stays; the target goes back to what it asks for, without the raises
    /// that waiting for a stream that had stopped made.
    public func reset() {
        for index in 0..<capacity { slotSequence[index] = -1 }
        count = 0
        state = .idle
        lastPlayed = nil
        lastTransit = nil
        restartCandidate = nil
        consecutiveEmptyConcealment = 0
        excessPlayouts = 0
        targetDepth = wantedDepth
    }

    /// Stores a packet's payload. `arrival` is when it arrived, in samples of the local clock
    /// (the same units as RTP timestamps; any origin; wraps are fine).
    @discardableResult
    public func insert(
        sequenceNumber: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, arrival: UInt32
    ) -> JitterBufferInsertion {
        guard payload.count <= configuration.maximumPayloadSize else {
            statistics.tooLarge += 1
            return .tooLarge
        }
        if state == .idle {
            // Start well above zero so that reordered predecessors still extend to positive numbers.
            highest = Int64(sequenceNumber) + (1 << 20)
            next = highest
            state = .buffering
        }
        let extended = highest + Int64(Int16(bitPattern: sequenceNumber &- UInt16(truncatingIfNeeded: highest)))
        var result = JitterBufferInsertion.stored

        if extended < next {
            if state == .buffering, highest - extended < Int64(capacity) {
                next = extended  // Reordered during the initial fill: start earlier.
            } else if next - extended > Int64(capacity) + 100 {
                // Far in the past: either garbage or a sender restart; two in a row is a restart (A.1).
                if let candidate = restartCandidate, extended == candidate + 1 {
                    resynchronize(at: extended)
                    result = .resynchronized
                } else {
                    restartCandidate = extended
                    statistics.late += 1
                    return .late
                }
            } else {
                statistics.late += 1
                return .late
            }
        } else if extended - highest > Int64(capacity) + 100 {
            resynchronize(at: extended)
            result = .resynchronized
        }
        restartCandidate = nil

        // Make room: the newest packet must fit in the ring, and the depth must stay bounded.
        while extended - next >= Int64(capacity) { dropOldest() }

        let slot = Int(extended & mask)
        if slotSequence[slot] == extended {
            statistics.duplicates += 1
            return .duplicate
        }
        if slotSequence[slot] >= 0 { count -= 1 }
        slotSequence[slot] = extended
        slotTimestamp[slot] = timestamp
        slotLength[slot] = payload.count
        if payload.count > 0 {
            UnsafeMutableRawBufferPointer(
                rebasing: payloads[
                    (slot * configuration.maximumPayloadSize)..<(slot * configuration.maximumPayloadSize + payload.count)
                ]
            ).copyMemory(from: payload)
        }
        count += 1
        if extended > highest { highest = extended }
        statistics.stored += 1
        updateJitter(timestamp: timestamp, arrival: arrival)
        while depth > configuration.maximumDepth + configuration.samplesPerPacket, count > 1 { dropOldest() }
        return result
    }

    /// The next packet slot's playout, copying a packet's payload into `output` (which must
    /// hold `maximumPayloadSize` bytes). Call once per packet time.
    public func nextPlayout(into output: UnsafeMutableRawBufferPointer) -> JitterBufferPlayout {
        switch state {
        case .idle:
            return .silence
        case .buffering:
            guard count > 0, Double(depth) >= targetDepth else { return .silence }
            state = .playing
            consecutiveEmptyConcealment = 0
        case .playing:
            break
        }
        if let threshold = configuration.shedThreshold, count > 1,
            Double(depth - configuration.samplesPerPacket) > targetDepth + Double(threshold)
        {
            excessPlayouts += 1
            if excessPlayouts >= configuration.shedAfterPlayouts { dropOldest() }
        } else {
            excessPlayouts = 0
        }
        let slot = Int(next & mask)
        if slotSequence[slot] == next {
            let length = min(slotLength[slot], output.count)
            if length > 0 {
                let start = slot * configuration.maximumPayloadSize
                UnsafeMutableRawBufferPointer(rebasing: output[0..<length])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: payloads[start..<(start + length)]))
            }
            slotSequence[slot] = -1
            count -= 1
            let timestamp = slotTimestamp[slot]
            lastPlayed = (next, timestamp)
            let sequence = UInt16(truncatingIfNeeded: next)
            next += 1
            consecutiveEmptyConcealment = 0
            statistics.played += 1
            return .packet(sequenceNumber: sequence, timestamp: timestamp, length: length)
        }
        let timestamp = estimatedTimestamp(of: next)
        let sequence = UInt16(truncatingIfNeeded: next)
        if highest > next {
            // Lost: later packets are here. Move on; FEC is in the packet after it, if present.
            next += 1
            statistics.concealedLost += 1
            consecutiveEmptyConcealment = 0
            return .conceal(
                sequenceNumber: sequence, timestamp: timestamp, fecAvailable: slotSequence[Int(next & mask)] == next)
        }
        // Empty: the stream is late. Conceal without moving on, and aim deeper.
        consecutiveEmptyConcealment += configuration.samplesPerPacket
        targetDepth = min(
            Double(configuration.maximumDepth), targetDepth + Double(configuration.samplesPerPacket))
        if consecutiveEmptyConcealment > configuration.maximumConcealment {
            state = .buffering
            statistics.rebufferings += 1
            return .silence
        }
        statistics.concealedEmpty += 1
        return .conceal(sequenceNumber: sequence, timestamp: timestamp, fecAvailable: false)
    }

    /// Drops the packet at the playout point (or its hole) unplayed, for a playout that starts
    /// with more buffered than it wants (its first tick came late). Not counted as shed: nothing
    /// was played before it, so nothing clicks.
    public func trimOldest() {
        guard state != .idle, highest >= next, count > 0 else { return }
        let slot = Int(next & mask)
        if slotSequence[slot] == next {
            slotSequence[slot] = -1
            count -= 1
            statistics.trimmed += 1
        }
        next += 1
    }

    /// Copies the packet at the playout point without consuming it (the FEC source after a
    /// `.conceal(…, fecAvailable: true)`); returns its length, or nil when it is not buffered.
    public func copyNextPacket(into output: UnsafeMutableRawBufferPointer) -> Int? {
        let slot = Int(next & mask)
        guard state != .idle, slotSequence[slot] == next else { return nil }
        let length = min(slotLength[slot], output.count)
        let start = slot * configuration.maximumPayloadSize
        if length > 0 {
            UnsafeMutableRawBufferPointer(rebasing: output[0..<length])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: payloads[start..<(start + length)]))
        }
        return length
    }

    func estimatedTimestamp(of extended: Int64) -> UInt32 {
        guard let lastPlayed else {
            let slot = Int(extended & mask)
            return slotSequence[slot] == extended ? slotTimestamp[slot] : 0
        }
        let packets = UInt32(truncatingIfNeeded: extended - lastPlayed.sequence)
        return lastPlayed.timestamp &+ packets &* UInt32(truncatingIfNeeded: configuration.samplesPerPacket)
    }

    func dropOldest() {
        let slot = Int(next & mask)
        if slotSequence[slot] == next {
            slotSequence[slot] = -1
            count -= 1
            statistics.shed += 1
        }
        next += 1
    }

    func resynchronize(at extended: Int64) {
        for index in 0..<capacity { slotSequence[index] = -1 }
        count = 0
        highest = extended
        next = extended
        lastPlayed = nil
        lastTransit = nil
        state = .buffering
        statistics.resynchronizations += 1
    }

    /// One packet and k × jitter, within the bounds.
    var wantedDepth: Double {
        min(
            Double(configuration.maximumDepth),
            max(
                Double(configuration.minimumDepth),
                Double(configuration.samplesPerPacket) + configuration.jitterMultiplier * jitter))
    }

    /// RFC 3550 A.8 on the local arrival clock (its 1/16 gain, after a running mean over the
    /// first 16 differences), then the target from it.
    func updateJitter(timestamp: UInt32, arrival: UInt32) {
        let transit = Int32(bitPattern: arrival &- timestamp)
        if let lastTransit {
            let d = Double(abs(Int64(transit) - Int64(lastTransit)))
            jitterObservations = min(16, jitterObservations + 1)
            jitter += (d - jitter) / Double(jitterObservations)
        }
        lastTransit = transit
        let wanted = wantedDepth
        // Rise at once; fall slowly (about 1/256 of the gap per packet) so a burst is remembered.
        targetDepth = wanted > targetDepth ? wanted : targetDepth - (targetDepth - wanted) / 256
    }
}
