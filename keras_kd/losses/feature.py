"""Feature-based distillation: terms that compare intermediate features.

Each term names one teacher layer and one student layer (the attribute
names of Keras's `FeatureDistillation`, so the Distiller taps both models
in a single pass). Terms that need the student feature in the teacher's
shape declare a `connector`, which the Distiller builds, owns and trains.

Feature maps are `channels_last` by default; pass
`data_format="channels_first"` for teachers that produce NCHW maps.
"""

from keras import ops

from keras_kd.connectors import SPATIAL
from keras_kd.connectors import Connector
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.registry import register

DATA_FORMATS = ("channels_last", "channels_first")
CONNECTORS = ("auto", "conv1x1", "conv3x3_stack", "dense", "identity", None)


def to_channels_last(x, data_format):
    """NCHW -> NHWC when needed (4-D maps only)."""
    if data_format == "channels_first" and len(x.shape) == 4:
        return ops.transpose(x, (0, 2, 3, 1))
    return x


def check_same_spatial(teacher, student, owner):
    if tuple(teacher.shape[1:-1]) != tuple(student.shape[1:-1]):
        raise ValueError(
            f"{owner}: teacher and student maps must have the same spatial size. "
            f"Received: teacher {tuple(teacher.shape)}, student {tuple(student.shape)} "
            f"(channels last). Tap layers at the same resolution, or add a "
            f"connector with spatial='resize' or 'pool'."
        )


