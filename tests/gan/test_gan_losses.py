"""GAN losses against NumPy references and hand-derived values."""

import jax.numpy as jnp
import numpy as np
import pytest

from jnn.gan import discriminator_loss, generator_loss, gradient_penalty

LOGITS_REAL = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
LOGITS_FAKE = np.array([2.0, -1.0, 0.3, 0.0, -6.0], np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def _bce(logit, target):
    p = _sigmoid(logit)
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_discriminator_cross_entropy_matches_numpy(loss, smoothing):
    got = discriminator_loss(
        jnp.asarray(LOGITS_REAL),
        jnp.asarray(LOGITS_FAKE),
        loss=loss,
        label_smoothing=smoothing,
    )
    want = _bce(LOGITS_REAL, 1.0 - smoothing) + _bce(LOGITS_FAKE, 0.0)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_generator_losses_match_numpy():
    fake = jnp.asarray(LOGITS_FAKE)[:, None]  # (B, 1) is accepted too
    d_fake = _sigmoid(LOGITS_FAKE)
    np.testing.assert_allclose(generator_loss(fake), -np.log(d_fake), rtol=1e-5)
    np.testing.assert_allclose(
        generator_loss(fake, loss="minimax"), np.log(1 - d_fake), rtol=1e-5
    )
    np.testing.assert_allclose(
        generator_loss(fake, loss="wasserstein"), -LOGITS_FAKE, rtol=1e-6
    )


def test_wasserstein_discriminator_loss_is_fake_minus_real():
    got = discriminator_loss(
        jnp.asarray(LOGITS_REAL), jnp.asarray(LOGITS_FAKE), loss="wasserstein"
    )
    np.testing.assert_array_equal(got, LOGITS_FAKE - LOGITS_REAL)


def test_gradient_penalty_of_a_linear_critic(key):
    # critic(x) = x @ w has gradient w everywhere: penalty (|w| - 1)^2 per example.
    w = jnp.array([3.0, 4.0])
    real, fake = jnp.ones((3, 2)), jnp.zeros((3, 2))
    got = gradient_penalty(lambda x: x @ w, real, fake, key)
    np.testing.assert_allclose(got, np.full(3, 16.0), rtol=1e-5)


def test_gradient_penalty_is_per_example_for_images(key):
    # critic(x) = 0.5 * sum(x^2): gradient x_hat, so norms differ per example.
    real = jnp.stack([jnp.full((2, 2, 1), 1.0), jnp.full((2, 2, 1), 2.0)])
    got = gradient_penalty(
        lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2, 3)), real, real, key
    )
    np.testing.assert_allclose(got, [(2.0 - 1) ** 2, (4.0 - 1) ** 2], rtol=1e-5)


def test_errors():
    x = jnp.zeros(4)
    with pytest.raises(ValueError, match="`loss` to be one of"):
        discriminator_loss(x, x, loss="wgan")
    with pytest.raises(ValueError, match=r"`label_smoothing` in \[0, 0.5\)"):
        discriminator_loss(x, x, label_smoothing=0.5)
    with pytest.raises(ValueError, match=r"logits of shape \(B,\) or \(B, 1\)"):
        generator_loss(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="fake logits of the real ones' shape"):
        discriminator_loss(x, jnp.zeros(3))
    with pytest.raises(ValueError, match="`loss` to be one of"):
        generator_loss(x, loss="hinge")
