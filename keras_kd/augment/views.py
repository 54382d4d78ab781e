"""`Views`: the teacher's and the student's augmented views, made on device.

A Keras layer built from Keras's own preprocessing layers, run inside the
train step (no `tf.py_function`, no numpy, no `tf.data` work):

1. `shared` layers make one draw that both models see;
2. `teacher` and `student` layers then make independent extra draws per
   side (both empty: consistent teaching, the teacher and the student see
   the same view, as in function matching);
3. `mix` (MixUp or CutMix) makes one draw applied to both views and to the
   labels, which become soft (mixed one-hot).

With `training=False` (evaluation, prediction) the views are the identity.

Paired inputs (the teacher and the student each get their own input, e.g.
clean and noisy, `x_student=...`): `shared` layers make one draw and apply
it to both sides, which needs layers that separate drawing from applying
(`get_random_transformation` / `transform_images`, as Keras's image
preprocessing layers and keras_kd's noise layers do); `teacher` and
`student` layers apply per side, and `mix` mixes both with one draw.
Randomness comes from each layer's `SeedGenerator`: give the layers seeds
(the presets do) or call `keras.utils.set_random_seed` for reproducible runs.
"""

import keras
from keras import ops

from keras_kd import model_checks
from keras_kd import serialization
from keras_kd import validation
from keras_kd.augment import mix as mix_lib


# Layers that declare supports_jit=True but draw from a Beta distribution,
# whose StatelessRandomGammaV3 op has no XLA CPU kernel (TF 2.21, measured).
_NO_XLA_KERNEL = ("MixUp", "CutMix")


def _check_layers(role, layers):
    layers = list(layers or [])
    for layer in layers:
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"Views: `{role}` must hold Keras layers. Received: {layer!r} "
                f"(of type {type(layer).__name__}). Use keras.layers.RandomFlip, "
                f"RandomTranslation, ... or keras_kd.augment noise layers."
            )
    return layers


