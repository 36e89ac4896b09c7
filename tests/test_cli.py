"""The console entry points behind scripts/train.py and scripts/evaluate.py."""

import json
from pathlib import Path

import pytest

from jnn import cli

XOR = str(Path(__file__).resolve().parents[1] / "configs" / "xor_mlp.toml")


def test_train_then_evaluate_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    argv = [XOR, "--set", "train.epochs=3", "--workdir", str(run)]
    assert cli.train_main(argv) == 0
    out = capsys.readouterr().out
    assert "[train]" not in out  # the resolved config is in RUN/config.toml only
    assert "epochs = 3" in (run / "config.toml").read_text()
    assert " 3/3 " in out and f"saved to {run}" in out  # the last epoch
    assert cli.evaluate_main([str(run), "--split", "test"]) == 0
    report = json.loads((run / "eval_test.json").read_text())
    results = json.loads((run / "results.json").read_text())
    assert report["accuracy"] == pytest.approx(results["test"]["accuracy"], abs=1e-7)


def test_train_with_a_typo_override_fails_before_training(tmp_path, capsys):
    argv = [XOR, "--set", "train.epoch=3", "--workdir", str(tmp_path)]
    assert cli.train_main(argv) == 2
    assert "did you mean 'train.epochs'" in capsys.readouterr().err
    assert not (tmp_path / "config.toml").exists()
    with pytest.raises(ValueError, match=r"did you mean 'train.epochs'"):
        cli.train_main([*argv, "--debug"])


def test_resume_flags(tmp_path, capsys):
    run = tmp_path / "run"
    base = [XOR, "--set", "train.epochs=2", "--workdir", str(run)]
    assert cli.train_main([*base, "--resume", "required"]) == 2
    assert "--resume required" in capsys.readouterr().err
    assert cli.train_main(base) == 0
    assert "starting a fresh run" in capsys.readouterr().out
    assert cli.train_main([*base, "--resume", "never"]) == 2
    assert "no checkpoints with --resume never" in capsys.readouterr().err
    assert cli.train_main([*base, "--resume", "required"]) == 0
    assert "(finished)" in capsys.readouterr().out
    assert cli.train_main([XOR, "--set", "train.epochs=3", "--workdir", str(run)]) == 2
    assert "train.epochs: saved 2, now 3" in capsys.readouterr().err
    argv = [XOR, "--set", "train.epochs=3", "--workdir", str(run)]
    assert cli.train_main([*argv, "--allow-config-change"]) == 0
    assert "config changed since the checkpoint" in capsys.readouterr().out


def test_help_documents_resume_and_the_preemption_exit_code(capsys):
    with pytest.raises(SystemExit):
        cli.train_main(["--help"])
    out = capsys.readouterr().out
    assert "--resume {auto,required,never,STEP}" in out and "--break-lock" in out
    assert "143  pre-empted by SIGTERM (130: SIGINT)" in out
