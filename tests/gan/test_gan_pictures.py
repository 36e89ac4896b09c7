"""The GAN's pictures: the ring scatter, and `scripts/plot.py` on a GAN run."""

import builtins
import importlib.util
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from jnn import config as config_lib
from jnn.diagnostics import plot
from jnn.gan import data, png, task
from jnn.train import fit_config

pytestmark = pytest.mark.usefixtures("fast_compiles")  # wiring, not speed
ROOT = Path(__file__).resolve().parents[2]
SMALL = [  # as in test_gan_engine: a 40-step ring run, evaluated twice
    "train.steps=40",
    "train.eval_every=20",
    "train.batch_size=32",
    "gan.num_eval_samples=200",
    "data.num_samples=256",
]
RING = SimpleNamespace(data=SimpleNamespace(radius=2.0))  # what sample_picture reads


def _png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", Path(path).read_bytes()[16:24])  # IHDR width, height


def _no_matplotlib(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):  # fails even if already imported
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)


def test_ring_picture_is_a_matplotlib_scatter_with_the_modes_marked():
    pytest.importorskip("matplotlib")
    samples = data.ring(300, radius=2.0, std=0.05, seed=0)
    picture = task.sample_picture(RING, samples)
    assert picture.dtype == np.uint8 and picture.shape == (500, 500, 3)
    red = (picture[..., 0] > 180) & (picture[..., 1] < 80) & (picture[..., 2] < 80)
    assert red.sum() > 100  # the 8 crosses and their legend entry


def test_ring_picture_without_matplotlib_is_the_dependency_free_scatter(
    monkeypatch,
):
    _no_matplotlib(monkeypatch)
    samples = data.ring(300, radius=2.0, std=0.05, seed=0)
    marks = data.ring_centres(2.0)
    expected = png.scatter_image(samples, extent=3.0, marks=marks)
    np.testing.assert_array_equal(task.sample_picture(RING, samples), expected)


def test_plot_script_on_a_gan_run_keeps_every_panel_of_its_curves(tmp_path):
    pytest.importorskip("matplotlib")
    cfg = config_lib.load(ROOT / "configs" / "gan_ring.toml", SMALL)
    fit_config(cfg, tmp_path, log=None, progress=False)
    assert _png_size(tmp_path / "samples.png") == (500, 500)  # the scatter
    own = (tmp_path / "curves.png").read_bytes()
    spec = importlib.util.spec_from_file_location("plot", ROOT / "scripts/plot.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(tmp_path)]) == 0
    redrawn = (tmp_path / "curves.png").read_bytes()
    fig = plot.figure(plot.read_metrics(tmp_path), "gan")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "discriminator", "modes", "high_quality"]
    assert all(ax.get_lines() for ax in fig.axes)  # every panel has its curves
    empty = tmp_path / "empty.png"
    plot.new_figure(figsize=(15, 8)).savefig(empty, dpi=100)
    assert len(redrawn) > max(len(own), 2 * empty.stat().st_size)
