"""`Distiller`: a `keras.Model` that trains a student against a frozen teacher.

One training step, the same for every method (TensorFlow backend):

1. `step.make_batch`: unpack `(x, y, sample_weight)`, split paired inputs
   `((x_teacher, x_student), y)`, and make the views on device;
2. `teacher_forward(batch)`, outside the gradient tape: the teacher once,
   `training=False`, its outputs and features through `stop_gradient`;
3. the hook, `compute_distillation(batch, teacher, training)`, under the
   tape: the student once (logits and features from one pass) and every
   loss, as a `step.StepResult`; the base hook's total is
   w * student_loss + (1 - w) * sum_i(weight_i * term_i) + regularization.
   `backend.tensorflow.minimize` holds the tape, divides by the replicas,
   stops on a NaN / Inf it names, and applies each optimizer group;
4. one mean tracker per measurement (`loss`, `total_loss`, `student_loss`,
   `distillation_loss`, `distill/<name>` per term when there are several)
   and the compiled metrics on the hook's predictions.

How a method plugs in: subclass `Distiller` and override
`compute_distillation`, reusing `student_forward`, `combined_losses`,
`student_loss`, `distillation_terms` and `regularization_loss` (see
`methods.DAKDDistiller`; `methods.QuESTDistiller` reads more features of
the same passes through `tap_layers`). Other teachers (several: see
`methods.MultiTeacherDistiller`) override `teacher_forward`,
`teacher_taps` and `term_source`; no teacher (`teacher=None`: DML, MSD)
needs no override. Helpers with an optimizer of their own (a
discriminator) override `optimizer_groups` and return their losses in
`StepResult.group_losses`; peers trained together are one group, each
peer's gradient reaching only its own variables.

What it deliberately leaves out: data pipelines (feed `tf.data` or arrays),
learning-rate schedules (the optimizer's), and checkpoint formats (Keras's).
"""

import warnings

import keras
from keras import ops

from keras_kd import loss_trackers
from keras_kd import model_checks
from keras_kd import serialization
from keras_kd import soft_labels
from keras_kd import taps
from keras_kd import term_slots
from keras_kd import validation
from keras_kd.augment.views import check_views
from keras_kd.backend import tensorflow as backend
from keras_kd.keras_parity import KerasDistillerAPI
from keras_kd.step import OptimizerGroup
from keras_kd.step import StepResult
from keras_kd.step import build_optimizers
from keras_kd.step import make_batch

OWNER = "Distiller"


