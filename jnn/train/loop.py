"""The host loop: epochs of shuffled batches -> jitted step -> validation -> log.

It holds no model logic: the step and evaluation are pure jitted functions
passed in, and this module only moves data, keeps history and decides when to
stop. Each phase is a small helper so research code can reuse them.

Everything the loop remembers between steps is a `Position` (epoch, batch,
running train-metric sums, history, early-stopping monitor, best params).
Together with the `TrainState` it is the whole run: `fit` checkpoints both and
a run resumed from them continues bitwise like an uninterrupted one, because
each epoch's data order is a function of (seed, epoch) alone.
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.train import batches, early_stopping, numerics, progress
from jnn.train.state import TrainState


class LoopOptions(NamedTuple):
    epochs: int
    batch_size: int  # already resolved (no 0)
    ragged: str  # "pad" | "drop"
    eval_batch_size: int
    seed: int
    early_stopping: object | None  # EarlyStoppingConfig, or None when disabled
    schedule: Callable[[int], float] | None = None  # step -> lr, for the log
    on_nonfinite: str = "stop"  # "stop" raises, "skip" counts (numerics.py)


class Position(NamedTuple):
    """Where the host loop stands: with the `TrainState`, a resumable run."""

    epoch: int = 0  # 0-based epoch in progress
    batch: int = 0  # batches of `epoch` already stepped
    totals: dict | None = None  # example-weighted train-metric sums this epoch
    count: float = 0.0  # examples behind `totals`
    skipped: int = 0  # non-finite updates skipped this epoch
    history: tuple = ()  # records of the finished epochs
    monitor: early_stopping.Monitor | None = None  # None without early stopping
    best: tuple | None = None  # (params, state) copied at the best epoch
    done: bool = False  # all epochs run, or stopped early
    pending: tuple | None = None  # the last step, not yet read back (`settle`)


class LoopResult(NamedTuple):
    train_state: TrainState  # final state (best params if restored)
    history: list[dict]  # one dict of metrics per epoch
    best_epoch: int  # epoch of the monitored best (-1 without early stopping)
    stopped_early: bool
    position: Position | None = None  # the final position (for the checkpoint)


def evaluate(eval_step, params, state, x: np.ndarray, y: np.ndarray, batch_size: int):
    """Run a jitted `eval_step` over a whole split; return exact metric means."""
    if len(x) == 0:
        return {}
    totals = None
    for batch in batches.eval_batches(x, y, batch_size):
        sums = eval_step(params, state, batch)
        totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    count = float(totals.pop("count"))
    return {name: float(value) / count for name, value in totals.items()}


@jax.jit
def _add_weighted(totals: dict, logs: dict, weight) -> dict:
    # One fused dispatch per step: eager per-metric ops cost more than the step.
    return jax.tree.map(lambda t, v: t + v * weight, totals, logs)


def _fold(pos: Position, logs: dict, weight: float) -> Position:
    """Add one step's example-weighted metrics to the epoch's device sums."""
    totals = pos.totals
    if totals is None:
        totals = jax.tree.map(jnp.zeros_like, logs)
    totals = _add_weighted(totals, logs, weight)
    return pos._replace(totals=totals, count=pos.count + weight)


def settle(pos: Position, params, mode: str) -> Position:
    """Read back the pending step: stop on, or count, a non-finite one; else fold it.

    The loop settles each step only after queueing the next one, so reading
    its `nonfinite` code never stalls the device; a checkpoint settles first,
    so no saved position hides an unread step.

    Raises:
      NonFiniteError: if the pending step was not finite and `mode` is "stop".
    """
    if pos.pending is None:
        return pos
    index, code, weight, logs = pos.pending
    pos = pos._replace(pending=None)
    if code is not None and int(code) >= 0:
        if mode == "stop":
            raise numerics.error(int(code), index, params)
        return pos._replace(skipped=pos.skipped + 1)
    return _fold(pos, logs, weight)


def run_epoch(
    step,
    ts: TrainState,
    x,
    y,
    options: LoopOptions,
    pos: Position,
    *,
    on_step: Callable[[TrainState, Position], None] | None = None,
    on_batch: Callable[[progress.BatchEnd], None] | None = None,
) -> tuple[TrainState, Position]:
    """Step through the rest of epoch `pos.epoch`, from batch `pos.batch` on.

    `on_step(ts, pos)` runs after every batch but the epoch's last (whose
    position is only complete after validation; `train` calls it then); its
    `pos` still holds the step just taken as `pending`: `settle` it before
    saving.
    `on_batch`, if given, gets a `progress.BatchEnd` after every batch (e.g.
    `progress.bar`); it receives device sums, so it decides when to sync.
    """
    total = batches.num_batches(len(x), options.batch_size, options.ragged)
    stream = batches.epoch_batches(
        x, y, options.batch_size, options.ragged, options.seed, pos.epoch, pos.batch
    )
    index = int(ts.step)  # one read per epoch; then counted on the host
    for batch in stream:
        ts, logs = step(ts, batch)
        code = logs.pop("nonfinite", None)
        pos = settle(pos, ts.params, options.on_nonfinite)  # the step before
        weight = float(batch.mask.sum())  # host value: no device sync needed
        pos = pos._replace(batch=pos.batch + 1, pending=(index, code, weight, logs))
        index += 1
        if pos.batch == total:  # the epoch ends with a sync anyway: exact sums
            pos = settle(pos, ts.params, options.on_nonfinite)
        if on_batch is not None:
            on_batch(
                progress.BatchEnd(pos.epoch, pos.batch, total, pos.count, pos.totals)
            )
        if on_step is not None and pos.batch < total:
            on_step(ts, pos)
    return ts, pos


def _copy(tree):
    # The step donates its input buffers, so a kept "best" must be a copy.
    return jax.tree.map(jnp.copy, tree)


def _record(ts: TrainState, pos: Position, eval_split, options: LoopOptions) -> dict:
    """The epoch's log record: train means, validation metrics, lr, skips."""
    record = {"epoch": pos.epoch + 1, "step": int(ts.step)}
    if pos.totals is not None:
        record |= {f"train_{k}": float(v) / pos.count for k, v in pos.totals.items()}
    val = eval_split(ts.params, ts.state, "val")
    record |= {f"val_{k}": v for k, v in val.items()}
    if options.schedule is not None:
        record["lr"] = float(options.schedule(int(ts.step) - 1))  # lr of last step
    if options.on_nonfinite == "skip":
        record["skipped_steps"] = pos.skipped
    return record


