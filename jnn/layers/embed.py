"""Embedding: look up a learned vector for each integer token id."""

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks, initializers
from jnn._types import Initializer, Layer


def _check_ids(ids, vocab: int | None = None) -> None:
    """Raise unless `ids` are integers; if concrete, also within [0, vocab)."""
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise _checks.type_error(
            "embedding",
            "integer token ids",
            f"dtype {ids.dtype}",
            "cast explicitly, e.g. ids.astype(jnp.int32)",
        )
    if vocab is None or isinstance(ids, jax.core.Tracer):
        return  # a spec, or traced under jit: the values are unknown here
    values = np.asarray(ids)
    bad = values[(values < 0) | (values >= vocab)]
    if bad.size:
        raise _checks.value_error(
            "embedding",
            f"token ids in [0, {vocab}) (`num_embeddings` = {vocab})",
            f"out-of-range ids {sorted(set(bad.tolist()))[:5]}",
        )


def embedding(
    num_embeddings: int,
    features: int,
    *,
    e_init: Initializer | str | None = None,
    param_dtype=jnp.float32,
) -> Layer:
    """Map integer ids to rows of a learned table: `y = embedding[ids]`.

    Out-of-range ids are an error when the ids are concrete (eager calls).
    Under `jit` the values are unknown: there, out-of-range ids (negative ones
    included, which are never wrapped) give NaN rows, so they surface as NaN
    losses instead of silently reading another token's row.

    Args:
      num_embeddings: Vocabulary size V. Must be > 0.
      features: Size of each embedding vector. Must be > 0.
      e_init: Initializer or its name for `embedding`. Default N(0, 1), as PyTorch and
        Flax: unit-variance inputs for the layers above.
      param_dtype: Dtype of the table. Default float32.

    Shapes:
      ids: (*B,) int  ->  y: (*B, features)

    Params:
      embedding: (V, features)

    State:
      none

    Raises:
      ValueError: if `num_embeddings` or `features` is not > 0, or concrete
        ids fall outside [0, V).
      TypeError: if `num_embeddings` or `features` is not an int, the ids
        are not integers, or `e_init` is neither callable nor a name
        (ValueError for an unknown name).

    Example:
      >>> import jax.random as jr
      >>> layer = embedding(10, 4)
      >>> ids = jnp.array([[1, 2, 3], [4, 5, 9]])
      >>> params, state = layer.init(jr.key(0), ids)
      >>> layer.apply(params, state, ids)[0].shape
      (2, 3, 4)
    """
    _checks.positive_int("embedding", "num_embeddings", num_embeddings)
    _checks.positive_int("embedding", "features", features)
    e_init = initializers.resolve(
        "embedding", "e_init", e_init, initializers.normal(1.0)
    )

    def init(key, x_spec):
        _check_ids(x_spec)
        return {"embedding": e_init(key, (num_embeddings, features), param_dtype)}, {}

    def apply(params, state, x, *, key=None, train=False):
        del key, train  # deterministic layer
        _check_ids(x, num_embeddings)
        table = params["embedding"]
        y = jnp.take(table, x, axis=0, mode="fill", fill_value=jnp.nan)  # (*B, F)
        valid = (x >= 0).reshape(*x.shape, 1)  # take wraps negative ids; we do not
        return jnp.where(valid, y, jnp.nan), state

    return Layer(init, apply, "embedding")
