/// What the bridge puts in its answers: its ICE-lite credentials, its DTLS certificate's
/// fingerprint, where it listens, and its RTP identity. The daemon mints the random parts
/// (ufrag, password, session id, SSRC); this module never draws a random number.
public struct AnswerParameters: Hashable, Sendable {
    /// 4…256 `ice-char`s (RFC 8839 §5.4).
    public var iceUsernameFragment: String
    /// 22…256 `ice-char`s (RFC 8839 §5.4).
    public var icePassword: String
    /// The local certificate's fingerprint, normally SHA-256.
    public var fingerprint: Fingerprint
    /// The host candidates of the ICE-lite agent: one normally, one per address family at most.
    /// The first one also becomes the `c=` line and the `m=` port (RFC 8839 §4.2.1.1).
    public var hostCandidates: [HostCandidate]
    /// The DTLS role taken when the offer says `actpass`. Passive (the bridge is the DTLS server)
    /// suits an ICE-lite endpoint that may not know the remote address before the first check
    /// arrives; RFC 8842 §5.3 allows either.
    public var preferredSetup: SetupRole
    /// What the bridge is willing to do on this leg; `sendrecv` for a panel bound to a port.
    public var direction: MediaDirection
    /// The `o=` session id (a numeric string).
    public var sessionID: String
    public var sessionVersion: UInt64
    /// The SSRC the bridge sends with, announced with `a=ssrc:… cname:…` (RFC 5576; RFC 7022).
    public var ssrc: UInt32
    public var cname: String
    /// `a=msid:<stream> <track>` (RFC 8830) so that a browser's `ontrack` gets a stream.
    public var mediaStreamID: String
    public var trackID: String
    /// Opus as the bridge wants to receive it: stereo or not (mono by default: intercom speech).
    public var receiveStereo: Bool
    /// `a=ptime` to ask for, in ms; Opus's 20 ms by default. nil writes none.
    public var packetTime: Double?
    /// `a=maxptime`, in ms; nil writes none.
    public var maximumPacketTime: Double?
    /// Fingerprint hash functions the DTLS layer can verify; the offer must carry one of them.
    public var acceptedHashFunctions: Set<String>

    public init(
        iceUsernameFragment: String, icePassword: String, fingerprint: Fingerprint, hostCandidates: [HostCandidate],
        preferredSetup: SetupRole = .passive, direction: MediaDirection = .sendrecv, sessionID: String,
        sessionVersion: UInt64 = 1, ssrc: UInt32, cname: String, mediaStreamID: String = "stagedoor",
        trackID: String = "audio", receiveStereo: Bool = false, packetTime: Double? = 20,
        maximumPacketTime: Double? = nil, acceptedHashFunctions: Set<String> = ["sha-256", "sha-384", "sha-512"]
    ) {
        self.iceUsernameFragment = iceUsernameFragment
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.hostCandidates = hostCandidates
        self.preferredSetup = preferredSetup
        self.direction = direction
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.ssrc = ssrc
        self.cname = cname
        self.mediaStreamID = mediaStreamID
        self.trackID = trackID
        self.receiveStereo = receiveStereo
        self.packetTime = packetTime
        self.maximumPacketTime = maximumPacketTime
        self.acceptedHashFunctions = acceptedHashFunctions
    }
}

/// One local UDP host candidate: an IP address (text) and port.
public struct HostCandidate: Hashable, Sendable {
    public var address: String
    public var port: UInt16
    /// RFC 8445 §5.1.2.1's local preference, to rank several candidates (65535 is the best).
    public var localPreference: UInt32

    public init(address: String, port: UInt16, localPreference: UInt32 = 65535) {
        self.address = address
        self.port = port
        self.localPreference = localPreference
    }
}

/// Why the bridge will not answer an offer. `description` is the reason to send back (WHIP:
/// `406`/`488`-style for codec mismatches, `400` for malformed offers: see `isMalformedOffer`).
public enum AnswerRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// No usable `m=audio` section (none, or all rejected with port 0).
    case noAudio
    /// The audio section's transport is not DTLS-SRTP (`UDP/TLS/RTP/SAVPF`, RFC 8827).
    case unsupportedTransport(String)
    /// No `opus/48000/2` among the offered payload types; the offered encodings are listed.
    case noCommonCodec(offered: [String])
    /// No `a=fingerprint`, or none with a hash function the bridge can verify.
    case noFingerprint
    /// `a=setup:holdconn`, or a role that leaves no DTLS client.
    case unsupportedSetup(String)
    /// `a=ice-ufrag` or `a=ice-pwd` missing or out of RFC 8839 §5.4's bounds.
    case missingICECredentials
    /// No `a=rtcp-mux`: the bridge demultiplexes everything on one port (RFC 5761, RFC 8858).
    case rtcpMuxRequired
    /// The local parameters are unusable (no host candidate, bad credentials): a bug or a config error.
    case invalidLocalParameters(String)

    public var description: String {
        switch self {
        case .noAudio: "the offer has no audio section to accept"
        case .unsupportedTransport(let proto): "audio transport \(proto) is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)"
        case .noCommonCodec(let offered):
            "no common codec: the bridge needs opus/48000/2, the offer has \(offered.isEmpty ? "none" : offered.joined(separator: ", "))"
        case .noFingerprint: "the offer has no DTLS fingerprint with sha-256, sha-384 or sha-512"
        case .unsupportedSetup(let role): "DTLS setup role \(role) is not supported"
        case .missingICECredentials: "the offer has no valid ice-ufrag/ice-pwd"
        case .rtcpMuxRequired: "the offer does not multiplex RTCP with RTP (a=rtcp-mux)"
        case .invalidLocalParameters(let what): "bridge configuration error: \(what)"
        }
    }

    /// True for refusals that mean the offer is broken rather than merely incompatible (WHIP 400).
    public var isMalformedOffer: Bool {
        switch self {
        case .missingICECredentials, .noFingerprint: true
        default: false
        }
    }
}

