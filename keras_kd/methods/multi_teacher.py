"""Distillation from several frozen teachers: ensembles and per-teacher terms.

`MultiTeacherDistiller(teachers, student, ...)` runs every teacher once per
step (`training=False`, outside the gradient tape, through `stop_gradient`)
and offers two kinds of targets to the usual terms:

- the ensemble: p_bar = sum_m w_m * softmax(z_m / T), exposed as the logits
  T * log(p_bar), so a response term at the same temperature T (KD, DKD)
  sees p_bar exactly;
- one teacher: wrap any term in `FromTeacher(term, teacher=m)` (e.g. a
  `Hint` to teacher 2's features, KD to teacher 0 alone); it is logged as
  `distill/<name>_teacher<m>`;
- every member: `keras_kd.losses.EnsembleDistributionDistillation` reads
  the teachers' logits stacked as `(N, M, K)` (EnD^2).

The per-sample teacher weights w_m (`ensemble=`):

- `"mean"`: w_m = 1 / M;
- `"weighted"`: w_m = a_m / sum(a), fixed (`teacher_weights=[a_1, ...]`);
- `"entropy"`: w_m(x) = c_m / sum(c), with the confidence
  c_m = log K - H(softmax(z_m)), the entropy's gap to a uniform prediction;
- `"max_probability"`: the same with c_m = max_k softmax(z_m)_k.

Confidences are taken on each teacher's untempered prediction; the batch
mean of each w_m is logged as `teacher_weight/<m>`. Teachers may differ in
architecture and input size: a 4-D input is resized (bilinear) to each
teacher's own input size.

Built on the Distiller's hook: this class supplies the teachers' taps and
`teacher_forward`; the base hook computes every term.
"""

import keras
from keras import ops

from keras_kd import model_checks
from keras_kd import serialization
from keras_kd import taps
from keras_kd import term_slots
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import DistillationTerm
from keras_kd.losses import EnsembleDistributionDistillation
from keras_kd.losses import KD
from keras_kd.losses import as_term
from keras_kd.methods import registry
from keras_kd.step import StepResult
from keras_kd.taps import ModelOutputs

OWNER = "MultiTeacherDistiller"
ENSEMBLE_MODES = ("mean", "weighted", "entropy", "max_probability")
ENSEMBLE = "ensemble"
MEMBERS = "members"  # the teachers' logits stacked (N, M, K), for EnsembleDistributionDistillation


def ensemble_weights(teacher_logits, *, mode, teacher_weights=None):
    """Per-sample teacher weights `(..., M)` summing to 1 (see the module docstring)."""
    count = len(teacher_logits)
    if mode in ("mean", "weighted"):
        fixed = [1.0] * count if mode == "mean" else list(teacher_weights)
        total = sum(fixed)
        row = ops.convert_to_tensor([w / total for w in fixed], dtype="float32")
        return ops.broadcast_to(row, (*ops.shape(teacher_logits[0])[:-1], count))
    confidences = []
    for logits in teacher_logits:
        log_p = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        p = ops.exp(log_p)
        if mode == "entropy":
            classes = ops.cast(ops.shape(logits)[-1], "float32")
            confidences.append(ops.log(classes) + ops.sum(p * log_p, axis=-1))
        else:
            confidences.append(ops.max(p, axis=-1))
    confidences = ops.maximum(ops.stack(confidences, axis=-1), 0.0) + 1e-12
    return confidences / ops.sum(confidences, axis=-1, keepdims=True)


def ensemble_logits(teacher_logits, weights, *, temperature):
    """T * log(sum_m w_m softmax(z_m / T)): logits whose tempered softmax is the mixture."""
    probabilities = ops.stack(
        [ops.softmax(ops.cast(z, "float32") / temperature, axis=-1) for z in teacher_logits], axis=-1
    )
    mixture = ops.sum(probabilities * ops.expand_dims(weights, -2), axis=-1)
    return temperature * ops.log(ops.maximum(mixture, 1e-30))


@keras.saving.register_keras_serializable(package="keras_kd")
class TeacherEnsemble(keras.Model):
    """Holds the teachers, so they freeze, save and load together.

    Calling it returns the list of the teachers' outputs.
    """

    def __init__(self, teachers, **kwargs):
        super().__init__(**kwargs)
        self.teachers = list(teachers)
        self.built = all(teacher.built for teacher in self.teachers)

    def call(self, x, training=False):
        return [teacher(x, training=training) for teacher in self.teachers]

    def get_config(self):
        return {"name": self.name, "teachers": [keras.saving.serialize_keras_object(t) for t in self.teachers]}

    @classmethod
    def from_config(cls, config):
        return cls(**serialization.deserialize_fields(config, lists=("teachers",)))