@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(KerasDistillerAPI, keras.Model):
    """Trains a student to match a frozen teacher and the labels.

    A drop-in for `keras.distillation.Distiller` (same positional arguments,
    `compute_loss`, trackers and logs), and any
    `keras.distillation.DistillationLoss` works, Keras's `LogitsDistillation`
    and `FeatureDistillation` included.

    total = w * student_loss + (1 - w) * sum_i(weight_i * term_i)

    Args:
        teacher: a trained `keras.Model`. It is frozen (`trainable=False`),
            run with `training=False`, once per step, and its outputs pass
            through `stop_gradient`. `None` for teacher-free training: the
            labels plus terms that need no teacher (Tf-KD's
            `TeacherFreeRegularization`), or a method's own losses (online
            and self-distillation); `distillation_losses=None` then means
            no term.
        student: the `keras.Model` to train. Its outputs feed the compiled
            loss and metrics; `predict` and `call` return them.
        distillation_losses: a term, a list of terms, registered names
            (`"kd"`), or `None` for `keras_kd.losses.KD(temperature=4.0)`.
            Defaults to `None`.
        distillation_loss_weights: one weight >= 0 per term. Defaults to
            `None` (1.0 each).
        student_loss_weight: w in [0, 1]. Defaults to 0.5.
        name: defaults to `"distiller"`.
        views: a `keras_kd.augment.Views` making the teacher's and the
            student's augmented views inside the train step (identity in
            `evaluate`/`predict`). Defaults to `None` (no augmentation).
        paired_inputs: the data's inputs are pairs `(x_teacher, x_student)`:
            the teacher sees its own input (clean, high resolution), the
            student another (noisy, low resolution). `predict` and `call`
            take the student's input (or a pair, whose second element they
            use). Defaults to `False`.

    Example:

    ```python
    distiller = keras_kd.Distiller(
        teacher, student, keras_kd.losses.KD(temperature=4.0),
        student_loss_weight=0.1)
    distiller.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"])
    distiller.fit(x_train, y_train, epochs=10, validation_data=(x_val, y_val))
    distiller.student.save("student.keras")  # the student alone
    ```
    """

    # A method whose hook adds losses of its own (QuEST) sets this: then
    # `distillation_losses=None` means no term besides them, not Hinton's KD.
    brings_own_losses = False

    def __init__(
        self,
        teacher,
        student,
        distillation_losses=None,
        distillation_loss_weights=None,
        student_loss_weight=0.5,
        name="distiller",
        *,
        views=None,
        paired_inputs=False,
        **kwargs,
    ):
        model_checks.require_tensorflow(OWNER)
        if teacher is not None:
            model_checks.check_model("teacher", teacher, owner=OWNER)
        model_checks.check_model("student", student, owner=OWNER)
        if teacher is not None:
            model_checks.check_distinct(teacher, student, owner=OWNER)
        student_loss_weight = validation.check_unit_interval("student_loss_weight", student_loss_weight, owner=OWNER)
        no_default = teacher is None or self.brings_own_losses
        losses, weights, terms = term_slots.checked_terms(
            teacher, student, distillation_losses, distillation_loss_weights, none_means_no_term=no_default, owner=OWNER
        )
        paired_inputs = validation.check_bool("paired_inputs", paired_inputs, owner=OWNER)
        views = check_views(views, student=student, paired_inputs=paired_inputs, owner=OWNER, teacher=teacher)
        super().__init__(name=name, **kwargs)
        self.teacher = teacher
        self.student = student
        self.student_loss_weight = student_loss_weight
        self.distillation_losses = losses
        self.distillation_loss_weights = weights
        self.paired_inputs = paired_inputs
        self.views = views
        self.term_names = term_slots.unique_names(terms)
        # Variables, so schedules (keras_kd.schedules) change the weights without retracing the step.
        self.term_weights = [
            keras.Variable(w, trainable=False, dtype="float32", name=f"term_weight_{n}")
            for w, n in zip(weights, self.term_names)
        ]
        self._build_slots(terms)
        tracked = ["total_loss", "student_loss", "distillation_loss"]
        if len(terms) > 1:
            tracked += [f"distill/{n}" for n in self.term_names]
        self.loss_trackers = loss_trackers.LossTrackers(tracked)
        # Last, after every check: a refused Distiller leaves the user's models as they were.
        if self.teacher is not None:
            self.teacher.trainable = False
        # Both models are built, so the Distiller is: saved and restored (optimizers too) before any step.
        self.built = bool((self.teacher is None or self.teacher.built) and self.student.built)

    def _build_slots(self, terms):
        # Outside Keras's tracking: the taps share the models' variables,
        # which must be saved once, under teacher/ and student/.
        teacher_taps = self.teacher_taps(terms)
        student_tap = taps.Tap(self.student, self.tap_layers(terms, role="student"), role="student")
        sources = [self.term_source(term) for term in terms]
        slots = term_slots.build_slots(terms, self.term_names, self.term_weights, sources, teacher_taps, student_tap)
        self.__dict__.update(_teacher_taps=teacher_taps, _student_tap=student_tap, _slots=slots)
        # Tracked: connectors train with the student and save with the
        # Distiller; the student itself never holds them.
        self.connectors = [slot.connector for slot in slots if slot.connector is not None]

    def teacher_taps(self, terms):
        """`{source: taps.Tap}`: the teacher's tap over the layers the terms read.

        Methods with several teachers return one tap per source; without a
        teacher there is none.
        """
        if self.teacher is None:
            return {}
        return {None: taps.Tap(self.teacher, self.tap_layers(terms, role="teacher"), role="teacher", frozen=True)}

    def tap_layers(self, terms, *, role):
        """The layers of `role` ("teacher" or "student") read in its one forward pass.

        The terms' layers; a method that reads other features (QuEST's)
        extends this list.
        """
        attribute = "teacher_layer_name" if role == "teacher" else "student_layer_name"
        return list(dict.fromkeys(getattr(t, attribute) for t in terms if getattr(t, attribute) is not None))

    def term_source(self, term):
        """Which of `teacher_taps`' sources a term reads (`None`: the teacher)."""
        del term
        return None

    def set_distillation_loss_weights(self, weights):
        """Changes the term weights; takes effect at the next step."""
        weights = term_slots.normalize_weights(list(weights), len(self.term_weights), owner=OWNER)
        for variable, weight in zip(self.term_weights, weights):
            variable.assign(weight)
        self.distillation_loss_weights = weights

    # ------------------------------------------------------------- compile

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Configures training. `loss` is the student's loss on the labels.

        `loss` may be `None` only when `student_loss_weight == 0` (pure
        distillation, labels optional). Metrics are computed on the
        student's predictions.
        """
        if loss is None and self.student_loss_weight > 0:
            raise ValueError(
                f"{OWNER}.compile: `loss` (the student's loss on the labels) "
                f"is required when student_loss_weight > 0. Received: "
                f"loss=None, student_loss_weight={self.student_loss_weight}. "
                f"Pass e.g. loss=keras.losses.SparseCategoricalCrossentropy("
                f"from_logits=True), or set student_loss_weight=0 for pure "
                f"distillation."
            )
        if kwargs.get("jit_compile") is True and self.views is not None and not self.views.supports_xla():
            warnings.warn(
                f"{OWNER}: the views' layers do not compile under XLA (see "
                f"keras_kd.augment.presets); training with jit_compile=False instead.",
                stacklevel=2,
            )
            kwargs["jit_compile"] = False
        mixes = self.views is not None and self.views.mixes_labels
        self.__dict__["_soft_label_loss"] = soft_labels.soft_label_loss(loss) if mixes and loss is not None else None
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        # Without a compiled loss there is no student loss to report.
        self.loss_trackers.set_hidden(["student_loss"] if loss is None else [])

    def compile_from_config(self, config):
        """Restores `compile` when a saved Distiller is loaded."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:  # so the saved optimizer state loads into each group's optimizer
            build_optimizers(self.optimizer_groups())

    # --------------------------------------------------------- the hook

    def compute_distillation(self, batch, teacher, training):
        """The hook: a `step.Batch` and the teacher's outputs in, a `step.StepResult` out.

        Runs the student's forward pass and computes every loss with
        `keras.ops`. `teacher` is what `teacher_forward(batch)` returned.
        `training` is `True` in `train_step` (under the gradient tape) and
        `False` in `test_step`. Override this to write a method.
        """
        return self.combined_losses(batch, teacher, self.student_forward(batch.x_student, training=training), training)

    def combined_losses(self, batch, teacher, student, training):
        """The base hook's `StepResult` on a given student pass (`taps.ModelOutputs`).

        w * student_loss + (1 - w) * sum_i(weight_i * term_i) + regularization.
        A method that reads more of the same pass (QuEST) calls this and adds
        its own losses, so the student still runs once.
        """
        student_loss = self.student_loss(batch, student.outputs)
        distillation_loss, values = self.distillation_terms(batch, teacher, student, training=training)
        total = (1.0 - self.student_loss_weight) * distillation_loss + self.regularization_loss()
        measurements = {}
        if student_loss is not None:
            total = total + self.student_loss_weight * student_loss
            measurements["student_loss"] = student_loss
        measurements.update({f"distill/{name}": value for name, value in values.items()})
        measurements["distillation_loss"] = distillation_loss
        return StepResult(total, measurements, student.outputs)

    def teacher_forward(self, batch):
        """The teacher's `taps.ModelOutputs` on `batch.x_teacher`, run outside the tape.

        Inference mode, outputs and features through `stop_gradient`;
        `None` without a teacher.
        """
        if self.teacher is None:
            return None
        return self._teacher_taps[None](batch.x_teacher)

    def student_forward(self, x, training):
        """The student's `taps.ModelOutputs` on `x`, features from the same pass."""
        return self._student_tap(x, training=training)

    def distillation_terms(self, batch, teacher, student, *, training):
        """`(sum_i weight_i * term_i, {name: term_i})` on the two passes."""
        return term_slots.evaluate_terms(
            self._slots, teacher, student, y=batch.y, sample_weight=batch.sample_weight, training=training
        )

    def student_loss(self, batch, predictions):
        """The compiled loss on the labels (soft labels when the views mix).

        Returns a float32 scalar at its true value (Keras's compiled losses
        divide by the number of replicas; this multiplies it back), or
        `None` when no loss was compiled or the batch has no labels.
        """
        compiled = self._compile_loss  # Keras's compiled loss, sample weights and all
        if batch.y is None or compiled is None:
            if self.student_loss_weight > 0:
                raise ValueError(
                    f"{OWNER}: labels are required when student_loss_weight > 0. "
                    f"Received: data without targets and student_loss_weight="
                    f"{self.student_loss_weight}. Pass (x, y), or set "
                    f"student_loss_weight=0 to distill on unlabeled data."
                )
            return None
        loss_fn = self._soft_label_loss if batch.mixed else compiled
        value = ops.cast(loss_fn(batch.y, predictions, batch.sample_weight), "float32")
        return value * backend.num_replicas_in_sync()

    def regularization_loss(self):
        """The student's and the connectors' regularization losses (0 if none)."""
        losses = list(self.student.losses) + [loss for c in self.connectors for loss in c.losses]
        return sum((ops.cast(loss, "float32") for loss in losses), ops.zeros((), "float32"))

    def track_measurements(self, names):
        """Logs these measurements of the hook too (a method calls it in `__init__`)."""
        self.loss_trackers.add(names)

    def optimizer_groups(self):
        """Which optimizer updates which variables from which loss.

        One group by default: the compiled optimizer minimizes
        `StepResult.loss` over the student's and the connectors' variables.
        """
        return [OptimizerGroup("loss", self.optimizer, self.trainable_variables)]

    def nonfinite_hints(self):
        """`{measurement name: hint}` for the NaN / Inf error."""
        return {f"distill/{slot.name}": slot.term.explain_nonfinite() for slot in self._slots}

    # ---------------------------------------------------------------- steps

    def train_step(self, data):
        batch = make_batch(data, views=self.views, paired_inputs=self.paired_inputs, training=True)
        return self._log(batch, backend.minimize(self, batch))

    def test_step(self, data):
        batch = make_batch(data, views=self.views, paired_inputs=self.paired_inputs, training=False)
        return self._log(batch, self.compute_distillation(batch, self.teacher_forward(batch), training=False))

    def _log(self, batch, result):
        self._loss_tracker.update_state(result.loss, sample_weight=batch.size)
        self.loss_trackers.update({"total_loss": result.loss, **result.measurements}, batch.size)
        labels = batch.labels
        if batch.mixed:
            labels = soft_labels.metric_labels(ops.convert_to_tensor(labels), batch.y)
        logs = self.compute_metrics(batch.x, labels, result.predictions, sample_weight=batch.sample_weight)
        return backend.logs_for_reduction(logs, self.distribute_strategy)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras's hook; see backend.tensorflow for why multi-worker runs need this.
        if self.built and self.compiled:  # before Keras builds one optimizer on every variable
            with self.distribute_strategy.scope():
                build_optimizers(self.optimizer_groups())
        if iterator is not None and backend.is_multi_worker(self.distribute_strategy):
            iterator, data_batch = None, backend.first_local_batch(iterator, self.distribute_strategy)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def fit(self, *args, **kwargs):
        with backend.translate_errors():
            return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        with backend.translate_errors():
            return super().train_on_batch(*args, **kwargs)

    # --------------------------------------------------------------- config

    def base_config(self):
        """The configuration every method shares: name, models, views, pairing."""
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "teacher": serialize(self.teacher) if self.teacher is not None else None,
            "student": serialize(self.student),
            "views": serialize(self.views) if self.views is not None else None,
            "paired_inputs": self.paired_inputs,
        }

    def get_config(self):
        return {
            **self.base_config(),
            # None: no term (a teacher-free method or one with its own losses)
            "distillation_losses": [keras.saving.serialize_keras_object(t) for t in self.distillation_losses] or None,
            "distillation_loss_weights": [float(v.numpy()) for v in self.term_weights] or None,
            "student_loss_weight": self.student_loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        lists = ("distillation_losses",) if config.get("distillation_losses") is not None else ()  # methods own their terms
        config = serialization.deserialize_fields(config, objects=("teacher", "student", "views"), lists=lists)
        return cls(**config)
