"""`GANState`: both models' params, state and optimizer states, as one pytree."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn._types import Layer, Params, PRNGKey, State
from jnn.train.state import raw_key


class GANState(NamedTuple):
    """Everything a GAN step reads and writes: it jits, donates and checkpoints.

    `key` is the run's base key; step `t` draws its noise, real batches and
    penalty points from `fold_in(key, t)`, so a resumed run replays exactly.
    """

    step: jax.Array  # int32 scalar: generator updates applied so far
    g_params: Params
    g_state: State
    g_opt: Any
    d_params: Params
    d_state: State
    d_opt: Any
    key: jax.Array  # uint32 data of the run's base key (`jnn.train.state.raw_key`)


def create(
    generator: Layer,
    discriminator: Layer,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    key: PRNGKey,
    *,
    z_spec,
    x_spec,
) -> GANState:
    """Initialise both models and their optimizers into a fresh `GANState`.

    Args:
      generator: Maps noise (B, latent_dim) to samples shaped like `x_spec`.
      discriminator: Maps samples to one logit each, (B, 1) or (B,).
      g_optimizer: optax optimizer of the generator.
      d_optimizer: optax optimizer of the discriminator.
      key: Split into the two init keys and the run's training key.
      z_spec: Example noise batch (array or `jax.ShapeDtypeStruct`).
      x_spec: Example data batch (array or `jax.ShapeDtypeStruct`).

    Example:
      >>> import jax.numpy as jnp, jax.random as jr, optax
      >>> from jnn.layers import dense
      >>> gs = create(dense(2), dense(1), optax.adam(1e-3), optax.adam(1e-3),
      ...             jr.key(0), z_spec=jnp.zeros((4, 3)), x_spec=jnp.zeros((4, 2)))
      >>> gs.g_params["weight"].shape, gs.d_params["weight"].shape
      ((3, 2), (2, 1))
    """
    g_key, d_key, train_key = jax.random.split(key, 3)
    g_params, g_state = generator.init(g_key, z_spec)
    d_params, d_state = discriminator.init(d_key, x_spec)
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g_params=g_params,
        g_state=g_state,
        g_opt=g_optimizer.init(g_params),
        d_params=d_params,
        d_state=d_state,
        d_opt=d_optimizer.init(d_params),
        key=raw_key(train_key),
    )
