"""`EpochClock`: each finished epoch's seconds and logs, kept on disk across interruptions.

The scripts import it after setting KERAS_BACKEND (it imports keras).
"""

import json
import os
import time

import keras


class EpochClock(keras.callbacks.Callback):
    """The seconds and logs of each finished epoch (validation included), kept in `path`.

    A run resumed by `keras.callbacks.BackupAndRestore` after epoch k only
    times the epochs after k, and its `History` holds only those; this
    clock reads the earlier epochs back from `path` (a JSON file rewritten
    atomically after each epoch), so `seconds` is the whole run's cost and
    `per_epoch("val_accuracy")` every epoch's value, however often the run
    was resumed. A run that starts at epoch 0 is a fresh one and starts the
    clock afresh.

    Put it before the `BackupAndRestore` in the callback list: if a run
    breaks after the clock wrote an epoch down and before the backup saved
    it, the resumed run runs that epoch again and its new entry replaces
    the old one.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.epochs = {}
        if os.path.exists(path):
            with open(path) as f:
                self.epochs = {int(epoch): entry for epoch, entry in json.load(f).items()}

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 0:
            self.epochs = {}
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.epochs[epoch] = {"seconds": seconds, **{key: float(value) for key, value in (logs or {}).items()}}
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.epochs, f)
        os.replace(self.path + ".tmp", self.path)

    def per_epoch(self, key):
        """`key`'s value at each finished epoch, in order (e.g. "seconds", "val_accuracy")."""
        return [self.epochs[epoch][key] for epoch in sorted(self.epochs)]

    @property
    def seconds(self):
        return sum(self.per_epoch("seconds"))
