"""keras_kd: knowledge distillation and compression for Keras 3.

The public API is what this module re-exports.
"""

from keras_kd import augment
from keras_kd import compress
from keras_kd import connectors
from keras_kd import datasets
from keras_kd import export
from keras_kd import losses
from keras_kd import methods
from keras_kd import schedules
from keras_kd import step
from keras_kd import teacher_cache
from keras_kd import taps
from keras_kd import zoo
from keras_kd.backend.tensorflow import NonFiniteLossError
from keras_kd.distiller import Distiller

__version__ = "0.1.0"
