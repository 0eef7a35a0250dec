import SIP

/// The transaction-stateful SIP edge proxy of RFC 3261 §16 between clients on the Internet and trunks on
/// the LAN, as a pure state machine: no sockets and no clock. The driver hands it every datagram or
/// framed stream message with the flow it arrived on (`receive(_:on:now:)`), calls
/// `handleTimeout(now:)` when `nextDeadline` passes (or on a regular tick), reports connections
/// (`flowOpened`, `flowClosed`) and failed sends, and performs the returned `ProxyAction`s in order.
///
/// Routing rules (the edge policy):
/// - A request from a configured trunk server address (same IP; for UDP also the same port) is trusted:
///   it goes over the flow its flow token names (`430 Flow Failed` when that flow is gone), else to its
///   Route or Request-URI.
/// - A request from anyone else only ever goes to a trunk server: REGISTER and requests for this proxy's
///   addresses or domains go to the default trunk group (REGISTER with a `Path` holding the flow token,
///   RFC 3327 and RFC 5626); in-dialog requests may name a trunk server directly. Anything else is
///   refused with 403 (`ForeignDomainPolicy.reject`), so the proxy is never an open relay.
/// - Responses go back the way their request came, to the source address and port (RFC 3581 symmetric
///   response routing for every request, like Kamailio's `force_rport`).
public struct EdgeProxy: Sendable {
    public private(set) var configuration: ProxyConfiguration
    private var tokens: FlowTokenCodec
    private var parser: MessageParser
    private var limiter: SourceLimiter
    private var connections: ConnectionLimiter
    private var liveFlows: Set<Flow> = []
    private var healthTable: [[ServerHealth]]
    private var servers = TransactionTable<ServerEntry>()
    private var clients = TransactionTable<ClientEntry>()
    private var events: [ProxyEvent] = []
    private var probeSequence: UInt64 = 0
    private let sessionDescriptions: any SessionDescriptionHandler
    public private(set) var counters = ProxyCounters()
    /// The flow tokens made so far (an HMAC each), by flow; emptied when it reaches `tokenCacheLimit`.
    private var tokenCache: [Flow: String] = [:]
    /// The flows of the valid tokens read so far (an HMAC check each), by token; emptied like `tokenCache`.
    private var tokenFlowCache: [String: Flow] = [:]
    static let tokenCacheLimit = 4096
    /// Each trunk server's host parsed, by group and server (nil when it does not parse as a host).
    private var trunkHosts: [[SIPHost?]] = []
    /// The configured domains that parse as hosts.
    private var domainHosts: [SIPHost] = []

    /// The prefix of every branch this proxy creates: a Via with it and one of our sent-by addresses is ours.
    static let branchPrefix = Via.magicCookie + "sd"

    public init(
        configuration: ProxyConfiguration,
        sessionDescriptions: any SessionDescriptionHandler = PassThroughSessionDescriptions()
    ) {
        self.configuration = configuration
        self.tokens = FlowTokenCodec(secret: configuration.flowTokenSecret)
        self.parser = MessageParser(limits: .init(maxMessageSize: configuration.maxMessageSize))
        self.limiter = SourceLimiter(
            requestsPerSecond: configuration.requestsPerSecond, banDuration: configuration.banDuration)
        self.connections = ConnectionLimiter(perSource: configuration.connectionsPerSource)
        self.healthTable = configuration.trunkGroups.map { Array(repeating: ServerHealth(), count: $0.servers.count) }
        self.sessionDescriptions = sessionDescriptions
        limiter.exempt = Set(configuration.trunkGroups.flatMap { $0.servers.map(\.host) })
        trunkHosts = Self.parsedHosts(configuration)
        domainHosts = configuration.domains.compactMap { SIPHost($0) }
    }

    private static func parsedHosts(_ configuration: ProxyConfiguration) -> [[SIPHost?]] {
        configuration.trunkGroups.map { group in group.servers.map { SIPHost($0.host) } }
    }

    // MARK: - Driver interface

    /// Applies a new configuration (reload): transactions and flows carry on; the health of servers that
    /// are still configured is kept.
    public mutating func update(_ configuration: ProxyConfiguration) {
        var newHealth = configuration.trunkGroups.map { Array(repeating: ServerHealth(), count: $0.servers.count) }
        for (groupIndex, group) in configuration.trunkGroups.enumerated() {
            for (serverIndex, server) in group.servers.enumerated() {
                for (oldGroup, old) in self.configuration.trunkGroups.enumerated() {
                    if let oldIndex = old.servers.firstIndex(where: {
                        $0.host == server.host && $0.port == server.port && $0.transport == server.transport
                    }) {
                        newHealth[groupIndex][serverIndex] = healthTable[oldGroup][oldIndex]
                    }
                }
            }
        }
        if configuration.flowTokenSecret != self.configuration.flowTokenSecret {
            tokens = FlowTokenCodec(secret: configuration.flowTokenSecret)
            tokenCache.removeAll()
            tokenFlowCache.removeAll()
        }
        trunkHosts = Self.parsedHosts(configuration)
        domainHosts = configuration.domains.compactMap { SIPHost($0) }
        healthTable = newHealth
        parser = MessageParser(limits: .init(maxMessageSize: configuration.maxMessageSize))
        limiter.requestsPerSecond = configuration.requestsPerSecond
        limiter.banDuration = configuration.banDuration
        limiter.exempt = Set(configuration.trunkGroups.flatMap { $0.servers.map(\.host) })
        connections.perSource = configuration.connectionsPerSource
        self.configuration = configuration
    }

    /// A message (a datagram, a framed stream message or a WebSocket message) arrived on `flow`.
    public mutating func receive(_ bytes: [UInt8], on flow: Flow, now: TransactionInstant) -> [ProxyAction] {
        // Keep-alive CRLFs on UDP (RFC 5626 §4.4.1 uses STUN there, but clients send CRLF too): ignore.
        if bytes.allSatisfy({ $0 == 0x0D || $0 == 0x0A || $0 == 0x20 }) { return [] }
        let trunk = trunkServer(for: flow)
        if trunk == nil, !limiter.admit(flow.remote.host, now: now) {
            counters.rateLimited += 1
            if limiter.bans > bansReported {
                bansReported = limiter.bans
                events.append(.sourceBanned(flow.remote.host))
            }
            return []
        }
        switch parser.parse(bytes) {
        case .success(.request(let request)):
            counters.requestsReceived += 1
            return handleRequest(request, on: flow, fromTrunk: trunk != nil, now: now)
        case .success(.response(let response)):
            counters.responsesReceived += 1
            return handleResponse(response, now: now)
        case .failure(let failure):
            counters.malformed += 1
            guard let response = failure.makeResponse(toTag: localTag(for: failure.headers)) else {
                counters.dropped += 1
                return []
            }
            counters.localResponses[response.statusCode.rawValue, default: 0] += 1
            return [.send(.response(response), to: .flow(flow), transaction: nil)]
        }
    }

