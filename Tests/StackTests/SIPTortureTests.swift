import Foundation
import SIP
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The RFC 4475 torture messages sent over UDP to the running stagedoor-sip, from a test socket on
/// 127.0.0.5 toward a test socket on 127.0.0.2 that is the configured trunk (it answers every request it
/// gets with 200). Each message gets the handling RFC 4475 describes for a proxy: valid but odd requests
/// are forwarded (and the trunk's answer comes back), invalid ones are answered 400 (505, 416, 420, 483 where
/// the RFC says so) by the proxy and never reach the trunk, and what cannot be answered (no readable Via,
/// stray responses) is dropped. A normal sipp call still goes through afterwards.
@Suite(.serialized)
struct SIPTortureTests {
    enum Handling: Equatable, CustomStringConvertible {
        /// Reaches the trunk (parseable, with the proxy's Via on top) and the trunk's 200 comes back.
        case forwarded
        /// Answered by the proxy with this final status; the trunk sees nothing.
        case answered(UInt16)
        /// Nothing comes back and nothing reaches the trunk.
        case dropped

        var description: String {
            switch self {
            case .forwarded: "forwarded"
            case .answered(let code): "answered \(code)"
            case .dropped: "dropped"
            }
        }
    }

    struct Case {
        /// The RFC's section and file name.
        var name: String
        var bytes: [UInt8]
        /// What identifies the answers: the Call-ID (or the CSeq for a message without one).
        var callID: String?
        var cseq: String?
        var handling: Handling
        /// A header line the final answer must hold.
        var answerHolds: String?
    }

    static let trunkAddress = "127.0.0.2"
    static let callerAddress = "127.0.0.5"

    @Test func tortureMessagesGetTheHandlingRFC4475DescribesAndCallsStillWork() throws {
        let stack = try SIPInteropTests.makeStack { text in
            // The messages' Request-URIs name example.com and the like: send them to the trunk rather than
            // refusing them (403), so forwarding is what gets tested; no rate limit for the burst.
            text = text.replacingOccurrences(of: "foreign_domains: reject", with: "foreign_domains: trunk")
            text = text.replacingOccurrences(of: "requests_per_second: 50 ", with: "requests_per_second: 0 ")
        }
        var results: [String] = []
        do {
            let trunk = try UDPEndpoint(host: Self.trunkAddress, port: UInt16(SIPInteropTests.trunkPort))
            let caller = try UDPEndpoint(host: Self.callerAddress, port: UInt16(SIPInteropTests.callerPort))
            for (number, original) in Self.cases.enumerated() {
                // RFC 4475's messages share the branch z9hG4bKkdjuw: sent one after another from one source,
                // two with the same sent-by and method would be one transaction (§17.2.3), the second a
                // retransmission. Each gets a branch of its own.
                var test = original
                test.bytes = Self.uniqueBranch(test.bytes, number)
                let observed = Self.exchange(test, caller: caller, trunk: trunk)
                results.append("\(test.name): \(observed.summary)")
                #expect(observed.handling == test.handling, "\(test.name): \(observed.summary)")
                if let line = test.answerHolds {
                    let text = observed.final.map { String(decoding: $0.serialized(), as: UTF8.self) } ?? ""
                    #expect(text.contains(line + "\r\n"), "\(test.name): the answer lacks \(line): \(text)")
                }
                for problem in observed.problems { Issue.record("\(test.name): \(problem)") }
            }
            // The proxy's own retransmissions and late answers are not counted above: let them pass.
            _ = Self.drain(caller: caller, trunk: trunk, for: 0.3)
        }
        #expect(try stack.status().state("sip") == "running", "\(results.joined(separator: "\n"))")
        // The sockets are closed: a normal call through the proxy to a sipp trunk still works.
        let result = try SIPInteropTests.call(stack, trunk: "uas", caller: "uac")
        #expect(result.caller == 0 && result.trunk == 0, "\(SIPInteropTests.sippLogs(stack))")
        let malformed = try SIPInteropTests.sipCounter(stack, "malformed")
        #expect(malformed.map { $0 >= 15 } == true, "malformed \(String(describing: malformed))")
        #expect(try stack.cli(["stop"]).status == 0)
    }

