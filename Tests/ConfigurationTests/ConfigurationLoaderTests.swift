import Foundation
import Testing

@testable import Configuration

/// The checkout's root, found from this file: `Tests/ConfigurationTests/<file>`.
private let checkoutRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// A complete, valid configuration; tests edit copies of it.
private let validYAML = """
    runtime_dir: run
    turn:
      realm: example.test
      listeners:
        - transport: udp
          address: 127.0.0.1
          port: 3478
      relay:
        address: 127.0.0.1
        port_min: 30000
        port_max: 39999
    bridge:
      whip:
        transport: tcp
        address: 127.0.0.1
        port: 8889
      media:
        address: 127.0.0.1
        port_min: 40000
        port_max: 40999
      ng:
        address: 127.0.0.1
        port: 22222
    sip:
      listeners:
        - transport: udp
          address: 127.0.0.1
          port: 5060
    """

/// `validYAML` with one exact line replaced; fails the test when the line is not there.
private func edit(_ text: String = validYAML, replacing old: String, with new: String) throws -> String {
    let lines = text.components(separatedBy: "\n")
    let matches = lines.indices.filter { lines[$0] == old }
    try #require(matches.count == 1, "expected exactly one line \"\(old)\"")
    var edited = lines
    edited[matches[0]] = new
    return edited.joined(separator: "\n")
}

/// The 1-based number of the only line that contains `needle`.
private func line(of needle: String, in text: String) throws -> Int {
    let lines = text.components(separatedBy: "\n")
    let matches = lines.indices.filter { lines[$0].contains(needle) }
    try #require(matches.count == 1, "expected exactly one line containing \"\(needle)\"")
    return matches[0] + 1
}

/// Parses `text` expecting it to fail, and returns the issues.
private func issues(
    _ text: String, runtimeDirectory: String? = nil, fileExists: @escaping (String) -> Bool = { _ in true }
) throws -> [ConfigurationIssue] {
    do {
        let configuration = try ConfigurationLoader.parse(
            text, file: "test.yaml", baseDirectory: "/etc/stagedoor", runtimeDirectory: runtimeDirectory,
            fileExists: fileExists)
        Issue.record("expected the configuration to be rejected, got \(configuration)")
        return []
    } catch let error as ConfigurationError {
        #expect(error.file == "test.yaml")
        #expect(!error.issues.isEmpty)
        return error.issues
    }
}

private func parse(_ text: String, runtimeDirectory: String? = nil) throws -> StagedoorConfiguration {
    try ConfigurationLoader.parse(
        text, file: "test.yaml", baseDirectory: "/etc/stagedoor", runtimeDirectory: runtimeDirectory)
}

@Suite struct ConfigurationLoaderTests {
    // MARK: The shipped file

    @Test func shippedDefaultLoads() throws {
        let configuration = try ConfigurationLoader.load(path: checkoutRoot + "/Config/stagedoor.yaml")
        #expect(configuration.runtimeDirectory == checkoutRoot + "/.run")
        #expect(configuration.layout.supervisorSocket == checkoutRoot + "/.run/supervisor.sock")
        #expect(configuration.logLevel == .info)
        #expect(configuration.supervisor == SupervisorSettings())

        #expect(configuration.turn.realm == "stagedoor.test")
        #expect(
            configuration.turn.listeners == [
                Listener(transport: .udp, address: "127.0.0.1", port: 3478),
                Listener(transport: .tcp, address: "127.0.0.1", port: 3478),
            ])
        #expect(configuration.turn.relay == PortRange(address: "127.0.0.1", lowerBound: 30_000, upperBound: 39_999))
        #expect(configuration.turn.externalAddress == nil)
        #expect(configuration.turn.secrets == ["development-only-secret-change-me"])
        #expect(configuration.turn.users.isEmpty)
        #expect(configuration.turn.limits == TURNLimits())

        #expect(configuration.bridge.whip == Listener(transport: .tcp, address: "127.0.0.1", port: 8889))
        #expect(configuration.bridge.media == PortRange(address: "127.0.0.1", lowerBound: 40_000, upperBound: 40_999))
        #expect(configuration.bridge.media.count == 1_000)
        #expect(configuration.bridge.ng == Listener(transport: .udp, address: "127.0.0.1", port: 22_222))

