"""Magnitude pruning for Keras 3, with tfmot's names and arguments.

`prune_low_magnitude(model, pruning_schedule=...)` wraps every prunable
layer (Dense, EinsumDense, convolutions, transposed and depthwise
convolutions; the pointwise kernel of separable ones) in a
`PruneLowMagnitude` wrapper holding a 0/1 mask over the layer's kernel.
`UpdatePruningStep`, a callback, advances each wrapper's step at every
training batch, recomputes the masks when the schedule says so (the
smallest-magnitude weights, to the schedule's sparsity), and multiplies the
kernels by their masks before and after every batch, so pruned weights are
exactly zero after `fit`. `strip_pruning` returns the plain model.

Differences from tfmot, each an addition: the wrapper keeps its layer's
name, so feature terms and `get_layer` keep working on a pruned student;
`pruning_schedule` may be a dict `{layer name: schedule}` (per-layer
targets; layers not named are left dense); the schedules and the wrapper
save and load with `.keras`.
"""

import keras
import numpy as np
from keras import ops

from keras_kd import model_checks
from keras_kd.backend import tensorflow as backend
from keras_kd.compress.pruning_schedule import ConstantSparsity
from keras_kd.compress.pruning_schedule import PruningSchedule

PRUNABLE = (
    keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
)  # fmt: skip


def _pruned_weight(layer):
    return layer.pointwise_kernel if isinstance(layer, keras.layers.SeparableConv2D) else layer.kernel


def magnitude_mask(weights, sparsity):
    """A 0/1 mask keeping all but the round(n * sparsity) smallest |weights|."""
    weights = np.asarray(weights)
    count = int(round(weights.size * sparsity))
    mask = np.ones(weights.size, dtype=weights.dtype)
    if count:
        mask[np.argsort(np.abs(weights).ravel(), kind="stable")[:count]] = 0
    return mask.reshape(weights.shape)


@keras.saving.register_keras_serializable(package="keras_kd")
class PruneLowMagnitude(keras.layers.Wrapper):
    """Holds a layer, the mask over its kernel and the pruning step.

    Takes the wrapped layer's name unless given one. In training it checks
    that `UpdatePruningStep` runs (the step is -1 until it does).

    Args:
        layer: a layer of a type in `PRUNABLE`.
        pruning_schedule: a `PruningSchedule`. Defaults to
            `ConstantSparsity(0.5, begin_step=0, frequency=100)`.
    """

    def __init__(self, layer, pruning_schedule=None, **kwargs):
        if not isinstance(layer, PRUNABLE):
            raise ValueError(
                f"prune_low_magnitude: {type(layer).__name__} layer {layer.name!r} has no kernel to prune. "
                f"Prunable: {', '.join(c.__name__ for c in PRUNABLE)}."
            )
        pruning_schedule = ConstantSparsity(0.5, 0) if pruning_schedule is None else pruning_schedule
        if not isinstance(pruning_schedule, PruningSchedule):
            raise ValueError(
                f"prune_low_magnitude: `pruning_schedule` must be a ConstantSparsity or a "
                f"PolynomialDecay. Received: {pruning_schedule!r}."
            )
        kwargs.setdefault("name", layer.name)
        super().__init__(layer, **kwargs)
        self.pruning_schedule = pruning_schedule

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        kernel = _pruned_weight(self.layer)
        self.mask = self.add_weight(name="mask", shape=kernel.shape, initializer="ones", trainable=False, dtype=kernel.dtype)
        self.pruning_step = self.add_weight(
            name="pruning_step", shape=(), initializer=keras.initializers.Constant(-1), trainable=False, dtype="int64"
        )
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def call(self, inputs, training=None):
        if training:
            inputs = backend.require_started(
                self.pruning_step, inputs,
                f"{self.name}: pruned layers train only with the keras_kd.compress.UpdatePruningStep() "
                f"callback; pass callbacks=[UpdatePruningStep()] to fit.",
            )  # fmt: skip
        return self.layer(inputs)

    @property
    def pruned_weight(self):
        """The variable the mask applies to (the kernel)."""
        return _pruned_weight(self.layer)

    def update(self):
        """Advances the step; recomputes the mask when the schedule says so; masks the kernel."""
        step = int(self.pruning_step.numpy()) + 1
        self.pruning_step.assign(step)
        should_prune, sparsity = self.pruning_schedule(step)
        if should_prune:
            self.mask.assign(magnitude_mask(ops.convert_to_numpy(self.pruned_weight), sparsity))
        self.apply_mask()

    def apply_mask(self):
        """Sets the pruned weights to exactly zero."""
        self.pruned_weight.assign(self.pruned_weight * self.mask)

    def sparsity(self):
        """The fraction of the kernel's weights that are exactly zero."""
        return float(np.mean(ops.convert_to_numpy(self.pruned_weight) == 0))

    def get_config(self):
        return {**super().get_config(), "pruning_schedule": keras.saving.serialize_keras_object(self.pruning_schedule)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        config["pruning_schedule"] = keras.saving.deserialize_keras_object(config["pruning_schedule"])
        return cls(**config)


def pruned_layers(model):
    """Every `PruneLowMagnitude` inside `model`, nested models (a Distiller's student) included."""
    found, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, PruneLowMagnitude):
            found.append(layer)
        elif hasattr(layer, "layers"):
            stack.extend(reversed(layer.layers))
    return found


