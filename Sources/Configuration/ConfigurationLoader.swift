import Foundation
import Yams

/// Reads and validates the configuration file. Validation happens before anything starts:
/// every issue names its key path and line, and says what is allowed.
public enum ConfigurationLoader {
    /// Where an installed box keeps its configuration.
    public static let installedPath = "/etc/stagedoor/stagedoor.yaml"

    /// Loads `path`. `runtimeDirectory` (from `--runtime-dir`) wins over the file's `runtime_dir`.
    public static func load(path: String, runtimeDirectory: String? = nil) throws -> StagedoorConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw ConfigurationError(
                file: path,
                issues: [ConfigurationIssue(keyPath: "", message: "\(reason); pass --config PATH or create it")])
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(
            text, file: path, baseDirectory: base, runtimeDirectory: runtimeDirectory,
            fileExists: { FileManager.default.isReadableFile(atPath: $0) },
            readFile: { try? String(contentsOfFile: $0, encoding: .utf8) })
    }

    /// The runtime directory a file names, read leniently so that `stagedoor status` and
    /// `stop` still find a running stack after its file was edited into an invalid state.
    public static func declaredRuntimeDirectory(path: String) -> String {
        let fallback = "/run/stagedoor"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let root = try? Yams.compose(yaml: text), let declared = root["runtime_dir"]?.scalar?.string
        else { return fallback }
        if declared.hasPrefix("/") { return URL(fileURLWithPath: declared).standardizedFileURL.path }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        return base.appendingPathComponent(declared).standardizedFileURL.path
    }

    /// Parses configuration text. Relative paths in it are resolved against `baseDirectory`;
    /// `fileExists` checks certificate and key paths and `readFile` reads `turn.auth.secrets_file`
    /// (tests pass their own).
    public static func parse(
        _ text: String, file: String? = nil, baseDirectory: String,
        runtimeDirectory: String? = nil, fileExists: @escaping (String) -> Bool = { _ in true },
        readFile: @escaping (String) -> String? = { _ in nil }
    ) throws -> StagedoorConfiguration {
        let root: Node
        do {
            guard let document = try Yams.compose(yaml: text) else {
                throw ConfigurationError(
                    file: file, issues: [ConfigurationIssue(keyPath: "", message: "the file is empty")])
            }
            root = document
        } catch let error as YamlError {
            throw ConfigurationError(file: file, issues: [issue(from: error)])
        }
        let collector = IssueCollector()
        var reader = DocumentReader(
            collector: collector, baseDirectory: baseDirectory, fileExists: fileExists, readFile: readFile)
        let configuration = reader.read(root, runtimeDirectory: runtimeDirectory)
        if let configuration, collector.issues.isEmpty {
            return configuration
        }
        throw ConfigurationError(file: file, issues: collector.issues)
    }

    private static func issue(from error: YamlError) -> ConfigurationIssue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigurationIssue(
                keyPath: "", line: mark.line, column: mark.column, message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().joined(separator: ", ")
            return ConfigurationIssue(
                keyPath: "", line: context.mark.line, column: context.mark.column,
                message: "a key is given twice in one mapping (\(keys)); keep one")
        default:
            return ConfigurationIssue(keyPath: "", message: "not valid YAML: \(error)")
        }
    }
}

/// Builds the model from the document tree. Every section has defaults where one is safe.
private struct DocumentReader {
    let collector: IssueCollector
    let baseDirectory: String
    let fileExists: (String) -> Bool
    let readFile: (String) -> String?
    /// Every socket the daemons will bind, to catch two of them claiming the same port.
    private var claims:
        [(protocol: IPProtocol, address: String, ports: ClosedRange<Int>, keyPath: String, node: Node)] = []

    init(
        collector: IssueCollector, baseDirectory: String, fileExists: @escaping (String) -> Bool,
        readFile: @escaping (String) -> String?
    ) {
        self.collector = collector
        self.baseDirectory = baseDirectory
        self.fileExists = fileExists
        self.readFile = readFile
    }

