"""Multi-exit self-distillation: the exits of one network teach each other.

For a network with N exits (logits a_n, features F_n before each exit's
classifier, n = N the deepest; see `add_exits`), with the temperature T,
sg a stop-gradient and D(p, q) = KL(s_T(p) || s_T(q)):

- `mode="msd"` (Luan et al.): every exit, the deepest included, learns from
  the labels and from the mean of the other exits' soft targets, and every
  shallower exit mimics the deepest feature:

      L = sum_n (1 - alpha) CE(y, a_n) + alpha / (N - 1) sum_{j != n} D(sg a_j, a_n)
              + beta(t) ||F_n - sg F_N||^2

- `mode="byot"` (Zhang et al., "Be Your Own Teacher", conference version):
  the deepest exit is the only teacher and learns from the labels alone:

      L = CE(y, a_N) + sum_{n < N} (1 - alpha) CE(y, a_n) + alpha D(sg a_N, a_n)
              + beta(t) ||F_n - sg F_N||^2

||.||^2 is the squared L2 distance per sample, averaged over the batch. No
T^2 factor: the BYOT code has none, and MSD's is not stated in what we
could check. BYOT's released code uses a soft-target cross-entropy, which
differs from D by the target's entropy (a constant: same gradients).
beta(t) is a float or a Keras schedule of the optimizer step; MSD anneals
it along a cosine, e.g. `keras.optimizers.schedules.CosineDecay(beta,
decay_steps=total_steps)` (the direction and end points of MSD's
annealing were not verified).
"""

import keras
from keras import ops

from keras_kd import schedules
from keras_kd import serialization
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD
from keras_kd.losses import weighted_mean
from keras_kd.methods import registry
from keras_kd.methods.exits import exit_feature_layers
from keras_kd.methods.peers import accuracy
from keras_kd.step import StepResult

