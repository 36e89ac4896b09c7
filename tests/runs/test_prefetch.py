"""`jnn.runs.prefetch` and the engine loop's batches through it: same items,
in order, placed ahead; errors named; no thread outlives a stop; bitwise runs."""

import contextlib
import itertools
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn import layers as nn
from jnn import losses
from jnn.runs import loop
from jnn.runs.mesh import ONE_DEVICE
from jnn.runs.prefetch import default_depth, placer, prefetch
from jnn.train import create, make_train_step, supervised

pytestmark = pytest.mark.usefixtures("fast_compiles")  # bitwise either way

MODES = [(depth, thread) for depth in (0, 1, 2, 5) for thread in (True, False)]


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jnn-prefetch"]


@pytest.mark.parametrize(("depth", "thread"), MODES)
def test_items_come_in_order_with_depth_placed_ahead(depth, thread):
    placed = []

    def put(item):
        placed.append(item)
        return item * 10

    seen = []
    for value in prefetch(iter(range(7)), put, depth=depth, thread=thread):
        seen.append((value, len(placed)))
    # when item i is yielded, items up to i + depth (or the last) are placed
    assert seen == [(10 * i, min(i + depth + 1, 7)) for i in range(7)]
    assert _threads() == []


@pytest.mark.parametrize("thread", [True, False])
def test_an_error_making_a_batch_is_raised_here_naming_the_batch(thread):
    def batches():
        yield from range(3)
        raise KeyError("disk gone")

    feed = prefetch(batches(), lambda b: b, thread=thread, start=40)
    got = []
    with pytest.raises(KeyError, match="disk gone") as error:
        got.extend(feed)
    assert got == [0, 1, 2]  # every batch before the failure, in order
    assert "prefetch: raised while making batch 43" in error.value.__notes__
    assert _threads() == []


@pytest.mark.parametrize("thread", [True, False])
def test_closing_early_stops_the_thread_and_closes_the_batches(thread):
    closed = []

    def batches():
        try:
            yield from itertools.count()  # endless: only the bound stops it
        finally:
            closed.append(True)

    with contextlib.closing(prefetch(batches(), lambda b: b, thread=thread)) as feed:
        assert [next(feed) for _ in range(3)] == [0, 1, 2]
    assert closed == [True]
    assert _threads() == []


def test_the_thread_makes_a_bounded_number_of_batches_ahead():
    made = []

    def batches():
        for i in itertools.count():
            made.append(i)
            yield i

    with contextlib.closing(prefetch(batches(), lambda b: b, depth=2)) as feed:
        assert next(feed) == 0
        time.sleep(0.05)  # time to run ahead, were it unbounded
        # 1 consumed + 2 placed ahead + 2 queued + 1 being put in the queue
        assert 3 <= len(made) <= 6
    assert _threads() == []


def test_depth_must_be_a_non_negative_int_at_the_call():
    with pytest.raises(ValueError, match=r"prefetch: expected `depth` >= 0, got -1"):
        prefetch([], lambda b: b, depth=-1)
    with pytest.raises(TypeError, match=r"expected `depth` to be an int, got 1.5"):
        prefetch([], lambda b: b, depth=1.5)


# -- the engine loop -----------------------------------------------------------

X = np.random.default_rng(0).normal(size=(44, 5)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
MODEL = nn.serial(nn.dense(8), nn.relu(), nn.dropout(0.3), nn.dense(2))
PLAN = supervised.array_plan(X, Y, epochs=2, batch_size=8, seed=3)  # 6 padded


def _start():
    opt = optax.adam(1e-2)
    loss = losses.sparse_softmax_cross_entropy
    step = make_train_step(MODEL, loss, opt, guard_nonfinite=True)
    state = create(MODEL, opt, jax.random.key(0), jax.ShapeDtypeStruct((8, 5), X.dtype))
    return jax.jit(step, donate_argnums=0), state


STEP, _ = _start()  # one jitted step: compiled once for the module


def _train(state, plan=PLAN, position=None, **hooks):
    return loop.train(
        state,
        STEP,
        plan,
        lambda ts: {},
        hooks=loop.Hooks(**hooks),
        position=position,
    )


def _host(result) -> tuple[list[bytes], list[dict]]:
    """The final state's bytes and the history (less its timings)."""

    def raw(leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.asarray(leaf).tobytes()

    history = [{k: v for k, v in r.items() if k != "time_s"} for r in result.history]
    return [raw(leaf) for leaf in jax.tree.leaves(result.state)], history


@pytest.fixture(scope="module")
def unprefetched():
    return _host(_train(_start()[1], prefetch_depth=0))


@pytest.mark.parametrize(("depth", "fuse"), [(2, 1), (5, 1), (2, 4)])
def test_prefetched_runs_equal_the_unprefetched_run_bitwise(unprefetched, depth, fuse):
    got = _train(_start()[1], prefetch_depth=depth, fuse_steps=fuse)
    assert _host(got) == unprefetched
    assert _threads() == []


class _Stop(Exception):
    """A stop mid-epoch (a checkpoint's pre-emption, say) with what to resume."""


def test_a_stop_mid_epoch_ends_the_thread_and_resumes_bitwise(unprefetched):
    def on_step(state, pos):
        if pos.epoch == 1 and pos.batch == 2:  # ahead of it: batches 3 and 4
            raise _Stop(jax.tree.map(jnp.copy, state), pos)

    with pytest.raises(_Stop) as stop:
        _train(_start()[1], on_step=on_step)
    assert _threads() == []  # not left blocked on its full queue
    state, pos = stop.value.args
    assert _host(_train(state, position=pos)) == unprefetched


def test_an_error_in_the_epochs_batches_names_the_batch():
    def batches(epoch, start):
        for i, batch in enumerate(PLAN.batches(epoch, start), start):
            if i == 4:
                raise OSError("read failed")
            yield batch

    plan = PLAN._replace(batches=batches)
    with pytest.raises(OSError, match="read failed") as error:
        _train(_start()[1], plan)
    assert "prefetch: raised while making batch 4" in error.value.__notes__
    assert _threads() == []


def test_the_engine_prefetches_by_default_on_an_accelerator_only():
    on_cpu = jax.default_backend() == "cpu"
    assert default_depth() == (0 if on_cpu else 2)
    batch = np.zeros(3, np.float32)
    placed = placer(ONE_DEVICE)(batch)
    assert placed is batch  # the jitted call copies it: cheaper than device_put
