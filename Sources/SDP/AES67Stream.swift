/// An AES67 / RFC 3190 linear PCM RTP stream of a matrix port, as an SDP that an AES67 device
/// (or a matrix) can import: RFC 8866 with the RFC 7273 clock signalling AES67 §8 asks for.
///
/// ```
/// v=0
/// o=- 1311738121 1311738121 IN IP4 192.0.2.10
/// s=Stagedoor port 1
/// c=IN IP4 239.69.1.1/32
/// t=0 0
/// a=clock-domain:PTPv2 0
/// m=audio 5004 RTP/AVP 98
/// a=rtpmap:98 L24/48000/2
/// a=sendonly
/// a=ptime:1
/// a=framecount:48
/// a=ts-refclk:ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0
/// a=mediaclk:direct=0
/// ```
public struct AES67Stream: Hashable, Sendable {
    /// The PCM encodings of RFC 3190 §4 (L24) and RFC 3551 §4.5.11 (L16): big-endian, signed.
    public enum Encoding: String, Hashable, Sendable {
        case l24 = "L24"
        case l16 = "L16"

        public var bytesPerSample: Int { self == .l24 ? 3 : 2 }
    }

    /// `a=ts-refclk` (RFC 7273 §4.8): the clock the RTP timestamps are derived from.
    public enum ReferenceClock: Hashable, Sendable, CustomStringConvertible {
        /// `ptp=IEEE1588-2008:<grandmaster EUI-64, XX-XX-…>:<domain>` (RFC 7273 §4.8; AES67 §8.1).
        case ptp(version: String = "IEEE1588-2008", grandmaster: String, domain: Int)
        /// `ptp=IEEE1588-2008:traceable`: any PTP clock traceable to the same time (RFC 7273 §4.8).
        case ptpTraceable(version: String = "IEEE1588-2008")
        /// `ntp=<server>`.
        case ntp(String)
        /// `localmac=<MAC>`: the sender's free-running clock (RFC 7273 §4.8; AES67 §8.1).
        case localMAC(String)
        /// Any other value, as text.
        case other(String)

        public var description: String {
            switch self {
            case .ptp(let version, let grandmaster, let domain): "ptp=\(version):\(grandmaster):\(domain)"
            case .ptpTraceable(let version): "ptp=\(version):traceable"
            case .ntp(let server): "ntp=\(server)"
            case .localMAC(let mac): "localmac=\(mac)"
            case .other(let text): text
            }
        }

        init(attributeValue value: String) {
            if value.hasPrefix("ptp=") {
                let parts = value.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
                if parts.count == 2, parts[1] == "traceable" {
                    self = .ptpTraceable(version: String(parts[0]))
                    return
                }
                if parts.count == 3, let domain = Int(parts[2]) {
                    self = .ptp(version: String(parts[0]), grandmaster: String(parts[1]), domain: domain)
                    return
                }
                if parts.count == 2 {  // The domain is optional in RFC 7273's grammar.
                    self = .ptp(version: String(parts[0]), grandmaster: String(parts[1]), domain: 0)
                    return
                }
            } else if value.hasPrefix("ntp=") {
                self = .ntp(String(value.dropFirst(4)))
                return
            } else if value.hasPrefix("localmac=") {
                self = .localMAC(String(value.dropFirst(9)))
                return
            }
            self = .other(value)
        }
    }

    public var sessionName: String
    public var sessionID: String
    public var sessionVersion: UInt64
    /// The sender's own unicast address (the `o=` line; AES67 §8.3 also uses it for `source-filter`).
    public var originAddress: String
    public var encoding: Encoding
    /// 48000 for every stream the bridge makes (AES67 §7.1).
    public var sampleRate: Int
    public var channels: Int
    /// Samples per channel in one packet: 48 for 1 ms at 48 kHz, 6 for 0.125 ms, 960 for 20 ms.
    public var framesPerPacket: Int
    /// Where the stream goes: a unicast receiver or a multicast group (IPv4 multicast with a TTL).
    public var destination: ConnectionData
    public var port: UInt16
    /// A dynamic payload type, 96…127; 98 is common in AES67 gear.
    public var payloadType: UInt8
    /// `sendonly` for a stream the bridge sends to the matrix; `recvonly` is how many AES67
    /// senders announce theirs (from the receiver's point of view). Both import.
    public var direction: MediaDirection
    public var referenceClock: ReferenceClock?
    /// `a=mediaclk:direct=<offset>` (RFC 7273 §5.2); AES67 §8.1 wants it with `ts-refclk`.
    public var mediaClockOffset: UInt32?
    /// Adds `a=source-filter: incl …` for a multicast destination (RFC 4570; AES67 §8.3).
    public var sourceFilter: Bool

    public init(
        sessionName: String, sessionID: String, sessionVersion: UInt64 = 1, originAddress: String,
        encoding: Encoding = .l24, sampleRate: Int = 48000, channels: Int = 1, framesPerPacket: Int = 48,
        destination: ConnectionData, port: UInt16 = 5004, payloadType: UInt8 = 98,
        direction: MediaDirection = .sendonly,
        referenceClock: ReferenceClock? = nil, mediaClockOffset: UInt32? = nil, sourceFilter: Bool = false
    ) {
        self.sessionName = sessionName
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.originAddress = originAddress
        self.encoding = encoding
        self.sampleRate = sampleRate
        self.channels = channels
        self.framesPerPacket = framesPerPacket
        self.destination = destination
        self.port = port
        self.payloadType = payloadType
        self.direction = direction
        self.referenceClock = referenceClock
        self.mediaClockOffset = mediaClockOffset
        self.sourceFilter = sourceFilter
    }

