"""QuEST: distillation through a quantized embedding space (a codebook of teacher features).

1. Vocabulary: k-means over the teacher's feature vectors f_T(u) (one per
   spatial position u of one layer, over training images) gives K words
   v_1..v_K (`QuESTDistiller.fit_codebook`; then fixed).
2. The teacher's soft assignment of each position to the words:
   P_T(k|u) = softmax_k(-beta * ||f_T(u) - v_k||^2)   (beta = 1 / tau).
3. The student predicts it from its own features at the same depth with a
   1x1 cosine convolution, s_k(u) = gamma * cos(w_k, f_S(u)), no bias, gamma
   learned from 3.0: P_S(k|u) = softmax_k(s_k(u)).
4. L = student_loss + lambda * 1/(N H W) sum_{n,u} KL(P_T(.|u) || P_S(.|u)).

As in the authors' code (`valeoai/QuEST`): beta = 5, lambda = 1, no
Hinton KD term, teacher features 2x2 average-pooled when the teacher's map
is twice the student's, k-means with 20 iterations initialized from random
samples (their faiss default). The codebook and the predictor belong to the
Distiller and never ship with the student.
"""

import keras
import numpy as np
from keras import ops

from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import weighted_mean
from keras_kd.methods import registry
from keras_kd.step import StepResult

OWNER = "QuESTDistiller"


def kmeans(vectors, num_words, *, iterations=20, seed=0, chunk=4096):
    """Lloyd's k-means: `num_words` centroids of `vectors` `(n, d)`, initialized from random samples.

    An emptied cluster restarts at a random sample.
    """
    vectors = np.asarray(vectors, np.float32)
    if len(vectors) < num_words:
        raise ValueError(f"k-means needs at least num_words={num_words} vectors. Received: {len(vectors)}.")
    rng = np.random.default_rng(seed)
    centroids = vectors[rng.choice(len(vectors), num_words, replace=False)].copy()
    for _ in range(iterations):
        nearest = np.concatenate([
            np.argmin(squared_distances(vectors[i : i + chunk], centroids), axis=1) for i in range(0, len(vectors), chunk)
        ])  # fmt: skip
        counts = np.bincount(nearest, minlength=num_words)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, vectors)
        empty = counts == 0
        centroids[~empty] = sums[~empty] / counts[~empty, None]
        centroids[empty] = vectors[rng.choice(len(vectors), int(empty.sum()), replace=False)]
    return centroids


def squared_distances(features, codebook):
    """||f - v_k||^2 for every feature `(..., d)` and word `(K, d)`: `(..., K)`."""
    f_norm = ops.sum(ops.square(features), axis=-1, keepdims=True)
    v_norm = ops.sum(ops.square(codebook), axis=-1)
    return ops.maximum(f_norm - 2.0 * ops.matmul(features, ops.transpose(codebook)) + v_norm, 0.0)


def soft_assignment(features, codebook, beta):
    """P_T(k|u) = softmax_k(-beta ||f(u) - v_k||^2): `(..., K)`."""
    features = ops.cast(features, "float32")
    return ops.softmax(-beta * squared_distances(features, ops.cast(codebook, "float32")), axis=-1)


