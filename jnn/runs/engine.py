"""The one run driver: every task (supervised, language model, GAN, ...) runs here.

A task plugs in only what is its own (a `Task`: its state, jitted step, plan
of epochs, validation, test metrics, saved metadata and artefacts). The
engine owns everything around it, so it holds for every task alike: the run
directory and its lock, `config.toml`, the metric sinks (JSONL, CSV,
TensorBoard), the progress bar, the checkpoint cadence (epochs and steps),
retention, resume and pre-emption, the non-finite guard, callbacks and
`results.json`.
"""

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from jnn import _checks
from jnn.runs import (
    checkpoint,
    compile_cache,
    console,
    fusing,
    loop,
    processes,
    tensorboard,
)
from jnn.runs import progress as progress_lib
from jnn.runs import resume as resume_lib
from jnn.runs.callbacks import Callback, CheckpointEnd
from jnn.runs.mesh import ONE_DEVICE, Placement
from jnn.runs.rundir import Follower, RunDir
from jnn.runs.signals import Preempted
from jnn.train import numerics

_EMPTY = MappingProxyType({})  # a read-only {} default


class Task(NamedTuple):
    """What a task plugs into the engine.

    Attributes:
      name: Saved as the checkpoints' `task` ("supervised", "gan", ...).
      state: The fresh state: a NamedTuple pytree with an int `step`
        counter (e.g. `TrainState`, `GANState`), checkpointed whole.
      step: The jitted `step(state, batch) -> (state, metrics)`; a
        `nonfinite` metric (see `jnn.train.step`) feeds the guard.
      plan: The epochs and their batches (`jnn.runs.loop.Plan`).
      validate: `validate(state) -> dict` added to each epoch's record.
      config: The run's config as plain `{section: {key: value}}` data:
        saved in every checkpoint and compared on resume.
      config_text: What `config.toml` holds.
      resolve_config: Fills a saved config's defaults before the comparison
        (a field added to jnn since is no difference).
      params_of: `state -> params` tree the step's non-finite codes index.
      schedule: `step -> learning rate` for the log, or None.
      test: `test(state) -> dict`: the final metrics ("test_" in the log).
      baselines: Reference scores reported beside the test metrics.
      metadata: JSON saved in every checkpoint (input spec, vocabulary, ...).
      arrays: Arrays saved in every checkpoint (normalisation statistics).
      finish: `finish(state, run_dir, log) -> dict` writes the task's
        artefacts after the final checkpoint; its entries join results.json.
      warm_start: `warm_start(state) -> state` applied to a run that starts
        fresh (not to a resumed one), e.g. params from another run.
      facts: `{label: text}` lines for the console's start block after the
        engine's own (run directory, devices, parameter count), e.g.
        `{"data": "train 1437, val 180, test 180 examples", "config": ...}`.
      placement: The devices the run spreads over (`jnn.runs.mesh`): the
        engine puts the state (fresh or restored) and every batch there.
    """

    name: str
    state: Any
    step: Callable
    plan: loop.Plan
    validate: Callable[[Any], dict]
    config: dict
    config_text: str
    resolve_config: Callable[[dict], dict] = lambda saved: saved
    params_of: Callable[[Any], Any] = lambda state: state.params
    schedule: Callable[[int], float] | None = None
    test: Callable[[Any], dict] = lambda state: {}
    baselines: Mapping = _EMPTY
    metadata: Mapping = _EMPTY
    arrays: Mapping = _EMPTY
    finish: Callable[[Any, Path, Callable], dict] | None = None
    warm_start: Callable[[Any], Any] | None = None
    facts: Mapping[str, str] = _EMPTY
    placement: Placement = ONE_DEVICE


