"""Losses against float64 NumPy references, stability, jit, and every error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import losses
from jnn._checks import JnnTypeError, JnnValueError

RNG = np.random.default_rng(0)


# --- float64 NumPy references (written from the formulas, not from jnn) ------


def _mean_last(x):
    return x.mean(axis=-1) if x.ndim >= 2 else x


def _logsumexp(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def _huber(o, t, delta=1.0):
    e = np.abs(o - t)
    return np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta))


EPS32 = float(np.finfo(np.float32).eps)  # the clip eps bce uses for float32


def _bce(p, t):
    p = np.clip(p, EPS32, 1 - EPS32)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _sigmoid_bce(x, t):
    return np.logaddexp(0.0, x) - t * x  # -t log s(x) - (1-t) log(1-s(x))


def _sparse_ce(x, y):
    return _logsumexp(x) - np.take_along_axis(x, y[..., None], -1)[..., 0]


def _multiclass_hinge(s, y):
    true = np.take_along_axis(s, y[..., None], -1)
    others = np.where(np.arange(s.shape[-1]) == y[..., None], -np.inf, s)
    return np.maximum(0.0, 1.0 + others.max(-1) - true[..., 0])


PAIR_REFS = {
    "mse": lambda o, t: _mean_last((o - t) ** 2),
    "mae": lambda o, t: _mean_last(np.abs(o - t)),
    "huber": lambda o, t: _mean_last(_huber(o, t)),
    "binary_cross_entropy": lambda o, t: _mean_last(_bce(o, t)),
    "sigmoid_binary_cross_entropy": lambda o, t: _mean_last(_sigmoid_bce(o, t)),
    "hinge": lambda o, t: _mean_last(np.maximum(0.0, 1.0 - o * t)),
    "softmax_cross_entropy": lambda x, t: -(t * (x - _logsumexp(x)[..., None])).sum(-1),
}
LABEL_REFS = {
    "sparse_softmax_cross_entropy": _sparse_ce,
    "multiclass_hinge": _multiclass_hinge,
}


def _pair_inputs(name, shape):
    """Random float32 (outputs, targets) valid for loss `name`."""
    x = RNG.normal(size=shape).astype(np.float32)
    if name == "binary_cross_entropy":
        return RNG.uniform(size=shape).astype(np.float32), RNG.integers(
            0, 2, shape
        ).astype(np.float32)
    if name == "hinge":
        return x, RNG.choice([-1.0, 1.0], size=shape).astype(np.float32)
    if name == "softmax_cross_entropy":
        t = np.exp(RNG.normal(size=shape))
        return x, (t / t.sum(-1, keepdims=True)).astype(np.float32)
    if name == "sigmoid_binary_cross_entropy":
        return x, RNG.uniform(size=shape).astype(np.float32)
    return x, RNG.normal(size=shape).astype(np.float32)


def _inputs(name, shape=(3, 4)):
    if name in losses.CLASSIFICATION:
        labels = RNG.integers(0, shape[-1], shape[:-1]).astype(np.int32)
        return RNG.normal(size=shape).astype(np.float32), labels
    return _pair_inputs(name, shape)


def _f64(x):
    return np.asarray(x, np.float64)


# --- values -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
@pytest.mark.parametrize("name", sorted(PAIR_REFS))
def test_pair_losses_match_numpy(name, shape):
    if name == "softmax_cross_entropy" and len(shape) == 1:
        shape = (1, 5)  # a (C,) distribution; covered as a batch of one
    o, t = _pair_inputs(name, shape)
    got = losses.get(name)(jnp.asarray(o), jnp.asarray(t))
    want = PAIR_REFS[name](_f64(o), _f64(t))
    expected_shape = shape[:-1] if len(shape) >= 2 else shape
    assert got.shape == expected_shape
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 4)])
@pytest.mark.parametrize("name", sorted(LABEL_REFS))
def test_label_losses_match_numpy(name, shape):
    x, y = _inputs(name, shape)
    got = losses.get(name)(jnp.asarray(x), jnp.asarray(y))
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, LABEL_REFS[name](_f64(x), y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", losses.NAMES)
def test_jit_matches_eager(name):
    a, b = (jnp.asarray(v) for v in _inputs(name))
    fn = losses.get(name)
    np.testing.assert_allclose(jax.jit(fn)(a, b), fn(a, b), rtol=1e-6, atol=1e-7)


def test_huber_hand_values_and_delta():
    o, t = jnp.array([0.5, 3.0]), jnp.zeros(2)
    # |e| = 0.5 <= 1: 0.5 * 0.25; |e| = 3 > 1: 1 * (3 - 0.5).
    np.testing.assert_allclose(losses.huber(o, t), [0.125, 2.5])
    # delta = 2: 3 > 2 gives 2 * (3 - 1) = 4.
    np.testing.assert_allclose(losses.huber(o, t, delta=2.0), [0.125, 4.0])


def test_sparse_equals_softmax_ce_with_one_hot():
    x, y = _inputs("sparse_softmax_cross_entropy", (5, 3))
    one_hot = jax.nn.one_hot(y, 3, dtype=jnp.float32)
    np.testing.assert_allclose(
        losses.sparse_softmax_cross_entropy(x, y),
        losses.softmax_cross_entropy(jnp.asarray(x), one_hot),
        rtol=1e-6,
    )


def test_multiclass_hinge_is_crammer_singer():
    # Only the strongest wrong class counts: 1 + 1.5 - 2 = 0.5, not 0.5 + 0.
    scores = jnp.array([[2.0, 1.5, 0.0], [3.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        losses.multiclass_hinge(scores, jnp.array([0, 0])), [0.5, 0.0]
    )


# --- numerical stability --------------------------------------------------------

BIG = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4 - 3.0], [1e4, 1e4, -1e4]])


def test_softmax_losses_stable_at_1e4():
    x32 = jnp.asarray(BIG, jnp.float32)
    y = np.array([1, 2, 0], np.int32)
    want = _sparse_ce(BIG, y)  # [2e4, 3 + log1p(e^-3), log 2]
    got = losses.sparse_softmax_cross_entropy(x32, jnp.asarray(y))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-3)
    one_hot = jax.nn.one_hot(y, 3, dtype=jnp.float32)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(x32, one_hot), want, rtol=1e-6, atol=1e-3
    )
    hinge = losses.multiclass_hinge(x32, jnp.asarray(y))
    np.testing.assert_allclose(hinge, _multiclass_hinge(BIG, y), rtol=1e-6)


def test_sigmoid_bce_exact_and_finite_at_1e4():
    x = np.array([1e4, -1e4, 1e4, -1e4, 30.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    got = losses.sigmoid_binary_cross_entropy(jnp.asarray(x, jnp.float32), t)
    np.testing.assert_allclose(got, _sigmoid_bce(x, t), rtol=1e-6, atol=1e-7)
    assert got[0] == 0.0 and got[2] == 1e4  # exact, no log(0)
    grad = jax.jit(jax.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, t).sum()))
    assert np.all(np.isfinite(grad(jnp.asarray(x, jnp.float32))))


def test_binary_cross_entropy_clips_zero_and_one():
    p = jnp.array([0.0, 1.0, 0.0, 1.0])
    t = jnp.array([0.0, 1.0, 1.0, 0.0])
    got = losses.binary_cross_entropy(p, t)
    eps = EPS32
    # Correct certainty costs ~eps; wrong certainty is capped at -log(eps).
    np.testing.assert_allclose(got, [eps, eps, -np.log(eps), -np.log(eps)], rtol=1e-3)
    grad = jax.jit(jax.grad(lambda q: losses.binary_cross_entropy(q, t).sum()))(p)
    assert np.all(np.isfinite(grad))


# --- shape errors -----------------------------------------------------------------

PAIR_NAMES = sorted(set(losses.NAMES) - losses.CLASSIFICATION)


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_column_vs_vector_raises_naming_both_shapes(name):
    o, t = _pair_inputs(name, (4, 1))
    with pytest.raises(
        JnnValueError, match=r"\(4, 1\) and targets \(4,\).*\[\.\.\., 0\]"
    ):
        losses.get(name)(o, t[:, 0])
    with pytest.raises(JnnValueError, match=r"\(4,\) and targets \(4, 1\)"):
        losses.get(name)(o[:, 0], t)


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_pair_dtype_and_rank_errors(name):
    o, t = _pair_inputs(name, (3,))
    with pytest.raises(
        JnnTypeError, match=r"`targets` with the dtype .*float32.*int32"
    ):
        losses.get(name)(o, t.astype(np.int32))
    with pytest.raises(JnnTypeError, match="floating dtype"):
        losses.get(name)(o.astype(np.int32), t.astype(np.int32))
    with pytest.raises(JnnValueError, match=r"rank >= 1.*got shape \(\)"):
        losses.get(name)(o[0], t[0])


@pytest.mark.parametrize("name", sorted(losses.CLASSIFICATION))
def test_label_shape_errors(name):
    fn = losses.get(name)
    x = jnp.zeros((4, 3))
    with pytest.raises(
        JnnValueError, match=r"shape \(4,\).*labels \(4, 1\).*\[\.\.\., 0\]"
    ):
        fn(x, jnp.zeros((4, 1), jnp.int32))
    with pytest.raises(JnnValueError, match="one-hot; use softmax_cross_entropy"):
        fn(x, jnp.zeros((4, 3), jnp.int32))
    with pytest.raises(JnnValueError, match=r"labels \(2,\).*labels.reshape\(\(4,\)\)"):
        fn(x, jnp.zeros(2, jnp.int32))
    with pytest.raises(JnnValueError, match="rank >= 1"):
        fn(jnp.zeros(()), jnp.zeros((), jnp.int32))


@pytest.mark.parametrize("name", sorted(losses.CLASSIFICATION))
def test_label_dtype_and_range_errors(name):
    fn = losses.get(name)
    x = jnp.zeros((4, 3))
    with pytest.raises(
        JnnTypeError, match="`labels` with an integer dtype, got dtype float32"
    ):
        fn(x, jnp.zeros(4))
    with pytest.raises(JnnTypeError, match="`logits` with a floating dtype"):
        fn(jnp.zeros((4, 3), jnp.int32), jnp.zeros(4, jnp.int32))
    bad = jnp.array([0, 3, -1, 2])
    with pytest.raises(
        JnnValueError, match=rf"^{name}: .*\{{-1, 3\}} at sample indices \[1, 2\]"
    ):
        fn(x, bad)
    # Under jit the labels are tracers: no host check, no error (documented).
    assert jax.jit(fn)(x, bad).shape == (4,)


def test_binary_cross_entropy_eps():
    p, t = jnp.array([0.0, 0.5]), jnp.array([1.0, 1.0])
    np.testing.assert_allclose(
        losses.binary_cross_entropy(p, t, eps=1e-3), [-np.log(1e-3), np.log(2.0)]
    )
    with pytest.raises(JnnValueError, match=r"`eps` in \(0, 0.5\), got 0.0"):
        losses.binary_cross_entropy(p, t, eps=0.0)
    with pytest.raises(JnnValueError, match=r"`eps` finite and in \[0.0, 0.5\]"):
        losses.binary_cross_entropy(p, t, eps=0.7)
    with pytest.raises(JnnTypeError, match="`eps` to be a number"):
        losses.binary_cross_entropy(p, t, eps=None)


def test_huber_delta_errors():
    o = jnp.zeros(2)
    with pytest.raises(JnnValueError, match=r"huber: expected `delta` > 0, got 0"):
        losses.huber(o, o, delta=0.0)
    with pytest.raises(JnnValueError, match="`delta` finite"):
        losses.huber(o, o, delta=float("inf"))
    with pytest.raises(JnnTypeError, match="`delta` to be a number"):
        losses.huber(o, o, delta="1")


def test_value_range_errors():
    with pytest.raises(
        JnnValueError, match=r"`outputs` in \[0, 1\], got values \{1.5\}"
    ):
        losses.binary_cross_entropy(jnp.array([0.5, 1.5]), jnp.array([0.0, 1.0]))
    with pytest.raises(
        JnnValueError, match=r"`targets` in \[0, 1\], got values \{-1\}"
    ):
        losses.binary_cross_entropy(jnp.array([0.5, 0.5]), jnp.array([-1.0, 1.0]))
    with pytest.raises(
        JnnValueError, match=r"`targets` in \{-1, \+1\}, got values \{0\}"
    ):
        losses.hinge(jnp.array([0.5, 0.5]), jnp.array([0.0, 1.0]))


# --- check_labels and the registry ------------------------------------------------


def test_check_labels_message_names_values_and_indices():
    labels = np.zeros(20, np.int64)
    labels[3], labels[17] = -1, 12
    msg = (
        "dataset 'train': expected integer labels in [0, 10), got 2 out-of-range"
        " values {-1, 12} at sample indices [3, 17]."
    )
    with pytest.raises(JnnValueError) as info:
        losses.check_labels("dataset 'train'", labels, 10)
    assert str(info.value) == msg
    losses.check_labels("dataset 'train'", np.array([0, 9]), 10)  # in range: no error


def test_check_labels_truncates_and_uses_sample_axis():
    labels = np.arange(-8, 0).reshape(4, 2)  # every entry bad; 4 samples
    with pytest.raises(
        JnnValueError,
        match=r"8 out-of-range values \{-8, -7, -6, -5, -4, \.\.\.\} at sample indices \[0, 1, 2, 3\]",
    ):
        losses.check_labels("x", labels, 3)


def test_check_labels_type_errors():
    with pytest.raises(
        JnnTypeError, match="x: expected integer labels, got dtype float64"
    ):
        losses.check_labels("x", np.array([0.0, 1.0]), 2)
    with pytest.raises(
        JnnTypeError, match="x: expected integer labels, got dtype bool"
    ):
        losses.check_labels("x", np.array([True]), 2)
    with pytest.raises(JnnTypeError, match="`num_classes` to be an int"):
        losses.check_labels("x", np.array([0]), 2.0)
    with pytest.raises(JnnValueError, match="`num_classes` > 0"):
        losses.check_labels("x", np.array([0]), 0)


def test_registry():
    assert set(losses.CLASSIFICATION) <= set(losses.NAMES)
    assert {"sparse_softmax_cross_entropy", "multiclass_hinge"} == losses.CLASSIFICATION
    assert all(callable(losses.get(n)) for n in losses.NAMES)
    with pytest.raises(
        JnnValueError, match=r"losses.get: .*'mse'.*did you mean 'mse'\?"
    ):
        losses.get("mes")
