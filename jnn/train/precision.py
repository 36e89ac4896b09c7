"""Mixed precision: float32 params and optimizer state, bfloat16 compute.

`train.precision = "bfloat16"` (or `fit(..., precision="bfloat16")`) runs a
model's forward and backward pass in bfloat16 while everything that
accumulates stays float32: the params and optimizer state (the optimizer
updates the float32 master copy), the model state (batch-norm statistics),
the loss and the metrics (the outputs are cast back to float32 before the
loss). bfloat16 has float32's exponent range, so its gradients need no loss
scaling. Integer inputs (token ids) pass unchanged.

`cast_model(model, "bfloat16")` is the whole mechanism: a layer around the
model that casts its floating params, state and inputs on the way in and its
outputs and new state back on the way out; `jax.grad` carries the casts
backwards, so the gradients arrive in float32.
"""

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer

PRECISIONS = ("float32", "bfloat16")  # `train.precision`: the compute dtype


def cast_model(model: Layer, precision: str) -> Layer:
    """`model` computing in `precision`, with float32 params, state and outputs.

    "float32" returns `model` itself.

    Raises:
      ValueError: for a precision not in `PRECISIONS`.

    Example:
      >>> import jax.numpy as jnp, jax.random as jr
      >>> from jnn.layers import dense
      >>> layer = cast_model(dense(3), "bfloat16")
      >>> params, state = layer.init(jr.key(0), jnp.zeros((2, 4)))
      >>> y, _ = layer.apply(params, state, jnp.ones((2, 4)))
      >>> params["weight"].dtype, y.dtype
      (dtype('float32'), dtype('float32'))
    """
    _checks.one_of("precision", "precision", precision, PRECISIONS)
    if precision == "float32":
        return model
    compute = jnp.dtype(precision)

    def apply(params, state, x, *, key=None, train=False):
        down = (_cast(params, compute), _cast(state, compute), _cast(x, compute))
        y, new_state = model.apply(*down, key=key, train=train)
        kept = jax.tree.map(lambda new, old: new.astype(old.dtype), new_state, state)
        return _cast(y, jnp.float32), kept

    return Layer(model.init, apply, model.kind)


def _cast(tree, dtype):
    """Floating leaves of `tree` as `dtype`; other leaves as they are."""

    def cast(leaf):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.asarray(leaf).astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)
