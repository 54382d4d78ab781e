"""Generations of one architecture, each taught by the previous one.

- `born_again` (BAN, Furlanello et al., ICML 2018): generation k is a
  fresh copy of the architecture distilled from generation k - 1 at T = 1,
  from the teacher's outputs alone (`student_loss_weight=0`, the paper's
  BAN) or with the labels too (BAN+L); the ensemble of the born-again
  generations, mean_k softmax(z_k), is BANE.
- `sequential_feed` (sFEED, Park and Kwak, 2019): the same chain with the
  FEED term: each generation mimics the previous one's last feature map
  through a non-linear transform (three 3x3 convolutions) trained with it
  and dropped after.
- `teacher_free_self` (Tf-KD_self, Yuan et al., CVPR 2020): one
  generation: the model pretrained on labels teaches a fresh copy of
  itself with Hinton's KD.

Generation 0 is `teacher` when given, else the architecture trained on the
labels (the from-scratch run). Generation k is seeded `config.seed + k`, so
each starts from its own initialization. Every generation is a plain
`keras_kd.training` run with the same budget.
"""

import dataclasses

import keras
import numpy as np

from keras_kd import training
from keras_kd.losses import FEED
from keras_kd.losses import KD
from keras_kd.methods import registry


@dataclasses.dataclass
class GenerationsResult:
    """The runs of a chain of generations.

    Attributes:
        generations: one `training.RunResult` per generation, generation 0
            first (`None` when a teacher was given).
        ensemble_test_accuracy: the accuracy of the mean prediction of
            generations 1..K (BANE) on the test set.
    """

    generations: list
    ensemble_test_accuracy: float

    @property
    def models(self):
        return [g.model for g in self.generations if g is not None]


def ensemble_accuracy(models, x, y, batch_size=512):
    """Top-1 accuracy of mean_k softmax(z_k) over logits models."""
    probabilities = np.mean(
        [keras.ops.convert_to_numpy(keras.ops.softmax(m.predict(x, batch_size=batch_size, verbose=0))) for m in models], axis=0
    )
    return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(y)))


def _generations(model_fn, data, config, *, generations, teacher, name, **train_kwargs):
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise ValueError(f"{name}: `generations` must be an integer >= 1. Received: generations={generations!r}.")
    runs = [None]
    if teacher is None:
        runs[0] = training.train_supervised(f"{name}_0", model_fn, data, config)
        teacher = runs[0].model
    for k in range(1, generations + 1):
        hop = dataclasses.replace(config, seed=config.seed + k)
        runs.append(training.train_distilled(f"{name}_{k}", teacher, model_fn, data, hop, **train_kwargs))
        teacher = runs[-1].model
    (_, _), _, (x_test, y_test) = data
    return GenerationsResult(runs, ensemble_accuracy([r.model for r in runs[1:]], x_test, y_test))


@registry.register("ban")
def born_again(model_fn, data, config, *, generations=3, teacher=None, temperature=1.0, student_loss_weight=0.0):
    """Born-again networks: K generations of `model_fn`, each distilled from the last.

    Args:
        model_fn: builds the architecture (every generation's).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `keras_kd.training.TrainConfig`, every generation's budget.
        generations: K >= 1 born-again generations. Defaults to 3.
        teacher: generation 0, or `None` to train it on labels. Defaults
            to `None`.
        temperature: T of the KL to the previous generation. Defaults to
            1.0 (the paper's).
        student_loss_weight: the labels' share; 0 is BAN, > 0 BAN+L.
            Defaults to 0.0.

    Returns:
        A `GenerationsResult` (each generation's run, and BANE's accuracy).

    Reference:
        Furlanello, Lipton, Tschannen, Itti and Anandkumar, "Born Again
        Neural Networks", ICML 2018.

    Example:

    ```python
    result = born_again(zoo.student_cnn, data, training.TrainConfig(epochs=10), generations=3)
    print([g.test_accuracy for g in result.generations], result.ensemble_test_accuracy)
    ```
    """
    return _generations(
        model_fn, data, config, generations=generations, teacher=teacher, name="ban",
        distillation_losses=KD(temperature), student_loss_weight=student_loss_weight,
    )  # fmt: skip


@registry.register("sfeed")
def sequential_feed(
    model_fn, data, config, *, feature_layer, generations=2, teacher=None, feed_weight=1.0, student_loss_weight=0.5
):
    """Sequential FEED: generations of `model_fn`, each mimicking the last one's features.

    Each generation minimizes `w * CE + (1 - w) * beta * FEED` with the FEED
    term between the previous generation's and its own `feature_layer`
    (`keras_kd.losses.FEED`); with w = 0.5 this is the paper's
    `CE + beta * FEED` halved, which Adam does not feel.

    Args:
        model_fn, data, config, generations, teacher: as for `born_again`
            (`generations` defaults to 2).
        feature_layer: the last feature map (before pooling), the same
            layer name in every generation.
        feed_weight: beta >= 0. Defaults to 1.0.
        student_loss_weight: w. Defaults to 0.5.

    Returns:
        A `GenerationsResult`.

    Reference:
        Park and Kwak, "FEED: Feature-level Ensemble for Knowledge
        Distillation", arXiv:1909.10754, 2019.
    """
    return _generations(
        model_fn, data, config, generations=generations, teacher=teacher, name="sfeed",
        distillation_losses=[FEED(feature_layer, feature_layer)], distillation_loss_weights=[feed_weight],
        student_loss_weight=student_loss_weight,
    )  # fmt: skip


@registry.register("tf_kd_self")
def teacher_free_self(model_fn, data, config, *, pretrained=None, temperature=20.0, alpha=0.95):
    """Tf-KD_self: the model, pretrained on labels, teaches a fresh copy of itself.

    The copy minimizes `(1 - alpha) * CE + alpha * T^2 * KL(s_T(z_pre) || s_T(z))`
    (the paper's; the authors' code divides the KL by the number of classes
    and multiplies by a per-model `multiplier`, which together only rescale
    alpha's term). The defaults are the code's for MobileNetV2 on CIFAR-100.

    Args:
        model_fn, data, config: as for `born_again`.
        pretrained: the pretrained model, or `None` to train it on labels.
        temperature: T. Defaults to 20.0.
        alpha: the soft targets' share in [0, 1]. Defaults to 0.95.

    Returns:
        A `GenerationsResult` with generations `[pretrained run, student]`.

    Reference:
        Yuan, Tay, Li, Wang and Feng, "Revisiting Knowledge Distillation
        via Label Smoothing Regularization", CVPR 2020.
    """
    return _generations(
        model_fn, data, config, generations=1, teacher=pretrained, name="tf_kd_self",
        distillation_losses=KD(temperature), student_loss_weight=1.0 - alpha,
    )  # fmt: skip
