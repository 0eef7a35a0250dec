import STUN
import Testing

@testable import TURN

/// `AddressRange` parsing and matching, and `PeerPolicy`'s verdicts (RFC 8656 §21; IANA
/// IPv4 and IPv6 Special-Purpose Address Registries; RFC 6156 §9.1).
struct PeerPolicyTests {
    private static func address(_ text: String, port: UInt16 = 3478) -> TransportAddress {
        guard let address = TransportAddress(text: text, port: port) else {
            preconditionFailure("bad test address \(text)")
        }
        return address
    }

    private static func range(_ text: String) -> AddressRange {
        guard let range = AddressRange(cidr: text) else { preconditionFailure("bad test range \(text)") }
        return range
    }

    private static func isAllowed(_ policy: PeerPolicy, _ text: String) -> Bool {
        policy.check(address(text)) == .allowed
    }

    // MARK: - AddressRange

    @Test func parsesAndMatchesIPv4Blocks() {
        let tenSlash8 = Self.range("10.0.0.0/8")
        #expect(tenSlash8.description == "10.0.0.0/8")
        #expect(tenSlash8.family == .ipv4)
        #expect(tenSlash8.prefixLength == 8)
        #expect(tenSlash8.contains(Self.address("10.0.0.0")))
        #expect(tenSlash8.contains(Self.address("10.255.255.255", port: 9)))
        #expect(!tenSlash8.contains(Self.address("11.0.0.0")))
        #expect(!tenSlash8.contains(Self.address("9.255.255.255")))
        #expect(!tenSlash8.contains(Self.address("::ffff:10.0.0.1")), "no cross-family matching")

        let cgnat = Self.range("100.64.0.0/10")
        #expect(cgnat.contains(Self.address("100.127.255.255")))
        #expect(!cgnat.contains(Self.address("100.128.0.0")))
        #expect(!cgnat.contains(Self.address("100.63.255.255")))
    }

    @Test func parsesAndMatchesIPv6Blocks() {
        let ula = Self.range("fc00::/7")
        #expect(ula.description == "fc00::/7")
        #expect(ula.contains(Self.address("fd12:3456::1")))
        #expect(ula.contains(Self.address("fc00::")))
        #expect(!ula.contains(Self.address("fe00::1")))
        #expect(!ula.contains(Self.address("10.0.0.1")))

        let mapped = Self.range("::ffff:10.0.0.0/104")
        #expect(mapped.description == "::ffff:a00:0/104")
        #expect(mapped.contains(Self.address("::ffff:10.9.8.7")))
        #expect(!mapped.contains(Self.address("::ffff:11.0.0.1")))
    }

    @Test func zeroPrefixCoversTheWholeFamilyOnly() {
        let allV4 = Self.range("0.0.0.0/0")
        #expect(allV4.contains(Self.address("0.0.0.0")))
        #expect(allV4.contains(Self.address("255.255.255.255")))
        #expect(!allV4.contains(Self.address("::")))
        let allV6 = Self.range("::/0")
        #expect(allV6.description == "::/0")
        #expect(allV6.contains(Self.address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
        #expect(allV6.contains(Self.address("::ffff:127.0.0.1")))
        #expect(!allV6.contains(Self.address("127.0.0.1")))
    }

    @Test func loneAddressIsAHostRoute() {
        let host = Self.range("192.0.2.1")
        #expect(host == Self.range("192.0.2.1/32"))
        #expect(host.description == "192.0.2.1/32")
        #expect(host.contains(Self.address("192.0.2.1", port: 1)))
        #expect(!host.contains(Self.address("192.0.2.2")))
        #expect(!host.contains(Self.address("192.0.2.0")))

        let loopback = Self.range("::1")
        #expect(loopback == Self.range("::1/128"))
        #expect(loopback.description == "::1/128")
        #expect(loopback.contains(Self.address("::1")))
        #expect(!loopback.contains(Self.address("::2")))
        #expect(!loopback.contains(Self.address("::")))
    }

