"""The progress display: drawn in place on a terminal, silent elsewhere."""

import io
import os
import threading
import tty

import pytest

from jnn import config as config_lib
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs import progress
from jnn.train import fit_config
from jnn.train.config import TrainConfig


class FakeTTY(io.StringIO):
    """A string stream that claims to be a terminal."""

    def isatty(self):
        return True


def _info(batch, num_batches=4, epoch=0, count=None, loss=1.0):
    count = float(batch * 10) if count is None else count
    return progress.BatchEnd(epoch, batch, num_batches, count, {"loss": loss * count})


def _frames(text: str) -> list[str]:
    return [f.removesuffix("\x1b[K") for f in text.split("\r") if f.strip("\x1b[K")]


pytestmark = pytest.mark.usefixtures("fast_compiles")  # wiring, bitwise


def test_bar_is_none_and_silent_off_a_terminal():
    assert progress.bar(io.StringIO(), epochs=3) is None
    assert progress.bar(object(), epochs=3) is None  # no isatty at all
    closed = io.StringIO()
    closed.close()  # isatty() raises ValueError
    assert not progress.is_terminal(closed)


def test_a_run_shows_compiling_times_rates_etas_and_validating():
    now = [0.0]
    stream = FakeTTY()
    shown = progress.bar(
        stream, epochs=3, min_interval=0.0, columns=200, clock=lambda: now[0]
    )
    phase = shown.on_phase
    phase(progress.Phase("epoch", 0, True))
    phase(progress.Phase("compile", 0, True))
    assert stream.getvalue().endswith("ep 1/3  compiling the train step…\x1b[K")
    now[0] = 3.0  # the first step took 3 s to compile
    phase(progress.Phase("compile", 0, False))
    assert "compiled the train step in 3.00s\x1b[K\n" in stream.getvalue()
    for b in (1, 2, 3):  # the first batch is reported as its compile ends
        now[0] += 0.5 * (b > 1)
        shown.on_batch(_info(b, loss=0.25 * b))
    last = _frames(stream.getvalue())[-1]
    # 2 steps in 1 s after compiling; 1 step left, then 2 epochs of 4
    assert last.startswith("ep 1/3 [###############.....] 3/4  0:04  eta 0:00")
    assert "run eta 0:04" in last and "2 step/s" in last and "20 ex/s" in last
    assert "loss 0.7500" in last
    phase(progress.Phase("epoch", 0, False))
    phase(progress.Phase("validate", 0, True))
    assert stream.getvalue().endswith("ep 1/3  validating…\x1b[K")
    now[0] += 10.0
    phase(progress.Phase("validate", 0, False))
    assert stream.getvalue().endswith("\r\x1b[K")  # clean for the epoch's log line
    phase(progress.Phase("epoch", 1, True))
    now[0] += 0.5
    shown.on_batch(_info(1, epoch=1))
    # the run's ETA counts the validations left (10 s each) at the run's rate
    assert "run eta 0:23" in _frames(stream.getvalue())[-1]


def test_bar_throttles_redraws_but_always_draws_first_and_last():
    now = [0.0]
    stream = FakeTTY()
    shown = progress.bar(
        stream, epochs=1, min_interval=10.0, columns=200, clock=lambda: now[0]
    )
    for b in range(1, 5):
        now[0] += 0.01
        shown.on_batch(_info(b))
    counts = [f.split("] ")[1].split()[0] for f in _frames(stream.getvalue())]
    assert counts == ["1/4", "4/4"]


def test_render_counts_nothing_before_time_passes():
    line = progress.render(_info(1, count=0.0), epochs=2, seconds=0.0)
    assert "ex/s" not in line and "eta" not in line and "loss 0.0000" in line


def test_lines_fit_the_width_by_dropping_whole_fields():
    info = progress.BatchEnd(0, 2, 4, 20.0, {"loss": 10.0, "accuracy": 15.0})
    fields = progress.render(info, 1, 2.0, as_fields=True)
    full = "  ".join(fields)
    for width in range(len(fields[0]), len(full) + 1):
        line = progress.fit(list(fields), width)
        assert len(line) <= width and line.split("  ") == fields[: line.count("  ") + 1]
    stream = FakeTTY()
    shown = progress.bar(stream, epochs=1, columns=46, clock=lambda: 1.0)
    shown.on_batch(_info(1, num_batches=2))
    assert _frames(stream.getvalue()) == ["ep 1/1 [##########..........] 1/2  0:00"]


