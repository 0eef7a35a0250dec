// Typed views of the attributes a WebRTC answerer and an AES67 description need. Each reads the
// `attributes` array; malformed values were refused by the parser, so they are skipped here.

extension MediaDescription {
    /// `a=mid` (RFC 5888 §4; RFC 8843 for BUNDLE).
    public var mid: String? { attribute("mid") }

    /// The direction attribute present, or nil when none is (then the session's, or `sendrecv`).
    public var explicitDirection: MediaDirection? {
        attributes.lazy.compactMap { $0.value == nil ? MediaDirection(rawValue: $0.name) : nil }.first
    }

    /// `a=rtpmap` lines in order.
    public var rtpMaps: [RTPMap] { attributes(named: "rtpmap").compactMap(RTPMap.init(attributeValue:)) }

    /// The `a=rtpmap` of `payloadType`; for static payload types without one, nil.
    public func rtpMap(payloadType: UInt8) -> RTPMap? { rtpMaps.first { $0.payloadType == payloadType } }

    /// `a=fmtp` lines in order.
    public var formatParameters: [FormatParameters] {
        attributes(named: "fmtp").compactMap(FormatParameters.init(attributeValue:))
    }

    /// The `a=fmtp` of `format`.
    public func formatParameters(format: String) -> FormatParameters? {
        formatParameters.first { $0.format == format }
    }

    /// `a=candidate` lines (RFC 8839 §5.1).
    public var candidates: [ICECandidate] {
        attributes(named: "candidate").compactMap(ICECandidate.init(attributeValue:))
    }

    /// `a=end-of-candidates` (RFC 8840 §8.2).
    public var hasEndOfCandidates: Bool { hasAttribute("end-of-candidates") }

    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    public var rtcpMux: Bool { hasAttribute("rtcp-mux") }

    /// `a=rtcp-mux-only` (RFC 8858).
    public var rtcpMuxOnly: Bool { hasAttribute("rtcp-mux-only") }

    /// `a=bundle-only` (RFC 8843 §6).
    public var bundleOnly: Bool { hasAttribute("bundle-only") }

    /// `a=ptime` in milliseconds (RFC 8866 §6.4).
    public var packetTime: Double? { attribute("ptime").flatMap(PacketTimeMilliseconds.parse) }

    /// `a=maxptime` in milliseconds (RFC 8866 §6.5).
    public var maximumPacketTime: Double? { attribute("maxptime").flatMap(PacketTimeMilliseconds.parse) }

    /// `a=ssrc` lines (RFC 5576).
    public var ssrcAttributes: [SSRCAttribute] {
        attributes(named: "ssrc").compactMap(SSRCAttribute.init(attributeValue:))
    }

    /// The distinct SSRCs of the `a=ssrc` lines, in order of appearance.
    public var ssrcs: [UInt32] {
        var result: [UInt32] = []
        for attribute in ssrcAttributes where !result.contains(attribute.ssrc) { result.append(attribute.ssrc) }
        return result
    }

    /// Zero port and no `bundle-only`: rejected or disabled (RFC 3264 §6, RFC 8843 §6).
    public var isRejected: Bool { port == 0 && !bundleOnly }
}

extension AttributeContainer {
    /// `a=ice-ufrag` (RFC 8839 §5.4).
    public var iceUsernameFragment: String? { attribute("ice-ufrag") }
    /// `a=ice-pwd` (RFC 8839 §5.4).
    public var icePassword: String? { attribute("ice-pwd") }
    /// `a=ice-options` tokens (`trickle`, `ice2`, `renomination`) (RFC 8839 §5.6).
    public var iceOptions: [String] {
        attributes(named: "ice-options").flatMap { $0.split(separator: " ").map(String.init) }
    }
    /// `a=fingerprint` lines (RFC 8122 §5).
    public var fingerprints: [Fingerprint] {
        attributes(named: "fingerprint").compactMap(Fingerprint.init(attributeValue:))
    }
    /// `a=setup` (RFC 4145 §4).
    public var setup: SetupRole? { attribute("setup").flatMap(SetupRole.init(rawValue:)) }
}

extension SessionDescription {
    /// `a=group` lines (RFC 5888).
    public var groups: [MediaGroup] { attributes(named: "group").compactMap(MediaGroup.init(attributeValue:)) }

    /// The first `a=group:BUNDLE` (RFC 8843 §7).
    public var bundleGroup: MediaGroup? { groups.first { $0.semantics == "BUNDLE" } }

    /// `a=ice-lite` (RFC 8839 §5.3).
    public var iceLite: Bool { hasAttribute("ice-lite") }

    /// The session-level direction attribute, if any.
    public var explicitDirection: MediaDirection? {
        attributes.lazy.compactMap { $0.value == nil ? MediaDirection(rawValue: $0.name) : nil }.first
    }

    /// The direction of `media`: its own attribute, else the session's, else `sendrecv` (RFC 8866 §6.7).
    public func direction(of media: MediaDescription) -> MediaDirection {
        media.explicitDirection ?? explicitDirection ?? .sendrecv
    }

    /// The connection data that applies to `media`: its first `c=`, else the session's.
    public func connection(of media: MediaDescription) -> ConnectionData? {
        media.connections.first ?? connection
    }
}
