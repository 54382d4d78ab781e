"""Every term against numpy written from its paper, at tolerance 1e-5."""

import keras
import numpy as np
import pytest

from keras_kd import losses
from tests import reference

RNG = np.random.default_rng(42)
MAPS_T = RNG.normal(size=(4, 6, 5, 8)).astype("float32")
MAPS_S = RNG.normal(size=(4, 6, 5, 3)).astype("float32")
MAPS_S_SAME = RNG.normal(size=(4, 6, 5, 8)).astype("float32")
VEC_T = RNG.normal(size=(6, 12)).astype("float32")
VEC_S = RNG.normal(size=(6, 7)).astype("float32")
WEIGHTS = RNG.uniform(0, 2, size=4).astype("float32")
TOL = dict(rtol=1e-5, atol=1e-6)


def _value(term, t, s, **kwargs):
    return float(term.compute_loss(t, s, **kwargs))


def test_hint_matches_numpy_with_and_without_weights():
    term = losses.Hint("t", "s")
    np.testing.assert_allclose(_value(term, MAPS_T, MAPS_S_SAME), reference.hint(MAPS_T, MAPS_S_SAME).mean(), **TOL)
    np.testing.assert_allclose(
        _value(term, MAPS_T, MAPS_S_SAME, sample_weight=WEIGHTS),
        reference.weighted_mean(reference.hint(MAPS_T, MAPS_S_SAME), WEIGHTS), **TOL,
    )


@pytest.mark.parametrize("mode, ref", [("code", reference.at_code), ("paper", reference.at_paper)])
def test_attention_transfer_matches_numpy(mode, ref):
    term = losses.AttentionTransfer("t", "s", mode=mode)
    np.testing.assert_allclose(_value(term, MAPS_T, MAPS_S), ref(MAPS_T, MAPS_S).mean(), **TOL)


def test_attention_transfer_channels_first_equals_channels_last():
    first = losses.AttentionTransfer("t", "s", data_format="channels_first")
    last = losses.AttentionTransfer("t", "s")
    nchw = lambda x: np.transpose(x, (0, 3, 1, 2))  # noqa: E731
    np.testing.assert_allclose(_value(first, nchw(MAPS_T), nchw(MAPS_S)), _value(last, MAPS_T, MAPS_S), **TOL)


def test_cosine_matches_numpy():
    term = losses.CosineRepresentation("t", "s")
    s = RNG.normal(size=VEC_T.shape).astype("float32")
    np.testing.assert_allclose(_value(term, VEC_T, s), reference.cosine_distance(VEC_T, s).mean(), **TOL)


def test_cosine_at_a_sequence_position_matches_numpy():
    t = RNG.normal(size=(4, 5, 6)).astype("float32")
    s = RNG.normal(size=(4, 5, 6)).astype("float32")
    term = losses.CosineRepresentation("t", "s", position=0)  # BERT's [CLS]
    np.testing.assert_allclose(_value(term, t, s), reference.cosine_distance(t[:, 0], s[:, 0]).mean(), **TOL)
    np.testing.assert_allclose(
        _value(term, t, s, sample_weight=WEIGHTS), reference.weighted_mean(reference.cosine_distance(t[:, 0], s[:, 0]), WEIGHTS), **TOL
    )
    with pytest.raises(ValueError, match="needs sequence features.*shape \\(6, 12\\)"):
        term.compute_loss(VEC_T, VEC_T)
    with pytest.raises(ValueError, match="integer index"):
        losses.CosineRepresentation("t", "s", position="cls")


def test_nst_matches_numpy():
    term = losses.NeuronSelectivityTransfer("t", "s")
    np.testing.assert_allclose(_value(term, MAPS_T, MAPS_S), reference.nst(MAPS_T, MAPS_S).mean(), **TOL)


