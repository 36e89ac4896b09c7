"""GAN runs from the shipped configs: scripts/train.py dispatch, run files,
measured quality on the ring, sampling from checkpoints."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import jnn
from jnn import cli
from jnn import config as config_lib
from jnn.gan import quality, sample, task
from jnn.runs import checkpoint

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# CI-sized ring run: batch 256, lr 2e-3 annealed over 2,500 steps covered 6-8
# modes for seeds 0-3 (high quality 0.62-0.75), seconds on a CPU.
CI_RING = [
    "train.steps=2500",
    "train.eval_every=1250",
    "train.batch_size=256",
    "optim.generator.lr=2e-3",
    "optim.discriminator.lr=2e-3",
]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ring")
    args = [str(CONFIGS / "gan_ring.toml"), "--workdir", str(workdir)]
    for override in CI_RING:
        args += ["--set", override]
    assert cli.train_main(args) == 0
    return workdir


def test_ci_ring_run_covers_modes(ring_run):
    results = json.loads((ring_run / "results.json").read_text())
    assert results["test"]["modes"] >= 4
    assert results["real"]["modes"] == 8  # the measure itself sees every mode
    lines = (ring_run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1250, 2500]


def test_run_directory_files(ring_run):
    for name in ("config.toml", "samples.png", "curves.png", "results.json"):
        assert (ring_run / name).is_file(), name
    cfg = config_lib.load(ring_run / "config.toml")
    assert cfg.train.task == "gan" and cfg.train.steps == 2500
    assert (ring_run / "checkpoints" / "ckpt_00002500").is_dir()


@pytest.mark.parametrize("extra", [[], ["--interpolate", "--steps", "4"]])
def test_sample_writes_png_from_checkpoint(ring_run, tmp_path, extra):
    out = tmp_path / "s.png"
    assert sample.main([str(ring_run), "--out", str(out), *extra]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_load_run_restores_the_trained_generator(ring_run, tmp_path):
    moved = tmp_path / "moved"
    ring_run.rename(moved)  # a run directory loads wherever it lies
    try:
        run = jnn.load_run(moved)
        assert run.step == 2500 and run.task == "gan"
        saved = np.load(moved / "samples.npz")
        np.testing.assert_array_equal(
            np.asarray(run.predict(saved["z"])), saved["samples"]
        )
        np.testing.assert_array_equal(
            saved["z"], np.asarray(task.eval_noise(run.config))
        )
        cfg = run.config
        got = quality.ring_quality(saved["samples"], radius=2.0, std=cfg.data.noise)
        final = json.loads((moved / "results.json").read_text())["test"]
        assert got == final and run.evaluate() == final
    finally:
        moved.rename(ring_run)


def test_sample_errors(tmp_path, capsys):
    assert sample.main([str(tmp_path)]) == 2  # errors: one line, exit status 2
    assert "load_run: expected checkpoints under" in capsys.readouterr().err
    path = checkpoint.save(tmp_path, 0, {"w": np.zeros(1)}, {"config": {}})
    with pytest.raises(ValueError, match="input metadata"):
        sample.main([str(path), "--debug"])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["data.name=ring"], r"`data\.name` = 'ring' is read by train\.task 'gan'"),
        (
            ["train.task=gan", "data.name=moons"],
            r"`data\.name` to be one of \['digits', 'fashion_mnist', 'mnist', 'ring'\]",
        ),
        (["train.task=gan", "train.batch_size=0"], r"`train\.batch_size` > 0"),
        (["train.task=gans"], r"`train\.task` to be one of"),
        (["train.task=gan", "gan.loss=wgan"], r"`gan\.loss` to be one of"),
        (
            ["train.task=gan", "gan.label_smoothing=0.5"],
            r"`gan\.label_smoothing` in \[0, 0\.5\)",
        ),
        (["train.task=gan", "gan.d_steps=0"], r"`gan\.d_steps` > 0"),
        (["gan.d_steps=2"], r"section \[gan\] is read by train\.task 'gan' only"),
    ],
)
def test_gan_config_errors(overrides, match):
    with pytest.raises(ValueError, match=match):
        config_lib.replace(config_lib.Config(), overrides)


def test_sample_script_dispatches_gan_runs(ring_run, tmp_path):
    path = Path(__file__).resolve().parents[2] / "scripts" / "sample.py"
    spec = importlib.util.spec_from_file_location("sample_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "dispatched.png"
    assert script.main([str(ring_run), "--out", str(out), "--num", "16"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