@keras.saving.register_keras_serializable(package="keras_kd")
class FromTeacher(DistillationTerm):
    """A term computed against one teacher of a `MultiTeacherDistiller`.

    Args:
        term: any distillation term (a name, a dict, a keras_kd term, or
            Keras's `DistillationLoss`).
        teacher: the teacher's index in `teachers`.
    """

    def __init__(self, term, *, teacher):
        from keras_kd import losses

        self.term = as_term(losses.get(term) if isinstance(term, (str, dict)) else term)
        if isinstance(teacher, bool) or not isinstance(teacher, int) or teacher < 0:
            raise ValueError(f"FromTeacher: `teacher` must be an index >= 0. Received: teacher={teacher!r}.")
        self.teacher = teacher
        self.teacher_layer_name = self.term.teacher_layer_name
        self.student_layer_name = self.term.student_layer_name
        self.requires_labels = self.term.requires_labels
        self.requires_teacher = self.term.requires_teacher
        self.requires_same_output_shape = self.term.requires_same_output_shape
        self.name = f"{self.term.name}_teacher{teacher}"

    def expects_logits(self, role):
        return self.term.expects_logits(role)

    def build_connector(self, teacher_shape, student_shape, *, name):
        return self.term.build_connector(teacher_shape, student_shape, name=name)

    def explain_nonfinite(self):
        return self.term.explain_nonfinite()

    def validate_model_compatibility(self, teacher, student):
        if isinstance(teacher, TeacherEnsemble):
            teacher = teacher.teachers[self.teacher]
        self.term.validate_model_compatibility(teacher, student)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        return self.term.compute_loss(teacher_outputs, student_outputs, sample_weight=sample_weight, y_true=y_true)

    def get_config(self):
        return {"term": keras.saving.serialize_keras_object(self.term), "teacher": self.teacher}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["term"]), teacher=config["teacher"])