    private var bansReported = 0

    /// A connection (TCP, TLS, WebSocket) was accepted or opened. Returns false when the source is over
    /// its connection limit: the driver closes it.
    public mutating func flowOpened(_ flow: Flow) -> Bool {
        if trunkServer(for: flow) == nil, !connections.open(from: flow.remote.host) {
            counters.connectionsRefused += 1
            return false
        }
        if trunkServer(for: flow) != nil { _ = connections.open(from: flow.remote.host) }
        liveFlows.insert(flow)
        return true
    }

    /// A connection closed; requests for its flow token now get 430.
    public mutating func flowClosed(_ flow: Flow) {
        guard liveFlows.remove(flow) != nil else { return }
        connections.close(from: flow.remote.host)
    }

    /// The driver could not send what a client transaction asked for (§17.1.4).
    public mutating func sendFailed(transaction key: TransactionKey, now: TransactionInstant) -> [ProxyAction] {
        guard let entry = clients[key] else { return [] }
        let actions = entry.transaction.handle(transportError: (), now: now)
        clients[key] = entry
        return processClient(actions, key: key, now: now)
    }

    /// When `handleTimeout(now:)` must next run; nil when nothing waits.
    public var nextDeadline: TransactionInstant? {
        var next: TransactionInstant?
        func consider(_ deadline: TransactionInstant?) {
            guard let deadline else { return }
            if next == nil || deadline < next! { next = deadline }
        }
        consider(servers.nextDeadline)
        consider(clients.nextDeadline)
        if configuration.probing.interval > .zero {
            for group in healthTable {
                for server in group where !server.probing { consider(server.nextProbe ?? .init(nanoseconds: 0)) }
            }
        }
        return next
    }

    /// Fires the transaction timers due at `now` and sends the OPTIONS probes that are due.
    public mutating func handleTimeout(now: TransactionInstant) -> [ProxyAction] {
        var actions: [ProxyAction] = []
        // In place: one lookup per due transaction, and its new deadline queued as a write does.
        for key in servers.popDue(now) {
            guard let result = servers.modify(key, { $0.transaction.handleTimeout(now: now) }) else { continue }
            actions += processServer(result, key: key, now: now)
        }
        for key in clients.popDue(now) {
            guard let result = clients.modify(key, { $0.transaction.handleTimeout(now: now) }) else { continue }
            actions += processClient(result, key: key, now: now)
        }
        actions += startDueProbes(now: now)
        return actions
    }

    /// Events to log since the last call.
    public mutating func drainEvents() -> [ProxyEvent] {
        defer { events.removeAll() }
        return events
    }

    public func snapshot(now: TransactionInstant) -> ProxySnapshot {
        var trunks: [ProxySnapshot.Trunk] = []
        for (groupIndex, group) in configuration.trunkGroups.enumerated() {
            for (serverIndex, server) in group.servers.enumerated() {
                trunks.append(
                    .init(group: group.name, server: server, state: healthTable[groupIndex][serverIndex].state))
            }
        }
        var counters = self.counters
        counters.connectionsRefused = connections.refused
        return ProxySnapshot(
            serverTransactions: servers.count, clientTransactions: clients.count, flows: liveFlows.count,
            flowsByTransport: Dictionary(grouping: liveFlows, by: \.transport).mapValues(\.count), trunks: trunks,
            bannedSources: limiter.bannedSources(now: now), counters: counters)
    }

    /// The health of a trunk server (for tests and status).
    public func health(of id: TrunkServerID) -> ServerHealth { healthTable[id.group][id.server] }

    /// The flow token this proxy would write for `flow` (for tests and diagnostics).
    public func flowToken(for flow: Flow) -> String { tokenCache[flow] ?? tokens.encode(flow) }

    /// The token for `flow`, from the cache when it was made before: every dialog-creating request and
    /// REGISTER from a client carries its flow's token, and an HMAC per request is most of their cost.
    private mutating func token(for flow: Flow) -> String {
        if let token = tokenCache[flow] { return token }
        if tokenCache.count >= Self.tokenCacheLimit { tokenCache.removeAll(keepingCapacity: true) }
        let token = tokens.encode(flow)
        tokenCache[flow] = token
        return token
    }

    /// The flow `token` names when it is valid, from the cache when it was read before: every in-dialog
    /// request through the edge carries one in its Route. Invalid tokens are checked each time.
    private mutating func decodedToken(_ token: String) -> Flow? {
        if let flow = tokenFlowCache[token] { return flow }
        guard let flow = tokens.decode(token) else { return nil }
        if tokenFlowCache.count >= Self.tokenCacheLimit { tokenFlowCache.removeAll(keepingCapacity: true) }
        tokenFlowCache[token] = flow
        return flow
    }

    // MARK: - Requests

    private mutating func handleRequest(
        _ received: SIPRequest, on flow: Flow, fromTrunk: Bool, now: TransactionInstant
    ) -> [ProxyAction] {
        var request = received
        // §18.2.1 and RFC 3581 §4: note where the request really came from.
        guard var via = try? request.headers.topVia() else {
            counters.dropped += 1
            return []
        }
        if via.rport != nil {
            via.rport = .port(flow.remote.port)
            via.received = flow.remote.host
        } else if !(SIPHost(flow.remote.host).map { via.host.isEquivalent(to: $0) } ?? false) {
            via.received = flow.remote.host
        }
        request.headers.replaceTopVia(with: via)
        guard let key = TransactionKey.server(for: request, topVia: via) else {
            counters.dropped += 1
            return []
        }
        if request.method == .cancel { return handleCancel(request, key: key, on: flow, now: now) }
        if servers.contains(key) {
            // A retransmission, or the ACK of a 300-699 (§17.2.1): the server transaction absorbs it.
            counters.retransmissionsAbsorbed += 1
            let entry = servers[key]!
            let result = entry.transaction.handle(request: request, now: now)
            servers[key] = entry
            return processServer(result, key: key, now: now)
        }
        if configuration.maxTransactions > 0, servers.count >= configuration.maxTransactions,
            request.method != .ack, (try? request.headers.toTag()) == nil
        {
            return overloaded(request, on: flow)
        }
        if request.method == .ack {
            return forwardStateless(request, received: received, incomingVia: via, on: flow, fromTrunk: fromTrunk)
        }
        // A new server transaction (§16.2); INVITE gets its 100 Trying at once.
        let isReliable = flow.transport.isReliable
        var transaction: ServerTransaction =
            request.method == .invite
            ? .invite(
                InviteServerTransaction(request: request, reliableTransport: isReliable, timers: configuration.timers))
            : .nonInvite(
                NonInviteServerTransaction(
                    request: request, reliableTransport: isReliable, timers: configuration.timers))
        var actions = processServerActions(transaction.start(now: now), flow: flow)
        let entry = ServerEntry(transaction: transaction, flow: flow, request: request)
        let decision = decide(request, received: received, incomingVia: via, on: flow, fromTrunk: fromTrunk)
        if case .forward(let plan) = decision { entry.plan = plan }
        servers[key] = entry

        switch decision {
        case .respond(let status, let reason, let headers):
            actions += respond(key: key, status: status, reason: reason, headers: headers, now: now)
        case .forward:
            actions += startAttempt(serverKey: key, now: now)
        }
        return actions
    }

