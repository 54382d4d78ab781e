"""Distillation terms, one class per method, grouped by family.

Every term is a `keras.distillation.DistillationLoss`, so it works in
`keras_kd.Distiller` (and, for terms that need no labels, in
`keras.distillation.Distiller`). Build them directly or by name:

>>> from keras_kd import losses
>>> losses.get("kd", temperature=4.0)
KD(temperature=4.0, teacher_from_logits=True, student_from_logits=True, name='kd')

- response-based (`logits.py`): KD, DKD, PixelwiseKD, LogitMSE;
- teacher against label, per sample (`adaptive.py`): AdaptiveTeacherStudent
  (AT/S);
- noisy supervision (`noisy.py`): NoisyTeacher, wrapping any response term;
- feature-based (`feature.py`): Hint, AttentionTransfer,
  CosineRepresentation, NeuronSelectivityTransfer;
- feature ensembles (`feed.py`): FEED (one per teacher: pFEED);
- ensemble distributions (`dirichlet.py`): EnsembleDistributionDistillation
  (EnD^2) and the Dirichlet uncertainties;
- teacher-free (`teacher_free.py`): TeacherFreeRegularization (Tf-KD_reg),
  a hand-made target from the labels, with `teacher=None`;
- relation-based (`relation.py`): RKD, SimilarityPreserving, PKT,
  CorrelationCongruence, PairwiseAffinity.

`DistillationTerm` (`base.py`) is the contract every term follows; Keras's
own `LogitsDistillation` / `FeatureDistillation` join it through `as_term`
(`keras_terms.py`).
"""

from keras_kd.losses.adaptive import AdaptiveTeacherStudent
from keras_kd.losses.base import DistillationTerm
from keras_kd.losses.base import weighted_mean
from keras_kd.losses.feature import AttentionTransfer
from keras_kd.losses.feature import CosineRepresentation
from keras_kd.losses.feature import Hint
from keras_kd.losses.feature import NeuronSelectivityTransfer
from keras_kd.losses.dirichlet import EnsembleDistributionDistillation
from keras_kd.losses.dirichlet import dirichlet_uncertainties
from keras_kd.losses.feed import FEED
from keras_kd.losses.keras_terms import KerasTerm
from keras_kd.losses.keras_terms import as_term
from keras_kd.losses.keras_terms import fix_keras_kl
from keras_kd.losses.logits import DKD
from keras_kd.losses.logits import KD
from keras_kd.losses.logits import LogitMSE
from keras_kd.losses.logits import PixelwiseKD
from keras_kd.losses.noisy import NoisyTeacher
from keras_kd.losses.registry import available
from keras_kd.losses.registry import from_specs
from keras_kd.losses.registry import get
from keras_kd.losses.registry import get_class
from keras_kd.losses.registry import parse_spec
from keras_kd.losses.relation import PKT
from keras_kd.losses.relation import RKD
from keras_kd.losses.relation import CorrelationCongruence
from keras_kd.losses.relation import PairwiseAffinity
from keras_kd.losses.relation import SimilarityPreserving
from keras_kd.losses.teacher_free import TeacherFreeRegularization
