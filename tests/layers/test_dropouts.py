"""Value and error tests for `dropout` (inverted dropout)."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import layers


def normal(shape, seed=0):
    """Float32 N(0, 1) inputs from NumPy (eager jax.random compiles per shape)."""
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


# Every training-mode test draws masks of this one shape: each new shape
# costs a threefry compile (~1 s on CPU), the 100k draws themselves ~1 ms.
N = 100_000


def train_apply(layer, x, key):
    return layer.apply({}, {}, x, key=key, train=True)[0]


@pytest.mark.parametrize("key", [None, jr.key(0)], ids=["no_key", "key"])
def test_eval_mode_is_identity(key):
    layer = layers.dropout(0.5)
    x = normal((4, 5), seed=1)
    params, state = layer.init(jr.key(0), x)
    y, new_state = layer.apply(params, state, x, key=key, train=False)
    assert params == state == new_state == {}
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("drop_rate", [0.1, 0.5, 0.9])
def test_drop_fraction_within_three_sigma(drop_rate):
    y = np.asarray(train_apply(layers.dropout(drop_rate), jnp.ones(N), jr.key(2)))
    fraction = np.mean(y == 0.0)
    sigma = np.sqrt(drop_rate * (1 - drop_rate) / N)  # binomial proportion
    assert abs(fraction - drop_rate) < 3 * sigma


@pytest.mark.parametrize("drop_rate", [0.25, 0.6])
def test_kept_elements_scaled_by_inverse_keep_rate(drop_rate):
    x = jnp.asarray(np.random.default_rng(3).uniform(0.5, 2.0, N), jnp.float32)
    y = np.asarray(train_apply(layers.dropout(drop_rate), x, jr.key(4)))
    kept = y != 0.0
    assert 0 < kept.sum() < N
    np.testing.assert_allclose(
        y[kept], np.asarray(x)[kept] / (1 - drop_rate), rtol=1e-6
    )


@pytest.mark.parametrize("drop_rate", [0.2, 0.7])
def test_mean_is_preserved(drop_rate):
    y = np.asarray(train_apply(layers.dropout(drop_rate), jnp.ones(N), jr.key(5)))
    # Each element is 1/(1-p) w.p. 1-p, else 0: mean 1, variance p/(1-p).
    sigma = np.sqrt(drop_rate / (1 - drop_rate) / N)
    assert abs(y.mean() - 1.0) < 3 * sigma


def test_zero_drop_rate_is_identity_even_in_training():
    x = normal((N,), seed=1)
    y, _ = layers.dropout(0.0).apply({}, {}, x, key=jr.key(0), train=True)
    np.testing.assert_array_equal(y, x)


def test_keeps_dtype():
    x = jnp.ones(N, jnp.bfloat16)
    y = train_apply(layers.dropout(0.5), x, jr.key(0))
    assert y.dtype == jnp.bfloat16
    assert set(np.unique(np.asarray(y, np.float32))) <= {0.0, 2.0}


def test_gradient_is_mask_times_scale():
    layer = layers.dropout(0.5)
    x = normal((N,), seed=1)
    y = train_apply(layer, x, jr.key(6))
    grad = jax.grad(lambda x: train_apply(layer, x, jr.key(6)).sum())(x)
    np.testing.assert_array_equal(grad, np.where(np.asarray(y) != 0, 2.0, 0.0))


def test_jit_with_static_train_matches_eager():
    layer = layers.dropout(0.5)
    x = normal((N,), seed=1)
    apply = jax.jit(layer.apply, static_argnames=("train",))
    eager, _ = layer.apply({}, {}, x, key=jr.key(7), train=True)
    jitted, _ = apply({}, {}, x, key=jr.key(7), train=True)
    np.testing.assert_array_equal(jitted, eager)


def test_serial_gives_each_dropout_its_own_key():
    model = layers.serial(layers.dropout(0.5), layers.dropout(0.5))
    params, state = model.init(jr.key(0), jnp.ones(N))
    y, _ = model.apply(params, state, jnp.ones(N), key=jr.key(8), train=True)
    # Independent masks keep 1/4 of the elements; one shared mask would keep 1/2.
    kept = np.mean(np.asarray(y) != 0.0)
    assert abs(kept - 0.25) < 3 * np.sqrt(0.25 * 0.75 / N)


@pytest.mark.parametrize("drop_rate", [-0.1, 1.0, 1.5])
def test_drop_rate_out_of_range_raises(drop_rate):
    with pytest.raises(
        ValueError,
        match=rf"dropout: expected `drop_rate` in \[0, 1\), got {drop_rate}\.",
    ):
        layers.dropout(drop_rate)


@pytest.mark.parametrize("drop_rate", ["0.5", True, None])
def test_drop_rate_not_a_number_raises(drop_rate):
    with pytest.raises(
        TypeError, match=r"dropout: expected `drop_rate` to be a number"
    ):
        layers.dropout(drop_rate)


NO_KEY = (
    r"expected a PRNG `key` when train=True, got None\. "
    r"Hint: pass a PRNG key when training"
)


def test_train_without_key_raises():
    with pytest.raises(ValueError, match=r"^dropout: " + NO_KEY):
        layers.dropout(0.5).apply({}, {}, jnp.ones(3), train=True)


@pytest.mark.parametrize(
    ("wrap", "where"),
    [
        (functools.partial(layers.serial, layers.relu()), "dropout at '1'"),
        (lambda d: layers.named(drop=d), "dropout at 'drop'"),
    ],
)
def test_train_without_key_inside_combinator_names_path(wrap, where):
    model = wrap(layers.dropout(0.5))
    params, state = model.init(jr.key(0), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"^{where}: " + NO_KEY):
        model.apply(params, state, jnp.ones((2, 3)), train=True)


def test_dropout_rejects_integer_input():
    with pytest.raises(TypeError, match="dropout: expected `x` with a floating dtype"):
        layers.dropout(0.3).apply({}, {}, jnp.arange(1, 7), key=jr.key(0), train=True)


def test_spatial_dropout_drops_whole_channels_at_the_rate():
    x = jnp.ones((512, 3, 3, 16))
    y, _ = layers.spatial_dropout(0.25).apply({}, {}, x, key=jr.key(7), train=True)
    y = np.asarray(y)
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :1, :], y.shape))
    per_channel = y[:, 0, 0, :]
    assert set(np.unique(per_channel)) == {0.0, np.float32(1 / 0.75)}
    dropped = float(np.mean(per_channel == 0))
    assert abs(dropped - 0.25) < 3 * np.sqrt(0.25 * 0.75 / per_channel.size)


def test_spatial_dropout_eval_is_identity_and_checks_rank():
    x = jnp.arange(24.0).reshape(2, 3, 4)
    y, _ = layers.spatial_dropout(0.5).apply({}, {}, x)
    np.testing.assert_array_equal(y, x)
    with pytest.raises(
        ValueError, match=r"rank >= 3 \(B, \*spatial, C\), got shape \(2, 4\)"
    ):
        layers.spatial_dropout(0.5).apply({}, {}, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="spatial_dropout: expected a PRNG `key`"):
        layers.spatial_dropout(0.5).apply({}, {}, x, train=True)
