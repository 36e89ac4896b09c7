"""Max pooling over windows that tile the input, faster than `reduce_window`.

`jnn.layers.max_pool` takes this path when stride == window, nothing is
padded and every spatial size divides by its window (the usual CNN pool).
"""

import itertools
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


# Fast path for windows that tile the input (stride == window, no padding,
# every spatial size divisible by its window), the usual CNN max pool. There
# a reshape plus a max over the window axes is the same forward value, and its
# backward is much cheaper on CPU than `reduce_window`'s select-and-scatter: a
# small CNN's train step is ~30% faster (issue 12, benchmarks/pooling.py).
# The custom VJP keeps the gradient identical to select-and-scatter's,
# ties included: select-and-scatter scans a window in row-major order and
# moves its pick to the next element unless `picked >= next`, so the whole
# cotangent goes to the first maximal element (with NaNs, to the last element
# that the `>=` test fails on), where `jnp.max` would split it among ties.
def tiles(shape, window, stride, pads) -> bool:
    """Return whether windows of `stride == window` tile the unpadded input."""
    no_pads = all(p == (0, 0) for p in pads)
    fits = all(n % k == 0 for n, k in zip(shape[1:-1], window, strict=True))
    return stride == window and no_pads and fits


def _blocks(x, window):
    """Reshape (B, *S, C) -> (B, S1 / K1, K1, S2 / K2, K2, ..., C)."""
    split = [d for n, k in zip(x.shape[1:-1], window, strict=True) for d in (n // k, k)]
    return x.reshape(x.shape[0], *split, x.shape[-1])


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def tiled_max(x, window):
    k_axes = tuple(range(2, 2 * len(window) + 1, 2))  # the K axes of `_blocks`
    return jnp.max(_blocks(x, window), axis=k_axes)  # -> (B, S1', S2', ..., C)


def _tiled_max_fwd(x, window):
    return tiled_max(x, window), x


def _first_max_index(blocks, window):
    """Return the flat row-major window index that select-and-scatter picks."""
    pick, picked = None, None
    for flat, pos in enumerate(itertools.product(*map(range, window))):
        index = (slice(None), *(i for k in pos for i in (slice(None), k)))
        value = blocks[index]  # (B, S1', S2', ..., C): window element `flat`
        if pick is None:
            pick, picked = jnp.zeros(value.shape, jnp.int32), value
            continue
        keep = picked >= value  # select-and-scatter's select rule
        pick = jnp.where(keep, pick, flat)
        picked = jnp.where(keep, picked, value)
    return pick


def _tiled_max_bwd(window, x, g):
    blocks = _blocks(x, window)  # (B, S1', K1, S2', K2, ..., C)
    k_axes = tuple(range(2, 2 * len(window) + 1, 2))
    # Flat window index of every element of `blocks`, broadcast over B, S', C.
    grid_shape = [1] * blocks.ndim
    for axis, k in zip(k_axes, window, strict=True):
        grid_shape[axis] = k
    grid = np.arange(math.prod(window), dtype=np.int32).reshape(grid_shape)
    g = jnp.expand_dims(g, k_axes)
    # Select-and-scatter adds into +0.0, so a -0.0 cotangent lands as +0.0 (a
    # `g + 0` here would be folded away by XLA under jit).
    hit = (jnp.expand_dims(_first_max_index(blocks, window), k_axes) == grid) & (g != 0)
    dx = jnp.where(hit, g, jnp.zeros((), g.dtype))
    return (dx.reshape(x.shape),)


tiled_max.defvjp(_tiled_max_fwd, _tiled_max_bwd)
