"""Sine forecasting data: the documented formula, the last-value baseline, a run."""

import numpy as np
import pytest

from jnn import config as config_lib
from jnn import data
from jnn.data import sine
from jnn.data.config import SineConfig
from jnn.data.dataset import Dataset
from jnn.data.sources import baselines
from jnn.train import fit_config


def _reference(n, seq_len, horizon, noise, seed):
    """The docstring's formula, drawing in the documented order."""
    rng = np.random.default_rng(seed)
    amps = rng.uniform(0.3, 1.0, (n, 3))
    phases = rng.uniform(0.0, 2 * np.pi, (n, 3))
    t = np.arange(seq_len + horizon)
    series = sum(
        amps[:, k, None] * np.sin(2 * np.pi * f * t + phases[:, k, None])
        for k, f in enumerate((1 / 8, 1 / 13, 1 / 21))
    )
    return series + noise * rng.standard_normal(series.shape)


def test_sine_series_matches_the_formula():
    got = sine.sine_series(5, seq_len=7, horizon=3, noise=0.2, seed=4)
    want = _reference(5, 7, 3, 0.2, 4)
    assert got.x.shape == (5, 7, 1) and got.y.shape == (5, 3)
    assert got.x.dtype == got.y.dtype == np.float32
    np.testing.assert_allclose(got.x[..., 0], want[:, :7], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.y, want[:, 7:], rtol=1e-5, atol=1e-6)


def test_window_and_horizon_cut_one_series():
    # Noise-free, the same seed gives the same series however it is cut.
    a = sine.sine_series(3, seq_len=10, horizon=5, noise=0.0, seed=1)
    b = sine.sine_series(3, seq_len=12, horizon=3, noise=0.0, seed=1)
    whole_a = np.concatenate([a.x[..., 0], a.y], axis=1)
    whole_b = np.concatenate([b.x[..., 0], b.y], axis=1)
    np.testing.assert_allclose(whole_a, whole_b, atol=1e-6)


def test_last_value_baseline_by_hand():
    x = np.array([[[1.0], [2.0]], [[0.0], [-1.0]]], np.float32)
    y = np.array([[2.0, 4.0], [-1.0, -1.0]], np.float32)
    np.testing.assert_array_equal(sine.last_value_forecast(x, 2), [[2, 2], [-1, -1]])
    assert sine.last_value_mse(Dataset(x, y)) == pytest.approx(4.0 / 4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sine.sine_series(0, 5), r"sine_series: expected `num_samples`"),
        (lambda: sine.sine_series(2, 5, horizon=0), r"sine_series: .*`horizon`"),
        (lambda: sine.sine_series(2, 5, noise=-1.0), r"sine_series: .*`noise`"),
        (
            lambda: sine.last_value_forecast(np.zeros((2, 3)), 1),
            r"last_value_forecast: expected x of shape \(N, T, 1\), got shape \(2, 3\)",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_sine_and_its_baselines():
    cfg = SineConfig(num_samples=50, seq_len=6, horizon=2)
    splits = data.load(cfg)
    assert splits.num_classes is None
    assert splits.train.x.shape[1:] == (6, 1) and splits.test.y.shape[1:] == (2,)
    scores = baselines(cfg)
    assert sorted(scores) == [
        "test_last_value_mse",
        "train_last_value_mse",
        "val_last_value_mse",
    ]
    assert all(v > 0 for v in scores.values())


def test_lstm_forecaster_beats_last_value_twice():
    """Test-sized run of configs/sine_lstm.toml: model MSE <= baseline / 2."""
    cfg = config_lib.load(
        "configs/sine_lstm.toml",
        [
            *("data.num_samples=800", "model.hidden=[32]"),
            *("train.epochs=10", "train.batch_size=32"),
        ],
    )
    result = fit_config(cfg, log=None)
    baseline = baselines(cfg.data)["test_last_value_mse"]
    print(f"test MSE {result.test['loss']:.4f} vs last value {baseline:.4f}")
    assert result.test["loss"] <= baseline / 2
