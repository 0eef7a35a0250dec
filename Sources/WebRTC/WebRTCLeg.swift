import RTP
import SDP
import STUN

/// One WebRTC audio leg of the bridge, sans-IO: ICE-lite, DTLS-SRTP and Opus composed on one
/// UDP 5-tuple with RTP and RTCP multiplexed (RFC 8834, RFC 7983 demultiplexing). The driver
/// feeds every datagram of the leg's socket into `receive`, sends what the `transmit` callbacks
/// hand it, calls `handleTimeout` at `nextDeadline`, and moves 48 kHz Float audio in and out.
///
/// After the handshake, the media path (`receive` of SRTP and `sendAudio`) allocates nothing:
/// packets are unprotected and protected in the caller's buffer. The panel's RTP is handed out
/// unprotected (`receive(…, rtp:)`, for a jitter buffer such as the Transcoding module's), or
/// decoded on arrival into one buffer the leg owns (`receive(…, audio:)`, no reordering).
/// Not thread-safe: one owner (the driver's event loop or a lock around it).
public final class WebRTCLeg {
    /// What the leg agreed on in SDP (see `NegotiatedAudio` in the SDP module).
    public struct Parameters: Sendable {
        public var localUsernameFragment: String
        public var localPassword: String
        public var remoteUsernameFragment: String
        public var remoteFingerprints: [Fingerprint]
        public var role: DTLSRole
        /// The Opus payload type, used both ways.
        public var payloadType: UInt8
        /// The SSRC the bridge sends with.
        public var ssrc: UInt32
        /// Channels of the PCM the leg produces and consumes (1 for intercom speech).
        public var channels: Int
        public var bitrate: Int

        public init(
            localUsernameFragment: String, localPassword: String, remoteUsernameFragment: String,
            remoteFingerprints: [Fingerprint], role: DTLSRole, payloadType: UInt8, ssrc: UInt32, channels: Int = 1,
            bitrate: Int = 32_000
        ) {
            self.localUsernameFragment = localUsernameFragment
            self.localPassword = localPassword
            self.remoteUsernameFragment = remoteUsernameFragment
            self.remoteFingerprints = remoteFingerprints
            self.role = role
            self.payloadType = payloadType
            self.ssrc = ssrc
            self.channels = channels
            self.bitrate = bitrate
        }
    }

    public enum State: Hashable, Sendable {
        /// ICE checks or the DTLS handshake are under way.
        case connecting
        /// Media flows.
        case connected
        /// ICE never completed, consent expired, or DTLS failed: tear the leg down.
        case failed(String)
        /// The peer closed DTLS.
        case closed
    }

    /// Counters for `status` and metrics.
    public struct Counters: Hashable, Sendable {
        /// RTP packets authenticated, decrypted and handed out (`packetsReceived`), and, for
        /// `receive(…, audio:)`, frames recovered with Opus in-band FEC and concealed (PLC).
        public var packetsReceived = 0
        public var packetsSent = 0
        public var recoveredByFEC = 0
        public var concealed = 0
        /// Datagrams from a source other than the selected pair, or before one was selected.
        public var droppedForeignSource = 0
        /// SRTP/SRTCP that failed authentication or replay checks.
        public var droppedUnprotect = 0
        /// Late, duplicate, or otherwise undecodable RTP.
        public var droppedOther = 0
        /// SRTCP received and authenticated, and sent.
        public var rtcpReceived = 0
        public var rtcpSent = 0
    }

    public let parameters: Parameters
    public private(set) var ice: ICELiteAgent
    public let dtls: DTLSConnection
    public private(set) var srtp: SRTPSession?
    public private(set) var counters = Counters()
    private let encoder: OpusFrameEncoder
    /// For `receive(…, audio:)` only: made on its first use.
    private lazy var decoder: OpusFrameDecoder? = try? OpusFrameDecoder(channels: parameters.channels)
    /// Decoded PCM: 120 ms, the longest Opus packet, interleaved.
    private let pcm: UnsafeMutableBufferPointer<Float>
    private var nextSequence: UInt16?
    private var lastFrameSize = 960
    private var sendSequence: UInt16
    private var sendTimestamp: UInt32
    private var dtlsStarted = false
    /// RFC 3550 reception statistics of the panel's stream (A.1, A.3, A.8). Over SRTP the
    /// source is authenticated, so no probation.
    public private(set) var statistics = ReceiverStatistics(clockRate: 48_000, probation: 0)
    /// The panel's SSRC, from its RTP.
    public private(set) var remoteSSRC: UInt32?
    private let rtpClock = RTPClock(rate: 48_000)
    private var octetsSent: UInt32 = 0
    /// The RTP timestamp of the last packet sent and when (monotonic), for the SR.
    private var lastSentTimestamp: UInt32 = 0
    private var lastSentAt: MonotonicNanoseconds = 0

