"""GAN runs get every feature of the one run engine: metrics.csv, TensorBoard,
checkpoint cadence in steps and retention, the non-finite guard, and each
model's optimizer from its own config section."""

import csv
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.runs import checkpoint, tensorboard
from jnn.train import fit_config, numerics, optim

pytestmark = pytest.mark.usefixtures("fast_compiles")  # wiring, not speed
RING = Path(__file__).resolve().parents[2] / "configs" / "gan_ring.toml"
SMALL = [
    "train.steps=40",
    "train.eval_every=20",
    "train.batch_size=32",
    "gan.num_eval_samples=200",
    "data.num_samples=256",
]


def run(workdir, *overrides):
    cfg = config_lib.load(RING, [*SMALL, *overrides])
    return fit_config(cfg, workdir, log=None, progress=False)


def test_metrics_csv_tensorboard_checkpoint_cadence_and_retention(tmp_path):
    every = ("train.checkpoint_every_steps=10", "train.keep_checkpoints=2")
    run(tmp_path, "train.tensorboard=true", *every)
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [20, 40]
    assert {"train_d_loss", "train_g_loss", "modes", "high_quality"} <= set(rows[0])
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(s) for s in lines]
    assert float(rows[1]["train_g_loss"]) == pytest.approx(records[1]["train_g_loss"])
    (events,) = (tmp_path / "tensorboard").iterdir()
    tags = {tag for _, _, tag, _ in tensorboard.read_scalars(events)}
    assert {"d_loss/train", "g_loss/train", "quality/modes"} <= tags
    kept = [p.name for p in checkpoint.all_checkpoints(tmp_path / "checkpoints")]
    assert kept == ["ckpt_00000030", "ckpt_00000040"]  # saved at 10, 20, 30, 40
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["checkpoint"] == "checkpoints/ckpt_00000040"


def test_nonfinite_generator_update_stops_naming_the_leaf(tmp_path):
    with pytest.raises(numerics.NonFiniteError, match=r"params\['generator'\]|loss"):
        run(tmp_path, "optim.generator.lr=1e30", "optim.generator.name=sgd")


def test_skip_mode_drops_nonfinite_updates(tmp_path):
    result = run(
        tmp_path,
        "optim.generator.lr=1e30",
        "optim.generator.name=sgd",
        "train.on_nonfinite=skip",
    )
    assert sum(r["skipped_steps"] for r in result.history) > 0
    leaves = jax.tree.leaves((result.state.g_params, result.state.d_params))
    assert all(np.all(np.isfinite(np.asarray(v))) for v in leaves)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_each_models_optimizer_comes_from_its_section(tmp_path, name):
    result = run(tmp_path, f"optim.discriminator.name={name}", "train.steps=20")
    cfg = config_lib.load(RING, [*SMALL, f"optim.discriminator.name={name}"])
    gs = result.state
    want_d = optim.build(cfg.optim.discriminator, 20).init(gs.d_params)
    want_g = optim.build(cfg.optim.generator, 20).init(gs.g_params)
    assert jax.tree.structure(gs.d_opt) == jax.tree.structure(want_d)
    assert jax.tree.structure(gs.g_opt) == jax.tree.structure(want_g)  # adam
