import Yams

/// One audio port of the intercom matrix, as the bridge reaches it: an RTP stream pair of
/// AES67-style linear PCM at 48 kHz (see ../shared/ARCHITECTURE.md, "the intercom model").
/// `bridge.ports[]` in the configuration.
public struct BridgePort: Sendable, Equatable {
    /// RFC 3190 L24 (AES67's default) or RFC 3551 L16; big-endian linear PCM.
    public enum Encoding: String, Sendable, CaseIterable {
        case L24, L16

        public var bytesPerSample: Int { self == .L24 ? 3 : 2 }
    }

    /// Where the bridge sends the port's input (what panels say) toward the matrix.
    public struct Send: Sendable, Equatable {
        /// Unicast address of the matrix port, or a multicast group.
        public var destination: String
        public var port: Int
        /// IP TTL / hop limit for multicast; 1 keeps it on the local segment unless routed.
        public var ttl: Int
        /// DSCP of the RTP packets; 46 (EF), as AES67 §8.3 recommends for media.
        public var dscp: Int

        public init(destination: String, port: Int, ttl: Int = 1, dscp: Int = 46) {
            self.destination = destination
            self.port = port
            self.ttl = ttl
            self.dscp = dscp
        }

        public var isMulticast: Bool { BridgePort.isMulticast(destination) }
    }

    /// Where the bridge listens for the port's output (what panels hear).
    public struct Receive: Sendable, Equatable {
        /// A local address to bind, or a multicast group to join.
        public var address: String
        public var port: Int

        public init(address: String, port: Int) {
            self.address = address
            self.port = port
        }

        public var isMulticast: Bool { BridgePort.isMulticast(address) }
    }

    public var id: String
    public var encoding: Encoding
    /// 1 (mono) or 2 (stereo).
    public var channels: Int
    /// Samples per channel in one packet: 48 per millisecond (6 for 0.125 ms … 960 for 20 ms).
    public var samplesPerPacket: Int
    /// RTP payload type, dynamic (96…127): L24 and L16 at 48 kHz have no static number.
    public var payloadType: Int
    public var send: Send
    public var receive: Receive

    /// The sample rate of every port (AES67 §7.1).
    public static let sampleRate = 48_000

    public init(
        id: String, encoding: Encoding = .L24, channels: Int = 1, samplesPerPacket: Int = 48, payloadType: Int = 96,
        send: Send, receive: Receive
    ) {
        self.id = id
        self.encoding = encoding
        self.channels = channels
        self.samplesPerPacket = samplesPerPacket
        self.payloadType = payloadType
        self.send = send
        self.receive = receive
    }

    /// The packet time in milliseconds, as SDP's `a=ptime` writes it.
    public var packetTimeMilliseconds: Double { Double(samplesPerPacket) * 1_000 / Double(Self.sampleRate) }

    /// RTP payload bytes per packet.
    public var payloadBytesPerPacket: Int { samplesPerPacket * channels * encoding.bytesPerSample }

    /// 224.0.0.0/4 or ff00::/8.
    public static func isMulticast(_ address: String) -> Bool {
        switch IPAddressText.family(of: address) {
        case .v4: return (UInt8(address.split(separator: ".").first ?? "") ?? 0) & 0xF0 == 0xE0
        case .v6: return address.lowercased().hasPrefix("ff")
        case nil: return false
        }
    }
}

/// A remote panel (a browser or an app) allowed to open a WHIP session, bound to one port.
/// `bridge.panels[]` in the configuration.
public struct BridgePanel: Sendable, Equatable {
    /// The bearer token the panel presents (RFC 6750), or only its SHA-256, so the file need
    /// not hold the secret itself.
    public enum Token: Sendable, Equatable {
        case plain(String)
        /// SHA-256 of the token's UTF-8 bytes.
        case sha256([UInt8])
    }

    public var id: String
    public var token: Token
    /// The `id` of the port whose audio the panel talks into and hears.
    public var port: String

    public init(id: String, token: Token, port: String) {
        self.id = id
        self.token = token
        self.port = port
    }
}

/// The shortest plain token accepted: about 96 bits of a random base64 string.
let minimumPanelTokenLength = 16

