"""Noisy multi-frequency sine series for forecasting, and the last-value baseline.

Every sample is its own series: a sum of sines at the fixed `FREQUENCIES`
with random amplitudes and phases, plus Gaussian noise. The model reads the
first `seq_len` values and predicts the next `horizon`. Because no two samples
share a series, a random train/val/test split cannot leak overlapping windows
of one long series into the held-out sets.
"""

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset

# Cycles per step: periods of 8, 13 and 21 steps, so a 32-step window holds
# at least 1.5 cycles of each and their sum never repeats within a window.
FREQUENCIES = (1 / 8, 1 / 13, 1 / 21)
AMPLITUDE_RANGE = (0.3, 1.0)  # each component's amplitude, drawn uniformly


def sine_series(
    num_samples: int, seq_len: int, horizon: int = 1, noise: float = 0.1, seed: int = 0
) -> Dataset:
    """Draw `num_samples` independent noisy series, split into window and future.

    Value t of a series is `sum_k a_k sin(2 pi f_k t + phi_k) + noise * e_t`
    with `f_k` from `FREQUENCIES`, `a_k ~ U(AMPLITUDE_RANGE)`,
    `phi_k ~ U(0, 2 pi)` and `e_t ~ N(0, 1)`, all drawn from `seed`. The noise
    is on the targets too, so no model's MSE goes below `noise**2`.

    Args:
      num_samples: Number of series N. Must be > 0.
      seq_len: Steps the model reads, T. Must be > 0.
      horizon: Future steps to predict, H. Must be > 0.
      noise: Standard deviation of the Gaussian noise. Must be >= 0.
      seed: Seed of amplitudes, phases and noise. Must be >= 0.

    Returns:
      `Dataset(x, y)`: x (N, T, 1) float32 past values, y (N, H) float32
      the next H values.

    Raises:
      ValueError: if a count is not > 0, `noise` < 0 or `seed` < 0.
      TypeError: if a count or `seed` is not an int.

    Example:
      >>> data = sine_series(4, seq_len=10, horizon=2)
      >>> data.x.shape, data.y.shape
      ((4, 10, 1), (4, 2))
    """
    where = "sine_series"
    for name, value in (("num_samples", num_samples), ("seq_len", seq_len)):
        _checks.positive_int(where, name, value)
    _checks.positive_int(where, "horizon", horizon)
    _checks.finite_float(where, "noise", noise, low=0.0)
    _checks.non_negative_int(where, "seed", seed)
    rng = np.random.default_rng(seed)
    freqs = np.asarray(FREQUENCIES)
    amps = rng.uniform(*AMPLITUDE_RANGE, (num_samples, len(freqs)))
    phases = rng.uniform(0.0, 2 * np.pi, (num_samples, len(freqs)))
    t = np.arange(seq_len + horizon)
    angles = 2 * np.pi * freqs[None, :, None] * t + phases[..., None]  # (N, K, T+H)
    series = (amps[..., None] * np.sin(angles)).sum(axis=1)  # (N, T+H)
    series += noise * rng.standard_normal(series.shape)
    series = series.astype(np.float32)
    return Dataset(series[:, :seq_len, None], series[:, seq_len:])


def last_value_forecast(x: np.ndarray, horizon: int) -> np.ndarray:
    """Predict every future step as the last observed value (persistence).

    Shapes:
      x: (N, T, 1)  ->  (N, horizon)

    Raises:
      ValueError: if x is not (N, T, 1) or `horizon` is not > 0.
    """
    _checks.positive_int("last_value_forecast", "horizon", horizon)
    if x.ndim != 3 or x.shape[-1] != 1:
        raise _checks.value_error(
            "last_value_forecast",
            "x of shape (N, T, 1)",
            f"shape {_checks.fmt_shape(x.shape)}",
        )
    return np.repeat(x[:, -1, :], horizon, axis=1)


def last_value_mse(dataset: Dataset) -> float:
    """The mean squared error of `last_value_forecast` on raw (unnormalised) data.

    This is the baseline a forecaster must beat: a model that only learned
    "tomorrow equals today" scores exactly this.

    Example:
      >>> data = Dataset(np.ones((2, 3, 1), np.float32), np.full((2, 1), 3.0))
      >>> last_value_mse(data)
      4.0
    """
    guess = last_value_forecast(dataset.x, dataset.y.shape[1])
    return float(np.mean((guess - dataset.y) ** 2, dtype=np.float64))
