"""`jnn.diagnostics.plot` / `scripts/plot.py`: learning curves of a run directory as a PNG."""

import builtins
import importlib.util
import json
import re
from pathlib import Path

import pytest

from jnn import JnnValueError
from jnn.diagnostics.plot import figure, metric_name, plot_run, read_metrics

ROOT = Path(__file__).resolve().parents[2]
RECORDS = [
    {
        "epoch": e,
        "step": 10 * e,
        "train_loss": 1 / e,
        "train_accuracy": 1 - 0.5 / e,
        "val_loss": 1.2 / e,
        "val_accuracy": 0.9 - 0.5 / e,
        "lr": 0.1,
        "time_s": 0.5,
    }
    for e in (1, 2, 3)
]


def _run(tmp_path, records=RECORDS, name="my_run"):
    run = tmp_path / name
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_figure_has_labelled_axes_and_train_and_val_curves():
    fig = figure(RECORDS, "my_run: 3 epochs")
    loss, acc = fig.axes
    assert fig.get_suptitle() == "my_run: 3 epochs"
    for ax, name in ((loss, "loss"), (acc, "accuracy")):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", name)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"train {name}",
            f"val {name}",
        ]
        for line, split in zip(ax.get_lines(), ("train", "val"), strict=True):
            assert list(line.get_xdata()) == [1, 2, 3]
            assert list(line.get_ydata()) == [r[f"{split}_{name}"] for r in RECORDS]


def test_regression_runs_get_only_the_loss_panel_and_missing_val_is_skipped():
    records = [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0}]
    assert metric_name(records) is None
    (ax,) = figure(records, "t").axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train loss"]


def test_plot_run_and_the_script_write_a_png(tmp_path, capsys):
    run = _run(tmp_path)
    path = plot_run(run)
    assert path == run / "curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    spec = importlib.util.spec_from_file_location(
        "plot_script", ROOT / "scripts" / "plot.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(run), "--out", str(tmp_path / "c.png")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_read_metrics_errors(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"expected a run directory with metrics\.jsonl"
    ):
        read_metrics(tmp_path)
    with pytest.raises(JnnValueError, match=r"at least one epoch in .*, got none\."):
        read_metrics(_run(tmp_path, records=[], name="empty"))
    bad = _run(tmp_path, name="bad")
    (bad / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": \n')
    with pytest.raises(JnnValueError, match=re.escape("got line 2: Expecting value.")):
        read_metrics(bad)


def test_missing_matplotlib_is_a_fix_it_error(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=re.escape("pip install 'jnn[plot]'")):
        figure(RECORDS, "t")
