"""Pooling layers: windowed `max_pool` / `avg_pool` and the global pools.

Windowed pools take the spatial rank from `len(window)` (1-D, 2-D or 3-D) and
work on channels-last input `(B, *spatial, C)`. They are one
`jax.lax.reduce_window` call each: max with a -inf init (so padding never wins),
and a sum divided by the number of elements in each window; a max pool whose
windows tile the input takes the faster, identical path of `_tiled_max`.
"""

import math
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jax import lax

from jnn import _checks
from jnn._types import Layer
from jnn.layers._tiled_max import tiled_max, tiles
from jnn.layers.convolution import missing_axis_hint

_LEGENDS = {1: "(B, W, C)", 2: "(B, H, W, C)", 3: "(B, D, H, W, C)"}
_PADDINGS = ("SAME", "VALID")


def _int_tuple(where: str, name: str, value, rank: int | None) -> tuple[int, ...]:
    """Return `value` as a tuple of positive ints of length `rank` (any if None)."""
    if not isinstance(value, tuple | list):
        hint = None
        if isinstance(value, int) and name == "window":
            hint = f"pass a tuple, e.g. window=({value}, {value}) for 2-D pooling"
        raise _checks.type_error(
            where, f"`{name}` to be a tuple of ints", repr(value), hint
        )
    if rank is not None and len(value) != rank:
        raise _checks.value_error(
            where, f"`{name}` of length {rank} (one per spatial axis)", repr(value)
        )
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _checks.type_error(where, f"`{name}` entries to be ints", repr(value))
    if min(value, default=1) <= 0:
        raise _checks.value_error(where, f"`{name}` entries > 0", repr(value))
    return tuple(value)


def _window(where: str, window) -> tuple[int, ...]:
    window = _int_tuple(where, "window", window, None)
    if not 1 <= len(window) <= 3:
        raise _checks.value_error(
            where, "`window` of length 1, 2 or 3 (the spatial rank)", repr(window)
        )
    return window


def _stride(where: str, stride, window: tuple[int, ...]) -> tuple[int, ...]:
    if stride is None:
        return window  # non-overlapping windows, the usual pooling default
    if isinstance(stride, int) and not isinstance(stride, bool):
        stride = (stride,) * len(window)  # rank is known from `window`
    return _int_tuple(where, "stride", stride, len(window))


def _padding(where: str, padding, window: tuple[int, ...]):
    """Return "SAME", "VALID" or a tuple of (low, high) pairs, one per axis."""
    if isinstance(padding, str):
        if padding.upper() not in _PADDINGS:
            _checks.one_of(where, "padding", padding, _PADDINGS)
        return padding.upper()
    if isinstance(padding, int) and not isinstance(padding, bool):
        _checks.non_negative_int(where, "padding", padding)
        pads = ((padding, padding),) * len(window)
    else:
        pads = _pairs(where, padding, len(window))
    if any(p >= k for pair, k in zip(pads, window, strict=True) for p in pair):
        # A window of only padding has no value: -inf for max, 0/0 for average.
        raise _checks.value_error(
            where, f"`padding` < `window` {window} on each side", repr(padding)
        )
    return pads


def _pairs(where: str, padding, rank: int) -> tuple[tuple[int, int], ...]:
    ok = isinstance(padding, tuple | list) and len(padding) == rank
    ok = ok and all(isinstance(p, tuple | list) and len(p) == 2 for p in padding)
    if not ok:
        raise _checks.value_error(
            where,
            f'`padding` "SAME", "VALID", an int or {rank} (low, high) pairs',
            repr(padding),
        )
    for pair in padding:
        for p in pair:
            _checks.non_negative_int(where, "padding", p)
    return tuple((int(lo), int(hi)) for lo, hi in padding)


def _check_input(where: str, x, rank: int, legend: str) -> None:
    """Raise unless x is floating with shape (B, *spatial, C) and no empty axis."""
    hint = missing_axis_hint(x.shape, rank)
    _checks.expect_rank(where, x, rank + 2, legend, hint)
    _checks.expect_floating(where, "x", x)
    if 0 in x.shape[1:-1]:
        shape = _checks.fmt_shape(x.shape)
        raise _checks.value_error(where, "non-empty spatial axes", f"shape {shape}")


