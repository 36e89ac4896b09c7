"""`fit(config, workdir)`: the library entry point behind `scripts/train.py`."""

import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

from jnn import _checks, data
from jnn import config as config_lib
from jnn.config import Config
from jnn.runs import checkpoint, lock, tensorboard
from jnn.runs import csv_log as metrics_log
from jnn.runs import progress as progress_lib
from jnn.runs import resume as resume_lib
from jnn.runs.signals import Preempted
from jnn.train import loop, setup
from jnn.train.state import TrainState


class FitResult(NamedTuple):
    train_state: TrainState
    history: list[dict]  # per-epoch metrics
    test: dict  # final metrics on the test split
    best_epoch: int  # -1 without early stopping
    run_dir: Path | None


class ResumeOptions(NamedTuple):
    """How `fit` treats an existing run directory (see `jnn.runs.resume`)."""

    mode: str = "auto"  # auto | required | never
    break_lock: bool = False  # break the stale lock of a dead run
    allow_config_change: bool = False  # resume although the config differs


def fit(
    cfg: Config,
    workdir: str | Path | None = None,
    *,
    log=print,
    progress=None,
    resume: ResumeOptions | None = None,
    stop=None,
) -> FitResult:
    """Train the model described by `cfg`; write a run directory if given.

    The run directory gets `config.toml` (the resolved config), `metrics.jsonl`
    (one line per epoch), `metrics.csv` (the same as a table),
    `checkpoints/ckpt_<step>/`, `results.json`, and with `train.tensorboard`
    TensorBoard scalars in `tensorboard/`. A lock file (`.jnn-lock`) keeps a
    second run out while this one writes.

    Args:
      cfg: A validated `jnn.config.Config`.
      workdir: Run directory, created if needed; None writes nothing.
      log: Called with one progress line per epoch (None silences).
      progress: Stream for a live per-batch bar, drawn only if it is a
        terminal; None means sys.stderr, False turns the bar off.
      resume: `ResumeOptions`; None means the defaults: a run directory with checkpoints is
        continued from its newest one, bitwise as if never interrupted.
      stop: Optional `stop() -> signum | None` polled after every step (see
        `jnn.runs.signals.catch_preemption`); a signal commits a checkpoint
        at that step and raises `Preempted`.

    Raises:
      Preempted: after a signal reported by `stop`, once the checkpoint is
        committed (without `workdir`: at once, with no checkpoint).
      NonFiniteError: at the first non-finite loss or gradient when
        `train.on_nonfinite` is "stop".
      ValueError: if the run directory is locked, or the config differs from
        the checkpoint's, or `resume.mode` is "never" and checkpoints exist.
      FileNotFoundError: if `resume.mode` is "required" and none exists.
    """
    log = log or (lambda line: None)
    resume = resume or ResumeOptions()
    _checks.one_of("fit", "resume.mode", resume.mode, resume_lib.MODES)
    if workdir is None:
        return _fit(cfg, None, log, progress, resume, stop)
    with _RunWriter(workdir, cfg, resume.break_lock) as writer:
        return _fit(cfg, writer, log, progress, resume, stop)


def _fit(cfg: Config, writer, log, progress, resume: ResumeOptions, stop):
    start = time.perf_counter()
    run = setup.build(cfg)
    ts = setup.initial_state(run, cfg.train.seed)
    step, eval_step = setup.jitted_steps(run, cfg)
    options = _options(cfg, run)
    pos = loop.start(options)
    if writer:
        ts, pos = _resume_or_start(writer, ts, cfg, options, resume, log)
        writer.begin(pos.history)
    on_step = _checkpointer(writer, cfg, stop) if writer or stop else None

    def eval_split(params, state, name):
        split = getattr(run.splits, name)
        return loop.evaluate(
            eval_step, params, state, split.x, split.y, run.eval_batch_size
        )

    def on_epoch(record, ts):
        log(_format(record, cfg.train.epochs))
        if writer:
            writer.epoch(record)

    on_batch = None
    if progress is not False:
        on_batch = progress_lib.bar(progress or sys.stderr, cfg.train.epochs)
    result = loop.train(
        ts,
        step,
        eval_split,
        run.splits.train[:2],
        options,
        on_epoch,
        on_batch,
        on_step=on_step,
        position=pos,
    )
    ts = result.train_state
    test = eval_split(ts.params, ts.state, "test")
    summary = _summary(result, test, time.perf_counter() - start)
    summary["baselines"] = data.baselines(cfg.data, run.splits)  # e.g. last value
    log(_format_test(test, summary["seconds"], summary["baselines"]))
    if writer:
        writer.final(result, summary)
    return FitResult(ts, result.history, test, result.best_epoch, writer and writer.dir)


def _resume_or_start(writer, fresh: TrainState, cfg: Config, options, resume, log):
    """Restore the newest checkpoint per `resume.mode`, or start fresh."""
    found = resume_lib.find(writer.checkpoints, resume.mode)
    if found is None:
        if resume.mode == "auto":
            log(f"no checkpoint in {writer.checkpoints}: starting a fresh run")
        return fresh, loop.start(options)
    _, meta = checkpoint.restore_metadata(found)
    changed = resume_lib.check_config(
        meta.get("config", {}), cfg, found, allow=resume.allow_config_change
    )
    for line in changed:
        log(f"config changed since the checkpoint (allowed): {line}")
    ts, pos, _ = resume_lib.restore(found, fresh)
    log(resume_lib.describe(found, ts, pos))
    return ts, pos


