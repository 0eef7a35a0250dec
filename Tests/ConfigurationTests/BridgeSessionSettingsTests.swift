import Testing

@testable import Configuration

/// `bridge.whip.allowed_origins` and `bridge.sessions`: which pages may call WHIP, and when a
/// panel session ends by itself.
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
}
