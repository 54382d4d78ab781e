"""`Distiller`: a `keras.Model` that trains a student against a frozen teacher.

One training step (TensorFlow backend):

1. unpack `(x, y, sample_weight)`;
2. run the teacher once, `training=False`, outside the gradient tape, and
   pass its outputs (and tapped features) through `stop_gradient`;
3. under the tape, run the student once (through its tap when features are
   distilled, so logits and features come from the same pass);
4. total = w * student_loss + (1 - w) * sum_i(w_i * term_i) + regularization,
   where w is `student_loss_weight`, and the student loss is the loss given
   to `compile` (with Keras's sample-weight handling);
5. apply gradients to the Distiller's trainable variables: the student's
   (and helper layers' such as connectors), never the teacher's;
6. update the compiled metrics on the student's predictions, and one mean
   tracker per loss: `loss`, `student_loss`, `distillation_loss`, and
   `distill/<name>` per term when there are several.

Every term is computed and logged at its true value even when its weight,
or `1 - student_loss_weight`, is 0. `test_step` computes the same terms the
same way, with the student in inference mode.

What it deliberately leaves out: data augmentation (see `views`), multiple
teachers and online distillation (see `keras_kd.methods`).
"""

import warnings

import keras
from keras import ops

from keras_kd import _loss_trackers
from keras_kd import _soft_labels
from keras_kd import _validation
from keras_kd import connectors as kd_connectors
from keras_kd import losses as kd_losses
from keras_kd import taps
from keras_kd._distiller_checks import _OWNER
from keras_kd._distiller_checks import _declares_student_logits
from keras_kd._distiller_checks import _declares_teacher_logits
from keras_kd._distiller_checks import _final_activation_name
from keras_kd._distiller_checks import _normalize_terms
from keras_kd._distiller_checks import _normalize_weights
from keras_kd._distiller_checks import _require_tensorflow
from keras_kd._distiller_checks import _check_model
from keras_kd._distiller_checks import _requires_same_shape
from keras_kd._distiller_checks import _term_name
from keras_kd._distiller_checks import _unique_names

