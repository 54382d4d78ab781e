"""The Distiller's per-term loss trackers, grouped as one metric.

They form a Keras `MetricsList`, the container Keras's monitor callbacks
(`EarlyStopping`, `ModelCheckpoint`, `ReduceLROnPlateau`) search to infer
whether a metric goes up or down. Grouped there and marked "down", the
trackers let `monitor="val_distillation_loss"` work without `mode="min"`,
as `monitor="val_loss"` does.
"""

import keras

try:  # Keras's container; private, so fall back to a plain Metric.
    from keras.src.trainers.compile_utils import MetricsList as _Base
except ImportError:  # pragma: no cover - depends on the Keras version
    _Base = None


def _loss_mean(name):
    tracker = keras.metrics.Mean(name=name)
    tracker._direction = "down"  # read by Keras's monitor callbacks
    return tracker


class LossTrackers(_Base or keras.metrics.Metric):
    """Batch-size-weighted means of named loss values, reset each epoch."""

    def __init__(self, names, name="distillation_loss_trackers"):
        trackers = [_loss_mean(n) for n in names]
        if _Base is not None:
            super().__init__(trackers, name=name)
        else:  # pragma: no cover
            super().__init__(name=name)
            self.metrics = trackers
        self._hidden = ()

    def add(self, names):
        """Adds a tracker per new name (before the first `fit` or `evaluate`)."""
        for name in names:
            if name not in [m.name for m in self.metrics]:
                self.metrics.append(_loss_mean(name))

    def tracker(self, name):
        """The `keras.metrics.Mean` named `name`."""
        for tracker in self.metrics:
            if tracker.name == name:
                return tracker
        raise KeyError(f"No loss tracker named {name!r}. Trackers: {[m.name for m in self.metrics]}.")

    def set_hidden(self, names):
        """Names left out of the results (e.g. no student loss compiled)."""
        self._hidden = tuple(names)

    def update(self, values, batch_size):
        """Updates the trackers named in `values` (other names are ignored)."""
        for tracker in self.metrics:
            if tracker.name in values:
                tracker.update_state(values[tracker.name], sample_weight=batch_size)

    def update_state(self, *args, **kwargs):
        # MetricsList would feed (y_true, y_pred) to every Mean: refuse that.
        raise TypeError(
            "LossTrackers hold loss values, not predictions: the Distiller "
            "updates them with update({name: value}, batch_size)."
        )

    def reset_state(self):
        for tracker in self.metrics:
            tracker.reset_state()

    def result(self):
        return {m.name: m.result() for m in self.metrics if m.name not in self._hidden}

    get_result = result

    def get_config(self):
        return {"name": self.name}
