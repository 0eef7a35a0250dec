import Audio
import Configuration
import DatagramIO
import Foundation
import NIOConcurrencyHelpers
import RTP
import STUN
import Transcoding
import WebRTC

/// One panel's WebRTC leg and its media socket, bound to one matrix port. Its datagrams and
/// its clock come from the `MediaPlane`'s thread; `lock` guards its state against the control
/// socket's `status` (a class with a lock, not an actor: see ConfiguredSection on the 6.3
/// miscompile), uncontended on the media path.
///
/// The media work is the Transcoding module's two pure paths; this class only feeds them
/// packets and the clock: the panel's RTP (from the leg) and the port's RTP go into their
/// jitter buffers on arrival, and the plane's tick (1 ms) takes the port packets and the 20 ms
/// Opus frames that are due. One lock per packet or tick, none per sample, and no allocation:
/// datagrams are read into and sent from the loop's own buffers.
final class BridgeSession: @unchecked Sendable {
    let id: String
    let panel: BridgePanel
    let port: BridgePort
    let localPort: Int
    /// The session's socket on the media plane: its local address.
    let socket: DatagramSocket
    let lock = NIOLock()
    private let leg: WebRTCLeg
    private let portLink: PortLink
    /// Receive scratch: a datagram is copied here and unprotected in place.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2_048, alignment: 16)
    /// Send scratch, for SRTP toward the panel and RTP toward the port.
    private let sendBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8_192, alignment: 16)
    /// Panel → port: jitter buffer, Opus decode (FEC, PLC), drift, L24/L16 on the port's clock.
    private let toPort: PanelToPortPath
    /// Port → panel: jitter buffer, L24/L16 decode, drift, 20 ms frames for the Opus encoder.
    private let toPanel: PortToPanelPath
    /// One 20 ms frame toward the panel.
    private let frame: UnsafeMutableBufferPointer<Float>
    private(set) var closed = false
    private var lastRTCP: UInt64 = 0

    init(
        id: String, panel: BridgePanel, port: BridgePort, socket: TransportAddress, leg: WebRTCLeg, portLink: PortLink,
        jitterBuffer: BridgeJitterBufferBounds = .init()
    ) throws {
        self.id = id
        self.panel = panel
        self.port = port
        self.localPort = Int(socket.port)
        self.socket = .flow(socket)
        self.leg = leg
        self.portLink = portLink
        let encoding: PCMEncoding = port.encoding == .L24 ? .l24 : .l16
        toPort = try PanelToPortPath(
            encoding: encoding, channels: port.channels,
            packetTime: PacketTime(framesPerPacket: port.samplesPerPacket) ?? .default,
            payloadType: UInt8(port.payloadType), ssrc: .random(in: 1...UInt32.max),
            initialSequenceNumber: .random(in: 0...UInt16.max), initialTimestamp: .random(in: 0...UInt32.max),
            settings: .panelToPort(
                portFrames: port.samplesPerPacket, channels: port.channels,
                minimumDepth: jitterBuffer.fromPanelsMilliseconds.lowerBound * 48,
                maximumDepth: jitterBuffer.fromPanelsMilliseconds.upperBound * 48))
        toPanel = PortToPanelPath(
            encoding: encoding, channels: port.channels, framesPerPacket: port.samplesPerPacket,
            payloadType: UInt8(port.payloadType),
            settings: .portToPanel(
                portFrames: port.samplesPerPacket, channels: port.channels, encoding: encoding,
                minimumDepth: jitterBuffer.fromPortsMilliseconds.lowerBound * 48,
                maximumDepth: jitterBuffer.fromPortsMilliseconds.upperBound * 48))
        frame = .allocate(capacity: toPanel.samplesPerFrame)
        frame.initialize(repeating: 0)
    }

    deinit {
        scratch.deallocate()
        sendBuffer.deallocate()
        frame.deallocate()
    }

    /// A datagram on the session's socket: STUN, DTLS, SRTP or SRTCP from the panel. Answers
    /// (STUN responses, DTLS flights) go out of the same socket.
    func receive(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, now: UInt64, loop: DatagramLoop) {
        lock.withLock {
            guard !closed else { return }
            let length = min(payload.count, scratch.count - 64)
            if let base = payload.baseAddress { scratch.baseAddress!.copyMemory(from: base, byteCount: length) }
            let path = toPort
            leg.receive(
                scratch, length: length, from: source, now: now,
                transmit: { bytes, destination in loop.send(from: socket, to: destination, payload: bytes) },
                rtp: { header, payload in path.receive(header: header, payload: payload, now: now) })
        }
    }

    /// The plane's tick: the port packets due (the path keeps the port's steady packet clock,
    /// concealing what the panel lost and skipping over a stall of the thread), then the Opus
    /// frames due toward the panel (which pause, timestamp and all, while the port is silent).
    func pace(now: UInt64, loop: DatagramLoop) {
        lock.withLock {
            guard !closed else { return }
            while let length = toPort.nextPacket(now: now, into: sendBuffer) {
                loop.send(
                    from: portLink.socket, to: portLink.destination,
                    payload: UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
            }
            while let paused = toPanel.nextFrame(now: now, into: frame) {
                if paused > 0 { leg.skipAudio(samples: paused * toPanel.frameTime.framesPerPacket) }
                guard let (length, _) = leg.sendAudio(UnsafeBufferPointer(frame), into: sendBuffer, now: now),
                    let selected = leg.ice.selectedRemote
                else { continue }
                loop.send(from: socket, to: selected, payload: UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
            }
        }
    }

    /// One RTP datagram from the port, toward the panel (the path checks its payload type).
    func fromPort(_ packet: UnsafeRawBufferPointer, now: UInt64) {
        lock.withLock {
            guard !closed else { return }
            toPanel.receive(packet: packet, now: now)
        }
    }

    /// Timers, on the plane's thread: RTCP, DTLS retransmission, consent and establishment
    /// expiry. False when the session is over and must be removed.
    func housekeeping(now: UInt64, loop: DatagramLoop) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            let selected = leg.ice.selectedRemote
            // RTCP every 2 s (RFC 3550 §6.2's 5 s minimum scaled down, as WebRTC stacks do).
            if let selected, now &- lastRTCP >= 2_000_000_000 {
                let wallClock = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000_000))
                if let (length, _) = leg.rtcpReport(
                    into: sendBuffer, now: now, wallClock: wallClock, cname: "stagedoor")
                {
                    lastRTCP = now
                    loop.send(
                        from: socket, to: selected, payload: UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
                }
            }
            leg.handleTimeout(now: now) { bytes, destination in
                loop.send(from: socket, to: selected ?? destination, payload: bytes)
            }
            switch leg.state(now: now) {
            case .failed, .closed: return false
            case .connecting, .connected: return true
            }
        }
    }

    /// Ends the session on the plane's thread: DTLS close_notify to the panel; the plane then
    /// closes the socket.
    func close(now: UInt64, loop: DatagramLoop) {
        lock.withLock {
            guard !closed else { return }
            closed = true
            if let selected = leg.ice.selectedRemote {
                leg.close(now: now) { bytes, _ in loop.send(from: socket, to: selected, payload: bytes) }
            }
        }
    }

    /// What `status` reports: the leg, and each direction's jitter buffer (depth and target in
    /// frames at 48 kHz), concealment, FEC recovery and drift.
    func snapshot() -> [String: String] {
        let now = DatagramLoop.monotonicNanoseconds()
        return lock.withLock {
            let counters = leg.counters
            let portward = toPort.statistics
            let panelward = toPanel.statistics
            var snapshot = [
                "id": id, "panel": panel.id, "port": port.id, "state": "\(leg.state(now: now))",
                "ice": "\(leg.ice.state(now: now))", "dtls": "\(leg.dtls.state)",
                "remote": leg.ice.selectedRemote.map { "\($0)" } ?? "",
                "packets_received": "\(counters.packetsReceived)", "packets_sent": "\(counters.packetsSent)",
                "recovered_fec": "\(portward.recovered)", "concealed": "\(portward.concealed)",
                "port_buffer_frames": "\(portward.depth)", "port_underruns": "\(portward.underrunFrames)",
                "lost": "\(leg.statistics.cumulativeLost)", "jitter_samples": "\(leg.statistics.jitter)",
                "rtcp_sent": "\(counters.rtcpSent)", "rtcp_received": "\(counters.rtcpReceived)",
                "dropped": "\(counters.droppedForeignSource + counters.droppedUnprotect + counters.droppedOther)",
            ]
            for (direction, statistics) in [("to_port", portward), ("to_panel", panelward)] {
                let buffer = statistics.jitterBuffer
                snapshot.merge(
                    [
                        "\(direction)_depth_frames": "\(statistics.depth)",
                        "\(direction)_target_frames": "\(statistics.targetDepth)",
                        "\(direction)_jitter_buffer_frames": "\(statistics.jitterBufferDepth)",
                        "\(direction)_jitter_buffer_target_frames": "\(statistics.jitterBufferTarget)",
                        "\(direction)_concealed": "\(statistics.concealed)",
                        "\(direction)_fec_recovered": "\(statistics.recovered)",
                        "\(direction)_drift_ppm": String(format: "%.1f", statistics.driftPPM),
                        "\(direction)_late": "\(buffer.late)", "\(direction)_duplicates": "\(buffer.duplicates)",
                        "\(direction)_shed": "\(buffer.shed)", "\(direction)_rebuffers": "\(statistics.rebuffers)",
                        "\(direction)_underrun_frames": "\(statistics.underrunFrames)",
                        "\(direction)_skipped_frames": "\(statistics.skippedFrames)",
                    ], uniquingKeysWith: { $1 })
            }
            return snapshot
        }
    }
}

