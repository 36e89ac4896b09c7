"""GAN runs survive like supervised ones: pre-empt, resume, bitwise result."""

import json
import signal
from pathlib import Path

import jax
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.runs import checkpoint
from jnn.runs.signals import Preempted
from jnn.train import ResumeOptions, fit_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = [
    *("train.steps=30", "train.eval_every=10", "train.batch_size=32"),
    *("gan.g_hidden=[16]", "gan.d_hidden=[16]", "gan.num_eval_samples=200"),
    "data.num_samples=256",
    "train.fuse_steps=1",  # `stop` polled after each step: the points below
]


pytestmark = pytest.mark.usefixtures("fast_compiles")  # wiring, bitwise


@pytest.fixture(scope="module")
def cfg():
    return config_lib.load(CONFIGS / "gan_ring.toml", TINY)


def _stop_at(step):
    calls = iter(range(1, 10**6))
    return lambda: signal.SIGTERM if next(calls) == step else None


def fit(cfg, workdir, **kwargs):
    return fit_config(cfg, workdir, progress=False, **kwargs)


def _lines(run: Path) -> list[dict]:
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time_s"} for r in records]


def test_preempted_gan_run_resumes_bitwise(cfg, tmp_path):
    whole = fit(cfg, tmp_path / "whole", log=None)
    run = tmp_path / "cut"
    with pytest.raises(Preempted) as event:
        fit(cfg, run, log=None, stop=_stop_at(17))
    assert event.value.step == 17 and event.value.checkpoint.name == "ckpt_00000017"
    assert not (run / ".jnn-lock").exists()  # released on the way out
    lines = []
    resumed = fit(cfg, run, log=lines.append)
    assert lines[0].startswith("resuming from") and "at step 17" in lines[0]
    for a, b in zip(
        jax.tree.leaves(resumed.state),
        jax.tree.leaves(whole.state),
        strict=True,
    ):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert _lines(run) == _lines(tmp_path / "whole")
    assert [r["step"] for r in _lines(run)] == [10, 20, 30]


def _same_state(a, b) -> bool:
    def raw(leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.asarray(leaf).tobytes()

    return [raw(x) for x in jax.tree.leaves(a)] == [raw(x) for x in jax.tree.leaves(b)]


def test_a_fused_gan_run_equals_the_per_step_run_and_resumes_bitwise(cfg, tmp_path):
    whole = fit(cfg, tmp_path / "whole", log=None)
    fused = config_lib.replace(cfg, ["train.fuse_steps=5"])
    run = tmp_path / "fused"
    # polls: after steps 5, 10 (and its evaluation), 15
    with pytest.raises(Preempted) as event:
        fit(fused, run, log=None, stop=_stop_at(3))
    assert event.value.step == 15
    lines = []
    resumed = fit(fused, run, log=lines.append)
    assert "fusing  5 steps per dispatch (as set)" in lines[1]
    assert _same_state(resumed.state, whole.state)
    assert _lines(run) == _lines(tmp_path / "whole")
    start = []
    auto = fit(config_lib.replace(cfg, ["train.fuse_steps=0"]), None, log=start.append)
    assert "fusing  10 steps per dispatch (auto: the whole epoch)" in start[0]
    assert _same_state(auto.state, whole.state)


def test_gan_resume_modes(cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match="--resume required"):
        fit(cfg, tmp_path / "a", log=None, resume=ResumeOptions("required"))
    fit(cfg, tmp_path / "b", log=None)
    with pytest.raises(ValueError, match="no checkpoints with --resume never"):
        fit(cfg, tmp_path / "b", log=None, resume=ResumeOptions("never"))


def test_a_checkpoint_without_loop_position_is_refused(cfg, tmp_path):
    done = fit(cfg, tmp_path / "run", log=None)
    state = done.state._asdict()
    meta = {"config": config_lib.to_dict(cfg), "task": "gan"}
    checkpoint.save(tmp_path / "run" / "checkpoints", 99, state, meta)
    with pytest.raises(ValueError, match=r"written by the jnn run engine"):
        fit(cfg, tmp_path / "run", log=None)
