"""Position encodings added to a sequence `(B, T, F)`: fixed sinusoids or learned."""

import jax.numpy as jnp
import numpy as np

from jnn import _checks, initializers
from jnn._types import Initializer, Layer
from jnn.layers.recurrent import _check_sequence


def sinusoid_table(steps: int, features: int, base: float = 10000.0) -> np.ndarray:
    """Return the (steps, features) float32 table of Vaswani et al. (2017).

    Even feature 2i holds sin(t / base^(2i/F)), odd feature 2i+1 its cosine.
    """
    t = np.arange(steps, dtype=np.float64)[:, None]  # (T, 1)
    i = np.arange(features)
    angle = t / base ** (2 * (i // 2) / features)  # (T, F)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


def sinusoidal_positions(base: float = 10000.0) -> Layer:
    """Add the fixed sin/cos position table to a sequence: `y = x + table[:T]`.

    Args:
      base: Longest wavelength scale. Default 10000, as in the Transformer paper.

    Shapes:
      x: (B, T, F)  ->  y: (B, T, F)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if `base` is not finite and > 1, or x is not (B, T, F).
      TypeError: if `base` is not a number or x is not floating point.

    Example:
      >>> y, _ = sinusoidal_positions().apply({}, {}, jnp.zeros((1, 3, 4)))
      >>> y[0, 0].tolist()  # position 0: sin(0) = 0, cos(0) = 1
      [0.0, 1.0, 0.0, 1.0]
    """
    where = "sinusoidal_positions"
    _checks.finite_float(where, "base", base, low=1.0 + 1e-6)

    def init(key, x_spec):
        del key
        _check_sequence(where, x_spec, None)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train  # deterministic layer
        _check_sequence(where, x, None)
        table = jnp.asarray(sinusoid_table(x.shape[1], x.shape[2], base), x.dtype)
        return x + table[None], state  # (1, T, F) over the batch

    return Layer(init, apply, "sinusoidal_positions")


def learned_positions(
    max_len: int,
    *,
    e_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Add a learned vector per position: `y = x + embedding[:T]`.

    Args:
      max_len: Longest sequence the table covers. Must be > 0.
      e_init: Initializer or its name for `embedding`. Default N(0, 0.02), as
        GPT-2: small next to unit-variance token embeddings.
      param_dtype: Dtype of the table. Default float32.

    Shapes:
      x: (B, T, F), T <= max_len  ->  y: (B, T, F)

    Params:
      embedding: (max_len, F)

    State:
      none

    Raises:
      ValueError: if `max_len` is not > 0, x is not (B, T, F), or T > max_len.
      TypeError: if `max_len` is not an int, x is not floating point, or
        `e_init` is neither callable nor a name.

    Example:
      >>> import jax.random as jr
      >>> layer = learned_positions(8)
      >>> params, state = layer.init(jr.key(0), jnp.zeros((2, 5, 4)))
      >>> params["embedding"].shape
      (8, 4)
    """
    where = "learned_positions"
    _checks.positive_int(where, "max_len", max_len)
    e_init = initializers.resolve(where, "e_init", e_init, initializers.normal(0.02))

    def check(x):
        _check_sequence(where, x, None)
        if x.shape[1] > max_len:
            raise _checks.value_error(
                where,
                f"at most `max_len` = {max_len} steps, input (B, T, F)",
                f"shape {_checks.fmt_shape(x.shape)}",
                "raise `max_len` or crop the sequence",
            )

    def init(key, x_spec):
        check(x_spec)
        return {"embedding": e_init(key, (max_len, x_spec.shape[2]), param_dtype)}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        check(x)
        table = params["embedding"][: x.shape[1]].astype(x.dtype)  # (T, F)
        return x + table[None], state

    return Layer(init, apply, "learned_positions")
