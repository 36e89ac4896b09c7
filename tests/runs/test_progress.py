"""The per-batch progress bar: drawn in place on a terminal, silent elsewhere."""

import io

import pytest

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


def test_bar_is_none_and_silent_off_a_terminal():
    assert progress.bar(io.StringIO(), epochs=3) is None
    assert progress.bar(object(), epochs=3) is None  # no isatty at all
    closed = io.StringIO()
    closed.close()  # isatty() raises ValueError
    assert not progress.is_terminal(closed)


def test_bar_redraws_in_place_with_running_metrics_and_throughput():
    times = iter([0.0, 1.0, 2.0, 3.0])
    stream = FakeTTY()
    on_batch = progress.bar(
        stream, epochs=5, min_interval=0.0, columns=200, clock=lambda: next(times)
    )
    for b in (1, 2, 3):
        on_batch(_info(b, loss=0.25 * b))
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 3  # redrawn, never scrolled
    last = text.split("\r")[-1]
    assert last.startswith("epoch 1/5 [###############.....]  3/4  ")
    assert "15 ex/s" in last  # 30 examples in 2 s since the epoch's first batch
    assert "loss 0.7500" in last


def test_bar_throttles_redraws_but_always_draws_first_and_last():
    now = [0.0]
    stream = FakeTTY()
    on_batch = progress.bar(
        stream, epochs=1, min_interval=10.0, columns=200, clock=lambda: now[0]
    )
    for b in range(1, 5):
        now[0] += 0.01
        on_batch(_info(b))
    frames = [f for f in stream.getvalue().split("\r") if f.startswith("epoch")]
    assert [f.split("  ")[1] for f in frames] == ["1/4", "4/4"]
    assert stream.getvalue().endswith("\r\x1b[K")  # cleared for the epoch log line


def test_render_counts_nothing_before_time_passes():
    line = progress.render(_info(1, count=0.0), epochs=2, seconds=0.0)
    assert "ex/s" not in line and "loss 0.0000" in line


def _tiny(**train):
    return Config(
        data=SyntheticConfig(name="moons", num_samples=64),
        model=MlpConfig(hidden=(4,)),
        train=TrainConfig(**{"epochs": 2, "batch_size": 16, **train}),
    )


@pytest.mark.parametrize("tty", [True, False])
def test_fit_draws_the_bar_only_on_a_terminal(tty, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # shutil.get_terminal_size reads it
    stream = FakeTTY() if tty else io.StringIO()
    result = fit_config(_tiny(), log=None, progress=stream)
    text = stream.getvalue()
    if not tty:
        assert text == ""
        return
    frames = [f for f in text.split("\r") if f.startswith("epoch")]
    # 46 training examples in batches of 16: 3 per epoch; the first and last
    # are always drawn, the middle one only if 0.1 s passed (machine load)
    # the first frame has no metrics yet: the loop reads each step back late
    heads = [f.removesuffix("\x1b[K").split("  ")[:2] for f in frames]
    ends = [h for h in heads if h[1] == "3/3"]
    assert heads[0] == ["epoch 1/2 [#######.............]", "1/3"]
    assert ends == [[f"epoch {e}/2 [####################]", "3/3"] for e in (1, 2)]
    assert heads[-1] == ends[-1]
    frames = [f for f in frames if f.split("  ")[1] == "3/3"]
    assert " ex/s  loss " in frames[-1] and "accuracy " in frames[-1]
    # the last frame of an epoch shows that epoch's exact mean train metrics
    for frame, record in zip(frames, result.history, strict=True):
        assert f"loss {record['train_loss']:.4f}" in frame
        assert f"accuracy {record['train_accuracy']:.4f}" in frame


def test_lines_are_cut_to_the_terminal_width():
    stream = FakeTTY()
    on_batch = progress.bar(stream, epochs=1, columns=30, clock=lambda: 1.0)
    on_batch(_info(1, num_batches=2))
    assert stream.getvalue() == "\r" + "epoch 1/1 [##########.........."[:29] + "\x1b[K"
