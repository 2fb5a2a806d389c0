import Foundation
import Llama
import SafeTensors
@testable import Export

/// Export's adapter type (Llama also has a `LoRAAdapter`, the training-time layer adapter).
typealias LoRAAdapter = Export.PEFTAdapter

// MARK: - A minimal GGUF reader (independent of GGUFWriter) to check the written bytes

/// Parses a GGUF v3 file the way ggml's `gguf.cpp` does: header, key-values, tensor infos, aligned data.
struct ParsedGGUF {
    var version: UInt32 = 0
    var metadata: [(String, GGUFValue)] = []
    var tensors: [(name: String, dims: [Int], type: UInt32, offset: Int)] = []
    var dataStart = 0
    var bytes: [UInt8] = []

    func value(_ key: String) -> GGUFValue? { metadata.first { $0.0 == key }?.1 }

    /// The raw bytes of tensor `name` (`count` bytes from its offset).
    func data(of name: String, count: Int) -> [UInt8]? {
        guard let t = tensors.first(where: { $0.name == name }) else { return nil }
        return Array(bytes[(dataStart + t.offset)..<(dataStart + t.offset + count)])
    }

    init(_ data: Data) throws {
        bytes = [UInt8](data)
        var pos = 0
        func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard pos + MemoryLayout<T>.size <= bytes.count else { throw ParseError.truncated(pos) }
            var v: T = 0
            for i in 0..<MemoryLayout<T>.size { v |= T(bytes[pos + i]) << (8 * i) }
            pos += MemoryLayout<T>.size
            return v
        }
        func string() throws -> String {
            let n = Int(try read(UInt64.self))
            guard pos + n <= bytes.count else { throw ParseError.truncated(pos) }
            defer { pos += n }
            return String(decoding: bytes[pos..<(pos + n)], as: UTF8.self)
        }
        func value(_ type: UInt32) throws -> GGUFValue {
            switch type {
            case 0: return .uint8(try read(UInt8.self))
            case 1: return .int8(Int8(bitPattern: try read(UInt8.self)))
            case 2: return .uint16(try read(UInt16.self))
            case 3: return .int16(Int16(bitPattern: try read(UInt16.self)))
            case 4: return .uint32(try read(UInt32.self))
            case 5: return .int32(Int32(bitPattern: try read(UInt32.self)))
            case 6: return .float32(Float(bitPattern: try read(UInt32.self)))
            case 7: return .bool(try read(UInt8.self) != 0)
            case 8: return .string(try string())
            case 9:
                let elementType = try read(UInt32.self)
                let n = Int(try read(UInt64.self))
                var items: [GGUFValue] = []
                for _ in 0..<n { items.append(try value(elementType)) }
                return .array(GGUFValueType(rawValue: elementType) ?? .uint8, items)
            case 10: return .uint64(try read(UInt64.self))
            case 11: return .int64(Int64(bitPattern: try read(UInt64.self)))
            case 12: return .float64(Double(bitPattern: try read(UInt64.self)))
            default: throw ParseError.badType(type)
            }
        }
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("GGUF".utf8) else { throw ParseError.badMagic }
        pos = 4
        version = try read(UInt32.self)
        let tensorCount = Int(try read(UInt64.self)), kvCount = Int(try read(UInt64.self))
        for _ in 0..<kvCount {
            let key = try string()
            let type = try read(UInt32.self)
            metadata.append((key, try value(type)))
        }
        for _ in 0..<tensorCount {
            let name = try string()
            let n = Int(try read(UInt32.self))
            var dims: [Int] = []
            for _ in 0..<n { dims.append(Int(try read(UInt64.self))) }
            let type = try read(UInt32.self)
            let offset = Int(try read(UInt64.self))
            tensors.append((name, dims, type, offset))
        }
        var alignment = 32
        if case let .uint32(a)? = self.value("general.alignment") { alignment = Int(a) }
        dataStart = pos + (alignment - pos % alignment) % alignment
    }

    enum ParseError: Error { case badMagic, truncated(Int), badType(UInt32) }
}

// MARK: - Tiny model directories

enum TinyModel {
    /// A config with row lengths of 32 and 64 (quantisable), GQA (2 heads, 1 KV head) and 8 vocabulary slots.
    static func config(tied: Bool = false, hidden: Int = 32, intermediate: Int = 64) -> LlamaConfig {
        LlamaConfig(vocabSize: 8, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: 1,
                    numAttentionHeads: 2, numKeyValueHeads: 1, maxPositionEmbeddings: 64, tieWordEmbeddings: tied,
                    bosTokenId: 0, eosTokenId: 0, padTokenId: 1)
    }

    /// A byte-level BPE tokenizer.json (as HF tokenizers 0.23 writes it) with 6 tokens and one merge.
    static let tokenizerJSON = """
    {"version":"1.0","truncation":null,"padding":null,
     "added_tokens":[{"id":0,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
                     {"id":1,"content":"<|pad|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
     "normalizer":null,
     "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
     "post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
     "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,
              "fuse_unk":false,"byte_fallback":false,"ignore_merges":false,
              "vocab":{"<|endoftext|>":0,"<|pad|>":1,"a":2,"b":3,"ab":4,"Ġ":5},"merges":[["a","b"]]}}
    """

    /// Deterministic weights: element k of tensor t is `sin(0.37·k + t) / 4`.
    static func weights(_ config: LlamaConfig) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (t, tensor) in LlamaTensorLayout(config: config).tensors.enumerated() {
            out[tensor.name] = (0..<tensor.shape.reduce(1, *)).map { Float(sin(0.37 * Double($0) + Double(t))) / 4 }
        }
        return out
    }

    /// Writes a model directory; `dtype` is the safetensors storage.
    @discardableResult
    static func write(to dir: URL, config: LlamaConfig = config(), dtype: SafeTensorsDType = .f32,
                      adapter: (r: Int, alpha: Double, rslora: Bool)? = nil) throws -> [String: [Float]] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.write(to: dir.appendingPathComponent("config.json"))
        let w = weights(config)
        var writer = SafeTensorsWriter()
        for t in LlamaTensorLayout(config: config).tensors { try writer.add(t.name, shape: t.shape, floats: w[t.name]!, dtype: dtype) }
        try writer.write(to: dir.appendingPathComponent("model.safetensors"))
        try Data(tokenizerJSON.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        if let adapter {
            let layout = LlamaTensorLayout(config: config)
            var pairs: [String: PEFTAdapter.Pair] = [:]
            for t in layout.tensors where t.name.hasSuffix("q_proj.weight") || t.name.hasSuffix("down_proj.weight") {
                let a = (0..<(adapter.r * t.shape[1])).map { Float(cos(Double($0))) / 8 }
                let b = (0..<(t.shape[0] * adapter.r)).map { Float(sin(Double($0) * 0.5)) / 8 }
                pairs[t.name] = PEFTAdapter.Pair(a: a, b: b)
            }
            let cfg = PEFTAdapterConfig(r: adapter.r, loraAlpha: adapter.alpha, targetModules: ["q_proj", "down_proj"], useRslora: adapter.rslora)
            let lora = try PEFTAdapter(config: cfg, pairs: pairs, base: config)
            let adapterDir = dir.appendingPathComponent("adapter")
            try FileManager.default.createDirectory(at: adapterDir, withIntermediateDirectories: true)
            try lora.write(to: adapterDir, base: config)
        }
        return w
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("export-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
