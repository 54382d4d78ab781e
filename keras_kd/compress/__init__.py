"""Compression for Keras 3, guided by the teacher: QAT and magnitude pruning.

tfmot's names and arguments, so Keras 2 code migrates by changing the
import: `quantize_model` (quantization-aware training, `quantize.py`),
`prune_low_magnitude`, `ConstantSparsity`, `PolynomialDecay`,
`UpdatePruningStep`, `strip_pruning` (`pruning.py`). Beyond tfmot:
`prune_channels` removes whole filters (`channel_pruning.py`);
`compress_student` runs channel pruning -> magnitude pruning -> QAT ->
int8 with the teacher guiding each fine-tune (`pipeline.py`). A QAT or pruned
student trains in a `keras_kd.Distiller` like any student (pruning needs
`UpdatePruningStep()` in `fit`'s callbacks).
"""

from keras_kd.compress.channel_pruning import prunable_layers
from keras_kd.compress.channel_pruning import prune_channels
from keras_kd.compress.pipeline import CompressConfig
from keras_kd.compress.pipeline import compress_student
from keras_kd.compress.pruning import PreserveSparsity
from keras_kd.compress.pruning import PruneLowMagnitude
from keras_kd.compress.pruning import UpdatePruningStep
from keras_kd.compress.pruning import prune_low_magnitude
from keras_kd.compress.pruning import pruned_layers
from keras_kd.compress.pruning import strip_pruning
from keras_kd.compress.pruning_schedule import ConstantSparsity
from keras_kd.compress.pruning_schedule import PolynomialDecay
from keras_kd.compress.pruning_schedule import PruningSchedule
from keras_kd.compress.quantize import is_quantized
from keras_kd.compress.quantize import quantize_model
from keras_kd.compress.quantizers import ActivationQuantizer
from keras_kd.compress.quantizers import QuantizeWrapper
from keras_kd.compress.sparsity import gzipped_size
from keras_kd.compress.sparsity import model_sparsity
