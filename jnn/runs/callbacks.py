"""Hook points of the run engine for research code (and for early stopping).

A `Callback` is three optional functions. The engine calls `on_step` after
every training step with that step's metrics (device scalars: reading one
waits for the device), `on_epoch` after every epoch with its record, and
`on_checkpoint` after every committed checkpoint. `on_epoch` may return a
`Decision` to stop the run, to mark the epoch as the best so far, or to keep
a copy of its params and state, which the run ends with (early stopping's
`restore_best`). Decisions must follow from the record history alone (as
`jnn.train.early_stopping.callback`'s do), so a resumed run decides exactly
as an uninterrupted one.

Example:
  >>> seen = []
  >>> log_loss = Callback(on_epoch=lambda end: seen.append(end.record["epoch"]))
  >>> stop_at_3 = Callback(on_epoch=lambda end: Decision(stop=end.epoch >= 2))
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple


class StepEnd(NamedTuple):
    """After one training step."""

    epoch: int  # 0-based epoch
    batch: int  # 1-based batch within the epoch
    state: Any  # the task state after the step (do not keep: it is donated)
    metrics: dict  # the step's metrics as device scalars (loss, grad_norm, ...)


class EpochEnd(NamedTuple):
    """After one epoch's validation."""

    epoch: int  # 0-based epoch that just ended
    record: dict  # its record, as written to metrics.jsonl
    history: tuple  # every record so far, this one last
    state: Any  # the task state at the end of the epoch


class CheckpointEnd(NamedTuple):
    """After a checkpoint is committed."""

    step: int
    path: Path


class Decision(NamedTuple):
    """What `on_epoch` may ask of the engine (None asks nothing)."""

    stop: bool = False  # end the run after this epoch
    improved: bool = False  # this epoch is the best so far (results' best_epoch)
    keep: bool = False  # keep a copy of params and state; the run ends with it


class Callback(NamedTuple):
    on_step: Callable[[StepEnd], None] | None = None
    on_epoch: Callable[[EpochEnd], Decision | None] | None = None
    on_checkpoint: Callable[[CheckpointEnd], None] | None = None
