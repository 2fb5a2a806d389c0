import ArgumentParser
import Foundation
import Tokenization

/// `rlhf tokenizer encode --tokenizer DIR (--file FILE | TEXT)`: prints the ids as one JSON array.
struct TokenizerEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode text (or a file's bytes) and print the token ids as one JSON array."
    )

    @OptionGroup var tokenizer: TokenizerDirectoryOption

    @Option(name: .customLong("file"), help: ArgumentHelp("Encode this file's bytes instead of TEXT.", valueName: "FILE"))
    var file: String?

    @Flag(name: .customLong("allow-special"), help: "Match special tokens such as <|end_of_text|> written in the text.")
    var allowSpecial = false

    @Flag(name: .customLong("add-special-tokens"), help: "Apply the tokenizer's post-processor (prepends BOS for ours).")
    var addSpecialTokens = false

    @Flag(name: .customLong("stats"), help: "Also write bytes, tokens, seconds and MB/s of the encoding to standard error.")
    var stats = false

    @Argument(help: "The text to encode.")
    var text: String?

    func validate() throws {
        if (file == nil) == (text == nil) { throw ValidationError("Give either --file FILE or TEXT (exactly one).") }
    }

    func run() throws {
        let tok = try BPETokenizer(directory: URL(fileURLWithPath: tokenizer.directory))
        var ids: [Int32]
        var start = DispatchTime.now().uptimeNanoseconds
        var inputBytes = 0
        if let file {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw ValidationError("Cannot read --file \(file): \(error.localizedDescription)")
            }
            inputBytes = data.count
            start = DispatchTime.now().uptimeNanoseconds
            ids = data.withUnsafeBytes { tok.encode(bytes: $0.bindMemory(to: UInt8.self), allowSpecial: allowSpecial) }
            if addSpecialTokens { ids = tok.postProcessor.applying(to: ids) }
        } else {
            inputBytes = text?.utf8.count ?? 0
            ids = addSpecialTokens ? tok.encodeWithPostProcessor(text ?? "", allowSpecial: allowSpecial)
                                   : tok.encode(text ?? "", allowSpecial: allowSpecial)
        }
        if stats {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let line = String(format: "encoded %d bytes into %d tokens in %.3f s (%.2f MB/s)\n", inputBytes, ids.count, seconds,
                              Double(inputBytes) / max(seconds, 1e-9) / 1e6)
            FileHandle.standardError.write(Data(line.utf8))
        }
        print("[" + ids.map(String.init).joined(separator: ",") + "]")
    }
}
