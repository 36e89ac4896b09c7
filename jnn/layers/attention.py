"""Attention: scaled dot-product attention and the `multi_head_attention` layer.

Layout is batch-major with heads before the head size, `(B, T, H, D)`, the one
`jax.nn.dot_product_attention` takes, so GPUs get its fused kernels. Masks are
boolean, True where a query may attend a key, broadcastable to (B, H, Tq, Tk).
"""

import math

import jax
import jax.numpy as jnp

from jnn import _checks, initializers
from jnn._types import Initializer, Layer
from jnn.layers.core import dense
from jnn.layers.dropouts import NO_KEY_HINT
from jnn.layers.recurrent import _check_sequence

QKV_LEGEND = "(B, T, H, D)"
INPUT_HINT = "pass x (B, T, F), (x, lengths), (x_q, x_kv) or (x_q, x_kv, kv_lengths)"


def dot_product_attention(q, k, v, *, mask=None, causal=False):
    """Return `softmax(q k^T / sqrt(D)) v` over the key axis, per head.

    Uses `jax.nn.dot_product_attention` (fused on GPU) when `v` and `q` share
    the head size; otherwise, and for float64 (which jax's kernel rounds through
    float32, ~1e-7 error), the same math in two einsums.

    Args:
      q: Queries (B, Tq, H, D).
      k: Keys (B, Tk, H, D).
      v: Values (B, Tk, H, Dv).
      mask: Optional bool, broadcastable to (B, H, Tq, Tk); True = attend.
      causal: If True, query i attends only keys j <= i. Default False.

    Shapes:
      q: (B, Tq, H, D), k: (B, Tk, H, D), v: (B, Tk, H, Dv)  ->  (B, Tq, H, Dv)

    Raises:
      ValueError: if q, k or v is not rank 4, or their shapes disagree.
      TypeError: if q, k, v are not floating point or their dtypes differ.

    Example:
      >>> q = jnp.ones((1, 2, 1, 4))
      >>> dot_product_attention(q, q, jnp.ones((1, 2, 1, 3))).shape
      (1, 2, 1, 3)
    """
    _check_qkv(q, k, v)
    if mask is not None:
        mask = jnp.broadcast_to(mask, (q.shape[0], q.shape[2], q.shape[1], k.shape[1]))
    if v.shape[-1] == q.shape[-1] and q.dtype != jnp.float64:
        # jax promotes to float32 inside: allow it even under strict promotion.
        with jax.numpy_dtype_promotion("standard"):
            return jax.nn.dot_product_attention(q, k, v, mask=mask, is_causal=causal)
    weights = _attention_weights(q, k, mask, causal)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)  # (B, Tq, H, Dv)


def _check_qkv(q, k, v) -> None:
    where = "dot_product_attention"
    for name, a in (("q", q), ("k", k), ("v", v)):
        _checks.expect_rank(where, a, 4, QKV_LEGEND + f" for `{name}`")
        _checks.expect_floating(where, name, a)
    if not q.dtype == k.dtype == v.dtype:
        raise _checks.type_error(
            where,
            "`q`, `k`, `v` of one dtype",
            f"{q.dtype}, {k.dtype}, {v.dtype}",
        )
    q_shape, k_shape, v_shape = (_checks.fmt_shape(a.shape) for a in (q, k, v))
    if q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise _checks.value_error(
            where,
            f"`k` of shape (B, Tk, H, D) matching `q` of shape {q_shape}",
            f"`k` of shape {k_shape}",
        )
    if v.shape[:3] != k.shape[:3]:
        raise _checks.value_error(
            where,
            f"`v` of shape (B, Tk, H, Dv) matching `k` of shape {k_shape}",
            f"`v` of shape {v_shape}",
        )


def _attention_weights(q, k, mask, causal):
    """Return softmax(q k^T / sqrt(D)) of shape (B, H, Tq, Tk), masked."""
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    if causal:
        tq, tk = q.shape[1], k.shape[1]
        lower = jnp.tril(jnp.ones((tq, tk), bool))  # query i sees keys j <= i
        mask = lower[None, None] if mask is None else mask & lower[None, None]
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    return jax.nn.softmax(logits, axis=-1)


