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


@pytest.fixture(scope="module")
def fast_compiles():
    """Skip most XLA optimisations for one module, then restore the flag.

    Opt in with `pytestmark = pytest.mark.usefixtures("fast_compiles")`. In
    modules of many tiny programs, compiling (not running) dominates; unoptimised
    compiles are ~2x faster, and those tests check semantics, not speed.
    """
    previous = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


@pytest.fixture
def x64():
    """Enable float64 for one test (e.g. check_grads), then restore the flag."""
    previous = jax.config.values["jax_enable_x64"]
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)