    /// Push-back when the transaction table is full (RFC 3261 §21.5.4): a 503 with Retry-After, sent
    /// without a transaction, so that new work costs no memory until the table drains (a UDP
    /// transaction lingers 32 s after its final response).
    private mutating func overloaded(_ request: SIPRequest, on flow: Flow) -> [ProxyAction] {
        counters.overloaded += 1
        counters.localResponses[SIPStatusCode.serviceUnavailable.rawValue, default: 0] += 1
        var response = SIPResponse(
            replyingTo: request, statusCode: .serviceUnavailable, toTag: localTag(for: request.headers))
        response.headers.append(.retryAfter, "5")
        return [.send(.response(response), to: .flow(flow), transaction: nil)]
    }

    /// Sends `status` through the server transaction `key`.
    private mutating func respond(
        key: TransactionKey, status: SIPStatusCode, reason: String? = nil, headers: SIPHeaders = [],
        now: TransactionInstant
    ) -> [ProxyAction] {
        guard let entry = servers[key] else { return [] }
        var response = SIPResponse(
            replyingTo: entry.request, statusCode: status, reasonPhrase: reason,
            toTag: localTag(for: entry.request.headers))
        response.headers.fields += headers.fields
        counters.localResponses[status.rawValue, default: 0] += 1
        entry.finalSent = entry.finalSent || status.isFinal
        let result = entry.transaction.handle(respond: response, now: now)
        if entry.finalSent { entry.release() }
        servers[key] = entry
        return processServer(result, key: key, now: now)
    }

    /// §16.3 request validation, §16.4 route processing and the edge policy: where the request goes.
    /// `stamped` is the request with its top Via stamped (`incomingVia`); `received` is the request as
    /// parsed, whose headers still hold the values the parser built (From, To, the Via list), read here
    /// instead of parsing `stamped`'s again: the stamp changed only the top Via's `received` and `rport`.
    private mutating func decide(
        _ stamped: SIPRequest, received: SIPRequest, incomingVia: Via, on flow: Flow, fromTrunk: Bool
    ) -> Decision {
        var request = stamped
        // §16.3 step 2: URI scheme.
        guard let requestURI = request.uri.sipURI else { return .respond(.unsupportedURIScheme, nil) }
        // §16.3 step 3: Max-Forwards (OPTIONS for us is answered below regardless).
        let outcome = request.headers.decrementMaxForwards()
        // §16.3 step 4: loop detection, with the loop part of our branch (§16.6 step 8). The hash covers
        // nothing the stamp changed.
        let loopHash = Self.loopHash(of: received)
        if mayHaveLooped(received, incomingVia: incomingVia, loopHash: loopHash),
            let vias = try? stamped.headers.vias()
        {
            for via in vias where isOurSentBy(via) {
                if via.branch?.hasPrefix(Self.branchPrefix + loopHash + ".") == true {
                    return .respond(.loopDetected, nil)
                }
            }
        }
        // §16.3 step 5: Proxy-Require; this proxy supports no extension that needs it.
        if let required = try? request.headers.proxyRequire(), !required.isEmpty {
            // The response lists what was not understood (§20.40).
            var unsupported = SIPHeaders()
            unsupported.append(.unsupported, required.joined(separator: ", "))
            return .respond(.badExtension, "Bad Extension (\(required.joined(separator: ", ")))", unsupported)
        }
        // §16.4: pop the Route entries that name us, keeping any flow token they carry.
        var tokenFlows: [Flow] = []
        var badToken = false
        while let top = (try? request.headers.routes())?.first, let uri = top.sipURI, isOurs(uri, strict: true) {
            _ = try? request.headers.popRoute()
            if let user = uri.user {
                if let token = decodedToken(user) { tokenFlows.append(token) } else { badToken = true }
            }
        }
        let uriIsOurs = isOurs(requestURI, strict: false)
        if uriIsOurs, let user = requestURI.user, let token = decodedToken(user) { tokenFlows.append(token) }
        let remainingRoute = (try? request.headers.routes())?.first?.sipURI
        if outcome == .exhausted {
            if request.method == .options, uriIsOurs, remainingRoute == nil { return .respond(.ok, nil) }
            return .respond(.tooManyHops, nil)
        }
        let createsDialogs: Bool
        switch request.method {
        case .invite, .subscribe, .refer, .notify: createsDialogs = true
        default: createsDialogs = false
        }
        // To is as received: only Max-Forwards, Route and the top Via changed.
        let isDialogCreating = createsDialogs && ((try? received.headers.toTag()) == nil)

        if fromTrunk {
            if badToken { return .respond(.forbidden, "Forbidden (invalid flow token)") }
            if let target = tokenFlows.first(where: { $0 != flow }) {
                // RFC 5626 §5.3: the flow the token names, or 430 when it is gone.
                guard target.listener < configuration.listeners.count,
                    target.transport == .udp || liveFlows.contains(target)
                else { return .respond(SIPStatusCode(rawValue: 430)!, nil) }
                let hop = NextHop(destination: .flow(target), listener: target.listener, trunk: nil)
                return .forward(
                    ForwardPlan(
                        request: request, hops: [hop], recordRoute: isDialogCreating, path: false,
                        outsideFlow: target, direction: .towardOutside, loopHash: loopHash, incomingVia: incomingVia,
                        arrivalListener: flow.listener))
            }
            let target: SIPURI
            if let remainingRoute {
                target = remainingRoute
            } else if uriIsOurs {
                if request.method == .options { return .respond(.ok, nil) }
                return .respond(.notFound, nil)
            } else {
                target = requestURI
            }
            guard let hop = nextHop(for: target, preferring: flow.listener) else {
                return .respond(.temporarilyUnavailable, "Temporarily Unavailable (no transport for the target)")
            }
            return .forward(
                ForwardPlan(
                    request: request, hops: [hop], recordRoute: isDialogCreating, path: false, outsideFlow: nil,
                    direction: .towardOutside, loopHash: loopHash, incomingVia: incomingVia,
                    arrivalListener: flow.listener))
        }

        // From outside: only ever toward a trunk.
        var hops: [NextHop]
        if let remainingRoute {
            guard let hop = trunkHop(for: remainingRoute, preferring: flow.listener) else {
                counters.relayRefused += 1
                return .respond(.forbidden, "Forbidden (not a trunk)")
            }
            hops = [hop]
        } else if request.method == .register || uriIsOurs {
            if request.method == .options, uriIsOurs, requestURI.user == nil { return .respond(.ok, nil) }
            hops = defaultTrunkHops(for: request, preferring: flow.listener)
        } else if let hop = trunkHop(for: requestURI, preferring: flow.listener) {
            hops = [hop]
        } else if configuration.foreignDomains == .trunk {
            hops = defaultTrunkHops(for: request, preferring: flow.listener)
        } else {
            counters.relayRefused += 1
            return .respond(.forbidden, "Forbidden (relaying denied)")
        }
        if request.method == .register, !uriIsOurs, configuration.foreignDomains == .reject,
            trunkHop(for: requestURI, preferring: flow.listener) == nil
        {
            counters.relayRefused += 1
            return .respond(.forbidden, "Forbidden (relaying denied)")
        }
        guard !hops.isEmpty else { return .respond(.serviceUnavailable, "Service Unavailable (no trunk)") }
        return .forward(
            ForwardPlan(
                request: request, hops: hops, recordRoute: isDialogCreating, path: request.method == .register,
                outsideFlow: flow, direction: .towardTrunk, loopHash: loopHash, incomingVia: incomingVia,
                arrivalListener: flow.listener))
    }