    mutating func read(_ root: Node, runtimeDirectory override: String?) -> StagedoorConfiguration? {
        guard var document = MappingReader(root, path: "", collector: collector) else { return nil }
        let runtimeText = document.string("runtime_dir", describe: "a directory path") ?? "/run/stagedoor"
        let logLevel = document.choice("log_level", of: LogLevel.self) ?? .info
        let supervisor = readSupervisor(document.mapping("supervisor"))
        let turn = readTURN(document.mapping("turn", required: true))
        let sip = readSIP(document.mapping("sip", required: true))
        let bridge = readBridge(document.mapping("bridge", required: true))
        document.finish()
        guard let turn, let sip, let bridge else { return nil }
        return StagedoorConfiguration(
            runtimeDirectory: resolve(override ?? runtimeText),
            logLevel: logLevel, supervisor: supervisor, turn: turn, sip: sip, bridge: bridge)
    }

    private func resolve(_ path: String) -> String {
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path) : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    private func readSupervisor(_ reader: MappingReader?) -> SupervisorSettings {
        var settings = SupervisorSettings()
        guard var reader else { return settings }
        let second = 1_000
        let hour = 3_600_000
        settings.startTimeoutMilliseconds = reader.integer(
            "start_timeout_ms", default: settings.startTimeoutMilliseconds, in: 100...(10 * 60 * second))
        settings.healthIntervalMilliseconds = reader.integer(
            "health_interval_ms", default: settings.healthIntervalMilliseconds, in: 50...(10 * 60 * second))
        settings.healthTimeoutMilliseconds = reader.integer(
            "health_timeout_ms", default: settings.healthTimeoutMilliseconds, in: 50...(60 * second))
        settings.healthFailuresBeforeRestart = reader.integer(
            "health_failures", default: settings.healthFailuresBeforeRestart, in: 1...100)
        settings.restartBackoffInitialMilliseconds = reader.integer(
            "restart_backoff_initial_ms", default: settings.restartBackoffInitialMilliseconds,
            in: 10...(10 * 60 * second))
        settings.restartBackoffMaximumMilliseconds = reader.integer(
            "restart_backoff_max_ms", default: settings.restartBackoffMaximumMilliseconds, in: 10...hour)
        settings.restartStableAfterMilliseconds = reader.integer(
            "restart_stable_after_ms", default: settings.restartStableAfterMilliseconds, in: 100...(24 * hour))
        settings.stopTimeoutMilliseconds = reader.integer(
            "stop_timeout_ms", default: settings.stopTimeoutMilliseconds, in: 100...(10 * 60 * second))
        if settings.restartBackoffMaximumMilliseconds < settings.restartBackoffInitialMilliseconds {
            reader.report(
                "restart_backoff_max_ms", at: reader.node("restart_backoff_max_ms"),
                "must be at least restart_backoff_initial_ms (\(settings.restartBackoffInitialMilliseconds))")
        }
        reader.finish()
        return settings
    }

    private mutating func readTURN(_ reader: MappingReader?) -> TURNSettings? {
        guard var reader else { return nil }
        let realm = reader.string("realm", required: true, describe: "the TURN realm, e.g. turn.example.com")
        let listeners = readListeners(&reader, allowed: [.udp, .tcp, .tls], required: true)
        let relay = readPortRange(reader.mapping("relay", required: true), protocol: .udp, secondFamily: true)
        var external: String?
        if let text = reader.string("external_ip", describe: "the public IPv4 or IPv6 address of a 1:1 NAT") {
            if IPAddressText.family(of: text) == nil {
                reader.report(
                    "external_ip", at: reader.node("external_ip"), "\"\(text)\" is not an IPv4 or IPv6 address")
            } else {
                external = text
            }
        }
        var settings = TURNSettings(
            realm: realm ?? "", listeners: listeners,
            relay: relay ?? PortRange(address: "", lowerBound: 0, upperBound: 0), externalAddress: external)
        if var auth = reader.mapping("auth") {
            settings.secrets = readStrings(&auth, key: "secrets", describe: "a shared secret").compactMap {
                secret, node in
                guard secret.utf8.count >= 16 else {
                    collector.report(auth.path + ".secrets", at: node, "a secret needs at least 16 characters")
                    return nil
                }
                return secret
            }
            settings.secrets += readSecretsFile(&auth)
            for element in auth.list("users") {
                guard var user = auth.reader(for: element.node, path: element.path) else { continue }
                let name = user.string("name", required: true, describe: "the username")
                let password = user.string("password", required: true, describe: "the password")
                user.finish()
                if let name, name.isEmpty || name.contains(":") {
                    user.report(
                        "name", at: user.node("name"), "must be non-empty and without ':' (REST usernames use it)")
                } else if let name, let password {
                    if password.isEmpty { user.report("password", at: user.node("password"), "must not be empty") }
                    settings.users.append(TURNUser(name: name, password: password))
                }
            }
            auth.finish()
        }
        if var peers = reader.mapping("peers") {
            settings.allowPeers = readRanges(&peers, key: "allow")
            settings.denyPeers = readRanges(&peers, key: "deny")
            peers.finish()
        }
        if var limits = reader.mapping("limits") {
            settings.limits.allocationsPerUser = limits.integer(
                "allocations_per_user", default: settings.limits.allocationsPerUser, in: 1...100_000)
            settings.limits.allocations = limits.integer(
                "allocations", default: settings.limits.allocations, in: 1...1_000_000)
            settings.limits.permissionsPerAllocation = limits.integer(
                "permissions_per_allocation", default: settings.limits.permissionsPerAllocation, in: 1...10_000)
            settings.limits.maximumLifetimeSeconds = limits.integer(
                "max_lifetime_s", default: settings.limits.maximumLifetimeSeconds, in: 600...86_400)
            settings.limits.bandwidthPerAllocationKbps = limits.integer(
                "bandwidth_per_allocation_kbps", default: settings.limits.bandwidthPerAllocationKbps,
                in: 0...10_000_000)
            settings.limits.bandwidthTotalMbps = limits.integer(
                "bandwidth_total_mbps", default: settings.limits.bandwidthTotalMbps, in: 0...1_000_000)
            settings.limits.unauthenticatedPerSecond = limits.integer(
                "unauthenticated_per_second", default: settings.limits.unauthenticatedPerSecond, in: 0...1_000_000)
            limits.finish()
        }
        reader.finish()
        guard let realm, relay != nil else { return nil }
        if realm.isEmpty { reader.report("realm", at: reader.node("realm"), "must not be empty") }
        return settings
    }

