import NIOCore
import Testing

@testable import STUN

@Suite("Telling STUN from ChannelData, DTLS and RTP (RFC 7983 §7, RFC 8489 §6.3)")
struct DemultiplexingTests {
    @Test("STUN messages look like STUN")
    func stun() {
        for (_, bytes) in RFC5769.all {
            #expect(STUNCodec.looksLikeSTUN(bytes))
        }
        let indication = STUNMessage(method: .binding, messageClass: .indication).encode(fingerprint: true)
        #expect(STUNCodec.looksLikeSTUN(indication))
        #expect(STUNCodec.looksLikeSTUN(ByteBuffer(bytes: indication)))
    }

    @Test("ChannelData, RTP, RTCP and DTLS do not")
    func others() {
        // ChannelData (RFC 8656 §12.4): channel 0x4000, length 4, then data.
        let channelData: [UInt8] = [0x40, 0x00, 0x00, 0x14] + Array(RFC5769.ipv4Response[4..<24])
        #expect(!STUNCodec.looksLikeSTUN(channelData))
        #expect(!STUNCodec.looksLikeSTUN(ByteBuffer(bytes: channelData)))
        // RTP version 2, PT 0; the bytes where the cookie would be carry a copy of it to show the first byte decides.
        var rtp: [UInt8] = [0x80, 0x00, 0x12, 0x34, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 0, count: 164)
        #expect(!STUNCodec.looksLikeSTUN(rtp))
        rtp[0] = 0x81
        rtp[1] = 200  // RTCP sender report
        #expect(!STUNCodec.looksLikeSTUN(rtp))
        let dtls: [UInt8] = [0x16, 0xFE, 0xFD] + Array(repeating: 0, count: 30)
        #expect(!STUNCodec.looksLikeSTUN(dtls))
    }

    @Test("Too short, wrong cookie or unaligned length do not")
    func nearMisses() {
        #expect(!STUNCodec.looksLikeSTUN(RFC5769.ipv4Response.prefix(19)))
        #expect(!STUNCodec.looksLikeSTUN([UInt8]()))
        var badCookie = RFC5769.ipv4Response
        badCookie[7] = 0
        #expect(!STUNCodec.looksLikeSTUN(badCookie))
        var unaligned = RFC5769.ipv4Response
        unaligned[3] = 0x3D
        #expect(!STUNCodec.looksLikeSTUN(unaligned))
    }
}
