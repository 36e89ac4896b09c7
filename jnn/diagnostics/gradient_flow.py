"""Gradient-flow diagnostics: per-layer gradient norms and unit health.

These measure the vanishing-gradient problem directly: the norm of the loss
gradient for each weight matrix, in depth order, and for each activation layer
the fraction of dead ReLU units or saturated sigmoid/tanh units.
"""

import re
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer
from jnn.layers.combinators import name_key


def _natural_key(path: str) -> list:
    # "hidden_10" sorts after "hidden_9": depth order, not string order.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def weight_gradient_norms(grads) -> dict[str, float]:
    """Return {key path: L2 norm} for every `weight` leaf of `grads`, by depth.

    Paths are `jax.tree_util.keystr` strings, e.g. "['hidden_3']['weight']",
    ordered so that numbered layers come in numeric order.

    Example:
      >>> g = {"l_10": {"weight": jnp.ones((2, 2))}, "l_9": {"weight": jnp.zeros(3)}}
      >>> list(weight_gradient_norms(g).items())
      [("['l_9']['weight']", 0.0), ("['l_10']['weight']", 2.0)]
    """
    norms = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(grads)[0]:
        if getattr(path[-1], "key", None) == "weight":
            norms[jax.tree_util.keystr(path)] = float(jnp.linalg.norm(leaf.ravel()))
    return dict(sorted(norms.items(), key=lambda item: _natural_key(item[0])))


def layer_outputs(
    layers: Mapping[str, Layer], params, state, x, *, key=None, train=False
) -> dict[str, jax.Array]:
    """Apply named layers in order (as `named(**layers)` does); return each output.

    `params` and `state` are the trees of `named(**layers)`, so this inspects a
    model built with `named` without changing it. Each child gets the key
    `named` gives it (`jnn.layers.combinators.name_key`), so stochastic layers
    such as dropout draw the same masks as inside the model.

    Raises:
      ValueError: if `params` lacks an entry for one of `layers`.
    """
    outputs = {}
    for name, layer in layers.items():
        if name not in params:
            raise _checks.value_error(
                "layer_outputs", f"params with an entry {name!r}", sorted(params)
            )
        sub_key = name_key(key, name)  # the key `named` gives this child
        x, _ = layer.apply(params[name], state[name], x, key=sub_key, train=train)
        outputs[name] = x
    return outputs


def dead_fraction(y: jax.Array) -> float:
    """Fraction of units (last axis) that output <= 0 for every example.

    Such ReLU units pass no gradient for this batch ("dead").
    """
    alive = jnp.any(y.reshape(-1, y.shape[-1]) > 0, axis=0)
    return float(1.0 - jnp.mean(alive.astype(jnp.float32)))


def saturated_fraction(y: jax.Array, kind: str, margin: float = 0.01) -> float:
    """Fraction of sigmoid/tanh outputs within `margin` of their asymptotes.

    There the local derivative is below ~`margin` (sigmoid) or ~2`margin`
    (tanh), so the gradient through the unit all but vanishes.

    Raises:
      ValueError: if `kind` is not "sigmoid" or "tanh".
    """
    _checks.one_of("saturated_fraction", "kind", kind, ("sigmoid", "tanh"))
    if kind == "sigmoid":
        saturated = (y < margin) | (y > 1.0 - margin)
    else:
        saturated = jnp.abs(y) > 1.0 - margin
    return float(jnp.mean(saturated.astype(jnp.float32)))
