"""GAN losses on discriminator logits, per example (reduce in the step).

The discriminator returns one logit per example, `D(x) = sigmoid(logit)`.
Writing the cross-entropies with `softplus` keeps them stable for any logit:
`-log sigmoid(l) = softplus(-l)` and `-log(1 - sigmoid(l)) = softplus(l)`.
For the Wasserstein loss the "logit" is the critic's unbounded score.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jnn import _checks

NAMES = ("non_saturating", "minimax", "wasserstein")


def _scores(where: str, logits: jax.Array) -> jax.Array:
    """Accept (B,) or (B, 1) logits; return (B,)."""
    if logits.ndim == 2 and logits.shape[1] == 1:
        return logits[:, 0]
    if logits.ndim != 1:
        raise _checks.value_error(
            where, "logits of shape (B,) or (B, 1)", f"shape {logits.shape}"
        )
    return logits


def discriminator_loss(
    real_logits: jax.Array,
    fake_logits: jax.Array,
    *,
    loss: str = "non_saturating",
    label_smoothing: float = 0.0,
) -> jax.Array:
    """Per-example discriminator (critic) loss, shape (B,).

    For the two cross-entropy losses (both train D the same way) it is
    `BCE(real, 1 - label_smoothing) + BCE(fake, 0)`: one-sided smoothing
    softens only the real targets, so D is never rewarded for calling fakes
    real (Salimans et al. 2016). For "wasserstein" it is `fake - real`; the
    gradient penalty is added by the step (it needs the critic itself).

    Raises:
      ValueError: for an unknown `loss`, smoothing outside [0, 0.5), logits
        that are not (B,) / (B, 1), or real and fake of different shapes.

    Example:
      >>> float(discriminator_loss(jnp.zeros(1), jnp.zeros(1))[0])  # 2 log 2
      1.3862943649291992
    """
    where = "discriminator_loss"
    _checks.one_of(where, "loss", loss, NAMES)
    if not 0.0 <= label_smoothing < 0.5:
        raise _checks.value_error(
            where, "`label_smoothing` in [0, 0.5)", label_smoothing
        )
    real, fake = _scores(where, real_logits), _scores(where, fake_logits)
    if real.shape != fake.shape:
        raise _checks.value_error(
            where, f"fake logits of the real ones' shape {real.shape}", fake.shape
        )
    if loss == "wasserstein":
        return fake - real
    target = 1.0 - label_smoothing
    real_term = target * jax.nn.softplus(-real) + (1.0 - target) * jax.nn.softplus(real)
    return real_term + jax.nn.softplus(fake)


def generator_loss(fake_logits: jax.Array, *, loss: str = "non_saturating"):
    """Per-example generator loss, shape (B,).

    "non_saturating" is `-log D(G(z))`: strong gradients while D still wins,
    the default of Goodfellow et al. (2014) in practice. "minimax" is the
    original `log(1 - D(G(z)))`, whose gradient vanishes when D is confident.
    "wasserstein" is `-critic(G(z))`.

    Raises:
      ValueError: for an unknown `loss` or logits that are not (B,) / (B, 1).
    """
    where = "generator_loss"
    _checks.one_of(where, "loss", loss, NAMES)
    fake = _scores(where, fake_logits)
    if loss == "non_saturating":
        return jax.nn.softplus(-fake)
    if loss == "minimax":
        return -jax.nn.softplus(fake)
    return -fake


def gradient_penalty(
    critic: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
) -> jax.Array:
    """Per-example WGAN-GP penalty `(||grad_x critic(x_hat)|| - 1) ** 2`, (B,).

    `x_hat` lies on the segment between paired real and fake examples at a
    uniform random point (Gulrajani et al. 2017). `critic` maps a batch to
    (B,) or (B, 1) scores; each example's score depends only on its own
    input, so the gradient of their sum gives every per-example gradient.
    """
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    t = jax.random.uniform(key, shape, real.dtype)
    x_hat = t * real + (1.0 - t) * fake
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(x_hat)
    norms = jnp.sqrt(jnp.sum(grads.reshape(real.shape[0], -1) ** 2, axis=1) + 1e-12)
    return (norms - 1.0) ** 2
