"""What the benchmark scripts share: arguments, the demo's data and budget, resumable results.

Results are JSON lines, one per finished row, so an interrupted run
resumes after the last row it finished.
"""

import argparse
import json
import os
import statistics
import time


def parser(description, results, rows, default_rows=None):
    """The common arguments: `--seeds`, `--rows`, `--results`, `--quick`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", default=list(default_rows or rows), choices=list(rows))
    parser.add_argument("--results", default=results)
    parser.add_argument("--quick", action="store_true", help="a smoke run: the demo's quick budget")
    return parser


def demo_budget(quick):
    """`(DemoConfig, data)`: the demo's budget and Fashion-MNIST splits (8k training images when quick)."""
    from keras_kd import demo
    from keras_kd.datasets import fashion_mnist

    base = demo.DemoConfig.quick() if quick else demo.DemoConfig()
    data = fashion_mnist.load_splits()
    if base.train_size:
        data = ((data[0][0][: base.train_size], data[0][1][: base.train_size]), data[1], data[2])
    return base, data


def load_records(path):
    """Every record of a results file (none if it does not exist yet)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_record(path, record):
    """Appends one finished row, so an interrupted run resumes after it (creating `path`'s folder)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
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


def interleaved_timing(runs, *, rounds=5, batch_size=128, samples=None):
    """Seconds per pass over the data of each compiled trainer, measured interleaved.

    `runs` maps a name to `(trainer, inputs, y)`. Each trainer first fits one
    untimed pass (tracing); then every round times one pass of each, back to
    back, so a slow spell of the machine hits them alike. `samples` limits
    each pass to the first `samples` rows (the per-epoch figure is then
    scaled by the row count). Returns `{name: [seconds per epoch, per round]}`.
    """
    import keras  # here: the scripts set KERAS_BACKEND before importing keras

    def first(value, n):
        return value if n is None else keras.tree.map_structure(lambda array: array[:n], value)

    def length(value):
        return len(keras.tree.flatten(value)[0])

    for trainer, inputs, y in runs.values():
        trainer.fit(first(inputs, samples), first(y, samples), batch_size=batch_size, epochs=1, verbose=0)
    epochs = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (trainer, inputs, y) in runs.items():
            part = first(inputs, samples)
            start = time.perf_counter()
            trainer.fit(part, first(y, samples), batch_size=batch_size, epochs=1, verbose=0)
            epochs[name].append((time.perf_counter() - start) * length(inputs) / length(part))
    return epochs


def print_timing(epochs, base):
    """Prints the medians and minimums of `interleaved_timing`, as ratios to the run `base`."""
    medians = {name: statistics.median(values) for name, values in epochs.items()}
    for name, value in medians.items():
        print(f"{name:16s} {value:6.1f} s/epoch (median of {len(epochs[name])})  {value / medians[base]:5.2f}x {base}  "
              f"(min {min(epochs[name]):.1f}: {min(epochs[name]) / min(epochs[base]):.2f}x)")
    return medians


def print_timing_records(records):
    """Prints each `--timing` record's medians; returns the other records (the rows)."""
    for record in records:
        if "timing" in record:
            print("timing (interleaved): " + ", ".join(
                f"{row} {value:.1f} s/epoch" for row, value in record["timing"]["median_seconds_per_epoch"].items()))
    return [r for r in records if "row" in r]