def _end_epoch(ts: TrainState, pos: Position, record: dict, options: LoopOptions):
    """The position after epoch `pos.epoch`: history, monitor, best, done."""
    es, monitor, best = options.early_stopping, pos.monitor, pos.best
    stop = False
    if es:
        mode = early_stopping.resolve_mode(es.monitor, es.mode)
        value = _monitored(record, es.monitor)
        monitor, improved = early_stopping.update(
            monitor, value, pos.epoch, mode=mode, min_delta=es.min_delta
        )
        if improved and es.restore_best:
            best = _copy((ts.params, ts.state))
        stop = early_stopping.should_stop(monitor, es.patience)
    done = stop or pos.epoch + 1 >= options.epochs
    history = (*pos.history, record)
    return Position(
        pos.epoch + 1, history=history, monitor=monitor, best=best, done=done
    )


def start(options: LoopOptions) -> Position:
    """The position of a fresh run."""
    es = options.early_stopping
    if not es:
        return Position()
    return Position(
        monitor=early_stopping.start(early_stopping.resolve_mode(es.monitor, es.mode))
    )


def train(
    ts: TrainState,
    step: Callable,
    eval_split: Callable[[object, object, str], dict],
    train_data: tuple[np.ndarray, np.ndarray],
    options: LoopOptions,
    on_epoch: Callable[[dict, TrainState], None] = lambda record, ts: None,
    on_batch: Callable[[progress.BatchEnd], None] | None = None,
    *,
    on_step: Callable[[TrainState, Position], None] | None = None,
    position: Position | None = None,
) -> LoopResult:
    """Train for `options.epochs` epochs, validating after each one.

    Args:
      ts: The initial (or restored) `TrainState`.
      step: The jitted train step `step(ts, batch) -> (ts, metrics)`.
      eval_split: `eval_split(params, state, split_name) -> metrics` ("val").
      train_data: Host arrays `(x, y)` of the training split.
      options: Loop settings (see `LoopOptions`).
      on_epoch: Called with each epoch's record and state (logging).
      on_batch: Called after every training batch (a progress bar), or None.
      on_step: `on_step(ts, position)` after every step at a resumable
        position (mid-epoch, and after each epoch's validation): checkpoints
        and pre-emption live there. It may raise to stop the run.
      position: Where to continue (a restored `Position`); None starts fresh.

    Raises:
      NonFiniteError: if a step's loss or gradient is not finite and
        `options.on_nonfinite` is "stop". It is raised when the next step has
        been queued (see `settle`); no update from the bad step is applied.
    """
    pos = position if position is not None else start(options)
    while not pos.done:
        began = time.perf_counter()
        ts, pos = run_epoch(
            step, ts, *train_data, options, pos, on_step=on_step, on_batch=on_batch
        )
        record = _record(ts, pos, eval_split, options)
        record["time_s"] = time.perf_counter() - began
        pos = _end_epoch(ts, pos, record, options)
        on_epoch(record, ts)
        if on_step is not None:
            on_step(ts, pos)
    return finish(ts, pos, options)


def finish(ts: TrainState, pos: Position, options: LoopOptions) -> LoopResult:
    """The result of a finished run: best params swapped in if kept."""
    if pos.best is not None:
        ts = ts._replace(params=pos.best[0], state=pos.best[1])
    es = options.early_stopping
    best_epoch = pos.monitor.best_epoch + 1 if es else -1
    stopped = bool(es) and len(pos.history) < options.epochs
    return LoopResult(ts, list(pos.history), best_epoch, stopped, pos)


def _monitored(record: dict, name: str) -> float:
    if name not in record:
        valid = sorted(k for k in record if k not in ("epoch", "step", "time_s"))
        raise _checks.value_error(
            "early_stopping",
            f"`early_stopping.monitor` to be one of {valid}",
            repr(name),
            _checks.did_you_mean(name, valid),
        )
    return record[name]