    private mutating func readSIP(_ reader: MappingReader?) -> SIPSettings? {
        guard var reader else { return nil }
        let listeners = readListeners(&reader, allowed: ListenerTransport.allCases, required: true)
        var settings = SIPSettings(listeners: listeners)
        settings.readProxy(&reader)
        reader.finish()
        return settings
    }

    private mutating func readBridge(_ reader: MappingReader?) -> BridgeSettings? {
        guard var reader else { return nil }
        var whipReader = reader.mapping("whip", required: true)
        // Read before readListener, so that it knows the key when it reports unknown ones.
        let allowedOrigins = whipReader?.origins("allowed_origins") ?? []
        let whip = whipReader.flatMap { readListener($0, allowed: [.tcp, .tls], defaultTransport: .tls) }
        if let whip, whip.transport == .tcp, !IPAddressText.isLoopback(whip.address) {
            collector.report(
                "bridge.whip.transport", at: whipReader?.node,
                "plain HTTP is only allowed on a loopback address; use transport: tls with certificate and private_key")
        }
        let media = readPortRange(reader.mapping("media", required: true), protocol: .udp)
        var ng: Listener?
        if let ngReader = reader.mapping("ng") {
            ng = readListener(ngReader, allowed: [.udp], defaultTransport: .udp)
            if let ng, !IPAddressText.isLoopback(ng.address) {
                collector.report(
                    "bridge.ng.address", at: ngReader.node,
                    "the ng protocol has no authentication; it may only listen on a loopback address")
            }
        }
        let routes = readBridgePortsAndPanels(&reader, media: media)  // BridgePorts.swift
        var timeouts = BridgeSessionTimeouts()
        if var sessions = reader.mapping("sessions") {
            timeouts.establishmentMilliseconds = sessions.integer(
                "establishment_timeout_ms", default: timeouts.establishmentMilliseconds, in: 2_000...30_000)
            timeouts.consentMilliseconds = sessions.integer(
                "consent_timeout_ms", default: timeouts.consentMilliseconds, in: 10_000...30_000)
            sessions.finish()
        }
        var bounds = BridgeJitterBufferBounds()
        if var jitterBuffer = reader.mapping("jitter_buffer") {
            bounds.fromPanelsMilliseconds = readBounds(
                &jitterBuffer, "from_panels", default: bounds.fromPanelsMilliseconds, minimum: 20...500, maximum: 1_000)
            bounds.fromPortsMilliseconds = readBounds(
                &jitterBuffer, "from_ports", default: bounds.fromPortsMilliseconds, minimum: 1...200, maximum: 500)
            jitterBuffer.finish()
        }
        reader.finish()
        guard let whip, let media else { return nil }
        var settings = BridgeSettings(
            whip: whip, media: media, ng: ng, ports: routes.ports, panels: routes.panels,
            allowedOrigins: allowedOrigins,
            sessions: timeouts)
        settings.jitterBuffer = bounds
        return settings
    }