def _resolve_pads(where: str, shape, window, stride, padding):
    """Return explicit (low, high) pads, checking that the window fits."""
    spatial = shape[1:-1]
    pads = padding
    if isinstance(padding, str):
        pads = tuple(lax.padtype_to_pads(spatial, window, stride, padding))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads, strict=True))
    if any(n < k for n, k in zip(padded, window, strict=True)):
        raise _checks.value_error(
            where,
            f"`window` {window} to fit in the padded spatial shape "
            f"{_checks.fmt_shape(padded)}",
            f"input shape {_checks.fmt_shape(shape)}",
            "use a smaller window or padding='SAME'",
        )
    return pads


def _window_layer(where: str, window, stride, padding, reduce) -> Layer:
    """Build a windowed pool; `reduce(x, pads)` does the work on checked input."""
    rank = len(window)
    legend = f"{_LEGENDS[rank]} for a {rank}-D window"

    def check(x):
        _check_input(where, x, rank, legend)
        return _resolve_pads(where, x.shape, window, stride, padding)

    def init(key, x_spec):
        del key
        check(x_spec)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train  # deterministic, parameter-free layer
        return reduce(x, check(x)), state

    return Layer(init, apply, where)  # e.g. "max_pool"


def _reduce(x, init_value, op, window, stride, pads):
    # Batch and channel axes get a window of 1 and no padding.
    return lax.reduce_window(
        x,
        np.array(init_value, x.dtype),  # concrete, so jax picks its max/sum rule
        op,
        (1, *window, 1),
        (1, *stride, 1),
        ((0, 0), *pads, (0, 0)),
    )


def max_pool(
    window: Sequence[int],
    *,
    stride: Sequence[int] | int | None = None,
    padding="VALID",
) -> Layer:
    """Take the maximum over sliding windows of the spatial axes.

    Padding never wins the max: padded positions hold -inf.

    Args:
      window: Window size per spatial axis, a tuple; its length (1, 2 or 3)
        sets the spatial rank.
      stride: Step per spatial axis, a tuple or one int for all axes.
        Default `window` (non-overlapping windows).
      padding: "SAME" (output size ceil(S / stride); any case), "VALID",
        an int for every side, or one (low, high) pair per spatial axis.
        Each side must be < the window. Default "VALID".

    Shapes:
      x: (B, *S, C)  ->  y: (B, *S_out, C),
      S_out = (S + low + high - window) // stride + 1

    Params:
      none

    State:
      none

    Raises:
      TypeError: if `window` is not a tuple (e.g. an int), `stride` is neither
        a tuple nor an int, an entry is not an int, or x is not floating point.
      ValueError: if a size is not > 0, lengths disagree with `window`, the
        padding is unknown or too large, x is not (B, *S, C) for the window's
        rank or has an empty spatial axis, or the window exceeds the padded input.

    Example:
      >>> layer = max_pool((2,))
      >>> x = jnp.array([1.0, 3.0, 2.0, 0.0]).reshape(1, 4, 1)
      >>> layer.apply({}, {}, x)[0].ravel()
      Array([3., 2.], dtype=float32)
    """
    window = _window("max_pool", window)
    stride = _stride("max_pool", stride, window)
    padding = _padding("max_pool", padding, window)

    def reduce(x, pads):
        if tiles(x.shape, window, stride, pads):
            return tiled_max(x, window)
        return _reduce(x, -np.inf, lax.max, window, stride, pads)

    return _window_layer("max_pool", window, stride, padding, reduce)


