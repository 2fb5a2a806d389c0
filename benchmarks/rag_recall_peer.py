#!/usr/bin/env python3
"""Peer check of `rlhf rag recall`: the same index file queried from Python's sqlite3 (FTS5, bm25()).

Re-implements the query building (quoted OR-of-words, stop words, names kept) and the SQuAD-normalised
answer containment independently of the Swift code, so the recall@k numbers of both must agree.

    swift run -c release rlhf rag index --knowledge pipelines/data/factbook1992-rag/kb.jsonl --out /tmp/fb --chunk-size 64 --overlap 16
    swift run -c release rlhf rag recall --knowledge /tmp/fb --questions pipelines/data/factbook1992-rag/qa_shared.jsonl
    python3 benchmarks/rag_recall_peer.py /tmp/fb/index.sqlite pipelines/data/factbook1992-rag/qa_shared.jsonl [title_weight]
"""
import json
import re
import sqlite3
import string
import sys
import time

STOP = set("""a an the and or but not no nor if then than so what which who whom whose when where why how
is are was were be been being am do does did done has have had having can could will would shall should may
might must i me my we our you your he him his she her it its they them their this that these those there here
of in on at to from by for with about as into onto over under between through during before after above below
up down out off s t tell please""".split())
PUNCT = set(string.punctuation)


def normalize(s):
    s = "".join(c for c in s.lower() if c not in PUNCT)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", s).split())


def contains(passage, answer):
    needle, hay = normalize(answer).split(), normalize(passage).split()
    return bool(needle) and any(hay[i:i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def or_query(question):
    content, everything, seen = [], [], set()
    for word in re.split(r"[\s\x00-\x1f\x7f]+", question):
        runs = re.findall(r"[^\W_]+", word.lower())
        if not runs or " ".join(runs) in seen:
            continue
        seen.add(" ".join(runs))
        is_name = bool(everything) and word[0].isupper()
        quoted = '"' + word.replace('"', '""') + '"'
        everything.append(quoted)
        if is_name or not all(r in STOP for r in runs):
            content.append(quoted)
    return " OR ".join(content or everything) or None


def main():
    index, questions = sys.argv[1], sys.argv[2]
    title_weight = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    rows = [json.loads(line) for line in open(questions) if line.strip()]
    hits = {1: 0, 3: 0, 5: 0}
    started = time.perf_counter()
    results = []
    for r in rows:
        q = or_query(r["question"])
        results.append(db.execute(
            "SELECT c.body FROM (SELECT rowid AS id, bm25(chunks_fts, ?, 1.0) AS s FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY s, rowid LIMIT 5) r JOIN chunks c ON c.id = r.id ORDER BY r.s, r.id",
            (title_weight, q)).fetchall() if q else [])
    seconds = time.perf_counter() - started
    for r, res in zip(rows, results):
        answers = r.get("answers") or [r["answer"]]
        first = next((i for i, (body,) in enumerate(res) if any(contains(body, a) for a in answers)), None)
        for k in hits:
            hits[k] += first is not None and first < k
    n = len(rows)
    print(f"n {n}  " + "  ".join(f"recall@{k} {hits[k] / n:.4f}" for k in hits)
          + f"  mean query {seconds / n * 1000:.2f} ms (top 5)")


if __name__ == "__main__":
    main()
