"""`load(cfg)`: the one data entry point the trainer calls.

It turns a data config (`jnn.data.config`, one dataclass per source) into
validated, normalised `Splits`: read or generate the data, split it (seeded,
stratified), fit normalisation on train only, and check every split on the
host before any device work starts.
"""

from pathlib import Path

from jnn import _checks
from jnn.config import loader
from jnn.data import sine, synthetic, text
from jnn.data.config import SCHEMA, SOURCES, DataConfig
from jnn.data.dataset import Dataset, Splits, validate
from jnn.data.digits import DIGITS_MAX, load_digits
from jnn.data.mnist import MNIST_MAX, load_mnist
from jnn.data.normalization import normalize
from jnn.data.splitting import split

NAMES = tuple(SOURCES)  # the data sources (`data.name`) of supervised runs
NUM_CLASSES = {
    "digits": 10,
    "mnist": 10,
    "fashion_mnist": 10,
    "xor": 2,
    "moons": 2,
    "spirals": 2,  # `spirals()` default; the config has no class-count field
    "linear": None,  # regression
    "sine": None,  # regression: the next `data.horizon` values
    "text": None,  # the corpus's vocabulary size, known only once it is read
    "arrays": None,  # known only once the file is read (`jnn.data.arrays`)
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
    carved from train (their config has no `test_fraction`). xor is a truth
    table, so all 4 points are train, val and test. Normalisation is fitted
    on train. sine draws `cfg.num_samples` independent series
    (`jnn.data.sine`); text cuts `cfg.path` (default: Python's pydoc topics)
    into contiguous [train | val | test] blocks of int token windows, not
    normalised, with num_classes = the vocabulary size (`jnn.data.text`);
    arrays reads your own file (`jnn.data.arrays`).

    Args:
      cfg: A source's config from `jnn.data.config`, validated here like a
        loaded one; errors name its fields as `data.<field>`.

    Returns:
      `Splits(train, val, test, num_classes)`; num_classes is None for
      "linear" (regression). A split is empty only when its fraction is 0.

    Raises:
      ValueError: if `data.name` or `data.normalize` is unknown (with a
        suggestion), a fraction, `data.noise` or `data.seed` is out of range,
        `data.dir` is empty for MNIST, or a split fails `validate`.
      TypeError: if a config field has the wrong type, or `cfg` is not the
        dataclass of its source.
      FileNotFoundError: if an MNIST IDX file is missing from `data.dir`.

    Example:
      >>> from jnn.data.config import SyntheticConfig
      >>> splits = load(SyntheticConfig(name="moons", num_samples=100))
      >>> [len(s.y) for s in splits[:3]], splits.num_classes
      ([72, 8, 20], 2)
    """
    loader.check(SCHEMA, cfg, _WHERE, "data")
    if cfg.name in _MNIST and not cfg.dir:
        raise _checks.value_error(
            _WHERE,
            f"`data.dir` naming a directory of {cfg.name} IDX files",
            repr(cfg.dir),
            "fetch them once with jnn.data.download_mnist(dir), then pass "
            "--set data.dir=dir",
        )
    if cfg.name == "text":
        return _load_text(cfg)
    if cfg.name == "arrays":
        return _load_arrays(cfg)
    num_classes = NUM_CLASSES[cfg.name]
    raw = _read(cfg)
    _validate_splits(cfg, raw, num_classes)
    return _normalized(raw, num_classes, cfg.normalize, _MAX_VALUE.get(cfg.name))


def _normalized(raw, num_classes, method: str, max_value=None) -> Splits:
    """Splits normalised with statistics fitted on train; the statistics are
    kept (None for "none") so a saved run applies them to new inputs."""
    (train, val, test), stats = normalize(*raw, method=method, max_value=max_value)
    return Splits(train, val, test, num_classes, stats if method != "none" else None)


def _validate_splits(cfg: DataConfig, raw, num_classes: int | None) -> None:
    """Validate before normalising, so errors describe the data as stored."""
    # Sources without a fraction (MNIST's official test split, xor's table)
    # always fill that split.
    val, test = (getattr(cfg, f"{p}_fraction", 1.0) for p in ("val", "test"))
    fractions = (None, val, test)
    for part, data, fraction in zip(
        ("train", "val", "test"), raw, fractions, strict=True
    ):
        # A split may be empty only because its fraction asked for that.
        if len(data.x) or fraction != 0.0:
            validate(data, f"{_WHERE} ({cfg.name} {part} split)", num_classes)


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


def _load_arrays(cfg: DataConfig) -> Splits:
    """Your own .npz / .csv file (`jnn.data.arrays`), normalised on train."""
    from jnn.data.arrays import load_arrays  # lazy: only runs that read arrays

    raw, num_classes = load_arrays(
        cfg.path,
        label_column=cfg.label_column,
        sample_shape=cfg.sample_shape,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
    )
    return _normalized(raw, num_classes, cfg.normalize)


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
    return Splits(*parts, len(vocab), vocab=vocab)


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