class FeatureTerm(DistillationTerm):
    """Base of the feature terms: layer names, connector, data format."""

    default_connector = None

    def __init__(self, teacher_layer_name, student_layer_name, *, connector="auto", spatial="resize", data_format="channels_last", name=None):
        owner = type(self).__name__
        for arg, value in (("teacher_layer_name", teacher_layer_name), ("student_layer_name", student_layer_name)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{owner}: `{arg}` must name a layer. Received: {arg}={value!r}.")
        if connector not in CONNECTORS:
            raise ValueError(
                f"{owner}: unknown connector. Received: connector={connector!r}. "
                f"Valid: {', '.join(repr(c) for c in CONNECTORS)}."
            )
        if spatial not in SPATIAL:
            raise ValueError(
                f"{owner}: unknown spatial mode. Received: spatial={spatial!r}. Valid: "
                f"{', '.join(repr(m) for m in SPATIAL)} (see keras_kd.connectors)."
            )
        if data_format not in DATA_FORMATS:
            raise ValueError(f"{owner}: data_format must be one of {DATA_FORMATS}. Received: data_format={data_format!r}.")
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.connector = connector
        self.spatial = spatial
        self.data_format = data_format
        self.name = name or self.registry_name

    def _connected_maps(self, teacher_outputs, student_outputs):
        """Both features channels-last, after checking the connected student matches the teacher."""
        t = to_channels_last(ops.convert_to_tensor(teacher_outputs), self.data_format)
        s = to_channels_last(ops.cast(student_outputs, t.dtype), self.data_format)
        if tuple(t.shape[1:]) != tuple(s.shape[1:]):
            raise ValueError(
                f"{type(self).__name__}: the connected student feature must match the teacher's. "
                f"Received: teacher {tuple(t.shape)}, student {tuple(s.shape)}. Use connector='auto'."
            )
        return t, s

    def connector_kind(self, teacher_shape):
        """The kind of connector this term asks for (`keras_kd.connectors.KINDS`), or `None`."""
        kind = self.default_connector if self.connector == "auto" else self.connector
        if kind == "auto":
            return "conv1x1" if len(teacher_shape) == 3 else "dense"
        return kind

    def build_connector(self, teacher_shape, student_shape, *, name):
        kind = self.connector_kind(teacher_shape)
        if kind is None or (kind == "identity" and tuple(teacher_shape) == tuple(student_shape)):
            return None
        connector = Connector(teacher_shape, kind=kind, spatial=self.spatial, data_format=self.data_format, name=name)
        connector.build((None, *student_shape))
        return connector

    def get_config(self):
        return {
            "teacher_layer_name": self.teacher_layer_name, "student_layer_name": self.student_layer_name,
            "connector": self.connector, "spatial": self.spatial,
            "data_format": self.data_format, "name": self.name,
        }  # fmt: skip


class ConnectorFreeFeatureTerm(FeatureTerm):
    """Base of feature terms that compare maps of any channel count directly.

    No connector; spatial sizes must match. Subclasses get `_maps`, which
    returns both maps channels-last, in one dtype, after that check.
    """

    def __init__(self, teacher_layer_name, student_layer_name, *, data_format="channels_last", name=None):
        super().__init__(teacher_layer_name, student_layer_name, connector=None, data_format=data_format, name=name)

    def _maps(self, teacher_outputs, student_outputs):
        t = to_channels_last(ops.convert_to_tensor(teacher_outputs), self.data_format)
        s = to_channels_last(ops.cast(student_outputs, t.dtype), self.data_format)
        check_same_spatial(t, s, type(self).__name__)
        return t, s

    def get_config(self):
        config = super().get_config()
        for key in ("connector", "spatial"):
            config.pop(key)
        return config


@register("hint")
class Hint(FeatureTerm):
    """FitNets hint: mean squared error between teacher and connected student.

        L = 1/N sum_i w_i * mean_k (t_ik - r(s)_ik)^2

    where r is the connector (a 1x1 convolution for maps, dense for vectors)
    and k runs over every element of the feature. The paper writes
    1/2 ||t - r(s)||^2 summed; the mean is the common (and scale-stable)
    reading, as in torchdistill.

    Args:
        teacher_layer_name: the teacher's hint layer.
        student_layer_name: the student's guided layer.
        connector: `"auto"` (conv1x1 for maps, dense for vectors),
            `"conv1x1"`, `"dense"` or `"identity"`. Defaults to `"auto"`.
        spatial: `"resize"` or `"pool"` when spatial sizes differ. Defaults
            to `"resize"`.
        data_format: defaults to `"channels_last"`.
        name: log key. Defaults to `"hint"`.

    Reference:
        Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015.

    Example:

    >>> term = Hint("block3", "block3")
    """

    default_connector = "auto"

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t, s = self._connected_maps(teacher_outputs, student_outputs)
        per_sample = ops.mean(ops.reshape(ops.square(t - s), (ops.shape(t)[0], -1)), axis=-1)
        return weighted_mean(per_sample, sample_weight)


def attention_map(feature, p=2.0, data_format="channels_last"):
    """Zagoruyko & Komodakis: Q = vec(sum_c |A_c|^p), L2-normalized per sample.

    Channel mean instead of sum, as in the authors' code; the normalization
    makes the two equal.
    """
    x = to_channels_last(ops.convert_to_tensor(feature), data_format)
    q = ops.mean(ops.power(ops.abs(x), p), axis=-1)
    q = ops.reshape(q, (ops.shape(q)[0], -1))
    return q / (ops.norm(q, axis=-1, keepdims=True) + 1e-12)


@register("at")
class AttentionTransfer(ConnectorFreeFeatureTerm):
    """Attention transfer: distance between normalized spatial attention maps.

    With Q = vec(sum_c |A_c|^p) and a = Q / ||Q||_2:

    - `mode="paper"`: L = 1/N sum_i w_i * ||a_s,i - a_t,i||_2;
    - `mode="code"` (the authors' released code, the default):
      L = 1/N sum_i w_i * mean_k (a_s,ik - a_t,ik)^2, used there with a
      weight beta = 1000 (set it through `distillation_loss_weights`).

    No connector: channel counts may differ. Spatial sizes must match.

    Args:
        teacher_layer_name, student_layer_name: the tapped layers.
        p: the exponent of the attention map. Defaults to 2.
        mode: `"code"` or `"paper"`. Defaults to `"code"`.
        data_format: defaults to `"channels_last"`.
        name: defaults to `"at"`.

    Reference:
        Zagoruyko and Komodakis, "Paying More Attention to Attention",
        ICLR 2017.
    """

    def __init__(self, teacher_layer_name, student_layer_name, *, p=2.0, mode="code", data_format="channels_last", name=None):
        super().__init__(teacher_layer_name, student_layer_name, data_format=data_format, name=name)
        if mode not in ("code", "paper"):
            raise ValueError(f"AttentionTransfer: mode must be 'code' or 'paper'. Received: mode={mode!r}.")
        self.p = float(p)
        self.mode = mode

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t, s = self._maps(teacher_outputs, student_outputs)
        diff = attention_map(s, self.p) - attention_map(t, self.p)
        if self.mode == "paper":
            per_sample = ops.sqrt(ops.sum(ops.square(diff), axis=-1) + 1e-12)
        else:
            per_sample = ops.mean(ops.square(diff), axis=-1)
        return weighted_mean(per_sample, sample_weight)

    def get_config(self):
        return {**super().get_config(), "p": self.p, "mode": self.mode}


@register("cosine")
class CosineRepresentation(FeatureTerm):
    """Cosine distance between internal representations.

        L = 1/N sum_i w_i * (1 - cos(r(s_i), t_i))

    on flattened features, or, with `position=k`, on the k-th vector of
    sequence features `(batch, length, width)`: Aguilar et al. compare the
    [CLS] vectors (`position=0`) of matched BERT layers. `r` is a dense
    connector (`connector="auto"`) mapping the student's width to the
    teacher's, or the identity.

    Aguilar et al.'s layer-by-layer schedules (progressive: one pair at a
    time; stacked: pairs added cumulatively) drive several such terms, one
    per matched pair: see `keras_kd.schedules.LayerwiseSchedule`.

    Args:
        teacher_layer_name, student_layer_name: the tapped layers.
        position: the sequence position to compare, or `None` to compare
            the whole flattened feature. Defaults to `None`.
        connector: `"auto"` (dense), `"dense"` or `"identity"`. Defaults to
            `"auto"`.
        spatial, data_format: for feature maps, as in `Hint`. Default to
            `"resize"` and `"channels_last"`.
        name: defaults to `"cosine"`.

    Reference:
        Aguilar et al., "Knowledge Distillation from Internal
        Representations", AAAI 2020.

    Example:

    >>> terms = [CosineRepresentation(f"teacher_layer_{2 * i + 1}", f"student_layer_{i}",
    ...                               position=0, name=f"cos{i}") for i in range(3)]
    """

    def __init__(
        self, teacher_layer_name, student_layer_name, *, position=None, connector="auto",
        spatial="resize", data_format="channels_last", name=None,
    ):  # fmt: skip
        super().__init__(
            teacher_layer_name, student_layer_name, connector=connector, spatial=spatial,
            data_format=data_format, name=name,
        )  # fmt: skip
        if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
            raise ValueError(
                f"CosineRepresentation: `position` must be an integer index into the sequence "
                f"axis, or None. Received: position={position!r}."
            )
        self.position = position

    def connector_kind(self, teacher_shape):
        if self.connector == "auto":
            return "dense"
        return self.connector

    def _select(self, x, role):
        if self.position is None:
            return ops.reshape(x, (ops.shape(x)[0], -1))
        if len(x.shape) != 3:
            raise ValueError(
                f"CosineRepresentation: position={self.position} needs sequence features "
                f"(batch, length, width). Received: the {role}'s feature of shape "
                f"{tuple(x.shape)}. Tap a sequence layer, or pass position=None."
            )
        return x[:, self.position]

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t = self._select(ops.convert_to_tensor(teacher_outputs), "teacher")
        s = self._select(ops.cast(student_outputs, t.dtype), "student")
        if t.shape[-1] != s.shape[-1]:
            raise ValueError(
                f"CosineRepresentation: widths differ. Received: teacher {tuple(t.shape)}, "
                f"student {tuple(s.shape)} (compared). Use connector='auto' or 'dense'."
            )
        cos = ops.sum(t * s, -1) / (ops.norm(t, axis=-1) * ops.norm(s, axis=-1) + 1e-12)
        return weighted_mean(1.0 - cos, sample_weight)

    def get_config(self):
        return {**super().get_config(), "position": self.position}


@register("nst")
class NeuronSelectivityTransfer(ConnectorFreeFeatureTerm):
    """NST: squared MMD between teacher and student neuron activation maps.

    Each channel's spatial map f^k (L2-normalized over positions) is a
    sample; with the polynomial kernel k(x, y) = (x.y + c)^d:

        MMD^2 = mean_{i,i'} k(f_t^i, f_t^i') + mean_{j,j'} k(f_s^j, f_s^j')
                - 2 mean_{i,j} k(f_t^i, f_s^j)

    averaged over the batch (with sample weights). Channel counts may differ;
    spatial sizes must match.

    Args:
        teacher_layer_name, student_layer_name: the tapped layers.
        degree: d. Defaults to 2.
        constant: c. Defaults to 0.
        data_format: defaults to `"channels_last"`.
        name: defaults to `"nst"`.

    Reference:
        Huang and Wang, "Like What You Like: Knowledge Distill via Neuron
        Selectivity Transfer", arXiv:1707.01219, 2017.
    """

    def __init__(self, teacher_layer_name, student_layer_name, *, degree=2, constant=0.0, data_format="channels_last", name=None):
        super().__init__(teacher_layer_name, student_layer_name, data_format=data_format, name=name)
        self.degree = int(degree)
        self.constant = float(constant)

    def _channel_maps(self, x):
        x = ops.transpose(x, (0, 3, 1, 2))
        x = ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], -1))
        return x / (ops.norm(x, axis=-1, keepdims=True) + 1e-12)

    def _kernel_mean(self, a, b):
        gram = ops.matmul(a, ops.transpose(b, (0, 2, 1)))
        return ops.mean(ops.power(gram + self.constant, self.degree), axis=(1, 2))

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t, s = self._maps(teacher_outputs, student_outputs)
        ft, fs = self._channel_maps(t), self._channel_maps(s)
        mmd = self._kernel_mean(ft, ft) + self._kernel_mean(fs, fs) - 2.0 * self._kernel_mean(ft, fs)
        return weighted_mean(mmd, sample_weight)

    def get_config(self):
        return {**super().get_config(), "degree": self.degree, "constant": self.constant}
