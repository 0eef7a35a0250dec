import CALSA
import COpenSSL
import COpus
import CSRTP
import Foundation
import Testing

/// The C libraries the media plane is built on link and work, from Debian's -dev packages.
struct SystemLibraryTests {
    @Test func opusRoundTripsATone() throws {
        #expect(String(cString: opus_get_version_string()).hasPrefix("libopus 1."))
        var error: Int32 = 0
        let encoder = try #require(opus_encoder_create(48_000, 1, OPUS_APPLICATION_VOIP, &error))
        defer { opus_encoder_destroy(encoder) }
        let decoder = try #require(opus_decoder_create(48_000, 1, &error))
        defer { opus_decoder_destroy(decoder) }
        #expect(stagedoor_opus_set_bitrate(encoder, 32_000) == OPUS_OK)
        #expect(stagedoor_opus_set_inband_fec(encoder, 1) == OPUS_OK)

        // 10 frames of 20 ms of a 1 kHz tone at half scale; compare the energy of the last frame.
        let frame = 960
        var packet = [UInt8](repeating: 0, count: 1_500)
        var decoded = [Int16](repeating: 0, count: frame)
        var sample = 0
        for _ in 0..<10 {
            let pcm = (0..<frame).map { _ -> Int16 in
                defer { sample += 1 }
                return Int16(16_384 * sin(2 * Double.pi * 1_000 * Double(sample) / 48_000))
            }
            let length = opus_encode(encoder, pcm, Int32(frame), &packet, Int32(packet.count))
            #expect(length > 0)
            #expect(opus_decode(decoder, packet, length, &decoded, Int32(frame), 0) == Int32(frame))
        }
        let rms = sqrt(decoded.map { Double($0) * Double($0) }.reduce(0, +) / Double(frame))
        // A sine of amplitude 16384 has an RMS of about 11585; a lossy codec keeps it within a few dB.
        #expect(rms > 8_000 && rms < 15_000, "rms \(rms)")
    }

    /// libsrtp's init/shutdown is process-wide state that the WebRTC module's `SRTPSession`
    /// owns (tests run in one process, in parallel): only the library's presence is checked here.
    @Test func srtpLinks() {
        #expect(String(cString: srtp_get_version_string()).contains("libsrtp2"))
    }

    @Test func openSSLOffersDTLS() throws {
        #expect(OpenSSL_version_num() >= 0x3000_0000)
        #expect(stagedoor_openssl_header_version() >> 28 == OpenSSL_version_num() >> 28)
        let context = try #require(SSL_CTX_new(DTLS_method()))
        SSL_CTX_free(context)
    }

    @Test func alsaLibraryLoads() {
        #expect(String(cString: snd_asoundlib_version()).hasPrefix("1."))
    }
}
