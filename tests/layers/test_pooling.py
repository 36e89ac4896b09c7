"""Value, gradient and error tests for the pooling layers."""

import itertools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

from jnn.layers.combinators import serial
from jnn.layers.pooling import avg_pool, global_avg_pool, global_max_pool, max_pool

pytestmark = pytest.mark.usefixtures("fast_compiles")


# 1-D (B, W, C) and 2-D (B, H, W, C) inputs; odd sizes make SAME pads asymmetric.
SHAPES = {1: (2, 7, 3), 2: (1, 5, 6, 2)}


def randn(shape, seed=0):
    # NumPy draws: eager jax.random would compile once per shape (slow on CPU).
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), "float32")


def pool(layer, x):
    params, state = layer.init(jr.key(0), x)
    y, new_state = layer.apply(params, state, x)
    assert (params, new_state) == ({}, {})
    return y


def same_pads(n, k, s):
    # TensorFlow's SAME rule, written out here to stay independent of lax.
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


NP_REDUCE = {
    "max": lambda patch: np.nanmax(patch, axis=1),
    "avg": lambda patch: np.nanmean(patch, axis=1),  # NaN pads are skipped
    "avg_include_pad": lambda patch: np.nansum(patch, axis=1) / patch.shape[1],
}


def np_pool(x, window, stride, pads, mode):
    """Explicit-loop NumPy pooling; pads are NaN, so each mode skips or counts them."""
    x = np.asarray(x, np.float64)
    padded = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=np.nan)
    spatial = padded.shape[1:-1]
    out = [(n - k) // s + 1 for n, k, s in zip(spatial, window, stride, strict=True)]
    y = np.empty((x.shape[0], *out, x.shape[-1]))
    for idx in itertools.product(*map(range, out)):
        box = [
            slice(i * s, i * s + k) for i, k, s in zip(idx, window, stride, strict=True)
        ]
        patch = padded[(slice(None), *box, slice(None))]
        patch = patch.reshape(x.shape[0], -1, x.shape[-1])  # (B, prod(window), C)
        y[(slice(None), *idx, slice(None))] = NP_REDUCE[mode](patch)
    return y


def make(mode, window, **kwargs):
    if mode == "max":
        return max_pool(window, **kwargs)
    return avg_pool(window, count_include_pad=mode == "avg_include_pad", **kwargs)


MODES = ["max", "avg", "avg_include_pad"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("rank", [1, 2])
def test_pool_matches_numpy_loops(rank, size, stride, padding, mode):
    x = randn(SHAPES[rank])
    window, strides = (size,) * rank, (stride,) * rank
    layer = make(mode, window, stride=strides, padding=padding)
    # jit: one compile per case instead of one per eager op (jit == eager is
    # checked below).
    y = jax.jit(layer.apply)({}, {}, x)[0]
    pads = ((0, 0),) * rank
    if padding == "SAME":
        pads = tuple(same_pads(n, size, stride) for n in x.shape[1:-1])
    expected = np_pool(x, window, strides, pads, mode)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("padding", "pads"), [(1, ((1, 1), (1, 1))), (((1, 0), (0, 2)), ((1, 0), (0, 2)))]
)
def test_explicit_padding_matches_numpy(padding, pads, mode):
    x = randn((1, 4, 5, 2), 1)
    y = pool(make(mode, (3, 3), stride=(2, 1), padding=padding), x)
    expected = np_pool(x, (3, 3), (2, 1), pads, mode)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_avg_pool_hand_computed_pad_counting():
    x = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    # SAME, window 2, stride 2: pads (0, 1), windows [1 2] [3 4] [5 pad].
    real = pool(avg_pool((2,), padding="same"), x)
    include = pool(avg_pool((2,), padding="SAME", count_include_pad=True), x)
    np.testing.assert_allclose(real.ravel(), [1.5, 3.5, 5.0])
    np.testing.assert_allclose(include.ravel(), [1.5, 3.5, 2.5])


def test_max_pool_padding_never_wins():
    x = -jnp.arange(1.0, 6.0).reshape(1, 5, 1)  # all negative: a 0 pad would win
    y = pool(max_pool((2,), padding="SAME"), x)
    np.testing.assert_array_equal(y.ravel(), [-1.0, -3.0, -5.0])


def test_int_stride_equals_tuple_stride():
    x = randn((1, 6, 6, 1), 1)
    a = pool(avg_pool((3, 3), stride=2, padding="SAME"), x)
    b = pool(avg_pool((3, 3), stride=(2, 2), padding="SAME"), x)
    np.testing.assert_array_equal(a, b)


def test_3d_pool_shapes_and_non_overlapping_identity():
    x = randn((2, 4, 6, 2, 3), 2)  # (B, D, H, W, C)
    y = pool(max_pool((2, 2, 2)), x)
    blocks = x.reshape(2, 2, 2, 3, 2, 1, 2, 3)  # (B, D', 2, H', 2, W', 2, C)
    assert y.shape == (2, 2, 3, 1, 3)
    np.testing.assert_array_equal(y, blocks.max(axis=(2, 4, 6)))
    y = pool(avg_pool((2, 3, 2), stride=(1, 2, 1), padding="SAME"), x)
    assert y.shape == (2, 4, 3, 2, 3)


@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 4, 3, 2), (1, 2, 3, 2, 4)])
def test_global_pools_reduce_spatial_axes(shape):
    x = randn(shape, 3)
    axes = tuple(range(1, len(shape) - 1))
    np.testing.assert_allclose(pool(global_avg_pool(), x), x.mean(axes), rtol=1e-6)
    np.testing.assert_array_equal(pool(global_max_pool(), x), x.max(axes))
    assert pool(global_avg_pool(), x).shape == (shape[0], shape[-1])


