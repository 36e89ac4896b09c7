"""Suite-wide strictness: no silent rank or dtype promotion anywhere in tests."""

import importlib.util
import itertools
import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")

_counter = itertools.count()
_ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture
def char_lm_trains_and_samples(tmp_path, capsys):
    """`check(config, overrides)`: a char LM config, trained on a small
    repetitive text, ends below half the unigram bits per character, and
    scripts/sample.py continues a prime from its checkpoint with 60
    characters of that text. Returns the script module and its arguments
    for that run (prime "the ", temperature 0.5, no length)."""
    from jnn import config as config_lib
    from jnn.train import fit_config

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 80)

    def check(config: str, overrides: list[str]):
        data = [f'data.path="{corpus.as_posix()}"', "data.seq_len=16"]
        train = ["train.batch_size=16", "optim.lr=1e-2", "optim.warmup_steps=0"]
        cfg = config_lib.load(_ROOT / config, [*data, *train, *overrides])
        last = fit_config(cfg, tmp_path / "run", log=None).history[-1]
        print(f"val bpc {last['val_bits_per_char']:.3f}", end=" ")
        print(f"vs unigram {last['val_unigram_bits_per_char']:.3f}")
        assert last["val_bits_per_char"] < 0.5 * last["val_unigram_bits_per_char"]
        capsys.readouterr()  # only the script's output below
        spec = importlib.util.spec_from_file_location(
            "sample", _ROOT / "scripts/sample.py"
        )
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        argv = [str(tmp_path / "run"), "--temperature", "0.5", "--prime", "the "]
        assert script.main([*argv, "--length", "60"]) == 0
        out = capsys.readouterr().out.rstrip("\n")
        assert out.startswith("the ") and len(out) == 64
        assert set(out) <= set(corpus.read_text())
        return script, argv

    return check


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
