import DatagramIO
import STUN

/// The bridge's media: every panel session's socket and every matrix port's socket on one
/// `DatagramLoop` (epoll, recvmmsg/sendmmsg, buffers allocated once), and its tick every
/// millisecond that paces them all. Everything here runs on the loop's thread; other threads
/// reach it through `loop.execute` and `loop.submit`.
///
/// One thread carries every session: the work per panel is a fraction of a percent of a core
/// (see `scripts/bench-bridge-load`), and one clock for all ports keeps their packets in step.
final class MediaPlane: DatagramReceiver, @unchecked Sendable {
    let loop: DatagramLoop
    private var sessions: [DatagramSocket: BridgeSession] = [:]
    private var ports: [DatagramSocket: PortLink] = [:]
    /// The sessions in the order they are paced.
    private var paced: [BridgeSession] = []
    private var lastHousekeeping: UInt64 = 0
    /// Called on the loop's thread every `housekeepingInterval`: the service's reaper.
    var housekeeping: (@Sendable () -> Void)?
    static let tickInterval: UInt64 = 1_000_000
    static let housekeepingInterval: UInt64 = 100_000_000

    init() throws {
        loop = try DatagramLoop(tickInterval: Self.tickInterval)
        loop.receiver = self
    }

    // MARK: Sockets (on the loop's thread)

    /// Opens a port's socket; false when its address cannot be bound or the group joined.
    func open(_ link: PortLink) -> Bool {
        guard case .flow(let address) = link.socket, loop.open(link.socket, at: address, options: link.options) else {
            return false
        }
        ports[link.socket] = link
        return true
    }

    func close(_ link: PortLink) {
        guard ports[link.socket] === link else { return }
        ports[link.socket] = nil
        loop.close(link.socket)
    }

    /// Opens a session's socket and starts pacing it; false when the port is taken.
    func open(_ session: BridgeSession) -> Bool {
        guard case .flow(let address) = session.socket, loop.open(session.socket, at: address) else { return false }
        sessions[session.socket] = session
        paced.append(session)
        return true
    }

    /// Ends a session (DTLS close_notify, flushed) and closes its socket.
    func close(_ session: BridgeSession) {
        session.close(now: DatagramLoop.monotonicNanoseconds(), loop: loop)
        guard sessions[session.socket] === session else { return }
        sessions[session.socket] = nil
        paced.removeAll { $0 === session }
        loop.close(session.socket)
    }

    /// Runs every session's timers and hands `verdict` each session and whether it goes on
    /// (false: it is over). No array is made: this runs ten times a second. `verdict` must not
    /// open or close sessions synchronously (`BridgeService.remove` defers to `loop.execute`).
    func housekeeping(_ verdict: (BridgeSession, Bool) -> Void) {
        let now = DatagramLoop.monotonicNanoseconds()
        for session in paced { verdict(session, session.housekeeping(now: now, loop: loop)) }
    }

    // MARK: DatagramReceiver

    func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket) {
        let now = DatagramLoop.monotonicNanoseconds()
        if let session = sessions[socket] {
            session.receive(payload, from: source, now: now, loop: loop)
        } else if let link = ports[socket] {
            link.receive(payload, now: now)
        }
    }

    func tick() {
        let now = DatagramLoop.monotonicNanoseconds()
        for session in paced { session.pace(now: now, loop: loop) }
        if now &- lastHousekeeping >= Self.housekeepingInterval {
            lastHousekeeping = now
            housekeeping?()
        }
    }
}
