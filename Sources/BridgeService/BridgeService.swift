import Configuration
import Control
import DaemonSupport
import DatagramIO
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SDP
import STUN
import ServiceLifecycle
import WebRTC

/// `stagedoor-bridge`'s workload: the WHIP endpoint (RFC 9725) on NIO, and the media plane: one
/// UDP socket per panel session and one per matrix port on a thread of their own, with the
/// timers that retire sessions whose ICE never completed, whose consent expired or whose DTLS
/// failed.
///
/// A final class with locks, not an actor: Swift 6.3 miscompiles actor workloads returned from
/// `Daemon.run`'s generic factory (see ConfiguredSection).
public final class BridgeService: DaemonWorkload, @unchecked Sendable {
    private let lock = NIOLock()
    private var configuration: StagedoorConfiguration
    private var sessions: [String: BridgeSession] = [:]
    /// Each session's leg and creation time, for `bridge.sessions`' deadlines. The leg is only
    /// touched under its session's `lock`, as BridgeSession does.
    private var watches: [ObjectIdentifier: SessionWatch] = [:]
    private var portLinks: [String: PortLink] = [:]
    private var usedMediaPorts: Set<Int> = []
    private var nextMediaPort: Int
    private let certificate: DTLSCertificate
    private let logger: Logger
    private let group: EventLoopGroup
    private let plane: MediaPlane
    private let ready = NIOLockedValueBox(false)

    public init(configuration: StagedoorConfiguration, logger: Logger, group: EventLoopGroup? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        self.group = group ?? MultiThreadedEventLoopGroup.singleton
        certificate = try DTLSCertificate()
        plane = try MediaPlane()
        nextMediaPort = configuration.bridge.media.lowerBound
        for port in configuration.bridge.ports {
            portLinks[port.id] = try PortLink(port: port)
        }
        plane.housekeeping = { [weak self] in self?.reap() }
    }

    public var isReady: Bool { ready.withLockedValue { $0 } }

    /// The DTLS fingerprint every answer carries.
    public var fingerprint: Fingerprint { certificate.fingerprint }

