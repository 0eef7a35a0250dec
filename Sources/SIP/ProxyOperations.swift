/// The header edits a proxy makes when forwarding (RFC 3261 §16.6, §16.7).
extension SIPHeaders {
    /// Adds `via` as the new topmost Via (§16.6 step 8).
    public mutating func prependVia(_ via: Via) {
        prepend(.via, via.description)
    }

    /// Removes the topmost Via value and returns its text (§16.7 step 3: a proxy removes its own Via from
    /// a response before forwarding it).
    @discardableResult
    public mutating func removeTopVia() -> String? {
        removeFirstValue(.via).map(String.init)
    }

    /// Replaces the topmost Via value, e.g. after adding `received` and `rport` (§18.2.1, RFC 3581 §4).
    public mutating func replaceTopVia(with via: Via) {
        replaceFirstValue(.via, with: via.description)
    }

    /// Adds `address` as the topmost Record-Route (§16.6 step 4); its URI should carry `lr`.
    public mutating func prependRecordRoute(_ address: NameAddress) {
        prepend(.recordRoute, address.description)
    }

    /// Adds `address` as the topmost Path (RFC 3327 §5.1: a proxy on a REGISTER's path).
    public mutating func prependPath(_ address: NameAddress) {
        prepend(.path, address.description)
    }

    /// Removes the topmost Route value and returns it parsed (§16.4: the Route that names this proxy;
    /// §16.12). Nil when there is none; throws, leaving the headers unchanged, when it is malformed.
    @discardableResult
    public mutating func popRoute() throws(SIPParseError) -> NameAddress? {
        guard let first = listValues(.route).first else { return nil }
        let address = try NameAddress(parsing: String(first), header: .route)
        removeFirstValue(.route)
        return address
    }

    /// Applies §16.6 step 3 to Max-Forwards: decrements it, or adds it with 70 when absent. When it is 0
    /// (or malformed) nothing changes and `.exhausted` tells the proxy to answer 483 (§16.3 step 3),
    /// except to OPTIONS, which it may answer itself.
    public mutating func decrementMaxForwards(default defaultValue: UInt8 = 70) -> MaxForwardsOutcome {
        guard contains(.maxForwards) else {
            append(.maxForwards, String(defaultValue))
            return .added(defaultValue)
        }
        guard let value = try? maxForwards(), value > 0 else { return .exhausted }
        set(.maxForwards, String(value - 1))
        return .decremented(value - 1)
    }
}

/// What `decrementMaxForwards` did.
public enum MaxForwardsOutcome: Hashable, Sendable {
    /// It was there and now holds this value.
    case decremented(UInt8)
    /// It was absent and was added with this value.
    case added(UInt8)
    /// It was 0 or unreadable: do not forward; answer 483 Too Many Hops.
    case exhausted
}

extension SIPResponse {
    /// A response to `request` built as §8.2.6.2 says: the same Via values in the same order, From, To,
    /// Call-ID and CSeq copied, and, when To has no tag and the status is not 100, `toTag` added to it.
    /// A 100 Trying also copies Timestamp (§8.2.6.1).
    public init(
        replyingTo request: SIPRequest, statusCode: SIPStatusCode, reasonPhrase: String? = nil, toTag: String? = nil
    ) {
        var headers = SIPHeaders()
        // Via, From, To, Call-ID, CSeq and perhaps Timestamp: room for them with no regrowth.
        headers.fields.reserveCapacity(8)
        let fields = request.headers.fields
        // Switching on the known header's number, not on the name, copies no line that is not kept.
        for index in fields.indices {
            switch fields[index].name.id {
            case .via, .from, .callID, .cseq:
                headers.fields.append(fields[index])
            case .to:
                var value = fields[index].value
                if let toTag, statusCode != .trying, toTagIsMissing(request.headers, value) {
                    value += ";tag=\(toTag)"
                }
                headers.fields.append(SIPHeader(.to, value))
            case .timestamp where statusCode == .trying:
                headers.fields.append(fields[index])
            default:
                break
            }
        }
        self.init(statusCode: statusCode, reasonPhrase: reasonPhrase, headers: headers)
    }
}

/// Whether the To value `value` of `headers` has no tag parameter (or does not parse). A parsed message
/// holds its To already parsed from that same single line, so it is not parsed again.
private func toTagIsMissing(_ headers: SIPHeaders, _ value: String) -> Bool {
    if let parsed = headers.parsed { return parsed.toTag == nil }
    return (try? NameAddress(parsing: value))?.tag == nil
}

extension SIPRequest {
    /// A CANCEL for this INVITE as §9.1 says: same Request-URI, Call-ID, To, From and CSeq number with
    /// method CANCEL, a single Via equal to this request's top Via, the same Route headers; used by a
    /// proxy cancelling branches (§16.10) or on timer C (§16.8).
    public func makeCancel() -> SIPRequest {
        var headers = SIPHeaders()
        if let via = self.headers.listValues(.via).first { headers.append(.via, String(via)) }
        for field in self.headers.fields where field.name == .route { headers.fields.append(field) }
        headers.append(.maxForwards, "70")
        for name in [SIPHeaderName.from, .to, .callID] {
            if let value = self.headers.first(name) { headers.append(name, value) }
        }
        if let cseq = try? self.headers.cseq() {
            headers.append(.cseq, CSeq(cseq.sequence, .cancel).description)
        }
        return SIPRequest(method: .cancel, uri: uri, headers: headers)
    }

    /// The ACK a client transaction sends for a 300-699 response to this INVITE (§17.1.1.3): same
    /// Request-URI, Call-ID, From and CSeq number, To from the response (with its tag), a single Via equal
    /// to this request's top Via, and the Route headers of this request.
    public func makeAck(for response: SIPResponse) -> SIPRequest {
        var headers = SIPHeaders()
        if let via = self.headers.listValues(.via).first { headers.append(.via, String(via)) }
        for field in self.headers.fields where field.name == .route { headers.fields.append(field) }
        headers.append(.maxForwards, "70")
        if let from = self.headers.first(.from) { headers.append(.from, from) }
        if let to = response.headers.first(.to) ?? self.headers.first(.to) { headers.append(.to, to) }
        if let callID = self.headers.first(.callID) { headers.append(.callID, callID) }
        if let cseq = try? self.headers.cseq() {
            headers.append(.cseq, CSeq(cseq.sequence, .ack).description)
        }
        return SIPRequest(method: .ack, uri: uri, headers: headers)
    }
}