    public init(
        parameters: Parameters, certificate: DTLSCertificate, now: MonotonicNanoseconds,
        initialSequence: UInt16 = .random(in: 0...UInt16.max), initialTimestamp: UInt32 = .random(in: 0...UInt32.max)
    ) throws {
        self.parameters = parameters
        ice = ICELiteAgent(
            localUsernameFragment: parameters.localUsernameFragment, localPassword: parameters.localPassword,
            remoteUsernameFragment: parameters.remoteUsernameFragment, now: now)
        dtls = try DTLSConnection(
            role: parameters.role, certificate: certificate, remoteFingerprints: parameters.remoteFingerprints)
        encoder = try OpusFrameEncoder(channels: parameters.channels, bitrate: parameters.bitrate)
        pcm = .allocate(capacity: 5_760 * parameters.channels)
        pcm.initialize(repeating: 0)
        sendSequence = initialSequence
        sendTimestamp = initialTimestamp
    }

    deinit { pcm.deallocate() }

    /// The leg's state at `now`.
    public func state(now: MonotonicNanoseconds) -> State {
        switch dtls.state {
        case .failed(let error): return .failed(error.description)
        case .closed: return .closed
        case .handshaking, .connected: break
        }
        switch ice.state(now: now) {
        case .failed: return .failed("ICE: no candidate pair nominated")
        case .consentExpired: return .failed("ICE: consent expired")
        case .checking: return .connecting
        case .connected: return srtp == nil ? .connecting : .connected
        }
    }

