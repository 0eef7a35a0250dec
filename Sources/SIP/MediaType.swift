/// A media type as in Content-Type (RFC 3261 §20.15, §25.1 `media-type`): `type/subtype;param=value`.
public struct MediaType: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var subtype: String
    public var parameters: [GenericParameter]

    public init(type: String, subtype: String, parameters: [GenericParameter] = []) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    /// `application/sdp` (RFC 3264), what offers and answers carry.
    public static let sdp = MediaType(type: "application", subtype: "sdp")

    /// Whether type and subtype match `other`'s, ignoring case and parameters.
    public func matches(_ other: MediaType) -> Bool {
        type.equalsIgnoringASCIICase(other.type) && subtype.equalsIgnoringASCIICase(other.subtype)
    }

    public var description: String { "\(type)/\(subtype)\(parameters.serialized)" }

    public init(parsing value: String) throws(SIPParseError) {
        let parsed: Result<MediaType, SIPParseError> = value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            let malformed = SIPParseError(.malformedHeader, header: .contentType)
            do throws(SIPParseError) {
                cursor.skipWhitespace()
                let type = cursor.readToken()
                cursor.skipWhitespace()
                guard !type.isEmpty, cursor.consume(UInt8(ascii: "/")) else { throw malformed }
                cursor.skipWhitespace()
                let subtype = cursor.readToken()
                guard !subtype.isEmpty else { throw malformed }
                let parameters = try GenericParameter.parseHeaderParameters(&cursor, header: .contentType)
                cursor.skipWhitespace()
                guard cursor.isAtEnd else { throw malformed }
                return .success(
                    MediaType(type: cursor.string(type), subtype: cursor.string(subtype), parameters: parameters))
            } catch {
                return .failure(error)
            }
        }
        self = try parsed.get()
    }
}
