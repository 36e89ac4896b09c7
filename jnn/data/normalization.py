"""Input normalisation with statistics fitted on the training split only.

Fitting on train and reusing the same `NormStats` for val, test and later
inference keeps held-out data from leaking into preprocessing. Only x is
normalised; labels and regression targets are left as they are.
"""

from typing import NamedTuple

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset

METHODS = ("none", "scale", "standardize")
# A feature whose train std is below this is treated as constant and only
# centred (scale 1), as scikit-learn's StandardScaler does: dividing by a
# floored tiny std would blow up any val/test value that differs from train.
MIN_STD = 1e-6


class NormStats(NamedTuple):
    """Per-feature statistics: normalised x = (x - shift) / scale.

    Attributes:
      shift: x.shape[1:] float32, subtracted first.
      scale: x.shape[1:] float32, divided by after; always > 0.
    """

    shift: np.ndarray
    scale: np.ndarray


def fit_norm_stats(
    x: np.ndarray, method: str, max_value: float | None = None
) -> NormStats:
    """Fit the statistics of `method` on (training) inputs `x`.

    Args:
      x: (N, *F) floating training inputs.
      method: "none" (identity), "scale" (divide by `max_value`, or by the
        largest |x| of the training data when None) or "standardize"
        (per-feature mean 0, std 1 over axis 0).
      max_value: The data set's known maximum for "scale", e.g. 16 for
        digits or 255 for MNIST, so scaling does not depend on the sample.

    Returns:
      `NormStats` with shift and scale of shape x.shape[1:].

    Raises:
      ValueError: if `method` is unknown, x is empty or has no feature axis,
        or "scale" finds no positive maximum.
      TypeError: if x is not a floating NumPy array or `max_value` not a number.

    Example:
      >>> x = np.array([[0.0, 2.0], [2.0, 2.0]], np.float32)
      >>> fit_norm_stats(x, "standardize")
      NormStats(shift=array([1., 2.], dtype=float32), scale=array([1., 1.], dtype=float32))
    """
    where = "normalize"
    _checks.one_of(where, "method", method, METHODS)
    _check_inputs(where, "train x", x)
    if method == "standardize":
        shift, scale = x.mean(axis=0, dtype=np.float64), x.std(axis=0, dtype=np.float64)
        scale = np.where(scale < MIN_STD, 1.0, scale)
    else:
        shift = np.zeros(x.shape[1:])
        scale = np.full(x.shape[1:], _scale_value(where, x, method, max_value))
    return NormStats(shift.astype(np.float32), scale.astype(np.float32))


def _scale_value(where: str, x: np.ndarray, method: str, max_value) -> float:
    if method == "none":
        return 1.0
    if max_value is not None:
        return _checks.finite_float(where, "max_value", max_value, low=1e-30)
    peak = float(np.abs(x).max())
    if not np.isfinite(peak) or peak <= 0.0:
        raise _checks.value_error(
            where,
            "training inputs with a finite, positive max |x| for method 'scale'",
            peak,
            "pass max_value, or use method='standardize'",
        )
    return peak


def apply_norm_stats(stats: NormStats, x: np.ndarray) -> np.ndarray:
    """Return (x - shift) / scale as float32, for any number of samples.

    Raises:
      ValueError: if x's per-sample shape differs from the fitted one.
      TypeError: if x is not a floating NumPy array.
    """
    _check_inputs("normalize", "x", x, allow_empty=True)
    if x.shape[1:] != stats.shift.shape:
        raise _checks.value_error(
            "normalize",
            f"samples of shape {_checks.fmt_shape(stats.shift.shape)} like train",
            f"x of shape {_checks.fmt_shape(x.shape)}",
        )
    return ((x - stats.shift) / stats.scale).astype(np.float32)


def normalize(
    train: Dataset,
    *others: Dataset,
    method: str = "standardize",
    max_value: float | None = None,
) -> tuple[tuple[Dataset, ...], NormStats]:
    """Fit `method` on `train` and apply the same statistics to every data set.

    Args:
      train: The training split; the only data the statistics see.
      *others: Further splits (val, test, ...) normalised with train's stats.
      method: "none", "scale" or "standardize"; see `fit_norm_stats`.
      max_value: Known data maximum for "scale" (16 digits, 255 MNIST).

    Returns:
      ((train, *others) normalised, in the order given; the stats to reuse
      on new data with `apply_norm_stats`).

    Raises:
      ValueError: if `method` is unknown, train is empty, or a data set's
        per-sample shape differs from train's.
      TypeError: if an x is not a floating NumPy array.

    Example:
      >>> train = Dataset(np.array([[0.0], [4.0]], np.float32), np.array([0, 1]))
      >>> test = Dataset(np.array([[8.0]], np.float32), np.array([1]))
      >>> (train, test), stats = normalize(train, test, method="scale")
      >>> test.x.tolist(), stats.scale.tolist()
      ([[2.0]], [4.0])
    """
    stats = fit_norm_stats(train.x, method, max_value)
    datasets = (train, *others)
    return tuple(Dataset(apply_norm_stats(stats, d.x), d.y) for d in datasets), stats


def _check_inputs(where: str, name: str, x, allow_empty: bool = False) -> None:
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise _checks.type_error(
            where,
            f"{name} as a floating NumPy array",
            got,
            "cast explicitly, e.g. x.astype(np.float32)",
        )
    if x.ndim < 2 or (len(x) == 0 and not allow_empty):
        raise _checks.value_error(
            where,
            f"{name} of shape (N, *F) with N > 0",
            f"shape {_checks.fmt_shape(x.shape)}",
        )
