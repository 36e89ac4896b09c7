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
    return _dropout_layer("dropout", drop_rate, lambda shape: shape)


def spatial_dropout(drop_rate: float) -> Layer:
    """Zero whole channels (feature maps) with probability `drop_rate` in training.

    Neighbouring pixels of one feature map are strongly correlated, so
    elementwise dropout barely regularises convolutions; dropping a channel for
    every position of an example does (Tompson et al., 2015). Kept channels are
    scaled by 1 / (1 - drop_rate); evaluation is the identity.

    Args:
      drop_rate: Probability of dropping a channel, in [0, 1).

    Shapes:
      x: (B, *spatial, C)  ->  y: (B, *spatial, C)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if `drop_rate` is not in [0, 1), x has rank < 3, or
        `train=True` with no key.
      TypeError: if x is not floating point.

    Example:
      >>> import jax.random as jr
      >>> y, _ = spatial_dropout(0.5).apply(
      ...     {}, {}, jnp.ones((1, 3, 3, 4)), key=jr.key(0), train=True)
      >>> bool(jnp.all(y == y[:, :1, :1, :]))  # one value per channel
      True
    """
    _checks.probability("spatial_dropout", "drop_rate", drop_rate)

    def mask_shape(shape):
        if len(shape) < 3:
            raise _checks.value_error(
                "spatial_dropout",
                "input of rank >= 3 (B, *spatial, C)",
                f"shape {shape}",
            )
        return (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)  # (B, 1.., C)

    return _dropout_layer("spatial_dropout", drop_rate, mask_shape)


def _dropout_layer(where: str, drop_rate: float, mask_shape) -> Layer:
    """Inverted dropout with a keep-mask of `mask_shape(x.shape)`, broadcast to x."""

    def init(key, x_spec):
        del key
        mask_shape(tuple(x_spec.shape))  # validates the layout early
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params
        _checks.expect_floating(where, "x", x)  # an int scale would not rescale
        shape = mask_shape(tuple(x.shape))
        if not train or drop_rate == 0.0:
            return x, state
        if key is None:
            raise _checks.value_error(
                where, "a PRNG `key` when train=True", "None", NO_KEY_HINT
            )
        keep = jnp.broadcast_to(
            jax.random.bernoulli(key, 1.0 - drop_rate, shape), x.shape
        )
        scale = jnp.asarray(1.0 / (1.0 - drop_rate), x.dtype)
        return jnp.where(keep, x * scale, jnp.zeros((), x.dtype)), state

    return Layer(init, apply, where)  # "dropout" or "spatial_dropout"
