"""`jnn.diagnostics.plot` / `scripts/plot.py`: learning curves of a run directory as a PNG."""

import builtins
import importlib.util
import json
import re
from pathlib import Path

import pytest

from jnn import JnnValueError
from jnn.diagnostics.plot import figure, panels, plot_run, read_metrics

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
    assert panels(records) == {"loss": ["train_loss"]}
    (ax,) = figure(records, "t").axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train loss"]


def test_plot_run_and_the_script_write_a_png(tmp_path, capsys):
    run = _run(tmp_path)
    path = plot_run(run)
    assert path == run / "curves.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _script().main([str(run), "--out", str(tmp_path / "c.png")]) == 0
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


def _records(kind):
    """Epoch records shaped like each run kind's metrics.jsonl."""
    base = {"lr": 0.1, "time_s": 0.5, "train_objective": 1.0, "train_grad_norm": 2.0}
    rows = {
        "classification": lambda e: (
            {"train_loss": 1 / e, "val_loss": 1.2 / e}
            | {"train_accuracy": 1 - 0.5 / e, "val_accuracy": 0.9 - 0.5 / e}
        ),
        "regression": lambda e: {"train_loss": 10.0**-e, "val_loss": 2 * 10.0**-e},
        "text": lambda e: (
            {"train_loss": 2 / e, "val_loss": 2.1 / e}
            | {"val_accuracy": 0.3, "val_bits_per_char": 3 / e}
            | {"val_unigram_bits_per_char": 4.2}
        ),
        "gan": lambda e: (
            {"train_d_loss": 1.3, "train_g_loss": 0.7 + e}
            | {
                "train_d_real": 0.6,
                "train_d_fake": 0.4,
                "modes": e,
                "high_quality": 0.5,
            }
        ),
    }[kind]
    if kind == "gan":  # a GAN's records have no objective or grad_norm
        base = {"lr": 0.1, "time_s": 0.5}
    return [{"epoch": e, "step": 20 * e} | rows(e) | base for e in (1, 2, 3)]


PANELS = {  # run kind -> (panel titles, loss y-scale)
    "classification": (["loss", "accuracy", "grad_norm"], "linear"),
    "regression": (["loss", "grad_norm"], "log"),  # 3 decades
    "text": (
        ["loss", "accuracy", "bits_per_char", "unigram_bits_per_char", "grad_norm"],
        "linear",
    ),
    "gan": (["loss", "discriminator", "modes", "high_quality"], "linear"),
}


@pytest.mark.parametrize("kind", sorted(PANELS))
def test_every_run_kind_gets_its_panels_and_a_png(tmp_path, kind):
    records = _records(kind)
    titles, scale = PANELS[kind]
    fig = figure(records, kind)
    assert [ax.get_title() for ax in fig.axes] == titles
    assert fig.axes[0].get_yscale() == scale
    x = "generator step" if kind == "gan" else "epoch"
    assert {ax.get_xlabel() for ax in fig.axes} == {x}
    assert all(ax.get_lines() for ax in fig.axes)  # no empty panel
    path = plot_run(_run(tmp_path, records=records), tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gan_panels_hold_both_losses_and_discriminator_outputs():
    loss, disc, modes, _ = figure(_records("gan"), "g").axes
    assert [t.get_text() for t in loss.get_legend().get_texts()] == [
        "train d_loss",
        "train g_loss",
    ]
    assert list(loss.get_lines()[1].get_xdata()) == [20, 40, 60]  # by step
    assert [t.get_text() for t in disc.get_legend().get_texts()] == [
        "train d_real",
        "train d_fake",
    ]
    assert list(modes.get_lines()[0].get_ydata()) == [1, 2, 3]


def test_a_run_with_nothing_to_draw_is_refused_naming_it(tmp_path, capsys):
    run = _run(tmp_path, records=[{"epoch": 1, "step": 4, "time_s": 0.1}])
    with pytest.raises(JnnValueError, match=r"in .*my_run.metrics\.jsonl, got only"):
        plot_run(run)
    assert not (run / "curves.png").exists()
    assert _script().main([str(run)]) == 1
    err = capsys.readouterr().err
    assert "my_run" in err and "['epoch', 'step', 'time_s']" in err


def _script():
    spec = importlib.util.spec_from_file_location(
        "plot_script", ROOT / "scripts" / "plot.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script
