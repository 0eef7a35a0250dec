import CDatagramBatch
import NIOConcurrencyHelpers
import STUN
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Receives what a `DatagramLoop` reads. Called on the loop's thread only.
public protocol DatagramReceiver: AnyObject {
    /// One datagram read from `socket`; `payload` is valid only during the call.
    func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket)
    /// Every `tickInterval` of the loop, on a steady clock (timerfd(2)).
    func tick()
}

/// A socket of the loop, named by its local address and what it carries, which decides how it
/// is read.
public enum DatagramSocket: Hashable, Sendable {
    /// A socket many peers share (a TURN listener): read in batches, with a large receive buffer.
    case listener(TransportAddress)
    /// A socket of one flow (a TURN relayed address, a bridge session or matrix port): mostly one
    /// datagram per wake-up, so read one at a time until it is busy.
    case flow(TransportAddress)
}

/// What a socket gets beyond binding.
public struct DatagramSocketOptions: Sendable {
    /// SO_REUSEADDR, for listeners and for multicast groups that other programs also receive.
    public var reuseAddress = false
    /// The DSCP of every datagram sent: the upper six bits of the IPv4 TOS byte or the IPv6
    /// traffic class (RFC 2474 §3). Nil leaves the kernel's default (0).
    public var dscp: Int?
    /// The TTL or hop limit of multicast datagrams sent.
    public var multicastHops: Int?
    /// Joins the bound address as a multicast group (on the interface the routing table picks).
    public var joinGroup = false
    /// Sends leave by a twin of the socket, bound to the same address (SO_REUSEPORT, with a
    /// reuseport program that hands every arriving datagram to the socket the loop reads),
    /// that is not in epoll. The kernel frees a sent datagram's buffer against its socket, and
    /// when that socket has a waiter, which every socket in epoll has, it wakes the waiter's
    /// queue for write space: a spin lock and epoll's callback per datagram, about 3 % of the
    /// TURN relay's CPU. The twin has no waiter. The port stays closed to other programs' plain
    /// sockets; a socket of the same user that also asks for SO_REUSEPORT could still join it
    /// (the kernel's rule), e.g. a second server of the same user on the same ports, which would
    /// then get none of the port's datagrams. The loop itself never opens one name twice.
    public var sendsFromTwin = false
    /// With `sendsFromTwin`, the datagrams the socket sends itself before its twin opens (and
    /// sends the rest): a socket that may never carry traffic (a TURN relayed address,
    /// allocated and released unused) is spared the twin's system calls until it has shown it
    /// will. 0 opens the twin with the socket.
    public var twinAfterSends = 0

    public init(
        reuseAddress: Bool = false, dscp: Int? = nil, multicastHops: Int? = nil, joinGroup: Bool = false,
        sendsFromTwin: Bool = false, twinAfterSends: Int = 0
    ) {
        self.reuseAddress = reuseAddress
        self.dscp = dscp
        self.multicastHops = multicastHops
        self.joinGroup = joinGroup
        self.sendsFromTwin = sendsFromTwin
        self.twinAfterSends = twinAfterSends
    }
}

/// A UDP data plane: one thread, epoll(7), and recvmmsg(2)/sendmmsg(2) over buffers allocated
/// once, so a datagram in or out costs no allocation and a burst of datagrams costs one system
/// call each way, not one per datagram (coturn and rtpengine drive their sockets the same way),
/// and datagrams queued back to back for one destination leave as one segmented send.
/// The TURN server relays on one; the bridge carries panels and matrix ports on one, paced by
/// its tick.
///
/// Everything that touches the sockets or the receiver runs on this thread; other threads
/// hand it work with `execute`, which wakes it through an eventfd.
public final class DatagramLoop: @unchecked Sendable {
    /// Datagrams read per recvmmsg(2) call.
    static let batchCount = 32
    /// Room for any UDP datagram (IPv4 or IPv6, 64 KiB less headers): nothing is truncated.
    static let slotCapacity = 65_536
    /// Distance between two receive slots: a slot's room and 17 cache lines more. Slots 64 KiB
    /// apart would all begin in the same cache set (a set holds a few lines), so reading one
    /// batch would evict the last; an odd number of lines between them spreads them over all.
    static let receiveStride = slotCapacity + 17 * 64
    /// Datagrams queued before a sendmmsg(2) flush.
    static let sendCapacity = 64
    /// Receive buffer asked for on client-facing listeners (the kernel caps it at
    /// net.core.rmem_max): every client shares the one socket, so a burst while the thread is
    /// busy or descheduled must fit (coturn gives each client a socket, and a buffer, of its own).
    static let listenerReceiveBuffer: CInt = 4 << 20