    /// `min_ms` and `max_ms` of one side of `bridge.jitter_buffer`: `min_ms` within `minimum`
    /// (20 ms at least from panels: one Opus packet), `max_ms` from `min_ms` to `maximum`.
    private mutating func readBounds(
        _ parent: inout MappingReader, _ key: String, default bounds: ClosedRange<Int>, minimum: ClosedRange<Int>,
        maximum: Int
    ) -> ClosedRange<Int> {
        guard var side = parent.mapping(key) else { return bounds }
        let low = side.integer("min_ms", default: max(bounds.lowerBound, minimum.lowerBound), in: minimum)
        let high = side.integer("max_ms", default: max(bounds.upperBound, low), in: low...max(low, maximum))
        side.finish()
        return low...high
    }

    private mutating func readListeners(
        _ reader: inout MappingReader, allowed: [ListenerTransport], required: Bool
    ) -> [Listener] {
        let elements = reader.list("listeners")
        if elements.isEmpty, required {
            reader.report("listeners", at: reader.node("listeners"), "needs at least one listener")
        }
        return elements.compactMap { element in
            guard let listener = reader.reader(for: element.node, path: element.path) else { return nil }
            return readListener(listener, allowed: allowed, defaultTransport: nil)
        }
    }

    private mutating func readListener(
        _ reader: MappingReader, allowed: [ListenerTransport], defaultTransport: ListenerTransport?
    ) -> Listener? {
        var reader = reader
        var transport = defaultTransport
        if reader.has("transport") || defaultTransport == nil {
            transport = reader.choice("transport", required: true, of: ListenerTransport.self)
            if let chosen = transport, !allowed.contains(chosen) {
                reader.report(
                    "transport", at: reader.node("transport"),
                    "\(chosen.rawValue) is not offered here; allowed: \(allowed.map(\.rawValue).joined(separator: ", "))"
                )
                transport = nil
            }
        } else {
            _ = reader.node("transport")
        }
        let address = readAddress(&reader, key: "address")
        let port = reader.integer("port", required: true, in: 1...65_535)
        var certificate: String?
        var privateKey: String?
        if transport?.needsCertificate ?? true {
            certificate = readFile(&reader, key: "certificate", required: transport?.needsCertificate == true)
            privateKey = readFile(&reader, key: "private_key", required: transport?.needsCertificate == true)
        }
        var path: String?
        if transport == .ws || transport == .wss {
            path = reader.string("path", describe: "an HTTP path such as /ws") ?? "/ws"
            if let given = path, !given.hasPrefix("/") {
                reader.report("path", at: reader.node("path"), "must start with /")
            }
        }
        reader.finish()
        guard let transport, let address, let port else { return nil }
        claim(transport.ipProtocol, address, port...port, keyPath: reader.path, node: reader.node)
        return Listener(
            transport: transport, address: address, port: port, certificate: certificate,
            privateKey: privateKey, path: path)
    }

    /// With `secondFamily`, an optional `ipv6_address` gives a second bind address of the other
    /// family with the same ports (TURN relays both IPv4 and IPv6, RFC 6156).
    private mutating func readPortRange(
        _ reader: MappingReader?, protocol ipProtocol: IPProtocol, secondFamily: Bool = false
    ) -> PortRange? {
        guard var reader else { return nil }
        let address = readAddress(&reader, key: "address")
        let lower = reader.integer("port_min", required: true, in: 1_024...65_535)
        let upper = reader.integer("port_max", required: true, in: 1_024...65_535)
        var ipv6: String?
        if secondFamily, let text = reader.string("ipv6_address", describe: "an IPv6 address such as ::1") {
            if IPAddressText.family(of: text) != .v6 {
                reader.report("ipv6_address", at: reader.node("ipv6_address"), "\"\(text)\" is not an IPv6 address")
            } else if let address, IPAddressText.family(of: address) == .v6 {
                reader.report(
                    "ipv6_address", at: reader.node("ipv6_address"),
                    "address is already IPv6; give an IPv4 address there, or drop ipv6_address")
            } else {
                ipv6 = text
            }
        }
        reader.finish()
        guard let address, let lower, let upper else { return nil }
        guard lower <= upper else {
            reader.report("port_max", at: reader.node("port_max"), "must be at least port_min (\(lower))")
            return nil
        }
        claim(ipProtocol, address, lower...upper, keyPath: reader.path, node: reader.node)
        if let ipv6 {
            claim(ipProtocol, ipv6, lower...upper, keyPath: reader.path + ".ipv6_address", node: reader.node)
        }
        var range = PortRange(address: address, lowerBound: lower, upperBound: upper)
        range.ipv6Address = ipv6
        return range
    }

