import Yams

/// Collects issues while a document is read, so one run reports all of them.
final class IssueCollector {
    private(set) var issues: [ConfigurationIssue] = []

    func report(_ keyPath: String, at node: Node?, _ message: String) {
        issues.append(
            ConfigurationIssue(
                keyPath: keyPath, line: node?.mark?.line, column: node?.mark?.column,
                message: message))
    }
}

/// Reads one YAML mapping field by field, remembering which keys were asked for so that
/// `finish()` can name every unknown key together with the keys that are allowed there.
struct MappingReader {
    let path: String
    let node: Node
    private let collector: IssueCollector
    private var entries: [(key: String, keyNode: Node, value: Node)] = []
    private var known: [String] = []

    /// Returns nil (and reports) when `node` is not a mapping.
    init?(_ node: Node, path: String, collector: IssueCollector) {
        guard case .mapping(let mapping) = node else {
            collector.report(path, at: node, "expected a mapping (key: value lines), found \(node.kindDescription)")
            return nil
        }
        self.path = path
        self.node = node
        self.collector = collector
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                collector.report(path, at: keyNode, "keys must be plain words, found \(keyNode.kindDescription)")
                continue
            }
            if !seen.insert(key).inserted {
                collector.report(join(path, key), at: keyNode, "is given twice; keep one")
                continue
            }
            entries.append((key, keyNode, value))
        }
    }

    func report(_ key: String, at node: Node?, _ message: String) {
        collector.report(join(path, key), at: node ?? self.node, message)
    }

    /// The raw node of `key`, marking the key as known.
    mutating func node(_ key: String) -> Node? {
        known.append(key)
        return entries.first { $0.key == key }?.value
    }

    mutating func has(_ key: String) -> Bool {
        entries.contains { $0.key == key }
    }

    mutating func string(_ key: String, required: Bool = false, describe: String = "a string") -> String? {
        guard let value = node(key) else {
            if required { report(key, at: nil, "is required (\(describe))") }
            return nil
        }
        guard let scalar = value.scalar, value.tag.rawValue != Tag.Name.null.rawValue else {
            report(key, at: value, "expected \(describe), found \(value.kindDescription)")
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) -> Int {
        integer(key, in: range) ?? defaultValue
    }

    mutating func integer(_ key: String, required: Bool = false, in range: ClosedRange<Int>) -> Int? {
        let allowed = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let value = node(key) else {
            if required { report(key, at: nil, "is required (\(allowed))") }
            return nil
        }
        guard let scalar = value.scalar, let number = Int(scalar.string.replacingUnderscores()) else {
            report(key, at: value, "expected \(allowed), found \(value.kindDescription)")
            return nil
        }
        guard range.contains(number) else {
            report(key, at: value, "\(number) is out of range; allowed: \(allowed)")
            return nil
        }
        return number
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, required: Bool = false, of type: Choice.Type = Choice.self
    ) -> Choice? where Choice.RawValue == String {
        let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        guard let value = node(key) else {
            if required { report(key, at: nil, "is required (one of: \(allowed))") }
            return nil
        }
        guard let text = value.scalar?.string, let choice = Choice(rawValue: text) else {
            report(key, at: value, "expected one of: \(allowed); found \(value.kindDescription)")
            return nil
        }
        return choice
    }

    /// A nested mapping; nil (reported when required) when missing or not a mapping.
    mutating func mapping(_ key: String, required: Bool = false) -> MappingReader? {
        guard let value = node(key) else {
            if required { report(key, at: nil, "is required (a mapping)") }
            return nil
        }
        return MappingReader(value, path: join(path, key), collector: collector)
    }

    /// The elements of a list with their key paths; an empty list when the key is missing.
    mutating func list(_ key: String) -> [(node: Node, path: String)] {
        guard let value = node(key) else { return [] }
        guard case .sequence(let sequence) = value else {
            report(key, at: value, "expected a list (lines starting with '- '), found \(value.kindDescription)")
            return []
        }
        return sequence.enumerated().map { ($1, "\(join(path, key))[\($0)]") }
    }

    /// A list of web origins (`scheme://host[:port]`, RFC 6454) or `*`, for browser access
    /// checks; each malformed entry is reported and left out.
    mutating func origins(_ key: String) -> [String] {
        var origins: [String] = []
        for element in list(key) {
            guard let origin = element.node.scalar?.string, !origin.isEmpty else {
                report(
                    key, at: element.node,
                    "expected an origin such as https://panel.example.com, found \(element.node.kindDescription)")
                continue
            }
            let authority = origin.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2)
            let isOrigin =
                (origin.hasPrefix("http://") || origin.hasPrefix("https://")) && authority.count == 1
                && !authority[authority.startIndex].isEmpty
            if origin != "*", !isOrigin {
                report(
                    key, at: element.node,
                    "\"\(origin)\" is not an origin; write scheme://host[:port] without a path, or *")
                continue
            }
            origins.append(origin)
        }
        return origins
    }

    func reader(for element: Node, path: String) -> MappingReader? {
        MappingReader(element, path: path, collector: collector)
    }

    /// Reports the keys nobody asked for, naming the allowed ones.
    func finish() {
        let allowed = known.joined(separator: ", ")
        for entry in entries where !known.contains(entry.key) {
            collector.report(
                join(path, entry.key), at: entry.keyNode,
                "unknown key; allowed here: \(allowed)")
        }
    }
}

func join(_ path: String, _ key: String) -> String {
    path.isEmpty ? key : "\(path).\(key)"
}

extension Node {
    /// How an operator would name what they wrote, for error messages.
    var kindDescription: String {
        switch self {
        case .scalar(let scalar):
            if tag.rawValue == Tag.Name.null.rawValue { return "nothing (null)" }
            return "\"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

extension String {
    /// YAML 1.1 allows `30_000`; operators use it for readability.
    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}
