/// One problem found in a configuration file: where it is and what is allowed instead.
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path with list indices, e.g. `turn.listeners[0].port`; empty for the document.
    public var keyPath: String
    /// 1-based line in the file, when the parser gave one.
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(keyPath: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let location = line.map { ":\($0)" + (column.map { ":\($0)" } ?? "") } ?? ""
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(location.isEmpty ? "" : String(location.dropFirst()) + ": ")\(key)\(message)"
    }
}

/// Thrown when a configuration cannot be used; carries every issue found, not just the first.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The file that was read, if any.
    public var file: String?
    public var issues: [ConfigurationIssue]

    public init(file: String?, issues: [ConfigurationIssue]) {
        self.file = file
        self.issues = issues
    }

    /// One line per issue, `FILE:LINE:COLUMN: key.path: message`, as compilers print errors.
    public var description: String {
        issues.map { issue in
            var prefix = file ?? "<configuration>"
            if let line = issue.line {
                prefix += ":\(line)"
                if let column = issue.column { prefix += ":\(column)" }
            }
            let key = issue.keyPath.isEmpty ? "" : "\(issue.keyPath): "
            return "\(prefix): \(key)\(issue.message)"
        }.joined(separator: "\n")
    }
}
