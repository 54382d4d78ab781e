import keras
import numpy as np
import pytest

from keras_kd import export
from keras_kd import profiling
from keras_kd.export import litert
from keras_kd.methods import MultiExitDistiller
from keras_kd.methods import add_exits
from keras_kd.methods import exit_model
from tests import models
from tests import reference


def _images(n=64, seed=0):
    return models.quadrant_images(n, 8, background=0.3, bright=1.0, seed=seed)


def test_add_exits_keeps_the_models_output_and_weights():
    backbone = models.cnn(4, "backbone")
    x, _ = _images(16)
    before = backbone.predict(x, verbose=0)
    network = add_exits(backbone, at=["conv1", "pool"])
    outputs = network.predict(x, verbose=0)
    assert len(outputs) == 3 and all(o.shape == (16, 5) for o in outputs)
    np.testing.assert_array_equal(outputs[-1], before)
    np.testing.assert_array_equal(backbone.predict(x, verbose=0), before)
    assert network.get_layer("conv1") is backbone.get_layer("conv1")  # shared, not copied
    assert network.get_layer("exit1_features").output.shape[-1] == 16  # the deepest feature's size


def test_an_exit_model_holds_only_what_its_exit_needs():
    network = add_exits(models.cnn(4, "backbone"), at=["pool"])
    early, full = exit_model(network, 0), exit_model(network, -1)
    assert "conv2" not in [layer.name for layer in early.layers]
    assert profiling.count_macs(early) < profiling.count_macs(full)
    x, _ = _images(4)
    np.testing.assert_array_equal(early.predict(x, verbose=0), network.predict(x, verbose=0)[0])
    with pytest.raises(ValueError, match="index"):
        exit_model(network, 2)


def _numpy_loss(network, x, y, mode, alpha, beta, temperature):
    features = ["exit1_features", "exit2_features", "embed"]
    probe = keras.Model(network.inputs, list(network.outputs) + [network.get_layer(n).output for n in features])
    out = probe.predict(x, verbose=0)
    logits, feats = out[:3], out[3:]
    total, logged = 0.0, {}
    for n in range(3):
        ce = reference.sparse_ce_per_sample(y, logits[n]).mean()
        sources = ([2] if n < 2 else []) if mode == "byot" else [j for j in range(3) if j != n]
        kd = np.mean([reference.kl_per_sample(logits[j], logits[n], temperature).mean() for j in sources]) if sources else 0.0
        feature = ((feats[n] - feats[2]) ** 2).sum(-1).mean() if n < 2 else 0.0
        total += (1.0 if not sources else 1 - alpha) * ce + alpha * kd + beta * feature
        logged[n] = (ce, kd, feature)
    return total, logged


@pytest.mark.parametrize("mode", ["msd", "byot"])
def test_every_exits_terms_match_numpy(sparse_ce, mode):
    x, y = _images(32)
    network = add_exits(models.cnn(4, "backbone"), at=["conv1", "pool"])
    distiller = MultiExitDistiller(network, mode=mode, alpha=0.4, feature_weight=0.2, temperature=2.0)
    distiller.compile(loss=sparse_ce)
    got = distiller.evaluate(x, y, batch_size=len(x), return_dict=True, verbose=0)
    total, logged = _numpy_loss(network, x, y, mode, 0.4, 0.2, 2.0)
    for n, (ce, kd, feature) in logged.items():
        np.testing.assert_allclose(got[f"exit_{n}/ce"], ce, rtol=1e-5)
        np.testing.assert_allclose(got[f"exit_{n}/kd"], kd, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[f"exit_{n}/feature"], feature, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["loss"], total, rtol=1e-5)


def test_a_truncated_exit_exports_to_int8_and_agrees_with_keras(sparse_ce, tmp_path):
    x, y = _images(512)
    network = add_exits(models.cnn(8, "backbone"), at=["pool"])
    distiller = MultiExitDistiller(
        network, feature_weight=keras.optimizers.schedules.CosineDecay(0.03, 160), predict_exit=0
    )
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3), loss=sparse_ce, metrics=["accuracy"])
    logs = distiller.fit(x, y, epochs=5, batch_size=16, verbose=0).history
    assert logs["feature_weight"][-1] < logs["feature_weight"][0]  # annealed
    early = exit_model(network, 0)
    np.testing.assert_array_equal(distiller.predict(x[:8], verbose=0), early.predict(x[:8], verbose=0))
    path = tmp_path / "exit0_int8.tflite"
    export.to_tflite(early, str(path), quantization="int8", representative_data=x[:200])
    dtypes = litert.tensor_dtypes(str(path))
    assert set(dtypes["activations"]) == {"int8"} and set(dtypes["weights"]) <= {"int8", "int32"}, dtypes
    int8 = litert.predict_tflite(str(path), x)
    agreement = np.mean(int8.argmax(-1) == early.predict(x, verbose=0).argmax(-1))
    assert agreement >= 0.98, agreement


def test_the_distiller_saves_and_refuses_single_exit_models(sparse_ce, tmp_path):
    x, y = _images(16)
    network = add_exits(models.cnn(4, "backbone"), at=["pool"])
    distiller = MultiExitDistiller(network, feature_weight=keras.optimizers.schedules.CosineDecay(0.03, 10))
    distiller.compile(loss=sparse_ce)
    distiller.fit(x, y, epochs=1, verbose=0)
    distiller.save(tmp_path / "msd.keras")
    restored = keras.models.load_model(tmp_path / "msd.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="at least two exits"):
        MultiExitDistiller(models.cnn(4, "plain"))
    with pytest.raises(ValueError, match="Dense classifier"):
        add_exits(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Softmax()]), at=["dense"])
