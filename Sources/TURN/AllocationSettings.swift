import STUN

/// What the TURN core needs from the configuration, in protocol terms.
public struct AllocationSettings: Sendable {
    /// RFC 8489 §9.2: the REALM every long-term credential belongs to.
    public var realm: String
    /// Static long-term users: username → key (MD5 of user:realm:password, RFC 8489 §9.2.2),
    /// precomputed so no password is kept in memory.
    public var users: [String: [UInt8]]
    /// TURN REST API shared secrets; several, so a secret can be rotated without cutting anyone off.
    public var restSecrets: [String]
    /// Advertised in XOR-RELAYED-ADDRESS instead of the bound address (box behind 1:1 NAT).
    public var externalAddress: TransportAddress?
    /// RFC 8656 §3.2: 10 minutes by default.
    public var defaultLifetime: UInt32 = 600
    /// The most a client may ask for; coturn's default too.
    public var maximumLifetime: UInt32 = 3_600
    /// RFC 8656 §9: fixed at 300 s.
    public var permissionLifetime: UInt32 = 300
    /// RFC 8656 §12: 10 minutes.
    public var channelLifetime: UInt32 = 600
    public var maximumAllocationsPerUser: Int = 10
    public var maximumAllocations: Int = 10_000
    public var maximumPermissionsPerAllocation: Int = 64
    /// Relayed bytes per second per allocation, both directions together; 0 is unlimited.
    public var bandwidthPerAllocation: Int = 0
    /// Relayed bytes per second over all allocations; 0 is unlimited.
    public var bandwidthTotal: Int = 0
    /// Requests per second one source IP may make without an allocation (each may cost an
    /// HMAC per secret); a burst of twice that. 0 is unlimited.
    public var unauthenticatedRequestsPerSecond: Int = 50
    /// Sent as SOFTWARE; off by default so the server does not advertise its version.
    public var software: String?

    public init(realm: String, users: [String: [UInt8]] = [:], restSecrets: [String] = []) {
        self.realm = realm
        self.users = users
        self.restSecrets = restSecrets
    }

    /// Adds a static user from a clear-text password, storing only its key.
    public mutating func addUser(_ name: String, password: String) {
        users[name] = STUNCredentials.longTermKey(username: name, realm: realm, password: password)
    }
}