    struct Observation {
        var handling: Handling
        var summary: String
        var problems: [String]
        var final: SIPResponse?
    }

    /// Sends one message and watches both sockets until its outcome is known: a final answer to the caller
    /// (after the trunk answered, when it was forwarded), or silence for a while.
    static func exchange(_ test: Case, caller: UDPEndpoint, trunk: UDPEndpoint) -> Observation {
        caller.send(test.bytes, to: "127.0.0.1", port: UInt16(SIPInteropTests.proxyPort))
        var forwarded: [SIPRequest] = []
        var answers: [SIPResponse] = []
        var rawAnswers: [RawAnswer] = []
        var problems: [String] = []
        func matches(_ headers: SIPHeaders) -> Bool {
            if let callID = test.callID { return headers.first(.callID) == callID }
            return headers.first(.cseq) == test.cseq
        }
        // Silence for 0.6 s means dropped; anything under way gets up to 5 s.
        let quiet = Date().addingTimeInterval(0.6)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if answers.contains(where: { $0.statusCode.isFinal }) || rawAnswers.contains(where: { $0.code >= 200 }) {
                break
            }
            if forwarded.isEmpty, answers.isEmpty, rawAnswers.isEmpty, Date() > quiet { break }
            guard let (bytes, from) = UDPEndpoint.receive(from: [caller, trunk], timeout: 0.05) else { continue }
            switch MessageParser().parse(bytes) {
            case .success(.request(let request)) where from === trunk:
                guard matches(request.headers) else { continue }
                if forwarded.isEmpty {
                    problems += checkForwarded(request, test)
                }
                forwarded.append(request)
                if request.method != .ack {
                    let answer = SIPResponse(replyingTo: request, statusCode: .ok, toTag: "trunk1")
                    trunk.send(answer.serialized(), to: "127.0.0.1", port: UInt16(SIPInteropTests.proxyPort))
                }
            case .success(.response(let response)) where from === caller:
                if matches(response.headers) { answers.append(response) }
            case .success:
                problems.append("unexpected message on the \(from === trunk ? "trunk" : "caller") socket")
            case .failure(let failure) where from === caller:
                // A 400 copies the request's From, To, Call-ID and CSeq (§8.2.6.2), broken as they may be:
                // read its status line and Call-ID or CSeq as text.
                guard let answer = RawAnswer(bytes) else {
                    problems.append("the proxy sent the caller something unparsable: \(failure.error)")
                    continue
                }
                if test.callID.map({ answer.callID == $0 }) ?? (answer.cseq == test.cseq) { rawAnswers.append(answer) }
            case .failure(let failure):
                problems.append("the proxy forwarded something unparsable: \(failure.error)")
            }
        }
        let final = answers.first { $0.statusCode.isFinal }
        let finalCode = final?.statusCode.rawValue ?? rawAnswers.first { $0.code >= 200 }?.code
        let handling: Handling
        if !forwarded.isEmpty {
            handling = finalCode == 200 ? .forwarded : .answered(finalCode ?? 0)
        } else if let finalCode {
            handling = .answered(finalCode)
        } else {
            handling = .dropped
        }
        let codes = (answers.map { "\($0.statusCode.rawValue) \($0.reasonPhrase)" } + rawAnswers.map(\.statusLine))
            .joined(separator: ", ")
        let summary =
            "\(handling) (trunk got \(forwarded.map(\.method.name).joined(separator: ",")); caller got \(codes))"
        return Observation(handling: handling, summary: summary, problems: problems, final: final)
    }

    /// What a forwarded request must look like: the proxy's Via on top with its branch, the sender's Vias
    /// below, Max-Forwards one less (70 when the sender had none, §16.6 step 3), the body unchanged.
    static func checkForwarded(_ request: SIPRequest, _ test: Case) -> [String] {
        var problems: [String] = []
        let vias = (try? request.headers.vias()) ?? []
        if vias.first?.host != .ipv4("127.0.0.1") || vias.first?.port != UInt16(SIPInteropTests.proxyPort)
            || vias.first?.branch?.hasPrefix("z9hG4bKsd") != true
        {
            problems.append("top Via is not the proxy's: \(String(describing: vias.first))")
        }
        if vias.count < 2 { problems.append("the sender's Via is gone") }
        let original: SIPRequest? =
            if case .success(.request(let request)) = MessageParser().parse(test.bytes) { request } else { nil }
        let before = original.flatMap { (try? $0.headers.maxForwards()) ?? nil }
        let after = (try? request.headers.maxForwards()) ?? nil
        if after != (before.map { $0 - 1 } ?? 70) {
            problems.append("Max-Forwards \(String(describing: before)) became \(String(describing: after))")
        }
        if let original, original.body != request.body { problems.append("the body changed") }
        return problems
    }

    /// `bytes` with the first `z9hG4bKkdjuw` made `z9hG4bKkdjuw-N`.
    static func uniqueBranch(_ bytes: [UInt8], _ number: Int) -> [UInt8] {
        let shared = Array("z9hG4bKkdjuw".utf8)
        guard bytes.count >= shared.count,
            let start = (0...(bytes.count - shared.count)).first(where: {
                bytes[$0..<($0 + shared.count)].elementsEqual(shared)
            })
        else { return bytes }
        var result = bytes
        result.insert(contentsOf: Array("-\(number)".utf8), at: start + shared.count)
        return result
    }

    /// Reads and discards what arrives for `seconds`.
    static func drain(caller: UDPEndpoint, trunk: UDPEndpoint, for seconds: TimeInterval) -> Int {
        var count = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if UDPEndpoint.receive(from: [caller, trunk], timeout: 0.05) != nil { count += 1 }
        }
        return count
    }
}

