"""The digits and MNIST GAN configs run end to end (tiny, unoptimised compiles)."""

import json
from pathlib import Path

import numpy as np
import pytest

from jnn import config as config_lib
from jnn import data
from jnn.train import fit_config

pytestmark = pytest.mark.usefixtures("fast_compiles")

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_digits_config_runs_and_judges(tmp_path):
    overrides = ["train.steps=2", "train.eval_every=1"]
    cfg = config_lib.load(CONFIGS / "gan_digits.toml", overrides)
    result = fit_config(cfg, tmp_path, log=None, progress=False)
    assert [r["step"] for r in result.history] == [1, 2]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["classifier_held_out_accuracy"] > 0.9
    assert results["real"]["confidence"] > 0.9
    assert 0.0 <= result.test["entropy_ratio"] <= 1.0


def _fake_mnist(directory: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    data.write_idx(directory / "train-images-idx3-ubyte.gz", images)
    labels = np.arange(60, dtype=np.uint8) % 10
    data.write_idx(directory / "train-labels-idx1-ubyte.gz", labels)


def test_mnist_config_runs_on_generated_idx_files(tmp_path):
    _fake_mnist(tmp_path)
    overrides = [
        f'data.dir="{tmp_path.as_posix()}"',
        "train.steps=1",
        "gan.num_eval_samples=8",
        "train.batch_size=8",
        "gan.g_channels=[8, 4]",  # the config's DCGAN, narrowed: CI checks wiring
        "gan.d_channels=[4, 8]",
    ]
    cfg = config_lib.load(CONFIGS / "gan_mnist.toml", overrides)
    result = fit_config(cfg, None, log=None, progress=False)
    final = result.history[-1]
    assert np.isfinite(final["train_g_loss"]) and final["step"] == 1
