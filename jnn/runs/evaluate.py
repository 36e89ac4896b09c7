"""`scripts/evaluate.py`'s library side: evaluate a saved run, write its report."""

import json
from pathlib import Path

from jnn.runs.restore import load_run


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


def write_report(result: dict, path: str | Path) -> Path:
    """Save `result` as JSON (e.g. `RUN/eval_test.json`)."""
    path = Path(path)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
