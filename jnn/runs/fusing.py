"""How many steps one dispatch runs: `fuse_steps`, and its "auto" rule (0).

Fusing K steps into one jitted `lax.scan` (`jnn.runs.dispatch`) saves the
host's per-dispatch work K-1 times: on a 2-core CPU the digits MLP and LSTM
configs train 1.1-1.2x, the char-level transformer 1.2x faster, and the
tiny MLP of `benchmarks/suite.py` 3x (its step takes less time than a
dispatch); README, "Benchmarks", has the numbers. The same dispatch ends every K batches, at the epoch's end and at
checkpoint steps, so a resumed run replays it.

"auto" picks, once per run, before the first step:
- 1 (no fusing) where the loop cannot fuse: a callback's `on_step` wants
  every step, or the task's plan does not stack (`loop.Plan.fusable`);
- 1 on a CPU for a step with a convolution: XLA:CPU runs convolutions inside
  a loop several times slower (a CNN's step 6x, `loop_device` in the suite;
  a residual net's config 7x) and with other roundings;
- else the whole epoch, but at most `DISPATCH_SECONDS` of nominal work (the
  step's FLOPs, from its jaxpr, at `NOMINAL_FLOPS` of the backend: the
  progress display and a preemption signal wait for a dispatch) and
  `DISPATCH_BYTES` of stacked batches.
"""

import math
from typing import NamedTuple

import jax
import numpy as np
from jax.extend import core as jax_core

from jnn import _checks

AUTO = 0  # `fuse_steps` = 0: chosen by `choose`
DISPATCH_SECONDS = 1.0  # nominal length of one fused dispatch, at most
DISPATCH_BYTES = 64 << 20  # one dispatch's stacked batches, at most
# FLOP/s a step reaches at least, per platform: the 784-512-512-10 MLP's step
# reached 1.3e11 on the 2-core CPU (`benchmarks/suite.py`); accelerators run
# small steps at a small fraction of their peak.
NOMINAL_FLOPS = {"cpu": 5e10}
ACCELERATOR_FLOPS = 5e12
_CONVOLUTIONS = ("conv_general_dilated",)


class Choice(NamedTuple):
    steps: int  # steps per dispatch
    why: str  # for the start block, e.g. "auto: the whole epoch"


def choose(fuse_steps: int, step, state, plan, placement, per_step: bool) -> Choice:
    """Steps per dispatch for a run: `fuse_steps` as set, or "auto" for 0.

    Args:
      fuse_steps: The setting: K > 0 as given, 0 for the rule above.
      step: The task's jitted step; `state`: its state (fresh or restored).
      plan: The task's `loop.Plan`; `placement`: its `mesh.Placement`.
      per_step: Whether a callback wants every step (`on_step`).

    Raises:
      ValueError: if `fuse_steps` is negative, or > 1 where the loop cannot
        fuse (a plan that does not stack).
    """
    cannot = check(fuse_steps, plan, placement)
    if fuse_steps:
        return Choice(fuse_steps, "as set")
    if cannot or per_step:
        return Choice(1, f"auto: {cannot or 'a callback sees every step'}")
    batch = _one_batch(plan)
    jaxpr = jax.make_jaxpr(step)(state, batch).jaxpr
    flops, convolves = _work(jaxpr)
    platform = jax.default_backend()
    if convolves and platform == "cpu":
        return Choice(1, "auto: convolutions run slower in a loop on a CPU")
    rate = NOMINAL_FLOPS.get(platform, ACCELERATOR_FLOPS)
    by_time = math.floor(DISPATCH_SECONDS * rate / flops) if flops else math.inf
    by_bytes = DISPATCH_BYTES // max(_nbytes(batch), 1)
    epoch = plan.num_batches(0)
    steps = int(max(1, min(epoch, by_time, by_bytes)))
    return Choice(steps, "auto: the whole epoch" if steps == epoch else "auto")


def check(fuse_steps: int, plan, placement) -> str:
    """Raise unless `fuse_steps` fits the run; return why the loop cannot
    fuse its steps ("" if it can).

    Raises:
      ValueError: if `fuse_steps` is negative, or > 1 where the loop cannot
        fuse.
    """
    _checks.non_negative_int("run", "fuse_steps", fuse_steps)
    cannot = _cannot(plan, placement)
    if fuse_steps > 1 and cannot:
        expected = "`fuse_steps` = 1 or 0 (auto) for this run"
        raise _checks.value_error("run", expected, fuse_steps, cannot)
    return cannot


def _cannot(plan, placement) -> str:
    """Why the loop cannot fuse this run's steps ("" if it can)."""
    if not plan.fusable:
        return "each step of the task takes the same data"
    return ""


def _one_batch(plan):
    """The abstract batch one step sees (gathered from the plan's source)."""
    first = next(iter(plan.batches(0, 0)))
    if plan.gather is not None:
        return jax.eval_shape(plan.gather, plan.source, first)
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), first)


def _nbytes(tree) -> int:
    return sum(
        math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree)
    )


def _work(jaxpr) -> tuple[float, bool]:
    """(FLOPs of matrix products and convolutions, whether any convolution)
    of a jaxpr and those inside it, a scan's body counted `length` times."""
    flops, convolves = 0.0, False
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            flops += 2 * _size(eqn.outvars[0]) * math.prod(lhs[d] for d in contract)
        elif name in _CONVOLUTIONS:
            kernel = eqn.invars[1].aval.shape
            out_features = kernel[eqn.params["dimension_numbers"].rhs_spec[0]]
            flops += 2 * _size(eqn.outvars[0]) * math.prod(kernel) / out_features
            convolves = True
        times = eqn.params.get("length", 1) if name == "scan" else 1
        for sub in _subjaxprs(eqn.params):
            sub_flops, sub_convolves = _work(sub)
            flops += times * sub_flops
            convolves |= sub_convolves
    return flops, convolves


def _size(var) -> int:
    return math.prod(var.aval.shape)


def _subjaxprs(params: dict):
    """The jaxprs an equation's params hold (a jit's, a scan's body, a cond's
    branches, a custom rule's function)."""
    for value in params.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, jax_core.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jax_core.Jaxpr):
                yield item
