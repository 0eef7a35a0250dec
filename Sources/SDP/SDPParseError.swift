/// Why a session description was refused, with the 1-based line it was refused at (0 when the
/// whole text is at fault). Its `description` is fit for a WHIP `400 Bad Request` body.
public struct SDPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// No lines at all.
        case empty
        /// Longer than the parser's `maximumLength`.
        case tooLarge(limit: Int)
        /// Not UTF-8, a NUL, or a CR that does not end a line.
        case invalidCharacter
        /// Not `<type>=<value>` with a single lower-case letter type.
        case malformedLine
        /// A type letter RFC 8866 does not define: the description must be rejected (§5).
        case unknownType(Character)
        /// `v=`, `o=` and `s=` must come first, in that order; `r=` must follow `t=` (§5).
        case outOfOrder(Character)
        /// A line that may appear once appeared again.
        case duplicate(Character)
        /// A mandatory line (`v=`, `o=`, `s=`, `t=`) is absent.
        case missing(Character)
        /// `v=` other than 0 (§5.1).
        case unsupportedVersion
        case invalidOrigin
        case invalidConnection
        case invalidBandwidth
        case invalidTiming
        case invalidMedia
        /// An `a=` line whose name is not a token, or a typed attribute whose value is malformed.
        case invalidAttribute(String)
    }

    public var kind: Kind
    public var line: Int

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    public var description: String {
        let what: String =
            switch kind {
            case .empty: "empty session description"
            case .tooLarge(let limit): "session description longer than \(limit) bytes"
            case .invalidCharacter: "invalid character (NUL, stray CR or not UTF-8)"
            case .malformedLine: "line is not <type>=<value>"
            case .unknownType(let type): "unknown line type '\(type)'"
            case .outOfOrder(let type): "'\(type)=' line out of order"
            case .duplicate(let type): "more than one '\(type)=' line"
            case .missing(let type): "missing '\(type)=' line"
            case .unsupportedVersion: "unsupported SDP version (v= must be 0)"
            case .invalidOrigin: "malformed o= line"
            case .invalidConnection: "malformed c= line"
            case .invalidBandwidth: "malformed b= line"
            case .invalidTiming: "malformed t= line"
            case .invalidMedia: "malformed m= line"
            case .invalidAttribute(let name): "malformed a=\(name) attribute"
            }
        return line > 0 ? "SDP line \(line): \(what)" : "SDP: \(what)"
    }
}
