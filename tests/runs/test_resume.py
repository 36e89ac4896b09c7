"""Resume in-process: pre-empted runs continue bitwise; modes, config, locks."""

import json
import signal
import subprocess
import sys
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.config import Config
from jnn.data.config import SyntheticConfig
from jnn.models.config import MlpConfig
from jnn.runs import checkpoint, lock, loop, resume
from jnn.runs.signals import Preempted
from jnn.train import ResumeOptions, fit_config
from jnn.train.config import EarlyStoppingConfig, TrainConfig
from jnn.train.numerics import NonFiniteError
from jnn.train.optim import OptimConfig
from jnn.train.supervised_run import resolve

pytestmark = pytest.mark.usefixtures("fast_compiles")
CFG = Config(
    data=SyntheticConfig(name="moons", num_samples=64),
    model=MlpConfig(hidden=(8,), dropout=0.1),
    optim=OptimConfig(name="adam", lr=0.01, schedule="cosine"),
    # One step per dispatch: `stop` is polled after each (the preemption
    # points below); fused dispatches are preempted in test_fused_loop.py.
    train=TrainConfig(epochs=3, batch_size=8, keep_checkpoints=2, fuse_steps=1),
    early_stopping=EarlyStoppingConfig(enabled=True, patience=100),
)


def _fit(run, cfg=CFG, **kwargs):
    return fit_config(cfg, run, log=kwargs.pop("log", None), progress=False, **kwargs)


def _stop_at(call: int):
    """A `stop` that reports SIGTERM from its `call`-th poll on."""
    calls = []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) >= call else None

    return stop


def _leaves(ts):
    out = []
    for leaf in jax.tree.leaves(ts):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf).tobytes())
    return out


def _lines(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{**json.loads(s), "time_s": 0} for s in lines]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    return run, _fit(run)


# 6 steps per epoch, each followed by one poll (the last after validation):
# poll 9 is mid-epoch 2, poll 6 the end of epoch 1.
@pytest.mark.parametrize("call", [9, 6])
def test_preempted_run_resumes_bitwise(tmp_path, reference, call):
    ref_run, ref = reference
    with pytest.raises(Preempted) as info:
        _fit(tmp_path / "run", stop=_stop_at(call))
    event = info.value
    assert event.exit_code == 143 and event.step == call  # one poll per step
    assert event.checkpoint.name == f"ckpt_{event.step:08d}"
    assert len(_lines(tmp_path / "run")) == call // 6
    log = []
    got = _fit(tmp_path / "run", resume=ResumeOptions("required"), log=log.append)
    assert log[0].startswith(f"resuming from {event.checkpoint} at step {event.step}")
    assert _leaves(got.state) == _leaves(ref.state)
    assert _lines(tmp_path / "run") == _lines(ref_run)
    assert got.test == ref.test and got.best_epoch == ref.best_epoch
    assert len(checkpoint.all_checkpoints(tmp_path / "run" / "checkpoints")) == 2


def test_finished_run_resumes_to_the_same_result(reference):
    run, ref = reference
    log = []
    again = _fit(run, log=log.append)
    assert "(finished)" in log[0] and len(log) == 3  # resume, start block, test
    assert _leaves(again.state) == _leaves(ref.state)
    assert again.history == ref.history


def test_resume_modes(tmp_path, reference):
    run, _ = reference
    with pytest.raises(ValueError, match="no checkpoints with --resume never"):
        resume.find(run / "checkpoints", "never")
    with pytest.raises(FileNotFoundError, match=r"\(--resume required\), got none"):
        resume.find(tmp_path, "required")
    assert resume.find(tmp_path, "auto") is None
    with pytest.raises(ValueError, match=r"`resume\.mode` to be one of"):
        _fit(tmp_path, resume=ResumeOptions("sometimes"))