/// Reads `bridge.ports` and `bridge.panels` from the `bridge` mapping; every issue carries its
/// key path and line. `media` is the bridge's WebRTC port range: receive ports must stay out of it.
func readBridgePortsAndPanels(
    _ reader: inout MappingReader, media: PortRange?
) -> (ports: [BridgePort], panels: [BridgePanel]) {
    var ports: [BridgePort] = []
    var seenPorts: [String: String] = [:]
    var receiveClaims: [String: String] = [:]
    for element in reader.list("ports") {
        guard var port = reader.reader(for: element.node, path: element.path) else { continue }
        defer { port.finish() }
        guard let parsed = readBridgePort(&port, media: media) else { continue }
        if let first = seenPorts[parsed.id] {
            port.report("id", at: port.node("id"), "\"\(parsed.id)\" is already the id of \(first); ids must be unique")
            continue
        }
        let claim = "\(parsed.receive.address) \(parsed.receive.port)"
        if let first = receiveClaims[claim] {
            port.report(
                "receive.port", at: port.node("receive"),
                "\(parsed.receive.address):\(parsed.receive.port) is already the receive address of \(first)")
            continue
        }
        seenPorts[parsed.id] = element.path
        receiveClaims[claim] = element.path
        ports.append(parsed)
    }

    var panels: [BridgePanel] = []
    var seenPanels: [String: String] = [:]
    for element in reader.list("panels") {
        guard var panel = reader.reader(for: element.node, path: element.path) else { continue }
        defer { panel.finish() }
        let id = readIdentifier(&panel)
        let token = readPanelToken(&panel)
        let portID = panel.string("port", required: true, describe: "the id of a port in bridge.ports")
        if let portID, seenPorts[portID] == nil {
            let known = ports.map(\.id).joined(separator: ", ")
            panel.report(
                "port", at: panel.node("port"),
                "no port has the id \"\(portID)\"; known ports: \(known.isEmpty ? "none" : known)")
            continue
        }
        guard let id, let token, let portID else { continue }
        if let first = seenPanels[id] {
            panel.report("id", at: panel.node("id"), "\"\(id)\" is already the id of \(first); ids must be unique")
            continue
        }
        seenPanels[id] = element.path
        panels.append(BridgePanel(id: id, token: token, port: portID))
    }
    return (ports, panels)
}

private func readBridgePort(_ reader: inout MappingReader, media: PortRange?) -> BridgePort? {
    let id = readIdentifier(&reader)
    let encoding = reader.has("encoding") ? reader.choice("encoding", of: BridgePort.Encoding.self) : .L24
    if !reader.has("encoding") { _ = reader.node("encoding") }
    let channels = reader.integer("channels", in: 1...2) ?? (reader.has("channels") ? nil : 1)
    let samples = readPacketTime(&reader)
    let payloadType = reader.integer("payload_type", in: 96...127) ?? (reader.has("payload_type") ? nil : 96)

    var send: BridgePort.Send?
    if var sendReader = reader.mapping("send", required: true) {
        let destination = readIPAddress(&sendReader, key: "destination")
        let port = sendReader.integer("port", required: true, in: 1...65_535)
        let ttl = sendReader.integer("ttl", default: 1, in: 1...255)
        let dscp = sendReader.integer("dscp", default: 46, in: 0...63)
        sendReader.finish()
        if let destination, let port {
            if IPAddressText.isWildcard(destination) {
                sendReader.report(
                    "destination", at: sendReader.node("destination"), "must be a real address, not \(destination)")
            } else {
                send = BridgePort.Send(destination: destination, port: port, ttl: ttl, dscp: dscp)
            }
        }
    }
    var receive: BridgePort.Receive?
    if var receiveReader = reader.mapping("receive", required: true) {
        let address = readIPAddress(&receiveReader, key: "address")
        let port = receiveReader.integer("port", required: true, in: 1_024...65_535)
        receiveReader.finish()
        if let address, let port {
            if let media, (media.lowerBound...media.upperBound).contains(port),
                IPAddressText.overlaps(address, media.address)
            {
                receiveReader.report(
                    "port", at: receiveReader.node("port"),
                    "\(port) is inside bridge.media (\(media.lowerBound)-\(media.upperBound)); pick a port outside it")
            } else {
                receive = BridgePort.Receive(address: address, port: port)
            }
        }
    }
    guard let id, let encoding, let channels, let samples, let payloadType, let send, let receive else { return nil }
    return BridgePort(
        id: id, encoding: encoding, channels: channels, samplesPerPacket: samples, payloadType: payloadType,
        send: send, receive: receive)
}

