import Configuration
import Control
import DaemonSupport
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import STUN
import ServiceLifecycle
import TURN

/// `stagedoor-turn`'s workload: binds the configured listeners, runs the TURN endpoint, and
/// applies reloads (secrets, users, peer policy, limits) without dropping allocations.
public final class TURNRelayService: DaemonWorkload, @unchecked Sendable {
    private let endpoint: TURNEndpoint
    private let configuration: StagedoorConfiguration
    private let logger: Logger
    private let ready = NIOLockedValueBox(false)
    /// The TLS context new `turns:` connections use; replaced when a reload brings new certificates.
    private let tls: NIOLockedValueBox<NIOSSLContext?>
    private let mirror = CounterMirror()

    public init(configuration: StagedoorConfiguration, logger: Logger) throws {
        let turn = configuration.turn
        var relayAddresses: [TransportAddress] = []
        for text in [turn.relay.address] + (turn.relay.ipv6Address.map { [$0] } ?? []) {
            guard let address = TransportAddress(text: text, port: 0) else { throw TURNServiceError.badAddress(text) }
            relayAddresses.append(address)
        }
        self.configuration = configuration
        self.logger = logger
        tls = NIOLockedValueBox(try Self.tlsContext(turn))
        endpoint = try TURNEndpoint(
            settings: Self.allocationSettings(turn), policy: try Self.peerPolicy(turn),
            relayAddresses: relayAddresses,
            relayPorts: UInt16(turn.relay.lowerBound)...UInt16(turn.relay.upperBound), logger: logger)
        endpoint.loop.start()
    }

    public var isReady: Bool { ready.withLockedValue { $0 } }

