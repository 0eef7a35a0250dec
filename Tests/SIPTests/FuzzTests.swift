import Testing

@testable import SIP

/// Thousands of mutated messages, deterministic by seed: the parser, the typed accessors, the serializer
/// and the stream framer must neither trap nor loop, whatever the input.
@Suite("Robustness")
struct FuzzTests {
    static let seeds: [[UInt8]] = [
        wire(basicRequest(method: "INVITE", body: "v=0\n")),
        wire(
            #"""
            INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
            TO :
             sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
            from   : "J Rosenberg \\\""       <sip:jdrosen@example.com>
              ;
              tag = 98asjd8
            MaX-fOrWaRdS: 0068
            Call-ID: wsinv.ndaksdj@192.0.2.1
            cseq: 0009
              INVITE
            v:  SIP  / 2.0  / TCP     [2001:db8::1]:5060   ;
              branch  =   z9hG4bK9ikj8  ;rport;received=192.0.2.1,
             SIP  /    2.0   / UDP  192.168.255.111   ; branch=
             z9hG4bK30239
            Route: <sip:a@b;lr>, "x,y" <sips:c@[::1]:5061;transport=tls?h=v>
            m:"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam =
                  newvalue ;
              secondparam ; q = 0.33
            Content-Length: 3

            abc
            """#),
        wire(
            """
            SIP/2.0 180 Ringing
            Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe;rport=5060
            Call-ID: a@b
            CSeq: 35 INVITE
            From: <sip:user@example.com>;tag=39ansfi3
            To: <sip:user@example.edu>;tag=902jndnke3
            Record-Route: <sip:p1.example.com;lr>
            Contact: *
            l: 0


            """),
    ]

    static let interesting: [[UInt8]] = [
        [0x0D, 0x0A], [0x0D], [0x0A], [0x20], [0x09], [0x3A], [0x3B], [0x2C], [0x3C], [0x3E], [0x22], [0x5C], [0x25],
        [0x40], [0x5B], [0x5D], [0x3F], [0x3D], [0x00], [0xFF], [0xC3], Array("z9hG4bK".utf8),
        Array("\r\n\r\n".utf8), Array("Content-Length: 99999\r\n".utf8), Array("%00".utf8), Array("SIP/2.0".utf8),
    ]

    func mutate(_ input: [UInt8], _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...8, using: &generator) {
            guard !bytes.isEmpty else {
                bytes = FuzzTests.interesting.randomElement(using: &generator)!
                continue
            }
            let position = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<7, using: &generator) {
            case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes.remove(at: position)
            case 2: bytes.insert(contentsOf: FuzzTests.interesting.randomElement(using: &generator)!, at: position)
            case 3:
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &generator))
                bytes.removeSubrange(position..<end)
            case 4:
                let end = min(bytes.count, position + Int.random(in: 1...32, using: &generator))
                let slice = Array(bytes[position..<end])
                bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &generator))
            case 5: bytes = Array(bytes.prefix(position))
            default: bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &generator)
            }
        }
        return bytes
    }

    @Test func mutatedMessagesNeverTrap() {
        var generator = SeededGenerator(seed: 0x5EED_5150)
        var parsed = 0
        for iteration in 0..<6000 {
            let seed = FuzzTests.seeds[iteration % FuzzTests.seeds.count]
            let bytes = mutate(seed, &generator)
            bytes.withUnsafeBytes { MessageParser.fuzz($0) }
            if case .success = MessageParser().parse(bytes) { parsed += 1 }
        }
        // Some mutations leave the message valid; most do not. Both paths ran.
        #expect(parsed > 100)
        #expect(parsed < 6000)
    }

    @Test func serializedMessagesReparseToTheSameMessage() throws {
        var generator = SeededGenerator(seed: 42)
        for iteration in 0..<3000 {
            let bytes = mutate(FuzzTests.seeds[iteration % FuzzTests.seeds.count], &generator)
            guard case .success(let message) = MessageParser().parse(bytes) else { continue }
            let output = message.serialized()
            guard case .success(let again) = MessageParser().parse(output) else {
                Issue.record("serialized output did not parse: \(String(decoding: output, as: UTF8.self))")
                return
            }
            // Serialization adds Content-Length when the input had none; everything else is kept.
            let names = message.headers.map(\.name).filter { $0 != .contentLength }
            #expect(again.headers.map(\.name).filter { $0 != .contentLength } == names)
            #expect(again.body == message.body)
        }
    }

    @Test func randomBytesNeverTrap() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let count = Int.random(in: 0...300, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes.withUnsafeBytes { MessageParser.fuzz($0) }
        }
    }

    @Test func framerSurvivesMutatedStreams() {
        var generator = SeededGenerator(seed: 99)
        for iteration in 0..<1500 {
            var framer = StreamFramer(limits: .init(maxHeaderBytes: 2048, maxMessageSize: 8192))
            var stream: [UInt8] = []
            for index in 0..<3 { stream += mutate(FuzzTests.seeds[(iteration + index) % 3], &generator) }
            var position = 0
            feeding: while position < stream.count {
                let chunk = min(stream.count - position, Int.random(in: 1...200, using: &generator))
                framer.append(stream[position..<(position + chunk)])
                position += chunk
                do {
                    while let output = try framer.next() {
                        if case .message(let bytes) = output { _ = MessageParser().parse(bytes) }
                    }
                } catch {
                    break feeding
                }
            }
            #expect(framer.bufferedByteCount <= stream.count)
        }
    }

    @Test func limitsAreEnforced() {
        let parser = MessageParser(limits: .init(maxMessageSize: 2000, maxHeaderCount: 20, maxLineLength: 200))
        let many = wire(basicRequest(extraHeaders: String(repeating: "X-A: b\n", count: 30)))
        guard case .failure(let tooMany) = parser.parse(many) else {
            Issue.record("accepted too many headers")
            return
        }
        #expect(tooMany.error.kind == .tooManyHeaders)
        let long = wire(basicRequest(extraHeaders: "Subject: \(String(repeating: "x", count: 300))\n"))
        guard case .failure(let tooLong) = parser.parse(long) else {
            Issue.record("accepted a long line")
            return
        }
        #expect(tooLong.error.kind == .lineTooLong)
        let folded = wire(basicRequest(extraHeaders: "Subject: a\n" + String(repeating: " bbbbbbbbbb\n", count: 30)))
        guard case .failure(let tooLongFolded) = parser.parse(folded) else {
            Issue.record("accepted a long folded line")
            return
        }
        #expect(tooLongFolded.error.kind == .lineTooLong)
        let big = wire(basicRequest(body: String(repeating: "y", count: 3000)))
        guard case .failure(let tooBig) = parser.parse(big) else {
            Issue.record("accepted a large message")
            return
        }
        #expect(tooBig.error.kind == .messageTooLarge)
        #expect(tooBig.error.responseStatus == .messageTooLarge)
    }

    @Test func emptyAndKeepAliveOnlyInput() {
        for input in [[], [0x0D, 0x0A], [0x0D, 0x0A, 0x0D, 0x0A]] as [[UInt8]] {
            guard case .failure(let failure) = MessageParser().parse(input) else {
                Issue.record("parsed nothing")
                continue
            }
            #expect(failure.error.kind == .empty)
            #expect(!failure.canRespond)
        }
    }
}
