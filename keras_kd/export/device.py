"""Is an exported model ready for a microcontroller? Ops, versions, arena.

`device_report(model)` reads a `.tflite` flatbuffer and returns:

- every builtin op with its version and count, and whether TensorFlow
  Lite Micro registers a kernel for it (`MICRO_BUILTINS`, the ops of TFLM's
  `MicroMutableOpResolver`; a kernel's supported versions and types are
  checked on the device, not here);
- the tensor arena estimate: the peak, over the execution order, of the
  bytes of the activations alive at once (an activation lives from the op
  that writes it, or the start for the input, to the last op that reads
  it, or the end for the output), at batch 1. TFLM's arena also holds
  per-op scratch buffers and bookkeeping, so budget some margin above it;
- the weights' bytes (constant tensors, stored in flash) and the file size.
"""

import os

import numpy as np

from keras_kd.export import litert

# TensorFlow Lite Micro's builtin kernels (MicroMutableOpResolver's Add* methods).
MICRO_BUILTINS = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN AVERAGE_POOL_2D BATCH_TO_SPACE_ND CAST CEIL CONCATENATION CONV_2D COS CUMSUM
DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE ELU EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD
FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU
LESS LESS_EQUAL LOG LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MUL NEG
NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE REDUCE_MAX RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
ROUND RSQRT SHAPE SIN SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQUEEZE SQRT SQUARE
STRIDED_SLICE SUB SVDF TANH TRANSPOSE TRANSPOSE_CONV UNPACK ZEROS_LIKE
""".split())


def _flatbuffer(model):
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def op_versions(model):
    """`[(op name, version)]` of the model's operator codes."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    root = schema.Model.GetRootAs(_flatbuffer(model), 0)
    codes = []
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM:{code.CustomCode().decode()}"
        codes.append((name, code.Version()))
    return codes


def arena_bytes(model):
    """Peak bytes of activations alive at once, at batch 1 (see the module docstring)."""
    interpreter = litert.make_interpreter(model, xnnpack=False)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], (1, *detail["shape"][1:]))
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()  # no public equivalent in LiteRT 2.3
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    produced = {out: step for step, op in enumerate(ops) for out in op["outputs"]}
    inputs = {d["index"] for d in interpreter.get_input_details()}
    outputs = {d["index"] for d in interpreter.get_output_details()}
    live = {}  # tensor -> (first step, last step)
    for step, op in enumerate(ops):
        for index in list(op["inputs"]) + list(op["outputs"]):
            if index < 0 or (index not in produced and index not in inputs):
                continue  # optional input, or a constant (weights live in flash)
            first, _ = live.get(index, (produced.get(index, 0), step))
            live[index] = (first, step)
    for index in outputs:
        live[index] = (live.get(index, (produced.get(index, 0), 0))[0], len(ops) - 1)

    def nbytes(index):
        t = tensors[index]
        return int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize

    return max(
        (sum(nbytes(i) for i, (first, last) in live.items() if first <= step <= last) for step in range(len(ops))),
        default=0,
    )


def device_report(model):
    """Op list with versions and TFLM support, arena estimate, weight bytes (see the module docstring).

    Args:
        model: a `.tflite` path or flatbuffer bytes.

    Returns:
        `{"ops": [{"op", "version", "count", "micro"}], "micro_ready",
        "not_in_micro", "arena_bytes", "weights_bytes", "size_bytes"}`.
    """
    counts = {}
    for op in litert.op_names(model):
        counts[op] = counts.get(op, 0) + 1
    ops = [
        {"op": name, "version": version, "count": counts.get(name, 0), "micro": name in MICRO_BUILTINS}
        for name, version in op_versions(model)
    ]  # fmt: skip
    missing = sorted({o["op"] for o in ops if not o["micro"]})
    size = len(model) if isinstance(model, (bytes, bytearray)) else os.path.getsize(model)
    return {
        "ops": ops,
        "micro_ready": not missing,
        "not_in_micro": missing,
        "arena_bytes": arena_bytes(model),
        "weights_bytes": litert.weight_bytes(model),
        "size_bytes": size,
    }
