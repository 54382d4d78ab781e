"""Training recipes shared by the demo, the CLI and the benchmarks.

A recipe is plain Keras: Adam with a cosine-decayed learning rate, a fixed
number of epochs, the compiled sparse cross-entropy, and an optional
`Distiller` around the student. `TrainConfig` holds the budget in one place;
every run returns a `RunResult` with the history, the test accuracy and the
wall-clock time.
"""

import dataclasses
import time

import keras
import numpy as np

from keras_kd import validation
from keras_kd import profiling
from keras_kd.distiller import Distiller
from keras_kd.losses import KD


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training budget.

    Args:
        epochs: passes over the training set. Defaults to 10.
        batch_size: defaults to 128.
        learning_rate: peak learning rate of Adam, decayed to 0 along a
            cosine over all steps. Defaults to 2e-3.
        seed: seeds weights, shuffling and dropout. Defaults to 0.
        verbose: Keras's progress display (1 = bars, 2 = one line per epoch,
            0 = silent). Defaults to 1.
        clipnorm: clip the gradients to this global norm (function matching
            clips at 1.0). Defaults to `None` (no clipping).
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 2e-3
    seed: int = 0
    verbose: int = 1
    clipnorm: float = None

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            validation.check_positive_int(name, getattr(self, name), owner="TrainConfig")
        validation.check_positive_number("learning_rate", self.learning_rate, owner="TrainConfig")
        if self.clipnorm is not None:
            validation.check_positive_number("clipnorm", self.clipnorm, owner="TrainConfig")


@dataclasses.dataclass
class RunResult:
    """What one training run produced."""

    name: str
    model: keras.Model
    history: dict
    test_accuracy: float
    train_seconds: float
    summary: dict

    def as_dict(self):
        """JSON-ready fields (the model itself is left out)."""
        return {
            "name": self.name,
            "test_accuracy": self.test_accuracy,
            "train_seconds": round(self.train_seconds, 1),
            "history": {k: [float(v) for v in vs] for k, vs in self.history.items()},
            **self.summary,
        }


def _optimizer(config, steps_per_epoch):
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate, decay_steps=config.epochs * steps_per_epoch
    )
    return keras.optimizers.Adam(schedule, global_clipnorm=config.clipnorm)


def _steps_per_epoch(n, batch_size):
    return int(np.ceil(n / batch_size))


def test_accuracy(model, x_test, y_test, batch_size=512):
    """Top-1 accuracy of a logits model, computed with `predict`."""
    logits = model.predict(x_test, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y_test)))


def _fit(name, trainer, model, data, config, callbacks=None):
    """Compiles and fits `trainer` (the model or its Distiller); measures `model`."""
    (x_train, y_train), validation, (x_test, y_test) = data
    trainer.compile(
        # Paired inputs ((x_teacher, x_student), y): count the samples, not the pair.
        optimizer=_optimizer(config, _steps_per_epoch(len(keras.tree.flatten(x_train)[0]), config.batch_size)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = trainer.fit(
        x_train, y_train,
        batch_size=config.batch_size, epochs=config.epochs,
        validation_data=validation, verbose=config.verbose, callbacks=callbacks,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return RunResult(
        name, model, history.history, test_accuracy(model, x_test, y_test),
        seconds, profiling.summarize(model),
    )  # fmt: skip


def train_supervised(name, model_fn, data, config):
    """Trains `model_fn()` on labels alone (the from-scratch baseline).

    Args:
        name: the run's name in reports.
        model_fn: builds the model (called after seeding, so the seed
            decides the initial weights).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `TrainConfig`.

    Returns:
        A `RunResult`.
    """
    keras.utils.set_random_seed(config.seed)
    model = model_fn()
    return _fit(name, model, model, data, config)


def train_distilled(
    name,
    teacher,
    student_fn,
    data,
    config,
    *,
    distillation_losses=None,
    distillation_loss_weights=None,
    student_loss_weight=0.5,
    views=None,
    distiller_fn=None,
    callbacks=None,
):
    """Distills `teacher` into `student_fn()` with the same budget as scratch.

    Args:
        name: the run's name in reports.
        teacher: a trained logits model.
        student_fn: builds the student (called after seeding).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `TrainConfig`.
        distillation_losses: terms for the `Distiller`. Defaults to `None`
            (Hinton's KD at T=4).
        distillation_loss_weights: one weight per term. Defaults to `None`
            (1.0 each).
        student_loss_weight: defaults to 0.5.
        views: a `keras_kd.augment.Views`. Defaults to `None`.
        distiller_fn: `(teacher, student) -> Distiller`, replacing the
            default `Distiller` (e.g. a `DAKDDistiller`); the arguments above
            are then unused. Defaults to `None`.
        callbacks: Keras callbacks for `fit`, e.g. a
            `keras_kd.schedules.LinearWarmup`. Defaults to `None`.

    Returns:
        A `RunResult` whose model is the student alone.
    """
    keras.utils.set_random_seed(config.seed)
    student = student_fn()
    if distiller_fn is not None:
        distiller = distiller_fn(teacher, student)
    else:
        distiller = Distiller(
            teacher,
            student,
            distillation_losses if distillation_losses is not None else KD(4.0),
            distillation_loss_weights=distillation_loss_weights,
            student_loss_weight=student_loss_weight,
            views=views,
        )
    return _fit(name, distiller, student, data, config, callbacks)
