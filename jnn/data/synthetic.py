"""Small seeded synthetic data sets for demos, tests and sanity checks.

Every generator draws from `np.random.default_rng(seed)`, so the same seed
always gives the same samples. Samples are shuffled, so no split or batch is
sorted by class.
"""

import numpy as np

from jnn import _checks
from jnn.data.dataset import Dataset


def xor() -> Dataset:
    """Return the four points of the XOR truth table.

    Returns:
      Dataset with x (4, 2) float32 in {0, 1} and y (4,) int32 = x0 XOR x1.

    Example:
      >>> xor().y
      array([0, 1, 1, 0], dtype=int32)
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    return Dataset(x, np.array([0, 1, 1, 0], np.int32))


def two_moons(num_samples: int, noise: float, seed: int) -> Dataset:
    """Sample two interleaving half circles, one per class.

    Class 0 is the upper arc of the unit circle, class 1 the lower arc shifted
    to (1, 0.5)-(2, 0.5), as in scikit-learn's `make_moons`.

    Args:
      num_samples: Total number of points. Must be > 0; class 0 gets the odd one.
      noise: Standard deviation of Gaussian noise added to each coordinate.
      seed: Seed of the noise and the shuffle. Must be >= 0.

    Returns:
      Dataset with x (num_samples, 2) float32 and y (num_samples,) int32 in {0, 1}.

    Raises:
      ValueError: if `num_samples` <= 0, `noise` < 0 or `seed` < 0.
      TypeError: if an argument is not a number of the right kind.

    Example:
      >>> data = two_moons(5, noise=0.0, seed=0)
      >>> data.x.shape, np.bincount(data.y).tolist()
      ((5, 2), [3, 2])
    """
    rng = _generator("two_moons", num_samples, noise, seed)
    counts = _class_counts(num_samples, 2)
    upper = np.linspace(0.0, np.pi, counts[0])
    lower = np.linspace(0.0, np.pi, counts[1])
    x = np.concatenate(
        [
            np.stack([np.cos(upper), np.sin(upper)], axis=1),  # (N0, 2)
            np.stack([1.0 - np.cos(lower), 0.5 - np.sin(lower)], axis=1),  # (N1, 2)
        ]
    )
    return _finish(rng, x, noise, _labels(counts))


def spirals(num_samples: int, noise: float, seed: int, num_classes: int = 2) -> Dataset:
    """Sample `num_classes` interleaved spiral arms, one per class.

    Arm k is r * (cos a, sin a) with r in [0, 1] and a = 3 pi r + 2 pi k / K,
    i.e. each arm winds 1.5 turns and the arms are evenly rotated.

    Args:
      num_samples: Total number of points, shared as evenly as possible
        between the arms. Must be >= num_classes.
      noise: Standard deviation of Gaussian noise added to each coordinate.
      seed: Seed of the noise and the shuffle. Must be >= 0.
      num_classes: Number of arms. Must be >= 2. Default 2, the classic task.

    Returns:
      Dataset with x (num_samples, 2) float32 and y (num_samples,) int32 in
      [0, num_classes).

    Raises:
      ValueError: if `num_classes` < 2, `num_samples` < num_classes,
        `noise` < 0 or `seed` < 0.
      TypeError: if an argument is not a number of the right kind.

    Example:
      >>> data = spirals(7, noise=0.1, seed=0, num_classes=3)
      >>> data.x.shape, np.bincount(data.y).tolist()
      ((7, 2), [3, 2, 2])
    """
    rng = _generator("spirals", num_samples, noise, seed)
    _checks.positive_int("spirals", "num_classes", num_classes)
    if not 2 <= num_classes <= num_samples:
        raise _checks.value_error(
            "spirals",
            f"2 <= `num_classes` <= `num_samples` ({num_samples})",
            num_classes,
        )
    counts = _class_counts(num_samples, num_classes)
    arms = [_arm(n, 2 * np.pi * k / num_classes) for k, n in enumerate(counts)]
    return _finish(rng, np.concatenate(arms), noise, _labels(counts))


def _arm(num: int, offset: float) -> np.ndarray:
    radius = np.linspace(0.0, 1.0, num)
    angle = 3 * np.pi * radius + offset
    return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def linear_regression(
    num_samples: int, num_features: int = 3, noise: float = 0.1, seed: int = 0
) -> Dataset:
    """Sample y = x @ w + b + noise, with x ~ N(0, 1) and a fixed true (w, b).

    The true parameters are `linear_regression_weights(num_features, seed)`;
    tests and demos compare fitted parameters against them.

    Args:
      num_samples: Number of samples. Must be > 0.
      num_features: Number of input features F. Must be > 0. Default 3.
      noise: Standard deviation of the Gaussian noise on y. Default 0.1.
      seed: Seed of x, the noise and the true parameters. Default 0.

    Returns:
      Dataset with x (num_samples, F) float32 and y (num_samples, 1) float32.

    Raises:
      ValueError: if `num_samples` or `num_features` <= 0, `noise` < 0 or
        `seed` < 0.
      TypeError: if an argument is not a number of the right kind.

    Example:
      >>> data = linear_regression(4, num_features=2, noise=0.0, seed=1)
      >>> w, b = linear_regression_weights(2, seed=1)
      >>> bool(np.allclose(data.x @ w + b, data.y, atol=1e-5))
      True
    """
    rng = _generator("linear_regression", num_samples, noise, seed)
    weight, bias = linear_regression_weights(num_features, seed)
    x = rng.standard_normal((num_samples, num_features))
    y = x @ weight + bias + noise * rng.standard_normal((num_samples, 1))
    return Dataset(x.astype(np.float32), y.astype(np.float32))


def linear_regression_weights(
    num_features: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the true `(weight, bias)` behind `linear_regression(..., seed)`.

    Args:
      num_features: Number of input features F. Must be > 0.
      seed: The seed given to `linear_regression`. Must be >= 0.

    Returns:
      weight (F, 1) float32 and bias (1,) float32, both drawn from N(0, 1).

    Raises:
      ValueError: if `num_features` <= 0 or `seed` < 0.
      TypeError: if an argument is not an int.
    """
    _checks.positive_int("linear_regression", "num_features", num_features)
    _checks.non_negative_int("linear_regression", "seed", seed)
    # A stream of its own, so the weights do not depend on num_samples.
    rng = np.random.default_rng([seed, 1])
    weight = rng.standard_normal((num_features, 1))
    return weight.astype(np.float32), rng.standard_normal(1).astype(np.float32)


def _generator(where: str, num_samples, noise, seed) -> np.random.Generator:
    _checks.positive_int(where, "num_samples", num_samples)
    _checks.finite_float(where, "noise", noise, low=0.0)
    _checks.non_negative_int(where, "seed", seed)
    return np.random.default_rng(seed)


def _class_counts(num_samples: int, num_classes: int) -> list[int]:
    """Share samples evenly; the first `num_samples % num_classes` get one more."""
    base, extra = divmod(num_samples, num_classes)
    return [base + (k < extra) for k in range(num_classes)]


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int32), counts)


def _finish(rng, x: np.ndarray, noise: float, y: np.ndarray) -> Dataset:
    """Add coordinate noise, then shuffle so no slice is sorted by class."""
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(y))
    return Dataset(x[order].astype(np.float32), y[order])
