"""Resuming a run: find its checkpoint, check its config, restore everything.

A checkpoint written by `fit` holds the `TrainState` arrays (plus the best
params under `best` when early stopping keeps them) and, as JSON metadata, the
config and the loop's `Position` (epoch, batch within it, running train-metric
sums, history, early-stopping monitor). Restoring both and regenerating the
epoch's data order from (seed, epoch) continues the run bitwise.

`--resume` modes: "auto" resumes when a checkpoint exists and otherwise starts
fresh with one log line; "required" raises when none exists; "never" starts
fresh and raises if the directory already has checkpoints (nothing is ever
silently overwritten).
"""

import json
from pathlib import Path

import jax.numpy as jnp

from jnn import _checks
from jnn import config as config_lib
from jnn.config import Config
from jnn.train import early_stopping
from jnn.runs import checkpoint
from jnn.train.loop import Position
from jnn.train.state import TrainState

MODES = ("auto", "required", "never")


def find(directory: str | Path, mode: str) -> Path | None:
    """Return the checkpoint to resume from in `directory` (None: start fresh).

    Raises:
      ValueError: if `mode` is not auto, required or never, or it is "never"
        and `directory` already holds checkpoints.
      FileNotFoundError: if `mode` is "required" and there is no checkpoint.
    """
    _checks.one_of("resume", "resume", mode, MODES)
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


def _plain(cfg: Config) -> dict:
    return json.loads(json.dumps(config_lib.to_dict(cfg)))  # tuples -> lists


def _resolved(saved: dict) -> dict:
    """The saved config with defaults filled in, so a field added to jnn since
    the checkpoint was written (at its default) is no difference; one that
    no longer loads is compared as saved."""
    try:
        return _plain(config_lib.from_dict(saved, source="checkpoint config"))
    except (ValueError, TypeError):
        return saved


def config_differences(saved: dict, cfg: Config) -> list[str]:
    """List `section.key: saved X, now Y` for every value that differs."""
    saved, now = _resolved(saved), _plain(cfg)
    lines = []
    for section in sorted(set(saved) | set(now)):
        old, new = saved.get(section, {}), now.get(section, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key, "<unset>") != new.get(key, "<unset>"):
                got = f"saved {old.get(key, '<unset>')!r}, now {new.get(key, '<unset>')!r}"
                lines.append(f"{section}.{key}: {got}")
    return lines


def check_config(saved: dict, cfg: Config, path: Path, *, allow: bool) -> list[str]:
    """Raise unless `cfg` equals the checkpoint's config (or `allow`).

    Returns the differences (empty, or those allowed) for the log.

    Raises:
      ValueError: naming every differing dotted key, unless `allow`.
    """
    lines = config_differences(saved, cfg)
    if lines and not allow:
        hint = "resume with the same config, or pass --allow-config-change"
        raise _checks.value_error(
            "resume",
            f"the config saved in '{path}'",
            f"{len(lines)} difference(s):\n  " + "\n  ".join(lines),
            hint,
        )
    return lines


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
    """The JSON form of a `Position`; arrays (best params) go in the tree.

    Device sums become Python numbers (float32 -> float is exact); `fit` has
    settled the position (`loop.settle`) before it gets here.
    """
    monitor = list(pos.monitor) if pos.monitor is not None else None
    return {
        "epoch": pos.epoch,
        "batch": pos.batch,
        "count": float(pos.count),
        "skipped": int(pos.skipped),
        "totals": sums_to_json(pos.totals),
        "history": list(pos.history),
        "monitor": monitor,
        "has_best": pos.best is not None,
        "done": pos.done,
    }


def position_from_json(data: dict, best: dict | None) -> Position:
    """Rebuild a `Position` (device sums with their saved dtype, bit for bit)."""
    totals = sums_from_json(data["totals"])
    monitor = data["monitor"]
    if monitor is not None:
        monitor = early_stopping.Monitor(float(monitor[0]), *monitor[1:])
    return Position(
        epoch=data["epoch"],
        batch=data["batch"],
        totals=totals,
        count=data["count"],
        skipped=data["skipped"],
        history=tuple(data["history"]),
        monitor=monitor,
        best=(best["params"], best["state"]) if best is not None else None,
        done=data["done"],
    )


def tree(ts: TrainState, pos: Position) -> dict:
    """The arrays a run checkpoint holds: the TrainState, and best params if kept."""
    out = ts._asdict()
    if pos.best is not None:
        out["best"] = {"params": pos.best[0], "state": pos.best[1]}
    return out


def template(fresh: TrainState, meta: dict) -> dict:
    """The restore template for a checkpoint, built from a fresh TrainState."""
    out = fresh._asdict()
    if meta.get("position", {}).get("has_best"):
        out["best"] = {"params": fresh.params, "state": fresh.state}
    return out


def check_position(meta: dict, path: Path, writer: str) -> None:
    """Raise unless checkpoint metadata `meta` holds a loop position.

    Raises:
      ValueError: naming the checkpoint and the `writer` that makes such ones.
    """
    if not isinstance(meta.get("position"), dict):
        raise _checks.value_error(
            "resume",
            f"a run checkpoint with a loop position in '{path}'",
            "none",
            f"only checkpoints written by {writer} can be resumed",
        )


def restore(path: Path, fresh: TrainState) -> tuple[TrainState, Position, dict]:
    """Restore a run checkpoint into `fresh`'s structure: (state, position, meta).

    Raises:
      ValueError: if the checkpoint lacks a loop position (not written by
        `fit`), or any `checkpoint.restore` error (corruption, tree mismatch).
    """
    _, meta = checkpoint.restore_metadata(path)
    check_position(meta, path, "jnn.train.fit")
    arrays, meta = checkpoint.restore(path, template(fresh, meta))
    best = arrays.pop("best", None)
    pos = position_from_json(meta["position"], best)
    return TrainState(**arrays), pos, meta


def describe(path: Path, ts: TrainState, pos: Position) -> str:
    """One log line saying where a resumed run continues."""
    where = "finished" if pos.done else f"epoch {pos.epoch + 1}, batch {pos.batch}"
    return f"resuming from {path} at step {int(ts.step)} ({where})"