def test_rkd_matches_the_papers_loops():
    np.testing.assert_allclose(_value(losses.RKD(), VEC_T, VEC_S), reference.rkd(VEC_T, VEC_S), rtol=1e-5, atol=1e-5)
    only_distance = losses.RKD(angle_weight=0.0)
    np.testing.assert_allclose(_value(only_distance, VEC_T, VEC_S), reference.rkd(VEC_T, VEC_S, angle_weight=0.0), **TOL)


def test_sp_pkt_cc_match_numpy():
    np.testing.assert_allclose(_value(losses.SimilarityPreserving(), MAPS_T, MAPS_S), reference.sp(MAPS_T, MAPS_S), **TOL)
    np.testing.assert_allclose(_value(losses.PKT(), VEC_T, VEC_S), reference.pkt(VEC_T, VEC_S), **TOL)
    np.testing.assert_allclose(_value(losses.CorrelationCongruence(), VEC_T, VEC_S), reference.cc(VEC_T, VEC_S), **TOL)


@pytest.mark.parametrize("granularity, connection_range", [(1, None), (2, None), (1, 1)])
def test_pairwise_affinity_matches_numpy(granularity, connection_range):
    term = losses.PairwiseAffinity("t", "s", granularity=granularity, connection_range=connection_range)
    want = reference.pairwise(MAPS_T, MAPS_S, granularity, connection_range)
    np.testing.assert_allclose(_value(term, MAPS_T, MAPS_S), want.mean(), **TOL)
    np.testing.assert_allclose(
        _value(term, MAPS_T, MAPS_S, sample_weight=WEIGHTS), reference.weighted_mean(want, WEIGHTS), **TOL
    )


def test_dkd_matches_numpy():
    t = (RNG.normal(size=(8, 10)) * 3).astype("float32")
    s = (RNG.normal(size=(8, 10)) * 3).astype("float32")
    y = RNG.integers(0, 10, size=8)
    np.testing.assert_allclose(_value(losses.DKD(), t, s, y_true=y), reference.dkd(t, s, y).mean(), **TOL)
    one_hot = np.eye(10, dtype="float32")[y]
    np.testing.assert_allclose(_value(losses.DKD(), t, s, y_true=one_hot), reference.dkd(t, s, y).mean(), **TOL)
    w = RNG.uniform(0, 2, size=8).astype("float32")
    weighted = losses.DKD(alpha=0.5, beta=2.0, temperature=2.0).compute_loss(t, s, sample_weight=w, y_true=y)
    want = reference.weighted_mean(reference.dkd(t, s, y, alpha=0.5, beta=2.0, temperature=2.0), w)
    np.testing.assert_allclose(float(weighted), want, **TOL)


def test_dkd_keeps_precision_for_an_overconfident_student():
    # The student's non-target mass is ~3e-10 while the teacher's is ~0.6:
    # an epsilon added inside log(1 - p_g) would shift TCKD by ~1e-3.
    t = np.array([[1.0, 0.5, 0.0, -0.5]], "float32") * 4.0
    s = np.array([[23.0, 0.0, 0.0, 0.0]], "float32") * 4.0
    y = np.array([0])
    np.testing.assert_allclose(_value(losses.DKD(), t, s, y_true=y), reference.dkd(t, s, y).mean(), **TOL)
    with pytest.raises(ValueError, match="needs the labels"):
        losses.DKD().compute_loss(t, s)


def test_pixelwise_kd_matches_numpy():
    t = RNG.normal(size=(3, 4, 5, 6)).astype("float32")
    s = RNG.normal(size=(3, 4, 5, 6)).astype("float32")
    for temperature in (1.0, 4.0):
        term = losses.PixelwiseKD(temperature)
        np.testing.assert_allclose(_value(term, t, s), reference.pixelwise_kd(t, s, temperature).mean(), **TOL)
    first = losses.PixelwiseKD(2.0, data_format="channels_first")
    nchw = lambda x: np.transpose(x, (0, 3, 1, 2))  # noqa: E731
    np.testing.assert_allclose(_value(first, nchw(t), nchw(s)), reference.pixelwise_kd(t, s, 2.0).mean(), **TOL)


# --------------------------------------------------- zero at student == teacher

