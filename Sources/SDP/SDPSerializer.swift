extension SessionDescription {
    /// The description as RFC 8866 text: the lines in the order §5 prescribes, each ending in CRLF.
    public func serialized() -> String {
        var out = ""
        func line(_ type: Character, _ value: String) {
            out.append(type)
            out.append("=")
            out.append(value)
            out.append("\r\n")
        }
        line("v", "\(version)")
        line(
            "o",
            "\(origin.username) \(origin.sessionID) \(origin.sessionVersion) \(origin.networkType) "
                + "\(origin.addressType) \(origin.unicastAddress)")
        line("s", sessionName)
        if let information { line("i", information) }
        if let uri { line("u", uri) }
        for email in emails { line("e", email) }
        for phone in phones { line("p", phone) }
        if let connection { line("c", connection.fieldValue) }
        for bandwidth in bandwidths { line("b", "\(bandwidth.type):\(bandwidth.value)") }
        for timing in timings {
            line("t", "\(timing.start) \(timing.stop)")
            for repeatTime in timing.repeats { line("r", repeatTime) }
        }
        if let timeZones { line("z", timeZones) }
        if let encryptionKey { line("k", encryptionKey) }
        for attribute in attributes { line("a", attribute.fieldValue) }
        for media in media {
            let port = media.numberOfPorts.map { "\(media.port)/\($0)" } ?? "\(media.port)"
            line("m", ([media.media, port, media.proto] + media.formats).joined(separator: " "))
            if let information = media.information { line("i", information) }
            for connection in media.connections { line("c", connection.fieldValue) }
            for bandwidth in media.bandwidths { line("b", "\(bandwidth.type):\(bandwidth.value)") }
            if let encryptionKey = media.encryptionKey { line("k", encryptionKey) }
            for attribute in media.attributes { line("a", attribute.fieldValue) }
        }
        return out
    }
}

extension ConnectionData {
    /// The `c=` value (RFC 8866 §5.7).
    public var fieldValue: String {
        var address = self.address
        if addressType != .ip6, let ttl { address += "/\(ttl)" }
        if let numberOfAddresses { address += "/\(numberOfAddresses)" }
        return "\(networkType) \(addressType) \(address)"
    }
}

extension Attribute {
    /// The text after `a=`.
    public var fieldValue: String {
        if let value { "\(name):\(value)" } else { name }
    }
}