    private let poll: CInt
    private let wake: CInt
    /// A timerfd(2) firing every `tickInterval`: a steady clock, not epoll_wait's millisecond
    /// timeout (which rounds up and drifts by the time spent between waits).
    private let timer: CInt
    /// Nanoseconds between the receiver's ticks.
    public let tickInterval: UInt64
    // The state marked `@exclusivity(unchecked)` is used on the loop's thread only, and no
    // access to it is open across a call to the receiver: the runtime's exclusivity check (a
    // call, and a thread-local lookup, per access, about 1 % of the TURN relay's CPU) would
    // only ever pass.

    /// What each descriptor is for, indexed by descriptor: the loop looks it up for every read.
    @exclusivity(unchecked) private var sockets: [Entry?] = []
    @exclusivity(unchecked) private var descriptors: [DatagramSocket: Descriptors] = [:]
    /// Sockets sent from lately, with their sending descriptors, by the low bits of their port
    /// (a direct-mapped cache): most sends toward clients leave by the one listener, and a
    /// TURN server hands its relay ports out in sequence, so the socket of a send is found by
    /// comparing its name rather than hashing it into `descriptors`.
    private let senders: UnsafeMutablePointer<(socket: DatagramSocket, descriptor: CInt)?>
    private static let senderSlots = 256
    /// epoll_wait(2) rounds so far; a socket read in the round before is busy (see `receive`).
    @exclusivity(unchecked) private var round: UInt32 = 0
    /// CLOCK_MONOTONIC nanoseconds when the current round's wait returned: the time of every
    /// datagram of the round, read once rather than per datagram (a vDSO call each).
    public var roundTime: UInt64 { roundStart }
    /// `roundTime`'s storage: a stored property read from another module is checked there,
    /// whatever its attribute says; the getter keeps the read in this one.
    @exclusivity(unchecked) private var roundStart: UInt64 = DatagramLoop.monotonicNanoseconds()

    /// The socket the loop reads, and the one it sends from: the same, or the reader's twin
    /// (`DatagramSocketOptions.sendsFromTwin`).
    private struct Descriptors {
        var reader: CInt
        var sender: CInt
    }

    private struct Entry {
        var socket: DatagramSocket
        /// The round in which it was last read.
        var lastRead: UInt32
        /// Sends left before the socket's twin opens, plus one (`twinAfterSends`); 0 when it
        /// has one, or will not.
        var sendsBeforeTwin: Int32 = 0
    }
    /// What the twin of a socket counting down to one binds with, by the socket's descriptor.
    private var pendingTwins: [CInt: (address: TransportAddress, options: DatagramSocketOptions)] = [:]
    private var thread: pthread_t?
    private let tasks = NIOLockedValueBox<[() -> Void]>([])
    /// Read once per round: an atomic load, not a lock taken and released.
    private let stopped = Atomic<Bool>(false)
    /// Held strongly until `stop()`, which lets it go: a weak reference would give the receiver
    /// a side table, and every retain and release of it, several per round, the runtime's slow
    /// path. (The owner of a loop stops it; a loop never stopped keeps its receiver alive.)
    public var receiver: (any DatagramReceiver)?

    // Receive side: `batchCount` slots, their iovecs, source addresses and message headers.
    private let receiveSlab: UnsafeMutableRawPointer
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let receiveSources: UnsafeMutablePointer<sockaddr_storage>
    private let receiveMessages: UnsafeMutablePointer<stagedoor_mmsghdr>
    private let events: UnsafeMutablePointer<epoll_event>
    private static let eventCapacity: Int32 = 64

