"""Restore a saved run and evaluate it with a jitted step (`scripts/evaluate.py`)."""

import json
from pathlib import Path

from jnn import _checks
from jnn import config as config_lib
from jnn.train import loop, setup
from jnn.runs import checkpoint, resume


def resolve_checkpoint(path: str | Path, where: str = "evaluate") -> Path:
    """Accept a run directory (its latest checkpoint) or a checkpoint directory.

    Raises:
      FileNotFoundError: if `path` does not exist or holds no checkpoint.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{where}: expected a run or checkpoint directory, got {str(path)!r} (does not exist)."
        )
    if (path / "manifest.json").exists():
        return path
    found = checkpoint.latest(path / "checkpoints")
    if found is None:
        raise FileNotFoundError(
            f"{where}: expected checkpoints under {str(path / 'checkpoints')!r}, got none. Hint: pass a run directory written by scripts/train.py."
        )
    return found


def evaluate(path: str | Path, split: str = "test") -> dict:
    """Restore the checkpoint at `path` and return metrics on `split`.

    The config saved in the checkpoint rebuilds the exact data split and model.

    Raises:
      ValueError: if `split` is not train, val or test.
    """
    _checks.one_of("evaluate", "split", split, ("train", "val", "test"))
    ckpt = resolve_checkpoint(path)
    _, meta = checkpoint.restore_metadata(ckpt)
    cfg = config_lib.from_dict(meta["config"], source=f"{ckpt}/manifest.json")
    run = setup.build(cfg)
    fresh = setup.initial_state(run, cfg.train.seed)
    tree, _ = checkpoint.restore(ckpt, resume.template(fresh, meta))
    tree.pop("best", None)  # an early-stopping copy, not the state at `step`
    ts = fresh._replace(**tree)
    setup.check_params(run, ts.params, "evaluate")  # before anything is traced
    _, eval_step = setup.jitted_steps(run, cfg)
    data = getattr(run.splits, split)
    metrics = loop.evaluate(
        eval_step, ts.params, ts.state, data.x, data.y, run.eval_batch_size
    )
    return {
        "checkpoint": str(ckpt),
        "split": split,
        "step": int(ts.step),
        "count": len(data.x),
        **metrics,
    }


def write_report(result: dict, path: str | Path) -> Path:
    """Save `result` as JSON next to the run (e.g. `RUN/eval_test.json`)."""
    path = Path(path)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
