"""How many steps one dispatch runs: `fuse_steps`, and its "auto" rule (0).

Fusing K steps into one jitted `lax.scan` (`jnn.runs.dispatch`) saves the
host's per-dispatch work K-1 times: on a 2-core CPU the digits MLP and LSTM
configs train 1.1-1.2x, the char-level transformer 1.2x faster, and the
tiny MLP of `benchmarks/suite.py` 3x (its step takes less time than a
dispatch); README, "Benchmarks", has the numbers. A dispatch ends every K
batches, at the epoch's end and at checkpoint steps, so a resumed run
replays it. Every task fuses alike: a GAN's K steps share one dispatch and
the data each draws its batch from (`loop.Plan.shared`).

"auto" picks, once per run, before the first step:
- 1 (no fusing) where a callback's `on_step` wants every step;
- 1 on a CPU for a step with a convolution: XLA:CPU runs convolutions inside
  a loop several times slower (a CNN's step 6x, `loop_device` in the suite;
  a residual net's config 7x) and with other roundings;
- else the whole epoch, but at most `DISPATCH_SECONDS` of nominal work (the
  step's FLOPs, from its jaxpr, at `NOMINAL_FLOPS` of the backend: the
  progress display and a preemption signal wait for a dispatch) and
  `DISPATCH_BYTES` of stacked batches; below those, a divisor of the
  epoch where one is at least half as long (one compiled program).
"""

import math
from typing import NamedTuple

import jax
import numpy as np
from jax.extend import core as jax_core

from jnn import _checks

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


def choose(fuse_steps: int, step, state, plan, per_step: bool) -> Choice:
    """Steps per dispatch for a run: `fuse_steps` as set, or "auto" for 0.

    Args:
      fuse_steps: The setting: K > 0 as given, 0 for the rule above.
      step: The task's jitted step; `state`: its state (fresh or restored).
      plan: The task's `loop.Plan`.
      per_step: Whether a callback wants every step (`on_step`).

    Raises:
      ValueError: if `fuse_steps` is negative.
    """
    check(fuse_steps)
    if fuse_steps:
        return Choice(fuse_steps, "as set")
    if per_step:
        return Choice(1, "auto: a callback sees every step")
    batch = _one_batch(plan)
    jaxpr = jax.make_jaxpr(step)(state, batch).jaxpr
    flops, convolves = _work(jaxpr)
    platform = jax.default_backend()
    if convolves and platform == "cpu":
        return Choice(1, "auto: convolutions run slower in a loop on a CPU")
    rate = NOMINAL_FLOPS.get(platform, ACCELERATOR_FLOPS)
    by_time = math.floor(DISPATCH_SECONDS * rate / flops) if flops else math.inf
    stacked = 0 if plan.shared else _nbytes(batch)  # a shared batch goes once
    by_bytes = DISPATCH_BYTES // stacked if stacked else math.inf
    epoch = plan.num_batches(0)
    steps = _dividing(epoch, int(max(1, min(epoch, by_time, by_bytes))))
    if steps == epoch:
        return Choice(steps, "auto: the whole epoch")
    return Choice(steps, f"auto: the epoch in {-(-epoch // steps)} dispatches")


def _dividing(epoch: int, cap: int) -> int:
    """At most `cap` steps, a divisor of the epoch if one above cap / 2 is:
    the epoch's dispatches then compile one program, not two."""
    for steps in range(cap, cap // 2, -1):
        if epoch % steps == 0:
            return steps
    return cap


def check(fuse_steps: int) -> None:
    """Raise unless `fuse_steps` is an int >= 0 (0: auto).

    Raises:
      ValueError: if it is negative. TypeError: if it is not an int.
    """
    _checks.non_negative_int("run", "fuse_steps", fuse_steps)


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
