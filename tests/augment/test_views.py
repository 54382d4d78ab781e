import keras
import numpy as np
import pytest

import keras_kd
from keras_kd import augment
from keras_kd.augment import presets
from tests import reference

SPARSE_CE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _images(n=8, size=12, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, size, size, 1)).astype("float32")


def test_consistent_views_are_identical_and_independent_views_differ():
    x = _images()
    consistent = augment.Views(shared=[keras.layers.RandomFlip("horizontal", seed=1),
                                       keras.layers.RandomTranslation(0.2, 0.2, seed=2)])
    x_t, x_s, _ = consistent(x, training=True)
    np.testing.assert_array_equal(np.asarray(x_t), np.asarray(x_s))
    assert not np.allclose(np.asarray(x_t), x)  # something happened
    independent = augment.Views(teacher=[keras.layers.RandomTranslation(0.2, 0.2, seed=3)],
                                student=[keras.layers.RandomTranslation(0.2, 0.2, seed=4)])
    x_t, x_s, _ = independent(x, training=True)
    assert not np.allclose(np.asarray(x_t), np.asarray(x_s))
    assert independent.independent and not consistent.independent


@pytest.mark.parametrize("preset", ["light", "standard", "function_matching", "dakd"])
def test_views_are_the_identity_at_evaluation(preset):
    x, y = _images(), np.arange(8) % 4
    views = presets.get(preset, num_classes=4)
    x_t, x_s, y_out = views(x, y, training=False)
    np.testing.assert_array_equal(np.asarray(x_t), x)
    np.testing.assert_array_equal(np.asarray(x_s), x)
    np.testing.assert_array_equal(np.asarray(y_out), y)


def test_mixup_with_a_fixed_transformation_gives_exact_tensors():
    x_t, x_s = _images(4, seed=1), _images(4, seed=2)
    y = np.array([0, 1, 2, 3])
    lam = np.array([0.7, 0.2, 0.5, 0.9], "float32")
    perm = np.array([2, 0, 3, 1])
    mixup = keras.layers.MixUp(alpha=0.2)
    out_t, out_s, y_soft, _ = augment.joint_mix(
        mixup, x_t, x_s, y, 4, transformation={"mix_weight": lam, "permutation_order": perm})
    w = lam[:, None, None, None]
    np.testing.assert_allclose(np.asarray(out_t), w * x_t + (1 - w) * x_t[perm], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out_s), w * x_s + (1 - w) * x_s[perm], rtol=1e-6)
    one_hot = np.eye(4)[y]
    np.testing.assert_allclose(np.asarray(y_soft), lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[perm], rtol=1e-6)


def test_cutmix_with_a_fixed_transformation_gives_exact_tensors():
    x_t, x_s = _images(3, size=6, seed=1), _images(3, size=6, seed=2)
    y = np.array([0, 1, 2])
    perm = np.array([1, 2, 0])
    masks = np.zeros((3, 6, 6, 1), bool)
    masks[:, 1:4, 2:5] = True  # 9 of 36 pixels from the partner
    lam = np.full(3, 1 - 9 / 36, "float32")
    cutmix = keras.layers.CutMix(factor=1.0)
    transformation = {"permutation_order": perm, "batch_masks": masks, "mix_weight": lam}
    out_t, out_s, y_soft, _ = augment.joint_mix(cutmix, x_t, x_s, y, 3, transformation=transformation)
    np.testing.assert_allclose(np.asarray(out_t), np.where(masks, x_t[perm], x_t))
    np.testing.assert_allclose(np.asarray(out_s), np.where(masks, x_s[perm], x_s))
    one_hot = np.eye(3)[y]
    np.testing.assert_allclose(np.asarray(y_soft), 0.75 * one_hot + 0.25 * one_hot[perm], rtol=1e-6)


def test_views_mix_both_sides_and_labels_with_one_draw():
    # Image i is filled with the value i: a mixed pixel reveals lambda and
    # the partner, which must agree with the mixed labels, on both sides.
    n = 6
    x = np.broadcast_to(np.arange(n, dtype="float32")[:, None, None, None], (n, 4, 4, 1)).copy()
    views = augment.Views(mix=keras.layers.MixUp(alpha=1.0, seed=5), num_classes=n)
    x_t, x_s, y_soft = (np.asarray(v) for v in views(x, np.arange(n), training=True))
    np.testing.assert_array_equal(x_t, x_s)
    for i in range(n):
        lam = y_soft[i, i]
        others = [c for c in range(n) if c != i and y_soft[i, c] > 1e-6]
        partner = others[0] if others else i
        assert len(others) <= 1
        np.testing.assert_allclose(x_t[i, 0, 0, 0], lam * i + (1 - lam) * partner, atol=1e-4)
        np.testing.assert_allclose(y_soft[i].sum(), 1.0, rtol=1e-6)


def test_same_seed_same_views_and_same_first_epoch_losses():
    def run():
        keras.utils.set_random_seed(11)
        teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        distiller = keras_kd.Distiller(teacher, student, views=presets.get("function_matching", seed=3))
        distiller.compile(optimizer=keras.optimizers.SGD(0.001), loss=SPARSE_CE)
        return distiller.fit(_images(32), np.arange(32) % 4, batch_size=8, epochs=1, shuffle=False, verbose=0).history

    first, second = run(), run()
    assert first == second and first["loss"][0] > 0


