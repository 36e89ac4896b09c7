"""Convolutions in the formulations XLA:CPU runs fast (the layers' CPU path).

XLA:CPU has no fast kernel for a convolution with input (lhs) dilation: that
is what `lax.conv_transpose` computes, and the input gradient of every
strided `lax.conv_general_dilated`. There it falls back to a naive loop, and
the DCGAN of configs/gan_mnist.toml spent 2.6 s of a 3 s step in it (issue
12, benchmarks/conv.py --gan). The same values come from stride-1
convolutions, whose forward and backward passes are all fast there:

- `strided_conv`: space-to-depth. Fold each s-by-s block of the padded input
  into the channels and the kernel alike: a stride-1 "VALID" convolution with
  ceil(K / s) taps per axis and s^r times the channels.
- `strided_conv_transpose`: sub-pixel (depth-to-space). Output position
  o = p * s + r reads, for each phase r, the input through every s-th kernel
  tap: one stride-1 convolution per phase, the phases interleaved into the
  output. (One convolution for all phases, s^r * F output channels, needs a
  common window: a 4x4 stride-2 kernel becomes 3x3 per phase, 2.25x the
  products of 2x2.)

- `conv`: a stride-1 convolution whose custom VJP writes both gradients as
  convolutions in the channels-last layout (see `_canonical_bwd`). The two
  above use it. A custom VJP has no forward-mode rule: on the CPU, `jax.jvp`
  does not go through strided `conv` and `conv_transpose` layers (nor
  `max_pool`'s fast path); stride-1 `conv` keeps jax's own rules (at top
  level XLA:CPU already runs its gradients fast, measured within noise).

All cover channels-last input of any rank, dilation 1 and one feature group
(the layers keep `lax` otherwise), and equal `lax` up to float rounding.
"""

import itertools
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax


def _dims(rank: int) -> tuple[str, str, str]:
    spatial = "DHW"[-rank:]
    return f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"


def _pads(x_shape, kernel, padding):
    if isinstance(padding, str):
        return tuple(
            lax.padtype_to_pads(x_shape[1:-1], kernel, (1,) * len(kernel), padding)
        )
    return tuple(tuple(pair) for pair in padding)


def conv(x, w, *, padding):
    """Stride-1 `lax.conv_general_dilated(x, w, 1, padding)`, canonical gradients.

    x: (B, *S, C), w: (*K, C, F). The value is lax's; the VJP computes both
    gradients as convolutions in the channels-last layout XLA:CPU runs fast.
    """
    return _canonical(x, w, _pads(x.shape, w.shape[:-2], padding))


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _canonical(x, w, pads):
    rank = w.ndim - 2
    return lax.conv_general_dilated(
        x, w, (1,) * rank, pads, dimension_numbers=_dims(rank)
    )


def _canonical_fwd(x, w, pads):
    return _canonical(x, w, pads), (x, w)


