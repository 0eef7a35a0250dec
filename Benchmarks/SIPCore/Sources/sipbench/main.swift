// sipbench: drives stagedoor's `EdgeProxy` (the pure SIP proxy core) through the calls that
// `scripts/bench-sip` makes with sipp, in one process with a simulated clock, so that the proxy's cost per
// call can be counted exactly with `valgrind --tool=callgrind` (see run.sh).
//
// The UAC (sipp -sn uac on 127.0.0.3:26170) calls through the proxy (UDP 127.0.0.1:26160) to the UAS trunk
// (sipp -sn uas on 127.0.0.2:26180): INVITE, 100, 180, 200, ACK, a hold, BYE, 200. Every message the
// endpoints send is built from what the proxy actually sent them (reparsed with `MessageParser`). Only the
// proxy's work is measured: `receive`, serializing each sent message (the daemon does it into one reused
// buffer) and, every 25 ms of simulated time, `nextDeadline` + `handleTimeout` (as ProxyEngine.tick).
//
//   sipbench [CALLS [WARMUP]] [--rate R] [--hold-ms H] [--cooldown C] [--mode sipp|dialog] [--quiet]
//
// CALLS (default 2000) are measured, after WARMUP calls (default 200) that are not. Measurement covers
// the steady-state time window in which the measured calls start (CALLS / R seconds): all proxy work in
// it (including the tail of earlier calls and timer expiries) is counted and divided by CALLS. COOLDOWN
// calls (default: 1 s worth) keep the load up past the window. Every call must complete (the UAC gets
// the 200 for INVITE and for BYE, the UAS gets INVITE, ACK and BYE) or the program exits 1.
//
// --mode sipp (default) is what sipp's built-in scenarios really do: the UAS does not echo Record-Route
// and the UAC sends ACK and BYE to `sip:service@proxy` with no Route. --mode dialog makes them behave as
// RFC 3261 dialog peers: the UAS echoes Record-Route, the UAC sends ACK/BYE to the UAS Contact with a
// Route set from the Record-Route (loose routing through the proxy, flow-token decoding).

import CCallgrind
#if canImport(Glibc)
import Glibc
#endif
import SIP
import SIPProxy

// MARK: - Options

struct Options {
    var calls = 2000
    var warmup = 200
    var rate = 200
    var holdMilliseconds = 100
    var cooldown: Int? = nil
    var dialogRouting = false
    var quiet = false
}

func usage(_ message: String) -> Never {
    print("sipbench: \(message)")
    print("usage: sipbench [CALLS [WARMUP]] [--rate R] [--hold-ms H] [--cooldown C] [--mode sipp|dialog] [--quiet]")
    exit(2)
}

func parseOptions() -> Options {
    var options = Options()
    var positional: [Int] = []
    var arguments = CommandLine.arguments.dropFirst()[...]
    func value(_ name: String) -> Int {
        guard let text = arguments.popFirst(), let number = Int(text), number >= 0 else { usage("\(name) needs a number") }
        return number
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--rate": options.rate = max(1, value(argument))
        case "--hold-ms": options.holdMilliseconds = value(argument)
        case "--cooldown": options.cooldown = value(argument)
        case "--warmup": options.warmup = value(argument)
        case "--calls": options.calls = max(1, value(argument))
        case "--mode":
            switch arguments.popFirst() {
            case "sipp": options.dialogRouting = false
            case "dialog": options.dialogRouting = true
            default: usage("--mode is sipp or dialog")
            }
        case "--quiet", "-q": options.quiet = true
        case "-h", "--help": usage("help")
        default:
            guard let number = Int(argument), number >= 0 else { usage("unknown argument \(argument)") }
            positional.append(number)
        }
    }
    if positional.count > 0 { options.calls = max(1, positional[0]) }
    if positional.count > 1 { options.warmup = positional[1] }
    if positional.count > 2 { usage("too many numbers") }
    return options
}

// MARK: - The proxy as scripts/bench-sip configures it

