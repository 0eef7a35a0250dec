/// Escaping of URI components (RFC 3261 §19.1.2, §25.1 `escaped`): `%HH` for any octet outside the
/// characters a component allows.
public enum URIEscaping {
    /// The URI components, each with the characters it may carry unescaped (§25.1).
    public enum Component: Sendable {
        /// `user`: unreserved / user-unreserved (`& = + $ , ; ? /`).
        case user
        /// `password`: unreserved / `& = + $ ,`.
        case password
        /// `paramchar`: unreserved / param-unreserved (`[ ] / : & + $`).
        case parameter
        /// `hname` / `hvalue`: unreserved / hnv-unreserved (`[ ] / ? : + $`).
        case header

        var mask: ByteSet {
            switch self {
            case .user: ByteClass.unreserved | ByteClass.userExtra
            case .password: ByteClass.unreserved | ByteClass.passwordExtra
            case .parameter: ByteClass.unreserved | ByteClass.paramExtra
            case .header: ByteClass.unreserved | ByteClass.headerExtra
            }
        }
    }

    /// `text` with every octet the component does not allow written as `%HH` (uppercase hex).
    public static func escaped(_ text: String, for component: Component) -> String {
        let mask = component.mask
        // Nothing to escape (the usual case): the text as it is, with no copy.
        if text.utf8.allSatisfy({ ByteClass.test($0, mask) }) { return text }
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if ByteClass.test(byte, mask) {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The octets of `text` with each well-formed `%HH` replaced by its octet (a `%` not followed by two
    /// hex digits is kept, RFC 4475 `esc02`).
    public static func unescapedBytes(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = ByteClass.hexValue(bytes[index + 1]), let low = ByteClass.hexValue(bytes[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }

    /// `unescapedBytes` as text (invalid UTF-8 replaced by U+FFFD; NUL kept, RFC 4475 `escnull`).
    public static func unescaped(_ text: String) -> String {
        // Without a `%` there is nothing to unescape, and `text` is valid UTF-8 already.
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        return String(decoding: unescapedBytes(text), as: UTF8.self)
    }
}
