"""Early stopping: a run-engine callback, folded from the record history.

The monitor (best value, its epoch, epochs without improvement) is a pure
fold over the epoch records, recomputed at every epoch: nothing to save, so
a resumed run stops exactly where an uninterrupted one would.
"""

import math
from typing import NamedTuple

from jnn import _checks
from jnn.runs.callbacks import Callback, Decision, EpochEnd

MODES = ("auto", "min", "max")  # auto: max for accuracies, else min


class Monitor(NamedTuple):
    """What early stopping remembers between epochs."""

    best: float  # best monitored value so far (inf / -inf before the first)
    best_epoch: int  # epoch of `best` (-1 before the first)
    bad_epochs: int  # consecutive epochs without improvement


def resolve_mode(monitor: str, mode: str) -> str:
    """Return "min" or "max": `auto` maximises accuracies and minimises the rest."""
    _checks.one_of("early_stopping", "early_stopping.mode", mode, MODES)
    if mode != "auto":
        return mode
    return "max" if "accuracy" in monitor else "min"


def start(mode: str) -> Monitor:
    """The monitor before any epoch."""
    return Monitor(math.inf if mode == "min" else -math.inf, -1, 0)


def update(
    monitor: Monitor, value: float, epoch: int, *, mode: str, min_delta: float
) -> tuple[Monitor, bool]:
    """Record one epoch's value; return (new monitor, whether it improved).

    An improvement must beat the best by more than `min_delta`.

    Example:
      >>> m = start("min")
      >>> m, better = update(m, 0.5, 0, mode="min", min_delta=0.1)
      >>> m, better = update(m, 0.45, 1, mode="min", min_delta=0.1)
      >>> better, m.best, m.bad_epochs
      (False, 0.5, 1)
    """
    if not math.isfinite(value):
        return monitor._replace(bad_epochs=monitor.bad_epochs + 1), False
    gain = monitor.best - value if mode == "min" else value - monitor.best
    if gain > min_delta:
        return Monitor(value, epoch, 0), True
    return monitor._replace(bad_epochs=monitor.bad_epochs + 1), False


def should_stop(monitor: Monitor, patience: int) -> bool:
    """True once `patience` epochs in a row brought no improvement (0: the first)."""
    return monitor.bad_epochs > 0 and monitor.bad_epochs >= patience


def monitored(record: dict, name: str) -> float:
    """The value of `name` in an epoch record.

    Raises:
      ValueError: if the record has no such entry, listing those it has.
    """
    if name not in record:
        valid = sorted(k for k in record if k not in ("epoch", "step", "time_s"))
        raise _checks.value_error(
            "early_stopping",
            f"`early_stopping.monitor` to be one of {valid}",
            repr(name),
            _checks.did_you_mean(name, valid),
        )
    return record[name]


def fold(history, monitor: str, mode: str, min_delta: float) -> tuple[Monitor, bool]:
    """The monitor after every record of `history`, and whether the last improved."""
    state, improved = start(mode), False
    for epoch, record in enumerate(history):
        value = monitored(record, monitor)
        state, improved = update(state, value, epoch, mode=mode, min_delta=min_delta)
    return state, improved


def callback(
    monitor: str = "val_loss",
    *,
    mode: str = "auto",
    patience: int = 10,
    min_delta: float = 0.0,
    restore_best: bool = True,
) -> Callback:
    """Stop when `monitor` has not improved for `patience` epochs.

    Args:
      monitor: A record entry, e.g. "val_loss" or "val_accuracy".
      mode: "min", "max" or "auto" (max for accuracies, else min).
      patience: Epochs without improvement before stopping (0: stop at the
        first epoch that does not improve).
      min_delta: Smallest change that counts as an improvement.
      restore_best: End the run with the best epoch's params and state.

    Raises:
      ValueError: if `mode` is unknown, or (at the first epoch) the record
        has no entry `monitor`.

    Example:
      >>> cb = callback("val_loss", patience=1)
      >>> history = ({"val_loss": 1.0}, {"val_loss": 2.0})
      >>> cb.on_epoch(EpochEnd(1, history[-1], history, None))
      Decision(stop=True, improved=False, keep=False)
    """
    resolved = resolve_mode(monitor, mode)
    _checks.non_negative_int("early_stopping", "early_stopping.patience", patience)

    def on_epoch(end: EpochEnd) -> Decision:
        state, improved = fold(end.history, monitor, resolved, min_delta)
        stop = should_stop(state, patience)
        return Decision(stop=stop, improved=improved, keep=improved and restore_best)

    return Callback(on_epoch=on_epoch)