/// Config/stagedoor.yaml as bench-sip rewrites it (sip listeners on 26160 / ws 26188, the trunk on
/// 127.0.0.2:26180, `options_interval_ms: 0`, `requests_per_second: 0`), built the way
/// SIPProxyService.proxyConfiguration builds it.
func benchConfiguration() -> ProxyConfiguration {
    ProxyConfiguration(
        listeners: [
            ProxyListener(transport: .udp, host: "127.0.0.1", port: 26160),
            ProxyListener(transport: .tcp, host: "127.0.0.1", port: 26160),
            ProxyListener(transport: .ws, host: "127.0.0.1", port: 26188),
        ],
        domains: ["stagedoor.localhost"],
        trunkGroups: [
            TrunkGroup(
                name: "media",
                servers: [TrunkServer(host: "127.0.0.2", port: 26180, transport: .udp, priority: 1, weight: 1)])
        ],
        probing: ProbeSettings(interval: .milliseconds(0), downAfter: 2, upAfter: 1),
        requestsPerSecond: 0, banDuration: .seconds(60), connectionsPerSource: 32, maxMessageSize: 65535,
        maxTransactions: 300_000, foreignDomains: .reject,
        timers: TransactionTimers(timerC: .seconds(180)),
        flowTokenSecret: Array("sipbench-flow-token-secret-0123456789".utf8))
}

let proxyAddress = PeerAddress(host: "127.0.0.1", port: 26160)
let uacAddress = PeerAddress(host: "127.0.0.3", port: 26170)
let uasAddress = PeerAddress(host: "127.0.0.2", port: 26180)
let uacFlow = Flow(listener: 0, transport: .udp, remote: uacAddress)
let uasFlow = Flow(listener: 0, transport: .udp, remote: uasAddress)
let sippPID = 4242
let service = "service"

// MARK: - Measurement

/// Whether proxy work is being counted now (the measured window is running under callgrind).
nonisolated(unsafe) var measuring = false
let underValgrind = sipbench_running_on_valgrind() != 0

@inline(__always) func collect(_ on: Bool) {
    // With --collect-atstart=no, collection is off outside these brackets.
    if measuring { sipbench_toggle_collect() }
}

enum Endpoint { case uac, uas }

/// Which message the proxy is being fed: one non-inlined function each, so callgrind's inclusive cost of
/// `feed<Kind>` is the proxy's cost of that message (see run.sh).
enum MessageKind: String, CaseIterable {
    case invite = "INVITE", ack = "ACK", bye = "BYE", ringing = "180", inviteOK = "200/INVITE", byeOK = "200/BYE"
}

struct Delivery {
    var bytes: [UInt8]
    var to: Endpoint
}

struct ProxyHarness {
    var proxy = EdgeProxy(configuration: benchConfiguration())
    /// The daemon's reused serialization buffer (ProxyEngine.outgoing).
    var outgoing: [UInt8] = []
    var deliveries: [Delivery] = []
    var strayDestinations = 0
    var feeds: [MessageKind: Int] {
        [.invite: fedINVITE, .ack: fedACK, .bye: fedBYE, .ringing: fed180, .inviteOK: fed200INVITE, .byeOK: fed200BYE]
    }
    var ticks = 0
    var timeoutRuns = 0

    /// ProxyEngine.perform: serialize every send into one reused buffer, then hand it to the socket
    /// (here: copied out, not counted).
    @inline(__always) mutating func perform(_ actions: [ProxyAction]) {
        for action in actions {
            guard case .send(let message, let destination, _) = action else { continue }
            outgoing.removeAll(keepingCapacity: true)
            message.serialize(into: &outgoing)
            collect(false)
            let remote: PeerAddress
            switch destination {
            case .flow(let flow): remote = flow.remote
            case .address(_, let host, let port): remote = PeerAddress(host: host, port: port)
            }
            if remote == uacAddress {
                deliveries.append(Delivery(bytes: outgoing, to: .uac))
            } else if remote == uasAddress {
                deliveries.append(Delivery(bytes: outgoing, to: .uas))
            } else {
                strayDestinations += 1
            }
            collect(true)
        }
    }

    @inline(__always) mutating func feedCore(_ bytes: [UInt8], on flow: Flow, now: TransactionInstant) {
        collect(true)
        perform(proxy.receive(bytes, on: flow, now: now))
        collect(false)
    }

    // Distinct bodies (each bumps its own counter) so the linker cannot fold them into one symbol.
    var fedINVITE = 0, fedACK = 0, fedBYE = 0, fed180 = 0, fed200INVITE = 0, fed200BYE = 0

