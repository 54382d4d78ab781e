"""What pruning bought: the zeros in a model, and its size once compressed."""

import gzip
import os

import numpy as np
from keras import ops


def model_sparsity(model):
    """`{weight path: fraction of exact zeros}` of every kernel, and `"total"` over them."""
    result, zeros, total = {}, 0, 0
    for variable in model.weights:
        if not variable.path.endswith("kernel") or not variable.trainable:
            continue
        values = ops.convert_to_numpy(variable)
        result[variable.path] = float(np.mean(values == 0))
        zeros, total = zeros + int(np.sum(values == 0)), total + values.size
    result["total"] = zeros / total if total else 0.0
    return result


def gzipped_size(path_or_bytes):
    """Bytes of a file (or bytes) after gzip at level 9: what unstructured sparsity saves.

    A TFLite file keeps its zeros (it stores dense tensors), so only a
    compressed download or app bundle shrinks with sparsity.
    """
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as f:
            path_or_bytes = f.read()
    return len(gzip.compress(bytes(path_or_bytes), compresslevel=9, mtime=0))
