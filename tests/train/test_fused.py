"""`scan_steps`: K fused steps equal K jitted per-step calls, bitwise on CPU."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import losses, metrics
from jnn.layers import dense, dropout, named
from jnn.train import Batch, create, make_train_step, scan_steps

K, B = 4, 8
MODEL = named(drop=dropout(0.2), out=dense(3))  # dropout: the key folds per step
OPT = optax.adam(1e-2)
# As `fit` builds it: guard and metric on. Built once, so each jit compiles once.
STEP = make_train_step(
    MODEL,
    losses.sparse_softmax_cross_entropy,
    OPT,
    metrics={"accuracy": metrics.accuracy},
    guard_nonfinite=True,
)
PER_STEP = jax.jit(STEP, donate_argnums=0)
# A jitted step, state not donated (the doctest covers the default donation).
FUSED = scan_steps(PER_STEP, donate=False)


def _fresh(key):
    return create(MODEL, OPT, key, jnp.zeros((B, 5)))


def _stacked(bad_step=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(K, B, 5)).astype(np.float32)
    if bad_step is not None:  # every input: dropout cannot drop them all
        x[bad_step] = np.nan
    y = rng.integers(0, 3, (K, B)).astype(np.int32)
    mask = np.ones((K, B), np.float32)
    mask[-1, -3:] = 0.0  # a padded last batch
    return Batch(jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask))


def _per_step(ts, stacked):
    logs = []
    for k in range(K):
        ts, m = PER_STEP(ts, jax.tree.map(lambda v, k=k: v[k], stacked))
        logs.append(m)
    return ts, {name: np.stack([m[name] for m in logs]) for name in logs[0]}


def _assert_same(fused, per_step):
    (ts_a, logs_a), (ts_b, logs_b) = fused, per_step
    # A typed PRNG key converts to NumPy only through its data.
    same = [ts._replace(key=jax.random.key_data(ts.key)) for ts in (ts_a, ts_b)]
    jax.tree.map(np.testing.assert_array_equal, *same)
    assert sorted(logs_a) == sorted(logs_b)
    for name, values in logs_b.items():
        assert logs_a[name].shape == (K,)
        np.testing.assert_array_equal(logs_a[name], values, err_msg=name)


def test_fused_steps_equal_per_step_calls_bitwise(key):
    stacked, ts = _stacked(), _fresh(key)
    fused = FUSED(ts, stacked)
    assert int(ts.step) == 0  # not donated: still readable
    _assert_same(fused, _per_step(_fresh(key), stacked))
    assert int(fused[0].step) == K


def test_fused_guard_skips_the_same_nonfinite_step(key):
    stacked = _stacked(bad_step=1)
    fused = FUSED(_fresh(key), stacked)
    _assert_same(fused, _per_step(_fresh(key), stacked))
    assert fused[1]["nonfinite"].tolist() == [-1, 0, -1, -1]
