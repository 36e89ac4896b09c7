"""Weight initialisers, by name, as uniform factories over `jax.nn.initializers`.

Every entry is a factory returning an initializer `init(key, shape, dtype)`, so
configs and code read the same: `get("he_normal")` is `he_normal()`. The maths is
jax's own; this module only gives it one calling convention and names.

Fan-in/fan-out follow jax's convention for a dense `weight` of shape
(F_in, F_out): fan_in = shape[-2], fan_out = shape[-1] (times receptive field).
"""

import inspect
from collections.abc import Callable

import jax.nn.initializers as jinit
import jax.numpy as jnp
import jax.random as jr

from jnn import _checks
from jnn._types import Initializer


def zeros() -> Initializer:
    """Return an initializer filling with 0 (the default for biases)."""
    return jinit.zeros


def ones() -> Initializer:
    """Return an initializer filling with 1 (the default for norm scales)."""
    return jinit.ones


def constant(value: float) -> Initializer:
    """Return an initializer filling with `value`."""
    _checks.finite_float("initializers.constant", "value", value)
    return jinit.constant(value)


def normal(stddev: float = 1e-2) -> Initializer:
    """Return N(0, stddev^2) samples."""
    _checks.finite_float("initializers.normal", "stddev", stddev, low=0.0)
    return jinit.normal(stddev)


def uniform(scale: float = 1e-2) -> Initializer:
    """Return U[-scale, scale) samples (symmetric, unlike jax's U[0, scale))."""
    _checks.finite_float("initializers.uniform", "scale", scale, low=0.0)

    def init(key, shape, dtype=jnp.float32):
        return jr.uniform(key, shape, dtype, minval=-scale, maxval=scale)

    return init


def glorot_uniform() -> Initializer:
    """Return Glorot/Xavier uniform: U[-a, a], a = sqrt(6 / (fan_in + fan_out))."""
    return jinit.glorot_uniform()


def glorot_normal() -> Initializer:
    """Return Glorot/Xavier normal: truncated N with var 2 / (fan_in + fan_out)."""
    return jinit.glorot_normal()


def he_uniform() -> Initializer:
    """Return He/Kaiming uniform: U[-a, a], a = sqrt(6 / fan_in), for ReLU nets."""
    return jinit.he_uniform()


def he_normal() -> Initializer:
    """Return He/Kaiming normal: truncated N with var 2 / fan_in, for ReLU nets."""
    return jinit.he_normal()


def lecun_uniform() -> Initializer:
    """Return LeCun uniform: U[-a, a], a = sqrt(3 / fan_in)."""
    return jinit.lecun_uniform()


def lecun_normal() -> Initializer:
    """Return LeCun normal: truncated N with var 1 / fan_in (dense default)."""
    return jinit.lecun_normal()


def orthogonal(scale: float = 1.0) -> Initializer:
    """Return a (semi-)orthogonal matrix times `scale` (good for recurrent weights)."""
    _checks.finite_float("initializers.orthogonal", "scale", scale, low=0.0)
    base = jinit.orthogonal(scale)

    def init(key, shape, dtype=jnp.float32):
        # QR has no float16/bfloat16 kernel on CPU: compute wide, then cast.
        wide = dtype if jnp.finfo(dtype).bits >= 32 else jnp.float32
        return base(key, shape, wide).astype(dtype)

    return init


def variance_scaling(
    scale: float, mode: str = "fan_in", distribution: str = "truncated_normal"
) -> Initializer:
    """Return samples of variance `scale / n`, n from `mode` (the general form).

    Args:
      scale: Variance multiplier (2.0 with fan_in is He, 1.0 is LeCun).
      mode: "fan_in", "fan_out" or "fan_avg".
      distribution: "truncated_normal", "normal" or "uniform".
    """
    where = "initializers.variance_scaling"
    _checks.finite_float(where, "scale", scale, low=0.0)
    _checks.one_of(where, "mode", mode, ("fan_in", "fan_out", "fan_avg"))
    kinds = ("truncated_normal", "normal", "uniform")
    _checks.one_of(where, "distribution", distribution, kinds)
    return jinit.variance_scaling(scale, mode, distribution)


_FACTORIES: dict[str, Callable[..., Initializer]] = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
    "variance_scaling": variance_scaling,
}

NAMES: tuple[str, ...] = tuple(_FACTORIES)
# Names usable bare, as a layer's `w_init="he_normal"`: no required arguments.
BARE_NAMES: tuple[str, ...] = tuple(
    name
    for name, factory in _FACTORIES.items()
    if all(
        p.default is not inspect.Parameter.empty
        for p in inspect.signature(factory).parameters.values()
    )
)


def get(name: str, **kwargs) -> Initializer:
    """Return the initializer called `name`, built with `kwargs`.

    Raises:
      ValueError: if `name` is unknown (the message lists the valid names).
      TypeError: if `kwargs` do not fit that initializer.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> get("normal", stddev=0.1)(jax.random.key(0), (2, 3), jnp.float32).shape
      (2, 3)
    """
    _checks.one_of("initializers.get", "name", name, NAMES)
    factory = _FACTORIES[name]
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as error:
        params = list(inspect.signature(factory).parameters)
        raise _checks.type_error(
            "initializers.get", f"arguments of {name!r} among {params}", error
        ) from None
    return factory(**kwargs)


def resolve(where: str, name: str, value, default: Initializer) -> Initializer:
    """Return `value` as an initializer: None gives `default`, a name its `get`.

    Layers call this eagerly in their constructors, so `dense(4,
    w_init="he_normal")` works and a typo fails at construction, naming the
    argument.

    Raises:
      ValueError: if `value` is a string that is not a name usable without
        arguments (the message lists them and suggests the closest).
      TypeError: if `value` is neither None, a string nor callable.

    Example:
      >>> resolve("dense", "w_init", "he_normal", zeros()) is not None
      True
    """
    if value is None:
        return default
    expected = f"`{name}` to be an initializer or one of {sorted(BARE_NAMES)}"
    if isinstance(value, str):
        if value in BARE_NAMES:
            return get(value)
        hint = _checks.did_you_mean(value, BARE_NAMES)
        if value in NAMES:
            hint = f"{value!r} takes arguments; pass jnn.initializers.{value}(...)"
        raise _checks.value_error(where, expected, repr(value), hint)
    if not callable(value):
        raise _checks.type_error(where, expected, repr(value))
    return value
