"""Losses on logits up to +-1e4: finite and exact against a float64 reference.

float32 carries ~7 significant digits, so at |logit| = 1e4 a loss is exact to
about 1e4 * 2**-23 ~ 1e-3 in absolute terms; the tolerance below is that
float32 rounding of the inputs' scale, not a slack for an unstable formula
(a naive log(softmax) or log(sigmoid) gives inf or nan here).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import losses

SCALE = 1e4
LOGITS = np.array(
    [
        [SCALE, -SCALE, 0.0],
        [-SCALE, SCALE, 0.5 * SCALE],
        [SCALE, SCALE, -SCALE],
        [-SCALE, -SCALE, -SCALE],
    ],
    np.float32,
)
LABELS = np.array([1, 0, 2, 1], np.int32)


def _logsumexp64(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def _softmax_ce64(logits, onehot):
    x = logits.astype(np.float64)
    return _logsumexp64(x) - (x * onehot).sum(-1)


def _sigmoid_bce64(logits, targets):
    x = logits.astype(np.float64)  # log(1 + exp(-|x|)) + max(x, 0) - x t
    return (np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0) - x * targets).mean(-1)


def _close(got, want):
    got = np.asarray(got)
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=SCALE * 2.0**-23)


def test_sparse_softmax_cross_entropy_is_exact_at_1e4():
    want = _softmax_ce64(LOGITS, np.eye(3)[LABELS])
    _close(losses.sparse_softmax_cross_entropy(jnp.asarray(LOGITS), LABELS), want)


def test_softmax_cross_entropy_is_exact_at_1e4():
    onehot = np.eye(3, dtype=np.float32)[LABELS]
    want = _softmax_ce64(LOGITS, onehot)
    _close(losses.softmax_cross_entropy(jnp.asarray(LOGITS), onehot), want)


def test_sigmoid_binary_cross_entropy_is_exact_at_1e4():
    targets = (np.arange(LOGITS.size).reshape(LOGITS.shape) % 2).astype(np.float32)
    want = _sigmoid_bce64(LOGITS, targets)
    got = losses.sigmoid_binary_cross_entropy(jnp.asarray(LOGITS), targets)
    _close(got, want)


@pytest.mark.parametrize(
    "name", ["sparse_softmax_cross_entropy", "sigmoid_binary_cross_entropy"]
)
def test_gradients_stay_finite_at_1e4(name):
    targets = LABELS if name.startswith("sparse") else np.ones_like(LOGITS)
    fn = losses.get(name)
    grads = jax.grad(lambda x: fn(x, targets).sum())(jnp.asarray(LOGITS))
    assert np.all(np.isfinite(np.asarray(grads)))
    assert np.all(np.abs(np.asarray(grads)) <= 1.0 + 1e-6)  # softmax/sigmoid - t
