/// One header field line (RFC 3261 §7.3): its name and its value as received, with folding (LWS
/// continuation lines) removed and surrounding whitespace trimmed. A line may hold several
/// comma-separated values (§7.3.1); the typed accessors of `SIPHeaders` split them.
public struct SIPHeader: Hashable, Sendable, CustomStringConvertible {
    public var name: SIPHeaderName
    public var value: String

    public init(_ name: SIPHeaderName, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name.name): \(value)" }
}

/// The header fields of a message, in the order received (RFC 3261 §7.3.1: the relative order of
/// fields with the same name matters; fields with different names may be reordered, but a proxy keeps
/// the order it received). Multiple values stay as they were: one line with commas, or several lines.
public struct SIPHeaders: Hashable, Sendable, RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral {
    /// Any change drops `parsed`: the values it holds were read from the fields as they were. (A `didSet`
    /// that does not read `oldValue` still lets `fields` be modified in place.)
    public var fields: [SIPHeader] {
        didSet { parsed = nil }
    }

    /// The values `MessageParser` built while validating these fields, for the typed accessors to return
    /// instead of parsing the same text again; nil once the fields change, and for headers not parsed.
    var parsed: ParsedHeaders?

    public init(_ fields: [SIPHeader] = []) {
        self.fields = fields
    }

    init(_ fields: [SIPHeader], parsed: ParsedHeaders) {
        self.fields = fields
        self.parsed = parsed
    }

