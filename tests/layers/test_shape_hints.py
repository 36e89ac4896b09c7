"""Rank hints name the missing axis: batch or channel/feature, likelier first."""

import re

import jax.numpy as jnp
import jax.random as jr
import pytest

from jnn import layers

CHANNEL_1D = (
    "Hint: if x is a batch of single-channel sequences (B, W), add the channel "
    "axis, x[..., None]; if x is one example (W, C), add a batch axis, x[None]."
)
BATCH_2D = (
    "Hint: if x is one example (H, W, C), add a batch axis, x[None]; if x is a "
    "batch of single-channel images (B, H, W), add the channel axis, x[..., None]."
)
CHANNEL_2D = (
    "Hint: if x is a batch of single-channel images (B, H, W), add the channel "
    "axis, x[..., None]; if x is one example (H, W, C), add a batch axis, x[None]."
)
SEQUENCE = (
    "Hint: if x is a batch of sequences of single features (B, T), add the "
    "feature axis, x[..., None]; if x is one sequence (T, F), add a batch axis, "
    "x[None]."
)
CASES = [
    ("conv", lambda: layers.conv(4, (3,)), (8, 40), CHANNEL_1D),
    ("conv", lambda: layers.conv(4, (3, 3)), (28, 28, 1), BATCH_2D),
    ("conv", lambda: layers.conv(4, (3, 3)), (8, 28, 28), CHANNEL_2D),
    ("conv_transpose", lambda: layers.conv_transpose(4, (3,)), (8, 40), CHANNEL_1D),
    ("max_pool", lambda: layers.max_pool((2,)), (8, 40), CHANNEL_1D),
    ("avg_pool", lambda: layers.avg_pool((2, 2)), (8, 8, 3), BATCH_2D),
    ("max_pool", lambda: layers.max_pool((2, 2)), (8, 28, 28), CHANNEL_2D),
    ("rnn", lambda: layers.rnn(layers.simple_rnn_cell(3)), (8, 40), SEQUENCE),
]


@pytest.mark.parametrize(("where", "build", "shape", "hint"), CASES)
def test_hint_names_the_likely_missing_axis(where, build, shape, hint):
    with pytest.raises(ValueError, match=rf"^{where}: .*{re.escape(hint)}$"):
        build().init(jr.key(0), jnp.zeros(shape))


@pytest.mark.parametrize(("where", "build", "shape", "hint"), CASES)
def test_following_the_first_hint_runs(where, build, shape, hint):
    del where
    fix = (lambda x: x[None]) if "x[None];" in hint else (lambda x: x[..., None])
    x = fix(jnp.ones(shape))
    layer = build()
    params, state = layer.init(jr.key(0), x)
    y, _ = layer.apply(params, state, x)
    assert y.shape[0] == x.shape[0]


@pytest.mark.parametrize("shape", [(40,), (2, 3, 4, 5, 1)])
def test_no_hint_when_more_than_one_axis_is_off(shape):
    with pytest.raises(ValueError, match=r"got shape \([\d, ]+\)\.$"):
        layers.conv(4, (3, 3)).init(jr.key(0), jnp.zeros(shape))