/// The answer and what was agreed: everything the ICE-lite, DTLS-SRTP and RTP layers need.
public struct NegotiatedAudio: Hashable, Sendable {
    public var answer: SessionDescription
    /// Index of the accepted audio section in both offer and answer.
    public var mediaIndex: Int
    public var mid: String?
    /// The offer's Opus payload type number, used in both directions.
    public var payloadType: UInt8
    /// Opus parameters the remote side wants to receive (its `a=fmtp`).
    public var remoteOpus: OpusParameters
    public var remoteICEUsernameFragment: String
    public var remoteICEPassword: String
    /// The remote candidates in the offer (often none: the bridge is ICE-lite and learns the
    /// remote address from the checks it receives).
    public var remoteCandidates: [ICECandidate]
    /// Fingerprints the remote certificate must match, with an accepted hash function.
    public var remoteFingerprints: [Fingerprint]
    /// The bridge's DTLS role: `.passive` (server) or `.active` (client).
    public var localSetup: SetupRole
    /// The answer's direction, from the bridge's point of view.
    public var direction: MediaDirection
    /// SSRCs the remote announced (`a=ssrc`), if any.
    public var remoteSSRCs: [UInt32]
    /// The remote's `a=ptime`, if any, in ms.
    public var remotePacketTime: Double?

    /// True when the bridge is the DTLS client.
    public var isDTLSClient: Bool { localSetup == .active }
}

/// WebRTC transport protocols that carry DTLS-SRTP (RFC 8827, RFC 5764 §8).
let dtlsSRTPProtocols: Set<String> = ["UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP"]

