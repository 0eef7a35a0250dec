import Crypto

/// RFC 5626 §5.2 flow tokens: the inbound flow (transport, listener, remote address, connection number)
/// encoded into the user part of the URI the proxy puts in Path and Record-Route, protected by an
/// HMAC-SHA256 so that nobody can make the proxy send over a flow it did not hand out. Like Kamailio's
/// outbound module the token carries everything needed, so the proxy keeps no per-registration state.
///
/// Layout before base64url: version (1), transport (1), listener (2), connection (8), port (2),
/// host length (1), host (UTF-8), then the first 10 bytes of the HMAC over all of it.
public struct FlowTokenCodec: Sendable {
    /// The key bytes (`SymmetricKey` is not `Sendable`; one is made per use, which is cheap).
    private let secret: [UInt8]
    static let version: UInt8 = 1
    static let macLength = 10

    /// `secret` should be at least 16 random bytes; a box's tokens stay valid as long as it keeps it.
    public init(secret: [UInt8]) {
        self.secret = secret
    }

    /// The token for `flow`: URI-safe characters only (RFC 3986 unreserved).
    public func encode(_ flow: Flow) -> String {
        var bytes: [UInt8] = [Self.version, UInt8(SIPTransport.allCases.firstIndex(of: flow.transport)!)]
        bytes += [UInt8(truncatingIfNeeded: flow.listener >> 8), UInt8(truncatingIfNeeded: flow.listener)]
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: flow.connection >> UInt64(shift)))
        }
        bytes += [UInt8(flow.remote.port >> 8), UInt8(flow.remote.port & 0xFF)]
        let host = Array(flow.remote.host.utf8.prefix(255))
        bytes.append(UInt8(host.count))
        bytes += host
        bytes += mac(bytes)
        return Base64URL.encode(bytes)
    }

    /// The flow a token names, or nil when it is malformed or its HMAC does not verify.
    public func decode(_ token: String) -> Flow? {
        guard token.utf8.count <= 400, let bytes = Base64URL.decode(token),
            bytes.count >= 15 + Self.macLength, bytes[0] == Self.version
        else { return nil }
        let body = Array(bytes.dropLast(Self.macLength))
        let tag = Array(bytes.suffix(Self.macLength))
        guard constantTimeEqual(mac(body), tag) else { return nil }
        let transportIndex = Int(body[1])
        guard transportIndex < SIPTransport.allCases.count else { return nil }
        let listener = Int(body[2]) << 8 | Int(body[3])
        var connection: UInt64 = 0
        for index in 4..<12 { connection = connection << 8 | UInt64(body[index]) }
        let port = UInt16(body[12]) << 8 | UInt16(body[13])
        let hostLength = Int(body[14])
        guard body.count == 15 + hostLength else { return nil }
        let host = String(decoding: body[15...], as: UTF8.self)
        return Flow(
            listener: listener, transport: SIPTransport.allCases[transportIndex],
            remote: PeerAddress(host: host, port: port), connection: connection)
    }

    private func mac(_ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: secret))).prefix(Self.macLength).map
        { $0 }
    }

    private func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}

/// base64url without padding (RFC 4648 §5): every character is SIP `unreserved`, so a token is a valid
/// URI user part without escaping.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for (offset, byte) in chunk.enumerated() { value |= Int(byte) << (16 - 8 * offset) }
            for offset in 0...chunk.count { output.append(alphabet[(value >> (18 - 6 * offset)) & 63]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer = 0
        var bits = 0
        for character in text.utf8 {
            let value: Int
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = Int(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = Int(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = (buffer << 6 | value) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> bits) & 0xFF))
            }
        }
        return output
    }
}