# jax's own transpose rules give convolutions in other layouts (the input
# gradient with an (O, I)-swapped kernel, the weight gradient with batch and
# channels swapped). XLA:CPU converts those to its fast layout in the top-level
# computation, but it left them in the `lax.scan` body of the GAN step's
# discriminator update, where they ran through a slow generic kernel: most of
# a 1.5 s DCGAN step. Here both are in the fast layout, transposes explicit.
def _canonical_bwd(pads, residuals, g):
    x, w = residuals
    rank, kernel = w.ndim - 2, w.shape[:-2]
    dims = _dims(rank)
    w_t = jnp.flip(w, tuple(range(rank))).swapaxes(-2, -1)  # (*K, F, C)
    back = [(k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(kernel, pads, strict=True)]
    dx = lax.conv_general_dilated(g, w_t, (1,) * rank, back, dimension_numbers=dims)
    last = rank + 1
    x_t = jnp.moveaxis(x, (0, last), (last, 0))  # (C, *S, B): B as the channels
    g_t = jnp.moveaxis(g, 0, rank)  # (*S_out, B, F): the output as a kernel
    dw = lax.conv_general_dilated(x_t, g_t, (1,) * rank, pads, dimension_numbers=dims)
    return dx, jnp.moveaxis(dw, 0, rank)  # (C, *K, F) -> (*K, C, F)


_canonical.defvjp(_canonical_fwd, _canonical_bwd)


def _interleave(rank: int) -> list[int]:
    """Permutation (B, A1, s1, A2, s2, ..., C) -> (B, A1, A2, ..., s1, s2, ..., C)."""
    return [0, *range(1, 2 * rank, 2), *range(2, 2 * rank + 1, 2), 2 * rank + 1]


def strided_conv(x, w, *, stride, padding):
    """`lax.conv_general_dilated(x, w, stride, padding)` via space-to-depth.

    x: (B, *S, C), w: (*K, C, F), padding "SAME", "VALID" or (low, high) pairs.
    """
    rank, kernel, spatial = len(stride), w.shape[:-2], x.shape[1:-1]
    pads = padding
    if isinstance(padding, str):
        pads = lax.padtype_to_pads(spatial, kernel, stride, padding)
    taps = [-(-k // s) for k, s in zip(kernel, stride, strict=True)]  # ceil(K / s)
    out = [
        (n + lo + hi - k) // s + 1
        for n, k, s, (lo, hi) in zip(spatial, kernel, stride, pads, strict=True)
    ]
    # Pad (or crop) each axis to (out + taps - 1) * s: whole blocks, none unused.
    config = [(0, 0, 0)]
    for n, s, (lo, _), o, t in zip(spatial, stride, pads, out, taps, strict=True):
        config.append((lo, (o + t - 1) * s - n - lo, 0))
    xp = lax.pad(x, np.array(0, x.dtype), [*config, (0, 0, 0)])
    blocks = [
        d for n, s in zip(xp.shape[1:-1], stride, strict=True) for d in (n // s, s)
    ]
    xb = xp.reshape(x.shape[0], *blocks, x.shape[-1]).transpose(_interleave(rank))
    xb = xb.reshape(*xb.shape[: rank + 1], -1)  # (B, *S / s, prod(s) * C)
    # The kernel alike: zero taps up to taps * s, each axis split into (taps, s).
    wp = jnp.pad(
        w,
        [(0, t * s - k) for t, s, k in zip(taps, stride, kernel, strict=True)]
        + [(0, 0)] * 2,
    )
    wb = wp.reshape(
        *[d for t, s in zip(taps, stride, strict=True) for d in (t, s)], *w.shape[-2:]
    )
    order = [*range(0, 2 * rank, 2), *range(1, 2 * rank, 2), 2 * rank, 2 * rank + 1]
    wb = wb.transpose(order).reshape(*taps, -1, w.shape[-1])  # (*taps, prod(s) * C, F)
    return conv(xb, wb, padding="VALID")


def transpose_pads(kernel, stride, padding):
    """The (low, high) pads of the dilated input that `lax.conv_transpose` uses."""
    pads = []
    for k, s in zip(kernel, stride, strict=True):
        if padding == "SAME":
            total = k + s - 2
            low = k - 1 if s > k - 1 else math.ceil(total / 2)
        else:  # "VALID"
            total, low = k + s - 2 + max(k - s, 0), k - 1
        pads.append((low, total - low))
    return pads


class _Axis(NamedTuple):
    """One axis of a sub-pixel transposed convolution."""

    left: int  # input padding (negative: cropping)
    right: int
    out: int  # output size, before cropping the interleave of s phases
    phases: int  # outputs per phase, ceil(out / s)
    starts: tuple  # per phase r: the first input position it reads
    taps: tuple  # per phase r: the kernel taps w[b_r::s] it uses, as a slice


def _axis(n, k, s, lo, hi) -> _Axis:
    """Output o = p * s + r sums x[p - a_r + j] * w[j * s + b_r] over the taps
    j, with lo - r = a_r * s + b_r (floor division and remainder)."""
    out = (n - 1) * s + 1 + lo + hi - k + 1
    a = [(lo - r) // s for r in range(s)]
    b = [(lo - r) % s for r in range(s)]
    count = [max(-(-(k - b_r) // s), 0) for b_r in b]  # taps of each phase
    phases, left = -(-out // s), max(a)
    right = max(phases + c - 1 - a_r for c, a_r in zip(count, a, strict=True)) - n
    starts = tuple(left - a_r for a_r in a)  # in the padded input
    taps = tuple(slice(b_r, b_r + c * s, s) for b_r, c in zip(b, count, strict=True))
    return _Axis(left, right, out, phases, starts, taps)


def strided_conv_transpose(x, w, *, stride, padding):
    """`lax.conv_transpose(x, w, stride, padding)` ("SAME"/"VALID") via sub-pixels.

    One stride-1 convolution per output phase (r1, r2, ...), each with only the
    kernel taps that phase reads, then the phases are interleaved.
    x: (B, *S, C), w: (*K, C, F) -> (B, *S_out, F).
    """
    rank, kernel, spatial = len(stride), w.shape[:-2], x.shape[1:-1]
    pads = transpose_pads(kernel, stride, padding)
    axes = [
        _axis(n, k, s, lo, hi)
        for n, k, s, (lo, hi) in zip(spatial, kernel, stride, pads, strict=True)
    ]
    config = [(0, 0, 0), *[(a.left, a.right, 0) for a in axes], (0, 0, 0)]
    xp = lax.pad(x, np.array(0, x.dtype), config)
    outs = []
    for phase in itertools.product(*(range(s) for s in stride)):
        taps = w[tuple(a.taps[r] for a, r in zip(axes, phase, strict=True))]
        shape = (x.shape[0], *(a.phases for a in axes), w.shape[-1])
        if 0 in taps.shape:  # a kernel smaller than the stride skips this phase
            outs.append(jnp.zeros(shape, jnp.result_type(x, w)))
            continue
        window = [
            slice(a.starts[r], a.starts[r] + a.phases + t - 1)
            for a, r, t in zip(axes, phase, taps.shape[:rank], strict=True)
        ]
        outs.append(conv(xp[(slice(None), *window)], taps, padding="VALID"))
    y = jnp.stack(outs, axis=-2)  # (B, *P, prod(s), F)
    y = y.reshape(*y.shape[: rank + 1], *stride, w.shape[-1])
    back = [0, *[i for a in range(rank) for i in (1 + a, 1 + rank + a)], 1 + 2 * rank]
    y = y.transpose(back)  # (B, P1, s1, P2, s2, ..., F)
    y = y.reshape(
        x.shape[0], *[a.phases * s for a, s in zip(axes, stride, strict=True)], -1
    )
    return y[(slice(None), *(slice(0, a.out) for a in axes))]
