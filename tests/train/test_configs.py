"""Every shipped config loads, builds and trains a CI-sized run."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from jnn import config as config_lib
from jnn import data
from jnn.train import fit_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
CONFIGS = sorted(CONFIG_DIR.glob("*.toml"))


# Configs whose one full epoch is too long for CI run smaller here.
TINY_TRANSFORMER = ("model.features=16", "model.blocks=1", "model.num_heads=2")
TINY_TRANSFORMER += ("model.mlp_features=16",)
CI_OVERRIDES = {
    "vit_digits.toml": [
        *TINY_TRANSFORMER,
        "train.batch_size=256",
        "optim.warmup_steps=0",
    ],
}


def _short(cfg, epochs=1):
    return replace(cfg, train=replace(cfg.train, epochs=epochs))


# MNIST configs run below on generated files; GAN configs in tests/gan; the
# arrays config (your own file) in tests/data/test_arrays_config.py.
SUPERVISED = [
    p for p in CONFIGS if not any(part in p.name for part in ("mnist", "gan", "arrays"))
]
# Shipped configs another test already trains from their file (asserted
# below), each to a measured result: no second one-epoch run here.
TRAINED_ELSEWHERE = {
    "mlp_digits.toml": "tests/train/test_fit.py",
    "char_lstm.toml": "tests/models/test_sequence_tasks.py",
    "char_transformer.toml": "tests/generation/test_transformer_lm.py",
    "sine_lstm.toml": "tests/data/test_sine.py",
}


pytestmark = pytest.mark.usefixtures("fast_compiles")  # wiring: one epoch each


def test_every_config_is_covered():
    gan = {p.name for p in CONFIGS if p.name.startswith("gan_")}
    assert gan == {"gan_digits.toml", "gan_mnist.toml", "gan_ring.toml"}
    assert all(config_lib.load(CONFIG_DIR / n).train.task == "gan" for n in gan)


def test_configs_trained_elsewhere_are_trained_there():
    for name, test_file in TRAINED_ELSEWHERE.items():
        text = (CONFIG_DIR.parent / test_file).read_text()
        trains = ("fit_config(", "char_lm_trains_and_samples(")
        assert name in text and any(t in text for t in trains), (name, test_file)


@pytest.mark.parametrize(
    "path", [p for p in SUPERVISED if p.name not in TRAINED_ELSEWHERE], ids=str
)
def test_config_trains_one_epoch(path):
    cfg = _short(config_lib.load(path, CI_OVERRIDES.get(path.name, [])))
    result = fit_config(cfg, log=None)
    assert len(result.history) == 1
    assert np.isfinite(result.history[0]["train_loss"])


def test_xor_config_learns_xor():
    cfg = config_lib.load(CONFIG_DIR / "xor_mlp.toml")
    assert fit_config(cfg, log=None).test["accuracy"] == 1.0


def _fake_mnist(directory: Path, rng) -> None:
    for split, n in (("train", 120), ("t10k", 40)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        data.write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
        data.write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels)


@pytest.mark.parametrize("name", ["cnn_mnist.toml", "mnist_mlp.toml"])
def test_mnist_configs_run_on_generated_idx_files(tmp_path, name):
    _fake_mnist(tmp_path, np.random.default_rng(0))
    overrides = [
        f'data.dir="{tmp_path.as_posix()}"',
        "train.batch_size=32",
        "optim.warmup_steps=0",  # 1 epoch of 4 steps is shorter than the warmup
    ]
    cfg = _short(config_lib.load(CONFIG_DIR / name, overrides))
    result = fit_config(cfg, log=None)
    assert result.test and 0.0 <= result.test["accuracy"] <= 1.0
