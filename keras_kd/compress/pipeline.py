"""One compression pipeline: channel pruning -> magnitude pruning -> QAT -> int8.

`compress_student(student, teacher, data, config)` runs the stages that
`CompressConfig` turns on, each followed by a fine-tune of
`epochs_per_stage` epochs in a `keras_kd.Distiller` (the teacher guiding,
`guided=True`) or on the labels alone (`guided=False`), and measures every
stage: Keras test accuracy, parameters, MACs; and for the final model its
int8 LiteRT file (size, gzip size, interpreter accuracy and latency), next
to post-training int8 quantization of the float model for comparison.

    float -> [prune channels + recover] -> [magnitude prune + fine-tune, strip]
          -> [QAT fine-tune, zeros kept] -> int8 (QAT ranges, no data)
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_kd import profiling
from keras_kd import validation
from keras_kd.compress.channel_pruning import prune_channels
from keras_kd.compress.pruning import PreserveSparsity
from keras_kd.compress.pruning import UpdatePruningStep
from keras_kd.compress.pruning import prune_low_magnitude
from keras_kd.compress.pruning import strip_pruning
from keras_kd.compress.pruning_schedule import PolynomialDecay
from keras_kd.compress.quantize import quantize_model
from keras_kd.compress.sparsity import gzipped_size
from keras_kd.compress.sparsity import model_sparsity
from keras_kd.distiller import Distiller
from keras_kd.export import litert
from keras_kd.export.tflite import to_tflite
from keras_kd.losses import KD

OWNER = "CompressConfig"


@dataclasses.dataclass(frozen=True)
class CompressConfig:
    """The pipeline's stages and fine-tuning budget.

    Args:
        channel_fraction: fraction of channels removed per prunable layer
            (0: no channel pruning). Defaults to 0.0.
        sparsity: final magnitude sparsity, reached along a cubic
            `PolynomialDecay` over the stage (0: none). Defaults to 0.0.
        qat: run quantization-aware training before int8. Defaults to `True`.
        epochs_per_stage: fine-tuning epochs after each stage. Defaults to 2.
        learning_rate: Adam's learning rate for fine-tuning (cosine decay).
            Defaults to 5e-4.
        guided: distill from the teacher while fine-tuning (else labels
            only). Defaults to `True`.
        temperature: KD temperature. Defaults to 4.0.
        student_loss_weight: the labels' weight when guided. Defaults to 0.5.
        batch_size: defaults to 128.
        seed: defaults to 0.
        threads: interpreter threads for latency. Defaults to 1.
    """

    channel_fraction: float = 0.0
    sparsity: float = 0.0
    qat: bool = True
    epochs_per_stage: int = 2
    learning_rate: float = 5e-4
    guided: bool = True
    temperature: float = 4.0
    student_loss_weight: float = 0.5
    batch_size: int = 128
    seed: int = 0
    threads: int = 1

    def __post_init__(self):
        for name in ("channel_fraction", "sparsity"):
            value = validation.check_non_negative_number(name, getattr(self, name), owner=OWNER)
            if value >= 1:
                raise ValueError(f"{OWNER}: `{name}` is a fraction in [0, 1). Received: {name}={value}.")
        validation.check_bool("qat", self.qat, owner=OWNER)
        validation.check_bool("guided", self.guided, owner=OWNER)
        for name in ("epochs_per_stage", "batch_size", "threads"):
            validation.check_positive_int(name, getattr(self, name), owner=OWNER)
        validation.check_positive_number("learning_rate", self.learning_rate, owner=OWNER)
        validation.check_positive_number("temperature", self.temperature, owner=OWNER)
        validation.check_unit_interval("student_loss_weight", self.student_loss_weight, owner=OWNER)


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, batch_size=512, verbose=0), -1) == np.asarray(y)))


def _fine_tune(model, teacher, data, config, callbacks=()):
    (x_train, y_train), validation_data, _ = data
    steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs_per_stage
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    trainer = model
    if config.guided:
        trainer = Distiller(teacher, model, KD(config.temperature), student_loss_weight=config.student_loss_weight)
    trainer.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    start = time.perf_counter()
    trainer.fit(
        x_train, y_train, batch_size=config.batch_size, epochs=config.epochs_per_stage,
        validation_data=validation_data, callbacks=list(callbacks), verbose=0,
    )  # fmt: skip
    return time.perf_counter() - start


def _measure(stage, model, data, seconds=None):
    _, _, (x_test, y_test) = data
    cost = profiling.summarize(model)
    return {
        "stage": stage, "keras_accuracy": _accuracy(model, x_test, y_test), "params": cost["params"],
        "macs": cost["macs"], "sparsity": model_sparsity(model)["total"], "train_seconds": seconds,
    }  # fmt: skip


def _int8_row(stage, model, data, out_dir, config, representative_data=None):
    _, _, (x_test, y_test) = data
    path = os.path.join(out_dir, f"{stage}.tflite")
    to_tflite(model, path, quantization="int8", representative_data=representative_data)
    timing = litert.benchmark_tflite(path, threads=config.threads, sample=x_test[0])
    return {
        "stage": stage, "path": path, "int8_accuracy": litert.evaluate_tflite(path, x_test, y_test),
        "size_kb": timing["size_kb"], "gzip_kb": gzipped_size(path) / 1024, "median_ms": timing["median_ms"],
    }  # fmt: skip


def compress_student(student, teacher, data, config, out_dir):
    """Runs the pipeline; returns `{"stages": [...], "int8": [...], "model": final Keras model}`.

    Args:
        student: the trained float student (left unchanged).
        teacher: the trained teacher (used when `config.guided`).
        data: `((x_train, y_train), (x_val, y_val), (x_test, y_test))`.
        config: a `CompressConfig`.
        out_dir: where the `.tflite` files go (created; must not hold them).
    """
    os.makedirs(out_dir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    (x_train, _), _, _ = data
    stages = [_measure("float", student, data)]
    int8 = [_int8_row("ptq_int8", student, data, out_dir, config, representative_data=x_train[:500])]
    model = student
    if config.channel_fraction:
        model, _ = prune_channels(model, config.channel_fraction)
        stages.append(_measure("channels_pruned", model, data))
        stages.append(_measure("channels_recovered", model, data, _fine_tune(model, teacher, data, config)))
    if config.sparsity:
        steps = int(np.ceil(len(x_train) / config.batch_size)) * config.epochs_per_stage
        schedule = PolynomialDecay(0.0, config.sparsity, begin_step=0, end_step=max(1, int(0.7 * steps)), frequency=max(1, steps // 50))
        pruned = prune_low_magnitude(model, pruning_schedule=schedule)
        seconds = _fine_tune(pruned, teacher, data, config, [UpdatePruningStep()])
        model = strip_pruning(pruned)
        stages.append(_measure("magnitude_pruned", model, data, seconds))
    if config.qat:
        model = quantize_model(model)
        seconds = _fine_tune(model, teacher, data, config, [PreserveSparsity()])
        stages.append(_measure("qat", model, data, seconds))
        int8.append(_int8_row("qat_int8", model, data, out_dir, config))
    else:
        int8.append(_int8_row("final_ptq_int8", model, data, out_dir, config, representative_data=x_train[:500]))
    return {"stages": stages, "int8": int8, "model": model}
