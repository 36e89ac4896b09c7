"""The host-side data containers `Dataset` and `Splits`, and `validate`.

Data stays in host NumPy arrays until the trainer moves a batch to the device,
so every check here is plain NumPy and runs once, before training starts.
"""

from typing import NamedTuple

import numpy as np

from jnn import _checks, losses

_MAX_LISTED = 5  # offending samples named in an error; more would bury the message


class Dataset(NamedTuple):
    """Inputs and targets of one data set, as host NumPy arrays.

    Attributes:
      x: (N, *F) float32 inputs, e.g. (N, 8, 8, 1) channels-last images.
      y: (N,) int32 class labels for classification, or (N, *T) float32
        targets for regression.
    """

    x: np.ndarray
    y: np.ndarray


class Splits(NamedTuple):
    """The three splits a run trains, selects and reports on.

    Attributes:
      train: Fits the parameters (and the normalisation statistics).
      val: Picks epochs and hyperparameters. May be empty if its fraction is 0.
      test: Reported once at the end. May be empty if its fraction is 0.
      num_classes: Number of classes, or None for regression.
      norm: The input normalisation fitted on train (`NormStats`), or None
        when inputs are not normalised; saved with the run for `predict`.
      vocab: Text data: token id i is character vocab[i]; else None.
    """

    train: Dataset
    val: Dataset
    test: Dataset
    num_classes: int | None
    norm: object = None  # jnn.data.NormStats (imports this module)
    vocab: str | None = None


def validate(dataset: Dataset, where: str, num_classes: int | None) -> None:
    """Check a data set on the host before training, naming the bad samples.

    Args:
      dataset: The `Dataset` to check.
      where: Names the data set in error messages, e.g. "digits train split".
      num_classes: Labels must be integers in [0, num_classes); None means
        regression: float targets, all finite.

    Raises:
      TypeError: if x or y is not a NumPy array, x is not floating point,
        labels are not integers, regression targets are not floating point,
        or `num_classes` is neither None nor an int.
      ValueError: if `num_classes` <= 0, the set is empty, len(x) != len(y), x has no feature
        axis, x (or a regression target) holds NaN/Inf, labels are not 1-D,
        or a label lies outside [0, num_classes).

    Example:
      >>> data = Dataset(np.zeros((2, 3), np.float32), np.array([0, 4], np.int32))
      >>> validate(data, "demo", num_classes=3)
      Traceback (most recent call last):
      ...
      jnn._checks.JnnValueError: demo: expected integer labels in [0, 3), got 1 out-of-range values {4} at sample indices [1].
    """
    _check_arrays(where, dataset)
    _check_lengths(where, dataset)
    _check_inputs(where, dataset.x)
    if num_classes is None:
        _check_targets(where, dataset.y)
    else:
        _check_labels(where, dataset.y, num_classes)


def _check_arrays(where: str, dataset) -> None:
    if not isinstance(dataset, tuple) or len(dataset) != 2:
        raise _checks.type_error(where, "a Dataset(x, y)", type(dataset).__name__)
    for name, array in zip(("x", "y"), dataset, strict=True):
        if not isinstance(array, np.ndarray):
            raise _checks.type_error(
                where,
                f"`{name}` to be a NumPy array",
                type(array).__name__,
                "data sets live on the host; convert with np.asarray",
            )


def _check_lengths(where: str, dataset: Dataset) -> None:
    x, y = dataset
    if x.ndim < 2:
        raise _checks.value_error(
            where, "x of rank >= 2 (N, *F)", f"shape {_checks.fmt_shape(x.shape)}"
        )
    if len(x) == 0:
        raise _checks.value_error(
            where,
            "a non-empty data set",
            "0 samples",
            "check the data source, or raise the split fraction or num_samples",
        )
    if y.ndim == 0 or len(y) != len(x):
        raise _checks.value_error(
            where,
            f"one target per sample ({len(x)})",
            f"y of shape {_checks.fmt_shape(y.shape)}",
        )


def _check_inputs(where: str, x: np.ndarray) -> None:
    if not np.issubdtype(x.dtype, np.floating):
        raise _checks.type_error(
            where,
            "`x` with a floating dtype",
            f"dtype {x.dtype}",
            "cast explicitly, e.g. x.astype(np.float32)",
        )
    _check_finite(where, "x", x)


def _check_targets(where: str, y: np.ndarray) -> None:
    if not np.issubdtype(y.dtype, np.floating):
        raise _checks.type_error(
            where,
            "float regression targets `y` (num_classes=None)",
            f"dtype {y.dtype}",
            "pass num_classes for integer class labels",
        )
    _check_finite(where, "y", y)


def _check_finite(where: str, name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)  # (N,)
    if bad.any():
        raise _checks.value_error(
            where,
            f"all-finite `{name}`",
            f"NaN/Inf in {bad.sum()} samples,"
            f" at sample indices {_samples(np.flatnonzero(bad))}",
        )


def _check_labels(where: str, y: np.ndarray, num_classes: int) -> None:
    # jnn.losses owns the label-range check, so the trainer and the losses
    # word it identically; the (N,) shape is what sparse losses need.
    losses.check_labels(where, y, num_classes)
    if y.ndim != 1:
        raise _checks.value_error(
            where, "labels of shape (N,)", f"shape {_checks.fmt_shape(y.shape)}"
        )


def _samples(indices: np.ndarray) -> str:
    """Render the first few sample indices like jnn.losses: '[3, 7, ...]'."""
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_LISTED])
    return f"[{shown}{', ...' if indices.size > _MAX_LISTED else ''}]"
