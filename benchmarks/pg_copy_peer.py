#!/usr/bin/env python3
"""Peer for benchmarks/prefs-bench.sh: the same HH-RLHF file through psycopg 3 in Python.

1. raw COPY: parse, split at the last "\\n\\nAssistant:", COPY (prompt, chosen, rejected) into an unlogged table.
   This is the transfer ceiling: no hashing, no de-duplication, no labels.
2. naive row-by-row: the same rows with executemany INSERT (what a quick script would do).
Usage: pg_copy_peer.py URL FILE
"""
import json
import sys
import time

import psycopg

url, path = sys.argv[1], sys.argv[2]
S = "\n\nAssistant:"


def split(t):
    i = t.rfind(S) + len(S)
    return t[:i], t[i:]


with psycopg.connect(url) as conn:
    for mode in ("raw COPY", "row-by-row INSERT"):
        t0 = time.perf_counter()
        rows = []
        for line in open(path, encoding="utf-8"):
            r = json.loads(line)
            (p, c), (_, j) = split(r["chosen"]), split(r["rejected"])
            rows.append((p, c, j))
        with conn.transaction():
            conn.execute("DROP TABLE IF EXISTS peer_pairs")
            conn.execute("CREATE UNLOGGED TABLE peer_pairs (prompt text, chosen text, rejected text)")
            with conn.cursor() as cur:
                if mode == "raw COPY":
                    with cur.copy("COPY peer_pairs (prompt, chosen, rejected) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cur.executemany("INSERT INTO peer_pairs VALUES (%s, %s, %s)", rows)
        dt = time.perf_counter() - t0
        print(f"  peer psycopg {psycopg.__version__} {mode}: {dt:.3f} s, {len(rows) / dt:.0f} rows/s")
    conn.execute("DROP TABLE peer_pairs")
