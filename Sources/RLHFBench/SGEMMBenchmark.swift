// `rlhf-bench sgemm`: the machine's cblas_sgemm throughput at the shapes the train step uses.

import ArgumentParser
import Foundation
import Tensors

// MARK: - sgemm

/// Measures `cblas_sgemm` GFLOP/s (2·M·N·K per call) at the reference train step's shapes and a square
/// 1024³, for each thread count; the best shape is the "peak" the train step's GFLOP/s is compared to.
struct SGEMMBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "Measure cblas_sgemm GFLOP/s (OpenBLAS) at the train step's shapes with 1 and 2 threads.")

    @Option(help: "Comma-separated OpenBLAS thread counts.")
    var threads: String = "1,2"

    @Option(help: "Seconds to spend per (shape, threads) measurement (after one warm-up call).")
    var seconds: Double = 1.0

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Shape: Codable {
        var name: String, transA: Bool, transB: Bool, m: Int, n: Int, k: Int
    }

    struct Result: Codable {
        var shape: String, m: Int, n: Int, k: Int, threads: Int, gflops: Double
    }

    struct Report: Codable {
        var openblasConfig: String
        var openblasCore: String
        var results: [Result]
        /// Best GFLOP/s over the shapes, per thread count (key: thread count).
        var peakGflops: [String: Double]
    }

    /// Shapes of the reference config (N = B·T = 2048 tokens, C 256, F 688, V 2048, T 256, D 32).
    static let shapes: [Shape] = [
        Shape(name: "square 1024", transA: false, transB: false, m: 1024, n: 1024, k: 1024),
        Shape(name: "q_proj fwd  x·W^T", transA: false, transB: true, m: 2048, n: 256, k: 256),
        Shape(name: "gate fwd    x·W^T", transA: false, transB: true, m: 2048, n: 688, k: 256),
        Shape(name: "down fwd    x·W^T", transA: false, transB: true, m: 2048, n: 256, k: 688),
        Shape(name: "gate dW     dy^T·x", transA: true, transB: false, m: 688, n: 256, k: 2048),
        Shape(name: "gate dx     dy·W", transA: false, transB: false, m: 2048, n: 256, k: 688),
        Shape(name: "lm_head fwd x·W^T", transA: false, transB: true, m: 2048, n: 2048, k: 256),
        Shape(name: "attn scores q·k^T", transA: false, transB: true, m: 256, n: 256, k: 32),
        Shape(name: "attn out    p·v", transA: false, transB: false, m: 256, n: 32, k: 256),
    ]

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--threads must be a comma-separated list of positive integers, got '\(threads)'")
        }
        let config = BLAS.configuration
        let core = BLAS.coreName
        if !json { print("OpenBLAS: \(config); core \(core)") }
        var results: [Result] = []
        var peak: [String: Double] = [:]
        for t in counts {
            BLAS.setThreads(t)
            for s in Self.shapes {
                let g = measure(s)
                results.append(Result(shape: s.name, m: s.m, n: s.n, k: s.k, threads: t, gflops: g))
                peak[String(t)] = max(peak[String(t)] ?? 0, g)
                if !json {
                    print(String(format: "threads %d  %-20@ M %5d N %5d K %5d  %7.1f GFLOP/s", t, s.name as NSString, s.m, s.n, s.k, g))
                }
            }
        }
        if json {
            try printJSON(Report(openblasConfig: config, openblasCore: core, results: results, peakGflops: peak))
        } else {
            for t in counts { print(String(format: "peak (best shape), %d thread(s): %.1f GFLOP/s", t, peak[String(t)] ?? 0)) }
        }
    }

    /// Best-of-repeats GFLOP/s of one shape (A, B random-ish, C overwritten with beta 0).
    private func measure(_ s: Shape) -> Double {
        let a = Tensor(shape: [s.m * s.k]), b = Tensor(shape: [s.k * s.n]), c = Tensor(shape: [s.m * s.n])
        for i in 0..<a.count { a[i] = Float(i % 7) * 0.01 }
        for i in 0..<b.count { b[i] = Float(i % 5) * 0.01 }
        let lda = s.transA ? s.m : s.k, ldb = s.transB ? s.k : s.n
        func call() {
            sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1, a: a.data, lda: lda,
                  b: b.data, ldb: ldb, beta: 0, c: c.data, ldc: s.n)
        }
        call()
        let flops = 2.0 * Double(s.m) * Double(s.n) * Double(s.k)
        var best = 0.0
        let end = monotonicSeconds() + seconds
        repeat {
            // Batches of calls long enough (~20 ms) for the clock to be exact.
            let reps = max(1, Int(1e9 / flops))  // ~20 ms at 50 GFLOP/s
            let t0 = monotonicSeconds()
            for _ in 0..<reps { call() }
            let dt = monotonicSeconds() - t0
            best = max(best, flops * Double(reps) / dt / 1e9)
        } while monotonicSeconds() < end
        return best
    }
}
