import Audio
import Configuration
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RTP
import STUN
import Transcoding
import WebRTC

/// One panel's WebRTC leg and its media socket, bound to one matrix port. Everything mutable
/// sits behind `lock`: the session's socket and the port's socket run on different event
/// loops. A class with a lock, not an actor (see ConfiguredSection on the 6.3 miscompile).
///
/// The media work is the Transcoding module's two pure paths; this class only feeds them
/// packets and the clock: the panel's RTP (from the leg) and the port's RTP go into their
/// jitter buffers on arrival, and one repeated task (the port's packet time, 1 ms at least)
/// takes the port packets and the 20 ms Opus frames that are due. One lock per packet or
/// tick, none per sample.
final class BridgeSession: @unchecked Sendable {
    let id: String
    let panel: BridgePanel
    let port: BridgePort
    let localPort: Int
    let lock = NIOLock()
    private let leg: WebRTCLeg
    private let portLink: PortLink
    private var channel: Channel?
    private var selectedSocket: SocketAddress?
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
    private var pacingTask: RepeatedTask?
    private(set) var closed = false
    /// The last source seen and its STUN-module form: converting costs a string per packet.
    private var lastSource: (socket: SocketAddress, address: TransportAddress)?
    private var lastRTCP: UInt64 = 0

    init(
        id: String, panel: BridgePanel, port: BridgePort, localPort: Int, leg: WebRTCLeg, portLink: PortLink
    ) throws {
        self.id = id
        self.panel = panel
        self.port = port
        self.localPort = localPort
        self.leg = leg
        self.portLink = portLink
        let encoding: PCMEncoding = port.encoding == .L24 ? .l24 : .l16
        toPort = try PanelToPortPath(
            encoding: encoding, channels: port.channels,
            packetTime: PacketTime(framesPerPacket: port.samplesPerPacket) ?? .default,
            payloadType: UInt8(port.payloadType), ssrc: .random(in: 1...UInt32.max),
            initialSequenceNumber: .random(in: 0...UInt16.max), initialTimestamp: .random(in: 0...UInt32.max))
        toPanel = PortToPanelPath(
            encoding: encoding, channels: port.channels, framesPerPacket: port.samplesPerPacket,
            payloadType: UInt8(port.payloadType))
        frame = .allocate(capacity: toPanel.samplesPerFrame)
        frame.initialize(repeating: 0)
    }

    deinit {
        scratch.deallocate()
        sendBuffer.deallocate()
        frame.deallocate()
    }

    /// Binds the session to its socket and starts the clock on that socket's event loop: a
    /// tick every packet time of the port (1 ms at least) sends what is due.
    func attach(_ channel: Channel) {
        let packetNanoseconds = Int64(port.samplesPerPacket) * 1_000_000_000 / Int64(BridgePort.sampleRate)
        let task = channel.eventLoop.scheduleRepeatedTask(
            initialDelay: .milliseconds(1), delay: .nanoseconds(max(1_000_000, packetNanoseconds))
        ) { [self] _ in pace(now: NIODeadline.now().uptimeNanoseconds) }
        lock.withLock {
            self.channel = channel
            pacingTask = task
        }
    }

    /// A datagram on the session's socket: STUN, DTLS, SRTP or SRTCP from the panel.
    func receive(_ envelope: AddressedEnvelope<ByteBuffer>, channel: Channel) {
        let now = NIODeadline.now().uptimeNanoseconds
        lock.withLock {
            guard !closed else { return }
            let source: TransportAddress
            if let last = lastSource, last.socket == envelope.remoteAddress {
                source = last.address
            } else {
                guard let converted = TransportAddress(socketAddress: envelope.remoteAddress) else { return }
                source = converted
                lastSource = (envelope.remoteAddress, converted)
            }
            let length = min(envelope.data.readableBytes, scratch.count - 64)
            envelope.data.withUnsafeReadableBytes { raw in
                scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
            }
            let remote = envelope.remoteAddress
            let selected = selectedSocket
            let path = toPort
            leg.receive(
                scratch, length: length, from: source, now: now,
                transmit: { bytes, destination in
                    guard let address = destination == source ? remote : selected else { return }
                    var buffer = channel.allocator.buffer(capacity: bytes.count)
                    buffer.writeBytes(bytes)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
                },
                rtp: { header, payload in path.receive(header: header, payload: payload, now: now) })
            if leg.ice.selectedRemote == source { selectedSocket = remote }
        }
    }

