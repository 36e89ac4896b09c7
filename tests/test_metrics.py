"""Metrics against NumPy references, identities, jit, and every error."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import metrics
from jnn._checks import JnnTypeError, JnnValueError

RNG = np.random.default_rng(1)


def _scores_labels(shape=(6, 4)):
    x = RNG.normal(size=shape).astype(np.float32)
    return x, RNG.integers(0, shape[-1], shape[:-1]).astype(np.int32)


def _top_k_ref(x, y, k):
    # Stable sort of -x keeps the lower index first among ties, like lax.top_k.
    top = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return (top == y[..., None]).any(-1).astype(np.float32)


# --- values ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 4)])
def test_accuracy_matches_numpy(shape):
    x, y = _scores_labels(shape)
    got = metrics.accuracy(x, y)
    assert got.shape == shape[:-1] and got.dtype == jnp.float32
    np.testing.assert_array_equal(got, (x.argmax(-1) == y).astype(np.float32))


def test_accuracy_ties_go_to_lowest_index():
    x = jnp.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    np.testing.assert_array_equal(metrics.accuracy(x, jnp.array([0, 2])), [1.0, 0.0])


@pytest.mark.parametrize("k", [1, 2, 4])
def test_top_k_accuracy_matches_numpy(k):
    x, y = _scores_labels((2, 3, 4))
    x[0, 0] = [0.5, 0.5, 0.5, 0.1]  # a tie: lower indices rank first
    y[0, 0] = 2
    got = metrics.top_k_accuracy(x, y, k)
    np.testing.assert_array_equal(got, _top_k_ref(x, y, k))
    assert got[0, 0] == float(k >= 3)


def test_accuracy_picks_the_class_lax_top_k_picks():
    # k = 1 takes an argmax (one fused reduction), not lax.top_k: the same
    # class for ties, infinities and all-equal rows.
    x, _ = _scores_labels((64, 5))
    x[:8] = np.round(x[:8]) + 0.0  # many ties (+ 0.0: no -0.0, see below)
    x[8, :] = 0.0
    x[9, [1, 3]] = np.inf
    x[10, :] = -np.inf
    x[11, 2] = -np.inf
    top = np.asarray(jax.lax.top_k(jnp.asarray(x), 1)[1][:, 0])
    for label in range(5):
        y = np.full(64, label, np.int32)
        want = (top == label).astype(np.float32)
        np.testing.assert_array_equal(metrics.accuracy(x, y), want)
    # -0.0 == 0.0: a tie, to the lower index (lax.top_k ranks -0.0 lower).
    zeros = jnp.array([[-0.0, 0.0]])
    np.testing.assert_array_equal(metrics.accuracy(zeros, jnp.array([0])), [1.0])


def test_top_k_identities():
    x, y = _scores_labels()
    np.testing.assert_array_equal(
        metrics.top_k_accuracy(x, y, 1), metrics.accuracy(x, y)
    )
    np.testing.assert_array_equal(metrics.top_k_accuracy(x, y, 4), np.ones(6))


@pytest.mark.parametrize("shape", [(5,), (3, 4)])
@pytest.mark.parametrize("threshold", [0.5, 0.0])
def test_binary_accuracy_matches_numpy(shape, threshold):
    o = RNG.normal(size=shape).astype(np.float32)
    t = RNG.choice([0.0, 1.0] if threshold else [-1.0, 1.0], shape).astype(np.float32)
    got = metrics.binary_accuracy(o, t, threshold)
    want = ((o >= threshold) == (t > 0.5)).astype(np.float32)
    want = want.mean(-1) if len(shape) == 2 else want
    assert got.shape == (shape[:-1] if len(shape) == 2 else shape)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_binary_accuracy_threshold_is_inclusive():
    o, t = jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])
    np.testing.assert_array_equal(metrics.binary_accuracy(o, t), [1.0, 0.0])


def test_confusion_matrix_matches_numpy_and_trace_is_accuracy():
    x, y = _scores_labels((2, 9, 4))
    predicted = x.argmax(-1).astype(np.int32)
    got = metrics.confusion_matrix(predicted, y, 4)
    want = np.zeros((4, 4), np.int64)
    np.add.at(want, (y.reshape(-1), predicted.reshape(-1)), 1)
    assert got.shape == (4, 4) and got.dtype == jnp.int32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got.sum(1), np.bincount(y.reshape(-1), minlength=4))
    assert int(np.trace(got)) == int(metrics.accuracy(x, y).sum())


def test_confusion_matrix_rows_true_cols_predicted_and_mask():
    predicted, labels = jnp.array([2, 2, 0]), jnp.array([0, 0, 1])
    got = metrics.confusion_matrix(predicted, labels, 3)
    np.testing.assert_array_equal(got, [[0, 0, 2], [1, 0, 0], [0, 0, 0]])
    mask = jnp.array([True, False, True])
    masked = metrics.confusion_matrix(predicted, labels, 3, mask=mask)
    np.testing.assert_array_equal(masked, [[0, 0, 1], [1, 0, 0], [0, 0, 0]])


def test_jit_matches_eager():
    x, y = (jnp.asarray(v) for v in _scores_labels())
    for fn in (metrics.accuracy, functools.partial(metrics.top_k_accuracy, k=2)):
        np.testing.assert_array_equal(jax.jit(fn)(x, y), fn(x, y))
    t = (y % 2).astype(jnp.float32)
    binary = functools.partial(metrics.binary_accuracy, threshold=0.0)  # a float
    np.testing.assert_array_equal(jax.jit(binary)(x[:, 0], t), binary(x[:, 0], t))
    cm = functools.partial(metrics.confusion_matrix, num_classes=4)
    p = x.argmax(-1)
    np.testing.assert_array_equal(jax.jit(cm)(p, y), cm(p, y))


# --- errors -----------------------------------------------------------------------

LABEL_METRICS = {
    "accuracy": metrics.accuracy,
    "top_k_accuracy": functools.partial(metrics.top_k_accuracy, k=1),
}


@pytest.mark.parametrize("name", sorted(LABEL_METRICS))
def test_label_metric_errors(name):
    fn, x = LABEL_METRICS[name], jnp.zeros((4, 3))
    with pytest.raises(
        JnnValueError, match=rf"^{name}: .*labels \(4, 1\) for logits \(4, 3\)"
    ):
        fn(x, jnp.zeros((4, 1), jnp.int32))
    with pytest.raises(JnnValueError, match="one-hot"):
        fn(x, jnp.zeros((4, 3), jnp.int32))
    with pytest.raises(JnnValueError, match="rank >= 1"):
        fn(jnp.zeros(()), jnp.zeros((), jnp.int32))
    with pytest.raises(JnnTypeError, match="`labels` with an integer dtype"):
        fn(x, jnp.zeros(4))
    with pytest.raises(JnnTypeError, match="`logits` with a floating dtype"):
        fn(jnp.zeros((4, 3), jnp.int32), jnp.zeros(4, jnp.int32))
    with pytest.raises(JnnValueError, match=r"\{3\} at sample indices \[2\]"):
        fn(x, jnp.array([0, 1, 3, 2]))


def test_top_k_k_errors():
    x, y = _scores_labels((2, 3))
    with pytest.raises(
        JnnValueError, match=r"`k` <= the number of classes \(3\), got 4"
    ):
        metrics.top_k_accuracy(x, y, 4)
    with pytest.raises(JnnValueError, match="`k` > 0, got 0"):
        metrics.top_k_accuracy(x, y, 0)
    with pytest.raises(JnnTypeError, match="`k` to be an int"):
        metrics.top_k_accuracy(x, y, 1.0)


def test_binary_accuracy_errors():
    o = jnp.zeros((4, 1))
    with pytest.raises(JnnValueError, match=r"outputs \(4, 1\) and targets \(4,\)"):
        metrics.binary_accuracy(o, jnp.zeros(4))
    with pytest.raises(JnnTypeError, match="`targets` with the dtype of `outputs`"):
        metrics.binary_accuracy(o, jnp.zeros((4, 1), jnp.int32))
    with pytest.raises(JnnTypeError, match="`outputs` with a floating dtype"):
        metrics.binary_accuracy(o.astype(jnp.int32), jnp.zeros((4, 1), jnp.int32))
    with pytest.raises(JnnValueError, match=r"rank >= 1"):
        metrics.binary_accuracy(jnp.zeros(()), jnp.zeros(()))
    with pytest.raises(
        JnnValueError, match=r"`targets` in \{0, 1\} or \{-1, \+1\}, got values \{0.3\}"
    ):
        metrics.binary_accuracy(jnp.zeros(2), jnp.array([0.3, 1.0]))
    with pytest.raises(JnnValueError, match="`threshold` finite"):
        metrics.binary_accuracy(o, o, float("nan"))
    with pytest.raises(JnnTypeError, match="`threshold` to be a number"):
        metrics.binary_accuracy(o, o, "0.5")


def test_confusion_matrix_errors():
    p, y = jnp.array([0, 1]), jnp.array([1, 1])
    cm = metrics.confusion_matrix
    with pytest.raises(
        JnnValueError, match=r"predicted_labels \(2,\) and labels \(2, 1\)"
    ):
        cm(p, y[:, None], 2)
    with pytest.raises(
        JnnValueError, match=r"^confusion_matrix `predicted_labels`: .*\{5\}"
    ):
        cm(jnp.array([0, 5]), y, 2)
    with pytest.raises(
        JnnTypeError,
        match=r"^confusion_matrix `labels`: expected integer labels, got dtype float32",
    ):
        cm(p, y.astype(jnp.float32), 2)
    # Under jit the labels are tracers; the dtype check still runs.
    with pytest.raises(JnnTypeError, match="`labels` with an integer dtype"):
        jax.jit(cm, static_argnums=2)(p, y.astype(jnp.float32), 2)
    with pytest.raises(
        JnnValueError, match=r"`mask` of dtype bool and shape \(2,\), got int32 \(2,\)"
    ):
        cm(p, y, 2, mask=jnp.ones(2, jnp.int32))
    with pytest.raises(JnnValueError, match=r"got bool \(3,\)"):
        cm(p, y, 2, mask=jnp.ones(3, jnp.bool_))
    with pytest.raises(JnnValueError, match="`num_classes` > 0"):
        cm(p, y, 0)
    with pytest.raises(JnnTypeError, match="`num_classes` to be an int"):
        cm(p, y, 2.0)
