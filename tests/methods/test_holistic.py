import keras
import numpy as np
import pytest

from keras_kd import losses
from keras_kd.methods import HolisticDistiller
from keras_kd.methods import holistic
from tests import reference


def _segmenter(width, name):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, name="scores")(x), name=name)


def _data(n=16):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, 8, 8, 1)).astype("float32")
    return x, (x[..., 0] > 0.5).astype("int64") + (x[..., 0] > 0.8)


def _linear_critic(channels):
    critic = keras.Sequential([keras.Input((8, 8, channels)), keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False)])
    critic.layers[-1].kernel.assign(np.random.default_rng(1).normal(size=(64 * channels, 1)).astype("float32") * 0.05)
    return critic


def test_the_gradient_penalty_matches_the_closed_form_of_a_linear_critic():
    critic = _linear_critic(3)
    rng = np.random.default_rng(0)
    real, fake = (rng.uniform(size=(4, 8, 8, 3)).astype("float32") for _ in range(2))
    got = holistic.gradient_penalty(critic, real, fake, np.full(4, 0.3, "float32"))
    norm = np.linalg.norm(critic.layers[-1].kernel.numpy())  # grad of a linear critic = its weights, everywhere
    np.testing.assert_allclose(float(got), (norm - 1.0) ** 2, rtol=1e-5)


def test_the_adversarial_terms_match_numpy(sparse_ce):
    x, y = _data()
    teacher, student = _segmenter(8, "teacher"), _segmenter(4, "student")
    critic = _linear_critic(4)  # image + 3 classes
    distiller = HolisticDistiller(teacher, student, losses.PixelwiseKD(), critic_model=critic, student_loss_weight=0.5, adversarial_weight=0.1)
    distiller.compile(loss=sparse_ce)
    got = distiller.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    w = critic.layers[-1].kernel.numpy()[:, 0]

    def score(maps):
        q = np.concatenate([x, reference.softmax(maps)], axis=-1)
        return q.reshape(len(x), -1) @ w

    t, s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    np.testing.assert_allclose(got["distill/holistic"], -score(s).mean(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["critic/wasserstein"], score(t).mean() - score(s).mean(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["critic/gradient_penalty"], (np.linalg.norm(w) - 1) ** 2, rtol=1e-4)
    pixel = reference.kd_per_sample(t.reshape(-1, 3), s.reshape(-1, 3), 1.0).mean()
    ce = reference.sparse_ce_per_sample(y.reshape(-1), s.reshape(-1, 3)).mean()
    np.testing.assert_allclose(got["loss"], 0.5 * ce + 0.5 * pixel + 0.1 * -score(s).mean(), rtol=1e-4)


@pytest.mark.parametrize("frozen", ["critic", "student"])
def test_each_optimizer_updates_only_its_own_variables(sparse_ce, frozen):
    x, y = _data()
    teacher, student = _segmenter(8, "teacher"), _segmenter(4, "student")
    # No spectral normalization here: it rewrites its kernel in every training call.
    critic = keras.Sequential([
        keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1),
    ])  # fmt: skip
    distiller = HolisticDistiller(
        teacher, student, critic_model=critic, critic_optimizer=keras.optimizers.SGD(0.0 if frozen == "critic" else 0.1), seed=0
    )  # fmt: skip
    distiller.compile(optimizer=keras.optimizers.SGD(0.0 if frozen == "student" else 0.1), loss=sparse_ce)
    models = {"critic": critic, "student": student, "teacher": teacher}
    before = {name: [w.copy() for w in m.get_weights()] for name, m in models.items()}
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    moved = {
        name: any(not np.array_equal(b, a) for b, a in zip(before[name], m.get_weights())) for name, m in models.items()
    }  # fmt: skip
    assert moved == {"teacher": False, "student": frozen != "student", "critic": frozen != "critic"}


def test_the_critic_saves_with_the_distiller_and_never_with_the_student(sparse_ce, tmp_path):
    x, y = _data()
    teacher, student = _segmenter(8, "teacher"), _segmenter(4, "student")
    distiller = HolisticDistiller(teacher, student, critic_model=holistic.critic(4, widths=(8, 8)), seed=0)
    distiller.compile(loss=sparse_ce)
    distiller.fit(x, y, epochs=1, verbose=0)
    distiller.save(tmp_path / "holistic.keras")
    restored = keras.models.load_model(tmp_path / "holistic.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    assert student.count_params() == _segmenter(4, "plain").count_params()
    with pytest.raises(ValueError, match="score maps"):
        HolisticDistiller(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))


class _StopAfterEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise RuntimeError("interrupted")


def test_backup_and_restore_brings_back_the_critic_and_its_optimizer(sparse_ce, tmp_path):
    x, y = _data(32)

    def fit(callbacks):
        keras.utils.set_random_seed(0)
        teacher, student = _segmenter(8, "teacher"), _segmenter(4, "student")
        critic = keras.Sequential([
            keras.Input((8, 8, 4)), keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1),
        ])  # fmt: skip
        # No gradient penalty: its random mixing draws restart on resume (Keras does not save a
        # SeedGenerator's state), so only without them can the resumed run equal the straight one.
        distiller = HolisticDistiller(teacher, student, critic_model=critic, critic_optimizer=keras.optimizers.Adam(1e-2),
                                      gradient_penalty_weight=0.0, seed=0)  # fmt: skip
        distiller.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce)
        history = distiller.fit(x, y, epochs=3, batch_size=8, shuffle=False, callbacks=callbacks, verbose=0)
        return distiller, history

    straight, _ = fit([])
    with pytest.raises(RuntimeError, match="interrupted"):
        fit([keras.callbacks.BackupAndRestore(str(tmp_path / "backup")), _StopAfterEpoch()])
    resumed, history = fit([keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    assert len(history.history["loss"]) == 2
    assert int(resumed.critic_optimizer.iterations) == int(straight.critic_optimizer.iterations) == 12
    for model in ("student", "critic"):
        for got, want in zip(getattr(resumed, model).get_weights(), getattr(straight, model).get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=model)
