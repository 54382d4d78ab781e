"""What a distillation step costs beyond the work it cannot avoid.

Times, in one process on Fashion-MNIST-shaped batches (128 x 28 x 28 x 1)
with the reference teacher and student (`keras_kd.zoo`):

- the student's own train step (`student.fit`);
- the teacher's forward pass (`training=False`, compiled);
- keras_kd's distill step (`keras_kd.Distiller.fit`, Hinton KD);
- Keras's distill step (`keras.distillation.Distiller.fit` with
  `LogitsDistillation(loss=KLDivergence())`, the correct KL);

and prints two ratios:

- floor ratio = t(keras_kd step) / (t(student step) + t(teacher forward)),
  goal <= 1.03;
- Keras ratio = t(keras_kd step) / t(Keras Distiller step), goal <= 1.0.

Feature distillation on two feature pairs (student `block2`/`block3`
against teacher `block2`/`block3`) plus KD is timed four ways:

- keras_kd hint+KD: FitNets `Hint` on both pairs, each through the 1x1-conv
  + BN connector the Distiller builds (32->64 channels on 14x14, 32->128 on
  7x7), + `KD`;
- Keras hint+KD: `keras.distillation.Distiller` with `LogitsDistillation`
  and one `FeatureDistillation` per pair on the same layers, whose loss is
  the very same computation: the same kind of connector (trained: the
  connectors are attached to the Keras Distiller, so they are among its
  trainable variables), then the MSE. The two rows do the same arithmetic
  but for Keras's second student pass, through its feature extractor:

    hint ratio = t(keras_kd hint+KD) / t(Keras hint+KD), goal <= 0.8;

- the same two without connectors, Keras's own loss objects in both
  Distillers (channel-averaged maps compared by MSE, as the widths differ):

    feature ratio = t(keras_kd, Keras's terms) / t(Keras, Keras's terms).

Both Distillers' KD and feature terms are otherwise identical, so each
ratio is (T + S + C) / (T + S + C + S'), where T is the teacher forward, S
the student step, C the connectors and S' Keras's second student pass
(forward, backward to the tapped layers and a second set of BatchNorm
updates). It can only fall as the student's share of the step grows.

`--width` widens the student (`zoo.student_cnn(width=...)`), to show how the
ratios move as the student's share of the step grows.

Within a round the candidates run back to back in a rotating order, so
drift in the machine's speed hits them alike. Every ratio is printed twice:
from the medians over rounds (typical) and from the minimums (the cost of
the work itself; `timeit`'s advice). On shared virtual CPUs whole rounds
sometimes run at half speed (step times of one candidate jump from ~32 ms
to ~64 ms between rounds, with nothing else running), which moves medians
but not minimums; when the two disagree, trust the minimum and rerun.

    python benchmarks/step_overhead.py            # 6 to 10 minutes on 2 cores
    python benchmarks/step_overhead.py --width 32
    python benchmarks/step_overhead.py --steps 10 --rounds 2   # smoke
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_kd  # noqa: E402
from keras_kd import connectors as connectors_lib  # noqa: E402
from keras_kd import zoo  # noqa: E402

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _batches(steps, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(steps * batch_size, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=steps * batch_size)
    return x, y


def _fit_timer(model, x, y, batch_size):
    """Returns a function timing one epoch of `fit` per call, in s / step."""
    model.fit(x[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, verbose=0)
    steps = len(x) // batch_size

    def run():
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return (time.perf_counter() - start) / steps

    return run


def _forward_timer(model, x, batch_size):
    forward = tf.function(lambda batch: model(batch, training=False))
    batches = [tf.constant(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    forward(batches[0])

    def run():
        start = time.perf_counter()
        for batch in batches:
            forward(batch).numpy()
        return (time.perf_counter() - start) / len(batches)

    return run


def build_candidates(teacher, x, y, batch_size, width=16):
    keras.utils.set_random_seed(0)

    def new_student():
        return zoo.student_cnn(width=width)

    student = new_student()
    student.compile(optimizer="adam", loss=SPARSE_CE)

    ours = keras_kd.Distiller(
        teacher, new_student(), keras_kd.losses.KD(4.0), student_loss_weight=0.5
    )
    ours.compile(optimizer="adam", loss=SPARSE_CE)

    theirs = keras.distillation.Distiller(
        teacher,
        new_student(),
        keras.distillation.LogitsDistillation(temperature=4.0, loss=keras.losses.KLDivergence()),
        student_loss_weight=0.5,
    )
    theirs.compile(optimizer="adam", loss=SPARSE_CE)
    feature_pairs = [("block2", "block2"), ("block3", "block3")]
    ours_hint = keras_kd.Distiller(
        teacher,
        new_student(),
        [keras_kd.losses.KD(4.0)] + [keras_kd.losses.Hint(t, s) for t, s in feature_pairs],
        student_loss_weight=0.5,
    )
    ours_hint.compile(optimizer="adam", loss=SPARSE_CE)

    theirs_student = new_student()
    connectors = [
        connectors_lib.Connector(
            teacher.get_layer(t).output.shape[1:], kind="conv1x1", name=f"keras_connector_{t}"
        )
        for t, _ in feature_pairs
    ]
    for connector, (_, s) in zip(connectors, feature_pairs):
        connector.build(theirs_student.get_layer(s).output.shape)

    def connected_mse(connector):
        def loss(teacher_features, student_features):
            connected = connector(student_features, training=True)
            return keras.ops.mean(keras.ops.square(teacher_features - connected))

        return loss

    theirs_hint = keras.distillation.Distiller(
        teacher,
        theirs_student,
        [keras.distillation.LogitsDistillation(temperature=4.0, loss=keras.losses.KLDivergence())]
        + [
            keras.distillation.FeatureDistillation(connected_mse(c), t, s)
            for c, (t, s) in zip(connectors, feature_pairs)
        ],
        student_loss_weight=0.5,
    )
    # Tracked by the Distiller, so Keras trains them as we train ours.
    theirs_hint.hint_connectors = connectors
    theirs_hint.compile(optimizer="adam", loss=SPARSE_CE)
    if len(theirs_hint.trainable_variables) != len(ours_hint.trainable_variables):
        raise RuntimeError(
            f"The two hint rows must train the same variables. Received: Keras "
            f"{len(theirs_hint.trainable_variables)}, keras_kd {len(ours_hint.trainable_variables)}."
        )

    def channel_mean_mse(teacher_features, student_features):
        t = keras.ops.mean(teacher_features, axis=-1)
        s = keras.ops.mean(student_features, axis=-1)
        return keras.ops.mean(keras.ops.square(t - s))

    def keras_feature_terms():
        return [keras.distillation.LogitsDistillation(temperature=4.0, loss=keras.losses.KLDivergence())] + [
            keras.distillation.FeatureDistillation(channel_mean_mse, t, s) for t, s in feature_pairs
        ]

    theirs_features = keras.distillation.Distiller(
        teacher, new_student(), keras_feature_terms(), student_loss_weight=0.5
    )
    theirs_features.compile(optimizer="adam", loss=SPARSE_CE)
    ours_same_terms = keras_kd.Distiller(teacher, new_student(), keras_feature_terms(), student_loss_weight=0.5)
    ours_same_terms.compile(optimizer="adam", loss=SPARSE_CE)
    return {
        "keras_kd hint+KD step": _fit_timer(ours_hint, x, y, batch_size),
        "keras hint+KD step": _fit_timer(theirs_hint, x, y, batch_size),
        "keras_kd Keras-terms step": _fit_timer(ours_same_terms, x, y, batch_size),
        "keras Keras-terms step": _fit_timer(theirs_features, x, y, batch_size),
        "student train step": _fit_timer(student, x, y, batch_size),
        "teacher forward": _forward_timer(teacher, x, batch_size),
        "keras_kd distill step": _fit_timer(ours, x, y, batch_size),
        "keras.distillation step": _fit_timer(theirs, x, y, batch_size),
    }


def measure(candidates, rounds):
    """Per candidate, the seconds per step of every round."""
    times = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            times[name].append(candidates[name]())
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps per timed epoch (default 40)")
    parser.add_argument("--rounds", type=int, default=11, help="rounds (default 11)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=16, help="student width (default 16, the zoo's)")
    args = parser.parse_args()

    x, y = _batches(args.steps, args.batch_size)
    teacher = zoo.teacher_cnn()
    candidates = build_candidates(teacher, x, y, args.batch_size, args.width)
    times = measure(candidates, args.rounds)
    median = {name: statistics.median(values) for name, values in times.items()}
    minimum = {name: min(values) for name, values in times.items()}

    print(f"\nkeras {keras.__version__}, tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
          f"student width {args.width}, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds\n")
    print(f"  {'ms/step':26s} {'median':>8s}  {'min':>6s}  {'max':>6s}")
    for name, seconds in median.items():
        print(f"  {name:26s} {1000 * seconds:8.2f}  {1000 * minimum[name]:6.2f}  {1000 * max(times[name]):6.2f}")

    def ratios(t):
        return {
            "floor": t["keras_kd distill step"] / (t["student train step"] + t["teacher forward"]),
            "keras": t["keras_kd distill step"] / t["keras.distillation step"],
            "reference": t["keras.distillation step"] / (t["student train step"] + t["teacher forward"]),
            "hint": t["keras_kd hint+KD step"] / t["keras hint+KD step"],
            "feature": t["keras_kd Keras-terms step"] / t["keras Keras-terms step"],
        }

    by_median, by_min = ratios(median), ratios(minimum)
    print(f"\n  {'ratio':72s} {'median':>6s}  {'min':>6s}  goal")
    for key, label, goal in [
        ("floor", "floor      t(keras_kd step) / (t(student step) + t(teacher fwd))", "<= 1.03"),
        ("keras", "Keras      t(keras_kd step) / t(keras.distillation step)", "<= 1.00"),
        ("reference", "reference  t(keras.distillation step) / floor", ""),
        ("hint", "hint       t(keras_kd hint+KD) / t(keras hint+KD), same connectors", "<= 0.80"),
        ("feature", "feature    t(keras_kd) / t(keras), Keras's own terms, no connectors", "<= 0.80"),
    ]:
        print(f"  {label:72s} {by_median[key]:6.3f}  {by_min[key]:6.3f}  {goal}")

if __name__ == "__main__":
    main()