def apply_rope(x, positions, *, base: float = 10000.0):
    """Rotate feature pairs of `x` by position-dependent angles (RoPE).

    Feature i < D/2 pairs with i + D/2 (the "rotate half" layout of GPT-NeoX
    and LLaMA) and turns by `positions * base^(-2i/D)`, so that
    `apply_rope(q, m) . apply_rope(k, n)` depends on m - n only (Su et al., 2021).

    Args:
      x: Queries or keys (B, T, H, D), D even.
      positions: Integer or float positions (T,) or (B, T).
      base: Wavelength scale. Default 10000, as the paper.

    Shapes:
      x: (B, T, H, D), positions: (T,) or (B, T)  ->  (B, T, H, D)

    Raises:
      ValueError: if x is not rank 4 with an even D, or positions do not fit T.

    Example:
      >>> x = jnp.ones((1, 3, 2, 4))
      >>> bool(jnp.allclose(apply_rope(x, jnp.arange(3))[:, 0], x[:, 0]))
      True
    """
    where = "apply_rope"
    _checks.expect_rank(where, x, 4, QKV_LEGEND)
    d = x.shape[-1]
    if d % 2:
        raise _checks.value_error(where, "an even head size D", f"D = {d}")
    positions = jnp.asarray(positions)
    if positions.shape not in ((x.shape[1],), x.shape[:2]):
        raise _checks.value_error(
            where,
            f"`positions` of shape (T,) or (B, T) for x of shape "
            f"{_checks.fmt_shape(x.shape)}",
            f"shape {_checks.fmt_shape(positions.shape)}",
        )
    freq = base ** (-jnp.arange(d // 2, dtype=jnp.float32) * 2 / d)  # (D/2,)
    freq = freq.reshape((1,) * positions.ndim + freq.shape)  # no rank promotion
    angle = positions.astype(jnp.float32)[..., None] * freq  # (*B, T, D/2)
    angle = jnp.broadcast_to(angle, (x.shape[0], x.shape[1], d // 2))[:, :, None]
    cos, sin = jnp.cos(angle).astype(x.dtype), jnp.sin(angle).astype(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]  # (B, T, H, D/2) each
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def multi_head_attention(
    num_heads: int,
    head_size: int | None = None,
    *,
    out_features: int | None = None,
    causal: bool = False,
    drop_rate: float = 0.0,
    use_bias: bool = True,
    w_init: Initializer | str | None = None,
    rope: bool = False,
) -> Layer:
    """Attend from queries to keys/values with `num_heads` independent heads.

    Projects x_q to queries and x_kv to keys and values (each `dense`), runs
    `dot_product_attention` per head, and projects the concatenated heads to
    `out_features`. In train mode, attention weights get dropout.

    Args:
      num_heads: Number of heads H. Must be > 0.
      head_size: Size D of each head. Default F_q // H (F_q must divide).
      out_features: Output size. Default F_q, so the layer fits a residual.
      causal: If True, query position i attends only key positions j <= i.
      drop_rate: Dropout on the attention weights when `train=True`, in [0, 1).
      use_bias: Whether the four projections have a bias. Default True.
      w_init: Initializer or its name for every `weight`. Default LeCun-normal.
      rope: If True, rotate queries and keys by their positions (`apply_rope`)
        before attention. Needs an even head size. Default False.

    Shapes:
      x: (B, T, F)  ->  y: (B, T, out_features)              (self-attention)
      (x, lengths (B,) int)  ->  (y, lengths); keys t >= lengths are ignored
        and outputs there are zero, as in `rnn`
      (x_q (B, Tq, F_q), x_kv (B, Tk, F_kv))  ->  y: (B, Tq, out_features)
      (x_q, x_kv, kv_lengths (B,) int)  ->  y; keys t >= kv_lengths ignored

    Params:
      query/key: {weight: (F_q or F_kv, H*D), bias: (H*D,)}; value likewise;
      output: {weight: (H*D, out_features), bias: (out_features,)}.
      PyTorch nn.MultiheadAttention: in_proj_weight = concatenate([query.weight.T,
      key.weight.T, value.weight.T]); in_proj_bias likewise; out_proj.weight =
      output.weight.T, out_proj.bias = output.bias.

    State:
      none

    Raises:
      ValueError: if a hyperparameter is out of range, F_q is not divisible by
        H (with no `head_size`), the head size is odd with `rope`, inputs are not (B, T, F), batch sizes differ,
        lengths are bad, or `train=True` and `drop_rate` > 0 with no key.
      TypeError: if a hyperparameter has the wrong type, x is not floating
        point, x_q and x_kv dtypes differ, lengths are not integer, or the
        input tuple has a wrong length.

    Example:
      >>> import jax.random as jr
      >>> layer = multi_head_attention(2)
      >>> x = jnp.ones((2, 5, 4))
      >>> params, state = layer.init(jr.key(0), x)
      >>> layer.apply(params, state, x)[0].shape
      (2, 5, 4)
    """
    where = "multi_head_attention"
    _checks.positive_int(where, "num_heads", num_heads)
    if head_size is not None:
        _checks.positive_int(where, "head_size", head_size)
    if out_features is not None:
        _checks.positive_int(where, "out_features", out_features)
    _checks.probability(where, "drop_rate", drop_rate)
    for name, flag in (("causal", causal), ("use_bias", use_bias), ("rope", rope)):
        if not isinstance(flag, bool):
            raise _checks.type_error(where, f"`{name}` to be a bool", repr(flag))
    w_init = initializers.resolve(where, "w_init", w_init, initializers.lecun_normal())

    if rope and head_size is not None and head_size % 2:
        raise _checks.value_error(
            where, "an even `head_size` with `rope=True`", head_size
        )

    def sizes(f_q):
        if head_size is not None:
            return head_size, out_features or f_q
        if f_q % num_heads:
            raise _checks.value_error(
                where,
                f"input features F_q divisible by `num_heads` = {num_heads}",
                f"F_q = {f_q}",
                "pass `head_size` explicitly",
            )
        d = f_q // num_heads
        if rope and d % 2:
            raise _checks.value_error(
                where, "an even head size with `rope=True`", f"head size {d}"
            )
        return d, out_features or f_q

    def projections(f_q):
        d, f_out = sizes(f_q)
        proj = [dense(num_heads * d, use_bias=use_bias, w_init=w_init)] * 3
        return dict(zip(("query", "key", "value"), proj, strict=True)) | {
            "output": dense(f_out, use_bias=use_bias, w_init=w_init)
        }

    def init(key, x_spec):
        x_q, x_kv, _, _ = _split(where, x_spec)
        d, _ = sizes(x_q.shape[-1])
        o_spec = jax.ShapeDtypeStruct((*x_q.shape[:2], num_heads * d), x_q.dtype)
        inputs = {"query": x_q, "key": x_kv, "value": x_kv, "output": o_spec}
        layers = projections(x_q.shape[-1])
        params = {
            name: layer.init(jax.random.fold_in(key, i), inputs[name])[0]
            for i, (name, layer) in enumerate(layers.items())
        }
        return params, {}

    def apply(params, state, x, *, key=None, train=False):
        x_q, x_kv, lengths, paired = _split(where, x)
        dropping = train and drop_rate > 0.0
        if dropping and key is None:
            raise _checks.value_error(
                where, "a PRNG `key` when train=True", "None", NO_KEY_HINT
            )
        layers = projections(x_q.shape[-1])

        def heads(name, a):  # (B, T, F) -> (B, T, H*D) -> (B, T, H, D)
            y = layers[name].apply(params[name], {}, a)[0]
            return y.reshape(*a.shape[:2], num_heads, -1)

        q, k, v = heads("query", x_q), heads("key", x_kv), heads("value", x_kv)
        if rope:
            q = apply_rope(q, jnp.arange(q.shape[1]))
            k = apply_rope(k, jnp.arange(k.shape[1]))
        mask = None
        if lengths is not None:
            valid = jnp.arange(x_kv.shape[1])[None, :] < lengths[:, None]  # (B, Tk)
            mask = valid[:, None, None, :]  # (B, 1, 1, Tk)
        if dropping:
            weights = _attention_weights(q, k, mask, causal)
            keep = jax.random.bernoulli(key, 1.0 - drop_rate, weights.shape)
            weights = jnp.where(keep, weights / (1.0 - drop_rate), 0.0)
            o = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        else:
            o = dot_product_attention(q, k, v, mask=mask, causal=causal)
        o = o.reshape(*o.shape[:2], -1)  # (B, Tq, H, D) -> (B, Tq, H*D)
        y = layers["output"].apply(params["output"], {}, o)[0]
        if paired:  # self-attention on padded sequences: zero the padding, as rnn
            y = jnp.where(valid[:, :, None], y, jnp.zeros((), y.dtype))
            return (y, lengths), state
        return y, state

    return Layer(init, apply, where)


def _split(where: str, x):
    """Return `(x_q, x_kv, kv_lengths, self_padded)` from any accepted input."""
    if not isinstance(x, tuple | list):
        _check_sequence(where, x, None)
        return x, x, None, False
    if len(x) not in (2, 3):
        raise _checks.type_error(
            where, "an array or a tuple of 2 or 3 arrays", f"{len(x)} items", INPUT_HINT
        )
    if len(x) == 2 and len(getattr(x[1], "shape", ())) == 1:  # (x, lengths)
        _check_sequence(where, x[0], x[1])
        return x[0], x[0], x[1], True
    x_q, x_kv = x[0], x[1]
    lengths = x[2] if len(x) == 3 else None
    _check_sequence(where, x_q, None)
    _check_sequence(where, x_kv, lengths)
    if x_q.shape[0] != x_kv.shape[0]:
        raise _checks.value_error(
            where,
            "`x_q` and `x_kv` with one batch size",
            f"shapes {_checks.fmt_shape(x_q.shape)} and {_checks.fmt_shape(x_kv.shape)}",
        )
    if x_q.dtype != x_kv.dtype:
        raise _checks.type_error(
            where, "`x_q` and `x_kv` of one dtype", f"{x_q.dtype} and {x_kv.dtype}"
        )
    return x_q, x_kv, lengths, False
