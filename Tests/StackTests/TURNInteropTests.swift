import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// stagedoor-turn against coturn's own clients (Debian package `coturn`): allocations,
/// channels and Send indications over UDP and TCP, static and REST credentials, a denied
/// peer, and a wrong password — with the next client still served.
@Suite(.serialized)
struct TURNInteropTests {
    static let turnPort = 34_780
    static let turnsPort = 34_781
    static let peerPort = 34_790
    static let secret = "interop-test-secret-0123456789"

    /// The stack with TURN on loopback ports of its own and the loopback peer explicitly allowed.
    static func makeStack(allowLoopbackPeer: Bool = true, limits: [String: Int] = [:]) throws -> StackHarness {
        let stack = try StackHarness()
        var text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "port: 3478", with: "port: \(turnPort)")
        text = text.replacingOccurrences(of: "port_min: 30000", with: "port_min: 35000")
        text = text.replacingOccurrences(of: "port_max: 39999", with: "port_max: 35099\n    ipv6_address: ::1")
        text = text.replacingOccurrences(of: "      - development-only-secret-change-me", with: "      - \(secret)")
        text = text.replacingOccurrences(
            of: "    users: []", with: "    users:\n      - {name: alice, password: wonderland-42}")
        if allowLoopbackPeer {
            // The peer sits on 127.0.0.2: the server's own address (127.0.0.1) stays denied
            // even when allowed, so the allow list can never reach the box itself.
            text = text.replacingOccurrences(of: "    allow: []", with: "    allow: [127.0.0.2/32]")
        }
        // A turns: listener with a fresh self-signed certificate.
        let openssl = try StackHarness.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-keyout", stack.directory + "/key.pem", "-out", stack.directory + "/cert.pem",
            ])
        try #require(openssl.status == 0, "openssl: \(openssl.errors)")
        text = text.replacingOccurrences(
            of: "  relay:\n",
            with: """
                    - transport: tls
                      address: 127.0.0.1
                      port: \(turnsPort)
                      certificate: cert.pem
                      private_key: key.pem
                  relay:

                """)
        for (key, value) in limits {
            guard let range = text.range(of: "    \(key): [0-9]+", options: .regularExpression) else {
                throw HarnessError("no turn.limits key \(key) in the template")
            }
            text.replaceSubrange(range, with: "    \(key): \(value)")
        }
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let started = try stack.cli(["start"])
        try #require(started.status == 0, "start: \(started.output) \(started.errors)")
        return stack
    }

    /// coturn's UDP echo peer, stopped when the returned process is terminated.
    static func startPeer() throws -> Process {
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/turnutils_peer")
        peer.arguments = ["-L", "127.0.0.2", "-p", "\(peerPort)"]
        peer.standardOutput = FileHandle.nullDevice
        peer.standardError = FileHandle.nullDevice
        try peer.run()
        usleep(200_000)
        return peer
    }

    struct ClientRun {
        var status: Int32
        var output: String
        var lost: Int?
        var sent: Int?
        var received: Int?
    }

    /// Runs turnutils_uclient (bounded: a fixed message count and a timeout).
    static func client(_ flags: [String]) throws -> ClientRun {
        // -S is TLS (with -t): the turns: listener.
        let port = flags.contains("-S") ? turnsPort : turnPort
        let arguments =
            flags + [
                "-e", "127.0.0.2", "-r", "\(peerPort)", "-p", "\(port)", "-n", "40", "-l", "172",
                "-z", "5", "127.0.0.1",
            ]
        let result = try StackHarness.run("/usr/bin/turnutils_uclient", arguments, timeout: 60)
        let text = result.output + result.errors
        /// The number after the last occurrence of `marker` (uclient prints running totals).
        func number(after marker: String) -> Int? {
            guard let range = text.range(of: marker, options: .backwards) else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }
        return ClientRun(
            status: result.status, output: text, lost: number(after: "Total lost packets "),
            sent: number(after: "tot_send_msgs="), received: number(after: "tot_recv_msgs="))
    }

    static func turnCounter(_ stack: StackHarness, _ name: String) throws -> Int? {
        let answer = try ControlSocketTests.exchange(
            stack.runtimeDirectory + "/turn.sock", [#"{"jsonrpc":"2.0","id":1,"method":"status"}"#])
        let details = (answer.first?["result"] as? [String: Any])?["details"] as? [String: Any]
        return (details?["counters"] as? [String: Any])?[name] as? Int
    }

    @Test(arguments: [
        ["-u", "alice", "-w", "wonderland-42"],  // static user, UDP, channels
        ["-u", "alice", "-w", "wonderland-42", "-s"],  // Send/Data indications
        ["-u", "alice", "-w", "wonderland-42", "-t"],  // TCP
        ["-u", "alice", "-w", "wonderland-42", "-t", "-s"],
        ["-W", secret, "-u", "panel-7"],  // TURN REST API credentials
        ["-W", secret, "-u", "panel-7", "-t"],
        ["-u", "alice", "-w", "wonderland-42", "-t", "-S"],  // TLS (turns:)
        ["-W", secret, "-u", "panel-7", "-t", "-S", "-s"],
        // Client to client: both relayed, so traffic goes relay → relay inside this server.
        ["-u", "alice", "-w", "wonderland-42", "-y"],
        ["-u", "alice", "-w", "wonderland-42", "-y", "-t"],
        // IPv6 relayed addresses (RFC 6156), client to client through ::1.
        ["-u", "alice", "-w", "wonderland-42", "-y", "-x"],
        // Dual allocation (RFC 8656 §7.2; coturn sends ADDITIONAL-ADDRESS-FAMILY under its draft number).
        ["-u", "alice", "-w", "wonderland-42", "-Z"],
    ])
    func coturnClientRelaysWithoutLoss(_ flags: [String]) throws {
        let stack = try Self.makeStack()
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let run = try Self.client(flags)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.lost == 0, "\(run.output)")
        // Every message the client sent came back from the echo peer through the relay.
        #expect((run.sent ?? 0) >= 40 && run.received == run.sent, "\(run.output)")
        if flags.contains("-Z") {
            // Each allocation got both families: an IPv4 and an IPv6 (::1) relayed address.
            let log = try String(contentsOfFile: stack.runtimeDirectory + "/supervisor.log", encoding: .utf8)
            let created = log.split(separator: "\n").filter { $0.contains("allocation created") }
            #expect(
                !created.isEmpty && created.allSatisfy { $0.contains("127.0.0.1:") && $0.contains("::1") }, "\(log)")
        }
        #expect(try Self.turnCounter(stack, "allocations_created").map { $0 >= 1 } == true)
        #expect(try Self.turnCounter(stack, "packets_to_peers").map { $0 > 0 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func wrongPasswordIsRefusedAndTheNextClientServed() throws {
        let stack = try Self.makeStack()
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let bad = try Self.client(["-u", "alice", "-w", "not-the-password"])
        #expect(bad.status != 0, "\(bad.output)")
        #expect((bad.received ?? 0) == 0)
        #expect(try Self.turnCounter(stack, "auth_failures").map { $0 >= 1 } == true)
        let good = try Self.client(["-u", "alice", "-w", "wonderland-42"])
        #expect(good.status == 0 && good.lost == 0 && good.received == good.sent, "\(good.output)")
        // The operator sees both in the log.
        let log = try String(contentsOfFile: stack.runtimeDirectory + "/supervisor.log", encoding: .utf8)
        #expect(log.contains("stagedoor-turn") && log.contains("authentication failed") && log.contains("user=alice"))
        #expect(log.contains("allocation created"))
        #expect(try stack.status().state("turn") == "running")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func loopbackPeerIsDeniedByDefault() throws {
        let stack = try Self.makeStack(allowLoopbackPeer: false)
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let run = try Self.client(["-u", "alice", "-w", "wonderland-42"])
        #expect(run.status != 0 && (run.received ?? 0) == 0, "relayed to loopback: \(run.output)")
        #expect(try Self.turnCounter(stack, "denied_peers").map { $0 >= 1 } == true)
        #expect(try Self.turnCounter(stack, "packets_to_peers") == 0)
        #expect(try stack.cli(["stop"]).status == 0)
    }
}

