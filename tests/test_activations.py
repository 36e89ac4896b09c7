"""Tests for `jnn.activations`: every name against a NumPy reference."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jnn import activations


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def np_gelu_erf(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / np.sqrt(2.0)))


# float64 NumPy references, with jax.nn's default hyperparameters.
REFERENCES = {
    "identity": lambda x: x,
    "linear": lambda x: x,
    "step": lambda x: (x >= 0.0).astype(x.dtype),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "leaky_relu": lambda x: np.where(x >= 0.0, x, 0.01 * x),
    "elu": lambda x: np.where(x > 0.0, x, np.expm1(x)),
    "gelu": np_gelu_tanh,  # jax.nn.gelu defaults to approximate=True
    "silu": lambda x: x * np_sigmoid(x),
    "swish": lambda x: x * np_sigmoid(x),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "softmax": np_softmax,
    "log_softmax": lambda x: np.log(np_softmax(x)),
}

# (3, 5) with negatives, zeros and large magnitudes.
X = np.array(
    [
        [-4.0, -1.5, 0.0, 0.5, 3.0],
        [-0.25, 0.0, 0.0, 2.0, 10.0],
        [-20.0, -3.0, 1.0, 1.5, 0.75],
    ],
    np.float32,
)


def test_every_name_has_a_reference():
    assert set(activations.NAMES) == set(REFERENCES)


@pytest.mark.parametrize("name", activations.NAMES)
def test_matches_numpy_reference(name):
    y = activations.get(name)(jnp.asarray(X))
    assert y.shape == X.shape and y.dtype == jnp.float32
    expected = REFERENCES[name](X.astype(np.float64))
    np.testing.assert_allclose(y, expected, rtol=2e-6, atol=1e-6)


def test_gelu_exact_matches_erf_reference():
    y = activations.get("gelu")(jnp.asarray(X), approximate=False)
    np.testing.assert_allclose(
        y, np_gelu_erf(X.astype(np.float64)), rtol=2e-6, atol=1e-6
    )


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_sums_to_one_and_is_stable(axis):
    x = jnp.asarray(X) * 100.0  # exp(1000) overflows without max-subtraction
    y = np.asarray(activations.softmax(x, axis=axis))
    assert np.all(np.isfinite(y)) and np.all(y >= 0.0)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-6)


def test_log_softmax_is_log_of_softmax():
    x = jnp.asarray(X)
    np.testing.assert_allclose(
        np.exp(activations.log_softmax(x)), activations.softmax(x), rtol=1e-6
    )


def test_step_threshold_and_dtype():
    x = jnp.array([0.49, 0.5, 0.51], jnp.float16)
    y = activations.step(x, threshold=0.5)
    assert y.dtype == jnp.float16
    np.testing.assert_array_equal(y, [0.0, 1.0, 1.0])  # x == threshold gives 1


def test_aliases_are_the_same_function():
    assert activations.get("linear") is activations.get("identity")
    assert activations.get("swish") is activations.get("silu")


def test_unknown_name_raises_with_suggestion():
    with pytest.raises(
        ValueError,
        match=r"activations\.get: expected `name` to be one of \[.*\], "
        r"got 'sigmod'\. Hint: did you mean 'sigmoid'\?",
    ):
        activations.get("sigmod")


def test_unknown_name_without_close_match_has_no_hint():
    with pytest.raises(ValueError, match=r"got 'xyz'\.$"):
        activations.get("xyz")
