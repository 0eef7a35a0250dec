import Crypto
import Foundation
import Testing

@testable import BridgeService
@testable import Configuration

/// WHIP bearer tokens and the TURN servers handed to panels.
struct PanelAccessTests {
    static let panels = [
        BridgePanel(id: "plain", token: .plain("plain-token-0123456789"), port: "p"),
        BridgePanel(
            id: "hashed", token: .sha256(Array(SHA256.hash(data: Data("hashed-token-0123456789".utf8)))), port: "p"),
    ]

    @Test func plainAndHashedTokensFindTheirPanel() {
        #expect(PanelAccess.panel(authorization: "Bearer plain-token-0123456789", panels: Self.panels)?.id == "plain")
        #expect(PanelAccess.panel(authorization: "bearer hashed-token-0123456789", panels: Self.panels)?.id == "hashed")
    }

    @Test func wrongMissingOrMalformedTokensFindNothing() {
        for header in [
            nil, "", "Bearer", "Bearer ", "Basic cGxhaW46dG9rZW4=", "Bearer plain-token-012345678",
            "Bearer plain-token-0123456789x", "plain-token-0123456789",
        ] {
            #expect(PanelAccess.panel(authorization: header, panels: Self.panels) == nil, "\(header ?? "nil")")
        }
        // The digest itself is not a token.
        let digestHex = SHA256.hash(data: Data("hashed-token-0123456789".utf8)).map { String(format: "%02x", $0) }
            .joined()
        #expect(PanelAccess.panel(authorization: "Bearer \(digestHex)", panels: Self.panels) == nil)
    }

    @Test func iceServerLinksCarryRESTCredentialsTheTURNServerAccepts() throws {
        var turn = TURNSettings(
            realm: "example.test",
            listeners: [
                Listener(transport: .udp, address: "192.0.2.1", port: 3478),
                Listener(transport: .tls, address: "2001:db8::1", port: 5349),
            ],
            relay: PortRange(address: "192.0.2.1", lowerBound: 30_000, upperBound: 30_100))
        #expect(PanelAccess.iceServerLinks(turn: turn, panelID: "p1").isEmpty)  // no secret, no TURN
        turn.secrets = ["secret-one-0123456789", "secret-two-0123456789"]
        let now = Date(timeIntervalSince1970: 1_000_000)
        let links = PanelAccess.iceServerLinks(turn: turn, panelID: "p1", now: now, lifetime: 600)
        try #require(links.count == 2)
        #expect(links[0].hasPrefix("<turn:192.0.2.1:3478?transport=udp>; rel=\"ice-server\""))
        #expect(links[1].hasPrefix("<turns:[2001:db8::1]:5349?transport=tcp>"))
        #expect(links[0].contains("username=\"1000600:p1\""))
        // coturn's REST scheme: base64(HMAC-SHA1(first secret, username)).
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data("1000600:p1".utf8), using: SymmetricKey(data: Data("secret-one-0123456789".utf8)))
        #expect(links[0].contains("credential=\"\(Data(mac).base64EncodedString())\""))
        #expect(links[0].contains("credential-type=\"password\""))
    }
}
