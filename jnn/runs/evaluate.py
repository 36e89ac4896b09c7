"""`scripts/evaluate.py`'s library side: evaluate a saved run, write its report."""

import json
from pathlib import Path

from jnn.runs.restore import load_run, run_dir


def evaluate(path: str | Path, split: str = "test") -> dict:
    """Load the run at `path` and return its metrics on `split` as a report.

    The config saved with the run rebuilds the exact data split and model
    (`jnn.load_run(path).evaluate(split)`); the values equal the run's logs.

    Raises:
      ValueError: if `split` is not train, val or test.
      FileNotFoundError: if `path` holds no checkpoint.
    """
    run = load_run(path)
    metrics = run.evaluate(split)
    return {
        "checkpoint": str(run.checkpoint),
        "split": split,
        "step": run.step,
        **metrics,
    }


def report_path(checkpoint: str | Path, split: str, out: str | Path | None = None):
    """Where `scripts/evaluate.py` saves the report of `checkpoint` on `split`.

    `out` if given; else `eval_<split>.json` in the checkpoint's run
    directory when that is one (it holds config.toml), else beside the
    checkpoint folder (one copied out of its run), never higher up.
    """
    if out is not None:
        return Path(out)
    checkpoint = Path(checkpoint).resolve()
    folder = run_dir(checkpoint)
    if not (folder / "config.toml").is_file():
        folder = checkpoint.parent
    return folder / f"eval_{split}.json"


def write_report(result: dict, path: str | Path) -> Path:
    """Save `result` as JSON (e.g. `RUN/eval_test.json`), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
