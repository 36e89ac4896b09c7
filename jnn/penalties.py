"""L1 and L2 weight penalties over a selectable subset of parameter leaves.

By default only leaves named `weight` or `embedding` are penalised. Biases and
norm scales are left alone, the usual practice: they set offsets and scales,
not how strongly outputs depend on inputs, so shrinking them curbs no
overfitting and only adds bias. Selection is by key path, the same
paths `jax.tree_util.tree_flatten_with_path` gives, so it works for any tree of
dicts and tuples built by `jnn.layers` combinators. Add the result to the mean
loss in the train step: `loss + l2_coeff * l2(params)`.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Params

Include = Callable[[tuple], bool]  # include(key_path) -> whether to penalise

_PENALISED = frozenset({"weight", "embedding"})


def default_include(path: tuple) -> bool:
    """Return True when the leaf's last key is "weight" or "embedding".

    Example:
      >>> default_include((jax.tree_util.DictKey("out"), jax.tree_util.DictKey("weight")))
      True
      >>> default_include((jax.tree_util.DictKey("out"), jax.tree_util.DictKey("bias")))
      False
    """
    return bool(path) and getattr(path[-1], "key", None) in _PENALISED


def weight_mask(params: Params, include: Include = default_include) -> Params:
    """Return a tree of bools shaped like `params`: True where `include(path)`.

    Usable as an optax mask, e.g. `optax.add_decayed_weights(1e-4,
    mask=weight_mask)` (optax calls it on the params) or with
    `mask=weight_mask(params)`.

    Example:
      >>> weight_mask({"weight": jnp.ones(2), "bias": jnp.zeros(2)})
      {'bias': False, 'weight': True}
    """
    return jax.tree_util.tree_map_with_path(lambda path, _: bool(include(path)), params)


def _selected(where: str, params: Params, include: Include) -> list[jax.Array]:
    """Return the leaves `include` selects; each must be floating point."""
    leaves = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not include(path):
            continue
        leaf = jnp.asarray(leaf)
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise _checks.type_error(
                where,
                "floating-point leaves to penalise",
                f"dtype {leaf.dtype} at {jax.tree_util.keystr(path)}",
                "exclude the leaf with a custom `include`",
            )
        leaves.append(leaf)
    return leaves


@functools.partial(jax.jit, static_argnums=0)
def _total(per_leaf, leaves: list[jax.Array]) -> jax.Array:
    """Sum `per_leaf(leaf)` over leaves in the widest leaf dtype (float32 if none).

    Mixed-precision trees (bf16 and f32 leaves) are cast explicitly to the
    widest dtype, since strict dtype promotion forbids adding them as they are.
    Jitted so an eager call compiles one program rather than one per leaf op.
    """
    if not leaves:
        return jnp.zeros((), jnp.float32)
    dtype = max((leaf.dtype for leaf in leaves), key=lambda d: jnp.finfo(d).bits)
    return sum(jnp.sum(per_leaf(leaf)).astype(dtype) for leaf in leaves)


def l1(params: Params, include: Include = default_include) -> jax.Array:
    """Return `sum |w|` over the selected leaves (weights, not biases, by default).

    Args:
      params: A parameter tree.
      include: `include(key_path) -> bool` picks the leaves. Default
        `default_include` (last key "weight" or "embedding").

    Raises:
      TypeError: if a selected leaf is not floating point.

    Example:
      >>> l1({"weight": jnp.array([1.0, -2.0]), "bias": jnp.array([5.0])})
      Array(3., dtype=float32)
    """
    return _total(jnp.abs, _selected("l1", params, include))


def l2(params: Params, include: Include = default_include) -> jax.Array:
    """Return `sum w^2` over the selected leaves (no 1/2 factor; grad is 2w).

    Arguments and errors as `l1`. An empty selection gives 0.0 (float32).

    Example:
      >>> l2({"weight": jnp.array([1.0, -2.0]), "bias": jnp.array([5.0])})
      Array(5., dtype=float32)
    """
    return _total(jnp.square, _selected("l2", params, include))
