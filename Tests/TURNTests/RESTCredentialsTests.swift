import Testing

@testable import TURN

/// The TURN REST API credentials (draft-uberti-behave-turn-rest-00, coturn's
/// `use-auth-secret`). Expected passwords were computed independently with Python's
/// `hmac`, `hashlib` and `base64` modules, e.g.
/// `base64.b64encode(hmac.new(b'secret', b'1700000000:alice', hashlib.sha1).digest())`.
struct RESTCredentialsTests {
    @Test func usernameIsExpiryColonUser() {
        #expect(RESTCredentials.username(user: "alice", expiry: 1_700_000_000) == "1700000000:alice")
        #expect(RESTCredentials.username(user: "", expiry: 1_700_000_000) == "1700000000")
        #expect(RESTCredentials.username(user: "a:b", expiry: 0) == "0:a:b")
        #expect(RESTCredentials.username(user: "x", expiry: .max) == "18446744073709551615:x")
    }

    @Test func passwordMatchesPythonVectors() {
        #expect(
            RESTCredentials.password(username: "1700000000:alice", secret: "secret")
                == "d8soP47RbdIKLDUOpnJPVQyq5Ts=")
        #expect(
            RESTCredentials.password(username: "1700000000", secret: "secret")
                == "WGw37+g43pfwVUmrc9tgArn/juE=")
        #expect(
            RESTCredentials.password(username: "1433895918506:my_username", secret: "north")
                == "Gx/rOncp1ZXBdeBo0S3RrYQnHDA=")
        #expect(
            RESTCredentials.password(username: "1600000000:ninefingers", secret: "logen")
                == "NSemUjXL+cqo2CW3TicNF8ry5FQ=")
    }

    @Test func passwordUsesUTF8Bytes() {
        #expect(
            RESTCredentials.password(username: "1700000000:zoë", secret: "sécret")
                == "+Rf3ARc69FBhwooY4MfNP3hNZvA=")
    }

    /// RFC 2202 §3 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?") =
    /// effcdf6ae5eb2fa2d27416d5f184df9c259a7c79, here base64-encoded.
    @Test func passwordMatchesRFC2202HMACVector() {
        #expect(
            RESTCredentials.password(username: "what do ya want for nothing?", secret: "Jefe")
                == "7/zfauXrL6LSdBbV8YTfnCWafHk=")
    }

    @Test func usernameAndPasswordRoundTrip() {
        let username = RESTCredentials.username(user: "alice", expiry: 1_700_000_000)
        #expect(RESTCredentials.expiry(ofUsername: username) == 1_700_000_000)
        #expect(RESTCredentials.password(username: username, secret: "secret") == "d8soP47RbdIKLDUOpnJPVQyq5Ts=")
        #expect(RESTCredentials.password(username: username, secret: "Secret") != "d8soP47RbdIKLDUOpnJPVQyq5Ts=")
    }

    /// RFC 4648 §10 test vectors, plus the two characters past `z` and `9`.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func base64MatchesRFC4648(_ input: String, _ expected: String) {
        #expect(RESTCredentials.base64(Array(input.utf8)) == expected)
    }

    @Test func base64HandlesHighBytes() {
        #expect(RESTCredentials.base64([0xfb, 0xff]) == "+/8=")
        #expect(RESTCredentials.base64([0xff, 0xff, 0xff]) == "////")
        #expect(RESTCredentials.base64([0]) == "AA==")
        #expect(RESTCredentials.base64([0, 0, 0, 0]) == "AAAAAA==")
    }

    @Test(arguments: [
        ("1700000000:alice", UInt64(1_700_000_000)), ("1700000000", 1_700_000_000), ("1700000000:", 1_700_000_000),
        ("1700000000:a:b", 1_700_000_000), ("0", 0), ("007:bond", 7),
        ("18446744073709551615:max", UInt64.max),
    ])
    func expiryIsTheLeadingDigits(_ username: String, _ expiry: UInt64) {
        #expect(RESTCredentials.expiry(ofUsername: username) == expiry)
    }

    @Test(arguments: [
        "", ":", "alice", ":1700000000", "alice:1700000000", "+1700000000:alice", "-1:alice", " 1700000000:alice",
        "1700000000 :alice", "0x10:alice", "1.5:alice", "١٧٠٠:alice", "１７:alice", "18446744073709551616:alice",
        "99999999999999999999999:alice",
    ])
    func expiryIsNilForOtherNames(_ username: String) {
        #expect(RESTCredentials.expiry(ofUsername: username) == nil)
    }
}
