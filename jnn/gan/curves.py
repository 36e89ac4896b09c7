"""Training curves of a GAN run as PNG: both losses and the quality measure.

matplotlib is optional (the `plot` and `test` extras); `jnn.diagnostics.plot.new_figure`
imports it only when a plot is drawn.
"""

from collections.abc import Sequence
from pathlib import Path

from jnn.diagnostics.plot import new_figure


def plot_curves(records: Sequence[dict], path, quality: Sequence[str]) -> Path:
    """Plot the mean d_loss and g_loss, and each `quality` key, against the step.

    Args:
      records: metrics.jsonl rows with "step", "train_d_loss",
        "train_g_loss" and the quality keys (rows without them are skipped
        for that curve).
      path: PNG file to write.
      quality: Names of the quality measures, e.g. ("modes", "high_quality").

    Raises:
      ImportError: with an install hint, if matplotlib is missing.
    """
    fig = new_figure(figsize=(5 * (1 + len(quality)), 3.6))
    axes = fig.subplots(1, 1 + len(quality), squeeze=False)[0]
    for name in ("train_d_loss", "train_g_loss"):
        steps = [r["step"] for r in records if name in r]
        axes[0].plot(steps, [r[name] for r in records if name in r], label=name)
    axes[0].set(title="losses", xlabel="generator step")
    axes[0].legend()
    for ax, name in zip(axes[1:], quality, strict=True):
        rows = [r for r in records if name in r]
        ax.plot([r["step"] for r in rows], [r[name] for r in rows], marker="o")
        ax.set(title=name, xlabel="generator step")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    return path
