"""Tests for `jnn.initializers`: shapes, dtypes, variances, ranges and lookup."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn import initializers

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiles dominate

# Arguments every factory needs (others take none).
KWARGS = {"constant": {"value": 0.5}, "variance_scaling": {"scale": 1.0}}

# Expected variance as a function of (fan_in, fan_out), for the scaling inits.
VARIANCE = {
    "glorot_normal": lambda fi, fo: 2.0 / (fi + fo),
    "glorot_uniform": lambda fi, fo: 2.0 / (fi + fo),
    "he_normal": lambda fi, fo: 2.0 / fi,
    "he_uniform": lambda fi, fo: 2.0 / fi,
    "lecun_normal": lambda fi, fo: 1.0 / fi,
    "lecun_uniform": lambda fi, fo: 1.0 / fi,
}
ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
}
OTHERS = {
    "zeros",
    "ones",
    "constant",
    "normal",
    "uniform",
    "orthogonal",
    "variance_scaling",
}


def test_every_name_is_tested_here():
    assert set(initializers.NAMES) == set(VARIANCE) | set(ALIASES) | OTHERS


def make(name, shape, dtype=jnp.float32, key=0):
    return initializers.get(name, **KWARGS.get(name, {}))(jr.key(key), shape, dtype)


@pytest.mark.parametrize("name", initializers.NAMES)
def test_every_name_gives_requested_shape_and_dtype(name):
    # Shapes shared with the tests below, so the random compiles are reused
    # (orthogonal's QR on (250, 1000) alone would cost seconds).
    shape = (6, 4) if name == "orthogonal" else (250, 1000)
    w = make(name, shape)
    assert w.shape == shape
    assert w.dtype == jnp.float32
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize("name", ["zeros", "ones", "constant", "normal", "uniform"])
def test_vector_shapes_for_biases(name):
    assert make(name, (5,)).shape == (5,)


@pytest.mark.parametrize("name", ["zeros", "constant", "he_normal", "uniform"])
def test_low_precision_dtype(name):
    assert make(name, (4, 3), jnp.bfloat16).dtype == jnp.bfloat16


@pytest.mark.parametrize("shape", [(1000, 1000), (250, 1000)])
@pytest.mark.parametrize("name", sorted(VARIANCE))
def test_variance_matches_formula(name, shape):
    w = np.asarray(initializers.get(name)(jr.key(1), shape, jnp.float32), np.float64)
    fan_in, fan_out = shape  # dense weight (F_in, F_out)
    expected = VARIANCE[name](fan_in, fan_out)
    np.testing.assert_allclose(w.var(), expected, rtol=0.03)
    assert abs(w.mean()) < 5 * np.sqrt(expected / w.size)
    if name.endswith("uniform"):
        limit = np.sqrt(3.0 * expected)  # U[-a, a] has variance a^2 / 3
        assert np.abs(w).max() <= limit * (1 + 1e-6)
        assert np.abs(w).max() > 0.99 * limit  # fills the interval


FANS = {
    "fan_in": lambda fi, fo: fi,
    "fan_out": lambda fi, fo: fo,
    "fan_avg": lambda fi, fo: (fi + fo) / 2,
}


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("mode", sorted(FANS))
def test_variance_scaling_modes(mode, distribution):
    init = initializers.get(
        "variance_scaling", scale=3.0, mode=mode, distribution=distribution
    )
    w = np.asarray(init(jr.key(9), (250, 1000), jnp.float32), np.float64)
    np.testing.assert_allclose(w.var(), 3.0 / FANS[mode](250, 1000), rtol=0.03)


def test_variance_scaling_bad_mode_raises_with_suggestion():
    with pytest.raises(
        ValueError,
        match=r"initializers\.variance_scaling: expected `mode` to be one of .*"
        r"got 'fan_inn'\. Hint: did you mean 'fan_in'\?",
    ):
        initializers.variance_scaling(1.0, mode="fan_inn")


@pytest.mark.parametrize(("alias", "name"), sorted(ALIASES.items()))
def test_aliases_equal_their_targets(alias, name):
    a = make(alias, (250, 1000), key=2)
    b = make(name, (250, 1000), key=2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scale", [0.01, 2.0])
def test_uniform_in_symmetric_range_with_zero_mean(scale):
    w = np.asarray(initializers.uniform(scale)(jr.key(3), (1000, 1000), jnp.float32))
    assert w.min() >= -scale and w.max() < scale
    assert w.min() < -0.99 * scale and w.max() > 0.99 * scale  # symmetric, not [0, s)
    assert abs(w.mean()) < 4 * scale / np.sqrt(3 * w.size)
    np.testing.assert_allclose(w.var(), scale**2 / 3, rtol=0.03)


def test_normal_stddev():
    w = np.asarray(initializers.normal(0.1)(jr.key(4), (1000, 1000), jnp.float32))
    np.testing.assert_allclose(w.std(), 0.1, rtol=0.01)
    assert abs(w.mean()) < 4 * 0.1 / np.sqrt(w.size)


@pytest.mark.parametrize(("shape", "scale"), [((6, 4), 1.0), ((6, 4), 2.0)])
def test_orthogonal_columns_are_orthonormal(shape, scale):
    w = np.asarray(initializers.orthogonal(scale)(jr.key(5), shape, jnp.float32))
    gram = w.T @ w  # (F_out, F_out)
    np.testing.assert_allclose(gram, scale**2 * np.eye(shape[1]), atol=1e-5)


def test_orthogonal_wide_matrix_has_orthonormal_rows():
    w = np.asarray(initializers.orthogonal()(jr.key(6), (4, 6), jnp.float32))
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-5)


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        (initializers.zeros(), 0.0),
        (initializers.ones(), 1.0),
        (initializers.constant(-2.5), -2.5),
        (initializers.get("constant", value=3.0), 3.0),
    ],
)
def test_constant_initializers_are_exact(init, expected):
    w = init(jr.key(0), (3, 2), jnp.float32)
    np.testing.assert_array_equal(w, np.full((3, 2), expected, np.float32))


def test_get_passes_kwargs():
    w = initializers.get("normal", stddev=0.5)(jr.key(7), (1000, 1000), jnp.float32)
    np.testing.assert_allclose(np.std(w), 0.5, rtol=0.01)
    w = initializers.get("uniform", scale=3.0)(jr.key(7), (1000, 1000), jnp.float32)
    assert -3.0 <= w.min() < -2.9 and 2.9 < w.max() < 3.0


def test_get_equals_factory():
    by_name = initializers.get("he_normal")(jr.key(8), (4, 3), jnp.float32)
    direct = initializers.he_normal()(jr.key(8), (4, 3), jnp.float32)
    np.testing.assert_array_equal(by_name, direct)


def test_unknown_name_raises_with_suggestion():
    with pytest.raises(
        ValueError,
        match=r"initializers\.get: expected `name` to be one of \[.*'he_normal'.*\], "
        r"got 'he_normall'\. Hint: did you mean 'he_normal'\?",
    ):
        initializers.get("he_normall")


def test_unknown_name_without_close_match_has_no_hint():
    with pytest.raises(ValueError, match=r"got 'zzz'\.$"):
        initializers.get("zzz")


@pytest.mark.parametrize(
    ("factory", "arg", "error", "match"),
    [
        (initializers.constant, float("nan"), ValueError, r"`value` finite"),
        (
            initializers.normal,
            -1.0,
            ValueError,
            r"`stddev` finite and in \[0\.0, inf\]",
        ),
        (initializers.uniform, "a", TypeError, r"`scale` to be a number, got 'a'"),
        (initializers.orthogonal, -1.0, ValueError, r"`scale` finite"),
    ],
)
def test_bad_factory_arguments_raise(factory, arg, error, match):
    with pytest.raises(
        error, match=rf"initializers\.{factory.__name__}: expected {match}"
    ):
        factory(arg)


def test_get_with_wrong_arguments_raises():
    with pytest.raises(TypeError, match=r"arguments of 'zeros' among \[\]"):
        initializers.get("zeros", value=1)


def test_orthogonal_in_bfloat16():
    w = initializers.orthogonal()(jr.key(0), (8, 8), jnp.bfloat16)
    assert w.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(w.T @ w, np.float32), np.eye(8), atol=0.05)
