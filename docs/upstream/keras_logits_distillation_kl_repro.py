import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras

teacher_logits = np.array([[4.0, 1.0, -2.0], [0.5, 2.5, 0.0]], dtype="float32")
student_logits = np.array([[2.0, 1.5, -1.0], [1.0, 1.0, 1.0]], dtype="float32")
T = 1.0

def hinton(t, s, T):
    log_p = t / T - np.log(np.exp(t / T).sum(-1, keepdims=True))
    log_q = s / T - np.log(np.exp(s / T).sum(-1, keepdims=True))
    return T**2 * (np.exp(log_p) * (log_p - log_q)).sum(-1).mean()

default = keras.distillation.LogitsDistillation(temperature=T)
explicit = keras.distillation.LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence())
print("keras", keras.__version__)
print("type(default.loss):", default.loss)
print("default  (loss='kl_divergence'):", float(default.compute_loss(teacher_logits, student_logits)))
print("explicit (KLDivergence())      :", float(explicit.compute_loss(teacher_logits, student_logits)))
print("Hinton, numpy                  :", hinton(teacher_logits, student_logits, T))