    @inline(never) mutating func feedINVITE(_ bytes: [UInt8], now: TransactionInstant) {
        fedINVITE += 1
        feedCore(bytes, on: uacFlow, now: now)
    }
    @inline(never) mutating func feedACK(_ bytes: [UInt8], now: TransactionInstant) {
        fedACK += 1
        feedCore(bytes, on: uacFlow, now: now)
    }
    @inline(never) mutating func feedBYE(_ bytes: [UInt8], now: TransactionInstant) {
        fedBYE += 1
        feedCore(bytes, on: uacFlow, now: now)
    }
    @inline(never) mutating func feed180(_ bytes: [UInt8], now: TransactionInstant) {
        fed180 += 1
        feedCore(bytes, on: uasFlow, now: now)
    }
    @inline(never) mutating func feed200INVITE(_ bytes: [UInt8], now: TransactionInstant) {
        fed200INVITE += 1
        feedCore(bytes, on: uasFlow, now: now)
    }
    @inline(never) mutating func feed200BYE(_ bytes: [UInt8], now: TransactionInstant) {
        fed200BYE += 1
        feedCore(bytes, on: uasFlow, now: now)
    }

    mutating func feed(_ kind: MessageKind, _ bytes: [UInt8], now: TransactionInstant) {
        switch kind {
        case .invite: feedINVITE(bytes, now: now)
        case .ack: feedACK(bytes, now: now)
        case .bye: feedBYE(bytes, now: now)
        case .ringing: feed180(bytes, now: now)
        case .inviteOK: feed200INVITE(bytes, now: now)
        case .byeOK: feed200BYE(bytes, now: now)
        }
    }

    /// ProxyEngine.tick (every 25 ms): the timers, when the next deadline has passed.
    @inline(never) mutating func tick(now: TransactionInstant) {
        ticks += 1
        collect(true)
        if let deadline = proxy.nextDeadline, deadline <= now {
            timeoutRuns += 1
            perform(proxy.handleTimeout(now: now))
        }
        _ = proxy.drainEvents()
        collect(false)
    }
}

// MARK: - sipp-shaped endpoints (not measured)

func crlf(_ lines: [String], body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
}

/// sipp writes `[len]` right-aligned in 5 columns.
func sippLength(_ body: String) -> String {
    let text = String(body.utf8.count)
    return String(repeating: " ", count: max(0, 5 - text.count)) + text
}

func sdp(_ ip: String) -> String {
    [
        "v=0", "o=user1 53655765 2353687637 IN IP4 \(ip)", "s=-", "c=IN IP4 \(ip)", "t=0 0",
        "m=audio 6000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "",
    ].joined(separator: "\r\n")
}

let uacSDP = sdp(uacAddress.host)
let uasSDP = sdp(uasAddress.host)

func toTag(_ to: String) -> String? {
    // The last ";tag=" (the To header's tag parameter).
    let parts = to.split(separator: ";", omittingEmptySubsequences: false)
    guard let tag = parts.last(where: { $0.hasPrefix("tag=") }) else { return nil }
    return String(tag.dropFirst(4).prefix { $0 != " " && $0 != ">" })
}

func headerLines(_ message: SIPMessage, _ name: SIPHeaderName) -> [String] {
    message.headers.fields.filter { $0.name == name }.map { "\(name.name): \($0.value)" }
}

struct UACCall {
    var number: Int
    var got100 = false
    var got180 = false
    var gotInviteOK = false
    var gotByeOK = false
    var peerTag: String?
    var remoteTarget: String?
    var routeSet: [String] = []
    var messageIndex = 0

    var callID: String { "\(number)-\(sippPID)@\(uacAddress.host)" }
    var fromLine: String { "From: sipp <sip:sipp@\(uacAddress.host):\(uacAddress.port)>;tag=\(sippPID)SIPpTag00\(number)" }
    var toURI: String { "sip:\(service)@\(proxyAddress.host):\(proxyAddress.port)" }
    var contactLine: String { "Contact: sip:sipp@\(uacAddress.host):\(uacAddress.port)" }

    mutating func branch() -> String {
        messageIndex += 1
        return "z9hG4bK-\(sippPID)-\(number)-\(messageIndex)"
    }

