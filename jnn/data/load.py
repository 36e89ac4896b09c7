"""`load(cfg)`: the one data entry point the trainer calls.

It turns a `DataConfig` into validated, normalised `Splits`: read or generate
the data, split it (seeded, stratified), fit normalisation on train only, and
check every split on the host before any device work starts.
"""

from pathlib import Path

from jnn import _checks
from jnn.config import DataConfig
from jnn.data import sine, synthetic, text
from jnn.data.dataset import Dataset, Splits, validate
from jnn.data.digits import DIGITS_MAX, load_digits
from jnn.data.mnist import MNIST_MAX, load_mnist
from jnn.data.normalize import METHODS, normalize
from jnn.data.split import split

NAMES = (
    *("digits", "mnist", "fashion_mnist", "xor", "moons", "spirals", "linear"),
    *("sine", "text"),
)
NUM_CLASSES = {
    "digits": 10,
    "mnist": 10,
    "fashion_mnist": 10,
    "xor": 2,
    "moons": 2,
    "spirals": 2,  # `spirals()` default; DataConfig has no class-count field
    "linear": None,  # regression
    "sine": None,  # regression: the next `data.horizon` values
    "text": None,  # the corpus's vocabulary size, known only once it is read
}
# Known maxima for normalize="scale"; other sets divide by the train max |x|.
_MAX_VALUE = {"digits": DIGITS_MAX, "mnist": MNIST_MAX, "fashion_mnist": MNIST_MAX}
_MNIST = ("mnist", "fashion_mnist")
_WHERE = "load"


def load(cfg: DataConfig) -> Splits:
    """Load, split, normalise and validate the data set `cfg` describes.

    digits and the synthetic sets are split with `split(cfg.val_fraction,
    cfg.test_fraction, cfg.seed)`. MNIST / Fashion-MNIST read their IDX files
    from `cfg.dir`: the official test split is the test set and val is
    carved from train (`cfg.test_fraction` is unused). xor is a truth table,
    so all 4 points are train, val and test. Normalisation is fitted on train.
    sine draws `cfg.num_samples` independent series (`jnn.data.sine`); text
    cuts `cfg.path` (default: Python's pydoc topics) into contiguous
    [train | val | test] blocks of int token windows, not normalised, with
    num_classes = the vocabulary size (`jnn.data.text`).

    Args:
      cfg: A `DataConfig`; errors name its fields as `data.<field>`.

    Returns:
      `Splits(train, val, test, num_classes)`; num_classes is None for
      "linear" (regression). A split is empty only when its fraction is 0.

    Raises:
      ValueError: if `data.name` or `data.normalize` is unknown (with a
        suggestion), a fraction, `data.noise` or `data.seed` is out of range,
        `data.dir` is empty for MNIST, or a split fails `validate`.
      TypeError: if a config field has the wrong type.
      FileNotFoundError: if an MNIST IDX file is missing from `data.dir`.

    Example:
      >>> from jnn.config import DataConfig
      >>> splits = load(DataConfig(name="moons", num_samples=100))
      >>> [len(s.y) for s in splits[:3]], splits.num_classes
      ([72, 8, 20], 2)
    """
    _check_config(cfg)
    if cfg.name == "text":
        return _load_text(cfg)
    num_classes = NUM_CLASSES[cfg.name]
    raw = _read(cfg)
    _validate_splits(cfg, raw, num_classes)
    max_value = _MAX_VALUE.get(cfg.name)
    (train, val, test), _ = normalize(*raw, method=cfg.normalize, max_value=max_value)
    return Splits(train, val, test, num_classes)


def _validate_splits(cfg: DataConfig, raw, num_classes: int | None) -> None:
    """Validate before normalising, so errors describe the data as stored."""
    fractions = (None, cfg.val_fraction, cfg.test_fraction)
    for part, data, fraction in zip(
        ("train", "val", "test"), raw, fractions, strict=True
    ):
        # A split may be empty only because its fraction asked for that.
        if len(data.x) or fraction != 0.0:
            validate(data, f"{_WHERE} ({cfg.name} {part} split)", num_classes)


