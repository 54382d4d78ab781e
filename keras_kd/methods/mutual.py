"""Deep mutual learning: peers trained together from scratch, each teaching the others.

For K >= 2 peers with logits z_k and p_k^T = softmax(z_k / T), peer k minimizes

    L_k = CE(y, p_k) + lambda * T^2 * c_K * sum_{l != k} KL(sg(p_l^T) || p_k^T)

with c_K = 1 / (K - 1) (`mode="paper"`: the mean over the other peers) or
c_K = 1 (`mode="code"`: the authors' TensorFlow code sums; the same for
K = 2), and sg a stop-gradient: peer l's prediction is a constant in peer
k's loss, so no gradient crosses peers through the targets. The step
minimizes sum_k L_k with one optimizer in one update from one forward pass
per peer, as the authors' code does (their paper's Algorithm 1 updates the
peers one after the other instead). T = 1 and lambda = 1 are the paper's.

Built on the Distiller's hook with `teacher=None`: the student is a
`PeerGroup`, so the peers save and restore together, and each is a plain
Keras model that can be saved or exported alone.
"""

import keras
from keras import ops

from keras_kd import serialization
from keras_kd import validation
from keras_kd.distiller import Distiller
from keras_kd.losses import KD
from keras_kd.methods import peers as peer_utils
from keras_kd.methods import registry
from keras_kd.step import StepResult

OWNER = "MutualDistiller"
MODES = ("paper", "code")


@keras.saving.register_keras_serializable(package="keras_kd")
@registry.register("dml")
class MutualDistiller(Distiller):
    """Deep mutual learning (DML): K peers, each learning from the labels and the others.

    Logs, per peer k, `peer_k/ce`, `peer_k/kl` and `peer_k/accuracy`;
    `student_loss` and `distillation_loss` are the means over the peers.
    The compiled metrics are those of `predict_with`'s prediction.

    Args:
        models: K >= 2 logits `keras.Model`s, freshly built (any mix of
            architectures predicting the same classes).
        name: defaults to `"mutual_distiller"`.
        predict_with: the peer whose logits `predict`, `call` and the
            compiled metrics use, or `"ensemble"` (log of the peers' mean
            probabilities). Defaults to 0.
        temperature: T > 0 of the mimicry KL. Defaults to 1.0 (the paper's).
        distillation_weight: lambda >= 0. Defaults to 1.0.
        mode: `"paper"` (mean over the other peers) or `"code"` (sum).
            Defaults to `"paper"`.
        views: a `keras_kd.augment.Views`; every peer sees the student view.
            Defaults to `None`.

    Reference:
        Zhang, Xiang, Hospedales and Lu, "Deep Mutual Learning", CVPR 2018.

    Example:

    ```python
    dml = MutualDistiller([zoo.student_cnn(), zoo.student_cnn()])
    dml.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    dml.fit(x_train, y_train, epochs=10)
    dml.peers[1].save("peer_1.keras")
    ```
    """

    def __init__(
        self, models, *, name="mutual_distiller", predict_with=0, temperature=1.0, distillation_weight=1.0,
        mode="paper", views=None,
    ):  # fmt: skip
        models = peer_utils.check_peers(models, owner=OWNER)
        self.temperature = validation.check_positive_number("temperature", temperature, owner=OWNER)
        self.distillation_weight = validation.check_non_negative_number(
            "distillation_weight", distillation_weight, owner=OWNER
        )
        self.mode = validation.check_one_of("mode", mode, MODES, owner=OWNER)
        group = peer_utils.PeerGroup(models, predict_with=predict_with, name="peers")
        super().__init__(None, group, student_loss_weight=1.0, name=name, views=views)
        self.__dict__["_mimicry"] = KD(self.temperature)
        self.track_measurements(peer_utils.peer_measurement_names(len(models), ("kl",)))

    @property
    def peers(self):
        """The peer models, in order."""
        return self.student.peers

    def compute_distillation(self, batch, teacher, training):
        del teacher  # none: the peers teach each other
        logits = [peer(batch.x_student, training=training) for peer in self.peers]
        ce, measurements = peer_utils.peer_losses(self, batch, logits)
        count = len(logits)
        scale = 1.0 / (count - 1) if self.mode == "paper" else 1.0
        kls = []
        for k in range(count):
            others = [
                self._mimicry.compute_loss(ops.stop_gradient(logits[l]), logits[k], sample_weight=batch.sample_weight)
                for l in range(count) if l != k
            ]  # fmt: skip
            kls.append(scale * sum(others))
            measurements[f"peer_{k}/kl"] = kls[k]
        total = sum(c + self.distillation_weight * kl for c, kl in zip(ce, kls)) + self.regularization_loss()
        measurements["student_loss"] = sum(ce) / count
        measurements["distillation_loss"] = sum(kls) / count
        return StepResult(total, measurements, self.student.select(logits))

    def get_config(self):
        config = {key: value for key, value in self.base_config().items() if key not in ("teacher", "student", "paired_inputs")}
        return {
            **config,
            "models": [keras.saving.serialize_keras_object(p) for p in self.peers],
            "predict_with": self.student.predict_with,
            "temperature": self.temperature,
            "distillation_weight": self.distillation_weight,
            "mode": self.mode,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**serialization.deserialize_fields(config, objects=("views",), lists=("models",)))
