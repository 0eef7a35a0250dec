#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

public enum SupervisorLockError: Error, CustomStringConvertible {
    case alreadyRunning(pid: Int32?)
    case cannotOpen(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .alreadyRunning(let pid):
            "a supervisor already runs on this runtime directory" + (pid.map { " (pid \($0))" } ?? "")
        case .cannotOpen(let path, let errno):
            "cannot open \(path): \(String(cString: strerror(errno)))"
        }
    }
}

/// An exclusive `flock` on `supervisor.lock` for the supervisor's lifetime, holding its pid.
/// The kernel drops the lock when the process dies, so a crash never leaves it stale.
public final class SupervisorLock: Sendable {
    private let descriptor: Int32
    public let path: String

    public init(path: String) throws(SupervisorLockError) {
        var descriptor: Int32 = -1
        // A releasing supervisor unlinks the file before closing it; whoever locked the old,
        // unlinked file must try again on the new one, or two could hold "the" lock.
        for _ in 0..<10 {
            descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw .cannotOpen(path: path, errno: errno) }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let holder = Self.readPID(descriptor)
                close(descriptor)
                throw .alreadyRunning(pid: holder)
            }
            var locked = stat()
            var current = stat()
            if fstat(descriptor, &locked) == 0, stat(path, &current) == 0, locked.st_ino == current.st_ino,
                locked.st_dev == current.st_dev
            {
                break
            }
            close(descriptor)
            descriptor = -1
        }
        guard descriptor >= 0 else { throw .cannotOpen(path: path, errno: ENOENT) }
        ftruncate(descriptor, 0)
        let text = "\(getpid())\n"
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        self.descriptor = descriptor
        self.path = path
    }

    /// Whether some process holds the lock at `path` now, and its pid.
    public static func holder(of path: String) -> (held: Bool, pid: Int32?) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return (false, nil) }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return (false, nil)
        }
        return (true, readPID(descriptor))
    }

    private static func readPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the file and releases the lock (in that order, so no one locks a deleted file).
    public func release() {
        unlink(path)
        close(descriptor)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        String(drop(while: set.contains).reversed().drop(while: set.contains).reversed())
    }
}

extension Set where Element == Character {
    fileprivate static var whitespacesAndNewlines: Set<Character> { [" ", "\n", "\t", "\r"] }
}