def test_global_avg_pool_equals_full_window_avg_pool():
    x = randn((2, 3, 4, 5), 4)
    full = pool(avg_pool((3, 4)), x)  # (B, 1, 1, C)
    np.testing.assert_allclose(pool(global_avg_pool(), x), full[:, 0, 0], rtol=1e-6)


GRAD_LAYERS = {
    "avg_pool": lambda: avg_pool((2, 2), stride=(1, 1), padding="SAME"),
    "avg_pool_include_pad": lambda: avg_pool((3, 2), padding=1, count_include_pad=True),
    "max_pool": lambda: max_pool((2, 2), stride=(1, 2), padding="SAME"),
    "global_avg_pool": global_avg_pool,
    "global_max_pool": global_max_pool,
}


@pytest.mark.parametrize("name", GRAD_LAYERS)
def test_check_grads_float64(name, x64):
    # A permutation has no ties, so max is differentiable at x.
    values = np.random.default_rng(5).permutation(24).astype(np.float64) / 7.0
    x = jnp.asarray(values.reshape(1, 4, 3, 2))
    layer = GRAD_LAYERS[name]()
    params, state = layer.init(jr.key(0), x)

    @jax.jit
    def f(x):
        return layer.apply(params, state, x)[0]

    assert f(x).dtype == jnp.float64
    jax.test_util.check_grads(f, (x,), order=1, modes=["rev"])


@pytest.mark.parametrize("name", GRAD_LAYERS)
def test_jit_matches_eager_and_eval_shape(name):
    layer = GRAD_LAYERS[name]()
    x = randn((2, 5, 4, 3), 6)
    params, state = layer.init(jr.key(0), jax.ShapeDtypeStruct(x.shape, x.dtype))
    traces = []

    def f(x):
        traces.append(1)  # runs only while tracing
        return layer.apply(params, state, x)

    eager = f(x)
    jitted = jax.jit(f)
    np.testing.assert_allclose(jitted(x)[0], eager[0], rtol=1e-6, atol=1e-6)
    assert jax.eval_shape(f, x)[0] == jax.ShapeDtypeStruct(eager[0].shape, x.dtype)
    before = len(traces)
    jitted(x + 1.0)
    assert len(traces) == before  # same shapes: no retrace


