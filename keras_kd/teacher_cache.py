"""Cached teacher outputs: run the teacher once, then distil with no teacher forward pass.

With fixed inputs (no augmentation, or a fixed set of augmented copies),
the teacher's logits for each training sample never change, so they can be
computed once and stored; every epoch then costs about as much as training
the student alone. `cache_teacher_outputs` writes them to a `.npy` file
(memory-mapped, so sets larger than memory work) and
`cached_teacher(logits)` stands in for the teacher in a `Distiller` with
paired inputs: the data is `((cached_logits, x), y)` and the stand-in
passes the cached row through.

When caching is wrong: with random views (`keras_kd.augment`), the
student's input changes every epoch and the teacher must see the same view
(consistent teaching is the point: Beyer et al., CVPR 2022, report that a
fixed, precomputed teacher overfits on small data). Cache only when the
inputs the teacher would see are the ones cached. Feature terms need the
teacher's features, which are not cached: only terms on the final outputs
(KD, DKD, ...) work with a cached teacher.

Top-k (`top_k=k`, as FKD stores its soft labels: Shen and Xing, "A Fast
Knowledge Distillation Framework for Visual Recognition", ECCV 2022): each
row keeps the k largest logits, their class indices and one fill logit,
chosen so that at T = 1 the other C - k classes share the remaining
probability evenly (FKD's "marginal smoothing"):

    fill = log((1 - sum_{j in top-k} p_j) / (C - k)) + logsumexp(z)

Then softmax of the rebuilt logits gives p_j on the top k and the even
share elsewhere; at T != 1 it is that distribution tempered. k = C gives
back the exact logits. The file is a structured `.npy` with fields
`values` `(k,)`, `indices` `(k,)` and `fill`; `cached_inputs(cache)` gives
the arrays to pair with `x`, and `cached_teacher(cache)` rebuilds the logits.
"""

import os
import tempfile

import keras
import numpy as np

from keras_kd import validation


def top_k_dtype(k, dtype="float32"):
    """The structured row of a top-k cache: `values (k,)`, `indices (k,)` (int32) and `fill`."""
    return np.dtype([("values", dtype, (k,)), ("indices", "int32", (k,)), ("fill", dtype)])


def top_k_rows(logits, k):
    """`(values, indices, fill)` of each row of `logits` `(N, C)`: the k largest, their classes, the fill logit."""
    logits = np.asarray(logits, np.float64)
    num_classes = logits.shape[-1]
    indices = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
    values = np.take_along_axis(logits, indices, axis=-1)
    shifted = logits - logits.max(-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(-1)) + logits.max(-1)
    kept = np.exp(values - log_norm[:, None]).sum(-1)
    if k == num_classes:
        fill = np.zeros(len(logits))  # unused: no class is left out
    else:
        fill = np.log(np.maximum(1.0 - kept, 1e-30) / (num_classes - k)) + log_norm
    return values, indices.astype(np.int32), fill


def cache_teacher_outputs(teacher, x, path, *, batch_size=512, dtype="float32", top_k=None, overwrite=False):
    """Writes `teacher(x)` (inference mode) to `path` (`.npy`) and returns it memory-mapped.

    Args:
        teacher: the trained teacher.
        x: the training inputs, in the order the student will see them
            paired with their rows.
        path: a `.npy` file; written atomically.
        batch_size: defaults to 512.
        dtype: `"float32"` or `"float16"` (half the disk). Defaults to `"float32"`.
        top_k: keep only the k largest logits of each row (and one fill
            logit; see the module docstring). Needs outputs `(N, C)` and
            1 <= k <= C. Defaults to `None` (every logit).
        overwrite: replace an existing file. Defaults to `False`.

    Returns:
        A read-only `numpy.memmap` of shape `(len(x), *output_shape)`, or of
        `len(x)` structured rows with `top_k`.
    """
    owner = "cache_teacher_outputs"
    validation.check_positive_int("batch_size", batch_size, owner=owner)
    validation.check_one_of("dtype", dtype, ("float32", "float16"), owner=owner)
    output_shape = tuple(teacher.outputs[0].shape[1:])
    if top_k is not None:
        validation.check_positive_int("top_k", top_k, owner=owner)
        if len(output_shape) != 1 or top_k > output_shape[0]:
            raise ValueError(
                f"{owner}: `top_k` needs teacher outputs (N, classes) and 1 <= top_k <= classes. "
                f"Received: top_k={top_k} for outputs of shape {output_shape}."
            )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{owner}: {path!r} exists. Pass overwrite=True, or choose another path.")
    shape = (len(x), *output_shape) if top_k is None else (len(x),)
    row_dtype = dtype if top_k is None else top_k_dtype(top_k, dtype)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npy")
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=row_dtype, shape=shape)
        for start in range(0, len(x), batch_size):
            logits = teacher.predict(x[start : start + batch_size], verbose=0)
            if top_k is None:
                out[start : start + batch_size] = logits
            else:
                rows = out[start : start + batch_size]
                rows["values"], rows["indices"], rows["fill"] = top_k_rows(logits, top_k)
        out.flush()
        del out
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return np.load(path, mmap_mode="r")


