import SDP
import Testing

@testable import WebRTC

/// A DTLS client and server engine handshake with each other in memory.
struct DTLSConnectionTests {
    /// Moves datagrams both ways until neither side has anything to send.
    static func pump(_ client: DTLSConnection, _ server: DTLSConnection, maximumRounds: Int = 20) -> Int {
        var rounds = 0
        var datagrams = 0
        while rounds < maximumRounds {
            rounds += 1
            let toServer = client.takeDatagrams()
            for datagram in toServer { server.receive(datagram) }
            let toClient = server.takeDatagrams()
            for datagram in toClient { client.receive(datagram) }
            datagrams += toServer.count + toClient.count
            if toServer.isEmpty && toClient.isEmpty { break }
        }
        return datagrams
    }

    static func connectedPair(
        clientProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        serverProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80]
    ) throws -> (client: DTLSConnection, server: DTLSConnection) {
        let clientCertificate = try DTLSCertificate()
        let serverCertificate = try DTLSCertificate()
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint],
            profiles: clientProfiles)
        let server = try DTLSConnection(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint],
            profiles: serverProfiles)
        client.start()
        _ = pump(client, server)
        return (client, server)
    }

    @Test func certificateHasASHA256FingerprintForTheSDP() throws {
        let certificate = try DTLSCertificate()
        #expect(certificate.fingerprint.hashFunction == "sha-256")
        #expect(certificate.fingerprint.bytes.count == 32)
        // It round-trips through the SDP attribute.
        #expect(Fingerprint(attributeValue: certificate.fingerprint.description) == certificate.fingerprint)
        #expect(try DTLSCertificate().fingerprint != certificate.fingerprint)
    }

    @Test func clientAndServerHandshakeAndExportTheSameKeys() throws {
        let (client, server) = try Self.connectedPair()
        #expect(client.state == .connected)
        #expect(server.state == .connected)
        let clientKeys = try #require(client.keyingMaterial)
        let serverKeys = try #require(server.keyingMaterial)
        #expect(clientKeys == serverKeys)
        #expect(clientKeys.profile == .aeadAES128GCM)
        #expect(clientKeys.clientKey.count == 16 && clientKeys.clientSalt.count == 12)
        #expect(clientKeys.clientKey != clientKeys.serverKey)
        #expect(clientKeys.sending(as: .client) == serverKeys.receiving(as: .server))
        #expect(client.timeoutRemaining() == nil)
    }

    @Test func aes128CMProfileWhenThatIsAllThePeerOffers() throws {
        let (client, server) = try Self.connectedPair(clientProfiles: [.aes128CMHMACSHA1_80])
        let keys = try #require(server.keyingMaterial)
        #expect(keys.profile == .aes128CMHMACSHA1_80)
        #expect(keys.clientKey.count == 16 && keys.clientSalt.count == 14)
        #expect(client.keyingMaterial == keys)
    }

    @Test func serverRefusesAClientCertificateThatDoesNotMatchTheSDP() throws {
        let clientCertificate = try DTLSCertificate()
        let serverCertificate = try DTLSCertificate()
        let impostor = try DTLSCertificate()
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint])
        let server = try DTLSConnection(
            role: .server, certificate: serverCertificate, remoteFingerprints: [impostor.fingerprint])
        client.start()
        _ = Self.pump(client, server)
        #expect(server.state == .failed(.fingerprintMismatch))
        #expect(server.keyingMaterial == nil)
        guard case .failed = client.state else {
            Issue.record("the client should have received the alert, state \(client.state)")
            return
        }
        #expect(client.keyingMaterial == nil)
    }

    @Test func clientRefusesAServerCertificateThatDoesNotMatchTheSDP() throws {
        let clientCertificate = try DTLSCertificate()
        let serverCertificate = try DTLSCertificate()
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate,
            remoteFingerprints: [Fingerprint(bytes: [UInt8](repeating: 0xAB, count: 32))])
        let server = try DTLSConnection(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint])
        client.start()
        _ = Self.pump(client, server)
        #expect(client.state == .failed(.fingerprintMismatch))
        #expect(client.keyingMaterial == nil)
        #expect(server.keyingMaterial == nil)
    }

    @Test func aSHA512FingerprintIsCheckedToo() throws {
        let clientCertificate = try DTLSCertificate()
        let serverCertificate = try DTLSCertificate()
        let sha512 = try #require(digest(of: clientCertificate.certificate, hashFunction: "sha-512"))
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint])
        let server = try DTLSConnection(
            role: .server, certificate: serverCertificate,
            remoteFingerprints: [Fingerprint(hashFunction: "sha-512", bytes: sha512)])
        client.start()
        _ = Self.pump(client, server)
        #expect(server.state == .connected)
        #expect(client.state == .connected)
    }

    @Test func datagramsStayWithinTheMTU() throws {
        let clientCertificate = try DTLSCertificate()
        let serverCertificate = try DTLSCertificate()
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint],
            maximumDatagramSize: 600)
        let server = try DTLSConnection(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint],
            maximumDatagramSize: 600)
        client.start()
        var largest = 0
        for _ in 0..<20 {
            let toServer = client.takeDatagrams()
            let toClient: [[UInt8]]
            for datagram in toServer { server.receive(datagram) }
            toClient = server.takeDatagrams()
            for datagram in toClient { client.receive(datagram) }
            largest = max(largest, (toServer + toClient).map(\.count).max() ?? 0)
            if toServer.isEmpty && toClient.isEmpty { break }
        }
        #expect(client.state == .connected && server.state == .connected)
        #expect(largest <= 600, "largest datagram \(largest)")
    }

    @Test func aLostFlightLeavesARetransmissionTimerRunning() throws {
        let clientCertificate = try DTLSCertificate()
        let client = try DTLSConnection(
            role: .client, certificate: clientCertificate, remoteFingerprints: [clientCertificate.fingerprint])
        client.start()
        let hello = client.takeDatagrams()
        #expect(hello.count == 1)
        #expect(hello.first?.first == 22)  // a handshake record (RFC 7983: 20…63 is DTLS)
        let remaining = try #require(client.timeoutRemaining())
        #expect(remaining > .zero && remaining <= .seconds(2))
        // Not yet expired on OpenSSL's clock: nothing is resent.
        client.handleTimeout()
        #expect(client.state == .handshaking)
    }

    @Test func closeNotifyClosesThePeer() throws {
        let (client, server) = try Self.connectedPair()
        client.close()
        #expect(client.state == .closed)
        for datagram in client.takeDatagrams() { server.receive(datagram) }
        #expect(server.state == .closed)
    }

    @Test func garbageDuringTheHandshakeFailsOnlyThatConnection() throws {
        let certificate = try DTLSCertificate()
        let server = try DTLSConnection(
            role: .server, certificate: certificate, remoteFingerprints: [certificate.fingerprint])
        server.receive([22, 0xFE, 0xFD] + [UInt8](repeating: 0x41, count: 40))
        // Either dropped (DTLS ignores bad records) or failed; never connected, never a crash.
        #expect(server.state != .connected)
        #expect(server.keyingMaterial == nil)
    }
}
