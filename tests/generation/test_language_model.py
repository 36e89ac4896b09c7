"""Sampling from a character model: step-by-step equals the full model, seeded,
temperature validated, near-zero temperature is argmax decoding."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from jnn.generation import language_model as sampling
from jnn.models.sequence import language_model_parts, sequence_lm

pytestmark = pytest.mark.usefixtures("fast_compiles")

VOCAB = "abcdefg"
SIZES = {"cell": "gru", "hidden": (8, 6), "embed_features": 4}


@pytest.fixture(scope="module")
def model():
    layer = sequence_lm(len(VOCAB), **SIZES)
    params, state = layer.init(jr.key(0), jnp.zeros((1, 5), jnp.int32))
    parts = language_model_parts(len(VOCAB), **SIZES)

    @jax.jit
    def full(ids):  # (T,) -> (T, V) logits, all steps at once
        return layer.apply(params, state, ids[None])[0][0]

    return full, sampling.LanguageModel(params, parts, VOCAB, None)


def test_one_step_at_a_time_equals_the_full_model(model):
    full, lm = model
    ids = jnp.array([3, 1, 4, 1, 5, 9 % 7, 2, 6], jnp.int32)
    want = full(ids)
    carries = tuple(c.initial_carry(1, jnp.float32) for c in lm.parts.cells)
    for t in range(len(ids)):
        carries, logits = sampling._step(lm.parts, lm.params, carries, ids[t : t + 1])
        np.testing.assert_allclose(logits[0], want[t], rtol=1e-5, atol=1e-5)


def test_same_key_same_text_and_keys_differ(model):
    _, lm = model
    first = sampling.sample_text(lm, "abc", key=jr.key(1), length=40)
    again = sampling.sample_text(lm, "abc", key=jr.key(1), length=40)
    other = sampling.sample_text(lm, "abc", key=jr.key(2), length=40)
    assert first == again and first != other
    assert len(first) == 40 and set(first) <= set(VOCAB)


def test_near_zero_temperature_is_greedy_decoding(model):
    full, lm = model
    got = sampling.sample_text(lm, "ab", key=jr.key(3), length=6, temperature=1e-6)
    # Argmax of the full model over the growing prefix; padding after the
    # prefix cannot change a causal model's logits, so one length compiles.
    ids = np.zeros(8, np.int32)
    ids[:2] = sampling.text.encode("ab", VOCAB)
    for t in range(2, 8):
        ids[t] = int(full(jnp.asarray(ids))[t - 1].argmax())
    assert got == sampling.text.decode(ids[2:], VOCAB)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 0.0}, ValueError, r"sample: expected `temperature` > 0"),
        ({"temperature": -1.0}, ValueError, r"expected `temperature` > 0"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"length": 0}, ValueError, r"make_sampler: expected `length`"),
        ({"prime": ""}, ValueError, r"sample: expected a non-empty `prime`"),
        ({"prime": "xyz"}, ValueError, r"encode: expected characters in the"),
    ],
)
def test_errors(model, kwargs, error, match):
    _, lm = model
    kwargs = {"prime": "a", "key": jr.key(0), **kwargs}
    with pytest.raises(error, match=match):
        sampling.sample_text(lm, kwargs.pop("prime"), **kwargs)
