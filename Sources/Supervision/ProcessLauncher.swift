import CProcessSpawn

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

public struct LaunchError: Error, CustomStringConvertible {
    public var executable: String
    public var errno: Int32
    public var description: String { "cannot start \(executable): \(String(cString: strerror(errno)))" }
}

/// Starts daemons with `posix_spawn` and reaps them with `waitpid`: the supervisor owns its
/// children directly rather than through a process library that reaps behind its back.
public enum ProcessLauncher {

    /// Spawns `executable` in a process group of its own (so a terminal's Ctrl-C reaches only
    /// the supervisor, which then stops the daemons in order), with every signal disposition
    /// reset to default and an empty signal mask: the supervisor's own signal handling
    /// (signals it ignores or blocks) must not leak into the daemons.
    /// With `detachedLog`, the child starts a session of its own (it outlives the terminal
    /// that started it), reads /dev/null and appends its output to that file.
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String], detachedLog: String? = nil
    ) throws(LaunchError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let detachedLog {
            flags |= stagedoor_spawn_setsid_flag()
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, detachedLog, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        // Only 0, 1 and 2 pass on: an inherited descriptor (a lock, a pipe someone waits on for
        // EOF, a listening socket) would otherwise live as long as the child.
        stagedoor_spawn_close_from(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw LaunchError(executable: executable, errno: result) }
        return pid
    }

    /// Every child that has exited since the last call, without blocking.
    public static func reapExited() -> [(pid: pid_t, status: ExitStatus)] {
        var exited: [(pid_t, ExitStatus)] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            exited.append((pid, ExitStatus(waitStatus: status)))
        }
        return exited
    }
}
