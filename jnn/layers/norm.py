"""Normalisation layers: `batch_norm`, `layer_norm` and `group_norm`.

All three standardise `x` with a mean and a biased variance, then apply an
optional per-channel affine map `y * scale + bias` over the last axis.
Statistics are computed in at least float32: float16/bfloat16 inputs are
upcast explicitly (their variance overflows or loses every digit otherwise)
and the result is cast back, so `y` always has x's dtype. Parameters and
statistics are cast to that compute dtype explicitly, never promoted silently.
"""

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer

# --------------------------------------------------------------------------
# Hyperparameter validation (eager, in the constructors).


def _check_eps(where: str, eps) -> float:
    eps = _checks.finite_float(where, "eps", eps)
    if eps <= 0.0:
        raise _checks.value_error(where, "`eps` > 0", eps, "e.g. eps=1e-5")
    return eps


def _check_flags(where: str, **flags) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise _checks.type_error(where, f"`{name}` to be a bool", repr(value))


def _check_param_dtype(where: str, param_dtype) -> None:
    try:
        floating = jnp.issubdtype(param_dtype, jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise _checks.type_error(
            where, "a floating `param_dtype`", repr(param_dtype), "e.g. jnp.float32"
        )


def _check_common(where, eps, use_scale, use_bias, param_dtype) -> float:
    _check_flags(where, use_scale=use_scale, use_bias=use_bias)
    _check_param_dtype(where, param_dtype)
    return _check_eps(where, eps)


# --------------------------------------------------------------------------
# Shape validation (in init / apply) and the shared arithmetic.


def _check_input(where: str, x, min_rank: int, legend: str, channels=None) -> None:
    """Raise unless x has rank >= min_rank, floats, and `channels` last."""
    _checks.expect_min_rank(where, x, min_rank, legend)
    _checks.expect_floating(where, "x", x)
    if channels is not None and x.shape[-1] != channels:
        raise _checks.value_error(
            where,
            f"input with {channels} channels on the last axis (as at init)",
            f"shape {_checks.fmt_shape(x.shape)}",
        )


def _param_channels(params):
    """Channels the affine params were built for; None if there are none."""
    leaves = [params[k] for k in ("scale", "bias") if k in params]
    return leaves[0].shape[0] if leaves else None


def _affine_params(channels: int, use_scale, use_bias, param_dtype) -> dict:
    params = {}
    if use_scale:
        params["scale"] = jnp.ones((channels,), param_dtype)
    if use_bias:
        params["bias"] = jnp.zeros((channels,), param_dtype)
    return params


def _at_least_float32(dtype):
    # float16 squares overflow past 65504 and bfloat16 keeps 8 mantissa bits.
    # (jnp.promote_types would refuse float64 + float32 under strict promotion.)
    dtype = jnp.dtype(dtype)
    return dtype if jnp.finfo(dtype).bits >= 32 else jnp.dtype(jnp.float32)


def _compute_dtype(x):
    return _at_least_float32(x.dtype)


def _last_axis(v, ndim: int, dtype):
    """(C,) -> (1, ..., 1, C) in `dtype`, reshaped explicitly (no rank promotion)."""
    return v.astype(dtype).reshape((1,) * (ndim - 1) + v.shape)


def _moments(x, axes):
    """Mean and biased (two-pass, stable) variance over `axes`, keepdims."""
    return jnp.mean(x, axes, keepdims=True), jnp.var(x, axes, keepdims=True)


def _affine(y, params, out_dtype):
    """Apply the optional `scale` and `bias` over the last axis; cast to out."""
    if "scale" in params:
        y = y * _last_axis(params["scale"], y.ndim, y.dtype)
    if "bias" in params:
        y = y + _last_axis(params["bias"], y.ndim, y.dtype)
    return y.astype(out_dtype)


def _standardize(x, axes, eps):
    """Standardise x over `axes` with its own statistics, in the compute dtype."""
    x = x.astype(_compute_dtype(x))
    mean, var = _moments(x, axes)
    return jax.nn.standardize(x, axes, mean=mean, variance=var, epsilon=eps)


# --------------------------------------------------------------------------
# Layers.


def batch_norm(
    *,
    momentum: float = 0.99,
    eps: float = 1e-5,
    use_scale: bool = True,
    use_bias: bool = True,
    param_dtype=jnp.float32,
) -> Layer:
    """Normalise each channel with batch statistics (train) or running ones (eval).

    Statistics are over every axis but the last. `train=True` normalises with
    the batch mean and biased variance and returns the running statistics
    `mean <- momentum * mean + (1 - momentum) * batch_mean` (same for `var`).
    The running `var` averages that same biased variance (as Flax and Keras
    do): eval then uses the estimator train used, and N = 1 value per channel
    gives 0 where the unbiased one gives NaN. `train=False` uses the running
    statistics and returns `state` unchanged, so an example's output does not
    depend on the rest of the batch. A padded ragged batch (rows repeated, then
    masked) slightly biases batch statistics: use `train.ragged = "drop"`.

    Args:
      momentum: Decay of the running statistics, in [0, 1). Default 0.99.
      eps: Added to the variance before the square root. Must be > 0.
      use_scale: Whether to learn a per-channel `scale`. Default True.
      use_bias: Whether to learn a per-channel `bias`. Default True.
      param_dtype: Dtype of the params. Default float32.

    Shapes:
      x: (B, *spatial, C)  ->  y: (B, *spatial, C)

    Params:
      scale: (C,) ones   bias: (C,) zeros   (each omitted when disabled)

    State:
      mean: (C,) zeros   var: (C,) ones   (float32, or param_dtype if wider)

    Raises:
      ValueError: if `momentum` is not in [0, 1), `eps` is not > 0, x has rank
        < 2, or x's channels differ from those at init.
      TypeError: if a hyperparameter has the wrong kind or x is not floating.

    Example:
      >>> import jax.random as jr
      >>> layer = batch_norm(momentum=0.9)
      >>> x = jnp.array([[1.0], [3.0]])
      >>> params, state = layer.init(jr.key(0), x)
      >>> y, state = layer.apply(params, state, x, train=True)
      >>> y.round(3).tolist()
      [[-1.0], [1.0]]
      >>> state["mean"], state["var"]
      (Array([0.2], dtype=float32), Array([1.], dtype=float32))
    """
    _checks.probability("batch_norm", "momentum", momentum)
    eps = _check_common("batch_norm", eps, use_scale, use_bias, param_dtype)
    stat_dtype = _at_least_float32(param_dtype)

    def init(key, x_spec):
        del key
        _check_input("batch_norm", x_spec, 2, "(B, *spatial, C)")
        channels = x_spec.shape[-1]
        state = {
            "mean": jnp.zeros((channels,), stat_dtype),
            "var": jnp.ones((channels,), stat_dtype),
        }
        return _affine_params(channels, use_scale, use_bias, param_dtype), state

    def apply(params, state, x, *, key=None, train=False):
        del key  # deterministic layer
        channels = state["mean"].shape[0]
        _check_input("batch_norm", x, 2, "(B, *spatial, C)", channels)
        axes = tuple(range(x.ndim - 1))  # every axis but C
        xc = x.astype(_compute_dtype(x))
        if train:
            mean, var = _moments(xc, axes)  # (1, ..., 1, C)
            state = _update_running(state, mean, var, momentum)
        else:
            mean = _last_axis(state["mean"], x.ndim, xc.dtype)
            var = _last_axis(state["var"], x.ndim, xc.dtype)
        y = jax.nn.standardize(xc, axes, mean=mean, variance=var, epsilon=eps)
        return _affine(y, params, x.dtype), state

    return Layer(init, apply, "batch_norm")


def _update_running(state, mean, var, momentum: float):
    """Exponential moving average of the batch statistics, in the state dtype."""

    def ema(old, new):
        new = new.reshape(old.shape).astype(old.dtype)  # (1, ..., 1, C) -> (C,)
        return momentum * old + (1.0 - momentum) * new

    return {"mean": ema(state["mean"], mean), "var": ema(state["var"], var)}


def layer_norm(
    *,
    eps: float = 1e-5,
    use_scale: bool = True,
    use_bias: bool = True,
    param_dtype=jnp.float32,
) -> Layer:
    """Normalise each example over its last axis, then scale and shift.

    Unlike `batch_norm`, the output for one example never depends on the others,
    and train and eval modes are the same.

    Args:
      eps: Added to the variance before the square root. Must be > 0.
      use_scale: Whether to learn a per-feature `scale`. Default True.
      use_bias: Whether to learn a per-feature `bias`. Default True.
      param_dtype: Dtype of the params. Default float32.

    Shapes:
      x: (*B, F)  ->  y: (*B, F)

    Params:
      scale: (F,) ones   bias: (F,) zeros   (each omitted when disabled)

    State:
      none

    Raises:
      ValueError: if `eps` is not > 0, x has rank 0, or x's last axis differs
        from the F at init.
      TypeError: if a hyperparameter has the wrong kind or x is not floating.

    Example:
      >>> import jax.random as jr
      >>> layer = layer_norm()
      >>> x = jnp.array([[1.0, 3.0]])
      >>> params, state = layer.init(jr.key(0), x)
      >>> layer.apply(params, state, x)[0].round(3).tolist()
      [[-1.0, 1.0]]
    """
    eps = _check_common("layer_norm", eps, use_scale, use_bias, param_dtype)

    def init(key, x_spec):
        del key
        _check_input("layer_norm", x_spec, 1, "(*B, F)")
        return _affine_params(x_spec.shape[-1], use_scale, use_bias, param_dtype), {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic, same in both modes
        _check_input("layer_norm", x, 1, "(*B, F)", _param_channels(params))
        y = _standardize(x, (x.ndim - 1,), eps)
        return _affine(y, params, x.dtype), state

    return Layer(init, apply, "layer_norm")


def group_norm(
    num_groups: int,
    *,
    eps: float = 1e-5,
    use_scale: bool = True,
    use_bias: bool = True,
    param_dtype=jnp.float32,
) -> Layer:
    """Normalise each example over its spatial axes and groups of channels.

    The C channels are split into `num_groups` contiguous groups of C / groups.
    `num_groups == C` is instance norm; `num_groups == 1` is layer norm over
    (*spatial, C). Per-example, so train and eval modes are the same.

    Args:
      num_groups: Number of channel groups. Must be > 0 and divide C.
      eps: Added to the variance before the square root. Must be > 0.
      use_scale: Whether to learn a per-channel `scale`. Default True.
      use_bias: Whether to learn a per-channel `bias`. Default True.
      param_dtype: Dtype of the params. Default float32.

    Shapes:
      x: (B, *spatial, C)  ->  y: (B, *spatial, C)

    Params:
      scale: (C,) ones   bias: (C,) zeros   (each omitted when disabled)

    State:
      none

    Raises:
      ValueError: if `num_groups` is not > 0, `eps` is not > 0, x has rank < 2,
        C is not divisible by `num_groups`, or C differs from the one at init.
      TypeError: if a hyperparameter has the wrong kind or x is not floating.

    Example:
      >>> import jax.random as jr
      >>> layer = group_norm(2)
      >>> x = jnp.array([[1.0, 3.0, 5.0, 9.0]])
      >>> params, state = layer.init(jr.key(0), x)
      >>> layer.apply(params, state, x)[0].round(3).tolist()
      [[-1.0, 1.0, -1.0, 1.0]]
    """
    _checks.positive_int("group_norm", "num_groups", num_groups)
    eps = _check_common("group_norm", eps, use_scale, use_bias, param_dtype)

    def check(x, channels=None):
        _check_input("group_norm", x, 2, "(B, *spatial, C)", channels)
        if x.shape[-1] % num_groups:
            raise _checks.value_error(
                "group_norm",
                f"channels C divisible by `num_groups`={num_groups}",
                f"C={x.shape[-1]} (shape {_checks.fmt_shape(x.shape)})",
                "pick num_groups among the divisors of C",
            )

    def init(key, x_spec):
        del key
        check(x_spec)
        return _affine_params(x_spec.shape[-1], use_scale, use_bias, param_dtype), {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic, same in both modes
        check(x, _param_channels(params))
        size = x.shape[-1] // num_groups
        xg = x.reshape((*x.shape[:-1], num_groups, size))  # (B, *S, G, C/G)
        axes = (*range(1, xg.ndim - 2), xg.ndim - 1)  # spatial and within-group
        y = _standardize(xg, axes, eps).reshape(x.shape)
        return _affine(y, params, x.dtype), state

    return Layer(init, apply, "group_norm")
