"""Recipes on the Distiller's hook: methods beyond one teacher and one plain loss.

- `DAKDDistiller` (`dakd.py`): different teacher/student augmentations and
  a consistency loss;
- `MultiTeacherDistiller`, `FromTeacher`, `TeacherEnsemble`
  (`multi_teacher.py`): several frozen teachers, their (weighted) ensemble
  and per-teacher terms;
- `distill_chain` (`chain.py`): teacher -> assistant(s) -> student (TAKD);
- `NoisyCollaborationDistiller` (`noisy_collaboration.py`): noisy student
  inputs, a fickle teacher (dropout on), flipped labels.

By name: `keras_kd.methods.get("multi_teacher")`, `available()`.
"""

from keras_kd.methods.chain import distill_chain
from keras_kd.methods.dakd import DAKDDistiller
from keras_kd.methods.multi_teacher import FromTeacher
from keras_kd.methods.multi_teacher import MultiTeacherDistiller
from keras_kd.methods.multi_teacher import TeacherEnsemble
from keras_kd.methods.noisy_collaboration import NoisyCollaborationDistiller
from keras_kd.methods.registry import available
from keras_kd.methods.registry import get