    /// The clock's tick: the port packets due (the path keeps the port's steady packet clock,
    /// concealing what the panel lost and skipping over a stall of this event loop), then the
    /// Opus frames due toward the panel (which pause, timestamp and all, while the port is silent).
    private func pace(now: UInt64) {
        lock.withLock {
            guard !closed else { return }
            while let length = toPort.nextPacket(now: now, into: sendBuffer) {
                portLink.send(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
            }
            while let paused = toPanel.nextFrame(now: now, into: frame) {
                if paused > 0 { leg.skipAudio(samples: paused * toPanel.frameTime.framesPerPacket) }
                guard let channel,
                    let (length, _) = leg.sendAudio(UnsafeBufferPointer(frame), into: sendBuffer, now: now),
                    let address = selectedSocket
                else { continue }
                var buffer = channel.allocator.buffer(capacity: length)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            }
        }
    }

    /// One RTP datagram from the port, toward the panel (the path checks its payload type).
    func fromPort(_ packet: UnsafeRawBufferPointer) {
        let now = NIODeadline.now().uptimeNanoseconds
        lock.withLock {
            guard !closed else { return }
            toPanel.receive(packet: packet, now: now)
        }
    }

    /// Timers: DTLS retransmission, consent and establishment expiry. False when the session
    /// is over and must be removed.
    func tick() -> Bool {
        let now = NIODeadline.now().uptimeNanoseconds
        return lock.withLock {
            guard !closed else { return false }
            // RTCP every 2 s (RFC 3550 §6.2's 5 s minimum scaled down, as WebRTC stacks do).
            if let channel, let selected = selectedSocket, now &- lastRTCP >= 2_000_000_000 {
                let wallClock = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000_000))
                if let (length, _) = leg.rtcpReport(
                    into: sendBuffer, now: now, wallClock: wallClock, cname: "stagedoor")
                {
                    lastRTCP = now
                    var buffer = channel.allocator.buffer(capacity: length)
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: selected, data: buffer), promise: nil)
                }
            }
            if let channel {
                let selected = selectedSocket
                leg.handleTimeout(now: now) { bytes, _ in
                    guard let selected else { return }
                    var buffer = channel.allocator.buffer(capacity: bytes.count)
                    buffer.writeBytes(bytes)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: selected, data: buffer), promise: nil)
                }
            }
            switch leg.state(now: now) {
            case .failed, .closed: return false
            case .connecting, .connected: return true
            }
        }
    }

    /// Ends the session: DTLS close_notify, then the socket.
    func close() {
        let now = NIODeadline.now().uptimeNanoseconds
        let channel: Channel? = lock.withLock {
            guard !closed else { return nil }
            closed = true
            pacingTask?.cancel()
            pacingTask = nil
            if let channel = self.channel, let selected = selectedSocket {
                leg.close(now: now) { bytes, _ in
                    var buffer = channel.allocator.buffer(capacity: bytes.count)
                    buffer.writeBytes(bytes)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: selected, data: buffer), promise: nil)
                }
            }
            return self.channel
        }
        channel?.close(promise: nil)
    }

    /// What `status` reports: the leg, and each direction's jitter buffer (depth and target in
    /// frames at 48 kHz), concealment, FEC recovery and drift.
    func snapshot() -> [String: String] {
        let now = NIODeadline.now().uptimeNanoseconds
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

/// The socket of one matrix port: bound at the port's receive address, sending to its
/// destination. RTP that arrives goes to the panel session bound to the port.
final class PortLink: @unchecked Sendable {
    let port: BridgePort
    let destination: SocketAddress
    private let lock = NIOLock()
    private var channel: Channel?
    private var session: BridgeSession?

    init(port: BridgePort) throws {
        self.port = port
        destination = try SocketAddress(ipAddress: port.send.destination, port: port.send.port)
    }

    func attach(_ channel: Channel) { lock.withLock { self.channel = channel } }
    func bind(_ session: BridgeSession?) { lock.withLock { self.session = session } }
    var boundSession: BridgeSession? { lock.withLock { session } }
    var socket: Channel? { lock.withLock { channel } }

    /// Sends one RTP packet to the port's destination.
    func send(_ packet: UnsafeRawBufferPointer) {
        guard let channel = lock.withLock({ self.channel }) else { return }
        var buffer = channel.allocator.buffer(capacity: packet.count)
        buffer.writeBytes(packet)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer), promise: nil)
    }

    /// RTP from the matrix toward the bound panel's jitter buffer.
    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let session = boundSession else { return }
        envelope.data.withUnsafeReadableBytes { raw in session.fromPort(raw) }
    }
}

/// Reads the port's RTP.
final class PortDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let link: PortLink

    init(link: PortLink) { self.link = link }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.receive(unwrapInboundIn(data))
    }
}

/// Reads a session's socket.
final class SessionDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let session: BridgeSession

    init(session: BridgeSession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.receive(unwrapInboundIn(data), channel: context.channel)
    }
}

extension TransportAddress {
    /// The STUN module's address of a NIO socket address; nil for Unix sockets.
    init?(socketAddress: SocketAddress) {
        guard let text = socketAddress.ipAddress, let port = socketAddress.port else { return nil }
        self.init(text: text, port: UInt16(port))
    }
}