OWNER = "MultiExitDistiller"
MODES = ("msd", "byot")


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("msd")
class MultiExitDistiller(Distiller):
    """Self-distillation between the exits of one network (MSD, BYOT).

    Logs `exit_k/ce`, `exit_k/accuracy`, `exit_k/kd` and `exit_k/feature`
    per exit (0-based; the last exit is the full network). `predict`,
    `call` and the compiled metrics use exit `predict_exit`.

    Args:
        model: a multi-exit model (`add_exits`): outputs `[exit_1, ...,
            exit_N]`, logits, shallow to deep, each from a `Dense`
            classifier whose input has the deepest feature's size.
        name: defaults to `"multi_exit_distiller"`.
        mode: `"msd"` or `"byot"`. Defaults to `"msd"`.
        temperature: T > 0. Defaults to 3.0 (BYOT's code).
        alpha: the soft targets' share in [0, 1]. Defaults to 0.3 (BYOT's code).
        feature_weight: beta >= 0, or a Keras schedule of the step.
            Defaults to 0.03 (BYOT's code).
        predict_exit: the exit `predict` returns (0-based, -1 the deepest).
            Defaults to -1.
        views: a `keras_kd.augment.Views`. Defaults to `None`.

    References:
        Luan, Zhao, Yang and Dai, "MSD: Multi-Self-Distillation Learning
        via Multi-classifiers within Deep Neural Networks",
        arXiv:1911.09418, 2019; Zhang, Song, Gao, Chen, Bao and Ma, "Be
        Your Own Teacher: Improve the Performance of Convolutional Neural
        Networks via Self Distillation", ICCV 2019.

    Example:

    ```python
    network = add_exits(zoo.student_cnn(), at=["pool1", "pool2"])
    msd = MultiExitDistiller(network, feature_weight=keras.optimizers.schedules.CosineDecay(0.03, 4690))
    msd.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    msd.fit(x_train, y_train, epochs=10)
    export.to_tflite(exit_model(network, 0), "exit0_int8.tflite", quantization="int8", ...)
    ```
    """

    def __init__(
        self, model, *, name="multi_exit_distiller", mode="msd", temperature=3.0, alpha=0.3, feature_weight=0.03,
        predict_exit=-1, views=None,
    ):  # fmt: skip
        self.mode = validation.check_one_of("mode", mode, MODES, owner=OWNER)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=OWNER)
        self.alpha = validation.check_unit_interval("alpha", alpha, owner=OWNER)
        self.feature_weight = schedules.check_weight("feature_weight", feature_weight, owner=OWNER)
        count = len(getattr(model, "outputs", None) or [])
        if count < 2:
            raise ValueError(
                f"{OWNER}: `model` needs at least two exits (outputs). Received: {count} output(s) "
                f"from {getattr(model, 'name', model)!r}. Build one with "
                f"keras_kd.methods.add_exits(model, at=[layer names])."
            )
        if isinstance(predict_exit, bool) or not isinstance(predict_exit, int) or not -count <= predict_exit < count:
            raise ValueError(f"{OWNER}: `predict_exit` must be in [-{count}, {count - 1}]. Received: {predict_exit!r}.")
        self.predict_exit = predict_exit
        feature_layers = exit_feature_layers(model, owner=OWNER)
        dims = {int(model.get_layer(n).output.shape[-1]) for n in feature_layers}
        if len(dims) > 1:
            raise ValueError(
                f"{OWNER}: every exit's feature must have the deepest feature's size for the mimicry "
                f"term. Received: sizes {sorted(dims)} from layers {feature_layers}."
            )
        super().__init__(None, model, student_loss_weight=1.0, name=name, views=views)
        # One pass yields every exit's logits and feature (same layers, same variables).
        tap = keras.Model(model.inputs[0], list(model.outputs) + [model.get_layer(n).output for n in feature_layers])
        self.__dict__.update(_exit_tap=tap, _feature_layers=feature_layers, _mimicry=KD(self.temperature, scale_by_temperature_squared=False))
        self.track_measurements(
            [f"exit_{k}/{part}" for k in range(count) for part in ("ce", "accuracy", "kd", "feature")] + ["feature_weight"]
        )

    @property
    def num_exits(self):
        return len(self.student.outputs)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)[self.predict_exit]

    def compute_distillation(self, batch, teacher, training):
        del teacher  # none: the deepest exit (or every exit) teaches
        count = self.num_exits
        out = self._exit_tap(batch.x_student, training=training)
        logits, features = list(out[:count]), [ops.cast(f, "float32") for f in out[count:]]
        deepest = count - 1
        step = self.optimizer.iterations if self.optimizer is not None else 0
        beta = schedules.weight_at(self.feature_weight, step)
        weight = batch.sample_weight
        measurements, total, sums = {}, self.regularization_loss(), {"ce": 0.0, "kd": 0.0}
        for n in range(count):
            ce = self.student_loss(batch, logits[n])
            if self.mode == "byot":
                sources = [deepest] if n < deepest else []
            else:
                sources = [j for j in range(count) if j != n]
            kd = sum(
                (self._mimicry.compute_loss(ops.stop_gradient(logits[j]), logits[n], sample_weight=weight) for j in sources),
                ops.zeros((), "float32"),
            ) / max(len(sources), 1)
            mimicry = ops.zeros((), "float32")
            if n < deepest:
                distance = ops.sum(ops.square(features[n] - ops.stop_gradient(features[deepest])), axis=-1)
                mimicry = weighted_mean(distance, weight)
            ce_weight = 1.0 if not sources else 1.0 - self.alpha
            total = total + ce_weight * ce + self.alpha * kd + beta * mimicry
            sums["ce"], sums["kd"] = sums["ce"] + ce, sums["kd"] + kd
            measurements.update({f"exit_{n}/ce": ce, f"exit_{n}/kd": kd, f"exit_{n}/feature": mimicry})
            if batch.labels is not None:
                measurements[f"exit_{n}/accuracy"] = accuracy(batch.labels, logits[n])
        measurements.update(
            {"student_loss": sums["ce"] / count, "distillation_loss": sums["kd"] / count, "feature_weight": beta}
        )
        return StepResult(total, measurements, logits[self.predict_exit])

    def get_config(self):
        config = {key: value for key, value in self.base_config().items() if key not in ("teacher", "student", "paired_inputs")}
        return {
            **config,
            "model": keras.saving.serialize_keras_object(self.student),
            "mode": self.mode,
            "temperature": self.temperature,
            "alpha": self.alpha,
            "feature_weight": keras.saving.serialize_keras_object(self.feature_weight),
            "predict_exit": self.predict_exit,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**serialization.deserialize_fields(config, objects=("model", "views", "feature_weight")))
