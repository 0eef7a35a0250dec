import Configuration
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `stagedoor turn-credentials`: what it prints, and that coturn's client, given only the printed
/// username and credential (plain long-term credentials, no `-W`), relays through the running
/// stack. In the interop suite, which runs serialized, because the tests share its ports.
extension TURNInteropTests {
    /// The dev configuration's TURN listeners, as `Config/stagedoor.yaml` spells them.
    static let developmentListeners = """
          listeners:
            - transport: udp
              address: 127.0.0.1
              port: 3478
            - transport: tcp
              address: 127.0.0.1
              port: 3478

        """

    /// `stagedoor turn-credentials --json ARGS`, parsed; fails the test unless it exits 0.
    static func mint(_ stack: StackHarness, _ arguments: [String]) throws -> [String: Any] {
        let result = try stack.cli(["turn-credentials", "--json"] + arguments)
        try #require(result.status == 0, "turn-credentials: \(result.output) \(result.errors)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        return try #require(object, "turn-credentials --json printed no object: \(result.output)")
    }

    /// The expiry a REST username carries: the digits before its first ':'.
    static func expiry(ofUsername username: String) -> Int? {
        Int(username.prefix { $0 != ":" })
    }

    static var unixNow: Int { Int(Date().timeIntervalSince1970) }

    /// Stops a peer from `startPeer` for good: it inherits a signal mask that blocks SIGTERM, so
    /// `terminate()` alone leaves it running (and holding the peer port).
    /// SIGKILL: the test runner's blocked signal mask is inherited, so the peer ignores SIGTERM.
    static func stopPeer(_ peer: Process) {
        kill(peer.processIdentifier, SIGKILL)
        peer.waitUntilExit()
    }

    /// A stack directory (not started) whose configuration has `turn:` edited by `edit`.
    static func configuredStack(_ edit: (String) -> String) throws -> StackHarness {
        let stack = try StackHarness()
        let text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        let edited = edit(text)
        try #require(edited != text, "the edit changed nothing in the template")
        try edited.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        return stack
    }

    /// uclient flags: UDP, TCP, and TLS (`-S` goes to the stack's `turns:` listener).
    @Test(arguments: [[String](), ["-t"], ["-t", "-S"]])
    func mintedCredentialsRelayThroughTheStack(_ transport: [String]) throws {
        let stack = try Self.makeStack()
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let before = Self.unixNow
        let minted = try Self.mint(stack, ["--user", "panel-7", "--ttl", "3600"])
        let after = Self.unixNow

        let username = try #require(minted["username"] as? String)
        let credential = try #require(minted["credential"] as? String)
        #expect(username.hasSuffix(":panel-7"))
        let expiry = try #require(Self.expiry(ofUsername: username), "\(username)")
        #expect(expiry >= before + 3_600 - 5 && expiry <= after + 3_600 + 5, "expiry \(expiry), now \(after)")
        #expect(minted["expires"] as? Int == expiry)
        #expect(minted["ttl"] as? Int == 3_600)
        // base64 of a 20-byte HMAC-SHA1: 28 characters with one '=' of padding.
        #expect(credential.count == 28 && credential.hasSuffix("=") && Data(base64Encoded: credential)?.count == 20)
        // One URI per listener of the stack, in order: turn: over UDP and TCP, turns: over TLS.
        let listeners = try ConfigurationLoader.load(path: stack.configPath).turn.listeners
        let uris = listeners.map { listener in
            let scheme = listener.transport == .tls ? "turns" : "turn"
            return "\(scheme):\(listener.address):\(listener.port)?transport=\(listener.transport.ipProtocol.rawValue)"
        }
        #expect(uris.contains("turn:127.0.0.1:\(Self.turnPort)?transport=udp"))
        #expect(uris.contains("turn:127.0.0.1:\(Self.turnPort)?transport=tcp"))
        #expect(minted["uris"] as? [String] == uris)
        let servers = try #require(minted["iceServers"] as? [[String: Any]])
        #expect(servers.count == 1)
        #expect(servers.first?["urls"] as? [String] == uris)
        #expect(servers.first?["username"] as? String == username)
        #expect(servers.first?["credential"] as? String == credential)
        #expect(Set(minted.keys) == ["username", "credential", "ttl", "expires", "uris", "iceServers"])

        let run = try Self.client(["-u", username, "-w", credential] + transport)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.lost == 0, "\(run.output)")
        #expect((run.sent ?? 0) >= 40 && run.received == run.sent, "\(run.output)")
        #expect(try Self.turnCounter(stack, "allocations_created").map { $0 >= 1 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func shortLivedCredentialWorksAndAWrongOneForTheSameUsernameFails() throws {
        let stack = try Self.makeStack()
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let minted = try Self.mint(stack, ["--user", "softphone", "--ttl", "60"])
        let username = try #require(minted["username"] as? String)
        let credential = try #require(minted["credential"] as? String)
        let expiry = try #require(Self.expiry(ofUsername: username))
        #expect(abs(expiry - (Self.unixNow + 60)) <= 5, "\(username)")
        #expect(minted["ttl"] as? Int == 60)