extension TURNInteropTests {
    /// A reload that rotates the REST secret keeps live allocations (their keys are kept) while
    /// new clients need the new secret.
    @Test func reloadRotatesSecretsWithoutDroppingAllocations() throws {
        let stack = try Self.makeStack()
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        // A client that runs for about 4 s on the old secret…
        let arguments = [
            "-W", Self.secret, "-u", "long-call", "-e", "127.0.0.2", "-r", "\(Self.peerPort)",
            "-p", "\(Self.turnPort)", "-n", "200", "-z", "20", "-l", "172", "127.0.0.1",
        ]
        let longCall = Process()
        longCall.executableURL = URL(fileURLWithPath: "/usr/bin/turnutils_uclient")
        longCall.arguments = arguments
        let output = Pipe()
        longCall.standardOutput = output
        longCall.standardError = output
        try longCall.run()
        usleep(1_500_000)
        #expect(try Self.turnCounter(stack, "allocations_created").map { $0 >= 1 } == true)

        // …while the secret is replaced and the configuration reloaded.
        let newSecret = "rotated-secret-abcdefghijklmnop"
        let text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        try text.replacingOccurrences(of: "      - \(Self.secret)", with: "      - \(newSecret)")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let reload = try stack.cli(["reload"])
        #expect(reload.status == 0, "\(reload.errors)")

        let deadline = Date().addingTimeInterval(30)
        while longCall.isRunning, Date() < deadline { usleep(50_000) }
        #expect(!longCall.isRunning)
        let transcript = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(longCall.terminationStatus == 0, "\(transcript)")
        #expect(transcript.contains("Total lost packets 0 "), "\(transcript)")

        // The old secret no longer opens allocations; the new one does.
        #expect(try Self.client(["-W", Self.secret, "-u", "late"]).status != 0)
        let fresh = try Self.client(["-W", newSecret, "-u", "late"])
        #expect(fresh.status == 0 && fresh.lost == 0 && fresh.received == fresh.sent, "\(fresh.output)")
        #expect(try stack.status().restarts("turn") == 0)
        #expect(try stack.cli(["stop"]).status == 0)
    }
}

extension TURNInteropTests {
    /// 64 kbit/s per allocation cannot carry ~34 kB/s: datagrams are dropped and counted.
    @Test func bandwidthLimitDropsTheExcess() throws {
        let stack = try Self.makeStack(limits: ["bandwidth_per_allocation_kbps": 64])
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        let run = try Self.client(["-u", "alice", "-w", "wonderland-42"])
        #expect((run.lost ?? 0) > 0, "nothing was limited: \(run.output)")
        #expect(try Self.turnCounter(stack, "over_bandwidth").map { $0 > 0 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// One unauthenticated request per second per source: ten clients at once from one address
    /// are mostly turned away, silently, and counted.
    @Test func unauthenticatedRequestsAreRateLimitedPerSource() throws {
        let stack = try Self.makeStack(limits: ["unauthenticated_per_second": 1])
        let peer = try Self.startPeer()
        defer { Self.stopPeer(peer) }
        _ = try Self.client(["-u", "alice", "-w", "wonderland-42", "-m", "10"])
        #expect(try Self.turnCounter(stack, "rate_limited").map { $0 > 0 } == true)
        #expect(try stack.status().state("turn") == "running")
        #expect(try stack.cli(["stop"]).status == 0)
    }
}
