import Foundation
import Testing

/// `stagedoor port-sdp`: a matrix port's stream as an SDP an AES67 device or a matrix imports.
@Suite struct PortSDPTests {
    static let ports = """
          ports:
            - id: mono-unicast
              encoding: L24
              channels: 1
              packet_time_ms: 1
              payload_type: 98
              send:
                destination: 192.0.2.20
                port: 5004
              receive:
                address: 127.0.0.1
                port: 5006
            - id: stereo-multicast
              encoding: L16
              channels: 2
              packet_time_ms: 0.125
              payload_type: 97
              send:
                destination: 239.69.1.10
                port: 5008
                ttl: 16
              receive:
                address: 239.69.1.11
                port: 5010

        """

    /// The development configuration with the two ports above in place of its own.
    static func stack() throws -> StackHarness {
        let stack = try StackHarness()
        var text = try String(contentsOfFile: stack.configPath, encoding: .utf8)
        let start = try #require(text.range(of: "  ports:\n"))
        let end = try #require(text.range(of: "  # Panels allowed"))
        text.replaceSubrange(start.lowerBound..<end.lowerBound, with: ports)
        text = text.replacingOccurrences(of: "      port: matrix-1", with: "      port: mono-unicast")
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        return stack
    }

    /// The output with CRLF line ends checked and removed, and the o= line split off.
    static func lines(_ output: String) -> (origin: String, rest: [String]) {
        #expect(output.hasSuffix("\r\n"))
        #expect(!output.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "bare LF in \(output)")
        var lines = output.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        let origin = lines.count > 1 ? lines.remove(at: 1) : ""
        return (origin, lines)
    }

    @Test func unicastMonoL24OneMillisecond() throws {
        let stack = try Self.stack()
        let result = try stack.cli(["port-sdp", "mono-unicast"])
        #expect(result.status == 0, "\(result.errors)")
        let (origin, rest) = Self.lines(result.output)
        #expect(
            origin.range(of: #"^o=- [0-9]+ [0-9]+ IN IP4 127\.0\.0\.1$"#, options: .regularExpression) != nil,
            "\(origin)")
        #expect(
            rest == [
                "v=0",
                "s=Stagedoor mono-unicast send",
                "c=IN IP4 192.0.2.20",
                "t=0 0",
                "m=audio 5004 RTP/AVP 98",
                "a=rtpmap:98 L24/48000/1",
                "a=sendonly",
                "a=ptime:1",
                "a=framecount:48",
            ])
        // The same file gives the same SDP, o= line included.
        #expect(try stack.cli(["port-sdp", "mono-unicast"]).output == result.output)
    }

    @Test func multicastStereoL16WithPTP() throws {
        let stack = try Self.stack()
        let result = try stack.cli([
            "port-sdp", "stereo-multicast", "--origin", "192.0.2.10", "--ptp", "39-a7-94-ff-fe-07-cb-d0:0",
        ])
        #expect(result.status == 0, "\(result.errors)")
        let (origin, rest) = Self.lines(result.output)
        #expect(origin.hasPrefix("o=- ") && origin.hasSuffix(" IN IP4 192.0.2.10"), "\(origin)")
        #expect(
            rest == [
                "v=0",
                "s=Stagedoor stereo-multicast send",
                "c=IN IP4 239.69.1.10/16",
                "t=0 0",
                "a=clock-domain:PTPv2 0",
                "m=audio 5008 RTP/AVP 97",
                "a=rtpmap:97 L16/48000/2",
                "a=source-filter: incl IN IP4 239.69.1.10 192.0.2.10",
                "a=sendonly",
                "a=ptime:0.125",
                "a=framecount:6",
                "a=ts-refclk:ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:0",
                "a=mediaclk:direct=0",
            ])

        // What the bridge expects from the matrix: the group it joins.
        let receive = try stack.cli(["port-sdp", "stereo-multicast", "--direction", "receive"])
        #expect(receive.status == 0, "\(receive.errors)")
        let (receiveOrigin, receiveRest) = Self.lines(receive.output)
        // The group is no sender address: o= falls back to bridge.media.address.
        #expect(receiveOrigin.hasSuffix(" IN IP4 127.0.0.1"), "\(receiveOrigin)")
        #expect(receiveRest.contains("c=IN IP4 239.69.1.11/32"))
        #expect(receiveRest.contains("m=audio 5010 RTP/AVP 97"))
        #expect(receiveRest.contains("a=recvonly"))
        #expect(!receiveRest.contains { $0.hasPrefix("a=source-filter") })
    }

    @Test func unknownPortsAndBadOptionsAreRefused() throws {
        let stack = try Self.stack()
        let unknown = try stack.cli(["port-sdp", "matrix-9"])
        #expect(unknown.status == 1)
        #expect(unknown.errors.contains("known ports: mono-unicast, stereo-multicast"), "\(unknown.errors)")
        #expect(unknown.output.isEmpty)
        let badClock = try stack.cli(["port-sdp", "mono-unicast", "--ptp", "not-a-clock"])
        #expect(badClock.status == 64)
        let wildcard = try stack.cli(["port-sdp", "mono-unicast", "--origin", "0.0.0.0"])
        #expect(wildcard.status == 64)
    }
}
