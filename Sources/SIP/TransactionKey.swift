/// What matches a message to a transaction (RFC 3261 §17.1.3, §17.2.3).
///
/// With an RFC 3261 branch (magic cookie `z9hG4bK`): the branch, the top Via's sent-by (server side
/// only) and the method, where ACK counts as INVITE so that the ACK of a 300-699 reaches the INVITE server
/// transaction; CANCEL has a transaction of its own with the INVITE's branch (`invite` finds the INVITE it
/// cancels). Without the cookie (RFC 2543 peers, §17.2.3): Request-URI, To tag, From tag, Call-ID, CSeq
/// and top Via; for an ACK, the To tag is the one the server put in its response, which the caller must
/// match by other means.
///
/// A class holding its hash: a proxy looks a key up a dozen times per message and files it in several
/// places. Hashing the branch's bytes once, when the key is made, spares every lookup that work, and a
/// probe that meets another transaction's key is told apart by comparing two numbers, not strings.
/// Copying the key is one retain.
public final class TransactionKey: Hashable, Sendable {
    public enum Parts: Hashable, Sendable {
        case branch(branch: String, sentBy: String, method: String)
        case legacy(
            requestURI: String, fromTag: String, toTag: String, callID: String, cseq: UInt32, via: String,
            method: String)
    }

    public let parts: Parts
    /// The branch alone (the Call-ID and CSeq of an RFC 2543 key), which tells transactions apart all
    /// but always; hashed with the process's random seed, so that no one can pick colliding branches.
    private let digest: Int

    public init(_ parts: Parts) {
        self.parts = parts
        var hasher = Hasher()
        switch parts {
        case .branch(let branch, _, _): hasher.combine(branch)
        case .legacy(_, _, _, let callID, let cseq, _, _):
            hasher.combine(callID)
            hasher.combine(cseq)
        }
        digest = hasher.finalize()
    }

    public static func branch(branch: String, sentBy: String, method: String) -> TransactionKey {
        TransactionKey(.branch(branch: branch, sentBy: sentBy, method: method))
    }

    public static func legacy(
        requestURI: String, fromTag: String, toTag: String, callID: String, cseq: UInt32, via: String,
        method: String
    ) -> TransactionKey {
        TransactionKey(
            .legacy(
                requestURI: requestURI, fromTag: fromTag, toTag: toTag, callID: callID, cseq: cseq, via: via,
                method: method))
    }

    public static func == (lhs: TransactionKey, rhs: TransactionKey) -> Bool {
        lhs === rhs || (lhs.digest == rhs.digest && lhs.parts == rhs.parts)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(digest)
    }

    /// The server transaction key of a received request (§17.2.3); nil when the request lacks a readable Via
    /// or CSeq.
    public static func server(for request: SIPRequest) -> TransactionKey? {
        guard let via = try? request.headers.topVia() else { return nil }
        return server(for: request, topVia: via)
    }

    /// `server(for:)` with the request's top Via already parsed (a proxy reads it first for §18.2.1).
    public static func server(for request: SIPRequest, topVia via: Via) -> TransactionKey? {
        let method = request.method == .ack ? "INVITE" : request.method.name
        if let branch = via.branch, via.hasMagicCookie {
            return .branch(branch: branch, sentBy: via.sentBy.asciiLowercased, method: method)
        }
        guard let cseq = try? request.headers.cseq(), let callID = try? request.headers.callID() else { return nil }
        let fromTag = (try? request.headers.fromTag()) ?? ""
        // For an ACK the To tag is the server's; RFC 2543 matching compares the INVITE's (absent) tag.
        let toTag = request.method == .ack ? "" : ((try? request.headers.toTag()) ?? "")
        return .legacy(
            requestURI: request.uri.description, fromTag: fromTag, toTag: toTag, callID: callID, cseq: cseq.sequence,
            via: via.description, method: method)
    }

    /// The client transaction key of a received response (§17.1.3): the top Via's branch and the CSeq method.
    /// Sent-by is left out: the client chose the branch, which is unique to it.
    public static func client(for response: SIPResponse) -> TransactionKey? {
        guard let via = try? response.headers.topVia(), let branch = via.branch,
            let cseq = try? response.headers.cseq()
        else { return nil }
        return .branch(branch: branch, sentBy: "", method: cseq.method.name)
    }

    /// The client transaction key of a request this element sends (to file it under before sending).
    public static func client(for request: SIPRequest) -> TransactionKey? {
        guard let via = try? request.headers.topVia(), let branch = via.branch else { return nil }
        return .branch(branch: branch, sentBy: "", method: request.method.name)
    }

    /// For a CANCEL's key, the key of the INVITE transaction it cancels (§9.2: same branch and sent-by, method
    /// INVITE). Other keys are returned unchanged.
    public var invite: TransactionKey {
        switch parts {
        case .branch(_, _, "INVITE"): return self
        case .branch(let branch, let sentBy, _):
            return .branch(branch: branch, sentBy: sentBy, method: "INVITE")
        case .legacy(let requestURI, let fromTag, let toTag, let callID, let cseq, let via, _):
            return .legacy(
                requestURI: requestURI, fromTag: fromTag, toTag: toTag, callID: callID, cseq: cseq, via: via,
                method: "INVITE")
        }
    }
}
