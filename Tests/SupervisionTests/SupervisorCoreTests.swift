import Configuration
import Foundation
import Supervision
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The core takes time as an input: every test advances this base by explicit durations.
private let t0 = ContinuousClock.now

private func at(_ milliseconds: Int) -> Instant { t0 + .milliseconds(milliseconds) }

private let policy = SupervisionPolicy(SupervisorSettings())

/// Swift Testing has an `ExitStatus` of its own (for exit tests); these tests mean the supervisor's.
private typealias ExitStatus = Supervision.ExitStatus

extension SupervisorCore {
    fileprivate func lifecycle(_ component: Component) -> Lifecycle? { record(component)?.lifecycle }

    /// Takes a waiting or backing-off component to running at `now`: spawn, first readiness poll, ready.
    fileprivate mutating func bringUp(_ component: Component, pid: Int32, now: Instant) {
        let spawn = tick(now: now)
        #expect(spawn.contains(.spawn(component)), "\(spawn)")
        spawned(component, pid: pid, now: now)
        let poll = tick(now: now)
        #expect(poll.contains(.checkHealth(component, pid: pid, timeout: policy.healthTimeout)), "\(poll)")
        #expect(healthChecked(component, pid: pid, outcome: .answered(ready: true), now: now) == [])
        #expect(lifecycle(component) == .running(pid: pid, since: now))
    }

    /// Starts every component in order at `now`: turn 101, bridge 102, sip 103.
    fileprivate mutating func bringUpAll(now: Instant) {
        for (offset, component) in Component.allCases.enumerated() {
            bringUp(component, pid: Int32(101 + offset), now: now)
        }
        #expect(allRunning)
        #expect(isSettled)
    }
}

@Suite struct SupervisorCoreTests {
    // MARK: Start order

    @Test func startsOneComponentAtATimeInOrder() {
        var core = SupervisorCore(policy: policy)
        #expect(core.records.map(\.component) == [.turn, .bridge, .sip])
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        #expect(core.lifecycle(.turn) == .launching)
        #expect(core.lifecycle(.bridge) == .waiting)
        #expect(core.lifecycle(.sip) == .waiting)
        // Nothing more until the spawn is reported.
        #expect(core.tick(now: at(10)) == [])

        core.spawned(.turn, pid: 101, now: at(10))
        #expect(core.lifecycle(.turn) == .starting(pid: 101, since: at(10)))
        // A starting component is polled at once, then every readinessPollInterval (100 ms).
        #expect(core.tick(now: at(10)) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
        #expect(core.tick(now: at(20)) == [], "a check is in flight")
        #expect(core.healthChecked(.turn, pid: 101, outcome: .answered(ready: false), now: at(30)) == [])
        #expect(core.lifecycle(.turn) == .starting(pid: 101, since: at(10)))
        #expect(core.tick(now: at(60)) == [], "the next poll is not due yet")
        #expect(core.lifecycle(.bridge) == .waiting, "turn has not settled")
        #expect(core.tick(now: at(110)) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
        #expect(core.healthChecked(.turn, pid: 101, outcome: .answered(ready: true), now: at(120)) == [])
        #expect(core.lifecycle(.turn) == .running(pid: 101, since: at(120)))
        #expect(core.record(.turn)?.settled == true)
        #expect(!core.isSettled)

        #expect(core.tick(now: at(130)) == [.spawn(.bridge)])
        #expect(core.lifecycle(.sip) == .waiting)
        core.spawned(.bridge, pid: 102, now: at(130))
        #expect(core.tick(now: at(130)) == [.checkHealth(.bridge, pid: 102, timeout: policy.healthTimeout)])
        #expect(core.healthChecked(.bridge, pid: 102, outcome: .answered(ready: true), now: at(140)) == [])

        #expect(core.tick(now: at(150)) == [.spawn(.sip)])
        core.spawned(.sip, pid: 103, now: at(150))
        #expect(core.tick(now: at(150)) == [.checkHealth(.sip, pid: 103, timeout: policy.healthTimeout)])
        #expect(core.healthChecked(.sip, pid: 103, outcome: .answered(ready: true), now: at(160)) == [])
        #expect(core.allRunning)
        #expect(core.isSettled)
        #expect(core.records.allSatisfy { $0.restarts == 0 && $0.consecutiveFailures == 0 })

        // Running components are checked every healthInterval (1 s) from when they became ready.
        #expect(core.tick(now: at(1_119)) == [])
        #expect(core.tick(now: at(1_120)) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
    }