    /// When to call `handleTimeout` next: consent or establishment expiry, or a DTLS retransmission.
    public func nextDeadline(now: MonotonicNanoseconds) -> MonotonicNanoseconds {
        var deadline = ice.nextDeadline
        if let remaining = dtls.timeoutRemaining() {
            let (seconds, attoseconds) = remaining.components
            let nanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds / 1_000_000_000))
            deadline = min(deadline, now &+ nanoseconds)
        }
        return deadline
    }

    /// Retransmits DTLS flights that are due.
    public func handleTimeout(now: MonotonicNanoseconds, transmit: (UnsafeRawBufferPointer, TransportAddress) -> Void) {
        dtls.handleTimeout()
        flushDTLS(now: now, transmit: transmit)
    }

    /// Handles one datagram of `length` bytes at the start of `buffer` (which the leg may
    /// overwrite: SRTP is unprotected in place). Responses go out through `transmit`; decoded
    /// audio (48 kHz, interleaved, one Opus frame at a time, FEC- or PLC-recovered frames
    /// first) through `audio`. Decoding on arrival cannot undo reordering: a packet that comes
    /// after its successor is dropped. The bridge uses `receive(…, rtp:)` and a jitter buffer.
    public func receive(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: TransportAddress,
        now: MonotonicNanoseconds, transmit: (UnsafeRawBufferPointer, TransportAddress) -> Void,
        audio: (UnsafeBufferPointer<Float>) -> Void
    ) {
        receive(buffer, length: length, from: source, now: now, transmit: transmit) { header, payload in
            decodeOnArrival(header, payload, audio: audio)
        }
    }

    /// Handles one datagram as `receive(…, audio:)` does, but hands each of the panel's RTP
    /// packets to `rtp` as it is once authenticated and decrypted: its header and its payload
    /// (valid only during the call), payload type checked, in arrival order.
    public func receive(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, from source: TransportAddress,
        now: MonotonicNanoseconds, transmit: (UnsafeRawBufferPointer, TransportAddress) -> Void,
        rtp: (RTPHeader, UnsafeRawBufferPointer) -> Void
    ) {
        let datagram = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(length, buffer.count)])
        switch MultiplexedPacketKind.classify(UnsafeRawBufferPointer(datagram)) {
        case .stun:
            let wasSelected = ice.selectedRemote
            if case .respond(let response) = ice.handle(UnsafeRawBufferPointer(datagram), from: source, now: now) {
                response.withUnsafeBytes { transmit($0, source) }
            }
            // The DTLS client opens the association once ICE has a pair (RFC 8842 §5.3).
            if wasSelected == nil, ice.selectedRemote != nil, parameters.role == .client, !dtlsStarted {
                dtlsStarted = true
                dtls.start()
                flushDTLS(now: now, transmit: transmit)
            }
        case .dtls:
            guard ice.acceptsMedia(from: source) else {
                counters.droppedForeignSource += 1
                return
            }
            dtls.receive(UnsafeRawBufferPointer(datagram))
            flushDTLS(now: now, transmit: transmit)
            if srtp == nil, dtls.state == .connected, let keys = dtls.keyingMaterial {
                srtp = try? SRTPSession(keying: keys, role: parameters.role)
            }
        case .rtp:
            guard ice.acceptsMedia(from: source) else {
                counters.droppedForeignSource += 1
                return
            }
            receiveRTP(datagram, now: now, rtp: rtp)
        case .rtcp:
            guard ice.acceptsMedia(from: source), let srtp else {
                counters.droppedForeignSource += 1
                return
            }
            do {
                let length = try srtp.unprotectRTCP(datagram, length: datagram.count)
                // An SR from the panel: its NTP time, for our LSR/DLSR (RFC 3550 §6.4.1). DLSR
                // only needs a consistent clock, so the monotonic one stands in for NTP here.
                let packets = try? RTCPCompoundPacket.parse(
                    UnsafeRawBufferPointer(rebasing: datagram[0..<length]), requireReportFirst: false)
                for case .senderReport(let report) in packets ?? [] where report.ssrc == remoteSSRC {
                    statistics.recordSenderReport(
                        ntpTimestamp: report.ntpTimestamp, arrival: NTPTimestamp.shortDuration(nanoseconds: now))
                }
                counters.rtcpReceived += 1
            } catch {
                counters.droppedUnprotect += 1
            }
        case .zrtp, .turnChannel, .unknown:
            counters.droppedOther += 1
        }
    }

    private func receiveRTP(
        _ datagram: UnsafeMutableRawBufferPointer, now: MonotonicNanoseconds,
        rtp: (RTPHeader, UnsafeRawBufferPointer) -> Void
    ) {
        guard let srtp else {
            counters.droppedOther += 1
            return
        }
        let length: Int
        do {
            length = try srtp.unprotectRTP(datagram, length: datagram.count)
        } catch {
            counters.droppedUnprotect += 1
            return
        }
        let packet = UnsafeRawBufferPointer(rebasing: datagram[0..<length])
        guard let view = try? RTPPacketView(parsing: packet), view.header.payloadType == parameters.payloadType,
            !view.payloadRange.isEmpty
        else {
            counters.droppedOther += 1
            return
        }
        if remoteSSRC != view.header.ssrc {
            remoteSSRC = view.header.ssrc
            statistics = ReceiverStatistics(clockRate: 48_000, probation: 0)
            nextSequence = nil
        }
        statistics.record(
            sequenceNumber: view.header.sequenceNumber, timestamp: view.header.timestamp,
            arrival: rtpClock.units(atNanoseconds: now))
        counters.packetsReceived += 1
        rtp(view.header, UnsafeRawBufferPointer(rebasing: packet[view.payloadRange]))
    }

    /// `receive(…, audio:)`'s decoding: in arrival order, a gap of up to 5 packets concealed
    /// (PLC) but for its last packet, which is recovered from this packet's FEC.
    private func decodeOnArrival(
        _ header: RTPHeader, _ payload: UnsafeRawBufferPointer, audio: (UnsafeBufferPointer<Float>) -> Void
    ) {
        guard let decoder else {
            counters.droppedOther += 1
            return
        }
        let sequence = header.sequenceNumber
        if let expected = nextSequence {
            let gap = sequence &- expected
            if gap >= 0x8000 {
                counters.droppedOther += 1  // late or duplicate: a jitter buffer's business
                return
            }
            if gap > 0, gap <= 5 {
                // Conceal all but the last lost frame, then recover that one from this packet's FEC.
                for _ in 1..<gap {
                    if let samples = try? decoder.conceal(frameSize: lastFrameSize, into: pcm) {
                        counters.concealed += 1
                        audio(UnsafeBufferPointer(rebasing: pcm[0..<(samples * parameters.channels)]))
                    }
                }
                if let samples = try? decoder.decodeFEC(from: payload, frameSize: lastFrameSize, into: pcm) {
                    counters.recoveredByFEC += 1
                    audio(UnsafeBufferPointer(rebasing: pcm[0..<(samples * parameters.channels)]))
                }
            }
        }
        nextSequence = sequence &+ 1
        guard let samples = try? decoder.decode(payload, into: pcm) else {
            counters.droppedOther += 1
            return
        }
        lastFrameSize = samples
        audio(UnsafeBufferPointer(rebasing: pcm[0..<(samples * parameters.channels)]))
    }

    /// Encodes one Opus frame of interleaved 48 kHz PCM (10, 20, 40 or 60 ms) into an SRTP
    /// packet in `buffer`; returns its length and where to send it, or nil when media may not
    /// flow (no pair, consent expired, DTLS not done). `buffer` needs room for the packet plus
    /// `SRTPSession.trailerCapacity`; 1500 bytes is plenty.
    public func sendAudio(
        _ samples: UnsafeBufferPointer<Float>, into buffer: UnsafeMutableRawBufferPointer, now: MonotonicNanoseconds
    ) -> (length: Int, destination: TransportAddress)? {
        guard let srtp, let destination = ice.selectedRemote, ice.maySend(now: now),
            buffer.count > RTPHeader.fixedSize + SRTPSession.trailerCapacity
        else { return nil }
        let header = RTPHeader(
            payloadType: parameters.payloadType, sequenceNumber: sendSequence, timestamp: sendTimestamp,
            ssrc: parameters.ssrc)
        let headerLength = header.write(into: buffer)
        let payloadSpace = UnsafeMutableRawBufferPointer(
            rebasing: buffer[headerLength..<(buffer.count - SRTPSession.trailerCapacity)])
        guard let payloadLength = try? encoder.encode(samples, into: payloadSpace),
            let length = try? srtp.protectRTP(buffer, length: headerLength + payloadLength)
        else { return nil }
        lastSentTimestamp = sendTimestamp
        lastSentAt = now
        sendSequence &+= 1
        sendTimestamp &+= UInt32(samples.count / parameters.channels)
        counters.packetsSent += 1
        octetsSent &+= UInt32(truncatingIfNeeded: payloadLength)
        return (length, destination)
    }

    /// Moves the RTP timestamp of the next `sendAudio` on by `samples` (per channel): the
    /// audio paused that long (RFC 3550 §5.1: the timestamp follows the sampling clock, so a
    /// receiver's jitter buffer sees the pause as one).
    public func skipAudio(samples: Int) {
        sendTimestamp &+= UInt32(truncatingIfNeeded: samples)
    }

    /// An SRTCP compound packet for the panel (RFC 3550 §6.4, RFC 3711 §3.4): an SR when the
    /// bridge has sent media (else an RR) with a report block on the panel's stream, and an
    /// SDES CNAME. `wallClock` is Unix time in nanoseconds, for the SR's NTP timestamp. Nil
    /// when media may not flow. The driver calls it every few seconds (RFC 3550 §6.2).
    public func rtcpReport(
        into buffer: UnsafeMutableRawBufferPointer, now: MonotonicNanoseconds, wallClock: UInt64, cname: String
    ) -> (length: Int, destination: TransportAddress)? {
        guard let srtp, let destination = ice.selectedRemote, ice.maySend(now: now),
            buffer.count > SRTPSession.trailerCapacity + 64
        else { return nil }
        var blocks: [ReceptionReport] = []
        if let remoteSSRC {
            blocks.append(statistics.makeReport(ssrc: remoteSSRC, now: NTPTimestamp.shortDuration(nanoseconds: now)))
        }
        let report: RTCPPacket
        if counters.packetsSent > 0 {
            // The RTP timestamp that corresponds to the NTP time now (RFC 3550 §6.4.1).
            let elapsed = rtpClock.units(atNanoseconds: now) &- rtpClock.units(atNanoseconds: lastSentAt)
            report = .senderReport(
                SenderReport(
                    ssrc: parameters.ssrc, ntpTimestamp: NTPTimestamp.fromUnix(nanoseconds: wallClock),
                    rtpTimestamp: lastSentTimestamp &+ elapsed,
                    packetCount: UInt32(truncatingIfNeeded: counters.packetsSent),
                    octetCount: octetsSent, reports: blocks))
        } else {
            report = .receiverReport(ReceiverReport(ssrc: parameters.ssrc, reports: blocks))
        }
        let sdes = RTCPPacket.sourceDescription([
            SourceDescriptionChunk(
                ssrc: parameters.ssrc, items: [SourceDescriptionItem(type: SourceDescriptionItem.cname, text: cname)])
        ])
        let space = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(buffer.count - SRTPSession.trailerCapacity)])
        guard let length = try? RTCPCompoundPacket.write([report, sdes], into: space),
            let protected = try? srtp.protectRTCP(buffer, length: length)
        else { return nil }
        counters.rtcpSent += 1
        return (protected, destination)
    }

    /// Ends the leg with a DTLS close_notify to the selected remote.
    public func close(now: MonotonicNanoseconds, transmit: (UnsafeRawBufferPointer, TransportAddress) -> Void) {
        dtls.close()
        flushDTLS(now: now, transmit: transmit)
    }

    private func flushDTLS(now: MonotonicNanoseconds, transmit: (UnsafeRawBufferPointer, TransportAddress) -> Void) {
        let datagrams = dtls.takeDatagrams()
        guard let destination = ice.selectedRemote else { return }
        for datagram in datagrams {
            datagram.withUnsafeBytes { transmit($0, destination) }
        }
    }
}
