"""The character language model: causal per-step outputs, per-token losses in
the train/eval steps, and a test-sized run that beats the unigram and samples
from its checkpoint through scripts/sample.py."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from jnn import config as config_lib
from jnn import losses
from jnn.layers import dense, embedding, serial
from jnn.models import from_config
from jnn.models.config import RnnLmConfig
from jnn.models.sequence import sequence_lm
from jnn.train import fit_config
from jnn.train.state import create
from jnn.train.step import Batch, make_eval_step, make_train_step, masked_mean

ROOT = Path(__file__).resolve().parents[2]
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


def _sample_script():
    spec = importlib.util.spec_from_file_location("sample", ROOT / "scripts/sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_char_lm_beats_unigram_and_samples_from_checkpoint(tmp_path, capsys):
    """Test-sized run of configs/char_lstm.toml on a small repetitive text."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 80)
    overrides = [
        f'data.path="{corpus.as_posix()}"',
        *("data.seq_len=16", "model.hidden=[32]", "model.embed_features=8"),
        *("train.epochs=10", "train.batch_size=16", "optim.lr=1e-2"),
        "optim.warmup_steps=0",
    ]
    cfg = config_lib.load(ROOT / "configs/char_lstm.toml", overrides)
    result = fit_config(cfg, tmp_path / "run", log=None)
    last = result.history[-1]
    print(f"val bpc {last['val_bits_per_char']:.3f}", end=" ")
    print(f"vs unigram {last['val_unigram_bits_per_char']:.3f}")
    assert last["val_bits_per_char"] < 0.5 * last["val_unigram_bits_per_char"]
    capsys.readouterr()  # only the script's output below
    script = _sample_script()
    argv = [str(tmp_path / "run"), "--temperature", "0.5", "--length", "60"]
    assert script.main([*argv, "--prime", "the "]) == 0
    out = capsys.readouterr().out.rstrip("\n")
    assert out.startswith("the ") and len(out) == 64
    assert set(out) <= set(corpus.read_text())