/// A response read as text: its status line, Call-ID and CSeq (for answers whose copied headers do not parse).
struct RawAnswer {
    var statusLine: String
    var code: UInt16
    var callID: String?
    var cseq: String?

    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        guard let first = lines.first, first.hasPrefix("SIP/2.0 "),
            let code = UInt16(first.dropFirst(8).prefix(3))
        else { return nil }
        statusLine = String(first.dropFirst(8))
        self.code = code
        for line in lines.prefix { !$0.isEmpty } {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "call-id" || name == "i" { callID = callID ?? value }
            if name == "cseq" { cseq = cseq ?? value }
        }
    }
}

/// A bound UDP socket on loopback (closed on deinit).
final class UDPEndpoint {
    let descriptor: Int32

    init(host: String, port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket failed") }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.address(host, port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw HarnessError("cannot bind \(host):\(port): errno \(errno)")
        }
    }

    deinit { close(descriptor) }

    static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    func send(_ bytes: [UInt8], to host: String, port: UInt16) {
        var address = Self.address(host, port)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes {
                    sendto(
                        descriptor, $0.baseAddress, $0.count, 0, socketAddress,
                        socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The next datagram on any of `endpoints` within `timeout`, with the endpoint it arrived on.
    static func receive(from endpoints: [UDPEndpoint], timeout: TimeInterval) -> ([UInt8], UDPEndpoint)? {
        var descriptors = endpoints.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        guard poll(&descriptors, nfds_t(descriptors.count), Int32(timeout * 1000)) > 0 else { return nil }
        for (index, entry) in descriptors.enumerated() where entry.revents & Int16(POLLIN) != 0 {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = buffer.withUnsafeMutableBytes { recv(endpoints[index].descriptor, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { continue }
            return (Array(buffer.prefix(count)), endpoints[index])
        }
        return nil
    }
}
