import STUN
import TURN
import Testing

/// Stateless nonces (RFC 8489 §9.2): valid for the issuing client until the lifetime ends,
/// stale after, invalid for anyone or anything else.
struct NonceIssuerTests {
    static let key: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    static let now: UInt64 = 1_700_000_000
    static let client = TransportAddress(ipv4: (198, 51, 100, 7), port: 54_321)

    private static func address(_ text: String, port: UInt16) -> TransportAddress {
        guard let address = TransportAddress(text: text, port: port) else {
            preconditionFailure("bad test address \(text)")
        }
        return address
    }

    @Test func nonceIsShortLowercaseHexStartingWithTheExpiry() {
        let nonce = NonceIssuer(key: Self.key).issue(for: Self.client, now: Self.now)
        #expect(nonce.utf8.count == 40)
        #expect(nonce.utf8.count <= 127)
        #expect(nonce.allSatisfy { "0123456789abcdef".contains($0) })
        let expiryHex = String(Self.now + 600, radix: 16)
        #expect(nonce.hasPrefix(String(repeating: "0", count: 16 - expiryHex.count) + expiryHex))
    }

    @Test func nonceIsDeterministicForTheSameInputs() {
        let issuer = NonceIssuer(key: Self.key)
        #expect(issuer.issue(for: Self.client, now: Self.now) == issuer.issue(for: Self.client, now: Self.now))
        #expect(issuer.issue(for: Self.client, now: Self.now) != issuer.issue(for: Self.client, now: Self.now + 1))
    }

    @Test func validUntilTheLifetimeEndsThenStale() {
        let issuer = NonceIssuer(key: Self.key, lifetimeSeconds: 600)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now) == .valid)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now + 599) == .valid)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now + 600) == .stale)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now + 86_400) == .stale)
        #expect(issuer.check(nonce, for: Self.client, now: .max) == .stale)
    }

    @Test func defaultLifetimeIsTenMinutes() {
        let issuer = NonceIssuer(key: Self.key)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now + 599) == .valid)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now + 600) == .stale)
    }

    @Test func aClockThatSteppedBackMakesTheNonceStale() {
        let issuer = NonceIssuer(key: Self.key, lifetimeSeconds: 60)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now - 1) == .stale)
    }

    @Test func invalidForAnotherClient() {
        let issuer = NonceIssuer(key: Self.key)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        let others = [
            TransportAddress(ipv4: (198, 51, 100, 7), port: 54_322),  // another port
            TransportAddress(ipv4: (198, 51, 100, 8), port: 54_321),  // another address
            Self.address("::ffff:198.51.100.7", port: 54_321),  // the IPv4-mapped spelling
            Self.address("2001:db8::7", port: 54_321),
        ]
        for other in others {
            #expect(issuer.check(nonce, for: other, now: Self.now) == .invalid, "\(other)")
        }
    }

    @Test func invalidForAnotherKey() {
        let nonce = NonceIssuer(key: Self.key).issue(for: Self.client, now: Self.now)
        var otherKey = Self.key
        otherKey[0] ^= 1
        #expect(NonceIssuer(key: otherKey).check(nonce, for: Self.client, now: Self.now) == .invalid)
    }

    @Test func expiredNonceOfAnotherClientIsInvalidNotStale() {
        let issuer = NonceIssuer(key: Self.key)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        let other = TransportAddress(ipv4: (203, 0, 113, 1), port: 54_321)
        #expect(issuer.check(nonce, for: other, now: Self.now + 10_000) == .invalid)
    }

    /// Every one-character change, in the expiry or in the tag, is caught; so is stretching
    /// the expiry to make a nonce live longer.
    @Test func tamperedNoncesAreInvalid() {
        let issuer = NonceIssuer(key: Self.key)
        let nonce = Array(issuer.issue(for: Self.client, now: Self.now))
        for index in nonce.indices {
            var tampered = nonce
            tampered[index] = tampered[index] == "0" ? "1" : "0"
            #expect(issuer.check(String(tampered), for: Self.client, now: Self.now) == .invalid, "index \(index)")
        }
        let later = issuer.issue(for: Self.client, now: Self.now + 100_000)
        let spliced = String(later.prefix(16)) + String(String(nonce).dropFirst(16))
        #expect(issuer.check(spliced, for: Self.client, now: Self.now) == .invalid)
    }

    @Test func garbageIsInvalid() {
        let issuer = NonceIssuer(key: Self.key)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        let garbage = [
            "", "0", "abc", String(repeating: "g", count: 40), String(repeating: "0", count: 40),
            nonce.uppercased(), nonce + "0", String(nonce.dropLast()), String(nonce.dropLast(2)),
            " " + nonce.dropFirst(), "obMatJos2AAAB" + nonce, "\"" + nonce.dropFirst(),
            String(repeating: "é", count: 20),
        ]
        for text in garbage {
            #expect(issuer.check(text, for: Self.client, now: Self.now) == .invalid, "\(text)")
        }
    }

    @Test func worksForIPv6Clients() {
        let issuer = NonceIssuer(key: Self.key)
        let v6 = Self.address("2001:db8::1", port: 3478)
        let nonce = issuer.issue(for: v6, now: Self.now)
        #expect(issuer.check(nonce, for: v6, now: Self.now + 1) == .valid)
        #expect(issuer.check(nonce, for: Self.address("2001:db8::2", port: 3478), now: Self.now + 1) == .invalid)
    }

    @Test func expiryNearTheEndOfTimeSaturates() {
        let issuer = NonceIssuer(key: Self.key, lifetimeSeconds: 600)
        let now = UInt64.max - 10
        let nonce = issuer.issue(for: Self.client, now: now)
        #expect(nonce.hasPrefix("ffffffffffffffff"))
        #expect(issuer.check(nonce, for: Self.client, now: now) == .valid)
        #expect(issuer.check(nonce, for: Self.client, now: .max) == .stale)
    }

    /// The RFC 8489 §9.2 nonce cookie: "obMatJos2" and the base64 of the security features.
    @Test func prefixIsPrependedAndAuthenticated() {
        let cookie = "obMatJos2AAAB"
        let issuer = NonceIssuer(key: Self.key, prefix: cookie)
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        #expect(nonce.hasPrefix(cookie))
        #expect(nonce.utf8.count == cookie.utf8.count + 40)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now) == .valid)
        #expect(issuer.check(String(nonce.dropFirst(cookie.count)), for: Self.client, now: Self.now) == .invalid)
        let otherCookie = "obMatJos2AAAA" + nonce.dropFirst(cookie.count)
        #expect(issuer.check(otherCookie, for: Self.client, now: Self.now) == .invalid)

        let plain = NonceIssuer(key: Self.key)
        let cookiedPlain = cookie + plain.issue(for: Self.client, now: Self.now)
        #expect(issuer.check(cookiedPlain, for: Self.client, now: Self.now) == .invalid)
        #expect(plain.check(String(nonce.dropFirst(cookie.count)), for: Self.client, now: Self.now) == .invalid)
    }

    @Test func longestPrefixStaysWithinTheNonceLimit() {
        let issuer = NonceIssuer(key: Self.key, prefix: String(repeating: "x", count: 87))
        let nonce = issuer.issue(for: Self.client, now: Self.now)
        #expect(nonce.utf8.count == 127)
        #expect(issuer.check(nonce, for: Self.client, now: Self.now) == .valid)
    }
}
