#!/usr/bin/env python3
"""Reference values for Cohen's and Fleiss' kappa (Tests/PreferencesTests/Fixtures/kappa-reference.json).

Uses scikit-learn's cohen_kappa_score and statsmodels' fleiss_kappa on fixed, seeded random ratings over
the categories a/b/tie, plus Fleiss' 1971 worked example (10 items, 14 raters, 5 categories).
Run: pip install scikit-learn statsmodels && python3 scripts/reference/kappa_reference.py
"""
import json
import os
import random

from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

rng = random.Random(1234)
cats = ["a", "b", "tie"]
cohen = []
for n in (5, 17, 60):
    r1 = [rng.choice(cats) for _ in range(n)]
    # Correlated second rater: copies the first 60% of the time.
    r2 = [x if rng.random() < 0.6 else rng.choice(cats) for x in r1]
    cohen.append({"rater1": r1, "rater2": r2, "kappa": float(cohen_kappa_score(r1, r2))})

fleiss = []
for items, raters in ((8, 3), (25, 5)):
    table = []
    for _ in range(items):
        truth = rng.choice(range(3))
        row = [0, 0, 0]
        for _ in range(raters):
            row[truth if rng.random() < 0.7 else rng.choice(range(3))] += 1
        table.append(row)
    fleiss.append({"counts": table, "kappa": float(fleiss_kappa(table, method="fleiss"))})
wiki = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
fleiss.append({"counts": wiki, "kappa": float(fleiss_kappa(wiki, method="fleiss"))})

out = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "PreferencesTests", "Fixtures", "kappa-reference.json")
with open(out, "w") as f:
    json.dump({"cohen": cohen, "fleiss": fleiss}, f, indent=1)
print("wrote", os.path.normpath(out))
