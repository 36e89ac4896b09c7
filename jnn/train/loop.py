"""The host loop: epochs of shuffled batches -> jitted step -> validation -> log.

It holds no model logic: the step and evaluation are pure jitted functions
passed in, and this module only moves data, keeps history and decides when to
stop. Each phase is a small helper so research code can reuse them.
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _checks
from jnn.train import batches, early_stopping
from jnn.train.state import TrainState


class LoopOptions(NamedTuple):
    epochs: int
    batch_size: int  # already resolved (no 0)
    ragged: str  # "pad" | "drop"
    eval_batch_size: int
    seed: int
    early_stopping: object | None  # EarlyStoppingConfig, or None when disabled
    schedule: Callable[[int], float] | None = None  # step -> lr, for the log


class LoopResult(NamedTuple):
    train_state: TrainState  # final state (best params if restored)
    history: list[dict]  # one dict of metrics per epoch
    best_epoch: int  # epoch of the monitored best (-1 without early stopping)
    stopped_early: bool


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


def run_epoch(step, ts: TrainState, x, y, options: LoopOptions, epoch: int):
    """One pass over the training split; returns (state, mean train metrics)."""
    totals, count = None, 0.0
    for batch in batches.epoch_batches(
        x, y, options.batch_size, options.ragged, options.seed, epoch
    ):
        ts, logs = step(ts, batch)
        weight = float(batch.mask.sum())  # host value: no device sync needed
        logs = jax.tree.map(lambda v, w=weight: v * w, logs)
        totals = logs if totals is None else jax.tree.map(jnp.add, totals, logs)
        count += weight
    return ts, {name: float(v) / count for name, v in totals.items()}


def _copy(tree):
    # The step donates its input buffers, so a kept "best" must be a copy.
    return jax.tree.map(jnp.copy, tree)


def train(
    ts: TrainState,
    step: Callable,
    eval_split: Callable[[object, object, str], dict],
    train_data: tuple[np.ndarray, np.ndarray],
    options: LoopOptions,
    on_epoch: Callable[[dict, TrainState], None] = lambda record, ts: None,
) -> LoopResult:
    """Train for `options.epochs` epochs, validating after each one.

    Args:
      ts: The initial `TrainState`.
      step: The jitted train step `step(ts, batch) -> (ts, metrics)`.
      eval_split: `eval_split(params, state, split_name) -> metrics` ("val").
      train_data: Host arrays `(x, y)` of the training split.
      options: Loop settings (see `LoopOptions`).
      on_epoch: Called with each epoch's record and state (logging, saving).
    """
    es = options.early_stopping
    mode = early_stopping.resolve_mode(es.monitor, es.mode) if es else "min"
    monitor, best, history = early_stopping.start(mode), None, []
    for epoch in range(options.epochs):
        start = time.perf_counter()
        ts, train_metrics = run_epoch(step, ts, *train_data, options, epoch)
        record = {"epoch": epoch + 1, "step": int(ts.step)}
        record |= {f"train_{k}": v for k, v in train_metrics.items()}
        record |= {
            f"val_{k}": v for k, v in eval_split(ts.params, ts.state, "val").items()
        }
        if options.schedule is not None:
            record["lr"] = float(options.schedule(int(ts.step) - 1))  # lr of last step
        record["time_s"] = time.perf_counter() - start
        history.append(record)
        if es:
            value = _monitored(record, es.monitor)
            monitor, improved = early_stopping.update(
                monitor, value, epoch, mode=mode, min_delta=es.min_delta
            )
            if improved and es.restore_best:
                best = _copy((ts.params, ts.state))
        on_epoch(record, ts)
        if es and early_stopping.should_stop(monitor, es.patience):
            break
    stopped = bool(es) and len(history) < options.epochs
    if best is not None:
        ts = ts._replace(params=best[0], state=best[1])
    return LoopResult(ts, history, monitor.best_epoch + 1 if es else -1, stopped)


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