    @Test func aComponentThatFailsBeforeReadyLetsTheNextStart() {
        var core = SupervisorCore(policy: policy)
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        core.spawned(.turn, pid: 101, now: t0)
        #expect(core.exited(pid: 101, status: .exited(1), now: at(10)) == [.removeSocket(.turn)])
        let turn = core.record(.turn)
        #expect(turn?.settled == true)
        #expect(turn?.lastExit == "exit 1")
        #expect(turn?.consecutiveFailures == 1)
        #expect(turn?.lifecycle == .backoff(until: at(10) + policy.backoffInitial))
        // Not the broken turn again yet, but the bridge goes ahead.
        #expect(core.tick(now: at(20)) == [.spawn(.bridge)])
    }

    @Test func aSpawnFailureAlsoSettles() {
        var core = SupervisorCore(policy: policy)
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        core.spawnFailed(.turn, reason: "no such executable", now: t0)
        #expect(core.record(.turn)?.lastExit == "no such executable")
        #expect(core.record(.turn)?.settled == true)
        #expect(core.lifecycle(.turn) == .backoff(until: t0 + policy.backoffInitial))
        #expect(core.tick(now: at(1)) == [.spawn(.bridge)])
        #expect(core.tick(now: at(250)) == [.spawn(.turn)])
        core.spawned(.turn, pid: 7, now: at(250))
        #expect(core.record(.turn)?.restarts == 1)
    }

    // MARK: Restarts

