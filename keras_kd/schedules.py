"""Schedules that change distillation term weights during training.

`LayerwiseSchedule` implements the layer-by-layer schedules of Aguilar et
al. (AAAI 2020) over a list of per-layer terms (typically
`CosineRepresentation`, one per matched layer pair, shallow to deep):

- `"progressive"`: stage k trains term k alone;
- `"stacked"`: stage k trains terms 0..k together;
- `"all"`: every term from the start (no schedule).

A stage lasts `epochs_per_stage` epochs; after the last stage the last
configuration stays. Other terms (e.g. KD on the logits) keep their weights.

`LinearWarmup` ramps named terms up linearly over the first epochs, as DKD
(Zhao et al., CVPR 2022: `min(epoch / warmup, 1)` over 20 of 240 epochs)
and many feature methods do to keep large early losses from swamping the
cross-entropy.

Both set the Distiller's term-weight variables, so nothing is retraced.
Methods with weights of their own (OKDDip's ramp-up, MSD's feature
weight) take a float or a Keras schedule of the optimizer step, read in
the step (`check_weight`, `weight_at`); `SigmoidRampUp` is one.
`DirichletTemperatureSchedule` (from `keras_kd.losses.dirichlet`) anneals
EnD^2's temperature the same way.
"""

import keras
from keras import ops

from keras_kd import validation
from keras_kd.losses.dirichlet import DirichletTemperatureSchedule  # noqa: F401 (re-exported)

MODES = ("progressive", "stacked", "all")


def layerwise_weights(stage, num_layers, mode):
    """The 0/1 weights of `num_layers` per-layer terms at `stage`."""
    if mode not in MODES:
        raise ValueError(f"Unknown schedule mode. Received: mode={mode!r}. Valid: {', '.join(MODES)}.")
    stage = min(stage, num_layers - 1)
    if mode == "all":
        return [1.0] * num_layers
    if mode == "progressive":
        return [1.0 if i == stage else 0.0 for i in range(num_layers)]
    return [1.0 if i <= stage else 0.0 for i in range(num_layers)]


class _TermWeightCallback(keras.callbacks.Callback):
    """Base: holds the term names it drives and sets the Distiller's weights."""

    def __init__(self, term_names):
        super().__init__()
        if not term_names:
            raise ValueError(f"{type(self).__name__} needs at least one term name.")
        self.term_names = list(term_names)

    def _indices(self):
        """The positions of `term_names` among the Distiller's terms (checked)."""
        names = self.model.term_names
        missing = [n for n in self.term_names if n not in names]
        if missing:
            raise ValueError(f"{type(self).__name__}: unknown terms {missing}. The Distiller's terms: {names}.")
        return [names.index(n) for n in self.term_names]

    def _set_weights(self, new_weights):
        """Sets the driven terms' weights; the others keep theirs."""
        weights = [float(v.numpy()) for v in self.model.term_weights]
        for i, weight in zip(self._indices(), new_weights):
            weights[i] = weight
        self.model.set_distillation_loss_weights(weights)


