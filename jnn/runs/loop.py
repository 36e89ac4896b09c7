"""The host loop of every run: epochs of batches -> fused jitted step -> record.

It holds no task logic. A task describes its epochs with a `Plan` (how many,
their batches, the examples behind one batch) and hands in a jitted step and
a `validate` function; this module moves data, folds the step's metrics,
keeps history and asks the callbacks whether to stop.

Everything the loop remembers between steps is a `Position` (epoch, batch,
running train-metric sums, history, the kept best snapshot). Together with
the task's state it is the whole run: the engine checkpoints both, and a run
resumed from them continues bitwise like an uninterrupted one, because each
epoch's batches are a function of (seed, epoch) alone.
"""

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn.runs import dispatch, prefetch, progress
from jnn.runs.callbacks import Callback, EpochEnd, StepEnd
from jnn.runs.mesh import ONE_DEVICE, Placement
from jnn.train import numerics


class Plan(NamedTuple):
    """A task's epochs, as the loop sees them.

    Attributes:
      epochs: Number of epochs (a GAN's "epoch" is one evaluation period).
      num_batches: `num_batches(epoch)`: steps in that epoch.
      batches: `batches(epoch, start)`: the epoch's batches from `start` on,
        the same for the same (seed, epoch), so a resumed epoch replays them.
      weight: `weight(batch)`: examples behind a batch, traced inside the
        step's jit (a padding mask's sum; 1 for a GAN step).
      source: Data placed on the device once (e.g. a training split that
        fits there), passed to every dispatch; None: batches are the data.
      gather: With a `source`, `gather(source, batch)` turns what `batches`
        yields (e.g. row indices and a mask) into the step's batch inside
        the jitted step, so only indices cross to the device.
      shared: Whether every step takes the same batch, e.g. a GAN's device
        data, from which each step draws its own batch: a fused dispatch
        then passes it once to its K steps instead of stacking K copies.
    """

    epochs: int
    num_batches: Callable[[int], int]
    batches: Callable[[int, int], Iterable]
    weight: Callable[[Any], jax.Array]
    source: Any = None  # arrays on the device the batches index into, or None
    gather: Callable[[Any, Any], Any] | None = None  # gather(source, batch)
    shared: bool = False  # every step takes the same batch (not stacked)


class Position(NamedTuple):
    """Where the host loop stands: with the task's state, a resumable run."""

    epoch: int = 0  # 0-based epoch in progress
    batch: int = 0  # batches of `epoch` already stepped
    totals: dict | None = None  # example-weighted train-metric sums this epoch
    count: float = 0.0  # examples behind `totals` (a device scalar mid-epoch)
    skipped: int = 0  # non-finite updates skipped this epoch (likewise)
    history: tuple = ()  # records of the finished epochs
    best: dict | None = None  # {"params", "state"} kept by a callback
    best_epoch: int = -1  # 0-based epoch a callback last called best, or -1
    done: bool = False  # all epochs run, or a callback stopped the run
    bad: object = None  # device [update index, code] of the first non-finite
    # step this epoch, [-1, -1] if none; read back by `settle`


class Result(NamedTuple):
    state: Any  # final task state (the kept best params swapped in, if any)
    history: list[dict]  # one record per epoch
    best_epoch: int  # 1-based epoch a callback called best, -1 if none
    stopped_early: bool  # a callback ended the run before its last epoch
    position: Position  # the final position (for the final checkpoint)


# How often (in steps) "stop" mode reads back the non-finite flag mid-epoch.
# Each read waits for the device, so it is not done on every step; the flag
# keeps the first bad step, and no update from it is ever applied.
CHECK_EVERY = 32


def settle(pos: Position, params, mode: str) -> Position:
    """Read back the epoch's non-finite flag; in "stop" mode, raise if set.

    The engine settles before every checkpoint, so no saved position hides
    an unread non-finite step. `params` is the tree the step's code indexes
    (see `jnn.train.numerics.describe`). Returns `pos` unchanged.

    Raises:
      NonFiniteError: if a step was not finite and `mode` is "stop".
    """
    if mode == "stop" and pos.bad is not None:
        index, code = (int(v) for v in np.asarray(pos.bad))
        if index >= 0:
            raise numerics.error(code, index, params)
    return pos


class Hooks(NamedTuple):
    """What the engine plugs into the loop (all optional)."""

    on_step: Callable[[Any, Position], None] | None = None  # resumable points
    on_batch: Callable[[progress.BatchEnd], None] | None = None  # progress bar
    on_phase: Callable[[progress.Phase], None] | None = None  # epoch, compile, ...
    callbacks: Sequence[Callback] = ()  # research code's hooks, early stopping
    params_of: Callable[[Any], Any] = lambda state: state.params  # for errors
    on_nonfinite: str = "stop"  # "stop" raises, "skip" counts (numerics.py)
    placement: Placement = ONE_DEVICE  # devices; batches are split over them
    fuse_steps: int = 1  # steps per dispatch (`jnn.runs.dispatch`); 1 = per step
    save_every: int = 0  # a fused dispatch ends at steps this divides (0: none)
    prefetch_depth: int | None = None  # dispatches placed ahead, made on a thread
    # (0: none, no thread); None: `prefetch.default_depth()`