    @Test func hostBitsAreMasked() {
        #expect(Self.range("10.1.2.3/8") == Self.range("10.0.0.0/8"))
        #expect(Self.range("10.1.2.3/8").description == "10.0.0.0/8")
        #expect(Self.range("172.31.255.255/12").description == "172.16.0.0/12")
        #expect(Self.range("2001:db8:ffff::1/33").description == "2001:db8:8000::/33")
        #expect(Self.range("fe80::1/0") == Self.range("::/0"))
        #expect(Set([Self.range("10.9.9.9/8"), Self.range("10.0.0.0/8")]).count == 1)
    }

    @Test(arguments: [
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "0.0.0.0/99", "::/129", "::1/1000", "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0//8", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0 /8",
        "10.0.0", "10.0.0.0.0/8", "256.0.0.0/8", "010.0.0.0/8", "10.00.0.0/16", "::ffff:010.0.0.1",
        "fe80::1%eth0", "fe80::1%eth0/64", "10.0.0.0/8a", "10.0.0.0/0x8", "10.0.0.0/٨", "hello",
        "localhost", "1:2:3:4:5:6:7:8:9", "::1::", "[::1]/128", "10.0.0.0/8\n",
    ])
    func rejectsJunk(_ text: String) {
        #expect(AddressRange(cidr: text) == nil)
    }

    @Test func acceptsZeroOctetsWithoutLeadingZeros() {
        #expect(AddressRange(cidr: "0.0.0.0/8") != nil)
        #expect(AddressRange(cidr: "10.0.0.0/008") != nil, "a zero-padded prefix length is not ambiguous")
    }

    @Test func malformedAddressesAreNeverContained() {
        var odd = Self.address("10.0.0.1")
        odd.address = [10, 0, 0, 1, 0]
        #expect(!Self.range("0.0.0.0/0").contains(odd))
        odd.family = .ipv6
        #expect(!Self.range("::/0").contains(odd))
    }

    // MARK: - Special-purpose ranges, denied by default

    /// One sample address per entry of `PeerPolicy.specialPurposeRanges`, near its top end
    /// where the prefix length makes that meaningful.
    static let specialPurposeSamples: [String: String] = [
        "0.0.0.0/8": "0.1.2.3",
        "10.0.0.0/8": "10.200.1.1",
        "100.64.0.0/10": "100.127.0.1",
        "127.0.0.0/8": "127.0.0.53",
        "169.254.0.0/16": "169.254.169.254",
        "172.16.0.0/12": "172.31.255.254",
        "192.0.0.0/24": "192.0.0.10",
        "192.0.2.0/24": "192.0.2.99",
        "192.31.196.0/24": "192.31.196.1",
        "192.52.193.0/24": "192.52.193.1",
        "192.88.99.0/24": "192.88.99.1",
        "192.168.0.0/16": "192.168.1.1",
        "192.175.48.0/24": "192.175.48.6",
        "198.18.0.0/15": "198.19.255.1",
        "198.51.100.0/24": "198.51.100.7",
        "203.0.113.0/24": "203.0.113.200",
        "240.0.0.0/4": "250.1.2.3",
        "255.255.255.255/32": "255.255.255.255",
        "224.0.0.0/4": "239.255.255.250",
        "::/128": "::",
        "::1/128": "::1",
        "::ffff:0:0/96": "::ffff:8.8.8.8",
        "64:ff9b::/96": "64:ff9b::808:808",
        "64:ff9b:1::/48": "64:ff9b:1:ffff::808:808",
        "100::/64": "100::dead:beef",
        "100:0:0:1::/64": "100:0:0:1::1",
        "2001::/23": "2001:1ff::1",
        "2001:db8::/32": "2001:db8:1234::1",
        "2002::/16": "2002:808:808::1",
        "2620:4f:8000::/48": "2620:4f:8000::42",
        "3fff::/20": "3fff:fff::1",
        "5f00::/16": "5f00:1:2::3",
        "fc00::/7": "fd00:ec2::254",
        "fe80::/10": "febf::1",
        "::/96": "::808:808",
        "::ffff:0:0:0/96": "::ffff:0:808:808",
        "fec0::/10": "fec0::1",
        "ff00::/8": "ff02::1",
    ]

