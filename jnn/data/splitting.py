"""Seeded, stratified train / validation / test splits.

The test set is carved first from all the data, then the validation set from
what is left. Each class is permuted once from the seed and cut in that order,
so the test set depends only on (seed, test_fraction): tuning val_fraction can
never leak test samples into training.
"""

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset


def split(
    dataset: Dataset,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: bool = True,
) -> tuple[Dataset, Dataset, Dataset]:
    """Split a data set into disjoint (train, val, test) sets that cover it.

    Sizes: test gets round(test_fraction * N) samples, val gets
    round(val_fraction * (N - test)); train gets the rest. With `stratify`,
    each class is shared out the same way (largest-remainder rounding), so
    every split keeps the class balance to within one sample per class.
    Samples inside each split are shuffled.

    Args:
      dataset: The `Dataset` to split.
      val_fraction: Share of the non-test samples for validation, in [0, 1).
      test_fraction: Share of all samples for the test set, in [0, 1).
      seed: Seed of the permutation. Must be >= 0.
      stratify: Split each class separately. Applies to 1-D integer labels;
        float regression targets are always split without strata.

    Returns:
      (train, val, test) `Dataset`s. A split is empty (0 samples, same
      trailing shape) when its fraction is 0.

    Raises:
      ValueError: if a fraction is outside [0, 1), the fractions sum to 1 or
        more, `seed` < 0, the data set is empty, or len(x) != len(y).
      TypeError: if a fraction is not a number or `seed` is not an int.

    Example:
      >>> data = Dataset(np.zeros((10, 1), np.float32), np.arange(10) % 2)
      >>> train, val, test = split(data, 0.25, 0.2, seed=0)
      >>> len(train.y), len(val.y), len(test.y), np.bincount(test.y).tolist()
      (6, 2, 2, [1, 1])
    """
    _check_arguments(dataset, val_fraction, test_fraction, seed)
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(g) for g in _groups(dataset.y, stratify)]
    n_test = _allocate([len(g) for g in groups], test_fraction)
    rest = [len(g) - n for g, n in zip(groups, n_test, strict=True)]
    n_val = _allocate(rest, val_fraction)
    bounds = [
        np.cumsum([0, t, v, r - v]) for t, v, r in zip(n_test, n_val, rest, strict=True)
    ]
    # Draw test first: its order too must not depend on val_fraction.
    test_idx, val_idx, train_idx = (
        rng.permutation(_gather(groups, bounds, part)) for part in range(3)
    )
    return _take(dataset, train_idx), _take(dataset, val_idx), _take(dataset, test_idx)


def _check_arguments(dataset, val_fraction, test_fraction, seed) -> None:
    _checks.probability("split", "val_fraction", val_fraction)
    _checks.probability("split", "test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise _checks.value_error(
            "split",
            "`val_fraction` + `test_fraction` < 1 (train must keep samples)",
            f"{val_fraction} + {test_fraction}",
        )
    _checks.non_negative_int("split", "seed", seed)
    if len(dataset.x) == 0:
        raise _checks.value_error("split", "a non-empty data set", "0 samples")
    if len(dataset.x) != len(dataset.y):
        raise _checks.value_error(
            "split",
            f"one target per sample ({len(dataset.x)})",
            f"{len(dataset.y)} targets",
        )


def _groups(y: np.ndarray, stratify: bool) -> list[np.ndarray]:
    """Sample indices per class (sorted by class), or one group of all."""
    if stratify and y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        return [np.flatnonzero(y == c) for c in np.unique(y)]
    return [np.arange(len(y))]


def _allocate(sizes: list[int], fraction: float) -> list[int]:
    """Share round(fraction * total) among groups by largest remainder.

    Each group gets floor(fraction * size) or one more, so it stays within one
    sample of its exact share while the total is the overall rounded size.
    """
    exact = np.asarray(sizes, np.float64) * fraction
    counts = np.floor(exact).astype(np.int64)
    extra = round(fraction * sum(sizes)) - int(counts.sum())
    # Stable sort: ties go to the lower class index, deterministically.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:extra]] += 1
    return counts.tolist()


def _gather(groups: list[np.ndarray], bounds: list[np.ndarray], part: int):
    """Concatenate slice `part` (0 test, 1 val, 2 train) of every group."""
    pieces = [g[b[part] : b[part + 1]] for g, b in zip(groups, bounds, strict=True)]
    return np.concatenate(pieces)


def _take(dataset: Dataset, indices: np.ndarray) -> Dataset:
    return Dataset(dataset.x[indices], dataset.y[indices])
