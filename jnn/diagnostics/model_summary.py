"""`summary(model, x_spec)`: a table of layer paths, output shapes, params, FLOPs.

Trainable parameters (`params`) and state (`state`, e.g. batch-norm running
statistics, which the optimizer never updates) are counted apart, per row and
in total.

Layers are plain (init, apply) closures, so there is no module tree to walk.
Two things stand in for one: the params tree (paths and counts) and the jaxpr
of `apply`, in which the combinators label each child's operations with
`jax.named_scope("<name>:<kind>")` (`serial` positions, `named` names,
`residual` body/shortcut; the kind is the child's `Layer.kind` label). A row
is a params-tree node with no labelled children: its output shapes are the
values its operations hand to the rest of the model, its FLOPs those of its
operations. Nothing is compiled or run.

FLOPs count multiply-adds of matrix products and convolutions, twice (the
usual convention: a dense layer costs 2 * F_in * F_out per example); the
elementwise work of activations, norms and bias adds is left out, as it is
small and not comparable across backends. `lax.scan` bodies count once per
step, `cond` its costliest branch, `while` loops a single iteration. Every
kernel tap counts, also over "SAME" padding (the usual paper convention);
XLA's `cost_analysis()` skips padded taps, so it agrees for dense layers and
"VALID" convolutions and reports less for padded ones.
"""

import math
from typing import NamedTuple

import jax

from jnn import params as params_lib
from jnn._types import Layer


class Row(NamedTuple):
    path: str  # key path in the params tree, e.g. "hidden_0" or "1/body/0"
    kind: str  # the constructor that built the layer, e.g. "dense"
    output: tuple[tuple[int, ...], ...]  # output shapes; () if it runs no ops
    params: int  # trainable parameters (the params tree)
    flops: int
    state: int = 0  # state elements, e.g. batch-norm running mean and var


class Summary(NamedTuple):
    """The per-layer rows and totals; `str(summary)` is the printed table."""

    rows: tuple[Row, ...]
    input: tuple[int, ...]
    params: int  # trainable parameters
    flops: int
    state: int = 0  # state elements (not trained), e.g. running statistics

    def __str__(self) -> str:
        return table(self)


def summary(model: Layer, x_spec, *, key=None) -> Summary:
    """Describe `model` on inputs like `x_spec`, layer by layer, without running it.

    Args:
      model: Any `Layer`; combinators (`serial`, `named`, `parallel`,
        `residual`) give one row per child layer.
      x_spec: An array or `jax.ShapeDtypeStruct` with the batch axis; FLOPs
        are for this batch size.
      key: PRNG key for the (shape-only) init. Default `jax.random.key(0)`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jnn.layers import dense, relu, serial
      >>> s = summary(serial(dense(8), relu(), dense(2)), jnp.zeros((1, 3)))
      >>> [(r.path, r.kind, r.output, r.params, r.flops) for r in s.rows]
      [('0', 'dense', ((1, 8),), 32, 48), ('1', 'activation', ((1, 8),), 0, 0), ('2', 'dense', ((1, 2),), 18, 32)]
      >>> s.params, s.flops
      (50, 80)

      State (e.g. batch-norm running statistics) is counted apart from params:

      >>> from jnn.layers import batch_norm
      >>> s = summary(serial(dense(4), batch_norm()), jnp.zeros((2, 3)))
      >>> [(r.kind, r.params, r.state) for r in s.rows], (s.params, s.state)
      ([('dense', 16, 0), ('batch_norm', 8, 8)], (24, 8))
    """
    x_spec = jax.ShapeDtypeStruct(x_spec.shape, x_spec.dtype)
    key = jax.random.key(0) if key is None else key
    params, state = _ordered_specs(model, key, x_spec)
    evals, trains = (_Trace(model, params, state, x_spec, key, t) for t in (0, 1))
    rows = []
    for path, node in _layer_nodes(params, (), evals.scopes | trains.scopes):
        # Eval mode has no ops for e.g. dropout; train mode still names it.
        inside = evals.inside(path)
        seen = evals if any(inside) else trains
        rows.append(
            Row(
                path="/".join(path),
                kind=seen.kinds.get(path, model.kind if not path else "-"),
                output=_outputs(seen.jaxpr, seen.inside(path)),
                params=params_lib.count(node),
                flops=sum(
                    _flops(e) for e, i in zip(evals.eqns, inside, strict=True) if i
                ),
                state=params_lib.count(_node_at(state, path)),
            )
        )
    flops = sum(_flops(e) for e in evals.eqns)
    counts = params_lib.count(params), flops, params_lib.count(state)
    return Summary(tuple(rows), tuple(x_spec.shape), *counts)


def _node_at(tree, path: tuple[str, ...]):
    """The node of `tree` at a params-tree `path`, or {} where it has none.

    Combinators build the state tree with the params tree's containers, so a
    row's path finds its layer's state.
    """
    for name in path:
        if isinstance(tree, dict) and name in tree:
            tree = tree[name]
        elif (
            isinstance(tree, tuple | list) and name.isdigit() and int(name) < len(tree)
        ):
            tree = tree[int(name)]
        else:
            return {}
    return tree


def _ordered_specs(model: Layer, key, x_spec):
    """(params, state) as shape specs, keeping the model's dict order.

    `jax.eval_shape` returns dicts with sorted keys; `named` layers have a
    meaningful order, so the trees are copied while still being traced.
    """
    found = []

    def init(key, x):
        found.append(_skeleton(model.init(key, x)))
        return ()

    jax.eval_shape(init, key, x_spec)
    return found[0]


