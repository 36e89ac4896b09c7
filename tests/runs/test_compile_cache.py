"""`train.compilation_cache`: a second launch loads its programs and says so."""

import jax
import numpy as np
import optax
import pytest

import jnn
from jnn import config as config_lib
from jnn import layers as nn
from jnn.runs.engine import Settings


def _launch(tmp_path, cache: str, lines: list):
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nn.named(h=nn.dense(7), a=nn.tanh(), o=nn.dense(2))
    return jnn.train.fit(
        model,
        "sparse_softmax_cross_entropy",
        optax.adam(1e-2),
        (x, y),
        val=(x, y),
        epochs=1,
        batch_size=16,
        settings=Settings(compilation_cache=cache),
        log=lines.append,
        progress=False,
    )


def test_a_second_launch_loads_its_programs_and_reports_the_time_saved(tmp_path):
    cache = str(tmp_path / "cache")
    before = jax.config.values["jax_compilation_cache_dir"]  # the suite's own
    first_lines, second_lines = [], []
    first = _launch(tmp_path, cache, first_lines).results["compilation_cache"]
    second = _launch(tmp_path, cache, second_lines).results["compilation_cache"]
    assert first["compiled"] >= 2 and first["loaded"] == 0  # train and eval steps
    assert second["loaded"] >= 2 and second["compiled"] == 0
    # JAX reports each load's recorded compile time less its read time:
    # a tiny model's programs can take longer to read than they took to
    # compile, so the total may be below 0 (a convolution's measured > 0).
    assert isinstance(second["saved_s"], float) and second["directory"] == cache
    assert any(
        line.startswith(f"compilation cache {cache}: ")
        and f"{second['loaded']} program(s) loaded, 0 compiled" in line
        and "s of compiling saved" in line
        for line in second_lines
    )
    # The process's own settings come back after the run.
    assert jax.config.values["jax_compilation_cache_dir"] == before != cache


def test_without_a_directory_nothing_is_cached_or_reported(tmp_path):
    lines = []
    result = _launch(tmp_path, "", lines)
    assert "compilation_cache" not in result.results
    assert not any("compilation cache" in line for line in lines)


def test_the_config_field_reaches_the_engine(tmp_path):
    from jnn.runs.engine import settings_of

    cfg = config_lib.replace(
        config_lib.defaults(), [f"train.compilation_cache={tmp_path}"]
    )
    assert settings_of(cfg.train).compilation_cache == str(tmp_path)
    gan = config_lib.replace(
        config_lib.defaults("gan"), [f"train.compilation_cache={tmp_path}"]
    )
    assert settings_of(gan.train).compilation_cache == str(tmp_path)
    assert settings_of(gan.train).checkpoint_every == 0  # a GAN's [train] has none
    with pytest.raises(TypeError, match=r"train\.compilation_cache"):
        config_lib.replace(config_lib.defaults(), ["train.compilation_cache=3"])
