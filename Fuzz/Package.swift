// swift-tools-version:5.4
import PackageDescription

/// Coverage-guided libFuzzer targets for Stagedoor's pure decoders, in a package of their own (like
/// `Benchmarks/`) so that the sanitizer flags never reach the product's build. Built and run, for a
/// bounded time each, by `scripts/fuzz`, which passes `-sanitize=fuzzer,address` and
/// `-parse-as-library` with `-Xswiftc`: every Swift module is instrumented (STUN, TURN and SIP among
/// them) while C targets (swift-crypto's BoringSSL, NIO's shims) are compiled as usual. libFuzzer
/// supplies `main`; each target only defines `LLVMFuzzerTestOneInput`.
///
/// Tools version 5.4 on purpose: from 5.5 on, SwiftPM compiles an executable target's entry point as
/// `<Target>_main` and links with `--defsym main=<Target>_main`, which fails when libFuzzer provides
/// `main` (`undefined symbol 'FuzzSIP_main'`). Hence also Swift 5 language mode and no `platforms`.
/// Build with `--product`: a plain `swift build` here builds every target of the parent package too.
let package = Package(
    name: "stagedoor-fuzz",
    dependencies: [
        .package(name: "stagedoor", path: "..")
    ],
    targets: [
        /// STUN decoding (RFC 8489), integrity and fingerprint checks, ChannelData and TCP framing
        /// (RFC 8656 §12), and the TURN allocation server fed the same bytes.
        .executableTarget(
            name: "FuzzSTUN",
            dependencies: [.product(name: "StagedoorTURNCore", package: "stagedoor")]
        ),
        /// The SIP message parser, serializer, stream framer and URI parsers (RFC 3261).
        .executableTarget(
            name: "FuzzSIP",
            dependencies: [.product(name: "StagedoorSIP", package: "stagedoor")]
        ),
    ],
    swiftLanguageVersions: [.v5]
)
