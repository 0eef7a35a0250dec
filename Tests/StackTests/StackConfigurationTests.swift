import Configuration
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Configuration handling as an operator meets it: `check`, `ports`, `start` on a bad file, `reload`.
@Suite(.serialized)
struct StackConfigurationTests {
    /// Each broken file, the key path its error must name, and words the message must contain.
    static let brokenFiles: [(name: String, find: String, replace: String, keyPath: String, words: String)] = [
        ("unknown key", "  realm: stagedoor.test", "  realm: stagedoor.test\n  relm: typo", "turn.relm", "unknown key"),
        ("wrong type", "port: 8889", "port: eighty", "bridge.whip.port", "expected an integer"),
        ("port out of range", "port: 8088", "port: 70000", "sip.listeners[2].port", "out of range"),
        ("bad transport", "transport: ws", "transport: sctp", "sip.listeners[2].transport", "one of"),
    ]

    @Test(arguments: 0..<4)
    func invalidConfigurationStartsNothing(_ index: Int) throws {
        let broken = Self.brokenFiles[index]
        let stack = try StackHarness()
        let text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        let edited = text.replacingOccurrences(of: broken.find, with: broken.replace)
        #expect(edited != text, "the edit for \(broken.name) matched nothing")
        try edited.write(toFile: stack.configPath, atomically: true, encoding: .utf8)

        let check = try stack.cli(["check"])
        #expect(check.status == 78)
        #expect(check.errors.contains(broken.keyPath), "\(broken.name): \(check.errors)")
        #expect(check.errors.contains(broken.words), "\(broken.name): \(check.errors)")
        // FILE:LINE:COLUMN: key.path: message
        #expect(check.errors.contains("\(stack.configPath):"), "no line number: \(check.errors)")

        let start = try stack.cli(["start"])
        #expect(start.status == 78)
        #expect(start.errors.contains(broken.keyPath))
        #expect(stack.processes().isEmpty)
        #expect(stack.socketsAndLock.isEmpty)
        #expect(try stack.cli(["status"]).status == 3)
    }

    @Test func errorLinesPointAtTheKey() throws {
        let stack = try StackHarness()
        var lines = try String(contentsOfFile: stack.configPath, encoding: .utf8).components(separatedBy: "\n")
        let line = try #require(lines.firstIndex(of: "      port: 5060"))
        lines[line] = "      port: 0"
        try lines.joined(separator: "\n").write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let check = try stack.cli(["check"])
        #expect(check.errors.contains("\(stack.configPath):\(line + 1):"), "\(check.errors)")
        #expect(check.errors.contains("sip.listeners[0].port: 0 is out of range"))
    }

    @Test func missingFileIsReported() throws {
        let stack = try StackHarness()
        let missing = stack.directory + "/nope.yaml"
        let result = try StackHarness.run(StackHarness.binaryDirectory + "/stagedoor", ["start", "--config", missing])
        #expect(result.status == 78)
        #expect(result.errors.contains(missing) && result.errors.contains("no such file"))
        #expect(stack.processes().isEmpty)
    }

    @Test func portsListsEveryListener() throws {
        let stack = try StackHarness()
        let configuration = try ConfigurationLoader.load(path: stack.configPath)
        let expected = configuration.firewallRules
        // Every listener of every daemon is in the model's table…
        let listeners = configuration.turn.listeners + configuration.sip.listeners + [configuration.bridge.whip]
            + (configuration.bridge.ng.map { [$0] } ?? [])
        for listener in listeners {
            #expect(expected.contains { $0.ports == listener.port...listener.port && $0.ipProtocol == listener.transport.ipProtocol })
        }
        // …and the CLI prints each of them, on the shipped development configuration.
        let table = try StackHarness.run(
            StackHarness.binaryDirectory + "/stagedoor",
            ["ports", "--config", StackHarness.packageRoot + "/Config/stagedoor.yaml"])
        #expect(table.status == 0)
        let rows = table.output.split(separator: "\n").dropFirst()
        #expect(rows.count == expected.count)
        for text in ["UDP/3478", "TCP/3478", "UDP/30000-39999", "UDP/40000-40999", "TCP/8889", "UDP/22222",
                     "UDP/5060", "TCP/5060", "TCP/8088"] {
            #expect(rows.contains { $0.hasPrefix(text + " ") }, "missing \(text)")
        }
        let json = try stack.cli(["ports", "--json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(parsed.count == expected.count)
        #expect(parsed.allSatisfy { $0["purpose"] is String && $0["protocol"] is String && $0["direction"] is String })
    }

    @Test func reloadAppliesValidFilesAndRefusesInvalidOnes() throws {
        let stack = try StackHarness()
        #expect(try stack.cli(["start"]).status == 0)
        let before = try stack.status()

        // A valid change: every daemon re-reads the file; no process is replaced.
        let text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        try text.replacingOccurrences(of: "realm: stagedoor.test", with: "realm: reloaded.test")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let reload = try stack.cli(["reload"])
        #expect(reload.status == 0, "\(reload.errors)")
        for name in ["turn", "bridge", "sip"] { #expect(reload.output.contains("\(name): reloaded")) }
        let generation = { (status: StackStatus) in (status.json["supervisor"] as? [String: Any])?["generation"] as? Int }
        let afterReload = try stack.status()
        #expect(generation(afterReload) == 2)

        // An invalid change is refused with its key path; the stack keeps running untouched.
        try text.replacingOccurrences(of: "port_max: 39999", with: "port_max: 99999")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let refused = try stack.cli(["reload"])
        #expect(refused.status == 78)
        #expect(refused.errors.contains("turn.relay.port_max"))
        let afterRefusal = try stack.status()
        #expect(afterRefusal.allRunning)
        #expect(generation(afterRefusal) == 2)

        // SIGHUP to the supervisor reloads too.
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        kill(try #require(afterRefusal.supervisorPID), SIGHUP)
        let afterHangup = try stack.waitForStatus(timeout: 5) { generation($0) == 3 }
        #expect(generation(afterHangup) == 3)
        for name in ["turn", "bridge", "sip"] { #expect(afterHangup.pid(name) == before.pid(name)) }
        #expect(try stack.cli(["stop"]).status == 0)
    }
}
