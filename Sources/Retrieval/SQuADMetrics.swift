import Foundation

// MARK: - SQuAD v1.1 answer metrics

/// Answer normalisation, exact match and token F1 exactly as the official SQuAD v1.1 evaluation
/// script defines them (Rajpurkar et al. 2016, `evaluate-v1.1.py`: `normalize_answer`,
/// `exact_match_score`, `f1_score`, `metric_max_over_ground_truths`), plus answer containment for
/// retrieval recall.
///
/// Character classes follow Python 3: punctuation is `string.punctuation` (ASCII only), a word
/// character (`\w`) is a letter (Lu, Ll, Lt, Lm, Lo), a character with a numeric value, or `_`.
public enum SQuADMetrics {
    /// Python's `string.punctuation`.
    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Lower-cases, removes ASCII punctuation, removes the articles a/an/the, collapses whitespace.
    ///
    /// Example: `normalize("The  Islamic State, of Afghanistan!") == "islamic state of afghanistan"`.
    public static func normalize(_ text: String) -> String {
        // 1. lower, 2. remove_punc
        var scalars = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars where !punctuation.contains(scalar) {
            scalars.append(scalar)
        }
        // 3. remove_articles: re.sub(r'\b(a|an|the)\b', ' ', text); an article must be a whole \w run.
        var withoutArticles = String.UnicodeScalarView()
        var run = String.UnicodeScalarView()
        func flush() {
            let word = String(run)
            if word == "a" || word == "an" || word == "the" {
                withoutArticles.append(" ")
            } else {
                withoutArticles.append(contentsOf: run)
            }
            run = String.UnicodeScalarView()
        }
        for scalar in scalars {
            if isWordCharacter(scalar) {
                run.append(scalar)
            } else {
                if !run.isEmpty { flush() }
                withoutArticles.append(scalar)
            }
        }
        if !run.isEmpty { flush() }
        // 4. white_space_fix: ' '.join(text.split())
        return tokens(of: String(withoutArticles)).joined(separator: " ")
    }

    /// 1 when the normalised texts are equal, else 0.
    public static func exactMatch(prediction: String, groundTruth: String) -> Double {
        normalize(prediction) == normalize(groundTruth) ? 1 : 0
    }

    /// Token F1 between the normalised prediction and reference (bag of tokens; 0 when none shared).
    public static func f1(prediction: String, groundTruth: String) -> Double {
        let predictionTokens = tokens(of: normalize(prediction))
        let truthTokens = tokens(of: normalize(groundTruth))
        var counts: [String: Int] = [:]
        for token in truthTokens { counts[token, default: 0] += 1 }
        var same = 0
        for token in predictionTokens {
            if let count = counts[token], count > 0 {
                counts[token] = count - 1
                same += 1
            }
        }
        guard same > 0 else { return 0 }
        let precision = Double(same) / Double(predictionTokens.count)
        let recall = Double(same) / Double(truthTokens.count)
        return 2 * precision * recall / (precision + recall)
    }

    /// Best exact match over the references (0 when there are none).
    public static func exactMatch(prediction: String, groundTruths: [String]) -> Double {
        groundTruths.map { exactMatch(prediction: prediction, groundTruth: $0) }.max() ?? 0
    }

    /// Best token F1 over the references (0 when there are none).
    public static func f1(prediction: String, groundTruths: [String]) -> Double {
        groundTruths.map { f1(prediction: prediction, groundTruth: $0) }.max() ?? 0
    }

    /// Whether the normalised answer occurs in the normalised passage as a run of whole tokens
    /// (so "1" is not found inside "1776"), as DPR's `has_answer` does (Karpukhin et al. 2020, sec. 5.1).
    /// An answer that normalises to nothing is never contained.
    public static func contains(passage: String, answer: String) -> Bool {
        contains(passageTokens: passageTokens(passage), answer: answer)
    }

    /// The normalised tokens of a passage, for `contains(passageTokens:answer:)` when many answers are
    /// looked up in the same passage.
    static func passageTokens(_ passage: String) -> [String] { tokens(of: normalize(passage)) }

    /// `contains(passage:answer:)` on a passage already split by `passageTokens`.
    static func contains(passageTokens haystack: [String], answer: String) -> Bool {
        let needle = tokens(of: normalize(answer))
        guard !needle.isEmpty else { return false }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    // MARK: Helpers

    static func tokens(of text: String) -> [String] {
        text.unicodeScalars.split(whereSeparator: { $0.properties.isWhitespace }).map { String(String.UnicodeScalarView($0)) }
    }

    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return scalar.properties.numericType != nil
        }
    }
}
