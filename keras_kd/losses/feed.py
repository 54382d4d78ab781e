"""FEED: feature-level ensemble distillation through non-linear transforms."""

from keras import ops

from keras_kd.losses.base import weighted_mean
from keras_kd.losses.feature import FeatureTerm
from keras_kd.losses.registry import register


@register("feed")
class FEED(FeatureTerm):
    """FEED: L1 distance between L2-normalized teacher and transformed student maps.

    With r the term's non-linear transform (three 3x3 convolutions, the
    connector kind `"conv3x3_stack"`) and maps flattened per sample:

        L = 1/N sum_i w_i * || t_i / ||t_i||_2 - r(s_i) / ||r(s_i)||_2 ||_1

    Parallel FEED (pFEED) gives one such term per teacher, each with its own
    transform, inside a `MultiTeacherDistiller`:
    `[FromTeacher(FEED(t_layer, s_layer), teacher=m) for m in ...]`,
    weighted by beta (`distillation_loss_weights`). The transforms train
    with the student and never ship with it. The normalization and p = 1
    follow Factor Transfer, which FEED extends; no released FEED code was
    found to check them against.

    Args:
        teacher_layer_name: the teacher's last feature map (before pooling).
        student_layer_name: the student's last feature map.
        connector: defaults to `"conv3x3_stack"`; `"conv1x1"` or
            `"identity"` also work.
        spatial, data_format: as in `Hint`.
        name: defaults to `"feed"`.

    Reference:
        Park and Kwak, "FEED: Feature-level Ensemble for Knowledge
        Distillation", arXiv:1909.10754, 2019; Kim, Park and Kwak,
        "Paraphrasing Complex Network: Network Compression via Factor
        Transfer", NeurIPS 2018.
    """

    default_connector = "conv3x3_stack"

    def __init__(self, teacher_layer_name, student_layer_name, *, connector="auto", spatial="resize", data_format="channels_last", name=None):
        super().__init__(
            teacher_layer_name, student_layer_name, connector=connector, spatial=spatial, data_format=data_format, name=name,
        )  # fmt: skip

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t, s = self._connected_maps(teacher_outputs, student_outputs)
        t = ops.reshape(t, (ops.shape(t)[0], -1))
        s = ops.reshape(s, (ops.shape(s)[0], -1))
        t = t / (ops.norm(t, axis=-1, keepdims=True) + 1e-12)
        s = s / (ops.norm(s, axis=-1, keepdims=True) + 1e-12)
        return weighted_mean(ops.sum(ops.abs(t - s), axis=-1), sample_weight)
