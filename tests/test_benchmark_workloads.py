"""The benchmark suite's hand-written models compute what jnn's models compute.

A ratio in `benchmarks/suite.py` compares two steps; it means something only
if both compute the same function. Here the hand-written DCGAN
(`benchmarks/gan_variants.py`, plain `lax` calls) is given jnn's initial
params and must give jnn's generator and discriminator outputs, and the
same losses from the same images and noise. The hand-written code adds
biases by broadcasting and calls optax as people do, so it runs with rank
promotion allowed and standard dtype promotion.
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
gan_variants = pytest.importorskip("gan_variants")

from jnn.gan import losses, task  # noqa: E402

NARROW = ["gan.g_channels=[8, 4]", "gan.d_channels=[4, 8]", "train.batch_size=4"]


@pytest.fixture(autouse=True)
def _broadcasting_allowed():
    with jax.numpy_rank_promotion("allow"), jax.numpy_dtype_promotion("standard"):
        yield


def _hand_params(gs) -> dict:
    """jnn's GAN params renamed to the hand-written step's keys."""
    g = {"project_w": gs.g_params["project"]["weight"]}
    g["project_b"] = gs.g_params["project"]["bias"]
    for i in range(2):
        g[f"up{i}_w"] = gs.g_params[f"up_{i}"]["weight"]
        g[f"up{i}_b"] = gs.g_params[f"up_{i}"]["bias"]
    g["out_w"], g["out_b"] = (gs.g_params["output"][k] for k in ("weight", "bias"))
    d = {}
    for i in range(2):
        d[f"conv{i}_w"] = gs.d_params[f"conv_{i}"]["weight"]
        d[f"conv{i}_b"] = gs.d_params[f"conv_{i}"]["bias"]
    d["out_w"], d["out_b"] = (gs.d_params["output"][k] for k in ("weight", "bias"))
    return {"g": g, "d": d}


def test_the_hand_written_dcgan_is_jnns_dcgan():
    cfg = gan_variants.config(NARROW)
    run = task.build(cfg, gan_variants.X_SHAPE)
    gs = task.initial_state(run, 0)
    hand = _hand_params(gs)
    # Every hand-written param is one of jnn's: none made up, none left out.
    assert len(jax.tree.leaves(hand)) == len(
        jax.tree.leaves((gs.g_params, gs.d_params))
    )
    hand_shapes = jax.eval_shape(lambda: gan_variants.hand_init(cfg, jr.key(0)))
    assert jax.tree.map(jnp.shape, hand) == jax.tree.map(jnp.shape, hand_shapes)

    @jax.jit  # one program: eagerly, every op would compile on its own
    def both_ways(z, real):
        fake = run.generator.apply(gs.g_params, gs.g_state, z)[0]
        both = jnp.concatenate([real, fake])
        logits = run.discriminator.apply(gs.d_params, gs.d_state, both)[0]
        hand_fake = gan_variants.generate(hand["g"], z)
        hand_logits = gan_variants.discriminate(hand["d"], both)
        jnn_losses = (
            jnp.mean(losses.discriminator_loss(logits[:4], logits[4:])),
            jnp.mean(losses.generator_loss(logits[4:])),
        )
        hand_losses = (
            jnp.mean(
                jax.nn.softplus(-hand_logits[:4]) + jax.nn.softplus(hand_logits[4:])
            ),
            jnp.mean(jax.nn.softplus(-hand_logits[4:])),
        )
        return (fake, logits, jnn_losses), (hand_fake, hand_logits, hand_losses)

    z = jr.normal(jr.key(1), (4, cfg.gan.latent_dim))
    real = jr.uniform(jr.key(2), (4, *gan_variants.X_SHAPE), minval=-1.0)
    (fake, logits, jnn_losses), (hand_fake, hand_logits, hand_losses) = both_ways(
        z, real
    )
    np.testing.assert_allclose(hand_fake, fake, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hand_logits, logits, rtol=1e-5, atol=1e-6)
    # The hand-written losses are jnn's non-saturating ones (from logits
    # equal to the tolerance above).
    np.testing.assert_allclose(hand_losses, jnn_losses, rtol=1e-5)


def test_the_hand_written_dcgan_step_trains_both_players():
    cfg = gan_variants.config(NARROW)
    step, opts = gan_variants.hand_step(cfg)

    @jax.jit  # one program: eagerly, every op would compile on its own
    def first_step(key):
        params = gan_variants.hand_init(cfg, key)
        states = {k: opts[k].init(params[k]) for k in params}
        data = jr.uniform(jr.key(3), (16, *gan_variants.X_SHAPE), minval=-1.0)
        count = jnp.zeros((), jnp.int32)
        return params, step(params, states, count, data, jr.key(1))

    params, (new, _, count, (d_loss, g_loss)) = first_step(jr.key(0))
    assert int(count) == 1
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    # Adam moves every leaf of both players by about its learning rate.
    moved = jax.tree.map(
        lambda a, b: float(np.max(np.abs(np.asarray(a) - np.asarray(b)))), new, params
    )
    for player, section in (("g", cfg.optim.generator), ("d", cfg.optim.discriminator)):
        for value in jax.tree.leaves(moved[player]):
            assert 0.5 * section.lr < value < 1.5 * section.lr, moved
