// swift-tools-version:6.0
//
// rlhf: a language model through pretraining, RAG knowledge injection and RLHF on one machine.
// One SwiftPM target per concern; see docs/architecture.md (from ../shared/DESIGN.md).
//
// Release builds of the numeric targets use -Ounchecked (no overflow/bounds traps in kernels).
// No CPU-specific flag (-march=...) is set, so the package builds on any x86_64/arm64 CPU;
// OpenBLAS picks its kernels at run time for the CPU it finds.
import PackageDescription

let numericFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "rlhf",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rlhf", targets: ["RLHFCommand"]),
        .executable(name: "rlhf-bench", targets: ["RLHFBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // MARK: - Numerical core and model
        .target(name: "Tensors", dependencies: ["CBLAS"], swiftSettings: numericFlags),
        .target(name: "JSONText"),
        .target(name: "SafeTensors", dependencies: ["JSONText"], swiftSettings: numericFlags),
        .target(name: "Llama", dependencies: ["Tensors", "SafeTensors"], swiftSettings: numericFlags),
        .target(
            name: "Tokenization",
            dependencies: [.product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: numericFlags),
        .target(
            name: "Training",
            dependencies: ["Tensors", "Llama", "SafeTensors", "JSONText", "Tokenization", .product(name: "Logging", package: "swift-log")],
            swiftSettings: numericFlags),

        // MARK: - Stages' domains
        .target(
            name: "Retrieval",
            dependencies: ["Tensors", "Llama", "Tokenization", "Training", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: numericFlags),
        .target(
            name: "Preferences",
            dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Alignment",
            dependencies: ["Tensors", "Llama", "SafeTensors", "Training", "Tokenization", .product(name: "Logging", package: "swift-log")],
            swiftSettings: numericFlags),
        .target(
            name: "Export",
            dependencies: ["Llama", "SafeTensors", "Tokenization", .product(name: "Logging", package: "swift-log")],
            swiftSettings: numericFlags),

        // MARK: - Orchestration
        .target(
            name: "Pipeline",
            dependencies: ["JSONText", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Yams", package: "Yams"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Stages",
            dependencies: ["Pipeline", "Tokenization", "Tensors", "Llama", "Training", "Retrieval", "Preferences", "Alignment", "Export",
                           .product(name: "Logging", package: "swift-log")]),

        // MARK: - Executables
        .executableTarget(
            name: "RLHFCommand",
            dependencies: ["Stages", "Pipeline", "Tokenization", "Llama", "Training", "Retrieval", "Preferences",
                           "Alignment", "Export", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "RLHFBench",
            dependencies: ["Tensors", "Llama", "Training", "Tokenization", "Alignment",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: numericFlags),

        // MARK: - Tests (run in release: `swift test -c release -Xswiftc -enable-testing`)
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "Tensors", "SafeTensors", "Training"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Llama", "Tensors", "Tokenization"]),
        .testTarget(name: "RetrievalTests", dependencies: ["Retrieval", "Tensors", "Llama", "Tokenization"], resources: [.copy("Fixtures")]),
        // -
        .testTarget(name: "PreferencesTests", dependencies: ["Preferences"], resources: [.copy("Fixtures")]),
        // -
        .testTarget(name: "AlignmentTests", dependencies: ["Alignment", "Llama", "Tensors", "Training"], resources: [.copy("Fixtures")]),
        // -
        .testTarget(name: "ExportTests", dependencies: ["Export", "Llama", "SafeTensors", "Tokenization",
                                                     .product(name: "Logging", package: "swift-log")]),
        // -
        .target(name: "PipelineTestSupport", dependencies: ["Pipeline", .product(name: "Logging", package: "swift-log")],
                path: "Tests/PipelineTestSupport"),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "PipelineTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        // -
        .testTarget(name: "EndToEndTests", dependencies: ["Stages", "Pipeline"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Pipeline", "PipelineTestSupport", "Export", "Llama", "Tokenization", "Preferences", "Alignment", "SafeTensors",
                                                    .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v5]
)
