"""Real processes: SIGKILL at random moments and SIGTERM, then resume bitwise.

Each test launches `python -m jnn.cli` on a tiny run (moons, 2-8-2 MLP with
dropout, adam + cosine schedule, early stopping) that checkpoints every step.
The test-only hook JNN_TEST_SAVE_DELAY makes every save print
`jnn-test: saving step N` and sleep that long before its commit, so the test
can see steps go by and SIGKILL a run in the middle of a save. A shared
persistent compilation cache keeps each launch at ~2.5 s of CPU.

The CI run makes JNN_KILLS=2 kills (1 during a save); the acceptance run of
20 kills (5 during saves) is `JNN_KILLS=20 pytest tests/runs/test_kill.py`.
`JNN_KILL_DEVICES=4` runs every launch data-parallel on 4 CPU devices.
"""

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jnn import config as config_lib
from jnn.runs import checkpoint, resume
from jnn.train import supervised_run

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("JNN_KILLS", "2"))
DEVICES = int(os.environ.get("JNN_KILL_DEVICES", "1"))
SAVE_KILLS = max(1, KILLS // 4)
EPOCHS = 4 + 2 * KILLS  # ~6 steps per epoch: room for every kill
CONFIG = f"""
[data]
name = "moons"
num_samples = 64
[model]
kind = "mlp"
hidden = [8]
dropout = 0.1
[optim]
name = "adam"
lr = 0.01
schedule = "cosine"
[train]
epochs = {EPOCHS}
batch_size = 8
checkpoint_every_steps = 1
keep_checkpoints = 2
[early_stopping]
enabled = true
patience = 1000
[mesh]
data = {DEVICES}
"""


class Child:
    """A training subprocess whose output lines arrive on a queue."""

    def __init__(self, config: Path, run: Path, cache: Path, delay: float, *extra):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
        env |= {"JNN_TEST_SAVE_DELAY": str(delay)}
        env |= {"JAX_COMPILATION_CACHE_DIR": str(cache)}
        env |= {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
        env |= {"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}  # faster compiles
        env |= {"XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}"}
        argv = [sys.executable, "-m", "jnn.cli", str(config), "--workdir", str(run)]
        self.proc = subprocess.Popen(
            [*argv, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_saves(self, count: int, timeout: float = 60.0) -> bool:
        """Block until `count` more saves began; False if the run ended first."""
        deadline = time.monotonic() + timeout
        while count:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if line is None:
                return False
            count -= line.startswith("jnn-test: saving")
        return True

    def finish(self, timeout: float = 120.0) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(timeout)  # the pipe hits EOF once the child is gone
        self.proc.stdout.close()
        return code


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    base = tmp_path_factory.mktemp("kill")
    (base / "tiny.toml").write_text(CONFIG)
    return base


@pytest.fixture(scope="module")
def fresh_state(paths):
    cfg = config_lib.load(paths / "tiny.toml", ["mesh.data=1"])  # this process: 1
    task, _, _ = supervised_run.task(cfg)
    return task.state, task.arrays


@pytest.fixture(scope="module")
def reference(paths):
    """The final checkpoint of an uninterrupted run (also fills the cache)."""
    run = paths / "reference"
    child = Child(paths / "tiny.toml", run, paths / "cache", 0.0, "--resume", "never")
    assert child.finish() == 0, "".join(child.output)
    return run


def _final_tree(run: Path, fresh) -> dict:
    found = checkpoint.latest(run / "checkpoints")
    _, meta = checkpoint.restore_metadata(found)
    assert meta.get("final"), found
    state, arrays = fresh
    tree, _ = checkpoint.restore(found, resume.template(state, meta, arrays))
    return tree


def _assert_bitwise_equal(run: Path, reference: Path, fresh) -> None:
    got, want = _final_tree(run, fresh), _final_tree(reference, fresh)
    for name in ("params", "opt_state", "step", "key", "state"):
        pairs = zip(
            jax.tree.leaves(got[name]), jax.tree.leaves(want[name]), strict=True
        )
        for a, b in pairs:
            if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
                a, b = jax.random.key_data(a), jax.random.key_data(b)
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), name
    assert _metric_lines(run) == _metric_lines(reference)


def _metric_lines(run: Path) -> list[str]:
    """metrics.jsonl without the wall-clock `time_s` field."""
    import json

    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.dumps({**json.loads(s), "time_s": 0}) for s in lines]


def _check_after_kill(run: Path, fresh, during_save: bool) -> None:
    ckpts = run / "checkpoints"
    if during_save:  # the kill landed between writing files and the commit
        assert any(p.name.startswith(".tmp-ckpt_") for p in ckpts.iterdir())
    found = checkpoint.latest(ckpts)
    if found is None:
        return  # killed before the first commit: the next launch starts fresh
    assert found.name.startswith("ckpt_") and found in checkpoint.all_checkpoints(ckpts)
    ts, _, _ = resume.restore(found, *fresh)
    assert int(ts.step) == int(found.name.removeprefix("ckpt_"))


def test_sigkill_at_random_moments_then_resume_bitwise(paths, reference, fresh_state):
    rng = random.Random(0)
    plan = [True] * SAVE_KILLS + [False] * (KILLS - SAVE_KILLS)
    rng.shuffle(plan)
    run, config, cache = paths / "killed", paths / "tiny.toml", paths / "cache"
    for during_save in plan:
        delay = 0.3 if during_save else 0.02
        child = Child(config, run, cache, delay, "--break-lock")
        assert child.wait_for_saves(rng.randint(1, 3)), "".join(child.output)
        time.sleep(rng.uniform(0.02, 0.25) if during_save else rng.uniform(0, 0.3))
        child.proc.send_signal(signal.SIGKILL)
        assert child.finish() == -signal.SIGKILL
        _check_after_kill(run, fresh_state, during_save)
    child = Child(config, run, cache, 0.0, "--break-lock", "--resume", "required")
    assert child.finish() == 0, "".join(child.output)
    assert "resuming from" in "".join(child.output)
    _assert_bitwise_equal(run, reference, fresh_state)


def test_sigterm_checkpoints_the_current_step_and_resumes(
    paths, reference, fresh_state
):
    run, config, cache = paths / "terminated", paths / "tiny.toml", paths / "cache"
    child = Child(config, run, cache, 0.05)
    assert child.wait_for_saves(3)
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGTERM)
    assert child.finish(timeout=30) == 143
    assert time.monotonic() - sent < 30
    out = "".join(child.output)
    step = int(out.split("pre-empted: SIGTERM at step ")[1].split(";")[0])
    assert checkpoint.latest(run / "checkpoints").name == f"ckpt_{step:08d}"
    assert not (run / ".jnn-lock").exists()  # a clean exit releases the lock
    child = Child(config, run, cache, 0.0, "--resume", "required")
    assert child.finish() == 0, "".join(child.output)
    _assert_bitwise_equal(run, reference, fresh_state)