    /// Sends the request of server transaction `serverKey` to its next candidate (§16.6), as a new client
    /// transaction; answers the best response so far when none is left.
    private mutating func startAttempt(serverKey: TransactionKey, now: TransactionInstant) -> [ProxyAction] {
        guard let entry = servers[serverKey], let plan = entry.plan else { return [] }
        guard !entry.cancelled, entry.attempt < plan.hops.count else {
            servers[serverKey] = entry
            return finish(serverKey: serverKey, now: now)
        }
        let hop = plan.hops[entry.attempt]
        if entry.attempt > 0 { counters.failovers += 1 }
        let branch = Self.branch(loopHash: plan.loopHash, incomingVia: plan.incomingVia, attempt: entry.attempt)
        let request = forwarded(plan, hop: hop, branch: branch)
        entry.attempt += 1
        // The key `TransactionKey.client(for: request)` would read back from the Via just written.
        let clientKey = TransactionKey.branch(branch: branch, sentBy: "", method: request.method.name)
        let reliable = transport(of: hop).isReliable
        var transaction: ClientTransaction =
            request.method == .invite
            ? .invite(
                InviteClientTransaction(request: request, reliableTransport: reliable, timers: configuration.timers))
            : .nonInvite(
                NonInviteClientTransaction(request: request, reliableTransport: reliable, timers: configuration.timers))
        let result = transaction.start(now: now)
        entry.activeClient = clientKey
        servers[serverKey] = entry
        clients[clientKey] = ClientEntry(
            transaction: transaction, destination: hop.destination, purpose: .forward(serverKey), trunk: hop.trunk)
        counters.requestsForwarded += 1
        return processClient(result, key: clientKey, now: now)
    }

    /// The request as sent to `hop` (§16.6 steps 4-8): Record-Route (double when the listener changes,
    /// RFC 5658), Path with the flow token for a REGISTER from outside, our Via with its branch, and the
    /// body through the media hook.
    private mutating func forwarded(_ plan: ForwardPlan, hop: NextHop, branch: String) -> SIPRequest {
        var request = plan.request
        let inbound = plan.direction == .towardTrunk ? plan.outsideFlow?.listener : nil
        // The token (an HMAC) only when something carries it: not for BYE, ACK and other in-dialog requests.
        let outsideToken = plan.recordRoute || plan.path ? plan.outsideFlow.map { token(for: $0) } : nil
        if plan.recordRoute {
            let inboundListener = inbound ?? plan.arrivalListener
            if inboundListener != hop.listener {
                // The entry of the inbound side first, then the outbound one on top (RFC 5658 §3.2).
                let inboundToken = plan.direction == .towardTrunk ? outsideToken : nil
                let outboundToken = plan.direction == .towardOutside ? outsideToken : nil
                request.headers.prependRecordRoute(NameAddress(uri: ownURI(inboundListener, user: inboundToken)))
                request.headers.prependRecordRoute(NameAddress(uri: ownURI(hop.listener, user: outboundToken)))
            } else {
                request.headers.prependRecordRoute(NameAddress(uri: ownURI(hop.listener, user: outsideToken)))
            }
        }
        if plan.path, let outsideToken {
            // RFC 3327 §5.1 and RFC 5626 §5.1: Path names us, with the flow token and `ob`.
            request.headers.prependPath(NameAddress(uri: ownURI(hop.listener, user: outsideToken, outbound: true)))
            let supported = (try? request.headers.supported()) ?? []
            if !supported.contains("path") { request.headers.append(.supported, "path") }
        }
        let listener = configuration.listeners[hop.listener]
        let via = Via(
            transport: listener.transport.viaName, host: listener.sipHost, port: listener.port,
            branch: branch, parameters: [GenericParameter("rport")])
        request.headers.prependVia(via)
        if !request.body.isEmpty {
            request.body = sessionDescriptions.forwarding(
                body: request.body, contentType: try? request.headers.contentType(),
                callID: request.headers.first(.callID) ?? "", direction: plan.direction)
        }
        return request
    }

    /// ACKs for 2xx (and other requests without a transaction) are forwarded statelessly (§16.11) with a
    /// branch derived from theirs, so a retransmission takes the same branch. `received` is as in `decide`.
    private mutating func forwardStateless(
        _ request: SIPRequest, received: SIPRequest, incomingVia: Via, on flow: Flow, fromTrunk: Bool
    ) -> [ProxyAction] {
        guard
            case .forward(let plan) = decide(
                request, received: received, incomingVia: incomingVia, on: flow, fromTrunk: fromTrunk),
            let hop = plan.hops.first
        else {
            counters.dropped += 1
            return []
        }
        var stateless = plan
        stateless.recordRoute = false
        stateless.path = false
        counters.requestsForwarded += 1
        let branch = Self.branch(loopHash: plan.loopHash, incomingVia: plan.incomingVia, attempt: 0)
        return [.send(.request(forwarded(stateless, hop: hop, branch: branch)), to: hop.destination, transaction: nil)]
    }

    /// CANCEL (§16.10): answered 200 here, then sent to the branch once it has had a provisional response.
    private mutating func handleCancel(
        _ request: SIPRequest, key: TransactionKey, on flow: Flow, now: TransactionInstant
    ) -> [ProxyAction] {
        if servers.contains(key) {
            counters.retransmissionsAbsorbed += 1
            let entry = servers[key]!
            let result = entry.transaction.handle(request: request, now: now)
            servers[key] = entry
            return processServer(result, key: key, now: now)
        }
        var transaction = ServerTransaction.nonInvite(
            NonInviteServerTransaction(
                request: request, reliableTransport: flow.transport.isReliable, timers: configuration.timers))
        var actions = processServerActions(transaction.start(now: now), flow: flow)
        servers[key] = ServerEntry(transaction: transaction, flow: flow, request: request)
        let inviteKey = key.invite
        guard let invite = servers[inviteKey], case .invite = invite.transaction else {
            return actions + respond(key: key, status: .callOrTransactionDoesNotExist, now: now)
        }
        actions += respond(key: key, status: .ok, now: now)
        guard !invite.finalSent, !invite.cancelled else { return actions }
        invite.cancelled = true
        servers[inviteKey] = invite
        guard let clientKey = invite.activeClient, let client = clients[clientKey] else {
            return actions + respond(key: inviteKey, status: .requestTerminated, now: now)
        }
        if client.transaction.receivedProvisional {
            actions += sendCancel(for: clientKey, now: now)
        } else {
            client.cancelPending = true
            clients[clientKey] = client
        }
        return actions
    }

