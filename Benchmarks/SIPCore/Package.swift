// swift-tools-version:6.0
import PackageDescription

/// A callgrind micro-benchmark of the stagedoor SIP proxy core: instruction counts per call are the
/// repeatable judge of small changes that wall-clock CPU on a shared machine (±20 %) is not.
/// `Sources/SIP` and `Sources/SIPProxy` are symlinks to the repository's own, so a rebuild picks up
/// edits there. No dependencies (swift-crypto is stood in for), so it builds offline and quickly.
let package = Package(
    name: "sipbench",
    targets: [
        .target(name: "SIP", path: "Sources/SIP"),
        .target(name: "SIPProxy", dependencies: ["SIP", "Crypto"], path: "Sources/SIPProxy"),
        /// A stand-in for swift-crypto's `HMAC<SHA256>` / `SymmetricKey` (NOT cryptographic).
        .target(name: "Crypto", path: "Sources/Crypto"),
        /// valgrind/callgrind.h client requests (no-ops when not under valgrind).
        .target(name: "CCallgrind", path: "Sources/CCallgrind"),
        .executableTarget(name: "sipbench", dependencies: ["SIP", "SIPProxy", "CCallgrind"], path: "Sources/sipbench"),
    ],
    swiftLanguageModes: [.v6]
)
