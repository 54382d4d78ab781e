import keras
import numpy as np
import pytest

from keras_kd.methods import KSANCDistiller
from keras_kd.methods import ksanc
from tests import models
from tests import reference


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), np.arange(n) % 5


def _bce(logits, target):
    p = 1.0 / (1.0 + np.exp(-logits))
    return -(target * np.log(p) + (1 - target) * np.log(1 - p)).mean()


def _squeezed(features, g, estimator):
    """Jetley et al.'s estimator in numpy: softmax_u <u, F_u + A g>, then the weighted sum of F."""
    a_matrix, u = estimator.project_global.kernel.numpy(), estimator.compatibility.numpy()
    scores = ((features + (g @ a_matrix)[:, None, None, :]) * u).sum(-1).reshape(len(features), -1)
    attention = reference.softmax(scores)
    return (attention[..., None] * features.reshape(len(features), -1, features.shape[-1])).sum(1)


def test_the_squeezed_descriptor_is_an_attention_weighted_mean_of_the_positions():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(3, 4, 4, 6)).astype("float32")
    scores = rng.normal(size=(3, 4, 4)).astype("float32")
    got = np.asarray(ksanc.squeezed_descriptor(features, scores))
    weights = reference.softmax(scores.reshape(3, -1))
    np.testing.assert_allclose(got, np.einsum("np,npc->nc", weights, features.reshape(3, 16, 6)), rtol=1e-5, atol=1e-6)
    flat = features.reshape(3, 16, 6)  # a convex combination: inside each channel's range
    assert np.all(got >= flat.min(1) - 1e-6) and np.all(got <= flat.max(1) + 1e-6)
    uniform = np.asarray(ksanc.squeezed_descriptor(features, np.zeros((3, 4, 4), "float32")))
    np.testing.assert_allclose(uniform, flat.mean(1), rtol=1e-5, atol=1e-6)


def test_every_term_matches_numpy(sparse_ce):
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    distiller = KSANCDistiller(
        teacher, student, [("conv1", "conv1"), ("conv2", "conv2")], student_loss_weight=0.5,
        adversarial_weight=0.3, backbone_weight=0.2, squeezed_weight=0.7, l1=1e-3, l2=1e-2, adversarial_dropout=0.0,
    )  # fmt: skip
    distiller.compile(loss=sparse_ce)
    x, y = _data()
    got = distiller.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)

    z_t, z_s = teacher.predict(x, verbose=0), student.predict(x, verbose=0)
    backbone = ((z_t - z_s) ** 2).sum(-1).mean()
    squeezed, attention_ce = 0.0, 0.0
    for i, layer in enumerate(["conv1", "conv2"]):
        f_t = keras.Model(teacher.inputs, teacher.get_layer(layer).output).predict(x, verbose=0)
        f_s = keras.Model(student.inputs, student.get_layer(layer).output).predict(x, verbose=0)
        skd_t = _squeezed(f_t, z_t, distiller.teacher_estimators[i])
        skd_s = _squeezed(f_s, z_s, distiller.student_estimators[i])
        projection, head = distiller.projections[i], distiller.teacher_heads[i]
        projected = skd_s @ projection.kernel.numpy() + projection.bias.numpy()
        squeezed += ((skd_t - projected) ** 2).sum(-1).mean()
        attention_ce += reference.sparse_ce_per_sample(y, skd_t @ head.kernel.numpy() + head.bias.numpy()).mean()
    d_t, d_s = distiller.discriminator.predict(z_t, verbose=0), distiller.discriminator.predict(z_s, verbose=0)
    adversarial = _bce(d_s[:, 0], 1.0) + reference.sparse_ce_per_sample(y, d_s[:, 1:]).mean()
    weights = distiller.discriminator.get_weights()
    regularization = sum(1e-3 * np.abs(w).sum() + 1e-2 * (w**2).sum() for w in weights) + _bce(d_s[:, 0], 1.0)
    d_loss = (
        _bce(d_t[:, 0], 1.0) + _bce(d_s[:, 0], 0.0) + reference.sparse_ce_per_sample(y, d_t[:, 1:]).mean()
        + reference.sparse_ce_per_sample(y, d_s[:, 1:]).mean() + regularization
    )  # fmt: skip
    np.testing.assert_allclose(got["ksanc/backbone"], backbone, rtol=1e-5)
    np.testing.assert_allclose(got["ksanc/squeezed"], squeezed, rtol=1e-5)
    np.testing.assert_allclose(got["ksanc/teacher_attention_ce"], attention_ce, rtol=1e-5)
    np.testing.assert_allclose(got["ksanc/adversarial"], adversarial, rtol=1e-5)
    np.testing.assert_allclose(got["discriminator/regularization"], regularization, rtol=1e-5)
    np.testing.assert_allclose(got["discriminator/loss"], d_loss, rtol=1e-5)
    ce = reference.sparse_ce_per_sample(y, z_s).mean()
    want = 0.5 * ce + 0.3 * adversarial + 0.2 * backbone + 0.7 * squeezed + attention_ce
    np.testing.assert_allclose(got["loss"], want, rtol=1e-5)


