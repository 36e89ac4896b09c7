"""Suite-wide strictness: no silent rank or dtype promotion anywhere in tests."""

import itertools
import os

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def shared_compiles(tmp_path_factory):
    """One persistent compilation cache for the whole run, shared by the
    xdist workers: many tests compile the same programs (the same model and
    step, built afresh), and compiling dominates the suite's time. The key
    holds the program, its compile options and the versions, so a cached
    program is exactly the one a compile would give."""
    if os.environ.get("JNN_TEST_CACHE") == "0":
        yield
        return
    directory = tmp_path_factory.getbasetemp().parent / "jax-compilation-cache"
    flags = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    previous = {flag: jax.config.values[flag] for flag in flags}
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    yield
    for flag, value in previous.items():
        jax.config.update(flag, value)


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


# The longest files start first: xdist (--dist loadfile) hands whole files to
# the workers in collection order, and one long file collected last (the
# layer contract, ~60 s) would leave the other worker idle at the end.
_LONGEST_FIRST = (
    "tests/test_layer_contract.py",
    "tests/train/test_fit_python.py",
    "tests/train/test_configs.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return (
            _LONGEST_FIRST.index(path)
            if path in _LONGEST_FIRST
            else len(_LONGEST_FIRST)
        )

    items.sort(key=rank)  # stable: the rest keep their order