def _checkpointer(writer, cfg: Config, stop):
    """`on_step`: save on the step/epoch cadence, and on a pre-empting signal.

    Without a run directory (`writer` None) nothing is saved, and a signal
    raises `Preempted` with no checkpoint.
    """
    every_steps = cfg.train.checkpoint_every_steps if writer else 0
    every_epochs = cfg.train.checkpoint_every if writer else 0

    def on_step(ts: TrainState, pos: loop.Position) -> None:
        if pos.done:
            return  # `fit` writes the final checkpoint itself
        signum = stop() if stop else None
        epoch_due = pos.batch == 0 and bool(every_epochs)
        epoch_due = epoch_due and pos.epoch % every_epochs == 0
        if not (every_steps or epoch_due or signum):
            return  # nothing to do: skip the device sync of reading the step
        at = int(ts.step)
        due = epoch_due or (bool(every_steps) and at % every_steps == 0)
        if writer and (due or signum):
            pos = loop.settle(pos, ts.params, cfg.train.on_nonfinite)
        path = writer.checkpoint(ts, pos) if writer and (due or signum) else None
        if signum:
            raise Preempted(signum, at, path)

    return on_step


def _options(cfg: Config, run: setup.Setup) -> loop.LoopOptions:
    es = cfg.early_stopping
    return loop.LoopOptions(
        epochs=cfg.train.epochs,
        batch_size=run.batch_size,
        ragged=cfg.train.ragged,
        eval_batch_size=run.eval_batch_size,
        seed=cfg.train.seed,
        early_stopping=es if es.enabled else None,
        schedule=run.schedule,
        on_nonfinite=cfg.train.on_nonfinite,
    )


def _summary(result: loop.LoopResult, test: dict, seconds: float) -> dict:
    return {
        "test": test,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "final_step": int(result.train_state.step),
        "seconds": round(seconds, 3),
    }


def _format(record: dict, epochs: int) -> str:
    parts = [f"epoch {record['epoch']:>3}/{epochs}"]
    for name, value in record.items():
        if name == "lr":
            parts.append(f"lr {value:.2e}")
        elif name not in ("epoch", "step", "time_s"):
            parts.append(f"{name} {value:.4f}")
    parts.append(f"{record['time_s']:.2f}s")
    return "  ".join(parts)


def _format_test(test: dict, seconds: float, baselines: dict) -> str:
    metrics = "  ".join(f"test_{k} {v:.4f}" for k, v in test.items())
    against = "".join(f"  (baseline {k} {v:.4f})" for k, v in baselines.items())
    return f"done in {seconds:.1f}s  {metrics}{against}"


class _RunWriter:
    """Writes a run directory: resolved config, metrics lines, checkpoints.

    It holds the directory's lock from construction to `__exit__`; while it
    does, leftovers of killed saves (`.tmp-*`) are safe to clean up.
    """

    def __init__(self, workdir, cfg: Config, break_lock: bool = False):
        self.dir = Path(workdir)
        self.cfg = cfg
        self.lock = lock.acquire(self.dir, break_stale=break_lock)
        self.checkpoints = self.dir / "checkpoints"
        checkpoint.clean_temporaries(self.checkpoints)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        lock.release(self.lock)

    def begin(self, history: tuple) -> None:
        """Write the config and the metrics of the epochs already done."""
        config_lib.save(self.cfg, self.dir / "config.toml")
        self.metrics = self.dir / "metrics.jsonl"
        self.metrics.write_text("".join(json.dumps(r) + "\n" for r in history))
        self.csv = metrics_log.CsvLog(self.dir / "metrics.csv")
        for record in history:
            self.csv.append(record)
        self.events = None
        if self.cfg.train.tensorboard:
            self.events = tensorboard.EventWriter(self.dir / "tensorboard")

    def epoch(self, record: dict) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")
        self.csv.append(record)
        if self.events:
            self.events.scalars(record["step"], tensorboard.record_scalars(record))

    def checkpoint(self, ts: TrainState, pos: loop.Position, extra=None) -> Path:
        """Commit a resumable checkpoint, then prune to `train.keep_checkpoints`."""
        meta = {"config": config_lib.to_dict(self.cfg), **(extra or {})}
        meta["position"] = resume_lib.position_to_json(pos)
        tree = resume_lib.tree(ts, pos)
        path = checkpoint.save(
            self.checkpoints, int(ts.step), tree, meta, overwrite=True
        )
        checkpoint.prune(self.checkpoints, self.cfg.train.keep_checkpoints)
        return path

    def final(self, result: loop.LoopResult, summary: dict) -> None:
        pos = result.position._replace(best=None)  # best is in train_state now
        path = self.checkpoint(result.train_state, pos, {"final": True, **summary})
        summary = {**summary, "checkpoint": str(path.relative_to(self.dir))}
        (self.dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
