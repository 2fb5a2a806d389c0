import Foundation
import Llama
import Tokenization
import XCTest

/// `rlhf pretrain` as a user runs it: exact resume after a real `kill -9`, and bad input.
final class PretrainCommandTests: XCTestCase {
    /// The `rlhf` executable built next to the test bundle.
    func rlhfBinary() throws -> URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("rlhf")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("the rlhf executable is not built next to the tests (\(Bundle.main.bundleURL.path)); run `swift build` first")
    }

    /// Four synthetic "books" of simple sentences (seeded), joined by three blank lines, and a BPE tokenizer.
    func makeCorpus(_ dir: TestDirectory) throws -> (corpus: URL, tokenizer: URL) {
        let subjects = ["the cat", "a dog", "the old king", "my sister", "the rabbit", "a small bird"]
        let verbs = ["sat on", "looked at", "ran to", "found", "sang about", "dreamed of"]
        let objects = ["the mat", "a garden", "the river", "an apple", "the moon", "a red door"]
        var state: UInt64 = 12345
        func pick(_ a: [String]) -> String {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return a[Int((state >> 33) % UInt64(a.count))]
        }
        let books = (0..<4).map { _ in
            (0..<500).map { _ in "\(pick(subjects)) \(pick(verbs)) \(pick(objects))." }.joined(separator: " ")
        }
        let corpus = dir.path("corpus.txt")
        try books.joined(separator: "\n\n\n\n").write(to: corpus, atomically: true, encoding: .utf8)
        let tok = try BPETokenizer.train(texts: books, vocabSize: 320, logger: nil)
        let tokDir = dir.path("tokenizer")
        try tok.save(directory: tokDir)
        return (corpus, tokDir)
    }

    func arguments(_ c: (corpus: URL, tokenizer: URL), out: URL, extra: [String] = []) -> [String] {
        ["pretrain", "--tokenizer", c.tokenizer.path, "--corpus", c.corpus.path, "--out", out.path,
         "--validation-fraction", "0.25", "--hidden-size", "64", "--intermediate-size", "128", "--num-hidden-layers", "2",
         "--num-attention-heads", "4", "--num-key-value-heads", "2", "--max-position-embeddings", "64", "--seq-len", "64",
         "--batch-size", "4", "--steps", "400", "--save-steps", "200", "--eval-interval", "100", "--eval-batches", "2",
         "--logging-steps", "50", "--learning-rate", "3e-3", "--min-learning-rate", "3e-4", "--warmup-steps", "10",
         "--threads", "1", "--seed", "5"] + extra
    }

    @discardableResult
    func run(_ args: [String], expectSuccess: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = try rlhfBinary()
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if expectSuccess { XCTAssertEqual(p.terminationStatus, 0, text, file: file, line: line) }
        return (p.terminationStatus, text)
    }

    func testKillDashNineThenResumeGivesBitIdenticalWeights() throws {
        let dir = TestDirectory()
        let c = try makeCorpus(dir)
        // N steps straight.
        let (_, log) = try run(arguments(c, out: dir.path("straight")))
        XCTAssertTrue(log.contains("step=100 eval_loss="), log)
        XCTAssertTrue(log.contains("learning_rate="), log)
        // N/2 steps, kill -9 (the checkpoint of step N/2 is complete once its directory exists: it is renamed into place).
        let victim = Process()
        victim.executableURL = try rlhfBinary()
        victim.arguments = arguments(c, out: dir.path("killed"))
        victim.standardOutput = FileHandle.nullDevice
        victim.standardError = FileHandle.nullDevice
        try victim.run()
        let half = dir.path("killed/checkpoint-200")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: half.path), victim.isRunning, Date() < deadline { usleep(500) }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        XCTAssertEqual(victim.terminationReason, .uncaughtSignal, "rlhf pretrain finished before it could be killed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("killed/checkpoint-400").path))
        // Without --resume the directory is refused (nothing overwritten).
        let (status, message) = try run(arguments(c, out: dir.path("killed")), expectSuccess: false)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(message.contains("--resume"), message)
        // Resume for the other N/2.
        let (_, resumed) = try run(arguments(c, out: dir.path("killed"), extra: ["--resume"]))
        XCTAssertTrue(resumed.contains("resumed from checkpoint-200"), resumed)
        for file in ["model.safetensors", "checkpoint-400/optimizer.safetensors", "checkpoint-400/model.safetensors"] {
            let a = try Data(contentsOf: dir.path("straight/\(file)"))
            let b = try Data(contentsOf: dir.path("killed/\(file)"))
            XCTAssertEqual(a, b, "\(file) differs after kill -9 and resume")
        }
        // The output is a Hugging Face model directory with the tokenizer.
        for f in ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.path("killed/\(f)").path), f)
        }
        // generation_config.json as transformers 5.x writes it: no max_length (transformers warns when
        // generate() also gets max_new_tokens).
        let gen = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.path("killed/generation_config.json"))) as? [String: Any])
        XCTAssertNil(gen["max_length"])
        XCTAssertEqual(Set(gen.keys).subtracting(["bos_token_id", "eos_token_id", "pad_token_id"]),
                       ["_from_model_config", "output_attentions", "output_hidden_states", "use_cache"])
    }

    /// `--save-initial-checkpoint` writes `checkpoint-0` holding exactly the seeded initial weights (what a
    /// peer run such as benchmarks/pretrain_parity.py starts from), and a run resumed from it alone ends
    /// bit-identical to the straight run.
    func testSaveInitialCheckpointHoldsTheSeededInitialWeights() throws {
        let dir = TestDirectory()
        let c = try makeCorpus(dir)
        let short = ["--steps", "6", "--save-steps", "0", "--eval-interval", "3", "--warmup-steps", "2", "--save-total-limit", "3"]
        try run(arguments(c, out: dir.path("a"), extra: short + ["--save-initial-checkpoint"]))
        let ckpt0 = dir.path("a/checkpoint-0")
        let config = try LlamaConfig.load(contentsOf: ckpt0.appendingPathComponent("config.json"))
        let fresh = try LlamaModel(config: config, seed: 5)
        let saved = try LlamaModel(config: config, seed: 6)
        try saved.loadWeights(from: ckpt0.appendingPathComponent("model.safetensors"))
        for (p, q) in zip(fresh.parameters, saved.parameters) {
            XCTAssertEqual(p.value.toArray(), q.value.toArray(), "\(p.name) of checkpoint-0 is not the seeded initial weight")
        }
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: ckpt0.appendingPathComponent("trainer_state.json"))) as? [String: Any]
        XCTAssertEqual(state?["global_step"] as? Int, 0)
        // Resuming from checkpoint-0 only (the later one removed) reproduces the straight run.
        let b = dir.path("b")
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: ckpt0, to: b.appendingPathComponent("checkpoint-0"))
        try FileManager.default.copyItem(at: dir.path("a/data"), to: b.appendingPathComponent("data"))
        let (_, log) = try run(arguments(c, out: b, extra: short + ["--resume"]))
        XCTAssertTrue(log.contains("resumed from checkpoint-0"), log)
        XCTAssertEqual(try Data(contentsOf: dir.path("a/model.safetensors")), try Data(contentsOf: b.appendingPathComponent("model.safetensors")))
    }

    func testBadInputFailsWithAClearMessageAndWritesNothing() throws {
        let dir = TestDirectory()
        let c = try makeCorpus(dir)
        // Empty corpus.
        let empty = dir.path("empty.txt")
        try Data().write(to: empty)
        var (status, text) = try run(arguments((empty, c.tokenizer), out: dir.path("o1")), expectSuccess: false)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(text.contains("empty"), text)
        // Corpus shorter than one window.
        let short = dir.path("short.txt")
        try "a cat.\n\n\n\na dog.".write(to: short, atomically: true, encoding: .utf8)
        (status, text) = try run(arguments((short, c.tokenizer), out: dir.path("o2")), expectSuccess: false)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(text.contains("fewer than one window"), text)
        // seq_len above max_position_embeddings.
        (status, text) = try run(arguments(c, out: dir.path("o3"), extra: ["--seq-len", "65"]), expectSuccess: false)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(text.contains("max_position_embeddings"), text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("o3").path), "nothing written for a bad config")
        // A checkpoint from another config.
        try run(arguments(c, out: dir.path("o4"), extra: ["--steps", "4", "--save-steps", "2", "--warmup-steps", "1"]))
        let before = try Data(contentsOf: dir.path("o4/checkpoint-4/model.safetensors"))
        (status, text) = try run(arguments(c, out: dir.path("o4"), extra: ["--steps", "8", "--warmup-steps", "1", "--hidden-size", "32", "--resume"]),
                                 expectSuccess: false)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(text.contains("another model config") && text.contains("hidden_size"), text)
        XCTAssertEqual(try Data(contentsOf: dir.path("o4/checkpoint-4/model.safetensors")), before)
        XCTAssertEqual(try Data(contentsOf: dir.path("o4/model.safetensors")), before)
    }
}