    @Test func exitOfARunningComponentBacksOffThenRespawns() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 101, now: t0)
        #expect(core.exited(pid: 101, status: .signaled(SIGSEGV), now: at(5_000)) == [.removeSocket(.turn)])
        #expect(core.lifecycle(.turn) == .backoff(until: at(5_250)))
        #expect(core.record(.turn)?.lastExit == "signal 11 (SIGSEGV)")
        #expect(core.record(.turn)?.restarts == 0)
        #expect(core.record(.turn)?.consecutiveFailures == 1)
        #expect(core.tick(now: at(5_249)) == [])
        #expect(core.tick(now: at(5_250)) == [.spawn(.turn)])
        #expect(core.lifecycle(.turn) == .launching)
        core.spawned(.turn, pid: 202, now: at(5_260))
        #expect(core.record(.turn)?.restarts == 1)
        #expect(core.lifecycle(.turn) == .starting(pid: 202, since: at(5_260)))
    }

    @Test func backoffDoublesUpToTheCap() {
        #expect(policy.backoff(afterConsecutiveFailures: 0) == .milliseconds(250))
        #expect(policy.backoff(afterConsecutiveFailures: 1) == .milliseconds(250))
        #expect(policy.backoff(afterConsecutiveFailures: 2) == .milliseconds(500))
        #expect(policy.backoff(afterConsecutiveFailures: 3) == .seconds(1))
        #expect(policy.backoff(afterConsecutiveFailures: 4) == .seconds(2))
        #expect(policy.backoff(afterConsecutiveFailures: 7) == .seconds(16))
        #expect(policy.backoff(afterConsecutiveFailures: 8) == .seconds(30), "32 s capped at 30 s")
        #expect(policy.backoff(afterConsecutiveFailures: 1_000) == .seconds(30))

        var settings = SupervisorSettings()
        settings.restartBackoffInitialMilliseconds = 100
        settings.restartBackoffMaximumMilliseconds = 300
        let small = SupervisionPolicy(settings)
        #expect((1...4).map { small.backoff(afterConsecutiveFailures: $0) } == [
            .milliseconds(100), .milliseconds(200), .milliseconds(300), .milliseconds(300),
        ])
    }

    @Test func repeatedQuickFailuresDoubleTheDelayAndFlagACrashLoop() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        #expect(policy.crashLoopThreshold == 3)
        var now = t0
        var expectedDelays: [Duration] = []
        var actualDelays: [Duration] = []
        for failure in 1...9 {
            let pid = Int32(100 + failure)
            #expect(core.tick(now: now) == [.spawn(.turn)])
            core.spawned(.turn, pid: pid, now: now)
            let exit = now + .milliseconds(20)
            #expect(core.exited(pid: pid, status: .exited(1), now: exit) == [.removeSocket(.turn)])
            #expect(core.record(.turn)?.consecutiveFailures == failure)
            guard case .backoff(let until) = core.lifecycle(.turn) else {
                let lifecycle = String(describing: core.lifecycle(.turn))
                Issue.record("expected backoff after failure \(failure), got \(lifecycle)")
                return
            }
            actualDelays.append(until - exit)
            expectedDelays.append(policy.backoff(afterConsecutiveFailures: failure))
            #expect(core.tick(now: until - .milliseconds(1)) == [])
            now = until
        }
        #expect(actualDelays == expectedDelays)
        #expect(
            actualDelays.map { $0 / .milliseconds(1) }
                == [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
        #expect(core.record(.turn)!.consecutiveFailures >= policy.crashLoopThreshold)
        #expect(core.record(.turn)?.restarts == 8)
    }

    @Test func aFailureAfterAStableRunResetsTheCount() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        // Two quick failures.
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        core.spawned(.turn, pid: 1, now: t0)
        _ = core.exited(pid: 1, status: .exited(1), now: at(10))
        #expect(core.tick(now: at(260)) == [.spawn(.turn)])
        core.spawned(.turn, pid: 2, now: at(260))
        _ = core.exited(pid: 2, status: .exited(1), now: at(270))
        #expect(core.record(.turn)?.consecutiveFailures == 2)

        // Then up for exactly stableAfter (counted from ready).
        core.bringUp(.turn, pid: 3, now: at(1_000))
        let crash = at(1_000) + policy.stableAfter
        _ = core.exited(pid: 3, status: .signaled(SIGABRT), now: crash)
        #expect(core.record(.turn)?.consecutiveFailures == 1)
        #expect(core.lifecycle(.turn) == .backoff(until: crash + policy.backoffInitial))
        #expect(core.record(.turn)?.restarts == 2)
    }

    @Test func aFailureJustBeforeStableKeepsCounting() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 1, now: t0)
        _ = core.exited(pid: 1, status: .exited(2), now: at(10))
        core.bringUp(.turn, pid: 2, now: at(260))
        _ = core.exited(pid: 2, status: .exited(2), now: at(260) + policy.stableAfter - .milliseconds(1))
        #expect(core.record(.turn)?.consecutiveFailures == 2)
    }

    @Test func aHangAfterAStableRunResetsTheCount() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 1, now: t0)
        _ = core.exited(pid: 1, status: .exited(1), now: at(10))
        core.bringUp(.turn, pid: 2, now: at(260))
        // Up for two minutes, then silent.
        var now = at(260) + .seconds(120)
        for _ in 1...policy.healthFailuresBeforeRestart {
            _ = core.tick(now: now)
            _ = core.healthChecked(.turn, pid: 2, outcome: .noAnswer, now: now)
            now += policy.healthInterval
        }
        #expect(core.killing(.turn) == Killing(pid: 2, reason: "hung: no answer to 3 health checks"))
        _ = core.exited(pid: 2, status: .signaled(SIGKILL), now: now)
        let failures = core.record(.turn)?.consecutiveFailures
        #expect(failures == 1)
    }

    // MARK: Health

    @Test func silentRunningComponentIsKilledAsHung() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 101, now: t0)
        var now = t0
        for failure in 1..<policy.healthFailuresBeforeRestart {
            now += policy.healthInterval
            #expect(core.tick(now: now) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
            #expect(core.healthChecked(.turn, pid: 101, outcome: .noAnswer, now: now) == [], "failure \(failure)")
            #expect(core.lifecycle(.turn) == .running(pid: 101, since: t0))
        }
        now += policy.healthInterval
        #expect(core.tick(now: now) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
        #expect(
            core.healthChecked(.turn, pid: 101, outcome: .noAnswer, now: now)
                == [.signal(.turn, pid: 101, signal: SIGKILL)])
        #expect(core.killing(.turn) == Killing(pid: 101, reason: "hung: no answer to 3 health checks"))
        // While killing, nothing else is asked of it.
        #expect(core.tick(now: now + .seconds(10)) == [])

        let exit = now + .milliseconds(5)
        #expect(core.exited(pid: 101, status: .signaled(SIGKILL), now: exit) == [.removeSocket(.turn)])
        #expect(core.lifecycle(.turn) == .backoff(until: exit + policy.backoffInitial))
        #expect(core.record(.turn)?.lastExit?.contains("hung") == true)
        #expect(core.record(.turn)?.consecutiveFailures == 1)
    }

    @Test func anAnswerResetsTheSilenceCount() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 101, now: t0)
        let outcomes: [HealthOutcome] = [.noAnswer, .noAnswer, .answered(ready: true), .noAnswer, .noAnswer]
        var now = t0
        for outcome in outcomes {
            now += policy.healthInterval
            #expect(core.tick(now: now) == [.checkHealth(.turn, pid: 101, timeout: policy.healthTimeout)])
            #expect(core.healthChecked(.turn, pid: 101, outcome: outcome, now: now) == [])
        }
        #expect(core.lifecycle(.turn) == .running(pid: 101, since: t0))
    }

    @Test func aStartingComponentThatNeverAnswersIsKilledAfterTheStartTimeout() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        core.spawned(.turn, pid: 7, now: t0)
        #expect(core.tick(now: t0) == [.checkHealth(.turn, pid: 7, timeout: policy.healthTimeout)])
        #expect(core.healthChecked(.turn, pid: 7, outcome: .noAnswer, now: at(1_000)) == [])
        #expect(core.lifecycle(.turn) == .starting(pid: 7, since: t0), "silence while starting is not a failure")
        let justBefore = core.tick(now: t0 + policy.startTimeout - .milliseconds(1))
        #expect(!justBefore.contains(.signal(.turn, pid: 7, signal: SIGKILL)))
        #expect(core.tick(now: t0 + policy.startTimeout) == [.signal(.turn, pid: 7, signal: SIGKILL)])
        #expect(core.killing(.turn) == Killing(pid: 7, reason: "not ready after 10 s"))
        #expect(core.exited(pid: 7, status: .signaled(SIGKILL), now: at(10_010)) == [.removeSocket(.turn)])
        #expect(core.record(.turn)?.lastExit == "not ready after 10 s")
        #expect(core.record(.turn)?.settled == true)
        #expect(core.lifecycle(.turn) == .backoff(until: at(10_010) + policy.backoffInitial))
    }

    @Test func staleResultsAreIgnored() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 100, now: t0)
        _ = core.exited(pid: 100, status: .exited(1), now: at(10))
        #expect(core.tick(now: at(260)) == [.spawn(.turn)])
        core.spawned(.turn, pid: 200, now: at(260))

        // The old process' answers must not make the new one ready or kill it.
        #expect(core.healthChecked(.turn, pid: 100, outcome: .answered(ready: true), now: at(270)) == [])
        #expect(core.lifecycle(.turn) == .starting(pid: 200, since: at(260)))
        #expect(core.exited(pid: 100, status: .exited(0), now: at(280)) == [])
        #expect(core.lifecycle(.turn) == .starting(pid: 200, since: at(260)))
        #expect(core.healthChecked(.turn, pid: 200, outcome: .answered(ready: true), now: at(290)) == [])
        #expect(core.lifecycle(.turn) == .running(pid: 200, since: at(290)))
        for _ in 0..<(policy.healthFailuresBeforeRestart * 2) {
            #expect(core.healthChecked(.turn, pid: 100, outcome: .noAnswer, now: at(300)) == [])
        }
        #expect(core.lifecycle(.turn) == .running(pid: 200, since: at(290)))

        // A spawn report nobody asked for is ignored too.
        core.spawned(.turn, pid: 300, now: at(310))
        #expect(core.lifecycle(.turn) == .running(pid: 200, since: at(290)))
    }

    // MARK: Stopping

    @Test func stopsInReverseOrderOneAtATime() {
        var core = SupervisorCore(policy: policy)
        core.bringUpAll(now: t0)
        let stop = at(500)
        #expect(core.beginStop(now: stop) == [.requestStop(.sip, pid: 103)])
        #expect(core.isStopping)
        #expect(core.lifecycle(.sip) == .stopping(pid: 103, step: .requested, deadline: stop + policy.stopTimeout))
        #expect(core.lifecycle(.bridge) == .running(pid: 102, since: t0))
        // No health checks while stopping, and the bridge waits for sip.
        #expect(core.tick(now: at(2_000)) == [])

        #expect(core.exited(pid: 103, status: .exited(0), now: at(2_100)) == [.removeSocket(.sip)])
        #expect(core.lifecycle(.sip) == .stopped)
        #expect(core.record(.sip)?.lastExit == "exit 0")
        #expect(core.tick(now: at(2_100)) == [.requestStop(.bridge, pid: 102)])
        #expect(core.tick(now: at(2_200)) == [])
        #expect(core.lifecycle(.turn) == .running(pid: 101, since: t0))

        #expect(core.exited(pid: 102, status: .exited(0), now: at(2_300)) == [.removeSocket(.bridge)])
        #expect(core.tick(now: at(2_300)) == [.requestStop(.turn, pid: 101)])
        #expect(!core.isStopped)
        #expect(core.exited(pid: 101, status: .exited(0), now: at(2_400)) == [.removeSocket(.turn)])
        #expect(core.tick(now: at(2_400)) == [])
        #expect(core.isStopped)
        // Stopping is not failing.
        #expect(core.records.allSatisfy { $0.consecutiveFailures == 0 && $0.restarts == 0 })
    }

    @Test func aComponentThatIgnoresTheStopRequestIsTerminatedThenKilled() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 5, now: t0)
        let stop = at(1_000)
        #expect(core.beginStop(now: stop) == [.requestStop(.turn, pid: 5)])
        #expect(core.tick(now: stop + policy.stopTimeout - .milliseconds(1)) == [])
        let term = stop + policy.stopTimeout
        #expect(core.tick(now: term) == [.signal(.turn, pid: 5, signal: SIGTERM)])
        #expect(core.lifecycle(.turn) == .stopping(pid: 5, step: .terminated, deadline: term + policy.stopTimeout))
        #expect(core.tick(now: term + policy.stopTimeout - .milliseconds(1)) == [])
        let kill = term + policy.stopTimeout
        #expect(core.tick(now: kill) == [.signal(.turn, pid: 5, signal: SIGKILL)])
        #expect(core.lifecycle(.turn) == .stopping(pid: 5, step: .killed, deadline: kill + policy.stopTimeout))
        #expect(core.exited(pid: 5, status: .signaled(SIGKILL), now: kill + .milliseconds(3)) == [.removeSocket(.turn)])
        #expect(core.record(.turn)?.lastExit == "signal 9 (SIGKILL)")
        #expect(core.isStopped)
    }

    @Test func aProcessThatSurvivesSIGKILLIsGivenUpOn() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        core.bringUp(.turn, pid: 5, now: t0)
        var now = t0
        #expect(core.beginStop(now: now) == [.requestStop(.turn, pid: 5)])
        now += policy.stopTimeout
        #expect(core.tick(now: now) == [.signal(.turn, pid: 5, signal: SIGTERM)])
        now += policy.stopTimeout
        #expect(core.tick(now: now) == [.signal(.turn, pid: 5, signal: SIGKILL)])
        now += policy.stopTimeout
        #expect(core.tick(now: now) == [])
        #expect(core.isStopped)
        #expect(core.record(.turn)?.lastExit == "did not exit after SIGKILL")
    }

    @Test func componentsInBackoffOrWaitingStopAtOnce() {
        var core = SupervisorCore(policy: policy)
        core.bringUp(.turn, pid: 101, now: t0)
        core.bringUp(.bridge, pid: 102, now: t0)
        #expect(core.tick(now: t0) == [.spawn(.sip)])
        core.spawned(.sip, pid: 103, now: t0)
        _ = core.exited(pid: 103, status: .exited(1), now: at(10))
        #expect(core.lifecycle(.sip) == .backoff(until: at(260)))

        #expect(core.beginStop(now: at(20)) == [.requestStop(.bridge, pid: 102)])
        #expect(core.lifecycle(.sip) == .stopped)
        // The backoff would have ended now; stopping wins.
        #expect(core.tick(now: at(300)) == [])
        #expect(core.lifecycle(.sip) == .stopped)

        var fresh = SupervisorCore(policy: policy)
        #expect(fresh.beginStop(now: t0) == [])
        #expect(fresh.isStopped)
    }

    @Test func aComponentKilledAsHungIsStillStoppedCleanly() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        core.spawned(.turn, pid: 9, now: t0)
        #expect(core.tick(now: t0 + policy.startTimeout).contains(.signal(.turn, pid: 9, signal: SIGKILL)))
        // SIGKILL is already on its way: the stop only waits for the exit.
        #expect(core.beginStop(now: at(10_001)) == [])
        #expect(core.exited(pid: 9, status: .signaled(SIGKILL), now: at(10_002)) == [.removeSocket(.turn)])
        #expect(core.isStopped)
    }

    @Test func aLaunchDuringStopIsStoppedOnceReported() {
        var core = SupervisorCore(policy: policy, components: [.turn])
        #expect(core.tick(now: t0) == [.spawn(.turn)])
        #expect(core.beginStop(now: at(1)) == [])
        core.spawned(.turn, pid: 11, now: at(2))
        #expect(core.tick(now: at(3)) == [.requestStop(.turn, pid: 11)])
        _ = core.exited(pid: 11, status: .exited(0), now: at(4))
        #expect(core.isStopped)
    }
}

