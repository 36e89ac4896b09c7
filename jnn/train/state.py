"""`TrainState`: everything a training step reads and writes, as one pytree."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn._types import Layer, Params, PRNGKey, State


class TrainState(NamedTuple):
    """The full state of a run: a pytree, so it jits, donates and checkpoints.

    `key` is the run's base key; step `t` draws its randomness from
    `fold_in(key, t)`, so a resumed run replays exactly the same dropout masks.
    """

    step: jax.Array  # int32 scalar: number of updates applied so far
    params: Params
    state: State
    opt_state: Any
    key: PRNGKey


def create(
    model: Layer, optimizer: optax.GradientTransformation, key: PRNGKey, x_spec
) -> TrainState:
    """Initialise a model and its optimizer into a fresh `TrainState`.

    Args:
      model: The model `Layer`.
      optimizer: An optax `GradientTransformation`.
      key: PRNG key; split into an init key and the run's training key.
      x_spec: An example input (array or `jax.ShapeDtypeStruct`), batch axis
        included.

    Example:
      >>> import jax.numpy as jnp, jax.random as jr, optax
      >>> from jnn.layers import dense
      >>> ts = create(dense(2), optax.sgd(0.1), jr.key(0), jnp.zeros((1, 3)))
      >>> int(ts.step), ts.params["weight"].shape
      (0, (3, 2))
    """
    init_key, train_key = jax.random.split(key)
    params, state = model.init(init_key, x_spec)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        state=state,
        opt_state=optimizer.init(params),
        key=train_key,
    )
