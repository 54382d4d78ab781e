"""Recipes on the Distiller's hook: methods beyond one teacher and one plain loss.

- `DAKDDistiller` (`dakd.py`): different teacher/student augmentations and
  a consistency loss; `dakd` and `fine_tune_teacher` (`dakd_stages.py`):
  the whole method, its teacher stage included;
- `function_matching` (`function_matching.py`): consistent MixUp views, KL
  only, gradient clipping, a patient budget (Beyer et al.);
- `MultiTeacherDistiller`, `FromTeacher`, `TeacherEnsemble`
  (`multi_teacher.py`): several frozen teachers, their (weighted) ensemble
  and per-teacher terms; `ensemble_teacher` (`ensemble_teacher.py`): the
  teachers' mixture as one logits model, for any single-teacher method;
- `distill_chain` (`chain.py`): teacher -> assistant(s) -> student (TAKD);
- `NoisyCollaborationDistiller` (`noisy_collaboration.py`): noisy student
  inputs, a fickle teacher (dropout on), flipped labels;
- online distillation, no teacher: `MutualDistiller` (`mutual.py`, DML),
  `OKDDipDistiller` (`okddip.py`), `AFDDistiller` (`afd.py`, adversarial
  feature maps), on a `PeerGroup` (`peers.py`);
- self-distillation: `add_exits`, `exit_model` (`exits.py`) and
  `MultiExitDistiller` (`multi_exit.py`, MSD / BYOT); generations of one
  architecture (`generations.py`): `born_again` (BAN, BANE),
  `sequential_feed` (sFEED), `teacher_free_self` (Tf-KD_self);
- adversarial: `KSANCDistiller` (`ksanc.py`, a logit discriminator and
  squeezed-knowledge attention descriptors);
- a codebook of teacher features: `QuESTDistiller` (`quest.py`);
- dense prediction with a WGAN-GP critic on the maps: `HolisticDistiller`
  (`holistic.py`).

By name: `keras_kd.methods.get("multi_teacher")`, `available()`.
"""

from keras_kd.methods.afd import AFDDistiller
from keras_kd.methods.chain import distill_chain
from keras_kd.methods.dakd import DAKDDistiller
from keras_kd.methods.dakd_stages import DAKDResult
from keras_kd.methods.dakd_stages import dakd
from keras_kd.methods.dakd_stages import fine_tune_teacher
from keras_kd.methods.ensemble_teacher import MixtureLogits
from keras_kd.methods.ensemble_teacher import ensemble_teacher
from keras_kd.methods.exits import add_exits
from keras_kd.methods.exits import exit_model
from keras_kd.methods.generations import GenerationsResult
from keras_kd.methods.generations import born_again
from keras_kd.methods.generations import sequential_feed
from keras_kd.methods.generations import teacher_free_self
from keras_kd.methods.function_matching import function_matching
from keras_kd.methods.holistic import HolisticDistiller
from keras_kd.methods.ksanc import KSANCDistiller
from keras_kd.methods.multi_teacher import FromTeacher
from keras_kd.methods.multi_teacher import MultiTeacherDistiller
from keras_kd.methods.multi_teacher import TeacherEnsemble
from keras_kd.methods.multi_exit import MultiExitDistiller
from keras_kd.methods.mutual import MutualDistiller
from keras_kd.methods.okddip import OKDDipDistiller
from keras_kd.methods.peers import PeerGroup
from keras_kd.methods.quest import QuESTDistiller
from keras_kd.methods.noisy_collaboration import NoisyCollaborationDistiller
from keras_kd.methods.registry import available
from keras_kd.methods.registry import get