@Suite struct ExitStatusTests {
    @Test func decodesWaitStatus() {
        #expect(ExitStatus(waitStatus: 0) == .exited(0))
        #expect(ExitStatus(waitStatus: 1 << 8) == .exited(1))
        #expect(ExitStatus(waitStatus: 255 << 8) == .exited(255))
        #expect(ExitStatus(waitStatus: 9) == .signaled(9))
        #expect(ExitStatus(waitStatus: 15) == .signaled(15))
        // 0x80 is the core-dump flag.
        #expect(ExitStatus(waitStatus: 0x80 | 11) == .signaled(11))
    }

    @Test func describesItself() {
        #expect(ExitStatus.exited(0).description == "exit 0")
        #expect(ExitStatus.exited(3).description == "exit 3")
        #expect(ExitStatus.signaled(9).description == "signal 9 (SIGKILL)")
        #expect(ExitStatus.signaled(SIGTERM).description == "signal 15 (SIGTERM)")
        #expect(ExitStatus.signaled(SIGSEGV).description == "signal 11 (SIGSEGV)")
        #expect(ExitStatus.signaled(SIGUSR1).description == "signal \(SIGUSR1)")
    }

    /// Runs `/bin/sh -c script` and returns what `waitpid` reported.
    private func run(_ script: String) throws -> ExitStatus {
        let words: [String] = ["/bin/sh", "-c", script]
        let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ)
        try #require(spawned == 0)
        var status: Int32 = 0
        var waited: pid_t
        repeat { waited = waitpid(pid, &status, 0) } while waited == -1 && errno == EINTR
        try #require(waited == pid)
        return ExitStatus(waitStatus: status)
    }

    @Test func decodesRealChildren() throws {
        #expect(try run("exit 0") == .exited(0))
        #expect(try run("exit 3") == .exited(3))
        #expect(try run("kill -9 $$") == .signaled(SIGKILL))
    }
}

