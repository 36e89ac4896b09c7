"""Host-side validation and the `load(cfg)` entry point for every data name."""

import dataclasses

import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError, data
from jnn.data import Dataset
from jnn.data.config import (
    SOURCES,
    ArraysConfig,
    DigitsConfig,
    MnistConfig,
    SyntheticConfig,
    XorConfig,
)


def _dataset(n=6, features=3, classes=3):
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)
    return Dataset(x, (np.arange(n) % classes).astype(np.int32))


def test_validate_accepts_good_classification_and_regression_sets():
    data.validate(_dataset(), "ok", num_classes=3)
    regression = data.linear_regression(4, seed=0)
    data.validate(regression, "ok", num_classes=None)


def test_validate_names_the_samples_holding_nan_or_inf():
    bad = _dataset(n=8)
    bad.x[2, 1] = np.nan
    bad.x[5, 0] = np.inf
    with pytest.raises(
        JnnValueError,
        match=r"^train: expected all-finite `x`, got NaN/Inf in 2 samples, "
        r"at sample indices \[2, 5\]\.$",
    ):
        data.validate(bad, "train", num_classes=3)


def test_validate_lists_only_the_first_few_bad_samples():
    bad = _dataset(n=9)
    bad.x[1:] = np.nan
    with pytest.raises(
        JnnValueError, match=r"in 8 samples, .*\[1, 2, 3, 4, 5, \.\.\.\]"
    ):
        data.validate(bad, "train", num_classes=3)


def test_validate_rejects_a_bad_num_classes():
    with pytest.raises(JnnValueError, match=r"`num_classes` > 0, got 0"):
        data.validate(_dataset(), "train", num_classes=0)
    with pytest.raises(JnnTypeError, match=r"`num_classes` to be an int"):
        data.validate(_dataset(), "train", num_classes=3.0)


def test_validate_names_out_of_range_labels_and_samples():
    bad = _dataset()
    bad.y[[1, 4]] = [7, -1]
    with pytest.raises(
        JnnValueError,
        match=r"labels in \[0, 3\), got 2 out-of-range values \{-1, 7\} at sample indices \[1, 4\]",
    ):
        data.validate(bad, "val", num_classes=3)


@pytest.mark.parametrize(
    ("dataset", "num_classes", "error", "match"),
    [
        (
            _dataset(n=0),
            3,
            JnnValueError,
            r"^empty: expected a non-empty data set, got 0 samples",
        ),
        (
            Dataset(np.zeros((3, 2), np.float32), np.zeros(2, np.int32)),
            3,
            JnnValueError,
            r"one target per sample \(3\), got y of shape \(2,\)",
        ),
        (
            Dataset(np.zeros(3, np.float32), np.zeros(3, np.int32)),
            3,
            JnnValueError,
            r"x of rank >= 2 \(N, \*F\), got shape \(3,\)",
        ),
        (
            Dataset(np.zeros((3, 2), np.uint8), np.zeros(3, np.int32)),
            3,
            JnnTypeError,
            r"`x` with a floating dtype, got dtype uint8",
        ),
        (
            Dataset(np.zeros((3, 2), np.float32), np.zeros(3, np.float32)),
            3,
            JnnTypeError,
            r"integer labels",
        ),
        (
            Dataset(np.zeros((3, 2), np.float32), np.zeros((3, 1), np.int32)),
            3,
            JnnValueError,
            r"labels of shape \(N,\), got shape \(3, 1\)",
        ),
        (
            Dataset(np.zeros((3, 2), np.float32), np.zeros(3, np.int32)),
            None,
            JnnTypeError,
            r"float regression targets",
        ),
        (
            Dataset(np.zeros((3, 2), np.float32), np.full((3, 1), np.nan, np.float32)),
            None,
            JnnValueError,
            r"all-finite `y`, got NaN/Inf in 3 samples",
        ),
        (
            Dataset([[0.0]], np.zeros(1, np.int32)),
            3,
            JnnTypeError,
            r"`x` to be a NumPy array, got list",
        ),
        (
            (np.zeros((3, 2), np.float32),),
            3,
            JnnTypeError,
            r"a Dataset\(x, y\), got tuple",
        ),
    ],
    ids=[
        "empty",
        "lengths",
        "rank",
        "int_x",
        "float_labels",
        "label_rank",
        "int_targets",
        "nan_targets",
        "list",
        "one_array",
    ],
)
def test_validate_errors(dataset, num_classes, error, match):
    with pytest.raises(error, match=match):
        data.validate(dataset, "empty", num_classes)


@pytest.fixture
def mnist_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 6)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        data.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        data.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    return tmp_path


EXPECTED = {  # name -> (sample shape, num_classes, (train, val, test) sizes)
    "digits": ((8, 8, 1), 10, (1294, 144, 359)),  # test round(359.4)
    "mnist": ((28, 28, 1), 10, (18, 2, 6)),
    "fashion_mnist": ((28, 28, 1), 10, (18, 2, 6)),
    "xor": ((2,), 2, (4, 4, 4)),
    "moons": ((2,), 2, (72, 8, 20)),
    "spirals": ((2,), 2, (72, 8, 20)),
    "linear": ((3,), None, (72, 8, 20)),
    "sine": ((32, 1), None, (72, 8, 20)),
}
TOKEN_SETS = {"text"}  # int token windows: tested in tests/data/test_text.py
FILES = {"arrays"}  # your own files: tested in tests/data/test_arrays.py


