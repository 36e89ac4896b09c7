"""The console is for people: user errors print one line and an exit status.

Every case runs an entry point in-process (`jnn.cli.train_main`,
`evaluate_main`, `scripts/sample.py`'s `main`) and checks the status, that
stderr holds no traceback, and that the message names the file, field or path.
"""

import importlib.util
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

import pytest

from jnn import cli
from jnn.runs import lock

ROOT = Path(__file__).resolve().parents[1]
XOR = str(ROOT / "configs" / "xor_mlp.toml")
MOONS = str(ROOT / "configs" / "moons_sgd.toml")
DIGITS = str(ROOT / "configs" / "mlp_digits.toml")


def _sample_main():
    spec = importlib.util.spec_from_file_location("sample", ROOT / "scripts/sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _newest_checkpoint(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("ckpt_*"))[-1]


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """One tiny finished run, a corrupt copy of it, and broken config files."""
    tmp = tmp_path_factory.mktemp("cli_errors")
    run = tmp / "run"
    assert cli.train_main([XOR, "--set", "train.epochs=1", "--workdir", str(run)]) == 0
    corrupt = tmp / "corrupt"
    shutil.copytree(run, corrupt)
    arrays = _newest_checkpoint(corrupt) / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    (tmp / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (tmp / "empty.toml").write_text("# nothing but a comment\n\n")
    (tmp / "garbage.toml").write_text("[data]\nname = \n")
    (tmp / "empty_dir").mkdir()
    (tmp / "locked").mkdir()
    return SimpleNamespace(tmp=tmp, run=run, corrupt=corrupt)


def _train(*argv):
    return cli.train_main, list(argv)


def _evaluate(*argv):
    return cli.evaluate_main, list(argv)


def _sample(*argv):
    return _sample_main(), list(argv)


# (id, p -> (entry point, argv), exit status, substrings of stderr)
CASES = [
    ("typo key", lambda p: _train(XOR, "--set", "optim.lrr=3e-4"), 2,
     ["`optim.lrr`", "did you mean 'optim.lr'"]),
    ("bad value", lambda p: _train(XOR, "--set", "optim.lr=-1"), 2,
     ["`optim.lr` > 0", "got -1"]),
    ("wrong type", lambda p: _train(XOR, "--set", "train.epochs=abc"), 2,
     ["`train.epochs` to be an int"]),
    ("override without =", lambda p: _train(XOR, "--set", "optim.lr"), 2,
     ["--set", "optim.lr"]),
    ("missing config", lambda p: _train(XOR.replace("xor_mlp", "xor_mlpp")), 2,
     ["xor_mlpp.toml", "no such file", "did you mean", "xor_mlp.toml"]),
    ("binary config", lambda p: _train(str(p.tmp / "binary.toml")), 2,
     ["binary.toml", "UTF-8"]),
    ("empty config", lambda p: _train(str(p.tmp / "empty.toml")), 2,
     ["empty.toml", "only comments"]),
    ("garbage TOML", lambda p: _train(str(p.tmp / "garbage.toml")), 2,
     ["garbage.toml", "valid TOML", "line 2"]),
    ("config is a directory", lambda p: _train(str(p.tmp)), 2,
     ["cli_errors", "a directory"]),
    ("unknown section", lambda p: _train(XOR, "--set", "foo.bar=1"), 2,
     ["[foo]", "xor_mlp.toml"]),
    ("unknown data set", lambda p: _train(XOR, "--set", "data.name=imagenet"), 2,
     ["`data.name`", "'imagenet'", "'moons'"]),
    ("missing data file", lambda p: _train(
        XOR, "--set", "data.name=arrays", "--set",
        f"data.path={p.tmp / 'nowhere.npz'}", "--workdir", str(p.tmp / "arr")), 2,
     ["nowhere.npz", "`data.path`"]),
    ("refused field", lambda p: _train(DIGITS, "--set", "data.path=x"), 2,
     ["`data.path`", "text, arrays"]),
    ("resume never", lambda p: _train(
        XOR, "--set", "train.epochs=1", "--workdir", str(p.run), "--resume", "never"),
     2, ["--resume never", "ckpt_"]),
    ("resume required", lambda p: _train(
        XOR, "--workdir", str(p.tmp / "empty_dir"), "--resume", "required"), 2,
     ["--resume required", "empty_dir"]),
    ("locked run dir", lambda p: _train(XOR, "--workdir", str(p.tmp / "locked")), 2,
     ["lock", "locked", "live lock"]),
    ("huge num_samples", lambda p: _train(
        MOONS, "--set", "data.num_samples=10000000000000"), 2,
     ["`data.num_samples`", "<= 10**8"]),
    ("nesterov no momentum", lambda p: _train(XOR, "--set", "optim.nesterov=true"),
     2, ["`optim.momentum`", "optim.nesterov"]),
    ("GAN key supervised", lambda p: _train(XOR, "--set", "gan.latent_dim=3"), 2,
     ["[gan]", "train.task 'gan'"]),
    ("bad option", lambda p: _train(XOR, "--resume", "sometimes"), 2,
     ["--resume", "'sometimes'"]),
    ("evaluate corrupt", lambda p: _evaluate(str(p.corrupt)), 2,
     ["arrays.npz", "corrupt", "sha256"]),
    ("evaluate missing run", lambda p: _evaluate(str(p.tmp / "nope")), 2,
     ["nope", "does not exist"]),
    ("evaluate no checkpoints", lambda p: _evaluate(str(p.tmp / "empty_dir")), 2,
     ["empty_dir", "checkpoints"]),
    ("evaluate bad split", lambda p: _evaluate(str(p.run), "--split", "valid"), 2,
     ["--split", "'valid'"]),
    ("sample missing run", lambda p: _sample(str(p.tmp / "nope")), 2,
     ["nope", "does not exist"]),
    ("sample wrong kind", lambda p: _sample(str(p.run)), 2,
     ["rnn_lm", "'mlp'", "ckpt_"]),
]  # fmt: skip


def _call(entry, argv) -> int:
    try:
        return entry(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return exit_.code


@pytest.mark.parametrize(
    "make, status, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_user_errors_print_one_line_and_exit_with_a_status(
    paths, capsys, make, status, needles
):
    held = lock.acquire(paths.tmp / "locked")
    try:
        entry, argv = make(paths)
        assert _call(entry, argv) == status
    finally:
        lock.release(held)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error: " in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_the_failed_runs_are_left_untouched(paths):
    assert not list((paths.tmp / "empty_dir").iterdir())
    assert len(list((paths.run / "checkpoints").glob("ckpt_*"))) == 1


def test_debug_raises_with_the_traceback(capsys):
    with pytest.raises(ValueError, match=r"did you mean 'optim.lr'") as info:
        cli.train_main([XOR, "--set", "optim.lrr=3e-4", "--debug"])
    assert "Traceback" in "".join(traceback.format_exception(info.value))
    assert capsys.readouterr().err == ""


def test_the_console_script_exits_2_without_a_traceback():
    cmd = [sys.executable, "scripts/train.py", XOR, "--set", "optim.lrr=3e-4"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --set: expected a key of [optim]")
    assert "Traceback" not in done.stderr and done.stdout == ""


def _fail_with(monkeypatch, error):
    import jnn.train

    def fit_config(*args, **kwargs):
        raise error

    monkeypatch.setattr(jnn.train, "fit_config", fit_config)


def test_out_of_memory_names_the_sizes_to_lower(monkeypatch, capsys, tmp_path):
    _fail_with(monkeypatch, MemoryError("Unable to allocate 36.4 TiB"))
    assert cli.train_main([XOR, "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: out of memory: Unable to allocate 36.4 TiB" in err
    for field in ("data.num_samples", "model.hidden", "train.batch_size"):
        assert field in err
    assert "Traceback" not in err


def test_an_unexpected_error_is_short_but_points_to_debug(
    monkeypatch, capsys, tmp_path
):
    _fail_with(monkeypatch, RuntimeError("boom"))
    assert cli.train_main([XOR, "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: RuntimeError: boom" in err and "rerun with --debug" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        cli.train_main([XOR, "--workdir", str(tmp_path), "--debug"])


def test_a_diverged_run_exits_1(monkeypatch, capsys, tmp_path):
    from jnn.train.numerics import NonFiniteError

    _fail_with(monkeypatch, NonFiniteError("fit", "expected a finite loss", 3, "loss"))
    assert cli.train_main([XOR, "--workdir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == "error: fit: expected a finite loss\n"


def test_ctrl_c_before_training_exits_130(monkeypatch, capsys, tmp_path):
    _fail_with(monkeypatch, KeyboardInterrupt())
    assert cli.train_main([XOR, "--workdir", str(tmp_path)]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_help_documents_the_exit_statuses(capsys):
    for main in (cli.train_main, cli.evaluate_main):
        with pytest.raises(SystemExit):
            main(["--help"])
        out = capsys.readouterr().out
        assert "--debug" in out
        assert "1    the run failed" in out and "2    bad input" in out


# -- where evaluate.py writes its report ---------------------------------------


def _report(capsys) -> Path:
    out = capsys.readouterr().out
    return Path(out.rsplit("saved to ", 1)[1].strip())


def test_the_report_goes_into_the_run_or_beside_a_copied_checkpoint(
    paths, capsys, tmp_path
):
    assert cli.evaluate_main([str(paths.run)]) == 0
    assert _report(capsys) == (paths.run / "eval_test.json").resolve()
    ckpt = _newest_checkpoint(paths.run)
    assert cli.evaluate_main([str(ckpt), "--split", "val"]) == 0
    assert _report(capsys) == (paths.run / "eval_val.json").resolve()
    # Copied out of its run, also into a checkpoints/ folder: never two up.
    for copy in (tmp_path / "loose" / ckpt.name, tmp_path / "c" / "checkpoints" / "x"):
        shutil.copytree(ckpt, copy)
        assert cli.evaluate_main([str(copy)]) == 0
        assert _report(capsys) == copy.parent.resolve() / "eval_test.json"
    out = tmp_path / "reports" / "xor.json"
    assert cli.evaluate_main([str(paths.run), "--out", str(out)]) == 0
    assert _report(capsys) == out and '"split": "test"' in out.read_text()
