/// Text assembled from pieces as UTF-8 bytes and made into one `String` at the end.
///
/// `String +=` costs about 150 instructions a piece (capacity and UTF-8 flag checks, the upgrade of a
/// small string to a heap one); copying a piece's bytes into a reserved array costs a fraction of
/// that. A proxy writes a Via, and often a Record-Route URI, for every request it forwards, so the
/// `description` of those values is built here.
struct TextBuilder {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append(_ text: String) {
        appendUTF8(text, to: &bytes)
    }

    /// `number` in decimal.
    mutating func append(decimal number: UInt16) {
        var divisor: UInt16 = 10_000
        var started = false
        while divisor > 0 {
            let digit = number / divisor % 10
            if digit != 0 || started || divisor == 1 {
                bytes.append(UInt8(ascii: "0") + UInt8(digit))
                started = true
            }
            divisor /= 10
        }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Runs `body` on a builder that writes at the end of `bytes`: the array is moved in and back out
    /// (`swap`), so nothing is copied, and a value written while serializing needs no `String` of its own.
    static func appending(to bytes: inout [UInt8], _ body: (inout TextBuilder) -> Void) {
        var builder = TextBuilder(capacity: 0)
        swap(&builder.bytes, &bytes)
        body(&builder)
        swap(&builder.bytes, &bytes)
    }
}
