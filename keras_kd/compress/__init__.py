"""Compression for Keras 3, guided by the teacher: magnitude pruning (more to come).

tfmot's names and arguments, so Keras 2 code migrates by changing the
import: `prune_low_magnitude`, `ConstantSparsity`, `PolynomialDecay`,
`UpdatePruningStep`, `strip_pruning`. A pruned student trains in a
`keras_kd.Distiller` like any student (pass `UpdatePruningStep()` to `fit`).
"""

from keras_kd.compress.pruning import PruneLowMagnitude
from keras_kd.compress.pruning import UpdatePruningStep
from keras_kd.compress.pruning import prune_low_magnitude
from keras_kd.compress.pruning import pruned_layers
from keras_kd.compress.pruning import strip_pruning
from keras_kd.compress.pruning_schedule import ConstantSparsity
from keras_kd.compress.pruning_schedule import PolynomialDecay
from keras_kd.compress.pruning_schedule import PruningSchedule
from keras_kd.compress.sparsity import gzipped_size
from keras_kd.compress.sparsity import model_sparsity