@keras.saving.register_keras_serializable(package="keras_kd")
class Views(keras.layers.Layer):
    """Makes `(x_teacher, x_student, y)` from a batch.

    Args:
        shared: layers applied once, seen by both. Defaults to `()`.
        teacher: extra layers for the teacher's view only. Defaults to `()`.
        student: extra layers for the student's view only. Defaults to `()`.
        mix: `keras.layers.MixUp` or `keras.layers.CutMix`, applied jointly.
            Defaults to `None`.
        num_classes: width of mixed labels. Defaults to `None` (the
            Distiller sets it from the student's output).

    Example:

    ```python
    views = keras_kd.augment.Views(
        shared=[keras.layers.RandomFlip("horizontal", seed=1),
                keras.layers.RandomTranslation(0.1, 0.1, seed=2)],
        mix=keras.layers.MixUp(alpha=0.2, seed=3))
    x_teacher, x_student, y = views(x, y, training=True)
    ```
    """

    def __init__(self, shared=(), teacher=(), student=(), mix=None, *, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.shared = _check_layers("shared", shared)
        self.teacher_layers = _check_layers("teacher", teacher)
        self.student_layers = _check_layers("student", student)
        self.mix = mix_lib.check_mix_layer(mix) if mix is not None else None
        self.num_classes = num_classes

    def build(self, *args, **kwargs):
        # Keras's preprocessing layers hold no weights; nothing to create.
        self.built = True

    @property
    def independent(self):
        """Whether the two views can differ (per-side layers exist)."""
        return bool(self.teacher_layers or self.student_layers)

    @property
    def mixes_labels(self):
        return self.mix is not None

    def supports_xla(self):
        """Whether every layer inside (nested ones included) compiles under XLA."""
        layers = self.shared + self.teacher_layers + self.student_layers + ([self.mix] if self.mix else [])
        nested = []
        for layer in layers:
            flatten = getattr(layer, "_flatten_layers", None)
            nested.extend(flatten(include_self=True) if flatten else [layer])
        return all(
            getattr(layer, "supports_jit", True) and type(layer).__name__ not in _NO_XLA_KERNEL
            for layer in nested
        )

    def layers_without_draws(self):
        """The shared layers that cannot apply one draw to two inputs."""
        return [
            layer for layer in self.shared
            if not (hasattr(layer, "get_random_transformation") and hasattr(layer, "transform_images"))
        ]  # fmt: skip

    def _apply(self, layers, x):
        for layer in layers:
            x = ops.cast(layer(x, training=True), "float32")
        return x

    def _apply_shared_to_pair(self, x_teacher, x_student):
        for layer in self.shared:
            transformation = layer.get_random_transformation(x_student, training=True)
            x_teacher = ops.cast(layer.transform_images(x_teacher, transformation, training=True), "float32")
            x_student = ops.cast(layer.transform_images(x_student, transformation, training=True), "float32")
        return x_teacher, x_student

    def call(self, x, y=None, training=None, x_student=None):
        """`(x_teacher, x_student, y)`; pass `x_student` for paired inputs."""
        if not training:
            return x, (x if x_student is None else x_student), y
        if x_student is None:
            x_teacher = x_student = self._apply(self.shared, ops.cast(x, "float32"))
        elif not (self.shared or self.teacher_layers or self.mix is not None):
            # Nothing touches the teacher's input (e.g. cached logits, or a top-k tuple): pass it through.
            return x, self._apply(self.student_layers, ops.cast(x_student, "float32")), y
        else:
            x_teacher, x_student = self._apply_shared_to_pair(ops.cast(x, "float32"), ops.cast(x_student, "float32"))
        x_teacher = self._apply(self.teacher_layers, x_teacher)
        x_student = self._apply(self.student_layers, x_student)
        if self.mix is not None:
            if self.num_classes is None and y is not None:
                raise ValueError(
                    "Views: mixing labels needs `num_classes`. Pass Views(..., "
                    "num_classes=K), or use the views inside a keras_kd.Distiller, "
                    "which sets it from the student's output."
                )
            x_teacher, x_student, y, _ = mix_lib.joint_mix(self.mix, x_teacher, x_student, y, self.num_classes)
        return x_teacher, x_student, y

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "shared": [serialize(l) for l in self.shared],
            "teacher": [serialize(l) for l in self.teacher_layers],
            "student": [serialize(l) for l in self.student_layers],
            "mix": serialize(self.mix) if self.mix is not None else None,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_config(cls, config):
        config = serialization.deserialize_fields(config, objects=("mix",), lists=("shared", "teacher", "student"))
        return cls(**config)


def _input_rank(model):
    inputs = getattr(model, "inputs", None) if model_checks.is_graph_model(model) else None
    return len(inputs[0].shape) if inputs else None


def check_views(views, *, student, paired_inputs, owner, teacher=None):
    """The Distiller's `views` argument, checked; sets `num_classes` from the student."""
    if views is None:
        return None
    if not isinstance(views, Views):
        raise validation.ArgumentTypeError(
            f"{owner}: `views` must be a keras_kd.augment.Views (or None). "
            f"Received: {views!r}. Build one, or use a preset: "
            f"keras_kd.augment.presets.get('standard')."
        )
    if paired_inputs and views.layers_without_draws():
        raise ValueError(
            f"{owner}: with paired inputs, shared view layers apply one draw to "
            f"both inputs, which needs get_random_transformation/transform_images. "
            f"Received: shared layers {[l.name for l in views.layers_without_draws()]} "
            f"without them. Move them to Views(teacher=[...]) / Views(student=[...])."
        )
    teacher_rank, student_rank = _input_rank(teacher), _input_rank(student)
    touches_teacher = views.shared or views.teacher_layers or views.mix is not None
    if paired_inputs and touches_teacher and None not in (teacher_rank, student_rank) and teacher_rank != student_rank:
        raise ValueError(
            f"{owner}: these views would transform the teacher's input too, but it is not an image like the "
            f"student's (ranks {teacher_rank} and {student_rank}: a cached teacher's logits?). Received: views with "
            f"shared={len(views.shared)}, teacher={len(views.teacher_layers)} layers, mix={views.mix is not None}. "
            f"Augment the student alone with Views(student=[...]); with a cache the teacher then labels the clean "
            f"image, not the student's view (see keras_kd.teacher_cache on when that is wrong)."
        )
    if views.mixes_labels and views.num_classes is None:
        if not model_checks.is_graph_model(student):
            raise ValueError(
                f"{owner}: mixing views need the number of classes. Pass "
                f"Views(..., num_classes=K) for a subclassed student."
            )
        views.num_classes = int(student.outputs[0].shape[-1])
    return views
