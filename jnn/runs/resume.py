"""Resuming a run: find its checkpoint, check its config, restore everything.

A checkpoint written by the run engine holds the task state's arrays (plus
the kept best params under `best`, and the task's own arrays such as input
normalisation statistics) and, as JSON metadata, the config and the loop's
`Position` (epoch, batch within it, running train-metric sums, history).
Restoring both and regenerating the epoch's batches from (seed, epoch)
continues the run bitwise, for every task.

`--resume` modes: "auto" resumes when a checkpoint exists and otherwise starts
fresh with one log line; "required" raises when none exists; "never" starts
fresh and raises if the directory already has checkpoints (nothing is ever
silently overwritten).

Extending a finished run: resuming a run that ran all its epochs with a
config that asks for more (`--set train.epochs=12 --allow-config-change`, or
more `train.steps` for a GAN) trains the new epochs on, appending to its
metrics. The learning-rate schedule is rebuilt from the config for the new
total length and continues from the saved step: a schedule that decays to a
fraction of its peak (cosine, linear) was near its end and now jumps back up
to where the longer schedule stands at that step, e.g. a cosine schedule
that had reached 0 rises again to half its peak when a run is doubled. For a
continuation at the low learning rate, start a new run with `train.init_from`
and its own short schedule instead. A run that a callback stopped early
(early stopping) stays stopped; one asked for fewer epochs than it has done
is refused (see `extend`).
"""

from pathlib import Path

import jax.numpy as jnp

from jnn import _checks
from jnn.runs import checkpoint
from jnn.runs.loop import Position

MODES = ("auto", "required", "never")


def find(directory: str | Path, mode: str, step: int | None = None) -> Path | None:
    """Return the checkpoint to resume from in `directory` (None: start fresh).

    `step` picks `ckpt_<step>` (and requires it); None the newest.

    Raises:
      ValueError: if `mode` is not auto, required or never, or it is "never"
        and `directory` already holds checkpoints.
      FileNotFoundError: if `mode` is "required" and there is no checkpoint,
        or there is no checkpoint of `step` (the message lists those there are).
    """
    _checks.one_of("resume", "resume", mode, MODES)
    if step is not None:
        return _of_step(directory, step)
    found = checkpoint.latest(directory)
    if mode == "never" and found is not None:
        hint = "pass --resume auto to continue that run, or use a new --workdir"
        raise _checks.value_error(
            "resume", "no checkpoints with --resume never", f"'{found}'", hint
        )
    if mode == "required" and found is None:
        message = _checks.message(
            f"a checkpoint in '{directory}' (--resume required)",
            "none",
            "check --workdir, or pass --resume auto to start fresh",
        )
        raise FileNotFoundError(f"resume: {message}")
    return found


def _of_step(directory: str | Path, step: int) -> Path:
    found = checkpoint.at_step(directory, step)
    if found is not None:
        return found
    every = checkpoint.all_checkpoints(directory)
    steps = ", ".join(str(checkpoint.step_of(p)) for p in every) or "none"
    message = _checks.message(
        f"a checkpoint of step {step} in '{directory}' (--resume {step})",
        f"steps {steps}",
        "pass one of those steps, or --resume auto for the newest",
    )
    raise FileNotFoundError(f"resume: {message}")


def older(directory: str | Path, than: Path) -> list[Path]:
    """The committed checkpoints older than `than`, newest first: where a
    resume falls back when `than` turns out to be corrupt."""
    found = checkpoint.all_checkpoints(directory)
    return [
        p for p in reversed(found) if checkpoint.step_of(p) < checkpoint.step_of(than)
    ]


def config_differences(saved: dict, now: dict) -> list[str]:
    """List `section.key: saved X, now Y` for every value that differs."""
    lines = []
    for section in sorted(set(saved) | set(now)):
        old, new = saved.get(section) or {}, now.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key, "<unset>") != new.get(key, "<unset>"):
                got = f"saved {old.get(key, '<unset>')!r}, now {new.get(key, '<unset>')!r}"
                lines.append(f"{section}.{key}: {got}")
    return lines


def check_config(saved: dict, now: dict, path: Path, *, allow: bool) -> list[str]:
    """Raise unless config `now` equals the checkpoint's `saved` (or `allow`).

    Both are plain `{section: {key: value}}` data with defaults filled in
    (the task resolves the saved one, see `jnn.runs.engine.Task`). Returns
    the differences (empty, or those allowed) for the log.

    The `[mesh]` section may change freely: a checkpoint restores onto any
    device count, so those differences are returned for the log only.

    Raises:
      ValueError: naming every differing dotted key, unless `allow`.
    """
    lines = config_differences(saved, now)
    topology = [line for line in lines if line.startswith("mesh.")]
    lines = [line for line in lines if not line.startswith("mesh.")]
    if lines and not allow:
        hint = "resume with the same config, or pass --allow-config-change"
        raise _checks.value_error(
            "resume",
            f"the config saved in '{path}'",
            f"{len(lines)} difference(s):\n  " + "\n  ".join(lines),
            hint,
        )
    return topology + lines


def sums_to_json(totals: dict | None) -> dict | None:
    """Running metric sums (device scalars) as `{name: [value, dtype]}`.

    A float32 -> Python float -> float32 round trip is exact, so a resumed
    run continues the very same sums.
    """
    if totals is None:
        return None
    return {k: [float(v), str(v.dtype)] for k, v in totals.items()}


def sums_from_json(data: dict | None) -> dict | None:
    """The inverse of `sums_to_json`: device scalars of the saved dtypes."""
    if data is None:
        return None
    return {k: jnp.asarray(v, dtype) for k, (v, dtype) in data.items()}