    /// Sends a CANCEL for the INVITE client transaction `clientKey` (§9.1) as its own client transaction.
    private mutating func sendCancel(for clientKey: TransactionKey, now: TransactionInstant) -> [ProxyAction] {
        guard let client = clients[clientKey], case .invite(let invite) = client.transaction else { return [] }
        let cancel = invite.request.makeCancel()
        guard let cancelKey = TransactionKey.client(for: cancel), !clients.contains(cancelKey) else { return [] }
        var transaction = ClientTransaction.nonInvite(
            NonInviteClientTransaction(
                request: cancel, reliableTransport: invite.isReliable, timers: configuration.timers))
        let result = transaction.start(now: now)
        clients[cancelKey] = ClientEntry(
            transaction: transaction, destination: client.destination, purpose: .cancel, trunk: nil)
        return processClient(result, key: cancelKey, now: now)
    }

    // MARK: - Responses

    private mutating func handleResponse(_ response: SIPResponse, now: TransactionInstant) -> [ProxyAction] {
        if let key = TransactionKey.client(for: response),
            let result = clients.modify(key, { $0.transaction.handle(response: response, now: now) })
        {
            return processClient(result, key: key, now: now)
        }
        // §16.11-style stateless forwarding: a 2xx retransmission after the client transaction ended.
        guard let top = try? response.headers.topVia(), isOurSentBy(top),
            top.branch?.hasPrefix(Self.branchPrefix) == true
        else {
            counters.dropped += 1
            return []
        }
        var forwarded = response
        forwarded.headers.removeTopVia()
        guard let next = try? forwarded.headers.topVia(), let destination = destination(forResponseVia: next) else {
            counters.dropped += 1
            return []
        }
        counters.responsesForwarded += 1
        return [.send(.response(forwarded), to: destination, transaction: nil)]
    }

    /// A response (or a timeout or transport failure, as a synthetic 408 or 503) of a forwarding branch
    /// (§16.7).
    private mutating func branchResponse(
        _ response: SIPResponse, clientKey: TransactionKey, serverKey: TransactionKey, trunk: TrunkServerID?,
        now: TransactionInstant
    ) -> [ProxyAction] {
        guard let entry = servers[serverKey] else { return [] }
        let code = response.statusCode
        if let trunk, code.isFinal {
            // Calls count toward health passively: a timeout or 5xx is a failure, anything else a success.
            recordHealth(trunk, success: !(code == .requestTimeout || code.rawValue >= 500), probe: false)
        }
        if code == .trying { return [] }  // §16.7 step 5: 100 is not forwarded.
        var upstream = response
        upstream.headers.removeTopVia()
        if !upstream.body.isEmpty {
            let direction: EdgeDirection = entry.planDirection == .towardTrunk ? .towardOutside : .towardTrunk
            upstream.body = sessionDescriptions.forwarding(
                body: upstream.body, contentType: try? upstream.headers.contentType(),
                callID: upstream.headers.first(.callID) ?? "", direction: direction)
        }
        if code.isProvisional {
            entry.forwardedProvisional = true
            servers[serverKey] = entry
            var actions = forwardUpstream(upstream, serverKey: serverKey, now: now)
            if clients[clientKey]?.cancelPending == true { actions += sendCancel(for: clientKey, now: now) }
            return actions
        }
        if code.isSuccess {
            entry.finalSent = true
            servers[serverKey] = entry
            return forwardUpstream(upstream, serverKey: serverKey, now: now)
        }
        // 300-699: keep the best (§16.7 step 6); fail over on timeout, 408 or 5xx before any provisional.
        if entry.best == nil || Self.isBetter(code, than: entry.best!.statusCode) { entry.best = upstream }
        entry.activeClient = nil
        servers[serverKey] = entry
        let failover = (code == .requestTimeout || (500...599).contains(code.rawValue)) && !entry.forwardedProvisional
        if failover, !entry.cancelled, let plan = entry.plan, entry.attempt < plan.hops.count {
            return startAttempt(serverKey: serverKey, now: now)
        }
        return finish(serverKey: serverKey, now: now)
    }

    /// Answers the server transaction with the best response collected, or 408/487 when there is none.
    private mutating func finish(serverKey: TransactionKey, now: TransactionInstant) -> [ProxyAction] {
        guard let entry = servers[serverKey], !entry.finalSent else { return [] }
        guard var best = entry.best else {
            return respond(key: serverKey, status: entry.cancelled ? .requestTerminated : .requestTimeout, now: now)
        }
        if best.statusCode == .serviceUnavailable {
            // §16.7 step 6: a 503 would make the client think this proxy is unavailable.
            best.statusCode = .serverInternalError
            best.reasonPhrase = SIPStatusCode.serverInternalError.defaultReasonPhrase
        }
        entry.finalSent = true
        servers[serverKey] = entry
        return forwardUpstream(best, serverKey: serverKey, now: now)
    }

    private mutating func forwardUpstream(
        _ response: SIPResponse, serverKey: TransactionKey, now: TransactionInstant
    ) -> [ProxyAction] {
        guard
            let result = servers.modify(
                serverKey,
                { entry in
                    defer { if entry.finalSent { entry.release() } }
                    return entry.transaction.handle(respond: response, now: now)
                })
        else { return [] }
        counters.responsesForwarded += 1
        return processServer(result, key: serverKey, now: now)
    }

    /// §16.7 step 6: 6xx beats everything; otherwise the lowest class wins (4xx before 5xx), first come
    /// within a class.
    static func isBetter(_ code: SIPStatusCode, than other: SIPStatusCode) -> Bool {
        let rank = { (code: SIPStatusCode) -> Int in code.rawValue >= 600 ? 0 : Int(code.rawValue / 100) }
        return rank(code) < rank(other)
    }

    // MARK: - Transaction actions

    private func processServerActions(_ actions: [TransactionAction], flow: Flow) -> [ProxyAction] {
        actions.compactMap { action in
            if case .sendResponse(let response) = action {
                return .send(.response(response), to: .flow(flow), transaction: nil)
            }
            return nil
        }
    }