/// `packet_time_ms`: 0.125 to 20 ms, 1 by default, a whole number of samples at 48 kHz
/// (AES67's 0.333 ms counts as 16 samples).
private func readPacketTime(_ reader: inout MappingReader) -> Int? {
    let allowed =
        "a packet time in ms from 0.125 to 20 that is a whole number of 48 kHz samples (0.125, 0.25, 1, 4, 20)"
    guard let node = reader.node("packet_time_ms") else { return 48 }
    guard let text = node.scalar?.string, let milliseconds = Double(text), milliseconds.isFinite else {
        reader.report("packet_time_ms", at: node, "expected \(allowed), found \(node.kindDescription)")
        return nil
    }
    guard milliseconds >= 0.125, milliseconds <= 20 else {
        reader.report("packet_time_ms", at: node, "\(text) is out of range; allowed: \(allowed)")
        return nil
    }
    let samples = milliseconds * Double(BridgePort.sampleRate) / 1_000
    let whole = samples.rounded()
    guard abs(samples - whole) <= 0.05 else {
        reader.report(
            "packet_time_ms", at: node,
            "\(text) ms is \(samples) samples at 48 kHz, not a whole number; allowed: \(allowed)")
        return nil
    }
    return Int(whole)
}

private func readPanelToken(_ reader: inout MappingReader) -> BridgePanel.Token? {
    let plain = reader.string("token", describe: "a bearer token of at least \(minimumPanelTokenLength) characters")
    let hashed = reader.string("token_sha256", describe: "64 hexadecimal digits")
    switch (plain, hashed) {
    case (nil, nil):
        if !reader.has("token") && !reader.has("token_sha256") {
            reader.report("token", at: nil, "is required (or token_sha256, the SHA-256 of the token in hex)")
        }
        return nil
    case (.some, .some):
        reader.report("token_sha256", at: reader.node("token_sha256"), "give token or token_sha256, not both")
        return nil
    case (let token?, nil):
        guard token.count >= minimumPanelTokenLength, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            reader.report(
                "token", at: reader.node("token"),
                "must be at least \(minimumPanelTokenLength) printable ASCII characters without spaces; short tokens can be guessed"
            )
            return nil
        }
        return .plain(token)
    case (nil, let hex?):
        let digits = Array(hex.lowercased().utf8)
        guard digits.count == 64, digits.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            reader.report(
                "token_sha256", at: reader.node("token_sha256"),
                "expected 64 hexadecimal digits (e.g. from `printf %s TOKEN | sha256sum`)")
            return nil
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            bytes.append(UInt8(String(decoding: digits[index..<(index + 2)], as: UTF8.self), radix: 16) ?? 0)
        }
        return .sha256(bytes)
    }
}

/// `id`: letters, digits, `-`, `_`, `.`; it appears in URLs, SDP and logs.
private func readIdentifier(_ reader: inout MappingReader) -> String? {
    guard let id = reader.string("id", required: true, describe: "a name of letters, digits, '-', '_' or '.'") else {
        return nil
    }
    guard !id.isEmpty, id.count <= 64,
        id.unicodeScalars.allSatisfy({
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
        })
    else {
        reader.report("id", at: reader.node("id"), "\"\(id)\" must be 1 to 64 letters, digits, '-', '_' or '.'")
        return nil
    }
    return id
}

private func readIPAddress(_ reader: inout MappingReader, key: String) -> String? {
    guard let text = reader.string(key, required: true, describe: "an IPv4 or IPv6 address") else { return nil }
    guard IPAddressText.family(of: text) != nil else {
        reader.report(key, at: reader.node(key), "\"\(text)\" is not an IPv4 or IPv6 address")
        return nil
    }
    return text
}
