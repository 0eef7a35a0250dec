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
enum ProcessLauncher {
    /// Spawns `executable` in a process group of its own (so a terminal's Ctrl-C reaches only
    /// the supervisor, which then stops the daemons in order), with every signal disposition
    /// reset to default and an empty signal mask: the supervisor's own signal handling
    /// (signals it ignores or blocks) must not leak into the daemons.
    static func spawn(executable: String, arguments: [String], environment: [String: String]) throws(LaunchError)
        -> pid_t
    {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
        guard result == 0 else { throw LaunchError(executable: executable, errno: result) }
        return pid
    }

    /// Every child that has exited since the last call, without blocking.
    static func reapExited() -> [(pid: pid_t, status: ExitStatus)] {
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
