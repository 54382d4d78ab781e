"""Convert a Keras student to a TFLite (LiteRT) flatbuffer.

`to_tflite` converts the model's inference function, `model(x,
training=False)` (what `TFLiteConverter.from_keras_model` traces), so random augmentation layers left inside the student are
the identity in the exported graph; converts it with builtin ops only, so an
op LiteRT cannot run fails here, by name, rather than on the device; and
writes the file atomically.

Quantization modes: `keras_kd.export.modes.MODES` (one table; see
`modes.modes_table()` and the README): `"float32"` (or `None`),
`"float16"`, `"dynamic"` and `"int8"`.

For `"int8"`, the input scale and zero point come from the calibration data.
The reference models rescale raw pixels inside (`Rescaling(1/255)`), so
their int8 models expect raw pixels quantized with the input's scale and
zero point, which `evaluate_tflite` applies; calibrate on data covering the
full [0, 255] range, with the same preprocessing as in training.
"""

import contextlib
import os
import re
import sys
import tempfile
import warnings

import keras
import numpy as np

from keras_kd import validation
from keras_kd.export import modes
from keras_kd.files import write_atomic

QUANTIZATION_MODES = (None, *modes.MODES)
IO_DTYPES = ("int8", "uint8", "float32")
DEFAULT_CALIBRATION_STEPS = 200


def plain_model(model, owner="to_tflite"):
    """`model`, checked to be a plain `keras.Model` (not a Distiller: export its student)."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{owner} exports a keras.Model. Received: model={model!r} "
            f"(of type {type(model).__name__}). Load it first, e.g. "
            f"keras.saving.load_model('student.keras')."
        )
    if hasattr(model, "student") and hasattr(model, "teacher"):
        raise TypeError(
            f"{owner} exports the model that ships, and received a distiller "
            f"({type(model).__name__} {model.name!r}) holding a teacher and a student. "
            f"Export its student: {owner}(distiller.student, ...)."
        )
    return model


def _is_quantization_aware(model):
    """Whether `model` carries QAT ranges (checked to have been trained)."""
    from keras_kd.compress.quantize import check_trained_ranges
    from keras_kd.compress.quantize import is_quantized

    if not is_quantized(model):
        return False
    check_trained_ranges(model)
    return True


def _input_shape(model):
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            f"to_tflite needs a model with a known input shape. Received: "
            f"{model.name!r}, which has not been built or called. Build it on "
            f"an input shape first (model.build(...) or call it once)."
        )
    if len(inputs) != 1:
        raise ValueError(
            f"to_tflite supports single-input models. Received: {model.name!r} "
            f"with {len(inputs)} inputs."
        )
    return tuple(inputs[0].shape[1:])


def _check_mode(quantization, io_dtype):
    mode = modes.get(quantization)
    if io_dtype is None:
        return "int8" if mode.integer_only else "float32"
    if io_dtype not in IO_DTYPES:
        raise ValueError(
            f"Unknown io_dtype. Received: io_dtype={io_dtype!r}. Valid: {', '.join(IO_DTYPES)}."
        )
    if io_dtype != "float32" and not mode.integer_only:
        raise ValueError(
            f"Integer input/output needs full-integer quantization. Received: "
            f"io_dtype={io_dtype!r} with quantization={quantization!r}. Use "
            f"quantization='int8', or io_dtype='float32'."
        )
    return io_dtype


def _first_tensor(element):
    """The input part of a dataset element: `x` from `x`, `(x, y)` or `(x, y, w)`."""
    if isinstance(element, dict):
        raise ValueError(
            "Representative data yielded a dict; to_tflite supports single-input "
            "models. Yield the input array (or (x, y) tuples)."
        )
    if isinstance(element, (tuple, list)):
        return element[0]
    return element


def _matches(shape, input_shape):
    """Whether a sample shape fits the model's input shape (`None` matches any size)."""
    return len(shape) == len(input_shape) and all(d is None or d == s for d, s in zip(input_shape, shape))


def _as_batch(array, input_shape):
    """`array` as a batch for `input_shape`: a single sample gets a batch axis, and
    a missing trailing channel axis of size 1 is added ((N, 28, 28) for (28, 28, 1))."""
    if _matches(array.shape, input_shape):
        return array[None]
    channel_missing = len(input_shape) >= 2 and input_shape[-1] == 1
    if channel_missing and _matches(array.shape + (1,), input_shape):
        return array[None, ..., None]
    if channel_missing and _matches(array.shape[1:] + (1,), input_shape):
        return array[..., None]
    return array


def representative_samples(data, input_shape, steps):
    """Up to `steps` float32 samples of shape `(1, *input_shape)`.

    Args:
        data: a numpy array (first axis = samples), a `tf.data.Dataset`
            (batched or not; elements `x` or `(x, y, ...)`), a generator, an
            iterable, or a zero-argument callable returning one.
        input_shape: the model's input shape without the batch axis.
        steps: the number of samples wanted.

    Returns:
        A list of arrays. A missing channel axis of size 1 is added (images
        `(N, 28, 28)` for a `(28, 28, 1)` input); any other shape that does
        not match the model's input, or empty data, raises.
    """
    import tensorflow as tf

    if callable(data) and not isinstance(data, (np.ndarray, tf.data.Dataset)):
        data = data()
    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    elif isinstance(data, np.ndarray):
        data = iter([data])
    samples = []
    for element in data:
        batch = _as_batch(np.asarray(_first_tensor(element), dtype=np.float32), tuple(input_shape))
        if not _matches(batch.shape[1:], input_shape):
            raise ValueError(
                f"Representative data does not match the model's input. Received: "
                f"samples of shape {batch.shape[1:]} (batch {batch.shape}), "
                f"model input shape {tuple(input_shape)}. Feed the data the "
                f"model was trained on, with the same preprocessing (e.g. add "
                f"the channel axis: x[..., None])."
            )
        for sample in batch:
            samples.append(sample[None])
            if len(samples) >= steps:
                return samples
    if not samples:
        raise ValueError(
            "Representative data is empty: int8 calibration needs samples to "
            "measure activation ranges. Pass 100 to 500 training samples, e.g. "
            "representative_data=x_train[:500]."
        )
    return samples