        let good = try Self.client(["-u", username, "-w", credential])
        #expect(good.status == 0 && good.lost == 0 && good.received == good.sent, "\(good.output)")
        // The same username with another credential.
        let wrong = String(credential.reversed())
        let bad = try Self.client(["-u", username, "-w", wrong])
        #expect(bad.status != 0, "\(bad.output)")
        #expect((bad.received ?? 0) == 0)
        #expect(try Self.turnCounter(stack, "auth_failures").map { $0 >= 1 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func plainOutputAndTheFirstSecretMints() throws {
        let first = "first-secret-0123456789"
        let stack = try Self.configuredStack {
            $0.replacingOccurrences(
                of: "      - development-only-secret-change-me",
                with: "      - \(first)\n      - second-secret-0123456789")
        }
        let before = Self.unixNow
        let result = try stack.cli(["turn-credentials", "--user", "matrix-port-3"])
        #expect(result.status == 0, "\(result.errors)")
        let lines = result.output.split(separator: "\n").map(String.init)
        try #require(lines.count == 6, "\(result.output)")
        #expect(lines[3] == "uris:")
        #expect(lines[4].trimmingCharacters(in: .whitespaces) == "turn:127.0.0.1:3478?transport=udp")
        #expect(lines[5].trimmingCharacters(in: .whitespaces) == "turn:127.0.0.1:3478?transport=tcp")

        let username = try #require(lines[0].split(separator: " ").last.map(String.init))
        #expect(lines[0] == "username: \(username)" && username.hasSuffix(":matrix-port-3"))
        let expiry = try #require(Self.expiry(ofUsername: username))
        #expect(abs(expiry - (before + 86_400)) <= 5)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let stamp = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(expiry)))
        #expect(lines[2] == "expires: \(stamp) (in 86400 s)")