/// One matrix port on the media plane: its socket (bound at the port's receive address or
/// group) and its RTP destination. RTP that arrives goes to the panel session bound to it.
final class PortLink: @unchecked Sendable {
    let port: BridgePort
    let destination: TransportAddress
    /// The port's socket on the media plane: its receive address (or group) and port.
    let socket: DatagramSocket
    let options: DatagramSocketOptions
    private let lock = NIOLock()
    private var session: BridgeSession?

    init(port: BridgePort) throws {
        self.port = port
        guard let destination = TransportAddress(text: port.send.destination, port: UInt16(port.send.port)),
            let receive = TransportAddress(text: port.receive.address, port: UInt16(port.receive.port))
        else { throw BridgeServiceError.badPortAddress(port.id) }
        self.destination = destination
        socket = .flow(receive)
        // The DSCP marks every packet; the TTL only applies to a multicast destination.
        options = DatagramSocketOptions(
            reuseAddress: port.receive.isMulticast, dscp: port.send.dscp, multicastHops: port.send.ttl,
            joinGroup: port.receive.isMulticast)
    }

    func bind(_ session: BridgeSession?) { lock.withLock { self.session = session } }
    var boundSession: BridgeSession? { lock.withLock { session } }

    /// RTP from the matrix toward the bound panel's jitter buffer.
    func receive(_ packet: UnsafeRawBufferPointer, now: UInt64) {
        boundSession?.fromPort(packet, now: now)
    }
}