class LayerwiseSchedule(_TermWeightCallback):
    """Sets the weights of a Distiller's per-layer terms at each epoch.

    Args:
        term_names: the per-layer terms, in schedule order (their log names,
            e.g. `["cosine", "cosine_2"]`).
        mode: one of `MODES`. Defaults to `"progressive"`.
        epochs_per_stage: defaults to 1.
        weight: the active weight. Defaults to 1.0.

    Example:

    ```python
    terms = [CosineRepresentation(t, s) for t, s in pairs] + [KD(4.0)]
    distiller = keras_kd.Distiller(teacher, student, terms)
    distiller.fit(..., callbacks=[LayerwiseSchedule(
        distiller.term_names[:-1], mode="stacked", epochs_per_stage=2)])
    ```
    """

    def __init__(self, term_names, *, mode="progressive", epochs_per_stage=1, weight=1.0):
        super().__init__(term_names)
        if mode not in MODES:
            raise ValueError(f"Unknown schedule mode. Received: mode={mode!r}. Valid: {', '.join(MODES)}.")
        validation.check_positive_int("epochs_per_stage", epochs_per_stage, owner="LayerwiseSchedule")
        self.mode = mode
        self.epochs_per_stage = epochs_per_stage
        self.weight = float(weight)

    def on_epoch_begin(self, epoch, logs=None):
        stage_weights = layerwise_weights(epoch // self.epochs_per_stage, len(self.term_names), self.mode)
        self._set_weights([w * self.weight for w in stage_weights])


def warmup_factor(epoch, warmup_epochs):
    """`min((epoch + 1) / warmup_epochs, 1)` for a 0-based `epoch`."""
    return min((epoch + 1) / warmup_epochs, 1.0)


class LinearWarmup(_TermWeightCallback):
    """Ramps the weights of a Distiller's named terms up over the first epochs.

    In epoch e (0-based) a named term's weight is
    `base * min((e + 1) / warmup_epochs, 1)`, where `base` is its weight
    when this callback first starts training (from
    `distillation_loss_weights`). Later `fit` calls keep that base, so a
    run resumed with `initial_epoch` continues the same ramp. DKD's schedule
    with warm-up 20 is `LinearWarmup(["dkd"], warmup_epochs=20)`.

    Args:
        term_names: the terms to ramp (their log names, e.g. `["dkd"]`).
        warmup_epochs: epochs to reach the full weight; a positive integer.

    Example:

    ```python
    distiller = keras_kd.Distiller(teacher, student, keras_kd.losses.DKD())
    distiller.fit(..., callbacks=[LinearWarmup(["dkd"], warmup_epochs=2)])
    ```
    """

    def __init__(self, term_names, *, warmup_epochs):
        super().__init__(term_names)
        validation.check_positive_int("warmup_epochs", warmup_epochs, owner="LinearWarmup")
        self.warmup_epochs = warmup_epochs
        self._base = None

    def on_train_begin(self, logs=None):
        if self._base is None:
            weights = [float(v.numpy()) for v in self.model.term_weights]
            self._base = [weights[i] for i in self._indices()]

    def on_epoch_begin(self, epoch, logs=None):
        factor = warmup_factor(epoch, self.warmup_epochs)
        self._set_weights([base * factor for base in self._base])


def sigmoid_rampup(step, rampup_steps):
    """exp(-5 (1 - min(step, R) / R)^2): 0.0067 at step 0, 1 from step R on (Laine and Aila 2017)."""
    progress = ops.minimum(ops.cast(step, "float32"), float(rampup_steps)) / float(rampup_steps)
    return ops.exp(-5.0 * ops.square(1.0 - progress))


@keras.saving.register_keras_serializable(package="keras_kd")
class SigmoidRampUp(keras.optimizers.schedules.LearningRateSchedule):
    """A weight ramped up along exp(-5 (1 - t)^2), t = min(step / rampup_steps, 1).

    The ramp-up of temporal ensembling (Laine and Aila, ICLR 2017), which
    OKDDip uses per epoch over R = 80 epochs; here it is per optimizer step
    (R epochs are `R * steps_per_epoch` steps). A Keras schedule, so any
    method weight that accepts a schedule accepts it.

    Args:
        rampup_steps: steps to reach `value`; a positive integer.
        value: the final weight. Defaults to 1.0.
    """

    def __init__(self, rampup_steps, value=1.0):
        self.rampup_steps = validation.check_positive_int("rampup_steps", rampup_steps, owner="SigmoidRampUp")
        self.value = validation.check_non_negative_number("value", value, owner="SigmoidRampUp")

    def __call__(self, step):
        return self.value * sigmoid_rampup(step, self.rampup_steps)

    def get_config(self):
        return {"rampup_steps": self.rampup_steps, "value": self.value}


def check_weight(name, weight, *, owner):
    """A weight >= 0 or a Keras schedule of the step (`LearningRateSchedule` or callable)."""
    if isinstance(weight, keras.optimizers.schedules.LearningRateSchedule):
        return weight
    return validation.check_non_negative_number(name, weight, owner=owner)


def weight_at(weight, step):
    """The value of a `check_weight` weight at optimizer step `step`, as a float32 tensor."""
    if isinstance(weight, keras.optimizers.schedules.LearningRateSchedule):
        return ops.cast(weight(step), "float32")
    return ops.convert_to_tensor(weight, "float32")