def _tiny(**train):
    return Config(
        data=SyntheticConfig(name="moons", num_samples=64),
        model=MlpConfig(hidden=(4,)),
        train=TrainConfig(**{"epochs": 2, "batch_size": 16, **train}),
    )


def test_fit_draws_nothing_off_a_terminal():
    stream = io.StringIO()
    fit_config(_tiny(), log=None, progress=stream)
    assert stream.getvalue() == ""


def test_fit_shows_each_epochs_exact_train_metrics_last(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # shutil.get_terminal_size reads it
    stream = FakeTTY()
    result = fit_config(_tiny(), log=None, progress=stream)
    ends = [f for f in _frames(stream.getvalue()) if "] 3/3" in f]
    assert [f[:6] for f in ends] == ["ep 1/2", "ep 2/2"]
    for frame, record in zip(ends, result.history, strict=True):
        assert f"loss {record['train_loss']:.4f}" in frame
        assert f"acc {record['train_accuracy']:.4f}" in frame


def _on_a_pty(monkeypatch, run) -> str:
    """What `run(stream)` drew on the slave side of a pseudo-terminal."""
    monkeypatch.setenv("COLUMNS", "120")
    master, slave = os.openpty()
    tty.setraw(slave)  # no line discipline between the bar and what we read
    chunks = []

    def drain():  # keep the pty's buffer from filling up and blocking the bar
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the slave side closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8") as stream:
        assert stream.isatty()
        run(stream)
    reader.join(timeout=10)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _assert_times_and_rates(text: str, epochs: int, rates: tuple) -> None:
    assert "compiling the train step…" in text and "compiled the train step in" in text
    assert "validating…" in text
    frames = [f for f in _frames(text) if f.startswith("ep ") and "] " in f]
    assert any(f.startswith(f"ep 1/{epochs} [") for f in frames)  # before any eval
    timed = [f for f in frames if "eta " in f and all(r in f for r in rates)]
    assert timed, frames  # ETA and rates, once a step after compiling is timed
    assert any(":" in f.split("  ")[1] for f in timed)  # elapsed m:ss


def test_a_supervised_run_on_a_pseudo_terminal(monkeypatch):
    text = _on_a_pty(
        monkeypatch,
        lambda s: fit_config(_tiny(epochs=3, batch_size=4), log=None, progress=s),
    )
    _assert_times_and_rates(text, 3, (" step/s", " ex/s"))


def test_a_gan_run_on_a_pseudo_terminal(monkeypatch):
    cfg = config_lib.load(
        "configs/gan_ring.toml",
        [
            "train.steps=20",
            "train.eval_every=10",
            "train.batch_size=16",
            "data.num_samples=64",
            "gan.g_hidden=[8]",
            "gan.d_hidden=[8]",
            "gan.num_eval_samples=32",
        ],
    )
    text = _on_a_pty(monkeypatch, lambda s: fit_config(cfg, None, log=None, progress=s))
    _assert_times_and_rates(text, 2, (" step/s",))  # a GAN step weighs 1
    assert "d_loss" in text or "g_loss" in text


@pytest.mark.parametrize("seconds", [0.0, 59.9, 3600.0])
def test_clock_time(seconds):
    text = progress.clock_time(seconds)
    assert text == {0.0: "0:00", 59.9: "0:59", 3600.0: "1:00:00"}[seconds]


def test_a_resumed_epoch_times_only_the_steps_it_runs():
    now = [0.0]
    stream = FakeTTY()
    shown = progress.bar(
        stream, epochs=1, min_interval=0.0, columns=200, clock=lambda: now[0]
    )
    shown.on_phase(progress.Phase("epoch", 0, True))
    shown.on_phase(progress.Phase("compile", 0, True))
    now[0] = 2.0
    shown.on_phase(progress.Phase("compile", 0, False))
    shown.on_batch(_info(5, num_batches=8))  # resumed after batch 4
    now[0] = 3.0
    shown.on_batch(_info(6, num_batches=8))
    assert "  1 step/s  " in _frames(stream.getvalue())[-1]