class Settings(NamedTuple):
    """How the engine runs any task."""

    checkpoint_every: int = 0  # epochs between checkpoints; 0 = final only
    checkpoint_every_steps: int = 0  # steps between checkpoints; 0 = off
    keep_checkpoints: int = 0  # newest checkpoints kept; 0 = all
    on_nonfinite: str = "stop"  # NaN/Inf loss or gradient: stop | skip
    tensorboard: bool = False  # also write TensorBoard scalars
    tensorboard_every: int = 0  # steps between per-step loss scalars; 0 = off
    compilation_cache: str = ""  # JAX's persistent cache directory; "" = off
    fuse_steps: int = 0  # steps per dispatch, in one lax.scan; 0 = auto (`fusing`)


# `Settings` field -> the [train] setting that sets it, in every task's config.
_TRAIN_KEYS = {
    "checkpoint_every": "checkpoint_every",
    "checkpoint_every_steps": "checkpoint_every_steps",
    "keep_checkpoints": "keep_checkpoints",
    "on_nonfinite": "on_nonfinite",
    "tensorboard": "tensorboard",
    "tensorboard_every": "tensorboard_every_steps",
    "compilation_cache": "compilation_cache",
    "fuse_steps": "fuse_steps",
}


def settings_of(train) -> Settings:
    """The `Settings` a config's [train] section sets; a field its task's
    section has no setting for (e.g. a GAN's `checkpoint_every`) keeps its default."""
    given = {f: getattr(train, k) for f, k in _TRAIN_KEYS.items() if hasattr(train, k)}
    return Settings(**given)


class ResumeOptions(NamedTuple):
    """How the engine treats an existing run directory (see `jnn.runs.resume`)."""

    mode: str = "auto"  # auto | required | never
    break_lock: bool = False  # break the stale lock of a dead run
    allow_config_change: bool = False  # resume although the config differs
    step: int | None = None  # resume from this step's checkpoint (else newest)


class RunResult(NamedTuple):
    state: Any  # the final task state (e.g. a `TrainState`)
    history: list[dict]  # one record per epoch
    test: dict  # final test metrics ({} if the task has none)
    best_epoch: int  # 1-based epoch a callback called best; -1 if none
    run_dir: Path | None
    results: dict  # what results.json holds


