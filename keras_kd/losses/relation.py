"""Relation-based distillation: how samples (or positions) relate to each other.

These terms compare structures built *within* each model (distances,
angles, similarities between the samples of a batch, or between the
positions of a feature map), so teacher and student widths may differ and
no connector is needed. Batch-level terms ignore sample weights (a pair has
no single weight); they are documented as such.

By default a term reads the models' final outputs; pass
`teacher_layer_name` / `student_layer_name` to relate intermediate features
(tapped in the same forward pass).
"""

from keras import ops

from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.feature import to_channels_last
from keras_kd.losses.registry import register


def _flatten(x):
    x = ops.convert_to_tensor(x)
    return ops.reshape(x, (ops.shape(x)[0], -1))


def pairwise_distances(x):
    """Euclidean distances between the rows of `x`, shape `(b, b)`."""
    sq = ops.sum(ops.square(x), axis=-1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * ops.matmul(x, ops.transpose(x))
    d2 = ops.maximum(d2, 1e-12)
    eye = ops.eye(ops.shape(x)[0], dtype=x.dtype)
    return ops.sqrt(d2) * (1.0 - eye)


def huber(x, delta=1.0):
    """Smooth L1 (Huber with delta 1), elementwise."""
    a = ops.abs(x)
    return ops.where(a < delta, 0.5 * ops.square(x) / delta, a - 0.5 * delta)


class RelationTerm(DistillationTerm):
    """Base: optional layer names (default: the final outputs)."""

    requires_same_output_shape = False

    def __init__(self, *, teacher_layer_name=None, student_layer_name=None, name=None):
        if (teacher_layer_name is None) != (student_layer_name is None):
            raise ValueError(
                f"{type(self).__name__}: name both layers or neither. Received: "
                f"teacher_layer_name={teacher_layer_name!r}, student_layer_name={student_layer_name!r}."
            )
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.name = name or self.registry_name

    def get_config(self):
        return {"teacher_layer_name": self.teacher_layer_name, "student_layer_name": self.student_layer_name, "name": self.name}


def _normalized_distances(x):
    d = pairwise_distances(x)
    b = ops.cast(ops.shape(x)[0], x.dtype)
    mean = ops.sum(d) / (b * (b - 1.0))
    return d / (mean + 1e-12)


def _angles(x):
    """<e_ij, e_kj> for all (i, j, k), e_ij = (x_i - x_j) / ||x_i - x_j||."""
    diff = x[None, :, :] - x[:, None, :]  # diff[j, i] = x_i - x_j
    norm = ops.sqrt(ops.sum(ops.square(diff), axis=-1, keepdims=True))
    e = diff / ops.maximum(norm, 1e-12)
    return ops.matmul(e, ops.transpose(e, (0, 2, 1)))  # [j, i, k]


@register("rkd")
class RKD(RelationTerm):
    """Relational KD: distance- and angle-wise potentials, Huber-matched.

    With psi_D(i, j) = ||x_i - x_j|| / mu (mu: the mean distance over pairs
    i != j in the batch) and psi_A(i, j, k) = <e_ij, e_kj>,
    e_ij = (x_i - x_j) / ||x_i - x_j||:

        L = distance_weight * mean_{i != j} huber(psi_D^s - psi_D^t)
          + angle_weight * mean_{i, j, k} huber(psi_A^s - psi_A^t)

    Means run over all b^2 pairs and b^3 triplets, as in the authors' code
    (degenerate pairs contribute 0 to both models). Defaults follow the
    paper's lambda_D = 25, lambda_A = 50.

    Args:
        distance_weight: defaults to 25.
        angle_weight: defaults to 50.
        teacher_layer_name, student_layer_name: optional tapped layers
            (flattened). Defaults to `None` (final outputs).
        name: defaults to `"rkd"`.

    Reference:
        Park, Kim, Lu and Cho, "Relational Knowledge Distillation",
        CVPR 2019.
    """

    def __init__(self, *, distance_weight=25.0, angle_weight=50.0, teacher_layer_name=None, student_layer_name=None, name=None):
        super().__init__(teacher_layer_name=teacher_layer_name, student_layer_name=student_layer_name, name=name)
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = _flatten(teacher_outputs)
        s = ops.cast(_flatten(student_outputs), t.dtype)
        loss = 0.0
        if self.distance_weight:
            loss = loss + self.distance_weight * ops.mean(huber(_normalized_distances(s) - _normalized_distances(t)))
        if self.angle_weight:
            loss = loss + self.angle_weight * ops.mean(huber(_angles(s) - _angles(t)))
        return loss

    def get_config(self):
        return {**super().get_config(), "distance_weight": self.distance_weight, "angle_weight": self.angle_weight}


def _row_normalized_gram(x):
    g = ops.matmul(x, ops.transpose(x))
    return g / (ops.norm(g, axis=-1, keepdims=True) + 1e-12)


@register("sp")
class SimilarityPreserving(RelationTerm):
    """Similarity-preserving KD: match row-normalized batch Gram matrices.

        G = Q Q^T (Q: the b flattened activations), G~ = G / ||G_row||_2,
        L = 1 / b^2 * ||G~_t - G~_s||_F^2

    Args:
        teacher_layer_name, student_layer_name: optional tapped layers.
        name: defaults to `"sp"`.

    Reference:
        Tung and Mori, "Similarity-Preserving Knowledge Distillation",
        ICCV 2019.
    """

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = _flatten(teacher_outputs)
        s = ops.cast(_flatten(student_outputs), t.dtype)
        b = ops.cast(ops.shape(t)[0], t.dtype)
        return ops.sum(ops.square(_row_normalized_gram(t) - _row_normalized_gram(s))) / (b * b)


def _cosine_conditional(x, eps):
    x = x / (ops.norm(x, axis=-1, keepdims=True) + eps)
    k = (ops.matmul(x, ops.transpose(x)) + 1.0) / 2.0
    return k / ops.sum(k, axis=-1, keepdims=True)


@register("pkt")
class PKT(RelationTerm):
    """Probabilistic knowledge transfer: match cosine-kernel conditionals.

    K(a, b) = (cos(a, b) + 1) / 2, p_{j|i} = K(x_i, x_j) / sum_j K(x_i, x_j),

        L = mean_{i, j} p^t_{j|i} * log((p^t_{j|i} + eps) / (p^s_{j|i} + eps))

    with eps = 1e-7 and the mean over all b^2 entries, as in the authors'
    code.

    Args:
        eps: defaults to 1e-7.
        teacher_layer_name, student_layer_name: optional tapped layers.
        name: defaults to `"pkt"`.

    Reference:
        Passalis and Tefas, "Learning Deep Representations with
        Probabilistic Knowledge Transfer", ECCV 2018.
    """

    def __init__(self, *, eps=1e-7, teacher_layer_name=None, student_layer_name=None, name=None):
        super().__init__(teacher_layer_name=teacher_layer_name, student_layer_name=student_layer_name, name=name)
        self.eps = float(eps)

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = _flatten(teacher_outputs)
        s = ops.cast(_flatten(student_outputs), t.dtype)
        p_t = _cosine_conditional(t, self.eps)
        p_s = _cosine_conditional(s, self.eps)
        return ops.mean(p_t * ops.log((p_t + self.eps) / (p_s + self.eps)))

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@register("cc")
class CorrelationCongruence(RelationTerm):
    """Correlation congruence: match batch correlation matrices.

    On L2-normalized embeddings, the Gaussian RBF kernel
    exp(-gamma ||x - y||^2) = exp(-2 gamma) exp(2 gamma x.y) is approximated
    by its Taylor expansion of order P:

        k(x, y) ~ sum_{p=0}^{P} exp(-2 gamma) (2 gamma)^p / p! * (x.y)^p
        L = 1 / b^2 * ||C_t - C_s||_F^2,  C = [k(x_i, x_j)]

    Args:
        gamma: defaults to 0.4.
        order: P. Defaults to 2.
        teacher_layer_name, student_layer_name: optional tapped layers.
        name: defaults to `"cc"`.

    Reference:
        Peng et al., "Correlation Congruence for Knowledge Distillation",
        ICCV 2019.
    """

    def __init__(self, *, gamma=0.4, order=2, teacher_layer_name=None, student_layer_name=None, name=None):
        super().__init__(teacher_layer_name=teacher_layer_name, student_layer_name=student_layer_name, name=name)
        self.gamma = float(gamma)
        self.order = int(order)

    def _correlation(self, x):
        import math

        x = x / (ops.norm(x, axis=-1, keepdims=True) + 1e-12)
        dot = ops.matmul(x, ops.transpose(x))
        c = 0.0
        for p in range(self.order + 1):
            coeff = math.exp(-2.0 * self.gamma) * (2.0 * self.gamma) ** p / math.factorial(p)
            c = c + coeff * ops.power(dot, p)
        return c

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        t = _flatten(teacher_outputs)
        s = ops.cast(_flatten(student_outputs), t.dtype)
        b = ops.cast(ops.shape(t)[0], t.dtype)
        return ops.sum(ops.square(self._correlation(t) - self._correlation(s))) / (b * b)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "order": self.order}


