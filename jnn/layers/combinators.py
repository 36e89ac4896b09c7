"""Combinators: build models from layers. Each returns a plain `Layer`.

Child keys come from `jax.random.fold_in(key, i)` (by position in `serial` and
`parallel`, by a stable hash of the name in `named`), so appending or inserting
a layer never changes the initialisation of the others. Output specs are found
with `jax.eval_shape`, so no layer writes its output-shape logic twice.
"""

import zlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jnn import _checks
from jnn._types import Layer


def output_spec(layer: Layer, params, state, x_spec):
    """Return the `ShapeDtypeStruct` (tree) of `layer`'s output for `x_spec`."""

    def run(p, s, x):
        return layer.apply(p, s, x)[0]

    return jax.eval_shape(run, params, state, x_spec)


def name_key(key, name: str):
    """Return the key `named` (and `residual`) give the child called `name`.

    `fold_in(key, crc32(name))`, or None for a None key. Tools that apply a
    `named` model's children one by one (`jnn.diagnostics.gradient_flow`) use
    it so that stochastic layers see the same keys as inside the model.
    """
    # crc32 is stable across runs and Python versions, unlike hash().
    return None if key is None else jax.random.fold_in(key, zlib.crc32(name.encode()))


def _index_key(key, index: int):
    return None if key is None else jax.random.fold_in(key, index)


def _check_layers(where: str, layers: Sequence) -> None:
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise _checks.type_error(
                where,
                f"a Layer at position {i}",
                type(layer).__name__,
                "layer constructors must be called, e.g. flatten() not flatten",
            )


def _check_entries(where: str, what: str, tree, expected) -> None:
    """Raise unless `tree` has one entry per layer (names, or a count)."""
    if isinstance(expected, list):
        ok = isinstance(tree, dict) and sorted(tree) == sorted(expected)
        want = f"{what} with keys {sorted(expected)} (one per layer)"
        got = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
    else:
        ok = isinstance(tree, tuple | list) and len(tree) == expected
        want = f"{what} with {expected} entr{'y' if expected == 1 else 'ies'} (one per layer)"
        got = f"{len(tree)}" if isinstance(tree, tuple | list) else type(tree).__name__
    if not ok:
        raise _checks.value_error(where, want, got)


def _apply_child(name, layer: Layer, *args, **kwargs):
    """Apply a child inside `jax.named_scope("<name>:<kind>")`, kind = `layer.kind`.

    The scope is free at run time; it labels the child's operations in jaxprs
    and profiles, which is how `jnn.diagnostics.model_summary` finds per-layer rows.
    """
    with jax.named_scope(f"{name}:{layer.kind}"):
        return _checks.call_child(name, layer.apply, *args, **kwargs)


def _chain(where, children, params, state, x, key, train, key_fn):
    """Apply named children in order; returns (y, new states in order)."""
    new_states = []
    for (name, layer), p, s in zip(children, params, state, strict=True):
        x, s = _apply_child(name, layer, p, s, x, key=key_fn(key, name), train=train)
        new_states.append(s)
    return x, new_states


def serial(*layers: Layer) -> Layer:
    """Compose layers in order: `serial(f, g)(x) = g(f(x))`.

    Params:
      a tuple with one entry per layer (key paths `0`, `1`, ...)

    State:
      a tuple with one entry per layer

    Raises:
      TypeError: if an argument is not a `Layer` (e.g. an uncalled constructor).
      ValueError: if params or state have a different number of entries.

    Example:
      >>> import jax.random as jr
      >>> from jnn.layers import dense, relu
      >>> model = serial(dense(8), relu(), dense(2))
      >>> params, state = model.init(jr.key(0), jnp.zeros((1, 3)))
      >>> model.apply(params, state, jnp.ones((5, 3)))[0].shape
      (5, 2)
    """
    _check_layers("serial", layers)
    children = list(enumerate(layers))

    def init(key, x_spec):
        params, states = [], []
        for i, layer in children:
            p, s = _checks.call_child(i, layer.init, jax.random.fold_in(key, i), x_spec)
            x_spec = _checks.call_child(i, output_spec, layer, p, s, x_spec)
            params.append(p)
            states.append(s)
        return tuple(params), tuple(states)

    def apply(params, state, x, *, key=None, train=False):
        _check_entries("serial", "params", params, len(layers))
        _check_entries("serial", "state", state, len(layers))
        y, states = _chain("serial", children, params, state, x, key, train, _index_key)
        return y, tuple(states)

    return Layer(init, apply, "serial")


def named(**layers: Layer) -> Layer:
    """Compose layers in keyword order, with readable parameter paths.

    `named(hidden=dense(64), act=relu(), out=dense(10))` gives params
    `{"hidden": {"weight", "bias"}, "act": {}, "out": {...}}`.

    Params:
      a dict with one entry per layer name

    State:
      a dict with one entry per layer name

    Raises:
      TypeError: if a value is not a `Layer`.
      ValueError: if no layer is given, or params/state have other names.
    """
    if not layers:
        raise _checks.value_error("named", "at least one layer", "none")
    _check_layers("named", list(layers.values()))
    names = list(layers)
    children = list(layers.items())

    def init(key, x_spec):
        params, states = {}, {}
        for name, layer in children:
            p, s = _checks.call_child(name, layer.init, name_key(key, name), x_spec)
            x_spec = _checks.call_child(name, output_spec, layer, p, s, x_spec)
            params[name], states[name] = p, s
        return params, states

    def apply(params, state, x, *, key=None, train=False):
        _check_entries("named", "params", params, names)
        _check_entries("named", "state", state, names)
        ordered = ([params[n] for n in names], [state[n] for n in names])
        y, states = _chain("named", children, *ordered, x, key, train, name_key)
        return y, dict(zip(names, states, strict=True))

    return Layer(init, apply, "named")


