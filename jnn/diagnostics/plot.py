"""Learning curves of a run directory as a PNG (`scripts/plot.py RUN_DIR`).

matplotlib is optional (the `plot` and `test` extras), so it is imported only
when a plot is drawn, and its absence is a fix-it error. The figure is built
with `matplotlib.figure.Figure` and the Agg canvas directly, not pyplot: no
global figure state, no GUI backend, safe in scripts and tests.
"""

import json
from pathlib import Path

from jnn import _checks

_SKIP = ("epoch", "step", "time_s", "lr", "loss", "objective")  # not a "metric"


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The per-epoch records of `RUN_DIR/metrics.jsonl`.

    Raises:
      FileNotFoundError: if the run has no metrics.jsonl.
      ValueError: if it holds no records, or a line is not JSON.
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"plot: expected a run directory with metrics.jsonl, got {str(run_dir)!r}"
            " (no such file). Hint: pass the workdir given to scripts/train.py."
        )
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            got = f"line {number}: {error.msg}"
            raise _checks.value_error("plot", f"JSON lines in {path}", got) from None
    if not records:
        raise _checks.value_error("plot", f"at least one epoch in {path}", "none")
    return records


def metric_name(records: list[dict]) -> str | None:
    """The metric plotted beside the loss: the first train_/val_ key not a loss.

    Example:
      >>> metric_name([{"train_loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5}])
      'accuracy'
    """
    for key in records[0]:
        name = key.removeprefix("train_").removeprefix("val_")
        if key != name and name not in _SKIP:
            return name
    return None


def new_figure(**kwargs):
    """A matplotlib `Figure` on an Agg canvas, without pyplot or a backend switch.

    jnn's plots (learning curves, GAN curves, gradient flow) all start here:
    matplotlib is optional, so it is imported only now.

    Raises:
      ImportError: with an install hint, if matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plot: expected matplotlib to be installed, got ImportError. "
            "Hint: pip install 'jnn[plot]' (or matplotlib)."
        ) from None
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _panel(ax, records: list[dict], name: str) -> None:
    for split, style in (("train", "-o"), ("val", "-s")):
        points = [
            (r["epoch"], r[f"{split}_{name}"])
            for r in records
            if f"{split}_{name}" in r
        ]
        if points:
            epochs, values = zip(*points, strict=True)
            ax.plot(epochs, values, style, markersize=3, label=f"{split} {name}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    ax.legend()


def figure(records: list[dict], title: str):
    """A matplotlib `Figure`: a loss panel and, if there is one, a metric panel.

    Raises:
      ImportError: if matplotlib is not installed.
    """
    panels = ["loss"] + [n for n in [metric_name(records)] if n]
    fig = new_figure(figsize=(5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, name in zip(axes, panels, strict=True):
        _panel(ax, records, name)
        ax.set_title(name)
    fig.suptitle(title)
    return fig


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw loss (and the metric, if any) over epochs, train vs validation.

    Args:
      run_dir: A run directory written by `jnn.train.fit`.
      out: The PNG to write; default `RUN_DIR/curves.png`.

    Returns:
      The path of the PNG.

    Raises:
      FileNotFoundError: if `run_dir` has no metrics.jsonl.
      ValueError: if metrics.jsonl is empty or malformed.
      ImportError: if matplotlib is not installed.
    """
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    fig = figure(records, f"{run_dir.resolve().name}: {len(records)} epochs")
    out = Path(out) if out is not None else run_dir / "curves.png"
    fig.savefig(out, dpi=100)
    return out
