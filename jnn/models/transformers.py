"""Transformers: a decoder-only language model and a vision transformer (ViT).

Both stack `jnn.layers.transformer_block` (pre-LayerNorm) and end with a
LayerNorm and a dense head, as GPT-2 and ViT do.
"""

from typing import NamedTuple

import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer
from jnn.layers import (
    dense,
    embedding,
    global_avg_pool,
    layer_norm,
    learned_positions,
    named,
    sinusoidal_positions,
)
from jnn.layers.transformer import BlockParts, block_parts, transformer_block

POSITIONS = ("learned", "sinusoidal", "rope")  # how a model knows token order
POOLS = ("class_token", "mean")  # what a ViT classifies from


class TransformerLmParts(NamedTuple):
    """The pieces of `transformer_lm`, for one position at a time
    (`jnn.generation.transformer_lm`). Params are `{"embed", ["positions"],
    "block_0", ..., "norm", "output"}`; `blocks[i]` runs `params[f"block_{i}"]`.
    """

    embed: Layer
    positions: Layer | None  # added to the embeddings; None with rope
    blocks: tuple[BlockParts, ...]
    norm: Layer
    output: Layer
    num_heads: int
    max_len: int  # longest sequence: the position table, and the sampling limit
    rope: bool


def _check_heads(where: str, features: int, num_heads: int, rope: bool) -> None:
    if features % num_heads:
        raise _checks.value_error(
            where,
            f"`features` divisible by `num_heads` = {num_heads}",
            f"features = {features}",
        )
    if rope and (features // num_heads) % 2:
        raise _checks.value_error(
            where,
            "an even head size features / num_heads with rotary positions",
            f"{features} / {num_heads} = {features // num_heads}",
        )


def transformer_lm_parts(
    vocab_size: int,
    *,
    features: int = 128,
    blocks: int = 2,
    num_heads: int = 4,
    mlp_features: int | None = None,
    max_len: int = 256,
    positions: str = "learned",
    drop_rate: float = 0.0,
) -> TransformerLmParts:
    """Build the layers of a transformer LM (arguments as `transformer_lm`).

    Raises:
      ValueError: as `transformer_lm`.
    """
    where = "transformer_lm"
    for name, value in (("vocab_size", vocab_size), ("features", features)):
        _checks.positive_int(where, name, value)
    for name, value in (("blocks", blocks), ("num_heads", num_heads)):
        _checks.positive_int(where, name, value)
    _checks.positive_int(where, "max_len", max_len)
    _checks.one_of(where, "positions", positions, POSITIONS)
    rope = positions == "rope"
    _check_heads(where, features, num_heads, rope)
    table = {
        "learned": learned_positions(max_len),
        "sinusoidal": sinusoidal_positions(),
    }
    options = {"mlp_features": mlp_features, "drop_rate": drop_rate, "rope": rope}
    block = block_parts(features, num_heads, causal=True, **options)
    return TransformerLmParts(
        embedding(vocab_size, features),
        table.get(positions),
        (block,) * blocks,
        layer_norm(),
        dense(vocab_size),
        num_heads,
        max_len,
        rope,
    )


def transformer_lm(
    vocab_size: int,
    *,
    features: int = 128,
    blocks: int = 2,
    num_heads: int = 4,
    mlp_features: int | None = None,
    max_len: int = 256,
    positions: str = "learned",
    drop_rate: float = 0.0,
) -> Layer:
    """Build a decoder-only (GPT-style) next-token model.

    Token embedding, positions, `blocks` causal transformer blocks, LayerNorm,
    dense to logits: the logits at step t depend on tokens 0..t only.

    Args:
      vocab_size: Number of token ids V (inputs and output classes).
      features: Width F of the embeddings and the residual stream.
      blocks: Number of transformer blocks.
      num_heads: Attention heads per block; F must be divisible by it.
      mlp_features: Hidden width of each block's MLP. Default 4 * F.
      max_len: Longest sequence T the model reads (and samples).
      positions: "learned" (a table of max_len vectors), "sinusoidal" (the
        fixed table) or "rope" (rotary, inside the attention).
      drop_rate: Dropout in the blocks when training, in [0, 1).

    Shapes:
      ids: (B, T) int, T <= max_len  ->  logits: (B, T, V)

    Params:
      {"embed": {"embedding": (V, F)}, "positions": {"embedding": (max_len, F)}
      (learned only), "block_0": transformer_block params, ..., "norm":
      layer_norm params, "output": {"weight": (F, V), "bias": (V,)}}

    State:
      none

    Raises:
      ValueError: for sizes not > 0, an unknown `positions`, F not divisible
        by `num_heads` (or an odd head size with rope), or T > max_len.

    Example:
      >>> import jax, jax.random as jr
      >>> model = transformer_lm(5, features=8, blocks=1, num_heads=2, max_len=16)
      >>> ids = jnp.zeros((2, 7), jnp.int32)
      >>> params, state = jax.eval_shape(model.init, jr.key(0), ids)  # shapes only
      >>> jax.eval_shape(model.apply, params, state, ids)[0].shape
      (2, 7, 5)
    """
    parts = transformer_lm_parts(
        vocab_size,
        features=features,
        blocks=blocks,
        num_heads=num_heads,
        mlp_features=mlp_features,
        max_len=max_len,
        positions=positions,
        drop_rate=drop_rate,
    )
    layers = {"embed": parts.embed}
    if parts.positions is not None:
        layers["positions"] = parts.positions
    block = transformer_block(
        num_heads,
        mlp_features=mlp_features,
        causal=True,
        drop_rate=drop_rate,
        rope=parts.rope,
    )
    layers |= {f"block_{i}": block for i in range(blocks)}
    model = named(**layers, norm=parts.norm, output=parts.output)
    return _at_most(model, max_len)


def _at_most(model: Layer, max_len: int) -> Layer:
    """`model` refusing sequences longer than `max_len` (every position kind)."""

    def check(ids):
        if len(ids.shape) == 2 and ids.shape[1] > max_len:
            raise _checks.value_error(
                "transformer_lm",
                f"at most `max_len` = {max_len} steps, ids (B, T)",
                f"shape {_checks.fmt_shape(ids.shape)}",
                "raise `max_len` or shorten the sequences (data.seq_len)",
            )

    def init(key, x_spec):
        check(x_spec)
        return model.init(key, x_spec)

    def apply(params, state, x, *, key=None, train=False):
        check(x)
        return model.apply(params, state, x, key=key, train=train)

    return Layer(init, apply, "transformer_lm")


def patches(patch_size) -> Layer:
    """Cut images into non-overlapping patches, each flattened to one token.

    Args:
      patch_size: (P_H, P_W); each must divide the image's H and W.

    Shapes:
      x: (B, H, W, C)  ->  y: (B, (H / P_H) * (W / P_W), P_H * P_W * C)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if `patch_size` is not two ints > 0, x is not (B, H, W, C),
        or a patch side does not divide the image side.
    """
    where = "patches"
    size = tuple(patch_size) if isinstance(patch_size, tuple | list) else ()
    if len(size) != 2:
        raise _checks.value_error(where, "`patch_size` (P_H, P_W)", repr(patch_size))
    for value in size:
        _checks.positive_int(where, "patch_size", value)

    def check(x):
        _checks.expect_rank(where, x, 4, "(B, H, W, C)")
        if x.shape[1] % size[0] or x.shape[2] % size[1]:
            raise _checks.value_error(
                where,
                f"an image whose H and W the `patch_size` {size} divides",
                f"shape {_checks.fmt_shape(x.shape)}",
            )

    def init(key, x_spec):
        del key
        check(x_spec)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        check(x)
        (b, h, w, c), (ph, pw) = x.shape, size
        x = x.reshape(b, h // ph, ph, w // pw, pw, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(b, (h // ph) * (w // pw), ph * pw * c), state

    return Layer(init, apply, where)


def class_token() -> Layer:
    """Prepend one learned token (zeros at init, as ViT) to every sequence.

    Shapes:
      x: (B, T, F)  ->  y: (B, T + 1, F)

    Params:
      embedding: (1, F)

    State:
      none
    """

    def init(key, x_spec):
        del key
        _checks.expect_rank("class_token", x_spec, 3, "(B, T, F)")
        return {"embedding": jnp.zeros((1, x_spec.shape[-1]), jnp.float32)}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train
        _checks.expect_rank("class_token", x, 3, "(B, T, F)")
        token = params["embedding"].astype(x.dtype)[None]  # (1, 1, F)
        token = jnp.broadcast_to(token, (x.shape[0], 1, x.shape[2]))
        return jnp.concatenate([token, x], axis=1), state

    return Layer(init, apply, "class_token")


def _first_token() -> Layer:
    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        return x[:, 0], state  # (B, T, F) -> (B, F): the class token

    return Layer(lambda key, x_spec: ({}, {}), apply, "first_token")


def vit(
    out_features: int,
    *,
    patch_size=(2, 2),
    features: int = 64,
    blocks: int = 4,
    num_heads: int = 4,
    mlp_features: int | None = None,
    positions: str = "learned",
    pool: str = "class_token",
    drop_rate: float = 0.0,
) -> Layer:
    """Build a vision transformer classifier over image patches.

    patches -> dense embedding -> (class token) -> positions -> blocks ->
    LayerNorm -> the class token or the mean over tokens -> dense head.

    Args:
      out_features: Number of classes (or outputs).
      patch_size: (P_H, P_W) of each patch; must divide the image.
      features: Width F of the tokens.
      blocks: Number of (non-causal) transformer blocks.
      num_heads: Attention heads per block; F must be divisible by it.
      mlp_features: Hidden width of each block's MLP. Default 4 * F.
      positions: "learned" (one vector per token), "sinusoidal" (fixed) or
        "rope" (rotary, over the row-major token index).
      pool: "class_token" (classify a prepended learned token, as ViT) or
        "mean" (average the tokens).
      drop_rate: Dropout in the blocks when training, in [0, 1).

    Shapes:
      x: (B, H, W, C)  ->  y: (B, out_features)

    Params:
      {"patches": {}, "embed": dense, ["class_token": {"embedding": (1, F)}],
      "positions": {"embedding": (N, F)} (learned; none with rope), "block_0": ..., "norm":
      layer_norm, "pool": {}, "head": dense}; N tokens = patches (+ 1)

    State:
      none

    Raises:
      ValueError: for sizes not > 0, an unknown `positions` or `pool`, F not
        divisible by `num_heads` (or an odd head size with rope), or a patch
        size not dividing the image.

    Example:
      >>> import jax, jax.random as jr
      >>> model = vit(10, features=8, blocks=1, num_heads=2)
      >>> x = jnp.zeros((3, 8, 8, 1))
      >>> params, state = jax.eval_shape(model.init, jr.key(0), x)  # shapes only
      >>> jax.eval_shape(model.apply, params, state, x)[0].shape
      (3, 10)
    """
    where = "vit"
    for name, value in (("out_features", out_features), ("features", features)):
        _checks.positive_int(where, name, value)
    for name, value in (("blocks", blocks), ("num_heads", num_heads)):
        _checks.positive_int(where, name, value)
    _checks.one_of(where, "positions", positions, POSITIONS)
    _checks.one_of(where, "pool", pool, POOLS)
    rope = positions == "rope"
    _check_heads(where, features, num_heads, rope)
    cut = patches(patch_size)
    block = transformer_block(
        num_heads, mlp_features=mlp_features, drop_rate=drop_rate, rope=rope
    )
    tables = {
        "learned": learned_positions,
        "sinusoidal": lambda n: sinusoidal_positions(),
    }

    def model(x_spec) -> Layer:  # the token count N follows the image size
        _checks.call_child("patches", cut.init, None, x_spec)  # (B, H, W, C), divisible
        (ph, pw), (h, w) = tuple(patch_size), x_spec.shape[1:3]
        tokens = (h // ph) * (w // pw)
        layers = {"patches": cut, "embed": dense(features)}
        if pool == "class_token":
            layers["class_token"] = class_token()
            tokens += 1
        if not rope:
            layers["positions"] = tables[positions](tokens)
        layers |= {f"block_{i}": block for i in range(blocks)}
        layers["norm"] = layer_norm()
        layers["pool"] = _first_token() if pool == "class_token" else global_avg_pool()
        return named(**layers, head=dense(out_features))

    def init(key, x_spec):
        return model(x_spec).init(key, x_spec)

    def apply(params, state, x, *, key=None, train=False):
        return model(x).apply(params, state, x, key=key, train=train)

    return Layer(init, apply, where)