def _check_config(cfg: DataConfig) -> None:
    _checks.one_of(_WHERE, "data.name", cfg.name, NAMES)
    _checks.one_of(_WHERE, "data.normalize", cfg.normalize, METHODS)
    _checks.probability(_WHERE, "data.val_fraction", cfg.val_fraction)
    _checks.probability(_WHERE, "data.test_fraction", cfg.test_fraction)
    _checks.positive_int(_WHERE, "data.num_samples", cfg.num_samples)
    _checks.finite_float(_WHERE, "data.noise", cfg.noise, low=0.0)
    _checks.non_negative_int(_WHERE, "data.seed", cfg.seed)
    if cfg.name not in _MNIST and cfg.val_fraction + cfg.test_fraction >= 1.0:
        raise _checks.value_error(
            _WHERE,
            "`data.val_fraction` + `data.test_fraction` < 1",
            f"{cfg.val_fraction} + {cfg.test_fraction}",
        )
    if cfg.name in _MNIST and not cfg.dir:
        raise _checks.value_error(
            _WHERE,
            f"`data.dir` naming a directory of {cfg.name} IDX files",
            repr(cfg.dir),
            "fetch them once with jnn.data.download_mnist(dir), then pass "
            "--set data.dir=dir",
        )


def _read(cfg: DataConfig) -> tuple[Dataset, Dataset, Dataset]:
    """Return the raw (train, val, test) splits before normalisation."""
    if cfg.name == "xor":
        table = synthetic.xor()
        return table, table, table
    if cfg.name in _MNIST:
        fashion = cfg.name == "fashion_mnist"
        full = load_mnist(Path(cfg.dir), "train", fashion)
        train, val, _ = split(full, cfg.val_fraction, 0.0, cfg.seed)
        return train, val, load_mnist(Path(cfg.dir), "test", fashion)
    data = _source(cfg)
    return split(data, cfg.val_fraction, cfg.test_fraction, cfg.seed)


def _load_text(cfg: DataConfig) -> Splits:
    """Token windows of a text (see `jnn.data.text`): contiguous splits, ids
    not normalised, num_classes = the vocabulary size."""
    corpus = text.read_corpus(cfg.path)
    vocab = text.build_vocab(corpus)
    tokens = text.encode(corpus, vocab)
    parts = text.text_splits(tokens, cfg.seq_len, cfg.val_fraction, cfg.test_fraction)
    for name, part in zip(("train", "val", "test"), parts, strict=True):
        if len(part.x):
            text.check_tokens(part, f"{_WHERE} (text {name} split)", len(vocab))
    return Splits(*parts, len(vocab))


def baselines(cfg: DataConfig, splits: Splits | None = None) -> dict[str, float]:
    """Reference scores a trained model must beat, per split, from raw data.

    sine: the last-value forecast's MSE (`jnn.data.sine.last_value_mse`);
    text: the entropy in bits of the train characters (`unigram_entropy_bits`).
    Other data sets: {}. Report them next to the model's test metrics.

    Args:
      cfg: The data config.
      splits: `load(cfg)` if the caller has it (text reuses it, not re-read).
    """
    if cfg.name == "text":
        splits = splits or load(cfg)
        bits = text.unigram_entropy_bits(splits.train.y, splits.num_classes)
        return {"train_unigram_bits": bits}
    if cfg.name != "sine":
        return {}  # (normalisation scales inputs only: targets stay raw)
    raw = _read(cfg)
    return {
        f"{part}_last_value_mse": sine.last_value_mse(data)
        for part, data in zip(("train", "val", "test"), raw, strict=True)
        if len(data.x)
    }


def _source(cfg: DataConfig) -> Dataset:
    if cfg.name == "digits":
        return load_digits()
    if cfg.name == "sine":
        return sine.sine_series(
            cfg.num_samples, cfg.seq_len, cfg.horizon, cfg.noise, cfg.seed
        )
    if cfg.name == "moons":
        return synthetic.two_moons(cfg.num_samples, cfg.noise, cfg.seed)
    if cfg.name == "spirals":
        return synthetic.spirals(cfg.num_samples, cfg.noise, cfg.seed)
    return synthetic.linear_regression(cfg.num_samples, noise=cfg.noise, seed=cfg.seed)
