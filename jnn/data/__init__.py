"""Data: digits, synthetic sets, MNIST IDX, sine series, text, splits, normalisation.

Everything here is host-side NumPy. `load(cfg)` is the entry point the trainer
calls; the other names are the building blocks it uses.
"""

from jnn.data.dataset import Dataset, Splits, validate
from jnn.data.digits import load_digits
from jnn.data.idx import read_idx, write_idx
from jnn.data.mnist import download_mnist, load_mnist
from jnn.data.normalization import (
    NormStats,
    apply_norm_stats,
    fit_norm_stats,
    normalize,
)
from jnn.data.sine import last_value_mse, sine_series
from jnn.data.sources import NAMES, NUM_CLASSES, baselines, load
from jnn.data.splitting import split
from jnn.data.synthetic import (
    linear_regression,
    linear_regression_weights,
    spirals,
    two_moons,
    xor,
)

__all__ = [
    "NAMES",
    "NUM_CLASSES",
    "Dataset",
    "NormStats",
    "Splits",
    "apply_norm_stats",
    "baselines",
    "download_mnist",
    "fit_norm_stats",
    "last_value_mse",
    "linear_regression",
    "linear_regression_weights",
    "load",
    "load_digits",
    "load_mnist",
    "normalize",
    "read_idx",
    "sine_series",
    "spirals",
    "split",
    "two_moons",
    "validate",
    "write_idx",
    "xor",
]