def position_to_json(pos: Position) -> dict:
    """The JSON form of a `Position`; arrays (the kept best) go in the tree.

    Device sums become Python numbers (float32 -> float is exact); the
    engine has settled the position (`loop.settle`) before it gets here.
    """
    return {
        "epoch": pos.epoch,
        "batch": pos.batch,
        "count": float(pos.count),
        "skipped": int(pos.skipped),
        "totals": sums_to_json(pos.totals),
        "history": list(pos.history),
        "best_epoch": pos.best_epoch,
        "has_best": pos.best is not None,
        "done": pos.done,
    }


def position_from_json(data: dict, best: dict | None) -> Position:
    """Rebuild a `Position` (device sums with their saved dtype, bit for bit)."""
    return Position(
        epoch=data["epoch"],
        batch=data["batch"],
        totals=sums_from_json(data["totals"]),
        count=data["count"],
        skipped=data["skipped"],
        history=tuple(data["history"]),
        best=best,
        best_epoch=data["best_epoch"],
        done=data["done"],
    )


def tree(state, pos: Position, arrays: dict) -> dict:
    """The arrays a run checkpoint holds: the task state, the kept best and the
    task's own arrays (e.g. input normalisation statistics)."""
    out = {**state._asdict(), **arrays}
    if pos.best is not None:
        out["best"] = pos.best
    return out


def template(fresh, meta: dict, arrays: dict) -> dict:
    """The restore template of a checkpoint, built from a fresh task state."""
    out = {**fresh._asdict(), **arrays}
    if meta.get("position", {}).get("has_best"):
        out["best"] = {"params": fresh.params, "state": fresh.state}
    return out


def check_position(meta: dict, path: Path) -> None:
    """Raise unless checkpoint metadata `meta` holds a loop position.

    Raises:
      ValueError: naming the checkpoint.
    """
    if not isinstance(meta.get("position"), dict) or "best_epoch" not in meta.get(
        "position", {}
    ):
        raise _checks.value_error(
            "resume",
            f"a run checkpoint with a loop position in '{path}'",
            "none",
            "only checkpoints written by the jnn run engine (jnn.train.fit, "
            "scripts/train.py) of this version can be resumed",
        )


def restore(path: Path, fresh, arrays: dict) -> tuple[object, Position, dict]:
    """Restore a run checkpoint into `fresh`'s structure: (state, position, meta).

    `arrays` are the task's own arrays as this run computed them; they are
    checked against the saved ones by key path, shape and dtype.

    Raises:
      ValueError: if the checkpoint lacks a loop position (not written by
        the engine), or any `checkpoint.restore` error (corruption, tree
        mismatch).
    """
    _, meta = checkpoint.restore_metadata(path)
    check_position(meta, path)
    saved, meta = checkpoint.restore(path, template(fresh, meta, arrays))
    best = saved.pop("best", None)
    for name in arrays:
        saved.pop(name)
    pos = position_from_json(meta["position"], best)
    return type(fresh)(**saved), pos, meta


def extend(
    pos: Position, meta: dict, step: int, plan, path: Path
) -> tuple[Position, str | None]:
    """The restored `pos` against this run's `plan` (maybe longer or shorter).

    A finished run whose `plan` has more epochs continues (its `done` is
    recomputed); one that a callback stopped early stays stopped. Returns
    the position and a log line (None when nothing changes).

    Raises:
      ValueError: if the checkpoint has done more epochs than `plan` holds,
        or the epochs it has done are not as long in `plan` (e.g. a GAN's
        last, shorter period: `train.steps` no multiple of `eval_every`).
    """
    done = pos.epoch + (pos.batch > 0)  # epochs begun, the one in progress too
    if done > plan.epochs:
        raise _checks.value_error(
            "resume",
            f"at least the {done} epoch(s) '{path}' has done in the config "
            "(train.epochs; train.steps / eval_every for a GAN)",
            f"{plan.epochs}",
            "a run cannot be shortened: keep the config's length, or start a "
            "new run with --workdir elsewhere",
        )
    if not pos.done:
        return pos, None
    if meta.get("stopped_early"):
        return pos, (
            f"the run was stopped early by a callback after epoch {pos.epoch} "
            f"of {plan.epochs}: it stays stopped (to train on, start a new run "
            "with train.init_from)"
        )
    if sum(plan.num_batches(e) for e in range(plan.epochs)) == step:
        return pos, None  # finished at this very length
    _check_same_epochs(pos, step, plan, path)  # e.g. a GAN's short last period
    line = (
        f"extending the finished run from {pos.epoch} to {plan.epochs} epochs "
        f"at step {step}: the learning-rate schedule is rebuilt for the new "
        "length and continues from this step (a decayed schedule rises again)"
    )
    return pos._replace(done=False), line


def _check_same_epochs(pos: Position, step: int, plan, path: Path) -> None:
    """Raise unless `plan`'s first `pos.epoch` epochs hold `step` steps."""
    expected = sum(plan.num_batches(e) for e in range(pos.epoch))
    if expected != step:
        raise _checks.value_error(
            "resume",
            f"the config's first {pos.epoch} epoch(s) to hold the {step} steps "
            f"'{path}' has done",
            f"{expected} steps",
            "for a GAN, extend a run whose train.steps is a multiple of "
            "train.eval_every; for a supervised run, keep the batch size",
        )


def describe(path: Path, state, pos: Position) -> str:
    """One log line saying where a resumed run continues."""
    where = "finished" if pos.done else f"epoch {pos.epoch + 1}, batch {pos.batch}"
    return f"resuming from {path} at step {int(state.step)} ({where})"
