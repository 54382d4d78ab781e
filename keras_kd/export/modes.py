"""The quantization modes, in one table: what each stores and how the converter is set.

`MODES` is the one place a mode is defined: `to_tflite` configures the
converter from it, the export report and the CLI list its names, and
`modes_table()` renders the table the docs show.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class QuantizationMode:
    """One export mode.

    Attributes:
        name: `"float32"`, `"float16"`, `"dynamic"` or `"int8"`.
        weights, activations, io: the stored types (for the docs and reports).
        needs_data: whether conversion needs calibration inputs (int8,
            unless the model was trained with QAT).
        optimize: whether the converter's `Optimize.DEFAULT` is on.
        float16_weights: `target_spec.supported_types = [tf.float16]`.
        integer_only: builtin int8 kernels only (`TFLITE_BUILTINS_INT8`),
            integer input/output allowed.
    """

    name: str
    weights: str
    activations: str
    io: str
    needs_data: bool
    optimize: bool = False
    float16_weights: bool = False
    integer_only: bool = False

    def configure(self, converter, tf):
        """Sets the converter for this mode (calibration data and io types are set by `to_tflite`)."""
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # builtins only, never SELECT_TF_OPS
        if self.optimize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if self.float16_weights:
            converter.target_spec.supported_types = [tf.float16]


MODES = {
    mode.name: mode
    for mode in (
        QuantizationMode("float32", "float32", "float32", "float32", needs_data=False),
        QuantizationMode("float16", "float16", "float32", "float32", needs_data=False, optimize=True, float16_weights=True),
        QuantizationMode("dynamic", "int8", "float32 (int8 matmuls at run time)", "float32", needs_data=False, optimize=True),
        QuantizationMode(
            "int8", "int8 (biases int32)", "int8", "int8, uint8 or float32", needs_data=True, optimize=True,
            integer_only=True,
        ),  # fmt: skip
    )
}


def get(quantization):
    """The mode named `quantization` (`None` is `"float32"`)."""
    name = "float32" if quantization is None else quantization
    if name not in MODES:
        raise ValueError(
            f"Unknown quantization mode. Received: quantization={quantization!r}. "
            f"Valid modes: {', '.join(repr(m) for m in MODES)} (or None for float32)."
        )
    return MODES[name]


def modes_table():
    """The modes as a Markdown table."""
    lines = ["| mode | weights | activations | input / output | needs data |", "|---|---|---|---|---|"]
    for mode in MODES.values():
        data = "yes (no: QAT models)" if mode.needs_data else "no"
        lines.append(f"| `{mode.name}` | {mode.weights} | {mode.activations} | {mode.io} | {data} |")
    return "\n".join(lines)