    mutating func invite() -> [UInt8] {
        crlf(
            [
                "INVITE \(toURI) SIP/2.0",
                "Via: SIP/2.0/UDP \(uacAddress.host):\(uacAddress.port);branch=\(branch())",
                fromLine, "To: \(service) <\(toURI)>", "Call-ID: \(callID)", "CSeq: 1 INVITE", contactLine,
                "Max-Forwards: 70", "Subject: Performance Test", "Content-Type: application/sdp",
                "Content-Length: \(sippLength(uacSDP))",
            ], body: uacSDP)
    }

    mutating func inDialog(_ method: String, cseq: Int, dialogRouting: Bool) -> [UInt8] {
        let requestURI = dialogRouting ? (remoteTarget ?? toURI) : toURI
        var lines = [
            "\(method) \(requestURI) SIP/2.0",
            "Via: SIP/2.0/UDP \(uacAddress.host):\(uacAddress.port);branch=\(branch())",
        ]
        if dialogRouting, !routeSet.isEmpty { lines.append("Route: " + routeSet.joined(separator: ", ")) }
        lines += [
            fromLine, "To: \(service) <\(toURI)>" + (peerTag.map { ";tag=\($0)" } ?? ""), "Call-ID: \(callID)",
            "CSeq: \(cseq) \(method)", contactLine, "Max-Forwards: 70", "Subject: Performance Test",
            "Content-Length: 0",
        ]
        return crlf(lines)
    }
}

struct UASCall {
    var number: Int
    var gotInvite = false
    var gotACK = false
    var gotBYE = false
    var toTag: String { "\(sippPID)SIPpTag01\(number)" }
}

// MARK: - Event queue

enum EventKind {
    case startCall(Int)
    case sendBYE(Int)
    /// A message from an endpoint arriving at the proxy.
    case toProxy(MessageKind, [UInt8])
    /// A message from the proxy arriving at an endpoint.
    case toEndpoint(Endpoint, [UInt8])
}

struct Event {
    var time: UInt64
    var sequence: UInt64
    var kind: EventKind
    func precedes(_ other: Event) -> Bool { (time, sequence) < (other.time, other.sequence) }
}

struct EventHeap {
    private var items: [Event] = []
    private var sequence: UInt64 = 0
    var isEmpty: Bool { items.isEmpty }
    var first: Event? { items.first }

