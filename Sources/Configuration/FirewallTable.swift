/// The firewall table a configuration implies: what an operator hands to the network team,
/// in the shape of the tables in the reference documents (from, to, ports, purpose).
public struct FirewallRule: Sendable, Equatable {
    public enum Direction: String, Sendable {
        /// Toward the box: from clients on the Internet or from peers on the LAN.
        case inbound
        /// From the box toward the LAN.
        case outbound
    }

    public var direction: Direction
    public var ipProtocol: IPProtocol
    /// The bind address (inbound) or destination (outbound).
    public var address: String
    public var ports: ClosedRange<Int>
    /// Who opens the flow.
    public var peer: String
    public var purpose: String
    public var component: Component

    /// `UDP/3478`, `UDP/30000-39999` as the reference tables spell ports.
    public var portText: String {
        let range = ports.count == 1 ? "\(ports.lowerBound)" : "\(ports.lowerBound)-\(ports.upperBound)"
        return "\(ipProtocol.rawValue.uppercased())/\(range)"
    }
}

extension StagedoorConfiguration {
    /// Every socket the daemons open, one rule each, in start order.
    public var firewallRules: [FirewallRule] {
        var rules: [FirewallRule] = []
        for listener in turn.listeners {
            let purpose: String
            switch listener.transport {
            case .tls: purpose = "TURN over TLS (turns:)"
            default: purpose = "STUN/TURN over \(listener.transport.rawValue.uppercased()) (stun:, turn:)"
            }
            rules.append(
                FirewallRule(
                    direction: .inbound, ipProtocol: listener.transport.ipProtocol, address: listener.address,
                    ports: listener.port...listener.port, peer: "panels, softphones (Internet)",
                    purpose: purpose, component: .turn))
        }
        rules.append(
            FirewallRule(
                direction: .inbound, ipProtocol: .udp, address: turn.relay.address,
                ports: turn.relay.lowerBound...turn.relay.upperBound, peer: "allowed TURN peers (LAN)",
                purpose: "TURN relayed addresses", component: .turn))
        if let ipv6 = turn.relay.ipv6Address {
            rules.append(
                FirewallRule(
                    direction: .inbound, ipProtocol: .udp, address: ipv6,
                    ports: turn.relay.lowerBound...turn.relay.upperBound, peer: "allowed TURN peers (LAN)",
                    purpose: "TURN relayed addresses (IPv6)", component: .turn))
        }
        rules.append(
            FirewallRule(
                direction: .inbound, ipProtocol: .udp, address: bridge.media.address,
                ports: bridge.media.lowerBound...bridge.media.upperBound,
                peer: "panels (Internet), matrix ports (LAN)",
                purpose: "WebRTC media (ICE-lite, DTLS-SRTP) and RTP", component: .bridge))
        rules.append(
            FirewallRule(
                direction: .inbound, ipProtocol: .tcp, address: bridge.whip.address,
                ports: bridge.whip.port...bridge.whip.port, peer: "panels (Internet)",
                purpose: bridge.whip.transport == .tls
                    ? "WHIP signalling (HTTPS)" : "WHIP signalling (HTTP, loopback only)",
                component: .bridge))
        if let ng = bridge.ng {
            rules.append(
                FirewallRule(
                    direction: .inbound, ipProtocol: .udp, address: ng.address, ports: ng.port...ng.port,
                    peer: "SIP proxies on this box", purpose: "media control (rtpengine ng protocol)",
                    component: .bridge))
        }
        for listener in sip.listeners {
            let purpose: String
            switch listener.transport {
            case .ws: purpose = "SIP over WebSocket \(listener.path ?? "/ws") (RFC 7118)"
            case .wss: purpose = "SIP over secure WebSocket \(listener.path ?? "/ws") (RFC 7118)"
            case .tls: purpose = "SIP over TLS"
            default: purpose = "SIP over \(listener.transport.rawValue.uppercased())"
            }
            rules.append(
                FirewallRule(
                    direction: .inbound, ipProtocol: listener.transport.ipProtocol, address: listener.address,
                    ports: listener.port...listener.port, peer: "browsers, phones (Internet); trunks (LAN)",
                    purpose: purpose, component: .sip))
        }
        return rules
    }
}