    @Test func everySpecialPurposeRangeHasASampleThatIsDenied() {
        let policy = PeerPolicy()
        #expect(PeerPolicy.specialPurposeRanges.count == Self.specialPurposeSamples.count)
        for range in PeerPolicy.specialPurposeRanges {
            guard let sample = Self.specialPurposeSamples[range.description] else {
                Issue.record("no sample for \(range)")
                continue
            }
            let peer = Self.address(sample)
            #expect(range.contains(peer), "\(sample) should be in \(range)")
            #expect(policy.check(peer) != .allowed, "\(sample) (\(range)) should be denied")
        }
    }

    @Test(arguments: [
        // The brief's and the registries' well-known members.
        "0.0.0.0", "10.0.0.1", "100.64.0.1", "127.0.0.1", "127.255.255.255", "169.254.169.254",
        "172.16.0.1", "192.0.0.9", "192.0.0.170", "192.168.0.1", "198.18.0.1", "224.0.0.1",
        "255.255.255.255", "::", "::1", "fe80::1", "fd00::1", "ff02::1:2", "2001::1", "2001:2::1",
        "2001:db8::1", "3fff::1",
    ])
    func wellKnownSpecialAddressesAreDenied(_ text: String) {
        #expect(PeerPolicy().check(Self.address(text)) != .allowed)
    }

    @Test(arguments: [
        "8.8.8.8", "1.1.1.1", "9.9.9.9", "100.63.255.255", "100.128.0.0", "172.15.255.255",
        "172.32.0.0", "192.0.1.255", "192.0.3.0", "192.169.0.0", "198.17.255.255", "198.20.0.0",
        "223.255.255.255", "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1",
        "2001:200::1", "2620:4f:8001::1", "3fff:1000::1",
    ])
    func publicAddressesAreAllowed(_ text: String) {
        #expect(PeerPolicy().check(Self.address(text)) == .allowed)
    }

    @Test func denialReasonNamesTheRange() {
        guard case .denied(let reason) = PeerPolicy().check(Self.address("169.254.169.254")) else {
            Issue.record("metadata address allowed")
            return
        }
        #expect(reason.contains("169.254.0.0/16"))
    }

    // MARK: - IPv4 embedded in IPv6

    /// Every IPv6 spelling of an IPv4 address the policy knows, with the address at the
    /// place each format puts it.
    static func embeddings(of v4: String) -> [String] {
        let b = Self.address(v4).address
        func h(_ high: UInt8, _ low: UInt8) -> String { String(UInt16(high) << 8 | UInt16(low), radix: 16) }
        let pair = "\(h(b[0], b[1])):\(h(b[2], b[3]))"
        let inverted = b.map { $0 ^ 0xff }
        return [
            "::ffff:\(v4)",  // IPv4-mapped, RFC 4291 §2.5.5.2
            "::ffff:\(pair)",  // the same, in hex
            "::\(v4)",  // IPv4-compatible, RFC 4291 §2.5.5.1
            "::ffff:0:\(v4)",  // IPv4-translated, RFC 2765
            "64:ff9b::\(v4)",  // NAT64 well-known prefix, RFC 6052
            "64:ff9b:1::\(v4)",  // NAT64 local-use prefix, RFC 8215
            "2002:\(pair)::1",  // 6to4, RFC 3056
            "2002:\(pair):1234:5678:9abc:def0:1",
            "2001:0:\(pair)::1",  // Teredo server, RFC 4380
            "2001:0:808:808:8000:ffff:\(h(inverted[0], inverted[1])):\(h(inverted[2], inverted[3]))",  // Teredo client
        ]
    }

    static let sensitiveIPv4 = ["127.0.0.1", "10.0.0.1", "169.254.169.254"]

    @Test(arguments: sensitiveIPv4)
    func embeddedSensitiveIPv4IsDeniedByDefault(_ v4: String) {
        for text in Self.embeddings(of: v4) {
            #expect(!Self.isAllowed(PeerPolicy(), text), "\(text) embeds \(v4)")
        }
    }

