"""The pure train step: masking is exact, it compiles once, it learns."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.layers import dense, dropout, named, relu
from jnn.runs import loop
from jnn.train import batches, supervised
from jnn.train.state import create
from jnn.train.step import Batch, make_eval_step, make_train_step

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate


def mse(y, t):
    return jnp.mean((y - t) ** 2, axis=-1)


def _problem(n, key=0):
    rng = np.random.default_rng(key)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    return x, y


def test_padded_batch_gives_the_same_update_as_the_unpadded_one(key):
    model, opt = dense(1), optax.sgd(0.1)
    x, y = _problem(7)
    step = make_train_step(model, mse, opt)
    ts = create(model, opt, key, jnp.zeros((7, 3)))
    plain, m1 = step(ts, Batch(x, y, np.ones(7, np.float32)))
    idx = np.resize(np.arange(7), 10)
    mask = np.array([1] * 7 + [0] * 3, np.float32)
    padded, m2 = step(ts, Batch(x[idx], y[idx], mask))
    jax.tree.map(np.testing.assert_allclose, plain.params, padded.params)
    np.testing.assert_allclose(m1["loss"], m2["loss"], rtol=1e-6)


def test_step_compiles_once_over_a_ragged_run(key):
    traces = []

    def counting_mse(y, t):
        traces.append(1)  # runs at trace time only
        return mse(y, t)

    model = named(hidden=dense(8), act=relu(), drop=dropout(0.1), out=dense(1))
    opt = optax.adam(1e-2)
    x, y = _problem(103)  # 103 = 10 * 10 + 3: a ragged last batch
    step = jax.jit(make_train_step(model, counting_mse, opt), donate_argnums=0)
    ts = create(model, opt, key, jnp.zeros((10, 3)))
    plan = supervised.array_plan(x, y, epochs=3, batch_size=10)
    result = loop.train(ts, step, plan, lambda state: {})
    assert len(traces) == 1
    assert int(result.state.step) == 3 * batches.num_batches(103, 10, "pad")


def test_eval_sums_average_exactly_over_padding(key):
    model = dense(1)
    x, y = _problem(13)
    params, state = model.init(key, jnp.zeros((1, 3)))
    eval_step = jax.jit(make_eval_step(model, mse))
    got = supervised.evaluate(eval_step, params, state, x, y, batch_size=5)
    want = float(jnp.mean(mse(model.apply(params, state, x)[0], y)))
    np.testing.assert_allclose(got["loss"], want, rtol=1e-6)


def test_train_step_reduces_loss_on_one_batch(key):
    model = named(hidden=dense(16), act=relu(), out=dense(1))
    opt = optax.adam(1e-2)
    x, y = _problem(32)
    step = jax.jit(make_train_step(model, mse, opt), donate_argnums=0)
    ts = create(model, opt, key, jnp.zeros((32, 3)))
    batch = Batch(x, y, np.ones(32, np.float32))
    losses = []
    for _ in range(200):
        ts, m = step(ts, batch)
        losses.append(float(m["loss"]))
    assert losses[-1] < 0.02 * losses[0]  # overfit one batch: loss drops by > 98%


def test_penalty_enters_objective_not_loss(key):
    model, opt = dense(1), optax.sgd(0.0)
    x, y = _problem(4)
    step = make_train_step(model, mse, opt, penalty=lambda p: jnp.float32(2.5))
    ts = create(model, opt, key, jnp.zeros((4, 3)))
    _, m = step(ts, Batch(x, y, np.ones(4, np.float32)))
    np.testing.assert_allclose(m["objective"] - m["loss"], 2.5, rtol=1e-6)


def test_dropout_keys_differ_per_step_and_replay_exactly(key):
    model = named(drop=dropout(0.5), out=dense(1))
    opt = optax.sgd(0.1)
    x, y = _problem(8)
    step = jax.jit(make_train_step(model, mse, opt))
    batch = Batch(x, y, np.ones(8, np.float32))
    ts0 = create(model, opt, key, jnp.zeros((8, 3)))
    a1, _ = step(ts0, batch)
    a2, _ = step(a1, batch)
    b1, _ = step(ts0, batch)
    jax.tree.map(np.testing.assert_array_equal, a1.params, b1.params)
    assert not np.array_equal(a1.params["out"]["weight"], a2.params["out"]["weight"])


def test_config_penalty_sums_only_the_configured_terms():
    from jnn import penalties
    from jnn.config import Config
    from jnn.train.config import LossConfig
    from jnn.train.setup import penalty

    params = {"hidden": {"weight": jnp.array([[1.0, -2.0]]), "bias": jnp.ones(2)}}
    assert penalty(Config()) is None
    l2_only = penalty(Config(loss=LossConfig(l2=0.5)))
    np.testing.assert_allclose(l2_only(params), 0.5 * 5.0)  # bias excluded
    both = penalty(Config(loss=LossConfig(l1=0.1, l2=0.5)))
    want = 0.1 * penalties.l1(params) + 0.5 * penalties.l2(params)
    np.testing.assert_allclose(both(params), want, rtol=1e-6)


def test_state_holds_raw_key_data_and_refuses_other_prng_impls(key):
    from jnn._checks import JnnValueError
    from jnn.train.state import raw_key, typed_key

    ts = create(dense(1), optax.sgd(0.1), key, jnp.zeros((2, 3)))
    train_key = jax.random.split(key)[1]
    assert ts.key.dtype == jnp.uint32 and ts.key.shape == (2,)
    np.testing.assert_array_equal(ts.key, jax.random.key_data(train_key))
    assert jax.random.key_impl(typed_key(ts.key)) == jax.random.key_impl(train_key)
    legacy = jax.random.PRNGKey(3)  # raw uint32 data passes unchanged
    np.testing.assert_array_equal(raw_key(legacy), legacy)
    with pytest.raises(
        JnnValueError, match=r"create: expected a threefry2x32 key.*rbg"
    ):
        create(
            dense(1), optax.sgd(0.1), jax.random.key(0, impl="rbg"), jnp.zeros((2, 3))
        )
    with pytest.raises(
        JnnValueError, match=r"raw data uint32\(2,\), got float32\(2,\)"
    ):
        raw_key(jnp.zeros(2))
