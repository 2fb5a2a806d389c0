import Foundation

// MARK: - Safe FTS5 queries from user text

/// Turns free text (a user's question) into an FTS5 MATCH expression that can never be a syntax error.
///
/// The question is split on whitespace and control characters; each word is written as an FTS5 string (`"..."`, inner double
/// quotes doubled), so `AND`, `OR`, `NOT`, `NEAR`, `*`, `^`, `-`, `:`, `(`, `)` and quotes in it are
/// plain text, and FTS5's own tokenizer then splits the string into a phrase (`"547,030"` is the
/// phrase `547 030`, `"U.S."` is `u s`). Words without any letter or digit produce no token and are
/// dropped, as are stop words (`what`, `is`, `the`...) unless every word is one or the word is
/// capitalised after the first word (a name or symbol: "Which element has the symbol He?"). The strings are
/// joined with `OR`, so a chunk matches when it shares any content word and BM25 ranks chunks
/// sharing more (and rarer) words first. Source: sqlite.org `fts5.html`, sections 3.1-3.3 (strings,
/// phrases, the OR operator).
///
/// Example: `FTS5Query.orQuery(from: "What is the capital of \"Korea, North\"?")` is
/// `"capital" OR """Korea," OR "North""?"`.
public enum FTS5Query {
    /// The OR-of-words query for `text`, or nil when it has no word with a letter or digit.
    /// - Parameters:
    ///   - text: any user text.
    ///   - stopWords: lowercase words to drop (default `FTS5Query.englishStopWords`).
    public static func orQuery(from text: String, stopWords: Set<String> = englishStopWords) -> String? {
        var content: [String] = []
        var all: [String] = []
        var seen = Set<String>()
        // Control characters (NUL ends the query string inside SQLite) separate words like whitespace.
        let words = text.unicodeScalars
            .split(whereSeparator: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
            .map { Substring(String(String.UnicodeScalarView($0))) }
        for word in words {
            let terms = alphanumericRuns(word)
            guard !terms.isEmpty else { continue }
            let key = terms.joined(separator: " ")
            guard seen.insert(key).inserted else { continue }
            let quoted = quote(String(word))
            // A capitalised word after the first is a name or symbol ("He", "Be", "As", "The Gambia"), never a stop word.
            let isName = !all.isEmpty && word.unicodeScalars.first.map { $0.properties.isUppercase } == true
            all.append(quoted)
            if isName || !terms.allSatisfy({ stopWords.contains($0) }) { content.append(quoted) }
        }
        let chosen = content.isEmpty ? all : content
        return chosen.isEmpty ? nil : chosen.joined(separator: " OR ")
    }

    /// `text` as an FTS5 string: wrapped in double quotes, each inner double quote doubled.
    ///
    /// Example: `quote("say \"hi\"")` is `"say ""hi"""`.
    public static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Lowercased maximal runs of letters and digits of `word` (what FTS5's unicode61 tokenizer keeps).
    static func alphanumericRuns(_ word: Substring) -> [String] {
        var runs: [String] = []
        var current = ""
        for scalar in word.unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                runs.append(current.lowercased())
                current = ""
            }
        }
        if !current.isEmpty { runs.append(current.lowercased()) }
        return runs
    }

    /// A short English stop-word list: question words, articles, auxiliaries, pronouns, prepositions.
    public static let englishStopWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "not", "no", "nor", "if", "then", "than", "so",
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
        "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done",
        "has", "have", "had", "having", "can", "could", "will", "would", "shall", "should", "may", "might", "must",
        "i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its",
        "they", "them", "their", "this", "that", "these", "those", "there", "here",
        "of", "in", "on", "at", "to", "from", "by", "for", "with", "about", "as", "into", "onto", "over",
        "under", "between", "through", "during", "before", "after", "above", "below", "up", "down", "out", "off",
        "s", "t", "tell", "please",
    ]
}
