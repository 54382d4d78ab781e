"""Function matching: a patient, consistent teacher (Beyer et al., CVPR 2022).

The recipe that makes distillation with augmentation pay off, in the
paper's words "a good teacher is patient and consistent":

- consistent views: the teacher and the student see the *same* augmented,
  MixUp-ed image, and the teacher runs live on it at every step (never a
  fixed, precomputed teacher: on small data it overfits);
- aggressive mixing: MixUp with the ratio drawn uniformly from [0, 1]
  (Beta(1, 1), the `fashion_mixup` and `function_matching` presets);
- KL only: L = T^2 KL(softmax(z_T / T) || softmax(z_S / T)), no label term
  (their small-data runs), T = 1;
- Adam with a cosine schedule and gradient clipping at global norm 1.0;
- patience: far longer schedules than supervised training uses. The
  budget is `config.epochs`; the paper's gains appear only after hundreds
  of epochs, and a short schedule "leads to much worse performance".

`function_matching(teacher, student_fn, data, config)` runs it and returns
the usual `training.RunResult`.
"""

import dataclasses

from keras_kd import training
from keras_kd.augment import presets
from keras_kd.losses import KD
from keras_kd.methods import registry

OWNER = "function_matching"


@registry.register("function_matching")
def function_matching(
    teacher, student_fn, data, config, *, views="fashion_mixup", temperature=1.0, student_loss_weight=0.0,
    clipnorm=1.0, name="function_matching", callbacks=None,
):  # fmt: skip
    """Distils `teacher` into `student_fn()` by function matching.

    Args:
        teacher: a trained logits model, run live on every view.
        student_fn: builds the student (called after seeding).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `training.TrainConfig`; its `epochs` is the patience
            budget (use hundreds where you can).
        views: a consistent preset name (`keras_kd.augment.presets`) or a
            `Views` whose teacher and student see one image. Defaults to
            `"fashion_mixup"`.
        temperature: T of the KL. Defaults to 1.0 (the paper's).
        student_loss_weight: w of the label term. Defaults to 0.0 (KL only).
        clipnorm: global gradient norm clip, unless `config.clipnorm` is
            set. Defaults to 1.0 (the paper's).
        name: the run's name. Defaults to `"function_matching"`.
        callbacks: passed to `fit`.

    Returns:
        A `training.RunResult` whose model is the student.

    Reference:
        Beyer, Zhai, Royer, Markeeva, Anil and Kolesnikov, "Knowledge
        distillation: A good teacher is patient and consistent", CVPR 2022.
    """
    if isinstance(views, str):
        if presets.is_independent(views) or presets.canonical(views) == "none":
            raise ValueError(
                f"{OWNER}: function matching needs consistent, augmented views (the teacher and the student on one "
                f"image). Received: views={views!r}. Use 'fashion_mixup' (small centred images) or "
                f"'function_matching' (natural images)."
            )
        views = presets.get(views, seed=config.seed)
    elif views is None or views.independent:
        raise ValueError(
            f"{OWNER}: function matching needs consistent views (no per-side layers). Received: {views!r}."
        )
    if config.clipnorm is None and clipnorm is not None:
        config = dataclasses.replace(config, clipnorm=clipnorm)
    return training.train_distilled(
        name, teacher, student_fn, data, config, distillation_losses=[KD(temperature)],
        student_loss_weight=student_loss_weight, views=views, callbacks=callbacks,
    )  # fmt: skip
