"""`fuse_steps`: K steps per dispatch in the engine, bitwise the per-step run."""

import json
import signal

import jax
import numpy as np
import optax
import pytest

import jnn
from jnn import layers as nn
from jnn.runs.callbacks import Callback
from jnn.runs.engine import Settings
from jnn.runs.mesh import Placement, _make_mesh
from jnn.runs.signals import Preempted

pytestmark = pytest.mark.usefixtures("fast_compiles")  # bitwise either way

X = np.random.default_rng(0).normal(size=(90, 6)).astype(np.float32)
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
MODEL = nn.named(h=nn.dense(12), a=nn.relu(), d=nn.dropout(0.2), o=nn.dense(2))


def _fit(workdir=None, *, fuse=1, every=0, **kwargs):
    settings = Settings(fuse_steps=fuse, checkpoint_every_steps=every)
    kwargs.setdefault("log", None)
    return jnn.train.fit(
        MODEL,
        "sparse_softmax_cross_entropy",
        optax.adam(1e-2),
        (X, Y),
        val=(X[:30], Y[:30]),
        epochs=3,
        batch_size=8,  # 12 steps per epoch, the last one padded
        workdir=workdir,
        settings=settings,
        progress=False,
        **kwargs,
    )


def _bytes(state) -> list[bytes]:
    def host(leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.asarray(leaf).tobytes()

    return [host(leaf) for leaf in jax.tree.leaves(state)]


def _history(result) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time_s"} for r in result.history]


@pytest.fixture(scope="module")
def per_step():
    return _fit()


@pytest.mark.parametrize("fuse", [50])  # a whole epoch a dispatch (5: below)
def test_fused_runs_equal_the_per_step_run_bitwise(per_step, fuse):
    fused = _fit(fuse=fuse)
    assert _bytes(fused.state) == _bytes(per_step.state)
    assert _history(fused) == _history(per_step)


def test_fused_dispatches_end_at_every_checkpoint_step(tmp_path, per_step):
    fused = _fit(tmp_path / "fused", fuse=5, every=7)
    saved = sorted(p.name for p in (tmp_path / "fused" / "checkpoints").iterdir())
    assert saved == [f"ckpt_{s:08d}" for s in (7, 14, 21, 28, 35)] + ["ckpt_00000036"]
    assert _bytes(fused.state) == _bytes(per_step.state)


def test_a_fused_run_preempted_then_resumed_ends_bitwise_equal(tmp_path, per_step):
    polls = iter(range(100))

    def stop():  # polled at steps 5, 10, 12 (the epoch's end), 17, ...
        return signal.SIGTERM if next(polls) == 3 else None

    with pytest.raises(Preempted) as event:
        _fit(tmp_path / "cut", fuse=5, stop=stop)
    assert event.value.step == 17  # dispatches of 5, 5, 2 | 5 in epoch 2
    resumed = _fit(tmp_path / "cut", fuse=5)
    assert _bytes(resumed.state) == _bytes(per_step.state)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


def test_per_step_callbacks_get_every_step_even_when_fusing(per_step):
    seen = []

    def on_step(end):
        seen.append((end.batch, sorted(end.metrics)))

    fused = _fit(fuse=6, callbacks=[Callback(on_step=on_step)])
    names = ["accuracy", "grad_norm", "loss", "objective"]
    assert seen == [(batch, names) for batch in range(1, 13)] * 3
    assert _bytes(fused.state) == _bytes(per_step.state)


def test_fuse_steps_must_be_non_negative():
    with pytest.raises(ValueError, match=r"expected `fuse_steps` >= 0, got -1"):
        _fit(fuse=-1)


def test_fused_steps_on_a_mesh_equal_the_per_step_run(per_step):
    one = Placement(_make_mesh(1))  # a mesh, though of one
    fused = _fit(fuse=4, mesh=one)  # 4 devices: test_mesh_devices.py
    assert _bytes(fused.state) == _bytes(per_step.state)


def test_auto_fuses_the_epoch_bitwise_like_the_per_step_run(per_step):
    lines = []
    auto = _fit(fuse=0, log=lines.append)
    assert "fusing  12 steps per dispatch (auto: the whole epoch)" in lines[0]
    assert _bytes(auto.state) == _bytes(per_step.state)
    assert _history(auto) == _history(per_step)


@pytest.mark.parametrize("fuse", [1, 3, 4])
@pytest.mark.parametrize("every", [0, 5])
@pytest.mark.parametrize("at", [(0, 0), (2, 7)])
def test_sliced_dispatches_are_the_chunked_ones(fuse, every, at):
    from jnn.runs import loop

    for count in range(11):
        chunks = list(loop._chunks(range(count), at, fuse, every))
        cut = [list(range(a, b)) for a, b in loop._slices(count, at, fuse, every)]
        assert cut == chunks


def test_a_dispatch_ends_at_fuse_multiples_and_checkpoint_steps():
    from jnn.runs import loop

    # 10 batches from batch 2 at step 7, fuse 4, checkpoints every 5 steps:
    # dispatches end after batches 4, 8, 12 and steps 10, 15.
    ends = [end for _, end in loop._slices(10, (2, 7), 4, 5)]
    assert ends == [2, 3, 6, 8, 10]


@pytest.mark.parametrize("fuse", [1, 5])
def test_batches_streamed_from_the_host_equal_data_kept_on_the_device(
    monkeypatch, per_step, fuse
):
    from jnn.train import supervised

    kept = supervised.array_plan(X, Y, epochs=1, batch_size=8)
    assert kept.gather is not None and kept.source[0].shape == X.shape
    monkeypatch.setattr(supervised, "DEVICE_DATA_BYTES", X.nbytes)  # too big now
    assert supervised.array_plan(X, Y, epochs=1, batch_size=8).source is None
    streamed = _fit(fuse=fuse)  # per_step kept its data on the device
    assert _bytes(streamed.state) == _bytes(per_step.state)
    assert _history(streamed) == _history(per_step)