    public func run() async throws {
        var channels: [Channel] = []
        for listener in configuration.turn.listeners {
            guard let server = TransportAddress(text: listener.address, port: UInt16(listener.port)) else { continue }
            switch listener.transport {
            case .udp:
                let opened = await endpoint.loop.submit { [endpoint] in endpoint.addUDPListener(server) }
                guard opened else { throw TURNServiceError.cannotBind("udp \(server)") }
            case .tcp:
                let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { [endpoint] channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers(
                                ByteToMessageHandler(StreamFramer()),
                                ClientStreamHandler(endpoint: endpoint, transport: .tcp))
                        }
                    }
                    .bind(host: listener.address, port: listener.port).get()
                channels.append(channel)
            case .tls:
                let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { [endpoint, tls] channel in
                        channel.eventLoop.makeCompletedFuture {
                            guard let context = tls.withLockedValue({ $0 }) else {
                                throw TURNServiceError.noCertificate
                            }
                            try channel.pipeline.syncOperations.addHandlers(
                                NIOSSLServerHandler(context: context),
                                ByteToMessageHandler(StreamFramer()),
                                ClientStreamHandler(endpoint: endpoint, transport: .tls))
                        }
                    }
                    .bind(host: listener.address, port: listener.port).get()
                channels.append(channel)
            case .ws, .wss:
                continue  // not offered for TURN; the configuration refuses them
            }
            logger.info("listening", metadata: ["listener": "\(listener.transport.rawValue) \(server)"])
        }
        ready.withLockedValue { $0 = true }
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
        await endpoint.loop.submit { [endpoint] in endpoint.shutdown() }
        endpoint.loop.stop()
    }

    public func statusDetails() async -> JSONValue {
        let snapshot = await endpoint.loop.submit { [endpoint] in endpoint.snapshot() }
        record(snapshot)
        return [
            "allocations": JSONValue(snapshot.allocations),
            "dual_allocations": JSONValue(snapshot.dualAllocations),
            "allocations_by_transport": .object(
                Dictionary(uniqueKeysWithValues: snapshot.byTransport.map { ($0.key.rawValue, JSONValue($0.value)) })),
            "users": JSONValue(snapshot.users),
            "relay_sockets": JSONValue(snapshot.relaySockets),
            "counters": [
                "bindings": JSONValue(snapshot.counters.bindings),
                "allocations_created": JSONValue(snapshot.counters.allocationsCreated),
                "auth_failures": JSONValue(snapshot.counters.authFailures),
                "denied_peers": JSONValue(snapshot.counters.deniedPeers),
                "quota_rejections": JSONValue(snapshot.counters.quotaRejections),
                "bad_requests": JSONValue(snapshot.counters.badRequests),
                "malformed": JSONValue(snapshot.counters.malformed),
                "rate_limited": JSONValue(snapshot.counters.rateLimited),
                "over_bandwidth": JSONValue(snapshot.counters.overBandwidth),
                "packets_to_peers": JSONValue(snapshot.traffic.toPeers.packets),
                "bytes_to_peers": JSONValue(snapshot.traffic.toPeers.bytes),
                "packets_to_clients": JSONValue(snapshot.traffic.toClients.packets),
                "bytes_to_clients": JSONValue(snapshot.traffic.toClients.bytes),
                "dropped": JSONValue(snapshot.traffic.dropped + snapshot.counters.dropped),
            ],
        ]
    }

    public func recordMetrics() async {
        record(await endpoint.loop.submit { [endpoint] in endpoint.snapshot() })
    }

    /// Mirrors the core's counters into swift-metrics (the `metrics` method's Prometheus text).
    private func record(_ snapshot: TURNEndpoint.Snapshot) {
        let counters = snapshot.counters
        mirror.record("stagedoor_turn_allocations_created_total", counters.allocationsCreated)
        mirror.record("stagedoor_turn_auth_failures_total", counters.authFailures)
        mirror.record("stagedoor_turn_denied_peers_total", counters.deniedPeers)
        mirror.record(
            "stagedoor_turn_relayed_packets_total",
            snapshot.traffic.toPeers.packets + snapshot.traffic.toClients.packets)
        mirror.record(
            "stagedoor_turn_relayed_bytes_total", snapshot.traffic.toPeers.bytes + snapshot.traffic.toClients.bytes)
        mirror.record("stagedoor_turn_dropped_total", snapshot.traffic.dropped + snapshot.counters.dropped)
        Gauge(label: "stagedoor_turn_allocations").record(snapshot.allocations)
        Gauge(label: "stagedoor_turn_dual_allocations").record(snapshot.dualAllocations)
    }

    public func apply(_ configuration: StagedoorConfiguration) async throws {
        let settings = Self.allocationSettings(configuration.turn)
        let policy = try Self.peerPolicy(configuration.turn)
        let context = try Self.tlsContext(configuration.turn)
        await endpoint.loop.submit { [endpoint] in endpoint.update(settings: settings, policy: policy) }
        tls.withLockedValue { $0 = context }
        if configuration.turn.listeners != self.configuration.turn.listeners
            || configuration.turn.relay != self.configuration.turn.relay
        {
            logger.warning("listener and relay changes take effect when stagedoor-turn restarts")
        }
    }

    /// The server context for `turns:` listeners (TLS 1.2 and up), from the first TLS
    /// listener's certificate and key; nil when there is no TLS listener.
    static func tlsContext(_ turn: Configuration.TURNSettings) throws -> NIOSSLContext? {
        guard let listener = turn.listeners.first(where: { $0.transport == .tls }),
            let certificatePath = listener.certificate, let keyPath = listener.privateKey
        else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    static func allocationSettings(_ turn: Configuration.TURNSettings) -> AllocationSettings {
        var settings = AllocationSettings(realm: turn.realm, restSecrets: turn.secrets)
        for user in turn.users { settings.addUser(user.name, password: user.password) }
        settings.externalAddress = turn.externalAddress.flatMap { TransportAddress(text: $0, port: 0) }
        settings.maximumAllocationsPerUser = turn.limits.allocationsPerUser
        settings.maximumAllocations = turn.limits.allocations
        settings.maximumPermissionsPerAllocation = turn.limits.permissionsPerAllocation
        settings.maximumLifetime = UInt32(turn.limits.maximumLifetimeSeconds)
        settings.bandwidthPerAllocation = turn.limits.bandwidthPerAllocationKbps * 1_000 / 8
        settings.bandwidthTotal = turn.limits.bandwidthTotalMbps * 1_000_000 / 8
        settings.unauthenticatedRequestsPerSecond = turn.limits.unauthenticatedPerSecond
        return settings
    }

    /// The peer policy; a range the policy cannot parse is an error, never silently dropped
    /// (a dropped deny entry would fail open).
    static func peerPolicy(_ turn: Configuration.TURNSettings) throws -> PeerPolicy {
        func ranges(_ texts: [String]) throws -> [AddressRange] {
            try texts.map { text in
                guard let range = AddressRange(cidr: text) else { throw TURNServiceError.badRange(text) }
                return range
            }
        }
        var own = turn.listeners.compactMap { TransportAddress(text: $0.address, port: UInt16($0.port)) }
        own += [turn.relay.address, turn.relay.ipv6Address].compactMap {
            $0.flatMap { TransportAddress(text: $0, port: 0) }
        }
        own += [turn.externalAddress.flatMap { TransportAddress(text: $0, port: 0) }].compactMap { $0 }
        return PeerPolicy(allow: try ranges(turn.allowPeers), deny: try ranges(turn.denyPeers), serverAddresses: own)
    }
}

enum TURNServiceError: Error, CustomStringConvertible {
    case badAddress(String)
    case badRange(String)
    case noCertificate
    case cannotBind(String)
    var description: String {
        switch self {
        case .badAddress(let text): "not an IP address: \(text)"
        case .badRange(let text): "not a CIDR range the peer policy accepts: \(text)"
        case .noCertificate: "a TLS listener has no certificate"
        case .cannotBind(let listener): "cannot bind \(listener)"
        }
    }
}
