"""The [data] schemas of supervised runs: one small dataclass per source.

[data] is tagged by `name`: each source reads only its own fields, and a
field another source reads is refused naming the sources that read it. The
rule "val_fraction + test_fraction < 1" is written once, here, for the
sources that have both.
"""

from dataclasses import dataclass
from typing import ClassVar

from jnn.config.loader import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Problem,
    Rule,
    Tagged,
    setting,
)
from jnn.data.normalization import METHODS

MAX_SAMPLES = 10**8
# Generated data sets (and GAN's ring): > 0, and few enough to hold in memory.
NUM_SAMPLES = Rule(
    "> 0 and <= 10**8",
    lambda v: 0 < v <= MAX_SAMPLES,
    "generated data is held in memory; 10**3 to 10**5 suit these toy sets",
)


def fractions_sum(cfg, path: str = "data") -> Problem | None:
    """The train split must keep some data: val_fraction + test_fraction < 1."""
    if cfg.val_fraction + cfg.test_fraction < 1:
        return None
    val, test = f"{path}.val_fraction", f"{path}.test_fraction"
    return Problem(
        (val, test),
        f"`{val}` + `{test}` < 1",
        f"{cfg.val_fraction} + {cfg.test_fraction}",
        "the train split would be empty",
    )


# The fields several sources share; each dataclass calls these for its own.
def _val():
    return setting(0.1, rule=FRACTION)  # share of the non-test data for validation


def _test():
    return setting(0.2, rule=FRACTION)  # share of all data for the final test


def _normalize():
    return setting("standardize", choices=METHODS)  # statistics from train only


def _seed():
    return setting(0, rule=SEED)  # seed of the split (and of generated data)


def _shift():
    return setting(0, rule=NON_NEGATIVE)  # images: random shifts up to this; 0 = off


@dataclass(frozen=True)
class DigitsConfig:
    """The bundled 8x8 digits (1,797 images, 10 classes)."""

    name: str = "digits"
    val_fraction: float = _val()
    test_fraction: float = _test()
    normalize: str = _normalize()
    seed: int = _seed()
    augment_shift: int = _shift()
    augment_flip: bool = False  # random left-right flips

    relations: ClassVar = (fractions_sum,)


@dataclass(frozen=True)
class MnistConfig:
    """MNIST / Fashion-MNIST IDX files; their official test split is the test set."""

    name: str = "mnist"  # mnist | fashion_mnist
    dir: str = ""  # directory holding the four IDX(.gz) files
    val_fraction: float = _val()  # of the 60k train images
    normalize: str = _normalize()
    seed: int = _seed()
    augment_shift: int = _shift()
    augment_flip: bool = False  # random left-right flips


@dataclass(frozen=True)
class XorConfig:
    """The 4-point XOR truth table: train, val and test at once."""

    name: str = "xor"
    normalize: str = _normalize()


@dataclass(frozen=True)
class SyntheticConfig:
    """Generated 2-D points: moons, spirals (2 classes) or linear regression."""

    name: str = "moons"  # moons | spirals | linear
    num_samples: int = setting(1000, rule=NUM_SAMPLES)  # points generated
    noise: float = setting(0.1, rule=NON_NEGATIVE)  # noise level
    seed: int = _seed()
    val_fraction: float = _val()
    test_fraction: float = _test()
    normalize: str = _normalize()

    relations: ClassVar = (fractions_sum,)


@dataclass(frozen=True)
class SineConfig:
    """Noisy multi-frequency sine series: forecast `horizon` values."""

    name: str = "sine"
    num_samples: int = setting(1000, rule=NUM_SAMPLES)  # independent series
    noise: float = setting(0.1, rule=NON_NEGATIVE)  # Gaussian noise std
    seed: int = _seed()
    seq_len: int = setting(32, rule=POSITIVE)  # time steps T the model reads
    horizon: int = setting(1, rule=POSITIVE)  # future values predicted
    val_fraction: float = _val()
    test_fraction: float = _test()
    normalize: str = _normalize()

    relations: ClassVar = (fractions_sum,)


@dataclass(frozen=True)
class TextConfig:
    """Character windows of a UTF-8 text, split into contiguous blocks."""

    name: str = "text"
    path: str = ""  # a UTF-8 text file; "" = Python's pydoc_data topics
    seq_len: int = setting(32, rule=POSITIVE)  # characters per window
    val_fraction: float = _val()
    test_fraction: float = _test()

    relations: ClassVar = (fractions_sum,)


@dataclass(frozen=True)
class ArraysConfig:
    """Your own arrays from a .npz or .csv file (read by `jnn.data.arrays`)."""

    name: str = "arrays"
    path: str = ""  # the array file
    label_column: str = ""  # "" = an .npz file with x and y; else y's column
    sample_shape: tuple[int, ...] = setting((), each=POSITIVE)  # () = as stored
    val_fraction: float = _val()
    test_fraction: float = _test()
    normalize: str = _normalize()
    seed: int = _seed()
    augment_shift: int = _shift()
    augment_flip: bool = False  # random left-right flips

    relations: ClassVar = (fractions_sum,)


# The data sources of supervised runs: `data.name` -> its schema.
SOURCES = {
    "digits": DigitsConfig,
    "mnist": MnistConfig,
    "fashion_mnist": MnistConfig,
    "xor": XorConfig,
    "moons": SyntheticConfig,
    "spirals": SyntheticConfig,
    "linear": SyntheticConfig,
    "sine": SineConfig,
    "text": TextConfig,
    "arrays": ArraysConfig,
}
SCHEMA = Tagged("name", SOURCES, "digits", "data sources")

DataConfig = (
    DigitsConfig
    | MnistConfig
    | XorConfig
    | SyntheticConfig
    | SineConfig
    | TextConfig
    | ArraysConfig
)