    mutating func push(_ time: UInt64, _ kind: EventKind) {
        sequence += 1
        items.append(Event(time: time, sequence: sequence, kind: kind))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Event? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].precedes(items[smallest]) { smallest = left }
            if right < items.count, items[right].precedes(items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

// MARK: - The run

let options = parseOptions()
let interval = UInt64(1_000_000_000 / options.rate)
let hold = UInt64(options.holdMilliseconds) * 1_000_000
let hop: UInt64 = 100_000  // loopback + the receiving process: 0.1 ms
let tickInterval: UInt64 = 25_000_000  // ProxyEngine.tickInterval
let origin: UInt64 = 1_000_000_000
let cooldown = options.cooldown ?? options.rate
let totalCalls = options.warmup + options.calls + cooldown
let windowStart = origin + UInt64(options.warmup) * interval
let windowEnd = windowStart + UInt64(options.calls) * interval

var harness = ProxyHarness()
var events = EventHeap()
var uacCalls: [UACCall] = []
uacCalls.reserveCapacity(totalCalls)
var uasCalls: [String: UASCall] = [:]
var uasCallCount = 0
var unexpected: [String] = []
let parser = MessageParser()

@MainActor func note(_ problem: String) {
    if unexpected.count < 20 { unexpected.append(problem) } else { unexpected.append("") }
}

@MainActor func uacNumber(_ callID: String) -> Int? {
    guard let dash = callID.firstIndex(of: "-"), let number = Int(callID[..<dash]), number < uacCalls.count else {
        return nil
    }
    return number
}

@MainActor func uacReceived(_ bytes: [UInt8], at now: UInt64) {
    guard case .success(let message) = parser.parse(bytes), let response = message.response else {
        return note("UAC got a request or an unparsable message: \(String(decoding: bytes.prefix(80), as: UTF8.self))")
    }
    guard let callID = message.headers.first(.callID), let number = uacNumber(callID),
        let cseq = message.headers.first(.cseq)
    else { return note("UAC got a response for no call") }
    let status = response.statusCode.rawValue
    let method = cseq.split(separator: " ").last.map(String.init) ?? ""
    var call = uacCalls[number]
    defer { uacCalls[number] = call }
    switch (method, status) {
    case ("INVITE", 100) where !call.got100: call.got100 = true
    case ("INVITE", 180) where !call.got180: call.got180 = true
    case ("INVITE", 200) where !call.gotInviteOK:
        call.gotInviteOK = true
        call.peerTag = message.headers.first(.to).flatMap(toTag)
        if let contact = message.headers.first(.contact) {
            call.remoteTarget = String(contact.drop { $0 == "<" }.prefix { $0 != ">" })
        }
        call.routeSet = message.headers.listValues(.recordRoute).reversed().map {
            String($0.drop { $0 == " " })
        }
        events.push(now + hop, .toProxy(.ack, call.inDialog("ACK", cseq: 1, dialogRouting: options.dialogRouting)))
        events.push(now + hop + hold, .sendBYE(number))
    case ("BYE", 200) where !call.gotByeOK: call.gotByeOK = true
    default: note("UAC call \(number): unexpected \(status) for \(method)")
    }
}

@MainActor func uasReceived(_ bytes: [UInt8], at now: UInt64) {
    guard case .success(let message) = parser.parse(bytes), let request = message.request else {
        return note("UAS got a response or an unparsable message: \(String(decoding: bytes.prefix(80), as: UTF8.self))")
    }
    guard let callID = message.headers.first(.callID) else { return note("UAS got a request without Call-ID") }
    // [last_Via:] [last_From:] [last_To:] [last_Call-ID:] [last_CSeq:] as sipp copies them.
    let vias = headerLines(message, .via)
    let common = headerLines(message, .from)
    let callIDLines = headerLines(message, .callID)
    let cseqLines = headerLines(message, .cseq)
    let contact = "Contact: <sip:\(uasAddress.host):\(uasAddress.port);transport=UDP>"
    switch request.method.name {
    case "INVITE":
        guard uasCalls[callID] == nil else { return note("UAS got a second INVITE for \(callID)") }
        var call = UASCall(number: uasCallCount)
        uasCallCount += 1
        call.gotInvite = true
        uasCalls[callID] = call
        let to = (message.headers.first(.to) ?? "") + ";tag=\(call.toTag)"
        let recordRoute = options.dialogRouting ? headerLines(message, .recordRoute) : []
        let head = vias + common + ["To: \(to)"] + callIDLines + recordRoute + cseqLines + [contact]
        events.push(
            now + hop, .toProxy(.ringing, crlf(["SIP/2.0 180 Ringing"] + head + ["Content-Length: 0"])))
        events.push(
            now + 2 * hop,
            .toProxy(
                .inviteOK,
                crlf(
                    ["SIP/2.0 200 OK"] + head
                        + ["Content-Type: application/sdp", "Content-Length: \(sippLength(uasSDP))"], body: uasSDP)))
    case "ACK":
        guard var call = uasCalls[callID], !call.gotACK else { return note("UAS got a stray ACK for \(callID)") }
        call.gotACK = true
        uasCalls[callID] = call
    case "BYE":
        guard var call = uasCalls[callID], !call.gotBYE else { return note("UAS got a stray BYE for \(callID)") }
        call.gotBYE = true
        uasCalls[callID] = call
        let head = vias + common + headerLines(message, .to) + callIDLines + cseqLines + [contact]
        events.push(now + hop, .toProxy(.byeOK, crlf(["SIP/2.0 200 OK"] + head + ["Content-Length: 0"])))
    default:
        note("UAS got \(request.method.name)")
    }
}

@MainActor func deliver(_ now: UInt64) {
    for delivery in harness.deliveries {
        events.push(now + hop, .toEndpoint(delivery.to, delivery.bytes))
    }
    harness.deliveries.removeAll(keepingCapacity: true)
}

var nextTick = origin + tickInterval
var measuredIterations = 0

@MainActor func setMeasuring(_ on: Bool) {
    guard on != measuring else { return }
    if on {
        if underValgrind { sipbench_start_instrumentation() }
        measuring = true
    } else {
        measuring = false
        if underValgrind { sipbench_stop_instrumentation() }
    }
}

/// Runs the ticks due up to `time`, switching the measured window on and off on the way.
@MainActor func advance(to time: UInt64) {
    while nextTick <= time {
        setMeasuring(nextTick >= windowStart && nextTick < windowEnd)
        harness.tick(now: TransactionInstant(nanoseconds: nextTick))
        deliver(nextTick)
        nextTick += tickInterval
    }
    setMeasuring(time >= windowStart && time < windowEnd)
}

let startedAt = ContinuousClock.now
events.push(origin, .startCall(0))
while let event = events.pop() {
    advance(to: event.time)
    let now = event.time
    switch event.kind {
    case .startCall(let number):
        var call = UACCall(number: number)
        let invite = call.invite()
        uacCalls.append(call)
        events.push(now, .toProxy(.invite, invite))
        if number + 1 < totalCalls { events.push(now + interval, .startCall(number + 1)) }
    case .sendBYE(let number):
        let bye = uacCalls[number].inDialog("BYE", cseq: 2, dialogRouting: options.dialogRouting)
        events.push(now, .toProxy(.bye, bye))
    case .toProxy(let kind, let bytes):
        harness.feed(kind, bytes, now: TransactionInstant(nanoseconds: now))
        deliver(now)
    case .toEndpoint(.uac, let bytes):
        uacReceived(bytes, at: now)
    case .toEndpoint(.uas, let bytes):
        uasReceived(bytes, at: now)
    }
}
setMeasuring(false)
let elapsed = ContinuousClock.now - startedAt

// MARK: - Verdict

var failed: [Int] = []
for call in uacCalls {
    let uas = uasCalls[call.callID]
    let complete =
        call.gotInviteOK && call.gotByeOK && uas?.gotInvite == true && uas?.gotACK == true && uas?.gotBYE == true
    if !complete { failed.append(call.number) }
}
let counters = harness.proxy.counters
let snapshot = harness.proxy.snapshot(now: TransactionInstant(nanoseconds: nextTick))
if !options.quiet {
    print(
        "sipbench: \(options.calls) measured calls after \(options.warmup) warm-up (+\(cooldown) cool-down), "
            + "\(options.rate) calls/s, hold \(options.holdMilliseconds) ms, mode \(options.dialogRouting ? "dialog" : "sipp")"
    )
    print(
        "  simulated \(Double(nextTick - origin) / 1e9) s; measured window \(Double(windowStart - origin) / 1e9) s"
            + " to \(Double(windowEnd - origin) / 1e9) s; wall \(elapsed)" + (underValgrind ? " (under valgrind)" : ""))
    print("  fed: " + MessageKind.allCases.map { "\($0.rawValue) \(harness.feeds[$0, default: 0])" }.joined(separator: ", ")
        + "; ticks \(harness.ticks), timeout runs \(harness.timeoutRuns)")
    print(
        "  proxy: requests \(counters.requestsReceived) in / \(counters.requestsForwarded) forwarded, responses "
            + "\(counters.responsesReceived) in / \(counters.responsesForwarded) forwarded, local \(counters.localResponses), "
            + "absorbed \(counters.retransmissionsAbsorbed), dropped \(counters.dropped), malformed \(counters.malformed)")
    print(
        "  UAC saw: 100 in \(uacCalls.filter(\.got100).count) calls, 180 in \(uacCalls.filter(\.got180).count), "
            + "200/INVITE in \(uacCalls.filter(\.gotInviteOK).count), 200/BYE in \(uacCalls.filter(\.gotByeOK).count)")
    print(
        "  proxy at end: \(snapshot.serverTransactions) server and \(snapshot.clientTransactions) client transactions")
}
var problems: [String] = []
if !failed.isEmpty {
    problems.append("\(failed.count) of \(uacCalls.count) calls failed (first: \(failed.prefix(5).map(String.init).joined(separator: ", ")))")
}
if !unexpected.isEmpty { problems.append("\(unexpected.count) unexpected messages: " + unexpected.filter { !$0.isEmpty }.prefix(5).joined(separator: " | ")) }
if harness.strayDestinations > 0 { problems.append("\(harness.strayDestinations) messages sent to neither endpoint") }
if counters.requestsReceived != 3 * totalCalls || counters.responsesReceived != 3 * totalCalls {
    problems.append("proxy received \(counters.requestsReceived) requests and \(counters.responsesReceived) responses, expected \(3 * totalCalls) each")
}
if !problems.isEmpty {
    for problem in problems { print("sipbench: FAIL: \(problem)") }
    exit(1)
}
print("sipbench: OK: \(uacCalls.count) calls completed; measured calls: \(options.calls)")