@register("pairwise")
class PairwiseAffinity(RelationTerm):
    """Pair-wise affinity distillation for dense prediction.

    Feature maps are average-pooled over `granularity` x `granularity`
    patches into nodes; a_ij is the cosine similarity of nodes i and j:

        L = 1/N sum_n w_n * 1 / |P| * sum_{(i, j) in P} (a^s_ij - a^t_ij)^2

    P holds all node pairs (`connection_range=None`, the paper's full
    connection), or the pairs within `connection_range` nodes of each other
    (Chebyshev distance on the node grid).

    Args:
        teacher_layer_name, student_layer_name: the tapped feature maps
            (same spatial size; channel counts may differ). Required.
        granularity: pooling size beta. Defaults to 1 (every pixel a node).
        connection_range: alpha, or `None` for all pairs. Defaults to `None`.
        data_format: defaults to `"channels_last"`.
        name: defaults to `"pairwise"`.

    Reference:
        Liu et al., "Structured Knowledge Distillation for Semantic
        Segmentation" / "... for Dense Prediction", CVPR 2019 / TPAMI 2020.
    """

    def __init__(self, teacher_layer_name, student_layer_name, *, granularity=1, connection_range=None, data_format="channels_last", name=None):
        if teacher_layer_name is None or student_layer_name is None:
            raise ValueError("PairwiseAffinity compares feature maps: name both layers.")
        super().__init__(teacher_layer_name=teacher_layer_name, student_layer_name=student_layer_name, name=name)
        self.granularity = int(granularity)
        self.connection_range = None if connection_range is None else int(connection_range)
        self.data_format = data_format

    def _affinity(self, x):
        if self.granularity > 1:
            x = ops.average_pool(x, self.granularity, strides=self.granularity, padding="valid")
        h, w = x.shape[1], x.shape[2]
        x = ops.reshape(x, (ops.shape(x)[0], h * w, x.shape[3]))
        x = x / (ops.norm(x, axis=-1, keepdims=True) + 1e-12)
        return ops.matmul(x, ops.transpose(x, (0, 2, 1))), (h, w)

    def _mask(self, h, w, dtype):
        import numpy as np

        rows, cols = np.divmod(np.arange(h * w), w)
        near = np.maximum(np.abs(rows[:, None] - rows[None, :]), np.abs(cols[:, None] - cols[None, :]))
        return ops.convert_to_tensor((near <= self.connection_range).astype("float32"), dtype=dtype)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, **kwargs):
        t = to_channels_last(ops.convert_to_tensor(teacher_outputs), self.data_format)
        s = to_channels_last(ops.cast(student_outputs, t.dtype), self.data_format)
        if tuple(t.shape[1:3]) != tuple(s.shape[1:3]):
            raise ValueError(
                f"PairwiseAffinity: maps must share their spatial size. Received: teacher "
                f"{tuple(t.shape)}, student {tuple(s.shape)} (channels last)."
            )
        a_t, (h, w) = self._affinity(t)
        a_s, _ = self._affinity(s)
        sq = ops.square(a_s - a_t)
        if self.connection_range is None:
            per_sample = ops.mean(sq, axis=(1, 2))
        else:
            mask = self._mask(h, w, sq.dtype)
            per_sample = ops.sum(sq * mask, axis=(1, 2)) / ops.sum(mask)
        return weighted_mean(per_sample, sample_weight)

    def get_config(self):
        return {
            **super().get_config(), "granularity": self.granularity,
            "connection_range": self.connection_range, "data_format": self.data_format,
        }  # fmt: skip