CONSTRUCTOR_ERRORS = [
    (lambda: max_pool(2), TypeError, r"max_pool: expected `window` to be a tuple.*"
     r"got 2\. Hint: pass a tuple, e\.g\. window=\(2, 2\)"),
    (lambda: avg_pool(()), ValueError,
     r"`window` of length 1, 2 or 3 \(the spatial rank\), got \(\)"),
    (lambda: max_pool((2,) * 4), ValueError, r"`window` of length 1, 2 or 3"),
    (lambda: max_pool((2, 0)), ValueError, r"`window` entries > 0, got \(2, 0\)"),
    (lambda: max_pool((2, 2.0)), TypeError, r"`window` entries to be ints"),
    (lambda: max_pool((2, 2), stride=(1,)), ValueError,
     r"`stride` of length 2 \(one per spatial axis\), got \(1,\)"),
    (lambda: max_pool((2,), stride=0), ValueError, r"`stride` entries > 0"),
    (lambda: max_pool((2,), stride="1"), TypeError, r"`stride` to be a tuple"),
    (lambda: max_pool((2,), padding="SMAE"), ValueError,
     r"`padding` to be one of \['SAME', 'VALID'\], got 'SMAE'\. "
     r"Hint: did you mean 'SAME'\?"),
    (lambda: avg_pool((2,), padding=-1), ValueError, r"`padding` >= 0, got -1"),
    (lambda: avg_pool((2, 2), padding=((1, 1),)), ValueError,
     r"`padding` \"SAME\", \"VALID\", an int or 2 \(low, high\) pairs"),
    (lambda: avg_pool((2,), padding=((1, -1),)), ValueError, r"`padding` >= 0"),
    (lambda: max_pool((3, 2), padding=2), ValueError,
     r"`padding` < `window` \(3, 2\) on each side, got 2"),
    (lambda: avg_pool((2,), count_include_pad=1), TypeError,
     r"`count_include_pad` to be a bool, got 1"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "error", "match"), CONSTRUCTOR_ERRORS)
def test_constructor_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


INPUT_ERRORS = [
    (max_pool((2, 2)), (8, 8, 3), r"^max_pool: expected input of rank 4 "
     r"\(B, H, W, C\) for a 2-D window, got shape \(8, 8, 3\)\. "
     r"Hint: if x is one example \(H, W, C\), add a batch axis, x\[None\]; "
     r"if x is a batch of single-channel images \(B, H, W\), add the channel "
     r"axis, x\[\.\.\., None\]\.$"),
    (avg_pool((2,)), (1, 2, 4, 3), r"^avg_pool: expected input of rank 3 "
     r"\(B, W, C\) for a 1-D window, got shape \(1, 2, 4, 3\)\.$"),
    (max_pool((3, 3)), (1, 2, 5, 1), r"max_pool: expected `window` \(3, 3\) to fit "
     r"in the padded spatial shape \(2, 5\), got input shape \(1, 2, 5, 1\)"),
    (avg_pool((3,), padding=((1, 0),)), (1, 1, 1), r"expected `window` \(3,\) "
     r"to fit in the padded spatial shape \(2,\)"),
    (max_pool((2,), padding="SAME"), (1, 0, 2), r"expected non-empty spatial axes"),
    (global_avg_pool(), (4, 3), r"^global_avg_pool: expected input of rank >= 3 "
     r"\(B, \*S, C\), got shape \(4, 3\)\.$"),
    (global_max_pool(), (2, 0, 3), r"global_max_pool: expected non-empty spatial"),
]  # fmt: skip


@pytest.mark.parametrize(("layer", "shape", "match"), INPUT_ERRORS)
def test_input_shape_errors_in_init_and_apply(layer, shape, match):
    x = jnp.zeros(shape)
    with pytest.raises(ValueError, match=match):
        layer.init(jr.key(0), jax.ShapeDtypeStruct(shape, jnp.float32))
    with pytest.raises(ValueError, match=match):
        layer.apply({}, {}, x)


@pytest.mark.parametrize("layer", [max_pool((2,)), avg_pool((2,)), global_max_pool()])
def test_integer_input_raises(layer):
    x = jnp.ones((1, 4, 2), jnp.int32)
    with pytest.raises(TypeError, match=r"`x` with a floating dtype, got dtype int32"):
        layer.apply({}, {}, x)


def test_error_names_layer_path():
    model = serial(avg_pool((2,)), max_pool((2, 2)))
    with pytest.raises(ValueError, match=r"^max_pool at '1': expected input of rank 4"):
        model.init(jr.key(0), jnp.zeros((1, 4, 3)))


# Windows that tile the input take a reshape fast path in `max_pool`, with a
# custom VJP; it must match `lax.reduce_window` bitwise, gradients included.
def reduce_window_max(x, window):
    ones = (1,) * (x.ndim - len(window) - 1)
    dims = (1, *window, *ones)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, dims, "VALID")