    private mutating func processServer(
        _ actions: [TransactionAction], key: TransactionKey, now: TransactionInstant
    ) -> [ProxyAction] {
        guard let flow = servers.peek(key, { $0.flow }) else { return [] }
        var result: [ProxyAction] = []
        for action in actions {
            switch action {
            case .sendResponse(let response):
                result.append(.send(.response(response), to: .flow(flow), transaction: nil))
            case .deliverRequest(let ack):
                // RFC 6026: an ACK for a 2xx matched the INVITE (RFC 2543 peers): forward it end to end.
                if let via = try? ack.headers.topVia() {
                    result += forwardStateless(
                        ack, received: ack, incomingVia: via, on: flow, fromTrunk: trunkServer(for: flow) != nil)
                }
            case .terminated:
                servers[key] = nil
            default:
                break
            }
        }
        return result
    }

    private mutating func processClient(
        _ actions: [TransactionAction], key: TransactionKey, now: TransactionInstant
    ) -> [ProxyAction] {
        guard let entry = clients[key] else { return [] }
        var result: [ProxyAction] = []
        for action in actions {
            switch action {
            case .sendRequest(let request):
                result.append(.send(.request(request), to: entry.destination, transaction: key))
            case .deliverResponse(let response):
                result += clientOutcome(entry, key: key, response: response, now: now)
            case .timeout(.c) where entry.transaction.receivedProvisional:
                // §16.8: timer C after a provisional response: CANCEL the branch; its 487 ends it.
                result += sendCancel(for: key, now: now)
            case .timeout(let timer) where timer == .b || timer == .f || timer == .c:
                let synthetic = SIPResponse(replyingTo: entry.transaction.request, statusCode: .requestTimeout)
                result += clientOutcome(entry, key: key, response: synthetic, now: now)
            case .transportError:
                let synthetic = SIPResponse(
                    replyingTo: entry.transaction.request, statusCode: .serviceUnavailable,
                    reasonPhrase: "Service Unavailable (transport error)")
                result += clientOutcome(entry, key: key, response: synthetic, now: now)
            case .terminated:
                clients[key] = nil
            default:
                break
            }
        }
        return result
    }

    private mutating func clientOutcome(
        _ entry: ClientEntry, key: TransactionKey, response: SIPResponse, now: TransactionInstant
    ) -> [ProxyAction] {
        switch entry.purpose {
        case .forward(let serverKey):
            return branchResponse(response, clientKey: key, serverKey: serverKey, trunk: entry.trunk, now: now)
        case .cancel:
            return []
        case .probe(let id):
            guard response.statusCode.isFinal else { return [] }
            let code = response.statusCode
            recordHealth(id, success: !(code == .requestTimeout || code.rawValue >= 500), probe: true)
            return []
        }
    }

    // MARK: - OPTIONS probing

    private mutating func startDueProbes(now: TransactionInstant) -> [ProxyAction] {
        guard configuration.probing.interval > .zero else { return [] }
        // A probe has until the next one is due (at most 64·T1): one unanswered by then has failed.
        var probeTimers = configuration.timers
        probeTimers.timerF = min(configuration.probing.interval, configuration.timers.transactionTimeout)
        var actions: [ProxyAction] = []
        for (groupIndex, group) in configuration.trunkGroups.enumerated() {
            for (serverIndex, server) in group.servers.enumerated() {
                guard healthTable[groupIndex][serverIndex].startProbeIfDue(now: now, settings: configuration.probing),
                    let listener = listener(for: server.transport, preferring: nil)
                else { continue }
                let id = TrunkServerID(group: groupIndex, server: serverIndex)
                let request = probeRequest(to: server, listener: listener)
                guard let key = TransactionKey.client(for: request) else { continue }
                var transaction = ClientTransaction.nonInvite(
                    NonInviteClientTransaction(
                        request: request, reliableTransport: server.transport.isReliable, timers: probeTimers))
                let result = transaction.start(now: now)
                clients[key] = ClientEntry(
                    transaction: transaction,
                    destination: .address(listener: listener, host: server.host, port: server.port),
                    purpose: .probe(id), trunk: id)
                actions += processClient(result, key: key, now: now)
            }
        }
        return actions
    }

    private mutating func probeRequest(to server: TrunkServer, listener: Int) -> SIPRequest {
        probeSequence += 1
        let own = configuration.listeners[listener]
        var hash = StableHash()
        hash.combine(server.host)
        hash.combine(UInt64(server.port))
        hash.combine(probeSequence)
        let target = SIPURI(host: SIPHost(server.host) ?? .hostname(server.host), port: server.port)
        let from = SIPURI(user: "stagedoor", host: own.sipHost, port: own.port)
        var headers = SIPHeaders()
        headers.append(
            .via,
            Via(
                transport: own.transport.viaName, host: own.sipHost, port: own.port,
                branch: Self.branchPrefix + "p" + hash.hex, parameters: [GenericParameter("rport")]
            ).description)
        headers.append(.maxForwards, "70")
        headers.append(.from, "<\(from)>;tag=\(hash.hex.prefix(10))")
        headers.append(.to, "<\(target)>")
        headers.append(.callID, "probe-\(hash.hex)")
        headers.append(.cseq, "1 OPTIONS")
        return SIPRequest(method: .options, uri: target, headers: headers)
    }

    private mutating func recordHealth(_ id: TrunkServerID, success: Bool, probe: Bool) {
        guard id.group < healthTable.count, id.server < healthTable[id.group].count else { return }
        // Passive outcomes only ever mark a server down through probing's thresholds when probing is on.
        guard probe || configuration.probing.interval > .zero else { return }
        if let state = healthTable[id.group][id.server].record(
            success: success, settings: configuration.probing, probe: probe)
        {
            events.append(.trunkState(id, configuration.trunkGroups[id.group].servers[id.server], state))
        }
    }

    // MARK: - Addresses

    /// The trunk server whose address `flow` comes from: same IP, and for UDP the same port.
    func trunkServer(for flow: Flow) -> TrunkServerID? {
        // Over UDP the port must match too; it is compared first, and the remote host is parsed only
        // when some server has that port.
        var remote: SIPHost??
        for (groupIndex, group) in configuration.trunkGroups.enumerated() {
            for (serverIndex, server) in group.servers.enumerated()
            where flow.transport != .udp || server.port == flow.remote.port {
                if remote == nil { remote = SIPHost(flow.remote.host) }
                if sameHost(server.host, trunkHosts[groupIndex][serverIndex], flow.remote.host, remote!) {
                    return TrunkServerID(group: groupIndex, server: serverIndex)
                }
            }
        }
        return nil
    }

    /// Whether two hosts are the same, given their text and their parsed form (nil when not a host).
    private func sameHost(_ lhs: String, _ left: SIPHost?, _ rhs: String, _ right: SIPHost?) -> Bool {
        guard let left, let right else { return lhs == rhs }
        return left.isEquivalent(to: right)
    }

