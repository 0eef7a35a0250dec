import Foundation
import Logging
import Synchronization

/// One line per event on stderr: `TIME NAME[PID] LEVEL: message key=value`. Under systemd
/// (`JOURNAL_STREAM` set) the time is left to the journal and the line starts with the
/// `<N>` syslog priority prefix that journald reads (sd-daemon(3)).
///
/// The level is the process's (`processLevel`), which a reload changes for every logger at
/// once; a logger whose own `logLevel` was set keeps that one.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    private var ownLevel: Logger.Level?
    private let name: String
    private let journal: Bool

    /// The level of every handler without one of its own: `log_level` of the configuration.
    public static var processLevel: Logger.Level {
        get { Logger.Level.allCases[sharedLevel.load(ordering: .relaxed)] }
        set { sharedLevel.store(Logger.Level.allCases.firstIndex(of: newValue) ?? 0, ordering: .relaxed) }
    }
    private static let sharedLevel = Atomic<Int>(Logger.Level.allCases.firstIndex(of: .info) ?? 0)

    public var logLevel: Logger.Level {
        get { ownLevel ?? Self.processLevel }
        set { ownLevel = newValue }
    }

    /// A handler at the process's level; `level` becomes the process's level.
    public init(
        name: String, level: Logger.Level, journal: Bool = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    ) {
        self.name = name
        self.journal = journal
        Self.processLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.line(
            level: event.level, message: event.message.description, metadata: merged, name: name,
            prefix: journal ? nil : "\(Self.timestamp()) ")
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// The line of an event, built in one byte buffer: with a time `prefix`,
    /// `TIME NAME[PID] LEVEL: message key=value …`; without one (the journal), `<N>NAME LEVEL: …`.
    /// Keys sorted. (Joining strings field by field, and quoting through Unicode scalars, was a
    /// quarter of a TURN server's CPU per allocation: two lines each.)
    static func line(
        level: Logger.Level, message: String, metadata: Logger.Metadata, name: String, prefix: String?
    ) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(message.utf8.count + 48 * (metadata.count + 1))
        if let prefix {
            line += prefix.utf8
            line += name.utf8
            line += "[\(getpid())] ".utf8
        } else {
            line += "<\(syslogPriority(level))>".utf8
            line += name.utf8
            line.append(UInt8(ascii: " "))
        }
        line += level.rawValue.utf8
        line += ": ".utf8
        line += message.utf8
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: " "))
            line += key.utf8
            line.append(UInt8(ascii: "="))
            appendQuoted("\(value)", to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Values with spaces or quotes are quoted so a line stays machine-splittable.
    static func quoted(_ value: String) -> String {
        var bytes: [UInt8] = []
        appendQuoted(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value`, quoted and escaped when it needs it. Escaped byte by byte: the bytes escaped are
    /// ASCII, which never occur inside a multi-byte UTF-8 sequence.
    static func appendQuoted(_ value: String, to line: inout [UInt8]) {
        guard value.isEmpty || needsQuotes(value) else {
            line += value.utf8
            return
        }
        line.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): line += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\""): line += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\n"): line += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            default: line.append(byte)
            }
        }
        line.append(UInt8(ascii: "\""))
    }

    /// A space, quote, `=` or line break in `value`. ASCII text (addresses, names) is checked
    /// byte by byte: there a Character is one byte, or CR LF, a line break either way.
    private static func needsQuotes(_ value: String) -> Bool {
        let utf8 = value.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else {
            return value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline })
        }
        return utf8.contains(where: {
            $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || (0x0A...0x0D).contains($0)
        })
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // `%04d-%02d-%02dT%02d:%02d:%02d.%03dZ`, without String(format:) and its CVarArg boxes.
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func append(_ value: Int, width: Int, then separator: UInt8) {
            var divisor = 1
            var digits = 1
            while value / divisor >= 10 {
                divisor *= 10
                digits += 1
            }
            for _ in digits..<max(width, digits) { text.append(UInt8(ascii: "0")) }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
            text.append(separator)
        }
        append(Int(parts.tm_year) + 1900, width: 4, then: UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, width: 2, then: UInt8(ascii: "-"))
        append(Int(parts.tm_mday), width: 2, then: UInt8(ascii: "T"))
        append(Int(parts.tm_hour), width: 2, then: UInt8(ascii: ":"))
        append(Int(parts.tm_min), width: 2, then: UInt8(ascii: ":"))
        append(Int(parts.tm_sec), width: 2, then: UInt8(ascii: "."))
        append(Int(now.tv_nsec) / 1_000_000, width: 3, then: UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}