def parallel(*layers: Layer) -> Layer:
    """Fan out: feed the same input to every layer, return a tuple of outputs.

    Shapes:
      x  ->  (layers[0](x), layers[1](x), ...)

    Params:
      a tuple with one entry per layer

    State:
      a tuple with one entry per layer

    Raises:
      TypeError: if an argument is not a `Layer`.
      ValueError: if no layer is given.
    """
    if not layers:
        raise _checks.value_error("parallel", "at least one layer", "none")
    _check_layers("parallel", layers)

    def init(key, x_spec):
        pairs = [
            _checks.call_child(i, layer.init, jax.random.fold_in(key, i), x_spec)
            for i, layer in enumerate(layers)
        ]
        return tuple(p for p, _ in pairs), tuple(s for _, s in pairs)

    def apply(params, state, x, *, key=None, train=False):
        _check_entries("parallel", "params", params, len(layers))
        _check_entries("parallel", "state", state, len(layers))
        outs = [
            _apply_child(i, layer, p, s, x, key=_index_key(key, i), train=train)
            for i, (layer, p, s) in enumerate(zip(layers, params, state, strict=True))
        ]
        return tuple(y for y, _ in outs), tuple(s for _, s in outs)

    return Layer(init, apply, "parallel")


def concatenate(axis: int = -1) -> Layer:
    """Concatenate a tuple of arrays along `axis` (merges `parallel` outputs).

    Shapes:
      (x_0: (*B, F_0), x_1: (*B, F_1), ...)  ->  y: (*B, F_0 + F_1 + ...)

    Params:
      none

    State:
      none

    Raises:
      ValueError: if the inputs differ in rank or in any axis but `axis`.
      TypeError: if the input is not a tuple or list of arrays.
    """

    def check(xs):
        if not isinstance(xs, tuple | list):
            raise _checks.type_error(
                "concatenate",
                "a tuple or list of arrays",
                type(xs).__name__,
                "feed it the outputs of parallel(...)",
            )
        shapes = [tuple(x.shape) for x in xs]
        ranks = {len(s) for s in shapes}
        rest = {s[:axis] + s[axis:][1:] if axis != -1 else s[:-1] for s in shapes}
        if len(ranks) != 1 or len(rest) != 1:
            raise _checks.value_error(
                "concatenate", f"inputs equal in every axis but {axis}", shapes
            )

    def init(key, x_spec):
        del key
        check(x_spec)
        return {}, {}

    def apply(params, state, x, *, key=None, train=False):
        del params, key, train
        check(x)
        return jnp.concatenate(x, axis=axis), state

    return Layer(init, apply, "concatenate")


def residual(body: Layer, shortcut: Layer | None = None) -> Layer:
    """Add a skip connection: `y = body(x) + shortcut(x)`.

    The shortcut defaults to the identity. When `body` changes the shape, pass a
    projection, e.g. `shortcut=dense(features)`.

    Params:
      {"body": body params, "shortcut": shortcut params ({} for identity)}

    State:
      {"body": body state, "shortcut": shortcut state}

    Raises:
      TypeError: if `body` or `shortcut` is not a `Layer`.
      ValueError: if body and shortcut outputs differ in shape or dtype.
    """
    from jnn.layers.core import identity  # local: core does not import us

    shortcut = shortcut or identity()
    _check_layers("residual", [body, shortcut])
    children = (("body", body), ("shortcut", shortcut))

    def init(key, x_spec):
        params, states = {}, {}
        for name, layer in children:
            p, s = _checks.call_child(name, layer.init, name_key(key, name), x_spec)
            params[name], states[name] = p, s
        return params, states

    def apply(params, state, x, *, key=None, train=False):
        _check_entries("residual", "params", params, ["body", "shortcut"])
        _check_entries("residual", "state", state, ["body", "shortcut"])
        outs, states = {}, {}
        for name, layer in children:
            outs[name], states[name] = _apply_child(
                name,
                layer,
                params[name],
                state[name],
                x,
                key=name_key(key, name),
                train=train,
            )
        y, skip = outs["body"], outs["shortcut"]
        if (y.shape, y.dtype) != (skip.shape, skip.dtype):
            raise _checks.value_error(
                "residual",
                "body and shortcut outputs of equal shape and dtype",
                f"{_checks.fmt_shape(y.shape)} {y.dtype} vs "
                f"{_checks.fmt_shape(skip.shape)} {skip.dtype}",
                "pass a projection, e.g. residual(body, shortcut=dense(F))",
            )
        return y + skip, states

    return Layer(init, apply, "residual")
