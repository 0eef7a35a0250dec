import Configuration
import Control
import DaemonSupport
import DatagramIO
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SIP
import SIPProxy
import ServiceLifecycle

/// `stagedoor-sip`'s workload: binds the SIP listeners (UDP, TCP, TLS, WS, WSS), runs the edge proxy
/// core on one thread with a 25 ms tick feeding it the time (see ProxyEngine), and applies reloads (trunks, limits,
/// origins, certificates) without dropping transactions or connections.
///
/// A final class with locks rather than an actor: a Swift 6.3 miscompile crashed daemons whose generic
/// workload was an actor (see TURNRelayService).
public final class SIPProxyService: DaemonWorkload, @unchecked Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let plane: DatagramLoop
    private let engine: ProxyEngine
    private let configuration: NIOLockedValueBox<StagedoorConfiguration>
    private let logger: Logger
    private let ready = NIOLockedValueBox(false)
    /// The server context of TLS and WSS listeners; replaced when a reload brings new certificates.
    private let tls: NIOLockedValueBox<NIOSSLContext?>
    private let origins: NIOLockedValueBox<[String]>
    /// The flow-token key: random per process. Flows (connections) do not outlive the process, so tokens
    /// need not either; UDP clients re-register after a restart.
    private let tokenSecret: [UInt8]
    private let mirror = CounterMirror()

    public init(configuration: StagedoorConfiguration, logger: Logger) throws {
        var generator = SystemRandomNumberGenerator()
        tokenSecret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.configuration = NIOLockedValueBox(configuration)
        self.logger = logger
        tls = NIOLockedValueBox(try Self.tlsServerContext(configuration.sip))
        origins = NIOLockedValueBox(configuration.sip.webSocket.allowedOrigins)
        // One thread for the proxy core and the UDP listeners (the core is a value owned by it, so no lock
        // is taken per message), one for the stream connections.
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        plane = try DatagramLoop(tickInterval: ProxyEngine.tickInterval)
        let proxy = EdgeProxy(configuration: Self.proxyConfiguration(configuration.sip, secret: tokenSecret))
        engine = ProxyEngine(plane: plane, streams: group.next(), proxy: proxy, logger: logger)
        plane.receiver = engine
        plane.start()
        var client = TLSConfiguration.makeClientConfiguration()
        // Trunks are LAN media servers, usually with self-signed certificates; verification of their
        // certificates against a configured CA is still to come.
        client.certificateVerification = .none
        engine.tlsClientContext = try? NIOSSLContext(configuration: client)
    }

    deinit {
        plane.stop()
        try? group.syncShutdownGracefully()
    }

    public var isReady: Bool { ready.withLockedValue { $0 } }

    public func run() async throws {
        let settings = configuration.withLockedValue { $0 }.sip
        var channels: [Channel] = []
        let maxMessageSize = settings.limits.maxMessageSize
        let framerLimits = StreamFramer.Limits(maxMessageSize: maxMessageSize)
        for (index, listener) in settings.listeners.enumerated() {
            let transport = SIPTransport(rawValue: listener.transport.rawValue) ?? .udp
            let engine = self.engine
            switch listener.transport {
            case .udp:
                // Read and written on the plane (see ProxyEngine), with a 4 MiB receive buffer for
                // bursts (a registration storm after a network blip) and 64 KiB slots, so that no
                // datagram is cut short (RFC 4475's longreq is over 2 KiB).
                let address = listener.address
                let port = listener.port
                let refusal = await engine.plane.submit {
                    engine.openDatagramListener(index, host: address, port: port)
                }
                if let refusal { throw SIPServiceError.cannotBind(refusal) }
            case .tcp, .tls:
                let tls = self.tls
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if transport == .tls {
                                guard let context = tls.withLockedValue({ $0 }) else {
                                    throw SIPServiceError.noCertificate
                                }
                                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                StreamConnectionHandler(
                                    engine: engine, transport: transport, listener: index, limits: framerLimits))
                        }
                    }
                    .bind(host: listener.address, port: listener.port).get()
                channels.append(channel)
            case .ws, .wss:
                let tls = self.tls
                let origins = self.origins
                let path = listener.path ?? "/ws"
                let ping = settings.webSocket.pingIntervalMilliseconds
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if transport == .wss {
                                guard let context = tls.withLockedValue({ $0 }) else {
                                    throw SIPServiceError.noCertificate
                                }
                                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                            }
                            try WebSocketTransport.configure(
                                channel, engine: engine, listener: index, path: path,
                                origins: { origins.withLockedValue { $0 } }, maxMessageSize: maxMessageSize,
                                pingInterval: ping > 0 ? .milliseconds(Int64(ping)) : nil, transport: transport)
                        }
                    }
                    .bind(host: listener.address, port: listener.port).get()
                channels.append(channel)
            }
            logger.info(
                "listening",
                metadata: ["listener": "\(listener.transport.rawValue) \(listener.address):\(listener.port)"])
        }
        let engine = self.engine
        await engine.plane.submit { engine.startTicking() }
        ready.withLockedValue { $0 = true }
        try? await gracefulShutdown()
        await engine.plane.submit { engine.stop() }
        for channel in channels { try? await channel.close() }
    }

    public func statusDetails() async -> JSONValue {
        let engine = self.engine
        let (snapshot, connectionTransports) = await engine.plane.submit {
            (engine.proxy.snapshot(now: ProxyEngine.now()), engine.connections.values.map(\.flow.transport))
        }
        var byTransport: [String: JSONValue] = [:]
        for transport in SIPTransport.allCases where transport != .udp {
            byTransport[transport.rawValue] = JSONValue(connectionTransports.filter { $0 == transport }.count)
        }
        let counters = snapshot.counters
        let trunks: [JSONValue] = snapshot.trunks.map { trunk in
            [
                "group": .string(trunk.group), "host": .string(trunk.server.host),
                "port": JSONValue(Int(trunk.server.port)), "transport": .string(trunk.server.transport.rawValue),
                "priority": JSONValue(trunk.server.priority), "weight": JSONValue(trunk.server.weight),
                "state": .string(trunk.state.rawValue),
            ]
        }
        let local = counters.localResponses.sorted { $0.key < $1.key }.map { (String($0.key), JSONValue($0.value)) }
        return [
            "connections": .object(byTransport),
            "transactions": [
                "server": JSONValue(snapshot.serverTransactions), "client": JSONValue(snapshot.clientTransactions),
            ],
            "flows": JSONValue(snapshot.flows),
            "trunks": .array(trunks),
            "banned_sources": .array(snapshot.bannedSources.map { .string($0) }),
            "counters": [
                "requests_received": JSONValue(counters.requestsReceived),
                "responses_received": JSONValue(counters.responsesReceived),
                "requests_forwarded": JSONValue(counters.requestsForwarded),
                "responses_forwarded": JSONValue(counters.responsesForwarded),
                "retransmissions_absorbed": JSONValue(counters.retransmissionsAbsorbed),
                "malformed": JSONValue(counters.malformed),
                "dropped": JSONValue(counters.dropped),
                "relay_refused": JSONValue(counters.relayRefused),
                "failovers": JSONValue(counters.failovers),
                "rate_limited": JSONValue(counters.rateLimited),
                "connections_refused": JSONValue(counters.connectionsRefused),
                "overloaded": JSONValue(counters.overloaded),
                "local_responses": .object(Dictionary(uniqueKeysWithValues: local)),
            ],
        ]
    }

    /// Mirrors the core's counters, its transactions and flows, and each trunk server's state into
    /// swift-metrics (the `metrics` method's Prometheus text).
    public func recordMetrics() async {
        let engine = self.engine
        let (snapshot, connections) = await engine.plane.submit {
            (engine.proxy.snapshot(now: ProxyEngine.now()), engine.connections.count)
        }
        let counters = snapshot.counters
        let series: [(String, Int)] = [
            ("requests_received", counters.requestsReceived), ("responses_received", counters.responsesReceived),
            ("requests_forwarded", counters.requestsForwarded), ("responses_forwarded", counters.responsesForwarded),
            ("retransmissions_absorbed", counters.retransmissionsAbsorbed), ("malformed", counters.malformed),
            ("dropped", counters.dropped), ("relay_refused", counters.relayRefused),
            ("failovers", counters.failovers), ("rate_limited", counters.rateLimited),
            ("connections_refused", counters.connectionsRefused), ("overloaded", counters.overloaded),
        ]
        for (name, count) in series { mirror.record("stagedoor_sip_\(name)_total", count) }
        for (code, count) in counters.localResponses {
            mirror.record("stagedoor_sip_local_responses_total", dimensions: [("code", String(code))], count)
        }
        Gauge(label: "stagedoor_sip_server_transactions").record(snapshot.serverTransactions)
        Gauge(label: "stagedoor_sip_client_transactions").record(snapshot.clientTransactions)
        Gauge(label: "stagedoor_sip_flows").record(snapshot.flows)
        Gauge(label: "stagedoor_sip_connections").record(connections)
        for trunk in snapshot.trunks {
            let server = "\(trunk.server.transport.rawValue):\(trunk.server.host):\(trunk.server.port)"
            Gauge(label: "stagedoor_sip_trunk_server_up", dimensions: [("trunk", trunk.group), ("server", server)])
                .record(trunk.state == .up ? 1 : 0)
        }
    }

    public func apply(_ configuration: StagedoorConfiguration) async throws {
        let context = try Self.tlsServerContext(configuration.sip)
        // The sockets stay as bound until a restart: the core keeps the listeners it numbers flows by.
        var sip = configuration.sip
        sip.listeners = self.configuration.withLockedValue { $0 }.sip.listeners
        let proxyConfiguration = Self.proxyConfiguration(sip, secret: tokenSecret)
        let engine = self.engine
        await engine.plane.submit { engine.proxy.update(proxyConfiguration) }
        tls.withLockedValue { $0 = context }
        origins.withLockedValue { $0 = configuration.sip.webSocket.allowedOrigins }
        let old = self.configuration.withLockedValue { current in
            defer { current = configuration }
            return current
        }
        if old.sip.listeners != configuration.sip.listeners {
            logger.warning("listener changes take effect when stagedoor-sip restarts")
        }
    }

    /// The proxy core's view of the `sip` section.
    static func proxyConfiguration(_ sip: SIPSettings, secret: [UInt8]) -> ProxyConfiguration {
        let listeners = sip.listeners.map { listener in
            let advertised =
                IPAddressText.isWildcard(listener.address)
                ? (sip.publicHost ?? sip.domain ?? listener.address) : listener.address
            return ProxyListener(
                transport: SIPTransport(rawValue: listener.transport.rawValue) ?? .udp, host: advertised,
                port: UInt16(listener.port))
        }
        let groups = sip.trunks.map { group in
            TrunkGroup(
                name: group.name,
                servers: group.servers.map {
                    TrunkServer(
                        host: $0.host, port: UInt16($0.port),
                        transport: SIPTransport(rawValue: $0.transport.rawValue) ?? .udp,
                        priority: $0.priority, weight: $0.weight)
                })
        }
        return ProxyConfiguration(
            listeners: listeners, domains: [sip.domain, sip.publicHost].compactMap { $0 }, trunkGroups: groups,
            probing: ProbeSettings(
                interval: .milliseconds(sip.probing.optionsIntervalMilliseconds), downAfter: sip.probing.downAfter,
                upAfter: sip.probing.upAfter),
            requestsPerSecond: sip.limits.requestsPerSecond, banDuration: .seconds(sip.limits.banSeconds),
            connectionsPerSource: sip.limits.connectionsPerSource, maxMessageSize: sip.limits.maxMessageSize,
            maxTransactions: sip.limits.maxTransactions,
            foreignDomains: sip.foreignDomains == .trunk ? .trunk : .reject,
            // Timer C (§16.6 step 11): a ringing branch that never answers is cancelled after 3 minutes.
            timers: TransactionTimers(timerC: .seconds(180)), flowTokenSecret: secret)
    }

    /// The server context for TLS and WSS listeners (TLS 1.2 and up) from the first such listener's
    /// certificate and key; nil when there is none.
    static func tlsServerContext(_ sip: SIPSettings) throws -> NIOSSLContext? {
        guard let listener = sip.listeners.first(where: { $0.transport.needsCertificate }),
            let certificatePath = listener.certificate, let keyPath = listener.privateKey
        else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

enum SIPServiceError: Error, CustomStringConvertible {
    case noCertificate
    case cannotBind(String)

    var description: String {
        switch self {
        case .noCertificate: "a TLS or WSS listener has no certificate"
        case .cannotBind(let why): "a UDP listener: \(why)"
        }
    }
}
