import Foundation
import Testing

@testable import Configuration

/// `bridge.ports` and `bridge.panels`: the matrix ports and the panels bound to them.
@Suite struct BridgePortsTests {
    static let base = """
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
        sip:
          listeners:
            - transport: udp
              address: 127.0.0.1
              port: 5060
        bridge:
          whip:
            transport: tcp
            address: 127.0.0.1
            port: 8889
          media:
            address: 127.0.0.1
            port_min: 40000
            port_max: 40999

        """

    static let onePort = """
          ports:
            - id: matrix-1
              send:
                destination: 127.0.0.1
                port: 5004
              receive:
                address: 127.0.0.1
                port: 5006

        """

    static func parse(_ bridge: String) throws -> BridgeSettings {
        try ConfigurationLoader.parse(base + bridge, file: "test.yaml", baseDirectory: "/etc/stagedoor").bridge
    }

    static func issues(_ bridge: String) -> [ConfigurationIssue] {
        do {
            let settings = try parse(bridge)
            Issue.record("expected a rejection, got \(settings)")
            return []
        } catch let error as ConfigurationError {
            return error.issues
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    /// 1-based line of the first line containing `needle` in the whole document.
    static func line(of needle: String, in bridge: String) -> Int? {
        let lines = (base + bridge).split(separator: "\n", omittingEmptySubsequences: false)
        return lines.firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test func defaultsMakeAnAES67Port() throws {
        let settings = try Self.parse(Self.onePort)
        let port = try #require(settings.ports.first)
        #expect(port.id == "matrix-1")
        #expect(port.encoding == .L24)
        #expect(port.channels == 1)
        #expect(port.samplesPerPacket == 48)
        #expect(port.packetTimeMilliseconds == 1)
        #expect(port.payloadType == 96)
        #expect(port.send == BridgePort.Send(destination: "127.0.0.1", port: 5004, ttl: 1, dscp: 46))
        #expect(port.receive == BridgePort.Receive(address: "127.0.0.1", port: 5006))
        #expect(port.payloadBytesPerPacket == 144)
        #expect(settings.panels.isEmpty)
    }

    @Test func noPortsAndNoPanelsIsValid() throws {
        let settings = try Self.parse("")
        #expect(settings.ports.isEmpty && settings.panels.isEmpty)
    }

    @Test func everyFieldIsRead() throws {
        let settings = try Self.parse(
            """
              ports:
                - id: studio.A_2
                  encoding: L16
                  channels: 2
                  packet_time_ms: 0.125
                  payload_type: 100
                  send: {destination: 239.69.1.2, port: 5004, ttl: 16, dscp: 34}
                  receive: {address: 239.69.1.3, port: 5004}
                - id: aes67-333
                  packet_time_ms: 0.333
                  send: {destination: "::1", port: 5008}
                  receive: {address: "::1", port: 5010}
                - id: long
                  packet_time_ms: 20
                  send: {destination: 127.0.0.1, port: 5012}
                  receive: {address: 127.0.0.1, port: 5014}
              panels:
                - id: panel-1
                  token: abcdefghijklmnopqrstuvwxyz
                  port: studio.A_2
                - id: panel-2
                  token_sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
                  port: long

            """)
        try #require(settings.ports.count == 3)
        let studio = settings.ports[0]
        #expect(studio.encoding == .L16 && studio.channels == 2 && studio.samplesPerPacket == 6)
        #expect(studio.payloadType == 100)
        #expect(studio.send.isMulticast && studio.receive.isMulticast)
        #expect(studio.send.ttl == 16 && studio.send.dscp == 34)
        #expect(settings.ports[1].samplesPerPacket == 16)  // AES67's 0.333 ms
        #expect(!settings.ports[1].send.isMulticast)
        #expect(settings.ports[2].samplesPerPacket == 960)
        #expect(
            settings.panels[0]
                == BridgePanel(id: "panel-1", token: .plain("abcdefghijklmnopqrstuvwxyz"), port: "studio.A_2"))
        guard case .sha256(let digest) = settings.panels[1].token else {
            Issue.record("expected a hashed token")
            return
        }
        #expect(digest.count == 32 && digest.first == 0x9F && digest.last == 0x08)
    }

    @Test func packetTimeMustBeWholeSamplesWithinRange() {
        for (value, message) in [
            ("0.1", "out of range"), ("25", "out of range"), ("0.3", "not a whole number"), ("fast", "expected"),
        ] {
            let bridge = Self.onePort.replacingOccurrences(
                of: "      send:", with: "      packet_time_ms: \(value)\n      send:")
            let found = Self.issues(bridge)
            #expect(found.count == 1, "\(value): \(found)")
            #expect(found.first?.keyPath == "bridge.ports[0].packet_time_ms")
            #expect(found.first?.line == Self.line(of: "packet_time_ms", in: bridge))
            #expect(found.first?.message.contains(message) == true, "\(value): \(found)")
        }
    }

    @Test func badFieldsNameTheirKeyPathAndLine() {
        let bridge = """
              ports:
                - id: "bad id"
                  encoding: L20
                  channels: 3
                  payload_type: 8
                  send:
                    destination: somewhere
                    port: 5004
                    dscp: 64
                  receive:
                    address: 127.0.0.1
                    port: 40010
                  colour: blue

            """
        let found = Self.issues(bridge)
        let byPath = Dictionary(found.map { ($0.keyPath, $0) }, uniquingKeysWith: { first, _ in first })
        for (path, needle) in [
            ("bridge.ports[0].id", "bad id"), ("bridge.ports[0].encoding", "L20"),
            ("bridge.ports[0].channels", "channels: 3"),
            ("bridge.ports[0].payload_type", "payload_type"), ("bridge.ports[0].send.destination", "somewhere"),
            ("bridge.ports[0].send.dscp", "dscp"), ("bridge.ports[0].receive.port", "40010"),
            ("bridge.ports[0].colour", "colour"),
        ] {
            let issue = byPath[path]
            #expect(issue != nil, "no issue at \(path) in \(found)")
            #expect(issue?.line == Self.line(of: needle, in: bridge), "\(path)")
        }
        #expect(byPath["bridge.ports[0].receive.port"]?.message.contains("inside bridge.media") == true)
        #expect(byPath["bridge.ports[0].encoding"]?.message.contains("L24, L16") == true)
        #expect(found.count == 8, "\(found)")
    }

    @Test func missingSendAndReceiveAreRequired() {
        let found = Self.issues("  ports:\n    - id: lonely\n")
        #expect(Set(found.map(\.keyPath)) == ["bridge.ports[0].send", "bridge.ports[0].receive"], "\(found)")
    }

    @Test func duplicateIdsAndReceiveAddressesAreRefused() {
        let bridge =
            Self.onePort
                + """
                    - id: matrix-1
                      send: {destination: 127.0.0.1, port: 5008}
                      receive: {address: 127.0.0.1, port: 5010}
                    - id: matrix-2
                      send: {destination: 127.0.0.1, port: 5008}
                      receive: {address: 127.0.0.1, port: 5006}

                """
        let found = Self.issues(bridge)
        #expect(found.count == 2, "\(found)")
        #expect(found.first { $0.keyPath == "bridge.ports[1].id" }?.message.contains("bridge.ports[0]") == true)
        #expect(
            found.first { $0.keyPath == "bridge.ports[2].receive.port" }?.message.contains("127.0.0.1:5006") == true)
    }

    @Test func panelMustNameAnExistingPortAndCarryAGoodToken() {
        let bridge =
            Self.onePort
                + """
                  panels:
                    - id: p1
                      token: short
                      port: matrix-1
                    - id: p2
                      token: abcdefghijklmnopqrstuvwxyz
                      port: matrix-9
                    - id: p3
                      port: matrix-1
                    - id: p4
                      token: abcdefghijklmnopqrstuvwxyz
                      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                      port: matrix-1
                    - id: p5
                      token_sha256: 1234
                      port: matrix-1
                    - id: p6
                      token: abcdefghijklmnopqrstuvwxyz
                      port: matrix-1
                    - id: p6
                      token: abcdefghijklmnopqrstuvwxyz
                      port: matrix-1

                """
        let found = Self.issues(bridge)
        let byPath = Dictionary(found.map { ($0.keyPath, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byPath["bridge.panels[0].token"]?.message.contains("at least 16") == true)
        #expect(byPath["bridge.panels[1].port"]?.message.contains("known ports: matrix-1") == true)
        #expect(byPath["bridge.panels[1].port"]?.line == Self.line(of: "matrix-9", in: bridge))
        #expect(byPath["bridge.panels[2].token"]?.message.contains("is required") == true)
        #expect(byPath["bridge.panels[3].token_sha256"]?.message.contains("not both") == true)
        #expect(byPath["bridge.panels[4].token_sha256"]?.message.contains("64 hexadecimal") == true)
        #expect(byPath["bridge.panels[6].id"]?.message.contains("bridge.panels[5]") == true)
        #expect(found.count == 6, "\(found)")
    }

    @Test func shippedDevelopmentConfigurationHasAPortAndAPanel() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let bridge = try ConfigurationLoader.load(path: root + "/Config/stagedoor.yaml").bridge
        let port = try #require(bridge.ports.first)
        #expect(port.encoding == .L24 && port.samplesPerPacket == 48)
        #expect(port.send.destination == "127.0.0.1")
        let panel = try #require(bridge.panels.first)
        #expect(panel.port == port.id)
    }
}
