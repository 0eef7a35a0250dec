/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6): what an RTP payload type number means in this session.
public struct RTPMap: Hashable, Sendable, CustomStringConvertible {
    /// 0…127 (RFC 3550 §5.1: seven bits).
    public var payloadType: UInt8
    /// As sent (`opus`, `L24`, `telephone-event`); compare with `matches(_:)`, case-insensitively.
    public var encodingName: String
    public var clockRate: UInt32
    /// The channel count for audio (`opus/48000/2`); nil means one (RFC 8866 §6.6).
    public var channels: Int?

    public init(payloadType: UInt8, encodingName: String, clockRate: UInt32, channels: Int? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
    }

    /// Parses the attribute value (after `a=rtpmap:`).
    public init?(attributeValue value: String) {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, let payloadType = UInt8(parts[0]), payloadType <= 127 else { return nil }
        let encoding = parts[1].trimmingTrailingSpaces().split(separator: "/", omittingEmptySubsequences: false)
        guard encoding.count == 2 || encoding.count == 3, !encoding[0].isEmpty,
            encoding[0].allSatisfy(\.isSDPTokenCharacter), let clockRate = UInt32(encoding[1]), clockRate > 0
        else { return nil }
        var channels: Int?
        if encoding.count == 3 {
            guard let count = Int(encoding[2]), count > 0, count <= 255 else { return nil }
            channels = count
        }
        self.init(payloadType: payloadType, encodingName: String(encoding[0]), clockRate: clockRate, channels: channels)
    }

    /// True when the encoding name is `name`, ignoring case (RFC 4855 §3: names are case-insensitive).
    public func matches(_ name: String) -> Bool {
        encodingName.lowercased() == name.lowercased()
    }

    /// The attribute value.
    public var description: String {
        if let channels {
            "\(payloadType) \(encodingName)/\(clockRate)/\(channels)"
        } else {
            "\(payloadType) \(encodingName)/\(clockRate)"
        }
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15). The parameters are kept as
/// sent, and read as `;`-separated `key=value` pairs where they are such (most payload formats).
public struct FormatParameters: Hashable, Sendable, CustomStringConvertible {
    public var format: String
    public var parameters: String

    public init(format: String, parameters: String) {
        self.format = format
        self.parameters = parameters
    }

    /// Builds `key=value;key=value` in the order given.
    public init(format: String, pairs: [(String, String)]) {
        self.init(format: format, parameters: pairs.map { "\($0.0)=\($0.1)" }.joined(separator: ";"))
    }

    /// Parses the attribute value (after `a=fmtp:`).
    public init?(attributeValue value: String) {
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let format = parts.first, format.allSatisfy(\.isSDPTokenCharacter) else { return nil }
        self.init(format: String(format), parameters: parts.count == 2 ? String(parts[1]) : "")
    }

    /// The payload type when `format` is a number.
    public var payloadType: UInt8? { UInt8(format).flatMap { $0 <= 127 ? $0 : nil } }

    /// The `key=value` pairs; keys are lower-cased (RFC 7587 §7: Opus parameter names are
    /// case-insensitive), an item without `=` becomes a key with an empty value.
    public var pairs: [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        for item in parameters.split(separator: ";") {
            let trimmed: Substring = item.trimmingSpaces()
            if trimmed.isEmpty { continue }
            if let equals = trimmed.firstIndex(of: "=") {
                let key: Substring = trimmed[..<equals].trimmingSpaces()
                let value: Substring = trimmed[trimmed.index(after: equals)...].trimmingSpaces()
                result.append((key: key.lowercased(), value: String(value)))
            } else {
                result.append((key: trimmed.lowercased(), value: ""))
            }
        }
        return result
    }

    /// The value of `key` (case-insensitive), or nil.
    public subscript(key: String) -> String? {
        let key = key.lowercased()
        return pairs.first { $0.key == key }?.value
    }

    /// The attribute value.
    public var description: String { parameters.isEmpty ? format : "\(format) \(parameters)" }
}

/// The Opus media type parameters of RFC 7587 §6.1, read from or written to an `a=fmtp` line.
/// They state what the side that sends the SDP prefers to *receive*.
public struct OpusParameters: Hashable, Sendable {
    /// Smallest packet time the receiver accepts, in ms (browsers send 10).
    public var minimumPacketTime: Int?
    /// 1: the receiver can decode in-band FEC, so the sender should add it (RFC 7587 §6.1).
    public var useInbandFEC: Bool?
    /// 1: the receiver prefers stereo.
    public var stereo: Bool?
    /// 1: the sender is likely to send stereo.
    public var spropStereo: Bool?
    public var maxPlaybackRate: Int?
    public var maxAverageBitrate: Int?
    public var useDTX: Bool?
    public var constantBitrate: Bool?