_OP_PATTERN = re.compile(r"'(tf\.[A-Za-z0-9_]+)' op")


@contextlib.contextmanager
def _quiet_converter():
    """Silences the converter's prints and C++ logs; keeps them for errors.

    The TF converter prints the traced signature to stdout and logs from C++
    to file descriptor 2, which TF_CPP_MIN_LOG_LEVEL does not reach. Both go
    to a temporary file; an error message includes their tail.
    """
    captured = {}
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sink):
                yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            captured["stderr"] = sink.read()[-4000:]


def _conversion_error(error, model, log=""):
    message = str(error) + ("\n" + log if log else "")
    ops_found = sorted(set(_OP_PATTERN.findall(message)))
    hint = (
        "Random augmentation and preprocessing that LiteRT has no kernel for "
        "belong in the tf.data pipeline or the Distiller's views, not in the "
        "exported model; custom ops need a builtin equivalent."
    )
    raise ValueError(
        f"LiteRT cannot convert {model.name!r} with builtin ops only. "
        f"Unsupported ops: {', '.join(ops_found) or 'see the converter message below'}. "
        f"{hint}\nConverter message (first lines):\n" + "\n".join(message.splitlines()[:12])
    ) from error


def to_tflite(
    model,
    path=None,
    *,
    quantization="int8",
    representative_data=None,
    calibration_steps=DEFAULT_CALIBRATION_STEPS,
    io_dtype=None,
    overwrite=False,
):
    """Converts a Keras model to a LiteRT flatbuffer, optionally quantized.

    Args:
        model: the `keras.Model` that ships (for a Distiller, its
            `student`).
        path: where to write the `.tflite` file, atomically. Defaults to
            `None` (return the bytes only).
        quantization: a mode of `keras_kd.export.modes.MODES` (`None` is
            `"float32"`). Defaults to `"int8"`.
        representative_data: calibration inputs for `"int8"` (array, dataset,
            generator or callable), preprocessed as in training; not needed
            (and not used) for a model from `keras_kd.compress.quantize_model`,
            whose ranges come from training. Defaults to `None`.
        calibration_steps: calibration samples used (100 to 500 is the
            documented range). Defaults to 200.
        io_dtype: `"int8"`, `"uint8"` or `"float32"` input/output for
            `"int8"`. Defaults to `None` (`"int8"` for `"int8"`, float32
            otherwise).
        overwrite: replace an existing file at `path`. Defaults to `False`.

    Returns:
        The flatbuffer as `bytes`.

    Example:

    ```python
    to_tflite(student, "student_int8.tflite", quantization="int8",
              representative_data=x_train[:500])
    ```
    """
    import tensorflow as tf

    model = plain_model(model)
    mode = modes.get(quantization)
    io_dtype = _check_mode(quantization, io_dtype)
    if path is not None and os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"Refusing to overwrite an existing file. Received: path={path!r}. "
            f"Pass overwrite=True, or choose another path."
        )
    validation.check_positive_int("calibration_steps", calibration_steps, owner="to_tflite")
    input_shape = _input_shape(model)
    samples = None
    trained_ranges = mode.needs_data and _is_quantization_aware(model)
    if trained_ranges and representative_data is not None:
        warnings.warn(
            "to_tflite: the model was trained with quantization-aware training; its "
            "int8 ranges come from training, so representative_data is not used.",
            stacklevel=2,
        )
    if mode.needs_data and not trained_ranges:
        if representative_data is None:
            raise ValueError(
                "quantization='int8' needs representative_data to calibrate "
                "activation ranges. Pass 100 to 500 training inputs, "
                "preprocessed as in training (e.g. representative_data=x_train[:500]), "
                "train the model with keras_kd.compress.quantize_model (QAT), "
                "or use quantization='dynamic', which needs none."
            )
        samples = representative_samples(representative_data, input_shape, calibration_steps)

    # from_keras_model traces model(x, training=False): random layers off.
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    mode.configure(converter, tf)
    if mode.integer_only:
        if not trained_ranges:  # QAT models carry their ranges in fake-quant ops instead
            converter.representative_dataset = lambda: ([s] for s in samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[io_dtype]
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
    try:
        with _quiet_converter() as captured, warnings.catch_warnings():
            # Asked of int8 inputs converted from a graph; the input's scale comes from calibration or QAT.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
            flatbuffer = converter.convert()
    except Exception as error:  # ConverterError and friends
        _conversion_error(error, model, captured.get("stderr", ""))
    if path is not None:
        if os.path.exists(path) and not overwrite:  # appeared during conversion
            raise FileExistsError(f"Refusing to overwrite {path!r}, created while converting.")
        write_atomic(path, lambda f: f.write(flatbuffer), mode="wb")
    return flatbuffer
