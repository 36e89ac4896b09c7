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

import functools
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.runs import progress
from jnn.train import batches, early_stopping, numerics
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
    count: float = 0.0  # examples behind `totals` (a device scalar mid-epoch)
    skipped: int = 0  # non-finite updates skipped this epoch (likewise)
    history: tuple = ()  # records of the finished epochs
    monitor: early_stopping.Monitor | None = None  # None without early stopping
    best: tuple | None = None  # (params, state) copied at the best epoch
    done: bool = False  # all epochs run, or stopped early
    bad: object = None  # device [update index, code] of the first non-finite
    # step this epoch, [-1, -1] if none; read back by `settle`


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


# How often (in steps) "stop" mode reads back the non-finite flag mid-epoch.
# Each read waits for the device, so it is not done on every step; the flag
# keeps the first bad step, and no update from it is ever applied.
CHECK_EVERY = 32


class _Sums(NamedTuple):
    """The epoch's running sums, on the device (see `_step_and_fold`)."""

    totals: dict
    count: jax.Array
    skipped: jax.Array
    bad: jax.Array


@functools.partial(jax.jit, static_argnums=0, donate_argnums=1)
def _step_and_fold(step, ts: TrainState, batch, sums: _Sums):
    """One step and its metrics folded into the sums: a single dispatch.

    A separate host-side fold per step costs more than a small model's step.
    A step flagged non-finite (`nonfinite` >= 0) is left out of the sums and
    counted; the first one's update index and code are kept in `bad`.
    """
    index = ts.step
    ts, logs = step(ts, batch)
    code = logs.pop("nonfinite", jnp.int32(-1))
    ok = code < 0
    weight = jnp.sum(batch.mask)
    totals = jax.tree.map(
        lambda t, v: t + jnp.where(ok, v * weight, 0.0), sums.totals, logs
    )
    first = jnp.stack([index, code]).astype(jnp.int32)
    bad = jnp.where((sums.bad[0] < 0) & ~ok, first, sums.bad)
    count = sums.count + jnp.where(ok, weight, 0.0)
    return ts, _Sums(totals, count, sums.skipped + (~ok).astype(jnp.int32), bad)


def _start_sums(step, ts: TrainState, batch, pos: Position) -> _Sums:
    """Device sums to continue `pos` from: zeros, or a resumed epoch's sums."""
    totals = pos.totals
    if totals is None:
        _, logs = jax.eval_shape(step, ts, batch)
        logs.pop("nonfinite", None)
        totals = {k: jnp.zeros(v.shape, v.dtype) for k, v in logs.items()}
    return _Sums(
        totals,
        jnp.asarray(pos.count, jnp.float32),
        jnp.asarray(pos.skipped, jnp.int32),
        jnp.full((2,), -1, jnp.int32) if pos.bad is None else pos.bad,
    )


def settle(pos: Position, params, mode: str) -> Position:
    """Read back the epoch's non-finite flag; in "stop" mode, raise if set.

    `fit` settles before every checkpoint, so no saved position hides an
    unread non-finite step. Returns `pos` unchanged.

    Raises:
      NonFiniteError: if a step was not finite and `mode` is "stop".
    """
    if mode == "stop" and pos.bad is not None:
        index, code = (int(v) for v in np.asarray(pos.bad))
        if index >= 0:
            raise numerics.error(code, index, params)
    return pos


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

    `ts` is consumed (donated), whether or not `step` itself donates.

    `on_step(ts, pos)` runs after every batch but the epoch's last (whose
    position is only complete after validation; `train` calls it then);
    `settle` its `pos` before saving it.
    `on_batch`, if given, gets a `progress.BatchEnd` after every batch (e.g.
    `progress.bar`); it receives device sums, so it decides when to sync.
    """
    total = batches.num_batches(len(x), options.batch_size, options.ragged)
    stream = batches.epoch_batches(
        x, y, options.batch_size, options.ragged, options.seed, pos.epoch, pos.batch
    )
    sums = None
    for batch in stream:
        if sums is None:
            sums = _start_sums(step, ts, batch, pos)
        ts, sums = _step_and_fold(step, ts, batch, sums)
        pos = pos._replace(batch=pos.batch + 1, **sums._asdict())
        if pos.batch % CHECK_EVERY == 0 or pos.batch == total:
            settle(pos, ts.params, options.on_nonfinite)
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
    count = float(pos.count)
    if pos.totals is not None and count > 0:  # 0: every update was skipped
        record |= {f"train_{k}": float(v) / count for k, v in pos.totals.items()}
    val = eval_split(ts.params, ts.state, "val")
    record |= {f"val_{k}": v for k, v in val.items()}
    if options.schedule is not None:
        record["lr"] = float(options.schedule(int(ts.step) - 1))  # lr of last step
    if options.on_nonfinite == "skip":
        record["skipped_steps"] = int(pos.skipped)
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
      ts: The initial (or restored) `TrainState`; consumed: its buffers are
        donated to the first step (copy anything you still need).
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
        `options.on_nonfinite` is "stop", within `CHECK_EVERY` steps of it or
        at the epoch's end (see `settle`); no update from it is ever applied.
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
