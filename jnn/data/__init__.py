"""Data: bundled digits, synthetic sets, MNIST IDX files, splits, normalisation.

Everything here is host-side NumPy. `load(cfg)` is the entry point the trainer
calls; the other names are the building blocks it uses.
"""

from jnn.data.dataset import Dataset, Splits, validate
from jnn.data.digits import load_digits
from jnn.data.idx import read_idx, write_idx
from jnn.data.load import NAMES, NUM_CLASSES, load
from jnn.data.mnist import download_mnist, load_mnist
from jnn.data.normalize import NormStats, apply_norm_stats, fit_norm_stats, normalize
from jnn.data.split import split
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
    "download_mnist",
    "fit_norm_stats",
    "linear_regression",
    "linear_regression_weights",
    "load",
    "load_digits",
    "load_mnist",
    "normalize",
    "read_idx",
    "spirals",
    "split",
    "two_moons",
    "validate",
    "write_idx",
    "xor",
]
