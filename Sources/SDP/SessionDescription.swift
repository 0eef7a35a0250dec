/// A session description (RFC 8866 §5): the session-level fields and the media descriptions, in
/// wire order. Parse one with `SessionDescription(parsing:)`, write one with `serialized()`.
///
/// The model keeps every attribute as it came (`attributes`, in order), so what it does not type
/// survives a round trip; typed views (`groups`, `MediaDescription.rtpMaps`, `candidates`, …) are
/// computed from those lines.
public struct SessionDescription: Hashable, Sendable {
    /// `v=`: always 0 (RFC 8866 §5.1).
    public var version: Int
    /// `o=` (RFC 8866 §5.2).
    public var origin: Origin
    /// `s=`: RFC 8866 §5.3 wants it non-empty; `-` is the conventional "no name".
    public var sessionName: String
    /// `i=` (RFC 8866 §5.4).
    public var information: String?
    /// `u=` (RFC 8866 §5.5).
    public var uri: String?
    /// `e=` lines (RFC 8866 §5.6).
    public var emails: [String]
    /// `p=` lines (RFC 8866 §5.6).
    public var phones: [String]
    /// The session-level `c=` (RFC 8866 §5.7).
    public var connection: ConnectionData?
    /// `b=` lines (RFC 8866 §5.8).
    public var bandwidths: [Bandwidth]
    /// `t=` lines, each with its `r=` lines (RFC 8866 §5.9, §5.10); at least one.
    public var timings: [Timing]
    /// `z=`, kept as its text (RFC 8866 §5.11).
    public var timeZones: String?
    /// `k=`, obsolete but still legal to receive (RFC 8866 §5.12).
    public var encryptionKey: String?
    /// Session-level `a=` lines in order (RFC 8866 §5.13).
    public var attributes: [Attribute]
    /// `m=` sections in order (RFC 8866 §5.14).
    public var media: [MediaDescription]

