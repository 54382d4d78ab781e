"""Noisy teachers: perturbed supervision as a regularizer."""

import keras
from keras import ops

from keras_kd import validation
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.keras_terms import as_term
from keras_kd.losses.registry import register


@register("noisy_teacher")
class NoisyTeacher(DistillationTerm):
    """Wraps a term so that it sees the teacher's logits with multiplicative noise.

        z~_i = (1 + xi_i) * z_t,i,   xi_i ~ N(0, stddev^2) element-wise,

    for a random `fraction` of the samples of each batch (the others keep
    z_t), redrawn every step; then the wrapped term compares z~ with the
    student's outputs. E[z~] = z_t. Sau and Balasubramanian regress the
    student's logits onto z~ (`NoisyTeacher(LogitMSE())`) and show the
    noise acts as a regularizer, like simulating several teachers.

    Randomness comes from a `keras.random.SeedGenerator(seed)`, so a seeded
    run draws the same noise.

    Args:
        term: the wrapped term (a term or a registered name). Defaults to
            `"logit_mse"`.
        stddev: sigma >= 0. Defaults to 0.1.
        fraction: the probability that a sample is perturbed, in [0, 1].
            Defaults to 0.5.
        seed: defaults to `None`.

    Reference:
        Sau and Balasubramanian, "Deep Model Compression: Distilling
        Knowledge from Noisy Teachers", arXiv:1610.09650, 2016.
    """

    def __init__(self, term="logit_mse", *, stddev=0.1, fraction=0.5, seed=None):
        from keras_kd import losses

        owner = type(self).__name__
        self.term = as_term(losses.get(term) if isinstance(term, (str, dict)) else term)
        if not self.term.uses_final_outputs:
            raise ValueError(f"{owner} perturbs the teacher's logits; wrap a term on the final outputs. Received: {self.term!r}.")
        self.stddev = validation.check_non_negative_number("stddev", stddev, owner=owner)
        self.fraction = validation.check_unit_interval("fraction", fraction, owner=owner)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.requires_labels = self.term.requires_labels
        self.requires_teacher = self.term.requires_teacher
        self.requires_same_output_shape = self.term.requires_same_output_shape
        self.name = f"noisy_{self.term.name}"

    def expects_logits(self, role):
        return self.term.expects_logits(role)

    def explain_nonfinite(self):
        return self.term.explain_nonfinite()

    def perturb(self, teacher_logits):
        """The noisy logits z~ (see the class docstring)."""
        z = ops.convert_to_tensor(teacher_logits)
        xi = keras.random.normal(ops.shape(z), stddev=self.stddev, seed=self.generator, dtype=z.dtype)
        chosen = keras.random.uniform(ops.shape(z)[:1], seed=self.generator) < self.fraction
        chosen = ops.reshape(ops.cast(chosen, z.dtype), (-1,) + (1,) * (len(z.shape) - 1))
        return z * (1.0 + chosen * xi)

    def compute_loss(self, teacher_outputs, student_outputs, sample_weight=None, y_true=None, **kwargs):
        noisy = self.perturb(teacher_outputs)
        return self.term.compute_loss(noisy, student_outputs, sample_weight=sample_weight, y_true=y_true)

    def get_config(self):
        return {
            "term": keras.saving.serialize_keras_object(self.term), "stddev": self.stddev,
            "fraction": self.fraction, "seed": self.seed,
        }  # fmt: skip

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["term"] = keras.saving.deserialize_keras_object(config["term"])
        return cls(**config)