def run(
    task: Task,
    settings: Settings | None = None,
    workdir: str | Path | None = None,
    *,
    log: Callable[[str], None] | None = print,
    progress=None,
    resume: ResumeOptions | None = None,
    stop: Callable[[], int | None] | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Run `task` to the end; write a run directory if `workdir` is given.

    Args:
      task: The task's pieces (see `Task`).
      settings: Checkpoint cadence, retention, non-finite mode, TensorBoard;
        None means `Settings()`.
      workdir: Run directory, created if needed; None writes nothing.
      log: Called with the start block (one call, several lines: see
        `jnn.runs.console`), one line per epoch and a final line (None silences).
      progress: Where the live progress display goes (see
        `jnn.runs.progress`), drawn only on a terminal; None means
        sys.stderr, False turns it off.
      resume: `ResumeOptions`; None means the defaults: a run directory with
        checkpoints is continued from its newest one, bitwise.
      stop: Optional `stop() -> signum | None` polled after every dispatch
        (a step, or `settings.fuse_steps` of them: `jnn.runs.fusing`; see
        `jnn.runs.signals.catch_preemption`); a signal commits a checkpoint
        at that step and raises `Preempted`.
      callbacks: `Callback`s (after a step, an epoch, a checkpoint).

    A finished run resumed with more epochs (or GAN steps) trains on; see
    `jnn.runs.resume.extend` for the rule, the learning rate's included.

    Raises:
      Preempted: after a signal reported by `stop`, once the checkpoint is
        committed (without `workdir`: at once, with no checkpoint).
      NonFiniteError: at the first non-finite loss or gradient when
        `settings.on_nonfinite` is "stop".
      ValueError: if the run directory is locked, the config differs from
        the checkpoint's, `resume.mode` is "never" and checkpoints exist, or
        the config asks for fewer epochs than the checkpoint has done.
      FileNotFoundError: if `resume.mode` is "required" and none exists.
    """
    log = log or (lambda line: None)
    resume = resume or ResumeOptions()
    settings = settings or Settings()
    _checks.one_of("run", "resume.mode", resume.mode, resume_lib.MODES)
    _checks.one_of("run", "on_nonfinite", settings.on_nonfinite, numerics.MODES)
    fusing.check(settings.fuse_steps)
    if not processes.is_main():  # process 0 alone prints (`jnn.runs.processes`)
        log, progress = (lambda line: None), False
    with compile_cache.enabled(settings.compilation_cache) as cache:
        args = (task, settings, log, progress, resume, stop, tuple(callbacks), cache)
        if workdir is None:
            return _run(None, *args)
        if not processes.is_main():
            return _run(Follower(workdir), *args)
        with RunDir(workdir, break_lock=resume.break_lock) as rundir:
            return _run(rundir, *args)


def _run(rundir, task, settings, log, stream, resume, stop, callbacks, cache):
    start = time.perf_counter()
    if rundir:
        state, pos = _resume_or_start(rundir, task, resume, log)
        rundir.begin(task.config_text, pos.history, settings.tensorboard)
        every = settings.tensorboard_every
        if rundir.events and every:
            callbacks = (*callbacks, tensorboard.step_logger(rundir.events, every))
    else:
        state, pos = _fresh(task), loop.Position()
    per_step = any(c.on_step is not None for c in callbacks)
    fuse = fusing.choose(settings.fuse_steps, task.step, state, task.plan, per_step)
    log(console.start_block(task, rundir and rundir.dir, fuse))
    saver = _Saver(rundir, task, settings, callbacks)
    shown = None
    if stream is not False:
        plan = task.plan
        shown = progress_lib.bar(
            stream or sys.stderr, plan.epochs, num_batches=plan.num_batches
        )
    hooks = loop.Hooks(
        on_step=_on_step(saver, settings, stop) if rundir or stop else None,
        on_batch=shown and shown.on_batch,
        on_phase=shown and shown.on_phase,
        callbacks=callbacks,
        params_of=task.params_of,
        on_nonfinite=settings.on_nonfinite,
        placement=task.placement,
        fuse_steps=fuse.steps,
        save_every=settings.checkpoint_every_steps if rundir else 0,
    )

    def on_epoch(record, state):
        log(console.format_record(record, task.plan.epochs))
        if rundir:
            rundir.record(record)

    result = loop.train(
        state,
        task.step,
        task.plan,
        task.validate,
        schedule=task.schedule,
        hooks=hooks,
        position=pos,
        on_epoch=on_epoch,
    )
    test = task.test(result.state)
    baselines = dict(task.baselines)
    summary = _summary(result, test, baselines, time.perf_counter() - start)
    if cache is not None:
        log(cache.line())
        summary["compilation_cache"] = cache.summary()
    log(console.format_test(test, summary["seconds"], baselines))
    if rundir:
        summary = saver.final(result, summary, log)
    return RunResult(
        result.state,
        result.history,
        test,
        result.best_epoch,
        rundir and rundir.dir,
        summary,
    )


def _resume_or_start(rundir: RunDir, task: Task, resume: ResumeOptions, log):
    """Restore the checkpoint `resume` asks for, or start fresh.

    The newest checkpoint (no `resume.step`) that turns out corrupt is
    skipped with a warning naming it, for the one before it; a requested
    step is never replaced by another.
    """
    found = resume_lib.find(rundir.checkpoints, resume.mode, resume.step)
    if found is None:
        if resume.mode == "auto":
            log(f"no checkpoint in {rundir.checkpoints}: starting a fresh run")
        return _fresh(task), loop.Position()
    fallback = (
        [] if resume.step is not None else resume_lib.older(rundir.checkpoints, found)
    )
    *tried, last = (found, *fallback)
    for path in tried:
        try:
            return _restore(path, task, resume, log)
        except checkpoint.CorruptCheckpoint as error:
            log(f"warning: skipping corrupt checkpoint {path}: {error}")
    return _restore(last, task, resume, log)


def _restore(found, task: Task, resume: ResumeOptions, log):
    _, meta = checkpoint.restore_metadata(found)
    saved = task.resolve_config(meta.get("config", {}))
    changed = resume_lib.check_config(
        saved, task.config, found, allow=resume.allow_config_change
    )
    for line in changed:
        log(f"config changed since the checkpoint (allowed): {line}")
    state, pos, meta = resume_lib.restore(found, task.state, task.arrays)
    state = task.placement.state(state)  # onto this run's devices, any count
    log(resume_lib.describe(found, state, pos))
    step = int(state.step)
    pos, note = resume_lib.extend(pos, meta, step, task.plan, found)
    if note and not pos.done and task.schedule is not None:
        note += f" (lr now {float(task.schedule(step)):.2e})"
    if note:
        log(note)
    return state, pos


def _fresh(task: Task):
    state = task.warm_start(task.state) if task.warm_start else task.state
    return task.placement.state(state)


class _Saver:
    """Commits checkpoints of the run: cadence, retention, final, callbacks."""

    def __init__(self, rundir, task: Task, settings: Settings, callbacks):
        self.rundir, self.task, self.settings = rundir, task, settings
        self.on_checkpoint = [c.on_checkpoint for c in callbacks if c.on_checkpoint]

    def save(self, state, pos: loop.Position, extra: dict | None = None) -> Path:
        meta = {"config": self.task.config, "task": self.task.name}
        meta |= {**self.task.metadata, **(extra or {})}
        meta["position"] = resume_lib.position_to_json(pos)
        tree = processes.to_host(resume_lib.tree(state, pos, self.task.arrays))
        step = int(state.step)
        keep = self.settings.keep_checkpoints
        path = self.rundir.checkpoint(step, tree, meta, keep)
        for on_checkpoint in self.on_checkpoint:
            on_checkpoint(CheckpointEnd(step, path))
        return path

    def final(self, result: loop.Result, summary: dict, log) -> dict:
        """The final checkpoint, the task's artefacts and results.json."""
        pos = result.position._replace(best=None)  # best is in the state now
        path = self.save(result.state, pos, {"final": True, **summary})
        summary = {**summary, "checkpoint": str(path.relative_to(self.rundir.dir))}
        if self.task.finish is not None and processes.is_main():
            summary |= self.task.finish(result.state, self.rundir.dir, log)
        self.rundir.results(summary)
        return summary


def _on_step(saver: _Saver, settings: Settings, stop):
    """The loop's `on_step`: save on the step/epoch cadence and on a signal.

    Without a run directory nothing is saved, and a signal raises
    `Preempted` with no checkpoint.
    """
    writing = saver.rundir is not None
    every_steps = settings.checkpoint_every_steps if writing else 0
    every_epochs = settings.checkpoint_every if writing else 0

    def on_step(state, pos: loop.Position) -> None:
        if pos.done:
            return  # the engine writes the final checkpoint itself
        signum = stop() if stop else None
        epoch_due = pos.batch == 0 and bool(every_epochs)
        epoch_due = epoch_due and pos.epoch % every_epochs == 0
        if not (every_steps or epoch_due or signum):
            return  # nothing to do: skip the device sync of reading the step
        at = int(state.step)
        due = epoch_due or (bool(every_steps) and at % every_steps == 0)
        path = None
        if writing and (due or signum):
            loop.settle(pos, saver.task.params_of(state), settings.on_nonfinite)
            path = saver.save(state, pos)
        if signum:
            raise Preempted(signum, at, path)

    return on_step


def _summary(result: loop.Result, test: dict, baselines: dict, seconds: float):
    return {
        "test": test,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "final_step": int(result.state.step),
        "seconds": round(seconds, 3),
        "baselines": baselines,
    }