def _config(name: str, mnist_dir):
    """`name`'s config, with the fields it has among dir and num_samples."""
    fields = {"name": name, "dir": str(mnist_dir), "num_samples": 100}
    cls = SOURCES[name]
    return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})


@pytest.mark.parametrize("name", [n for n in data.NAMES if n not in TOKEN_SETS | FILES])
def test_load_every_name(name, mnist_dir):
    assert set(EXPECTED) | TOKEN_SETS | FILES == set(data.NAMES)
    sample_shape, num_classes, sizes = EXPECTED[name]
    cfg = _config(name, mnist_dir)
    splits = data.load(cfg)
    assert splits.num_classes == num_classes == data.NUM_CLASSES[name]
    assert tuple(len(s.y) for s in splits[:3]) == sizes
    for part in splits[:3]:
        assert part.x.shape[1:] == sample_shape and part.x.dtype == np.float32
        assert part.y.dtype == (np.float32 if num_classes is None else np.int32)
    # Standardised with train statistics: train is centred, test need not be.
    flat = splits.train.x.reshape(len(splits.train.y), -1)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-4)


def test_load_mnist_keeps_the_official_test_split(mnist_dir):
    splits = data.load(MnistConfig(dir=str(mnist_dir), normalize="scale"))
    raw_test = data.load_mnist(mnist_dir, "test")
    np.testing.assert_allclose(splits.test.x, raw_test.x / 255.0)
    np.testing.assert_array_equal(splits.test.y, raw_test.y)


def test_load_digits_scale_divides_by_16_and_is_seeded():
    cfg = DigitsConfig(normalize="scale", seed=3)
    first, again = data.load(cfg), data.load(cfg)
    assert first.train.x.max() == 1.0 and first.train.x.min() == 0.0
    np.testing.assert_array_equal(first.test.y, again.test.y)
    other = data.load(dataclasses.replace(cfg, seed=4))
    assert not np.array_equal(first.test.x, other.test.x)


def test_load_xor_repeats_the_truth_table_unnormalised():
    splits = data.load(XorConfig(normalize="none"))
    for part in splits[:3]:
        np.testing.assert_array_equal(part.x, data.xor().x)
        np.testing.assert_array_equal(part.y, data.xor().y)


def test_load_allows_an_empty_split_only_for_a_zero_fraction():
    splits = data.load(SyntheticConfig(val_fraction=0.0, num_samples=50))
    assert len(splits.val.y) == 0 and len(splits.test.y) == 10
    tiny = SyntheticConfig(test_fraction=0.01, num_samples=20)
    with pytest.raises(
        JnnValueError, match=r"load \(moons test split\): expected a non-empty"
    ):
        data.load(tiny)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        (
            {"name": "digts"},
            JnnValueError,
            r"^load: expected `data.name` to be one of .*Hint: did you mean 'digits'\?",
        ),
        (
            {"name": "digits"},
            JnnTypeError,
            r"^load: expected \[data\] for data.name 'digits' to be a DigitsConfig",
        ),
        (
            {"normalize": "standardise"},
            JnnValueError,
            r"`data.normalize` .*did you mean 'standardize'",
        ),
        ({"val_fraction": 1.5}, JnnValueError, r"`data.val_fraction` in \[0, 1\)"),
        ({"test_fraction": -0.1}, JnnValueError, r"`data.test_fraction` in \[0, 1\)"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            JnnValueError,
            r"`data.val_fraction` \+ `data.test_fraction` < 1",
        ),
        ({"num_samples": 0}, JnnValueError, r"`data.num_samples` > 0"),
        ({"noise": -1.0}, JnnValueError, r"`data.noise` >= 0"),
        ({"seed": -2}, JnnValueError, r"`data.seed` in \[0, 2\*\*32\)"),
        ({"seed": 1.0}, JnnTypeError, r"`data.seed` to be an int"),
    ],
)
def test_load_config_errors_name_the_config_path(changes, error, match):
    with pytest.raises(error, match=match):
        data.load(dataclasses.replace(SyntheticConfig(), **changes))


def test_load_mnist_needs_a_directory():
    with pytest.raises(
        JnnValueError, match=r"`data.dir` naming a directory of mnist IDX files, got ''"
    ):
        data.load(MnistConfig())


def test_load_arrays_reads_normalises_and_counts_classes(tmp_path):
    x = np.arange(40, dtype=np.uint8).reshape(10, 4)
    np.savez(tmp_path / "mine.npz", x=x, y=np.arange(10) % 2)
    cfg = ArraysConfig(
        path=str(tmp_path / "mine.npz"), sample_shape=(2, 2), test_fraction=0.2
    )
    splits = data.load(cfg)
    assert splits.num_classes == 2 and splits.train.x.shape[1:] == (2, 2)
    assert [len(s.y) for s in splits[:3]] == [7, 1, 2]
    flat = splits.train.x.reshape(len(splits.train.y), -1)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-5)  # standardised


def test_load_mnist_missing_dir_raises_file_not_found(tmp_path):
    cfg = MnistConfig(name="fashion_mnist", dir=str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=r"download_mnist\(.*fashion=True\)"):
        data.load(cfg)


def test_load_reports_bad_labels_in_idx_files(mnist_dir):
    labels = (np.arange(6) % 10).astype(np.uint8)
    labels[3] = 12
    data.write_idx(mnist_dir / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(
        JnnValueError,
        match=r"^load \(mnist test split\): .*\{12\} at sample indices \[3\]",
    ):
        data.load(MnistConfig(dir=str(mnist_dir)))
