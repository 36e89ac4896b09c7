"""Value, identity, adjoint, gradient and error tests for `conv` / `conv_transpose`.

The reference `np_conv` loops over output positions and kernel taps in float64.
"""

import itertools

import jax
import jax.numpy as jnp
import jax.random as jr
import jax.test_util
import numpy as np
import pytest

from jnn import layers
from jnn.layers.convolution import conv, conv_transpose

pytestmark = pytest.mark.usefixtures("fast_compiles")

F64 = {"param_dtype": jnp.float64}


def spec(shape, dtype=jnp.float32):
    return jax.ShapeDtypeStruct(shape, dtype)


def randn(shape, seed=0, dtype=jnp.float64):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def random_params(layer, x_shape, seed=0, dtype=jnp.float64):
    """Normal params shaped as `layer.init` makes them, drawn by NumPy (no compile)."""
    shapes = jax.eval_shape(layer.init, jr.key(0), spec(x_shape, dtype))[0]
    return jax.tree_util.tree_map(lambda s: randn(s.shape, seed, s.dtype), shapes)


def run(layer, params, x):
    """Apply `layer` (stateless) under one jit: one compile, not one per op."""
    return jax.jit(lambda p, x: layer.apply(p, {}, x)[0])(params, x)


def out_shape(layer, x_shape, dtype=jnp.float32):
    """Output shape of `layer` for `x_shape`, traced but not compiled."""
    params = jax.eval_shape(layer.init, jr.key(0), spec(x_shape, dtype))[0]

    def apply(p, x):
        return layer.apply(p, {}, x)[0]

    return jax.eval_shape(apply, params, spec(x_shape, dtype)).shape


