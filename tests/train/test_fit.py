"""`fit` end to end: smoke run, determinism, evaluation round trip, accuracy."""

import json
from dataclasses import replace
from pathlib import Path

import jax
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.config import Config
from jnn.data.config import DigitsConfig
from jnn.models.config import MlpConfig, SerialConfig
from jnn.runs.evaluate import evaluate
from jnn.train import fit_config
from jnn.train.config import EarlyStoppingConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def tiny_digits(**train) -> Config:
    return Config(
        data=DigitsConfig(),
        model=MlpConfig(hidden=(32,)),
        train=TrainConfig(**{"epochs": 2, "batch_size": 100, **train}),
    )


def test_smoke_writes_a_complete_run_directory(tmp_path):
    cfg = tiny_digits()
    lines = []
    result = fit_config(cfg, tmp_path / "run", log=lines.append)
    run = tmp_path / "run"
    assert len(result.history) == 2 and len(lines) == 5  # + the start block
    assert lines[0].endswith("starting a fresh run")
    records = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(records[0])
    assert config_lib.load(run / "config.toml") == cfg
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["accuracy"] == pytest.approx(result.test["accuracy"])
    assert (run / results["checkpoint"] / "manifest.json").exists()


def test_same_seed_same_config_gives_bitwise_identical_params():
    cfg = tiny_digits()
    a, b = fit_config(cfg, log=None), fit_config(cfg, log=None)
    leaves_a, leaves_b = jax.tree.leaves(a.state), jax.tree.leaves(b.state)
    for u, v in zip(leaves_a[:-1], leaves_b[:-1], strict=True):  # last leaf: key
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    c = fit_config(replace(cfg, train=replace(cfg.train, seed=1)), log=None)
    assert not np.array_equal(
        a.state.params["output"]["weight"],
        c.state.params["output"]["weight"],
    )


def test_evaluate_reproduces_the_training_runs_metrics(tmp_path):
    result = fit_config(tiny_digits(), tmp_path / "run", log=None)
    for split in ("test", "val"):
        got = evaluate(tmp_path / "run", split)
        want = result.test if split == "test" else result.history[-1]
        key = "accuracy" if split == "test" else "val_accuracy"
        assert got[key.removeprefix("val_")] == pytest.approx(want[key], abs=1e-7)


def test_evaluate_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="expected checkpoints under"):
        evaluate(tmp_path)


def test_model_output_must_match_the_classes():
    cfg = replace(
        tiny_digits(),
        model=SerialConfig(
            layers=({"type": "flatten"}, {"type": "dense", "features": 5}),
        ),
    )
    with pytest.raises(ValueError, match=r"outputs of shape \(B, 10\).*got \(100, 5\)"):
        fit_config(cfg, log=None)


@pytest.mark.slow
def test_default_config_reaches_97_percent_on_digits(tmp_path):
    cfg = config_lib.load(ROOT / "configs" / "mlp_digits.toml")
    result = fit_config(cfg, log=None)
    assert result.test["accuracy"] >= 0.97, result.test


def test_early_stopping_restores_best_epoch(tmp_path):
    cfg = replace(
        tiny_digits(epochs=30),
        early_stopping=EarlyStoppingConfig(
            enabled=True, monitor="val_loss", patience=2
        ),
    )
    result = fit_config(cfg, log=None)
    losses = [r["val_loss"] for r in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1
