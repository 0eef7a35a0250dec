import Audio
import Benchmark
import RTP
import Transcoding
import WebRTC

#if canImport(Glibc)
    import Glibc
#endif

/// One panel leg of stagedoor-bridge, per 20 ms Opus frame, on the pure media paths the
/// bridge's sessions run (Transcoding), with a synthetic clock and no sockets:
///
/// - A, panel → port: SRTP unprotect, RTP parse, jitter-buffer insert, then 20 ticks of the
///   port's 1 ms clock (Opus decode of the frame when the store needs it, drift-compensated
///   cubic resampling, L24 packetize, RTP header), as `BridgeSession` does per datagram and tick.
/// - B, port → panel: 20 L24 1 ms RTP packets parsed into the jitter buffer, then one 20 ms
///   tick (L24 decode, resampling) and the panel's send: Opus encode, RTP header, SRTP protect
///   (`WebRTCLeg.sendAudio`'s steps).
/// - The anchor, in the same run: libopus alone encoding and decoding the same 20 ms frame of
///   the same 1 kHz tone, with the bridge's encoder settings (32 kbit/s, FEC, complexity 5).
///
/// `mallocCountTotal` counts the allocations in the process; the goal is 0 per frame. The
/// panel's packets are protected before the measurement (a pool: SRTP refuses replays).
/// libsrtp2 runs over OpenSSL's primitives (`CSRTPCrypto`): Debian builds it over NSS, which
/// allocated about 5 times per SRTP packet. The whole running bridge is measured the same way
/// by `scripts/bench-bridge-allocations`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    Benchmark("Anchor: libopus encode + decode of one 20 ms frame") { benchmark in
        let harness = CodecAnchor.shared
        for _ in benchmark.scaledIterations { blackHole(harness.encodeAndDecode()) }
    }

    Benchmark("Anchor: libopus decode of one 20 ms frame") { benchmark in
        let harness = CodecAnchor.shared
        for _ in benchmark.scaledIterations { blackHole(harness.decode()) }
    }

    Benchmark("Anchor: libopus encode of one 20 ms frame") { benchmark in
        let harness = CodecAnchor.shared
        for _ in benchmark.scaledIterations { blackHole(harness.encode()) }
    }

    Benchmark("A panel → port: SRTP unprotect + jitter buffer + Opus decode + resample + 20 L24 packets") {
        benchmark in
        let harness = PanelToPortHarness.shared
        for _ in benchmark.scaledIterations { blackHole(harness.frame()) }
    }

    Benchmark("B port → panel: 20 L24 packets + jitter buffer + resample + Opus encode + SRTP protect") {
        benchmark in
        let harness = PortToPanelHarness.shared
        for _ in benchmark.scaledIterations { blackHole(harness.frame()) }
    }

    Benchmark("A + B: one panel leg both ways") { benchmark in
        let toPort = PanelToPortHarness.leg
        let toPanel = PortToPanelHarness.leg
        for _ in benchmark.scaledIterations {
            blackHole(toPort.frame())
            blackHole(toPanel.frame())
        }
    }
}

/// The tone every benchmark codes: 1 kHz at half scale, 20 ms.
enum Tone {
    static let frames = 960

    static func frame(_ index: Int) -> [Float] {
        (0..<frames).map { Float(0.5 * sin(2 * Double.pi * 1_000 * Double(index * frames + $0) / 48_000)) }
    }
}

/// SRTP keys both ends share (fixed: the benchmark needs no DTLS).
enum Keys {
    static let panel = (key: [UInt8](repeating: 0x11, count: 16), salt: [UInt8](repeating: 0x22, count: 14))
    static let bridge = (key: [UInt8](repeating: 0x33, count: 16), salt: [UInt8](repeating: 0x44, count: 14))

    static func panelSession() -> SRTPSession {
        try! SRTPSession(
            profile: .aes128CMHMACSHA1_80, sendingKey: panel.key, sendingSalt: panel.salt, receivingKey: bridge.key,
            receivingSalt: bridge.salt)
    }

    static func bridgeSession() -> SRTPSession {
        try! SRTPSession(
            profile: .aes128CMHMACSHA1_80, sendingKey: bridge.key, sendingSalt: bridge.salt, receivingKey: panel.key,
            receivingSalt: panel.salt)
    }
}

/// libopus alone: the cost the bridge's legs are compared with.
final class CodecAnchor: @unchecked Sendable {
    static let shared = CodecAnchor()
    let encoder = try! OpusFrameEncoder(channels: 1)
    let decoder = try! OpusFrameDecoder(channels: 1)
    let pcm: UnsafeMutableBufferPointer<Float>
    let decoded = UnsafeMutableBufferPointer<Float>.allocate(capacity: 5_760)
    let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: 1_500, alignment: 16)
    var length = 0

    init() {
        pcm = .allocate(capacity: Tone.frames)
        _ = pcm.initialize(from: Tone.frame(0))
        length = encode()
    }

    func encode() -> Int {
        length = (try? encoder.encode(UnsafeBufferPointer(pcm), into: packet)) ?? 0
        return length
    }

    func decode() -> Int {
        (try? decoder.decode(UnsafeRawBufferPointer(rebasing: packet[0..<length]), into: decoded)) ?? 0
    }

    func encodeAndDecode() -> Int { encode() + decode() }
}

