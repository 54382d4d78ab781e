"""Distillation terms, one class per method, grouped by family.

Every term is a `keras.distillation.DistillationLoss`, so it works in
`keras_kd.Distiller` and in `keras.distillation.Distiller` alike. Build them
directly or by name through the registry:

>>> from keras_kd import losses
>>> losses.get("kd", temperature=4.0)
KD(temperature=4.0, teacher_from_logits=True, student_from_logits=True, name='kd')
"""

from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.logits import KD
from keras_kd.losses.registry import available
from keras_kd.losses.registry import get
