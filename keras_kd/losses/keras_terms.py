"""Keras's own distillation losses, wrapped once into keras_kd's term contract.

`as_term` turns any `keras.distillation.DistillationLoss` into a
`DistillationTerm`. Keras's `LogitsDistillation` and `FeatureDistillation`
are recomputed per sample, with the same arithmetic as Keras, so that they
honour `sample_weight` (and so `class_weight`) like keras_kd's terms and are
not divided by the number of replicas under `tf.distribute`. Other Keras
losses run their own `compute_loss` (no sample weights).

Keras's `LogitsDistillation(loss="kl_divergence")` (its default) computes KL
on temperature-scaled *logits* (see docs/upstream/keras-logits-distillation-kl.md);
the wrapper uses `keras.losses.KLDivergence()` on a copy, with a warning
(shown once per call site by Python's default filter), so the term gives
Hinton's numbers. The user's object is untouched.
"""

import copy
import warnings

import keras
from keras import ops

from keras_kd import model_checks
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import weighted_mean


def fix_keras_kl(loss):
    """Returns `loss`, or a copy whose bare KL function is `KLDivergence()`."""
    if not isinstance(loss, keras.distillation.LogitsDistillation):
        return loss
    bare = keras.losses.kl_divergence
    if not any(fn is bare for fn in keras.tree.flatten(loss.loss)):
        return loss
    fixed = copy.copy(loss)
    fixed.loss = keras.tree.map_structure(lambda fn: keras.losses.KLDivergence() if fn is bare else fn, loss.loss)
    warnings.warn(
        "keras.distillation.LogitsDistillation(loss='kl_divergence') "
        "computes KL on temperature-scaled logits instead of "
        "probabilities (keras.losses.get returns the bare function, which "
        "skips its softmax branch). keras_kd.Distiller uses "
        "keras.losses.KLDivergence() instead, which gives Hinton's "
        "numbers. Pass loss=keras.losses.KLDivergence() yourself, or use "
        "keras_kd.losses.KD, to silence this warning.",
        stacklevel=4,
    )
    return fixed


def _per_sample(loss_fn, teacher, student):
    """Unreduced values of a Keras loss (instance or function): `(N, ...)`.

    `weighted_mean` then gives Keras's `ops.mean(loss_fn(...))` when no
    weights are given, since every sample has the same number of values.
    """
    values = loss_fn.call(teacher, student) if isinstance(loss_fn, keras.losses.Loss) else loss_fn(teacher, student)
    return ops.convert_to_tensor(values)


class KerasTerm(DistillationTerm):
    """A `keras.distillation.DistillationLoss` seen through the term contract.

    Args:
        loss: the Keras distillation loss (`LogitsDistillation`,
            `FeatureDistillation` or a custom subclass).
    """

    def __init__(self, loss):
        self.loss = fix_keras_kl(loss)
        # Keras's Distiller reads these attributes when present; so do we, once.
        self.teacher_layer_name = getattr(loss, "teacher_layer_name", None)
        self.student_layer_name = getattr(loss, "student_layer_name", None)
        self.name = {
            keras.distillation.LogitsDistillation: "logits_distillation",
            keras.distillation.FeatureDistillation: "feature_distillation",
        }.get(type(loss), type(loss).__name__.lower())

    def expects_logits(self, role):
        return isinstance(self.loss, keras.distillation.LogitsDistillation)

    def validate_model_compatibility(self, teacher, student):
        self.loss.validate_model_compatibility(teacher, student)
        super().validate_model_compatibility(teacher, student)
        if isinstance(self.loss, keras.distillation.FeatureDistillation) and not self.uses_final_outputs:
            self._check_same_feature_shapes(teacher, student)

    def _check_same_feature_shapes(self, teacher, student):
        owner = "FeatureDistillation"
        shapes = {}
        for role, model, layer_name in (
            ("teacher", teacher, self.teacher_layer_name),
            ("student", student, self.student_layer_name),
        ):
            if layer_name is None:
                shapes[role] = tuple(model.outputs[0].shape[1:]) if model_checks.is_graph_model(model) else None
            else:
                shapes[role] = model_checks.layer_output_shape(role, model, layer_name, owner=owner)
        t, s = shapes["teacher"], shapes["student"]
        if t is None or s is None:
            return
        # Try the loss once on zeros of the two shapes: Keras's built-in losses
        # need equal shapes; a custom function may compare other things.
        zeros = [ops.zeros((1, *[d or 1 for d in shape])) for shape in (t, s)]
        try:
            self.compute_loss(*zeros)
        except Exception as e:  # noqa: BLE001 - any failure here would recur in the graph
            raise ValueError(
                f"{owner}: its loss cannot compare teacher layer "
                f"{self.teacher_layer_name!r} of shape {t} with student layer "
                f"{self.student_layer_name!r} of shape {s} (Keras's losses compare "
                f"features element by element, so their shapes must match). Use "
                f"keras_kd.losses.Hint({self.teacher_layer_name!r}, {self.student_layer_name!r}), "
                f"which adds a trained connector, or a term that compares structure "
                f"(e.g. keras_kd.losses.AttentionTransfer, SimilarityPreserving). "
                f"The loss said: {type(e).__name__}: {str(e)[:300]}"
            ) from e

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        if isinstance(self.loss, keras.distillation.LogitsDistillation):
            per_output = keras.tree.map_structure(self._logits_per_sample, self.loss.loss, teacher_outputs, student_outputs)
        elif isinstance(self.loss, keras.distillation.FeatureDistillation):
            per_output = keras.tree.map_structure(self._feature_per_sample, self.loss.loss, teacher_outputs, student_outputs)
        else:
            self.loss.validate_outputs(teacher_outputs, student_outputs)
            return self.loss.compute_loss(teacher_outputs, student_outputs)
        values = [weighted_mean(v, sample_weight) for v in keras.tree.flatten(per_output) if v is not None]
        return ops.sum(ops.stack(values))

    def _logits_per_sample(self, loss_fn, teacher, student):
        if loss_fn is None:
            return None
        temperature = self.loss.temperature
        teacher, student = teacher / temperature, ops.cast(student, teacher.dtype) / temperature
        if isinstance(loss_fn, keras.losses.KLDivergence):
            values = _per_sample(loss_fn, ops.softmax(teacher, axis=-1), ops.softmax(student, axis=-1))
            return values * temperature**2
        return _per_sample(loss_fn, teacher, student)

    def _feature_per_sample(self, loss_fn, teacher, student):
        if loss_fn is None:
            return None
        return _per_sample(loss_fn, teacher, ops.cast(student, teacher.dtype))

    def get_config(self):
        return {"loss": keras.saving.serialize_keras_object(self.loss)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["loss"]))


def as_term(loss):
    """`loss` itself when it is a `DistillationTerm`, else wrapped in a `KerasTerm`."""
    return loss if isinstance(loss, DistillationTerm) else KerasTerm(loss)
