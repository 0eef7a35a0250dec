import STUN

/// The TURN server's protocol logic (RFC 8656 over RFC 8489), pure: messages and time in,
/// responses and routing decisions out. The driver owns the sockets and the clock.
public struct AllocationServer<Relays: RelayAddressProvider> {
    public private(set) var settings: AllocationSettings
    public private(set) var policy: PeerPolicy
    public private(set) var relays: Relays
    public private(set) var counters = TURNCounters()
    /// What happened since the driver last drained it, for its logs. Control-path events
    /// only, and bounded: a flood of failures cannot grow it between two drains.
    public private(set) var events: [TURNEvent] = []
    static var maximumPendingEvents: Int { 256 }
    private var nonces: NonceIssuer
    private var allocations: [FiveTuple: Allocation] = [:]
    private typealias AllocationIndex = Dictionary<FiveTuple, Allocation>.Index
    private var tupleByRelay: [TransportAddress: FiveTuple] = [:]
    private var allocationsPerUser: [String: Int] = [:]
    /// Ports held for a later Allocate with RESERVATION-TOKEN (RFC 8656 §7.2), by token.
    private var reservations: [[UInt8]: (relayed: TransportAddress, expiry: MonotonicTime)] = [:]
    /// The whole server's relayed bytes per second (`bandwidthTotal`).
    private var totalBandwidth: TokenBucket
    /// Unauthenticated requests per source IP; bounded in size, emptied as entries go idle.
    private var sources: [IPHost: TokenBucket] = [:]
    static var maximumTrackedSources: Int { 65_536 }
    /// How long a reserved port is held (RFC 8656 §7.2 suggests about 30 seconds).
    static var reservationLifetime: Duration { .seconds(30) }

    /// IANA protocol number of UDP, the only REQUESTED-TRANSPORT served (RFC 8656 §7.2).
    static var udpProtocolNumber: UInt8 { 17 }

    public init(settings: AllocationSettings, policy: PeerPolicy, nonces: NonceIssuer, relays: Relays) {
        self.settings = settings
        self.policy = policy
        self.nonces = nonces
        self.relays = relays
        self.totalBandwidth = Self.bucket(bytesPerSecond: settings.bandwidthTotal)
    }

    /// One second's worth of burst.
    static func bucket(bytesPerSecond: Int) -> TokenBucket {
        TokenBucket(rate: Double(bytesPerSecond), burst: Double(bytesPerSecond))
    }

    /// Applies new settings; live allocations keep their keys and lifetimes.
    public mutating func update(settings: AllocationSettings, policy: PeerPolicy) {
        if settings.bandwidthTotal != self.settings.bandwidthTotal {
            totalBandwidth = Self.bucket(bytesPerSecond: settings.bandwidthTotal)
        }
        if settings.bandwidthPerAllocation != self.settings.bandwidthPerAllocation {
            for tuple in allocations.keys {
                allocations[tuple]?.bandwidth = Self.bucket(bytesPerSecond: settings.bandwidthPerAllocation)
            }
        }
        self.settings = settings
        self.policy = policy
    }

    /// Whether `bytes` more may be relayed for this allocation now.
    private mutating func admit(_ bytes: Int, tuple: FiveTuple, now: MonotonicTime) -> Bool {
        guard let index = allocations.index(forKey: tuple) else { return false }
        return admit(bytes, at: index, now: now)
    }

    /// `admit` for an allocation already looked up: the data path finds it once per datagram.
    private mutating func admit(_ bytes: Int, at index: AllocationIndex, now: MonotonicTime) -> Bool {
        // Both buckets are charged or neither: a datagram the total limit drops costs the
        // allocation nothing. The bucket is read and updated in place through the index: reading
        // it through the getter, or writing it back with `allocations[tuple]?.bandwidth = …`,
        // copies the whole allocation, tables and all, for every datagram (the benchmark in
        // Benchmarks/ counted 8 allocations each).
        var own = Self.bandwidth(of: &allocations.values[index])
        // No limit (bandwidth 0) on either bucket: nothing to charge or write back.
        if own.isUnlimited, totalBandwidth.isUnlimited { return true }
        var total = totalBandwidth
        guard own.take(Double(bytes), now: now), total.take(Double(bytes), now: now) else {
            counters.overBandwidth += 1
            return false
        }
        allocations.values[index].bandwidth = own
        totalBandwidth = total
        return true
    }

    /// `inout` only to read in place (see `channelHop`).
    private static func bandwidth(of allocation: inout Allocation) -> TokenBucket { allocation.bandwidth }

    /// What to do after a STUN message from a client.
    public enum Outcome: Sendable, Equatable {
        /// Send these bytes back to the client on the same 5-tuple.
        case respond([UInt8])
        /// A Send indication's payload, to go out of the relayed address to the peer (RFC 8656 §11.2).
        case relay(from: TransportAddress, to: TransportAddress, payload: [UInt8])
        /// Nothing to send (an indication that was dropped, or not a request this server answers).
        case ignore
    }

    /// Whether there are events to drain (cheaper than draining nothing).
    public var hasEvents: Bool { !events.isEmpty }