/// Answers a WebRTC offer as an ICE-lite, DTLS-SRTP, Opus-only audio endpoint (RFC 3264,
/// RFC 8829 JSEP §5.3, RFC 8839, RFC 8842, RFC 8843, RFC 7587).
///
/// The first usable `m=audio` section is accepted; every other section (video, data channel,
/// more audio) is rejected with port 0 and dropped from the BUNDLE group (RFC 8843 §7.3.3), so
/// the answer has as many sections as the offer in the same order (RFC 3264 §6).
public func answer(
    to offer: SessionDescription, local: AnswerParameters
) throws(AnswerRefusal) -> NegotiatedAudio {
    guard let primary = local.hostCandidates.first else {
        throw .invalidLocalParameters("no host candidate")
    }
    guard (4...256).contains(local.iceUsernameFragment.count), (22...256).contains(local.icePassword.count),
        local.iceUsernameFragment.allSatisfy(\.isICECharacter), local.icePassword.allSatisfy(\.isICECharacter)
    else { throw .invalidLocalParameters("ICE credentials out of RFC 8839 bounds") }

    // 1. The audio section.
    var firstTransportRefusal: AnswerRefusal?
    var firstCodecRefusal: AnswerRefusal?
    var chosen: (index: Int, payloadType: UInt8)?
    for (index, media) in offer.media.enumerated() where media.media == "audio" && !media.isRejected {
        guard dtlsSRTPProtocols.contains(media.proto) else {
            firstTransportRefusal = firstTransportRefusal ?? .unsupportedTransport(media.proto)
            continue
        }
        let opus = media.formats.lazy.compactMap { UInt8($0) }.first { pt in
            guard let map = media.rtpMap(payloadType: pt) else { return false }
            return map.matches("opus") && map.clockRate == 48000 && map.channels == 2
        }
        guard let opus else {
            let offered = media.formats.map { format in
                UInt8(format).flatMap { media.rtpMap(payloadType: $0) }.map { "\($0.encodingName)/\($0.clockRate)" }
                    ?? format
            }
            firstCodecRefusal = firstCodecRefusal ?? .noCommonCodec(offered: offered)
            continue
        }
        chosen = (index, opus)
        break
    }
    guard let chosen else { throw firstCodecRefusal ?? firstTransportRefusal ?? .noAudio }
    let offered = offer.media[chosen.index]

    // 2. ICE: credentials may sit at media or session level (RFC 8839 §5.4).
    guard let remoteUfrag = offered.iceUsernameFragment ?? offer.iceUsernameFragment,
        let remotePassword = offered.icePassword ?? offer.icePassword,
        (4...256).contains(remoteUfrag.count), (22...256).contains(remotePassword.count)
    else { throw .missingICECredentials }

    // 3. DTLS: fingerprints at media level override the session's (RFC 8122 §5).
    let fingerprints = (offered.fingerprints.isEmpty ? offer.fingerprints : offered.fingerprints)
        .filter { local.acceptedHashFunctions.contains($0.hashFunction) }
    guard !fingerprints.isEmpty else { throw .noFingerprint }
    let localSetup: SetupRole
    switch offered.setup ?? offer.setup ?? .active {
    case .actpass: localSetup = local.preferredSetup == .active ? .active : .passive
    case .active: localSetup = .passive
    case .passive: localSetup = .active
    case .holdconn: throw .unsupportedSetup("holdconn")
    }

    // 4. RTCP multiplexing.
    guard offered.rtcpMux || offered.rtcpMuxOnly else { throw .rtcpMuxRequired }

    // 5. Build the answer.
    let direction = offer.direction(of: offered).answer(allowing: local.direction)
    let pt = chosen.payloadType
    var audio = MediaDescription(
        media: "audio", port: primary.port, proto: offered.proto, formats: ["\(pt)"],
        connection: ConnectionData(address: primary.address))
    var attributes: [Attribute] = []
    if let mid = offered.mid { attributes.append(Attribute("mid", mid)) }
    attributes.append(Attribute("ice-ufrag", local.iceUsernameFragment))
    attributes.append(Attribute("ice-pwd", local.icePassword))
    attributes.append(Attribute("fingerprint", local.fingerprint.description))
    attributes.append(Attribute("setup", localSetup.rawValue))
    attributes.append(Attribute(direction.rawValue))
    if direction.sends {
        attributes.append(Attribute("msid", "\(local.mediaStreamID) \(local.trackID)"))
    }
    attributes.append(Attribute("rtcp-mux"))
    attributes.append(
        Attribute("rtpmap", RTPMap(payloadType: pt, encodingName: "opus", clockRate: 48000, channels: 2).description))
    let fmtp = OpusParameters(
        minimumPacketTime: 10, useInbandFEC: true, stereo: local.receiveStereo,
        spropStereo: local.receiveStereo ? true : nil)
    attributes.append(Attribute("fmtp", fmtp.formatParameters(payloadType: pt).description))
    if let packetTime = local.packetTime {
        attributes.append(Attribute("ptime", PacketTimeMilliseconds.format(packetTime)))
    }
    if let maximum = local.maximumPacketTime {
        attributes.append(Attribute("maxptime", PacketTimeMilliseconds.format(maximum)))
    }
    if direction.sends {
        attributes.append(
            Attribute("ssrc", SSRCAttribute(ssrc: local.ssrc, attribute: "cname", value: local.cname).description))
    }
    for (number, host) in local.hostCandidates.enumerated() {
        let candidate = ICECandidate(
            foundation: "\(number + 1)", component: 1, transport: "UDP",
            priority: ICECandidate.priority(
                typePreference: ICECandidate.CandidateType.host.recommendedTypePreference,
                localPreference: host.localPreference, component: 1),
            address: host.address, port: host.port, type: .host)
        attributes.append(Attribute("candidate", candidate.description))
    }
    attributes.append(Attribute("end-of-candidates"))
    audio.attributes = attributes

    var sections: [MediaDescription] = []
    for (index, media) in offer.media.enumerated() {
        if index == chosen.index {
            sections.append(audio)
            continue
        }
        // Rejected: port 0, the offer's formats, the mid so the offerer can match it (RFC 8829 §5.3.1).
        // A c= line too: the answer has none at session level and RFC 8866 §5.7 wants one.
        var rejected = MediaDescription(
            media: media.media, port: 0, proto: media.proto,
            formats: media.formats.isEmpty ? ["0"] : media.formats, connection: ConnectionData(address: "0.0.0.0"))
        if let mid = media.mid { rejected.attributes.append(Attribute("mid", mid)) }
        sections.append(rejected)
    }

    var session = SessionDescription(
        origin: Origin(
            sessionID: local.sessionID, sessionVersion: local.sessionVersion,
            addressType: primary.address.contains(":") ? .ip6 : .ip4, unicastAddress: primary.address),
        sessionName: "-", media: sections)
    session.attributes.append(Attribute("ice-lite"))
    if let mid = offered.mid, let bundle = offer.bundleGroup, bundle.mids.contains(mid) {
        session.attributes.append(Attribute("group", MediaGroup(semantics: "BUNDLE", mids: [mid]).description))
    }
    session.attributes.append(Attribute("msid-semantic", " WMS \(local.mediaStreamID)"))

    return NegotiatedAudio(
        answer: session, mediaIndex: chosen.index, mid: offered.mid, payloadType: pt,
        remoteOpus: offered.formatParameters(format: "\(pt)").map(OpusParameters.init) ?? OpusParameters(),
        remoteICEUsernameFragment: remoteUfrag, remoteICEPassword: remotePassword,
        remoteCandidates: offered.candidates, remoteFingerprints: fingerprints, localSetup: localSetup,
        direction: direction, remoteSSRCs: offered.ssrcs, remotePacketTime: offered.packetTime)
}
