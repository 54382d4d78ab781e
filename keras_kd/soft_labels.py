"""The student's loss on soft (mixed) labels.

MixUp and CutMix turn labels into mixtures of one-hot vectors. A user who
compiled a sparse cross-entropy still gets the right loss: its categorical
counterpart, with the same `from_logits`, on the soft labels.
"""

import keras


def soft_label_loss(loss):
    """A loss for soft labels equivalent to `loss` on hard ones.

    Args:
        loss: what the user passed to `compile` (a name or a Keras loss).

    Returns:
        A `keras.losses.Loss` taking soft labels.
    """
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        config = loss.get_config()
        return keras.losses.CategoricalCrossentropy(from_logits=config.get("from_logits", False))
    if isinstance(loss, keras.losses.CategoricalCrossentropy):
        return loss
    if loss is keras.losses.sparse_categorical_crossentropy or loss is keras.losses.categorical_crossentropy:
        return keras.losses.CategoricalCrossentropy()
    raise ValueError(
        f"Mixed labels (MixUp / CutMix views) need a cross-entropy student "
        f"loss. Received: loss={loss!r}. Compile with keras.losses."
        f"SparseCategoricalCrossentropy(from_logits=True) or "
        f"CategoricalCrossentropy(from_logits=True)."
    )


def metric_labels(y_original, y_soft):
    """Labels for the compiled metrics, in the user's own format.

    Sparse user labels get the soft labels' argmax (the dominant class), so
    metrics built for sparse labels keep working; one-hot labels get the
    soft labels.
    """
    from keras import ops

    if len(y_original.shape) >= 2 and y_original.shape[-1] == y_soft.shape[-1]:
        return y_soft
    return ops.cast(ops.reshape(ops.argmax(y_soft, axis=-1), ops.shape(y_original)), y_original.dtype)
