"""Recurrent sequence classifier builder (e.g. images read row by row)."""

from collections.abc import Sequence

from jnn import _checks
from jnn._types import Layer
from jnn.layers import (
    bidirectional,
    dense,
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

    return Layer(init, apply)


def sequence_classifier(
    out_features: int,
    *,
    cell: str = "lstm",
    hidden: Sequence[int] = (64,),
    use_bidirectional: bool = False,
) -> Layer:
    """Build stacked recurrent layers over rows/time steps, then a dense output.

    All recurrent layers but the last return sequences; the last returns its
    final output, which the dense layer classifies.

    Args:
      out_features: Number of classes.
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