    // Send side: a queue of datagrams (bytes copied into their slot), flushed per socket.
    private let sendSlab: UnsafeMutableRawPointer
    private let sendVectors: UnsafeMutablePointer<iovec>
    private let sendDestinations: UnsafeMutablePointer<sockaddr_storage>
    private let sendMessages: UnsafeMutablePointer<stagedoor_mmsghdr>
    private let sendDescriptors: UnsafeMutablePointer<CInt>
    @exclusivity(unchecked) private var queued = 0
    /// Where the next queued datagram goes in the send slab: datagrams are packed one after
    /// the other (each from a cache line of its own), so a batch of small ones touches a few
    /// pages, not one page and the same cache set each.
    @exclusivity(unchecked) private var sendCursor = 0
    /// One control buffer per queued message, for its UDP_SEGMENT ancillary data.
    private let sendControls: UnsafeMutableRawPointer
    private static let controlStride = 32
    /// Per queued message: the size of each datagram it carries when it carries several (UDP
    /// generic segmentation offload), else 0.
    private let sendSegmentSizes: UnsafeMutablePointer<Int>
    /// The last queued message, while datagrams to the same destination out of the same socket
    /// may still join it as segments: where it ends in the slab, how many it carries, and to
    /// whom it goes. Nil once one shorter than the first has joined (only the last may be).
    @exclusivity(unchecked) private var openRun: (destination: TransportAddress, end: Int, segments: Int)?
    /// Whether sends are segmented: true until the kernel refuses it with EIO or EINVAL (e.g.
    /// a device without checksum offload before Linux 6.11, an IPsec route, a socket without
    /// UDP checksums), then false for the loop's life: the datagrams go one by one as before.
    @exclusivity(unchecked) public private(set) var segmentsSends = true
    /// Datagrams that left as a segment of a larger send (after the first of each).
    @exclusivity(unchecked) public private(set) var segmentedDatagrams = 0
    /// At most this many datagrams per segmented send: UDP_MAX_SEGMENTS, 64 in every kernel
    /// that has UDP_SEGMENT (later ones allow 128).
    static let maxSegments = 64
    /// At most this many bytes per segmented send: the payload of one IPv4 datagram, with room.
    static let maxSegmentedBytes = 65_000
    /// Only datagrams up to this size are joined: the kernel refuses a segmented send whose
    /// segments, with their headers, exceed the path MTU (where it would have fragmented one
    /// datagram), and 1,232 bytes fit the smallest IPv6 MTU (1,280, RFC 8200 §5) with their
    /// IPv6 and UDP headers. Audio and video over RTP stay below it.
    static let maxSegmentSize = 1_232
    /// Room for `sendCapacity` datagrams of any size.
    static let sendSlabBytes = sendCapacity * slotCapacity

    /// Datagrams the kernel refused to take (a full socket buffer) and ones too big to queue.
    @exclusivity(unchecked) public private(set) var sendFailures = 0

    /// A loop whose receiver ticks every `tickInterval` nanoseconds (a second by default).
    public init(tickInterval: UInt64 = 1_000_000_000) throws {
        self.tickInterval = max(tickInterval, 100_000)
        poll = epoll_create1(CInt(EPOLL_CLOEXEC))
        wake = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        timer = stagedoor_timerfd_create()
        guard poll >= 0, wake >= 0, timer >= 0 else { throw DatagramLoopError.system("epoll/eventfd/timerfd", errno) }
        let batch = Self.batchCount
        receiveSlab = .allocate(byteCount: batch * Self.receiveStride, alignment: 64)
        receiveVectors = .allocate(capacity: batch)
        receiveSources = .allocate(capacity: batch)
        receiveMessages = .allocate(capacity: batch)
        events = .allocate(capacity: Int(Self.eventCapacity))
        let sends = Self.sendCapacity
        sendSlab = .allocate(byteCount: Self.sendSlabBytes, alignment: 64)
        sendVectors = .allocate(capacity: sends)
        sendDestinations = .allocate(capacity: sends)
        sendMessages = .allocate(capacity: sends)
        sendDescriptors = .allocate(capacity: sends)
        sendControls = .allocate(byteCount: sends * Self.controlStride, alignment: 16)
        sendSegmentSizes = .allocate(capacity: sends)
        senders = .allocate(capacity: Self.senderSlots)
        senders.initialize(repeating: nil, count: Self.senderSlots)
        for index in 0..<batch {
            receiveVectors[index] = iovec(
                iov_base: receiveSlab + index * Self.receiveStride, iov_len: Self.slotCapacity)
            // Set up once: a read only changes msg_namelen (reset after each use) and msg_len.
            receiveMessages[index].msg_hdr = msghdr(
                msg_name: UnsafeMutableRawPointer(receiveSources + index),
                msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size),
                msg_iov: receiveVectors + index, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            receiveMessages[index].msg_len = 0
        }
        for descriptor in [wake, timer] {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.fd = descriptor
            epoll_ctl(poll, EPOLL_CTL_ADD, descriptor, &event)
        }
        stagedoor_timerfd_every(timer, self.tickInterval)
    }

    deinit {
        for pair in descriptors.values {
            Glibc.close(pair.reader)
            if pair.sender != pair.reader { Glibc.close(pair.sender) }
        }
        Glibc.close(poll)
        Glibc.close(wake)
        Glibc.close(timer)
        receiveSlab.deallocate()
        receiveVectors.deallocate()
        receiveSources.deallocate()
        receiveMessages.deallocate()
        events.deallocate()
        sendSlab.deallocate()
        sendVectors.deallocate()
        sendDestinations.deallocate()
        sendMessages.deallocate()
        sendDescriptors.deallocate()
        sendControls.deallocate()
        sendSegmentSizes.deallocate()
        senders.deallocate()
    }

