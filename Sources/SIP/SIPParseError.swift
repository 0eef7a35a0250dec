/// Why bytes are not an acceptable SIP message, URI or header value: what went wrong and, for a header,
/// which one. The text is fixed per kind and header name, never echoes input, so it is safe to put in
/// a 400 reason phrase (RFC 3261 §21.4.1) or a log.
public struct SIPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// Nothing but CRLFs (or nothing at all).
        case empty
        /// Larger than `MessageParser.Limits.maxMessageSize`.
        case messageTooLarge
        /// More header fields than `Limits.maxHeaderCount`.
        case tooManyHeaders
        /// A start line or (unfolded) header field longer than `Limits.maxLineLength`.
        case lineTooLong
        /// The start line is neither a Request-Line nor a Status-Line (§7.1, §7.2, §25.1): wrong spacing,
        /// missing element, bad method token.
        case invalidStartLine
        /// A well-formed SIP-Version other than 2.0: answered with 505 (§21.5.6).
        case unsupportedVersion
        /// The Request-URI is malformed, bracketed, or carries URI headers, which §19.1.1 forbids there.
        case invalidRequestURI
        /// The Status-Code is not three digits in 100...699 (§7.2).
        case invalidStatusCode
        /// A header line without a colon or with a name that is not a token (§7.3.1).
        case invalidHeaderName
        /// A line beginning with whitespace before any header field: folding with nothing to continue.
        case misplacedContinuation
        /// The header named in `header` does not follow its grammar.
        case malformedHeader
        /// A header every request or response must carry (§8.1.1) is absent.
        case missingHeader
        /// A header that may appear once appears more than once (§7.3.1, RFC 4475 `multi01`, `mcl01`).
        case duplicateHeader
        /// Content-Length is not a number or larger than the limits allow (§20.14, RFC 4475 `ncl`).
        case invalidContentLength
        /// The body is shorter than Content-Length says (§18.3, RFC 4475 `clerr`).
        case bodyShorterThanContentLength
        /// The CSeq method differs from the Request-Line method (§8.1.1.5, RFC 4475 `mismatch01`).
        case cseqMethodMismatch
        /// A URI given on its own does not parse (§19.1, §25.1).
        case invalidURI
    }

    public var kind: Kind
    /// The header concerned, for `malformedHeader`, `missingHeader`, `duplicateHeader`.
    public var header: SIPHeaderName?

    public init(_ kind: Kind, header: SIPHeaderName? = nil) {
        self.kind = kind
        self.header = header
    }

    /// The status a server answers a request that failed this way with: 505 for a version it does not
    /// support (§21.5.6), 513 for a message too large (§21.5.7), otherwise 400 (§21.4.1).
    public var responseStatus: SIPStatusCode {
        switch kind {
        case .unsupportedVersion: .versionNotSupported
        case .messageTooLarge: .messageTooLarge
        default: .badRequest
        }
    }

    /// A reason phrase for the error response, e.g. "Bad Request (Malformed Via)"; it names a header only by
    /// its canonical name, which is a token, so it never carries hostile bytes.
    public var reasonPhrase: String {
        let base = responseStatus.defaultReasonPhrase
        return "\(base) (\(description))"
    }

    public var description: String {
        let name = header.map { $0.isKnown ? $0.name : "extension header" } ?? "header"
        switch kind {
        case .empty: return "Empty message"
        case .messageTooLarge: return "Message too large"
        case .tooManyHeaders: return "Too many header fields"
        case .lineTooLong: return "Line too long"
        case .invalidStartLine: return "Malformed start line"
        case .unsupportedVersion: return "Unsupported SIP version"
        case .invalidRequestURI: return "Malformed Request-URI"
        case .invalidStatusCode: return "Malformed status code"
        case .invalidHeaderName: return "Malformed header field name"
        case .misplacedContinuation: return "Misplaced continuation line"
        case .malformedHeader: return "Malformed \(name)"
        case .missingHeader: return "Missing \(name)"
        case .duplicateHeader: return "Duplicate \(name)"
        case .invalidContentLength: return "Malformed Content-Length"
        case .bodyShorterThanContentLength: return "Body shorter than Content-Length"
        case .cseqMethodMismatch: return "CSeq method does not match"
        case .invalidURI: return "Malformed URI"
        }
    }
}
