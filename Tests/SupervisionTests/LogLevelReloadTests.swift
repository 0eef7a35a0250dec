import Configuration
import DaemonSupport
import Logging
import Testing

/// `log_level` is reloadable: every logger of the process follows the process's level, which a
/// reload sets (`Observability.setLevel`), unless the logger was given a level of its own.
@Suite(.serialized) struct LogLevelReloadTests {
    @Test func everyLoggerFollowsTheProcessLevel() {
        let logger = Logger(label: "test") { _ in LineLogHandler(name: "test", level: .warning) }
        let other = Logger(label: "other") { _ in LineLogHandler(name: "test", level: .warning) }
        #expect(logger.logLevel == .warning)

        Observability.setLevel(.debug)
        #expect(logger.logLevel == .debug)
        #expect(other.logLevel == .debug)

        var pinned = logger
        pinned.logLevel = .error
        Observability.setLevel(.info)
        #expect(pinned.logLevel == .error)
        #expect(logger.logLevel == .info)
    }
}
