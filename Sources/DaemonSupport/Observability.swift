import Configuration
import Logging
import Metrics
import Prometheus

/// Process-wide logging and metrics backends, chosen once by each executable's main.
public enum Observability {
    /// The registry the `metrics` control method reads, in Prometheus text exposition format.
    public static let registry = PrometheusCollectorRegistry()

    /// Bootstraps swift-log and swift-metrics. Call once, first thing in main.
    public static func bootstrap(name: String, level: LogLevel) {
        LoggingSystem.bootstrap { _ in LineLogHandler(name: name, level: Logger.Level(level)) }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// Changes the level of every logger of the process (a reload of `log_level`).
    public static func setLevel(_ level: LogLevel) {
        LineLogHandler.processLevel = Logger.Level(level)
    }

    /// The Prometheus text of every metric recorded in this process.
    public static func exposition() -> String {
        registry.emitToString()
    }
}

extension Logger.Level {
    public init(_ level: LogLevel) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}
