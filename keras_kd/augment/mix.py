"""MixUp / CutMix applied jointly to the teacher's view, the student's view
and the labels: one random draw, the same permutation and the same mixing
weights everywhere.

Keras's `MixUp` and `CutMix` layers separate drawing
(`get_random_transformation`) from applying (`transform_images`,
`transform_labels`), so one draw can be applied three times.
"""

from keras import ops

MIX_LAYERS = ("MixUp", "CutMix")


def check_mix_layer(layer):
    names = [cls.__name__ for cls in type(layer).__mro__]
    if not any(name in MIX_LAYERS for name in names):
        raise TypeError(
            f"`mix` must be keras.layers.MixUp or keras.layers.CutMix. "
            f"Received: {layer!r} (of type {type(layer).__name__})."
        )
    return layer


def one_hot_labels(y, num_classes, dtype="float32"):
    """Sparse integer labels -> one-hot; soft/one-hot labels pass through."""
    y = ops.convert_to_tensor(y)
    if len(y.shape) >= 2 and y.shape[-1] == num_classes:
        return ops.cast(y, dtype)
    return ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), num_classes, dtype=dtype)


def joint_mix(mix, x_teacher, x_student, y, num_classes, transformation=None):
    """Mixes both views and the labels with one transformation.

    Args:
        mix: a `keras.layers.MixUp` or `keras.layers.CutMix`.
        x_teacher, x_student: the two views, same shape.
        y: labels (sparse or one-hot), or `None`.
        num_classes: the width of the one-hot labels.
        transformation: a fixed draw (tests pass one); defaults to `None`
            (drawn from `mix`'s seed generator).

    Returns:
        `(x_teacher, x_student, y_soft, transformation)`.
    """
    if transformation is None:
        transformation = mix.get_random_transformation(x_student, training=True)
    x_teacher = mix.transform_images(x_teacher, transformation, training=True)
    x_student = mix.transform_images(x_student, transformation, training=True)
    if y is not None:
        y = mix.transform_labels(one_hot_labels(y, num_classes), transformation, training=True)
    return x_teacher, x_student, y, transformation
