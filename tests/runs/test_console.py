"""The engine's console: the start block and short epoch lines."""

import jax
import numpy as np
import optax
import pytest

from jnn import config as config_lib
from jnn import models
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs import console
from jnn.train import fit, fit_config
from jnn.train.config import TrainConfig

SUPERVISED = {
    "epoch": 3,
    "step": 120,
    "train_loss": 0.123456,
    "train_objective": 0.123456,  # no penalty: the same as the loss
    "train_grad_norm": 1.5,
    "train_accuracy": 0.98123,
    "val_loss": 0.1,
    "val_accuracy": 0.97,
    "lr": 1e-3,
    "time_s": 0.1234,
}


def test_an_epoch_line_is_short_and_leaves_out_repeats():
    line = console.format_record(SUPERVISED, 50)
    assert line == (
        "ep 3/50 step 120 loss 0.1235 acc 0.9812 | val loss 0.1 acc 0.97 "
        "| lr 1.0e-03 0.12s"
    )
    penalised = console.format_record({**SUPERVISED, "train_objective": 0.2}, 50)
    assert "objective 0.2" in penalised and "grad_norm" not in penalised


def test_epoch_lines_fit_100_columns_by_dropping_whole_fields():
    many = {**SUPERVISED, **{f"val_metric_{i}": 0.123456 for i in range(12)}}
    line = console.format_record(many, 1000)
    assert len(line) <= 100
    assert line.startswith("ep 3/1000 step 120 loss 0.1235 acc 0.9812 | val loss 0.1")
    assert line.endswith("| lr 1.0e-03 0.12s")
    for field in line.split(" | ")[1].split(" ")[2::2]:  # no number cut in half
        assert field in {"0.1", "0.97", "0.1235"}
    gan = {"epoch": 2, "step": 1000, "train_d_loss": 1.3, "train_g_loss": 0.7}
    gan |= {"train_d_real": 0.5, "train_d_fake": -0.5, "modes": 8.0}
    gan |= {"high_quality": 0.91, "skipped_steps": 0, "time_s": 3.0}
    line = console.format_record(gan, 12)
    assert line == (
        "ep 2/12 step 1000 d_loss 1.3 g_loss 0.7 d_real 0.5 d_fake -0.5 "
        "| modes 8 hq 0.91 skipped 0 | 3.00s"
    )


def _tiny(epochs=2):
    return Config(
        data=SyntheticConfig(name="moons", num_samples=64),
        model=MlpConfig(hidden=(4,)),
        train=TrainConfig(epochs=epochs, batch_size=16),
    )


def _block(log: list[str]) -> list[str]:
    (block,) = [x for x in log if x.startswith("start ")]
    return block.split("\n")


def test_a_config_run_starts_with_the_start_block(tmp_path):
    log = []
    result = fit_config(_tiny(), tmp_path / "run", log=log.append, progress=False)
    lines = _block(log)
    assert lines[0] == "start supervised run"
    facts = {}
    for line in lines[1:]:  # "  label   text", continued by indented lines
        if line[2] != " ":
            label, text = line.split(None, 1)
            facts[label] = text
        else:
            facts[label] += " " + line.strip()
    assert facts["run"] == str(tmp_path / "run")
    assert str(jax.devices()[0]) in facts["devices"]
    count = sum(leaf.size for leaf in jax.tree.leaves(result.state.params))
    assert facts["params"].startswith(f"{count:,} in ")
    assert facts["data"].startswith("train 46, val 5, test 13 examples of 2; batch 16")
    expected = "data.name=moons, data.num_samples=64, model.hidden=[4], "
    assert facts["config"] == expected + "train.epochs=2, train.batch_size=16"
    assert all(len(line) <= 100 for line in lines)
    epochs = [x for x in log if x.startswith("ep ")]
    assert len(epochs) == 2 and all(len(x) <= 100 for x in epochs)


def test_the_config_line_compares_other_kinds_with_their_own_defaults():
    from jnn.train.supervised_run import config_changes

    cfg = config_lib.load("configs/xor_mlp.toml")
    changed = config_changes(cfg).split(", ")
    assert "optim.name=sgd" in changed and "optim.lr=0.5" in changed
    assert not any(c.startswith("optim.momentum") for c in changed)  # sgd's default
    assert config_changes(config_lib.defaults()) == "the defaults"


def test_a_python_run_has_no_config_line():
    x = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    log = []
    fit(
        models.mlp((4,), 2),
        "sparse_softmax_cross_entropy",
        optax.adam(1e-2),
        (x, y),
        epochs=1,
        batch_size=10,
        log=log.append,
        progress=False,
    )
    lines = _block(log)
    assert lines[-1].split()[0] == "data" and "train 20, val 0, test 0" in lines[-1]
    assert not any(line.split()[0] == "config" for line in lines[1:])


@pytest.mark.parametrize("seconds", [1.5])
def test_the_final_line_is_unchanged(seconds):
    assert (
        console.format_test({"loss": 0.5}, seconds, {})
        == "done in 1.5s  test_loss 0.5000"
    )
