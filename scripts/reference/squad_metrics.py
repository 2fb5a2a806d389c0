#!/usr/bin/env python3
"""Reference values for the Retrieval target's SQuAD v1.1 metrics.

Implements normalize_answer, exact_match_score, f1_score and metric_max_over_ground_truths as the
official SQuAD v1.1 evaluation script (evaluate-v1.1.py, Rajpurkar et al. 2016) defines them, and
writes Tests/RetrievalTests/Fixtures/squad_metrics.json with the values for a fixed list of cases.

Run from the repository root: python3 scripts/reference/squad_metrics.py
"""
import json
import re
import string
from collections import Counter
from pathlib import Path


def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


CASES = [
    ("Paris", ["Paris"]),
    ("paris.", ["Paris"]),
    ("The Paris", ["Paris"]),
    ("the city of Paris", ["Paris"]),
    ("Islamic State of Afghanistan", ["Islamic State of Afghanistan"]),
    ("State of Afghanistan", ["Islamic State of Afghanistan"]),
    ("547,030 km2", ["547,030 km2"]),
    ("547030 km2", ["547,030 km2"]),
    ("547,030", ["547,030 km2"]),
    ("57,287,258", ["57,287,258"]),
    ("57 287 258", ["57,287,258"]),
    ("(147)", ["(147)"]),
    ("147", ["(147)"]),
    ("1.0079", ["1.0079"]),
    ("1.008", ["1.0079"]),
    ("afghani afghani", ["afghani"]),
    ("a an the", ["the"]),
    ("", ["Paris"]),
    ("Paris", [""]),
    ("", [""]),
    ("theatre", ["the atre"]),
    ("an_apple", ["apple"]),
    ("A\u00e9roport Charles-de-Gaulle", ["a\u00e9roport charles de gaulle"]),
    ("caf\u00e9 \u2013 bar", ["Caf\u00e9 bar"]),
    ("Denver Broncos", ["Broncos", "Denver Broncos", "the Broncos"]),
    ("four", ["4", "four"]),
    ("Kabul\nQuestion", ["Kabul"]),
    ("  Korea,   North ", ["Korea, North"]),
    ("It's the ruble", ["ruble"]),
    ("\u00bd cup", ["\u00bd"]),
]


def main():
    records = []
    for prediction, truths in CASES:
        records.append({
            "prediction": prediction,
            "ground_truths": truths,
            "normalized_prediction": normalize_answer(prediction),
            "exact_match": float(metric_max_over_ground_truths(exact_match_score, prediction, truths)),
            "f1": float(metric_max_over_ground_truths(f1_score, prediction, truths)),
        })
    out = Path(__file__).resolve().parents[2] / "Tests/RetrievalTests/Fixtures/squad_metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} cases to {out}")


if __name__ == "__main__":
    main()
