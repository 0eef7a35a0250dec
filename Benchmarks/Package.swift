// swift-tools-version:6.1
import PackageDescription

/// Stagedoor's in-process benchmarks (ordo-one/benchmark), in a package of their own so that
/// their dependencies stay out of the product. Run with `scripts/bench` or, from this folder,
/// `swift package --allow-writing-to-package-directory benchmark`.
let package = Package(
    name: "stagedoor-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "stagedoor", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "TURNRelay",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StagedoorTURN", package: "stagedoor"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/TURNRelay",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "BridgeLeg",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StagedoorBridge", package: "stagedoor"),
            ],
            path: "Benchmarks/BridgeLeg",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
