import ArgumentParser
import Configuration
import Control
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One line per component: state, pid, uptime, restarts, last exit.",
        discussion: "Exit 0 when every component runs, 1 when some does not, 3 when the stack is not running.")

    @OptionGroup var options: StackOptions

    @Flag(
        help:
            "Print JSON: {\"supervisor\": {...}, \"components\": [{\"name\", \"state\", \"pid\", \"restarts\", ...}]}.")
    var json = false

    func run() async throws {
        let stack = Stack(options)
        let answer: JSONValue
        do {
            answer = try await stack.call("status")
        } catch .notRunning {
            if json {
                printJSON(["running": false, "components": []])
            } else {
                print("stagedoor is not running")
                if stack.managedBySystemd {
                    print("systemd: see `systemctl status \(Stack.unit)` and `journalctl -u \(Stack.unit)`")
                }
            }
            throw StackExit.notRunning
        } catch {
            printError("the supervisor does not answer: \(error)")
            throw ExitCode.failure
        }
        let table = StatusTable(answer)
        if json {
            var object: [String: JSONValue] = ["running": true]
            object["supervisor"] = answer["supervisor"]
            object["components"] = answer["components"]
            printJSON(.object(object))
        } else {
            print(table.text)
        }
        if !table.allRunning { throw StackExit.degraded }
    }
}

/// The human-readable form of the supervisor's `status` answer.
struct StatusTable {
    let answer: JSONValue

    init(_ answer: JSONValue) { self.answer = answer }

    var components: [JSONValue] { answer["components"]?.arrayValue ?? [] }

    var allRunning: Bool {
        !components.isEmpty && components.allSatisfy { $0["state"]?.stringValue == "running" }
    }

    var text: String {
        var rows = [["COMPONENT", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]]
        if let supervisor = answer["supervisor"] {
            rows.append([
                "supervisor", supervisor["state"]?.stringValue ?? "?",
                supervisor["pid"]?.intValue.map(String.init) ?? "-",
                Self.duration(supervisor["uptime_s"]?.doubleValue), "-", "-",
            ])
        }
        for component in components {
            var state = component["state"]?.stringValue ?? "?"
            if let next = component["next_restart_in_s"]?.doubleValue {
                state += String(format: " (retry in %.1fs)", next)
            }
            rows.append([
                component["name"]?.stringValue ?? "?", state, component["pid"]?.intValue.map(String.init) ?? "-",
                Self.duration(component["uptime_s"]?.doubleValue),
                component["restarts"]?.intValue.map(String.init) ?? "0",
                component["last_exit"]?.stringValue ?? "-",
            ])
        }
        return Self.align(rows)
    }

    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let total = Int(seconds)
        if total >= 86_400 { return "\(total / 86_400)d\(String(format: "%02d", total % 86_400 / 3_600))h" }
        if total >= 3_600 { return "\(total / 3_600)h\(String(format: "%02d", total % 3_600 / 60))m" }
        if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total)s"
    }

    /// Left-aligned columns two spaces apart; the last column is not padded.
    static func align(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration without starting anything; every error names its key path and line.")

    @OptionGroup var options: StackOptions

    func run() async throws {
        let stack = Stack(options)
        if stack.runsAsServiceAccount {
            // Check what the supervisor will see: it reads the file and the TLS files as the account.
            let code = try ServiceAccount.check(configPath: stack.configPath)
            if code != 0 { throw ExitCode(code) }
            return
        }
        let configuration = try stack.loadConfiguration()
        let rules = configuration.firewallRules
        print("\(stack.configPath): OK")
        print("runtime directory: \(configuration.runtimeDirectory)")
        print("sockets: \(rules.count) (see `stagedoor ports`)")
    }
}

struct Ports: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The firewall table the configuration implies: every port the daemons open.")

    @OptionGroup var options: StackOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let configuration = try Stack(options).loadConfiguration()
        let rules = configuration.firewallRules
        if json {
            printJSON(
                .array(
                    rules.map { rule in
                        [
                            "protocol": .string(rule.ipProtocol.rawValue), "port_min": JSONValue(rule.ports.lowerBound),
                            "port_max": JSONValue(rule.ports.upperBound), "address": .string(rule.address),
                            "direction": .string(rule.direction.rawValue), "from": .string(rule.peer),
                            "purpose": .string(rule.purpose), "component": .string(rule.component.executableName),
                        ]
                    }))
            return
        }
        var rows = [["PORTS", "ADDRESS", "DIRECTION", "FROM", "PURPOSE", "DAEMON"]]
        for rule in rules {
            rows.append([
                rule.portText, rule.address, rule.direction.rawValue, rule.peer, rule.purpose,
                rule.component.executableName,
            ])
        }
        print(StatusTable.align(rows))
    }
}
