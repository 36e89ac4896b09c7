"""Extending a finished run: more epochs (or GAN steps) train on; fewer are refused."""

import json

import jax
import numpy as np
import pytest

from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs.callbacks import Callback, Decision
from jnn.runs.engine import ResumeOptions
from jnn.train import fit_config
from jnn.train.config import TrainConfig
from jnn.train.optim import OptimConfig

pytestmark = pytest.mark.usefixtures("fast_compiles")  # semantics, not speed
ALLOW = ResumeOptions(allow_config_change=True)
STEPS = 3  # per epoch: 46 training examples in batches of 16


def _cfg(epochs: int, schedule: str = "constant") -> Config:
    return Config(
        data=SyntheticConfig(name="moons", num_samples=64),
        model=MlpConfig(hidden=(4,)),
        optim=OptimConfig(lr=0.01, schedule=schedule),
        train=TrainConfig(epochs=epochs, batch_size=16),
    )


def _records(run) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(s).items() if k != "time_s"} for s in lines]


def _fit(cfg, run, **kwargs):
    return fit_config(cfg, run, progress=False, **kwargs)


def test_a_finished_run_extended_trains_exactly_the_new_epochs(tmp_path):
    run = tmp_path / "run"
    _fit(_cfg(2), run, log=None)
    log = []
    extended = _fit(_cfg(4), run, log=log.append, resume=ALLOW)
    records = _records(run)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert [r["step"] for r in records] == [STEPS * e for e in (1, 2, 3, 4)]
    assert int(extended.state.step) == 4 * STEPS
    assert extended.results["epochs_run"] == 4
    line = next(x for x in log if x.startswith("extending"))
    assert "from 2 to 4 epochs at step 6" in line and "lr now 1.00e-02" in line
    assert "learning-rate schedule is rebuilt" in line
    # a constant schedule: the same as 4 epochs in one go, bit for bit
    whole = _fit(_cfg(4), tmp_path / "whole", log=None)
    assert _records(tmp_path / "whole") == records
    for a, b in zip(
        jax.tree.leaves(whole.state.params),
        jax.tree.leaves(extended.state.params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    again = []  # resumed once more at the same length: finished, nothing runs
    _fit(_cfg(4), run, log=again.append)
    assert "(finished)" in again[0] and not any(x.startswith("ep ") for x in again)


def test_a_cosine_schedule_rises_again_when_extended(tmp_path):
    run = tmp_path / "run"
    first = _fit(_cfg(2, "cosine"), run, log=None)
    assert first.history[-1]["lr"] < 1e-3  # annealed towards 0 at its end
    extended = _fit(_cfg(4, "cosine"), run, log=None, resume=ALLOW)
    assert extended.history[2]["lr"] > first.history[-1]["lr"]  # rebuilt, rose


def test_a_run_is_never_shortened(tmp_path):
    run = tmp_path / "run"
    _fit(_cfg(3), run, log=None)
    with pytest.raises(
        ValueError, match=r"at least the 3 epoch\(s\).*got 2.*cannot be shortened"
    ):
        _fit(_cfg(2), run, log=None, resume=ALLOW)
    assert len(_records(run)) == 3  # untouched


def test_a_run_stopped_by_a_callback_stays_stopped(tmp_path):
    run = tmp_path / "run"
    stop = Callback(on_epoch=lambda end: Decision(stop=True))
    first = _fit(_cfg(3), run, log=None, callbacks=(stop,))
    assert first.results["stopped_early"] and len(first.history) == 1
    log = []
    again = _fit(_cfg(5), run, log=log.append, resume=ALLOW)
    assert any("stopped early by a callback after epoch 1 of 5" in x for x in log)
    assert len(again.history) == 1 and int(again.state.step) == STEPS


def test_a_gan_run_extends_by_whole_periods_only(tmp_path):
    from jnn import config as config_lib

    def gan(steps):
        return config_lib.load(
            "configs/gan_ring.toml",
            [
                f"train.steps={steps}",
                "train.eval_every=5",
                "train.batch_size=16",
                "data.num_samples=64",
                "gan.g_hidden=[4]",
                "gan.d_hidden=[4]",
                "gan.num_eval_samples=16",
            ],
        )

    run = tmp_path / "gan"
    _fit(gan(10), run, log=None)
    extended = _fit(gan(15), run, log=None, resume=ALLOW)
    assert int(extended.state.step) == 15 and len(_records(run)) == 3
    short = tmp_path / "short"  # its last period is 2 steps, not 5
    _fit(gan(12), short, log=None)
    with pytest.raises(ValueError, match=r"multiple of train\.eval_every"):
        _fit(gan(15), short, log=None, resume=ALLOW)