    /// The packet time in milliseconds.
    public var packetTime: Double { Double(framesPerPacket) * 1000 / Double(sampleRate) }

    /// RTP payload bytes per packet (no header).
    public var payloadSize: Int { framesPerPacket * channels * encoding.bytesPerSample }

    /// True when `destination` is an IPv4 (224/4) or IPv6 (ff00::/8) multicast address.
    public var isMulticast: Bool {
        let address = destination.address.lowercased()
        if address.contains(":") { return address.hasPrefix("ff") }
        guard let first = address.split(separator: ".").first.flatMap({ Int($0) }) else { return false }
        return (224...239).contains(first)
    }

    /// The session description.
    public var sessionDescription: SessionDescription {
        var connection = destination
        if isMulticast, connection.addressType != .ip6, connection.ttl == nil { connection.ttl = 32 }
        var media = MediaDescription(
            media: "audio", port: port, proto: "RTP/AVP", formats: ["\(payloadType)"])
        media.attributes.append(
            Attribute(
                "rtpmap",
                RTPMap(
                    payloadType: payloadType, encodingName: encoding.rawValue, clockRate: UInt32(sampleRate),
                    channels: channels
                ).description))
        if sourceFilter, isMulticast {
            let type = connection.addressType
            media.attributes.append(
                Attribute("source-filter", " incl IN \(type) \(connection.address) \(originAddress)"))
        }
        media.attributes.append(Attribute(direction.rawValue))
        media.attributes.append(Attribute("ptime", PacketTimeMilliseconds.format(packetTime)))
        media.attributes.append(Attribute("framecount", "\(framesPerPacket)"))
        if let referenceClock { media.attributes.append(Attribute("ts-refclk", referenceClock.description)) }
        if let mediaClockOffset { media.attributes.append(Attribute("mediaclk", "direct=\(mediaClockOffset)")) }
        var session = SessionDescription(
            origin: Origin(
                sessionID: sessionID, sessionVersion: sessionVersion,
                addressType: originAddress.contains(":") ? .ip6 : .ip4, unicastAddress: originAddress),
            sessionName: sessionName, connection: connection, media: [media])
        if case .ptp(_, _, let domain) = referenceClock {
            session.attributes.append(Attribute("clock-domain", "PTPv2 \(domain)"))
        }
        return session
    }

    /// Why a description cannot be imported as a stream the bridge handles.
    public enum ImportError: Error, Hashable, Sendable, CustomStringConvertible {
        case noAudio
        case noConnectionAddress
        case unsupportedEncoding(String)
        case unsupportedPacketTime(Double)

        public var description: String {
            switch self {
            case .noAudio: "no RTP/AVP audio section"
            case .noConnectionAddress: "no c= line for the audio section"
            case .unsupportedEncoding(let encoding): "encoding \(encoding) is not L24 or L16"
            case .unsupportedPacketTime(let ms): "packet time \(ms) ms is not a whole number of samples"
            }
        }
    }

    /// Reads a stream description an AES67 device or a matrix exported: the first `RTP/AVP`
    /// audio section with an L24 or L16 payload.
    public init(importing description: SessionDescription) throws(ImportError) {
        guard
            let media = description.media.first(where: { $0.media == "audio" && $0.proto == "RTP/AVP" && $0.port != 0 })
        else { throw .noAudio }
        guard let connection = description.connection(of: media) else { throw .noConnectionAddress }
        let map = media.formats.lazy.compactMap { UInt8($0) }.compactMap { media.rtpMap(payloadType: $0) }.first
        guard let map, let encoding = Encoding(rawValue: map.encodingName.uppercased()) else {
            throw .unsupportedEncoding(media.rtpMaps.first?.encodingName ?? media.formats.first ?? "")
        }
        let sampleRate = Int(map.clockRate)
        var frames = 48 * sampleRate / 48000
        if let count = media.attribute("framecount").flatMap({ Int($0) }), count > 0 {
            frames = count
        } else if let ms = media.packetTime {
            let exact = ms * Double(sampleRate) / 1000
            // AES67 writes 1/3 ms as 0.333: round to the nearest whole number of samples.
            guard abs(exact - exact.rounded()) < 0.1, exact.rounded() >= 1 else { throw .unsupportedPacketTime(ms) }
            frames = Int(exact.rounded())
        }
        var referenceClock: ReferenceClock?
        if let text = media.attribute("ts-refclk") ?? description.attribute("ts-refclk") {
            referenceClock = ReferenceClock(attributeValue: text)
        }
        let mediaclk = media.attribute("mediaclk") ?? description.attribute("mediaclk")
        let offset = mediaclk.flatMap { $0.hasPrefix("direct=") ? UInt32($0.dropFirst(7).prefix { $0 != " " }) : nil }
        self.init(
            sessionName: description.sessionName, sessionID: description.origin.sessionID,
            sessionVersion: description.origin.sessionVersion, originAddress: description.origin.unicastAddress,
            encoding: encoding, sampleRate: sampleRate, channels: map.channels ?? 1, framesPerPacket: frames,
            destination: connection, port: media.port, payloadType: map.payloadType,
            direction: description.direction(of: media), referenceClock: referenceClock, mediaClockOffset: offset,
            sourceFilter: media.hasAttribute("source-filter"))
    }
}