SAME_CASES = [
    (losses.Hint("t", "s"), MAPS_T),
    (losses.AttentionTransfer("t", "s"), MAPS_T),
    (losses.CosineRepresentation("t", "s"), VEC_T),
    (losses.NeuronSelectivityTransfer("t", "s"), MAPS_T),
    (losses.RKD(), VEC_T),
    (losses.SimilarityPreserving(), VEC_T),
    (losses.PKT(), VEC_T),
    (losses.CorrelationCongruence(), VEC_T),
    (losses.PairwiseAffinity("t", "s"), MAPS_T),
    (losses.PixelwiseKD(), MAPS_T),
]


@pytest.mark.parametrize("term, x", SAME_CASES, ids=lambda v: type(v).__name__ if not isinstance(v, np.ndarray) else "")
def test_zero_when_student_equals_teacher(term, x):
    assert abs(_value(term, x, x)) < 1e-5


def test_dkd_zero_when_student_equals_teacher():
    t = RNG.normal(size=(5, 10)).astype("float32")
    assert abs(float(losses.DKD().compute_loss(t, t, y_true=np.arange(5)))) < 1e-5


# ------------------------------------------------------------ configs

ALL_TERMS = [term for term, _ in SAME_CASES] + [
    losses.AttentionTransfer("a", "b", p=4.0, mode="paper", data_format="channels_first"),
    losses.RKD(distance_weight=1.0, angle_weight=2.0, teacher_layer_name="x", student_layer_name="y"),
    losses.DKD(alpha=0.5, beta=2.0, temperature=2.0),
    losses.CosineRepresentation("a", "b", position=0, connector="identity", name="cls"),
    losses.PairwiseAffinity("a", "b", granularity=2, connection_range=3),
]


@pytest.mark.parametrize("term", ALL_TERMS, ids=lambda t: type(t).__name__)
def test_config_round_trip(term):
    config = term.get_config()
    assert type(term).from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(term))
    assert type(restored) is type(term) and restored.get_config() == config


def test_registry_knows_every_family():
    names = set(losses.available())
    assert {"kd", "dkd", "pixelwise", "hint", "at", "cosine", "nst", "rkd", "sp", "pkt", "cc", "pairwise"} <= names
    assert isinstance(losses.get("at", teacher_layer_name="a", student_layer_name="b"), losses.AttentionTransfer)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="must name a layer"):
        losses.Hint("", "s")
    with pytest.raises(ValueError, match="unknown connector"):
        losses.Hint("t", "s", connector="mlp")
    with pytest.raises(ValueError, match="unknown spatial mode.*spatial='crop'"):
        losses.Hint("t", "s", spatial="crop")
    with pytest.raises(ValueError, match="mode must be 'code' or 'paper'"):
        losses.AttentionTransfer("t", "s", mode="x")
    with pytest.raises(ValueError, match="name both layers or neither"):
        losses.RKD(teacher_layer_name="x")
    with pytest.raises(ValueError, match="same spatial size"):
        losses.AttentionTransfer("t", "s").compute_loss(MAPS_T, MAPS_T[:, :3])


def test_feed_is_the_l1_distance_of_l2_normalized_maps():
    rng = np.random.default_rng(30)
    t, s = rng.normal(size=(4, 3, 3, 5)).astype("float32"), rng.normal(size=(4, 3, 3, 5)).astype("float32")
    w = rng.uniform(0, 2, size=4).astype("float32")
    tn = t.reshape(4, -1) / np.linalg.norm(t.reshape(4, -1), axis=-1, keepdims=True)
    sn = s.reshape(4, -1) / np.linalg.norm(s.reshape(4, -1), axis=-1, keepdims=True)
    want = (np.abs(tn - sn).sum(-1) * w).mean()
    np.testing.assert_allclose(float(losses.FEED("a", "b").compute_loss(t, s, sample_weight=w)), want, rtol=1e-5)
    assert float(losses.FEED("a", "b").compute_loss(t, 3.0 * t)) < 1e-6  # scale-invariant
