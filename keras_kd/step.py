"""What a train step hands a method's hook, and what the hook hands back.

The Distiller's `train_step` and `test_step` are fixed:

    data -> make_batch (unpack, paired inputs, views) -> Batch
         -> Distiller.teacher_forward(batch)                  # outside the tape
         -> Distiller.compute_distillation(batch, teacher, training)   # the hook
         -> StepResult -> gradients (training) -> trackers -> metrics

`Batch` and `StepResult` are the whole contract between the step and a
method; `OptimizerGroup` says which variables an optimizer updates from
which loss, for methods that train helper networks with an optimizer of
their own (discriminators). Nothing here depends on a backend.
"""

import dataclasses

import keras

from keras_kd import validation


@dataclasses.dataclass(frozen=True)
class Batch:
    """One batch, as the hook sees it.

    Attributes:
        x: the inputs as given (for paired inputs, the `(x_teacher,
            x_student)` pair).
        x_teacher: the teacher's view of the inputs.
        x_student: the student's view.
        y: the labels for the losses: mixed one-hot rows when the views mix
            (MixUp/CutMix), else the labels as given; `None` without labels.
        sample_weight: as given, or `None`.
        labels: the labels as given (for the compiled metrics).
        mixed: whether `y` holds mixed (soft) labels.
        training: whether the batch is for a training step.
    """

    x: object
    x_teacher: object
    x_student: object
    y: object = None
    sample_weight: object = None
    labels: object = None
    mixed: bool = False
    training: bool = False

    @property
    def size(self):
        """The number of samples, as a tensor."""
        return keras.ops.shape(keras.tree.flatten(self.x_student)[0])[0]


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What the hook returns.

    Attributes:
        loss: the scalar that `optimizer` minimizes (logged as `loss` and
            `total_loss`), at its true value: the step, not the hook,
            divides it by the number of replicas.
        measurements: `{name: scalar}` to log (one tracker per name the
            Distiller declares); keys it does not track are still checked for
            NaN / Inf, in order, to name the first term that went non-finite.
        predictions: the student's outputs, for the compiled metrics.
        group_losses: `{group name: scalar}`, the losses of the extra
            optimizer groups the Distiller declares (see `OptimizerGroup`).
    """

    loss: object
    measurements: dict
    predictions: object
    group_losses: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class OptimizerGroup:
    """An optimizer, the variables it updates and the loss it minimizes.

    `loss_name` is `"loss"` for `StepResult.loss`, else a key of
    `StepResult.group_losses`. Groups must not share variables, unless a
    group says `shared=True`: its variables may also be in other groups,
    and each group applies its own gradient in turn, all computed from the
    same forward pass (AFD updates a feature extractor this way, with the
    classification loss and, at a smaller learning rate, the adversarial one).
    """

    loss_name: str
    optimizer: object
    variables: list
    shared: bool = False


def build_optimizers(groups):
    """Builds each group's optimizer on its own variables, where not built yet.

    Left to itself, Keras builds the compiled optimizer on every trainable
    variable (a discriminator's too) under a distribution strategy and
    before `BackupAndRestore` loads a checkpoint into it. Built per group
    first, each optimizer's state has one layout wherever it is saved and
    restored.
    """
    for group in groups:
        if not group.optimizer.built:
            group.optimizer.build(group.variables)


def make_batch(data, *, views, paired_inputs, training, owner="Distiller"):
    """Unpacks Keras's `data`, splits paired inputs and applies the views."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    if paired_inputs:
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise validation.ArgumentTypeError(
                f"{owner}: with paired_inputs=True the inputs must be a pair "
                f"(x_teacher, x_student). Received: inputs of type "
                f"{type(x).__name__}"
                f"{f' with {len(x)} elements' if isinstance(x, (tuple, list)) else ''}. "
                f"Feed ((x_teacher, x_student), y), or set paired_inputs=False."
            )
        x_teacher, x_student = x
    else:
        x_teacher = x_student = x
    if views is not None and training:
        x_teacher, x_student, y_views = views(
            x_teacher, y, training=True, x_student=x_student if paired_inputs else None
        )
        mixed = views.mixes_labels and y is not None
        return Batch(x, x_teacher, x_student, y_views, sample_weight, labels=y, mixed=mixed, training=True)
    return Batch(x, x_teacher, x_student, y, sample_weight, labels=y, training=training)