@keras.saving.register_keras_serializable(package="keras_kd")
class Distiller(keras.Model):
    """Trains a student to match a frozen teacher and the labels.

    Argument names mirror `keras.distillation.Distiller`, so switching is a
    one-line change, and any `keras.distillation.DistillationLoss` works,
    Keras's `LogitsDistillation` and `FeatureDistillation` included.

    total = w * student_loss + (1 - w) * sum_i(weight_i * term_i)

    Args:
        teacher: a trained `keras.Model`. It is frozen (`trainable=False`),
            run with `training=False`, once per step, and its outputs pass
            through `stop_gradient`.
        student: the `keras.Model` to train. Its outputs feed the compiled
            loss and metrics; `predict` and `call` return them.
        distillation_losses: a term, a list of terms, registered names
            (`"kd"`), or `None` for `keras_kd.losses.KD(temperature=4.0)`.
            Defaults to `None`.
        distillation_loss_weights: one weight >= 0 per term. Defaults to
            `None` (1.0 each).
        student_loss_weight: w in [0, 1]. Defaults to 0.5.
        views: a `keras_kd.augment.Views` making the teacher's and the
            student's augmented views inside the train step (identity in
            `evaluate`/`predict`). Defaults to `None` (no augmentation).
        name: defaults to `"distiller"`.

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

    def __init__(
        self,
        teacher,
        student,
        distillation_losses=None,
        *,
        distillation_loss_weights=None,
        student_loss_weight=0.5,
        views=None,
        name="distiller",
        **kwargs,
    ):
        _require_tensorflow()
        _check_model("teacher", teacher)
        _check_model("student", student)
        super().__init__(name=name, **kwargs)
        self.teacher = teacher
        self.student = student
        self.student_loss_weight = _validation.check_unit_interval(
            "student_loss_weight", student_loss_weight, owner=_OWNER
        )
        self.distillation_losses = _normalize_terms(distillation_losses)
        self.distillation_loss_weights = _normalize_weights(
            distillation_loss_weights, len(self.distillation_losses)
        )
        self.term_names = _unique_names(self.distillation_losses)
        # Variables, so schedules (keras_kd.schedules) can change the weights
        # between steps without retracing the train step.
        self.term_weights = [
            keras.Variable(w, trainable=False, dtype="float32", name=f"term_weight_{n}")
            for w, n in zip(self.distillation_loss_weights, self.term_names)
        ]
        self.teacher.trainable = False

        for term in self.distillation_losses:
            term.validate_model_compatibility(teacher, student)
        self._validate_final_outputs()
        self._build_taps()

        tracker_names = ["student_loss", "distillation_loss"]
        if len(self.distillation_losses) > 1:
            tracker_names += [f"distill/{n}" for n in self.term_names]
        self.loss_trackers = _loss_trackers.LossTrackers(tracker_names)
        self.views = self._check_views(views)
        # Both models are built, so the Distiller is: its weights (and an
        # optimizer's state) can be saved and restored before any step.
        self.built = bool(self.teacher.built and self.student.built)

    # ----------------------------------------------------------- validation

    def _check_views(self, views):
        if views is None:
            return None
        from keras_kd.augment.views import Views

        if not isinstance(views, Views):
            raise TypeError(
                f"{_OWNER}: `views` must be a keras_kd.augment.Views (or None). "
                f"Received: {views!r}. Build one, or use a preset: "
                f"keras_kd.augment.presets.get('standard')."
            )
        if views.mixes_labels and views.num_classes is None:
            outputs = getattr(self.student, "outputs", None)
            if not outputs:
                raise ValueError(
                    f"{_OWNER}: mixing views need the number of classes. Pass "
                    f"Views(..., num_classes=K) for a subclassed student."
                )
            views.num_classes = int(outputs[0].shape[-1])
        return views

    def _validate_final_outputs(self):
        final_terms = [t for t in self.distillation_losses if _requires_same_shape(t)]
        if not final_terms:
            return
        t_outputs = getattr(self.teacher, "outputs", None)
        s_outputs = getattr(self.student, "outputs", None)
        if t_outputs and s_outputs:
            t_shapes = [tuple(o.shape) for o in t_outputs]
            s_shapes = [tuple(o.shape) for o in s_outputs]
            comparable = len(t_shapes) == len(s_shapes) and all(
                len(a) == len(b)
                and all(x is None or y is None or x == y for x, y in zip(a, b))
                for a, b in zip(t_shapes, s_shapes)
            )
            if not comparable:
                raise ValueError(
                    f"{_OWNER}: the teacher's and the student's outputs cannot "
                    f"be compared by {', '.join(_term_name(t) for t in final_terms)}. "
                    f"Received: teacher outputs {t_shapes}, student outputs "
                    f"{s_shapes}. Both must predict the same classes: give the "
                    f"student the teacher's output width, or distill features "
                    f"instead (teacher_layer_name / student_layer_name)."
                )
        for role, model, declares, fix in (
            ("teacher", self.teacher, _declares_teacher_logits,
             "rebuild the teacher's last layer without it (logits are better for "
             "temperature scaling), or pass keras_kd.losses.KD(teacher_from_logits=False)"),
            ("student", self.student, _declares_student_logits,
             "remove it (and compile the loss with from_logits=True), or pass "
             "keras_kd.losses.KD(student_from_logits=False)"),
        ):  # fmt: skip
            activation = _final_activation_name(model)
            if activation in ("softmax", "log_softmax") and any(declares(t) for t in final_terms):
                raise ValueError(
                    f"{_OWNER}: the {role}'s final layer applies {activation}, "
                    f"but a distillation term declares its outputs as logits. "
                    f"Received: {role} {model.name!r} ending in "
                    f"activation={activation!r}. Either {fix}."
                )

    def _build_taps(self):
        teacher_layers, student_layers = [], []
        for term in self.distillation_losses:
            t_name = getattr(term, "teacher_layer_name", None)
            s_name = getattr(term, "student_layer_name", None)
            if t_name is not None and t_name not in teacher_layers:
                teacher_layers.append(t_name)
            if s_name is not None and s_name not in student_layers:
                student_layers.append(s_name)
        # Stored outside Keras's tracking: the taps share the models'
        # variables, which must be saved once, under teacher/ and student/.
        self.__dict__["_teacher_tap"] = taps.build_tap(
            self.teacher, teacher_layers, role="teacher"
        )
        self.__dict__["_student_tap"] = taps.build_tap(
            self.student, student_layers, role="student"
        )
        self.__dict__["_teacher_layers"] = teacher_layers
        self.__dict__["_student_layers"] = student_layers
        self._build_connectors()

    def _feature_shape(self, role, layer_name):
        tap = self._teacher_tap if role == "teacher" else self._student_tap
        names = self._teacher_layers if role == "teacher" else self._student_layers
        return tuple(tap.outputs[1 + names.index(layer_name)].shape[1:])

    def _build_connectors(self):
        """One connector per feature term that asks for one (see Connector)."""
        connectors, index = [], []
        for term in self.distillation_losses:
            kind = None
            t_name = getattr(term, "teacher_layer_name", None)
            s_name = getattr(term, "student_layer_name", None)
            if hasattr(term, "connector_kind") and t_name is not None and s_name is not None:
                t_shape = self._feature_shape("teacher", t_name)
                s_shape = self._feature_shape("student", s_name)
                kind = term.connector_kind(t_shape)
                if kind == "identity" and t_shape == s_shape:
                    kind = None
            if kind is None:
                index.append(None)
                continue
            connector = kd_connectors.Connector(
                t_shape, kind=kind, spatial=getattr(term, "spatial", "resize"),
                data_format=getattr(term, "data_format", "channels_last"),
                name=f"connector_{len(connectors)}_{_term_name(term)}",
            )  # fmt: skip
            connector.build((None, *s_shape))
            index.append(len(connectors))
            connectors.append(connector)
        # Tracked: connectors train with the student and save with the
        # Distiller; the student itself never holds them.
        self.connectors = connectors
        self.__dict__["_connector_index"] = index

    def set_distillation_loss_weights(self, weights):
        """Changes the term weights; takes effect at the next step."""
        weights = _normalize_weights(list(weights), len(self.distillation_losses))
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
                f"{_OWNER}.compile: `loss` (the student's loss on the labels) "
                f"is required when student_loss_weight > 0. Received: "
                f"loss=None, student_loss_weight={self.student_loss_weight}. "
                f"Pass e.g. loss=keras.losses.SparseCategoricalCrossentropy("
                f"from_logits=True), or set student_loss_weight=0 for pure "
                f"distillation."
            )
        if kwargs.get("jit_compile") is True and self.views is not None and not self.views.supports_xla():
            warnings.warn(
                f"{_OWNER}: the views' layers do not compile under XLA (see "
                f"keras_kd.augment.presets); training with jit_compile=False instead.",
                stacklevel=2,
            )
            kwargs["jit_compile"] = False
        self.__dict__["_soft_loss"] = None
        if self.views is not None and self.views.mixes_labels and loss is not None:
            self.__dict__["_soft_loss"] = _soft_labels.soft_label_loss(loss)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        # Without a compiled loss there is no student loss to report.
        self.loss_trackers.set_hidden(["student_loss"] if loss is None else [])

    def compile_from_config(self, config):
        """Restores `compile` when a saved Distiller is loaded."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------- forward

    def call(self, inputs, training=None):
        """The student's outputs."""
        return self.student(inputs, training=training)

    def _teacher_forward(self, x):
        if self._teacher_tap is None:
            outputs, features = self.teacher(x, training=False), []
        else:
            outputs, *features = self._teacher_tap(x, training=False)
        stop = ops.stop_gradient
        return (
            keras.tree.map_structure(stop, outputs),
            dict(zip(self._teacher_layers, [stop(f) for f in features])),
        )

    def _student_forward(self, x, training):
        if self._student_tap is None:
            return self.student(x, training=training), {}
        outputs, *features = self._student_tap(x, training=training)
        return outputs, dict(zip(self._student_layers, features))

    # --------------------------------------------------------------- losses

    def _term_value(self, index, term, teacher, student, y, sample_weight, training):
        t_name = getattr(term, "teacher_layer_name", None)
        s_name = getattr(term, "student_layer_name", None)
        t_value = teacher[0] if t_name is None else teacher[1][t_name]
        s_value = student[0] if s_name is None else student[1][s_name]
        connector = self._connector_index[index]
        if connector is not None:
            s_value = self.connectors[connector](s_value, training=training)
        if isinstance(term, kd_losses.DistillationTerm):
            value = term.compute_loss(t_value, s_value, sample_weight=sample_weight, y_true=y)
        else:
            term.validate_outputs(t_value, s_value)
            value = term.compute_loss(t_value, s_value)
        value = ops.convert_to_tensor(value)
        if len(value.shape) != 0:
            raise ValueError(
                f"{_OWNER}: distillation term {_term_name(term)!r} must "
                f"return a scalar from compute_loss. Received: a tensor of "
                f"shape {tuple(value.shape)}. Reduce it (e.g. ops.mean)."
            )
        return ops.cast(value, "float32")

    def compute_distillation_losses(self, y, y_pred, sample_weight, teacher, student, training=True, soft_labels=False):
        """Returns `(total, student_loss, distillation_loss, term_values)`.

        `teacher` and `student` are `(outputs, {layer_name: feature})` pairs.
        `soft_labels` says `y` holds mixed one-hot labels from the views.
        `student_loss` is `None` when no loss was compiled or `y is None`.
        """
        student_loss = None
        if soft_labels and y is not None and self._soft_loss is not None:
            student_loss = ops.cast(self._soft_loss(y, y_pred, sample_weight), "float32")
        elif self._compile_loss is not None and y is not None:
            student_loss = ops.cast(
                self._compile_loss(y, y_pred, sample_weight), "float32"
            )
        elif self.student_loss_weight > 0:
            raise ValueError(
                f"{_OWNER}: labels are required when student_loss_weight > 0. "
                f"Received: data without targets and student_loss_weight="
                f"{self.student_loss_weight}. Pass (x, y), or set "
                f"student_loss_weight=0 to distill on unlabeled data."
            )
        term_values = [
            self._term_value(i, term, teacher, student, y, sample_weight, training)
            for i, term in enumerate(self.distillation_losses)
        ]
        distillation_loss = term_values[0] * self.term_weights[0]
        for value, weight in zip(term_values[1:], self.term_weights[1:]):
            distillation_loss = distillation_loss + value * weight
        total = (1.0 - self.student_loss_weight) * distillation_loss
        if student_loss is not None:
            total = total + self.student_loss_weight * student_loss
        for regularization in self.student.losses + [l for c in self.connectors for l in c.losses]:
            total = total + ops.cast(regularization, "float32")
        return total, student_loss, distillation_loss, term_values

    def _update_loss_trackers(self, x, total, student_loss, distillation_loss, term_values):
        batch_size = ops.shape(keras.tree.flatten(x)[0])[0]
        self._loss_tracker.update_state(total, sample_weight=batch_size)
        values = {"distillation_loss": distillation_loss}
        if student_loss is not None:
            values["student_loss"] = student_loss
        if len(term_values) > 1:
            values.update(
                {f"distill/{n}": v for n, v in zip(self.term_names, term_values)}
            )
        self.loss_trackers.update(values, batch_size)

    # ---------------------------------------------------------------- steps

    def train_step(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_teacher, x_student, y_views = x, x, y
        if self.views is not None:
            x_teacher, x_student, y_views = self.views(x, y, training=True)
        soft_labels = self.views is not None and self.views.mixes_labels
        teacher = self._teacher_forward(x_teacher)
        with tf.GradientTape() as tape:
            student = self._student_forward(x_student, training=True)
            total, student_loss, distillation_loss, term_values = (
                self.compute_distillation_losses(
                    y_views, student[0], sample_weight, teacher, student, soft_labels=soft_labels
                )
            )
            scaled = self.optimizer.scale_loss(total)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self._update_loss_trackers(x, total, student_loss, distillation_loss, term_values)
        if soft_labels and y is not None:
            y = _soft_labels.metric_labels(ops.convert_to_tensor(y), y_views)
        return self.compute_metrics(x, y, student[0], sample_weight=sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        teacher = self._teacher_forward(x)
        student = self._student_forward(x, training=False)
        total, student_loss, distillation_loss, term_values = (
            self.compute_distillation_losses(
                y, student[0], sample_weight, teacher, student, training=False
            )
        )
        self._update_loss_trackers(x, total, student_loss, distillation_loss, term_values)
        return self.compute_metrics(x, y, student[0], sample_weight=sample_weight)

    # --------------------------------------------------------------- config

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "name": self.name,
            "teacher": serialize(self.teacher),
            "student": serialize(self.student),
            "distillation_losses": [serialize(t) for t in self.distillation_losses],
            "distillation_loss_weights": [float(v.numpy()) for v in self.term_weights],
            "student_loss_weight": self.student_loss_weight,
            "views": serialize(self.views) if self.views is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        deserialize = keras.saving.deserialize_keras_object
        for key in ("teacher", "student"):
            config[key] = deserialize(config[key])
        if "distillation_losses" in config:
            config["distillation_losses"] = [deserialize(t) for t in config["distillation_losses"]]
        if config.get("views") is not None:
            config["views"] = deserialize(config["views"])
        return cls(**config)
