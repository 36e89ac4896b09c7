"""Activation functions, by name. All but `step` and `identity` are `jax.nn`'s.

`step` is the Heaviside threshold of the perceptron. Its gradient is zero almost
everywhere, so networks that use it learn with the perceptron rule
(`jnn.models.perceptron`), not backprop.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import _checks


def identity(x: jax.Array) -> jax.Array:
    """Return `x` unchanged (the linear activation)."""
    return x


def step(x: jax.Array, threshold: float = 0.0) -> jax.Array:
    """Return 1 where `x >= threshold`, else 0, in `x`'s dtype (Heaviside).

    Example:
      >>> step(jnp.array([0.67, 0.3]), threshold=0.5)
      Array([1., 0.], dtype=float32)
    """
    return (x >= threshold).astype(x.dtype)


sigmoid = jax.nn.sigmoid
tanh = jnp.tanh
relu = jax.nn.relu
leaky_relu = jax.nn.leaky_relu
elu = jax.nn.elu
gelu = jax.nn.gelu
silu = jax.nn.silu
softplus = jax.nn.softplus
softmax = jax.nn.softmax
log_softmax = jax.nn.log_softmax

_BY_NAME: dict[str, Callable[..., jax.Array]] = {
    "identity": identity,
    "linear": identity,
    "step": step,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,
    "softplus": softplus,
    "softmax": softmax,
    "log_softmax": log_softmax,
}

NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get(name: str) -> Callable[..., jax.Array]:
    """Return the activation function called `name`.

    Raises:
      ValueError: if `name` is unknown (the message lists the valid names).
    """
    _checks.one_of("activations.get", "name", name, NAMES)
    return _BY_NAME[name]
