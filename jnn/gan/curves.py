"""GAN pictures drawn with matplotlib: training curves and the ring's scatter.

matplotlib is optional (the `plot` and `test` extras); `jnn.diagnostics.plot.new_figure`
imports it only when a plot is drawn.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jnn.diagnostics.plot import new_figure, pixels


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


def ring_scatter(samples: np.ndarray, centres: np.ndarray, extent: float) -> np.ndarray:
    """A scatter of 2-D `samples` with the true mode `centres`, as uint8 RGB.

    Axes, the centres as red crosses and a legend: what the dependency-free
    `jnn.gan.png.scatter_image` cannot draw.

    Args:
      samples: (N, 2) generated points.
      centres: (M, 2) true mode centres, e.g. `jnn.gan.data.ring_centres`.
      extent: Both axes span [-extent, extent].

    Returns:
      An image (H, W, 3) uint8, for `jnn.gan.png.write_png`.

    Raises:
      ImportError: with an install hint, if matplotlib is missing.
    """
    samples, centres = np.asarray(samples), np.asarray(centres)
    fig = new_figure(figsize=(5, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    modes = f"true modes ({len(centres)})"
    ax.scatter(*centres.T, s=160, marker="x", linewidths=2, c="tab:red", label=modes)
    ax.scatter(*samples.T, s=4, alpha=0.6, c="tab:blue", label="samples")  # on top
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="x", ylabel="y")
    ax.set_aspect("equal")
    ax.set_title(f"{len(samples)} samples")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return pixels(fig)
