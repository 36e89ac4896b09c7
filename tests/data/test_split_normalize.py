"""Seeded stratified splits and train-only normalisation."""

import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError, data
from jnn.data import Dataset


def _labelled(counts, features=2):
    """A data set whose x[i, 0] == i, so samples can be traced through a split."""
    y = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    x = np.tile(np.arange(len(y), dtype=np.float32)[:, None], (1, features))
    return Dataset(x, y)


def _ids(dataset):
    return dataset.x[:, 0].astype(np.int64)


def test_split_is_deterministic_disjoint_and_covering():
    full = _labelled([30, 50, 20])
    first = data.split(full, 0.2, 0.25, seed=3)
    again = data.split(full, 0.2, 0.25, seed=3)
    other = data.split(full, 0.2, 0.25, seed=4)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(first[2].x, other[2].x)
    ids = np.concatenate([_ids(part) for part in first])
    assert np.array_equal(np.sort(ids), np.arange(100))  # disjoint and covering
    for part in first:  # x and y stay paired
        np.testing.assert_array_equal(part.y, full.y[_ids(part)])


def test_split_sizes_follow_the_documented_rounding():
    train, val, test = data.split(_labelled([30, 50, 20]), 0.2, 0.25, seed=0)
    assert (len(test.y), len(val.y), len(train.y)) == (25, 15, 60)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_stratified_within_one_sample(seed):
    counts = np.array([13, 29, 7, 51])
    val_fraction, test_fraction = 0.3, 0.15
    train, val, test = data.split(_labelled(counts), val_fraction, test_fraction, seed)
    test_share = counts * test_fraction
    val_share = (counts - np.bincount(test.y, minlength=4)) * val_fraction
    assert np.abs(np.bincount(test.y, minlength=4) - test_share).max() <= 1
    assert np.abs(np.bincount(val.y, minlength=4) - val_share).max() <= 1
    assert (np.bincount(train.y, minlength=4) > 0).all()


def test_digits_split_keeps_class_balance():
    digits = data.load_digits()
    counts = np.bincount(digits.y)
    _, _, test = data.split(digits, 0.1, 0.2, seed=0)
    assert len(test.y) == round(0.2 * 1797)
    assert np.abs(np.bincount(test.y) - counts * 0.2).max() <= 1


def test_test_set_is_unchanged_when_val_fraction_changes():
    full = _labelled([40, 60])
    _, _, small_val = data.split(full, 0.1, 0.2, seed=5)
    _, _, large_val = data.split(full, 0.5, 0.2, seed=5)
    np.testing.assert_array_equal(small_val.x, large_val.x)


def test_split_shuffles_within_each_split():
    train, _, _ = data.split(_labelled([50, 50]), 0.0, 0.0, seed=0)
    assert not np.array_equal(_ids(train), np.sort(_ids(train)))


def test_zero_fraction_gives_an_empty_split_with_the_sample_shape():
    train, val, test = data.split(_labelled([5, 5], features=3), 0.0, 0.3, seed=0)
    assert val.x.shape == (0, 3) and val.y.shape == (0,)
    assert len(train.y) == 7 and len(test.y) == 3


def test_regression_targets_split_without_strata():
    regression = data.linear_regression(20, seed=0)
    train, val, test = data.split(regression, 0.25, 0.2, seed=0)
    assert (len(train.y), len(val.y), len(test.y)) == (12, 4, 4)
    assert train.y.shape == (12, 1) and train.y.dtype == np.float32


def test_unstratified_split_equals_a_single_class_split():
    full = _labelled([90, 10])
    one_class = Dataset(full.x, np.zeros_like(full.y))
    plain = data.split(full, 0.2, 0.5, seed=0, stratify=False)
    reference = data.split(one_class, 0.2, 0.5, seed=0)
    for a, b in zip(plain, reference, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
    assert len(plain[2].y) == 50


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((1.0, 0.1, 0), JnnValueError, r"`val_fraction` in \[0, 1\), got 1.0"),
        ((0.1, -0.1, 0), JnnValueError, r"`test_fraction` in \[0, 1\)"),
        ((0.6, 0.4, 0), JnnValueError, r"`val_fraction` \+ `test_fraction` < 1"),
        ((0.1, 0.1, -1), JnnValueError, r"`seed` >= 0"),
        (("0.1", 0.1, 0), JnnTypeError, r"`val_fraction` to be a number"),
        ((0.1, 0.1, 1.0), JnnTypeError, r"`seed` to be an int"),
    ],
)
def test_split_arguments_are_validated(args, error, match):
    with pytest.raises(error, match=match):
        data.split(_labelled([5, 5]), *args)