    /// Hands the pending events over, for the driver to log.
    public mutating func drainEvents() -> [TURNEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    private mutating func record(_ event: TURNEvent) {
        if events.count < Self.maximumPendingEvents { events.append(event) }
    }

    // MARK: Queries

    public var allocationCount: Int { allocations.count }

    public func allocation(for tuple: FiveTuple) -> Allocation? { allocations[tuple] }

    /// Allocations holding two relayed addresses (RFC 8656 §7.2 step 9); each counts once in
    /// `allocationCount` and in the quotas.
    public var dualAllocationCount: Int {
        allocations.values.reduce(0) { $0 + ($1.additionalRelayed == nil ? 0 : 1) }
    }

    public var allocationsByTransport: [ClientTransport: Int] {
        allocations.keys.reduce(into: [:]) { $0[$1.transport, default: 0] += 1 }
    }

    /// The users holding allocations (a REST `expiry:user` counts as `user`).
    public var usernames: Set<String> { Set(allocationsPerUser.keys) }

    // MARK: Control messages

    public mutating func handle(_ bytes: some Collection<UInt8>, from tuple: FiveTuple, now: Moment) -> Outcome {
        let parsed: ParsedSTUNMessage
        do {
            parsed = try STUNCodec.decode(bytes)
        } catch {
            counters.malformed += 1
            return .ignore
        }
        let message = parsed.message
        if parsed.fingerprintValid == false {
            counters.malformed += 1
            return .ignore
        }
        switch message.type.messageClass {
        case .request:
            break
        case .indication:
            // RFC 8489 §6.3.2: an indication with an unknown comprehension-required attribute is
            // discarded; DONT-FRAGMENT cannot be honoured (RFC 8656 §11.2).
            guard message.type.method == .send, parsed.unknownComprehensionRequired.isEmpty, !message.dontFragment
            else {
                counters.dropped += 1
                return .ignore
            }
            return send(message, from: tuple, now: now)
        case .successResponse, .errorResponse:
            return .ignore
        }
        let fingerprint = parsed.fingerprintValid != nil
        if message.type.method == .binding {
            if !parsed.unknownComprehensionRequired.isEmpty {
                counters.badRequests += 1
                return .respond(
                    errorResponse(
                        message, .unknownAttribute, extra: [.unknownAttributes(parsed.unknownComprehensionRequired)],
                        fingerprint: fingerprint))
            }
            // Binding needs no credentials, so it is charged to the source's unauthenticated
            // budget too: a spoofed source cannot use the server as a reflector at line rate.
            if allocations[tuple] == nil, !admitUnauthenticated(from: tuple.client, now: now.monotonic) {
                counters.rateLimited += 1
                return .ignore
            }
            counters.bindings += 1
            // RFC 8489 §6.3.1: no authentication for Binding; XOR-MAPPED-ADDRESS is the reflexive address.
            let response = STUNMessage(
                type: STUNMessageType(method: .binding, messageClass: .successResponse),
                transactionID: message.transactionID,
                attributes: [.xorMappedAddress(tuple.client)] + softwareAttribute)
            return .respond(response.encode(fingerprint: fingerprint))
        }
        let known: [STUNMethod] = [.allocate, .refresh, .createPermission, .channelBind]
        guard known.contains(message.type.method) else {
            counters.badRequests += 1
            return .respond(errorResponse(message, .badRequest, fingerprint: fingerprint))
        }
        if allocations[tuple] == nil, !admitUnauthenticated(from: tuple.client, now: now.monotonic) {
            counters.rateLimited += 1
            return .ignore
        }
        switch authenticate(parsed, from: tuple, now: now) {
        case .rejected(let response):
            return .respond(response)
        case .accepted(let username, let key):
            let context = RequestContext(
                message: message, tuple: tuple, username: username, key: key, fingerprint: fingerprint, now: now)
            // RFC 8489 §6.3: unknown attributes are answered after authentication, with integrity.
            if !parsed.unknownComprehensionRequired.isEmpty {
                counters.badRequests += 1
                return .respond(
                    failure(
                        context, .unknownAttribute, extra: [.unknownAttributes(parsed.unknownComprehensionRequired)]))
            }
            switch message.type.method {
            case .allocate: return .respond(allocate(context))
            case .refresh: return .respond(refresh(context))
            case .createPermission: return .respond(createPermission(context))
            default: return .respond(channelBind(context))
            }
        }
    }

    private struct RequestContext {
        var message: STUNMessage
        var tuple: FiveTuple
        var username: String
        var key: [UInt8]
        var fingerprint: Bool
        var now: Moment
    }

    /// Whom the per-user quota counts: a REST username `expiry:user` counts as `user`, so
    /// minting credentials with other expiries does not buy more allocations.
    private func quotaKey(_ username: String) -> String {
        guard settings.users[username] == nil, RESTCredentials.expiry(ofUsername: username) != nil,
            let colon = username.firstIndex(of: ":")
        else { return username }
        return String(username[username.index(after: colon)...])
    }

    /// Charges one request to its source IP's budget (only requests without an allocation).
    private mutating func admitUnauthenticated(from client: TransportAddress, now: MonotonicTime) -> Bool {
        let rate = settings.unauthenticatedRequestsPerSecond
        guard rate > 0 else { return true }
        if sources[client.host] == nil {
            // Bounded: a flood of spoofed sources cannot grow this without limit.
            if sources.count >= Self.maximumTrackedSources { return false }
            sources[client.host] = TokenBucket(rate: Double(rate), burst: Double(rate * 2))
        }
        return sources[client.host]!.take(1, now: now)
    }

    // MARK: Authentication (RFC 8489 §9.2.4)

    private enum Authentication {
        case accepted(username: String, key: [UInt8])
        case rejected([UInt8])
    }

    private mutating func authenticate(_ parsed: ParsedSTUNMessage, from tuple: FiveTuple, now: Moment)
        -> Authentication
    {
        let message = parsed.message
        let fingerprint = parsed.fingerprintValid != nil
        guard parsed.hasMessageIntegrity || parsed.hasMessageIntegritySHA256 else {
            // The first request of every client: a challenge, not a failure worth counting.
            return .rejected(challenge(message, .unauthorized, tuple: tuple, now: now, fingerprint: fingerprint))
        }
        guard let username = message.username,
            let realm = message.realm,
            let nonce = message.nonce
        else {
            counters.badRequests += 1
            return .rejected(errorResponse(message, .badRequest, fingerprint: fingerprint))
        }
        guard realm == settings.realm else {
            counters.authFailures += 1
            record(.authenticationFailed(tuple, username: username))
            return .rejected(challenge(message, .unauthorized, tuple: tuple, now: now, fingerprint: fingerprint))
        }
        for key in candidateKeys(for: username, tuple: tuple, now: now) {
            let valid =
                parsed.hasMessageIntegritySHA256
                ? parsed.verifyMessageIntegritySHA256(key: key) : parsed.verifyMessageIntegrity(key: key)
            guard valid else { continue }
            // RFC 8489 §9.2.4: the nonce is checked last, once the credentials are proven;
            // a stale one earns 438 with a fresh nonce (and the response carries integrity).
            guard nonces.check(nonce, for: tuple.client, now: now.unixSeconds) == .valid else {
                return .rejected(
                    errorResponse(
                        message, .staleNonce,
                        extra: [.realm(settings.realm), .nonce(nonces.issue(for: tuple.client, now: now.unixSeconds))],
                        fingerprint: fingerprint, integrity: key))
            }
            return .accepted(username: username, key: key)
        }
        counters.authFailures += 1
        record(.authenticationFailed(tuple, username: username))
        return .rejected(challenge(message, .unauthorized, tuple: tuple, now: now, fingerprint: fingerprint))
    }

    /// The keys `username` may hold: the one of its live allocation, its static key, and one per
    /// REST secret while its REST expiry has not passed.
    private func candidateKeys(for username: String, tuple: FiveTuple, now: Moment) -> [[UInt8]] {
        if let allocation = allocations[tuple], allocation.username == username {
            // The allocation keeps its key across reloads (a rotated secret does not cut a
            // call), but a REST credential past its expiry refreshes nothing any more.
            if settings.users[username] == nil, let expiry = RESTCredentials.expiry(ofUsername: username),
                expiry <= now.unixSeconds
            {
                return []
            }
            return [allocation.key]
        }
        var keys: [[UInt8]] = []
        if let key = settings.users[username] { keys.append(key) }
        if !settings.restSecrets.isEmpty, let expiry = RESTCredentials.expiry(ofUsername: username),
            expiry > now.unixSeconds
        {
            for secret in settings.restSecrets {
                let password = RESTCredentials.password(username: username, secret: secret)
                keys.append(
                    STUNCredentials.longTermKey(username: username, realm: settings.realm, password: password))
            }
        }
        return keys
    }

    private func challenge(
        _ request: STUNMessage, _ error: STUNErrorCode, tuple: FiveTuple, now: Moment, fingerprint: Bool
    ) -> [UInt8] {
        errorResponse(
            request, error,
            extra: [.realm(settings.realm), .nonce(nonces.issue(for: tuple.client, now: now.unixSeconds))],
            fingerprint: fingerprint)
    }

    // MARK: Allocate (RFC 8656 §7.2)

    private mutating func allocate(_ request: RequestContext) -> [UInt8] {
        let message = request.message
        if let existing = allocations[request.tuple] {
            // A retransmission of the Allocate that created it gets the same answer.
            if existing.allocateTransaction == message.transactionID { return existing.allocateResponse }
            return failure(request, .allocationMismatch)
        }
        guard let transport = message.requestedTransport
        else { return failure(request, .badRequest) }
        guard transport == Self.udpProtocolNumber else { return failure(request, .unsupportedTransportProtocol) }
        if message.dontFragment {
            // Relayed datagrams cannot be sent with DF set here: say so (RFC 8656 §7.2 step 4).
            return failure(request, .unknownAttribute, extra: [.unknownAttributes([STUNAttribute.dontFragment.type])])
        }
        let token = message.reservationToken
        let evenPort = message.evenPort
        let additional = message.additionalAddressFamily
        // RESERVATION-TOKEN excludes EVEN-PORT and the address-family attributes (§7.2 step 5),
        // and one Allocate does not ask for its family twice (step 6).
        if token != nil, evenPort != nil || message.requestedAddressFamily != nil || additional != nil {
            return failure(request, .badRequest)
        }
        if additional != nil, message.requestedAddressFamily != nil { return failure(request, .badRequest) }
        // A reserved next port is defined for one relayed address, not a pair (§7.2 step 8); the
        // additional family can only be IPv6, IPv4 being the one every Allocate gets (step 9).
        if additional != nil, evenPort == true || additional == .ipv4 { return failure(request, .badRequest) }
        guard allocationsPerUser[quotaKey(request.username), default: 0] < settings.maximumAllocationsPerUser,
            allocations.count < settings.maximumAllocations
        else {
            counters.quotaRejections += 1
            return failure(request, .allocationQuotaReached)
        }
        let relayed: TransportAddress
        var additionalRelayed: TransportAddress?
        var addressErrors: [STUNAttribute] = []
        var reserved: (token: [UInt8], address: TransportAddress)?
        if let token {
            guard let reservation = reservations.removeValue(forKey: token) else {
                return failure(request, .insufficientCapacity)
            }
            guard reservation.expiry > request.now.monotonic else {
                relays.close(reservation.relayed)
                return failure(request, .insufficientCapacity)
            }
            relayed = reservation.relayed
        } else if additional == .ipv6 {
            // Dual allocation (§7.2 step 9): one relayed address of each family. A family that
            // cannot be had is named in ADDRESS-ERROR-CODE (§18.12) and the other one stands
            // alone; only when neither can be had does the Allocate fail.
            switch (openRelay(.ipv4, evenPort: evenPort != nil), openRelay(.ipv6, evenPort: evenPort != nil)) {
            case (.opened(let ipv4, _), .opened(let ipv6, _)):
                relayed = ipv4
                additionalRelayed = ipv6
            case (.opened(let ipv4, _), .failed(let error)):
                relayed = ipv4
                addressErrors = [.addressErrorCode(family: .ipv6, error: error)]
            case (.failed(let error), .opened(let ipv6, _)):
                relayed = ipv6
                addressErrors = [.addressErrorCode(family: .ipv4, error: error)]
            case (.failed(let ipv4Error), .failed(let ipv6Error)):
                let capacity = ipv4Error == .insufficientCapacity || ipv6Error == .insufficientCapacity
                return failure(request, capacity ? .insufficientCapacity : .addressFamilyNotSupported)
            }
        } else {
            switch openRelay(
                message.requestedAddressFamily ?? .ipv4, evenPort: evenPort != nil, reserveNext: evenPort == true)
            {
            case .failed(let error):
                return failure(request, error)
            case .opened(let address, let next):
                relayed = address
                if let next {
                    var bytes = [UInt8](repeating: 0, count: 8)
                    var generator = SystemRandomNumberGenerator()
                    for index in bytes.indices { bytes[index] = generator.next() }
                    reserved = (bytes, next)
                }
            }
        }
        let lifetime = grantedLifetime(message)
        var attributes: [STUNAttribute] = [.xorRelayedAddress(advertised(relayed))]
        if let additionalRelayed { attributes.append(.xorRelayedAddress(advertised(additionalRelayed))) }
        attributes += [.lifetime(lifetime), .xorMappedAddress(request.tuple.client)]
        if let reserved {
            attributes.append(.reservationToken(reserved.token))
            reservations[reserved.token] = (reserved.address, request.now.monotonic + Self.reservationLifetime)
        }
        attributes += addressErrors
        let response = success(request, attributes)
        let allocation = Allocation(
            fiveTuple: request.tuple, relayed: relayed, additionalRelayed: additionalRelayed,
            username: request.username, key: request.key, expiry: request.now.monotonic + .seconds(Int64(lifetime)),
            allocateTransaction: message.transactionID, allocateResponse: response,
            bandwidth: Self.bucket(bytesPerSecond: settings.bandwidthPerAllocation))
        allocations[request.tuple] = allocation
        tupleByRelay[relayed] = request.tuple
        if let additionalRelayed { tupleByRelay[additionalRelayed] = request.tuple }
        allocationsPerUser[quotaKey(request.username), default: 0] += 1
        counters.allocationsCreated += 1
        record(
            .allocated(
                request.tuple, relayed: allocation.relayedAddresses, username: request.username, lifetime: lifetime))
        return response
    }

    /// A relay socket opened, or why none could be.
    private enum RelayOpening {
        case opened(TransportAddress, reserved: TransportAddress?)
        case failed(STUNErrorCode)
    }

    /// A relayed address of `family`: 440 when the server relays no such family, 508 when it
    /// does but none is free (RFC 8656 §7.2 step 7, §18.12).
    private mutating func openRelay(_ family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool = false)
        -> RelayOpening
    {
        guard relays.serves(family) else { return .failed(.addressFamilyNotSupported) }
        guard let opened = relays.open(family: family, evenPort: evenPort, reserveNext: reserveNext) else {
            return .failed(.insufficientCapacity)
        }
        return .opened(opened.relayed, reserved: opened.reserved)
    }

    /// RFC 8656 §7.2: the client's LIFETIME capped at the maximum, and never below the default.
    private func grantedLifetime(_ message: STUNMessage) -> UInt32 {
        let requested =
            message.lifetime
            ?? settings.defaultLifetime
        return max(settings.defaultLifetime, min(requested, settings.maximumLifetime))
    }

    /// A peer address as it goes on the wire: a relayed address this server advertised under
    /// its external address is reached at its bound address (no hairpin through the NAT).
    private func localRelay(for peer: TransportAddress) -> TransportAddress {
        guard let external = settings.externalAddress, external.host == peer.host,
            let bound = tupleByRelay.keys.first(where: { $0.port == peer.port && $0.family == peer.family })
        else { return peer }
        return bound
    }

    /// A datagram's source as clients know it: one of this server's relayed addresses is
    /// known by its advertised form.
    private func clientView(of source: TransportAddress) -> TransportAddress {
        tupleByRelay[source] != nil ? advertised(source) : source
    }

    private func advertised(_ relayed: TransportAddress) -> TransportAddress {
        guard let external = settings.externalAddress, external.family == relayed.family else { return relayed }
        return TransportAddress(bytes: external.address, port: relayed.port) ?? relayed
    }

    // MARK: Refresh (RFC 8656 §8)

    private mutating func refresh(_ request: RequestContext) -> [UInt8] {
        guard var allocation = allocations[request.tuple] else { return failure(request, .allocationMismatch) }
        guard allocation.username == request.username else { return failure(request, .wrongCredentials) }
        // RFC 8656 §8.2: REQUESTED-ADDRESS-FAMILY names a family the allocation holds (443
        // otherwise); in a dual allocation, a zero LIFETIME with it deletes that family's
        // relayed address alone, with its permissions and channels, and leaves the other (§8.1).
        let family = request.message.requestedAddressFamily
        if let family, allocation.relayed(for: family) == nil {
            return failure(request, .peerAddressFamilyMismatch)
        }
        let requested = request.message.lifetime
        if requested == 0 {
            if let family, allocation.additionalRelayed != nil {
                releaseFamily(family, of: &allocation)
                allocations[request.tuple] = allocation
            } else {
                remove(request.tuple, reason: .refreshedToZero)
            }
            return success(request, [.lifetime(0)])
        }
        // One lifetime for the allocation: refreshing either family of a dual allocation
        // refreshes both.
        let lifetime = grantedLifetime(request.message)
        allocation.expiry = request.now.monotonic + .seconds(Int64(lifetime))
        allocations[request.tuple] = allocation
        return success(request, [.lifetime(lifetime)])
    }

    /// Closes the `family` relayed address of a dual allocation, and forgets the permissions
    /// and channels toward peers of that family (RFC 8656 §8.1); the other address stays.
    private mutating func releaseFamily(_ family: TransportAddress.Family, of allocation: inout Allocation) {
        guard let second = allocation.additionalRelayed else { return }
        let gone = family == allocation.relayed.family ? allocation.relayed : second
        allocation.relayed = family == allocation.relayed.family ? second : allocation.relayed
        allocation.additionalRelayed = nil
        // A permission is keyed by the peer's IP alone: 4 bytes for IPv4, 16 for IPv6.
        let hostLength: UInt8 = family == .ipv4 ? 4 : 16
        allocation.permissions = allocation.permissions.filter { $0.key.count != hostLength }
        for (number, binding) in allocation.channelsByNumber where binding.peer.family == family {
            allocation.channelsByNumber[number] = nil
            allocation.channelsByPeer[binding.peer] = nil
        }
        tupleByRelay[gone] = nil
        relays.close(gone)
        record(.released(allocation.fiveTuple, relayed: [gone], reason: .refreshedToZero))
    }

    // MARK: CreatePermission (RFC 8656 §10)

    private mutating func createPermission(_ request: RequestContext) -> [UInt8] {
        guard var allocation = allocations[request.tuple] else { return failure(request, .allocationMismatch) }
        guard allocation.username == request.username else { return failure(request, .wrongCredentials) }
        let peers = request.message.xorPeerAddresses
        guard !peers.isEmpty else { return failure(request, .badRequest) }
        var accesses: [PeerAccess] = []
        for peer in peers {
            // §10.2: a peer of a family the allocation has no relayed address for.
            guard allocation.relayed(for: peer.family) != nil else {
                return failure(request, .peerAddressFamilyMismatch)
            }
            guard let access = access(peer) else { return failure(request, .forbidden) }
            accesses.append(access)
        }
        let newPeers = Set(peers.map(\.host)).subtracting(allocation.permissions.keys)
        guard allocation.permissions.count + newPeers.count <= settings.maximumPermissionsPerAllocation else {
            return failure(request, .insufficientCapacity)
        }
        let until = request.now.monotonic + .seconds(Int64(settings.permissionLifetime))
        for (peer, access) in zip(peers, accesses) {
            allocation.permissions[peer.host] = Permission(expiry: until, relayOnly: access == .relayOnly)
        }
        allocations[request.tuple] = allocation
        return success(request, [])
    }

    // MARK: ChannelBind (RFC 8656 §11)

    private mutating func channelBind(_ request: RequestContext) -> [UInt8] {
        guard var allocation = allocations[request.tuple] else { return failure(request, .allocationMismatch) }
        guard allocation.username == request.username else { return failure(request, .wrongCredentials) }
        guard let number = request.message.channelNumber,
            ChannelData.numbers.contains(number),
            let peer = request.message.xorPeerAddress
        else { return failure(request, .badRequest) }
        // §12.2: the channel's traffic goes out of the relayed address of the peer's family.
        guard allocation.relayed(for: peer.family) != nil else { return failure(request, .peerAddressFamilyMismatch) }
        // A channel is bound to one peer and a peer to one channel, until it expires (§11.2).
        if let bound = allocation.channelsByNumber[number], bound.peer != peer { return failure(request, .badRequest) }
        if let other = allocation.channelsByPeer[peer], other.number != number {
            return failure(request, .badRequest)
        }
        guard let access = access(peer) else { return failure(request, .forbidden) }
        if allocation.permissions[peer.host] == nil,
            allocation.permissions.count >= settings.maximumPermissionsPerAllocation
        {
            return failure(request, .insufficientCapacity)
        }
        let now = request.now.monotonic
        let channelExpiry = now + .seconds(Int64(settings.channelLifetime))
        allocation.channelsByNumber[number] = ChannelBinding(peer: peer, expiry: channelExpiry)
        allocation.channelsByPeer[peer] = PeerChannel(number: number, expiry: channelExpiry)
        // Binding a channel installs or refreshes the permission too (§11.2).
        allocation.permissions[peer.host] = Permission(
            expiry: now + .seconds(Int64(settings.permissionLifetime)), relayOnly: access == .relayOnly)
        allocations[request.tuple] = allocation
        return success(request, [])
    }

    // MARK: Send indication (RFC 8656 §11.2)

    private mutating func send(_ message: STUNMessage, from tuple: FiveTuple, now: Moment) -> Outcome {
        // A peer of a family the allocation has no relayed address for is dropped (§11.2).
        guard let allocation = allocations[tuple],
            let peer = message.xorPeerAddress,
            let payload = message.data,
            let relayed = allocation.relayed(for: peer.family),
            canReach(allocation, peer, now: now.monotonic)
        else {
            counters.dropped += 1
            return .ignore
        }
        guard admit(payload.count, tuple: tuple, now: now.monotonic) else { return .ignore }
        return .relay(from: relayed, to: localRelay(for: peer), payload: payload)
    }

    // MARK: Data path

    /// Where a Send indication's payload goes when it is read in place (see `IndicationFraming`).
    public enum SendRoute: Equatable, Sendable {
        /// Send bytes `payload` of the indication from `relayed` to `peer`.
        case relay(relayed: TransportAddress, peer: TransportAddress, payload: Range<Int>)
        /// Dropped, as `handle` would drop it (counted the same way).
        case drop
        /// Not a plain Send indication: pass it to `handle`.
        case other
    }

    /// A Send indication from a client (RFC 8656 §11.2), read in place: the same decision as
    /// `handle` makes for it, without decoding it into a message, so a client that relays by
    /// Send and Data indications costs no allocation per datagram, as ChannelData does not.
    public mutating func routeSendIndication(
        _ bytes: UnsafeRawBufferPointer, from tuple: FiveTuple, now: MonotonicTime
    ) -> SendRoute {
        switch IndicationFraming.readSendIndication(bytes) {
        case .other:
            return .other
        case .drop:
            counters.dropped += 1
            return .drop
        case .relay(let peer, let payload):
            guard let index = allocations.index(forKey: tuple),
                let relayed = Self.relayed(&allocations.values[index], for: peer.family),
                let access = Self.peerAccess(&allocations.values[index], peer: peer, now: now),
                !access.relayOnly || tupleByRelay[localRelay(for: peer)] != nil
            else {
                counters.dropped += 1
                return .drop
            }
            guard admit(payload.count, at: index, now: now) else { return .drop }
            return .relay(relayed: relayed, peer: localRelay(for: peer), payload: payload)
        }
    }

    /// ChannelData from a client (RFC 8656 §12.5): where its payload goes, or nil to drop it.
    /// Looks up and allocates nothing; the allocation is found once and read in place.
    public mutating func routeChannelData(
        channel: UInt16, length: Int, from tuple: FiveTuple, now: MonotonicTime
    ) -> (relayed: TransportAddress, peer: TransportAddress)? {
        guard let index = allocations.index(forKey: tuple),
            let hop = Self.channelHop(&allocations.values[index], channel: channel, now: now),
            !hop.relayOnly || tupleByRelay[localRelay(for: hop.peer)] != nil,
            admit(length, at: index, now: now)
        else { return nil }
        return (hop.relayed, settings.externalAddress == nil ? hop.peer : localRelay(for: hop.peer))
    }

    /// Where a live channel of `allocation` leads, if its peer has a live permission: from the
    /// allocation's route cache, or from its tables (and then remembered there). The
    /// allocation is `inout` to be read and updated in place: the dictionary's getter would
    /// copy it (a retain and a release of each of its strings, arrays and tables) per datagram.
    private static func channelHop(_ allocation: inout Allocation, channel: UInt16, now: MonotonicTime)
        -> (relayed: TransportAddress, peer: TransportAddress, relayOnly: Bool)?
    {
        if let route = allocation.routes.toPeer, route.channel == channel, route.expiry > now {
            return (route.relayed, route.peer, route.relayOnly)
        }
        guard let binding = allocation.channelsByNumber[channel], binding.expiry > now,
            let permission = allocation.permissions[binding.peer.host], permission.expiry > now,
            let relayed = allocation.relayed(for: binding.peer.family)
        else { return nil }
        allocation.routes.toPeer = RouteCache.ToPeer(
            channel: channel, relayed: relayed, peer: binding.peer, relayOnly: permission.relayOnly,
            expiry: min(binding.expiry, permission.expiry))
        return (relayed, binding.peer, permission.relayOnly)
    }

    /// The relayed address of `allocation` for peers of `family`; read in place, like `channelHop`.
    private static func relayed(_ allocation: inout Allocation, for family: TransportAddress.Family)
        -> TransportAddress?
    {
        allocation.relayed(for: family)
    }

    /// How a datagram from a peer reaches the client (RFC 8656 §11.3, §12.6).
    public enum PeerRoute: Sendable, Equatable {
        case channel(UInt16, to: FiveTuple)
        /// `peer` is the source as the client knows it (its XOR-PEER-ADDRESS).
        case dataIndication(to: FiveTuple, peer: TransportAddress)
        /// No allocation, or no permission for that peer: silently dropped.
        case drop
    }

    public mutating func routePeerData(
        to relayed: TransportAddress, from source: TransportAddress, length: Int, now: MonotonicTime
    ) -> PeerRoute {
        let peer = settings.externalAddress == nil ? source : clientView(of: source)
        // A relay socket carries peers of its own family only: in a dual allocation, a
        // permission of one family never opens the other family's socket.
        guard source.family == relayed.family, let tuple = tupleByRelay[relayed],
            let index = allocations.index(forKey: tuple),
            let access = Self.peerAccess(&allocations.values[index], peer: peer, now: now),
            !access.relayOnly || tupleByRelay[localRelay(for: peer)] != nil,
            admit(length, at: index, now: now)
        else { return .drop }
        if let channel = access.channel { return .channel(channel, to: tuple) }
        return .dataIndication(to: tuple, peer: peer)
    }

    /// Whether `peer` has a live permission on `allocation`, and its live channel if it has
    /// one; from the route cache or the tables, in place, like `channelHop`.
    private static func peerAccess(_ allocation: inout Allocation, peer: TransportAddress, now: MonotonicTime)
        -> (relayOnly: Bool, channel: UInt16?)?
    {
        if let route = allocation.routes.fromPeer, route.peer == peer, route.expiry > now {
            return (route.relayOnly, route.channel)
        }
        guard let permission = allocation.permissions[peer.host], permission.expiry > now else { return nil }
        // A channel that has expired stays so (time only moves on; binding it again empties
        // the cache), so the route without it is good for as long as the permission.
        let channel = allocation.channelsByPeer[peer].flatMap { $0.expiry > now ? $0 : nil }
        allocation.routes.fromPeer = RouteCache.FromPeer(
            peer: peer, channel: channel?.number, relayOnly: permission.relayOnly,
            expiry: channel.map { min($0.expiry, permission.expiry) } ?? permission.expiry)
        return (permission.relayOnly, channel?.number)
    }

    /// A Data indication carrying `payload` from `peer` (RFC 8656 §11.3).
    public func dataIndication(from peer: TransportAddress, payload: [UInt8]) -> [UInt8] {
        STUNMessage(
            type: STUNMessageType(method: .data, messageClass: .indication), transactionID: .random(),
            attributes: [.xorPeerAddress(peer), .data(payload)]
        ).encode()
    }

    // MARK: Lifetimes

    /// Removes expired allocations, permissions and channels; returns the relayed addresses
    /// whose sockets the driver must close.
    public mutating func expire(now: MonotonicTime) -> [TransportAddress] {
        var closed: [TransportAddress] = []
        // A source is forgotten once it has been quiet long enough for its bucket to refill.
        if !sources.isEmpty {
            sources = sources.filter { _, bucket in
                var probe = bucket
                return !probe.take(probe.burst, now: now)
            }
        }
        for (token, reservation) in reservations where reservation.expiry <= now {
            reservations[token] = nil
            relays.close(reservation.relayed)
            closed.append(reservation.relayed)
        }
        // Swept in place, by index: binding each allocation to a loop variable would copy it
        // (a retain and a release of each of its tables) every second, for every allocation.
        var expired: [FiveTuple] = []
        var index = allocations.startIndex
        while index != allocations.endIndex {
            if Self.sweep(&allocations.values[index], now: now) { expired.append(allocations.keys[index]) }
            allocations.formIndex(after: &index)
        }
        for tuple in expired {
            guard let allocation = allocations[tuple] else { continue }
            closed.append(contentsOf: allocation.relayedAddresses)
            remove(tuple, reason: .expired)
        }
        return closed
    }

    /// Drops `allocation`'s expired permissions and channels; true when the allocation itself
    /// has expired (then left as it is, for `remove`).
    private static func sweep(_ allocation: inout Allocation, now: MonotonicTime) -> Bool {
        if allocation.expiry <= now { return true }
        // Most seconds nothing has expired: the tables are only rebuilt when something has, so
        // the sweep over thousands of allocations reads them and allocates nothing.
        if allocation.permissions.contains(where: { $0.value.expiry <= now }) {
            allocation.permissions = allocation.permissions.filter { $0.value.expiry > now }
        }
        if allocation.channelsByNumber.contains(where: { $0.value.expiry <= now }) {
            for (number, binding) in allocation.channelsByNumber where binding.expiry <= now {
                allocation.channelsByNumber[number] = nil
                allocation.channelsByPeer[binding.peer] = nil
            }
        }
        return false
    }

    /// The client's connection is gone (TCP/TLS): its allocation goes with it (RFC 8656 §3.1).
    /// Returns the relayed addresses closed (none when there was no allocation).
    public mutating func connectionClosed(_ tuple: FiveTuple) -> [TransportAddress] {
        guard let allocation = allocations[tuple] else { return [] }
        remove(tuple, reason: .connectionClosed)
        return allocation.relayedAddresses
    }

    private mutating func remove(_ tuple: FiveTuple, reason: TURNEvent.Release) {
        guard let allocation = allocations.removeValue(forKey: tuple) else { return }
        record(.released(tuple, relayed: allocation.relayedAddresses, reason: reason))
        for relayed in allocation.relayedAddresses {
            tupleByRelay[relayed] = nil
            relays.close(relayed)
        }
        let key = quotaKey(allocation.username)
        let remaining = allocationsPerUser[key, default: 1] - 1
        allocationsPerUser[key] = remaining > 0 ? remaining : nil
    }

    // MARK: Responses

    /// How a peer may be reached: through the policy, or only as a live relayed address.
    private enum PeerAccess { case policy, relayOnly }

    private mutating func access(_ peer: TransportAddress) -> PeerAccess? {
        if case .allowed = policy.check(peer) { return .policy }
        // Relay to relay: two clients of this server that both use relayed candidates (both
        // behind symmetric NATs) talk through two allocations here. Only live relayed
        // addresses pass, not the server's other ports.
        if tupleByRelay[localRelay(for: peer)] != nil { return .relayOnly }
        counters.deniedPeers += 1
        record(.peerDenied(peer))
        return nil
    }

    /// Whether traffic may flow to or from `peer` now: a live permission, and for one granted
    /// relay-to-relay only, the peer must still be exactly a live relayed address.
    private func canReach(_ allocation: Allocation, _ peer: TransportAddress, now: MonotonicTime) -> Bool {
        guard let permission = allocation.permissions[peer.host], permission.expiry > now else { return false }
        return !permission.relayOnly || tupleByRelay[localRelay(for: peer)] != nil
    }

    private var softwareAttribute: [STUNAttribute] { settings.software.map { [.software($0)] } ?? [] }

    private func success(_ request: RequestContext, _ attributes: [STUNAttribute]) -> [UInt8] {
        STUNMessage(
            type: STUNMessageType(method: request.message.type.method, messageClass: .successResponse),
            transactionID: request.message.transactionID, attributes: attributes + softwareAttribute
        ).encode(integrity: STUNIntegrity(key: request.key), fingerprint: request.fingerprint)
    }

    /// An error to an authenticated request carries MESSAGE-INTEGRITY (RFC 8489 §9.2.4).
    private func failure(_ request: RequestContext, _ error: STUNErrorCode, extra: [STUNAttribute] = []) -> [UInt8] {
        STUNMessage(
            type: STUNMessageType(method: request.message.type.method, messageClass: .errorResponse),
            transactionID: request.message.transactionID,
            attributes: [.errorCode(error)] + extra + softwareAttribute
        ).encode(integrity: STUNIntegrity(key: request.key), fingerprint: request.fingerprint)
    }

    private func errorResponse(
        _ request: STUNMessage, _ error: STUNErrorCode, extra: [STUNAttribute] = [], fingerprint: Bool,
        integrity key: [UInt8]? = nil
    ) -> [UInt8] {
        STUNMessage(
            type: STUNMessageType(method: request.type.method, messageClass: .errorResponse),
            transactionID: request.transactionID, attributes: [.errorCode(error)] + extra + softwareAttribute
        ).encode(integrity: key.map { STUNIntegrity(key: $0) }, fingerprint: fingerprint)
    }
}

/// Something an operator wants in the log.
public enum TURNEvent: Sendable, Equatable {
    public enum Release: String, Sendable {
        case expired
        case refreshedToZero = "refreshed to zero"
        case connectionClosed = "connection closed"
    }

    /// `relayed` holds one address, or two for a dual allocation (IPv4 first).
    case allocated(FiveTuple, relayed: [TransportAddress], username: String, lifetime: UInt32)
    /// The relayed addresses closed: the allocation's, or one family's of a dual allocation.
    case released(FiveTuple, relayed: [TransportAddress], reason: Release)
    case authenticationFailed(FiveTuple, username: String)
    /// A CreatePermission or ChannelBind toward a peer the policy refuses (403).
    case peerDenied(TransportAddress)
}

/// What the TURN core counts; the driver exports these as metrics.
public struct TURNCounters: Sendable, Equatable {
    public init() {}

    public var bindings = 0
    public var allocationsCreated = 0
    public var authFailures = 0
    public var deniedPeers = 0
    public var quotaRejections = 0
    public var badRequests = 0
    public var malformed = 0
    public var dropped = 0
    /// Requests dropped by the per-source unauthenticated budget.
    public var rateLimited = 0
    /// Datagrams dropped by a bandwidth limit.
    public var overBandwidth = 0
}
