import Configuration
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real binaries, started through the `stagedoor` CLI on a temporary runtime directory.
/// Serialized: each test owns real processes and this machine has two cores.
@Suite(.serialized)
struct StackLifecycleTests {
    @Test func startStatusStopLeavesNothingBehind() throws {
        let stack = try StackHarness()
        let started = try stack.cli(["start"])
        #expect(started.status == 0, "start: \(started.errors)")

        let status = try stack.status()
        #expect(status.exitStatus == 0)
        #expect(status.components.map { $0["name"] as? String } == ["turn", "bridge", "sip"])
        #expect(status.allRunning)
        let supervisor = try #require(status.supervisorPID)
        #expect(isAlive(supervisor))
        #expect(stack.executableName(of: supervisor) == "stagedoor-supervisor")
        for name in ["turn", "bridge", "sip"] {
            let pid = try #require(status.pid(name), "\(name) has no pid")
            #expect(isAlive(pid))
            #expect(stack.executableName(of: pid) == "stagedoor-\(name)")
        }
        // The sockets and the directory that holds them are private to the service user.
        var info = stat()
        #expect(stat(stack.runtimeDirectory, &info) == 0 && info.st_mode & 0o777 == 0o700)
        for name in ["supervisor", "turn", "bridge", "sip"] {
            #expect(stat(stack.runtimeDirectory + "/\(name).sock", &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
        let table = try stack.cli(["status"])
        #expect(table.status == 0)
        #expect(table.output.contains("turn") && table.output.contains("running"))

        let pids = [supervisor] + ["turn", "bridge", "sip"].compactMap(status.pid)
        let stopped = try stack.cli(["stop"])
        #expect(stopped.status == 0, "stop: \(stopped.errors)")
        #expect(pids.allSatisfy { !isAlive($0) }, "a process survived stop")
        #expect(stack.processes().isEmpty)
        #expect(stack.socketsAndLock.isEmpty, "left behind: \(stack.socketsAndLock)")

        let after = try stack.cli(["status"])
        #expect(after.status == 3)
        // Stopping a stopped stack is fine.
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func startTwiceKeepsOneSupervisor() throws {
        let stack = try StackHarness()
        #expect(try stack.cli(["start"]).status == 0)
        let first = try #require(try stack.status().supervisorPID)
        let again = try stack.cli(["start"])
        #expect(again.status == 0)
        #expect(again.output.contains("already running"))
        #expect(try stack.status().supervisorPID == first)

        // A second supervisor started by hand refuses the same runtime directory.
        let direct = try StackHarness.run(
            StackHarness.binaryDirectory + "/stagedoor-supervisor",
            ["--config", stack.configPath], timeout: 20)
        #expect(direct.status != 0)
        #expect(direct.errors.contains("already runs"))
        let supervisors = stack.processes().filter { stack.executableName(of: $0) == "stagedoor-supervisor" }
        #expect(supervisors == [first])
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test(arguments: ["turn", "bridge", "sip"])
    func killedDaemonIsRestartedAlone(_ victim: String) throws {
        let stack = try StackHarness()
        #expect(try stack.cli(["start"]).status == 0)
        let before = try stack.status()
        let old = try #require(before.pid(victim))
        kill(old, SIGKILL)

        // The issue asks for a restart within 2 s (backoff starts at 250 ms).
        let after = try stack.waitForStatus(timeout: 2) {
            $0.pid(victim) != nil && $0.pid(victim) != old && $0.state(victim) == "running"
        }
        #expect(after.state(victim) == "running")
        #expect(after.pid(victim) != old)
        #expect(after.restarts(victim) == 1)
        #expect((after.component(victim)?["last_exit"] as? String)?.contains("SIGKILL") == true)
        for other in ["turn", "bridge", "sip"] where other != victim {
            #expect(after.pid(other) == before.pid(other), "\(other) was disturbed")
            #expect(after.restarts(other) == 0)
        }
        #expect(after.supervisorPID == before.supervisorPID)
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func crashLoopingDaemonBacksOffWhileOthersRun() throws {
        let stack = try StackHarness()
        // A daemon directory in which stagedoor-sip exits at once, every time.
        let daemons = stack.directory + "/bin"
        try FileManager.default.createDirectory(atPath: daemons, withIntermediateDirectories: true)
        for name in ["stagedoor-turn", "stagedoor-bridge"] {
            try FileManager.default.createSymbolicLink(
                atPath: daemons + "/" + name, withDestinationPath: StackHarness.binaryDirectory + "/" + name)
        }
        try "#!/bin/sh\necho 'stagedoor-sip: failing on purpose' >&2\nexit 3\n".write(
            toFile: daemons + "/stagedoor-sip", atomically: true, encoding: .utf8)
        chmod(daemons + "/stagedoor-sip", 0o755)

        let started = try stack.cli(["start", "--daemon-dir", daemons])
        #expect(started.status == 1, "start reports a degraded stack")
        let first = try stack.status()
        let window: TimeInterval = 4
        Thread.sleep(forTimeInterval: window)
        let later = try stack.status()

        #expect(later.exitStatus == 1)
        #expect(["backoff", "crash-loop"].contains(later.state("sip") ?? ""))
        #expect(later.state("sip") == "crash-loop", "3+ failures in a row show as a crash loop")
        #expect((later.component("sip")?["last_exit"] as? String) == "exit 3")
        #expect(later.component("sip")?["next_restart_in_s"] is Double)
        // 250 ms doubling: starts at 0, 0.25, 0.75, 1.75, 3.75 s — no busy loop.
        let restarts = try #require(later.restarts("sip"))
        #expect(restarts >= 2 && restarts <= 6, "restarts in \(window) s: \(restarts)")
        for other in ["turn", "bridge"] {
            #expect(later.state(other) == "running")
            #expect(later.pid(other) == first.pid(other))
        }
        #expect(try stack.cli(["stop"]).status == 0)
        #expect(stack.processes().isEmpty)
    }

    @Test func stoppedButAliveDaemonIsDetectedAndReplaced() throws {
        let stack = try StackHarness(supervisor: ["health_interval_ms": 300, "health_timeout_ms": 300])
        #expect(try stack.cli(["start"]).status == 0)
        let before = try stack.status()
        let hung = try #require(before.pid("bridge"))
        kill(hung, SIGSTOP)

        let after = try stack.waitForStatus(timeout: 10) {
            $0.pid("bridge") != nil && $0.pid("bridge") != hung && $0.state("bridge") == "running"
        }
        #expect(after.state("bridge") == "running")
        #expect(after.pid("bridge") != hung)
        #expect((after.component("bridge")?["last_exit"] as? String)?.contains("hung") == true)
        #expect(eventually(timeout: 2) { !isAlive(hung) }, "the hung process was not removed")
        #expect(after.pid("turn") == before.pid("turn"))
        #expect(after.pid("sip") == before.pid("sip"))
        #expect(try stack.cli(["stop"]).status == 0)
    }

    @Test func stopEscalatesToKillForADaemonThatDoesNotStop() throws {
        // Health checks are made lenient so that only the stop sequence deals with the daemon.
        let stack = try StackHarness(supervisor: ["health_failures": 100, "stop_timeout_ms": 400])
        #expect(try stack.cli(["start"]).status == 0)
        let status = try stack.status()
        let frozen = try #require(status.pid("turn"))
        kill(frozen, SIGSTOP)
        let stopped = try stack.cli(["stop"])
        #expect(stopped.status == 0)
        #expect(!isAlive(frozen))
        #expect(stack.processes().isEmpty)
        #expect(stack.socketsAndLock.isEmpty, "left behind: \(stack.socketsAndLock)")
        let log = try String(contentsOfFile: stack.runtimeDirectory + "/supervisor.log", encoding: .utf8)
        #expect(log.contains("signal=15") && log.contains("signal=9"), "stop request, then SIGTERM, then SIGKILL")
    }

    @Test func daemonsExitWhenTheSupervisorIsKilled() throws {
        let stack = try StackHarness()
        #expect(try stack.cli(["start"]).status == 0)
        let status = try stack.status()
        let daemons = ["turn", "bridge", "sip"].compactMap(status.pid)
        kill(try #require(status.supervisorPID), SIGKILL)
        #expect(eventually(timeout: 5) { daemons.allSatisfy { !isAlive($0) } }, "orphaned daemons kept running")
        // The stale sockets do not stop the next start.
        #expect(try stack.cli(["start"]).status == 0)
        #expect(try stack.status().allRunning)
        #expect(try stack.cli(["stop"]).status == 0)
    }
}
