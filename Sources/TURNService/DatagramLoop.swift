import CDatagramBatch
import NIOConcurrencyHelpers
import STUN

#if canImport(Glibc)
    import Glibc
#endif

/// Receives what a `DatagramLoop` reads. Called on the loop's thread only.
protocol DatagramReceiver: AnyObject {
    /// One datagram read from `socket`; `payload` is valid only during the call.
    func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket)
    /// Once a second, and when the loop has nothing else to do for that long.
    func tick()
}

/// What a socket of the loop is for: a client-facing listener or a relayed address.
enum DatagramSocket: Hashable {
    case listener(TransportAddress)
    case relay(TransportAddress)
}

/// The UDP data plane of the TURN server: one thread, epoll(7), and recvmmsg(2)/sendmmsg(2)
/// over buffers allocated once, so relaying a datagram costs no allocation and a burst of
/// datagrams costs one system call each way, not one per datagram (coturn and rtpengine
/// drive their sockets the same way).
///
/// Everything that touches the sockets or the receiver runs on this thread; other threads
/// hand it work with `execute`, which wakes it through an eventfd.
final class DatagramLoop: @unchecked Sendable {
    /// Datagrams read per recvmmsg(2) call.
    static let batchCount = 32
    /// Room for any UDP datagram (IPv4 or IPv6, 64 KiB less headers): nothing is truncated.
    static let slotCapacity = 65_536
    /// Datagrams queued before a sendmmsg(2) flush.
    static let sendCapacity = 64
    /// Receive buffer asked for on client-facing listeners (the kernel caps it at
    /// net.core.rmem_max): every client shares the one socket, so a burst while the thread is
    /// busy or descheduled must fit (coturn gives each client a socket, and a buffer, of its own).
    static let listenerReceiveBuffer: CInt = 4 << 20

    private let poll: CInt
    private let wake: CInt
    /// What each descriptor is for, indexed by descriptor: the loop looks it up for every read.
    private var sockets: [Entry?] = []
    private var descriptors: [DatagramSocket: CInt] = [:]
    /// epoll_wait(2) rounds so far; a socket read in the round before is busy (see `receive`).
    private var round: UInt32 = 0

    private struct Entry {
        var socket: DatagramSocket
        /// The round in which it was last read.
        var lastRead: UInt32
    }
    private var thread: pthread_t?
    private let tasks = NIOLockedValueBox<[() -> Void]>([])
    private let stopped = NIOLockedValueBox(false)
    weak var receiver: (any DatagramReceiver)?

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
    private var queued = 0

    /// Datagrams the kernel refused to take (a full socket buffer) and ones too big to queue.
    private(set) var sendFailures = 0

