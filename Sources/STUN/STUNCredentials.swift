import Crypto

/// Keys for MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 (RFC 8489 §9.1.1, §9.2.2) and the
/// USERHASH value (RFC 8489 §14.4).
///
/// The RFC runs username, realm and password through the OpaqueString profile of PRECIS (RFC 8265).
/// This codec implements a reduced OpaqueString: a string containing a control character (Unicode
/// general category Cc, U+0000-U+001F and U+007F-U+009F) is rejected; any other string is used as
/// its UTF-8 bytes, unchanged (no width mapping, no mapping of non-ASCII spaces, no NFC
/// normalisation). ASCII credentials, and the RFC 5769 vectors, are unaffected by the difference.
///
/// A rejected string cannot give a key. The non-optional functions then return a fresh random key,
/// so that no message ever verifies with it and none made with it is accepted; the `…IfValid`
/// variants return nil instead.
public enum STUNCredentials {
    /// The reduced OpaqueString (see the type's documentation): `string` unchanged, or nil when it
    /// contains a control character.
    public static func opaqueString(_ string: String) -> String? {
        for scalar in string.unicodeScalars where scalar.properties.generalCategory == .control {
            return nil
        }
        return string
    }

    /// RFC 8489 §9.2.2: MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)), 16 bytes, or
    /// with `.sha256` the SHA-256 of the same string, 32 bytes. The username is the one carried in
    /// USERNAME, which must itself have passed OpaqueString, so it is checked the same way.
    ///
    /// A string with a control character, or an algorithm other than MD5 and SHA-256, gives a random
    /// key (see the type's documentation).
    public static func longTermKey(
        username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5
    ) -> [UInt8] {
        if let key = longTermKeyIfValid(username: username, realm: realm, password: password, algorithm: algorithm) {
            return key
        }
        return unusableKey(byteCount: algorithm == .sha256 ? 32 : 16)
    }

    /// As `longTermKey`, but nil for a string with a control character or an unsupported algorithm.
    public static func longTermKeyIfValid(
        username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5
    ) -> [UInt8]? {
        guard let username = opaqueString(username), let realm = opaqueString(realm),
            let password = opaqueString(password)
        else { return nil }
        let input = Array("\(username):\(realm):\(password)".utf8)
        switch algorithm {
        case .md5: return Array(Insecure.MD5.hash(data: input))
        case .sha256: return Array(SHA256.hash(data: input))
        case .other: return nil
        }
    }

    /// RFC 8489 §9.1.1: the short-term key is OpaqueString(password) as UTF-8. A password with a control
    /// character gives a random key (see the type's documentation).
    public static func shortTermKey(password: String) -> [UInt8] {
        shortTermKeyIfValid(password: password) ?? unusableKey(byteCount: 16)
    }

    /// As `shortTermKey`, but nil for a password with a control character.
    public static func shortTermKeyIfValid(password: String) -> [UInt8]? {
        opaqueString(password).map { Array($0.utf8) }
    }

    /// RFC 8489 §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)); nil when either
    /// has a control character.
    public static func userhash(username: String, realm: String) -> [UInt8]? {
        guard let username = opaqueString(username), let realm = opaqueString(realm) else { return nil }
        return Array(SHA256.hash(data: Array("\(username):\(realm)".utf8)))
    }

    /// A random key, so that credentials that cannot be processed never authenticate anything.
    static func unusableKey(byteCount: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
