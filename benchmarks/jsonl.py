"""Resumable benchmark results: one JSON line per finished row, and paired gains."""

import json
import os
import statistics


def load_records(path):
    """Every record of a results file (none if it does not exist yet)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_record(path, record):
    """Appends one finished row, so an interrupted run resumes after it."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def accuracy_summary(by, row, seeds, baselines=("scratch", "kd")):
    """`(records, mean %, std %, {baseline: mean paired gain in points, or ""})` of one row."""
    mine = [by[(row, s)] for s in seeds if (row, s) in by]
    accuracies = [100 * r["test_accuracy"] for r in mine]
    gains = {}
    for base in baselines:
        paired = [100 * (r["test_accuracy"] - by[(base, r["seed"])]["test_accuracy"]) for r in mine if (base, r["seed"]) in by]
        gains[base] = f"{statistics.mean(paired):+.2f}" if paired and row != base else ""
    mean = statistics.mean(accuracies) if accuracies else float("nan")
    std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return mine, mean, std, gains