def test_split_rejects_empty_and_mismatched_data():
    empty = Dataset(np.zeros((0, 2), np.float32), np.zeros((0,), np.int32))
    with pytest.raises(JnnValueError, match=r"non-empty data set, got 0 samples"):
        data.split(empty, 0.1, 0.1, seed=0)
    mismatched = Dataset(np.zeros((4, 2), np.float32), np.zeros((3,), np.int32))
    with pytest.raises(JnnValueError, match=r"one target per sample \(4\), got 3"):
        data.split(mismatched, 0.1, 0.1, seed=0)


def _pixels(seed, n=40):
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, (n, 4, 4, 1)).astype(np.float32)
    x[:, 0, 0, 0] = 7.0  # a constant pixel, like digits' always-blank corners
    return Dataset(x, np.zeros(n, np.int32))


def test_standardize_gives_zero_mean_unit_std_on_train():
    (train,), stats = data.normalize(_pixels(0), method="standardize")
    varying = train.x.reshape(40, -1)[:, 1:]
    np.testing.assert_allclose(varying.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(varying.std(axis=0), 1.0, atol=1e-5)
    assert train.x.dtype == np.float32 and stats.shift.shape == (4, 4, 1)
    # Constant pixel: centred, scale 1 (not a floored tiny std).
    assert stats.scale[0, 0, 0] == 1.0 and np.all(train.x[:, 0, 0, 0] == 0.0)


def test_standardize_uses_train_statistics_only():
    train, test = _pixels(0), _pixels(1, n=10)
    test.x[:, 0, 0, 0] = 9.0  # differs from the constant train pixel
    (_, test_norm), stats = data.normalize(train, test, method="standardize")
    mean = train.x.mean(axis=0)
    std = train.x.std(axis=0)
    std[0, 0, 0] = 1.0
    np.testing.assert_allclose(test_norm.x, (test.x - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(test_norm.x[:, 0, 0, 0], 2.0)  # no blow-up
    np.testing.assert_array_equal(test_norm.y, test.y)
    reused = data.apply_norm_stats(stats, test.x)
    np.testing.assert_array_equal(reused, test_norm.x)


def test_scale_uses_known_max_or_train_max_abs():
    train = Dataset(np.array([[-6.0, 3.0]], np.float32), np.array([0]))
    (known,), stats = data.normalize(train, method="scale", max_value=12.0)
    np.testing.assert_allclose(known.x, [[-0.5, 0.25]])
    (own,), _ = data.normalize(train, method="scale")
    np.testing.assert_allclose(own.x, [[-1.0, 0.5]])
    (same,), _ = data.normalize(train, method="none")
    np.testing.assert_array_equal(same.x, train.x)
    assert np.all(stats.shift == 0.0) and np.all(stats.scale == 12.0)


def test_normalize_errors():
    good = _pixels(0)
    with pytest.raises(
        JnnValueError, match=r"`method` to be one of.*did you mean 'scale'"
    ):
        data.normalize(good, method="scal")
    with pytest.raises(JnnValueError, match=r"samples of shape \(4, 4, 1\) like train"):
        data.normalize(good, Dataset(np.zeros((2, 16), np.float32), np.zeros(2)))
    ints = Dataset(np.zeros((2, 3), np.int32), np.zeros(2))
    with pytest.raises(JnnTypeError, match=r"floating NumPy array, got dtype int32"):
        data.normalize(ints)
    zeros = Dataset(np.zeros((2, 3), np.float32), np.zeros(2))
    with pytest.raises(
        JnnValueError, match=r"positive max \|x\|.*Hint: pass max_value"
    ):
        data.normalize(zeros, method="scale")
    empty = Dataset(np.zeros((0, 3), np.float32), np.zeros(0))
    with pytest.raises(JnnValueError, match=r"train x of shape \(N, \*F\) with N > 0"):
        data.normalize(empty)
    with pytest.raises(JnnValueError, match=r"with N > 0, got shape \(3,\)"):
        data.fit_norm_stats(np.ones(3, np.float32), "none")
    with pytest.raises(JnnTypeError, match=r"`max_value` to be a number"):
        data.fit_norm_stats(good.x, "scale", max_value="255")


def test_normalize_accepts_an_empty_other_split():
    empty = Dataset(np.zeros((0, 4, 4, 1), np.float32), np.zeros(0, np.int32))
    (_, out), _ = data.normalize(_pixels(0), empty)
    assert out.x.shape == (0, 4, 4, 1) and out.x.dtype == np.float32
