import Foundation

/// The one control protocol every Stagedoor Unix socket speaks: JSON-RPC 2.0, one JSON object
/// per line (newline-delimited), one request and one response per exchange.
///
/// Methods every daemon answers: `status`, `reload`, `stop`, `metrics`.
public struct ControlRequest: Sendable, Equatable, Codable {
    public var jsonrpc: String
    public var id: JSONValue?
    public var method: String
    public var params: JSONValue?

    public init(id: JSONValue? = 1, method: String, params: JSONValue? = nil) {
        self.jsonrpc = "2.0"
        self.id = id
        self.method = method
        self.params = params
    }
}

/// A JSON-RPC 2.0 error object (§5.1).
public struct ControlFailure: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "\(message) (\(code))" }

    // The codes JSON-RPC 2.0 reserves (§5.1).
    public static func parseError(_ detail: String) -> ControlFailure {
        ControlFailure(code: -32_700, message: "parse error: \(detail)")
    }
    public static func invalidRequest(_ detail: String) -> ControlFailure {
        ControlFailure(code: -32_600, message: "invalid request: \(detail)")
    }
    public static func methodNotFound(_ method: String, available: [String]) -> ControlFailure {
        ControlFailure(
            code: -32_601, message: "method not found: \(method)",
            data: ["available": .array(available.map(JSONValue.string))])
    }
    public static func invalidParams(_ detail: String) -> ControlFailure {
        ControlFailure(code: -32_602, message: "invalid params: \(detail)")
    }
    public static func internalError(_ detail: String) -> ControlFailure {
        ControlFailure(code: -32_603, message: "internal error: \(detail)")
    }
    /// Stagedoor's own: the configuration given to `reload` does not validate.
    public static func invalidConfiguration(_ detail: String) -> ControlFailure {
        ControlFailure(code: -32_001, message: "invalid configuration", data: .string(detail))
    }
}

public struct ControlResponse: Sendable, Equatable, Codable {
    public var jsonrpc: String
    public var id: JSONValue
    public var result: JSONValue?
    public var error: ControlFailure?

    public init(id: JSONValue, result: JSONValue) {
        self.jsonrpc = "2.0"
        self.id = id
        self.result = result
        self.error = nil
    }

    public init(id: JSONValue, error: ControlFailure) {
        self.jsonrpc = "2.0"
        self.id = id
        self.result = nil
        self.error = error
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jsonrpc, forKey: .jsonrpc)
        try container.encode(id, forKey: .id)
        if let error {
            try container.encode(error, forKey: .error)
        } else {
            try container.encode(result ?? .null, forKey: .result)
        }
    }
}

/// Turns lines into messages and back; pure, so the framing is tested without sockets.
public enum ControlCodec {
    /// The longest line accepted: control messages are small; a peer that sends more is cut off.
    public static let maximumLineLength = 1 << 20

    /// Decodes one request line, or the error response JSON-RPC 2.0 prescribes for it.
    public static func decodeRequest(_ line: some Collection<UInt8>) -> Result<ControlRequest, ControlFailure> {
        let data = Data(line)
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            return .failure(.parseError("not a JSON value"))
        }
        guard case .object(let object) = value else {
            return .failure(.invalidRequest("expected a JSON object"))
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return .failure(.invalidRequest("\"jsonrpc\" must be \"2.0\""))
        }
        guard let method = object["method"]?.stringValue else {
            return .failure(.invalidRequest("\"method\" must be a string"))
        }
        if let params = object["params"], params != .null {
            guard case .object = params else {
                return .failure(.invalidParams("\"params\" must be an object"))
            }
        }
        return .success(ControlRequest(id: object["id"] ?? .null, method: method, params: object["params"]))
    }

    /// The id a response to this line must carry, when the line is readable enough to have one.
    public static func requestID(_ line: some Collection<UInt8>) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(line)))?["id"] ?? .null
    }

    public static func encodeLine(_ message: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own Codable types into JSON cannot fail.
        var bytes = [UInt8]((try? encoder.encode(message)) ?? Data("null".utf8))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    public static func decodeResponse(_ line: some Collection<UInt8>) throws -> ControlResponse {
        try JSONDecoder().decode(ControlResponse.self, from: Data(line))
    }
}
