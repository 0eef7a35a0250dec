import Testing

@testable import BridgeService

/// CORS for WHIP from browser pages: safe by default, the origin echoed when allowed.
struct CrossOriginTests {
    static func value(_ headers: [(String, String)]?, _ name: String) -> String? {
        headers?.first { $0.0 == name }?.1
    }

    @Test func clientsWithoutOriginNeedNoCORS() {
        #expect(CrossOrigin.headers(origin: nil, allowed: [], preflight: false)?.isEmpty == true)
        #expect(CrossOrigin.headers(origin: nil, allowed: [], preflight: true)?.isEmpty == true)
    }

    @Test func pagesAreRefusedByDefault() {
        #expect(CrossOrigin.headers(origin: "https://evil.example", allowed: [], preflight: true) == nil)
        #expect(
            CrossOrigin.headers(
                origin: "https://evil.example", allowed: ["https://panel.example.com"], preflight: false)
                == nil)
    }

    @Test func anAllowedPageGetsItsPreflightAndExposedHeaders() {
        let allowed = ["https://Panel.example.com"]
        let preflight = CrossOrigin.headers(origin: "https://panel.example.com", allowed: allowed, preflight: true)
        #expect(Self.value(preflight, "Access-Control-Allow-Origin") == "https://panel.example.com")
        #expect(Self.value(preflight, "Vary") == "Origin")
        #expect(Self.value(preflight, "Access-Control-Allow-Methods")?.contains("POST") == true)
        #expect(Self.value(preflight, "Access-Control-Allow-Methods")?.contains("DELETE") == true)
        #expect(Self.value(preflight, "Access-Control-Allow-Headers")?.contains("Authorization") == true)
        #expect(Self.value(preflight, "Access-Control-Allow-Headers")?.contains("Content-Type") == true)
        let answer = CrossOrigin.headers(origin: "https://panel.example.com", allowed: allowed, preflight: false)
        #expect(Self.value(answer, "Access-Control-Expose-Headers")?.contains("Location") == true)
        #expect(Self.value(answer, "Access-Control-Allow-Methods") == nil)
        let any = CrossOrigin.headers(origin: "http://127.0.0.1:8080", allowed: ["*"], preflight: false)
        #expect(Self.value(any, "Access-Control-Allow-Origin") == "http://127.0.0.1:8080")
    }
}