def _real_counts(shape, window, stride, pads) -> np.ndarray:
    """Count the non-padding elements of every window, shape (1, *S_out, 1)."""
    per_axis = []
    for n, k, s, (lo, hi) in zip(shape[1:-1], window, stride, pads, strict=True):
        start = np.arange((n + lo + hi - k) // s + 1) * s - lo  # in unpadded coords
        per_axis.append(np.minimum(start + k, n) - np.maximum(start, 0))
    counts = per_axis[0]
    for c in per_axis[1:]:
        counts = np.multiply.outer(counts, c)  # windows are boxes: counts multiply
    return counts.reshape((1, *counts.shape, 1))


def avg_pool(
    window: Sequence[int],
    *,
    stride: Sequence[int] | int | None = None,
    padding="VALID",
    count_include_pad: bool = False,
) -> Layer:
    """Average over sliding windows of the spatial axes.

    By default a window is divided by its number of real (non-padding)
    elements, so border outputs are true means of the input they cover.

    Args:
      window: Window size per spatial axis, a tuple; its length (1, 2 or 3)
        sets the spatial rank.
      stride: Step per spatial axis, a tuple or one int. Default `window`.
      padding: "SAME", "VALID", an int, or one (low, high) pair per spatial
        axis, as in `max_pool`. Default "VALID".
      count_include_pad: Divide by the full window size, counting padding as
        zeros (PyTorch's default). Default False. Equal for "VALID".

    Shapes:
      x: (B, *S, C)  ->  y: (B, *S_out, C), with S_out as in `max_pool`

    Params:
      none

    State:
      none

    Raises:
      TypeError: as `max_pool`, or if `count_include_pad` is not a bool.
      ValueError: as `max_pool`.

    Example:
      >>> x = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
      >>> avg_pool((2,), padding="SAME").apply({}, {}, x)[0].ravel()
      Array([1.5, 3.5, 5. ], dtype=float32)
    """
    window = _window("avg_pool", window)
    stride = _stride("avg_pool", stride, window)
    padding = _padding("avg_pool", padding, window)
    if not isinstance(count_include_pad, bool):
        raise _checks.type_error(
            "avg_pool", "`count_include_pad` to be a bool", repr(count_include_pad)
        )

    def reduce(x, pads):
        total = _reduce(x, 0, lax.add, window, stride, pads)
        # NumPy divisors: static shapes make the counts trace-time constants.
        if count_include_pad:
            return total / np.array(math.prod(window), x.dtype)
        return total / _real_counts(x.shape, window, stride, pads).astype(x.dtype)

    return _window_layer("avg_pool", window, stride, padding, reduce)


def _global_layer(where: str, reduce) -> Layer:
    """Build a global pool: `reduce(x, axis=spatial axes)` on checked input."""

    def check(x):
        if len(x.shape) < 3:
            shape = _checks.fmt_shape(x.shape)
            raise _checks.value_error(
                where, "input of rank >= 3 (B, *S, C)", f"shape {shape}"
            )
        _check_input(where, x, len(x.shape) - 2, "(B, *S, C)")

    def init(key, x_spec):
        del key
        check(x_spec)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train  # deterministic, parameter-free layer
        check(x)
        return reduce(x, axis=tuple(range(1, x.ndim - 1))), state  # -> (B, C)

    return Layer(init, apply, where)  # e.g. "max_pool"


def global_avg_pool() -> Layer:
    """Average over all spatial axes, any spatial rank.

    Shapes:
      x: (B, *S, C)  ->  y: (B, C)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if x has rank < 3 or an empty spatial axis.
      TypeError: if x is not floating point.

    Example:
      >>> x = jnp.arange(8.0).reshape(1, 2, 2, 2)
      >>> global_avg_pool().apply({}, {}, x)[0]
      Array([[3., 4.]], dtype=float32)
    """
    return _global_layer("global_avg_pool", jnp.mean)


def global_max_pool() -> Layer:
    """Take the maximum over all spatial axes, any spatial rank.

    Shapes:
      x: (B, *S, C)  ->  y: (B, C)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if x has rank < 3 or an empty spatial axis.
      TypeError: if x is not floating point.

    Example:
      >>> x = jnp.arange(8.0).reshape(1, 2, 2, 2)
      >>> global_max_pool().apply({}, {}, x)[0]
      Array([[6., 7.]], dtype=float32)
    """
    return _global_layer("global_max_pool", jnp.max)