def test_distiller_with_mixup_and_sparse_loss_trains_and_evaluates():
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    views = augment.Views(shared=[keras.layers.RandomFlip("horizontal", seed=1)],
                          mix=keras.layers.CutMix(seed=2))
    distiller = keras_kd.Distiller(teacher, student, views=views)
    distiller.compile(optimizer="adam", loss=SPARSE_CE, metrics=["accuracy"])
    assert views.num_classes == 4
    x, y = _images(32), np.arange(32) % 4
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert np.isfinite(history["student_loss"]).all() and 0 <= history["accuracy"][-1] <= 1
    logs = distiller.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    # At evaluation the views are off: the loss is the plain sparse CE.
    s = student.predict(x, verbose=0)
    np.testing.assert_allclose(logs["student_loss"], reference.sparse_ce_per_sample(y, s).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["accuracy"], np.mean(np.argmax(s, -1) == y), rtol=1e-6)


def test_mixing_views_reject_a_non_cross_entropy_loss():
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    distiller = keras_kd.Distiller(teacher, student, views=augment.Views(mix=keras.layers.MixUp()))
    with pytest.raises(ValueError, match="need a cross-entropy student loss"):
        distiller.compile(optimizer="adam", loss="mse")


def test_xla_fallback_is_one_warning_not_a_crash():
    teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    views = presets.get("light")
    assert not views.supports_xla()
    distiller = keras_kd.Distiller(teacher, student, views=views)
    with pytest.warns(UserWarning, match="do not compile under XLA"):
        distiller.compile(optimizer="adam", loss=SPARSE_CE, jit_compile=True)
    assert not distiller.jit_compile
    distiller.fit(_images(16), np.arange(16) % 4, batch_size=8, verbose=0)


def test_every_preset_trains_one_step():
    for name in presets.PRESETS:
        keras.utils.set_random_seed(0)
        teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
        distiller = keras_kd.Distiller(teacher, student, views=presets.get(name))
        distiller.compile(optimizer="adam", loss=SPARSE_CE)
        logs = distiller.fit(_images(8), np.arange(8) % 4, batch_size=8, verbose=0).history
        assert np.isfinite(logs["loss"][0]), name
    with pytest.raises(ValueError, match="Unknown augmentation preset 'heavy'.*Available: none, fashion_shift.*fashion_\\* preset"):
        presets.get("heavy")


def test_the_presets_say_which_views_they_draw_and_keep_their_old_names():
    assert [n for n in presets.PRESETS if presets.is_independent(n)] == ["fashion_dakd", "dakd"]
    for alias, name in presets.ALIASES.items():
        old, new = presets.get(alias, seed=3), presets.get(name, seed=3)
        assert old.name == new.name == f"views_{name}"
        strip = lambda views: [{k: v for k, v in layer.get_config().items() if k != "name"} for layer in views.shared]  # noqa: E731
        assert strip(old) == strip(new)
    fashion = presets.get("fashion_mixup", seed=0)
    assert fashion.mix.alpha == 1.0  # ratio ~ Beta(1, 1) = U[0, 1]
    shift = fashion.shared[1]
    assert shift.height_factor == shift.width_factor == 0.07  # about 2 px of 28
    assert isinstance(presets.get("fashion_cutmix").mix, keras.layers.CutMix)
    assert any(isinstance(layer, augment.ImageGaussianNoise) for layer in presets.get("fashion_noise").shared)


def test_views_round_trip_through_config():
    views = presets.get("function_matching", seed=4, num_classes=10)
    restored = augment.Views.from_config(views.get_config())
    assert restored.get_config() == views.get_config()
    assert isinstance(restored.mix, keras.layers.MixUp) and len(restored.shared) == 2


# ------------------------------------------------------------ noise


def test_salt_and_pepper_replaces_about_rate_of_pixels_with_extremes():
    x = np.full((16, 32, 32, 1), 100.0, "float32")
    layer = augment.SaltAndPepper(0.1, seed=1)
    out = np.asarray(layer(x, training=True))
    changed = out != 100.0
    assert 0.08 < changed.mean() < 0.12
    assert set(np.unique(out[changed])) <= {0.0, 255.0}
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    again = np.asarray(augment.SaltAndPepper(0.1, seed=1)(x, training=True))
    np.testing.assert_array_equal(again, out)
    assert augment.SaltAndPepper.from_config(layer.get_config()).get_config() == layer.get_config()


def test_gaussian_noise_is_active_inside_views_and_clipped():
    x = _images(4)
    views = augment.Views(student=[augment.ImageGaussianNoise(20.0, seed=2)])
    x_t, x_s, _ = views(x, training=True)
    np.testing.assert_array_equal(np.asarray(x_t), x)
    noise = np.asarray(x_s) - x
    assert 10 < noise[(x > 60) & (x < 195)].std() < 30
    assert np.asarray(x_s).min() >= 0 and np.asarray(x_s).max() <= 255


def test_xla_support_is_reported_per_preset_and_xla_views_compile():
    support = presets.xla_support()
    assert support["none"] and not support["light"] and not support["randaugment"]
    assert not augment.Views(mix=keras.layers.MixUp()).supports_xla()
    assert not augment.Views(mix=keras.layers.CutMix()).supports_xla()
    views = augment.Views(shared=[keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomErasing(seed=2)],
                          student=[augment.SaltAndPepper(0.05, seed=3), augment.ImageGaussianNoise(4.0, seed=4)])
    assert views.supports_xla()
    teacher = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    student = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    distiller = keras_kd.Distiller(teacher, student, views=views)
    distiller.compile(optimizer="adam", loss=SPARSE_CE, jit_compile=True)
    assert distiller.jit_compile
    history = distiller.fit(_images(16), np.arange(16) % 4, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"][0])
