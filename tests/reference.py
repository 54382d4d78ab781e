"""Independent numpy references, written from the papers' formulas."""

import numpy as np


def log_softmax(z, temperature=1.0):
    z = np.asarray(z, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(z, temperature=1.0):
    return np.exp(log_softmax(z, temperature))


def kd_per_sample(teacher_logits, student_logits, temperature):
    """Hinton et al. 2015: T^2 * KL(softmax(t/T) || softmax(s/T))."""
    p = softmax(teacher_logits, temperature)
    log_p = log_softmax(teacher_logits, temperature)
    log_q = log_softmax(student_logits, temperature)
    return temperature**2 * (p * (log_p - log_q)).sum(-1)


def sparse_ce_per_sample(labels, logits):
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def weighted_mean(values, sample_weight=None):
    """Keras's sum_over_batch_size: sum(w * l) / N."""
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        return values.mean()
    return (values * np.asarray(sample_weight, np.float64)).sum() / len(values)