def is_top_k(cache):
    """Whether `cache` holds top-k rows (a structured array)."""
    return getattr(getattr(cache, "dtype", None), "names", None) is not None


def cached_inputs(cache):
    """What to pair with `x` for `cached_teacher(cache)`: the cache, or its `(values, indices, fill)` fields."""
    if not is_top_k(cache):
        return cache
    return (np.asarray(cache["values"]), np.asarray(cache["indices"]), np.asarray(cache["fill"]))


@keras.saving.register_keras_serializable(package="keras_kd")
class TopKLogits(keras.layers.Layer):
    """Rebuilds `(N, C)` logits from top-k rows: the kept logits at their classes, `fill` elsewhere."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def call(self, inputs):
        values, indices, fill = inputs
        one_hot = keras.ops.one_hot(keras.ops.cast(indices, "int32"), self.num_classes, dtype="float32")  # (N, k, C)
        kept = keras.ops.einsum("nk,nkc->nc", keras.ops.cast(values, "float32"), one_hot)
        covered = keras.ops.sum(one_hot, axis=1)
        return kept + (1.0 - covered) * keras.ops.cast(keras.ops.reshape(fill, (-1, 1)), "float32")

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def cached_teacher(outputs, name="cached_teacher", *, num_classes=None):
    """A stand-in teacher that returns the cached output it is given.

    Args:
        outputs: the cached outputs (for their shape), or that shape; or a
            top-k cache.
        num_classes: C, required for a top-k cache (its rows do not say).

    Returns:
        A functional model, input = output = one cached row (for a top-k
        cache: inputs `(values, indices, fill)`, output the rebuilt logits).
        Use it with `Distiller(..., paired_inputs=True)` and data
        `((cached_inputs(cache), x), y)`.

    Example:

    ```python
    logits = cache_teacher_outputs(teacher, x_train, "teacher_logits.npy")
    distiller = keras_kd.Distiller(cached_teacher(logits), student, KD(4.0), paired_inputs=True)
    distiller.fit((logits, x_train), y_train, epochs=10)
    ```
    """
    if is_top_k(outputs):
        if num_classes is None:
            raise ValueError(
                "cached_teacher: a top-k cache keeps k classes per row and cannot tell how many there are. "
                "Pass num_classes=C (e.g. num_classes=10 for Fashion-MNIST)."
            )
        k = outputs.dtype["values"].shape[0]
        validation.check_positive_int("num_classes", num_classes, owner="cached_teacher")
        inputs = [
            keras.Input((k,), name="top_k_values"), keras.Input((k,), dtype="int32", name="top_k_indices"),
            keras.Input((), name="fill"),
        ]  # fmt: skip
        return keras.Model(inputs, TopKLogits(num_classes, name="outputs")(inputs), name=name)
    shape = tuple(outputs.shape[1:]) if hasattr(outputs, "shape") else tuple(outputs)
    inputs = keras.Input(shape, name="cached_outputs")
    return keras.Model(inputs, keras.layers.Identity(name="outputs")(inputs), name=name)
