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
"""

import os
import tempfile

import keras
import numpy as np

from keras_kd import validation


def cache_teacher_outputs(teacher, x, path, *, batch_size=512, dtype="float32", overwrite=False):
    """Writes `teacher(x)` (inference mode) to `path` (`.npy`) and returns it memory-mapped.

    Args:
        teacher: the trained teacher.
        x: the training inputs, in the order the student will see them
            paired with their rows.
        path: a `.npy` file; written atomically.
        batch_size: defaults to 512.
        dtype: `"float32"` or `"float16"` (half the disk). Defaults to `"float32"`.
        overwrite: replace an existing file. Defaults to `False`.

    Returns:
        A read-only `numpy.memmap` of shape `(len(x), *output_shape)`.
    """
    validation.check_positive_int("batch_size", batch_size, owner="cache_teacher_outputs")
    validation.check_one_of("dtype", dtype, ("float32", "float16"), owner="cache_teacher_outputs")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"cache_teacher_outputs: {path!r} exists. Pass overwrite=True, or choose another path.")
    shape = (len(x), *teacher.outputs[0].shape[1:])
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npy")
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape)
        for start in range(0, len(x), batch_size):
            out[start : start + batch_size] = teacher.predict(x[start : start + batch_size], verbose=0)
        out.flush()
        del out
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return np.load(path, mmap_mode="r")


def cached_teacher(outputs, name="cached_teacher"):
    """A stand-in teacher that returns the cached output it is given.

    Args:
        outputs: the cached outputs (for their shape), or that shape.

    Returns:
        A functional model, input = output = one cached row. Use it with
        `Distiller(..., paired_inputs=True)` and data `((cached, x), y)`.

    Example:

    ```python
    logits = cache_teacher_outputs(teacher, x_train, "teacher_logits.npy")
    distiller = keras_kd.Distiller(cached_teacher(logits), student, KD(4.0), paired_inputs=True)
    distiller.fit((logits, x_train), y_train, epochs=10)
    ```
    """
    shape = tuple(outputs.shape[1:]) if hasattr(outputs, "shape") else tuple(outputs)
    inputs = keras.Input(shape, name="cached_outputs")
    return keras.Model(inputs, keras.layers.Identity(name="outputs")(inputs), name=name)
