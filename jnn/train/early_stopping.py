"""Early stopping as a pure function of a small NamedTuple (no hidden state)."""

import math
from typing import NamedTuple

from jnn import _checks


class Monitor(NamedTuple):
    """What early stopping remembers between epochs."""

    best: float  # best monitored value so far (inf / -inf before the first)
    best_epoch: int  # epoch of `best` (-1 before the first)
    bad_epochs: int  # consecutive epochs without improvement


def resolve_mode(monitor: str, mode: str) -> str:
    """Return "min" or "max": `auto` maximises accuracies and minimises the rest."""
    _checks.one_of(
        "early_stopping", "early_stopping.mode", mode, ("auto", "min", "max")
    )
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