def _schedule_for(layer, pruning_schedule):
    if isinstance(pruning_schedule, dict):
        return pruning_schedule.get(layer.name)
    return pruning_schedule if isinstance(layer, PRUNABLE) else None


def prune_low_magnitude(to_prune, pruning_schedule=None):
    """Wraps a layer, a list of layers or a model's prunable layers for magnitude pruning.

    Args:
        to_prune: a layer, a list of layers, or a functional or Sequential
            model (cloned; the original is left as it was, its weights copied).
        pruning_schedule: a `ConstantSparsity` / `PolynomialDecay` for every
            prunable layer, or `{layer name: schedule}` for some of them.
            Defaults to `ConstantSparsity(0.5, begin_step=0)`.

    Returns:
        The wrapped layer(s), or the pruned model.

    Example:

    ```python
    pruned = prune_low_magnitude(student, pruning_schedule=PolynomialDecay(0.0, 0.75, 0, 2000))
    distiller = keras_kd.Distiller(teacher, pruned)
    distiller.compile(...)
    distiller.fit(x, y, epochs=3, callbacks=[UpdatePruningStep()])
    small = strip_pruning(pruned)
    ```
    """
    pruning_schedule = ConstantSparsity(0.5, 0) if pruning_schedule is None else pruning_schedule
    if isinstance(to_prune, (list, tuple)):
        return [prune_low_magnitude(layer, pruning_schedule) for layer in to_prune]
    if not isinstance(to_prune, keras.Model):
        return PruneLowMagnitude(to_prune, _schedule_for(to_prune, pruning_schedule) or pruning_schedule)
    if not model_checks.is_graph_model(to_prune):
        raise ValueError(
            f"prune_low_magnitude: a subclassed model cannot be cloned with its layers wrapped. "
            f"Received: {to_prune.name!r} ({type(to_prune).__name__}). Wrap its layers where it "
            f"builds them: prune_low_magnitude(keras.layers.Dense(...))."
        )
    if isinstance(pruning_schedule, dict):
        names = {layer.name for layer in to_prune.layers}
        unknown = sorted(set(pruning_schedule) - names)
        if unknown:
            raise ValueError(f"prune_low_magnitude: no layers named {unknown} in {to_prune.name!r}. Its layers: {sorted(names)}.")
    wrapped = []

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        schedule = _schedule_for(layer, pruning_schedule)
        if schedule is None:
            return fresh
        wrapped.append(layer.name)
        return PruneLowMagnitude(fresh, schedule)

    pruned = keras.models.clone_model(to_prune, clone_function=clone)
    _copy_weights(to_prune, pruned)
    if not wrapped:
        raise ValueError(f"prune_low_magnitude: {to_prune.name!r} has no prunable layer ({', '.join(c.__name__ for c in PRUNABLE)}).")
    return pruned


def _copy_weights(source, target):
    for layer in source.layers:
        copy = target.get_layer(layer.name)
        inner = copy.layer if isinstance(copy, PruneLowMagnitude) else copy
        original = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
        inner.set_weights(original.get_weights())


def strip_pruning(model):
    """The model without wrappers: plain layers whose pruned weights are exactly zero."""
    if not model_checks.is_graph_model(model):
        raise ValueError(f"strip_pruning: needs a functional or Sequential model. Received: {type(model).__name__}.")
    for layer in pruned_layers(model):
        layer.apply_mask()

    def clone(layer):
        inner = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
        return inner.__class__.from_config(inner.get_config())

    stripped = keras.models.clone_model(model, clone_function=clone)
    _copy_weights(model, stripped)
    return stripped


class UpdatePruningStep(keras.callbacks.Callback):
    """Advances the pruning step and applies the masks at every training batch (required)."""

    def on_train_begin(self, logs=None):
        self._layers = pruned_layers(self.model)
        if not self._layers:
            raise ValueError(
                "UpdatePruningStep: the model being trained has no pruned layers. Prune the "
                "student first: keras_kd.compress.prune_low_magnitude(student, ...)."
            )

    def on_train_batch_begin(self, batch, logs=None):
        for layer in self._layers:
            layer.update()

    def on_train_batch_end(self, batch, logs=None):
        for layer in self._layers:
            layer.apply_mask()


class PreserveSparsity(keras.callbacks.Callback):
    """Keeps the exact zeros of every kernel at zero while a model trains further.

    For fine-tuning a pruned and stripped model (e.g. with quantization-aware
    training): the zeros found when training begins are restored after every
    batch, so the sparsity survives the optimizer's updates.
    """

    def on_train_begin(self, logs=None):
        self._masks = [
            (v, ops.cast(ops.not_equal(v, 0), v.dtype))
            for v in self.model.trainable_variables
            if v.path.endswith("kernel") and bool(ops.any(ops.equal(v, 0)))
        ]  # fmt: skip

    def on_train_batch_end(self, batch, logs=None):
        for variable, mask in self._masks:
            variable.assign(variable * mask)
