import Configuration

/// The timing rules of supervision, from the `supervisor` section of the configuration.
public struct SupervisionPolicy: Sendable, Equatable {
    public var startTimeout: Duration
    public var healthInterval: Duration
    public var healthTimeout: Duration
    /// How often a starting daemon is asked whether it is ready yet.
    public var readinessPollInterval: Duration
    public var healthFailuresBeforeRestart: Int
    public var backoffInitial: Duration
    public var backoffMaximum: Duration
    public var stableAfter: Duration
    public var stopTimeout: Duration
    /// After this many failures in a row a daemon is shown as crash-looping.
    public var crashLoopThreshold: Int

    public init(_ settings: SupervisorSettings) {
        startTimeout = .milliseconds(settings.startTimeoutMilliseconds)
        healthInterval = .milliseconds(settings.healthIntervalMilliseconds)
        healthTimeout = .milliseconds(settings.healthTimeoutMilliseconds)
        readinessPollInterval = .milliseconds(min(100, settings.healthIntervalMilliseconds))
        healthFailuresBeforeRestart = settings.healthFailuresBeforeRestart
        backoffInitial = .milliseconds(settings.restartBackoffInitialMilliseconds)
        backoffMaximum = .milliseconds(settings.restartBackoffMaximumMilliseconds)
        stableAfter = .milliseconds(settings.restartStableAfterMilliseconds)
        stopTimeout = .milliseconds(settings.stopTimeoutMilliseconds)
        crashLoopThreshold = 3
    }

    /// The delay before restart number `failures` of a run of failures: initial, doubled each
    /// time, capped.
    public func backoff(afterConsecutiveFailures failures: Int) -> Duration {
        var delay = backoffInitial
        for _ in 1..<max(1, failures) {
            delay *= 2
            if delay >= backoffMaximum { return backoffMaximum }
        }
        return min(delay, backoffMaximum)
    }
}
