import ArgumentParser
import Configuration
import SDP

struct PortSDP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "port-sdp",
        abstract: "The SDP of a matrix port's RTP stream, for the matrix or an AES67 device to import.",
        discussion: """
            An AES67-style description (RFC 8866; RFC 3190 L24 or RFC 3551 L16 at 48 kHz; a=ptime and \
            a=framecount; a multicast c= line with its TTL and an a=source-filter). `send` (the default) \
            is the stream the bridge sends to the port's destination; `receive` is the one it expects \
            at the port's receive address. The bridge's RTP clock runs free (a random timestamp offset \
            per panel session): --ptp declares a PTP reference (RFC 7273 ts-refclk, mediaclk, \
            clock-domain) for devices that import nothing without one.
            """)

    enum Direction: String, ExpressibleByArgument, CaseIterable {
        case send, receive
    }

    @OptionGroup var options: StackOptions

    @Argument(help: "The id of a port in bridge.ports.")
    var port: String

    @Option(help: "send: the stream toward the matrix; receive: the stream the bridge takes from it.")
    var direction: Direction = .send

    @Option(
        help: """
            The bridge's address for the o= line (default: the port's receive address, else \
            bridge.media.address, else bridge.whip.address, whichever is a unicast address).
            """)
    var origin: String?

    @Option(
        help: """
            A PTP reference clock: GRANDMASTER[:DOMAIN] (EUI-64, such as 39-A7-94-FF-FE-07-CB-D0:0) or \
            `traceable`.
            """)
    var ptp: String?

    func run() async throws {
        let configuration = try Stack(options).loadConfiguration()
        guard let port = configuration.bridge.ports.first(where: { $0.id == self.port }) else {
            let known = configuration.bridge.ports.map(\.id)
            printError(
                "no port has the id \"\(self.port)\"; known ports: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
            )
            throw ExitCode.failure
        }
        var clock: AES67Stream.ReferenceClock?
        if let ptp {
            guard let parsed = Self.referenceClock(ptp) else {
                printError(
                    "--ptp \(ptp): expected GRANDMASTER[:DOMAIN] (such as 39-A7-94-FF-FE-07-CB-D0:0) or traceable")
                throw ExitCode.validationFailure
            }
            clock = parsed
        }
        if let origin, IPAddressText.family(of: origin) == nil || IPAddressText.isWildcard(origin) {
            printError("--origin \(origin): expected a unicast IPv4 or IPv6 address")
            throw ExitCode.validationFailure
        }
        guard let originAddress = origin ?? Self.defaultOrigin(port: port, bridge: configuration.bridge) else {
            printError("the bridge listens on wildcard addresses only: give its address with --origin")
            throw ExitCode.validationFailure
        }
        let stream = Self.stream(port: port, direction: direction, origin: originAddress, clock: clock)
        print(stream.sessionDescription.serialized(), terminator: "")
    }

    /// The stream of `port` in `direction`, with a session id and version that only change when
    /// the stream does, so that an export can be compared with the last one.
    static func stream(
        port: BridgePort, direction: Direction, origin: String, clock: AES67Stream.ReferenceClock?
    ) -> AES67Stream {
        let connection: ConnectionData
        let mediaPort: Int
        switch direction {
        case .send:
            let destination = port.send.destination
            let ttl = port.send.isMulticast && IPAddressText.family(of: destination) == .v4 ? port.send.ttl : nil
            connection = ConnectionData(address: destination, ttl: ttl)
            mediaPort = port.send.port
        case .receive:
            let address = IPAddressText.isWildcard(port.receive.address) ? origin : port.receive.address
            // The receiver joins the group; the TTL is the sender's business, 32 is AES67's usual.
            let ttl = port.receive.isMulticast && IPAddressText.family(of: address) == .v4 ? 32 : nil
            connection = ConnectionData(address: address, ttl: ttl)
            mediaPort = port.receive.port
        }
        var stream = AES67Stream(
            sessionName: "Stagedoor \(port.id) \(direction.rawValue)",
            sessionID: "\(fnv1a("stagedoor \(port.id) \(direction.rawValue)"))", sessionVersion: 0,
            originAddress: origin, encoding: port.encoding == .L24 ? .l24 : .l16, sampleRate: BridgePort.sampleRate,
            channels: port.channels, framesPerPacket: port.samplesPerPacket, destination: connection,
            port: UInt16(mediaPort), payloadType: UInt8(port.payloadType),
            direction: direction == .send ? .sendonly : .recvonly, referenceClock: clock,
            mediaClockOffset: clock == nil ? nil : 0,
            // Only the bridge's own stream has a source it can name (RFC 4570, AES67 §8.3).
            sourceFilter: direction == .send)
        stream.sessionVersion = UInt64(fnv1a(stream.sessionDescription.serialized()))
        return stream
    }

    /// The first unicast address the bridge is known to send from.
    static func defaultOrigin(port: BridgePort, bridge: BridgeSettings) -> String? {
        [port.receive.address, bridge.media.address, bridge.whip.address].first { address in
            !IPAddressText.isWildcard(address) && !BridgePort.isMulticast(address)
        }
    }

    static func referenceClock(_ text: String) -> AES67Stream.ReferenceClock? {
        if text == "traceable" { return .ptpTraceable() }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let octets = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, octets.count == 8,
            octets.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        let domain = parts.count == 2 ? Int(parts[1]) : 0
        guard let domain, (0...127).contains(domain) else { return nil }
        return .ptp(grandmaster: parts[0].uppercased(), domain: domain)
    }

    /// 32-bit FNV-1a: stable across runs and machines, unlike `Hasher`.
    static func fnv1a(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
