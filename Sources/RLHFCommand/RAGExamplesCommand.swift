import ArgumentParser
import Foundation
import Retrieval

/// `rlhf rag examples`: write the RA-DIT training examples (prompt, answer) of a QA file as JSONL.
struct RAGExamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "examples",
        abstract: "Build retrieval-augmented training examples (RA-DIT mix) from the training part of a QA file.")

    @OptionGroup var knowledgeOptions: KnowledgeOptions

    @Option(name: .long, help: "QA JSONL file.")
    var questions: String

    @Option(name: .long, help: "Share of the questions held out for evaluation (not written).")
    var evalFraction: Double = 0.3

    @Option(name: .long, help: "Seed of the train/eval split and of the example mix.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Passages per open-book prompt.")
    var topK: Int = 3

    @Option(name: .long, help: "Shares of retrieved, distractor-only and closed-book examples, e.g. 0.7,0.15,0.15; an optional fourth is the counterfactual share (answer substituted in passage and target).")
    var mix: String = "0.7,0.15,0.15"

    @Option(name: .long, help: "Output JSONL file (one example per line); without it only statistics are printed.")
    var out: String?

    func run() throws {
        let shares = mix.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard shares.count == 3 || shares.count == 4 else {
            throw ValidationError("--mix must be three or four numbers: retrieved,distractor_only,closed_book[,counterfactual], e.g. 0.6,0.1,0.1,0.2")
        }
        let index = try KnowledgeIndex(contentsOf: KnowledgeIndex.indexURL(knowledgeOptions.knowledge), titleWeight: knowledgeOptions.titleWeight)
        let examples = try QADataset.load(contentsOf: URL(fileURLWithPath: questions))
        let (train, eval) = try QADataset.split(examples, evalFraction: evalFraction, seed: seed)
        var builder = try RADITExampleBuilder(
            retriever: index, topK: topK,
            mix: RAGExampleMix(retrieved: shares[0], distractorOnly: shares[1], closedBook: shares[2],
                                counterfactual: shares.count == 4 ? shares[3] : 0), seed: seed)
        if builder.mix.counterfactual > 0 {
            // The stage reads names from the knowledge base's documents; the index holds the same text in chunks.
            let documents = try index.allChunks().map { KnowledgeDocument(id: $0.reference, title: $0.title, text: $0.text) }
            builder.counterfactualNames = CounterfactualSubstitution.names(in: documents, excluding: eval)
        }
        let built = try builder.build(train)
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var data = Data()
            for example in built {
                data.append(try encoder.encode(example))
                data.append(UInt8(ascii: "\n"))
            }
            try data.write(to: URL(fileURLWithPath: out), options: .atomic)
        }
        let words = built.map { $0.prompt.split(whereSeparator: { $0.isWhitespace }).count }
        var line = "train \(train.count), eval \(eval.count) (held out, not written)"
        for kind in RAGExampleKind.allCases {
            line += "; \(kind.rawValue) \(built.filter { $0.kind == kind }.count)"
        }
        let retrieved = built.filter { $0.kind == .retrieved }
        line += "; retrieved with answer \(retrieved.filter(\.containsAnswer).count)/\(retrieved.count)"
        line += "; prompt words mean \(words.isEmpty ? 0 : words.reduce(0, +) / words.count), max \(words.max() ?? 0)"
        print(line)
    }
}