def test_config_change_names_every_key(reference):
    run, _ = reference
    _, meta = checkpoint.restore_metadata(checkpoint.latest(run / "checkpoints"))
    cfg = replace(CFG, train=replace(CFG.train, epochs=5, seed=1))
    with pytest.raises(ValueError, match="2 difference") as info:
        resume.check_config(meta["config"], config_lib.to_dict(cfg), run, allow=False)
    assert "train.epochs: saved 3, now 5" in str(info.value)
    assert "train.seed: saved 0, now 1" in str(info.value)
    assert "--allow-config-change" in str(info.value)
    assert (
        len(
            resume.check_config(
                meta["config"], config_lib.to_dict(cfg), run, allow=True
            )
        )
        == 2
    )
    with pytest.raises(ValueError, match=r"train\.epochs: saved 3, now 5"):
        _fit(run, cfg)


def test_position_json_round_trip_is_exact():
    totals = {"loss": jnp.float32(1 / 3), "accuracy": jnp.float32(0.1)}
    pos = loop.Position(2, 3, totals, 24.0, 1, ({"epoch": 1},), None, 0)
    data = json.loads(json.dumps(resume.position_to_json(pos)))
    back = resume.position_from_json(data, None)
    assert back._replace(totals=None) == pos._replace(totals=None)
    for name, value in totals.items():
        assert back.totals[name].dtype == value.dtype
        assert np.asarray(back.totals[name]).tobytes() == np.asarray(value).tobytes()


def test_checkpoint_not_written_by_fit_cannot_be_resumed(tmp_path, reference):
    path = checkpoint.save(tmp_path, 1, {"w": jnp.ones(1)}, {})
    with pytest.raises(ValueError, match=r"written by the jnn run engine"):
        resume.restore(path, reference[1].state, {})


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_refuses_live_and_stale_owners(tmp_path):
    path = lock.acquire(tmp_path)
    with pytest.raises(ValueError, match=r"a live lock of pid \d+ on host"):
        lock.acquire(tmp_path, break_stale=True)
    with pytest.raises(ValueError, match="a live lock"):
        _fit(tmp_path)  # refused before any data is loaded or written
    lock.release(path)
    assert not path.exists()
    owner = json.loads(lock.acquire(tmp_path).read_text())
    path.write_text(json.dumps({**owner, "pid": _dead_pid()}))
    with pytest.raises(
        ValueError, match=r"stale lock of pid \d+ .*process dead.*--break-lock"
    ):
        lock.acquire(tmp_path)
    assert lock.acquire(tmp_path, break_stale=True) == path
    assert json.loads(path.read_text())["pid"] == owner["pid"]
    path.write_text("{garbled")
    with pytest.raises(ValueError, match=r"stale lock of pid \? on host \?"):
        lock.acquire(tmp_path)


def test_fields_added_since_the_checkpoint_are_no_difference():
    saved = json.loads(json.dumps(config_lib.to_dict(CFG)))
    del saved["train"]["on_nonfinite"]  # as written before the field existed
    now = config_lib.to_dict(CFG)
    assert resume.config_differences(resolve(saved), now) == []
    saved["train"]["retired"] = 1  # a field this version no longer knows
    assert resume.config_differences(resolve(saved), now) == [
        "train.on_nonfinite: saved '<unset>', now 'stop'",
        "train.retired: saved 1, now '<unset>'",
    ]


def test_preempted_without_a_run_directory_saves_nothing():
    with pytest.raises(Preempted, match="SIGTERM at step 2; checkpoint None"):
        _fit(None, stop=_stop_at(2))


def test_settle_raises_for_a_flagged_step_only_in_stop_mode():
    pos = loop.Position(batch=5, bad=jnp.array([3, 0], jnp.int32))
    with pytest.raises(NonFiniteError, match=r"at step 3 .* in the loss"):
        loop.settle(pos, {}, "stop")
    assert loop.settle(pos, {}, "skip") is pos
    clean = pos._replace(bad=jnp.array([-1, -1], jnp.int32))
    assert loop.settle(clean, {}, "stop") is clean


def test_position_json_holds_device_sums_as_exact_numbers():
    totals = {"loss": jnp.float32(0.1)}
    pos = loop.Position(totals=totals, count=jnp.float32(3), skipped=jnp.int32(1))
    data = json.loads(json.dumps(resume.position_to_json(pos)))
    assert (data["count"], data["skipped"]) == (3.0, 1)
    back = resume.position_from_json(data, None)
    assert np.asarray(back.totals["loss"]).tobytes() == np.float32(0.1).tobytes()
