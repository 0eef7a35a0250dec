import Crypto
import STUN

/// Time-limited TURN credentials from a shared secret: the "TURN REST API"
/// (draft-uberti-behave-turn-rest-00 §2.2), as coturn implements it with `use-auth-secret` /
/// `static-auth-secret`. A web service that knows the secret hands a client
/// `username = "<expiry>:<user>"` and `password = base64(HMAC-SHA1(secret, username))`; the
/// TURN server recomputes the password from the username alone, so it keeps no user table,
/// and refuses the username once `expiry` (Unix seconds) has passed.
///
/// The password is then used as a long-term credential password (RFC 8489 §9.2): the key
/// for MESSAGE-INTEGRITY is derived from it as usual.
public enum RESTCredentials {
    /// `"<expiry>:<user>"`, with `expiry` in Unix seconds; just `"<expiry>"` when `user` is
    /// empty (coturn accepts both).
    public static func username(user: String, expiry: UInt64) -> String {
        user.isEmpty ? String(expiry) : "\(expiry):\(user)"
    }

    /// `base64(HMAC-SHA1(secret, username))` over the UTF-8 bytes of both: the TURN password
    /// (draft-uberti-behave-turn-rest-00 §2.2; HMAC per RFC 2104, base64 per RFC 4648 §4
    /// with padding).
    public static func password(username: String, secret: String) -> String {
        let mac = Array(username.utf8).withUnsafeBytes {
            KeyedHMAC<Insecure.SHA1>.authenticationCode(for: $0, key: Array(secret.utf8))
        }
        return base64(mac)
    }

    /// The expiry (Unix seconds) of a REST username: the ASCII digits before the first `:`,
    /// or the whole name when it has none. nil when that part is empty, holds anything but
    /// `0`–`9` (no sign, no spaces), or does not fit in 64 bits.
    ///
    /// The caller still decides what an expiry means: a name whose expiry is at or before
    /// now must be refused (coturn answers 401), as must one so far in the future that it
    /// outlives any credential the web service would mint.
    public static func expiry(ofUsername username: String) -> UInt64? {
        let digits = username.utf8.prefix { $0 != UInt8(ascii: ":") }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        var value: UInt64 = 0
        for digit in digits {
            let (times10, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times10.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            if overflowA || overflowB { return nil }
            value = sum
        }
        return value
    }

    /// RFC 4648 §4 base64 with `=` padding (no Foundation in this module).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 0x3f)])
            out.append(alphabet[Int(group >> 12 & 0x3f)])
            out.append(remaining > 1 ? alphabet[Int(group >> 6 & 0x3f)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(group & 0x3f)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
