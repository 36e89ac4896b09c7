"""The pre-LayerNorm transformer block: attention and an MLP, each residual.

`x + drop(attention(norm(x)))`, then `x + drop(mlp(norm(x)))`, as GPT-2 and
ViT: normalising the input of each branch (not the sum) keeps the residual
stream an identity path, so deep stacks train without warmup tricks.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn import _checks, activations
from jnn._types import Layer
from jnn.layers.attention import _split, multi_head_attention
from jnn.layers.combinators import name_key
from jnn.layers.core import dense
from jnn.layers.dropouts import dropout
from jnn.layers.norm import layer_norm

WHERE = "transformer_block"


class BlockParts(NamedTuple):
    """The sub-layers of one block for `features` F, keyed like its params.

    `jnn.generation.transformer_lm` runs them one position at a time.
    """

    attention_norm: Layer
    attention: Layer  # multi_head_attention, out_features = F
    mlp_norm: Layer
    mlp: Layer  # dense(M) -> act -> dense(F); params {"hidden", "out"}
    dropout: Layer  # on each branch's output, before it joins the residual


def block_parts(
    features: int,
    num_heads: int,
    *,
    mlp_features: int | None = None,
    causal: bool = False,
    drop_rate: float = 0.0,
    rope: bool = False,
    act: str = "gelu",
) -> BlockParts:
    """Build the sub-layers of a block over F = `features` (see `transformer_block`)."""
    mlp = _mlp(mlp_features or 4 * features, features, act)
    attention = multi_head_attention(
        num_heads, causal=causal, drop_rate=drop_rate, rope=rope
    )
    return BlockParts(layer_norm(), attention, layer_norm(), mlp, dropout(drop_rate))


def _mlp(hidden: int, features: int, act: str) -> Layer:
    """dense(hidden) -> act -> dense(features), over the last axis."""
    fn = activations.get(act)
    layers = {"hidden": dense(hidden), "out": dense(features)}

    def init(key, x_spec):
        p_hidden = layers["hidden"].init(name_key(key, "hidden"), x_spec)[0]
        h_spec = jax.ShapeDtypeStruct((*x_spec.shape[:-1], hidden), x_spec.dtype)
        p_out = layers["out"].init(name_key(key, "out"), h_spec)[0]
        return {"hidden": p_hidden, "out": p_out}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic
        h = _checks.call_child(
            "hidden", layers["hidden"].apply, params["hidden"], {}, x
        )
        y = _checks.call_child("out", layers["out"].apply, params["out"], {}, fn(h[0]))
        return y[0], state

    return Layer(init, apply, "mlp")


def transformer_block(
    num_heads: int,
    *,
    mlp_features: int | None = None,
    causal: bool = False,
    drop_rate: float = 0.0,
    rope: bool = False,
    act: str = "gelu",
) -> Layer:
    """Apply pre-LayerNorm self-attention, then a pre-LayerNorm MLP, each residual.

    `y = x + drop(mha(ln(x)))`, then `y + drop(out(act(hidden(ln(y)))))`. With
    `(x, lengths)`, keys at t >= lengths are ignored and outputs there are zero
    (as `multi_head_attention` and `rnn`), so a stack of blocks passes padding
    through unchanged.

    Args:
      num_heads: Attention heads H; F must be divisible by H. Must be > 0.
      mlp_features: Width of the MLP's hidden layer. Default 4 * F, as GPT-2.
      causal: If True, position t attends only positions <= t (a decoder).
      drop_rate: Dropout on the attention weights and on both branch outputs
        when `train=True`, in [0, 1). Default 0.
      rope: Rotary positions in the attention (`apply_rope`). Default False.
      act: Activation name of the MLP. Default "gelu", as GPT-2 and ViT.

    Shapes:
      x: (B, T, F)  ->  y: (B, T, F);  (x, lengths (B,) int)  ->  (y, lengths)

    Params:
      attention_norm, mlp_norm: {scale: (F,), bias: (F,)};
      attention: multi_head_attention params (query, key, value, output);
      mlp: {hidden: {weight: (F, M), bias: (M,)}, out: {weight: (M, F), bias: (F,)}}

    State:
      none

    Raises:
      ValueError: if a hyperparameter is out of range, F is not divisible by
        `num_heads`, x is not (B, T, F), lengths are bad, or `train=True` and
        `drop_rate` > 0 with no key.
      TypeError: if a hyperparameter or x has the wrong kind, or x is a
        cross-attention tuple (x_q, x_kv).

    Example:
      >>> import jax.random as jr
      >>> block = transformer_block(2, causal=True)
      >>> x = jnp.ones((2, 5, 4))
      >>> params, state = jax.eval_shape(block.init, jr.key(0), x)  # shapes only
      >>> params["mlp"]["hidden"]["weight"].shape
      (4, 16)
    """
    _checks.positive_int(WHERE, "num_heads", num_heads)
    if mlp_features is not None:
        _checks.positive_int(WHERE, "mlp_features", mlp_features)
    _checks.probability(WHERE, "drop_rate", drop_rate)
    for name, flag in (("causal", causal), ("rope", rope)):
        if not isinstance(flag, bool):
            raise _checks.type_error(WHERE, f"`{name}` to be a bool", repr(flag))
    _checks.one_of(WHERE, "act", act, activations.NAMES)
    options = {"mlp_features": mlp_features, "causal": causal, "drop_rate": drop_rate}
    options |= {"rope": rope, "act": act}

    def parts(x):
        return block_parts(x.shape[-1], num_heads, **options)

    def init(key, x_spec):
        x, _ = _self(x_spec)
        layers = parts(x)._asdict()
        del layers["dropout"]  # no params
        params = {
            name: _checks.call_child(name, layer.init, name_key(key, name), x)[0]
            for name, layer in layers.items()
        }
        return params, {}

    def apply(params, state, x, *, key=None, train=False):
        paired = isinstance(x, tuple | list)
        x, lengths = _self(x)
        y = apply_block(parts(x), params, x, lengths, key=key, train=train)
        if paired:
            valid = jnp.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T)
            y = jnp.where(valid[:, :, None], y, jnp.zeros((), y.dtype))
            return (y, lengths), state
        return y, state

    return Layer(init, apply, WHERE)


def _self(x):
    """Return `(x, lengths)` of a self-attention input; refuse cross-attention."""
    x_q, x_kv, lengths, paired = _split(WHERE, x)
    if x_kv is not x_q or (isinstance(x, tuple | list) and not paired):
        raise _checks.type_error(
            WHERE,
            "x (B, T, F) or (x, lengths (B,)) for self-attention",
            f"a tuple of {len(x)} arrays",
            "cross-attention needs multi_head_attention itself",
        )
    return x_q, lengths


def apply_block(parts: BlockParts, params, x, lengths=None, *, key=None, train=False):
    """Run one block's sub-layers on x (B, T, F); `lengths` masks padded keys."""

    def run(name, layer, h, p=None):
        p = params[name] if p is None else p
        k = name_key(key, name)
        return _checks.call_child(name, layer.apply, p, {}, h, key=k, train=train)[0]

    h = run("attention_norm", parts.attention_norm, x)
    h = run("attention", parts.attention, h if lengths is None else (h, lengths))
    h = h if lengths is None else h[0]
    x = x + run("attention_dropout", parts.dropout, h, {})
    h = run("mlp", parts.mlp, run("mlp_norm", parts.mlp_norm, x))
    return x + run("mlp_dropout", parts.dropout, h, {})
