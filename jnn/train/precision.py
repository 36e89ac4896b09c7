"""Mixed precision: float32 params and optimizer state, bfloat16 or float16 compute.

`train.precision = "bfloat16"` (or `fit(..., precision="bfloat16")`) runs a
model's forward and backward pass in bfloat16 while everything that
accumulates stays float32: the params and optimizer state (the optimizer
updates the float32 master copy), the model state (batch-norm statistics),
the loss and the metrics (the outputs are cast back to float32 before the
loss). bfloat16 has float32's exponent range, so its gradients need no loss
scaling. Integer inputs (token ids) pass unchanged.

float16 (`train.precision = "float16"`) has 5 exponent bits: small
gradients underflow to zero on the way back through the model. Its runs
scale the loss dynamically (`LossScale`, kept in `TrainState.loss_scale`, so
it is checkpointed and a resumed run continues bitwise): the step multiplies
the objective by the scale before `jax.grad` and divides the float32
gradients by it; a step whose scaled gradients overflow (while the loss
itself is finite) applies no update and halves the scale; after
`GROWTH_INTERVAL` finite steps in a row the scale doubles.

`cast_model(model, precision)` is the whole mechanism for the compute: a
layer around the model that casts its floating params, state and inputs on
the way in and its outputs and new state back on the way out; `jax.grad`
carries the casts backwards, so the gradients arrive in float32.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer

PRECISIONS = ("float32", "bfloat16", "float16")  # `train.precision`: compute dtype

INITIAL_SCALE = 2.0**15  # the largest power of two float16 holds
MAX_SCALE = 2.0**24  # growth stops here
GROWTH_INTERVAL = 2000  # finite steps in a row before the scale doubles


class LossScale(NamedTuple):
    """Dynamic loss scaling's state: a pytree in the run's `TrainState`."""

    scale: jax.Array  # float32 scalar: the objective's multiplier
    good_steps: jax.Array  # int32 scalar: finite steps since the last change


def initial_loss_scale(precision: str) -> LossScale | None:
    """The loss scale a fresh run of `precision` starts with: float16 only."""
    _checks.one_of("precision", "precision", precision, PRECISIONS)
    if precision != "float16":
        return None
    return LossScale(jnp.float32(INITIAL_SCALE), jnp.int32(0))


def next_loss_scale(ls: LossScale, finite: jax.Array) -> LossScale:
    """After a step: halve on overflow (never below 1), double after
    `GROWTH_INTERVAL` finite steps in a row (never above `MAX_SCALE`)."""
    good = jnp.where(finite, ls.good_steps + 1, 0)
    grow = good >= GROWTH_INTERVAL
    scale = jnp.where(finite, jnp.where(grow, ls.scale * 2, ls.scale), ls.scale / 2)
    scale = jnp.clip(scale, 1.0, MAX_SCALE)
    return LossScale(scale, jnp.where(grow, 0, good).astype(jnp.int32))


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
