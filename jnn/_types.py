"""Shared type aliases and the one `Layer` contract every layer and model follows."""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax

Array = jax.Array
PRNGKey = jax.Array
Params = Any  # a pytree of arrays: dicts for layers, tuples for `serial`
State = Any  # a pytree of arrays; `{}` for stateless layers
Shape = tuple[int, ...]


class Spec(Protocol):
    """Anything with `.shape` and `.dtype`: an array or `jax.ShapeDtypeStruct`."""

    shape: Shape
    dtype: Any


InitFn = Callable[..., tuple[Params, State]]  # init(key, x_spec) -> (params, state)
ApplyFn = Callable[..., tuple[Any, State]]  # apply(params, state, x, *, key, train)
Initializer = Callable[[PRNGKey, Shape, Any], Array]  # w_init(key, shape, dtype)


class Layer(NamedTuple):
    """A pure pair of functions and a label: the only contract for layers and models.

    `init(key, x_spec) -> (params, state)` builds parameters from an input spec
    (batch axis included, any batch size).
    `apply(params, state, x, *, key=None, train=False) -> (y, state)` runs it.
    `kind` is the name of the constructor that built the layer, e.g. "dense"
    (activation layers are all "activation"). It is only a label: `jnn.summary`
    prints it and the combinators name each child's
    `jax.named_scope("<name>:<kind>")` with it. `Layer(init, apply)` still
    works, e.g. for a user's own layer, and gets "layer".

    Example:
      >>> def init(key, x_spec):
      ...     return {}, {}
      >>> def apply(params, state, x, *, key=None, train=False):
      ...     return 2 * x, state
      >>> Layer(init, apply).kind, Layer(init, apply, "double").kind
      ('layer', 'double')
    """

    init: InitFn
    apply: ApplyFn
    kind: str = "layer"