    /// Whether `uri` names this proxy. `strict` (Route entries) needs one of our listeners' host and port,
    /// or a domain; otherwise (Request-URI) a listener host on any of our ports or a domain.
    func isOurs(_ uri: SIPURI, strict: Bool) -> Bool {
        for host in domainHosts where uri.host.isEquivalent(to: host) { return true }
        let transport = uri.transport.flatMap(SIPTransport.init(name:)) ?? (uri.isSecure ? .tls : .udp)
        let port = uri.port ?? transport.defaultPort
        // The port first: comparing two numbers settles most listeners without comparing hosts.
        return configuration.listeners.contains { listener in
            listener.port == port && uri.host.isEquivalent(to: listener.sipHost)
        }
    }

    private func isOurSentBy(_ via: Via) -> Bool {
        let port = via.port ?? (SIPTransport(name: via.transport) ?? .udp).defaultPort
        return configuration.listeners.contains { listener in
            listener.port == port && via.host.isEquivalent(to: listener.sipHost)
        }
    }

    /// The listener to send with over `transport`: the one the request came in on when it fits, else the
    /// first of that transport.
    private func listener(for transport: SIPTransport, preferring preferred: Int?) -> Int? {
        if let preferred, preferred < configuration.listeners.count,
            configuration.listeners[preferred].transport == transport
        {
            return preferred
        }
        return configuration.listeners.firstIndex { $0.transport == transport }
    }

    private func transport(of hop: NextHop) -> SIPTransport {
        if case .flow(let flow) = hop.destination { return flow.transport }
        return configuration.listeners[hop.listener].transport
    }

    /// The next hop a SIP URI names (§16.6 step 7, RFC 3263 without DNS: `maddr`, host, port, `transport`).
    private func nextHop(for uri: SIPURI, preferring preferred: Int) -> NextHop? {
        let transport = uri.transport.flatMap(SIPTransport.init(name:)) ?? (uri.isSecure ? .tls : .udp)
        guard transport.canConnect, let listener = listener(for: transport, preferring: preferred) else { return nil }
        let host = uri.maddr ?? uri.host.bareHost
        return NextHop(
            destination: .address(listener: listener, host: host, port: uri.port ?? transport.defaultPort),
            listener: listener, trunk: nil)
    }

    /// The next hop for `uri` when it names a configured trunk server; nil otherwise.
    private func trunkHop(for uri: SIPURI, preferring preferred: Int) -> NextHop? {
        let host = uri.maddr ?? uri.host.bareHost
        let parsedHost = SIPHost(host)
        for (groupIndex, group) in configuration.trunkGroups.enumerated() {
            for (serverIndex, server) in group.servers.enumerated()
            where sameHost(server.host, trunkHosts[groupIndex][serverIndex], host, parsedHost) {
                let port = uri.port ?? server.transport.defaultPort
                guard port == server.port else { continue }
                return hop(to: TrunkServerID(group: groupIndex, server: serverIndex), preferring: preferred)
            }
        }
        return nil
    }

    private func hop(to id: TrunkServerID, preferring preferred: Int) -> NextHop? {
        let server = configuration.trunkGroups[id.group].servers[id.server]
        guard let listener = listener(for: server.transport, preferring: preferred) else { return nil }
        return NextHop(
            destination: .address(listener: listener, host: server.host, port: server.port), listener: listener,
            trunk: id)
    }

    /// The default group's servers in the order to try them. The weighted choice is seeded with the
    /// Call-ID, so every request of a call (and its retransmissions) picks the same server while its
    /// health does not change.
    private func defaultTrunkHops(for request: SIPRequest, preferring preferred: Int) -> [NextHop] {
        guard let group = configuration.trunkGroups.first else { return [] }
        var hash = StableHash()
        hash.combine(request.headers.first(.callID) ?? "")
        var state = hash.value
        let ids = trunkCandidates(group: 0, servers: group.servers, health: healthTable[0]) { bound in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        return ids.compactMap { hop(to: $0, preferring: preferred) }
    }

    /// Where a response goes when no transaction knows it: the next Via's `received`/`rport` or sent-by.
    private func destination(forResponseVia via: Via) -> Destination? {
        guard let transport = SIPTransport(name: via.transport), transport.canConnect,
            let listener = listener(for: transport, preferring: nil)
        else { return nil }
        let host = via.received ?? via.host.bareHost
        let port: UInt16
        if case .port(let value) = via.rport { port = value } else { port = via.port ?? transport.defaultPort }
        return .address(listener: listener, host: host, port: port)
    }

    /// A URI naming this proxy on `listener`, loose-routing, optionally with a flow token as user.
    private func ownURI(_ listener: Int, user: String?, outbound: Bool = false) -> SIPURI {
        let own = configuration.listeners[listener]
        var parameters: [GenericParameter] = []
        if own.transport != .udp { parameters.append(GenericParameter("transport", own.transport.rawValue)) }
        parameters.append(GenericParameter("lr"))
        if outbound { parameters.append(GenericParameter("ob")) }
        return SIPURI(user: user, host: own.sipHost, port: own.port, parameters: parameters)
    }

    /// A To tag for responses the proxy makes itself: the same for retransmissions of one request.
    private func localTag(for headers: SIPHeaders) -> String {
        var hash = StableHash()
        hash.combine(headers.first(.callID) ?? "")
        hash.combine((try? headers.fromTag()) ?? "")
        hash.combine(headers.first(.cseq) ?? "")
        return "sd" + hash.hex.prefix(12)
    }

    /// Whether the Via list may show a loop: one of ours whose branch carries `loopHash`, looking at the
    /// top Via as stamped (`incomingVia`) and the others as parsed. Only then does `decide` parse the
    /// stamped list, which settles it exactly as before (a list that no longer parses shows no loop).
    private func mayHaveLooped(_ received: SIPRequest, incomingVia: Via, loopHash: String) -> Bool {
        guard let vias = try? received.headers.vias() else { return true }
        let prefix = Self.branchPrefix + loopHash + "."
        if isOurSentBy(incomingVia), incomingVia.branch?.hasPrefix(prefix) == true { return true }
        for via in vias.dropFirst() where isOurSentBy(via) {
            if via.branch?.hasPrefix(prefix) == true { return true }
        }
        return false
    }

    /// The loop-detection part of the branch (§16.6 step 8): a hash of what a looped request would still
    /// carry unchanged (Request-URI, From tag, To tag, Call-ID, CSeq, Proxy-Require, Proxy-Authorization).
    static func loopHash(of request: SIPRequest) -> String {
        var hash = StableHash()
        hash.combine(request.uri)
        hash.combine((try? request.headers.fromTag()) ?? "")
        hash.combine((try? request.headers.toTag()) ?? "")
        hash.combine(request.headers.first(.callID) ?? "")
        hash.combine(request.headers.first(.cseq) ?? "")
        hash.combine(request.headers[.proxyRequire].joined(separator: ","))
        hash.combine(request.headers[.proxyAuthorization].joined(separator: ","))
        return hash.hex
    }

    /// Our branch: the magic cookie, `sd`, the loop hash, and a hash of the received top Via and the
    /// attempt number, so a retransmission (same received branch) maps to the same branch.
    static func branch(loopHash: String, incomingVia: Via, attempt: Int) -> String {
        var hash = StableHash()
        hash.combine(incomingVia.branch ?? "")
        hash.combine(incomingVia.sentBy)
        hash.combine(UInt64(attempt))
        var branch = branchPrefix
        branch.reserveCapacity(branchPrefix.utf8.count + loopHash.utf8.count + 17)
        branch += loopHash
        branch += "."
        branch += hash.hex
        return branch
    }
}

// MARK: - Internal state

/// Where a forwarded request goes.
struct NextHop: Hashable, Sendable {
    var destination: Destination
    /// The listener whose address goes into Via and Record-Route.
    var listener: Int
    var trunk: TrunkServerID?
}

/// How a request is forwarded: the request after route processing, and the hops to try in order.
struct ForwardPlan: Hashable, Sendable {
    var request: SIPRequest
    var hops: [NextHop]
    var recordRoute: Bool
    var path: Bool
    /// The client's flow on the outside of the edge (inbound for requests toward a trunk, the token's flow
    /// for requests toward outside), whose token goes into Path and the outside Record-Route entry.
    var outsideFlow: Flow?
    var direction: EdgeDirection
    var loopHash: String
    var incomingVia: Via
    /// The listener the request arrived on.
    var arrivalListener: Int
}

enum Decision {
    /// Answer with a status, an optional reason phrase and extra header fields.
    case respond(SIPStatusCode, String?, SIPHeaders = [])
    case forward(ForwardPlan)
}

/// A server transaction and what the proxy keeps with it. A class: the table hands out a reference, so
/// reading an entry, or changing it and storing it back, costs one retain rather than a copy of every
/// part (the transaction's requests and responses, the flow, the keys), which was an eighth of the
/// proxy's work per message. It is only touched on the proxy's thread.
final class ServerEntry: TimedEntry, @unchecked Sendable {
    var transaction: ServerTransaction
    let flow: Flow
    /// The request as received; its header fields and body are released with the plan (`release()`).
    private(set) var request: SIPRequest
    /// How the request is forwarded; set once, then only read. Boxed so that copying an entry (every read
    /// of the table) retains one reference instead of every part of the plan.
    var plan: ForwardPlan? {
        get { sharedPlan?.plan }
        set {
            sharedPlan = newValue.map(SharedPlan.init)
            if let newValue { planDirection = newValue.direction }
        }
    }
    private var sharedPlan: SharedPlan?
    /// The plan's direction, kept when the plan is released: 2xx retransmissions still pass through.
    private(set) var planDirection: EdgeDirection?
    var attempt = 0
    var activeClient: TransactionKey?
    var best: SIPResponse?
    var cancelled = false
    var forwardedProvisional = false
    var finalSent = false