    public init(
        minimumPacketTime: Int? = nil, useInbandFEC: Bool? = nil, stereo: Bool? = nil, spropStereo: Bool? = nil,
        maxPlaybackRate: Int? = nil, maxAverageBitrate: Int? = nil, useDTX: Bool? = nil,
        constantBitrate: Bool? = nil
    ) {
        self.minimumPacketTime = minimumPacketTime
        self.useInbandFEC = useInbandFEC
        self.stereo = stereo
        self.spropStereo = spropStereo
        self.maxPlaybackRate = maxPlaybackRate
        self.maxAverageBitrate = maxAverageBitrate
        self.useDTX = useDTX
        self.constantBitrate = constantBitrate
    }

    /// Reads the parameters it knows from `fmtp`, ignoring the others.
    public init(_ fmtp: FormatParameters) {
        func flag(_ key: String) -> Bool? { fmtp[key].flatMap { $0 == "1" ? true : $0 == "0" ? false : nil } }
        self.init(
            minimumPacketTime: fmtp["minptime"].flatMap { Int($0) }, useInbandFEC: flag("useinbandfec"),
            stereo: flag("stereo"), spropStereo: flag("sprop-stereo"),
            maxPlaybackRate: fmtp["maxplaybackrate"].flatMap { Int($0) },
            maxAverageBitrate: fmtp["maxaveragebitrate"].flatMap { Int($0) }, useDTX: flag("usedtx"),
            constantBitrate: flag("cbr"))
    }

    /// The `a=fmtp` line for payload type `payloadType`, in a stable order.
    public func formatParameters(payloadType: UInt8) -> FormatParameters {
        var pairs: [(String, String)] = []
        if let minimumPacketTime { pairs.append(("minptime", "\(minimumPacketTime)")) }
        if let useInbandFEC { pairs.append(("useinbandfec", useInbandFEC ? "1" : "0")) }
        if let stereo { pairs.append(("stereo", stereo ? "1" : "0")) }
        if let spropStereo { pairs.append(("sprop-stereo", spropStereo ? "1" : "0")) }
        if let maxPlaybackRate { pairs.append(("maxplaybackrate", "\(maxPlaybackRate)")) }
        if let maxAverageBitrate { pairs.append(("maxaveragebitrate", "\(maxAverageBitrate)")) }
        if let useDTX { pairs.append(("usedtx", useDTX ? "1" : "0")) }
        if let constantBitrate { pairs.append(("cbr", constantBitrate ? "1" : "0")) }
        return FormatParameters(format: "\(payloadType)", pairs: pairs)
    }
}

/// `a=ptime` / `a=maxptime` values: a decimal number of milliseconds (RFC 8866 §6.4, §6.5);
/// AES67 uses fractions such as `0.125` and `0.333`.
public enum PacketTimeMilliseconds {
    /// Parses a positive decimal (`20`, `0.125`); nil for anything else.
    public static func parse(_ text: String) -> Double? {
        let text = text.trimmingSpaces()
        guard !text.isEmpty, text.allSatisfy({ $0.isASCIIDigit || $0 == "." }), text.filter({ $0 == "." }).count <= 1,
            let value = Double(text), value > 0, value.isFinite
        else { return nil }
        return value
    }

    /// Formats `milliseconds` with at most three decimals and no trailing zeros (`1`, `0.125`, `0.333`).
    public static func format(_ milliseconds: Double) -> String {
        let thousandths = Int((milliseconds * 1000).rounded())
        let whole = thousandths / 1000
        var fraction = thousandths % 1000
        guard fraction != 0 else { return "\(whole)" }
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let fractionText = String(fraction)
        return "\(whole)." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
}

extension StringProtocol {
    func trimmingSpaces() -> Substring {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return Substring(slice)
    }

    func trimmingTrailingSpaces() -> Substring {
        var slice = self[...]
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return Substring(slice)
    }
}
