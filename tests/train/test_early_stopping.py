"""Early stopping: modes, min_delta, patience, and restoring the best params."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.config import EarlyStoppingConfig
from jnn.layers import dense
from jnn.train import early_stopping as es
from jnn.train import loop
from jnn.train.state import create


def _run(values, mode="min", min_delta=0.0, patience=2):
    monitor, stopped_at = es.start(mode), None
    for epoch, v in enumerate(values):
        monitor, _ = es.update(monitor, v, epoch, mode=mode, min_delta=min_delta)
        if es.should_stop(monitor, patience):
            stopped_at = epoch
            break
    return monitor, stopped_at


def test_stops_after_patience_epochs_without_improvement():
    monitor, stopped = _run([1.0, 0.8, 0.9, 0.85, 0.7])
    assert (monitor.best, monitor.best_epoch, stopped) == (0.8, 1, 3)


def test_max_mode_and_auto():
    assert es.resolve_mode("val_accuracy", "auto") == "max"
    assert es.resolve_mode("val_loss", "auto") == "min"
    monitor, stopped = _run([0.5, 0.7, 0.6, 0.65], mode="max")
    assert (monitor.best, stopped) == (0.7, 3)


def test_min_delta_ignores_tiny_gains():
    monitor, stopped = _run([1.0, 0.99, 0.985], min_delta=0.05)
    assert (monitor.best, stopped) == (1.0, 2)


def test_nan_never_counts_as_improvement():
    monitor, _ = _run([1.0, float("nan")], patience=5)
    assert (monitor.best, monitor.bad_epochs) == (1.0, 1)


def test_patience_zero_stops_at_first_non_improvement():
    _, stopped = _run([1.0, 0.5, 0.6], patience=0)
    assert stopped == 2


def test_loop_restores_best_params(key):
    model, opt = dense(1), optax.sgd(0.0)
    ts = create(model, opt, key, jnp.zeros((4, 2)))
    scores = iter([0.5, 0.1, 0.3, 0.4, 0.6])

    def eval_split(params, state, name):
        return {"loss": next(scores)}

    def step(ts, batch):  # moves params deterministically each step
        params = {k: v + 1.0 for k, v in ts.params.items()}
        return ts._replace(params=params, step=ts.step + 1), {"loss": jnp.float32(0)}

    cfg = EarlyStoppingConfig(enabled=True, patience=3, restore_best=True)
    options = loop.LoopOptions(10, 4, "pad", 4, 0, cfg)
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    start = np.asarray(ts.params["bias"])  # the loop consumes (donates) `ts`
    result = loop.train(ts, step, eval_split, (x, y), options)
    assert (result.best_epoch, result.stopped_early, len(result.history)) == (
        2,
        True,
        5,
    )
    np.testing.assert_array_equal(result.train_state.params["bias"], start + 2)


def test_unknown_monitor_raises(key):
    ts = create(dense(1), optax.sgd(0.0), key, jnp.zeros((4, 2)))
    cfg = EarlyStoppingConfig(enabled=True, monitor="val_los")
    options = loop.LoopOptions(2, 4, "pad", 4, 0, cfg)
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)

    def step(ts, batch):
        return ts, {"loss": jnp.float32(0)}

    with pytest.raises(ValueError, match="did you mean 'val_loss'"):
        loop.train(ts, step, lambda p, s, n: {"loss": 1.0}, (x, y), options)
