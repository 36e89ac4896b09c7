"""Learning curves of a run directory as a PNG (`scripts/plot.py RUN_DIR`).

One rule (`panels`) draws every run kind: classification, regression, text
and GAN runs alike, each from its metrics.jsonl keys.

matplotlib is optional (the `plot` and `test` extras), so it is imported only
when a plot is drawn, and its absence is a fix-it error. The figure is built
with `matplotlib.figure.Figure` and the Agg canvas directly, not pyplot: no
global figure state, no GUI backend, safe in scripts and tests.
"""

import json
from pathlib import Path

import numpy as np

from jnn import _checks

_NOT_CURVES = ("epoch", "step", "time_s", "lr", "skipped_steps")  # not drawn
_GROUPS = {"d_real": "discriminator", "d_fake": "discriminator"}  # one panel
_LOG_SPAN = 10.0  # a loss whose max/min exceeds this gets a log axis


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


def pixels(fig) -> np.ndarray:
    """Render a `new_figure` figure to a uint8 RGB image (H, W, 3).

    For pictures that other code writes (e.g. with `jnn.gan.png.write_png`).
    """
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def panels(records: list[dict]) -> dict[str, list[str]]:
    """The record keys to draw, grouped into panels, in first-seen order.

    Every kind of run gets its curves from the same rule: `<split>_<name>`
    keys of a split in ("train", "val") go in the panel `name`, except losses
    (`loss`, a GAN's `d_loss` and `g_loss`), which share the "loss" panel, and
    a GAN's `d_real` / `d_fake`, which share "discriminator". Loss comes
    first. Other numeric keys are a task's quality measures (`modes`,
    `confidence`, ...), one panel each. Counters, timing, the learning rate
    and `objective` (the loss plus its penalty) are not drawn.

    Example:
      >>> panels([{"epoch": 1, "train_loss": 1.0, "val_accuracy": 0.5}])
      {'loss': ['train_loss'], 'accuracy': ['val_accuracy']}
      >>> panels([{"train_d_loss": 1.0, "train_g_loss": 1.0, "modes": 3}])
      {'loss': ['train_d_loss', 'train_g_loss'], 'modes': ['modes']}
    """
    out: dict[str, list[str]] = {}
    for key in dict.fromkeys(k for r in records for k in r):
        values = [r[key] for r in records if key in r]
        if key in _NOT_CURVES or not all(map(_is_number, values)):
            continue
        split, _, name = key.partition("_")
        if split not in ("train", "val") or not name:
            panel = key  # a quality measure
        elif name == "objective":
            continue
        else:
            panel = "loss" if name.endswith("loss") else _GROUPS.get(name, name)
        out.setdefault(panel, []).append(key)
    return dict(sorted(out.items(), key=lambda item: item[0] != "loss"))  # loss first


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _label(key: str) -> str:
    split, _, name = key.partition("_")
    return f"{split} {name}" if split in ("train", "val") and name else key


def _spans_decades(values) -> bool:
    """Whether positive `values` span more than `_LOG_SPAN`: a log axis helps."""
    return bool(values) and min(values) > 0 and max(values) > _LOG_SPAN * min(values)


def _draw(ax, records: list[dict], name: str, keys: list[str], x: str) -> None:
    styles = iter(["-o", "-s", "-^", "-v", "-D"] * 4)
    drawn = []
    for key in keys:
        points = [(r[x], r[key]) for r in records if key in r and x in r]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, next(styles), markersize=3, label=_label(key))
            drawn += ys
    if name == "loss" and _spans_decades(drawn):
        ax.set_yscale("log")
    ax.set_xlabel("generator step" if x == "step" else "epoch")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    ax.legend()


def figure(records: list[dict], title: str):
    """A matplotlib `Figure` with one panel per entry of `panels(records)`.

    Loss first (train vs validation, or a GAN's d_loss vs g_loss; log scale
    when it spans more than a decade), then each metric and quality measure,
    three panels a row (four as 2x2). A GAN's curves are drawn against the
    generator step (its "epochs" are evaluation intervals), other runs'
    against the epoch.

    Raises:
      ValueError: if the records hold nothing to draw.
      ImportError: if matplotlib is not installed.
    """
    groups = panels(records)
    if not groups:
        got = f"only keys {sorted({k for r in records for k in r})}"
        raise _checks.value_error("plot", f"curves to draw in {title!r}", got)
    x = "step" if any("train_g_loss" in r for r in records) else "epoch"
    columns = 2 if len(groups) == 4 else min(len(groups), 3)  # 2x2, not 3+1
    rows = -(-len(groups) // columns)
    fig = new_figure(figsize=(5 * columns, 4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[len(groups) :]:
        fig.delaxes(ax)
    for ax, (name, keys) in zip(axes, groups.items(), strict=False):
        _draw(ax, records, name, keys, x)
        ax.set_title(name)
    fig.suptitle(title)
    return fig


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw a run's `figure`: losses, metrics and quality measures.

    Works for every run kind (classification, regression, text, GAN). For a
    GAN run the default `curves.png` is the GAN's own curves file: the figure
    drawn here holds all of its panels (losses, each quality measure) and the
    discriminator's outputs besides, so it never loses a curve.

    Args:
      run_dir: A run directory written by `jnn.train.fit` or `scripts/train.py`.
      out: The PNG to write; default `RUN_DIR/curves.png`.

    Returns:
      The path of the PNG.

    Raises:
      FileNotFoundError: if `run_dir` has no metrics.jsonl.
      ValueError: if metrics.jsonl is empty, malformed or holds no curves.
      ImportError: if matplotlib is not installed.
    """
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    if not panels(records):
        got = f"only keys {sorted({k for r in records for k in r})}"
        hint = "a run writes these once an epoch has trained and validated"
        where = f"losses, metrics or quality measures in {run_dir / 'metrics.jsonl'}"
        raise _checks.value_error("plot", where, got, hint)
    fig = figure(records, f"{run_dir.resolve().name}: {len(records)} epochs")
    out = Path(out) if out is not None else run_dir / "curves.png"
    fig.savefig(out, dpi=100)
    return out