    public func run() async throws {
        let whip = lock.withLock { configuration.bridge.whip }
        // HTTPS unless the configuration allowed plain HTTP (loopback only, checked when loaded).
        let tls = try Self.tlsContext(whip)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(WHIPHandler(service: self))
                }
            }
            .bind(host: whip.address, port: whip.port).get()
        logger.info(
            "WHIP listening",
            metadata: ["address": "\(whip.address):\(whip.port)", "scheme": "\(tls == nil ? "http" : "https")"])

        plane.loop.start()
        for link in lock.withLock({ Array(portLinks.values) }) { try await open(link) }

        ready.withLockedValue { $0 = true }
        try? await gracefulShutdown()
        try? await server.close()
        let (open, links) = lock.withLock { (Array(sessions.values), Array(portLinks.values)) }
        let plane = self.plane
        await plane.loop.submit {
            for session in open { plane.close(session) }
            for link in links { plane.close(link) }
        }
        plane.loop.stop()
    }

    /// Opens a port's socket on the media plane: bound at its receive address (for a multicast
    /// group: bound to the group and the group joined), marked with the port's DSCP, and with
    /// its TTL or hop limit for a multicast destination.
    private func open(_ link: PortLink) async throws {
        let plane = self.plane
        guard await plane.loop.submit({ plane.open(link) }) else {
            throw BridgeServiceError.portNotOpened(link.port.id)
        }
        let (receive, send) = (link.port.receive, link.port.send)
        logger.info(
            "port open",
            metadata: [
                "port": "\(link.port.id)", "receive": "\(receive.address):\(receive.port)",
                "send": "\(send.destination):\(send.port)", "multicast_join": "\(receive.isMulticast)",
                "dscp": "\(send.dscp)",
            ])
    }

    /// The WHIP listener's TLS context (TLS 1.2 and up) from its certificate and key; nil for
    /// plain HTTP (`transport: tcp`, which the configuration only allows on loopback).
    static func tlsContext(_ whip: Listener) throws -> NIOSSLContext? {
        guard whip.transport == .tls else { return nil }
        guard let certificatePath = whip.certificate, let keyPath = whip.privateKey else {
            throw BridgeServiceError.noCertificate
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    /// Retires sessions that are over (ICE failed, consent expired, DTLS failed or closed), or
    /// past a deadline of `bridge.sessions`. On the media plane's thread, every 100 ms, without
    /// allocating while nothing ends.
    private func reap() {
        let expiry = lock.withLock { SessionExpiry(configuration.bridge.sessions) }
        let now = DatagramLoop.monotonicNanoseconds()
        plane.housekeeping { session, alive in
            guard let watch = lock.withLock({ watches[ObjectIdentifier(session)] }) else {
                if !alive { remove(session, reason: "ended") }
                return
            }
            let (state, connected, lastConsent) = session.lock.withLock {
                (watch.leg.state(now: now), watch.leg.srtp != nil, watch.leg.ice.lastConsent)
            }
            if !alive {
                remove(session, reason: "\(state)")
            } else if let reason = expiry.verdict(
                createdAt: watch.createdAt, connected: connected, lastConsent: lastConsent, now: now)
            {
                remove(session, reason: reason.description)
            }
        }
    }

    private func remove(_ session: BridgeSession, reason: String) {
        lock.withLock {
            if sessions[session.id] === session { sessions[session.id] = nil }
            watches[ObjectIdentifier(session)] = nil
            usedMediaPorts.remove(session.localPort)
            if let link = portLinks[session.port.id], link.boundSession === session { link.bind(nil) }
        }
        let plane = self.plane
        plane.loop.execute { plane.close(session) }
        logger.info(
            "session closed",
            metadata: ["session": "\(session.id)", "panel": "\(session.panel.id)", "reason": "\(reason)"])
    }

    // MARK: WHIP

    /// One WHIP request: CORS first (a page of an origin not in `bridge.whip.allowed_origins`
    /// gets 403), then the resource. Answers to an allowed page carry its CORS headers, errors too,
    /// so that its script can read them.
    func handle(_ request: HTTPRequestHead, body: [UInt8], eventLoop: EventLoop) -> EventLoopFuture<WHIPResponse> {
        let allowed = lock.withLock { configuration.bridge.allowedOrigins }
        guard
            let cors = CrossOrigin.headers(
                origin: request.headers.first(name: "Origin"), allowed: allowed, preflight: request.method == .OPTIONS)
        else {
            return eventLoop.makeSucceededFuture(.error(.forbidden, "this origin may not use WHIP here"))
        }
        let response = route(request, body: body, eventLoop: eventLoop)
        guard !cors.isEmpty else { return response }
        return response.map { response in
            var response = response
            response.headers += cors
            return response
        }
    }

    private func route(_ request: HTTPRequestHead, body: [UInt8], eventLoop: EventLoop) -> EventLoopFuture<WHIPResponse>
    {
        let path = String(request.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let (panels, turn) = lock.withLock { (configuration.bridge.panels, configuration.turn) }
        let panel = PanelAccess.panel(authorization: request.headers.first(name: "Authorization"), panels: panels)
        let unauthorized = WHIPResponse.error(
            .unauthorized, "a valid bearer token is required",
            headers: [("WWW-Authenticate", "Bearer realm=\"stagedoor\"")])
        switch (request.method, path) {
        case (.OPTIONS, _):
            return eventLoop.makeSucceededFuture(
                WHIPResponse(
                    status: .noContent,
                    headers: [("Accept-Post", "application/sdp"), ("Allow", "OPTIONS, POST, DELETE")]))
        case (.POST, "/whip"):
            guard let panel else { return eventLoop.makeSucceededFuture(unauthorized) }
            let contentType = request.headers.first(name: "Content-Type")?.lowercased() ?? ""
            guard contentType.hasPrefix("application/sdp") else {
                return eventLoop.makeSucceededFuture(.error(.unsupportedMediaType, "the offer must be application/sdp"))
            }
            guard let offer = try? SessionDescription(parsing: body) else {
                return eventLoop.makeSucceededFuture(.error(.badRequest, "the offer is not valid SDP"))
            }
            return createSession(panel: panel, offer: offer, turn: turn, eventLoop: eventLoop)
        case (.DELETE, _) where path.hasPrefix("/whip/sessions/"):
            guard let panel else { return eventLoop.makeSucceededFuture(unauthorized) }
            let id = String(path.dropFirst("/whip/sessions/".count))
            guard let session = lock.withLock({ sessions[id] }), session.panel.id == panel.id else {
                return eventLoop.makeSucceededFuture(.error(.notFound, "no such session"))
            }
            remove(session, reason: "DELETE")
            return eventLoop.makeSucceededFuture(WHIPResponse(status: .ok))
        case (.PATCH, _):
            // ICE-lite with end-of-candidates: no trickle, no restart (RFC 9725 §4.3).
            return eventLoop.makeSucceededFuture(.error(.methodNotAllowed, "trickle ICE is not supported"))
        default:
            return eventLoop.makeSucceededFuture(.error(.notFound, "not a WHIP resource"))
        }
    }

    private func createSession(
        panel: BridgePanel, offer: SessionDescription, turn: TURNSettings, eventLoop: EventLoop
    ) -> EventLoopFuture<WHIPResponse> {
        let (media, whip, link, bounds) = lock.withLock {
            (
                configuration.bridge.media, configuration.bridge.whip, portLinks[panel.port],
                configuration.bridge.jitterBuffer
            )
        }
        guard let link else {
            return eventLoop.makeSucceededFuture(.error(.serviceUnavailable, "the panel's port is not open"))
        }
        let announced = IPAddressText.isWildcard(media.address) ? whip.address : media.address
        let ufrag = Self.randomICEString(8)
        let password = Self.randomICEString(24)
        let ssrc = UInt32.random(in: 1...UInt32.max)
        func parameters(port: Int) -> AnswerParameters {
            AnswerParameters(
                iceUsernameFragment: ufrag, icePassword: password, fingerprint: certificate.fingerprint,
                hostCandidates: [HostCandidate(address: announced, port: UInt16(port))],
                sessionID: "\(UInt32.random(in: 1...UInt32.max))", ssrc: ssrc, cname: "stagedoor-\(panel.id)",
                receiveStereo: link.port.channels == 2)
        }
        // Validate the offer before taking a socket.
        do {
            _ = try answer(to: offer, local: parameters(port: 9))
        } catch {
            let status: HTTPResponseStatus = error.isMalformedOffer ? .badRequest : .notAcceptable
            return eventLoop.makeSucceededFuture(.error(status, error.description))
        }
        guard let mediaPort = allocateMediaPort(media) else {
            return eventLoop.makeSucceededFuture(.error(.serviceUnavailable, "no free media port"))
        }
        let negotiated: NegotiatedAudio
        let session: BridgeSession
        let watch: SessionWatch
        do {
            negotiated = try answer(to: offer, local: parameters(port: mediaPort))
            let leg = try WebRTCLeg(
                parameters: .init(
                    localUsernameFragment: ufrag, localPassword: password,
                    remoteUsernameFragment: negotiated.remoteICEUsernameFragment,
                    remoteFingerprints: negotiated.remoteFingerprints,
                    role: negotiated.isDTLSClient ? .client : .server, payloadType: negotiated.payloadType, ssrc: ssrc,
                    channels: link.port.channels),
                certificate: certificate, now: DatagramLoop.monotonicNanoseconds())
            guard let local = TransportAddress(text: media.address, port: UInt16(mediaPort)) else {
                throw BridgeServiceError.badMediaAddress(media.address)
            }
            session = try BridgeSession(
                id: Self.randomHex(16), panel: panel, port: link.port, socket: local, leg: leg, portLink: link,
                jitterBuffer: bounds)
            watch = SessionWatch(leg: leg, createdAt: DatagramLoop.monotonicNanoseconds())
        } catch {
            _ = lock.withLock { usedMediaPorts.remove(mediaPort) }
            return eventLoop.makeSucceededFuture(.error(.internalServerError, "\(error)"))
        }
        let links = PanelAccess.iceServerLinks(turn: turn, panelID: panel.id)
        let plane = self.plane
        return eventLoop.makeFutureWithTask { await plane.loop.submit { plane.open(session) } }
            .map { [self] opened -> WHIPResponse in
                guard opened else {
                    _ = lock.withLock { usedMediaPorts.remove(mediaPort) }
                    return .error(.serviceUnavailable, "cannot bind media port \(mediaPort)")
                }
                // One live session per panel: a new one replaces the old (issue 5).
                let replaced: BridgeSession? = lock.withLock {
                    let old = sessions.values.first { $0.panel.id == panel.id }
                    sessions[session.id] = session
                    watches[ObjectIdentifier(session)] = watch
                    link.bind(session)
                    return old
                }
                if let replaced { remove(replaced, reason: "replaced by a new session") }
                logger.info(
                    "session created",
                    metadata: ["session": "\(session.id)", "panel": "\(panel.id)", "media_port": "\(mediaPort)"])
                var headers: [(String, String)] = [
                    ("Content-Type", "application/sdp"), ("Location", "/whip/sessions/\(session.id)"),
                ]
                for value in links { headers.append(("Link", value)) }
                return WHIPResponse(status: .created, headers: headers, body: negotiated.answer.serialized())
            }
    }

    /// The next free port of `bridge.media`, round robin so a closed session's port rests.
    private func allocateMediaPort(_ media: PortRange) -> Int? {
        lock.withLock {
            for _ in 0..<media.count {
                let candidate = nextMediaPort
                nextMediaPort = nextMediaPort >= media.upperBound ? media.lowerBound : nextMediaPort + 1
                if usedMediaPorts.insert(candidate).inserted { return candidate }
            }
            return nil
        }
    }

    /// RFC 8839 §5.4 ice-chars: ALPHA / DIGIT / "+" / "/".
    static func randomICEString(_ count: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        return String((0..<count).map { _ in alphabet.randomElement()! })
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    // MARK: Control

    public func statusDetails() async -> JSONValue {
        let (list, ports) = lock.withLock {
            (sessions.values.map { ($0, watches[ObjectIdentifier($0)]) }, Array(portLinks.keys).sorted())
        }
        let now = DatagramLoop.monotonicNanoseconds()
        return [
            "sessions": .array(
                list.map { session, watch in
                    var fields = session.snapshot().mapValues { JSONValue.string($0) }
                    fields["media_port"] = JSONValue(session.localPort)
                    if let watch { fields["age_ms"] = JSONValue(Int((now &- watch.createdAt) / 1_000_000)) }
                    return .object(fields)
                }),
            "ports": .array(ports.map { .string($0) }),
            "fingerprint": .string(certificate.fingerprint.description),
        ]
    }

    /// Gauges of the sessions and open matrix ports, for the `metrics` method.
    public func recordMetrics() async {
        let (sessionCount, portCount) = lock.withLock { (sessions.count, portLinks.count) }
        Gauge(label: "stagedoor_bridge_sessions").record(sessionCount)
        Gauge(label: "stagedoor_bridge_ports").record(portCount)
    }

    /// Reload: panels, origins, session limits, TURN links, and ports. A port that is new opens;
    /// one that is gone or changed closes, and so do the sessions of its panel (a changed port
    /// reopens with its new settings). Every other session carries on untouched: its socket,
    /// its port's socket and its jitter buffers are the same objects as before.
    public func apply(_ configuration: StagedoorConfiguration) async throws {
        let (closing, opening, stale): ([PortLink], [BridgePort], [BridgeSession]) = lock.withLock {
            let previous = Dictionary(uniqueKeysWithValues: self.configuration.bridge.ports.map { ($0.id, $0) })
            let next = Dictionary(uniqueKeysWithValues: configuration.bridge.ports.map { ($0.id, $0) })
            let closing = self.configuration.bridge.ports.filter { next[$0.id] != $0 }.compactMap {
                portLinks.removeValue(forKey: $0.id)
            }
            let opening = configuration.bridge.ports.filter { previous[$0.id] != $0 }
            let closedIDs = Set(closing.map(\.port.id))
            self.configuration.bridge.ports = configuration.bridge.ports
            self.configuration.bridge.panels = configuration.bridge.panels
            self.configuration.bridge.allowedOrigins = configuration.bridge.allowedOrigins
            self.configuration.bridge.sessions = configuration.bridge.sessions
            self.configuration.bridge.jitterBuffer = configuration.bridge.jitterBuffer
            self.configuration.turn = configuration.turn
            // Sessions of panels that are gone, whose token or port changed, or whose port closes.
            let stale = sessions.values.filter { session in
                !configuration.bridge.panels.contains(session.panel) || closedIDs.contains(session.port.id)
            }
            return (closing, opening, stale)
        }
        for session in stale { remove(session, reason: "panel or port removed or changed by reload") }
        let plane = self.plane
        await plane.loop.submit { for link in closing { plane.close(link) } }
        for link in closing { logger.info("port closed", metadata: ["port": "\(link.port.id)"]) }
        var failures: [String] = []
        for port in opening {
            do {
                let link = try PortLink(port: port)
                try await open(link)
                lock.withLock { portLinks[port.id] = link }
            } catch {
                logger.error("port cannot open", metadata: ["port": "\(port.id)", "error": "\(error)"])
                failures.append("\(port.id): \(error)")
            }
        }
        if !failures.isEmpty { throw BridgeServiceError.portsNotOpened(failures) }
    }
}

/// What the reaper needs of a session beyond what it reports: its leg and when it began.
/// Unchecked: the leg is only used under its session's `lock`.
struct SessionWatch: @unchecked Sendable {
    let leg: WebRTCLeg
    let createdAt: UInt64
}

/// Why the bridge cannot start.
enum BridgeServiceError: Error, CustomStringConvertible {
    case noCertificate
    /// A port's socket could not be bound at its receive address, configured or its group joined.
    case portNotOpened(String)
    /// A port address that is not an IP address (the configuration checks, so not expected).
    case badPortAddress(String)
    case badMediaAddress(String)
    /// A reload's new or changed ports whose sockets could not be bound (the rest applied).
    case portsNotOpened([String])

    var description: String {
        switch self {
        case .noCertificate: "bridge.whip uses TLS but has no certificate and private_key"
        case .portNotOpened(let port):
            "port \(port): cannot bind its receive address, set its DSCP or TTL, or join its group"
        case .badPortAddress(let port): "port \(port): its addresses must be IP addresses"
        case .badMediaAddress(let address): "bridge.media.address \(address) is not an IP address"
        case .portsNotOpened(let ports): "ports not opened: \(ports.joined(separator: "; "))"
        }
    }
}
