"""Backend-specific halves of the train step (TensorFlow today).

Everything a method writes (the Distiller's hook, the terms) uses
`keras.ops` only; the gradient tape and `tf.distribute`'s replica arithmetic
live in `tensorflow.py`. A JAX or PyTorch step would be a sibling module
with the same three functions: `minimize`, `num_replicas_in_sync` and
`translate_errors`.
"""
