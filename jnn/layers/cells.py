"""Recurrent cells: one time step as a pure `(params, carry, x_t) -> (carry, y_t)`.

A `Cell` is not a `Layer`: it maps one step, and `jnn.layers.rnn` (or
`unroll`) runs it over time with `lax.scan`. The equations and gate order are
PyTorch's (`nn.RNN`, `nn.LSTM`, `nn.GRU`), the formulation most users compare
against, so weights move between toolkits by the mapping in each docstring.
Kernels are stored input-major, `(F_in, G*H)`, so a step is `x @ w_i`: they
are the transposes of PyTorch's `(G*H, F_in)` weights.

Notation: `H` = `features`, `G` = number of gates, `σ` = logistic sigmoid,
`*` = elementwise product, `[a | b]` = concatenation along features.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr

from jnn import _checks, initializers
from jnn._types import Initializer


class Cell(NamedTuple):
    """A pure recurrent step and its initial carry.

    `init(key, x_spec) -> params` builds params from one step's spec (B, F_in).
    `apply(params, carry, x_t) -> (carry, y_t)` runs one step; the carry is
    any pytree of (B, ...) arrays, `y_t` one (B, H) array.
    `initial_carry(batch_size, dtype=float32) -> carry` gives the zero carry.
    `output(carry) -> y_t`, optional, reads the output `apply` returned from
    the carry it returned (LSTM's h): then a layer that wants only the last
    output runs a scan over carries alone, as a hand-written one would.
    Write your own cell by building this tuple; `rnn` accepts any `Cell`.
    """

    init: Callable[..., Any]
    apply: Callable[..., tuple[Any, jax.Array]]
    initial_carry: Callable[[int, Any], Any]
    output: Callable[[Any], jax.Array] | None = None


def _itself(carry):
    return carry  # a cell whose carry is its output h


def _step_check(where: str, x_t, f_in: int | None = None) -> None:
    """Raise unless `x_t` is a floating (B, F_in) step with the expected F_in."""
    _checks.expect_rank(where, x_t, 2, "(B, F_in) for one time step")
    _checks.expect_floating(where, "x_t", x_t)
    if f_in is not None and x_t.shape[-1] != f_in:
        raise _checks.value_error(
            where,
            f"`x_t` of shape (B, {f_in}) to match `w_i` ({f_in}, G*H)",
            f"shape {_checks.fmt_shape(x_t.shape)}",
        )


def _carry_check(where: str, h, batch: int, features: int) -> None:
    if tuple(h.shape) != (batch, features):
        raise _checks.value_error(
            where,
            f"a carry of shape ({batch}, {features}) (B, H)",
            f"shape {_checks.fmt_shape(h.shape)}",
            "start from cell.initial_carry(batch_size, dtype)",
        )


def _init_gates(key, x_spec, where, features, gates, inits, dtype):
    """Return {"w_i", "w_h", "bias"} for `gates` stacked gates of width H."""
    _step_check(where, x_spec)
    args = (x_spec.shape[-1], features, gates, inits, dtype)
    try:
        hash(args)
    except TypeError:  # an unhashable initializer cannot be a static argument
        return _gate_params(key, *args)
    # Jitted so an eager init is one compile rather than one per op (seconds,
    # for orthogonal's QR); the default initializers are module constants, so
    # cells of equal sizes share that compile.
    return _jit_gate_params(key, *args)


def _gate_params(key, f_in, features, gates, inits, dtype):
    w_i_init, w_h_init, b_init = inits
    ki, kh, kb = jr.split(key, 3)
    blocks = jax.vmap(lambda k: w_h_init(k, (features, features), dtype))(
        jr.split(kh, gates)
    )  # (G, H, H): one independent block per gate
    return {
        "w_i": w_i_init(ki, (f_in, gates * features), dtype),
        "w_h": blocks.transpose(1, 0, 2).reshape(features, gates * features),
        "bias": b_init(kb, (gates * features,), dtype),
    }


_jit_gate_params = jax.jit(_gate_params, static_argnums=(1, 2, 3, 4, 5))


_DEFAULT_INITS = (
    initializers.glorot_uniform(),  # w_i
    initializers.orthogonal(),  # each (H, H) gate block of w_h
    initializers.zeros(),  # bias
)


def _defaults(where, w_i_init, w_h_init, b_init) -> tuple[Initializer, ...]:
    """Resolve the three initializers (callables, names or None for defaults)."""
    names = ("w_i_init", "w_h_init", "b_init")
    chosen = (w_i_init, w_h_init, b_init)
    return tuple(
        initializers.resolve(where, name, value, default)
        for name, value, default in zip(names, chosen, _DEFAULT_INITS, strict=True)
    )


def _zeros_carry(where: str, features: int):
    def initial_carry(batch_size: int, dtype=jnp.float32):
        if not jax.export.is_symbolic_dim(batch_size):  # jnn.export traces "b"
            _checks.non_negative_int(where, "batch_size", batch_size)
        return jnp.zeros((batch_size, features), dtype)

    return initial_carry


def _row(v):
    return v.reshape(1, *v.shape)  # (G*H,) -> (1, G*H): explicit, no rank promotion


def simple_rnn_cell(
    features: int,
    *,
    w_i_init: Initializer | str | None = None,
    w_h_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Cell:
    """Build an Elman RNN cell: `h_t = tanh(x_t @ w_i + h_{t-1} @ w_h + bias)`.

    Same as PyTorch `nn.RNN(nonlinearity="tanh")`; the output is `y_t = h_t`.
    PyTorch mapping: `weight_ih_l0 = w_i.T`, `weight_hh_l0 = w_h.T`, and
    `bias = bias_ih_l0 + bias_hh_l0` (set one of PyTorch's biases to zero going
    back). Keras `SimpleRNN`: `kernel = w_i`, `recurrent_kernel = w_h`.

    Args:
      features: Hidden size H. Must be > 0.
      w_i_init: Initializer or its name for `w_i`. Default Glorot-uniform (Keras' default).
      w_h_init: Initializer or its name for `w_h`. Default orthogonal, which keeps the
        recurrent map norm-preserving at init.
      b_init: Initializer or its name for `bias`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      carry: (B, H)   x_t: (B, F_in)  ->  carry: (B, H), y_t: (B, H)

    Params:
      w_i: (F_in, H)   w_h: (H, H)   bias: (H,)

    Raises:
      ValueError: if `features` is not > 0, x_t is not (B, F_in) with the
        initialised F_in, the carry is not (B, H), or `batch_size` < 0.
      TypeError: if `features` or `batch_size` is not an int, x_t is not
        floating point, or an `*_init` is neither callable nor a name
        (ValueError for an unknown name).

    Example:
      >>> cell = simple_rnn_cell(4)
      >>> params = cell.init(jr.key(0), jnp.zeros((2, 3)))
      >>> carry, y = cell.apply(params, cell.initial_carry(2), jnp.ones((2, 3)))
      >>> y.shape
      (2, 4)
    """
    where = "simple_rnn_cell"
    _checks.positive_int(where, "features", features)
    inits = _defaults(where, w_i_init, w_h_init, b_init)

    def init(key, x_spec):
        return _init_gates(key, x_spec, where, features, 1, inits, param_dtype)

    def apply(params, carry, x_t):
        _step_check(where, x_t, params["w_i"].shape[0])
        _carry_check(where, carry, x_t.shape[0], features)
        h = jnp.tanh(x_t @ params["w_i"] + carry @ params["w_h"] + _row(params["bias"]))
        return h, h

    return Cell(init, apply, _zeros_carry(where, features), _itself)


def lstm_cell(
    features: int,
    *,
    forget_bias: float = 1.0,
    w_i_init: Initializer | str | None = None,
    w_h_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Cell:
    """Build an LSTM cell with PyTorch's equations and gate order (i, f, g, o).

    With `[i | f | g | o] = x_t @ w_i + h_{t-1} @ w_h + bias` (each (B, H)):
    `c_t = σ(f) * c_{t-1} + σ(i) * tanh(g)`, `h_t = σ(o) * tanh(c_t)`,
    `y_t = h_t`. No peepholes, no projection. PyTorch `nn.LSTM` mapping:
    `weight_ih_l0 = w_i.T`, `weight_hh_l0 = w_h.T`,
    `bias = bias_ih_l0 + bias_hh_l0`. Keras `LSTM` uses the same gate order:
    `kernel = w_i`, `recurrent_kernel = w_h`, `bias = bias`.

    Args:
      features: Hidden size H. Must be > 0.
      forget_bias: Added to the forget-gate slice `bias[H:2H]` at init, so the
        cell remembers by default (Jozefowicz et al. 2015). Default 1.0.
      w_i_init: Initializer or its name for `w_i`. Default Glorot-uniform.
      w_h_init: Initializer or its name for each (H, H) gate block of `w_h`. Default
        orthogonal.
      b_init: Initializer or its name for `bias` before `forget_bias`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      carry: (h, c), each (B, H)   x_t: (B, F_in)  ->  carry, y_t: (B, H)

    Params:
      w_i: (F_in, 4H)   w_h: (H, 4H)   bias: (4H,)

    Raises:
      ValueError: if `features` is not > 0, `forget_bias` is not finite, x_t
        is not (B, F_in) with the initialised F_in, h is not (B, H), or
        `batch_size` < 0.
      TypeError: if `features` or `batch_size` is not an int, `forget_bias`
        not a number, x_t is not floating point, or an `*_init` is neither
        callable nor a name (ValueError for an unknown name).
    """
    where = "lstm_cell"
    _checks.positive_int(where, "features", features)
    _checks.finite_float(where, "forget_bias", forget_bias)
    inits = _defaults(where, w_i_init, w_h_init, b_init)
    zeros = _zeros_carry(where, features)

    def init(key, x_spec):
        params = _init_gates(key, x_spec, where, features, 4, inits, param_dtype)
        params["bias"] = params["bias"].at[features : 2 * features].add(forget_bias)
        return params

    def apply(params, carry, x_t):
        h, c = carry
        _step_check(where, x_t, params["w_i"].shape[0])
        _carry_check(where, h, x_t.shape[0], features)
        z = x_t @ params["w_i"] + h @ params["w_h"] + _row(params["bias"])
        i, f, g, o = jnp.split(z, 4, axis=-1)  # (B, 4H) -> 4 x (B, H)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def initial_carry(batch_size: int, dtype=jnp.float32):
        return zeros(batch_size, dtype), zeros(batch_size, dtype)

    return Cell(init, apply, initial_carry, lambda carry: carry[0])  # h


def gru_cell(
    features: int,
    *,
    w_i_init: Initializer | str | None = None,
    w_h_init: Initializer | str | None = None,
    b_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Cell:
    """Build a GRU cell with PyTorch's equations and gate order (r, z, n).

    With `[a_r | a_z | a_n] = x_t @ w_i + bias` and `[u_r | u_z | u_n] =
    h_{t-1} @ w_h`: `r = σ(a_r + u_r)`, `z = σ(a_z + u_z)`,
    `n = tanh(a_n + r * (u_n + bias_hn))`, `h_t = (1 - z) * n + z * h_{t-1}`,
    `y_t = h_t`. The reset gate multiplies the recurrent term after its matmul
    (PyTorch `nn.GRU`, Keras `reset_after=True`, cuDNN). PyTorch mapping:
    `weight_ih_l0 = w_i.T`, `weight_hh_l0 = w_h.T`,
    `bias = bias_ih_l0 + [bias_hh_l0[:2H] | 0]`, `bias_hn = bias_hh_l0[2H:]`
    (going back: `bias_ih_l0 = bias`, `bias_hh_l0 = [0 | 0 | bias_hn]`). Keras
    orders its gates (z, r, n): permute the column blocks.

    Args:
      features: Hidden size H. Must be > 0.
      w_i_init: Initializer or its name for `w_i`. Default Glorot-uniform.
      w_h_init: Initializer or its name for each (H, H) gate block of `w_h`. Default
        orthogonal.
      b_init: Initializer or its name for `bias` and `bias_hn`. Default zeros.
      param_dtype: Dtype of the parameters. Default float32.

    Shapes:
      carry: (B, H)   x_t: (B, F_in)  ->  carry: (B, H), y_t: (B, H)

    Params:
      w_i: (F_in, 3H)   w_h: (H, 3H)   bias: (3H,)   bias_hn: (H,)

    Raises:
      ValueError: if `features` is not > 0, x_t is not (B, F_in) with the
        initialised F_in, the carry is not (B, H), or `batch_size` < 0.
      TypeError: if `features` or `batch_size` is not an int, x_t is not
        floating point, or an `*_init` is neither callable nor a name
        (ValueError for an unknown name).
    """
    where = "gru_cell"
    _checks.positive_int(where, "features", features)
    inits = _defaults(where, w_i_init, w_h_init, b_init)

    def init(key, x_spec):
        params = _init_gates(key, x_spec, where, features, 3, inits, param_dtype)
        params["bias_hn"] = inits[2](jr.fold_in(key, 3), (features,), param_dtype)
        return params

    def apply(params, carry, x_t):
        _step_check(where, x_t, params["w_i"].shape[0])
        _carry_check(where, carry, x_t.shape[0], features)
        a_r, a_z, a_n = jnp.split(x_t @ params["w_i"] + _row(params["bias"]), 3, -1)
        u_r, u_z, u_n = jnp.split(carry @ params["w_h"], 3, axis=-1)
        r = jax.nn.sigmoid(a_r + u_r)
        z = jax.nn.sigmoid(a_z + u_z)
        n = jnp.tanh(a_n + r * (u_n + _row(params["bias_hn"])))
        h = (1 - z) * n + z * carry
        return h, h

    return Cell(init, apply, _zeros_carry(where, features), _itself)