def reference_window(kwargs, size, kernel):
    """Return stride, dilation and (low, high) pads per axis from conv kwargs."""
    rank = len(kernel)
    stride, dilation = (kwargs.get(k, 1) for k in ("stride", "dilation"))
    stride = (stride,) * rank if isinstance(stride, int) else stride
    dilation = (dilation,) * rank if isinstance(dilation, int) else dilation
    padding = kwargs.get("padding", "SAME")
    if padding == "SAME":  # XLA/TF: total = max((ceil(S / s) - 1) * s + K' - S, 0)
        totals = [
            max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            for n, k, s, d in zip(size, kernel, stride, dilation, strict=True)
        ]
        padding = [(t // 2, t - t // 2) for t in totals]
    elif padding == "VALID":
        padding = [(0, 0)] * rank
    elif isinstance(padding, int):
        padding = [(padding, padding)] * rank
    return stride, dilation, padding


def np_conv(x, w, stride, dilation, pads, groups):
    """Cross-correlate x (B, *S, C) with w (*K, C // groups, F) by direct loops."""
    batch, *size, _ = x.shape
    *kernel, c_group, features = w.shape
    f_group = features // groups
    axes = list(zip(size, kernel, stride, dilation, pads, strict=True))
    out = [(n + lo + hi - (k - 1) * d - 1) // s + 1 for n, k, s, d, (lo, hi) in axes]
    y = np.zeros((batch, *out, features))
    for o, k in itertools.product(np.ndindex(*out), np.ndindex(*kernel)):
        # Input position of tap k for output o, per spatial axis.
        pos = [o[i] * s - lo + k[i] * d for i, (_, _, s, d, (lo, _)) in enumerate(axes)]
        if not all(0 <= p < n for p, n in zip(pos, size, strict=True)):
            continue  # the tap falls on zero padding
        for g in range(groups):
            c_in = slice(g * c_group, (g + 1) * c_group)
            c_out = slice(g * f_group, (g + 1) * f_group)
            patch = x[(slice(None), *pos, c_in)]  # (B, C // groups)
            y[(slice(None), *o, c_out)] += patch @ w[(*k, slice(None), c_out)]
    return y


REFERENCE_CASES = [
    # (kernel_size, x_shape, features, kwargs)
    ((3,), (2, 7, 2), 3, {}),
    ((3,), (2, 7, 2), 3, {"padding": "VALID"}),
    ((3,), (2, 7, 2), 3, {"padding": 2}),
    ((4,), (2, 7, 2), 3, {"padding": ((2, 1),)}),
    ((3,), (2, 8, 2), 3, {"stride": 2}),
    ((4,), (2, 7, 2), 3, {"stride": 2}),
    ((3,), (2, 9, 2), 3, {"dilation": 2, "padding": "VALID"}),
    ((3,), (2, 7, 4), 6, {"groups": 2}),
    ((3,), (2, 7, 3), 6, {"groups": 3}),  # depthwise, channel multiplier 2
    ((3, 3), (2, 5, 6, 2), 3, {}),
    ((2, 3), (1, 5, 6, 2), 3, {"padding": "VALID"}),
    ((3, 3), (1, 5, 5, 2), 3, {"padding": 1}),
    ((3, 2), (1, 5, 5, 2), 3, {"padding": ((1, 0), (0, 2))}),
    ((3, 3), (1, 6, 7, 2), 3, {"stride": 2}),
    ((3, 3), (1, 7, 7, 2), 3, {"stride": (2, 1), "padding": "VALID"}),
    ((3, 3), (1, 7, 6, 2), 3, {"dilation": 2}),
    ((3, 3), (1, 5, 5, 4), 2, {"groups": 2}),
    ((3, 3), (1, 5, 5, 3), 3, {"groups": 3, "stride": 2}),  # depthwise
    ((2, 2, 2), (1, 3, 4, 3, 2), 2, {"padding": "VALID"}),
    ((2, 3, 2), (1, 3, 4, 3, 2), 2, {"stride": 2}),
]


@pytest.mark.parametrize("kernel_size,x_shape,features,kwargs", REFERENCE_CASES)
def test_conv_matches_numpy_reference(x64, kernel_size, x_shape, features, kwargs):
    layer = conv(features, kernel_size, **kwargs, **F64)
    x = randn(x_shape, seed=1)
    params = random_params(layer, x_shape)
    y = run(layer, params, x)
    window = reference_window(kwargs, x_shape[1:-1], kernel_size)
    w, groups = np.asarray(params["weight"]), kwargs.get("groups", 1)
    expected = np_conv(np.asarray(x), w, *window, groups) + np.asarray(params["bias"])
    assert y.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-10, atol=1e-10)


def column(*values):
    return jnp.array(values).reshape(-1, 1, 1)  # (K, 1, 1) weight or (1, S, 1) x


def test_conv_1d_hand_computed():
    # Cross-correlation (no kernel flip) of [1, 2, 3, 4] with [1, 0, -1], + 0.5.
    params = {"weight": column(1.0, 0.0, -1.0), "bias": jnp.array([0.5])}
    x = column(1.0, 2.0, 3.0, 4.0).reshape(1, 4, 1)
    y, _ = conv(1, (3,), padding="VALID").apply(params, {}, x)
    np.testing.assert_allclose(y.ravel(), [1 - 3 + 0.5, 2 - 4 + 0.5])
    # SAME pads one zero each side: [0, 1, 2, 3, 4, 0].
    y, _ = conv(1, (3,)).apply(params, {}, x)
    np.testing.assert_allclose(y.ravel(), [-2 + 0.5, -2 + 0.5, -2 + 0.5, 3 + 0.5])


def test_conv_2d_hand_computed():
    x = jnp.arange(9.0).reshape(1, 3, 3, 1)  # [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    params = {"weight": jnp.ones((2, 2, 1, 1))}
    y, _ = conv(1, (2, 2), padding="VALID", use_bias=False).apply(params, {}, x)
    np.testing.assert_allclose(y[0, :, :, 0], [[8, 12], [20, 24]])  # 2x2 window sums
    # Stride 2, SAME: out 2x2, total pad 1 per axis, all of it after (low 0, high 1).
    y, _ = conv(1, (2, 2), stride=2, use_bias=False).apply(params, {}, x)
    np.testing.assert_allclose(y[0, :, :, 0], [[8, 2 + 5], [6 + 7, 8]])


def test_conv_transpose_1d_hand_computed():
    # Stride 2 dilates [1, 2] to [1, 0, 2]; SAME pads (2, 1): [0, 0, 1, 0, 2, 0],
    # then correlates with the kernel [1, 2, 3]: [3, 2, 1 + 6, 4].
    params = {"weight": column(1.0, 2.0, 3.0), "bias": jnp.zeros(1)}
    x = column(1.0, 2.0).reshape(1, 2, 1)
    y, _ = conv_transpose(1, (3,), stride=2).apply(params, {}, x)
    np.testing.assert_allclose(y.ravel(), [3.0, 2.0, 7.0, 4.0])


def test_1x1_conv_equals_dense_over_channels(x64):
    x = randn((2, 4, 5, 3), seed=1)
    layer = conv(6, (1, 1), **F64)
    params = random_params(layer, x.shape)
    dense_params = {"weight": params["weight"].reshape(3, 6), "bias": params["bias"]}
    expected = run(layers.dense(6), dense_params, x)
    np.testing.assert_allclose(run(layer, params, x), expected, rtol=1e-12)


ADJOINT_CASES = [
    # (kernel_size, conv input spatial shape, padding, dilation); stride 2
    ((3,), (8,), "SAME", 1),
    ((4,), (8,), "SAME", 1),
    ((3,), (7,), "VALID", 1),
    ((1,), (6,), "VALID", 1),  # kernel smaller than stride
    ((3,), (8,), "SAME", 2),
    ((3,), (9,), "VALID", 2),
    ((3, 3), (6, 4), "SAME", 1),
    ((4, 3), (8, 7), "VALID", 1),
]


@pytest.mark.parametrize("kernel_size,spatial,padding,dilation", ADJOINT_CASES)
def test_conv_transpose_is_conv_adjoint(x64, kernel_size, spatial, padding, dilation):
    rank = len(kernel_size)
    window = dict(stride=2, padding=padding, dilation=dilation, use_bias=False)
    fwd = conv(4, kernel_size, **window, **F64)
    x = randn((2, *spatial, 3), seed=1)
    params = random_params(fwd, x.shape)

    @jax.jit
    def conv_and_vjp(x, u):
        y, vjp = jax.vjp(lambda x: fwd.apply(params, {}, x)[0], x)
        return y, vjp(u)[0]

    u = randn(out_shape(fwd, x.shape, jnp.float64), seed=2)
    y, x_vjp = conv_and_vjp(x, u)
    # The documented mapping: flip the spatial axes and swap C_in with C_out.
    weight = np.flip(params["weight"], tuple(range(rank))).swapaxes(-2, -1)
    xt = run(conv_transpose(3, kernel_size, **window, **F64), {"weight": weight}, u)
    assert xt.shape == x.shape
    inner_y, inner_x = float(jnp.vdot(y, u)), float(jnp.vdot(x, xt))
    np.testing.assert_allclose(inner_y, inner_x, rtol=1e-5)
    np.testing.assert_allclose(xt, x_vjp, rtol=1e-10, atol=1e-10)  # == conv's VJP


S2_VALID = {"stride": 2, "padding": "VALID"}


@pytest.mark.parametrize(
    ("make", "spatial", "expected"),
    [
        # conv_transpose: S * stride ("SAME"), S * stride + max(K' - stride, 0)
        (lambda: conv_transpose(5, (3,)), (5,), (5,)),
        (lambda: conv_transpose(5, (3,), stride=2), (5,), (10,)),
        (lambda: conv_transpose(5, (3,), padding="VALID"), (5,), (7,)),
        (lambda: conv_transpose(5, (3,), **S2_VALID), (5,), (11,)),
        (lambda: conv_transpose(5, (1,), **S2_VALID), (5,), (10,)),  # K < stride
        (lambda: conv_transpose(5, (3,), **S2_VALID, dilation=2), (5,), (13,)),
        (lambda: conv_transpose(5, (3, 3), stride=(2, 1)), (4, 3), (8, 3)),
        (lambda: conv_transpose(5, (4, 2), **S2_VALID), (3, 3), (8, 6)),
        (lambda: conv_transpose(5, (2, 2, 2), stride=2), (2, 3, 1), (4, 6, 2)),
        # conv in 3-D: ceil(S / stride) ("SAME"), S - K + 1 ("VALID")
        (lambda: conv(5, (3, 3, 3), stride=2), (5, 6, 7), (3, 3, 4)),
        (lambda: conv(5, (3, 3, 3), padding="VALID"), (5, 6, 7), (3, 4, 5)),
    ],
)
def test_output_shape(make, spatial, expected):
    assert out_shape(make(), (2, *spatial, 3)) == (2, *expected, 5)


@pytest.mark.parametrize(
    ("make", "channels", "fan_in"),
    [
        # Same weight shape for both, so the initializer compiles once.
        (lambda: conv(64, (3, 3), groups=2), 8, 36),
        (lambda: conv_transpose(64, (3, 3)), 4, 36),
    ],
)
def test_default_init_is_lecun_normal_over_receptive_field(make, channels, fan_in):
    layer = make()
    x_spec = spec((1, 5, 5, channels))
    params, state = jax.jit(lambda k: layer.init(k, x_spec))(jr.key(0))
    assert state == {}
    assert params["weight"].shape == (3, 3, 4, 64)
    assert params["weight"].dtype == jnp.float32
    np.testing.assert_array_equal(params["bias"], np.zeros(64))
    # Var 1 / fan_in; ~4.6k samples put the std within a few percent.
    assert abs(float(jnp.std(params["weight"])) * np.sqrt(fan_in) - 1.0) < 0.05


def test_construction_positional_keyword_and_edge_sizes():
    for layer in (conv(1, [3]), conv(features=1, kernel_size=(1,), use_bias=False)):
        assert out_shape(layer, (2, 5, 3)) == (2, 5, 1)
    params = random_params(conv(1, (1,), use_bias=False), (2, 5, 3))
    assert list(params) == ["weight"]


GRAD_CASES = [
    (lambda: conv(2, (2, 2), stride=2, groups=2, **F64), (1, 3, 3, 2)),
    (lambda: conv(2, (3,), padding=((1, 0),), dilation=2, **F64), (2, 5, 1)),
    (lambda: conv_transpose(2, (2, 2), stride=2, padding="VALID", **F64), (1, 2, 2, 1)),
]


@pytest.mark.parametrize(("make", "x_shape"), GRAD_CASES)
def test_check_grads_float64(x64, make, x_shape):
    layer = make()
    params = random_params(layer, x_shape)
    f = jax.jit(lambda p, x: layer.apply(p, {}, x)[0])
    jax.test_util.check_grads(f, (params, randn(x_shape, 1)), order=1, modes=["rev"])


CONTRACT_CASES = [
    (lambda: conv(3, (3, 3), stride=2, groups=1), (2, 5, 4, 2)),
    (lambda: conv_transpose(3, (3, 3), stride=2), (2, 3, 2, 2)),
]


@pytest.mark.parametrize(("make", "x_shape"), CONTRACT_CASES)
def test_layer_contract(make, x_shape):
    layer = make()
    x = randn(x_shape, dtype=jnp.float32)
    x_spec = spec(x.shape)
    params, state = layer.init(jr.key(0), x_spec)
    bigger = layer.init(jr.key(0), jnp.concatenate([x, x, x]))  # batch is free
    jax.tree_util.tree_map(np.testing.assert_array_equal, bigger, (params, state))
    y, new_state = layer.apply(params, state, x, key=jr.key(1))
    assert new_state == state == {}
    traces = []

    @jax.jit
    def f(p, x):
        traces.append(1)  # runs only while tracing
        return layer.apply(p, state, x)[0]

    np.testing.assert_allclose(f(params, x), y, rtol=1e-5, atol=1e-6)  # jit == eager
    f(params, x + 1.0)
    assert len(traces) == 1  # same shapes: no retrace
    assert jax.eval_shape(f, params, x_spec) == spec(y.shape, y.dtype)
    grads = jax.grad(lambda p, x: jnp.sum(f(p, x)), argnums=(0, 1))(params, x)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree_util.tree_leaves(grads))


VE, TE = ValueError, TypeError
WINDOW = r"padded size >= 5 \(the dilated kernel\) on axis 2, got 3 for input shape"
CONSTRUCTOR_ERRORS = [
    (lambda: conv(0, (3, 3)), VE, r"^conv: expected `features` > 0, got 0\.$"),
    (lambda: conv("4", (3, 3)), TE, r"`features` to be an int"),
    (lambda: conv(4, 3), TE, r"`kernel_size` as a tuple.*kernel_size=\(3, 3\)"),
    (lambda: conv(4, ()), VE, r"`kernel_size` of length 1, 2 or 3"),
    (lambda: conv(4, (3,) * 4), VE, r"`kernel_size` of length 1, 2 or 3"),
    (lambda: conv(4, (3, 0)), VE, r"`kernel_size\[1\]` > 0, got 0"),
    (lambda: conv(4, (3, 1.5)), TE, r"`kernel_size\[1\]` to be an int"),
    (lambda: conv(4, (3, 3), stride=0), VE, r"`stride\[0\]` > 0, got 0"),
    (lambda: conv(4, (3, 3), stride=(1, 2, 1)), VE, r"`stride` as an int or 2 ints"),
    (lambda: conv(4, (3,), stride=1.5), TE, r"`stride` as an int or a tuple"),
    (lambda: conv(4, (3,), dilation=-1), VE, r"`dilation\[0\]` > 0, got -1"),
    (lambda: conv(4, (3,), groups=0), VE, r"`groups` > 0, got 0"),
    (lambda: conv(3, (3,), groups=2), VE, r"by `groups`=2, got features=3\.$"),
    (lambda: conv(4, (3,), padding="SAM"), VE, r"'SAM'\. Hint: did you mean 'SAME'\?"),
    (lambda: conv(4, (3,), padding="valid"), VE, r"did you mean 'VALID'\?"),
    (lambda: conv(4, (3, 3), padding=(1, 1)), VE, r"padding=\(\(1, 1\), \(1, 1\)\)"),
    (lambda: conv(4, (3,), padding=-1), VE, r"`padding` >= 0, got -1"),
    (lambda: conv(4, (3,), padding=((0, -2),)), VE, r"`padding\[0\]` >= 0, got -2"),
    (lambda: conv(4, (3,), padding=1.5), TE, r"'SAME', 'VALID', an int or 1 \("),
    (lambda: conv_transpose(0, (3,)), VE, r"^conv_transpose: expected `features` > 0"),
    (lambda: conv_transpose(4, 3), TE, r"^conv_transpose: .*kernel_size=\(3, 3\)"),
    (lambda: conv_transpose(4, (3,), stride=0), VE, r"`stride\[0\]` > 0"),
    (lambda: conv_transpose(4, (3,), padding=1), TE, r"'SAME' or 'VALID', got 1\."),
    (lambda: conv_transpose(4, (3,), padding="same"), VE, r"did you mean 'SAME'\?"),
]


@pytest.mark.parametrize(("make", "error", "match"), CONSTRUCTOR_ERRORS)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


F32, I32 = jnp.float32, jnp.int32
BATCH_HINT = (
    r"^conv: expected input of rank 4 \(B, H, W, C\) for a 2-D kernel, got shape "
    r"\(28, 28, 1\)\. Hint: if x is one example \(H, W, C\), add a batch axis, "
    r"x\[None\]; if x is a batch of single-channel images \(B, H, W\), add the "
    r"channel axis, x\[\.\.\., None\]\.$"
)
CHANNELS = (
    r"^conv: expected input with C=3 channels, as at init \(weight "
    r"\(3, 3, 3, 4\)\), got shape \(2, 5, 5, 4\) with C=4\.$"
)
DILATED = conv(4, (1, 3), dilation=2, padding="VALID")  # a 1 x 5 window
INIT_ERRORS = [
    # (layer, x shape, x dtype, error, match); `\.$` checks that no hint follows.
    (conv(4, (3, 3)), (28, 28, 1), F32, VE, BATCH_HINT),
    (conv(4, (3, 3, 3)), (2, 4, 4, 4, 1, 1), F32, VE, r"5 \(B, D, H, W, C\).*1\)\.$"),
    (conv(4, (3, 3), groups=2), (1, 5, 5, 3), F32, VE, r"`groups`=2, got C=3\. Hint"),
    (conv(4, (3,)), (1, 5, 2), I32, TE, r"`x` with a floating dtype, got dtype int32"),
    (conv_transpose(4, (3,)), (1, 5, 2), I32, TE, r"floating dtype, got dtype int32"),
    (DILATED, (1, 5, 3, 1), F32, VE, WINDOW),
    (conv(4, (3,), padding=((1, 0),)), (1, 1, 1), F32, VE, r">= 3 .* axis 1, got 2"),
    (layers.serial(conv(4, (3, 3))), (28, 28, 1), F32, VE, r"^conv at '0': expected"),
]


@pytest.mark.parametrize("layer,x_shape,dtype,error,match", INIT_ERRORS)
def test_init_errors(layer, x_shape, dtype, error, match):
    with pytest.raises(error, match=match):
        layer.init(jr.key(0), spec(x_shape, dtype))


def zero_params(layer, x_shape):
    shapes = jax.eval_shape(layer.init, jr.key(0), spec(x_shape))[0]
    return jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)


