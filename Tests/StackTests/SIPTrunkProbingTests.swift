import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Trunk failover by OPTIONS probing, end to end: two sipp trunk servers of one group (A on 127.0.0.2,
/// priority 2, preferred; B on 127.0.0.3, priority 3), probed every 500 ms, and sipp callers on
/// 127.0.0.5. Calls go to A; A stops, probing marks it down, calls go to B without a failed call; A
/// comes back, probing marks it up, calls go to A again.
@Suite(.serialized)
struct SIPTrunkProbingTests {
    static let serverA = "127.0.0.2"
    static let serverB = "127.0.0.3"
    static let caller = "127.0.0.5"

    /// A sipp trunk server that runs until killed: it answers OPTIONS probes and takes calls.
    static func startServer(_ stack: StackHarness, name: String, address: String) throws -> Process {
        let path = stack.directory + "/\(name).xml"
        try probedUAS.write(toFile: path, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SIPInteropTests.sipp)
        process.arguments = [
            "-sf", path, "-i", address, "-p", "\(SIPInteropTests.trunkPort)", "-t", "u1", "-nostdin", "-trace_msg",
            "-trace_err",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: stack.directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Places `count` calls through the proxy with sipp's built-in UAC; its exit status is 0 only when every
    /// call succeeded.
    static func placeCalls(_ stack: StackHarness, count: Int) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SIPInteropTests.sipp)
        process.arguments = [
            "-sn", "uac", "127.0.0.1:\(SIPInteropTests.proxyPort)", "-i", caller, "-p",
            "\(SIPInteropTests.callerPort)", "-s", "service", "-t", "u1", "-m", "\(count)", "-r", "10", "-d", "100",
            "-timeout", "20s", "-timeout_error", "-nostdin", "-trace_err",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: stack.directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return SIPInteropTests.finish(process, timeout: 25)
    }

    /// INVITEs the trunk server(s) named `name` received, from sipp's message logs (`name_PID_messages.log`,
    /// written as messages arrive).
    static func invites(_ stack: StackHarness, _ name: String) -> Int {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stack.directory)) ?? []
        return files.filter { $0.hasPrefix(name + "_") && $0.hasSuffix("_messages.log") }.reduce(0) { total, file in
            let text = (try? String(contentsOfFile: stack.directory + "/" + file, encoding: .utf8)) ?? ""
            return total + text.components(separatedBy: "\nINVITE sip:").count - 1
        }
    }

    /// The probing state of the trunk server at `host`, from the control socket's `status`.
    static func trunkState(_ stack: StackHarness, _ host: String) -> String? {
        let trunks = (try? SIPInteropTests.sipDetails(stack))?["trunks"] as? [[String: Any]] ?? []
        return trunks.first { $0["host"] as? String == host }?["state"] as? String
    }

    /// Waits (bounded) until the server at `host` is in `state`; returns the seconds it took, nil on timeout.
    static func waitForState(_ stack: StackHarness, _ host: String, _ state: String, timeout: TimeInterval = 6)
        -> TimeInterval?
    {
        let start = Date()
        return eventually(timeout: timeout) { trunkState(stack, host) == state }
            ? Date().timeIntervalSince(start) : nil
    }

    @Test func probingMovesCallsOffADeadServerAndBackWhenItReturns() throws {
        let begin = Date()
        var serverA: Process?
        var serverB: Process?
        defer {
            for process in [serverA, serverB].compactMap({ $0 }) where process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            }
        }
        let stack = try SIPInteropTests.makeStack(
            extraTrunk:
                "        - {host: \(Self.serverB), port: \(SIPInteropTests.trunkPort), transport: udp, priority: 3}",
            probingInterval: 500)
        serverA = try Self.startServer(stack, name: "serverA", address: Self.serverA)
        serverB = try Self.startServer(stack, name: "serverB", address: Self.serverB)

        // Both answer their probes: up.
        #expect(Self.waitForState(stack, Self.serverA, "up") != nil, "\(SIPInteropTests.sippLogs(stack))")
        #expect(Self.waitForState(stack, Self.serverB, "up") != nil, "\(SIPInteropTests.sippLogs(stack))")
        // Calls go to the preferred server.
        #expect(try Self.placeCalls(stack, count: 3) == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(Self.invites(stack, "serverA") == 3)
        #expect(Self.invites(stack, "serverB") == 0)

        // A stops: two unanswered probes (one interval each) mark it down.
        kill(serverA!.processIdentifier, SIGKILL)
        serverA!.waitUntilExit()
        let downAfter = Self.waitForState(stack, Self.serverA, "down")
        #expect(downAfter.map { $0 < 3 } == true, "A marked down after \(String(describing: downAfter)) s")
        #expect(Self.trunkState(stack, Self.serverB) == "up")
        // The metrics say so too, per trunk server, and count what went through.
        let udp = "udp:%@:\(SIPInteropTests.trunkPort)"
        let upA = #"stagedoor_sip_trunk_server_up{trunk="media",server="\#(String(format: udp, Self.serverA))"}"#
        let upB = #"stagedoor_sip_trunk_server_up{trunk="media",server="\#(String(format: udp, Self.serverB))"}"#
        #expect(try SIPInteropTests.sipMetric(stack, upA) == 0)
        #expect(try SIPInteropTests.sipMetric(stack, upB) == 1)
        #expect(try SIPInteropTests.sipMetric(stack, "stagedoor_sip_requests_forwarded_total").map { $0 >= 3 } == true)
        // New calls go to B, and none fails.
        #expect(try Self.placeCalls(stack, count: 3) == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(Self.invites(stack, "serverB") == 3)
        #expect(Self.invites(stack, "serverA") == 3)

        // A comes back: its first answered probe marks it up, and new calls go to it again.
        serverA = try Self.startServer(stack, name: "serverA", address: Self.serverA)
        let upAfter = Self.waitForState(stack, Self.serverA, "up")
        #expect(upAfter.map { $0 < 3 } == true, "A marked up after \(String(describing: upAfter)) s")
        #expect(try Self.placeCalls(stack, count: 3) == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(Self.invites(stack, "serverA") == 6)
        #expect(Self.invites(stack, "serverB") == 3)

        // No call ever went to a dead server and had to fail over.
        #expect(try SIPInteropTests.sipCounter(stack, "failovers") == 0)
        #expect(try stack.status().state("sip") == "running")
        #expect(try stack.cli(["stop"]).status == 0)
        #expect(Date().timeIntervalSince(begin) < 30)
    }

    /// A trunk server for probing: each new Call-ID is either an OPTIONS probe (answered 200) or a call
    /// (INVITE answered 200 with SDP, ACK, BYE answered 200).
    static let probedUAS = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="trunk server that answers probes and calls">
          <recv request="OPTIONS" optional="true" next="probe"/>
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              [last_Record-Route:]
              Contact: <sip:[local_ip]:[local_port];transport=[transport]>
              Content-Type: application/sdp
              Content-Length: [len]

              v=0
              o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
              s=-
              c=IN IP[media_ip_type] [media_ip]
              t=0 0
              m=audio [media_port] RTP/AVP 0
              a=rtpmap:0 PCMU/8000

            ]]>
          </send>
          <recv request="ACK"/>
          <recv request="BYE"/>
          <send next="end">
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0

            ]]>
          </send>
          <label id="probe"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag02[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0

            ]]>
          </send>
          <label id="end"/>
        </scenario>
        """
}
