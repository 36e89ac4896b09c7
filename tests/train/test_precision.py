"""Mixed precision (`jnn.train.precision`): bfloat16 compute, float32 state."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn import config as config_lib
from jnn import layers as nn
from jnn.train import Batch, create, make_train_step, precision

pytestmark = pytest.mark.usefixtures("fast_compiles")  # accuracy: see _acceptance


def test_float32_is_the_model_itself():
    model = nn.dense(3)
    assert precision.cast_model(model, "float32") is model


def test_unknown_precisions_are_refused():
    with pytest.raises(ValueError, match=r"expected `precision` to be one of"):
        precision.cast_model(nn.dense(3), "float8")
    with pytest.raises(ValueError, match=r"train\.precision"):
        config_lib.replace(config_lib.defaults(), ["train.precision=half"])


def test_the_forward_pass_is_the_model_on_bfloat16_values(key):
    model = nn.named(h=nn.dense(5), a=nn.gelu(), o=nn.dense(3))
    x = jax.random.normal(key, (4, 6))
    params, state = model.init(key, x)
    y, _ = jax.jit(precision.cast_model(model, "bfloat16").apply)(params, state, x)
    bf16 = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
    want, _ = jax.jit(model.apply)(bf16, state, x.astype(jnp.bfloat16))
    assert y.dtype == jnp.float32
    np.testing.assert_array_equal(y, want.astype(jnp.float32))


def test_gradients_arrive_in_float32_close_to_float32_ones():
    # tanh, not relu: bfloat16 rounding near a relu's kink can switch a unit
    # off and change its gradient wholesale, whatever the tolerance.
    key = jax.random.key(7)  # fixed: the test's values do not depend on order
    model = nn.named(h=nn.dense(16), a=nn.tanh(), o=nn.dense(1))
    x = jax.random.normal(key, (32, 8))
    params, state = model.init(key, x)

    def loss(p, m):
        return jnp.mean(m.apply(p, state, x)[0] ** 2)

    grad = jax.jit(jax.grad(loss), static_argnums=1)
    mixed = grad(params, precision.cast_model(model, "bfloat16"))
    exact = grad(params, model)
    for g, e in zip(jax.tree.leaves(mixed), jax.tree.leaves(exact), strict=True):
        assert g.dtype == jnp.float32
        # bfloat16 keeps 8 significant bits (2**-8 per op); summed over the
        # layers, each gradient's relative error measured 0.012 (median) and
        # 0.047 (worst) over keys 0-39, 0.015 for this key; a componentwise
        # bound fails on components near 0, so the test bounds the norm.
        error = np.linalg.norm(g - e) / np.linalg.norm(e)
        assert error < 0.05, error


def test_model_state_stays_float32_and_int_inputs_pass(key):
    model = nn.serial(nn.embedding(10, 4), nn.batch_norm(), nn.dense(2))
    tokens = jnp.arange(6, dtype=jnp.int32).reshape(3, 2)
    params, state = model.init(key, tokens)
    mixed = precision.cast_model(model, "bfloat16")
    y, new_state = jax.jit(mixed.apply, static_argnames="train")(
        params, state, tokens, train=True
    )
    assert y.dtype == jnp.float32
    for old, new in zip(
        jax.tree.leaves(state), jax.tree.leaves(new_state), strict=True
    ):
        assert new.dtype == old.dtype == jnp.float32
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(new_state), strict=True)
    )  # the statistics moved


def _digits_fit(tmp_path, name: str, compute: str):
    from jnn.data import load_digits, split

    train, _, test = split(load_digits(), 0.0, 0.2, seed=0)
    scaled = lambda d: (d.x.reshape(len(d.x), -1) / np.float32(16), d.y)  # noqa: E731
    model = nn.named(h=nn.dense(64), a=nn.relu(), o=nn.dense(10))
    result = jnn.train.fit(
        model,
        "sparse_softmax_cross_entropy",
        optax.adam(3e-3),
        scaled(train),
        test=scaled(test),
        epochs=8,
        batch_size=64,
        workdir=tmp_path / name,
        log=None,
        progress=False,
        precision=compute,
    )
    return model, result, scaled(test)


@pytest.mark.parametrize("compute", ["bfloat16", "float16"])
def test_a_mixed_fit_matches_float32_accuracy_and_loads_alike(tmp_path, compute):
    _, exact, _ = _digits_fit(tmp_path, "f32", "float32")
    model, mixed, test = _digits_fit(tmp_path, compute, compute)
    assert mixed.state.params["h"]["weight"].dtype == jnp.float32
    assert abs(mixed.test["accuracy"] - exact.test["accuracy"]) <= 0.01
    assert mixed.test["accuracy"] > 0.93
    run = jnn.load_run(tmp_path / compute, model=model)  # the same compute again
    assert run.evaluate(data=test) == pytest.approx(mixed.test, abs=1e-12)
    scale = mixed.state.loss_scale
    if compute == "float16":  # 8 epochs of 23 steps: no overflow, no growth
        assert (float(scale.scale), int(scale.good_steps)) == (2.0**15, 184)
    else:
        assert scale is None


def _scaled_step(loss_scale, factor):
    """A float16 step of a dense layer whose loss is `factor` * its output."""
    model = precision.cast_model(nn.dense(1), "float16")
    loss = lambda y, t: factor * y[:, 0]  # noqa: E731
    step = jax.jit(make_train_step(model, loss, optax.sgd(1.0), guard_nonfinite=True))
    x = jnp.ones((4, 3))
    ts = create(model, optax.sgd(1.0), jax.random.key(0), x, loss_scale=loss_scale)
    return ts, step(ts, Batch(x, jnp.zeros(4), jnp.ones(4)))


def test_loss_scaling_keeps_float16_gradients_that_would_underflow():
    # d loss / d y = 1e-8 / 4 per example: below float16's smallest value.
    _, (_, plain) = _scaled_step(None, 1e-8)
    start = precision.initial_loss_scale("float16")
    ts, (new, logs) = _scaled_step(start, 1e-8)
    assert float(plain["grad_norm"]) == 0.0
    exact = 1e-8 * np.sqrt(3 + 1)  # d/dw = x = 1 (3 weights), d/db = 1
    assert float(logs["grad_norm"]) == pytest.approx(exact, rel=1e-3)
    assert float(logs["loss_scale"]) == 2.0**15 and int(logs["nonfinite"]) == -1
    assert int(new.loss_scale.good_steps) == 1
    assert not np.array_equal(new.params["weight"], ts.params["weight"])


def test_an_overflow_skips_the_update_and_halves_the_scale_not_an_error():
    big = precision.LossScale(jnp.float32(2.0**24), jnp.int32(5))
    ts, (new, logs) = _scaled_step(big, 100.0)  # 2**24 * 25 overflows float16
    np.testing.assert_array_equal(new.params["weight"], ts.params["weight"])
    assert (float(new.loss_scale.scale), int(new.loss_scale.good_steps)) == (
        2.0**23,
        0,
    )
    assert int(logs["nonfinite"]) == -1 and np.isfinite(float(logs["loss"]))
    one = precision.LossScale(jnp.float32(1.0), jnp.int32(0))
    _, (_, logs) = _scaled_step(one, 1e6)  # at scale 1: a real non-finite
    assert int(logs["nonfinite"]) >= 0


def test_the_scale_doubles_after_the_growth_interval_within_bounds():
    interval = precision.GROWTH_INTERVAL
    at = lambda s, g: precision.LossScale(jnp.float32(s), jnp.int32(g))  # noqa: E731
    grown = precision.next_loss_scale(at(8.0, interval - 1), jnp.bool_(True))
    assert (float(grown.scale), int(grown.good_steps)) == (16.0, 0)
    capped = precision.next_loss_scale(at(2.0**24, interval - 1), jnp.bool_(True))
    assert float(capped.scale) == 2.0**24
    floor = precision.next_loss_scale(at(1.0, 7), jnp.bool_(False))
    assert (float(floor.scale), int(floor.good_steps)) == (1.0, 0)
    assert precision.initial_loss_scale("bfloat16") is None