def test_l_b_is_zero_for_a_student_that_copies_the_teacher(sparse_ce):
    teacher = models.cnn(4, "teacher")
    student = keras.models.clone_model(teacher)
    student.set_weights(teacher.get_weights())
    distiller = KSANCDistiller(teacher, student, [("conv2", "conv2")])
    distiller.compile()
    got = distiller.evaluate(*_data(), return_dict=True, verbose=0)
    assert got["ksanc/backbone"] == 0.0


@pytest.mark.parametrize("frozen", ["discriminator", "student"])
def test_each_optimizer_updates_only_its_own_variables(sparse_ce, frozen):
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    distiller = KSANCDistiller(
        teacher, student, [("conv2", "conv2")], seed=0,
        discriminator_optimizer=keras.optimizers.SGD(0.0 if frozen == "discriminator" else 0.1),
    )  # fmt: skip
    distiller.compile(optimizer=keras.optimizers.SGD(0.0 if frozen == "student" else 0.1))
    parts = {
        "teacher": teacher, "student": student, "discriminator": distiller.discriminator,
        "student_attention": distiller.student_estimators[0], "teacher_attention": distiller.teacher_estimators[0],
    }  # fmt: skip
    before = {name: [w.copy() for w in part.get_weights()] for name, part in parts.items()}
    distiller.fit(*_data(), epochs=1, batch_size=8, verbose=0)
    moved = {name: any(not np.array_equal(b, a) for b, a in zip(before[name], p.get_weights())) for name, p in parts.items()}
    main_moves = frozen != "student"
    assert moved == {
        "teacher": False, "student": main_moves, "discriminator": frozen != "discriminator",
        "student_attention": main_moves, "teacher_attention": main_moves,
    }  # fmt: skip


def test_the_helpers_save_with_the_distiller_and_never_with_the_student(sparse_ce, tmp_path):
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    distiller = KSANCDistiller(teacher, student, [("conv1", "conv1"), ("conv2", "conv2")], seed=0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = _data()
    distiller.fit(x, y, epochs=1, batch_size=8, verbose=0)
    distiller.save(tmp_path / "ksanc.keras")
    restored = keras.models.load_model(tmp_path / "ksanc.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6)
    for a, b in zip(restored.discriminator.get_weights(), distiller.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.projections[1].kernel.numpy(), distiller.projections[1].kernel.numpy())
    assert student.count_params() == models.cnn(4, "plain").count_params()


def test_bad_stages_and_rates_are_refused_before_training():
    teacher, student = models.cnn(8, "teacher"), models.cnn(4, "student")
    with pytest.raises(ValueError, match="non-empty list of \\(teacher_layer, student_layer\\) pairs"):
        KSANCDistiller(teacher, student, [])
    with pytest.raises(ValueError, match="feature maps"):
        KSANCDistiller(teacher, student, [("embed", "conv2")])
    with pytest.raises(ValueError, match="dropout rate in \\[0, 1\\)"):
        KSANCDistiller(teacher, student, [("conv2", "conv2")], adversarial_dropout=1.0)