    /// The important case: even when the operator opens every IPv6 address, an IPv6 address
    /// that carries a sensitive IPv4 address still gets the IPv4 verdict.
    @Test(arguments: sensitiveIPv4)
    func embeddedSensitiveIPv4IsDeniedEvenWhenAllIPv6IsAllowed(_ v4: String) {
        let policy = PeerPolicy(allow: [Self.range("::/0")])
        #expect(Self.isAllowed(policy, "2606:4700:4700::1111"))
        #expect(Self.isAllowed(policy, "fd00::1"), "the IPv6 allow does open ULA")
        for text in Self.embeddings(of: v4) {
            guard case .denied(let reason) = policy.check(Self.address(text)) else {
                Issue.record("\(text) embeds \(v4) but was allowed")
                continue
            }
            #expect(reason.contains("embedded IPv4"), "\(text): \(reason)")
        }
    }

    @Test func teredoClientAndServerAreDecoded() {
        // RFC 4380 §4's example: server 65.54.227.120, client 192.0.2.45 port 40000.
        let embedded = PeerPolicy.embeddedIPv4(in: Self.address("2001:0:4136:e378:8000:63bf:3fff:fdd2").address)
        #expect(embedded.map(\.bytes) == [[65, 54, 227, 120], [192, 0, 2, 45]])
        #expect(embedded.map(\.name) == ["Teredo server", "Teredo client"])
    }

    @Test func otherFormatsAreDecoded() {
        func decoded(_ text: String) -> [[UInt8]] {
            PeerPolicy.embeddedIPv4(in: Self.address(text).address).map(\.bytes)
        }
        #expect(decoded("::ffff:1.2.3.4") == [[1, 2, 3, 4]])
        #expect(decoded("::1.2.3.4") == [[1, 2, 3, 4]])
        #expect(decoded("::ffff:0:1.2.3.4") == [[1, 2, 3, 4]])
        #expect(decoded("64:ff9b::1.2.3.4") == [[1, 2, 3, 4]])
        #expect(decoded("64:ff9b:1:2::1.2.3.4") == [[1, 2, 3, 4]])
        #expect(decoded("2002:102:304:5::6") == [[1, 2, 3, 4]])
        #expect(decoded("2606:4700:4700::1111").isEmpty)
        #expect(decoded("64:ff9b:0:1::1.2.3.4").isEmpty, "outside both NAT64 prefixes")
    }

    @Test func anIPv4AllowRangeDoesNotOpenIPv6Forms() {
        let policy = PeerPolicy(allow: [Self.range("10.1.2.0/24")])
        #expect(Self.isAllowed(policy, "10.1.2.3"))
        for text in Self.embeddings(of: "10.1.2.3") {
            #expect(!Self.isAllowed(policy, text), "\(text) needs an explicit IPv6 allow")
        }
    }

    @Test func nat64NeedsBothTheIPv6AndTheIPv4OptIn() {
        let nat64 = PeerPolicy(allow: [Self.range("64:ff9b::/96")])
        #expect(Self.isAllowed(nat64, "64:ff9b::8.8.8.8"))
        #expect(!Self.isAllowed(nat64, "64:ff9b::127.0.0.1"))
        #expect(!Self.isAllowed(nat64, "64:ff9b::10.1.2.3"))
        #expect(!Self.isAllowed(nat64, "::ffff:8.8.8.8"), "only the named IPv6 prefix is opened")

        let nat64AndLAN = PeerPolicy(allow: [Self.range("64:ff9b::/96"), Self.range("10.1.2.0/24")])
        #expect(Self.isAllowed(nat64AndLAN, "64:ff9b::10.1.2.3"))
        #expect(!Self.isAllowed(nat64AndLAN, "64:ff9b::10.1.3.1"))

        let withDeny = PeerPolicy(allow: [Self.range("64:ff9b::/96")], deny: [Self.range("8.8.8.0/24")])
        #expect(!Self.isAllowed(withDeny, "64:ff9b::8.8.8.8"), "an IPv4 deny reaches the embedded form")
    }

