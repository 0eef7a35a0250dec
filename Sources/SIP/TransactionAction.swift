/// What a transaction asks its driver (the transport layer and the transaction user) to do.
public enum TransactionAction: Hashable, Sendable {
    /// Send (or resend) this request to the transaction's destination.
    case sendRequest(SIPRequest)
    /// Send (or resend) this response toward the request's source (§18.2.2).
    case sendResponse(SIPResponse)
    /// Give this response to the transaction user (a proxy forwards it, §16.7).
    case deliverResponse(SIPResponse)
    /// Give this request to the transaction user (an ACK for a 2xx in RFC 6026's Accepted state).
    case deliverRequest(SIPRequest)
    /// A timeout the transaction user must hear about: B, F (act as on 408, §16.8), H (no ACK, §17.2.1), or
    /// C (proxy: CANCEL the branch if it had a provisional response, else treat as 408, §16.8).
    case timeout(TransactionTimer)
    /// The transport reported a failure (§17.1.4, §17.2.4): inform the transaction user.
    case transportError
    /// The transaction ended; the driver forgets it.
    case terminated
}
