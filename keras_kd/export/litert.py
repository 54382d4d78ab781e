"""Run, evaluate and time `.tflite` models with the LiteRT interpreter.

Uses `ai_edge_litert.interpreter` (the maintained LiteRT runtime;
`tf.lite.Interpreter` is deprecated). Integer inputs are quantized with the
input tensor's scale and zero point, integer outputs dequantized with the
output's, so callers always pass and receive float arrays.
"""

import os
import statistics
import time

import numpy as np

from keras_kd import validation


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "Running .tflite models needs the LiteRT interpreter: "
            "pip install ai-edge-litert"
        ) from e
    return interpreter


def make_interpreter(model, *, num_threads=None, xnnpack=True):
    """A LiteRT interpreter for a path or flatbuffer bytes.

    Args:
        model: a `.tflite` path, or the flatbuffer's `bytes`.
        num_threads: CPU threads. Defaults to `None` (LiteRT's default).
        xnnpack: apply the default XNNPACK delegate. Defaults to `True`.
    """
    litert = _interpreter_module()
    resolver = (
        litert.OpResolverType.AUTO if xnnpack
        else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )  # fmt: skip
    kwargs = {"num_threads": num_threads, "experimental_op_resolver_type": resolver}
    if isinstance(model, (bytes, bytearray)):
        return litert.Interpreter(model_content=bytes(model), **kwargs)
    if not os.path.exists(model):
        raise FileNotFoundError(f"No .tflite file at {model!r}.")
    return litert.Interpreter(model_path=str(model), **kwargs)


def quantize(values, detail):
    """Float values -> the tensor's integer type, with its scale/zero point."""
    dtype = detail["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(values, dtype=dtype)
    scale, zero_point = detail["quantization"]
    if scale == 0:
        raise ValueError(f"Input tensor {detail['name']!r} is integer but carries no quantization scale.")
    info = np.iinfo(dtype)
    q = np.round(np.asarray(values, np.float32) / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values, detail):
    """The tensor's integer values -> float32 (floats pass through)."""
    if not np.issubdtype(detail["dtype"], np.integer):
        return np.asarray(values, np.float32)
    scale, zero_point = detail["quantization"]
    return (np.asarray(values, np.float32) - zero_point) * scale


def predict_tflite(model, x, *, batch_size=256, num_threads=None, xnnpack=True):
    """Float outputs of a `.tflite` model on `x`, run in batches.

    Args:
        model: a path or flatbuffer bytes.
        x: inputs, preprocessed as for the Keras model (floats).
        batch_size: samples per invocation. Defaults to 256.
        num_threads: defaults to `None`.
        xnnpack: defaults to `True`.

    Returns:
        A float32 array of outputs, one row per sample.
    """
    interpreter = make_interpreter(model, num_threads=num_threads, xnnpack=xnnpack)
    input_detail = interpreter.get_input_details()[0]
    expected = tuple(input_detail["shape"][1:])
    x = np.asarray(x)
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"Inputs do not match the model. Received: x of shape {x.shape}, "
            f"the model takes (batch, {', '.join(map(str, expected))})."
        )
    outputs, current = [], None
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        if current != len(batch):
            interpreter.resize_tensor_input(input_detail["index"], (len(batch), *expected))
            interpreter.allocate_tensors()
            input_detail = interpreter.get_input_details()[0]
            output_detail = interpreter.get_output_details()[0]
            current = len(batch)
        interpreter.set_tensor(input_detail["index"], quantize(batch, input_detail))
        interpreter.invoke()
        outputs.append(dequantize(interpreter.get_tensor(output_detail["index"]), output_detail))
    return np.concatenate(outputs)


