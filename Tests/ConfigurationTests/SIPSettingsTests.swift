import Foundation
import Testing

@testable import Configuration

/// The `sip` keys of the edge proxy: trunks, probing, limits, WebSocket origins, domain.
@Suite struct SIPSettingsTests {
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
        bridge:
          whip:
            transport: tcp
            address: 127.0.0.1
            port: 8889
          media:
            address: 127.0.0.1
            port_min: 40000
            port_max: 40999
        sip:
          listeners:
            - transport: udp
              address: 127.0.0.1
              port: 5060

        """

    func parse(_ sip: String) throws -> StagedoorConfiguration {
        try ConfigurationLoader.parse(Self.base + sip, baseDirectory: "/tmp")
    }

    func issues(_ sip: String) -> [ConfigurationIssue] {
        do {
            _ = try parse(sip)
            return []
        } catch let error as ConfigurationError {
            return error.issues
        } catch {
            return []
        }
    }

    /// The 1-based line of the first line containing `needle` in the whole document.
    func line(of needle: String, in sip: String) -> Int? {
        (Self.base + sip).components(separatedBy: "\n").firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test func defaultsWhenOnlyListenersAreGiven() throws {
        let sip = try parse("").sip
        #expect(sip.trunks.isEmpty)
        #expect(sip.domain == nil)
        #expect(sip.foreignDomains == .reject)
        #expect(sip.probing == SIPProbing())
        #expect(sip.limits.requestsPerSecond == 50)
        #expect(sip.limits.maxMessageSize == 65_535)
        #expect(sip.webSocket.allowedOrigins.isEmpty)
    }

    @Test func everyKeyIsRead() throws {
        let sip = try parse(
            """
              domain: sip.example.com
              public_host: edge.example.com
              foreign_domains: trunk
              trunks:
                - name: media
                  servers:
                    - {host: 10.0.0.10, port: 5080, transport: tcp, priority: 1, weight: 3}
                    - {host: 10.0.0.11}
                - name: backup
                  servers:
                    - {host: "fd00::5", transport: tls, port: 5061, priority: 2}
              probing:
                options_interval_ms: 5000
                down_after: 3
                up_after: 2
              limits:
                requests_per_second: 10
                ban_seconds: 30
                connections_per_source: 4
                max_message_size: 8192
              ws:
                allowed_origins: ["https://panel.example.com", "*"]
                ping_interval_ms: 0
            """
        ).sip
        #expect(sip.domain == "sip.example.com")
        #expect(sip.publicHost == "edge.example.com")
        #expect(sip.foreignDomains == .trunk)
        #expect(sip.trunks.map(\.name) == ["media", "backup"])
        #expect(
            sip.trunks[0].servers == [
                SIPTrunkServer(host: "10.0.0.10", port: 5080, transport: .tcp, priority: 1, weight: 3),
                SIPTrunkServer(host: "10.0.0.11", port: 5060, transport: .udp, priority: 1, weight: 1),
            ])
        #expect(sip.trunks[1].servers == [SIPTrunkServer(host: "fd00::5", port: 5061, transport: .tls, priority: 2)])
        #expect(sip.probing.optionsIntervalMilliseconds == 5_000)
        #expect(sip.probing.downAfter == 3)
        #expect(sip.probing.upAfter == 2)
        #expect(sip.limits.requestsPerSecond == 10)
        #expect(sip.limits.banSeconds == 30)
        #expect(sip.limits.connectionsPerSource == 4)
        #expect(sip.limits.maxMessageSize == 8_192)
        #expect(sip.webSocket.allowedOrigins == ["https://panel.example.com", "*"])
        #expect(sip.webSocket.pingIntervalMilliseconds == 0)
    }

    @Test func aTrunkHostMustBeAnIPAddress() {
        let sip = """
              trunks:
                - name: media
                  servers:
                    - host: asterisk.lan
            """
        let found = issues(sip)
        #expect(found.count == 1)
        #expect(found.first?.keyPath == "sip.trunks[0].servers[0].host")
        #expect(found.first?.line == line(of: "asterisk.lan", in: sip))
        #expect(found.first?.message.contains("not an IP address") == true)
    }

    @Test func trunkErrorsNameTheirKeyPath() {
        let found = issues(
            """
              trunks:
                - name: media
                  servers:
                    - {host: 10.0.0.10, transport: ws}
                    - {host: 10.0.0.11, port: 70000}
                    - {host: 10.0.0.12, colour: blue}
                - name: media
                  servers: []
            """)
        let paths = found.map(\.keyPath)
        #expect(paths.contains("sip.trunks[0].servers[0].transport"))
        #expect(paths.contains("sip.trunks[0].servers[1].port"))
        #expect(paths.contains("sip.trunks[0].servers[2].colour"))
        #expect(paths.contains("sip.trunks[1].servers"))
        #expect(paths.contains("sip.trunks[1].name"))
    }

    @Test func theSameServerTwiceIsAnError() {
        let found = issues(
            """
              trunks:
                - name: media
                  servers:
                    - {host: 10.0.0.10}
                    - {host: 10.0.0.10, port: 5060}
            """)
        #expect(found.map(\.keyPath) == ["sip.trunks[0].servers[1].host"])
        #expect(found.first?.message.contains("sip.trunks[0].servers[0]") == true)
    }

    @Test func limitsAndProbingAreRangeChecked() {
        let sip = """
              probing:
                options_interval_ms: 100
              limits:
                requests_per_second: -1
                max_message_size: 100
              foreign_domains: anywhere
            """
        let found = issues(sip)
        #expect(
            Set(found.map(\.keyPath)) == [
                "sip.probing.options_interval_ms", "sip.limits.requests_per_second", "sip.limits.max_message_size",
                "sip.foreign_domains",
            ])
        let limit = found.first { $0.keyPath == "sip.limits.max_message_size" }
        #expect(limit?.line == line(of: "max_message_size", in: sip))
        #expect(limit?.message.contains("1024 to 65535") == true)
    }

    @Test func originsMustBeOrigins() {
        let found = issues(
            """
              ws:
                allowed_origins: ["https://panel.example.com/app", "panel.example.com"]
                ping: 5
            """)
        #expect(found.map(\.keyPath) == ["sip.ws.allowed_origins", "sip.ws.allowed_origins", "sip.ws.ping"])
    }

    @Test func theShippedDevelopmentFileHasALoopbackTrunk() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let configuration = try ConfigurationLoader.load(path: root + "/Config/stagedoor.yaml")
        #expect(configuration.sip.trunks.first?.servers.first == SIPTrunkServer(host: "127.0.0.1", port: 5080))
        #expect(configuration.sip.domain == "stagedoor.localhost")
    }
}
