import ArgumentParser
import Foundation
import Tokenization

/// `rlhf tokenizer decode --tokenizer DIR [IDS]`: reads a JSON array of ids, writes the decoded bytes.
struct TokenizerDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a JSON array of token ids (argument, --file, or standard input) and write the text.",
        discussion: "The exact decoded bytes are written to standard output, with no newline added."
    )

    @OptionGroup var tokenizer: TokenizerDirectoryOption

    @Option(name: .customLong("file"), help: ArgumentHelp("Read the JSON array from this file.", valueName: "FILE"))
    var file: String?

    @Flag(name: .customLong("skip-special"), help: "Leave out special tokens (BOS, EOS, PAD, extras).")
    var skipSpecial = false

    @Argument(help: "The ids as a JSON array, e.g. [0,1234,56]; read from standard input when absent.")
    var ids: String?

    func run() throws {
        let tok = try BPETokenizer(directory: URL(fileURLWithPath: tokenizer.directory))
        let data: Data
        if let ids {
            data = Data(ids.utf8)
        } else if let file {
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw ValidationError("Cannot read --file \(file): \(error.localizedDescription)")
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw ValidationError("The input is not a JSON array of token ids, e.g. [0,1234,56].")
        }
        var list: [Int32] = []
        list.reserveCapacity(array.count)
        for (i, v) in array.enumerated() {
            guard let n = v as? Int, n >= 0, n < tok.vocabSize else {
                throw ValidationError("Element \(i) (\(v)) is not a token id in 0..<\(tok.vocabSize).")
            }
            list.append(Int32(n))
        }
        let bytes = skipSpecial ? Array(tok.decode(list, skipSpecial: true).utf8) : tok.decodeBytes(list)
        FileHandle.standardOutput.write(Data(bytes))
    }
}
