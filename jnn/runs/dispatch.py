"""One dispatch of the host loop: a jitted step, or K of them in one scan,
with the step's metrics folded into the epoch's running sums on the device.

`jnn.runs.loop` calls `start` once per epoch and `dispatch` per placed batch;
what it keeps between dispatches is the `Sums`. A plan that keeps its data
on the device (`Plan.source`, `Plan.gather`) has each batch gathered here,
inside the jit.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Sums(NamedTuple):
    """The epoch's running sums, on the device (see `_fold`)."""

    totals: dict
    count: jax.Array
    skipped: jax.Array
    bad: jax.Array


def _fold(step, use, with_logs: bool, placement, state, source, batch, sums: Sums):
    """One step and its metrics folded into the sums (`_step_and_fold`).

    A separate host-side fold per step costs more than a small model's step.
    A step flagged non-finite (`nonfinite` >= 0) is left out of the sums and
    counted; the first one's update index and code are kept in `bad`. The
    step's own metrics come back only `with_logs` (for callbacks): extra
    outputs cost a small model's step measurably. On a mesh, the new state
    keeps the placement's shardings (the batch's come with it). `use` is
    the plan's (weight, gather), static: see `loop.Plan`.
    """
    weigh, gather = use
    if gather is not None:
        batch = gather(source, batch)
    index = state.step
    state, logs = step(state, batch)
    state = placement.constrain(state)
    code = logs.pop("nonfinite", jnp.int32(-1))
    ok = code < 0
    weight = jnp.asarray(weigh(batch), jnp.float32)
    totals = jax.tree.map(
        lambda t, v: t + jnp.where(ok, v * weight, 0.0), sums.totals, logs
    )
    first = jnp.stack([index, code]).astype(jnp.int32)
    bad = jnp.where((sums.bad[0] < 0) & ~ok, first, sums.bad)
    count = sums.count + jnp.where(ok, weight, 0.0)
    skipped = sums.skipped + (~ok).astype(jnp.int32)
    return state, Sums(totals, count, skipped, bad), logs if with_logs else None


# One step and its fold: a single dispatch.
_step_and_fold = jax.jit(_fold, static_argnums=(0, 1, 2, 3), donate_argnums=4)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3), donate_argnums=4)
def _steps_and_fold(step, use, placement, shared, state, source, batches, sums):
    """K steps and their folds in one `lax.scan` over batches stacked on a
    leading axis: one dispatch for K steps. The loop body is `_fold` itself,
    so the state and sums equal K `_step_and_fold` calls bitwise on CPU
    (for steps without convolutions: see `jnn.runs.fusing`).
    A plan's gather runs once for all K batches, before the loop (one
    gather, not K small ones inside it; the same values). With `shared` =
    K (a plan whose steps all take one batch), `batches` is that batch,
    passed to each of the K steps."""
    weigh, gather = use
    if shared:

        def same(carry, _):
            state, sums = carry
            args = (step, use, False, placement, state, source, batches, sums)
            return _fold(*args)[:2], None

        return jax.lax.scan(same, (state, sums), None, length=shared)[0]
    if gather is not None:
        batches = jax.vmap(lambda batch: gather(source, batch))(batches)
        split = functools.partial(placement.split, axis=1)  # (K, B, ...): on B
        batches = jax.tree.map(split, batches)

    gathered = (weigh, None)

    def body(carry, batch):
        state, sums = carry
        args = (step, gathered, False, placement, state, None, batch, sums)
        state, sums, _ = _fold(*args)
        return (state, sums), None

    return jax.lax.scan(body, (state, sums), batches)[0]


def start(step, plan, fuse: int, state, batch, pos) -> Sums:
    """Device sums to continue `pos` (a `loop.Position`) from: zeros, or a
    resumed epoch's sums. `batch` is the epoch's first placed dispatch."""
    if pos.totals is None:
        stacked = fuse > 1 and not plan.shared
        spec = _spec(state, plan.source, batch)
        logs = _logs_shape(step, plan.gather, stacked, *spec)
        zeros = {k: np.zeros(shape, dtype) for k, (shape, dtype) in logs.items()}
        # Host zeros go in with the first dispatch: creating or placing them
        # on the device first took 150-230 us, more than the call's copy.
        return Sums(zeros, np.float32(0), np.int32(0), np.full(2, -1, np.int32))
    return Sums(
        pos.totals,
        jnp.asarray(pos.count, jnp.float32),
        jnp.asarray(pos.skipped, jnp.int32),
        jnp.full((2,), -1, jnp.int32) if pos.bad is None else pos.bad,
    )


def _spec(*trees) -> tuple:
    """A hashable stand-in for `trees`' structure and abstract values."""
    leaves, treedef = jax.tree.flatten(trees)
    return treedef, tuple(map(_abstract, leaves))


def _abstract(leaf) -> tuple:
    """(shape, dtype, weak_type): an array's own attributes where it has them
    (`jax.typeof` took 3x as long for a small model's state)."""
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return leaf.shape, leaf.dtype, getattr(leaf, "weak_type", False)
    aval = jax.typeof(leaf)  # a Python scalar
    return aval.shape, aval.dtype, aval.weak_type


@functools.lru_cache(maxsize=16)
def _logs_shape(step, gather, stacked: bool, treedef, avals) -> dict:
    """`{name: (shape, dtype)}` of one step's summed metrics. Tracing the
    step for it took about 1 ms an epoch; the same inputs give the same."""
    structs = [
        jax.ShapeDtypeStruct(shape, dtype, weak_type=weak)
        for shape, dtype, weak in avals
    ]
    state, source, batch = jax.tree.unflatten(treedef, structs)
    if stacked:  # K stacked batches: one step sees one
        batch = jax.tree.map(lambda a: a.update(shape=a.shape[1:]), batch)
    if gather is not None:
        batch = jax.eval_shape(gather, source, batch)
    _, logs = jax.eval_shape(step, state, batch)
    logs.pop("nonfinite", None)
    return {k: (v.shape, v.dtype) for k, v in logs.items()}


def dispatch(step, plan, placement, with_logs, fused: int, state, batch, sums):
    """Run one placed batch: a step (`fused` = 0), or `fused` = K steps in one
    scan (K stacked batches, or the one batch a shared plan's steps take)."""
    use, source = (plan.weight, plan.gather), plan.source
    if not fused:
        return _step_and_fold(
            step, use, with_logs, placement, state, source, batch, sums
        )
    shared = fused if plan.shared else 0  # K steps on one batch, or K stacked
    args = (step, use, placement, shared, state, source, batch, sums)
    state, sums = _steps_and_fold(*args)
    return state, sums, None
