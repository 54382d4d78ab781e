"""Export students to TFLite/LiteRT and check them: accuracy, size, latency."""

from keras_kd.export.device import MICRO_BUILTINS
from keras_kd.export.device import device_report
from keras_kd.export.litert import benchmark_tflite
from keras_kd.export.litert import evaluate_tflite
from keras_kd.export.litert import predict_tflite
from keras_kd.export.litert import tensor_dtypes
from keras_kd.export.report import export_report
from keras_kd.export.modes import MODES
from keras_kd.export.modes import modes_table
from keras_kd.export.tflite import QUANTIZATION_MODES
from keras_kd.export.tflite import to_tflite
