"""Non-finite losses and gradients: stop with the step and leaf, or skip and count."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.data import two_moons
from jnn.layers import dense
from jnn.models import mlp
from jnn.runs import loop
from jnn.train import Settings, fit, numerics, supervised
from jnn.train.numerics import NonFiniteError
from jnn.train.state import create
from jnn.train.step import Batch, make_train_step, nonfinite_code

pytestmark = pytest.mark.usefixtures("fast_compiles")


def mse(y, t):
    return jnp.mean((y - t) ** 2, axis=-1)


def sqrt_loss(y, t):
    """Finite at y == t, but its gradient there is inf * 0 = nan."""
    return jnp.sqrt(jnp.sum((y - t) ** 2, axis=-1))


def _setup(loss, key):
    model = dense(1)
    opt = optax.sgd(0.1)
    step = jax.jit(make_train_step(model, loss, opt, guard_nonfinite=True))
    return step, create(model, opt, key, jnp.zeros((4, 2)))


def _data(n=8, bad=()):
    x = np.linspace(-1, 1, 2 * n, dtype=np.float32).reshape(n, 2)
    y = x.sum(-1, keepdims=True)
    x[list(bad)] = np.nan
    return x, y


def test_nonfinite_code_locates_loss_then_first_grad_leaf():
    grads = {"a": jnp.ones(2), "b": jnp.array([1.0, jnp.inf]), "c": jnp.ones(1)}
    assert int(nonfinite_code(jnp.float32(1.0), grads)) == 2  # leaves a, b, c
    assert int(nonfinite_code(jnp.float32(jnp.nan), grads)) == 0
    finite = jax.tree.map(jnp.zeros_like, grads)
    assert int(nonfinite_code(jnp.float32(1.0), finite)) == -1


def test_guarded_step_keeps_params_and_reports(key):
    step, ts = _setup(mse, key)
    x, y = _data(4, bad=[1])
    before = jax.tree.map(np.asarray, (ts.params, ts.opt_state))
    ts, logs = step(ts, Batch(x, y, np.ones(4, np.float32)))
    assert int(logs["nonfinite"]) == 0 and int(ts.step) == 1
    after = jax.tree.map(np.asarray, (ts.params, ts.opt_state))
    jax.tree.map(np.testing.assert_array_equal, after, before)


@pytest.mark.parametrize("bad", [False, True])
def test_the_accelerator_select_keeps_what_the_cpu_branch_keeps(bad):
    from jnn.train.step import _by_branch, _by_select

    grads = {"a": jnp.ones(2), "b": jnp.array([1.0, jnp.inf if bad else 2.0])}
    keep, objective = {"w": jnp.zeros(3)}, jnp.float32(0.5)
    ok = jnp.isfinite(optax.tree.norm(grads))
    update = lambda _: {"w": jnp.ones(3)}  # noqa: E731
    by_branch = jax.jit(lambda *a: _by_branch(*a, update, keep))(ok, objective, grads)
    by_select = jax.jit(lambda *a: _by_select(*a, update, keep))(ok, objective, grads)
    jax.tree.map(np.testing.assert_array_equal, by_select, by_branch)
    assert int(by_select[1]) == (2 if bad else -1)  # leaf b, after the objective
    assert float(by_select[0]["w"][0]) == (0.0 if bad else 1.0)


def _train(ts, step, x, y, mode):
    plan = supervised.array_plan(x, y, epochs=2, batch_size=4)
    hooks = loop.Hooks(on_nonfinite=mode)
    return loop.train(ts, step, plan, lambda state: {}, hooks=hooks)


def test_stop_names_the_step_and_the_loss(key):
    step, ts = _setup(mse, key)
    x, y = _data(8, bad=[5])
    order = np.random.default_rng([0, 0]).permutation(8)
    bad_step = int(np.where(order == 5)[0][0]) // 4
    with pytest.raises(NonFiniteError, match=f"at step {bad_step} .* in the loss") as e:
        _train(ts, step, x, y, "stop")
    assert e.value.step == bad_step and "on_nonfinite = 'skip'" in str(e.value)


def test_stop_names_the_first_nonfinite_gradient_leaf(key):
    step, ts = _setup(sqrt_loss, key)
    x, y = _data(4)
    ts = ts._replace(params={"weight": jnp.ones((2, 1)), "bias": jnp.zeros(1)})
    with pytest.raises(NonFiniteError, match=r"gradient of params\['bias'\]"):
        _train(ts, step, x, y, "stop")


def test_skip_counts_and_never_leaves_nan_params(key):
    step, ts = _setup(mse, key)
    x, y = _data(8, bad=[5])
    result = _train(ts, step, x, y, "skip")
    assert [r["skipped_steps"] for r in result.history] == [1, 1]
    assert all(np.isfinite(r["train_loss"]) for r in result.history)
    leaves = jax.tree.leaves(result.state.params)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in leaves)
    assert int(result.state.step) == 4


def test_fit_stops_on_a_diverging_learning_rate():
    moons = two_moons(64, noise=0.1, seed=0)
    model = mlp((8,), 2)
    args = (model, "sparse_softmax_cross_entropy", optax.sgd(1e30), tuple(moons))
    kwargs = {"epochs": 3, "batch_size": 8, "log": None, "progress": False}
    with pytest.raises(NonFiniteError, match=r"non-finite value at step \d+"):
        fit(*args, **kwargs)
    skip = Settings(on_nonfinite="skip")
    result = fit(*args, **kwargs, settings=skip)
    assert sum(r["skipped_steps"] for r in result.history) > 0
    leaves = jax.tree.leaves(result.state.params)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in leaves)


def test_finite_gradients_that_overflow_the_norm_are_flagged(key):
    def steep(y, t):  # finite loss; gradients ~1e20, whose squares overflow
        return 1e20 * jnp.sum(y - t, axis=-1)

    step, ts = _setup(steep, key)
    x, y = _data(4)
    before = jax.tree.map(np.asarray, ts.params)
    ts, logs = step(ts, Batch(x, y, np.ones(4, np.float32)))
    assert np.isfinite(float(logs["objective"]))
    code = int(logs["nonfinite"])
    assert code == 3  # two gradient leaves, both finite: the norm overflowed
    after = jax.tree.map(np.asarray, ts.params)
    jax.tree.map(np.testing.assert_array_equal, after, before)
    with pytest.raises(NonFiniteError, match="global gradient norm"):
        raise numerics.error(code, 0, ts.params)
