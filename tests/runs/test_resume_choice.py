"""Choosing the checkpoint to resume: `--resume STEP`, and falling back past a
corrupt newest checkpoint with a warning that names it."""

from pathlib import Path

import jax
import numpy as np
import pytest

from jnn import cli
from jnn import config as config_lib
from jnn.runs import checkpoint
from jnn.train import fit_config

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate

XOR = Path(__file__).resolve().parents[2] / "configs" / "xor_mlp.toml"
SETS = ["train.epochs=3", "train.checkpoint_every=1"]  # one step an epoch


def _run(workdir, log=None):
    cfg = config_lib.load(XOR, SETS)
    return fit_config(cfg, workdir, log=log, progress=False)


def _flip_a_byte(ckpt: Path) -> None:
    data = bytearray((ckpt / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (ckpt / "arrays.npz").write_bytes(bytes(data))


def _same(a, b) -> None:
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_a_corrupt_newest_checkpoint_is_skipped_with_a_warning(tmp_path):
    whole = _run(tmp_path / "whole")
    _run(tmp_path / "run")
    newest = checkpoint.latest(tmp_path / "run" / "checkpoints")
    assert newest.name == "ckpt_00000003"
    _flip_a_byte(newest)
    lines = []
    again = _run(tmp_path / "run", log=lines.append)
    assert lines[0].startswith(f"warning: skipping corrupt checkpoint {newest}")
    assert "sha256" in lines[0] and "at step 2" in lines[1]
    _same(again.state, whole.state)  # epoch 3 trained again, to the same params
    checkpoint.restore_metadata(newest)  # rewritten whole by the resumed run


def test_every_checkpoint_corrupt_raises_the_oldest_ones_error(tmp_path):
    _run(tmp_path)
    for ckpt in checkpoint.all_checkpoints(tmp_path / "checkpoints"):
        _flip_a_byte(ckpt)
    with pytest.raises(checkpoint.CorruptCheckpoint, match="ckpt_00000001"):
        _run(tmp_path)


def test_resume_from_a_chosen_step_and_a_missing_one(tmp_path, capsys):
    _run(tmp_path)
    args = [
        str(XOR),
        "--workdir",
        str(tmp_path),
        *[arg for s in SETS for arg in ("--set", s)],
    ]
    assert cli.train_main([*args, "--resume", "2"]) == 0
    assert "resuming from" in capsys.readouterr().out
    assert cli.train_main([*args, "--resume", "7"]) == 2
    err = capsys.readouterr().err
    assert "a checkpoint of step 7" in err and "steps 1, 2, 3" in err
    with pytest.raises(SystemExit):
        cli.train_main([*args, "--resume", "sometimes"])
    assert "a step number, got 'sometimes'" in capsys.readouterr().err
