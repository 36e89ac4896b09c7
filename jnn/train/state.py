"""`TrainState`: everything a training step reads and writes, as one pytree."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn import _checks
from jnn._types import Layer, Params, PRNGKey, State


class TrainState(NamedTuple):
    """The full state of a run: a pytree, so it jits, donates and checkpoints.

    `key` is the run's base key as raw key data (`raw_key`); step `t` draws
    its randomness from `fold_in(typed_key(key), t)`, so a resumed run
    replays exactly the same dropout masks.
    """

    step: jax.Array  # int32 scalar: number of updates applied so far
    params: Params
    state: State
    opt_state: Any
    key: jax.Array  # uint32 data of the run's base key (see `raw_key`)
    loss_scale: Any = None  # float16 runs: `jnn.train.precision.LossScale`


def create(
    model: Layer,
    optimizer: optax.GradientTransformation,
    key: PRNGKey,
    x_spec,
    *,
    loss_scale=None,
) -> TrainState:
    """Initialise a model and its optimizer into a fresh `TrainState`.

    Args:
      model: The model `Layer`.
      optimizer: An optax `GradientTransformation`.
      key: PRNG key; split into an init key and the run's training key.
      x_spec: An example input (array or `jax.ShapeDtypeStruct`), batch axis
        included.
      loss_scale: Dynamic loss scaling's start
        (`jnn.train.precision.initial_loss_scale("float16")`), or None.

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
        key=raw_key(train_key),
        loss_scale=loss_scale,
    )


def raw_key(key: PRNGKey) -> jax.Array:
    """The raw uint32 data of a key of JAX's default PRNG implementation.

    Run states hold a key as its data, not as a typed key: jit dispatches a
    typed-key argument on a slower path (measured: 45 vs 34 µs per call of a
    small model's step on CPU). A raw key (`jax.random.PRNGKey`) passes.

    Raises:
      ValueError: for a key of another implementation, or raw data of another
        shape or dtype than the default implementation's.
    """
    impl = jax.config.jax_default_prng_impl
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != impl:
            got = f"a {jax.random.key_impl(key)} key"
            raise _checks.value_error("create", f"a {impl} key", got, _KEY_HINT)
        return jax.random.key_data(key)
    want = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0)))
    if (key.shape, key.dtype) != (want.shape, want.dtype):
        got = f"{key.dtype}{_checks.fmt_shape(key.shape)}"
        what = (
            f"a {impl} key, or its raw data {want.dtype}{_checks.fmt_shape(want.shape)}"
        )
        raise _checks.value_error("create", what, got, _KEY_HINT)
    return key


def typed_key(data: jax.Array) -> PRNGKey:
    """The typed key of a run state's raw `key` data (see `raw_key`)."""
    return jax.random.wrap_key_data(data)


_KEY_HINT = "use jax.random.key(seed); states keep JAX's default PRNG implementation"
