import Foundation
import Logging
import XCTest
@testable import Preferences

/// Many annotators at once against a real server: overlap respected, nothing duplicated, nothing lost.
final class ConcurrencyTests: XCTestCase {
    var db: TestDatabase!

    override func setUpWithError() throws { db = try TestDatabase.make() }
    override func tearDown() { db?.drop() }

    func testEightAnnotatorsLabelTwoThousandComparisons() throws {
        let comparisons = 2_000, workers = 8, overlap = 2
        let setup = try db.store()
        let g = { (t: String) in GeneratedResponse(text: t, modelDigest: "sha256:test", generationParams: ["temperature": 1]) }
        let pairs = (0..<comparisons).map { (prompt: "prompt \($0)", a: g("a\($0)"), b: g("b\($0)")) }
        XCTAssertEqual(try setup.enqueueComparisons(dataset: "c", pairs: pairs), comparisons)
        try setup.ensureDataset("c", overlap: overlap)

        let lock = NSLock()
        var submitted: [String: Int] = [:]   // label UUID -> annotator index
        var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            do {
                let store = try PreferenceStore(url: db.url, logger: Logger(label: "w\(w)"))
                var rng = SystemRandomNumberGenerator()
                while let a = try store.nextAssignment(annotator: "annotator-\(w)", dataset: "c") {
                    let choice: LabelChoice = [.a, .b, .tie, .skip].randomElement(using: &rng)!
                    let label = LabelSubmission(comparisonId: a.comparisonId, annotator: "annotator-\(w)", choice: choice,
                                                shownFirst: Bool.random() ? .a : .b)
                    XCTAssertTrue(try store.submitLabel(label))
                    lock.lock(); submitted[label.labelId.uuidString.lowercased()] = w; lock.unlock()
                }
            } catch {
                lock.lock(); errors.append("worker \(w): \(error)"); lock.unlock()
            }
        }
        XCTAssertEqual(errors, [])
        // Annotators come back later, as with the labelling client: a comparison that was leased to others
        // when one of them asked may have been skipped since. Sequential passes until nobody gets work, so
        // the under-filled check below does not race with those last skips.
        let concurrentAnnotators = Set(submitted.values)
        let drain = try db.store()
        var rng = SystemRandomNumberGenerator()
        var gotWork = true
        while gotWork {
            gotWork = false
            for w in 0..<workers {
                while let a = try drain.nextAssignment(annotator: "annotator-\(w)", dataset: "c") {
                    let label = LabelSubmission(comparisonId: a.comparisonId, annotator: "annotator-\(w)",
                                                choice: [.a, .b, .tie, .skip].randomElement(using: &rng)!, shownFirst: .a)
                    XCTAssertTrue(try drain.submitLabel(label))
                    submitted[label.labelId.uuidString.lowercased()] = w
                    gotWork = true
                }
            }
        }

        // No lost label: every submitted UUID is stored, and nothing else.
        let stored = try db.query("SELECT label_uuid::text FROM labels")
        XCTAssertEqual(Set((0..<stored.rowCount).compactMap { stored.string($0, 0) }), Set(submitted.keys))
        // No duplicate: one label per (comparison, annotator).
        XCTAssertEqual(try db.query("""
            SELECT count(*) FROM (SELECT comparison_id, annotator_id FROM labels GROUP BY 1, 2 HAVING count(*) > 1) d
            """).int(0, 0), 0)
        // No comparison over its overlap (skips do not fill a slot); one below it only when every annotator
        // has already seen it (skipped), so nothing labellable was left behind.
        let fill = try db.query("""
            SELECT count(l.id) FILTER (WHERE l.choice <> 'skip'), count(DISTINCT l.annotator_id) FROM comparisons cm
            LEFT JOIN labels l ON l.comparison_id = cm.id GROUP BY cm.id
            """)
        XCTAssertEqual(fill.rowCount, comparisons)
        for i in 0..<fill.rowCount {
            let labelled = fill.int(i, 0) ?? -1, seenBy = fill.int(i, 1) ?? -1
            XCTAssertLessThanOrEqual(labelled, Int64(overlap))
            if labelled < Int64(overlap) { XCTAssertEqual(seenBy, Int64(workers), "an unfilled comparison was seen by every annotator") }
        }
        XCTAssertEqual(concurrentAnnotators, Set(0..<workers), "every annotator got work while all were labelling")
        // Snapshot reflects them: one pair per non-tied comparison.
        let snap = try setup.snapshot(dataset: "c")
        XCTAssertGreaterThan(snap.pairs.count, 0)
        XCTAssertLessThanOrEqual(snap.pairs.count, comparisons)
    }

    func testExpiredLeaseReturnsToPool() throws {
        let store = try db.store()
        let g = GeneratedResponse(text: "x", modelDigest: "d", generationParams: [:])
        _ = try store.enqueueComparisons(dataset: "l", pairs: [(prompt: "p", a: g, b: GeneratedResponse(text: "y", modelDigest: "d", generationParams: [:]))])
        let first = try XCTUnwrap(try store.nextAssignment(annotator: "ann", dataset: "l", leaseSeconds: 0.2))
        XCTAssertNil(try store.nextAssignment(annotator: "bob", dataset: "l"), "leased to ann")
        Thread.sleep(forTimeInterval: 0.4)
        let second = try XCTUnwrap(try store.nextAssignment(annotator: "bob", dataset: "l"))
        XCTAssertEqual(second.comparisonId, first.comparisonId)
        try store.submitLabel(LabelSubmission(comparisonId: second.comparisonId, annotator: "bob", choice: .a))
        // ann's lease lapsed and the comparison is full (overlap 1): her late label is refused, not stored.
        XCTAssertThrowsError(try store.submitLabel(LabelSubmission(comparisonId: first.comparisonId, annotator: "ann", choice: .b))) { error in
            XCTAssertEqual(error as? PreferenceError, .leaseLost(comparisonId: first.comparisonId, annotator: "ann"))
        }
        XCTAssertEqual(try db.query("SELECT count(*) FROM labels").int(0, 0), 1)
        // Full at overlap 1; raising the overlap re-opens it for a new annotator.
        XCTAssertNil(try store.nextAssignment(annotator: "cy", dataset: "l"))
        try store.ensureDataset("l", overlap: 2)
        XCTAssertEqual(try store.nextAssignment(annotator: "cy", dataset: "l")?.comparisonId, first.comparisonId)
    }
}
