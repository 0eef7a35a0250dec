/// A SIP request (RFC 3261 §7.1): Request-Line, header fields, body.
public struct SIPRequest: Hashable, Sendable {
    public var method: SIPMethod
    /// The Request-URI (§8.1.1.1): a SIP/SIPS URI or, for schemes a proxy may reject with 416, any
    /// absoluteURI.
    public var uri: AddressURI
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(method: SIPMethod, uri: AddressURI, headers: SIPHeaders = [], body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    public init(method: SIPMethod, uri: SIPURI, headers: SIPHeaders = [], body: [UInt8] = []) {
        self.init(method: method, uri: .sip(uri), headers: headers, body: body)
    }
}

/// A SIP response (RFC 3261 §7.2): Status-Line, header fields, body.
public struct SIPResponse: Hashable, Sendable {
    public var statusCode: SIPStatusCode
    /// Free text (§21), UTF-8; may be empty (RFC 4475 `noreason`).
    public var reasonPhrase: String
    public var headers: SIPHeaders
    public var body: [UInt8]

    public init(statusCode: SIPStatusCode, reasonPhrase: String? = nil, headers: SIPHeaders = [], body: [UInt8] = []) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? statusCode.defaultReasonPhrase
        self.headers = headers
        self.body = body
    }
}

/// A request or a response (RFC 3261 §7).
public enum SIPMessage: Hashable, Sendable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        get {
            switch self {
            case .request(let request): request.headers
            case .response(let response): response.headers
            }
        }
        set {
            // Consumed, not copied: the payload's arrays stay unshared for the write.
            switch consume self {
            case .request(var request):
                request.headers = newValue
                self = .request(request)
            case .response(var response):
                response.headers = newValue
                self = .response(response)
            }
        }
    }

    public var body: [UInt8] {
        switch self {
        case .request(let request): request.body
        case .response(let response): response.body
        }
    }

    public var request: SIPRequest? {
        if case .request(let request) = self { return request }
        return nil
    }

    public var response: SIPResponse? {
        if case .response(let response) = self { return response }
        return nil
    }
}
