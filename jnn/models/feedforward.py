"""Multi-layer perceptron builder."""

from collections.abc import Sequence

from jnn import _checks, initializers
from jnn._types import Layer
from jnn.layers import activation, dense, dropout, flatten, named


def mlp(
    hidden: Sequence[int],
    out_features: int,
    *,
    act: str = "relu",
    w_init: str = "he_normal",
    b_init: str = "zeros",
    drop_rate: float = 0.0,
) -> Layer:
    """Build flatten -> [dense -> activation -> dropout] * len(hidden) -> dense.

    The input is flattened first, so images (B, H, W, C) and vectors (B, F) both
    work. The output layer has no activation: it returns logits (or raw values
    for regression); the loss applies softmax/sigmoid stably.

    Args:
      hidden: Widths of the hidden layers (may be empty: a linear model).
      out_features: Width of the output layer (classes, or regression targets).
      act: Hidden activation, a name from `jnn.activations.NAMES`.
      w_init: Weight initializer name (He-normal suits ReLU).
      b_init: Bias initializer name.
      drop_rate: Dropout after each hidden activation; 0 disables it.

    Shapes:
      x: (B, *D)  ->  y: (B, out_features)

    Params:
      {"hidden_0": {"weight", "bias"}, ..., "output": {"weight", "bias"}}

    State:
      none

    Raises:
      ValueError: if a width is not > 0 or `drop_rate` is not in [0, 1).

    Example:
      >>> import jax.numpy as jnp, jax.random as jr
      >>> model = mlp([16], 3)
      >>> params, state = model.init(jr.key(0), jnp.zeros((2, 8, 8, 1)))
      >>> sorted(params)
      ['act_0', 'flatten', 'hidden_0', 'output']
    """
    for i, width in enumerate(hidden):
        _checks.positive_int("mlp", f"hidden[{i}]", width)
    _checks.probability("mlp", "drop_rate", drop_rate)
    w_init_fn, b_init_fn = initializers.get(w_init), initializers.get(b_init)
    layers = {"flatten": flatten()}
    for i, width in enumerate(hidden):
        layers[f"hidden_{i}"] = dense(width, w_init=w_init_fn, b_init=b_init_fn)
        layers[f"act_{i}"] = activation(act)
        if drop_rate > 0:
            layers[f"dropout_{i}"] = dropout(drop_rate)
    layers["output"] = dense(out_features, w_init=w_init_fn, b_init=b_init_fn)
    return named(**layers)
