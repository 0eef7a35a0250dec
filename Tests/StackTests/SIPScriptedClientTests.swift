import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// stagedoor-sip with a small SIP client in Python (standard library only, written by the test) where
/// sipp cannot go: SIP over WebSocket (RFC 7118) — register, the sipp trunk checks the Path and calls
/// back through the flow token, and after the connection closes the trunk's next INVITE gets 430 Flow
/// Failed (RFC 5626) — and SIP over TLS (Debian's sipp is built without TLS).
@Suite(.serialized)
struct SIPScriptedClientTests {
    static let webSocketPort = 25_088

    @Test func registerOverWebSocketThenTheTrunkCallsBackAndGets430AfterClose() throws {
        let stack = try SIPInteropTests.makeStack()
        let client = stack.directory + "/sip_client.py"
        try Self.client.write(toFile: client, atomically: true, encoding: .utf8)
        let trunk = try SIPInteropTests.startSipp(
            stack, name: "trunk", scenario: Self.callingRegistrar,
            arguments: ["-i", "127.0.0.2", "-p", "\(SIPInteropTests.trunkPort)", "-t", "u1"])
        defer { if trunk.isRunning { kill(trunk.processIdentifier, SIGKILL) } }
        usleep(300_000)
        let run = try StackHarness.run(
            "/usr/bin/python3", [client, "call", "\(Self.webSocketPort)", "http://localhost:8080"], timeout: 40)
        #expect(run.status == 0, "\(run.output)\(run.errors)\n\(SIPInteropTests.sippLogs(stack))")
        #expect(run.output.contains("registered with Path"))
        #expect(run.output.contains("INVITE arrived over the WebSocket"))
        #expect(SIPInteropTests.finish(trunk, timeout: 20) == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(try SIPInteropTests.sipCounter(stack, "requests_forwarded").map { $0 >= 2 } == true)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// INVITE, ACK and BYE over TLS; the ACK and BYE follow the route set from the double Record-Route
    /// (TLS in, UDP out) back through the proxy to the sipp trunk.
    @Test func callOverTLSFollowingTheRouteSet() throws {
        let stack = try SIPInteropTests.makeStack(tls: true)
        let client = stack.directory + "/sip_client.py"
        try Self.client.write(toFile: client, atomically: true, encoding: .utf8)
        let trunk = try SIPInteropTests.startSipp(
            stack, name: "trunk",
            scenario: SIPInteropTests.recordRouteCheckingUAS(inbound: "tls", port: SIPInteropTests.tlsPort),
            arguments: ["-i", "127.0.0.2", "-p", "\(SIPInteropTests.trunkPort)", "-t", "u1"])
        defer { if trunk.isRunning { kill(trunk.processIdentifier, SIGKILL) } }
        usleep(300_000)
        let run = try StackHarness.run(
            "/usr/bin/python3", [client, "tls-call", "\(SIPInteropTests.tlsPort)", "-"], timeout: 40)
        #expect(run.status == 0, "\(run.output)\(run.errors)\n\(SIPInteropTests.sippLogs(stack))")
        #expect(run.output.contains("200 for BYE"))
        #expect(run.output.contains("transport=tls;lr>"))
        #expect(SIPInteropTests.finish(trunk, timeout: 20) == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// A flood from one source is cut off (pike-like ban) while another source's call still goes through.
    @Test func aFloodIsLimitedWhileOtherSourcesAreServed() throws {
        let stack = try SIPInteropTests.makeStack()
        let client = stack.directory + "/sip_client.py"
        try Self.client.write(toFile: client, atomically: true, encoding: .utf8)
        let flood = try StackHarness.run(
            "/usr/bin/python3", [client, "flood", "\(SIPInteropTests.proxyPort)", "-"], timeout: 30)
        let answered = Int(
            flood.output.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
        // 50 requests/s with bursts of 100 (the development limits): most of the 400 go unanswered.
        #expect(answered.map { $0 > 0 && $0 <= 150 } == true, "\(flood.output)\(flood.errors)")
        let limited = try SIPInteropTests.sipCounter(stack, "rate_limited")
        // What the kernel did not drop from the socket buffer and the proxy did not answer, it dropped itself.
        #expect(limited.map { $0 > 0 } == true, "rate_limited \(String(describing: limited)), \(flood.output)")
        let result = try SIPInteropTests.call(stack, trunk: "uas", caller: "uac")
        #expect(result.caller == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(result.trunk == 0, "\(SIPInteropTests.sippLogs(stack))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func aForeignOriginOrAMissingSubprotocolIsRefused() throws {
        let stack = try SIPInteropTests.makeStack()
        let client = stack.directory + "/sip_client.py"
        try Self.client.write(toFile: client, atomically: true, encoding: .utf8)
        let foreign = try StackHarness.run(
            "/usr/bin/python3", [client, "handshake", "\(Self.webSocketPort)", "https://evil.example.net"], timeout: 20)
        #expect(foreign.output.contains("HTTP/1.1 403"), "\(foreign.output)\(foreign.errors)")
        let allowed = try StackHarness.run(
            "/usr/bin/python3", [client, "handshake", "\(Self.webSocketPort)", "http://localhost:8080"], timeout: 20)
        #expect(allowed.output.contains("HTTP/1.1 101"), "\(allowed.output)\(allowed.errors)")
        #expect(allowed.output.lowercased().contains("sec-websocket-protocol: sip"))
        let noProtocol = try StackHarness.run(
            "/usr/bin/python3", [client, "handshake-without-sip", "\(Self.webSocketPort)", "http://localhost:8080"],
            timeout: 20)
        #expect(noProtocol.output.contains("HTTP/1.1 403"), "\(noProtocol.output)\(noProtocol.errors)")
        #expect(try stack.status().state("sip") == "running")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    /// A WebSocket SIP client with the standard library only (RFC 6455 client framing, masked).
    static let client = #"""
        import base64, os, socket, struct, sys

        def handshake(port, origin, protocol="sip"):
            sock = socket.create_connection(("127.0.0.1", port), timeout=15)
            key = base64.b64encode(os.urandom(16)).decode()
            lines = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
            if protocol:
                lines.append(f"Sec-WebSocket-Protocol: {protocol}")
            if origin:
                lines.append(f"Origin: {origin}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            return sock, head.decode(errors="replace"), rest

        def send(sock, text):
            payload = text.encode()
            mask = os.urandom(4)
            header = bytes([0x81])
            if len(payload) < 126:
                header += bytes([0x80 | len(payload)])
            else:
                header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
            sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

        class Reader:
            def __init__(self, sock, rest):
                self.sock, self.buffer = sock, rest

            def take(self, count):
                while len(self.buffer) < count:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise EOFError("connection closed")
                    self.buffer += chunk
                data, self.buffer = self.buffer[:count], self.buffer[count:]
                return data

            def message(self):
                while True:
                    first, second = self.take(2)
                    length = second & 0x7F
                    if length == 126:
                        length = struct.unpack("!H", self.take(2))[0]
                    elif length == 127:
                        length = struct.unpack("!Q", self.take(8))[0]
                    payload = self.take(length)
                    opcode = first & 0x0F
                    if opcode == 0x9:
                        self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                        continue
                    if opcode == 0x8:
                        raise EOFError("close frame")
                    return payload.decode()

        def header(message, name):
            for line in message.split("\r\n"):
                if line.lower().startswith(name.lower() + ":"):
                    return line.split(":", 1)[1].strip()
            return None

        def reply(request, code, reason):
            lines = [f"SIP/2.0 {code} {reason}"]
            for line in request.split("\r\n")[1:]:
                if not line:
                    break
                name = line.split(":", 1)[0].strip().lower()
                if name in ("via", "v", "from", "f", "call-id", "i", "cseq"):
                    lines.append(line)
                elif name in ("to", "t"):
                    lines.append(line + ";tag=ws1")
            return "\r\n".join(lines + ["Content-Length: 0", "", ""])

        def call(port, origin):
            sock, head, rest = handshake(port, origin)
            assert head.startswith("HTTP/1.1 101"), head
            reader = Reader(sock, rest)
            send(sock, "\r\n".join([
                "REGISTER sip:stagedoor.localhost SIP/2.0",
                "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1;rport",
                "Max-Forwards: 70",
                "From: <sip:alice@stagedoor.localhost>;tag=ws0",
                "To: <sip:alice@stagedoor.localhost>",
                "Call-ID: ws-register-1",
                "CSeq: 1 REGISTER",
                "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\";reg-id=1",
                "Supported: path, outbound",
                "Expires: 60",
                "Content-Length: 0", "", ""]))
            response = reader.message()
            assert response.startswith("SIP/2.0 200"), response
            assert header(response, "Path"), response
            print("registered with Path", header(response, "Path"))
            invite = reader.message()
            assert invite.startswith("INVITE sip:alice@df7jal23ls0d.invalid"), invite
            assert header(invite, "Via").startswith("SIP/2.0/WS"), invite
            print("INVITE arrived over the WebSocket")
            send(sock, reply(invite, 486, "Busy Here"))
            ack = reader.message()
            assert ack.startswith("ACK "), ack
            sock.close()
            print("closed")

        class StreamReader:
            """Content-Length framing on a stream (RFC 3261 §18.3)."""
            def __init__(self, sock):
                self.sock, self.buffer = sock, b""

            def message(self):
                while b"\r\n\r\n" not in self.buffer:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise EOFError("connection closed")
                    self.buffer += chunk
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                length = int(header(head.decode(), "Content-Length") or 0)
                while len(rest) < length:
                    rest += self.sock.recv(65536)
                self.buffer = rest[length:]
                return head.decode() + "\r\n\r\n" + rest[:length].decode()

            def final(self):
                while True:
                    message = self.message()
                    if not message.startswith("SIP/2.0 1"):
                        return message

        def tls_call(port):
            import ssl
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15))
            reader = StreamReader(sock)
            sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
            common = ["Max-Forwards: 70", "From: <sip:alice@stagedoor.localhost>;tag=tls0", "Call-ID: tls-call-1"]
            sock.sendall("\r\n".join([
                f"INVITE sip:service@127.0.0.1:{port};transport=tls SIP/2.0",
                "Via: SIP/2.0/TLS 127.0.0.3:5061;branch=z9hG4bKtls1;rport"] + common + [
                "To: <sip:service@stagedoor.localhost>", "CSeq: 1 INVITE",
                "Contact: <sip:alice@127.0.0.3:5061;transport=tls>", "Content-Type: application/sdp",
                f"Content-Length: {len(sdp)}", "", sdp]).encode())
            ok = reader.final()
            assert ok.startswith("SIP/2.0 200"), ok
            routes = []
            for line in ok.split("\r\n"):
                if line.lower().startswith("record-route:"):
                    routes += [part.strip() for part in line.split(":", 1)[1].split(",")]
            print("Record-Route:", ", ".join(routes))
            target = header(ok, "Contact").strip("<>").split(">")[0]
            assert len(routes) == 2, ok
            route = "Route: " + ", ".join(reversed(routes))
            to = "To: " + header(ok, "To")
            for method, cseq, branch in (("ACK", 1, "z9hG4bKtls2"), ("BYE", 2, "z9hG4bKtls3")):
                sock.sendall("\r\n".join([
                    f"{method} {target} SIP/2.0", f"Via: SIP/2.0/TLS 127.0.0.3:5061;branch={branch};rport", route]
                    + common + [to, f"CSeq: {cseq} {method}", "Content-Length: 0", "", ""]).encode())
            bye = reader.final()
            assert bye.startswith("SIP/2.0 200") and "BYE" in header(bye, "CSeq"), bye
            print("200 for BYE")
            sock.close()

        mode, port, origin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        if mode == "call":
            call(port, origin)
        elif mode == "tls-call":
            tls_call(port)
        elif mode == "flood":
            # 400 OPTIONS as fast as possible from 127.0.0.5; count what comes back.
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.5", 0))
            for index in range(400):
                sock.sendto("\r\n".join([
                    "OPTIONS sip:127.0.0.1:%d SIP/2.0" % port,
                    "Via: SIP/2.0/UDP 127.0.0.5:%d;branch=z9hG4bKflood%d" % (sock.getsockname()[1], index),
                    "Max-Forwards: 70", "From: <sip:scanner@127.0.0.5>;tag=f", "To: <sip:127.0.0.1>",
                    "Call-ID: flood-%d" % index, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""]).encode(),
                    ("127.0.0.1", port))
            sock.settimeout(1.0)
            answered = 0
            try:
                while True:
                    sock.recv(65536)
                    answered += 1
            except socket.timeout:
                pass
            print("answered", answered)
        else:
            sock, head, _ = handshake(port, origin, None if mode == "handshake-without-sip" else "sip")
            print(head)
            sock.close()
        """#

    /// The trunk: a registrar that needs the Path, then calls the client back through it (Route: the
    /// Path), gets the client's 486, and after the connection closed calls again and expects 430.
    static let callingRegistrar = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="registrar that calls back through the flow">
          <recv request="REGISTER">
            <action>
              <ereg regexp="&lt;sip:[A-Za-z0-9_-]{20,}@127\\.0\\.0\\.1:\(SIPInteropTests.proxyPort);lr;ob&gt;"
                    search_in="hdr" header="Path:" check_it="true" assign_to="path"/>
              <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:" check_it="true"
                    assign_to="contact,contacturi"/>
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
              Contact: [$contact];expires=60
              Content-Length: 0

            ]]>
          </send>
          <pause milliseconds="300"/>
          <send retrans="500">
            <![CDATA[
              INVITE [$contacturi] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
              Route: [$path]
              From: <sip:service@[local_ip]:[local_port]>;tag=[pid]SIPpTag02[call_number]
              To: <sip:alice@stagedoor.localhost>
              Call-ID: [call_id]
              CSeq: 1 INVITE
              Contact: <sip:service@[local_ip]:[local_port]>
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="100" optional="true"/>
          <recv response="486"/>
          <send>
            <![CDATA[
              ACK [$contacturi] SIP/2.0
              [last_Via:]
              Route: [$path]
              From: <sip:service@[local_ip]:[local_port]>;tag=[pid]SIPpTag02[call_number]
              [last_To:]
              Call-ID: [call_id]
              CSeq: 1 ACK
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <pause milliseconds="1500"/>
          <send retrans="500">
            <![CDATA[
              INVITE [$contacturi] SIP/2.0
              Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
              Route: [$path]
              From: <sip:service@[local_ip]:[local_port]>;tag=[pid]SIPpTag03[call_number]
              To: <sip:alice@stagedoor.localhost>
              Call-ID: [call_id]
              CSeq: 2 INVITE
              Contact: <sip:service@[local_ip]:[local_port]>
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
          <recv response="100" optional="true"/>
          <recv response="430"/>
          <send>
            <![CDATA[
              ACK [$contacturi] SIP/2.0
              [last_Via:]
              Route: [$path]
              From: <sip:service@[local_ip]:[local_port]>;tag=[pid]SIPpTag03[call_number]
              [last_To:]
              Call-ID: [call_id]
              CSeq: 2 ACK
              Max-Forwards: 70
              Content-Length: 0

            ]]>
          </send>
        </scenario>
        """
}