def _phase(hooks: Hooks, name: str, epoch: int, begun: bool) -> None:
    if hooks.on_phase is not None:
        hooks.on_phase(progress.Phase(name, epoch, begun))


def run_epoch(
    step,
    state,
    plan: Plan,
    pos: Position,
    hooks: Hooks | None = None,
    *,
    compiling: bool = False,
):
    """Step through the rest of epoch `pos.epoch`, from batch `pos.batch` on.

    `state` is consumed (donated), whether or not `step` itself donates.
    `hooks.on_step(state, pos)` runs after every dispatch but the epoch's
    last (whose position is only complete after validation; `train` calls
    it then); `settle` its `pos` before saving it. `hooks.on_batch` gets a
    `progress.BatchEnd` after every dispatch with device sums, so it decides
    when to sync. Callbacks' `on_step` get each step's (device) metrics.
    `hooks.on_phase` hears the epoch begin and end and, if `compiling` (the
    run's first step, which compiles), the "compile" phase around it.

    With `hooks.fuse_steps` = K > 1 (and no callback's `on_step`), K steps
    go in one dispatch (`jnn.runs.dispatch`), the state bitwise that of the
    per-step loop on a CPU where the step has no convolution
    (`jnn.runs.fusing`). A dispatch ends after every K batches of the epoch, at
    its end, and where the run's step count is a multiple of
    `hooks.save_every` (a checkpoint is due there).

    On an accelerator, the batches are made on a thread and placed
    `hooks.prefetch_depth` dispatches ahead (`jnn.runs.prefetch`), the state
    bitwise the same; an exception out of a hook ends the thread and drops
    what it made ahead.
    """
    hooks = hooks or Hooks()
    _phase(hooks, "epoch", pos.epoch, True)
    total = plan.num_batches(pos.epoch)
    on_steps = [c.on_step for c in hooks.callbacks if c.on_step is not None]
    fuse = 1 if on_steps else hooks.fuse_steps
    every = hooks.save_every if fuse > 1 else 0
    at = (pos.batch, int(state.step) if every else 0)  # a sync per epoch, if any
    sums = None
    feed = _feed(plan, pos, hooks, at, fuse, every)
    with contextlib.closing(feed):  # a stop mid-epoch ends the prefetch thread
        for size, batch in feed:
            if compiling:  # the first call traces and compiles before it returns
                _phase(hooks, "compile", pos.epoch, True)
            if sums is None:
                sums = dispatch.start(step, plan, fuse, state, batch, pos)
            fused = size if fuse > 1 else 0
            state, sums, logs = dispatch.dispatch(
                step, plan, hooks.placement, bool(on_steps), fused, state, batch, sums
            )
            if compiling:
                _phase(hooks, "compile", pos.epoch, False)
                compiling = False
            before, pos = (
                pos.batch,
                pos._replace(batch=pos.batch + size, **sums._asdict()),
            )
            if pos.batch // CHECK_EVERY > before // CHECK_EVERY or pos.batch == total:
                settle(pos, hooks.params_of(state), hooks.on_nonfinite)
            for on_step in on_steps:
                on_step(StepEnd(pos.epoch, pos.batch, state, logs))
            if hooks.on_batch is not None:
                end = progress.BatchEnd(
                    pos.epoch, pos.batch, total, pos.count, pos.totals
                )
                hooks.on_batch(end)
            if hooks.on_step is not None and pos.batch < total:
                hooks.on_step(state, pos)
    _phase(hooks, "epoch", pos.epoch, False)
    return state, pos


def _ends(at: tuple[int, int], fuse: int, every: int) -> Iterator[bool]:
    """Whether a dispatch ends after each batch from `at` = (batch, step) on:
    after every `fuse` batches of the epoch and where the run's step count
    is a multiple of `every` (0: nowhere). Epochs of a multiple of `fuse`
    batches compile one fused program."""
    batch_at, step_at = at
    while True:
        batch_at, step_at = batch_at + 1, step_at + 1
        yield batch_at % fuse == 0 or bool(every and step_at % every == 0)


def _chunks(batches: Iterable, at: tuple[int, int], fuse: int, every: int):
    """The epoch's batches in lists, one per dispatch (see `_ends`)."""
    chunk = []
    for batch, end in zip(batches, _ends(at, fuse, every), strict=False):
        chunk.append(batch)
        if end:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _slices(count: int, at: tuple[int, int], fuse: int, every: int):
    """`_chunks` of `count` batches as (first, end) index pairs."""
    first = 0
    for end, last in zip(range(1, count + 1), _ends(at, fuse, every), strict=False):
        if last or end == count:
            yield first, end
            first = end


