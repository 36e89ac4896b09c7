"""Suite-wide strictness: no silent rank or dtype promotion anywhere in tests."""

import itertools

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

_counter = itertools.count()


@pytest.fixture
def key():
    """A fresh PRNG key per test (distinct across tests, fixed across runs)."""
    return jax.random.key(next(_counter))