    private func readAddress(_ reader: inout MappingReader, key: String) -> String? {
        guard let text = reader.string(key, required: true, describe: "an IPv4 or IPv6 address such as 127.0.0.1 or ::")
        else {
            return nil
        }
        guard IPAddressText.family(of: text) != nil else {
            reader.report(key, at: reader.node(key), "\"\(text)\" is not an IPv4 or IPv6 address")
            return nil
        }
        return text
    }

    /// A list of strings, each with its node for error reporting.
    private func readStrings(_ reader: inout MappingReader, key: String, describe: String) -> [(String, Node)] {
        reader.list(key).compactMap { element in
            guard let text = element.node.scalar?.string, !text.isEmpty else {
                collector.report(
                    element.path, at: element.node, "expected \(describe), found \(element.node.kindDescription)")
                return nil
            }
            return (text, element.node)
        }
    }

    /// `secrets_file`: a file of TURN REST secrets, one a line (blank and `#` lines skipped), kept
    /// apart from the configuration so that the package can generate one without editing a conffile.
    private func readSecretsFile(_ auth: inout MappingReader) -> [String] {
        guard let text = auth.string("secrets_file", describe: "the path of a file with one secret a line") else {
            return []
        }
        let path = resolve(text)
        guard let contents = readFile(path) else {
            auth.report("secrets_file", at: auth.node("secrets_file"), "cannot read \(path)")
            return []
        }
        var secrets: [String] = []
        for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let secret = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if secret.isEmpty || secret.hasPrefix("#") { continue }
            guard secret.utf8.count >= 16 else {
                auth.report(
                    "secrets_file", at: auth.node("secrets_file"),
                    "\(path) line \(index + 1): a secret needs at least 16 characters")
                continue
            }
            secrets.append(secret)
        }
        if secrets.isEmpty {
            auth.report("secrets_file", at: auth.node("secrets_file"), "\(path) holds no secret; write one a line")
        }
        return secrets
    }

    /// CIDR ranges such as 10.1.2.0/24 or fd00::/8.
    private func readRanges(_ reader: inout MappingReader, key: String) -> [String] {
        readStrings(&reader, key: key, describe: "a CIDR range such as 10.1.2.0/24").compactMap { text, node in
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            let family = IPAddressText.family(of: String(parts[0]))
            let maximum = family == .v6 ? 128 : 32
            guard family != nil, parts.count <= 2,
                parts.count == 1 || (Int(parts[1]).map { (0...maximum).contains($0) } ?? false)
            else {
                collector.report(
                    reader.path + ".\(key)", at: node, "\"\(text)\" is not a CIDR range such as 10.1.2.0/24")
                return nil
            }
            return text
        }
    }

    private func readFile(_ reader: inout MappingReader, key: String, required: Bool) -> String? {
        guard let text = reader.string(key, required: required, describe: "the path of a PEM file") else {
            return nil
        }
        let path = resolve(text)
        if !fileExists(path) {
            reader.report(key, at: reader.node(key), "cannot read \(path)")
        }
        return path
    }

    /// Records a bind and reports it when it collides with one recorded earlier.
    private mutating func claim(
        _ ipProtocol: IPProtocol, _ address: String, _ ports: ClosedRange<Int>, keyPath: String, node: Node
    ) {
        if let other = claims.first(where: {
            $0.protocol == ipProtocol && $0.ports.overlaps(ports) && IPAddressText.overlaps($0.address, address)
        }) {
            collector.report(
                keyPath, at: node,
                "\(ipProtocol.rawValue) \(address) port \(describe(ports)) is already used by \(other.keyPath) (line \(other.node.mark?.line ?? 0))"
            )
        }
        claims.append((ipProtocol, address, ports, keyPath, node))
    }

    private func describe(_ ports: ClosedRange<Int>) -> String {
        ports.count == 1 ? "\(ports.lowerBound)" : "\(ports.lowerBound)-\(ports.upperBound)"
    }
}
