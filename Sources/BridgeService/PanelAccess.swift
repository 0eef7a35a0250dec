import Configuration
import Crypto
import Foundation

/// Who may open a WHIP session: bearer tokens (RFC 6750) checked against `bridge.panels`,
/// and the TURN servers a panel is told about (RFC 9725 §4.6 `Link: rel="ice-server"`).
enum PanelAccess {
    /// The panel whose token `authorization` carries, or nil. Compares digests in constant
    /// time so the comparison leaks nothing about the configured tokens.
    static func panel(authorization: String?, panels: [BridgePanel]) -> BridgePanel? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let token = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else { return nil }
        let presented = Array(SHA256.hash(data: Data(token.utf8)))
        var found: BridgePanel?
        for panel in panels {
            let expected: [UInt8]
            switch panel.token {
            case .plain(let text): expected = Array(SHA256.hash(data: Data(text.utf8)))
            case .sha256(let digest): expected = digest
            }
            if constantTimeEquals(presented, expected), found == nil { found = panel }
        }
        return found
    }

    static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// `Link` header values for the TURN listeners, with ephemeral TURN REST credentials
    /// (draft-uberti-behave-turn-rest: username "<expiry>:<panel>", password
    /// base64(HMAC-SHA1(secret, username))), the scheme `stagedoor-turn` checks.
    static func iceServerLinks(
        turn: TURNSettings, panelID: String, now: Date = Date(), lifetime: TimeInterval = 86_400
    ) -> [String] {
        guard let secret = turn.secrets.first else { return [] }
        let username = "\(Int(now.timeIntervalSince1970 + lifetime)):\(panelID)"
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        let credential = Data(mac).base64EncodedString()
        return turn.listeners.compactMap { listener in
            let host = listener.address.contains(":") ? "[\(listener.address)]" : listener.address
            let uri: String
            switch listener.transport {
            case .udp: uri = "turn:\(host):\(listener.port)?transport=udp"
            case .tcp: uri = "turn:\(host):\(listener.port)?transport=tcp"
            case .tls: uri = "turns:\(host):\(listener.port)?transport=tcp"
            case .ws, .wss: return nil
            }
            return "<\(uri)>; rel=\"ice-server\"; username=\"\(username)\"; credential=\"\(credential)\"; "
                + "credential-type=\"password\""
        }
    }
}
