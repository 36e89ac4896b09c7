"""`RunDir`: the one writer of a run directory, for every task.

    RUN/.jnn-lock                 held while a process writes the run
    RUN/config.toml               the resolved config (or a Python run's settings)
    RUN/metrics.jsonl             one record per epoch (lossless)
    RUN/metrics.csv               the same records as a table
    RUN/tensorboard/              scalars, with `train.tensorboard = true`
                                  (tags: `jnn.runs.tensorboard.tag`)
    RUN/checkpoints/ckpt_<step>/  resumable checkpoints (`jnn.runs.checkpoint`)
    RUN/results.json              the final summary

Tasks add their own artefacts (sample grids, ...) through `RunDir.dir`.
"""

import json
from pathlib import Path

from jnn.runs import checkpoint, csv_log, lock, tensorboard


class RunDir:
    """Holds a run directory's lock and writes everything in it.

    While the lock is held, leftovers of killed saves (`.tmp-*`) are safe to
    clean up, which the constructor does. Use it as a context manager.

    Raises:
      ValueError: if another live process holds the directory's lock.
    """

    def __init__(self, path: str | Path, *, break_lock: bool = False):
        self.dir = Path(path)
        self.lock = lock.acquire(self.dir, break_stale=break_lock)
        self.checkpoints = self.dir / "checkpoints"
        checkpoint.clean_temporaries(self.checkpoints)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        lock.release(self.lock)

    def begin(self, config_text: str, history: tuple, tensorboard_on: bool) -> None:
        """Write the config, and the metrics of the epochs already done."""
        (self.dir / "config.toml").write_text(config_text, encoding="utf-8")
        self.metrics = self.dir / "metrics.jsonl"
        self.metrics.write_text("".join(json.dumps(r) + "\n" for r in history))
        self.csv = csv_log.CsvLog(self.dir / "metrics.csv")
        for record in history:
            self.csv.append(record)
        self.events = None
        if tensorboard_on:
            self.events = tensorboard.EventWriter(self.dir / "tensorboard")

    def record(self, record: dict) -> None:
        """Append one epoch record to every sink."""
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")
        self.csv.append(record)
        if self.events:
            self.events.scalars(record["step"], tensorboard.record_scalars(record))

    def checkpoint(self, step: int, tree: dict, meta: dict, keep: int) -> Path:
        """Commit a checkpoint, then prune to the `keep` newest (0 keeps all)."""
        path = checkpoint.save(self.checkpoints, step, tree, meta, overwrite=True)
        checkpoint.prune(self.checkpoints, keep)
        return path

    def results(self, summary: dict) -> Path:
        """Write `results.json`."""
        path = self.dir / "results.json"
        path.write_text(json.dumps(summary, indent=2) + "\n")
        return path


class Follower:
    """A run directory as process k > 0 of a multi-process run sees it.

    It reads checkpoints (to resume like process 0) and writes nothing:
    process 0's `RunDir` holds the lock and writes (see `jnn.runs.processes`).
    """

    events = None  # no TensorBoard writer

    def __init__(self, path: str | Path):
        self.dir = Path(path)
        self.checkpoints = self.dir / "checkpoints"

    def begin(self, config_text: str, history: tuple, tensorboard_on: bool) -> None:
        """Nothing: process 0 writes the config and metrics."""

    def record(self, record: dict) -> None:
        """Nothing: process 0 writes the records."""

    def checkpoint(self, step: int, tree: dict, meta: dict, keep: int) -> Path:
        """The path process 0 commits this step's checkpoint to."""
        return checkpoint.path_of(self.checkpoints, step)

    def results(self, summary: dict) -> Path:
        """Nothing: process 0 writes `results.json`."""
        return self.dir / "results.json"
