import ArgumentParser
import Foundation
import Preferences

/// `rlhf label --annotator NAME [--dataset NAME]`: pairwise labelling in the terminal.
struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Label comparisons in the terminal (each label is committed the moment it is given).",
        discussion: """
            Keys: a or 1 = the first response is better, b or 2 = the second is better, t = tie, s = skip,
            u = undo your last label, ? = guidelines, space/n/PgDn and p/PgUp = page, q = quit.
            The side shown first is random and recorded with the label.
            """)

    @Option(help: "Your annotator name.") var annotator: String
    @Option(help: "Dataset to label (default: the first with work left for you).") var dataset: String?
    @Option(help: "Guidelines file shown with '?' (default: annotations/guidelines.md).") var guidelines: String?
    @Option(help: "Lease on a comparison, in seconds, before it returns to the pool.") var lease: Double = 600
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if annotator.isEmpty || annotator.hasPrefix("import:") { throw ValidationError("--annotator must be a non-empty name not starting with import:") }
        if lease <= 0 { throw ValidationError("--lease must be positive (seconds)") }
    }

    func run() throws {
        let store = try database.connectMigrated("rlhf.label")
        try store.registerAnnotator(annotator)
        let name: String
        if let dataset { name = dataset } else {
            guard let first = try store.datasets().first(where: { ((try? store.progress(annotator: annotator, dataset: $0))?.remaining ?? 0) > 0 }) else {
                emit("nothing to label: no dataset has comparisons waiting for \(annotator)")
                return
            }
            name = first
        }
        _ = try store.progress(annotator: annotator, dataset: name)  // unknown dataset -> clear error before raw mode
        let terminal = try RawTerminal()
        defer { terminal.restore() }
        var session = LabelSession(store: store, annotator: annotator, dataset: name, lease: lease, guidelines: loadGuidelines())
        try session.run(terminal)
    }

    func loadGuidelines() -> String? {
        var candidates = [guidelines ?? "annotations/guidelines.md"]
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<5 { candidates.append(dir.appendingPathComponent("annotations/guidelines.md").path); dir = dir.deletingLastPathComponent() }
        for path in candidates { if let text = try? String(contentsOfFile: path, encoding: .utf8) { return text } }
        return nil
    }
}

/// The state of one labelling session: the current comparison, its random side order, paging, messages.
struct LabelSession {
    let store: PreferenceStore
    let annotator: String
    let dataset: String
    let lease: Double
    var screen: LabelScreen
    var current: Assignment?
    var shownFirst: LabelChoice = .a
    var rng = SystemRandomNumberGenerator()

    init(store: PreferenceStore, annotator: String, dataset: String, lease: Double, guidelines: String?) {
        self.store = store
        self.annotator = annotator
        self.dataset = dataset
        self.lease = lease
        self.screen = LabelScreen(title: "rlhf label · dataset \(dataset) · annotator \(annotator)")
        self.screen.help = guidelines
    }

    mutating func show(_ a: Assignment?) {
        current = a
        shownFirst = Bool.random(using: &rng) ? .a : .b
        screen.page = 0
        screen.showHelp = false
        if let a {
            screen.title = "rlhf label · dataset \(dataset) · annotator \(annotator) · comparison #\(a.comparisonId)"
            screen.prompt = a.prompt
            screen.first = shownFirst == .a ? a.responseA : a.responseB
            screen.second = shownFirst == .a ? a.responseB : a.responseA
        } else {
            screen.prompt = nil; screen.first = nil; screen.second = nil
        }
    }

    mutating func refreshProgress() {
        screen.progress = try? store.progress(annotator: annotator, dataset: dataset)
    }

    mutating func run(_ terminal: RawTerminal) throws {
        show(try store.nextAssignment(annotator: annotator, dataset: dataset, leaseSeconds: lease))
        refreshProgress()
        while true {
            let size = terminal.size
            terminal.draw(screen.render(width: size.width, height: size.height))
            let event = terminal.next()
            guard case let .key(key) = event else { continue }  // resize: redraw at the new size
            let pages = screen.pageCount(width: terminal.size.width, height: terminal.size.height)
            screen.message = ""
            switch key {
            case "q", "\u{3}":
                if let current { try? store.releaseAssignment(annotator: annotator, comparisonId: current.comparisonId) }
                return
            case "?":
                screen.showHelp.toggle(); screen.page = 0
            case " ", "n", "\u{1B}[6~", "\u{1B}[B", "j":
                screen.page = min(screen.page + 1, pages - 1)
            case "p", "\u{1B}[5~", "\u{1B}[A", "k":
                screen.page = max(screen.page - 1, 0)
            case "a", "1", "b", "2", "t", "s":
                guard !screen.showHelp, let current else { continue }
                let choice: LabelChoice
                switch key {
                case "a", "1": choice = shownFirst
                case "b", "2": choice = shownFirst == .a ? .b : .a
                case "t": choice = .tie
                default: choice = .skip
                }
                do {
                    try store.submitLabel(LabelSubmission(comparisonId: current.comparisonId, annotator: annotator,
                                                          choice: choice, shownFirst: shownFirst))
                    let said = ["a": "first better", "1": "first better", "b": "second better", "2": "second better", "t": "tie", "s": "skipped"][key] ?? key
                    show(try store.nextAssignment(annotator: annotator, dataset: dataset, leaseSeconds: lease))
                    screen.message = "saved #\(current.comparisonId): \(said)"
                } catch {
                    show(try store.nextAssignment(annotator: annotator, dataset: dataset, leaseSeconds: lease))
                    screen.message = "not saved: \(error)"
                }
                refreshProgress()
            case "u":
                if let current { try? store.releaseAssignment(annotator: annotator, comparisonId: current.comparisonId) }
                if let undone = try store.undoLastLabel(annotator: annotator, dataset: dataset, leaseSeconds: lease) {
                    show(undone)
                    screen.message = "undid your label on #\(undone.comparisonId)"
                } else {
                    show(try store.nextAssignment(annotator: annotator, dataset: dataset, leaseSeconds: lease))
                    screen.message = "nothing to undo"
                }
                refreshProgress()
            default:
                screen.message = "unknown key; press ? for help"
            }
        }
    }
}