        // base64(HMAC-SHA1(first secret, username)), as openssl computes it.
        let openssl = try StackHarness.run(
            "/bin/sh",
            [
                "-c", "printf %s \"$1\" | openssl dgst -sha1 -hmac \"$2\" -binary | base64", "-",
                username, first,
            ])
        let expected = openssl.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(openssl.status == 0 && expected.count == 28, "\(openssl.errors)")
        #expect(lines[1] == "credential: \(expected)")
    }

    @Test func noSecretIsAConfigurationError() throws {
        let stack = try Self.configuredStack {
            $0.replacingOccurrences(
                of: "    secrets:\n      - development-only-secret-change-me", with: "    secrets: []")
        }
        let result = try stack.cli(["turn-credentials", "--user", "panel-7", "--json"])
        #expect(result.status == 78, "\(result.output) \(result.errors)")
        #expect(result.errors.contains("turn.auth.secrets"), "\(result.errors)")
        #expect(result.output.isEmpty)
    }

    @Test(arguments: [
        (["--user", "a:b"], "':'"),
        (["--user", ""], "--user"),
        ([], "--user"),
        (["--user", "panel-7", "--ttl", "59"], "--ttl"),
        (["--user", "panel-7", "--ttl", "604801"], "--ttl"),
    ])
    func badArgumentsAreRefused(_ arguments: [String], _ message: String) throws {
        let stack = try StackHarness()
        let result = try stack.cli(["turn-credentials"] + arguments)
        #expect(result.status == 64, "\(result.output) \(result.errors)")
        #expect(result.errors.contains(message), "\(result.errors)")
        #expect(result.output.isEmpty)
    }

    @Test func ttlBoundsAreAccepted() throws {
        let stack = try StackHarness()
        for ttl in [60, 604_800] {
            let minted = try Self.mint(stack, ["--user", "panel-7", "--ttl", "\(ttl)"])
            #expect(minted["ttl"] as? Int == ttl)
            let expiry = try #require((minted["username"] as? String).flatMap(Self.expiry(ofUsername:)))
            #expect(abs(expiry - (Self.unixNow + ttl)) <= 5)
        }
    }

    /// Listener sets (YAML under `turn:`), `external_ip`, and the URIs they imply; nil: exit 78
    /// naming `turn.external_ip`.
    static let uriCases: [(listeners: String, external: String?, uris: [String]?)] = [
        (
            "    - {transport: udp, address: 0.0.0.0, port: 3478}\n", nil, nil
        ),
        (
            "    - {transport: tcp, address: '::', port: 3478}\n", nil, nil
        ),
        (
            "    - {transport: udp, address: 0.0.0.0, port: 3478}\n", "::", nil
        ),
        (
            "    - {transport: udp, address: 0.0.0.0, port: 3478}\n"
                + "    - {transport: tcp, address: 0.0.0.0, port: 3478}\n"
                + "    - {transport: tls, address: 0.0.0.0, port: 5349, certificate: cert.pem, private_key: key.pem}\n",
            "203.0.113.10",
            [
                "turn:203.0.113.10:3478?transport=udp", "turn:203.0.113.10:3478?transport=tcp",
                "turns:203.0.113.10:5349?transport=tcp",
            ]
        ),
        (
            "    - {transport: udp, address: '::1', port: 3478}\n"
                + "    - {transport: tls, address: '::1', port: 5349, certificate: cert.pem, private_key: key.pem}\n",
            nil,
            ["turn:[::1]:3478?transport=udp", "turns:[::1]:5349?transport=tcp"]
        ),
        (
            // Two listeners that look the same from outside give one URI.
            "    - {transport: udp, address: 127.0.0.1, port: 3478}\n"
                + "    - {transport: udp, address: '::1', port: 3478}\n",
            "2001:db8::10",
            ["turn:[2001:db8::10]:3478?transport=udp"]
        ),
    ]

    @Test(arguments: uriCases.indices)
    func urisFollowListenersAndExternalAddress(_ index: Int) throws {
        let (listeners, external, uris) = Self.uriCases[index]
        let stack = try Self.configuredStack { text in
            var text = text.replacingOccurrences(of: Self.developmentListeners, with: "  listeners:\n" + listeners)
            if let external {
                text = text.replacingOccurrences(
                    of: "  # external_ip: 203.0.113.10", with: "  external_ip: '\(external)'  #")
            }
            return text
        }
        for file in ["cert.pem", "key.pem"] {
            try "not used: nothing starts\n".write(
                toFile: stack.directory + "/" + file, atomically: true, encoding: .utf8)
        }
        let result = try stack.cli(["turn-credentials", "--user", "panel-7", "--json"])
        guard let uris else {
            #expect(result.status == 78, "\(result.output) \(result.errors)")
            #expect(result.errors.contains("turn.external_ip"), "\(result.errors)")
            #expect(result.output.isEmpty)
            return
        }
        try #require(result.status == 0, "\(result.output) \(result.errors)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect(object?["uris"] as? [String] == uris)
        #expect((object?["iceServers"] as? [[String: Any]])?.first?["urls"] as? [String] == uris)
    }
}
