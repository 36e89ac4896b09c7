"""Bundled digits and the seeded synthetic generators."""

import gzip

import numpy as np
import pytest

from jnn import JnnTypeError, JnnValueError, data
from jnn.data import digits, synthetic

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_shape_dtype_range_and_class_counts():
    digits = data.load_digits()
    assert digits.x.shape == (1797, 8, 8, 1) and digits.x.dtype == np.float32
    assert digits.y.shape == (1797,) and digits.y.dtype == np.int32
    assert digits.x.min() == 0.0 and digits.x.max() == 16.0
    assert np.array_equal(digits.x, np.round(digits.x))  # raw integer counts
    assert np.bincount(digits.y).tolist() == DIGIT_COUNTS


def test_digits_first_image_matches_the_csv_row():
    # First row of digits.csv.gz, a "0" (same as scikit-learn's images[0]).
    row0 = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0]
    digits = data.load_digits()
    assert digits.x[0, :2, :, 0].ravel().tolist() == row0
    assert digits.y[0] == 0


def test_xor_is_the_truth_table():
    table = data.xor()
    assert table.x.dtype == np.float32 and table.y.dtype == np.int32
    expected = np.logical_xor(table.x[:, 0], table.x[:, 1]).astype(np.int32)
    assert np.array_equal(table.y, expected)
    assert {tuple(p) for p in table.x.tolist()} == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_two_moons_without_noise_lies_on_the_two_arcs():
    moons = data.two_moons(41, noise=0.0, seed=3)
    assert moons.x.shape == (41, 2) and moons.x.dtype == np.float32
    assert np.bincount(moons.y).tolist() == [21, 20]
    upper, lower = moons.x[moons.y == 0], moons.x[moons.y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-6)
    centre = np.array([1.0, 0.5], np.float32)
    np.testing.assert_allclose(np.linalg.norm(lower - centre, axis=1), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spirals_radius_grows_along_each_arm():
    spiral = data.spirals(30, noise=0.0, seed=0, num_classes=3)
    assert np.bincount(spiral.y).tolist() == [10, 10, 10]
    for k in range(3):
        arm = spiral.x[spiral.y == k]
        radius = np.sort(np.linalg.norm(arm, axis=1))
        np.testing.assert_allclose(radius, np.linspace(0.0, 1.0, 10), atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: data.two_moons(50, 0.2, seed),
        lambda seed: data.spirals(50, 0.2, seed, num_classes=4),
        lambda seed: data.linear_regression(50, seed=seed),
    ],
    ids=["moons", "spirals", "linear"],
)
def test_generators_are_deterministic_per_seed(make):
    first, again, other = make(1), make(1), make(2)
    assert np.array_equal(first.x, again.x) and np.array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


def test_generators_shuffle_classes():
    moons = data.two_moons(100, 0.1, seed=0)
    # Sorted labels would have one class change; a shuffle has many.
    assert np.count_nonzero(np.diff(moons.y)) > 10


def test_noise_is_gaussian_with_the_given_std():
    clean = data.two_moons(2000, 0.0, seed=0)
    noisy = data.two_moons(2000, 0.3, seed=0)
    # Same seed, same draws: only the noise scale differs, so the shuffle
    # matches and the difference is the noise itself.
    assert np.array_equal(clean.y, noisy.y)
    assert abs(float(np.std(noisy.x - clean.x)) - 0.3) < 0.02


def test_linear_regression_recovers_its_true_weights():
    regression = data.linear_regression(400, num_features=3, noise=0.05, seed=7)
    weight, bias = data.linear_regression_weights(3, seed=7)
    assert regression.x.dtype == np.float32 and regression.y.dtype == np.float32
    assert regression.y.shape == (400, 1) and weight.shape == (3, 1)
    design = np.concatenate([regression.x, np.ones((400, 1), np.float32)], axis=1)
    fitted = np.linalg.lstsq(design, regression.y, rcond=None)[0]  # (4, 1)
    np.testing.assert_allclose(fitted[:3], weight, atol=0.02)
    np.testing.assert_allclose(fitted[3], bias, atol=0.02)
    residual = regression.y - (regression.x @ weight + bias)
    assert abs(float(residual.std()) - 0.05) < 0.01


def test_true_weights_do_not_depend_on_num_samples():
    small = data.linear_regression(5, num_features=2, noise=0.0, seed=4)
    w, b = data.linear_regression_weights(2, seed=4)
    np.testing.assert_allclose(small.x @ w + b, small.y, atol=1e-5)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: data.two_moons(0, 0.1, 0), JnnValueError, r"`num_samples` > 0"),
        (lambda: data.two_moons(10, -0.1, 0), JnnValueError, r"`noise` finite"),
        (lambda: data.two_moons(10, 0.1, -1), JnnValueError, r"`seed` >= 0"),
        (lambda: data.two_moons(10.0, 0.1, 0), JnnTypeError, r"`num_samples` to be"),
        (lambda: data.spirals(10, 0.1, 0, 1), JnnValueError, r"2 <= `num_classes`"),
        (lambda: data.spirals(3, 0.1, 0, 4), JnnValueError, r"<= `num_samples` \(3\)"),
        (lambda: data.spirals(9, "0.1", 0), JnnTypeError, r"`noise` to be a number"),
        (lambda: data.linear_regression(5, 0), JnnValueError, r"`num_features` > 0"),
        (lambda: data.linear_regression(5, seed=1.5), JnnTypeError, r"`seed` to be"),
    ],
)
def test_generator_arguments_are_validated(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_class_counts_share_the_remainder_from_the_first_class():
    assert synthetic._class_counts(11, 3) == [4, 4, 3]


def test_damaged_digits_file_is_refused():
    short = gzip.compress(b"0,1,2\n3,4,5\n")
    with pytest.raises(JnnValueError, match=r"shape \(1797, 65\).*got shape \(2, 3\)"):
        digits._parse_table(short)
