import Testing

@testable import Configuration

/// `bridge.whip.allowed_origins`, `bridge.sessions` and `bridge.jitter_buffer`: which pages may
/// call WHIP, when a panel session ends by itself, and how deep its buffers may grow.
@Suite struct BridgeSessionSettingsTests {
    static func parse(whip: String = "", bridge: String = "") throws -> BridgeSettings {
        let document = BridgePortsTests.base.replacingOccurrences(
            of: "    port: 8889\n", with: "    port: 8889\n" + whip)
        return try ConfigurationLoader.parse(document + bridge, file: "test.yaml", baseDirectory: "/etc/stagedoor")
            .bridge
    }

    static func issues(whip: String = "", bridge: String = "") -> [ConfigurationIssue] {
        do {
            let settings = try parse(whip: whip, bridge: bridge)
            Issue.record("expected a rejection, got \(settings)")
            return []
        } catch let error as ConfigurationError {
            return error.issues
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    @Test func safeDefaults() throws {
        let settings = try Self.parse()
        #expect(settings.allowedOrigins.isEmpty)
        #expect(
            settings.sessions == BridgeSessionTimeouts(establishmentMilliseconds: 30_000, consentMilliseconds: 30_000))
    }

    @Test func originsAndTimeoutsAreRead() throws {
        let settings = try Self.parse(
            whip: "    allowed_origins: [\"https://panel.example.com\", \"http://127.0.0.1:8080\"]\n",
            bridge: "  sessions:\n    establishment_timeout_ms: 2000\n    consent_timeout_ms: 10000\n")
        #expect(settings.allowedOrigins == ["https://panel.example.com", "http://127.0.0.1:8080"])
        #expect(settings.sessions.establishmentMilliseconds == 2_000)
        #expect(settings.sessions.consentMilliseconds == 10_000)
    }

    @Test func badOriginsAndTimeoutsAreNamed() {
        let found = Self.issues(
            whip: "    allowed_origins: [\"https://panel.example.com/app\"]\n",
            bridge: "  sessions:\n    establishment_timeout_ms: 500\n    consent_timeout_ms: 60000\n    grace: 1\n")
        #expect(
            found.map(\.keyPath) == [
                "bridge.whip.allowed_origins", "bridge.sessions.establishment_timeout_ms",
                "bridge.sessions.consent_timeout_ms", "bridge.sessions.grace",
            ])
        #expect(found.first?.message.contains("not an origin") == true)
        #expect(found.dropFirst().first?.message.contains("out of range") == true)
    }

    @Test func jitterBufferBoundsHaveDefaultsAndAreRead() throws {
        #expect(try Self.parse().jitterBuffer == BridgeJitterBufferBounds())
        #expect(BridgeJitterBufferBounds().fromPanelsMilliseconds == 20...200)
        let settings = try Self.parse(
            bridge: "  jitter_buffer:\n    from_panels: { min_ms: 40, max_ms: 80 }\n    from_ports: { max_ms: 20 }\n")
        #expect(settings.jitterBuffer.fromPanelsMilliseconds == 40...80)
        #expect(settings.jitterBuffer.fromPortsMilliseconds == 5...20)
    }

    @Test func jitterBufferBoundsOutOfRangeAreNamed() {
        let found = Self.issues(
            bridge:
                "  jitter_buffer:\n    from_panels: { min_ms: 10, max_ms: 2000 }\n"
                + "    from_ports: { min_ms: 50, max_ms: 20 }\n    target_ms: 3\n")
        #expect(
            found.map(\.keyPath) == [
                "bridge.jitter_buffer.from_panels.min_ms", "bridge.jitter_buffer.from_panels.max_ms",
                "bridge.jitter_buffer.from_ports.max_ms", "bridge.jitter_buffer.target_ms",
            ])
    }
}