@Suite struct SystemdNotifierTests {
    /// Binds a datagram socket at `path` (a leading NUL byte means the abstract namespace).
    private func bindDatagramSocket(_ pathBytes: [UInt8]) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(descriptor >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        if bound != 0 { close(descriptor) }
        try #require(bound == 0, "bind failed: errno \(errno)")
        return descriptor
    }

    private func receive(_ descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    @Test func sendsOneDatagramToTheNotifySocket() throws {
        let path = "/tmp/sd-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let descriptor = try bindDatagramSocket(Array(path.utf8))
        defer {
            close(descriptor)
            unlink(path)
        }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"])
        #expect(notifier.isActive)
        #expect(notifier.socketPath == path)
        #expect(notifier.watchdogInterval == .seconds(1))

        #expect(notifier.send("READY=1"))
        #expect(receive(descriptor) == "READY=1")
        #expect(notifier.send("STATUS=all running\nWATCHDOG=1"))
        #expect(receive(descriptor) == "STATUS=all running\nWATCHDOG=1")
        #expect(receive(descriptor) == nil, "one datagram per send")
    }

    @Test func abstractNamespaceSocket() throws {
        let name = "sd-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = try bindDatagramSocket([0] + Array(name.utf8))
        defer { close(descriptor) }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + name])
        #expect(notifier.send("STOPPING=1"))
        #expect(receive(descriptor) == "STOPPING=1")
    }

    @Test func inactiveWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.send("READY=1"))
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).isActive)
    }

    @Test func sendingToANonexistentSocketFails() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/tmp/sd-notify-none-\(getpid()).sock"])
        #expect(notifier.isActive)
        #expect(!notifier.send("READY=1"))
    }

    @Test func watchdogIsOnlyForTheNamedProcess() {
        let ours = SystemdNotifier(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "\(getpid())"])
        #expect(ours.watchdogInterval == .milliseconds(250))
        let theirs = SystemdNotifier(environment: ["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "\(getpid() + 1)"])
        #expect(theirs.watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval == nil)
    }
}