/// Direction A's state: a pool of the panel's SRTP packets and the path.
final class PanelToPortHarness: @unchecked Sendable {
    static let shared = PanelToPortHarness()
    /// Its own instance for the combined benchmark (a pool and SRTP indexes of its own).
    static let leg = PanelToPortHarness()
    /// Enough 20 ms frames for every iteration the configuration allows (21 × 1000), warm-up included.
    static let poolSize = 40_000
    let srtp = Keys.bridgeSession()
    let path: PanelToPortPath
    let pool: UnsafeMutableRawBufferPointer
    let lengths: [Int]
    let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: 2_048, alignment: 16)
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1_500, alignment: 16)
    var next = 0
    var now: UInt64 = 1_000_000_000

    static let slot = 512

    init() {
        path = try! PanelToPortPath(
            encoding: .l24, channels: 1, payloadType: 98, ssrc: 0xB0B0, initialSequenceNumber: 1,
            initialTimestamp: 1)
        // 50 distinct Opus frames of the tone, sent over and over under fresh SRTP indexes.
        let encoder = try! OpusFrameEncoder(channels: 1)
        var payloads: [[UInt8]] = []
        var scratch = [UInt8](repeating: 0, count: 1_500)
        for index in 0..<50 {
            let length = Tone.frame(index).withUnsafeBufferPointer { pcm in
                scratch.withUnsafeMutableBytes { try! encoder.encode(pcm, into: $0) }
            }
            payloads.append(Array(scratch.prefix(length)))
        }
        let sender = Keys.panelSession()
        pool = .allocate(byteCount: Self.poolSize * Self.slot, alignment: 16)
        var lengths: [Int] = []
        for index in 0..<Self.poolSize {
            let packet = UnsafeMutableRawBufferPointer(rebasing: pool[(index * Self.slot)..<((index + 1) * Self.slot)])
            let header = RTPHeader(
                payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: index),
                timestamp: UInt32(truncatingIfNeeded: index * 960), ssrc: 0xCAFE)
            header.write(into: packet)
            let payload = payloads[index % payloads.count]
            payload.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: packet[12..<(12 + payload.count)]).copyMemory(from: $0)
            }
            lengths.append(try! sender.protectRTP(packet, length: 12 + payload.count))
        }
        self.lengths = lengths
    }

    /// One datagram from the panel and the 20 port packets of its 20 ms.
    func frame() -> Int {
        precondition(next < Self.poolSize, "the SRTP pool is used up: raise poolSize")
        let length = lengths[next]
        // The session copies each datagram out of NIO's buffer into its scratch the same way.
        datagram.copyMemory(
            from: UnsafeRawBufferPointer(rebasing: pool[(next * Self.slot)..<(next * Self.slot + length)]))
        next += 1
        var sent = 0
        if let plain = try? srtp.unprotectRTP(datagram, length: length),
            let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: datagram[0..<plain]))
        {
            path.receive(
                header: view.header, payload: UnsafeRawBufferPointer(rebasing: datagram[view.payloadRange]), now: now)
        }
        for tick in 0..<20 {
            while let length = path.nextPacket(now: now + UInt64(tick) * 1_000_000, into: output) { sent += length }
        }
        now += 20_000_000
        return sent
    }
}

/// Direction B's state: a second of the port's 1 ms L24 packets (renumbered as they are sent),
/// the path, and the panel's encoder and SRTP session.
final class PortToPanelHarness: @unchecked Sendable {
    static let shared = PortToPanelHarness()
    static let leg = PortToPanelHarness()
    let path = PortToPanelPath(encoding: .l24, channels: 1, framesPerPacket: 48, payloadType: 98)
    let encoder = try! OpusFrameEncoder(channels: 1)
    let srtp = Keys.bridgeSession()
    /// 1000 packets of 12 + 144 bytes.
    let packets: UnsafeMutableRawBufferPointer
    let pcm: UnsafeMutableBufferPointer<Float>
    let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1_500, alignment: 16)
    var sequence: UInt16 = 0
    var timestamp: UInt32 = 0
    var sendSequence: UInt16 = 0
    var sendTimestamp: UInt32 = 0
    var now: UInt64 = 1_000_000_000
    static let packetSize = 12 + 48 * 3

    init() {
        packets = .allocate(byteCount: 1_000 * Self.packetSize, alignment: 16)
        for index in 0..<1_000 {
            let samples = Tone.frame(index / 20)
            let start = (index % 20) * 48
            let packet = UnsafeMutableRawBufferPointer(
                rebasing: packets[(index * Self.packetSize)..<((index + 1) * Self.packetSize)])
            samples[start..<(start + 48)].withUnsafeBufferPointer {
                _ = PCMEncoding.l24.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: packet[12...]))
            }
        }
        pcm = .allocate(capacity: path.samplesPerFrame)
        pcm.initialize(repeating: 0)
    }

    /// The port's 20 packets of 1 ms, then the 20 ms frame toward the panel.
    func frame() -> Int {
        for _ in 0..<20 {
            let index = Int(sequence % 1_000)
            let packet = UnsafeMutableRawBufferPointer(
                rebasing: packets[(index * Self.packetSize)..<((index + 1) * Self.packetSize)])
            RTPHeader(payloadType: 98, sequenceNumber: sequence, timestamp: timestamp, ssrc: 0x1234).write(into: packet)
            path.receive(packet: UnsafeRawBufferPointer(packet), now: now)
            sequence &+= 1
            timestamp &+= 48
            now += 1_000_000
        }
        var sent = 0
        while path.nextFrame(now: now, into: pcm) != nil {
            let header = RTPHeader(
                payloadType: 111, sequenceNumber: sendSequence, timestamp: sendTimestamp, ssrc: 0x0102_0304)
            let headerLength = header.write(into: output)
            let space = UnsafeMutableRawBufferPointer(
                rebasing: output[headerLength..<(output.count - SRTPSession.trailerCapacity)])
            if let payload = try? encoder.encode(UnsafeBufferPointer(pcm), into: space),
                let length = try? srtp.protectRTP(output, length: headerLength + payload)
            {
                sent += length
            }
            sendSequence &+= 1
            sendTimestamp &+= 960
        }
        return sent
    }
}