APPLY_ERRORS = [
    # (layer, x shape at init, x shape at apply, x dtype, error, match)
    (conv(4, (3, 3)), (1, 5, 5, 3), (2, 5, 5, 4), F32, VE, CHANNELS),
    (conv(4, (3,), groups=2), (1, 5, 6), (1, 5, 4), F32, VE, r"C=6 .*=2\), .* C=4"),
    (conv_transpose(4, (3,)), (1, 5, 3), (1, 5, 4), F32, VE, r"C=3 .* with C=4\.$"),
    (conv_transpose(4, (3,)), (1, 5, 3), (5, 3), F32, VE, r"3 \(B, W, C\).*x\[None\]"),
    (conv(4, (3,)), (1, 5, 3), (5, 2, 5, 3), F32, VE, r"got shape \(5, 2, 5, 3\)\.$"),
    (conv(4, (3,)), (1, 5, 3), (1, 5, 3), I32, TE, r"floating dtype, got dtype int32"),
    (conv_transpose(4, (3,)), (1, 5, 3), (1, 5, 3), I32, TE, r"floating dtype"),
    (DILATED, (1, 5, 5, 1), (1, 5, 3, 1), F32, VE, WINDOW),
]


@pytest.mark.parametrize("layer,init_shape,x_shape,dtype,error,match", APPLY_ERRORS)
def test_apply_errors(layer, init_shape, x_shape, dtype, error, match):
    x = np.zeros(x_shape, dtype)
    with pytest.raises(error, match=match):
        layer.apply(zero_params(layer, init_shape), {}, x)
