"""Recurrent sequence models: a classifier / forecaster over rows or time
steps (last output -> dense), and a per-step token language model."""

from collections.abc import Sequence
from typing import NamedTuple

from jnn import _checks
from jnn._types import Layer
from jnn.layers import (
    Cell,
    bidirectional,
    dense,
    embedding,
    gru_cell,
    lstm_cell,
    named,
    rnn,
    simple_rnn_cell,
)

CELLS = {"simple": simple_rnn_cell, "lstm": lstm_cell, "gru": gru_cell}


def rows_as_sequence() -> Layer:
    """Read an image (B, H, W, C) as a sequence of H rows of W * C features.

    Shapes:
      x: (B, H, W, C)  ->  y: (B, H, W * C);  x: (B, T, F) passes through

    Params:
      none

    State:
      none

    Raises:
      ValueError: if x has rank other than 3 or 4.
    """

    def check(x_spec):
        if len(x_spec.shape) not in (3, 4):
            raise _checks.value_error(
                "rows_as_sequence",
                "input (B, T, F) or an image (B, H, W, C)",
                f"shape {_checks.fmt_shape(x_spec.shape)}",
            )

    def init(key, x_spec):
        del key
        check(x_spec)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        check(x)
        if x.ndim == 4:
            x = x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        return x, state

    return Layer(init, apply, "rows_as_sequence")


def sequence_classifier(
    out_features: int,
    *,
    cell: str = "lstm",
    hidden: Sequence[int] = (64,),
    use_bidirectional: bool = False,
) -> Layer:
    """Build stacked recurrent layers over rows/time steps, then a dense output.

    All recurrent layers but the last return sequences; the last returns its
    final output, which the dense layer maps to classes or forecast values.

    Args:
      out_features: Number of classes, or of predicted values (regression).
      cell: "simple" (tanh RNN), "lstm" or "gru".
      hidden: Width of each stacked recurrent layer.
      use_bidirectional: Run each layer forwards and backwards and concatenate.

    Shapes:
      x: (B, T, F) or (B, H, W, C)  ->  y: (B, out_features)

    Params:
      {"rnn_0": cell params (or {"forward", "backward"}), ..., "output": ...}

    State:
      none

    Raises:
      ValueError: for an unknown `cell` or empty `hidden`.
    """
    _checks.one_of("sequence_classifier", "cell", cell, tuple(CELLS))
    if not hidden:
        raise _checks.value_error("sequence_classifier", "at least one width", "()")
    layers = {"rows": rows_as_sequence()}
    for i, width in enumerate(hidden):
        last = i == len(hidden) - 1
        make = CELLS[cell]
        if use_bidirectional:
            layer = bidirectional(make(width), make(width), return_sequences=not last)
        else:
            layer = rnn(make(width), return_sequences=not last)
        layers[f"rnn_{i}"] = layer
    layers["output"] = dense(out_features)
    return named(**layers)


class LanguageModelParts(NamedTuple):
    """The pieces of `sequence_lm`, for step-by-step use (`jnn.generation.language_model`).

    The model's params are `{"embed": ..., "rnn_0": ..., ..., "output": ...}`:
    `embed` and `output` are Layers applied per step, `cells[i]` runs with
    `params[f"rnn_{i}"]`.
    """

    embed: Layer
    cells: tuple[Cell, ...]
    output: Layer


def language_model_parts(
    vocab_size: int,
    *,
    cell: str = "lstm",
    hidden: Sequence[int] = (128,),
    embed_features: int = 32,
) -> LanguageModelParts:
    """Build the embedding, the stacked cells and the output layer of an LM.

    Raises:
      ValueError: for an unknown `cell`, empty `hidden`, or sizes not > 0.
    """
    where = "sequence_lm"
    _checks.one_of(where, "cell", cell, tuple(CELLS))
    if not hidden:
        raise _checks.value_error(where, "at least one width", "()")
    _checks.positive_int(where, "vocab_size", vocab_size)
    cells = tuple(CELLS[cell](width) for width in hidden)
    return LanguageModelParts(
        embedding(vocab_size, embed_features), cells, dense(vocab_size)
    )


def sequence_lm(
    vocab_size: int,
    *,
    cell: str = "lstm",
    hidden: Sequence[int] = (128,),
    embed_features: int = 32,
) -> Layer:
    """Build a next-token model: embedding, stacked recurrent layers, dense.

    Every layer returns sequences, so each step t gets logits for token t + 1
    from tokens 0..t only (causal: never bidirectional).

    Args:
      vocab_size: Number of token ids V (inputs and output classes).
      cell: "simple" (tanh RNN), "lstm" or "gru".
      hidden: Width of each stacked recurrent layer.
      embed_features: Width of the token embedding.

    Shapes:
      ids: (B, T) int  ->  logits: (B, T, V)

    Params:
      {"embed": {"embedding": (V, E)}, "rnn_0": cell params, ..., "output": ...}

    State:
      none

    Raises:
      ValueError: for an unknown `cell`, empty `hidden`, or sizes not > 0.

    Example:
      >>> import jax.numpy as jnp, jax.random as jr
      >>> model = sequence_lm(5, hidden=(8,), embed_features=4)
      >>> ids = jnp.zeros((2, 7), jnp.int32)
      >>> params, state = model.init(jr.key(0), ids)
      >>> model.apply(params, state, ids)[0].shape
      (2, 7, 5)
    """
    parts = language_model_parts(
        vocab_size, cell=cell, hidden=hidden, embed_features=embed_features
    )
    layers = {"embed": parts.embed}
    for i, c in enumerate(parts.cells):
        layers[f"rnn_{i}"] = rnn(c, return_sequences=True)
    layers["output"] = parts.output
    return named(**layers)