def check_labels(x, y, *, owner):
    """Raises unless `y` holds one integer label per sample of `x`."""
    labels = np.asarray(y)
    count = len(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(
            f"{owner}: needs one integer label per input. Received: {count} inputs and labels of "
            f"shape {np.shape(y)}. Pass y with shape ({count},) (one-hot labels: y.argmax(-1))."
        )
    return labels


def evaluate_tflite(model, x, y, *, batch_size=256, num_threads=None, xnnpack=True):
    """Top-1 accuracy of a `.tflite` classifier on `(x, y)` (integer labels)."""
    labels = check_labels(x, y, owner="evaluate_tflite")
    predictions = predict_tflite(model, x, batch_size=batch_size, num_threads=num_threads, xnnpack=xnnpack)
    return float(np.mean(np.argmax(predictions, axis=-1) == labels))


def benchmark_tflite(model, *, threads=1, runs=200, warmup=20, xnnpack=True, sample=None):
    """Latency of one sample (batch 1) through the interpreter.

    Args:
        model: a path or flatbuffer bytes.
        threads: CPU threads. Defaults to 1.
        runs: timed invocations. Defaults to 200.
        warmup: untimed invocations first. Defaults to 20.
        xnnpack: apply the XNNPACK delegate. Defaults to `True`.
        sample: one input (float, without batch axis). Defaults to `None`
            (uniform noise in the input's float range).

    Returns:
        `{"median_ms", "p90_ms", "size_kb", "threads", "xnnpack"}`.
    """
    validation.check_positive_int("threads", threads, owner="benchmark_tflite")
    interpreter = make_interpreter(model, num_threads=threads, xnnpack=xnnpack)
    detail = interpreter.get_input_details()[0]
    shape = (1, *detail["shape"][1:])
    interpreter.resize_tensor_input(detail["index"], shape)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    if sample is None:
        sample = np.random.default_rng(0).uniform(0, 255, size=shape).astype(np.float32)
    interpreter.set_tensor(detail["index"], quantize(np.reshape(sample, shape), detail))
    for _ in range(warmup):
        interpreter.invoke()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        timings.append((time.perf_counter() - start) * 1000)
    size = len(model) if isinstance(model, (bytes, bytearray)) else os.path.getsize(model)
    return {
        "median_ms": statistics.median(timings),
        "p90_ms": float(np.percentile(timings, 90)),
        "size_kb": size / 1024,
        "threads": threads,
        "xnnpack": xnnpack,
    }


def tensor_dtypes(model):
    """Counts of tensor dtypes: weights, activations and shape arithmetic.

    Weights are the constant tensors: read by some op, produced by none, and
    not the model's input. Shape tensors are int32 values computed from
    shapes (a `Flatten` with a dynamic batch emits SHAPE, STRIDED_SLICE and
    PACK before its RESHAPE); they are integer bookkeeping, not data. The
    remaining tensors produced by ops, plus the input, are activations.

    Returns:
        `{"weights": {dtype: n}, "activations": {dtype: n}, "shape": {dtype: n},
        "input": dtype, "output": dtype, "ops": [op names]}`.
    """
    interpreter = make_interpreter(model, xnnpack=False)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()  # no public equivalent in LiteRT 2.3
    produced = {i for op in ops for i in op["outputs"]}
    consumed = {i for op in ops for i in op["inputs"] if i >= 0}
    input_index = interpreter.get_input_details()[0]["index"]
    constants = consumed - produced - {input_index}
    shape_tensors = set()
    for op in ops:  # ops are in execution order
        data_inputs = [i for i in op["inputs"] if i >= 0 and i not in constants]
        if op["op_name"] == "SHAPE" or (data_inputs and all(i in shape_tensors for i in data_inputs)):
            shape_tensors.update(op["outputs"])
    buckets = {"weights": {}, "activations": {}, "shape": {}}
    for detail in interpreter.get_tensor_details():
        index = detail["index"]
        if index in shape_tensors:
            bucket = buckets["shape"]
        elif index in produced or index == input_index:
            bucket = buckets["activations"]
        elif index in consumed:
            bucket = buckets["weights"]
        else:
            continue
        name = np.dtype(detail["dtype"]).name
        bucket[name] = bucket.get(name, 0) + 1
    return {
        **buckets,
        "input": np.dtype(interpreter.get_input_details()[0]["dtype"]).name,
        "output": np.dtype(interpreter.get_output_details()[0]["dtype"]).name,
        "ops": sorted({op["op_name"] for op in ops}),
    }


def op_names(model):
    """The model's op names, in execution order."""
    interpreter = make_interpreter(model, xnnpack=False)
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]  # no public equivalent in LiteRT 2.3


def weight_bytes(model):
    """Bytes of the constant tensors (weights, biases, quantization-free constants)."""
    interpreter = make_interpreter(model, xnnpack=False)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    produced = {i for op in ops for i in op["outputs"]}
    consumed = {i for op in ops for i in op["inputs"] if i >= 0}
    inputs = {d["index"] for d in interpreter.get_input_details()}
    constants = consumed - produced - inputs
    return sum(
        int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
        for d in interpreter.get_tensor_details() if d["index"] in constants
    )  # fmt: skip
