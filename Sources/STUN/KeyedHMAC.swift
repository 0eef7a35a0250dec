import Crypto

/// HMAC (RFC 2104) over swift-crypto's hash functions, compiled where it is used.
///
/// Crypto's own `HMAC<H>` is generic code of another module that is not inlinable: it runs
/// unspecialised, looking up type metadata and witness tables at run time, builds its padded keys
/// as arrays and walks `DataProtocol` regions for each update. A TURN request costs several MACs
/// (its MESSAGE-INTEGRITY, the response's, the REST password), and under perf that wrapper was
/// most of their cost. This is the same construction on the same hash implementations,
/// `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ message))` with `K` the key padded to the hash's block (hashed
/// first when longer), and it is checked against Crypto's `HMAC` and the RFC 2202 / RFC 4231
/// vectors.
///
/// A keyed value holds the two hash states after the padded key: copy it for each message (the
/// states are copied on write), so one key's padding is hashed once.
public struct KeyedHMAC<H: HashFunction> {
    @usableFromInline var inner: H
    @usableFromInline var outer: H

    @inlinable
    public init(key: UnsafeRawBufferPointer) {
        inner = H()
        outer = H()
        let block = H.blockByteCount
        withUnsafeTemporaryAllocation(byteCount: 2 * block, alignment: 8) { pads in
            let innerPad = UnsafeMutableRawBufferPointer(rebasing: pads[0..<block])
            let outerPad = UnsafeMutableRawBufferPointer(rebasing: pads[block...])
            innerPad.initializeMemory(as: UInt8.self, repeating: 0x36)
            outerPad.initializeMemory(as: UInt8.self, repeating: 0x5C)
            func mix(_ keyBytes: UnsafeRawBufferPointer) {
                for index in 0..<keyBytes.count {
                    innerPad[index] ^= keyBytes[index]
                    outerPad[index] ^= keyBytes[index]
                }
            }
            if key.count > block {
                var hash = H()
                hash.update(bufferPointer: key)
                Array(hash.finalize()).withUnsafeBytes(mix)
            } else {
                mix(key)
            }
            inner.update(bufferPointer: UnsafeRawBufferPointer(innerPad))
            outer.update(bufferPointer: UnsafeRawBufferPointer(outerPad))
        }
    }

    @inlinable
    public init(key: [UInt8]) {
        self = key.withUnsafeBytes { KeyedHMAC(key: $0) }
    }

    /// Adds message bytes (one or more calls, in order).
    @inlinable
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bufferPointer: bytes)
    }

    /// The MAC of the bytes added so far.
    @inlinable
    public func finalize() -> [UInt8] {
        var outer = self.outer
        Array(inner.finalize()).withUnsafeBytes { outer.update(bufferPointer: $0) }
        return Array(outer.finalize())
    }

    /// The MAC of `message` under `key`, in one call.
    @inlinable
    public static func authenticationCode(for message: UnsafeRawBufferPointer, key: [UInt8]) -> [UInt8] {
        var mac = KeyedHMAC(key: key)
        mac.update(message)
        return mac.finalize()
    }
}
