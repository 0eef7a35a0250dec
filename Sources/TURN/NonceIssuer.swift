import Crypto
import STUN

/// Stateless NONCE values for the long-term credential mechanism (RFC 8489 §9.2): the server
/// keeps nothing per client before it has authenticated one, yet can tell its own fresh
/// nonces from stale, forged or replayed-elsewhere ones.
///
/// A nonce is `prefix + hex(expiry) + hex(HMAC-SHA256(key, input)[0..<12])`, where `expiry`
/// is the Unix second at which it stops being valid (16 lowercase hex digits) and `input`
/// binds the prefix, the expiry and the client's transport address (family, address bytes
/// and port), so a nonce is only good from the address and port it was issued to. RFC 8489
/// §9.2 leaves nonce validity to the server; tying it to the client's transport address is
/// this server's choice (a NAT rebinding costs the client one extra 401 round trip). The
/// 96-bit tag (24 hex digits) is compared in constant time.
///
/// Without a prefix a nonce is 40 characters of `[0-9a-f]`: well under the 128-character
/// limit of NONCE (RFC 8489 §14.10) and valid `qdtext` with no escaping.
///
/// The key is the caller's: random bytes drawn once per process. A restart therefore makes
/// every outstanding nonce invalid, and clients recover through an ordinary 401 round trip.
public struct NonceIssuer: Sendable {
    /// HMAC-SHA256 under the key, keyed once: each tag starts from a copy (copy-on-write
    /// hash states) instead of hashing the key pads again, twice per Allocate.
    private let keyed: KeyedMAC
    private let lifetimeSeconds: UInt64
    private let prefix: String
    /// "stagedoor-nonce-1", len(prefix), prefix: the start of every MAC input.
    private let inputHead: [UInt8]

    /// `KeyedHMAC` is a value type whose hash states are copied on write, so a shared, never
    /// mutated instance is safe to copy from any thread; it is just not marked `Sendable`.
    private struct KeyedMAC: @unchecked Sendable {
        let hmac: KeyedHMAC<SHA256>
    }

    /// - Parameters:
    ///   - key: at least 16 random bytes (32 recommended), drawn once per process.
    ///   - lifetimeSeconds: how long a nonce stays valid; must be positive. RFC 8489 leaves
    ///     this to the server; 600 s (coturn's `stale-nonce` default) bounds how long a
    ///     captured nonce is useful while keeping 438 round trips rare.
    ///   - prefix: text put in front of every nonce and covered by the MAC, e.g. the
    ///     RFC 8489 §9.2 nonce cookie `"obMatJos2"` + base64 of the security-feature bits.
    ///     Printable ASCII other than `"` and `\`, at most 87 characters so a nonce stays
    ///     within 127.
    public init(key: [UInt8], lifetimeSeconds: UInt64 = 600, prefix: String = "") {
        precondition(key.count >= 16, "NonceIssuer key must be at least 16 random bytes")
        precondition(lifetimeSeconds > 0, "NonceIssuer lifetime must be positive")
        precondition(prefix.utf8.count <= 87, "NonceIssuer prefix too long for a NONCE")
        precondition(
            prefix.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7e && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") },
            "NonceIssuer prefix must be printable ASCII without quote or backslash")
        self.keyed = KeyedMAC(hmac: KeyedHMAC<SHA256>(key: key))
        self.lifetimeSeconds = lifetimeSeconds
        self.prefix = prefix
        let prefixBytes = Array(prefix.utf8)
        self.inputHead = Array("stagedoor-nonce-1".utf8) + [UInt8(prefixBytes.count)] + prefixBytes
    }

    /// A fresh nonce for `client`, valid until `now + lifetimeSeconds` (saturating).
    public func issue(for client: TransportAddress, now: UInt64) -> String {
        let (sum, overflow) = now.addingReportingOverflow(lifetimeSeconds)
        let expiry = overflow ? UInt64.max : sum
        return prefix + Self.hex(Self.bigEndian(expiry)) + Self.hex(tag(expiry: expiry, client: client))
    }

    /// What `check` thinks of a nonce a client sent back.
    public enum Check: Hashable, Sendable {
        /// Issued by this key to this client and not expired.
        case valid
        /// Issued by this key to this client but expired: answer 438 (Stale Nonce) with a
        /// fresh nonce (RFC 8489 §9.2.4).
        case stale
        /// Not ours, not this client's, tampered with or malformed: answer 401
        /// (Unauthenticated) with a fresh nonce.
        case invalid
    }

    /// Checks `nonce` as received from `client` at time `now`.
    ///
    /// The MAC is verified before the expiry is looked at, so only an authentic nonce is ever
    /// called stale. An authentic nonce whose expiry lies more than one lifetime ahead of
    /// `now` (the clock stepped back) is also stale: the client just fetches a new one.
    public func check(_ nonce: String, for client: TransportAddress, now: UInt64) -> Check {
        let bytes = Array(nonce.utf8)
        let prefixBytes = Array(prefix.utf8)
        guard bytes.count == prefixBytes.count + 40, bytes.starts(with: prefixBytes),
            let body = Self.unhex(bytes[prefixBytes.count...])
        else { return .invalid }
        let expiryBytes = body[0..<8]
        let receivedTag = body[8..<20]
        let expiry = expiryBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let expectedTag = tag(expiry: expiry, client: client)
        var difference: UInt8 = 0
        for (a, b) in zip(expectedTag, receivedTag) {
            difference |= a ^ b
        }
        guard difference == 0 else { return .invalid }
        guard now < expiry, expiry - now <= lifetimeSeconds else { return .stale }
        return .valid
    }

    /// The first 12 bytes of HMAC-SHA256(key, "stagedoor-nonce-1" || len(prefix) || prefix
    /// || expiry || family || len(address) || address || port), integers big-endian.
    private func tag(expiry: UInt64, client: TransportAddress) -> [UInt8] {
        var input = inputHead
        input.reserveCapacity(inputHead.count + 8 + 2 + 16 + 2)
        for shift in stride(from: 56, through: 0, by: -8) { input.append(UInt8(truncatingIfNeeded: expiry >> shift)) }
        input.append(client.family.rawValue)
        client.host.withUnsafeBytes { address in
            input.append(UInt8(truncatingIfNeeded: address.count))
            input.append(contentsOf: address)
        }
        input += [UInt8(client.port >> 8), UInt8(client.port & 0xff)]
        var mac = keyed.hmac
        input.withUnsafeBytes { mac.update($0) }
        return Array(mac.finalize().prefix(12))
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex only (what `issue` writes), so each nonce has exactly one spelling.
    private static func unhex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = value(text[index]), let low = value(text[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
