"""Early stopping: modes, min_delta, patience; as an engine callback, restoring
the best params."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.layers import dense
from jnn.runs import loop
from jnn.runs.callbacks import Decision, EpochEnd
from jnn.train import early_stopping as es
from jnn.train import supervised
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


def _engine_run(key, scores, callback, epochs=10):
    """Train a dense(1) whose bias grows by 1 per step; val_loss from `scores`."""
    ts = create(dense(1), optax.sgd(0.0), key, jnp.zeros((4, 2)))
    scores = iter(scores)

    def validate(state):
        return {"val_loss": next(scores)}

    def step(ts, batch):  # moves params deterministically each step
        params = {k: v + 1.0 for k, v in ts.params.items()}
        return ts._replace(params=params, step=ts.step + 1), {"loss": jnp.float32(0)}

    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    plan = supervised.array_plan(x, y, epochs=epochs, batch_size=4)
    start = np.asarray(ts.params["bias"])  # the loop consumes (donates) `ts`
    hooks = loop.Hooks(callbacks=(callback,))
    return loop.train(ts, step, plan, validate, hooks=hooks), start


def test_callback_stops_and_restores_best_params(key):
    callback = es.callback("val_loss", patience=3, restore_best=True)
    result, start = _engine_run(key, [0.5, 0.1, 0.3, 0.4, 0.6], callback)
    got = (result.best_epoch, result.stopped_early, len(result.history))
    assert got == (2, True, 5)
    np.testing.assert_array_equal(result.state.params["bias"], start + 2)


def test_callback_without_restore_keeps_the_last_params(key):
    callback = es.callback("val_loss", patience=1, restore_best=False)
    result, start = _engine_run(key, [0.5, 0.1, 0.3], callback)
    assert (result.best_epoch, len(result.history)) == (2, 3)
    np.testing.assert_array_equal(result.state.params["bias"], start + 3)


def test_the_decision_is_a_fold_of_the_history_alone():
    callback = es.callback("val_loss", patience=2)
    history = ({"val_loss": 1.0}, {"val_loss": 0.5}, {"val_loss": 0.7})
    end = EpochEnd(2, history[-1], history, None)
    assert callback.on_epoch(end) == Decision(stop=False, improved=False, keep=False)
    longer = (*history, {"val_loss": 0.6})
    end = EpochEnd(3, longer[-1], longer, None)
    assert callback.on_epoch(end).stop


def test_unknown_monitor_raises(key):
    callback = es.callback("val_los")
    with pytest.raises(ValueError, match="did you mean 'val_loss'"):
        _engine_run(key, [1.0, 1.0], callback, epochs=2)


def test_unknown_mode_and_negative_patience_raise():
    with pytest.raises(ValueError, match=r"`early_stopping\.mode` to be one of"):
        es.callback("val_loss", mode="minimum")
    with pytest.raises(ValueError, match="patience"):
        es.callback("val_loss", patience=-1)