def _feed(plan: Plan, pos: Position, hooks: Hooks, at, fuse: int, every: int):
    """The epoch's dispatches as (batches, placed batch or K stacked), made
    on a thread and placed `hooks.prefetch_depth` ahead (`jnn.runs.prefetch`).
    Batches that come stacked already (`batches.EpochRows`) are sliced."""
    batches = plan.batches(pos.epoch, pos.batch)

    def host(items):  # on the prefetch thread: gather, group, stack
        if fuse > 1 and hasattr(batches, "stacked"):
            for first, end in _slices(len(batches), at, fuse, every):
                yield end - first, batches.stacked(first, end)
            return
        for chunk in _chunks(items, at, fuse, every):
            if fuse == 1 or plan.shared:
                yield len(chunk), chunk[0]
            else:
                yield len(chunk), jax.tree.map(lambda *b: np.stack(b), *chunk)

    place = prefetch.placer(hooks.placement, stacked=fuse > 1 and not plan.shared)
    depth = hooks.prefetch_depth
    depth = prefetch.default_depth() if depth is None else depth

    def put(item):  # on this thread, `depth` dispatches ahead
        size, tree = item
        return size, place(tree)

    return prefetch.prefetch(
        batches, put, depth=depth, thread=depth > 0, start=pos.batch, host=host
    )


def _record(state, pos: Position, validate, schedule, hooks: Hooks) -> dict:
    """The epoch's log record: train means, validation entries, lr, skips."""
    record = {"epoch": pos.epoch + 1, "step": int(state.step)}
    count = float(pos.count)
    if pos.totals is not None and count > 0:  # 0: every update was skipped
        record |= {f"train_{k}": float(v) / count for k, v in pos.totals.items()}
    _phase(hooks, "validate", pos.epoch, True)
    record |= validate(state)
    _phase(hooks, "validate", pos.epoch, False)
    if schedule is not None:
        record["lr"] = float(schedule(int(state.step) - 1))  # lr of the last step
    if hooks.on_nonfinite == "skip":
        record["skipped_steps"] = int(pos.skipped)
    return record


def _end_epoch(state, pos: Position, record: dict, plan: Plan, hooks: Hooks):
    """The position after epoch `pos.epoch`: history, best snapshot, done."""
    history = (*pos.history, record)
    info = EpochEnd(pos.epoch, record, history, state)
    decisions = [c.on_epoch(info) for c in hooks.callbacks if c.on_epoch]
    decisions = [d for d in decisions if d is not None]
    best, best_epoch = pos.best, pos.best_epoch
    if any(d.improved for d in decisions):
        best_epoch = pos.epoch
    if any(d.keep for d in decisions):
        # The step donates its input buffers, so a kept snapshot is a copy.
        best = jax.tree.map(jnp.copy, {"params": state.params, "state": state.state})
    stop = any(d.stop for d in decisions)
    done = stop or pos.epoch + 1 >= plan.epochs
    return Position(
        pos.epoch + 1, history=history, best=best, best_epoch=best_epoch, done=done
    )


def train(
    state,
    step: Callable,
    plan: Plan,
    validate: Callable[[Any], dict],
    *,
    schedule: Callable[[int], float] | None = None,
    hooks: Hooks | None = None,
    position: Position | None = None,
    on_epoch: Callable[[dict, Any], None] = lambda record, state: None,
) -> Result:
    """Train through `plan`, validating after each epoch.

    Args:
      state: The initial (or restored) task state, a NamedTuple with a
        `step` counter; consumed: its buffers are donated to the first step.
      step: The jitted step `step(state, batch) -> (state, metrics)`; a
        `nonfinite` metric (see `jnn.train.step`) is read by the guard.
      plan: The task's epochs (see `Plan`).
      validate: `validate(state) -> dict` of entries added to each epoch's
        record, e.g. {"val_loss": ...}.
      schedule: `step -> learning rate`, logged as `lr`; None logs none.
      hooks: The engine's per-step hooks and the callbacks (see `Hooks`).
      position: Where to continue (a restored `Position`); None starts fresh.
      on_epoch: Called with each record and state once the epoch is settled.

    Raises:
      NonFiniteError: if a step's loss or gradient is not finite and
        `hooks.on_nonfinite` is "stop", within `CHECK_EVERY` steps of it or
        at the epoch's end (see `settle`); no update from it is ever applied.
    """
    hooks = hooks or Hooks()
    pos = position if position is not None else Position()
    compiling = True  # the run's first step compiles (a resumed run's too)
    while not pos.done:
        began = time.perf_counter()
        state, pos = run_epoch(step, state, plan, pos, hooks, compiling=compiling)
        compiling = False
        record = _record(state, pos, validate, schedule, hooks)
        record["time_s"] = time.perf_counter() - began
        pos = _end_epoch(state, pos, record, plan, hooks)
        on_epoch(record, state)
        if hooks.on_step is not None:
            hooks.on_step(state, pos)
    return finish(state, pos, plan)


def finish(state, pos: Position, plan: Plan) -> Result:
    """The result of a finished run: the kept best params swapped in."""
    if pos.best is not None:
        state = state._replace(**pos.best)
    stopped = len(pos.history) < plan.epochs
    best_epoch = pos.best_epoch + 1 if pos.best_epoch >= 0 else -1
    return Result(state, list(pos.history), best_epoch, stopped, pos)
