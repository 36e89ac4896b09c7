"""Value tests for `batch_norm`, `layer_norm` and `group_norm` (NumPy references)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

from jnn import layers
from jnn.layers.norm import batch_norm, group_norm, layer_norm

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate

EPS = 1e-5


def np_norm(x, axes, mean=None, var=None, scale=None, bias=None):
    """Textbook normalisation in float64; stats over `axes` unless given."""
    x = np.asarray(x, np.float64)
    if mean is None:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)  # biased (ddof=0)
    y = (x - mean) / np.sqrt(var + EPS)
    if scale is not None:
        y = y * np.asarray(scale, np.float64)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y


def randn(rng, shape, loc=0.0, std=1.0, dtype=jnp.float32):
    return jnp.asarray(loc + std * rng.standard_normal(shape), dtype)


def random_affine(rng, channels):
    return {
        "scale": randn(rng, (channels,), loc=1.0, std=0.5),
        "bias": randn(rng, (channels,)),
    }


def random_state(rng, channels):
    return {
        "mean": randn(rng, (channels,)),
        "var": jnp.asarray(rng.uniform(0.5, 2.0, channels), jnp.float32),
    }


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)


def fwd(layer, params, state, x, train=False):
    """Jitted apply: one compile per test instead of one per eager op."""
    return jax.jit(layer.apply, static_argnames="train")(params, state, x, train=train)


SHAPES = pytest.mark.parametrize("shape", [(5, 3), (3, 2, 2, 4)], ids=["BF", "BHWC"])


# --------------------------------------------------------------------------
# batch_norm against the textbook formula.


@SHAPES
def test_batch_norm_train_uses_batch_stats_and_updates_running(shape):
    rng = np.random.default_rng(0)
    c, axes = shape[-1], tuple(range(len(shape) - 1))
    x = randn(rng, shape, loc=2.0, std=3.0)
    params, state = random_affine(rng, c), random_state(rng, c)
    y, new = fwd(batch_norm(momentum=0.8), params, state, x, train=True)
    close(y, np_norm(x, axes, scale=params["scale"], bias=params["bias"]))
    x64 = np.asarray(x, np.float64)
    mean, var = x64.mean(axis=axes), x64.var(axis=axes)  # biased variance
    close(new["mean"], 0.8 * np.asarray(state["mean"]) + 0.2 * mean)
    close(new["var"], 0.8 * np.asarray(state["var"]) + 0.2 * var)


@SHAPES
def test_batch_norm_eval_uses_running_stats_and_keeps_state(shape):
    rng = np.random.default_rng(1)
    c = shape[-1]
    x = randn(rng, shape, loc=2.0, std=3.0)
    params, state = random_affine(rng, c), random_state(rng, c)
    y, new = fwd(batch_norm(), params, state, x, train=False)
    mean, var = np.asarray(state["mean"]), np.asarray(state["var"])
    close(y, np_norm(x, None, mean, var, params["scale"], params["bias"]))
    for name in ("mean", "var"):  # returned unchanged, not updated
        np.testing.assert_array_equal(new[name], state[name])


def test_batch_norm_init_tree_and_disabled_params(key):
    x = jnp.zeros((2, 3, 3, 4))
    params, state = batch_norm().init(key, x)
    np.testing.assert_array_equal(params["scale"], np.ones(4))
    np.testing.assert_array_equal(params["bias"], np.zeros(4))
    np.testing.assert_array_equal(state["mean"], np.zeros(4))
    np.testing.assert_array_equal(state["var"], np.ones(4))
    assert sorted(params) == ["bias", "scale"] and sorted(state) == ["mean", "var"]
    bare = batch_norm(use_scale=False, use_bias=False).init(key, x)[0]
    assert bare == {}
    assert list(batch_norm(use_scale=False).init(key, x)[0]) == ["bias"]


def test_batch_norm_running_stats_converge_to_dataset_stats():
    rng = np.random.default_rng(2)
    data = 3.0 + 2.0 * rng.standard_normal((8192, 2))  # N(3, 2^2) features
    layer = batch_norm(momentum=0.9)
    params, state = layer.init(jr.key(0), jnp.zeros((1, 2)))
    step = jax.jit(lambda s, x: layer.apply(params, s, x, train=True)[1])
    batches = jnp.asarray(data.reshape(8, 1024, 2), jnp.float32)
    for _ in range(10):  # 80 batches: 0.9**80 ~ 2e-4 of the (0, 1) init remains
        for xb in batches:
            state = step(state, xb)
    # Tolerances: ~4 sigma of the EMA noise of 1024-row batch statistics.
    np.testing.assert_allclose(state["mean"], data.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(state["var"], data.var(axis=0), rtol=0.05)


def test_batch_norm_eval_output_is_independent_of_the_batch():
    rng = np.random.default_rng(3)
    x = randn(rng, (6, 3), loc=1.0, std=2.0)
    params, state = random_affine(rng, 3), random_state(rng, 3)
    layer = batch_norm()
    alone = fwd(layer, params, state, x[:1])[0]
    batched = fwd(layer, params, state, x)[0]
    np.testing.assert_array_equal(alone[0], batched[0])
    alone_train = fwd(layer, params, state, x[:1], train=True)[0]
    batched_train = fwd(layer, params, state, x, train=True)[0]
    assert not np.allclose(alone_train[0], batched_train[0], atol=1e-2)


# --------------------------------------------------------------------------
# layer_norm and group_norm against NumPy and identities.


def test_layer_norm_matches_numpy():
    rng = np.random.default_rng(4)
    x = randn(rng, (2, 3, 5), loc=-4.0, std=2.0)
    params = random_affine(rng, 5)
    y, state = fwd(layer_norm(), params, {}, x)
    close(y, np_norm(x, -1, scale=params["scale"], bias=params["bias"]))
    assert state == {}


def test_group_norm_matches_numpy():
    rng = np.random.default_rng(5)
    x = randn(rng, (2, 3, 3, 6), loc=1.0, std=2.0)
    params = random_affine(rng, 6)
    y = fwd(group_norm(3), params, {}, x)[0]
    xg = np.asarray(x, np.float64).reshape(2, 3, 3, 3, 2)  # (B, H, W, G, C/G)
    want = np_norm(xg, (1, 2, 4)).reshape(x.shape)
    close(y, want * np.asarray(params["scale"]) + np.asarray(params["bias"]))


def test_group_norm_with_one_group_per_channel_is_instance_norm():
    rng = np.random.default_rng(6)
    x = randn(rng, (2, 3, 3, 4), loc=1.0, std=2.0)
    layer = group_norm(4, use_scale=False, use_bias=False)
    close(fwd(layer, {}, {}, x)[0], np_norm(x, (1, 2)))  # per (example, channel)


def test_group_norm_with_one_group_is_layer_norm_over_spatial_and_channels(key):
    rng = np.random.default_rng(7)
    x = randn(rng, (2, 3, 3, 4), loc=1.0, std=2.0)
    gn, ln = group_norm(1), layer_norm()
    gp = gn.init(key, x)[0]
    y = fwd(gn, gp, {}, x)[0]
    flat = x.reshape(2, -1)  # layer norm over (H, W, C) at once
    y_ln = fwd(ln, ln.init(key, flat)[0], {}, flat)[0].reshape(x.shape)
    close(y, np.asarray(y_ln, np.float64))


LOW_PRECISION = [  # (layer, x (4, 64) -> view, stats axes of the view)
    (layer_norm, (4, 64), -1),
    (batch_norm, (4, 64), 0),
    (lambda **kw: group_norm(2, **kw), (4, 2, 32), -1),
]


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_low_precision_input_is_normalised_in_float32(dtype):
    # Mean 1000, std 1: float16 keeps 0.5 steps near 1000 (bfloat16 4), so
    # statistics taken in the input dtype are off by a large fraction of the
    # std (measured: errors > 1); float32 statistics of the same input are exact.
    rng = np.random.default_rng(8)
    x = randn(rng, (4, 64), loc=1000.0, std=1.0, dtype=dtype)
    for make, view, axes in LOW_PRECISION:
        want = np_norm(np.asarray(x, np.float64).reshape(view), axes).reshape(4, 64)
        layer = make(use_scale=False, use_bias=False)
        state = layer.init(jr.key(0), x)[1]
        y = fwd(layer, {}, state, x, train=True)[0]
        assert y.dtype == dtype
        np.testing.assert_allclose(np.asarray(y, np.float64), want, atol=0.05)


# --------------------------------------------------------------------------
# Contract checks: grads in float64, jit == eager, state structure.

CASES = [
    ("batch_norm_train", lambda dt: batch_norm(param_dtype=dt), (4, 3), True),
    ("batch_norm_eval", lambda dt: batch_norm(param_dtype=dt), (3, 2, 2, 2), False),
    ("layer_norm", lambda dt: layer_norm(param_dtype=dt), (2, 3), False),
    ("group_norm", lambda dt: group_norm(2, param_dtype=dt), (2, 2, 2, 4), False),
]
by_case = pytest.mark.parametrize(
    "make,shape,train", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)


def perturbed(params, state, rng):
    """Move params and state off their init values so grads see every path."""

    def shift(a):
        return a + jnp.asarray(0.3 * rng.standard_normal(a.shape), a.dtype)

    state = {
        k: (jnp.abs(shift(v)) if k == "var" else shift(v)) for k, v in state.items()
    }
    return jax.tree_util.tree_map(shift, params), state


@by_case
def test_check_grads_float64(make, shape, train, x64):
    rng = np.random.default_rng(9)
    layer = make(jnp.float64)
    x = randn(rng, shape, dtype=jnp.float64)
    params, state = perturbed(*layer.init(jr.key(0), x), rng)
    assert params["scale"].dtype == jnp.float64 == x.dtype

    @jax.jit
    def f(p, x):
        return layer.apply(p, state, x, train=train)[0]  # y only, not state

    jax.test_util.check_grads(f, (params, x), order=1, modes=["rev"])


@by_case
def test_jit_matches_eager_and_state_keeps_structure(make, shape, train):
    rng = np.random.default_rng(10)
    layer = make(jnp.float32)
    x = randn(rng, shape, loc=1.0, std=2.0)
    params, state = perturbed(*layer.init(jr.key(0), x), rng)
    eager = layer.apply(params, state, x, train=train)
    jitted = jax.jit(lambda p, s, x: layer.apply(p, s, x, train=train))
    got = jitted(params, state, x)
    flat_got, flat_eager = (
        jax.tree_util.tree_leaves(got),
        jax.tree_util.tree_leaves(eager),
    )
    for a, b in zip(flat_got, flat_eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    spec = jax.eval_shape(
        lambda p, s, x: layer.apply(p, s, x, train=train), params, state, x
    )
    assert spec[0].shape == x.shape and spec[0].dtype == x.dtype
    assert jax.tree_util.tree_structure(eager[1]) == jax.tree_util.tree_structure(state)
    assert [a.dtype for a in jax.tree_util.tree_leaves(eager[1])] == [
        a.dtype for a in jax.tree_util.tree_leaves(state)
    ]


# --------------------------------------------------------------------------
# Documented errors.


@pytest.mark.parametrize("momentum", [1.0, -0.1, 1.5])
def test_batch_norm_rejects_momentum_outside_unit_interval(momentum):
    with pytest.raises(
        ValueError, match=r"batch_norm: expected `momentum` in \[0, 1\)"
    ):
        batch_norm(momentum=momentum)


@pytest.mark.parametrize(
    "make", [batch_norm, layer_norm, lambda **kw: group_norm(2, **kw)]
)
def test_norms_reject_bad_hyperparameters(make):
    with pytest.raises(ValueError, match=r"norm: expected `eps` > 0, got 0.0"):
        make(eps=0.0)
    with pytest.raises(ValueError, match=r"norm: expected `eps` finite"):
        make(eps=float("nan"))
    with pytest.raises(TypeError, match=r"norm: expected `eps` to be a number"):
        make(eps="1e-5")
    with pytest.raises(TypeError, match=r"norm: expected `use_scale` to be a bool"):
        make(use_scale=1)
    with pytest.raises(TypeError, match=r"norm: expected a floating `param_dtype`"):
        make(param_dtype=jnp.int32)


def test_batch_norm_rejects_non_number_momentum():
    with pytest.raises(
        TypeError, match=r"batch_norm: expected `momentum` to be a number"
    ):
        batch_norm(momentum="0.9")


def test_group_norm_rejects_bad_num_groups(key):
    with pytest.raises(ValueError, match=r"group_norm: expected `num_groups` > 0"):
        group_norm(0)
    with pytest.raises(
        TypeError, match=r"group_norm: expected `num_groups` to be an int"
    ):
        group_norm(2.0)
    msg = r"divisible by `num_groups`=3, got C=4 \(shape \(2, 5, 4\)\)"
    with pytest.raises(ValueError, match=msg):
        group_norm(3).init(key, jnp.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=msg):
        group_norm(3, use_scale=False, use_bias=False).apply(
            {}, {}, jnp.zeros((2, 5, 4))
        )


@pytest.mark.parametrize(
    "make,legend",
    [
        (batch_norm, r"rank >= 2 \(B, \*spatial, C\)"),
        (layer_norm, r"rank >= 1 \(\*B, F\)"),
        (lambda: group_norm(1), r"rank >= 2 \(B, \*spatial, C\)"),
    ],
)
def test_norms_reject_rank_0_input(make, legend, key):
    layer = make()
    with pytest.raises(
        ValueError, match=rf"norm: expected input of {legend}, got shape \(\)"
    ):
        layer.init(key, jnp.zeros(()))
    params, state = layer.init(key, jnp.zeros((2, 4)))
    with pytest.raises(
        ValueError, match=rf"expected input of {legend}, got shape \(\)"
    ):
        layer.apply(params, state, jnp.zeros(()))


def test_norms_reject_channel_mismatch_and_integer_input(key):
    for layer in (batch_norm(), layer_norm(), group_norm(1)):
        params, state = layer.init(key, jnp.zeros((2, 4)))
        with pytest.raises(ValueError, match=r"expected input with 4 channels"):
            layer.apply(params, state, jnp.zeros((2, 3)))
        with pytest.raises(TypeError, match=r"expected `x` with a floating dtype"):
            layer.apply(params, state, jnp.zeros((2, 4), jnp.int32))


def test_errors_carry_the_key_path_through_combinators(key):
    model = layers.named(hidden=layers.dense(4), norm=group_norm(3))
    with pytest.raises(ValueError, match=r"^group_norm at 'norm': expected channels C"):
        model.init(key, jnp.zeros((2, 3)))
