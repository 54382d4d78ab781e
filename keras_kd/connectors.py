"""Connectors: learnable adapters from a student feature to the teacher's shape.

A connector belongs to the Distiller: it trains with the student, is saved
with the Distiller, and is never part of the student that gets exported.

Kinds (`Connector(kind=...)`):

- `"conv1x1"`: a 1x1 convolution (+ BatchNorm) mapping channels, for 4-D
  feature maps, as in FitNets' regressor and most hint-based methods;
- `"conv3x3_stack"`: a non-linear transform, three 3x3 convolutions to the
  teacher's channels (BatchNorm + ReLU after the first two), as FEED's
  per-teacher transformation layers;
- `"dense"`: a dense projection of the last axis, for vectors / sequences;
- `"identity"`: no parameters; shapes must already match.

When the spatial sizes differ, `spatial` decides, explicitly:

- `"resize"`: bilinear resize of the student map to the teacher's size;
- `"pool"`: average pooling of the larger map down to the teacher's size
  (the student's map must be an integer multiple of it).
"""

import keras
from keras import ops

KINDS = ("conv1x1", "conv3x3_stack", "dense", "identity")
SPATIAL = ("resize", "pool")


@keras.saving.register_keras_serializable(package="keras_kd")
class Connector(keras.layers.Layer):
    """Maps a student feature to the teacher feature's shape.

    Args:
        teacher_shape: the teacher feature's shape without the batch axis.
        kind: one of `KINDS`. Defaults to `"conv1x1"`.
        spatial: one of `SPATIAL`, used when spatial sizes differ. Defaults
            to `"resize"`.
        use_batch_norm: BatchNorm after a 1x1 convolution. Defaults to `True`.
        data_format: `"channels_last"` or `"channels_first"` for 4-D maps.
            Defaults to `"channels_last"`. Only the layout of the input and
            output changes: the connector computes channels-last inside
            (TensorFlow's CPU convolutions take NHWC only), so its weights are
            the same in either format.
    """

    def __init__(
        self,
        teacher_shape,
        *,
        kind="conv1x1",
        spatial="resize",
        use_batch_norm=True,
        data_format="channels_last",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"Unknown connector kind. Received: kind={kind!r}. Valid: {', '.join(KINDS)}.")
        if spatial not in SPATIAL:
            raise ValueError(f"Unknown spatial mode. Received: spatial={spatial!r}. Valid: {', '.join(SPATIAL)}.")
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"data_format must be 'channels_last' or 'channels_first'. Received: data_format={data_format!r}."
            )
        self.teacher_shape = tuple(int(d) for d in teacher_shape)
        self.kind = kind
        self.spatial = spatial
        self.use_batch_norm = use_batch_norm
        self.data_format = data_format
        # `teacher_shape` has no batch axis: channels come first or last in it.
        channels_first_map = data_format == "channels_first" and len(self.teacher_shape) == 3
        out_channels = self.teacher_shape[0 if channels_first_map else -1]
        self.projection = None
        self.norm = None
        if kind in ("conv1x1", "conv3x3_stack") and len(self.teacher_shape) != 3:
            raise ValueError(
                f"A {kind} connector maps 4-D feature maps. Received: teacher "
                f"feature shape {self.teacher_shape}. Use kind='dense' for vectors."
            )
        if kind == "conv3x3_stack":
            stack = []
            for i in range(3):
                stack.append(keras.layers.Conv2D(out_channels, 3, padding="same", name=f"conv{i}"))
                if i < 2:
                    stack += [keras.layers.BatchNormalization(name=f"bn{i}"), keras.layers.ReLU(name=f"relu{i}")]
            self.projection = keras.Sequential(stack, name="transform")
        if kind == "conv1x1":
            self.projection = keras.layers.Conv2D(out_channels, 1, use_bias=not use_batch_norm, name="conv")
            if use_batch_norm:
                self.norm = keras.layers.BatchNormalization(name="bn")
        elif kind == "dense":
            self.projection = keras.layers.Dense(out_channels, name="dense")

    def _transposes(self, rank):
        return self.data_format == "channels_first" and rank == 4

    def build(self, input_shape):
        if self.projection is not None:
            if self._transposes(len(input_shape)):
                input_shape = (input_shape[0], *input_shape[2:], input_shape[1])
            self.projection.build(input_shape)
            if self.norm is not None:
                self.norm.build(self.projection.compute_output_shape(input_shape))

    def _match_spatial(self, x):
        """Channels-last `x` resized or pooled to the teacher's spatial size."""
        if len(self.teacher_shape) != 3:
            return x
        t_hw = self.teacher_shape[:2] if self.data_format == "channels_last" else self.teacher_shape[1:]
        s_hw = tuple(x.shape[1:3])
        if s_hw == tuple(t_hw):
            return x
        if self.spatial == "resize":
            return ops.image.resize(x, t_hw, interpolation="bilinear")
        if s_hw[0] % t_hw[0] or s_hw[1] % t_hw[1]:
            raise ValueError(
                f"spatial='pool' needs the student map to be an integer multiple "
                f"of the teacher's. Received: student {s_hw}, teacher {tuple(t_hw)}. "
                f"Use spatial='resize'."
            )
        pool = (s_hw[0] // t_hw[0], s_hw[1] // t_hw[1])
        return ops.average_pool(x, pool, strides=pool, padding="valid")

    def call(self, x, training=None):
        transposes = self._transposes(len(x.shape))
        if transposes:
            x = ops.transpose(x, (0, 2, 3, 1))
        if self.projection is not None:
            x = self.projection(x, training=training)
            if self.norm is not None:
                x = self.norm(x, training=training)
        x = self._match_spatial(x)
        return ops.transpose(x, (0, 3, 1, 2)) if transposes else x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.teacher_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "teacher_shape": list(self.teacher_shape), "kind": self.kind, "spatial": self.spatial,
            "use_batch_norm": self.use_batch_norm, "data_format": self.data_format,
        })  # fmt: skip
        return config