        #expect(
            configuration.sip.listeners == [
                Listener(transport: .udp, address: "127.0.0.1", port: 5060),
                Listener(transport: .tcp, address: "127.0.0.1", port: 5060),
                Listener(transport: .ws, address: "127.0.0.1", port: 8088, path: "/ws"),
            ])
    }

    /// The package's /etc/stagedoor/stagedoor.yaml names exactly what the operator must fill in.
    @Test func installedDefaultNamesWhatToFillIn() throws {
        let path = checkoutRoot + "/Packaging/stagedoor.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let found = try issues(text) { _ in false }
        let certificate = "cannot read /etc/stagedoor/tls/fullchain.pem"
        let key = "cannot read /etc/stagedoor/tls/privkey.pem"
        let expected = [
            "turn.realm: is required (the TURN realm, e.g. turn.example.com)",
            "turn.listeners[2].certificate: \(certificate)", "turn.listeners[2].private_key: \(key)",
            "turn.relay.address: is required (an IPv4 or IPv6 address such as 127.0.0.1 or ::)",
            "turn.auth.secrets_file: cannot read /etc/stagedoor/turn-secret",
            "sip.listeners[2].certificate: \(certificate)", "sip.listeners[2].private_key: \(key)",
            "sip.listeners[3].certificate: \(certificate)", "sip.listeners[3].private_key: \(key)",
            "bridge.whip.certificate: \(certificate)", "bridge.whip.private_key: \(key)",
        ]
        #expect(Set(found.map { "\($0.keyPath): \($0.message)" }) == Set(expected))
    }

    /// Filled in, it runs every daemon on public addresses with TLS, and the secret from its file.
    @Test func installedDefaultFilledInLoads() throws {
        var text = try String(contentsOfFile: checkoutRoot + "/Packaging/stagedoor.yaml", encoding: .utf8)
        text = try edit(text, replacing: "  # realm: turn.example.com", with: "  realm: turn.example.com")
        text = try edit(text, replacing: "    # address: 192.0.2.10", with: "    address: 192.0.2.10")
        let configuration = try ConfigurationLoader.parse(
            text, baseDirectory: "/etc/stagedoor",
            readFile: { $0 == "/etc/stagedoor/turn-secret" ? "0123456789abcdef0123456789abcdef\n" : nil })
        #expect(configuration.runtimeDirectory == "/run/stagedoor")
        #expect(configuration.turn.secrets == ["0123456789abcdef0123456789abcdef"])
        #expect(configuration.turn.listeners.map(\.transport) == [.udp, .tcp, .tls])
        #expect(configuration.bridge.whip.transport == .tls)
        #expect(configuration.bridge.ng?.address == "127.0.0.1")
        #expect(configuration.sip.listeners.map(\.port) == [5060, 5060, 5061, 443])
    }

    @Test func secretsFileAddsItsSecretsAfterTheInlineOnes() throws {
        let text = try edit(
            replacing: "  realm: example.test",
            with: """
                  realm: example.test
                  auth:
                    secrets: [inline-secret-0123456789]
                    secrets_file: secrets.txt
                """)
        var asked: [String] = []
        let configuration = try ConfigurationLoader.parse(
            text, baseDirectory: "/etc/stagedoor",
            readFile: { path in
                asked.append(path)
                return "# rotated 2026-11\nnew-secret-0123456789\r\n\n  old-secret-0123456789  \n"
            })
        #expect(asked == ["/etc/stagedoor/secrets.txt"])
        #expect(
            configuration.turn.secrets == [
                "inline-secret-0123456789", "new-secret-0123456789", "old-secret-0123456789",
            ])
    }

    @Test func secretsFileProblemsAreReported() throws {
        let text = try edit(
            replacing: "  realm: example.test",
            with: """
                  realm: example.test
                  auth:
                    secrets_file: /etc/stagedoor/turn-secret
                """)
        func problems(_ contents: String?) throws -> [String] {
            do {
                _ = try ConfigurationLoader.parse(text, baseDirectory: "/etc/stagedoor", readFile: { _ in contents })
                return []
            } catch let error as ConfigurationError {
                return error.issues.map { "\($0.keyPath):\($0.line.map(String.init) ?? "-"): \($0.message)" }
            }
        }
        let secretsLine = try line(of: "secrets_file", in: text)
        #expect(try problems(nil) == ["turn.auth.secrets_file:\(secretsLine): cannot read /etc/stagedoor/turn-secret"])
        #expect(
            try problems("# nothing yet\n\n")
                == [
                    "turn.auth.secrets_file:\(secretsLine): /etc/stagedoor/turn-secret holds no secret; write one a line"
                ])
        #expect(
            try problems("long-enough-secret-0123\nshort\n")
                == [
                    "turn.auth.secrets_file:\(secretsLine): /etc/stagedoor/turn-secret line 2: a secret needs at least 16 characters"
                ])
    }

    @Test func shippedDefaultRuntimeDirectoryCanBeOverridden() throws {
        let configuration = try ConfigurationLoader.load(
            path: checkoutRoot + "/Config/stagedoor.yaml", runtimeDirectory: "/tmp/stagedoor-override")
        #expect(configuration.runtimeDirectory == "/tmp/stagedoor-override")
    }

    @Test func missingFileIsReported() throws {
        let path = "/nonexistent-stagedoor-test/stagedoor.yaml"
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: path)
        }
        #expect(error.file == path)
        #expect(error.issues.count == 1)
        #expect(error.issues.first?.message.contains("no such file") == true)
    }

    @Test func firewallRulesOfTheShippedDefault() throws {
        let configuration = try ConfigurationLoader.load(path: checkoutRoot + "/Config/stagedoor.yaml")
        let rules = configuration.firewallRules
        // 2 TURN listeners + relay range + media range + WHIP + ng + 3 SIP listeners.
        #expect(rules.count == 9)
        #expect(
            rules.map(\.portText) == [
                "UDP/3478", "TCP/3478", "UDP/30000-39999", "UDP/40000-40999", "TCP/8889", "UDP/22222",
                "UDP/5060", "TCP/5060", "TCP/8088",
            ])
        #expect(rules.map(\.component) == [.turn, .turn, .turn, .bridge, .bridge, .bridge, .sip, .sip, .sip])
        #expect(rules.allSatisfy { $0.direction == .inbound })
        #expect(rules.allSatisfy { $0.address == "127.0.0.1" })
        let relay = try #require(rules.first { $0.portText == "UDP/30000-39999" })
        #expect(relay.ports == 30_000...39_999)
        #expect(relay.purpose == "TURN relayed addresses")
        #expect(rules.last?.purpose == "SIP over WebSocket /ws (RFC 7118)")
    }

    // MARK: A valid inline file

    @Test func validTextParses() throws {
        let configuration = try parse(validYAML)
        // Relative paths resolve against the base directory.
        #expect(configuration.runtimeDirectory == "/etc/stagedoor/run")
        #expect(configuration.turn.listeners == [Listener(transport: .udp, address: "127.0.0.1", port: 3478)])
        #expect(configuration.sip.listeners.map(\.port) == [5060])
    }

    @Test func runtimeDirectoryOverrideWins() throws {
        let configuration = try parse(validYAML, runtimeDirectory: "/var/tmp/other")
        #expect(configuration.runtimeDirectory == "/var/tmp/other")
        let absolute = try edit(replacing: "runtime_dir: run", with: "runtime_dir: /srv/stagedoor/../run")
        #expect(try parse(absolute).runtimeDirectory == "/srv/run")
        #expect(try parse(absolute, runtimeDirectory: "/var/tmp/other").runtimeDirectory == "/var/tmp/other")
    }

    @Test func underscoresInIntegersAreAccepted() throws {
        let text = try edit(replacing: "    port_min: 30000", with: "    port_min: 30_000")
        #expect(try parse(text).turn.relay.lowerBound == 30_000)
    }

    // MARK: Issues name the key path and line

    @Test func unknownKeyNamesItsPathLineAndTheAllowedKeys() throws {
        let text = try edit(
            replacing: "      port: 3478", with: "      port: 3478\n      prot: udp")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        let issue = found[0]
        #expect(issue.keyPath == "turn.listeners[0].prot")
        #expect(issue.line == (try line(of: "prot:", in: text)))
        #expect(issue.column == 7)
        #expect(issue.message.contains("unknown key"))
        #expect(issue.message.contains("allowed here: transport, address, port"))
    }

    @Test func unknownTopLevelKeyListsTheSections() throws {
        let text = validYAML + "\nturm: {}"
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "turm")
        #expect(found[0].line == (try line(of: "turm:", in: text)))
        for section in ["runtime_dir", "log_level", "supervisor", "turn", "sip", "bridge"] {
            #expect(found[0].message.contains(section), "\(section) missing from \(found[0].message)")
        }
    }

    @Test func wrongTypeNamesTheKeyPathAndLine() throws {
        let text = try edit(replacing: "      port: 3478", with: "      port: \"abc\"")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "turn.listeners[0].port")
        #expect(found[0].line == (try line(of: "\"abc\"", in: text)))
        #expect(found[0].message.contains("expected an integer from 1 to 65535"))
        #expect(found[0].message.contains("\"abc\""))
    }

    @Test func portOutOfRange() throws {
        let text = try edit(replacing: "      port: 5060", with: "      port: 70000")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip.listeners[0].port")
        #expect(found[0].line == (try line(of: "70000", in: text)))
        #expect(found[0].message.contains("70000 is out of range"))
        #expect(found[0].message.contains("1 to 65535"))
    }

    @Test func supervisorTimesOutOfRange() throws {
        let text = validYAML + "\nsupervisor:\n  health_failures: 0\n  stop_timeout_ms: 5000"
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "supervisor.health_failures")
        #expect(found[0].message.contains("allowed: an integer from 1 to 100"))
    }

    @Test func missingRequiredSectionIsNamed() throws {
        let withoutSIP = validYAML.components(separatedBy: "\nsip:")[0]
        let found = try issues(withoutSIP)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip")
        #expect(found[0].message.contains("is required"))
    }

    @Test func missingRequiredKeyIsNamed() throws {
        let text = try edit(replacing: "  realm: example.test", with: "")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "turn.realm")
        #expect(found[0].message.contains("is required"))
    }

    @Test func invalidYAMLGivesALine() throws {
        let text = "turn:\n  realm: [unclosed\nsip: {}\n"
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "")
        #expect(found[0].message.hasPrefix("not valid YAML"))
        let reported = try #require(found[0].line)
        #expect((2...4).contains(reported))
        #expect(found[0].column != nil)
    }

    @Test func emptyFileIsReported() throws {
        let found = try issues("")
        #expect(found.map(\.message) == ["the file is empty"])
    }

    @Test func documentThatIsNotAMappingIsReported() throws {
        let found = try issues("- just\n- a list\n")
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "")
        #expect(found[0].message.contains("expected a mapping"))
        #expect(found[0].line == 1)
    }

    @Test func duplicateKeyIsReportedWithItsLine() throws {
        let text = try edit(replacing: "      port: 3478", with: "      port: 3478\n      port: 3479")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].message.contains("given twice"))
        #expect(found[0].message.contains("(port)"))
        #expect(found[0].line == (try line(of: "port: 3478", in: text)))
        #expect(found[0].column == 7)
    }

    // MARK: Sockets that collide

    @Test func twoListenersOnTheSameSocketAreRejected() throws {
        let text = try edit(
            replacing: "      port: 5060",
            with: "      port: 5060\n    - transport: udp\n      address: 127.0.0.1\n      port: 5060")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip.listeners[1]")
        #expect(found[0].message.contains("already used by sip.listeners[0]"))
        #expect(found[0].message.contains("udp 127.0.0.1 port 5060"))
        // The line of the second listener, and the message names the first one's line.
        let lines = text.components(separatedBy: "\n")
        let listenerLines = lines.indices.filter { lines[$0] == "    - transport: udp" }.map { $0 + 1 }
        try #require(listenerLines.count == 3)
        #expect(found[0].line == listenerLines[2])
        #expect(found[0].message.contains("(line \(listenerLines[1]))"))
    }

    @Test func listenerInsideAnotherComponentsRangeIsRejected() throws {
        let text = try edit(replacing: "      port: 5060", with: "      port: 35000")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip.listeners[0]")
        #expect(found[0].message.contains("already used by turn.relay"))
    }

    @Test func samePortOnUDPAndTCPIsAllowed() throws {
        let text = try edit(
            replacing: "      port: 5060",
            with: "      port: 5060\n    - transport: tcp\n      address: 127.0.0.1\n      port: 5060")
        let configuration = try parse(text)
        #expect(configuration.sip.listeners.map(\.transport) == [.udp, .tcp])
        #expect(configuration.sip.listeners.map(\.port) == [5060, 5060])
    }

    @Test func differentAddressesOnTheSamePortAreAllowed() throws {
        let text = try edit(
            replacing: "      port: 5060",
            with: "      port: 5060\n    - transport: udp\n      address: 127.0.0.2\n      port: 5060")
        #expect(try parse(text).sip.listeners.count == 2)
    }

    @Test func wildcardOverlapsASpecificAddress() throws {
        let text = try edit(
            replacing: "      port: 5060",
            with: "      port: 5060\n    - transport: udp\n      address: 0.0.0.0\n      port: 5060")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip.listeners[1]")
        #expect(found[0].message.contains("udp 0.0.0.0 port 5060"))
        #expect(found[0].message.contains("sip.listeners[0]"))
    }

    @Test func ipv6WildcardOverlapsIPv4() throws {
        let text = try edit(
            replacing: "      port: 5060",
            with: "      port: 5060\n    - transport: udp\n      address: \"::\"\n      port: 5060")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "sip.listeners[1]")
    }

    // MARK: TLS material

    @Test func tlsListenerNeedsACertificate() throws {
        let text = validYAML.replacingOccurrences(
            of: "    - transport: udp\n      address: 127.0.0.1\n      port: 3478",
            with: "    - transport: tls\n      address: 127.0.0.1\n      port: 5349")
        try #require(text.contains("- transport: tls"))
        let found = try issues(text)
        #expect(Set(found.map(\.keyPath)) == ["turn.listeners[0].certificate", "turn.listeners[0].private_key"])
        #expect(found.count == 2)
        #expect(found.allSatisfy { $0.message.contains("is required") })
    }

    @Test func unreadableCertificateIsReported() throws {
        let text = try edit(
            replacing: "    port: 8889",
            with: "    port: 8889\n    certificate: certs/whip.pem\n    private_key: /etc/ssl/whip.key"
        )
        .replacingOccurrences(of: "    transport: tcp\n", with: "    transport: tls\n")
        try #require(text.contains("transport: tls"))
        var asked: [String] = []
        let found = try issues(text) { path in
            asked.append(path)
            return path != "/etc/stagedoor/certs/whip.pem"
        }
        #expect(asked == ["/etc/stagedoor/certs/whip.pem", "/etc/ssl/whip.key"])
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "bridge.whip.certificate")
        #expect(found[0].message == "cannot read /etc/stagedoor/certs/whip.pem")
        #expect(found[0].line == (try line(of: "certs/whip.pem", in: text)))
    }

    @Test func tlsListenerWithReadableMaterialParses() throws {
        let text = try edit(
            replacing: "    port: 8889",
            with: "    port: 8889\n    certificate: /etc/ssl/whip.pem\n    private_key: /etc/ssl/whip.key"
        )
        .replacingOccurrences(of: "    transport: tcp\n", with: "    transport: tls\n")
        .replacingOccurrences(
            of: "    address: 127.0.0.1\n    port: 8889", with: "    address: 0.0.0.0\n    port: 8889")
        let whip = try parse(text).bridge.whip
        #expect(whip.transport == .tls)
        #expect(whip.address == "0.0.0.0")
        #expect(whip.certificate == "/etc/ssl/whip.pem")
        #expect(whip.privateKey == "/etc/ssl/whip.key")
    }

    // MARK: Loopback-only listeners

    @Test func plainWHIPOnANonLoopbackAddressIsRejected() throws {
        let text = validYAML.replacingOccurrences(
            of: "    address: 127.0.0.1\n    port: 8889", with: "    address: 192.0.2.10\n    port: 8889")
        try #require(text.contains("192.0.2.10"))
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "bridge.whip.transport")
        #expect(found[0].message.contains("loopback"))
        #expect(found[0].line == (try line(of: "  whip:", in: text)) + 1)
    }

    @Test func ngOnANonLoopbackAddressIsRejected() throws {
        let text = validYAML.replacingOccurrences(
            of: "    address: 127.0.0.1\n    port: 22222", with: "    address: 0.0.0.0\n    port: 22222")
        try #require(text.contains("0.0.0.0"))
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "bridge.ng.address")
        #expect(found[0].message.contains("loopback"))
    }

    @Test func ngOnIPv6LoopbackIsAllowed() throws {
        let text = validYAML.replacingOccurrences(
            of: "    address: 127.0.0.1\n    port: 22222", with: "    address: \"::1\"\n    port: 22222")
        #expect(try parse(text).bridge.ng?.address == "::1")
    }

    // MARK: Ranges

    @Test func portMinaboveportMaxIsRejected() throws {
        let text = try edit(replacing: "    port_min: 30000", with: "    port_min: 45000")
        let found = try issues(text)
        try #require(found.count == 1, "\(found)")
        #expect(found[0].keyPath == "turn.relay.port_max")
        #expect(found[0].message == "must be at least port_min (45000)")
        #expect(found[0].line == (try line(of: "port_max: 39999", in: text)))
    }

    // MARK: All issues at once

    @Test func everyIssueIsReportedAtOnce() throws {
        var text = try edit(replacing: "      port: 3478", with: "      port: 70000")
        text = try edit(text, replacing: "      port: 5060", with: "      port: 5060\n      colour: blue")
        text = text.replacingOccurrences(
            of: "    address: 127.0.0.1\n    port: 22222", with: "    address: 10.0.0.1\n    port: 22222")
        text += "\nlog_level: loud"
        let found = try issues(text)
        #expect(found.count == 4, "\(found)")
        #expect(
            Set(found.map(\.keyPath)) == [
                "turn.listeners[0].port", "sip.listeners[0].colour", "bridge.ng.address", "log_level",
            ])
        #expect(found.allSatisfy { $0.line != nil })
    }

    // MARK: Rendering

    @Test func errorDescriptionHasCompilerShape() throws {
        let text = try edit(replacing: "      port: 3478", with: "      port: abc")
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(text, file: "conf/stagedoor.yaml", baseDirectory: "/etc/stagedoor")
        }
        let lineNumber = try line(of: "port: abc", in: text)
        #expect(
            error.description
                == "conf/stagedoor.yaml:\(lineNumber):13: turn.listeners[0].port: "
                + "expected an integer from 1 to 65535, found \"abc\"")
    }

    @Test func errorDescriptionOfHandMadeIssues() {
        let error = ConfigurationError(
            file: "a.yaml",
            issues: [
                ConfigurationIssue(keyPath: "x.y", line: 3, column: 5, message: "bad"),
                ConfigurationIssue(keyPath: "z", line: 4, message: "worse"),
                ConfigurationIssue(keyPath: "", message: "the file is empty"),
            ])
        #expect(error.description == "a.yaml:3:5: x.y: bad\na.yaml:4: z: worse\na.yaml: the file is empty")
        let anonymous = ConfigurationError(file: nil, issues: [ConfigurationIssue(keyPath: "k", message: "m")])
        #expect(anonymous.description == "<configuration>: k: m")
        #expect(ConfigurationIssue(keyPath: "x", line: 2, column: 1, message: "m").description == "2:1: x: m")
    }
}

