import DatagramIO
import STUN
import TURN

/// Relayed transport addresses backed by real UDP sockets in the configured port range, read
/// and written by the `DatagramLoop`.
///
/// A socket is created and bound synchronously, on the loop's thread, so the core gets its
/// address at once, inside the Allocate it is answering.
final class RelaySocketPool: RelayAddressProvider {
    /// One bind address per family served (RFC 6156: IPv6 relays beside IPv4 ones).
    private let bindAddresses: [TransportAddress.Family: TransportAddress]
    private let ports: ClosedRange<UInt16>
    private let loop: DatagramLoop
    private var open: Set<TransportAddress> = []
    private var nextPort: UInt16

    init(bindAddresses: [TransportAddress], ports: ClosedRange<UInt16>, loop: DatagramLoop) {
        self.bindAddresses = Dictionary(bindAddresses.map { ($0.family, $0) }, uniquingKeysWith: { first, _ in first })
        self.ports = ports
        self.loop = loop
        // Start somewhere random so that restarts do not hand out the same ports in order.
        self.nextPort = UInt16.random(in: ports)
    }

    /// About a second of a voice stream's packets (50 per second) toward its peers.
    static let twinAfterSends = 64

    var openCount: Int { open.count }

    /// A family is served when the configuration gives it a bind address (`relay.address`,
    /// `relay.ipv6_address`).
    func serves(_ family: TransportAddress.Family) -> Bool {
        bindAddresses[family] != nil
    }

    func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    {
        guard let bindAddress = bindAddresses[family] else { return nil }
        for _ in 0..<ports.count {
            let port = nextPort
            nextPort = port == ports.upperBound ? ports.lowerBound : port + 1
            if evenPort || reserveNext, port % 2 != 0 { continue }
            guard let relayed = bind(port, on: bindAddress) else { continue }
            guard reserveNext else { return (relayed, nil) }
            guard port < ports.upperBound, let next = bind(port + 1, on: bindAddress) else {
                close(relayed)
                continue
            }
            return (relayed, next)
        }
        return nil
    }

    /// Binds a relay socket on `port`; nil when the port is taken.
    private func bind(_ port: UInt16, on bindAddress: TransportAddress) -> TransportAddress? {
        var candidate = bindAddress
        candidate.port = port
        // The send twin (see `DatagramSocketOptions.sendsFromTwin`) opens once the socket has
        // relayed `twinAfterSends` datagrams: opened with every socket, it cost each Allocate
        // a second socket's system calls (bench-turn's allocation phase, 1.10x coturn's CPU),
        // and many allocations never relay (a client gathers candidates it does not use).
        // The ports' SO_REUSEPORT would let another socket of the same user that asks for it
        // join them (and take some of their datagrams until the twin's program is in place):
        // the configuration keeps the relay range clear of every other bind of the stack, and
        // the package's user (_stagedoor) runs nothing else.
        let options = DatagramSocketOptions(sendsFromTwin: true, twinAfterSends: Self.twinAfterSends)
        guard !open.contains(candidate), loop.open(.flow(candidate), at: candidate, options: options) else {
            return nil
        }
        open.insert(candidate)
        return candidate
    }

    func close(_ relayed: TransportAddress) {
        guard open.remove(relayed) != nil else { return }
        loop.close(.flow(relayed))
    }

    func closeAll() {
        for relayed in Array(open) { close(relayed) }
    }
}