    // MARK: Thread

    /// Starts the loop's thread.
    public func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        pthread_create(
            &handle, nil,
            { context in
                let loop = Unmanaged<DatagramLoop>.fromOpaque(context!).takeRetainedValue()
                loop.run()
                return nil
            }, context)
        thread = handle
    }

    /// Stops the loop and waits for its thread; sockets are closed when the loop is freed.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        signalWake()
        if let thread { pthread_join(thread, nil) }
        thread = nil
        receiver = nil
    }

    /// Runs `task` on the loop's thread, soon.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLockedValue { $0.append(task) }
        signalWake()
    }

    /// Runs `task` on the loop's thread and returns what it returns.
    public func submit<Result: Sendable>(_ task: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            execute { continuation.resume(returning: task()) }
        }
    }

    private func signalWake() {
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    private func run() {
        while !stopped.load(ordering: .acquiring) {
            let ready = stagedoor_epoll_wait(poll, events, Self.eventCapacity, -1)
            roundStart = Self.monotonicNanoseconds()
            var ticked = false
            // Loaded once per round, not per datagram.
            let receiver = self.receiver
            if ready > 0 {
                round &+= 1
                for index in 0..<Int(ready) {
                    let descriptor = events[index].data.fd
                    if descriptor == wake {
                        var value: UInt64 = 0
                        _ = read(wake, &value, 8)
                        runTasks()
                    } else if descriptor == timer {
                        // Expirations missed while busy are not made up one by one: the
                        // receiver works from the time, not from the tick count.
                        var expirations: UInt64 = 0
                        _ = read(timer, &expirations, 8)
                        ticked = true
                    } else if let receiver, Int(descriptor) < sockets.count, let entry = sockets[Int(descriptor)] {
                        sockets[Int(descriptor)]!.lastRead = round
                        // A flow's socket carries one peer's datagrams, mostly one per
                        // wake-up: it is read one datagram at a time (a batch read would try,
                        // and fail, a second one each time) until it is busy, i.e. still ready
                        // in the round after it was read. Listeners are always read in batches.
                        let busy: Bool
                        switch entry.socket {
                        case .listener: busy = true
                        case .flow: busy = entry.lastRead &+ 1 == round
                        }
                        receive(from: descriptor, entry.socket, batch: busy ? Self.batchCount : 1, to: receiver)
                    }
                }
            }
            if ticked { receiver?.tick() }
            flush()
        }
        flush()
    }

    private func runTasks() {
        let pending = tasks.withLockedValue { tasks in
            defer { tasks.removeAll(keepingCapacity: true) }
            return tasks
        }
        for task in pending { task() }
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock the tick follows.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: Sockets

    /// Binds a non-blocking UDP socket to `address` and reads it; false when the address is
    /// taken or an option cannot be set. Relay ports are shared with no other socket
    /// (`reuseAddress` false; the twin of `sendsFromTwin` is the socket's own).
    public func open(_ socket: DatagramSocket, at address: TransportAddress, options: DatagramSocketOptions = .init())
        -> Bool
    {
        guard descriptors[socket] == nil,
            let reader = Self.bound(
                socket, at: address, options: options, reusePort: options.sendsFromTwin, joinGroup: options.joinGroup)
        else { return false }
        var sender = reader
        var twinAddress: TransportAddress?
        if options.sendsFromTwin {
            // The twin binds to the port the reader got (the address may have asked for 0).
            guard let boundAddress = address.port != 0 ? address : Self.localAddress(of: reader) else {
                Glibc.close(reader)
                return false
            }
            if options.twinAfterSends > 0 {
                twinAddress = boundAddress
            } else {
                guard let twin = Self.twin(of: reader, socket, at: boundAddress, options: options) else {
                    Glibc.close(reader)
                    return false
                }
                sender = twin
            }
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = reader
        guard epoll_ctl(poll, EPOLL_CTL_ADD, reader, &event) == 0 else {
            Glibc.close(reader)
            if sender != reader { Glibc.close(sender) }
            return false
        }
        if Int(reader) >= sockets.count {
            sockets.append(contentsOf: repeatElement(nil, count: Int(reader) + 1 - sockets.count))
        }
        sockets[Int(reader)] = Entry(socket: socket, lastRead: 0)
        if let twinAddress {
            // Counts down to 1, the send that opens the twin.
            sockets[Int(reader)]!.sendsBeforeTwin = Int32(clamping: options.twinAfterSends) &+ 1
            pendingTwins[reader] = (twinAddress, options)
        }
        descriptors[socket] = Descriptors(reader: reader, sender: sender)
        return true
    }

    /// Opens the twin of the socket read on `reader`, which has sent its `twinAfterSends`, and
    /// returns the descriptor its sends now leave by: the twin's, or the reader's if the twin
    /// cannot be had (e.g. no descriptors left; the socket then goes on as it was).
    private func openTwin(of socket: DatagramSocket, reader: CInt) -> CInt {
        sockets[Int(reader)]?.sendsBeforeTwin = 0
        guard let pending = pendingTwins.removeValue(forKey: reader),
            let twin = Self.twin(of: reader, socket, at: pending.address, options: pending.options)
        else { return reader }
        descriptors[socket]?.sender = twin
        senders[Self.senderSlot(of: socket)] = (socket, twin)
        return twin
    }

    /// A twin for `reader` (bound with SO_REUSEPORT to `address`), bound after the program
    /// that keeps every arriving datagram on the reader is in place, so none ever reaches the
    /// twin. The program is attached here rather than with the reader: each attach builds
    /// one, which a socket that never gets a twin need not pay for. Until then a socket of
    /// the same user asking for SO_REUSEPORT could join the port and take some of its
    /// datagrams; the stack's configuration keeps its own binds apart.
    private static func twin(
        of reader: CInt, _ socket: DatagramSocket, at address: TransportAddress, options: DatagramSocketOptions
    ) -> CInt? {
        guard stagedoor_reuseport_to_first(reader) == 0 else { return nil }
        return bound(socket, at: address, options: options, reusePort: true, joinGroup: false)
    }

    /// A non-blocking UDP socket with `options`, bound to `address`; nil when the address is
    /// taken or an option cannot be set.
    private static func bound(
        _ socket: DatagramSocket, at address: TransportAddress, options: DatagramSocketOptions, reusePort: Bool,
        joinGroup: Bool
    ) -> CInt? {
        let ipv6 = address.family == .ipv6
        let domain = ipv6 ? AF_INET6 : AF_INET
        let descriptor = Glibc.socket(
            domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        func set(_ level: CInt, _ name: CInt, _ value: CInt) -> Bool {
            var value = value
            return setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<CInt>.size)) == 0
        }
        var configured = true
        if options.reuseAddress { configured = configured && set(SOL_SOCKET, SO_REUSEADDR, 1) }
        if reusePort { configured = configured && set(SOL_SOCKET, SO_REUSEPORT, 1) }
        if case .listener = socket { _ = set(SOL_SOCKET, SO_RCVBUF, Self.listenerReceiveBuffer) }
        // An IPv6 socket serves IPv6 only; IPv4 has sockets of its own (RFC 6156).
        if ipv6 { configured = configured && set(CInt(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        if let dscp = options.dscp {
            configured =
                configured
                && (ipv6
                    ? set(CInt(IPPROTO_IPV6), IPV6_TCLASS, CInt(dscp << 2))
                    : set(CInt(IPPROTO_IP), IP_TOS, CInt(dscp << 2)))
        }
        if let hops = options.multicastHops {
            configured =
                configured
                && (ipv6
                    ? set(CInt(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, CInt(hops))
                    : set(CInt(IPPROTO_IP), IP_MULTICAST_TTL, CInt(hops)))
        }
        var storage = sockaddr_storage()
        let length = address.write(into: &storage)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, length) }
        }
        if joinGroup { configured = configured && Self.join(descriptor, group: address) }
        guard configured, bound == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        return descriptor
    }

    /// IP_ADD_MEMBERSHIP or IPV6_JOIN_GROUP on the interface the kernel routes the group to.
    private static func join(_ descriptor: CInt, group: TransportAddress) -> Bool {
        switch group.family {
        case .ipv4:
            var request = ip_mreq()
            withUnsafeMutableBytes(of: &request.imr_multiaddr) { target in
                group.host.withUnsafeBytes { target.copyBytes(from: $0) }
            }
            request.imr_interface.s_addr = 0
            return setsockopt(
                descriptor, CInt(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreq>.size)) == 0
        case .ipv6:
            var request = ipv6_mreq()
            withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { target in
                group.host.withUnsafeBytes { target.copyBytes(from: $0) }
            }
            request.ipv6mr_interface = 0
            return setsockopt(
                descriptor, CInt(IPPROTO_IPV6), IPV6_JOIN_GROUP, &request, socklen_t(MemoryLayout<ipv6_mreq>.size))
                == 0
        }
    }

    public func close(_ socket: DatagramSocket) {
        guard let pair = descriptors.removeValue(forKey: socket) else { return }
        let cacheSlot = Self.senderSlot(of: socket)
        if senders[cacheSlot]?.socket == socket { senders[cacheSlot] = nil }
        // Datagrams queued on this socket go out before it closes (its numbers may be reused at
        // once), those queued before its twin opened too; the others wait for the end of the
        // batch as usual.
        let queuedDescriptors = UnsafeBufferPointer(start: sendDescriptors, count: queued)
        if queuedDescriptors.contains(where: { $0 == pair.sender || $0 == pair.reader }) { flush() }
        pendingTwins[pair.reader] = nil
        sockets[Int(pair.reader)] = nil
        epoll_ctl(poll, EPOLL_CTL_DEL, pair.reader, nil)
        Glibc.close(pair.reader)
        if pair.sender != pair.reader { Glibc.close(pair.sender) }
    }

    public var openCount: Int { descriptors.count }

    /// The port the kernel chose when `address` asked for port 0.
    public func localPort(of socket: DatagramSocket) -> UInt16? {
        descriptors[socket].flatMap { Self.localAddress(of: $0.reader) }?.port
    }

    /// The address `descriptor` is bound to (getsockname(2)).
    private static func localAddress(of descriptor: CInt) -> TransportAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return TransportAddress(storage)
    }

    // MARK: Receiving

    /// Reads up to `batch` datagrams per recvmmsg(2) call, a few calls at most (then the other
    /// sockets get their turn; level-triggered epoll brings this one back).
    private func receive(
        from descriptor: CInt, _ socket: DatagramSocket, batch: Int, to receiver: any DatagramReceiver
    ) {
        if batch == 1 {
            receiveOne(from: descriptor, socket, to: receiver)
            return
        }
        for _ in 0..<4 {
            let count = stagedoor_recvmmsg(descriptor, receiveMessages, UInt32(batch), CInt(MSG_DONTWAIT))
            guard count > 0 else { return }
            for index in 0..<Int(count) {
                receiveMessages[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                guard let source = TransportAddress(pointer: receiveSources + index) else { continue }
                let payload = UnsafeRawBufferPointer(
                    start: receiveSlab + index * Self.receiveStride, count: Int(receiveMessages[index].msg_len))
                receiver.datagram(payload, from: source, on: socket)
            }
            guard count == batch else { return }
        }
    }

    /// Reads one datagram with recvfrom(2): the kernel then copies in no message header and
    /// no iovec, which for a flow socket's single read is a measurable part of the call.
    private func receiveOne(from descriptor: CInt, _ socket: DatagramSocket, to receiver: any DatagramReceiver) {
        var sourceLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let length = receiveSources.withMemoryRebound(to: sockaddr.self, capacity: 1) { source in
            stagedoor_recvfrom(descriptor, receiveSlab, Self.slotCapacity, CInt(MSG_DONTWAIT), source, &sourceLength)
        }
        guard length >= 0, let source = TransportAddress(pointer: receiveSources) else { return }
        receiver.datagram(UnsafeRawBufferPointer(start: receiveSlab, count: length), from: source, on: socket)
    }

    // MARK: Sending

    /// Queues one datagram out of `socket` to `destination`: `header` bytes (up to 4, big
    /// endian, e.g. a ChannelData header), then `payload`, then `padding` zero bytes. Sent at
    /// the latest when the loop finishes the current batch of reads.
    public func send(
        from socket: DatagramSocket, to destination: TransportAddress, header: UInt32? = nil,
        payload: UnsafeRawBufferPointer, padding: Int = 0
    ) {
        guard let header else {
            send(from: socket, to: destination, prefixLength: 0, payload: payload, padding: padding) { _ in }
            return
        }
        send(from: socket, to: destination, prefixLength: 4, payload: payload, padding: padding) { prefix in
            prefix.storeBytes(of: header.bigEndian, as: UInt32.self)
        }
    }

    /// Queues one datagram: `prefixLength` bytes that `writePrefix` writes in place (e.g. a Data
    /// indication's header), then `payload`, then `padding` zero bytes. Nothing is allocated:
    /// the datagram is assembled in its send slot.
    public func send(
        from socket: DatagramSocket, to destination: TransportAddress, prefixLength: Int,
        payload: UnsafeRawBufferPointer, padding: Int = 0, writePrefix: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        var descriptor: CInt
        let cacheSlot = Self.senderSlot(of: socket)
        if let cached = senders[cacheSlot], cached.socket == socket {
            descriptor = cached.descriptor
        } else {
            guard let found = descriptors[socket]?.sender else { return }
            descriptor = found
            senders[cacheSlot] = (socket, found)
        }
        // Only a socket that sends by itself is in `sockets` under its sending descriptor.
        if Int(descriptor) < sockets.count, let countdown = sockets[Int(descriptor)]?.sendsBeforeTwin, countdown > 0 {
            if countdown == 1 {
                descriptor = openTwin(of: socket, reader: descriptor)
            } else {
                sockets[Int(descriptor)]!.sendsBeforeTwin = countdown - 1
            }
        }
        let total = prefixLength + payload.count + padding
        guard total <= Self.slotCapacity else {
            sendFailures += 1
            return
        }
        // A datagram to the destination of the last queued message, out of the same socket,
        // no longer than that message's first (and after none shorter) and not empty (an
        // empty segment would vanish), joins it: the kernel
        // then builds, routes and hands on one buffer for all of them and cuts it into the
        // datagrams at the last moment (UDP_SEGMENT, udp(7)): at the device, or on loopback
        // at the receiving socket. The datagrams on the wire are the same.
        if let run = openRun, sendDescriptors[queued - 1] == descriptor, run.destination == destination {
            let last = queued - 1
            let first = sendSegmentSizes[last] == 0 ? sendVectors[last].iov_len : sendSegmentSizes[last]
            if total <= first, total > 0, first <= Self.maxSegmentSize, run.segments < Self.maxSegments,
                sendVectors[last].iov_len + total <= Self.maxSegmentedBytes, run.end + total <= Self.sendSlabBytes
            {
                assemble(
                    at: sendSlab + run.end, prefixLength: prefixLength, payload: payload, padding: padding, writePrefix)
                if run.segments == 1 {
                    sendSegmentSizes[last] = first
                    let control = sendControls + last * Self.controlStride
                    sendMessages[last].msg_hdr.msg_control = control
                    sendMessages[last].msg_hdr.msg_controllen = stagedoor_segment_control(control, UInt16(first))
                }
                sendVectors[last].iov_len += total
                sendCursor = (run.end + total + 63) & ~63
                openRun = total == first ? (destination, run.end + total, run.segments + 1) : nil
                return
            }
        }
        if queued == Self.sendCapacity || sendCursor + total > Self.sendSlabBytes { flush() }
        let slot = sendSlab + sendCursor
        assemble(at: slot, prefixLength: prefixLength, payload: payload, padding: padding, writePrefix)
        sendVectors[queued] = iovec(iov_base: slot, iov_len: total)
        sendSegmentSizes[queued] = 0
        let length = destination.write(into: &sendDestinations[queued])
        sendMessages[queued].msg_hdr = msghdr(
            msg_name: UnsafeMutableRawPointer(sendDestinations + queued), msg_namelen: length,
            msg_iov: sendVectors + queued, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
        sendDescriptors[queued] = descriptor
        queued += 1
        openRun = segmentsSends && !destination.isMulticast ? (destination, sendCursor + total, 1) : nil
        sendCursor += (total + 63) & ~63
    }

    /// Assembles one datagram at `slot`: the prefix `writePrefix` writes, `payload`, zeros.
    @inline(__always)
    private func assemble(
        at slot: UnsafeMutableRawPointer, prefixLength: Int, payload: UnsafeRawBufferPointer, padding: Int,
        _ writePrefix: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        if prefixLength > 0 { writePrefix(UnsafeMutableRawBufferPointer(start: slot, count: prefixLength)) }
        var offset = prefixLength
        if let base = payload.baseAddress, payload.count > 0 {
            (slot + offset).copyMemory(from: base, byteCount: payload.count)
        }
        offset += payload.count
        if padding > 0 { (slot + offset).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
    }

    private static func senderSlot(of socket: DatagramSocket) -> Int {
        switch socket {
        case .listener(let address), .flow(let address): Int(address.port) & (senderSlots - 1)
        }
    }

    /// Sends what is queued: one sendmmsg(2) per run of datagrams on the same socket. A socket
    /// whose buffer is full drops the rest of its run, as UDP may (counted).
    public func flush() {
        var start = 0
        while start < queued {
            let descriptor = sendDescriptors[start]
            var end = start + 1
            while end < queued, sendDescriptors[end] == descriptor { end += 1 }
            var next = start
            while next < end {
                let sent =
                    end - next == 1 && sendSegmentSizes[next] == 0
                    ? sendAlone(message: next, descriptor: descriptor)
                    : stagedoor_sendmmsg(descriptor, sendMessages + next, UInt32(end - next), CInt(MSG_DONTWAIT))
                if sent <= 0 {
                    let error = errno
                    if sent < 0, error == EINTR { continue }
                    let size = sendSegmentSizes[next]
                    if size == 0 {
                        // EAGAIN (full buffer) or an error for this destination (e.g. ICMP
                        // unreachable reported on a later send): skip one datagram, go on.
                        sendFailures += 1
                    } else if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
                        // No room for any of them now: all are dropped, as UDP may.
                        sendFailures += (sendVectors[next].iov_len + size - 1) / size
                    } else {
                        // The kernel would not segment: EIO or EINVAL say it never will
                        // here; another error (EMSGSIZE: a path MTU below the segments) may
                        // be this destination's only. Each datagram goes alone.
                        if error == EIO || error == EINVAL { segmentsSends = false }
                        sendOneByOne(message: next, descriptor: descriptor)
                    }
                    next += 1
                } else {
                    for index in next..<next + Int(sent) where sendSegmentSizes[index] > 0 {
                        let size = sendSegmentSizes[index]
                        segmentedDatagrams += (sendVectors[index].iov_len + size - 1) / size - 1
                    }
                    next += Int(sent)
                }
            }
            start = end
        }
        queued = 0
        sendCursor = 0
        openRun = nil
    }

    /// Sends message `index`, one datagram in one buffer, with sendto(2): 1 when sent, else -1
    /// and errno, as sendmmsg(2) of that one message would. A socket's only datagram of a
    /// round (each relay socket's, at voice loads) then costs the kernel no message header
    /// and no iovec to copy in.
    private func sendAlone(message index: Int, descriptor: CInt) -> CInt {
        let vector = sendVectors[index]
        return send(vector.iov_base!, count: vector.iov_len, toDestinationOf: index, from: descriptor) < 0 ? -1 : 1
    }

    /// sendto(2) of `count` bytes to message `index`'s destination.
    private func send(
        _ bytes: UnsafeMutableRawPointer, count: Int, toDestinationOf index: Int, from descriptor: CInt
    ) -> Int {
        let header = sendMessages[index].msg_hdr
        return stagedoor_sendto(
            descriptor, bytes, count, CInt(MSG_DONTWAIT), header.msg_name?.assumingMemoryBound(to: sockaddr.self),
            header.msg_namelen)
    }

    /// Sends the datagrams of segmented message `index` one at a time with sendto(2), in order,
    /// to its destination: the fallback when the kernel refuses to segment it.
    private func sendOneByOne(message index: Int, descriptor: CInt) {
        let size = sendSegmentSizes[index]
        let whole = sendVectors[index]
        var offset = 0
        while offset < whole.iov_len {
            let sent = send(
                whole.iov_base! + offset, count: min(size, whole.iov_len - offset), toDestinationOf: index,
                from: descriptor)
            if sent < 0, errno == EINTR { continue }
            if sent < 0 { sendFailures += 1 }
            offset += size
        }
    }

}

public enum DatagramLoopError: Error, CustomStringConvertible {
    case system(String, CInt)
    public var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

extension TransportAddress {
    /// A multicast group (IPv4 224.0.0.0/4, RFC 5771; IPv6 ff00::/8, RFC 4291 §2.7): never
    /// sent segmented (its copies looped back to local members would need cutting too, which
    /// no test here covers).
    var isMulticast: Bool {
        switch family {
        case .ipv4: host.firstByte & 0xF0 == 0xE0
        case .ipv6: host.firstByte == 0xFF
        }
    }

    /// The address of a kernel socket address; nil for families other than IPv4 and IPv6.
    public init?(_ storage: sockaddr_storage) {
        var storage = storage
        self.init(pointer: &storage)
    }

    /// Reads the address in place (a read's source address, without copying the 128 bytes).
    public init?(pointer storage: UnsafePointer<sockaddr_storage>) {
        let raw = UnsafeRawPointer(storage)
        switch CInt(storage.pointee.ss_family) {
        case AF_INET:
            let v4 = raw.load(as: sockaddr_in.self)
            self.init(
                family: .ipv4, host: IPHost(ipv4Bits: v4.sin_addr.s_addr), port: UInt16(bigEndian: v4.sin_port))
        case AF_INET6:
            let v6 = raw.load(as: sockaddr_in6.self)
            let host = withUnsafeBytes(of: v6.sin6_addr) { bytes in
                IPHost(
                    ipv6High: bytes.loadUnaligned(as: UInt64.self),
                    low: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self.init(family: .ipv6, host: host, port: UInt16(bigEndian: v6.sin6_port))
        default:
            return nil
        }
    }

    /// Writes the kernel socket address into `storage`; returns its length.
    public func write(into storage: inout sockaddr_storage) -> socklen_t {
        switch family {
        case .ipv4:
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            raw.sin_addr.s_addr = host.ipv4Bits
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: raw, as: sockaddr_in.self) }
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6:
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            let words = host.ipv6Words
            withUnsafeMutableBytes(of: &raw.sin6_addr) { target in
                target.storeBytes(of: words.high, as: UInt64.self)
                target.storeBytes(of: words.low, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: raw, as: sockaddr_in6.self) }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }
}
