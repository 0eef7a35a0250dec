import ArgumentParser
import Configuration
import Control
import Foundation
import TURN

/// `stagedoor turn-credentials`: mints time-limited TURN REST API credentials
/// (draft-uberti-behave-turn-rest-00, coturn's `use-auth-secret`) from the configured shared
/// secret, and prints the ICE server entry a WebRTC client puts into `RTCPeerConnection`.
struct TURNCredentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "turn-credentials",
        abstract: "Mint TURN REST API credentials from turn.auth.secrets and print the ICE servers to use.",
        discussion: """
            The username is "<expiry>:<user>" (expiry in Unix seconds) and the credential \
            base64(HMAC-SHA1(secret, username)) with the first secret of turn.auth.secrets; \
            stagedoor-turn accepts it, with any of the secrets, until the expiry passes. \
            Exit 78 when the configuration is invalid, has no secret, or gives no address a \
            client can reach (set turn.external_ip).
            """)

    /// The allowed `--ttl`: one minute to one week.
    static let ttlRange = 60...604_800

    @OptionGroup var options: StackOptions

    @Option(
        name: .customLong("user"),
        help: ArgumentHelp(
            "Who the credentials are for (a panel, a user id); becomes part of the username; no ':'.",
            valueName: "NAME"))
    var user: String

    @Option(
        name: .customLong("ttl"),
        help: ArgumentHelp(
            "How long the credentials stay valid, in seconds, from \(ttlRange.lowerBound) to \(ttlRange.upperBound).",
            valueName: "SECONDS"))
    var ttl: Int = 86_400

    @Flag(help: "Print JSON: {\"username\", \"credential\", \"ttl\", \"expires\", \"uris\", \"iceServers\"}.")
    var json = false

    func validate() throws {
        guard !user.isEmpty else { throw ValidationError("--user must not be empty") }
        guard !user.contains(":") else {
            throw ValidationError("--user must not contain ':' (it separates the expiry from the name)")
        }
        guard Self.ttlRange.contains(ttl) else {
            throw ValidationError(
                "--ttl \(ttl) is out of range; allowed: \(Self.ttlRange.lowerBound) to \(Self.ttlRange.upperBound) s")
        }
    }

    func run() async throws {
        let stack = Stack(options)
        let settings = try stack.loadConfiguration().turn
        guard let secret = settings.secrets.first else {
            printError(
                "\(stack.configPath): turn.auth.secrets is empty; add a shared secret (at least 16 characters) "
                    + "to turn.auth.secrets to mint TURN REST credentials")
            throw StackExit.invalidConfiguration
        }
        let uris: [String]
        do {
            uris = try Self.uris(for: settings)
        } catch {
            printError("\(stack.configPath): \(error)")
            throw StackExit.invalidConfiguration
        }
        let expiry = UInt64(Date().timeIntervalSince1970) + UInt64(ttl)
        let username = RESTCredentials.username(user: user, expiry: expiry)
        let credential = RESTCredentials.password(username: username, secret: secret)
        if json {
            let urls = JSONValue.array(uris.map { .string($0) })
            printJSON([
                "username": .string(username), "credential": .string(credential), "ttl": JSONValue(ttl),
                "expires": JSONValue(Int(expiry)), "uris": urls,
                "iceServers": [["urls": urls, "username": .string(username), "credential": .string(credential)]],
            ])
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        print("username: \(username)")
        print("credential: \(credential)")
        print("expires: \(formatter.string(from: Date(timeIntervalSince1970: Double(expiry)))) (in \(ttl) s)")
        print("uris:")
        for uri in uris { print("  \(uri)") }
    }

    /// A wildcard host (`0.0.0.0`, `::`) that clients cannot dial: a listener's address with no
    /// `external_ip` to advertise instead, or `external_ip` itself.
    struct UnreachableHost: Error, CustomStringConvertible {
        var listener: Listener
        var externalAddress: String?

        var description: String {
            if let externalAddress {
                return "turn.external_ip: \(externalAddress) is a wildcard address clients cannot reach; "
                    + "set turn.external_ip to the address they reach this box at"
            }
            return "turn.listeners: \(listener.transport.rawValue) \(listener.address) port \(listener.port) "
                + "listens on every address, so clients must be told which one to use: set turn.external_ip "
                + "to the address they reach this box at"
        }
    }

    /// One TURN URI per listener (RFC 7065), in the order of `turn.listeners`, without repeats:
    /// `turn:` over UDP and TCP, `turns:` over TLS. The host is `external_ip` when set, else the
    /// listener's address; an IPv6 host goes in brackets.
    static func uris(for settings: TURNSettings) throws(UnreachableHost) -> [String] {
        var uris: [String] = []
        for listener in settings.listeners {
            let host = settings.externalAddress ?? listener.address
            if IPAddressText.isWildcard(host) {
                throw UnreachableHost(listener: listener, externalAddress: settings.externalAddress)
            }
            let hostText = IPAddressText.family(of: host) == .v6 ? "[\(host)]" : host
            let uri: String
            switch listener.transport {
            case .udp: uri = "turn:\(hostText):\(listener.port)?transport=udp"
            case .tcp: uri = "turn:\(hostText):\(listener.port)?transport=tcp"
            case .tls: uri = "turns:\(hostText):\(listener.port)?transport=tcp"
            case .ws, .wss: continue  // not TURN transports; the configuration does not allow them here
            }
            if !uris.contains(uri) { uris.append(uri) }
        }
        return uris
    }
}
