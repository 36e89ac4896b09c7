"""jnn's CPU formulations of convolutions (`_conv_chunks`, `_conv_phases`) vs `lax`.

Values and gradients (input and weight) of each formulation must equal the
`lax.conv_general_dilated` / `lax.conv_transpose` reference in float32 within
rtol 1e-5 and atol 1e-5 x the reference's largest entry: they sum the same
products in another order. Each case compiles one program holding both.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jnn.layers import _conv_chunks, _conv_phases
from jnn.layers._conv_chunks import batch_chunked, chunk_count
from jnn.layers._conv_phases import strided_conv, strided_conv_transpose
from jnn.layers.convolution import conv, conv_transpose

pytestmark = pytest.mark.usefixtures("fast_compiles")

RTOL, ATOL = 1e-5, 1e-5  # atol is relative to the reference's largest entry
DIMS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}
DIMS[3] = ("NDHWC", "DHWIO", "NDHWC")


def _conv(rank, stride=1, padding="SAME", dilation=1, groups=1):
    return partial(
        lax.conv_general_dilated,
        window_strides=(stride,) * rank if isinstance(stride, int) else stride,
        padding=padding,
        rhs_dilation=(dilation,) * rank,
        dimension_numbers=DIMS[rank],
        feature_group_count=groups,
    )


def _transpose(rank, stride=1, padding="SAME", dilation=1):
    return partial(
        lax.conv_transpose,
        strides=(stride,) * rank if isinstance(stride, int) else stride,
        padding=padding,
        rhs_dilation=(dilation,) * rank,
        dimension_numbers=DIMS[rank],
    )


def _randn(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _value_and_grads(op, x, w):
    """y and the gradients (dx, dw) of <y, u> for a fixed random cotangent u."""

    def loss(x, w):
        y = op(x, w)
        return jnp.sum(y * _randn(y.shape, 2)), y

    (_, y), grads = jax.value_and_grad(loss, (0, 1), has_aux=True)(x, w)
    return (y, *grads)


def _assert_equal(fast, reference, x_shape, w_shape):
    """Assert fast(x, w) and its gradients equal reference's, in one compile."""
    x, w = _randn(x_shape, 0), _randn(w_shape, 1)
    both = jax.jit(lambda x, w: [_value_and_grads(f, x, w) for f in (fast, reference)])
    for actual, expected in zip(*both(x, w), strict=True):
        assert actual.shape == expected.shape
        scale = float(jnp.max(jnp.abs(expected)))
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale)


# (name, op, x shape (B, *S, C), weight shape (*K, C_in / groups, F), chunks)
CHUNKED = (
    ("conv_2d_same", _conv(2), (6, 7, 7, 3), (3, 3, 3, 4), 3),
    ("conv_2d_valid_stride2", _conv(2, 2, "VALID"), (5, 9, 8, 2), (3, 2, 2, 3), 2),
    ("conv_2d_pairs", _conv(2, 1, ((1, 2), (0, 1))), (3, 6, 6, 2), (3, 3, 2, 2), 2),
    ("conv_2d_dilated", _conv(2, dilation=2), (5, 9, 9, 2), (3, 3, 2, 3), 3),
    ("conv_2d_groups", _conv(2, groups=2), (4, 6, 6, 4), (3, 3, 2, 6), 2),
    ("conv_2d_batch1", _conv(2), (1, 6, 6, 2), (3, 3, 2, 3), 4),
    ("conv_1d", _conv(1, 2), (7, 12, 3), (5, 3, 4), 3),
    ("conv_3d", _conv(3, padding="VALID"), (4, 5, 5, 5, 2), (3, 3, 3, 2, 3), 2),
    ("transpose_2d_same", _transpose(2, 2), (5, 5, 5, 3), (4, 4, 3, 4), 3),
    ("transpose_2d_valid", _transpose(2, 2, "VALID"), (4, 4, 4, 2), (3, 3, 2, 3), 2),
    ("transpose_2d_dilated", _transpose(2, dilation=2), (3, 5, 5, 2), (3, 3, 2, 2), 3),
)


@pytest.mark.parametrize(("name", "op", "x_shape", "w_shape", "chunks"), CHUNKED)
def test_batch_chunks_equal_lax(name, op, x_shape, w_shape, chunks):
    fast = partial(batch_chunked, op, None, chunks=chunks)
    _assert_equal(fast, op, x_shape, w_shape)


# (name, stride, padding, x shape (B, *S, C), weight shape (*K, C, F))
STRIDED = (
    ("2d_k4_s2_same", (2, 2), "SAME", (2, 8, 8, 3), (4, 4, 3, 4)),
    ("2d_k3_s2_same_odd", (2, 2), "SAME", (1, 7, 9, 2), (3, 3, 2, 3)),
    ("2d_k5_s3_valid", (3, 3), "VALID", (2, 10, 11, 2), (5, 5, 2, 3)),
    ("2d_k2_s3_valid", (3, 3), "VALID", (2, 7, 7, 2), (2, 2, 2, 2)),
    ("2d_k3_s21_same", (2, 1), "SAME", (2, 7, 6, 2), (3, 3, 2, 2)),
    ("1d_k1_s2_valid", (2,), "VALID", (1, 6, 2), (1, 2, 2)),
    ("3d_k3_s2_same", (2, 2, 2), "SAME", (1, 5, 4, 4, 2), (3, 3, 3, 2, 2)),
)
PAIRS = (  # explicit (low, high) pads: `conv` only
    ("2d_pairs", (2, 2), ((1, 2), (0, 3)), (2, 7, 7, 2), (4, 3, 2, 3)),
    ("1d_pairs_crop", (3,), ((2, 0),), (2, 11, 2), (4, 2, 2)),
)
FIELDS = ("name", "stride", "padding", "x_shape", "w_shape")


