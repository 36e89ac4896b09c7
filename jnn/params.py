"""`check_params`: catch params from another model before anything is traced.

`apply` with the wrong params fails late and far from the cause: a shape error
deep inside a jitted matmul, or a `serial` entry-count error. Comparing the
given tree with `jax.eval_shape(model.init, ...)` (no compute, no compile)
lists every differing key path at once, with expected and actual shape/dtype.
"""

import jax
import numpy as np

from jnn import _checks
from jnn._types import Layer

_MAX_LISTED = 8  # differing paths named in the error; more would bury it


def param_specs(model: Layer, x_spec, *, key=None):
    """The (params, state) trees `model.init` builds for `x_spec`, as shapes only.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.layers import dense
      >>> params, state = param_specs(dense(4), jnp.zeros((2, 3)))
      >>> params["weight"].shape, state
      ((3, 4), {})
    """
    key = jax.random.key(0) if key is None else key
    return jax.eval_shape(model.init, key, _spec(x_spec))


def _spec(x_spec):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), x_spec)


def count(tree) -> int:
    """Number of scalar entries in a tree of arrays or shape specs.

    Example:
      >>> import numpy as np
      >>> count({"weight": np.zeros((3, 4)), "bias": np.zeros(4)})
      16
    """
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def _leaves(tree) -> dict[str, tuple]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {
        jax.tree_util.keystr(path): (tuple(leaf.shape), str(np.dtype(leaf.dtype)))
        for path, leaf in flat
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype")
    }


def _describe(spec) -> str:
    shape, dtype = spec
    return f"{dtype}{list(shape)}"


def differences(expected, got) -> list[str]:
    """Human-readable lines for each missing, extra or differing leaf path."""
    want, have = _leaves(expected), _leaves(got)
    lines = [f"missing {p} ({_describe(want[p])})" for p in want if p not in have]
    lines += [f"unexpected {p} ({_describe(have[p])})" for p in have if p not in want]
    lines += [
        f"{p}: expected {_describe(want[p])}, got {_describe(have[p])}"
        for p in want
        if p in have and want[p] != have[p]
    ]
    if not lines and jax.tree.structure(expected) != jax.tree.structure(got):
        lines.append(
            f"tree structure {jax.tree.structure(got)} instead of "
            f"{jax.tree.structure(expected)}"
        )
    return lines


def check_params(model: Layer, params, x_spec, *, where: str = "check_params"):
    """Raise unless `params` has exactly the paths, shapes and dtypes `model` makes.

    Args:
      model: The `Layer` the params are meant for.
      params: A params tree (arrays or shape specs), e.g. from a checkpoint.
      x_spec: An input (or `jax.ShapeDtypeStruct`) with the batch axis.
      where: Names the caller in the error, e.g. "evaluate".

    Raises:
      ValueError: naming every missing, unexpected or mis-shaped/mis-typed key
        path (the first few if many), with expected and actual shape/dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.layers import dense
      >>> x = jnp.zeros((2, 3))
      >>> params, _ = dense(5).init(jax.random.key(0), x)
      >>> check_params(dense(4), params, x)
      Traceback (most recent call last):
      ...
      jnn._checks.JnnValueError: check_params: expected params of the model (2 key paths), got 2 differences: ['bias']: expected float32[4], got float32[5]; ['weight']: expected float32[3, 4], got float32[3, 5]. Hint: these params come from another model or config.
    """
    expected, _ = param_specs(model, x_spec)
    lines = differences(expected, params)
    if not lines:
        return
    shown = "; ".join(lines[:_MAX_LISTED])
    more = (
        f"; ... and {len(lines) - _MAX_LISTED} more" if len(lines) > _MAX_LISTED else ""
    )
    raise _checks.value_error(
        where,
        f"params of the model ({len(_leaves(expected))} key paths)",
        f"{len(lines)} difference{'s' if len(lines) != 1 else ''}: {shown}{more}",
        "these params come from another model or config",
    )