def _skeleton(tree):
    if isinstance(tree, dict):
        return {k: _skeleton(v) for k, v in tree.items()}
    if isinstance(tree, tuple | list):
        return type(tree)(_skeleton(v) for v in tree)
    return jax.ShapeDtypeStruct(tree.shape, tree.dtype)


class _Trace:
    """The jaxpr of `apply` in one mode, with each equation's layer labels."""

    def __init__(self, model, params, state, x_spec, key, train):
        def run(p, s, x):
            return model.apply(p, s, x, key=key if train else None, train=bool(train))[
                0
            ]

        try:
            self.jaxpr = jax.make_jaxpr(run)(params, state, x_spec).jaxpr
        except Exception:  # train mode is only a fallback for labels: optional
            if not train:
                raise
            self.jaxpr = jax.make_jaxpr(lambda: ())().jaxpr
        self.eqns = self.jaxpr.eqns
        self.labels = [_labels(eqn) for eqn in self.eqns]
        self.kinds = {
            tuple(n for n, _ in lab[:i]): kind
            for lab in self.labels
            for i, (_, kind) in enumerate(lab, 1)
        }
        self.scopes = set(self.kinds)

    def inside(self, path: tuple[str, ...]) -> list[bool]:
        return [_under(lab, path) for lab in self.labels]


def _labels(eqn) -> list[tuple[str, str]]:
    """The leading `name:kind` scopes of an equation, as (name, kind) pairs."""
    out = []
    for part in str(eqn.source_info.name_stack).split("/"):
        name, sep, kind = part.rpartition(":")
        if not sep or not name:
            break
        out.append((name, kind))
    return out


def _under(labels, path: tuple[str, ...]) -> bool:
    return tuple(n for n, _ in labels[: len(path)]) == path


def _layer_nodes(node, path: tuple[str, ...], scopes: set):
    """Yield (path, node) for the params nodes that are rows, in model order."""
    deeper = any(len(s) > len(path) and s[: len(path)] == path for s in scopes)
    if deeper and isinstance(node, dict | tuple | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, child in items:
            yield from _layer_nodes(child, (*path, str(name)), scopes)
    else:
        yield path, node


def _outputs(jaxpr, inside: list[bool]) -> tuple[tuple[int, ...], ...]:
    """Shapes of values made inside a row and used outside it (in order)."""
    made = {}
    for eqn, here in zip(jaxpr.eqns, inside, strict=True):
        if here:
            made.update((id(v), v) for v in eqn.outvars)
    used = [
        v
        for eqn, here in zip(jaxpr.eqns, inside, strict=True)
        if not here
        for v in eqn.invars
    ]
    used += list(jaxpr.outvars)
    out, seen = [], set()
    for v in used:
        if id(v) in made and id(v) not in seen:
            seen.add(id(v))
            out.append(tuple(v.aval.shape))
    return tuple(out)


def _sub_jaxprs(eqn):
    for value in eqn.params.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            inner = getattr(item, "jaxpr", item)  # ClosedJaxpr -> Jaxpr
            if hasattr(inner, "eqns"):
                yield inner


def _flops(eqn) -> int:
    """2 x multiply-adds of `eqn` (matmuls and convolutions, recursively)."""
    name = eqn.primitive.name
    out = eqn.outvars[0].aval.shape if eqn.outvars else ()
    if name == "dot_general":
        (contract, _), _ = eqn.params["dimension_numbers"]
        lhs = eqn.invars[0].aval.shape
        return 2 * math.prod(out) * math.prod(lhs[c] for c in contract)
    if name == "conv_general_dilated":
        rhs = eqn.invars[1].aval.shape  # (O, I / groups, *K) in rhs_spec order
        per_output = math.prod(rhs) // rhs[eqn.params["dimension_numbers"].rhs_spec[0]]
        return 2 * math.prod(out) * per_output
    inner = [sum(_flops(e) for e in j.eqns) for j in _sub_jaxprs(eqn)]
    if name == "scan":
        return eqn.params["length"] * sum(inner)
    if name == "cond":
        return max(inner, default=0)
    return sum(inner)


def table(s: Summary) -> str:
    """Render a `Summary` as an aligned text table with a totals line.

    `params` counts trainable parameters and `state` the elements of the state
    tree (not trained, e.g. running statistics); each has its own total.
    """
    head = ("path", "layer", "output shape", "params", "state", "FLOPs")
    body = [
        (
            r.path or "(model)",
            r.kind,
            ", ".join(map(str, r.output)) or "-",
            f"{r.params:,}",
            f"{r.state:,}",
            f"{r.flops:,}",
        )
        for r in s.rows
    ]
    total = ("total", "", "", f"{s.params:,}", f"{s.state:,}", f"{s.flops:,}")
    widths = [max(len(line[i]) for line in (head, *body, total)) for i in range(6)]

    def fmt(line):
        left = [c.ljust(w) for c, w in zip(line[:3], widths, strict=False)]
        right = [c.rjust(w) for c, w in zip(line[3:], widths[3:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(fmt(head))
    lines = [f"input {s.input}", fmt(head), rule, *map(fmt, body), rule, fmt(total)]
    return "\n".join(lines)


def from_config(cfg, *, batch_size: int = 1) -> Summary:
    """Summarise the model a `jnn.config.Config` trains, on `batch_size` inputs.

    Loads the data (to know the input shape and class count) exactly as
    training does, so the table describes the trained model.
    """
    from jnn.train import setup  # lazy: training pulls in data and optax

    run = setup.build(cfg)
    x = run.splits.train.x
    return summary(run.model, jax.ShapeDtypeStruct((batch_size, *x.shape[1:]), x.dtype))
