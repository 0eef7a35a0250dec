import Audio
import Configuration
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RTP
import STUN
import WebRTC

/// One panel's WebRTC leg and its media socket, bound to one matrix port. Everything mutable
/// sits behind `lock`: the session's socket and the port's socket run on different event
/// loops. A class with a lock, not an actor (see ConfiguredSection on the 6.3 miscompile).
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
    private var packetizer: PortPacketizer
    /// One port packet of samples.
    private let carry: UnsafeMutableBufferPointer<Float>
    /// Decoded panel audio waiting for its port packet: the elastic store between Opus's 20 ms
    /// bursts and the port's steady packet clock.
    private let toPortRing: SampleRing
    /// Frames held before pacing starts (and kept about there): one Opus frame plus margin for
    /// the panel's network jitter.
    private let targetDepth: Int
    private var pacer: PacketPacer?
    private var pacingTask: RepeatedTask?
    private(set) var underruns = 0
    /// Port audio gathered for the next 20 ms Opus frame toward the panel.
    private let toPanel: UnsafeMutableBufferPointer<Float>
    private var toPanelCount = 0
    private(set) var closed = false
    /// The last source seen and its STUN-module form: converting costs a string per packet.
    private var lastSource: (socket: SocketAddress, address: TransportAddress)?
    private var lastRTCP: UInt64 = 0

    init(id: String, panel: BridgePanel, port: BridgePort, localPort: Int, leg: WebRTCLeg, portLink: PortLink) {
        self.id = id
        self.panel = panel
        self.port = port
        self.localPort = localPort
        self.leg = leg
        self.portLink = portLink
        packetizer = PortPacketizer(
            encoding: port.encoding == .L24 ? .l24 : .l16, channels: port.channels,
            packetTime: PacketTime(framesPerPacket: port.samplesPerPacket) ?? .default,
            payloadType: UInt8(port.payloadType), ssrc: .random(in: 1...UInt32.max),
            initialSequenceNumber: .random(in: 0...UInt16.max), initialTimestamp: .random(in: 0...UInt32.max))
        carry = .allocate(capacity: port.samplesPerPacket * port.channels)
        toPortRing = SampleRing(capacity: 48_000 / 4, channels: port.channels)
        targetDepth = 960 + max(240, port.samplesPerPacket)
        toPanel = .allocate(capacity: 960 * port.channels)
    }

    deinit {
        scratch.deallocate()
        sendBuffer.deallocate()
        carry.deallocate()
        toPanel.deallocate()
    }

    /// Binds the session to its socket and starts the port's packet clock on that socket's
    /// event loop: a tick every millisecond (or packet time, if longer) sends what is due.
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
            leg.receive(
                scratch, length: length, from: source, now: now,
                transmit: { bytes, destination in
                    guard let address = destination == source ? remote : selected else { return }
                    var buffer = channel.allocator.buffer(capacity: bytes.count)
                    buffer.writeBytes(bytes)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
                },
                audio: { pcm in toPort(pcm) })
            if leg.ice.selectedRemote == source { selectedSocket = remote }
        }
    }

    /// Panel audio (decoded, interleaved) into the ring toward the port. A ring that grew far
    /// beyond its target (the panel's clock runs fast) is trimmed back to it, so the delay
    /// stays bounded. Must be called with `lock` held.
    private func toPort(_ pcm: UnsafeBufferPointer<Float>) {
        toPortRing.write(pcm)
        if toPortRing.count > targetDepth + 960 {
            toPortRing.discard(frames: toPortRing.count - targetDepth)
        }
    }

    /// Sends the port packets that are due at `now` (PacketPacer: a steady clock, never a
    /// burst after a stall). Pacing starts once the ring holds `targetDepth`; an underrun is
    /// filled with silence so the port's packet stream never stops while the session lives.
    /// After a stall of the event loop up to 20 ms of packets are caught up (the ring holds
    /// them); beyond that the pacer skips, and the RTP timestamp jumps over the gap.
    private func pace(now: UInt64) {
        lock.withLock {
            guard !closed else { return }
            if pacer == nil {
                guard toPortRing.count >= targetDepth else { return }
                let packetTime = PacketTime(framesPerPacket: port.samplesPerPacket) ?? .default
                pacer = PacketPacer(
                    packetTime: packetTime, start: now,
                    maximumBurst: max(8, 20_000_000 / max(1, Int(packetTime.offsetNanoseconds(ofPacket: 1)))))
            }
            guard var clock = pacer else { return }
            let (send, skipped) = clock.due(at: now)
            pacer = clock
            if skipped > 0 {
                packetizer.skip(packets: skipped)
                toPortRing.discard(frames: min(toPortRing.count, skipped * port.samplesPerPacket))
            }
            for _ in 0..<send {
                let frames = toPortRing.read(into: carry)
                if frames < port.samplesPerPacket {
                    underruns += 1
                    UnsafeMutableBufferPointer(rebasing: carry[(frames * port.channels)...]).update(repeating: 0)
                }
                let payload = UnsafeMutableRawBufferPointer(rebasing: sendBuffer[RTPHeader.fixedSize...])
                guard let fields = packetizer.packetize(UnsafeBufferPointer(carry), into: payload) else { continue }
                let header = RTPHeader(
                    marker: fields.marker, payloadType: UInt8(port.payloadType), sequenceNumber: fields.sequenceNumber,
                    timestamp: fields.timestamp, ssrc: packetizer.ssrc)
                let headerLength = header.write(into: sendBuffer)
                portLink.send(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<(headerLength + fields.payloadSize)]))
            }
        }
    }

    /// Port audio (decoded, interleaved, the port's channel count) toward the panel, one Opus
    /// frame per 20 ms gathered.
    func fromPort(_ pcm: UnsafeBufferPointer<Float>) {
        let now = NIODeadline.now().uptimeNanoseconds
        lock.withLock {
            guard !closed, let channel else { return }
            var offset = 0
            while offset < pcm.count {
                let take = min(toPanel.count - toPanelCount, pcm.count - offset)
                UnsafeMutableBufferPointer(rebasing: toPanel[toPanelCount..<(toPanelCount + take)])
                    .update(fromContentsOf: pcm[offset..<(offset + take)])
                toPanelCount += take
                offset += take
                guard toPanelCount == toPanel.count else { continue }
                toPanelCount = 0
                guard let (length, _) = leg.sendAudio(UnsafeBufferPointer(toPanel), into: sendBuffer, now: now),
                    let address = selectedSocket
                else { continue }
                var buffer = channel.allocator.buffer(capacity: length)
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            }
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

    /// What `status` reports.
    func snapshot() -> [String: String] {
        let now = NIODeadline.now().uptimeNanoseconds
        return lock.withLock {
            let counters = leg.counters
            return [
                "id": id, "panel": panel.id, "port": port.id, "state": "\(leg.state(now: now))",
                "ice": "\(leg.ice.state(now: now))", "dtls": "\(leg.dtls.state)",
                "remote": leg.ice.selectedRemote.map { "\($0)" } ?? "",
                "packets_received": "\(counters.packetsReceived)", "packets_sent": "\(counters.packetsSent)",
                "recovered_fec": "\(counters.recoveredByFEC)", "concealed": "\(counters.concealed)",
                "port_buffer_frames": "\(toPortRing.count)", "port_underruns": "\(underruns)",
                "lost": "\(leg.statistics.cumulativeLost)", "jitter_samples": "\(leg.statistics.jitter)",
                "rtcp_sent": "\(counters.rtcpSent)", "rtcp_received": "\(counters.rtcpReceived)",
                "dropped": "\(counters.droppedForeignSource + counters.droppedUnprotect + counters.droppedOther)",
            ]
        }
    }
}

/// The socket of one matrix port: bound at the port's receive address, sending to its
/// destination. RTP that arrives is decoded and handed to the panel session bound to the port.
final class PortLink: @unchecked Sendable {
    let port: BridgePort
    let destination: SocketAddress
    private let lock = NIOLock()
    private var channel: Channel?
    private var session: BridgeSession?
    private let decoded: UnsafeMutableBufferPointer<Float>
    private let encoding: PCMEncoding

    init(port: BridgePort) throws {
        self.port = port
        destination = try SocketAddress(ipAddress: port.send.destination, port: port.send.port)
        decoded = .allocate(capacity: 2_048 * port.channels)
        encoding = port.encoding == .L24 ? .l24 : .l16
    }

    deinit { decoded.deallocate() }

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

    /// RTP from the matrix toward the bound panel.
    func receive(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let session = boundSession else { return }
        envelope.data.withUnsafeReadableBytes { raw in
            guard let view = try? RTPPacketView(parsing: raw), Int(view.header.payloadType) == port.payloadType else {
                return
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[view.payloadRange])
            let count = lock.withLock { encoding.decode(payload, into: decoded) }
            session.fromPort(UnsafeBufferPointer(rebasing: decoded[0..<count]))
        }
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
