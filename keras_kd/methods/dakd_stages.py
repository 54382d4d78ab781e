"""DAKD whole: the teacher stage (step 2) and the distillation stage (steps 3-9).

The method's procedure (section 3.2) makes two augmentations D1 and D2 of
the data, **trains the teacher on D1** (step 2), then distils: the
teacher's soft labels on D2, the student's on D1, the consistency loss
between them plus the student's cross-entropy (steps 3-9, the
`DAKDDistiller`). `fine_tune_teacher` is step 2 for an already trained
teacher: a copy is fine-tuned on the D1 augmentation (the given teacher is
left as it was); `dakd` runs both stages.

D1 here is the student side of an independent preset (`fashion_dakd` or
`dakd`), drawn with its own seed: the same family of transformations the
teacher then sees as D2, so the teacher has learnt the augmented
distribution it is asked to label.
"""

import dataclasses

import keras

from keras_kd import training
from keras_kd.augment import presets
from keras_kd.methods.dakd import DAKDDistiller

OWNER = "dakd"


@dataclasses.dataclass
class DAKDResult:
    """Both stages: `teacher` (step 2, `None` when skipped) and `student` (`training.RunResult`s)."""

    teacher: object
    student: object


def _check_views(views):
    if not presets.is_independent(views):
        raise ValueError(
            f"{OWNER}: DAKD needs independent views (a view per side). Received: views={views!r}. "
            f"Use 'fashion_dakd' (small centred images) or 'dakd' (natural images)."
        )


def fine_tune_teacher(teacher, data, config, *, views="fashion_dakd", name="teacher_d1"):
    """Step 2: a copy of `teacher` fine-tuned on the labels of D1-augmented images.

    Args:
        teacher: the trained teacher (not modified).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `training.TrainConfig` for the fine-tuning (a few epochs
            at a tenth of the training rate is typical).
        views: an independent preset; its student side is D1. Defaults to
            `"fashion_dakd"`.
        name: the run's name. Defaults to `"teacher_d1"`.

    Returns:
        A `training.RunResult` whose model is the fine-tuned teacher.
    """
    _check_views(views)
    d1 = presets.get(views, seed=config.seed + 200).student_layers
    copy = keras.models.clone_model(teacher)
    copy.set_weights(teacher.get_weights())
    # A teacher that served in a Distiller is frozen, and its clone's layers keep
    # `trainable=False` under a model that says True (setting True again changes
    # nothing): unfrozen through False, the copy learns; else step 2 trained nothing.
    copy.trainable = False
    copy.trainable = True

    def model_fn():
        inputs = keras.Input(teacher.inputs[0].shape[1:])
        x = inputs
        for layer in d1:  # active in training only: evaluation sees clean images
            x = layer(x)
        return keras.Model(inputs, copy(x), name=f"{name}_with_views")

    result = training.train_supervised(name, model_fn, data, config)
    return dataclasses.replace(result, model=copy)  # the views are off in evaluation: same accuracy


def dakd(
    teacher, student_fn, data, config, *, teacher_config=None, views="fashion_dakd", temperature=4.0,
    consistency_weight=1.0, name="dakd", callbacks=None,
):  # fmt: skip
    """Both DAKD stages: `fine_tune_teacher` (unless `teacher_config` is `None`), then the `DAKDDistiller`.

    Args:
        teacher: the trained teacher.
        student_fn: builds the student (called after seeding).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: the distillation stage's `training.TrainConfig`.
        teacher_config: step 2's `TrainConfig`. Defaults to `None`: the
            teacher is used as given (only steps 3-9 run).
        views: an independent preset. Defaults to `"fashion_dakd"`.
        temperature, consistency_weight: as for `DAKDDistiller`.
        name: the student run's name. Defaults to `"dakd"`.
        callbacks: passed to the distillation stage's `fit` (e.g. a
            `keras.callbacks.BackupAndRestore`). Defaults to `None`.

    Returns:
        A `DAKDResult`.
    """
    _check_views(views)
    stage = fine_tune_teacher(teacher, data, teacher_config, views=views) if teacher_config is not None else None
    distiller_teacher = stage.model if stage is not None else teacher
    student = training.train_distilled(
        name, distiller_teacher, student_fn, data, config,
        distiller_fn=lambda t, s: DAKDDistiller(
            t, s, views=presets.get(views, seed=config.seed), temperature=temperature,
            consistency_weight=consistency_weight,
        ),
        callbacks=callbacks,
    )  # fmt: skip
    return DAKDResult(stage, student)