def _check_teachers(teachers, student, terms, *, temperature):
    if not isinstance(teachers, (list, tuple)) or not teachers:
        raise validation.ArgumentTypeError(
            f"{OWNER}: `teachers` must be a non-empty list of keras.Model. Received: teachers={teachers!r}."
        )
    for index, teacher in enumerate(teachers):
        model_checks.check_model(f"teacher {index}", teacher, owner=OWNER)
        model_checks.check_distinct(teacher, student, owner=OWNER)
        if any(teacher is other for other in teachers[:index]):
            raise ValueError(f"{OWNER}: teacher {index} appears twice. Received: {teacher.name!r} again.")
        model_checks.check_logits_output(f"teacher {index}", teacher, owner=OWNER)
    for term in terms:
        if isinstance(term, FromTeacher):
            if term.teacher >= len(teachers):
                raise ValueError(
                    f"{OWNER}: {term.name!r} reads teacher {term.teacher}, but there are "
                    f"{len(teachers)} teachers (indices 0 to {len(teachers) - 1})."
                )
            term.term.validate_model_compatibility(teachers[term.teacher], student)
            continue
        if not term.uses_final_outputs:
            raise ValueError(
                f"{OWNER}: {term.name!r} reads teacher layer {term.teacher_layer_name!r}, but the "
                f"ensemble has no layers. Wrap it to read one teacher: "
                f"FromTeacher(term, teacher=i)."
            )
        if isinstance(term, KD) and term.temperature != temperature:
            raise ValueError(
                f"{OWNER}: the ensemble's logits are T * log(p_bar) at T={temperature}, so a KD "
                f"term on them must use the same temperature. Received: {term.name!r} with "
                f"temperature={term.temperature}. Pass temperature={term.temperature} to the "
                f"Distiller, or KD(temperature={temperature})."
            )
        for teacher in teachers:
            term.validate_model_compatibility(teacher, student)


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("multi_teacher")
class MultiTeacherDistiller(Distiller):
    """Distills from several frozen teachers: their ensemble and any one of them.

    Args:
        teachers: a list of trained logits `keras.Model`s (frozen).
        student: the `keras.Model` to train.
        distillation_losses: terms against the ensemble, or wrapped in
            `FromTeacher(term, teacher=m)` against teacher m. Defaults to
            `None` (`KD(temperature)` against the ensemble).
        distillation_loss_weights, student_loss_weight, name, views,
            paired_inputs: as for `keras_kd.Distiller`.
        ensemble: one of `ENSEMBLE_MODES`. Defaults to `"mean"`.
        teacher_weights: one weight >= 0 per teacher for
            `ensemble="weighted"`. Defaults to `None`.
        temperature: T of the ensemble's tempered probabilities. Defaults
            to 4.0.

    Reference:
        Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
        Network", 2015 (the ensemble's averaged soft targets); You, Xu, Xu
        and Tao, "Learning from Multiple Teacher Networks", KDD 2017.

    Example:

    ```python
    distiller = MultiTeacherDistiller(
        [teacher_a, teacher_b, teacher_c], student,
        [losses.KD(4.0), FromTeacher(losses.Hint("block3", "block3"), teacher=2)],
        ensemble="entropy", temperature=4.0)
    ```
    """

    def __init__(
        self,
        teachers,
        student,
        distillation_losses=None,
        distillation_loss_weights=None,
        student_loss_weight=0.5,
        name="multi_teacher_distiller",
        *,
        ensemble="mean",
        teacher_weights=None,
        temperature=4.0,
        views=None,
        paired_inputs=False,
    ):
        validation.check_one_of("ensemble", ensemble, ENSEMBLE_MODES, owner=OWNER)
        temperature = validation.check_positive_number("temperature", temperature, owner=OWNER)
        model_checks.check_model("student", student, owner=OWNER)
        losses = term_slots.normalize_terms(
            KD(temperature) if distillation_losses is None else distillation_losses, owner=OWNER
        )
        terms = [as_term(loss) for loss in losses]
        _check_teachers(teachers, student, terms, temperature=temperature)
        if ensemble == "weighted":
            if teacher_weights is None:
                raise ValueError(
                    f"{OWNER}: ensemble='weighted' needs `teacher_weights`, one weight per teacher. "
                    f"Received: teacher_weights=None for {len(teachers)} teachers."
                )
            teacher_weights = validation.check_weights("teacher_weights", teacher_weights, len(teachers), owner=OWNER)
        self.ensemble = ensemble
        self.teacher_weights = teacher_weights
        self.temperature = temperature
        super().__init__(
            TeacherEnsemble(teachers, name="teachers"), student, losses, distillation_loss_weights,
            student_loss_weight, name, views=views, paired_inputs=paired_inputs,
        )  # fmt: skip
        self.track_measurements([f"teacher_weight/{m}" for m in range(len(teachers))])

    @property
    def teachers(self):
        return self.teacher.teachers

    def teacher_taps(self, terms):
        result = {}
        for index, teacher in enumerate(self.teacher.teachers):
            layers = [
                t.teacher_layer_name for t in terms
                if isinstance(t, FromTeacher) and t.teacher == index and t.teacher_layer_name is not None
            ]  # fmt: skip
            result[index] = taps.Tap(teacher, list(dict.fromkeys(layers)), role=f"teacher {index}", frozen=True)
        return result

    def term_source(self, term):
        if isinstance(term, FromTeacher):
            return term.teacher
        return MEMBERS if isinstance(term, EnsembleDistributionDistillation) else ENSEMBLE

    def teacher_forward(self, batch):
        outputs = {}
        for index, tap in self._teacher_taps.items():
            outputs[index] = tap(_resize_for(tap.model, batch.x_teacher))
        logits = [outputs[index].outputs for index in self._teacher_taps]
        weights = ensemble_weights(logits, mode=self.ensemble, teacher_weights=self.teacher_weights)
        combined = ensemble_logits(logits, weights, temperature=self.temperature)
        outputs[ENSEMBLE] = ModelOutputs(ops.stop_gradient(combined), {"teacher_weights": ops.stop_gradient(weights)})
        if any(slot.source == MEMBERS for slot in self._slots):
            outputs[MEMBERS] = ModelOutputs(ops.stack(logits, axis=1))
        return outputs

    def compute_distillation(self, batch, teacher, training):
        result = super().compute_distillation(batch, teacher, training)
        weights = ops.reshape(teacher[ENSEMBLE].features["teacher_weights"], (-1, len(self.teachers)))
        mean_weights = ops.mean(weights, axis=0)
        logged = {f"teacher_weight/{m}": mean_weights[m] for m in range(len(self.teachers))}
        return StepResult(result.loss, {**result.measurements, **logged}, result.predictions)

    def get_config(self):
        config = {key: value for key, value in self.base_config().items() if key != "teacher"}
        return {
            **config,
            "teachers": [keras.saving.serialize_keras_object(t) for t in self.teachers],
            "distillation_losses": [keras.saving.serialize_keras_object(t) for t in self.distillation_losses],
            "distillation_loss_weights": [float(v.numpy()) for v in self.term_weights],
            "student_loss_weight": self.student_loss_weight,
            "ensemble": self.ensemble,
            "teacher_weights": self.teacher_weights,
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config):
        config = serialization.deserialize_fields(
            config, objects=("student", "views"), lists=("teachers", "distillation_losses")
        )
        return cls(**config)


def _resize_for(teacher, x):
    """`x` resized (bilinear) to the teacher's input size when both are images of another size."""
    if not model_checks.is_graph_model(teacher) or len(teacher.inputs) != 1 or len(x.shape) != 4:
        return x
    height, width = teacher.inputs[0].shape[1:3]
    if height is None or width is None or (height, width) == tuple(x.shape[1:3]):
        return x
    return ops.image.resize(x, (height, width), interpolation="bilinear")
