"""Real data for GANs: the 8-Gaussian ring, and images scaled to [-1, 1].

Returned arrays are host NumPy; `fit` moves the whole set to the device once
and the step samples batches from it.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from jnn import _checks
from jnn.config import loader
from jnn.data import load_digits, load_mnist
from jnn.data.digits import DIGITS_MAX
from jnn.data.mnist import MNIST_MAX
from jnn.gan import config

NUM_MODES = 8


class GanData(NamedTuple):
    x: np.ndarray  # (N, 2) ring points, or (N, H, W, 1) images in [-1, 1]
    y: np.ndarray | None  # (N,) int32 class labels of images; None for the ring


def ring_centres(radius: float = 2.0) -> np.ndarray:
    """The 8 mode centres, evenly spaced on a circle, shape (8, 2) float32.

    Example:
      >>> ring_centres(2.0)[:2].round(3)
      array([[2.   , 0.   ],
             [1.414, 1.414]], dtype=float32)
    """
    angles = 2 * np.pi * np.arange(NUM_MODES) / NUM_MODES
    return (radius * np.stack([np.cos(angles), np.sin(angles)], 1)).astype(np.float32)


def ring(num_samples: int, *, radius: float = 2.0, std: float = 0.02, seed: int = 0):
    """Sample the 8-Gaussian ring: a uniform mode, plus isotropic N(0, std^2).

    The standard mode-collapse test (Metz et al. 2017 use radius 2, std 0.02).

    Returns:
      (num_samples, 2) float32 points.

    Raises:
      ValueError: if `num_samples` is not > 0 or `radius` / `std` not > 0.

    Example:
      >>> ring(5, seed=1).shape
      (5, 2)
    """
    _checks.positive_int("ring", "num_samples", num_samples)
    for name, value in (("radius", radius), ("std", std)):
        if _checks.finite_float("ring", name, value) <= 0:
            raise _checks.value_error("ring", f"`{name}` > 0", value)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, NUM_MODES, num_samples)
    points = ring_centres(radius)[modes] + std * rng.standard_normal((num_samples, 2))
    return points.astype(np.float32)


def to_unit_range(images: np.ndarray, max_value: float) -> np.ndarray:
    """Scale raw pixels in [0, max_value] to [-1, 1], the range of tanh."""
    return (images / (max_value / 2.0) - 1.0).astype(np.float32)


def load(data_cfg) -> GanData:
    """Load the GAN's real data that a GAN data config (`jnn.gan.config`) describes.

    "ring" draws `data.num_samples` points (std `data.noise`, radius
    `data.radius`, seed `data.seed`); "digits" uses all 1,797 bundled images;
    "mnist" / "fashion_mnist" the 60k train files in `data.dir`. Images are
    scaled to [-1, 1] (a GAN needs no held-out split).

    Raises:
      ValueError: for an invalid config (as when loading one), or an empty
        `data.dir` for mnist.
      TypeError: for a supervised run's data config.
      FileNotFoundError: if an MNIST file is missing.
    """
    loader.check(config.DATA, data_cfg, "gan data", "data")
    name = data_cfg.name
    if name == "ring":
        x = ring(
            data_cfg.num_samples,
            radius=data_cfg.radius,
            std=data_cfg.noise,
            seed=data_cfg.seed,
        )
        return GanData(x, None)
    if name == "digits":
        digits = load_digits()
        return GanData(to_unit_range(digits.x, DIGITS_MAX), digits.y)
    if not data_cfg.dir:
        raise _checks.value_error(
            "gan data", f"`data.dir` naming a directory of {name} IDX files", "''"
        )
    train = load_mnist(Path(data_cfg.dir), "train", name == "fashion_mnist")
    return GanData(to_unit_range(train.x, MNIST_MAX), train.y)
