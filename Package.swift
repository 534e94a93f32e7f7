// swift-tools-version:6.1
import PackageDescription

/// Warnings in our own code are errors; the language mode is 6 with strict concurrency everywhere.
let strictLanguage: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
/// And a module sees the members of the modules it imports, not of everything they import: a
/// `contains` on a String must not become Foundation's (which brings ICU, 34 MB, into the
/// package) because swift-crypto imports Foundation. S2SPeer goes without it: the importer
/// attributes Glibc's socket structs (`linger`, `sockaddr_in`) to SwiftNIO's CNIOLinux there.
let strict = strictLanguage + [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "s2s",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "s2sd", targets: ["s2sd"]),
        .executable(name: "s2sctl", targets: ["s2sctl"]),
        .executable(name: "s2s-notify", targets: ["s2s-notify"]),
        // The three in one binary, for the Debian package: one Swift runtime instead of three.
        .executable(name: "s2s", targets: ["s2s"]),
        .library(name: "S2SBus", targets: ["S2SBus"]),
        // The daemon's API for Swift programs: what s2sctl and s2s-notify are built on.
        .library(name: "S2SClient", targets: ["S2SClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // C libraries, bound through pkg-config.
        .systemLibrary(name: "CDBus", pkgConfig: "dbus-1", providers: [.apt(["libdbus-1-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSRT", pkgConfig: "srt", providers: [.apt(["libsrt-openssl-dev"])]),
        // Linux system calls that glibc does not wrap, or wraps process-wide.
        .target(name: "CLinux"),
        // BoringSSL's AEAD functions, from the copy swift-crypto links in (see its header).
        .target(name: "CBoringAEAD", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),

        // The one Swift owner of CLinux.
        .target(name: "S2SLinux", dependencies: ["CLinux"], swiftSettings: strict),
        .target(name: "S2SBus", dependencies: ["CDBus"], swiftSettings: strict),
        .target(
            name: "S2SSystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .target(name: "S2SCore", swiftSettings: strict),
        // The state database's SQLite: connections, transactions, migrations, backups.
        .target(name: "S2SSQLite", dependencies: ["CSQLite"], swiftSettings: strict),
        .target(
            name: "S2SProtocol",
            dependencies: ["CBoringAEAD", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict),
        .target(
            name: "S2SPeer",
            dependencies: [
                "S2SProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictLanguage),
        // NAT traversal: STUN (RFC 8489), what it tells about this host's NAT, punching through it.
        .target(
            name: "S2SNat",
            dependencies: ["S2SCore", "S2SLinux", "CSRT", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictLanguage),
        // What s2s does (endpoints, sending, receiving, the queue, relays, limits, state), with no
        // front-end: it must not depend on S2SBus, S2SSystemd or S2SDaemon (docs/architecture.md).
        .target(
            name: "S2SEngine",
            dependencies: [
                "S2SCore", "S2SProtocol", "S2SPeer", "S2SNat", "S2SLinux", "S2SSQLite", "CXXHash",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // The process: start-up, the service manager, and the engine's D-Bus adapter (Bus/).
        .target(
            name: "S2SDaemon",
            dependencies: [
                "S2SEngine", "S2SBus", "S2SSystemd", "S2SCore", "S2SPeer", "S2SNat", "S2SLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // s2sd's command line, shared by the executable s2sd and the multi-call binary s2s.
        .target(
            name: "S2SDaemonCLI",
            dependencies: [
                "S2SDaemon", "S2SEngine", "S2SSystemd", "S2SCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "s2sd", dependencies: ["S2SDaemonCLI"], swiftSettings: strict),
        // The one client library of the daemon's API: typed calls, its signals and replies parsed once.
        .target(name: "S2SClient", dependencies: ["S2SBus", "S2SCore"], swiftSettings: strict),
        .target(
            name: "S2SControl",
            dependencies: [
                "S2SBus", "S2SClient", "S2SCore", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "s2sctl", dependencies: ["S2SControl"], swiftSettings: strict),
        // The desktop notification agent: its logic, and the executable.
        .target(
            name: "S2SNotify",
            dependencies: [
                "S2SBus", "S2SClient", "S2SCore", "S2SSystemd", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // s2s-notify's command line, shared by the executable s2s-notify and the multi-call binary s2s.
        .target(
            name: "S2SNotifyCLI",
            dependencies: [
                "S2SNotify", "S2SBus", "S2SSystemd", "S2SCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(name: "s2s-notify", dependencies: ["S2SNotifyCLI"], swiftSettings: strict),
        // The Debian package's multi-call binary: s2sd, s2sctl or s2s-notify by the name it is run
        // by (argv[0]); the package installs it as /usr/lib/s2s/s2s with the three names as links.
        .executableTarget(
            name: "s2s",
            dependencies: [
                "S2SDaemonCLI", "S2SControl", "S2SNotifyCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),

        .testTarget(name: "S2SBusTests", dependencies: ["S2SBus"], swiftSettings: strict),
        .testTarget(name: "S2SCoreTests", dependencies: ["S2SCore"], swiftSettings: strict),
        .testTarget(name: "S2SSQLiteTests", dependencies: ["S2SSQLite"], swiftSettings: strict),
        .testTarget(name: "S2SProtocolTests", dependencies: ["S2SProtocol"], exclude: ["Vectors"], swiftSettings: strict),
        .testTarget(
            name: "S2SPeerTests",
            dependencies: ["S2SPeer", "S2SProtocol", .product(name: "NIOEmbedded", package: "swift-nio")],
            swiftSettings: strictLanguage),
        .testTarget(name: "S2SNatTests", dependencies: ["S2SNat", "S2SCore", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: strictLanguage),
        .testTarget(
            name: "S2SEngineTests", dependencies: ["S2SEngine", "S2SCore", "S2SLinux", "S2SSQLite", "S2SNat", "S2SProtocol"],
            swiftSettings: strict),
        .testTarget(name: "S2SDaemonTests", dependencies: ["S2SDaemon", "S2SEngine", "S2SBus", "S2SCore"], swiftSettings: strict),
        .testTarget(name: "S2SClientTests", dependencies: ["S2SClient", "S2SBus", "S2SCore"], swiftSettings: strict),
        .testTarget(name: "S2SControlTests", dependencies: ["S2SControl", "S2SClient", "S2SCore"], swiftSettings: strict),
        .testTarget(name: "S2SNotifyTests", dependencies: ["S2SNotify", "S2SClient", "S2SBus"], swiftSettings: strict),
        // The fuzzing harness (make fuzz; the unit suite runs a short seeded pass) and its corpus.
        .testTarget(
            name: "S2SFuzzTests",
            dependencies: ["S2SProtocol", "S2SPeer", "S2SBus", .product(name: "NIOEmbedded", package: "swift-nio")],
            exclude: ["Corpus"], swiftSettings: strict),
    ]
)
