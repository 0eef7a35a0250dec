// swift-tools-version:6.1
import PackageDescription

/// Stagedoor: an edge media gateway appliance. Four supervised daemons and one CLI that talk
/// over Unix domain sockets (see README.md and ../shared/ARCHITECTURE.md).
let package = Package(
    name: "stagedoor",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "stagedoor", targets: ["stagedoor"]),
        .executable(name: "stagedoor-supervisor", targets: ["stagedoor-supervisor"]),
        .executable(name: "stagedoor-turn", targets: ["stagedoor-turn"]),
        .executable(name: "stagedoor-sip", targets: ["stagedoor-sip"]),
        .executable(name: "stagedoor-bridge", targets: ["stagedoor-bridge"]),
        /// The TURN server as a library, for the in-process benchmarks in `Benchmarks/`.
        .library(name: "StagedoorTURN", targets: ["TURNService", "TURN", "STUN", "Configuration"]),
        /// The pure STUN codec and TURN allocation core, and the SIP library, for the fuzz targets in `Fuzz/`.
        .library(name: "StagedoorTURNCore", targets: ["TURN", "STUN"]),
        .library(name: "StagedoorSIP", targets: ["SIP"]),
        /// The bridge's pure media paths (and the WebRTC, Audio and RTP pieces they use), for the
        /// in-process benchmarks in `Benchmarks/`.
        .library(name: "StagedoorBridge", targets: ["Transcoding", "WebRTC", "Audio", "RTP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
    ],
    targets: [
        // MARK: C libraries from Debian's -dev packages, for the media and TLS work.
        .systemLibrary(
            name: "COpus", pkgConfig: "opus",
            providers: [.apt(["libopus-dev"])]),
        .systemLibrary(
            name: "CSRTP", pkgConfig: "libsrtp2",
            providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CALSA", pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]),

        /// glibc's process-spawning extensions that need _GNU_SOURCE.
        .target(name: "CProcessSpawn"),
        /// recvmmsg/sendmmsg (behind _GNU_SOURCE) and timerfd: the batched datagram IO.
        .target(name: "CDatagramBatch"),
        /// The UDP data plane the TURN relay and the bridge's media share: one thread, epoll,
        /// recvmmsg/sendmmsg over buffers allocated once, a steady tick.
        .target(
            name: "DatagramIO",
            dependencies: [
                "CDatagramBatch", "STUN",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),

        // MARK: Pure protocol and model libraries (no sockets, no clock).
        /// SIP (RFC 3261) messages, URIs, parser, serializer, stream framer and transaction state machines.
        .target(name: "SIP", dependencies: []),
        /// The transaction-stateful SIP edge proxy core (RFC 3261 §16): routing, flow tokens, trunks, limits.
        .target(
            name: "SIPProxy",
            dependencies: ["SIP", .product(name: "Crypto", package: "swift-crypto")]),
        /// SDP (RFC 8866) model, parser, serializer; the WebRTC answer and the AES67 port description.
        .target(name: "SDP"),
        /// RTP/RTCP (RFC 3550) codecs, receiver statistics and the rtcp-mux demultiplexer.
        .target(name: "RTP"),
        /// PCM conversion, packetizer, jitter buffer, drift control and resampler for the bridge.
        .target(name: "Audio"),
        /// WebRTC media termination: ICE-lite responder, DTLS-SRTP engine over OpenSSL memory BIOs,
        /// libsrtp2 sessions and libopus codecs. Sans-IO: no socket, time is an input.
        .target(
            name: "WebRTC",
            dependencies: ["STUN", "SDP", "RTP", "COpus", "CSRTP", "COpenSSL", "CSRTPCrypto"]),
        /// OpenSSL's AES-CTR, AES-GCM and SHA-1 plugged into libsrtp2 through its replace API:
        /// Debian builds libsrtp2 over NSS, which allocates several times per packet.
        .target(name: "CSRTPCrypto", dependencies: ["CSRTP", "COpenSSL"]),
        /// The bridge's media paths between a panel and a port: jitter buffers, Opus ⇄ 48 kHz PCM
        /// ⇄ L24/L16, drift compensation and the port's packet clock. Sans-IO: time is an input.
        .target(name: "Transcoding", dependencies: ["Audio", "RTP", "WebRTC"]),
        .target(
            name: "Configuration",
            dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "STUN",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .target(
            name: "TURN",
            dependencies: [
                "STUN",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .target(
            name: "TURNService",
            dependencies: [
                "TURN", "STUN", "Configuration", "Control", "DaemonSupport", "DatagramIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        /// `stagedoor-sip`'s workload: the driver around the SIPProxy core (UDP on DatagramIO, TCP, TLS, WS, WSS on NIO).
        .target(
            name: "SIPService",
            dependencies: [
                "SIPProxy", "SIP", "Configuration", "Control", "DaemonSupport", "DatagramIO", "STUN",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        /// The bridge's IO driver: WHIP over NIOHTTP1, UDP sockets per session and per port.
        .target(
            name: "BridgeService",
            dependencies: [
                "WebRTC", "Transcoding", "SDP", "RTP", "Audio", "STUN", "Configuration", "Control", "DaemonSupport",
                "DatagramIO",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "Control",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "Supervision",
            dependencies: [
                "Configuration", "Control", "DaemonSupport", "CProcessSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "DaemonSupport",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "Configuration", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // MARK: Executables: thin mains over the libraries.
        .executableTarget(
            name: "stagedoor",
            dependencies: [
                "Configuration", "Control", "DaemonSupport", "Supervision", "TURN", "SDP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "stagedoor-supervisor",
            dependencies: [
                "Supervision", "DaemonSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "stagedoor-turn",
            dependencies: [
                "DaemonSupport", "TURNService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "stagedoor-sip",
            dependencies: [
                "DaemonSupport", "SIPService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "stagedoor-bridge",
            dependencies: [
                "DaemonSupport", "BridgeService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: Tests
        .testTarget(name: "SIPTests", dependencies: ["SIP"]),
        .testTarget(name: "SIPProxyTests", dependencies: ["SIPProxy", "SIP"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP"]),
        .testTarget(name: "AudioTests", dependencies: ["Audio"]),
        .testTarget(name: "WebRTCTests", dependencies: ["WebRTC", "STUN", "SDP"]),
        .testTarget(name: "TranscodingTests", dependencies: ["Transcoding", "Audio", "RTP", "WebRTC"]),
        .testTarget(
            name: "BridgeServiceTests",
            dependencies: ["BridgeService", "Configuration", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"]),
        .testTarget(name: "STUNTests", dependencies: ["STUN"]),
        .testTarget(name: "DatagramIOTests", dependencies: ["DatagramIO", "STUN"]),
        .testTarget(name: "TURNTests", dependencies: ["TURN", "STUN"]),
        .testTarget(
            name: "ControlTests",
            dependencies: [
                "Control",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(
            name: "SupervisionTests",
            dependencies: [
                "Supervision", "Configuration", "DaemonSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "SystemLibraryTests", dependencies: ["COpus", "CSRTP", "COpenSSL", "CALSA"]),
        .testTarget(name: "StackTests", dependencies: ["Configuration", "SIP"]),
    ],
    swiftLanguageModes: [.v6]
)