    init(transaction: ServerTransaction, flow: Flow, request: SIPRequest) {
        self.transaction = transaction
        self.flow = flow
        self.request = request
    }

    var deadline: TransactionInstant? { transaction.nextDeadline }

    /// Once the final response is on its way, nothing but the transaction's matching and timers is
    /// needed for the 32 s an entry lingers: the plan (the forwarded request, the hops), the best
    /// response and the received request's header fields and body go.
    func release() {
        sharedPlan = nil
        best = nil
        request.headers = SIPHeaders()
        request.body = []
    }
}

/// A client transaction and where it goes; a class for the reason `ServerEntry` is.
final class ClientEntry: TimedEntry, @unchecked Sendable {
    enum Purpose: Sendable {
        case forward(TransactionKey)
        case cancel
        case probe(TrunkServerID)
    }

    var transaction: ClientTransaction
    let destination: Destination
    let purpose: Purpose
    let trunk: TrunkServerID?
    var cancelPending = false

    init(transaction: ClientTransaction, destination: Destination, purpose: Purpose, trunk: TrunkServerID?) {
        self.transaction = transaction
        self.destination = destination
        self.purpose = purpose
        self.trunk = trunk
    }

    var deadline: TransactionInstant? { transaction.nextDeadline }
}

/// An immutable `ForwardPlan` shared by the copies of a `ServerEntry`.
final class SharedPlan: Sendable {
    let plan: ForwardPlan

    init(_ plan: ForwardPlan) {
        self.plan = plan
    }
}

/// The mutating methods of the two transaction enums take the payload out with `switch consume self` and
/// put it back after: binding `case .invite(var transaction)` from `self` copies the payload (a retain of
/// every reference it holds) and makes each array in it shared, so that the first write to one copied it.
enum ServerTransaction: Sendable {
    case invite(InviteServerTransaction)
    case nonInvite(NonInviteServerTransaction)

    mutating func start(now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.start(now: now)
        case let other:
            self = other
            return []
        }
    }

    mutating func handle(request: SIPRequest, now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(.request(request), now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(.request(request), now: now)
        }
    }

    mutating func handle(respond response: SIPResponse, now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(.respond(response), now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(.respond(response), now: now)
        }
    }

    mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handleTimeout(now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handleTimeout(now: now)
        }
    }

    /// A mutating read, so that the payload is moved out and back rather than copied: the tables read it
    /// after every write to an entry.
    var nextDeadline: TransactionInstant? {
        mutating get {
            switch consume self {
            case .invite(let transaction):
                let next = transaction.nextDeadline
                self = .invite(consume transaction)
                return next
            case .nonInvite(let transaction):
                let next = transaction.nextDeadline
                self = .nonInvite(consume transaction)
                return next
            }
        }
    }
}

enum ClientTransaction: Sendable {
    case invite(InviteClientTransaction)
    case nonInvite(NonInviteClientTransaction)

    var request: SIPRequest {
        switch self {
        case .invite(let transaction): transaction.request
        case .nonInvite(let transaction): transaction.request
        }
    }

    var receivedProvisional: Bool {
        switch self {
        case .invite(let transaction): transaction.receivedProvisional
        case .nonInvite(let transaction): transaction.state == .proceeding
        }
    }

    /// A mutating read, so that the payload is moved out and back rather than copied: the tables read it
    /// after every write to an entry.
    var nextDeadline: TransactionInstant? {
        mutating get {
            switch consume self {
            case .invite(let transaction):
                let next = transaction.nextDeadline
                self = .invite(consume transaction)
                return next
            case .nonInvite(let transaction):
                let next = transaction.nextDeadline
                self = .nonInvite(consume transaction)
                return next
            }
        }
    }

    mutating func start(now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.start(now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.start(now: now)
        }
    }

    mutating func handle(response: SIPResponse, now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(.response(response), now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(.response(response), now: now)
        }
    }

    mutating func handle(transportError: Void, now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handle(.transportError, now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handle(.transportError, now: now)
        }
    }

    mutating func handleTimeout(now: TransactionInstant) -> [TransactionAction] {
        switch consume self {
        case .invite(var transaction):
            defer { self = .invite(transaction) }
            return transaction.handleTimeout(now: now)
        case .nonInvite(var transaction):
            defer { self = .nonInvite(transaction) }
            return transaction.handleTimeout(now: now)
        }
    }
}