    init() throws {
        poll = epoll_create1(CInt(EPOLL_CLOEXEC))
        wake = eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC))
        guard poll >= 0, wake >= 0 else { throw DatagramLoopError.system("epoll/eventfd", errno) }
        let batch = Self.batchCount
        receiveSlab = .allocate(byteCount: batch * Self.slotCapacity, alignment: 16)
        receiveVectors = .allocate(capacity: batch)
        receiveSources = .allocate(capacity: batch)
        receiveMessages = .allocate(capacity: batch)
        events = .allocate(capacity: Int(Self.eventCapacity))
        let sends = Self.sendCapacity
        sendSlab = .allocate(byteCount: sends * Self.slotCapacity, alignment: 16)
        sendVectors = .allocate(capacity: sends)
        sendDestinations = .allocate(capacity: sends)
        sendMessages = .allocate(capacity: sends)
        sendDescriptors = .allocate(capacity: sends)
        for index in 0..<batch {
            receiveVectors[index] = iovec(
                iov_base: receiveSlab + index * Self.slotCapacity, iov_len: Self.slotCapacity)
            // Set up once: a read only changes msg_namelen (reset after each use) and msg_len.
            receiveMessages[index].msg_hdr = msghdr(
                msg_name: UnsafeMutableRawPointer(receiveSources + index),
                msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size),
                msg_iov: receiveVectors + index, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            receiveMessages[index].msg_len = 0
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wake
        epoll_ctl(poll, EPOLL_CTL_ADD, wake, &event)
    }

    deinit {
        for descriptor in descriptors.values { Glibc.close(descriptor) }
        Glibc.close(poll)
        Glibc.close(wake)
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
    }

    // MARK: Thread

    /// Starts the loop's thread.
    func start() {
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
    func stop() {
        stopped.withLockedValue { $0 = true }
        signalWake()
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    /// Runs `task` on the loop's thread, soon.
    func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLockedValue { $0.append(task) }
        signalWake()
    }

    /// Runs `task` on the loop's thread and returns what it returns.
    func submit<Result: Sendable>(_ task: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            execute { continuation.resume(returning: task()) }
        }
    }

    private func signalWake() {
        var one: UInt64 = 1
        _ = write(wake, &one, 8)
    }

    private func run() {
        var nextTick = Self.monotonicMilliseconds() + 1_000
        while !stopped.withLockedValue({ $0 }) {
            let wait = max(0, nextTick - Self.monotonicMilliseconds())
            let ready = epoll_wait(poll, events, Self.eventCapacity, Int32(clamping: wait))
            if ready > 0 {
                round &+= 1
                for index in 0..<Int(ready) {
                    let descriptor = events[index].data.fd
                    if descriptor == wake {
                        var value: UInt64 = 0
                        _ = read(wake, &value, 8)
                        runTasks()
                    } else if Int(descriptor) < sockets.count, let entry = sockets[Int(descriptor)] {
                        sockets[Int(descriptor)]!.lastRead = round
                        // A relay socket carries one peer's flow, mostly one datagram per
                        // wake-up: it is read one datagram at a time (a batch read would try,
                        // and fail, a second one each time) until it is busy, i.e. still ready
                        // in the round after it was read. Listeners are always read in batches.
                        let busy: Bool
                        switch entry.socket {
                        case .listener: busy = true
                        case .relay: busy = entry.lastRead &+ 1 == round
                        }
                        receive(from: descriptor, entry.socket, batch: busy ? Self.batchCount : 1)
                    }
                }
            }
            if Self.monotonicMilliseconds() >= nextTick {
                receiver?.tick()
                nextTick = Self.monotonicMilliseconds() + 1_000
            }
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

    private static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: Sockets

    /// Binds a non-blocking UDP socket to `address` and reads it; nil when the address is taken.
    /// `reuseAddress` is for listeners (a restart may find the old socket in TIME_WAIT-like
    /// states on some kernels); relay ports never share.
    func open(_ socket: DatagramSocket, at address: TransportAddress, reuseAddress: Bool = false) -> Bool {
        guard descriptors[socket] == nil else { return false }
        let domain = address.family == .ipv4 ? AF_INET : AF_INET6
        let descriptor = Glibc.socket(
            domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        var on: CInt = 1
        if reuseAddress {
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<CInt>.size))
        }
        if case .listener = socket {
            var size = Self.listenerReceiveBuffer
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        if address.family == .ipv6 {
            // An IPv6 socket serves IPv6 only; IPv4 has sockets of its own (RFC 6156).
            setsockopt(descriptor, CInt(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<CInt>.size))
        }
        var storage = sockaddr_storage()
        let length = address.write(into: &storage)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, length) }
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = descriptor
        guard bound == 0, epoll_ctl(poll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            Glibc.close(descriptor)
            return false
        }
        if Int(descriptor) >= sockets.count {
            sockets.append(contentsOf: repeatElement(nil, count: Int(descriptor) + 1 - sockets.count))
        }
        sockets[Int(descriptor)] = Entry(socket: socket, lastRead: 0)
        descriptors[socket] = descriptor
        return true
    }

    func close(_ socket: DatagramSocket) {
        guard let descriptor = descriptors.removeValue(forKey: socket) else { return }
        // Datagrams queued on this socket go out before it closes (its number may be reused at
        // once); the others wait for the end of the batch as usual.
        if UnsafeBufferPointer(start: sendDescriptors, count: queued).contains(descriptor) { flush() }
        sockets[Int(descriptor)] = nil
        epoll_ctl(poll, EPOLL_CTL_DEL, descriptor, nil)
        Glibc.close(descriptor)
    }

    var openCount: Int { descriptors.count }

    /// The port the kernel chose when `address` asked for port 0.
    func localPort(of socket: DatagramSocket) -> UInt16? {
        guard let descriptor = descriptors[socket] else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return TransportAddress(storage)?.port
    }

    // MARK: Receiving

    /// Reads up to `batch` datagrams per recvmmsg(2) call, a few calls at most (then the other
    /// sockets get their turn; level-triggered epoll brings this one back).
    private func receive(from descriptor: CInt, _ socket: DatagramSocket, batch: Int) {
        guard let receiver else { return }
        for _ in 0..<4 {
            let count = stagedoor_recvmmsg(descriptor, receiveMessages, UInt32(batch), CInt(MSG_DONTWAIT))
            guard count > 0 else { return }
            for index in 0..<Int(count) {
                receiveMessages[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                guard let source = TransportAddress(pointer: receiveSources + index) else { continue }
                let payload = UnsafeRawBufferPointer(
                    start: receiveSlab + index * Self.slotCapacity, count: Int(receiveMessages[index].msg_len))
                receiver.datagram(payload, from: source, on: socket)
            }
            guard batch > 1, count == batch else { return }
        }
    }

    // MARK: Sending

    /// Queues one datagram out of `socket` to `destination`: `header` bytes (up to 4, big
    /// endian, e.g. a ChannelData header), then `payload`, then `padding` zero bytes. Sent at
    /// the latest when the loop finishes the current batch of reads.
    func send(
        from socket: DatagramSocket, to destination: TransportAddress, header: UInt32? = nil,
        payload: UnsafeRawBufferPointer, padding: Int = 0
    ) {
        guard let descriptor = descriptors[socket] else { return }
        let total = (header == nil ? 0 : 4) + payload.count + padding
        guard total <= Self.slotCapacity else {
            sendFailures += 1
            return
        }
        if queued == Self.sendCapacity { flush() }
        let slot = sendSlab + queued * Self.slotCapacity
        var offset = 0
        if let header {
            slot.storeBytes(of: header.bigEndian, as: UInt32.self)
            offset = 4
        }
        if let base = payload.baseAddress, payload.count > 0 {
            (slot + offset).copyMemory(from: base, byteCount: payload.count)
        }
        offset += payload.count
        if padding > 0 { (slot + offset).initializeMemory(as: UInt8.self, repeating: 0, count: padding) }
        sendVectors[queued] = iovec(iov_base: slot, iov_len: total)
        let length = destination.write(into: &sendDestinations[queued])
        sendMessages[queued].msg_hdr = msghdr(
            msg_name: UnsafeMutableRawPointer(sendDestinations + queued), msg_namelen: length,
            msg_iov: sendVectors + queued, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
        sendDescriptors[queued] = descriptor
        queued += 1
    }

    /// Sends what is queued: one sendmmsg(2) per run of datagrams on the same socket. A socket
    /// whose buffer is full drops the rest of its run, as UDP may (counted).
    func flush() {
        var start = 0
        while start < queued {
            let descriptor = sendDescriptors[start]
            var end = start + 1
            while end < queued, sendDescriptors[end] == descriptor { end += 1 }
            var next = start
            while next < end {
                let sent = stagedoor_sendmmsg(descriptor, sendMessages + next, UInt32(end - next), CInt(MSG_DONTWAIT))
                if sent <= 0 {
                    if sent < 0, errno == EINTR { continue }
                    // EAGAIN (full buffer) or an error for this destination (e.g. ICMP
                    // unreachable reported on a later send): skip one datagram, go on.
                    sendFailures += 1
                    next += 1
                } else {
                    next += Int(sent)
                }
            }
            start = end
        }
        queued = 0
    }
}

enum DatagramLoopError: Error, CustomStringConvertible {
    case system(String, CInt)
    var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

extension TransportAddress {
    /// The address of a kernel socket address; nil for families other than IPv4 and IPv6.
    init?(_ storage: sockaddr_storage) {
        var storage = storage
        self.init(pointer: &storage)
    }

    /// Reads the address in place (a read's source address, without copying the 128 bytes).
    init?(pointer storage: UnsafePointer<sockaddr_storage>) {
        let raw = UnsafeRawPointer(storage)
        switch CInt(storage.pointee.ss_family) {
        case AF_INET:
            let v4 = raw.load(as: sockaddr_in.self)
            self.init(
                family: .ipv4, host: withUnsafeBytes(of: v4.sin_addr) { IPHost(rawBytes: $0) },
                port: UInt16(bigEndian: v4.sin_port))
        case AF_INET6:
            let v6 = raw.load(as: sockaddr_in6.self)
            self.init(
                family: .ipv6, host: withUnsafeBytes(of: v6.sin6_addr) { IPHost(rawBytes: $0) },
                port: UInt16(bigEndian: v6.sin6_port))
        default:
            return nil
        }
    }

    /// Writes the kernel socket address into `storage`; returns its length.
    func write(into storage: inout sockaddr_storage) -> socklen_t {
        switch family {
        case .ipv4:
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin_addr) { target in host.withUnsafeBytes { target.copyBytes(from: $0) } }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: raw, as: sockaddr_in.self) }
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        case .ipv6:
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin6_addr) { target in host.withUnsafeBytes { target.copyBytes(from: $0) } }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: raw, as: sockaddr_in6.self) }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }
}
