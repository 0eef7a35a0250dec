import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The control protocol spoken by hand on the real sockets: JSON-RPC 2.0, one line each way.
@Suite(.serialized)
struct ControlSocketTests {
    /// Sends raw lines on a Unix socket and returns the response lines.
    static func exchange(_ path: String, _ lines: [String]) throws -> [[String: Any]] {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket failed") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw HarnessError("connect \(path) failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = lines.map { $0 + "\n" }.joined()
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while received.split(separator: UInt8(ascii: "\n")).count < lines.count {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[..<count])
        }
        return try received.split(separator: UInt8(ascii: "\n")).map {
            try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
        }
    }

    @Test func everySocketSpeaksTheSameProtocolAndSurvivesGarbage() throws {
        let stack = try StackHarness()
        #expect(try stack.cli(["start"]).status == 0)
        for name in ["supervisor", "turn", "bridge", "sip"] {
            let path = stack.runtimeDirectory + "/\(name).sock"
            let answers = try Self.exchange(path, [
                "this is not json",
                #"{"jsonrpc":"2.0","id":7,"method":"no-such-method"}"#,
                #"{"jsonrpc":"1.0","id":8,"method":"status"}"#,
                #"{"jsonrpc":"2.0","id":"m","method":"metrics"}"#,
                #"{"jsonrpc":"2.0","id":9,"method":"status"}"#,
            ])
            try #require(answers.count == 5, "\(name): \(answers)")
            let code = { (answer: [String: Any]) in (answer["error"] as? [String: Any])?["code"] as? Int }
            #expect(code(answers[0]) == -32_700)
            #expect(code(answers[1]) == -32_601 && answers[1]["id"] as? Int == 7)
            #expect(code(answers[2]) == -32_600)
            let metrics = (answers[3]["result"] as? [String: Any])?["text"] as? String
            #expect(answers[3]["id"] as? String == "m")
            #expect(metrics?.contains("stagedoor_") == true, "\(name) metrics: \(metrics ?? "nil")")
            let status = try #require(answers[4]["result"] as? [String: Any])
            #expect(answers[4]["jsonrpc"] as? String == "2.0")
            #expect(status["pid"] as? Int != nil || (status["supervisor"] as? [String: Any])?["pid"] as? Int != nil)
        }
        // The garbage hurt nobody.
        let status = try stack.status()
        #expect(status.allRunning)
        #expect(status.components.allSatisfy { $0["restarts"] as? Int == 0 })
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func supervisorTellsSystemdWhenReadyAndStopping() throws {
        let stack = try StackHarness()
        let notifyPath = stack.directory + "/notify.sock"
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(notifyPath.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0)
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifyPath
        environment["WATCHDOG_USEC"] = "400000"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: StackHarness.binaryDirectory + "/stagedoor-supervisor")
        process.arguments = ["--config", stack.configPath]
        process.environment = environment
        process.standardError = FileHandle.nullDevice
        try process.run()

        var messages: [String] = []
        let deadline = Date().addingTimeInterval(15)
        var buffer = [UInt8](repeating: 0, count: 4_096)
        func receive(until done: () -> Bool) {
            while !done(), Date() < deadline {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            }
        }
        receive { messages.contains { $0.contains("READY=1") } && messages.contains { $0.contains("WATCHDOG=1") } }
        #expect(messages.contains { $0.contains("READY=1") && $0.contains("STATUS=turn running, bridge running, sip running") })
        #expect(messages.contains { $0 == "WATCHDOG=1" })
        // The daemons must not inherit the notify socket: only the supervisor speaks to systemd.
        let pid = try #require(try stack.status().pid("sip"))
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
        #expect(!String(decoding: environ, as: UTF8.self).contains("NOTIFY_SOCKET"))

        process.terminate()
        receive { messages.contains { $0.contains("STOPPING=1") } }
        #expect(messages.contains { $0.contains("STOPPING=1") })
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(stack.processes().isEmpty)
    }
}