@keras.saving.register_keras_serializable(package="keras_kd")
class CosineAssignment(keras.layers.Layer):
    """A 1x1 cosine convolution: s_k(u) = gamma * cos(w_k, f(u)), gamma learned (QuEST's predictor)."""

    def __init__(self, num_words, initial_scale=3.0, **kwargs):
        super().__init__(**kwargs)
        self.num_words = num_words
        self.initial_scale = initial_scale

    def build(self, input_shape):
        self.words = self.add_weight(name="words", shape=(int(input_shape[-1]), self.num_words), initializer="glorot_uniform")
        self.scale = self.add_weight(name="scale", shape=(), initializer=keras.initializers.Constant(self.initial_scale))

    def call(self, features):
        features = ops.cast(features, "float32")
        f = features / (ops.norm(features, axis=-1, keepdims=True) + 1e-12)
        w = self.words / (ops.norm(self.words, axis=0, keepdims=True) + 1e-12)
        return self.scale * ops.matmul(f, w)

    def get_config(self):
        return {**super().get_config(), "num_words": self.num_words, "initial_scale": self.initial_scale}


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("quest")
class QuESTDistiller(Distiller):
    """QuEST: the student predicts the teacher's soft assignment to a codebook of its features.

    Call `fit_codebook(x)` once before `fit` (training refuses an unfitted
    codebook). Logs `distill/quest` besides the usual losses.

    Args:
        teacher, student: as for `keras_kd.Distiller`.
        teacher_layer: the teacher's feature map `(N, H, W, D)` (the paper
            takes its last block before the final ReLU).
        student_layer: the student's map at the matching depth, `(N, H, W, C)`
            or `(N, H/2, W/2, C)` (the teacher's is then 2x2-averaged).
        distillation_losses, distillation_loss_weights: other terms, if any.
            Defaults to `None` (none: the authors' configs use no KD).
        student_loss_weight: w, the weight of the student loss. Defaults to 1.0.
        name: defaults to `"quest_distiller"`.
        num_words: K. Defaults to 4096 (the paper's).
        beta: the soft assignment's sharpness (1 / tau). Defaults to 5.0.
        quest_weight: lambda. Defaults to 1.0.
        views, paired_inputs: as for `keras_kd.Distiller`.

    Reference:
        Jain, Gidaris, Komodakis, Perez and Cord, "QuEST: Quantized
        Embedding Space for Transferring Knowledge", ECCV 2020.

    Example:

    ```python
    quest = QuESTDistiller(teacher, student, "block3", "block3", num_words=256)
    quest.fit_codebook(x_train[:2000])
    quest.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    quest.fit(x_train, y_train, epochs=10)
    ```
    """

    brings_own_losses = True

    def __init__(
        self, teacher, student, teacher_layer, student_layer, distillation_losses=None, distillation_loss_weights=None,
        student_loss_weight=1.0, name="quest_distiller", *, num_words=4096, beta=5.0, quest_weight=1.0, views=None,
        paired_inputs=False,
    ):  # fmt: skip
        self.teacher_layer, self.student_layer = teacher_layer, student_layer
        self.num_words = validation.check_positive_int("num_words", num_words, owner=OWNER)
        self.beta = validation.check_positive_number("beta", beta, owner=OWNER)
        self.quest_weight = validation.check_non_negative_number("quest_weight", quest_weight, owner=OWNER)
        super().__init__(
            teacher, student, distillation_losses, distillation_loss_weights, student_loss_weight, name,
            views=views, paired_inputs=paired_inputs,
        )  # fmt: skip
        t_shape = self._teacher_taps[None].feature_shape(teacher_layer)
        s_shape = self._student_tap.feature_shape(student_layer)
        if len(t_shape) != 3 or len(s_shape) != 3 or tuple(t_shape[:2]) not in (tuple(s_shape[:2]), (2 * s_shape[0], 2 * s_shape[1])):
            raise ValueError(
                f"{OWNER}: the teacher's map must have the student's spatial size or twice it. Received: "
                f"{teacher_layer!r} {tuple(t_shape)} and {student_layer!r} {tuple(s_shape)}."
            )
        self.pool_teacher = tuple(t_shape[:2]) != tuple(s_shape[:2])
        self.codebook = self.add_weight(name="codebook", shape=(self.num_words, int(t_shape[-1])), initializer="zeros", trainable=False)
        self.codebook_fitted = self.add_weight(name="codebook_fitted", shape=(), initializer="zeros", trainable=False)
        self.predictor = CosineAssignment(self.num_words, name="assignment_predictor")
        self.predictor.build((None, *s_shape))
        self.track_measurements(["distill/quest"])

    def tap_layers(self, terms, *, role):
        layer = self.teacher_layer if role == "teacher" else self.student_layer
        return list(dict.fromkeys([*super().tap_layers(terms, role=role), layer]))

    def teacher_features(self, x):
        """The teacher's feature vectors the codebook quantizes `(N, H', W', D)` (pooled if needed)."""
        features = self._teacher_taps[None](x).features[self.teacher_layer]
        return ops.average_pool(features, 2, 2, padding="valid") if self.pool_teacher else features

    def fit_codebook(self, x, *, max_vectors=100_000, iterations=20, batch_size=256, seed=0):
        """Fits the K words by k-means on the teacher's features of `x` (then fixed)."""
        chunks = [
            ops.convert_to_numpy(self.teacher_features(x[i : i + batch_size])) for i in range(0, len(x), batch_size)
        ]  # fmt: skip
        vectors = np.concatenate(chunks).reshape(-1, self.codebook.shape[-1])
        rng = np.random.default_rng(seed)
        if len(vectors) > max_vectors:
            vectors = vectors[rng.choice(len(vectors), max_vectors, replace=False)]
        self.codebook.assign(kmeans(vectors, self.num_words, iterations=iterations, seed=seed))
        self.codebook_fitted.assign(1.0)
        return self

    def compute_distillation(self, batch, teacher, training):
        student = self.student_forward(batch.x_student, training=training)
        result = self.combined_losses(batch, teacher, student, training)  # one student pass for both
        t = teacher.features[self.teacher_layer]
        if self.pool_teacher:
            t = ops.average_pool(t, 2, 2, padding="valid")
        target = soft_assignment(t, self.codebook, self.beta)
        log_q = ops.log_softmax(self.predictor(student.features[self.student_layer]), axis=-1)
        kl = ops.sum(target * (ops.log(ops.maximum(target, 1e-30)) - log_q), axis=-1)
        quest = weighted_mean(ops.mean(kl, axis=(1, 2)), batch.sample_weight)
        measurements = {**result.measurements, "distill/quest": quest}
        return StepResult(result.loss + self.quest_weight * quest, measurements, result.predictions)

    def _require_codebook(self):
        if float(ops.convert_to_numpy(self.codebook_fitted)) != 1.0:
            raise ValueError(
                f"{OWNER}: the codebook is not fitted. Call fit_codebook(x_train[:2000]) once "
                f"before fit or evaluate (k-means over the teacher's {self.teacher_layer!r} features)."
            )

    def fit(self, *args, **kwargs):
        self._require_codebook()
        return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        self._require_codebook()
        return super().evaluate(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        self._require_codebook()
        return super().train_on_batch(*args, **kwargs)

    def get_config(self):
        return {
            **super().get_config(), "teacher_layer": self.teacher_layer, "student_layer": self.student_layer,
            "num_words": self.num_words, "beta": self.beta, "quest_weight": self.quest_weight,
        }  # fmt: skip