    @Test func sixToFourOptInStillChecksTheEmbeddedAddress() {
        let policy = PeerPolicy(allow: [Self.range("2002::/16")])
        #expect(Self.isAllowed(policy, "2002:808:808::1"))
        #expect(!Self.isAllowed(policy, "2002:a00:1::1"))
        #expect(!Self.isAllowed(policy, "2002:c0a8:101::1"))
        #expect(!Self.isAllowed(policy, "2002:e000:1::1"), "multicast 224.0.0.1")
    }

    // MARK: - Allow, deny and the server's own addresses

    @Test func allowRangeWinsOverSpecialPurpose() {
        let policy = PeerPolicy(allow: [Self.range("10.1.2.0/24")])
        #expect(Self.isAllowed(policy, "10.1.2.3"))
        #expect(Self.isAllowed(policy, "10.1.2.255"))
        #expect(!Self.isAllowed(policy, "10.1.3.1"))
        #expect(!Self.isAllowed(policy, "10.1.1.255"))
        #expect(!Self.isAllowed(policy, "127.0.0.1"))
        #expect(Self.isAllowed(policy, "8.8.8.8"))
    }

    @Test func denyRangeAddsToTheDefaults() {
        let policy = PeerPolicy(deny: [Self.range("8.8.8.0/24"), Self.range("2606:4700::/32")])
        #expect(!Self.isAllowed(policy, "8.8.8.8"))
        #expect(!Self.isAllowed(policy, "2606:4700:4700::1111"))
        #expect(Self.isAllowed(policy, "8.8.4.4"))
        #expect(!Self.isAllowed(policy, "127.0.0.1"))
    }

    @Test func allowRangeWinsOverDenyRange() {
        let policy = PeerPolicy(allow: [Self.range("8.8.8.8")], deny: [Self.range("8.8.8.0/24")])
        #expect(Self.isAllowed(policy, "8.8.8.8"))
        #expect(!Self.isAllowed(policy, "8.8.8.4"))
    }

    @Test func serverAddressesAreDeniedOnEveryPort() {
        let policy = PeerPolicy(serverAddresses: [
            Self.address("93.184.216.34", port: 3478), Self.address("2a01::5", port: 3478),
        ])
        #expect(policy.check(Self.address("93.184.216.34", port: 3478)) != .allowed)
        #expect(policy.check(Self.address("93.184.216.34", port: 49152)) != .allowed)
        #expect(policy.check(Self.address("2a01::5", port: 22)) != .allowed)
        #expect(Self.isAllowed(policy, "93.184.216.35"))
        #expect(Self.isAllowed(policy, "2a01::6"))
    }

    @Test func serverAddressesCannotBeAllowed() {
        let policy = PeerPolicy(
            allow: [Self.range("0.0.0.0/0"), Self.range("::/0")],
            serverAddresses: [Self.address("10.1.2.5", port: 3478)])
        #expect(Self.isAllowed(policy, "10.1.2.6"))
        #expect(!Self.isAllowed(policy, "10.1.2.5"))
        #expect(!Self.isAllowed(policy, "::ffff:10.1.2.5"), "nor through an embedding")
        #expect(!Self.isAllowed(policy, "64:ff9b::10.1.2.5"))
    }

    @Test func mappedServerAddressMatchesItsIPv4Form() {
        let policy = PeerPolicy(allow: [Self.range("0.0.0.0/0")], serverAddresses: [Self.address("::ffff:10.1.2.5")])
        #expect(!Self.isAllowed(policy, "10.1.2.5"))
    }

    @Test func malformedPeersAreDenied() {
        let policy = PeerPolicy(allow: [Self.range("0.0.0.0/0"), Self.range("::/0")])
        var peer = Self.address("8.8.8.8")
        peer.address = Array(repeating: 8, count: 16)
        #expect(policy.check(peer) == .denied(reason: "malformed address"))
        peer.family = .ipv6
        peer.address = [8, 8, 8, 8]
        #expect(policy.check(peer) == .denied(reason: "malformed address"))
        peer.address = []
        #expect(policy.check(peer) == .denied(reason: "malformed address"))
    }
}
