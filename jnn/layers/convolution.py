"""Convolution layers: `conv` and `conv_transpose`, for 1-, 2- and 3-D inputs.

The spatial rank is `len(kernel_size)`, so one constructor serves every rank
(no Conv1d/2d/3d copies). Data are channels-last `(B, *S, C)` and weights are
`(*kernel_size, C_in, C_out)` (HWIO), the layout of `jax.lax` with dimension
numbers ("NHWC", "HWIO", "NHWC"). Both layers are thin wrappers over
`lax.conv_general_dilated` and `lax.conv_transpose`; this module only validates.
On XLA:CPU they apply that call to chunks of the batch, and strided ones use
stride-1 formulations: the same values and gradients, computed faster there
(see `_conv_chunks` and `_conv_phases`).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jnn import _checks, initializers
from jnn._types import Initializer, Layer
from jnn.layers._conv_chunks import batch_chunked, conv_ops, conv_transpose_ops

_SPATIAL = "DHW"  # letters of the spatial axes; a rank-r kernel uses the last r
_PADDINGS = ("SAME", "VALID")


def _legend(rank: int) -> str:
    return "(B, " + ", ".join(_SPATIAL[-rank:]) + ", C)"  # rank 2: (B, H, W, C)


def _dimension_numbers(rank: int) -> tuple[str, str, str]:
    spatial = _SPATIAL[-rank:]
    return f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"


def _kernel_size(where: str, kernel_size) -> tuple[int, ...]:
    """Return `kernel_size` as a tuple of 1 to 3 positive ints."""
    if not isinstance(kernel_size, tuple | list):
        hint = "pass one size per spatial axis, e.g. kernel_size=(3, 3)"
        if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
            k = kernel_size
            hint = f"pass one size per spatial axis, e.g. kernel_size=({k}, {k})"
            hint += f" for images or kernel_size=({k},) for sequences"
        raise _checks.type_error(
            where, "`kernel_size` as a tuple of ints", repr(kernel_size), hint
        )
    if not 1 <= len(kernel_size) <= 3:
        raise _checks.value_error(
            where,
            "`kernel_size` of length 1, 2 or 3 (one size per spatial axis)",
            repr(kernel_size),
        )
    return tuple(
        _checks.positive_int(where, f"kernel_size[{i}]", k)
        for i, k in enumerate(kernel_size)
    )


def _per_axis(where: str, name: str, value, rank: int) -> tuple[int, ...]:
    """Return `value` (an int, or one int per spatial axis) as `rank` ints > 0."""
    if isinstance(value, int):
        value = (value,) * rank
    if not isinstance(value, tuple | list):
        raise _checks.type_error(
            where, f"`{name}` as an int or a tuple of ints", repr(value)
        )
    if len(value) != rank:
        raise _checks.value_error(
            where,
            f"`{name}` as an int or {rank} ints (one per spatial axis)",
            repr(value),
        )
    return tuple(
        _checks.positive_int(where, f"{name}[{i}]", v) for i, v in enumerate(value)
    )


def _padding_string(where: str, padding: str, what: str) -> str:
    if padding not in _PADDINGS:
        # Compare upper-cased so 'same' and 'valid' get a suggestion too.
        hint = _checks.did_you_mean(padding.upper(), _PADDINGS)
        raise _checks.value_error(where, f"`padding` to be {what}", repr(padding), hint)
    return padding


def _padding(where: str, padding, rank: int, explicit: bool = True):
    """Return "SAME", "VALID" or (if `explicit`) `rank` (low, high) pairs >= 0."""
    what = f"'SAME', 'VALID', an int or {rank} (low, high) pairs"
    if not explicit:
        what = "'SAME' or 'VALID'"
        if not isinstance(padding, str):
            hint = "explicit padding is for `conv`; crop or pad the output instead"
            raise _checks.type_error(
                where, f"`padding` to be {what}", repr(padding), hint
            )
    if isinstance(padding, str):
        return _padding_string(where, padding, what)
    if isinstance(padding, int):
        pad = _checks.non_negative_int(where, "padding", padding)
        return ((pad, pad),) * rank
    if not isinstance(padding, tuple | list):
        raise _checks.type_error(where, f"`padding` to be {what}", repr(padding))
    pairs = all(isinstance(p, tuple | list) and len(p) == 2 for p in padding)
    if len(padding) != rank or not pairs:
        hint = f"one (low, high) pair per spatial axis, e.g. padding={((1, 1),) * rank}"
        raise _checks.value_error(where, f"`padding` to be {what}", repr(padding), hint)
    return tuple(
        tuple(_checks.non_negative_int(where, f"padding[{i}]", v) for v in pair)
        for i, pair in enumerate(padding)
    )


_KINDS = {1: "sequences", 2: "images", 3: "volumes"}


def missing_axis_hint(shape: Sequence[int], rank: int) -> str | None:
    """The fix for a (B, *S, C) input one axis short, which may be either axis.

    (28, 28, 1) lacks the batch axis and (B, 28, 28) the channel axis: the same
    rank, so the hint names both, the likelier first. Sequences (B, W) and a
    wide last axis (not a channel count such as 1, 3 or 4) put the channel first.
    """
    if len(shape) != rank + 1:
        return None
    spatial = ", ".join(_SPATIAL[-rank:])
    batch = f"if x is one example ({spatial}, C), add a batch axis, x[None]"
    channel = (
        f"if x is a batch of single-channel {_KINDS.get(rank, 'inputs')} "
        f"(B, {spatial}), add the channel axis, x[..., None]"
    )
    channel_first = rank == 1 or shape[-1] > 4
    return "; ".join((channel, batch) if channel_first else (batch, channel))


def _check_input(where: str, x, rank: int) -> None:
    """Raise unless x is floating with shape (B, *S, C), `rank` spatial axes."""
    hint = missing_axis_hint(x.shape, rank)
    legend = f"{_legend(rank)} for a {rank}-D kernel"
    _checks.expect_rank(where, x, rank + 2, legend, hint)
    _checks.expect_floating(where, "x", x)


def _check_channels(where: str, x, weight_shape, groups: int = 1) -> None:
    channels = weight_shape[-2] * groups
    if x.shape[-1] != channels:
        grouped = f", groups={groups}" if groups > 1 else ""
        raise _checks.value_error(
            where,
            f"input with C={channels} channels, as at init "
            f"(weight {_checks.fmt_shape(weight_shape)}{grouped})",
            f"shape {_checks.fmt_shape(x.shape)} with C={x.shape[-1]}",
        )


def _check_groups(where: str, channels: int, groups: int) -> None:
    if channels % groups:
        raise _checks.value_error(
            where,
            f"input channels C divisible by `groups`={groups}",
            f"C={channels}",
            "pick `groups` dividing both C and `features`",
        )


def _check_fits(where: str, x, kernel_size, dilation, padding) -> None:
    """Raise if a "VALID" or explicit window is larger than the padded input."""
    if padding == "SAME":
        return
    pads = ((0, 0),) * len(kernel_size) if padding == "VALID" else padding
    spatial = x.shape[1:-1]
    for axis, (n, k, d, (lo, hi)) in enumerate(
        zip(spatial, kernel_size, dilation, pads, strict=True), start=1
    ):
        span = (k - 1) * d + 1  # the dilated kernel
        if n + lo + hi < span:
            raise _checks.value_error(
                where,
                f"padded size >= {span} (the dilated kernel) on axis {axis}",
                f"{n + lo + hi} for input shape {_checks.fmt_shape(x.shape)}",
                "use padding='SAME', a smaller kernel or a larger input",
            )


def _promote(x, weight):
    # The same promotion rule (and strictness) as `x @ weight` in `dense`; lax
    # alone would reject e.g. bfloat16 input with float32 params outright.
    dtype = jnp.result_type(x, weight)
    return x.astype(dtype), weight.astype(dtype)


def _add_bias(y, bias):
    return y + bias.reshape((1,) * (y.ndim - 1) + bias.shape)  # explicit (B, *S, F)


def _init_params(key, w_shape, param_dtype, w_init, b_init, use_bias):
    w_key, b_key = jax.random.split(key)
    params = {"weight": w_init(w_key, w_shape, param_dtype)}
    if use_bias:
        params["bias"] = b_init(b_key, w_shape[-1:], param_dtype)
    return params


def conv(
    features: int,
    kernel_size: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[tuple[int, int]] = "SAME",
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    use_bias: bool = True,
    w_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Apply a channels-last convolution (cross-correlation) over 1-3 spatial axes.

    Args:
      features: Number of output channels F. Must be > 0.
      kernel_size: Tuple of window sizes, one per spatial axis; its length (1, 2
        or 3) sets the spatial rank r.
      stride: Int or r ints: window step. Default 1.
      padding: "SAME" (output size ceil(S / stride)), "VALID" (no padding), an
        int padding both sides, or r (low, high) pairs. Default "SAME".
      dilation: Int or r ints: kernel dilation (atrous). Default 1.
      groups: Feature groups; C and `features` must divide by it; `groups=C` is
        depthwise. Default 1.
      use_bias: Whether to add a learned bias. Default True.
      w_init: Initializer or its name for `weight`. Default LeCun-normal with fan-in
        prod(kernel_size) * C / groups, as for `dense`.
      b_init: Initializer or its name for `bias`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      x: (B, *S, C)  ->  y: (B, *S_out, features); per axis, with the dilated
      kernel K' = (K - 1) * dilation + 1, S_out is ceil(S / stride) for "SAME",
      ceil((S - K' + 1) / stride) for "VALID", (S + lo + hi - K') // stride + 1
      for (lo, hi) pairs.

    Params:
      weight: (*kernel_size, C // groups, features)   bias: (features,)

    State:
      none

    Raises:
      ValueError: if `features`, `groups`, a kernel size, stride or dilation is
        not > 0, a tuple has the wrong length, `padding` is an unknown string,
        negative or not one pair per axis, `features` or C is not divisible by
        `groups`, x has the wrong rank (with a hint if one axis is missing:
        batch or channel) or channels, or the window is larger than the padded input.
      TypeError: if `kernel_size` is not a tuple/list, a size is not an int,
        `padding` has the wrong kind, x is not floating point, or an `*_init`
        is neither callable nor a name (ValueError for an unknown name).

    Example:
      >>> import jax.random as jr
      >>> layer = conv(4, (3, 3), stride=2)
      >>> params, state = layer.init(jr.key(0), jnp.zeros((2, 9, 9, 8)))
      >>> layer.apply(params, state, jnp.ones((2, 9, 9, 8)))[0].shape
      (2, 5, 5, 4)
    """
    _checks.positive_int("conv", "features", features)
    kernel_size, stride, dilation, padding = _hyperparameters(
        "conv", kernel_size, stride, dilation, padding
    )
    _checks.positive_int("conv", "groups", groups)
    if features % groups:
        raise _checks.value_error(
            "conv", f"`features` divisible by `groups`={groups}", f"features={features}"
        )
    rank, dims = len(kernel_size), _dimension_numbers(len(kernel_size))
    lecun = initializers.lecun_normal()  # fan-in over axes (*K, C_in)
    w_init = initializers.resolve("conv", "w_init", w_init, lecun)
    b_init = initializers.resolve("conv", "b_init", b_init, initializers.zeros())
    ops = conv_ops(stride, padding, dilation, dims, groups)

    def init(key, x_spec):
        _check_input("conv", x_spec, rank)
        _check_groups("conv", x_spec.shape[-1], groups)
        _check_fits("conv", x_spec, kernel_size, dilation, padding)
        w_shape = (*kernel_size, x_spec.shape[-1] // groups, features)
        return _init_params(key, w_shape, param_dtype, w_init, b_init, use_bias), {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        _check_input("conv", x, rank)
        _check_channels("conv", x, params["weight"].shape, groups)
        _check_fits("conv", x, kernel_size, dilation, padding)
        x, weight = _promote(x, params["weight"])
        y = batch_chunked(*ops, x, weight)  # (B, *S, C) -> (B, *S_out, features)
        return (_add_bias(y, params["bias"]) if use_bias else y), state

    return Layer(init, apply, "conv")


def _hyperparameters(where, kernel_size, stride, dilation, padding, explicit=True):
    """Validate and normalise the window hyperparameters shared by both layers."""
    kernel_size = _kernel_size(where, kernel_size)
    rank = len(kernel_size)
    stride = _per_axis(where, "stride", stride, rank)
    dilation = _per_axis(where, "dilation", dilation, rank)
    return kernel_size, stride, dilation, _padding(where, padding, rank, explicit)


def conv_transpose(
    features: int,
    kernel_size: Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: str | int | Sequence[tuple[int, int]] = "SAME",
    dilation: int | Sequence[int] = 1,
    use_bias: bool = True,
    w_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Apply a transposed (fractionally strided) convolution; upsamples by `stride`.

    It is the adjoint (the input gradient) of `conv` with the same stride,
    padding and dilation: if `conv(C, ...)` has weight w (*K, features, C), then
    this layer with weight `jnp.flip(w, range(r)).swapaxes(-2, -1)` satisfies
    <conv(u), x> = <u, conv_transpose(x)> (no bias), u of the output's shape.

    Args:
      features: Number of output channels. Must be > 0.
      kernel_size: Tuple of window sizes, one per spatial axis (rank r = 1-3).
      stride: Int or r ints: upsampling factor. Default 1.
      padding: "SAME" or "VALID" (see Shapes). Default "SAME".
      dilation: Int or r ints: kernel dilation. Default 1.
      use_bias: Whether to add a learned bias. Default True.
      w_init: Initializer or its name for `weight`. Default LeCun-normal, fan-in prod(K) * C.
      b_init: Initializer or its name for `bias`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      x: (B, *S, C)  ->  y: (B, *S_out, features); per axis, with the dilated
      kernel K' = (K - 1) * dilation + 1, S_out is S * stride for "SAME" and
      S * stride + max(K' - stride, 0) for "VALID".

    Params:
      weight: (*kernel_size, C, features)   bias: (features,)

    State:
      none

    Raises:
      ValueError: if `features`, a kernel size, stride or dilation is not > 0, a
        tuple has the wrong length, `padding` is an unknown string, or x has the
        wrong rank (hinting at the batch or channel axis if one is missing) or
        channels.
      TypeError: if `kernel_size` is not a tuple/list, `padding` is not a
        string, a size is not an int, x is not floating point, or an `*_init`
        is neither callable nor a name (ValueError for an unknown name).

    Example:
      >>> import jax.random as jr
      >>> layer = conv_transpose(4, (3, 3), stride=2)
      >>> params, state = layer.init(jr.key(0), jnp.zeros((2, 5, 5, 8)))
      >>> layer.apply(params, state, jnp.ones((2, 5, 5, 8)))[0].shape
      (2, 10, 10, 4)
    """
    where = "conv_transpose"
    _checks.positive_int(where, "features", features)
    kernel_size, stride, dilation, padding = _hyperparameters(
        where, kernel_size, stride, dilation, padding, explicit=False
    )
    rank, dims = len(kernel_size), _dimension_numbers(len(kernel_size))
    w_init = initializers.resolve(where, "w_init", w_init, initializers.lecun_normal())
    b_init = initializers.resolve(where, "b_init", b_init, initializers.zeros())
    ops = conv_transpose_ops(stride, padding, dilation, dims)

    def init(key, x_spec):
        _check_input(where, x_spec, rank)
        w_shape = (*kernel_size, x_spec.shape[-1], features)
        return _init_params(key, w_shape, param_dtype, w_init, b_init, use_bias), {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        _check_input(where, x, rank)
        _check_channels(where, x, params["weight"].shape)
        x, weight = _promote(x, params["weight"])
        y = batch_chunked(*ops, x, weight)  # (B, *S, C) -> (B, *S_out, features)
        return (_add_bias(y, params["bias"]) if use_bias else y), state

    return Layer(init, apply, "conv_transpose")
