"""The character language model: causal per-step outputs, per-token losses in
the train/eval steps, and a test-sized run that beats the unigram and samples
from its checkpoint through scripts/sample.py."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from jnn import losses
from jnn.layers import dense, embedding, serial
from jnn.models import from_config
from jnn.models.config import RnnLmConfig
from jnn.models.sequence import sequence_lm
from jnn.train.state import create
from jnn.train.step import Batch, make_eval_step, make_train_step, masked_mean

pytestmark = pytest.mark.usefixtures("fast_compiles")  # compiling dominates


def test_lm_is_causal_and_built_from_config(key):
    model = from_config(RnnLmConfig(cell="lstm", hidden=(6, 5), embed_features=3), 9)
    ids = jnp.array([[1, 2, 3, 4, 5, 6]], jnp.int32)
    params, state = jax.jit(model.init)(key, ids)
    assert sorted(params) == ["embed", "output", "rnn_0", "rnn_1"]
    apply = jax.jit(model.apply)
    before, _ = apply(params, state, ids)
    after, _ = apply(params, state, ids.at[0, 3].set(8))
    assert before.shape == (1, 6, 9)
    np.testing.assert_array_equal(before[0, :3], after[0, :3])  # past unchanged
    assert not np.allclose(before[0, 3:], after[0, 3:])


def test_sequence_lm_errors():
    with pytest.raises(ValueError, match="sequence_lm: expected `cell`"):
        sequence_lm(5, cell="lstmm")
    with pytest.raises(ValueError, match="sequence_lm: expected at least one width"):
        sequence_lm(5, hidden=())


def test_per_token_losses_average_per_example_then_over_the_mask(key):
    values = jnp.array([[1.0, 3.0], [5.0, 7.0], [100.0, 100.0]])
    mask = jnp.array([1.0, 1.0, 0.0])
    assert float(masked_mean(values, mask)) == pytest.approx(4.0)
    model = serial(embedding(4, 3), dense(4))  # per-step logits (B, T, V)
    ids = jr.randint(key, (3, 6), 0, 4)
    batch = Batch(ids, jnp.roll(ids, -1, axis=1), mask)
    loss_fn = losses.sparse_softmax_cross_entropy
    ts = create(model, optax.sgd(0.1), key, ids)
    sums = jax.jit(make_eval_step(model, loss_fn))(ts.params, ts.state, batch)
    logits, _ = jax.jit(model.apply)(ts.params, ts.state, ids)
    want = loss_fn(logits, batch.y)[:2].mean()  # every token of real examples
    assert float(sums["loss"] / sums["count"]) == pytest.approx(float(want), rel=1e-5)
    _, logs = jax.jit(make_train_step(model, loss_fn, optax.sgd(0.1)))(ts, batch)
    assert float(logs["loss"]) == pytest.approx(float(want), rel=1e-5)


def test_char_lm_beats_unigram_and_samples_from_checkpoint(char_lm_trains_and_samples):
    """Test-sized run of configs/char_lstm.toml on a small repetitive text."""
    char_lm_trains_and_samples(
        "configs/char_lstm.toml",
        ["model.hidden=[32]", "model.embed_features=8", "train.epochs=10"],
    )