@pytest.mark.parametrize(FIELDS, STRIDED + PAIRS)
def test_space_to_depth_conv_equals_lax(name, stride, padding, x_shape, w_shape):
    fast = partial(strided_conv, stride=stride, padding=padding)
    _assert_equal(fast, _conv(len(stride), stride, padding), x_shape, w_shape)


@pytest.mark.parametrize(FIELDS, STRIDED)
def test_sub_pixel_conv_transpose_equals_lax(name, stride, padding, x_shape, w_shape):
    fast = partial(strided_conv_transpose, stride=stride, padding=padding)
    _assert_equal(fast, _transpose(len(stride), stride, padding), x_shape, w_shape)


CANONICAL = (  # (name, padding, x shape (B, *S, C), weight shape (*K, C, F))
    ("2d_same", "SAME", (3, 6, 5, 2), (3, 3, 2, 4)),
    ("2d_valid_batch1", "VALID", (1, 6, 6, 3), (2, 3, 3, 2)),
    ("2d_pairs_wide", ((3, 0), (0, 2)), (2, 5, 5, 2), (2, 2, 2, 3)),
    ("1d_same_even", "SAME", (2, 9, 2), (4, 2, 3)),
    ("3d_valid", "VALID", (2, 4, 4, 4, 2), (2, 2, 2, 2, 2)),
)


@pytest.mark.parametrize(("name", "padding", "x_shape", "w_shape"), CANONICAL)
def test_canonical_gradient_conv_equals_lax(name, padding, x_shape, w_shape):
    fast = partial(_conv_phases.conv, padding=padding)
    _assert_equal(fast, _conv(len(w_shape) - 2, 1, padding), x_shape, w_shape)


def test_canonical_conv_second_order_equals_lax():
    """Gradient-penalty style: d/dw of |d/dx <conv(x, w), u>|^2."""
    x, w, u = _randn((2, 5, 5, 2), 0), _randn((3, 3, 2, 3), 1), _randn((2, 5, 5, 3), 2)

    def penalty(op):
        def f(w):
            dx = jax.grad(lambda x: jnp.sum(op(x, w) * u))(x)
            return jnp.sum(dx**2)

        return jax.grad(f)(w)

    fast, reference = (
        penalty(partial(_conv_phases.conv, padding="SAME")),
        penalty(_conv(2)),
    )
    np.testing.assert_allclose(fast, reference, rtol=RTOL, atol=ATOL * 100)


def test_forward_mode_works_through_the_chunks():
    """The chunks alone need no custom VJP: jvp keeps working through them."""
    op, x, w = _conv(2), _randn((4, 5, 5, 2), 0), _randn((3, 3, 2, 3), 1)
    tangents = (_randn(x.shape, 2), _randn(w.shape, 3))
    chunked = jax.jvp(partial(batch_chunked, op, None, chunks=3), (x, w), tangents)
    for actual, expected in zip(chunked, jax.jvp(op, (x, w), tangents), strict=True):
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-4)


@pytest.mark.parametrize(
    ("batch", "per_example", "expected"),
    [
        (128, 28 * 28 * (32 + 64), 26),  # the CNN's conv: chunks of 5
        (128, 28 * 28 * (1 + 32), 10),  # its first conv: fewer, bigger chunks
        (64, 10, 1),  # small examples: one chunk
        (3, 10**7, 3),  # never more chunks than examples
        (4096, 28 * 28 * 96, _conv_chunks.MAX_CHUNKS),  # bounded graph
    ],
)
def test_chunk_count(batch, per_example, expected):
    assert chunk_count(batch, per_example) == expected


def test_cpu_ops_take_bigger_chunks():
    """`_conv_phases` formulations: chunks of 8 of the CNN's conv images, not 5."""
    per_example = 28 * 28 * (32 + 64)
    assert chunk_count(128, per_example, _conv_chunks.CPU_OP_CHUNK_ELEMENTS) == 16


@pytest.mark.parametrize(
    ("layer", "x_shape"),
    [
        (conv(4, (3, 3)), (6, 6, 6, 3)),
        (conv(4, (4, 4), stride=2), (6, 8, 8, 3)),
        (conv_transpose(4, (4, 4), stride=2), (6, 3, 3, 3)),
    ],
)
def test_layers_take_the_cpu_path_with_equal_values(layer, x_shape, monkeypatch):
    """On CPU the layers split the batch (strided: `_conv_phases`), = `lax`."""
    params = layer.init(jax.random.key(0), _randn(x_shape, 0))[0]

    def apply(cpu):  # a new function per trace: jax caches traces by function
        def forward(x, w):
            monkeypatch.setattr(_conv_chunks, "use_chunks", lambda: cpu)
            return layer.apply({**params, "weight": w}, {}, x)[0]

        return forward

    monkeypatch.setattr(_conv_chunks, "chunk_count", lambda batch, size, elements: 3)
    w_shape = params["weight"].shape
    jaxpr = jax.make_jaxpr(apply(True))(_randn(x_shape, 0), _randn(w_shape, 1))
    assert "split" in str(jaxpr)  # 3 chunks
    _assert_equal(apply(True), apply(False), x_shape, w_shape)
