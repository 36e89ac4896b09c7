"""Basic layers: `dense`, `flatten`, `identity` and activation layers."""

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import _checks, activations, initializers
from jnn._types import Initializer, Layer


def dense(
    features: int,
    *,
    use_bias: bool = True,
    w_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Apply an affine map `y = x @ weight + bias` over the last axis.

    Args:
      features: Number of output features. Must be > 0.
      use_bias: Whether to add a learned bias. Default True.
      w_init: Initializer or its name for `weight`. Default LeCun-normal (unit variance
        output for unit-variance input); use He for ReLU stacks.
      b_init: Initializer or its name for `bias`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      x: (*B, F_in)  ->  y: (*B, features)

    Params:
      weight: (F_in, features)   bias: (features,)

    State:
      none

    Raises:
      ValueError: if `features` is not > 0, if x has rank 0, or if x's last
        axis differs from the F_in the layer was initialised with.
      TypeError: if `features` is not an int, x is not floating point, or an
        `*_init` is neither callable nor a name (ValueError for an unknown name).

    Example:
      >>> import jax.random as jr
      >>> layer = dense(4)
      >>> params, state = layer.init(jr.key(0), jnp.zeros((2, 3)))
      >>> layer.apply(params, state, jnp.ones((2, 3)))[0].shape
      (2, 4)
    """
    _checks.positive_int("dense", "features", features)
    w_init = initializers.resolve(
        "dense", "w_init", w_init, initializers.lecun_normal()
    )
    b_init = initializers.resolve("dense", "b_init", b_init, initializers.zeros())

    def init(key, x_spec):
        _checks.expect_min_rank("dense", x_spec, 1, "(*B, F_in)")
        w_key, b_key = jax.random.split(key)
        params = {"weight": w_init(w_key, (x_spec.shape[-1], features), param_dtype)}
        if use_bias:
            params["bias"] = b_init(b_key, (features,), param_dtype)
        return params, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        _check_features(x, params["weight"].shape)
        y = x @ params["weight"]  # (*B, F_in) @ (F_in, F) -> (*B, F)
        if use_bias:
            bias = params["bias"]
            y = y + bias.reshape((1,) * (y.ndim - 1) + bias.shape)  # explicit (*B, F)
        return y, state

    return Layer(init, apply, "dense")


def _check_features(x, weight_shape) -> None:
    _checks.expect_min_rank("dense", x, 1, "(*B, F_in)")
    _checks.expect_floating("dense", "x", x)
    if x.shape[-1] != weight_shape[0]:
        raise _checks.value_error(
            "dense",
            f"input of shape (*B, {weight_shape[0]}) for weight of shape "
            f"{_checks.fmt_shape(weight_shape)}",
            f"shape {_checks.fmt_shape(x.shape)}",
        )


def flatten() -> Layer:
    """Flatten all axes but the leading batch axis.

    Shapes:
      x: (B, *D)  ->  y: (B, prod(D))

    Params:
      none

    State:
      none

    Raises:
      ValueError: if x has rank 0 (no batch axis).
    """

    def init(key, x_spec):
        del key
        _checks.expect_min_rank("flatten", x_spec, 1, "(B, *D)")
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        _checks.expect_min_rank("flatten", x, 1, "(B, *D)")
        flat = math.prod(x.shape[1:])  # explicit: reshape(B, -1) fails for B == 0
        return x.reshape(x.shape[0], flat), state  # (B, *D) -> (B, prod(D))

    return Layer(init, apply, "flatten")


def activation(fn: str | Callable[..., jax.Array], **kwargs) -> Layer:
    """Apply an elementwise (or last-axis, for softmax) function as a layer.

    Args:
      fn: A name from `jnn.activations.NAMES` or any callable `fn(x, **kwargs)`.
      **kwargs: Fixed keyword arguments for `fn`, e.g. `negative_slope=0.2`
        for "leaky_relu" or `threshold=0.5` for "step".

    Shapes:
      x: (*B, F)  ->  y: (*B, F)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if `fn` is an unknown name.
      TypeError: if `fn` is neither a string nor callable.

    Example:
      >>> import jax.random as jr
      >>> layer = activation("relu")
      >>> layer.apply({}, {}, jnp.array([-1.0, 2.0]))[0]
      Array([0., 2.], dtype=float32)
    """
    if isinstance(fn, str):
        fn = activations.get(fn)
    elif not callable(fn):
        raise _checks.type_error(
            "activation", "`fn` to be a name or callable", repr(fn)
        )
    fn = functools.partial(fn, **kwargs) if kwargs else fn

    def init(key, x_spec):
        del key, x_spec
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return fn(x), state

    return Layer(init, apply, "activation")


def identity() -> Layer:
    """Return the input unchanged. Same as `activation("identity")`."""
    return activation("identity")


def step(threshold: float = 0.0) -> Layer:
    """Heaviside step: 1 where x >= threshold. Same as `activation("step", ...)`."""
    return activation("step", threshold=threshold)


def sigmoid() -> Layer:
    """Same as `activation("sigmoid")`."""
    return activation("sigmoid")


def tanh() -> Layer:
    """Same as `activation("tanh")`."""
    return activation("tanh")


def relu() -> Layer:
    """Same as `activation("relu")`."""
    return activation("relu")


def leaky_relu(negative_slope: float = 0.01) -> Layer:
    """Same as `activation("leaky_relu", negative_slope=...)`."""
    return activation("leaky_relu", negative_slope=negative_slope)


def elu(alpha: float = 1.0) -> Layer:
    """Same as `activation("elu", alpha=...)`."""
    return activation("elu", alpha=alpha)


def gelu(approximate: bool = True) -> Layer:
    """Same as `activation("gelu", approximate=...)`."""
    return activation("gelu", approximate=approximate)


def softplus() -> Layer:
    """Same as `activation("softplus")`."""
    return activation("softplus")


def softmax(axis: int = -1) -> Layer:
    """Same as `activation("softmax", axis=...)`."""
    return activation("softmax", axis=axis)


def log_softmax(axis: int = -1) -> Layer:
    """Same as `activation("log_softmax", axis=...)`."""
    return activation("log_softmax", axis=axis)