@Suite struct IPAddressTextTests {
    @Test func family() {
        #expect(IPAddressText.family(of: "127.0.0.1") == .v4)
        #expect(IPAddressText.family(of: "0.0.0.0") == .v4)
        #expect(IPAddressText.family(of: "::1") == .v6)
        #expect(IPAddressText.family(of: "2001:db8::10") == .v6)
        #expect(IPAddressText.family(of: "256.1.1.1") == nil)
        #expect(IPAddressText.family(of: "localhost") == nil)
        #expect(IPAddressText.family(of: "") == nil)
    }

    @Test func loopback() {
        #expect(IPAddressText.isLoopback("127.0.0.1"))
        #expect(IPAddressText.isLoopback("127.8.9.10"))
        #expect(IPAddressText.isLoopback("::1"))
        #expect(IPAddressText.isLoopback("0:0:0:0:0:0:0:1"))
        #expect(IPAddressText.isLoopback("localhost"))
        #expect(!IPAddressText.isLoopback("::"))
        #expect(!IPAddressText.isLoopback("::2"))
        #expect(!IPAddressText.isLoopback("0.0.0.0"))
        #expect(!IPAddressText.isLoopback("10.0.0.1"))
        #expect(!IPAddressText.isLoopback("128.0.0.1"))
        #expect(!IPAddressText.isLoopback("not an address"))
    }

    @Test func wildcard() {
        #expect(IPAddressText.isWildcard("0.0.0.0"))
        #expect(IPAddressText.isWildcard("::"))
        #expect(IPAddressText.isWildcard("0:0:0:0:0:0:0:0"))
        #expect(IPAddressText.isWildcard("::0") && IPAddressText.isWildcard("0:0::0"))
        #expect(!IPAddressText.isWildcard("0.0.0.1") && !IPAddressText.isWildcard("::1"))
        #expect(!IPAddressText.isWildcard("127.0.0.1"))
        #expect(!IPAddressText.isWildcard("::1"))
    }

    @Test func overlaps() {
        #expect(IPAddressText.overlaps("127.0.0.1", "127.0.0.1"))
        #expect(IPAddressText.overlaps("0.0.0.0", "127.0.0.1"))
        #expect(IPAddressText.overlaps("127.0.0.1", "0.0.0.0"))
        #expect(IPAddressText.overlaps("::", "127.0.0.1"))
        #expect(IPAddressText.overlaps("::1", "::"))
        #expect(!IPAddressText.overlaps("0.0.0.0", "::1"))
        #expect(!IPAddressText.overlaps("127.0.0.1", "127.0.0.2"))
    }
}
