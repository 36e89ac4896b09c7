"""Sampling from a transformer LM: the key/value cache gives exactly the tokens
a full re-run over the prefix gives (sampled, and greedy), the prime and
length must fit max_len, and a trained run samples through scripts/sample.py."""

import functools
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn.generation import language_model
from jnn.generation import transformer_lm as sampling
from jnn.models import transformer_lm, transformer_lm_parts

pytestmark = pytest.mark.usefixtures("fast_compiles")

VOCAB = "abcdefg"
MAX_LEN = 24
LENGTH = 12


@functools.cache
def _model(positions: str):
    """A tiny LM, its params, state and parts, and its two jitted samplers."""
    sizes = {"features": 8, "blocks": 2, "num_heads": 2, "mlp_features": 16}
    sizes |= {"max_len": MAX_LEN, "positions": positions}
    layer = transformer_lm(len(VOCAB), **sizes)
    params, state = jax.jit(layer.init)(jr.key(0), jnp.zeros((1, 4), jnp.int32))
    parts = transformer_lm_parts(len(VOCAB), **sizes)
    cached = sampling.make_sampler(parts, LENGTH)
    rerun = sampling.make_sampler(parts, LENGTH, model=layer)
    return layer, params, state, parts, cached, rerun


def test_cache_gives_exactly_the_tokens_of_a_full_rerun():
    _, params, _, _, cached, rerun = _model("rope")
    prime = jnp.array([1, 4, 2], jnp.int32)
    want = rerun(params, prime, jr.key(7), 1.0)
    np.testing.assert_array_equal(cached(params, prime, jr.key(7), 1.0), want)
    assert len(set(np.asarray(want).tolist())) > 2  # a real sample, not a constant


def test_near_zero_temperature_is_greedy_decoding_of_the_full_model():
    # The learned table's path: the cached sampler against the full model's
    # argmax over the growing prefix (no cache), token for token.
    layer, params, state, _, cached, _ = _model("learned")
    prime = jnp.array([1, 4, 2], jnp.int32)
    got = np.asarray(cached(params, prime, jr.key(3), 1e-6))
    ids = np.zeros(3 + LENGTH, np.int32)
    ids[:3] = prime
    full = jax.jit(lambda ids: layer.apply(params, state, ids[None])[0][0])
    for t in range(3, len(ids)):  # argmax of the full model over the growing prefix
        ids[t] = int(full(jnp.asarray(ids))[t - 1].argmax())
    np.testing.assert_array_equal(got, ids[3:])


@pytest.mark.parametrize(
    ("prime", "kwargs", "error", "match"),
    [
        (
            "abcd",
            {"length": 21},
            ValueError,
            r"sample: expected len\(prime\) \+ `length` <= the model's max_len = 24, "
            r"got 4 \+ 21 = 25. Hint: sample at most 20 characters",
        ),
        ("a", {"length": 0}, ValueError, r"make_sampler: expected `length` > 0"),
        ("a", {"temperature": 0.0}, ValueError, r"sample: expected `temperature` > 0"),
        ("a", {"temperature": "hot"}, TypeError, "temperature"),
        ("", {}, ValueError, r"sample: expected a non-empty `prime`"),
        ("xyz", {}, ValueError, r"encode: expected characters in the"),
    ],
)
def test_sample_text_errors(prime, kwargs, error, match):
    _, params, _, parts, _, _ = _model("learned")
    lm = language_model.LanguageModel(params, parts, VOCAB, None)
    kwargs = {"key": jr.key(0), "length": 5, **kwargs}
    with pytest.raises(error, match=match):
        sampling.sample_text(lm, prime, **kwargs)


def test_load_refuses_a_run_of_another_kind(monkeypatch):
    from jnn.runs import restore

    run = SimpleNamespace(
        config=SimpleNamespace(model=SimpleNamespace(kind="rnn_lm")), checkpoint="c"
    )
    monkeypatch.setattr(restore, "load_run", lambda path: run)
    with pytest.raises(
        ValueError, match=r"expected `model.kind` to be one of \['transformer_lm'\]"
    ):
        sampling.load_transformer_lm("somewhere")


def test_char_transformer_trains_and_samples_from_checkpoint(
    char_lm_trains_and_samples, capsys
):
    """Test-sized run of configs/char_transformer.toml on a small repetitive text."""
    script, argv = char_lm_trains_and_samples(
        "configs/char_transformer.toml",
        [
            *("model.features=16", "model.blocks=1", "model.max_len=80"),
            *("model.num_heads=2", "model.mlp_features=32", "train.epochs=4"),
        ],
    )
    assert script.main(argv) == 0  # by default: as many as max_len leaves
    assert len(capsys.readouterr().out.rstrip("\n")) == 80
    assert script.main([*argv, "--length", "77"]) == 2  # 4 + 77 > max_len 80
    assert "expected len(prime) + `length` <= the model's max_len = 80" in (
        capsys.readouterr().err
    )
