"""Dropout: randomly zero activations in training, identity in evaluation."""

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer

NO_KEY_HINT = (
    "pass a PRNG key when training, e.g. "
    "model.apply(params, state, x, key=jax.random.key(0), train=True)"
)


def dropout(drop_rate: float) -> Layer:
    """Zero each element with probability `drop_rate` in training (inverted).

    Kept elements are scaled by 1 / (1 - drop_rate), so the expected activation
    is unchanged and evaluation (`train=False`) is the identity.

    Args:
      drop_rate: Probability of dropping an element, in [0, 1).

    Shapes:
      x: (*B, F)  ->  y: (*B, F)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if `drop_rate` is not in [0, 1), or `train=True` with no key.
      TypeError: if x is not floating point.

    Example:
      >>> import jax.random as jr
      >>> layer = dropout(0.5)
      >>> y, _ = layer.apply({}, {}, jnp.ones(4), key=jr.key(0), train=True)
      >>> sorted(set(y.tolist())) in ([0.0, 2.0], [2.0], [0.0])
      True
    """
    _checks.probability("dropout", "drop_rate", drop_rate)

    def init(key, x_spec):
        del key, x_spec
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params
        _checks.expect_floating("dropout", "x", x)  # an int scale would not rescale
        if not train or drop_rate == 0.0:
            return x, state
        if key is None:
            raise _checks.value_error(
                "dropout", "a PRNG `key` when train=True", "None", NO_KEY_HINT
            )
        keep = jax.random.bernoulli(key, 1.0 - drop_rate, x.shape)
        scale = jnp.asarray(1.0 / (1.0 - drop_rate), x.dtype)
        return jnp.where(keep, x * scale, jnp.zeros((), x.dtype)), state

    return Layer(init, apply)
