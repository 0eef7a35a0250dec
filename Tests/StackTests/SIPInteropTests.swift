import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// stagedoor-sip between two sipp instances (Debian package `sip-tester`): a UAC on 127.0.0.3 calling
/// through the proxy on 127.0.0.1 to a UAS on 127.0.0.2 that is the configured trunk. Every sipp run is
/// bounded (`-m`, `-timeout` with `-timeout_error`, and a wall-clock limit here).
@Suite(.serialized)
struct SIPInteropTests {
    static let proxyPort = 25_060
    static let trunkPort = 25_080
    static let callerPort = 25_070
    static let tlsPort = 25_061
    static let sipp = "/usr/bin/sipp"

    /// The stack with the SIP proxy on loopback ports of its own and the trunk on 127.0.0.2.
    /// `probingInterval` in ms (0: off); `edit` changes the configuration text last.
    static func makeStack(
        trunkTransport: String = "udp", tls: Bool = false, extraTrunk: String? = nil, probingInterval: Int = 0,
        edit: ((inout String) throws -> Void)? = nil
    ) throws -> StackHarness {
        let stack = try StackHarness()
        var text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        if tls {
            // A TLS listener with a fresh self-signed certificate (Debian's sipp has no TLS: the TLS
            // caller is SIPScriptedClientTests' Python client).
            let openssl = try StackHarness.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", stack.directory + "/key.pem", "-out", stack.directory + "/cert.pem",
                ])
            try #require(openssl.status == 0, "openssl: \(openssl.errors)")
            text = text.replacingOccurrences(
                of: "      path: /ws\n",
                with: """
                          path: /ws
                        - transport: tls
                          address: 127.0.0.1
                          port: \(tlsPort)
                          certificate: cert.pem
                          private_key: key.pem

                    """)
        }
        // TURN moves too, so this suite does not collide with the others' stacks.
        text = text.replacingOccurrences(of: "port: 3478", with: "port: 24780")
        text = text.replacingOccurrences(of: "      port: 5060", with: "      port: \(proxyPort)")
        text = text.replacingOccurrences(of: "      port: 8088", with: "      port: 25088")
        let trunk =
            "        - host: 127.0.0.1\n          port: 5080\n          transport: udp\n          priority: 1\n          weight: 1\n"
        try #require(text.contains(trunk), "the trunk template lines were not found")
        text = text.replacingOccurrences(
            of: trunk,
            with: "        - {host: 127.0.0.2, port: \(trunkPort), transport: \(trunkTransport), priority: 2}\n"
                + (extraTrunk.map { $0 + "\n" } ?? ""))
        // OPTIONS probes would reach sipp's scenarios as unexpected messages (unless they expect them).
        text = text.replacingOccurrences(
            of: "options_interval_ms: 10000", with: "options_interval_ms: \(probingInterval)")
        try edit?(&text)
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let started = try stack.cli(["start"])
        try #require(started.status == 0, "start: \(started.output) \(started.errors)")
        return stack
    }

    /// Starts sipp in the stack's folder; `scenario` is a built-in name (`uac`, `uas`) or XML text.
    static func startSipp(
        _ stack: StackHarness, name: String, scenario: String, arguments: [String]
    ) throws -> Process {
        var all: [String]
        if scenario == "uac" || scenario == "uas" {
            all = ["-sn", scenario]
        } else {
            let path = stack.directory + "/\(name).xml"
            try scenario.write(toFile: path, atomically: true, encoding: .utf8)
            all = ["-sf", path]
        }
        all += arguments + ["-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sipp)
        process.arguments = all
        process.currentDirectoryURL = URL(fileURLWithPath: stack.directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits (bounded) for sipp to exit and returns its status; kills it when it overstays.
    static func finish(_ process: Process, timeout: TimeInterval = 45) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        return process.terminationStatus
    }

    /// Everything sipp logged in the stack's folder (messages and errors), for failure messages.
    static func sippLogs(_ stack: StackHarness) -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stack.directory)) ?? []
        return files.filter { $0.hasSuffix(".log") }.sorted().map { file in
            "== \(file)\n" + ((try? String(contentsOfFile: stack.directory + "/" + file, encoding: .utf8)) ?? "")
        }.joined(separator: "\n").suffix(6_000).description
    }

    /// Runs a trunk scenario and a caller scenario against each other through the proxy.
    static func call(
        _ stack: StackHarness, trunk: String, caller: String, transport: String = "u1",
        callerTransport: String? = nil
    ) throws -> (trunk: Int32, caller: Int32) {
        let uas = try startSipp(
            stack, name: "trunk", scenario: trunk,
            arguments: ["-i", "127.0.0.2", "-p", "\(trunkPort)", "-t", transport])
        defer { if uas.isRunning { kill(uas.processIdentifier, SIGKILL) } }
        usleep(300_000)
        let uac = try startSipp(
            stack, name: "caller", scenario: caller,
            arguments: [
                "127.0.0.1:\(proxyPort)", "-i", "127.0.0.3", "-p", "\(callerPort)", "-s", "service", "-t",
                callerTransport ?? transport,
            ])
        let callerStatus = finish(uac)
        let trunkStatus = finish(uas, timeout: callerStatus == 0 ? 15 : 1)
        return (trunkStatus, callerStatus)
    }

    static func sipDetails(_ stack: StackHarness) throws -> [String: Any] {
        let answer = try ControlSocketTests.exchange(
            stack.runtimeDirectory + "/sip.sock", [#"{"jsonrpc":"2.0","id":1,"method":"status"}"#])
        return ((answer.first?["result"] as? [String: Any])?["details"] as? [String: Any]) ?? [:]
    }

    /// The value of the Prometheus series `series` (name with its labels, as printed) in the `metrics`
    /// text of sip.sock.
    static func sipMetric(_ stack: StackHarness, _ series: String) throws -> Double? {
        let answer = try ControlSocketTests.exchange(
            stack.runtimeDirectory + "/sip.sock", [#"{"jsonrpc":"2.0","id":1,"method":"metrics"}"#])
        let text = ((answer.first?["result"] as? [String: Any])?["text"] as? String) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func sipCounter(_ stack: StackHarness, _ name: String) throws -> Int? {
        let answer = try ControlSocketTests.exchange(
            stack.runtimeDirectory + "/sip.sock", [#"{"jsonrpc":"2.0","id":1,"method":"status"}"#])
        let details = (answer.first?["result"] as? [String: Any])?["details"] as? [String: Any]
        return (details?["counters"] as? [String: Any])?[name] as? Int
    }

    @Test func callOverUDP() throws {
        let stack = try Self.makeStack()
        let result = try Self.call(stack, trunk: "uas", caller: "uac")
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try Self.sipCounter(stack, "requests_forwarded").map { $0 >= 3 } == true)
        #expect(try stack.status().state("sip") == "running")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func callOverTCP() throws {
        let stack = try Self.makeStack(trunkTransport: "tcp")
        let result = try Self.call(stack, trunk: "uas", caller: "uac", transport: "t1")
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func callFromTCPToAUDPTrunkIsDoubleRecordRouted() throws {
        let stack = try Self.makeStack()
        let result = try Self.call(stack, trunk: Self.recordRouteCheckingUAS, caller: "uac", callerTransport: "t1")
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// Trunk failover (timeout, 408, 5xx or transport error): the preferred server (priority 1) refuses TCP
    /// connections, so the call moves at once to the next one.
    @Test func aDeadTrunkServerFailsOverToTheNextOne() throws {
        let stack = try Self.makeStack(
            trunkTransport: "tcp",
            extraTrunk: "        - {host: 127.0.0.4, port: \(Self.trunkPort), transport: tcp, priority: 1}")
        let result = try Self.call(stack, trunk: "uas", caller: "uac", transport: "t1", callerTransport: "u1")
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try Self.sipCounter(stack, "failovers").map { $0 >= 1 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// `status` names each trunk server with its state; `reload` brings a new trunk list without a restart.
    @Test func statusListsTrunksAndReloadAppliesNewOnes() throws {
        let stack = try Self.makeStack()
        let before = try Self.sipDetails(stack)
        let trunks = before["trunks"] as? [[String: Any]] ?? []
        #expect(trunks.count == 1)
        #expect(trunks.first?["host"] as? String == "127.0.0.2")
        #expect(trunks.first?["state"] as? String == "unknown")
        #expect(before["transactions"] != nil && before["connections"] != nil && before["flows"] != nil)
        var text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "transport: udp, priority: 2}\n",
            with: "transport: udp, priority: 2}\n        - {host: 127.0.0.6, port: \(Self.trunkPort), priority: 5}\n")
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let reload = try stack.cli(["reload"])
        #expect(reload.status == 0, "\(reload.output) \(reload.errors)")
        let after = try Self.sipDetails(stack)
        #expect(
            (after["trunks"] as? [[String: Any]])?.compactMap { $0["host"] as? String } == ["127.0.0.2", "127.0.0.6"])
        let result = try Self.call(stack, trunk: "uas", caller: "uac")
        #expect(result.caller == 0 && result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func busyFromTheTrunkReachesTheCaller() throws {
        let stack = try Self.makeStack()
        let result = try Self.call(stack, trunk: Self.busyUAS, caller: Self.busyUAC)
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func cancelOfARingingCall() throws {
        let stack = try Self.makeStack()
        let result = try Self.call(stack, trunk: Self.cancelledUAS, caller: Self.cancellingUAC)
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func registerReachesTheRegistrarWithAPath() throws {
        let stack = try Self.makeStack()
        let result = try Self.call(stack, trunk: Self.pathCheckingRegistrar, caller: Self.registeringUAC)
        #expect(result.caller == 0, "\(Self.sippLogs(stack))")
        #expect(result.trunk == 0, "\(Self.sippLogs(stack))")
        let log = Self.sippLogs(stack)
        #expect(log.contains(";lr;ob>"))
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// The registrar scenario is a real check: a REGISTER that did not pass the proxy has no Path and fails it.
    @Test func theRegistrarScenarioFailsWithoutAPath() throws {
        let stack = try StackHarness()
        let uas = try Self.startSipp(
            stack, name: "trunk", scenario: Self.pathCheckingRegistrar,
            arguments: ["-i", "127.0.0.2", "-p", "\(Self.trunkPort)"])
        defer { if uas.isRunning { kill(uas.processIdentifier, SIGKILL) } }
        usleep(300_000)
        let uac = try Self.startSipp(
            stack, name: "caller", scenario: Self.registeringUAC,
            arguments: ["127.0.0.2:\(Self.trunkPort)", "-i", "127.0.0.3", "-p", "\(Self.callerPort)"])
        defer { if uac.isRunning { kill(uac.processIdentifier, SIGKILL) } }
        #expect(Self.finish(uas, timeout: 15) != 0)
    }

    // MARK: - Scenarios

    static let busyUAS = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="busy trunk">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 486 Busy Here
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0

            ]]>
          </send>
          <recv request="ACK"/>
        </scenario>
        """

    static let busyUAC = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="caller of a busy trunk">
          <send retrans="500">
            <![CDATA[
              INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
              To: <sip:[service]@[remote_ip]:[remote_port]>
              Call-ID: [call_id]
              CSeq: 1 INVITE
              Contact: <sip:caller@[local_ip]:[local_port]>
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="100" optional="true"/>
          <recv response="486"/>
          <send>
            <![CDATA[
              ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
              [last_To:]
              Call-ID: [call_id]
              CSeq: 1 ACK
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <pause milliseconds="500"/>
        </scenario>
        """

    static let cancelledUAS = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="ringing trunk that gets cancelled">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 180 Ringing
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Contact: <sip:[local_ip]:[local_port];transport=[transport]>
              Content-Length: 0

            ]]>
          </send>
          <recv request="CANCEL"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0

            ]]>
          </send>
          <send>
            <![CDATA[
              SIP/2.0 487 Request Terminated
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              CSeq: 1 INVITE
              Content-Length: 0

            ]]>
          </send>
          <recv request="ACK"/>
        </scenario>
        """

    static let cancellingUAC = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="caller that gives up while it rings">
          <send retrans="500">
            <![CDATA[
              INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
              To: <sip:[service]@[remote_ip]:[remote_port]>
              Call-ID: [call_id]
              CSeq: 1 INVITE
              Contact: <sip:caller@[local_ip]:[local_port]>
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="100" optional="true"/>
          <recv response="180"/>
          <send>
            <![CDATA[
              CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
              [last_Via:]
              From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
              To: <sip:[service]@[remote_ip]:[remote_port]>
              Call-ID: [call_id]
              CSeq: 1 CANCEL
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="200"/>
          <recv response="487"/>
          <send>
            <![CDATA[
              ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
              [last_Via:]
              From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
              [last_To:]
              Call-ID: [call_id]
              CSeq: 1 ACK
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <pause milliseconds="500"/>
        </scenario>
        """

    /// A registrar that fails the call unless the REGISTER carries a Path naming the proxy with a flow
    /// token and `ob` (RFC 3327, RFC 5626), and echoes the Path in its 200 (RFC 3327 §5.3).
    static let pathCheckingRegistrar = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="registrar that needs a Path">
          <recv request="REGISTER">
            <action>
              <ereg regexp="&lt;sip:[A-Za-z0-9_-]{20,}@127\\.0\\.0\\.1:\(proxyPort);lr;ob&gt;" search_in="hdr"
                    header="Path:" check_it="true" assign_to="path"/>
            </action>
          </recv>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Path: [$path]
              Contact: <sip:alice@127.0.0.3:\(callerPort)>;expires=60
              Content-Length: 0

            ]]>
          </send>
        </scenario>
        """

    static let registeringUAC = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="register">
          <send retrans="500">
            <![CDATA[
              REGISTER sip:stagedoor.localhost SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
              From: <sip:alice@stagedoor.localhost>;tag=[pid]SIPpTag00[call_number]
              To: <sip:alice@stagedoor.localhost>
              Call-ID: [call_id]
              CSeq: 1 REGISTER
              Contact: <sip:alice@[local_ip]:[local_port]>
              Supported: path, outbound
              Expires: 60
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="200"/>
        </scenario>
        """

    /// sipp's built-in UAS, plus a check that the INVITE carries two Record-Routes of the proxy (TCP in,
    /// UDP out, RFC 5658), the TCP one with the caller's flow token; the 200 echoes them.
    static let recordRouteCheckingUAS = recordRouteCheckingUAS(inbound: "tcp", port: proxyPort)

    static func recordRouteCheckingUAS(inbound: String, port: Int) -> String {
        """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="trunk that checks double Record-Route">
          <recv request="INVITE">
            <action>
              <ereg regexp="Record-Route: *&lt;sip:127\\.0\\.0\\.1:\(proxyPort);lr&gt;[[:space:]]+Record-Route: *&lt;sip:[A-Za-z0-9_-]{20,}@127\\.0\\.0\\.1:\(port);transport=\(inbound);lr&gt;"
                    search_in="msg" check_it="true" assign_to="routes"/>
              <log message="double Record-Route: [$routes]"/>
            </action>
          </recv>
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
          <send>
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
        </scenario>
        """
    }
}
