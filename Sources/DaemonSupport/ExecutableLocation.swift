import Foundation

/// Where the running executable lives: its siblings are the other Stagedoor executables.
public enum ExecutableLocation {
    public static func directory() -> String {
        let path =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }
}