    public init(
        origin: Origin, sessionName: String = "-", connection: ConnectionData? = nil,
        timings: [Timing] = [Timing()], attributes: [Attribute] = [], media: [MediaDescription] = []
    ) {
        self.version = 0
        self.origin = origin
        self.sessionName = sessionName
        self.information = nil
        self.uri = nil
        self.emails = []
        self.phones = []
        self.connection = connection
        self.bandwidths = []
        self.timings = timings
        self.timeZones = nil
        self.encryptionKey = nil
        self.attributes = attributes
        self.media = media
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (RFC 8866 §5.2).
public struct Origin: Hashable, Sendable {
    /// `-` when the host has no notion of user ids.
    public var username: String
    /// A numeric string; kept as text because some stacks send more digits than 64 bits hold.
    public var sessionID: String
    /// Incremented by whoever changes the description (RFC 3264 §8).
    public var sessionVersion: UInt64
    public var networkType: String
    public var addressType: AddressType
    public var unicastAddress: String

    public init(
        username: String = "-", sessionID: String, sessionVersion: UInt64, networkType: String = "IN",
        addressType: AddressType = .ip4, unicastAddress: String = "0.0.0.0"
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.unicastAddress = unicastAddress
    }
}

/// The `<addrtype>` of `o=` and `c=` (RFC 8866 §5.2, §5.7).
public enum AddressType: Hashable, Sendable, CustomStringConvertible {
    case ip4
    case ip6
    case other(String)

    public init(_ text: String) {
        switch text {
        case "IP4": self = .ip4
        case "IP6": self = .ip6
        default: self = .other(text)
        }
    }

    public var description: String {
        switch self {
        case .ip4: "IP4"
        case .ip6: "IP6"
        case .other(let text): text
        }
    }
}

/// `c=<nettype> <addrtype> <connection-address>` with the multicast `/ttl` and `/number of
/// addresses` suffixes (RFC 8866 §5.7).
public struct ConnectionData: Hashable, Sendable {
    public var networkType: String
    public var addressType: AddressType
    /// The address without its suffixes.
    public var address: String
    /// The IPv4 multicast TTL (`/127`); IPv6 multicast has none (RFC 8866 §5.7).
    public var ttl: Int?
    /// The number of consecutive multicast addresses (`/3`).
    public var numberOfAddresses: Int?

    /// Without `addressType`, `IP4` or `IP6` is chosen from the address's spelling (a colon means IPv6).
    public init(
        networkType: String = "IN", addressType: AddressType? = nil, address: String, ttl: Int? = nil,
        numberOfAddresses: Int? = nil
    ) {
        self.networkType = networkType
        self.addressType = addressType ?? (address.contains(":") ? .ip6 : .ip4)
        self.address = address
        self.ttl = ttl
        self.numberOfAddresses = numberOfAddresses
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8); `AS` and `CT` in kbit/s, `TIAS` (RFC 3890) in bit/s.
public struct Bandwidth: Hashable, Sendable {
    public var type: String
    public var value: UInt64

    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }
}

/// `t=<start-time> <stop-time>` (NTP seconds; `0 0` is "unbounded") with its `r=` lines kept as
/// text (RFC 8866 §5.9, §5.10).
public struct Timing: Hashable, Sendable {
    public var start: UInt64
    public var stop: UInt64
    public var repeats: [String]

    public init(start: UInt64 = 0, stop: UInt64 = 0, repeats: [String] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }
}

/// One `a=` line: a property attribute (`a=rtcp-mux`, `value == nil`) or a value attribute
/// (`a=mid:0`) (RFC 8866 §5.13). Names compare case-sensitively, as the registry spells them.
public struct Attribute: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    public var description: String {
        if let value { "a=\(name):\(value)" } else { "a=\(name)" }
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> …` and the lines under it (RFC 8866 §5.14).
public struct MediaDescription: Hashable, Sendable {
    /// `audio`, `video`, `application`, …
    public var media: String
    /// 0 rejects or disables the section (RFC 3264 §6, §8.2).
    public var port: UInt16
    public var numberOfPorts: Int?
    /// `UDP/TLS/RTP/SAVPF` for WebRTC media (RFC 8827), `RTP/AVP` for AES67.
    public var proto: String
    /// Payload type numbers for RTP profiles, other tokens otherwise.
    public var formats: [String]
    public var information: String?
    /// Media-level `c=` lines (several only for layered multicast).
    public var connections: [ConnectionData]
    public var bandwidths: [Bandwidth]
    public var encryptionKey: String?
    /// Media-level `a=` lines in order.
    public var attributes: [Attribute]

    public init(
        media: String, port: UInt16, proto: String, formats: [String], connection: ConnectionData? = nil,
        attributes: [Attribute] = []
    ) {
        self.media = media
        self.port = port
        self.numberOfPorts = nil
        self.proto = proto
        self.formats = formats
        self.information = nil
        self.connections = connection.map { [$0] } ?? []
        self.bandwidths = []
        self.encryptionKey = nil
        self.attributes = attributes
    }
}

// MARK: - Generic attribute access

/// Looking attributes up by name, shared by the session and its media sections.
public protocol AttributeContainer {
    var attributes: [Attribute] { get set }
}

extension SessionDescription: AttributeContainer {}
extension MediaDescription: AttributeContainer {}

extension AttributeContainer {
    /// The value of the first attribute called `name` (`""` for a property attribute), or nil.
    public func attribute(_ name: String) -> String? {
        for attribute in attributes where attribute.name == name { return attribute.value ?? "" }
        return nil
    }

    /// The values of every attribute called `name`, in order.
    public func attributes(named name: String) -> [String] {
        attributes.compactMap { $0.name == name ? ($0.value ?? "") : nil }
    }

    /// True when a property or value attribute called `name` is present.
    public func hasAttribute(_ name: String) -> Bool {
        attributes.contains { $0.name == name }
    }
}