    /// Equality and hashing are those of the fields alone: `parsed` is derived from them.
    public static func == (lhs: SIPHeaders, rhs: SIPHeaders) -> Bool {
        lhs.fields == rhs.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fields)
    }

    public init(arrayLiteral elements: (SIPHeaderName, String)...) {
        self.fields = elements.map { SIPHeader($0.0, $0.1) }
    }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> SIPHeader {
        get { fields[position] }
        set { fields[position] = newValue }
    }

    /// The position of the first line called `name` at `start` or after it, or nil. The name of each line
    /// is compared where it lies: `firstIndex(where:)` and `for field in fields` copy every line they look
    /// at, retaining and releasing its strings, which made these lookups cost more than parsing the line.
    @inline(__always)
    func index(of name: SIPHeaderName, from start: Int = 0) -> Int? {
        // `SIPHeaderName.==`, spelled out on the stored number so that no name is copied.
        let id = name.id
        var index = start
        while index < fields.count {
            if fields[index].name.id == id, id != .extension || fields[index].name.key == name.key { return index }
            index += 1
        }
        return nil
    }

    /// The values of every line called `name`, in order; each line's value whole (not split at commas).
    public subscript(name: SIPHeaderName) -> [String] {
        var values: [String] = []
        var position = index(of: name)
        while let current = position {
            values.append(fields[current].value)
            position = index(of: name, from: current + 1)
        }
        return values
    }

    /// The value of the first line called `name`.
    public func first(_ name: SIPHeaderName) -> String? {
        index(of: name).map { fields[$0].value }
    }

    /// Whether any line is called `name`.
    public func contains(_ name: SIPHeaderName) -> Bool {
        index(of: name) != nil
    }

    /// How many lines are called `name`.
    public func count(of name: SIPHeaderName) -> Int {
        var count = 0
        var position = index(of: name)
        while let current = position {
            count += 1
            position = index(of: name, from: current + 1)
        }
        return count
    }

    /// Every value of `name`, split at top-level commas (§7.3.1) across all its lines, in order.
    /// Only meaningful for headers whose grammar is a comma-separated list.
    public func listValues(_ name: SIPHeaderName) -> [Substring] {
        var values: [Substring] = []
        var position = index(of: name)
        while let current = position {
            values.append(contentsOf: splitHeaderList(fields[current].value))
            position = index(of: name, from: current + 1)
        }
        return values
    }

    /// Appends a line at the end.
    public mutating func append(_ name: SIPHeaderName, _ value: String) {
        fields.append(SIPHeader(name, value))
    }

    /// Inserts a line before the first line called `name`, or at the top when there is none: the
    /// position that makes the value the topmost of its header (Via §16.6 step 8, Record-Route §16.6 step 4).
    public mutating func prepend(_ name: SIPHeaderName, _ value: String) {
        let position = index(of: name) ?? 0
        fields.insert(SIPHeader(name, value), at: position)
    }

    /// Replaces every line called `name` with one line holding `value`, at the first one's position
    /// (or appends it).
    public mutating func set(_ name: SIPHeaderName, _ value: String) {
        if let position = index(of: name) {
            fields[position].value = value
            var index = fields.count - 1
            while index > position {
                if fields[index].name == name { fields.remove(at: index) }
                index -= 1
            }
        } else {
            append(name, value)
        }
    }

    /// Removes every line called `name`.
    public mutating func removeAll(_ name: SIPHeaderName) {
        fields.removeAll { $0.name == name }
    }

    /// Removes the first value of `name` (splitting a comma-joined line if needed) and returns it.
    /// Used to pop the top Via (§16.7 step 3) and the top Route (§16.4, §16.6 step 6).
    @discardableResult
    public mutating func removeFirstValue(_ name: SIPHeaderName) -> Substring? {
        guard let position = index(of: name) else { return nil }
        // One value on the line (no comma at all, the usual case): no list to split and join.
        if !containsComma(fields[position].value) {
            let value = fields.remove(at: position).value
            return trimmed(value[...])
        }
        // Two values (a response's Via line after ours was folded in): what the split and join below give,
        // without them.
        let value = fields[position].value
        if let comma = listSeparator(in: value[...]) {
            let rest = value[value.utf8.index(after: comma)...]
            if listSeparator(in: rest) == nil {
                fields[position].value = String(trimmed(rest))
                return trimmed(value[..<comma])
            }
        }
        let elements = splitHeaderList(fields[position].value)
        let first = elements[0]
        if elements.count == 1 {
            fields.remove(at: position)
        } else {
            fields[position].value = elements.dropFirst().joined(separator: ", ")
        }
        return first
    }

    /// Replaces the first value of `name` (leaving the other values of a comma-joined line alone).
    public mutating func replaceFirstValue(_ name: SIPHeaderName, with value: String) {
        guard let position = index(of: name) else { return }
        if !containsComma(fields[position].value) {
            fields[position].value = value
            return
        }
        let current = fields[position].value
        if let comma = listSeparator(in: current[...]) {
            let rest = current[current.utf8.index(after: comma)...]
            if listSeparator(in: rest) == nil {
                fields[position].value = value + ", " + trimmed(rest)
                return
            }
        }
        var elements = splitHeaderList(fields[position].value).map(String.init)
        elements[0] = value
        fields[position].value = elements.joined(separator: ", ")
    }
}

/// Whether `text` holds a comma, looked for where its bytes lie: the generic `utf8.contains` walked
/// the view at a dozen instructions a byte, and Via lines are looked at this way twice per message.
func containsComma(_ text: String) -> Bool {
    text.utf8.withContiguousStorageIfAvailable { $0.contains(0x2C) } ?? text.utf8.contains(0x2C)
}

/// The header values a message's validation (`MessageParser.validate`) had to parse, kept with the headers
/// so that a proxy reading them again (top Via, Via list for loop detection, From and To tags, CSeq) does
/// not parse the text a second time. A class, so that copies of the headers share one allocation.
final class ParsedHeaders: Sendable {
    /// Every Via value, top first, across lines and commas.
    let vias: [Via]
    /// The `tag` of From and of To: of those two addresses a proxy needs only the dialog's identity (§12),
    /// so validation checks the rest without building it.
    let fromTag: String?
    let toTag: String?
    let cseq: CSeq

    init(vias: [Via], fromTag: String?, toTag: String?, cseq: CSeq) {
        self.vias = vias
        self.fromTag = fromTag
        self.toTag = toTag
        self.cseq = cseq
    }
}
