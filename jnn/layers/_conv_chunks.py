"""Batch-chunked convolutions: the same values and gradients, faster on XLA:CPU.

`conv` and `conv_transpose` call `batch_chunked(op, cpu_op, x, weight)`, where
`op` is their `lax` call and `cpu_op` a stride-1 formulation of it or None
(`conv_ops`, `conv_transpose_ops`). On the CPU backend it splits the batch into chunks of a few
images, applies `op` to each and concatenates the results; elsewhere it is
`op(x, weight)` unchanged.

Why (issue 12, benchmarks/conv.py): XLA:CPU runs a convolution through YNNPACK,
and a convolution, its input gradient and above all its weight gradient (a
correlation of the input with the output gradient, a kernel as large as the
image) run much faster on chunks whose input and output fit in the caches
than on a batch of 128 28x28 images at once; the independent chunks also run
concurrently. On the 2-core CPU this made the train step of a small CNN (2x
conv 3x3 (32, 64), 28x28, batch 128) ~1.3x faster than the same step with one
convolution. Other formulations measured there were slower on XLA:CPU:
im2col (shifted slices concatenated into patches, or
`lax.conv_general_dilated_patches`) and a matmul, a sum of one matmul per
kernel tap, a custom VJP computing the weight gradient as a matmul over
patches, NCHW/OIHW layouts (XLA:CPU converts them back), and chunking the
backward pass only.

Each chunk's result is exact for its images, since a convolution acts on each
example alone; only the weight gradient's sum over the batch is added in
another order (chunk by chunk), a float rounding difference. The split and
concatenation are differentiable (`jnp.split` and `jnp.concatenate` transpose
into each other): the chunking itself needs no custom rule.
"""

import math
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from jnn.layers import _conv_phases

# Elements (input plus output, all channels) of one chunk of a `lax` op: the
# CNN's conv 3x3 32 -> 64 on 5 images of 28x28 (26 chunks of its batch of
# 128, its first conv 1 -> 32 in 10), the fastest measured for its train
# step on the 2-core CPU: ~13% faster than 8 images (16 and 6 chunks), and
# than 4 images (32 chunks, ~5% faster than 8).
CHUNK_ELEMENTS = 5 * 28 * 28 * (32 + 64)
# The same for a `cpu_op` (`_conv_phases`): 8 images of the CNN's conv, as the
# DCGAN's step (benchmarks/conv.py --gan) is ~9% slower with 5.
CPU_OP_CHUNK_ELEMENTS = 8 * 28 * 28 * (32 + 64)
MAX_CHUNKS = 32  # bounds the unrolled graph (compile time) for huge batches


def use_chunks() -> bool:
    """Whether this trace targets XLA:CPU, where chunks are faster."""
    return jax.default_backend() == "cpu"


def chunk_count(batch: int, per_example: int, elements: int | None = None) -> int:
    """Return how many chunks split a batch of `batch` examples, each holding
    `per_example` input plus output elements, into chunks of about `elements`
    (default `CHUNK_ELEMENTS`)."""
    size = max(1, (elements or CHUNK_ELEMENTS) // max(per_example, 1))
    return min(-(-batch // size), MAX_CHUNKS, batch)


def conv_ops(stride, padding, dilation, dims, groups) -> tuple[Callable, Callable]:
    """`conv`'s (`lax` op, CPU op): a strided convolution's input gradient is
    slow on XLA:CPU, so there it runs as `_conv_phases.strided_conv`."""
    op = partial(
        lax.conv_general_dilated,
        window_strides=stride,
        padding=padding,
        rhs_dilation=dilation,
        dimension_numbers=dims,
        feature_group_count=groups,
    )
    cpu_op = None
    if max(stride) > 1 and max(dilation) == 1 and groups == 1:
        cpu_op = partial(_conv_phases.strided_conv, stride=stride, padding=padding)
    return op, cpu_op


def conv_transpose_ops(stride, padding, dilation, dims) -> tuple[Callable, Callable]:
    """`conv_transpose`'s (`lax` op, CPU op): lax's input-dilated convolution
    is slow on XLA:CPU, so there it runs as sub-pixel convolutions."""
    op = partial(
        lax.conv_transpose,
        strides=stride,
        padding=padding,
        rhs_dilation=dilation,
        dimension_numbers=dims,
    )
    cpu_op = None
    if max(stride) > 1 and max(dilation) == 1:
        cpu_op = partial(
            _conv_phases.strided_conv_transpose, stride=stride, padding=padding
        )
    return op, cpu_op


def batch_chunked(
    op: Callable,
    cpu_op: Callable | None,
    x: jax.Array,
    weight: jax.Array,
    *,
    chunks: int | None = None,
) -> jax.Array:
    """Return `op(x, weight)`, computed over chunks of the batch on XLA:CPU.

    `op` must treat each example of the batch (axis 0) alone, as a
    convolution does. On XLA:CPU, `cpu_op` (the same function in another
    formulation, see `_conv_phases`) replaces it if given. A symbolic batch
    size (`jax.export`) gets `op` whole, for any platform. `chunks` forces the
    number of chunks (tests); by default it is 1 off the CPU and `chunk_count`
    on it.
    """
    batch = x.shape[0]
    if not isinstance(batch, int):  # a symbolic batch (jax.export): portable lax
        return op(x, weight)
    if chunks is None:
        if not use_chunks():
            return op(x, weight)
        op, elements = (op, None) if cpu_op is None else (cpu_op, CPU_OP_CHUNK_ELEMENTS)
        y_spec = jax.eval_shape(op, x[:1], weight)
        chunks = chunk_count(batch, math.prod(x.shape[1:]) + y_spec.size, elements)
    chunks = max(1, min(chunks, batch))
    if chunks == 1:
        return op(x, weight)
    # Nearly equal chunks: (10, 3) -> sizes 4, 3, 3.
    bounds = [round(i * batch / chunks) for i in range(1, chunks)]
    pieces = jnp.split(x, bounds)  # (B, ...) -> chunks of (B_i, ...)
    return jnp.concatenate([op(piece, weight) for piece in pieces])