@Suite struct SupervisorLockTests {
    private static func lockPath() -> String {
        "/tmp/sd-lock-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).lock"
    }

    @Test func onlyOneHolderAtATime() throws {
        let path = Self.lockPath()
        defer { unlink(path) }
        #expect(SupervisorLock.holder(of: path).held == false)

        let lock = try SupervisorLock(path: path)
        #expect(lock.path == path)
        let holder = SupervisorLock.holder(of: path)
        #expect(holder.held)
        #expect(holder.pid == getpid())
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "\(getpid())\n")

        // flock locks belong to the open file description: a second open conflicts even here.
        do {
            let second = try SupervisorLock(path: path)
            second.release()
            Issue.record("a second lock on \(path) succeeded")
        } catch {
            guard case .alreadyRunning(let pid) = error else {
                Issue.record("expected .alreadyRunning, got \(error)")
                return
            }
            #expect(pid == getpid())
            #expect(error.description == "a supervisor already runs on this runtime directory (pid \(getpid()))")
        }

        lock.release()
        #expect(SupervisorLock.holder(of: path).held == false)
        #expect(access(path, F_OK) != 0, "release removes the file")

        let again = try SupervisorLock(path: path)
        #expect(SupervisorLock.holder(of: path).held)
        again.release()
    }

    @Test func unopenablePathIsReported() {
        let path = "/nonexistent-stagedoor-dir/supervisor.lock"
        do {
            let lock = try SupervisorLock(path: path)
            lock.release()
            Issue.record("locking \(path) succeeded")
        } catch {
            guard case .cannotOpen(let reported, let code) = error else {
                Issue.record("expected .cannotOpen, got \(error)")
                return
            }
            #expect(reported == path)
            #expect(code == ENOENT)
        }
    }
}

/// A `.killing` lifecycle without its start time, which the tests do not predict.
private struct Killing: Equatable {
    var pid: Int32
    var reason: String
}

extension SupervisorCore {
    fileprivate func killing(_ component: Component) -> Killing? {
        guard case .killing(let pid, let reason, _) = record(component)?.lifecycle else { return nil }
        return Killing(pid: pid, reason: reason)
    }
}