def tie_input(kind, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "relu":  # many windows of several zeros
        x = np.maximum(x, 0.0)
    elif kind == "integers":  # small integer values: ties everywhere
        x = np.round(1.5 * x)
    elif kind == "signed_zeros":  # -0.0 == +0.0: ties that differ in sign bit
        x = np.where(x < 0, -0.0, 0.0)
    elif kind == "nan":
        x[rng.random(shape) < 0.3] = np.nan
    return jnp.asarray(x, "float32")


def bits(a):
    return np.asarray(a).view(np.int32)


TILED = [
    ((3, 8, 2), (2,)),
    ((2, 6, 4), (3,)),
    ((2, 8, 6, 3), (2, 2)),
    ((1, 6, 4, 2), (3, 2)),
    ((2, 4, 6, 2, 3), (2, 3, 1)),
]
KINDS = ["random", "relu", "integers", "signed_zeros", "nan"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("shape", "window"), TILED)
def test_tiled_max_pool_matches_reduce_window_bitwise(shape, window, kind):
    x = tie_input(kind, shape, len(shape) + len(window))
    layer = max_pool(window, padding="SAME")  # SAME adds no padding here

    def vjps(x, g):
        ours, ours_vjp = jax.vjp(lambda x: layer.apply({}, {}, x)[0], x)
        base, base_vjp = jax.vjp(lambda x: reduce_window_max(x, window), x)
        return ours, base, ours_vjp(g)[0], base_vjp(g)[0]

    out_shape = jax.eval_shape(lambda x: reduce_window_max(x, window), x).shape
    g = tie_input("random", out_shape, 9)
    g = jnp.where(g > 1.0, -0.0, g)  # -0.0 cotangents land as +0.0
    for f in (vjps, jax.jit(vjps)):
        ours, base, dx, base_dx = f(x, g)
        np.testing.assert_array_equal(bits(ours), bits(base))
        np.testing.assert_array_equal(bits(dx), bits(base_dx))


def test_tiled_max_pool_gradient_goes_to_first_max_of_window():
    # Windows [1 3 | 3 0] and [3 2 | 3 3] (2x2); select-and-scatter, like
    # the fast path, sends each window's cotangent to its first maximum.
    x = jnp.array([[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 3.0, 3.0]]).reshape(1, 2, 4, 1)
    g = jnp.array([10.0, 100.0]).reshape(1, 1, 2, 1)
    _, vjp = jax.vjp(lambda x: pool(max_pool((2, 2)), x), x)
    expected = [[0.0, 10.0, 100.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    np.testing.assert_array_equal(vjp(g)[0][0, :, :, 0], expected)


@pytest.mark.parametrize(
    ("window", "kwargs", "fast"),
    [
        ((2, 2), {}, True),
        ((2, 2), {"padding": "SAME"}, True),
        ((2, 2), {"padding": 0}, True),
        ((2, 2), {"stride": 1}, False),  # overlapping windows
        ((3, 2), {}, False),  # 3 does not divide H=4: VALID drops a row
        ((3, 3), {"padding": "SAME"}, False),  # SAME pads
        ((2, 2), {"padding": ((1, 1), (0, 0))}, False),
    ],
)
def test_fast_path_only_when_windows_tile(window, kwargs, fast):
    x = randn((2, 4, 6, 3), 7)
    layer = max_pool(window, **kwargs)
    jaxpr = str(jax.make_jaxpr(lambda x: layer.apply({}, {}, x)[0])(x))
    assert ("custom_vjp_call" in jaxpr) == fast
    assert ("reduce_window_max" in jaxpr) != fast
    stride = (kwargs["stride"],) * 2 if "stride" in kwargs else window
    pads = layer_pads(x.shape, window, stride, kwargs.get("padding", "VALID"))
    expected = np_pool(x, window, stride, pads, "max")
    np.testing.assert_array_equal(jax.jit(layer.apply)({}, {}, x)[0], expected)


def layer_pads(shape, window, stride, padding):
    if padding == "SAME":
        spatial = zip(shape[1:-1], window, stride, strict=True)
        return tuple(same_pads(n, k, s) for n, k, s in spatial)
    if padding in ("VALID", 0):
        return ((0, 0),) * len(window)
    return padding
