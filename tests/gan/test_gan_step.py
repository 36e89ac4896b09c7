"""The GAN step: separation of the two updates, one compile, bitwise replay."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.gan import StepOptions, create, make_step, make_updates
from jnn.gan.models import mlp_discriminator, mlp_generator

pytestmark = pytest.mark.usefixtures("fast_compiles")

OPTIONS = StepOptions(batch_size=8, latent_dim=3, d_steps=2)
DATA = jnp.asarray(np.random.default_rng(0).normal(size=(40, 2)), jnp.float32)


def _pieces(options=OPTIONS):
    g, d = mlp_generator((2,), (8,)), mlp_discriminator((8,))
    g_opt, d_opt = optax.adam(1e-2), optax.adam(3e-2)
    gs = create(
        g,
        d,
        g_opt,
        d_opt,
        jax.random.key(0),
        z_spec=jnp.zeros((options.batch_size, options.latent_dim)),
        x_spec=jnp.zeros((options.batch_size, 2)),
    )
    return (g, d, g_opt, d_opt), gs


def _equal(a, b):
    return all(
        jnp.array_equal(x, y)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def _counted(fn, counts, name):
    def wrapped(*args):
        counts[name] = counts.get(name, 0) + 1  # runs only while tracing
        return fn(*args)

    return jax.jit(wrapped)


@pytest.mark.parametrize("loss", ["non_saturating", "wasserstein"])
def test_each_update_changes_only_its_own_model_and_compiles_once(loss):
    models, gs = _pieces()
    counts = {}
    d_update, g_update = make_updates(*models, OPTIONS._replace(loss=loss))
    d_update, g_update = (
        _counted(d_update, counts, "d"),
        _counted(g_update, counts, "g"),
    )
    after_d, _ = d_update(gs, DATA, jax.random.key(1))
    after_g, _ = g_update(gs, jax.random.key(2))
    # Bitwise: the other model's params, state and optimizer state are untouched.
    assert _equal(
        (after_d.g_params, after_d.g_state, after_d.g_opt),
        (gs.g_params, gs.g_state, gs.g_opt),
    )
    assert _equal(
        (after_g.d_params, after_g.d_state, after_g.d_opt),
        (gs.d_params, gs.d_state, gs.d_opt),
    )
    assert not _equal(after_d.d_params, gs.d_params)
    assert not _equal(after_g.g_params, gs.g_params)
    for i in range(3):
        gs, _ = d_update(gs, DATA, jax.random.key(i))
        gs, _ = g_update(gs, jax.random.key(i))
    assert counts == {"d": 1, "g": 1}


def test_step_is_d_updates_then_g_update_compiles_once_and_replays_bitwise():
    models, gs = _pieces()
    counts = {}
    step = _counted(make_step(*models, OPTIONS), counts, "step")
    # One step equals d_steps = 2 discriminator updates, then one generator
    # update, with the documented keys.
    d_update, g_update = map(jax.jit, make_updates(*models, OPTIONS))
    key = jax.random.fold_in(gs.key, 0)
    want, _ = d_update(gs, DATA, jax.random.fold_in(key, 0))
    want, _ = d_update(want, DATA, jax.random.fold_in(key, 1))
    want, _ = g_update(want, jax.random.fold_in(key, 2))
    got, logs = step(gs, DATA)
    assert int(got.step) == 1
    assert sorted(logs) == ["d_fake", "d_loss", "d_real", "g_loss"]
    for a, b in zip(jax.tree.leaves(got[1:7]), jax.tree.leaves(want[1:7]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    def run(gs):
        for _ in range(4):
            gs, _ = step(gs, DATA)
        return gs

    first, second = run(gs), run(_pieces()[1])  # same seed, fresh state
    assert counts == {"step": 1}
    assert _equal(first, second)
    assert not _equal(first.g_params, gs.g_params)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"batch_size": 0}, "`batch_size` > 0"),
        ({"d_steps": 0}, "`d_steps` > 0"),
        ({"loss": "wgan"}, "`loss` to be one of"),
        ({"label_smoothing": 0.6}, "`label_smoothing` finite and in"),
        ({"gp_weight": -1.0}, "`gp_weight` finite and in"),
    ],
)
def test_bad_options_raise(change, match):
    models, _ = _pieces()
    with pytest.raises(ValueError, match=match):
        make_step(*models, OPTIONS._replace(**change))
